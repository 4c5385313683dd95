//! The access gate: every signed request is checked against its bucket's policy before the store
//! sees it, and refused (403 `AccessDenied`) when a statement explicitly denies it.
//!
//! Principals are the server's named users (`arn:aws:iam::000000000000:user/<name>`, see
//! [`crate::principals`]): every principal may do everything with the store, so only a bucket
//! policy's explicit `Deny` restricts it (there are no identity policies to grant less); what an
//! SSE-KMS object's *plaintext* needs besides is the KMS key's permission, which the KMS checks
//! for the same principal.
//!
//! What is checked, per operation (`action_of`):
//!
//! * **Objects**: the action on `arn:aws:s3:::<bucket>/<key>`. A copy (`CopyObject`,
//!   `UploadPartCopy`) also needs `s3:GetObject` on its source, read from `x-amz-copy-source` by
//!   s3s's own parser ([`CopySource::parse`]) so that the key checked is the key copied; a source
//!   that is not `<bucket>/<key>` (an access point or Outposts ARN) is refused.
//! * **`DeleteObjects`** names its keys in the body, which the gate does not see: it hands the
//!   decision to the SSE layer in the request's extensions (`DeferredCheck`), which checks
//!   `s3:DeleteObject` on each key, answers a denied key with a per-key `AccessDenied` (as
//!   Amazon S3 does) and deletes the others.
//! * **Buckets**: the action on `arn:aws:s3:::<bucket>` — listing, `HeadBucket`, `CreateBucket`,
//!   `DeleteBucket`, the encryption configuration, and the bucket policy itself
//!   (`s3:GetBucketPolicy`, `s3:PutBucketPolicy`, `s3:DeleteBucketPolicy`): a policy binds
//!   whoever may change it too.
//! * **Administrators.** So that a policy cannot lock its bucket's owners out (Amazon S3 exempts
//!   the account's root user; there is none here), members of the group [`ADMINS_GROUP`]
//!   (`arn:aws:iam::000000000000:group/admins`) are never refused the three bucket-policy actions
//!   by a `Deny`, and only those: every other action binds them as anyone.
//! * `ListBuckets` (`s3:ListAllMyBuckets`) names no bucket and is never refused; an operation
//!   that is not listed is refused (`NotImplemented`, what the layer answers for it anyway), so
//!   that an operation added later cannot slip past the gate unmapped.
//!
//! **Where the policies come from.** The gate looks each bucket's policy up in the inner store
//! ([`BucketPolicies::lookup`]) when a request needs it — nothing is read at start — and keeps
//! it parsed: a local store's until this server changes it, a gateway's backing store's (which
//! other gateways change) for at most [`SHARED_POLICY_TTL`](crate::sse::SHARED_POLICY_TTL) (one
//! second). It fails closed: a store that cannot be read refuses the request with the store's
//! error (`503 SlowDown`, `500 InternalError`), and a stored policy that does not parse refuses
//! every request to its bucket (`403 AccessDenied`, logged) but the bucket-policy calls of
//! [`ADMINS_GROUP`], which can replace it. `DeleteObjects` and `PostObject` keys are decided
//! against the policy the gate looked up for the request.
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
use s3s::dto::CopySource;
use s3s::path::S3Path;
use s3s::{S3Error, S3Result, s3_error};
use serde::{Deserialize, Serialize};

pub use crate::principals::ACCOUNT_ID;
use crate::principals::Directory;
use crate::sse::{BucketPolicies, PolicyState};

/// The group whose members a bucket policy cannot refuse the bucket-policy calls (they stand in
/// for Amazon S3's account root user): `arn:aws:iam::000000000000:group/admins`.
pub const ADMINS_GROUP: &str = "admins";

/// The actions members of [`ADMINS_GROUP`] are never denied.
const POLICY_ACTIONS: [&str; 3] = [
    "s3:GetBucketPolicy",
    "s3:PutBucketPolicy",
    "s3:DeleteBucketPolicy",
];

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

/// What an operation's action applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    /// The bucket: `arn:aws:s3:::<bucket>`.
    Bucket,
    /// The object in the path: `arn:aws:s3:::<bucket>/<key>` (`<bucket>/*` where the path names
    /// no key).
    Object,
    /// The keys the body names, each checked by the SSE layer ([`DeferredCheck`]).
    BodyKeys,
}

