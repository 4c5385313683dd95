//! `std::io` adapters: [`EncryptWriter`] seals what is written to it, [`DecryptReader`] opens what it
//! reads (and seeks, verifying the final chunk before trusting the length).
//!
//! Both work a batch of chunks at a time in a buffer allocated once (memory is bounded whatever the
//! size of the stream); with the `rayon` feature the chunks of a batch are sealed and opened in
//! parallel. Plaintext is released only from chunks whose tags have verified, and a stream missing
//! its final chunk is an error ([`Error::Truncated`]), never a short success.

use std::io::{self, Read, Seek, SeekFrom, Write};
use std::vec;
use std::vec::Vec;

use crate::Error;
use crate::gcm::TAG_LEN;
use crate::range::plaintext_len;
use crate::seal::{MAX_CHUNKS_PER_SEGMENT, SegmentKey};

impl From<Error> for io::Error {
    fn from(e: Error) -> Self {
        let kind = match e {
            Error::Truncated => io::ErrorKind::UnexpectedEof,
            _ => io::ErrorKind::InvalidData,
        };
        io::Error::new(kind, e)
    }
}

/// Chunks per batch: one without rayon; with it enough to keep every worker busy, at most 32 MiB.
fn default_batch_chunks(chunk_size: usize) -> usize {
    #[cfg(feature = "rayon")]
    {
        let per_thread = 4 * rayon::current_num_threads();
        per_thread.clamp(1, ((32 << 20) / chunk_size).max(1))
    }
    #[cfg(not(feature = "rayon"))]
    {
        let _ = chunk_size;
        1
    }
}

fn seal_batch(
    key: &SegmentKey,
    first: u64,
    buf: &mut [u8],
    last_is_final: bool,
) -> Result<(), Error> {
    #[cfg(feature = "rayon")]
    if buf.len() > key.sealed_chunk_size() {
        return crate::par::seal_chunks(key, first, buf, last_is_final);
    }
    let slots = buf.len().div_ceil(key.sealed_chunk_size());
    for (i, slot) in buf.chunks_mut(key.sealed_chunk_size()).enumerate() {
        let pt_len = slot.len() - TAG_LEN;
        key.seal_chunk_in_place(
            first + i as u64,
            last_is_final && i + 1 == slots,
            slot,
            pt_len,
        )?;
    }
    Ok(())
}

fn open_batch(
    key: &SegmentKey,
    first: u64,
    buf: &mut [u8],
    last_is_final: bool,
) -> Result<(), Error> {
    #[cfg(feature = "rayon")]
    if buf.len() > key.sealed_chunk_size() {
        return crate::par::open_chunks(key, first, buf, last_is_final);
    }
    let slots = buf.len().div_ceil(key.sealed_chunk_size());
    for (i, slot) in buf.chunks_mut(key.sealed_chunk_size()).enumerate() {
        if let Err(e) =
            key.open_chunk_in_place(first + i as u64, last_is_final && i + 1 == slots, slot)
        {
            buf.fill(0);
            return Err(e);
        }
    }
    Ok(())
}

/// Seals everything written to it into the chunks of one segment and writes them to `inner`.
///
/// Call [`EncryptWriter::finish`] at the end: it seals the final chunk. A writer dropped without
/// `finish` leaves a stream with no final chunk, which every reader rejects as truncated.
///
/// ```
/// use std::io::{Read, Write};
/// use objseal_core::{Dek, ObjectKey, ObjectParams, io::{DecryptReader, EncryptWriter}};
/// let object = ObjectKey::create(&Dek::from_bytes([1; 32]), &ObjectParams::new([2; 32], [3; 32]).chunk_log2(12)).unwrap();
/// let mut w = EncryptWriter::new(Vec::new(), object.body_key().unwrap());
/// w.write_all(&vec![9u8; 10_000]).unwrap();
/// let sealed = w.finish().unwrap();
/// let mut r = DecryptReader::new(&sealed[..], object.body_key().unwrap());
/// let mut out = Vec::new();
/// r.read_to_end(&mut out).unwrap();
/// assert_eq!(out, vec![9u8; 10_000]);
/// // Drop the last 100 bytes: an error, not a short read.
/// let mut r = DecryptReader::new(&sealed[..sealed.len() - 100], object.body_key().unwrap());
/// assert!(r.read_to_end(&mut Vec::new()).is_err());
/// ```
pub struct EncryptWriter<W: Write> {
    /// `None` only after `finish` has handed it back.
    inner: Option<W>,
    key: SegmentKey,
    /// Sealed-layout batch: `batch_chunks` slots of `chunk + 16` bytes.
    buf: Vec<u8>,
    /// Plaintext bytes currently in the batch.
    filled: usize,
    batch_chunks: usize,
    next_index: u64,
    finished: bool,
    /// A batch failed to seal or to be written: the stream cannot be continued.
    poisoned: bool,
}

