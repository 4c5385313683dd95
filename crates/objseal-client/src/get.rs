//! Reading: the header and keys are verified first (and for a multipart object the manifest), then
//! the chunks a read needs are fetched in ranged requests, several at once, opened where they lie,
//! and written out in order.

use std::collections::HashMap;
use std::ops::Range;

use aws_sdk_s3::operation::head_object::HeadObjectOutput;
use objseal_core::format::manifest::ManifestView;
use objseal_core::range::{ByteRange, ChunkSpan, chunk_count, ciphertext_len, plaintext_len};
use objseal_core::{Error, ObjectKey, SEGMENT_SALT_LEN};
use tokio::io::{AsyncWrite, AsyncWriteExt};

use futures::StreamExt as _;

use crate::client::{GetOptions, GetOutput, ObjectFormat};
use crate::error::{is_precondition_failed, s3_error};
use crate::keyring::Unwrapped;
use crate::layout::{Envelope, Instruction, MAX_INSTRUCTION_LEN, context_hash, instruction_key};
use crate::{ClientError, EncryptingClient};

/// One segment of an opened object (an unsegmented object: segment 0 with a zero salt).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Segment {
    pub(crate) number: u32,
    pub(crate) salt: [u8; SEGMENT_SALT_LEN],
    pub(crate) plaintext_len: u64,
    pub(crate) plaintext_start: u64,
    pub(crate) ciphertext_start: u64,
}

/// An OSE1 object whose header (and manifest) verified under a configured key.
pub(crate) struct Opened {
    pub(crate) unwrapped: Unwrapped,
    pub(crate) envelope: Envelope,
    pub(crate) segments: Vec<Segment>,
    pub(crate) plaintext_len: u64,
    pub(crate) etag: Option<String>,
    pub(crate) head: HeadObjectOutput,
    /// The verified manifest (multipart objects).
    pub(crate) manifest: Option<Vec<u8>>,
    /// The stored (ciphertext) length.
    pub(crate) stored_len: u64,
}

/// The chunks of one segment that one ranged request fetches.
struct Window {
    segment: Segment,
    span: ChunkSpan,
}

/// The store's metadata of an object, with the names as the SDK gives them.
pub(crate) fn metadata_of(head: &HeadObjectOutput) -> HashMap<String, String> {
    head.metadata.clone().unwrap_or_default()
}

/// `[start, end)` of a range over `total` bytes, as HTTP reads it.
pub(crate) fn resolve_range(total: u64, range: ByteRange) -> Result<Range<u64>, ClientError> {
    let r = match range {
        ByteRange::Inclusive { first, last } if first <= last && first < total => {
            first..last.saturating_add(1).min(total)
        }
        ByteRange::From(first) if first < total => first..total,
        ByteRange::Suffix(n) if n > 0 && total > 0 => total - n.min(total)..total,
        _ => return Err(ClientError::Format(Error::RangeNotSatisfiable)),
    };
    Ok(r)
}

impl EncryptingClient {
    pub(crate) async fn head_raw(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<HeadObjectOutput, ClientError> {
        self.s3
            .head_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| s3_error("HeadObject", bucket, key, e))
    }

    /// `GetObject` of `range` (inclusive; `None`: all) of the version whose ETag is `etag`: a 412
    /// (the object was replaced meanwhile) is [`ClientError::Inconsistent`].
    pub(crate) async fn get_pinned(
        &self,
        bucket: &str,
        key: &str,
        range: Option<(u64, u64)>,
        etag: Option<&str>,
    ) -> Result<aws_sdk_s3::operation::get_object::GetObjectOutput, ClientError> {
        self.s3
            .get_object()
            .bucket(bucket)
            .key(key)
            .set_range(range.map(|(a, b)| format!("bytes={a}-{b}")))
            .set_if_match(etag.map(str::to_owned))
            .send()
            .await
            .map_err(|e| {
                if is_precondition_failed(&e) {
                    ClientError::Inconsistent(format!(
                        "s3://{bucket}/{key} was replaced while it was read"
                    ))
                } else {
                    s3_error("GetObject", bucket, key, e)
                }
            })
    }

