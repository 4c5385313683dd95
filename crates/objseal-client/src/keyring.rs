//! Which keys wrap an object's data key, and which keys a reader accepts (strict by default).
//!
//! A writer wraps the data key for every [`Recipient`] of its [`Keyring`] (a KMS key and an offline
//! recovery KEK, say): one wrapped-key blob each, at most 16. A reader unwraps only with the KMS keys
//! and KEKs it was configured with — the key id a blob names is a hint an attacker can set, and a
//! reader that followed it would accept an object substituted by anyone who can write to the bucket
//! and use any KMS key the reader may use (`docs/FORMAT.md` §13). Following the blob's key id
//! ("discovery") is an explicit opt-in: [`Keyring::with_discovery`].
//!
//! Strictness is per client, not per object: a client holding the keys of several tenants accepts
//! an object of one in the place of another's. One client (one keyring) per trust domain.

use std::sync::Arc;

use objseal_core::format::header::Header;
use objseal_core::format::wrapped_key::{WrapAlgorithm, WrappedKey};
use objseal_core::wrap::{KeyUnwrap, KeyWrap, LocalKek};
use objseal_core::{Dek, ObjectKey};
use objseal_kms::{Kms, envelope};

use crate::ClientError;

/// The most wrapped keys one object carries.
pub const MAX_RECIPIENTS: usize = 16;

/// One key an object's data key is wrapped for.
#[derive(Clone)]
pub enum Recipient {
    /// A KMS master key: a key id, key ARN, alias name or alias ARN of `kms`.
    Kms {
        /// The KMS (embedded keystore, `objseal kms serve`, AWS KMS, …).
        kms: Arc<dyn Kms>,
        /// The key as configured.
        key_id: String,
    },
    /// A local key-encryption key (a customer master key kept by the caller, e.g. a key file).
    Kek(Arc<LocalKek>),
}

impl core::fmt::Debug for Recipient {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Kms { key_id, .. } => f.debug_tuple("Kms").field(key_id).finish(),
            Self::Kek(kek) => f.debug_tuple("Kek").field(&kek.key_id()).finish(),
        }
    }
}

/// The keys a client writes for and reads with.
///
/// ```
/// use std::sync::Arc;
/// use objseal_client::Keyring;
/// use objseal_core::{Kek, wrap::LocalKek};
/// let kek = LocalKek::new(Kek::from_bytes([7; 32]), "recovery-key", 1).unwrap();
/// let keys = Keyring::new().with_kek(kek);
/// assert_eq!(keys.recipients().len(), 1);
/// assert!(!keys.discovery());
/// ```
#[derive(Clone, Debug, Default)]
pub struct Keyring {
    recipients: Vec<Recipient>,
    discovery: Option<DiscoveryKms>,
}

#[derive(Clone)]
struct DiscoveryKms(Arc<dyn Kms>);

impl core::fmt::Debug for DiscoveryKms {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("DiscoveryKms")
    }
}

impl Keyring {
    /// No keys: add some with the `with_` methods.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a KMS master key. The first recipient that is a KMS key generates the data key.
    #[must_use]
    pub fn with_kms_key(mut self, kms: Arc<dyn Kms>, key_id: impl Into<String>) -> Self {
        self.recipients.push(Recipient::Kms {
            kms,
            key_id: key_id.into(),
        });
        self
    }

    /// Adds a local key-encryption key.
    #[must_use]
    pub fn with_kek(mut self, kek: LocalKek) -> Self {
        self.recipients.push(Recipient::Kek(Arc::new(kek)));
        self
    }

    /// Opts in to discovery: a KMS-wrapped key that names none of the configured KMS keys is
    /// unwrapped by `kms` under whatever key it names. Only for readers that trust every writer of
    /// the bucket with every key `kms` lets them use.
    #[must_use]
    pub fn with_discovery(mut self, kms: Arc<dyn Kms>) -> Self {
        self.discovery = Some(DiscoveryKms(kms));
        self
    }

