//! The SSE layer: every server-side-encryption rule of Amazon S3, around any inner store.
//!
//! One file per concern: `request` parses the SSE headers, `keys` makes and opens data keys,
//! `seal_body` / `open_body` stream bodies through the cipher, `layout` maps plaintext ranges to
//! chunks, and `put`, `get`, `copy`, `multipart` and `bucket` implement the operations.
//! `record` is what the layer keeps in the store's metadata.

mod bucket;
mod channel;
mod checksum;
mod copy;
mod copy_in_place;
mod cpu;
mod delete_objects;
mod echo;
mod errors;
mod get;
mod keys;
mod layout;
mod multipart;
mod open_body;
mod policy;
mod put;
mod record;
mod request;
mod seal_body;
mod upload_id;

use std::sync::Arc;

use s3s::dto::*;
use s3s::{S3, S3Request, S3Response, S3Result};

use objseal_core::wrap::LocalKek;
use objseal_kms::Kms;

use crate::metrics::Metrics;
use crate::principals::Directory;
pub use policy::{
    BucketPolicies, MAX_BUCKET_POLICY_LEN, PolicyFreshness, PolicyState, S3_ACTIONS,
    SHARED_POLICY_TTL,
};

/// How the layer encrypts.
#[derive(Clone, Debug)]
pub struct SseConfig {
    /// The KMS key used for `aws:kms` requests that name none (an id, ARN or alias).
    pub default_kms_key: String,
    /// Accept SSE-C over plain HTTP (AWS refuses it; tests on loopback need it).
    pub allow_ssec_over_http: bool,
    /// log2 of the chunk size of new objects (12..=24).
    pub chunk_log2: u8,
    /// Chunks sealed per parallel batch on writes (a request holds a few such batches).
    pub batch_chunks: usize,
    /// Chunks opened per parallel batch on reads. Smaller than `batch_chunks`: a read's batches
    /// follow the store's read buffers, and small ones reach the client sooner while the next
    /// are opened (on a 2-core host 4 beat 8, 16 and 32 by 10–20 % of GET throughput).
    pub open_batch_chunks: usize,
    /// Read batches of at most this many sealed bytes are opened on the request's own task
    /// rather than handed to rayon's pool and back. `None`: [`GATEWAY_OPEN_INLINE_MAX`] in front
    /// of a remote backend — a gateway's cores are busy moving bytes, and on a 2-vCPU host the
    /// hand-offs of small batches cost a quarter of encrypted GET throughput — and 0 over the
    /// local store, whose file reads the parallel opening overlaps (`cargo bench --bench
    /// gateway` and `--bench server`, README).
    pub open_inline_max: Option<usize>,
    /// The encryption of writes that name none in a bucket without a default encryption of its
    /// own: `None` stores them as sent; [`DefaultEncryption::SseS3`] is Amazon S3's behaviour since
    /// 2023 (nothing stored in plaintext).
    pub default_encryption: Option<DefaultEncryption>,
    /// Serve sealed objects only: an object without objseal's encryption (put into the store
    /// around the server, say by a writer to a gateway's backend bucket) is refused on every read
    /// — GET, HEAD, copy source — with 403 `InvalidObjectState`, never served as genuine; writes
    /// that ask for no encryption are sealed with the default encryption (SSE-S3 when
    /// [`SseConfig::default_encryption`] names none). Encrypt existing plaintext objects in place
    /// (CopyObject onto themselves) before switching it on.
    pub sealed_only: bool,
    /// The region in `kms:ViaService` (`s3.<region>.amazonaws.com`) when the layer calls the KMS
    /// on behalf of a principal ([`SseLayer::with_principals`]).
    pub region: String,
}

/// [`SseConfig::open_inline_max`] of a gateway: 512 KiB (two batches of four 64 KiB chunks).
pub const GATEWAY_OPEN_INLINE_MAX: usize = 512 << 10;

/// A server-wide default encryption ([`SseConfig::default_encryption`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DefaultEncryption {
    /// SSE-S3 (`AES256`).
    SseS3,
    /// SSE-KMS (`aws:kms`) under [`SseConfig::default_kms_key`].
    SseKms,
}

