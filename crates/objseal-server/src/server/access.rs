//! The access gate: every signed request is checked against its bucket's policy before the store
//! sees it, and refused (403 `AccessDenied`) when a statement explicitly denies it.
//!
//! Principals are the server's named users (`arn:aws:iam::000000000000:user/<name>`, see
//! [`crate::principals`]): every principal may do everything with the store, so only a bucket
//! policy's explicit `Deny` restricts it (there are no identity policies to grant less); what an
//! SSE-KMS object's *plaintext* needs besides is the KMS key's permission, which the KMS checks
//! for the same principal. The bucket-policy calls themselves are never refused by a bucket
//! policy, so a policy cannot lock its bucket's users out of changing it.
//!
//! Every decision is appended to the access log `<data>/access.jsonl` (one JSON object per line:
//! time, principal, access key id, operation, action, resource, decision, reason, source, request
//! id); a decision that cannot be logged refuses the request (500), as the KMS's audit log does.

use std::io;
use std::path::Path;
use std::sync::Arc;

use objseal_kms::audit::AuditLog;
use objseal_kms::policy::{Decision, RequestContext};
use objseal_kms::principal::Identity;
use s3s::access::{S3Access, S3AccessContext};
use s3s::path::S3Path;
use s3s::{S3Result, s3_error};
use serde::{Deserialize, Serialize};

pub use crate::principals::ACCOUNT_ID;
use crate::principals::Directory;
use crate::sse::BucketPolicies;

/// The access log's file name inside the data directory.
pub const ACCESS_LOG_FILE: &str = "access.jsonl";

/// One access decision, as the access log records it. Never holds a secret: no signature, no
/// header value but the encryption headers' (which name algorithms and key ids, not keys).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessRecord {
    /// Seconds since the Unix epoch.
    pub time: u64,
    /// The principal's ARN, or `anonymous`.
    pub principal: String,
    /// The access key id that signed the request.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub access_key_id: Option<String>,
    /// The S3 operation (`GetObject`, …).
    pub operation: String,
    /// The IAM action checked (`s3:GetObject`), when the operation has one.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub action: Option<String>,
    /// The resource's ARN (`arn:aws:s3:::bucket/key`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub resource: Option<String>,
    /// `allow` or `deny`.
    pub decision: String,
    /// Why: the bucket policy's verdict (`no bucket policy`, `allowed by the bucket policy`,
    /// `denied by statement …`).
    pub reason: String,
    /// The client's address.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub source: Option<String>,
    /// The request id returned to the client.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub request_id: Option<String>,
}

/// Opens (creating, mode 0600) `<data>/access.jsonl`.
pub(crate) fn open_log(data_dir: &Path) -> Result<Arc<AuditLog>, super::ServerError> {
    let path = data_dir.join(ACCESS_LOG_FILE);
    AuditLog::open(&path).map(Arc::new).map_err(|e| {
        super::ServerError::io(format!("opening the access log {}", path.display()), e)
    })
}

/// Reads every record of an access log, oldest first.
///
/// # Errors
/// The file cannot be read, or a line is not a record.
pub fn read_access_log(path: impl AsRef<Path>) -> io::Result<Vec<AccessRecord>> {
    let text = std::fs::read_to_string(path)?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).map_err(io::Error::other))
        .collect()
}

pub(crate) struct PolicyGate {
    pub(crate) policies: Arc<BucketPolicies>,
    pub(crate) directory: Arc<Directory>,
    pub(crate) log: Arc<AuditLog>,
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

/// What one check is about.
struct Check<'a> {
    identity: &'a Identity,
    access_key_id: &'a str,
    operation: &'a str,
    headers: &'a http::HeaderMap,
    tls: bool,
    source: Option<String>,
    request_id: Option<String>,
}

