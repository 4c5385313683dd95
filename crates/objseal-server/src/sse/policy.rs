//! Bucket policies: validated when set (AWS's `MalformedPolicy` otherwise), kept by the inner store
//! as sent, and held parsed in [`BucketPolicies`] for the access gate (`server::access`), which
//! refuses what a policy explicitly denies.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use objseal_kms::policy::Policy;
use s3s::dto::{
    DeleteBucketInput, DeleteBucketOutput, DeleteBucketPolicyInput, DeleteBucketPolicyOutput,
    GetBucketPolicyInput, ListBucketsInput, PutBucketPolicyInput, PutBucketPolicyOutput,
};
use s3s::{S3, S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

use super::SseLayer;

/// The largest bucket policy Amazon S3 accepts (20 KiB).
pub const MAX_BUCKET_POLICY_LEN: usize = 20 * 1024;

/// The S3 actions a bucket policy may name.
pub const S3_ACTIONS: &[&str] = &[
    "s3:GetObject",
    "s3:PutObject",
    "s3:DeleteObject",
    "s3:ListBucket",
    "s3:ListBucketMultipartUploads",
    "s3:ListMultipartUploadParts",
    "s3:AbortMultipartUpload",
    "s3:CreateBucket",
    "s3:DeleteBucket",
    "s3:ListAllMyBuckets",
    "s3:GetBucketLocation",
    "s3:GetEncryptionConfiguration",
    "s3:PutEncryptionConfiguration",
    "s3:GetBucketPolicy",
    "s3:PutBucketPolicy",
    "s3:DeleteBucketPolicy",
    "s3:GetObjectAttributes",
];

/// The parsed policy of every bucket that has one, shared by the layer (which changes it) and the
/// access gate (which reads it). One server's view: servers sharing a store each load it at start.
#[derive(Debug, Default)]
pub struct BucketPolicies(RwLock<HashMap<String, Arc<Policy>>>);

impl BucketPolicies {
    /// The policy of `bucket`, if any.
    pub fn get(&self, bucket: &str) -> Option<Arc<Policy>> {
        self.0
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(bucket)
            .cloned()
    }

    fn set(&self, bucket: &str, policy: Option<Policy>) {
        let mut map = self
            .0
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match policy {
            Some(p) => map.insert(bucket.to_owned(), Arc::new(p)),
            None => map.remove(bucket),
        };
    }
}

fn parse(document: &str) -> Result<Policy, S3Error> {
    Policy::parse(document, S3_ACTIONS, MAX_BUCKET_POLICY_LEN)
        .map_err(|e| S3Error::with_message(S3ErrorCode::MalformedPolicy, e.message().to_owned()))
}

impl<S: S3> SseLayer<S> {
    /// The shared policies, for the access gate.
    pub fn bucket_policies(&self) -> Arc<BucketPolicies> {
        Arc::clone(&self.policies)
    }

    /// Reads every bucket's policy from the inner store (at start).
    ///
    /// # Errors
    /// The store's, or `MalformedPolicy` for a stored policy that no longer parses.
    pub async fn load_bucket_policies(&self) -> S3Result<()> {
        let buckets = self
            .inner
            .list_buckets(super::bare_request(ListBucketsInput::default()))
            .await?
            .output
            .buckets
            .unwrap_or_default();
        for bucket in buckets.into_iter().filter_map(|b| b.name) {
            let input = GetBucketPolicyInput {
                bucket: bucket.clone(),
                expected_bucket_owner: None,
            };
            match self
                .inner
                .get_bucket_policy(super::bare_request(input))
                .await
            {
                Ok(out) => {
                    if let Some(doc) = out.output.policy {
                        self.policies.set(&bucket, Some(parse(&doc)?));
                    }
                }
                Err(e) if *e.code() == S3ErrorCode::NoSuchBucketPolicy => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    pub(crate) async fn put_policy(
        &self,
        req: S3Request<PutBucketPolicyInput>,
    ) -> S3Result<S3Response<PutBucketPolicyOutput>> {
        let policy = parse(&req.input.policy)?;
        let bucket = req.input.bucket.clone();
        let out = self.inner.put_bucket_policy(req).await?;
        self.policies.set(&bucket, Some(policy));
        Ok(out)
    }

    pub(crate) async fn delete_policy(
        &self,
        req: S3Request<DeleteBucketPolicyInput>,
    ) -> S3Result<S3Response<DeleteBucketPolicyOutput>> {
        let bucket = req.input.bucket.clone();
        let out = self.inner.delete_bucket_policy(req).await?;
        self.policies.set(&bucket, None);
        Ok(out)
    }

    /// Deletes a bucket and forgets its policy, which the store deleted with it: a bucket made
    /// again under the same name starts without one, here as after a restart.
    pub(crate) async fn delete_bucket_and_policy(
        &self,
        mut req: S3Request<DeleteBucketInput>,
    ) -> S3Result<S3Response<DeleteBucketOutput>> {
        super::put::scrub_headers(&mut req.headers);
        let bucket = req.input.bucket.clone();
        let out = self.inner.delete_bucket(req).await?;
        self.policies.set(&bucket, None);
        Ok(out)
    }
}
