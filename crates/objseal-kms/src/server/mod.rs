//! `objseal kms serve`: any [`Kms`] over HTTP, speaking the AWS KMS JSON 1.1 protocol with SigV4.
//!
//! boto3, the AWS CLI and the AWS SDKs work against it unchanged (`--endpoint-url`). Every request:
//!
//! 1. is read up to [`ServerConfig::max_body_bytes`] (more: `413 RequestEntityTooLargeException`);
//! 2. is authenticated by its SigV4 signature ([`sigv4`]) against the configured access keys, region
//!    and service `kms`, within the allowed clock skew (refusals: `MissingAuthenticationToken`,
//!    `IncompleteSignature`, `InvalidSignature` or `UnrecognizedClient` exceptions, all 400);
//! 3. must be `POST /` with `X-Amz-Target: TrentService.<Operation>` and
//!    `Content-Type: application/x-amz-json-1.1` (`UnknownOperationException` otherwise), and carry a
//!    JSON object body (`SerializationException` otherwise);
//! 4. runs on the [`Kms`] ([`protocol`] maps fields and results); an access key limited to some keys
//!    ([`AccessKey::allow_only`]) gets `AccessDeniedException` for any other key.
//!
//! Errors are `{"__type": "<AWS name>", "message": "…"}` with the AWS status; every answer carries
//! `x-amzn-RequestId`. A refused request changes nothing. Every request, refused or not, is written to
//! the audit log when one is configured — principal (access key id, or `anonymous` when
//! authentication failed), operation, key, key version, encryption context, result, source address
//! and request id — and if that write fails the answer is `500 KMSInternalException`, so no key
//! material leaves unaudited. Operational logs (`tracing`) hold method, operation, status and latency,
//! never bodies.
//!
//! ```no_run
//! use std::sync::Arc;
//! use objseal_kms::server::{AccessKey, KmsServer, ServerConfig};
//! # async fn run(kms: Arc<dyn objseal_kms::Kms>) -> std::io::Result<()> {
//! let config = ServerConfig::new("us-east-1", vec![AccessKey::new("AKIDLOCAL", "secret")]);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! objseal_kms::server::serve(config, kms, listener, async {
//!     let _ = tokio::signal::ctrl_c().await;
//! })
//! .await
//! # }
//! ```

pub mod protocol;
pub mod sigv4;

use std::collections::HashMap;
use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Body;
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use zeroize::Zeroizing;

use crate::audit::{AuditEvent, AuditLog};
use crate::principal::{Identity, Principal};
pub use crate::remote_headers::{
    ON_BEHALF_OF_HEADER, SOURCE_ADDRESS_HEADER, SOURCE_REQUEST_ID_HEADER,
};
use crate::{Delegation, Kms};
use protocol::{ErrorReply, Operation};

/// The default limit on a request body: 256 KiB.
///
/// AWS KMS's largest request field is a key policy of at most 128 KiB (`CreateKey`, `PutKeyPolicy`);
/// every operation served here is far smaller (a ciphertext blob is at most 6 KiB, base64 8 KiB; a
/// plaintext 4 KiB; a description 8 KiB). Twice the largest AWS field leaves room for JSON escaping
/// while bounding what one request can make the server buffer.
pub const DEFAULT_MAX_BODY_BYTES: usize = 256 * 1024;

/// The default allowed difference between a request's `X-Amz-Date` and the server's clock, as AWS.
pub const DEFAULT_MAX_CLOCK_SKEW: Duration = Duration::from_secs(15 * 60);

/// The default time allowed to receive a request's headers, and then its body.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The default cap on open connections; more wait in the listen backlog. Idle keep-alive connections
/// are closed after [`ServerConfig::request_timeout`], so a slot is never held for long by nothing.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;

/// How long a shutdown waits for requests in flight before closing their connections.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// The service name in SigV4 credential scopes.
pub const SERVICE: &str = "kms";

