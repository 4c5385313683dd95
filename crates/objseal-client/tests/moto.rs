//! The client against moto's S3 server, an independent S3 implementation, on loopback.

mod common;

use common::Env;

all_scenarios!(Env::moto().await);

/// CSE-KMS with moto's KMS (an independent AWS KMS implementation) as the key service, over the AWS
/// protocol: data keys from its `GenerateDataKey`, extra recipients by its `Encrypt`, unwrapping by
/// its `Decrypt` pinned to the configured key.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cse_kms_through_a_remote_kms() {
    use std::sync::Arc;

    use objseal_client::{ClientError, GetOptions, Keyring, PutOptions};
    use objseal_kms::Kms;
    use objseal_kms::remote::{RemoteConfig, RemoteCredentials, RemoteKms};

    let Some(env) = Env::moto().await else { return };
    let Some(endpoint) = env.config.endpoint_url.clone() else {
        unreachable!()
    };
    let kms: Arc<dyn Kms> = Arc::new(
        RemoteKms::connect(RemoteConfig {
            endpoint_url: Some(endpoint),
            region: Some("us-east-1".into()),
            credentials: Some(RemoteCredentials::new(
                common::peers::TEST_ACCESS_KEY_ID,
                common::peers::TEST_SECRET_ACCESS_KEY,
            )),
            ..RemoteConfig::default()
        })
        .await
        .unwrap(),
    );
    let (a, b) = (
        common::new_kms_key(kms.as_ref()).await,
        common::new_kms_key(kms.as_ref()).await,
    );
    let writer = env
        .client(
            Keyring::new()
                .with_kms_key(kms.clone(), a.clone())
                .with_kms_key(kms.clone(), b.clone()),
        )
        .await;
    let plaintext = common::data(common::PART + 3);
    writer
        .put("bucket", "remote", &plaintext, &PutOptions::default())
        .await
        .unwrap();
    for arn in [&a, &b] {
        let reader = env
            .client(Keyring::new().with_kms_key(kms.clone(), arn.clone()))
            .await;
        let (got, _) = reader
            .get("bucket", "remote", &GetOptions::default())
            .await
            .unwrap();
        assert!(got == plaintext, "read with {arn}");
    }
    let c = common::new_kms_key(kms.as_ref()).await;
    let stranger = env
        .client(Keyring::new().with_kms_key(kms.clone(), c))
        .await;
    let err = stranger
        .get("bucket", "remote", &GetOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::NoMatchingKey { .. }), "{err:?}");
}
