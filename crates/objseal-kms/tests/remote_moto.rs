//! `RemoteKms` against moto's KMS server (started here on 127.0.0.1) and against nothing at all.
//!
//! moto is an independent implementation of the AWS KMS protocol, so this checks our client's wire
//! format against someone else's server. moto does not enforce key states (see
//! `common::scenario::Expect::MOTO`); those rules are checked against our own server instead.

mod common;

use std::time::Duration;

use common::peers::{self, MotoServer};
use common::scenario::{self, Expect};
use objseal_kms::remote::{RemoteConfig, RemoteCredentials, RemoteKms};
use objseal_kms::{Kms, KmsError};

fn config(endpoint: String) -> RemoteConfig {
    RemoteConfig {
        endpoint_url: Some(endpoint),
        region: Some(peers::TEST_REGION.into()),
        credentials: Some(RemoteCredentials::new(
            peers::TEST_ACCESS_KEY_ID,
            peers::TEST_SECRET_ACCESS_KEY,
        )),
        connect_timeout: Duration::from_secs(5),
        operation_timeout: Duration::from_secs(20),
        max_attempts: 1,
        ..RemoteConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_against_moto() {
    let Some(moto) = MotoServer::start() else {
        return;
    };
    let kms = RemoteKms::connect(config(moto.endpoint()))
        .await
        .expect("connect");
    scenario::lifecycle(&kms, Expect::MOTO).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_errors_keep_their_aws_names() {
    let Some(moto) = MotoServer::start() else {
        return;
    };
    let kms = RemoteKms::connect(config(moto.endpoint()))
        .await
        .expect("connect");
    let e = kms
        .describe_key("11111111-2222-4333-8444-555555555555")
        .await
        .unwrap_err();
    assert!(matches!(e, KmsError::NotFound(_)), "{e:?}");
    assert!(e.message().contains("does not exist"), "{e}");
    let e = kms
        .decrypt(
            b"not a ciphertext blob at all, far too short",
            &Default::default(),
            None,
        )
        .await
        .unwrap_err();
    assert!(matches!(e, KmsError::InvalidCiphertext(_)), "{e:?}");
}

#[tokio::test]
async fn unreachable_endpoint_is_a_dependency_failure() {
    // A port that was free a moment ago: nothing listens there.
    let endpoint = format!("http://127.0.0.1:{}", peers::free_port());
    let kms = RemoteKms::connect(RemoteConfig {
        connect_timeout: Duration::from_secs(2),
        operation_timeout: Duration::from_secs(5),
        ..config(endpoint)
    })
    .await
    .expect("connect sends nothing");
    let e = kms.list_keys().await.unwrap_err();
    assert!(matches!(e, KmsError::Dependency(_)), "{e:?}");
    assert_eq!(e.aws_type(), "DependencyTimeoutException");
    assert!(!e.to_string().contains(peers::TEST_SECRET_ACCESS_KEY));
}

#[tokio::test]
async fn malformed_endpoints_are_refused_before_sending() {
    for bad in ["127.0.0.1:7878", "ftp://127.0.0.1/", "http://"] {
        let e = RemoteKms::connect(config(bad.into())).await.unwrap_err();
        assert!(matches!(e, KmsError::Validation(_)), "{bad}: {e:?}");
    }
}

#[tokio::test]
async fn silent_endpoint_times_out_as_a_dependency_failure() {
    // Accepts connections and never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let kms = RemoteKms::connect(RemoteConfig {
        operation_timeout: Duration::from_millis(800),
        ..config(endpoint)
    })
    .await
    .unwrap();
    let started = std::time::Instant::now();
    let e = kms.generate_random(16).await.unwrap_err();
    assert!(matches!(e, KmsError::Dependency(_)), "{e:?}");
    assert!(e.message().contains("in time"), "{e}");
    assert!(started.elapsed() < Duration::from_secs(10));
    drop(listener);
}

#[tokio::test]
async fn non_kms_answers_are_dependency_failures_without_the_body() {
    // A server that answers every request with HTTP 500 and an HTML page, as a broken proxy would.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut s, _)) = listener.accept().await {
            let mut buf = vec![0u8; 65536];
            let _ = s.read(&mut buf).await;
            let body = "<html>SECRET-LOOKING-BODY</html>";
            let reply = format!(
                "HTTP/1.1 500 Internal Server Error\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = s.write_all(reply.as_bytes()).await;
        }
    });
    let kms = RemoteKms::connect(config(endpoint)).await.unwrap();
    let e = kms.generate_random(16).await.unwrap_err();
    assert!(matches!(e, KmsError::Dependency(_)), "{e:?}");
    assert!(e.message().contains("HTTP 500"), "{e}");
    assert!(!e.message().contains("SECRET-LOOKING-BODY"), "{e}");
    server.abort();
}

/// A KMS that ignores delegation (moto, as AWS KMS) would serve every principal with the
/// service's own rights: delegated calls fail closed instead, saying why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delegation_fails_closed_against_a_kms_that_ignores_it() {
    let Some(moto) = MotoServer::start() else {
        return;
    };
    let kms = RemoteKms::connect(config(moto.endpoint()))
        .await
        .expect("connect");
    let key = kms
        .create_key(objseal_kms::CreateKeyRequest::default())
        .await
        .unwrap();
    let alice =
        objseal_kms::principal::Principal::new("alice", "AKIDALICE", "s").identity("000000000000");
    let delegated = kms.on_behalf_of(&objseal_kms::Delegation {
        identity: alice,
        via_service: "s3.us-east-1.amazonaws.com".into(),
        source: None,
        request_id: None,
    });
    let e = delegated
        .generate_data_key(
            &key.arn,
            &objseal_kms::EncryptionContext::new(),
            objseal_kms::DataKeySpec::Aes256,
        )
        .await
        .map(|_| ())
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("did not confirm acting on behalf of alice"),
        "{e}"
    );
    // The service's own calls are unaffected.
    kms.describe_key(&key.arn).await.unwrap();
}
