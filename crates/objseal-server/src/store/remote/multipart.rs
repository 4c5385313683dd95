//! Multipart uploads over the backend's own, statelessly: the layer's per-part and per-object
//! late entries live in sidecars (see `sidecar.rs` and the module documentation's "Multipart
//! uploads").

use std::collections::{BTreeMap, HashMap};

use aws_sdk_s3::primitives::{ByteStream, SdkBody};
use aws_sdk_s3::types::{CompletedMultipartUpload as SdkCompleted, CompletedPart as SdkPart};
use futures::StreamExt as _;
use s3s::dto::*;
use s3s::stream::ByteStream as _;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result, s3_error};

use super::body::{TrailerSource, UploadBody};
use super::errors::{Subject, backend_error, internal};
use super::objects::{
    buffered_upload, empty_blob, refuse_reserved, stored_encoding, upfront_metadata,
};
use super::sidecar::{
    LateSidecar, PartSidecar, Read, SIDECAR_META, UPLOAD_MANIFEST_KEY, UploadSidecar, late_key,
    new_token, part_key, upload_key,
};
use super::state::Kind;
use super::{
    RemoteStore, from_sdk_time, is_reserved_key, length_i64, quoted, to_sdk_time, unquote,
};
use crate::internal::{LATE_ETAG, LateMetadata, UploadsMetadata};

/// An upload's id and the metadata it was created with.
type UploadMetadata = (String, HashMap<String, String>);

fn no_such_upload() -> S3Error {
    s3_error!(
        NoSuchUpload,
        "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed."
    )
}

fn invalid_part(n: i32) -> S3Error {
    S3Error::with_message(
        S3ErrorCode::InvalidPart,
        format!("Part {n} could not be found, or its ETag does not match the part's."),
    )
}

/// A backend error of a multipart call: a 404 there is the upload's.
pub(super) fn upload_error<E>(
    operation: &'static str,
    err: aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> S3Error
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    let e = backend_error(operation, Subject::Object, err);
    match e.code() {
        S3ErrorCode::NoSuchKey => no_such_upload(),
        _ => e,
    }
}

impl RemoteStore {
    pub(super) async fn create_multipart_upload_impl(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        let input = req.input;
        refuse_reserved(&input.key)?;
        let token = new_token()?;
        let layer_metadata: BTreeMap<String, String> = input
            .metadata
            .clone()
            .unwrap_or_default()
            .into_iter()
            .filter(|(k, _)| !k.eq_ignore_ascii_case(SIDECAR_META))
            .collect();
        let mut metadata = upfront_metadata(input.metadata, false);
        metadata.remove(UPLOAD_MANIFEST_KEY);
        metadata.insert(SIDECAR_META.to_owned(), token.clone());
        let out = self
            .inner
            .clients
            .calls
            .create_multipart_upload()
            .bucket(&input.bucket)
            .key(&input.key)
            .set_metadata(Some(metadata))
            .set_content_type(input.content_type)
            .set_cache_control(input.cache_control)
            .set_content_disposition(input.content_disposition)
            .set_content_encoding(stored_encoding(input.content_encoding))
            .set_content_language(input.content_language)
            .set_expires(input.expires.as_ref().map(to_sdk_time))
            .set_website_redirect_location(input.website_redirect_location)
            .send()
            .await
            .map_err(|e| backend_error("CreateMultipartUpload", Subject::Object, e))?;
        let id = out
            .upload_id()
            .filter(|id| !id.is_empty())
            .ok_or_else(|| internal("The backing store gave no upload id."))?
            .to_owned();
        let sidecar = UploadSidecar {
            v: 1,
            key: input.key.clone(),
            token,
            metadata: layer_metadata,
        };
        if let Err(e) = self
            .write_sidecar(
                Kind::Upload,
                &input.bucket,
                &upload_key(&id),
                &sidecar,
                None,
            )
            .await
        {
            self.abort_backend(&input.bucket, &input.key, &id)
                .await
                .ok();
            return Err(e);
        }
        Ok(S3Response::new(CreateMultipartUploadOutput {
            bucket: Some(input.bucket),
            key: Some(input.key),
            upload_id: Some(id),
            ..Default::default()
        }))
    }

