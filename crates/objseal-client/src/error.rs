//! The one error type of `objseal-client`.

use objseal_kms::KmsError;

use crate::s3ec::S3ecError;

/// Everything a client operation can fail with. No variant carries key material or plaintext.
///
/// ```
/// use objseal_client::ClientError;
/// let e = ClientError::Format(objseal_core::Error::HeaderAuth);
/// assert!(e.to_string().contains("header authentication failed"));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum ClientError {
    /// The object failed a check of the OSE1 format (`docs/FORMAT.md` §9): a wrong key or context,
    /// tampered, truncated or extended data, a malformed header, blob or manifest.
    Format(objseal_core::Error),
    /// Strict key selection: no wrapped key of the object is for a KMS key or KEK this client was
    /// configured with (the key ids the object names are listed; they are not secret).
    NoMatchingKey {
        /// The key ids of the object's wrapped keys.
        object_key_ids: Vec<String>,
    },
    /// The KMS refused or failed (`AccessDeniedException`, `DisabledException`, …).
    Kms(KmsError),
    /// An object of the AWS S3 Encryption Client that could not be read or written.
    S3ec(S3ecError),
    /// The object (or the bucket) does not exist.
    NotFound {
        /// The bucket.
        bucket: String,
        /// The key.
        key: String,
    },
    /// An AWS S3 Encryption Client object, read without
    /// [`GetOptions::accept_s3ec`](crate::GetOptions::accept_s3ec).
    S3ecNotAccepted {
        /// The key.
        key: String,
    },
    /// The object carries neither objseal nor S3 Encryption Client metadata.
    NotEncrypted {
        /// The key.
        key: String,
    },
    /// Part of the object (its instruction object, or a range of its body) is missing or changed
    /// while it was read: the store's answers do not belong to one version of the object.
    Inconsistent(String),
    /// The S3 endpoint refused or failed a request.
    S3 {
        /// The S3 operation (`PutObject`, `UploadPart`, …).
        operation: &'static str,
        /// The S3 error code, when the endpoint sent one.
        code: Option<String>,
        /// What went wrong.
        message: String,
    },
    /// A caller error: an option out of range, a reserved context or metadata key, …
    InvalidArgument(String),
    /// Reading the caller's source or writing to the caller's sink failed.
    Io(std::io::Error),
}

impl core::fmt::Display for ClientError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Format(e) => write!(f, "refused: {e}"),
            Self::NoMatchingKey { object_key_ids } => write!(
                f,
                "no wrapped key of the object is for a key this client is configured with \
                 (the object names: {}); configure one of those keys, or opt in to discovery",
                if object_key_ids.is_empty() {
                    "none".to_owned()
                } else {
                    // Escaped: the ids come from the store.
                    format!("{object_key_ids:?}")
                }
            ),
            Self::Kms(e) => write!(f, "KMS: {e}"),
            Self::S3ec(e) => write!(f, "S3 Encryption Client object: {e}"),
            Self::NotFound { bucket, key } => write!(f, "s3://{bucket}/{key} does not exist"),
            Self::S3ecNotAccepted { key } => write!(
                f,
                "{key} is an AWS S3 Encryption Client object, which binds no object location; \
                 accept such objects explicitly to read it"
            ),
            Self::NotEncrypted { key } => write!(
                f,
                "{key} is not client-side encrypted (no objseal or S3 Encryption Client metadata)"
            ),
            Self::Inconsistent(what) => write!(f, "refused: {what}"),
            Self::S3 {
                operation,
                code,
                message,
            } => match code {
                Some(code) => write!(f, "S3 {operation}: {code}: {message}"),
                None => write!(f, "S3 {operation}: {message}"),
            },
            Self::InvalidArgument(what) => write!(f, "invalid argument: {what}"),
            Self::Io(e) => write!(f, "I/O: {e}"),
        }
    }
}

/// `Display` already says what the inner error says, so `source()` adds nothing (printing the chain
/// would repeat it); match on the variants for the typed inner errors.
impl std::error::Error for ClientError {}

impl From<objseal_core::Error> for ClientError {
    fn from(e: objseal_core::Error) -> Self {
        Self::Format(e)
    }
}

impl From<KmsError> for ClientError {
    fn from(e: KmsError) -> Self {
        Self::Kms(e)
    }
}

impl From<S3ecError> for ClientError {
    fn from(e: S3ecError) -> Self {
        Self::S3ec(e)
    }
}

impl From<std::io::Error> for ClientError {
    fn from(e: std::io::Error) -> Self {
        Self::Io(e)
    }
}

/// An SDK error of an S3 operation.
pub(crate) type SdkError<E> =
    aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>;

/// Maps an SDK error to [`ClientError::S3`], or [`ClientError::NotFound`] for a 404.
pub(crate) fn s3_error<E>(
    operation: &'static str,
    bucket: &str,
    key: &str,
    err: SdkError<E>,
) -> ClientError
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    use aws_sdk_s3::error::ProvideErrorMetadata;
    let status = err.raw_response().map(|r| r.status().as_u16());
    let code = err.code().map(str::to_owned);
    if code.as_deref() != Some("NoSuchBucket")
        && (status == Some(404) || matches!(code.as_deref(), Some("NoSuchKey" | "NotFound")))
    {
        return ClientError::NotFound {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
        };
    }
    if code.as_deref() == Some("NoSuchBucket") {
        return ClientError::S3 {
            operation,
            code,
            message: format!("the bucket {bucket} does not exist"),
        };
    }
    let message = match err.message() {
        Some(m) => m.to_owned(),
        None => match status {
            Some(status) => format!("HTTP status {status}"),
            // Connection and credential failures: the whole chain says which.
            None => aws_smithy_types::error::display::DisplayErrorContext(&err).to_string(),
        },
    };
    ClientError::S3 {
        operation,
        code,
        message,
    }
}

/// Whether an SDK error is an HTTP 412 (a failed `If-Match`).
pub(crate) fn is_precondition_failed<E>(err: &SdkError<E>) -> bool {
    err.raw_response().map(|r| r.status().as_u16()) == Some(412)
}
