//! Request bodies sealed on the way to the store: the plaintext is cut into chunks, batches of
//! chunks are checked and sealed on every core while the next batch is read, and the ciphertext
//! flows on through a bounded channel — a request holds a few batches, whatever its size.

use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt as _;
use s3s::dto::StreamingBlob;
use s3s::{S3Error, S3ErrorCode};
use tokio::sync::oneshot;

use objseal_core::SegmentKey;
use objseal_core::gcm::TAG_LEN;
use objseal_core::range::{chunk_count, ciphertext_len};

use super::channel::{BodySender, channel_body};
use super::checksum::{BodyChecks, BodyDigests};
use crate::metrics::Metrics;

/// How to seal one body.
pub(crate) struct SealPlan {
    /// The segment key; `None` passes the plaintext through unchanged (checks still run).
    pub key: Option<SegmentKey>,
    /// The plaintext length the request declared; `None` for a body whose end is its length
    /// (a POST form's file), sealed with one chunk of lookahead.
    pub plaintext_len: Option<u64>,
    pub checks: BodyChecks,
    pub batch_chunks: usize,
    pub metrics: Arc<Metrics>,
}

/// Called with the body's digests once all of it has been read and checked, before the sealed
/// stream ends: the place to hand late metadata to the store.
pub(crate) type OnComplete = Box<dyn FnOnce(&BodyDigests) + Send>;

/// The sealed body for the store, and where the digests arrive once it has been read.
pub(crate) struct SealedBody {
    pub body: StreamingBlob,
    /// The stored length, when the plaintext length was declared.
    pub stored_len: Option<u64>,
    pub digests: oneshot::Receiver<Result<BodyDigests, S3Error>>,
}

/// Starts sealing `input` by `plan`; the returned body yields the ciphertext, then ends with an
/// error (never a clean end) if the input was short, long, or failed its checks.
pub(crate) fn seal_body(
    input: StreamingBlob,
    plan: SealPlan,
    on_complete: OnComplete,
) -> Result<SealedBody, S3Error> {
    let stored_len = match (&plan.key, plan.plaintext_len) {
        (Some(k), Some(len)) => Some(ciphertext_len(len, k.chunk_log2()).map_err(|_| {
            S3Error::with_message(S3ErrorCode::EntityTooLarge, "The object is too large.")
        })?),
        (_, len) => len,
    };
    let (tx, body) = channel_body(stored_len, 2);
    let (done_tx, digests) = oneshot::channel();
    tokio::spawn(async move {
        let result = run(input, plan, &tx).await;
        match result {
            Ok(digests) => {
                on_complete(&digests);
                let _ = done_tx.send(Ok(digests));
                // Dropping `tx` ends the stream cleanly: the store may now commit.
            }
            Err(e) => {
                let msg = e.message().unwrap_or("request body refused").to_owned();
                let _ = done_tx.send(Err(e));
                let _ = tx.send(Err(Box::new(BodyRefused(msg)))).await;
            }
        }
    });
    Ok(SealedBody {
        body,
        stored_len,
        digests,
    })
}

/// The error a refused body ends with (the store sees it and stores nothing).
#[derive(Debug)]
pub(crate) struct BodyRefused(pub String);
impl std::fmt::Display for BodyRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "request body refused: {}", self.0)
    }
}
impl std::error::Error for BodyRefused {}

