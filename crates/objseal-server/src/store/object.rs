//! Object operations: put, get, head, delete, copy.

use std::collections::HashMap;
use std::fs;
use std::io::{Seek, SeekFrom, Write};

use s3s::dto::*;
use s3s::{S3Error, S3Request, S3Response, S3Result, s3_error};

use super::layout::{object_paths, temp_path};
use super::object_file::{
    BodyWriter, FileStream, ObjectMeta, TempFile, copy_exact, encode_trailer, open_object,
};
use super::{LocalStore, blocking, check_key, internal_error, ms_from_ts, now_ms, ts_from_ms};
use crate::internal::{LATE_ETAG, LateMetadata};

pub(super) fn no_such_key() -> S3Error {
    s3_error!(NoSuchKey, "The specified key does not exist.")
}

/// User metadata as returned on GET / HEAD (`None` when there is none).
fn metadata_out(meta: &ObjectMeta) -> Option<Metadata> {
    if meta.metadata.is_empty() {
        None
    } else {
        Some(
            meta.metadata
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect::<HashMap<_, _>>(),
        )
    }
}

/// Takes the layer's late entries (if it left any) and merges them over `meta`'s metadata; a
/// [`LATE_ETAG`] entry also becomes the ETag. Returns whether one did.
pub(super) fn apply_late(meta: &mut ObjectMeta, late: Option<&LateMetadata>) -> bool {
    let Some(entries) = late.and_then(LateMetadata::take) else {
        return false;
    };
    let etag = entries.get(LATE_ETAG).cloned();
    meta.metadata.extend(entries);
    match etag {
        Some(etag) => {
            meta.etag = etag;
            true
        }
        None => false,
    }
}

/// The error for a write whose `LateMetadata` named no ETag although the store did not hash.
pub(super) fn missing_late_etag() -> S3Error {
    internal_error(std::io::Error::other(
        "the request carried LateMetadata but the layer named no objseal-etag",
    ))
}

/// The byte range a request asks for: `(start, length, Content-Range)`.
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

fn length_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A GetObject or HeadObject answer (they share every header) for a stored object, `len` bytes of
/// it served, with `extra` fields (GET's body).
macro_rules! object_output {
    ($ty:ident { $($field:ident: $value:expr),* $(,)? }, $meta:expr, $len:expr, $range:expr) => {{
        let meta = $meta;
        $ty {
            $($field: $value,)*
            accept_ranges: Some("bytes".to_owned()),
            content_length: Some(length_i64($len)),
            content_range: $range,
            metadata: metadata_out(&meta),
            e_tag: Some(ETag::Strong(meta.etag)),
            last_modified: Some(ts_from_ms(meta.last_modified)),
            content_type: meta.content_type,
            cache_control: meta.cache_control,
            content_disposition: meta.content_disposition,
            content_encoding: meta.content_encoding,
            content_language: meta.content_language,
            expires: meta.expires.map(ts_from_ms),
            website_redirect_location: meta.website_redirect_location,
            ..Default::default()
        }
    }};
}

impl LocalStore {
    pub(super) async fn put_object_impl(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        let late = req.extensions.get::<LateMetadata>().cloned();
        let input = req.input;
        check_key(&input.key)?;
        let bucket = self.bucket(&input.bucket)?;

        // With LateMetadata the layer names the ETag: no need to hash the body.
        let path = temp_path(&self.inner.root).map_err(internal_error)?;
        let mut writer = BodyWriter::create(path, late.is_none())
            .await
            .map_err(internal_error)?;
        writer.write_stream(input.body).await?;

        let md5 = writer.md5_hex();
        let mut meta = ObjectMeta {
            key: input.key,
            size: writer.size(),
            etag: md5.clone().unwrap_or_default(),
            last_modified: now_ms(),
            content_type: input.content_type,
            cache_control: input.cache_control,
            content_disposition: input.content_disposition,
            content_encoding: input.content_encoding,
            content_language: input.content_language,
            expires: input.expires.as_ref().map(ms_from_ts),
            website_redirect_location: input.website_redirect_location,
            metadata: input.metadata.unwrap_or_default().into_iter().collect(),
            parts: Vec::new(),
        };
        if !apply_late(&mut meta, late.as_ref()) && md5.is_none() {
            return Err(missing_late_etag());
        }
        let temp = writer.finish(&meta).await.map_err(internal_error)?;
        let etag = meta.etag.clone();
        let size = meta.size;
        blocking(move || bucket.commit_object(temp, &meta)).await?;

        Ok(S3Response::new(PutObjectOutput {
            e_tag: Some(ETag::Strong(etag)),
            size: Some(length_i64(size)),
            ..Default::default()
        }))
    }

