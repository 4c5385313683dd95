//! The published vectors (`tests/vectors/*.json`) through the client's key selection: every
//! positive vector's data key is found, and every several-blob negative vector is refused as
//! `FORMAT.md` §9 step 3 says — or, where no blob names the reader's key, as strict selection says.

use objseal_core::format::header::Header;
use objseal_core::wrap::LocalKek;
use objseal_core::{Error, Kek};
use serde_json::Value;

use crate::ClientError;
use crate::keyring::Keyring;

const POSITIVE: &str = include_str!("../../../tests/vectors/positive.json");
const NEGATIVE: &str = include_str!("../../../tests/vectors/negative.json");

fn bytes(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().unwrap()).unwrap()
}

async fn unwrap(vector: &Value) -> Result<(), ClientError> {
    let kek: [u8; 32] = bytes(&vector["kek"]).try_into().unwrap();
    let kek = LocalKek::new(Kek::from_bytes(kek), "objseal-vectors/kek-1", 1).unwrap();
    let keys = Keyring::new().with_kek(kek).resolve().await.unwrap();
    let blobs: Vec<Vec<u8>> = match vector.get("wrapped_keys") {
        Some(list) => list.as_array().unwrap().iter().map(bytes).collect(),
        None => vec![bytes(&vector["wrapped_key"])],
    };
    let header = Header::parse_exact(&bytes(&vector["header"]))?;
    let ctx_hash: [u8; 32] = bytes(&vector["ctx_hash"]).try_into().unwrap();
    keys.unwrap(&header, &blobs, &ctx_hash).await.map(|_| ())
}

fn vectors(text: &str) -> Vec<Value> {
    let doc: Value = serde_json::from_str(text).unwrap();
    doc["vectors"].as_array().unwrap().clone()
}

#[tokio::test]
async fn positive_vectors_unwrap() {
    for v in vectors(POSITIVE) {
        if v.get("wrapped_key").or(v.get("wrapped_keys")).is_none() {
            continue;
        }
        let name = v["name"].as_str().unwrap();
        if v["wrapped_key"].is_string()
            && objseal_core::format::wrapped_key::WrappedKey::parse(&bytes(&v["wrapped_key"]))
                .is_ok_and(|w| {
                    w.algorithm != objseal_core::format::wrapped_key::WrapAlgorithm::LocalKek
                })
        {
            continue; // an SSE-C customer-key blob: the server's, not the client's
        }
        unwrap(&v).await.unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[tokio::test]
async fn several_blob_vectors_are_refused() {
    let mut seen = 0;
    for v in vectors(NEGATIVE) {
        let name = v["name"].as_str().unwrap();
        if !name.starts_with("several-blobs") {
            continue;
        }
        seen += 1;
        let err = unwrap(&v).await.expect_err(name);
        let expected = v["expected_error"].as_str().unwrap();
        let ok = match (&err, expected) {
            (ClientError::Format(Error::UnwrapFailed), "UnwrapFailed")
            | (ClientError::Format(Error::HeaderAuth), "HeaderAuth")
            | (ClientError::Format(Error::BadWrappedKey(_)), "BadWrappedKey") => true,
            // Strict selection: no blob names the reader's key.
            (
                ClientError::NoMatchingKey { object_key_ids },
                "UnwrapFailed" | "UnknownWrapAlgorithm",
            ) => !object_key_ids
                .iter()
                .any(|id| id == "objseal-vectors/kek-1"),
            _ => false,
        };
        assert!(ok, "{name}: expected {expected}, got {err:?}");
    }
    assert!(seen >= 5);
}
