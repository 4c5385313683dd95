//! Buckets: their persisted description, their in-memory index, and the bucket operations.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};
use serde::{Deserialize, Serialize};

use super::layout::{
    self, BUCKET_FILE, BUCKETS_DIR, OBJECTS_DIR, TMP_DIR, UPLOADS_DIR, create_dir_once, fsync_dir,
    key_hash, object_paths,
};
use super::object_file::{ObjectMeta, TempFile, read_trailer};
use super::{LocalStore, blocking, internal_error, lock, now_ms, ts_from_ms};
use crate::internal::{BlockedEncryptionTypes, EncryptionType, LATE_SIZE};

/// What `bucket.json` holds.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct BucketConfig {
    pub name: String,
    /// Creation date, milliseconds since the Unix epoch.
    pub created: i64,
    /// The default encryption (`PutBucketEncryption`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<Vec<SseRule>>,
    /// The encryption types the configuration's rule blocks (`BlockedEncryptionTypes`, wire
    /// names), set and cleared with `encryption`. Files from before it load as none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blocked_encryption_types: Vec<String>,
    /// The bucket policy (`PutBucketPolicy`), as the client sent it, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
}

/// One rule of a bucket's default encryption.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct SseRule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sse_algorithm: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_master_key_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket_key_enabled: Option<bool>,
}

/// What listings need to know of an object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct IndexEntry {
    /// The size listings report.
    pub size: u64,
    pub etag: String,
    pub last_modified: i64,
}

impl From<&ObjectMeta> for IndexEntry {
    /// Listings report the size the layer named ([`LATE_SIZE`]), else the stored size.
    fn from(meta: &ObjectMeta) -> Self {
        let size = meta.metadata.get(LATE_SIZE).and_then(|s| s.parse().ok());
        Self {
            size: size.unwrap_or(meta.size),
            etag: meta.etag.clone(),
            last_modified: meta.last_modified,
        }
    }
}

/// The objects of a bucket, sorted by key. Its lock also orders every change to the bucket's
/// directory (object renames and removals, upload creation, bucket deletion).
#[derive(Debug, Default)]
pub(super) struct BucketIndex {
    pub objects: BTreeMap<String, IndexEntry>,
    /// Set, under the lock, when the bucket is deleted: later commits fail with NoSuchBucket.
    pub deleted: bool,
}

/// A bucket, in memory.
#[derive(Debug)]
pub(super) struct BucketState {
    pub name: String,
    pub dir: PathBuf,
    pub created: i64,
    pub index: Mutex<BucketIndex>,
    pub config: Mutex<BucketConfig>,
}

impl BucketState {
    /// Loads a bucket directory: its description and the metadata of every object.
    pub(super) fn load(dir: &Path) -> io::Result<Self> {
        let config: BucketConfig =
            serde_json::from_slice(&fs::read(dir.join(BUCKET_FILE))?).map_err(io::Error::other)?;
        if dir.file_name().and_then(|n| n.to_str()) != Some(config.name.as_str()) {
            return Err(io::Error::other("bucket.json names another bucket"));
        }
        let mut objects = BTreeMap::new();
        for shard in fs::read_dir(dir.join(OBJECTS_DIR))? {
            let shard = shard?;
            if !shard.file_type()?.is_dir() {
                continue;
            }
            for file in fs::read_dir(shard.path())? {
                let file = file?;
                let path = file.path();
                let Some(name) = file.file_name().to_str().map(str::to_owned) else {
                    continue;
                };
                match load_object_meta(&path) {
                    Ok(meta) if key_hash(&meta.key) == name => {
                        objects.insert(meta.key.clone(), IndexEntry::from(&meta));
                    }
                    Ok(_) => {
                        tracing::warn!(path = %path.display(), "object file under a foreign name, skipped")
                    }
                    Err(e) => {
                        tracing::warn!(path = %path.display(), error = %e, "unreadable object file, skipped")
                    }
                }
            }
        }
        let uploads = dir.join(UPLOADS_DIR);
        if create_dir_once(&uploads)? {
            fsync_dir(dir)?;
        }
        Ok(Self {
            name: config.name.clone(),
            dir: dir.to_owned(),
            created: config.created,
            index: Mutex::new(BucketIndex {
                objects,
                deleted: false,
            }),
            config: Mutex::new(config),
        })
    }

    /// The directory of the bucket's multipart uploads.
    pub(super) fn uploads_dir(&self) -> PathBuf {
        self.dir.join(UPLOADS_DIR)
    }