    /// Opens an object, positioned at the start of the requested range.
    async fn open_range(
        &self,
        bucket: &str,
        key: &str,
        range: Option<Range>,
        seek: bool,
    ) -> S3Result<(fs::File, ObjectMeta, u64, Option<String>)> {
        let bucket = self.bucket(bucket)?;
        let (_, path) = object_paths(&bucket.dir, key);
        let key = key.to_owned();
        blocking(move || {
            let (mut file, meta) = open_object(&path, &key)
                .map_err(internal_error)?
                .ok_or_else(no_such_key)?;
            let (start, len, content_range) = resolve_range(range, meta.size)?;
            if seek {
                file.seek(SeekFrom::Start(start)).map_err(internal_error)?;
            }
            Ok((file, meta, len, content_range))
        })
        .await
    }

    pub(super) async fn get_object_impl(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        let input = req.input;
        let (file, meta, len, content_range) = self
            .open_range(&input.bucket, &input.key, input.range, true)
            .await?;
        // If-Match is checked against the version just opened, so a caller that read the
        // metadata first (the SSE layer) is sure the bytes belong to it.
        if let Some(cond) = &input.if_match
            && !cond.is_any()
            && cond.as_etag().map(|e| e.value().trim_matches('"')) != Some(meta.etag.as_str())
        {
            return Err(s3_error!(PreconditionFailed));
        }
        let body = StreamingBlob::new(FileStream::new(file, len));
        Ok(S3Response::new(object_output!(
            GetObjectOutput { body: Some(body) },
            meta,
            len,
            content_range
        )))
    }

    pub(super) async fn head_object_impl(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        let input = req.input;
        let (file, meta, len, content_range) = self
            .open_range(&input.bucket, &input.key, input.range, false)
            .await?;
        drop(file);
        Ok(S3Response::new(object_output!(
            HeadObjectOutput {},
            meta,
            len,
            content_range
        )))
    }

    pub(super) async fn delete_object_impl(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        let input = req.input;
        let bucket = self.bucket(&input.bucket)?;
        if input.key.len() <= super::layout::MAX_KEY_LEN {
            let key = input.key;
            blocking(move || bucket.remove_object(&key)).await?;
        }
        Ok(S3Response::new(DeleteObjectOutput::default()))
    }

    pub(super) async fn delete_objects_impl(
        &self,
        req: S3Request<DeleteObjectsInput>,
    ) -> S3Result<S3Response<DeleteObjectsOutput>> {
        let input = req.input;
        let bucket = self.bucket(&input.bucket)?;
        let quiet = input.delete.quiet.unwrap_or(false);
        let keys: Vec<String> = input.delete.objects.into_iter().map(|o| o.key).collect();
        let results = blocking(move || {
            Ok(keys
                .into_iter()
                .map(|key| {
                    let result = if key.len() > super::layout::MAX_KEY_LEN {
                        Ok(())
                    } else {
                        bucket.remove_object(&key)
                    };
                    (key, result)
                })
                .collect::<Vec<_>>())
        })
        .await?;
        let mut deleted = Vec::new();
        let mut errors = Vec::new();
        for (key, result) in results {
            match result {
                Ok(()) if quiet => {}
                Ok(()) => deleted.push(DeletedObject {
                    key: Some(key),
                    ..Default::default()
                }),
                Err(e) => errors.push(Error {
                    code: Some(e.code().as_str().to_owned()),
                    key: Some(key),
                    message: e.message().map(str::to_owned),
                    version_id: None,
                }),
            }
        }
        Ok(S3Response::new(DeleteObjectsOutput {
            deleted: Some(deleted),
            errors: if errors.is_empty() {
                None
            } else {
                Some(errors)
            },
            ..Default::default()
        }))
    }

