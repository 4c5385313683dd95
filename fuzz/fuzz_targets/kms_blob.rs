//! `objseal_kms::blob::parse` on arbitrary bytes: never panics; a parsed blob's header re-encodes to
//! exactly its first 41 bytes; opening a blob nobody sealed never authenticates (under any material
//! or context tried), and never panics. Then the first bytes pick a context and plaintext that are
//! sealed, parsed and opened again: the round trip holds and any other context is refused.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use objseal_kms::blob::{self, HEADER_LEN};

fuzz_target!(|data: &[u8]| {
    let empty = BTreeMap::new();
    if let Ok(parsed) = blob::parse(data) {
        assert_eq!(&parsed.header().to_bytes()[..], &data[..HEADER_LEN]);
        assert!(parsed.open(&[1; 32], &empty).is_err(), "a forged blob opened");
    }

    // A context made of the input's first bytes, the rest as plaintext (1 to 4096 bytes).
    let split = data.first().map_or(0, |&n| usize::from(n % 16)).min(data.len());
    let (ctx_bytes, plaintext) = data.split_at(split);
    let plaintext = &plaintext[..plaintext.len().min(blob::MAX_PLAINTEXT_LEN)];
    if plaintext.is_empty() {
        // AWS KMS encrypts 1 to 4096 bytes; `seal` refuses an empty plaintext.
        assert!(blob::seal(&[7; 16], 3, &[9; 32], &BTreeMap::new(), b"").is_err());
        return;
    }
    let mut context = BTreeMap::new();
    for (i, b) in ctx_bytes.iter().enumerate() {
        context.insert(format!("k{i}"), format!("{b:02x}"));
    }
    let sealed = blob::seal(&[7; 16], 3, &[9; 32], &context, plaintext).expect("seal");
    let parsed = blob::parse(&sealed).expect("our own blob parses");
    assert_eq!(parsed.header().key_version, 3);
    let opened = parsed.open(&[9; 32], &context).expect("round trip");
    assert_eq!(opened.as_bytes(), plaintext);
    let mut other = context.clone();
    other.insert("extra".into(), String::new());
    assert!(parsed.open(&[9; 32], &other).is_err(), "context not bound");
    assert!(parsed.open(&[8; 32], &context).is_err(), "material not bound");
});
