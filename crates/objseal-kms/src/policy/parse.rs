//! Parsing and validating a policy document.

use serde_json::{Map, Value};

use super::condition::{Condition, Operator};
use super::{Effect, Patterns, Policy, Principals, Statement, pattern};

/// A policy that does not parse or is not valid: AWS's `MalformedPolicy` (S3) /
/// `MalformedPolicyDocumentException` (KMS). The message says what is wrong, never echoing more
/// than a name from the document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyError(String);

impl PolicyError {
    fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }

    /// What is wrong.
    pub fn message(&self) -> &str {
        &self.0
    }
}

impl core::fmt::Display for PolicyError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "malformed policy: {}", self.0)
    }
}

impl std::error::Error for PolicyError {}

type Result<T> = core::result::Result<T, PolicyError>;

/// A name from the document, cut short for messages.
fn quote(name: &str) -> String {
    let short: String = name.chars().take(64).collect();
    format!("{short:?}")
}

fn strings(value: &Value, what: &str) -> Result<Vec<String>> {
    let list = match value {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) if !items.is_empty() => items
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.clone()),
                _ => Err(PolicyError::new(format!(
                    "{what}: every entry must be a string"
                ))),
            })
            .collect::<Result<_>>()?,
        _ => {
            return Err(PolicyError::new(format!(
                "{what} must be a string or a non-empty list"
            )));
        }
    };
    Ok(list)
}