    /// Publishes a finished object file (synced, in `tmp/`) under its key and updates the index,
    /// in one step under the index lock, then syncs the directory. Blocking.
    pub(super) fn commit_object(&self, temp: TempFile, meta: &ObjectMeta) -> S3Result<()> {
        let (shard, path) = object_paths(&self.dir, &meta.key);
        {
            let mut index = lock(&self.index);
            if index.deleted {
                return Err(s3_error!(
                    NoSuchBucket,
                    "The specified bucket does not exist"
                ));
            }
            if create_dir_once(&shard).map_err(internal_error)? {
                fsync_dir(&self.dir.join(OBJECTS_DIR)).map_err(internal_error)?;
            }
            temp.publish(&path).map_err(internal_error)?;
            index
                .objects
                .insert(meta.key.clone(), IndexEntry::from(meta));
        }
        fsync_dir(&shard).map_err(internal_error)
    }

    /// Removes an object, if there is one. Blocking.
    pub(super) fn remove_object(&self, key: &str) -> S3Result<()> {
        let (shard, path) = object_paths(&self.dir, key);
        let removed = {
            let mut index = lock(&self.index);
            if index.deleted {
                return Err(s3_error!(
                    NoSuchBucket,
                    "The specified bucket does not exist"
                ));
            }
            let removed = match fs::remove_file(&path) {
                Ok(()) => true,
                Err(e) if e.kind() == io::ErrorKind::NotFound => false,
                Err(e) => return Err(internal_error(e)),
            };
            index.objects.remove(key);
            removed
        };
        if removed {
            fsync_dir(&shard).map_err(internal_error)?;
        }
        Ok(())
    }

