//! The embedded keystore: [`LocalKms`], the default [`Kms`].
//!
//! One file holds every key, sealed under a root key that comes from a key file or an environment
//! variable ([`RootKey`]). Each key has versions (each rotation adds one; every version still
//! decrypts, the newest encrypts) and a state. Ciphertext blobs name their key and version
//! ([`crate::blob`]). Every operation, refusals included, is written to the optional audit log, and
//! data keys can be cached ([`crate::cache`]).
//!
//! # Key states
//!
//! As AWS KMS documents them (✓ works; otherwise the error):
//!
//! | operation | Enabled | Disabled | PendingDeletion |
//! |---|---|---|---|
//! | `Encrypt`, `Decrypt`, `ReEncrypt`, `GenerateDataKey*` | ✓ | `DisabledException` | `KMSInvalidStateException` |
//! | `EnableKeyRotation`, `DisableKeyRotation`, `RotateKeyOnDemand` | ✓ | `DisabledException` | `KMSInvalidStateException` |
//! | `EnableKey`, `DisableKey`, `ScheduleKeyDeletion`, `CreateAlias` | ✓ | ✓ | `KMSInvalidStateException` |
//! | `CancelKeyDeletion` | `KMSInvalidStateException` | `KMSInvalidStateException` | ✓ (key becomes Disabled) |
//! | `DescribeKey`, `ListAliases`, `DeleteAlias`, `ListKeyRotations` | ✓ | ✓ | ✓ |
//! | `GetKeyRotationStatus` | ✓ | ✓ | ✓ (reports rotation off) |
//!
//! A disabled key keeps its rotation settings but is not rotated; when enabled again after its
//! rotation date passed, it rotates at once. A key pending deletion is not rotated and reports
//! rotation off; cancelling the deletion restores its settings. When the deletion window ends the key,
//! its material and its aliases are gone: every operation naming it answers `NotFoundException`.
//!
//! # Time
//!
//! Deletion and automatic rotation happen lazily: the first operation (by any handle or process)
//! after the date applies them, under the store lock, and records them in the audit log as
//! `DeleteKey` and `RotateKey` with principal `kms`. Automatic rotations are dated when they were
//! due, one version per missed period (at most 100 at once). The [`Clock`] is injectable.
//!
//! # Key ids
//!
//! Every `key_id` argument accepts a key id, a key ARN, an alias name or an alias ARN. ARNs are
//! `arn:aws:kms:<region>:<account>:key/<id>` and `…:alias/<name>`; an ARN of another region or
//! account is `NotFoundException`. `CreateAlias` targets a key id or key ARN only. `CancelKeyDeletion`
//! and `ScheduleKeyDeletion` return the key ARN (as AWS's `KeyId` response field holds);
//! `RotateKeyOnDemand` returns the key id.
//!
//! # Concurrency
//!
//! [`LocalKms`] is cheap to clone and shareable. Any number of handles, in one process or many (the
//! server and the CLI), may use one store file: every change takes the store's file lock and re-reads
//! the file first, and every read notices a replaced file (by the random salt in its header, new
//! for every save) and reloads it.
//!
//! ```
//! use objseal_kms::keystore::{block_on, LocalKms, LocalKmsConfig, RootKey};
//! use objseal_kms::{CreateKeyRequest, DataKeySpec, EncryptionContext, Kms};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let kms = LocalKms::open(LocalKmsConfig::new(dir.path().join("keys.osks"), RootKey::generate().unwrap())).unwrap();
//! let key = block_on(kms.create_key(CreateKeyRequest::default())).unwrap();
//! block_on(kms.create_alias("alias/photos", &key.key_id)).unwrap();
//!
//! let ctx = EncryptionContext::from([("bucket".to_string(), "photos".to_string())]);
//! let data_key = block_on(kms.generate_data_key("alias/photos", &ctx, DataKeySpec::Aes256)).unwrap();
//! let back = block_on(kms.decrypt(&data_key.wrapped.ciphertext_blob, &ctx, None)).unwrap();
//! assert_eq!(back.plaintext, data_key.plaintext);
//! assert_eq!(back.key_arn, key.arn);
//! ```

mod access;
pub(crate) mod ids;
mod store;

use std::future::Future;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::pin::pin;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use async_trait::async_trait;
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

pub use access::{account_policy, creator_policy};
pub use store::{
    FaultHook, LABEL_STORE, LABEL_STORE_CHECK, STORE_HEADER_LEN, STORE_MAGIC, STORE_VERSION,
    SaveStep,
};

use self::ids::{
    KeyRef, fill_random, format_uuid, hex_decode_into, hex_encode, new_uuid, parse_key_ref,
    parse_uuid, printable, validate_alias_name,
};
use self::store::{
    DAY, Fingerprint, KeyRecord, KeyVersion, LazyEvent, Material, Rotation, Store, StoreDoc,
    StoredRotationType, StoredState,
};
use crate::audit::{AuditEvent, AuditLog};
use crate::blob;
use crate::cache::{Cache, CacheKey, CacheLimits, CacheStats, Cached};
use crate::clock::{Clock, SystemClock};
use crate::{
    AliasEntry, Ciphertext, CreateKeyRequest, DataKey, DataKeySpec, Delegation, DeletionSchedule,
    EncryptionContext, KeyListEntry, KeyMetadata, KeyState, Kms, KmsError, Plaintext,
    ReEncryptRequest, ReEncrypted, RotationEntry, RotationStatus, SecretBytes,
};

/// The environment variable [`RootKey::from_env`] is usually given.
pub const ROOT_KEY_ENV: &str = "OBJSEAL_KMS_ROOT_KEY";
/// The tag before the hex digits of a key line in a key file (as `objseal keygen` writes it).
pub const KEY_LINE_PREFIX: &str = "objseal-kek-1:";
/// The region of ARNs when none is configured.
pub const DEFAULT_REGION: &str = "us-east-1";
/// The account id of ARNs when none is configured.
pub const DEFAULT_ACCOUNT_ID: &str = "000000000000";
/// The principal audit events name when none is set.
pub const DEFAULT_PRINCIPAL: &str = "local";
/// The principal of the changes the keystore makes by itself (deletions, automatic rotations).
pub const SYSTEM_PRINCIPAL: &str = "kms";
/// Automatic rotation period when none is given, in days.
pub const DEFAULT_ROTATION_PERIOD_DAYS: u32 = 365;
/// Deletion window when none is given, in days.
pub const DEFAULT_PENDING_WINDOW_DAYS: u32 = 30;
/// Longest ciphertext blob accepted (AWS's limit; ours are at most 4153 bytes).
pub const MAX_CIPHERTEXT_BLOB_LEN: usize = 6144;
/// Longest key description.
pub const MAX_DESCRIPTION_LEN: usize = 8192;
/// Most tags on one key.
pub const MAX_TAGS: usize = 50;

const MAX_KEY_FILE_LEN: u64 = 64 * 1024;
const CACHE_HIT: &str = "served from the data-key cache";

