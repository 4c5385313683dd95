//! Key policies on the embedded keystore: who may administer and who may use each key, decided
//! before anything else about the key, with AWS's default policies, lockout safety check, condition
//! keys and error shapes, and every decision in the audit log.

mod keystore_util;

use keystore_util::*;
use objseal_kms::audit::{AuditEvent, AuditLog};
use objseal_kms::keystore::{DEFAULT_ACCOUNT_ID, account_policy, creator_policy};
use objseal_kms::principal::{Principal, user_arn};
use objseal_kms::{
    CreateKeyRequest, DEFAULT_POLICY_NAME, DataKeySpec, Delegation, EncryptionContext, Kms,
    KmsError, LocalKms, ReEncryptRequest,
};
use serde_json::{Value, json};

const S3_ENDPOINT: &str = "s3.us-east-1.amazonaws.com";

fn arn(name: &str) -> String {
    user_arn(DEFAULT_ACCOUNT_ID, name)
}

/// A handle on the keystore acting for the principal `name` (no groups).
fn user(kms: &LocalKms, name: &str) -> LocalKms {
    user_in(kms, name, &[])
}

fn user_in(kms: &LocalKms, name: &str, groups: &[&str]) -> LocalKms {
    let p = Principal::new(name, format!("AKID{name}"), "secret").in_groups(groups.iter().copied());
    kms.with_identity(p.identity(kms.account_id()))
}

/// A delegation of `name`'s request through the service endpoint `via`.
fn delegation(kms: &LocalKms, name: &str, via: &str) -> Delegation {
    Delegation {
        identity: Principal::new(name, format!("AKID{name}"), "secret").identity(kms.account_id()),
        via_service: via.into(),
        source: Some("198.51.100.7:5000".into()),
        request_id: Some("s3-request-1".into()),
    }
}

fn policy(statements: Value) -> String {
    json!({"Version": "2012-10-17", "Statement": statements}).to_string()
}

/// Every action on the key for `who`.
fn allow_all(who: &str) -> Value {
    json!({"Effect": "Allow", "Principal": {"AWS": who}, "Action": "kms:*", "Resource": "*"})
}

fn denied<T: std::fmt::Debug>(r: Result<T, KmsError>) -> String {
    match r {
        Err(KmsError::AccessDenied(m)) => m,
        other => panic!("expected AccessDeniedException, got {other:?}"),
    }
}

fn malformed<T: std::fmt::Debug>(r: Result<T, KmsError>) -> String {
    match r {
        Err(KmsError::MalformedPolicyDocument(m)) => m,
        other => panic!("expected MalformedPolicyDocumentException, got {other:?}"),
    }
}

fn gdk(kms: &dyn Kms, key: &str, context: &EncryptionContext) -> Result<Vec<u8>, KmsError> {
    b(kms.generate_data_key(key, context, DataKeySpec::Aes256)).map(|d| d.wrapped.ciphertext_blob)
}

fn decrypt(kms: &dyn Kms, blob: &[u8], context: &EncryptionContext) -> Result<Vec<u8>, KmsError> {
    b(kms.decrypt(blob, context, None)).map(|p| p.plaintext.as_bytes().to_vec())
}

fn parsed(doc: &str) -> Value {
    serde_json::from_str(doc).expect("a policy document is JSON")
}

// ---------------------------------------------------------------- default policies