/// An access key: id and secret, as for AWS, the principal it belongs to, and optionally the only
/// keys it may use.
#[derive(Clone)]
pub struct AccessKey {
    /// The access key id (`AWS_ACCESS_KEY_ID`).
    pub id: String,
    /// The principal's name (its ARN is `arn:aws:iam::<account>:user/<name>`); the access key id
    /// for keys made with [`AccessKey::new`].
    pub name: String,
    /// The principal's groups.
    pub groups: Vec<String>,
    /// `Some(service)`: a service principal, which may sign requests on behalf of another
    /// principal of this server (naming it in the signed [`ON_BEHALF_OF_HEADER`]); the key
    /// policies then see that principal, with `kms:ViaService` = `<service>.<region>.amazonaws.com`.
    pub service: Option<String>,
    /// The secret access key (`AWS_SECRET_ACCESS_KEY`); wiped when dropped, never printed.
    pub secret: Zeroizing<String>,
    /// `None`: every key. `Some(list)`: only the KMS keys whose key id or key ARN is listed; such an
    /// access key may not create keys, and `ListKeys`/`ListAliases` show it only its keys.
    pub allowed_keys: Option<Vec<String>>,
}

impl AccessKey {
    /// An access key allowed every KMS key, of a principal named after it.
    pub fn new(id: impl Into<String>, secret: impl Into<String>) -> Self {
        let id = id.into();
        Self {
            name: id.clone(),
            id,
            secret: Zeroizing::new(secret.into()),
            groups: Vec::new(),
            service: None,
            allowed_keys: None,
        }
    }

    /// The access key of a named principal.
    pub fn from_principal(principal: &Principal) -> Self {
        Self {
            id: principal.access_key_id.clone(),
            name: principal.name.clone(),
            secret: principal.secret.clone(),
            groups: principal.groups.clone(),
            service: principal.service.clone(),
            allowed_keys: None,
        }
    }

    /// The identity requests signed with this key act as, in `account_id`.
    pub fn identity(&self, account_id: &str) -> Identity {
        Principal {
            name: self.name.clone(),
            access_key_id: self.id.clone(),
            secret: Zeroizing::new(String::new()),
            groups: self.groups.clone(),
            service: None,
        }
        .identity(account_id)
    }

    /// Limits this access key to the KMS keys listed by key id or key ARN (not by alias: aliases
    /// move).
    pub fn allow_only<I, S>(mut self, keys: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.allowed_keys = Some(keys.into_iter().map(Into::into).collect());
        self
    }

    /// Whether this access key may use the KMS key with this id and ARN.
    pub fn allows(&self, key_id: &str, key_arn: &str) -> bool {
        match &self.allowed_keys {
            None => true,
            Some(list) => list.iter().any(|k| k == key_id || k == key_arn),
        }
    }
}

impl fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessKey")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("secret", &"<redacted>")
            .field("groups", &self.groups)
            .field("service", &self.service)
            .field("allowed_keys", &self.allowed_keys)
            .finish()
    }
}

/// Which requests the server itself writes to [`ServerConfig::audit`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum AuditScope {
    /// Every request, refused or not (for a [`Kms`] that keeps no audit log of its own).
    #[default]
    EveryRequest,
    /// Only the requests whose outcome the server decided without the [`Kms`] having the last word:
    /// authentication and protocol refusals, invalid parameters, access denied. For a [`Kms`] made
    /// per caller ([`KmsServer::per_caller`]) that records its own operations, with that caller, in
    /// the same log: each request is then recorded exactly once.
    NotSeenByKms,
}

/// Who sent a request, as a [`Kms`] made per caller is told.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// The access key id that signed the request.
    pub principal: String,
    /// The principal that signed it.
    pub identity: Identity,
    /// When a service principal signed it on behalf of another principal: that principal and the
    /// service (hand it to [`Kms::on_behalf_of`] of the signer's [`Kms`]).
    pub delegation: Option<Delegation>,
    /// The client's socket address.
    pub source: Option<SocketAddr>,
    /// The request id returned to the client (`x-amzn-RequestId`).
    pub request_id: String,
}

/// Makes the [`Kms`] that serves one authenticated request, e.g.
/// `|c| Arc::new(local.with_principal(&c.principal).with_request_id(&c.request_id))`.
pub type KmsForCaller = Arc<dyn Fn(&Caller) -> Arc<dyn Kms> + Send + Sync>;

