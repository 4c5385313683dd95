//! The gateway's state in the backend is authenticated (FORMAT.md §17.5): whoever may write the
//! backend bucket but holds no key of the gateways' cannot forge an `upload.json` (the layer
//! would sign its metadata into a valid upload id), a part sidecar, a late sidecar or a
//! `bucket.json`. Forged ones — written straight to the backend, without a tag, with a changed
//! body, or a valid one moved to another name — are refused; put back, the real ones work.

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, ServerSideEncryption};
use objseal_server::store::remote::BUCKET_CONFIG_KEY;
use serde_json::Value;

use crate::harness::*;

async fn backend_get(direct: &Client, bucket: &str, key: &str) -> Vec<u8> {
    bytes(
        direct
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn backend_put(direct: &Client, bucket: &str, key: &str, body: Vec<u8>) {
    direct
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(body))
        .send()
        .await
        .unwrap();
}

async fn backend_keys(direct: &Client, bucket: &str, prefix: &str) -> Vec<String> {
    let listed = direct
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .send()
        .await
        .unwrap();
    listed
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_owned))
        .collect()
}

/// A stored sidecar's two forgeries: its body alone (no tag), and its envelope with `change`
/// made to the body (the old tag).
fn forgeries(stored: &[u8], change: impl Fn(&mut Value)) -> [Vec<u8>; 2] {
    let mut envelope: Value = serde_json::from_slice(stored).unwrap();
    assert_eq!(
        envelope["mac"].as_str().map(str::len),
        Some(64),
        "a tagged sidecar"
    );
    let mut body = envelope["body"].clone();
    change(&mut body);
    envelope["body"] = body.clone();
    [
        serde_json::to_vec(&body).unwrap(),
        serde_json::to_vec(&envelope).unwrap(),
    ]
}

async fn listed_ids(c: &Client, bucket: &str) -> Vec<String> {
    let out = c
        .list_multipart_uploads()
        .bucket(bucket)
        .send()
        .await
        .unwrap();
    out.uploads()
        .iter()
        .filter_map(|u| u.upload_id().map(str::to_owned))
        .collect()
}

async fn upload_part(c: &Client, bucket: &str, key: &str, id: &str, data: &[u8]) -> String {
    let out = c
        .upload_part()
        .bucket(bucket)
        .key(key)
        .upload_id(id)
        .part_number(1)
        .body(ByteStream::from(data.to_vec()))
        .send()
        .await
        .unwrap();
    unquote(out.e_tag())
}

fn one_part(etag: &str) -> CompletedMultipartUpload {
    CompletedMultipartUpload::builder()
        .parts(CompletedPart::builder().part_number(1).e_tag(etag).build())
        .build()
}

/// A forged `upload.json` (encryption removed) gives no listed upload id the gateway accepts,
/// and the upload cannot complete; a forged part sidecar acknowledges no part.
#[tokio::test]
async fn forged_upload_sidecars_are_not_the_gateways() {
    let Some(fleet) = Fleet::start().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let gw = fleet.gateway(dir.path()).await;
    let c = client_of(&gw);
    let direct = fleet.backend_client();
    let b = "forged-uploads";
    c.create_bucket().bucket(b).send().await.unwrap();
    let id = c
        .create_multipart_upload()
        .bucket(b)
        .key("k")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .send()
        .await
        .unwrap()
        .upload_id()
        .unwrap()
        .to_owned();
    let data = plaintext(1000, 5);
    let etag = upload_part(&c, b, "k", &id, &data).await;
    assert_eq!(listed_ids(&c, b).await, vec![id.clone()]);

    let upload_key = backend_keys(&direct, b, ".objseal/uploads/")
        .await
        .into_iter()
        .find(|k| k.ends_with("/upload.json"))
        .unwrap();
    let real = backend_get(&direct, b, &upload_key).await;
    for forged in forgeries(&real, |body| {
        // Encryption removed: the layer's metadata gone.
        body["metadata"] = Value::Object(serde_json::Map::new());
    }) {
        backend_put(&direct, b, &upload_key, forged).await;
        let listed = listed_ids(&c, b).await;
        assert_eq!(listed.len(), 1);
        assert_ne!(listed[0], id, "no id signed over the forged metadata");
        // What is listed is no id the gateway takes.
        let (code, _) = refusal(
            c.upload_part()
                .bucket(b)
                .key("k")
                .upload_id(&listed[0])
                .part_number(2)
                .body(ByteStream::from_static(b"x"))
                .send()
                .await,
        );
        assert_eq!(code, "NoSuchUpload");
        let (code, status) = refusal(
            c.complete_multipart_upload()
                .bucket(b)
                .key("k")
                .upload_id(&id)
                .multipart_upload(one_part(&etag))
                .send()
                .await,
        );
        assert_eq!((code.as_str(), status), ("NoSuchUpload", 404));
    }
    // A valid upload.json of another upload, moved here: bound to its name, refused too.
    let other = c
        .create_multipart_upload()
        .bucket(b)
        .key("k")
        .send()
        .await
        .unwrap()
        .upload_id()
        .unwrap()
        .to_owned();
    let other_key = backend_keys(&direct, b, ".objseal/uploads/")
        .await
        .into_iter()
        .find(|k| k.ends_with("/upload.json") && *k != upload_key)
        .unwrap();
    let moved = backend_get(&direct, b, &other_key).await;
    backend_put(&direct, b, &upload_key, moved).await;
    assert!(!listed_ids(&c, b).await.contains(&id));
    c.abort_multipart_upload()
        .bucket(b)
        .key("k")
        .upload_id(&other)
        .send()
        .await
        .unwrap();

    // The real one back: listed and completes — once the part's sidecar is the gateway's.
    backend_put(&direct, b, &upload_key, real).await;
    assert_eq!(listed_ids(&c, b).await, vec![id.clone()]);
    let part_key = upload_key.replace("upload.json", "00001");
    let real_part = backend_get(&direct, b, &part_key).await;
    for forged in forgeries(&real_part, |body| {
        body["size"] = Value::from(999);
    }) {
        backend_put(&direct, b, &part_key, forged).await;
        let parts = c
            .list_parts()
            .bucket(b)
            .key("k")
            .upload_id(&id)
            .send()
            .await
            .unwrap();
        assert!(
            parts.parts().is_empty(),
            "a forged part is not acknowledged"
        );
        let (code, status) = refusal(
            c.complete_multipart_upload()
                .bucket(b)
                .key("k")
                .upload_id(&id)
                .multipart_upload(one_part(&etag))
                .send()
                .await,
        );
        assert_eq!((code.as_str(), status), ("InvalidPart", 400));
    }
    backend_put(&direct, b, &part_key, real_part).await;
    c.complete_multipart_upload()
        .bucket(b)
        .key("k")
        .upload_id(&id)
        .multipart_upload(one_part(&etag))
        .send()
        .await
        .unwrap();
    let got = c.get_object().bucket(b).key("k").send().await.unwrap();
    assert_eq!(
        got.server_side_encryption(),
        Some(&ServerSideEncryption::AwsKms)
    );
    assert_eq!(bytes(got).await, data);
    gw.shutdown().await.unwrap();
}

