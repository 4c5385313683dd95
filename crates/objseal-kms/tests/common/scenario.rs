//! One key-lifecycle scenario, written once over `&dyn Kms`, run against every implementation: the
//! embedded `LocalKms`, `RemoteKms` → `objseal kms serve`, and `RemoteKms` → moto's server.
//!
//! create-key → describe (id, ARN, alias) → generate-data-key → decrypt → context mismatch refused →
//! rotate → decrypt-old → encrypt / re-encrypt / random → disable (generate refused) → enable →
//! schedule-deletion (generate refused) → cancel-deletion → not-found.
//!
//! What a service enforces beyond the wire format differs (moto skips most key-state rules), so the
//! caller says what to expect in an [`Expect`]; every difference is asserted one way or the other.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use objseal_kms::{
    CreateKeyRequest, DataKeySpec, EncryptionContext, KeyState, Kms, KmsError, ReEncryptRequest,
    RotationType,
};

/// What the service under test enforces or reports beyond the wire format.
#[derive(Clone, Copy, Debug)]
pub struct Expect {
    /// For messages.
    pub name: &'static str,
    /// `Ciphertext`/`Plaintext` results name the key version (objseal's blobs carry it; AWS and moto
    /// results do not, and `RemoteKms` reports 0 for them).
    pub blob_versions: bool,
    /// Key states are enforced as AWS does: a disabled key refuses cryptography (`DisabledException`),
    /// a key pending deletion too (`KMSInvalidStateException`), and deletion windows outside 7–30
    /// days are refused (`ValidationException`).
    pub key_states: bool,
    /// `Decrypt` naming another key than the blob's answers `IncorrectKeyException`.
    pub incorrect_key: bool,
    /// `DescribeKey` reports the key's tags.
    pub tags: bool,
}

