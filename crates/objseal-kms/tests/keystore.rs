//! The embedded keystore (`LocalKms`): key states, rotation, aliases, deletion windows, blobs,
//! persistence, crash safety, concurrency, audit log and cache.

mod keystore_util;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use keystore_util::*;
use objseal_kms::audit::AuditLog;
use objseal_kms::cache::CacheLimits;
use objseal_kms::keystore::{SaveStep, block_on};
use objseal_kms::{
    CreateKeyRequest, DataKeySpec, EncryptionContext, KeyState, Kms, LocalKms, LocalKmsConfig,
    ReEncryptRequest, RootKey, RotationType,
};

// ---------------------------------------------------------------- keys, aliases, resolution

#[test]
fn create_describe_list() {
    let env = Env::new();
    let kms = &env.kms;
    let tags = BTreeMap::from([("team".to_string(), "storage".to_string())]);
    let meta = b(kms.create_key(CreateKeyRequest {
        description: "photos".into(),
        tags: tags.clone(),
        ..Default::default()
    }))
    .unwrap();
    assert_eq!(meta.key_id.len(), 36);
    assert_eq!(
        meta.arn,
        format!("arn:aws:kms:us-east-1:000000000000:key/{}", meta.key_id)
    );
    assert_eq!(meta.account_id, "000000000000");
    assert_eq!(meta.description, "photos");
    assert_eq!(meta.tags, tags);
    assert_eq!(meta.state, KeyState::Enabled);
    assert_eq!(meta.creation_date, T0);
    assert_eq!(meta.current_version, 1);
    assert_eq!(meta.deletion_date, None);

    assert_eq!(b(kms.describe_key(&meta.key_id)).unwrap(), meta);
    assert_eq!(b(kms.describe_key(&meta.arn)).unwrap(), meta);
    assert_eq!(
        b(kms.describe_key(&meta.key_id.to_uppercase())).unwrap(),
        meta
    );

    env.clock.advance_secs(1);
    let second = env.key();
    let list = b(kms.list_keys()).unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0].key_id, meta.key_id);
    assert_eq!(list[1].key_id, second);
    assert_eq!(list[0].arn, meta.arn);

    // Validation of CreateKey.
    let long = CreateKeyRequest {
        description: "x".repeat(8193),
        ..Default::default()
    };
    assert_eq!(outcome(b(kms.create_key(long))), "ValidationException");
    let bad_tag = CreateKeyRequest {
        tags: BTreeMap::from([(String::new(), "v".to_string())]),
        ..Default::default()
    };
    assert_eq!(outcome(b(kms.create_key(bad_tag))), "ValidationException");
}

#[test]
fn key_id_forms_resolve() {
    let env = Env::with(|c| {
        c.region = "eu-west-3".into();
        c.account_id = "123456789012".into();
    });
    let kms = &env.kms;
    let id = env.key();
    b(kms.create_alias("alias/app/photos", &id)).unwrap();
    let ctx = ctx(&[("k", "v")]);
    for form in [
        id.clone(),
        format!("arn:aws:kms:eu-west-3:123456789012:key/{id}"),
        "alias/app/photos".to_string(),
        "arn:aws:kms:eu-west-3:123456789012:alias/app/photos".to_string(),
    ] {
        assert_eq!(b(kms.describe_key(&form)).unwrap().key_id, id, "{form}");
        let ct = b(kms.encrypt(&form, b"hi", &ctx)).unwrap();
        assert_eq!(
            ct.key_arn,
            format!("arn:aws:kms:eu-west-3:123456789012:key/{id}")
        );
        b(kms.decrypt(&ct.ciphertext_blob, &ctx, Some(&form))).unwrap();
    }
    for wrong in [
        format!("arn:aws:kms:us-east-1:123456789012:key/{id}"),
        format!("arn:aws:kms:eu-west-3:000000000000:key/{id}"),
        "arn:aws:kms:us-east-1:123456789012:alias/app/photos".to_string(),
        "arn:aws:kms:eu-west-3:999999999999:alias/app/photos".to_string(),
        "alias/nope".to_string(),
        "11111111-2222-4333-8444-555555555555".to_string(),
        "not-a-key".to_string(),
        "arn:aws:kms:eu-west-3:123456789012:thing/x".to_string(),
    ] {
        assert_eq!(
            outcome(b(kms.describe_key(&wrong))),
            "NotFoundException",
            "{wrong}"
        );
    }
    assert_eq!(outcome(b(kms.describe_key(""))), "ValidationException");
}

#[test]
fn alias_rules() {
    let env = Env::new();
    let kms = &env.kms;
    let a = env.key();
    let bk = env.key();
    b(kms.create_alias("alias/one", &a)).unwrap();
    b(kms.create_alias(
        "alias/two",
        &format!("arn:aws:kms:us-east-1:000000000000:key/{a}"),
    ))
    .unwrap();
    b(kms.create_alias("alias/three", &bk)).unwrap();

    assert_eq!(
        outcome(b(kms.create_alias("alias/one", &bk))),
        "AlreadyExistsException"
    );
    for bad in [
        "alias/aws/s3",
        "alias/aws/",
        "nope",
        "alias/",
        "alias/has space",
        "alias/é",
    ] {
        assert_eq!(
            outcome(b(kms.create_alias(bad, &a))),
            "InvalidAliasNameException",
            "{bad}"
        );
    }
    assert_eq!(
        outcome(b(
            kms.create_alias(&format!("alias/{}", "x".repeat(251)), &a)
        )),
        "ValidationException"
    );
    // The target must be a key, not an alias.
    assert_eq!(
        outcome(b(kms.create_alias("alias/four", "alias/one"))),
        "ValidationException"
    );
    assert_eq!(
        outcome(b(kms.create_alias(
            "alias/four",
            "11111111-2222-4333-8444-555555555555"
        ))),
        "NotFoundException"
    );

    let all = b(kms.list_aliases(None)).unwrap();
    let names: Vec<&str> = all.iter().map(|e| e.alias_name.as_str()).collect();
    assert_eq!(names, ["alias/one", "alias/three", "alias/two"]);
    assert_eq!(
        all[0].alias_arn,
        "arn:aws:kms:us-east-1:000000000000:alias/one"
    );
    assert_eq!(all[0].target_key_id, a);
    let of_a = b(kms.list_aliases(Some(&a))).unwrap();
    assert_eq!(of_a.len(), 2);
    assert!(of_a.iter().all(|e| e.target_key_id == a));
    assert_eq!(b(kms.list_aliases(Some("alias/three"))).unwrap().len(), 1);
    assert_eq!(
        outcome(b(kms.list_aliases(Some("alias/none")))),
        "NotFoundException"
    );

    b(kms.delete_alias("alias/one")).unwrap();
    assert_eq!(
        outcome(b(kms.delete_alias("alias/one"))),
        "NotFoundException"
    );
    assert_eq!(
        outcome(b(kms.describe_key("alias/one"))),
        "NotFoundException"
    );
    assert_eq!(b(kms.describe_key("alias/two")).unwrap().key_id, a);
    // The name is free again.
    b(kms.create_alias("alias/one", &bk)).unwrap();
    assert_eq!(b(kms.describe_key("alias/one")).unwrap().key_id, bk);
}

// ---------------------------------------------------------------- the state machine

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum St {
    Enabled,
    Disabled,
    PendingDeletion,
    Deleted,
}

const OPS: &[&str] = &[
    "DescribeKey",
    "CreateAlias",
    "DeleteAlias",
    "ListAliases",
    "EnableKey",
    "DisableKey",
    "EnableKeyRotation",
    "DisableKeyRotation",
    "GetKeyRotationStatus",
    "RotateKeyOnDemand",
    "ListKeyRotations",
    "ScheduleKeyDeletion",
    "CancelKeyDeletion",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "Encrypt",
    "Decrypt",
    "ReEncryptFrom",
    "ReEncryptTo",
];

