//! The Ceph RADOS Gateway harness (`tests/common_ceph`) proven against a real RGW: a one-node Ceph
//! cluster on loopback, driven by the AWS SDK for Rust the way the gateway's backend client will
//! drive it. Skips (loudly) without the Ceph packages (`scripts/apt-ceph`); fails instead under
//! `OBJSEAL_REQUIRE_PEERS=1`.
//!
//! ```sh
//! scripts/apt-ceph
//! OBJSEAL_REQUIRE_PEERS=1 cargo test -p objseal-server --test ceph_rgw
//! ```

mod common_ceph;

use std::collections::HashMap;
use std::net::TcpStream;
use std::time::Duration;

use aws_sdk_s3::Client;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, Delete, ObjectIdentifier};
use common_ceph::{CephRgw, bucket_name};
use md5::{Digest as _, Md5};

/// Deterministic pseudo-random bytes.
fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn md5_hex(b: &[u8]) -> String {
    hex::encode(Md5::digest(b))
}

fn unquote(etag: Option<&str>) -> String {
    etag.unwrap_or_default().trim_matches('"').to_owned()
}

async fn get_bytes(client: &Client, bucket: &str, key: &str, range: Option<&str>) -> Vec<u8> {
    let out = client
        .get_object()
        .bucket(bucket)
        .key(key)
        .set_range(range.map(str::to_owned))
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {key} {range:?}: {e:?}"));
    out.body.collect().await.unwrap().into_bytes().to_vec()
}

/// Deletes every object of `bucket`, then the bucket.
async fn remove_bucket(client: &Client, bucket: &str) {
    let listed = client
        .list_objects_v2()
        .bucket(bucket)
        .send()
        .await
        .unwrap();
    let ids: Vec<ObjectIdentifier> = listed
        .contents()
        .iter()
        .map(|o| {
            ObjectIdentifier::builder()
                .key(o.key().unwrap())
                .build()
                .unwrap()
        })
        .collect();
    if !ids.is_empty() {
        let out = client
            .delete_objects()
            .bucket(bucket)
            .delete(Delete::builder().set_objects(Some(ids)).build().unwrap())
            .send()
            .await
            .unwrap();
        assert!(out.errors().is_empty(), "{:?}", out.errors());
    }
    client.delete_bucket().bucket(bucket).send().await.unwrap();
}

/// User metadata of exactly `total` bytes as S3 counts them (the UTF-8 bytes of every name and
/// value, without `x-amz-meta-`): shaped like what the gateway will store — a base64 header and a
/// few base64 wrapped keys — with `+`, `/` and `=` in the values.
fn metadata_of_size(total: usize) -> HashMap<String, String> {
    const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let value = |len: usize, seed: u64| -> String {
        let mut v: String = data(len, seed)
            .iter()
            .map(|b| B64[usize::from(*b) % 64] as char)
            .collect();
        if len >= 2 {
            v.replace_range(len - 2.., "==");
        }
        v
    };
    let mut meta = HashMap::new();
    let mut used = 0;
    meta.insert("objseal-h".to_owned(), value(140, 1));
    used += "objseal-h".len() + 140;
    for i in 0..3 {
        let name = format!("objseal-k{i}");
        used += name.len() + 400;
        meta.insert(name, value(400, 2 + i));
    }
    let name = "objseal-pad".to_owned();
    let rest = total - used - name.len();
    meta.insert(name, value(rest, 9));
    let size: usize = meta.iter().map(|(k, v)| k.len() + v.len()).sum();
    assert_eq!(size, total);
    meta
}

