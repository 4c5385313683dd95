//! Data keys of OSE1 objects from a [`Kms`]: the KMS wrap, wrapped-key algorithm 2 of
//! `docs/FORMAT.md` §7.
//!
//! [`new_data_key`] asks the KMS for a fresh 32-byte data key under a master key and returns it with
//! its wrapped-key blob for the object's container or metadata; [`unwrap_data_key`] gives the data key
//! back from such a blob. The blob's ciphertext is the KMS's own ciphertext blob, opaque to objseal;
//! the KMS encryption context binds it to the object's context hash and to the blob's random
//! `wrap_salt`:
//!
//! ```text
//! { "objseal:ctx": hex(ctx_hash), "objseal:wrap-salt": hex(wrap_salt) }
//! ```
//!
//! so a blob unwraps only for the context it was made for, and the KMS's audit trail names the object
//! context of every unwrap. The blob's key id (the key ARN the KMS reported) and key version are
//! hints: the KMS's ciphertext names its key itself, a changed key id makes the KMS refuse
//! (`IncorrectKeyException` or `NotFoundException`), and a data key is trusted only once the object's
//! header tag has verified under it.

use objseal_core::Dek;
use objseal_core::format::wrapped_key::{WrapAlgorithm, WrappedKey};

use crate::keystore::ids::hex_encode;
use crate::{DataKeySpec, EncryptionContext, Kms, KmsError};

/// Encryption-context key holding the hex object context hash.
pub const CONTEXT_KEY_CTX: &str = "objseal:ctx";
/// Encryption-context key holding the hex wrap salt of the blob.
pub const CONTEXT_KEY_WRAP_SALT: &str = "objseal:wrap-salt";

/// The KMS encryption context of a KMS-wrapped data key.
///
/// ```
/// let ctx = objseal_kms::envelope::kms_context(&[0xab; 32], &[1; 32]);
/// assert_eq!(ctx["objseal:ctx"], "ab".repeat(32));
/// assert_eq!(ctx["objseal:wrap-salt"], "01".repeat(32));
/// ```
pub fn kms_context(ctx_hash: &[u8; 32], wrap_salt: &[u8; 32]) -> EncryptionContext {
    EncryptionContext::from([
        (CONTEXT_KEY_CTX.to_owned(), hex_encode(ctx_hash)),
        (CONTEXT_KEY_WRAP_SALT.to_owned(), hex_encode(wrap_salt)),
    ])
}

/// A fresh data key from `kms` under the master key `key_id`, and its wrapped-key blob (algorithm 2)
/// for an object whose context hash is `ctx_hash`.
///
/// # Errors
/// The KMS's refusals as they are (`NotFoundException`, `DisabledException`, …);
/// [`KmsError::Internal`] when the KMS answers with a data key that is not 32 bytes or a key ARN or
/// ciphertext too long for the blob format.
///
/// ```
/// # objseal_kms::keystore::block_on(async {
/// use objseal_kms::{CreateKeyRequest, Kms, LocalKms, LocalKmsConfig, RootKey, envelope};
/// use objseal_core::format::wrapped_key::WrappedKey;
/// let dir = tempfile::tempdir().unwrap();
/// let kms = LocalKms::open(LocalKmsConfig::new(dir.path().join("keys"), RootKey::from_bytes([1; 32]))).unwrap();
/// let key = kms.create_key(CreateKeyRequest::default()).await.unwrap();
/// let ctx_hash = [7u8; 32];
/// let (dek, blob) = envelope::new_data_key(&kms, &key.arn, &ctx_hash).await.unwrap();
/// let parsed = WrappedKey::parse(&blob).unwrap();
/// let again = envelope::unwrap_data_key(&kms, &parsed, &ctx_hash).await.unwrap();
/// assert_eq!(dek, again);
/// assert!(envelope::unwrap_data_key(&kms, &parsed, &[8u8; 32]).await.is_err());
/// # });
/// ```
pub async fn new_data_key(
    kms: &dyn Kms,
    key_id: &str,
    ctx_hash: &[u8; 32],
) -> Result<(Dek, Vec<u8>), KmsError> {
    let mut wrap_salt = [0u8; 32];
    getrandom::fill(&mut wrap_salt)
        .map_err(|_| KmsError::Internal("the system random source failed".into()))?;
    let context = kms_context(ctx_hash, &wrap_salt);
    let data_key = kms
        .generate_data_key(key_id, &context, DataKeySpec::Aes256)
        .await?;
    let dek = Dek::try_from_slice(data_key.plaintext.as_bytes()).map_err(|_| {
        KmsError::Internal("the KMS returned a data key that is not 32 bytes".into())
    })?;
    Ok((dek, encode_blob(&data_key.wrapped, wrap_salt)?))
}

