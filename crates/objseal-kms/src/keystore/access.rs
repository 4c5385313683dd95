//! Key policies: who may administer and who may use each key, checked before every operation on it.
//!
//! A handle made [`LocalKms::with_identity`] acts for a principal: every operation on a key
//! evaluates that key's policy ([`crate::policy`]) for the principal's ARN and groups, the action
//! (`kms:Decrypt`, …), the key's ARN, and these condition keys:
//!
//! | key | value |
//! |---|---|
//! | `kms:CallerAccount` | the keystore's account id |
//! | `kms:ViaService` | the service that called on the principal's behalf ([`LocalKms::on_behalf_of`]), e.g. `s3.us-east-1.amazonaws.com`; absent for direct calls |
//! | `kms:EncryptionContext:<key>` | each encryption context value (cryptographic operations) |
//! | `kms:EncryptionContextKeys` | the encryption context's keys |
//! | `aws:PrincipalArn`, `aws:username` | the principal's ARN and name |
//!
//! An explicit `Deny` wins; without an `Allow` the answer is `AccessDeniedException`, decided before
//! the key's state is looked at (as AWS: a principal that may not use a key does not learn that it
//! is disabled). A handle without an identity — the keystore's operator, who holds the root key and
//! so owns every key anyway — is not checked. Operations on no key (`CreateKey`, `ListKeys`,
//! `ListAliases`, `GenerateRandom`) are open to every principal: there are no IAM policies here.
//!
//! A key made by a principal gets [`creator_policy`]: that principal may do everything with it. A
//! key made by the operator, or made before key policies existed, has [`account_policy`]: every
//! principal of the account may (AWS's default key policy, where the account root stands for the
//! account's principals). `PutKeyPolicy` refuses a policy that would lock its author out unless the
//! lockout check is bypassed; the operator can always put a policy back.

use std::collections::BTreeMap;

use super::LocalKms;
use super::ids::printable;
use super::store::KeyRecord;
use crate::policy::{Decision, KMS_ACTIONS, MAX_KEY_POLICY_LEN, Policy, RequestContext};
use crate::principal::Identity;
use crate::{DEFAULT_POLICY_NAME, Delegation, EncryptionContext, KmsError};

/// The policy of keys made by the operator or before key policies existed: AWS's default key
/// policy, every principal of the account may do everything.
///
/// ```
/// let p = objseal_kms::keystore::account_policy("000000000000");
/// assert!(p.contains("arn:aws:iam::000000000000:root"));
/// ```
pub fn account_policy(account_id: &str) -> String {
    policy_for(
        "Enable IAM User Permissions",
        &format!("arn:aws:iam::{account_id}:root"),
    )
}

/// The default policy of a key made by `creator`: the creator may administer and use it.
///
/// ```
/// let p = objseal_kms::keystore::creator_policy("arn:aws:iam::000000000000:user/kate");
/// assert!(p.contains("user/kate"));
/// ```
pub fn creator_policy(creator_arn: &str) -> String {
    policy_for("Allow the key creator everything", creator_arn)
}

fn policy_for(sid: &str, principal: &str) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Id": "key-default-1",
        "Statement": [{
            "Sid": sid,
            "Effect": "Allow",
            "Principal": {"AWS": principal},
            "Action": "kms:*",
            "Resource": "*",
        }],
    })
    .to_string()
}

/// Parses and validates a key policy document.
pub(crate) fn parse_key_policy(document: &str) -> Result<Policy, KmsError> {
    let policy = Policy::parse(document, KMS_ACTIONS, MAX_KEY_POLICY_LEN)
        .map_err(|e| KmsError::MalformedPolicyDocument(e.to_string()))?;
    // A key policy is a resource policy: the engine reads a statement without `Principal` as
    // applying to everyone (right for identity policies), which here would open the key to every
    // principal. AWS refuses such a statement; so do we.
    if policy.statements.iter().any(|s| s.principals.is_none()) {
        return Err(KmsError::MalformedPolicyDocument(
            "malformed policy: a key policy statement must name a Principal".into(),
        ));
    }
    Ok(policy)
}

impl LocalKms {
    /// A handle acting for `identity`: key policies are checked for it and audit events name its
    /// ARN.
    ///
    /// ```
    /// # objseal_kms::keystore::block_on(async {
    /// use objseal_kms::{CreateKeyRequest, Kms, LocalKms, LocalKmsConfig, RootKey, principal::Principal};
    /// let dir = tempfile::tempdir().unwrap();
    /// let kms = LocalKms::open(LocalKmsConfig::new(dir.path().join("k"), RootKey::from_bytes([1; 32]))).unwrap();
    /// let kate = kms.with_identity(Principal::new("kate", "K1", "s").identity(kms.account_id()));
    /// let bob = kms.with_identity(Principal::new("bob", "K2", "s").identity(kms.account_id()));
    /// let key = kate.create_key(CreateKeyRequest::default()).await.unwrap();
    /// assert!(kate.disable_key(&key.key_id).await.is_ok());
    /// let refused = bob.enable_key(&key.key_id).await.unwrap_err();
    /// assert_eq!(refused.aws_type(), "AccessDeniedException");
    /// # });
    /// ```
    pub fn with_identity(&self, identity: Identity) -> LocalKms {
        self.with_caller(|c| {
            c.principal.clone_from(&identity.arn);
            c.identity = Some(identity);
        })
    }

    /// The identity this handle acts for; `None` for the operator.
    pub fn identity(&self) -> Option<&Identity> {
        self.caller.identity.as_ref()
    }

