//! Who signed a request: the server's principals by access key id, each with its identity (ARN and
//! groups) — what bucket policies are evaluated for, what the KMS is asked on behalf of, and what
//! the audit log names.

use std::collections::HashMap;

use objseal_kms::principal::{Identity, Principal};

/// The account every principal of this server belongs to (`arn:aws:iam::<account>:user/<name>`).
pub const ACCOUNT_ID: &str = "000000000000";

/// The server's principals by access key id.
///
/// ```
/// use objseal_kms::principal::Principal;
/// use objseal_server::principals::Directory;
/// let dir = Directory::new(&[Principal::new("alice", "AKIDALICE", "secret")]);
/// assert_eq!(dir.identity("AKIDALICE").unwrap().arn, "arn:aws:iam::000000000000:user/alice");
/// assert!(dir.identity("AKIDNOBODY").is_none());
/// ```
#[derive(Clone, Debug, Default)]
pub struct Directory {
    by_access_key: HashMap<String, Identity>,
}

impl Directory {
    /// The directory of `principals` (checked beforehand: unique names and access key ids).
    pub fn new(principals: &[Principal]) -> Self {
        Self {
            by_access_key: principals
                .iter()
                .map(|p| (p.access_key_id.clone(), p.identity(ACCOUNT_ID)))
                .collect(),
        }
    }

    /// The identity of the principal an access key id belongs to.
    pub fn identity(&self, access_key_id: &str) -> Option<&Identity> {
        self.by_access_key.get(access_key_id)
    }

    /// How many principals there are.
    pub fn len(&self) -> usize {
        self.by_access_key.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.by_access_key.is_empty()
    }
}
