//! Helpers of the server tests: a `LocalKms` served on 127.0.0.1:0, and a bare HTTP/1.1 client that
//! signs with SigV4 (or deliberately does not).
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use objseal_kms::audit::{AuditEvent, AuditLog};
use objseal_kms::keystore::{LocalKms, LocalKmsConfig, RootKey};
use objseal_kms::server::sigv4::{SigningParams, format_amz_date, sign};
use objseal_kms::server::{AccessKey, AuditScope, KmsServer, RunningServer, ServerConfig};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub const REGION: &str = "us-east-1";
pub const AKID: &str = "AKIDOBJSEALTEST";
pub const SECRET: &str = "objseal-test-secret-key";
pub const LIMITED_AKID: &str = "AKIDLIMITED";
pub const LIMITED_SECRET: &str = "limited-secret";

/// The ARN audit events name a principal by: `AccessKey::new` names the principal after its
/// access key id, in the server's default account.
pub fn arn_of(name: &str) -> String {
    objseal_kms::principal::user_arn(objseal_kms::keystore::DEFAULT_ACCOUNT_ID, name)
}

/// A `LocalKms` in a temporary directory, served over HTTP, with the server's audit log.
pub struct TestServer {
    pub server: Option<RunningServer>,
    pub kms: LocalKms,
    pub audit_path: PathBuf,
    pub dir: tempfile::TempDir,
}

impl TestServer {
    /// Serves a fresh keystore with the test access key (every key allowed), recording every
    /// request in the server's audit log.
    pub async fn start() -> Self {
        Self::start_with(|c| c).await
    }

    /// As [`start`](Self::start), the configuration first passed through `adjust`.
    pub async fn start_with(adjust: impl FnOnce(ServerConfig) -> ServerConfig) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let kms = LocalKms::open(LocalKmsConfig::new(
            dir.path().join("keys.osks"),
            RootKey::generate().expect("root key"),
        ))
        .expect("keystore");
        let audit_path = dir.path().join("server-audit.jsonl");
        let audit = Arc::new(AuditLog::open(&audit_path).expect("audit log"));
        let config = ServerConfig::new(REGION, vec![AccessKey::new(AKID, SECRET)])
            .with_audit(audit, AuditScope::EveryRequest);
        let server = KmsServer::new(adjust(config), Arc::new(kms.clone()))
            .expect("server")
            .bind("127.0.0.1:0".parse().expect("addr"))
            .await
            .expect("bind");
        Self {
            server: Some(server),
            kms,
            audit_path,
            dir,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.as_ref().expect("running").local_addr()
    }

    pub fn endpoint(&self) -> String {
        self.server.as_ref().expect("running").endpoint_url()
    }

    pub fn audit(&self) -> Vec<AuditEvent> {
        AuditLog::read(&self.audit_path).expect("reading the audit log")
    }

    pub async fn client(&self) -> Client {
        Client::connect(self.addr()).await
    }
}

/// A parsed HTTP response.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The `__type` of an error answer.
    pub fn error_type(&self) -> String {
        self.json()["__type"].as_str().unwrap_or("").to_owned()
    }

    pub fn request_id(&self) -> String {
        self.header("x-amzn-requestid")
            .expect("x-amzn-RequestId header")
            .to_owned()
    }
}

/// A bare HTTP/1.1 client on one keep-alive connection.
pub struct Client {
    pub addr: SocketAddr,
    stream: TcpStream,
    buf: Vec<u8>,
}

pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

/// A request to build: method, target, headers beyond the defaults, body.
pub struct Req<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub target: Option<&'a str>,
    pub content_type: Option<&'a str>,
    pub body: &'a [u8],
    /// (access key id, secret) to sign with; `None`: unsigned.
    pub creds: Option<(&'a str, &'a str)>,
    pub amz_date: Option<String>,
    pub region: &'a str,
    pub extra_headers: Vec<(&'a str, &'a str)>,
}

impl<'a> Req<'a> {
    /// A signed `POST /` of `TrentService.<op>` with a JSON body.
    pub fn op(op: &'a str, body: &'a [u8]) -> Self {
        Self {
            method: "POST",
            path: "/",
            target: Some(op),
            content_type: Some("application/x-amz-json-1.1"),
            body,
            creds: Some((AKID, SECRET)),
            amz_date: None,
            region: REGION,
            extra_headers: Vec::new(),
        }
    }