#[test]
fn a_new_key_belongs_to_its_creator() {
    let env = Env::new();
    let kate = user(&env.kms, "kate");
    let bob = user(&env.kms, "bob");
    let key = b(kate.create_key(CreateKeyRequest::default())).unwrap();
    let id = key.key_id.as_str();

    let doc = b(kate.get_key_policy(id)).unwrap();
    assert_eq!(doc, creator_policy(&arn("kate")));
    assert_eq!(
        parsed(&doc)["Statement"][0]["Principal"]["AWS"],
        arn("kate").as_str()
    );
    assert_eq!(
        b(kate.list_key_policies(id)).unwrap(),
        [DEFAULT_POLICY_NAME]
    );

    // The creator may do everything: use, administer, re-policy.
    let none = EncryptionContext::new();
    let blob = gdk(&kate, id, &none).unwrap();
    decrypt(&kate, &blob, &none).unwrap();
    b(kate.rotate_key_on_demand(id)).unwrap();
    b(kate.disable_key(id)).unwrap();
    b(kate.enable_key(id)).unwrap();
    b(kate.create_alias("alias/kate", id)).unwrap();
    b(kate.put_key_policy(id, &doc, false)).unwrap();

    // Anyone else may do nothing with it, not even learn that it exists beyond its id.
    let message = denied(b(bob.describe_key(id)));
    assert!(
        message.contains(&arn("bob")) && message.contains("kms:DescribeKey"),
        "{message}"
    );
    assert!(message.contains(&key.arn), "{message}");
    denied(gdk(&bob, id, &none));
    denied(gdk(&bob, "alias/kate", &none));
    denied(decrypt(&bob, &blob, &none));
    denied(b(bob.get_key_policy(id)));
    denied(b(bob.list_key_policies(id)));
    denied(b(bob.put_key_policy(
        id,
        &creator_policy(&arn("bob")),
        false,
    )));
    denied(b(bob.disable_key(id)));
    denied(b(bob.create_alias("alias/bob", id)));
    denied(b(bob.delete_alias("alias/kate")));
    // Nothing changed by the refusals; operations on no key stay open to every principal.
    assert_eq!(b(kate.get_key_policy(id)).unwrap(), doc);
    assert_eq!(
        b(kate.describe_key(id)).unwrap().state,
        objseal_kms::KeyState::Enabled
    );
    assert_eq!(b(bob.list_aliases(None)).unwrap().len(), 1);
    assert_eq!(b(bob.list_keys()).unwrap().len(), 1);
    // The keystore's operator (no identity: it holds the root key) is never refused.
    b(env.kms.describe_key(id)).unwrap();
    decrypt(&env.kms, &blob, &none).unwrap();
}

#[test]
fn keys_made_by_the_operator_are_open_to_the_account() {
    let env = Env::new();
    let id = env.key();
    let doc = b(env.kms.get_key_policy(&id)).unwrap();
    assert_eq!(doc, account_policy(DEFAULT_ACCOUNT_ID));
    assert_eq!(
        parsed(&doc)["Statement"][0]["Principal"]["AWS"],
        "arn:aws:iam::000000000000:root"
    );
    let none = EncryptionContext::new();
    for name in ["kate", "bob"] {
        let who = user(&env.kms, name);
        assert_eq!(b(who.get_key_policy(&id)).unwrap(), doc);
        let blob = gdk(&who, &id, &none).unwrap();
        decrypt(&who, &blob, &none).unwrap();
        b(who.rotate_key_on_demand(&id)).unwrap();
    }
}

/// Rewrites the keystore as a version without key policies wrote it: no `policy` on any key
/// (FORMAT.md §14: the sealed JSON document).
fn strip_policies(env: &Env) {
    use hkdf::Hkdf;
    use objseal_core::gcm::{Aes256Gcm, NONCE_LEN, TAG_LEN};
    use objseal_kms::keystore::{LABEL_STORE, LABEL_STORE_CHECK, STORE_HEADER_LEN};
    use sha2::Sha256;

    let derive = |salt: &[u8], info: &[&[u8]]| {
        let mut okm = [0u8; 32];
        Hkdf::<Sha256>::new(Some(salt), env.root.expose_secret())
            .expand_multi_info(info, &mut okm)
            .unwrap();
        okm
    };
    let bytes = std::fs::read(env.store_path()).unwrap();
    let header = bytes[..STORE_HEADER_LEN].to_vec();
    let (body, tag) = bytes[STORE_HEADER_LEN..].split_at(bytes.len() - STORE_HEADER_LEN - TAG_LEN);
    let gcm = Aes256Gcm::new(&derive(&header[5..37], &[LABEL_STORE, &header]));
    let mut json = body.to_vec();
    gcm.open_in_place(&[0; NONCE_LEN], &header, &mut json, tag.try_into().unwrap())
        .unwrap();
    let mut doc: Value = serde_json::from_slice(&json).unwrap();
    let mut stripped = 0;
    for key in doc["keys"].as_object_mut().unwrap().values_mut() {
        stripped += usize::from(key.as_object_mut().unwrap().remove("policy").is_some());
    }
    assert!(stripped > 0, "no key had a policy to strip: {doc}");

    // Sealed again under a fresh salt, so that readers notice the change.
    let salt = [0x5a; 32];
    let mut out = bytes[..5].to_vec();
    out.extend_from_slice(&salt);
    out.extend_from_slice(&derive(&salt, &[LABEL_STORE_CHECK]));
    let header = out.clone();
    let mut sealed = serde_json::to_vec(&doc).unwrap();
    let tag = Aes256Gcm::new(&derive(&salt, &[LABEL_STORE, &header])).seal_in_place(
        &[0; NONCE_LEN],
        &header,
        &mut sealed,
    );
    out.extend_from_slice(&sealed);
    out.extend_from_slice(&tag);
    std::fs::write(env.store_path(), out).unwrap();
}

