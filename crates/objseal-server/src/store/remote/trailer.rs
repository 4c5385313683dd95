//! The trailer: the late metadata entries, appended to the backend object after its body,
//! encrypted and authenticated under the gateway's state key (FORMAT.md §17).
//!
//! ```text
//! offset      length      content
//! 0           6           magic "OSTR2\n"
//! 6           32          salt: random, drawn for this trailer
//! 38          4           n, big-endian: the length of the JSON (n <= 4038)
//! 42          n           the JSON of the entries, AES-256-GCM-encrypted
//! 42 + n      16          the GCM tag
//! 58 + n      4038 - n    zero bytes
//! ```
//!
//! always [`TRAILER_LEN`] (4096) bytes. The JSON is an object of the entries, names and values
//! strings, no name twice, written sorted by name, no whitespace outside strings. The cipher's
//! key is `HMAC-SHA-256(K_trailer, salt)` with `K_trailer = HKDF-Expand(K_state,
//! "objseal/gateway/trailer/v1", 32)` — a key of its own per trailer, so the nonce is 12 zero
//! bytes — and its associated data `bytes 0..42 ‖ BE64(len(h)) ‖ h`, where `h` is the backend
//! object's `objseal-header` metadata value (empty when it has none): a trailer opens only
//! with the object header it was written for. A reader refuses anything else: another magic, a
//! length past the end, a tag that does not verify, a nonzero padding byte, JSON that is not
//! exactly such an object.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::de::{Deserialize, Deserializer, Error as _, MapAccess, Visitor};

use super::state::StateKey;

/// The length of every trailer.
pub const TRAILER_LEN: usize = 4096;

/// The user-metadata entry of a backend object that ends in a trailer; its value is
/// [`TRAILER_LEN`] in decimal.
pub const TRAILER_META: &str = "objseal-trailer";

/// The user-metadata entry a trailer is bound to.
pub const BOUND_META: &str = "objseal-header";

const MAGIC: &[u8; 6] = b"OSTR2\n";
const SALT_LEN: usize = 32;
const HEAD_LEN: usize = MAGIC.len() + SALT_LEN + 4;
const TAG_LEN: usize = objseal_core::gcm::TAG_LEN;
/// The longest JSON a trailer holds.
pub const MAX_JSON_LEN: usize = TRAILER_LEN - HEAD_LEN - TAG_LEN;

/// Why a trailer could not be written or read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrailerError {
    /// The entries' JSON is longer than [`MAX_JSON_LEN`].
    TooLarge(usize),
    /// The bytes are not a trailer (what is wrong).
    Malformed(&'static str),
    /// The trailer's tag does not verify: not written by this fleet, or not for this object.
    Forged,
}

impl fmt::Display for TrailerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge(n) => write!(
                f,
                "the late metadata takes {n} bytes of JSON, more than the trailer's {MAX_JSON_LEN}"
            ),
            Self::Malformed(what) => write!(f, "malformed object trailer: {what}"),
            Self::Forged => f.write_str(
                "the object trailer does not verify (not this fleet's, or not this object's)",
            ),
        }
    }
}

impl std::error::Error for TrailerError {}

/// What seals and opens the trailers of one backend object: the state key and the object's
/// `objseal-header` value.
#[derive(Clone)]
pub(super) struct TrailerSeal {
    pub key: Arc<StateKey>,
    pub header: String,
}

impl TrailerSeal {
    /// The trailer holding `entries`.
    pub fn encode(&self, entries: &BTreeMap<String, String>) -> Result<Vec<u8>, TrailerError> {
        let mut salt = [0u8; SALT_LEN];
        getrandom::fill(&mut salt).map_err(|_| TrailerError::Malformed("no randomness"))?;
        encode_with_salt(&self.key, &self.header, entries, salt)
    }

    /// The entries of a trailer.
    pub fn decode(&self, bytes: &[u8]) -> Result<BTreeMap<String, String>, TrailerError> {
        decode(&self.key, &self.header, bytes)
    }
}

