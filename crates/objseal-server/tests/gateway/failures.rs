//! What cannot finish: an unreachable backend, uploads that fail, bodies of unknown length.

use std::collections::HashMap;

use aws_sdk_s3::primitives::ByteStream;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::Bytes;
use md5::{Digest as _, Md5};
use objseal_server::internal::LateMetadata;
use s3s::dto::{HeadObjectInput, PutObjectInput, StreamingBlob};
use s3s::{S3, S3ErrorCode};

use crate::harness::*;

/// A backend that goes away: 503 SlowDown, which clients retry.
#[tokio::test]
async fn an_unreachable_backend_is_slow_down() {
    let Some(fleet) = Fleet::start().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let gw = fleet.gateway(dir.path()).await;
    let c = client_of(&gw);
    c.create_bucket().bucket("gone").send().await.unwrap();
    put(&c, "gone", "k", Mode::SseS3, b"data").await;
    let Fleet { site, kms, .. } = fleet;
    drop(site);
    let (code, status) = refusal(c.get_object().bucket("gone").key("k").send().await);
    assert_eq!((code.as_str(), status), ("SlowDown", 503));
    let (code, status) = refusal(
        c.put_object()
            .bucket("gone")
            .key("k2")
            .body(ByteStream::from_static(b"x"))
            .send()
            .await,
    );
    assert_eq!((code.as_str(), status), ("SlowDown", 503));
    gw.shutdown().await.unwrap();
    drop(kms);
}

/// The store on its own: a body of unknown length (PostObject's) is buffered, up to a bound; a
/// body that fails or leaves no late entries stores nothing.
#[tokio::test]
async fn uploads_that_cannot_finish_store_nothing() {
    let Some(fleet) = Fleet::start().await else {
        return;
    };
    let store = fleet.store().await;
    fleet
        .backend_client()
        .create_bucket()
        .bucket("raw")
        .send()
        .await
        .unwrap();
    let put = |key: &str,
               parts: Vec<Result<Bytes, std::io::Error>>,
               len: Option<i64>,
               late: Option<LateMetadata>| {
        let mut req = bare(PutObjectInput {
            bucket: "raw".into(),
            key: key.into(),
            content_length: len,
            body: Some(StreamingBlob::wrap(futures::stream::iter(parts))),
            ..Default::default()
        });
        if let Some(late) = late {
            req.extensions.insert(late);
        }
        let store = store.clone();
        async move { store.put_object(req).await }
    };
    let late = || {
        let late = LateMetadata::new();
        late.set(HashMap::from([
            ("objseal-etag".to_owned(), "e1".to_owned()),
            ("objseal-size".to_owned(), "7".to_owned()),
        ]));
        late
    };
    let head = |key: &str| {
        let store = store.clone();
        let key = key.to_owned();
        async move {
            store
                .head_object(bare(HeadObjectInput {
                    bucket: "raw".into(),
                    key,
                    ..Default::default()
                }))
                .await
        }
    };
    // Unknown length: buffered, trailer and all.
    let out = put(
        "unsized",
        vec![
            Ok(Bytes::from_static(b"abc")),
            Ok(Bytes::from_static(b"defg")),
        ],
        None,
        Some(late()),
    )
    .await
    .unwrap();
    assert_eq!(out.output.e_tag.unwrap().value(), "e1");
    let h = head("unsized").await.unwrap().output;
    assert_eq!(h.content_length, Some(7));
    assert_eq!(h.metadata.unwrap()["objseal-size"], "7");
    let big = (0..17)
        .map(|_| Ok(Bytes::from(vec![0u8; 1 << 20])))
        .collect();
    let refused = put("huge", big, None, None).await.unwrap_err();
    assert_eq!(refused.code(), &S3ErrorCode::EntityTooLarge);
    // A body that fails midway, one shorter than declared, one without its late entries.
    let failing = vec![
        Ok(Bytes::from(vec![1u8; 100_000])),
        Err(std::io::Error::other("client went away")),
    ];
    let refused = put("failed", failing, Some(200_000), Some(late()))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), &S3ErrorCode::IncompleteBody);
    let short = vec![Ok(Bytes::from(vec![1u8; 100_000]))];
    let refused = put("short", short, Some(200_000), None).await.unwrap_err();
    assert_eq!(refused.code(), &S3ErrorCode::IncompleteBody);
    let refused = put(
        "no-late",
        vec![Ok(Bytes::from_static(b"x"))],
        Some(1),
        Some(LateMetadata::new()),
    )
    .await
    .unwrap_err();
    assert_eq!(refused.code(), &S3ErrorCode::InternalError);
    for key in ["huge", "failed", "short", "no-late"] {
        let e = head(key).await.unwrap_err();
        assert_eq!(e.code(), &S3ErrorCode::NoSuchKey, "{key} was stored");
    }
}