#[test]
fn keys_made_before_key_policies_have_the_account_policy() {
    let env = Env::new();
    let kate = user(&env.kms, "kate");
    let id = b(kate.create_key(CreateKeyRequest::default()))
        .unwrap()
        .key_id;
    strip_policies(&env);
    let kms = env.reopen();
    let (kate, bob) = (user(&kms, "kate"), user(&kms, "bob"));
    // Without a stored policy the key has AWS's default: every principal of the account.
    assert_eq!(
        b(bob.get_key_policy(&id)).unwrap(),
        account_policy(DEFAULT_ACCOUNT_ID)
    );
    let none = EncryptionContext::new();
    let blob = gdk(&bob, &id, &none).unwrap();
    decrypt(&kate, &blob, &none).unwrap();
    // Once a policy is put it is the one in force, and it is kept.
    b(kate.put_key_policy(&id, &policy(json!([allow_all(&arn("kate"))])), false)).unwrap();
    denied(decrypt(&bob, &blob, &none));
    let again = env.reopen();
    denied(decrypt(&user(&again, "bob"), &blob, &none));
    decrypt(&user(&again, "kate"), &blob, &none).unwrap();
}

// ---------------------------------------------------------------- role separation

/// The three roles of issue 9: an S3 administrator with no right on the key, a data user who may
/// only use it, and a key administrator who may only administer it.
fn role_separation(key_admin: &str, data_user: &str) -> String {
    policy(json!([
        {"Sid": "KeyAdministrators", "Effect": "Allow", "Principal": {"AWS": key_admin},
         "Action": ["kms:Describe*", "kms:Enable*", "kms:Disable*", "kms:Get*", "kms:List*",
                    "kms:PutKeyPolicy", "kms:RotateKeyOnDemand", "kms:ScheduleKeyDeletion",
                    "kms:CancelKeyDeletion"],
         "Resource": "*"},
        {"Sid": "DataUsers", "Effect": "Allow", "Principal": {"AWS": [data_user]},
         "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*",
                    "kms:DescribeKey"],
         "Resource": "*"}
    ]))
}

#[test]
fn key_admins_administer_data_users_use_and_the_s3_admin_does_neither() {
    let env = Env::new();
    let id = env.key();
    let doc = role_separation(&arn("keyadmin"), &arn("datauser"));
    b(env.kms.put_key_policy(&id, &doc, false)).unwrap();
    let (s3admin, data, admin) = (
        user(&env.kms, "s3admin"),
        user(&env.kms, "datauser"),
        user(&env.kms, "keyadmin"),
    );
    let ctx = ctx(&[("bucket", "photos")]);

    // The data user uses the key…
    let blob = gdk(&data, &id, &ctx).unwrap();
    decrypt(&data, &blob, &ctx).unwrap();
    b(data.encrypt(&id, b"x", &ctx)).unwrap();
    b(data.generate_data_key_without_plaintext(&id, &ctx, DataKeySpec::Aes128)).unwrap();
    b(data.re_encrypt(ReEncryptRequest {
        ciphertext_blob: &blob,
        source_context: &ctx,
        source_key_id: None,
        destination_key_id: &id,
        destination_context: &ctx,
    }))
    .unwrap();
    b(data.describe_key(&id)).unwrap();
    // …and cannot administer it.
    denied(b(data.disable_key(&id)));
    denied(b(data.rotate_key_on_demand(&id)));
    denied(b(data.enable_key_rotation(&id, None)));
    denied(b(data.schedule_key_deletion(&id, Some(7))));
    denied(b(data.put_key_policy(
        &id,
        &creator_policy(&arn("datauser")),
        true,
    )));
    denied(b(data.get_key_policy(&id)));

    // The key admin administers it…
    b(admin.describe_key(&id)).unwrap();
    b(admin.disable_key(&id)).unwrap();
    b(admin.enable_key(&id)).unwrap();
    b(admin.rotate_key_on_demand(&id)).unwrap();
    assert_eq!(b(admin.get_key_policy(&id)).unwrap(), doc);
    b(admin.put_key_policy(&id, &doc, false)).unwrap();
    // …and cannot use it.
    let message = denied(decrypt(&admin, &blob, &ctx));
    assert!(
        message.contains("kms:Decrypt") && message.contains("no key policy statement allows"),
        "{message}"
    );
    denied(gdk(&admin, &id, &ctx));
    denied(b(admin.encrypt(&id, b"x", &ctx)));

    // The S3 administrator may do nothing with the key.
    denied(decrypt(&s3admin, &blob, &ctx));
    denied(gdk(&s3admin, &id, &ctx));
    denied(b(s3admin.describe_key(&id)));
    denied(b(s3admin.disable_key(&id)));

    // Until the key admin grants it use: then it decrypts.
    let granted = role_separation(&arn("keyadmin"), &arn("datauser")).replace(
        &format!("[\"{}\"]", arn("datauser")),
        &format!("[\"{}\",\"{}\"]", arn("datauser"), arn("s3admin")),
    );
    assert_ne!(granted, doc);
    b(admin.put_key_policy(&id, &granted, false)).unwrap();
    decrypt(&s3admin, &blob, &ctx).unwrap();
    denied(b(s3admin.disable_key(&id)));
}

