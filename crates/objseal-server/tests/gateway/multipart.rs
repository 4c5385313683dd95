//! Multipart uploads through the gateway, stateless: an upload started on one gateway takes
//! parts through others and completes on a third; parts re-uploaded, half-finished or stale;
//! aborts leave no sidecars; a gateway stopped mid-part loses nothing acknowledged; the backend
//! never holds plaintext or keys.

use std::time::Duration;

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, ServerSideEncryption};

use crate::harness::*;

/// The smallest part but the last (moto enforces it, as S3 does).
const PART: usize = 5 * 1024 * 1024;

macro_rules! with_mode {
    ($req:expr, $mode:expr) => {{
        let (k, md5) = customer();
        match $mode {
            Mode::SseC => $req
                .sse_customer_algorithm("AES256")
                .sse_customer_key(k)
                .sse_customer_key_md5(md5),
            _ => $req,
        }
    }};
}

async fn create(c: &Client, bucket: &str, key: &str, mode: Mode) -> String {
    let req = c
        .create_multipart_upload()
        .bucket(bucket)
        .key(key)
        .metadata("colour", "green")
        .content_type("application/x-parts");
    let req = match mode {
        Mode::None => req,
        Mode::SseS3 => req.server_side_encryption(ServerSideEncryption::Aes256),
        Mode::SseKms => req.server_side_encryption(ServerSideEncryption::AwsKms),
        Mode::SseC => with_mode!(req, mode),
    };
    req.send().await.unwrap().upload_id().unwrap().to_owned()
}

async fn upload(
    c: &Client,
    bucket: &str,
    key: &str,
    id: &str,
    n: i32,
    mode: Mode,
    data: &[u8],
) -> String {
    let req = c
        .upload_part()
        .bucket(bucket)
        .key(key)
        .upload_id(id)
        .part_number(n)
        .body(ByteStream::from(data.to_vec()));
    unquote(with_mode!(req, mode).send().await.unwrap().e_tag())
}

fn completed(parts: &[(i32, &str)]) -> CompletedMultipartUpload {
    CompletedMultipartUpload::builder()
        .set_parts(Some(
            parts
                .iter()
                .map(|(n, e)| CompletedPart::builder().part_number(*n).e_tag(*e).build())
                .collect(),
        ))
        .build()
}

async fn listed_parts(c: &Client, bucket: &str, key: &str, id: &str) -> Vec<(i32, String, i64)> {
    let out = c
        .list_parts()
        .bucket(bucket)
        .key(key)
        .upload_id(id)
        .send()
        .await
        .unwrap();
    out.parts()
        .iter()
        .map(|p| {
            (
                p.part_number().unwrap(),
                unquote(p.e_tag()),
                p.size().unwrap(),
            )
        })
        .collect()
}

/// The keys of the backend's objects under `prefix`.
async fn backend_keys(backend: &Client, bucket: &str, prefix: &str) -> Vec<String> {
    let out = backend
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .send()
        .await
        .unwrap();
    out.contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_owned))
        .collect()
}