/// The root key that seals the keystore file: 32 bytes, wiped on drop, never printed.
///
/// ```
/// use objseal_kms::keystore::RootKey;
/// let hex = "00".repeat(31) + "01";
/// let a = RootKey::parse(&format!("# a comment\nobjseal-kek-1:{hex}\n")).unwrap();
/// let b = RootKey::parse(&hex).unwrap();
/// assert_eq!(a.expose_secret(), b.expose_secret());
/// assert_eq!(format!("{a:?}"), "RootKey(<redacted>)");
/// assert!(RootKey::parse("objseal-kek-1:1234").is_err());
/// ```
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct RootKey([u8; 32]);

impl RootKey {
    /// Wraps 32 key bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// A fresh root key from the operating system's random source.
    ///
    /// # Errors
    /// [`KmsError::Internal`] if the random source fails.
    pub fn generate() -> Result<Self, KmsError> {
        let mut key = Self([0u8; 32]);
        fill_random(&mut key.0)?;
        Ok(key)
    }

    /// Parses key text: either a key file (blank lines and lines starting with `#` ignored, exactly
    /// one line `objseal-kek-1:<64 hex digits>`) or 64 hex digits alone. Surrounding whitespace is
    /// ignored. Error messages never quote the text.
    ///
    /// # Errors
    /// [`KmsError::Validation`] when the text holds no key, more than one, or a malformed one.
    pub fn parse(text: &str) -> Result<Self, KmsError> {
        let mut found: Option<RootKey> = None;
        for (number, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let digits = line.strip_prefix(KEY_LINE_PREFIX).unwrap_or(line).trim();
            let mut key = RootKey([0u8; 32]);
            if !hex_decode_into(digits, &mut key.0) {
                return Err(KmsError::Validation(format!(
                    "root key: line {} is neither a comment nor `{KEY_LINE_PREFIX}` and 64 hex digits",
                    number + 1
                )));
            }
            if found.is_some() {
                return Err(KmsError::Validation(format!(
                    "root key: more than one key (line {})",
                    number + 1
                )));
            }
            found = Some(key);
        }
        found.ok_or_else(|| KmsError::Validation("root key: no key found".into()))
    }

    /// Reads a key file (as `objseal keygen` writes it; see [`RootKey::parse`]).
    ///
    /// # Errors
    /// [`KmsError::Validation`] for a missing, oversized, non-text or malformed file;
    /// [`KmsError::Internal`] for other I/O errors.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, KmsError> {
        let path = path.as_ref();
        let file = std::fs::File::open(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                KmsError::Validation(format!("root key file {} does not exist", path.display()))
            }
            _ => KmsError::Internal(format!("root key file {}: {e}", path.display())),
        })?;
        // Room for the largest file accepted, so that reading never regrows the buffer (which
        // would leave an unwiped copy of the key behind).
        let mut raw = Zeroizing::new(Vec::with_capacity(MAX_KEY_FILE_LEN as usize + 1));
        file.take(MAX_KEY_FILE_LEN + 1)
            .read_to_end(&mut raw)
            .map_err(|e| KmsError::Internal(format!("root key file {}: {e}", path.display())))?;
        if raw.len() as u64 > MAX_KEY_FILE_LEN {
            return Err(KmsError::Validation(format!(
                "root key file {} is not a key file (too large)",
                path.display()
            )));
        }
        let text = std::str::from_utf8(&raw).map_err(|_| {
            KmsError::Validation(format!(
                "root key file {} is not a key file (not text)",
                path.display()
            ))
        })?;
        Self::parse(text)
            .map_err(|e| KmsError::Validation(format!("{} (file {})", e.message(), path.display())))
    }

    /// Reads the key from an environment variable (usually [`ROOT_KEY_ENV`]): 64 hex digits, or a
    /// `objseal-kek-1:` key line.
    ///
    /// # Errors
    /// [`KmsError::Validation`] when the variable is unset, not Unicode, or malformed.
    pub fn from_env(var: &str) -> Result<Self, KmsError> {
        let value = Zeroizing::new(std::env::var(var).map_err(|_| {
            KmsError::Validation(format!(
                "root key: environment variable {var} is not set (or not Unicode)"
            ))
        })?);
        Self::parse(&value).map_err(|e| {
            KmsError::Validation(format!("{} (environment variable {var})", e.message()))
        })
    }

    /// The key bytes. Handle with care.
    pub fn expose_secret(&self) -> &[u8; 32] {
        &self.0
    }

    /// The key as key-file text (a comment line and a `objseal-kek-1:` line), for writing a new key
    /// file. Wiped when dropped.
    pub fn to_key_file(&self) -> Zeroizing<String> {
        let hex = Zeroizing::new(hex_encode(&self.0));
        let mut text = Zeroizing::new(String::with_capacity(128));
        text.push_str("# objseal KMS keystore root key\n");
        text.push_str(KEY_LINE_PREFIX);
        text.push_str(&hex);
        text.push('\n');
        text
    }
}

impl core::fmt::Debug for RootKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("RootKey(<redacted>)")
    }
}

/// How to open a [`LocalKms`].
///
/// ```
/// use objseal_kms::keystore::{LocalKmsConfig, RootKey};
/// let config = LocalKmsConfig::new("/var/lib/objseal/keys.osks", RootKey::from_bytes([1; 32]));
/// assert_eq!(config.region, "us-east-1");
/// assert!(config.cache.is_none());
/// ```
pub struct LocalKmsConfig {
    /// The keystore file; created (empty) when missing.
    pub store_path: PathBuf,
    /// The key that seals it.
    pub root_key: RootKey,
    /// The region in ARNs ([`DEFAULT_REGION`] by default).
    pub region: String,
    /// The account id in ARNs ([`DEFAULT_ACCOUNT_ID`] by default).
    pub account_id: String,
    /// Where every operation is recorded, if anywhere.
    pub audit: Option<Arc<AuditLog>>,
    /// Data-key caching, off when `None` (the default).
    pub cache: Option<CacheLimits>,
    /// The time source ([`SystemClock`] by default).
    pub clock: Arc<dyn Clock>,
    /// Fault injection for crash-safety tests: called at every step of every save.
    #[doc(hidden)]
    pub fault_hook: Option<FaultHook>,
}

impl LocalKmsConfig {
    /// A configuration with defaults: region `us-east-1`, account `000000000000`, no audit log, no
    /// cache, the system clock.
    pub fn new(store_path: impl Into<PathBuf>, root_key: RootKey) -> Self {
        Self {
            store_path: store_path.into(),
            root_key,
            region: DEFAULT_REGION.into(),
            account_id: DEFAULT_ACCOUNT_ID.into(),
            audit: None,
            cache: None,
            clock: Arc::new(SystemClock),
            fault_hook: None,
        }
    }
}

impl core::fmt::Debug for LocalKmsConfig {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("LocalKmsConfig")
            .field("store_path", &self.store_path)
            .field("root_key", &self.root_key)
            .field("region", &self.region)
            .field("account_id", &self.account_id)
            .field(
                "audit",
                &self.audit.as_ref().map(|a| a.path().to_path_buf()),
            )
            .field("cache", &self.cache)
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}

/// Who is calling, as recorded in audit events.
#[derive(Clone, Debug)]
struct Caller {
    principal: String,
    source: Option<String>,
    request_id: Option<String>,
    /// Whom key policies are checked for; `None`: the operator, who is not checked.
    identity: Option<crate::principal::Identity>,
    /// The service calling on the principal's behalf (`kms:ViaService`).
    via_service: Option<String>,
    /// Who made the call for the principal (the service's own principal), for the audit log.
    invoked_by: Option<String>,
}