fn expected(state: St, op: &str) -> &'static str {
    const CRYPTO: &[&str] = &[
        "GenerateDataKey",
        "GenerateDataKeyWithoutPlaintext",
        "Encrypt",
        "Decrypt",
        "ReEncryptFrom",
        "ReEncryptTo",
    ];
    const ROTATION: &[&str] = &[
        "EnableKeyRotation",
        "DisableKeyRotation",
        "RotateKeyOnDemand",
    ];
    const NOT_WHILE_PENDING: &[&str] = &[
        "EnableKey",
        "DisableKey",
        "ScheduleKeyDeletion",
        "CreateAlias",
    ];
    match state {
        St::Deleted => "NotFoundException",
        _ if op == "CancelKeyDeletion" => {
            if state == St::PendingDeletion {
                "ok"
            } else {
                "KMSInvalidStateException"
            }
        }
        St::Enabled => "ok",
        St::Disabled if CRYPTO.contains(&op) || ROTATION.contains(&op) => "DisabledException",
        St::Disabled => "ok",
        St::PendingDeletion
            if CRYPTO.contains(&op)
                || ROTATION.contains(&op)
                || NOT_WHILE_PENDING.contains(&op) =>
        {
            "KMSInvalidStateException"
        }
        St::PendingDeletion => "ok",
    }
}

fn run_op(
    kms: &LocalKms,
    op: &str,
    key: &str,
    blob: &[u8],
    other: &str,
    other_blob: &[u8],
) -> String {
    let c = ctx(&[("purpose", "state-machine")]);
    let alias = format!("alias/sm-{key}");
    match op {
        "DescribeKey" => outcome(b(kms.describe_key(key))),
        "CreateAlias" => outcome(b(kms.create_alias(&format!("alias/new-{key}"), key))),
        "DeleteAlias" => outcome(b(kms.delete_alias(&alias))),
        "ListAliases" => outcome(b(kms.list_aliases(Some(key)))),
        "EnableKey" => outcome(b(kms.enable_key(key))),
        "DisableKey" => outcome(b(kms.disable_key(key))),
        "EnableKeyRotation" => outcome(b(kms.enable_key_rotation(key, Some(180)))),
        "DisableKeyRotation" => outcome(b(kms.disable_key_rotation(key))),
        "GetKeyRotationStatus" => outcome(b(kms.get_key_rotation_status(key))),
        "RotateKeyOnDemand" => outcome(b(kms.rotate_key_on_demand(key))),
        "ListKeyRotations" => outcome(b(kms.list_key_rotations(key))),
        "ScheduleKeyDeletion" => outcome(b(kms.schedule_key_deletion(key, Some(7)))),
        "CancelKeyDeletion" => outcome(b(kms.cancel_key_deletion(key))),
        "GenerateDataKey" => outcome(b(kms.generate_data_key(key, &c, DataKeySpec::Aes256))),
        "GenerateDataKeyWithoutPlaintext" => outcome(b(kms.generate_data_key_without_plaintext(
            key,
            &c,
            DataKeySpec::Aes256,
        ))),
        "Encrypt" => outcome(b(kms.encrypt(key, b"x", &c))),
        "Decrypt" => outcome(b(kms.decrypt(blob, &c, None))),
        "ReEncryptFrom" => outcome(b(kms.re_encrypt(ReEncryptRequest {
            ciphertext_blob: blob,
            source_context: &c,
            source_key_id: None,
            destination_key_id: other,
            destination_context: &c,
        }))),
        "ReEncryptTo" => outcome(b(kms.re_encrypt(ReEncryptRequest {
            ciphertext_blob: other_blob,
            source_context: &c,
            source_key_id: None,
            destination_key_id: key,
            destination_context: &c,
        }))),
        _ => unreachable!("{op}"),
    }
}

