//! Key ids (random UUIDs), hex, and the forms a `key_id` argument may take.

use crate::KmsError;

/// Longest `KeyId` AWS accepts.
pub(crate) const MAX_KEY_ID_LEN: usize = 2048;

/// 16 random bytes as a version-4 UUID.
pub(crate) fn new_uuid() -> Result<[u8; 16], KmsError> {
    let mut bytes = [0u8; 16];
    fill_random(&mut bytes)?;
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    Ok(bytes)
}

/// Fills `buf` from the operating system's random source.
pub(crate) fn fill_random(buf: &mut [u8]) -> Result<(), KmsError> {
    getrandom::fill(buf).map_err(|e| KmsError::Internal(format!("random source failed: {e}")))
}

/// `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, lowercase.
pub(crate) fn format_uuid(bytes: &[u8; 16]) -> String {
    let h = hex_encode(bytes);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Parses a hyphenated UUID (either case). Any 16 bytes are accepted, not only version 4.
pub(crate) fn parse_uuid(text: &str) -> Option<[u8; 16]> {
    let b = text.as_bytes();
    if b.len() != 36 || [8, 13, 18, 23].iter().any(|&i| b[i] != b'-') {
        return None;
    }
    let digits: String = text.chars().filter(|&c| c != '-').collect();
    let mut out = [0u8; 16];
    hex_decode_into(&digits, &mut out).then_some(out)
}

/// Lowercase hex.
pub(crate) fn hex_encode(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    s
}

/// The value of one hex digit (either case).
pub(crate) fn hex_nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Decodes hex (either case) into exactly `out.len()` bytes; false (with `out` zeroed) otherwise.
pub(crate) fn hex_decode_into(text: &str, out: &mut [u8]) -> bool {
    let t = text.as_bytes();
    if t.len() != out.len() * 2 {
        out.fill(0);
        return false;
    }
    for (i, pair) in t.chunks_exact(2).enumerate() {
        match (hex_nibble(pair[0]), hex_nibble(pair[1])) {
            (Some(hi), Some(lo)) => out[i] = (hi << 4) | lo,
            _ => {
                out.fill(0);
                return false;
            }
        }
    }
    true
}

/// What a `key_id` argument names, once parsed (not yet looked up).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum KeyRef {
    /// A key, by id (normalised to lowercase) or key ARN.
    Key(String),
    /// An alias, by name (`alias/…`) or alias ARN.
    Alias(String),
}

/// Parses a `key_id` argument: key id, key ARN, alias name or alias ARN. An ARN of another region or
/// account, or anything that is none of the four forms, is `NotFoundException` (as AWS answers).
pub(crate) fn parse_key_ref(key_id: &str, region: &str, account: &str) -> Result<KeyRef, KmsError> {
    if key_id.is_empty() {
        return Err(KmsError::Validation("KeyId must not be empty".into()));
    }
    if key_id.len() > MAX_KEY_ID_LEN {
        return Err(KmsError::Validation(format!(
            "KeyId is longer than {MAX_KEY_ID_LEN} characters"
        )));
    }
    if let Some(rest) = key_id.strip_prefix("arn:") {
        let parts: Vec<&str> = rest.splitn(5, ':').collect();
        let [partition, service, arn_region, arn_account, resource] = parts[..] else {
            return Err(not_found(key_id, "is not a valid KMS ARN"));
        };
        if partition != "aws" || service != "kms" {
            return Err(not_found(key_id, "is not a valid KMS ARN"));
        }
        if arn_region != region || arn_account != account {
            return Err(not_found(
                key_id,
                "names another region or account than this keystore's",
            ));
        }
        if let Some(id) = resource.strip_prefix("key/") {
            return match parse_uuid(id) {
                Some(bytes) => Ok(KeyRef::Key(format_uuid(&bytes))),
                None => Err(not_found(key_id, "does not name a key id")),
            };
        }
        if resource.starts_with("alias/") {
            return Ok(KeyRef::Alias(resource.to_owned()));
        }
        return Err(not_found(key_id, "is not a key or alias ARN"));
    }
    if key_id.starts_with("alias/") {
        return Ok(KeyRef::Alias(key_id.to_owned()));
    }
    match parse_uuid(key_id) {
        Some(bytes) => Ok(KeyRef::Key(format_uuid(&bytes))),
        None => Err(not_found(
            key_id,
            "is not a key id, key ARN, alias name or alias ARN",
        )),
    }
}

fn not_found(key_id: &str, why: &str) -> KmsError {
    KmsError::NotFound(format!("Invalid keyId {}: {why}", printable(key_id)))
}