/// The IAM action of an S3 operation, and what it applies to. `None`: not an operation of this
/// server (refused).
fn action_of(op: &str) -> Option<(&'static str, Target)> {
    use Target::{BodyKeys, Bucket, Object};
    Some(match op {
        "GetObject" | "HeadObject" | "GetObjectAttributes" => ("s3:GetObject", Object),
        // A form upload's key and encryption are form fields, in the body.
        "PostObject" => ("s3:PutObject", BodyKeys),
        "PutObject"
        | "CreateMultipartUpload"
        | "UploadPart"
        | "UploadPartCopy"
        | "CompleteMultipartUpload"
        | "CopyObject" => ("s3:PutObject", Object),
        "DeleteObject" => ("s3:DeleteObject", Object),
        "DeleteObjects" => ("s3:DeleteObject", BodyKeys),
        "AbortMultipartUpload" => ("s3:AbortMultipartUpload", Object),
        "ListParts" => ("s3:ListMultipartUploadParts", Object),
        "ListObjects" | "ListObjectsV2" | "HeadBucket" => ("s3:ListBucket", Bucket),
        "ListMultipartUploads" => ("s3:ListBucketMultipartUploads", Bucket),
        "GetBucketLocation" => ("s3:GetBucketLocation", Bucket),
        "GetBucketEncryption" => ("s3:GetEncryptionConfiguration", Bucket),
        "PutBucketEncryption" | "DeleteBucketEncryption" => {
            ("s3:PutEncryptionConfiguration", Bucket)
        }
        "GetBucketPolicy" => ("s3:GetBucketPolicy", Bucket),
        "PutBucketPolicy" => ("s3:PutBucketPolicy", Bucket),
        "DeleteBucketPolicy" => ("s3:DeleteBucketPolicy", Bucket),
        "CreateBucket" => ("s3:CreateBucket", Bucket),
        "DeleteBucket" => ("s3:DeleteBucket", Bucket),
        // Names no bucket: never refused by a bucket policy.
        "ListBuckets" => ("s3:ListAllMyBuckets", Bucket),
        _ => return None,
    })
}

/// The request headers that S3's encryption condition keys read.
const HEADER_CONDITIONS: [&str; 3] = [
    "x-amz-server-side-encryption",
    "x-amz-server-side-encryption-aws-kms-key-id",
    "x-amz-server-side-encryption-customer-algorithm",
];

/// Who asks, and how: what a decision is evaluated for and logged with.
#[derive(Clone, Debug)]
struct Requester {
    identity: Identity,
    access_key_id: String,
    operation: String,
    tls: bool,
    source: Option<String>,
    request_id: Option<String>,
}

/// One decision on one resource.
struct Verdict {
    allowed: bool,
    resource: String,
    reason: String,
}

/// Whether `identity` is a member of [`ADMINS_GROUP`].
fn is_admin(identity: &Identity) -> bool {
    let admins = format!("arn:aws:iam::{ACCOUNT_ID}:group/{ADMINS_GROUP}");
    identity.groups.contains(&admins)
}

/// Evaluates `bucket`'s policy for `action` on `key` (or on the bucket itself), with the
/// request's condition values: the one evaluation behind the gate's decisions and the SSE
/// layer's per-key ones ([`DeferredCheck`]).
fn evaluate(
    policy: &PolicyState,
    who: &Requester,
    headers: &http::HeaderMap,
    bucket: &str,
    key: Option<&str>,
    action: &str,
) -> Verdict {
    let resource = match key {
        Some(key) => format!("arn:aws:s3:::{bucket}/{key}"),
        None => format!("arn:aws:s3:::{bucket}"),
    };
    let (allowed, reason) = match policy {
        PolicyState::None => (true, "no bucket policy".to_owned()),
        PolicyState::Unreadable => {
            let unreadable = "the stored bucket policy does not parse";
            if POLICY_ACTIONS.contains(&action) && is_admin(&who.identity) {
                (
                    true,
                    format!(
                        "{unreadable}, but members of group {ADMINS_GROUP} may always manage \
                         bucket policies"
                    ),
                )
            } else {
                (false, format!("refused: {unreadable}"))
            }
        }
        PolicyState::Set(policy) => {
            let identity = &who.identity;
            let mut ctx = RequestContext::new(&identity.arn, action, &resource)
                .with_groups(identity.groups.iter().cloned())
                .with("aws:PrincipalArn", &identity.arn)
                .with("aws:username", &identity.name)
                .with(
                    "aws:SecureTransport",
                    if who.tls { "true" } else { "false" },
                );
            for name in HEADER_CONDITIONS {
                for v in headers.get_all(name) {
                    if let Ok(v) = v.to_str() {
                        ctx = ctx.with(&format!("s3:{name}"), v);
                    }
                }
            }
            match policy.evaluate(&ctx) {
                Decision::ExplicitDeny(sid) => {
                    let denied = format!(
                        "explicitly denied by the bucket policy{}",
                        sid.map(|s| format!(" (statement {s:?})"))
                            .unwrap_or_default()
                    );
                    if POLICY_ACTIONS.contains(&action) && is_admin(identity) {
                        (
                            true,
                            format!(
                                "{denied}, but members of group {ADMINS_GROUP} may always \
                                 manage bucket policies"
                            ),
                        )
                    } else {
                        (false, denied)
                    }
                }
                Decision::Allow => (true, "allowed by the bucket policy".to_owned()),
                // No identity policies exist to grant less: only a Deny refuses.
                Decision::ImplicitDeny => (true, "not denied by the bucket policy".to_owned()),
            }
        }
    };
    Verdict {
        allowed,
        resource,
        reason,
    }
}

