//! The connection loop and the per-request wrapper around the [`S3Service`].
//!
//! For every request the wrapper:
//!
//! 1. draws a request id and puts it, with the connection's [`Transport`], into the request's
//!    extensions (the SSE layer reads both; s3s hands extensions on to every operation), and a
//!    handle to the service itself (the `?encryption` route sends requests on through it);
//! 2. calls the S3 service;
//! 3. sets `x-amz-request-id` on the answer, and on an XML error adds `<RequestId>` to the body
//!    as Amazon S3 does;
//! 4. logs method, path (never the query: presigned URLs carry credentials there), status,
//!    request id and the time to the answer's head. Header values are never logged.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use s3s::Body;
use s3s::service::S3Service;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use crate::internal::Transport;

/// The response header that carries the request id.
pub const REQUEST_ID_HEADER: &str = "x-amz-request-id";

/// How long a client may take to complete the TLS handshake.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The id of one request, as sent back in `x-amz-request-id`: 16 uppercase hex digits, as
/// Amazon S3's. The server puts it into every request's extensions.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RequestId(pub String);

impl RequestId {
    /// A fresh id: random, else (if the random source fails) a process-wide counter.
    pub fn generate() -> Self {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let mut bytes = [0u8; 8];
        if getrandom::fill(&mut bytes).is_err() {
            bytes = COUNTER.fetch_add(1, Ordering::Relaxed).to_be_bytes();
        }
        Self(hex::encode_upper(bytes))
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What the connection loop needs.
pub(crate) struct Serving {
    pub service: S3Service,
    pub tls: Option<TlsAcceptor>,
    pub header_timeout: Duration,
    pub body_timeout: Duration,
    pub max_connections: usize,
    pub shutdown_grace: Duration,
}

/// Accepts and serves connections until `stop` turns true; then stops accepting, lets requests
/// in flight finish (up to the grace period), closes what is left and returns.
pub(crate) async fn serve(
    serving: Serving,
    listener: TcpListener,
    mut stop: watch::Receiver<bool>,
) {
    let serving = Arc::new(serving);
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(serving.max_connections));
    let mut connections = JoinSet::new();
    let stopped = async move {
        // An error means every sender is gone: stop as well.
        let _ = stop.wait_for(|&s| s).await;
    };
    let mut stopped = std::pin::pin!(stopped);
    loop {
        // A free slot first, then a connection: beyond the cap, clients wait in the backlog.
        let slot = tokio::select! {
            slot = Arc::clone(&slots).acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
            () = &mut stopped => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: wait a little rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut stopped => break,
        };
        let _ = stream.set_nodelay(true);
        let serving = Arc::clone(&serving);
        let watcher = graceful.watcher();
        // Reap finished connections so the set holds only live ones.
        while connections.try_join_next().is_some() {}
        connections.spawn(async move {
            match &serving.tls {
                None => connection(&serving, watcher, stream, peer, false).await,
                Some(acceptor) => {
                    match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await
                    {
                        Ok(Ok(tls)) => connection(&serving, watcher, tls, peer, true).await,
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                }
            }
            drop(slot);
        });
    }
    drop(listener);
    tracing::info!(
        connections = graceful.count(),
        "stopped accepting; finishing requests in flight"
    );
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(serving.shutdown_grace) => {
            tracing::warn!("connections still open after the grace period are closed");
        }
    }
    connections.shutdown().await;
}

/// Serves one connection (HTTP/1.1 with keep-alive).
async fn connection<I>(
    serving: &Serving,
    watcher: hyper_util::server::graceful::Watcher,
    io: I,
    peer: SocketAddr,
    tls: bool,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let s3 = serving.service.clone();
    let transport = Transport {
        tls,
        peer: Some(peer),
    };
    let body_timeout = serving.body_timeout;
    let service = hyper::service::service_fn(move |request: Request<hyper::body::Incoming>| {
        let s3 = s3.clone();
        async move {
            let request = request
                .map(|b| Body::http_body_unsync(super::stall::StallGuard::new(b, body_timeout)));
            Ok::<_, Infallible>(handle(&s3, request, transport, Some(peer)).await)
        }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(serving.header_timeout)
        .keep_alive(true)
        .serve_connection(TokioIo::new(io), service);
    if let Err(e) = watcher.watch(conn).await {
        tracing::debug!(%peer, error = %e, "connection ended with an error");
    }
}

/// Whether a request carries a body (a non-zero `Content-Length`, or chunked transfer).
fn has_body(headers: &hyper::HeaderMap) -> bool {
    headers.contains_key(hyper::header::TRANSFER_ENCODING)
        || headers
            .get(hyper::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim() != "0")
}

/// One request through the S3 service (see the [module documentation](self)).
async fn handle(
    s3: &S3Service,
    mut request: Request<Body>,
    transport: Transport,
    peer: Option<SocketAddr>,
) -> Response<Body> {
    let started = Instant::now();
    let id = RequestId::generate();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let sends_body = has_body(request.headers());
    request.extensions_mut().insert(transport);
    request.extensions_mut().insert(id.clone());
    request
        .extensions_mut()
        .insert(super::routes::encryption::Dispatch(s3.clone()));
    let mut response = match s3.call(request).await {
        Ok(response) => response,
        Err(e) => {
            // s3s could not even serialize an error: answer 500 rather than drop the connection.
            tracing::error!(request_id = id.as_str(), error = ?e, "the S3 service failed");
            internal_error()
        }
    };
    let status = response.status();
    if let Ok(v) = HeaderValue::from_str(id.as_str()) {
        response.headers_mut().insert(REQUEST_ID_HEADER, v);
    }
    if status.is_client_error() || status.is_server_error() {
        add_request_id_to_error(&mut response, id.as_str());
        // A refusal may come before the body was read (a blocked SSE-C upload, a denied PUT):
        // the unread rest would be taken for the next request on a kept-alive connection, so the
        // connection ends with this answer, as Amazon S3 does — clients open a fresh one.
        if sends_body {
            response
                .headers_mut()
                .insert(hyper::header::CONNECTION, HeaderValue::from_static("close"));
        }
    }
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    let peer = Peer(peer);
    let request_id = id.as_str();
    let status = status.as_u16();
    if status >= 500 {
        tracing::warn!(
            request_id, %method, path, status, %peer, tls = transport.tls, elapsed_ms, "request"
        );
    } else {
        tracing::info!(
            request_id, %method, path, status, %peer, tls = transport.tls, elapsed_ms, "request"
        );
    }
    response
}

/// A peer address for logs: `-` when there is none.
struct Peer(Option<SocketAddr>);

impl std::fmt::Display for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(addr) => addr.fmt(f),
            None => f.write_str("-"),
        }
    }
}

