//! Lengths and byte ranges: plaintext ranges to chunk spans to ciphertext byte ranges.
//!
//! Chunk `i` of a segment starts at ciphertext offset `i · (2^k + 16)`. A span that reaches the
//! final chunk verifies that chunk first, so a suffix read can never be served from a truncated
//! object whose length an attacker chose.

use core::ops::Range;

use crate::Error;
use crate::format::header::{MAX_CHUNK_LOG2, MIN_CHUNK_LOG2};
use crate::gcm::TAG_LEN;
use crate::seal::{MAX_CHUNKS_PER_SEGMENT, SegmentKey};

const TAG: u64 = TAG_LEN as u64;

/// Number of chunks a segment of `plaintext_len` bytes has (an empty one still has one chunk).
///
/// ```
/// use objseal_core::range::chunk_count;
/// assert_eq!(chunk_count(0, 16), 1);
/// assert_eq!(chunk_count(65536, 16), 1);
/// assert_eq!(chunk_count(65537, 16), 2);
/// ```
pub const fn chunk_count(plaintext_len: u64, chunk_log2: u8) -> u64 {
    // A chunk of 2^64 bytes or more holds any length: one chunk (and no shift overflow).
    let n = match 1u64.checked_shl(chunk_log2 as u32) {
        Some(chunk) => plaintext_len.div_ceil(chunk),
        None => 1,
    };
    if n == 0 { 1 } else { n }
}

/// The format's chunk sizes only: keeps the length arithmetic below free of overflow.
fn check_chunk_log2(chunk_log2: u8) -> Result<(), Error> {
    if (MIN_CHUNK_LOG2..=MAX_CHUNK_LOG2).contains(&chunk_log2) {
        Ok(())
    } else {
        Err(Error::BadChunkSize(chunk_log2))
    }
}

/// Ciphertext length of a segment holding `plaintext_len` bytes.
///
/// # Errors
/// [`Error::LimitExceeded`] past 2^32 chunks or 2^64 bytes, [`Error::BadChunkSize`] for a
/// `chunk_log2` outside 12..=24.
///
/// ```
/// use objseal_core::range::ciphertext_len;
/// assert_eq!(ciphertext_len(0, 16).unwrap(), 16);
/// assert_eq!(ciphertext_len(65537, 16).unwrap(), 65537 + 32);
/// ```
pub fn ciphertext_len(plaintext_len: u64, chunk_log2: u8) -> Result<u64, Error> {
    check_chunk_log2(chunk_log2)?;
    let chunks = chunk_count(plaintext_len, chunk_log2);
    if chunks > MAX_CHUNKS_PER_SEGMENT {
        return Err(Error::LimitExceeded);
    }
    plaintext_len
        .checked_add(chunks * TAG)
        .ok_or(Error::LimitExceeded)
}

/// Plaintext length of a segment whose ciphertext is `ciphertext_len` bytes.
///
/// # Errors
/// [`Error::BadLength`] when no plaintext length gives that ciphertext length (e.g. a final chunk of
/// 1..=16 bytes, or an empty final chunk after a full one); [`Error::LimitExceeded`] past 2^32 chunks;
/// [`Error::BadChunkSize`] for a `chunk_log2` outside 12..=24.
///
/// ```
/// use objseal_core::range::plaintext_len;
/// assert_eq!(plaintext_len(16, 12).unwrap(), 0);
/// assert_eq!(plaintext_len(4096 + 16 + 17, 12).unwrap(), 4097);
/// assert!(plaintext_len(4096 + 16 + 16, 12).is_err());
/// assert!(plaintext_len(0, 12).is_err());
/// ```
pub fn plaintext_len(ciphertext_len: u64, chunk_log2: u8) -> Result<u64, Error> {
    check_chunk_log2(chunk_log2)?;
    let sealed = (1u64 << chunk_log2) + TAG;
    let full = ciphertext_len / sealed;
    let rem = ciphertext_len % sealed;
    let (chunks, pt) = match rem {
        0 if full == 0 => return Err(Error::BadLength),
        0 => (full, full << chunk_log2),
        r if r < TAG => return Err(Error::BadLength),
        r if r == TAG && full > 0 => return Err(Error::BadLength),
        r => (full + 1, (full << chunk_log2) + r - TAG),
    };
    if chunks > MAX_CHUNKS_PER_SEGMENT {
        return Err(Error::LimitExceeded);
    }
    Ok(pt)
}

/// A plaintext byte range, in the three forms HTTP `Range` headers take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ByteRange {
    /// Bytes `first..=last` (`bytes=first-last`); `last` is clamped to the end.
    Inclusive {
        /// First byte.
        first: u64,
        /// Last byte, inclusive.
        last: u64,
    },
    /// From `first` to the end (`bytes=first-`).
    From(u64),
    /// The last `n` bytes (`bytes=-n`).
    Suffix(u64),
}

/// Which chunks of a segment serve a range, and where they are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChunkSpan {
    /// The plaintext bytes requested, clamped to the segment.
    pub plaintext: Range<u64>,
    /// First and last chunk index (inclusive).
    pub first_chunk: u64,
    /// Last chunk index (inclusive).
    pub last_chunk: u64,
    /// Ciphertext bytes to fetch.
    pub ciphertext: Range<u64>,
    /// Whether the span holds the segment's final chunk (it is then verified first).
    pub includes_final: bool,
}

