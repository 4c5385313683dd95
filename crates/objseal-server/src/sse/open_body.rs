//! Response bodies opened on the way out: ciphertext from the store is read a batch of chunks at
//! a time, the batch is opened on every core, and only then — every tag verified — is its
//! plaintext released. A failed chunk ends the body with an error, so the client sees a broken
//! transfer, never unverified bytes.

use std::ops::Range;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use futures::StreamExt as _;
use s3s::StdError;
use s3s::dto::StreamingBlob;

use objseal_core::SegmentKey;
use objseal_core::range::ChunkSpan;

use super::channel::{BodySender, channel_body};
use super::seal_body::BodyRefused;
use crate::metrics::Metrics;

/// One segment's share of a read: its key and the chunks that serve the range.
pub(crate) struct Piece {
    /// Position of the segment in the object's layout.
    pub segment: usize,
    pub key: Arc<SegmentKey>,
    pub span: ChunkSpan,
}

/// Opens `input` — the concatenated ciphertext of `pieces`, in order — into a plaintext body of
/// `plaintext_len` bytes, `batch_chunks` chunks a batch; batches of at most `inline_max` sealed
/// bytes are opened on the task's own thread, larger ones on every core.
pub(crate) fn open_body(
    input: StreamingBlob,
    pieces: Vec<Piece>,
    plaintext_len: u64,
    batch_chunks: usize,
    inline_max: usize,
    metrics: Arc<Metrics>,
) -> StreamingBlob {
    open_body_with(
        input,
        pieces,
        plaintext_len,
        Batching {
            chunks: batch_chunks,
            inline_max,
        },
        metrics,
    )
}

/// How a read's chunks are grouped and where they are opened.
#[derive(Clone, Copy)]
struct Batching {
    /// Chunks a batch gathers before it is opened.
    chunks: usize,
    /// Batches of at most this many sealed bytes are opened inline
    /// ([`SseConfig::open_inline_max`](super::SseConfig::open_inline_max)).
    inline_max: usize,
}

fn open_body_with(
    input: StreamingBlob,
    pieces: Vec<Piece>,
    plaintext_len: u64,
    batching: Batching,
    metrics: Arc<Metrics>,
) -> StreamingBlob {
    let (tx, body) = channel_body(Some(plaintext_len), 2);
    tokio::spawn(async move {
        if let Err(e) = run(input, pieces, batching, &metrics, &tx).await {
            tracing::warn!(error = %e, "object body refused while reading");
            let _ = tx.send(Err(Box::new(BodyRefused(e)) as StdError)).await;
        }
    });
    body
}

/// A run of whole sealed chunks of one segment, in one buffer: chunks `first..` of `key`, the last
/// one the segment's final chunk if `last_is_final`.
struct Unit {
    buf: Sealed,
    key: Arc<SegmentKey>,
    first: u64,
    last_is_final: bool,
    /// The plaintext bytes of the segment the read wants.
    wanted: Range<u64>,
}

/// A unit's sealed bytes: ours to open in place, or shared with the store's reader (its buffer
/// still refers to them), to be opened into a buffer of their own chunk by chunk.
enum Sealed {
    Owned(BytesMut),
    Shared(Bytes),
}

impl Sealed {
    fn len(&self) -> usize {
        match self {
            Sealed::Owned(b) => b.len(),
            Sealed::Shared(b) => b.len(),
        }
    }
}

/// A batch being opened on the blocking pool: its verified plaintext (slices of the stored
/// buffers, the tags left out), or why it was refused.
type OpenJob = super::cpu::CpuJob<Result<Vec<Bytes>, objseal_core::Error>>;

