//! The body of `objseal encrypt` and `objseal decrypt` for a regular file: reading, the crypto and
//! writing overlap, and no byte is copied in user space.
//!
//! The serial paths ([`objseal_core::io::EncryptWriter`], [`objseal_core::io::DecryptReader`]) read
//! into a copy buffer, copy into their batch, seal or open the batch on every core, then write it:
//! for a large file on a fast disk or tmpfs the copies and the system calls run one after the other
//! on one thread, and the job takes longer than `cp`. Here a reader thread reads the file straight
//! into the chunk slots of a batch buffer (the sealed layout: each chunk followed by its tag), the
//! calling thread seals or opens the batch in place with [`par::seal_chunks`] / [`par::open_chunks`],
//! and a writer thread writes it out, with a few batches in flight; the job takes about as long as its
//! slowest stage.
//!
//! The output is byte for byte what the serial paths write (the tests compare them), and decryption
//! keeps their guarantees: a batch is written only once every chunk in it has verified (a failed batch
//! is wiped by `open_chunks`), the last chunk must carry the final flag, and a stream that ends early
//! or carries data after its final chunk is an error. Batches that hold plaintext are wiped when
//! dropped ([`Zeroizing`]).

use std::io::{self, Read, Write};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use anyhow::{Context, Result, anyhow};
use objseal_core::Error;
use objseal_core::gcm::TAG_LEN;
use objseal_core::par;
use objseal_core::seal::SegmentKey;
use zeroize::Zeroizing;

use crate::crypt::read_full;

/// Plaintext bytes per batch (rounded to whole chunks, at least one): 64 chunks of 64 KiB, four per
/// worker on sixteen cores.
const BATCH_BYTES: usize = 4 << 20;
/// Batches queued between stages. With the one each stage works on, the one the reader holds back and
/// the spares, at most about eight batches (32 MiB) exist at once.
const DEPTH: usize = 1;

type Buffer = Zeroizing<Vec<u8>>;

/// Which way the pipeline runs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    /// Plaintext in (a chunk per slot, the tag room left free), ciphertext out.
    Seal,
    /// Ciphertext in (a sealed chunk per slot), plaintext out (each slot without its tag).
    Open,
}

/// A batch read from the input: slots in the sealed layout.
struct Batch {
    buf: Buffer,
    /// Whether the batch ends the stream (its last slot is the final chunk).
    last: bool,
}

/// Seals everything `input` holds, as chunks `0..` of `key`, into `output`. Returns the plaintext
/// length.
pub fn seal_file<R, W>(key: &SegmentKey, input: &mut R, output: &mut W) -> Result<u64>
where
    R: Read + Send + ?Sized,
    W: Write + Send + ?Sized,
{
    run(Direction::Seal, key, input, output)
}

/// Opens the sealed body in `input` (chunks `0..` of `key`, up to the end of the input) into
/// `output`. Returns the plaintext length. Data errors come back as [`Error`]s in the chain.
pub fn open_file<R, W>(key: &SegmentKey, input: &mut R, output: &mut W) -> Result<u64>
where
    R: Read + Send + ?Sized,
    W: Write + Send + ?Sized,
{
    run(Direction::Open, key, input, output)
}

fn run<R, W>(dir: Direction, key: &SegmentKey, input: &mut R, output: &mut W) -> Result<u64>
where
    R: Read + Send + ?Sized,
    W: Write + Send + ?Sized,
{
    let slot_len = key.sealed_chunk_size();
    let slots = (BATCH_BYTES / key.chunk_size()).max(1);
    std::thread::scope(|scope| {
        let (read_tx, read_rx) = sync_channel::<io::Result<Batch>>(DEPTH);
        let (free_tx, free_rx) = sync_channel::<Buffer>(DEPTH + 2);
        let (write_tx, write_rx) = sync_channel::<Buffer>(DEPTH);
        let reader =
            scope.spawn(move || read_batches(dir, input, slot_len, slots, read_tx, free_rx));
        let writer = scope.spawn(move || write_batches(dir, output, slot_len, write_rx, free_tx));

        let crypted = crypt_batches(dir, key, read_rx, write_tx);
        let read = reader
            .join()
            .map_err(|_| anyhow!("the input thread panicked"))?;
        let written = writer
            .join()
            .map_err(|_| anyhow!("the output thread panicked"))?;
        // The first failure explains the others ("the output was closed" follows a write error).
        written.context("writing the output")?;
        read.context("reading the input")?;
        crypted
    })
}

