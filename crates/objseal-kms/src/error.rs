//! The one error type of the KMS layer, named after AWS KMS's exceptions.

use core::fmt;

/// A KMS error. Each variant is one AWS KMS exception (its [`KmsError::aws_type`] name), with a message
/// for humans that never holds key material or plaintext.
///
/// ```
/// use objseal_kms::KmsError;
/// let e = KmsError::Disabled("key 1234 is disabled".into());
/// assert_eq!(e.aws_type(), "DisabledException");
/// assert_eq!(e.http_status(), 400);
/// assert_eq!(e.to_string(), "DisabledException: key 1234 is disabled");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum KmsError {
    /// No such key or alias (`NotFoundException`).
    NotFound(String),
    /// The key is disabled (`DisabledException`).
    Disabled(String),
    /// The key's state does not allow the operation, e.g. pending deletion (`KMSInvalidStateException`).
    InvalidState(String),
    /// The ciphertext blob is malformed, tampered with, or its context does not match
    /// (`InvalidCiphertextException`).
    InvalidCiphertext(String),
    /// The blob was not made under the key the caller named (`IncorrectKeyException`).
    IncorrectKey(String),
    /// A parameter is out of range or malformed (`ValidationException`).
    Validation(String),
    /// The caller may not use this key or operation (`AccessDeniedException`).
    AccessDenied(String),
    /// A key policy does not parse, names unknown actions or operators, is too large, or would lock
    /// its author out (`MalformedPolicyDocumentException`).
    MalformedPolicyDocument(String),
    /// An alias or key of that name exists already (`AlreadyExistsException`).
    AlreadyExists(String),
    /// An alias name is malformed or reserved (`InvalidAliasNameException`).
    InvalidAliasName(String),
    /// A key id or ARN is malformed (`InvalidArnException`).
    InvalidArn(String),
    /// The key's usage or spec does not allow the operation (`InvalidKeyUsageException`).
    InvalidKeyUsage(String),
    /// The operation is not supported for this key (`UnsupportedOperationException`).
    UnsupportedOperation(String),
    /// A quota was hit (`LimitExceededException`).
    LimitExceeded(String),
    /// The remote KMS could not be reached or answered nonsense (`DependencyTimeoutException`).
    Dependency(String),
    /// An internal failure: storage, randomness (`KMSInternalException`).
    Internal(String),
    /// An error named by a remote service that this enum does not know: its `__type` and message.
    Other {
        /// The service's error name.
        aws_type: String,
        /// The service's message.
        message: String,
    },
}

impl KmsError {
    /// The AWS KMS exception name, as sent in the `__type` field of an error response.
    pub fn aws_type(&self) -> &str {
        match self {
            KmsError::NotFound(_) => "NotFoundException",
            KmsError::Disabled(_) => "DisabledException",
            KmsError::InvalidState(_) => "KMSInvalidStateException",
            KmsError::InvalidCiphertext(_) => "InvalidCiphertextException",
            KmsError::IncorrectKey(_) => "IncorrectKeyException",
            KmsError::Validation(_) => "ValidationException",
            KmsError::AccessDenied(_) => "AccessDeniedException",
            KmsError::MalformedPolicyDocument(_) => "MalformedPolicyDocumentException",
            KmsError::AlreadyExists(_) => "AlreadyExistsException",
            KmsError::InvalidAliasName(_) => "InvalidAliasNameException",
            KmsError::InvalidArn(_) => "InvalidArnException",
            KmsError::InvalidKeyUsage(_) => "InvalidKeyUsageException",
            KmsError::UnsupportedOperation(_) => "UnsupportedOperationException",
            KmsError::LimitExceeded(_) => "LimitExceededException",
            KmsError::Dependency(_) => "DependencyTimeoutException",
            KmsError::Internal(_) => "KMSInternalException",
            KmsError::Other { aws_type, .. } => aws_type,
        }
    }

    /// The message, without the type name.
    pub fn message(&self) -> &str {
        match self {
            KmsError::NotFound(m)
            | KmsError::Disabled(m)
            | KmsError::InvalidState(m)
            | KmsError::InvalidCiphertext(m)
            | KmsError::IncorrectKey(m)
            | KmsError::Validation(m)
            | KmsError::AccessDenied(m)
            | KmsError::MalformedPolicyDocument(m)
            | KmsError::AlreadyExists(m)
            | KmsError::InvalidAliasName(m)
            | KmsError::InvalidArn(m)
            | KmsError::InvalidKeyUsage(m)
            | KmsError::UnsupportedOperation(m)
            | KmsError::LimitExceeded(m)
            | KmsError::Dependency(m)
            | KmsError::Internal(m) => m,
            KmsError::Other { message, .. } => message,
        }
    }

    /// The HTTP status AWS KMS answers this error with.
    pub fn http_status(&self) -> u16 {
        match self {
            KmsError::Internal(_) => 500,
            KmsError::Dependency(_) => 503,
            _ => 400,
        }
    }

    /// The error named by an AWS `__type` (with or without a `namespace#` prefix) and message.
    ///
    /// ```
    /// use objseal_kms::KmsError;
    /// let e = KmsError::from_aws("com.amazonaws.kms#NotFoundException", "no key");
    /// assert_eq!(e, KmsError::NotFound("no key".into()));
    /// ```
    pub fn from_aws(aws_type: &str, message: impl Into<String>) -> Self {
        let name = aws_type.rsplit('#').next().unwrap_or(aws_type);
        let name = name.split(':').next().unwrap_or(name);
        let m = message.into();
        match name {
            "NotFoundException" => KmsError::NotFound(m),
            "DisabledException" => KmsError::Disabled(m),
            "KMSInvalidStateException" => KmsError::InvalidState(m),
            "InvalidCiphertextException" => KmsError::InvalidCiphertext(m),
            "IncorrectKeyException" => KmsError::IncorrectKey(m),
            "ValidationException" => KmsError::Validation(m),
            "AccessDeniedException" => KmsError::AccessDenied(m),
            "MalformedPolicyDocumentException" => KmsError::MalformedPolicyDocument(m),
            "AlreadyExistsException" => KmsError::AlreadyExists(m),
            "InvalidAliasNameException" => KmsError::InvalidAliasName(m),
            "InvalidArnException" => KmsError::InvalidArn(m),
            "InvalidKeyUsageException" => KmsError::InvalidKeyUsage(m),
            "UnsupportedOperationException" => KmsError::UnsupportedOperation(m),
            "LimitExceededException" => KmsError::LimitExceeded(m),
            "DependencyTimeoutException" => KmsError::Dependency(m),
            "KMSInternalException" => KmsError::Internal(m),
            other => KmsError::Other {
                aws_type: other.to_owned(),
                message: m,
            },
        }
    }
}

impl fmt::Display for KmsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.aws_type(), self.message())
    }
}

impl std::error::Error for KmsError {}
