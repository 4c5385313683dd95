//! Whether the backend answers: the gateway's health check (`GET /_objseal/health`).

use std::time::Duration;

use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};

use super::RemoteStore;

impl RemoteStore {
    /// Asks the backend for one bucket of its list (`ListBuckets`, `max-buckets=1`), once,
    /// without retries, for at most `timeout`. `Ok` when it answers as an S3 service does —
    /// a refusal of the call itself (`AccessDenied`: credentials scoped to some buckets) counts
    /// as an answer; `Err` with the reason (no credentials, bodies or addresses in it) when it
    /// cannot be reached, does not answer in time, answers 5xx, or refuses the gateway's
    /// credentials.
    ///
    /// # Errors
    /// The reason the backend is not usable, for the health check's answer.
    pub async fn probe(&self, timeout: Duration) -> Result<(), String> {
        let call = self
            .inner
            .clients
            .calls
            .list_buckets()
            .max_buckets(1)
            .customize()
            .config_override(
                aws_sdk_s3::config::Builder::default().retry_config(RetryConfig::disabled()),
            )
            .send();
        let answer = match tokio::time::timeout(timeout, call).await {
            Ok(answer) => answer,
            Err(_) => return Err(format!("the backend did not answer within {timeout:?}")),
        };
        let err = match answer {
            Ok(_) => return Ok(()),
            Err(err) => err,
        };
        match &err {
            SdkError::ServiceError(service) => {
                let status = service.raw().status().as_u16();
                let code = service.err().code().unwrap_or("");
                match (status, code) {
                    (
                        401 | 403,
                        "InvalidAccessKeyId"
                        | "SignatureDoesNotMatch"
                        | "InvalidToken"
                        | "ExpiredToken",
                    ) => Err(format!(
                        "the backend refuses the gateway's credentials ({status} {code})"
                    )),
                    (500.., _) => Err(format!("the backend answers {status} {code}")),
                    _ => Ok(()),
                }
            }
            SdkError::TimeoutError(_) => Err("the backend did not answer in time".into()),
            SdkError::DispatchFailure(_) => Err("the backend cannot be reached".into()),
            SdkError::ResponseError(r) => Err(format!(
                "the backend's answer ({}) cannot be read",
                r.raw().status().as_u16()
            )),
            _ => Err("the request to the backend failed".into()),
        }
    }
}
