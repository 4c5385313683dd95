//! Copies, deletes, the reserved prefix, and reads and copies pinned to the backend version.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{Delete, MetadataDirective, ObjectIdentifier, ServerSideEncryption};
use objseal_server::internal::CopySourceMetadataMatch;
use objseal_server::store::RemoteStore;
use s3s::dto::{
    CopyObjectInput, CopySource, ETagCondition, GetObjectInput, HeadObjectInput, PutObjectInput,
    Range,
};
use s3s::{S3, S3ErrorCode};

use crate::harness::*;

/// Copies across modes, a metadata-only copy onto itself, deletes, and the reserved prefix.
#[tokio::test]
async fn copies_deletes_and_what_is_refused() {
    let Some(fleet) = Fleet::start().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let gw = fleet.gateway(dir.path()).await;
    let c = client_of(&gw);
    c.create_bucket().bucket("copies").send().await.unwrap();
    let data = plaintext(150_000, 7);
    let s3_etag = put(&c, "copies", "src-s3", Mode::SseS3, &data).await;
    put(&c, "copies", "src-c", Mode::SseC, &data).await;

    // SSE-S3 → SSE-KMS, SSE-C → none.
    c.copy_object()
        .bucket("copies")
        .key("to-kms")
        .copy_source("copies/src-s3")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .send()
        .await
        .unwrap();
    check_reads(&c, "copies", "to-kms", Mode::SseKms, &data).await;
    let (k, md5) = customer();
    c.copy_object()
        .bucket("copies")
        .key("to-none")
        .copy_source("copies/src-c")
        .copy_source_sse_customer_algorithm("AES256")
        .copy_source_sse_customer_key(&k)
        .copy_source_sse_customer_key_md5(&md5)
        .send()
        .await
        .unwrap();
    check_reads(&c, "copies", "to-none", Mode::None, &data).await;

    // A metadata-only copy onto itself, keeping its encryption: the backend copies the
    // ciphertext as it is (same header, same trailer) under the new metadata.
    let direct = fleet.backend_client();
    let header_of = |h: aws_sdk_s3::operation::head_object::HeadObjectOutput| {
        h.metadata().and_then(|m| m.get("objseal-header")).cloned()
    };
    let before = header_of(
        direct
            .head_object()
            .bucket("copies")
            .key("src-s3")
            .send()
            .await
            .unwrap(),
    );
    assert!(before.is_some());
    let copied = c
        .copy_object()
        .bucket("copies")
        .key("src-s3")
        .copy_source("copies/src-s3")
        .server_side_encryption(ServerSideEncryption::Aes256)
        .metadata_directive(MetadataDirective::Replace)
        .metadata("colour", "green")
        .content_type("text/x-new")
        .send()
        .await
        .unwrap();
    assert_eq!(
        unquote(copied.copy_object_result().and_then(|r| r.e_tag())),
        s3_etag
    );
    let h = head(&c, "copies", "src-s3", Mode::SseS3).await;
    assert_eq!(
        h.metadata()
            .and_then(|m| m.get("colour"))
            .map(String::as_str),
        Some("green")
    );
    assert_eq!(h.content_type(), Some("text/x-new"));
    assert_eq!(unquote(h.e_tag()), s3_etag);
    assert_eq!(
        h.server_side_encryption(),
        Some(&ServerSideEncryption::Aes256)
    );
    let after = direct
        .head_object()
        .bucket("copies")
        .key("src-s3")
        .send()
        .await
        .unwrap();
    assert_eq!(
        after
            .metadata()
            .and_then(|m| m.get("objseal-trailer"))
            .map(String::as_str),
        Some("4096")
    );
    assert_eq!(
        header_of(after),
        before,
        "copied in place, not re-encrypted"
    );
    assert_eq!(h.content_length(), Some(data.len() as i64));
    check_reads(&c, "copies", "src-s3", Mode::SseS3, &data).await;
    let listed = c.list_objects_v2().bucket("copies").send().await.unwrap();
    let entry = listed
        .contents()
        .iter()
        .find(|o| o.key() == Some("src-s3"))
        .unwrap();
    assert_eq!(entry.size(), Some(data.len() as i64));
    assert_eq!(unquote(entry.e_tag()), s3_etag);

    // Deletes: one, then several (one missing), gone from reads and listings.
    c.delete_object()
        .bucket("copies")
        .key("to-none")
        .send()
        .await
        .unwrap();
    let (code, status) = refusal(c.get_object().bucket("copies").key("to-none").send().await);
    assert_eq!((code.as_str(), status), ("NoSuchKey", 404));
    let ids = ["to-kms", "src-c", "never-was"]
        .map(|k| ObjectIdentifier::builder().key(k).build().unwrap());
    let out = c
        .delete_objects()
        .bucket("copies")
        .delete(
            Delete::builder()
                .set_objects(Some(ids.to_vec()))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(out.deleted().len(), 3);
    let listed = c.list_objects_v2().bucket("copies").send().await.unwrap();
    let keys: Vec<_> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["src-s3"]);

    // The gateway's prefix: not writable, not readable, not listed.
    c.put_bucket_policy()
        .bucket("copies")
        .policy(DENY_UNLESS_KMS.replace("BUCKET", "copies"))
        .send()
        .await
        .unwrap();
    // (The store refuses with 400 InvalidArgument before reading the body; the layer then
    // reports its own sealing failure, 500, as it does for LocalStore's early refusals.)
    let (_, status) = refusal(
        c.put_object()
            .bucket("copies")
            .key(".objseal/bucket.json")
            .server_side_encryption(ServerSideEncryption::AwsKms)
            .body(ByteStream::from_static(b"{}"))
            .send()
            .await,
    );
    assert!(status == 400 || status == 500, "{status}");
    let store = fleet.store().await;
    let refused = store
        .put_object(bare(PutObjectInput {
            bucket: "copies".into(),
            key: ".objseal/bucket.json".into(),
            ..Default::default()
        }))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), &S3ErrorCode::InvalidArgument);
    let (code, _) = refusal(
        c.get_object()
            .bucket("copies")
            .key(".objseal/bucket.json")
            .send()
            .await,
    );
    assert_eq!(code, "NoSuchKey");
    let listed = c.list_objects_v2().bucket("copies").send().await.unwrap();
    assert_eq!(listed.contents().len(), 1);
    let rolled = c
        .list_objects_v2()
        .bucket("copies")
        .delimiter("/")
        .send()
        .await
        .unwrap();
    assert!(rolled.common_prefixes().is_empty(), "{rolled:?}");
    // The sidecar is there all the same, untouched.
    let sidecar = direct
        .get_object()
        .bucket("copies")
        .key(".objseal/bucket.json")
        .send()
        .await
        .unwrap();
    assert!(contains(&bytes(sidecar).await, b"OnlyKms"));

    // Multipart uploads (tests/gateway/multipart.rs) cannot write under the reserved prefix.
    let (code, status) = refusal(
        c.create_multipart_upload()
            .bucket("copies")
            .key(".objseal/mp")
            .server_side_encryption(ServerSideEncryption::AwsKms)
            .send()
            .await,
    );
    assert_eq!((code.as_str(), status), ("InvalidArgument", 400));

    // A bucket holding only the gateway's sidecar deletes; one with objects does not.
    let (code, status) = refusal(c.delete_bucket().bucket("copies").send().await);
    assert_eq!((code.as_str(), status), ("BucketNotEmpty", 409));
    assert_eq!(
        c.get_bucket_policy()
            .bucket("copies")
            .send()
            .await
            .unwrap()
            .policy()
            .map(str::len),
        Some(DENY_UNLESS_KMS.replace("BUCKET", "copies").len())
    );
    c.delete_object()
        .bucket("copies")
        .key("src-s3")
        .send()
        .await
        .unwrap();
    c.delete_bucket().bucket("copies").send().await.unwrap();
    let (code, _) = refusal(c.head_bucket().bucket("copies").send().await);
    assert!(
        code.contains("NotFound") || code.contains("NoSuchBucket"),
        "{code}"
    );
    gw.shutdown().await.unwrap();
}

