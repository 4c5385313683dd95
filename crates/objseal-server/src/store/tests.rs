//! Tests of the local store, through the `S3` trait.

use std::collections::HashMap;
use std::io;
use std::path::Path;
use std::task::Poll;

use bytes::Bytes;
use futures::StreamExt;
use hyper::http::{Extensions, HeaderMap, Method, Uri};
use md5::{Digest as _, Md5};
use s3s::dto::*;
use s3s::stream::ByteStream;
use s3s::{S3, S3ErrorCode, S3Request, S3Result};

use super::LocalStore;
use crate::internal::LateMetadata;

fn req<T>(input: T) -> S3Request<T> {
    S3Request {
        input,
        method: Method::GET,
        uri: Uri::from_static("/"),
        headers: HeaderMap::new(),
        extensions: Extensions::new(),
        credentials: None,
        region: None,
        service: None,
        trailing_headers: None,
    }
}

fn md5_hex(data: &[u8]) -> String {
    hex::encode(Md5::digest(data))
}

/// A body in chunks of `chunk` bytes.
fn body_chunked(data: &[u8], chunk: usize) -> Option<StreamingBlob> {
    let chunks: Vec<Result<Bytes, io::Error>> = data
        .chunks(chunk.max(1))
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    Some(StreamingBlob::wrap(futures::stream::iter(chunks)))
}

fn body(data: &[u8]) -> Option<StreamingBlob> {
    body_chunked(data, 1000)
}

fn data(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

fn code<T: std::fmt::Debug>(r: S3Result<T>) -> S3ErrorCode {
    r.expect_err("expected an error").code().clone()
}

async fn store() -> (tempfile::TempDir, LocalStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::open(dir.path().join("store")).unwrap();
    create_bucket(&store, "bkt").await;
    (dir, store)
}

async fn create_bucket(store: &LocalStore, name: &str) {
    store
        .create_bucket(req(CreateBucketInput {
            bucket: name.into(),
            ..Default::default()
        }))
        .await
        .unwrap();
}

async fn put(store: &LocalStore, bucket: &str, key: &str, bytes: &[u8]) -> String {
    let out = store
        .put_object(req(PutObjectInput {
            bucket: bucket.into(),
            key: key.into(),
            body: body(bytes),
            ..Default::default()
        }))
        .await
        .unwrap()
        .output;
    out.e_tag.unwrap().into_value()
}

async fn collect(blob: StreamingBlob) -> Vec<u8> {
    let mut blob = blob;
    let mut out = Vec::new();
    while let Some(chunk) = blob.next().await {
        out.extend_from_slice(&chunk.unwrap());
    }
    out
}

async fn get(
    store: &LocalStore,
    bucket: &str,
    key: &str,
    range: Option<Range>,
) -> S3Result<(Vec<u8>, GetObjectOutput)> {
    let mut out = store
        .get_object(req(GetObjectInput {
            bucket: bucket.into(),
            key: key.into(),
            range,
            ..Default::default()
        }))
        .await?
        .output;
    let blob = out.body.take().unwrap();
    assert_eq!(
        blob.remaining_length().exact(),
        Some(out.content_length.unwrap() as usize),
        "exact remaining length"
    );
    Ok((collect(blob).await, out))
}

async fn head(store: &LocalStore, bucket: &str, key: &str) -> S3Result<HeadObjectOutput> {
    Ok(store
        .head_object(req(HeadObjectInput {
            bucket: bucket.into(),
            key: key.into(),
            ..Default::default()
        }))
        .await?
        .output)
}

/// Every entry under `dir`, recursively.
fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        out.push(path.clone());
        if path.is_dir() {
            out.extend(walk(&path));
        }
    }
    out
}

fn tmp_entries(store: &LocalStore) -> usize {
    std::fs::read_dir(store.root().join("tmp")).unwrap().count()
}

