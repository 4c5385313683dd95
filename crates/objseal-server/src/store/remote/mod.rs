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
//! [`TRAILER_LEN`] (4096) bytes holding the late entries, encrypted and authenticated under the
//! state key and bound to the object's `objseal-header`:
//!
//! ```text
//! "OSTR2\n" ‖ salt ‖ BE32(n) ‖ AES-256-GCM(JSON object of the entries) ‖ tag ‖ zeros to 4096 bytes
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
//! # Authenticated state
//!
//! Whoever may write the backend bucket holds no key of the gateways', so every sidecar the
//! gateway writes carries an HMAC-SHA-256 tag under the state key
//! ([`RemoteStore::with_state_key`]; [`Server::start`](crate::server::Server::start) derives it
//! from the root key with HKDF-SHA-256, `info` `objseal/gateway/state/v1`), bound to the
//! sidecar's kind, bucket and backend key, and stored as `{"mac":"<hex>","body":<JSON>}` (see
//! `state.rs` and FORMAT.md §17). A sidecar without a valid tag is not the gateway's: an
//! `upload.json` is as none (the upload's metadata is not listed, Complete is `NoSuchUpload`),
//! a part sidecar as none (the part is not acknowledged), a late sidecar makes its object damaged
//! (500), a `bucket.json` refuses the bucket (403, as a policy that does not parse: only the
//! admins' policy calls, which replace it). The trailer is not tagged (yet).
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
//! | `CreateMultipartUpload` | the layer's look-up of the bucket's encryption, the backend's Create, one PUT of `upload.json` |
//! | `UploadPart` | one streamed `UploadPart`, one PUT of the part's sidecar |
//! | `ListParts` | one backend `ListParts`, one GET per listed part |
//! | `CompleteMultipartUpload` | the layer's `ListParts` (above), one GET per listed part, one conditional PUT of the late sidecar, the backend's Complete, one LIST and one `DeleteObjects` per 1000 sidecars |
//! | `HeadObject` / listing entry of a completed multipart object | one ranged GET (4 KiB) and one GET of its late sidecar |
//! | `DeleteObject` | one HEAD, the DELETE, and a DELETE of the late sidecar if there is one |
//!
//! # Multipart uploads
//!
//! Each upload is the backend's own multipart upload, part for part; what S3 cannot hold for
//! it — per-part entries (S3 has none), the completed object's late entries (a trailer cannot be
//! appended: parts but the last must be ≥ 5 MiB and cannot be read before completion) and the
//! upload's metadata for `ListMultipartUploads` (S3 lists none) — lives in **sidecars** under
//! [`GATEWAY_PREFIX`] (`sidecar.rs`, strict JSON, tagged: see "Authenticated state"), written
//! before the step that relies on them, so any gateway can continue any upload and one that dies
//! loses nothing acknowledged:
//!
//! | sidecar | holds | written | deleted |
//! |---|---|---|---|
//! | `.objseal/uploads/<hex(upload id)>/upload.json` | key, late token, the layer's Create metadata | after the backend's Create, before answering | with the upload |
//! | `.objseal/uploads/<hex(upload id)>/<part, 5 digits>` | the backend part's ETag and size, the layer's late entries for it (its ETag: the segment salt) | after the backend took the part, before answering (a re-upload overwrites both) | with the upload |
//! | `.objseal/late/<token>` | key, the completion's late entries (size, ETag, manifest…) | before the backend's Complete | with the object |
//!
//! - **Create**: a fresh random *token* (32 hex digits); the backend upload gets the layer's
//!   metadata plus [`SIDECAR_META`] (`objseal-late: <token>`), minus the SSE-C upload's wrapped
//!   manifest key (§15), which stays in `upload.json` only — object metadata cannot be blanked
//!   after completion. A failed `upload.json` write aborts the backend upload.
//! - **UploadPart**: streamed with its known length as `PutObject` (no trailer); then the part's
//!   sidecar; the answer's ETag is the layer's. `UploadPartCopy` is the layer's (it reads the
//!   source and calls `UploadPart`): the store refuses it (501).
//! - **ListParts**: the backend's page joined with the part sidecars (`list_concurrency` GETs at
//!   a time); a part whose sidecar is missing or names another backend ETag is an upload of it
//!   that never finished — never acknowledged, or overtaken by a concurrent one — and is **left
//!   out**, so a resuming client uploads it again (reporting the backend's ETag instead would
//!   show the client a part it cannot complete with). Sizes are the backend's (the layer makes
//!   them plaintext sizes). moto's `ListPartsResponse` root is read by a fallback (`parts.rs`).
//! - **Complete**: `upload.json` (none, or another key's: `NoSuchUpload`); each listed part's
//!   sidecar must hold the listed (layer) ETag (`InvalidPart` otherwise) and gives the backend
//!   ETag; the late sidecar is created (`If-None-Match: *`); if one exists it is kept when equal,
//!   else replaced (pinned by `If-Match`) only while the backend still lists the upload — a
//!   retried Complete never rewrites a completed object's entries. Then the backend Complete
//!   with the backend ETags (the backend checks them again), then the upload's sidecars go
//!   (best effort).
//! - **Abort**: the backend's (which says whether the id is an upload of that key), then the
//!   upload's sidecars. **ListMultipartUploads**: the backend's, each listed upload's
//!   `upload.json` read into [`UploadsMetadata`](crate::internal::UploadsMetadata), so the layer
//!   lists full upload ids.
//!
//! **Reads** of an object with [`SIDECAR_META`] take its late entries from `.objseal/late/<token>`
//! (one more small GET after the ranged GET of the last 4 KiB, which still gives the metadata
//! and length; there is no trailer). A missing sidecar, one failing authentication, one naming
//! another key, or both a
//! trailer and a sidecar, is damage: 500 `InternalError`, never the bytes as stored. Listings
//! describe objects with a multipart ETag (`…-N`) whatever their size. **Copies** of such an
//! object (the layer's in-place metadata copies) get a sidecar of their own under a fresh token
//! before the backend copy; an in-place copy then deletes the old one. **Deletes** look up the
//! object's token (a HEAD) and delete its sidecar after the object.
//!
//! **Garbage** that crashes and races leave, never needed by any object: part and upload
//! sidecars of uploads the backend no longer lists (a gateway died after Complete or Abort),
//! backend uploads without `upload.json` (a gateway died inside Create: the client never got
//! the id; abort them with a lifecycle rule), and late sidecars whose token no current object
//! names (an object overwritten by `PutObject` or another Complete, a failed copy, a failed
//! delete). Found by listing `.objseal/uploads/` against `ListMultipartUploads`, and
//! `.objseal/late/` (each names its key) against a HEAD of that key's `objseal-late`.
//!
//! Limits: concurrent Completes of one upload with *different* part lists on two gateways can
//! leave the object's entries from the losing list: the object is then refused on read
//! (manifest, size or chunk authentication fails), never served wrong. An in-place copy of a
//! multipart object over 5 GiB fails (the backend's `CopyObject` limit).
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
mod health;
mod list;
mod multipart;
mod objects;
mod parts;
mod sidecar;
mod stat;
mod state;
mod trailer;

