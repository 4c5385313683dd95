//! Head, list, delete and copy: the object operations around put and get.

use std::collections::HashMap;

use futures::FutureExt as _;
use objseal_core::format::wrapped_key::WrappedKey;
use tokio_util::io::StreamReader;

use crate::client::{GetOptions, ObjectFormat, PutOptions, PutOutput};
use crate::error::s3_error;
use crate::get::metadata_of;
use crate::layout::{Envelope, Instruction, instruction_key, is_instruction_key, user_metadata};
use crate::pipe::ChannelWriter;
use crate::{ClientError, EncryptingClient};

/// What [`EncryptingClient::head`] learns without any key. Nothing in it is verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectInfo {
    /// The stored (ciphertext) length.
    pub stored_len: u64,
    /// The format; `None`: not client-side encrypted.
    pub format: Option<ObjectFormat>,
    /// The key ids the wrapped keys name (KMS key ARNs, KEK names); empty for other formats.
    pub key_ids: Vec<String>,
    /// The plaintext length (unverified): implied by the stored length (unsegmented OSE1), listed by
    /// the manifest (multipart OSE1), or the stored length less the tag (S3EC).
    pub plaintext_len: Option<u64>,
    /// log2 of the chunk size (OSE1).
    pub chunk_log2: Option<u8>,
    /// The store's ETag.
    pub etag: Option<String>,
    /// The `Content-Type`.
    pub content_type: Option<String>,
    /// The caller's metadata (objseal's own entries left out).
    pub metadata: HashMap<String, String>,
}

/// One object of a listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListEntry {
    /// The key.
    pub key: String,
    /// The stored (ciphertext) length.
    pub stored_len: u64,
    /// When it was last written (RFC 3339), if the store says.
    pub last_modified: Option<String>,
    /// The store's ETag.
    pub etag: Option<String>,
}

impl EncryptingClient {
    /// Describes `bucket`/`key` from its metadata alone (no key needed, nothing verified).
    ///
    /// # Errors
    /// [`ClientError::NotFound`]; S3 refusals; `Format` errors for malformed objseal metadata.
    pub async fn head(&self, bucket: &str, key: &str) -> Result<ObjectInfo, ClientError> {
        let head = self.head_raw(bucket, key).await?;
        let meta = metadata_of(&head);
        let stored_len = head.content_length.unwrap_or(0).max(0) as u64;
        let mut info = ObjectInfo {
            stored_len,
            format: None,
            key_ids: Vec::new(),
            plaintext_len: None,
            chunk_log2: None,
            etag: head.e_tag.clone(),
            content_type: head.content_type.clone(),
            metadata: user_metadata(&meta),
        };
        if let Some(envelope) = Envelope::from_metadata(&meta)? {
            let mut blobs = envelope.blobs.clone();
            if envelope.instruction.keys {
                let bytes = self.get_instruction(bucket, key).await?;
                blobs = Instruction::decode(&bytes, envelope.instruction)?.blobs;
            }
            info.key_ids = blobs
                .iter()
                .map(|b| WrappedKey::parse(b).map(|w| w.key_id.to_owned()))
                .collect::<Result<_, _>>()?;
            info.chunk_log2 = Some(envelope.header.chunk_log2);
            info.format = Some(if envelope.header.segmented {
                if envelope.instruction.manifest {
                    let bytes = self.get_instruction(bucket, key).await?;
                    let manifest = Instruction::decode(&bytes, envelope.instruction)?.manifest;
                    info.plaintext_len = manifest.as_deref().and_then(manifest_plaintext_len);
                }
                ObjectFormat::ObjsealMultipart
            } else {
                info.plaintext_len =
                    objseal_core::range::plaintext_len(stored_len, envelope.header.chunk_log2).ok();
                ObjectFormat::Objseal
            });
        } else if let Some(envelope) = crate::s3ec::Envelope::from_metadata(&meta)? {
            info.format = Some(crate::s3ec_io::format_of(&envelope));
            info.plaintext_len = stored_len.checked_sub(16);
            info.metadata
                .retain(|k, _| !crate::s3ec_io::is_s3ec_name(k));
        }
        Ok(info)
    }

