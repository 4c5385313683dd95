//! Object operations over the backend: put, get, head, delete (copies: `copy.rs`).

use std::collections::{BTreeMap, HashMap};

use aws_sdk_s3::primitives::{ByteStream, SdkBody};
use aws_sdk_s3::types::{Delete, ObjectIdentifier};
use futures::StreamExt as _;
use s3s::dto::*;
use s3s::stream::ByteStream as _;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result, s3_error};

use super::body::{DownloadBody, TrailerSource, UploadBody};
use super::errors::{Subject, backend_error, corrupt};
use super::sidecar::{SIDECAR_META, late_key, valid_token};
use super::stat::{Conditions, Stat};
use super::trailer::{TRAILER_LEN, TRAILER_META, TrailerSeal};
use super::{RemoteStore, header_value, is_reserved_key, length_i64, quoted, to_sdk_time, unquote};
use crate::internal::{LATE_ETAG, LateMetadata};

/// The most a body of unknown length (a PostObject's) may hold: it is read into memory before
/// the upload starts, since the backend needs a Content-Length.
pub const MAX_UNSIZED_BODY: usize = 16 * 1024 * 1024;

pub(super) fn no_such_key() -> S3Error {
    s3_error!(NoSuchKey, "The specified key does not exist.")
}

/// Writes under the gateway's own prefix would overwrite its sidecars.
pub(super) fn refuse_reserved(key: &str) -> S3Result<()> {
    if is_reserved_key(key) {
        return Err(s3_error!(
            InvalidArgument,
            "Keys starting with .objseal/ are reserved by the gateway"
        ));
    }
    Ok(())
}

/// The stored bytes a request asks for: `(start, length, Content-Range)`, as
/// [`LocalStore`](crate::LocalStore) resolves them.
fn resolve_range(range: Option<Range>, size: u64) -> S3Result<(u64, u64, Option<String>)> {
    match range {
        None => Ok((0, size, None)),
        Some(range) => {
            let r = range
                .check(size)
                .map_err(|_| s3_error!(InvalidRange, "The requested range is not satisfiable"))?;
            let content_range = format!("bytes {}-{}/{}", r.start, r.end - 1, size);
            Ok((r.start, r.end - r.start, Some(content_range)))
        }
    }
}

/// `aws-chunked` describes how the client framed its request, not the object: never stored.
pub(super) fn stored_encoding(encoding: Option<String>) -> Option<String> {
    let kept: Vec<&str> = encoding
        .as_deref()?
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty() && !e.eq_ignore_ascii_case("aws-chunked"))
        .collect();
    (!kept.is_empty()).then(|| kept.join(","))
}

/// User metadata as the backend is to keep it: the gateway's own entry is the gateway's to set.
pub(super) fn upfront_metadata(
    metadata: Option<Metadata>,
    trailer: bool,
) -> HashMap<String, String> {
    let mut m: HashMap<String, String> = metadata.unwrap_or_default();
    m.retain(|k, _| !k.eq_ignore_ascii_case(TRAILER_META) && !k.eq_ignore_ascii_case(SIDECAR_META));
    if trailer {
        m.insert(TRAILER_META.to_owned(), TRAILER_LEN.to_string());
    }
    m
}

/// A GetObject or HeadObject answer for `stat`, `len` bytes of it served, with `extra` fields.
macro_rules! object_output {
    ($ty:ident { $($field:ident: $value:expr),* $(,)? }, $stat:expr, $len:expr, $range:expr) => {{
        let stat: Stat = $stat;
        let metadata = stat.metadata();
        $ty {
            $($field: $value,)*
            accept_ranges: Some("bytes".to_owned()),
            content_length: Some(length_i64($len)),
            content_range: $range,
            metadata: (!metadata.is_empty()).then_some(metadata),
            e_tag: Some(ETag::Strong(stat.etag)),
            last_modified: stat.last_modified,
            content_type: stat.content_type,
            cache_control: stat.cache_control,
            content_disposition: stat.content_disposition,
            content_encoding: stat.content_encoding,
            content_language: stat.content_language,
            expires: stat.expires,
            website_redirect_location: stat.website_redirect_location,
            ..Default::default()
        }
    }};
}

