//! Every SSE mode through the gateway, two gateways on one backend, objects of other tools.

use std::collections::HashMap;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ServerSideEncryption;

use crate::harness::*;

/// Each mode, each size: written, read whole and by ranges, headed, listed; then the backend,
/// read directly, holds no plaintext and no customer key in any encrypted object.
#[tokio::test]
async fn every_mode_round_trips_and_the_backend_sees_only_ciphertext() {
    let Some(fleet) = Fleet::start().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let gw = fleet.gateway(dir.path()).await;
    let c = client_of(&gw);
    c.create_bucket().bucket("plain").send().await.unwrap();
    c.create_bucket().bucket("sealed").send().await.unwrap();

    let mut expected = Vec::new();
    for mode in MODES {
        let bucket = if mode == Mode::None {
            "plain"
        } else {
            "sealed"
        };
        for (i, size) in SIZES.into_iter().enumerate() {
            let key = format!("{mode:?}/{size}");
            let data = plaintext(size, i as u64 + 1);
            let etag = put(&c, bucket, &key, mode, &data).await;
            if matches!(mode, Mode::None | Mode::SseS3) {
                assert_eq!(etag, md5_hex(&data), "{key}: the plaintext's MD5");
            } else {
                assert_eq!(etag.len(), 32, "{key}");
                assert_ne!(etag, md5_hex(&data), "{key}: opaque");
            }
            check_reads(&c, bucket, &key, mode, &data).await;
            let h = head(&c, bucket, &key, mode).await;
            assert_eq!(h.content_length(), Some(size as i64), "{key}");
            assert_eq!(unquote(h.e_tag()), etag, "{key}");
            assert_eq!(h.content_type(), Some("application/x-test"));
            let meta = h.metadata().cloned().unwrap_or_default();
            assert_eq!(
                meta.get("colour").map(String::as_str),
                Some("blue"),
                "{key}"
            );
            assert!(
                meta.keys().all(|k| !k.starts_with("objseal-")),
                "{key}: {meta:?}"
            );
            expected.push((bucket, key, size as i64, etag));
        }
    }

    // A range past the end, and an SSE-C object without its key.
    let (code, status) = refusal(
        c.get_object()
            .bucket("plain")
            .key("None/1")
            .range("bytes=5-9")
            .send()
            .await,
    );
    assert_eq!((code.as_str(), status), ("InvalidRange", 416));
    let (_, status) = refusal(c.get_object().bucket("sealed").key("SseC/1").send().await);
    assert_eq!(status, 400);

    // Listings report the plaintext sizes and the ETags HEAD reports, V2 and V1.
    for bucket in ["plain", "sealed"] {
        let v2 = c.list_objects_v2().bucket(bucket).send().await.unwrap();
        let v1 = c.list_objects().bucket(bucket).send().await.unwrap();
        let mut want: Vec<(String, i64, String)> = expected
            .iter()
            .filter(|e| e.0 == bucket)
            .map(|e| (e.1.clone(), e.2, e.3.clone()))
            .collect();
        want.sort();
        let listed = |objs: &[aws_sdk_s3::types::Object]| {
            objs.iter()
                .map(|o| {
                    (
                        o.key().unwrap().to_owned(),
                        o.size().unwrap(),
                        unquote(o.e_tag()),
                    )
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(listed(v2.contents()), want, "{bucket} V2");
        assert_eq!(listed(v1.contents()), want, "{bucket} V1");
    }

    // The backend: encrypted objects hold neither the plaintext nor the customer key, in their
    // bodies or their metadata; each ends in a trailer.
    let backend = fleet.backend_client();
    let (key_b64, _) = customer();
    let key_hex = hex::encode(CUSTOMER_KEY);
    let secrets: [&[u8]; 4] = [
        MARKER,
        &CUSTOMER_KEY,
        key_b64.as_bytes(),
        key_hex.as_bytes(),
    ];
    let objects = backend_objects(&backend, "sealed").await;
    assert_eq!(objects.len(), SIZES.len() * 3);
    for (key, body, meta) in &objects {
        let meta_text: String = meta.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
        for secret in secrets.iter() {
            assert!(!contains(body, secret), "{key}: a secret in the body");
            assert!(
                !contains(meta_text.as_bytes(), secret),
                "{key}: a secret in the metadata"
            );
        }
        assert_eq!(
            meta.get("objseal-trailer").map(String::as_str),
            Some("4096")
        );
        assert!(body.len() >= 4096 && body[body.len() - 4096..].starts_with(b"OSTR2\n"));
    }
    // The plaintext bucket holds the plaintext itself: the layer's "none".
    let objects = backend_objects(&backend, "plain").await;
    let big = objects.iter().find(|o| o.0 == "None/300001").unwrap();
    assert_eq!(&big.1[..300_001], plaintext(300_001, 5).as_slice());
    gw.shutdown().await.unwrap();
}

/// Two gateways on one backend: what one writes the other reads, whole and by ranges, lists
/// and deletes.
#[tokio::test]
async fn two_gateways_share_one_backend() {
    let Some(fleet) = Fleet::start().await else {
        return;
    };
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = fleet.gateway(da.path()).await;
    let b = fleet.gateway(db.path()).await;
    let (ca, cb) = (client_of(&a), client_of(&b));
    ca.create_bucket().bucket("shared").send().await.unwrap();
    let mut etags = HashMap::new();
    for (i, mode) in MODES.into_iter().enumerate() {
        let data = plaintext(200_000 + i, i as u64 + 11);
        let key = format!("from-a/{mode:?}");
        etags.insert(key.clone(), put(&ca, "shared", &key, mode, &data).await);
        check_reads(&cb, "shared", &key, mode, &data).await;
        let key = format!("from-b/{mode:?}");
        etags.insert(key.clone(), put(&cb, "shared", &key, mode, &data).await);
        check_reads(&ca, "shared", &key, mode, &data).await;
    }
    let listed = cb.list_objects_v2().bucket("shared").send().await.unwrap();
    assert_eq!(listed.contents().len(), 8);
    for o in listed.contents() {
        assert_eq!(unquote(o.e_tag()), etags[o.key().unwrap()]);
        assert!(o.size().unwrap() >= 200_000 && o.size().unwrap() < 200_004);
    }
    cb.delete_object()
        .bucket("shared")
        .key("from-a/SseKms")
        .send()
        .await
        .unwrap();
    let (code, _) = refusal(
        ca.head_object()
            .bucket("shared")
            .key("from-a/SseKms")
            .send()
            .await,
    );
    assert!(
        code.contains("NotFound") || code.contains("NoSuchKey"),
        "{code}"
    );
    a.shutdown().await.unwrap();
    b.shutdown().await.unwrap();
}

/// Objects written straight to the backend, without the gateway: served as stored, listed as
/// the backend lists them.
#[tokio::test]
async fn objects_from_other_tools_are_served_as_stored() {
    let Some(fleet) = Fleet::start().await else {
        return;
    };
    let direct = fleet.backend_client();
    direct
        .create_bucket()
        .bucket("legacy")
        .send()
        .await
        .unwrap();
    let big = plaintext(100_000, 21);
    for (key, data) in [("empty", &b""[..]), ("small", b"hello"), ("big", &big)] {
        direct
            .put_object()
            .bucket("legacy")
            .key(key)
            .metadata("origin", "direct")
            .body(ByteStream::from(data.to_vec()))
            .send()
            .await
            .unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let gw = fleet.gateway(dir.path()).await;
    let c = client_of(&gw);
    for (key, data) in [("empty", &b""[..]), ("small", b"hello"), ("big", &big)] {
        check_reads(&c, "legacy", key, Mode::None, data).await;
        let h = head(&c, "legacy", key, Mode::None).await;
        assert_eq!(h.content_length(), Some(data.len() as i64));
        assert_eq!(unquote(h.e_tag()), md5_hex(data));
        assert_eq!(
            h.metadata()
                .and_then(|m| m.get("origin"))
                .map(String::as_str),
            Some("direct")
        );
        assert!(h.server_side_encryption().is_none());
    }
    let listed = c.list_objects_v2().bucket("legacy").send().await.unwrap();
    let got: Vec<_> = listed
        .contents()
        .iter()
        .map(|o| (o.key().unwrap(), o.size().unwrap(), unquote(o.e_tag())))
        .collect();
    assert_eq!(
        got,
        [
            ("big", 100_000, md5_hex(&big)),
            ("empty", 0, md5_hex(b"")),
            ("small", 5, md5_hex(b"hello")),
        ]
    );
    // Encrypted in place by a copy through the gateway (the migration path).
    c.copy_object()
        .bucket("legacy")
        .key("big")
        .copy_source("legacy/big")
        .server_side_encryption(ServerSideEncryption::Aes256)
        .send()
        .await
        .unwrap();
    check_reads(&c, "legacy", "big", Mode::SseS3, &big).await;
    let raw = direct
        .get_object()
        .bucket("legacy")
        .key("big")
        .send()
        .await
        .unwrap();
    assert!(!contains(&bytes(raw).await, MARKER));
    gw.shutdown().await.unwrap();
}