#[test]
fn every_operation_in_every_state() {
    let env = Env::new();
    let kms = &env.kms;
    let c = ctx(&[("purpose", "state-machine")]);
    let other = env.key();
    let other_blob = b(kms.encrypt(&other, b"other", &c))
        .unwrap()
        .ciphertext_blob;
    let mut failures = Vec::new();
    for state in [St::Enabled, St::Disabled, St::PendingDeletion, St::Deleted] {
        // One key per (state, operation): operations change states.
        let mut keys = Vec::new();
        for _ in OPS {
            let key = env.key();
            b(kms.create_alias(&format!("alias/sm-{key}"), &key)).unwrap();
            let blob = b(kms.encrypt(&key, b"secret", &c)).unwrap().ciphertext_blob;
            match state {
                St::Enabled => {}
                St::Disabled => b(kms.disable_key(&key)).unwrap(),
                St::PendingDeletion | St::Deleted => {
                    b(kms.schedule_key_deletion(&key, Some(7))).unwrap();
                }
            }
            keys.push((key, blob));
        }
        if state == St::Deleted {
            env.clock.advance_days(7);
        }
        for (op, (key, blob)) in OPS.iter().zip(&keys) {
            let got = run_op(kms, op, key, blob, &other, &other_blob);
            let want = expected(state, op);
            if got != want {
                failures.push(format!("{state:?} {op}: got {got}, want {want}"));
            }
        }
        if state == St::Deleted {
            // The clock moved: bring the other key's world along (it is enabled, unaffected).
            assert_eq!(
                b(kms.describe_key(&other)).unwrap().state,
                KeyState::Enabled
            );
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn state_transitions_and_metadata() {
    let env = Env::new();
    let kms = &env.kms;
    let k = env.key();
    b(kms.disable_key(&k)).unwrap();
    b(kms.disable_key(&k)).unwrap(); // idempotent
    assert_eq!(b(kms.describe_key(&k)).unwrap().state, KeyState::Disabled);
    b(kms.enable_key(&k)).unwrap();
    b(kms.enable_key(&k)).unwrap();
    assert_eq!(b(kms.describe_key(&k)).unwrap().state, KeyState::Enabled);

    let s = b(kms.schedule_key_deletion(&k, None)).unwrap();
    assert_eq!(s.pending_window_days, 30);
    assert_eq!(s.deletion_date, T0 + 30 * DAY);
    assert_eq!(s.key_state, KeyState::PendingDeletion);
    assert_eq!(
        s.key_id,
        format!("arn:aws:kms:us-east-1:000000000000:key/{k}")
    );
    let m = b(kms.describe_key(&k)).unwrap();
    assert_eq!(m.state, KeyState::PendingDeletion);
    assert_eq!(m.deletion_date, Some(T0 + 30 * DAY));
    assert_eq!(m.pending_deletion_window_days, Some(30));

    let arn = b(kms.cancel_key_deletion(&k)).unwrap();
    assert_eq!(arn, m.arn);
    let m = b(kms.describe_key(&k)).unwrap();
    assert_eq!(
        m.state,
        KeyState::Disabled,
        "cancelling leaves the key disabled, as AWS does"
    );
    assert_eq!(m.deletion_date, None);
    assert_eq!(m.pending_deletion_window_days, None);
}

// ---------------------------------------------------------------- deletion windows

#[test]
fn deletion_window_edges() {
    let env = Env::new();
    let kms = &env.kms;
    for bad in [0, 6, 31, 365] {
        let k = env.key();
        assert_eq!(
            outcome(b(kms.schedule_key_deletion(&k, Some(bad)))),
            "ValidationException",
            "{bad}"
        );
        assert_eq!(b(kms.describe_key(&k)).unwrap().state, KeyState::Enabled);
    }
    let c = ctx(&[]);
    let seven = env.key();
    let thirty = env.key();
    b(kms.create_alias("alias/seven", &seven)).unwrap();
    let blob = b(kms.encrypt(&seven, b"gone soon", &c))
        .unwrap()
        .ciphertext_blob;
    assert_eq!(
        b(kms.schedule_key_deletion(&seven, Some(7)))
            .unwrap()
            .deletion_date,
        T0 + 7 * DAY
    );
    assert_eq!(
        b(kms.schedule_key_deletion(&thirty, Some(30)))
            .unwrap()
            .deletion_date,
        T0 + 30 * DAY
    );
    assert_eq!(
        outcome(b(kms.schedule_key_deletion(&seven, Some(7)))),
        "KMSInvalidStateException"
    );
    // One second before the date the key is still there; at the date it is gone.
    env.clock.set(Duration::from_secs(T0 + 7 * DAY - 1));
    assert_eq!(
        b(kms.describe_key(&seven)).unwrap().state,
        KeyState::PendingDeletion
    );
    assert_eq!(
        outcome(b(kms.decrypt(&blob, &c, None))),
        "KMSInvalidStateException"
    );
    env.clock.advance_secs(1);
    assert_eq!(outcome(b(kms.describe_key(&seven))), "NotFoundException");
    assert_eq!(
        outcome(b(kms.describe_key("alias/seven"))),
        "NotFoundException"
    );
    assert!(
        b(kms.list_aliases(None)).unwrap().is_empty(),
        "its aliases go with it"
    );
    assert_eq!(
        outcome(b(kms.decrypt(&blob, &c, None))),
        "NotFoundException"
    );
    assert_eq!(
        outcome(b(kms.cancel_key_deletion(&seven))),
        "NotFoundException"
    );
    let listed: Vec<String> = b(kms.list_keys())
        .unwrap()
        .into_iter()
        .map(|e| e.key_id)
        .collect();
    assert!(!listed.contains(&seven));
    assert!(listed.contains(&thirty), "pending keys are listed");
    // The other key's window is its own.
    env.clock.set(Duration::from_secs(T0 + 30 * DAY - 1));
    b(kms.cancel_key_deletion(&thirty)).unwrap();
    env.clock.advance_days(100);
    assert_eq!(
        b(kms.describe_key(&thirty)).unwrap().state,
        KeyState::Disabled
    );
    // A fresh handle (another process) sees the deletion too.
    assert_eq!(
        outcome(b(env.reopen().describe_key(&seven))),
        "NotFoundException"
    );
}

#[test]
fn deletion_applies_when_noticed_by_another_handle() {
    let env = Env::with_audit();
    let k = env.key();
    b(env.kms.schedule_key_deletion(&k, Some(7))).unwrap();
    // Another process, appending to the same audit log.
    let other = env.reopen_with(|c| {
        c.audit = Some(Arc::new(
            AuditLog::open(c.store_path.with_file_name("audit.jsonl")).unwrap(),
        ))
    });
    env.clock.advance_days(8);
    // Any operation notices, even one about nothing in particular.
    assert!(b(other.list_keys()).unwrap().is_empty());
    assert_eq!(outcome(b(env.kms.describe_key(&k))), "NotFoundException");
    let events = AuditLog::read(env.audit_path()).unwrap();
    let deletions: Vec<_> = events
        .iter()
        .filter(|e| e.operation == "DeleteKey")
        .collect();
    assert_eq!(
        deletions.len(),
        1,
        "the deletion is applied and recorded once"
    );
    assert_eq!(deletions[0].principal, "kms");
    assert!(deletions[0].key_id.as_deref().unwrap().ends_with(&k));
}

// ---------------------------------------------------------------- rotation

#[test]
fn rotation_versions_all_decrypt() {
    let env = Env::new();
    let kms = &env.kms;
    let k = env.key();
    let c = ctx(&[("bucket", "b")]);
    let mut blobs = Vec::new();
    let encrypt = |blobs: &mut Vec<(Vec<u8>, u32, Vec<u8>)>, tag: &str| {
        let ct = b(kms.encrypt(&k, tag.as_bytes(), &c)).unwrap();
        let dk = b(kms.generate_data_key(&k, &c, DataKeySpec::Aes256)).unwrap();
        assert_eq!(
            ct.key_version, dk.wrapped.key_version,
            "data keys use the newest version"
        );
        blobs.push((ct.ciphertext_blob, ct.key_version, tag.as_bytes().to_vec()));
        blobs.push((
            dk.wrapped.ciphertext_blob.clone(),
            dk.wrapped.key_version,
            dk.plaintext.as_bytes().to_vec(),
        ));
        ct.key_version
    };
    assert_eq!(encrypt(&mut blobs, "v1"), 1);
    env.clock.advance_days(1);
    assert_eq!(b(kms.rotate_key_on_demand(&k)).unwrap(), k);
    assert_eq!(b(kms.describe_key(&k)).unwrap().current_version, 2);
    assert_eq!(encrypt(&mut blobs, "v2"), 2);

    // Automatic rotation: due 90 days after enabling; applied lazily, dated when due.
    b(kms.enable_key_rotation(&k, Some(90))).unwrap();
    let enabled_at = T0 + DAY;
    let st = b(kms.get_key_rotation_status(&k)).unwrap();
    assert!(st.enabled);
    assert_eq!(st.rotation_period_days, Some(90));
    assert_eq!(st.next_rotation_date, Some(enabled_at + 90 * DAY));
    env.clock.advance_days(89);
    assert_eq!(encrypt(&mut blobs, "still v2"), 2);
    env.clock.advance_days(1);
    assert_eq!(encrypt(&mut blobs, "v3"), 3);
    assert_eq!(
        b(kms.get_key_rotation_status(&k))
            .unwrap()
            .next_rotation_date,
        Some(enabled_at + 180 * DAY)
    );
    // Three periods pass unobserved: three versions, each dated when due.
    env.clock.advance_days(3 * 90 + 5);
    assert_eq!(encrypt(&mut blobs, "v6"), 6);

    for (blob, version, plaintext) in &blobs {
        let p = b(kms.decrypt(blob, &c, Some(&k))).unwrap();
        assert_eq!(p.key_version, *version);
        assert_eq!(p.plaintext.as_bytes(), &plaintext[..]);
    }

    let rotations = b(kms.list_key_rotations(&k)).unwrap();
    let summary: Vec<(u32, u64, RotationType)> = rotations
        .iter()
        .map(|r| (r.version, r.rotation_date, r.rotation_type))
        .collect();
    assert_eq!(
        summary,
        [
            (2, T0 + DAY, RotationType::OnDemand),
            (3, enabled_at + 90 * DAY, RotationType::Automatic),
            (4, enabled_at + 180 * DAY, RotationType::Automatic),
            (5, enabled_at + 270 * DAY, RotationType::Automatic),
            (6, enabled_at + 360 * DAY, RotationType::Automatic),
        ]
    );
    assert!(rotations.iter().all(|r| r.key_id == k));

    // A re-encryption moves an old blob to the newest version.
    let re = b(kms.re_encrypt(ReEncryptRequest {
        ciphertext_blob: &blobs[0].0,
        source_context: &c,
        source_key_id: Some(&k),
        destination_key_id: &k,
        destination_context: &c,
    }))
    .unwrap();
    assert_eq!(re.source_key_version, 1);
    assert_eq!(re.ciphertext.key_version, 6);

    b(kms.disable_key_rotation(&k)).unwrap();
    let st = b(kms.get_key_rotation_status(&k)).unwrap();
    assert!(!st.enabled);
    assert_eq!(st.next_rotation_date, None);
    env.clock.advance_days(1000);
    assert_eq!(b(kms.describe_key(&k)).unwrap().current_version, 6);
}

#[test]
fn rotation_period_rules() {
    let env = Env::new();
    let kms = &env.kms;
    let k = env.key();
    for bad in [0, 89, 2561] {
        assert_eq!(
            outcome(b(kms.enable_key_rotation(&k, Some(bad)))),
            "ValidationException"
        );
    }
    b(kms.enable_key_rotation(&k, None)).unwrap();
    let st = b(kms.get_key_rotation_status(&k)).unwrap();
    assert_eq!(st.rotation_period_days, Some(365));
    assert_eq!(st.next_rotation_date, Some(T0 + 365 * DAY));
    b(kms.enable_key_rotation(&k, Some(2560))).unwrap();
    // A changed period counts from the start of the current one.
    assert_eq!(
        b(kms.get_key_rotation_status(&k))
            .unwrap()
            .next_rotation_date,
        Some(T0 + 2560 * DAY)
    );
    // Shortening it into the past rotates now.
    env.clock.advance_days(200);
    b(kms.enable_key_rotation(&k, Some(90))).unwrap();
    assert_eq!(b(kms.describe_key(&k)).unwrap().current_version, 2);
    let r = b(kms.list_key_rotations(&k)).unwrap();
    assert_eq!(r[0].rotation_date, T0 + 200 * DAY);
    assert_eq!(r[0].rotation_type, RotationType::Automatic);
    assert_eq!(
        b(kms.get_key_rotation_status(&k))
            .unwrap()
            .next_rotation_date,
        Some(T0 + 290 * DAY)
    );
}

#[test]
fn rotation_pauses_while_disabled_or_pending() {
    let env = Env::new();
    let kms = &env.kms;
    let k = env.key();
    b(kms.enable_key_rotation(&k, Some(90))).unwrap();
    b(kms.disable_key(&k)).unwrap();
    env.clock.advance_days(100);
    assert_eq!(
        b(kms.describe_key(&k)).unwrap().current_version,
        1,
        "disabled keys do not rotate"
    );
    let st = b(kms.get_key_rotation_status(&k)).unwrap();
    assert!(st.enabled, "disabling a key keeps its rotation status");
    b(kms.enable_key(&k)).unwrap();
    assert_eq!(
        b(kms.describe_key(&k)).unwrap().current_version,
        2,
        "overdue: rotated on enable"
    );
    let r = b(kms.list_key_rotations(&k)).unwrap();
    assert_eq!(r[0].rotation_date, T0 + 100 * DAY);
    assert_eq!(
        b(kms.get_key_rotation_status(&k))
            .unwrap()
            .next_rotation_date,
        Some(T0 + 190 * DAY)
    );

    b(kms.schedule_key_deletion(&k, Some(30))).unwrap();
    let st = b(kms.get_key_rotation_status(&k)).unwrap();
    assert!(!st.enabled, "pending deletion reports rotation off");
    assert_eq!(st.rotation_period_days, None);
    env.clock.advance_days(29);
    assert_eq!(b(kms.describe_key(&k)).unwrap().current_version, 2);
    b(kms.cancel_key_deletion(&k)).unwrap();
    let st = b(kms.get_key_rotation_status(&k)).unwrap();
    assert!(st.enabled, "cancelling restores the rotation status");
    assert_eq!(st.rotation_period_days, Some(90));
}

// ---------------------------------------------------------------- blobs and contexts

#[test]
fn tampered_and_truncated_blobs_are_invalid_ciphertext() {
    let env = Env::new();
    let kms = &env.kms;
    let k = env.key();
    let c = ctx(&[("a", "1")]);
    let blob = b(kms.encrypt(&k, b"attack at dawn", &c))
        .unwrap()
        .ciphertext_blob;
    assert_eq!(blob.len(), 41 + 14 + 16);
    for i in 0..blob.len() {
        for bit in [0x01u8, 0x80] {
            let mut t = blob.clone();
            t[i] ^= bit;
            assert_eq!(
                outcome(b(kms.decrypt(&t, &c, None))),
                "InvalidCiphertextException",
                "byte {i} bit {bit:#x}"
            );
        }
    }
    for len in 1..blob.len() {
        assert_eq!(
            outcome(b(kms.decrypt(&blob[..len], &c, None))),
            "InvalidCiphertextException",
            "{len}"
        );
    }
    assert_eq!(
        outcome(b(kms.decrypt(&[], &c, None))),
        "ValidationException"
    );
    let mut longer = blob.clone();
    longer.push(0);
    assert_eq!(
        outcome(b(kms.decrypt(&longer, &c, None))),
        "InvalidCiphertextException"
    );
    assert_eq!(
        outcome(b(kms.decrypt(&vec![0u8; 6145], &c, None))),
        "ValidationException"
    );
    assert_eq!(
        b(kms.decrypt(&blob, &c, None))
            .unwrap()
            .plaintext
            .as_bytes(),
        b"attack at dawn"
    );
}

#[test]
fn context_is_bound_exactly() {
    let env = Env::new();
    let kms = &env.kms;
    let k = env.key();
    let c = ctx(&[("bucket", "photos"), ("key", "cat.jpg")]);
    let blob = b(kms.encrypt(&k, b"x", &c)).unwrap().ciphertext_blob;
    for wrong in [
        ctx(&[]),
        ctx(&[("bucket", "photos")]),
        ctx(&[("bucket", "photos"), ("key", "Cat.jpg")]),
        ctx(&[("Bucket", "photos"), ("key", "cat.jpg")]),
        ctx(&[("bucket", "photos"), ("key", "cat.jpg"), ("x", "")]),
        ctx(&[("bucket", "photos"), ("key", "cat.jpg ")]),
    ] {
        assert_eq!(
            outcome(b(kms.decrypt(&blob, &wrong, None))),
            "InvalidCiphertextException",
            "{wrong:?}"
        );
    }
    b(kms.decrypt(&blob, &c, None)).unwrap();
    // More than 256 pairs cannot be canonicalised: refused before anything else.
    let big: EncryptionContext = (0..257).map(|i| (format!("k{i}"), String::new())).collect();
    assert_eq!(
        outcome(b(kms.encrypt(&k, b"x", &big))),
        "ValidationException"
    );
}

#[test]
fn incorrect_key_and_foreign_blobs() {
    let env = Env::new();
    let kms = &env.kms;
    let a = env.key();
    let other = env.key();
    b(kms.create_alias("alias/other", &other)).unwrap();
    let c = ctx(&[]);
    let blob = b(kms.encrypt(&a, b"x", &c)).unwrap().ciphertext_blob;
    for named in [
        other.clone(),
        "alias/other".into(),
        format!("arn:aws:kms:us-east-1:000000000000:key/{other}"),
    ] {
        assert_eq!(
            outcome(b(kms.decrypt(&blob, &c, Some(&named)))),
            "IncorrectKeyException"
        );
    }
    assert_eq!(
        outcome(b(kms.decrypt(&blob, &c, Some("alias/none")))),
        "NotFoundException"
    );
    // A blob of another keystore names a key this one never had.
    let foreign = Env::new();
    let fk = foreign.key();
    let fblob = b(foreign.kms.encrypt(&fk, b"x", &c))
        .unwrap()
        .ciphertext_blob;
    assert_eq!(
        outcome(b(kms.decrypt(&fblob, &c, None))),
        "InvalidCiphertextException"
    );
    // ReEncrypt checks the source key like Decrypt.
    assert_eq!(
        outcome(b(kms.re_encrypt(ReEncryptRequest {
            ciphertext_blob: &blob,
            source_context: &c,
            source_key_id: Some(&other),
            destination_key_id: &other,
            destination_context: &c,
        }))),
        "IncorrectKeyException"
    );
}

#[test]
fn data_keys_random_and_limits() {
    let env = Env::new();
    let kms = &env.kms;
    let k = env.key();
    let c = ctx(&[("x", "y")]);
    for (spec, len) in [
        (DataKeySpec::Aes256, 32),
        (DataKeySpec::Aes128, 16),
        (DataKeySpec::Bytes(1), 1),
        (DataKeySpec::Bytes(1024), 1024),
    ] {
        let dk = b(kms.generate_data_key(&k, &c, spec)).unwrap();
        assert_eq!(dk.plaintext.len(), len);
        let back = b(kms.decrypt(&dk.wrapped.ciphertext_blob, &c, None)).unwrap();
        assert_eq!(back.plaintext, dk.plaintext);
        let wrapped = b(kms.generate_data_key_without_plaintext(&k, &c, spec)).unwrap();
        assert_eq!(
            b(kms.decrypt(&wrapped.ciphertext_blob, &c, None))
                .unwrap()
                .plaintext
                .len(),
            len
        );
    }
    for bad in [0, 1025] {
        assert_eq!(
            outcome(b(kms.generate_data_key(&k, &c, DataKeySpec::Bytes(bad)))),
            "ValidationException"
        );
        assert_eq!(outcome(b(kms.generate_random(bad))), "ValidationException");
    }
    assert_eq!(b(kms.generate_random(1)).unwrap().len(), 1);
    let r1 = b(kms.generate_random(1024)).unwrap();
    let r2 = b(kms.generate_random(1024)).unwrap();
    assert_eq!(r1.len(), 1024);
    assert_ne!(r1, r2);
    assert_ne!(
        b(kms.generate_data_key(&k, &c, DataKeySpec::Aes256))
            .unwrap()
            .plaintext,
        b(kms.generate_data_key(&k, &c, DataKeySpec::Aes256))
            .unwrap()
            .plaintext,
        "without a cache every data key is fresh"
    );
    assert_eq!(outcome(b(kms.encrypt(&k, &[], &c))), "ValidationException");
    assert_eq!(
        outcome(b(kms.encrypt(&k, &[0u8; 4097], &c))),
        "ValidationException"
    );
    let max = b(kms.encrypt(&k, &[7u8; 4096], &c)).unwrap();
    assert_eq!(
        b(kms.decrypt(&max.ciphertext_blob, &c, None))
            .unwrap()
            .plaintext
            .len(),
        4096
    );
}

#[test]
fn re_encrypt_between_keys_and_contexts() {
    let env = Env::new();
    let kms = &env.kms;
    let a = env.key();
    let bk = env.key();
    let c1 = ctx(&[("from", "a")]);
    let c2 = ctx(&[("to", "b")]);
    let blob = b(kms.encrypt(&a, b"move me", &c1)).unwrap().ciphertext_blob;
    let re = b(kms.re_encrypt(ReEncryptRequest {
        ciphertext_blob: &blob,
        source_context: &c1,
        source_key_id: None,
        destination_key_id: &bk,
        destination_context: &c2,
    }))
    .unwrap();
    assert!(re.source_key_arn.ends_with(&a));
    assert!(re.ciphertext.key_arn.ends_with(&bk));
    let p = b(kms.decrypt(&re.ciphertext.ciphertext_blob, &c2, Some(&bk))).unwrap();
    assert_eq!(p.plaintext.as_bytes(), b"move me");
    assert_eq!(
        outcome(b(kms.decrypt(&re.ciphertext.ciphertext_blob, &c1, None))),
        "InvalidCiphertextException"
    );
    assert_eq!(
        outcome(b(kms.re_encrypt(ReEncryptRequest {
            ciphertext_blob: &blob,
            source_context: &c2,
            source_key_id: None,
            destination_key_id: &bk,
            destination_context: &c2,
        }))),
        "InvalidCiphertextException"
    );
}

// ---------------------------------------------------------------- persistence and the file

#[test]
fn persists_across_reopen() {
    let env = Env::new();
    let kms = &env.kms;
    let k = b(kms.create_key(CreateKeyRequest {
        description: "kept".into(),
        tags: BTreeMap::from([("a".to_string(), "b".to_string())]),
        ..Default::default()
    }))
    .unwrap();
    b(kms.create_alias("alias/kept", &k.key_id)).unwrap();
    let c = ctx(&[("p", "q")]);
    let v1 = b(kms.encrypt(&k.key_id, b"one", &c)).unwrap();
    b(kms.rotate_key_on_demand(&k.key_id)).unwrap();
    let v2 = b(kms.encrypt("alias/kept", b"two", &c)).unwrap();
    b(kms.enable_key_rotation(&k.key_id, Some(100))).unwrap();
    let d = env.key();
    b(kms.disable_key(&d)).unwrap();
    drop(env.kms.clone());

    let again = env.reopen();
    let meta = b(again.describe_key("alias/kept")).unwrap();
    assert_eq!(meta.description, "kept");
    assert_eq!(meta.tags, k.tags);
    assert_eq!(meta.current_version, 2);
    assert_eq!(meta.creation_date, T0);
    assert_eq!(
        b(again.decrypt(&v1.ciphertext_blob, &c, None))
            .unwrap()
            .plaintext
            .as_bytes(),
        b"one"
    );
    assert_eq!(
        b(again.decrypt(&v2.ciphertext_blob, &c, None))
            .unwrap()
            .key_version,
        2
    );
    assert_eq!(
        b(again.get_key_rotation_status(&k.key_id))
            .unwrap()
            .rotation_period_days,
        Some(100)
    );
    assert_eq!(b(again.describe_key(&d)).unwrap().state, KeyState::Disabled);
    assert_eq!(b(again.list_key_rotations(&k.key_id)).unwrap().len(), 1);
}

#[test]
fn missing_store_is_created_and_wrong_root_key_is_refused() {
    let env = Env::new();
    let k = env.key();
    let path = env.store_path();
    let before = std::fs::read(&path).unwrap();
    assert_eq!(&before[..5], b"OSKS\x01");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    let wrong = LocalKmsConfig::new(&path, RootKey::generate().unwrap());
    let e = LocalKms::open(wrong).unwrap_err();
    assert_eq!(e.aws_type(), "KMSInternalException");
    assert!(
        e.message().contains("cannot be opened with this root key"),
        "{e}"
    );
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "never recreated or touched"
    );

    // A corrupted store is refused as corrupted, not as a wrong key.
    let mut bad = before.clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    std::fs::write(&path, &bad).unwrap();
    let e = LocalKms::open(LocalKmsConfig::new(&path, env.root.clone())).unwrap_err();
    assert!(e.message().contains("corrupted"), "{e}");
    std::fs::write(&path, b"hello").unwrap();
    let e = LocalKms::open(LocalKmsConfig::new(&path, env.root.clone())).unwrap_err();
    assert!(e.message().contains("not an objseal keystore"), "{e}");
    std::fs::write(&path, &before).unwrap();
    assert_eq!(b(env.reopen().describe_key(&k)).unwrap().key_id, k);

    // A handle whose file was replaced by a foreign one reports it rather than serving stale keys.
    let other = Env::new();
    std::fs::copy(other.store_path(), &path).unwrap();
    assert_eq!(outcome(b(env.kms.describe_key(&k))), "KMSInternalException");

    let e = LocalKms::open(LocalKmsConfig {
        region: String::new(),
        ..LocalKmsConfig::new(env.dir.path().join("x"), env.root.clone())
    })
    .unwrap_err();
    assert_eq!(e.aws_type(), "ValidationException");
}

#[test]
fn root_key_sources() {
    let dir = tempfile::tempdir().unwrap();
    let key = RootKey::generate().unwrap();
    let path = dir.path().join("root.key");
    std::fs::write(&path, key.to_key_file().as_bytes()).unwrap();
    assert_eq!(
        RootKey::from_file(&path).unwrap().expose_secret(),
        key.expose_secret()
    );
    // The CLI's keygen format: comment, key line; surrounding whitespace and blank lines ignored.
    let hexkey = hex(key.expose_secret());
    std::fs::write(
        &path,
        format!(
            "# objseal key-encryption key, created 2026-05-01T12:00:00Z\n\n  objseal-kek-1:{}  \n",
            hexkey.to_uppercase()
        ),
    )
    .unwrap();
    assert_eq!(
        RootKey::from_file(&path).unwrap().expose_secret(),
        key.expose_secret()
    );
    for bad in [
        String::new(),
        "# only a comment\n".into(),
        format!("objseal-kek-1:{}\n", &hexkey[..62]),
        format!("objseal-kek-1:{hexkey}\nobjseal-kek-1:{hexkey}\n"),
        format!("objseal-kek-2:{hexkey}\n"),
    ] {
        std::fs::write(&path, &bad).unwrap();
        let e = RootKey::from_file(&path).unwrap_err();
        assert_eq!(e.aws_type(), "ValidationException");
        assert!(
            !e.message().contains(&hexkey[..16]),
            "errors never quote the key: {e}"
        );
    }
    assert_eq!(
        RootKey::from_file(dir.path().join("missing"))
            .unwrap_err()
            .aws_type(),
        "ValidationException"
    );
    std::fs::write(&path, vec![b'#'; 70_000]).unwrap();
    assert!(RootKey::from_file(&path).is_err());
}

/// `RootKey::from_env`, in a child process (setting variables in this multi-threaded process
/// would be unsound): the child runs `root_key_from_env_child` with the variables set.
#[test]
fn root_key_from_env() {
    let key = RootKey::generate().unwrap();
    let hexkey = hex(key.expose_secret());
    for (value, expect) in [
        (hexkey.clone(), hexkey.clone()),
        (format!("objseal-kek-1:{hexkey}"), hexkey.clone()),
        (format!(" {}\n", hexkey.to_uppercase()), hexkey.clone()),
        ("zz".to_string(), "error".to_string()),
        (hexkey[..60].to_string(), "error".to_string()),
    ] {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "root_key_from_env_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("OBJSEAL_TEST_ROOT_KEY", &value)
            .env("OBJSEAL_TEST_ROOT_KEY_EXPECT", &expect)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains("1 passed"), "{stdout}");
    }
}

#[test]
fn root_key_from_env_child() {
    let Ok(expect) = std::env::var("OBJSEAL_TEST_ROOT_KEY_EXPECT") else {
        return; // run directly: nothing to check
    };
    match RootKey::from_env("OBJSEAL_TEST_ROOT_KEY") {
        Ok(key) => assert_eq!(hex(key.expose_secret()), expect),
        Err(e) => {
            assert_eq!(expect, "error");
            assert_eq!(e.aws_type(), "ValidationException");
            assert!(e.message().contains("OBJSEAL_TEST_ROOT_KEY"));
        }
    }
    let e = RootKey::from_env("OBJSEAL_TEST_ROOT_KEY_SURELY_UNSET").unwrap_err();
    assert!(e.message().contains("is not set"), "{e}");
}

// ---------------------------------------------------------------- crash safety

#[test]
fn crash_at_every_save_step_leaves_old_or_new_store() {
    for step in SaveStep::ALL {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.osks");
        let root = RootKey::generate().unwrap();
        let armed = Arc::new(AtomicBool::new(false));
        let hook_armed = armed.clone();
        let mut config = LocalKmsConfig::new(&path, root.clone());
        config.fault_hook = Some(Arc::new(move |s: SaveStep| {
            if s == step && hook_armed.swap(false, Ordering::SeqCst) {
                Err(std::io::Error::other(format!("simulated crash at {s:?}")))
            } else {
                Ok(())
            }
        }));
        let kms = LocalKms::open(config).unwrap();
        let old = create_key(&kms);
        let blob = b(kms.encrypt(&old, b"survives", &ctx(&[])))
            .unwrap()
            .ciphertext_blob;

        armed.store(true, Ordering::SeqCst);
        let crashed = b(kms.create_key(CreateKeyRequest {
            description: "new".into(),
            ..Default::default()
        }));
        let e = crashed.unwrap_err();
        assert_eq!(e.aws_type(), "KMSInternalException", "{step:?}");
        assert!(e.message().contains("simulated crash"), "{e}");
        drop(kms);

        // "After the crash": a fresh process opens the store.
        let temps = |dir: &std::path::Path| {
            std::fs::read_dir(dir)
                .unwrap()
                .filter(|e| {
                    e.as_ref()
                        .unwrap()
                        .file_name()
                        .to_string_lossy()
                        .contains(".tmp-")
                })
                .count()
        };
        let left = temps(dir.path());
        let reopened = LocalKms::open(LocalKmsConfig::new(&path, root)).unwrap();
        assert_eq!(
            temps(dir.path()),
            0,
            "{step:?}: temporary files are cleaned on open"
        );
        let keys = b(reopened.list_keys()).unwrap();
        let new_store = keys.len() == 2;
        match step {
            SaveStep::CreateTemp | SaveStep::WriteTemp | SaveStep::SyncTemp | SaveStep::Rename => {
                assert!(!new_store, "{step:?}: the old store");
                assert_eq!(left, usize::from(step != SaveStep::CreateTemp), "{step:?}");
            }
            SaveStep::SyncDir | SaveStep::Done => assert!(new_store, "{step:?}: the new store"),
        }
        assert_eq!(
            b(reopened.decrypt(&blob, &ctx(&[]), None))
                .unwrap()
                .plaintext
                .as_bytes(),
            b"survives"
        );
    }
}

#[test]
fn failed_operations_change_nothing() {
    let env = Env::new();
    let k = env.key();
    let before = std::fs::read(env.store_path()).unwrap();
    assert!(b(env.kms.create_alias("alias/aws/x", &k)).is_err());
    assert!(b(env.kms.cancel_key_deletion(&k)).is_err());
    b(env.kms.describe_key(&k)).unwrap();
    b(env.kms.enable_key(&k)).unwrap(); // already enabled: nothing to write
    assert_eq!(
        std::fs::read(env.store_path()).unwrap(),
        before,
        "no rewrite without a change"
    );
}

// ---------------------------------------------------------------- concurrency

#[test]
fn concurrent_handles_lose_nothing() {
    let env = Env::new();
    let a = env.kms.clone();
    let other = env.reopen();
    let threads: Vec<_> = [a.clone(), other.clone(), a.clone(), other.clone()]
        .into_iter()
        .enumerate()
        .map(|(t, kms)| {
            std::thread::spawn(move || {
                let mut mine = Vec::new();
                for i in 0..8 {
                    let k = create_key(&kms);
                    block_on(kms.create_alias(&format!("alias/t{t}-{i}"), &k)).unwrap();
                    if i % 2 == 0 {
                        block_on(kms.rotate_key_on_demand(&k)).unwrap();
                    }
                    mine.push(k);
                }
                mine
            })
        })
        .collect();
    let created: Vec<String> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    assert_eq!(created.len(), 32);
    for kms in [&a, &other, &env.reopen()] {
        assert_eq!(b(kms.list_keys()).unwrap().len(), 32);
        assert_eq!(b(kms.list_aliases(None)).unwrap().len(), 32);
        for k in &created {
            assert!(b(kms.describe_key(k)).unwrap().current_version >= 1);
        }
    }

    // Interleaved changes on two handles are seen by each other at once.
    let k = create_key(&a);
    b(other.create_alias("alias/shared", &k)).unwrap();
    let c = ctx(&[]);
    let blob = b(a.encrypt("alias/shared", b"x", &c))
        .unwrap()
        .ciphertext_blob;
    b(other.disable_key(&k)).unwrap();
    assert_eq!(outcome(b(a.encrypt(&k, b"x", &c))), "DisabledException");
    assert_eq!(outcome(b(a.decrypt(&blob, &c, None))), "DisabledException");
    b(a.enable_key(&k)).unwrap();
    b(other.rotate_key_on_demand(&k)).unwrap();
    assert_eq!(b(a.encrypt(&k, b"x", &c)).unwrap().key_version, 2);
}

// ---------------------------------------------------------------- audit log

#[test]
fn audit_log_records_everything_and_no_secrets() {
    let env = Env::with_audit();
    let alice = env
        .kms
        .with_principal("alice")
        .with_source("10.0.0.1:5555")
        .with_request_id("req-1");
    assert_eq!(alice.principal(), "alice");
    assert_eq!(env.kms.principal(), "local");
    let k = create_key(&alice);
    let c = ctx(&[("bucket", "audit")]);
    let mut secrets: Vec<Vec<u8>> = Vec::new();
    for spec in [
        DataKeySpec::Aes256,
        DataKeySpec::Aes128,
        DataKeySpec::Bytes(48),
    ] {
        let dk = b(alice.generate_data_key(&k, &c, spec)).unwrap();
        let back = b(alice.decrypt(&dk.wrapped.ciphertext_blob, &c, None)).unwrap();
        secrets.push(dk.plaintext.as_bytes().to_vec());
        secrets.push(back.plaintext.as_bytes().to_vec());
    }
    let wrapped =
        b(alice.generate_data_key_without_plaintext(&k, &c, DataKeySpec::Aes256)).unwrap();
    secrets.push(
        b(alice.decrypt(&wrapped.ciphertext_blob, &c, None))
            .unwrap()
            .plaintext
            .as_bytes()
            .to_vec(),
    );
    let plaintext = b"the quick brown fox, plaintext that must never be logged";
    secrets.push(plaintext.to_vec());
    let ct = b(alice.encrypt(&k, plaintext, &c)).unwrap();
    for n in [16, 32, 1024] {
        secrets.push(b(alice.generate_random(n)).unwrap().as_bytes().to_vec());
    }
    assert!(b(alice.decrypt(&ct.ciphertext_blob, &ctx(&[]), None)).is_err());
    b(env.kms.disable_key(&k)).unwrap();
    assert!(b(alice.generate_data_key(&k, &c, DataKeySpec::Aes256)).is_err());
    b(env.kms.enable_key(&k)).unwrap();
    let k2 = create_key(&env.kms);
    b(alice.re_encrypt(ReEncryptRequest {
        ciphertext_blob: &ct.ciphertext_blob,
        source_context: &c,
        source_key_id: None,
        destination_key_id: &k2,
        destination_context: &c,
    }))
    .unwrap();

    let events = AuditLog::read(env.audit_path()).unwrap();
    let ops: Vec<(&str, &str, &str)> = events
        .iter()
        .map(|e| {
            (
                e.principal.as_str(),
                e.operation.as_str(),
                e.result.as_str(),
            )
        })
        .collect();
    let expect_prefix = [
        ("alice", "CreateKey", "ok"),
        ("alice", "GenerateDataKey", "ok"),
        ("alice", "Decrypt", "ok"),
    ];
    assert_eq!(&ops[..3], &expect_prefix);
    assert!(ops.contains(&("alice", "Decrypt", "InvalidCiphertextException")));
    assert!(ops.contains(&("local", "DisableKey", "ok")));
    assert!(ops.contains(&("alice", "GenerateDataKey", "DisabledException")));
    assert!(ops.contains(&("alice", "GenerateRandom", "ok")));
    assert!(ops.contains(&("alice", "GenerateDataKeyWithoutPlaintext", "ok")));
    assert!(ops.contains(&("alice", "Encrypt", "ok")));
    assert!(ops.contains(&("alice", "ReEncrypt", "ok")));
    assert_eq!(events.len(), 19);
    let arn = format!("arn:aws:kms:us-east-1:000000000000:key/{k}");
    let gdk = &events[1];
    assert_eq!(gdk.key_id.as_deref(), Some(arn.as_str()));
    assert_eq!(gdk.key_version, Some(1));
    assert_eq!(gdk.context.as_ref(), Some(&c));
    assert_eq!(gdk.time, T0);
    assert_eq!(gdk.source.as_deref(), Some("10.0.0.1:5555"));
    assert_eq!(gdk.request_id.as_deref(), Some("req-1"));
    let refused = events
        .iter()
        .find(|e| e.result == "DisabledException")
        .unwrap();
    assert!(refused.message.as_deref().unwrap().contains("is disabled"));
    let re = events.iter().find(|e| e.operation == "ReEncrypt").unwrap();
    assert!(re.key_id.as_deref().unwrap().ends_with(&k2));
    assert!(re.message.as_deref().unwrap().contains(&k));

    let raw = std::fs::read(env.audit_path()).unwrap();
    let text = String::from_utf8(raw.clone()).unwrap();
    assert!(
        text.lines()
            .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok())
    );
    let root_hex = hex(env.root.expose_secret());
    let mut needles = vec![
        root_hex.clone(),
        root_hex.to_uppercase(),
        base64(env.root.expose_secret()),
    ];
    for s in &secrets {
        needles.push(hex(s));
        needles.push(hex(s).to_uppercase());
        needles.push(base64(s));
        needles.push(base64url(s));
    }
    for needle in needles {
        // Short secrets (16 bytes) still give 22+ characters: no accidental matches.
        assert!(needle.len() >= 20);
        assert!(
            !text.contains(&needle),
            "secret material found in the audit log"
        );
    }
    assert!(!text.contains("the quick brown fox"));
    // Nor are ciphertext blobs logged.
    assert!(!text.contains(&base64(&ct.ciphertext_blob)));
}