    /// Lists the objects under `prefix` (instruction objects left out), every page.
    ///
    /// # Errors
    /// S3 refusals.
    pub async fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<ListEntry>, ClientError> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .s3
                .list_objects_v2()
                .bucket(bucket)
                .prefix(prefix)
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(|e| s3_error("ListObjectsV2", bucket, prefix, e))?;
            for object in page.contents() {
                let Some(key) = object.key() else { continue };
                if is_instruction_key(key) {
                    continue;
                }
                out.push(ListEntry {
                    key: key.to_owned(),
                    stored_len: object.size().unwrap_or(0).max(0) as u64,
                    last_modified: object
                        .last_modified()
                        .and_then(|t| t.fmt(aws_smithy_types::date_time::Format::DateTime).ok()),
                    etag: object.e_tag().map(str::to_owned),
                });
            }
            match page.next_continuation_token() {
                Some(next) if page.is_truncated() == Some(true) => token = Some(next.to_owned()),
                _ => break,
            }
        }
        Ok(out)
    }

    /// Deletes `bucket`/`key` and its instruction object.
    ///
    /// # Errors
    /// S3 refusals.
    pub async fn delete(&self, bucket: &str, key: &str) -> Result<(), ClientError> {
        self.s3
            .delete_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| s3_error("DeleteObject", bucket, key, e))?;
        let name = instruction_key(key);
        match self
            .s3
            .delete_object()
            .bucket(bucket)
            .key(&name)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => match s3_error("DeleteObject", bucket, &name, e) {
                ClientError::NotFound { .. } => Ok(()),
                other => Err(other),
            },
        }
    }

    /// Copies an object to another bucket or key. The context binds each object to its location, so
    /// the copy is decrypted (verified) and encrypted again under a fresh data key as it streams
    /// through, with memory bounded as for any read and write; if the read fails, nothing is written.
    ///
    /// # Errors
    /// As [`get_to`](Self::get_to) and [`put_stream`](Self::put_stream).
    pub async fn copy(
        &self,
        (src_bucket, src_key): (&str, &str),
        (dst_bucket, dst_key): (&str, &str),
        read: &GetOptions,
        write: &PutOptions,
    ) -> Result<PutOutput, ClientError> {
        let (tx, rx) = tokio::sync::mpsc::channel(self.config.concurrency.max(2));
        let mut writer = ChannelWriter::new(tx);
        let mut reader = StreamReader::new(tokio_stream_from(rx));
        let read_side = async {
            let result = self.get_to(src_bucket, src_key, read, &mut writer).await;
            if let Err(e) = &result {
                writer
                    .fail(std::io::Error::other(format!(
                        "reading the source failed: {e}"
                    )))
                    .await;
            }
            drop(writer);
            result
        };
        let write_side = async move {
            let result = self
                .put_stream(dst_bucket, dst_key, &mut reader, write)
                .await;
            // Closes the channel, so a read side still writing fails instead of waiting forever.
            drop(reader);
            result
        };
        let (read_result, write_result) = futures::join!(read_side.boxed(), write_side.boxed());
        match (read_result, write_result) {
            // The read side stopped because the write side had: the write side's error says why.
            (Err(ClientError::Io(e)), Err(write)) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                Err(write)
            }
            (Err(read), _) => Err(read),
            (Ok(_), write) => write,
        }
    }
}

/// An mpsc receiver as a stream of byte results.
fn tokio_stream_from(
    mut rx: tokio::sync::mpsc::Receiver<std::io::Result<bytes::Bytes>>,
) -> impl futures::Stream<Item = std::io::Result<bytes::Bytes>> + Unpin {
    Box::pin(futures::stream::poll_fn(move |cx| rx.poll_recv(cx)))
}

/// The total plaintext length a manifest lists (§6), read without verifying its tag: for display
/// only. `None` for a manifest whose structure is off.
fn manifest_plaintext_len(manifest: &[u8]) -> Option<u64> {
    let count = u32::from_be_bytes(manifest.get(4..8)?.try_into().ok()?) as usize;
    if Some(manifest.len()) != count.checked_mul(28).and_then(|n| n.checked_add(40)) {
        return None;
    }
    manifest[8..8 + 28 * count]
        .chunks_exact(28)
        .try_fold(0u64, |total, entry| {
            total.checked_add(u64::from_be_bytes(entry[20..28].try_into().ok()?))
        })
}
