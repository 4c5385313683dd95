//! [`RemoteKms`]: a [`Kms`] that speaks the AWS KMS JSON 1.1 protocol to any endpoint — AWS KMS
//! itself, `objseal kms serve`, or another compatible service such as moto — through the AWS SDK for
//! Rust (`aws-sdk-kms`), with requests signed by SigV4.
//!
//! # What the protocol does not say
//!
//! AWS KMS names no key *versions*: its results carry the key ARN only. [`RemoteKms`] fills the
//! `key_version` fields of [`Ciphertext`], [`Plaintext`] and [`ReEncrypted`] from the ciphertext blob
//! when it is an objseal blob (made by `objseal kms serve`), and with [`KEY_VERSION_UNKNOWN`] (`0`)
//! otherwise. [`KeyMetadata::current_version`] is one more than the number of rotations that
//! `ListKeyRotations` reports (one extra request per `describe_key`), or `0` when the service refuses
//! to list them; [`RotationEntry::version`] counts rotations the same way (the first rotation made
//! version 2). `describe_key` fills the tags from `ListResourceTags`, and leaves them empty where the
//! service does not answer it (`objseal kms serve` keeps tags but does not list them).
//!
//! # Errors
//!
//! A refusal by the service becomes the [`KmsError`] of its AWS error code
//! ([`KmsError::from_aws`]); a request that could not be sent or answered (connection refused,
//! timeout, TLS failure, a malformed or truncated answer, missing credentials) becomes
//! [`KmsError::Dependency`]; a request that could not even be built (a malformed endpoint URL, no
//! region) becomes [`KmsError::Validation`]. Messages never hold credentials, data keys or plaintext.
//!
//! # Secrets in memory
//!
//! Data keys and plaintexts are moved out of the SDK's results into [`SecretBytes`] (wiped on drop)
//! without copies; the SDK's own transient buffers (the HTTP body, base64 text) are not wiped.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_config::BehaviorVersion;
use aws_sdk_kms::Client;
use aws_sdk_kms::config::http::HttpResponse;
use aws_sdk_kms::config::retry::RetryConfig;
use aws_sdk_kms::config::timeout::TimeoutConfig;
use aws_sdk_kms::config::{Credentials, Region, SharedHttpClient};
use aws_sdk_kms::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_kms::primitives::{Blob, DateTime};
use aws_sdk_kms::types as aws;
use aws_smithy_http_client::tls;
use zeroize::Zeroizing;

use crate::{
    AliasEntry, Ciphertext, CreateKeyRequest, DEFAULT_POLICY_NAME, DataKey, DataKeySpec,
    Delegation, DeletionSchedule, EncryptionContext, KEY_VERSION_UNKNOWN, KeyListEntry,
    KeyMetadata, KeyState, Kms, KmsError, Plaintext, ReEncryptRequest, ReEncrypted, RotationEntry,
    RotationStatus, RotationType, SecretBytes,
};

pub use crate::remote_headers::{
    ON_BEHALF_OF_HEADER, SOURCE_ADDRESS_HEADER, SOURCE_REQUEST_ID_HEADER,
};

/// The region used to sign requests to an explicit endpoint when none is configured: servers other
/// than AWS (ours, moto) accept any region, and SigV4 needs one.
pub const DEFAULT_ENDPOINT_REGION: &str = "us-east-1";

/// Static credentials: an access key id and its secret, and a session token for temporary ones.
///
/// `Debug` shows the access key id only.
///
/// ```
/// use objseal_kms::remote::RemoteCredentials;
/// let c = RemoteCredentials::new("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG");
/// assert!(!format!("{c:?}").contains("wJalr"));
/// ```
#[derive(Clone)]
pub struct RemoteCredentials {
    /// The access key id (not secret).
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: Zeroizing<String>,
    /// The session token of temporary credentials.
    pub session_token: Option<Zeroizing<String>>,
}

impl RemoteCredentials {
    /// Long-term credentials: an access key id and its secret.
    pub fn new(access_key_id: impl Into<String>, secret_access_key: impl Into<String>) -> Self {
        Self {
            access_key_id: access_key_id.into(),
            secret_access_key: Zeroizing::new(secret_access_key.into()),
            session_token: None,
        }
    }
}

impl core::fmt::Debug for RemoteCredentials {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RemoteCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"(redacted)")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "(redacted)"),
            )
            .finish()
    }
}

