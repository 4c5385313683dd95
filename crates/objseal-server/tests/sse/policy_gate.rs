//! The access gate's reach: a bucket policy binds the calls that change it (except for members of
//! the group `admins`, who stand in for the account root), `DeleteObjects` is checked key by key,
//! and a copy is checked on its whole source key — three principals on a real server, driven by
//! the AWS SDK for Rust.

use std::collections::BTreeSet;

use aws_sdk_s3::Client;
use aws_sdk_s3::types::{Delete, ObjectIdentifier};
use objseal_kms::principal::Principal;
use objseal_server::server::{AccessRecord, RunningServer, Server, ServerConfig, read_access_log};

use crate::assert_refused;
use crate::common::{body, client_with, collect};

/// In the group `admins`: may always manage bucket policies.
const BOSS: (&str, &str, &str) = ("boss", "AKIDBOSS000000000001", "boss-secret");
/// No groups.
const ALICE: (&str, &str, &str) = ("alice", "AKIDALICE00000000001", "alice-secret");
/// In a group whose name only resembles `admins`.
const BOB: (&str, &str, &str) = ("bob", "AKIDBOB0000000000001", "bob-secret");

fn arn(name: &str) -> String {
    format!("arn:aws:iam::000000000000:user/{name}")
}

struct Setup {
    _dir: tempfile::TempDir,
    server: RunningServer,
    boss: Client,
    alice: Client,
    bob: Client,
    _backend: Option<crate::backend::Backend>,
}

impl Setup {
    async fn start() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let mut config = ServerConfig::new(dir.path()).with_listen("127.0.0.1:0".parse().unwrap());
        config.principals = vec![
            Principal::new(BOSS.0, BOSS.1, BOSS.2).in_groups(["admins"]),
            Principal::new(ALICE.0, ALICE.1, ALICE.2),
            Principal::new(BOB.0, BOB.1, BOB.2).in_groups(["administrators", "data-users"]),
        ];
        let backend = crate::backend::attach(&mut config);
        let server = Server::start(config).await.unwrap();
        Setup {
            _backend: backend,
            boss: client_with(&server, BOSS.1, BOSS.2),
            alice: client_with(&server, ALICE.1, ALICE.2),
            bob: client_with(&server, BOB.1, BOB.2),
            server,
            _dir: dir,
        }
    }

    fn access_log(&self) -> Vec<AccessRecord> {
        read_access_log(self.server.data_dir().join("access.jsonl")).unwrap()
    }

    async fn put(&self, bucket: &str, key: &str, data: &[u8]) {
        self.boss
            .put_object()
            .bucket(bucket)
            .key(key)
            .body(body(data))
            .send()
            .await
            .unwrap();
    }

    async fn keys(&self, bucket: &str) -> BTreeSet<String> {
        self.boss
            .list_objects_v2()
            .bucket(bucket)
            .send()
            .await
            .unwrap()
            .contents()
            .iter()
            .filter_map(|o| o.key().map(str::to_owned))
            .collect()
    }
}

fn lock_policy(bucket: &str) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "LockThePolicy", "Effect": "Deny", "Principal": "*",
             "Action": ["s3:PutBucketPolicy", "s3:DeleteBucketPolicy", "s3:GetBucketPolicy"],
             "Resource": format!("arn:aws:s3:::{bucket}")},
            {"Sid": "KeepTheBucket", "Effect": "Deny", "Principal": "*",
             "Action": "s3:DeleteBucket", "Resource": format!("arn:aws:s3:::{bucket}")},
        ],
    })
    .to_string()
}

