//! The access gate: every signed request is checked against its bucket's policy before the store
//! sees it, and refused (403 `AccessDenied`) when a statement explicitly denies it.
//!
//! Principals are `arn:aws:iam::000000000000:user/<access key id>` for now: every known access key
//! may do everything, so only a bucket policy's explicit `Deny` restricts it (there are no identity
//! policies to grant less). The bucket-policy calls themselves are never refused by a bucket policy,
//! so a policy cannot lock its bucket's users out of changing it.

use std::sync::Arc;

use objseal_kms::policy::{Decision, RequestContext};
use s3s::access::{S3Access, S3AccessContext};
use s3s::path::S3Path;
use s3s::{S3Result, s3_error};

use crate::sse::BucketPolicies;

/// The account every principal belongs to.
pub const ACCOUNT_ID: &str = "000000000000";

/// The principal ARN of an access key.
pub fn principal_arn(access_key: &str) -> String {
    format!("arn:aws:iam::{ACCOUNT_ID}:user/{access_key}")
}

pub(crate) struct PolicyGate {
    pub(crate) policies: Arc<BucketPolicies>,
}

/// The IAM action of an S3 operation, and whether it acts on an object (else on the bucket).
/// `None`: not governed by bucket policies.
fn action_of(op: &str) -> Option<(&'static str, bool)> {
    Some(match op {
        "GetObject" | "HeadObject" | "GetObjectAttributes" => ("s3:GetObject", true),
        "PutObject"
        | "PostObject"
        | "CreateMultipartUpload"
        | "UploadPart"
        | "UploadPartCopy"
        | "CompleteMultipartUpload"
        | "CopyObject" => ("s3:PutObject", true),
        "DeleteObject" | "DeleteObjects" => ("s3:DeleteObject", true),
        "AbortMultipartUpload" => ("s3:AbortMultipartUpload", true),
        "ListParts" => ("s3:ListMultipartUploadParts", true),
        "ListObjects" | "ListObjectsV2" | "HeadBucket" => ("s3:ListBucket", false),
        "ListMultipartUploads" => ("s3:ListBucketMultipartUploads", false),
        "GetBucketLocation" => ("s3:GetBucketLocation", false),
        "GetBucketEncryption" => ("s3:GetEncryptionConfiguration", false),
        "PutBucketEncryption" | "DeleteBucketEncryption" => {
            ("s3:PutEncryptionConfiguration", false)
        }
        "DeleteBucket" => ("s3:DeleteBucket", false),
        _ => return None,
    })
}

/// The request headers that S3's encryption condition keys read.
const HEADER_CONDITIONS: [&str; 3] = [
    "x-amz-server-side-encryption",
    "x-amz-server-side-encryption-aws-kms-key-id",
    "x-amz-server-side-encryption-customer-algorithm",
];

impl PolicyGate {
    fn decide(
        &self,
        bucket: &str,
        key: Option<&str>,
        action: &str,
        principal: &str,
        headers: &http::HeaderMap,
        tls: bool,
    ) -> S3Result<()> {
        let Some(policy) = self.policies.get(bucket) else {
            return Ok(());
        };
        let resource = match key {
            Some(key) => format!("arn:aws:s3:::{bucket}/{key}"),
            None => format!("arn:aws:s3:::{bucket}"),
        };
        let mut ctx = RequestContext::new(principal, action, &resource);
        for name in HEADER_CONDITIONS {
            if let Some(v) = headers.get(name).and_then(|v| v.to_str().ok()) {
                ctx = ctx.with(&format!("s3:{name}"), v);
            }
        }
        ctx = ctx.with("aws:SecureTransport", if tls { "true" } else { "false" });
        match policy.evaluate(&ctx) {
            Decision::ExplicitDeny(sid) => {
                tracing::info!(principal, action, resource, sid = ?sid, "denied by the bucket policy");
                Err(s3_error!(
                    AccessDenied,
                    "Access Denied: explicitly denied by the bucket policy{}",
                    sid.map(|s| format!(" (statement {s:?})"))
                        .unwrap_or_default()
                ))
            }
            _ => Ok(()),
        }
    }
}

#[async_trait::async_trait]
impl S3Access for PolicyGate {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        let Some(credentials) = cx.credentials() else {
            return Err(s3_error!(AccessDenied, "Signature is required"));
        };
        let principal = principal_arn(&credentials.access_key);
        let tls = cx
            .extensions_mut()
            .get::<crate::internal::Transport>()
            .is_some_and(|t| t.tls);
        let Some((action, on_object)) = action_of(cx.s3_op().name()) else {
            return Ok(());
        };
        let (bucket, key) = match cx.s3_path() {
            S3Path::Object { bucket, key } => (bucket.to_string(), Some(key.to_string())),
            S3Path::Bucket { bucket } => (bucket.to_string(), on_object.then(|| "*".to_owned())),
            S3Path::Root => return Ok(()),
        };
        let headers = cx.headers();
        self.decide(&bucket, key.as_deref(), action, &principal, headers, tls)?;
        // A copy also reads its source.
        if let Some(source) = headers
            .get("x-amz-copy-source")
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                percent_encoding::percent_decode_str(v)
                    .decode_utf8_lossy()
                    .into_owned()
            })
        {
            let source = source.trim_start_matches('/');
            let source = source.split('?').next().unwrap_or(source);
            if let Some((src_bucket, src_key)) = source.split_once('/') {
                self.decide(
                    src_bucket,
                    Some(src_key),
                    "s3:GetObject",
                    &principal,
                    headers,
                    tls,
                )?;
            }
        }
        Ok(())
    }
}
