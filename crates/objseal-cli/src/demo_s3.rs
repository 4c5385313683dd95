//! The server half of `objseal demo`: an objseal S3 server on loopback, in this process, and the
//! AWS SDK for Rust storing one sample in each SSE mode — SSE-S3, SSE-KMS and SSE-C.

use std::path::Path;

use anyhow::{Context, Result, bail, ensure};
use aws_sdk_s3::Client;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ServerSideEncryption;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use md5::{Digest as _, Md5};
use objseal_server::server::{Server, ServerConfig};

/// Runs the three SSE modes against a server whose data lives under `dir`; prints one line per
/// step, numbered from `step`.
pub fn run(dir: &Path, step: u32) -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(run_async(dir, step))
}

async fn run_async(dir: &Path, step: u32) -> Result<()> {
    let mut config = ServerConfig::new(dir.join("server")).with_listen("127.0.0.1:0".parse()?);
    // Loopback only, inside this process: SSE-C without TLS is acceptable here and nowhere else.
    config.sse.allow_ssec_over_http = true;
    let server = Server::start(config)
        .await
        .context("starting the S3 server")?;
    println!(
        "{step}. serve    objseal S3 server on {} (embedded store and keystore)",
        server.endpoint()
    );
    let key = server.access_key();
    let client = Client::from_conf(
        aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .endpoint_url(server.endpoint())
            .force_path_style(true)
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new(
                key.id.clone(),
                key.secret.as_str(),
                None,
                None,
                "demo",
            ))
            .http_client(
                aws_smithy_http_client::Builder::new()
                    .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                        aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
                    ))
                    .build_https(),
            )
            .build(),
    );
    let result = modes(&client, server.data_dir(), step + 1).await;
    server.shutdown().await.context("stopping the S3 server")?;
    result
}

async fn modes(c: &Client, data_dir: &Path, step: u32) -> Result<()> {
    let marker = b"objseal demo: the plaintext the disk must never see. ";
    let plain: Vec<u8> = marker
        .iter()
        .copied()
        .cycle()
        .take(3 * 1024 * 1024 + 17)
        .collect();
    c.create_bucket()
        .bucket("demo")
        .send()
        .await
        .context("CreateBucket")?;
    let customer = [0x5au8; 32];
    let (ck, ck_md5) = (B64.encode(customer), B64.encode(Md5::digest(customer)));

    let put = c
        .put_object()
        .bucket("demo")
        .key("sse-s3.bin")
        .server_side_encryption(ServerSideEncryption::Aes256);
    let out = put
        .body(ByteStream::from(plain.clone()))
        .send()
        .await
        .context("PutObject SSE-S3")?;
    println!(
        "{step}. SSE-S3   PutObject -> x-amz-server-side-encryption: AES256, ETag {}",
        out.e_tag().unwrap_or("?")
    );
    let put = c
        .put_object()
        .bucket("demo")
        .key("sse-kms.bin")
        .server_side_encryption(ServerSideEncryption::AwsKms);
    let out = put
        .body(ByteStream::from(plain.clone()))
        .send()
        .await
        .context("PutObject SSE-KMS")?;
    println!(
        "   SSE-KMS  PutObject -> aws:kms, key {}",
        out.ssekms_key_id().unwrap_or("?")
    );
    let put = c
        .put_object()
        .bucket("demo")
        .key("sse-c.bin")
        .sse_customer_algorithm("AES256");
    let put = put.sse_customer_key(&ck).sse_customer_key_md5(&ck_md5);
    put.body(ByteStream::from(plain.clone()))
        .send()
        .await
        .context("PutObject SSE-C")?;
    println!(
        "   SSE-C    PutObject -> customer key MD5 {ck_md5} echoed; the key itself is not kept"
    );

    for k in ["sse-s3.bin", "sse-kms.bin"] {
        let got = c
            .get_object()
            .bucket("demo")
            .key(k)
            .send()
            .await
            .with_context(|| format!("GetObject {k}"))?;
        ensure!(
            got.body.collect().await?.into_bytes() == plain,
            "{k} read back differently"
        );
    }
    let got = c
        .get_object()
        .bucket("demo")
        .key("sse-c.bin")
        .sse_customer_algorithm("AES256");
    let got = got
        .sse_customer_key(&ck)
        .sse_customer_key_md5(&ck_md5)
        .send()
        .await
        .context("GetObject SSE-C")?;
    ensure!(
        got.body.collect().await?.into_bytes() == plain,
        "sse-c.bin read back differently"
    );
    let ranged = c
        .get_object()
        .bucket("demo")
        .key("sse-kms.bin")
        .range("bytes=-100")
        .send()
        .await?;
    ensure!(
        ranged.body.collect().await?.into_bytes() == plain[plain.len() - 100..],
        "the ranged read differs"
    );
    println!(
        "{}. GET      all three read back identical; a 100-byte suffix range opens only the last chunk",
        step + 1
    );

    let wrong = [0x11u8; 32];
    let refused = c
        .get_object()
        .bucket("demo")
        .key("sse-c.bin")
        .sse_customer_algorithm("AES256");
    let refused = refused
        .sse_customer_key(B64.encode(wrong))
        .sse_customer_key_md5(B64.encode(Md5::digest(wrong)));
    match refused.send().await {
        Ok(_) => bail!("a wrong SSE-C key was accepted"),
        Err(e) => println!(
            "{}. refuse   SSE-C with a wrong key: HTTP {}",
            step + 2,
            e.raw_response().map_or(0, |r| r.status().as_u16())
        ),
    }
    match c.get_object().bucket("demo").key("sse-c.bin").send().await {
        Ok(_) => bail!("an SSE-C object was served without its key"),
        Err(e) => println!(
            "              SSE-C without a key: HTTP {}",
            e.raw_response().map_or(0, |r| r.status().as_u16())
        ),
    }
    let found = scan(data_dir, &marker[..32], &customer)?;
    ensure!(
        found.is_none(),
        "plaintext or the customer key found on disk in {found:?}"
    );
    println!(
        "{}. disk     no plaintext and no customer key anywhere under the data directory",
        step + 3
    );
    Ok(())
}

/// The first file under `dir` holding either needle.
fn scan(dir: &Path, a: &[u8], b: &[u8]) -> Result<Option<std::path::PathBuf>> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            if let Some(p) = scan(&path, a, b)? {
                return Ok(Some(p));
            }
        } else {
            let bytes = std::fs::read(&path)?;
            if bytes.windows(a.len()).any(|w| w == a) || bytes.windows(b.len()).any(|w| w == b) {
                return Ok(Some(path));
            }
        }
    }
    Ok(None)
}