/// Maps `range` of a segment of `plaintext_len` bytes to the chunks and ciphertext bytes that serve it.
///
/// # Errors
/// [`Error::RangeNotSatisfiable`] for an empty object, a start past the end, `first > last` or an
/// empty suffix; [`Error::BadChunkSize`] for a `chunk_log2` outside 12..=24; [`Error::LimitExceeded`]
/// for a length past the format's limits.
///
/// ```
/// use objseal_core::range::{plan_range, ByteRange};
/// // 64 KiB chunks; bytes 70000..=70009 lie in chunk 1.
/// let span = plan_range(200_000, 16, ByteRange::Inclusive { first: 70_000, last: 70_009 }).unwrap();
/// assert_eq!((span.first_chunk, span.last_chunk), (1, 1));
/// assert_eq!(span.ciphertext, 65552..131104);
/// // A suffix always includes, and verifies, the final chunk.
/// assert!(plan_range(200_000, 16, ByteRange::Suffix(5)).unwrap().includes_final);
/// ```
pub fn plan_range(
    plaintext_len: u64,
    chunk_log2: u8,
    range: ByteRange,
) -> Result<ChunkSpan, Error> {
    check_chunk_log2(chunk_log2)?;
    let (start, end) = match range {
        ByteRange::Inclusive { first, last } if first <= last && first < plaintext_len => {
            (first, last.saturating_add(1).min(plaintext_len))
        }
        ByteRange::From(first) if first < plaintext_len => (first, plaintext_len),
        ByteRange::Suffix(n) if n > 0 && plaintext_len > 0 => {
            (plaintext_len - n.min(plaintext_len), plaintext_len)
        }
        _ => return Err(Error::RangeNotSatisfiable),
    };
    let total_ct = ciphertext_len(plaintext_len, chunk_log2)?;
    let sealed = (1u64 << chunk_log2) + TAG;
    let first_chunk = start >> chunk_log2;
    let last_chunk = (end - 1) >> chunk_log2;
    let final_chunk = chunk_count(plaintext_len, chunk_log2) - 1;
    Ok(ChunkSpan {
        plaintext: start..end,
        first_chunk,
        last_chunk,
        ciphertext: first_chunk * sealed..((last_chunk + 1) * sealed).min(total_ct),
        includes_final: last_chunk == final_chunk,
    })
}

/// Opens the chunks of `span` held in `buf` (exactly the span's ciphertext bytes) in place and returns
/// where in `buf` the requested plaintext now lies. The final chunk, when in the span, is verified
/// before any other, so a truncated or extended object is refused before any byte is returned.
///
/// # Errors
/// [`Error::BadLength`] if `buf` is not the span's length or the span is inconsistent (as a
/// hand-built one may be); any chunk error. On error `buf` is zeroed.
///
/// ```
/// use objseal_core::{Dek, ObjectKey, ObjectParams};
/// use objseal_core::range::{open_span_in_place, plan_range, ByteRange};
/// let key = ObjectKey::create(&Dek::from_bytes([1; 32]), &ObjectParams::new([2; 32], [3; 32]).chunk_log2(12))
///     .unwrap().body_key().unwrap();
/// let plaintext: Vec<u8> = (0..10_000u32).map(|i| i as u8).collect();
/// let mut body = vec![0u8; objseal_core::range::ciphertext_len(10_000, 12).unwrap() as usize];
/// objseal_core::stream::seal_segment(&key, &plaintext, &mut body).unwrap();
/// let span = plan_range(10_000, 12, ByteRange::Suffix(5000)).unwrap();
/// let mut part = body[span.ciphertext.start as usize..span.ciphertext.end as usize].to_vec();
/// let got = open_span_in_place(&key, &span, &mut part).unwrap();
/// assert_eq!(&part[got], &plaintext[5000..]);
/// ```
pub fn open_span_in_place(
    key: &SegmentKey,
    span: &ChunkSpan,
    buf: &mut [u8],
) -> Result<Range<usize>, Error> {
    let result = open_span_inner(key, span, buf);
    if result.is_err() {
        buf.fill(0);
    }
    result
}

fn open_span_inner(
    key: &SegmentKey,
    span: &ChunkSpan,
    buf: &mut [u8],
) -> Result<Range<usize>, Error> {
    let sealed = key.sealed_chunk_size();
    let chunks = span
        .last_chunk
        .checked_sub(span.first_chunk)
        .and_then(|n| usize::try_from(n).ok())
        .and_then(|n| n.checked_add(1))
        .ok_or(Error::BadLength)?;
    if span.ciphertext.end.checked_sub(span.ciphertext.start) != Some(buf.len() as u64)
        || buf.len().div_ceil(sealed) != chunks
    {
        return Err(Error::BadLength);
    }
    let last_pos = chunks - 1;
    let mut final_pt = 0;
    if span.includes_final {
        let at = last_pos * sealed;
        final_pt = key.open_chunk_in_place(span.last_chunk, true, &mut buf[at..])?;
    }
    let mut written = 0usize;
    for pos in 0..chunks {
        let at = pos * sealed;
        let pt_len = if pos == last_pos && span.includes_final {
            final_pt
        } else {
            let end = (at + sealed).min(buf.len());
            key.open_chunk_in_place(span.first_chunk + pos as u64, false, &mut buf[at..end])?
        };
        buf.copy_within(at..at + pt_len, written);
        written += pt_len;
    }
    // Every chunk index opened, so `first_chunk` < 2^32 and the shift cannot overflow.
    let chunk_start = span.first_chunk << key.chunk_log2();
    let offset = |at: u64| {
        at.checked_sub(chunk_start)
            .and_then(|n| usize::try_from(n).ok())
            .filter(|n| *n <= written)
    };
    let (Some(from), Some(to)) = (offset(span.plaintext.start), offset(span.plaintext.end)) else {
        return Err(Error::BadLength);
    };
    if from > to {
        return Err(Error::BadLength);
    }
    buf[written..].fill(0);
    Ok(from..to)
}
