//! Property tests of whole objects: round trips over random lengths, chunk sizes and segment splits;
//! every bit flip, truncation, extension and chunk swap rejected; parallel output identical to
//! serial; every AES-GCM backend identical to the portable one at the stream level.

mod common;

use common::*;
use objseal_core::gcm::{Backend, TAG_LEN};
use objseal_core::range::ciphertext_len;
use objseal_core::stream::{self, Decryptor, Encryptor};
use objseal_core::{Dek, ObjectKey, ObjectParams};
use proptest::prelude::*;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 64,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// A chunk size (log2, 12..=14) and a plaintext length of 0..=3 full chunks plus a tail, biased to
/// the edges (empty tail, one byte, one short of a chunk, a whole chunk).
fn geometry() -> impl Strategy<Value = (u8, usize)> {
    (12u8..=14, 0usize..=3, 0u8..6, any::<u32>()).prop_map(|(k, full, edge, r)| {
        let c = 1usize << k;
        let tail = match edge {
            0 => 0,
            1 => 1,
            2 => c - 1,
            3 => c,
            _ => r as usize % c,
        };
        (k, full * c + tail)
    })
}

/// Geometry plus sorted segment cut points (0..=3 cuts: 1..4 segments, empty segments allowed).
fn segmented_geometry() -> impl Strategy<Value = (u8, usize, Vec<usize>)> {
    (geometry(), proptest::collection::vec(any::<u32>(), 0..=3)).prop_map(|((k, len), raw)| {
        let mut cuts: Vec<usize> = raw.iter().map(|r| *r as usize % (len + 1)).collect();
        cuts.sort_unstable();
        (k, len, cuts)
    })
}

fn stored_for(k: u8, pt: &[u8], cuts: &Option<Vec<usize>>) -> Stored {
    match cuts {
        None => store_plain(k, pt),
        Some(cuts) => store_segmented(k, pt, cuts),
    }
}

