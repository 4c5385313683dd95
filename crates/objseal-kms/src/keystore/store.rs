//! The keystore file: its contents (a JSON document of keys, versions and aliases), how it is sealed
//! under the root key, and how it is updated without ever leaving a broken file behind.
//!
//! # File format (`docs/FORMAT.md` §14)
//!
//! ```text
//! offset size
//!      0    4  magic "OSKS"
//!      4    1  version 0x01
//!      5   32  salt: 32 random bytes, fresh for every save
//!     37   32  key_check = HKDF-Expand(PRK, "objseal/v1 kms store check\0", 32)
//!     69    n  AES-256-GCM ciphertext of the JSON document
//! 69 + n   16  GCM tag
//!
//! header    = file[0..69]
//! PRK       = HKDF-Extract(salt, IKM = root key)
//! store_key = HKDF-Expand(PRK, "objseal/v1 kms store\0" ‖ header, 32)
//! C ‖ T     = AES-256-GCM-Seal(store_key, nonce = 0x00 × 12, AAD = header, JSON document)
//! ```
//!
//! The key check tells "another root key" (check differs) from "a corrupted file" (check matches,
//! tag does not), so a store is never mistaken for a missing one and recreated.
//!
//! # Updates
//!
//! Every mutation takes an exclusive lock on the sidecar `<store>.lock` (advisory, `flock`-style,
//! across processes and across handles within a process), re-reads the store, applies the change,
//! writes `<store>.tmp-<16 hex>`, fsyncs it, renames it over the store and fsyncs the directory.
//! A crash at any point leaves the old store or the new one; a leftover temporary file is never read
//! and is removed by the next [`Store::open_or_create`]. Readers need no lock: a rename is atomic; they
//! reload when the salt in the file's header differs from the one they last read.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use objseal_core::gcm::{Aes256Gcm, NONCE_LEN, TAG_LEN};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::RootKey;
use super::ids::{fill_random, format_uuid, hex_decode_into, hex_encode, parse_uuid};
use crate::blob::hkdf_sha256;
use crate::{KeyState, KmsError, RotationType};

/// The keystore file's first four bytes.
pub const STORE_MAGIC: [u8; 4] = *b"OSKS";
/// The keystore file format version.
pub const STORE_VERSION: u8 = 1;
/// HKDF-Expand label of the key that seals the keystore document.
pub const LABEL_STORE: &[u8] = b"objseal/v1 kms store\0";
/// HKDF-Expand label of the root-key check value in the keystore header.
pub const LABEL_STORE_CHECK: &[u8] = b"objseal/v1 kms store check\0";
/// Length of the keystore file header (magic, version, salt, key check).
pub const STORE_HEADER_LEN: usize = 4 + 1 + 32 + 32;
/// The version of the JSON document inside the keystore file.
pub(crate) const DOC_FORMAT: u32 = 1;
/// Larger files are not read.
const MAX_STORE_LEN: u64 = 256 << 20;
/// Most automatic rotations one lazy pass catches up on for one key; further missed periods are
/// skipped (the next rotation is then the first period boundary after now).
const MAX_CATCH_UP: u32 = 100;
/// Seconds in a day.
pub(crate) const DAY: u64 = 86_400;

/// A step of a keystore save, for fault injection in crash-safety tests.
///
/// A [`FaultHook`] is called at each step; an error from it stops the save right there, as a crash
/// would: nothing after the step happens and nothing is cleaned up.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SaveStep {
    /// Before the temporary file is created.
    CreateTemp,
    /// After the first half of the sealed store was written to the temporary file.
    WriteTemp,
    /// After the whole store was written, before the temporary file is fsynced.
    SyncTemp,
    /// After the fsync, before the rename over the store.
    Rename,
    /// After the rename, before the directory is fsynced.
    SyncDir,
    /// After everything.
    Done,
}

impl SaveStep {
    /// Every step, in order.
    pub const ALL: [SaveStep; 6] = [
        SaveStep::CreateTemp,
        SaveStep::WriteTemp,
        SaveStep::SyncTemp,
        SaveStep::Rename,
        SaveStep::SyncDir,
        SaveStep::Done,
    ];
}

