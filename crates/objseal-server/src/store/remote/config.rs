//! [`RemoteStoreConfig`]: where the backing store is and how the gateway talks to it, and the
//! AWS SDK clients built from it.

use std::io;
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{
    Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation, SharedHttpClient,
};
use aws_smithy_http_client::tls;

/// The region requests are signed for when none is configured: S3-compatible stores other than
/// AWS (Ceph RGW, MinIO, moto) accept any, and SigV4 needs one.
pub const DEFAULT_BACKEND_REGION: &str = "us-east-1";

/// How many objects of one listing page are described at once (see the module documentation's
/// "Listings").
pub const DEFAULT_LIST_CONCURRENCY: usize = 16;

/// The backing store's static credentials: the same type as the remote KMS's (an access key id,
/// its secret and an optional session token; `Debug` shows the access key id only).
///
/// ```
/// use objseal_server::store::BackendCredentials;
/// let c = BackendCredentials::new("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG");
/// assert!(!format!("{c:?}").contains("wJalr"));
/// ```
pub type BackendCredentials = objseal_kms::remote::RemoteCredentials;

/// Where the backing store of a [`RemoteStore`](super::RemoteStore) is and how to reach it.
///
/// ```
/// use objseal_server::store::{BackendCredentials, RemoteStoreConfig};
/// let config = RemoteStoreConfig {
///     credentials: Some(BackendCredentials::new("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG")),
///     ..RemoteStoreConfig::new("http://127.0.0.1:7480")
/// };
/// assert!(config.path_style);
/// assert!(!format!("{config:?}").contains("wJalr"));
/// ```
#[derive(Clone, Debug)]
pub struct RemoteStoreConfig {
    /// The service's URL (`http://127.0.0.1:7480`, `https://s3.eu-west-1.amazonaws.com`); `None`:
    /// Amazon S3 in [`RemoteStoreConfig::region`].
    pub endpoint_url: Option<String>,
    /// The region requests are signed for.
    pub region: String,
    /// Static credentials; `None`: the usual AWS sources (`AWS_ACCESS_KEY_ID` /
    /// `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN`, `AWS_PROFILE` with `~/.aws/config` and
    /// `~/.aws/credentials`, web identity, the ECS and EC2 instance metadata services).
    pub credentials: Option<BackendCredentials>,
    /// Path-style addressing (`http://host/bucket/key`) rather than virtual-hosted style
    /// (`http://bucket.host/key`): what Ceph RGW, MinIO and moto on one host need.
    pub path_style: bool,
    /// How long connecting (TCP and TLS) may take.
    pub connect_timeout: Duration,
    /// How long one backend call without a body to send may take in all, retries included: every
    /// call but `PutObject` and `CopyObject`. For `GetObject` it ends when the answer's headers
    /// have arrived; the body then streams at the client's pace.
    pub operation_timeout: Duration,
    /// How long a `PutObject` (its body streamed at the client's pace) or a `CopyObject` (done by
    /// the backend, which may take minutes for large objects) may take.
    pub transfer_timeout: Duration,
    /// Attempts per backend call, the first included (throttling and transient failures are
    /// retried; a streamed `PutObject` body is never sent twice).
    pub max_attempts: u32,
    /// How many listed objects are described at once (see the module documentation's
    /// "Listings"); at least 1.
    pub list_concurrency: usize,
}

impl RemoteStoreConfig {
    /// The defaults for the service at `endpoint_url`: region [`DEFAULT_BACKEND_REGION`],
    /// credentials from the usual AWS sources, path-style addressing, 5 s to connect, 30 s per
    /// call, an hour per transfer, 3 attempts, [`DEFAULT_LIST_CONCURRENCY`].
    pub fn new(endpoint_url: impl Into<String>) -> Self {
        Self {
            endpoint_url: Some(endpoint_url.into()),
            ..Self::default()
        }
    }
}

