//! The KMS wrap of OSE1 data keys (`objseal_kms::envelope`, FORMAT.md §7 algorithm 2): a whole
//! object's key path through the embedded keystore — data key from the KMS, blob in the container,
//! header verified under the unwrapped key — with every refusal the KMS owes; and the same wrap
//! through `RemoteKms` against moto's KMS server, an independent implementation.

mod common;

use objseal_core::format::container::{self, ContainerPrefix};
use objseal_core::format::wrapped_key::{WrapAlgorithm, WrappedKey};
use objseal_core::{ObjectKey, ObjectParams, context_hash};
use objseal_kms::keystore::block_on;
use objseal_kms::{CreateKeyRequest, Kms, KmsError, LocalKms, LocalKmsConfig, RootKey, envelope};

fn local() -> (tempfile::TempDir, LocalKms) {
    let dir = tempfile::tempdir().unwrap();
    let kms = LocalKms::open(LocalKmsConfig::new(
        dir.path().join("keys.osks"),
        RootKey::from_bytes([3; 32]),
    ))
    .unwrap();
    (dir, kms)
}

fn ctx() -> [u8; 32] {
    context_hash(&[("bucket", "photos"), ("key", "cat.jpg")]).unwrap()
}

/// Re-encodes `blob` with one field changed by `change`.
fn altered<'a>(blob: &'a [u8], change: impl FnOnce(&mut WrappedKey<'a>)) -> Vec<u8> {
    let mut parsed = WrappedKey::parse(blob).unwrap();
    change(&mut parsed);
    let mut out = vec![0u8; parsed.encoded_len()];
    parsed.encode(&mut out).unwrap();
    out
}

#[test]
fn an_object_key_goes_through_the_kms_and_its_container() {
    block_on(async {
        let (_dir, kms) = local();
        let key = kms.create_key(CreateKeyRequest::default()).await.unwrap();
        kms.create_alias("alias/photos", &key.key_id).await.unwrap();
        let (dek, blob) = envelope::new_data_key(&kms, "alias/photos", &ctx())
            .await
            .unwrap();

        // The blob names the key ARN and version the KMS used.
        let parsed = WrappedKey::parse(&blob).unwrap();
        assert_eq!(parsed.algorithm, WrapAlgorithm::Kms);
        assert_eq!(parsed.key_id, key.arn);
        assert_eq!(parsed.key_version, 1);

        // An object sealed under the data key, its prefix holding the blob; reading it back.
        let object = ObjectKey::create(&dek, &ObjectParams::random(ctx()).unwrap()).unwrap();
        let mut prefix = vec![0u8; container::MAX_PREFIX_LEN];
        let n = container::write_prefix(object.header(), &[&blob], &mut prefix).unwrap();
        let read = ContainerPrefix::parse(&prefix[..n]).unwrap();
        let stored = read.wrapped_keys().next().unwrap().unwrap();
        let unwrapped = envelope::unwrap_data_key(&kms, &stored, &ctx())
            .await
            .unwrap();
        assert_eq!(unwrapped, dek);
        ObjectKey::open_with_context(&unwrapped, &read.header, &ctx()).unwrap();

        // Rotation: the old blob still unwraps; new ones name version 2.
        kms.rotate_key_on_demand(&key.key_id).await.unwrap();
        assert_eq!(
            envelope::unwrap_data_key(&kms, &parsed, &ctx())
                .await
                .unwrap(),
            dek
        );
        let (_, newer) = envelope::new_data_key(&kms, &key.key_id, &ctx())
            .await
            .unwrap();
        assert_eq!(WrappedKey::parse(&newer).unwrap().key_version, 2);
    });
}

#[test]
fn the_kms_refuses_another_context_salt_key_or_algorithm() {
    block_on(async {
        let (_dir, kms) = local();
        let key = kms.create_key(CreateKeyRequest::default()).await.unwrap();
        let other = kms.create_key(CreateKeyRequest::default()).await.unwrap();
        let (_, blob) = envelope::new_data_key(&kms, &key.key_id, &ctx())
            .await
            .unwrap();
        let parsed = WrappedKey::parse(&blob).unwrap();

        let other_ctx = context_hash(&[("bucket", "photos"), ("key", "dog.jpg")]).unwrap();
        let e = envelope::unwrap_data_key(&kms, &parsed, &other_ctx)
            .await
            .unwrap_err();
        assert!(matches!(e, KmsError::InvalidCiphertext(_)), "{e:?}");

        let salted = altered(&blob, |b| b.wrap_salt[0] ^= 1);
        let e = envelope::unwrap_data_key(&kms, &WrappedKey::parse(&salted).unwrap(), &ctx())
            .await
            .unwrap_err();
        assert!(matches!(e, KmsError::InvalidCiphertext(_)), "{e:?}");

        let renamed = altered(&blob, |b| b.key_id = &other.arn);
        let e = envelope::unwrap_data_key(&kms, &WrappedKey::parse(&renamed).unwrap(), &ctx())
            .await
            .unwrap_err();
        assert!(matches!(e, KmsError::IncorrectKey(_)), "{e:?}");

        let local_alg = WrappedKey {
            algorithm: WrapAlgorithm::LocalKek,
            ..parsed
        };
        let e = envelope::unwrap_data_key(&kms, &local_alg, &ctx())
            .await
            .unwrap_err();
        assert!(matches!(e, KmsError::Validation(_)), "{e:?}");

        // Key states: a disabled key neither makes nor unwraps data keys.
        kms.disable_key(&key.key_id).await.unwrap();
        let e = envelope::unwrap_data_key(&kms, &parsed, &ctx())
            .await
            .unwrap_err();
        assert!(matches!(e, KmsError::Disabled(_)), "{e:?}");
        let e = envelope::new_data_key(&kms, &key.key_id, &ctx())
            .await
            .unwrap_err();
        assert!(matches!(e, KmsError::Disabled(_)), "{e:?}");
    });
}

/// The same wrap through the AWS SDK client against moto: an independent KMS accepts our context
/// binding and refuses another context.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg(feature = "remote")]
async fn the_wrap_works_against_moto() {
    use std::time::Duration;

    use common::peers::{self, MotoServer};
    use objseal_kms::remote::{RemoteConfig, RemoteCredentials, RemoteKms};
    let Some(moto) = MotoServer::start() else {
        return;
    };
    let kms = RemoteKms::connect(RemoteConfig {
        endpoint_url: Some(moto.endpoint()),
        region: Some(peers::TEST_REGION.into()),
        credentials: Some(RemoteCredentials::new(
            peers::TEST_ACCESS_KEY_ID,
            peers::TEST_SECRET_ACCESS_KEY,
        )),
        operation_timeout: Duration::from_secs(20),
        max_attempts: 1,
        ..RemoteConfig::default()
    })
    .await
    .unwrap();
    let key = kms.create_key(CreateKeyRequest::default()).await.unwrap();
    let (dek, blob) = envelope::new_data_key(&kms, &key.arn, &ctx())
        .await
        .unwrap();
    let parsed = WrappedKey::parse(&blob).unwrap();
    assert_eq!(parsed.key_id, key.arn);
    assert_eq!(
        envelope::unwrap_data_key(&kms, &parsed, &ctx())
            .await
            .unwrap(),
        dek
    );
    let other_ctx = context_hash(&[("bucket", "other")]).unwrap();
    let e = envelope::unwrap_data_key(&kms, &parsed, &other_ctx)
        .await
        .unwrap_err();
    assert!(matches!(e, KmsError::InvalidCiphertext(_)), "{e:?}");
}