/// Appends one decision to the access log; a decision that cannot be logged refuses the request.
fn record(
    log: &AuditLog,
    who: &Requester,
    action: Option<&str>,
    resource: Option<&str>,
    allowed: bool,
    reason: &str,
) -> S3Result<()> {
    let record = AccessRecord {
        time: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        principal: who.identity.arn.clone(),
        access_key_id: Some(who.access_key_id.clone()),
        operation: who.operation.clone(),
        action: action.map(str::to_owned),
        resource: resource.map(str::to_owned),
        decision: if allowed { "allow" } else { "deny" }.to_owned(),
        reason: reason.to_owned(),
        source: who.source.clone(),
        request_id: who.request_id.clone(),
    };
    log.record_json(&record).map_err(|e| {
        tracing::error!(error = %e, path = %log.path().display(), "the access log could not be written");
        s3_error!(InternalError, "The access decision could not be recorded.")
    })
}

/// Evaluates and logs one decision.
fn decide_and_log(
    policy: &PolicyState,
    log: &AuditLog,
    who: &Requester,
    headers: &http::HeaderMap,
    bucket: &str,
    key: Option<&str>,
    action: &str,
) -> S3Result<Verdict> {
    let verdict = evaluate(policy, who, headers, bucket, key, action);
    record(
        log,
        who,
        Some(action),
        Some(&verdict.resource),
        verdict.allowed,
        &verdict.reason,
    )?;
    if !verdict.allowed {
        tracing::info!(
            principal = %who.identity.arn,
            operation = who.operation,
            action,
            resource = verdict.resource,
            reason = verdict.reason,
            "access denied"
        );
    }
    Ok(verdict)
}

/// What the gate hands the SSE layer, in the request's extensions, for an operation whose
/// resources only its body names (`DeleteObjects`, `PostObject`): who asks, the bucket's policy
/// as the gate looked it up, and the access log, so that the layer decides each resource as the
/// gate would, and logs it alike.
#[derive(Clone)]
pub(crate) struct DeferredCheck {
    who: Arc<Requester>,
    bucket: String,
    policy: PolicyState,
    log: Arc<AuditLog>,
}

impl DeferredCheck {
    /// Whether `bucket`'s policy allows `action` on `key` for the request (whose `headers` give
    /// the condition values); the decision is logged.
    ///
    /// # Errors
    /// `InternalError`: the decision could not be logged.
    pub(crate) fn allows(
        &self,
        headers: &http::HeaderMap,
        bucket: &str,
        key: &str,
        action: &str,
    ) -> S3Result<bool> {
        // The gate looked up the policy of the request's bucket only.
        let unknown = PolicyState::Unreadable;
        let policy = if bucket == self.bucket {
            &self.policy
        } else {
            &unknown
        };
        decide_and_log(
            policy,
            &self.log,
            &self.who,
            headers,
            bucket,
            Some(key),
            action,
        )
        .map(|v| v.allowed)
    }
}

