//! The gateway's inner store: any S3-compatible service (Ceph RGW, MinIO, Amazon S3, moto),
//! through the AWS SDK for Rust.
//!
//! [`RemoteStore`] implements [`s3s::S3`] and gives the [`SseLayer`](crate::SseLayer) the same
//! view as [`LocalStore`](crate::LocalStore) — what it writes reads back, late metadata
//! included, listings report the layer's sizes and ETags, bucket configuration is kept — while
//! the gateway keeps **no state of its own**: everything lives in the backing store, so any
//! number of gateways sharing it (and the root key and KMS) serve the same buckets, and one can
//! die at any moment without losing anything that was acknowledged.
//!
//! # Objects
//!
//! A backend object is the body the layer gave (its ciphertext), followed — when the request
//! carried a [`LateMetadata`](crate::internal::LateMetadata) — by a **trailer** of
//! [`TRAILER_LEN`] (4096) bytes holding the late entries:
//!
//! ```text
//! "OSTR1\n" ‖ BE32(n) ‖ JSON object of the entries (n bytes, n <= 4086) ‖ spaces to 4096 bytes
//! ```
//!
//! (strictly parsed: see `trailer.rs`). The backend object's user metadata (`x-amz-meta-*`)
//! holds the layer's upfront entries verbatim, plus [`TRAILER_META`] (`objseal-trailer: 4096`)
//! when there is a trailer. The entries S3 cannot take before the body is sent — size, ETag,
//! checksums — thus travel *in* the body, so one `PutObject` publishes the object and all its
//! metadata atomically, as S3 cannot change metadata afterwards. Late entries that do not fit
//! the trailer fail the write (500 `InternalError`: they are a size, an ETag and sealed
//! checksums, a few hundred bytes).
//!
//! The `PutObject` to the backend streams with a known Content-Length: the layer's body length
//! (`content_length`, else the body's exact remaining length) plus the trailer. A body that
//! fails, or ends short or long, or without its late entries, aborts the upload short of that
//! length, so the backend stores nothing. A body of unknown length (PostObject) is read into
//! memory first, at most [`MAX_UNSIZED_BODY`] (16 MiB; more: 400 `EntityTooLarge`). Streamed
//! bodies cannot be sent twice, so a failed `PutObject` is not retried by the SDK: retries never
//! duplicate or corrupt an object (and an S3 `PutObject` replaces the whole object anyway).
//!
//! **Reads.** A `HeadObject` is one backend request: a `GetObject` of the last 4096 bytes
//! (`Range: bytes=-4096`), whose answer carries the metadata, the total length and, from the
//! same version, the trailer (empty objects, which no range fits, are read by a HEAD). The store
//! reports the metadata with the trailer's entries merged over it, and `content_length`
//! without the trailer. A `GetObject` makes that request, then reads the asked bytes — always
//! inside `[0, length without the trailer)`, so trailer bytes are never served — with a second,
//! ranged `GetObject` pinned by `If-Match` to the version the first described.
//!
//! **ETags and `If-Match`.** `HeadObject` and `GetObject` report, as `e_tag`, the **backend's
//! own ETag** of the version read; the ETag clients see is the layer's `objseal-etag` entry in
//! the metadata, which the layer uses (listings, `PutObject` and `CopyObject` report it, as
//! `LocalStore` does). The layer pins its reads and in-place copies with the `e_tag` it saw, so
//! `If-Match` and `x-amz-copy-source-if-match` reach the backend unchanged, where they are
//! checked atomically with the read or copy. Reporting the layer's ETag there instead would need
//! a mapping back that cannot be race-free: an SSE-S3 object's ETag is the MD5 of its plaintext,
//! the same for two writes of the same plaintext under different data keys, so a read pinned to
//! it could return the bytes of the other write.
//!
//! Objects written by other tools (no trailer entry) are served as stored: plaintext pass-through.
//!
//! **Copies** are backend `CopyObject`s with `MetadataDirective: REPLACE` carrying the metadata
//! the gateway states (the client's for `REPLACE`, the source's for `COPY`, plus
//! [`TRAILER_META`] when the source has a trailer: the trailer is in the body, so it travels).
//! Entries the trailer holds are left out of the metadata; a copy that would give one of them
//! another value is refused (`NotImplemented`: the layer never asks for one). The source is read
//! first ([`CopySourceMetadataMatch`](crate::internal::CopySourceMetadataMatch) is checked on
//! that version) and the copy is pinned to it with `x-amz-copy-source-if-match` on its backend
//! ETag: the version checked is the version copied (Amazon S3, Ceph RGW and MinIO honour that
//! header; moto ignores it).
//!
//! **Listings** pass through to the backend. Keys under [`GATEWAY_PREFIX`] (`.objseal/`, the
//! gateway's sidecars) are hidden. Each listed object is reported with its size and ETag as a
//! HEAD through the store reports them, read from its trailer: objects shorter than a trailer
//! cost nothing more, every other one a ranged GET of its last 4 KiB (pinned to the listed
//! ETag), [`RemoteStoreConfig::list_concurrency`] (16) at a time. A full page of 1000 such
//! objects is 1000 small GETs in about 63 rounds: tens of milliseconds on a LAN, a second or
//! two against Amazon S3. An object replaced since the backend listed it is described as it is
//! now, one deleted since is left out, and a damaged one is listed as stored.
//!
//! `DeleteObject` and `DeleteObjects` pass through (keys under `.objseal/` are reported deleted
//! and left alone); writes under `.objseal/` are refused (400 `InvalidArgument`).
//!
//! # Buckets
//!
//! `CreateBucket`, `HeadBucket`, `ListBuckets` and `GetBucketLocation` pass through. A bucket's
//! configuration — default encryption with its `BlockedEncryptionTypes`, and policy — lives in
//! the sidecar object [`BUCKET_CONFIG_KEY`] (`.objseal/bucket.json`, `LocalStore`'s
//! `bucket.json` shape), never in the backend's own bucket encryption or policy. It is changed
//! by read-modify-write with a conditional `PutObject` (`If-Match` on the ETag read,
//! `If-None-Match: *` for the first), retried when another gateway won the race; backends that
//! ignore the conditions make the last writer win. `DeleteBucket` deletes the sidecars first and
//! writes the configuration back if the backend then refuses.
//!
//! # What operations cost
//!
//! | through the gateway | backend requests |
//! |---|---|
//! | `PutObject` | the layer's look-up of the bucket's encryption (one GET of the sidecar), one streamed PUT |
//! | `HeadObject` | one ranged GET (4 KiB) |
//! | `GetObject` | the layer's HEAD, then per read of the stored bytes (the layer makes one or two) a ranged GET of the trailer and the ranged GET of the bytes |
//! | `CopyObject` in place | the layer's HEAD, one ranged GET of the source, one backend `CopyObject` |
//! | `ListObjects(V2)` | one LIST, and one ranged GET per listed object of 4 KiB or more |
//! | bucket configuration calls | one GET of the sidecar (changes: and one conditional PUT) |
//!
//! # Multipart uploads
//!
//! Not in this increment: every multipart call answers 501 `NotImplemented`. The next one maps
//! them statelessly onto the backend's own multipart uploads.
//!
//! # Errors
//!
//! See `errors.rs`: an unreachable backend or a timeout is 503 `SlowDown`, a backend 5xx 500
//! `InternalError`, 404s `NoSuchKey` / `NoSuchBucket`, 412 `PreconditionFailed`. Logs and
//! messages never hold credentials or bodies. Backend requests carry checksums only where the
//! operation requires one, as headers (Ceph RGW 16 refuses the SDK's default trailing checksums).