#[tokio::test]
async fn buckets() {
    let (dir, store) = store().await;
    let create = |name: &str| {
        req(CreateBucketInput {
            bucket: name.into(),
            ..Default::default()
        })
    };
    assert_eq!(
        code(store.create_bucket(create("bkt")).await),
        S3ErrorCode::BucketAlreadyOwnedByYou
    );
    assert_eq!(
        code(store.create_bucket(create("Bad_Name")).await),
        S3ErrorCode::InvalidBucketName
    );
    assert_eq!(
        code(store.create_bucket(create("..")).await),
        S3ErrorCode::InvalidBucketName
    );
    create_bucket(&store, "other").await;

    let list = store
        .list_buckets(req(ListBucketsInput::default()))
        .await
        .unwrap()
        .output;
    let names: Vec<_> = list
        .buckets
        .unwrap()
        .into_iter()
        .map(|b| b.name.unwrap())
        .collect();
    assert_eq!(names, ["bkt", "other"]);

    let head_bucket = |name: &str| {
        req(HeadBucketInput {
            bucket: name.into(),
            ..Default::default()
        })
    };
    store.head_bucket(head_bucket("bkt")).await.unwrap();
    assert_eq!(
        code(store.head_bucket(head_bucket("nope")).await),
        S3ErrorCode::NoSuchBucket
    );

    let delete = |name: &str| {
        req(DeleteBucketInput {
            bucket: name.into(),
            ..Default::default()
        })
    };
    put(&store, "other", "k", b"x").await;
    assert_eq!(
        code(store.delete_bucket(delete("other")).await),
        S3ErrorCode::BucketNotEmpty
    );
    store
        .delete_object(req(DeleteObjectInput {
            bucket: "other".into(),
            key: "k".into(),
            ..Default::default()
        }))
        .await
        .unwrap();
    let upload = store
        .create_multipart_upload(req(CreateMultipartUploadInput {
            bucket: "other".into(),
            key: "m".into(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .output
        .upload_id
        .unwrap();
    assert_eq!(
        code(store.delete_bucket(delete("other")).await),
        S3ErrorCode::BucketNotEmpty
    );
    store
        .abort_multipart_upload(req(AbortMultipartUploadInput {
            bucket: "other".into(),
            key: "m".into(),
            upload_id: upload,
            ..Default::default()
        }))
        .await
        .unwrap();
    store.delete_bucket(delete("other")).await.unwrap();
    assert_eq!(
        code(store.head_bucket(head_bucket("other")).await),
        S3ErrorCode::NoSuchBucket
    );
    assert_eq!(
        code(store.delete_bucket(delete("other")).await),
        S3ErrorCode::NoSuchBucket
    );
    assert!(!store.root().join("buckets/other").exists());

    // Re-created, it is empty; the reopened store agrees.
    create_bucket(&store, "other").await;
    drop(store);
    let store = LocalStore::open(dir.path().join("store")).unwrap();
    let list = store
        .list_buckets(req(ListBucketsInput::default()))
        .await
        .unwrap()
        .output;
    assert_eq!(list.buckets.unwrap().len(), 2);
    assert_eq!(tmp_entries(&store), 0);
}

#[tokio::test]
async fn bucket_encryption() {
    let (dir, store) = store().await;
    let get_enc = |s: &LocalStore| {
        let s = s.clone();
        async move {
            s.get_bucket_encryption(req(GetBucketEncryptionInput {
                bucket: "bkt".into(),
                ..Default::default()
            }))
            .await
        }
    };
    let err = get_enc(&store).await.unwrap_err();
    assert_eq!(
        err.code(),
        &S3ErrorCode::ServerSideEncryptionConfigurationNotFoundError
    );
    assert_eq!(err.status_code(), Some(hyper::StatusCode::NOT_FOUND));

    let config = ServerSideEncryptionConfiguration {
        rules: vec![ServerSideEncryptionRule {
            apply_server_side_encryption_by_default: Some(ServerSideEncryptionByDefault {
                sse_algorithm: ServerSideEncryption::from_static(ServerSideEncryption::AWS_KMS),
                kms_master_key_id: Some("arn:aws:kms:local:key/abc".into()),
            }),
            bucket_key_enabled: Some(true),
        }],
    };
    store
        .put_bucket_encryption(req(PutBucketEncryptionInput {
            bucket: "bkt".into(),
            checksum_algorithm: None,
            content_md5: None,
            expected_bucket_owner: None,
            server_side_encryption_configuration: config.clone(),
        }))
        .await
        .unwrap();
    let got = get_enc(&store).await.unwrap().output;
    assert_eq!(
        got.server_side_encryption_configuration.as_ref(),
        Some(&config)
    );

    drop(store);
    let store = LocalStore::open(dir.path().join("store")).unwrap();
    let got = get_enc(&store).await.unwrap().output;
    assert_eq!(got.server_side_encryption_configuration, Some(config));

    store
        .delete_bucket_encryption(req(DeleteBucketEncryptionInput {
            bucket: "bkt".into(),
            ..Default::default()
        }))
        .await
        .unwrap();
    assert!(get_enc(&store).await.is_err());
    let missing = store
        .get_bucket_encryption(req(GetBucketEncryptionInput {
            bucket: "nope".into(),
            ..Default::default()
        }))
        .await;
    assert_eq!(code(missing), S3ErrorCode::NoSuchBucket);
}

#[tokio::test]
async fn put_get_head_range_delete() {
    let (_dir, store) = store().await;
    let bytes = data(10_000, 7);
    let metadata: HashMap<String, String> = [
        ("color".to_owned(), "blue".to_owned()),
        ("objseal-header".to_owned(), "opaque-value".to_owned()),
    ]
    .into_iter()
    .collect();
    let expires =
        Timestamp::from(time::OffsetDateTime::from_unix_timestamp(2_000_000_000).unwrap());
    let out = store
        .put_object(req(PutObjectInput {
            bucket: "bkt".into(),
            key: "dir/file.bin".into(),
            body: body(&bytes),
            content_type: Some("application/x-test".into()),
            cache_control: Some("no-cache".into()),
            content_disposition: Some("attachment".into()),
            content_encoding: Some("identity".into()),
            content_language: Some("en".into()),
            expires: Some(expires.clone()),
            metadata: Some(metadata.clone()),
            ..Default::default()
        }))
        .await
        .unwrap()
        .output;
    assert_eq!(out.e_tag, Some(ETag::Strong(md5_hex(&bytes))));

    let (got, out) = get(&store, "bkt", "dir/file.bin", None).await.unwrap();
    assert_eq!(got, bytes);
    assert_eq!(out.content_length, Some(10_000));
    assert_eq!(out.content_range, None);
    assert_eq!(out.e_tag, Some(ETag::Strong(md5_hex(&bytes))));
    assert_eq!(out.content_type.as_deref(), Some("application/x-test"));
    assert_eq!(out.cache_control.as_deref(), Some("no-cache"));
    assert_eq!(out.content_disposition.as_deref(), Some("attachment"));
    assert_eq!(out.content_encoding.as_deref(), Some("identity"));
    assert_eq!(out.content_language.as_deref(), Some("en"));
    assert_eq!(out.expires, Some(expires.clone()));
    assert_eq!(out.metadata.as_ref(), Some(&metadata));
    assert!(out.last_modified.is_some());

    let h = head(&store, "bkt", "dir/file.bin").await.unwrap();
    assert_eq!(h.content_length, Some(10_000));
    assert_eq!(h.e_tag, out.e_tag);
    assert_eq!(h.metadata.as_ref(), Some(&metadata));
    assert_eq!(h.last_modified, out.last_modified);
    assert_eq!(h.content_type.as_deref(), Some("application/x-test"));
    assert_eq!(h.expires, Some(expires));

    let cases = [
        (
            Range::Int {
                first: 2,
                last: Some(5),
            },
            2..6,
        ),
        (
            Range::Int {
                first: 9_990,
                last: None,
            },
            9_990..10_000,
        ),
        (
            Range::Int {
                first: 9_000,
                last: Some(20_000),
            },
            9_000..10_000,
        ),
        (Range::Suffix { length: 4 }, 9_996..10_000),
        (Range::Suffix { length: 50_000 }, 0..10_000),
    ];
    for (range, want) in cases {
        let (got, out) = get(&store, "bkt", "dir/file.bin", Some(range))
            .await
            .unwrap();
        assert_eq!(got, &bytes[want.clone()], "{range:?}");
        assert_eq!(out.content_length, Some((want.end - want.start) as i64));
        assert_eq!(
            out.content_range,
            Some(format!("bytes {}-{}/10000", want.start, want.end - 1))
        );
    }
    let bad = get(
        &store,
        "bkt",
        "dir/file.bin",
        Some(Range::Int {
            first: 10_000,
            last: None,
        }),
    )
    .await;
    let err = bad.unwrap_err();
    assert_eq!(err.code(), &S3ErrorCode::InvalidRange);
    assert_eq!(
        err.status_code(),
        Some(hyper::StatusCode::RANGE_NOT_SATISFIABLE)
    );

    // Empty object.
    assert_eq!(put(&store, "bkt", "empty", b"").await, md5_hex(b""));
    let (got, out) = get(&store, "bkt", "empty", None).await.unwrap();
    assert!(got.is_empty());
    assert_eq!(out.content_length, Some(0));
    assert_eq!(out.metadata, None);

    // Overwrite, then delete (twice: a missing key is fine).
    put(&store, "bkt", "dir/file.bin", b"short").await;
    assert_eq!(
        get(&store, "bkt", "dir/file.bin", None).await.unwrap().0,
        b"short"
    );
    for _ in 0..2 {
        store
            .delete_object(req(DeleteObjectInput {
                bucket: "bkt".into(),
                key: "dir/file.bin".into(),
                ..Default::default()
            }))
            .await
            .unwrap();
    }
    assert_eq!(
        code(get(&store, "bkt", "dir/file.bin", None).await),
        S3ErrorCode::NoSuchKey
    );
    assert_eq!(
        code(head(&store, "bkt", "dir/file.bin").await),
        S3ErrorCode::NoSuchKey
    );
    assert_eq!(
        code(get(&store, "nope", "x", None).await),
        S3ErrorCode::NoSuchBucket
    );
    let put_missing = store
        .put_object(req(PutObjectInput {
            bucket: "nope".into(),
            key: "k".into(),
            body: body(b"x"),
            ..Default::default()
        }))
        .await;
    assert_eq!(code(put_missing), S3ErrorCode::NoSuchBucket);
    assert_eq!(tmp_entries(&store), 0);
}

#[tokio::test]
async fn large_body_is_streamed_in_chunks() {
    let (_dir, store) = store().await;
    let bytes = data(3 << 20 | 12345, 3);
    let out = store
        .put_object(req(PutObjectInput {
            bucket: "bkt".into(),
            key: "big".into(),
            body: body_chunked(&bytes, 65_536 + 17),
            ..Default::default()
        }))
        .await
        .unwrap()
        .output;
    assert_eq!(out.e_tag.unwrap().into_value(), md5_hex(&bytes));
    let mut blob = store
        .get_object(req(GetObjectInput {
            bucket: "bkt".into(),
            key: "big".into(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .output
        .body
        .unwrap();
    let mut got = Vec::new();
    let mut chunks = 0;
    while let Some(chunk) = blob.next().await {
        let chunk = chunk.unwrap();
        assert!(chunk.len() as u64 <= super::object_file::READ_CHUNK);
        got.extend_from_slice(&chunk);
        chunks += 1;
        assert_eq!(
            blob.remaining_length().exact(),
            Some(bytes.len() - got.len())
        );
    }
    assert_eq!(got, bytes);
    assert!(chunks >= 12);
}

#[tokio::test]
async fn in_flight_get_survives_overwrite_and_delete() {
    let (_dir, store) = store().await;
    let old = data(600_000, 1);
    put(&store, "bkt", "k", &old).await;
    let mut blob = store
        .get_object(req(GetObjectInput {
            bucket: "bkt".into(),
            key: "k".into(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .output
        .body
        .unwrap();
    let first = blob.next().await.unwrap().unwrap();
    put(&store, "bkt", "k", b"new").await;
    let mut got = first.to_vec();
    got.extend(collect(blob).await);
    assert_eq!(got, old);
    assert_eq!(get(&store, "bkt", "k", None).await.unwrap().0, b"new");
}

fn listing_keys() -> Vec<String> {
    let mut keys: Vec<String> = [
        "a",
        "a/b",
        "a/b/c",
        "a/b/d",
        "a/c",
        "a/d/e/f",
        "a%2Fb",
        "a+b c",
        "b",
        "b/",
        "b//x",
        "c/1",
        "c/2",
        "c/3",
        "c/4/5",
        "d",
        "é",
        "é/ü",
        "é/ü/ß",
        "日本/語",
        "日本/人",
        "日本語",
        "zz/../up",
        "../../etc/passwd",
        "~tilde",
        "z",
        "z/y",
        "\u{10FFFF}/max",
        "\u{10FFFF}\u{10FFFF}",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    keys.push("k".repeat(1000));
    keys.push(format!("{}/{}", "l".repeat(500), "m".repeat(499)));
    keys
}

/// The expected listing, computed naively.
fn expected(keys: &[String], prefix: &str, delimiter: Option<&str>) -> Vec<String> {
    let mut sorted = keys.to_vec();
    sorted.sort();
    let mut out: Vec<String> = Vec::new();
    for k in sorted.iter().filter(|k| k.starts_with(prefix)) {
        let entry = match delimiter.and_then(|d| k[prefix.len()..].find(d).map(|p| (p, d))) {
            Some((p, d)) => format!("P:{}", &k[..prefix.len() + p + d.len()]),
            None => format!("K:{k}"),
        };
        if out.last() != Some(&entry) {
            out.push(entry);
        }
    }
    out.sort_by(|a, b| a[2..].cmp(&b[2..]));
    out
}

async fn list_all_v2(
    store: &LocalStore,
    prefix: &str,
    delimiter: Option<&str>,
    max: i32,
) -> Vec<String> {
    let mut out = Vec::new();
    let mut token = None;
    let mut pages = 0;
    loop {
        let page = store
            .list_objects_v2(req(ListObjectsV2Input {
                bucket: "bkt".into(),
                prefix: Some(prefix.into()),
                delimiter: delimiter.map(Into::into),
                max_keys: Some(max),
                continuation_token: token.take(),
                ..Default::default()
            }))
            .await
            .unwrap()
            .output;
        let contents = page.contents.unwrap_or_default();
        let prefixes = page.common_prefixes.unwrap_or_default();
        assert_eq!(
            page.key_count,
            Some((contents.len() + prefixes.len()) as i32)
        );
        assert!(contents.len() + prefixes.len() <= max as usize);
        let mut entries: Vec<String> = contents
            .into_iter()
            .map(|o| {
                assert!(o.size.is_some() && o.e_tag.is_some() && o.last_modified.is_some());
                format!("K:{}", o.key.unwrap())
            })
            .chain(
                prefixes
                    .into_iter()
                    .map(|p| format!("P:{}", p.prefix.unwrap())),
            )
            .collect();
        entries.sort_by(|a, b| a[2..].cmp(&b[2..]));
        out.extend(entries);
        pages += 1;
        assert!(pages < 100);
        if page.is_truncated == Some(true) {
            token = Some(page.next_continuation_token.unwrap());
        } else {
            assert!(page.next_continuation_token.is_none());
            break;
        }
    }
    out
}

async fn list_all_v1(
    store: &LocalStore,
    prefix: &str,
    delimiter: Option<&str>,
    max: i32,
) -> Vec<String> {
    let mut out = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let page = store
            .list_objects(req(ListObjectsInput {
                bucket: "bkt".into(),
                prefix: Some(prefix.into()),
                delimiter: delimiter.map(Into::into),
                max_keys: Some(max),
                marker: marker.take(),
                ..Default::default()
            }))
            .await
            .unwrap()
            .output;
        let mut entries: Vec<String> = page
            .contents
            .unwrap_or_default()
            .into_iter()
            .map(|o| format!("K:{}", o.key.unwrap()))
            .chain(
                page.common_prefixes
                    .unwrap_or_default()
                    .into_iter()
                    .map(|p| format!("P:{}", p.prefix.unwrap())),
            )
            .collect();
        entries.sort_by(|a, b| a[2..].cmp(&b[2..]));
        out.extend(entries);
        if page.is_truncated == Some(true) {
            marker = Some(page.next_marker.unwrap());
        } else {
            break;
        }
    }
    out
}

#[tokio::test]
async fn listing_with_delimiters_and_pagination() {
    let (dir, store) = store().await;
    let keys = listing_keys();
    for (i, key) in keys.iter().enumerate() {
        put(&store, "bkt", key, &data(i, 0)).await;
    }
    let check = |store: LocalStore| {
        let keys = keys.clone();
        async move {
            for (prefix, delimiter) in [
                ("", None),
                ("", Some("/")),
                ("a", Some("/")),
                ("a/", Some("/")),
                ("a/b", Some("/")),
                ("é", Some("/")),
                ("日本", Some("/")),
                ("", Some("b")),
                ("c/", None),
                ("nothing", Some("/")),
                ("", Some("\u{10FFFF}")),
                ("b/", Some("/")),
            ] {
                let want = expected(&keys, prefix, delimiter);
                for max in [1, 2, 3, 7, 1000] {
                    let got = list_all_v2(&store, prefix, delimiter, max).await;
                    assert_eq!(
                        got, want,
                        "v2 prefix {prefix:?} delimiter {delimiter:?} max {max}"
                    );
                    let got = list_all_v1(&store, prefix, delimiter, max).await;
                    assert_eq!(
                        got, want,
                        "v1 prefix {prefix:?} delimiter {delimiter:?} max {max}"
                    );
                }
            }
        }
    };
    check(store.clone()).await;

    // V2 details: start-after, max-keys 0, default max-keys, sizes.
    let page = store
        .list_objects_v2(req(ListObjectsV2Input {
            bucket: "bkt".into(),
            start_after: Some("c/2".into()),
            max_keys: Some(2),
            ..Default::default()
        }))
        .await
        .unwrap()
        .output;
    let got: Vec<_> = page
        .contents
        .unwrap()
        .into_iter()
        .map(|o| o.key.unwrap())
        .collect();
    assert_eq!(got, ["c/3", "c/4/5"]);
    assert_eq!(page.is_truncated, Some(true));
    let page = store
        .list_objects_v2(req(ListObjectsV2Input {
            bucket: "bkt".into(),
            max_keys: Some(0),
            ..Default::default()
        }))
        .await
        .unwrap()
        .output;
    assert_eq!(page.key_count, Some(0));
    assert_eq!(page.is_truncated, Some(false));
    let page = store
        .list_objects_v2(req(ListObjectsV2Input {
            bucket: "bkt".into(),
            prefix: Some("d".into()),
            ..Default::default()
        }))
        .await
        .unwrap()
        .output;
    assert_eq!(page.max_keys, Some(1000));
    let obj = &page.contents.unwrap()[0];
    assert_eq!(obj.key.as_deref(), Some("d"));
    let i = keys.iter().position(|k| k == "d").unwrap();
    assert_eq!(obj.size, Some(i as i64));
    assert_eq!(obj.e_tag.as_ref().unwrap().value(), md5_hex(&data(i, 0)));

    // encoding-type=url
    let page = store
        .list_objects_v2(req(ListObjectsV2Input {
            bucket: "bkt".into(),
            prefix: Some("a+".into()),
            encoding_type: Some(EncodingType::from_static(EncodingType::URL)),
            ..Default::default()
        }))
        .await
        .unwrap()
        .output;
    assert_eq!(page.contents.unwrap()[0].key.as_deref(), Some("a%2Bb%20c"));
    assert_eq!(page.prefix.as_deref(), Some("a%2B"));

    let bad = store
        .list_objects_v2(req(ListObjectsV2Input {
            bucket: "bkt".into(),
            continuation_token: Some("not hex".into()),
            ..Default::default()
        }))
        .await;
    assert_eq!(code(bad), S3ErrorCode::InvalidArgument);

    // The index rebuilt at open lists the same.
    drop(store);
    let store = LocalStore::open(dir.path().join("store")).unwrap();
    check(store).await;
}

#[tokio::test]
async fn keys_stay_inside_the_root() {
    let (dir, store) = store().await;
    let keys = [
        "../../etc/passwd",
        "/abs/path",
        "..",
        ".",
        "a/../../../b",
        "\\..\\x",
        "./x/",
    ];
    for key in keys {
        put(&store, "bkt", key, key.as_bytes()).await;
    }
    for key in keys {
        assert_eq!(
            get(&store, "bkt", key, None).await.unwrap().0,
            key.as_bytes()
        );
    }
    // Nothing outside the store's root; every object file under the bucket's objects/.
    let outside: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(outside, ["store"]);
    let objects = store.root().join("buckets/bkt/objects");
    let files: Vec<_> = walk(&objects).into_iter().filter(|p| p.is_file()).collect();
    assert_eq!(files.len(), keys.len());
    for f in walk(store.root()) {
        assert!(f.starts_with(store.root()));
    }
    // An over-long key is refused.
    let long = store
        .put_object(req(PutObjectInput {
            bucket: "bkt".into(),
            key: "x".repeat(1025),
            body: body(b"x"),
            ..Default::default()
        }))
        .await;
    assert_eq!(code(long), S3ErrorCode::KeyTooLongError);
}

/// A body whose stream fills `late` with `entries` only when it ends, as the layer does.
fn body_then_late(
    bytes: &'static [u8],
    late: &LateMetadata,
    entries: HashMap<String, String>,
) -> StreamingBlob {
    let setter = late.clone();
    let chunks = futures::stream::iter(vec![Ok::<_, io::Error>(Bytes::from_static(bytes))]);
    let mut entries = Some(entries);
    let tail = futures::stream::poll_fn(move |_| {
        if let Some(entries) = entries.take() {
            setter.set(entries);
        }
        Poll::Ready(None::<Result<Bytes, io::Error>>)
    });
    StreamingBlob::wrap(chunks.chain(tail))
}

fn entries(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[tokio::test]
async fn late_metadata_is_merged_after_the_body() {
    let (dir, store) = store().await;
    let late = LateMetadata::new();
    let body = body_then_late(
        b"ciphertext",
        &late,
        entries(&[
            ("objseal-size", "6"),
            ("objseal-etag", "0123456789abcdef0123456789abcdef"),
            ("objseal-checksum-crc32", "AAAAAA=="),
            ("user", "late-wins"),
        ]),
    );
    let mut r = req(PutObjectInput {
        bucket: "bkt".into(),
        key: "obj".into(),
        body: Some(body),
        metadata: Some(entries(&[("user", "early"), ("keep", "1")])),
        ..Default::default()
    });
    r.extensions.insert(late.clone());
    let out = store.put_object(r).await.unwrap().output;
    assert!(late.take().is_none(), "the store took the entries");
    // The ETag the layer named, not the MD5 of what was stored.
    assert_eq!(
        out.e_tag.unwrap().value(),
        "0123456789abcdef0123456789abcdef"
    );

    let check = |store: LocalStore| async move {
        let h = head(&store, "bkt", "obj").await.unwrap();
        assert_eq!(h.e_tag.unwrap().value(), "0123456789abcdef0123456789abcdef");
        assert_eq!(h.content_length, Some(10), "HEAD reports the stored size");
        let m = h.metadata.unwrap();
        assert_eq!(m.get("objseal-size").map(String::as_str), Some("6"));
        assert_eq!(
            m.get("objseal-etag").map(String::as_str),
            Some("0123456789abcdef0123456789abcdef")
        );
        assert_eq!(
            m.get("objseal-checksum-crc32").map(String::as_str),
            Some("AAAAAA==")
        );
        assert_eq!(m.get("user").map(String::as_str), Some("late-wins"));
        assert_eq!(m.get("keep").map(String::as_str), Some("1"));
        let (got, _) = get(&store, "bkt", "obj", None).await.unwrap();
        assert_eq!(got, b"ciphertext");
        // Listings report the layer's size and ETag.
        let page = store
            .list_objects_v2(req(ListObjectsV2Input {
                bucket: "bkt".into(),
                ..Default::default()
            }))
            .await
            .unwrap()
            .output;
        let o = &page.contents.unwrap()[0];
        assert_eq!(o.size, Some(6));
        assert_eq!(
            o.e_tag.as_ref().unwrap().value(),
            "0123456789abcdef0123456789abcdef"
        );
    };
    check(store.clone()).await;
    drop(store);
    check(LocalStore::open(dir.path().join("store")).unwrap()).await;
}

#[tokio::test]
async fn late_metadata_without_etag_stores_nothing() {
    let (_dir, store) = store().await;
    // The layer promised an ETag (by attaching LateMetadata) but never named one.
    let late = LateMetadata::new();
    let blob = body_then_late(b"x", &late, entries(&[("objseal-size", "1")]));
    let mut r = req(PutObjectInput {
        bucket: "bkt".into(),
        key: "obj".into(),
        body: Some(blob),
        ..Default::default()
    });
    r.extensions.insert(late);
    assert_eq!(code(store.put_object(r).await), S3ErrorCode::InternalError);
    assert_eq!(
        code(head(&store, "bkt", "obj").await),
        S3ErrorCode::NoSuchKey
    );
    assert_eq!(tmp_entries(&store), 0);

    let id = create_upload(&store, "mp").await;
    let mut r = req(UploadPartInput {
        bucket: "bkt".into(),
        key: "mp".into(),
        upload_id: id.clone(),
        part_number: 1,
        body: body(b"x"),
        ..Default::default()
    });
    r.extensions.insert(LateMetadata::new());
    assert_eq!(code(store.upload_part(r).await), S3ErrorCode::InternalError);
    assert!(list_parts(&store, "mp", &id, None, None).await.0.is_empty());
}

#[tokio::test]
async fn parts_and_objects_take_the_layers_etags() {
    let (_dir, store) = store().await;
    let id = create_upload(&store, "sealed").await;
    let mut part_etags = Vec::new();
    for (n, bytes) in [(1, &b"first part "[..]), (2, &b"second"[..])] {
        let late = LateMetadata::new();
        let salt = format!("{:032x}", 0xabc0 + n);
        let mut r = req(UploadPartInput {
            bucket: "bkt".into(),
            key: "sealed".into(),
            upload_id: id.clone(),
            part_number: n,
            body: Some(body_then_late(
                bytes,
                &late,
                entries(&[("objseal-etag", &salt), ("objseal-note", "kept")]),
            )),
            ..Default::default()
        });
        r.extensions.insert(late);
        let out = store.upload_part(r).await.unwrap().output;
        assert_eq!(out.e_tag.unwrap().value(), salt);
        part_etags.push(salt);
    }
    let (parts, _) = list_parts(&store, "sealed", &id, None, None).await;
    assert_eq!(
        parts,
        [
            (1, 11, part_etags[0].clone()),
            (2, 6, part_etags[1].clone())
        ],
        "ListParts reports the named ETags and the stored sizes"
    );
    // A stale (MD5) ETag no longer matches the part.
    let stale = complete(
        &store,
        "sealed",
        &id,
        &[(1, &md5_hex(b"first part ")), (2, &part_etags[1])],
        None,
    )
    .await;
    assert_eq!(code(stale), S3ErrorCode::InvalidPart);

    let late = LateMetadata::new();
    late.set(entries(&[
        ("objseal-etag", "feedfacefeedfacefeedfacefeedface-2"),
        ("objseal-size", "3"),
    ]));
    let etag = complete(
        &store,
        "sealed",
        &id,
        &[(1, &part_etags[0]), (2, &part_etags[1])],
        Some(late),
    )
    .await
    .unwrap();
    assert_eq!(etag, "feedfacefeedfacefeedfacefeedface-2");
    let (got, out) = get(&store, "bkt", "sealed", None).await.unwrap();
    assert_eq!(got, b"first part second");
    assert_eq!(out.e_tag.unwrap().value(), etag);
    let listed = store
        .list_objects(req(ListObjectsInput {
            bucket: "bkt".into(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .output;
    let o = &listed.contents.unwrap()[0];
    assert_eq!(
        (o.size, o.e_tag.as_ref().unwrap().value()),
        (Some(3), etag.as_str())
    );
}

#[tokio::test]
async fn failed_body_stores_nothing() {
    let (_dir, store) = store().await;
    put(&store, "bkt", "kept", b"original").await;
    for key in ["kept", "fresh"] {
        let stream = futures::stream::iter(vec![
            Ok(Bytes::from(data(300_000, 9))),
            Err(s3s::s3_error!(BadDigest, "checksum mismatch")),
        ]);
        let late = LateMetadata::new();
        late.set([("objseal-x".to_owned(), "y".to_owned())].into());
        let mut r = req(PutObjectInput {
            bucket: "bkt".into(),
            key: key.into(),
            body: Some(StreamingBlob::wrap(stream)),
            ..Default::default()
        });
        r.extensions.insert(late);
        let err = store.put_object(r).await.unwrap_err();
        assert_eq!(err.code(), &S3ErrorCode::BadDigest);
        assert_eq!(err.message(), Some("checksum mismatch"));
    }
    assert_eq!(
        get(&store, "bkt", "kept", None).await.unwrap().0,
        b"original"
    );
    assert_eq!(
        code(head(&store, "bkt", "fresh").await),
        S3ErrorCode::NoSuchKey
    );
    let listed = list_all_v2(&store, "", None, 1000).await;
    assert_eq!(listed, ["K:kept"]);
    assert_eq!(tmp_entries(&store), 0);

    // A plain I/O error of the body is an incomplete body.
    let stream = futures::stream::iter(vec![
        Ok(Bytes::from_static(b"ab")),
        Err(io::Error::other("reset")),
    ]);
    let r = req(PutObjectInput {
        bucket: "bkt".into(),
        key: "fresh".into(),
        body: Some(StreamingBlob::wrap(stream)),
        ..Default::default()
    });
    assert_eq!(code(store.put_object(r).await), S3ErrorCode::IncompleteBody);
    assert_eq!(tmp_entries(&store), 0);

    // A failing part upload leaves no part behind.
    let upload_id = create_upload(&store, "mp").await;
    let stream = futures::stream::iter(vec![
        Ok(Bytes::from_static(b"ab")),
        Err(s3s::s3_error!(BadDigest)),
    ]);
    let r = req(UploadPartInput {
        bucket: "bkt".into(),
        key: "mp".into(),
        upload_id: upload_id.clone(),
        part_number: 1,
        body: Some(StreamingBlob::wrap(stream)),
        ..Default::default()
    });
    assert_eq!(code(store.upload_part(r).await), S3ErrorCode::BadDigest);
    assert!(
        list_parts(&store, "mp", &upload_id, None, None)
            .await
            .0
            .is_empty()
    );
    assert_eq!(tmp_entries(&store), 0);
}

async fn create_upload(store: &LocalStore, key: &str) -> String {
    store
        .create_multipart_upload(req(CreateMultipartUploadInput {
            bucket: "bkt".into(),
            key: key.into(),
            content_type: Some("text/plain".into()),
            metadata: Some([("from-create".to_owned(), "yes".to_owned())].into()),
            ..Default::default()
        }))
        .await
        .unwrap()
        .output
        .upload_id
        .unwrap()
}

async fn upload_part(
    store: &LocalStore,
    key: &str,
    upload_id: &str,
    n: i32,
    bytes: &[u8],
) -> S3Result<String> {
    Ok(store
        .upload_part(req(UploadPartInput {
            bucket: "bkt".into(),
            key: key.into(),
            upload_id: upload_id.into(),
            part_number: n,
            body: body(bytes),
            ..Default::default()
        }))
        .await?
        .output
        .e_tag
        .unwrap()
        .into_value())
}

/// (part number, size, etag) of one page, and the next marker when truncated.
async fn list_parts(
    store: &LocalStore,
    key: &str,
    upload_id: &str,
    max: Option<i32>,
    marker: Option<i32>,
) -> (Vec<(i32, i64, String)>, Option<i32>) {
    let out = store
        .list_parts(req(ListPartsInput {
            bucket: "bkt".into(),
            key: key.into(),
            upload_id: upload_id.into(),
            max_parts: max,
            part_number_marker: marker,
            ..Default::default()
        }))
        .await
        .unwrap()
        .output;
    let parts = out
        .parts
        .unwrap()
        .into_iter()
        .map(|p| {
            assert!(p.last_modified.is_some());
            (
                p.part_number.unwrap(),
                p.size.unwrap(),
                p.e_tag.unwrap().into_value(),
            )
        })
        .collect();
    let next = if out.is_truncated == Some(true) {
        out.next_part_number_marker
    } else {
        None
    };
    (parts, next)
}

fn completed(parts: &[(i32, &str)]) -> Option<CompletedMultipartUpload> {
    Some(CompletedMultipartUpload {
        parts: Some(
            parts
                .iter()
                .map(|(n, etag)| CompletedPart {
                    part_number: Some(*n),
                    e_tag: Some(ETag::Strong((*etag).to_owned())),
                    ..Default::default()
                })
                .collect(),
        ),
    })
}

async fn complete(
    store: &LocalStore,
    key: &str,
    upload_id: &str,
    parts: &[(i32, &str)],
    late: Option<LateMetadata>,
) -> S3Result<String> {
    let mut r = req(CompleteMultipartUploadInput {
        bucket: "bkt".into(),
        key: key.into(),
        upload_id: upload_id.into(),
        multipart_upload: completed(parts),
        ..Default::default()
    });
    if let Some(late) = late {
        r.extensions.insert(late);
    }
    Ok(store
        .complete_multipart_upload(r)
        .await?
        .output
        .e_tag
        .unwrap()
        .into_value())
}

#[tokio::test]
async fn multipart_upload() {
    let (dir, store) = store().await;
    let id = create_upload(&store, "multi/obj").await;
    assert!(id.bytes().all(|b| b.is_ascii_alphanumeric()));
    let p1 = data(300_000, 1);
    let p2_old = data(1000, 2);
    let p2 = data(200_000, 22);
    let p3 = data(12_345, 3);

    // Out of order, part 2 uploaded twice.
    let e3 = upload_part(&store, "multi/obj", &id, 3, &p3).await.unwrap();
    let e2_old = upload_part(&store, "multi/obj", &id, 2, &p2_old)
        .await
        .unwrap();
    let e1 = upload_part(&store, "multi/obj", &id, 1, &p1).await.unwrap();
    let e2 = upload_part(&store, "multi/obj", &id, 2, &p2).await.unwrap();
    assert_eq!(e1, md5_hex(&p1));
    assert_eq!(e2, md5_hex(&p2));
    assert_eq!(e2_old, md5_hex(&p2_old));
    assert_eq!(e3, md5_hex(&p3));

    // Bad part numbers, unknown uploads, a key that is not the upload's.
    assert_eq!(
        code(upload_part(&store, "multi/obj", &id, 0, b"x").await),
        S3ErrorCode::InvalidArgument
    );
    assert_eq!(
        code(upload_part(&store, "multi/obj", &id, 10_001, b"x").await),
        S3ErrorCode::InvalidArgument
    );
    assert_eq!(
        code(upload_part(&store, "multi/obj", "deadbeef", 1, b"x").await),
        S3ErrorCode::NoSuchUpload
    );
    assert_eq!(
        code(upload_part(&store, "multi/obj", "../x", 1, b"x").await),
        S3ErrorCode::NoSuchUpload
    );
    assert_eq!(
        code(upload_part(&store, "other", &id, 1, b"x").await),
        S3ErrorCode::NoSuchUpload
    );

    // ListParts, with pagination.
    let (all, next) = list_parts(&store, "multi/obj", &id, None, None).await;
    assert_eq!(
        all,
        [
            (1, 300_000, e1.clone()),
            (2, 200_000, e2.clone()),
            (3, 12_345, e3.clone())
        ]
    );
    assert_eq!(next, None);
    let (page, next) = list_parts(&store, "multi/obj", &id, Some(2), None).await;
    assert_eq!(page.len(), 2);
    assert_eq!(next, Some(2));
    let (page, next) = list_parts(&store, "multi/obj", &id, Some(2), Some(2)).await;
    assert_eq!(page, [(3, 12_345, e3.clone())]);
    assert_eq!(next, None);

    // ListMultipartUploads.
    let other = create_upload(&store, "multi/another").await;
    let uploads = store
        .list_multipart_uploads(req(ListMultipartUploadsInput {
            bucket: "bkt".into(),
            prefix: Some("multi/".into()),
            ..Default::default()
        }))
        .await
        .unwrap()
        .output;
    let listed: Vec<_> = uploads
        .uploads
        .unwrap()
        .into_iter()
        .map(|u| (u.key.unwrap(), u.upload_id.unwrap()))
        .collect();
    assert_eq!(
        listed,
        [
            ("multi/another".to_owned(), other.clone()),
            ("multi/obj".to_owned(), id.clone())
        ]
    );
    let page = store
        .list_multipart_uploads(req(ListMultipartUploadsInput {
            bucket: "bkt".into(),
            max_uploads: Some(1),
            ..Default::default()
        }))
        .await
        .unwrap()
        .output;
    assert_eq!(page.is_truncated, Some(true));
    assert_eq!(page.next_key_marker.as_deref(), Some("multi/another"));
    let page = store
        .list_multipart_uploads(req(ListMultipartUploadsInput {
            bucket: "bkt".into(),
            key_marker: page.next_key_marker,
            upload_id_marker: page.next_upload_id_marker,
            ..Default::default()
        }))
        .await
        .unwrap()
        .output;
    assert_eq!(
        page.uploads.unwrap()[0].upload_id.as_deref(),
        Some(id.as_str())
    );
    let page = store
        .list_multipart_uploads(req(ListMultipartUploadsInput {
            bucket: "bkt".into(),
            delimiter: Some("/".into()),
            ..Default::default()
        }))
        .await
        .unwrap()
        .output;
    assert!(page.uploads.unwrap().is_empty());
    assert_eq!(
        page.common_prefixes.unwrap()[0].prefix.as_deref(),
        Some("multi/")
    );

    // Completion errors: order, a stale ETag, a missing part, no parts.
    let order = complete(&store, "multi/obj", &id, &[(2, &e2), (1, &e1)], None).await;
    assert_eq!(code(order), S3ErrorCode::InvalidPartOrder);
    let dup = complete(&store, "multi/obj", &id, &[(1, &e1), (1, &e1)], None).await;
    assert_eq!(code(dup), S3ErrorCode::InvalidPartOrder);
    let stale = complete(
        &store,
        "multi/obj",
        &id,
        &[(1, &e1), (2, &e2_old), (3, &e3)],
        None,
    )
    .await;
    assert_eq!(code(stale), S3ErrorCode::InvalidPart);
    let missing = complete(&store, "multi/obj", &id, &[(1, &e1), (4, &e3)], None).await;
    assert_eq!(code(missing), S3ErrorCode::InvalidPart);
    let none = complete(&store, "multi/obj", &id, &[], None).await;
    assert_eq!(code(none), S3ErrorCode::MalformedXML);
    let unknown = complete(&store, "multi/obj", "abc", &[(1, &e1)], None).await;
    assert_eq!(code(unknown), S3ErrorCode::NoSuchUpload);

    // Restart in the middle: the upload and its parts survive.
    drop(store);
    let store = LocalStore::open(dir.path().join("store")).unwrap();

    let late = LateMetadata::new();
    late.set([("objseal-manifest".to_owned(), "m".to_owned())].into());
    let quoted_e1 = format!("\"{e1}\"");
    let etag = complete(
        &store,
        "multi/obj",
        &id,
        &[(1, &quoted_e1), (2, &e2), (3, &e3)],
        Some(late.clone()),
    )
    .await
    .unwrap();
    assert!(late.take().is_none());
    let mut md5s = Vec::new();
    for e in [&e1, &e2, &e3] {
        md5s.extend(hex::decode(e).unwrap());
    }
    assert_eq!(etag, format!("{}-3", md5_hex(&md5s)));

    let (got, out) = get(&store, "bkt", "multi/obj", None).await.unwrap();
    let whole: Vec<u8> = [p1.as_slice(), &p2, &p3].concat();
    assert_eq!(got, whole);
    assert_eq!(out.e_tag.unwrap().into_value(), etag);
    assert_eq!(out.content_type.as_deref(), Some("text/plain"));
    let m = out.metadata.unwrap();
    assert_eq!(m.get("from-create").map(String::as_str), Some("yes"));
    assert_eq!(m.get("objseal-manifest").map(String::as_str), Some("m"));
    let (got, _) = get(
        &store,
        "bkt",
        "multi/obj",
        Some(Range::Int {
            first: 299_990,
            last: Some(300_009),
        }),
    )
    .await
    .unwrap();
    assert_eq!(got, &whole[299_990..300_010]);

    // The upload is gone; the other one remains until aborted.
    let gone = store
        .list_parts(req(ListPartsInput {
            bucket: "bkt".into(),
            key: "multi/obj".into(),
            upload_id: id.clone(),
            ..Default::default()
        }))
        .await;
    assert_eq!(code(gone), S3ErrorCode::NoSuchUpload);
    assert!(!store.root().join("buckets/bkt/uploads").join(&id).exists());
    let abort = |upload_id: String| {
        req(AbortMultipartUploadInput {
            bucket: "bkt".into(),
            key: "multi/another".into(),
            upload_id,
            ..Default::default()
        })
    };
    store
        .abort_multipart_upload(abort(other.clone()))
        .await
        .unwrap();
    assert_eq!(
        code(store.abort_multipart_upload(abort(other)).await),
        S3ErrorCode::NoSuchUpload
    );
    assert_eq!(
        code(store.abort_multipart_upload(abort("zzz".into())).await),
        S3ErrorCode::NoSuchUpload
    );
    let listed = list_all_v2(&store, "multi/", None, 1000).await;
    assert_eq!(listed, ["K:multi/obj"]);
    assert_eq!(tmp_entries(&store), 0);
}

#[tokio::test]
async fn copy_and_delete_objects() {
    let (_dir, store) = store().await;
    create_bucket(&store, "dst").await;
    store
        .put_object(req(PutObjectInput {
            bucket: "bkt".into(),
            key: "src".into(),
            body: body(b"copy me"),
            content_type: Some("text/a".into()),
            metadata: Some([("m".to_owned(), "1".to_owned())].into()),
            ..Default::default()
        }))
        .await
        .unwrap();
    let copy = |bucket: &str, key: &str, directive: Option<&'static str>| {
        let mut input = CopyObjectInput::builder()
            .bucket(bucket.into())
            .key(key.into())
            .copy_source(CopySource::Bucket {
                bucket: "bkt".into(),
                key: "src".into(),
                version_id: None,
            })
            .build()
            .unwrap();
        input.metadata_directive = directive.map(MetadataDirective::from_static);
        input.content_type = Some("text/b".into());
        input.metadata = Some([("m".to_owned(), "2".to_owned())].into());
        req(input)
    };
    let out = store
        .copy_object(copy("dst", "c1", None))
        .await
        .unwrap()
        .output;
    assert_eq!(
        out.copy_object_result.unwrap().e_tag.unwrap().into_value(),
        md5_hex(b"copy me")
    );
    let (got, out) = get(&store, "dst", "c1", None).await.unwrap();
    assert_eq!(got, b"copy me");
    assert_eq!(out.content_type.as_deref(), Some("text/a"));
    assert_eq!(out.metadata.unwrap()["m"], "1");

    store
        .copy_object(copy("dst", "c2", Some(MetadataDirective::REPLACE)))
        .await
        .unwrap();
    let (got, out) = get(&store, "dst", "c2", None).await.unwrap();
    assert_eq!(got, b"copy me");
    assert_eq!(out.content_type.as_deref(), Some("text/b"));
    assert_eq!(out.metadata.unwrap()["m"], "2");

    assert_eq!(
        code(store.copy_object(copy("bkt", "src", None)).await),
        S3ErrorCode::InvalidRequest
    );
    store
        .copy_object(copy("bkt", "src", Some(MetadataDirective::REPLACE)))
        .await
        .unwrap();
    assert_eq!(get(&store, "bkt", "src", None).await.unwrap().0, b"copy me");

    // The layer's preconditions: the ETag, and a metadata entry of the version opened.
    let mut stale = copy("bkt", "c4", Some(MetadataDirective::REPLACE));
    stale.input.copy_source_if_match = Some(ETagCondition::ETag(ETag::Strong("0".repeat(32))));
    assert_eq!(
        code(store.copy_object(stale).await),
        S3ErrorCode::PreconditionFailed
    );
    for (value, ok) in [("1", false), ("2", true)] {
        let mut guarded = copy("bkt", "c5", Some(MetadataDirective::REPLACE));
        guarded
            .extensions
            .insert(crate::internal::CopySourceMetadataMatch {
                name: "m".into(),
                value: value.into(),
            });
        let result = store.copy_object(guarded).await;
        if ok {
            result.unwrap();
        } else {
            assert_eq!(code(result), S3ErrorCode::PreconditionFailed);
        }
    }

    let mut missing = copy("dst", "c3", None);
    missing.input.copy_source = CopySource::Bucket {
        bucket: "bkt".into(),
        key: "nope".into(),
        version_id: None,
    };
    assert_eq!(
        code(store.copy_object(missing).await),
        S3ErrorCode::NoSuchKey
    );

    let out = store
        .delete_objects(req(DeleteObjectsInput {
            bucket: "dst".into(),
            bypass_governance_retention: None,
            checksum_algorithm: None,
            delete: Delete {
                objects: ["c1", "c2", "never"]
                    .into_iter()
                    .map(|k| ObjectIdentifier {
                        key: k.into(),
                        ..Default::default()
                    })
                    .collect(),
                quiet: None,
            },
            expected_bucket_owner: None,
            mfa: None,
            request_payer: None,
        }))
        .await
        .unwrap()
        .output;
    assert_eq!(out.deleted.unwrap().len(), 3);
    assert!(out.errors.is_none());
    assert!(
        list_all_v2(&store, "", None, 1000)
            .await
            .contains(&"K:src".to_owned())
    );
    let dst_left = store
        .list_objects_v2(req(ListObjectsV2Input {
            bucket: "dst".into(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .output;
    assert_eq!(dst_left.key_count, Some(0));
}

#[tokio::test]
async fn reopen_cleans_tmp_and_skips_corrupt_files() {
    let (dir, store) = store().await;
    put(&store, "bkt", "good", b"fine").await;
    put(&store, "bkt", "bad", b"will be truncated").await;
    let root = store.root().to_owned();
    drop(store);

    // What a crash can leave: a partial temp file, a half-built bucket directory.
    std::fs::write(root.join("tmp/abandoned.tmp"), b"partial").unwrap();
    std::fs::create_dir_all(root.join("tmp/x.new/objects")).unwrap();
    // A damaged object file is skipped, not fatal.
    let (_, bad) = super::layout::object_paths(&root.join("buckets/bkt"), "bad");
    let len = std::fs::metadata(&bad).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&bad)
        .unwrap()
        .set_len(len - 3)
        .unwrap();

    let store = LocalStore::open(&root).unwrap();
    assert_eq!(tmp_entries(&store), 0);
    assert_eq!(get(&store, "bkt", "good", None).await.unwrap().0, b"fine");
    assert_eq!(list_all_v2(&store, "", None, 1000).await, ["K:good"]);
    assert_eq!(store.root(), root);
    drop(dir);
}

#[tokio::test]
async fn get_honours_if_match_against_the_version_it_opened() {
    let (_dir, store) = store().await;
    let v1 = put(&store, "bkt", "k", b"version one").await;
    let get_if = |etag: String| {
        store.get_object(req(GetObjectInput {
            bucket: "bkt".into(),
            key: "k".into(),
            if_match: Some(s3s::dto::ETagCondition::ETag(ETag::Strong(etag))),
            ..Default::default()
        }))
    };
    assert!(get_if(v1.clone()).await.is_ok());
    put(&store, "bkt", "k", b"version two").await;
    assert_eq!(code(get_if(v1).await), S3ErrorCode::PreconditionFailed);
}
