//! The policy engine: parsing refuses what it does not support, evaluation follows AWS's rules, and
//! (property) an explicit Deny that matches is never overridden.

use objseal_kms::policy::{Decision, KMS_ACTIONS, MAX_KEY_POLICY_LEN, Policy, RequestContext};
use proptest::prelude::*;

const ALICE: &str = "arn:aws:iam::000000000000:user/alice";
const BOB: &str = "arn:aws:iam::000000000000:user/bob";
const KEY: &str = "arn:aws:kms:us-east-1:000000000000:key/11111111-2222-4333-8444-555555555555";

fn parse(doc: &str) -> Result<Policy, String> {
    Policy::parse(doc, KMS_ACTIONS, MAX_KEY_POLICY_LEN).map_err(|e| e.message().to_owned())
}

#[test]
fn role_separation_policy() {
    let policy = parse(&format!(
        r#"{{"Version": "2012-10-17", "Statement": [
          {{"Sid": "KeyAdmin", "Effect": "Allow", "Principal": {{"AWS": "{BOB}"}},
            "Action": ["kms:Describe*", "kms:Enable*", "kms:Disable*", "kms:PutKeyPolicy",
                       "kms:ScheduleKeyDeletion", "kms:RotateKeyOnDemand"], "Resource": "*"}},
          {{"Sid": "KeyUser", "Effect": "Allow", "Principal": {{"AWS": ["{ALICE}"]}},
            "Action": ["kms:Decrypt", "kms:GenerateDataKey*"], "Resource": "*",
            "Condition": {{"StringEquals": {{"kms:ViaService": "s3.us-east-1.amazonaws.com"}},
                           "Bool": {{"aws:SecureTransport": true}}}}}}]}}"#
    ))
    .unwrap();
    let decrypt = |who: &str| RequestContext::new(who, "kms:Decrypt", KEY);
    assert_eq!(policy.evaluate(&decrypt(ALICE)), Decision::ImplicitDeny);
    let via_s3 = decrypt(ALICE)
        .with("kms:ViaService", "s3.us-east-1.amazonaws.com")
        .with("aws:SecureTransport", "true");
    assert_eq!(policy.evaluate(&via_s3), Decision::Allow);
    let mut plain_http = via_s3.clone();
    plain_http
        .conditions
        .insert("aws:securetransport".into(), vec!["false".into()]);
    assert_eq!(policy.evaluate(&plain_http), Decision::ImplicitDeny);
    // The key admin administers, and cannot decrypt; the user cannot administer.
    let via_s3_bob = RequestContext {
        principal: BOB.into(),
        ..via_s3.clone()
    };
    assert_eq!(policy.evaluate(&via_s3_bob), Decision::ImplicitDeny);
    assert!(
        policy
            .evaluate(&RequestContext::new(BOB, "kms:DisableKey", KEY))
            .is_allowed()
    );
    assert!(
        policy
            .evaluate(&RequestContext::new(BOB, "kms:describekey", KEY))
            .is_allowed()
    );
    assert!(
        !policy
            .evaluate(&RequestContext::new(ALICE, "kms:DisableKey", KEY))
            .is_allowed()
    );
}

#[test]
fn conditions_follow_aws_semantics() {
    let policy = parse(
        r#"{"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "kms:Encrypt", "Resource": "*",
           "Condition": {"StringEqualsIfExists": {"kms:EncryptionContext:tenant": "a"},
                         "Null": {"kms:EncryptionContext:app": "false"},
                         "StringNotLike": {"kms:EncryptionContext:path": "secret/*"}}}]}"#,
    )
    .unwrap();
    let base =
        RequestContext::new(ALICE, "kms:Encrypt", KEY).with("kms:EncryptionContext:app", "x");
    assert!(
        policy.evaluate(&base).is_allowed(),
        "IfExists and NotLike hold without their keys"
    );
    assert!(
        policy
            .evaluate(&base.clone().with("kms:EncryptionContext:Tenant", "a"))
            .is_allowed()
    );
    assert!(
        !policy
            .evaluate(&base.clone().with("kms:EncryptionContext:tenant", "b"))
            .is_allowed()
    );
    assert!(
        !policy
            .evaluate(&base.clone().with("kms:EncryptionContext:path", "secret/x"))
            .is_allowed()
    );
    let no_app = RequestContext::new(ALICE, "kms:Encrypt", KEY);
    assert!(
        !policy.evaluate(&no_app).is_allowed(),
        "Null false needs the key"
    );
}

#[test]
fn account_principals_not_action_and_not_resource() {
    let policy = parse(
        r#"{"Statement": [
          {"Effect": "Allow", "Principal": {"AWS": "000000000000"}, "NotAction": "kms:ScheduleKeyDeletion", "Resource": "*"},
          {"Sid": "OnlyThisKey", "Effect": "Deny", "Principal": "*", "Action": "kms:*",
           "NotResource": "arn:aws:kms:us-east-1:000000000000:key/*"}]}"#,
    )
    .unwrap();
    assert!(
        policy
            .evaluate(&RequestContext::new(ALICE, "kms:Decrypt", KEY))
            .is_allowed()
    );
    assert_eq!(
        policy.evaluate(&RequestContext::new(ALICE, "kms:ScheduleKeyDeletion", KEY)),
        Decision::ImplicitDeny
    );
    assert_eq!(
        policy.evaluate(&RequestContext::new(
            ALICE,
            "kms:Decrypt",
            "arn:aws:kms:eu-west-1:1:key/x"
        )),
        Decision::ExplicitDeny(Some("OnlyThisKey".into()))
    );
    let stranger = "arn:aws:iam::999999999999:user/eve";
    assert_eq!(
        policy.evaluate(&RequestContext::new(stranger, "kms:Decrypt", KEY)),
        Decision::ImplicitDeny
    );
}