#[tokio::test]
async fn a_bucket_policy_binds_its_own_calls_except_for_admins() {
    let s = Setup::start().await;
    s.boss.create_bucket().bucket("gate").send().await.unwrap();
    let lock = lock_policy("gate");
    s.boss
        .put_bucket_policy()
        .bucket("gate")
        .policy(&lock)
        .send()
        .await
        .unwrap();
    let permissive = r#"{"Version": "2012-10-17", "Statement": [
      {"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "*"}]}"#;

    // Neither a principal without groups nor one in a look-alike group may read, replace or
    // delete the policy that denies it.
    for c in [&s.alice, &s.bob] {
        assert_refused!(
            c.delete_bucket_policy().bucket("gate").send().await,
            "AccessDenied",
            403
        );
        assert_refused!(
            c.put_bucket_policy()
                .bucket("gate")
                .policy(permissive)
                .send()
                .await,
            "AccessDenied",
            403
        );
        assert_refused!(
            c.get_bucket_policy().bucket("gate").send().await,
            "AccessDenied",
            403
        );
        assert_refused!(
            c.delete_bucket().bucket("gate").send().await,
            "AccessDenied",
            403
        );
    }
    // The policy is untouched.
    let got = s.boss.get_bucket_policy().bucket("gate").send().await;
    assert_eq!(got.unwrap().policy(), Some(lock.as_str()));

    // The exemption covers the bucket-policy calls only: a Deny on DeleteBucket binds admins too.
    assert_refused!(
        s.boss.delete_bucket().bucket("gate").send().await,
        "AccessDenied",
        403
    );

    // An admin replaces it, then deletes it; then everyone may read (there is none).
    let only_alice_locked = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{"Sid": "NotAlice", "Effect": "Deny",
            "Principal": {"AWS": arn("alice")},
            "Action": "s3:*BucketPolicy", "Resource": "arn:aws:s3:::gate"}],
    })
    .to_string();
    s.boss
        .put_bucket_policy()
        .bucket("gate")
        .policy(&only_alice_locked)
        .send()
        .await
        .unwrap();
    let got = s.bob.get_bucket_policy().bucket("gate").send().await;
    assert_eq!(got.unwrap().policy(), Some(only_alice_locked.as_str()));
    assert_refused!(
        s.alice.delete_bucket_policy().bucket("gate").send().await,
        "AccessDenied",
        403
    );
    s.boss
        .delete_bucket_policy()
        .bucket("gate")
        .send()
        .await
        .unwrap();
    assert_refused!(
        s.alice.get_bucket_policy().bucket("gate").send().await,
        "NoSuchBucketPolicy",
        404
    );
    s.alice.delete_bucket().bucket("gate").send().await.unwrap();

    // Every decision is in the access log, with its principal and action.
    let log = s.access_log();
    assert!(log.iter().any(|r| r.principal == arn("alice")
        && r.operation == "DeleteBucketPolicy"
        && r.action.as_deref() == Some("s3:DeleteBucketPolicy")
        && r.resource.as_deref() == Some("arn:aws:s3:::gate")
        && r.decision == "deny"));
    assert!(log.iter().any(|r| r.principal == arn("boss")
        && r.operation == "PutBucketPolicy"
        && r.decision == "allow"
        && r.reason.contains("LockThePolicy")
        && r.reason.contains("admins")));
    assert!(log.iter().any(|r| r.principal == arn("boss")
        && r.operation == "DeleteBucket"
        && r.action.as_deref() == Some("s3:DeleteBucket")
        && r.decision == "deny"));
    assert!(log.iter().any(|r| r.principal == arn("boss")
        && r.operation == "CreateBucket"
        && r.action.as_deref() == Some("s3:CreateBucket")
        && r.decision == "allow"));
}

#[tokio::test]
async fn a_deleted_bucket_forgets_its_policy() {
    let s = Setup::start().await;
    s.boss.create_bucket().bucket("again").send().await.unwrap();
    let deny_alice = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Deny", "Principal": {"AWS": arn("alice")},
            "Action": "s3:PutObject", "Resource": "arn:aws:s3:::again/*"}],
    })
    .to_string();
    s.boss
        .put_bucket_policy()
        .bucket("again")
        .policy(&deny_alice)
        .send()
        .await
        .unwrap();
    let put = |c: &Client| {
        c.put_object()
            .bucket("again")
            .key("k")
            .body(body(b"x"))
            .send()
    };
    assert_refused!(put(&s.alice).await, "AccessDenied", 403);
    s.boss.delete_bucket().bucket("again").send().await.unwrap();
    s.boss.create_bucket().bucket("again").send().await.unwrap();
    assert_refused!(
        s.alice.get_bucket_policy().bucket("again").send().await,
        "NoSuchBucketPolicy",
        404
    );
    put(&s.alice).await.unwrap();
}

fn ids(keys: &[&str]) -> Delete {
    quiet_ids(keys, false)
}

fn quiet_ids(keys: &[&str], quiet: bool) -> Delete {
    Delete::builder()
        .quiet(quiet)
        .set_objects(Some(
            keys.iter()
                .map(|k| ObjectIdentifier::builder().key(*k).build().unwrap())
                .collect(),
        ))
        .build()
        .unwrap()
}

