//! Many chunks at once with rayon: chunk-granular work stealing, nothing allocated per chunk, and
//! output byte-identical to the serial path (each chunk's nonce depends only on its index).
//!
//! Buffers use the sealed layout: consecutive slots of `2^k + 16` bytes, each holding a chunk's
//! plaintext followed by room for (or the bytes of) its tag; the last slot may be shorter.

use rayon::prelude::*;

use crate::Error;
use crate::gcm::TAG_LEN;
use crate::range::{chunk_count, ciphertext_len, plaintext_len};
use crate::seal::SegmentKey;

/// Seals the slots of `buf` in parallel as chunks `first_index..`; the last slot is the segment's
/// final chunk if `last_is_final`. Each slot holds `slot.len() − 16` plaintext bytes.
///
/// # Errors
/// [`Error::BadLength`] for a slot of an impossible length, [`Error::LimitExceeded`].
///
/// ```
/// use objseal_core::{Dek, ObjectKey, ObjectParams, par};
/// let key = ObjectKey::create(&Dek::from_bytes([1; 32]), &ObjectParams::new([2; 32], [3; 32]).chunk_log2(12))
///     .unwrap().body_key().unwrap();
/// let mut buf = vec![5u8; 3 * (4096 + 16) + 100 + 16];
/// par::seal_chunks(&key, 0, &mut buf, true).unwrap();
/// par::open_chunks(&key, 0, &mut buf, true).unwrap();
/// assert!(buf[..4096].iter().all(|&b| b == 5));
/// ```
pub fn seal_chunks(
    key: &SegmentKey,
    first_index: u64,
    buf: &mut [u8],
    last_is_final: bool,
) -> Result<(), Error> {
    let slots = buf.len().div_ceil(key.sealed_chunk_size());
    buf.par_chunks_mut(key.sealed_chunk_size())
        .enumerate()
        .try_for_each(|(i, slot)| {
            let pt_len = slot.len().checked_sub(TAG_LEN).ok_or(Error::BadLength)?;
            let last = last_is_final && i + 1 == slots;
            key.seal_chunk_in_place(first_index + i as u64, last, slot, pt_len)
                .map(|_| ())
        })
}

/// Opens the sealed slots of `buf` in parallel, in place; each slot's plaintext is then its first
/// `slot.len() − 16` bytes. On any error the whole buffer is zeroed, so no plaintext of the batch
/// escapes, and the error of the lowest failing chunk is returned.
///
/// # Errors
/// Chunk errors of [`SegmentKey::open_chunk_in_place`].
pub fn open_chunks(
    key: &SegmentKey,
    first_index: u64,
    buf: &mut [u8],
    last_is_final: bool,
) -> Result<(), Error> {
    let slots = buf.len().div_ceil(key.sealed_chunk_size());
    let result = buf
        .par_chunks_mut(key.sealed_chunk_size())
        .enumerate()
        .map(|(i, slot)| {
            let last = last_is_final && i + 1 == slots;
            key.open_chunk_in_place(first_index + i as u64, last, slot)
                .map(|_| ())
        })
        .reduce(|| Ok(()), |a, b| a.and(b));
    if result.is_err() {
        buf.fill(0);
    }
    result
}

/// Opens the sealed slots of `sealed` (chunks `first_index..`, the last one the segment's final
/// chunk if `last_is_final`) into `out`, which receives their plaintext back to back (`sealed`'s
/// length less 16 bytes a slot). For input the caller cannot write to: each chunk is copied while
/// it is in cache and opened there, on every core, instead of a copy of the whole batch first. On
/// any error `out` is zeroed and the error of the lowest failing chunk returned.
///
/// # Errors
/// [`Error::BufferTooSmall`] if `out` has not exactly the plaintext's length; chunk errors of
/// [`SegmentKey::open_chunk_in_place`].
///
/// ```
/// use objseal_core::{Dek, ObjectKey, ObjectParams, par};
/// let key = ObjectKey::create(&Dek::from_bytes([1; 32]), &ObjectParams::new([2; 32], [3; 32]).chunk_log2(12))
///     .unwrap().body_key().unwrap();
/// let mut sealed = vec![5u8; 2 * (4096 + 16) + 100 + 16];
/// par::seal_chunks(&key, 7, &mut sealed, true).unwrap();
/// let mut out = vec![0u8; 2 * 4096 + 100];
/// par::open_chunks_to(&key, 7, &sealed, &mut out, true).unwrap();
/// assert!(out.iter().all(|&b| b == 5));
/// ```
pub fn open_chunks_to(
    key: &SegmentKey,
    first_index: u64,
    sealed: &[u8],
    out: &mut [u8],
    last_is_final: bool,
) -> Result<(), Error> {
    let result = open_chunks_to_inner(key, first_index, sealed, out, last_is_final);
    if result.is_err() {
        out.fill(0);
    }
    result
}

