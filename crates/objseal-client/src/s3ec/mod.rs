//! The AWS S3 Encryption Client's object formats (V2, V3), read and written byte for byte as
//! `amazon-s3-encryption-client-python` 4.0 does, with its KMS keyring (`kms+context`).
//!
//! An S3EC object is one AES-256-GCM message (ciphertext ‖ 16-byte tag) whose parameters are S3
//! user metadata:
//!
//! | V3 (default, key-committing) | V2 (legacy) | |
//! |---|---|---|
//! | `x-amz-c: 115` | `x-amz-cek-alg: AES/GCM/NoPadding` | content algorithm |
//! | `x-amz-3` | `x-amz-key-v2` | KMS `CiphertextBlob`, base64 |
//! | `x-amz-w: 12` | `x-amz-wrap-alg: kms+context` | key wrapping |
//! | `x-amz-t` | `x-amz-matdesc` | KMS encryption context, JSON, with `aws:x-amz-cek-alg` |
//! | `x-amz-i`, `x-amz-d` | `x-amz-iv`, `x-amz-tag-len: 128` | message id and commitment / IV |
//!
//! Neither format records the KMS key: the blob names it, and S3EC passes the key it is configured
//! with as `KeyId` to `Decrypt`, as [`Envelope::unwrap_data_key`] lets the caller do.
//!
//! ```no_run
//! # async fn f(kms: &dyn objseal_kms::Kms, meta: &std::collections::HashMap<String, String>,
//! #            mut body: Vec<u8>) -> Result<(), objseal_client::s3ec::S3ecError> {
//! use objseal_client::s3ec::{CommitmentPolicy, Envelope};
//! let envelope = Envelope::from_metadata(meta)?.ok_or(objseal_client::s3ec::S3ecError::NotS3ec)?;
//! envelope.check_context(&[("bucket".to_string(), "photos".to_string())].into())?;
//! let key = envelope.unwrap_data_key(kms, Some("alias/photos")).await?;
//! envelope.decrypt_in_place(&key, &mut body, CommitmentPolicy::RequireCommitment)?;
//! # Ok(()) }
//! ```

mod context;
mod crypto;
mod encrypt;
mod error;
pub mod metadata;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use objseal_kms::Kms;
use zeroize::Zeroizing;

pub use encrypt::encrypt_v3;
pub use error::S3ecError;

/// The S3EC message format of an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    /// `ALG_AES_256_GCM_IV12_TAG16_NO_KDF`: AES-GCM under the data key, no key commitment.
    V2,
    /// `ALG_AES_256_GCM_HKDF_SHA512_COMMIT_KEY`: derived key, key commitment.
    V3,
}

/// Which objects may be decrypted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CommitmentPolicy {
    /// Only key-committing (V3) objects, as S3EC's `REQUIRE_ENCRYPT_REQUIRE_DECRYPT`.
    #[default]
    RequireCommitment,
    /// V2 objects too, as S3EC's `…_ALLOW_DECRYPT` policies.
    AllowLegacy,
}

/// The S3EC parameters of one object, parsed from its metadata. Holds nothing secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    version: Version,
    kms_blob: Vec<u8>,
    kms_context: BTreeMap<String, String>,
    content: Content,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Content {
    V2 {
        iv: [u8; 12],
    },
    V3 {
        message_id: [u8; 28],
        commitment: [u8; 28],
    },
}

impl Envelope {
    /// Parses an object's user metadata, names without the `x-amz-meta-` prefix (as
    /// `GetObjectOutput::metadata()` and boto3's `Metadata` give them; any case).
    ///
    /// `Ok(None)`: no S3EC field at all. Other metadata is ignored.
    ///
    /// # Errors
    /// [`S3ecError::MixedVersions`], [`S3ecError::MissingField`], [`S3ecError::Malformed`], the
    /// `Unsupported…` variants (V1 objects included), [`S3ecError::InstructionFile`].
    pub fn from_metadata<'a, I>(metadata: I) -> Result<Option<Self>, S3ecError>
    where
        I: IntoIterator<Item = (&'a String, &'a String)>,
    {
        metadata::parse(metadata)
    }

    /// The format version.
    pub fn version(&self) -> Version {
        self.version
    }

    /// Whether the format commits to its data key (V3).
    pub fn is_committing(&self) -> bool {
        self.version == Version::V3
    }

    /// The data key's KMS `CiphertextBlob`.
    pub fn kms_ciphertext_blob(&self) -> &[u8] {
        &self.kms_blob
    }

    /// The encryption context to send to KMS `Decrypt`: the stored one exactly (`x-amz-t` or
    /// `x-amz-matdesc`), which S3EC wrote with its `aws:x-amz-cek-alg` entry (`115` or
    /// `AES/GCM/NoPadding`); empty when the field is absent.
    pub fn kms_context(&self) -> &BTreeMap<String, String> {
        &self.kms_context
    }