/// When the audit log cannot be written, results are withheld (`KMSInternalException`).
#[cfg(target_os = "linux")]
#[test]
fn unwritable_audit_log_withholds_results() {
    let Ok(log) = AuditLog::open("/dev/full") else {
        return; // no /dev/full here
    };
    let env = Env::new();
    let k = env.key();
    let kms = env.reopen_with(|c| c.audit = Some(Arc::new(log)));
    let e = b(kms.generate_data_key(&k, &ctx(&[]), DataKeySpec::Aes256)).unwrap_err();
    assert_eq!(e.aws_type(), "KMSInternalException");
    assert!(e.message().contains("audit log"), "{e}");
    assert_eq!(outcome(b(kms.generate_random(8))), "KMSInternalException");
}

// ---------------------------------------------------------------- cache

fn limits(max_age: u64, max_uses: u64, max_bytes: usize, max_entries: usize) -> CacheLimits {
    CacheLimits {
        max_age: Duration::from_secs(max_age),
        max_uses,
        max_bytes,
        max_entries,
    }
}

#[test]
fn cache_is_off_by_default() {
    let env = Env::new();
    assert!(env.kms.cache_stats().is_none());
}

#[test]
fn cache_reuses_within_uses_and_age() {
    let env = Env::with_cache(limits(60, 3, 1 << 20, 100));
    let kms = &env.kms;
    let k = env.key();
    let c = ctx(&[("a", "b")]);
    let first = b(kms.generate_data_key(&k, &c, DataKeySpec::Aes256)).unwrap();
    let second = b(kms.generate_data_key(&k, &c, DataKeySpec::Aes256)).unwrap();
    assert_eq!(first, second, "reused");
    let third = b(kms.generate_data_key(&k, &c, DataKeySpec::Aes256)).unwrap();
    assert_eq!(first, third, "third use");
    let fourth = b(kms.generate_data_key(&k, &c, DataKeySpec::Aes256)).unwrap();
    assert_ne!(first.plaintext, fourth.plaintext, "max_uses = 3 reached");
    // A different context, spec or key is a different entry.
    assert_ne!(
        fourth,
        b(kms.generate_data_key(&k, &ctx(&[]), DataKeySpec::Aes256)).unwrap()
    );
    assert_ne!(
        fourth.plaintext.len(),
        b(kms.generate_data_key(&k, &c, DataKeySpec::Aes128))
            .unwrap()
            .plaintext
            .len()
    );
    // Age.
    env.clock.advance_secs(59);
    assert_eq!(
        fourth,
        b(kms.generate_data_key(&k, &c, DataKeySpec::Aes256)).unwrap()
    );
    env.clock.advance_secs(1);
    let fresh = b(kms.generate_data_key(&k, &c, DataKeySpec::Aes256)).unwrap();
    assert_ne!(fourth.plaintext, fresh.plaintext, "expired at max_age");
    // Without-plaintext is never cached.
    assert_ne!(
        b(kms.generate_data_key_without_plaintext(&k, &c, DataKeySpec::Aes256)).unwrap(),
        b(kms.generate_data_key_without_plaintext(&k, &c, DataKeySpec::Aes256)).unwrap()
    );
    let stats = kms.cache_stats().unwrap();
    assert_eq!(stats.hits, 3);
    assert!(stats.expirations >= 2);

    // Decrypt results are cached too.
    let before = kms.cache_stats().unwrap().hits;
    let p1 = b(kms.decrypt(&fresh.wrapped.ciphertext_blob, &c, None)).unwrap();
    let p2 = b(kms.decrypt(&fresh.wrapped.ciphertext_blob, &c, None)).unwrap();
    assert_eq!(p1, p2);
    assert_eq!(kms.cache_stats().unwrap().hits, before + 1);
    // ...but only for the same context, and a named key is still checked.
    assert_eq!(
        outcome(b(kms.decrypt(
            &fresh.wrapped.ciphertext_blob,
            &ctx(&[]),
            None
        ))),
        "InvalidCiphertextException"
    );
    let other = env.key();
    assert_eq!(
        outcome(b(kms.decrypt(
            &fresh.wrapped.ciphertext_blob,
            &c,
            Some(&other)
        ))),
        "IncorrectKeyException"
    );
    kms.clear_cache();
    assert_eq!(kms.cache_stats().unwrap().entries, 0);
}