mod body;
mod buckets;
mod config;
mod copy;
mod errors;
mod list;
mod objects;
mod stat;
mod trailer;

use std::fmt;
use std::io;
use std::sync::Arc;

use aws_sdk_s3::primitives::DateTime;
use s3s::dto::*;
use s3s::{S3, S3Request, S3Response, S3Result, s3_error};
use time::OffsetDateTime;

pub use self::buckets::BUCKET_CONFIG_KEY;
pub use self::config::{
    BackendCredentials, DEFAULT_BACKEND_REGION, DEFAULT_LIST_CONCURRENCY, RemoteStoreConfig,
};
pub use self::objects::MAX_UNSIZED_BODY;
pub use self::trailer::{TRAILER_LEN, TRAILER_META};

/// The prefix of the gateway's own objects in every bucket; listings hide it and clients cannot
/// write under it.
pub const GATEWAY_PREFIX: &str = ".objseal/";

/// An S3-compatible service as the inner store: the scale-out gateway's. See the
/// [module documentation](self).
///
/// Cheap to clone (the clients and their connection pool are shared).
#[derive(Clone)]
pub struct RemoteStore {
    inner: Arc<Inner>,
}

struct Inner {
    clients: config::Clients,
    list_concurrency: usize,
    endpoint: String,
}