/// Cuts the store's buffers into [`Unit`]s without copying them: whole chunks inside one of the
/// store's buffers are opened from where they lie (in place when the buffer is ours alone, else
/// into a fresh buffer, chunk by chunk on every core); only a chunk split across two buffers is
/// copied together.
async fn run(
    mut input: StreamingBlob,
    pieces: Vec<Piece>,
    batching: Batching,
    metrics: &Arc<Metrics>,
    tx: &BodySender,
) -> Result<(), String> {
    let mut carry = Bytes::new();
    let mut pending: Option<OpenJob> = None;
    let mut batch: Vec<Unit> = Vec::new();
    let mut batched = 0u64;
    for piece in pieces {
        let sealed = piece.key.sealed_chunk_size() as u64;
        let span = &piece.span;
        let ct_len = span.ciphertext.end - span.ciphertext.start;
        let unit = |buf: Sealed, first: u64, last: u64| Unit {
            buf,
            key: Arc::clone(&piece.key),
            first,
            last_is_final: span.includes_final && last == span.last_chunk,
            wanted: span.plaintext.clone(),
        };
        let mut pos = 0u64; // ciphertext bytes of this piece consumed
        let mut partial = BytesMut::new();
        while pos < ct_len {
            if carry.is_empty() {
                carry = match input.next().await {
                    Some(Ok(b)) => b,
                    Some(Err(e)) => return Err(format!("store read failed: {e}")),
                    None => {
                        return Err("the stored object is shorter than its metadata says".into());
                    }
                };
            }
            let index = span.first_chunk + pos / sealed;
            let chunk_len = sealed.min(ct_len - (pos / sealed) * sealed);
            let at = pos % sealed;
            let new = if at == 0 && carry.len() as u64 >= chunk_len {
                // Whole chunks lie in this buffer: take as many as it holds, in place (the
                // piece's short final chunk counts once it is all here).
                let avail = (carry.len() as u64).min(ct_len - pos);
                let mut take = avail / sealed * sealed;
                if pos + avail == ct_len {
                    take = avail;
                }
                let n = take.div_ceil(sealed);
                pos += take;
                let run = carry.split_to(take as usize);
                let buf = run
                    .try_into_mut()
                    .map_or_else(Sealed::Shared, Sealed::Owned);
                Some(unit(buf, index, index + n - 1))
            } else {
                // A chunk split across buffers: gather it.
                let n = (chunk_len - at).min(carry.len() as u64) as usize;
                partial.extend_from_slice(&carry.split_to(n));
                pos += n as u64;
                (partial.len() as u64 == chunk_len)
                    .then(|| unit(Sealed::Owned(std::mem::take(&mut partial)), index, index))
            };
            let Some(new) = new else { continue };
            batched += (new.buf.len() as u64).div_ceil(sealed);
            batch.push(new);
            if batched >= batching.chunks as u64 {
                if let Some(job) = pending.take()
                    && !release(job, metrics, tx).await?
                {
                    return Ok(());
                }
                pending = Some(open_units(std::mem::take(&mut batch), batching.inline_max));
                batched = 0;
            }
        }
    }
    if let Some(job) = pending.take()
        && !release(job, metrics, tx).await?
    {
        return Ok(());
    }
    if !batch.is_empty() {
        release(open_units(batch, batching.inline_max), metrics, tx).await?;
    }
    Ok(())
}

/// Opens a batch of units — on every core, or inline when it is small; on any failure every
/// buffer of the batch is zeroed and the error of the lowest failing chunk returned, so no
/// plaintext of the batch escapes.
fn open_units(units: Vec<Unit>, inline_max: usize) -> OpenJob {
    if units.iter().map(|u| u.buf.len()).sum::<usize>() <= inline_max {
        return super::cpu::CpuJob::ready(open_batch(units, false));
    }
    super::cpu::spawn(move || open_batch(units, true))
}