impl PolicyGate {
    /// Evaluates `bucket`'s policy for `action` on `key` (or the bucket), logs the decision, and
    /// refuses an explicit deny.
    fn decide(
        &self,
        check: &Check<'_>,
        bucket: &str,
        key: Option<&str>,
        action: &str,
    ) -> S3Result<()> {
        let resource = match key {
            Some(key) => format!("arn:aws:s3:::{bucket}/{key}"),
            None => format!("arn:aws:s3:::{bucket}"),
        };
        let (allowed, reason) = match self.policies.get(bucket) {
            None => (true, "no bucket policy".to_owned()),
            Some(policy) => {
                let mut ctx = RequestContext::new(&check.identity.arn, action, &resource)
                    .with_groups(check.identity.groups.iter().cloned())
                    .with("aws:PrincipalArn", &check.identity.arn)
                    .with("aws:username", &check.identity.name)
                    .with(
                        "aws:SecureTransport",
                        if check.tls { "true" } else { "false" },
                    );
                for name in HEADER_CONDITIONS {
                    if let Some(v) = check.headers.get(name).and_then(|v| v.to_str().ok()) {
                        ctx = ctx.with(&format!("s3:{name}"), v);
                    }
                }
                match policy.evaluate(&ctx) {
                    Decision::ExplicitDeny(sid) => (
                        false,
                        format!(
                            "explicitly denied by the bucket policy{}",
                            sid.map(|s| format!(" (statement {s:?})"))
                                .unwrap_or_default()
                        ),
                    ),
                    Decision::Allow => (true, "allowed by the bucket policy".to_owned()),
                    // No identity policies exist to grant less: only a Deny refuses.
                    Decision::ImplicitDeny => (true, "not denied by the bucket policy".to_owned()),
                }
            }
        };
        self.log(check, Some(action), Some(&resource), allowed, &reason)?;
        if allowed {
            Ok(())
        } else {
            tracing::info!(principal = %check.identity.arn, action, resource, reason, "access denied");
            Err(s3_error!(AccessDenied, "Access Denied: {reason}"))
        }
    }

    fn log(
        &self,
        check: &Check<'_>,
        action: Option<&str>,
        resource: Option<&str>,
        allowed: bool,
        reason: &str,
    ) -> S3Result<()> {
        let record = AccessRecord {
            time: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            principal: check.identity.arn.clone(),
            access_key_id: Some(check.access_key_id.to_owned()),
            operation: check.operation.to_owned(),
            action: action.map(str::to_owned),
            resource: resource.map(str::to_owned),
            decision: if allowed { "allow" } else { "deny" }.to_owned(),
            reason: reason.to_owned(),
            source: check.source.clone(),
            request_id: check.request_id.clone(),
        };
        self.log.record_json(&record).map_err(|e| {
            tracing::error!(error = %e, path = %self.log.path().display(), "the access log could not be written");
            s3_error!(InternalError, "The access decision could not be recorded.")
        })
    }
}

#[async_trait::async_trait]
impl S3Access for PolicyGate {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        let Some(credentials) = cx.credentials() else {
            return Err(s3_error!(AccessDenied, "Signature is required"));
        };
        let access_key_id = credentials.access_key.clone();
        let Some(identity) = self.directory.identity(&access_key_id).cloned() else {
            return Err(s3_error!(
                InvalidAccessKeyId,
                "The AWS Access Key Id you provided does not exist in our records."
            ));
        };
        let (tls, source) = cx
            .extensions_mut()
            .get::<crate::internal::Transport>()
            .map_or((false, None), |t| (t.tls, t.peer.map(|p| p.to_string())));
        let request_id = cx
            .extensions_mut()
            .get::<crate::server::RequestId>()
            .map(|r| r.as_str().to_owned());
        let operation = cx.s3_op().name();
        let check = Check {
            identity: &identity,
            access_key_id: &access_key_id,
            operation,
            headers: cx.headers(),
            tls,
            source,
            request_id,
        };
        let Some((action, on_object)) = action_of(operation) else {
            return self.log(&check, None, None, true, "not governed by bucket policies");
        };
        let (bucket, key) = match cx.s3_path() {
            S3Path::Object { bucket, key } => (bucket.to_string(), Some(key.to_string())),
            S3Path::Bucket { bucket } => (bucket.to_string(), on_object.then(|| "*".to_owned())),
            S3Path::Root => return self.log(&check, Some(action), None, true, "no bucket"),
        };
        self.decide(&check, &bucket, key.as_deref(), action)?;
        // A copy also reads its source.
        if let Some(source) = check
            .headers
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
                self.decide(&check, src_bucket, Some(src_key), "s3:GetObject")?;
            }
        }
        Ok(())
    }
}