#[test]
fn malformed_policies_are_refused_with_a_reason() {
    let stmt = r#""Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*""#;
    let cases = [
        ("not json", "not JSON"),
        ("[]", "JSON object"),
        (r#"{"Statement": []}"#, "non-empty"),
        (
            &format!(r#"{{"Version": "2020-01-01", "Statement": {{{stmt}}}}}"#),
            "Version",
        ),
        (
            &format!(r#"{{"Statement": {{{stmt}}}, "Extra": 1}}"#),
            "unknown policy member",
        ),
        (
            &format!(r#"{{"Statement": {{{stmt}, "Foo": 1}}}}"#),
            "unknown statement member",
        ),
        (
            r#"{"Statement": {"Effect": "Permit", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*"}}"#,
            "Effect",
        ),
        (
            r#"{"Statement": {"Effect": "Allow", "Principal": "*", "Action": "kms:Frobnicate", "Resource": "*"}}"#,
            "unknown action",
        ),
        (
            r#"{"Statement": {"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "*"}}"#,
            "unknown action",
        ),
        (
            r#"{"Statement": {"Effect": "Allow", "Principal": "*", "Resource": "*"}}"#,
            "neither Action",
        ),
        (
            r#"{"Statement": {"Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "NotAction": "kms:Encrypt", "Resource": "*"}}"#,
            "both Action",
        ),
        (
            r#"{"Statement": {"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "kms:Decrypt", "Resource": "*"}}"#,
            "principal type",
        ),
        (
            r#"{"Statement": {"Effect": "Allow", "NotPrincipal": "*", "Action": "kms:Decrypt", "Resource": "*"}}"#,
            "NotPrincipal",
        ),
        (
            &format!(
                r#"{{"Statement": {{{stmt}, "Condition": {{"NumericLessThan": {{"a": "1"}}}}}}}}"#
            ),
            "unknown condition operator",
        ),
        (
            &format!(
                r#"{{"Statement": {{{stmt}, "Condition": {{"Bool": {{"aws:SecureTransport": "yes"}}}}}}}}"#
            ),
            "true or false",
        ),
        (
            &format!(r#"{{"Statement": [{{"Sid": "a", {stmt}}}, {{"Sid": "a", {stmt}}}]}}"#),
            "duplicate Sid",
        ),
    ];
    for (doc, why) in cases {
        let err = parse(doc).expect_err(doc);
        assert!(err.contains(why), "{doc}: {err}");
    }
    let huge = format!(
        r#"{{"Statement": {{{stmt}, "Sid": "{}"}}}}"#,
        "x".repeat(MAX_KEY_POLICY_LEN)
    );
    assert!(parse(&huge).unwrap_err().contains("at most"));
}

const ACTIONS: [&str; 4] = [
    "kms:Decrypt",
    "kms:Encrypt",
    "kms:DisableKey",
    "kms:GenerateDataKey",
];
const PRINCIPALS: [&str; 3] = [ALICE, BOB, "arn:aws:iam::000000000000:user/carol"];

fn statement() -> impl Strategy<Value = String> {
    (
        any::<bool>(),
        prop::sample::select(vec!["*", ALICE, BOB]),
        prop::sample::select(vec!["kms:*", "kms:Decrypt", "kms:Encrypt", "kms:Disable*", "kms:Generate*"]),
        any::<bool>(),
        prop::sample::select(vec!["", r#", "Condition": {"StringEquals": {"kms:ViaService": "s3"}}"#,
                                   r#", "Condition": {"StringNotEquals": {"kms:ViaService": "s3"}}"#,
                                   r#", "Condition": {"Null": {"kms:ViaService": "true"}}"#]),
    )
        .prop_map(|(deny, principal, action, not_action, condition)| {
            format!(
                r#"{{"Effect": "{}", "Principal": {{"AWS": "{principal}"}}, "{}": "{action}", "Resource": "*"{condition}}}"#,
                if deny { "Deny" } else { "Allow" },
                if not_action { "NotAction" } else { "Action" },
            )
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Whatever the other statements say, a request that a Deny statement applies to is denied —
    /// and a request is allowed only if some Allow statement applies to it.
    #[test]
    fn an_explicit_deny_always_wins(
        statements in prop::collection::vec(statement(), 1..8),
        principal in prop::sample::select(PRINCIPALS.to_vec()),
        action in prop::sample::select(ACTIONS.to_vec()),
        via_s3 in any::<bool>(),
    ) {
        let doc = format!(r#"{{"Version": "2012-10-17", "Statement": [{}]}}"#, statements.join(","));
        let policy = parse(&doc).unwrap();
        let mut ctx = RequestContext::new(principal, action, KEY);
        if via_s3 {
            ctx = ctx.with("kms:ViaService", "s3");
        }
        let decision = policy.evaluate(&ctx);
        let denied = policy.statements.iter().any(|s| {
            s.effect == objseal_kms::policy::Effect::Deny && s.applies(&ctx)
        });
        let allowed = policy.statements.iter().any(|s| {
            s.effect == objseal_kms::policy::Effect::Allow && s.applies(&ctx)
        });
        if denied {
            prop_assert!(matches!(decision, Decision::ExplicitDeny(_)), "{doc}: {decision:?}");
        } else {
            prop_assert_eq!(decision.is_allowed(), allowed, "{}", doc);
        }
    }
}
