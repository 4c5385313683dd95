//! Streaming state machines over caller buffers: chunks go in one at a time, nothing is allocated.
//!
//! The caller decides which chunk is the last (an I/O layer knows from end-of-input); the state
//! machines enforce the order, the sizes and the final flag, and [`Decryptor::finish`] refuses a
//! stream that ended without its final chunk.

use crate::Error;
use crate::gcm::TAG_LEN;
use crate::range::{chunk_count, ciphertext_len, plaintext_len};
use crate::seal::SegmentKey;

/// Seals a segment chunk by chunk.
///
/// ```
/// use objseal_core::{Dek, ObjectKey, ObjectParams, stream::{Decryptor, Encryptor}};
/// let object = ObjectKey::create(&Dek::from_bytes([1; 32]), &ObjectParams::new([2; 32], [3; 32]).chunk_log2(12)).unwrap();
/// let mut enc = Encryptor::new(object.body_key().unwrap());
/// let mut first = vec![7u8; 4096 + 16];
/// let mut last = vec![8u8; 10 + 16];
/// enc.seal_next_in_place(&mut first, 4096, false).unwrap();
/// enc.seal_next_in_place(&mut last, 10, true).unwrap();
///
/// let mut dec = Decryptor::new(object.body_key().unwrap());
/// assert_eq!(dec.open_next(&mut first, false).unwrap(), 4096);
/// assert!(dec.finish().is_err()); // no final chunk yet: truncated
/// assert_eq!(dec.open_next(&mut last, true).unwrap(), 10);
/// dec.finish().unwrap();
/// ```
#[derive(Debug)]
pub struct Encryptor {
    key: SegmentKey,
    next: u64,
    finished: bool,
}

impl Encryptor {
    /// Starts at chunk 0 of the segment `key` belongs to.
    pub fn new(key: SegmentKey) -> Self {
        Self {
            key,
            next: 0,
            finished: false,
        }
    }

    /// The segment key.
    pub fn key(&self) -> &SegmentKey {
        &self.key
    }

    /// Index of the next chunk.
    pub fn next_index(&self) -> u64 {
        self.next
    }

    /// Whether the final chunk has been sealed.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    fn advance(&mut self, last: bool) -> Result<u64, Error> {
        if self.finished {
            return Err(Error::StreamFinished);
        }
        let index = self.next;
        self.next += 1;
        self.finished = last;
        Ok(index)
    }

    /// Seals the next chunk, laid out as `plaintext ‖ 16 spare bytes` in `buf`; returns the sealed length.
    ///
    /// # Errors
    /// [`Error::StreamFinished`] after the final chunk; [`Error::BadLength`] for a non-final chunk that is
    /// not full or a final one that is empty (except as chunk 0); [`Error::BufferTooSmall`].
    pub fn seal_next_in_place(
        &mut self,
        buf: &mut [u8],
        pt_len: usize,
        last: bool,
    ) -> Result<usize, Error> {
        if self.finished {
            return Err(Error::StreamFinished);
        }
        let sealed = self.key.seal_chunk_in_place(self.next, last, buf, pt_len)?;
        self.advance(last)?;
        Ok(sealed)
    }

    /// Seals the next chunk `buf` in place and returns its detached tag.
    ///
    /// # Errors
    /// As [`Encryptor::seal_next_in_place`].
    pub fn seal_next(&mut self, buf: &mut [u8], last: bool) -> Result<[u8; TAG_LEN], Error> {
        if self.finished {
            return Err(Error::StreamFinished);
        }
        let tag = self.key.seal_chunk(self.next, last, buf)?;
        self.advance(last)?;
        Ok(tag)
    }

    /// Reserves the next `count` chunk indices (for a parallel sealer that fills them itself) and returns
    /// the first. `last` marks the final one of them as the segment's end.
    ///
    /// # Errors
    /// [`Error::StreamFinished`] after the final chunk, [`Error::LimitExceeded`] past 2^32 chunks.
    pub fn reserve(&mut self, count: u64, last: bool) -> Result<u64, Error> {
        if self.finished {
            return Err(Error::StreamFinished);
        }
        let first = self.next;
        let end = first
            .checked_add(count)
            .filter(|e| *e <= crate::seal::MAX_CHUNKS_PER_SEGMENT);
        self.next = end.ok_or(Error::LimitExceeded)?;
        self.finished = last;
        Ok(first)
    }
}