struct Snapshot {
    doc: Arc<StoreDoc>,
    fingerprint: Fingerprint,
}

struct Inner {
    store: Store,
    region: String,
    account_id: String,
    audit: Option<Arc<AuditLog>>,
    cache: Option<Mutex<Cache>>,
    clock: Arc<dyn Clock>,
    snapshot: RwLock<Snapshot>,
    writer: Mutex<()>,
}

/// The embedded keystore. Cheap to clone (handles share one state); see the [module
/// documentation](self) for the rules it follows.
#[derive(Clone)]
pub struct LocalKms {
    inner: Arc<Inner>,
    caller: Arc<Caller>,
}

impl core::fmt::Debug for LocalKms {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("LocalKms")
            .field("store", &self.inner.store.path())
            .field("region", &self.inner.region)
            .field("account_id", &self.inner.account_id)
            .field("principal", &self.caller.principal)
            .finish_non_exhaustive()
    }
}

/// What an operation records in its audit event, filled in as it goes.
#[derive(Default)]
struct Rec {
    key_id: Option<String>,
    key_version: Option<u32>,
    context: Option<EncryptionContext>,
    message: Option<String>,
}

impl LocalKms {
    /// Opens the keystore at `config.store_path`, creating an empty one if there is no file there.
    ///
    /// # Errors
    /// [`KmsError::Internal`] when the file cannot be read or written, is not a keystore, was sealed
    /// under another root key ("keystore … cannot be opened with this root key") or is corrupted; a
    /// [`KmsError::Validation`] for an empty region or account id.
    pub fn open(config: LocalKmsConfig) -> Result<LocalKms, KmsError> {
        if config.region.is_empty() || config.region.contains(':') {
            return Err(KmsError::Validation(
                "region must be non-empty and free of ':'".into(),
            ));
        }
        if config.account_id.is_empty() || config.account_id.contains(':') {
            return Err(KmsError::Validation(
                "account id must be non-empty and free of ':'".into(),
            ));
        }
        let store = Store::new(config.store_path, config.root_key, config.fault_hook);
        let (doc, fingerprint) = store.open_or_create()?;
        Ok(LocalKms {
            inner: Arc::new(Inner {
                store,
                region: config.region,
                account_id: config.account_id,
                audit: config.audit,
                cache: config.cache.map(|l| Mutex::new(Cache::new(l))),
                clock: config.clock,
                snapshot: RwLock::new(Snapshot {
                    doc: Arc::new(doc),
                    fingerprint,
                }),
                writer: Mutex::new(()),
            }),
            caller: Arc::new(Caller {
                principal: DEFAULT_PRINCIPAL.into(),
                source: None,
                request_id: None,
                identity: None,
                via_service: None,
                invoked_by: None,
            }),
        })
    }

    /// A handle on the same keystore whose audit events name `principal` as the caller.
    pub fn with_principal(&self, principal: impl Into<String>) -> LocalKms {
        self.with_caller(|c| c.principal = principal.into())
    }

    /// A handle whose audit events carry `source` (e.g. the client's socket address).
    pub fn with_source(&self, source: impl Into<String>) -> LocalKms {
        self.with_caller(|c| c.source = Some(source.into()))
    }

    /// A handle whose audit events carry `request_id`.
    pub fn with_request_id(&self, request_id: impl Into<String>) -> LocalKms {
        self.with_caller(|c| c.request_id = Some(request_id.into()))
    }

    fn with_caller(&self, f: impl FnOnce(&mut Caller)) -> LocalKms {
        let mut caller = (*self.caller).clone();
        f(&mut caller);
        LocalKms {
            inner: Arc::clone(&self.inner),
            caller: Arc::new(caller),
        }
    }

    /// The principal audit events name.
    pub fn principal(&self) -> &str {
        &self.caller.principal
    }

    /// The keystore file.
    pub fn store_path(&self) -> &Path {
        self.inner.store.path()
    }

    /// The region in ARNs.
    pub fn region(&self) -> &str {
        &self.inner.region
    }

    /// The account id in ARNs.
    pub fn account_id(&self) -> &str {
        &self.inner.account_id
    }

    /// The ARN of the key with id `key_id`.
    ///
    /// ```
    /// # use objseal_kms::keystore::{LocalKms, LocalKmsConfig, RootKey};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let kms = LocalKms::open(LocalKmsConfig::new(dir.path().join("k"), RootKey::from_bytes([1; 32]))).unwrap();
    /// assert_eq!(kms.key_arn("1234"), "arn:aws:kms:us-east-1:000000000000:key/1234");
    /// ```
    pub fn key_arn(&self, key_id: &str) -> String {
        format!(
            "arn:aws:kms:{}:{}:key/{key_id}",
            self.inner.region, self.inner.account_id
        )
    }

    /// The ARN of an alias (`alias/…`).
    pub fn alias_arn(&self, alias_name: &str) -> String {
        format!(
            "arn:aws:kms:{}:{}:{alias_name}",
            self.inner.region, self.inner.account_id
        )
    }

    /// The cache's counters, `None` when caching is off.
    pub fn cache_stats(&self) -> Option<CacheStats> {
        self.inner
            .cache
            .as_ref()
            .map(|c| c.lock().unwrap_or_else(PoisonError::into_inner).stats())
    }

    /// Drops (wipes) every cached data key and plaintext.
    pub fn clear_cache(&self) {
        if let Some(c) = &self.inner.cache {
            c.lock().unwrap_or_else(PoisonError::into_inner).clear();
        }
    }

    // ---- plumbing ----

    fn now(&self) -> Duration {
        self.inner.clock.now()
    }

    fn now_secs(&self) -> u64 {
        self.inner.clock.unix_secs()
    }

    /// Runs one operation and records its audit event. When the event cannot be written the result
    /// is withheld: the caller gets `KMSInternalException` (a change may have been made).
    fn run<T>(
        &self,
        operation: &'static str,
        f: impl FnOnce(&mut Rec) -> Result<T, KmsError>,
    ) -> Result<T, KmsError> {
        let mut rec = Rec::default();
        let result = f(&mut rec);
        let (outcome, message) = match &result {
            Ok(_) => ("ok".to_owned(), rec.message.take()),
            Err(e) => (e.aws_type().to_owned(), Some(e.message().to_owned())),
        };
        self.record(AuditEvent {
            time: self.now_secs(),
            principal: self.caller.principal.clone(),
            operation: operation.to_owned(),
            key_id: rec.key_id,
            key_version: rec.key_version,
            context: rec.context,
            result: outcome,
            message,
            source: self.caller.source.clone(),
            request_id: self.caller.request_id.clone(),
            via_service: self.caller.via_service.clone(),
            invoked_by: self.caller.invoked_by.clone(),
        })?;
        result
    }

    fn record(&self, event: AuditEvent) -> Result<(), KmsError> {
        match &self.inner.audit {
            Some(log) => log.record(&event).map_err(|e| {
                KmsError::Internal(format!(
                    "audit log {} could not be written: {e}",
                    log.path().display()
                ))
            }),
            None => Ok(()),
        }
    }

