//! PutObject: choose the encryption, seal the body on its way to the store, and record what
//! only the end of the body tells (size, ETag, checksums) in the same atomic step.

use std::collections::HashMap;

use s3s::dto::{PostObjectInput, PostObjectOutput, PutObjectInput, PutObjectOutput, StreamingBlob};
use s3s::{S3, S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

use super::SseLayer;
use super::checksum::{BodyChecks, BodyDigests, checksum_dto, set_checksums};
use super::echo::{SseEcho, echo_sse};
use super::errors::internal;
use super::record::{
    CHECKSUM_PREFIX, ETAG, SEALED_CHECKSUMS, SIZE, Sealing, SseKind, check_user_metadata,
};
use super::request::{SseChoice, write_sse_headers};
use super::seal_body::{SealPlan, seal_body};
use crate::internal::LateMetadata;

/// Request headers the store must not see: the customer key above all, and the integrity
/// values of a plaintext the store never receives.
pub(crate) const PLAINTEXT_HEADERS: [&str; 16] = [
    "x-amz-server-side-encryption-customer-algorithm",
    "x-amz-server-side-encryption-customer-key",
    "x-amz-server-side-encryption-customer-key-md5",
    "x-amz-copy-source-server-side-encryption-customer-algorithm",
    "x-amz-copy-source-server-side-encryption-customer-key",
    "x-amz-copy-source-server-side-encryption-customer-key-md5",
    "content-md5",
    "x-amz-checksum-crc32",
    "x-amz-checksum-crc32c",
    "x-amz-checksum-crc64nvme",
    "x-amz-checksum-sha1",
    "x-amz-checksum-sha256",
    "x-amz-sdk-checksum-algorithm",
    "x-amz-checksum-algorithm",
    "x-amz-trailer",
    "x-amz-decoded-content-length",
];

/// Removes [`PLAINTEXT_HEADERS`] from a request bound for the store.
pub(crate) fn scrub_headers(headers: &mut http::HeaderMap) {
    for h in PLAINTEXT_HEADERS {
        headers.remove(h);
    }
}

/// The plaintext length a body declares: `Content-Length`, or `x-amz-decoded-content-length`
/// for `aws-chunked` bodies sent with `Transfer-Encoding: chunked` (as aws-cli does over HTTPS).
pub(crate) fn declared_len(
    headers: &http::HeaderMap,
    content_length: Option<i64>,
) -> Result<u64, S3Error> {
    content_length
        .and_then(|l| u64::try_from(l).ok())
        .or_else(|| {
            headers
                .get("x-amz-decoded-content-length")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse().ok())
        })
        .ok_or_else(|| S3Error::new(S3ErrorCode::MissingContentLength))
}

/// A 16-byte random value as 32 hex digits: the ETag of objects whose ETag must not be the
/// plaintext's MD5 (SSE-KMS, SSE-C).
pub(crate) fn opaque_etag() -> Result<String, S3Error> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|_| internal("random source"))?;
    Ok(hex::encode(b))
}

/// What a finished write reports.
pub(crate) struct Stored {
    pub etag: String,
    pub sealing: Sealing,
    pub digests: BodyDigests,
    pub inner: PutObjectOutput,
}

impl<S: S3> SseLayer<S> {
    pub(crate) async fn put(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        let len = declared_len(&req.headers, req.input.content_length)?;
        self.write(req, Some(len)).await
    }

