//! Bucket policies that enforce encryption: set (validated), enforced before the store is touched,
//! kept across a restart, and removed.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ServerSideEncryption;

use crate::assert_refused;
use crate::common::{Env, body, client_for, data};

const DENY_UNLESS_KMS: &str = r#"{"Version": "2012-10-17", "Statement": [
  {"Sid": "DenyUnencryptedOrSseS3", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
   "Resource": "arn:aws:s3:::pol/*",
   "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}}}]}"#;

#[tokio::test]
async fn a_bucket_policy_that_requires_sse_kms_refuses_everything_else() {
    let env = Env::start().await;
    env.bucket("pol").await;
    let c = &env.client;
    let b = data(10_000, 9);
    c.put_object()
        .bucket("pol")
        .key("before")
        .body(body(&b))
        .send()
        .await
        .unwrap();
    c.put_bucket_policy()
        .bucket("pol")
        .policy(DENY_UNLESS_KMS)
        .send()
        .await
        .unwrap();
    let got = c.get_bucket_policy().bucket("pol").send().await.unwrap();
    assert_eq!(got.policy(), Some(DENY_UNLESS_KMS));
    // (1) plaintext and SSE-S3 uploads are refused and store nothing; SSE-KMS goes through.
    assert_refused!(
        c.put_object()
            .bucket("pol")
            .key("plain")
            .body(body(&b))
            .send()
            .await,
        "AccessDenied",
        403
    );
    assert_refused!(
        c.put_object()
            .bucket("pol")
            .key("s3")
            .server_side_encryption(ServerSideEncryption::Aes256)
            .body(body(&b))
            .send()
            .await,
        "AccessDenied",
        403
    );
    assert_refused!(
        c.create_multipart_upload()
            .bucket("pol")
            .key("mp")
            .send()
            .await,
        "AccessDenied",
        403
    );
    c.put_object()
        .bucket("pol")
        .key("kms")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .body(body(&b))
        .send()
        .await
        .unwrap();
    let listed = c.list_objects_v2().bucket("pol").send().await.unwrap();
    let keys: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["before", "kms"]);
    // Reads are not restricted by this policy.
    let out = c
        .get_object()
        .bucket("pol")
        .key("kms")
        .send()
        .await
        .unwrap();
    assert_eq!(out.body.collect().await.unwrap().to_vec(), b);
    // A copy into the bucket is a PUT too: refused without aws:kms.
    assert_refused!(
        c.copy_object()
            .bucket("pol")
            .key("copy")
            .copy_source("pol/before")
            .send()
            .await,
        "AccessDenied",
        403
    );

    // (2) A policy that requires one KMS key refuses another.
    let arn = env.server().default_kms_key_arn().to_owned();
    let one_key = format!(
        r#"{{"Version": "2012-10-17", "Statement": [
          {{"Sid": "OnlyTheDefaultKey", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
            "Resource": "arn:aws:s3:::pol/*",
            "Condition": {{"StringNotEquals": {{"s3:x-amz-server-side-encryption-aws-kms-key-id": "{arn}"}}}}}}]}}"#
    );
    c.put_bucket_policy()
        .bucket("pol")
        .policy(&one_key)
        .send()
        .await
        .unwrap();
    let other = arn.replace(
        arn.rsplit('/').next().unwrap(),
        "00000000-0000-4000-8000-000000000000",
    );
    assert_refused!(
        c.put_object()
            .bucket("pol")
            .key("other-key")
            .server_side_encryption(ServerSideEncryption::AwsKms)
            .ssekms_key_id(&other)
            .body(body(&b))
            .send()
            .await,
        "AccessDenied",
        403
    );
    c.put_object()
        .bucket("pol")
        .key("right-key")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .ssekms_key_id(&arn)
        .body(body(&b))
        .send()
        .await
        .unwrap();

    // Malformed policies change nothing.
    for bad in [
        "not json",
        r#"{"Statement": {"Effect": "Deny", "Principal": "*", "Action": "s3:Frob", "Resource": "*"}}"#,
        r#"{"Statement": {"Effect": "Deny", "Principal": "*", "Action": "s3:PutObject", "Resource": "*", "Condition": {"NumericEquals": {"a": "1"}}}}"#,
    ] {
        assert_refused!(
            c.put_bucket_policy().bucket("pol").policy(bad).send().await,
            "MalformedPolicy",
            400
        );
    }
    assert_eq!(
        c.get_bucket_policy()
            .bucket("pol")
            .send()
            .await
            .unwrap()
            .policy(),
        Some(one_key.as_str())
    );

    // Kept across a restart: the new server loads it before serving.
    let dir = env.stop().await;
    let env = Env::start_in(dir).await;
    let c = client_for(env.server());
    assert_refused!(
        c.put_object()
            .bucket("pol")
            .key("after-restart")
            .body(ByteStream::from(b.clone()))
            .send()
            .await,
        "AccessDenied",
        403
    );
    c.delete_bucket_policy().bucket("pol").send().await.unwrap();
    assert_refused!(
        c.get_bucket_policy().bucket("pol").send().await,
        "NoSuchBucketPolicy",
        404
    );
    c.put_object()
        .bucket("pol")
        .key("after-delete")
        .body(ByteStream::from(b))
        .send()
        .await
        .unwrap();
    env.stop().await;
}