#[test]
fn re_encrypt_needs_both_halves() {
    let env = Env::new();
    let (from, to) = (env.key(), env.key());
    let doc = |actions: Value| {
        policy(
            json!([{"Effect": "Allow", "Principal": {"AWS": arn("datauser")},
                       "Action": actions, "Resource": "*"}]),
        )
    };
    b(env
        .kms
        .put_key_policy(&from, &doc(json!(["kms:Decrypt"])), false))
    .unwrap();
    b(env
        .kms
        .put_key_policy(&to, &doc(json!(["kms:ReEncryptTo"])), false))
    .unwrap();
    let data = user(&env.kms, "datauser");
    let none = EncryptionContext::new();
    let blob = gdk(&env.kms, &from, &none).unwrap();
    let request = ReEncryptRequest {
        ciphertext_blob: &blob,
        source_context: &none,
        source_key_id: None,
        destination_key_id: &to,
        destination_context: &none,
    };
    // Decrypt is not ReEncryptFrom.
    let message = denied(b(data.re_encrypt(request)));
    assert!(message.contains("kms:ReEncryptFrom"), "{message}");
    b(env
        .kms
        .put_key_policy(&from, &doc(json!(["kms:ReEncrypt*"])), false))
    .unwrap();
    b(data.re_encrypt(request)).unwrap();
}

// ---------------------------------------------------------------- evaluation rules

#[test]
fn an_explicit_deny_beats_every_allow() {
    let env = Env::new();
    let id = env.key();
    let doc = policy(json!([
        {"Sid": "Account", "Effect": "Allow", "Principal": {"AWS": "000000000000"},
         "Action": "kms:*", "Resource": "*"},
        {"Sid": "DataUsersGroup", "Effect": "Allow",
         "Principal": {"AWS": "arn:aws:iam::000000000000:group/data-users"},
         "Action": "kms:Decrypt", "Resource": "*"},
        {"Sid": "NoDecryptForBob", "Effect": "Deny", "Principal": {"AWS": arn("bob")},
         "Action": ["kms:Decrypt", "kms:ReEncrypt*"], "Resource": "*"}
    ]));
    b(env.kms.put_key_policy(&id, &doc, false)).unwrap();
    let none = EncryptionContext::new();
    let blob = gdk(&env.kms, &id, &none).unwrap();
    // Bob is allowed through the account and through his group, and denied by name: denied.
    let bob = user_in(&env.kms, "bob", &["data-users"]);
    let message = denied(decrypt(&bob, &blob, &none));
    assert!(
        message.contains("explicit deny") && message.contains("NoDecryptForBob"),
        "{message}"
    );
    // What the Deny does not cover stays allowed.
    gdk(&bob, &id, &none).unwrap();
    b(bob.disable_key(&id)).unwrap();
    b(bob.enable_key(&id)).unwrap();
    decrypt(&user(&env.kms, "kate"), &blob, &none).unwrap();

    // A Deny for everyone, even the one who may change the policy: the operator is the way back.
    let everyone = policy(json!([
        allow_all(&arn("kate")),
        {"Sid": "Frozen", "Effect": "Deny", "Principal": "*", "Action": "kms:*", "Resource": "*"}
    ]));
    b(env.kms.put_key_policy(&id, &everyone, false)).unwrap();
    let kate = user(&env.kms, "kate");
    assert!(denied(b(kate.describe_key(&id))).contains("Frozen"));
    denied(b(kate.put_key_policy(&id, &doc, true)));
    b(env.kms.put_key_policy(&id, &doc, false)).unwrap();
    b(kate.describe_key(&id)).unwrap();
}

