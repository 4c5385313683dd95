//! The error type of the S3 Encryption Client formats.

use core::fmt;

use objseal_kms::KmsError;

/// Why an AWS S3 Encryption Client object could not be read or written.
///
/// Messages name metadata fields and quote short, non-secret metadata values (an algorithm name);
/// they never hold key material, plaintext or ciphertext.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum S3ecError {
    /// The object carries no S3 Encryption Client metadata at all (it is not an S3EC object, or
    /// its metadata lives only in an instruction file, which is not read).
    NotS3ec,
    /// The metadata mixes keys of two format versions (V1/V2 and V3), which no client writes.
    MixedVersions,
    /// A field the format requires is absent (its metadata name, e.g. `x-amz-d`).
    MissingField(&'static str),
    /// A field is present but malformed.
    Malformed {
        /// The metadata name (`x-amz-i`), or `body` for the object's body.
        field: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The content encryption algorithm (`x-amz-c` / `x-amz-cek-alg`) is not one this module
    /// decrypts (AES-GCM: `115` for V3, `AES/GCM/NoPadding` for V2).
    UnsupportedContentAlgorithm(String),
    /// The key wrapping algorithm (`x-amz-w` / `x-amz-wrap-alg`) is not KMS with context
    /// (`12` / `kms+context`).
    UnsupportedWrapAlgorithm(String),
    /// `x-amz-tag-len` is not `128`.
    UnsupportedTagLength(String),
    /// A V2 object (not key-committing) under [`super::CommitmentPolicy::RequireCommitment`].
    LegacyRefused,
    /// The data key does not match the object's key commitment (`x-amz-d`): wrong key, or
    /// tampered metadata.
    CommitmentMismatch,
    /// The AES-GCM tag did not verify: the body or the metadata was changed, or the key is wrong.
    TagMismatch,
    /// The object is larger than what is decrypted (or encrypted) in memory.
    TooLarge {
        /// The object's size in bytes.
        len: u64,
        /// The largest size accepted.
        limit: u64,
    },
    /// The caller's encryption context differs from the one the object declares.
    ContextMismatch,
    /// The caller's encryption context uses a key that S3EC reserves (`aws:x-amz-cek-alg`).
    ReservedContextKey,
    /// The caller's encryption context cannot be stored as S3 metadata (non-ASCII text).
    InvalidContext(&'static str),
    /// The object's metadata is kept in an instruction file (`<key>.instruction`), which is not
    /// supported.
    InstructionFile,
    /// The KMS returned a data key of this many bytes, not 32.
    DataKeyLength(usize),
    /// The operating system's random generator failed.
    Random,
    /// A KMS call failed.
    Kms(KmsError),
}

impl fmt::Display for S3ecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotS3ec => f.write_str("the object carries no S3 Encryption Client metadata"),
            Self::MixedVersions => f.write_str(
                "the S3 Encryption Client metadata mixes V1/V2 and V3 fields (tampered metadata)",
            ),
            Self::MissingField(name) => {
                write!(f, "the S3 Encryption Client metadata lacks `{name}`")
            }
            Self::Malformed { field, reason } => {
                write!(f, "malformed S3 Encryption Client field `{field}`: {reason}")
            }
            Self::UnsupportedContentAlgorithm(v) => {
                write!(f, "unsupported content encryption algorithm {v:?}")
            }
            Self::UnsupportedWrapAlgorithm(v) => {
                write!(f, "unsupported key wrapping algorithm {v:?} (only KMS with context)")
            }
            Self::UnsupportedTagLength(v) => {
                write!(f, "unsupported GCM tag length {v:?} (only 128 bits)")
            }
            Self::LegacyRefused => f.write_str(
                "refusing a V2 (non-key-committing) S3 Encryption Client object: the commitment \
                 policy requires key commitment",
            ),
            Self::CommitmentMismatch => f.write_str(
                "the data key does not match the object's key commitment (wrong key or tampered metadata)",
            ),
            Self::TagMismatch => f.write_str(
                "authentication failed: the object or its metadata was altered, or the key is wrong",
            ),
            Self::TooLarge { len, limit } => write!(
                f,
                "the S3 Encryption Client object is {len} bytes, more than the {limit}-byte limit"
            ),
            Self::ContextMismatch => f.write_str(
                "the expected encryption context differs from the one the object was encrypted with",
            ),
            Self::ReservedContextKey => f.write_str(
                "the encryption context uses the reserved key `aws:x-amz-cek-alg`",
            ),
            Self::InvalidContext(why) => write!(f, "invalid encryption context: {why}"),
            Self::InstructionFile => f.write_str(
                "the object's S3 Encryption Client metadata is in an instruction file, which is not supported",
            ),
            Self::DataKeyLength(n) => {
                write!(f, "the KMS returned a {n}-byte data key, expected 32")
            }
            Self::Random => f.write_str("the operating system's random generator failed"),
            Self::Kms(e) => write!(f, "KMS: {e}"),
        }
    }
}

impl std::error::Error for S3ecError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Kms(e) => Some(e),
            _ => None,
        }
    }
}

impl From<KmsError> for S3ecError {
    fn from(e: KmsError) -> Self {
        Self::Kms(e)
    }
}

/// A metadata value for an error message: at most 40 characters.
pub(crate) fn quoted(value: &str) -> String {
    match value.char_indices().nth(40) {
        Some((end, _)) => format!("{}…", &value[..end]),
        None => value.to_owned(),
    }
}
