//! Client-side encryption against plain transfers: upload and download of one large object (1 GiB;
//! `OBJSEAL_BENCH_MIB` to change) to a real `objseal serve` on loopback (in this process, plain
//! mode, data directory on `/dev/shm` when it exists, `OBJSEAL_BENCH_DIR` to choose), in one run.
//!
//! Both sides use the AWS SDK for Rust with the same transfer plan — multipart uploads of 16 MiB
//! parts, 8 at once; downloads in 16 MiB ranged requests, 8 in flight, consumed in order — so the
//! ratio `cse / plain` is what encryption costs a client: sealing (or opening) every chunk and the
//! copy into chunk slots. A second group repeats the four against an in-memory endpoint
//! (`benches/support/memory_s3.rs`) that does next to no work per byte, so the client's own cost
//! shows rather than the server's. Peak memory is measured by `benches/client_rss.sh`.
//!
//! ```sh
//! cargo bench --bench client -- --warm-up-time 1 --measurement-time 20
//! ```

use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use futures::StreamExt as _;
use objseal_client::{ClientConfig, EncryptingClient, GetOptions, Keyring, PutOptions};
use objseal_core::Kek;
use objseal_core::wrap::LocalKek;
use objseal_server::server::{Server, ServerConfig};

#[path = "support/memory_s3.rs"]
mod memory_s3;

const MIB: usize = 1024 * 1024;
const PART: usize = 16 * MIB;
const CONCURRENCY: usize = 8;

async fn plain_upload(s3: &aws_sdk_s3::Client, key: &str, data: &Bytes) {
    let upload = s3
        .create_multipart_upload()
        .bucket("bench")
        .key(key)
        .send()
        .await
        .unwrap()
        .upload_id
        .unwrap();
    let parts: Vec<CompletedPart> = futures::stream::iter(0..data.len().div_ceil(PART))
        .map(|i| {
            let body = data.slice(i * PART..((i + 1) * PART).min(data.len()));
            let upload = upload.clone();
            async move {
                let out = s3
                    .upload_part()
                    .bucket("bench")
                    .key(key)
                    .upload_id(upload)
                    .part_number(i as i32 + 1)
                    .content_length(body.len() as i64)
                    .body(ByteStream::from(body))
                    .send()
                    .await
                    .unwrap();
                CompletedPart::builder()
                    .part_number(i as i32 + 1)
                    .e_tag(out.e_tag.unwrap())
                    .build()
            }
        })
        .buffered(CONCURRENCY)
        .collect()
        .await;
    s3.complete_multipart_upload()
        .bucket("bench")
        .key(key)
        .upload_id(upload)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .send()
        .await
        .unwrap();
}

async fn plain_download(s3: &aws_sdk_s3::Client, key: &str, len: usize) -> usize {
    futures::stream::iter(0..len.div_ceil(PART))
        .map(|i| async move {
            let (a, b) = (i * PART, ((i + 1) * PART).min(len) - 1);
            let out = s3
                .get_object()
                .bucket("bench")
                .key(key)
                .range(format!("bytes={a}-{b}"))
                .send()
                .await
                .unwrap();
            let mut buf = Vec::with_capacity(b - a + 1);
            let mut body = out.body;
            while let Some(bytes) = body.try_next().await.unwrap() {
                buf.extend_from_slice(&bytes);
            }
            buf
        })
        .buffered(CONCURRENCY)
        .fold(0, |n, buf| async move { n + buf.len() })
        .await
}

/// The four transfers against one endpoint, as one criterion group.
fn transfers(
    c: &mut Criterion,
    rt: &tokio::runtime::Runtime,
    name: &str,
    config: ClientConfig,
    data: &Bytes,
) {
    let len = data.len();
    let kek = LocalKek::new(Kek::from_bytes([7; 32]), "bench", 1).unwrap();
    let client = rt.block_on(async {
        EncryptingClient::connect(config, Keyring::new().with_kek(kek))
            .await
            .unwrap()
    });
    let s3 = client.s3().clone();
    rt.block_on(async {
        s3.create_bucket().bucket("bench").send().await.unwrap();
        // The objects the downloads read, whichever entries a filter selects.
        plain_upload(&s3, "plain", data).await;
        client
            .put("bench", "cse", data, &PutOptions::default())
            .await
            .unwrap();
    });
    let mut group = c.benchmark_group(format!("client/{name}/{}MiB", len / MIB));
    group.throughput(Throughput::Bytes(len as u64));
    group.sample_size(10);
    group.bench_function("upload/plain", |b| {
        b.iter(|| rt.block_on(plain_upload(&s3, "plain", data)));
    });
    group.bench_function("upload/cse", |b| {
        b.iter(|| {
            rt.block_on(client.put("bench", "cse", data, &PutOptions::default()))
                .unwrap()
        });
    });
    group.bench_function("download/plain", |b| {
        b.iter(|| assert_eq!(rt.block_on(plain_download(&s3, "plain", len)), len));
    });
    group.bench_function("download/cse", |b| {
        b.iter(|| {
            let mut sink = tokio::io::sink();
            let out = rt
                .block_on(client.get_to("bench", "cse", &GetOptions::default(), &mut sink))
                .unwrap();
            assert_eq!(out.range.end, len as u64);
        });
    });
    group.finish();
}

fn config(endpoint: String, id: String, secret: String) -> ClientConfig {
    ClientConfig {
        endpoint_url: Some(endpoint),
        region: Some("us-east-1".into()),
        credentials: Some((id, zeroize::Zeroizing::new(secret))),
        force_path_style: true,
        part_size: PART,
        multipart_threshold: PART,
        concurrency: CONCURRENCY,
        ..ClientConfig::default()
    }
}

fn bench(c: &mut Criterion) {
    let len = std::env::var("OBJSEAL_BENCH_MIB")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(1024)
        * MIB;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let data = Bytes::from(
        (0..len)
            .map(|i| (i.wrapping_mul(31) % 251) as u8)
            .collect::<Vec<u8>>(),
    );

    // objseal serve, plain mode: what a user of both gets.
    let base = std::env::var_os("OBJSEAL_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            let shm = std::path::Path::new("/dev/shm");
            if shm.is_dir() {
                shm.into()
            } else {
                std::env::temp_dir()
            }
        });
    let dir = tempfile::tempdir_in(base).unwrap();
    let server = rt.block_on(async {
        Server::start(ServerConfig::new(dir.path()).with_listen("127.0.0.1:0".parse().unwrap()))
            .await
            .unwrap()
    });
    let key = server.access_key();
    let serve = config(
        server.endpoint().to_owned(),
        key.id.clone(),
        key.secret.as_str().to_owned(),
    );
    transfers(c, &rt, "objseal-serve", serve, &data);
    rt.block_on(async { server.shutdown().await.unwrap() });
    drop(dir);

    // An in-memory endpoint that does next to nothing per byte: the client's own cost.
    let endpoint = rt.block_on(memory_s3::start());
    let memory = ClientConfig {
        request_checksums: false,
        ..config(endpoint, "bench".into(), "bench".into())
    };
    transfers(c, &rt, "memory-endpoint", memory, &data);
}
criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1));
    targets = bench
}
criterion_main!(benches);
