//! `io::DecryptReader` (over a seekable `Cursor`) on genuine, tampered and arbitrary bodies.
//!
//! The input chooses a plaintext, a tampering (none, truncation, a flipped bit, or bytes appended),
//! the reader's batch size, and a sequence of reads of arbitrary sizes and seeks. Invariants:
//! * no panic, whatever the bytes;
//! * every byte a read returns is the plaintext byte at the reader's position (a tampered body may
//!   yield the authentic chunks before the damage, never a wrong byte);
//! * an untampered body reads back whole; a tampered one read from the start without seeking ends in
//!   an error, never a clean EOF (seeks may legitimately skip a damaged middle chunk);
//! * `plaintext_len` / seeking give the true length for a body whose length and final chunk are
//!   intact, and an error when either was changed.
//!
//! The last mode offers the raw input bytes as a body: every read must fail.
#![no_main]

use std::io::{Cursor, Read, Seek, SeekFrom, Write};

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use objseal_core::io::{DecryptReader, EncryptWriter};
use objseal_core::{Dek, ObjectKey, ObjectParams, SegmentKey};

const CHUNK_LOG2: u8 = 12;
const CHUNK: usize = 1 << CHUNK_LOG2;
const SLOT: usize = CHUNK + 16;

fn key() -> SegmentKey {
    let params = ObjectParams::new([5; 32], [6; 32]).chunk_log2(CHUNK_LOG2);
    ObjectKey::create(&Dek::from_bytes([0x42; 32]), &params)
        .expect("valid params")
        .body_key()
        .expect("unsegmented")
}

fn run(u: &mut Unstructured<'_>) -> Result<()> {
    let mode: u8 = u.arbitrary()?;
    let batch = u.int_in_range(1..=4usize)?;
    // Bytes before the body in the cursor: the reader must seek relative to where the body starts.
    let lead = usize::from(u.arbitrary::<u8>()? % 8);

    // `tampered`: the body differs from what was sealed; `length_tampered`: so does its length or
    // its final chunk, which the seek path's length check must catch.
    let (plaintext, body, tampered, length_tampered) = if mode % 5 == 4 {
        let body: Vec<u8> = u.arbitrary()?;
        (Vec::new(), body, true, true)
    } else {
        let len = u.int_in_range(0..=5 * CHUNK + 3)?;
        let fill: u8 = u.arbitrary()?;
        let plaintext: Vec<u8> = (0..len)
            .map(|i| (i as u8).wrapping_mul(fill | 1) ^ fill)
            .collect();
        let mut writer = EncryptWriter::new(Vec::new(), key());
        writer.write_all(&plaintext).expect("write");
        let mut body = writer.finish().expect("finish");
        let final_start = (body.len() - 1) / SLOT * SLOT;
        let (tampered, length_tampered) = match mode % 5 {
            0 => (false, false),
            1 => {
                let cut = u.int_in_range(0..=body.len() - 1)?;
                body.truncate(cut);
                (true, true)
            }
            2 => {
                let at = u.int_in_range(0..=body.len() - 1)?;
                body[at] ^= 1 << (u.arbitrary::<u8>()? % 8);
                (true, at >= final_start)
            }
            _ => {
                let extra: Vec<u8> = u.arbitrary()?;
                body.extend_from_slice(&extra);
                (!extra.is_empty(), !extra.is_empty())
            }
        };
        (plaintext, body, tampered, length_tampered)
    };

    let mut stored = vec![0xeeu8; lead];
    stored.extend_from_slice(&body);
    let mut cursor = Cursor::new(stored);
    cursor.seek(SeekFrom::Start(lead as u64)).expect("seek");
    let mut reader = DecryptReader::with_batch_chunks(cursor, key(), batch);

    let mut position = 0u64;
    let mut failed = false;
    let mut clean_eof = false;
    let mut seeked = false;
    let steps = u.int_in_range(1..=16u8)?;
    for _ in 0..steps {
        match u.arbitrary::<u8>()? % 4 {
            0 | 1 => {
                let mut buf = vec![0u8; u.int_in_range(0..=2 * CHUNK + 1)?];
                match reader.read(&mut buf) {
                    Ok(n) => {
                        let at = position as usize;
                        if n > 0 {
                            assert!(at + n <= plaintext.len(), "read past the plaintext");
                            assert_eq!(&buf[..n], &plaintext[at..at + n], "wrong bytes at {at}");
                        }
                        position += n as u64;
                        if n == 0 && !buf.is_empty() {
                            clean_eof = true;
                            break;
                        }
                    }
                    Err(_) => {
                        failed = true;
                        break;
                    }
                }
            }
            2 => {
                let target = u.int_in_range(0..=plaintext.len() as u64 + 2)?;
                match reader.seek(SeekFrom::Start(target)) {
                    Ok(p) => {
                        assert!(!length_tampered, "seek accepted a body of the wrong length");
                        assert_eq!(p, target);
                        position = target;
                        seeked = true;
                    }
                    Err(_) => {
                        failed = true;
                        break;
                    }
                }
            }
            _ => match reader.plaintext_len() {
                Ok(n) => {
                    assert!(!length_tampered, "tampered body reports a length");
                    assert_eq!(n, plaintext.len() as u64);
                }
                Err(_) => {
                    failed = true;
                    break;
                }
            },
        }
    }
    if !failed && !clean_eof {
        // Drain: the rest must be the rest of the plaintext, or an error.
        let mut rest = Vec::new();
        match reader.read_to_end(&mut rest) {
            Ok(_) => {
                let at = (position as usize).min(plaintext.len());
                assert_eq!(&rest[..], &plaintext[at..], "drained the wrong bytes");
                clean_eof = true;
            }
            Err(_) => failed = true,
        }
    }
    if !tampered {
        assert!(!failed, "genuine body failed to read");
    } else if !seeked {
        // Read from the start without skipping anything: the damage must be met.
        assert!(!clean_eof, "tampered body read to a clean end");
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let _ = run(&mut Unstructured::new(data));
});
