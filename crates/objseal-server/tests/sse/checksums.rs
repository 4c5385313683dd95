//! Checksums: the SDK's defaults (CRC trailers on aws-chunked bodies) on PUT and multipart,
//! explicit ones validated against the plaintext, stored, and returned when asked.

use aws_sdk_s3::types::{
    ChecksumAlgorithm, ChecksumMode, CompletedMultipartUpload, CompletedPart, ServerSideEncryption,
};
use base64::Engine as _;

use crate::assert_refused;
use crate::common::*;

fn crc32c_b64(b: &[u8]) -> String {
    use s3s::crypto::Checksum as _;
    base64::engine::general_purpose::STANDARD.encode(s3s::crypto::Crc32c::checksum(b))
}

#[tokio::test]
async fn checksums_are_checked_stored_and_returned() {
    let env = Env::start().await;
    env.bucket("cks").await;
    let c = &env.client;
    let plain = data(300_000, 21);
    // The SDK's default: a CRC32 trailer it computes itself.
    c.put_object()
        .bucket("cks")
        .key("default")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .body(body(&plain))
        .send()
        .await
        .unwrap();
    let got = c
        .get_object()
        .bucket("cks")
        .key("default")
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .unwrap();
    assert!(
        got.checksum_crc32().is_some() || got.checksum_crc64_nvme().is_some(),
        "a checksum is returned"
    );
    assert_eq!(collect(got).await, plain);

    // An explicit CRC32C, computed by the SDK over the plaintext.
    let put = c
        .put_object()
        .bucket("cks")
        .key("crc32c")
        .server_side_encryption(ServerSideEncryption::Aes256)
        .checksum_algorithm(ChecksumAlgorithm::Crc32C)
        .body(body(&plain))
        .send()
        .await
        .unwrap();
    assert_eq!(put.checksum_crc32_c(), Some(crc32c_b64(&plain).as_str()));
    let head = c
        .head_object()
        .bucket("cks")
        .key("crc32c")
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .unwrap();
    assert_eq!(head.checksum_crc32_c(), Some(crc32c_b64(&plain).as_str()));

    // A wrong value: BadDigest, and nothing stored.
    let wrong = crc32c_b64(b"something else");
    assert_refused!(
        c.put_object()
            .bucket("cks")
            .key("bad")
            .server_side_encryption(ServerSideEncryption::Aes256)
            .checksum_crc32_c(&wrong)
            .body(body(&plain))
            .send()
            .await,
        "BadDigest",
        400
    );
    assert_refused!(
        c.head_object().bucket("cks").key("bad").send().await,
        "NotFound",
        404
    );
    // A wrong Content-MD5 as well.
    let md5 = base64::engine::general_purpose::STANDARD.encode([0u8; 16]);
    assert_refused!(
        c.put_object()
            .bucket("cks")
            .key("bad")
            .content_md5(&md5)
            .body(body(&plain))
            .send()
            .await,
        "BadDigest",
        400
    );
    assert_refused!(
        c.head_object().bucket("cks").key("bad").send().await,
        "NotFound",
        404
    );

    // Multipart with the SDK's default checksums on every part.
    let up = c
        .create_multipart_upload()
        .bucket("cks")
        .key("mp")
        .server_side_encryption(ServerSideEncryption::Aes256)
        .send()
        .await
        .unwrap();
    let id = up.upload_id().unwrap();
    let p1 = data(5 * 1024 * 1024, 1);
    let r1 = c
        .upload_part()
        .bucket("cks")
        .key("mp")
        .upload_id(id)
        .part_number(1)
        .body(body(&p1))
        .send()
        .await
        .unwrap();
    let r2 = c
        .upload_part()
        .bucket("cks")
        .key("mp")
        .upload_id(id)
        .part_number(2)
        .body(body(&plain))
        .send()
        .await
        .unwrap();
    let parts = CompletedMultipartUpload::builder()
        .parts(
            CompletedPart::builder()
                .part_number(1)
                .e_tag(r1.e_tag().unwrap())
                .build(),
        )
        .parts(
            CompletedPart::builder()
                .part_number(2)
                .e_tag(r2.e_tag().unwrap())
                .build(),
        )
        .build();
    c.complete_multipart_upload()
        .bucket("cks")
        .key("mp")
        .upload_id(id)
        .multipart_upload(parts)
        .send()
        .await
        .unwrap();
    let got = collect(c.get_object().bucket("cks").key("mp").send().await.unwrap()).await;
    assert_eq!(got, [p1, plain].concat());
    env.stop().await;
}