    pub(super) async fn copy_object_impl(
        &self,
        req: S3Request<CopyObjectInput>,
    ) -> S3Result<S3Response<CopyObjectOutput>> {
        let late = req.extensions.get::<LateMetadata>().cloned();
        let must_hold = req
            .extensions
            .get::<crate::internal::CopySourceMetadataMatch>()
            .cloned();
        let input = req.input;
        let (src_bucket, src_key) = match &input.copy_source {
            CopySource::Bucket { bucket, key, .. } => (bucket.to_string(), key.to_string()),
            _ => {
                return Err(s3_error!(
                    NotImplemented,
                    "Only bucket copy sources are supported"
                ));
            }
        };
        check_key(&input.key)?;
        let dst = self.bucket(&input.bucket)?;
        let src = self.bucket(&src_bucket)?;
        let replace = input
            .metadata_directive
            .as_ref()
            .is_some_and(|d| d.as_str().eq_ignore_ascii_case(MetadataDirective::REPLACE));
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

        let root = self.inner.root.clone();
        let (_, src_path) = object_paths(&src.dir, &src_key);
        let meta = blocking(move || {
            let (mut file, src_meta) = open_object(&src_path, &src_key)
                .map_err(internal_error)?
                .ok_or_else(no_such_key)?;
            // Checked against the version just opened, so a caller that read the source's
            // metadata first (the SSE layer's in-place copy) copies exactly that version.
            if let Some(cond) = &input.copy_source_if_match
                && !cond.is_any()
                && cond.as_etag().map(|e| e.value().trim_matches('"'))
                    != Some(src_meta.etag.as_str())
            {
                return Err(s3_error!(PreconditionFailed));
            }
            if let Some(m) = &must_hold
                && src_meta.metadata.get(&m.name) != Some(&m.value)
            {
                return Err(s3_error!(PreconditionFailed));
            }
            file.seek(SeekFrom::Start(0)).map_err(internal_error)?;
            let temp = TempFile::new(temp_path(&root).map_err(internal_error)?);
            let mut out = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(temp.path())
                .map_err(internal_error)?;
            copy_exact(&mut file, &mut out, src_meta.size).map_err(internal_error)?;

            let mut meta = if replace {
                ObjectMeta {
                    content_type: input.content_type,
                    cache_control: input.cache_control,
                    content_disposition: input.content_disposition,
                    content_encoding: input.content_encoding,
                    content_language: input.content_language,
                    expires: input.expires.as_ref().map(ms_from_ts),
                    website_redirect_location: input.website_redirect_location,
                    metadata: input.metadata.unwrap_or_default().into_iter().collect(),
                    ..src_meta.clone()
                }
            } else {
                src_meta.clone()
            };
            meta.key = input.key;
            meta.size = src_meta.size;
            meta.etag = src_meta.etag;
            meta.parts = src_meta.parts;
            meta.last_modified = now_ms();
            apply_late(&mut meta, late.as_ref());

            out.write_all(&encode_trailer(&meta).map_err(internal_error)?)
                .map_err(internal_error)?;
            out.sync_all().map_err(internal_error)?;
            drop(out);
            dst.commit_object(temp, &meta)?;
            Ok(meta)
        })
        .await?;

        Ok(S3Response::new(CopyObjectOutput {
            copy_object_result: Some(CopyObjectResult {
                e_tag: Some(ETag::Strong(meta.etag)),
                last_modified: Some(ts_from_ms(meta.last_modified)),
                ..Default::default()
            }),
            ..Default::default()
        }))
    }
}
