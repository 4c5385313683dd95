//! S3's `BlockedEncryptionTypes` in the bucket encryption configuration, through the AWS SDK for
//! Rust (whose `ServerSideEncryptionRule` has the field, so the XML is the SDK's own): set, read
//! back, kept across a restart, enforced on PutObject, PostObject, CopyObject and
//! CreateMultipartUpload with 403 `AccessDenied` (refused writes store nothing; reads still work),
//! validated, governed by the bucket policy, and cleared by DeleteBucketEncryption. Also
//! GetBucketEncryption reporting the server-wide default.

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::SdkBody;
use aws_sdk_s3::types::{
    BlockedEncryptionTypes, EncryptionType, ServerSideEncryption, ServerSideEncryptionByDefault,
    ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, KeyInit as _, Mac as _};
use objseal_server::server::{RunningServer, Server, ServerConfig};
use sha2::Sha256;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::assert_refused;
use crate::common::*;

/// A configuration of one rule: `default` (if any) and `blocked` (if any).
fn config(
    default: Option<ServerSideEncryption>,
    blocked: Option<&[EncryptionType]>,
) -> ServerSideEncryptionConfiguration {
    let rule = ServerSideEncryptionRule::builder()
        .set_apply_server_side_encryption_by_default(default.map(|sse| {
            ServerSideEncryptionByDefault::builder()
                .sse_algorithm(sse)
                .build()
                .unwrap()
        }))
        .set_blocked_encryption_types(blocked.map(|types| {
            BlockedEncryptionTypes::builder()
                .set_encryption_type(Some(types.to_vec()))
                .build()
        }))
        .build();
    ServerSideEncryptionConfiguration::builder()
        .rules(rule)
        .build()
        .unwrap()
}

async fn put_config(
    c: &Client,
    bucket: &str,
    config: ServerSideEncryptionConfiguration,
) -> Result<(), String> {
    c.put_bucket_encryption()
        .bucket(bucket)
        .server_side_encryption_configuration(config)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| {
            let (code, status) = code_status(&e);
            format!("{code} {status}")
        })
}

/// The bucket's rule as GetBucketEncryption reports it.
async fn rule(c: &Client, bucket: &str) -> ServerSideEncryptionRule {
    let got = c
        .get_bucket_encryption()
        .bucket(bucket)
        .send()
        .await
        .unwrap();
    let rules = got.server_side_encryption_configuration().unwrap().rules();
    assert_eq!(rules.len(), 1, "{rules:?}");
    rules[0].clone()
}

fn blocked_of(rule: &ServerSideEncryptionRule) -> Vec<EncryptionType> {
    rule.blocked_encryption_types()
        .map(|b| b.encryption_type().to_vec())
        .unwrap_or_default()
}

fn default_of(rule: &ServerSideEncryptionRule) -> Option<ServerSideEncryption> {
    rule.apply_server_side_encryption_by_default()
        .map(|d| d.sse_algorithm().clone())
}

async fn exists(c: &Client, bucket: &str, key: &str) -> bool {
    match c.head_object().bucket(bucket).key(key).send().await {
        Ok(_) => true,
        Err(e) => {
            assert_eq!(code_status(&e).1, 404, "{e:?}");
            false
        }
    }
}

async fn put_ssec(c: &Client, bucket: &str, key: &str, ck: &CustomerKey) -> Result<(), String> {
    c.put_object()
        .bucket(bucket)
        .key(key)
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&ck.b64)
        .sse_customer_key_md5(&ck.md5)
        .body(body(b"customer keyed"))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| {
            let (code, status) = code_status(&e);
            format!("{code} {status}")
        })
}