/// A fault-injection hook: called at each [`SaveStep`]; `Err` simulates a crash there.
#[doc(hidden)]
pub type FaultHook = Arc<dyn Fn(SaveStep) -> io::Result<()> + Send + Sync>;

/// 32 bytes of key material: zeroized on drop, hex in the (sealed) JSON document, never printed.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub(crate) struct Material(pub(crate) [u8; 32]);

impl Material {
    pub(crate) fn generate() -> Result<Self, KmsError> {
        let mut m = Material([0u8; 32]);
        fill_random(&mut m.0)?;
        Ok(m)
    }
}

impl core::fmt::Debug for Material {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Material(<redacted>)")
    }
}

impl Serialize for Material {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let text = Zeroizing::new(hex_encode(&self.0));
        serializer.serialize_str(&text)
    }
}

impl<'de> Deserialize<'de> for Material {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Material;
            fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str("64 hex digits")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Material, E> {
                let mut m = Material([0u8; 32]);
                if hex_decode_into(v, &mut m.0) {
                    Ok(m)
                } else {
                    Err(E::custom("key material is not 64 hex digits"))
                }
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

/// A key's state as stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum StoredState {
    Enabled,
    Disabled,
    PendingDeletion,
}

impl From<StoredState> for KeyState {
    fn from(s: StoredState) -> Self {
        match s {
            StoredState::Enabled => KeyState::Enabled,
            StoredState::Disabled => KeyState::Disabled,
            StoredState::PendingDeletion => KeyState::PendingDeletion,
        }
    }
}

/// How a version came to be, as stored (absent for version 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum StoredRotationType {
    #[serde(rename = "AUTOMATIC")]
    Automatic,
    #[serde(rename = "ON_DEMAND")]
    OnDemand,
}

impl From<StoredRotationType> for RotationType {
    fn from(t: StoredRotationType) -> Self {
        match t {
            StoredRotationType::Automatic => RotationType::Automatic,
            StoredRotationType::OnDemand => RotationType::OnDemand,
        }
    }
}

/// One version of a key's material.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct KeyVersion {
    pub(crate) version: u32,
    pub(crate) creation_date: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) rotation_type: Option<StoredRotationType>,
    pub(crate) material: Material,
}

/// Automatic rotation settings. Kept while the key is disabled or pending deletion (they only
/// pause rotation), so cancelling a deletion restores them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Rotation {
    pub(crate) enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) period_days: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) next_rotation_date: Option<u64>,
}

/// One key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct KeyRecord {
    #[serde(default)]
    pub(crate) description: String,
    #[serde(default)]
    pub(crate) tags: BTreeMap<String, String>,
    pub(crate) state: StoredState,
    pub(crate) creation_date: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) deletion_date: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) pending_window_days: Option<u32>,
    #[serde(default)]
    pub(crate) rotation: Rotation,
    /// The key policy document as it was put (validated then); `None` for keys made before key
    /// policies existed, which have the account-wide default policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) policy: Option<String>,
    /// Versions 1..=n in order; never empty.
    #[serde(deserialize_with = "deserialize_versions")]
    pub(crate) versions: Vec<KeyVersion>,
}

impl KeyRecord {
    /// The newest version (the one that encrypts).
    pub(crate) fn newest(&self) -> Result<&KeyVersion, KmsError> {
        self.versions
            .last()
            .ok_or_else(|| KmsError::Internal("keystore key has no versions".into()))
    }

    /// A version by number.
    pub(crate) fn version(&self, version: u32) -> Option<&KeyVersion> {
        let index = usize::try_from(version.checked_sub(1)?).ok()?;
        self.versions.get(index).filter(|v| v.version == version)
    }

    /// Adds a version with fresh material; returns its number.
    pub(crate) fn add_version(
        &mut self,
        date: u64,
        rotation_type: StoredRotationType,
    ) -> Result<u32, KmsError> {
        let version = u32::try_from(self.versions.len())
            .ok()
            .and_then(|n| n.checked_add(1))
            .ok_or_else(|| KmsError::LimitExceeded("too many key versions".into()))?;
        push_wiping(
            &mut self.versions,
            KeyVersion {
                version,
                creation_date: date,
                rotation_type: Some(rotation_type),
                material: Material::generate()?,
            },
        );
        Ok(version)
    }
}