#[test]
fn via_service_keys_are_usable_only_through_that_service() {
    let env = Env::new();
    let id = env.key();
    b(env.kms.put_key_policy(
        &id,
        &policy(json!([
            allow_all(&arn("keyadmin")),
            {"Sid": "ThroughS3Only", "Effect": "Allow", "Principal": {"AWS": arn("datauser")},
             "Action": ["kms:Decrypt", "kms:GenerateDataKey*"], "Resource": "*",
             "Condition": {"StringEquals": {"kms:ViaService": S3_ENDPOINT,
                                            "kms:CallerAccount": "000000000000"}}}
        ])),
        false,
    ))
    .unwrap();
    let ctx = ctx(&[("aws:s3:arn", "arn:aws:s3:::photos/cat.jpg")]);
    let data = user(&env.kms, "datauser");
    // The S3 server's own handle, as `objseal kms serve` builds it for the service principal.
    let s3 = user(&env.kms, "objseal-s3");

    // Directly: refused.
    denied(gdk(&data, &id, &ctx));
    // Through the S3 server, on the user's behalf: allowed.
    let through_s3 = s3.on_behalf_of(&delegation(&env.kms, "datauser", S3_ENDPOINT));
    let blob = gdk(&*through_s3, &id, &ctx).unwrap();
    decrypt(&*through_s3, &blob, &ctx).unwrap();
    // Not for what the statement does not list, nor for the S3 server acting for itself.
    denied(b(through_s3.disable_key(&id)));
    denied(gdk(&s3, &id, &ctx));
    // Nor through another service, nor for another user through S3.
    let through_ec2 = s3.on_behalf_of(&delegation(
        &env.kms,
        "datauser",
        "ec2.us-east-1.amazonaws.com",
    ));
    denied(gdk(&*through_ec2, &id, &ctx));
    let s3admin_through_s3 = s3.on_behalf_of(&delegation(&env.kms, "s3admin", S3_ENDPOINT));
    denied(decrypt(&*s3admin_through_s3, &blob, &ctx));
}

#[test]
fn encryption_context_conditions() {
    let env = Env::new();
    let id = env.key();
    b(env.kms.put_key_policy(
        &id,
        &policy(json!([
            {"Sid": "PhotosOnly", "Effect": "Allow", "Principal": {"AWS": arn("datauser")},
             "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": "*",
             "Condition": {"StringEquals": {"kms:EncryptionContext:bucket": "photos"}}},
            {"Sid": "NoSecrets", "Effect": "Deny", "Principal": "*", "Action": "kms:*",
             "Resource": "*",
             "Condition": {"StringLike": {"kms:EncryptionContext:object": "secret/*"}}}
        ])),
        false,
    ))
    .unwrap();
    let data = user(&env.kms, "datauser");
    let photos = ctx(&[("bucket", "photos"), ("object", "cat.jpg")]);
    let other = ctx(&[("bucket", "other"), ("object", "cat.jpg")]);
    let secret = ctx(&[("bucket", "photos"), ("object", "secret/plans")]);

    let blob = gdk(&data, &id, &photos).unwrap();
    decrypt(&data, &blob, &photos).unwrap();
    denied(gdk(&data, &id, &other));
    denied(gdk(&data, &id, &EncryptionContext::new()));
    assert!(denied(gdk(&data, &id, &secret)).contains("NoSecrets"));
    // A blob under another context: refused for the context before it is even opened, so the
    // answer says nothing about whether the blob is valid.
    let other_blob = gdk(&env.kms, &id, &other).unwrap();
    denied(decrypt(&data, &other_blob, &other));
    // A wrong context that the policy allows: the usual InvalidCiphertextException.
    let wrong = ctx(&[("bucket", "photos"), ("object", "dog.jpg")]);
    assert_eq!(
        outcome(decrypt(&data, &blob, &wrong)),
        "InvalidCiphertextException"
    );
}

