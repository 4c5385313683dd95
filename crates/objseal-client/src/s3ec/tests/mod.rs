//! Fixtures made by the real `amazon-s3-encryption-client-python` 4.0.0
//! (`tests/s3ec/make_fixtures.py`, with a stub KMS that hands out [`DATA_KEY`]), and the tests
//! that read them.

mod encrypt;
mod negative;

use std::collections::{BTreeMap, HashMap};

use super::*;

/// The data key the stub KMS handed out.
pub(super) const DATA_KEY: &str =
    "404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f";
/// The stub KMS's ciphertext blob, `stub-kms-ciphertext-blob-0123456789`.
pub(super) const BLOB_B64: &str = "c3R1Yi1rbXMtY2lwaGVydGV4dC1ibG9iLTAxMjM0NTY3ODk=";

pub(super) const V3_PLAINTEXT: &[u8] = b"S3EC V3 fixture plaintext";
pub(super) const V3_META: [(&str, &str); 6] = [
    ("x-amz-c", "115"),
    ("x-amz-3", BLOB_B64),
    (
        "x-amz-t",
        r#"{"bucket": "photos", "purpose": "fixture", "aws:x-amz-cek-alg": "115"}"#,
    ),
    ("x-amz-w", "12"),
    ("x-amz-d", "e2VZWONsr/OiYylGcJeperJqLa59JYwv8Yokxg=="),
    ("x-amz-i", "QtfZDQlVJ3NMFM1I3S2sYoMyDl+My00Cme9RnQ=="),
];
pub(super) const V3_BODY: &str =
    "d71ec4bb8ac95b4446e2700eef8bbe5d8f0d44cb7ef9e665699f01aeae7bab2568521b1802fb2716b1";

/// Empty plaintext, no caller context: `x-amz-t` still holds the reserved entry.
pub(super) const V3_EMPTY_META: [(&str, &str); 6] = [
    ("x-amz-c", "115"),
    ("x-amz-3", BLOB_B64),
    ("x-amz-t", r#"{"aws:x-amz-cek-alg": "115"}"#),
    ("x-amz-w", "12"),
    ("x-amz-d", "+ivq4kxUg6c4zGCf8hRu5ZGqiH8FgaV6eEQOnQ=="),
    ("x-amz-i", "20eRuKskbcw6ss/XTkVgzW3ib8A0YfRAJgIojQ=="),
];
pub(super) const V3_EMPTY_BODY: &str = "dd0fc351da9597f7d8ec7b4b80c1205a";

pub(super) const V2_PLAINTEXT: &[u8] = b"S3EC V2 legacy fixture plaintext";
pub(super) const V2_META: [(&str, &str); 6] = [
    ("x-amz-key-v2", BLOB_B64),
    ("x-amz-wrap-alg", "kms+context"),
    (
        "x-amz-matdesc",
        r#"{"bucket": "photos", "aws:x-amz-cek-alg": "AES/GCM/NoPadding"}"#,
    ),
    ("x-amz-iv", "C+ueKtQg1PR0Vi8T"),
    ("x-amz-cek-alg", "AES/GCM/NoPadding"),
    ("x-amz-tag-len", "128"),
];
pub(super) const V2_BODY: &str = "93c58bb8245b4bd412e3bcdd355ecb3331ba59df039dc72e082b5ae7a1ba540ec46db9fe6bd59eb56671c6ab3b7310a6";

pub(super) fn data_key() -> [u8; 32] {
    hex::decode(DATA_KEY).unwrap().try_into().unwrap()
}

pub(super) fn meta(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

pub(super) fn ctx(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

pub(super) fn parse(m: &HashMap<String, String>) -> Result<Envelope, S3ecError> {
    Envelope::from_metadata(m).map(|e| e.expect("S3EC metadata"))
}

#[test]
fn v3_fixture_decrypts() {
    let env = parse(&meta(&V3_META)).unwrap();
    assert_eq!(env.version(), Version::V3);
    assert!(env.is_committing());
    assert_eq!(
        env.kms_ciphertext_blob(),
        b"stub-kms-ciphertext-blob-0123456789"
    );
    // What S3EC sent to KMS Decrypt (recorded by the stub): the stored x-amz-t, verbatim.
    assert_eq!(
        env.kms_context(),
        &ctx(&[
            ("bucket", "photos"),
            ("purpose", "fixture"),
            ("aws:x-amz-cek-alg", "115")
        ])
    );
    let user = ctx(&[("bucket", "photos"), ("purpose", "fixture")]);
    assert_eq!(env.user_context(), user);
    env.check_context(&user).unwrap();
    let mut body = hex::decode(V3_BODY).unwrap();
    env.decrypt_in_place(&data_key(), &mut body, CommitmentPolicy::RequireCommitment)
        .unwrap();
    assert_eq!(body, V3_PLAINTEXT);
}

#[test]
fn v3_derivation_matches_the_stored_commitment() {
    let m = meta(&V3_META);
    let id: [u8; 28] =
        base64::Engine::decode(&base64::engine::general_purpose::STANDARD, &m["x-amz-i"])
            .unwrap()
            .try_into()
            .unwrap();
    let (_, commitment) = crypto::derive_v3(&data_key(), &id);
    let stored =
        base64::Engine::decode(&base64::engine::general_purpose::STANDARD, &m["x-amz-d"]).unwrap();
    assert_eq!(commitment.as_slice(), stored.as_slice());
}

#[test]
fn v3_empty_fixture_decrypts_with_an_empty_context() {
    let env = parse(&meta(&V3_EMPTY_META)).unwrap();
    assert_eq!(env.kms_context(), &ctx(&[("aws:x-amz-cek-alg", "115")]));
    env.check_context(&BTreeMap::new()).unwrap();
    let mut body = hex::decode(V3_EMPTY_BODY).unwrap();
    env.decrypt_in_place(&data_key(), &mut body, CommitmentPolicy::default())
        .unwrap();
    assert!(body.is_empty());
}

#[test]
fn v2_fixture_decrypts_under_allow_legacy() {
    let env = parse(&meta(&V2_META)).unwrap();
    assert_eq!(env.version(), Version::V2);
    assert!(!env.is_committing());
    assert_eq!(
        env.kms_context(),
        &ctx(&[
            ("bucket", "photos"),
            ("aws:x-amz-cek-alg", "AES/GCM/NoPadding")
        ])
    );
    env.check_context(&ctx(&[("bucket", "photos")])).unwrap();
    let mut body = hex::decode(V2_BODY).unwrap();
    env.decrypt_in_place(&data_key(), &mut body, CommitmentPolicy::AllowLegacy)
        .unwrap();
    assert_eq!(body, V2_PLAINTEXT);
}

#[test]
fn metadata_names_match_in_any_case_and_other_metadata_is_ignored() {
    let mut m = meta(&V3_META);
    let c = m.remove("x-amz-c").unwrap();
    m.insert("X-Amz-C".into(), c);
    m.insert("owner".into(), "someone".into());
    assert_eq!(parse(&m).unwrap().version(), Version::V3);
    // Plain objects: no S3EC field at all.
    assert_eq!(Envelope::from_metadata(&meta(&[("owner", "x")])), Ok(None));
    assert_eq!(Envelope::from_metadata(&HashMap::new()), Ok(None));
    // A BTreeMap works as well as a HashMap.
    let b: BTreeMap<String, String> = meta(&V2_META).into_iter().collect();
    assert!(Envelope::from_metadata(&b).unwrap().is_some());
}
