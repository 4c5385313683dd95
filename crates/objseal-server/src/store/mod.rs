//! The embedded inner store: a local directory.
//!
//! [`LocalStore`] implements [`s3s::S3`] and stores what it is given — it knows no cryptography.
//! The [`SseLayer`](crate::SseLayer) wraps it and hands it ciphertext bodies plus internal
//! metadata (see [`internal`](crate::internal)); it keeps metadata verbatim and honours
//! [`LateMetadata`](crate::internal::LateMetadata) on `PutObject`, `UploadPart` and
//! `CompleteMultipartUpload` (also on `CopyObject`): the entries are taken once the body has been
//! read and published with the object in the same rename. An
//! [`objseal-etag`](crate::internal::LATE_ETAG) entry is the ETag recorded and reported (responses,
//! listings, `ListParts`) — with `LateMetadata` present the store does not hash the body, and a
//! write whose slot names no ETag fails — and [`objseal-size`](crate::internal::LATE_SIZE) is the
//! size listings report. Without `LateMetadata`, ETags are the MD5 of the stored bytes (`<hex>-N`
//! for a multipart object: the MD5 of the parts' binary MD5s). A body stream that ends in an
//! error stores nothing and the error is returned, as the `S3Error` it carries if it carries one.
//!
//! # Durability
//!
//! Every write goes to a temporary file under `<root>/tmp/`, is synced, renamed into place and
//! its directory synced. An object is a single file holding its body, then its metadata, then a
//! footer (see `object_file.rs`), so one rename publishes both: a crash at any point leaves either
//! the old object or the new one, never a partial one. Temporary files left by a crash are removed
//! at [`LocalStore::open`].
//!
//! # Layout
//!
//! ```text
//! <root>/tmp/                                        temporary files (emptied at open)
//! <root>/buckets/<bucket>/bucket.json                creation date, default encryption
//! <root>/buckets/<bucket>/objects/<hh>/<sha256(key)> one file per object
//! <root>/buckets/<bucket>/uploads/<id>/upload.json   a multipart upload's key and metadata
//! <root>/buckets/<bucket>/uploads/<id>/part-NNNNN    its parts (same file format as objects)
//! ```
//!
//! Listings are answered from an in-memory sorted index per bucket, rebuilt at open from the
//! objects' own metadata, which stays the source of truth.

mod bucket;
mod layout;
mod list;
mod multipart;
mod object;
mod object_file;
pub mod remote;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use s3s::dto::*;
use s3s::{S3, S3Error, S3ErrorCode, S3Request, S3Response, S3Result, s3_error};
use time::OffsetDateTime;

pub use self::remote::{BackendCredentials, RemoteStore, RemoteStoreConfig};

use self::bucket::BucketState;
use self::layout::{BUCKETS_DIR, TMP_DIR};

/// A local directory holding buckets and objects: the embedded inner store.
///
/// Cheap to clone (the state is shared); see the [module documentation](self) for the on-disk
/// layout and the durability guarantees.
#[derive(Clone)]
pub struct LocalStore {
    inner: Arc<Inner>,
}

struct Inner {
    root: PathBuf,
    buckets: RwLock<BTreeMap<String, Arc<BucketState>>>,
    /// Serialises bucket creation and deletion.
    bucket_ops: tokio::sync::Mutex<()>,
    /// Uploads being completed or aborted: a second such call on one upload waits for none and
    /// is refused, so an Abort can never report success while a Complete publishes the object.
    uploads_busy: std::sync::Mutex<std::collections::HashSet<String>>,
}

impl fmt::Debug for LocalStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalStore")
            .field("root", &self.inner.root)
            .finish_non_exhaustive()
    }
}