/// What a failed input stream means: a copy source that failed verification (our own opening
/// stream ended it) is the server's 500, anything else the client's incomplete body.
fn input_error(e: &(dyn std::error::Error + 'static)) -> S3Error {
    if e.downcast_ref::<BodyRefused>().is_some() {
        return super::errors::corrupt("the copy source");
    }
    if crate::server::stall::is_stalled(e) {
        return S3Error::with_message(
            S3ErrorCode::RequestTimeout,
            "Your socket connection to the server was not read from or written to within the \
             timeout period. Idle connections will be closed.",
        );
    }
    S3Error::with_message(
        S3ErrorCode::IncompleteBody,
        format!("The request body could not be read: {e}"),
    )
}

/// Reads up to `want` bytes of `input` into `out` (appending), stopping early only where the input
/// ends; returns how many it read.
async fn fill_upto(
    input: &mut StreamingBlob,
    carry: &mut Bytes,
    out: &mut Vec<u8>,
    want: usize,
) -> Result<usize, S3Error> {
    let mut got = 0;
    while got < want {
        if carry.is_empty() {
            match input.next().await {
                Some(Ok(b)) => *carry = b,
                Some(Err(e)) => return Err(input_error(&*e)),
                None => break,
            }
        }
        let n = (want - got).min(carry.len());
        out.extend_from_slice(&carry.split_to(n));
        got += n;
    }
    Ok(got)
}

/// Whether `input` has more (non-empty) data, which is then in `carry`.
async fn more(input: &mut StreamingBlob, carry: &mut Bytes) -> Result<bool, S3Error> {
    while carry.is_empty() {
        match input.next().await {
            Some(Ok(b)) => *carry = b,
            Some(Err(e)) => return Err(input_error(&*e)),
            None => return Ok(false),
        }
    }
    Ok(true)
}

/// Reads exactly `want` bytes of `input` into `out` (appending), `carry` holding what the last
/// item had left over.
async fn fill(
    input: &mut StreamingBlob,
    carry: &mut Bytes,
    out: &mut Vec<u8>,
    want: usize,
) -> Result<(), S3Error> {
    if fill_upto(input, carry, out, want).await? < want {
        return Err(S3Error::with_message(
            S3ErrorCode::IncompleteBody,
            "You did not provide the number of bytes specified by the Content-Length HTTP header.",
        ));
    }
    Ok(())
}

async fn run(
    mut input: StreamingBlob,
    plan: SealPlan,
    tx: &BodySender,
) -> Result<BodyDigests, S3Error> {
    let SealPlan {
        key,
        plaintext_len,
        checks,
        batch_chunks,
        metrics,
    } = plan;
    let key = key.map(Arc::new);
    // Sealed bodies are cut into the format's chunks, each slot with room for its tag; plain ones
    // into 64 KiB pieces, only to be checked in batches of the same size.
    let (chunk, tag) = match &key {
        Some(k) => (k.chunk_size(), TAG_LEN),
        None => (1 << 16, 0),
    };
    let total_chunks = plaintext_len.map(|len| match &key {
        Some(k) => chunk_count(len, k.chunk_log2()),
        None => len.div_ceil(1 << 16),
    });
    let mut carry = Bytes::new();
    let mut remaining = plaintext_len;
    let mut read = 0u64;
    let mut next_chunk = 0u64;
    let mut checks = Some(checks);
    let mut pending: Option<SealJob> = None;
    let mut finished = total_chunks == Some(0);
    while !finished {
        let in_batch = total_chunks.map_or(batch_chunks as u64, |t| {
            (t - next_chunk).min(batch_chunks as u64)
        }) as usize;
        let mut batch = Vec::with_capacity(in_batch * (chunk + tag));
        let mut lens = Vec::with_capacity(in_batch);
        let mut last_is_final = false;
        for _ in 0..in_batch {
            let pt = match &mut remaining {
                Some(r) => {
                    let pt = usize::try_from((*r).min(chunk as u64)).unwrap_or(chunk);
                    fill(&mut input, &mut carry, &mut batch, pt).await?;
                    *r -= pt as u64;
                    pt
                }
                None => {
                    let n = fill_upto(&mut input, &mut carry, &mut batch, chunk).await?;
                    if n == 0 && next_chunk + lens.len() as u64 > 0 {
                        // The input ended on a chunk boundary: the chunk before was the last.
                        last_is_final = true;
                        break;
                    }
                    last_is_final = n < chunk;
                    n
                }
            };
            batch.resize(batch.len() + tag, 0);
            lens.push(pt);
            read += pt as u64;
            if last_is_final {
                break;
            }
        }
        last_is_final = match total_chunks {
            Some(t) => next_chunk + lens.len() as u64 == t,
            // A batch of whole chunks: it holds the last one if nothing follows.
            None => last_is_final || !more(&mut input, &mut carry).await?,
        };
        finished = last_is_final;
        // The previous batch was checked and sealed while this one was read.
        if let Some(job) = pending.take() {
            checks = Some(finish_job(job, tx).await?);
        }
        let first = next_chunk;
        next_chunk += lens.len() as u64;
        let mut c = checks
            .take()
            .ok_or_else(|| super::errors::internal("checks lost"))?;
        let key = key.clone();
        let metrics = Arc::clone(&metrics);
        pending = Some(super::cpu::spawn(move || {
            let hash = |c: &mut BodyChecks| {
                for (slot, pt) in batch.chunks(chunk + tag).zip(&lens) {
                    c.update(&slot[..*pt]);
                }
            };
            let Some(key) = key else {
                hash(&mut c);
                return (batch, c, Ok(()));
            };
            // The digests (MD5 is serial) run on one core while the others seal a copy, each
            // chunk copied while in cache rather than the whole batch first.
            let mut sealed = vec![0u8; batch.len()];
            let ((), outcome) = rayon::join(
                || hash(&mut c),
                || seal_copy(&key, first, &batch, &mut sealed, last_is_final),
            );
            metrics.sealed(lens.iter().map(|&l| l as u64).sum());
            (sealed, c, outcome)
        }));
    }
    // The last batch is held back until the whole body has been judged: a body that is too long
    // or fails its digests leaves the store short of its length, so nothing is stored — not
    // even by a backend that would keep a complete upload part (a gateway's UploadPart).
    let last = match pending.take() {
        Some(job) => {
            let (sealed, c) = wait_job(job).await?;
            checks = Some(c);
            Some(sealed)
        }
        None => None,
    };
    let checks = checks.ok_or_else(|| super::errors::internal("checks lost"))?;
    // Anything after the declared length is a malformed request.
    if plaintext_len.is_some() && more(&mut input, &mut carry).await? {
        return Err(S3Error::with_message(
            S3ErrorCode::IncompleteBody,
            "The request body is longer than its Content-Length.",
        ));
    }
    let mut digests = checks.finish()?;
    digests.len = read;
    if let Some(sealed) = last {
        send(tx, sealed).await?;
    }
    Ok(digests)
}

/// Seals the slots of `batch` (the sealed layout: each chunk's plaintext, then room for its tag)
/// as chunks `first..` into `out`, as long, on every core.
fn seal_copy(
    key: &objseal_core::SegmentKey,
    first: u64,
    batch: &[u8],
    out: &mut [u8],
    last_is_final: bool,
) -> Result<(), objseal_core::Error> {
    use rayon::prelude::*;
    let slot = key.sealed_chunk_size();
    let slots = batch.len().div_ceil(slot);
    out.par_chunks_mut(slot)
        .zip(batch.par_chunks(slot))
        .enumerate()
        .try_for_each(|(i, (dst, src))| {
            dst.copy_from_slice(src);
            let pt_len = dst
                .len()
                .checked_sub(TAG_LEN)
                .ok_or(objseal_core::Error::BadLength)?;
            let last = last_is_final && i + 1 == slots;
            key.seal_chunk_in_place(first + i as u64, last, dst, pt_len)
                .map(|_| ())
        })
}

/// A batch being checked and sealed on the blocking pool: it gives back the sealed bytes, the
/// checks (fed with the batch's plaintext) and the sealing's outcome.
type SealJob = super::cpu::CpuJob<(Vec<u8>, BodyChecks, Result<(), objseal_core::Error>)>;

/// Waits for a batch and sends it on; returns the checks for the next batch.
async fn finish_job(job: SealJob, tx: &BodySender) -> Result<BodyChecks, S3Error> {
    let (sealed, checks) = wait_job(job).await?;
    send(tx, sealed).await?;
    Ok(checks)
}

/// Waits for a batch: its sealed bytes and the checks.
async fn wait_job(job: SealJob) -> Result<(Vec<u8>, BodyChecks), S3Error> {
    let (sealed, checks, outcome) = job
        .await
        .map_err(|_| super::errors::internal("sealing task failed"))?;
    outcome.map_err(|_| super::errors::internal("sealing failed"))?;
    Ok((sealed, checks))
}

/// The sealing's error when the store stopped taking the body: the store's own answer says why.
const STORE_STOPPED: &str = "The store stopped reading.";

async fn send(tx: &BodySender, batch: Vec<u8>) -> Result<(), S3Error> {
    tx.send(Ok(vec![Bytes::from(batch)]))
        .await
        .map_err(|_| S3Error::with_message(S3ErrorCode::InternalError, STORE_STOPPED))
}

/// The error to answer a write with: the body's own verdict (short body, bad digest) explains a
/// failure best — unless the sealing failed only because the store stopped reading, when the
/// store's refusal (a 400, a 503 from a backend) is the reason.
pub(crate) fn write_error<T>(sealing: S3Error, store: Result<T, S3Error>) -> S3Error {
    match store {
        Err(e) if sealing.message() == Some(STORE_STOPPED) => e,
        _ => sealing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use objseal_core::{Dek, ObjectKey, ObjectParams};

    fn blob(bytes: &[u8], cut: usize) -> StreamingBlob {
        let parts: Vec<Result<Bytes, std::io::Error>> = bytes
            .chunks(cut.max(1))
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        StreamingBlob::wrap(futures::stream::iter(parts))
    }

    async fn seal(plain: &[u8], len: Option<u64>, cut: usize, batch: usize) -> Result<Vec<u8>, ()> {
        let object = ObjectKey::create(
            &Dek::from_bytes([1; 32]),
            &ObjectParams::new([2; 32], [3; 32]).chunk_log2(12),
        )
        .unwrap();
        let checks = BodyChecks::plan(&http::HeaderMap::new(), None, true).unwrap();
        let plan = SealPlan {
            key: Some(object.body_key().unwrap()),
            plaintext_len: len,
            checks,
            batch_chunks: batch,
            metrics: Arc::new(Metrics::default()),
        };
        let sealed = seal_body(blob(plain, cut), plan, Box::new(|_| {})).unwrap();
        let mut body = sealed.body;
        let mut out = Vec::new();
        while let Some(b) = body.next().await {
            out.extend_from_slice(&b.map_err(|_| ())?);
        }
        let d = sealed.digests.await.unwrap().map_err(|_| ())?;
        assert_eq!(d.len, plain.len() as u64);
        Ok(out)
    }

    #[tokio::test]
    async fn bodies_of_unknown_length_seal_exactly_as_declared_ones() {
        for len in [
            0usize,
            1,
            4095,
            4096,
            4097,
            8192,
            3 * 4096,
            3 * 4096 + 5,
            10 * 4096,
        ] {
            let plain: Vec<u8> = (0..len).map(|i| (i % 253) as u8).collect();
            let want = seal(&plain, Some(len as u64), 1000, 3).await.unwrap();
            for cut in [1, 4095, 4096, 5000, 1 << 20] {
                for batch in [1, 3, 16] {
                    let got = seal(&plain, None, cut, batch).await.unwrap();
                    assert_eq!(got, want, "len {len} cut {cut} batch {batch}");
                }
            }
        }
    }

    #[tokio::test]
    async fn declared_lengths_are_held_to() {
        let plain = vec![7u8; 10_000];
        assert!(
            seal(&plain, Some(9_999), 4096, 2).await.is_err(),
            "longer than declared"
        );
        assert!(
            seal(&plain, Some(10_001), 4096, 2).await.is_err(),
            "shorter than declared"
        );
    }
}