    fn record_lazy(&self, events: &[LazyEvent]) -> Result<(), KmsError> {
        for e in events {
            self.record(AuditEvent {
                time: self.now_secs(),
                principal: SYSTEM_PRINCIPAL.into(),
                operation: e.operation.into(),
                key_id: Some(self.key_arn(&e.key_id)),
                key_version: e.version,
                result: "ok".into(),
                ..AuditEvent::default()
            })?;
        }
        Ok(())
    }

    /// The current document: reloaded when another handle or process replaced the file, and with
    /// due deletions and rotations applied (and saved) first.
    fn read_doc(&self) -> Result<Arc<StoreDoc>, KmsError> {
        let on_disk = self.inner.store.fingerprint()?;
        let (doc, fingerprint) = {
            let s = self
                .inner
                .snapshot
                .read()
                .unwrap_or_else(PoisonError::into_inner);
            (Arc::clone(&s.doc), s.fingerprint)
        };
        let doc = if on_disk == Some(fingerprint) {
            doc
        } else {
            let (fresh, fingerprint) = self.inner.store.load()?;
            let fresh = Arc::new(fresh);
            self.forget_unusable(&fresh);
            *self
                .inner
                .snapshot
                .write()
                .unwrap_or_else(PoisonError::into_inner) = Snapshot {
                doc: Arc::clone(&fresh),
                fingerprint,
            };
            fresh
        };
        if doc.has_due(self.now_secs()) {
            return self.transact(|_, _| Ok(())).map(|((), doc)| doc);
        }
        Ok(doc)
    }

    /// Applies a change under the store lock: re-read, apply due deletions and rotations, run `f`
    /// (rolled back if it fails), apply what became due, save if anything changed.
    fn transact<T>(
        &self,
        f: impl FnOnce(&mut StoreDoc, u64) -> Result<T, KmsError>,
    ) -> Result<(T, Arc<StoreDoc>), KmsError> {
        let _writer = self
            .inner
            .writer
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let guard = self.inner.store.lock()?;
        let (loaded, fingerprint) = self.inner.store.load()?;
        let now = self.now_secs();
        let mut doc = loaded.clone();
        let mut events = doc.apply_due(now)?;
        let before = doc.clone();
        let result = f(&mut doc, now).and_then(|t| {
            events.extend(doc.apply_due(now)?);
            Ok(t)
        });
        if result.is_err() {
            doc = before;
        }
        let fingerprint = if doc != loaded {
            self.inner.store.save(&doc, &guard)?
        } else {
            fingerprint
        };
        drop(guard);
        let doc = Arc::new(doc);
        self.forget_unusable(&doc);
        *self
            .inner
            .snapshot
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Snapshot {
            doc: Arc::clone(&doc),
            fingerprint,
        };
        for e in &events {
            self.invalidate(&e.key_id);
        }
        self.record_lazy(&events)?;
        result.map(|t| (t, doc))
    }

    /// Applies `f` to one key under the store lock; drops the key's cached entries afterwards.
    fn mutate_key<T>(
        &self,
        key_id: &str,
        rec: &mut Rec,
        action: &str,
        f: impl FnOnce(&mut KeyRecord, &str, u64) -> Result<T, KmsError>,
    ) -> Result<T, KmsError> {
        let mut resolved: Option<String> = None;
        let result = self.transact(|doc, now| {
            let id = self.resolve(doc, key_id)?.0.to_owned();
            let arn = self.key_arn(&id);
            resolved = Some(id.clone());
            let key = doc
                .keys
                .get_mut(&id)
                .ok_or_else(|| KmsError::Internal("resolved key vanished".into()))?;
            self.authorize(key, &arn, action, None)?;
            f(key, &arn, now)
        });
        if let Some(id) = resolved {
            rec.key_id = Some(self.key_arn(&id));
            self.invalidate(&id);
        }
        result.map(|(t, _)| t)
    }

    /// Drops cached entries of keys that are gone or no longer enabled.
    fn forget_unusable(&self, doc: &StoreDoc) {
        let Some(cache) = &self.inner.cache else {
            return;
        };
        let mut cache = cache.lock().unwrap_or_else(PoisonError::into_inner);
        cache.retain_keys(|id| {
            doc.keys
                .get(id)
                .is_some_and(|k| k.state == StoredState::Enabled)
        });
    }

    fn invalidate(&self, key_id: &str) {
        if let Some(cache) = &self.inner.cache {
            cache
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .invalidate_key(key_id);
        }
    }

