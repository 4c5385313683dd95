//! CopyObject over the backend: a backend copy of the version checked, with the metadata the
//! gateway states (see the module documentation's "Copies").

use std::collections::HashMap;

use aws_sdk_s3::types::MetadataDirective as SdkDirective;
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result, s3_error};

use super::errors::{Subject, backend_error};
use super::objects::{no_such_key, refuse_reserved, stored_encoding, upfront_metadata};
use super::sidecar::{SIDECAR_META, late_key};
use super::stat::{Conditions, Stat};
use super::trailer::TRAILER_META;
use super::{RemoteStore, from_sdk_time, is_reserved_key, quoted, to_sdk_time, unquote};
use crate::internal::{CopySourceMetadataMatch, LATE_ETAG, LateMetadata};

impl RemoteStore {
    pub(super) async fn copy_object_impl(
        &self,
        req: S3Request<CopyObjectInput>,
    ) -> S3Result<S3Response<CopyObjectOutput>> {
        let late = req.extensions.get::<LateMetadata>().cloned();
        let must_hold = req.extensions.get::<CopySourceMetadataMatch>().cloned();
        let input = req.input;
        let (src_bucket, src_key) = match &input.copy_source {
            CopySource::Bucket {
                bucket,
                key,
                version_id: None,
            } => (bucket.to_string(), key.to_string()),
            _ => {
                return Err(s3_error!(
                    NotImplemented,
                    "Only bucket copy sources without a version are supported"
                ));
            }
        };
        refuse_reserved(&input.key)?;
        if is_reserved_key(&src_key) {
            return Err(no_such_key());
        }
        let replace = input
            .metadata_directive
            .as_ref()
            .is_some_and(|d| d.as_str().eq_ignore_ascii_case(MetadataDirective::REPLACE));
        let late: Option<HashMap<String, String>> = late.as_ref().and_then(LateMetadata::take);
        let changes_something = replace
            || late.is_some()
            || input.server_side_encryption.is_some()
            || input.ssekms_key_id.is_some()
            || input.sse_customer_algorithm.is_some()
            || input.storage_class.is_some()
            || input.website_redirect_location.is_some();
        if src_bucket == input.bucket && src_key == input.key && !changes_something {
            return Err(s3_error!(
                InvalidRequest,
                "This copy request is illegal because it is trying to copy an object to itself without changing the \
                 object's metadata, storage class, website redirect location or encryption attributes."
            ));
        }

        // The source as it is now; the copy is then pinned to exactly this version, so the
        // metadata checked here is the metadata copied.
        let cond = Conditions {
            if_match: input.copy_source_if_match.clone(),
            if_none_match: input.copy_source_if_none_match.clone(),
            if_modified_since: input.copy_source_if_modified_since.clone(),
            if_unmodified_since: input.copy_source_if_unmodified_since.clone(),
        };
        let src = self
            .stat(&src_bucket, &src_key, &cond)
            .await
            .map_err(|e| match e.code() {
                // A copy answers 412 where a read answers 304.
                S3ErrorCode::NotModified => S3Error::new(S3ErrorCode::PreconditionFailed),
                _ => e,
            })?;
        if let Some(m) = &must_hold
            && src.metadata().get(&m.name) != Some(&m.value)
        {
            return Err(S3Error::new(S3ErrorCode::PreconditionFailed));
        }

        let mut wanted: HashMap<String, String> = if replace {
            input.metadata.clone().unwrap_or_default()
        } else {
            src.upfront.clone()
        };
        wanted.extend(late.unwrap_or_default());
        let upfront = copied_upfront(wanted, &src).map_err(|name| {
            tracing::error!(bucket = %input.bucket, key = %input.key, entry = %name,
                "a copy would change an entry of the source's trailer");
            s3_error!(
                NotImplemented,
                "The gateway cannot change the late metadata of an object by a copy"
            )
        })?;
        let mut dest = Stat {
            has_trailer: src.has_trailer,
            late: src.late.clone(),
            upfront: upfront.clone(),
            ..Stat::default()
        };
        let (content_type, cache_control, disposition, encoding, language, expires, redirect) =
            if replace {
                (
                    input.content_type,
                    input.cache_control,
                    input.content_disposition,
                    stored_encoding(input.content_encoding),
                    input.content_language,
                    input.expires,
                    input.website_redirect_location,
                )
            } else {
                (
                    src.content_type.clone(),
                    src.cache_control.clone(),
                    src.content_disposition.clone(),
                    src.content_encoding.clone(),
                    src.content_language.clone(),
                    src.expires.clone(),
                    input
                        .website_redirect_location
                        .or(src.website_redirect_location.clone()),
                )
            };
        // A source whose late entries are in a sidecar: the copy gets its own sidecar (a fresh
        // token) before it exists.
        let mut metadata = upfront_metadata(Some(upfront), src.has_trailer);
        let copy_token = match &src.late_token {
            Some(_) => {
                let token = self.copy_late(&input.bucket, &input.key, &src.late).await?;
                metadata.insert(SIDECAR_META.to_owned(), token.clone());
                Some(token)
            }
            None => None,
        };
        let source = CopySource::Bucket {
            bucket: src_bucket.clone().into(),
            key: src_key.clone().into(),
            version_id: None,
        };
        let out = self
            .inner
            .clients
            .transfers
            .copy_object()
            .bucket(&input.bucket)
            .key(&input.key)
            .copy_source(source.format_to_string())
            .copy_source_if_match(quoted(&src.etag))
            // Always REPLACE: the gateway states the metadata itself (its trailer entry, the
            // late entries that do not fit the trailer), whatever the client's directive.
            .metadata_directive(SdkDirective::Replace)
            .set_metadata(Some(metadata))
            .set_content_type(content_type)
            .set_cache_control(cache_control)
            .set_content_disposition(disposition)
            .set_content_encoding(encoding)
            .set_content_language(language)
            .set_expires(expires.as_ref().map(to_sdk_time))
            .set_website_redirect_location(redirect)
            .send()
            .await;
        let out = match out {
            Ok(out) => out,
            Err(e) => {
                if let Some(token) = &copy_token {
                    self.forget_sidecar(&input.bucket, &late_key(token)).await;
                }
                return Err(backend_error("CopyObject", Subject::Object, e));
            }
        };
        // An in-place copy replaced the version read: its sidecar is no one's any more.
        if let Some(token) = src
            .late_token
            .as_ref()
            .filter(|_| src_bucket == input.bucket && src_key == input.key)
        {
            self.forget_sidecar(&input.bucket, &late_key(token)).await;
        }
        let result = out.copy_object_result();
        dest.etag = result
            .and_then(|r| r.e_tag())
            .map(unquote)
            .unwrap_or_default();
        let etag = dest.metadata().get(LATE_ETAG).cloned().unwrap_or(dest.etag);
        Ok(S3Response::new(CopyObjectOutput {
            copy_object_result: Some(CopyObjectResult {
                e_tag: Some(ETag::Strong(etag)),
                last_modified: result.and_then(|r| r.last_modified()).map(from_sdk_time),
                ..Default::default()
            }),
            ..Default::default()
        }))
    }
}