/// Opens a segment chunk by chunk, in order.
#[derive(Debug)]
pub struct Decryptor {
    key: SegmentKey,
    next: u64,
    finished: bool,
}

impl Decryptor {
    /// Starts at chunk 0 of the segment `key` belongs to.
    pub fn new(key: SegmentKey) -> Self {
        Self {
            key,
            next: 0,
            finished: false,
        }
    }

    /// The segment key.
    pub fn key(&self) -> &SegmentKey {
        &self.key
    }

    /// Index of the next chunk.
    pub fn next_index(&self) -> u64 {
        self.next
    }

    /// Whether the final chunk has been opened.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Opens the next sealed chunk (`ciphertext ‖ tag`) in place; the plaintext is then `chunk[..n]`.
    ///
    /// # Errors
    /// [`Error::StreamFinished`] after the final chunk; chunk errors of
    /// [`SegmentKey::open_chunk_in_place`] (the chunk is then zeroed and the stream stays failed).
    pub fn open_next(&mut self, chunk: &mut [u8], last: bool) -> Result<usize, Error> {
        if self.finished {
            chunk.fill(0);
            return Err(Error::StreamFinished);
        }
        match self.key.open_chunk_in_place(self.next, last, chunk) {
            Ok(n) => {
                self.next += 1;
                self.finished = last;
                Ok(n)
            }
            Err(e) => {
                // Poison: nothing after a failed chunk may be opened.
                self.finished = true;
                self.next = u64::MAX;
                Err(e)
            }
        }
    }

    /// Confirms the stream ended with its final chunk.
    ///
    /// # Errors
    /// [`Error::Truncated`] if the final chunk was never opened (or an earlier chunk failed).
    pub fn finish(&self) -> Result<(), Error> {
        if self.finished && self.next != u64::MAX {
            Ok(())
        } else {
            Err(Error::Truncated)
        }
    }
}

/// Seals a whole segment from `plaintext` into `out` (exactly its ciphertext length) in one call.
///
/// # Errors
/// [`Error::BufferTooSmall`] / [`Error::BadLength`] if `out` is not the ciphertext length,
/// [`Error::LimitExceeded`] past 2^32 chunks.
pub fn seal_segment(key: &SegmentKey, plaintext: &[u8], out: &mut [u8]) -> Result<usize, Error> {
    let ct_len = ciphertext_len(plaintext.len() as u64, key.chunk_log2())?;
    if out.len() as u64 != ct_len {
        return Err(Error::BufferTooSmall {
            needed: ct_len as usize,
        });
    }
    let chunks = chunk_count(plaintext.len() as u64, key.chunk_log2()) as usize;
    let c = key.chunk_size();
    for (i, slot) in out.chunks_mut(key.sealed_chunk_size()).enumerate() {
        let pt = &plaintext[(i * c).min(plaintext.len())..((i + 1) * c).min(plaintext.len())];
        slot[..pt.len()].copy_from_slice(pt);
        key.seal_chunk_in_place(i as u64, i + 1 == chunks, slot, pt.len())?;
    }
    Ok(out.len())
}

/// Opens a whole segment from `ciphertext` into `out` (at least its plaintext length); returns the
/// plaintext length. On error `out` is zeroed, so no partial plaintext escapes.
///
/// # Errors
/// [`Error::BadLength`] for an impossible ciphertext length, [`Error::BufferTooSmall`], chunk errors.
pub fn open_segment(key: &SegmentKey, ciphertext: &[u8], out: &mut [u8]) -> Result<usize, Error> {
    let result = open_segment_inner(key, ciphertext, out);
    if result.is_err() {
        out.fill(0);
    }
    result
}

fn open_segment_inner(key: &SegmentKey, ciphertext: &[u8], out: &mut [u8]) -> Result<usize, Error> {
    let pt_len = plaintext_len(ciphertext.len() as u64, key.chunk_log2())? as usize;
    if out.len() < pt_len {
        return Err(Error::BufferTooSmall { needed: pt_len });
    }
    let chunks = ciphertext.len().div_ceil(key.sealed_chunk_size());
    let c = key.chunk_size();
    for (i, sealed) in ciphertext.chunks(key.sealed_chunk_size()).enumerate() {
        let n = sealed.len() - TAG_LEN;
        key.open_chunk_to(
            i as u64,
            i + 1 == chunks,
            sealed,
            &mut out[i * c..i * c + n],
        )?;
    }
    Ok(pt_len)
}