/// Pushes onto a vector of key versions without leaving key material behind: a plain `push` that
/// grows the vector moves the versions bitwise to a new buffer and frees the old one unwiped; here
/// they are cloned into the new buffer and the old ones dropped (so wiped) in place.
fn push_wiping(versions: &mut Vec<KeyVersion>, item: KeyVersion) {
    if versions.len() == versions.capacity() {
        let mut bigger = Vec::with_capacity(versions.capacity().saturating_mul(2).max(4));
        bigger.extend(versions.iter().cloned());
        *versions = bigger;
    }
    versions.push(item);
}

/// `versions` as `Vec<KeyVersion>` deserialises it, growing it with [`push_wiping`].
fn deserialize_versions<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<KeyVersion>, D::Error> {
    struct Visitor;
    impl<'de> serde::de::Visitor<'de> for Visitor {
        type Value = Vec<KeyVersion>;
        fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            f.write_str("a list of key versions")
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Vec<KeyVersion>, A::Error> {
            let mut versions = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
            while let Some(v) = seq.next_element::<KeyVersion>()? {
                push_wiping(&mut versions, v);
            }
            Ok(versions)
        }
    }
    deserializer.deserialize_seq(Visitor)
}

/// One alias.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct AliasRecord {
    pub(crate) target_key_id: String,
    pub(crate) creation_date: u64,
}

/// The whole keystore: keys by id, aliases by name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoreDoc {
    pub(crate) format: u32,
    #[serde(default)]
    pub(crate) keys: BTreeMap<String, KeyRecord>,
    #[serde(default)]
    pub(crate) aliases: BTreeMap<String, AliasRecord>,
    /// Ids of deleted keys and when they were deleted (no material): a blob of a deleted key is
    /// `NotFoundException`, while a blob naming a key that never was is `InvalidCiphertextException`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) deleted_keys: BTreeMap<String, u64>,
}

impl Default for StoreDoc {
    fn default() -> Self {
        Self {
            format: DOC_FORMAT,
            keys: BTreeMap::new(),
            aliases: BTreeMap::new(),
            deleted_keys: BTreeMap::new(),
        }
    }
}

/// A change the keystore made by itself when its time came (applied lazily, on the next operation).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct LazyEvent {
    /// `DeleteKey` (the deletion window ended) or `RotateKey` (automatic rotation).
    pub(crate) operation: &'static str,
    pub(crate) key_id: String,
    pub(crate) version: Option<u32>,
}

impl StoreDoc {
    /// Whether a deletion or automatic rotation is due at `now`.
    pub(crate) fn has_due(&self, now: u64) -> bool {
        self.keys
            .values()
            .any(|k| deletion_due(k, now) || rotation_due(k, now))
    }

    /// Deletes keys whose deletion window ended (with their aliases) and rotates enabled keys whose
    /// automatic rotation is due, each missed period dated when it was due.
    pub(crate) fn apply_due(&mut self, now: u64) -> Result<Vec<LazyEvent>, KmsError> {
        let mut events = Vec::new();
        let doomed: Vec<String> = self
            .keys
            .iter()
            .filter(|(_, k)| deletion_due(k, now))
            .map(|(id, _)| id.clone())
            .collect();
        for id in doomed {
            let date = self
                .keys
                .remove(&id)
                .and_then(|k| k.deletion_date)
                .unwrap_or(now);
            self.deleted_keys.insert(id.clone(), date);
            self.aliases.retain(|_, a| a.target_key_id != id);
            events.push(LazyEvent {
                operation: "DeleteKey",
                key_id: id,
                version: None,
            });
        }
        for (id, key) in self.keys.iter_mut() {
            let mut caught_up = 0;
            while rotation_due(key, now) {
                let period = u64::from(key.rotation.period_days.unwrap_or(365).max(1)) * DAY;
                let due = key.rotation.next_rotation_date.unwrap_or(now);
                if caught_up == MAX_CATCH_UP {
                    let missed = (now - due) / period + 1;
                    key.rotation.next_rotation_date =
                        Some(due.saturating_add(missed.saturating_mul(period)));
                    break;
                }
                let version = key.add_version(due, StoredRotationType::Automatic)?;
                key.rotation.next_rotation_date = Some(due.saturating_add(period));
                events.push(LazyEvent {
                    operation: "RotateKey",
                    key_id: id.clone(),
                    version: Some(version),
                });
                caught_up += 1;
            }
        }
        Ok(events)
    }

