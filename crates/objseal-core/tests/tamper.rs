//! No plaintext of a chunk whose tag has not verified is ever handed out: a tampered chunk in the
//! middle of a stream fails, and the buffers it was opened in hold only zeros afterwards.

mod common;

use common::*;
use objseal_core::Error;
use objseal_core::range::{ByteRange, open_span_in_place, plan_range};
use objseal_core::stream::{self, Decryptor};

const K: u8 = 12;
const C: usize = 1 << K;

/// Eight chunks, the last one partial; chunk `bad` has one ciphertext (or tag) bit flipped.
fn tampered(bad: usize, in_tag: bool) -> (Vec<u8>, Vec<u8>) {
    let pt = plaintext(7 * C + 1000, 0x33);
    let object = object(K, false);
    let mut body = seal_body(&object, &pt);
    let sealed = sealed_chunk(K);
    let end = ((bad + 1) * sealed).min(body.len());
    let at = if in_tag { end - 13 } else { bad * sealed + 100 };
    body[at] ^= 0x20;
    (pt, body)
}

#[test]
fn decryptor_zeroes_the_failed_chunk_and_stays_failed() {
    for in_tag in [false, true] {
        for bad in [1usize, 3, 6] {
            let (pt, body) = tampered(bad, in_tag);
            let object = object(K, false);
            let sealed = sealed_chunk(K);
            let mut dec = Decryptor::new(object.body_key().unwrap());
            let chunks: Vec<&[u8]> = body.chunks(sealed).collect();
            for (i, ch) in chunks.iter().enumerate() {
                let mut buf = ch.to_vec();
                let r = dec.open_next(&mut buf, i + 1 == chunks.len());
                if i < bad {
                    assert_eq!(r.unwrap(), C);
                    assert_eq!(&buf[..C], &pt[i * C..(i + 1) * C]);
                } else if i == bad {
                    assert_eq!(
                        r,
                        Err(Error::ChunkAuth {
                            segment: 0,
                            chunk: bad as u64
                        })
                    );
                    assert!(buf.iter().all(|&b| b == 0), "failed chunk not zeroed");
                } else {
                    // Poisoned: later chunks, genuine as they are, are not opened either.
                    assert!(r.is_err());
                    assert!(buf.iter().all(|&b| b == 0));
                }
            }
            assert_eq!(dec.finish(), Err(Error::Truncated));
        }
    }
}

#[test]
fn open_segment_zeroes_the_whole_output() {
    for in_tag in [false, true] {
        for bad in 0..8 {
            let (_, body) = tampered(bad, in_tag);
            let key = object(K, false).body_key().unwrap();
            let mut out = vec![0xaau8; body.len()];
            let r = stream::open_segment(&key, &body, &mut out);
            assert_eq!(
                r,
                Err(Error::ChunkAuth {
                    segment: 0,
                    chunk: bad as u64
                })
            );
            assert!(
                out.iter().all(|&b| b == 0),
                "open_segment leaked bytes (bad chunk {bad})"
            );
        }
    }
}

#[test]
fn open_segment_zeroes_output_on_every_error() {
    let key = object(K, false).body_key().unwrap();
    let body = seal_body(&object(K, false), &plaintext(3 * C, 1));
    // Impossible length, too-small output, cut at a chunk boundary.
    for (ct, out_len) in [
        (&body[..5], 64),
        (&body[..], 10),
        (&body[..2 * sealed_chunk(K)], 3 * C),
    ] {
        let mut out = vec![0x55u8; out_len];
        assert!(stream::open_segment(&key, ct, &mut out).is_err());
        assert!(out.iter().all(|&b| b == 0));
    }
}

#[test]
fn span_open_zeroes_the_buffer() {
    let pt = plaintext(7 * C + 1000, 0x33);
    for bad in 0..8 {
        let (_, body) = tampered(bad, false);
        let key = object(K, false).body_key().unwrap();
        let span = plan_range(pt.len() as u64, K, ByteRange::From(0)).unwrap();
        let mut part = body[span.ciphertext.start as usize..span.ciphertext.end as usize].to_vec();
        let r = open_span_in_place(&key, &span, &mut part);
        assert_eq!(
            r,
            Err(Error::ChunkAuth {
                segment: 0,
                chunk: bad as u64
            })
        );
        assert!(part.iter().all(|&b| b == 0));
    }
}

#[cfg(feature = "rayon")]
#[test]
fn parallel_open_zeroes_everything() {
    use objseal_core::par;
    for bad in 0..8 {
        let (_, body) = tampered(bad, true);
        let key = object(K, false).body_key().unwrap();
        let mut out = vec![0xaau8; body.len()];
        assert_eq!(
            par::open_segment(&key, &body, &mut out),
            Err(Error::ChunkAuth {
                segment: 0,
                chunk: bad as u64
            })
        );
        assert!(out.iter().all(|&b| b == 0));
        let mut in_place = body.clone();
        assert!(par::open_chunks(&key, 0, &mut in_place, true).is_err());
        assert!(in_place.iter().all(|&b| b == 0));
    }
}
