//! Writing: one `PutObject` for small objects, a parallel multipart upload (one OSE1 segment per
//! part) for large ones, with memory bounded by part size × concurrency.

use std::collections::HashMap;
use std::sync::Arc;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use bytes::Bytes;
use objseal_core::format::manifest::{SegmentEntry, encode_manifest, manifest_len};
use objseal_core::range::ciphertext_len;
use objseal_core::{ObjectKey, ObjectParams, SEGMENT_SALT_LEN, SegmentKey, par};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::client::{PutOptions, PutOutput, WriteFormat};
use crate::config::MAX_PARTS;
use crate::error::s3_error;
use crate::layout::{
    Envelope, INSTRUCTION_SUFFIX, Instruction, InstructionHolds, context_hash, instruction_key,
    is_instruction_key,
};
use crate::{ClientError, EncryptingClient, Location};

/// Aborts a multipart upload when dropped while armed (`upload_id` set), on the Tokio runtime it
/// was dropped on; nothing is left on the store but parts the store has not yet forgotten.
struct AbortOnDrop {
    s3: aws_sdk_s3::Client,
    bucket: String,
    key: String,
    upload_id: Option<String>,
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        let (Some(upload_id), Ok(runtime)) =
            (self.upload_id.take(), tokio::runtime::Handle::try_current())
        else {
            return;
        };
        let request = self
            .s3
            .abort_multipart_upload()
            .bucket(&self.bucket)
            .key(&self.key)
            .upload_id(upload_id);
        // Best effort: the error that ended the upload is the one that matters.
        runtime.spawn(async move {
            let _ = request.send().await;
        });
    }
}

/// Plaintext read into the chunk slots of a ciphertext buffer, ready to seal in place.
struct Slots {
    buf: Vec<u8>,
    plaintext_len: usize,
}

/// Reads up to `max` plaintext bytes straight into the chunk slots of a buffer laid out as the
/// ciphertext (`chunk ‖ 16-byte tag space`, …), so sealing needs no copy.
async fn read_slots<R: AsyncRead + Unpin + ?Sized>(
    reader: &mut R,
    chunk_log2: u8,
    max: usize,
) -> Result<Slots, ClientError> {
    let chunk = 1usize << chunk_log2;
    let sealed = chunk + objseal_core::gcm::TAG_LEN;
    let chunks = max.div_ceil(chunk).max(1);
    let mut buf = vec![0u8; chunks * sealed];
    let mut total = 0usize;
    'slots: for i in 0..chunks {
        let want = chunk.min(max - i * chunk);
        let slot = &mut buf[i * sealed..i * sealed + want];
        let mut filled = 0;
        while filled < want {
            let n = reader.read(&mut slot[filled..]).await?;
            if n == 0 {
                total += filled;
                break 'slots;
            }
            filled += n;
        }
        total += filled;
    }
    let ct = ciphertext_len(total as u64, chunk_log2)? as usize;
    buf.truncate(ct);
    Ok(Slots {
        buf,
        plaintext_len: total,
    })
}

/// Seals the slots in place on the blocking pool (rayon inside).
async fn seal(key: SegmentKey, mut buf: Vec<u8>) -> Result<Vec<u8>, ClientError> {
    tokio::task::spawn_blocking(move || par::seal_chunks(&key, 0, &mut buf, true).map(|()| buf))
        .await
        .map_err(|e| ClientError::Io(std::io::Error::other(e)))?
        .map_err(ClientError::Format)
}

fn random_salt() -> Result<[u8; SEGMENT_SALT_LEN], ClientError> {
    let mut salt = [0u8; SEGMENT_SALT_LEN];
    getrandom::fill(&mut salt).map_err(|_| objseal_core::Error::Rng)?;
    Ok(salt)
}

fn check_metadata(meta: &HashMap<String, String>) -> Result<(), ClientError> {
    // S3 lowercases names: `Objseal-Keys` would join objseal's own entry.
    match meta.keys().find(|k| {
        let k = k.to_ascii_lowercase();
        k.starts_with("objseal-") || k.starts_with("x-amz-")
    }) {
        Some(k) => Err(ClientError::InvalidArgument(format!(
            "metadata name `{k}`: names starting with objseal- or x-amz- are reserved"
        ))),
        None => Ok(()),
    }
}

/// Refuses names that would collide with instruction objects or leave no room for one.
fn check_key(key: &str) -> Result<(), ClientError> {
    if is_instruction_key(key) {
        return Err(ClientError::InvalidArgument(format!(
            "keys ending in {INSTRUCTION_SUFFIX} are reserved for instruction objects"
        )));
    }
    if key.len() + INSTRUCTION_SUFFIX.len() > 1024 {
        return Err(ClientError::InvalidArgument(format!(
            "a key of {} bytes leaves no room for its instruction object's name (S3 keys are at \
             most 1024 bytes)",
            key.len()
        )));
    }
    Ok(())
}

