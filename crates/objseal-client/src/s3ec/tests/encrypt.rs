//! `encrypt_v3` through the embedded KMS, read back by this module.

use objseal_kms::keystore::block_on;
use objseal_kms::{CreateKeyRequest, Kms, KmsError, LocalKms, LocalKmsConfig, RootKey};

use super::*;

fn local() -> (tempfile::TempDir, LocalKms, String) {
    let dir = tempfile::tempdir().unwrap();
    let kms = LocalKms::open(LocalKmsConfig::new(
        dir.path().join("keys.osks"),
        RootKey::from_bytes([5; 32]),
    ))
    .unwrap();
    let key = block_on(kms.create_key(CreateKeyRequest::default()))
        .unwrap()
        .key_id;
    (dir, kms, key)
}

#[test]
fn v3_round_trip_with_the_python_metadata_shape() {
    let (_dir, kms, key) = local();
    block_on(async {
        let context = ctx(&[("purpose", "fixture"), ("bucket", "photos")]);
        let plaintext = b"written by objseal".to_vec();
        let mut body = plaintext.clone();
        let stored = encrypt_v3(&kms, &key, &context, &mut body).await.unwrap();
        assert_eq!(body.len(), plaintext.len() + 16);
        let names: Vec<&str> = stored.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            [
                "x-amz-3", "x-amz-c", "x-amz-d", "x-amz-i", "x-amz-t", "x-amz-w"
            ]
        );
        assert_eq!(stored["x-amz-c"], "115");
        assert_eq!(stored["x-amz-w"], "12");
        assert_eq!(
            stored["x-amz-t"],
            r#"{"bucket": "photos", "purpose": "fixture", "aws:x-amz-cek-alg": "115"}"#
        );
        assert_eq!(stored["x-amz-i"].len(), 40);
        assert_eq!(stored["x-amz-d"].len(), 40);

        // GenerateDataKey got the context with the reserved entry: KMS Decrypt needs exactly it.
        let env = Envelope::from_metadata(&stored).unwrap().unwrap();
        let mut full = context.clone();
        full.insert("aws:x-amz-cek-alg".into(), "115".into());
        assert_eq!(env.kms_context(), &full);
        let e = kms
            .decrypt(env.kms_ciphertext_blob(), &context, None)
            .await
            .unwrap_err();
        assert!(matches!(e, KmsError::InvalidCiphertext(_)), "{e:?}");

        let mut read = body.clone();
        let v = decrypt_object(
            &kms,
            Some(&key),
            &stored,
            &context,
            &mut read,
            CommitmentPolicy::default(),
        )
        .await
        .unwrap();
        assert_eq!(v, Version::V3);
        assert_eq!(read, plaintext);

        // The wrong expected context is refused before KMS is asked, and wipes the body.
        let mut read = body.clone();
        let e = decrypt_object(
            &kms,
            Some(&key),
            &stored,
            &ctx(&[]),
            &mut read,
            CommitmentPolicy::default(),
        )
        .await
        .unwrap_err();
        assert_eq!(e, S3ecError::ContextMismatch);
        assert!(read.is_empty());
        // Another key id than the blob's: a KMS error.
        let other = kms
            .create_key(CreateKeyRequest::default())
            .await
            .unwrap()
            .key_id;
        let mut read = body.clone();
        let e = decrypt_object(
            &kms,
            Some(&other),
            &stored,
            &context,
            &mut read,
            CommitmentPolicy::default(),
        )
        .await
        .unwrap_err();
        assert!(
            matches!(e, S3ecError::Kms(KmsError::IncorrectKey(_))),
            "{e:?}"
        );
        // Plain objects are not S3EC objects.
        let mut read = body.clone();
        let e = decrypt_object(
            &kms,
            None,
            &HashMap::new(),
            &context,
            &mut read,
            CommitmentPolicy::default(),
        )
        .await
        .unwrap_err();
        assert_eq!(e, S3ecError::NotS3ec);
    });
}

#[test]
fn empty_plaintext_and_empty_context() {
    let (_dir, kms, key) = local();
    block_on(async {
        let mut body = Vec::new();
        let stored = encrypt_v3(&kms, &key, &BTreeMap::new(), &mut body)
            .await
            .unwrap();
        assert_eq!(stored["x-amz-t"], r#"{"aws:x-amz-cek-alg": "115"}"#);
        assert_eq!(body.len(), 16);
        let v = decrypt_object(
            &kms,
            None,
            &stored,
            &BTreeMap::new(),
            &mut body,
            CommitmentPolicy::default(),
        )
        .await
        .unwrap();
        assert_eq!(v, Version::V3);
        assert!(body.is_empty());
    });
}

#[test]
fn bad_contexts_are_refused_before_kms_and_leave_the_plaintext() {
    let (_dir, kms, key) = local();
    block_on(async {
        let mut body = b"keep me".to_vec();
        let reserved = ctx(&[("aws:x-amz-cek-alg", "115")]);
        let e = encrypt_v3(&kms, &key, &reserved, &mut body)
            .await
            .unwrap_err();
        assert_eq!(e, S3ecError::ReservedContextKey);
        let e = encrypt_v3(&kms, &key, &ctx(&[("k", "ü")]), &mut body)
            .await
            .unwrap_err();
        assert!(matches!(e, S3ecError::InvalidContext(_)), "{e}");
        let e = encrypt_v3(&kms, "alias/none", &BTreeMap::new(), &mut body)
            .await
            .unwrap_err();
        assert!(matches!(e, S3ecError::Kms(KmsError::NotFound(_))), "{e:?}");
        assert_eq!(body, b"keep me");
    });
}

#[test]
fn two_encryptions_differ() {
    let (_dir, kms, key) = local();
    block_on(async {
        let (mut a, mut b) = (b"same".to_vec(), b"same".to_vec());
        let ma = encrypt_v3(&kms, &key, &BTreeMap::new(), &mut a)
            .await
            .unwrap();
        let mb = encrypt_v3(&kms, &key, &BTreeMap::new(), &mut b)
            .await
            .unwrap();
        assert_ne!(ma["x-amz-i"], mb["x-amz-i"]);
        assert_ne!(a, b);
    });
}

#[test]
fn errors_hold_no_secrets_and_have_sources() {
    let e = S3ecError::Kms(KmsError::Disabled("key k is disabled".into()));
    assert!(std::error::Error::source(&e).is_some());
    assert_eq!(e.to_string(), "KMS: DisabledException: key k is disabled");
    assert!(std::error::Error::source(&S3ecError::TagMismatch).is_none());
}