/// The [`KmsForCaller`] of the embedded keystore: each request runs as the principal that signed it
/// (key policies are checked for it), or — when a service principal signed it on another's
/// behalf — as that principal through the service; the keystore's audit events carry the source
/// address and request id. Pair it with [`AuditScope::NotSeenByKms`].
///
/// ```
/// use objseal_kms::server::{AccessKey, AuditScope, KmsServer, ServerConfig, local_for_callers};
/// # let dir = tempfile::tempdir().unwrap();
/// let local = objseal_kms::LocalKms::open(objseal_kms::LocalKmsConfig::new(
///     dir.path().join("keys"), objseal_kms::RootKey::from_bytes([1; 32]))).unwrap();
/// let config = ServerConfig::new("us-east-1", vec![AccessKey::new("AKID", "secret")]);
/// let server = KmsServer::per_caller(config, local_for_callers(local)).unwrap();
/// ```
pub fn local_for_callers(local: crate::LocalKms) -> KmsForCaller {
    Arc::new(move |caller: &Caller| {
        let mut handle = local
            .with_identity(caller.identity.clone())
            .with_request_id(&caller.request_id);
        if let Some(source) = caller.source {
            handle = handle.with_source(source.to_string());
        }
        match &caller.delegation {
            Some(d) => handle.on_behalf_of(d),
            None => Arc::new(handle),
        }
    })
}

/// How the server runs.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// The region that SigV4 scopes must name (clients must use the same, e.g. `us-east-1`).
    pub region: String,
    /// The account id in principals' ARNs ([`crate::keystore::DEFAULT_ACCOUNT_ID`]).
    pub account_id: String,
    /// The access keys that may sign requests; at least one.
    pub access_keys: Vec<AccessKey>,
    /// The largest request body accepted ([`DEFAULT_MAX_BODY_BYTES`]).
    pub max_body_bytes: usize,
    /// The largest accepted clock difference of a signed request ([`DEFAULT_MAX_CLOCK_SKEW`]).
    pub max_clock_skew: Duration,
    /// Time allowed to receive headers, and then the body, of a request; also how long an idle
    /// keep-alive connection stays open ([`DEFAULT_REQUEST_TIMEOUT`]).
    pub request_timeout: Duration,
    /// The most connections served at once ([`DEFAULT_MAX_CONNECTIONS`]).
    pub max_connections: usize,
    /// Where requests are recorded, refusals included.
    pub audit: Option<Arc<AuditLog>>,
    /// Which requests the server records there ([`AuditScope::EveryRequest`] by default).
    pub audit_scope: AuditScope,
}

impl ServerConfig {
    /// A configuration with the defaults and no audit log.
    pub fn new(region: impl Into<String>, access_keys: Vec<AccessKey>) -> Self {
        Self {
            region: region.into(),
            account_id: crate::keystore::DEFAULT_ACCOUNT_ID.into(),
            access_keys,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_clock_skew: DEFAULT_MAX_CLOCK_SKEW,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            audit: None,
            audit_scope: AuditScope::EveryRequest,
        }
    }

    /// The same, recording the requests of `scope` to `audit`.
    pub fn with_audit(mut self, audit: Arc<AuditLog>, scope: AuditScope) -> Self {
        self.audit = Some(audit);
        self.audit_scope = scope;
        self
    }
}

enum Backend {
    Shared(Arc<dyn Kms>),
    PerCaller(KmsForCaller),
}

struct Shared {
    config: ServerConfig,
    keys: HashMap<String, AccessKey>,
    backend: Backend,
}

/// The KMS server: cheap to clone, every clone serving the same [`Kms`].
#[derive(Clone)]
pub struct KmsServer {
    shared: Arc<Shared>,
}

impl fmt::Debug for KmsServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KmsServer")
            .field("config", &self.shared.config)
            .finish_non_exhaustive()
    }
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message)
}

impl KmsServer {
    /// A server for `kms`. Fails (`InvalidInput`) on an empty region, no access keys, an access key
    /// with an empty id or secret, a repeated access key id, or a zero body limit.
    pub fn new(config: ServerConfig, kms: Arc<dyn Kms>) -> io::Result<Self> {
        Self::with_backend(config, Backend::Shared(kms))
    }