impl EncryptingClient {
    /// Encrypts everything `reader` yields and stores it as `bucket`/`key`: in one `PutObject` when
    /// it ends before [`ClientConfig::multipart_threshold`](crate::ClientConfig) bytes, else as a
    /// multipart upload whose parts are sealed and uploaded concurrently. On failure the upload is
    /// aborted and nothing new is visible.
    ///
    /// # Errors
    /// [`ClientError::InvalidArgument`] for reserved context or metadata names or no key;
    /// [`ClientError::Io`] from `reader`; KMS and S3 refusals.
    pub async fn put_stream<R: AsyncRead + Unpin + ?Sized>(
        &self,
        bucket: &str,
        key: &str,
        reader: &mut R,
        options: &PutOptions,
    ) -> Result<PutOutput, ClientError> {
        check_metadata(&options.metadata)?;
        check_key(key)?;
        if matches!(options.location, Location::WrittenAs { .. }) {
            return Err(ClientError::InvalidArgument(
                "a new object is bound to where it is written (Here) or to nothing (Unbound)"
                    .into(),
            ));
        }
        if options.format == WriteFormat::S3ecV3 {
            return self.put_s3ec_v3(bucket, key, reader, options).await;
        }
        let ctx_hash = context_hash(bucket, key, &options.context, &options.location)?;
        let (dek, blobs) = self.keys.new_data_key(&ctx_hash).await?;
        let chunk_log2 = self.config.chunk_log2;
        let threshold = self.config.multipart_threshold;
        let first = read_slots(reader, chunk_log2, threshold).await?;
        let multipart = first.plaintext_len == threshold;
        let params = ObjectParams::random(ctx_hash)?
            .chunk_log2(chunk_log2)
            .segmented(multipart);
        let object = ObjectKey::create(&dek, &params)?;
        drop(dek);
        let (meta, holds) =
            Envelope::to_metadata(object.header(), &blobs, multipart, &options.metadata);
        if multipart {
            return self
                .put_multipart(
                    bucket, key, reader, options, object, meta, holds, blobs, first,
                )
                .await;
        }
        let plaintext_len = first.plaintext_len as u64;
        let body = seal(object.body_key()?, first.buf).await?;
        let stored_len = body.len() as u64;
        let etag = self
            .put_body(bucket, key, meta, options.content_type.clone(), body)
            .await?;
        if holds.keys {
            self.put_instruction(bucket, key, blobs, None).await?;
        }
        Ok(PutOutput {
            plaintext_len,
            stored_len,
            parts: 0,
            etag,
        })
    }

    /// One `PutObject` of a whole stored body; returns the store's ETag.
    pub(crate) async fn put_body(
        &self,
        bucket: &str,
        key: &str,
        meta: HashMap<String, String>,
        content_type: Option<String>,
        body: Vec<u8>,
    ) -> Result<Option<String>, ClientError> {
        let out = self
            .s3
            .put_object()
            .bucket(bucket)
            .key(key)
            .set_metadata(Some(meta))
            .set_content_type(content_type)
            .content_length(body.len() as i64)
            .body(ByteStream::from(Bytes::from(body)))
            .send()
            .await
            .map_err(|e| s3_error("PutObject", bucket, key, e))?;
        Ok(out.e_tag)
    }

    /// Writes the instruction object of `key`.
    pub(crate) async fn put_instruction(
        &self,
        bucket: &str,
        key: &str,
        blobs: Vec<Vec<u8>>,
        manifest: Option<Vec<u8>>,
    ) -> Result<(), ClientError> {
        let name = instruction_key(key);
        let body = Instruction { blobs, manifest }.encode();
        self.s3
            .put_object()
            .bucket(bucket)
            .key(&name)
            .content_type("application/octet-stream")
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| s3_error("PutObject", bucket, &name, e))?;
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    async fn put_multipart<R: AsyncRead + Unpin + ?Sized>(
        &self,
        bucket: &str,
        key: &str,
        reader: &mut R,
        options: &PutOptions,
        object: ObjectKey,
        meta: HashMap<String, String>,
        holds: InstructionHolds,
        blobs: Vec<Vec<u8>>,
        first: Slots,
    ) -> Result<PutOutput, ClientError> {
        let created = self
            .s3
            .create_multipart_upload()
            .bucket(bucket)
            .key(key)
            .set_metadata(Some(meta))
            .set_content_type(options.content_type.clone())
            .send()
            .await
            .map_err(|e| s3_error("CreateMultipartUpload", bucket, key, e))?;
        let upload_id = created.upload_id.ok_or_else(|| ClientError::S3 {
            operation: "CreateMultipartUpload",
            code: None,
            message: "no upload id in the answer".into(),
        })?;
        // Aborts the upload if this future ends early: an error, or the caller dropping it (Ctrl-C).
        let mut guard = AbortOnDrop {
            s3: self.s3.clone(),
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            upload_id: Some(upload_id.clone()),
        };
        let entries = self
            .upload_parts(bucket, key, &upload_id, reader, &object, first)
            .await?;
        let (out, manifest, entries) = self
            .complete(bucket, key, &upload_id, &object, entries)
            .await?;
        guard.upload_id = None;
        let instruction_blobs = if holds.keys { blobs } else { Vec::new() };
        self.put_instruction(bucket, key, instruction_blobs, Some(manifest))
            .await?;
        let chunk_log2 = object.header().chunk_log2;
        let plaintext_len: u64 = entries.iter().map(|e| e.plaintext_len).sum();
        let stored_len = entries
            .iter()
            .map(|e| ciphertext_len(e.plaintext_len, chunk_log2).unwrap_or(0))
            .sum();
        Ok(PutOutput {
            plaintext_len,
            stored_len,
            parts: entries.len() as u32,
            etag: out,
        })
    }