    /// The configured recipients, in order.
    pub fn recipients(&self) -> &[Recipient] {
        &self.recipients
    }

    /// Whether discovery is on.
    pub fn discovery(&self) -> bool {
        self.discovery.is_some()
    }

    /// Resolves every KMS key to its ARN (`DescribeKey`), which is what wrapped keys name.
    ///
    /// # Errors
    /// [`ClientError::InvalidArgument`] for more than 16 recipients; the KMS's refusal for a key it
    /// cannot describe (unless it is given as a key ARN already).
    pub async fn resolve(&self) -> Result<ResolvedKeyring, ClientError> {
        if self.recipients.len() > MAX_RECIPIENTS {
            return Err(ClientError::InvalidArgument(format!(
                "{} recipients: an object carries at most {MAX_RECIPIENTS} wrapped keys",
                self.recipients.len()
            )));
        }
        let mut keys = Vec::with_capacity(self.recipients.len());
        for recipient in &self.recipients {
            keys.push(match recipient {
                Recipient::Kms { kms, key_id } => {
                    let arn = match kms.describe_key(key_id).await {
                        Ok(meta) => meta.arn,
                        Err(_) if is_key_arn(key_id) => key_id.clone(),
                        Err(e) => return Err(ClientError::Kms(e)),
                    };
                    Resolved::Kms {
                        kms: kms.clone(),
                        arn,
                    }
                }
                Recipient::Kek(kek) if kek.algorithm() == WrapAlgorithm::LocalKek => {
                    Resolved::Kek(kek.clone())
                }
                Recipient::Kek(kek) => {
                    return Err(ClientError::InvalidArgument(format!(
                        "KEK {}: an SSE-C customer key is the server's; a client KEK is made with \
                         LocalKek::new",
                        kek.key_id()
                    )));
                }
            });
        }
        Ok(ResolvedKeyring {
            keys,
            discovery: self.discovery.as_ref().map(|d| d.0.clone()),
        })
    }
}

/// `arn:…:kms:…:key/…`: a key ARN, which is what wrapped keys name.
fn is_key_arn(id: &str) -> bool {
    id.starts_with("arn:") && id.contains(":kms:") && id.contains(":key/")
}

#[derive(Clone)]
enum Resolved {
    Kms { kms: Arc<dyn Kms>, arn: String },
    Kek(Arc<LocalKek>),
}

/// A [`Keyring`] whose KMS keys are resolved to ARNs: what the client holds.
#[derive(Clone)]
pub struct ResolvedKeyring {
    keys: Vec<Resolved>,
    discovery: Option<Arc<dyn Kms>>,
}

impl core::fmt::Debug for ResolvedKeyring {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ResolvedKeyring")
            .field("key_ids", &self.key_ids())
            .field("discovery", &self.discovery.is_some())
            .finish()
    }
}

/// A data key that verified an object's header, and the object's keys.
pub(crate) struct Unwrapped {
    pub(crate) dek: Dek,
    pub(crate) object: ObjectKey,
}

impl ResolvedKeyring {
    /// The key ids wrapped keys will name: KMS key ARNs and KEK names.
    pub fn key_ids(&self) -> Vec<String> {
        self.keys
            .iter()
            .map(|k| match k {
                Resolved::Kms { arn, .. } => arn.clone(),
                Resolved::Kek(kek) => kek.key_id().to_owned(),
            })
            .collect()
    }

    /// The KMS keys (ARN and service), for the S3 Encryption Client's formats.
    pub(crate) fn kms_keys(&self) -> impl Iterator<Item = (&Arc<dyn Kms>, &str)> {
        self.keys.iter().filter_map(|k| match k {
            Resolved::Kms { kms, arn } => Some((kms, arn.as_str())),
            Resolved::Kek(_) => None,
        })
    }

