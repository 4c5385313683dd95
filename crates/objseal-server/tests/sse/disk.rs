//! What lies on disk: no plaintext and no customer key anywhere under the data directory, and a
//! stored object altered on disk is refused, never returned. In gateway mode
//! (`OBJSEAL_TEST_BACKEND=moto`) the same checks hold for what lies in the backend: every object
//! and its metadata, read straight from moto, and an object altered there.

use aws_sdk_s3::types::ServerSideEncryption;
use base64::Engine as _;

use crate::common::*;

fn files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Every object of every bucket of the backend: its name, and its body, then its name, metadata
/// and content type. (Parts of an upload in progress cannot be read back through S3: the
/// gateway's sidecars for them can.)
async fn backend_objects(backend: &aws_sdk_s3::Client) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let buckets = backend.list_buckets().send().await.unwrap();
    for bucket in buckets.buckets().iter().filter_map(|b| b.name()) {
        let listed = backend
            .list_objects_v2()
            .bucket(bucket)
            .send()
            .await
            .unwrap();
        assert_eq!(listed.is_truncated(), Some(false));
        for key in listed.contents().iter().filter_map(|o| o.key()) {
            let got = backend
                .get_object()
                .bucket(bucket)
                .key(key)
                .send()
                .await
                .unwrap();
            let described = format!(
                "{bucket}/{key} {:?} {:?}",
                got.metadata(),
                got.content_type()
            );
            let name = format!("backend object {bucket}/{key}");
            out.push((format!("{name} (body)"), collect(got).await));
            out.push((format!("{name} (metadata)"), described.into_bytes()));
        }
    }
    out
}

#[tokio::test]
async fn no_plaintext_and_no_customer_key_on_disk() {
    let env = Env::start().await;
    env.bucket("disk").await;
    let c = &env.client;
    let marker = b"OBJSEAL-PLAINTEXT-MARKER-0123456789";
    let plain: Vec<u8> = marker.iter().copied().cycle().take(300_000).collect();
    let ck = customer_key(0x5a);
    c.put_object()
        .bucket("disk")
        .key("s3")
        .server_side_encryption(ServerSideEncryption::Aes256)
        .body(body(&plain))
        .send()
        .await
        .unwrap();
    c.put_object()
        .bucket("disk")
        .key("kms")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .body(body(&plain))
        .send()
        .await
        .unwrap();
    c.put_object()
        .bucket("disk")
        .key("ssec")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&ck.b64)
        .sse_customer_key_md5(&ck.md5)
        .body(body(&plain))
        .send()
        .await
        .unwrap();
    let up = c
        .create_multipart_upload()
        .bucket("disk")
        .key("mp")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&ck.b64)
        .sse_customer_key_md5(&ck.md5)
        .send()
        .await
        .unwrap();
    c.upload_part()
        .bucket("disk")
        .key("mp")
        .upload_id(up.upload_id().unwrap())
        .part_number(1)
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&ck.b64)
        .sse_customer_key_md5(&ck.md5)
        .body(body(&plain))
        .send()
        .await
        .unwrap();
    let backend = env.backend_client();
    let dir = env.stop().await;
    let mut all = Vec::new();
    files(dir.path(), &mut all);
    let mut stored: Vec<(String, Vec<u8>)> = all
        .iter()
        .map(|f| (f.display().to_string(), std::fs::read(f).unwrap()))
        .collect();
    match &backend {
        // Three objects and the upload's sidecar(s), at least.
        Some(backend) => {
            let objects = backend_objects(backend).await;
            assert!(objects.len() >= 2 * 4, "{} backend entries", objects.len());
            stored.extend(objects);
        }
        None => assert!(all.len() > 4),
    }
    let key_hex = hex::encode(ck.raw);
    // Checksums of the plaintext (the SDK's CRC32, the server's default CRC64NVME) are kept
    // only sealed.
    let (crc32, crc64) = {
        use s3s::crypto::Checksum as _;
        let b64 = base64::engine::general_purpose::STANDARD;
        (
            b64.encode(s3s::crypto::Crc32::checksum(&plain)),
            b64.encode(s3s::crypto::Crc64Nvme::checksum(&plain)),
        )
    };
    let needles: Vec<(&str, Vec<u8>)> = vec![
        ("plaintext", marker[..24].to_vec()),
        ("customer key", ck.raw.to_vec()),
        ("customer key (base64)", ck.b64.as_bytes().to_vec()),
        ("customer key (hex)", key_hex.as_bytes().to_vec()),
        ("customer key MD5", ck.md5.as_bytes().to_vec()),
        ("plaintext CRC32 (base64)", crc32.as_bytes().to_vec()),
        ("plaintext CRC64NVME (base64)", crc64.as_bytes().to_vec()),
        (
            "customer key MD5 (raw)",
            base64::engine::general_purpose::STANDARD
                .decode(&ck.md5)
                .unwrap(),
        ),
    ];
    for (f, bytes) in &stored {
        for (what, needle) in &needles {
            assert!(!contains(bytes, needle), "{what} found in {f}");
        }
    }
}

#[tokio::test]
async fn objects_altered_on_disk_are_refused() {
    let env = Env::start().await;
    env.bucket("tmp").await;
    let c = &env.client;
    let plain = data(5 * 65536 + 7, 2);
    c.put_object()
        .bucket("tmp")
        .key("k")
        .server_side_encryption(ServerSideEncryption::Aes256)
        .body(body(&plain))
        .send()
        .await
        .unwrap();
    // Flip one byte in the middle of every file (backend object) big enough to hold the body.
    let mut flipped = 0;
    if let Some(backend) = env.backend_client() {
        let listed = backend
            .list_objects_v2()
            .bucket("tmp")
            .send()
            .await
            .unwrap();
        for key in listed.contents().iter().filter_map(|o| o.key()) {
            let got = backend
                .get_object()
                .bucket("tmp")
                .key(key)
                .send()
                .await
                .unwrap();
            let (metadata, content_type) = (got.metadata().cloned(), got.content_type.clone());
            let mut bytes = collect(got).await;
            if bytes.len() > plain.len() {
                bytes[100_000] ^= 1;
                backend
                    .put_object()
                    .bucket("tmp")
                    .key(key)
                    .set_metadata(metadata)
                    .set_content_type(content_type)
                    .body(body(&bytes))
                    .send()
                    .await
                    .unwrap();
                flipped += 1;
            }
        }
    } else {
        let mut all = Vec::new();
        files(env.dir.path(), &mut all);
        for f in all {
            let mut bytes = std::fs::read(&f).unwrap();
            if bytes.len() > plain.len() {
                bytes[100_000] ^= 1;
                std::fs::write(&f, bytes).unwrap();
                flipped += 1;
            }
        }
    }
    assert_eq!(flipped, 1);
    // The headers go out before the damaged batch is opened; its bytes never do.
    let out = c.get_object().bucket("tmp").key("k").send().await.unwrap();
    assert!(
        out.body.collect().await.is_err(),
        "a tampered body must not read completely"
    );
    // A range that avoids the flipped chunk still reads.
    let out = c
        .get_object()
        .bucket("tmp")
        .key("k")
        .range("bytes=0-99")
        .send()
        .await
        .unwrap();
    assert_eq!(collect(out).await, &plain[..100]);
    env.stop().await;
}
