//! CopyObject across the whole matrix of none / SSE-S3 / SSE-KMS / SSE-C on either side: the
//! source is opened (its customer key checked), and its plaintext sealed afresh for the
//! destination — a new data key, bound to the destination's bucket and key.

use s3s::dto::{
    CopyObjectInput, CopyObjectOutput, CopyObjectResult, CopySource, ETag, MetadataDirective,
    PutObjectInput,
};
use s3s::{S3, S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

use super::SseLayer;
use super::checksum::BodyChecks;
use super::echo::{SseEcho, echo_sse};
use super::errors::invalid_request;
use super::record::{check_user_metadata, user_metadata};
use super::request::{SseChoice, customer_headers, write_sse_headers};

/// The bucket and key of a copy source.
pub(crate) fn copy_source(src: &CopySource) -> Result<(String, String), S3Error> {
    match src {
        CopySource::Bucket {
            bucket,
            key,
            version_id: None,
        } => Ok((bucket.to_string(), key.to_string())),
        CopySource::Bucket { .. } => Err(S3Error::with_message(
            S3ErrorCode::NotImplemented,
            "Versioned copy sources are not supported.",
        )),
        _ => Err(S3Error::with_message(
            S3ErrorCode::NotImplemented,
            "Access point copy sources are not supported.",
        )),
    }
}

/// Copy-source conditions fail with 412, never 304.
pub(crate) fn precondition_on_copy(e: S3Error) -> S3Error {
    if *e.code() == S3ErrorCode::NotModified {
        S3Error::new(S3ErrorCode::PreconditionFailed)
    } else {
        e
    }
}

impl<S: S3> SseLayer<S> {
    pub(crate) async fn copy(
        &self,
        req: S3Request<CopyObjectInput>,
    ) -> S3Result<S3Response<CopyObjectOutput>> {
        if let Some(done) = self.copy_in_place(&req).await? {
            return Ok(done);
        }
        let tls = super::is_tls(&req);
        let i = &req.input;
        let (src_bucket, src_key) = copy_source(&i.copy_source)?;
        let src_customer =
            customer_headers!(i, copy_source).parse(tls, self.config.allow_ssec_over_http)?;
        let replace = i
            .metadata_directive
            .as_ref()
            .is_some_and(|d| d.as_str() == MetadataDirective::REPLACE);
        if replace {
            check_user_metadata(i.metadata.as_ref())?;
        }
        let choice = self
            .choose_encryption(&i.bucket, write_sse_headers!(i), tls)
            .await?;
        let changes_encryption = i.server_side_encryption.is_some() || i.sse_customer_key.is_some();
        if src_bucket == i.bucket && src_key == i.key && !replace && !changes_encryption {
            return Err(invalid_request(
                "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
            ));
        }
        let src = self
            .open_object(&req, &src_bucket, &src_key, src_customer.as_ref())
            .await?;
        super::get::check_conditions(
            &src.etag,
            src.head.last_modified.as_ref(),
            i.copy_source_if_match.as_ref(),
            i.copy_source_if_none_match.as_ref(),
            i.copy_source_if_modified_since.as_ref(),
            i.copy_source_if_unmodified_since.as_ref(),
        )
        .map_err(precondition_on_copy)?;
        let size = src.layout.size;
        let body = self
            .plaintext_body(&req, &src_bucket, &src_key, &src, 0, size)
            .await?;
        let customer_md5 = match &choice {
            SseChoice::Customer(c) => Some(c.md5_b64.clone()),
            _ => None,
        };
        let (bucket, key) = (i.bucket.clone(), i.key.clone());
        let h = &src.head;
        let put = if replace {
            PutObjectInput {
                bucket,
                key,
                metadata: i.metadata.clone(),
                content_type: i.content_type.clone(),
                cache_control: i.cache_control.clone(),
                content_disposition: i.content_disposition.clone(),
                content_encoding: i.content_encoding.clone(),
                content_language: i.content_language.clone(),
                expires: i.expires.clone(),
                ..Default::default()
            }
        } else {
            PutObjectInput {
                bucket,
                key,
                metadata: user_metadata(h.metadata.clone()),
                content_type: h.content_type.clone(),
                cache_control: h.cache_control.clone(),
                content_disposition: h.content_disposition.clone(),
                content_encoding: h.content_encoding.clone(),
                content_language: h.content_language.clone(),
                expires: h.expires.clone(),
                ..Default::default()
            }
        };
        let put_req = super::inner_request(&req, http::Method::PUT, put);
        let want_md5 = matches!(choice, SseChoice::None | SseChoice::S3);
        let checks = BodyChecks::plan(&http::HeaderMap::new(), None, want_md5)?;
        let stored = self
            .store_object(put_req, &choice, body, Some(size), checks)
            .await?;
        let mut out = CopyObjectOutput {
            copy_object_result: Some(CopyObjectResult {
                e_tag: Some(ETag::Strong(stored.etag)),
                last_modified: Some(s3s::dto::Timestamp::from(std::time::SystemTime::now())),
                ..Default::default()
            }),
            ..Default::default()
        };
        let echo = SseEcho::of(&stored.sealing, customer_md5.as_deref());
        echo_sse!(out, echo);
        out.ssekms_encryption_context = echo
            .kms_context
            .filter(|_| !stored.sealing.kms_context.is_empty());
        Ok(S3Response::new(out))
    }
}