    /// PostObject (an HTML form upload): a PutObject whose body is the form's file, of a length
    /// known only at its end. s3s has checked the form's policy and signature.
    pub(crate) async fn post(
        &self,
        req: S3Request<PostObjectInput>,
    ) -> S3Result<S3Response<PostObjectOutput>> {
        self.check_post(&req)?;
        let req = req.map_input(|i| PutObjectInput {
            body: i.body,
            bucket: i.bucket,
            key: i.key,
            metadata: i.metadata,
            content_type: i.content_type,
            cache_control: i.cache_control,
            content_disposition: i.content_disposition,
            content_encoding: i.content_encoding,
            content_language: i.content_language,
            expires: i.expires,
            website_redirect_location: i.website_redirect_location,
            server_side_encryption: i.server_side_encryption,
            ssekms_key_id: i.ssekms_key_id,
            ssekms_encryption_context: i.ssekms_encryption_context,
            bucket_key_enabled: i.bucket_key_enabled,
            sse_customer_algorithm: i.sse_customer_algorithm,
            sse_customer_key: i.sse_customer_key,
            sse_customer_key_md5: i.sse_customer_key_md5,
            ..Default::default()
        });
        let out = self.write(req, None).await?;
        Ok(out.map_output(|o| PostObjectOutput {
            e_tag: o.e_tag,
            size: o.size,
            version_id: o.version_id,
            server_side_encryption: o.server_side_encryption,
            ssekms_key_id: o.ssekms_key_id,
            ssekms_encryption_context: o.ssekms_encryption_context,
            bucket_key_enabled: o.bucket_key_enabled,
            sse_customer_algorithm: o.sse_customer_algorithm,
            sse_customer_key_md5: o.sse_customer_key_md5,
            checksum_crc32: o.checksum_crc32,
            checksum_crc32c: o.checksum_crc32c,
            checksum_crc64nvme: o.checksum_crc64nvme,
            checksum_sha1: o.checksum_sha1,
            checksum_sha256: o.checksum_sha256,
            ..Default::default()
        }))
    }

    /// The bucket policy for a form upload: `s3:PutObject` on the form's key, with the form's
    /// encryption fields as the condition values that headers give other writes (the gate sees
    /// neither: they are in the body). Without the gate, a bucket with a policy takes no form.
    fn check_post(&self, req: &S3Request<PostObjectInput>) -> S3Result<()> {
        let i = &req.input;
        let Some(check) = req.extensions.get::<crate::server::access::DeferredCheck>() else {
            return match self.policies.get(&i.bucket) {
                Some(_) => Err(s3s::s3_error!(AccessDenied, "Access Denied")),
                None => Ok(()),
            };
        };
        let mut conditions = req.headers.clone();
        for name in [
            "x-amz-server-side-encryption",
            "x-amz-server-side-encryption-aws-kms-key-id",
            "x-amz-server-side-encryption-customer-algorithm",
        ] {
            conditions.remove(name);
        }
        let fields = [
            (
                "x-amz-server-side-encryption",
                i.server_side_encryption.as_ref().map(|s| s.as_str()),
            ),
            (
                "x-amz-server-side-encryption-aws-kms-key-id",
                i.ssekms_key_id.as_deref(),
            ),
            (
                "x-amz-server-side-encryption-customer-algorithm",
                i.sse_customer_algorithm.as_deref(),
            ),
        ];
        for (name, value) in fields {
            if let Some(v) = value.and_then(|v| http::HeaderValue::from_str(v).ok()) {
                conditions.insert(name, v);
            }
        }
        if check.allows(&conditions, &i.bucket, &i.key, "s3:PutObject")? {
            Ok(())
        } else {
            Err(s3s::s3_error!(
                AccessDenied,
                "Access Denied: denied by the bucket policy"
            ))
        }
    }

    /// A PutObject of `len` plaintext bytes (`None`: the body's own length).
    async fn write(
        &self,
        mut req: S3Request<PutObjectInput>,
        len: Option<u64>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        let tls = super::is_tls(&req);
        check_user_metadata(req.input.metadata.as_ref())?;
        let input = &req.input;
        let choice = self
            .choose_encryption(&input.bucket, write_sse_headers!(input), tls)
            .await?;
        let body = req.input.body.take().unwrap_or_else(|| {
            StreamingBlob::wrap(futures::stream::empty::<Result<bytes::Bytes, std::io::Error>>())
        });
        let want_md5 = matches!(choice, SseChoice::None | SseChoice::S3);
        let checks = BodyChecks::plan(&req.headers, req.trailing_headers.clone(), want_md5)?;
        let customer_md5 = match &choice {
            SseChoice::Customer(c) => Some(c.md5_b64.clone()),
            _ => None,
        };
        let stored = self.store_object(req, &choice, body, len, checks).await?;
        let mut out = PutObjectOutput {
            e_tag: Some(s3s::dto::ETag::Strong(stored.etag)),
            size: i64::try_from(stored.digests.len).ok(),
            version_id: stored.inner.version_id,
            ..Default::default()
        };
        let echo = SseEcho::of(&stored.sealing, customer_md5.as_deref());
        echo_sse!(out, echo);
        out.ssekms_encryption_context = echo
            .kms_context
            .filter(|_| !stored.sealing.kms_context.is_empty());
        set_checksums!(out, checksum_dto(&stored.digests.checksums));
        Ok(S3Response::new(out))
    }