#[test]
fn cache_bounds_bytes_and_entries() {
    let env = Env::with_cache(limits(600, 100, 64, 3));
    let kms = &env.kms;
    let k = env.key();
    let c = |i: u32| ctx(&[("i", &i.to_string())]);
    let gdk = |i: u32, spec| b(kms.generate_data_key(&k, &c(i), spec)).unwrap();
    let a = gdk(1, DataKeySpec::Aes256);
    let _b2 = gdk(2, DataKeySpec::Aes256);
    assert_eq!(kms.cache_stats().unwrap().bytes, 64);
    let _c3 = gdk(3, DataKeySpec::Aes128); // 80 bytes > 64: the least recently used (1) goes
    let s = kms.cache_stats().unwrap();
    assert_eq!((s.entries, s.bytes), (2, 48));
    assert_ne!(gdk(1, DataKeySpec::Aes256), a, "evicted");
    // Entries: four 16-byte keys into a 3-entry cache.
    kms.clear_cache();
    for i in 10..14 {
        gdk(i, DataKeySpec::Aes128);
    }
    let s = kms.cache_stats().unwrap();
    assert_eq!((s.entries, s.bytes), (3, 48));
    // Larger than max_bytes: never cached.
    let big = gdk(20, DataKeySpec::Bytes(65));
    assert_ne!(gdk(20, DataKeySpec::Bytes(65)), big);
    assert!(kms.cache_stats().unwrap().bytes <= 64);
}

