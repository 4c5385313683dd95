//! The file container prefix on arbitrary bytes.
//!
//! * `prefix_len` and `ContainerPrefix::parse` never panic and agree with each other.
//! * Streaming consistency: once `prefix_len` of the whole input says `Some(n)`, every shorter
//!   prefix of the input says `None` (need more bytes) or the same `Some(n)`, never an error or
//!   another length — a reader feeding bytes as they arrive must reach the same answer.
//! * A parsed prefix re-encodes (`write_prefix` with its header and re-encoded blobs) to exactly the
//!   input's prefix bytes.
//!
//! Each input is also tried with a valid unsegmented header prefix patched in.
#![no_main]

use libfuzzer_sys::fuzz_target;
use objseal_core::HEADER_LEN;
use objseal_core::format::container::{ContainerPrefix, MAX_PREFIX_LEN, prefix_len, write_prefix};

fuzz_target!(|data: &[u8]| {
    check(data);
    // Random bytes almost never hold a valid header; also offer the input with a valid, unsegmented
    // header prefix patched in (chunk size from the input), so the key section gets explored.
    let mut fixed = data.to_vec();
    if fixed.len() < HEADER_LEN {
        fixed.resize(HEADER_LEN, 0);
    }
    let chunk_log2 = 12 + fixed[6] % 13;
    fixed[..8].copy_from_slice(&[b'O', b'S', b'E', 1, 0, 1, chunk_log2, 0]);
    check(&fixed);
});

fn check(data: &[u8]) {
    let whole = prefix_len(data);
    if let Ok(Some(n)) = whole {
        for k in 0..=data.len().min(n) {
            let partial = prefix_len(&data[..k]);
            assert!(
                matches!(partial, Ok(None)) || partial == Ok(Some(n)),
                "prefix_len of {k} bytes: {partial:?}, of all {} bytes: Some({n})",
                data.len()
            );
        }
    }

    let Ok(prefix) = ContainerPrefix::parse(data) else {
        return;
    };
    assert_eq!(whole, Ok(Some(prefix.body_offset)));
    assert!(prefix.body_offset <= data.len() && prefix.body_offset <= MAX_PREFIX_LEN);
    let blobs: Vec<Vec<u8>> = prefix
        .wrapped_keys()
        .map(|blob| {
            let blob = blob.expect("parse checked every blob");
            let mut out = vec![0u8; blob.encoded_len()];
            blob.encode(&mut out).expect("re-encode");
            out
        })
        .collect();
    let refs: Vec<&[u8]> = blobs.iter().map(Vec::as_slice).collect();
    let mut out = vec![0u8; prefix.body_offset];
    assert_eq!(
        write_prefix(&prefix.header, &refs, &mut out),
        Ok(prefix.body_offset)
    );
    assert_eq!(&out[..], &data[..prefix.body_offset]);
}