/// Wraps an existing data key under one more KMS master key (the KMS's `Encrypt`): another
/// recipient of an object whose data key came from elsewhere, or a rewrap under a new key. The blob
/// is bound to `ctx_hash` exactly as [`new_data_key`]'s, with a fresh `wrap_salt`.
///
/// # Errors
/// As [`new_data_key`].
///
/// ```
/// # objseal_kms::keystore::block_on(async {
/// use objseal_kms::{CreateKeyRequest, Kms, LocalKms, LocalKmsConfig, RootKey, envelope};
/// use objseal_core::{Dek, format::wrapped_key::WrappedKey};
/// let dir = tempfile::tempdir().unwrap();
/// let kms = LocalKms::open(LocalKmsConfig::new(dir.path().join("keys"), RootKey::from_bytes([1; 32]))).unwrap();
/// let key = kms.create_key(CreateKeyRequest::default()).await.unwrap();
/// let dek = Dek::from_bytes([9; 32]);
/// let blob = envelope::wrap_data_key(&kms, &key.arn, &dek, &[7; 32]).await.unwrap();
/// let parsed = WrappedKey::parse(&blob).unwrap();
/// assert_eq!(envelope::unwrap_data_key(&kms, &parsed, &[7; 32]).await.unwrap(), dek);
/// # });
/// ```
pub async fn wrap_data_key(
    kms: &dyn Kms,
    key_id: &str,
    dek: &Dek,
    ctx_hash: &[u8; 32],
) -> Result<Vec<u8>, KmsError> {
    let mut wrap_salt = [0u8; 32];
    getrandom::fill(&mut wrap_salt)
        .map_err(|_| KmsError::Internal("the system random source failed".into()))?;
    let context = kms_context(ctx_hash, &wrap_salt);
    let wrapped = kms.encrypt(key_id, dek.expose_secret(), &context).await?;
    encode_blob(&wrapped, wrap_salt)
}

/// The algorithm-2 blob of a KMS ciphertext.
fn encode_blob(wrapped: &crate::Ciphertext, wrap_salt: [u8; 32]) -> Result<Vec<u8>, KmsError> {
    let blob = WrappedKey {
        algorithm: WrapAlgorithm::Kms,
        key_id: &wrapped.key_arn,
        key_version: wrapped.key_version,
        wrap_salt,
        ciphertext: &wrapped.ciphertext_blob,
    };
    let mut out = vec![0u8; blob.encoded_len()];
    blob.encode(&mut out).map_err(|e| {
        KmsError::Internal(format!(
            "the KMS's key ARN or ciphertext does not fit a wrapped-key blob: {e}"
        ))
    })?;
    Ok(out)
}

/// The data key of a KMS-wrapped blob (algorithm 2) of an object whose context hash is `ctx_hash`.
///
/// # Errors
/// [`KmsError::Validation`] for a blob of another algorithm; the KMS's refusals as they are —
/// `InvalidCiphertextException` for another context or a tampered blob, `IncorrectKeyException` when
/// the blob's key id is not the key of its ciphertext, `DisabledException`, `AccessDeniedException`, …;
/// [`KmsError::InvalidCiphertext`] when what the KMS decrypts is not 32 bytes.
pub async fn unwrap_data_key(
    kms: &dyn Kms,
    blob: &WrappedKey<'_>,
    ctx_hash: &[u8; 32],
) -> Result<Dek, KmsError> {
    if blob.algorithm != WrapAlgorithm::Kms {
        return Err(KmsError::Validation(
            "the wrapped key is not KMS-wrapped (algorithm 2)".into(),
        ));
    }
    let context = kms_context(ctx_hash, &blob.wrap_salt);
    let key_id = (!blob.key_id.is_empty()).then_some(blob.key_id);
    let plaintext = kms.decrypt(blob.ciphertext, &context, key_id).await?;
    Dek::try_from_slice(plaintext.plaintext.as_bytes())
        .map_err(|_| KmsError::InvalidCiphertext("the KMS-wrapped data key is not 32 bytes".into()))
}