/// Either an unsegmented object or a segmented one with random cuts.
fn any_object() -> impl Strategy<Value = (u8, usize, Option<Vec<usize>>)> {
    prop_oneof![
        geometry().prop_map(|(k, len)| (k, len, None)),
        segmented_geometry().prop_map(|(k, len, cuts)| (k, len, Some(cuts))),
    ]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn roundtrip_unsegmented((k, len) in geometry(), seed in any::<u8>()) {
        let pt = plaintext(len, seed);
        let object = object(k, false);
        let body = seal_body(&object, &pt);
        prop_assert_eq!(body.len() as u64, ciphertext_len(len as u64, k).unwrap());
        let stored = Stored { header: object.header().to_bytes().to_vec(), manifest: None, body: body.clone() };
        prop_assert_eq!(open_stored(&stored, &dek(), &ctx()).unwrap(), pt.clone());
        prop_assert_eq!(open_with_decryptor(&object, &body).unwrap(), pt.clone());

        // The chunk-at-a-time Encryptor writes the same bytes as seal_segment.
        let c = 1usize << k;
        let mut enc = Encryptor::new(object.body_key().unwrap());
        let mut out = Vec::new();
        let chunks = len.div_ceil(c).max(1);
        for i in 0..chunks {
            let part = &pt[(i * c).min(len)..((i + 1) * c).min(len)];
            let mut buf = part.to_vec();
            buf.resize(part.len() + TAG_LEN, 0);
            let n = enc.seal_next_in_place(&mut buf, part.len(), i + 1 == chunks).unwrap();
            out.extend_from_slice(&buf[..n]);
        }
        prop_assert!(enc.is_finished());
        prop_assert_eq!(out, body);
    }

    #[test]
    fn roundtrip_segmented((k, len, cuts) in segmented_geometry(), seed in any::<u8>()) {
        let pt = plaintext(len, seed);
        let stored = store_segmented(k, &pt, &cuts);
        prop_assert_eq!(open_stored(&stored, &dek(), &ctx()).unwrap(), pt);
    }

    #[test]
    fn any_bit_flip_is_rejected((k, len, cuts) in any_object(), target in 0u8..4, pick in any::<u64>()) {
        let pt = plaintext(len, 1);
        let mut stored = stored_for(k, &pt, &cuts);
        let sealed = sealed_chunk(k);
        match target {
            // Header: any of its 832 bits.
            0 => {
                let bit = pick as usize % (stored.header.len() * 8);
                stored.header[bit / 8] ^= 1 << (bit % 8);
            }
            // A chunk tag: the last 16 bytes of some chunk.
            1 => {
                let chunks = stored.body.len().div_ceil(sealed);
                let chunk = pick as usize % chunks;
                let end = ((chunk + 1) * sealed).min(stored.body.len());
                let bit = (pick >> 32) as usize % (TAG_LEN * 8);
                stored.body[end - TAG_LEN + bit / 8] ^= 1 << (bit % 8);
            }
            // The manifest, when there is one; otherwise anywhere in the body.
            2 if stored.manifest.is_some() => {
                let m = stored.manifest.as_mut().unwrap();
                let bit = pick as usize % (m.len() * 8);
                m[bit / 8] ^= 1 << (bit % 8);
            }
            _ => {
                let bit = pick as usize % (stored.body.len() * 8);
                stored.body[bit / 8] ^= 1 << (bit % 8);
            }
        }
        let result = open_stored(&stored, &dek(), &ctx());
        prop_assert!(result.is_err(), "a flipped bit was accepted: {:?}", result.map(|p| p.len()));
    }

    #[test]
    fn any_truncation_is_rejected((k, len, cuts) in any_object(), where_ in 0u8..3, pick in any::<u64>()) {
        let pt = plaintext(len, 2);
        let mut stored = stored_for(k, &pt, &cuts);
        match where_ {
            0 => { let n = pick as usize % stored.header.len(); stored.header.truncate(n); }
            1 if stored.manifest.is_some() => {
                let m = stored.manifest.as_mut().unwrap();
                let n = pick as usize % m.len();
                m.truncate(n);
            }
            _ => { let n = pick as usize % stored.body.len(); stored.body.truncate(n); }
        }
        prop_assert!(open_stored(&stored, &dek(), &ctx()).is_err());
    }

    #[test]
    fn any_extension_is_rejected(
        (k, len, cuts) in any_object(),
        extra in 1usize..(2 * 16384 + 64),
        copy_chunk in any::<bool>(),
        seed in any::<u8>(),
    ) {
        let pt = plaintext(len, 3);
        let mut stored = stored_for(k, &pt, &cuts);
        if copy_chunk {
            // Replay genuine bytes: the body's own first chunk (or a prefix of it) appended.
            let sealed = sealed_chunk(k).min(stored.body.len());
            let n = extra % sealed + 1;
            let head = stored.body[..n].to_vec();
            stored.body.extend_from_slice(&head);
        } else {
            stored.body.extend(plaintext(extra, seed));
        }
        prop_assert!(open_stored(&stored, &dek(), &ctx()).is_err());
        // Extending the manifest is rejected too.
        if let Some(m) = stored.manifest.as_mut() {
            m.push(seed);
            prop_assert!(open_stored(&stored, &dek(), &ctx()).is_err());
        }
    }

    #[test]
    fn chunk_swaps_and_replays_are_rejected(k in 12u8..=14, full in 2usize..=4, tail in 0usize..100, a in any::<u64>(), b in any::<u64>()) {
        let c = 1usize << k;
        let len = full * c + tail;
        let pt = plaintext(len, 4);
        let stored = store_plain(k, &pt);
        let sealed = sealed_chunk(k);
        // Chunks of the full sealed size can trade places (including a full final chunk).
        let swappable = stored.body.len() / sealed;
        let i = a as usize % swappable;
        let mut j = b as usize % swappable;
        if i == j { j = (j + 1) % swappable; }
        let chunk = |s: &Stored, n: usize| s.body[n * sealed..(n + 1) * sealed].to_vec();

        let mut swapped = stored.clone();
        let (ci, cj) = (chunk(&stored, i), chunk(&stored, j));
        swapped.body[i * sealed..(i + 1) * sealed].copy_from_slice(&cj);
        swapped.body[j * sealed..(j + 1) * sealed].copy_from_slice(&ci);
        prop_assert!(open_stored(&swapped, &dek(), &ctx()).is_err());

        let mut replayed = stored.clone();
        replayed.body[j * sealed..(j + 1) * sealed].copy_from_slice(&ci);
        prop_assert!(open_stored(&replayed, &dek(), &ctx()).is_err());

        // Dropping a middle chunk (the rest shifts down) is rejected too.
        let mut dropped = stored.clone();
        dropped.body.drain(i * sealed..(i + 1) * sealed);
        prop_assert!(open_stored(&dropped, &dek(), &ctx()).is_err());
    }

    #[test]
    fn segment_swaps_are_rejected(k in 12u8..=13, seg_len in 0usize..9000, n in 2usize..=4, a in any::<u64>(), b in any::<u64>()) {
        // Equal-length segments, so their ciphertexts can trade places without changing any length.
        let pt = plaintext(seg_len * n, 5);
        let cuts: Vec<usize> = (1..n).map(|i| i * seg_len).collect();
        let stored = store_segmented(k, &pt, &cuts);
        let ct = ciphertext_len(seg_len as u64, k).unwrap() as usize;
        let i = a as usize % n;
        let mut j = b as usize % n;
        if i == j { j = (j + 1) % n; }
        let mut swapped = stored.clone();
        let (si, sj) = (stored.body[i * ct..(i + 1) * ct].to_vec(), stored.body[j * ct..(j + 1) * ct].to_vec());
        swapped.body[i * ct..(i + 1) * ct].copy_from_slice(&sj);
        swapped.body[j * ct..(j + 1) * ct].copy_from_slice(&si);
        prop_assert!(open_stored(&swapped, &dek(), &ctx()).is_err());
    }

    #[test]
    fn every_backend_matches_portable((k, len) in geometry(), seed in any::<u8>(), segment in any::<u32>(), salt in any::<[u8; 16]>()) {
        let pt = plaintext(len, seed);
        let dek = Dek::from_bytes([seed; 32]);
        let params = ObjectParams::new([seed ^ 1; 32], ctx()).chunk_log2(k);
        let seg_params = params.clone().segmented(true);
        let portable = ObjectKey::create(&dek, &params).unwrap().with_backend(Backend::Portable).unwrap();
        let portable_seg = ObjectKey::create(&dek, &seg_params).unwrap().with_backend(Backend::Portable).unwrap();
        let reference = seal_body(&portable, &pt);
        let ct_len = reference.len();
        let mut reference_seg = vec![0u8; ct_len];
        stream::seal_segment(&portable_seg.segment_key(segment, &salt), &pt, &mut reference_seg).unwrap();
        for backend in backends() {
            let obj = ObjectKey::create(&dek, &params).unwrap().with_backend(backend).unwrap();
            prop_assert_eq!(obj.body_key().unwrap().backend(), backend);
            let body = seal_body(&obj, &pt);
            prop_assert_eq!(&body, &reference, "{} differs from portable", backend);
            // Cross-open: each backend opens what the portable one sealed, and the reverse.
            let mut out = vec![0u8; len];
            stream::open_segment(&obj.body_key().unwrap(), &reference, &mut out).unwrap();
            prop_assert_eq!(&out, &pt);
            stream::open_segment(&portable.body_key().unwrap(), &body, &mut out).unwrap();
            prop_assert_eq!(&out, &pt);

            let seg_obj = ObjectKey::create(&dek, &seg_params).unwrap().with_backend(backend).unwrap();
            let mut seg = vec![0u8; ct_len];
            stream::seal_segment(&seg_obj.segment_key(segment, &salt), &pt, &mut seg).unwrap();
            prop_assert_eq!(&seg, &reference_seg, "{} segment differs from portable", backend);

            // Chunk by chunk through the state machines as well.
            let mut dec = Decryptor::new(obj.body_key().unwrap());
            let sealed = sealed_chunk(k);
            let chunks = ct_len.div_ceil(sealed);
            for (i, ch) in reference.chunks(sealed).enumerate() {
                let mut buf = ch.to_vec();
                let n = dec.open_next(&mut buf, i + 1 == chunks).unwrap();
                prop_assert_eq!(&buf[..n], &pt[i << k..(i << k) + n]);
            }
            dec.finish().unwrap();
        }
    }
}

