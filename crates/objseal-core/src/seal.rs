//! Sealing and opening single chunks of a segment under the STREAM nonce rules.
//!
//! Chunk `i` of a segment is AES-256-GCM under the segment key with nonce
//! `0x00 × 7 ‖ BE32(i) ‖ final` (final = 0x01 on the segment's last chunk, else 0x00) and no AAD.
//! Non-final chunks hold exactly `2^chunk_log2` plaintext bytes; the final chunk 1..=2^chunk_log2,
//! or 0 only when it is chunk 0 (an empty segment).

use crate::Error;
use crate::gcm::{Aes256Gcm, NONCE_LEN, TAG_LEN, Tag};

/// Most chunks one segment may hold (the nonce counter is 32 bits).
pub const MAX_CHUNKS_PER_SEGMENT: u64 = 1 << 32;

/// The AES-256-GCM key of one segment, with its chunk geometry.
///
/// Built by [`crate::ObjectKey::segment_key`]; the expanded key is wiped on drop.
///
/// ```
/// use objseal_core::{Dek, ObjectKey, ObjectParams};
/// let dek = Dek::from_bytes([3u8; 32]);
/// let object = ObjectKey::create(&dek, &ObjectParams::new([5u8; 32], [0u8; 32])).unwrap();
/// let seg = object.body_key().unwrap();
/// let mut chunk = *b"last and only chunk";
/// let tag = seg.seal_chunk(0, true, &mut chunk).unwrap();
/// // Opening it as a non-final chunk fails: the final flag is authenticated.
/// let mut copy = chunk;
/// assert!(seg.open_chunk(0, false, &mut copy, &tag).is_err());
/// seg.open_chunk(0, true, &mut chunk, &tag).unwrap();
/// assert_eq!(&chunk, b"last and only chunk");
/// ```
pub struct SegmentKey {
    pub(crate) gcm: Aes256Gcm,
    pub(crate) chunk_log2: u8,
    pub(crate) segment: u32,
}

impl core::fmt::Debug for SegmentKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SegmentKey")
            .field("segment", &self.segment)
            .field("chunk_log2", &self.chunk_log2)
            .field("backend", &self.gcm.backend())
            .finish_non_exhaustive()
    }
}

/// The nonce of chunk `index`, with the final flag.
///
/// ```
/// let n = objseal_core::seal::chunk_nonce(1, true);
/// assert_eq!(n, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1]);
/// ```
pub const fn chunk_nonce(index: u32, last: bool) -> [u8; NONCE_LEN] {
    let i = index.to_be_bytes();
    [0, 0, 0, 0, 0, 0, 0, i[0], i[1], i[2], i[3], last as u8]
}

impl SegmentKey {
    /// Plaintext bytes in a full chunk.
    pub const fn chunk_size(&self) -> usize {
        1usize << self.chunk_log2
    }

    /// Ciphertext bytes of a full chunk (plaintext plus tag).
    pub const fn sealed_chunk_size(&self) -> usize {
        self.chunk_size() + TAG_LEN
    }

    /// log2 of the chunk size.
    pub const fn chunk_log2(&self) -> u8 {
        self.chunk_log2
    }

    /// The segment number this key belongs to.
    pub const fn segment(&self) -> u32 {
        self.segment
    }

    /// The AES-GCM backend in use.
    pub fn backend(&self) -> crate::gcm::Backend {
        self.gcm.backend()
    }

    fn check_geometry(&self, index: u64, last: bool, len: usize) -> Result<u32, Error> {
        let index = u32::try_from(index).map_err(|_| Error::LimitExceeded)?;
        let ok = if last {
            len <= self.chunk_size() && (len > 0 || index == 0)
        } else {
            len == self.chunk_size()
        };
        if ok { Ok(index) } else { Err(Error::BadLength) }
    }

    /// Encrypts chunk `index` of plaintext `buf` in place and returns its tag.
    ///
    /// # Errors
    /// [`Error::BadLength`] if `buf` is not a valid chunk length for its position,
    /// [`Error::LimitExceeded`] past 2^32 chunks.
    pub fn seal_chunk(&self, index: u64, last: bool, buf: &mut [u8]) -> Result<Tag, Error> {
        let index = self.check_geometry(index, last, buf.len())?;
        Ok(self.gcm.seal_in_place(&chunk_nonce(index, last), &[], buf))
    }

    /// Decrypts chunk `index` in place if `tag` verifies.
    ///
    /// On failure the buffer is zeroed, and the error says what was wrong: a chunk that verifies with
    /// the opposite final flag is genuine but misplaced — the stream was cut after it
    /// ([`Error::Truncated`]) or continues past its end ([`Error::TrailingData`]); anything else is
    /// [`Error::ChunkAuth`]. The second check runs only on the failure path.
    ///
    /// # Errors
    /// [`Error::BadLength`], [`Error::ChunkAuth`], [`Error::Truncated`] or [`Error::TrailingData`].
    pub fn open_chunk(
        &self,
        index: u64,
        last: bool,
        buf: &mut [u8],
        tag: &Tag,
    ) -> Result<(), Error> {
        let error = match self.open_exact(index, last, buf, tag) {
            Ok(()) => return Ok(()),
            // `open_exact` left the ciphertext in place, so the opposite flag can be tried.
            Err(e @ Error::ChunkAuth { .. }) => match self.open_exact(index, !last, buf, tag) {
                Ok(()) if last => Error::Truncated,
                Ok(()) => Error::TrailingData,
                Err(_) => e,
            },
            Err(e) => e,
        };
        buf.fill(0);
        Err(error)
    }

