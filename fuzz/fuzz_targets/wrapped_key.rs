//! `WrappedKey::parse` on arbitrary bytes: never panics; a parsed blob re-encodes to exactly the
//! input; unwrapping a parsed blob with local KEKs (both the `LocalKek` and `CustomerKey` algorithms)
//! must not panic (and, for a blob nobody wrapped, must fail).
#![no_main]

use libfuzzer_sys::fuzz_target;
use objseal_core::format::wrapped_key::WrappedKey;
use objseal_core::wrap::{KeyUnwrap, LocalKek};
use objseal_core::{Kek, empty_context_hash};

fuzz_target!(|data: &[u8]| {
    let Ok(blob) = WrappedKey::parse(data) else {
        return;
    };
    assert_eq!(blob.encoded_len(), data.len());
    let mut out = vec![0u8; data.len()];
    assert_eq!(blob.encode(&mut out), Ok(data.len()));
    assert_eq!(out, data);
    let mut prefix = vec![0u8; data.len()];
    let n = blob
        .encode_prefix(&mut prefix)
        .expect("prefix of a parsed blob");
    assert_eq!(&prefix[..n], &data[..n]);
    assert_eq!(WrappedKey::parse(&out).as_ref(), Ok(&blob));

    let ctx = empty_context_hash();
    let local = LocalKek::new(Kek::from_bytes([1; 32]), blob.key_id, blob.key_version)
        .expect("key id from a blob fits");
    let customer = LocalKek::customer_key(Kek::from_bytes([1; 32]), blob.key_id)
        .expect("key id from a blob fits");
    for kek in [&local, &customer] {
        assert!(
            kek.unwrap_key(&blob, &ctx).is_err(),
            "a forged blob unwrapped"
        );
        assert!(kek.unwrap_key(&blob, &[0xff; 32]).is_err());
    }
});