fn open_batch(units: Vec<Unit>, parallel: bool) -> Result<Vec<Bytes>, objseal_core::Error> {
    use rayon::prelude::*;
    let open = |mut u: Unit| {
        let r = open_unit(&mut u, parallel);
        (u, r)
    };
    let mut opened: Vec<(Unit, Result<Opened, objseal_core::Error>)> = if parallel {
        units.into_par_iter().map(open).collect()
    } else {
        units.into_iter().map(open).collect()
    };
    if let Some(e) = opened.iter().find_map(|(_, r)| r.as_ref().err().copied()) {
        for (u, r) in &mut opened {
            if let Sealed::Owned(b) = &mut u.buf {
                b.fill(0);
            }
            if let Ok(Opened::Compact(b)) = r {
                b.fill(0);
            }
        }
        return Err(e);
    }
    // The verified plaintext of each chunk, trimmed to the requested range.
    let mut out = Vec::new();
    for (u, r) in opened {
        let chunk = u.key.chunk_size() as u64;
        let start = u.first * chunk;
        match r {
            Ok(Opened::InPlace) => {
                let Sealed::Owned(b) = u.buf else { continue };
                let (sealed, buf) = (u.key.sealed_chunk_size(), b.freeze());
                let mut at = 0usize;
                let mut offset = start;
                while at < buf.len() {
                    let end = (at + sealed).min(buf.len());
                    let pt_len = (end - at - objseal_core::gcm::TAG_LEN) as u64;
                    push_wanted(
                        &mut out,
                        &buf.slice(at..at + pt_len as usize),
                        offset,
                        &u.wanted,
                    );
                    offset += pt_len;
                    at = end;
                }
            }
            Ok(Opened::Compact(b)) => push_wanted(&mut out, &Bytes::from(b), start, &u.wanted),
            Err(_) => {}
        }
    }
    Ok(out)
}

/// Where a unit's plaintext went.
enum Opened {
    /// Into the unit's own buffer, each chunk's plaintext ahead of its tag.
    InPlace,
    /// Into this buffer, back to back.
    Compact(Vec<u8>),
}

fn open_unit(u: &mut Unit, parallel: bool) -> Result<Opened, objseal_core::Error> {
    use objseal_core::par;
    if !parallel {
        // Serially, in place: a shared buffer is copied first (it is small, and in cache).
        if let Sealed::Shared(b) = &u.buf {
            u.buf = Sealed::Owned(BytesMut::from(&b[..]));
        }
        let Sealed::Owned(b) = &mut u.buf else {
            unreachable!("made owned above")
        };
        return u
            .key
            .open_chunks_in_place(u.first, b, u.last_is_final)
            .map(|()| Opened::InPlace);
    }
    match &mut u.buf {
        Sealed::Owned(b) => {
            par::open_chunks(&u.key, u.first, b, u.last_is_final).map(|()| Opened::InPlace)
        }
        Sealed::Shared(b) => {
            let slots = b.len().div_ceil(u.key.sealed_chunk_size());
            let mut plain = vec![0u8; b.len().saturating_sub(slots * objseal_core::gcm::TAG_LEN)];
            par::open_chunks_to(&u.key, u.first, b, &mut plain, u.last_is_final)?;
            Ok(Opened::Compact(plain))
        }
    }
}

/// Pushes the part of `plain` (the plaintext from object offset `offset`) that `wanted` covers.
fn push_wanted(out: &mut Vec<Bytes>, plain: &Bytes, offset: u64, wanted: &Range<u64>) {
    let end = offset + plain.len() as u64;
    let lo = wanted.start.clamp(offset, end);
    let hi = wanted.end.clamp(lo, end);
    if hi > lo {
        out.push(plain.slice((lo - offset) as usize..(hi - offset) as usize));
    }
}

