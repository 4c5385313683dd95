//! Multipart uploads: a directory per upload holding `upload.json` and the part files.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use md5::{Digest as _, Md5};
use s3s::dto::*;
use s3s::{S3Error, S3Request, S3Response, S3Result, s3_error};
use serde::{Deserialize, Serialize};

use super::bucket::BucketState;
use super::layout::{
    self, TMP_DIR, UPLOAD_FILE, fsync_dir, parse_part_file_name, part_file_name, temp_path,
    valid_upload_id,
};
use super::object::{apply_late, missing_late_etag};
use super::object_file::{
    BodyWriter, ObjectMeta, PartMeta, TempFile, copy_exact, encode_trailer, read_trailer,
};
use super::{
    LocalStore, blocking, check_key, internal_error, lock, ms_from_ts, now_ms, ts_from_ms,
};
use crate::internal::{LATE_ETAG, LateMetadata};

/// The most parts an upload can have, and the most a listing returns.
const MAX_PARTS: i32 = 10_000;
/// The most parts or uploads one listing returns.
const MAX_LISTED: i32 = 1000;

/// What `upload.json` holds.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct UploadMeta {
    pub upload_id: String,
    /// Milliseconds since the Unix epoch.
    pub initiated: i64,
    /// The object to be: key, content headers, metadata (size and ETag are filled at completion).
    pub object: ObjectMeta,
}

fn no_such_upload() -> S3Error {
    s3_error!(
        NoSuchUpload,
        "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed."
    )
}

/// The directory of an upload of `key` and its description; NoSuchUpload if there is none.
/// Blocking.
fn load_upload(
    bucket: &BucketState,
    upload_id: &str,
    key: &str,
) -> S3Result<(PathBuf, UploadMeta)> {
    if !valid_upload_id(upload_id) {
        return Err(no_such_upload());
    }
    let dir = bucket.uploads_dir().join(upload_id);
    let bytes = match fs::read(dir.join(UPLOAD_FILE)) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(no_such_upload()),
        Err(e) => return Err(internal_error(e)),
    };
    let meta: UploadMeta = serde_json::from_slice(&bytes).map_err(internal_error)?;
    if meta.object.key != key {
        return Err(no_such_upload());
    }
    Ok((dir, meta))
}

/// The parts stored for an upload, by part number. Blocking.
/// The parts numbered after `after`, at most `limit` of them, in order. Only those parts' trailers
/// are read (the numbers come from the file names), so paging through 10 000 parts costs 10 000
/// reads in all, not one per part per page.
fn read_parts(dir: &Path, after: i32, limit: usize) -> io::Result<Vec<PartMeta>> {
    let mut numbers = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if let Some(number) = entry.file_name().to_str().and_then(parse_part_file_name)
            && number > after
        {
            numbers.push(number);
        }
    }
    numbers.sort_unstable();
    numbers.truncate(limit);
    let mut parts = Vec::with_capacity(numbers.len());
    for number in numbers {
        let mut file = fs::File::open(dir.join(part_file_name(number)))?;
        let (meta, body_len): (PartMeta, u64) = read_trailer(&mut file)?;
        if meta.part_number != number || meta.size != body_len {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "corrupt part file",
            ));
        }
        parts.push(meta);
    }
    Ok(parts)
}

/// Strips the quotes a client may have kept around an ETag value.
fn bare_etag(etag: &ETag) -> &str {
    etag.value().trim_matches('"')
}

fn max_listed(max: Option<i32>, what: &str) -> S3Result<usize> {
    let max = max.unwrap_or(MAX_LISTED);
    if max < 0 {
        return Err(s3_error!(InvalidArgument, "{what} cannot be negative"));
    }
    Ok(usize::try_from(max.min(MAX_LISTED)).unwrap_or(0))
}