/// The error of every call after a failed one: a batch may have been sealed in place already, and
/// sealing it again would strip the keystream and write plaintext.
fn poisoned_error() -> io::Error {
    io::Error::other("objseal: an earlier write failed; the encrypted stream cannot be continued")
}

impl<W: Write> EncryptWriter<W> {
    /// A writer sealing into `inner` with `key`, batch size chosen for the machine.
    pub fn new(inner: W, key: SegmentKey) -> Self {
        let batch = default_batch_chunks(key.chunk_size());
        Self::with_batch_chunks(inner, key, batch)
    }

    /// A writer sealing `batch_chunks` chunks at a time (at least 1).
    pub fn with_batch_chunks(inner: W, key: SegmentKey, batch_chunks: usize) -> Self {
        let batch_chunks = batch_chunks.max(1);
        let buf = vec![0u8; batch_chunks * key.sealed_chunk_size()];
        Self {
            inner: Some(inner),
            key,
            buf,
            filled: 0,
            batch_chunks,
            next_index: 0,
            finished: false,
            poisoned: false,
        }
    }

    /// The inner writer (`None` once finished).
    pub fn get_ref(&self) -> Option<&W> {
        self.inner.as_ref()
    }

    fn inner_mut(&mut self) -> io::Result<&mut W> {
        self.inner
            .as_mut()
            .ok_or_else(|| Error::StreamFinished.into())
    }

    fn capacity(&self) -> usize {
        self.batch_chunks * self.key.chunk_size()
    }

    /// Seals the batch (its last chunk final or not) and writes it out.
    fn flush_batch(&mut self, last_is_final: bool) -> io::Result<()> {
        let c = self.key.chunk_size();
        let sealed = self.key.sealed_chunk_size();
        let chunks = if self.filled == 0 {
            1
        } else {
            self.filled.div_ceil(c)
        };
        let len = (chunks - 1) * sealed + (self.filled - (chunks - 1) * c) + TAG_LEN;
        if self.next_index + chunks as u64 > MAX_CHUNKS_PER_SEGMENT {
            return Err(Error::LimitExceeded.into());
        }
        let sealed_and_written = match seal_batch(
            &self.key,
            self.next_index,
            &mut self.buf[..len],
            last_is_final,
        ) {
            Ok(()) => match self.inner.as_mut() {
                Some(inner) => inner.write_all(&self.buf[..len]),
                None => Err(Error::StreamFinished.into()),
            },
            Err(e) => Err(e.into()),
        };
        if let Err(e) = sealed_and_written {
            // The batch is (partly) sealed in place and (partly) written: it can be neither retried
            // nor resealed. Refuse everything from now on.
            self.poisoned = true;
            zeroize::Zeroize::zeroize(self.buf.as_mut_slice());
            return Err(e);
        }
        self.next_index += chunks as u64;
        self.filled = 0;
        Ok(())
    }

    /// Seals the final chunk, flushes, and returns the inner writer.
    ///
    /// # Errors
    /// I/O errors of the inner writer; [`Error::LimitExceeded`] past 2^32 chunks; an error if an
    /// earlier write failed (the stream is then incomplete and cannot be finished).
    pub fn finish(mut self) -> io::Result<W> {
        if self.finished {
            return Err(Error::StreamFinished.into());
        }
        if self.poisoned {
            return Err(poisoned_error());
        }
        self.flush_batch(true)?;
        self.finished = true;
        let mut inner = self.inner.take().ok_or(Error::StreamFinished)?;
        inner.flush()?;
        Ok(inner)
    }
}

