//! Response bodies opened on the way out: ciphertext from the store is read a batch of chunks at
//! a time, the batch is opened on every core, and only then — every tag verified — is its
//! plaintext released. A failed chunk ends the body with an error, so the client sees a broken
//! transfer, never unverified bytes.

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
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
/// `plaintext_len` bytes.
pub(crate) fn open_body(
    input: StreamingBlob,
    pieces: Vec<Piece>,
    plaintext_len: u64,
    batch_chunks: usize,
    metrics: Arc<Metrics>,
) -> StreamingBlob {
    let (tx, body) = channel_body(plaintext_len, 2);
    tokio::spawn(async move {
        if let Err(e) = run(input, pieces, batch_chunks, &metrics, &tx).await {
            tracing::warn!(error = %e, "object body refused while reading");
            let _ = tx.send(Err(Box::new(BodyRefused(e)) as StdError)).await;
        }
    });
    body
}

/// A batch being opened on the blocking pool: its verified plaintext (slices of one buffer, the
/// tags left out), or why it was refused.
type OpenJob = tokio::task::JoinHandle<Result<Vec<Bytes>, objseal_core::Error>>;

async fn run(
    mut input: StreamingBlob,
    pieces: Vec<Piece>,
    batch_chunks: usize,
    metrics: &Arc<Metrics>,
    tx: &BodySender,
) -> Result<(), String> {
    let mut carry = Bytes::new();
    let mut pending: Option<OpenJob> = None;
    for piece in pieces {
        let sealed = piece.key.sealed_chunk_size();
        let chunk = piece.key.chunk_size() as u64;
        let mut index = piece.span.first_chunk;
        let mut ct_left = piece.span.ciphertext.end - piece.span.ciphertext.start;
        while index <= piece.span.last_chunk {
            let in_batch = (piece.span.last_chunk - index + 1).min(batch_chunks as u64);
            let want = ct_left.min(in_batch * sealed as u64) as usize;
            // Collect the batch's stored bytes without copying them; the job copies each chunk
            // into place just before opening it, on every core.
            let mut parts = Vec::new();
            let mut have = 0usize;
            while have < want {
                if carry.is_empty() {
                    carry = match input.next().await {
                        Some(Ok(b)) => b,
                        Some(Err(e)) => return Err(format!("store read failed: {e}")),
                        None => {
                            return Err(
                                "the stored object is shorter than its metadata says".into()
                            );
                        }
                    };
                }
                let n = (want - have).min(carry.len());
                parts.push(carry.split_to(n));
                have += n;
            }
            ct_left -= want as u64;
            // The previous batch was opened while this one was read.
            if let Some(job) = pending.take()
                && !release(job, metrics, tx).await?
            {
                return Ok(());
            }
            let first = index;
            index += in_batch;
            let last_is_final = piece.span.includes_final && index > piece.span.last_chunk;
            let key = Arc::clone(&piece.key);
            let wanted: Range<u64> = piece.span.plaintext.clone();
            pending = Some(tokio::task::spawn_blocking(move || {
                let mut buf = vec![0u8; want];
                open_parts(&key, first, &parts, &mut buf, last_is_final)?;
                // The verified plaintext of each slot, trimmed to the requested range.
                let buf = Bytes::from(buf);
                let mut out = Vec::with_capacity(buf.len().div_ceil(sealed));
                let mut at = 0usize;
                let mut offset = first * chunk;
                while at < buf.len() {
                    let end = (at + sealed).min(buf.len());
                    let pt_len = end - at - objseal_core::gcm::TAG_LEN;
                    let lo = wanted.start.max(offset).min(offset + pt_len as u64);
                    let hi = wanted.end.min(offset + pt_len as u64).max(lo);
                    let (lo, hi) = ((lo - offset) as usize, (hi - offset) as usize);
                    if hi > lo {
                        out.push(buf.slice(at + lo..at + hi));
                    }
                    offset += pt_len as u64;
                    at = end;
                }
                Ok(out)
            }));
        }
    }
    if let Some(job) = pending.take() {
        release(job, metrics, tx).await?;
    }
    Ok(())
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

/// Copies the sealed chunks held in `parts` (in order, `buf.len()` bytes in all) into `buf` and
/// opens them in place, chunk by chunk on every core. On any error the whole buffer is zeroed and
/// the error of the lowest failing chunk returned, so no plaintext of the batch escapes.
fn open_parts(
    key: &SegmentKey,
    first: u64,
    parts: &[Bytes],
    buf: &mut [u8],
    last_is_final: bool,
) -> Result<(), objseal_core::Error> {
    use rayon::prelude::*;
    let sealed = key.sealed_chunk_size();
    let slots = buf.len().div_ceil(sealed);
    // Where each part starts in the batch.
    let starts: Vec<usize> = parts
        .iter()
        .scan(0usize, |at, p| {
            let s = *at;
            *at += p.len();
            Some(s)
        })
        .collect();
    let result = buf
        .par_chunks_mut(sealed)
        .enumerate()
        .map(|(i, slot)| {
            let mut at = i * sealed;
            let mut filled = 0;
            let mut p = starts.partition_point(|&s| s <= at) - 1;
            while filled < slot.len() {
                let off = at - starts[p];
                let n = (parts[p].len() - off).min(slot.len() - filled);
                slot[filled..filled + n].copy_from_slice(&parts[p][off..off + n]);
                filled += n;
                at += n;
                p += 1;
            }
            let last = last_is_final && i + 1 == slots;
            key.open_chunk_in_place(first + i as u64, last, slot)
                .map(|_| ())
        })
        .reduce(|| Ok(()), |a, b| a.and(b));
    if result.is_err() {
        buf.fill(0);
    }
    result
}