/// The calling thread's stage: seal or open each batch in place on every core, hand it on.
fn crypt_batches(
    dir: Direction,
    key: &SegmentKey,
    batches: Receiver<io::Result<Batch>>,
    out: SyncSender<Buffer>,
) -> Result<u64> {
    let mut next_chunk = 0u64;
    let mut total = 0u64;
    for batch in batches {
        let Batch { mut buf, last } = batch.context("reading the input")?;
        if buf.is_empty() {
            // Only an empty ciphertext body gets here: its final chunk is missing.
            return Err(Error::Truncated.into());
        }
        let slots = buf.len().div_ceil(key.sealed_chunk_size());
        match dir {
            Direction::Seal => par::seal_chunks(key, next_chunk, &mut buf, last)?,
            Direction::Open => par::open_chunks(key, next_chunk, &mut buf, last)?,
        }
        next_chunk += slots as u64;
        total += (buf.len() - slots * TAG_LEN) as u64;
        out.send(buf)
            .map_err(|_| anyhow!("the output was closed"))?;
        if last {
            return Ok(total);
        }
    }
    // The reader stopped without a last batch: it failed, and says why.
    Err(anyhow!("the input ended early"))
}

/// The reader's stage: fill batches slot by slot, one batch ahead so that the stream's last chunk is
/// known to be last (a plaintext that is a whole number of chunks long ends with a full final chunk).
fn read_batches<R: Read + ?Sized>(
    dir: Direction,
    input: &mut R,
    slot_len: usize,
    slots: usize,
    out: SyncSender<io::Result<Batch>>,
    free: Receiver<Buffer>,
) -> io::Result<()> {
    // Sealing reads a chunk into each slot and leaves its tag room; opening reads whole slots.
    let fill = match dir {
        Direction::Seal => slot_len - TAG_LEN,
        Direction::Open => slot_len,
    };
    let mut pending: Option<Buffer> = None;
    loop {
        let mut buf = free
            .try_recv()
            .unwrap_or_else(|_| Zeroizing::new(Vec::with_capacity(slots * slot_len)));
        buf.clear();
        let mut ended = false;
        for _ in 0..slots {
            let start = buf.len();
            buf.resize(start + slot_len, 0);
            let got = match read_full(input, &mut buf[start..start + fill]) {
                Ok(n) => n,
                Err(e) => {
                    let message = e.to_string();
                    let _ = out.send(Err(e));
                    return Err(io::Error::other(message));
                }
            };
            if got < fill {
                ended = true;
                buf.truncate(if got > 0 {
                    // A short last slot: a short final chunk (and, sealing, its tag room).
                    start + got + if dir == Direction::Seal { TAG_LEN } else { 0 }
                } else if start > 0 || pending.is_some() || dir == Direction::Open {
                    // The stream ended at a slot boundary: the slot before is the last one. An empty
                    // ciphertext body leaves an empty batch, which the crypto stage refuses.
                    start
                } else {
                    // An empty plaintext still has one, empty, final chunk.
                    start + TAG_LEN
                });
                break;
            }
        }
        if ended {
            let batch = match pending.take() {
                Some(prev) if buf.is_empty() => Batch {
                    buf: prev,
                    last: true,
                },
                Some(prev) => {
                    let prev = Batch {
                        buf: prev,
                        last: false,
                    };
                    if out.send(Ok(prev)).is_err() {
                        return Ok(());
                    }
                    Batch { buf, last: true }
                }
                None => Batch { buf, last: true },
            };
            let _ = out.send(Ok(batch));
            return Ok(());
        }
        if let Some(prev) = pending.replace(buf) {
            let prev = Batch {
                buf: prev,
                last: false,
            };
            if out.send(Ok(prev)).is_err() {
                // The crypto stage stopped (a bad chunk, or the output failed): nothing more to read.
                return Ok(());
            }
        }
    }
}

/// The writer's stage: write each batch (opening: each slot without its tag), hand the buffer back.
fn write_batches<W: Write + ?Sized>(
    dir: Direction,
    output: &mut W,
    slot_len: usize,
    batches: Receiver<Buffer>,
    free: SyncSender<Buffer>,
) -> io::Result<()> {
    // On an error, returning drops `batches`: the crypto stage's next send fails instead of blocking.
    for buf in batches {
        match dir {
            Direction::Seal => output.write_all(&buf)?,
            Direction::Open => {
                for slot in buf.chunks(slot_len) {
                    output.write_all(&slot[..slot.len() - TAG_LEN])?;
                }
            }
        }
        let _ = free.try_send(buf);
    }
    output.flush()
}

#[cfg(test)]
mod tests {
    use objseal_core::io::EncryptWriter;
    use objseal_core::{Dek, ObjectKey, ObjectParams};

    use super::*;