    /// A server that asks `kms_for` for the [`Kms`] of each authenticated request, told who sent it
    /// (for a [`Kms`] that records its own audit events, such as `LocalKms::with_principal`). Fails
    /// as [`KmsServer::new`] does.
    pub fn per_caller(config: ServerConfig, kms_for: KmsForCaller) -> io::Result<Self> {
        Self::with_backend(config, Backend::PerCaller(kms_for))
    }

    fn with_backend(config: ServerConfig, backend: Backend) -> io::Result<Self> {
        if config.region.is_empty() {
            return Err(invalid("the server needs a region".into()));
        }
        if config.access_keys.is_empty() {
            return Err(invalid("the server needs at least one access key".into()));
        }
        if config.max_body_bytes == 0 || config.max_connections == 0 {
            return Err(invalid(
                "max_body_bytes and max_connections must be positive".into(),
            ));
        }
        let mut keys = HashMap::new();
        for k in &config.access_keys {
            if k.id.is_empty() || k.secret.is_empty() {
                return Err(invalid(
                    "an access key needs a non-empty id and secret".into(),
                ));
            }
            if keys.insert(k.id.clone(), k.clone()).is_some() {
                return Err(invalid(format!("access key id {} is repeated", k.id)));
            }
        }
        Ok(Self {
            shared: Arc::new(Shared {
                config,
                keys,
                backend,
            }),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &ServerConfig {
        &self.shared.config
    }

    /// Serves connections from `listener` until `shutdown` completes; then stops accepting, lets
    /// requests in flight finish (up to [`SHUTDOWN_GRACE`]) and returns. HTTP/1.1 with keep-alive.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send,
    ) -> io::Result<()> {
        let graceful = hyper_util::server::graceful::GracefulShutdown::new();
        let slots = Arc::new(tokio::sync::Semaphore::new(
            self.shared.config.max_connections,
        ));
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            // A free connection slot first, then a connection: beyond the cap, clients wait in the
            // listen backlog.
            let slot = tokio::select! {
                slot = Arc::clone(&slots).acquire_owned() => match slot {
                    Ok(slot) => slot,
                    Err(_) => break,
                },
                () = &mut shutdown => break,
            };
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        let _ = stream.set_nodelay(true);
                        let server = self.clone();
                        let service = hyper::service::service_fn(move |request| {
                            let server = server.clone();
                            async move { Ok::<_, Infallible>(server.handle(request, Some(peer)).await) }
                        });
                        let connection = hyper::server::conn::http1::Builder::new()
                            .timer(TokioTimer::new())
                            .header_read_timeout(self.shared.config.request_timeout)
                            .keep_alive(true)
                            .serve_connection(TokioIo::new(stream), service);
                        let connection = graceful.watch(connection);
                        tokio::spawn(async move {
                            if let Err(e) = connection.await {
                                tracing::debug!(%peer, error = %e, "connection ended with an error");
                            }
                            drop(slot);
                        });
                    }
                    Err(e) => {
                        // Out of file descriptors and the like: wait a little rather than spin.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                },
                () = &mut shutdown => break,
            }
        }
        drop(listener);
        tokio::select! {
            () = graceful.shutdown() => {}
            () = tokio::time::sleep(SHUTDOWN_GRACE) => {
                tracing::warn!("shutdown: connections still open after the grace period are closed");
            }
        }
        Ok(())
    }