impl<W: Write> Write for EncryptWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.finished {
            return Err(Error::StreamFinished.into());
        }
        if self.poisoned {
            return Err(poisoned_error());
        }
        if data.is_empty() {
            return Ok(0);
        }
        // A full batch is sealed only once more data proves it is not the end.
        if self.filled == self.capacity() {
            self.flush_batch(false)?;
        }
        let c = self.key.chunk_size();
        let sealed = self.key.sealed_chunk_size();
        let mut taken = 0;
        while taken < data.len() && self.filled < self.capacity() {
            let slot = self.filled / c;
            let offset = self.filled % c;
            let n = (c - offset).min(data.len() - taken);
            let at = slot * sealed + offset;
            self.buf[at..at + n].copy_from_slice(&data[taken..taken + n]);
            self.filled += n;
            taken += n;
        }
        Ok(taken)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner_mut()?.flush()
    }
}

impl<W: Write> Drop for EncryptWriter<W> {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(self.buf.as_mut_slice());
    }
}

/// Opens the chunks of one segment read from `inner`, in order, and serves their plaintext.
///
/// With `R: Seek` it also seeks: the first seek reads and verifies the final chunk, so the length it
/// reports cannot have been forged by truncating or extending the stored object.
pub struct DecryptReader<R: Read> {
    inner: R,
    key: SegmentKey,
    /// Ciphertext read so far and not yet opened, then (after opening) the batch's slots.
    buf: Vec<u8>,
    /// Bytes of ciphertext in `buf`.
    buffered: usize,
    batch_chunks: usize,
    /// Index of the first chunk in `buf`.
    next_index: u64,
    /// Plaintext of the opened batch: slot layout, `ready` = slots' plaintext ranges served in order.
    opened_len: usize,
    read_pos: usize,
    /// Skip this many plaintext bytes of the next batch (after a seek into the middle of a chunk).
    skip: usize,
    /// The byte read past a full batch: proof that the batch's last chunk is not the final one.
    lookahead: Option<u8>,
    /// Ciphertext bytes taken from `inner` since the body start (for seeking).
    consumed: u64,
    eof_seen: bool,
    done: bool,
    failed: Option<Error>,
    /// For seeking: where the body starts in `inner`, and its verified plaintext length.
    body_start: Option<u64>,
    verified_len: Option<u64>,
    position: u64,
}

impl<R: Read> DecryptReader<R> {
    /// A reader opening the segment read from `inner` (positioned at the body's first byte).
    pub fn new(inner: R, key: SegmentKey) -> Self {
        let batch = default_batch_chunks(key.chunk_size());
        Self::with_batch_chunks(inner, key, batch)
    }

    /// A reader opening `batch_chunks` chunks at a time (at least 1).
    pub fn with_batch_chunks(inner: R, key: SegmentKey, batch_chunks: usize) -> Self {
        let batch_chunks = batch_chunks.max(1);
        // One extra byte: the look-ahead that tells a full final chunk from a full middle one.
        let buf = vec![0u8; batch_chunks * key.sealed_chunk_size() + 1];
        Self {
            inner,
            key,
            buf,
            buffered: 0,
            batch_chunks,
            next_index: 0,
            opened_len: 0,
            read_pos: 0,
            skip: 0,
            lookahead: None,
            consumed: 0,
            eof_seen: false,
            done: false,
            failed: None,
            body_start: None,
            verified_len: None,
            position: 0,
        }
    }

    fn batch_len(&self) -> usize {
        self.batch_chunks * self.key.sealed_chunk_size()
    }