/// The store's reads and copies are pinned to the backend's version, not to the layer's ETag:
/// two writes of one plaintext under SSE-S3 share the layer's ETag (its MD5) but not their
/// ciphertext, and a read pinned to the first must not get the second's bytes.
#[tokio::test]
async fn reads_and_copies_are_pinned_to_the_backend_version() {
    let Some(fleet) = Fleet::start().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let gw = fleet.gateway(dir.path()).await;
    let c = client_of(&gw);
    c.create_bucket().bucket("pins").send().await.unwrap();
    let data = plaintext(80_000, 31);
    let first_etag = put(&c, "pins", "k", Mode::SseS3, &data).await;
    let store = fleet.store().await;
    let head = |store: RemoteStore| async move {
        store
            .head_object(bare(HeadObjectInput {
                bucket: "pins".into(),
                key: "k".into(),
                ..Default::default()
            }))
            .await
            .unwrap()
            .output
    };
    let first = head(store.clone()).await;
    let meta = first.metadata.clone().unwrap();
    assert_eq!(meta["objseal-etag"], first_etag);
    assert!(
        !meta.contains_key("objseal-trailer"),
        "the gateway's own entry stays inside"
    );
    // Two 64 KiB chunks, each with its tag; the trailer is not counted.
    assert_eq!(meta["objseal-size"], "80000");
    assert_eq!(first.content_length, Some(80_000 + 2 * 16));
    let second_etag = put(&c, "pins", "k", Mode::SseS3, &data).await;
    assert_eq!(
        second_etag, first_etag,
        "equal plaintexts, equal layer ETags"
    );
    let second = head(store.clone()).await;
    assert_ne!(
        second.e_tag, first.e_tag,
        "but other ciphertext, another version"
    );

    let stale = Some(ETagCondition::ETag(first.e_tag.clone().unwrap()));
    let read = store
        .get_object(bare(GetObjectInput {
            bucket: "pins".into(),
            key: "k".into(),
            range: Some(Range::Int {
                first: 0,
                last: Some(99),
            }),
            if_match: stale.clone(),
            ..Default::default()
        }))
        .await;
    assert_eq!(read.err().unwrap().code(), &S3ErrorCode::PreconditionFailed);
    let copy = |source_if_match: Option<ETagCondition>, header: &str| {
        let mut input = CopyObjectInput::builder();
        input
            .set_bucket("pins".into())
            .set_key("k".into())
            .set_copy_source(CopySource::Bucket {
                bucket: "pins".into(),
                key: "k".into(),
                version_id: None,
            })
            .set_metadata_directive(Some(s3s::dto::MetadataDirective::from_static(
                s3s::dto::MetadataDirective::REPLACE,
            )))
            .set_metadata(second.metadata.clone())
            .set_copy_source_if_match(source_if_match);
        let mut req = bare(input.build().unwrap());
        req.extensions.insert(CopySourceMetadataMatch {
            name: "objseal-header".into(),
            value: header.to_owned(),
        });
        let store = store.clone();
        async move { store.copy_object(req).await }
    };
    let second_header = second.metadata.as_ref().unwrap()["objseal-header"].clone();
    let first_header = meta["objseal-header"].clone();
    assert_ne!(first_header, second_header);
    let refused = copy(stale, &second_header).await.err().unwrap();
    assert_eq!(refused.code(), &S3ErrorCode::PreconditionFailed);
    let refused = copy(None, &first_header).await.err().unwrap();
    assert_eq!(refused.code(), &S3ErrorCode::PreconditionFailed);
    let pinned = Some(ETagCondition::ETag(second.e_tag.clone().unwrap()));
    let copied = copy(pinned, &second_header).await.unwrap();
    assert_eq!(
        copied
            .output
            .copy_object_result
            .unwrap()
            .e_tag
            .unwrap()
            .value(),
        second_etag
    );
    check_reads(&c, "pins", "k", Mode::SseS3, &data).await;
    gw.shutdown().await.unwrap();
}