    fn cache_get(&self, key: &CacheKey) -> Option<Cached> {
        let cache = self.inner.cache.as_ref()?;
        let now = self.now();
        cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key, now)
    }

    fn cache_put(&self, key: CacheKey, value: Cached) {
        if let Some(cache) = &self.inner.cache {
            let now = self.now();
            cache
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .put(key, value, now);
        }
    }

    /// Looks a `key_id` argument up: its key id and record.
    fn resolve<'d>(
        &self,
        doc: &'d StoreDoc,
        key_id: &str,
    ) -> Result<(&'d str, &'d KeyRecord), KmsError> {
        let id = match parse_key_ref(key_id, &self.inner.region, &self.inner.account_id)? {
            KeyRef::Key(id) => id,
            KeyRef::Alias(name) => match doc.aliases.get(&name) {
                Some(alias) => alias.target_key_id.clone(),
                None => {
                    return Err(KmsError::NotFound(format!(
                        "Alias {} is not found.",
                        printable(&self.alias_arn(&name))
                    )));
                }
            },
        };
        match doc.keys.get_key_value(&id) {
            Some((id, key)) => Ok((id.as_str(), key)),
            None if doc.deleted_keys.contains_key(&id) => Err(KmsError::NotFound(format!(
                "Key '{}' has been deleted.",
                self.key_arn(&id)
            ))),
            None => Err(KmsError::NotFound(format!(
                "Key '{}' does not exist",
                self.key_arn(&id)
            ))),
        }
    }

    fn metadata(&self, id: &str, key: &KeyRecord) -> KeyMetadata {
        let pending = key.state == StoredState::PendingDeletion;
        KeyMetadata {
            key_id: id.to_owned(),
            arn: self.key_arn(id),
            account_id: self.inner.account_id.clone(),
            description: key.description.clone(),
            state: key.state.into(),
            creation_date: key.creation_date,
            deletion_date: key.deletion_date.filter(|_| pending),
            pending_deletion_window_days: key.pending_window_days.filter(|_| pending),
            current_version: key.versions.last().map_or(1, |v| v.version),
            tags: key.tags.clone(),
        }
    }

    fn key_bytes(id: &str) -> Result<[u8; 16], KmsError> {
        parse_uuid(id).ok_or_else(|| KmsError::Internal(format!("malformed key id {id}")))
    }

    // ---- operations ----

    fn op_create_key(&self, request: CreateKeyRequest) -> Result<KeyMetadata, KmsError> {
        self.run("CreateKey", |rec| {
            validate_create(&request)?;
            if request.bypass_policy_lockout_safety_check {
                rec.message = Some("policy lockout safety check bypassed".into());
            }
            let ((id, key), _) = self.transact(|doc, now| {
                let mut bytes = new_uuid()?;
                while doc.keys.contains_key(&format_uuid(&bytes))
                    || doc.deleted_keys.contains_key(&format_uuid(&bytes))
                {
                    bytes = new_uuid()?;
                }
                let id = format_uuid(&bytes);
                let policy = match &request.policy {
                    Some(policy) => {
                        let arn = self.key_arn(&id);
                        self.check_new_policy(
                            policy,
                            &arn,
                            request.bypass_policy_lockout_safety_check,
                        )?;
                        policy.clone()
                    }
                    None => self.default_policy(),
                };
                let key = KeyRecord {
                    description: request.description.clone(),
                    tags: request.tags.clone(),
                    state: StoredState::Enabled,
                    creation_date: now,
                    deletion_date: None,
                    pending_window_days: None,
                    rotation: Rotation::default(),
                    policy: Some(policy),
                    versions: vec![KeyVersion {
                        version: 1,
                        creation_date: now,
                        rotation_type: None,
                        material: Material::generate()?,
                    }],
                };
                doc.keys.insert(id.clone(), key.clone());
                Ok((id, key))
            })?;
            rec.key_id = Some(self.key_arn(&id));
            rec.key_version = Some(1);
            Ok(self.metadata(&id, &key))
        })
    }

    fn op_describe_key(&self, key_id: &str) -> Result<KeyMetadata, KmsError> {
        self.run("DescribeKey", |rec| {
            rec.key_id = Some(printable(key_id));
            let doc = self.read_doc()?;
            let (id, key) = self.resolve(&doc, key_id)?;
            rec.key_id = Some(self.key_arn(id));
            self.authorize(key, &self.key_arn(id), "kms:DescribeKey", None)?;
            Ok(self.metadata(id, key))
        })
    }

    fn op_list_keys(&self) -> Result<Vec<KeyListEntry>, KmsError> {
        self.run("ListKeys", |_| {
            let doc = self.read_doc()?;
            let mut keys: Vec<(&String, &KeyRecord)> = doc.keys.iter().collect();
            keys.sort_by(|a, b| (a.1.creation_date, a.0).cmp(&(b.1.creation_date, b.0)));
            Ok(keys
                .into_iter()
                .map(|(id, _)| KeyListEntry {
                    key_id: id.clone(),
                    arn: self.key_arn(id),
                })
                .collect())
        })
    }

    fn op_create_alias(&self, alias_name: &str, target_key_id: &str) -> Result<(), KmsError> {
        self.run("CreateAlias", |rec| {
            rec.key_id = Some(printable(target_key_id));
            rec.message = Some(format!("alias {}", printable(alias_name)));
            validate_alias_name(alias_name)?;
            if let KeyRef::Alias(_) =
                parse_key_ref(target_key_id, &self.inner.region, &self.inner.account_id)?
            {
                return Err(KmsError::Validation(
                    "TargetKeyId must be a key id or key ARN, not an alias".into(),
                ));
            }
            self.transact(|doc, now| {
                let (id, key) = self.resolve(doc, target_key_id)?;
                let id = id.to_owned();
                rec.key_id = Some(self.key_arn(&id));
                self.authorize(key, &self.key_arn(&id), "kms:CreateAlias", None)?;
                if key.state == StoredState::PendingDeletion {
                    return Err(pending(&self.key_arn(&id)));
                }
                if doc.aliases.contains_key(alias_name) {
                    return Err(KmsError::AlreadyExists(format!(
                        "An alias with the name {} already exists",
                        self.alias_arn(alias_name)
                    )));
                }
                doc.aliases.insert(
                    alias_name.to_owned(),
                    store::AliasRecord {
                        target_key_id: id,
                        creation_date: now,
                    },
                );
                Ok(())
            })
            .map(|((), _)| ())
        })
    }

    fn op_delete_alias(&self, alias_name: &str) -> Result<(), KmsError> {
        self.run("DeleteAlias", |rec| {
            rec.message = Some(format!("alias {}", printable(alias_name)));
            if !alias_name.starts_with("alias/") {
                return Err(KmsError::InvalidAliasName(format!(
                    "alias name {} must begin with alias/",
                    printable(alias_name)
                )));
            }
            self.transact(|doc, _| match doc.aliases.remove(alias_name) {
                Some(alias) => {
                    let arn = self.key_arn(&alias.target_key_id);
                    rec.key_id = Some(arn.clone());
                    match doc.keys.get(&alias.target_key_id) {
                        Some(key) => self.authorize(key, &arn, "kms:DeleteAlias", None),
                        None => Ok(()),
                    }
                }
                None => Err(KmsError::NotFound(format!(
                    "Alias {} is not found.",
                    printable(&self.alias_arn(alias_name))
                ))),
            })
            .map(|((), _)| ())
        })
    }

    fn op_list_aliases(&self, key_id: Option<&str>) -> Result<Vec<AliasEntry>, KmsError> {
        self.run("ListAliases", |rec| {
            let doc = self.read_doc()?;
            let only = match key_id {
                Some(k) => {
                    rec.key_id = Some(printable(k));
                    let id = self.resolve(&doc, k)?.0;
                    rec.key_id = Some(self.key_arn(id));
                    Some(id)
                }
                None => None,
            };
            Ok(doc
                .aliases
                .iter()
                .filter(|(_, a)| only.is_none_or(|id| a.target_key_id == id))
                .map(|(name, a)| AliasEntry {
                    alias_name: name.clone(),
                    alias_arn: self.alias_arn(name),
                    target_key_id: a.target_key_id.clone(),
                })
                .collect())
        })
    }

    fn op_enable_key(&self, key_id: &str) -> Result<(), KmsError> {
        self.run("EnableKey", |rec| {
            rec.key_id = Some(printable(key_id));
            self.mutate_key(key_id, rec, "kms:EnableKey", |key, arn, now| {
                if key.state == StoredState::PendingDeletion {
                    return Err(pending(arn));
                }
                key.state = StoredState::Enabled;
                // A rotation that came due while the key was disabled happens now.
                if key.rotation.enabled
                    && let Some(next) = key.rotation.next_rotation_date
                {
                    key.rotation.next_rotation_date = Some(next.max(now));
                }
                Ok(())
            })
        })
    }

    fn op_disable_key(&self, key_id: &str) -> Result<(), KmsError> {
        self.run("DisableKey", |rec| {
            rec.key_id = Some(printable(key_id));
            self.mutate_key(key_id, rec, "kms:DisableKey", |key, arn, _| {
                if key.state == StoredState::PendingDeletion {
                    return Err(pending(arn));
                }
                key.state = StoredState::Disabled;
                Ok(())
            })
        })
    }

    fn op_enable_key_rotation(
        &self,
        key_id: &str,
        rotation_period_days: Option<u32>,
    ) -> Result<(), KmsError> {
        self.run("EnableKeyRotation", |rec| {
            rec.key_id = Some(printable(key_id));
            if let Some(days) = rotation_period_days {
                if !(90..=2560).contains(&days) {
                    return Err(KmsError::Validation(format!(
                        "RotationPeriodInDays must be between 90 and 2560, not {days}"
                    )));
                }
                rec.message = Some(format!("rotation period {days} days"));
            }
            self.mutate_key(key_id, rec, "kms:EnableKeyRotation", |key, arn, now| {
                require_usable(key, arn)?;
                let r = &mut key.rotation;
                if r.enabled {
                    // A new period counts from the start of the current one.
                    let old = u64::from(r.period_days.unwrap_or(DEFAULT_ROTATION_PERIOD_DAYS));
                    let days = rotation_period_days
                        .or(r.period_days)
                        .unwrap_or(DEFAULT_ROTATION_PERIOD_DAYS);
                    let start = r
                        .next_rotation_date
                        .unwrap_or(now)
                        .saturating_sub(old * DAY);
                    r.period_days = Some(days);
                    r.next_rotation_date =
                        Some(start.saturating_add(u64::from(days) * DAY).max(now));
                } else {
                    let days = rotation_period_days.unwrap_or(DEFAULT_ROTATION_PERIOD_DAYS);
                    r.enabled = true;
                    r.period_days = Some(days);
                    r.next_rotation_date = Some(now.saturating_add(u64::from(days) * DAY));
                }
                Ok(())
            })
        })
    }

    fn op_disable_key_rotation(&self, key_id: &str) -> Result<(), KmsError> {
        self.run("DisableKeyRotation", |rec| {
            rec.key_id = Some(printable(key_id));
            self.mutate_key(key_id, rec, "kms:DisableKeyRotation", |key, arn, _| {
                require_usable(key, arn)?;
                key.rotation = Rotation::default();
                Ok(())
            })
        })
    }

    fn op_get_key_rotation_status(&self, key_id: &str) -> Result<RotationStatus, KmsError> {
        self.run("GetKeyRotationStatus", |rec| {
            rec.key_id = Some(printable(key_id));
            let doc = self.read_doc()?;
            let (id, key) = self.resolve(&doc, key_id)?;
            rec.key_id = Some(self.key_arn(id));
            self.authorize(key, &self.key_arn(id), "kms:GetKeyRotationStatus", None)?;
            let on = key.rotation.enabled && key.state != StoredState::PendingDeletion;
            Ok(RotationStatus {
                key_id: id.to_owned(),
                enabled: on,
                rotation_period_days: key.rotation.period_days.filter(|_| on),
                next_rotation_date: key.rotation.next_rotation_date.filter(|_| on),
                on_demand_rotation_start_date: None,
            })
        })
    }

    fn op_rotate_key_on_demand(&self, key_id: &str) -> Result<String, KmsError> {
        self.run("RotateKeyOnDemand", |rec| {
            rec.key_id = Some(printable(key_id));
            let mut version = None;
            let id = self.mutate_key(key_id, rec, "kms:RotateKeyOnDemand", |key, arn, now| {
                require_usable(key, arn)?;
                version = Some(key.add_version(now, StoredRotationType::OnDemand)?);
                Ok(arn.rsplit('/').next().unwrap_or_default().to_owned())
            })?;
            rec.key_version = version;
            Ok(id)
        })
    }

    fn op_list_key_rotations(&self, key_id: &str) -> Result<Vec<RotationEntry>, KmsError> {
        self.run("ListKeyRotations", |rec| {
            rec.key_id = Some(printable(key_id));
            let doc = self.read_doc()?;
            let (id, key) = self.resolve(&doc, key_id)?;
            rec.key_id = Some(self.key_arn(id));
            self.authorize(key, &self.key_arn(id), "kms:ListKeyRotations", None)?;
            Ok(key
                .versions
                .iter()
                .filter_map(|v| {
                    v.rotation_type.map(|t| RotationEntry {
                        key_id: id.to_owned(),
                        version: v.version,
                        rotation_date: v.creation_date,
                        rotation_type: t.into(),
                    })
                })
                .collect())
        })
    }

    fn op_schedule_key_deletion(
        &self,
        key_id: &str,
        pending_window_days: Option<u32>,
    ) -> Result<DeletionSchedule, KmsError> {
        self.run("ScheduleKeyDeletion", |rec| {
            rec.key_id = Some(printable(key_id));
            let days = pending_window_days.unwrap_or(DEFAULT_PENDING_WINDOW_DAYS);
            if !(7..=30).contains(&days) {
                return Err(KmsError::Validation(format!(
                    "PendingWindowInDays must be between 7 and 30, not {days}"
                )));
            }
            rec.message = Some(format!("pending window {days} days"));
            self.mutate_key(key_id, rec, "kms:ScheduleKeyDeletion", |key, arn, now| {
                if key.state == StoredState::PendingDeletion {
                    return Err(pending(arn));
                }
                let date = now.saturating_add(u64::from(days) * DAY);
                key.state = StoredState::PendingDeletion;
                key.deletion_date = Some(date);
                key.pending_window_days = Some(days);
                Ok(DeletionSchedule {
                    key_id: arn.to_owned(),
                    deletion_date: date,
                    pending_window_days: days,
                    key_state: KeyState::PendingDeletion,
                })
            })
        })
    }

    fn op_cancel_key_deletion(&self, key_id: &str) -> Result<String, KmsError> {
        self.run("CancelKeyDeletion", |rec| {
            rec.key_id = Some(printable(key_id));
            self.mutate_key(key_id, rec, "kms:CancelKeyDeletion", |key, arn, _| {
                if key.state != StoredState::PendingDeletion {
                    return Err(KmsError::InvalidState(format!(
                        "{arn} is not pending deletion."
                    )));
                }
                key.state = StoredState::Disabled;
                key.deletion_date = None;
                key.pending_window_days = None;
                Ok(arn.to_owned())
            })
        })
    }

    fn op_generate_data_key(
        &self,
        operation: &'static str,
        key_id: &str,
        context: &EncryptionContext,
        spec: DataKeySpec,
        use_cache: bool,
    ) -> Result<DataKey, KmsError> {
        self.run(operation, |rec| {
            rec.key_id = Some(printable(key_id));
            rec.context = Some(context.clone());
            let len = spec.len();
            if !(1..=1024).contains(&len) {
                return Err(KmsError::Validation(format!(
                    "NumberOfBytes must be between 1 and 1024, not {len}"
                )));
            }
            let ctx_hash = blob::context_digest(context)?;
            let doc = self.read_doc()?;
            let (id, key) = self.resolve(&doc, key_id)?;
            let arn = self.key_arn(id);
            rec.key_id = Some(arn.clone());
            self.authorize(key, &arn, &format!("kms:{operation}"), Some(context))?;
            require_usable(key, &arn)?;
            let newest = key.newest()?;
            rec.key_version = Some(newest.version);
            let cache_key = CacheKey::DataKey {
                principal: self.caller.principal.clone(),
                key_id: id.to_owned(),
                version: newest.version,
                context: ctx_hash,
                len,
            };
            if use_cache && let Some(Cached::DataKey(hit)) = self.cache_get(&cache_key) {
                rec.message = Some(CACHE_HIT.into());
                return Ok(hit);
            }
            let mut plaintext = Zeroizing::new(vec![0u8; len]);
            fill_random(&mut plaintext)?;
            let sealed = blob::seal(
                &Self::key_bytes(id)?,
                newest.version,
                &newest.material.0,
                context,
                &plaintext,
            )?;
            let data_key = DataKey {
                plaintext: SecretBytes::from(core::mem::take(&mut *plaintext)),
                wrapped: Ciphertext {
                    ciphertext_blob: sealed,
                    key_arn: arn,
                    key_version: newest.version,
                },
            };
            if use_cache {
                self.cache_put(cache_key, Cached::DataKey(data_key.clone()));
            }
            Ok(data_key)
        })
    }

    fn op_encrypt(
        &self,
        key_id: &str,
        plaintext: &[u8],
        context: &EncryptionContext,
    ) -> Result<Ciphertext, KmsError> {
        self.run("Encrypt", |rec| {
            rec.key_id = Some(printable(key_id));
            rec.context = Some(context.clone());
            if plaintext.is_empty() || plaintext.len() > blob::MAX_PLAINTEXT_LEN {
                return Err(KmsError::Validation(format!(
                    "Plaintext must be 1 to 4096 bytes, not {}",
                    plaintext.len()
                )));
            }
            blob::context_digest(context)?;
            let doc = self.read_doc()?;
            self.encrypt_under(&doc, key_id, plaintext, context, rec, "kms:Encrypt")
        })
    }

    /// Seals under the newest version of `key_id` (which must be enabled).
    fn encrypt_under(
        &self,
        doc: &StoreDoc,
        key_id: &str,
        plaintext: &[u8],
        context: &EncryptionContext,
        rec: &mut Rec,
        action: &str,
    ) -> Result<Ciphertext, KmsError> {
        let (id, key) = self.resolve(doc, key_id)?;
        let arn = self.key_arn(id);
        rec.key_id = Some(arn.clone());
        self.authorize(key, &arn, action, Some(context))?;
        require_usable(key, &arn)?;
        let newest = key.newest()?;
        rec.key_version = Some(newest.version);
        let sealed = blob::seal(
            &Self::key_bytes(id)?,
            newest.version,
            &newest.material.0,
            context,
            plaintext,
        )?;
        Ok(Ciphertext {
            ciphertext_blob: sealed,
            key_arn: arn,
            key_version: newest.version,
        })
    }

    fn op_decrypt(
        &self,
        ciphertext_blob: &[u8],
        context: &EncryptionContext,
        key_id: Option<&str>,
    ) -> Result<Plaintext, KmsError> {
        self.run("Decrypt", |rec| {
            rec.key_id = key_id.map(printable);
            rec.context = Some(context.clone());
            check_blob_len(ciphertext_blob)?;
            blob::context_digest(context)?;
            let doc = self.read_doc()?;
            self.decrypt_with(
                &doc,
                ciphertext_blob,
                context,
                key_id,
                rec,
                DecryptFor::Decrypt,
            )
        })
    }

    /// Decrypts a blob: its key must exist and be enabled, and be `key_id` when that is given.
    fn decrypt_with(
        &self,
        doc: &StoreDoc,
        ciphertext_blob: &[u8],
        context: &EncryptionContext,
        key_id: Option<&str>,
        rec: &mut Rec,
        purpose: DecryptFor,
    ) -> Result<Plaintext, KmsError> {
        let (action, use_cache) = match purpose {
            DecryptFor::Decrypt => ("kms:Decrypt", true),
            DecryptFor::ReEncrypt => ("kms:ReEncryptFrom", false),
        };
        let ctx_hash = blob::context_digest(context)?;
        let parsed = blob::parse(ciphertext_blob)?;
        let header = *parsed.header();
        let blob_id = header.key_id_string();
        let arn = self.key_arn(&blob_id);
        let key = match doc.keys.get(&blob_id) {
            Some(key) => key,
            None if doc.deleted_keys.contains_key(&blob_id) => {
                rec.key_id = Some(arn.clone());
                return Err(KmsError::NotFound(format!("Key '{arn}' has been deleted.")));
            }
            None => {
                return Err(KmsError::InvalidCiphertext(
                    "ciphertext blob names a key that this keystore does not hold".into(),
                ));
            }
        };
        rec.key_id = Some(arn.clone());
        // Authorized on the blob's key before anything else about the request is told.
        self.authorize(key, &arn, action, Some(context))?;
        if let Some(named) = key_id {
            let (named_id, _) = self.resolve(doc, named)?;
            if named_id != blob_id {
                rec.key_id = Some(self.key_arn(named_id));
                return Err(KmsError::IncorrectKey(format!(
                    "The key ID in the request does not identify the key that encrypted the \
                     ciphertext ({} was given)",
                    self.key_arn(named_id)
                )));
            }
        }
        require_usable(key, &arn)?;
        rec.key_version = Some(header.key_version);
        let version = key.version(header.key_version).ok_or_else(|| {
            KmsError::InvalidCiphertext(
                "ciphertext blob names a key version that does not exist".into(),
            )
        })?;
        let cache_key = CacheKey::Decrypt {
            key_id: blob_id.clone(),
            blob: Sha256::digest(ciphertext_blob).into(),
            context: ctx_hash,
        };
        if use_cache && let Some(Cached::Plaintext(hit)) = self.cache_get(&cache_key) {
            rec.message = Some(CACHE_HIT.into());
            return Ok(hit);
        }
        let plaintext = Plaintext {
            plaintext: parsed.open(&version.material.0, context)?,
            key_arn: arn,
            key_version: header.key_version,
        };
        if use_cache {
            self.cache_put(cache_key, Cached::Plaintext(plaintext.clone()));
        }
        Ok(plaintext)
    }

    fn op_re_encrypt(&self, request: ReEncryptRequest<'_>) -> Result<ReEncrypted, KmsError> {
        self.run("ReEncrypt", |rec| {
            rec.key_id = Some(printable(request.destination_key_id));
            rec.context = Some(request.destination_context.clone());
            check_blob_len(request.ciphertext_blob)?;
            blob::context_digest(request.source_context)?;
            blob::context_digest(request.destination_context)?;
            let doc = self.read_doc()?;
            let mut source = Rec::default();
            let plaintext = self
                .decrypt_with(
                    &doc,
                    request.ciphertext_blob,
                    request.source_context,
                    request.source_key_id,
                    &mut source,
                    DecryptFor::ReEncrypt,
                )
                .inspect_err(|_| {
                    rec.message = source.key_id.as_ref().map(|k| format!("source key {k}"));
                })?;
            rec.message = Some(format!(
                "source key {} version {}",
                plaintext.key_arn, plaintext.key_version
            ));
            let ciphertext = self.encrypt_under(
                &doc,
                request.destination_key_id,
                plaintext.plaintext.as_bytes(),
                request.destination_context,
                rec,
                "kms:ReEncryptTo",
            )?;
            Ok(ReEncrypted {
                ciphertext,
                source_key_arn: plaintext.key_arn.clone(),
                source_key_version: plaintext.key_version,
            })
        })
    }

    fn op_generate_random(&self, number_of_bytes: usize) -> Result<SecretBytes, KmsError> {
        self.run("GenerateRandom", |rec| {
            if !(1..=1024).contains(&number_of_bytes) {
                return Err(KmsError::Validation(format!(
                    "NumberOfBytes must be between 1 and 1024, not {number_of_bytes}"
                )));
            }
            rec.message = Some(format!("{number_of_bytes} bytes"));
            let mut bytes = vec![0u8; number_of_bytes];
            fill_random(&mut bytes)?;
            Ok(SecretBytes::from(bytes))
        })
    }
}