    /// Reads and opens the next batch. Leaves `read_pos..opened_len` as plaintext (compacted).
    /// An I/O error of `inner` is passed through and may be retried (nothing is lost: the bytes read
    /// so far stay buffered); an error of the data itself is an [`Error`].
    fn fill(&mut self) -> io::Result<Result<(), Error>> {
        let want = self.batch_len() + 1;
        if let Some(byte) = self.lookahead.take() {
            self.buf[0] = byte;
            self.buffered = 1;
        }
        while self.buffered < want && !self.eof_seen {
            match self.inner.read(&mut self.buf[self.buffered..want]) {
                Ok(0) => self.eof_seen = true,
                Ok(n) => {
                    self.buffered += n;
                    self.consumed += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        let sealed = self.key.sealed_chunk_size();
        let (len, last_is_final) = if self.buffered > self.batch_len() {
            (self.batch_len(), false)
        } else {
            let len = self.buffered;
            let rem = len % sealed;
            // Nothing at all, or cut inside a tag: the final chunk is missing.
            if len == 0 || (rem != 0 && rem < TAG_LEN) {
                return Ok(Err(Error::Truncated));
            }
            (len, true)
        };
        // A data error (not an I/O one): the caller's `read` makes it sticky.
        if let Err(e) = open_batch(
            &self.key,
            self.next_index,
            &mut self.buf[..len],
            last_is_final,
        ) {
            return Ok(Err(e));
        }
        // Compact the slots' plaintext to the front.
        let chunks = len.div_ceil(sealed);
        let mut written = 0;
        for i in 0..chunks {
            let at = i * sealed;
            let pt = (len - at).min(sealed) - TAG_LEN;
            self.buf.copy_within(at..at + pt, written);
            written += pt;
        }
        self.next_index += chunks as u64;
        self.opened_len = written;
        self.read_pos = self.skip.min(written);
        self.skip = 0;
        if last_is_final {
            self.done = true;
        } else {
            self.lookahead = Some(self.buf[len]);
        }
        self.buffered = 0;
        Ok(Ok(()))
    }
}

impl<R: Read> Read for DecryptReader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if let Some(e) = self.failed {
            return Err(e.into());
        }
        if out.is_empty() {
            return Ok(0);
        }
        while self.read_pos == self.opened_len {
            if self.done {
                return Ok(0);
            }
            self.opened_len = 0;
            self.read_pos = 0;
            let filled = self.fill()?;
            if let Err(e) = filled {
                self.failed = Some(e);
                self.buf.fill(0);
                self.opened_len = 0;
                self.read_pos = 0;
                return Err(e.into());
            }
        }
        let n = out.len().min(self.opened_len - self.read_pos);
        out[..n].copy_from_slice(&self.buf[self.read_pos..self.read_pos + n]);
        self.read_pos += n;
        self.position += n as u64;
        Ok(n)
    }
}

impl<R: Read> Drop for DecryptReader<R> {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(self.buf.as_mut_slice());
    }
}

impl<R: Read + Seek> DecryptReader<R> {
    /// The plaintext length, read from the stored length and confirmed by opening the final chunk.
    ///
    /// # Errors
    /// [`Error::BadLength`] for an impossible stored length; [`Error::Truncated`] if the last stored
    /// chunk is a genuine middle chunk; chunk errors; I/O errors.
    pub fn plaintext_len(&mut self) -> io::Result<u64> {
        if let Some(len) = self.verified_len {
            return Ok(len);
        }
        let here = self.inner.stream_position()?;
        let body_start = here.checked_sub(self.consumed).ok_or(Error::BadLength)?;
        let end = self.inner.seek(SeekFrom::End(0))?;
        let ct_len = end.checked_sub(body_start).ok_or(Error::BadLength)?;
        let len = plaintext_len(ct_len, self.key.chunk_log2())?;
        let sealed = self.key.sealed_chunk_size() as u64;
        let final_index = crate::range::chunk_count(len, self.key.chunk_log2()) - 1;
        let final_at = final_index * sealed;
        let mut last = vec![0u8; (ct_len - final_at) as usize];
        self.inner.seek(SeekFrom::Start(body_start + final_at))?;
        self.inner.read_exact(&mut last)?;
        let opened = self.key.open_chunk_in_place(final_index, true, &mut last);
        zeroize::Zeroize::zeroize(last.as_mut_slice());
        self.inner.seek(SeekFrom::Start(here))?;
        opened?;
        self.body_start = Some(body_start);
        self.verified_len = Some(len);
        Ok(len)
    }
}

impl<R: Read + Seek> Seek for DecryptReader<R> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        if let Some(e) = self.failed {
            return Err(e.into());
        }
        let len = self.plaintext_len()?;
        let target = match pos {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::End(d) => len.checked_add_signed(d),
            SeekFrom::Current(d) => self.position.checked_add_signed(d),
        }
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek before the start of the stream",
            )
        })?;
        let body_start = self.body_start.ok_or(Error::BadLength)?;
        self.opened_len = 0;
        self.read_pos = 0;
        self.buffered = 0;
        self.lookahead = None;
        self.eof_seen = false;
        self.position = target;
        if target >= len {
            // At or past the end: reads return 0. The final chunk has been verified already.
            self.done = true;
            return Ok(target);
        }
        let chunk = target >> self.key.chunk_log2();
        let at = chunk * self.key.sealed_chunk_size() as u64;
        self.inner.seek(SeekFrom::Start(body_start + at))?;
        self.consumed = at;
        self.next_index = chunk;
        self.skip = (target - (chunk << self.key.chunk_log2())) as usize;
        self.done = false;
        Ok(target)
    }
}