impl fmt::Debug for RemoteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteStore")
            .field("endpoint", &self.inner.endpoint)
            .finish_non_exhaustive()
    }
}

impl RemoteStore {
    /// Builds the store's clients; reads the environment only for what `config` leaves open
    /// (credentials). Sends nothing: an unreachable backend shows at the first request.
    ///
    /// Must run inside a Tokio runtime (with its time driver enabled).
    ///
    /// # Errors
    ///
    /// `InvalidInput` for an endpoint that is not an `http://` or `https://` URL with a host, an
    /// empty region or no attempts at all.
    pub async fn connect(config: RemoteStoreConfig) -> io::Result<RemoteStore> {
        let clients = config::clients(&config).await?;
        Ok(RemoteStore {
            inner: Arc::new(Inner {
                clients,
                list_concurrency: config.list_concurrency.max(1),
                endpoint: config
                    .endpoint_url
                    .unwrap_or_else(|| format!("Amazon S3 ({})", config.region)),
            }),
        })
    }

    /// The backend's endpoint, for logs.
    pub fn endpoint(&self) -> &str {
        &self.inner.endpoint
    }

    /// The `aws-sdk-s3` client the store talks to the backend with.
    pub fn client(&self) -> &aws_sdk_s3::Client {
        &self.inner.clients.calls
    }
}

/// Whether `key` is one of the gateway's own objects.
pub(super) fn is_reserved_key(key: &str) -> bool {
    key.starts_with(GATEWAY_PREFIX)
}

/// An ETag as the SDK gives it (`"…"`), without the quotes (and a weak one's `W/`).
fn unquote(etag: &str) -> String {
    let etag = etag.strip_prefix("W/").unwrap_or(etag);
    etag.trim_matches('"').to_owned()
}

/// An ETag value as a header wants it.
fn quoted(etag: &str) -> String {
    format!("\"{etag}\"")
}

/// A condition as the header the SDK sends (`*`, `"…"` or `W/"…"`).
fn header_value(cond: &ETagCondition) -> Option<String> {
    cond.to_http_header()
        .ok()
        .and_then(|v| v.to_str().ok().map(str::to_owned))
}

fn length_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn from_sdk_time(t: &DateTime) -> Timestamp {
    let odt = OffsetDateTime::from_unix_timestamp_nanos(t.as_nanos())
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    Timestamp::from(odt)
}

fn to_sdk_time(t: &Timestamp) -> DateTime {
    let odt: OffsetDateTime = t.clone().into();
    DateTime::from_nanos(odt.unix_timestamp_nanos()).unwrap_or(DateTime::from_secs(0))
}

/// The answer to every multipart call, for now.
fn multipart_not_implemented<T>() -> S3Result<T> {
    Err(s3_error!(
        NotImplemented,
        "Multipart uploads are not supported yet by this gateway's backing store; upload objects \
         in a single PUT (up to 5 GiB)"
    ))
}

#[async_trait::async_trait]
impl S3 for RemoteStore {
    async fn list_buckets(
        &self,
        req: S3Request<ListBucketsInput>,
    ) -> S3Result<S3Response<ListBucketsOutput>> {
        self.list_buckets_impl(req).await
    }

    async fn create_bucket(
        &self,
        req: S3Request<CreateBucketInput>,
    ) -> S3Result<S3Response<CreateBucketOutput>> {
        self.create_bucket_impl(req).await
    }

    async fn head_bucket(
        &self,
        req: S3Request<HeadBucketInput>,
    ) -> S3Result<S3Response<HeadBucketOutput>> {
        self.head_bucket_impl(req).await
    }

    async fn get_bucket_location(
        &self,
        req: S3Request<GetBucketLocationInput>,
    ) -> S3Result<S3Response<GetBucketLocationOutput>> {
        self.get_bucket_location_impl(req).await
    }

    async fn delete_bucket(
        &self,
        req: S3Request<DeleteBucketInput>,
    ) -> S3Result<S3Response<DeleteBucketOutput>> {
        self.delete_bucket_impl(req).await
    }

