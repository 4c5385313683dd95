//! Role separation, the reason to choose SSE-KMS: three principals — an S3 administrator without
//! use rights on the KMS key, a data user, and a key administrator — against `objseal serve` whose
//! SSE-KMS keys live in `objseal kms serve` (both on loopback, the S3 server calling the KMS on
//! behalf of whoever signed the S3 request). The S3 side is driven by the AWS SDK for Rust's S3
//! client, the KMS side by its KMS client (through `RemoteKms`).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_s3::types::{MetadataDirective, ServerSideEncryption};
use objseal_kms::audit::{AuditEvent, AuditLog};
use objseal_kms::keystore::{LocalKms, LocalKmsConfig, RootKey};
use objseal_kms::principal::Principal;
use objseal_kms::remote::{RemoteConfig, RemoteCredentials, RemoteKms};
use objseal_kms::server::{
    AccessKey, AuditScope, KmsServer, RunningServer as RunningKms, ServerConfig as KmsConfig,
    local_for_callers,
};
use objseal_kms::{CreateKeyRequest, DataKeySpec, EncryptionContext, Kms};
use objseal_server::server::{RunningServer, Server, ServerConfig, read_access_log};

use crate::assert_refused;
use crate::common::{body, client_with, collect, data};

const ADMIN: (&str, &str, &str) = ("s3admin", "AKIDS3ADMIN000000001", "s3admin-secret");
const ALICE: (&str, &str, &str) = ("alice", "AKIDALICE00000000001", "alice-secret");
const KATE: (&str, &str, &str) = ("kate", "AKIDKATE000000000001", "kate-secret");
const SERVICE: (&str, &str, &str) = ("objseal-s3", "AKIDOBJSEALS30000001", "service-secret");

fn principal(p: (&str, &str, &str)) -> Principal {
    Principal::new(p.0, p.1, p.2)
}

fn arn(name: &str) -> String {
    format!("arn:aws:iam::000000000000:user/{name}")
}

/// The key policy the key administrator sets: she administers, the listed users use — through
/// the S3 server only.
fn key_policy(users: &[&str]) -> String {
    let users: Vec<String> = users.iter().map(|u| arn(u)).collect();
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "KeyAdministrators", "Effect": "Allow",
             "Principal": {"AWS": arn("kate")},
             "Action": ["kms:Describe*", "kms:Get*", "kms:List*", "kms:Put*", "kms:Enable*",
                        "kms:Disable*", "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion",
                        "kms:RotateKeyOnDemand", "kms:CreateAlias", "kms:DeleteAlias"],
             "Resource": "*"},
            {"Sid": "KeyUsersThroughS3", "Effect": "Allow",
             "Principal": {"AWS": users},
             "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*",
                        "kms:DescribeKey"],
             "Resource": "*",
             "Condition": {"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}}},
        ],
    })
    .to_string()
}

struct Setup {
    _dirs: (tempfile::TempDir, tempfile::TempDir),
    kms_server: RunningKms,
    s3: RunningServer,
    kms_audit: std::path::PathBuf,
    local: LocalKms,
    _backend: Option<crate::backend::Backend>,
}

async fn start() -> Setup {
    let kms_dir = tempfile::tempdir().unwrap();
    let kms_audit = kms_dir.path().join("audit.jsonl");
    let mut local_config = LocalKmsConfig::new(
        kms_dir.path().join("keys.osks"),
        RootKey::generate().unwrap(),
    );
    let audit = Arc::new(AuditLog::open(&kms_audit).unwrap());
    local_config.audit = Some(Arc::clone(&audit));
    let local = LocalKms::open(local_config).unwrap();
    // The KMS knows the people and the S3 server's service principal.
    let keys = [ADMIN, ALICE, KATE]
        .into_iter()
        .map(|p| AccessKey::from_principal(&principal(p)))
        .chain([AccessKey::from_principal(
            &principal(SERVICE).as_service("s3"),
        )])
        .collect();
    let kms_server = KmsServer::per_caller(
        KmsConfig::new("us-east-1", keys).with_audit(audit, AuditScope::NotSeenByKms),
        local_for_callers(local.clone()),
    )
    .unwrap()
    .bind("127.0.0.1:0".parse().unwrap())
    .await
    .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let mut config = ServerConfig::new(dir.path()).with_listen("127.0.0.1:0".parse().unwrap());
    config.principals = vec![principal(ADMIN), principal(ALICE), principal(KATE)];
    config.remote_kms = Some(kms_config(&kms_server, SERVICE));
    let backend = crate::backend::attach(&mut config);
    let s3 = Server::start(config).await.unwrap();
    Setup {
        _backend: backend,
        _dirs: (kms_dir, dir),
        kms_server,
        s3,
        kms_audit,
        local,
    }
}

