//! Bucket policies bind every gateway on a backend: each reads them from the backend (trusting
//! what it read for at most `SHARED_POLICY_TTL`), so a `Deny` set or deleted through one gateway
//! is enforced by the others within that time; a stored policy that does not parse refuses
//! everything (fail closed); and nothing is read at start.

use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{Delete, ObjectIdentifier};
use objseal_server::sse::SHARED_POLICY_TTL;
use objseal_server::store::remote::BUCKET_CONFIG_KEY;

use crate::harness::*;

const DENY_READS_AND_DELETES: &str = r#"{"Version": "2012-10-17", "Statement": [
  {"Sid": "NoReads", "Effect": "Deny", "Principal": "*",
   "Action": ["s3:GetObject", "s3:DeleteObject"], "Resource": "arn:aws:s3:::BUCKET/*"}]}"#;

/// Waits out the time a gateway may trust what it read.
async fn past_the_ttl() {
    tokio::time::sleep(SHARED_POLICY_TTL + Duration::from_millis(150)).await;
}

async fn read_status(c: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Result<(), (String, u16)> {
    match c.get_object().bucket(bucket).key(key).send().await {
        Ok(_) => Ok(()),
        Err(e) => Err(refusal::<_, ()>(Err(e))),
    }
}

#[tokio::test]
async fn a_policy_set_through_one_gateway_binds_the_other_within_the_ttl() {
    let Some(fleet) = Fleet::start().await else {
        return;
    };
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = fleet.gateway(da.path()).await;
    let b = fleet.gateway(db.path()).await;
    let (ca, cb) = (client_of(&a), client_of(&b));
    let bucket = "policed";
    ca.create_bucket().bucket(bucket).send().await.unwrap();
    for key in ["one", "two", "three"] {
        put(&ca, bucket, key, Mode::SseS3, b"secret").await;
    }
    // B reads the bucket (and learns it has no policy).
    read_status(&cb, bucket, "one").await.unwrap();

    let set_at = Instant::now();
    ca.put_bucket_policy()
        .bucket(bucket)
        .policy(DENY_READS_AND_DELETES.replace("BUCKET", bucket))
        .send()
        .await
        .unwrap();
    // A knows at once; B within the TTL.
    assert_eq!(
        read_status(&ca, bucket, "one").await,
        Err(("AccessDenied".into(), 403))
    );
    loop {
        match read_status(&cb, bucket, "one").await {
            Err(refused) => {
                assert_eq!(refused, ("AccessDenied".into(), 403));
                break;
            }
            Ok(()) => {
                assert!(
                    set_at.elapsed() < SHARED_POLICY_TTL + Duration::from_millis(500),
                    "B still reads {:?} after the Deny was set",
                    set_at.elapsed()
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    // The keys a DeleteObjects names are checked against the same policy (per key).
    let out = cb
        .delete_objects()
        .bucket(bucket)
        .delete(
            Delete::builder()
                .objects(ObjectIdentifier::builder().key("two").build().unwrap())
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(out.errors().len(), 1);
    assert_eq!(out.errors()[0].code(), Some("AccessDenied"));
    // B reports the policy A set.
    let got = cb.get_bucket_policy().bucket(bucket).send().await.unwrap();
    assert!(got.policy().unwrap().contains("NoReads"));

    // Deleted through B: A reads again within the TTL.
    let deleted_at = Instant::now();
    cb.delete_bucket_policy()
        .bucket(bucket)
        .send()
        .await
        .unwrap();
    read_status(&cb, bucket, "one").await.unwrap();
    loop {
        match read_status(&ca, bucket, "one").await {
            Ok(()) => break,
            Err(refused) => {
                assert_eq!(refused, ("AccessDenied".into(), 403));
                assert!(
                    deleted_at.elapsed() < SHARED_POLICY_TTL + Duration::from_millis(500),
                    "A still refuses {:?} after the Deny was deleted",
                    deleted_at.elapsed()
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    a.shutdown().await.unwrap();
    b.shutdown().await.unwrap();
}

/// A policy in the backend that does not parse (written past the gateways) refuses every request
/// to its bucket, except the bucket-policy calls of the admins, who replace it.
#[tokio::test]
async fn a_stored_policy_that_does_not_parse_fails_closed() {
    let Some(fleet) = Fleet::start().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let gw = fleet.gateway(dir.path()).await;
    let c = client_of(&gw);
    let bucket = "broken-policy";
    c.create_bucket().bucket(bucket).send().await.unwrap();
    put(&c, bucket, "k", Mode::None, b"data").await;
    c.put_bucket_policy()
        .bucket(bucket)
        .policy(DENY_UNLESS_KMS.replace("BUCKET", bucket))
        .send()
        .await
        .unwrap();

    // Damage the stored policy straight in the backend.
    let direct = fleet.backend_client();
    let sidecar = bytes(
        direct
            .get_object()
            .bucket(bucket)
            .key(BUCKET_CONFIG_KEY)
            .send()
            .await
            .unwrap(),
    )
    .await;
    // (The sidecar is `{"mac": …, "body": <the configuration>}`: changed, it also fails
    // authentication, which the gateway refuses alike — see forgery.rs.)
    let mut config: serde_json::Value = serde_json::from_slice(&sidecar).unwrap();
    config["body"]["policy"] = serde_json::Value::String("{\"Statement\": [ not json".into());
    direct
        .put_object()
        .bucket(bucket)
        .key(BUCKET_CONFIG_KEY)
        .body(ByteStream::from(serde_json::to_vec(&config).unwrap()))
        .send()
        .await
        .unwrap();
    past_the_ttl().await;

    assert_eq!(
        read_status(&c, bucket, "k").await,
        Err(("AccessDenied".into(), 403))
    );
    let (code, status) = refusal(c.list_objects_v2().bucket(bucket).send().await);
    assert_eq!((code.as_str(), status), ("AccessDenied", 403));
    // A gateway started now starts (nothing is read at start), and refuses alike.
    let dir2 = tempfile::tempdir().unwrap();
    let fresh = fleet.gateway(dir2.path()).await;
    assert_eq!(
        read_status(&client_of(&fresh), bucket, "k").await,
        Err(("AccessDenied".into(), 403))
    );
    // Other buckets are served.
    c.create_bucket().bucket("unaffected").send().await.unwrap();
    put(&c, "unaffected", "k", Mode::SseS3, b"fine").await;

    // The admins replace it.
    c.delete_bucket_policy()
        .bucket(bucket)
        .send()
        .await
        .unwrap();
    read_status(&c, bucket, "k").await.unwrap();
    past_the_ttl().await;
    read_status(&client_of(&fresh), bucket, "k").await.unwrap();
    gw.shutdown().await.unwrap();
    fresh.shutdown().await.unwrap();
}

/// A bucket whose configuration sidecar cannot be read does not stop a gateway from starting:
/// policies are read when a request needs them.
#[tokio::test]
async fn a_gateway_starts_whatever_the_buckets_hold() {
    let Some(fleet) = Fleet::start().await else {
        return;
    };
    let direct = fleet.backend_client();
    direct
        .create_bucket()
        .bucket("garbled")
        .send()
        .await
        .unwrap();
    direct
        .put_object()
        .bucket("garbled")
        .key(BUCKET_CONFIG_KEY)
        .body(ByteStream::from_static(b"this is not json"))
        .send()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gw = fleet.gateway(dir.path()).await;
    let c = client_of(&gw);
    c.create_bucket().bucket("fine").send().await.unwrap();
    put(&c, "fine", "k", Mode::SseKms, b"ok").await;
    // The garbled bucket: its configuration fails authentication, so nothing is allowed there.
    let (code, status) = refusal(c.get_object().bucket("garbled").key("x").send().await);
    assert_eq!((code.as_str(), status), ("AccessDenied", 403));
    gw.shutdown().await.unwrap();
}