#[test]
fn cache_never_serves_disabled_rotated_or_deleted_keys() {
    let env = Env::with_cache(limits(600, 100, 1 << 20, 100));
    let kms = &env.kms;
    let k = env.key();
    let c = ctx(&[]);
    let dk = b(kms.generate_data_key(&k, &c, DataKeySpec::Aes256)).unwrap();
    b(kms.decrypt(&dk.wrapped.ciphertext_blob, &c, None)).unwrap();
    assert_eq!(
        dk,
        b(kms.generate_data_key(&k, &c, DataKeySpec::Aes256)).unwrap()
    );

    b(kms.disable_key(&k)).unwrap();
    assert_eq!(
        outcome(b(kms.generate_data_key(&k, &c, DataKeySpec::Aes256))),
        "DisabledException"
    );
    assert_eq!(
        outcome(b(kms.decrypt(&dk.wrapped.ciphertext_blob, &c, None))),
        "DisabledException"
    );
    b(kms.enable_key(&k)).unwrap();
    assert_ne!(
        dk,
        b(kms.generate_data_key(&k, &c, DataKeySpec::Aes256)).unwrap(),
        "wiped on disable"
    );

    // Disabled through another handle (another process): this handle's cache is not consulted.
    let cached = b(kms.generate_data_key(&k, &c, DataKeySpec::Aes256)).unwrap();
    let other = env.reopen();
    b(other.disable_key(&k)).unwrap();
    assert_eq!(
        outcome(b(kms.generate_data_key(&k, &c, DataKeySpec::Aes256))),
        "DisabledException"
    );
    b(other.enable_key(&k)).unwrap();
    assert_ne!(
        cached,
        b(kms.generate_data_key(&k, &c, DataKeySpec::Aes256)).unwrap()
    );

    // Rotation: new data keys use the new version, never a cached old one.
    let v1 = b(kms.generate_data_key(&k, &c, DataKeySpec::Aes256)).unwrap();
    b(other.rotate_key_on_demand(&k)).unwrap();
    let v2 = b(kms.generate_data_key(&k, &c, DataKeySpec::Aes256)).unwrap();
    assert_eq!(v2.wrapped.key_version, 2);
    assert_ne!(v1.plaintext, v2.plaintext);

    // Pending deletion and deletion.
    b(kms.generate_data_key(&k, &c, DataKeySpec::Aes256)).unwrap();
    b(other.schedule_key_deletion(&k, Some(7))).unwrap();
    assert_eq!(
        outcome(b(kms.generate_data_key(&k, &c, DataKeySpec::Aes256))),
        "KMSInvalidStateException"
    );
    env.clock.advance_days(7);
    assert_eq!(
        outcome(b(kms.generate_data_key(&k, &c, DataKeySpec::Aes256))),
        "NotFoundException"
    );
    assert_eq!(
        outcome(b(kms.decrypt(&dk.wrapped.ciphertext_blob, &c, None))),
        "NotFoundException"
    );
    assert_eq!(kms.cache_stats().unwrap().entries, 0);
}

#[test]
fn cache_with_single_use_caches_nothing() {
    let env = Env::with_cache(limits(600, 1, 1 << 20, 100));
    let k = env.key();
    let c = ctx(&[]);
    let a = b(env.kms.generate_data_key(&k, &c, DataKeySpec::Aes256)).unwrap();
    assert_ne!(
        a,
        b(env.kms.generate_data_key(&k, &c, DataKeySpec::Aes256)).unwrap()
    );
    assert_eq!(env.kms.cache_stats().unwrap().entries, 0);
}

#[test]
fn kms_is_object_safe_and_shareable() {
    let env = Env::new();
    let shared: Arc<dyn Kms> = Arc::new(env.kms.clone());
    let k = b(shared.create_key(CreateKeyRequest::default())).unwrap();
    let c = ctx(&[]);
    let ct = b(shared.encrypt(&k.key_id, b"dyn", &c)).unwrap();
    assert_eq!(
        b(shared.decrypt(&ct.ciphertext_blob, &c, None))
            .unwrap()
            .plaintext
            .as_bytes(),
        b"dyn"
    );
}
