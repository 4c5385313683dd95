//! The `std::io` adapters: `EncryptWriter` writes exactly what `seal_segment` does, and
//! `DecryptReader` hands out only verified plaintext — the authentic prefix before a tampered chunk,
//! then an error; a stream missing its final chunk (or empty) is an error, not a short success; and
//! seeking reads the right bytes, with the final chunk verified first.
#![cfg(feature = "std")]

mod common;

use std::io::{self, Cursor, ErrorKind, Read, Seek, SeekFrom, Write};

use common::*;
use objseal_core::Error;
use objseal_core::io::{DecryptReader, EncryptWriter};
use proptest::prelude::*;

const K: u8 = 12;
const C: usize = 1 << K;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 48,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// The objseal error inside an `io::Error`.
fn inner(e: &io::Error) -> Option<Error> {
    e.get_ref()?.downcast_ref::<Error>().copied()
}

/// Reads everything, returning what was read before the first error and that error.
fn read_all<R: Read>(r: &mut R, step: usize) -> (Vec<u8>, Option<io::Error>) {
    let mut out = Vec::new();
    let mut buf = vec![0u8; step.max(1)];
    loop {
        match r.read(&mut buf) {
            Ok(0) => return (out, None),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) => return (out, Some(e)),
        }
    }
}

fn key() -> objseal_core::SegmentKey {
    object(K, false).body_key().unwrap()
}

/// A reader that serves at most `max` bytes per call, and fails every `fail_every`-th call with a
/// transient error (or `Interrupted`), which the caller may retry.
struct Flaky<'a> {
    data: &'a [u8],
    pos: usize,
    max: usize,
    calls: usize,
    fail_every: usize,
}

impl Read for Flaky<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        self.calls += 1;
        if self.fail_every > 0 && self.calls.is_multiple_of(self.fail_every) {
            return Err(if self.calls.is_multiple_of(2 * self.fail_every) {
                io::Error::new(ErrorKind::Interrupted, "interrupted")
            } else {
                io::Error::new(ErrorKind::TimedOut, "transient")
            });
        }
        let n = out.len().min(self.max).min(self.data.len() - self.pos);
        out[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn writer_and_reader_roundtrip(
        k in 12u8..=13,
        full in 0usize..6,
        tail in 0usize..9000,
        wbatch in 1usize..5,
        rbatch in 1usize..5,
        writes in proptest::collection::vec(1usize..7000, 1..8),
        read_step in 1usize..9000,
    ) {
        let c = 1usize << k;
        let len = full * c + tail % (c + 1);
        let pt = plaintext(len, 7);
        let object = object(k, false);
        let mut w = EncryptWriter::with_batch_chunks(Vec::new(), object.body_key().unwrap(), wbatch);
        let mut at = 0;
        let mut i = 0;
        while at < len {
            let n = writes[i % writes.len()].min(len - at);
            w.write_all(&pt[at..at + n]).unwrap();
            at += n;
            i += 1;
        }
        let sealed = w.finish().unwrap();
        prop_assert_eq!(&sealed, &seal_body(&object, &pt));

        let mut r = DecryptReader::with_batch_chunks(&sealed[..], object.body_key().unwrap(), rbatch);
        let (out, err) = read_all(&mut r, read_step);
        prop_assert!(err.is_none(), "{:?}", err);
        prop_assert_eq!(out, pt.clone());

        // Short reads, `Interrupted` and transient errors from the inner reader: retrying gets it all.
        let mut r = DecryptReader::with_batch_chunks(
            Flaky { data: &sealed, pos: 0, max: read_step, calls: 0, fail_every: 3 },
            object.body_key().unwrap(),
            rbatch,
        );
        let mut got = Vec::new();
        let mut buf = vec![0u8; 5000];
        loop {
            match r.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::TimedOut => continue,
                Err(e) => panic!("unexpected error {e}"),
            }
        }
        prop_assert_eq!(got, pt);
    }

    #[test]
    fn seeking_reads_the_right_bytes(
        full in 0usize..7,
        tail in 0usize..=C,
        prefix in 0usize..300,
        batch in 1usize..4,
        ops in proptest::collection::vec((0u8..3, any::<u64>(), 0usize..10_000), 1..8),
    ) {
        let len = full * C + tail;
        let pt = plaintext(len, 8);
        let body = seal_body(&object(K, false), &pt);
        // The body sits after a container prefix; the reader starts positioned at the body.
        let mut file = vec![0xeeu8; prefix];
        file.extend_from_slice(&body);
        let mut cursor = Cursor::new(file);
        cursor.set_position(prefix as u64);
        let mut r = DecryptReader::with_batch_chunks(cursor, key(), batch);
        prop_assert_eq!(r.plaintext_len().unwrap(), len as u64);
        let mut pos = 0u64;
        for (how, raw, n) in ops {
            let target = match how {
                0 => {
                    let t = raw % (len as u64 + 10);
                    prop_assert_eq!(r.seek(SeekFrom::Start(t)).unwrap(), t);
                    t
                }
                1 => {
                    let back = (raw % (len as u64 + 1)) as i64;
                    prop_assert_eq!(r.seek(SeekFrom::End(-back)).unwrap(), len as u64 - back as u64);
                    len as u64 - back as u64
                }
                _ => {
                    let d = (raw % (len as u64 + 1)) as i64 - pos.min(len as u64) as i64;
                    let t = (pos as i64 + d) as u64;
                    prop_assert_eq!(r.seek(SeekFrom::Current(d)).unwrap(), t);
                    t
                }
            };
            let mut buf = vec![0u8; n];
            let mut got = 0;
            while got < n {
                let m = r.read(&mut buf[got..]).unwrap();
                if m == 0 { break; }
                got += m;
            }
            let start = (target as usize).min(len);
            let want = &pt[start..(start + n).min(len)];
            prop_assert_eq!(&buf[..got], want);
            pos = target + got as u64;
        }
        // Seeking before the start is an error.
        prop_assert_eq!(r.seek(SeekFrom::End(-(len as i64) - 1)).unwrap_err().kind(), ErrorKind::InvalidInput);
    }
}