    /// The raw bytes: request line, headers (signed when `creds`), body.
    pub fn to_bytes(&self, host: &str) -> Vec<u8> {
        let amz_date = self
            .amz_date
            .clone()
            .unwrap_or_else(|| format_amz_date(unix_now()));
        let target = self.target.map(|t| format!("TrentService.{t}"));
        let mut headers: Vec<(&str, &str)> = vec![("Host", host), ("X-Amz-Date", &amz_date)];
        if let Some(ct) = self.content_type {
            headers.push(("Content-Type", ct));
        }
        if let Some(t) = &target {
            headers.push(("X-Amz-Target", t));
        }
        headers.extend(self.extra_headers.iter().copied());
        let authorization = self.creds.map(|(id, secret)| {
            let params = SigningParams {
                access_key_id: id,
                secret_access_key: secret,
                region: self.region,
                service: "kms",
                amz_date: &amz_date,
            };
            let (path, query) = self.path.split_once('?').unwrap_or((self.path, ""));
            sign(&params, self.method, path, query, &headers, self.body)
        });
        let mut out = format!("{} {} HTTP/1.1\r\n", self.method, self.path).into_bytes();
        for (n, v) in &headers {
            out.extend_from_slice(format!("{n}: {v}\r\n").as_bytes());
        }
        if let Some(a) = authorization {
            out.extend_from_slice(format!("Authorization: {a}\r\n").as_bytes());
        }
        out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", self.body.len()).as_bytes());
        out.extend_from_slice(self.body);
        out
    }
}

impl Client {
    pub async fn connect(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).await.expect("connect");
        Self {
            addr,
            stream,
            buf: Vec::new(),
        }
    }

    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// Sends raw bytes and reads one response.
    pub async fn raw(&mut self, bytes: &[u8]) -> Reply {
        self.stream.write_all(bytes).await.expect("write");
        self.read_reply().await
    }

    pub async fn send(&mut self, req: &Req<'_>) -> Reply {
        let bytes = req.to_bytes(&self.host());
        self.raw(&bytes).await
    }

    /// A signed operation with a JSON body.
    pub async fn call(&mut self, op: &str, body: Value) -> Reply {
        let body = serde_json::to_vec(&body).expect("json");
        self.send(&Req::op(op, &body)).await
    }

    /// A signed operation that must succeed: its JSON result.
    pub async fn ok(&mut self, op: &str, body: Value) -> Value {
        let reply = self.call(op, body).await;
        assert_eq!(
            reply.status,
            200,
            "{op} failed: {}",
            String::from_utf8_lossy(&reply.body)
        );
        assert_eq!(
            reply.header("content-type"),
            Some("application/x-amz-json-1.1")
        );
        reply.json()
    }

    /// A signed operation that must fail with `status` and `aws_type`.
    pub async fn err(&mut self, op: &str, body: Value, status: u16, aws_type: &str) -> Reply {
        let reply = self.call(op, body).await;
        assert_reply(&reply, status, aws_type);
        reply
    }

    pub async fn read_reply(&mut self) -> Reply {
        loop {
            if let Some(end) = find(&self.buf, b"\r\n\r\n") {
                let head = String::from_utf8(self.buf[..end].to_vec()).expect("utf-8 head");
                let mut lines = head.split("\r\n");
                let status_line = lines.next().expect("status line");
                let status: u16 = status_line
                    .split(' ')
                    .nth(1)
                    .and_then(|s| s.parse().ok())
                    .expect("status");
                let headers: Vec<(String, String)> = lines
                    .filter_map(|l| l.split_once(':'))
                    .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
                    .collect();
                let len: usize = headers
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
                    .map(|(_, v)| v.parse().expect("content-length"))
                    .unwrap_or(0);
                while self.buf.len() < end + 4 + len {
                    self.fill().await;
                }
                let body = self.buf[end + 4..end + 4 + len].to_vec();
                self.buf.drain(..end + 4 + len);
                return Reply {
                    status,
                    headers,
                    body,
                };
            }
            self.fill().await;
        }
    }

    async fn fill(&mut self) {
        let mut chunk = [0u8; 16 * 1024];
        let n = self.stream.read(&mut chunk).await.expect("read");
        assert!(n > 0, "connection closed before a full response");
        self.buf.extend_from_slice(&chunk[..n]);
    }

    /// Whether the server closed the connection (reads EOF, or a reset).
    pub async fn closed(&mut self) -> bool {
        let mut chunk = [0u8; 1024];
        matches!(
            tokio::time::timeout(
                std::time::Duration::from_secs(5),
                self.stream.read(&mut chunk)
            )
            .await,
            Ok(Ok(0)) | Ok(Err(_))
        )
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// An error answer is AWS-shaped: status, JSON content type, `__type`, a message, a request id.
pub fn assert_reply(reply: &Reply, status: u16, aws_type: &str) {
    let body = String::from_utf8_lossy(&reply.body);
    assert_eq!(reply.status, status, "{aws_type}: {body}");
    assert_eq!(
        reply.header("content-type"),
        Some("application/x-amz-json-1.1"),
        "{body}"
    );
    let json = reply.json();
    assert_eq!(json["__type"], aws_type, "{body}");
    assert!(json["message"].is_string(), "{body}");
    assert!(!reply.request_id().is_empty());
}

pub fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

pub fn unb64(v: &Value) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(v.as_str().expect("base64 string"))
        .expect("base64")
}
