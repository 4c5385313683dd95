//! The server's keys: the root key, the SSE-S3 key-encryption key derived from it, and the KMS
//! (the embedded keystore sealed by the root key, or a remote service) with its default key.

use std::path::Path;
use std::sync::Arc;

use hkdf::Hkdf;
use objseal_core::Kek;
use objseal_core::wrap::LocalKek;
use objseal_kms::audit::AuditLog;
use objseal_kms::remote::RemoteKms;
use objseal_kms::{CreateKeyRequest, Kms, KmsError, LocalKms, LocalKmsConfig, RootKey};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::ServerConfig;
use super::ServerError;
use super::fsutil::{read_secret_file, write_new_secret_file};

/// The file name of the root key inside the data directory.
pub const ROOT_KEY_FILE: &str = "root.key";
/// The embedded keystore, relative to the data directory.
pub const KEYSTORE_PATH: &str = "kms/keys.store";
/// The HKDF-SHA-256 `info` that derives the SSE-S3 key-encryption key from the root key.
pub const SSE_S3_KEK_LABEL: &[u8] = b"objseal/server/sse-s3-kek/v1";
/// The HKDF info that derives the key authenticating multipart upload ids from the root key.
pub const UPLOAD_ID_KEY_LABEL: &[u8] = b"objseal/server/upload-id/v1";
/// The HKDF info that derives the key authenticating a gateway's state in its backend (sidecars,
/// bucket configuration, trailers: FORMAT.md §17.5) from the root key.
pub const GATEWAY_STATE_KEY_LABEL: &[u8] = b"objseal/gateway/state/v1";
/// The key id the SSE-S3 key-encryption key is recorded under in wrapped keys.
pub const SSE_S3_KEK_ID: &str = "objseal-sse-s3";
/// The principal the server's own KMS calls are recorded under in the keystore's audit log.
pub const KMS_PRINCIPAL: &str = "objseal-server";

/// Where the root key came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RootKeySource {
    /// [`ServerConfig::root_key`](super::ServerConfig::root_key).
    Configured,
    /// Read from `<data>/root.key`.
    Stored,
    /// Made by this start and written to `<data>/root.key`.
    Generated,
}

/// The configured root key (checked against `<data>/root.key` if that exists), else the file's,
/// else a new key written there (mode 0600).
pub(crate) fn root_key(
    data_dir: &Path,
    configured: Option<&RootKey>,
) -> Result<(RootKey, RootKeySource), ServerError> {
    let path = data_dir.join(ROOT_KEY_FILE);
    let parse = |text: &str| {
        RootKey::parse(text).map_err(|e| ServerError::BadSecretFile {
            path: path.clone(),
            reason: e.message().to_owned(),
        })
    };
    let stored = read_secret_file(&path)?.map(|t| parse(&t)).transpose()?;
    match (configured, stored) {
        (Some(given), Some(file)) => {
            if bool::from(given.expose_secret().ct_eq(file.expose_secret())) {
                Ok((file, RootKeySource::Configured))
            } else {
                Err(ServerError::RootKeyMismatch(path))
            }
        }
        (Some(given), None) => Ok((given.clone(), RootKeySource::Configured)),
        (None, Some(file)) => Ok((file, RootKeySource::Stored)),
        (None, None) => {
            let key =
                RootKey::generate().map_err(|e| ServerError::kms("drawing a new root key", e))?;
            if write_new_secret_file(&path, key.to_key_file().as_bytes())? {
                return Ok((key, RootKeySource::Generated));
            }
            // Another process made the file first: use its key.
            let text = read_secret_file(&path)?.unwrap_or_default();
            Ok((parse(&text)?, RootKeySource::Stored))
        }
    }
}

/// The SSE-S3 key-encryption key: HKDF-SHA-256 of the root key with [`SSE_S3_KEK_LABEL`].
pub(crate) fn sse_s3_kek(root: &RootKey) -> Result<LocalKek, ServerError> {
    let hkdf = Hkdf::<Sha256>::new(None, root.expose_secret());
    let mut okm = Zeroizing::new([0u8; 32]);
    hkdf.expand(SSE_S3_KEK_LABEL, &mut okm[..])
        .unwrap_or_else(|_| unreachable!("32 bytes are a valid HKDF-SHA-256 output length"));
    LocalKek::new(Kek::from_bytes(*okm), SSE_S3_KEK_ID, 1)
        .map_err(|e| ServerError::Config(format!("the SSE-S3 key-encryption key: {e}")))
}