/// Every mode: created on gateway A, parts through A and B, completed on C; read whole and
/// across part boundaries, headed and listed on every gateway; the upload's sidecars are gone,
/// the object's late sidecar is there and goes with the object; the backend holds no secret.
#[tokio::test]
async fn uploads_span_three_gateways_in_every_mode() {
    let Some(fleet) = Fleet::start().await else {
        return;
    };
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let a = fleet.gateway(dirs[0].path()).await;
    let b = fleet.gateway(dirs[1].path()).await;
    let cg = fleet.gateway(dirs[2].path()).await;
    let (ca, cb, cc) = (client_of(&a), client_of(&b), client_of(&cg));
    ca.create_bucket().bucket("mpu").send().await.unwrap();
    let backend = fleet.backend_client();

    for (i, mode) in MODES.into_iter().enumerate() {
        let key = format!("{mode:?}/object");
        let data = plaintext(2 * PART + 100_001, i as u64 + 11);
        let id = create(&ca, "mpu", &key, mode).await;
        let e1 = upload(&ca, "mpu", &key, &id, 1, mode, &data[..PART]).await;
        let e2 = upload(&cb, "mpu", &key, &id, 2, mode, &data[PART..2 * PART]).await;
        let e3 = upload(&cb, "mpu", &key, &id, 3, mode, &data[2 * PART..]).await;
        // Every gateway lists the parts with the ETags their uploads answered, plaintext sizes.
        for c in [&ca, &cb, &cc] {
            let parts = listed_parts(c, "mpu", &key, &id).await;
            assert_eq!(
                parts,
                vec![
                    (1, e1.clone(), PART as i64),
                    (2, e2.clone(), PART as i64),
                    (3, e3.clone(), 100_001),
                ],
                "{key}"
            );
        }
        let req = cc
            .complete_multipart_upload()
            .bucket("mpu")
            .key(&key)
            .upload_id(&id)
            .multipart_upload(completed(&[(1, &e1), (2, &e2), (3, &e3)]));
        let etag = unquote(req.send().await.unwrap().e_tag());
        assert!(etag.ends_with("-3"), "{key}: {etag}");

        for c in [&ca, &cb, &cc] {
            check_reads(c, "mpu", &key, mode, &data).await;
            for (x, y) in [
                (PART - 10, PART + 10),
                (2 * PART - 5, 2 * PART + 5),
                (PART - 1, 2 * PART),
                (0, 2 * PART + 100_000),
            ] {
                let got = get(c, "mpu", &key, mode, Some(&format!("bytes={x}-{y}"))).await;
                assert_eq!(got, &data[x..=y], "{key} bytes={x}-{y}");
            }
            let h = head(c, "mpu", &key, mode).await;
            assert_eq!(h.content_length(), Some(data.len() as i64), "{key}");
            assert_eq!(unquote(h.e_tag()), etag, "{key}");
            assert_eq!(h.content_type(), Some("application/x-parts"));
            let meta = h.metadata().cloned().unwrap_or_default();
            assert_eq!(meta.get("colour").map(String::as_str), Some("green"));
            assert!(meta.keys().all(|k| !k.starts_with("objseal-")), "{meta:?}");
        }
        let listed = cb
            .list_objects_v2()
            .bucket("mpu")
            .prefix(&key)
            .send()
            .await
            .unwrap();
        let o = &listed.contents()[0];
        assert_eq!(o.size(), Some(data.len() as i64), "{key}");
        assert_eq!(unquote(o.e_tag()), etag, "{key}");
    }
    // The uploads left no sidecars; each object has its late sidecar; no upload is listed.
    assert!(
        backend_keys(&backend, "mpu", ".objseal/uploads/")
            .await
            .is_empty()
    );
    assert_eq!(
        backend_keys(&backend, "mpu", ".objseal/late/").await.len(),
        MODES.len()
    );
    let uploads = ca
        .list_multipart_uploads()
        .bucket("mpu")
        .send()
        .await
        .unwrap();
    assert!(uploads.uploads().is_empty());
    // Listings show only the objects.
    let listed = cc.list_objects_v2().bucket("mpu").send().await.unwrap();
    assert_eq!(listed.contents().len(), MODES.len());

    // The backend, read directly: no plaintext, no customer key, in bodies or metadata
    // (sidecars included); each object marks its late sidecar.
    let (key_b64, _) = customer();
    let key_hex = hex::encode(CUSTOMER_KEY);
    let secrets: [&[u8]; 4] = [
        MARKER,
        &CUSTOMER_KEY,
        key_b64.as_bytes(),
        key_hex.as_bytes(),
    ];
    for (key, body, meta) in backend_objects(&backend, "mpu").await {
        if key.starts_with("None/") {
            assert!(meta.contains_key("objseal-late"), "{key}");
            continue;
        }
        let meta_text: String = meta.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
        for secret in secrets.iter() {
            assert!(!contains(&body, secret), "{key}: a secret in the body");
            assert!(
                !contains(meta_text.as_bytes(), secret),
                "{key}: a secret in the metadata"
            );
        }
        if !key.starts_with(".objseal/") {
            assert!(meta.contains_key("objseal-late"), "{key}");
            assert!(!meta.contains_key("objseal-upload-manifest-key"), "{key}");
        }
    }

    // An in-place copy (a metadata change) gets its own sidecar; the old one goes.
    let key = "SseS3/object";
    cc.copy_object()
        .bucket("mpu")
        .key(key)
        .copy_source(format!("mpu/{key}"))
        .metadata_directive(aws_sdk_s3::types::MetadataDirective::Replace)
        .server_side_encryption(ServerSideEncryption::Aes256)
        .metadata("colour", "red")
        .send()
        .await
        .unwrap();
    let data = plaintext(2 * PART + 100_001, 12);
    check_reads(&ca, "mpu", key, Mode::SseS3, &data).await;
    let h = head(&cb, "mpu", key, Mode::SseS3).await;
    assert_eq!(
        h.server_side_encryption(),
        Some(&ServerSideEncryption::Aes256)
    );
    assert_eq!(
        h.metadata().unwrap().get("colour").map(String::as_str),
        Some("red")
    );
    let raw = backend
        .head_object()
        .bucket("mpu")
        .key(key)
        .send()
        .await
        .unwrap();
    assert!(
        raw.metadata().unwrap().contains_key("objseal-late"),
        "copied in place"
    );
    assert_eq!(
        backend_keys(&backend, "mpu", ".objseal/late/").await.len(),
        MODES.len()
    );

    // Deleting the objects deletes their sidecars.
    ca.delete_object()
        .bucket("mpu")
        .key("None/object")
        .send()
        .await
        .unwrap();
    assert_eq!(
        backend_keys(&backend, "mpu", ".objseal/late/").await.len(),
        MODES.len() - 1
    );
    let ids: Vec<_> = ["SseS3/object", "SseKms/object", "SseC/object"]
        .iter()
        .map(|k| {
            aws_sdk_s3::types::ObjectIdentifier::builder()
                .key(*k)
                .build()
                .unwrap()
        })
        .collect();
    cb.delete_objects()
        .bucket("mpu")
        .delete(
            aws_sdk_s3::types::Delete::builder()
                .set_objects(Some(ids))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert!(
        backend_keys(&backend, "mpu", ".objseal/late/")
            .await
            .is_empty()
    );
    for g in [a, b, cg] {
        g.shutdown().await.unwrap();
    }
}

/// A re-uploaded part replaces the old one (whose ETag is then refused); ListMultipartUploads
/// through any gateway gives ids that work; an abort leaves no sidecar and no upload.
#[tokio::test]
async fn reuploads_listings_and_aborts() {
    let Some(fleet) = Fleet::start().await else {
        return;
    };
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, b) = (
        fleet.gateway(d1.path()).await,
        fleet.gateway(d2.path()).await,
    );
    let (ca, cb) = (client_of(&a), client_of(&b));
    ca.create_bucket().bucket("reup").send().await.unwrap();
    let backend = fleet.backend_client();
    let mode = Mode::SseKms;
    let first = plaintext(PART, 1);
    let second = plaintext(PART, 2);
    let last = plaintext(1000, 3);

    let id = create(&ca, "reup", "k", mode).await;
    let stale = upload(&ca, "reup", "k", &id, 1, mode, &first).await;
    let fresh = upload(&cb, "reup", "k", &id, 1, mode, &second).await;
    assert_ne!(stale, fresh);
    let e2 = upload(&ca, "reup", "k", &id, 2, mode, &last).await;
    assert_eq!(
        listed_parts(&cb, "reup", "k", &id).await,
        vec![(1, fresh.clone(), PART as i64), (2, e2.clone(), 1000)]
    );

    // Listed through the other gateway under ids that work.
    let listed = cb
        .list_multipart_uploads()
        .bucket("reup")
        .send()
        .await
        .unwrap();
    assert_eq!(listed.uploads().len(), 1);
    let listed_id = listed.uploads()[0].upload_id().unwrap().to_owned();
    assert_eq!(listed_id, id);
    assert_eq!(listed_parts(&ca, "reup", "k", &listed_id).await.len(), 2);

    let (code, _) = refusal(
        cb.complete_multipart_upload()
            .bucket("reup")
            .key("k")
            .upload_id(&id)
            .multipart_upload(completed(&[(1, &stale), (2, &e2)]))
            .send()
            .await,
    );
    assert_eq!(code, "InvalidPart");
    ca.complete_multipart_upload()
        .bucket("reup")
        .key("k")
        .upload_id(&id)
        .multipart_upload(completed(&[(1, &fresh), (2, &e2)]))
        .send()
        .await
        .unwrap();
    let mut whole = second.clone();
    whole.extend_from_slice(&last);
    check_reads(&cb, "reup", "k", mode, &whole).await;

    // An abort: nothing stays behind, and the upload is gone for every gateway.
    let id = create(&ca, "reup", "gone", Mode::SseC).await;
    upload(&ca, "reup", "gone", &id, 1, Mode::SseC, &first).await;
    upload(&cb, "reup", "gone", &id, 2, Mode::SseC, &last).await;
    assert!(
        !backend_keys(&backend, "reup", ".objseal/uploads/")
            .await
            .is_empty()
    );
    cb.abort_multipart_upload()
        .bucket("reup")
        .key("gone")
        .upload_id(&id)
        .send()
        .await
        .unwrap();
    assert!(
        backend_keys(&backend, "reup", ".objseal/uploads/")
            .await
            .is_empty()
    );
    let (code, status) = refusal(
        ca.list_parts()
            .bucket("reup")
            .key("gone")
            .upload_id(&id)
            .send()
            .await,
    );
    assert_eq!((code.as_str(), status), ("NoSuchUpload", 404));
    let listed = ca
        .list_multipart_uploads()
        .bucket("reup")
        .send()
        .await
        .unwrap();
    assert!(listed.uploads().is_empty());
    // Only the completed object's late sidecar is left.
    assert_eq!(
        backend_keys(&backend, "reup", ".objseal/late/").await.len(),
        1
    );
    a.shutdown().await.unwrap();
    b.shutdown().await.unwrap();
}