#[tokio::test]
async fn put_get_range_list_delete_with_user_metadata() {
    let Some(rgw) = CephRgw::start() else { return };
    let client = rgw.client();
    let bucket = bucket_name("smoke");

    client.create_bucket().bucket(&bucket).send().await.unwrap();
    let buckets = client.list_buckets().send().await.unwrap();
    assert!(
        buckets
            .buckets()
            .iter()
            .any(|b| b.name() == Some(bucket.as_str())),
        "{buckets:?}"
    );

    let body = data(100_000, 7);
    let meta: HashMap<String, String> = [("color", "blue"), ("x-num", "42")]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let put = client
        .put_object()
        .bucket(&bucket)
        .key("dir/hello.bin")
        .content_type("application/octet-stream")
        .set_metadata(Some(meta.clone()))
        .body(ByteStream::from(body.clone()))
        .send()
        .await
        .unwrap();
    assert_eq!(unquote(put.e_tag()), md5_hex(&body));

    let head = client
        .head_object()
        .bucket(&bucket)
        .key("dir/hello.bin")
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_length(), Some(body.len() as i64));
    assert_eq!(head.content_type(), Some("application/octet-stream"));
    assert_eq!(head.metadata(), Some(&meta));

    let got = client
        .get_object()
        .bucket(&bucket)
        .key("dir/hello.bin")
        .send()
        .await
        .unwrap();
    assert_eq!(got.metadata(), Some(&meta));
    assert_eq!(unquote(got.e_tag()), md5_hex(&body));
    let whole = got.body.collect().await.unwrap().into_bytes();
    assert_eq!(&whole[..], &body[..]);

    // Ranged reads: inside, suffix, open-ended; Content-Range as S3 gives it.
    let n = body.len();
    let ranged = client
        .get_object()
        .bucket(&bucket)
        .key("dir/hello.bin")
        .range("bytes=10-19")
        .send()
        .await
        .unwrap();
    assert_eq!(
        ranged.content_range(),
        Some(format!("bytes 10-19/{n}").as_str())
    );
    assert_eq!(ranged.content_length(), Some(10));
    let part = ranged.body.collect().await.unwrap().into_bytes();
    assert_eq!(&part[..], &body[10..20]);
    assert_eq!(
        get_bytes(&client, &bucket, "dir/hello.bin", Some("bytes=-5")).await,
        &body[n - 5..]
    );
    assert_eq!(
        get_bytes(&client, &bucket, "dir/hello.bin", Some("bytes=65530-")).await,
        &body[65530..]
    );

    // Listing: prefix, delimiter, pagination.
    for i in 0..5u64 {
        let key = format!("dir/sub{}/f{i}", i % 2);
        client
            .put_object()
            .bucket(&bucket)
            .key(&key)
            .body(ByteStream::from(data(i as usize, i)))
            .send()
            .await
            .unwrap();
    }
    let listed = client
        .list_objects_v2()
        .bucket(&bucket)
        .prefix("dir/")
        .delimiter("/")
        .send()
        .await
        .unwrap();
    let prefixes: Vec<&str> = listed
        .common_prefixes()
        .iter()
        .filter_map(|p| p.prefix())
        .collect();
    assert_eq!(prefixes, ["dir/sub0/", "dir/sub1/"]);
    let keys: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["dir/hello.bin"]);
    assert_eq!(listed.contents()[0].size(), Some(n as i64));
    let mut all = Vec::new();
    let mut token = None;
    loop {
        let page = client
            .list_objects_v2()
            .bucket(&bucket)
            .max_keys(2)
            .set_continuation_token(token.take())
            .send()
            .await
            .unwrap();
        all.extend(
            page.contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_owned)),
        );
        if page.is_truncated() != Some(true) {
            break;
        }
        token = page.next_continuation_token().map(str::to_owned);
    }
    assert_eq!(all.len(), 6, "{all:?}");
    assert!(all.is_sorted(), "{all:?}");

    // Delete: the object is gone, for GET and for listings.
    client
        .delete_object()
        .bucket(&bucket)
        .key("dir/hello.bin")
        .send()
        .await
        .unwrap();
    let err = client
        .get_object()
        .bucket(&bucket)
        .key("dir/hello.bin")
        .send()
        .await
        .expect_err("GET of a deleted object");
    assert_eq!(err.code(), Some("NoSuchKey"), "{err:?}");
    let listed = client
        .list_objects_v2()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.key_count(), Some(5));

    remove_bucket(&client, &bucket).await;
    let err = client
        .head_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect_err("HEAD of a deleted bucket");
    assert!(
        err.raw_response()
            .is_some_and(|r| r.status().as_u16() == 404),
        "{err:?}"
    );
}