#[tokio::test]
async fn delete_objects_refuses_protected_keys_one_by_one() {
    let s = Setup::start().await;
    s.boss.create_bucket().bucket("bulk").send().await.unwrap();
    for k in ["protected/a", "protected/b", "open/c", "d", "e"] {
        s.put("bulk", k, k.as_bytes()).await;
    }
    let policy = r#"{"Version": "2012-10-17", "Statement": [
      {"Sid": "KeepProtected", "Effect": "Deny", "Principal": "*", "Action": "s3:DeleteObject",
       "Resource": "arn:aws:s3:::bulk/protected/*"}]}"#;
    s.boss
        .put_bucket_policy()
        .bucket("bulk")
        .policy(policy)
        .send()
        .await
        .unwrap();

    // One by one, as before.
    assert_refused!(
        s.alice
            .delete_object()
            .bucket("bulk")
            .key("protected/a")
            .send()
            .await,
        "AccessDenied",
        403
    );
    // In bulk: the others are deleted, each protected key is answered AccessDenied and stays.
    let out = s
        .alice
        .delete_objects()
        .bucket("bulk")
        .delete(ids(&["protected/a", "open/c", "protected/b", "d"]))
        .send()
        .await
        .unwrap();
    let deleted: BTreeSet<&str> = out.deleted().iter().filter_map(|d| d.key()).collect();
    assert_eq!(deleted, BTreeSet::from(["open/c", "d"]));
    let mut errors: Vec<(&str, &str)> = out
        .errors()
        .iter()
        .map(|e| (e.key().unwrap(), e.code().unwrap()))
        .collect();
    errors.sort_unstable();
    assert_eq!(
        errors,
        [
            ("protected/a", "AccessDenied"),
            ("protected/b", "AccessDenied")
        ]
    );
    assert_eq!(
        s.keys("bulk").await,
        BTreeSet::from(["protected/a".into(), "protected/b".into(), "e".into()])
    );

    // Quiet: only the errors come back.
    let out = s
        .alice
        .delete_objects()
        .bucket("bulk")
        .delete(quiet_ids(&["e", "protected/a"], true))
        .send()
        .await
        .unwrap();
    assert!(out.deleted().is_empty());
    assert_eq!(out.errors().len(), 1);
    assert_eq!(out.errors()[0].key(), Some("protected/a"));
    assert_eq!(out.errors()[0].code(), Some("AccessDenied"));

    // Nothing but protected keys, and from an admin (the exemption is for policies only): all
    // refused, nothing deleted.
    let out = s
        .boss
        .delete_objects()
        .bucket("bulk")
        .delete(ids(&["protected/a", "protected/b"]))
        .send()
        .await
        .unwrap();
    assert!(out.deleted().is_empty());
    assert_eq!(out.errors().len(), 2);
    assert_eq!(
        s.keys("bulk").await,
        BTreeSet::from(["protected/a".into(), "protected/b".into()])
    );
    let got = s
        .alice
        .get_object()
        .bucket("bulk")
        .key("protected/b")
        .send()
        .await
        .unwrap();
    assert_eq!(collect(got).await, b"protected/b");

    // Each key's decision is in the access log.
    let log = s.access_log();
    let decided = |key: &str, decision: &str| {
        log.iter().any(|r| {
            r.principal == arn("alice")
                && r.operation == "DeleteObjects"
                && r.action.as_deref() == Some("s3:DeleteObject")
                && r.resource.as_deref() == Some(&format!("arn:aws:s3:::bulk/{key}"))
                && r.decision == decision
        })
    };
    assert!(decided("protected/a", "deny"));
    assert!(decided("protected/b", "deny"));
    assert!(decided("open/c", "allow"));
    assert!(decided("d", "allow"));
}

