//! The server boots on embedded defaults, answers its own endpoints, refuses unsigned S3
//! requests, keeps its keys across restarts, serves TLS and shuts down gracefully.
//!
//! The S3 behaviour itself is tested elsewhere; these tests speak raw HTTP/1.1.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use objseal_server::server::{
    CREDENTIALS_FILE, CredentialSource, KEYSTORE_PATH, KmsKind, REQUEST_ID_HEADER, ROOT_KEY_FILE,
    RootKeySource, TlsFiles,
};
use objseal_server::{RunningServer, Server, ServerConfig};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

/// A parsed HTTP/1.1 response.
#[derive(Debug)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Sends one request (`Connection: close`) over `io` and reads the whole response.
async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    mut io: S,
    method: &str,
    path: &str,
    host: &str,
) -> Reply {
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    io.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), io.read_to_end(&mut raw))
        .await
        .expect("the server answers in time")
        .unwrap();
    parse(&raw)
}

fn parse(raw: &[u8]) -> Reply {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n").expect("a complete head");
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let chunked = headers.iter().any(|(n, v)| {
        n.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    });
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_owned()
    };
    Reply {
        status,
        headers,
        body,
    }
}

fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).expect("a chunk size");
        if size == 0 {
            break;
        }
        out.push_str(&after[..size]);
        rest = &after[size + 2..];
    }
    out
}

async fn get(server: &RunningServer, method: &str, path: &str) -> Reply {
    let addr = server.local_addr();
    let stream = TcpStream::connect(addr).await.unwrap();
    exchange(stream, method, path, &addr.to_string()).await
}

