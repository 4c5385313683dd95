//! Each way an object can be wrong is reported as the right `Error`.

mod common;

use common::*;
use objseal_core::gcm::TAG_LEN;
use objseal_core::range::ciphertext_len;
use objseal_core::stream::{self, Decryptor, Encryptor};
use objseal_core::{Dek, Error, Header, ObjectKey, context_hash};

const K: u8 = 12;
const C: usize = 1 << K;

#[test]
fn cut_at_a_chunk_boundary_is_truncated() {
    let object = object(K, false);
    let key = object.body_key().unwrap();
    let sealed = sealed_chunk(K);
    for len in [C + 1, 2 * C, 3 * C + 7, 5 * C] {
        let body = seal_body(&object, &plaintext(len, 1));
        let chunks = body.len().div_ceil(sealed);
        for keep in 1..chunks {
            let mut out = vec![0u8; len];
            assert_eq!(
                stream::open_segment(&key, &body[..keep * sealed], &mut out),
                Err(Error::Truncated),
                "len {len}, {keep} chunks kept"
            );
            assert_eq!(
                open_with_decryptor(&object, &body[..keep * sealed]),
                Err(Error::Truncated)
            );
        }
    }
}

#[test]
fn early_final_chunk_is_trailing_data() {
    // Chunk 1 of 3 sealed with last=true, then a chunk 2 after it.
    let key = object(K, false).body_key().unwrap();
    let pt = plaintext(2 * C + 100, 2);
    let mut body = Vec::new();
    for (i, last) in [(0usize, false), (1, true), (2, true)] {
        let part = &pt[i * C..((i + 1) * C).min(pt.len())];
        let mut buf = part.to_vec();
        buf.resize(part.len() + TAG_LEN, 0);
        key.seal_chunk_in_place(i as u64, last, &mut buf, part.len())
            .unwrap();
        body.extend_from_slice(&buf);
    }
    let mut out = vec![0u8; pt.len()];
    assert_eq!(
        stream::open_segment(&key, &body, &mut out),
        Err(Error::TrailingData)
    );
    assert!(out.iter().all(|&b| b == 0));

    // The state machine agrees, and a genuine stream with bytes after its final chunk is refused.
    let mut dec = Decryptor::new(object(K, false).body_key().unwrap());
    let sealed = sealed_chunk(K);
    let mut c0 = body[..sealed].to_vec();
    dec.open_next(&mut c0, false).unwrap();
    let mut c1 = body[sealed..2 * sealed].to_vec();
    assert_eq!(dec.open_next(&mut c1, false), Err(Error::TrailingData));

    let mut enc = Encryptor::new(object(K, false).body_key().unwrap());
    let mut only = vec![1u8; C + TAG_LEN];
    enc.seal_next_in_place(&mut only, C, true).unwrap();
    assert_eq!(
        enc.seal_next_in_place(&mut vec![0u8; C + TAG_LEN], C, false),
        Err(Error::StreamFinished)
    );
}

#[test]
fn flipped_bit_is_chunk_auth() {
    let object = object(K, false);
    let key = object.body_key().unwrap();
    let body = seal_body(&object, &plaintext(3 * C + 9, 3));
    let sealed = sealed_chunk(K);
    for (chunk, offset) in [(0usize, 0usize), (1, 5), (1, C + 15), (3, 0), (3, 9 + 15)] {
        let mut bad = body.clone();
        bad[chunk * sealed + offset] ^= 0x80;
        let mut out = vec![0u8; bad.len()];
        assert_eq!(
            stream::open_segment(&key, &bad, &mut out),
            Err(Error::ChunkAuth {
                segment: 0,
                chunk: chunk as u64
            })
        );
    }
    // In a segment, the error names the segment number.
    let seg_obj = common::object(K, true);
    let seg = seg_obj.segment_key(7, &[1; 16]);
    let mut ct = vec![0u8; ciphertext_len(100, K).unwrap() as usize];
    stream::seal_segment(&seg, &[9u8; 100], &mut ct).unwrap();
    ct[0] ^= 1;
    assert_eq!(
        stream::open_segment(&seg, &ct, &mut [0u8; 100]),
        Err(Error::ChunkAuth {
            segment: 7,
            chunk: 0
        })
    );
}

#[test]
fn wrong_dek_is_header_auth() {
    let header = Header::parse(&object(K, false).header().to_bytes()).unwrap();
    assert!(ObjectKey::open(&dek(), &header).is_ok());
    for b in [0u8, 1, 0x43, 0xff] {
        let wrong = Dek::from_bytes([b; 32]);
        assert_eq!(
            ObjectKey::open(&wrong, &header).unwrap_err(),
            Error::HeaderAuth
        );
        assert_eq!(
            ObjectKey::open_with_context(&wrong, &header, &ctx()).unwrap_err(),
            Error::HeaderAuth
        );
    }
    // A DEK differing in one bit.
    let mut near = DEK;
    near[31] ^= 1;
    assert_eq!(
        ObjectKey::open(&Dek::from_bytes(near), &header).unwrap_err(),
        Error::HeaderAuth
    );
}

#[test]
fn wrong_context_is_header_auth() {
    let header = object(K, false).header().clone();
    assert!(ObjectKey::open_with_context(&dek(), &header, &ctx()).is_ok());
    for other in [
        context_hash(&[("bucket", "b"), ("key", "K")]).unwrap(),
        context_hash(&[("bucket", "b")]).unwrap(),
        context_hash(&[("bucket", "b"), ("key", "k"), ("x", "")]).unwrap(),
        objseal_core::empty_context_hash(),
    ] {
        assert_eq!(
            ObjectKey::open_with_context(&dek(), &header, &other).unwrap_err(),
            Error::HeaderAuth
        );
    }
    // Rewriting the context hash in the header itself breaks the commitment tag.
    let mut forged = header.clone();
    forged.ctx_hash = objseal_core::empty_context_hash();
    assert_eq!(
        ObjectKey::open(&dek(), &forged).unwrap_err(),
        Error::HeaderAuth
    );
    assert_eq!(
        ObjectKey::open_with_context(&dek(), &forged, &objseal_core::empty_context_hash())
            .unwrap_err(),
        Error::HeaderAuth
    );
}

#[test]
fn other_length_errors() {
    let object = object(K, false);
    let key = object.body_key().unwrap();
    let body = seal_body(&object, &plaintext(C + 50, 4));
    // Cut inside the final chunk's tag: no plaintext length maps to it.
    assert_eq!(
        stream::open_segment(&key, &body[..body.len() - 55], &mut vec![0u8; body.len()]),
        Err(Error::BadLength)
    );
    assert_eq!(
        stream::open_segment(&key, &[], &mut []),
        Err(Error::BadLength)
    );
    assert_eq!(
        stream::open_segment(&key, &body, &mut [0u8; 10]),
        Err(Error::BufferTooSmall { needed: C + 50 })
    );
    // The body key of a segmented object does not exist.
    assert_eq!(
        common::object(K, true).body_key().unwrap_err(),
        Error::BadFlags(1)
    );
}