    /// The discovery KMS, when opted in.
    pub(crate) fn discovery_kms(&self) -> Option<&Arc<dyn Kms>> {
        self.discovery.as_ref()
    }

    /// A fresh data key wrapped for every recipient: from the first KMS recipient's
    /// `GenerateDataKey` when there is one, else from the OS random source.
    pub(crate) async fn new_data_key(
        &self,
        ctx_hash: &[u8; 32],
    ) -> Result<(Dek, Vec<Vec<u8>>), ClientError> {
        if self.keys.is_empty() {
            return Err(ClientError::InvalidArgument(
                "no key to encrypt with: configure a KMS key or a KEK".into(),
            ));
        }
        let first_kms = self
            .keys
            .iter()
            .position(|k| matches!(k, Resolved::Kms { .. }));
        let (dek, generated) = match first_kms.map(|i| (i, &self.keys[i])) {
            Some((i, Resolved::Kms { kms, arn })) => {
                let (dek, blob) = envelope::new_data_key(kms.as_ref(), arn, ctx_hash).await?;
                (dek, Some((i, blob)))
            }
            _ => (Dek::generate()?, None),
        };
        let mut blobs = Vec::with_capacity(self.keys.len());
        for (i, key) in self.keys.iter().enumerate() {
            match (&generated, key) {
                (Some((at, blob)), _) if *at == i => blobs.push(blob.clone()),
                _ => blobs.push(wrap_for(key, &dek, ctx_hash).await?),
            }
        }
        Ok((dek, blobs))
    }

    /// Wraps an existing data key for every recipient (a rewrap).
    pub(crate) async fn wrap_existing(
        &self,
        dek: &Dek,
        ctx_hash: &[u8; 32],
    ) -> Result<Vec<Vec<u8>>, ClientError> {
        let mut blobs = Vec::with_capacity(self.keys.len());
        for key in &self.keys {
            blobs.push(wrap_for(key, dek, ctx_hash).await?);
        }
        Ok(blobs)
    }

