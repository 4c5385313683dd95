//! Rewrap: new wrapped keys for an object — another KMS key or KEK, a recipient added or removed —
//! written by a metadata-replacing self-copy. The data, its header and its manifest are untouched.

use aws_sdk_s3::types::MetadataDirective;

use crate::client::{GetOptions, PutOptions, WriteFormat};
use crate::error::{is_precondition_failed, s3_error};
use crate::get::metadata_of;
use crate::keyring::Keyring;
use crate::layout::{Envelope, context_hash, user_metadata};
use crate::{ClientError, EncryptingClient};

/// The largest object S3 copies in one `CopyObject` (5 GiB).
const MAX_COPY: u64 = 5 << 30;

fn copy_limit(len: u64) -> ClientError {
    ClientError::InvalidArgument(format!(
        "the object is {len} bytes: S3 copies at most 5 GiB in one request, so its keys cannot be \
         replaced by a self-copy"
    ))
}

/// What [`EncryptingClient::rewrap`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RewrapOutput {
    /// The key ids the object's wrapped keys name now.
    pub key_ids: Vec<String>,
    /// Whether an AWS S3 Encryption Client object was migrated to OSE1 (data rewritten).
    pub migrated: bool,
}

impl EncryptingClient {
    /// Replaces the wrapped keys of `bucket`/`key` by wraps of its data key for every recipient of
    /// `new_keys`: the data key is unwrapped with this client's keys (strict selection) and verified
    /// against the header first. Only metadata changes (a self-copy with `REPLACE`, pinned to the
    /// version read with `x-amz-copy-source-if-match`), so it is fast for objects of any size up to
    /// S3's 5 GiB copy limit.
    ///
    /// An AWS S3 Encryption Client object is refused unless `migrate_s3ec` is set; it is then read
    /// (verified) and written again as OSE1 for `new_keys`.
    ///
    /// # Errors
    /// As [`get_to`](Self::get_to) for unwrapping; [`ClientError::Inconsistent`] if the object
    /// changed meanwhile; KMS and S3 refusals.
    pub async fn rewrap(
        &self,
        bucket: &str,
        key: &str,
        read: &GetOptions,
        new_keys: Keyring,
        migrate_s3ec: bool,
    ) -> Result<RewrapOutput, ClientError> {
        let new_keys = new_keys.resolve().await?;
        let head = self.head_raw(bucket, key).await?;
        let meta = metadata_of(&head);
        let Some(envelope) = Envelope::from_metadata(&meta)? else {
            if crate::s3ec::Envelope::from_metadata(&meta)?.is_none() {
                return Err(ClientError::NotEncrypted { key: key.into() });
            }
            if !migrate_s3ec {
                return Err(ClientError::InvalidArgument(
                    "an AWS S3 Encryption Client object has no OSE1 wrapped keys to replace; \
                     migrate it to OSE1 instead"
                        .into(),
                ));
            }
            return self.migrate_s3ec(bucket, key, read, new_keys, head).await;
        };
        let ctx_hash = context_hash(bucket, key, &read.context, &read.location)?;
        let opened = self
            .open_object(bucket, key, head, envelope, &ctx_hash)
            .await?;
        let blobs = new_keys
            .wrap_existing(&opened.unwrapped.dek, &ctx_hash)
            .await?;
        let header = opened.unwrapped.object.header().clone();
        let (new_meta, holds) =
            Envelope::to_metadata(&header, &blobs, header.segmented, &user_metadata(&meta));
        let old = opened.envelope.instruction;
        // Checked before anything is written: S3 refuses to copy it onto itself.
        if opened.stored_len > MAX_COPY {
            return Err(copy_limit(opened.stored_len));
        }
        if holds.keys || old.keys {
            // Written first, and readable under the old metadata as under the new (same data key
            // and header; a reader whose metadata holds the keys ignores blobs here), so the object
            // stays readable whether or not the copy below succeeds.
            self.recheck_version(bucket, key, opened.etag.as_deref())
                .await?;
            self.put_instruction(bucket, key, blobs.clone(), opened.manifest.clone())
                .await?;
        }
        let source = format!("{bucket}/{}", percent_path(key));
        self.s3
            .copy_object()
            .bucket(bucket)
            .key(key)
            .copy_source(source)
            .set_copy_source_if_match(opened.etag.clone())
            .metadata_directive(MetadataDirective::Replace)
            .set_metadata(Some(new_meta))
            .set_content_type(opened.head.content_type.clone())
            .send()
            .await
            .map_err(|e| {
                if is_precondition_failed(&e) {
                    ClientError::Inconsistent(format!(
                        "s3://{bucket}/{key} was replaced while it was rewrapped"
                    ))
                } else {
                    s3_error("CopyObject", bucket, key, e)
                }
            })?;
        if old.keys && !holds.keys && !holds.manifest {
            // Nothing refers to it any more; a leftover would be ignored, so this is tidying.
            let _ = self
                .s3
                .delete_object()
                .bucket(bucket)
                .key(crate::layout::instruction_key(key))
                .send()
                .await;
        }
        Ok(RewrapOutput {
            key_ids: new_keys.key_ids(),
            migrated: false,
        })
    }

    /// Refuses to go on when `key` is no longer the version read (a narrow window remains between
    /// this check and the write that follows; `docs/FORMAT.md` §16).
    async fn recheck_version(
        &self,
        bucket: &str,
        key: &str,
        etag: Option<&str>,
    ) -> Result<(), ClientError> {
        let now = self.head_raw(bucket, key).await?;
        if now.e_tag.as_deref() != etag {
            return Err(ClientError::Inconsistent(format!(
                "s3://{bucket}/{key} was replaced while it was rewrapped"
            )));
        }
        Ok(())
    }

    async fn migrate_s3ec(
        &self,
        bucket: &str,
        key: &str,
        read: &GetOptions,
        new_keys: crate::keyring::ResolvedKeyring,
        head: aws_sdk_s3::operation::head_object::HeadObjectOutput,
    ) -> Result<RewrapOutput, ClientError> {
        let read = GetOptions {
            accept_s3ec: true,
            ..read.clone()
        };
        let (plaintext, got) = self.get(bucket, key, &read).await?;
        // The version read must be the one whose metadata is kept, and still be there.
        if got.etag != head.e_tag {
            return Err(ClientError::Inconsistent(format!(
                "s3://{bucket}/{key} was replaced while it was migrated"
            )));
        }
        self.recheck_version(bucket, key, head.e_tag.as_deref())
            .await?;
        let writer = Self {
            s3: self.s3.clone(),
            keys: std::sync::Arc::new(new_keys),
            config: self.config.clone(),
        };
        let mut metadata = user_metadata(&metadata_of(&head));
        metadata.retain(|k, _| !crate::s3ec_io::is_s3ec_name(k));
        let options = PutOptions {
            context: read.context.clone(),
            location: crate::Location::Here,
            content_type: head.content_type.clone(),
            metadata,
            format: WriteFormat::Objseal,
        };
        writer.put(bucket, key, &plaintext, &options).await?;
        Ok(RewrapOutput {
            key_ids: writer.keys.key_ids(),
            migrated: true,
        })
    }
}

/// A key as the `x-amz-copy-source` path wants it: each byte outside the unreserved set and `/`
/// percent-encoded.
fn percent_path(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