/// The bucket and key a copy reads: `x-amz-copy-source` as s3s parses it for the operation
/// ([`CopySource::parse`]), so that the key checked is the key copied. Refused, with the reason
/// to log: a header missing, repeated or malformed (`InvalidArgument`, as s3s answers), or a
/// source other than `<bucket>/<key>` (`AccessDenied`: the bucket behind an access point or an
/// Outpost is not known here, so no policy can be checked for it).
fn copy_source(headers: &http::HeaderMap) -> Result<(String, String), (S3Error, &'static str)> {
    let mut values = headers.get_all("x-amz-copy-source").iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return Err((
            s3_error!(
                InvalidArgument,
                "A copy needs exactly one x-amz-copy-source header."
            ),
            "x-amz-copy-source missing or repeated",
        ));
    };
    match value
        .to_str()
        .ok()
        .filter(|v| !v.is_empty())
        .map(CopySource::parse)
    {
        Some(Ok(CopySource::Bucket { bucket, key, .. })) => Ok((bucket.into(), key.into())),
        Some(Ok(_)) => Err((
            s3_error!(
                AccessDenied,
                "Access Denied: only <bucket>/<key> copy sources are supported"
            ),
            "copy source is not <bucket>/<key>",
        )),
        Some(Err(_)) | None => Err((
            s3_error!(InvalidArgument, "invalid header: x-amz-copy-source"),
            "x-amz-copy-source malformed",
        )),
    }
}

impl PolicyGate {
    /// The policy of `bucket` (see [`BucketPolicies::lookup`]). A store that cannot be read
    /// refuses the request with its error, and the refusal is logged: no policy is assumed.
    async fn policy_of(
        &self,
        who: &Requester,
        bucket: &str,
        action: &str,
    ) -> S3Result<PolicyState> {
        match self.policies.lookup(bucket).await {
            Ok(policy) => Ok(policy),
            Err(e) => {
                tracing::warn!(
                    bucket,
                    code = e.code().as_str(),
                    "the bucket policy could not be read: request refused"
                );
                record(
                    &self.log,
                    who,
                    Some(action),
                    Some(&format!("arn:aws:s3:::{bucket}")),
                    false,
                    &format!(
                        "the bucket policy could not be read ({})",
                        e.code().as_str()
                    ),
                )?;
                Err(e)
            }
        }
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
        let who = Requester {
            identity,
            access_key_id,
            operation: cx.s3_op().name().to_owned(),
            tls,
            source,
            request_id,
        };
        let Some((action, target)) = action_of(&who.operation) else {
            record(
                &self.log,
                &who,
                None,
                None,
                false,
                "not an operation of this server",
            )?;
            return Err(s3_error!(
                NotImplemented,
                "{} is not supported by this server.",
                who.operation
            ));
        };
        let (bucket, key) = match cx.s3_path() {
            S3Path::Object { bucket, key } => (bucket.to_string(), Some(key.to_string())),
            S3Path::Bucket { bucket } => (
                bucket.to_string(),
                (target == Target::Object).then(|| "*".to_owned()),
            ),
            S3Path::Root => return record(&self.log, &who, Some(action), None, true, "no bucket"),
        };
        let policy = self.policy_of(&who, &bucket, action).await?;
        if target == Target::BodyKeys {
            record(
                &self.log,
                &who,
                Some(action),
                Some(&format!("arn:aws:s3:::{bucket}")),
                true,
                "decided per key by the SSE layer",
            )?;
            cx.extensions_mut().insert(DeferredCheck {
                who: Arc::new(who),
                bucket,
                policy,
                log: Arc::clone(&self.log),
            });
            return Ok(());
        }
        let headers = cx.headers();
        let decide =
            |policy: &PolicyState, bucket: &str, key: Option<&str>, action: &str| -> S3Result<()> {
                let verdict =
                    decide_and_log(policy, &self.log, &who, headers, bucket, key, action)?;
                if verdict.allowed {
                    Ok(())
                } else {
                    Err(s3_error!(AccessDenied, "Access Denied: {}", verdict.reason))
                }
            };
        decide(&policy, &bucket, key.as_deref(), action)?;
        // A copy also reads its source.
        if matches!(who.operation.as_str(), "CopyObject" | "UploadPartCopy") {
            let (src_bucket, src_key) = match copy_source(headers) {
                Ok(source) => source,
                Err((error, reason)) => {
                    record(&self.log, &who, Some("s3:GetObject"), None, false, reason)?;
                    return Err(error);
                }
            };
            let src_policy = if src_bucket == bucket {
                policy.clone()
            } else {
                self.policy_of(&who, &src_bucket, "s3:GetObject").await?
            };
            decide(&src_policy, &src_bucket, Some(&src_key), "s3:GetObject")?;
        }
        Ok(())
    }
}
