//! Every SSE mode round-trips, answers with its headers, and has Amazon S3's ETag.

use aws_sdk_s3::types::ServerSideEncryption;
use base64::Engine as _;

use crate::common::*;

#[tokio::test]
async fn every_mode_round_trips_with_its_headers_and_etag() {
    let env = Env::start().await;
    env.bucket("modes").await;
    let c = &env.client;
    let plain = data(200_000, 1);
    let ck = customer_key(7);
    let ctx = base64::engine::general_purpose::STANDARD.encode(br#"{"team":"blue"}"#);

    // none
    let put = c
        .put_object()
        .bucket("modes")
        .key("none")
        .body(body(&plain))
        .send()
        .await
        .unwrap();
    assert_eq!(unquote(put.e_tag()), md5_hex(&plain));
    assert!(put.server_side_encryption().is_none());

    // SSE-S3
    let put = c
        .put_object()
        .bucket("modes")
        .key("s3")
        .server_side_encryption(ServerSideEncryption::Aes256)
        .body(body(&plain))
        .send()
        .await
        .unwrap();
    assert_eq!(
        put.server_side_encryption(),
        Some(&ServerSideEncryption::Aes256)
    );
    assert_eq!(
        unquote(put.e_tag()),
        md5_hex(&plain),
        "SSE-S3 ETag is the plaintext MD5"
    );

    // SSE-KMS with the default key
    let put = c
        .put_object()
        .bucket("modes")
        .key("kms-default")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .body(body(&plain))
        .send()
        .await
        .unwrap();
    assert_eq!(
        put.server_side_encryption(),
        Some(&ServerSideEncryption::AwsKms)
    );
    let default_arn = env.server().default_kms_key_arn().to_owned();
    assert_eq!(put.ssekms_key_id(), Some(default_arn.as_str()));
    let kms_etag = unquote(put.e_tag());
    assert_eq!(kms_etag.len(), 32);
    assert_ne!(kms_etag, md5_hex(&plain), "SSE-KMS ETag is opaque");

    // SSE-KMS with a named key, context and bucket key
    let put = c
        .put_object()
        .bucket("modes")
        .key("kms-ctx")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .ssekms_key_id("alias/objseal-default")
        .ssekms_encryption_context(&ctx)
        .bucket_key_enabled(true)
        .body(body(&plain))
        .send()
        .await
        .unwrap();
    assert_eq!(put.ssekms_key_id(), Some(default_arn.as_str()));
    assert_eq!(put.bucket_key_enabled(), Some(true));
    assert_eq!(put.ssekms_encryption_context(), Some(ctx.as_str()));

    // SSE-C
    let put = c
        .put_object()
        .bucket("modes")
        .key("ssec")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&ck.b64)
        .sse_customer_key_md5(&ck.md5)
        .body(body(&plain))
        .send()
        .await
        .unwrap();
    assert_eq!(put.sse_customer_algorithm(), Some("AES256"));
    assert_eq!(put.sse_customer_key_md5(), Some(ck.md5.as_str()));
    assert_ne!(unquote(put.e_tag()), md5_hex(&plain));

    for key in ["none", "s3", "kms-default", "kms-ctx"] {
        let head = c
            .head_object()
            .bucket("modes")
            .key(key)
            .send()
            .await
            .unwrap();
        assert_eq!(head.content_length(), Some(plain.len() as i64), "{key}");
        let got = c
            .get_object()
            .bucket("modes")
            .key(key)
            .send()
            .await
            .unwrap();
        assert_eq!(got.content_length(), Some(plain.len() as i64));
        match key {
            "none" => assert!(got.server_side_encryption().is_none()),
            "s3" => assert_eq!(
                got.server_side_encryption(),
                Some(&ServerSideEncryption::Aes256)
            ),
            _ => {
                assert_eq!(
                    got.server_side_encryption(),
                    Some(&ServerSideEncryption::AwsKms)
                );
                assert_eq!(got.ssekms_key_id(), Some(default_arn.as_str()));
            }
        }
        assert_eq!(collect(got).await, plain, "{key}");
    }
    let head = c
        .head_object()
        .bucket("modes")
        .key("ssec")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&ck.b64)
        .sse_customer_key_md5(&ck.md5)
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_length(), Some(plain.len() as i64));
    assert_eq!(head.sse_customer_key_md5(), Some(ck.md5.as_str()));
    let got = c
        .get_object()
        .bucket("modes")
        .key("ssec")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&ck.b64)
        .sse_customer_key_md5(&ck.md5)
        .send()
        .await
        .unwrap();
    assert_eq!(got.sse_customer_algorithm(), Some("AES256"));
    assert_eq!(collect(got).await, plain);

    // Listings show plaintext sizes and the same ETags, without any key.
    let list = c.list_objects_v2().bucket("modes").send().await.unwrap();
    assert_eq!(list.contents().len(), 5);
    for o in list.contents() {
        assert_eq!(o.size(), Some(plain.len() as i64), "{:?}", o.key());
    }
    let kms_listed = list
        .contents()
        .iter()
        .find(|o| o.key() == Some("kms-default"))
        .unwrap();
    assert_eq!(unquote(kms_listed.e_tag()), kms_etag);
    env.stop().await;
}

#[tokio::test]
async fn empty_objects_and_chunk_edges_round_trip_in_every_mode() {
    let env = Env::start().await;
    env.bucket("edges").await;
    let c = &env.client;
    let ck = customer_key(9);
    for len in [
        0usize,
        1,
        65535,
        65536,
        65537,
        16 * 65536,
        16 * 65536 + 1,
        40 * 65536 + 3,
    ] {
        let plain = data(len, len as u64);
        for mode in ["s3", "kms", "ssec"] {
            let key = format!("{mode}-{len}");
            let mut put = c.put_object().bucket("edges").key(&key).body(body(&plain));
            let mut get = c.get_object().bucket("edges").key(&key);
            match mode {
                "s3" => put = put.server_side_encryption(ServerSideEncryption::Aes256),
                "kms" => put = put.server_side_encryption(ServerSideEncryption::AwsKms),
                _ => {
                    put = put
                        .sse_customer_algorithm("AES256")
                        .sse_customer_key(&ck.b64)
                        .sse_customer_key_md5(&ck.md5);
                    get = get
                        .sse_customer_algorithm("AES256")
                        .sse_customer_key(&ck.b64)
                        .sse_customer_key_md5(&ck.md5);
                }
            }
            put.send().await.unwrap();
            let out = get.send().await.unwrap();
            assert_eq!(out.content_length(), Some(len as i64));
            assert_eq!(collect(out).await, plain, "{key}");
        }
    }
    env.stop().await;
}
