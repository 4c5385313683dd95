//! `RemoteKms` against our own server (`objseal kms serve`'s engine over a `LocalKms`), started here
//! in-process on 127.0.0.1:0: the AWS SDK for Rust on one side, our protocol and SigV4 code on the
//! other, with the AWS key-state rules, key policies and delegation through a service principal
//! (`RemoteKms::on_behalf_of`, as the S3 server uses it) enforced end to end.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::scenario::{self, Expect};
use objseal_kms::audit::AuditLog;
use objseal_kms::keystore::{LocalKms, LocalKmsConfig, RootKey};
use objseal_kms::principal::{Principal, user_arn};
use objseal_kms::remote::{RemoteConfig, RemoteCredentials, RemoteKms};
use objseal_kms::server::{
    AccessKey, AuditScope, Caller, KmsForCaller, KmsServer, RunningServer, ServerConfig,
};
use objseal_kms::{CreateKeyRequest, DataKeySpec, Delegation, EncryptionContext, Kms, KmsError};

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

    // The server audited the requests under the principal the access key belongs to (named after
    // it), and never wrote the secret.
    let events = AuditLog::read(f.audit.path()).unwrap();
    let principal = format!("arn:aws:iam::000000000000:user/{ACCESS_KEY_ID}");
    assert!(events.iter().any(|e| e.operation == "GenerateDataKey"
        && e.principal == principal
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

// ---------------------------------------------------------------- principals and key policies

/// The principals of issue 9: a key administrator, a data user, an S3 administrator, and the S3
/// server's own service principal.
fn principals() -> Vec<Principal> {
    vec![
        Principal::new("keyadmin", "AKIDKEYADMIN", "keyadmin-secret"),
        Principal::new("datauser", "AKIDDATAUSER", "datauser-secret"),
        Principal::new("s3admin", "AKIDS3ADMIN", "s3admin-secret"),
        Principal::new("objseal-s3", "AKIDOBJSEALS3", "objseal-s3-secret").as_service("s3"),
    ]
}

fn arn(name: &str) -> String {
    user_arn("000000000000", name)
}

/// `objseal kms serve`'s arrangement: each request runs on a keystore handle acting for its
/// signer (or, for a service's delegated request, for the principal named), which checks key
/// policies and writes the audit log; the server records only what never reached it.
async fn start_with_principals() -> (Fixture, LocalKms) {
    let dir = tempfile::tempdir().unwrap();
    let audit = Arc::new(AuditLog::open(dir.path().join("audit.jsonl")).unwrap());
    let mut config =
        LocalKmsConfig::new(dir.path().join("keys.osks"), RootKey::generate().unwrap());
    config.region = REGION.into();
    config.audit = Some(Arc::clone(&audit));
    let local = LocalKms::open(config).unwrap();
    let mut server_config = ServerConfig::new(
        REGION,
        principals().iter().map(AccessKey::from_principal).collect(),
    )
    .with_audit(Arc::clone(&audit), AuditScope::NotSeenByKms);
    server_config.account_id = local.account_id().to_owned();
    let handle = local.clone();
    let kms_for: KmsForCaller = Arc::new(move |caller: &Caller| {
        let mut kms = handle
            .with_identity(caller.identity.clone())
            .with_request_id(&caller.request_id);
        if let Some(source) = caller.source {
            kms = kms.with_source(source.to_string());
        }
        match &caller.delegation {
            Some(d) => kms.on_behalf_of(d),
            None => Arc::new(kms),
        }
    });
    let server = KmsServer::per_caller(server_config, kms_for)
        .unwrap()
        .bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    (
        Fixture {
            _dir: dir,
            audit,
            server,
        },
        local,
    )
}

/// A `RemoteKms` signing as the principal `name`.
async fn signing_as(server: &RunningServer, name: &str) -> RemoteKms {
    let p = principals().into_iter().find(|p| p.name == name).unwrap();
    RemoteKms::connect(RemoteConfig {
        endpoint_url: Some(server.endpoint_url()),
        region: Some(REGION.into()),
        credentials: Some(RemoteCredentials::new(p.access_key_id, p.secret.as_str())),
        operation_timeout: Duration::from_secs(20),
        max_attempts: 1,
        ..RemoteConfig::default()
    })
    .await
    .unwrap()
}

fn role_separation() -> String {
    serde_json::json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "KeyAdministrators", "Effect": "Allow", "Principal": {"AWS": arn("keyadmin")},
         "Action": ["kms:Describe*", "kms:Enable*", "kms:Disable*", "kms:Get*", "kms:List*",
                    "kms:PutKeyPolicy", "kms:RotateKeyOnDemand", "kms:ScheduleKeyDeletion",
                    "kms:CancelKeyDeletion"], "Resource": "*"},
        {"Sid": "DataUsersThroughS3", "Effect": "Allow", "Principal": {"AWS": arn("datauser")},
         "Action": ["kms:Decrypt", "kms:GenerateDataKey*", "kms:DescribeKey"], "Resource": "*",
         "Condition": {"StringEquals": {"kms:ViaService": format!("s3.{REGION}.amazonaws.com")}}}
    ]})
    .to_string()
}