/// An HTML-form upload (PostObject) signed with a SigV4 POST policy, sent over a raw connection:
/// the SDK has no PostObject. Returns the status and the body.
async fn post_form(
    server: &RunningServer,
    bucket: &str,
    key: &str,
    extra_fields: &[(&str, &str)],
    file: &[u8],
) -> (u16, String) {
    let access = server.access_key();
    let now = time::OffsetDateTime::now_utc();
    let date = format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    );
    let day = &date[..8];
    let credential = format!("{}/{day}/us-east-1/s3/aws4_request", access.id);
    let later = now + time::Duration::hours(1);
    let expiration = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.000Z",
        later.year(),
        u8::from(later.month()),
        later.day(),
        later.hour(),
        later.minute(),
        later.second()
    );
    let policy = serde_json::json!({
        "expiration": expiration,
        "conditions": [
            {"bucket": bucket},
            {"key": key},
            {"x-amz-algorithm": "AWS4-HMAC-SHA256"},
            {"x-amz-credential": credential},
            {"x-amz-date": date},
        ],
    });
    let policy = B64.encode(policy.to_string());
    let mac = |k: &[u8], data: &str| {
        let mut m = Hmac::<Sha256>::new_from_slice(k).unwrap();
        m.update(data.as_bytes());
        m.finalize().into_bytes().to_vec()
    };
    let mut signing = mac(format!("AWS4{}", access.secret.as_str()).as_bytes(), day);
    for part in ["us-east-1", "s3", "aws4_request"] {
        signing = mac(&signing, part);
    }
    let signature = hex::encode(mac(&signing, &policy));
    let mut fields = vec![
        ("key", key),
        ("x-amz-algorithm", "AWS4-HMAC-SHA256"),
        ("x-amz-credential", credential.as_str()),
        ("x-amz-date", date.as_str()),
        ("policy", policy.as_str()),
        ("x-amz-signature", signature.as_str()),
    ];
    fields.extend_from_slice(extra_fields);
    let boundary = "objseal-blocked-types-boundary";
    let mut form = Vec::new();
    for (name, value) in fields {
        form.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    form.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f\"\r\n\
             Content-Type: application/octet-stream\r\n\r\n"
        )
        .as_bytes(),
    );
    form.extend_from_slice(file);
    form.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let addr = server.local_addr();
    let mut request = format!(
        "POST /{bucket} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: multipart/form-data; \
         boundary={boundary}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        form.len()
    )
    .into_bytes();
    request.extend_from_slice(&form);
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    conn.write_all(&request).await.unwrap();
    let mut response = Vec::new();
    conn.read_to_end(&mut response).await.unwrap();
    let response = String::from_utf8_lossy(&response).into_owned();
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, response)
}

