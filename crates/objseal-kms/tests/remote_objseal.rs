//! `RemoteKms` against our own server (`objseal kms serve`'s engine over a `LocalKms`), started here
//! in-process on 127.0.0.1:0: the AWS SDK for Rust on one side, our protocol and SigV4 code on the
//! other, with the AWS key-state rules enforced end to end.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::scenario::{self, Expect};
use objseal_kms::audit::AuditLog;
use objseal_kms::keystore::{LocalKms, LocalKmsConfig, RootKey};
use objseal_kms::remote::{RemoteConfig, RemoteCredentials, RemoteKms};
use objseal_kms::server::{AccessKey, KmsServer, RunningServer, ServerConfig};
use objseal_kms::{CreateKeyRequest, DataKeySpec, Kms, KmsError};

const REGION: &str = "eu-west-3";
const ACCESS_KEY_ID: &str = "AKIDOBJSEALREMOTE";
const SECRET: &str = "remote-test-secret-do-not-print";

struct Fixture {
    _dir: tempfile::TempDir,
    audit: Arc<AuditLog>,
    server: RunningServer,
}

async fn start() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let audit = Arc::new(AuditLog::open(dir.path().join("audit.jsonl")).unwrap());
    let mut config =
        LocalKmsConfig::new(dir.path().join("keys.osks"), RootKey::generate().unwrap());
    config.region = REGION.into();
    let local = LocalKms::open(config).unwrap();
    let server_config = ServerConfig::new(REGION, vec![AccessKey::new(ACCESS_KEY_ID, SECRET)])
        .with_audit(Arc::clone(&audit), Default::default());
    let server = KmsServer::new(server_config, Arc::new(local))
        .unwrap()
        .bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    Fixture {
        _dir: dir,
        audit,
        server,
    }
}

async fn client(server: &RunningServer, region: &str, secret: &str) -> RemoteKms {
    RemoteKms::connect(RemoteConfig {
        endpoint_url: Some(server.endpoint_url()),
        region: Some(region.into()),
        credentials: Some(RemoteCredentials::new(ACCESS_KEY_ID, secret)),
        operation_timeout: Duration::from_secs(20),
        max_attempts: 1,
        ..RemoteConfig::default()
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_against_our_server() {
    let f = start().await;
    let kms = client(&f.server, REGION, SECRET).await;
    scenario::lifecycle(&kms, Expect::OBJSEAL_SERVER).await;

    // The server audited the requests under the access key id, and never wrote the secret.
    let events = AuditLog::read(f.audit.path()).unwrap();
    assert!(events.iter().any(|e| e.operation == "GenerateDataKey"
        && e.principal == ACCESS_KEY_ID
        && e.key_version == Some(2)));
    let text = std::fs::read_to_string(f.audit.path()).unwrap();
    assert!(!text.contains(SECRET));
    f.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_travel_in_our_blobs() {
    let f = start().await;
    let kms = client(&f.server, REGION, SECRET).await;
    let key = kms.create_key(CreateKeyRequest::default()).await.unwrap();
    assert!(
        key.arn.starts_with(&format!("arn:aws:kms:{REGION}:")),
        "{}",
        key.arn
    );
    let ctx = Default::default();
    let v1 = kms
        .generate_data_key_without_plaintext(&key.key_id, &ctx, DataKeySpec::Aes256)
        .await
        .unwrap();
    kms.rotate_key_on_demand(&key.key_id).await.unwrap();
    kms.rotate_key_on_demand(&key.key_id).await.unwrap();
    let v3 = kms.encrypt(&key.key_id, b"x", &ctx).await.unwrap();
    assert_eq!((v1.key_version, v3.key_version), (1, 3));
    assert_eq!(
        kms.describe_key(&key.key_id).await.unwrap().current_version,
        3
    );
    let rotations = kms.list_key_rotations(&key.key_id).await.unwrap();
    assert_eq!(
        rotations.iter().map(|r| r.version).collect::<Vec<_>>(),
        [2, 3]
    );
    assert_eq!(
        kms.decrypt(&v1.ciphertext_blob, &ctx, None)
            .await
            .unwrap()
            .key_version,
        1
    );
    f.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signature_refusals_keep_their_aws_names() {
    let f = start().await;
    let wrong_secret = client(&f.server, REGION, "not-the-secret").await;
    let e = wrong_secret.list_keys().await.unwrap_err();
    assert!(
        matches!(&e, KmsError::Other { aws_type, .. } if aws_type.contains("Signature")),
        "{e:?}"
    );
    assert!(!e.to_string().contains(SECRET) && !e.to_string().contains("not-the-secret"));
    let wrong_region = client(&f.server, "us-west-2", SECRET).await;
    let e = wrong_region.list_keys().await.unwrap_err();
    assert_ne!(e.aws_type(), "DependencyTimeoutException", "{e:?}");
    f.server.shutdown().await.unwrap();
}
