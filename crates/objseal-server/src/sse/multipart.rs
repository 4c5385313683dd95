//! Multipart uploads: one OSE1 segment per part, each under its own key (a fresh random salt per
//! upload of the part, so a re-uploaded part never reuses a key), and at completion a MAC'd
//! manifest of the parts in order, so a dropped, reordered or stale part is refused on read.

use std::collections::HashMap;

use md5::{Digest as _, Md5};
use s3s::dto::{
    AbortMultipartUploadInput, AbortMultipartUploadOutput, CompleteMultipartUploadInput,
    CompleteMultipartUploadOutput, CompletedMultipartUpload, CompletedPart, CopyPartResult,
    CreateMultipartUploadInput, CreateMultipartUploadOutput, ETag, ListMultipartUploadsInput,
    ListMultipartUploadsOutput, ListPartsInput, ListPartsOutput, Part, StreamingBlob,
    UploadPartCopyInput, UploadPartCopyOutput, UploadPartInput, UploadPartOutput,
};
use s3s::{S3, S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

use objseal_core::format::manifest::{
    SegmentEntry, encode_manifest, encode_manifest_with_key, manifest_len,
};
use objseal_core::range::plaintext_len;
use objseal_core::{ManifestKey, ObjectKey, SEGMENT_SALT_LEN};

use super::SseLayer;
use super::checksum::{BodyChecks, checksum_dto, set_checksums};
use super::echo::{SseEcho, echo_sse};
use super::errors::{corrupt, internal, invalid_argument};
use super::put::scrub_headers;
use super::record::{
    ETAG, MANIFEST, SIZE, Sealing, SseKind, UPLOAD_MANIFEST_KEY, check_user_metadata,
};
use super::request::{CustomerHeaders, CustomerKey, customer_headers, write_sse_headers};
use super::seal_body::{SealPlan, seal_body};
use super::upload_id;
use crate::internal::LateMetadata;

/// The smallest part but the last, as Amazon S3 requires.
pub const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;

/// The SSE-C rule of UploadPart and UploadPartCopy: an SSE-C upload's parts need its key, other
/// uploads' parts take none.
fn customer_for_upload(
    sealing: &Sealing,
    customer: Option<CustomerKey>,
) -> Result<Option<CustomerKey>, S3Error> {
    match (sealing.kind, &customer) {
        (SseKind::Customer, None) => Err(super::errors::invalid_request(
            "The multipart upload initiate requested encryption. Subsequent part requests must include the appropriate encryption parameters.",
        )),
        (k, Some(_)) if k != SseKind::Customer => Err(super::errors::invalid_request(
            "The multipart upload initiate did not request SSE-C encryption; the part request must not carry a customer key.",
        )),
        _ => Ok(customer),
    }
}

/// What MACs a completed upload's manifest: the object's keys, or (SSE-C completed without the
/// customer key) the manifest key the upload id carries.
enum ManifestSigner {
    Object(ObjectKey),
    Key(ManifestKey),
}

/// Opens an upload's keys; a different SSE-C key than the upload's is `InvalidArgument`.
impl<S: S3> SseLayer<S> {
    async fn upload_keys<T>(
        &self,
        req: &S3Request<T>,
        sealing: &Sealing,
        bucket: &str,
        key: &str,
        customer: Option<&CustomerKey>,
    ) -> Result<Option<ObjectKey>, S3Error> {
        self.open_object_key(req, sealing, bucket, key, customer).await.map_err(|e| {
            if sealing.kind == SseKind::Customer && *e.code() == S3ErrorCode::AccessDenied {
                invalid_argument("The provided SSE-C key does not match the key the multipart upload was initiated with.")
            } else {
                e
            }
        })
    }

    pub(crate) async fn create_upload(
        &self,
        mut req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        check_user_metadata(req.input.metadata.as_ref())?;
        let i = &req.input;
        let choice = self
            .choose_encryption(&i.bucket, write_sse_headers!(i), super::is_tls(&req))
            .await?;
        let customer_md5 = match &choice {
            super::request::SseChoice::Customer(c) => Some(c.md5_b64.clone()),
            _ => None,
        };
        let (sealing, manifest_key) = match self
            .new_object_key(&req, &choice, &i.bucket, &i.key, true)
            .await?
        {
            // Completion may come without the customer key: keep the manifest key for it.
            Some((object, sealing)) if sealing.kind == SseKind::Customer => {
                let mk = self.wrap_manifest_key(&object, &i.bucket, &i.key)?;
                (sealing, mk)
            }
            Some((_, sealing)) => (sealing, Vec::new()),
            None => (Sealing::none(), Vec::new()),
        };
        let mut metadata =
            super::record::stored_user_metadata(req.input.metadata.take()).unwrap_or_default();
        sealing.to_entries(&mut metadata);
        if !manifest_key.is_empty() {
            // So that ListMultipartUploads can show the upload under its full id.
            metadata.insert(UPLOAD_MANIFEST_KEY.to_owned(), hex::encode(&manifest_key));
        }
        let i = &mut req.input;
        i.metadata = Some(metadata);
        i.server_side_encryption = None;
        i.ssekms_key_id = None;
        i.ssekms_encryption_context = None;
        i.bucket_key_enabled = None;
        i.sse_customer_algorithm = None;
        super::request::wipe(&mut i.sse_customer_key);
        i.sse_customer_key_md5 = None;
        i.checksum_algorithm = None;
        i.checksum_type = None;
        scrub_headers(&mut req.headers);
        let (bucket, key) = (req.input.bucket.clone(), req.input.key.clone());
        let inner = self.inner.create_multipart_upload(req).await?.output;
        let inner_id = inner
            .upload_id
            .ok_or_else(|| internal("the store gave no upload id"))?;
        let mut out = CreateMultipartUploadOutput {
            bucket: inner.bucket,
            key: inner.key,
            upload_id: Some(upload_id::encode(
                &inner_id,
                &sealing,
                &manifest_key,
                &self.id_binding(&bucket, &key),
            )?),
            ..Default::default()
        };
        let echo = SseEcho::of(&sealing, customer_md5.as_deref());
        echo_sse!(out, echo);
        out.ssekms_encryption_context =
            echo.kms_context.filter(|_| !sealing.kms_context.is_empty());
        Ok(S3Response::new(out))
    }

    /// Seals one part's plaintext `body` and stores it; returns its ETag, the upload's echo and
    /// the part's checksums.
    #[allow(clippy::too_many_arguments)]
    async fn write_part<T>(
        &self,
        req: &S3Request<T>,
        bucket: &str,
        key: &str,
        upload: &str,
        part_number: i32,
        customer: CustomerHeaders<'_>,
        body: StreamingBlob,
        len: u64,
        checks_from: Option<&http::HeaderMap>,
    ) -> Result<(String, SseEcho, s3s::dto::Checksum), S3Error> {
        let upload_id::Upload {
            inner_id, sealing, ..
        } = upload_id::decode(upload, &self.id_binding(bucket, key))?;
        let number = u32::try_from(part_number)
            .ok()
            .filter(|n| (1..=10_000).contains(n))
            .ok_or_else(|| {
                invalid_argument("Part number must be an integer between 1 and 10000, inclusive.")
            })?;
        let customer = customer.parse(super::is_tls(req), self.config.allow_ssec_over_http)?;
        let customer = customer_for_upload(&sealing, customer)?;
        let object = self
            .upload_keys(req, &sealing, bucket, key, customer.as_ref())
            .await?;
        let echo = SseEcho::of(&sealing, customer.as_ref().map(|c| c.md5_b64.as_str()));
        let (segment_key, salt) = match &object {
            Some(o) => {
                let mut salt = [0u8; SEGMENT_SALT_LEN];
                getrandom::fill(&mut salt).map_err(|_| internal("random source"))?;
                (Some(o.segment_key(number, &salt)), Some(salt))
            }
            None => (None, None),
        };
        let empty = http::HeaderMap::new();
        let checks = BodyChecks::plan(
            checks_from.unwrap_or(&empty),
            checks_from.and(req.trailing_headers.clone()),
            salt.is_none(),
        )?;
        let late = LateMetadata::new();
        let etag_slot = std::sync::Arc::new(std::sync::Mutex::new(None::<String>));
        let on_complete = {
            let (late, etag_slot) = (late.clone(), etag_slot.clone());
            Box::new(move |d: &super::checksum::BodyDigests| {
                // An encrypted part's ETag is its segment salt: Complete reads the salts back from
                // the ETags the client lists, and a stale ETag no longer matches the stored part.
                let etag = match (salt, d.md5) {
                    (Some(s), _) => hex::encode(s),
                    (None, Some(m)) => hex::encode(m),
                    (None, None) => String::new(),
                };
                *etag_slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(etag.clone());
                late.set(HashMap::from([(ETAG.to_owned(), etag)]));
            })
        };
        let sealed = seal_body(
            body,
            SealPlan {
                key: segment_key,
                plaintext_len: Some(len),
                checks,
                batch_chunks: self.config.batch_chunks,
                metrics: self.metrics.clone(),
            },
            on_complete,
        )?;
        let mut part_req = super::inner_request(
            req,
            http::Method::PUT,
            UploadPartInput {
                body: Some(sealed.body),
                bucket: bucket.to_owned(),
                key: key.to_owned(),
                content_length: sealed.stored_len.and_then(|l| i64::try_from(l).ok()),
                part_number,
                upload_id: inner_id,
                ..Default::default()
            },
        );
        part_req.extensions.insert(late);
        let inner = self.inner.upload_part(part_req).await;
        let digests = match sealed.digests.await {
            Ok(Ok(d)) => d,
            Ok(Err(e)) => return Err(super::seal_body::write_error(e, inner)),
            Err(_) => {
                return Err(inner
                    .err()
                    .unwrap_or_else(|| internal("sealing task vanished")));
            }
        };
        inner?;
        let etag = etag_slot
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
            .ok_or_else(|| internal("no ETag"))?;
        Ok((etag, echo, checksum_dto(&digests.checksums)))
    }

    pub(crate) async fn upload_part(
        &self,
        mut req: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        let len = super::put::declared_len(&req.headers, req.input.content_length)?;
        let body = req.input.body.take().unwrap_or_else(|| {
            StreamingBlob::wrap(futures::stream::empty::<Result<bytes::Bytes, std::io::Error>>())
        });
        let i = &req.input;
        let customer = customer_headers!(i);
        let (etag, echo, c) = self
            .write_part(
                &req,
                &i.bucket,
                &i.key,
                &i.upload_id,
                i.part_number,
                customer,
                body,
                len,
                Some(&req.headers),
            )
            .await?;
        let mut out = UploadPartOutput {
            e_tag: Some(ETag::Strong(etag)),
            ..Default::default()
        };
        set_checksums!(out, c);
        echo_sse!(out, echo);
        Ok(S3Response::new(out))
    }

    pub(crate) async fn upload_part_copy(
        &self,
        req: S3Request<UploadPartCopyInput>,
    ) -> S3Result<S3Response<UploadPartCopyOutput>> {
        let i = &req.input;
        let (src_bucket, src_key) = super::copy::copy_source(&i.copy_source)?;
        let src_customer = customer_headers!(i, copy_source)
            .parse(super::is_tls(&req), self.config.allow_ssec_over_http)?;
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
        .map_err(super::copy::precondition_on_copy)?;
        let (start, end) = match &i.copy_source_range {
            Some(r) => parse_copy_range(r, src.layout.size)?,
            None => (0, src.layout.size),
        };
        let body = self
            .plaintext_body(&req, &src_bucket, &src_key, &src, start, end)
            .await?;
        let customer = customer_headers!(i);
        let (etag, echo, _) = self
            .write_part(
                &req,
                &i.bucket,
                &i.key,
                &i.upload_id,
                i.part_number,
                customer,
                body,
                end - start,
                None,
            )
            .await?;
        let mut out = UploadPartCopyOutput {
            copy_part_result: Some(CopyPartResult {
                e_tag: Some(ETag::Strong(etag)),
                last_modified: Some(s3s::dto::Timestamp::from(std::time::SystemTime::now())),
                ..Default::default()
            }),
            ..Default::default()
        };
        echo_sse!(out, echo);
        Ok(S3Response::new(out))
    }

    /// Every part the store holds for an upload: number → (ETag, stored size).
    async fn stored_parts<T>(
        &self,
        req: &S3Request<T>,
        bucket: &str,
        key: &str,
        inner_id: &str,
    ) -> Result<HashMap<i32, (String, u64)>, S3Error> {
        let mut parts = HashMap::new();
        let mut marker = None;
        loop {
            let list = super::inner_request(
                req,
                http::Method::GET,
                ListPartsInput {
                    bucket: bucket.to_owned(),
                    key: key.to_owned(),
                    upload_id: inner_id.to_owned(),
                    part_number_marker: marker,
                    max_parts: Some(1000),
                    ..Default::default()
                },
            );
            let out = self.inner.list_parts(list).await?.output;
            for p in out.parts.unwrap_or_default() {
                if let (Some(n), Some(e), Some(s)) = (p.part_number, p.e_tag, p.size) {
                    parts.insert(
                        n,
                        (
                            e.value().trim_matches('"').to_owned(),
                            u64::try_from(s).unwrap_or(0),
                        ),
                    );
                }
            }
            if out.is_truncated != Some(true) {
                return Ok(parts);
            }
            marker = out.next_part_number_marker;
            if marker.is_none() {
                return Ok(parts);
            }
        }
    }

    pub(crate) async fn complete(
        &self,
        mut req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        let i = &req.input;
        let upload_id::Upload {
            inner_id,
            sealing,
            manifest_key,
        } = upload_id::decode(&i.upload_id, &self.id_binding(&i.bucket, &i.key))?;
        // Amazon S3 does not require the customer key here (and rclone never sends it); when it
        // comes, it must be the upload's.
        let customer =
            customer_headers!(i).parse(super::is_tls(&req), self.config.allow_ssec_over_http)?;
        let signer = match (sealing.kind, customer) {
            (SseKind::None, None) => None,
            (SseKind::Customer, None) => {
                let header = sealing
                    .header
                    .as_ref()
                    .ok_or_else(|| internal("upload header"))?;
                Some(ManifestSigner::Key(self.unwrap_manifest_key(
                    &manifest_key,
                    &i.bucket,
                    &i.key,
                    header,
                )?))
            }
            (_, customer) => {
                let customer = customer_for_upload(&sealing, customer)?;
                self.upload_keys(&req, &sealing, &i.bucket, &i.key, customer.as_ref())
                    .await?
                    .map(ManifestSigner::Object)
            }
        };
        let chunk_log2 = sealing.header.as_ref().map(|h| h.chunk_log2);
        let wanted: Vec<CompletedPart> = i
            .multipart_upload
            .as_ref()
            .and_then(|m| m.parts.clone())
            .filter(|p| !p.is_empty())
            .ok_or_else(|| {
                S3Error::with_message(S3ErrorCode::MalformedXML, "The request lists no parts.")
            })?;
        let stored = self
            .stored_parts(&req, &i.bucket, &i.key, &inner_id)
            .await?;
        let mut entries = Vec::with_capacity(wanted.len());
        let mut md5s = Md5::new();
        let mut size = 0u64;
        let mut prev = 0;
        let invalid_part = |n: i32| {
            S3Error::with_message(
                S3ErrorCode::InvalidPart,
                format!("Part {n} could not be found, or its ETag does not match the part's."),
            )
        };
        for (pos, p) in wanted.iter().enumerate() {
            let n = p.part_number.ok_or_else(|| {
                S3Error::with_message(
                    S3ErrorCode::MalformedXML,
                    "A listed part has no PartNumber.",
                )
            })?;
            if !(1..=10_000).contains(&n) {
                return Err(invalid_argument(
                    "Part number must be an integer between 1 and 10000, inclusive.",
                ));
            }
            if n <= prev {
                return Err(S3Error::new(S3ErrorCode::InvalidPartOrder));
            }
            prev = n;
            let etag = p
                .e_tag
                .as_ref()
                .map(|e| e.value().trim_matches('"').to_owned())
                .unwrap_or_default();
            let (stored_etag, stored_len) = stored.get(&n).ok_or_else(|| invalid_part(n))?;
            if &etag != stored_etag {
                return Err(invalid_part(n));
            }
            let digest = hex::decode(&etag).map_err(|_| invalid_part(n))?;
            md5s.update(&digest);
            let pt_len = match chunk_log2 {
                Some(log2) => {
                    let salt: [u8; SEGMENT_SALT_LEN] =
                        digest.as_slice().try_into().map_err(|_| invalid_part(n))?;
                    let pt =
                        plaintext_len(*stored_len, log2).map_err(|_| corrupt("part length"))?;
                    entries.push(SegmentEntry {
                        number: n as u32,
                        salt,
                        plaintext_len: pt,
                    });
                    pt
                }
                None => *stored_len,
            };
            if pos + 1 < wanted.len() && pt_len < MIN_PART_SIZE {
                return Err(S3Error::with_message(
                    S3ErrorCode::EntityTooSmall,
                    format!(
                        "Your proposed upload is smaller than the minimum allowed size (part {n})."
                    ),
                ));
            }
            size += pt_len;
        }
        let etag = format!("{}-{}", hex::encode(md5s.finalize()), wanted.len());
        let mut late_entries = HashMap::from([
            (SIZE.to_owned(), size.to_string()),
            (ETAG.to_owned(), etag.clone()),
        ]);
        if !manifest_key.is_empty() {
            // The object keeps no way to re-MAC its manifest without the customer key.
            late_entries.insert(UPLOAD_MANIFEST_KEY.to_owned(), String::new());
        }
        if let Some(signer) = &signer {
            let mut manifest = vec![0u8; manifest_len(entries.len())];
            match signer {
                ManifestSigner::Object(o) => encode_manifest(o, &entries, &mut manifest),
                ManifestSigner::Key(k) => encode_manifest_with_key(k, &entries, &mut manifest),
            }
            .map_err(|_| internal("manifest"))?;
            use base64::Engine as _;
            late_entries.insert(
                MANIFEST.to_owned(),
                base64::engine::general_purpose::STANDARD.encode(&manifest),
            );
        }
        let late = LateMetadata::new();
        late.set(late_entries);
        let i = &mut req.input;
        i.upload_id = inner_id;
        i.multipart_upload = Some(CompletedMultipartUpload {
            parts: Some(
                wanted
                    .iter()
                    .map(|p| CompletedPart {
                        part_number: p.part_number,
                        e_tag: p.e_tag.clone(),
                        ..Default::default()
                    })
                    .collect(),
            ),
        });
        i.sse_customer_algorithm = None;
        super::request::wipe(&mut i.sse_customer_key);
        i.sse_customer_key_md5 = None;
        i.checksum_crc32 = None;
        i.checksum_crc32c = None;
        i.checksum_crc64nvme = None;
        i.checksum_sha1 = None;
        i.checksum_sha256 = None;
        i.checksum_type = None;
        i.mpu_object_size = None;
        scrub_headers(&mut req.headers);
        req.extensions.insert(late);
        let inner = self.inner.complete_multipart_upload(req).await?.output;
        let echo = SseEcho::of(&sealing, None);
        let out = CompleteMultipartUploadOutput {
            bucket: inner.bucket,
            key: inner.key,
            location: inner.location,
            e_tag: Some(ETag::Strong(etag)),
            server_side_encryption: echo.sse,
            ssekms_key_id: echo.kms_key_id,
            bucket_key_enabled: echo.bucket_key,
            version_id: inner.version_id,
            ..Default::default()
        };
        Ok(S3Response::new(out))
    }

    pub(crate) async fn abort(
        &self,
        mut req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        req.input.upload_id = upload_id::inner_id(&req.input.upload_id).to_owned();
        self.inner.abort_multipart_upload(req).await
    }

    pub(crate) async fn list_parts(
        &self,
        mut req: S3Request<ListPartsInput>,
    ) -> S3Result<S3Response<ListPartsOutput>> {
        let outer = req.input.upload_id.clone();
        let binding = self.id_binding(&req.input.bucket, &req.input.key);
        let (inner_id, sealing) = match upload_id::decode(&outer, &binding) {
            Ok(u) => (u.inner_id, u.sealing),
            // A bare store id (from ListMultipartUploads): sizes as stored.
            Err(_) => (outer.clone(), Sealing::none()),
        };
        req.input.upload_id = inner_id;
        scrub_headers(&mut req.headers);
        let mut resp = self.inner.list_parts(req).await?;
        resp.output.upload_id = Some(outer);
        if let Some(h) = &sealing.header {
            let parts: &mut Vec<Part> = resp.output.parts.get_or_insert_with(Vec::new);
            for p in parts.iter_mut() {
                p.size = p
                    .size
                    .and_then(|s| u64::try_from(s).ok())
                    .and_then(|s| plaintext_len(s, h.chunk_log2).ok())
                    .and_then(|s| i64::try_from(s).ok());
            }
        }
        Ok(resp)
    }

    pub(crate) async fn list_uploads(
        &self,
        mut req: S3Request<ListMultipartUploadsInput>,
    ) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
        scrub_headers(&mut req.headers);
        if let Some(m) = &mut req.input.upload_id_marker {
            *m = upload_id::inner_id(m).to_owned();
        }
        let mut resp = self.inner.list_multipart_uploads(req).await?;
        // Show each upload under the id its client was given, when the store tells its metadata.
        let Some(meta) = resp.extensions.remove::<crate::internal::UploadsMetadata>() else {
            return Ok(resp);
        };
        let bucket = resp.output.bucket.clone().unwrap_or_default();
        let outer = |inner: &str, key: &str| -> Option<String> {
            let m = meta.0.get(inner)?;
            let sealing = Sealing::from_metadata(m).ok()?;
            let mk = match m.get(UPLOAD_MANIFEST_KEY) {
                Some(h) => hex::decode(h).ok()?,
                None => Vec::new(),
            };
            upload_id::encode(inner, &sealing, &mk, &self.id_binding(&bucket, key)).ok()
        };
        let out = &mut resp.output;
        for u in out.uploads.iter_mut().flatten() {
            let id = match (u.upload_id.as_deref(), u.key.as_deref()) {
                (Some(id), Some(key)) => outer(id, key),
                _ => None,
            };
            if id.is_some() {
                u.upload_id = id;
            }
        }
        let next = match (
            out.next_upload_id_marker.as_deref(),
            out.next_key_marker.as_deref(),
        ) {
            (Some(id), Some(key)) => outer(id, key),
            _ => None,
        };
        if next.is_some() {
            out.next_upload_id_marker = next;
        }
        Ok(resp)
    }
}

/// `x-amz-copy-source-range: bytes=first-last` against a source of `size` bytes.
fn parse_copy_range(r: &str, size: u64) -> Result<(u64, u64), S3Error> {
    let bad = || {
        invalid_argument(
            "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy",
        )
    };
    let (a, b) = r
        .trim()
        .strip_prefix("bytes=")
        .and_then(|s| s.split_once('-'))
        .ok_or_else(bad)?;
    let (a, b): (u64, u64) = (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
    if a > b || b >= size {
        return Err(S3Error::with_message(
            S3ErrorCode::InvalidRange,
            "The requested range is not satisfiable",
        ));
    }
    Ok((a, b + 1))
}