/// Where and how [`RemoteKms`] connects.
///
/// Everything left `None` comes from the usual AWS sources: `AWS_ENDPOINT_URL_KMS` /
/// `AWS_ENDPOINT_URL`, `AWS_REGION` / `AWS_DEFAULT_REGION`, `AWS_ACCESS_KEY_ID` /
/// `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN`, `AWS_PROFILE` with `~/.aws/config` and
/// `~/.aws/credentials` (static keys, role assumption, web identity), then the ECS and EC2 instance
/// metadata services. SSO profiles and `credential_process` are not supported (those features of
/// `aws-config` are left out).
///
/// ```
/// use objseal_kms::remote::{RemoteConfig, RemoteCredentials};
/// let config = RemoteConfig {
///     endpoint_url: Some("http://127.0.0.1:7878".into()),
///     credentials: Some(RemoteCredentials::new("AKIDEXAMPLE", "secret")),
///     ..RemoteConfig::default()
/// };
/// assert_eq!(config.operation_timeout, std::time::Duration::from_secs(30));
/// ```
#[derive(Clone, Debug)]
pub struct RemoteConfig {
    /// The service's URL (`http://127.0.0.1:7878`, `https://kms.eu-west-1.amazonaws.com`); `None`:
    /// the environment's, else AWS KMS in the region.
    pub endpoint_url: Option<String>,
    /// The region; `None`: the environment's, else [`DEFAULT_ENDPOINT_REGION`] when an endpoint is
    /// given, else an error.
    pub region: Option<String>,
    /// Static credentials; `None`: the usual AWS credential chain.
    pub credentials: Option<RemoteCredentials>,
    /// The named profile of the AWS config files to use; `None`: `AWS_PROFILE`, else `default`.
    pub profile: Option<String>,
    /// How long connecting (TCP and TLS) may take.
    pub connect_timeout: Duration,
    /// How long one operation may take in all, retries included.
    pub operation_timeout: Duration,
    /// Attempts per operation, the first included (throttling and transient failures are retried).
    pub max_attempts: u32,
}

impl Default for RemoteConfig {
    fn default() -> Self {
        Self {
            endpoint_url: None,
            region: None,
            credentials: None,
            profile: None,
            connect_timeout: Duration::from_secs(5),
            operation_timeout: Duration::from_secs(30),
            max_attempts: 3,
        }
    }
}

/// A [`Kms`] served by a remote AWS-KMS-compatible service. See the [module documentation](self).
///
/// Cloning is cheap and shares the connection pool.
#[derive(Clone, Debug)]
pub struct RemoteKms {
    client: Client,
}

impl RemoteKms {
    /// Builds the client: reads the environment for whatever `config` leaves open. Sends nothing.
    ///
    /// Must run inside a Tokio runtime (with its time driver enabled).
    pub async fn connect(config: RemoteConfig) -> Result<Self, KmsError> {
        if let Some(url) = &config.endpoint_url {
            check_endpoint(url)?;
        }
        if config.max_attempts == 0 {
            return Err(KmsError::Validation(
                "max_attempts must be at least 1".into(),
            ));
        }
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .http_client(http_client())
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(config.connect_timeout)
                    .operation_timeout(config.operation_timeout)
                    .build(),
            )
            .retry_config(RetryConfig::standard().with_max_attempts(config.max_attempts));
        if let Some(region) = &config.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(profile) = &config.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(c) = &config.credentials {
            loader = loader.credentials_provider(Credentials::new(
                c.access_key_id.clone(),
                c.secret_access_key.as_str(),
                c.session_token.as_ref().map(|t| t.as_str().to_owned()),
                None,
                "objseal",
            ));
        }
        if let Some(url) = &config.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        let sdk = loader.load().await;
        let mut builder = aws_sdk_kms::config::Builder::from(&sdk);
        if sdk.region().is_none() {
            if sdk.endpoint_url().is_some() {
                builder.set_region(Some(Region::new(DEFAULT_ENDPOINT_REGION)));
            } else {
                return Err(KmsError::Validation(
                    "no AWS region: give one (--region) or set AWS_REGION".into(),
                ));
            }
        }
        Ok(Self::from_client(Client::from_conf(builder.build())))
    }

    /// Wraps an `aws-sdk-kms` client configured by the caller.
    pub fn from_client(client: Client) -> Self {
        Self { client }
    }

    /// A client whose every request carries the delegation headers ([`ON_BEHALF_OF_HEADER`] and
    /// the source's), added before signing so they are covered by the signature.
    fn delegating(&self, delegation: &Delegation) -> Self {
        let headers = OnBehalfHeaders {
            principal: delegation.identity.name.clone(),
            source: delegation.source.clone(),
            request_id: delegation.request_id.clone(),
        };
        let config = self
            .client
            .config()
            .to_builder()
            .interceptor(headers)
            .build();
        Self::from_client(Client::from_conf(config))
    }

    /// The `aws-sdk-kms` client, for operations the [`Kms`] trait does not cover.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// `1 +` the number of rotations, or `None` where the service does not list them.
    async fn current_version(&self, key_id: &str) -> Option<u32> {
        let rotations = self.list_key_rotations(key_id).await.ok()?;
        u32::try_from(rotations.len()).ok()?.checked_add(1)
    }

    /// The key's tags, empty where the service does not list them.
    async fn tags(&self, key_id: &str) -> std::collections::BTreeMap<String, String> {
        let pages = self
            .client
            .list_resource_tags()
            .key_id(key_id)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await;
        match pages {
            Ok(tags) => tags.into_iter().map(|t| (t.tag_key, t.tag_value)).collect(),
            Err(_) => Default::default(),
        }
    }
}