impl LocalStore {
    /// Opens the store in `root`, creating the directory if needed.
    ///
    /// Removes what a crash may have left in the temporary directory and rebuilds the listing
    /// index of every bucket from the objects' metadata. Unreadable object files are skipped
    /// (and logged), not fatal.
    ///
    /// # Errors
    ///
    /// When the directories cannot be created or read.
    pub fn open(root: impl Into<PathBuf>) -> io::Result<LocalStore> {
        let root = root.into();
        fs::create_dir_all(&root)?;
        let tmp = root.join(TMP_DIR);
        let buckets_dir = root.join(BUCKETS_DIR);
        let mut created = layout::create_dir_once(&tmp)?;
        created |= layout::create_dir_once(&buckets_dir)?;
        if created {
            layout::fsync_dir(&root)?;
        }

        for entry in fs::read_dir(&tmp)? {
            let path = entry?.path();
            if let Err(e) = layout::remove_any(&path) {
                tracing::warn!(path = %path.display(), error = %e, "cannot remove a temporary file");
            }
        }

        let mut buckets = BTreeMap::new();
        for entry in fs::read_dir(&buckets_dir)? {
            let entry = entry?;
            if !entry.file_type()?.is_dir() {
                continue;
            }
            let path = entry.path();
            match BucketState::load(&path) {
                Ok(state) => {
                    buckets.insert(state.name.clone(), Arc::new(state));
                }
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "skipping an unreadable bucket");
                }
            }
        }

        Ok(LocalStore {
            inner: Arc::new(Inner {
                root,
                buckets: RwLock::new(buckets),
                bucket_ops: tokio::sync::Mutex::new(()),
                uploads_busy: Default::default(),
            }),
        })
    }

    /// The directory the store lives in.
    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    /// The state of an existing bucket.
    fn bucket(&self, name: &str) -> S3Result<Arc<BucketState>> {
        let buckets = self.inner.buckets.read().unwrap_or_else(|p| p.into_inner());
        buckets
            .get(name)
            .cloned()
            .ok_or_else(|| s3_error!(NoSuchBucket, "The specified bucket does not exist"))
    }
}

/// An internal error with its source, logged.
fn internal_error<E>(e: E) -> S3Error
where
    E: std::error::Error + Send + Sync + 'static,
{
    tracing::error!(error = %e, "local store error");
    S3Error::with_source(S3ErrorCode::InternalError, Box::new(e))
}

/// Runs file-system work on the blocking pool.
async fn blocking<T, F>(f: F) -> S3Result<T>
where
    F: FnOnce() -> S3Result<T> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(internal_error)?
}

/// Locks a mutex, poisoned or not (the data it guards stays consistent across a panic).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Now, in milliseconds since the Unix epoch.
fn now_ms() -> i64 {
    i64::try_from(OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// A timestamp from milliseconds since the Unix epoch.
fn ts_from_ms(ms: i64) -> Timestamp {
    let odt = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    Timestamp::from(odt)
}

/// Milliseconds since the Unix epoch of a timestamp.
fn ms_from_ts(ts: &Timestamp) -> i64 {
    let odt: OffsetDateTime = ts.clone().into();
    let ms = odt.unix_timestamp_nanos().div_euclid(1_000_000);
    i64::try_from(ms).unwrap_or(if ms < 0 { i64::MIN } else { i64::MAX })
}

/// Checks an object key's length.
fn check_key(key: &str) -> S3Result<()> {
    if key.len() > layout::MAX_KEY_LEN {
        return Err(s3_error!(KeyTooLongError, "Your key is too long"));
    }
    Ok(())
}

#[async_trait::async_trait]
impl S3 for LocalStore {
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
        self.bucket(&req.input.bucket)?;
        Ok(S3Response::new(HeadBucketOutput::default()))
    }

    async fn get_bucket_location(
        &self,
        req: S3Request<GetBucketLocationInput>,
    ) -> S3Result<S3Response<GetBucketLocationOutput>> {
        self.bucket(&req.input.bucket)?;
        Ok(S3Response::new(GetBucketLocationOutput::default()))
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

    async fn delete_bucket_encryption(
        &self,
        req: S3Request<DeleteBucketEncryptionInput>,
    ) -> S3Result<S3Response<DeleteBucketEncryptionOutput>> {
        self.delete_bucket_encryption_impl(req).await
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
