//! A minimal in-memory S3 endpoint for benches: just enough of PutObject, multipart uploads,
//! HeadObject and ranged GetObject for the AWS SDK, no authentication, no checksums (clients must
//! set checksum calculation to "when required"). It does next to no work per byte — one copy into
//! memory on the way in, slices on the way out — so a client's own cost shows. [`start_with_etags`]
//! adds the one piece of per-byte work every real S3 service does on a write: the body's MD5 as its
//! ETag (single PUTs and parts; a completed upload's ETag is the MD5 of the parts' MD5s, `-N`).
#![allow(dead_code)]

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use bytes::{Bytes, BytesMut};
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use md5::{Digest as _, Md5};

#[derive(Default)]
struct Object {
    body: Bytes,
    meta: Vec<(String, String)>,
    etag: String,
}

/// A pending multipart upload: its metadata and the parts so far (number, bytes, MD5).
type Upload = (Vec<(String, String)>, Vec<(u32, Bytes, [u8; 16])>);

#[derive(Default)]
struct State {
    objects: HashMap<String, Object>,
    uploads: HashMap<String, Upload>,
    next_upload: u64,
    /// Whether writes compute their MD5 ETags (otherwise every ETag is `"0"`).
    md5_etags: bool,
}

/// Starts the endpoint on 127.0.0.1 (a free port) on the current runtime; returns its URL.
pub async fn start() -> String {
    start_inner(false).await
}

/// As [`start`], computing every write's MD5 ETag as S3 services do.
pub async fn start_with_etags() -> String {
    start_inner(true).await
}

async fn start_inner(md5_etags: bool) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let state = Arc::new(Mutex::new(State {
        md5_etags,
        ..State::default()
    }));
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let state = state.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req| handle(state.clone(), req));
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    url
}

fn query(req: &Request<Incoming>, name: &str) -> Option<String> {
    req.uri().query()?.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        (k == name).then(|| v.to_owned())
    })
}

fn user_meta(req: &Request<Incoming>) -> Vec<(String, String)> {
    req.headers()
        .iter()
        .filter(|(k, _)| k.as_str().starts_with("x-amz-meta-"))
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
        .collect()
}

fn reply(status: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    reply_tagged(status, body, "0")
}

fn reply_tagged(status: StatusCode, body: impl Into<Bytes>, etag: &str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r.headers_mut()
        .insert("etag", format!("\"{etag}\"").parse().unwrap());
    r
}

async fn handle(
    state: Arc<Mutex<State>>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_owned();
    let method = req.method().clone();
    let upload = query(&req, "uploadId");
    let part = query(&req, "partNumber").and_then(|p| p.parse::<u32>().ok());
    let uploads = query(&req, "uploads").is_some();
    // `bytes=a-b`, `bytes=a-` or the suffix `bytes=-n`, resolved once the length is known.
    let range = req
        .headers()
        .get("range")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("bytes="))
        .and_then(|v| v.split_once('-'))
        .map(|(a, b)| (a.parse::<usize>().ok(), b.parse::<usize>().ok()));
    let meta = user_meta(&req);
    let declared = req
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0);
    let md5_etags = state.lock().unwrap().md5_etags;
    // Hashed as it arrives, as a service hashes while it receives.
    let mut hasher = (md5_etags && method == "PUT").then(Md5::new);
    let body = {
        let mut buf = BytesMut::with_capacity(declared);
        let mut incoming = req.into_body();
        while let Some(frame) = incoming.frame().await {
            if let Ok(Ok(data)) = frame.map(|f| f.into_data()) {
                if let Some(h) = &mut hasher {
                    h.update(&data);
                }
                buf.extend_from_slice(&data);
            }
        }
        buf.freeze()
    };
    let digest: [u8; 16] = hasher.map_or([0; 16], |h| h.finalize().into());
    let etag = if md5_etags {
        hex::encode(digest)
    } else {
        "0".to_owned()
    };
    let mut s = state.lock().unwrap();
    let r = match (method.as_str(), upload, part) {
        ("POST", None, None) if uploads => {
            s.next_upload += 1;
            let id = format!("u{}", s.next_upload);
            s.uploads.insert(id.clone(), (meta, Vec::new()));
            reply(
                StatusCode::OK,
                format!(
                    "<InitiateMultipartUploadResult><Bucket>b</Bucket><Key>k</Key><UploadId>{id}</UploadId></InitiateMultipartUploadResult>"
                ),
            )
        }
        ("PUT", Some(id), Some(n)) => {
            if let Some((_, parts)) = s.uploads.get_mut(&id) {
                parts.retain(|(p, _, _)| *p != n);
                parts.push((n, body, digest));
            }
            reply_tagged(StatusCode::OK, Bytes::new(), &etag)
        }
        ("POST", Some(id), None) => {
            let (meta, mut parts) = s.uploads.remove(&id).unwrap_or_default();
            parts.sort_by_key(|(n, _, _)| *n);
            let mut all = BytesMut::with_capacity(parts.iter().map(|(_, p, _)| p.len()).sum());
            let mut md5s = Md5::new();
            for (_, p, d) in &parts {
                all.extend_from_slice(p);
                md5s.update(d);
            }
            let etag = if md5_etags {
                format!("{}-{}", hex::encode(md5s.finalize()), parts.len())
            } else {
                "0".to_owned()
            };
            let body = format!(
                "<CompleteMultipartUploadResult><ETag>\"{etag}\"</ETag></CompleteMultipartUploadResult>"
            );
            s.objects.insert(
                path,
                Object {
                    body: all.freeze(),
                    meta,
                    etag: etag.clone(),
                },
            );
            reply_tagged(StatusCode::OK, body, &etag)
        }
        ("PUT", None, None) => {
            if path.matches('/').count() > 1 {
                let etag = etag.clone();
                s.objects.insert(path, Object { body, meta, etag });
            }
            reply_tagged(StatusCode::OK, Bytes::new(), &etag)
        }
        ("GET" | "HEAD", None, None) => match s.objects.get(&path) {
            None => reply(
                StatusCode::NOT_FOUND,
                "<Error><Code>NoSuchKey</Code></Error>",
            ),
            Some(o) => {
                let total = o.body.len();
                let bounds = match range {
                    Some((Some(a), b)) => Some((a, b.map_or(total, |b| (b + 1).min(total)))),
                    Some((None, Some(n))) => Some((total.saturating_sub(n), total)),
                    _ => None,
                };
                let (slice, status) = match bounds {
                    Some((a, b)) if a < b => (o.body.slice(a..b), StatusCode::PARTIAL_CONTENT),
                    _ => (o.body.clone(), StatusCode::OK),
                };
                let len = slice.len();
                let mut r = if method == "HEAD" {
                    reply_tagged(status, Bytes::new(), &o.etag)
                } else {
                    reply_tagged(status, slice, &o.etag)
                };
                r.headers_mut().insert("content-length", len.into());
                if let (Some((a, b)), StatusCode::PARTIAL_CONTENT) = (bounds, status) {
                    let range = format!("bytes {a}-{}/{total}", b - 1);
                    r.headers_mut()
                        .insert("content-range", range.parse().unwrap());
                }
                for (k, v) in &o.meta {
                    r.headers_mut().insert(
                        http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                        v.parse().unwrap(),
                    );
                }
                r
            }
        },
        _ => reply(StatusCode::NOT_IMPLEMENTED, Bytes::new()),
    };
    Ok(r)
}
