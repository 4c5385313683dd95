//! Bucket configuration kept in the backend: across restarts and concurrent gateways.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BlockedEncryptionTypes, EncryptionType, ServerSideEncryption, ServerSideEncryptionByDefault,
    ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
};

use crate::harness::*;

/// Default encryption, blocked SSE-C and a bucket policy, set through one gateway, hold for a
/// gateway started afterwards with a fresh data directory: the state is in the backend.
#[tokio::test]
async fn bucket_configuration_lives_in_the_backend() {
    let Some(fleet) = Fleet::start().await else {
        return;
    };
    let first = tempfile::tempdir().unwrap();
    let gw = fleet.gateway(first.path()).await;
    let c = client_of(&gw);
    c.create_bucket().bucket("conf").send().await.unwrap();
    c.create_bucket().bucket("pol").send().await.unwrap();
    let rule = ServerSideEncryptionRule::builder()
        .apply_server_side_encryption_by_default(
            ServerSideEncryptionByDefault::builder()
                .sse_algorithm(ServerSideEncryption::Aes256)
                .build()
                .unwrap(),
        )
        .blocked_encryption_types(
            BlockedEncryptionTypes::builder()
                .encryption_type(EncryptionType::SseC)
                .build(),
        )
        .build();
    c.put_bucket_encryption()
        .bucket("conf")
        .server_side_encryption_configuration(
            ServerSideEncryptionConfiguration::builder()
                .rules(rule)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let policy = DENY_UNLESS_KMS.replace("BUCKET", "pol");
    c.put_bucket_policy()
        .bucket("pol")
        .policy(&policy)
        .send()
        .await
        .unwrap();
    gw.shutdown().await.unwrap();

    let second = tempfile::tempdir().unwrap();
    let gw = fleet.gateway(second.path()).await;
    let c = client_of(&gw);
    let got = c
        .get_bucket_encryption()
        .bucket("conf")
        .send()
        .await
        .unwrap();
    let rule = &got.server_side_encryption_configuration().unwrap().rules()[0];
    assert_eq!(
        rule.apply_server_side_encryption_by_default()
            .map(|d| d.sse_algorithm().clone()),
        Some(ServerSideEncryption::Aes256)
    );
    assert_eq!(
        rule.blocked_encryption_types()
            .map(|b| b.encryption_type().to_vec()),
        Some(vec![EncryptionType::SseC])
    );
    // The default applies, and SSE-C is blocked.
    let data = plaintext(20_000, 3);
    put(&c, "conf", "defaulted", Mode::None, &data).await;
    let h = head(&c, "conf", "defaulted", Mode::None).await;
    assert_eq!(
        h.server_side_encryption(),
        Some(&ServerSideEncryption::Aes256)
    );
    let (k, md5) = customer();
    let (code, status) = refusal(
        c.put_object()
            .bucket("conf")
            .key("ssec")
            .sse_customer_algorithm("AES256")
            .sse_customer_key(k)
            .sse_customer_key_md5(md5)
            .body(ByteStream::from(data.clone()))
            .send()
            .await,
    );
    assert_eq!((code.as_str(), status), ("AccessDenied", 403));
    // The policy is read back and enforced.
    assert_eq!(
        c.get_bucket_policy()
            .bucket("pol")
            .send()
            .await
            .unwrap()
            .policy(),
        Some(policy.as_str())
    );
    let (code, status) = refusal(
        c.put_object()
            .bucket("pol")
            .key("plain")
            .body(ByteStream::from(data.clone()))
            .send()
            .await,
    );
    assert_eq!((code.as_str(), status), ("AccessDenied", 403));
    put(&c, "pol", "kms", Mode::SseKms, &data).await;
    // Removed, and gone for the next gateway too.
    c.delete_bucket_encryption()
        .bucket("conf")
        .send()
        .await
        .unwrap();
    c.delete_bucket_policy().bucket("pol").send().await.unwrap();
    gw.shutdown().await.unwrap();
    let third = tempfile::tempdir().unwrap();
    let gw = fleet.gateway(third.path()).await;
    let c = client_of(&gw);
    let (code, status) = refusal(c.get_bucket_encryption().bucket("conf").send().await);
    assert_eq!(
        (code.as_str(), status),
        ("ServerSideEncryptionConfigurationNotFoundError", 404)
    );
    let (code, status) = refusal(c.get_bucket_policy().bucket("pol").send().await);
    assert_eq!((code.as_str(), status), ("NoSuchBucketPolicy", 404));
    put(&c, "pol", "plain", Mode::None, &data).await;
    let (code, _) = refusal(c.get_bucket_encryption().bucket("nonesuch").send().await);
    assert_eq!(code, "NoSuchBucket");
    gw.shutdown().await.unwrap();
}

/// Two gateways changing one bucket's configuration at once, one its encryption and the other
/// its policy, lose neither change: the sidecar is written only over the version read.
#[tokio::test]
async fn concurrent_configuration_changes_are_not_lost() {
    let Some(fleet) = Fleet::start().await else {
        return;
    };
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = fleet.gateway(da.path()).await;
    let b = fleet.gateway(db.path()).await;
    let (ca, cb) = (client_of(&a), client_of(&b));
    let policy = DENY_UNLESS_KMS.replace("BUCKET", "busy");
    ca.create_bucket().bucket("busy").send().await.unwrap();
    for _ in 0..5 {
        let encryption = ServerSideEncryptionConfiguration::builder()
            .rules(
                ServerSideEncryptionRule::builder()
                    .apply_server_side_encryption_by_default(
                        ServerSideEncryptionByDefault::builder()
                            .sse_algorithm(ServerSideEncryption::Aes256)
                            .build()
                            .unwrap(),
                    )
                    .build(),
            )
            .build()
            .unwrap();
        let (e, p) = tokio::join!(
            ca.put_bucket_encryption()
                .bucket("busy")
                .server_side_encryption_configuration(encryption)
                .send(),
            cb.put_bucket_policy().bucket("busy").policy(&policy).send(),
        );
        e.unwrap();
        p.unwrap();
        ca.get_bucket_encryption()
            .bucket("busy")
            .send()
            .await
            .unwrap();
        cb.get_bucket_policy().bucket("busy").send().await.unwrap();
        let (e, p) = tokio::join!(
            cb.delete_bucket_encryption().bucket("busy").send(),
            ca.delete_bucket_policy().bucket("busy").send(),
        );
        e.unwrap();
        p.unwrap();
        assert!(
            ca.get_bucket_encryption()
                .bucket("busy")
                .send()
                .await
                .is_err()
        );
        assert!(cb.get_bucket_policy().bucket("busy").send().await.is_err());
    }
    a.shutdown().await.unwrap();
    b.shutdown().await.unwrap();
}
