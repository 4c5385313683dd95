//! The gateway's cost: PUT and GET of 256 MiB objects straight to an S3 backend, and through
//! `objseal serve --backend` in front of it (unencrypted, SSE-S3, SSE-KMS), in one run — the
//! ratios are what the gateway costs (issue 10's target: ≥ 85 % of direct). Unencrypted and SSE-S3
//! PUTs compute the plaintext's MD5 (Amazon S3's ETag rule), which the in-memory backend does not:
//! SSE-KMS (an opaque ETag) shows the gateway's cost without it.
//!
//! The backend, chosen by `OBJSEAL_BENCH_BACKEND`:
//! - `memory` (the default): the in-memory S3 endpoint of `support/memory_s3.rs`, next to no work
//!   per byte — the gateway's whole cost shows;
//! - `memory-md5`: the same, computing every write's MD5 ETag as S3 services do;
//! - a URL (`http://127.0.0.1:7480`): a real S3 service, e.g. the Ceph RGW of
//!   `scripts/ceph-rgw/start.sh` (`source DIR/env` gives the credentials: `AWS_ACCESS_KEY_ID`,
//!   `AWS_SECRET_ACCESS_KEY`).
//!
//! The same bare SigV4 client (`support/sigv4_client.rs`) drives both legs. Benchmark ids carry
//! the backend's kind (`gateway/<kind>/<op>/256MiB/<case>`), so baselines never mix.

use std::time::Duration;

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use objseal_server::server::{Server, ServerConfig};
use objseal_server::store::{BackendCredentials, RemoteStoreConfig};

#[path = "support/memory_s3.rs"]
mod memory_s3;
#[path = "support/sigv4_client.rs"]
mod sigv4_client;
use sigv4_client::{Client, MIB, get, put};

const OBJECT: usize = 256 * MIB;

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("data directory");
    let choice = std::env::var("OBJSEAL_BENCH_BACKEND").unwrap_or_else(|_| "memory".into());
    let (kind, access, secret) = match choice.as_str() {
        "memory" | "memory-md5" => (choice.clone(), "bench".into(), "bench-secret".into()),
        _ => (
            "remote".to_owned(),
            std::env::var("AWS_ACCESS_KEY_ID").expect("AWS_ACCESS_KEY_ID for the backend"),
            std::env::var("AWS_SECRET_ACCESS_KEY").expect("AWS_SECRET_ACCESS_KEY for the backend"),
        ),
    };
    let (backend_url, gateway) = rt.block_on(async {
        let backend_url = match choice.as_str() {
            "memory" => memory_s3::start().await,
            "memory-md5" => memory_s3::start_with_etags().await,
            url => url.trim_end_matches('/').to_owned(),
        };
        let mut config =
            ServerConfig::new(dir.path()).with_listen("127.0.0.1:0".parse().expect("addr"));
        let mut backend = RemoteStoreConfig::new(&backend_url);
        backend.credentials = Some(BackendCredentials::new(&access, &secret));
        config.backend = Some(backend);
        let server = Server::start(config).await.expect("gateway");
        (backend_url, server)
    });
    let direct = Client {
        addr: backend_url
            .trim_start_matches("http://")
            .parse()
            .expect("backend address: http://IP:PORT"),
        access,
        secret,
    };
    let through = Client {
        addr: gateway.local_addr(),
        access: gateway.access_key().id.clone(),
        secret: gateway.access_key().secret.as_str().to_owned(),
    };
    let chunk = Bytes::from((0..MIB).map(|i| (i * 31 % 251) as u8).collect::<Vec<u8>>());
    let cases: [(&str, &Client, &str); 4] = [
        ("direct", &direct, "direct"),
        ("gateway-none", &through, "none"),
        ("gateway-sse-s3", &through, "sse-s3"),
        ("gateway-sse-kms", &through, "sse-kms"),
    ];
    rt.block_on(async {
        let req = through
            .request("PUT", "/bench", &[])
            .body(http_body_util::Empty::<Bytes>::new())
            .expect("request");
        assert!(through.send(req).await.status().is_success());
        // Every case round-trips before anything is timed.
        for (name, client, mode) in cases {
            put(client, mode, &chunk, OBJECT).await;
            assert_eq!(get(client, mode).await, OBJECT, "{name}");
        }
    });
    for (op, is_put) in [("put", true), ("get", false)] {
        let mut group = c.benchmark_group(format!("gateway/{kind}/{op}/256MiB"));
        group
            .throughput(Throughput::Bytes(OBJECT as u64))
            .sample_size(10)
            .warm_up_time(Duration::from_secs(1));
        for (name, client, mode) in cases {
            group.bench_function(name, |b| {
                b.iter(|| {
                    if is_put {
                        rt.block_on(put(client, mode, &chunk, OBJECT));
                    } else {
                        assert_eq!(rt.block_on(get(client, mode)), OBJECT);
                    }
                })
            });
        }
        group.finish();
    }
    rt.block_on(gateway.shutdown()).expect("shutdown");
}

criterion_group!(benches, bench);
criterion_main!(benches);
