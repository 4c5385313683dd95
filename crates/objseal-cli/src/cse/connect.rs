//! From the command line to a client: the S3 configuration, the KMS, the keyrings, the context.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Result, anyhow, bail};
use objseal_client::{
    ClientConfig, ClientError, CommitmentPolicy, EncryptingClient, Keyring, Location,
};
use objseal_kms::Kms;
use objseal_kms::remote::{RemoteConfig, RemoteKms};

use super::args::{KeyOptions, ReadOptions, S3Options, Transfer};
use crate::keyfile;
use crate::kms::{KmsConnection, open_kms};

/// The client's configuration: what the command line says, the rest left to the AWS environment
/// (credentials always come from there: environment variables, profiles, instance roles).
pub fn client_config(
    s3: &S3Options,
    transfer: Option<&Transfer>,
    region: Option<&str>,
) -> ClientConfig {
    let defaults = ClientConfig::default();
    let endpoint_given = s3.endpoint_url.is_some()
        || ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]
            .iter()
            .any(|v| std::env::var_os(v).is_some_and(|v| !v.is_empty()));
    let (part_size, concurrency) = match transfer {
        Some(t) => (
            usize::try_from(t.part_size).unwrap_or(usize::MAX),
            usize::from(t.concurrency),
        ),
        None => (defaults.part_size, defaults.concurrency),
    };
    ClientConfig {
        endpoint_url: s3.endpoint_url.clone(),
        region: region.map(str::to_owned),
        profile: s3.profile.clone(),
        credentials: None,
        force_path_style: s3.path_style || (endpoint_given && !s3.virtual_hosted),
        part_size,
        multipart_threshold: part_size,
        concurrency,
        request_checksums: !s3.no_checksums,
        ..defaults
    }
}

/// Connects (reads the AWS environment, resolves KMS keys to ARNs; sends nothing to S3).
pub async fn connect(config: ClientConfig, keys: Keyring) -> Result<EncryptingClient> {
    // The client's messages already include their sources: shown once, not as a chain.
    EncryptingClient::connect(config, keys)
        .await
        .map_err(|e| match e {
            ClientError::Kms(e) => anyhow!("cannot use the KMS key: {e}"),
            other => anyhow!("{other}"),
        })
}

/// The KMS of the command line, connected on first use (only commands naming a KMS key need one).
pub struct KmsOpener<'a> {
    conn: &'a KmsConnection,
    profile: Option<&'a str>,
    kms: Option<Arc<dyn Kms>>,
}

impl<'a> KmsOpener<'a> {
    /// For `conn`; a remote KMS signs with the credentials of `profile` when given.
    pub fn new(conn: &'a KmsConnection, profile: Option<&'a str>) -> Self {
        Self {
            conn,
            profile,
            kms: None,
        }
    }

    /// The KMS, connected now if it was not yet.
    pub async fn get(&mut self) -> Result<Arc<dyn Kms>> {
        if let Some(kms) = &self.kms {
            return Ok(kms.clone());
        }
        let kms: Arc<dyn Kms> = match (&self.conn.kms_endpoint, self.profile) {
            // `open_kms` leaves the profile to AWS_PROFILE; --profile must reach the KMS too.
            (Some(endpoint), Some(profile)) => {
                if self.conn.root_key_file.is_some() || self.conn.audit_log.is_some() {
                    bail!(
                        "--root-key-file and --audit-log are for the embedded keystore, not \
                         --kms-endpoint"
                    );
                }
                Arc::new(
                    RemoteKms::connect(RemoteConfig {
                        endpoint_url: Some(endpoint.clone()),
                        region: self.conn.region.clone(),
                        profile: Some(profile.to_owned()),
                        ..RemoteConfig::default()
                    })
                    .await?,
                )
            }
            _ => Arc::from(open_kms(self.conn, false).await?),
        };
        self.kms = Some(kms.clone());
        Ok(kms)
    }
}

/// A keyring of key files and KMS keys (KMS keys first: the first one generates data keys).
pub async fn recipients(
    files: &[PathBuf],
    kms_keys: &[String],
    kms: &mut KmsOpener<'_>,
) -> Result<Keyring> {
    let mut keyring = Keyring::new();
    for key in kms_keys {
        keyring = keyring.with_kms_key(kms.get().await?, key.clone());
    }
    for file in files {
        keyring = keyring.with_kek(keyfile::load(file)?);
    }
    Ok(keyring)
}

/// The keys a reader uses: those given, and the KMS for discovery when opted in.
pub async fn read_keyring(
    keys: &KeyOptions,
    read: &ReadOptions,
    kms: &mut KmsOpener<'_>,
) -> Result<Keyring> {
    let mut keyring = recipients(&keys.keys, &keys.kms_keys, kms).await?;
    if read.discovery {
        keyring = keyring.with_discovery(kms.get().await?);
    }
    Ok(keyring)
}

/// The `-c` pairs; a key given twice is an error.
pub fn context(pairs: &[(String, String)]) -> Result<BTreeMap<String, String>> {
    let mut map = BTreeMap::new();
    for (k, v) in pairs {
        if map.insert(k.clone(), v.clone()).is_some() {
            bail!("encryption context key `{k}` is given twice");
        }
    }
    Ok(map)
}

/// Where a read object was written: `--written-as`, `--unbound`, or where it is.
pub fn location(read: &ReadOptions) -> Location {
    match (&read.written_as, read.unbound) {
        (Some(url), _) => Location::WrittenAs {
            bucket: url.bucket.clone(),
            key: url.key.clone(),
        },
        (None, true) => Location::Unbound,
        (None, false) => Location::Here,
    }
}

/// The commitment policy for AWS S3 Encryption Client objects.
pub fn commitment(read: &ReadOptions) -> CommitmentPolicy {
    if read.allow_legacy {
        CommitmentPolicy::AllowLegacy
    } else {
        CommitmentPolicy::RequireCommitment
    }
}

/// Whether no credentials can be had, as the client looks for them (environment, `profile` or
/// AWS_PROFILE, web identity, containers, instances).
pub async fn credentials_missing(profile: Option<&str>) -> bool {
    use aws_config::BehaviorVersion;
    use aws_sdk_s3::config::ProvideCredentials as _;
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https();
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).http_client(http);
    if let Some(profile) = profile {
        loader = loader.profile_name(profile);
    }
    match loader.load().await.credentials_provider() {
        None => true,
        Some(provider) => provider.provide_credentials().await.is_err(),
    }
}