impl Expect {
    /// The embedded keystore, directly.
    pub const LOCAL: Expect = Expect {
        name: "LocalKms",
        blob_versions: true,
        key_states: true,
        incorrect_key: true,
        tags: true,
    };
    /// `RemoteKms` against `objseal kms serve` (which does not answer `ListResourceTags`, so tags are
    /// not reported back over the wire).
    pub const OBJSEAL_SERVER: Expect = Expect {
        name: "RemoteKms → objseal kms serve",
        tags: false,
        ..Expect::LOCAL
    };
    /// `RemoteKms` against moto 5.x. moto serves disabled keys and keys pending deletion, accepts any
    /// deletion window, and answers a `Decrypt` naming the wrong key with `AccessDeniedException`.
    pub const MOTO: Expect = Expect {
        name: "RemoteKms → moto",
        blob_versions: false,
        key_states: false,
        incorrect_key: false,
        tags: true,
    };
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn ctx(pairs: &[(&str, &str)]) -> EncryptionContext {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Asserts `result` is the error `aws_type`, and returns its message.
#[track_caller]
fn refused<T: std::fmt::Debug>(result: Result<T, KmsError>, aws_type: &str, what: &str) -> String {
    match result {
        Err(e) => {
            assert_eq!(e.aws_type(), aws_type, "{what}: {e}");
            e.message().to_owned()
        }
        Ok(v) => panic!("{what}: expected {aws_type}, got {v:?}"),
    }
}

/// Runs the whole scenario against `kms` (aliases are named after the key, so runs never collide).
pub async fn lifecycle(kms: &dyn Kms, expect: Expect) {
    let name = expect.name;
    let context = ctx(&[("bucket", "photos"), ("key", "cat.jpg")]);
    let started = now();

    // create-key
    let tags = BTreeMap::from([("team".to_owned(), "storage".to_owned())]);
    let created = kms
        .create_key(CreateKeyRequest {
            description: format!("scenario key ({name})"),
            tags: tags.clone(),
            ..Default::default()
        })
        .await
        .unwrap_or_else(|e| panic!("{name}: create_key: {e}"));
    let id = created.key_id.clone();
    let arn = created.arn.clone();
    assert!(!id.is_empty(), "{name}");
    assert!(
        arn.starts_with("arn:") && arn.ends_with(&format!(":key/{id}")),
        "{name}: ARN {arn} of key {id}"
    );
    assert_eq!(created.state, KeyState::Enabled, "{name}");
    assert_eq!(created.current_version, 1, "{name}");
    assert!(
        created.creation_date + 300 >= started,
        "{name}: creation date"
    );
    assert!(!created.account_id.is_empty(), "{name}: account id");

    // describe, by id, ARN and alias; list
    let described = kms.describe_key(&id).await.expect("describe_key by id");
    assert_eq!(described.key_id, id, "{name}");
    assert_eq!(described.arn, arn, "{name}");
    assert_eq!(described.description, created.description, "{name}");
    assert_eq!(described.state, KeyState::Enabled, "{name}");
    assert_eq!(described.current_version, 1, "{name}");
    if expect.tags {
        assert_eq!(described.tags, tags, "{name}: tags");
    }
    assert_eq!(kms.describe_key(&arn).await.expect("by ARN").key_id, id);
    let alias = format!("alias/scenario-{}", &id[..8]);
    kms.create_alias(&alias, &id).await.expect("create_alias");
    assert_eq!(kms.describe_key(&alias).await.expect("by alias").key_id, id);
    let aliases = kms.list_aliases(Some(&id)).await.expect("list_aliases");
    assert!(
        aliases
            .iter()
            .any(|a| a.alias_name == alias && a.target_key_id == id),
        "{name}: {aliases:?}"
    );
    let keys = kms.list_keys().await.expect("list_keys");
    assert!(keys.iter().any(|k| k.key_id == id), "{name}: {keys:?}");

    // generate-data-key → decrypt
    let dk1 = kms
        .generate_data_key(&alias, &context, DataKeySpec::Aes256)
        .await
        .expect("generate_data_key");
    assert_eq!(dk1.plaintext.len(), 32, "{name}");
    assert_eq!(dk1.wrapped.key_arn, arn, "{name}");
    if expect.blob_versions {
        assert_eq!(dk1.wrapped.key_version, 1, "{name}");
    }
    let opened = kms
        .decrypt(&dk1.wrapped.ciphertext_blob, &context, None)
        .await
        .expect("decrypt");
    assert_eq!(opened.plaintext, dk1.plaintext, "{name}");
    assert_eq!(opened.key_arn, arn, "{name}");
    if expect.blob_versions {
        assert_eq!(opened.key_version, 1, "{name}");
    }
    let named = kms
        .decrypt(&dk1.wrapped.ciphertext_blob, &context, Some(&arn))
        .await
        .expect("decrypt naming its key");
    assert_eq!(named.plaintext, dk1.plaintext, "{name}");

    // context mismatch, tampering, another key
    let other_context = ctx(&[("bucket", "photos"), ("key", "dog.jpg")]);
    for (what, c) in [
        ("another context", &other_context),
        ("no context", &EncryptionContext::new()),
    ] {
        refused(
            kms.decrypt(&dk1.wrapped.ciphertext_blob, c, None).await,
            "InvalidCiphertextException",
            &format!("{name}: decrypt under {what}"),
        );
    }
    let mut tampered = dk1.wrapped.ciphertext_blob.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    refused(
        kms.decrypt(&tampered, &context, None).await,
        "InvalidCiphertextException",
        &format!("{name}: tampered blob"),
    );
    let second = kms
        .create_key(CreateKeyRequest::default())
        .await
        .expect("second key");
    let wrong_key = kms
        .decrypt(&dk1.wrapped.ciphertext_blob, &context, Some(&second.key_id))
        .await;
    if expect.incorrect_key {
        refused(
            wrong_key,
            "IncorrectKeyException",
            &format!("{name}: wrong key"),
        );
    } else {
        // moto: AccessDeniedException.
        assert!(wrong_key.is_err(), "{name}: decrypt naming the wrong key");
    }

    // rotate → decrypt-old
    let rotated = kms.rotate_key_on_demand(&id).await.expect("rotate");
    assert_eq!(rotated, id, "{name}");
    assert_eq!(
        kms.describe_key(&id)
            .await
            .expect("describe")
            .current_version,
        2,
        "{name}: version after one rotation"
    );
    let rotations = kms
        .list_key_rotations(&id)
        .await
        .expect("list_key_rotations");
    assert_eq!(rotations.len(), 1, "{name}: {rotations:?}");
    assert_eq!(rotations[0].version, 2, "{name}");
    assert_eq!(rotations[0].rotation_type, RotationType::OnDemand, "{name}");
    let dk2 = kms
        .generate_data_key(&id, &context, DataKeySpec::Aes256)
        .await
        .expect("generate after rotation");
    assert_ne!(dk2.plaintext, dk1.plaintext, "{name}");
    let old = kms
        .decrypt(&dk1.wrapped.ciphertext_blob, &context, None)
        .await
        .expect("decrypt a blob of the old version");
    assert_eq!(old.plaintext, dk1.plaintext, "{name}");
    let new = kms
        .decrypt(&dk2.wrapped.ciphertext_blob, &context, None)
        .await
        .expect("decrypt a blob of the new version");
    assert_eq!(new.plaintext, dk2.plaintext, "{name}");
    if expect.blob_versions {
        assert_eq!(dk2.wrapped.key_version, 2, "{name}");
        assert_eq!(old.key_version, 1, "{name}");
        assert_eq!(new.key_version, 2, "{name}");
    }

    // encrypt, re-encrypt, data keys without plaintext, random
    let sealed = kms
        .encrypt(&id, b"a small secret", &context)
        .await
        .expect("encrypt");
    let unsealed = kms
        .decrypt(&sealed.ciphertext_blob, &context, None)
        .await
        .expect("decrypt what encrypt made");
    assert_eq!(unsealed.plaintext.as_bytes(), b"a small secret", "{name}");
    let moved = kms
        .re_encrypt(ReEncryptRequest {
            ciphertext_blob: &dk1.wrapped.ciphertext_blob,
            source_context: &context,
            source_key_id: None,
            destination_key_id: &second.key_id,
            destination_context: &other_context,
        })
        .await
        .expect("re_encrypt");
    assert_eq!(moved.source_key_arn, arn, "{name}");
    assert_eq!(moved.ciphertext.key_arn, second.arn, "{name}");
    if expect.blob_versions {
        assert_eq!(moved.source_key_version, 1, "{name}");
        assert_eq!(moved.ciphertext.key_version, 1, "{name}");
    }
    let moved_open = kms
        .decrypt(&moved.ciphertext.ciphertext_blob, &other_context, None)
        .await
        .expect("decrypt the re-encrypted blob");
    assert_eq!(moved_open.plaintext, dk1.plaintext, "{name}");
    assert_eq!(moved_open.key_arn, second.arn, "{name}");
    let wrapped_only = kms
        .generate_data_key_without_plaintext(&second.key_id, &context, DataKeySpec::Bytes(64))
        .await
        .expect("generate_data_key_without_plaintext");
    let sixty_four = kms
        .decrypt(&wrapped_only.ciphertext_blob, &context, None)
        .await
        .expect("decrypt a 64-byte data key");
    assert_eq!(sixty_four.plaintext.len(), 64, "{name}");
    let r1 = kms.generate_random(32).await.expect("generate_random");
    let r2 = kms.generate_random(32).await.expect("generate_random");
    assert_eq!(r1.len(), 32, "{name}");
    assert_ne!(r1, r2, "{name}");

    // disable: generate refused
    kms.disable_key(&id).await.expect("disable_key");
    assert_eq!(
        kms.describe_key(&id).await.expect("describe").state,
        KeyState::Disabled,
        "{name}"
    );
    let disabled_generate = kms
        .generate_data_key(&id, &context, DataKeySpec::Aes256)
        .await;
    if expect.key_states {
        refused(
            disabled_generate,
            "DisabledException",
            &format!("{name}: generate, disabled"),
        );
        refused(
            kms.decrypt(&dk1.wrapped.ciphertext_blob, &context, None)
                .await,
            "DisabledException",
            &format!("{name}: decrypt, disabled"),
        );
    } else {
        // moto serves disabled keys.
        assert!(
            disabled_generate.is_ok(),
            "{name}: moto changed: {disabled_generate:?}"
        );
    }
    kms.enable_key(&id).await.expect("enable_key");
    assert_eq!(
        kms.describe_key(&id).await.expect("describe").state,
        KeyState::Enabled,
        "{name}"
    );
    kms.generate_data_key(&id, &context, DataKeySpec::Aes128)
        .await
        .expect("generate after enable");

    // schedule-deletion: generate refused; cancel → Disabled
    if expect.key_states {
        refused(
            kms.schedule_key_deletion(&second.key_id, Some(3)).await,
            "ValidationException",
            &format!("{name}: a 3-day window"),
        );
    }
    let schedule = kms
        .schedule_key_deletion(&id, Some(7))
        .await
        .expect("schedule_key_deletion");
    // AWS answers the key ARN here (LocalKms too), moto the key id.
    assert!(
        schedule.key_id == id || schedule.key_id == arn,
        "{name}: {schedule:?}"
    );
    assert_eq!(schedule.pending_window_days, 7, "{name}");
    assert_eq!(schedule.key_state, KeyState::PendingDeletion, "{name}");
    assert!(
        schedule.deletion_date >= started + 7 * 86_400 - 300
            && schedule.deletion_date <= now() + 7 * 86_400 + 300,
        "{name}: deletion date {} vs now {}",
        schedule.deletion_date,
        now()
    );
    let pending = kms.describe_key(&id).await.expect("describe pending");
    assert_eq!(pending.state, KeyState::PendingDeletion, "{name}");
    assert!(pending.deletion_date.is_some(), "{name}: {pending:?}");
    if expect.key_states {
        assert_eq!(pending.pending_deletion_window_days, Some(7), "{name}");
        refused(
            kms.generate_data_key(&id, &context, DataKeySpec::Aes256)
                .await,
            "KMSInvalidStateException",
            &format!("{name}: generate, pending deletion"),
        );
    }
    let cancelled = kms.cancel_key_deletion(&id).await.expect("cancel");
    assert!(cancelled == id || cancelled == arn, "{name}: {cancelled}");
    let back = kms.describe_key(&id).await.expect("describe after cancel");
    assert_eq!(
        back.state,
        KeyState::Disabled,
        "{name}: AWS brings it back disabled"
    );
    assert_eq!(back.deletion_date, None, "{name}");

    // not found
    refused(
        kms.describe_key("00000000-0000-4000-8000-000000000000")
            .await,
        "NotFoundException",
        &format!("{name}: unknown key"),
    );
    refused(
        kms.describe_key("alias/objseal-no-such-alias").await,
        "NotFoundException",
        &format!("{name}: unknown alias"),
    );

    // clean up (the keys stay, pending deletion)
    kms.delete_alias(&alias).await.expect("delete_alias");
    kms.schedule_key_deletion(&id, None)
        .await
        .expect("schedule");
    kms.schedule_key_deletion(&second.key_id, None)
        .await
        .expect("schedule");
}