/// Eight chunks, the last partial; chunk `bad` has a flipped bit.
fn tampered(bad: usize) -> (Vec<u8>, Vec<u8>) {
    let pt = plaintext(7 * C + 1234, 9);
    let mut body = seal_body(&object(K, false), &pt);
    body[bad * sealed_chunk(K) + 77] ^= 4;
    (pt, body)
}

#[test]
fn reader_releases_only_the_authentic_prefix() {
    for batch in [1usize, 4] {
        for bad in 0..8 {
            for step in [1usize, 1000, C, 3 * C + 5, 64 * C] {
                let (pt, body) = tampered(bad);
                let mut r = DecryptReader::with_batch_chunks(&body[..], key(), batch);
                let (out, err) = read_all(&mut r, step);
                let err = err.expect("a tampered stream must fail");
                assert_eq!(err.kind(), ErrorKind::InvalidData);
                assert_eq!(
                    inner(&err),
                    Some(Error::ChunkAuth {
                        segment: 0,
                        chunk: bad as u64
                    })
                );
                // Exactly the chunks of the batches before the bad one's batch, all authentic.
                let released = bad / batch * batch * C;
                assert_eq!(out.len(), released, "batch {batch}, bad {bad}, step {step}");
                assert_eq!(&out[..], &pt[..released]);
                // The failure is sticky, and seeking does not get around it.
                let again = r.read(&mut [0u8; 10]).unwrap_err();
                assert_eq!(inner(&again), inner(&err));
            }
        }
    }
}

#[test]
fn failed_reader_does_not_seek_past_the_damage() {
    let (_, body) = tampered(2);
    let mut r = DecryptReader::with_batch_chunks(Cursor::new(body), key(), 1);
    let (_, err) = read_all(&mut r, 100_000);
    assert!(err.is_some());
    assert!(r.seek(SeekFrom::Start(6 * C as u64)).is_err());
    assert!(r.read(&mut [0u8; 10]).is_err());
}

#[test]
fn missing_final_chunk_is_an_error_not_a_short_read() {
    let pt = plaintext(7 * C + 1234, 10);
    let body = seal_body(&object(K, false), &pt);
    let sealed = sealed_chunk(K);
    for batch in [1usize, 2, 4, 7, 8, 9] {
        for keep in 0..8 {
            let cut = &body[..keep * sealed];
            let mut r = DecryptReader::with_batch_chunks(cut, key(), batch);
            let (out, err) = read_all(&mut r, 3000);
            let err = err.expect("truncated stream read as a success");
            assert_eq!(
                err.kind(),
                ErrorKind::UnexpectedEof,
                "batch {batch}, keep {keep}"
            );
            assert_eq!(inner(&err), Some(Error::Truncated));
            assert_eq!(&out[..], &pt[..out.len()]);
            assert!(out.len() < keep * C || keep == 0);
            // Sticky as well: the same error again.
            let again = r.read(&mut [0u8; 10]).unwrap_err();
            assert_eq!(again.kind(), ErrorKind::UnexpectedEof);
            assert_eq!(inner(&again), Some(Error::Truncated));
            // read_to_end agrees.
            let mut r = DecryptReader::with_batch_chunks(cut, key(), batch);
            assert_eq!(
                r.read_to_end(&mut Vec::new()).unwrap_err().kind(),
                ErrorKind::UnexpectedEof
            );
        }
        // Cut inside the final chunk: an error too (of either kind), never the bytes before it alone.
        for cut in [
            body.len() - 1,
            body.len() - 16,
            body.len() - 17,
            7 * sealed + 3,
        ] {
            let mut r = DecryptReader::with_batch_chunks(&body[..cut], key(), batch);
            assert!(r.read_to_end(&mut Vec::new()).is_err(), "cut at {cut}");
        }
    }
}