fn kms_config(server: &RunningKms, who: (&str, &str, &str)) -> RemoteConfig {
    RemoteConfig {
        endpoint_url: Some(server.endpoint_url()),
        region: Some("us-east-1".into()),
        credentials: Some(RemoteCredentials::new(who.1, who.2)),
        operation_timeout: Duration::from_secs(20),
        max_attempts: 1,
        ..RemoteConfig::default()
    }
}

async fn kms_as(setup: &Setup, who: (&str, &str, &str)) -> RemoteKms {
    RemoteKms::connect(kms_config(&setup.kms_server, who))
        .await
        .unwrap()
}

fn s3_as(setup: &Setup, who: (&str, &str, &str)) -> aws_sdk_s3::Client {
    client_with(&setup.s3, who.1, who.2)
}

fn denied_message(e: &objseal_kms::KmsError) -> &str {
    assert_eq!(e.aws_type(), "AccessDeniedException", "{e}");
    e.message()
}

fn events(path: &Path) -> Vec<AuditEvent> {
    AuditLog::read(path).unwrap()
}

#[tokio::test]
async fn an_s3_admin_without_key_rights_cannot_read_what_users_store_under_sse_kms() {
    let setup = start().await;
    let (admin, alice) = (s3_as(&setup, ADMIN), s3_as(&setup, ALICE));
    let (kate_kms, alice_kms) = (kms_as(&setup, KATE).await, kms_as(&setup, ALICE).await);

    // The key administrator makes the key (its default policy gives her everything) and hands
    // its use to alice, through S3 only.
    let key = kate_kms
        .create_key(CreateKeyRequest {
            description: "vault".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    kate_kms
        .put_key_policy(&key.arn, &key_policy(&["alice"]), false)
        .await
        .unwrap();
    assert_eq!(
        kate_kms.list_key_policies(&key.arn).await.unwrap(),
        ["default"]
    );
    assert!(
        kate_kms
            .get_key_policy(&key.arn)
            .await
            .unwrap()
            .contains("KeyUsersThroughS3")
    );
    let other = kate_kms
        .create_key(CreateKeyRequest::default())
        .await
        .unwrap();
    kate_kms
        .put_key_policy(&other.arn, &key_policy(&["alice"]), false)
        .await
        .unwrap();

    // The S3 administrator makes the bucket and requires SSE-KMS under that one key.
    admin.create_bucket().bucket("vault").send().await.unwrap();
    let bucket_policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "RequireSseKms", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
             "Resource": "arn:aws:s3:::vault/*",
             "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}}},
            {"Sid": "RequireTheVaultKey", "Effect": "Deny", "Principal": "*",
             "Action": "s3:PutObject", "Resource": "arn:aws:s3:::vault/*",
             "Condition": {"StringNotEquals": {
                 "s3:x-amz-server-side-encryption-aws-kms-key-id": key.arn}}},
        ],
    })
    .to_string();
    admin
        .put_bucket_policy()
        .bucket("vault")
        .policy(&bucket_policy)
        .send()
        .await
        .unwrap();

    // (1) plaintext and SSE-S3 uploads are refused; SSE-KMS under the vault key is accepted.
    let secret = data(300_000, 41);
    assert_refused!(
        alice
            .put_object()
            .bucket("vault")
            .key("doc")
            .body(body(&secret))
            .send()
            .await,
        "AccessDenied",
        403
    );
    assert_refused!(
        alice
            .put_object()
            .bucket("vault")
            .key("doc")
            .server_side_encryption(ServerSideEncryption::Aes256)
            .body(body(&secret))
            .send()
            .await,
        "AccessDenied",
        403
    );
    // (2) another KMS key is refused, though alice may use it.
    assert_refused!(
        alice
            .put_object()
            .bucket("vault")
            .key("doc")
            .server_side_encryption(ServerSideEncryption::AwsKms)
            .ssekms_key_id(&other.arn)
            .body(body(&secret))
            .send()
            .await,
        "AccessDenied",
        403
    );
    let put = alice
        .put_object()
        .bucket("vault")
        .key("doc")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .ssekms_key_id(&key.arn)
        .body(body(&secret))
        .send()
        .await
        .unwrap();
    assert_eq!(put.ssekms_key_id(), Some(key.arn.as_str()));
    assert_eq!(
        collect(
            alice
                .get_object()
                .bucket("vault")
                .key("doc")
                .send()
                .await
                .unwrap()
        )
        .await,
        secret
    );

    // (3) the S3 administrator lists, HEADs, changes metadata — and is refused the plaintext.
    let listed = admin
        .list_objects_v2()
        .bucket("vault")
        .send()
        .await
        .unwrap();
    assert_eq!(listed.contents().len(), 1);
    let head = admin
        .head_object()
        .bucket("vault")
        .key("doc")
        .send()
        .await
        .unwrap();
    assert_eq!(head.ssekms_key_id(), Some(key.arn.as_str()));
    assert_eq!(head.content_length(), Some(secret.len() as i64));
    // A metadata-only copy onto itself that keeps the encryption needs no data key: S3 rights
    // suffice (and it passes the bucket policy, naming the vault key).
    admin
        .copy_object()
        .bucket("vault")
        .key("doc")
        .copy_source("vault/doc")
        .metadata_directive(MetadataDirective::Replace)
        .metadata("owner", "ops")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .ssekms_key_id(&key.arn)
        .send()
        .await
        .unwrap();
    let head = admin
        .head_object()
        .bucket("vault")
        .key("doc")
        .send()
        .await
        .unwrap();
    assert_eq!(
        head.metadata()
            .and_then(|m| m.get("owner"))
            .map(String::as_str),
        Some("ops")
    );
    // Moving it under another key would need the key: refused by the KMS (the bucket policy
    // would refuse it anyway).
    let err = admin
        .get_object()
        .bucket("vault")
        .key("doc")
        .send()
        .await
        .unwrap_err();
    let (code, status) = crate::common::code_status(&err);
    assert_eq!((code.as_str(), status), ("AccessDenied", 403), "{err:?}");
    let message = format!("{err:?}");
    assert!(message.contains("kms:Decrypt"), "{message}");
    assert!(message.contains(&arn("s3admin")), "{message}");
    // Nor may it write under the key: refused by the KMS, and nothing stored.
    assert_refused!(
        admin
            .put_object()
            .bucket("vault")
            .key("admin-doc")
            .server_side_encryption(ServerSideEncryption::AwsKms)
            .ssekms_key_id(&key.arn)
            .body(body(b"x"))
            .send()
            .await,
        "AccessDenied",
        403
    );
    assert_refused!(
        admin
            .head_object()
            .bucket("vault")
            .key("admin-doc")
            .send()
            .await,
        "NotFound",
        404
    );
    // ... until the key administrator grants it use.
    kate_kms
        .put_key_policy(&key.arn, &key_policy(&["alice", "s3admin"]), false)
        .await
        .unwrap();
    assert_eq!(
        collect(
            admin
                .get_object()
                .bucket("vault")
                .key("doc")
                .send()
                .await
                .unwrap()
        )
        .await,
        secret
    );
    kate_kms
        .put_key_policy(&key.arn, &key_policy(&["alice"]), false)
        .await
        .unwrap();

    // (4) the data user cannot administer the key; the key administrator cannot use it; and the
    // data user cannot use it either except through the S3 server.
    for refused in [
        alice_kms.disable_key(&key.arn).await.unwrap_err(),
        alice_kms
            .rotate_key_on_demand(&key.arn)
            .await
            .map(|_| ())
            .unwrap_err(),
        alice_kms
            .put_key_policy(&key.arn, &key_policy(&["alice", "bob"]), false)
            .await
            .unwrap_err(),
        alice_kms
            .generate_data_key(&key.arn, &EncryptionContext::new(), DataKeySpec::Aes256)
            .await
            .map(|_| ())
            .unwrap_err(),
    ] {
        assert!(denied_message(&refused).contains(&arn("alice")));
    }
    let blob = setup
        .local
        .encrypt(&key.arn, b"a data key", &EncryptionContext::new())
        .await
        .unwrap();
    let refused = kate_kms
        .decrypt(&blob.ciphertext_blob, &EncryptionContext::new(), None)
        .await
        .unwrap_err();
    assert!(denied_message(&refused).contains("kms:Decrypt"));

    // (5) disabling the key stops reads; enabling it restores them.
    kate_kms.disable_key(&key.arn).await.unwrap();
    assert_refused!(
        alice.get_object().bucket("vault").key("doc").send().await,
        "KMS.DisabledException",
        400
    );
    kate_kms.enable_key(&key.arn).await.unwrap();
    assert_eq!(
        collect(
            alice
                .get_object()
                .bucket("vault")
                .key("doc")
                .send()
                .await
                .unwrap()
        )
        .await,
        secret
    );

    // The S3 administrator deletes it without any key right.
    admin
        .delete_object()
        .bucket("vault")
        .key("doc")
        .send()
        .await
        .unwrap();

    // (6) both logs name the principal of every decision.
    let kms_events = events(&setup.kms_audit);
    let via_s3 = |e: &&AuditEvent| {
        e.invoked_by.as_deref() == Some(arn("objseal-s3").as_str())
            && e.via_service.as_deref() == Some("s3.us-east-1.amazonaws.com")
    };
    assert!(
        kms_events
            .iter()
            .filter(via_s3)
            .any(|e| e.principal == arn("s3admin")
                && e.operation == "Decrypt"
                && e.result == "AccessDeniedException")
    );
    assert!(
        kms_events
            .iter()
            .filter(via_s3)
            .any(|e| e.principal == arn("alice")
                && e.operation == "GenerateDataKey"
                && e.result == "ok")
    );
    assert!(kms_events.iter().any(|e| e.principal == arn("alice")
        && e.operation == "DisableKey"
        && e.result == "AccessDeniedException"
        && e.invoked_by.is_none()));
    assert!(
        kms_events.iter().any(|e| e.principal == arn("kate")
            && e.operation == "PutKeyPolicy"
            && e.result == "ok")
    );
    let access = read_access_log(setup.s3.data_dir().join("access.jsonl")).unwrap();
    assert!(access.iter().any(|r| r.principal == arn("alice")
        && r.operation == "PutObject"
        && r.decision == "deny"
        && r.reason.contains("RequireSseKms")));
    assert!(access.iter().any(|r| r.principal == arn("s3admin")
        && r.operation == "GetObject"
        && r.decision == "allow"));
    assert!(access.iter().all(|r| !r.principal.is_empty()));
}

