//! Buckets: created, listed and deleted in the backend; their configuration (default encryption,
//! blocked encryption types, policy) kept in the bucket as the sidecar object
//! [`BUCKET_CONFIG_KEY`], never as the backend's own bucket encryption or policy.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{BucketLocationConstraint as SdkLocation, CreateBucketConfiguration};
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result, s3_error};

use super::errors::{Subject, backend_error};
use super::state::{Binding, Found, Kind};
use super::{GATEWAY_PREFIX, RemoteStore, from_sdk_time, quoted};
use crate::internal::BlockedEncryptionTypes;
use crate::store::bucket::{
    BucketConfig, SseRule, blocked_from_names, blocked_to_names, rules_from_dto, rules_to_dto,
};
use crate::store::now_ms;

/// The sidecar holding a bucket's configuration, in [`LocalStore`](crate::LocalStore)'s
/// `bucket.json` shape.
pub const BUCKET_CONFIG_KEY: &str = ".objseal/bucket.json";

/// The refusal of a bucket whose stored configuration fails authentication: 403 `AccessDenied`,
/// with [`UnauthenticatedConfig`](crate::internal::UnauthenticatedConfig) as its source, which
/// the layer's policy gate reads as a policy that does not parse.
fn unauthenticated_config() -> S3Error {
    let mut e = S3Error::with_source(
        S3ErrorCode::AccessDenied,
        Box::new(crate::internal::UnauthenticatedConfig),
    );
    e.set_message(
        "The bucket's configuration in the backing store fails authentication; an administrator must replace the bucket policy.",
    );
    e.set_status_code(hyper::StatusCode::FORBIDDEN);
    e
}

/// How often a configuration change is tried again after losing a race with another gateway.
const CONFIG_ATTEMPTS: usize = 5;

impl RemoteStore {
    /// The bucket's configuration (or [`Found::Forged`] when the sidecar fails authentication)
    /// and the sidecar's backend ETag; `None` when it has none. (The tag binds the bucket's
    /// name: a configuration copied or replicated into another bucket fails there.)
    async fn read_config(&self, bucket: &str) -> S3Result<Option<(Found<BucketConfig>, String)>> {
        Ok(self
            .read_sidecar_found::<BucketConfig>(Kind::Bucket, bucket, BUCKET_CONFIG_KEY)
            .await?
            .map(|read| (read.value, read.etag)))
    }