fn internal_error() -> Response<Body> {
    let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>InternalError</Code>\
                <Message>We encountered an internal error. Please try again.</Message></Error>";
    let mut response = Response::new(Body::from(body.to_owned()));
    *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/xml"));
    response
}

/// Adds `<RequestId>` to a buffered XML `<Error>` body that lacks one.
fn add_request_id_to_error(response: &mut Response<Body>, id: &str) {
    let is_xml = response
        .headers()
        .get(CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/xml"));
    if !is_xml {
        return;
    }
    let Some(bytes) = response.body().bytes() else {
        return;
    };
    if let Some(body) = with_request_id(&bytes, id) {
        response.headers_mut().remove(CONTENT_LENGTH);
        *response.body_mut() = Body::from(body);
    }
}

/// `xml` with `<RequestId>id</RequestId>` before its closing `</Error>`, if it is an error
/// document without a request id.
fn with_request_id(xml: &Bytes, id: &str) -> Option<Bytes> {
    const CLOSE: &[u8] = b"</Error>";
    let text = xml.as_ref();
    if memfind(text, b"<RequestId>").is_some() {
        return None;
    }
    let at = memfind_last(text, CLOSE)?;
    let mut out = Vec::with_capacity(text.len() + id.len() + 24);
    out.extend_from_slice(&text[..at]);
    out.extend_from_slice(b"<RequestId>");
    out.extend_from_slice(id.as_bytes());
    out.extend_from_slice(b"</RequestId>");
    out.extend_from_slice(&text[at..]);
    Some(Bytes::from(out))
}

fn memfind(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn memfind_last(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).rposition(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_look_like_amazons() {
        let a = RequestId::generate();
        assert_eq!(a.as_str().len(), 16);
        assert!(
            a.as_str()
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))
        );
        assert_ne!(a, RequestId::generate());
    }

    #[test]
    fn error_bodies_gain_the_request_id() {
        let xml =
            Bytes::from_static(b"<?xml version=\"1.0\"?><Error><Code>AccessDenied</Code></Error>");
        let out = with_request_id(&xml, "ABC").unwrap();
        assert_eq!(
            &out[..],
            b"<?xml version=\"1.0\"?><Error><Code>AccessDenied</Code><RequestId>ABC</RequestId></Error>"
        );
        assert!(with_request_id(&out, "DEF").is_none());
        assert!(with_request_id(&Bytes::from_static(b"<Other/>"), "X").is_none());
    }

    /// Answers `ListBuckets` with an error that shows what the wrapper put into the extensions.
    struct Probe;

    #[async_trait::async_trait]
    impl s3s::S3 for Probe {
        async fn list_buckets(
            &self,
            req: s3s::S3Request<s3s::dto::ListBucketsInput>,
        ) -> s3s::S3Result<s3s::S3Response<s3s::dto::ListBucketsOutput>> {
            let tls = req.extensions.get::<Transport>().map(|t| t.tls);
            let id = req
                .extensions
                .get::<RequestId>()
                .map_or("none", RequestId::as_str);
            Err(s3s::s3_error!(InvalidRequest, "tls={tls:?} id={id}"))
        }
    }

    #[tokio::test]
    async fn every_request_gets_its_transport_and_id() {
        let service = s3s::service::S3ServiceBuilder::new(Probe).build();
        for tls in [false, true] {
            let request = Request::get("/").body(Body::empty()).unwrap();
            let response = handle(&service, request, Transport { tls, peer: None }, None).await;
            assert_eq!(response.status(), StatusCode::BAD_REQUEST);
            let id = response.headers()[REQUEST_ID_HEADER]
                .to_str()
                .unwrap()
                .to_owned();
            let body = response.into_body().bytes().unwrap();
            let body = String::from_utf8_lossy(&body);
            assert!(body.contains(&format!("tls=Some({tls})")), "{body}");
            assert!(body.contains(&format!("id={id}<")), "{body}");
            assert!(
                body.contains(&format!("<RequestId>{id}</RequestId>")),
                "{body}"
            );
        }
    }

    #[tokio::test]
    async fn a_refused_request_with_a_body_ends_its_connection() {
        let service = s3s::service::S3ServiceBuilder::new(Probe).build();
        let transport = Transport {
            tls: false,
            peer: None,
        };
        let with_body = Request::put("/")
            .header("content-length", "5")
            .body(Body::from(bytes::Bytes::from_static(b"hello")))
            .unwrap();
        let response = handle(&service, with_body, transport, None).await;
        assert!(response.status().is_client_error() || response.status().is_server_error());
        assert_eq!(response.headers()["connection"], "close");
        let without = Request::get("/").body(Body::empty()).unwrap();
        let response = handle(&service, without, transport, None).await;
        assert!(response.headers().get("connection").is_none());
    }
}
