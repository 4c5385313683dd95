//! Arbitrary plaintext, arbitrary split, seal then open: the plaintext comes back.
//!
//! The input chooses the plaintext length (up to 6 chunks of 4 KiB), its bytes, and how each chunk
//! goes through the state machines: `Encryptor::seal_next_in_place`, `Encryptor::seal_next` (detached
//! tag), or a batch reserved with `Encryptor::reserve` and sealed by `par::seal_chunks`. The sealed
//! stream must equal `stream::seal_segment`'s, the `Decryptor` must give the plaintext back chunk by
//! chunk and `finish` cleanly, and `io::EncryptWriter` fed writes of arbitrary sizes must produce the
//! same bytes.
#![no_main]

use std::io::Write;

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use objseal_core::gcm::TAG_LEN;
use objseal_core::io::EncryptWriter;
use objseal_core::range::{chunk_count, ciphertext_len};
use objseal_core::stream::{self, Decryptor, Encryptor};
use objseal_core::{Dek, ObjectKey, ObjectParams, SegmentKey};

const CHUNK_LOG2: u8 = 12;
const CHUNK: usize = 1 << CHUNK_LOG2;
const SLOT: usize = CHUNK + TAG_LEN;

fn key() -> SegmentKey {
    let params = ObjectParams::new([3; 32], [4; 32]).chunk_log2(CHUNK_LOG2);
    ObjectKey::create(&Dek::from_bytes([0x42; 32]), &params)
        .expect("valid params")
        .body_key()
        .expect("unsegmented")
}

fn run(u: &mut Unstructured<'_>) -> Result<()> {
    let len = u.int_in_range(0..=6 * CHUNK + 7)?;
    let seed: Vec<u8> = u.arbitrary()?;
    let plaintext: Vec<u8> = if seed.is_empty() {
        vec![0; len]
    } else {
        seed.iter().copied().cycle().take(len).collect()
    };
    let chunks = chunk_count(len as u64, CHUNK_LOG2) as usize;
    let ct_len = ciphertext_len(len as u64, CHUNK_LOG2).expect("small") as usize;

    let mut reference = vec![0u8; ct_len];
    stream::seal_segment(&key(), &plaintext, &mut reference).expect("seal_segment");

    // Seal through the state machine, in the layout `pt ‖ tag` per slot.
    let mut sealed = vec![0u8; ct_len];
    let mut enc = Encryptor::new(key());
    let mut index = 0usize;
    while index < chunks {
        let how: u8 = u.arbitrary()?;
        match how % 3 {
            0 => {
                let pt = slot_range(index, len);
                let slot = &mut sealed[index * SLOT..];
                slot[..pt.len()].copy_from_slice(&plaintext[pt.clone()]);
                let last = index + 1 == chunks;
                let n = enc
                    .seal_next_in_place(slot, pt.len(), last)
                    .expect("seal_next_in_place");
                assert_eq!(n, pt.len() + TAG_LEN);
                index += 1;
            }
            1 => {
                let pt = slot_range(index, len);
                let mut buf = plaintext[pt.clone()].to_vec();
                let tag = enc
                    .seal_next(&mut buf, index + 1 == chunks)
                    .expect("seal_next");
                let at = index * SLOT;
                sealed[at..at + buf.len()].copy_from_slice(&buf);
                sealed[at + buf.len()..at + buf.len() + TAG_LEN].copy_from_slice(&tag);
                index += 1;
            }
            _ => {
                let count = u.int_in_range(1..=chunks - index)?;
                let last = index + count == chunks;
                let first = enc.reserve(count as u64, last).expect("reserve");
                assert_eq!(first, index as u64);
                let start = index * SLOT;
                let end = ((index + count) * SLOT).min(ct_len);
                for i in index..index + count {
                    let pt = slot_range(i, len);
                    sealed[i * SLOT..i * SLOT + pt.len()].copy_from_slice(&plaintext[pt]);
                }
                batch_seal(&enc, index, &mut sealed[start..end], last);
                index += count;
            }
        }
    }
    assert!(enc.is_finished());
    let mut spare = [0u8; TAG_LEN + 1];
    assert!(
        enc.seal_next_in_place(&mut spare, 1, true).is_err(),
        "sealed past the end"
    );
    assert_eq!(sealed, reference, "state machine and seal_segment disagree");

    // Open chunk by chunk.
    let mut dec = Decryptor::new(key());
    let mut opened = Vec::with_capacity(len);
    for (i, slot) in sealed.chunks_mut(SLOT).enumerate() {
        assert!(dec.finish().is_err(), "finished before the final chunk");
        let n = dec.open_next(slot, i + 1 == chunks).expect("open_next");
        opened.extend_from_slice(&slot[..n]);
    }
    dec.finish().expect("finish");
    assert_eq!(opened, plaintext);

    // The io writer, fed writes of arbitrary sizes.
    let mut writer = EncryptWriter::new(Vec::new(), key());
    let mut at = 0;
    while at < len {
        let n = u.int_in_range(0..=len - at)?;
        writer.write_all(&plaintext[at..at + n]).expect("write");
        at += n;
        if n == 0 && u.is_empty() {
            writer.write_all(&plaintext[at..]).expect("write");
            at = len;
        }
    }
    let written = writer.finish().expect("finish");
    assert_eq!(
        written, reference,
        "EncryptWriter and seal_segment disagree"
    );
    Ok(())
}

/// Plaintext byte range of chunk `i`.
fn slot_range(i: usize, len: usize) -> std::ops::Range<usize> {
    (i * CHUNK).min(len)..((i + 1) * CHUNK).min(len)
}

#[cfg(feature = "par")]
fn batch_seal(enc: &Encryptor, first: usize, buf: &mut [u8], last: bool) {
    objseal_core::par::seal_chunks(enc.key(), first as u64, buf, last).expect("par::seal_chunks");
}

#[cfg(not(feature = "par"))]
fn batch_seal(enc: &Encryptor, first: usize, buf: &mut [u8], last: bool) {
    let slots = buf.len().div_ceil(SLOT);
    for (i, slot) in buf.chunks_mut(SLOT).enumerate() {
        let pt_len = slot.len() - TAG_LEN;
        enc.key()
            .seal_chunk_in_place((first + i) as u64, last && i + 1 == slots, slot, pt_len)
            .expect("seal_chunk_in_place");
    }
}

fuzz_target!(|data: &[u8]| {
    let _ = run(&mut Unstructured::new(data));
});
