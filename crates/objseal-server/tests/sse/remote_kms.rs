//! SSE-KMS with the KMS elsewhere: `objseal serve --kms-endpoint` talks the AWS KMS protocol (here
//! to objseal's own KMS server on loopback, another process's keystore); keys the KMS disables
//! stop the reads of their objects.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_s3::types::ServerSideEncryption;
use objseal_kms::keystore::{LocalKms, LocalKmsConfig, RootKey};
use objseal_kms::remote::{RemoteConfig, RemoteCredentials};
use objseal_kms::server::{AccessKey, KmsServer, ServerConfig as KmsConfig};
use objseal_kms::{CreateKeyRequest, Kms};
use objseal_server::server::{Server, ServerConfig};

use crate::assert_refused;
use crate::common::*;

#[tokio::test]
async fn sse_kms_through_a_remote_kms() {
    let kms_dir = tempfile::tempdir().unwrap();
    let local = Arc::new(
        LocalKms::open(LocalKmsConfig::new(
            kms_dir.path().join("keys.osks"),
            RootKey::generate().unwrap(),
        ))
        .unwrap(),
    );
    let photos = local
        .create_key(CreateKeyRequest {
            description: "photos".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let kms_server = KmsServer::new(
        KmsConfig::new(
            "us-east-1",
            // The S3 server's principal is a service: it calls on behalf of its users.
            vec![AccessKey {
                service: Some("s3".into()),
                ..AccessKey::new("AKIDKMSREMOTE", "kms-remote-secret")
            }],
        ),
        local.clone(),
    )
    .unwrap()
    .bind("127.0.0.1:0".parse().unwrap())
    .await
    .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let mut config = ServerConfig::new(dir.path()).with_listen("127.0.0.1:0".parse().unwrap());
    config.remote_kms = Some(RemoteConfig {
        endpoint_url: Some(kms_server.endpoint_url()),
        region: Some("us-east-1".into()),
        credentials: Some(RemoteCredentials::new("AKIDKMSREMOTE", "kms-remote-secret")),
        operation_timeout: Duration::from_secs(20),
        max_attempts: 1,
        ..RemoteConfig::default()
    });
    let _backend = crate::backend::attach(&mut config);
    let server = Server::start(config).await.unwrap();
    let c = client_for(&server);
    c.create_bucket().bucket("remote").send().await.unwrap();
    let plain = data(200_000, 5);
    let put = c
        .put_object()
        .bucket("remote")
        .key("k")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .ssekms_key_id(&photos.arn)
        .body(body(&plain))
        .send()
        .await
        .unwrap();
    assert_eq!(put.ssekms_key_id(), Some(photos.arn.as_str()));
    // The default key was created in the remote keystore.
    c.put_object()
        .bucket("remote")
        .key("d")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .body(body(b"x"))
        .send()
        .await
        .unwrap();
    assert!(local.describe_key("alias/objseal-default").await.is_ok());
    let got = c
        .get_object()
        .bucket("remote")
        .key("k")
        .send()
        .await
        .unwrap();
    assert_eq!(collect(got).await, plain);

    // The KMS disables the key: the object no longer reads; enabled again, it does.
    local.disable_key(&photos.key_id).await.unwrap();
    // HEAD reads only the record: no KMS call, so it still answers (as on Amazon S3).
    let head = c
        .head_object()
        .bucket("remote")
        .key("k")
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_length(), Some(plain.len() as i64));
    assert_eq!(head.ssekms_key_id(), Some(photos.arn.as_str()));
    assert_refused!(
        c.get_object().bucket("remote").key("k").send().await,
        "KMS.DisabledException",
        400
    );
    local.enable_key(&photos.key_id).await.unwrap();
    assert_eq!(
        collect(
            c.get_object()
                .bucket("remote")
                .key("k")
                .send()
                .await
                .unwrap()
        )
        .await,
        plain
    );
    server.shutdown().await.unwrap();
    kms_server.shutdown().await.unwrap();
}