/// A caller-supplied string made safe for a message: control characters escaped, at most 256 chars.
pub(crate) fn printable(s: &str) -> String {
    let mut out: String = s.chars().take(256).flat_map(char::escape_debug).collect();
    if s.chars().nth(256).is_some() {
        out.push('…');
    }
    out
}

/// Checks an alias name as `CreateAlias` does: 1–256 characters, `alias/` and then at least one of
/// `A–Z a–z 0–9 / _ -`, not beginning with the reserved `alias/aws/`.
pub(crate) fn validate_alias_name(name: &str) -> Result<(), KmsError> {
    if name.is_empty() || name.len() > 256 {
        return Err(KmsError::Validation(
            "AliasName must be 1 to 256 characters long".into(),
        ));
    }
    let Some(rest) = name.strip_prefix("alias/") else {
        return Err(KmsError::InvalidAliasName(format!(
            "alias name {} must begin with alias/",
            printable(name)
        )));
    };
    if rest.is_empty()
        || !rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'-'))
    {
        return Err(KmsError::InvalidAliasName(format!(
            "alias name {} may hold only A-Z, a-z, 0-9, /, _ and - after alias/",
            printable(name)
        )));
    }
    if name.starts_with("alias/aws/") {
        return Err(KmsError::InvalidAliasName(format!(
            "alias name {} is reserved: the prefix alias/aws/ belongs to AWS managed keys",
            printable(name)
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_round_trip() {
        let u = new_uuid().unwrap();
        let s = format_uuid(&u);
        assert_eq!(s.len(), 36);
        assert_eq!(&s[14..15], "4");
        assert_eq!(parse_uuid(&s), Some(u));
        assert_eq!(parse_uuid(&s.to_uppercase()), Some(u));
        assert_eq!(parse_uuid(&s[1..]), None);
        assert_eq!(parse_uuid("zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz"), None);
        assert_eq!(parse_uuid("é234567-1234-1234-1234-123456789012"), None);
    }

    #[test]
    fn hex() {
        let mut out = [0u8; 2];
        assert!(hex_decode_into("aBff", &mut out));
        assert_eq!(out, [0xab, 0xff]);
        assert!(!hex_decode_into("abf", &mut out));
        assert!(!hex_decode_into("abfg", &mut out));
        assert_eq!(out, [0, 0]);
        assert_eq!(hex_encode(&[0x01, 0xfe]), "01fe");
    }

    #[test]
    fn key_refs() {
        let id = "1234abcd-12ab-34cd-56ef-1234567890ab";
        let r = |s: &str| parse_key_ref(s, "us-east-1", "000000000000");
        assert_eq!(r(id), Ok(KeyRef::Key(id.into())));
        assert_eq!(r(&id.to_uppercase()), Ok(KeyRef::Key(id.into())));
        assert_eq!(
            r(&format!("arn:aws:kms:us-east-1:000000000000:key/{id}")),
            Ok(KeyRef::Key(id.into()))
        );
        assert_eq!(r("alias/a"), Ok(KeyRef::Alias("alias/a".into())));
        assert_eq!(
            r("arn:aws:kms:us-east-1:000000000000:alias/a/b"),
            Ok(KeyRef::Alias("alias/a/b".into()))
        );
        for bad in [
            format!("arn:aws:kms:eu-west-1:000000000000:key/{id}"),
            format!("arn:aws:kms:us-east-1:111111111111:key/{id}"),
            format!("arn:aws:s3:us-east-1:000000000000:key/{id}"),
            "arn:aws:kms:us-east-1:000000000000:key/nope".into(),
            "arn:aws:kms".into(),
            "nope".into(),
        ] {
            assert!(matches!(r(&bad), Err(KmsError::NotFound(_))), "{bad}");
        }
        assert!(matches!(r(""), Err(KmsError::Validation(_))));
    }

    #[test]
    fn alias_names() {
        assert!(validate_alias_name("alias/my-key_1/x").is_ok());
        assert!(matches!(
            validate_alias_name("alias/aws/s3"),
            Err(KmsError::InvalidAliasName(_))
        ));
        assert!(matches!(
            validate_alias_name("my-key"),
            Err(KmsError::InvalidAliasName(_))
        ));
        assert!(matches!(
            validate_alias_name("alias/"),
            Err(KmsError::InvalidAliasName(_))
        ));
        assert!(matches!(
            validate_alias_name("alias/a b"),
            Err(KmsError::InvalidAliasName(_))
        ));
        assert!(matches!(
            validate_alias_name(""),
            Err(KmsError::Validation(_))
        ));
        assert!(matches!(
            validate_alias_name(&format!("alias/{}", "a".repeat(251))),
            Err(KmsError::Validation(_))
        ));
    }
}