    /// Checks the invariants a loaded document must hold.
    fn validate(&self) -> Result<(), String> {
        if self.format != DOC_FORMAT {
            return Err(format!("unsupported document format {}", self.format));
        }
        for (id, key) in &self.keys {
            match parse_uuid(id) {
                Some(bytes) if format_uuid(&bytes) == *id => {}
                _ => return Err(format!("malformed key id {id:?}")),
            }
            if key.versions.is_empty() {
                return Err(format!("key {id} has no versions"));
            }
            for (i, v) in key.versions.iter().enumerate() {
                if usize::try_from(v.version).ok() != Some(i + 1) {
                    return Err(format!("key {id} has versions out of order"));
                }
            }
            if key.state == StoredState::PendingDeletion && key.deletion_date.is_none() {
                return Err(format!("key {id} is pending deletion without a date"));
            }
        }
        if let Some(id) = self
            .deleted_keys
            .keys()
            .find(|id| self.keys.contains_key(*id))
        {
            return Err(format!("key {id} is both present and deleted"));
        }
        for (name, alias) in &self.aliases {
            if !self.keys.contains_key(&alias.target_key_id) {
                return Err(format!("alias {name} names a missing key"));
            }
        }
        Ok(())
    }

    fn to_json(&self) -> Result<Zeroizing<Vec<u8>>, KmsError> {
        // Sized up front so the buffer holding key material is rarely reallocated; when it is
        // (long alias names, escaped text), the writer wipes the old allocation.
        let versions: usize = self.keys.values().map(|k| k.versions.len()).sum();
        let text: usize = self
            .keys
            .values()
            .map(|k| {
                k.description.len()
                    + k.tags
                        .iter()
                        .map(|(a, b)| 2 * (a.len() + b.len()) + 8)
                        .sum::<usize>()
            })
            .sum();
        let capacity =
            4096 + 256 * self.keys.len() + 192 * versions + 2 * text + 160 * self.aliases.len();
        crate::types::to_json_zeroizing(self, capacity)
            .map_err(|e| KmsError::Internal(format!("encoding the keystore failed: {e}")))
    }
}

/// Where a document failed to parse, without the error's own text: serde_json's messages quote
/// the offending value ("invalid type: string \"…\""), which in the keystore document could be
/// hex key material.
fn json_error_position(e: &serde_json::Error) -> String {
    let what = match e.classify() {
        serde_json::error::Category::Io | serde_json::error::Category::Eof => "truncated",
        serde_json::error::Category::Syntax => "malformed JSON",
        serde_json::error::Category::Data => "a member is missing, repeated or of the wrong type",
    };
    format!("{what} at line {} column {}", e.line(), e.column())
}

fn deletion_due(key: &KeyRecord, now: u64) -> bool {
    key.state == StoredState::PendingDeletion && key.deletion_date.is_some_and(|d| d <= now)
}

fn rotation_due(key: &KeyRecord, now: u64) -> bool {
    key.state == StoredState::Enabled
        && key.rotation.enabled
        && key.rotation.next_rotation_date.is_some_and(|d| d <= now)
}

/// What identifies one version of the store file on disk: the random salt in its header, fresh for
/// every save. A different fingerprint means another process (or handle) replaced the file. (File
/// metadata would not do: inodes are reused and modification times are coarse.)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Fingerprint([u8; 32]);

impl Fingerprint {
    /// The fingerprint of sealed store bytes; all zeros for bytes too short to be a store (which
    /// then fail to load with a proper error).
    fn of(bytes: &[u8]) -> Self {
        let mut salt = [0u8; 32];
        if let Some(s) = bytes.get(5..37) {
            salt.copy_from_slice(s);
        }
        Self(salt)
    }
}

/// Holds the exclusive lock on `<store>.lock` until dropped.
pub(crate) struct LockGuard {
    file: File,
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        // Closing the file releases the lock too; unlocking first is merely prompt.
        let _ = self.file.unlock();
    }
}

