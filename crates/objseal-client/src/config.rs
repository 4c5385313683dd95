//! Where the client connects and how it moves data: endpoint, region, credentials, part sizes.

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{Credentials, Region};

use crate::ClientError;

/// The smallest part S3 accepts (every part but the last).
pub const MIN_PART_SIZE: usize = 5 << 20;
/// The most parts of one upload.
pub const MAX_PARTS: u32 = 10_000;

/// How an [`crate::EncryptingClient`] connects and moves data.
///
/// Everything left `None` comes from the usual AWS sources, as every AWS SDK reads them:
/// `AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL`, `AWS_REGION` / `AWS_DEFAULT_REGION`,
/// `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN`, `AWS_PROFILE` with
/// `~/.aws/config` and `~/.aws/credentials`, then the container and instance metadata services.
///
/// ```
/// let config = objseal_client::ClientConfig {
///     endpoint_url: Some("http://127.0.0.1:9000".into()),
///     force_path_style: true,
///     ..Default::default()
/// };
/// assert_eq!(config.part_size, 16 << 20);
/// assert!(config.validate().is_ok());
/// let with_secret = objseal_client::ClientConfig {
///     credentials: Some(("AKID".into(), zeroize::Zeroizing::new("s3cr3t".into()))),
///     ..config
/// };
/// assert!(!format!("{with_secret:?}").contains("s3cr3t"));
/// ```
#[derive(Clone)]
pub struct ClientConfig {
    /// The S3 endpoint (`http://127.0.0.1:9000`); `None`: the environment's, else AWS S3.
    pub endpoint_url: Option<String>,
    /// The region; `None`: the environment's, else `us-east-1`.
    pub region: Option<String>,
    /// The named profile of the AWS config files; `None`: `AWS_PROFILE`, else `default`.
    pub profile: Option<String>,
    /// Static credentials `(access key id, secret access key)`; `None`: the usual credential chain.
    pub credentials: Option<(String, zeroize::Zeroizing<String>)>,
    /// Path-style addressing (`http://host/bucket/key`), which most self-hosted stores need.
    pub force_path_style: bool,
    /// Plaintext bytes per part (one OSE1 segment each) of a multipart upload, and per ranged request
    /// of a download; at least 5 MiB.
    pub part_size: usize,
    /// Parts (or download ranges) in flight at once. Memory is bounded by about
    /// `part_size × concurrency × 2`, never by the object's size.
    pub concurrency: usize,
    /// Objects of at least this many plaintext bytes go up as multipart uploads; smaller ones in one
    /// `PutObject`. At least 5 MiB, at most 5 GiB.
    pub multipart_threshold: usize,
    /// log2 of the OSE1 chunk size, 12..=24 (16: 64 KiB chunks).
    pub chunk_log2: u8,
    /// Send CRC checksums with uploads where the endpoint supports them (the SDK's default). Turn off
    /// for stores that reject the trailing-checksum encoding (Ceph RGW 16).
    pub request_checksums: bool,
    /// The largest AWS S3 Encryption Client object that is read (it is one GCM message, verified
    /// only at its end, so it is held in memory until then).
    pub s3ec_max_object_size: usize,
    /// Attempts per request, the first included.
    pub max_attempts: u32,
    /// How long connecting may take.
    pub connect_timeout: Duration,
}

impl core::fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ClientConfig")
            .field("endpoint_url", &self.endpoint_url)
            .field("region", &self.region)
            .field("profile", &self.profile)
            .field(
                "credentials",
                &self.credentials.as_ref().map(|(id, _)| (id, "(redacted)")),
            )
            .field("force_path_style", &self.force_path_style)
            .field("part_size", &self.part_size)
            .field("concurrency", &self.concurrency)
            .field("multipart_threshold", &self.multipart_threshold)
            .field("chunk_log2", &self.chunk_log2)
            .field("request_checksums", &self.request_checksums)
            .field("s3ec_max_object_size", &self.s3ec_max_object_size)
            .field("max_attempts", &self.max_attempts)
            .field("connect_timeout", &self.connect_timeout)
            .finish()
    }
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            endpoint_url: None,
            region: None,
            profile: None,
            credentials: None,
            force_path_style: false,
            part_size: 16 << 20,
            concurrency: 8,
            multipart_threshold: 16 << 20,
            chunk_log2: objseal_core::DEFAULT_CHUNK_LOG2,
            request_checksums: true,
            s3ec_max_object_size: 64 << 20,
            max_attempts: 3,
            connect_timeout: Duration::from_secs(5),
        }
    }
}

impl ClientConfig {
    /// Checks the sizes against S3's and the format's limits.
    ///
    /// # Errors
    /// [`ClientError::InvalidArgument`] naming the field out of range.
    pub fn validate(&self) -> Result<(), ClientError> {
        let bad = |what: String| Err(ClientError::InvalidArgument(what));
        if self.part_size < MIN_PART_SIZE || self.part_size > 5 << 30 {
            return bad(format!(
                "part size {} is outside S3's 5 MiB ..= 5 GiB",
                self.part_size
            ));
        }
        if self.multipart_threshold < MIN_PART_SIZE || self.multipart_threshold > 5 << 30 {
            return bad(format!(
                "multipart threshold {} is outside 5 MiB ..= 5 GiB",
                self.multipart_threshold
            ));
        }
        if !(1..=256).contains(&self.concurrency) {
            return bad(format!(
                "concurrency {} is outside 1..=256",
                self.concurrency
            ));
        }
        if !(12..=24).contains(&self.chunk_log2) {
            return bad(format!("chunk_log2 {} is outside 12..=24", self.chunk_log2));
        }
        let max_s3ec = objseal_core::gcm::MAX_MESSAGE_LEN + 16;
        if !(16..=max_s3ec).contains(&(self.s3ec_max_object_size as u64)) {
            return bad(format!(
                "s3ec_max_object_size {} is outside 16 ..= {max_s3ec} (one GCM message)",
                self.s3ec_max_object_size
            ));
        }
        if self.max_attempts == 0 {
            return bad("max_attempts must be at least 1".into());
        }
        Ok(())
    }

    /// Builds the AWS SDK's S3 client: reads the environment for whatever is left open. Sends nothing.
    pub(crate) async fn s3_client(&self) -> aws_sdk_s3::Client {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .http_client(
                aws_smithy_http_client::Builder::new()
                    .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                        aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
                    ))
                    .build_https(),
            )
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(self.connect_timeout)
                    .build(),
            )
            .retry_config(RetryConfig::standard().with_max_attempts(self.max_attempts));
        if let Some(region) = &self.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(profile) = &self.profile {
            loader = loader.profile_name(profile);
        }
        if let Some((id, secret)) = &self.credentials {
            loader = loader.credentials_provider(Credentials::new(
                id.clone(),
                secret.as_str(),
                None,
                None,
                "objseal-client",
            ));
        }
        if let Some(url) = &self.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        let sdk = loader.load().await;
        let mut builder =
            aws_sdk_s3::config::Builder::from(&sdk).force_path_style(self.force_path_style);
        if sdk.region().is_none() {
            builder.set_region(Some(Region::new("us-east-1")));
        }
        if !self.request_checksums {
            builder = builder
                .request_checksum_calculation(
                    aws_sdk_s3::config::RequestChecksumCalculation::WhenRequired,
                )
                .response_checksum_validation(
                    aws_sdk_s3::config::ResponseChecksumValidation::WhenRequired,
                );
        }
        aws_sdk_s3::Client::from_conf(builder.build())
    }
}