    /// Reads parts one after another and seals and uploads up to `concurrency` of them at once.
    async fn upload_parts<R: AsyncRead + Unpin + ?Sized>(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        reader: &mut R,
        object: &ObjectKey,
        first: Slots,
    ) -> Result<Vec<(SegmentEntry, String)>, ClientError> {
        let permits = Arc::new(Semaphore::new(self.config.concurrency));
        let mut tasks: JoinSet<Result<(SegmentEntry, String), ClientError>> = JoinSet::new();
        let mut done = Vec::new();
        let mut next = Some(first);
        let mut number = 1u32;
        loop {
            let permit = permits
                .clone()
                .acquire_owned()
                .await
                .map_err(|e| ClientError::Io(std::io::Error::other(e)))?;
            let (slots, expected) = match next.take() {
                Some(slots) => (slots, self.config.multipart_threshold),
                None => (
                    read_slots(reader, object.header().chunk_log2, self.config.part_size).await?,
                    self.config.part_size,
                ),
            };
            if slots.plaintext_len == 0 && number > 1 {
                break;
            }
            if number > MAX_PARTS {
                tasks.abort_all();
                return Err(ClientError::InvalidArgument(format!(
                    "more than {MAX_PARTS} parts: raise the part size"
                )));
            }
            let last = slots.plaintext_len < expected;
            let salt = random_salt()?;
            let segment = object.segment_key(number, &salt);
            let s3 = self.s3.clone();
            let (bucket_, key_, upload_) =
                (bucket.to_owned(), key.to_owned(), upload_id.to_owned());
            tasks.spawn(async move {
                let _permit = permit;
                let plaintext_len = slots.plaintext_len as u64;
                let body = seal(segment, slots.buf).await?;
                let len = body.len() as i64;
                let out = s3
                    .upload_part()
                    .bucket(&bucket_)
                    .key(&key_)
                    .upload_id(&upload_)
                    .part_number(number as i32)
                    .content_length(len)
                    .body(ByteStream::from(Bytes::from(body)))
                    .send()
                    .await
                    .map_err(|e| s3_error("UploadPart", &bucket_, &key_, e))?;
                let etag = out.e_tag.ok_or_else(|| ClientError::S3 {
                    operation: "UploadPart",
                    code: None,
                    message: "no ETag in the answer".into(),
                })?;
                Ok((
                    SegmentEntry {
                        number,
                        salt,
                        plaintext_len,
                    },
                    etag,
                ))
            });
            // Collect finished parts as we go, so a failure stops the upload early.
            while let Some(joined) = tasks.try_join_next() {
                done.push(joined.map_err(|e| ClientError::Io(std::io::Error::other(e)))??);
            }
            number += 1;
            if last {
                break;
            }
        }
        while let Some(joined) = tasks.join_next().await {
            match joined.map_err(|e| ClientError::Io(std::io::Error::other(e)))? {
                Ok(part) => done.push(part),
                Err(e) => {
                    tasks.abort_all();
                    return Err(e);
                }
            }
        }
        done.sort_by_key(|(entry, _)| entry.number);
        Ok(done)
    }

    /// Completes the upload and returns its ETag, the manifest and its entries.
    async fn complete(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        object: &ObjectKey,
        parts: Vec<(SegmentEntry, String)>,
    ) -> Result<(Option<String>, Vec<u8>, Vec<SegmentEntry>), ClientError> {
        let entries: Vec<SegmentEntry> = parts.iter().map(|(e, _)| *e).collect();
        let mut manifest = vec![0u8; manifest_len(entries.len())];
        encode_manifest(object, &entries, &mut manifest)?;
        let completed = parts
            .iter()
            .map(|(entry, etag)| {
                CompletedPart::builder()
                    .part_number(entry.number as i32)
                    .e_tag(etag)
                    .build()
            })
            .collect();
        let out = self
            .s3
            .complete_multipart_upload()
            .bucket(bucket)
            .key(key)
            .upload_id(upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(completed))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| s3_error("CompleteMultipartUpload", bucket, key, e))?;
        Ok((out.e_tag, manifest, entries))
    }
}