#[test]
fn access_is_decided_before_the_key_state() {
    let env = Env::new();
    let kate = user(&env.kms, "kate");
    let bob = user(&env.kms, "bob");
    let id = b(kate.create_key(CreateKeyRequest::default()))
        .unwrap()
        .key_id;
    let none = EncryptionContext::new();
    let blob = gdk(&kate, &id, &none).unwrap();

    b(kate.disable_key(&id)).unwrap();
    // The owner learns the state; a stranger learns nothing.
    assert_eq!(outcome(gdk(&kate, &id, &none)), "DisabledException");
    assert_eq!(outcome(decrypt(&kate, &blob, &none)), "DisabledException");
    denied(gdk(&bob, &id, &none));
    denied(decrypt(&bob, &blob, &none));
    denied(b(bob.enable_key(&id)));

    b(kate.schedule_key_deletion(&id, Some(7))).unwrap();
    assert_eq!(outcome(gdk(&kate, &id, &none)), "KMSInvalidStateException");
    assert_eq!(
        outcome(b(kate.rotate_key_on_demand(&id))),
        "KMSInvalidStateException"
    );
    denied(gdk(&bob, &id, &none));
    denied(b(bob.rotate_key_on_demand(&id)));
    denied(b(bob.cancel_key_deletion(&id)));
    // A key that does not exist is NotFound for everyone, as in AWS.
    let missing = "11111111-2222-4333-8444-555555555555";
    assert_eq!(outcome(b(bob.describe_key(missing))), "NotFoundException");
}

// ---------------------------------------------------------------- putting policies

#[test]
fn the_lockout_safety_check_and_its_bypass() {
    let env = Env::new();
    let kate = user(&env.kms, "kate");
    let id = b(kate.create_key(CreateKeyRequest::default()))
        .unwrap()
        .key_id;
    let before = b(kate.get_key_policy(&id)).unwrap();
    let data_only = policy(json!([
        {"Effect": "Allow", "Principal": {"AWS": arn("datauser")}, "Action": "kms:*",
         "Resource": "*"}
    ]));
    // A policy that would stop kate from changing it again is refused, and changes nothing.
    let message = malformed(b(kate.put_key_policy(&id, &data_only, false)));
    assert!(
        message.contains("will not allow you to update"),
        "{message}"
    );
    assert_eq!(b(kate.get_key_policy(&id)).unwrap(), before);
    // One that keeps PutKeyPolicy for her (and nothing else) passes.
    let admin_only = policy(json!([
        {"Effect": "Allow", "Principal": {"AWS": arn("kate")}, "Action": "kms:PutKeyPolicy",
         "Resource": "*"},
        {"Effect": "Allow", "Principal": {"AWS": arn("datauser")}, "Action": "kms:*",
         "Resource": "*"}
    ]));
    b(kate.put_key_policy(&id, &admin_only, false)).unwrap();
    denied(b(kate.get_key_policy(&id)));

    // Bypassed, kate locks herself out: only the operator can put a policy back.
    b(kate.put_key_policy(&id, &data_only, true)).unwrap();
    assert_eq!(b(env.kms.get_key_policy(&id)).unwrap(), data_only);
    denied(b(kate.put_key_policy(&id, &before, true)));
    b(user(&env.kms, "datauser").describe_key(&id)).unwrap();
    // The operator is never checked, and may put a policy naming nobody it could lock out.
    b(env.kms.put_key_policy(&id, &before, false)).unwrap();
    b(kate.describe_key(&id)).unwrap();

    // CreateKey checks the policy it is given in the same way.
    let keys = b(kate.list_keys()).unwrap().len();
    malformed(b(kate.create_key(CreateKeyRequest {
        policy: Some(data_only.clone()),
        ..CreateKeyRequest::default()
    })));
    assert_eq!(b(kate.list_keys()).unwrap().len(), keys);
    let given = b(kate.create_key(CreateKeyRequest {
        policy: Some(data_only.clone()),
        bypass_policy_lockout_safety_check: true,
        ..CreateKeyRequest::default()
    }))
    .unwrap();
    assert_eq!(b(env.kms.get_key_policy(&given.key_id)).unwrap(), data_only);
    denied(b(kate.describe_key(&given.key_id)));
    b(user(&env.kms, "datauser").describe_key(&given.key_id)).unwrap();
    // A policy given at creation that keeps the creator in is taken as it is.
    let shared = policy(json!([allow_all(&arn("kate")), allow_all(&arn("bob"))]));
    let both = b(kate.create_key(CreateKeyRequest {
        policy: Some(shared.clone()),
        ..CreateKeyRequest::default()
    }))
    .unwrap();
    assert_eq!(
        b(user(&env.kms, "bob").get_key_policy(&both.key_id)).unwrap(),
        shared
    );
}