/// The keystore file on disk.
pub(crate) struct Store {
    path: PathBuf,
    lock_path: PathBuf,
    root: RootKey,
    fault: Option<FaultHook>,
}

impl core::fmt::Debug for Store {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Store {
    pub(crate) fn new(path: PathBuf, root: RootKey, fault: Option<FaultHook>) -> Self {
        let mut lock_name = path.file_name().unwrap_or_default().to_os_string();
        lock_name.push(".lock");
        let lock_path = path.with_file_name(lock_name);
        Self {
            path,
            lock_path,
            root,
            fault,
        }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, what: &str, e: impl core::fmt::Display) -> KmsError {
        KmsError::Internal(format!("keystore {}: {what}: {e}", self.path.display()))
    }

    /// Takes the exclusive cross-process lock (blocking).
    pub(crate) fn lock(&self) -> Result<LockGuard, KmsError> {
        let mut options = OpenOptions::new();
        options.create(true).truncate(false).read(true).write(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let file = options
            .open(&self.lock_path)
            .map_err(|e| self.err("opening the lock file", e))?;
        file.lock().map_err(|e| self.err("locking", e))?;
        Ok(LockGuard { file })
    }

    /// The fingerprint of the file now on disk, `None` if there is none.
    pub(crate) fn fingerprint(&self) -> Result<Option<Fingerprint>, KmsError> {
        let file = match File::open(&self.path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.err("opening", e)),
        };
        let mut header = Vec::with_capacity(37);
        file.take(37)
            .read_to_end(&mut header)
            .map_err(|e| self.err("reading", e))?;
        Ok(Some(Fingerprint::of(&header)))
    }

    /// Reads, authenticates and parses the store.
    pub(crate) fn load(&self) -> Result<(StoreDoc, Fingerprint), KmsError> {
        let file = File::open(&self.path).map_err(|e| self.err("opening", e))?;
        let meta = file
            .metadata()
            .map_err(|e| self.err("reading its metadata", e))?;
        if meta.len() > MAX_STORE_LEN {
            return Err(self.err("not an objseal keystore", "larger than 256 MiB"));
        }
        let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
        file.take(MAX_STORE_LEN + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| self.err("reading", e))?;
        let json = open_sealed(&self.root, &bytes, &self.path)?;
        let doc: StoreDoc = serde_json::from_slice(&json)
            .map_err(|e| self.err("its document is malformed", json_error_position(&e)))?;
        doc.validate()
            .map_err(|e| self.err("its document is inconsistent", e))?;
        Ok((doc, Fingerprint::of(&bytes)))
    }

    /// Writes `doc` crash-safely (temporary file, fsync, rename, directory fsync) while `_lock` is held.
    pub(crate) fn save(&self, doc: &StoreDoc, _lock: &LockGuard) -> Result<Fingerprint, KmsError> {
        let json = doc.to_json()?;
        let sealed = seal_document(&self.root, &json)?;
        let mut suffix = [0u8; 8];
        fill_random(&mut suffix)?;
        let mut tmp_name = self.path.file_name().unwrap_or_default().to_os_string();
        tmp_name.push(format!(".tmp-{}", hex_encode(&suffix)));
        let tmp = self.path.with_file_name(tmp_name);

        self.fault(SaveStep::CreateTemp)?;
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options
            .open(&tmp)
            .map_err(|e| self.err("creating a temporary file", e))?;
        let cleanup = |e: KmsError| {
            let _ = fs::remove_file(&tmp);
            e
        };
        let half = sealed.len() / 2;
        file.write_all(&sealed[..half])
            .map_err(|e| cleanup(self.err("writing", e)))?;
        self.fault(SaveStep::WriteTemp)?;
        file.write_all(&sealed[half..])
            .map_err(|e| cleanup(self.err("writing", e)))?;
        self.fault(SaveStep::SyncTemp)?;
        file.sync_all()
            .map_err(|e| cleanup(self.err("syncing", e)))?;
        self.fault(SaveStep::Rename)?;
        fs::rename(&tmp, &self.path).map_err(|e| cleanup(self.err("replacing", e)))?;
        self.fault(SaveStep::SyncDir)?;
        sync_dir(&self.path).map_err(|e| self.err("syncing its directory", e))?;
        self.fault(SaveStep::Done)?;
        Ok(Fingerprint::of(&sealed))
    }

