//! Every refusal of DESIGN.md §5 with Amazon S3's code and status, and nothing stored by a
//! refused write.

use aws_sdk_s3::types::ServerSideEncryption;
use base64::Engine as _;

use crate::assert_refused;
use crate::common::*;

#[tokio::test]
async fn refused_writes_have_s3_codes_and_store_nothing() {
    let env = Env::start().await;
    env.bucket("err").await;
    let c = &env.client;
    let ck = customer_key(1);
    let short = base64::engine::general_purpose::STANDARD.encode([1u8; 16]);
    let short_md5 = base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest([1u8; 16]));
    use md5::Digest as _;
    let b = data(1000, 3);

    // Unknown SSE value.
    assert_refused!(
        c.put_object()
            .bucket("err")
            .key("k")
            .server_side_encryption(ServerSideEncryption::from("rot13"))
            .body(body(&b))
            .send()
            .await,
        "InvalidArgument",
        400
    );
    // SSE-C together with SSE-S3 / SSE-KMS.
    for sse in [ServerSideEncryption::Aes256, ServerSideEncryption::AwsKms] {
        assert_refused!(
            c.put_object()
                .bucket("err")
                .key("k")
                .server_side_encryption(sse)
                .sse_customer_algorithm("AES256")
                .sse_customer_key(&ck.b64)
                .sse_customer_key_md5(&ck.md5)
                .body(body(&b))
                .send()
                .await,
            "InvalidArgument",
            400
        );
    }
    // A KMS key id without aws:kms.
    assert_refused!(
        c.put_object()
            .bucket("err")
            .key("k")
            .server_side_encryption(ServerSideEncryption::Aes256)
            .ssekms_key_id("alias/objseal-default")
            .body(body(&b))
            .send()
            .await,
        "InvalidArgument",
        400
    );
    // SSE-C: bad algorithm, missing key, missing MD5, 16-byte key, MD5 mismatch.
    assert_refused!(
        c.put_object()
            .bucket("err")
            .key("k")
            .sse_customer_algorithm("AES128")
            .sse_customer_key(&ck.b64)
            .sse_customer_key_md5(&ck.md5)
            .body(body(&b))
            .send()
            .await,
        "InvalidArgument",
        400
    );
    assert_refused!(
        c.put_object()
            .bucket("err")
            .key("k")
            .sse_customer_algorithm("AES256")
            .sse_customer_key_md5(&ck.md5)
            .body(body(&b))
            .send()
            .await,
        "InvalidArgument",
        400
    );
    assert_refused!(
        c.put_object()
            .bucket("err")
            .key("k")
            .sse_customer_algorithm("AES256")
            .sse_customer_key(&short)
            .sse_customer_key_md5(&short_md5)
            .body(body(&b))
            .send()
            .await,
        "InvalidArgument",
        400
    );
    assert_refused!(
        c.put_object()
            .bucket("err")
            .key("k")
            .sse_customer_algorithm("AES256")
            .sse_customer_key(&ck.b64)
            .sse_customer_key_md5(&short_md5)
            .body(body(&b))
            .send()
            .await,
        "InvalidArgument",
        400
    );
    // An unknown KMS key.
    assert_refused!(
        c.put_object()
            .bucket("err")
            .key("k")
            .server_side_encryption(ServerSideEncryption::AwsKms)
            .ssekms_key_id("alias/nope")
            .body(body(&b))
            .send()
            .await,
        "KMS.NotFoundException",
        400
    );
    // A malformed encryption context.
    assert_refused!(
        c.put_object()
            .bucket("err")
            .key("k")
            .server_side_encryption(ServerSideEncryption::AwsKms)
            .ssekms_encryption_context("not base64!")
            .body(body(&b))
            .send()
            .await,
        "InvalidArgument",
        400
    );
    // Metadata in the layer's namespace is the client's own: kept apart (escaped), returned as
    // sent, and never taken for the layer's entries.
    c.put_object()
        .bucket("err")
        .key("ns")
        .server_side_encryption(ServerSideEncryption::Aes256)
        .metadata("objseal-size", "1")
        .metadata("objseal-user-x", "2")
        .body(body(&b))
        .send()
        .await
        .unwrap();
    let head = c
        .head_object()
        .bucket("err")
        .key("ns")
        .send()
        .await
        .unwrap();
    let meta = head.metadata.unwrap();
    assert_eq!(meta.get("objseal-size").map(String::as_str), Some("1"));
    assert_eq!(meta.get("objseal-user-x").map(String::as_str), Some("2"));
    assert_eq!(meta.len(), 2);
    assert_eq!(head.content_length, Some(b.len() as i64));
    c.delete_object()
        .bucket("err")
        .key("ns")
        .send()
        .await
        .unwrap();
    // More than 2 KB of user metadata; an encryption context over 4 KiB.
    assert_refused!(
        c.put_object()
            .bucket("err")
            .key("k")
            .metadata("big", "x".repeat(2100))
            .body(body(&b))
            .send()
            .await,
        "MetadataTooLarge",
        400
    );
    let huge = base64::engine::general_purpose::STANDARD
        .encode(format!("{{\"a\":\"{}\"}}", "x".repeat(4000)));
    assert_refused!(
        c.put_object()
            .bucket("err")
            .key("k")
            .server_side_encryption(ServerSideEncryption::AwsKms)
            .ssekms_encryption_context(&huge)
            .body(body(&b))
            .send()
            .await,
        "InvalidArgument",
        400
    );
    // Nothing of the above was stored.
    assert_refused!(
        c.head_object().bucket("err").key("k").send().await,
        "NotFound",
        404
    );
    assert_eq!(
        c.list_objects_v2()
            .bucket("err")
            .send()
            .await
            .unwrap()
            .key_count(),
        Some(0)
    );
    env.stop().await;
}

