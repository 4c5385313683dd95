//! The scale-out gateway over a real Ceph RADOS Gateway (Ceph 16) on loopback: the gateway test
//! modules of `tests/gateway.rs` that hold for any S3 backend (`modes.rs`: every SSE mode written,
//! read whole and by ranges, headed, listed, the backend scanned for plaintext and keys, two
//! gateways reading each other's objects, objects of other tools; `policies.rs`: bucket policies
//! binding every gateway; `multipart.rs`: uploads across gateways; `listing.rs`: V1 pages past
//! the reserved prefix), run here with RGW as the fleet's backend ([`start_site`]), and tests of
//! copies, deletes and bucket default encryption over RGW.
//!
//! Skips (loudly) without the Ceph packages (`scripts/apt-ceph`); fails instead under
//! `OBJSEAL_REQUIRE_PEERS=1`. One cluster serves the whole binary (tests keep apart by bucket).
//!
//! ```sh
//! OBJSEAL_REQUIRE_PEERS=1 cargo test -p objseal-server --test gateway_ceph
//! ```

mod common_ceph;

#[allow(dead_code)]
#[path = "gateway/harness.rs"]
mod harness;
#[path = "gateway/listing.rs"]
mod listing;
#[path = "gateway/modes.rs"]
mod modes;
#[path = "gateway/multipart.rs"]
mod multipart;
#[path = "gateway/policies.rs"]
mod policies;

use aws_sdk_s3::types::{
    Delete, MetadataDirective, ObjectIdentifier, ServerSideEncryption,
    ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
};
use common_ceph::CephRgw;
use harness::*;

/// This binary's backend: the shared RGW cluster (`None` without Ceph).
fn start_site() -> Option<Site> {
    let rgw = CephRgw::start()?;
    Some(Site {
        endpoint: rgw.endpoint().to_owned(),
        access_key_id: rgw.access_key_id().to_owned(),
        secret_access_key: rgw.secret_access_key().to_owned(),
        keep: Box::new(rgw),
    })
}

/// Every backend object of `bucket` but those in `plain` (stored as sent, by design) holds
/// neither [`MARKER`] nor the customer key, in its body or its metadata.
async fn assert_no_secrets(fleet: &Fleet, bucket: &str, plain: &[&str]) -> usize {
    let (key_b64, _) = customer();
    let key_hex = hex::encode(CUSTOMER_KEY);
    let secrets: [&[u8]; 4] = [
        MARKER,
        &CUSTOMER_KEY,
        key_b64.as_bytes(),
        key_hex.as_bytes(),
    ];
    let objects = backend_objects(&fleet.backend_client(), bucket).await;
    for (key, body, meta) in &objects {
        let meta_text: String = meta.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
        for secret in secrets {
            assert!(
                !contains(meta_text.as_bytes(), secret),
                "{key}: a secret in the metadata"
            );
            if !plain.contains(&key.as_str()) {
                assert!(!contains(body, secret), "{key}: a secret in the body");
            }
        }
    }
    objects.len()
}

