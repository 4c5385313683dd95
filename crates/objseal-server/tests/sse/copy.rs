//! CopyObject across the 4×4 matrix, SSE-C key rotation by self-copy, and UploadPartCopy from an
//! encrypted source.

use aws_sdk_s3::types::{
    CompletedMultipartUpload, CompletedPart, MetadataDirective, ServerSideEncryption,
};

use crate::assert_refused;
use crate::common::*;

const MODES: [&str; 4] = ["none", "s3", "kms", "ssec"];

#[tokio::test]
async fn copy_matrix_and_ssec_rotation() {
    let env = Env::start().await;
    env.bucket("cpy").await;
    let c = &env.client;
    let src_key = customer_key(1);
    let dst_key = customer_key(2);
    let plain = data(150_000, 8);
    for src in MODES {
        let mut put = c
            .put_object()
            .bucket("cpy")
            .key(format!("src-{src}"))
            .metadata("color", "red")
            .content_type("text/x-test")
            .body(body(&plain));
        match src {
            "s3" => put = put.server_side_encryption(ServerSideEncryption::Aes256),
            "kms" => put = put.server_side_encryption(ServerSideEncryption::AwsKms),
            "ssec" => {
                put = put
                    .sse_customer_algorithm("AES256")
                    .sse_customer_key(&src_key.b64)
                    .sse_customer_key_md5(&src_key.md5)
            }
            _ => {}
        }
        put.send().await.unwrap();
    }
    for src in MODES {
        for dst in MODES {
            let to = format!("dst-{src}-{dst}");
            let mut cp = c
                .copy_object()
                .bucket("cpy")
                .key(&to)
                .copy_source(format!("cpy/src-{src}"));
            if src == "ssec" {
                cp = cp
                    .copy_source_sse_customer_algorithm("AES256")
                    .copy_source_sse_customer_key(&src_key.b64)
                    .copy_source_sse_customer_key_md5(&src_key.md5);
            }
            match dst {
                "s3" => cp = cp.server_side_encryption(ServerSideEncryption::Aes256),
                "kms" => cp = cp.server_side_encryption(ServerSideEncryption::AwsKms),
                "ssec" => {
                    cp = cp
                        .sse_customer_algorithm("AES256")
                        .sse_customer_key(&dst_key.b64)
                        .sse_customer_key_md5(&dst_key.md5)
                }
                _ => {}
            }
            let out = cp
                .send()
                .await
                .unwrap_or_else(|e| panic!("{src} -> {dst}: {e:?}"));
            match dst {
                "s3" => assert_eq!(
                    out.server_side_encryption(),
                    Some(&ServerSideEncryption::Aes256)
                ),
                "kms" => assert_eq!(
                    out.server_side_encryption(),
                    Some(&ServerSideEncryption::AwsKms)
                ),
                "ssec" => assert_eq!(out.sse_customer_key_md5(), Some(dst_key.md5.as_str())),
                _ => assert!(out.server_side_encryption().is_none()),
            }
            let mut get = c.get_object().bucket("cpy").key(&to);
            if dst == "ssec" {
                get = get
                    .sse_customer_algorithm("AES256")
                    .sse_customer_key(&dst_key.b64)
                    .sse_customer_key_md5(&dst_key.md5);
            }
            let got = get.send().await.unwrap();
            assert_eq!(
                got.metadata()
                    .and_then(|m| m.get("color"))
                    .map(String::as_str),
                Some("red"),
                "{src} -> {dst}"
            );
            assert_eq!(got.content_type(), Some("text/x-test"));
            assert_eq!(collect(got).await, plain, "{src} -> {dst}");
        }
    }
    // Without the source's customer key: refused.
    assert_refused!(
        c.copy_object()
            .bucket("cpy")
            .key("x")
            .copy_source("cpy/src-ssec")
            .send()
            .await,
        "InvalidRequest",
        400
    );
    // Copying onto itself without any change: refused.
    assert_refused!(
        c.copy_object()
            .bucket("cpy")
            .key("src-s3")
            .copy_source("cpy/src-s3")
            .send()
            .await,
        "InvalidRequest",
        400
    );
    // SSE-C key rotation by self-copy; the old key then fails, the new one reads.
    c.copy_object()
        .bucket("cpy")
        .key("src-ssec")
        .copy_source("cpy/src-ssec")
        .copy_source_sse_customer_algorithm("AES256")
        .copy_source_sse_customer_key(&src_key.b64)
        .copy_source_sse_customer_key_md5(&src_key.md5)
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&dst_key.b64)
        .sse_customer_key_md5(&dst_key.md5)
        .send()
        .await
        .unwrap();
    assert_refused!(
        c.get_object()
            .bucket("cpy")
            .key("src-ssec")
            .sse_customer_algorithm("AES256")
            .sse_customer_key(&src_key.b64)
            .sse_customer_key_md5(&src_key.md5)
            .send()
            .await,
        "AccessDenied",
        403
    );
    let got = c
        .get_object()
        .bucket("cpy")
        .key("src-ssec")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&dst_key.b64)
        .sse_customer_key_md5(&dst_key.md5)
        .send()
        .await
        .unwrap();
    assert_eq!(collect(got).await, plain);
    // REPLACE takes the request's metadata.
    c.copy_object()
        .bucket("cpy")
        .key("src-kms")
        .copy_source("cpy/src-kms")
        .metadata_directive(MetadataDirective::Replace)
        .metadata("color", "blue")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .send()
        .await
        .unwrap();
    let head = c
        .head_object()
        .bucket("cpy")
        .key("src-kms")
        .send()
        .await
        .unwrap();
    assert_eq!(
        head.metadata()
            .and_then(|m| m.get("color"))
            .map(String::as_str),
        Some("blue")
    );
    env.stop().await;
}