/// Condition values may be strings, booleans or numbers.
fn condition_values(value: &Value, key: &str) -> Result<Vec<String>> {
    let one = |v: &Value| match v {
        Value::String(s) => Ok(s.clone()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Number(n) => Ok(n.to_string()),
        _ => Err(PolicyError::new(format!(
            "condition key {}: values must be strings, booleans or numbers",
            quote(key)
        ))),
    };
    match value {
        Value::Array(items) if !items.is_empty() => items.iter().map(one).collect(),
        Value::Array(_) => Err(PolicyError::new(format!(
            "condition key {}: an empty list of values",
            quote(key)
        ))),
        other => Ok(vec![one(other)?]),
    }
}

fn actions(value: &Value, negated: bool, known: &[&str]) -> Result<Patterns> {
    let list = strings(value, if negated { "NotAction" } else { "Action" })?;
    for action in &list {
        let valid = action == "*"
            || (action.contains(':')
                && known
                    .iter()
                    .any(|k| pattern::matches_ignore_case(action, k)));
        if !valid {
            return Err(PolicyError::new(format!(
                "unknown action {}",
                quote(action)
            )));
        }
    }
    Ok(if negated {
        Patterns::NoneOf(list)
    } else {
        Patterns::Any(list)
    })
}

fn principals(value: &Value) -> Result<Principals> {
    match value {
        Value::String(s) if s == "*" => Ok(Principals::Anyone),
        Value::Object(map) => {
            if let Some(other) = map.keys().find(|k| k.as_str() != "AWS") {
                return Err(PolicyError::new(format!(
                    "unsupported principal type {} (only AWS)",
                    quote(other)
                )));
            }
            let list = strings(
                map.get("AWS")
                    .ok_or_else(|| PolicyError::new("Principal names no principal"))?,
                "Principal",
            )?;
            if list.iter().any(|p| p == "*") {
                Ok(Principals::Anyone)
            } else {
                Ok(Principals::Listed(list))
            }
        }
        _ => Err(PolicyError::new(r#"Principal must be "*" or {"AWS": …}"#)),
    }
}

fn conditions(value: &Value) -> Result<Vec<Condition>> {
    let Value::Object(block) = value else {
        return Err(PolicyError::new("Condition must be an object"));
    };
    let mut out = Vec::new();
    for (name, entries) in block {
        let (operator, if_exists) = Operator::parse(name).ok_or_else(|| {
            PolicyError::new(format!("unknown condition operator {}", quote(name)))
        })?;
        let Value::Object(entries) = entries else {
            return Err(PolicyError::new(format!(
                "condition operator {} must map keys to values",
                quote(name)
            )));
        };
        for (key, values) in entries {
            let values = condition_values(values, key)?;
            if matches!(operator, Operator::Bool | Operator::Null)
                && values
                    .iter()
                    .any(|v| !v.eq_ignore_ascii_case("true") && !v.eq_ignore_ascii_case("false"))
            {
                return Err(PolicyError::new(format!(
                    "condition operator {} takes true or false",
                    quote(name)
                )));
            }
            out.push(Condition {
                operator,
                if_exists,
                key: key.to_ascii_lowercase(),
                values,
            });
        }
    }
    Ok(out)
}

fn one_of<'a>(map: &'a Map<String, Value>, a: &str, b: &str) -> Result<(&'a Value, bool)> {
    match (map.get(a), map.get(b)) {
        (Some(v), None) => Ok((v, false)),
        (None, Some(v)) => Ok((v, true)),
        (Some(_), Some(_)) => Err(PolicyError::new(format!(
            "a statement has both {a} and {b}"
        ))),
        (None, None) => Err(PolicyError::new(format!(
            "a statement has neither {a} nor {b}"
        ))),
    }
}

fn statement(value: &Value, known: &[&str]) -> Result<Statement> {
    let Value::Object(map) = value else {
        return Err(PolicyError::new("each statement must be an object"));
    };
    const MEMBERS: [&str; 9] = [
        "Sid",
        "Effect",
        "Principal",
        "NotPrincipal",
        "Action",
        "NotAction",
        "Resource",
        "NotResource",
        "Condition",
    ];
    if let Some(other) = map.keys().find(|k| !MEMBERS.contains(&k.as_str())) {
        return Err(PolicyError::new(format!(
            "unknown statement member {}",
            quote(other)
        )));
    }
    if map.contains_key("NotPrincipal") {
        return Err(PolicyError::new("NotPrincipal is not supported"));
    }
    let sid = match map.get("Sid") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(PolicyError::new("Sid must be a string")),
    };
    let effect = match map.get("Effect").and_then(Value::as_str) {
        Some("Allow") => Effect::Allow,
        Some("Deny") => Effect::Deny,
        _ => return Err(PolicyError::new("Effect must be Allow or Deny")),
    };
    let (action_value, not_action) = one_of(map, "Action", "NotAction")?;
    let (resource_value, not_resource) = one_of(map, "Resource", "NotResource")?;
    let resource_list = strings(
        resource_value,
        if not_resource {
            "NotResource"
        } else {
            "Resource"
        },
    )?;
    Ok(Statement {
        sid,
        effect,
        principals: map.get("Principal").map(principals).transpose()?,
        actions: actions(action_value, not_action, known)?,
        resources: if not_resource {
            Patterns::NoneOf(resource_list)
        } else {
            Patterns::Any(resource_list)
        },
        conditions: map
            .get("Condition")
            .map(conditions)
            .transpose()?
            .unwrap_or_default(),
    })
}

impl Policy {
    /// Parses and validates `document`: at most `max_len` bytes, actions among `known_actions`
    /// (wildcards in the document must match at least one of them).
    ///
    /// # Errors
    /// [`PolicyError`] naming the first fault.
    pub fn parse(document: &str, known_actions: &[&str], max_len: usize) -> Result<Policy> {
        if document.len() > max_len {
            return Err(PolicyError::new(format!(
                "the policy is {} bytes; at most {max_len} are allowed",
                document.len()
            )));
        }
        let value: Value = serde_json::from_str(document)
            .map_err(|e| PolicyError::new(format!("not JSON: {e}")))?;
        let Value::Object(map) = value else {
            return Err(PolicyError::new("a policy is a JSON object"));
        };
        if let Some(other) = map
            .keys()
            .find(|k| !["Version", "Id", "Statement"].contains(&k.as_str()))
        {
            return Err(PolicyError::new(format!(
                "unknown policy member {}",
                quote(other)
            )));
        }
        let version = match map.get("Version") {
            None => "2008-10-17".to_owned(),
            Some(Value::String(v)) if v == "2012-10-17" || v == "2008-10-17" => v.clone(),
            Some(_) => {
                return Err(PolicyError::new("Version must be 2012-10-17 or 2008-10-17"));
            }
        };
        let id = match map.get("Id") {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return Err(PolicyError::new("Id must be a string")),
        };
        let statements = match map.get("Statement") {
            Some(Value::Array(list)) if !list.is_empty() => list
                .iter()
                .map(|s| statement(s, known_actions))
                .collect::<Result<Vec<_>>>()?,
            Some(single @ Value::Object(_)) => vec![statement(single, known_actions)?],
            _ => {
                return Err(PolicyError::new(
                    "Statement must be a statement or a non-empty list",
                ));
            }
        };
        let mut sids: Vec<&str> = statements.iter().filter_map(|s| s.sid.as_deref()).collect();
        sids.sort_unstable();
        if let Some(pair) = sids.windows(2).find(|w| w[0] == w[1]) {
            return Err(PolicyError::new(format!(
                "duplicate Sid {}",
                quote(pair[0])
            )));
        }
        Ok(Policy {
            version,
            id,
            statements,
        })
    }
}
