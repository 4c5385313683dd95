//! Encryption contexts: the caller's checks, and the JSON that S3EC (Python) stores.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::error::S3ecError;
use super::metadata::{RESERVED_CEK_ALG, RESERVED_CMK_ID};

/// Refuses a caller's context that S3EC would refuse: the reserved key, non-ASCII text (S3 would
/// re-encode it in metadata and the stored context would no longer match).
pub(crate) fn check_caller_context(context: &BTreeMap<String, String>) -> Result<(), S3ecError> {
    if context.contains_key(RESERVED_CEK_ALG) {
        return Err(S3ecError::ReservedContextKey);
    }
    if !context.iter().all(|(k, v)| k.is_ascii() && v.is_ascii()) {
        return Err(S3ecError::InvalidContext(
            "keys and values must be US-ASCII to be stored in S3 metadata",
        ));
    }
    Ok(())
}

/// Whether the stored context, without S3EC's reserved keys, is exactly `expected`.
pub(crate) fn matches(
    stored: &BTreeMap<String, String>,
    expected: &BTreeMap<String, String>,
) -> bool {
    let stored = stored
        .iter()
        .filter(|(k, _)| *k != RESERVED_CEK_ALG && *k != RESERVED_CMK_ID);
    stored.eq(expected.iter())
}

/// The stored context without S3EC's reserved keys: what the writer passed.
pub(crate) fn user_part(stored: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    stored
        .iter()
        .filter(|(k, _)| *k != RESERVED_CEK_ALG && *k != RESERVED_CMK_ID)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// `json.dumps(context)` as Python writes it (`{"k": "v", "k2": "v2"}`, ASCII only, `\uXXXX`
/// escapes), entries in the given order.
pub(crate) fn python_json<'a>(entries: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut out = String::from("{");
    for (i, (k, v)) in entries.into_iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        string(&mut out, k);
        out.push_str(": ");
        string(&mut out, v);
    }
    out.push('}');
    out
}

fn string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            _ => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_pythons() {
        // json.dumps({"b": "p\"q\\", "x": "\n\x01\x7f", "aws:x-amz-cek-alg": "115"})
        let got = python_json([
            ("b", "p\"q\\"),
            ("x", "\n\u{1}\u{7f}"),
            (RESERVED_CEK_ALG, "115"),
        ]);
        assert_eq!(
            got,
            r#"{"b": "p\"q\\", "x": "\n\u0001\u007f", "aws:x-amz-cek-alg": "115"}"#
        );
        assert_eq!(python_json([("é", "😀")]), r#"{"\u00e9": "\ud83d\ude00"}"#);
        assert_eq!(python_json([]), "{}");
    }

    #[test]
    fn caller_contexts() {
        let ok: BTreeMap<String, String> = [("bucket".into(), "photos".into())].into();
        assert!(check_caller_context(&ok).is_ok());
        let reserved: BTreeMap<String, String> = [(RESERVED_CEK_ALG.into(), "115".into())].into();
        assert_eq!(
            check_caller_context(&reserved),
            Err(S3ecError::ReservedContextKey)
        );
        let non_ascii: BTreeMap<String, String> = [("k".into(), "é".into())].into();
        assert!(matches!(
            check_caller_context(&non_ascii),
            Err(S3ecError::InvalidContext(_))
        ));
    }

    #[test]
    fn matching_ignores_reserved_keys() {
        let stored: BTreeMap<String, String> = [
            ("a".into(), "1".into()),
            (RESERVED_CEK_ALG.into(), "115".into()),
            (RESERVED_CMK_ID.into(), "k".into()),
        ]
        .into();
        let expected: BTreeMap<String, String> = [("a".into(), "1".into())].into();
        assert!(matches(&stored, &expected));
        assert_eq!(user_part(&stored), expected);
        assert!(!matches(&stored, &BTreeMap::new()));
        let other: BTreeMap<String, String> = [("a".into(), "2".into())].into();
        assert!(!matches(&stored, &other));
    }
}
