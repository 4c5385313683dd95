//! The body of `objseal encrypt` for a regular file: reading, sealing and writing overlap, and no
//! byte is copied in user space.
//!
//! The serial path ([`objseal_core::io::EncryptWriter`]) reads into a copy buffer, copies into its
//! batch, seals the batch on every core, then writes it: for a large file on a fast disk or tmpfs the
//! two copies and the two system calls run one after the other on one thread, and the job takes
//! longer than `cp`. Here a reader thread reads the file straight into the chunk slots of a batch
//! buffer (the sealed layout: each chunk followed by room for its tag), the calling thread seals the
//! batch in place with [`par::seal_chunks`], and a writer thread writes it out, with a few batches in
//! flight; the job takes about as long as its slowest stage.
//!
//! The output is byte for byte what the serial path writes (the tests compare them). Batches hold
//! plaintext until sealed and are wiped when dropped ([`Zeroizing`]).

use std::io::{self, Read, Write};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use anyhow::{Context, Result, anyhow};
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

/// A batch read from the input: slots in the sealed layout, each slot's tag room unused yet.
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
    let chunk = key.chunk_size();
    let slots = (BATCH_BYTES / chunk).max(1);
    std::thread::scope(|scope| {
        let (read_tx, read_rx) = sync_channel::<io::Result<Batch>>(DEPTH);
        let (free_tx, free_rx) = sync_channel::<Buffer>(DEPTH + 2);
        let (write_tx, write_rx) = sync_channel::<Buffer>(DEPTH);
        let reader = scope.spawn(move || read_batches(input, chunk, slots, read_tx, free_rx));
        let writer = scope.spawn(move || write_batches(output, write_rx, free_tx));

        let sealed = seal_batches(key, read_rx, write_tx);
        let read = reader
            .join()
            .map_err(|_| anyhow!("the input thread panicked"))?;
        let written = writer
            .join()
            .map_err(|_| anyhow!("the output thread panicked"))?;
        // The first failure explains the others ("the output was closed" follows a write error).
        written.context("writing the output")?;
        let total = sealed?;
        read.context("reading the input")?;
        Ok(total)
    })
}

/// The calling thread's stage: seal each batch in place on every core, hand it to the writer.
fn seal_batches(
    key: &SegmentKey,
    batches: Receiver<io::Result<Batch>>,
    out: SyncSender<Buffer>,
) -> Result<u64> {
    let mut next_chunk = 0u64;
    let mut total = 0u64;
    for batch in batches {
        let Batch { mut buf, last } = batch.context("reading the input")?;
        let slots = buf.len().div_ceil(key.sealed_chunk_size());
        par::seal_chunks(key, next_chunk, &mut buf, last)?;
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
/// known to be last (a file that is a whole number of chunks long ends with a full final chunk).
fn read_batches<R: Read + ?Sized>(
    input: &mut R,
    chunk: usize,
    slots: usize,
    out: SyncSender<io::Result<Batch>>,
    free: Receiver<Buffer>,
) -> io::Result<()> {
    let slot_len = chunk + TAG_LEN;
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
            let got = match read_full(input, &mut buf[start..start + chunk]) {
                Ok(n) => n,
                Err(e) => {
                    let message = e.to_string();
                    let _ = out.send(Err(e));
                    return Err(io::Error::other(message));
                }
            };
            if got < chunk {
                // A short chunk ends the stream. An empty one is dropped when a full chunk came
                // before it (that one is the final chunk); an empty stream still has one, empty,
                // final chunk.
                if got == 0 && (start > 0 || pending.is_some()) {
                    buf.truncate(start);
                } else {
                    buf.truncate(start + got + TAG_LEN);
                }
                ended = true;
                break;
            }
        }
        if ended {
            match (pending.take(), buf.is_empty()) {
                // The pending batch's last full chunk is the final one.
                (Some(prev), true) => {
                    let _ = out.send(Ok(Batch {
                        buf: prev,
                        last: true,
                    }));
                }
                (Some(prev), false) => {
                    if out
                        .send(Ok(Batch {
                            buf: prev,
                            last: false,
                        }))
                        .is_err()
                    {
                        return Ok(());
                    }
                    let _ = out.send(Ok(Batch { buf, last: true }));
                }
                (None, _) => {
                    let _ = out.send(Ok(Batch { buf, last: true }));
                }
            }
            return Ok(());
        }
        if let Some(prev) = pending.replace(buf)
            && out
                .send(Ok(Batch {
                    buf: prev,
                    last: false,
                }))
                .is_err()
        {
            // The sealing stage stopped (the output failed): nothing more to read.
            return Ok(());
        }
    }
}

/// The writer's stage: write each sealed batch, hand the buffer back for reuse.
fn write_batches<W: Write + ?Sized>(
    output: &mut W,
    batches: Receiver<Buffer>,
    free: SyncSender<Buffer>,
) -> io::Result<()> {
    // On an error, returning drops `batches`: the sealing stage's next send fails instead of blocking.
    for buf in batches {
        output.write_all(&buf)?;
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

    /// Same bytes as the serial writer for every length around chunk and batch boundaries.
    #[test]
    fn output_equals_the_serial_writer() {
        for log2 in [12u8, 16] {
            let key = key(log2);
            let c = key.chunk_size();
            let b = (BATCH_BYTES / c).max(1) * c;
            for len in [0, 1, c - 1, c, c + 1, b - 1, b, b + 1, 2 * b, 2 * b + c + 7] {
                let data: Vec<u8> = (0..len).map(|i| (i * 31 + i / 977) as u8).collect();
                let mut out = Vec::new();
                let n = seal_file(&key, &mut &data[..], &mut out).unwrap();
                assert_eq!(n, len as u64);
                assert!(
                    out == serial(self::key(log2), &data),
                    "chunk 2^{log2}, length {len}"
                );
            }
        }
    }

    #[test]
    fn an_output_error_is_reported_and_nothing_hangs() {
        let data = vec![1u8; 3 * BATCH_BYTES + 5];
        let err = seal_file(&key(16), &mut &data[..], &mut FailingWriter).unwrap_err();
        assert!(format!("{err:#}").contains("disk on fire"), "{err:#}");
    }

    #[test]
    fn an_input_error_is_reported() {
        let mut out = Vec::new();
        let err = seal_file(&key(16), &mut FailingReader(BATCH_BYTES + 10), &mut out).unwrap_err();
        assert!(format!("{err:#}").contains("bad sector"), "{err:#}");
    }
}