    pub(super) async fn upload_part_impl(
        &self,
        req: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        let late = req.extensions.get::<LateMetadata>().cloned();
        let input = req.input;
        refuse_reserved(&input.key)?;
        let number = input.part_number;
        if !(1..=10_000).contains(&number) {
            return Err(s3_error!(
                InvalidArgument,
                "Part number must be an integer between 1 and 10000, inclusive"
            ));
        }
        let body = input.body.unwrap_or_else(empty_blob);
        let declared = input
            .content_length
            .and_then(|l| u64::try_from(l).ok())
            .or_else(|| body.remaining_length().exact().map(|n| n as u64));
        let upload = match declared {
            Some(len) => UploadBody::new(body, len, TrailerSource::None),
            None => buffered_upload(body, None).await?,
        };
        let outcome = upload.outcome();
        let size = upload.stored_len();
        let sent = self
            .inner
            .clients
            .transfers
            .upload_part()
            .bucket(&input.bucket)
            .key(&input.key)
            .upload_id(&input.upload_id)
            .part_number(number)
            .content_length(length_i64(size))
            .body(ByteStream::new(SdkBody::from_body_1_x(upload)))
            .send()
            .await;
        if let Some(e) = outcome.take_failure() {
            return Err(e);
        }
        let out = sent.map_err(|e| upload_error("UploadPart", e))?;
        let backend_etag = out.e_tag().map(unquote).unwrap_or_default();
        let mut entries: BTreeMap<String, String> = match &late {
            Some(late) => late
                .take()
                .ok_or_else(|| internal("the layer's body ended without its late metadata"))?
                .into_iter()
                .collect(),
            None => BTreeMap::new(),
        };
        let etag = entries
            .entry(LATE_ETAG.to_owned())
            .or_insert_with(|| backend_etag.clone())
            .clone();
        let sidecar = PartSidecar {
            v: 1,
            part: number,
            backend_etag,
            size,
            entries,
        };
        // Acknowledged only once the sidecar is written: a part without one is not listed.
        self.write_sidecar(
            Kind::Part,
            &input.bucket,
            &part_key(&input.upload_id, number),
            &sidecar,
            None,
        )
        .await?;
        Ok(S3Response::new(UploadPartOutput {
            e_tag: Some(ETag::Strong(etag)),
            ..Default::default()
        }))
    }

    /// The sidecar of each part in `numbers` (`None` where there is none), in that order.
    async fn part_sidecars(
        &self,
        bucket: &str,
        upload_id: &str,
        numbers: Vec<i32>,
    ) -> S3Result<Vec<Option<PartSidecar>>> {
        let read: Vec<S3Result<Option<Read<PartSidecar>>>> = futures::stream::iter(numbers)
            .map(|n| async move {
                self.read_sidecar(Kind::Part, bucket, &part_key(upload_id, n))
                    .await
            })
            .buffered(self.inner.list_concurrency.max(1))
            .collect()
            .await;
        read.into_iter()
            .map(|r| r.map(|r| r.map(|r| r.value).filter(|p| p.v == 1)))
            .collect()
    }

    pub(super) async fn list_parts_impl(
        &self,
        req: S3Request<ListPartsInput>,
    ) -> S3Result<S3Response<ListPartsOutput>> {
        let input = req.input;
        let out = self
            .backend_parts(
                &input.bucket,
                &input.key,
                &input.upload_id,
                input.part_number_marker,
                input.max_parts,
            )
            .await?;
        let backend = out.parts;
        let sidecars = self
            .part_sidecars(
                &input.bucket,
                &input.upload_id,
                backend.iter().map(|p| p.number).collect(),
            )
            .await?;
        // A part whose sidecar is missing or names another backend part is an upload of it
        // that never finished (never acknowledged): left out, so the client uploads it again.
        let parts: Vec<Part> = backend
            .into_iter()
            .zip(sidecars)
            .filter_map(|(p, sidecar)| {
                let s = sidecar.filter(|s| s.part == p.number && s.backend_etag == p.etag)?;
                Some(Part {
                    part_number: Some(p.number),
                    e_tag: Some(ETag::Strong(s.entries.get(LATE_ETAG)?.clone())),
                    size: Some(p.size),
                    last_modified: p.last_modified,
                    ..Default::default()
                })
            })
            .collect();
        Ok(S3Response::new(ListPartsOutput {
            bucket: Some(input.bucket),
            key: Some(input.key),
            upload_id: Some(input.upload_id),
            max_parts: out.max_parts.or(input.max_parts),
            part_number_marker: input.part_number_marker,
            next_part_number_marker: out.next_marker,
            is_truncated: out.truncated,
            parts: Some(parts),
            ..Default::default()
        }))
    }