fn access_denied<T: std::fmt::Debug>(r: Result<T, KmsError>) -> String {
    match r {
        Err(KmsError::AccessDenied(m)) => m,
        other => panic!("expected AccessDeniedException, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_policies_through_the_sdk() {
    let (f, _) = start_with_principals().await;
    let admin = signing_as(&f.server, "keyadmin").await;
    let data = signing_as(&f.server, "datauser").await;

    // CreateKey with a Policy, then Get / List / Put.
    let key = admin
        .create_key(CreateKeyRequest {
            description: "role separation".into(),
            policy: Some(role_separation()),
            ..CreateKeyRequest::default()
        })
        .await
        .unwrap();
    let id = key.key_id.as_str();
    assert_eq!(admin.get_key_policy(id).await.unwrap(), role_separation());
    assert_eq!(admin.list_key_policies(id).await.unwrap(), ["default"]);
    admin
        .put_key_policy(id, &role_separation(), false)
        .await
        .unwrap();
    // The raw SDK: PolicyName is optional and `default` is the one name.
    let out = admin
        .client()
        .get_key_policy()
        .key_id(id)
        .send()
        .await
        .unwrap();
    assert_eq!(out.policy_name(), Some("default"));
    assert_eq!(out.policy(), Some(role_separation().as_str()));

    // A malformed policy: the SDK sees AWS's error, which maps back to the same KmsError.
    let e = admin
        .client()
        .put_key_policy()
        .key_id(id)
        .policy(r#"{"Version": "2012-10-17", "Statement": []}"#)
        .send()
        .await
        .unwrap_err();
    let service = e.as_service_error().expect("a service error");
    assert!(
        service.is_malformed_policy_document_exception(),
        "{service:?}"
    );
    assert!(
        aws_sdk_kms::error::ProvideErrorMetadata::message(service)
            .is_some_and(|m| m.starts_with("malformed policy: ")),
        "{service:?}"
    );
    let e = admin.put_key_policy(id, "{", false).await.unwrap_err();
    assert!(matches!(e, KmsError::MalformedPolicyDocument(_)), "{e:?}");
    // The lockout check: the key admin may not give the key away without the bypass.
    let data_only = role_separation().replace(&arn("keyadmin"), &arn("s3admin"));
    let e = admin
        .put_key_policy(id, &data_only, false)
        .await
        .unwrap_err();
    assert!(matches!(e, KmsError::MalformedPolicyDocument(_)), "{e:?}");
    let e = admin
        .create_key(CreateKeyRequest {
            policy: Some(data_only),
            ..CreateKeyRequest::default()
        })
        .await
        .unwrap_err();
    assert!(matches!(e, KmsError::MalformedPolicyDocument(_)), "{e:?}");
    assert_eq!(admin.get_key_policy(id).await.unwrap(), role_separation());
    assert_eq!(admin.list_keys().await.unwrap().len(), 1);

    // Role separation: the key admin administers and cannot use; the data user, directly, can do
    // neither.
    admin.disable_key(id).await.unwrap();
    admin.enable_key(id).await.unwrap();
    let ctx = EncryptionContext::new();
    access_denied(admin.generate_data_key(id, &ctx, DataKeySpec::Aes256).await);
    access_denied(data.generate_data_key(id, &ctx, DataKeySpec::Aes256).await);
    access_denied(data.disable_key(id).await);
    access_denied(data.put_key_policy(id, &role_separation(), true).await);
    access_denied(data.get_key_policy(id).await);
    access_denied(data.list_key_policies(id).await);
    f.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_s3_service_acts_on_behalf_of_principals() {
    let (f, local) = start_with_principals().await;
    let admin = signing_as(&f.server, "keyadmin").await;
    let s3 = signing_as(&f.server, "objseal-s3").await;
    let key = admin
        .create_key(CreateKeyRequest {
            policy: Some(role_separation()),
            ..CreateKeyRequest::default()
        })
        .await
        .unwrap();
    let id = key.key_id.as_str();
    let for_user = |name: &str| Delegation {
        identity: Principal::new(name, "-", "-").identity(local.account_id()),
        // The server decides this from the service principal it authenticated, not the client.
        via_service: "ignored by the server".into(),
        source: Some("203.0.113.9:4321".into()),
        request_id: Some(format!("s3-request-for-{name}")),
    };
    let ctx: EncryptionContext = [("aws:s3:arn".to_owned(), "arn:aws:s3:::b/k".to_owned())].into();

    // The data user, through the S3 server: allowed (the key policy's kms:ViaService holds).
    let as_data = s3.on_behalf_of(&for_user("datauser"));
    let dk = as_data
        .generate_data_key(id, &ctx, DataKeySpec::Aes256)
        .await
        .unwrap();
    let back = as_data
        .decrypt(&dk.wrapped.ciphertext_blob, &ctx, None)
        .await
        .unwrap();
    assert_eq!(back.plaintext.as_bytes(), dk.plaintext.as_bytes());
    // A service never administers keys for anyone: refused whatever the key policy says.
    let message = access_denied(as_data.disable_key(id).await);
    assert!(message.contains("only to use keys"), "{message}");
    let as_keyadmin = s3.on_behalf_of(&for_user("keyadmin"));
    let message = access_denied(as_keyadmin.disable_key(id).await);
    assert!(message.contains("only to use keys"), "{message}");
    // Nor does it act for another service.
    let message = access_denied(
        s3.on_behalf_of(&for_user("objseal-s3"))
            .describe_key(id)
            .await,
    );
    assert!(message.contains("is a service principal"), "{message}");
    // The S3 administrator and the key administrator, through the S3 server: refused.
    let as_s3admin = s3.on_behalf_of(&for_user("s3admin"));
    let message = access_denied(
        as_s3admin
            .decrypt(&dk.wrapped.ciphertext_blob, &ctx, None)
            .await,
    );
    assert!(message.contains(&arn("s3admin")), "{message}");
    access_denied(
        s3.on_behalf_of(&for_user("keyadmin"))
            .generate_data_key(id, &ctx, DataKeySpec::Aes256)
            .await,
    );
    // The S3 server for itself: no right on the key.
    access_denied(s3.generate_data_key(id, &ctx, DataKeySpec::Aes256).await);
    // Only a service principal may delegate: the data user naming himself is refused.
    let data = signing_as(&f.server, "datauser").await;
    let message = access_denied(
        data.on_behalf_of(&for_user("datauser"))
            .describe_key(id)
            .await,
    );
    assert!(message.contains("not a service principal"), "{message}");
    // A name that is not a principal name at all is refused before any key is looked at.
    let message = access_denied(s3.on_behalf_of(&for_user("no such/user")).list_keys().await);
    assert!(message.contains("must be 1 to 64 of"), "{message}");

    // The audit log names the principal acted for, the service that acted and the original
    // request; refused delegations are the signer's own.
    let events = AuditLog::read(f.audit.path()).unwrap();
    let delegated = |principal: &str, op: &str, result: &str| {
        events
            .iter()
            .find(|e| {
                e.principal == principal
                    && e.operation == op
                    && e.result == result
                    && e.invoked_by.is_some()
            })
            .unwrap_or_else(|| panic!("no delegated {op} of {principal} → {result}"))
    };
    for (who, op, result) in [
        ("datauser", "GenerateDataKey", "ok"),
        ("datauser", "Decrypt", "ok"),
        ("s3admin", "Decrypt", "AccessDeniedException"),
        ("keyadmin", "GenerateDataKey", "AccessDeniedException"),
    ] {
        let e = delegated(&arn(who), op, result);
        assert_eq!(e.invoked_by.as_deref(), Some(arn("objseal-s3").as_str()));
        assert_eq!(
            e.via_service.as_deref(),
            Some(format!("s3.{REGION}.amazonaws.com").as_str())
        );
        assert_eq!(e.source.as_deref(), Some("203.0.113.9:4321"));
        assert_eq!(
            e.request_id.as_deref(),
            Some(format!("s3-request-for-{who}").as_str())
        );
        assert_eq!(e.key_id.as_deref(), Some(key.arn.as_str()));
    }
    let own = events
        .iter()
        .find(|e| e.principal == arn("objseal-s3") && e.operation == "GenerateDataKey")
        .expect("the S3 server's own request");
    assert_eq!(
        (own.result.as_str(), own.invoked_by.as_ref()),
        ("AccessDeniedException", None)
    );
    let refused: Vec<_> = events
        .iter()
        .filter(|e| {
            e.message
                .as_deref()
                .is_some_and(|m| m.contains("may not act on behalf"))
        })
        .collect();
    // The service for another service, the data user for himself, a malformed name.
    let who: Vec<&str> = refused.iter().map(|e| e.principal.as_str()).collect();
    assert_eq!(
        who,
        [arn("objseal-s3"), arn("datauser"), arn("objseal-s3")],
        "{refused:#?}"
    );
    assert!(refused.iter().all(|e| e.invoked_by.is_none()));
    f.server.shutdown().await.unwrap();
}