    /// Writes `body` (`len` plaintext bytes; `None`: as many as it holds) as the object of `req`
    /// (whose input's content fields and metadata are the object's), encrypted as `choice` says.
    pub(crate) async fn store_object(
        &self,
        mut req: S3Request<PutObjectInput>,
        choice: &SseChoice,
        body: StreamingBlob,
        len: Option<u64>,
        checks: BodyChecks,
    ) -> Result<Stored, S3Error> {
        let (bucket, key) = (req.input.bucket.clone(), req.input.key.clone());
        let mut checksum_sealer = None;
        let (segment_key, sealing) = match self
            .new_object_key(&req, choice, &bucket, &key, false)
            .await?
        {
            Some((object, sealing)) => (
                {
                    let body_key = object.body_key().map_err(|_| internal("body key"))?;
                    checksum_sealer = Some(object);
                    Some(body_key)
                },
                sealing,
            ),
            None => (None, Sealing::none()),
        };
        let late = LateMetadata::new();
        let etag_slot = std::sync::Arc::new(std::sync::Mutex::new(None::<String>));
        let on_complete = {
            let late = late.clone();
            let kind = sealing.kind;
            let etag_slot = etag_slot.clone();
            let opaque = opaque_etag()?;
            Box::new(move |d: &BodyDigests| {
                let etag = match kind {
                    SseKind::None | SseKind::S3 => d.md5.map(hex::encode).unwrap_or(opaque),
                    SseKind::Kms | SseKind::Customer => opaque,
                };
                let mut m = HashMap::new();
                m.insert(SIZE.to_owned(), d.len.to_string());
                m.insert(ETAG.to_owned(), etag.clone());
                match &checksum_sealer {
                    // Encrypted objects keep their checksums sealed; a failure to seal leaves
                    // them out (the write itself stands).
                    Some(object) => {
                        if let Ok(sealed) = super::checksum::seal_checksums(object, &d.checksums) {
                            m.insert(SEALED_CHECKSUMS.to_owned(), sealed);
                        }
                    }
                    None => {
                        for (alg, v) in &d.checksums {
                            m.insert(format!("{CHECKSUM_PREFIX}{alg}"), v.clone());
                        }
                    }
                }
                *etag_slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(etag);
                late.set(m);
            })
        };
        let sealed = seal_body(
            body,
            SealPlan {
                key: segment_key,
                plaintext_len: len,
                checks,
                batch_chunks: self.config.batch_chunks,
                metrics: self.metrics.clone(),
            },
            on_complete,
        )?;
        let mut metadata =
            super::record::stored_user_metadata(req.input.metadata.take()).unwrap_or_default();
        sealing.to_entries(&mut metadata);
        let input = &mut req.input;
        input.metadata = Some(metadata);
        input.body = Some(sealed.body);
        input.content_length = sealed.stored_len.and_then(|l| i64::try_from(l).ok());
        input.content_md5 = None;
        input.checksum_algorithm = None;
        input.checksum_crc32 = None;
        input.checksum_crc32c = None;
        input.checksum_crc64nvme = None;
        input.checksum_sha1 = None;
        input.checksum_sha256 = None;
        input.server_side_encryption = None;
        input.ssekms_key_id = None;
        input.ssekms_encryption_context = None;
        input.bucket_key_enabled = None;
        input.sse_customer_algorithm = None;
        super::request::wipe(&mut input.sse_customer_key);
        input.sse_customer_key_md5 = None;
        scrub_headers(&mut req.headers);
        req.trailing_headers = None;
        req.extensions.insert(late);
        let inner = self.inner.put_object(req).await;
        // The body's own verdict (short body, bad digest) explains a failure best.
        let digests = match sealed.digests.await {
            Ok(Ok(d)) => d,
            Ok(Err(e)) => return Err(super::seal_body::write_error(e, inner)),
            Err(_) => {
                return Err(inner
                    .err()
                    .unwrap_or_else(|| internal("sealing task vanished")));
            }
        };
        let inner = inner?.output;
        let etag = etag_slot
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
            .ok_or_else(|| internal("no ETag"))?;
        Ok(Stored {
            etag,
            sealing,
            digests,
            inner,
        })
    }
}