/// A completed multipart object whose late sidecar is forged (or another object's) is damaged:
/// 500, never its bytes.
#[tokio::test]
async fn a_forged_late_sidecar_damages_its_object() {
    let Some(fleet) = Fleet::start().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let gw = fleet.gateway(dir.path()).await;
    let c = client_of(&gw);
    let direct = fleet.backend_client();
    let b = "forged-late";
    c.create_bucket().bucket(b).send().await.unwrap();
    let data = plaintext(3000, 9);
    for key in ["a", "b"] {
        let id = c
            .create_multipart_upload()
            .bucket(b)
            .key(key)
            .send()
            .await
            .unwrap()
            .upload_id()
            .unwrap()
            .to_owned();
        let etag = upload_part(&c, b, key, &id, &data).await;
        c.complete_multipart_upload()
            .bucket(b)
            .key(key)
            .upload_id(&id)
            .multipart_upload(one_part(&etag))
            .send()
            .await
            .unwrap();
    }
    let token_of = |key: &'static str| {
        let direct = direct.clone();
        async move {
            let h = direct
                .head_object()
                .bucket(b)
                .key(key)
                .send()
                .await
                .unwrap();
            format!(".objseal/late/{}", h.metadata().unwrap()["objseal-late"])
        }
    };
    let (late_a, late_b) = (token_of("a").await, token_of("b").await);
    let real = backend_get(&direct, b, &late_a).await;
    let [bare, changed] = forgeries(&real, |body| {
        body["entries"]["objseal-size"] = Value::from("1");
    });
    // Another object's valid sidecar, its key field changed to this one's (its tag kept).
    let mut moved: Value = serde_json::from_slice(&backend_get(&direct, b, &late_b).await).unwrap();
    moved["body"]["key"] = Value::from("a");
    for forged in [bare, changed, serde_json::to_vec(&moved).unwrap()] {
        backend_put(&direct, b, &late_a, forged).await;
        let (code, status) = refusal(c.get_object().bucket(b).key("a").send().await);
        assert_eq!((code.as_str(), status), ("InternalError", 500));
        let (_, status) = refusal(c.head_object().bucket(b).key("a").send().await);
        assert_eq!(status, 500);
    }
    backend_put(&direct, b, &late_a, real).await;
    assert_eq!(get(&c, b, "a", Mode::None, None).await, data);
    assert_eq!(get(&c, b, "b", Mode::None, None).await, data);
    gw.shutdown().await.unwrap();
}