impl Default for SseConfig {
    fn default() -> Self {
        Self {
            default_kms_key: "alias/objseal-default".into(),
            allow_ssec_over_http: false,
            chunk_log2: objseal_core::DEFAULT_CHUNK_LOG2,
            batch_chunks: 16,
            open_batch_chunks: 4,
            open_inline_max: None,
            default_encryption: None,
            sealed_only: false,
            region: "us-east-1".into(),
        }
    }
}

/// The SSE layer: an [`s3s::S3`] that encrypts what it passes to `inner` and decrypts what it
/// reads back.
pub struct SseLayer<S> {
    /// Shared with the bucket policies' reads ([`SseLayer::with_policies_from_store`]).
    inner: Arc<S>,
    kms: Arc<dyn Kms>,
    sse_s3: Arc<LocalKek>,
    upload_id_key: zeroize::Zeroizing<[u8; 32]>,
    config: SseConfig,
    metrics: Arc<Metrics>,
    policies: Arc<BucketPolicies>,
    /// `Some`: SSE-KMS calls are made on behalf of the requesting principal.
    directory: Option<Arc<Directory>>,
}

impl<S> SseLayer<S> {
    /// Wraps `inner`. `kms` serves SSE-KMS; `sse_s3` is the server's own key-encryption key for
    /// SSE-S3 (never shown to users); `upload_id_key` authenticates the multipart upload ids it
    /// hands out (servers sharing a store must share it, as they share `sse_s3`); `metrics`
    /// counts what the layer does. A `config` out of range is brought into range (chunk size
    /// 4 KiB..=16 MiB, at least one chunk per batch).
    pub fn new(
        inner: S,
        kms: Arc<dyn Kms>,
        sse_s3: LocalKek,
        upload_id_key: [u8; 32],
        mut config: SseConfig,
        metrics: Arc<Metrics>,
    ) -> Self {
        config.chunk_log2 = config.chunk_log2.clamp(
            objseal_core::format::header::MIN_CHUNK_LOG2,
            objseal_core::format::header::MAX_CHUNK_LOG2,
        );
        config.batch_chunks = config.batch_chunks.clamp(1, 4096);
        config.open_batch_chunks = config.open_batch_chunks.clamp(1, 4096);
        if config.sealed_only && config.default_encryption.is_none() {
            config.default_encryption = Some(DefaultEncryption::SseS3);
        }
        Self {
            inner: Arc::new(inner),
            kms,
            sse_s3: Arc::new(sse_s3),
            upload_id_key: zeroize::Zeroizing::new(upload_id_key),
            config,
            metrics,
            policies: Arc::default(),
            directory: None,
        }
    }

    /// Makes every SSE-KMS call on behalf of the principal that signed the request (looked up in
    /// `directory`), through [`Kms::on_behalf_of`] with `kms:ViaService` =
    /// `s3.<region>.amazonaws.com`: the KMS checks that principal's rights on the key, so reading
    /// an SSE-KMS object needs permission on its bucket *and* on its key. Without it, the layer
    /// calls the KMS as itself.
    #[must_use]
    pub fn with_principals(mut self, directory: Arc<Directory>) -> Self {
        self.directory = Some(directory);
        self
    }

    /// The KMS as the principal of `req` (or as the layer itself without a directory). A request
    /// without a known principal gets nothing from the KMS: 403 AccessDenied.
    pub(crate) fn kms_for<T>(&self, req: &S3Request<T>) -> Result<Arc<dyn Kms>, s3s::S3Error> {
        let Some(directory) = &self.directory else {
            return Ok(Arc::clone(&self.kms));
        };
        let identity = req
            .credentials
            .as_ref()
            .and_then(|c| directory.identity(&c.access_key))
            .ok_or_else(|| {
                s3s::s3_error!(
                    AccessDenied,
                    "SSE-KMS needs a signed request from a known principal"
                )
            })?;
        Ok(self.kms.on_behalf_of(&objseal_kms::Delegation {
            identity: identity.clone(),
            via_service: format!("s3.{}.amazonaws.com", self.config.region),
            source: req
                .extensions
                .get::<crate::internal::Transport>()
                .and_then(|t| t.peer)
                .map(|p| p.to_string()),
            request_id: req
                .extensions
                .get::<crate::server::RequestId>()
                .map(|r| r.as_str().to_owned()),
        }))
    }