    /// Opens the store, creating an empty one if there is no file; removes temporary files that a
    /// crashed save left behind.
    pub(crate) fn open_or_create(&self) -> Result<(StoreDoc, Fingerprint), KmsError> {
        let guard = self.lock()?;
        self.clean_temps(&guard);
        match fs::symlink_metadata(&self.path) {
            Ok(_) => self.load(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let doc = StoreDoc::default();
                let fingerprint = self.save(&doc, &guard)?;
                Ok((doc, fingerprint))
            }
            Err(e) => Err(self.err("reading its metadata", e)),
        }
    }

    /// Removes `<store>.tmp-*` files. Only called under the lock, when no save is under way.
    fn clean_temps(&self, _lock: &LockGuard) {
        let Some(name) = self.path.file_name().and_then(|n| n.to_str()) else {
            return;
        };
        let prefix = format!("{name}.tmp-");
        let dir = match self.path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let Ok(entries) = fs::read_dir(&dir) else {
            return;
        };
        for entry in entries.flatten() {
            if entry
                .file_name()
                .to_str()
                .is_some_and(|n| n.starts_with(&prefix))
            {
                let _ = fs::remove_file(entry.path());
            }
        }
    }

    fn fault(&self, step: SaveStep) -> Result<(), KmsError> {
        match &self.fault {
            Some(hook) => hook(step).map_err(|e| self.err("injected fault", e)),
            None => Ok(()),
        }
    }
}

#[cfg(unix)]
fn sync_dir(path: &Path) -> io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_path: &Path) -> io::Result<()> {
    Ok(())
}

/// Seals a document into keystore file bytes with a fresh salt.
fn seal_document(root: &RootKey, json: &[u8]) -> Result<Vec<u8>, KmsError> {
    let mut salt = [0u8; 32];
    fill_random(&mut salt)?;
    let check = hkdf_sha256(&salt, root.expose_secret(), &[LABEL_STORE_CHECK]);
    let mut out = Vec::with_capacity(STORE_HEADER_LEN + json.len() + TAG_LEN);
    out.extend_from_slice(&STORE_MAGIC);
    out.push(STORE_VERSION);
    out.extend_from_slice(&salt);
    out.extend_from_slice(&check[..]);
    let key = hkdf_sha256(&salt, root.expose_secret(), &[LABEL_STORE, &out]);
    let gcm = Aes256Gcm::new(&key);
    let header = out.clone();
    out.extend_from_slice(json);
    let tag = gcm.seal_in_place(&[0u8; NONCE_LEN], &header, &mut out[STORE_HEADER_LEN..]);
    out.extend_from_slice(&tag);
    Ok(out)
}