/// Adds the delegation headers to every request, before it is signed.
#[derive(Debug)]
struct OnBehalfHeaders {
    principal: String,
    source: Option<String>,
    request_id: Option<String>,
}

impl aws_sdk_kms::config::Intercept for OnBehalfHeaders {
    fn name(&self) -> &'static str {
        "objseal-on-behalf-of"
    }

    fn modify_before_signing(
        &self,
        context: &mut aws_sdk_kms::config::interceptors::BeforeTransmitInterceptorContextMut<'_>,
        _runtime_components: &aws_sdk_kms::config::RuntimeComponents,
        _cfg: &mut aws_sdk_kms::config::ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let headers = context.request_mut().headers_mut();
        headers.insert(ON_BEHALF_OF_HEADER, self.principal.clone());
        if let Some(source) = &self.source {
            headers.insert(SOURCE_ADDRESS_HEADER, source.clone());
        }
        if let Some(id) = &self.request_id {
            headers.insert(SOURCE_REQUEST_ID_HEADER, id.clone());
        }
        Ok(())
    }

    /// Fails closed: a successful answer must say it was served for the principal named. A KMS
    /// that ignores delegation (AWS KMS, moto) would otherwise serve every principal with the
    /// service's own rights, and role separation would silently be gone.
    fn read_before_deserialization(
        &self,
        context: &aws_sdk_kms::config::interceptors::BeforeDeserializationInterceptorContextRef<'_>,
        _runtime_components: &aws_sdk_kms::config::RuntimeComponents,
        _cfg: &mut aws_sdk_kms::config::ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let response = context.response();
        if !response.status().is_success() {
            return Ok(());
        }
        let acted_for = response.headers().get(ON_BEHALF_OF_HEADER);
        let suffix = format!(":user/{}", self.principal);
        if acted_for.is_some_and(|arn| arn.ends_with(&suffix)) {
            Ok(())
        } else {
            Err(format!(
                "the KMS did not confirm acting on behalf of {}: it does not support delegation \
                 (only objseal kms serve does), so it cannot check that principal's rights",
                self.principal
            )
            .into())
        }
    }
}

/// The HTTPS client: rustls with *ring* (lighter to build than aws-lc) and the system's trust roots;
/// also speaks plain HTTP for `http://` endpoints.
fn http_client() -> SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https()
}

/// Refuses endpoint URLs the SDK would only refuse at the first request, with a vaguer message.
fn check_endpoint(url: &str) -> Result<(), KmsError> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"));
    match rest {
        Some(rest) if !rest.is_empty() && !rest.starts_with('/') => Ok(()),
        _ => Err(KmsError::Validation(format!(
            "the KMS endpoint `{url}` is not an http:// or https:// URL with a host"
        ))),
    }
}