    /// Binds `addr` (port 0: any free port) and serves in a background task until the returned
    /// handle is shut down or dropped. Needs a Tokio runtime.
    pub async fn bind(self, addr: SocketAddr) -> io::Result<RunningServer> {
        let listener = TcpListener::bind(addr).await?;
        let local_addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(self.serve(listener, async move {
            let _ = stopped.await;
        }));
        Ok(RunningServer {
            local_addr,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// Answers one request (what the connection loop calls for each request; usable without a
    /// socket). `peer` is recorded as the audit event's source.
    pub async fn handle<B>(
        &self,
        request: Request<B>,
        peer: Option<SocketAddr>,
    ) -> Response<Full<Bytes>>
    where
        B: Body<Data = Bytes>,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let started = Instant::now();
        let request_id = uuid::Uuid::new_v4().to_string();
        let (parts, body) = request.into_parts();
        let claimed = claimed_operation(&parts.headers);
        let mut audit = AuditEvent {
            time: unix_now(),
            principal: "anonymous".into(),
            operation: claimed.clone(),
            source: peer.map(|p| p.to_string()),
            request_id: Some(request_id.clone()),
            ..AuditEvent::default()
        };
        let mut reached_kms = false;
        let outcome = self
            .process(
                &parts,
                body,
                peer,
                &request_id,
                &mut audit,
                &mut reached_kms,
            )
            .await;
        let (status, body) = match &outcome {
            Ok(_) => {
                audit.result = "ok".into();
                (StatusCode::OK, None)
            }
            Err(e) => {
                audit.result = e.aws_type.clone();
                audit.message = Some(match audit.message.take() {
                    Some(note) => format!("{} [{note}]", e.message),
                    None => e.message.clone(),
                });
                (
                    StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST),
                    Some(e.body()),
                )
            }
        };
        let mut reply = match (outcome, body) {
            (Ok(result), _) => Some((status, Bytes::from_owner(result))),
            (Err(_), Some(body)) => Some((status, Bytes::from(body))),
            (Err(_), None) => None,
        };
        let server_records = match self.shared.config.audit_scope {
            AuditScope::EveryRequest => true,
            AuditScope::NotSeenByKms => !reached_kms,
        };
        if let Some(log) = &self.shared.config.audit
            && server_records
            && let Err(e) = log.record(&audit)
        {
            tracing::error!(error = %e, request_id, "audit log write failed: refusing the answer");
            let e = ErrorReply::from(crate::KmsError::Internal(
                "the audit log could not be written".into(),
            ));
            reply = Some((StatusCode::INTERNAL_SERVER_ERROR, Bytes::from(e.body())));
        }
        let (status, body) =
            reply.unwrap_or((StatusCode::INTERNAL_SERVER_ERROR, Bytes::from_static(b"{}")));
        tracing::info!(
            request_id,
            method = %parts.method,
            operation = %claimed,
            principal = %audit.principal,
            status = status.as_u16(),
            result = %audit.result,
            latency_ms = started.elapsed().as_secs_f64() * 1000.0,
            "kms request"
        );
        let mut response = Response::new(Full::new(body));
        *response.status_mut() = status;
        let headers = response.headers_mut();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static(protocol::CONTENT_TYPE),
        );
        // Tells a delegating client that its request was served for the principal it named (a
        // KMS that ignores delegation would serve every principal with the service's rights).
        if audit.invoked_by.is_some()
            && let Ok(v) = HeaderValue::from_str(&audit.principal)
        {
            headers.insert(ON_BEHALF_OF_HEADER, v);
        }
        if let Ok(v) = HeaderValue::from_str(&request_id) {
            headers.insert("x-amzn-requestid", v);
        }
        response
    }

    async fn process<B>(
        &self,
        parts: &hyper::http::request::Parts,
        body: B,
        peer: Option<SocketAddr>,
        request_id: &str,
        audit: &mut AuditEvent,
        reached_kms: &mut bool,
    ) -> Result<Zeroizing<Vec<u8>>, ErrorReply>
    where
        B: Body<Data = Bytes>,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let config = &self.shared.config;
        let body = read_body(parts, body, config.max_body_bytes, config.request_timeout).await?;

        let headers: Vec<(&str, &str)> = parts
            .headers
            .iter()
            .filter_map(|(n, v)| {
                std::str::from_utf8(v.as_bytes())
                    .ok()
                    .map(|v| (n.as_str(), v))
            })
            .collect();
        let request = sigv4::RequestToVerify {
            method: parts.method.as_str(),
            path: parts.uri.path(),
            query: parts.uri.query().unwrap_or(""),
            headers: &headers,
            body: &body,
        };
        let policy = sigv4::VerifyPolicy {
            region: &config.region,
            service: SERVICE,
            now: unix_now(),
            max_skew_secs: config.max_clock_skew.as_secs(),
        };
        let access_key_id = sigv4::verify(&request, &policy, |id| {
            self.shared.keys.get(id).map(|k| k.secret.as_str())
        })
        .map_err(|e| {
            if let Some(claimed) = &e.claimed_access_key_id {
                audit.message = Some(format!("claimed access key {claimed}"));
            }
            ErrorReply::new(e.kind.http_status(), e.kind.aws_type(), e.message)
        })?;
        let Some(principal) = self.shared.keys.get(&access_key_id) else {
            return Err(ErrorReply::new(
                400,
                sigv4::AuthErrorKind::UnrecognizedClient.aws_type(),
                "The security token included in the request is invalid.",
            ));
        };
        let identity = principal.identity(&config.account_id);
        audit.principal.clone_from(&identity.arn);
        let delegation = self.delegation(parts, principal, &identity)?;
        if let Some(d) = &delegation {
            audit.principal.clone_from(&d.identity.arn);
            audit.invoked_by = Some(identity.arn.clone());
            audit.via_service = Some(d.via_service.clone());
            // As the keystore records delegated requests: the original client and request.
            if d.source.is_some() {
                audit.source.clone_from(&d.source);
            }
            if d.request_id.is_some() {
                audit.request_id.clone_from(&d.request_id);
            }
        }