impl RemoteStore {
    pub(super) async fn put_object_impl(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        let late = req.extensions.get::<LateMetadata>().cloned();
        let input = req.input;
        refuse_reserved(&input.key)?;
        let body = input.body.unwrap_or_else(empty_blob);
        let declared = input
            .content_length
            .and_then(|l| u64::try_from(l).ok())
            .or_else(|| body.remaining_length().exact().map(|n| n as u64));
        // Entries after the body: they go into the trailer, sealed for this object's header.
        let has_trailer = late.is_some();
        let late = match late {
            Some(late) => Some((late, self.trailer_seal(input.metadata.as_ref())?)),
            None => None,
        };
        let upload = match declared {
            Some(len) => UploadBody::new(
                body,
                len,
                late.map_or(TrailerSource::None, |(l, s)| TrailerSource::Late(l, s)),
            ),
            None => buffered_upload(body, late).await?,
        };
        let outcome = upload.outcome();
        let total = upload.total_len();
        let stored_len = upload.stored_len();
        let sent = self
            .inner
            .clients
            .transfers
            .put_object()
            .bucket(&input.bucket)
            .key(&input.key)
            .content_length(length_i64(total))
            .body(ByteStream::new(SdkBody::from_body_1_x(upload)))
            .set_metadata(Some(upfront_metadata(input.metadata, has_trailer)))
            .set_content_type(input.content_type)
            .set_cache_control(input.cache_control)
            .set_content_disposition(input.content_disposition)
            .set_content_encoding(stored_encoding(input.content_encoding))
            .set_content_language(input.content_language)
            .set_expires(input.expires.as_ref().map(to_sdk_time))
            .set_website_redirect_location(input.website_redirect_location)
            // A create-only write stays one; an ETag condition names the layer's ETag, which
            // the backend does not know, so it is not passed on (LocalStore ignores both).
            .set_if_none_match(
                input
                    .if_none_match
                    .as_ref()
                    .filter(|c| c.is_any())
                    .and_then(header_value),
            )
            .send()
            .await;
        // The body's own verdict (short, refused by the layer, no late entries) explains a
        // failure best.
        if let Some(e) = outcome.take_failure() {
            return Err(e);
        }
        let out = sent.map_err(|e| backend_error("PutObject", Subject::Object, e))?;
        let etag = outcome
            .entries()
            .and_then(|e| e.get(LATE_ETAG).cloned())
            .or_else(|| out.e_tag().map(unquote))
            .unwrap_or_default();
        Ok(S3Response::new(PutObjectOutput {
            e_tag: Some(ETag::Strong(etag)),
            size: Some(length_i64(stored_len)),
            ..Default::default()
        }))
    }

    /// `len` stored bytes of `stat`'s version from `start`, pinned to it.
    async fn read_range(
        &self,
        bucket: &str,
        key: &str,
        stat: &Stat,
        start: u64,
        len: u64,
    ) -> S3Result<StreamingBlob> {
        if len == 0 {
            return Ok(empty_blob());
        }
        let out = self
            .inner
            .clients
            .calls
            .get_object()
            .bucket(bucket)
            .key(key)
            .range(format!("bytes={}-{}", start, start + len - 1))
            .if_match(quoted(&stat.etag))
            .send()
            .await
            .map_err(|e| backend_error("GetObject", Subject::Object, e))?;
        if out.content_length().and_then(|l| u64::try_from(l).ok()) != Some(len) {
            return Err(corrupt(
                bucket,
                key,
                &"the backing store answered another length than asked for",
            ));
        }
        Ok(DownloadBody::new(out.body.into_inner(), len).into_blob())
    }