fn open_chunks_to_inner(
    key: &SegmentKey,
    first: u64,
    sealed: &[u8],
    out: &mut [u8],
    last_is_final: bool,
) -> Result<(), Error> {
    let slot = key.sealed_chunk_size();
    let slots = sealed.len().div_ceil(slot);
    let last_len = sealed.len() - slots.saturating_sub(1) * slot;
    if slots > 0 && last_len < TAG_LEN {
        return Err(Error::BadLength);
    }
    let pt_len = sealed.len() - slots * TAG_LEN;
    if out.len() != pt_len {
        return Err(Error::BufferTooSmall { needed: pt_len });
    }
    // A last slot of a bare tag (an empty final chunk) has no plaintext to pair with.
    let bare_tag = slots > 0 && last_len == TAG_LEN;
    let with_plaintext = slots - usize::from(bare_tag);
    out.par_chunks_mut(key.chunk_size())
        .zip(sealed.par_chunks(slot))
        .enumerate()
        .map(|(i, (dst, src))| {
            let last = last_is_final && i + 1 == slots;
            key.open_chunk_to(first + i as u64, last, src, dst)
        })
        .reduce(|| Ok(()), |a, b| a.and(b))?;
    if bare_tag {
        let at = (slots - 1) * slot;
        key.open_chunk_to(
            first + with_plaintext as u64,
            last_is_final,
            &sealed[at..],
            &mut [],
        )?;
    }
    Ok(())
}

/// Parallel [`crate::stream::seal_segment`]: seals all of `plaintext` into `out` (its ciphertext length).
///
/// # Errors
/// As [`crate::stream::seal_segment`].
pub fn seal_segment(key: &SegmentKey, plaintext: &[u8], out: &mut [u8]) -> Result<usize, Error> {
    let ct_len = ciphertext_len(plaintext.len() as u64, key.chunk_log2())?;
    if out.len() as u64 != ct_len {
        return Err(Error::BufferTooSmall {
            needed: ct_len as usize,
        });
    }
    let chunks = chunk_count(plaintext.len() as u64, key.chunk_log2()) as usize;
    let c = key.chunk_size();
    out.par_chunks_mut(key.sealed_chunk_size())
        .enumerate()
        .try_for_each(|(i, slot)| {
            let pt = &plaintext[(i * c).min(plaintext.len())..((i + 1) * c).min(plaintext.len())];
            slot[..pt.len()].copy_from_slice(pt);
            key.seal_chunk_in_place(i as u64, i + 1 == chunks, slot, pt.len())
                .map(|_| ())
        })?;
    Ok(out.len())
}

/// Parallel [`crate::stream::open_segment`]: opens `ciphertext` into `out`; zeroes `out` on error.
///
/// # Errors
/// As [`crate::stream::open_segment`].
pub fn open_segment(key: &SegmentKey, ciphertext: &[u8], out: &mut [u8]) -> Result<usize, Error> {
    let result = open_segment_inner(key, ciphertext, out);
    if result.is_err() {
        out.fill(0);
    }
    result
}

fn open_segment_inner(key: &SegmentKey, ciphertext: &[u8], out: &mut [u8]) -> Result<usize, Error> {
    let pt_len = plaintext_len(ciphertext.len() as u64, key.chunk_log2())? as usize;
    let out_region = out
        .get_mut(..pt_len)
        .ok_or(Error::BufferTooSmall { needed: pt_len })?;
    let chunks = ciphertext.len().div_ceil(key.sealed_chunk_size());
    let c = key.chunk_size();
    let result = out_region
        .par_chunks_mut(c)
        .zip(ciphertext.par_chunks(key.sealed_chunk_size()))
        .enumerate()
        .map(|(i, (dst, sealed))| key.open_chunk_to(i as u64, i + 1 == chunks, sealed, dst))
        .reduce(|| Ok(()), |a, b| a.and(b));
    // An empty segment has no plaintext slot to pair with its one chunk: open it on its own.
    let result = if pt_len == 0 {
        key.open_chunk_to(0, true, ciphertext, &mut [])
    } else {
        result
    };
    result.map(|()| pt_len)
}
