//! `ManifestView::verify` under a fixed segmented `ObjectKey`.
//!
//! The first byte picks the object's chunk size (12..=24) and the mode:
//! * forged: the rest is offered to `verify` as is. It must never panic, and never verify (the tag
//!   is an HMAC under a key the input does not know).
//! * genuine: the rest is read as manifest entries (28 bytes each), encoded with the real key by
//!   `encode_manifest`; if that accepts them, `verify` must accept the result and give the entries
//!   back, and every accessor (`plaintext_len`, `ciphertext_len`, `locations`, `locate`) must be total.
#![no_main]

use libfuzzer_sys::fuzz_target;
use objseal_core::format::manifest::{
    ENTRY_LEN, ManifestView, SegmentEntry, encode_manifest, manifest_len,
};
use objseal_core::{Dek, ObjectKey, ObjectParams};

fn object(chunk_log2: u8) -> ObjectKey {
    let params = ObjectParams::new([7; 32], [9; 32])
        .chunk_log2(chunk_log2)
        .segmented(true);
    ObjectKey::create(&Dek::from_bytes([0x42; 32]), &params).expect("valid params")
}

fn exercise(view: &ManifestView<'_>) {
    assert!(!view.is_empty());
    let total = view.plaintext_len();
    let _ = view.ciphertext_len();
    let mut expected_start = 0u64;
    for (i, loc) in view.locations().enumerate() {
        assert_eq!(loc.position, i);
        assert_eq!(loc.plaintext_start, expected_start);
        expected_start += loc.entry.plaintext_len;
        if loc.entry.plaintext_len > 0 {
            assert_eq!(view.locate(loc.plaintext_start).map(|l| l.position), Ok(i));
            let last = loc.plaintext_start + loc.entry.plaintext_len - 1;
            assert_eq!(view.locate(last).map(|l| l.position), Ok(i));
        }
    }
    assert_eq!(expected_start, total);
    assert!(view.locate(total).is_err());
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let object = object(12 + selector % 13);
    if selector & 0x80 == 0 {
        let result = ManifestView::verify(&object, rest);
        assert!(result.is_err(), "a manifest nobody wrote verified");
        return;
    }
    let entries: Vec<SegmentEntry> = rest
        .chunks_exact(ENTRY_LEN)
        .map(|e| SegmentEntry {
            number: u32::from_be_bytes(e[..4].try_into().unwrap()),
            salt: e[4..20].try_into().unwrap(),
            plaintext_len: u64::from_be_bytes(e[20..28].try_into().unwrap()),
        })
        .collect();
    let mut bytes = vec![0u8; manifest_len(entries.len())];
    if encode_manifest(&object, &entries, &mut bytes).is_err() {
        return;
    }
    match ManifestView::verify(&object, &bytes) {
        Ok(view) => {
            assert_eq!(view.len(), entries.len());
            assert!(view.entries().eq(entries.iter().copied()));
            exercise(&view);
        }
        // The writer does not check lengths against the format limits; the reader does.
        Err(e) => assert!(
            matches!(e, objseal_core::Error::LimitExceeded),
            "own manifest refused: {e:?}"
        ),
    }
    // One flipped bit anywhere must be refused.
    let at = usize::from(selector) * 7919 % bytes.len();
    bytes[at] ^= 1 << (selector % 8);
    assert!(ManifestView::verify(&object, &bytes).is_err());
});