/// The key that authenticates multipart upload ids: HKDF-SHA-256 of the root key with
/// [`UPLOAD_ID_KEY_LABEL`].
pub(crate) fn upload_id_key(root: &RootKey) -> Zeroizing<[u8; 32]> {
    let hkdf = Hkdf::<Sha256>::new(None, root.expose_secret());
    let mut okm = Zeroizing::new([0u8; 32]);
    hkdf.expand(UPLOAD_ID_KEY_LABEL, &mut okm[..])
        .unwrap_or_else(|_| unreachable!("32 bytes are a valid HKDF-SHA-256 output length"));
    okm
}

/// The key that authenticates a gateway's state in its backend
/// ([`RemoteStore::with_state_key`](crate::store::RemoteStore::with_state_key)): HKDF-SHA-256 of
/// the root key with [`GATEWAY_STATE_KEY_LABEL`]. Gateways sharing a backend share it through
/// their root key.
pub fn gateway_state_key(root: &RootKey) -> Zeroizing<[u8; 32]> {
    let hkdf = Hkdf::<Sha256>::new(None, root.expose_secret());
    let mut okm = Zeroizing::new([0u8; 32]);
    hkdf.expand(GATEWAY_STATE_KEY_LABEL, &mut okm[..])
        .unwrap_or_else(|_| unreachable!("32 bytes are a valid HKDF-SHA-256 output length"));
    okm
}

/// Which KMS serves SSE-KMS, for logs and the operator's printout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KmsKind {
    /// The embedded keystore at this path.
    Embedded(std::path::PathBuf),
    /// A remote AWS-KMS-compatible service at this endpoint (`None`: the environment's or AWS's).
    Remote(Option<String>),
}

/// Opens the configured KMS.
pub(crate) async fn open_kms(
    config: &ServerConfig,
    root: &RootKey,
) -> Result<(Arc<dyn Kms>, KmsKind), ServerError> {
    if let Some(remote) = &config.remote_kms {
        let kms = RemoteKms::connect(remote.clone())
            .await
            .map_err(|e| ServerError::kms("connecting to the remote KMS", e))?;
        return Ok((Arc::new(kms), KmsKind::Remote(remote.endpoint_url.clone())));
    }
    let store = config.data_dir.join(KEYSTORE_PATH);
    if let Some(dir) = store.parent() {
        super::fsutil::create_private_dir(dir)?;
    }
    let mut audit_name = store.file_name().unwrap_or_default().to_os_string();
    audit_name.push(".audit.jsonl");
    let audit_path = store.with_file_name(audit_name);
    let audit = AuditLog::open(&audit_path).map_err(|e| {
        ServerError::io(format!("opening the audit log {}", audit_path.display()), e)
    })?;
    let mut kms_config = LocalKmsConfig::new(&store, root.clone());
    kms_config.audit = Some(Arc::new(audit));
    let kms = LocalKms::open(kms_config)
        .map_err(|e| ServerError::kms(format!("opening the keystore {}", store.display()), e))?
        .with_principal(KMS_PRINCIPAL);
    Ok((Arc::new(kms), KmsKind::Embedded(store)))
}

/// The policy the server gives the default SSE-KMS key it creates, in the shape of Amazon S3's
/// managed `aws/s3` key: every principal of the account may use it, but only through the S3 server
/// (`kms:ViaService`), and may read its metadata and policy; nobody may use it directly. The
/// keystore's operator (or a principal the KMS operator grants it) administers it.
///
/// ```
/// let p = objseal_server::server::default_key_policy("000000000000", "us-east-1");
/// assert!(p.contains("s3.us-east-1.amazonaws.com"));
/// ```
pub fn default_key_policy(account_id: &str, region: &str) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Id": "objseal-default-s3-key",
        "Statement": [
            {
                "Sid": "Allow use through the objseal S3 server for all principals in the account",
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"],
                "Resource": "*",
                "Condition": {"StringEquals": {
                    "kms:CallerAccount": account_id,
                    "kms:ViaService": format!("s3.{region}.amazonaws.com"),
                }},
            },
            {
                "Sid": "Allow the account to read the key's metadata",
                "Effect": "Allow",
                "Principal": {"AWS": format!("arn:aws:iam::{account_id}:root")},
                "Action": ["kms:Describe*", "kms:Get*", "kms:List*"],
                "Resource": "*",
            },
        ],
    })
    .to_string()
}