/// The [`KmsError`] for a failed SDK call: the service's error code, or a transport failure.
///
/// Messages are built from the errors' `Display` chains only: the SDK's `Debug` (and so
/// `DisplayErrorContext`) shows the raw HTTP response, body included, which may hold a data key.
fn sdk_error<E>(operation: &str, err: SdkError<E, HttpResponse>) -> KmsError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match &err {
        SdkError::ServiceError(service) => {
            let e = service.err();
            match e.code() {
                Some(code) => KmsError::from_aws(code, e.message().unwrap_or_default()),
                None => KmsError::Dependency(format!(
                    "{operation}: the KMS answered HTTP {} without an AWS error name",
                    service.raw().status().as_u16()
                )),
            }
        }
        SdkError::ConstructionFailure(_) => KmsError::Validation(format!(
            "{operation}: the request could not be made: {}",
            chain(&err)
        )),
        SdkError::TimeoutError(_) => KmsError::Dependency(format!(
            "{operation}: the KMS did not answer in time: {}",
            chain(&err)
        )),
        SdkError::ResponseError(r) => KmsError::Dependency(format!(
            "{operation}: the KMS's answer (HTTP {}) could not be read: {}",
            r.raw().status().as_u16(),
            chain(&err)
        )),
        _ => KmsError::Dependency(format!(
            "{operation}: the KMS could not be reached: {}",
            chain(&err)
        )),
    }
}

