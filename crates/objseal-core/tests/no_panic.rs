//! No input makes any parsing or opening API panic: arbitrary bytes, lengths and numbers go in,
//! a `Result` comes out.

mod common;

use common::*;
use objseal_core::format::container::{ContainerPrefix, prefix_len};
use objseal_core::format::manifest::{ManifestView, SegmentEntry, encode_manifest, manifest_len};
use objseal_core::format::wrapped_key::WrappedKey;
use objseal_core::range::{
    ByteRange, ChunkSpan, chunk_count, ciphertext_len, open_span_in_place, plaintext_len,
    plan_range,
};
use objseal_core::stream::{self, Decryptor};
use objseal_core::{HEADER_LEN, Header};
use proptest::prelude::*;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Random bytes, or random bytes behind a plausible prefix so parsing gets past the magic.
fn bytes_after(prefix: Vec<u8>, max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..max),
        proptest::collection::vec(any::<u8>(), 0..max).prop_map(move |tail| {
            let mut v = prefix.clone();
            v.extend(tail);
            v
        }),
    ]
}

/// A genuine header with a few bytes mutated, or random bytes.
fn header_bytes() -> impl Strategy<Value = Vec<u8>> {
    let genuine = object(12, false).header().to_bytes().to_vec();
    prop_oneof![
        bytes_after(b"OSE\x01\x00\x01".to_vec(), 160),
        (
            proptest::collection::vec((0usize..HEADER_LEN, any::<u8>()), 0..4),
            0usize..200
        )
            .prop_map(move |(edits, extra)| {
                let mut v = genuine.clone();
                for (at, b) in edits {
                    v[at] = b;
                }
                v.resize(HEADER_LEN + extra % 8, 0);
                v.truncate(extra.max(1).min(v.len()));
                v
            }),
    ]
}

fn any_range() -> impl Strategy<Value = ByteRange> {
    prop_oneof![
        (any::<u64>(), any::<u64>()).prop_map(|(first, last)| ByteRange::Inclusive { first, last }),
        any::<u64>().prop_map(ByteRange::From),
        any::<u64>().prop_map(ByteRange::Suffix),
    ]
}