fn associated_data(head: &[u8], header: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(head.len() + 8 + header.len());
    aad.extend_from_slice(head);
    aad.extend_from_slice(&(header.len() as u64).to_be_bytes());
    aad.extend_from_slice(header.as_bytes());
    aad
}

fn encode_with_salt(
    key: &StateKey,
    header: &str,
    entries: &BTreeMap<String, String>,
    salt: [u8; SALT_LEN],
) -> Result<Vec<u8>, TrailerError> {
    let json = serde_json::to_vec(entries)
        .map_err(|_| TrailerError::Malformed("entries not serialisable"))?;
    if json.len() > MAX_JSON_LEN {
        return Err(TrailerError::TooLarge(json.len()));
    }
    let n = u32::try_from(json.len()).map_err(|_| TrailerError::TooLarge(json.len()))?;
    let mut out = Vec::with_capacity(TRAILER_LEN);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&salt);
    out.extend_from_slice(&n.to_be_bytes());
    let aad = associated_data(&out, header);
    let mut ct = json;
    let tag = key
        .trailer_cipher(&salt)
        .seal_in_place(&[0; 12], &aad, &mut ct);
    out.extend_from_slice(&ct);
    out.extend_from_slice(&tag);
    out.resize(TRAILER_LEN, 0);
    Ok(out)
}

