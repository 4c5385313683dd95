//! Bucket policies: validated when set (AWS's `MalformedPolicy` otherwise), kept by the inner store
//! as sent, and looked up by the access gate (`server::access`), which refuses what a policy
//! explicitly denies.
//!
//! The inner store is the one truth: [`BucketPolicies`] reads a bucket's policy from it on first
//! use (nothing at start: a gateway in front of an account with buckets in other regions starts
//! all the same) and keeps it parsed, for as long as its [`PolicyFreshness`] says:
//!
//! * [`PolicyFreshness::Kept`] — until this server changes it: for a store only this server
//!   writes (the local store of `objseal serve`);
//! * [`PolicyFreshness::Ttl`] — at most that long ([`SHARED_POLICY_TTL`], one second, for the
//!   gateway's backing store that other gateways share): a policy set or deleted through one
//!   gateway binds every other within a second.
//!
//! A policy changed through this server is known at once. Reads of one bucket's policy are made
//! one at a time (the others wait for it), and a read that began before this server changed the
//! policy does not overwrite the change. A stored policy that no longer parses is
//! [`PolicyState::Unreadable`], which the gate refuses (fail closed, logged); a store that cannot
//! be read refuses the request with the store's error. A bucket that does not exist has no policy.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use objseal_kms::policy::Policy;
use s3s::dto::{
    DeleteBucketInput, DeleteBucketOutput, DeleteBucketPolicyInput, DeleteBucketPolicyOutput,
    GetBucketPolicyInput, PutBucketPolicyInput, PutBucketPolicyOutput,
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

/// How long a gateway trusts a bucket policy read from a store other gateways share.
pub const SHARED_POLICY_TTL: Duration = Duration::from_secs(1);

/// How long a policy read from the store is trusted (see the module documentation of `sse::policy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyFreshness {
    /// Until this server changes it: the store is this server's alone.
    Kept,
    /// At most this long: other servers change the store too.
    Ttl(Duration),
}

/// A bucket's policy as the gate evaluates it.
#[derive(Clone, Debug)]
pub enum PolicyState {
    /// The bucket has none (or does not exist).
    None,
    /// Its policy.
    Set(Arc<Policy>),
    /// The store holds a policy that does not parse: every request is refused (fail closed).
    Unreadable,
}

/// Reads a bucket's policy document from the inner store.
#[async_trait::async_trait]
trait PolicySource: Send + Sync {
    /// The bucket's policy document, if any.
    async fn fetch(&self, bucket: &str) -> S3Result<Stored>;
}

/// What the store holds of a bucket's policy.
enum Stored {
    /// The bucket has no policy.
    Absent,
    /// There is no such bucket (nothing is kept of it: names asked for are not remembered).
    NoBucket,
    /// The policy document.
    Document(String),
    /// The store holds a configuration that fails authentication
    /// ([`UnauthenticatedConfig`](crate::internal::UnauthenticatedConfig)): refused as a
    /// policy that does not parse.
    Unauthenticated,
}

struct StoreSource<S>(Arc<S>);

#[async_trait::async_trait]
impl<S: S3> PolicySource for StoreSource<S> {
    async fn fetch(&self, bucket: &str) -> S3Result<Stored> {
        let input = GetBucketPolicyInput {
            bucket: bucket.to_owned(),
            expected_bucket_owner: None,
        };
        match self.0.get_bucket_policy(super::bare_request(input)).await {
            Ok(out) => Ok(out.output.policy.map_or(Stored::Absent, Stored::Document)),
            Err(e) if *e.code() == S3ErrorCode::NoSuchBucketPolicy => Ok(Stored::Absent),
            Err(e) if *e.code() == S3ErrorCode::NoSuchBucket => Ok(Stored::NoBucket),
            Err(e) if crate::internal::UnauthenticatedConfig::is_source_of(&e) => {
                Ok(Stored::Unauthenticated)
            }
            Err(e) => Err(e),
        }
    }
}