    /// Whether the bucket has multipart uploads in progress.
    fn has_uploads(&self) -> io::Result<bool> {
        match fs::read_dir(self.uploads_dir()) {
            Ok(mut entries) => Ok(entries.next().transpose()?.is_some()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }
}

fn load_object_meta(path: &Path) -> io::Result<ObjectMeta> {
    let mut file = fs::File::open(path)?;
    let (meta, body_len): (ObjectMeta, u64) = read_trailer(&mut file)?;
    if meta.size != body_len {
        return Err(io::Error::other("size mismatch"));
    }
    Ok(meta)
}

/// The stored form of a default-encryption configuration.
pub(super) fn rules_from_dto(config: ServerSideEncryptionConfiguration) -> Vec<SseRule> {
    config
        .rules
        .into_iter()
        .map(|rule| {
            let (sse_algorithm, kms_master_key_id) =
                match rule.apply_server_side_encryption_by_default {
                    Some(d) => (
                        Some(d.sse_algorithm.as_str().to_owned()),
                        d.kms_master_key_id,
                    ),
                    None => (None, None),
                };
            SseRule {
                sse_algorithm,
                kms_master_key_id,
                bucket_key_enabled: rule.bucket_key_enabled,
            }
        })
        .collect()
}

pub(super) fn rules_to_dto(rules: &[SseRule]) -> ServerSideEncryptionConfiguration {
    ServerSideEncryptionConfiguration {
        rules: rules
            .iter()
            .map(|rule| ServerSideEncryptionRule {
                apply_server_side_encryption_by_default: rule.sse_algorithm.as_ref().map(|alg| {
                    ServerSideEncryptionByDefault {
                        sse_algorithm: ServerSideEncryption::from(alg.clone()),
                        kms_master_key_id: rule.kms_master_key_id.clone(),
                    }
                }),
                bucket_key_enabled: rule.bucket_key_enabled,
            })
            .collect(),
    }
}

/// The stored form of blocked encryption types: their wire names.
pub(super) fn blocked_to_names(blocked: &BlockedEncryptionTypes) -> Vec<String> {
    blocked
        .types()
        .iter()
        .map(|t| t.as_str().to_owned())
        .collect()
}

/// Blocked encryption types from their stored names. A name this version does not know (written
/// by a newer one, or by hand) is left out and logged rather than making the bucket unreadable.
pub(super) fn blocked_from_names(names: &[String]) -> BlockedEncryptionTypes {
    BlockedEncryptionTypes::new(names.iter().filter_map(|n| {
        let t = EncryptionType::parse(n);
        if t.is_none() {
            tracing::warn!(name = %n, "unknown blocked encryption type in bucket.json, ignored");
        }
        t
    }))
}

impl LocalStore {
    pub(super) async fn list_buckets_impl(
        &self,
        _req: S3Request<ListBucketsInput>,
    ) -> S3Result<S3Response<ListBucketsOutput>> {
        let buckets: Vec<Bucket> = {
            let map = self.inner.buckets.read().unwrap_or_else(|p| p.into_inner());
            map.values()
                .map(|b| Bucket {
                    name: Some(b.name.clone()),
                    creation_date: Some(ts_from_ms(b.created)),
                    bucket_region: None,
                })
                .collect()
        };
        Ok(S3Response::new(ListBucketsOutput {
            buckets: Some(buckets),
            ..Default::default()
        }))
    }

    pub(super) async fn create_bucket_impl(
        &self,
        req: S3Request<CreateBucketInput>,
    ) -> S3Result<S3Response<CreateBucketOutput>> {
        let name = req.input.bucket;
        if !s3s::path::check_bucket_name(&name) {
            return Err(s3_error!(
                InvalidBucketName,
                "The specified bucket is not valid"
            ));
        }
        let _guard = self.inner.bucket_ops.lock().await;
        if self.bucket(&name).is_ok() {
            return Err(s3_error!(
                BucketAlreadyOwnedByYou,
                "Your previous request to create the named bucket succeeded"
            ));
        }
        let root = self.inner.root.clone();
        let bucket_name = name.clone();
        let state = blocking(move || {
            let config = BucketConfig {
                name: bucket_name.clone(),
                created: now_ms(),
                encryption: None,
                blocked_encryption_types: Vec::new(),
                policy: None,
            };
            let dest = root.join(BUCKETS_DIR).join(&bucket_name);
            let staging = root.join(TMP_DIR).join(format!(
                "{}.new",
                layout::random_hex(16).map_err(internal_error)?
            ));
            let build = || -> io::Result<()> {
                fs::create_dir(&staging)?;
                fs::create_dir(staging.join(OBJECTS_DIR))?;
                fs::create_dir(staging.join(UPLOADS_DIR))?;
                let json = serde_json::to_vec_pretty(&config).map_err(io::Error::other)?;
                let mut file = fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(staging.join(BUCKET_FILE))?;
                io::Write::write_all(&mut file, &json)?;
                file.sync_all()?;
                fsync_dir(&staging.join(OBJECTS_DIR))?;
                fsync_dir(&staging.join(UPLOADS_DIR))?;
                fsync_dir(&staging)?;
                Ok(())
            };
            if let Err(e) = build() {
                let _ = fs::remove_dir_all(&staging);
                return Err(internal_error(e));
            }
            if dest.exists() {
                // A directory the store could not load at open: leave it to the operator.
                let _ = fs::remove_dir_all(&staging);
                return Err(s3_error!(
                    BucketAlreadyExists,
                    "A directory of that name is in the way"
                ));
            }
            if let Err(e) = fs::rename(&staging, &dest) {
                let _ = fs::remove_dir_all(&staging);
                return Err(internal_error(e));
            }
            fsync_dir(&root.join(BUCKETS_DIR)).map_err(internal_error)?;
            Ok(BucketState {
                name: bucket_name,
                dir: dest,
                created: config.created,
                index: Mutex::new(BucketIndex::default()),
                config: Mutex::new(config),
            })
        })
        .await?;
        self.inner
            .buckets
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name.clone(), Arc::new(state));
        Ok(S3Response::new(CreateBucketOutput {
            location: Some(format!("/{name}")),
        }))
    }

    pub(super) async fn delete_bucket_impl(
        &self,
        req: S3Request<DeleteBucketInput>,
    ) -> S3Result<S3Response<DeleteBucketOutput>> {
        let _guard = self.inner.bucket_ops.lock().await;
        let bucket = self.bucket(&req.input.bucket)?;
        let root = self.inner.root.clone();
        let state = Arc::clone(&bucket);
        blocking(move || {
            let mut index = lock(&state.index);
            if !index.objects.is_empty() || state.has_uploads().map_err(internal_error)? {
                return Err(s3_error!(
                    BucketNotEmpty,
                    "The bucket you tried to delete is not empty"
                ));
            }
            if let Err(e) = layout::remove_dir_atomic(&root, &state.dir) {
                if state.dir.exists() {
                    return Err(internal_error(e));
                }
                // Moved away but not synced: gone all the same.
                tracing::warn!(bucket = %state.name, error = %e, "bucket removal not synced");
            }
            index.deleted = true;
            Ok(())
        })
        .await?;
        self.inner
            .buckets
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&bucket.name);
        Ok(S3Response::new(DeleteBucketOutput {}))
    }

    /// Replaces the bucket's default encryption and its blocked encryption types, in one write.
    async fn set_encryption(
        &self,
        bucket: &str,
        rules: Option<Vec<SseRule>>,
        blocked: &BlockedEncryptionTypes,
    ) -> S3Result<()> {
        let blocked = blocked_to_names(blocked);
        self.update_config(bucket, move |c| {
            c.encryption = rules;
            c.blocked_encryption_types = blocked;
        })
        .await
    }