/// A forged `bucket.json` (default encryption removed, or another bucket's) fails closed: the
/// bucket's requests are refused — `GetBucketEncryption` too, never "no configuration" — except
/// the admins' policy calls, which replace it.
#[tokio::test]
async fn a_forged_bucket_configuration_fails_closed() {
    let Some(fleet) = Fleet::start().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let gw = fleet.gateway(dir.path()).await;
    let c = client_of(&gw);
    let direct = fleet.backend_client();
    let b = "forged-config";
    for bucket in [b, "forged-other"] {
        c.create_bucket().bucket(bucket).send().await.unwrap();
        c.put_bucket_encryption()
            .bucket(bucket)
            .server_side_encryption_configuration(
                aws_sdk_s3::types::ServerSideEncryptionConfiguration::builder()
                    .rules(
                        aws_sdk_s3::types::ServerSideEncryptionRule::builder()
                            .apply_server_side_encryption_by_default(
                                aws_sdk_s3::types::ServerSideEncryptionByDefault::builder()
                                    .sse_algorithm(ServerSideEncryption::AwsKms)
                                    .build()
                                    .unwrap(),
                            )
                            .build(),
                    )
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
    }
    put(&c, b, "k", Mode::None, b"data").await;
    let real = backend_get(&direct, b, BUCKET_CONFIG_KEY).await;
    let [bare, changed] = forgeries(&real, |body| {
        body["encryption"] = Value::Null;
    });
    let moved = backend_get(&direct, "forged-other", BUCKET_CONFIG_KEY).await;
    for forged in [bare, changed, moved] {
        backend_put(&direct, b, BUCKET_CONFIG_KEY, forged).await;
        tokio::time::sleep(objseal_server::sse::SHARED_POLICY_TTL).await;
        let denied = ("AccessDenied".to_owned(), 403);
        assert_eq!(
            refusal(c.get_bucket_encryption().bucket(b).send().await),
            denied
        );
        assert_eq!(
            refusal(
                c.put_object()
                    .bucket(b)
                    .key("new")
                    .body(ByteStream::from_static(b"x"))
                    .send()
                    .await
            ),
            denied
        );
        assert_eq!(
            refusal(c.get_object().bucket(b).key("k").send().await),
            denied
        );
        assert_eq!(refusal(c.list_objects_v2().bucket(b).send().await), denied);
    }
    // The other bucket is served.
    put(&c, "forged-other", "k", Mode::None, b"fine").await;
    // The admins replace the policy, and with it the whole configuration: nothing of the
    // forged one is kept; the bucket is served again, without a default of its own.
    c.delete_bucket_policy().bucket(b).send().await.unwrap();
    assert_eq!(get(&c, b, "k", Mode::None, None).await, b"data");
    let (code, status) = refusal(c.get_bucket_encryption().bucket(b).send().await);
    assert_eq!(
        (code.as_str(), status),
        ("ServerSideEncryptionConfigurationNotFoundError", 404)
    );
    gw.shutdown().await.unwrap();
}

/// The trailer is sealed and bound to its object's header (FORMAT.md §17): the backend holds no
/// SSE-S3 ETag (the plaintext's MD5) in the clear, and a trailer changed, or moved from another
/// object, makes its object damaged (500), never served with the other's entries.
#[tokio::test]
async fn a_trailer_is_sealed_to_its_object() {
    let Some(fleet) = Fleet::start().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let gw = fleet.gateway(dir.path()).await;
    let c = client_of(&gw);
    let direct = fleet.backend_client();
    c.create_bucket().bucket("trailers").send().await.unwrap();
    let (one, two) = (plaintext(9000, 61), plaintext(9000, 62));
    let etag_one = put(&c, "trailers", "one", Mode::SseS3, &one).await;
    put(&c, "trailers", "two", Mode::SseS3, &two).await;
    assert_eq!(etag_one, md5_hex(&one));
    let stored_one = backend_get(&direct, "trailers", "one").await;
    assert!(
        !contains(&stored_one, etag_one.as_bytes()),
        "the backend holds the SSE-S3 ETag in the clear"
    );

    // Object two's bytes with object one's trailer, under two's metadata.
    let head_two = direct
        .head_object()
        .bucket("trailers")
        .key("two")
        .send()
        .await
        .unwrap();
    let mut forged = backend_get(&direct, "trailers", "two").await;
    let at = forged.len() - 4096;
    forged[at..].copy_from_slice(&stored_one[stored_one.len() - 4096..]);
    let put_back = |body: Vec<u8>| {
        direct
            .put_object()
            .bucket("trailers")
            .key("two")
            .set_metadata(head_two.metadata().cloned())
            .body(ByteStream::from(body))
            .send()
    };
    put_back(forged.clone()).await.unwrap();
    let moved = c.get_object().bucket("trailers").key("two").send().await;
    assert_eq!(refusal(moved), ("InternalError".into(), 500));
    let head = c.head_object().bucket("trailers").key("two").send().await;
    assert_eq!(refusal(head).1, 500);
    // One bit of its own trailer changed.
    let mut flipped = backend_get(&direct, "trailers", "one").await;
    let last = flipped.len() - 4096 + 50;
    flipped[last] ^= 1;
    let mut own = forged;
    own[at..].copy_from_slice(&flipped[flipped.len() - 4096..]);
    put_back(own.clone()).await.unwrap();
    let changed = c.get_object().bucket("trailers").key("two").send().await;
    assert_eq!(refusal(changed).1, 500);
    // Object one is untouched and reads as ever.
    check_reads(&c, "trailers", "one", Mode::SseS3, &one).await;
    gw.shutdown().await.unwrap();
}