/// One bucket's cached policy.
#[derive(Default)]
struct Slot {
    /// The policy, and when it was read (`None`: changed here, or never read).
    state: Mutex<SlotState>,
    /// Held while the policy is read from the store: one read at a time.
    reading: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct SlotState {
    /// What is known, and since when; `None`: nothing yet.
    known: Option<(PolicyState, Instant)>,
    /// Bumped by every change made here, so that a read begun before it is not kept.
    generation: u64,
}

/// The bucket policies, shared by the layer (which changes them) and the access gate (which
/// looks them up); see the module documentation of `sse::policy`.
pub struct BucketPolicies {
    slots: Mutex<HashMap<String, Arc<Slot>>>,
    /// `None`: the policies set through this layer only (a layer without a store to ask).
    source: Option<Arc<dyn PolicySource>>,
    freshness: PolicyFreshness,
}

impl Default for BucketPolicies {
    fn default() -> Self {
        Self {
            slots: Mutex::default(),
            source: None,
            freshness: PolicyFreshness::Kept,
        }
    }
}

impl std::fmt::Debug for BucketPolicies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BucketPolicies")
            .field("freshness", &self.freshness)
            .field("from_store", &self.source.is_some())
            .finish_non_exhaustive()
    }
}

/// A stored policy that no longer parses is kept as such only this long before it is read again
/// (whatever the freshness: a store edited by hand is fixed without a restart).
const UNREADABLE_TTL: Duration = Duration::from_secs(1);

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl BucketPolicies {
    fn slot(&self, bucket: &str) -> Arc<Slot> {
        Arc::clone(lock(&self.slots).entry(bucket.to_owned()).or_default())
    }

    /// What is known of `bucket`'s policy while it is fresh.
    fn fresh(&self, slot: &Slot) -> Option<PolicyState> {
        let state = lock(&slot.state);
        let (policy, at) = state.known.as_ref()?;
        let limit = match (policy, self.freshness) {
            (PolicyState::Unreadable, _) => Some(UNREADABLE_TTL),
            (_, PolicyFreshness::Ttl(ttl)) => Some(ttl),
            (_, PolicyFreshness::Kept) => None,
        };
        match limit {
            Some(limit) if at.elapsed() >= limit => None,
            _ => Some(policy.clone()),
        }
    }

    /// The policy of `bucket` as last known here, without asking the store (for a layer used
    /// without the access gate).
    pub fn get(&self, bucket: &str) -> Option<Arc<Policy>> {
        let slot = lock(&self.slots).get(bucket).cloned()?;
        let state = lock(&slot.state);
        match state.known.as_ref()? {
            (PolicyState::Set(p), _) => Some(Arc::clone(p)),
            _ => None,
        }
    }

    /// The policy of `bucket`: as known here while fresh, else read from the store.
    ///
    /// # Errors
    /// The store's, when it cannot be read (the request is then refused).
    pub async fn lookup(&self, bucket: &str) -> S3Result<PolicyState> {
        let Some(source) = &self.source else {
            return Ok(self.get(bucket).map_or(PolicyState::None, PolicyState::Set));
        };
        let slot = self.slot(bucket);
        if let Some(state) = self.fresh(&slot) {
            return Ok(state);
        }
        let _reading = slot.reading.lock().await;
        // Read by another request meanwhile?
        if let Some(state) = self.fresh(&slot) {
            return Ok(state);
        }
        let generation = lock(&slot.state).generation;
        let read_at = Instant::now();
        let state = match source.fetch(bucket).await? {
            Stored::Absent => PolicyState::None,
            Stored::NoBucket => {
                let mut slots = lock(&self.slots);
                if lock(&slot.state).generation == generation
                    && slots.get(bucket).is_some_and(|s| Arc::ptr_eq(s, &slot))
                {
                    slots.remove(bucket);
                }
                return Ok(PolicyState::None);
            }
            Stored::Unauthenticated => {
                tracing::error!(
                    bucket,
                    "the stored bucket configuration fails authentication: every request to the bucket is refused until its policy is replaced"
                );
                PolicyState::Unreadable
            }
            Stored::Document(doc) => match parse(&doc) {
                Ok(policy) => PolicyState::Set(Arc::new(policy)),
                Err(e) => {
                    tracing::error!(
                        bucket,
                        error = %e.message().unwrap_or_default(),
                        "the stored bucket policy does not parse: every request to the bucket is refused until it is replaced"
                    );
                    PolicyState::Unreadable
                }
            },
        };
        let mut current = lock(&slot.state);
        if current.generation == generation {
            current.known = Some((state.clone(), read_at));
        }
        Ok(state)
    }

    /// Records a change made through this server.
    fn set(&self, bucket: &str, policy: Option<Policy>) {
        let slot = self.slot(bucket);
        let mut state = lock(&slot.state);
        state.generation += 1;
        let policy = policy.map_or(PolicyState::None, |p| PolicyState::Set(Arc::new(p)));
        state.known = Some((policy, Instant::now()));
    }

    /// Forgets `bucket` (deleted): the next look-up asks the store.
    fn forget(&self, bucket: &str) {
        if let Some(slot) = lock(&self.slots).remove(bucket) {
            let mut state = lock(&slot.state);
            state.generation += 1;
            state.known = None;
        }
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

    /// Reads bucket policies from the inner store on first use, and trusts what it read as
    /// `freshness` says (see the module documentation of `sse::policy`). Without it, the layer knows only
    /// the policies set through it.
    #[must_use]
    pub fn with_policies_from_store(mut self, freshness: PolicyFreshness) -> Self {
        self.policies = Arc::new(BucketPolicies {
            slots: Mutex::default(),
            source: Some(Arc::new(StoreSource(Arc::clone(&self.inner)))),
            freshness,
        });
        self
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
        self.policies.forget(&bucket);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    const DENY: &str = r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Deny",
        "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}]}"#;

    /// A store whose bucket `b` holds `doc`, counting reads.
    struct Fake {
        doc: Mutex<Option<String>>,
        reads: AtomicUsize,
    }

    #[async_trait::async_trait]
    impl PolicySource for Fake {
        async fn fetch(&self, bucket: &str) -> S3Result<Stored> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            if bucket != "b" {
                return Ok(Stored::NoBucket);
            }
            Ok(lock(&self.doc)
                .clone()
                .map_or(Stored::Absent, Stored::Document))
        }
    }

    fn policies(freshness: PolicyFreshness, doc: Option<&str>) -> (BucketPolicies, Arc<Fake>) {
        let fake = Arc::new(Fake {
            doc: Mutex::new(doc.map(str::to_owned)),
            reads: AtomicUsize::new(0),
        });
        let source: Arc<dyn PolicySource> = Arc::clone(&fake) as _;
        let p = BucketPolicies {
            slots: Mutex::default(),
            source: Some(source),
            freshness,
        };
        (p, fake)
    }

    #[tokio::test]
    async fn shared_stores_are_read_again_after_the_ttl() {
        let ttl = Duration::from_millis(100);
        let (p, fake) = policies(PolicyFreshness::Ttl(ttl), None);
        assert!(matches!(p.lookup("b").await.unwrap(), PolicyState::None));
        assert!(matches!(p.lookup("b").await.unwrap(), PolicyState::None));
        assert_eq!(fake.reads.load(Ordering::SeqCst), 1);
        *lock(&fake.doc) = Some(DENY.to_owned());
        tokio::time::sleep(ttl).await;
        assert!(matches!(p.lookup("b").await.unwrap(), PolicyState::Set(_)));
        assert_eq!(fake.reads.load(Ordering::SeqCst), 2);
        // Changed here: known at once, without a read.
        p.set("b", None);
        assert!(matches!(p.lookup("b").await.unwrap(), PolicyState::None));
        assert_eq!(fake.reads.load(Ordering::SeqCst), 2);
        // Buckets that do not exist are not remembered.
        assert!(matches!(p.lookup("nope").await.unwrap(), PolicyState::None));
        assert!(!lock(&p.slots).contains_key("nope"));
    }

    #[tokio::test]
    async fn kept_policies_are_read_once_and_unparsable_ones_refuse() {
        let (p, fake) = policies(PolicyFreshness::Kept, Some("{not a policy"));
        assert!(matches!(
            p.lookup("b").await.unwrap(),
            PolicyState::Unreadable
        ));
        assert!(p.get("b").is_none());
        *lock(&fake.doc) = Some(DENY.to_owned());
        // An unparsable policy is read again after a second, whatever the freshness.
        tokio::time::sleep(UNREADABLE_TTL).await;
        assert!(matches!(p.lookup("b").await.unwrap(), PolicyState::Set(_)));
        *lock(&fake.doc) = None;
        tokio::time::sleep(UNREADABLE_TTL).await;
        assert!(matches!(p.lookup("b").await.unwrap(), PolicyState::Set(_)));
        assert_eq!(fake.reads.load(Ordering::SeqCst), 2);
        p.forget("b");
        assert!(matches!(p.lookup("b").await.unwrap(), PolicyState::None));
    }
}