    /// Whether the backend still has the upload (`NoSuchUpload` when it has not).
    async fn upload_exists(&self, bucket: &str, key: &str, upload_id: &str) -> S3Result<()> {
        self.backend_parts(bucket, key, upload_id, None, Some(1))
            .await
            .map(|_| ())
    }

    pub(super) async fn complete_multipart_upload_impl(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        let late = req.extensions.get::<LateMetadata>().cloned();
        let input = req.input;
        let (bucket, key, id) = (&input.bucket, &input.key, &input.upload_id);
        refuse_reserved(key)?;
        let mut wanted: Vec<(i32, String)> = Vec::new();
        for p in input
            .multipart_upload
            .as_ref()
            .and_then(|m| m.parts.as_ref())
            .into_iter()
            .flatten()
        {
            let n = p
                .part_number
                .ok_or_else(|| s3_error!(MalformedXML, "A part has no part number"))?;
            if wanted.last().is_some_and(|(last, _)| n <= *last) {
                return Err(S3Error::new(S3ErrorCode::InvalidPartOrder));
            }
            wanted.push((
                n,
                p.e_tag
                    .as_ref()
                    .map(|e| unquote(e.value()))
                    .unwrap_or_default(),
            ));
        }
        if wanted.is_empty() {
            return Err(s3_error!(
                MalformedXML,
                "You must specify at least one part"
            ));
        }
        let upload = match self
            .read_sidecar::<UploadSidecar>(Kind::Upload, bucket, &upload_key(id))
            .await?
        {
            Some(u) if u.value.v == 1 && u.value.key == *key => u.value,
            _ => return Err(no_such_upload()),
        };
        let sidecars = self
            .part_sidecars(bucket, id, wanted.iter().map(|w| w.0).collect())
            .await?;
        let mut parts = Vec::with_capacity(wanted.len());
        for ((n, etag), sidecar) in wanted.iter().zip(sidecars) {
            match sidecar {
                Some(s) if s.part == *n && s.entries.get(LATE_ETAG) == Some(etag) => {
                    parts.push(
                        SdkPart::builder()
                            .part_number(*n)
                            .e_tag(quoted(&s.backend_etag))
                            .build(),
                    );
                }
                _ => return Err(invalid_part(*n)),
            }
        }
        let entries: BTreeMap<String, String> = late
            .as_ref()
            .and_then(LateMetadata::take)
            .unwrap_or_default()
            .into_iter()
            .filter(|(k, _)| !k.eq_ignore_ascii_case(UPLOAD_MANIFEST_KEY))
            .collect();
        let sidecar = LateSidecar {
            v: 1,
            key: key.clone(),
            entries,
        };
        // The object's late entries, before the object: a completed object always has them.
        self.publish_late(
            bucket,
            &upload.token,
            &sidecar,
            self.upload_exists(bucket, key, id),
        )
        .await?;
        let out = self
            .inner
            .clients
            .transfers
            .complete_multipart_upload()
            .bucket(bucket)
            .key(key)
            .upload_id(id)
            .multipart_upload(SdkCompleted::builder().set_parts(Some(parts)).build())
            .send()
            .await
            .map_err(|e| upload_error("CompleteMultipartUpload", e))?;
        self.forget_upload(bucket, id).await;
        let etag = sidecar
            .entries
            .get(LATE_ETAG)
            .cloned()
            .or_else(|| out.e_tag().map(unquote))
            .unwrap_or_default();
        Ok(S3Response::new(CompleteMultipartUploadOutput {
            bucket: Some(input.bucket.clone()),
            key: Some(input.key.clone()),
            e_tag: Some(ETag::Strong(etag)),
            location: out.location().map(str::to_owned),
            ..Default::default()
        }))
    }

    async fn abort_backend(&self, bucket: &str, key: &str, id: &str) -> S3Result<()> {
        self.inner
            .clients
            .calls
            .abort_multipart_upload()
            .bucket(bucket)
            .key(key)
            .upload_id(id)
            .send()
            .await
            .map_err(|e| upload_error("AbortMultipartUpload", e))?;
        Ok(())
    }

    pub(super) async fn abort_multipart_upload_impl(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        let input = req.input;
        refuse_reserved(&input.key)?;
        // The backend first: it says whether the id is an upload of this key.
        self.abort_backend(&input.bucket, &input.key, &input.upload_id)
            .await?;
        self.forget_upload(&input.bucket, &input.upload_id).await;
        Ok(S3Response::new(AbortMultipartUploadOutput::default()))
    }