    /// One open attempt; on tag failure the buffer holds the ciphertext again.
    fn open_exact(&self, index: u64, last: bool, buf: &mut [u8], tag: &Tag) -> Result<(), Error> {
        let index32 = self.check_geometry(index, last, buf.len())?;
        self.gcm
            .open_in_place(&chunk_nonce(index32, last), &[], buf, tag)
            .map_err(|_| Error::ChunkAuth {
                segment: self.segment,
                chunk: index,
            })
    }

    /// Seals a chunk laid out as `plaintext ‖ 16 spare bytes` in `buf`: encrypts `buf[..pt_len]` and
    /// writes the tag after it. Returns the sealed length `pt_len + 16`.
    ///
    /// # Errors
    /// As [`SegmentKey::seal_chunk`], plus [`Error::BufferTooSmall`].
    pub fn seal_chunk_in_place(
        &self,
        index: u64,
        last: bool,
        buf: &mut [u8],
        pt_len: usize,
    ) -> Result<usize, Error> {
        let sealed = pt_len + TAG_LEN;
        let region = buf
            .get_mut(..sealed)
            .ok_or(Error::BufferTooSmall { needed: sealed })?;
        let (pt, tag_out) = region.split_at_mut(pt_len);
        let tag = self.seal_chunk(index, last, pt)?;
        tag_out.copy_from_slice(&tag);
        Ok(sealed)
    }

    /// Opens a sealed chunk `ciphertext ‖ tag` from `sealed` into `dst` (exactly the plaintext length).
    ///
    /// # Errors
    /// [`Error::BadLength`] if the lengths do not match; as [`SegmentKey::open_chunk`] otherwise (`dst`
    /// is then zeroed).
    pub fn open_chunk_to(
        &self,
        index: u64,
        last: bool,
        sealed: &[u8],
        dst: &mut [u8],
    ) -> Result<(), Error> {
        let pt_len = sealed.len().checked_sub(TAG_LEN).ok_or(Error::BadLength)?;
        if dst.len() != pt_len {
            return Err(Error::BadLength);
        }
        let (ct, tag) = sealed.split_at(pt_len);
        let tag: Tag = tag.try_into().map_err(|_| Error::BadLength)?;
        dst.copy_from_slice(ct);
        self.open_chunk(index, last, dst, &tag)
    }

    /// Opens the sealed slots of `buf` (consecutive `2^k + 16`-byte slots, the last maybe
    /// shorter) in place, one after another, as chunks `first_index..`; the last slot is the
    /// segment's final chunk if `last_is_final`. The serial twin of `par::open_chunks`, for
    /// batches too small to be worth other threads: on any error the whole buffer is zeroed.
    ///
    /// # Errors
    /// Chunk errors of [`SegmentKey::open_chunk_in_place`], of the first failing chunk.
    ///
    /// ```
    /// use objseal_core::{Dek, ObjectKey, ObjectParams};
    /// let key = ObjectKey::create(&Dek::from_bytes([1; 32]), &ObjectParams::new([2; 32], [3; 32]).chunk_log2(12))
    ///     .unwrap().body_key().unwrap();
    /// let mut buf = vec![5u8; 2 * (4096 + 16) + 10 + 16];
    /// for (i, slot) in buf.chunks_mut(4096 + 16).enumerate() {
    ///     let n = slot.len() - 16;
    ///     key.seal_chunk_in_place(3 + i as u64, i == 2, slot, n).unwrap();
    /// }
    /// key.open_chunks_in_place(3, &mut buf, true).unwrap();
    /// assert!(buf[..4096].iter().all(|&b| b == 5));
    /// ```
    pub fn open_chunks_in_place(
        &self,
        first_index: u64,
        buf: &mut [u8],
        last_is_final: bool,
    ) -> Result<(), Error> {
        let slots = buf.len().div_ceil(self.sealed_chunk_size());
        let result = buf
            .chunks_mut(self.sealed_chunk_size())
            .enumerate()
            .try_for_each(|(i, slot)| {
                let last = last_is_final && i + 1 == slots;
                self.open_chunk_in_place(first_index + i as u64, last, slot)
                    .map(|_| ())
            });
        if result.is_err() {
            buf.fill(0);
        }
        result
    }

    /// Opens a sealed chunk `ciphertext ‖ tag` in place; the plaintext is then `chunk[..n]` for the
    /// returned `n`.
    ///
    /// # Errors
    /// As [`SegmentKey::open_chunk`]; the whole chunk is zeroed on error.
    pub fn open_chunk_in_place(
        &self,
        index: u64,
        last: bool,
        chunk: &mut [u8],
    ) -> Result<usize, Error> {
        let Some(pt_len) = chunk.len().checked_sub(TAG_LEN) else {
            chunk.fill(0);
            return Err(Error::BadLength);
        };
        let (ct, tag) = chunk.split_at_mut(pt_len);
        let tag: Tag = (&*tag).try_into().map_err(|_| Error::BadLength)?;
        match self.open_chunk(index, last, ct, &tag) {
            Ok(()) => Ok(pt_len),
            Err(e) => {
                chunk.fill(0);
                Err(e)
            }
        }
    }
}
