//! The server: the [`SseLayer`] over a [`LocalStore`],
//! behind SigV4 authentication, on a TCP listener with optional TLS.
//!
//! [`Server::start`] prepares the data directory ([`ServerConfig`] lists what it holds), opens
//! the keys and the store, binds the listener and serves in a background task until
//! [`RunningServer::shutdown`]:
//!
//! * **Keys.** The root key (`<data>/root.key`, made on first start) seals the embedded keystore
//!   (`<data>/kms/keys.store`, audit log beside it) and derives, by HKDF-SHA-256
//!   ([`SSE_S3_KEK_LABEL`]), the SSE-S3 key-encryption key — and, for a gateway over a backend
//!   store, the key authenticating its state there ([`GATEWAY_STATE_KEY_LABEL`]). SSE-KMS uses the keystore, or a
//!   remote AWS-KMS-compatible service ([`ServerConfig::remote_kms`]); the default key
//!   ([`DEFAULT_KMS_KEY_ALIAS`]) is created on first start.
//! * **Authentication.** s3s checks SigV4 (header, presigned URL, `aws-chunked` bodies) against
//!   the access keys ([`ServerConfig::access_keys`], else `<data>/credentials`, made on first
//!   start); unsigned S3 requests are refused with `403 AccessDenied`.
//! * **Own endpoints.** `GET /_objseal/health` and `GET /_objseal/metrics` (Prometheus text),
//!   without authentication ([`routes`]).
//! * **Every request** carries a [`Transport`](crate::internal::Transport) and a [`RequestId`] in
//!   its extensions; every answer carries `x-amz-request-id` (also inside XML errors) and is
//!   logged with `tracing` — never header values, keys or secrets ([`http`]).
//!
//! ```no_run
//! use objseal_server::server::{Server, ServerConfig};
//! # async fn run() -> Result<(), objseal_server::server::ServerError> {
//! let config = ServerConfig::new("objseal-data").with_listen("127.0.0.1:0".parse().unwrap());
//! let server = Server::start(config).await?;
//! println!("{} (access key {})", server.endpoint(), server.access_key().id);
//! server.shutdown().await
//! # }
//! ```

pub mod access;
mod config;
mod credentials;
mod error;
mod fsutil;
pub mod http;
mod keys;
pub mod routes;
pub mod stall;
mod tls;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use self::access::{ACCESS_LOG_FILE, AccessRecord, read_access_log};
pub use self::config::{
    DEFAULT_BODY_TIMEOUT, DEFAULT_DATA_DIR, DEFAULT_HEADER_TIMEOUT, DEFAULT_KMS_KEY_ALIAS,
    DEFAULT_LISTEN, DEFAULT_MAX_CONNECTIONS, DEFAULT_SHUTDOWN_GRACE, ServerConfig, TlsFiles,
};
pub use self::credentials::{
    ACCESS_KEY_ID_LEN, AccessKey, CREDENTIALS_FILE, CredentialSource, SECRET_KEY_LEN,
};
pub use self::error::ServerError;
pub use self::http::{REQUEST_ID_HEADER, RequestId};
pub use self::keys::{
    GATEWAY_STATE_KEY_LABEL, KEYSTORE_PATH, KMS_PRINCIPAL, KmsKind, ROOT_KEY_FILE, RootKeySource,
    SSE_S3_KEK_ID, SSE_S3_KEK_LABEL, default_key_policy, gateway_state_key,
};
use crate::metrics::Metrics;
use crate::{LocalStore, SseLayer};

/// The directory of the objects, relative to the data directory.
pub const STORE_DIR: &str = "store";

/// Starts servers; see the [module documentation](self).
#[derive(Debug)]
pub struct Server;

impl Server {
    /// Prepares the data directory, opens keys, KMS and store, binds `config.listen` and serves
    /// in a background task. Needs a multi-threaded Tokio runtime (with time and I/O drivers).
    ///
    /// # Errors
    /// A [`ServerError`] naming what failed: the data directory, a secret file, the KMS, the TLS
    /// files or the listen address. Nothing is served then.
    pub async fn start(config: ServerConfig) -> Result<RunningServer, ServerError> {
        if let Some(backend) = &config.backend {
            let store = crate::store::RemoteStore::connect(backend.clone())
                .await
                .map_err(|e| ServerError::Config(format!("the backing store: {e}")))?;
            return Self::start_with_store(config, store).await;
        }
        let store_dir = config.data_dir.join(STORE_DIR);
        fsutil::create_private_dir(&config.data_dir)?;
        let store = LocalStore::open(&store_dir).map_err(|e| {
            ServerError::io(
                format!("opening the object store {}", store_dir.display()),
                e,
            )
        })?;
        Self::start_with_store(config, store).await
    }