/// AWS allows 2 KB of user metadata; the gateway keeps its header and wrapped keys there, so
/// metadata of about that size must come back byte for byte — on PUT, copy and multipart (where S3
/// fixes the metadata at CreateMultipartUpload). RGW 16 itself accepts much more (up to its
/// frontend's request-header limit, about 15 KB of values): it is no reference for the limit.
#[tokio::test]
async fn user_metadata_of_2_kb_round_trips() {
    let Some(rgw) = CephRgw::start() else { return };
    let client = rgw.client();
    let bucket = bucket_name("meta");
    client.create_bucket().bucket(&bucket).send().await.unwrap();

    for total in [2000, 2048] {
        let meta = metadata_of_size(total);
        let key = format!("single-{total}");
        let body = data(3000, total as u64);
        client
            .put_object()
            .bucket(&bucket)
            .key(&key)
            .set_metadata(Some(meta.clone()))
            .body(ByteStream::from(body.clone()))
            .send()
            .await
            .unwrap_or_else(|e| panic!("PUT with {total} B of metadata: {e:?}"));
        let head = client
            .head_object()
            .bucket(&bucket)
            .key(&key)
            .send()
            .await
            .unwrap();
        assert_eq!(head.metadata(), Some(&meta), "{total} B, HEAD");
        let got = client
            .get_object()
            .bucket(&bucket)
            .key(&key)
            .send()
            .await
            .unwrap();
        assert_eq!(got.metadata(), Some(&meta), "{total} B, GET");
        assert_eq!(
            &got.body.collect().await.unwrap().into_bytes()[..],
            &body[..]
        );

        // A copy keeps the metadata (directive COPY, the default).
        let copy = format!("copy-{total}");
        client
            .copy_object()
            .bucket(&bucket)
            .key(&copy)
            .copy_source(format!("{bucket}/{key}"))
            .send()
            .await
            .unwrap();
        let head = client
            .head_object()
            .bucket(&bucket)
            .key(&copy)
            .send()
            .await
            .unwrap();
        assert_eq!(head.metadata(), Some(&meta), "{total} B, copy");
    }

    // Multipart: metadata given at CreateMultipartUpload, parts uploaded without a checksum
    // trailer (RGW 16 refuses aws-chunked trailers), a ranged read across the part boundary.
    let meta = metadata_of_size(2048);
    let key = "multipart-2048";
    let part1 = data(5 * 1024 * 1024, 11);
    let part2 = data(70_000, 12);
    let created = client
        .create_multipart_upload()
        .bucket(&bucket)
        .key(key)
        .set_metadata(Some(meta.clone()))
        .send()
        .await
        .unwrap();
    let upload_id = created.upload_id().unwrap();
    let mut parts = Vec::new();
    for (number, body) in [(1, &part1), (2, &part2)] {
        let out = client
            .upload_part()
            .bucket(&bucket)
            .key(key)
            .upload_id(upload_id)
            .part_number(number)
            .body(ByteStream::from(body.clone()))
            .send()
            .await
            .unwrap_or_else(|e| panic!("UploadPart {number}: {e:?}"));
        assert_eq!(unquote(out.e_tag()), md5_hex(body));
        parts.push(
            CompletedPart::builder()
                .part_number(number)
                .set_e_tag(out.e_tag().map(str::to_owned))
                .build(),
        );
    }
    let done = client
        .complete_multipart_upload()
        .bucket(&bucket)
        .key(key)
        .upload_id(upload_id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .send()
        .await
        .unwrap();
    let head = client
        .head_object()
        .bucket(&bucket)
        .key(key)
        .send()
        .await
        .unwrap();
    assert_eq!(head.metadata(), Some(&meta), "multipart");
    // S3's multipart ETag: the MD5 of the parts' MD5s, then "-<parts>". RGW 16.2.15 answers
    // CompleteMultipartUpload with an empty <ETag></ETag> (Red Hat BZ 2266579); HEAD has it right.
    let mut md5s = Md5::digest(&part1).to_vec();
    md5s.extend_from_slice(&Md5::digest(&part2));
    let multipart_etag = format!("{}-2", md5_hex(&md5s));
    assert_eq!(unquote(head.e_tag()), multipart_etag);
    let completed = unquote(done.e_tag());
    assert!(
        completed.is_empty() || completed == multipart_etag,
        "{done:?}"
    );
    assert_eq!(
        head.content_length(),
        Some((part1.len() + part2.len()) as i64)
    );
    let at = part1.len() - 10;
    let across = get_bytes(
        &client,
        &bucket,
        key,
        Some(&format!("bytes={at}-{}", at + 19)),
    )
    .await;
    let mut expected = part1[at..].to_vec();
    expected.extend_from_slice(&part2[..10]);
    assert_eq!(across, expected);

    // What RGW does past AWS's limit, for whoever designs around it (printed, not asserted).
    let big = metadata_of_size(4096);
    let outcome = client
        .put_object()
        .bucket(&bucket)
        .key("over-2kb")
        .set_metadata(Some(big))
        .body(ByteStream::from_static(b"x"))
        .send()
        .await;
    eprintln!(
        "note: RGW {} 4 KB of user metadata (AWS refuses over 2 KB)",
        if outcome.is_ok() {
            "accepts"
        } else {
            "refuses"
        }
    );

    remove_bucket(&client, &bucket).await;
}

/// Tests of one binary run in parallel: simultaneous starts get one cluster, which answers.
#[test]
fn concurrent_starts_share_one_cluster() {
    let Some(first) = CephRgw::start() else {
        return;
    };
    let others: Vec<CephRgw> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| s.spawn(|| CephRgw::start().expect("started above")))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for other in &others {
        assert!(first.same_cluster(other));
        assert_eq!(first.endpoint(), other.endpoint());
    }
    let addr = first.endpoint().trim_start_matches("http://");
    TcpStream::connect_timeout(&addr.parse().unwrap(), Duration::from_secs(5))
        .expect("RGW accepts connections");
}