    /// Fetches an instruction object as it is stored, refusing one larger than any valid one (the
    /// store is not trusted with the reader's memory).
    pub(crate) async fn get_instruction(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<Vec<u8>, ClientError> {
        let name = instruction_key(key);
        let out = self
            .s3
            .get_object()
            .bucket(bucket)
            .key(&name)
            .send()
            .await
            .map_err(|e| s3_error("GetObject", bucket, &name, e))?;
        let too_large = || ClientError::Format(Error::BadManifest("instruction object too large"));
        if out.content_length.unwrap_or(0).max(0) as u64 > MAX_INSTRUCTION_LEN as u64 {
            return Err(too_large());
        }
        let mut buf = Vec::new();
        let mut body = out.body;
        while let Some(bytes) = body
            .try_next()
            .await
            .map_err(|e| ClientError::Io(std::io::Error::other(e)))?
        {
            if buf.len() + bytes.len() > MAX_INSTRUCTION_LEN {
                return Err(too_large());
            }
            buf.extend_from_slice(&bytes);
        }
        Ok(buf)
    }

    /// Verifies an OSE1 object's header under a configured key and the expected context, and a
    /// multipart object's manifest, and checks the stored length against them (`FORMAT.md` §9
    /// steps 1–5). Reads nothing of the body.
    pub(crate) async fn open_object(
        &self,
        bucket: &str,
        key: &str,
        head: HeadObjectOutput,
        envelope: Envelope,
        ctx_hash: &[u8; 32],
    ) -> Result<Opened, ClientError> {
        let mut envelope = envelope;
        let mut manifest = None;
        if envelope.instruction.keys || envelope.instruction.manifest {
            let bytes = match self.get_instruction(bucket, key).await {
                Ok(bytes) => bytes,
                Err(ClientError::NotFound { .. }) => {
                    return Err(ClientError::Format(Error::BadManifest(
                        "the instruction object is missing",
                    )));
                }
                Err(e) => return Err(e),
            };
            let instruction = Instruction::decode(&bytes, envelope.instruction)?;
            if envelope.instruction.keys {
                envelope.blobs = instruction.blobs;
            }
            manifest = instruction.manifest;
        }
        let unwrapped = self
            .keys
            .unwrap(&envelope.header, &envelope.blobs, ctx_hash)
            .await?;
        let stored = head
            .content_length
            .and_then(|n| u64::try_from(n).ok())
            .ok_or_else(|| {
                ClientError::Inconsistent("the store did not say the object's length".into())
            })?;
        let chunk_log2 = envelope.header.chunk_log2;
        let (segments, total) = match &manifest {
            Some(bytes) => {
                let view = ManifestView::verify(&unwrapped.object, bytes)?;
                let expected = view.ciphertext_len();
                if stored < expected {
                    return Err(ClientError::Format(Error::Truncated));
                }
                if stored > expected {
                    return Err(ClientError::Format(Error::TrailingData));
                }
                let segments = view
                    .locations()
                    .map(|l| Segment {
                        number: l.entry.number,
                        salt: l.entry.salt,
                        plaintext_len: l.entry.plaintext_len,
                        plaintext_start: l.plaintext_start,
                        ciphertext_start: l.ciphertext_start,
                    })
                    .collect();
                (segments, view.plaintext_len())
            }
            None => {
                let len = plaintext_len(stored, chunk_log2)?;
                let segment = Segment {
                    number: 0,
                    salt: [0; SEGMENT_SALT_LEN],
                    plaintext_len: len,
                    plaintext_start: 0,
                    ciphertext_start: 0,
                };
                (vec![segment], len)
            }
        };
        Ok(Opened {
            unwrapped,
            envelope,
            segments,
            plaintext_len: total,
            etag: head.e_tag.clone(),
            head,
            manifest,
            stored_len: stored,
        })
    }

    /// Reads, verifies and decrypts `bucket`/`key` (or the range of `options`) into `out`, in order.
    ///
    /// OSE1 objects: the header, keys (strict selection) and manifest are verified before any
    /// chunk is fetched; chunks are fetched in ranged requests (a
    /// [`part_size`](crate::ClientConfig::part_size) each,
    /// [`concurrency`](crate::ClientConfig::concurrency) at once, pinned to the
    /// version first seen with `If-Match`) and each is written only once it verified. A range
    /// reaching an unsegmented object's final chunk verifies that chunk first. A whole read verifies
    /// every chunk. AWS S3 Encryption Client objects are read whole and verified before a byte is
    /// written.
    ///
    /// On error, what was written to `out` must be discarded (the error says why); for
    /// all-or-nothing use [`get`](Self::get).
    ///
    /// # Errors
    /// [`ClientError::Format`] for every failed check (`HeaderAuth` for a wrong key or context,
    /// `ChunkAuth`, `Truncated`, `TrailingData`, `ManifestAuth`, `RangeNotSatisfiable`, …),
    /// [`ClientError::NoMatchingKey`], [`ClientError::NotEncrypted`], [`ClientError::NotFound`],
    /// KMS and S3 refusals, [`ClientError::Io`] from `out`.
    pub async fn get_to<W: AsyncWrite + Unpin + ?Sized>(
        &self,
        bucket: &str,
        key: &str,
        options: &GetOptions,
        out: &mut W,
    ) -> Result<GetOutput, ClientError> {
        let head = self.head_raw(bucket, key).await?;
        let meta = metadata_of(&head);
        let Some(envelope) = Envelope::from_metadata(&meta)? else {
            return self.get_s3ec(bucket, key, head, &meta, options, out).await;
        };
        let ctx_hash = context_hash(bucket, key, &options.context, &options.location)?;
        let format = if envelope.header.segmented {
            ObjectFormat::ObjsealMultipart
        } else {
            ObjectFormat::Objseal
        };
        let opened = self
            .open_object(bucket, key, head, envelope, &ctx_hash)
            .await?;
        let range = match options.range {
            Some(r) => Some(resolve_range(opened.plaintext_len, r)?),
            None => None,
        };
        let windows = self.plan(&opened, range.clone())?;
        self.verify_final_first(bucket, key, &opened, &windows)
            .await?;
        let object = &opened.unwrapped.object;
        let etag = opened.etag.as_deref();
        let mut fetched = futures::stream::iter(
            windows
                .into_iter()
                .map(|w| self.fetch_window(bucket, key, etag, object, w)),
        )
        .buffered(self.config.concurrency);
        while let Some(piece) = fetched.next().await {
            let (buf, pieces) = piece?;
            for at in pieces {
                out.write_all(&buf[at]).await?;
            }
        }
        out.flush().await?;
        Ok(GetOutput {
            object_len: opened.plaintext_len,
            range: range.unwrap_or(0..opened.plaintext_len),
            format,
            etag: opened.etag.clone(),
        })
    }

    /// The windows serving `range` (`None`: every chunk of every segment, empty ones included).
    fn plan(&self, opened: &Opened, range: Option<Range<u64>>) -> Result<Vec<Window>, ClientError> {
        let k = opened.unwrapped.object.header().chunk_log2;
        let sealed = (1u64 << k) + objseal_core::gcm::TAG_LEN as u64;
        let per_window = (self.config.part_size as u64 >> k).max(1);
        let mut windows = Vec::new();
        for seg in &opened.segments {
            let seg_end = seg.plaintext_start + seg.plaintext_len;
            let (s, e) = match &range {
                None => (0, seg.plaintext_len),
                Some(r) if r.start < seg_end && r.end > seg.plaintext_start => (
                    r.start.max(seg.plaintext_start) - seg.plaintext_start,
                    r.end.min(seg_end) - seg.plaintext_start,
                ),
                Some(_) => continue,
            };
            let chunks = chunk_count(seg.plaintext_len, k);
            let ct_len = ciphertext_len(seg.plaintext_len, k)?;
            let first = s >> k;
            let last = if e == 0 { 0 } else { (e - 1) >> k };
            let mut wf = first;
            while wf <= last {
                let wl = (wf + per_window - 1).min(last);
                let span = ChunkSpan {
                    plaintext: s.max(wf << k)..e.min((wl + 1) << k),
                    first_chunk: wf,
                    last_chunk: wl,
                    ciphertext: wf * sealed..((wl + 1) * sealed).min(ct_len),
                    includes_final: wl + 1 == chunks,
                };
                windows.push(Window {
                    segment: *seg,
                    span,
                });
                wf = wl + 1;
            }
        }
        Ok(windows)
    }

    /// An unsegmented object's length comes from the store, which an attacker may have cut or
    /// extended: when a read spread over several requests reaches the final chunk, that chunk is
    /// fetched and verified before any byte is written (`FORMAT.md` §10).
    async fn verify_final_first(
        &self,
        bucket: &str,
        key: &str,
        opened: &Opened,
        windows: &[Window],
    ) -> Result<(), ClientError> {
        let [_, .., last] = windows else {
            return Ok(());
        };
        if opened.envelope.header.segmented || !last.span.includes_final {
            return Ok(());
        }
        let k = opened.unwrapped.object.header().chunk_log2;
        let sealed = (1u64 << k) + objseal_core::gcm::TAG_LEN as u64;
        let final_chunk = last.span.last_chunk;
        let ct_start = final_chunk * sealed;
        let span = ChunkSpan {
            plaintext: (final_chunk << k)..last.segment.plaintext_len,
            first_chunk: final_chunk,
            last_chunk: final_chunk,
            ciphertext: ct_start..last.span.ciphertext.end,
            includes_final: true,
        };
        let window = Window {
            segment: last.segment,
            span,
        };
        let object = &opened.unwrapped.object;
        let (mut buf, _) = self
            .fetch_window(bucket, key, opened.etag.as_deref(), object, window)
            .await?;
        zeroize::Zeroize::zeroize(&mut buf);
        Ok(())
    }

    /// Fetches one window's ciphertext and opens it in place; returns the buffer and where the
    /// requested plaintext lies in it.
    async fn fetch_window(
        &self,
        bucket: &str,
        key: &str,
        etag: Option<&str>,
        object: &ObjectKey,
        window: Window,
    ) -> Result<(Vec<u8>, Vec<Range<usize>>), ClientError> {
        let start = window.segment.ciphertext_start + window.span.ciphertext.start;
        let len = window.span.ciphertext.end - window.span.ciphertext.start;
        let out = self
            .get_pinned(bucket, key, Some((start, start + len - 1)), etag)
            .await?;
        let mut buf = Vec::with_capacity(len as usize);
        let mut body = out.body;
        while let Some(bytes) = body
            .try_next()
            .await
            .map_err(|e| ClientError::Io(std::io::Error::other(e)))?
        {
            if buf.len() + bytes.len() > len as usize {
                return Err(ClientError::Format(Error::TrailingData));
            }
            buf.extend_from_slice(&bytes);
        }
        if (buf.len() as u64) < len {
            return Err(ClientError::Format(Error::Truncated));
        }
        let segment = object.segment_key(window.segment.number, &window.segment.salt);
        let span = window.span;
        tokio::task::spawn_blocking(move || {
            open_window(&segment, &span, &mut buf).map(|at| (buf, at))
        })
        .await
        .map_err(|e| ClientError::Io(std::io::Error::other(e)))?
        .map_err(ClientError::Format)
    }
}

/// Opens the chunks of `span` held in `buf` (exactly its ciphertext) in place, in parallel, all or
/// nothing (a failure zeroes `buf`), and returns where the requested plaintext lies: one slice of
/// `buf` per chunk, tags skipped, so nothing is moved. The final chunk, when in the span, is opened
/// with the others before any byte of the window is released.
fn open_window(
    key: &objseal_core::SegmentKey,
    span: &ChunkSpan,
    buf: &mut [u8],
) -> Result<Vec<Range<usize>>, Error> {
    let sealed = key.sealed_chunk_size();
    let chunks = (span.last_chunk - span.first_chunk) as usize + 1;
    if span.ciphertext.end - span.ciphertext.start != buf.len() as u64
        || buf.len().div_ceil(sealed) != chunks
    {
        return Err(Error::BadLength);
    }
    // The final chunk first (FORMAT.md §10), so a cut or extended object reports as such; then
    // the others in parallel. All or nothing: any failure zeroes the whole window.
    let opened = if span.includes_final {
        let last_at = (chunks - 1) * sealed;
        let (rest, last) = buf.split_at_mut(last_at);
        key.open_chunk_in_place(span.last_chunk, true, last)
            .and_then(|_| objseal_core::par::open_chunks(key, span.first_chunk, rest, false))
    } else {
        objseal_core::par::open_chunks(key, span.first_chunk, buf, false)
    };
    if let Err(e) = opened {
        buf.fill(0);
        return Err(e);
    }
    let k = key.chunk_log2();
    let mut pieces = Vec::with_capacity(chunks);
    for (i, slot) in buf.chunks(sealed).enumerate() {
        let pt_len = (slot.len() - objseal_core::gcm::TAG_LEN) as u64;
        let chunk_start = (span.first_chunk + i as u64) << k;
        let lo = span.plaintext.start.max(chunk_start);
        let hi = span.plaintext.end.min(chunk_start + pt_len);
        if lo < hi {
            let at = i * sealed;
            pieces.push(at + (lo - chunk_start) as usize..at + (hi - chunk_start) as usize);
        }
    }
    let delivered: u64 = pieces.iter().map(|r| r.len() as u64).sum();
    if delivered != span.plaintext.end - span.plaintext.start {
        buf.fill(0);
        return Err(Error::BadLength);
    }
    Ok(pieces)
}