    fn key(chunk_log2: u8) -> SegmentKey {
        ObjectKey::create(
            &Dek::from_bytes([9; 32]),
            &ObjectParams::new([1; 32], [2; 32]).chunk_log2(chunk_log2),
        )
        .unwrap()
        .body_key()
        .unwrap()
    }

    fn serial(key: SegmentKey, data: &[u8]) -> Vec<u8> {
        let mut w = EncryptWriter::new(Vec::new(), key);
        w.write_all(data).unwrap();
        w.finish().unwrap()
    }

    struct FailingWriter;
    impl Write for FailingWriter {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::other("disk on fire"))
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    struct FailingReader(usize);
    impl Read for FailingReader {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0 == 0 {
                return Err(io::Error::other("bad sector"));
            }
            let n = buf.len().min(self.0);
            buf[..n].fill(7);
            self.0 -= n;
            Ok(n)
        }
    }

    fn data_error(err: &anyhow::Error) -> Option<&Error> {
        err.chain().find_map(|e| e.downcast_ref::<Error>())
    }

    /// Sealing gives the serial writer's bytes, and opening gives the plaintext back, for every length
    /// around chunk and batch boundaries.
    #[test]
    fn round_trips_and_matches_the_serial_writer() {
        for log2 in [12u8, 16] {
            let key = key(log2);
            let c = key.chunk_size();
            let b = (BATCH_BYTES / c).max(1) * c;
            for len in [0, 1, c - 1, c, c + 1, b - 1, b, b + 1, 2 * b, 2 * b + c + 7] {
                let data: Vec<u8> = (0..len).map(|i| (i * 31 + i / 977) as u8).collect();
                let mut sealed = Vec::new();
                let n = seal_file(&key, &mut &data[..], &mut sealed).unwrap();
                assert_eq!(n, len as u64);
                assert!(sealed == serial(self::key(log2), &data), "2^{log2}, {len}");
                let mut opened = Vec::new();
                let n = open_file(&key, &mut &sealed[..], &mut opened).unwrap();
                assert_eq!(n, len as u64);
                assert!(opened == data, "2^{log2}, {len}");
            }
        }
    }

    /// Cuts at and inside chunk and batch boundaries, flips, and appended data all fail, and nothing
    /// of a batch that did not verify is written.
    #[test]
    fn damaged_bodies_fail_and_release_only_verified_batches() {
        let key = key(12);
        let c = key.sealed_chunk_size();
        let batch = (BATCH_BYTES / key.chunk_size()) * c;
        let data = vec![0x5a; 2 * BATCH_BYTES + 100];
        let mut sealed = Vec::new();
        seal_file(&key, &mut &data[..], &mut sealed).unwrap();
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("empty", Vec::new()),
            ("cut at a chunk", sealed[..3 * c].to_vec()),
            ("cut at a batch", sealed[..batch].to_vec()),
            ("cut inside a chunk", sealed[..batch + 100].to_vec()),
            ("cut inside the tag", sealed[..sealed.len() - 3].to_vec()),
            ("appended", [&sealed[..], &[0u8; 40]].concat()),
            ("flipped", {
                let mut s = sealed.clone();
                s[batch + 5] ^= 1;
                s
            }),
        ];
        for (what, body) in cases {
            let mut out = Vec::new();
            let err = open_file(&key, &mut &body[..], &mut out).unwrap_err();
            assert!(data_error(&err).is_some(), "{what}: {err:#}");
            // Whole verified batches only, all of them plaintext.
            assert_eq!(out.len() % BATCH_BYTES, 0, "{what}");
            assert!(out.iter().all(|&b| b == 0x5a), "{what}");
        }
    }

    #[test]
    fn an_output_error_is_reported_and_nothing_hangs() {
        let data = vec![1u8; 3 * BATCH_BYTES + 5];
        let err = seal_file(&key(16), &mut &data[..], &mut FailingWriter).unwrap_err();
        assert!(format!("{err:#}").contains("disk on fire"), "{err:#}");
        let mut sealed = Vec::new();
        seal_file(&key(16), &mut &data[..], &mut sealed).unwrap();
        let err = open_file(&key(16), &mut &sealed[..], &mut FailingWriter).unwrap_err();
        assert!(format!("{err:#}").contains("disk on fire"), "{err:#}");
    }

    #[test]
    fn an_input_error_is_reported() {
        let mut out = Vec::new();
        let err = seal_file(&key(16), &mut FailingReader(BATCH_BYTES + 10), &mut out).unwrap_err();
        assert!(format!("{err:#}").contains("bad sector"), "{err:#}");
        let err = open_file(&key(16), &mut FailingReader(BATCH_BYTES + 10), &mut out).unwrap_err();
        assert!(format!("{err:#}").contains("bad sector"), "{err:#}");
    }
}
