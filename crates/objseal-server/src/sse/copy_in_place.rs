//! A metadata-only copy of an SSE-S3 or SSE-KMS object onto itself (`CopyObject` with `REPLACE`
//! whose encryption — named, or the bucket's or server's default — is exactly the one the object
//! has): the store copies the ciphertext as it
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
use super::record::{ESCAPED_USER_PREFIX, HEADER, ObjectRecord, SseKind, stored_user_metadata};
use super::request::{SseChoice, write_sse_headers};
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
        let choice = self
            .choose_encryption(&i.bucket, write_sse_headers!(i), super::is_tls(req))
            .await?;
        if !keeps_encryption(&choice, &record, &self.config.default_kms_key) {
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
        let mut copy_req = super::inner_request(req, http::Method::PUT, copy);
        // The ETag alone does not tell writes of equal plaintexts apart; the header does.
        let header = head
            .metadata
            .as_ref()
            .and_then(|m| m.get(HEADER))
            .cloned()
            .ok_or_else(|| super::errors::corrupt("missing header"))?;
        copy_req
            .extensions
            .insert(crate::internal::CopySourceMetadataMatch {
                name: HEADER.to_owned(),
                value: header,
            });
        let copied = self
            .inner
            .copy_object(copy_req)
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

/// Whether the encryption a copy would get — its headers, else the bucket's default, else the
/// server's — is the one the object has: the same kind, and for SSE-KMS the same key ARN (the
/// server's default key is configured by ARN) and bucket-key setting, without a new context.
fn keeps_encryption(choice: &SseChoice, record: &ObjectRecord, default_kms_key: &str) -> bool {
    let sealing = &record.sealing;
    match (sealing.kind, choice) {
        (SseKind::S3, SseChoice::S3) => true,
        (SseKind::Kms, SseChoice::Kms(k)) => {
            let key = k.key_id.as_deref().unwrap_or(default_kms_key);
            sealing.kms_key.as_deref() == Some(key)
                && k.context.is_empty()
                && sealing.kms_context.is_empty()
                && k.bucket_key == sealing.bucket_key
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
