//! Authenticated random access: for any plaintext length and any HTTP-style byte range,
//! `plan_range` + `open_span_in_place` give exactly `plaintext[range]`; a range read from an object
//! whose final chunk was dropped fails.

mod common;

use common::*;
use objseal_core::Error;
use objseal_core::range::{
    ByteRange, ciphertext_len, open_span_in_place, plaintext_len, plan_range,
};
use proptest::prelude::*;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 128,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// What an HTTP server would serve: `Some(start..end)`, or `None` for 416.
fn expected(len: u64, range: ByteRange) -> Option<core::ops::Range<u64>> {
    match range {
        ByteRange::Inclusive { first, last } if first <= last && first < len => {
            Some(first..(last.saturating_add(1)).min(len))
        }
        ByteRange::From(first) if first < len => Some(first..len),
        ByteRange::Suffix(n) if n > 0 && len > 0 => Some(len - n.min(len)..len),
        _ => None,
    }
}

/// A length of 0..=3 chunks plus a tail, and a range around it: positions are drawn from just
/// inside and just outside the object, and from chunk boundaries.
fn case() -> impl Strategy<Value = (u8, u64, ByteRange)> {
    (
        12u8..=13,
        0u64..4,
        any::<u16>(),
        0u8..3,
        any::<u64>(),
        any::<u64>(),
        any::<u8>(),
    )
        .prop_map(|(k, full, tail, kind, a, b, edge)| {
            let c = 1u64 << k;
            let len = full * c + u64::from(tail) % (c + 1);
            let pos = |r: u64, e: u8| match e % 6 {
                0 => 0,
                1 => len.saturating_sub(1),
                2 => len,
                3 => (r % 5) * c + (r >> 8) % 3, // near a chunk boundary
                4 => r,                          // anything at all
                _ => r % (len + 2),
            };
            let range = match kind {
                0 => {
                    let x = pos(a, edge);
                    let y = pos(b, edge >> 3);
                    ByteRange::Inclusive {
                        first: x.min(y),
                        last: x.max(y),
                    }
                }
                1 => ByteRange::From(pos(a, edge)),
                _ => ByteRange::Suffix(pos(a, edge)),
            };
            (k, len, range)
        })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn span_returns_exactly_the_range((k, len, range) in case()) {
        let pt = plaintext(len as usize, 0x5a);
        let object = object(k, false);
        let key = object.body_key().unwrap();
        let body = seal_body(&object, &pt);
        let planned = plan_range(len, k, range);
        match expected(len, range) {
            None => prop_assert_eq!(planned, Err(Error::RangeNotSatisfiable)),
            Some(want) => {
                let span = planned.unwrap();
                prop_assert_eq!(&span.plaintext, &want);
                prop_assert!(span.ciphertext.end <= body.len() as u64);
                prop_assert_eq!(span.includes_final, span.ciphertext.end == body.len() as u64);
                let mut part = body[span.ciphertext.start as usize..span.ciphertext.end as usize].to_vec();
                let got = open_span_in_place(&key, &span, &mut part).unwrap();
                prop_assert_eq!(&part[got], &pt[want.start as usize..want.end as usize]);
            }
        }
    }

    /// The attacker drops the final chunk (and any chunks after a cut point); the reader derives the
    /// length from what is stored. Any range that reaches the apparent end must fail.
    #[test]
    fn range_reaching_a_dropped_final_chunk_fails(k in 12u8..=13, full in 2u64..5, tail in 0u64..4096, keep_frac in any::<u16>(), n in 1u64..20000, which in 0u8..3) {
        let c = 1u64 << k;
        let len = full * c + tail % c;
        let pt = plaintext(len as usize, 0x11);
        let object = object(k, false);
        let key = object.body_key().unwrap();
        let body = seal_body(&object, &pt);
        let sealed = sealed_chunk(k) as u64;
        let chunks = (body.len() as u64).div_ceil(sealed);
        // Keep 1..chunks-1 whole chunks: all genuine non-final chunks.
        let keep = 1 + u64::from(keep_frac) % (chunks - 1);
        let cut = &body[..(keep * sealed) as usize];
        let apparent = plaintext_len(cut.len() as u64, k).unwrap();
        prop_assert_eq!(apparent, keep * c);
        let range = match which {
            0 => ByteRange::Suffix(n),
            1 => ByteRange::From(apparent - 1 - (n % apparent)),
            _ => ByteRange::Inclusive { first: apparent - 1 - (n % apparent), last: apparent - 1 + n },
        };
        let span = plan_range(apparent, k, range).unwrap();
        prop_assert!(span.includes_final);
        let mut part = cut[span.ciphertext.start as usize..span.ciphertext.end as usize].to_vec();
        prop_assert_eq!(open_span_in_place(&key, &span, &mut part), Err(Error::Truncated));
        prop_assert!(part.iter().all(|&b| b == 0));
    }

    #[test]
    fn lengths_invert(k in 12u8..=24, pt_len in 0u64..(1 << 40)) {
        let ct = ciphertext_len(pt_len, k).unwrap();
        prop_assert_eq!(plaintext_len(ct, k).unwrap(), pt_len);
    }
}

#[test]
fn extended_object_range_fails() {
    // Bytes appended after a genuine final chunk make the length look like one more chunk: a suffix
    // read then verifies the appended "final chunk" and fails.
    let k = 12;
    let pt = plaintext(3 * 4096, 1);
    let object = object(k, false);
    let key = object.body_key().unwrap();
    let mut body = seal_body(&object, &pt);
    body.extend_from_within(..100);
    let apparent = plaintext_len(body.len() as u64, k).unwrap();
    let span = plan_range(apparent, k, ByteRange::Suffix(10)).unwrap();
    let mut part = body[span.ciphertext.start as usize..span.ciphertext.end as usize].to_vec();
    assert!(open_span_in_place(&key, &span, &mut part).is_err());
}
