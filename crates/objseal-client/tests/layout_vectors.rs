//! FORMAT.md §16's worked examples, exactly as written there: vectors `one-byte` and
//! `multipart-one-segment` stored by hand on `objseal serve` (metadata and instruction object built
//! from the text, not by the client) and read back with the client.

mod common;

use std::collections::{BTreeMap, HashMap};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use common::Env;
use objseal_client::layout::{Instruction, InstructionHolds, instruction_key};
use objseal_client::{GetOptions, Keyring, Location};
use objseal_core::Kek;
use objseal_core::wrap::LocalKek;
use serde_json::Value;

const POSITIVE: &str = include_str!("../../../tests/vectors/positive.json");

fn vector(name: &str) -> Value {
    let doc: Value = serde_json::from_str(POSITIVE).unwrap();
    doc["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == name)
        .unwrap()
        .clone()
}

fn hex_field(v: &Value, field: &str) -> Vec<u8> {
    hex::decode(v[field].as_str().unwrap()).unwrap()
}

async fn read(env: &Env, v: &Value, key: &str) -> Vec<u8> {
    let kek: [u8; 32] = hex_field(v, "kek").try_into().unwrap();
    let kek = LocalKek::new(Kek::from_bytes(kek), "objseal-vectors/kek-1", 1).unwrap();
    let client = env.client(Keyring::new().with_kek(kek)).await;
    let context: BTreeMap<String, String> = v["context"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p[0].as_str().unwrap().into(), p[1].as_str().unwrap().into()))
        .collect();
    let options = GetOptions {
        context,
        location: Location::Unbound,
        ..GetOptions::default()
    };
    client.get("bucket", key, &options).await.unwrap().0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worked_examples_read_back() {
    let env = Env::objseal().await;

    let v = vector("one-byte");
    let meta = HashMap::from([
        ("objseal-header".to_owned(), "T1NFAQABDAASxCdoG5LZPzS4StNzCQ3cxPTi2L4MSVmJLGu0XyhEZw0wQXqUTYN7fh1l+m8dzvXNVg4s0er1Ocj6AgtrfpE8lW3aMbApcCaw5Q2WBXB48UCbkO8depGr7OM1P5xLwuY=".to_owned()),
        ("objseal-keys".to_owned(), "AQEVb2Jqc2VhbC12ZWN0b3JzL2tlay0xAAAAAWl6Vb8rq90Bw8em3XKZx6eC814cWt4jds4lAszWCRSWADDSf+XPG5R8gYGFTy92dXMsoVFQT5g9/S5O/UaGH8WnzQXBXWEdNEwLLmZ0WijUKMQ=".to_owned()),
    ]);
    env.raw_put(
        "one-byte",
        hex::decode("126b94dd6bdff8457efcc267021cc17a9e").unwrap(),
        meta,
    )
    .await;
    assert_eq!(read(&env, &v, "one-byte").await, hex_field(&v, "plaintext"));

    let v = vector("multipart-one-segment");
    let meta = HashMap::from([
        (
            "objseal-header".to_owned(),
            B64.encode(hex_field(&v, "header")),
        ),
        (
            "objseal-keys".to_owned(),
            B64.encode(hex_field(&v, "wrapped_key")),
        ),
        ("objseal-instruction".to_owned(), "manifest".to_owned()),
    ]);
    let instruction = hex::decode(concat!(
        "4f534901",
        "0000",
        "00000044",
        "4f534d0100000001000000019fa5d75b33d507a83f7cffec05157db500000000000000647026be216de31bfe",
        "5d2624c7b76f6a35683542621a9f97d848e09eb8c9e956c1"
    ))
    .unwrap();
    let decoded = Instruction::decode(
        &instruction,
        InstructionHolds {
            keys: false,
            manifest: true,
        },
    )
    .unwrap();
    assert_eq!(
        decoded.manifest.as_deref(),
        Some(&hex_field(&v, "manifest")[..])
    );
    assert_eq!(decoded.encode(), instruction);
    env.raw_put("mp", hex_field(&v, "body"), meta).await;
    env.raw_put(&instruction_key("mp"), instruction, HashMap::new())
        .await;
    assert_eq!(read(&env, &v, "mp").await, hex_field(&v, "plaintext"));
}