/// Numbers from the whole u64 space, biased to edges.
fn number() -> impl Strategy<Value = u64> {
    prop_oneof![
        any::<u64>(),
        0u64..70_000,
        Just(u64::MAX),
        Just(u64::MAX - 1),
        (0u32..64).prop_map(|s| 1u64 << s),
        (0u32..64).prop_map(|s| (1u64 << s).wrapping_sub(1)),
    ]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn header_parse(bytes in header_bytes()) {
        if let Ok(header) = Header::parse(&bytes) {
            // Whatever parses re-serializes to the same bytes, and opening with a key is just an error.
            prop_assert_eq!(&header.to_bytes()[..], &bytes[..HEADER_LEN]);
            let _ = objseal_core::ObjectKey::open(&dek(), &header);
        }
    }

    #[test]
    fn wrapped_key_parse(bytes in bytes_after(vec![1, 1, 4, b'r', b'o', b'o', b't'], 120)) {
        if let Ok(blob) = WrappedKey::parse(&bytes) {
            let mut out = vec![0u8; blob.encoded_len()];
            prop_assert_eq!(blob.encode(&mut out), Ok(bytes.len()));
            prop_assert_eq!(out, bytes);
        }
    }

    #[test]
    fn container_prefix(bytes in prop_oneof![
        header_bytes(),
        (header_bytes(), proptest::collection::vec(any::<u8>(), 0..200)).prop_map(|(mut h, t)| { h.extend(t); h }),
        (proptest::collection::vec(any::<u8>(), 0..3), 0u16..20, proptest::collection::vec(any::<u8>(), 0..300))
            .prop_map(|(lens, count, tail)| {
                let mut v = object(12, false).header().to_bytes().to_vec();
                v.extend(count.to_be_bytes());
                for l in lens { v.extend([0, l]); v.extend(std::iter::repeat_n(1u8, usize::from(l))); }
                v.extend(tail);
                v
            }),
    ]) {
        for cut in [bytes.len(), bytes.len() / 2, bytes.len().saturating_sub(1)] {
            let b = &bytes[..cut];
            let _ = prefix_len(b);
            if let Ok(p) = ContainerPrefix::parse(b) {
                prop_assert!(p.body_offset <= b.len());
                prop_assert_eq!(prefix_len(b), Ok(Some(p.body_offset)));
                for k in p.wrapped_keys() { prop_assert!(k.is_ok()); }
            }
        }
    }

    #[test]
    fn manifest_verify(bytes in prop_oneof![
        bytes_after(b"OSM\x01\x00\x00\x00\x01".to_vec(), 200),
        (0u32..5, proptest::collection::vec(any::<u8>(), 0..200)).prop_map(|(n, t)| {
            let mut v = b"OSM\x01".to_vec();
            v.extend(n.to_be_bytes());
            v.extend(t);
            v
        }),
    ]) {
        let object = object(12, true);
        let _ = ManifestView::verify(&object, &bytes);
        let _ = ManifestView::verify(&common::object(12, false), &bytes);
    }

    /// Manifests a (careless or hostile) writer holding the key may produce: any entries at all.
    #[test]
    fn authenticated_but_odd_manifest(entries in proptest::collection::vec((any::<u32>(), number()), 1..6), k in 12u8..=24) {
        let object = object(k, true);
        let entries: Vec<SegmentEntry> = entries
            .into_iter()
            .map(|(number, plaintext_len)| SegmentEntry { number, salt: [3; 16], plaintext_len })
            .collect();
        let mut bytes = vec![0u8; manifest_len(entries.len())];
        if encode_manifest(&object, &entries, &mut bytes).is_ok()
            && let Ok(view) = ManifestView::verify(&object, &bytes)
        {
            let _ = (view.len(), view.plaintext_len(), view.ciphertext_len());
            let _ = view.locations().count();
            let _ = view.locate(entries[0].plaintext_len);
            let _ = view.locate(u64::MAX);
        }
    }

    #[test]
    fn open_segment_any_bytes(k in 12u8..=13, ct in proptest::collection::vec(any::<u8>(), 0..20_000), out_len in 0usize..20_000) {
        let key = object(k, false).body_key().unwrap();
        let mut out = vec![0u8; out_len];
        prop_assert!(stream::open_segment(&key, &ct, &mut out).is_err());
        prop_assert!(out.iter().all(|&b| b == 0));
        #[cfg(feature = "rayon")]
        {
            out.fill(0xaa);
            prop_assert!(objseal_core::par::open_segment(&key, &ct, &mut out).is_err());
            prop_assert!(out.iter().all(|&b| b == 0));
            let mut buf = ct.clone();
            prop_assert!(objseal_core::par::open_chunks(&key, 0, &mut buf, true).is_err());
        }
    }

    #[test]
    fn decryptor_any_lengths(calls in proptest::collection::vec((0usize..9000, any::<bool>()), 1..6)) {
        let object = object(12, false);
        let mut dec = Decryptor::new(object.body_key().unwrap());
        for (len, last) in calls {
            let mut chunk = vec![0x5au8; len];
            prop_assert!(dec.open_next(&mut chunk, last).is_err());
            prop_assert!(chunk.iter().all(|&b| b == 0));
        }
        prop_assert!(dec.finish().is_err());
    }

    #[test]
    fn chunk_apis_any_lengths(index in number(), last in any::<bool>(), len in 0usize..5000, pt_len in 0usize..5000) {
        let key = object(12, false).body_key().unwrap();
        let mut buf = vec![1u8; len];
        let _ = key.seal_chunk(index, last, &mut buf);
        let _ = key.open_chunk(index, last, &mut buf, &[0; 16]);
        let _ = key.seal_chunk_in_place(index, last, &mut buf, pt_len);
        let _ = key.open_chunk_in_place(index, last, &mut buf);
        let mut enc = objseal_core::stream::Encryptor::new(object(12, false).body_key().unwrap());
        let _ = enc.reserve(index, last);
        let _ = enc.seal_next_in_place(&mut buf, pt_len, last);
    }

    #[test]
    fn range_math_any_numbers(len in number(), ct in number(), k in any::<u8>(), range in any_range()) {
        let _ = chunk_count(len, k);
        let _ = ciphertext_len(len, k);
        let _ = plaintext_len(ct, k);
        if let Ok(span) = plan_range(len, k, range) {
            prop_assert!(span.plaintext.start < span.plaintext.end);
            prop_assert!(span.plaintext.end <= len);
            prop_assert!(span.first_chunk <= span.last_chunk);
            prop_assert!(span.ciphertext.start < span.ciphertext.end);
        }
    }

    #[test]
    fn open_span_any_span(
        pt_len in 0u64..20_000,
        start in number(), end in number(), first in number(), last in number(),
        cs in number(), ce in number(), includes_final in any::<bool>(),
        buf_len in 0usize..20_000,
    ) {
        let object = object(12, false);
        let key = object.body_key().unwrap();
        let body = seal_body(&object, &plaintext(pt_len as usize, 1));
        let span = ChunkSpan {
            plaintext: start..end,
            first_chunk: first,
            last_chunk: last,
            ciphertext: cs..ce,
            includes_final,
        };
        let mut buf = body.iter().copied().cycle().take(buf_len).collect::<Vec<_>>();
        let _ = open_span_in_place(&key, &span, &mut buf);
        // Also spans that are only slightly off a real plan.
        if let Ok(mut real) = plan_range(pt_len, 12, ByteRange::Inclusive { first: start % (pt_len + 1), last: end % (pt_len + 2) }) {
            real.plaintext.start = real.plaintext.start.wrapping_add(first % 3).wrapping_sub(1);
            real.plaintext.end = real.plaintext.end.wrapping_add(last % 3).wrapping_sub(1);
            let mut part = body[real.ciphertext.start as usize..real.ciphertext.end as usize].to_vec();
            if let Ok(r) = open_span_in_place(&key, &real, &mut part) {
                prop_assert!(r.start <= r.end && r.end <= part.len());
            }
        }
    }
}