/// The entries of a trailer bound to the object header `header` (see the module documentation).
pub(super) fn decode(
    key: &StateKey,
    header: &str,
    bytes: &[u8],
) -> Result<BTreeMap<String, String>, TrailerError> {
    if bytes.len() != TRAILER_LEN {
        return Err(TrailerError::Malformed("not 4096 bytes"));
    }
    if &bytes[..MAGIC.len()] != MAGIC {
        return Err(TrailerError::Malformed("bad magic"));
    }
    let mut salt = [0u8; SALT_LEN];
    salt.copy_from_slice(&bytes[MAGIC.len()..MAGIC.len() + SALT_LEN]);
    let mut n = [0u8; 4];
    n.copy_from_slice(&bytes[MAGIC.len() + SALT_LEN..HEAD_LEN]);
    let n = usize::try_from(u32::from_be_bytes(n)).unwrap_or(usize::MAX);
    if n > MAX_JSON_LEN {
        return Err(TrailerError::Malformed("length past the end"));
    }
    let (sealed, padding) = bytes[HEAD_LEN..].split_at(n + TAG_LEN);
    if padding.iter().any(|&b| b != 0) {
        return Err(TrailerError::Malformed("padding is not zero bytes"));
    }
    let (ct, tag) = sealed.split_at(n);
    let mut tag_bytes = [0u8; TAG_LEN];
    tag_bytes.copy_from_slice(tag);
    let aad = associated_data(&bytes[..HEAD_LEN], header);
    let mut json = ct.to_vec();
    key.trailer_cipher(&salt)
        .open_in_place(&[0; 12], &aad, &mut json, &tag_bytes)
        .map_err(|_| TrailerError::Forged)?;
    // serde_json tolerates whitespace around the value; the layout does not.
    if json.first() != Some(&b'{') || json.last() != Some(&b'}') {
        return Err(TrailerError::Malformed("not a JSON object"));
    }
    serde_json::from_slice::<Entries>(&json)
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

    fn seal(header: &str) -> TrailerSeal {
        TrailerSeal {
            key: Arc::new(StateKey::new(&[9; 32])),
            header: header.to_owned(),
        }
    }

    #[test]
    fn round_trip_and_layout() {
        let e = entries(&[("objseal-size", "12"), ("objseal-etag", "abc")]);
        let s = seal("T1NFMQ");
        let t = s.encode(&e).unwrap();
        assert_eq!(t.len(), TRAILER_LEN);
        let json = br#"{"objseal-etag":"abc","objseal-size":"12"}"#;
        assert_eq!(&t[..6], b"OSTR2\n");
        assert_eq!(&t[38..42], &(json.len() as u32).to_be_bytes());
        // The JSON is encrypted: not there in the clear.
        assert!(!t.windows(json.len()).any(|w| w == json));
        assert!(t[42 + json.len() + 16..].iter().all(|&b| b == 0));
        assert_eq!(s.decode(&t).unwrap(), e);
        // A fresh salt every time.
        assert_ne!(s.encode(&e).unwrap(), t);
        assert!(is_trailer_len(&TRAILER_LEN.to_string()));
        assert!(!is_trailer_len("04096"));
    }

    #[test]
    fn a_trailer_opens_only_with_its_key_and_object_header() {
        let e = entries(&[("objseal-etag", "abc")]);
        let t = seal("header-a").encode(&e).unwrap();
        assert_eq!(seal("header-b").decode(&t), Err(TrailerError::Forged));
        assert_eq!(seal("").decode(&t), Err(TrailerError::Forged));
        let other_key = TrailerSeal {
            key: Arc::new(StateKey::new(&[8; 32])),
            header: "header-a".into(),
        };
        assert_eq!(other_key.decode(&t), Err(TrailerError::Forged));
        // Any bit of the salt, length, ciphertext or tag.
        for at in [6, 37, 41, 42, 42 + 18, 42 + 19 + 15] {
            let mut bad = t.clone();
            bad[at] ^= 1;
            assert!(seal("header-a").decode(&bad).is_err(), "byte {at}");
        }
    }

    #[test]
    fn empty_and_full() {
        let s = seal("");
        let t = s.encode(&BTreeMap::new()).unwrap();
        assert!(s.decode(&t).unwrap().is_empty());
        // {"k":"<v>"} is 8 bytes around the value.
        let fits = "v".repeat(MAX_JSON_LEN - 8);
        let t = s.encode(&entries(&[("k", &fits)])).unwrap();
        assert_eq!(s.decode(&t).unwrap()["k"], fits);
        let too_big = "v".repeat(MAX_JSON_LEN - 7);
        assert_eq!(
            s.encode(&entries(&[("k", &too_big)])),
            Err(TrailerError::TooLarge(MAX_JSON_LEN + 1))
        );
    }

    /// A well-sealed trailer around arbitrary JSON bytes.
    fn with_json(json: &[u8]) -> Vec<u8> {
        let key = StateKey::new(&[9; 32]);
        let salt = [3u8; SALT_LEN];
        let mut t = Vec::new();
        t.extend_from_slice(MAGIC);
        t.extend_from_slice(&salt);
        t.extend_from_slice(&(json.len() as u32).to_be_bytes());
        let aad = associated_data(&t, "");
        let mut ct = json.to_vec();
        let tag = key
            .trailer_cipher(&salt)
            .seal_in_place(&[0; 12], &aad, &mut ct);
        t.extend_from_slice(&ct);
        t.extend_from_slice(&tag);
        t.resize(TRAILER_LEN, 0);
        t
    }

    #[test]
    fn anything_else_is_refused() {
        let s = seal("");
        let good = s.encode(&entries(&[("a", "b")])).unwrap();
        assert!(s.decode(&good[..TRAILER_LEN - 1]).is_err());
        let mut longer = good.clone();
        longer.push(0);
        assert!(s.decode(&longer).is_err());
        let mut magic = good.clone();
        magic[4] = b'1';
        assert_eq!(s.decode(&magic), Err(TrailerError::Malformed("bad magic")));
        let mut past = good.clone();
        past[38..42].copy_from_slice(&(MAX_JSON_LEN as u32 + 1).to_be_bytes());
        assert!(s.decode(&past).is_err());
        let mut padding = good.clone();
        padding[TRAILER_LEN - 1] = b' ';
        assert!(s.decode(&padding).is_err());
        for json in [
            &br#"{"a":"b","a":"c"}"#[..],
            br#"{"a":1}"#,
            br#"["a"]"#,
            br#" {"a":"b"}"#,
            br#"{"a":"b"} "#,
            br#"{"a":"b"}{"#,
            b"",
        ] {
            assert!(s.decode(&with_json(json)).is_err(), "{json:?}");
        }
        assert_eq!(
            s.decode(&with_json(br#"{"a":"b"}"#)).unwrap(),
            entries(&[("a", "b")])
        );
    }
}