    /// As [`Server::start`], over `store` instead of a [`LocalStore`] in the data directory
    /// (which still holds the root key, the credentials and the embedded keystore).
    ///
    /// # Errors
    /// As [`Server::start`].
    pub async fn start_with_store<S: s3s::S3>(
        config: ServerConfig,
        mut store: S,
    ) -> Result<RunningServer, ServerError> {
        if config.max_connections == 0 {
            return Err(ServerError::Config(
                "max_connections must be positive".into(),
            ));
        }
        fsutil::create_private_dir(&config.data_dir)?;
        // Only a local store is this server's alone; any other may be shared by other servers.
        let is_local = std::any::TypeId::of::<S>() == std::any::TypeId::of::<LocalStore>();
        let backend_health = (&store as &dyn std::any::Any)
            .downcast_ref::<crate::store::RemoteStore>()
            .map(|remote| Arc::new(routes::BackendHealth::new(remote.clone())));
        let tls = config.tls.as_ref().map(tls::acceptor).transpose()?;
        let (root_key, root_key_source) =
            keys::root_key(&config.data_dir, config.root_key.as_ref())?;
        // A gateway's state in its backend is authenticated under a key of the root key's.
        if let Some(remote) =
            (&mut store as &mut dyn std::any::Any).downcast_mut::<crate::store::RemoteStore>()
        {
            *remote = remote
                .clone()
                .with_state_key(&keys::gateway_state_key(&root_key));
        }
        let (credentials, principals) = credentials::principals(&config)?;
        let directory = Arc::new(crate::principals::Directory::new(&principals));
        let access_log = access::open_log(&config.data_dir)?;
        let sse_s3 = keys::sse_s3_kek(&root_key)?;
        let upload_id_key = keys::upload_id_key(&root_key);
        let (kms, kms_kind) = keys::open_kms(&config, &root_key).await?;
        drop(root_key);
        let default_kms_key_arn = keys::ensure_default_key(
            kms.as_ref(),
            &config.sse.default_kms_key,
            &config.sse.region,
        )
        .await?;

        if tracing::enabled!(target: "s3s", tracing::Level::DEBUG) {
            tracing::warn!(
                "debug logging is on for s3s, which logs whole requests — SSE-C keys and \
                 signatures included: keep the s3s target at info or above in production"
            );
        }
        let metrics = Arc::new(Metrics::default());
        // The default key is pinned by ARN: an alias moved later (by anyone who may create
        // aliases) cannot redirect the server's new objects to another key.
        let mut sse = config.sse.clone();
        sse.default_kms_key.clone_from(&default_kms_key_arn);
        if sse.open_inline_max.is_none() && backend_health.is_some() {
            sse.open_inline_max = Some(crate::sse::GATEWAY_OPEN_INLINE_MAX);
        }
        let mut layer = SseLayer::new(
            store,
            kms,
            sse_s3,
            *upload_id_key,
            sse,
            Arc::clone(&metrics),
        );
        if config.kms_as_server && config.remote_kms.is_some() {
            tracing::warn!(
                "SSE-KMS calls use the server's own KMS rights (kms_as_server): the KMS's key \
                 policies see the server, not the principal, so they do not separate roles"
            );
        } else {
            layer = layer.with_principals(Arc::clone(&directory));
        }
        let mut auth = SimpleAuth::new();
        for key in &credentials.keys {
            auth.register(key.id.clone(), key.secret.as_str().into());
        }
        let auth = credentials::KnownKeys(auth);
        // Bucket policies are read from the store when first needed; a store other servers
        // share is read again after at most a second, so that none enforces a stale policy.
        let layer = layer.with_policies_from_store(if is_local {
            crate::sse::PolicyFreshness::Kept
        } else {
            crate::sse::PolicyFreshness::Ttl(crate::sse::SHARED_POLICY_TTL)
        });
        let gate = access::PolicyGate {
            policies: layer.bucket_policies(),
            directory,
            log: access_log,
        };
        let mut builder = S3ServiceBuilder::new(layer);
        builder.set_auth(auth);
        builder.set_access(gate);
        builder.set_validation(routes::ReservedNames);
        builder.set_route(routes::ServerRoutes {
            metrics: Arc::clone(&metrics),
            backend_health,
        });
        let service = builder.build();

        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| ServerError::Bind {
                    addr: config.listen,
                    source,
                })?;
        let local_addr = listener
            .local_addr()
            .map_err(|e| ServerError::io("reading the bound address", e))?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        let endpoint = format!("{scheme}://{local_addr}");
        let (stop, stopped) = watch::channel(false);
        let serving = http::Serving {
            service,
            tls,
            header_timeout: config.header_timeout,
            body_timeout: config.body_timeout,
            max_connections: config.max_connections,
            shutdown_grace: config.shutdown_grace,
        };
        let task = tokio::spawn(http::serve(serving, listener, stopped));
        tracing::info!(
            endpoint,
            data_dir = %config.data_dir.display(),
            kms = ?kms_kind,
            default_kms_key = %default_kms_key_arn,
            access_key_id = %credentials.keys[0].id,
            credentials = ?credentials.source,
            root_key = ?root_key_source,
            "objseal server started"
        );
        Ok(RunningServer {
            info: ServerInfo {
                local_addr,
                endpoint,
                data_dir: config.data_dir,
                access_keys: credentials.keys,
                credential_source: credentials.source,
                root_key_source,
                kms: kms_kind,
                default_kms_key_arn,
                metrics,
            },
            stop: ShutdownHandle(Arc::new(stop)),
            task: Some(task),
        })
    }
}