/// Makes sure `key` (the default SSE-KMS key) exists: an alias that names no key gets a new key,
/// with [`default_key_policy`] once it is named. Returns the key's ARN.
pub(crate) async fn ensure_default_key(
    kms: &dyn Kms,
    key: &str,
    region: &str,
) -> Result<String, ServerError> {
    match kms.describe_key(key).await {
        Ok(m) => {
            // A key made before key policies existed is open to every principal of the account,
            // directly too: say so, once, rather than re-policy the operator's key behind their back.
            if let Ok(policy) = kms.get_key_policy(&m.arn).await
                && policy == objseal_kms::keystore::account_policy(&m.account_id)
            {
                tracing::warn!(
                    key = %m.arn,
                    "the default KMS key has the account-wide policy (every principal may use and \
                     administer it, not only through S3): give it a policy, e.g. `objseal kms \
                     put-key-policy` with the one new default keys get"
                );
            }
            return Ok(m.arn);
        }
        Err(KmsError::NotFound(_)) if key.starts_with("alias/") => {}
        Err(e) => {
            return Err(ServerError::kms(
                format!("looking up the default KMS key {key}"),
                e,
            ));
        }
    }
    let created = kms
        .create_key(CreateKeyRequest {
            description: format!("objseal server: default SSE-KMS key ({key})"),
            ..CreateKeyRequest::default()
        })
        .await
        .map_err(|e| ServerError::kms(format!("creating the default KMS key {key}"), e))?;
    match kms.create_alias(key, &created.key_id).await {
        Ok(()) => {
            // The creator's default policy let this server name the key; now the managed-key
            // policy, which leaves its author out on purpose (hence the bypass).
            kms.put_key_policy(
                &created.key_id,
                &default_key_policy(&created.account_id, region),
                true,
            )
            .await
            .map_err(|e| ServerError::kms(format!("setting the policy of {key}"), e))?;
            tracing::info!(key_id = %created.key_id, alias = key, "created the default KMS key");
            Ok(created.arn)
        }
        // Another server made it at the same moment: use theirs, retire ours.
        Err(KmsError::AlreadyExists(_)) => {
            let _ = kms.schedule_key_deletion(&created.key_id, Some(7)).await;
            kms.describe_key(key)
                .await
                .map(|m| m.arn)
                .map_err(|e| ServerError::kms(format!("looking up the default KMS key {key}"), e))
        }
        Err(e) => Err(ServerError::kms(
            format!("naming the default KMS key {key}"),
            e,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_root_key_is_made_once_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let (made, source) = root_key(dir.path(), None).unwrap();
        assert_eq!(source, RootKeySource::Generated);
        let (read, source) = root_key(dir.path(), None).unwrap();
        assert_eq!(source, RootKeySource::Stored);
        assert_eq!(made.expose_secret(), read.expose_secret());
        let (_, source) = root_key(dir.path(), Some(&made)).unwrap();
        assert_eq!(source, RootKeySource::Configured);
        let other = RootKey::from_bytes([7; 32]);
        assert!(matches!(
            root_key(dir.path(), Some(&other)),
            Err(ServerError::RootKeyMismatch(_))
        ));
        // The file is the keystore's key-file format.
        let text = std::fs::read_to_string(dir.path().join(ROOT_KEY_FILE)).unwrap();
        assert_eq!(
            RootKey::parse(&text).unwrap().expose_secret(),
            made.expose_secret()
        );
    }

    #[test]
    fn the_sse_s3_kek_is_derived_not_the_root_key() {
        use objseal_core::Dek;
        use objseal_core::format::wrapped_key::WrappedKey;
        use objseal_core::wrap::{KeyUnwrap, KeyWrap};
        let root = RootKey::from_bytes([1; 32]);
        let a = sse_s3_kek(&root).unwrap();
        assert_eq!(a.key_id(), SSE_S3_KEK_ID);
        let dek = Dek::from_bytes([5; 32]);
        let mut buf = [0u8; 256];
        let n = a.wrap_key(&dek, &[0; 32], &[3; 32], &mut buf).unwrap();
        let blob = WrappedKey::parse(&buf[..n]).unwrap();
        // The same root key derives the same KEK; the root key itself is not it.
        let b = sse_s3_kek(&root).unwrap();
        assert!(b.unwrap_key(&blob, &[0; 32]).unwrap() == dek);
        let raw = LocalKek::new(Kek::from_bytes([1; 32]), SSE_S3_KEK_ID, 1).unwrap();
        assert!(raw.unwrap_key(&blob, &[0; 32]).is_err());
    }
}