    async fn put_bucket_encryption(
        &self,
        req: S3Request<PutBucketEncryptionInput>,
    ) -> S3Result<S3Response<PutBucketEncryptionOutput>> {
        self.put_bucket_encryption_impl(req).await
    }

    async fn get_bucket_encryption(
        &self,
        req: S3Request<GetBucketEncryptionInput>,
    ) -> S3Result<S3Response<GetBucketEncryptionOutput>> {
        self.get_bucket_encryption_impl(req).await
    }

    async fn delete_bucket_encryption(
        &self,
        req: S3Request<DeleteBucketEncryptionInput>,
    ) -> S3Result<S3Response<DeleteBucketEncryptionOutput>> {
        self.delete_bucket_encryption_impl(req).await
    }

    async fn put_bucket_policy(
        &self,
        req: S3Request<PutBucketPolicyInput>,
    ) -> S3Result<S3Response<PutBucketPolicyOutput>> {
        self.put_bucket_policy_impl(req).await
    }

    async fn get_bucket_policy(
        &self,
        req: S3Request<GetBucketPolicyInput>,
    ) -> S3Result<S3Response<GetBucketPolicyOutput>> {
        self.get_bucket_policy_impl(req).await
    }

    async fn delete_bucket_policy(
        &self,
        req: S3Request<DeleteBucketPolicyInput>,
    ) -> S3Result<S3Response<DeleteBucketPolicyOutput>> {
        self.delete_bucket_policy_impl(req).await
    }

    async fn put_object(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        self.put_object_impl(req).await
    }

    async fn get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        self.get_object_impl(req).await
    }

    async fn head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        self.head_object_impl(req).await
    }

    async fn delete_object(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        self.delete_object_impl(req).await
    }

    async fn delete_objects(
        &self,
        req: S3Request<DeleteObjectsInput>,
    ) -> S3Result<S3Response<DeleteObjectsOutput>> {
        self.delete_objects_impl(req).await
    }

    async fn copy_object(
        &self,
        req: S3Request<CopyObjectInput>,
    ) -> S3Result<S3Response<CopyObjectOutput>> {
        self.copy_object_impl(req).await
    }

    async fn list_objects(
        &self,
        req: S3Request<ListObjectsInput>,
    ) -> S3Result<S3Response<ListObjectsOutput>> {
        self.list_objects_impl(req).await
    }

    async fn list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        self.list_objects_v2_impl(req).await
    }

    async fn create_multipart_upload(
        &self,
        _req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        multipart_not_implemented()
    }

    async fn upload_part(
        &self,
        _req: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        multipart_not_implemented()
    }

    async fn upload_part_copy(
        &self,
        _req: S3Request<UploadPartCopyInput>,
    ) -> S3Result<S3Response<UploadPartCopyOutput>> {
        multipart_not_implemented()
    }

    async fn list_parts(
        &self,
        _req: S3Request<ListPartsInput>,
    ) -> S3Result<S3Response<ListPartsOutput>> {
        multipart_not_implemented()
    }

    async fn list_multipart_uploads(
        &self,
        _req: S3Request<ListMultipartUploadsInput>,
    ) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
        multipart_not_implemented()
    }

    async fn complete_multipart_upload(
        &self,
        _req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        multipart_not_implemented()
    }

    async fn abort_multipart_upload(
        &self,
        _req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        multipart_not_implemented()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_and_times() {
        assert_eq!(unquote("\"abc\""), "abc");
        assert_eq!(unquote("W/\"abc-2\""), "abc-2");
        assert_eq!(unquote("abc"), "abc");
        assert_eq!(quoted("abc"), "\"abc\"");
        assert_eq!(
            header_value(&ETagCondition::ETag(ETag::Strong("e".into()))).as_deref(),
            Some("\"e\"")
        );
        assert_eq!(header_value(&ETagCondition::Any).as_deref(), Some("*"));
        let t = DateTime::from_secs(1_700_000_000);
        assert_eq!(to_sdk_time(&from_sdk_time(&t)), t);
    }

    #[test]
    fn the_gateway_prefix_is_reserved() {
        assert!(is_reserved_key(".objseal/bucket.json"));
        assert!(!is_reserved_key(".objseal"));
        assert!(!is_reserved_key("a/.objseal/x"));
    }
}