impl LocalStore {
    pub(super) async fn create_multipart_upload_impl(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        let input = req.input;
        check_key(&input.key)?;
        let bucket = self.bucket(&input.bucket)?;
        let upload_id = layout::random_hex(16).map_err(internal_error)?;
        let meta = UploadMeta {
            upload_id: upload_id.clone(),
            initiated: now_ms(),
            object: ObjectMeta {
                key: input.key.clone(),
                content_type: input.content_type,
                cache_control: input.cache_control,
                content_disposition: input.content_disposition,
                content_encoding: input.content_encoding,
                content_language: input.content_language,
                expires: input.expires.as_ref().map(ms_from_ts),
                website_redirect_location: input.website_redirect_location,
                metadata: input.metadata.unwrap_or_default().into_iter().collect(),
                ..Default::default()
            },
        };
        let root = self.inner.root.clone();
        blocking(move || {
            let staging = root.join(TMP_DIR).join(format!(
                "{}.upl",
                layout::random_hex(16).map_err(internal_error)?
            ));
            let build = || -> io::Result<()> {
                fs::create_dir(&staging)?;
                let json = serde_json::to_vec_pretty(&meta).map_err(io::Error::other)?;
                let mut file = fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(staging.join(UPLOAD_FILE))?;
                file.write_all(&json)?;
                file.sync_all()?;
                fsync_dir(&staging)
            };
            if let Err(e) = build() {
                let _ = fs::remove_dir_all(&staging);
                return Err(internal_error(e));
            }
            let uploads = bucket.uploads_dir();
            {
                let index = lock(&bucket.index);
                if index.deleted {
                    let _ = fs::remove_dir_all(&staging);
                    return Err(s3_error!(
                        NoSuchBucket,
                        "The specified bucket does not exist"
                    ));
                }
                if let Err(e) = fs::rename(&staging, uploads.join(&meta.upload_id)) {
                    let _ = fs::remove_dir_all(&staging);
                    return Err(internal_error(e));
                }
            }
            fsync_dir(&uploads).map_err(internal_error)
        })
        .await?;

        Ok(S3Response::new(CreateMultipartUploadOutput {
            bucket: Some(input.bucket),
            key: Some(input.key),
            upload_id: Some(upload_id),
            ..Default::default()
        }))
    }

    pub(super) async fn upload_part_impl(
        &self,
        req: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        let late = req.extensions.get::<LateMetadata>().cloned();
        let input = req.input;
        let part_number = input.part_number;
        if !(1..=MAX_PARTS).contains(&part_number) {
            return Err(s3_error!(
                InvalidArgument,
                "Part number must be an integer between 1 and 10000, inclusive"
            ));
        }
        let bucket = self.bucket(&input.bucket)?;
        let (dir, _) = {
            let bucket = bucket.clone();
            let (id, key) = (input.upload_id.clone(), input.key.clone());
            blocking(move || load_upload(&bucket, &id, &key)).await?
        };

        // With LateMetadata the layer names the part's ETag: no need to hash the body.
        let path = temp_path(&self.inner.root).map_err(internal_error)?;
        let mut writer = BodyWriter::create(path, late.is_none())
            .await
            .map_err(internal_error)?;
        writer.write_stream(input.body).await?;
        let mut metadata: BTreeMap<String, String> = late
            .as_ref()
            .and_then(LateMetadata::take)
            .unwrap_or_default()
            .into_iter()
            .collect();
        let etag = match (metadata.remove(LATE_ETAG), writer.md5_hex()) {
            (Some(etag), _) | (None, Some(etag)) => etag,
            (None, None) => return Err(missing_late_etag()),
        };
        let meta = PartMeta {
            part_number,
            size: writer.size(),
            etag,
            last_modified: now_ms(),
            metadata,
        };
        let temp = writer.finish(&meta).await.map_err(internal_error)?;
        blocking(move || {
            match temp.publish(&dir.join(part_file_name(part_number))) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(no_such_upload()),
                Err(e) => return Err(internal_error(e)),
            }
            fsync_dir(&dir).map_err(internal_error)
        })
        .await?;