/// Copies across modes and onto themselves, deletes (one, several), a listing that hides the
/// gateway's sidecars; then the backend holds no plaintext of an encrypted object and no key.
#[tokio::test]
async fn copies_and_deletes_over_rgw() {
    let Some(fleet) = Fleet::start().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let gw = fleet.gateway(dir.path()).await;
    let c = client_of(&gw);
    let bucket = common_ceph::bucket_name("gw-copies");
    let b = bucket.as_str();
    c.create_bucket().bucket(b).send().await.unwrap();
    let data = plaintext(150_000, 7);
    for (key, mode) in [
        ("src-s3", Mode::SseS3),
        ("src-kms", Mode::SseKms),
        ("src-c", Mode::SseC),
    ] {
        put(&c, b, key, mode, &data).await;
        check_reads(&c, b, key, mode, &data).await;
    }
    let (k, md5) = customer();
    // SSE-S3 → SSE-KMS, SSE-C → none, SSE-KMS → SSE-C.
    c.copy_object()
        .bucket(b)
        .key("to-kms")
        .copy_source(format!("{b}/src-s3"))
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .send()
        .await
        .unwrap();
    check_reads(&c, b, "to-kms", Mode::SseKms, &data).await;
    c.copy_object()
        .bucket(b)
        .key("to-none")
        .copy_source(format!("{b}/src-c"))
        .copy_source_sse_customer_algorithm("AES256")
        .copy_source_sse_customer_key(&k)
        .copy_source_sse_customer_key_md5(&md5)
        .send()
        .await
        .unwrap();
    check_reads(&c, b, "to-none", Mode::None, &data).await;
    c.copy_object()
        .bucket(b)
        .key("to-c")
        .copy_source(format!("{b}/src-kms"))
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&k)
        .sse_customer_key_md5(&md5)
        .send()
        .await
        .unwrap();
    check_reads(&c, b, "to-c", Mode::SseC, &data).await;
    // A metadata-only copy onto itself: the backend copies the ciphertext under new metadata.
    c.copy_object()
        .bucket(b)
        .key("src-s3")
        .copy_source(format!("{b}/src-s3"))
        .server_side_encryption(ServerSideEncryption::Aes256)
        .metadata_directive(MetadataDirective::Replace)
        .metadata("colour", "green")
        .send()
        .await
        .unwrap();
    let h = head(&c, b, "src-s3", Mode::SseS3).await;
    assert_eq!(
        h.metadata()
            .and_then(|m| m.get("colour"))
            .map(String::as_str),
        Some("green")
    );
    assert_eq!(h.content_length(), Some(data.len() as i64));
    check_reads(&c, b, "src-s3", Mode::SseS3, &data).await;

    // A bucket policy's sidecar is hidden from listings.
    c.put_bucket_policy()
        .bucket(b)
        .policy(DENY_UNLESS_KMS.replace("BUCKET", b))
        .send()
        .await
        .unwrap();
    let listed = c.list_objects_v2().bucket(b).send().await.unwrap();
    let keys: Vec<_> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(
        keys,
        ["src-c", "src-kms", "src-s3", "to-c", "to-kms", "to-none"]
    );
    assert!(
        listed
            .contents()
            .iter()
            .all(|o| o.size() == Some(data.len() as i64))
    );
    assert_eq!(
        assert_no_secrets(&fleet, b, &["to-none"]).await,
        7,
        "six objects and the sidecar"
    );

    c.delete_object()
        .bucket(b)
        .key("to-c")
        .send()
        .await
        .unwrap();
    let (_, status) = refusal(c.head_object().bucket(b).key("to-c").send().await);
    assert_eq!(status, 404);
    let out = c
        .delete_objects()
        .bucket(b)
        .delete(
            Delete::builder()
                .set_objects(Some(
                    ["src-c", "src-kms", "src-s3", "to-kms", "to-none"]
                        .iter()
                        .map(|k| ObjectIdentifier::builder().key(*k).build().unwrap())
                        .collect(),
                ))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert!(out.errors().is_empty(), "{:?}", out.errors());
    let listed = c.list_objects_v2().bucket(b).send().await.unwrap();
    assert!(listed.contents().is_empty());
    // Only the sidecar is left: the bucket deletes.
    c.delete_bucket().bucket(b).send().await.unwrap();
    gw.shutdown().await.unwrap();
}

/// A bucket's default encryption, set through one gateway, is kept in the backend (not as RGW's
/// own bucket encryption): a second gateway applies it to writes that name no encryption.
#[tokio::test]
async fn bucket_default_encryption_is_kept_in_rgw() {
    let Some(fleet) = Fleet::start().await else {
        return;
    };
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = fleet.gateway(da.path()).await;
    let ca = client_of(&a);
    let bucket = common_ceph::bucket_name("gw-default");
    let b = bucket.as_str();
    ca.create_bucket().bucket(b).send().await.unwrap();
    let rule = ServerSideEncryptionRule::builder()
        .apply_server_side_encryption_by_default(
            ServerSideEncryptionByDefault::builder()
                .sse_algorithm(ServerSideEncryption::AwsKms)
                .build()
                .unwrap(),
        )
        .build();
    ca.put_bucket_encryption()
        .bucket(b)
        .server_side_encryption_configuration(
            ServerSideEncryptionConfiguration::builder()
                .rules(rule)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    a.shutdown().await.unwrap();

    let gb = fleet.gateway(db.path()).await;
    let cb = client_of(&gb);
    let got = cb.get_bucket_encryption().bucket(b).send().await.unwrap();
    let rules = got.server_side_encryption_configuration().unwrap().rules();
    assert_eq!(
        rules[0]
            .apply_server_side_encryption_by_default()
            .unwrap()
            .sse_algorithm(),
        &ServerSideEncryption::AwsKms
    );
    let data = plaintext(90_000, 3);
    put(&cb, b, "defaulted", Mode::None, &data).await;
    let h = head(&cb, b, "defaulted", Mode::None).await;
    assert_eq!(
        h.server_side_encryption(),
        Some(&ServerSideEncryption::AwsKms)
    );
    check_reads(&cb, b, "defaulted", Mode::None, &data).await;
    // Kept as the gateway's sidecar, not as RGW's own configuration.
    let direct = fleet.backend_client();
    direct
        .head_object()
        .bucket(b)
        .key(objseal_server::store::remote::BUCKET_CONFIG_KEY)
        .send()
        .await
        .unwrap();
    assert!(
        direct
            .get_bucket_encryption()
            .bucket(b)
            .send()
            .await
            .is_err()
    );
    assert_eq!(assert_no_secrets(&fleet, b, &[]).await, 2);
    gb.shutdown().await.unwrap();
}