    pub(super) async fn list_multipart_uploads_impl(
        &self,
        req: S3Request<ListMultipartUploadsInput>,
    ) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
        let input = req.input;
        let url = super::list::is_url(input.encoding_type.as_ref());
        let out = self
            .inner
            .clients
            .calls
            .list_multipart_uploads()
            .bucket(&input.bucket)
            .set_prefix(input.prefix.clone())
            .set_delimiter(input.delimiter.clone())
            .set_key_marker(input.key_marker.clone())
            .set_upload_id_marker(input.upload_id_marker.clone())
            .set_max_uploads(input.max_uploads)
            .set_encoding_type(url.then_some(aws_sdk_s3::types::EncodingType::Url))
            .send()
            .await
            .map_err(|e| backend_error("ListMultipartUploads", Subject::Bucket, e))?;
        let uploads: Vec<MultipartUpload> = out
            .uploads()
            .iter()
            .filter(|u| {
                !u.key()
                    .is_some_and(|k| is_reserved_key(&super::list::real_key(k, url)))
            })
            .map(|u| MultipartUpload {
                key: u.key().map(str::to_owned),
                upload_id: u.upload_id().map(str::to_owned),
                initiated: u.initiated().map(from_sdk_time),
                storage_class: u
                    .storage_class()
                    .map(|c| StorageClass::from(c.as_str().to_owned())),
                owner: u.owner().map(|w| Owner {
                    display_name: w.display_name().map(str::to_owned),
                    id: w.id().map(str::to_owned),
                }),
                ..Default::default()
            })
            .collect();
        // Each upload's metadata, from its sidecar: S3 lists none.
        let wanted: Vec<(String, String)> = uploads
            .iter()
            .filter_map(|u| {
                let key = super::list::real_key(u.key.as_deref()?, url);
                Some((u.upload_id.clone()?, key))
            })
            .collect();
        let read: Vec<S3Result<Option<UploadMetadata>>> = futures::stream::iter(wanted)
            .map(|(id, key)| {
                let bucket = input.bucket.as_str();
                async move {
                    let read = self
                        .read_sidecar::<UploadSidecar>(Kind::Upload, bucket, &upload_key(&id))
                        .await?;
                    Ok(read
                        .filter(|r| r.value.v == 1 && r.value.key == key)
                        .map(|r| (id, r.value.metadata.into_iter().collect())))
                }
            })
            .buffered(self.inner.list_concurrency.max(1))
            .collect()
            .await;
        let mut metadata = HashMap::new();
        for r in read {
            match r {
                Ok(Some((id, m))) => {
                    metadata.insert(id, m);
                }
                Ok(None) => {}
                // One damaged sidecar must not make the uploads unlistable.
                Err(e) if *e.code() == S3ErrorCode::InternalError => {}
                Err(e) => return Err(e),
            }
        }
        let prefixes: Vec<CommonPrefix> = out
            .common_prefixes()
            .iter()
            .filter_map(|p| p.prefix())
            .filter(|p| !is_reserved_key(&super::list::real_key(p, url)))
            .map(|p| CommonPrefix {
                prefix: Some(p.to_owned()),
            })
            .collect();
        let mut resp = S3Response::new(ListMultipartUploadsOutput {
            bucket: Some(input.bucket),
            prefix: out.prefix().map(str::to_owned).or(input.prefix),
            delimiter: out.delimiter().map(str::to_owned).or(input.delimiter),
            key_marker: input.key_marker,
            upload_id_marker: input.upload_id_marker,
            max_uploads: out.max_uploads().or(input.max_uploads),
            is_truncated: out.is_truncated(),
            next_key_marker: out.next_key_marker().map(str::to_owned),
            next_upload_id_marker: out.next_upload_id_marker().map(str::to_owned),
            encoding_type: input.encoding_type,
            uploads: Some(uploads),
            common_prefixes: Some(prefixes),
            ..Default::default()
        });
        resp.extensions.insert(UploadsMetadata(metadata));
        Ok(resp)
    }

    /// Writes the late sidecar of a copy of an object whose late entries are in a sidecar:
    /// a fresh token, so each object version has its own. Returns the token.
    pub(super) async fn copy_late(
        &self,
        bucket: &str,
        key: &str,
        entries: &BTreeMap<String, String>,
    ) -> S3Result<String> {
        let token = new_token()?;
        let sidecar = LateSidecar {
            v: 1,
            key: key.to_owned(),
            entries: entries.clone(),
        };
        self.write_sidecar(
            Kind::Late,
            bucket,
            &late_key(&token),
            &sidecar,
            Some(&ETagCondition::Any),
        )
        .await?;
        Ok(token)
    }
}