    pub(super) async fn get_object_impl(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        let input = req.input;
        if is_reserved_key(&input.key) {
            return Err(no_such_key());
        }
        let cond = Conditions {
            if_match: input.if_match.clone(),
            if_none_match: input.if_none_match.clone(),
            if_modified_since: input.if_modified_since.clone(),
            if_unmodified_since: input.if_unmodified_since.clone(),
        };
        // The metadata and the bytes are read in two requests, the second pinned to the version
        // the first described. A caller that pinned a version itself (If-Match: the layer does)
        // learns that it changed (412); for anyone else it is read again.
        let mut attempts = 0;
        loop {
            let stat = self.stat(&input.bucket, &input.key, &cond).await?;
            let (start, len, content_range) = resolve_range(input.range, stat.len)?;
            match self
                .read_range(&input.bucket, &input.key, &stat, start, len)
                .await
            {
                Ok(body) => {
                    return Ok(S3Response::new(object_output!(
                        GetObjectOutput { body: Some(body) },
                        stat,
                        len,
                        content_range
                    )));
                }
                Err(e)
                    if *e.code() == S3ErrorCode::PreconditionFailed
                        && cond.if_match.is_none()
                        && attempts < 2 =>
                {
                    attempts += 1;
                }
                Err(e)
                    if *e.code() == S3ErrorCode::PreconditionFailed && cond.if_match.is_none() =>
                {
                    return Err(S3Error::with_message(
                        S3ErrorCode::SlowDown,
                        "The object changed while it was being read; please retry.",
                    ));
                }
                Err(e) => return Err(e),
            }
        }
    }

    pub(super) async fn head_object_impl(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        let input = req.input;
        if is_reserved_key(&input.key) {
            return Err(no_such_key());
        }
        let cond = Conditions {
            if_match: input.if_match,
            if_none_match: input.if_none_match,
            if_modified_since: input.if_modified_since,
            if_unmodified_since: input.if_unmodified_since,
        };
        let stat = self.stat(&input.bucket, &input.key, &cond).await?;
        let (_, len, content_range) = resolve_range(input.range, stat.len)?;
        Ok(S3Response::new(object_output!(
            HeadObjectOutput {},
            stat,
            len,
            content_range
        )))
    }

    pub(super) async fn delete_object_impl(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        let input = req.input;
        // The gateway's sidecars are not there for clients: deleting one deletes nothing.
        if !is_reserved_key(&input.key) {
            let token = self.late_token_of(&input.bucket, &input.key).await;
            self.inner
                .clients
                .calls
                .delete_object()
                .bucket(&input.bucket)
                .key(&input.key)
                .send()
                .await
                .map_err(|e| backend_error("DeleteObject", Subject::Object, e))?;
            if let Some(token) = token {
                self.forget_sidecar(&input.bucket, &late_key(&token)).await;
            }
        }
        Ok(S3Response::new(DeleteObjectOutput::default()))
    }

    pub(super) async fn delete_objects_impl(
        &self,
        req: S3Request<DeleteObjectsInput>,
    ) -> S3Result<S3Response<DeleteObjectsOutput>> {
        let input = req.input;
        let quiet = input.delete.quiet.unwrap_or(false);
        let mut deleted = Vec::new();
        let mut errors = Vec::new();
        let mut passed = Vec::new();
        for object in input.delete.objects {
            if is_reserved_key(&object.key) {
                if !quiet {
                    deleted.push(DeletedObject {
                        key: Some(object.key),
                        ..Default::default()
                    });
                }
            } else {
                let id = ObjectIdentifier::builder()
                    .key(object.key)
                    .build()
                    .map_err(|_| super::errors::internal("a delete request could not be made"))?;
                passed.push(id);
            }
        }
        // The late sidecars of the objects deleted go with them.
        let keys: Vec<String> = passed.iter().map(|id| id.key().to_owned()).collect();
        let tokens: HashMap<String, String> = futures::stream::iter(keys)
            .map(|key| {
                let bucket = input.bucket.clone();
                async move {
                    let token = self.late_token_of(&bucket, &key).await;
                    token.map(|t| (key, t))
                }
            })
            .buffered(self.inner.list_concurrency.max(1))
            .filter_map(|t| async move { t })
            .collect()
            .await;
        let mut gone = Vec::new();
        // Amazon S3 takes at most 1000 keys per request.
        for batch in passed.chunks(1000) {
            if batch.is_empty() {
                continue;
            }
            // Never quiet at the backend: the keys it deleted name the late sidecars to forget
            // (a quiet answer names none), and some backends (moto) ignore Quiet anyway; the
            // client's quiet is applied to the answer below.
            let delete = Delete::builder()
                .set_objects(Some(batch.to_vec()))
                .quiet(false)
                .build()
                .map_err(|_| super::errors::internal("a delete request could not be made"))?;
            let out = self
                .inner
                .clients
                .calls
                .delete_objects()
                .bucket(&input.bucket)
                .delete(delete)
                .send()
                .await
                .map_err(|e| backend_error("DeleteObjects", Subject::Bucket, e))?;
            gone.extend(
                out.deleted()
                    .iter()
                    .filter_map(|d| d.key().and_then(|k| tokens.get(k)).cloned()),
            );
            if !quiet {
                deleted.extend(out.deleted().iter().map(|d| DeletedObject {
                    key: d.key().map(str::to_owned),
                    ..Default::default()
                }));
            }
            errors.extend(out.errors().iter().map(|e| Error {
                code: e.code().map(str::to_owned),
                key: e.key().map(str::to_owned),
                message: e.message().map(str::to_owned),
                version_id: None,
            }));
        }
        for token in gone {
            self.forget_sidecar(&input.bucket, &late_key(&token)).await;
        }
        Ok(S3Response::new(DeleteObjectsOutput {
            deleted: Some(deleted),
            errors: (!errors.is_empty()).then_some(errors),
            ..Default::default()
        }))
    }
}