    /// The context the writer gave: the stored one without S3EC's reserved keys
    /// (`aws:x-amz-cek-alg`, `kms_cmk_id`).
    pub fn user_context(&self) -> BTreeMap<String, String> {
        context::user_part(&self.kms_context)
    }

    /// Checks the caller's expected context against the stored one, as S3EC does: equal once S3EC's
    /// reserved keys are set aside (an object written without a context expects an empty one).
    ///
    /// # Errors
    /// [`S3ecError::ReservedContextKey`] if `expected` uses `aws:x-amz-cek-alg`;
    /// [`S3ecError::ContextMismatch`].
    pub fn check_context(&self, expected: &BTreeMap<String, String>) -> Result<(), S3ecError> {
        if expected.contains_key(metadata::RESERVED_CEK_ALG) {
            return Err(S3ecError::ReservedContextKey);
        }
        if context::matches(&self.kms_context, expected) {
            Ok(())
        } else {
            Err(S3ecError::ContextMismatch)
        }
    }

    /// Asks `kms` to unwrap the data key (`Decrypt` with [`Self::kms_context`]); `key_id` is the key
    /// the caller is configured with (the blob must be under it), or `None` to accept the key the
    /// blob names.
    ///
    /// # Errors
    /// [`S3ecError::Kms`]; [`S3ecError::DataKeyLength`] if the key is not 32 bytes.
    pub async fn unwrap_data_key(
        &self,
        kms: &dyn Kms,
        key_id: Option<&str>,
    ) -> Result<Zeroizing<[u8; 32]>, S3ecError> {
        let plain = kms
            .decrypt(&self.kms_blob, &self.kms_context, key_id)
            .await?;
        let bytes = plain.plaintext.as_bytes();
        let mut key = Zeroizing::new([0u8; 32]);
        if bytes.len() != key.len() {
            return Err(S3ecError::DataKeyLength(bytes.len()));
        }
        key.copy_from_slice(bytes);
        Ok(key)
    }

    /// Decrypts `body` (the object: ciphertext ‖ 16-byte tag) in place. On success it holds the
    /// plaintext; on any failure it is zeroed and emptied, so nothing unauthenticated is released.
    /// The policy is checked first, then (V3) the key commitment in constant time, then the tag.
    ///
    /// # Errors
    /// [`S3ecError::LegacyRefused`], [`S3ecError::CommitmentMismatch`], [`S3ecError::TagMismatch`],
    /// [`S3ecError::Malformed`] (`body` shorter than a tag), [`S3ecError::TooLarge`].
    pub fn decrypt_in_place(
        &self,
        data_key: &[u8; 32],
        body: &mut Vec<u8>,
        policy: CommitmentPolicy,
    ) -> Result<(), S3ecError> {
        let result = self
            .check_policy(policy)
            .and_then(|()| match &self.content {
                Content::V2 { iv } => crypto::open_v2(data_key, iv, body),
                Content::V3 {
                    message_id,
                    commitment,
                } => crypto::open_v3(data_key, message_id, commitment, body),
            });
        if result.is_err() {
            crypto::wipe(body);
        }
        result
    }

    /// Whether `policy` allows this object.
    ///
    /// # Errors
    /// [`S3ecError::LegacyRefused`] for a V2 object under [`CommitmentPolicy::RequireCommitment`].
    pub fn check_policy(&self, policy: CommitmentPolicy) -> Result<(), S3ecError> {
        match (self.version, policy) {
            (Version::V2, CommitmentPolicy::RequireCommitment) => Err(S3ecError::LegacyRefused),
            _ => Ok(()),
        }
    }
}

/// Reads an S3EC object in one go: parses `metadata`, checks `policy` and `expected_context`,
/// unwraps the data key with `kms` (under `key_id`, if given) and decrypts `body` in place. On any
/// failure `body` is zeroed and emptied.
///
/// # Errors
/// [`S3ecError::NotS3ec`] when `metadata` has no S3EC field, else as [`Envelope::from_metadata`],
/// [`Envelope::check_policy`], [`Envelope::check_context`], [`Envelope::unwrap_data_key`] and
/// [`Envelope::decrypt_in_place`].
pub async fn decrypt_object<'a, I>(
    kms: &dyn Kms,
    key_id: Option<&str>,
    metadata: I,
    expected_context: &BTreeMap<String, String>,
    body: &mut Vec<u8>,
    policy: CommitmentPolicy,
) -> Result<Version, S3ecError>
where
    I: IntoIterator<Item = (&'a String, &'a String)>,
{
    let result = async {
        let envelope = Envelope::from_metadata(metadata)?.ok_or(S3ecError::NotS3ec)?;
        envelope.check_policy(policy)?;
        envelope.check_context(expected_context)?;
        let key = envelope.unwrap_data_key(kms, key_id).await?;
        envelope.decrypt_in_place(&key, body, policy)?;
        Ok(envelope.version)
    }
    .await;
    if result.is_err() {
        crypto::wipe(body);
    }
    result
}