#[tokio::test]
async fn blocking_sse_c_refuses_every_sse_c_write_and_nothing_else() {
    let env = Env::start().await;
    env.bucket("blk").await;
    let c = &env.client;
    let ck = customer_key(0x42);
    // Before the block: SSE-C is allowed.
    put_ssec(c, "blk", "old", &ck).await.unwrap();

    put_config(
        c,
        "blk",
        config(
            Some(ServerSideEncryption::Aes256),
            Some(&[EncryptionType::SseC]),
        ),
    )
    .await
    .unwrap();
    let r = rule(c, "blk").await;
    assert_eq!(blocked_of(&r), [EncryptionType::SseC]);
    assert_eq!(default_of(&r), Some(ServerSideEncryption::Aes256));

    // PutObject with SSE-C: 403, nothing stored.
    assert_eq!(
        put_ssec(c, "blk", "new", &ck).await.unwrap_err(),
        "AccessDenied 403"
    );
    assert!(!exists(c, "blk", "new").await);
    // Other writes go on, with the bucket default or their own encryption.
    let put = c
        .put_object()
        .bucket("blk")
        .key("plain")
        .body(body(b"p"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        put.server_side_encryption(),
        Some(&ServerSideEncryption::Aes256)
    );
    let put = c
        .put_object()
        .bucket("blk")
        .key("kms")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .body(body(b"k"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        put.server_side_encryption(),
        Some(&ServerSideEncryption::AwsKms)
    );

    // CopyObject: an SSE-C destination is refused; reading an SSE-C source is not.
    assert_refused!(
        c.copy_object()
            .bucket("blk")
            .key("copy-c")
            .copy_source("blk/old")
            .copy_source_sse_customer_algorithm("AES256")
            .copy_source_sse_customer_key(&ck.b64)
            .copy_source_sse_customer_key_md5(&ck.md5)
            .sse_customer_algorithm("AES256")
            .sse_customer_key(&ck.b64)
            .sse_customer_key_md5(&ck.md5)
            .send()
            .await,
        "AccessDenied",
        403
    );
    assert!(!exists(c, "blk", "copy-c").await);
    let cp = c
        .copy_object()
        .bucket("blk")
        .key("copy-plain")
        .copy_source("blk/old")
        .copy_source_sse_customer_algorithm("AES256")
        .copy_source_sse_customer_key(&ck.b64)
        .copy_source_sse_customer_key_md5(&ck.md5)
        .send()
        .await
        .unwrap();
    assert_eq!(
        cp.server_side_encryption(),
        Some(&ServerSideEncryption::Aes256)
    );
    let old = c
        .get_object()
        .bucket("blk")
        .key("old")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&ck.b64)
        .sse_customer_key_md5(&ck.md5)
        .send()
        .await
        .unwrap();
    assert_eq!(collect(old).await, b"customer keyed");

    // CreateMultipartUpload with SSE-C: refused, no upload left behind.
    assert_refused!(
        c.create_multipart_upload()
            .bucket("blk")
            .key("mp")
            .sse_customer_algorithm("AES256")
            .sse_customer_key(&ck.b64)
            .sse_customer_key_md5(&ck.md5)
            .send()
            .await,
        "AccessDenied",
        403
    );
    let uploads = c
        .list_multipart_uploads()
        .bucket("blk")
        .send()
        .await
        .unwrap();
    assert!(uploads.uploads().is_empty(), "{uploads:?}");

    // PostObject (HTML form upload) with SSE-C: refused; without it: stored.
    let server = env.server();
    let ssec_form = [
        ("x-amz-server-side-encryption-customer-algorithm", "AES256"),
        ("x-amz-server-side-encryption-customer-key", ck.b64.as_str()),
        (
            "x-amz-server-side-encryption-customer-key-md5",
            ck.md5.as_str(),
        ),
    ];
    let (status, answer) = post_form(server, "blk", "post-c", &ssec_form, b"form").await;
    assert_eq!(status, 403, "{answer}");
    assert!(answer.contains("<Code>AccessDenied</Code>"), "{answer}");
    assert!(answer.contains("blocks writes with SSE-C"), "{answer}");
    assert!(!exists(c, "blk", "post-c").await);
    let (status, answer) = post_form(server, "blk", "post-plain", &[], b"form").await;
    assert!((200..300).contains(&status), "{answer}");

    let listed = c.list_objects_v2().bucket("blk").send().await.unwrap();
    let keys: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["copy-plain", "kms", "old", "plain", "post-plain"]);

    // Kept across a restart.
    let dir = env.stop().await;
    let env = Env::start_in(dir).await;
    let c = &env.client;
    assert_eq!(blocked_of(&rule(c, "blk").await), [EncryptionType::SseC]);
    assert_eq!(
        put_ssec(c, "blk", "new", &ck).await.unwrap_err(),
        "AccessDenied 403"
    );

    // DeleteBucketEncryption clears the block with the default.
    c.delete_bucket_encryption()
        .bucket("blk")
        .send()
        .await
        .unwrap();
    assert_refused!(
        c.get_bucket_encryption().bucket("blk").send().await,
        "ServerSideEncryptionConfigurationNotFoundError",
        404
    );
    put_ssec(c, "blk", "new", &ck).await.unwrap();
    let ssec_form = [
        ("x-amz-server-side-encryption-customer-algorithm", "AES256"),
        ("x-amz-server-side-encryption-customer-key", ck.b64.as_str()),
        (
            "x-amz-server-side-encryption-customer-key-md5",
            ck.md5.as_str(),
        ),
    ];
    let (status, answer) = post_form(env.server(), "blk", "post-c", &ssec_form, b"form").await;
    assert!((200..300).contains(&status), "{answer}");
    let head = c
        .head_object()
        .bucket("blk")
        .key("post-c")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&ck.b64)
        .sse_customer_key_md5(&ck.md5)
        .send()
        .await
        .unwrap();
    assert_eq!(head.sse_customer_algorithm(), Some("AES256"));
    env.stop().await;
}

