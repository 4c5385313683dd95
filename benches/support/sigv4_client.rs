//! A bare SigV4 client for the server benches (payload unsigned): plain hyper HTTP/1.1, one
//! connection per request, next to no work of its own — so the figures are the server's.
#![allow(dead_code)]

use base64::Engine as _;
use bytes::Bytes;
use hmac::{Hmac, KeyInit as _, Mac as _};
use http_body_util::{BodyExt as _, StreamBody};
use hyper::body::Frame;
use md5::{Digest as _, Md5};
use sha2::{Digest as _, Sha256};

/// A MiB.
pub const MIB: usize = 1024 * 1024;

/// Where requests go and the access key that signs them.
pub struct Client {
    /// The server.
    pub addr: std::net::SocketAddr,
    /// The access key id.
    pub access: String,
    /// Its secret.
    pub secret: String,
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut m = <Hmac<Sha256>>::new_from_slice(key).expect("any key length");
    m.update(data);
    m.finalize().into_bytes().to_vec()
}

impl Client {
    /// A SigV4-signed request (payload unsigned) with `extra` headers.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        extra: &[(&str, String)],
    ) -> http::request::Builder {
        let now = time::OffsetDateTime::now_utc();
        let date = format!(
            "{:04}{:02}{:02}",
            now.year(),
            u8::from(now.month()),
            now.day()
        );
        let amz_date = format!(
            "{date}T{:02}{:02}{:02}Z",
            now.hour(),
            now.minute(),
            now.second()
        );
        let host = self.addr.to_string();
        let mut headers: Vec<(String, String)> = vec![
            ("host".into(), host),
            ("x-amz-content-sha256".into(), "UNSIGNED-PAYLOAD".into()),
            ("x-amz-date".into(), amz_date.clone()),
        ];
        headers.extend(
            extra
                .iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v.clone())),
        );
        headers.sort();
        let signed: Vec<&str> = headers.iter().map(|(k, _)| k.as_str()).collect();
        let signed = signed.join(";");
        let canonical_headers: String = headers
            .iter()
            .map(|(k, v)| format!("{k}:{}\n", v.trim()))
            .collect();
        let canonical =
            format!("{method}\n{path}\n\n{canonical_headers}\n{signed}\nUNSIGNED-PAYLOAD");
        let scope = format!("{date}/us-east-1/s3/aws4_request");
        let to_sign = format!(
            "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
            hex::encode(Sha256::digest(canonical.as_bytes()))
        );
        let mut key = hmac(format!("AWS4{}", self.secret).as_bytes(), date.as_bytes());
        for part in ["us-east-1", "s3", "aws4_request"] {
            key = hmac(&key, part.as_bytes());
        }
        let signature = hex::encode(hmac(&key, to_sign.as_bytes()));
        let mut b = http::Request::builder().method(method).uri(path);
        for (k, v) in &headers {
            b = b.header(k.as_str(), v.as_str());
        }
        b.header(
            "authorization",
            format!("AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed}, Signature={signature}", self.access),
        )
    }

    pub async fn send<B>(&self, req: http::Request<B>) -> http::Response<hyper::body::Incoming>
    where
        B: hyper::body::Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let stream = tokio::net::TcpStream::connect(self.addr)
            .await
            .expect("connect");
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .expect("handshake");
        tokio::spawn(conn);
        sender.send_request(req).await.expect("request")
    }
}

/// The SSE headers of `mode` (`none`, `sse-s3`, `sse-kms`, `sse-c`).
pub fn sse_headers(mode: &str) -> Vec<(&'static str, String)> {
    let key = [0x42u8; 32];
    let b64 = base64::engine::general_purpose::STANDARD;
    match mode {
        "sse-s3" => vec![("x-amz-server-side-encryption", "AES256".into())],
        "sse-kms" => vec![("x-amz-server-side-encryption", "aws:kms".into())],
        "sse-c" => vec![
            (
                "x-amz-server-side-encryption-customer-algorithm",
                "AES256".into(),
            ),
            ("x-amz-server-side-encryption-customer-key", b64.encode(key)),
            (
                "x-amz-server-side-encryption-customer-key-md5",
                b64.encode(Md5::digest(key)),
            ),
        ],
        _ => Vec::new(),
    }
}

/// PUTs `size` bytes (repeats of `chunk`, 1 MiB) to `/bench/<mode>` under `mode`.
pub async fn put(c: &Client, mode: &str, chunk: &Bytes, size: usize) {
    let mut headers = sse_headers(mode);
    headers.push(("content-length", size.to_string()));
    let chunk = chunk.clone();
    let body =
        StreamBody::new(futures::stream::iter((0..size / MIB).map(move |_| {
            Ok::<_, std::convert::Infallible>(Frame::data(chunk.clone()))
        })));
    let req = c
        .request("PUT", &format!("/bench/{mode}"), &headers)
        .body(body)
        .expect("request");
    let resp = c.send(req).await;
    let status = resp.status();
    let text = resp
        .into_body()
        .collect()
        .await
        .expect("response")
        .to_bytes();
    assert!(
        status.is_success(),
        "PUT {mode}: {status} {}",
        String::from_utf8_lossy(&text)
    );
}

/// GETs `/bench/<mode>`; returns the bytes received.
pub async fn get(c: &Client, mode: &str) -> usize {
    let headers: Vec<(&str, String)> = if mode == "sse-c" {
        sse_headers(mode)
    } else {
        Vec::new()
    };
    let req = c
        .request("GET", &format!("/bench/{mode}"), &headers)
        .body(http_body_util::Empty::<Bytes>::new())
        .expect("request");
    let resp = c.send(req).await;
    assert!(resp.status().is_success(), "GET {mode}: {}", resp.status());
    let mut body = resp.into_body();
    let mut n = 0;
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.expect("body").into_data() {
            n += data.len();
        }
    }
    n
}
