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

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use objseal_server::server::{RunningServer, Server, ServerConfig};

#[path = "support/sigv4_client.rs"]
mod sigv4_client;
use sigv4_client::{Client, MIB, get, put};

const OBJECT: usize = 256 * MIB;
const MODES: [&str; 4] = ["none", "sse-s3", "sse-kms", "sse-c"];

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
            put(&client, mode, &chunk, OBJECT).await;
            assert_eq!(get(&client, mode).await, OBJECT, "{mode}");
        }
    });

    let mut group = c.benchmark_group("server/put/256MiB");
    group
        .throughput(Throughput::Bytes(OBJECT as u64))
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1));
    for mode in MODES {
        group.bench_function(mode, |b| {
            b.iter(|| rt.block_on(put(&client, mode, &chunk, OBJECT)))
        });
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