/// Why a blob is decrypted: its action in key policies, and whether the cache may serve it.
#[derive(Clone, Copy)]
enum DecryptFor {
    /// `Decrypt` (`kms:Decrypt`; cached).
    Decrypt,
    /// The source of `ReEncrypt` (`kms:ReEncryptFrom`; never cached: the plaintext stays inside).
    ReEncrypt,
}

fn pending(arn: &str) -> KmsError {
    KmsError::InvalidState(format!("{arn} is pending deletion."))
}

/// Enabled → ok; Disabled → `DisabledException`; PendingDeletion → `KMSInvalidStateException`.
fn require_usable(key: &KeyRecord, arn: &str) -> Result<(), KmsError> {
    match key.state {
        StoredState::Enabled => Ok(()),
        StoredState::Disabled => Err(KmsError::Disabled(format!("{arn} is disabled."))),
        StoredState::PendingDeletion => Err(pending(arn)),
    }
}

fn check_blob_len(blob: &[u8]) -> Result<(), KmsError> {
    if blob.is_empty() || blob.len() > MAX_CIPHERTEXT_BLOB_LEN {
        return Err(KmsError::Validation(format!(
            "CiphertextBlob must be 1 to {MAX_CIPHERTEXT_BLOB_LEN} bytes, not {}",
            blob.len()
        )));
    }
    Ok(())
}