#[tokio::test]
async fn ssec_reads_need_the_right_key_and_only_ssec_objects_take_one() {
    let env = Env::start().await;
    env.bucket("err").await;
    let c = &env.client;
    let ck = customer_key(1);
    let other = customer_key(2);
    let b = data(70_000, 4);
    c.put_object()
        .bucket("err")
        .key("c")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&ck.b64)
        .sse_customer_key_md5(&ck.md5)
        .body(body(&b))
        .send()
        .await
        .unwrap();
    c.put_object()
        .bucket("err")
        .key("s3")
        .server_side_encryption(ServerSideEncryption::Aes256)
        .body(body(&b))
        .send()
        .await
        .unwrap();

    // Without the key: 400 InvalidRequest (GET), 400 on HEAD (no body to carry the code).
    assert_refused!(
        c.get_object().bucket("err").key("c").send().await,
        "InvalidRequest",
        400
    );
    let head = c
        .head_object()
        .bucket("err")
        .key("c")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code_status(&head).1, 400);
    // With the wrong key: 403 AccessDenied.
    assert_refused!(
        c.get_object()
            .bucket("err")
            .key("c")
            .sse_customer_algorithm("AES256")
            .sse_customer_key(&other.b64)
            .sse_customer_key_md5(&other.md5)
            .send()
            .await,
        "AccessDenied",
        403
    );
    let head = c
        .head_object()
        .bucket("err")
        .key("c")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&other.b64)
        .sse_customer_key_md5(&other.md5)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code_status(&head).1, 403);
    // SSE-C headers on an object that is not SSE-C: 400 InvalidRequest.
    assert_refused!(
        c.get_object()
            .bucket("err")
            .key("s3")
            .sse_customer_algorithm("AES256")
            .sse_customer_key(&ck.b64)
            .sse_customer_key_md5(&ck.md5)
            .send()
            .await,
        "InvalidRequest",
        400
    );
    // x-amz-server-side-encryption on a GET: 400.
    let r = c
        .get_object()
        .bucket("err")
        .key("s3")
        .customize()
        .mutate_request(|r| {
            r.headers_mut()
                .insert("x-amz-server-side-encryption", "AES256");
        })
        .send()
        .await;
    assert_refused!(r, "InvalidArgument", 400);
    // Missing objects and buckets.
    assert_refused!(
        c.get_object().bucket("err").key("missing").send().await,
        "NoSuchKey",
        404
    );
    assert_refused!(
        c.get_object().bucket("nobucket").key("k").send().await,
        "NoSuchBucket",
        404
    );
    env.stop().await;
}

#[tokio::test]
async fn ssec_over_plain_http_is_refused_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = objseal_server::server::ServerConfig::new(dir.path())
        .with_listen("127.0.0.1:0".parse().unwrap());
    let _backend = crate::backend::attach(&mut config);
    let server = objseal_server::server::Server::start(config).await.unwrap();
    let c = client_for(&server);
    c.create_bucket().bucket("bkt").send().await.unwrap();
    let ck = customer_key(5);
    assert_refused!(
        c.put_object()
            .bucket("bkt")
            .key("k")
            .sse_customer_algorithm("AES256")
            .sse_customer_key(&ck.b64)
            .sse_customer_key_md5(&ck.md5)
            .body(body(b"x"))
            .send()
            .await,
        "InvalidRequest",
        400
    );
    assert_refused!(
        c.head_object().bucket("bkt").key("k").send().await,
        "NotFound",
        404
    );
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn conditional_reads_follow_rfc_9110() {
    let env = Env::start().await;
    env.bucket("cond").await;
    let c = &env.client;
    let put = c
        .put_object()
        .bucket("cond")
        .key("k")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .body(body(b"hello"))
        .send()
        .await
        .unwrap();
    let etag = put.e_tag().unwrap().to_owned();
    assert_eq!(
        collect(
            c.get_object()
                .bucket("cond")
                .key("k")
                .if_match(&etag)
                .send()
                .await
                .unwrap()
        )
        .await,
        b"hello"
    );
    assert_refused!(
        c.get_object()
            .bucket("cond")
            .key("k")
            .if_match("\"0000\"")
            .send()
            .await,
        "PreconditionFailed",
        412
    );
    let r = c
        .get_object()
        .bucket("cond")
        .key("k")
        .if_none_match(&etag)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code_status(&r).1, 304);
    env.stop().await;
}