    /// The data key of an object, by the rule of `docs/FORMAT.md` §9 step 3 with strict key
    /// selection: every blob is parsed first; then, in blob order, each blob for a configured key
    /// (or any KMS blob, with discovery) is unwrapped, and the first data key that verifies the header
    /// for `ctx_hash` wins. None: [`ClientError::NoMatchingKey`] when no blob was for a configured
    /// key, `HeaderAuth` when some unwrapped but none verified, else the first unwrap failure.
    pub(crate) async fn unwrap(
        &self,
        header: &Header,
        blobs: &[Vec<u8>],
        ctx_hash: &[u8; 32],
    ) -> Result<Unwrapped, ClientError> {
        // Structure first (one malformed blob refuses the object); a blob of an algorithm this
        // library does not know is skipped, as FORMAT.md §9 step 3 says.
        let mut parsed = Vec::with_capacity(blobs.len());
        for blob in blobs {
            match WrappedKey::parse(blob) {
                Ok(w) => parsed.push(w),
                Err(objseal_core::Error::UnknownWrapAlgorithm(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        let mut tried = false;
        let mut unwrapped_any = false;
        let mut first_failure: Option<ClientError> = None;
        for blob in &parsed {
            for attempt in self.candidates(blob) {
                tried = true;
                let dek = match attempt.unwrap(blob, ctx_hash).await {
                    Ok(dek) => dek,
                    Err(e) => {
                        first_failure.get_or_insert(e);
                        continue;
                    }
                };
                unwrapped_any = true;
                if let Ok(object) = ObjectKey::open_with_context(&dek, header, ctx_hash) {
                    return Ok(Unwrapped { dek, object });
                }
            }
        }
        Err(if unwrapped_any {
            ClientError::Format(objseal_core::Error::HeaderAuth)
        } else if let (true, Some(e)) = (tried, first_failure) {
            e
        } else {
            ClientError::NoMatchingKey {
                object_key_ids: parsed.iter().map(|b| b.key_id.to_owned()).collect(),
            }
        })
    }

    /// The keys that may unwrap `blob`, strictest first.
    fn candidates(&self, blob: &WrappedKey<'_>) -> Vec<Attempt> {
        let mut out = Vec::new();
        match blob.algorithm {
            WrapAlgorithm::LocalKek => {
                for key in &self.keys {
                    if let Resolved::Kek(kek) = key
                        && kek.key_id() == blob.key_id
                    {
                        out.push(Attempt::Kek(kek.clone()));
                    }
                }
            }
            WrapAlgorithm::Kms => {
                for key in &self.keys {
                    if let Resolved::Kms { kms, arn } = key
                        && arn == blob.key_id
                    {
                        out.push(Attempt::Kms(kms.clone(), Some(arn.clone())));
                    }
                }
                if out.is_empty()
                    && let Some(kms) = &self.discovery
                {
                    out.push(Attempt::Kms(kms.clone(), None));
                }
            }
            // SSE-C customer keys belong to the server; unknown algorithms to nobody here.
            _ => {}
        }
        out
    }
}

enum Attempt {
    Kek(Arc<LocalKek>),
    /// A KMS and the key the blob must be under (`None`: discovery, the blob's own).
    Kms(Arc<dyn Kms>, Option<String>),
}

impl Attempt {
    async fn unwrap(&self, blob: &WrappedKey<'_>, ctx_hash: &[u8; 32]) -> Result<Dek, ClientError> {
        match self {
            Self::Kek(kek) => Ok(kek.unwrap_key(blob, ctx_hash)?),
            Self::Kms(kms, None) => {
                Ok(envelope::unwrap_data_key(kms.as_ref(), blob, ctx_hash).await?)
            }
            Self::Kms(kms, Some(arn)) => {
                // The blob's key id is a hint; the configured key is what the KMS must use, so a
                // ciphertext under any other key is refused by the KMS itself (IncorrectKey).
                let pinned = WrappedKey {
                    key_id: arn,
                    ..*blob
                };
                Ok(envelope::unwrap_data_key(kms.as_ref(), &pinned, ctx_hash).await?)
            }
        }
    }
}

async fn wrap_for(key: &Resolved, dek: &Dek, ctx_hash: &[u8; 32]) -> Result<Vec<u8>, ClientError> {
    match key {
        Resolved::Kms { kms, arn } => {
            Ok(envelope::wrap_data_key(kms.as_ref(), arn, dek, ctx_hash).await?)
        }
        Resolved::Kek(kek) => {
            let mut salt = [0u8; 32];
            getrandom::fill(&mut salt).map_err(|_| objseal_core::Error::Rng)?;
            let mut out = vec![0u8; objseal_core::format::wrapped_key::MAX_WRAPPED_KEY_LEN];
            let n = kek.wrap_key(dek, ctx_hash, &salt, &mut out)?;
            out.truncate(n);
            Ok(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use objseal_core::Kek;

    use super::*;

    #[tokio::test]
    async fn customer_keys_and_too_many_recipients_are_refused() {
        let ssec = LocalKek::customer_key(Kek::from_bytes([1; 32]), "sse-c").unwrap();
        let err = Keyring::new().with_kek(ssec).resolve().await.unwrap_err();
        assert!(matches!(err, ClientError::InvalidArgument(_)), "{err:?}");
        let mut keys = Keyring::new();
        for n in 0..=MAX_RECIPIENTS {
            keys = keys.with_kek(LocalKek::new(Kek::from_bytes([n as u8; 32]), "k", 1).unwrap());
        }
        assert!(keys.resolve().await.is_err());
        let one = Keyring::new().with_kek(LocalKek::new(Kek::from_bytes([1; 32]), "k", 1).unwrap());
        assert_eq!(one.resolve().await.unwrap().key_ids(), ["k"]);
    }
}