    /// A handle acting for `delegation.identity` through a service: `invoked_by` names the service
    /// in audit events, `kms:ViaService` is the delegation's.
    pub fn delegated(&self, delegation: &Delegation, invoked_by: &str) -> LocalKms {
        let with_identity = self.with_identity(delegation.identity.clone());
        with_identity.with_caller(|c| {
            c.via_service = Some(delegation.via_service.clone());
            c.invoked_by = Some(invoked_by.to_owned());
            // The original request's address and id when the service passed them on; else this
            // handle's own (the service's connection, the KMS request), rather than nothing.
            if let Some(source) = &delegation.source {
                c.source = Some(source.clone());
            }
            if let Some(id) = &delegation.request_id {
                c.request_id = Some(id.clone());
            }
        })
    }

    /// The policy a key made now by this handle's caller gets.
    pub(crate) fn default_policy(&self) -> String {
        match &self.caller.identity {
            Some(identity) => creator_policy(&identity.arn),
            None => account_policy(&self.inner.account_id),
        }
    }

    /// The request context of `action` on key `arn` for `identity`.
    fn request_context(
        &self,
        identity: &Identity,
        action: &str,
        arn: &str,
        context: Option<&EncryptionContext>,
    ) -> RequestContext {
        let mut ctx = RequestContext::new(&identity.arn, action, arn)
            .with_groups(identity.groups.iter().cloned())
            .with("kms:CallerAccount", &self.inner.account_id)
            .with("aws:PrincipalArn", &identity.arn)
            .with("aws:username", &identity.name);
        if let Some(service) = &self.caller.via_service {
            ctx = ctx.with("kms:ViaService", service);
        }
        for (k, v) in context.unwrap_or(&BTreeMap::new()) {
            ctx = ctx
                .with(&format!("kms:EncryptionContext:{k}"), v)
                .with("kms:EncryptionContextKeys", k);
        }
        ctx
    }

    /// Checks `action` on the key `key` (ARN `arn`) against its policy for this handle's identity;
    /// records the refusal's reason in `rec`.
    pub(crate) fn authorize(
        &self,
        key: &KeyRecord,
        arn: &str,
        action: &str,
        context: Option<&EncryptionContext>,
    ) -> Result<(), KmsError> {
        let Some(identity) = &self.caller.identity else {
            return Ok(());
        };
        let policy = match &key.policy {
            Some(doc) => parse_key_policy(doc).map_err(|e| {
                KmsError::Internal(format!("the stored policy of {arn} does not parse: {e}"))
            })?,
            None => parse_key_policy(&account_policy(&self.inner.account_id))?,
        };
        let request = self.request_context(identity, action, arn, context);
        let because = match policy.evaluate(&request) {
            Decision::Allow => return Ok(()),
            Decision::ExplicitDeny(sid) => format!(
                "with an explicit deny in the key policy{}",
                sid.map(|s| format!(" (statement {})", printable(&s)))
                    .unwrap_or_default()
            ),
            Decision::ImplicitDeny => format!("because no key policy statement allows {action}"),
        };
        Err(KmsError::AccessDenied(format!(
            "User: {} is not authorized to perform: {action} on resource: {arn} {because}",
            identity.arn
        )))
    }

    /// A policy document checked for `PutKeyPolicy` / `CreateKey`: it parses, and (unless
    /// bypassed) still lets this handle's identity put a policy on key `arn`.
    pub(crate) fn check_new_policy(
        &self,
        document: &str,
        arn: &str,
        bypass_lockout_check: bool,
    ) -> Result<(), KmsError> {
        let policy = parse_key_policy(document)?;
        if let (Some(identity), false) = (&self.caller.identity, bypass_lockout_check) {
            let request = self.request_context(identity, "kms:PutKeyPolicy", arn, None);
            if !policy.evaluate(&request).is_allowed() {
                return Err(KmsError::MalformedPolicyDocument(
                    "The new key policy will not allow you to update the key policy in the future."
                        .into(),
                ));
            }
        }
        Ok(())
    }

    pub(crate) fn op_get_key_policy(&self, key_id: &str) -> Result<String, KmsError> {
        self.run("GetKeyPolicy", |rec| {
            rec.key_id = Some(printable(key_id));
            let doc = self.read_doc()?;
            let (id, key) = self.resolve(&doc, key_id)?;
            let arn = self.key_arn(id);
            rec.key_id = Some(arn.clone());
            self.authorize(key, &arn, "kms:GetKeyPolicy", None)?;
            Ok(key
                .policy
                .clone()
                .unwrap_or_else(|| account_policy(&self.inner.account_id)))
        })
    }

    pub(crate) fn op_put_key_policy(
        &self,
        key_id: &str,
        policy: &str,
        bypass_lockout_check: bool,
    ) -> Result<(), KmsError> {
        self.run("PutKeyPolicy", |rec| {
            rec.key_id = Some(printable(key_id));
            if bypass_lockout_check {
                rec.message = Some("policy lockout safety check bypassed".into());
            }
            self.mutate_key(key_id, rec, "kms:PutKeyPolicy", |key, arn, _| {
                if key.state == super::store::StoredState::PendingDeletion {
                    return Err(super::pending(arn));
                }
                self.check_new_policy(policy, arn, bypass_lockout_check)?;
                key.policy = Some(policy.to_owned());
                Ok(())
            })
        })
    }

    pub(crate) fn op_list_key_policies(&self, key_id: &str) -> Result<Vec<String>, KmsError> {
        self.run("ListKeyPolicies", |rec| {
            rec.key_id = Some(printable(key_id));
            let doc = self.read_doc()?;
            let (id, key) = self.resolve(&doc, key_id)?;
            let arn = self.key_arn(id);
            rec.key_id = Some(arn.clone());
            self.authorize(key, &arn, "kms:ListKeyPolicies", None)?;
            Ok(vec![DEFAULT_POLICY_NAME.to_owned()])
        })
    }
}