/// A part that fails its Content-MD5 is refused (400 BadDigest) and the backend keeps nothing of
/// it: the layer holds its last bytes back until the digest has been checked, so the backend's
/// UploadPart never completes. A good part then takes its place and the upload completes.
#[tokio::test]
async fn a_part_failing_its_digest_leaves_nothing_in_the_backend() {
    let Some(fleet) = Fleet::start().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let gw = fleet.gateway(dir.path()).await;
    let c = client_of(&gw);
    let direct = fleet.backend_client();
    c.create_bucket().bucket("digests").send().await.unwrap();
    let id = c
        .create_multipart_upload()
        .bucket("digests")
        .key("k")
        .server_side_encryption(aws_sdk_s3::types::ServerSideEncryption::Aes256)
        .send()
        .await
        .unwrap()
        .upload_id()
        .unwrap()
        .to_owned();
    let data = plaintext(300_000, 71);
    let wrong_md5 = B64.encode(Md5::digest(b"something else"));
    let refused = c
        .upload_part()
        .bucket("digests")
        .key("k")
        .upload_id(&id)
        .part_number(1)
        .content_md5(wrong_md5)
        .body(ByteStream::from(data.clone()))
        .send()
        .await;
    assert_eq!(refusal(refused), ("BadDigest".into(), 400));
    // The backend's own view of its upload: no part.
    let uploads = direct
        .list_multipart_uploads()
        .bucket("digests")
        .send()
        .await
        .unwrap();
    let backend_ids: Vec<String> = uploads
        .uploads()
        .iter()
        .filter(|u| u.key() == Some("k"))
        .filter_map(|u| u.upload_id().map(str::to_owned))
        .collect();
    assert_eq!(backend_ids.len(), 1, "{backend_ids:?}");
    let listed = direct
        .list_parts()
        .bucket("digests")
        .key("k")
        .upload_id(&backend_ids[0])
        .send()
        .await;
    match listed {
        Ok(parts) => assert!(parts.parts().is_empty(), "kept {:?}", parts.parts()),
        // moto names its answer's root ListPartsResponse, which the SDK refuses: its XML then.
        Err(aws_sdk_s3::error::SdkError::ServiceError(e)) => {
            let xml = String::from_utf8_lossy(e.raw().body().bytes().unwrap_or_default());
            assert!(xml.contains("<ListPartsResponse"), "{xml}");
            assert!(!xml.contains("<Part>"), "the backend kept a part: {xml}");
        }
        Err(e) => panic!("ListParts: {e}"),
    }
    // The good part, and the upload completes.
    let etag = c
        .upload_part()
        .bucket("digests")
        .key("k")
        .upload_id(&id)
        .part_number(1)
        .body(ByteStream::from(data.clone()))
        .send()
        .await
        .unwrap()
        .e_tag()
        .unwrap()
        .to_owned();
    c.complete_multipart_upload()
        .bucket("digests")
        .key("k")
        .upload_id(&id)
        .multipart_upload(
            aws_sdk_s3::types::CompletedMultipartUpload::builder()
                .parts(
                    aws_sdk_s3::types::CompletedPart::builder()
                        .part_number(1)
                        .e_tag(etag)
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(get(&c, "digests", "k", Mode::SseS3, None).await, data);
    gw.shutdown().await.unwrap();
}