fn validate_create(request: &CreateKeyRequest) -> Result<(), KmsError> {
    if request.description.chars().count() > MAX_DESCRIPTION_LEN {
        return Err(KmsError::Validation(format!(
            "Description must be at most {MAX_DESCRIPTION_LEN} characters"
        )));
    }
    if request.tags.len() > MAX_TAGS {
        return Err(KmsError::Validation(format!(
            "a key holds at most {MAX_TAGS} tags"
        )));
    }
    for (k, v) in &request.tags {
        if k.is_empty() || k.chars().count() > 128 || v.chars().count() > 256 {
            return Err(KmsError::Validation(
                "tag keys must be 1 to 128 characters, tag values at most 256".into(),
            ));
        }
    }
    Ok(())
}

#[async_trait]
impl Kms for LocalKms {
    async fn create_key(&self, request: CreateKeyRequest) -> Result<KeyMetadata, KmsError> {
        self.op_create_key(request)
    }

    async fn describe_key(&self, key_id: &str) -> Result<KeyMetadata, KmsError> {
        self.op_describe_key(key_id)
    }

    async fn list_keys(&self) -> Result<Vec<KeyListEntry>, KmsError> {
        self.op_list_keys()
    }

    async fn create_alias(&self, alias_name: &str, target_key_id: &str) -> Result<(), KmsError> {
        self.op_create_alias(alias_name, target_key_id)
    }