use std::collections::HashMap;
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
pub use self::sidecar::SIDECAR_META;
pub use self::state::StateKey;
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
    /// What authenticates the gateway's state in the backend ([`RemoteStore::with_state_key`]);
    /// without it, the store refuses to read or write any (500).
    state: Option<Arc<StateKey>>,
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
            .field("state_key", &self.state.as_ref().map(|_| "<redacted>"))
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
            state: None,
        })
    }

    /// The store with `key` authenticating the gateway's state in the backend — sidecars,
    /// bucket configuration, trailers (FORMAT.md §17.5). Every gateway of a fleet needs the same
    /// key: [`Server::start`](crate::server::Server::start) derives it from the root key
    /// ([`gateway_state_key`](crate::server::gateway_state_key)). A store without one refuses
    /// every request that reads or writes such state (500 `InternalError`).
    #[must_use]
    pub fn with_state_key(mut self, key: &[u8; 32]) -> RemoteStore {
        self.state = Some(Arc::new(StateKey::new(key)));
        self
    }

    /// The state key, or a refusal (500) when the store has none.
    fn state_key(&self) -> s3s::S3Result<&StateKey> {
        self.state.as_deref().ok_or_else(|| {
            tracing::error!("the gateway has no state key: its backend state cannot be used");
            errors::internal("The gateway is not configured with a state key.")
        })
    }

    /// What seals and opens the trailer of an object with user metadata `metadata` (bound to its
    /// `objseal-header` entry).
    fn trailer_seal(
        &self,
        metadata: Option<&HashMap<String, String>>,
    ) -> s3s::S3Result<trailer::TrailerSeal> {
        self.state_key()?;
        let key = self
            .state
            .clone()
            .ok_or_else(|| errors::internal("no state key"))?;
        let header = metadata
            .and_then(|m| m.get(trailer::BOUND_META))
            .cloned()
            .unwrap_or_default();
        Ok(trailer::TrailerSeal { key, header })
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
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        self.create_multipart_upload_impl(req).await
    }

    async fn upload_part(
        &self,
        req: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        self.upload_part_impl(req).await
    }

    async fn upload_part_copy(
        &self,
        _req: S3Request<UploadPartCopyInput>,
    ) -> S3Result<S3Response<UploadPartCopyOutput>> {
        // The layer serves UploadPartCopy itself (it reads the source through the store and
        // uploads the re-encrypted range with UploadPart); a backend copy of a part could not
        // re-encrypt it, nor record its sidecar.
        Err(s3_error!(
            NotImplemented,
            "This store does not copy parts itself; UploadPartCopy is served by the SSE layer through UploadPart"
        ))
    }

    async fn list_parts(
        &self,
        req: S3Request<ListPartsInput>,
    ) -> S3Result<S3Response<ListPartsOutput>> {
        self.list_parts_impl(req).await
    }

    async fn list_multipart_uploads(
        &self,
        req: S3Request<ListMultipartUploadsInput>,
    ) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
        self.list_multipart_uploads_impl(req).await
    }

    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        self.complete_multipart_upload_impl(req).await
    }

    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        self.abort_multipart_upload_impl(req).await
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