#[test]
fn malformed_policies_are_refused_and_change_nothing() {
    let env = Env::new();
    let kate = user(&env.kms, "kate");
    let id = b(kate.create_key(CreateKeyRequest::default()))
        .unwrap()
        .key_id;
    let before = b(kate.get_key_policy(&id)).unwrap();
    let statement = |extra: Value| {
        let mut s = allow_all(&arn("kate"));
        for (k, v) in extra.as_object().unwrap() {
            s[k] = v.clone();
        }
        policy(json!([s]))
    };
    let oversized = policy(json!([
        allow_all(&arn("kate")),
        {"Sid": "x".repeat(33 * 1024), "Effect": "Allow", "Principal": "*",
         "Action": "kms:DescribeKey", "Resource": "*"}
    ]));
    let cases: Vec<(&str, String)> = vec![
        ("not JSON", "{\"Version\": ".into()),
        ("not an object", "[1, 2]".into()),
        ("no statement", "{}".into()),
        ("empty", String::new()),
        ("unknown action", statement(json!({"Action": "kms:Fly"}))),
        (
            "an action of another service",
            statement(json!({"Action": "s3:GetObject"})),
        ),
        (
            "unknown operator",
            statement(json!({"Condition": {"NumericLessThan": {"kms:CallerAccount": "1"}}})),
        ),
        ("unknown effect", statement(json!({"Effect": "Maybe"}))),
        ("unknown member", statement(json!({"Principals": "*"}))),
        // A key policy is a resource policy: a statement must say whom it is for (in an identity
        // policy, no Principal means the identity; here it would mean everyone).
        ("no Principal", {
            let mut s = allow_all(&arn("kate"));
            s.as_object_mut().unwrap().remove("Principal");
            policy(json!([s]))
        }),
        ("NotPrincipal", {
            let mut s = allow_all(&arn("kate"));
            s.as_object_mut().unwrap().remove("Principal");
            s["NotPrincipal"] = json!({"AWS": arn("bob")});
            policy(json!([s]))
        }),
        (
            "unknown version",
            json!({"Version": "2099-01-01", "Statement": [allow_all(&arn("kate"))]}).to_string(),
        ),
        ("oversized", oversized),
    ];
    for (what, doc) in &cases {
        for bypass in [false, true] {
            let message = malformed(b(kate.put_key_policy(&id, doc, bypass)));
            assert!(!message.is_empty(), "{what}");
            // The operator gets the same answer: documents are checked for everyone.
            malformed(b(env.kms.put_key_policy(&id, doc, bypass)));
        }
        assert_eq!(b(kate.get_key_policy(&id)).unwrap(), before, "{what}");
        let keys = b(kate.list_keys()).unwrap().len();
        malformed(b(kate.create_key(CreateKeyRequest {
            policy: Some(doc.clone()),
            bypass_policy_lockout_safety_check: true,
            ..CreateKeyRequest::default()
        })));
        assert_eq!(b(kate.list_keys()).unwrap().len(), keys, "{what}");
    }
    // A policy just under the size limit is fine.
    let mut fits = policy(json!([allow_all(&arn("kate"))]));
    let room = objseal_kms::policy::MAX_KEY_POLICY_LEN - fits.len() - 10;
    fits = policy(json!([
        allow_all(&arn("kate")),
        {"Sid": "p".repeat(room - 120), "Effect": "Allow", "Principal": {"AWS": arn("bob")},
         "Action": "kms:DescribeKey", "Resource": "*"}
    ]));
    assert!(fits.len() <= objseal_kms::policy::MAX_KEY_POLICY_LEN);
    b(kate.put_key_policy(&id, &fits, false)).unwrap();
}

// ---------------------------------------------------------------- audit

