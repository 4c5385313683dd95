//! Condition operators: how a statement's `Condition` block is checked against a request's values.

use super::pattern;

/// A condition operator (without its `IfExists` suffix).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operator {
    /// Exact, case-sensitive.
    StringEquals,
    /// Negated exact.
    StringNotEquals,
    /// Exact, ASCII case-insensitive.
    StringEqualsIgnoreCase,
    /// Negated case-insensitive.
    StringNotEqualsIgnoreCase,
    /// Wildcards `*` and `?`.
    StringLike,
    /// Negated wildcards.
    StringNotLike,
    /// `true` / `false`, compared case-insensitively.
    Bool,
    /// `true`: the key is absent; `false`: it is present.
    Null,
}

impl Operator {
    /// The operator and whether it had the `IfExists` suffix, from its policy name.
    pub(crate) fn parse(name: &str) -> Option<(Self, bool)> {
        let (base, if_exists) = match name.strip_suffix("IfExists") {
            Some(base) => (base, true),
            None => (name, false),
        };
        let op = match base {
            "StringEquals" => Self::StringEquals,
            "StringNotEquals" => Self::StringNotEquals,
            "StringEqualsIgnoreCase" => Self::StringEqualsIgnoreCase,
            "StringNotEqualsIgnoreCase" => Self::StringNotEqualsIgnoreCase,
            "StringLike" => Self::StringLike,
            "StringNotLike" => Self::StringNotLike,
            "Bool" => Self::Bool,
            "Null" if !if_exists => Self::Null,
            _ => return None,
        };
        Some((op, if_exists))
    }

    fn negated(self) -> bool {
        matches!(
            self,
            Self::StringNotEquals | Self::StringNotEqualsIgnoreCase | Self::StringNotLike
        )
    }

    fn value_matches(self, policy: &str, request: &str) -> bool {
        match self {
            Self::StringEquals | Self::StringNotEquals => policy == request,
            Self::StringEqualsIgnoreCase | Self::StringNotEqualsIgnoreCase | Self::Bool => {
                policy.eq_ignore_ascii_case(request)
            }
            Self::StringLike | Self::StringNotLike => pattern::matches(policy, request),
            Self::Null => false,
        }
    }
}

/// One `operator: {key: values}` entry of a statement's `Condition` block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Condition {
    /// The operator.
    pub operator: Operator,
    /// Whether a missing key makes it hold (`…IfExists`).
    pub if_exists: bool,
    /// The condition key, lowercased (keys are case-insensitive).
    pub key: String,
    /// The policy's values: any one may match.
    pub values: Vec<String>,
}

impl Condition {
    /// Whether it holds for the request's `values` of its key (`None`: the request has no such key).
    ///
    /// Positive operators hold when some request value matches some policy value; negated ones when
    /// no request value matches any policy value. A missing key: `Null` decides by itself,
    /// `IfExists` holds, negated operators hold, positive ones do not (as AWS evaluates them).
    pub fn holds(&self, values: Option<&[String]>) -> bool {
        if self.operator == Operator::Null {
            let wants_absent = self.values.iter().any(|v| v.eq_ignore_ascii_case("true"));
            return values.is_none_or(<[String]>::is_empty) == wants_absent;
        }
        let Some(values) = values.filter(|v| !v.is_empty()) else {
            return self.if_exists || self.operator.negated();
        };
        let any = values.iter().any(|r| {
            self.values
                .iter()
                .any(|p| self.operator.value_matches(p, r))
        });
        if self.operator.negated() { !any } else { any }
    }
}