/// The upfront metadata of a copy of `src` that is to read back as `wanted`: the trailer travels
/// with the body, so entries it holds with the same value are left out (they would only take
/// room in the backend's 2 KB of user metadata). An entry it holds with another value cannot be
/// expressed — the trailer's entries win on reads — and is refused (`Err(name)`).
fn copied_upfront(
    wanted: HashMap<String, String>,
    src: &Stat,
) -> Result<HashMap<String, String>, String> {
    let mut out = HashMap::new();
    for (name, value) in wanted {
        if name.eq_ignore_ascii_case(TRAILER_META) {
            continue;
        }
        match src.late.get(&name) {
            Some(v) if *v == value => {}
            Some(_) => return Err(name),
            None => {
                out.insert(name, value);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_keep_trailer_entries_out_of_the_metadata() {
        let mut src = Stat::default();
        src.late.insert("objseal-size".into(), "5".into());
        let mut wanted = HashMap::new();
        wanted.insert("objseal-size".to_owned(), "5".to_owned());
        wanted.insert("objseal-header".to_owned(), "h".to_owned());
        wanted.insert(TRAILER_META.to_owned(), "4096".to_owned());
        let up = copied_upfront(wanted.clone(), &src).unwrap();
        assert_eq!(up.len(), 1);
        assert_eq!(up["objseal-header"], "h");
        wanted.insert("objseal-size".to_owned(), "6".to_owned());
        assert_eq!(copied_upfront(wanted, &src), Err("objseal-size".to_owned()));
    }
}
