//! Evaluating a policy for one request.

use std::collections::BTreeMap;

use super::{Effect, Patterns, Policy, Principals, Statement, pattern};

/// What a request is: who asks for which action on which resource, with which condition values.
#[derive(Clone, Debug, Default)]
pub struct RequestContext {
    /// The principal's ARN (`arn:aws:iam::<account>:user/<name>`).
    pub principal: String,
    /// The ARNs of the principal's groups (`arn:aws:iam::<account>:group/<name>`): a statement
    /// naming a group applies to its members (an objseal extension; AWS resource policies cannot
    /// name groups).
    pub groups: Vec<String>,
    /// The action (`kms:Decrypt`, `s3:PutObject`).
    pub action: String,
    /// The resource's ARN.
    pub resource: String,
    /// Condition keys (lowercased) and their values.
    pub conditions: BTreeMap<String, Vec<String>>,
}

impl RequestContext {
    /// A context without condition values.
    pub fn new(principal: &str, action: &str, resource: &str) -> Self {
        Self {
            principal: principal.to_owned(),
            action: action.to_owned(),
            resource: resource.to_owned(),
            groups: Vec::new(),
            conditions: BTreeMap::new(),
        }
    }

    /// Adds the principal's group ARNs.
    #[must_use]
    pub fn with_groups(mut self, groups: impl IntoIterator<Item = String>) -> Self {
        self.groups.extend(groups);
        self
    }

    /// Adds a condition value (the key is lowercased).
    #[must_use]
    pub fn with(mut self, key: &str, value: &str) -> Self {
        self.conditions
            .entry(key.to_ascii_lowercase())
            .or_default()
            .push(value.to_owned());
        self
    }
}

/// The outcome of an evaluation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// A statement allows it and none denies it.
    Allow,
    /// A `Deny` statement matches (its `Sid`, if any).
    ExplicitDeny(Option<String>),
    /// No statement allows it.
    ImplicitDeny,
}

impl Decision {
    /// Whether the request may go on.
    pub fn is_allowed(&self) -> bool {
        *self == Self::Allow
    }
}

fn patterns_match(patterns: &Patterns, text: &str, ignore_case: bool) -> bool {
    let matches = |p: &String| {
        if ignore_case {
            pattern::matches_ignore_case(p, text)
        } else {
            pattern::matches(p, text)
        }
    };
    match patterns {
        Patterns::Any(list) => list.iter().any(matches),
        Patterns::NoneOf(list) => !list.iter().any(matches),
    }
}

/// Whether one listed principal names the request's principal: its ARN, one of its groups, or its
/// account — by account id or as `arn:aws:iam::<account>:root`, which (there being no IAM policies
/// to delegate to) stands for every principal of the account.
fn principal_matches(listed: &str, ctx: &RequestContext) -> bool {
    let account = ctx.principal.split(':').nth(4).filter(|a| !a.is_empty());
    let names_account = match listed.strip_prefix("arn:aws:iam::") {
        Some(rest) => rest
            .strip_suffix(":root")
            .is_some_and(|a| Some(a) == account),
        None => {
            listed.len() == 12
                && listed.bytes().all(|b| b.is_ascii_digit())
                && Some(listed) == account
        }
    };
    names_account
        || pattern::matches(listed, &ctx.principal)
        || ctx.groups.iter().any(|g| pattern::matches(listed, g))
}

impl Statement {
    /// Whether the statement applies to the request (its effect aside).
    pub fn applies(&self, ctx: &RequestContext) -> bool {
        let principal = match &self.principals {
            None | Some(Principals::Anyone) => true,
            Some(Principals::Listed(list)) => list.iter().any(|p| principal_matches(p, ctx)),
        };
        principal
            && patterns_match(&self.actions, &ctx.action, true)
            && patterns_match(&self.resources, &ctx.resource, false)
            && self
                .conditions
                .iter()
                .all(|c| c.holds(ctx.conditions.get(&c.key).map(Vec::as_slice)))
    }
}

impl Policy {
    /// Explicit deny beats allow; without a matching allow, deny.
    ///
    /// ```
    /// use objseal_kms::policy::{Decision, Policy, RequestContext};
    /// let policy = Policy::parse(r#"{"Version": "2012-10-17", "Statement": [
    ///   {"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "*"},
    ///   {"Sid": "NoPlaintext", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
    ///    "Resource": "arn:aws:s3:::photos/*",
    ///    "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}}}]}"#,
    ///   &["s3:PutObject", "s3:GetObject"], 20 * 1024).unwrap();
    /// let put = RequestContext::new("arn:aws:iam::000000000000:user/alice", "s3:PutObject",
    ///     "arn:aws:s3:::photos/cat.jpg");
    /// assert_eq!(policy.evaluate(&put), Decision::ExplicitDeny(Some("NoPlaintext".into())));
    /// let encrypted = put.with("s3:x-amz-server-side-encryption", "aws:kms");
    /// assert_eq!(policy.evaluate(&encrypted), Decision::Allow);
    /// ```
    pub fn evaluate(&self, ctx: &RequestContext) -> Decision {
        let mut allowed = false;
        for statement in &self.statements {
            if !statement.applies(ctx) {
                continue;
            }
            match statement.effect {
                Effect::Deny => return Decision::ExplicitDeny(statement.sid.clone()),
                Effect::Allow => allowed = true,
            }
        }
        if allowed {
            Decision::Allow
        } else {
            Decision::ImplicitDeny
        }
    }
}