#[cfg(feature = "rayon")]
mod parallel {
    use super::*;
    use objseal_core::par;

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn parallel_equals_serial((k, len) in geometry(), seed in any::<u8>(), flip in proptest::option::of(any::<u64>())) {
            let pt = plaintext(len, seed);
            let object = object(k, false);
            let key = object.body_key().unwrap();
            let serial = seal_body(&object, &pt);
            let mut parallel = vec![0u8; serial.len()];
            par::seal_segment(&key, &pt, &mut parallel).unwrap();
            prop_assert_eq!(&parallel, &serial);

            // seal_chunks over the sealed layout (plaintext in each slot, room for its tag).
            let sealed = key.sealed_chunk_size();
            let mut slots = vec![0u8; serial.len()];
            for (i, slot) in slots.chunks_mut(sealed).enumerate() {
                let n = slot.len() - TAG_LEN;
                slot[..n].copy_from_slice(&pt[i * key.chunk_size()..i * key.chunk_size() + n]);
            }
            par::seal_chunks(&key, 0, &mut slots, true).unwrap();
            prop_assert_eq!(&slots, &serial);

            // Opening, possibly of a tampered body: same result, same error, both outputs zeroed on error.
            let mut body = serial.clone();
            if let Some(bit) = flip {
                let bit = bit as usize % (body.len() * 8);
                body[bit / 8] ^= 1 << (bit % 8);
            }
            let mut a = vec![0xffu8; len + 3];
            let mut b = vec![0xffu8; len + 3];
            let ra = stream::open_segment(&key, &body, &mut a);
            let rb = par::open_segment(&key, &body, &mut b);
            prop_assert_eq!(ra, rb);
            if ra.is_ok() {
                prop_assert_eq!(&a[..len], &pt[..]);
                prop_assert_eq!(&a[..len], &b[..len]);
            } else {
                prop_assert!(a.iter().all(|&x| x == 0));
                prop_assert!(b.iter().all(|&x| x == 0));
            }
            let mut compact = vec![0xffu8; len];
            let rd = par::open_chunks_to(&key, 0, &body, &mut compact, true);
            prop_assert_eq!(rd.is_ok(), ra.is_ok());
            if rd.is_err() {
                prop_assert_eq!(rd.unwrap_err(), ra.unwrap_err());
                prop_assert!(compact.iter().all(|&x| x == 0));
            } else {
                prop_assert_eq!(&compact[..], &pt[..]);
            }
            let mut in_place = body.clone();
            let rc = par::open_chunks(&key, 0, &mut in_place, true);
            prop_assert_eq!(rc.is_ok(), ra.is_ok());
            if rc.is_err() {
                prop_assert_eq!(rc.unwrap_err(), ra.unwrap_err());
                prop_assert!(in_place.iter().all(|&x| x == 0));
            } else {
                for (i, slot) in in_place.chunks(sealed).enumerate() {
                    let n = slot.len() - TAG_LEN;
                    prop_assert_eq!(&slot[..n], &pt[i * key.chunk_size()..i * key.chunk_size() + n]);
                }
            }
        }

        #[test]
        fn parallel_segments_equal_serial((k, len, cuts) in segmented_geometry()) {
            let pt = plaintext(len, 9);
            let serial = store_segmented(k, &pt, &cuts);
            let object = object(k, true);
            let mut bounds = vec![0];
            bounds.extend(cuts.iter().copied());
            bounds.push(len);
            let mut body = Vec::new();
            for (i, w) in bounds.windows(2).enumerate() {
                let key = object.segment_key(1 + 2 * i as u32, &[i as u8 ^ 0xa5; 16]);
                let mut ct = vec![0u8; ciphertext_len((w[1] - w[0]) as u64, k).unwrap() as usize];
                par::seal_segment(&key, &pt[w[0]..w[1]], &mut ct).unwrap();
                let mut back = vec![0u8; w[1] - w[0]];
                par::open_segment(&key, &ct, &mut back).unwrap();
                prop_assert_eq!(&back[..], &pt[w[0]..w[1]]);
                body.extend_from_slice(&ct);
            }
            prop_assert_eq!(body, serial.body);
        }
    }
}
