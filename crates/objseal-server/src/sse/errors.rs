//! S3 errors of the SSE layer, in one place so every refusal has Amazon S3's code and status.

use s3s::{S3Error, S3ErrorCode, s3_error};

use objseal_kms::KmsError;

/// `InvalidArgument` (400) with a message naming what is wrong.
pub(crate) fn invalid_argument(msg: impl Into<String>) -> S3Error {
    S3Error::with_message(S3ErrorCode::InvalidArgument, msg.into())
}

/// `InvalidRequest` (400).
pub(crate) fn invalid_request(msg: impl Into<String>) -> S3Error {
    S3Error::with_message(S3ErrorCode::InvalidRequest, msg.into())
}

/// `AccessDenied` (403) for a customer key that does not open the object.
pub(crate) fn wrong_customer_key() -> S3Error {
    s3_error!(
        AccessDenied,
        "The provided SSE-C key does not match the key the object was encrypted with."
    )
}

/// An object whose stored encryption state does not verify: never plaintext, always this.
pub(crate) fn corrupt(what: &str) -> S3Error {
    let mut e = S3Error::with_message(
        S3ErrorCode::InternalError,
        format!("The stored object failed verification ({what}); no data was returned."),
    );
    e.set_status_code(http::StatusCode::INTERNAL_SERVER_ERROR);
    e
}

/// An object stored without objseal's encryption, read from a server that serves sealed objects
/// only ([`super::SseConfig::sealed_only`]): whoever put it there went around the server.
pub(crate) fn not_sealed() -> S3Error {
    tracing::warn!("refused an object that is not sealed (sealed-only server)");
    let mut e = S3Error::with_message(
        S3ErrorCode::InvalidObjectState,
        "The object is not encrypted by this service, which serves encrypted objects only; \
         no data was returned.",
    );
    e.set_status_code(http::StatusCode::FORBIDDEN);
    e
}

/// Internal failure with a fixed message (the cause goes to the log, not to the client).
pub(crate) fn internal(what: &str) -> S3Error {
    tracing::error!(what, "internal error");
    S3Error::with_message(
        S3ErrorCode::InternalError,
        format!("Internal error: {what}."),
    )
}

/// A KMS refusal as Amazon S3 reports it: `KMS.<Exception>` codes, 400 for the caller's mistakes
/// (unknown, disabled or pending-deletion keys, bad context), 403 for denied access, 500/503 for
/// the KMS's own failures.
pub(crate) fn kms(err: KmsError) -> S3Error {
    use http::StatusCode;
    let (status, code) = match &err {
        KmsError::AccessDenied(_) => (StatusCode::FORBIDDEN, S3ErrorCode::AccessDenied),
        KmsError::Dependency(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            S3ErrorCode::Custom(format!("KMS.{}", err.aws_type()).into()),
        ),
        KmsError::Internal(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            S3ErrorCode::Custom(format!("KMS.{}", err.aws_type()).into()),
        ),
        _ => (
            StatusCode::BAD_REQUEST,
            S3ErrorCode::Custom(format!("KMS.{}", err.aws_type()).into()),
        ),
    };
    // The KMS's own failures say nothing about the caller's request: logged, not echoed (a
    // remote KMS's message may describe its internals).
    let message = match &err {
        KmsError::Dependency(_) | KmsError::Internal(_) | KmsError::Other { .. } => {
            tracing::warn!(error = %err, "KMS failure");
            "The KMS could not serve the request.".to_owned()
        }
        _ => err.to_string(),
    };
    let mut e = S3Error::with_message(code, message);
    e.set_status_code(status);
    e
}