#[test]
fn empty_input_is_an_error() {
    for batch in [1usize, 4] {
        let mut r = DecryptReader::with_batch_chunks(&[][..], key(), batch);
        let err = r.read(&mut [0u8; 16]).unwrap_err();
        assert_eq!(inner(&err), Some(Error::Truncated));
        let mut r = DecryptReader::with_batch_chunks(Cursor::new(Vec::new()), key(), batch);
        assert!(r.seek(SeekFrom::Start(0)).is_err());
    }
    // The empty plaintext, by contrast, is one sealed (tag-only) chunk.
    let body = seal_body(&object(K, false), &[]);
    assert_eq!(body.len(), 16);
    let mut r = DecryptReader::new(&body[..], key());
    let mut out = Vec::new();
    r.read_to_end(&mut out).unwrap();
    assert!(out.is_empty());
}

#[test]
fn seeking_a_truncated_stream_fails() {
    let pt = plaintext(5 * C + 10, 11);
    let body = seal_body(&object(K, false), &pt);
    let sealed = sealed_chunk(K);
    for keep in 1..6 {
        for pos in [
            SeekFrom::Start(0),
            SeekFrom::End(0),
            SeekFrom::End(-1),
            SeekFrom::Current(5),
        ] {
            let mut r = DecryptReader::with_batch_chunks(
                Cursor::new(body[..keep * sealed].to_vec()),
                key(),
                2,
            );
            let err = r.seek(pos).unwrap_err();
            assert_eq!(inner(&err), Some(Error::Truncated), "keep {keep}, {pos:?}");
        }
        let mut r = DecryptReader::new(Cursor::new(body[..keep * sealed].to_vec()), key());
        assert_eq!(
            inner(&r.plaintext_len().unwrap_err()),
            Some(Error::Truncated)
        );
    }
    // Extended with a copy of a genuine chunk: the "final" chunk does not verify.
    let mut extended = body.clone();
    extended.extend_from_slice(&body[..sealed]);
    let mut r = DecryptReader::new(Cursor::new(extended), key());
    assert!(r.seek(SeekFrom::End(-1)).is_err());
    // The intact stream: SeekFrom::End reads the tail.
    let mut r = DecryptReader::new(Cursor::new(body), key());
    assert_eq!(r.seek(SeekFrom::End(-10)).unwrap(), pt.len() as u64 - 10);
    let mut tail = Vec::new();
    r.read_to_end(&mut tail).unwrap();
    assert_eq!(&tail[..], &pt[pt.len() - 10..]);
    assert_eq!(r.seek(SeekFrom::End(5)).unwrap(), pt.len() as u64 + 5);
    assert_eq!(r.read(&mut [0u8; 4]).unwrap(), 0);
}

/// A sink that fails one chosen `write` call without taking any bytes, then works again.
struct FailOnce {
    out: Vec<u8>,
    calls: usize,
    fail_at: usize,
}

impl Write for FailOnce {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.calls += 1;
        if self.calls == self.fail_at {
            return Err(io::Error::other("disk full"));
        }
        self.out.extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A write error in the middle of a stream must not lead to plaintext in the sink if the caller
/// carries on writing: the writer either refuses to continue or produces a correct stream.
#[test]
fn writer_never_emits_plaintext_after_a_failed_write() {
    let pt = plaintext(6 * C + 99, 12);
    for batch in [1usize, 2] {
        for fail_at in 1..4 {
            let sink = FailOnce {
                out: Vec::new(),
                calls: 0,
                fail_at,
            };
            let mut w = EncryptWriter::with_batch_chunks(sink, key(), batch);
            let mut failed = false;
            for part in pt.chunks(C / 2) {
                // A caller that retries each failed write once.
                if w.write_all(part).is_err() {
                    failed = true;
                    let _ = w.write_all(part);
                }
            }
            assert!(failed, "the sink never failed (fail_at {fail_at})");
            let out = match w.finish() {
                Ok(sink) => sink.out,
                Err(_) => continue,
            };
            for window in pt.chunks(C) {
                let needle = &window[..64.min(window.len())];
                assert!(
                    !out.windows(needle.len()).any(|w| w == needle),
                    "plaintext written to the sink (batch {batch}, fail_at {fail_at})"
                );
            }
        }
    }
}
