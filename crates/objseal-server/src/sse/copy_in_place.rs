//! A metadata-only copy of an SSE-S3 or SSE-KMS object onto itself (`CopyObject` with `REPLACE`,
//! naming no encryption or exactly the one the object has): the store copies the ciphertext as it
//! is, with the new metadata beside the object's own record. The object's key and context are its
//! bucket and key, so nothing needs re-encrypting: no data key is unwrapped and no KMS call is
//! made — changing an object's metadata needs S3 permissions only, as reading its metadata does
//! (Amazon S3 re-encrypts, and so asks for `kms:Decrypt`). A copy that changes the encryption
//! (another kind or key, a context, SSE-C) goes through the full copy.

use s3s::dto::{
    CopyObjectInput, CopyObjectOutput, CopyObjectResult, CopySource, ETag, ETagCondition,
    HeadObjectInput, Metadata, MetadataDirective,
};
use s3s::{S3, S3Error, S3Request, S3Response};

use super::SseLayer;
use super::copy::precondition_on_copy;
use super::echo::{SseEcho, echo_sse};
use super::record::{ESCAPED_USER_PREFIX, ObjectRecord, SseKind, stored_user_metadata};
use crate::internal::RESERVED_PREFIX;

impl<S: S3> SseLayer<S> {
    /// Copies the object of `req` onto itself with new metadata when that needs no re-encryption;
    /// `None` when the request is not such a copy (the full copy serves it).
    pub(crate) async fn copy_in_place(
        &self,
        req: &S3Request<CopyObjectInput>,
    ) -> Result<Option<S3Response<CopyObjectOutput>>, S3Error> {
        let i = &req.input;
        let same_object = matches!(
            &i.copy_source,
            CopySource::Bucket { bucket, key, version_id: None }
                if **bucket == *i.bucket && **key == *i.key
        );
        let replace = i
            .metadata_directive
            .as_ref()
            .is_some_and(|d| d.as_str() == MetadataDirective::REPLACE);
        let other_encryption = i.ssekms_encryption_context.is_some()
            || i.sse_customer_algorithm.is_some()
            || i.copy_source_sse_customer_algorithm.is_some();
        if !same_object || !replace || other_encryption {
            return Ok(None);
        }
        let head_req = super::inner_request(
            req,
            http::Method::HEAD,
            HeadObjectInput {
                bucket: i.bucket.clone(),
                key: i.key.clone(),
                ..Default::default()
            },
        );
        let head = self.inner.head_object(head_req).await?.output;
        let record = ObjectRecord::from_metadata(head.metadata.as_ref())?;
        if !keeps_encryption(i, &record) {
            return Ok(None);
        }
        let etag = record.etag.clone().unwrap_or_default();
        super::get::check_conditions(
            &etag,
            head.last_modified.as_ref(),
            i.copy_source_if_match.as_ref(),
            i.copy_source_if_none_match.as_ref(),
            i.copy_source_if_modified_since.as_ref(),
            i.copy_source_if_unmodified_since.as_ref(),
        )
        .map_err(precondition_on_copy)?;
        super::record::check_user_metadata(i.metadata.as_ref())?;
        // The object's own record, and the client's new metadata (escaped as on every write).
        let mut metadata: Metadata = head
            .metadata
            .clone()
            .unwrap_or_default()
            .into_iter()
            .filter(|(k, _)| is_record_entry(k))
            .collect();
        metadata.extend(stored_user_metadata(i.metadata.clone()).unwrap_or_default());
        let inner_etag = head
            .e_tag
            .as_ref()
            .map(|e| e.value().trim_matches('"').to_owned())
            .unwrap_or_default();
        // The client's input, with what the layer checked itself taken out: the conditions (on
        // the plaintext ETag the client knows), and anything the store must not see (ACLs and
        // the like are not the store's business).
        let mut copy: CopyObjectInput = i.clone();
        copy.copy_source_if_match = Some(ETagCondition::ETag(ETag::Strong(inner_etag)));
        copy.copy_source_if_none_match = None;
        copy.copy_source_if_modified_since = None;
        copy.copy_source_if_unmodified_since = None;
        copy.metadata = Some(metadata);
        copy.checksum_algorithm = None;
        copy.tagging = None;
        copy.tagging_directive = None;
        let copied = self
            .inner
            .copy_object(super::inner_request(req, http::Method::PUT, copy))
            .await
            .map_err(|e| {
                if *e.code() == s3s::S3ErrorCode::PreconditionFailed {
                    // Replaced between our read and the copy: as if it were a conflicting write.
                    super::get::changed()
                } else {
                    e
                }
            })?
            .output;
        let mut out = CopyObjectOutput {
            copy_object_result: Some(CopyObjectResult {
                e_tag: Some(ETag::Strong(etag)),
                last_modified: copied.copy_object_result.and_then(|r| r.last_modified),
                ..Default::default()
            }),
            ..Default::default()
        };
        let echo = SseEcho::of(&record.sealing, None);
        echo_sse!(out, echo);
        out.ssekms_encryption_context = echo
            .kms_context
            .filter(|_| !record.sealing.kms_context.is_empty());
        Ok(Some(S3Response::new(out)))
    }
}

/// Whether the copy asks for the encryption the object has: SSE-S3 or SSE-KMS, named or not, and
/// for SSE-KMS the same key ARN and bucket-key setting when named.
fn keeps_encryption(i: &CopyObjectInput, record: &ObjectRecord) -> bool {
    let sealing = &record.sealing;
    let sse = i.server_side_encryption.as_ref().map(|s| s.as_str());
    let key_id = i.ssekms_key_id.as_deref();
    let bucket_key_same = i.bucket_key_enabled.is_none_or(|b| b == sealing.bucket_key);
    match (sealing.kind, sse) {
        (SseKind::S3 | SseKind::Kms, None) => key_id.is_none() && i.bucket_key_enabled.is_none(),
        (SseKind::S3, Some("AES256")) => key_id.is_none() && i.bucket_key_enabled.is_none(),
        (SseKind::Kms, Some("aws:kms")) => {
            key_id.is_some() && key_id == sealing.kms_key.as_deref() && bucket_key_same
        }
        _ => false,
    }
}

/// Whether a stored metadata entry is the layer's own record (kept as it is) rather than the
/// client's metadata (replaced).
fn is_record_entry(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.starts_with(RESERVED_PREFIX) && !lower.starts_with(ESCAPED_USER_PREFIX)
}