impl Default for RemoteStoreConfig {
    /// Amazon S3 itself, in [`DEFAULT_BACKEND_REGION`], with the other defaults of
    /// [`RemoteStoreConfig::new`].
    fn default() -> Self {
        Self {
            endpoint_url: None,
            region: DEFAULT_BACKEND_REGION.to_owned(),
            credentials: None,
            path_style: true,
            connect_timeout: Duration::from_secs(5),
            operation_timeout: Duration::from_secs(30),
            transfer_timeout: Duration::from_secs(3600),
            max_attempts: 3,
            list_concurrency: DEFAULT_LIST_CONCURRENCY,
        }
    }
}

/// The two clients of the store: one for calls bounded by the operation timeout, one for
/// transfers bounded by the transfer timeout. They share one connection pool.
#[derive(Clone, Debug)]
pub(super) struct Clients {
    pub calls: Client,
    pub transfers: Client,
}

/// Builds the clients. Sends nothing.
pub(super) async fn clients(config: &RemoteStoreConfig) -> io::Result<Clients> {
    if let Some(url) = &config.endpoint_url {
        check_endpoint(url)?;
    }
    if config.max_attempts == 0 {
        return Err(invalid("max_attempts must be at least 1"));
    }
    if config.region.is_empty() {
        return Err(invalid("the backend region must not be empty"));
    }
    let timeouts = |operation: Duration| {
        TimeoutConfig::builder()
            .connect_timeout(config.connect_timeout)
            .operation_timeout(operation)
            .build()
    };
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http_client())
        .timeout_config(timeouts(config.operation_timeout))
        .retry_config(RetryConfig::standard().with_max_attempts(config.max_attempts))
        .region(Region::new(config.region.clone()));
    if let Some(c) = &config.credentials {
        loader = loader.credentials_provider(Credentials::new(
            c.access_key_id.clone(),
            c.secret_access_key.as_str(),
            c.session_token.as_ref().map(|t| t.as_str().to_owned()),
            None,
            "objseal-backend",
        ));
    }
    if let Some(url) = &config.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    let sdk = loader.load().await;
    let s3 = aws_sdk_s3::config::Builder::from(&sdk)
        .force_path_style(config.path_style)
        // Checksums only where the operation requires one, sent as headers: the SDK's default,
        // an aws-chunked body with a trailing checksum, is refused by Ceph RGW 16, and the
        // layer seals and checks its own bodies.
        .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
        .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
        .build();
    let transfers = s3
        .to_builder()
        .timeout_config(timeouts(config.transfer_timeout))
        .build();
    Ok(Clients {
        calls: Client::from_conf(s3),
        transfers: Client::from_conf(transfers),
    })
}

/// The HTTPS client: rustls with *ring* (lighter to build than aws-lc) and the system's trust
/// roots; also speaks plain HTTP for `http://` endpoints.
fn http_client() -> SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https()
}

fn invalid(message: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message.into())
}

/// Refuses endpoint URLs the SDK would only refuse at the first request, with a vaguer message.
fn check_endpoint(url: &str) -> io::Result<()> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"));
    match rest {
        Some(rest) if !rest.is_empty() && !rest.starts_with('/') => Ok(()),
        _ => Err(invalid(format!(
            "the backend endpoint `{url}` is not an http:// or https:// URL with a host"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_checked() {
        assert!(check_endpoint("http://127.0.0.1:7480").is_ok());
        assert!(check_endpoint("https://s3.eu-west-1.amazonaws.com/").is_ok());
        for bad in ["127.0.0.1:7480", "http://", "https:///x", "s3://bucket"] {
            assert!(check_endpoint(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn bad_settings_are_refused_before_anything_is_sent() {
        let zero = RemoteStoreConfig {
            max_attempts: 0,
            ..RemoteStoreConfig::new("http://127.0.0.1:1")
        };
        assert!(clients(&zero).await.is_err());
        assert!(clients(&RemoteStoreConfig::new("ftp://x")).await.is_err());
    }

    #[test]
    fn debug_hides_the_secret() {
        let mut c = BackendCredentials::new("AKID", "very-secret");
        c.session_token = Some(zeroize::Zeroizing::new("token-secret".into()));
        let text = format!("{c:?}");
        assert!(text.contains("AKID"));
        assert!(!text.contains("very-secret") && !text.contains("token-secret"));
    }
}