/// Waits for an opened batch and sends its plaintext; `false` once the client has gone away.
async fn release(job: OpenJob, metrics: &Metrics, tx: &BodySender) -> Result<bool, String> {
    let out = job
        .await
        .map_err(|_| "opening task failed".to_owned())?
        .map_err(|e| format!("chunk verification failed: {e}"))?;
    metrics.opened(out.iter().map(|b| b.len() as u64).sum());
    Ok(out.is_empty() || tx.send(Ok(out)).await.is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use objseal_core::range::{ByteRange, ciphertext_len, plan_range};
    use objseal_core::{Dek, ObjectKey, ObjectParams};

    /// The stored bytes cut into buffers of `cut` bytes (the store's choice, not ours): buffers of
    /// their own for even cuts, slices of one shared buffer (opened into fresh ones) for odd ones.
    fn blob(bytes: &[u8], cut: usize) -> StreamingBlob {
        let whole = Bytes::copy_from_slice(bytes);
        let parts: Vec<Result<Bytes, std::io::Error>> = (0..bytes.len())
            .step_by(cut)
            .map(|at| {
                let end = (at + cut).min(bytes.len());
                Ok(if cut % 2 == 1 {
                    whole.slice(at..end)
                } else {
                    Bytes::copy_from_slice(&bytes[at..end])
                })
            })
            .collect();
        StreamingBlob::wrap(futures::stream::iter(parts))
    }

    async fn read(body: StreamingBlob) -> Result<Vec<u8>, ()> {
        let mut body = body;
        let mut out = Vec::new();
        while let Some(b) = body.next().await {
            out.extend_from_slice(&b.map_err(|_| ())?);
        }
        Ok(out)
    }

    #[tokio::test]
    async fn any_store_buffering_and_range_reads_the_right_verified_bytes() {
        let object = ObjectKey::create(
            &Dek::from_bytes([3; 32]),
            &ObjectParams::new([4; 32], [5; 32]).chunk_log2(12),
        )
        .unwrap();
        let key = Arc::new(object.body_key().unwrap());
        let plain: Vec<u8> = (0..30_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut sealed = vec![0u8; ciphertext_len(plain.len() as u64, 12).unwrap() as usize];
        objseal_core::stream::seal_segment(&key, &plain, &mut sealed).unwrap();
        let metrics = Arc::new(Metrics::default());
        for cut in [1, 7, 4095, 4111, 4112, 4113, 8224, 10_000, 1 << 20] {
            for (first, last) in [
                (0, 29_999),
                (0, 0),
                (4095, 4096),
                (5000, 13_000),
                (29_000, 29_999),
                (8192, 8192),
            ] {
                let span = plan_range(plain.len() as u64, 12, ByteRange::Inclusive { first, last })
                    .unwrap();
                let stored = &sealed[span.ciphertext.start as usize..span.ciphertext.end as usize];
                // Every batch opened on rayon (inline_max 0), and every one inline.
                for (chunks, inline_max) in
                    [(1, 0), (3, 0), (16, 0), (1, usize::MAX), (3, usize::MAX)]
                {
                    let piece = Piece {
                        segment: 0,
                        key: Arc::clone(&key),
                        span: span.clone(),
                    };
                    let body = open_body_with(
                        blob(stored, cut),
                        vec![piece],
                        last - first + 1,
                        Batching { chunks, inline_max },
                        metrics.clone(),
                    );
                    let got = read(body).await.unwrap();
                    assert_eq!(
                        got,
                        &plain[first as usize..=last as usize],
                        "cut {cut} range {first}-{last} batch {chunks} inline {inline_max}"
                    );
                }
                // One flipped bit anywhere: the body fails, and what came before is only
                // verified plaintext of the range.
                let mut bad = stored.to_vec();
                let at = bad.len() / 2;
                bad[at] ^= 1;
                for inline_max in [0, usize::MAX] {
                    let piece = Piece {
                        segment: 0,
                        key: Arc::clone(&key),
                        span: span.clone(),
                    };
                    let mut body = open_body_with(
                        blob(&bad, cut),
                        vec![piece],
                        last - first + 1,
                        Batching {
                            chunks: 2,
                            inline_max,
                        },
                        metrics.clone(),
                    );
                    let mut released = Vec::new();
                    let mut failed = false;
                    while let Some(b) = body.next().await {
                        match b {
                            Ok(b) => released.extend_from_slice(&b),
                            Err(_) => failed = true,
                        }
                    }
                    assert!(
                        failed,
                        "cut {cut} range {first}-{last} inline {inline_max}: tampering undetected"
                    );
                    assert!(plain[first as usize..].starts_with(&released));
                }
            }
        }
    }
}