/// A gateway stopped while a part streams through it, and a part the backend took whose
/// sidecar was never written (a gateway that died in between): neither was acknowledged,
/// neither is listed, and another gateway completes the upload with what was acknowledged.
#[tokio::test]
async fn a_gateway_lost_mid_upload_loses_nothing_acknowledged() {
    let Some(fleet) = Fleet::start().await else {
        return;
    };
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = fleet.gateway(d1.path()).await;
    let ca = client_of(&a);
    ca.create_bucket().bucket("lost").send().await.unwrap();
    let mode = Mode::SseS3;
    let p1 = plaintext(PART, 21);
    let p2 = plaintext(PART, 22);
    let p3 = plaintext(777, 23);
    let id = create(&ca, "lost", "k", mode).await;
    let e1 = upload(&ca, "lost", "k", &id, 1, mode, &p1).await;

    // Part 2 starts through A and never finishes: the client goes away, then A stops.
    let stalled = {
        let first = bytes::Bytes::from(p2[..1024 * 1024].to_vec());
        let stream = futures::StreamExt::chain(
            futures::stream::iter([Ok::<_, std::io::Error>(hyper::body::Frame::data(first))]),
            futures::stream::pending(),
        );
        let body = http_body_util::StreamBody::new(stream);
        let req = ca
            .upload_part()
            .bucket("lost")
            .key("k")
            .upload_id(&id)
            .part_number(2)
            .content_length(PART as i64)
            .body(ByteStream::new(
                aws_sdk_s3::primitives::SdkBody::from_body_1_x(body),
            ));
        tokio::spawn(async move { req.send().await })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    stalled.abort();
    drop(a);

    // Part 3 reaches the backend, but its gateway "dies" before the sidecar: uploaded straight
    // to the backend under the store's upload id.
    let backend = fleet.backend_client();
    let inner_id = id.split('.').next().unwrap();
    backend
        .upload_part()
        .bucket("lost")
        .key("k")
        .upload_id(inner_id)
        .part_number(3)
        .body(ByteStream::from(vec![7u8; 4096]))
        .send()
        .await
        .unwrap();

    let b = fleet.gateway(d2.path()).await;
    let cb = client_of(&b);
    assert_eq!(
        listed_parts(&cb, "lost", "k", &id).await,
        vec![(1, e1.clone(), PART as i64)]
    );
    let (code, _) = refusal(
        cb.complete_multipart_upload()
            .bucket("lost")
            .key("k")
            .upload_id(&id)
            .multipart_upload(completed(&[
                (1, &e1),
                (3, "0123456789abcdef0123456789abcdef"),
            ]))
            .send()
            .await,
    );
    assert_eq!(code, "InvalidPart");
    let e2 = upload(&cb, "lost", "k", &id, 2, mode, &p2).await;
    let e3 = upload(&cb, "lost", "k", &id, 3, mode, &p3).await;
    cb.complete_multipart_upload()
        .bucket("lost")
        .key("k")
        .upload_id(&id)
        .multipart_upload(completed(&[(1, &e1), (2, &e2), (3, &e3)]))
        .send()
        .await
        .unwrap();
    let mut whole = p1;
    whole.extend_from_slice(&p2);
    whole.extend_from_slice(&p3);
    check_reads(&cb, "lost", "k", mode, &whole).await;
    b.shutdown().await.unwrap();
}

/// An object whose late sidecar is missing is refused, never served as stored.
#[tokio::test]
async fn an_object_without_its_sidecar_is_refused() {
    let Some(fleet) = Fleet::start().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let gw = fleet.gateway(dir.path()).await;
    let c = client_of(&gw);
    c.create_bucket().bucket("bare").send().await.unwrap();
    let id = create(&c, "bare", "k", Mode::None).await;
    let e1 = upload(&c, "bare", "k", &id, 1, Mode::None, b"small and only").await;
    c.complete_multipart_upload()
        .bucket("bare")
        .key("k")
        .upload_id(&id)
        .multipart_upload(completed(&[(1, &e1)]))
        .send()
        .await
        .unwrap();
    assert_eq!(
        get(&c, "bare", "k", Mode::None, None).await,
        b"small and only"
    );
    let listed = c.list_objects_v2().bucket("bare").send().await.unwrap();
    assert_eq!(listed.contents()[0].size(), Some(14));
    let backend = fleet.backend_client();
    for key in backend_keys(&backend, "bare", ".objseal/late/").await {
        backend
            .delete_object()
            .bucket("bare")
            .key(key)
            .send()
            .await
            .unwrap();
    }
    let (code, status) = refusal(c.get_object().bucket("bare").key("k").send().await);
    assert_eq!((code.as_str(), status), ("InternalError", 500));
    gw.shutdown().await.unwrap();
}