fn config(dir: &Path) -> ServerConfig {
    let mut config =
        ServerConfig::new(dir.join("data")).with_listen("127.0.0.1:0".parse().unwrap());
    config.shutdown_grace = Duration::from_secs(5);
    config
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boots_on_defaults_and_answers_its_own_endpoints() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(config(dir.path())).await.unwrap();
    let data = dir.path().join("data");
    assert_eq!(server.endpoint(), format!("http://{}", server.local_addr()));
    assert_ne!(server.local_addr().port(), 0);
    assert_eq!(server.credential_source(), CredentialSource::Generated);
    assert_eq!(server.root_key_source(), RootKeySource::Generated);
    assert_eq!(server.kms(), &KmsKind::Embedded(data.join(KEYSTORE_PATH)));
    assert!(server.default_kms_key_arn().starts_with("arn:aws:kms:"));

    let health = get(&server, "GET", "/_objseal/health").await;
    assert_eq!(health.status, 200, "{health:?}");
    assert_eq!(health.body.trim(), "ok");
    let id = health.header(REQUEST_ID_HEADER).expect("a request id");
    assert_eq!(id.len(), 16, "{id}");
    let again = get(&server, "GET", "/_objseal/health").await;
    assert_ne!(
        again.header(REQUEST_ID_HEADER),
        Some(id),
        "one id per request"
    );

    let metrics = get(&server, "GET", "/_objseal/metrics").await;
    assert_eq!(metrics.status, 200, "{metrics:?}");
    assert!(
        metrics
            .header("content-type")
            .is_some_and(|v| v.starts_with("text/plain")),
        "{metrics:?}"
    );
    assert!(
        metrics
            .body
            .contains("# TYPE objseal_requests_total counter"),
        "{}",
        metrics.body
    );
    assert!(metrics.body.contains("objseal_sealed_bytes_total 0"));

    // Nothing else lives under the reserved prefix, and it takes no writes.
    assert_eq!(get(&server, "GET", "/_objseal/other").await.status, 404);
    assert_eq!(get(&server, "PUT", "/_objseal/health").await.status, 405);
    assert_eq!(get(&server, "PUT", "/_objseal").await.status, 404);

    // Files of the data directory: the secrets private, the keystore opened.
    assert!(data.join(KEYSTORE_PATH).is_file());
    #[cfg(unix)]
    {
        assert_eq!(mode(&data.join(ROOT_KEY_FILE)), 0o600);
        assert_eq!(mode(&data.join(CREDENTIALS_FILE)), 0o600);
        assert_eq!(mode(&data), 0o700);
    }
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsigned_s3_requests_are_refused_with_a_request_id() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(config(dir.path())).await.unwrap();
    for (method, path) in [
        ("GET", "/"),
        ("PUT", "/demo"),
        ("GET", "/demo/file"),
        ("DELETE", "/demo/file"),
    ] {
        let reply = get(&server, method, path).await;
        assert_eq!(reply.status, 403, "{method} {path}: {reply:?}");
        assert!(
            reply.body.contains("<Code>AccessDenied</Code>"),
            "{reply:?}"
        );
        let id = reply.header(REQUEST_ID_HEADER).expect("a request id");
        assert!(
            reply.body.contains(&format!("<RequestId>{id}</RequestId>")),
            "{reply:?}"
        );
    }
    // A signature by an unknown access key is refused too.
    let addr = server.local_addr();
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "GET / HTTP/1.1\r\nHost: {addr}\r\nx-amz-date: 20260101T000000Z\r\n\
         x-amz-content-sha256: UNSIGNED-PAYLOAD\r\nAuthorization: AWS4-HMAC-SHA256 \
         Credential=NOBODY/20260101/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, \
         Signature=0000000000000000000000000000000000000000000000000000000000000000\r\n\
         Connection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let reply = parse(&raw);
    assert!(reply.status == 403 || reply.status == 400, "{reply:?}");
    assert!(reply.header(REQUEST_ID_HEADER).is_some());
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_and_credentials_persist_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let first = Server::start(config(dir.path())).await.unwrap();
    let key = first.access_key().clone();
    let arn = first.default_kms_key_arn().to_owned();
    assert_eq!(first.credentials_path(), data.join(CREDENTIALS_FILE));
    first.shutdown().await.unwrap();
    let root_key = std::fs::read(data.join(ROOT_KEY_FILE)).unwrap();
    let credentials = std::fs::read_to_string(data.join(CREDENTIALS_FILE)).unwrap();
    assert!(credentials.contains(&key.id) && credentials.contains(key.secret.as_str()));

    let second = Server::start(config(dir.path())).await.unwrap();
    assert_eq!(second.credential_source(), CredentialSource::Stored);
    assert_eq!(second.root_key_source(), RootKeySource::Stored);
    assert_eq!(second.access_key(), &key);
    assert_eq!(
        second.default_kms_key_arn(),
        arn,
        "the default key is made once"
    );
    second.shutdown().await.unwrap();
    assert_eq!(std::fs::read(data.join(ROOT_KEY_FILE)).unwrap(), root_key);

    // Configured access keys replace the stored ones without touching the file; a configured
    // root key must match the data directory's.
    let mut configured = config(dir.path());
    configured.access_keys = vec![objseal_server::server::AccessKey::new(
        "AKIDGIVEN",
        "given-secret",
    )];
    let third = Server::start(configured).await.unwrap();
    assert_eq!(third.credential_source(), CredentialSource::Configured);
    assert_eq!(third.access_key().id, "AKIDGIVEN");
    third.shutdown().await.unwrap();
    assert_eq!(
        std::fs::read_to_string(data.join(CREDENTIALS_FILE)).unwrap(),
        credentials
    );
    let mut wrong_root = config(dir.path());
    wrong_root.root_key = Some(objseal_kms::RootKey::from_bytes([9; 32]));
    let e = Server::start(wrong_root).await.unwrap_err();
    assert!(e.to_string().contains("root key"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_is_graceful() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(config(dir.path())).await.unwrap();
    let addr = server.local_addr();

    // A keep-alive connection that answered one request and is now idle.
    let mut idle = TcpStream::connect(addr).await.unwrap();
    idle.write_all(format!("GET /_objseal/health HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = idle.read(&mut buf).await.unwrap();
    assert!(
        buf[..n].starts_with(b"HTTP/1.1 200"),
        "{:?}",
        String::from_utf8_lossy(&buf[..n])
    );

    // A handle stops it from elsewhere; `wait` returns once it has stopped.
    let handle = server.shutdown_handle();
    let started = Instant::now();
    let waiting = tokio::spawn(server.wait());
    handle.shutdown();
    tokio::time::timeout(Duration::from_secs(4), waiting)
        .await
        .expect("an idle connection does not hold up the shutdown")
        .unwrap()
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(4));
    // The idle connection was closed, and nothing listens any more.
    let closed = tokio::time::timeout(Duration::from_secs(2), idle.read(&mut buf)).await;
    assert!(matches!(closed, Ok(Ok(0)) | Ok(Err(_))), "{closed:?}");
    assert!(TcpStream::connect(addr).await.is_err());
}

fn tls_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/tls")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_tls() {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, ServerName};

    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    config.tls = Some(TlsFiles {
        cert_chain: tls_dir().join("server.pem"),
        private_key: tls_dir().join("server.key"),
    });
    let server = Server::start(config).await.unwrap();
    assert_eq!(
        server.endpoint(),
        format!("https://{}", server.local_addr())
    );

    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(tls_dir().join("ca.pem")).unwrap())
        .unwrap();
    let client = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client));
    let addr = server.local_addr();
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = ServerName::IpAddress(addr.ip().into());
    let tls = connector.connect(name, tcp).await.unwrap();
    let reply = exchange(tls, "GET", "/_objseal/health", &addr.to_string()).await;
    assert_eq!(reply.status, 200, "{reply:?}");

    // Plain HTTP on the TLS port gets no answer.
    let mut plain = TcpStream::connect(addr).await.unwrap();
    plain
        .write_all(b"GET /_objseal/health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut raw = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), plain.read_to_end(&mut raw)).await;
    assert!(!raw.starts_with(b"HTTP/1.1 200"));
    server.shutdown().await.unwrap();

    // A missing key file is a clear error.
    let mut bad = self::config(dir.path());
    bad.tls = Some(TlsFiles {
        cert_chain: tls_dir().join("server.pem"),
        private_key: dir.path().join("missing.key"),
    });
    let e = Server::start(bad).await.unwrap_err().to_string();
    assert!(e.contains("missing.key"), "{e}");
}
