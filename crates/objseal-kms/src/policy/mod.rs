//! Access policies in the JSON shape of AWS IAM / KMS key / S3 bucket policies — a documented subset —
//! and their evaluation: the engine under KMS key policies and S3 bucket policies.
//!
//! ```json
//! {"Version": "2012-10-17",
//!  "Statement": [{"Sid": "DataUsers", "Effect": "Allow",
//!                 "Principal": {"AWS": ["arn:aws:iam::000000000000:user/alice"]},
//!                 "Action": ["kms:Decrypt", "kms:GenerateDataKey*"], "Resource": "*",
//!                 "Condition": {"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}}}]}
//! ```
//!
//! Supported: `Version` (`2012-10-17` or `2008-10-17`), `Id`; per statement `Sid`, `Effect`
//! (`Allow` / `Deny`), `Principal` (`"*"`, `{"AWS": "…" | […]}`; `NotPrincipal` is refused),
//! `Action` / `NotAction` (wildcards `*` and `?`; every name must match an action the caller lists as
//! known), `Resource` / `NotResource` (wildcards), and `Condition` with the operators
//! `StringEquals`, `StringNotEquals`, `StringEqualsIgnoreCase`, `StringNotEqualsIgnoreCase`,
//! `StringLike`, `StringNotLike`, `Bool`, `Null`, each also with the `IfExists` suffix. Anything else —
//! an unknown member, operator or action, a policy over the size limit — is a [`PolicyError`]
//! (AWS's `MalformedPolicy` / `MalformedPolicyDocumentException`).
//!
//! Evaluation ([`Policy::evaluate`]): an explicit `Deny` that matches beats everything; else a
//! matching `Allow` allows; else the request is denied (no statement, no access).

mod condition;
mod eval;
mod parse;
mod pattern;

pub use condition::{Condition, Operator};
pub use eval::{Decision, RequestContext};
pub use parse::PolicyError;

/// The KMS actions a key policy may name: the operations of [`crate::Kms`] and the policy calls.
pub const KMS_ACTIONS: &[&str] = &[
    "kms:CreateKey",
    "kms:DescribeKey",
    "kms:ListKeys",
    "kms:CreateAlias",
    "kms:DeleteAlias",
    "kms:ListAliases",
    "kms:EnableKey",
    "kms:DisableKey",
    "kms:EnableKeyRotation",
    "kms:DisableKeyRotation",
    "kms:GetKeyRotationStatus",
    "kms:RotateKeyOnDemand",
    "kms:ListKeyRotations",
    "kms:ScheduleKeyDeletion",
    "kms:CancelKeyDeletion",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:Encrypt",
    "kms:Decrypt",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
    "kms:GenerateRandom",
    "kms:PutKeyPolicy",
    "kms:GetKeyPolicy",
    "kms:ListKeyPolicies",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:ListResourceTags",
];

/// The largest key policy AWS KMS accepts (32 KiB).
pub const MAX_KEY_POLICY_LEN: usize = 32 * 1024;

/// Whether a statement allows or denies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Grants what the statement matches.
    Allow,
    /// Refuses what the statement matches, whatever else allows it.
    Deny,
}

/// Whom a statement applies to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Principals {
    /// `"Principal": "*"` or `{"AWS": "*"}`: everyone.
    Anyone,
    /// These principal ARNs (or account ids); wildcards allowed.
    Listed(Vec<String>),
}

/// A list of patterns, or its negation (`NotAction`, `NotResource`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Patterns {
    /// Matches what any pattern matches.
    Any(Vec<String>),
    /// Matches what no pattern matches.
    NoneOf(Vec<String>),
}

/// One statement of a policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Statement {
    /// The `Sid`, if any.
    pub sid: Option<String>,
    /// Allow or deny.
    pub effect: Effect,
    /// Whom it applies to (`None`: the statement names no principal, as in identity policies:
    /// everyone).
    pub principals: Option<Principals>,
    /// Which actions (case-insensitive).
    pub actions: Patterns,
    /// Which resources.
    pub resources: Patterns,
    /// Every condition must hold.
    pub conditions: Vec<Condition>,
}

/// A parsed, validated policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// The `Version`.
    pub version: String,
    /// The `Id`, if any.
    pub id: Option<String>,
    /// The statements.
    pub statements: Vec<Statement>,
}