        if parts.method != hyper::Method::POST || parts.uri.path() != "/" {
            return Err(ErrorReply::unknown_operation(
                "this service answers POST / only",
            ));
        }
        let operation = parts
            .headers
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .and_then(|t| t.strip_prefix(protocol::TARGET_PREFIX))
            .and_then(Operation::from_name)
            .ok_or_else(|| ErrorReply::unknown_operation("unknown or missing X-Amz-Target"))?;
        // A service acts for a principal only to use keys: administering them stays with people
        // signing for themselves, so a leaked service key cannot re-policy or delete keys.
        if delegation.is_some() && !operation.is_delegable() {
            return Err(crate::KmsError::AccessDenied(format!(
                "{} may not call {} on behalf of another principal: a service acts for others only \
                 to use keys (GenerateDataKey*, Encrypt, Decrypt, ReEncrypt, DescribeKey)",
                identity_arn_of(audit),
                operation.name()
            ))
            .into());
        }
        let content_type = parts
            .headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            });
        if content_type.as_deref() != Some(protocol::CONTENT_TYPE) {
            return Err(ErrorReply::unknown_operation(format!(
                "Content-Type must be {}",
                protocol::CONTENT_TYPE
            )));
        }
        let kms = match &self.shared.backend {
            Backend::Shared(kms) => match &delegation {
                Some(d) => kms.on_behalf_of(d),
                None => Arc::clone(kms),
            },
            Backend::PerCaller(kms_for) => kms_for(&Caller {
                principal: principal.id.clone(),
                identity,
                delegation,
                source: peer,
                request_id: request_id.to_owned(),
            }),
        };
        let mut call = protocol::Call {
            kms: &*kms,
            principal,
            audit,
            operation,
            reached_kms: false,
        };
        let result = protocol::dispatch(&mut call, &body).await;
        *reached_kms = call.reached_kms;
        result
    }
}

impl KmsServer {
    /// The principal a service principal's request is made for, if it names one: only service
    /// principals may, and the header must be signed. A principal known here has its groups (this
    /// server's view, never the service's claim); one that is not (the service's own users) is
    /// `arn:aws:iam::<account>:user/<name>` without groups.
    fn delegation(
        &self,
        parts: &hyper::http::request::Parts,
        signer: &AccessKey,
        signer_identity: &Identity,
    ) -> Result<Option<Delegation>, ErrorReply> {
        let authorization = parts
            .headers
            .get(hyper::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| sigv4::parse_authorization(v).ok());
        let is_signed = |name: &str| {
            authorization
                .as_ref()
                .is_some_and(|a| a.signed_headers.iter().any(|h| h == name))
        };
        // The audit fields are taken only when signed (so not forged in transit); the delegation
        // itself must be, and a header that is present but unreadable refuses the request rather
        // than running it as the service.
        let header = |name: &str| {
            parts
                .headers
                .get(name)
                .filter(|_| is_signed(name))
                .and_then(|v| v.to_str().ok())
                .map(|v| v.chars().take(256).collect::<String>())
        };
        let Some(raw) = parts.headers.get(ON_BEHALF_OF_HEADER) else {
            return Ok(None);
        };
        let name = raw
            .to_str()
            .unwrap_or("")
            .chars()
            .take(256)
            .collect::<String>();
        let denied = |why: String| {
            ErrorReply::from(crate::KmsError::AccessDenied(format!(
                "{} may not act on behalf of {name:?}: {why}",
                signer_identity.arn
            )))
        };
        let Some(service) = &signer.service else {
            return Err(denied("it is not a service principal".into()));
        };
        if !is_signed(ON_BEHALF_OF_HEADER) {
            return Err(denied(format!(
                "the {ON_BEHALF_OF_HEADER} header is not signed"
            )));
        }
        let config = &self.shared.config;
        let identity = match self.shared.keys.values().find(|k| k.name == name) {
            // A service acts for people, never as another service.
            Some(principal) if principal.service.is_some() => {
                return Err(denied("it is a service principal".into()));
            }
            Some(principal) => principal.identity(&config.account_id),
            None => Principal::new(name.clone(), "-", "-")
                .identity_checked(&config.account_id)
                .map_err(|e| denied(e.to_string()))?,
        };
        Ok(Some(Delegation {
            identity,
            via_service: format!("{service}.{}.amazonaws.com", config.region),
            source: header(SOURCE_ADDRESS_HEADER),
            request_id: header(SOURCE_REQUEST_ID_HEADER),
        }))
    }
}