/// A Deny over everything but one prefix (`NotResource`): the keys under it can be deleted in
/// bulk, which a check of the whole bucket (`bulk2/*`) would have refused.
#[tokio::test]
async fn delete_objects_follows_not_resource_per_key() {
    let s = Setup::start().await;
    s.boss.create_bucket().bucket("bulk2").send().await.unwrap();
    for k in ["scratch/1", "scratch/2", "keep"] {
        s.put("bulk2", k, b"x").await;
    }
    let policy = r#"{"Version": "2012-10-17", "Statement": [
      {"Effect": "Deny", "Principal": "*", "Action": "s3:DeleteObject",
       "NotResource": "arn:aws:s3:::bulk2/scratch/*"}]}"#;
    s.boss
        .put_bucket_policy()
        .bucket("bulk2")
        .policy(policy)
        .send()
        .await
        .unwrap();
    let out = s
        .bob
        .delete_objects()
        .bucket("bulk2")
        .delete(ids(&["scratch/1", "scratch/2", "keep"]))
        .send()
        .await
        .unwrap();
    assert_eq!(out.deleted().len(), 2);
    assert_eq!(out.errors().len(), 1);
    assert_eq!(out.errors()[0].key(), Some("keep"));
    assert_eq!(s.keys("bulk2").await, BTreeSet::from(["keep".into()]));
}

#[tokio::test]
async fn a_copy_is_checked_on_its_whole_source_key() {
    let s = Setup::start().await;
    s.boss.create_bucket().bucket("cpy").send().await.unwrap();
    for k in ["report?secret", "report?public", "report"] {
        s.put("cpy", k, k.as_bytes()).await;
    }
    let policy = r#"{"Version": "2012-10-17", "Statement": [
      {"Sid": "NoSecrets", "Effect": "Deny", "Principal": "*", "Action": "s3:GetObject",
       "Resource": "arn:aws:s3:::cpy/*secret"}]}"#;
    s.boss
        .put_bucket_policy()
        .bucket("cpy")
        .policy(policy)
        .send()
        .await
        .unwrap();
    let c = &s.alice;
    assert_refused!(
        c.get_object()
            .bucket("cpy")
            .key("report?secret")
            .send()
            .await,
        "AccessDenied",
        403
    );
    // Encoded or not, the `?` is part of the key: the source checked is `report?secret`, not
    // `report`.
    for source in [
        "cpy/report%3Fsecret",
        "cpy/report?secret",
        "/cpy/report%3Fsecret",
    ] {
        assert_refused!(
            c.copy_object()
                .bucket("cpy")
                .key("stolen")
                .copy_source(source)
                .send()
                .await,
            "AccessDenied",
            403
        );
    }
    let up = c
        .create_multipart_upload()
        .bucket("cpy")
        .key("stolen-mp")
        .send()
        .await
        .unwrap();
    let id = up.upload_id().unwrap();
    assert_refused!(
        c.upload_part_copy()
            .bucket("cpy")
            .key("stolen-mp")
            .upload_id(id)
            .part_number(1)
            .copy_source("cpy/report%3Fsecret")
            .send()
            .await,
        "AccessDenied",
        403
    );
    c.abort_multipart_upload()
        .bucket("cpy")
        .key("stolen-mp")
        .upload_id(id)
        .send()
        .await
        .unwrap();
    assert!(!s.keys("cpy").await.contains("stolen"));

    // A key with `?` that the policy allows copies, whole.
    c.copy_object()
        .bucket("cpy")
        .key("copied")
        .copy_source("cpy/report%3Fpublic")
        .send()
        .await
        .unwrap();
    let got = c
        .get_object()
        .bucket("cpy")
        .key("copied")
        .send()
        .await
        .unwrap();
    assert_eq!(collect(got).await, b"report?public");

    // What is not `<bucket>/<key>` is refused: malformed (as s3s answers), or an access point.
    assert_refused!(
        c.copy_object()
            .bucket("cpy")
            .key("x")
            .copy_source("no-key-here")
            .send()
            .await,
        "InvalidArgument",
        400
    );
    assert_refused!(
        c.copy_object()
            .bucket("cpy")
            .key("x")
            .copy_source(
                "arn:aws:s3:us-east-1:000000000000:accesspoint/my-ap/object/report%3Fsecret"
            )
            .send()
            .await,
        "AccessDenied",
        403
    );

    let log = s.access_log();
    assert!(log.iter().any(|r| r.principal == arn("alice")
        && r.operation == "CopyObject"
        && r.action.as_deref() == Some("s3:GetObject")
        && r.resource.as_deref() == Some("arn:aws:s3:::cpy/report?secret")
        && r.decision == "deny"
        && r.reason.contains("NoSecrets")));
    assert!(log.iter().any(|r| r.operation == "UploadPartCopy"
        && r.resource.as_deref() == Some("arn:aws:s3:::cpy/report?secret")
        && r.decision == "deny"));
}