    async fn set_policy(&self, bucket: &str, policy: Option<String>) -> S3Result<()> {
        self.update_config(bucket, move |c| c.policy = policy).await
    }

    /// Changes `bucket.json` atomically (written beside, renamed over) and then the live copy.
    async fn update_config(
        &self,
        bucket: &str,
        change: impl FnOnce(&mut BucketConfig) + Send + 'static,
    ) -> S3Result<()> {
        let state = self.bucket(bucket)?;
        let root = self.inner.root.clone();
        blocking(move || {
            let mut config = lock(&state.config);
            let mut new = config.clone();
            change(&mut new);
            let json = serde_json::to_vec_pretty(&new).map_err(internal_error)?;
            let index = lock(&state.index);
            if index.deleted {
                return Err(s3_error!(
                    NoSuchBucket,
                    "The specified bucket does not exist"
                ));
            }
            layout::write_file_atomic(&root, &state.dir.join(BUCKET_FILE), &json)
                .map_err(internal_error)?;
            drop(index);
            *config = new;
            Ok(())
        })
        .await
    }

    pub(super) async fn put_bucket_encryption_impl(
        &self,
        req: S3Request<PutBucketEncryptionInput>,
    ) -> S3Result<S3Response<PutBucketEncryptionOutput>> {
        let blocked = req
            .extensions
            .get::<BlockedEncryptionTypes>()
            .cloned()
            .unwrap_or_default();
        let input = req.input;
        let rules = rules_from_dto(input.server_side_encryption_configuration);
        self.set_encryption(&input.bucket, Some(rules), &blocked)
            .await?;
        Ok(S3Response::new(PutBucketEncryptionOutput {}))
    }

    pub(super) async fn get_bucket_encryption_impl(
        &self,
        req: S3Request<GetBucketEncryptionInput>,
    ) -> S3Result<S3Response<GetBucketEncryptionOutput>> {
        let state = self.bucket(&req.input.bucket)?;
        let (rules, blocked) = {
            let config = lock(&state.config);
            (
                config.encryption.clone(),
                blocked_from_names(&config.blocked_encryption_types),
            )
        };
        match rules {
            Some(rules) => {
                let mut out = S3Response::new(GetBucketEncryptionOutput {
                    server_side_encryption_configuration: Some(rules_to_dto(&rules)),
                });
                if !blocked.is_empty() {
                    out.extensions.insert(blocked);
                }
                Ok(out)
            }
            None => {
                let mut err = s3_error!(
                    ServerSideEncryptionConfigurationNotFoundError,
                    "The server side encryption configuration was not found"
                );
                err.set_status_code(hyper::StatusCode::NOT_FOUND);
                Err(err)
            }
        }
    }

    pub(super) async fn put_bucket_policy_impl(
        &self,
        req: S3Request<PutBucketPolicyInput>,
    ) -> S3Result<S3Response<PutBucketPolicyOutput>> {
        self.set_policy(&req.input.bucket, Some(req.input.policy))
            .await?;
        Ok(S3Response::new(PutBucketPolicyOutput {}))
    }

    pub(super) async fn get_bucket_policy_impl(
        &self,
        req: S3Request<GetBucketPolicyInput>,
    ) -> S3Result<S3Response<GetBucketPolicyOutput>> {
        let state = self.bucket(&req.input.bucket)?;
        let policy = lock(&state.config).policy.clone();
        match policy {
            Some(policy) => Ok(S3Response::new(GetBucketPolicyOutput {
                policy: Some(policy),
            })),
            None => {
                let mut err = s3_error!(NoSuchBucketPolicy, "The bucket policy does not exist");
                err.set_status_code(hyper::StatusCode::NOT_FOUND);
                Err(err)
            }
        }
    }

    pub(super) async fn delete_bucket_policy_impl(
        &self,
        req: S3Request<DeleteBucketPolicyInput>,
    ) -> S3Result<S3Response<DeleteBucketPolicyOutput>> {
        self.set_policy(&req.input.bucket, None).await?;
        Ok(S3Response::new(DeleteBucketPolicyOutput {}))
    }

