//! Reading ahead and writing behind on their own threads, so that file I/O overlaps the crypto.
//!
//! `objseal encrypt` of a large file spends its time in three serial steps: copying the input out of
//! the page cache, sealing (fast: every core works on a batch), and copying the output into the page
//! cache (the slowest, since the kernel allocates the new pages). [`pipelined`] runs the first and
//! the last on their own threads with a few buffers in flight between them, so the whole job takes
//! about as long as its slowest step instead of the sum of all three.
//!
//! Plaintext passes through these buffers on one side or the other; every buffer is wiped when it is
//! dropped ([`Zeroizing`]).

use std::io::{self, Read, Write};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use anyhow::{Result, anyhow};
use zeroize::Zeroizing;

/// Bytes per buffer handed between threads.
const BUF: usize = 4 << 20;
/// Buffers queued between a thread and the main one, each way.
const DEPTH: usize = 3;

type Buffer = Zeroizing<Vec<u8>>;

/// Runs `job` with `input` read ahead on one thread and `output` written behind on another.
///
/// `job` sees a [`ReadAhead`] and a [`WriteBehind`] in place of the two. Errors of the I/O threads
/// come back as `io::Error`s from the adapters; the first one wins.
///
/// ```ignore
/// let n = pipelined(&mut input, &mut output, |r, w| Ok(io::copy(r, w)?))?;
/// ```
pub fn pipelined<R, W, T>(
    input: &mut R,
    output: &mut W,
    job: impl FnOnce(&mut ReadAhead, &mut WriteBehind) -> Result<T>,
) -> Result<T>
where
    R: Read + Send + ?Sized,
    W: Write + Send + ?Sized,
{
    std::thread::scope(|scope| {
        let (full_tx, full_rx) = sync_channel::<io::Result<Buffer>>(DEPTH);
        scope.spawn(move || read_ahead(input, full_tx));
        let (out_tx, out_rx) = sync_channel::<Buffer>(DEPTH);
        let writer = scope.spawn(move || write_behind(output, out_rx));

        let mut reader = ReadAhead {
            rx: full_rx,
            current: Zeroizing::new(Vec::new()),
            pos: 0,
            done: false,
        };
        let mut sink = WriteBehind {
            tx: Some(out_tx),
            pending: Zeroizing::new(Vec::with_capacity(BUF)),
        };
        let result = job(&mut reader, &mut sink);
        // Hand over what is left, then close the channel so the writer finishes.
        let flushed = sink.flush();
        drop(sink);
        // Stop the reader early if the job did not read to the end (it blocks on a full queue).
        drop(reader);
        let written = writer
            .join()
            .map_err(|_| anyhow!("the output thread panicked"))?;
        // An output error explains a failed job better than the job's own "output closed".
        written?;
        let value = result?;
        flushed?;
        Ok(value)
    })
}

fn read_ahead<R: Read + ?Sized>(input: &mut R, tx: SyncSender<io::Result<Buffer>>) {
    loop {
        let mut buf = Zeroizing::new(vec![0u8; BUF]);
        let mut filled = 0;
        let result = loop {
            match input.read(&mut buf[filled..]) {
                Ok(0) => break Ok(()),
                Ok(n) => {
                    filled += n;
                    if filled == buf.len() {
                        break Ok(());
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        };
        if let Err(e) = result {
            let _ = tx.send(Err(e));
            return;
        }
        if filled == 0 {
            return;
        }
        buf.truncate(filled);
        let last = filled < BUF;
        // A closed channel means the job stopped reading: nothing more to do.
        if tx.send(Ok(buf)).is_err() || last {
            return;
        }
    }
}

fn write_behind<W: Write + ?Sized>(output: &mut W, rx: Receiver<Buffer>) -> io::Result<()> {
    // On an error, returning drops `rx`: the job's next write fails instead of blocking.
    for buf in rx {
        output.write_all(&buf)?;
    }
    output.flush()
}

/// The input, read ahead by another thread.
pub struct ReadAhead {
    rx: Receiver<io::Result<Buffer>>,
    current: Buffer,
    pos: usize,
    done: bool,
}

impl Read for ReadAhead {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.current.len() {
            if self.done {
                return Ok(0);
            }
            match self.rx.recv() {
                Ok(Ok(buf)) => {
                    self.current = buf;
                    self.pos = 0;
                }
                Ok(Err(e)) => {
                    self.done = true;
                    return Err(e);
                }
                Err(_) => {
                    self.done = true;
                    return Ok(0);
                }
            }
        }
        let n = out.len().min(self.current.len() - self.pos);
        out[..n].copy_from_slice(&self.current[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// The output, written behind by another thread.
pub struct WriteBehind {
    tx: Option<SyncSender<Buffer>>,
    pending: Buffer,
}

impl WriteBehind {
    fn send_pending(&mut self) -> io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let buf = std::mem::replace(&mut self.pending, Zeroizing::new(Vec::with_capacity(BUF)));
        let closed = || io::Error::new(io::ErrorKind::BrokenPipe, "the output was closed");
        self.tx
            .as_ref()
            .ok_or_else(closed)?
            .send(buf)
            .map_err(|_| closed())
    }
}

impl Write for WriteBehind {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = data.len().min(BUF - self.pending.len());
        self.pending.extend_from_slice(&data[..n]);
        if self.pending.len() == BUF {
            self.send_pending()?;
        }
        Ok(n)
    }

    /// Hands what is buffered to the output thread (which flushes the output when it finishes).
    fn flush(&mut self) -> io::Result<()> {
        self.send_pending()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn copies_every_byte_in_order() {
        for len in [0, 1, BUF - 1, BUF, BUF + 1, 3 * BUF + 12345] {
            let data: Vec<u8> = (0..len).map(|i| (i * 7 + i / 251) as u8).collect();
            let mut out = Vec::new();
            let n = pipelined(&mut &data[..], &mut out, |r, w| Ok(io::copy(r, w)?)).unwrap();
            assert_eq!(n, len as u64);
            assert!(out == data, "length {len}");
        }
    }

    #[test]
    fn an_output_error_is_reported_and_nothing_hangs() {
        let data = vec![1u8; 5 * BUF];
        let err = pipelined(&mut &data[..], &mut FailingWriter, |r, w| {
            Ok(io::copy(r, w)?)
        })
        .unwrap_err();
        assert!(format!("{err:#}").contains("disk on fire"), "{err:#}");
    }

    #[test]
    fn an_input_error_is_reported() {
        let mut out = Vec::new();
        let err = pipelined(&mut FailingReader(BUF + 10), &mut out, |r, w| {
            Ok(io::copy(r, w)?)
        })
        .unwrap_err();
        assert!(format!("{err:#}").contains("bad sector"), "{err:#}");
    }

    #[test]
    fn a_job_that_stops_early_does_not_hang() {
        let data = vec![3u8; 10 * BUF];
        let mut out = Vec::new();
        let got = pipelined(&mut &data[..], &mut out, |r, _| {
            let mut first = [0u8; 10];
            r.read_exact(&mut first)?;
            Ok(first)
        })
        .unwrap();
        assert_eq!(got, [3u8; 10]);
        assert!(out.is_empty());
    }
}
