//! [`ServerConfig`]: where the server listens, keeps its data and gets its keys.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use objseal_kms::RootKey;
use objseal_kms::principal::Principal;
use objseal_kms::remote::RemoteConfig;

use super::credentials::AccessKey;
use crate::sse::SseConfig;
use crate::store::RemoteStoreConfig;

/// Where the server listens when nothing else is said: loopback only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9000";
/// The data directory when nothing else is said (relative to the working directory).
pub const DEFAULT_DATA_DIR: &str = "objseal-data";
/// The KMS key SSE-KMS requests use when they name none; created on first start.
pub const DEFAULT_KMS_KEY_ALIAS: &str = "alias/objseal-default";
/// How long a shutdown waits for requests in flight by default.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// Time allowed to receive a request's headers; also how long an idle keep-alive connection
/// stays open.
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(30);
/// The default cap on open connections; more wait in the listen backlog.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
/// How long a request body may stall ([`ServerConfig::body_timeout`]): Amazon S3 answers
/// `RequestTimeout` after about 20 s of silence; clients retry.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(30);

/// A TLS certificate chain and its private key, both PEM files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain, leaf first (`-----BEGIN CERTIFICATE-----` blocks).
    pub cert_chain: PathBuf,
    /// The private key (PKCS#8, PKCS#1 or SEC1 PEM).
    pub private_key: PathBuf,
}

/// How a [`Server`](super::Server) runs.
///
/// The data directory holds everything the embedded defaults need:
///
/// | path | what |
/// |---|---|
/// | `root.key` | the root key (mode 0600), made on first start unless [`ServerConfig::root_key`] is given |
/// | `credentials` | the generated access key (mode 0600, AWS shared-credentials format), unless [`ServerConfig::access_keys`] are given |
/// | `kms/keys.store`, `kms/keys.store.audit.jsonl` | the embedded keystore and its audit log (not with [`ServerConfig::remote_kms`]) |
/// | `store/` | the objects ([`LocalStore`](crate::LocalStore)); not with [`ServerConfig::backend`] |
///
/// The library reads no environment variables; the `objseal serve` command maps its flags and
/// environment onto this structure.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// The address to listen on (port 0: any free port; see
    /// [`RunningServer::local_addr`](super::RunningServer::local_addr)).
    pub listen: SocketAddr,
    /// The data directory; created (mode 0700) when missing.
    pub data_dir: PathBuf,
    /// The root key; `None`: `<data>/root.key`, made on first start. When given and the file
    /// exists too, both must hold the same key.
    pub root_key: Option<RootKey>,
    /// Serve SSE-KMS from this AWS-KMS-compatible service instead of the embedded keystore.
    pub remote_kms: Option<RemoteConfig>,
    /// Keep buckets and objects in this S3-compatible service
    /// ([`RemoteStore`](crate::store::RemoteStore)) instead of `<data>/store`: the stateless
    /// gateway. Gateways sharing a backend must share the root key and the KMS.
    pub backend: Option<RemoteStoreConfig>,
    /// The access keys clients sign with; empty: the pair stored in `<data>/credentials`, made
    /// on first start (the principal `admin`). Each configured key is a principal named after its
    /// id, or `admin` when it is the only one. Not together with [`ServerConfig::principals`].
    pub access_keys: Vec<AccessKey>,
    /// Named principals (from a principals file): who may sign requests. Bucket policies name
    /// them `arn:aws:iam::000000000000:user/<name>`, and SSE-KMS calls are made on their behalf.
    pub principals: Vec<Principal>,
    /// With [`ServerConfig::remote_kms`]: make SSE-KMS calls with the server's own KMS rights
    /// instead of on behalf of each principal — for a KMS that cannot act on behalf of others
    /// (AWS KMS, moto; `objseal kms serve` can). Key policies then see the server, not the user:
    /// no role separation. Without it, a KMS that does not confirm delegation refuses every
    /// SSE-KMS request.
    pub kms_as_server: bool,
    /// Serve HTTPS with this certificate; `None`: plain HTTP.
    pub tls: Option<TlsFiles>,
    /// The SSE layer's settings, among them the default KMS key (created on first start when it
    /// is an alias that does not exist) and whether SSE-C is allowed over plain HTTP.
    pub sse: SseConfig,
    /// How long a shutdown waits for requests in flight before closing their connections.
    pub shutdown_grace: Duration,
    /// Time allowed to receive a request's headers; also the keep-alive idle timeout.
    pub header_timeout: Duration,
    /// How long a request body may deliver nothing while the server waits for it: then the
    /// request ends with 400 `RequestTimeout` and its connection closes ([`stall`](super::stall)).
    pub body_timeout: Duration,
    /// The most connections served at once.
    pub max_connections: usize,
}

impl ServerConfig {
    /// The embedded defaults for `data_dir`: [`DEFAULT_LISTEN`], a root key and access key made
    /// on first start, the embedded keystore, plain HTTP, [`SseConfig::default`].
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            listen: DEFAULT_LISTEN
                .parse()
                .unwrap_or_else(|_| unreachable!("a valid socket address")),
            data_dir: data_dir.into(),
            root_key: None,
            remote_kms: None,
            backend: None,
            access_keys: Vec::new(),
            principals: Vec::new(),
            kms_as_server: false,
            tls: None,
            sse: SseConfig::default(),
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }

    /// The same, listening on `listen`.
    pub fn with_listen(mut self, listen: SocketAddr) -> Self {
        self.listen = listen;
        self
    }

    /// The same, with SSE-KMS served by the AWS-KMS-compatible service at `endpoint` (region
    /// `region`, else the environment's, else `us-east-1`; credentials from the usual AWS
    /// sources).
    pub fn with_remote_kms(mut self, endpoint: impl Into<String>, region: Option<String>) -> Self {
        self.remote_kms = Some(RemoteConfig {
            endpoint_url: Some(endpoint.into()),
            region,
            ..RemoteConfig::default()
        });
        self
    }
}
