//! The trailer: the late metadata entries, appended to the backend object after its body.
//!
//! ```text
//! offset  length      content
//! 0       6           magic "OSTR1\n"
//! 6       4           n, big-endian: the length of the JSON that follows (n <= 4086)
//! 10      n           a JSON object of the entries, names and values strings, no name twice,
//!                     written sorted by name, no whitespace outside strings
//! 10 + n  4086 - n    spaces (0x20)
//! ```
//!
//! always [`TRAILER_LEN`] (4096) bytes. A reader refuses anything else: another magic, a length
//! past the end, a byte other than a space in the padding, JSON that is not exactly such an
//! object.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{Deserialize, Deserializer, Error as _, MapAccess, Visitor};

/// The length of every trailer.
pub const TRAILER_LEN: usize = 4096;

/// The user-metadata entry of a backend object that ends in a trailer; its value is
/// [`TRAILER_LEN`] in decimal.
pub const TRAILER_META: &str = "objseal-trailer";

const MAGIC: &[u8; 6] = b"OSTR1\n";
const HEAD_LEN: usize = MAGIC.len() + 4;
/// The longest JSON a trailer holds.
pub const MAX_JSON_LEN: usize = TRAILER_LEN - HEAD_LEN;

/// Why a trailer could not be written or read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrailerError {
    /// The entries' JSON is longer than [`MAX_JSON_LEN`].
    TooLarge(usize),
    /// The bytes are not a trailer (what is wrong).
    Malformed(&'static str),
}

impl fmt::Display for TrailerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge(n) => write!(
                f,
                "the late metadata takes {n} bytes of JSON, more than the trailer's {MAX_JSON_LEN}"
            ),
            Self::Malformed(what) => write!(f, "malformed object trailer: {what}"),
        }
    }
}

impl std::error::Error for TrailerError {}

/// The trailer holding `entries`.
pub fn encode(entries: &BTreeMap<String, String>) -> Result<Vec<u8>, TrailerError> {
    let json = serde_json::to_vec(entries)
        .map_err(|_| TrailerError::Malformed("entries not serialisable"))?;
    if json.len() > MAX_JSON_LEN {
        return Err(TrailerError::TooLarge(json.len()));
    }
    let n = u32::try_from(json.len()).map_err(|_| TrailerError::TooLarge(json.len()))?;
    let mut out = Vec::with_capacity(TRAILER_LEN);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&n.to_be_bytes());
    out.extend_from_slice(&json);
    out.resize(TRAILER_LEN, b' ');
    Ok(out)
}

/// The entries of a trailer.
pub fn decode(bytes: &[u8]) -> Result<BTreeMap<String, String>, TrailerError> {
    if bytes.len() != TRAILER_LEN {
        return Err(TrailerError::Malformed("not 4096 bytes"));
    }
    if &bytes[..MAGIC.len()] != MAGIC {
        return Err(TrailerError::Malformed("bad magic"));
    }
    let mut n = [0u8; 4];
    n.copy_from_slice(&bytes[MAGIC.len()..HEAD_LEN]);
    let n = usize::try_from(u32::from_be_bytes(n)).unwrap_or(usize::MAX);
    if n > MAX_JSON_LEN {
        return Err(TrailerError::Malformed("length past the end"));
    }
    let (json, padding) = bytes[HEAD_LEN..].split_at(n);
    if padding.iter().any(|&b| b != b' ') {
        return Err(TrailerError::Malformed("padding is not spaces"));
    }
    // serde_json tolerates whitespace around the value; the layout does not.
    if json.first() != Some(&b'{') || json.last() != Some(&b'}') {
        return Err(TrailerError::Malformed("not a JSON object"));
    }
    serde_json::from_slice::<Entries>(json)
        .map(|e| e.0)
        .map_err(|_| TrailerError::Malformed("bad JSON"))
}

/// Whether an object's `objseal-trailer` entry names the one trailer length there is.
pub fn is_trailer_len(value: &str) -> bool {
    value == "4096"
}

/// A JSON object of strings in which no name appears twice (serde_json keeps the last quietly).
struct Entries(BTreeMap<String, String>);

impl<'de> Deserialize<'de> for Entries {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Strict;
        impl<'de> Visitor<'de> for Strict {
            type Value = Entries;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of strings")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entries, A::Error> {
                let mut out = BTreeMap::new();
                while let Some((name, value)) = map.next_entry::<String, String>()? {
                    if out.insert(name, value).is_some() {
                        return Err(A::Error::custom("a name appears twice"));
                    }
                }
                Ok(Entries(out))
            }
        }
        d.deserialize_map(Strict)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn round_trip_and_layout() {
        let e = entries(&[("objseal-size", "12"), ("objseal-etag", "abc")]);
        let t = encode(&e).unwrap();
        assert_eq!(t.len(), TRAILER_LEN);
        let json = br#"{"objseal-etag":"abc","objseal-size":"12"}"#;
        assert_eq!(&t[..6], b"OSTR1\n");
        assert_eq!(&t[6..10], &(json.len() as u32).to_be_bytes());
        assert_eq!(&t[10..10 + json.len()], json);
        assert!(t[10 + json.len()..].iter().all(|&b| b == b' '));
        assert_eq!(decode(&t).unwrap(), e);
        assert!(is_trailer_len(&TRAILER_LEN.to_string()));
        assert!(!is_trailer_len("04096"));
    }

    #[test]
    fn empty_and_full() {
        let t = encode(&BTreeMap::new()).unwrap();
        assert!(decode(&t).unwrap().is_empty());
        // {"k":"<v>"} is 8 bytes around the value.
        let fits = "v".repeat(MAX_JSON_LEN - 8);
        let t = encode(&entries(&[("k", &fits)])).unwrap();
        assert_eq!(decode(&t).unwrap()["k"], fits);
        let too_big = "v".repeat(MAX_JSON_LEN - 7);
        assert_eq!(
            encode(&entries(&[("k", &too_big)])),
            Err(TrailerError::TooLarge(MAX_JSON_LEN + 1))
        );
    }

    fn with_json(json: &[u8]) -> Vec<u8> {
        let mut t = Vec::new();
        t.extend_from_slice(MAGIC);
        t.extend_from_slice(&(json.len() as u32).to_be_bytes());
        t.extend_from_slice(json);
        t.resize(TRAILER_LEN, b' ');
        t
    }

    #[test]
    fn anything_else_is_refused() {
        let good = encode(&entries(&[("a", "b")])).unwrap();
        assert!(decode(&good[..TRAILER_LEN - 1]).is_err());
        let mut longer = good.clone();
        longer.push(b' ');
        assert!(decode(&longer).is_err());
        let mut magic = good.clone();
        magic[0] = b'X';
        assert!(decode(&magic).is_err());
        let mut past = good.clone();
        past[6..10].copy_from_slice(&(MAX_JSON_LEN as u32 + 1).to_be_bytes());
        assert!(decode(&past).is_err());
        let mut padding = good.clone();
        padding[TRAILER_LEN - 1] = 0;
        assert!(decode(&padding).is_err());
        for json in [
            &br#"{"a":"b","a":"c"}"#[..],
            br#"{"a":1}"#,
            br#"["a"]"#,
            br#" {"a":"b"}"#,
            br#"{"a":"b"} "#,
            br#"{"a":"b"}{"#,
            b"",
        ] {
            assert!(decode(&with_json(json)).is_err(), "{json:?}");
        }
        assert_eq!(
            decode(&with_json(br#"{"a":"b"}"#)).unwrap(),
            entries(&[("a", "b")])
        );
    }
}