impl RemoteStore {
    /// The late sidecar token of the object `key` names now, if any (by a HEAD; `None` on any
    /// failure: the sidecar is then left as garbage, never an object without its sidecar).
    async fn late_token_of(&self, bucket: &str, key: &str) -> Option<String> {
        let out = self
            .inner
            .clients
            .calls
            .head_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .ok()?;
        out.metadata()?
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(SIDECAR_META))
            .map(|(_, v)| v.clone())
            .filter(|t| valid_token(t))
    }
}

pub(super) fn empty_blob() -> StreamingBlob {
    StreamingBlob::wrap(futures::stream::empty::<Result<bytes::Bytes, std::io::Error>>())
}

/// An upload of a body whose length is not known ahead (PostObject): read into memory, at most
/// [`MAX_UNSIZED_BODY`] bytes, so the backend can be told its length. The layer's late entries
/// are complete once the body has ended.
pub(super) async fn buffered_upload(
    mut body: StreamingBlob,
    late: Option<(LateMetadata, TrailerSeal)>,
) -> S3Result<UploadBody> {
    let mut buf = bytes::BytesMut::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(crate::store::object_file::body_error)?;
        if buf.len() + chunk.len() > MAX_UNSIZED_BODY {
            return Err(s3_error!(
                EntityTooLarge,
                "Uploads of unknown length through this gateway are limited to 16 MiB"
            ));
        }
        buf.extend_from_slice(&chunk);
    }
    let len = buf.len() as u64;
    let trailer = match late {
        None => TrailerSource::None,
        Some((late, seal)) => {
            let entries: BTreeMap<String, String> = late
                .take()
                .ok_or_else(|| {
                    super::errors::internal("the layer's body ended without its late metadata")
                })?
                .into_iter()
                .collect();
            TrailerSource::Ready(entries, seal)
        }
    };
    let blob = StreamingBlob::wrap(futures::stream::iter([Ok::<_, std::io::Error>(
        buf.freeze(),
    )]));
    Ok(UploadBody::new(blob, len, trailer))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_chunked_is_not_stored() {
        assert_eq!(stored_encoding(None), None);
        assert_eq!(stored_encoding(Some("aws-chunked".into())), None);
        assert_eq!(
            stored_encoding(Some("aws-chunked, gzip".into())).as_deref(),
            Some("gzip")
        );
        assert_eq!(stored_encoding(Some("br".into())).as_deref(), Some("br"));
    }

    #[test]
    fn the_gateway_entry_is_the_gateways() {
        let mut given = HashMap::new();
        given.insert("Objseal-Trailer".to_owned(), "1".to_owned());
        given.insert("a".to_owned(), "b".to_owned());
        given.insert("objseal-LATE".to_owned(), "t".to_owned());
        let m = upfront_metadata(Some(given.clone()), false);
        assert_eq!(m.len(), 1);
        let m = upfront_metadata(Some(given), true);
        assert_eq!(m[TRAILER_META], "4096");
    }

    #[test]
    fn ranges() {
        assert_eq!(resolve_range(None, 0).unwrap(), (0, 0, None));
        assert_eq!(
            resolve_range(Some(Range::Suffix { length: 3 }), 10).unwrap(),
            (7, 3, Some("bytes 7-9/10".into()))
        );
        assert!(
            resolve_range(
                Some(Range::Int {
                    first: 10,
                    last: None
                }),
                10
            )
            .is_err()
        );
    }
}