#[tokio::test]
async fn none_blocks_nothing_and_bad_configurations_change_nothing() {
    let env = Env::start().await;
    env.bucket("cfg").await;
    let c = &env.client;
    let ck = customer_key(7);

    // NONE: S3's explicit "SSE-C allowed"; reported back as sent.
    put_config(
        c,
        "cfg",
        config(
            Some(ServerSideEncryption::AwsKms),
            Some(&[EncryptionType::None]),
        ),
    )
    .await
    .unwrap();
    assert_eq!(blocked_of(&rule(c, "cfg").await), [EncryptionType::None]);
    put_ssec(c, "cfg", "c1", &ck).await.unwrap();

    // Refused configurations leave the last one in place.
    let refused = [
        (
            config(None, Some(&[EncryptionType::SseC, EncryptionType::None])),
            "InvalidArgument 400",
        ),
        (
            config(None, Some(&[EncryptionType::from("SSE-KMS")])),
            "InvalidArgument 400",
        ),
        // A rule with neither a default nor a blocked type.
        (config(None, Some(&[])), "MalformedXML 400"),
    ];
    for (bad, want) in refused {
        assert_eq!(put_config(c, "cfg", bad).await.unwrap_err(), want);
        let r = rule(c, "cfg").await;
        assert_eq!(blocked_of(&r), [EncryptionType::None]);
        assert_eq!(default_of(&r), Some(ServerSideEncryption::AwsKms));
    }
    // XML the SDK would not write, signed as it sends it: the element twice, an unknown element.
    for xml in [
        "<ServerSideEncryptionConfiguration><Rule>\
         <BlockedEncryptionTypes><EncryptionType>SSE-C</EncryptionType></BlockedEncryptionTypes>\
         <BlockedEncryptionTypes><EncryptionType>SSE-C</EncryptionType></BlockedEncryptionTypes>\
         </Rule></ServerSideEncryptionConfiguration>",
        "<ServerSideEncryptionConfiguration><Rule>\
         <BlockedEncryptionTypes><Type>SSE-C</Type></BlockedEncryptionTypes>\
         </Rule></ServerSideEncryptionConfiguration>",
    ] {
        let r = c
            .put_bucket_encryption()
            .bucket("cfg")
            .server_side_encryption_configuration(config(Some(ServerSideEncryption::Aes256), None))
            .customize()
            .mutate_request(move |r| {
                *r.body_mut() = SdkBody::from(xml);
                r.headers_mut()
                    .insert("content-length", xml.len().to_string());
                r.headers_mut().remove("content-md5");
            })
            .send()
            .await;
        assert_refused!(r, "MalformedXML", 400);
        assert_eq!(blocked_of(&rule(c, "cfg").await), [EncryptionType::None]);
    }
    // A body beyond the route's limit is not read to its end.
    let huge = format!(
        "<ServerSideEncryptionConfiguration><Rule>{}</Rule></ServerSideEncryptionConfiguration>",
        "<BlockedEncryptionTypes/>".repeat(4000)
    );
    let r = c
        .put_bucket_encryption()
        .bucket("cfg")
        .server_side_encryption_configuration(config(Some(ServerSideEncryption::Aes256), None))
        .customize()
        .mutate_request(move |r| {
            r.headers_mut()
                .insert("content-length", huge.len().to_string());
            r.headers_mut().remove("content-md5");
            *r.body_mut() = SdkBody::from(huge.clone());
        })
        .send()
        .await;
    assert_refused!(r, "MaxMessageLengthExceeded", 400);

    // A rule that only blocks: no default of its own (and no server-wide one here).
    put_config(c, "cfg", config(None, Some(&[EncryptionType::SseC])))
        .await
        .unwrap();
    let r = rule(c, "cfg").await;
    assert_eq!(blocked_of(&r), [EncryptionType::SseC]);
    assert_eq!(default_of(&r), None);
    let put = c
        .put_object()
        .bucket("cfg")
        .key("plain")
        .body(body(b"p"))
        .send()
        .await
        .unwrap();
    assert!(put.server_side_encryption().is_none());
    assert_eq!(
        put_ssec(c, "cfg", "c2", &ck).await.unwrap_err(),
        "AccessDenied 403"
    );
    // A configuration without the element replaces the block.
    put_config(c, "cfg", config(Some(ServerSideEncryption::Aes256), None))
        .await
        .unwrap();
    let r = rule(c, "cfg").await;
    assert!(r.blocked_encryption_types().is_none(), "{r:?}");
    put_ssec(c, "cfg", "c2", &ck).await.unwrap();
    env.stop().await;
}

/// The rewritten request meets the access gate like any other: a bucket policy that denies
/// changing or reading the configuration refuses both, and nothing changes.
#[tokio::test]
async fn the_bucket_policy_governs_the_configuration() {
    let env = Env::start().await;
    env.bucket("gov").await;
    let c = &env.client;
    let deny = r#"{"Version": "2012-10-17", "Statement": [
      {"Sid": "NoEncryptionChanges", "Effect": "Deny", "Principal": "*",
       "Action": ["s3:PutEncryptionConfiguration", "s3:GetEncryptionConfiguration"],
       "Resource": "arn:aws:s3:::gov"}]}"#;
    c.put_bucket_policy()
        .bucket("gov")
        .policy(deny)
        .send()
        .await
        .unwrap();
    assert_eq!(
        put_config(c, "gov", config(None, Some(&[EncryptionType::SseC])))
            .await
            .unwrap_err(),
        "AccessDenied 403"
    );
    assert_refused!(
        c.get_bucket_encryption().bucket("gov").send().await,
        "AccessDenied",
        403
    );
    c.delete_bucket_policy().bucket("gov").send().await.unwrap();
    assert_refused!(
        c.get_bucket_encryption().bucket("gov").send().await,
        "ServerSideEncryptionConfigurationNotFoundError",
        404
    );
    put_ssec(c, "gov", "c", &customer_key(1)).await.unwrap();
    env.stop().await;
}