/// A manifest (written by someone holding the key) whose plaintext total fits in a u64 but whose
/// ciphertext total does not: verifying, and every accessor after it, must not overflow.
#[test]
fn manifest_with_overflowing_ciphertext_total() {
    let object = object(24, true);
    let max_segment = 1u64 << 56; // 2^32 chunks of 16 MiB: the largest segment there is
    let mut entries: Vec<SegmentEntry> = (0..255u32)
        .map(|n| SegmentEntry {
            number: n,
            salt: [0; 16],
            plaintext_len: max_segment,
        })
        .collect();
    entries.push(SegmentEntry {
        number: 255,
        salt: [0; 16],
        plaintext_len: max_segment - 1,
    });
    assert_eq!(
        entries
            .iter()
            .map(|e| e.plaintext_len)
            .fold(0u64, |a, b| a.checked_add(b).unwrap()),
        u64::MAX
    );
    let mut bytes = vec![0u8; manifest_len(entries.len())];
    encode_manifest(&object, &entries, &mut bytes).unwrap();
    assert_eq!(
        ManifestView::verify(&object, &bytes).unwrap_err(),
        objseal_core::Error::LimitExceeded
    );
    // A smaller last segment and the ciphertext total fits: verified, accessors exact.
    entries.last_mut().unwrap().plaintext_len = max_segment - (1 << 45);
    encode_manifest(&object, &entries, &mut bytes).unwrap();
    let view = ManifestView::verify(&object, &bytes).unwrap();
    let ct: u128 = entries
        .iter()
        .map(|e| u128::from(ciphertext_len(e.plaintext_len, 24).unwrap()))
        .sum();
    let pt: u64 = entries.iter().map(|e| e.plaintext_len).sum();
    assert_eq!(u128::from(view.ciphertext_len()), ct);
    assert_eq!(view.plaintext_len(), pt);
    assert_eq!(view.locations().count(), 256);
    assert_eq!(view.locate(pt - 1).unwrap().position, 255);
}
