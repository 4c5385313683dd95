//! The bucket and object operations around encrypted objects: ListBuckets, HeadBucket,
//! ListObjects V1 and V2 (prefix, delimiter, pagination), DeleteObject(s), DeleteBucket, and the
//! server's metrics of what it did.

use aws_sdk_s3::types::{Delete, ObjectIdentifier, ServerSideEncryption};

use crate::assert_refused;
use crate::common::*;

#[tokio::test]
async fn listing_and_deleting_encrypted_objects() {
    let env = Env::start().await;
    env.bucket("ops").await;
    let c = &env.client;
    let ck = customer_key(9);
    let keys = ["a/1", "a/2", "a/b/3", "b/4", "c", "d/ü/5", "e"];
    for (i, k) in keys.iter().enumerate() {
        let body_bytes = data(1000 + i * 70_000, i as u64);
        let mut put = c.put_object().bucket("ops").key(*k).body(body(&body_bytes));
        put = match i % 4 {
            0 => put,
            1 => put.server_side_encryption(ServerSideEncryption::Aes256),
            2 => put.server_side_encryption(ServerSideEncryption::AwsKms),
            _ => put
                .sse_customer_algorithm("AES256")
                .sse_customer_key(&ck.b64)
                .sse_customer_key_md5(&ck.md5),
        };
        put.send().await.unwrap();
    }
    let buckets = c.list_buckets().send().await.unwrap();
    assert!(buckets.buckets().iter().any(|b| b.name() == Some("ops")));
    c.head_bucket().bucket("ops").send().await.unwrap();
    assert!(c.head_bucket().bucket("nope").send().await.is_err());

    // V2 with a delimiter, one page at a time.
    let mut seen = Vec::new();
    let mut prefixes = Vec::new();
    let mut token = None;
    loop {
        let page = c
            .list_objects_v2()
            .bucket("ops")
            .delimiter("/")
            .max_keys(2)
            .set_continuation_token(token.clone())
            .send()
            .await
            .unwrap();
        seen.extend(
            page.contents()
                .iter()
                .map(|o| (o.key().unwrap().to_owned(), o.size().unwrap())),
        );
        prefixes.extend(
            page.common_prefixes()
                .iter()
                .map(|p| p.prefix().unwrap().to_owned()),
        );
        if page.is_truncated() != Some(true) {
            break;
        }
        token = page.next_continuation_token().map(str::to_owned);
    }
    assert_eq!(prefixes, ["a/", "b/", "d/"]);
    assert_eq!(
        seen,
        [
            ("c".to_owned(), 1000 + 4 * 70_000),
            ("e".to_owned(), 1000 + 6 * 70_000)
        ]
    );
    // V1 with a prefix and a marker: plaintext sizes too.
    let v1 = c
        .list_objects()
        .bucket("ops")
        .prefix("a/")
        .marker("a/1")
        .send()
        .await
        .unwrap();
    let listed: Vec<(&str, i64)> = v1
        .contents()
        .iter()
        .map(|o| (o.key().unwrap(), o.size().unwrap()))
        .collect();
    assert_eq!(
        listed,
        [("a/2", 1000 + 70_000), ("a/b/3", 1000 + 2 * 70_000)]
    );

    // A bucket with objects cannot go; DeleteObject and DeleteObjects empty it.
    assert_refused!(
        c.delete_bucket().bucket("ops").send().await,
        "BucketNotEmpty",
        409
    );
    c.delete_object()
        .bucket("ops")
        .key("c")
        .send()
        .await
        .unwrap();
    c.delete_object()
        .bucket("ops")
        .key("never-was")
        .send()
        .await
        .unwrap();
    let ids: Vec<ObjectIdentifier> = keys
        .iter()
        .filter(|k| **k != "c")
        .map(|k| ObjectIdentifier::builder().key(*k).build().unwrap())
        .collect();
    let deleted = c
        .delete_objects()
        .bucket("ops")
        .delete(Delete::builder().set_objects(Some(ids)).build().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.deleted().len(), keys.len() - 1);
    assert_eq!(
        c.list_objects_v2()
            .bucket("ops")
            .send()
            .await
            .unwrap()
            .key_count(),
        Some(0)
    );
    c.delete_bucket().bucket("ops").send().await.unwrap();
    assert_refused!(
        c.list_objects_v2().bucket("ops").send().await,
        "NoSuchBucket",
        404
    );

    // The metrics saw it: requests by operation and status, bytes sealed, KMS calls.
    let text = env.server().metrics().render();
    assert!(
        text.contains("objseal_requests_total{operation=\"PutObject\",status=\"200\"} 7"),
        "{text}"
    );
    assert!(
        text.contains("objseal_requests_total{operation=\"ListObjectsV2\",status=\"404\"} 1"),
        "{text}"
    );
    let sealed: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("objseal_sealed_bytes_total "))
        .and_then(|v| v.parse().ok())
        .unwrap();
    assert!(sealed > 3 * 70_000, "{text}");
    assert!(
        text.contains(
            "objseal_kms_call_seconds_count{operation=\"GenerateDataKey\",outcome=\"ok\"}"
        ),
        "{text}"
    );
    env.stop().await;
}

#[tokio::test]
async fn shutdown_finishes_requests_in_flight() {
    let mut env = Env::start().await;
    env.bucket("grace").await;
    let c = env.client.clone();
    let plain = data(32 * 1024 * 1024, 77);
    c.put_object()
        .bucket("grace")
        .key("big")
        .server_side_encryption(ServerSideEncryption::Aes256)
        .body(body(&plain))
        .send()
        .await
        .unwrap();
    // The response has begun; most of the body is still to be sealed, opened and sent.
    let out = c
        .get_object()
        .bucket("grace")
        .key("big")
        .send()
        .await
        .unwrap();
    let server = env.server.take().unwrap();
    server.shutdown_handle().shutdown();
    assert_eq!(collect(out).await, plain, "the GET in flight finishes");
    server.wait().await.unwrap();
    assert!(
        c.list_buckets().send().await.is_err(),
        "nothing is accepted after shutdown"
    );
}