async fn server_with_default(
    dir: &tempfile::TempDir,
    default: objseal_server::DefaultEncryption,
) -> (RunningServer, Option<crate::backend::Backend>) {
    let mut config = ServerConfig::new(dir.path()).with_listen("127.0.0.1:0".parse().unwrap());
    config.sse.allow_ssec_over_http = true;
    config.sse.default_encryption = Some(default);
    let backend = crate::backend::attach(&mut config);
    (Server::start(config).await.unwrap(), backend)
}

/// GetBucketEncryption of a bucket without its own default reports the server-wide one (as Amazon
/// S3 reports its SSE-S3 default), also in a rule that only blocks types.
#[tokio::test]
async fn get_bucket_encryption_reports_the_server_wide_default() {
    let dir = tempfile::tempdir().unwrap();
    let (server, _backend) =
        server_with_default(&dir, objseal_server::DefaultEncryption::SseS3).await;
    let c = client_for(&server);
    c.create_bucket().bucket("dflt").send().await.unwrap();
    let r = rule(&c, "dflt").await;
    assert_eq!(default_of(&r), Some(ServerSideEncryption::Aes256));
    assert_eq!(r.bucket_key_enabled(), Some(false));
    assert!(r.blocked_encryption_types().is_none());

    put_config(&c, "dflt", config(None, Some(&[EncryptionType::SseC])))
        .await
        .unwrap();
    let r = rule(&c, "dflt").await;
    assert_eq!(default_of(&r), Some(ServerSideEncryption::Aes256));
    assert_eq!(blocked_of(&r), [EncryptionType::SseC]);
    let put = c
        .put_object()
        .bucket("dflt")
        .key("k")
        .body(body(b"x"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        put.server_side_encryption(),
        Some(&ServerSideEncryption::Aes256)
    );
    server.shutdown().await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    let (server, _backend) =
        server_with_default(&dir, objseal_server::DefaultEncryption::SseKms).await;
    let c = client_for(&server);
    c.create_bucket().bucket("dflt").send().await.unwrap();
    let r = rule(&c, "dflt").await;
    assert_eq!(default_of(&r), Some(ServerSideEncryption::AwsKms));
    assert!(
        r.apply_server_side_encryption_by_default()
            .unwrap()
            .kms_master_key_id()
            .is_none()
    );
    server.shutdown().await.unwrap();
}

/// Form uploads meet the bucket policy on the form's key and encryption fields, which the access
/// gate cannot see (they are in the body): a protected prefix and a required `aws:kms` hold for
/// POST as for PUT.
#[tokio::test]
async fn form_uploads_meet_the_bucket_policy_on_their_fields() {
    let env = Env::start().await;
    env.bucket("formpol").await;
    let c = &env.client;
    c.put_bucket_policy()
        .bucket("formpol")
        .policy(
            r#"{"Version": "2012-10-17", "Statement": [
              {"Sid": "Protected", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
               "Resource": "arn:aws:s3:::formpol/protected/*"},
              {"Sid": "RequireKms", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
               "Resource": "arn:aws:s3:::formpol/*",
               "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}}}]}"#,
        )
        .send()
        .await
        .unwrap();
    let server = env.server();
    let kms = [("x-amz-server-side-encryption", "aws:kms")];
    let (status, answer) = post_form(server, "formpol", "plain", &[], b"form").await;
    assert_eq!(status, 403, "{answer}");
    let (status, answer) = post_form(server, "formpol", "protected/x", &kms, b"form").await;
    assert_eq!(status, 403, "{answer}");
    assert!(answer.contains("<Code>AccessDenied</Code>"), "{answer}");
    let (status, answer) = post_form(server, "formpol", "open", &kms, b"form").await;
    assert!((200..300).contains(&status), "{answer}");
    assert!(!exists(c, "formpol", "plain").await);
    assert!(!exists(c, "formpol", "protected/x").await);
    let head = c
        .head_object()
        .bucket("formpol")
        .key("open")
        .send()
        .await
        .unwrap();
    assert_eq!(
        head.server_side_encryption(),
        Some(&ServerSideEncryption::AwsKms)
    );
}