#[tokio::test]
async fn upload_part_copy_from_encrypted_sources() {
    let env = Env::start().await;
    env.bucket("upc").await;
    let c = &env.client;
    let ck = customer_key(6);
    let big = data(6 * 1024 * 1024, 12);
    c.put_object()
        .bucket("upc")
        .key("src")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&ck.b64)
        .sse_customer_key_md5(&ck.md5)
        .body(body(&big))
        .send()
        .await
        .unwrap();
    let up = c
        .create_multipart_upload()
        .bucket("upc")
        .key("dst")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .send()
        .await
        .unwrap();
    let id = up.upload_id().unwrap();
    let p1 = c
        .upload_part_copy()
        .bucket("upc")
        .key("dst")
        .upload_id(id)
        .part_number(1)
        .copy_source("upc/src")
        .copy_source_sse_customer_algorithm("AES256")
        .copy_source_sse_customer_key(&ck.b64)
        .copy_source_sse_customer_key_md5(&ck.md5)
        .send()
        .await
        .unwrap();
    let p2 = c
        .upload_part_copy()
        .bucket("upc")
        .key("dst")
        .upload_id(id)
        .part_number(2)
        .copy_source("upc/src")
        .copy_source_range("bytes=100-65636")
        .copy_source_sse_customer_algorithm("AES256")
        .copy_source_sse_customer_key(&ck.b64)
        .copy_source_sse_customer_key_md5(&ck.md5)
        .send()
        .await
        .unwrap();
    assert_eq!(
        p1.server_side_encryption(),
        Some(&ServerSideEncryption::AwsKms)
    );
    let parts = CompletedMultipartUpload::builder()
        .parts(
            CompletedPart::builder()
                .part_number(1)
                .e_tag(p1.copy_part_result().unwrap().e_tag().unwrap())
                .build(),
        )
        .parts(
            CompletedPart::builder()
                .part_number(2)
                .e_tag(p2.copy_part_result().unwrap().e_tag().unwrap())
                .build(),
        )
        .build();
    c.complete_multipart_upload()
        .bucket("upc")
        .key("dst")
        .upload_id(id)
        .multipart_upload(parts)
        .send()
        .await
        .unwrap();
    let got = collect(
        c.get_object()
            .bucket("upc")
            .key("dst")
            .send()
            .await
            .unwrap(),
    )
    .await;
    let mut want = big.clone();
    want.extend_from_slice(&big[100..65637]);
    assert_eq!(got, want);
    env.stop().await;
}