    /// Changes the bucket's configuration: read, changed, written back on the condition that
    /// nobody wrote it meanwhile (`If-Match` on the ETag read, `If-None-Match: *` when there
    /// was none), tried again when another gateway did. A backend that ignores conditional
    /// writes makes the last writer win, as S3's own configuration calls do; one that refuses
    /// them (501) gets an unconditional write.
    ///
    /// A configuration that fails authentication is refused ([`unauthenticated_config`]), but
    /// with `replace_forged` (the policy calls, which the policy gate lets only members of
    /// `admins` make then) it is replaced by a fresh one: nothing of it is kept.
    async fn update_config(
        &self,
        bucket: &str,
        replace_forged: bool,
        change: impl Fn(&mut BucketConfig),
    ) -> S3Result<()> {
        // The ETag a conditional write was last refused on: Ceph RGW 16 compares a PutObject's
        // `If-Match` with the unquoted ETag and refuses the quoted form S3 documents, so a
        // refusal on an ETag that is still current is tried again unquoted.
        let mut refused_on: Option<String> = None;
        for _ in 0..CONFIG_ATTEMPTS {
            let current = self.read_config(bucket).await?;
            let fresh = || BucketConfig {
                name: bucket.to_owned(),
                created: now_ms(),
                encryption: None,
                blocked_encryption_types: Vec::new(),
                policy: None,
            };
            let (mut config, etag) = match current {
                Some((Found::Valid(config), etag)) => (config, Some(etag)),
                Some((Found::Forged, etag)) if replace_forged => {
                    tracing::warn!(
                        bucket,
                        "a bucket configuration that fails authentication is replaced"
                    );
                    (fresh(), Some(etag))
                }
                Some((Found::Forged, _)) => return Err(unauthenticated_config()),
                None => (fresh(), None),
            };
            change(&mut config);
            config.name = bucket.to_owned();
            let json = serde_json::to_vec_pretty(&config).map_err(|_| {
                super::errors::internal("the bucket configuration could not be written")
            })?;
            let json = self.state_key()?.seal(
                Binding::sidecar(Kind::Bucket, bucket, BUCKET_CONFIG_KEY),
                &json,
            );
            let unquoted = etag.is_some() && etag == refused_on;
            let put = |conditional: bool| {
                let mut put = self
                    .inner
                    .clients
                    .calls
                    .put_object()
                    .bucket(bucket)
                    .key(BUCKET_CONFIG_KEY)
                    .content_type("application/json")
                    .body(ByteStream::from(json.clone()));
                if conditional {
                    put = match &etag {
                        Some(etag) if unquoted => put.if_match(etag.clone()),
                        Some(etag) => put.if_match(quoted(etag)),
                        None => put.if_none_match("*"),
                    };
                }
                put.send()
            };
            let answer = match put(true).await {
                Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 501) => {
                    tracing::warn!(
                        bucket,
                        "the backing store refuses conditional writes: the bucket configuration is written unconditionally"
                    );
                    put(false).await
                }
                other => other,
            };
            match answer {
                Ok(_) => return Ok(()),
                Err(e) => {
                    let status = e.raw_response().map(|r| r.status().as_u16());
                    // 412: another gateway changed it; 409: another write was in flight.
                    if matches!(status, Some(412 | 409)) {
                        if status == Some(412) {
                            refused_on.clone_from(&etag);
                        }
                        continue;
                    }
                    let e = backend_error("PutObject", Subject::Object, e);
                    // The sidecar read was deleted meanwhile (If-Match on nothing): read again.
                    if *e.code() == S3ErrorCode::NoSuchKey {
                        continue;
                    }
                    return Err(e);
                }
            }
        }
        Err(S3Error::with_message(
            S3ErrorCode::SlowDown,
            "The bucket configuration is being changed concurrently; please retry.",
        ))
    }

    /// The configuration, if the bucket has one; `NoSuchBucket` when the bucket does not exist
    /// (the backend tells a missing bucket from a missing sidecar: `NoSuchBucket` / `NoSuchKey`).
    /// A configuration that fails authentication is refused ([`unauthenticated_config`]), never
    /// read as none.
    async fn config_of(&self, bucket: &str) -> S3Result<Option<BucketConfig>> {
        match self.read_config(bucket).await? {
            Some((Found::Valid(config), _)) => Ok(Some(config)),
            Some((Found::Forged, _)) => Err(unauthenticated_config()),
            None => Ok(None),
        }
    }

    async fn head_bucket_named(&self, bucket: &str) -> S3Result<()> {
        self.inner
            .clients
            .calls
            .head_bucket()
            .bucket(bucket)
            .send()
            .await
            .map_err(|e| backend_error("HeadBucket", Subject::Bucket, e))?;
        Ok(())
    }

    pub(super) async fn list_buckets_impl(
        &self,
        req: S3Request<ListBucketsInput>,
    ) -> S3Result<S3Response<ListBucketsOutput>> {
        let input = req.input;
        let out = self
            .inner
            .clients
            .calls
            .list_buckets()
            .set_prefix(input.prefix)
            .set_continuation_token(input.continuation_token)
            .set_max_buckets(input.max_buckets)
            .send()
            .await
            .map_err(|e| backend_error("ListBuckets", Subject::Bucket, e))?;
        let buckets = out
            .buckets()
            .iter()
            .map(|b| Bucket {
                name: b.name().map(str::to_owned),
                creation_date: b.creation_date().map(from_sdk_time),
                bucket_region: None,
            })
            .collect();
        Ok(S3Response::new(ListBucketsOutput {
            buckets: Some(buckets),
            continuation_token: out.continuation_token().map(str::to_owned),
            prefix: out.prefix().map(str::to_owned),
            ..Default::default()
        }))
    }

    pub(super) async fn create_bucket_impl(
        &self,
        req: S3Request<CreateBucketInput>,
    ) -> S3Result<S3Response<CreateBucketOutput>> {
        let input = req.input;
        let location = input
            .create_bucket_configuration
            .and_then(|c| c.location_constraint)
            .map(|l| {
                CreateBucketConfiguration::builder()
                    .location_constraint(SdkLocation::from(l.as_str()))
                    .build()
            });
        self.inner
            .clients
            .calls
            .create_bucket()
            .bucket(&input.bucket)
            .set_create_bucket_configuration(location)
            .send()
            .await
            .map_err(|e| backend_error("CreateBucket", Subject::Bucket, e))?;
        Ok(S3Response::new(CreateBucketOutput {
            location: Some(format!("/{}", input.bucket)),
        }))
    }

    pub(super) async fn head_bucket_impl(
        &self,
        req: S3Request<HeadBucketInput>,
    ) -> S3Result<S3Response<HeadBucketOutput>> {
        self.head_bucket_named(&req.input.bucket).await?;
        Ok(S3Response::new(HeadBucketOutput::default()))
    }

    pub(super) async fn get_bucket_location_impl(
        &self,
        req: S3Request<GetBucketLocationInput>,
    ) -> S3Result<S3Response<GetBucketLocationOutput>> {
        let out = self
            .inner
            .clients
            .calls
            .get_bucket_location()
            .bucket(&req.input.bucket)
            .send()
            .await
            .map_err(|e| backend_error("GetBucketLocation", Subject::Bucket, e))?;
        let location_constraint = out
            .location_constraint()
            .map(|l| l.as_str())
            .filter(|l| !l.is_empty())
            .map(|l| BucketLocationConstraint::from(l.to_owned()));
        Ok(S3Response::new(GetBucketLocationOutput {
            location_constraint,
        }))
    }

    /// Deletes a bucket whose only objects are the gateway's: those first (the backend refuses
    /// to delete a bucket that holds any), then the bucket. Should the bucket turn out not to
    /// be empty after all (a write through another gateway in between), its configuration is
    /// written back.
    pub(super) async fn delete_bucket_impl(
        &self,
        req: S3Request<DeleteBucketInput>,
    ) -> S3Result<S3Response<DeleteBucketOutput>> {
        let bucket = req.input.bucket;
        let mut gateway_keys = Vec::new();
        let mut token = None;
        loop {
            let out = self
                .inner
                .clients
                .calls
                .list_objects_v2()
                .bucket(&bucket)
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(|e| backend_error("ListObjectsV2", Subject::Bucket, e))?;
            for key in out.contents().iter().filter_map(|o| o.key()) {
                if !key.starts_with(GATEWAY_PREFIX) {
                    return Err(s3_error!(
                        BucketNotEmpty,
                        "The bucket you tried to delete is not empty"
                    ));
                }
                gateway_keys.push(key.to_owned());
            }
            match out.next_continuation_token() {
                Some(t) if out.is_truncated() == Some(true) => token = Some(t.to_owned()),
                _ => break,
            }
        }
        // (One that fails authentication is not the gateway's: deleted, never written back.)
        let saved = match self.read_config(&bucket).await? {
            Some((Found::Valid(config), _)) => Some(config),
            _ => None,
        };
        for key in &gateway_keys {
            self.inner
                .clients
                .calls
                .delete_object()
                .bucket(&bucket)
                .key(key)
                .send()
                .await
                .map_err(|e| backend_error("DeleteObject", Subject::Object, e))?;
        }
        let deleted = self
            .inner
            .clients
            .calls
            .delete_bucket()
            .bucket(&bucket)
            .send()
            .await;
        if let Err(e) = deleted {
            let e = backend_error("DeleteBucket", Subject::Bucket, e);
            if let Some(config) = saved {
                let restored = self
                    .update_config(&bucket, false, |c| *c = config.clone())
                    .await;
                if let Err(r) = restored {
                    tracing::error!(bucket = %bucket, code = r.code().as_str(),
                        "the bucket configuration could not be written back after a failed delete");
                }
            }
            return Err(e);
        }
        Ok(S3Response::new(DeleteBucketOutput {}))
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
        let names = blocked_to_names(&blocked);
        self.update_config(&input.bucket, false, |c| {
            c.encryption = Some(rules.clone());
            c.blocked_encryption_types.clone_from(&names);
        })
        .await?;
        Ok(S3Response::new(PutBucketEncryptionOutput {}))
    }

    pub(super) async fn get_bucket_encryption_impl(
        &self,
        req: S3Request<GetBucketEncryptionInput>,
    ) -> S3Result<S3Response<GetBucketEncryptionOutput>> {
        let config = self.config_of(&req.input.bucket).await?;
        let Some((rules, blocked)) = config.and_then(|c| {
            let blocked = blocked_from_names(&c.blocked_encryption_types);
            c.encryption.map(|r: Vec<SseRule>| (r, blocked))
        }) else {
            let mut err = s3_error!(
                ServerSideEncryptionConfigurationNotFoundError,
                "The server side encryption configuration was not found"
            );
            err.set_status_code(hyper::StatusCode::NOT_FOUND);
            return Err(err);
        };
        let mut out = S3Response::new(GetBucketEncryptionOutput {
            server_side_encryption_configuration: Some(rules_to_dto(&rules)),
        });
        if !blocked.is_empty() {
            out.extensions.insert(blocked);
        }
        Ok(out)
    }

    pub(super) async fn delete_bucket_encryption_impl(
        &self,
        req: S3Request<DeleteBucketEncryptionInput>,
    ) -> S3Result<S3Response<DeleteBucketEncryptionOutput>> {
        self.update_config(&req.input.bucket, false, |c| {
            c.encryption = None;
            c.blocked_encryption_types.clear();
        })
        .await?;
        Ok(S3Response::new(DeleteBucketEncryptionOutput {}))
    }

    pub(super) async fn put_bucket_policy_impl(
        &self,
        req: S3Request<PutBucketPolicyInput>,
    ) -> S3Result<S3Response<PutBucketPolicyOutput>> {
        let input = req.input;
        self.update_config(&input.bucket, true, |c| {
            c.policy = Some(input.policy.clone());
        })
        .await?;
        Ok(S3Response::new(PutBucketPolicyOutput {}))
    }

    pub(super) async fn get_bucket_policy_impl(
        &self,
        req: S3Request<GetBucketPolicyInput>,
    ) -> S3Result<S3Response<GetBucketPolicyOutput>> {
        let config = self.config_of(&req.input.bucket).await?;
        match config.and_then(|c| c.policy) {
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
        self.update_config(&req.input.bucket, true, |c| c.policy = None)
            .await?;
        Ok(S3Response::new(DeleteBucketPolicyOutput {}))
    }
}