    /// The inner store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// What this server's upload ids for `bucket`/`object` are bound to.
    fn id_binding<'a>(&'a self, bucket: &'a str, object: &'a str) -> upload_id::IdBinding<'a> {
        upload_id::IdBinding {
            key: &self.upload_id_key,
            bucket,
            object,
        }
    }
}

/// A request of the layer's own to the store, on behalf of `req`: its credentials, region and
/// URI, and nothing else of it — no headers (the store reads its inputs, and the client's headers
/// describe a plaintext body and may carry a customer key), no extensions, no trailers.
pub(crate) fn inner_request<T, I>(
    req: &S3Request<T>,
    method: http::Method,
    input: I,
) -> S3Request<I> {
    S3Request {
        input,
        method,
        uri: req.uri.clone(),
        headers: http::HeaderMap::new(),
        extensions: transport_of(req),
        credentials: req.credentials.clone(),
        region: req.region.clone(),
        service: req.service.clone(),
        trailing_headers: None,
    }
}

/// Only the [`Transport`](crate::internal::Transport) and request id of `req`'s extensions: who the layer's own
/// requests are for (the KMS's audit record names the client's address).
fn transport_of<T>(req: &S3Request<T>) -> http::Extensions {
    let mut extensions = http::Extensions::new();
    if let Some(t) = req.extensions.get::<crate::internal::Transport>() {
        extensions.insert(*t);
    }
    if let Some(id) = req.extensions.get::<crate::server::RequestId>() {
        extensions.insert(id.clone());
    }
    extensions
}

/// A request of the layer's own on behalf of nobody: no credentials, headers or extensions (a
/// bucket's settings read before a write, the bucket policies read at start).
pub(crate) fn bare_request<I>(input: I) -> S3Request<I> {
    S3Request {
        input,
        method: http::Method::GET,
        uri: http::Uri::from_static("/"),
        headers: http::HeaderMap::new(),
        extensions: http::Extensions::new(),
        credentials: None,
        region: None,
        service: None,
        trailing_headers: None,
    }
}

/// Whether the request came over TLS (see [`Transport`](crate::internal::Transport)).
pub(crate) fn is_tls<T>(req: &S3Request<T>) -> bool {
    req.extensions
        .get::<crate::internal::Transport>()
        .is_some_and(|t| t.tls)
}

impl<S> SseLayer<S> {
    /// Counts a finished operation by its S3 name and HTTP status.
    fn count<T>(&self, operation: &str, result: S3Result<T>) -> S3Result<T> {
        let status = match &result {
            Ok(_) => "200".to_owned(),
            Err(e) => e
                .status_code()
                .map_or_else(|| "500".to_owned(), |s| s.as_u16().to_string()),
        };
        self.metrics.request(operation, &status);
        if let Err(e) = &result {
            tracing::debug!(operation, code = e.code().as_str(), "request refused");
        }
        result
    }
}

/// Calls the layer's own implementation, counting the outcome.
macro_rules! own {
    ($self:ident, $name:literal, $call:expr) => {{
        let r = $call.await;
        $self.count($name, r)
    }};
}

/// Passes a request through to the store, counting the outcome.
macro_rules! pass {
    ($self:ident, $name:literal, $method:ident, $req:ident) => {{
        let mut req = $req;
        put::scrub_headers(&mut req.headers);
        let r = $self.inner.$method(req).await;
        $self.count($name, r)
    }};
}