        Ok(S3Response::new(UploadPartOutput {
            e_tag: Some(ETag::Strong(meta.etag)),
            ..Default::default()
        }))
    }

    pub(super) async fn list_parts_impl(
        &self,
        req: S3Request<ListPartsInput>,
    ) -> S3Result<S3Response<ListPartsOutput>> {
        let input = req.input;
        let max = max_listed(input.max_parts, "max-parts")?;
        let marker = input.part_number_marker.unwrap_or(0);
        let bucket = self.bucket(&input.bucket)?;
        let parts = {
            let (id, key) = (input.upload_id.clone(), input.key.clone());
            blocking(move || {
                let (dir, _) = load_upload(&bucket, &id, &key)?;
                // One more than the page, to know whether the listing is truncated.
                read_parts(&dir, marker, max.saturating_add(1)).map_err(internal_error)
            })
            .await?
        };
        let truncated = parts.len() > max;
        let listed: Vec<Part> = parts
            .iter()
            .take(max)
            .map(|p| Part {
                part_number: Some(p.part_number),
                size: Some(i64::try_from(p.size).unwrap_or(i64::MAX)),
                e_tag: Some(ETag::Strong(p.etag.clone())),
                last_modified: Some(ts_from_ms(p.last_modified)),
                ..Default::default()
            })
            .collect();
        let next_marker = listed.last().and_then(|p| p.part_number);
        Ok(S3Response::new(ListPartsOutput {
            bucket: Some(input.bucket),
            key: Some(input.key),
            upload_id: Some(input.upload_id),
            max_parts: Some(i32::try_from(max).unwrap_or(MAX_LISTED)),
            part_number_marker: input.part_number_marker,
            next_part_number_marker: next_marker,
            is_truncated: Some(truncated),
            parts: Some(listed),
            ..Default::default()
        }))
    }

    pub(super) async fn list_multipart_uploads_impl(
        &self,
        req: S3Request<ListMultipartUploadsInput>,
    ) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
        let input = req.input;
        let max = max_listed(input.max_uploads, "max-uploads")?;
        let bucket = self.bucket(&input.bucket)?;
        let prefix = input.prefix.clone().unwrap_or_default();
        let mut uploads =
            {
                let prefix = prefix.clone();
                blocking(move || {
                let mut uploads = Vec::new();
                let entries = match fs::read_dir(bucket.uploads_dir()) {
                    Ok(entries) => entries,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(uploads),
                    Err(e) => return Err(internal_error(e)),
                };
                for entry in entries {
                    let entry = entry.map_err(internal_error)?;
                    let Some(id) = entry.file_name().to_str().map(str::to_owned) else { continue };
                    if !valid_upload_id(&id) {
                        continue;
                    }
                    let meta: UploadMeta = match fs::read(entry.path().join(UPLOAD_FILE))
                        .map_err(|e| e.to_string())
                        .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
                    {
                        Ok(m) => m,
                        Err(e) => {
                            tracing::warn!(upload = %id, error = %e, "unreadable upload, skipped");
                            continue;
                        }
                    };
                    if meta.object.key.starts_with(&prefix) {
                        uploads.push(meta);
                    }
                }
                Ok(uploads)
            })
            .await?
            };
        uploads.sort_by(|a, b| {
            (&a.object.key, a.initiated, &a.upload_id).cmp(&(
                &b.object.key,
                b.initiated,
                &b.upload_id,
            ))
        });

        // Where to resume: after (key-marker, upload-id-marker), or after every upload of key-marker.
        let key_marker = input.key_marker.clone();
        let start = match (&key_marker, &input.upload_id_marker) {
            (Some(k), Some(id)) => match uploads
                .iter()
                .position(|u| &u.object.key == k && &u.upload_id == id)
            {
                Some(i) => i + 1,
                None => uploads.partition_point(|u| u.object.key <= *k),
            },
            (Some(k), None) => uploads.partition_point(|u| u.object.key <= *k),
            (None, _) => 0,
        };

        let delimiter = input.delimiter.clone().filter(|d| !d.is_empty());
        let mut listed = Vec::new();
        let mut prefixes: Vec<String> = Vec::new();
        let mut truncated = false;
        let mut next: Option<(String, Option<String>)> = None;
        for u in &uploads[start..] {
            if let Some(d) = &delimiter
                && let Some(pos) = u.object.key[prefix.len()..].find(d.as_str())
            {
                let common = &u.object.key[..prefix.len() + pos + d.len()];
                let seen = prefixes.last().is_some_and(|p| p == common)
                    || key_marker.as_deref().is_some_and(|k| common <= k);
                if seen {
                    continue;
                }
                if listed.len() + prefixes.len() == max {
                    truncated = true;
                    break;
                }
                prefixes.push(common.to_owned());
                next = Some((common.to_owned(), None));
                continue;
            }
            if listed.len() + prefixes.len() == max {
                truncated = true;
                break;
            }
            listed.push(MultipartUpload {
                key: Some(u.object.key.clone()),
                upload_id: Some(u.upload_id.clone()),
                initiated: Some(ts_from_ms(u.initiated)),
                storage_class: Some(StorageClass::from_static(StorageClass::STANDARD)),
                ..Default::default()
            });
            next = Some((u.object.key.clone(), Some(u.upload_id.clone())));
        }
        let listed_metadata = crate::internal::UploadsMetadata(
            uploads[start..]
                .iter()
                .filter(|u| {
                    listed
                        .iter()
                        .any(|l| l.upload_id.as_deref() == Some(u.upload_id.as_str()))
                })
                .map(|u| {
                    (
                        u.upload_id.clone(),
                        u.object.metadata.clone().into_iter().collect(),
                    )
                })
                .collect(),
        );
        let (next_key_marker, next_upload_id_marker) = match next {
            Some((k, id)) if truncated => (Some(k), id),
            _ => (None, None),
        };
        let mut resp = S3Response::new(ListMultipartUploadsOutput {
            bucket: Some(input.bucket),
            prefix: input.prefix,
            delimiter: input.delimiter,
            key_marker: input.key_marker,
            upload_id_marker: input.upload_id_marker,
            max_uploads: Some(i32::try_from(max).unwrap_or(MAX_LISTED)),
            is_truncated: Some(truncated),
            next_key_marker,
            next_upload_id_marker,
            uploads: Some(listed),
            common_prefixes: Some(
                prefixes
                    .into_iter()
                    .map(|p| CommonPrefix { prefix: Some(p) })
                    .collect(),
            ),
            ..Default::default()
        });
        resp.extensions.insert(listed_metadata);
        Ok(resp)
    }

    pub(super) async fn complete_multipart_upload_impl(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        let late = req.extensions.get::<LateMetadata>().cloned();
        let input = req.input;
        let bucket = self.bucket(&input.bucket)?;

        let requested = input
            .multipart_upload
            .and_then(|m| m.parts)
            .unwrap_or_default();
        if requested.is_empty() {
            return Err(s3_error!(
                MalformedXML,
                "You must specify at least one part"
            ));
        }
        let mut wanted: Vec<(i32, Option<ETag>)> = Vec::with_capacity(requested.len());
        for part in requested {
            let Some(number) = part.part_number else {
                return Err(s3_error!(MalformedXML, "A part has no part number"));
            };
            if let Some((last, _)) = wanted.last()
                && number <= *last
            {
                return Err(s3_error!(
                    InvalidPartOrder,
                    "The list of parts was not in ascending order"
                ));
            }
            wanted.push((number, part.e_tag));
        }

        let root = self.inner.root.clone();
        let (key, upload_id) = (input.key.clone(), input.upload_id.clone());
        let state = bucket.clone();
        let _busy = self.claim_upload(&input.bucket, &input.upload_id)?;
        let meta = blocking(move || {
            let (dir, upload) = load_upload(&state, &upload_id, &key)?;
            let invalid_part = |n: i32| {
                s3_error!(
                    InvalidPart,
                    "One or more of the specified parts could not be found or its ETag does not match (part {n})"
                )
            };

            // Check every part before writing anything.
            let mut sources = Vec::with_capacity(wanted.len());
            let mut md5s = Md5::new();
            let mut sizes = Vec::with_capacity(wanted.len());
            for (number, etag) in &wanted {
                let path = dir.join(part_file_name(*number));
                let mut file = match fs::File::open(&path) {
                    Ok(f) => f,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(invalid_part(*number)),
                    Err(e) => return Err(internal_error(e)),
                };
                let (part, body_len): (PartMeta, u64) = read_trailer(&mut file).map_err(internal_error)?;
                if part.size != body_len || part.part_number != *number {
                    return Err(internal_error(io::Error::new(io::ErrorKind::InvalidData, "corrupt part file")));
                }
                let matches = etag.as_ref().is_some_and(|e| bare_etag(e).eq_ignore_ascii_case(&part.etag));
                if !matches {
                    return Err(invalid_part(*number));
                }
                // Our own part ETags are hex MD5s; one the layer named may be anything.
                md5s.update(hex::decode(&part.etag).unwrap_or_else(|_| part.etag.clone().into_bytes()));
                sizes.push(part.size);
                sources.push(file);
            }

            let temp = TempFile::new(temp_path(&root).map_err(internal_error)?);
            let mut out = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(temp.path())
                .map_err(internal_error)?;
            for (file, size) in sources.iter_mut().zip(&sizes) {
                file.seek(SeekFrom::Start(0)).map_err(internal_error)?;
                copy_exact(file, &mut out, *size).map_err(internal_error)?;
            }
            drop(sources);

            let mut meta = upload.object;
            meta.size = sizes.iter().sum();
            meta.etag = format!("{}-{}", hex::encode(md5s.finalize()), sizes.len());
            meta.last_modified = now_ms();
            meta.parts = sizes;
            apply_late(&mut meta, late.as_ref());
            out.write_all(&encode_trailer(&meta).map_err(internal_error)?)
                .map_err(internal_error)?;
            out.sync_all().map_err(internal_error)?;
            drop(out);
            state.commit_object(temp, &meta)?;

            // The object is published; the upload is done with. A crash before this line leaves
            // the upload listed, harmlessly.
            if let Err(e) = layout::remove_dir_atomic(&root, &dir) {
                tracing::warn!(dir = %dir.display(), error = %e, "cannot remove a completed upload");
            }
            Ok(meta)
        })
        .await?;

        Ok(S3Response::new(CompleteMultipartUploadOutput {
            bucket: Some(input.bucket),
            key: Some(input.key),
            e_tag: Some(ETag::Strong(meta.etag)),
            ..Default::default()
        }))
    }

    pub(super) async fn abort_multipart_upload_impl(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        let input = req.input;
        let bucket = self.bucket(&input.bucket)?;
        let root = self.inner.root.clone();
        let _busy = self.claim_upload(&input.bucket, &input.upload_id)?;
        blocking(move || {
            let (dir, _) = load_upload(&bucket, &input.upload_id, &input.key)?;
            match layout::remove_dir_atomic(&root, &dir) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Err(no_such_upload()),
                Err(e) => Err(internal_error(e)),
            }
        })
        .await?;
        Ok(S3Response::new(AbortMultipartUploadOutput::default()))
    }
}

/// An upload claimed by a Complete or an Abort in flight; released on drop.
pub(super) struct UploadClaim<'a> {
    set: &'a std::sync::Mutex<std::collections::HashSet<String>>,
    id: String,
}

impl Drop for UploadClaim<'_> {
    fn drop(&mut self) {
        self.set
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.id);
    }
}

impl LocalStore {
    /// Claims `upload_id` of `bucket` for a Complete or Abort; `OperationAborted` (409) while
    /// another one holds it.
    fn claim_upload(&self, bucket: &str, upload_id: &str) -> S3Result<UploadClaim<'_>> {
        let id = format!("{bucket}/{upload_id}");
        let set = &self.inner.uploads_busy;
        if !set
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.clone())
        {
            return Err(s3_error!(
                OperationAborted,
                "A conflicting operation is in progress on this upload; please retry."
            ));
        }
        Ok(UploadClaim { set, id })
    }
}