    pub(super) async fn delete_bucket_encryption_impl(
        &self,
        req: S3Request<DeleteBucketEncryptionInput>,
    ) -> S3Result<S3Response<DeleteBucketEncryptionOutput>> {
        self.set_encryption(&req.input.bucket, None, &BlockedEncryptionTypes::default())
            .await?;
        Ok(S3Response::new(DeleteBucketEncryptionOutput {}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sse_rules_round_trip() {
        let rules = vec![
            SseRule {
                sse_algorithm: Some("aws:kms".into()),
                kms_master_key_id: Some("key-1".into()),
                bucket_key_enabled: Some(true),
            },
            SseRule {
                sse_algorithm: Some("AES256".into()),
                kms_master_key_id: None,
                bucket_key_enabled: None,
            },
        ];
        assert_eq!(rules_from_dto(rules_to_dto(&rules)), rules);
    }

    #[test]
    fn bucket_files_from_before_blocked_types_load() {
        let old = br#"{"name":"b","created":1,"encryption":[{"sse_algorithm":"AES256"}]}"#;
        let config: BucketConfig = serde_json::from_slice(old).unwrap();
        assert!(config.blocked_encryption_types.is_empty());
        // Nothing blocked: nothing written either, so older versions read the file unchanged.
        let json = serde_json::to_string(&config).unwrap();
        assert!(!json.contains("blocked"), "{json}");
    }

    #[test]
    fn blocked_names_round_trip_and_unknown_ones_are_left_out() {
        let blocked = BlockedEncryptionTypes::new([EncryptionType::SseC, EncryptionType::None]);
        let names = blocked_to_names(&blocked);
        assert_eq!(names, ["SSE-C", "NONE"]);
        assert_eq!(blocked_from_names(&names), blocked);
        let with_unknown = ["SSE-X".to_owned(), "SSE-C".to_owned()];
        assert_eq!(
            blocked_from_names(&with_unknown),
            BlockedEncryptionTypes::new([EncryptionType::SseC])
        );
    }

    fn req<T>(input: T) -> S3Request<T> {
        crate::sse::bare_request(input)
    }

    async fn get(store: &LocalStore) -> S3Result<S3Response<GetBucketEncryptionOutput>> {
        store
            .get_bucket_encryption_impl(req(GetBucketEncryptionInput {
                bucket: "bkt".into(),
                expected_bucket_owner: None,
            }))
            .await
    }

    /// The blocked types ride in the extensions both ways, survive a reopen, are replaced by the
    /// next `PutBucketEncryption` and dropped by `DeleteBucketEncryption`.
    #[tokio::test]
    async fn blocked_types_are_kept_with_the_configuration() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(dir.path()).unwrap();
        store
            .create_bucket_impl(req(CreateBucketInput {
                bucket: "bkt".into(),
                ..Default::default()
            }))
            .await
            .unwrap();
        let config = ServerSideEncryptionConfiguration {
            rules: vec![ServerSideEncryptionRule {
                apply_server_side_encryption_by_default: Some(ServerSideEncryptionByDefault {
                    sse_algorithm: ServerSideEncryption::from_static(ServerSideEncryption::AES256),
                    kms_master_key_id: None,
                }),
                bucket_key_enabled: None,
            }],
        };
        let put = |blocked: Option<BlockedEncryptionTypes>| {
            let mut r = req(PutBucketEncryptionInput {
                bucket: "bkt".into(),
                checksum_algorithm: None,
                content_md5: None,
                expected_bucket_owner: None,
                server_side_encryption_configuration: config.clone(),
            });
            if let Some(b) = blocked {
                r.extensions.insert(b);
            }
            r
        };
        let ssec = BlockedEncryptionTypes::new([EncryptionType::SseC]);
        store
            .put_bucket_encryption_impl(put(Some(ssec.clone())))
            .await
            .unwrap();
        let got = get(&store).await.unwrap();
        assert_eq!(got.extensions.get::<BlockedEncryptionTypes>(), Some(&ssec));
        drop(store);

        let store = LocalStore::open(dir.path()).unwrap();
        let got = get(&store).await.unwrap();
        assert_eq!(got.extensions.get::<BlockedEncryptionTypes>(), Some(&ssec));
        assert_eq!(
            got.output.server_side_encryption_configuration,
            Some(config.clone())
        );
        // A configuration without the list replaces the one with it.
        store.put_bucket_encryption_impl(put(None)).await.unwrap();
        let got = get(&store).await.unwrap();
        assert!(got.extensions.get::<BlockedEncryptionTypes>().is_none());

        store
            .put_bucket_encryption_impl(put(Some(ssec)))
            .await
            .unwrap();
        store
            .delete_bucket_encryption_impl(req(DeleteBucketEncryptionInput {
                bucket: "bkt".into(),
                expected_bucket_owner: None,
            }))
            .await
            .unwrap();
        assert!(get(&store).await.is_err());
        let json =
            std::fs::read_to_string(dir.path().join(BUCKETS_DIR).join("bkt").join(BUCKET_FILE))
                .unwrap();
        assert!(!json.contains("blocked"), "{json}");
    }
}