/// Authenticates and decrypts keystore file bytes.
fn open_sealed(root: &RootKey, bytes: &[u8], path: &Path) -> Result<Zeroizing<Vec<u8>>, KmsError> {
    let not_store = |why: &str| {
        KmsError::Internal(format!(
            "{} is not an objseal keystore ({why})",
            path.display()
        ))
    };
    if bytes.len() < 5 || bytes[0..4] != STORE_MAGIC {
        return Err(not_store("bad magic"));
    }
    if bytes[4] != STORE_VERSION {
        return Err(not_store("unsupported format version"));
    }
    if bytes.len() < STORE_HEADER_LEN + TAG_LEN {
        return Err(not_store("truncated"));
    }
    let header = &bytes[..STORE_HEADER_LEN];
    let salt = &header[5..37];
    let stored_check = &header[37..69];
    let check = hkdf_sha256(salt, root.expose_secret(), &[LABEL_STORE_CHECK]);
    let diff = check
        .iter()
        .zip(stored_check)
        .fold(0u8, |acc, (a, b)| acc | (a ^ b));
    if diff != 0 {
        return Err(KmsError::Internal(format!(
            "keystore {} cannot be opened with this root key",
            path.display()
        )));
    }
    let key = hkdf_sha256(salt, root.expose_secret(), &[LABEL_STORE, header]);
    let gcm = Aes256Gcm::new(&key);
    let body = &bytes[STORE_HEADER_LEN..];
    let (ciphertext, tag_bytes) = body.split_at(body.len() - TAG_LEN);
    let mut tag = [0u8; TAG_LEN];
    tag.copy_from_slice(tag_bytes);
    let mut buf = Zeroizing::new(ciphertext.to_vec());
    gcm.open_in_place(&[0u8; NONCE_LEN], header, &mut buf, &tag)
        .map_err(|_| {
            KmsError::Internal(format!(
                "keystore {} is corrupted: it does not authenticate under this root key",
                path.display()
            ))
        })?;
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip() {
        let root = RootKey::from_bytes([3u8; 32]);
        let sealed = seal_document(&root, b"{\"format\":1}").unwrap();
        let p = Path::new("x");
        assert_eq!(
            &open_sealed(&root, &sealed, p).unwrap()[..],
            b"{\"format\":1}"
        );
        let other = RootKey::from_bytes([4u8; 32]);
        let e = open_sealed(&other, &sealed, p).unwrap_err();
        assert!(
            e.message().contains("cannot be opened with this root key"),
            "{e}"
        );
        for i in 0..sealed.len() {
            let mut t = sealed.clone();
            t[i] ^= 1;
            assert!(open_sealed(&root, &t, p).is_err());
        }
        for len in 0..sealed.len() {
            assert!(open_sealed(&root, &sealed[..len], p).is_err());
        }
    }

    #[test]
    fn document_errors_never_quote_the_document() {
        let secret = "ab".repeat(32);
        // A material where a number belongs: serde_json's own message would quote it.
        let text = format!(
            r#"{{"format":1,"keys":{{"11111111-2222-4333-8444-555555555555":{{"state":"Enabled","creation_date":"{secret}","versions":[]}}}}}}"#
        );
        let e = serde_json::from_str::<StoreDoc>(&text).unwrap_err();
        assert!(e.to_string().contains(&secret), "premise: {e}");
        let shown = json_error_position(&e);
        assert!(!shown.contains(&secret), "{shown}");

        // Through `Store::load`: a store sealed around such a document.
        let dir = tempfile::tempdir().unwrap();
        let root = RootKey::from_bytes([5u8; 32]);
        let path = dir.path().join("keys.osks");
        fs::write(&path, seal_document(&root, text.as_bytes()).unwrap()).unwrap();
        let e = Store::new(path, root, None).load().unwrap_err();
        assert!(e.message().contains("malformed"), "{e}");
        assert!(!e.message().contains(&secret), "{e}");
    }

    #[test]
    fn versions_grow_and_round_trip() {
        let mut v = Vec::new();
        for i in 1..=40u32 {
            push_wiping(
                &mut v,
                KeyVersion {
                    version: i,
                    creation_date: u64::from(i),
                    rotation_type: None,
                    material: Material([i as u8; 32]),
                },
            );
        }
        assert_eq!(v.len(), 40);
        assert!(
            v.iter()
                .enumerate()
                .all(|(i, k)| k.version as usize == i + 1 && k.material.0 == [(i + 1) as u8; 32])
        );
        let json = serde_json::to_string(&v).unwrap();
        let mut d = serde_json::Deserializer::from_str(&json);
        assert_eq!(deserialize_versions(&mut d).unwrap(), v);
    }

    #[test]
    fn large_documents_encode_exactly() {
        let mut doc = StoreDoc::default();
        for i in 0..50 {
            // Alias names longer than the size estimate allows for, with characters JSON escapes.
            doc.aliases.insert(
                format!("alias/{i}-{}", "\u{1}".repeat(200)),
                AliasRecord {
                    target_key_id: "x".into(),
                    creation_date: 0,
                },
            );
        }
        let json = doc.to_json().unwrap();
        assert_eq!(&json[..], &serde_json::to_vec(&doc).unwrap()[..]);
    }

    #[test]
    fn material_serde_round_trip_and_redaction() {
        let m = Material([0xab; 32]);
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(json, format!("\"{}\"", "ab".repeat(32)));
        assert_eq!(serde_json::from_str::<Material>(&json).unwrap(), m);
        assert!(serde_json::from_str::<Material>("\"abcd\"").is_err());
        assert_eq!(format!("{m:?}"), "Material(<redacted>)");
    }
}