    async fn delete_alias(&self, alias_name: &str) -> Result<(), KmsError> {
        self.op_delete_alias(alias_name)
    }

    async fn list_aliases(&self, key_id: Option<&str>) -> Result<Vec<AliasEntry>, KmsError> {
        self.op_list_aliases(key_id)
    }

    async fn enable_key(&self, key_id: &str) -> Result<(), KmsError> {
        self.op_enable_key(key_id)
    }

    async fn disable_key(&self, key_id: &str) -> Result<(), KmsError> {
        self.op_disable_key(key_id)
    }

    async fn enable_key_rotation(
        &self,
        key_id: &str,
        rotation_period_days: Option<u32>,
    ) -> Result<(), KmsError> {
        self.op_enable_key_rotation(key_id, rotation_period_days)
    }

    async fn disable_key_rotation(&self, key_id: &str) -> Result<(), KmsError> {
        self.op_disable_key_rotation(key_id)
    }

    async fn get_key_rotation_status(&self, key_id: &str) -> Result<RotationStatus, KmsError> {
        self.op_get_key_rotation_status(key_id)
    }

    async fn rotate_key_on_demand(&self, key_id: &str) -> Result<String, KmsError> {
        self.op_rotate_key_on_demand(key_id)
    }

    async fn list_key_rotations(&self, key_id: &str) -> Result<Vec<RotationEntry>, KmsError> {
        self.op_list_key_rotations(key_id)
    }

    async fn schedule_key_deletion(
        &self,
        key_id: &str,
        pending_window_days: Option<u32>,
    ) -> Result<DeletionSchedule, KmsError> {
        self.op_schedule_key_deletion(key_id, pending_window_days)
    }

    async fn cancel_key_deletion(&self, key_id: &str) -> Result<String, KmsError> {
        self.op_cancel_key_deletion(key_id)
    }

    async fn generate_data_key(
        &self,
        key_id: &str,
        context: &EncryptionContext,
        spec: DataKeySpec,
    ) -> Result<DataKey, KmsError> {
        self.op_generate_data_key("GenerateDataKey", key_id, context, spec, true)
    }

    async fn generate_data_key_without_plaintext(
        &self,
        key_id: &str,
        context: &EncryptionContext,
        spec: DataKeySpec,
    ) -> Result<Ciphertext, KmsError> {
        self.op_generate_data_key(
            "GenerateDataKeyWithoutPlaintext",
            key_id,
            context,
            spec,
            false,
        )
        .map(|d| d.wrapped)
    }

    async fn encrypt(
        &self,
        key_id: &str,
        plaintext: &[u8],
        context: &EncryptionContext,
    ) -> Result<Ciphertext, KmsError> {
        self.op_encrypt(key_id, plaintext, context)
    }

    async fn decrypt(
        &self,
        ciphertext_blob: &[u8],
        context: &EncryptionContext,
        key_id: Option<&str>,
    ) -> Result<Plaintext, KmsError> {
        self.op_decrypt(ciphertext_blob, context, key_id)
    }

    async fn re_encrypt(&self, request: ReEncryptRequest<'_>) -> Result<ReEncrypted, KmsError> {
        self.op_re_encrypt(request)
    }

    async fn generate_random(&self, number_of_bytes: usize) -> Result<SecretBytes, KmsError> {
        self.op_generate_random(number_of_bytes)
    }

    async fn get_key_policy(&self, key_id: &str) -> Result<String, KmsError> {
        self.op_get_key_policy(key_id)
    }

    async fn put_key_policy(
        &self,
        key_id: &str,
        policy: &str,
        bypass_policy_lockout_safety_check: bool,
    ) -> Result<(), KmsError> {
        self.op_put_key_policy(key_id, policy, bypass_policy_lockout_safety_check)
    }

    async fn list_key_policies(&self, key_id: &str) -> Result<Vec<String>, KmsError> {
        self.op_list_key_policies(key_id)
    }

    /// The same keystore acting for the delegation's principal, its audit events naming this
    /// handle's principal as the service that called.
    fn on_behalf_of(&self, delegation: &Delegation) -> Arc<dyn Kms> {
        Arc::new(self.delegated(delegation, &self.caller.principal))
    }
}

/// Runs a future to completion on the current thread, parking while it waits.
///
/// For calling a [`Kms`] from synchronous code (the CLI, tests). [`LocalKms`]'s futures never wait,
/// so they complete on the first poll; others are polled again whenever their waker fires.
///
/// ```
/// assert_eq!(objseal_kms::keystore::block_on(async { 40 + 2 }), 42);
/// ```
pub fn block_on<F: Future>(future: F) -> F::Output {
    struct ThreadWaker(std::thread::Thread);
    impl Wake for ThreadWaker {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(ThreadWaker(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        std::thread::park();
    }
}
