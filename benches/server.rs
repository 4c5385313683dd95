//! PUT and GET of 256 MiB objects over loopback against a real objseal server (in this process,
//! the embedded store and keystore, SigV4 authentication), in every SSE mode and without
//! encryption, in one run: the ratios are what SSE costs.
//!
//! The client is a plain hyper HTTP/1.1 client signing with SigV4 (`UNSIGNED-PAYLOAD`): it does
//! next to no work of its own, so the figures are the server's. The data directory is on
//! `/dev/shm` when it exists (set `OBJSEAL_BENCH_DIR` to choose), so the disk does not hide the
//! CPU cost of encryption; every PUT still fsyncs. `OBJSEAL_BENCH_BATCH_CHUNKS` and
//! `OBJSEAL_BENCH_OPEN_BATCH_CHUNKS` override the chunks sealed and opened per batch
//! (`SseConfig::batch_chunks`, `SseConfig::open_batch_chunks`).

use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hmac::{Hmac, KeyInit as _, Mac as _};
use http_body_util::{BodyExt as _, StreamBody};
use hyper::body::Frame;
use md5::{Digest as _, Md5};
use objseal_server::server::{RunningServer, Server, ServerConfig};
use sha2::{Digest as _, Sha256};

const MIB: usize = 1024 * 1024;
const OBJECT: usize = 256 * MIB;
const MODES: [&str; 4] = ["none", "sse-s3", "sse-kms", "sse-c"];

struct Client {
    addr: std::net::SocketAddr,
    access: String,
    secret: String,
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut m = <Hmac<Sha256>>::new_from_slice(key).expect("any key length");
    m.update(data);
    m.finalize().into_bytes().to_vec()
}

impl Client {
    /// A SigV4-signed request (payload unsigned) with `extra` headers.
    fn request(
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

    async fn send<B>(&self, req: http::Request<B>) -> http::Response<hyper::body::Incoming>
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

fn sse_headers(mode: &str) -> Vec<(&'static str, String)> {
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

async fn put(c: &Client, mode: &str, chunk: &Bytes) {
    let mut headers = sse_headers(mode);
    headers.push(("content-length", OBJECT.to_string()));
    let chunk = chunk.clone();
    let body =
        StreamBody::new(futures::stream::iter((0..OBJECT / MIB).map(move |_| {
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

async fn get(c: &Client, mode: &str) -> usize {
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

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let base = std::env::var_os("OBJSEAL_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .or_else(|| {
            std::path::Path::new("/dev/shm")
                .is_dir()
                .then(|| "/dev/shm".into())
        });
    let dir = match base {
        Some(b) => tempfile::tempdir_in(b),
        None => tempfile::tempdir(),
    }
    .expect("data directory");
    let server: RunningServer = rt.block_on(async {
        let mut config =
            ServerConfig::new(dir.path()).with_listen("127.0.0.1:0".parse().expect("addr"));
        config.sse.allow_ssec_over_http = true;
        let var = |name: &str| std::env::var(name).ok().and_then(|v| v.parse().ok());
        if let Some(n) = var("OBJSEAL_BENCH_BATCH_CHUNKS") {
            config.sse.batch_chunks = n;
        }
        if let Some(n) = var("OBJSEAL_BENCH_OPEN_BATCH_CHUNKS") {
            config.sse.open_batch_chunks = n;
        }
        Server::start(config).await.expect("server")
    });
    let client = Client {
        addr: server.local_addr(),
        access: server.access_key().id.clone(),
        secret: server.access_key().secret.as_str().to_owned(),
    };
    let chunk = Bytes::from((0..MIB).map(|i| (i * 31 % 251) as u8).collect::<Vec<u8>>());
    rt.block_on(async {
        let req = client
            .request("PUT", "/bench", &[])
            .body(http_body_util::Empty::<Bytes>::new())
            .expect("request");
        assert!(client.send(req).await.status().is_success());
        // Every mode round-trips before anything is timed.
        for mode in MODES {
            put(&client, mode, &chunk).await;
            assert_eq!(get(&client, mode).await, OBJECT, "{mode}");
        }
    });

    let mut group = c.benchmark_group("server/put/256MiB");
    group
        .throughput(Throughput::Bytes(OBJECT as u64))
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1));
    for mode in MODES {
        group.bench_function(mode, |b| b.iter(|| rt.block_on(put(&client, mode, &chunk))));
    }
    group.finish();
    let mut group = c.benchmark_group("server/get/256MiB");
    group
        .throughput(Throughput::Bytes(OBJECT as u64))
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1));
    for mode in MODES {
        group.bench_function(mode, |b| {
            b.iter(|| assert_eq!(rt.block_on(get(&client, mode)), OBJECT))
        });
    }
    group.finish();
    rt.block_on(server.shutdown()).expect("shutdown");
}

criterion_group!(benches, bench);
criterion_main!(benches);