fn events(env: &Env) -> Vec<AuditEvent> {
    AuditLog::read(env.audit_path()).unwrap()
}

#[test]
fn the_audit_log_records_who_was_decided_what() {
    let env = Env::with_audit();
    let kate = user(&env.kms, "kate");
    let bob = user(&env.kms, "bob").with_source("192.0.2.1:999");
    let id = b(kate.create_key(CreateKeyRequest::default()))
        .unwrap()
        .key_id;
    let key_arn = env.kms.key_arn(&id);
    let none = EncryptionContext::new();
    gdk(&kate, &id, &none).unwrap();
    denied(gdk(&bob, &id, &none));
    b(kate.put_key_policy(&id, &policy(json!([allow_all(&arn("bob"))])), true)).unwrap();
    // The S3 server (service principal objseal-s3) on kate's behalf: now refused for her.
    let s3 = user(&env.kms, "objseal-s3");
    let through_s3 = s3.on_behalf_of(&delegation(&env.kms, "kate", S3_ENDPOINT));
    denied(gdk(&*through_s3, &id, &none));
    let through_s3 = s3.on_behalf_of(&delegation(&env.kms, "bob", S3_ENDPOINT));
    gdk(&*through_s3, &id, &none).unwrap();
    b(env
        .kms
        .put_key_policy(&id, &creator_policy(&arn("kate")), false))
    .unwrap();

    let events = events(&env);
    let find = |op: &str, principal: &str, result: &str| {
        events
            .iter()
            .find(|e| e.operation == op && e.principal == principal && e.result == result)
            .unwrap_or_else(|| panic!("no {op} by {principal} → {result} in {events:#?}"))
    };
    let created = find("CreateKey", &arn("kate"), "ok");
    assert_eq!(created.key_id.as_deref(), Some(key_arn.as_str()));
    let allowed = find("GenerateDataKey", &arn("kate"), "ok");
    assert_eq!(allowed.invoked_by, None);
    assert_eq!(allowed.via_service, None);
    let refused = find("GenerateDataKey", &arn("bob"), "AccessDeniedException");
    assert_eq!(refused.key_id.as_deref(), Some(key_arn.as_str()));
    assert_eq!(refused.source.as_deref(), Some("192.0.2.1:999"));
    assert!(
        refused
            .message
            .as_deref()
            .unwrap()
            .contains("kms:GenerateDataKey"),
        "{refused:?}"
    );
    let bypassed = find("PutKeyPolicy", &arn("kate"), "ok");
    assert!(
        bypassed.message.as_deref().unwrap().contains("bypassed"),
        "{bypassed:?}"
    );
    for (principal, result) in [(arn("kate"), "AccessDeniedException"), (arn("bob"), "ok")] {
        let e = events
            .iter()
            .find(|e| {
                e.operation == "GenerateDataKey"
                    && e.principal == principal
                    && e.result == result
                    && e.invoked_by.is_some()
            })
            .unwrap_or_else(|| panic!("no delegated GenerateDataKey of {principal}"));
        assert_eq!(e.invoked_by.as_deref(), Some(arn("objseal-s3").as_str()));
        assert_eq!(e.via_service.as_deref(), Some(S3_ENDPOINT));
        assert_eq!(e.source.as_deref(), Some("198.51.100.7:5000"));
        assert_eq!(e.request_id.as_deref(), Some("s3-request-1"));
    }
    // A service that passes no original address or request id: its own connection's are kept.
    let bare = Delegation {
        source: None,
        request_id: None,
        ..delegation(&env.kms, "kate", S3_ENDPOINT)
    };
    let through = s3
        .with_source("10.0.0.5:443")
        .with_request_id("kms-request-9")
        .on_behalf_of(&bare);
    b(through.describe_key(&id)).unwrap();
    let events = AuditLog::read(env.audit_path()).unwrap();
    let e = events
        .iter()
        .find(|e| e.operation == "DescribeKey" && e.invoked_by.is_some())
        .expect("the delegated DescribeKey");
    assert_eq!(e.principal, arn("kate"));
    assert_eq!(e.source.as_deref(), Some("10.0.0.5:443"));
    assert_eq!(e.request_id.as_deref(), Some("kms-request-9"));
    // The operator's change is recorded as the operator's.
    let operator = find("PutKeyPolicy", "local", "ok");
    assert_eq!(operator.invoked_by, None);
}
