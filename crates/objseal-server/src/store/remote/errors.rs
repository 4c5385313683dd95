//! Backend failures as S3 errors.
//!
//! | the backend | the client sees |
//! |---|---|
//! | unreachable, timed out, connection lost | 503 `SlowDown` (clients retry) |
//! | 503 (`SlowDown`, `ServiceUnavailable`) | 503 `SlowDown` |
//! | any other 5xx | 500 `InternalError` |
//! | 404 | `NoSuchBucket` when it says so, else `NoSuchKey` (object calls) or `NoSuchBucket` (bucket calls) |
//! | 412, 304, 416 | `PreconditionFailed`, `NotModified`, `InvalidRange` |
//! | 401, 403 (the gateway's own credentials are refused) | 500 `InternalError`, logged |
//! | another 4xx with an S3 error code | that code, status and message |
//! | an answer that cannot be read | 500 `InternalError` |
//!
//! Messages and logs are built from error codes, statuses and `Display` chains, never from the
//! SDK's `Debug` (which shows raw requests and responses) — no credentials and no bodies.

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use s3s::{S3Error, S3ErrorCode};

/// What a backend call was about, for a 404 without an error code (HEAD answers have no body).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Subject {
    Object,
    Bucket,
}

/// The S3 error for a failed backend call `operation`.
pub(super) fn backend_error<E>(
    operation: &'static str,
    subject: Subject,
    err: SdkError<E, HttpResponse>,
) -> S3Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match &err {
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            let e = service.err();
            from_answer(operation, subject, status, e.code(), e.message())
        }
        SdkError::TimeoutError(_) => {
            tracing::warn!(operation, error = %chain(&err), "the backing store did not answer in time");
            slow_down("The backing store did not answer in time; please retry.")
        }
        SdkError::DispatchFailure(_) => {
            tracing::warn!(operation, error = %chain(&err), "the backing store could not be reached");
            slow_down("The backing store could not be reached; please retry.")
        }
        SdkError::ResponseError(r) => {
            let status = r.raw().status().as_u16();
            tracing::error!(operation, status, error = %chain(&err), "unreadable answer from the backing store");
            internal("The backing store's answer could not be read.")
        }
        _ => {
            tracing::error!(operation, error = %chain(&err), "a backend request failed");
            internal("A request to the backing store failed.")
        }
    }
}

/// The S3 error for a backend answer with `status` and, when it had a body, `code`.
pub(super) fn from_answer(
    operation: &'static str,
    subject: Subject,
    status: u16,
    code: Option<&str>,
    message: Option<&str>,
) -> S3Error {
    match (status, code) {
        (404, Some("NoSuchBucket")) => S3Error::with_message(
            S3ErrorCode::NoSuchBucket,
            "The specified bucket does not exist",
        ),
        (404, _) if subject == Subject::Bucket => S3Error::with_message(
            S3ErrorCode::NoSuchBucket,
            "The specified bucket does not exist",
        ),
        (404, _) => {
            S3Error::with_message(S3ErrorCode::NoSuchKey, "The specified key does not exist.")
        }
        (412, _) => S3Error::new(S3ErrorCode::PreconditionFailed),
        (304, _) => S3Error::new(S3ErrorCode::NotModified),
        (416, _) => S3Error::with_message(
            S3ErrorCode::InvalidRange,
            "The requested range is not satisfiable",
        ),
        (503, _) => {
            tracing::warn!(operation, code, "the backing store is throttling");
            slow_down("The backing store is busy; please retry.")
        }
        (500..=599, _) => {
            tracing::error!(operation, status, code, "the backing store failed");
            internal("The backing store failed.")
        }
        (401 | 403, _) => {
            tracing::error!(
                operation,
                status,
                code,
                "the backing store refused the gateway's credentials"
            );
            internal("The backing store refused the gateway.")
        }
        (_, Some(code)) if (400..500).contains(&status) => {
            let code = S3ErrorCode::from_bytes(code.as_bytes())
                .unwrap_or_else(|| S3ErrorCode::Custom(code.to_owned().into()));
            let mut e = match message {
                Some(m) => S3Error::with_message(code, m.to_owned()),
                None => S3Error::new(code),
            };
            if let Ok(s) = http::StatusCode::from_u16(status) {
                e.set_status_code(s);
            }
            e
        }
        _ => {
            tracing::error!(
                operation,
                status,
                code,
                "unexpected answer from the backing store"
            );
            internal("The backing store answered unexpectedly.")
        }
    }
}

pub(super) fn slow_down(message: &'static str) -> S3Error {
    S3Error::with_message(S3ErrorCode::SlowDown, message)
}

pub(super) fn internal(message: &'static str) -> S3Error {
    S3Error::with_message(S3ErrorCode::InternalError, message)
}

/// A stored object the gateway cannot make sense of (a bad trailer, lengths that disagree):
/// logged with its key, 500 to the client.
pub(super) fn corrupt(bucket: &str, key: &str, what: &dyn std::fmt::Display) -> S3Error {
    tracing::error!(bucket, key, problem = %what, "a backend object is not as the gateway wrote it");
    internal("The stored object is damaged.")
}

/// An error and its sources, by `Display`, each once.
pub(super) fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        let m = e.to_string();
        if !m.is_empty() && !text.contains(&m) {
            text.push_str(": ");
            text.push_str(&m);
        }
        source = e.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(status: u16, code: Option<&str>, subject: Subject) -> (String, Option<u16>) {
        let e = from_answer("Test", subject, status, code, Some("m"));
        (
            e.code().as_str().to_owned(),
            e.status_code().map(|s| s.as_u16()),
        )
    }

    #[test]
    fn answers_map_to_s3_errors() {
        use Subject::*;
        assert_eq!(code(404, None, Object).0, "NoSuchKey");
        assert_eq!(code(404, Some("NoSuchBucket"), Object).0, "NoSuchBucket");
        assert_eq!(code(404, None, Bucket).0, "NoSuchBucket");
        assert_eq!(code(412, None, Object).0, "PreconditionFailed");
        assert_eq!(code(304, None, Object).0, "NotModified");
        assert_eq!(code(416, Some("InvalidRange"), Object).0, "InvalidRange");
        assert_eq!(
            code(503, Some("SlowDown"), Object),
            ("SlowDown".into(), Some(503))
        );
        assert_eq!(code(500, Some("InternalError"), Object).0, "InternalError");
        assert_eq!(code(502, None, Object).0, "InternalError");
        assert_eq!(code(403, Some("AccessDenied"), Object).0, "InternalError");
        assert_eq!(
            code(409, Some("BucketNotEmpty"), Bucket),
            ("BucketNotEmpty".into(), Some(409))
        );
        assert_eq!(
            code(400, Some("SomethingNew"), Object),
            ("SomethingNew".into(), Some(400))
        );
        assert_eq!(code(400, None, Object).0, "InternalError");
    }
}