#[async_trait::async_trait]
impl<S: S3> S3 for SseLayer<S> {
    async fn put_object(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        own!(self, "PutObject", self.put(req))
    }
    async fn post_object(
        &self,
        req: S3Request<PostObjectInput>,
    ) -> S3Result<S3Response<PostObjectOutput>> {
        own!(self, "PostObject", self.post(req))
    }
    async fn get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        own!(self, "GetObject", self.get(req))
    }
    async fn head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        own!(self, "HeadObject", self.head(req))
    }
    async fn copy_object(
        &self,
        req: S3Request<CopyObjectInput>,
    ) -> S3Result<S3Response<CopyObjectOutput>> {
        own!(self, "CopyObject", self.copy(req))
    }
    async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        own!(self, "CreateMultipartUpload", self.create_upload(req))
    }
    async fn upload_part(
        &self,
        req: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        own!(self, "UploadPart", self.upload_part(req))
    }
    async fn upload_part_copy(
        &self,
        req: S3Request<UploadPartCopyInput>,
    ) -> S3Result<S3Response<UploadPartCopyOutput>> {
        own!(self, "UploadPartCopy", self.upload_part_copy(req))
    }
    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        own!(self, "CompleteMultipartUpload", self.complete(req))
    }
    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        own!(self, "AbortMultipartUpload", self.abort(req))
    }
    async fn list_parts(
        &self,
        req: S3Request<ListPartsInput>,
    ) -> S3Result<S3Response<ListPartsOutput>> {
        own!(self, "ListParts", self.list_parts(req))
    }
    async fn list_multipart_uploads(
        &self,
        req: S3Request<ListMultipartUploadsInput>,
    ) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
        own!(self, "ListMultipartUploads", self.list_uploads(req))
    }
    async fn put_bucket_encryption(
        &self,
        req: S3Request<PutBucketEncryptionInput>,
    ) -> S3Result<S3Response<PutBucketEncryptionOutput>> {
        own!(self, "PutBucketEncryption", self.put_encryption(req))
    }
    async fn put_bucket_policy(
        &self,
        req: S3Request<PutBucketPolicyInput>,
    ) -> S3Result<S3Response<PutBucketPolicyOutput>> {
        own!(self, "PutBucketPolicy", self.put_policy(req))
    }
    async fn get_bucket_policy(
        &self,
        req: S3Request<GetBucketPolicyInput>,
    ) -> S3Result<S3Response<GetBucketPolicyOutput>> {
        pass!(self, "GetBucketPolicy", get_bucket_policy, req)
    }
    async fn delete_bucket_policy(
        &self,
        req: S3Request<DeleteBucketPolicyInput>,
    ) -> S3Result<S3Response<DeleteBucketPolicyOutput>> {
        own!(self, "DeleteBucketPolicy", self.delete_policy(req))
    }
    async fn get_bucket_encryption(
        &self,
        req: S3Request<GetBucketEncryptionInput>,
    ) -> S3Result<S3Response<GetBucketEncryptionOutput>> {
        own!(self, "GetBucketEncryption", self.get_encryption(req))
    }
    async fn delete_bucket_encryption(
        &self,
        req: S3Request<DeleteBucketEncryptionInput>,
    ) -> S3Result<S3Response<DeleteBucketEncryptionOutput>> {
        pass!(
            self,
            "DeleteBucketEncryption",
            delete_bucket_encryption,
            req
        )
    }
    async fn list_buckets(
        &self,
        req: S3Request<ListBucketsInput>,
    ) -> S3Result<S3Response<ListBucketsOutput>> {
        pass!(self, "ListBuckets", list_buckets, req)
    }
    async fn create_bucket(
        &self,
        req: S3Request<CreateBucketInput>,
    ) -> S3Result<S3Response<CreateBucketOutput>> {
        pass!(self, "CreateBucket", create_bucket, req)
    }
    async fn head_bucket(
        &self,
        req: S3Request<HeadBucketInput>,
    ) -> S3Result<S3Response<HeadBucketOutput>> {
        pass!(self, "HeadBucket", head_bucket, req)
    }
    async fn delete_bucket(
        &self,
        req: S3Request<DeleteBucketInput>,
    ) -> S3Result<S3Response<DeleteBucketOutput>> {
        own!(self, "DeleteBucket", self.delete_bucket_and_policy(req))
    }
    async fn delete_object(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        pass!(self, "DeleteObject", delete_object, req)
    }
    async fn delete_objects(
        &self,
        req: S3Request<DeleteObjectsInput>,
    ) -> S3Result<S3Response<DeleteObjectsOutput>> {
        own!(self, "DeleteObjects", self.delete_objects_checked(req))
    }
    async fn list_objects(
        &self,
        req: S3Request<ListObjectsInput>,
    ) -> S3Result<S3Response<ListObjectsOutput>> {
        pass!(self, "ListObjects", list_objects, req)
    }
    async fn list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        pass!(self, "ListObjectsV2", list_objects_v2, req)
    }
}