/// A private cluster has its own directory and port, and is gone once its handle drops.
#[tokio::test]
async fn private_cluster_stops_on_drop() {
    let Some(shared) = CephRgw::start() else {
        return;
    };
    let private = CephRgw::start_private().expect("Ceph is installed");
    assert!(!private.same_cluster(&shared));
    assert_ne!(private.endpoint(), shared.endpoint());
    assert_ne!(private.dir(), shared.dir());

    let client = private.client();
    let bucket = bucket_name("private");
    client.create_bucket().bucket(&bucket).send().await.unwrap();
    client
        .put_object()
        .bucket(&bucket)
        .key("k")
        .body(ByteStream::from_static(b"private"))
        .send()
        .await
        .unwrap();
    assert_eq!(get_bytes(&client, &bucket, "k", None).await, b"private");
    // The shared cluster does not see the private one's bucket.
    let err = shared
        .client()
        .head_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect_err("bucket of another cluster");
    assert!(
        err.raw_response()
            .is_some_and(|r| r.status().as_u16() == 404),
        "{err:?}"
    );

    let dir = private.dir().to_owned();
    let addr: std::net::SocketAddr = private
        .endpoint()
        .trim_start_matches("http://")
        .parse()
        .unwrap();
    drop(private);
    assert!(!dir.exists(), "stop.sh removes {}", dir.display());
    assert!(
        TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_err(),
        "nothing listens on {addr} after the drop"
    );
}