/// The signer named in an audit event in flight: the service, when it acts for another.
fn identity_arn_of(audit: &AuditEvent) -> &str {
    audit.invoked_by.as_deref().unwrap_or(&audit.principal)
}

/// Reads a body of at most `max` bytes within `timeout`.
async fn read_body<B>(
    parts: &hyper::http::request::Parts,
    body: B,
    max: usize,
    timeout: Duration,
) -> Result<Bytes, ErrorReply>
where
    B: Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let too_large = || {
        ErrorReply::new(
            413,
            "RequestEntityTooLargeException",
            format!("Request entity too large: the limit is {max} bytes"),
        )
    };
    if let Some(len) = parts.headers.get(CONTENT_LENGTH)
        && let Some(len) = len.to_str().ok().and_then(|l| l.trim().parse::<u64>().ok())
        && len > u64::try_from(max).unwrap_or(u64::MAX)
    {
        return Err(too_large());
    }
    match tokio::time::timeout(timeout, Limited::new(body, max).collect()).await {
        Err(_) => Err(ErrorReply::new(
            408,
            "RequestTimeoutException",
            "The request body was not received in time",
        )),
        Ok(Err(e)) => {
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                Err(too_large())
            } else {
                Err(ErrorReply::serialization(
                    "the request body could not be read",
                ))
            }
        }
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
    }
}

/// What the request says it is, for logs: the operation of `X-Amz-Target`, bounded and printable.
fn claimed_operation(headers: &hyper::HeaderMap) -> String {
    match headers.get("x-amz-target").map(|v| v.as_bytes()) {
        None => "-".into(),
        Some(t) => {
            let t = t
                .strip_prefix(protocol::TARGET_PREFIX.as_bytes())
                .unwrap_or(t);
            t.iter()
                .take(64)
                .map(|&b| {
                    if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-') {
                        char::from(b)
                    } else {
                        '?'
                    }
                })
                .collect()
        }
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A server running in a background task ([`KmsServer::bind`]). Dropping it stops the server.
#[derive(Debug)]
pub struct RunningServer {
    local_addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<io::Result<()>>>,
}

impl RunningServer {
    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// `http://<addr>`, for `--endpoint-url`.
    pub fn endpoint_url(&self) -> String {
        format!("http://{}", self.local_addr)
    }

    /// Stops accepting, lets requests in flight finish (up to [`SHUTDOWN_GRACE`]) and waits for the
    /// server task to end.
    pub async fn shutdown(mut self) -> io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.task.take() {
            Some(task) => task.await.map_err(io::Error::other)?,
            None => Ok(()),
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Serves `kms` on `listener` with `config` until `shutdown` completes: the entry point of
/// `objseal kms serve`. Fails at once on an invalid configuration (see [`KmsServer::new`]).
pub async fn serve(
    config: ServerConfig,
    kms: Arc<dyn Kms>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> io::Result<()> {
    KmsServer::new(config, kms)?.serve(listener, shutdown).await
}
