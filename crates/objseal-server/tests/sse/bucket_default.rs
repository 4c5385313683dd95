//! Bucket default encryption: set, read, removed, and applied to PUT, copy and multipart.

use aws_sdk_s3::types::{
    ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
    ServerSideEncryptionRule,
};

use crate::assert_refused;
use crate::common::*;

fn config(sse: ServerSideEncryption, key: Option<&str>) -> ServerSideEncryptionConfiguration {
    ServerSideEncryptionConfiguration::builder()
        .rules(
            ServerSideEncryptionRule::builder()
                .apply_server_side_encryption_by_default(
                    ServerSideEncryptionByDefault::builder()
                        .sse_algorithm(sse)
                        .set_kms_master_key_id(key.map(str::to_owned))
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .build()
        .unwrap()
}

#[tokio::test]
async fn bucket_default_applies_to_put_copy_and_multipart() {
    let env = Env::start().await;
    env.bucket("dflt").await;
    let c = &env.client;
    let r = c.get_bucket_encryption().bucket("dflt").send().await;
    assert_refused!(r, "ServerSideEncryptionConfigurationNotFoundError", 404);
    let bad = c
        .put_bucket_encryption()
        .bucket("dflt")
        .server_side_encryption_configuration(config(
            ServerSideEncryption::Aes256,
            Some("alias/objseal-default"),
        ))
        .send()
        .await;
    assert_refused!(bad, "InvalidArgument", 400);

    c.put_bucket_encryption()
        .bucket("dflt")
        .server_side_encryption_configuration(config(ServerSideEncryption::Aes256, None))
        .send()
        .await
        .unwrap();
    let got = c
        .get_bucket_encryption()
        .bucket("dflt")
        .send()
        .await
        .unwrap();
    let rule = &got.server_side_encryption_configuration().unwrap().rules()[0];
    assert_eq!(
        rule.apply_server_side_encryption_by_default()
            .unwrap()
            .sse_algorithm(),
        &ServerSideEncryption::Aes256
    );
    let put = c
        .put_object()
        .bucket("dflt")
        .key("a")
        .body(body(b"default"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        put.server_side_encryption(),
        Some(&ServerSideEncryption::Aes256)
    );

    c.put_bucket_encryption()
        .bucket("dflt")
        .server_side_encryption_configuration(config(
            ServerSideEncryption::AwsKms,
            Some("alias/objseal-default"),
        ))
        .send()
        .await
        .unwrap();
    let put = c
        .put_object()
        .bucket("dflt")
        .key("b")
        .body(body(b"kms default"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        put.server_side_encryption(),
        Some(&ServerSideEncryption::AwsKms)
    );
    let cp = c
        .copy_object()
        .bucket("dflt")
        .key("c")
        .copy_source("dflt/a")
        .send()
        .await
        .unwrap();
    assert_eq!(
        cp.server_side_encryption(),
        Some(&ServerSideEncryption::AwsKms)
    );
    let up = c
        .create_multipart_upload()
        .bucket("dflt")
        .key("m")
        .send()
        .await
        .unwrap();
    assert_eq!(
        up.server_side_encryption(),
        Some(&ServerSideEncryption::AwsKms)
    );
    // An explicit request wins over the default.
    let put = c
        .put_object()
        .bucket("dflt")
        .key("e")
        .server_side_encryption(ServerSideEncryption::Aes256)
        .body(body(b"x"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        put.server_side_encryption(),
        Some(&ServerSideEncryption::Aes256)
    );
    assert_eq!(
        collect(c.get_object().bucket("dflt").key("c").send().await.unwrap()).await,
        b"default"
    );

    c.delete_bucket_encryption()
        .bucket("dflt")
        .send()
        .await
        .unwrap();
    assert_refused!(
        c.get_bucket_encryption().bucket("dflt").send().await,
        "ServerSideEncryptionConfigurationNotFoundError",
        404
    );
    let put = c
        .put_object()
        .bucket("dflt")
        .key("f")
        .body(body(b"plain"))
        .send()
        .await
        .unwrap();
    assert!(put.server_side_encryption().is_none());
    env.stop().await;
}

/// A server-wide default (`SseConfig::default_encryption`, `objseal serve --default-encryption`)
/// encrypts writes that ask for nothing in buckets without a default of their own; a bucket's own
/// default and a request's own headers still win.
#[tokio::test]
async fn a_server_wide_default_leaves_nothing_in_plaintext() {
    let dir = tempfile::tempdir().unwrap();
    let mut server_config = objseal_server::server::ServerConfig::new(dir.path())
        .with_listen("127.0.0.1:0".parse().unwrap());
    server_config.sse.default_encryption = Some(objseal_server::DefaultEncryption::SseS3);
    let _backend = crate::backend::attach(&mut server_config);
    let server = objseal_server::server::Server::start(server_config)
        .await
        .unwrap();
    let c = crate::common::client_for(&server);
    c.create_bucket().bucket("dflt").send().await.unwrap();
    let b = crate::common::data(5_000, 3);
    let put = c
        .put_object()
        .bucket("dflt")
        .key("k")
        .body(crate::common::body(&b))
        .send()
        .await
        .unwrap();
    assert_eq!(
        put.server_side_encryption(),
        Some(&ServerSideEncryption::Aes256)
    );
    let got = c.get_object().bucket("dflt").key("k").send().await.unwrap();
    assert_eq!(
        got.server_side_encryption(),
        Some(&ServerSideEncryption::Aes256)
    );
    assert_eq!(got.body.collect().await.unwrap().to_vec(), b);
    // A bucket's own default wins.
    c.put_bucket_encryption()
        .bucket("dflt")
        .server_side_encryption_configuration(config(ServerSideEncryption::AwsKms, None))
        .send()
        .await
        .unwrap();
    let put = c
        .put_object()
        .bucket("dflt")
        .key("k2")
        .body(crate::common::body(&b))
        .send()
        .await
        .unwrap();
    assert_eq!(
        put.server_side_encryption(),
        Some(&ServerSideEncryption::AwsKms)
    );
    server.shutdown().await.unwrap();
}