/// An error and its sources, by `Display`, each once.
fn chain(err: &(dyn std::error::Error + 'static)) -> String {
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

/// A field the service must have answered with.
fn required<T>(value: Option<T>, operation: &str, field: &str) -> Result<T, KmsError> {
    value.ok_or_else(|| KmsError::Dependency(format!("{operation}: the answer lacks {field}")))
}

/// Whole seconds since the epoch (times before it: 0).
fn secs(t: &DateTime) -> u64 {
    u64::try_from(t.secs()).unwrap_or(0)
}

/// A count of days the service sent as an `i32`.
fn days(d: i32) -> u32 {
    u32::try_from(d).unwrap_or(0)
}

/// Our three states. AWS's others mean "not usable now": `PendingReplicaDeletion` is a pending
/// deletion; `PendingImport`, `Unavailable`, `Creating`, `Updating` and unknown states are reported
/// as [`KeyState::Disabled`].
fn key_state(state: Option<&aws::KeyState>) -> KeyState {
    match state {
        Some(aws::KeyState::Enabled) => KeyState::Enabled,
        Some(aws::KeyState::PendingDeletion | aws::KeyState::PendingReplicaDeletion) => {
            KeyState::PendingDeletion
        }
        _ => KeyState::Disabled,
    }
}

/// The account id of an ARN (`arn:aws:kms:<region>:<account>:key/<id>`), or empty.
fn account_of(arn: &str) -> String {
    arn.split(':').nth(4).unwrap_or_default().to_owned()
}

/// The key version recorded in an objseal ciphertext blob, or [`KEY_VERSION_UNKNOWN`].
fn blob_version(blob: &[u8]) -> u32 {
    crate::blob::parse(blob).map_or(KEY_VERSION_UNKNOWN, |b| b.header().key_version)
}

fn context_map(context: &EncryptionContext) -> Option<HashMap<String, String>> {
    if context.is_empty() {
        None
    } else {
        Some(
            context
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        )
    }
}

/// `(KeySpec, NumberOfBytes)` for a data key spec.
fn spec_params(spec: DataKeySpec) -> Result<(Option<aws::DataKeySpec>, Option<i32>), KmsError> {
    Ok(match spec {
        DataKeySpec::Aes256 => (Some(aws::DataKeySpec::Aes256), None),
        DataKeySpec::Aes128 => (Some(aws::DataKeySpec::Aes128), None),
        DataKeySpec::Bytes(n) => (
            None,
            Some(i32::try_from(n).map_err(|_| {
                KmsError::Validation(format!("NumberOfBytes {n} is not in 1..=1024"))
            })?),
        ),
    })
}

fn metadata(
    m: aws::KeyMetadata,
    current_version: u32,
    tags: std::collections::BTreeMap<String, String>,
) -> KeyMetadata {
    let arn = m.arn.unwrap_or_default();
    let account_id = m.aws_account_id.unwrap_or_else(|| account_of(&arn));
    let state = key_state(m.key_state.as_ref());
    let pending = state == KeyState::PendingDeletion;
    KeyMetadata {
        key_id: m.key_id,
        arn,
        account_id,
        description: m.description.unwrap_or_default(),
        state,
        creation_date: m.creation_date.as_ref().map_or(0, secs),
        deletion_date: m.deletion_date.as_ref().map(secs).filter(|_| pending),
        pending_deletion_window_days: m
            .pending_deletion_window_in_days
            .map(days)
            .filter(|_| pending),
        current_version,
        tags,
    }
}

#[async_trait]
impl Kms for RemoteKms {
    async fn create_key(&self, request: CreateKeyRequest) -> Result<KeyMetadata, KmsError> {
        const OP: &str = "CreateKey";
        let mut tags = Vec::with_capacity(request.tags.len());
        for (k, v) in &request.tags {
            tags.push(
                aws::Tag::builder()
                    .tag_key(k)
                    .tag_value(v)
                    .build()
                    .map_err(|e| KmsError::Validation(format!("{OP}: tag {k:?}: {e}")))?,
            );
        }
        let out = self
            .client
            .create_key()
            .description(request.description)
            .key_usage(aws::KeyUsageType::EncryptDecrypt)
            .key_spec(aws::KeySpec::SymmetricDefault)
            .set_tags((!tags.is_empty()).then_some(tags))
            .set_policy(request.policy)
            .bypass_policy_lockout_safety_check(request.bypass_policy_lockout_safety_check)
            .send()
            .await
            .map_err(|e| sdk_error(OP, e))?;
        let m = required(out.key_metadata, OP, "KeyMetadata")?;
        Ok(metadata(m, 1, request.tags))
    }

    async fn describe_key(&self, key_id: &str) -> Result<KeyMetadata, KmsError> {
        const OP: &str = "DescribeKey";
        let out = self
            .client
            .describe_key()
            .key_id(key_id)
            .send()
            .await
            .map_err(|e| sdk_error(OP, e))?;
        let m = required(out.key_metadata, OP, "KeyMetadata")?;
        let version = self
            .current_version(&m.key_id)
            .await
            .unwrap_or(KEY_VERSION_UNKNOWN);
        let tags = self.tags(&m.key_id).await;
        Ok(metadata(m, version, tags))
    }

    async fn list_keys(&self) -> Result<Vec<KeyListEntry>, KmsError> {
        const OP: &str = "ListKeys";
        let keys = self
            .client
            .list_keys()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| sdk_error(OP, e))?;
        keys.into_iter()
            .map(|k| {
                Ok(KeyListEntry {
                    key_id: required(k.key_id, OP, "KeyId")?,
                    arn: k.key_arn.unwrap_or_default(),
                })
            })
            .collect()
    }

    async fn create_alias(&self, alias_name: &str, target_key_id: &str) -> Result<(), KmsError> {
        self.client
            .create_alias()
            .alias_name(alias_name)
            .target_key_id(target_key_id)
            .send()
            .await
            .map_err(|e| sdk_error("CreateAlias", e))?;
        Ok(())
    }

    async fn delete_alias(&self, alias_name: &str) -> Result<(), KmsError> {
        self.client
            .delete_alias()
            .alias_name(alias_name)
            .send()
            .await
            .map_err(|e| sdk_error("DeleteAlias", e))?;
        Ok(())
    }

    /// Aliases that name no key (AWS's predefined `alias/aws/…` before first use) are left out.
    async fn list_aliases(&self, key_id: Option<&str>) -> Result<Vec<AliasEntry>, KmsError> {
        const OP: &str = "ListAliases";
        let aliases = self
            .client
            .list_aliases()
            .set_key_id(key_id.map(str::to_owned))
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| sdk_error(OP, e))?;
        Ok(aliases
            .into_iter()
            .filter_map(|a| {
                Some(AliasEntry {
                    alias_name: a.alias_name?,
                    alias_arn: a.alias_arn.unwrap_or_default(),
                    target_key_id: a.target_key_id?,
                })
            })
            .collect())
    }

    async fn enable_key(&self, key_id: &str) -> Result<(), KmsError> {
        self.client
            .enable_key()
            .key_id(key_id)
            .send()
            .await
            .map_err(|e| sdk_error("EnableKey", e))?;
        Ok(())
    }

    async fn disable_key(&self, key_id: &str) -> Result<(), KmsError> {
        self.client
            .disable_key()
            .key_id(key_id)
            .send()
            .await
            .map_err(|e| sdk_error("DisableKey", e))?;
        Ok(())
    }

    async fn enable_key_rotation(
        &self,
        key_id: &str,
        rotation_period_days: Option<u32>,
    ) -> Result<(), KmsError> {
        let period = rotation_period_days
            .map(|d| {
                i32::try_from(d).map_err(|_| {
                    KmsError::Validation(format!("RotationPeriodInDays {d} is not in 90..=2560"))
                })
            })
            .transpose()?;
        self.client
            .enable_key_rotation()
            .key_id(key_id)
            .set_rotation_period_in_days(period)
            .send()
            .await
            .map_err(|e| sdk_error("EnableKeyRotation", e))?;
        Ok(())
    }

    async fn disable_key_rotation(&self, key_id: &str) -> Result<(), KmsError> {
        self.client
            .disable_key_rotation()
            .key_id(key_id)
            .send()
            .await
            .map_err(|e| sdk_error("DisableKeyRotation", e))?;
        Ok(())
    }

    async fn get_key_rotation_status(&self, key_id: &str) -> Result<RotationStatus, KmsError> {
        let out = self
            .client
            .get_key_rotation_status()
            .key_id(key_id)
            .send()
            .await
            .map_err(|e| sdk_error("GetKeyRotationStatus", e))?;
        Ok(RotationStatus {
            key_id: out.key_id.unwrap_or_else(|| key_id.to_owned()),
            enabled: out.key_rotation_enabled,
            rotation_period_days: out.rotation_period_in_days.map(days),
            next_rotation_date: out.next_rotation_date.as_ref().map(secs),
            on_demand_rotation_start_date: out.on_demand_rotation_start_date.as_ref().map(secs),
        })
    }

    async fn rotate_key_on_demand(&self, key_id: &str) -> Result<String, KmsError> {
        const OP: &str = "RotateKeyOnDemand";
        let out = self
            .client
            .rotate_key_on_demand()
            .key_id(key_id)
            .send()
            .await
            .map_err(|e| sdk_error(OP, e))?;
        required(out.key_id, OP, "KeyId")
    }

    /// Versions are counted: the oldest rotation (by date) made version 2.
    async fn list_key_rotations(&self, key_id: &str) -> Result<Vec<RotationEntry>, KmsError> {
        const OP: &str = "ListKeyRotations";
        let mut rotations = self
            .client
            .list_key_rotations()
            .key_id(key_id)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| sdk_error(OP, e))?;
        rotations.sort_by_key(|r| r.rotation_date.as_ref().map_or(0, secs));
        Ok(rotations
            .into_iter()
            .zip(2u32..)
            .map(|(r, version)| RotationEntry {
                key_id: r.key_id.unwrap_or_else(|| key_id.to_owned()),
                version,
                rotation_date: r.rotation_date.as_ref().map_or(0, secs),
                rotation_type: match r.rotation_type {
                    Some(aws::RotationType::Automatic) => RotationType::Automatic,
                    _ => RotationType::OnDemand,
                },
            })
            .collect())
    }

    async fn schedule_key_deletion(
        &self,
        key_id: &str,
        pending_window_days: Option<u32>,
    ) -> Result<DeletionSchedule, KmsError> {
        const OP: &str = "ScheduleKeyDeletion";
        let window = pending_window_days
            .map(|d| {
                i32::try_from(d).map_err(|_| {
                    KmsError::Validation(format!("PendingWindowInDays {d} is not in 7..=30"))
                })
            })
            .transpose()?;
        let out = self
            .client
            .schedule_key_deletion()
            .key_id(key_id)
            .set_pending_window_in_days(window)
            .send()
            .await
            .map_err(|e| sdk_error(OP, e))?;
        Ok(DeletionSchedule {
            key_id: required(out.key_id, OP, "KeyId")?,
            deletion_date: required(out.deletion_date.as_ref(), OP, "DeletionDate").map(secs)?,
            pending_window_days: out
                .pending_window_in_days
                .map(days)
                .or(pending_window_days)
                .unwrap_or(30),
            key_state: out
                .key_state
                .as_ref()
                .map_or(KeyState::PendingDeletion, |s| key_state(Some(s))),
        })
    }

    async fn cancel_key_deletion(&self, key_id: &str) -> Result<String, KmsError> {
        const OP: &str = "CancelKeyDeletion";
        let out = self
            .client
            .cancel_key_deletion()
            .key_id(key_id)
            .send()
            .await
            .map_err(|e| sdk_error(OP, e))?;
        required(out.key_id, OP, "KeyId")
    }

    async fn generate_data_key(
        &self,
        key_id: &str,
        context: &EncryptionContext,
        spec: DataKeySpec,
    ) -> Result<DataKey, KmsError> {
        const OP: &str = "GenerateDataKey";
        let (key_spec, number_of_bytes) = spec_params(spec)?;
        let mut out = self
            .client
            .generate_data_key()
            .key_id(key_id)
            .set_key_spec(key_spec)
            .set_number_of_bytes(number_of_bytes)
            .set_encryption_context(context_map(context))
            .send()
            .await
            .map_err(|e| sdk_error(OP, e))?;
        // Moved out, not copied: the only copy left is wiped when `plaintext` drops.
        let plaintext =
            SecretBytes::from(required(out.plaintext.take(), OP, "Plaintext")?.into_inner());
        let blob = required(out.ciphertext_blob.take(), OP, "CiphertextBlob")?.into_inner();
        Ok(DataKey {
            plaintext,
            wrapped: Ciphertext {
                key_version: blob_version(&blob),
                ciphertext_blob: blob,
                key_arn: required(out.key_id.take(), OP, "KeyId")?,
            },
        })
    }

    async fn generate_data_key_without_plaintext(
        &self,
        key_id: &str,
        context: &EncryptionContext,
        spec: DataKeySpec,
    ) -> Result<Ciphertext, KmsError> {
        const OP: &str = "GenerateDataKeyWithoutPlaintext";
        let (key_spec, number_of_bytes) = spec_params(spec)?;
        let out = self
            .client
            .generate_data_key_without_plaintext()
            .key_id(key_id)
            .set_key_spec(key_spec)
            .set_number_of_bytes(number_of_bytes)
            .set_encryption_context(context_map(context))
            .send()
            .await
            .map_err(|e| sdk_error(OP, e))?;
        let blob = required(out.ciphertext_blob, OP, "CiphertextBlob")?.into_inner();
        Ok(Ciphertext {
            key_version: blob_version(&blob),
            ciphertext_blob: blob,
            key_arn: required(out.key_id, OP, "KeyId")?,
        })
    }

    async fn encrypt(
        &self,
        key_id: &str,
        plaintext: &[u8],
        context: &EncryptionContext,
    ) -> Result<Ciphertext, KmsError> {
        const OP: &str = "Encrypt";
        let out = self
            .client
            .encrypt()
            .key_id(key_id)
            .plaintext(Blob::new(plaintext))
            .set_encryption_context(context_map(context))
            .send()
            .await
            .map_err(|e| sdk_error(OP, e))?;
        let blob = required(out.ciphertext_blob, OP, "CiphertextBlob")?.into_inner();
        Ok(Ciphertext {
            key_version: blob_version(&blob),
            ciphertext_blob: blob,
            key_arn: required(out.key_id, OP, "KeyId")?,
        })
    }

    async fn decrypt(
        &self,
        ciphertext_blob: &[u8],
        context: &EncryptionContext,
        key_id: Option<&str>,
    ) -> Result<Plaintext, KmsError> {
        const OP: &str = "Decrypt";
        let mut out = self
            .client
            .decrypt()
            .ciphertext_blob(Blob::new(ciphertext_blob))
            .set_encryption_context(context_map(context))
            .set_key_id(key_id.map(str::to_owned))
            .send()
            .await
            .map_err(|e| sdk_error(OP, e))?;
        let plaintext =
            SecretBytes::from(required(out.plaintext.take(), OP, "Plaintext")?.into_inner());
        Ok(Plaintext {
            plaintext,
            key_arn: required(out.key_id.take(), OP, "KeyId")?,
            key_version: blob_version(ciphertext_blob),
        })
    }

    async fn re_encrypt(&self, request: ReEncryptRequest<'_>) -> Result<ReEncrypted, KmsError> {
        const OP: &str = "ReEncrypt";
        let out = self
            .client
            .re_encrypt()
            .ciphertext_blob(Blob::new(request.ciphertext_blob))
            .set_source_encryption_context(context_map(request.source_context))
            .set_source_key_id(request.source_key_id.map(str::to_owned))
            .destination_key_id(request.destination_key_id)
            .set_destination_encryption_context(context_map(request.destination_context))
            .send()
            .await
            .map_err(|e| sdk_error(OP, e))?;
        let blob = required(out.ciphertext_blob, OP, "CiphertextBlob")?.into_inner();
        Ok(ReEncrypted {
            ciphertext: Ciphertext {
                key_version: blob_version(&blob),
                ciphertext_blob: blob,
                key_arn: required(out.key_id, OP, "KeyId")?,
            },
            source_key_arn: required(out.source_key_id, OP, "SourceKeyId")?,
            source_key_version: blob_version(request.ciphertext_blob),
        })
    }

    async fn generate_random(&self, number_of_bytes: usize) -> Result<SecretBytes, KmsError> {
        const OP: &str = "GenerateRandom";
        let n = i32::try_from(number_of_bytes).map_err(|_| {
            KmsError::Validation(format!(
                "NumberOfBytes {number_of_bytes} is not in 1..=1024"
            ))
        })?;
        let mut out = self
            .client
            .generate_random()
            .number_of_bytes(n)
            .send()
            .await
            .map_err(|e| sdk_error(OP, e))?;
        Ok(SecretBytes::from(
            required(out.plaintext.take(), OP, "Plaintext")?.into_inner(),
        ))
    }

    async fn get_key_policy(&self, key_id: &str) -> Result<String, KmsError> {
        const OP: &str = "GetKeyPolicy";
        let out = self
            .client
            .get_key_policy()
            .key_id(key_id)
            .policy_name(DEFAULT_POLICY_NAME)
            .send()
            .await
            .map_err(|e| sdk_error(OP, e))?;
        required(out.policy, OP, "Policy")
    }

    async fn put_key_policy(
        &self,
        key_id: &str,
        policy: &str,
        bypass_policy_lockout_safety_check: bool,
    ) -> Result<(), KmsError> {
        self.client
            .put_key_policy()
            .key_id(key_id)
            .policy_name(DEFAULT_POLICY_NAME)
            .policy(policy)
            .bypass_policy_lockout_safety_check(bypass_policy_lockout_safety_check)
            .send()
            .await
            .map_err(|e| sdk_error("PutKeyPolicy", e))?;
        Ok(())
    }

    async fn list_key_policies(&self, key_id: &str) -> Result<Vec<String>, KmsError> {
        const OP: &str = "ListKeyPolicies";
        self.client
            .list_key_policies()
            .key_id(key_id)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| sdk_error(OP, e))
    }

    /// The same service, each request carrying the delegation in signed headers; the service must
    /// know these credentials as a service principal (`objseal kms serve`) to honour them.
    fn on_behalf_of(&self, delegation: &Delegation) -> std::sync::Arc<dyn Kms> {
        std::sync::Arc::new(self.delegating(delegation))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        assert!(check_endpoint("http://127.0.0.1:7878").is_ok());
        assert!(check_endpoint("https://kms.eu-west-1.amazonaws.com/").is_ok());
        for bad in ["", "127.0.0.1:7878", "ftp://host", "http://", "https:///x"] {
            assert!(
                matches!(check_endpoint(bad), Err(KmsError::Validation(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn states_and_arns() {
        assert_eq!(key_state(Some(&aws::KeyState::Enabled)), KeyState::Enabled);
        assert_eq!(
            key_state(Some(&aws::KeyState::PendingReplicaDeletion)),
            KeyState::PendingDeletion
        );
        assert_eq!(
            key_state(Some(&aws::KeyState::Unavailable)),
            KeyState::Disabled
        );
        assert_eq!(key_state(None), KeyState::Disabled);
        assert_eq!(
            account_of("arn:aws:kms:us-east-1:123456789012:key/abcd"),
            "123456789012"
        );
        assert_eq!(account_of("nonsense"), "");
    }

    #[test]
    fn specs() {
        assert_eq!(
            spec_params(DataKeySpec::Aes256).unwrap(),
            (Some(aws::DataKeySpec::Aes256), None)
        );
        assert_eq!(
            spec_params(DataKeySpec::Bytes(64)).unwrap(),
            (None, Some(64))
        );
        assert!(spec_params(DataKeySpec::Bytes(usize::MAX)).is_err());
    }

    #[test]
    fn credentials_are_redacted() {
        let mut c = RemoteCredentials::new("AKID", "s3cr3t-value");
        c.session_token = Some(Zeroizing::new("t0k3n-value".into()));
        let shown = format!("{c:?}");
        assert!(shown.contains("AKID"));
        assert!(
            !shown.contains("s3cr3t") && !shown.contains("t0k3n"),
            "{shown}"
        );
    }
}