/// The same separation with the embedded keystore: `objseal serve --principals` checks key
/// policies itself, for the principal that signed each request.
#[tokio::test]
async fn the_embedded_keystore_checks_key_policies_for_each_principal() {
    let dir = tempfile::tempdir().unwrap();
    let root = RootKey::generate().unwrap();
    let mut config = ServerConfig::new(dir.path()).with_listen("127.0.0.1:0".parse().unwrap());
    config.root_key = Some(root.clone());
    config.principals = vec![principal(ADMIN), principal(ALICE), principal(KATE)];
    let _backend = crate::backend::attach(&mut config);
    let server = Server::start(config).await.unwrap();
    // Kate administers keys in the same keystore (another handle on its file).
    let keystore = LocalKms::open(LocalKmsConfig::new(
        dir.path().join(objseal_server::server::KEYSTORE_PATH),
        root,
    ))
    .unwrap();
    let kate = keystore.with_identity(principal(KATE).identity("000000000000"));
    let key = kate.create_key(CreateKeyRequest::default()).await.unwrap();
    let (admin, alice) = (
        client_with(&server, ADMIN.1, ADMIN.2),
        client_with(&server, ALICE.1, ALICE.2),
    );
    admin.create_bucket().bucket("bee").send().await.unwrap();
    let put = |c: &aws_sdk_s3::Client, k: &str| {
        c.put_object()
            .bucket("bee")
            .key(k)
            .server_side_encryption(ServerSideEncryption::AwsKms)
            .ssekms_key_id(&key.arn)
            .body(body(b"kept from the S3 admin"))
            .send()
    };
    // The creator's default policy: only kate.
    assert_refused!(put(&alice, "doc").await, "AccessDenied", 403);
    kate.put_key_policy(&key.arn, &key_policy(&["alice"]), false)
        .await
        .unwrap();
    put(&alice, "doc").await.unwrap();
    assert_refused!(
        admin.get_object().bucket("bee").key("doc").send().await,
        "AccessDenied",
        403
    );
    let got = alice
        .get_object()
        .bucket("bee")
        .key("doc")
        .send()
        .await
        .unwrap();
    assert_eq!(collect(got).await, b"kept from the S3 admin");
    // The server's default key is everyone's, through S3 only (as Amazon S3's aws/s3 key).
    admin
        .put_object()
        .bucket("bee")
        .key("default")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .body(body(b"d"))
        .send()
        .await
        .unwrap();
    let direct = keystore
        .with_identity(principal(ADMIN).identity("000000000000"))
        .generate_data_key(
            "alias/objseal-default",
            &EncryptionContext::new(),
            DataKeySpec::Aes256,
        )
        .await
        .unwrap_err();
    assert_eq!(direct.aws_type(), "AccessDeniedException");
    // Both decisions are in the keystore's audit log, with the principal and the server.
    let log = events(&dir.path().join("kms/keys.store.audit.jsonl"));
    assert!(log.iter().any(|e| e.principal == arn("s3admin")
        && e.operation == "Decrypt"
        && e.result == "AccessDeniedException"
        && e.invoked_by.as_deref() == Some("objseal-server")));
}