/// What a running server is, for the operator's printout and tests.
struct ServerInfo {
    local_addr: SocketAddr,
    endpoint: String,
    data_dir: PathBuf,
    access_keys: Vec<AccessKey>,
    credential_source: CredentialSource,
    root_key_source: RootKeySource,
    kms: KmsKind,
    default_kms_key_arn: String,
    metrics: Arc<Metrics>,
}

/// Stops a running server from anywhere (a signal handler, another task). Cheap to clone.
#[derive(Clone, Debug)]
pub struct ShutdownHandle(Arc<watch::Sender<bool>>);

impl ShutdownHandle {
    /// Asks the server to stop: it stops accepting and finishes the requests in flight.
    pub fn shutdown(&self) {
        self.0.send_replace(true);
    }
}

/// A server serving in a background task ([`Server::start`]). Dropping it asks the server to
/// stop without waiting; [`RunningServer::shutdown`] waits.
pub struct RunningServer {
    info: ServerInfo,
    stop: ShutdownHandle,
    task: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for RunningServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningServer")
            .field("endpoint", &self.info.endpoint)
            .field("data_dir", &self.info.data_dir)
            .field("access_keys", &self.info.access_keys)
            .field("kms", &self.info.kms)
            .finish_non_exhaustive()
    }
}

impl RunningServer {
    /// The address it listens on (the real port when port 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.info.local_addr
    }

    /// `http://ADDR:PORT` or `https://ADDR:PORT`, for `--endpoint-url`.
    pub fn endpoint(&self) -> &str {
        &self.info.endpoint
    }

    /// The data directory.
    pub fn data_dir(&self) -> &std::path::Path {
        &self.info.data_dir
    }

    /// The (first) access key clients sign with.
    pub fn access_key(&self) -> &AccessKey {
        &self.info.access_keys[0]
    }

    /// Every access key accepted.
    pub fn access_keys(&self) -> &[AccessKey] {
        &self.info.access_keys
    }

    /// Where the access keys came from ([`CredentialSource::Generated`]: show them once).
    pub fn credential_source(&self) -> CredentialSource {
        self.info.credential_source
    }

    /// `<data>/credentials`, where a generated access key is kept.
    pub fn credentials_path(&self) -> PathBuf {
        self.info.data_dir.join(CREDENTIALS_FILE)
    }

    /// Where the root key came from.
    pub fn root_key_source(&self) -> RootKeySource {
        self.info.root_key_source
    }

    /// Which KMS serves SSE-KMS.
    pub fn kms(&self) -> &KmsKind {
        &self.info.kms
    }

    /// The ARN of the default SSE-KMS key.
    pub fn default_kms_key_arn(&self) -> &str {
        &self.info.default_kms_key_arn
    }

    /// The server's metrics.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.info.metrics
    }

    /// A handle that stops the server from elsewhere (then [`RunningServer::wait`] returns).
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.stop.clone()
    }

    /// Stops accepting, lets requests in flight finish (up to
    /// [`ServerConfig::shutdown_grace`]) and waits for the server task to end.
    ///
    /// # Errors
    /// [`ServerError::Task`] if the server task panicked.
    pub async fn shutdown(mut self) -> Result<(), ServerError> {
        self.stop.shutdown();
        self.join().await
    }

    /// Waits until the server stops (through a [`ShutdownHandle`]).
    ///
    /// # Errors
    /// [`ServerError::Task`] if the server task panicked.
    pub async fn wait(mut self) -> Result<(), ServerError> {
        self.join().await
    }

    async fn join(&mut self) -> Result<(), ServerError> {
        let result = match self.task.take() {
            Some(task) => task.await.map_err(|e| ServerError::Task(e.to_string())),
            None => Ok(()),
        };
        tracing::info!(endpoint = self.info.endpoint, "objseal server stopped");
        result
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        if self.task.is_some() {
            self.stop.shutdown();
        }
    }
}
