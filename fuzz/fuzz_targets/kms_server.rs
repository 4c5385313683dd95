//! The AWS-KMS-compatible server (`objseal kms serve`'s engine) on arbitrary requests, over a real
//! `LocalKms`: `KmsServer::handle` never panics, and every answer is AWS-shaped — `200` with a JSON
//! object, or an error status with a JSON `{"__type", "message"}` body.
//!
//! The first byte picks how the rest becomes a request:
//! * even: a correctly signed request (the test access key, now) for the operation the second byte
//!   picks, with the remaining bytes as its JSON body — so the fuzzer reaches the protocol parsers
//!   and the operations behind them;
//! * odd: header lines (`name: value`, separated by newlines) up to a NUL byte, then the body, sent
//!   as they are — unsigned, badly signed or malformed.
#![no_main]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use libfuzzer_sys::fuzz_target;
use objseal_kms::server::protocol::{CONTENT_TYPE, Operation, TARGET_PREFIX};
use objseal_kms::server::sigv4::{SigningParams, format_amz_date, sign};
use objseal_kms::server::{AccessKey, KmsServer, ServerConfig};
use objseal_kms::{CreateKeyRequest, Kms, LocalKms, LocalKmsConfig, RootKey};

const KEY_ID: &str = "AKIDFUZZ";
const SECRET: &str = "fuzz-secret";
const REGION: &str = "us-east-1";
/// CreateKey and RotateKeyOnDemand grow the store; past this many successes they are skipped, so a
/// long campaign does not slow down on an ever larger store file.
const MAX_GROWTH: usize = 64;

struct Fixture {
    runtime: tokio::runtime::Runtime,
    server: KmsServer,
    _dir: tempfile::TempDir,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        // On tmpfs where there is one: the store is rewritten (and synced) on every change.
        let dir = tempfile::Builder::new()
            .prefix("objseal-fuzz-kms")
            .tempdir_in(if std::path::Path::new("/dev/shm").is_dir() { "/dev/shm" } else { "/tmp" })
            .expect("temporary directory");
        let config = LocalKmsConfig::new(dir.path().join("keys.osks"), RootKey::from_bytes([7; 32]));
        let kms = LocalKms::open(config).expect("keystore");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let key = kms.create_key(CreateKeyRequest::default()).await.expect("key");
            kms.create_alias("alias/fuzz", &key.key_id).await.expect("alias");
        });
        let server = KmsServer::new(
            ServerConfig::new(REGION, vec![AccessKey::new(KEY_ID, SECRET)]),
            Arc::new(kms),
        )
        .expect("server");
        Fixture {
            runtime,
            server,
            _dir: dir,
        }
    })
}

fn signed(op: Operation, body: &[u8]) -> Request<Full<Bytes>> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let date = format_amz_date(now);
    let target = format!("{TARGET_PREFIX}{}", op.name());
    let headers = [
        ("host", "127.0.0.1"),
        ("content-type", CONTENT_TYPE),
        ("x-amz-date", date.as_str()),
        ("x-amz-target", target.as_str()),
    ];
    let params = SigningParams {
        access_key_id: KEY_ID,
        secret_access_key: SECRET,
        region: REGION,
        service: "kms",
        amz_date: &date,
    };
    let auth = sign(&params, "POST", "/", "", &headers, body);
    let mut builder = Request::builder().method("POST").uri("/");
    for (name, value) in headers {
        builder = builder.header(name, value);
    }
    builder
        .header("authorization", auth)
        .body(Full::new(Bytes::copy_from_slice(body)))
        .expect("a valid request")
}

fn raw(data: &[u8]) -> Request<Full<Bytes>> {
    let (head, body) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let mut builder = Request::builder().method("POST").uri("/");
    for line in head.split(|&b| b == b'\n') {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        let (Ok(name), Ok(value)) = (
            hyper::header::HeaderName::from_bytes(name),
            hyper::header::HeaderValue::from_bytes(value.trim_ascii()),
        ) else {
            continue;
        };
        builder = builder.header(name, value);
    }
    builder
        .body(Full::new(Bytes::copy_from_slice(body)))
        .expect("headers were checked one by one")
}

fuzz_target!(|data: &[u8]| {
    static GROWTH: AtomicUsize = AtomicUsize::new(0);
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let fixture = fixture();
    let (request, grows) = if mode % 2 == 0 {
        let Some((&pick, body)) = rest.split_first() else {
            return;
        };
        let op = Operation::ALL[usize::from(pick) % Operation::ALL.len()];
        let grows = matches!(op, Operation::CreateKey | Operation::RotateKeyOnDemand);
        if grows && GROWTH.load(Ordering::Relaxed) >= MAX_GROWTH {
            return;
        }
        (signed(op, body), grows)
    } else {
        (raw(rest), false)
    };
    let response = fixture
        .runtime
        .block_on(fixture.server.handle(request, None));
    let status = response.status().as_u16();
    let body = fixture
        .runtime
        .block_on(response.into_body().collect())
        .expect("a Full body never fails")
        .to_bytes();
    let json: serde_json::Value =
        serde_json::from_slice(&body).expect("every answer is JSON");
    // For reading a reproducer's answer: `OBJSEAL_FUZZ_SHOW=1 …/kms_server crash-file`.
    if std::env::var_os("OBJSEAL_FUZZ_SHOW").is_some() {
        eprintln!("{status} {json}");
    }
    if status == 200 {
        assert!(json.is_object(), "a 200 answer is a JSON object");
        if grows {
            GROWTH.fetch_add(1, Ordering::Relaxed);
        }
    } else {
        assert!((400..600).contains(&status), "status {status}");
        assert!(json["__type"].is_string(), "error without __type: {json}");
        assert!(json["message"].is_string(), "error without message: {json}");
    }
});
