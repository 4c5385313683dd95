//! Requests and results of the [`Kms`](crate::Kms) operations.
//!
//! Times are whole seconds since the Unix epoch (AWS sends them as JSON numbers). Secret bytes (data
//! keys, decrypted plaintext, random bytes) are [`SecretBytes`]: wiped on drop, redacted in `Debug`.

use std::collections::BTreeMap;

use zeroize::Zeroizing;

/// An encryption context: string pairs bound to a ciphertext. Sorted by key, compared exactly.
pub type EncryptionContext = BTreeMap<String, String>;

/// The `key_version` (and `current_version`) of a result from a service that names no versions, as
/// AWS KMS does not. Real versions start at 1.
pub const KEY_VERSION_UNKNOWN: u32 = 0;

/// Secret bytes: wiped when dropped, never printed.
///
/// ```
/// use objseal_kms::SecretBytes;
/// let s = SecretBytes::from(vec![1u8, 2, 3]);
/// assert_eq!(s.as_bytes(), &[1, 2, 3]);
/// assert_eq!(format!("{s:?}"), "SecretBytes(3 bytes, redacted)");
/// ```
#[derive(Clone)]
pub struct SecretBytes(Zeroizing<Vec<u8>>);

/// Compared in constant time (for equal lengths): the time taken does not tell where the first
/// difference is.
impl PartialEq for SecretBytes {
    fn eq(&self, other: &Self) -> bool {
        self.0.len() == other.0.len()
            && core::hint::black_box(
                self.0
                    .iter()
                    .zip(other.0.iter())
                    .fold(0u8, |acc, (a, b)| acc | (a ^ b)),
            ) == 0
    }
}

impl Eq for SecretBytes {}

impl SecretBytes {
    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// How many bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<Vec<u8>> for SecretBytes {
    fn from(bytes: Vec<u8>) -> Self {
        Self(Zeroizing::new(bytes))
    }
}

impl core::fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "SecretBytes({} bytes, redacted)", self.0.len())
    }
}

/// An `io::Write` into a buffer that is wiped when dropped, and that wipes its old allocation
/// whenever it grows (a plain `Vec` would leave an unwiped copy of what it held behind): for
/// serialising documents that hold key material or plaintext.
pub(crate) struct ZeroizingWriter(Zeroizing<Vec<u8>>);

impl ZeroizingWriter {
    /// An empty buffer with room for `capacity` bytes.
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        Self(Zeroizing::new(Vec::with_capacity(capacity)))
    }

    /// The bytes written.
    pub(crate) fn into_inner(self) -> Zeroizing<Vec<u8>> {
        self.0
    }
}

impl std::io::Write for ZeroizingWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let needed = self
            .0
            .len()
            .checked_add(data.len())
            .ok_or_else(|| std::io::Error::other("buffer size overflow"))?;
        if needed > self.0.capacity() {
            let mut bigger = Zeroizing::new(Vec::with_capacity(
                needed.max(self.0.capacity().saturating_mul(2)),
            ));
            bigger.extend_from_slice(&self.0);
            // The old buffer is wiped (its whole capacity) as it drops here.
            self.0 = bigger;
        }
        self.0.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Serialises `value` as JSON into a [`ZeroizingWriter`] sized for `capacity` bytes.
pub(crate) fn to_json_zeroizing<T: serde::Serialize + ?Sized>(
    value: &T,
    capacity: usize,
) -> serde_json::Result<Zeroizing<Vec<u8>>> {
    let mut out = ZeroizingWriter::with_capacity(capacity);
    serde_json::to_writer(&mut out, value)?;
    Ok(out.into_inner())
}

/// The lifecycle state of a key, as AWS names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyState {
    /// Usable.
    Enabled,
    /// Refuses every cryptographic operation (`DisabledException`) until enabled.
    Disabled,
    /// Deletion is scheduled: cryptographic operations and most management operations answer
    /// `KMSInvalidStateException`; describe, cancel, the listings, `GetKeyRotationStatus` and
    /// `DeleteAlias` still work (the full table is in [`crate::keystore`]).
    PendingDeletion,
}

impl KeyState {
    /// The AWS name: `Enabled`, `Disabled` or `PendingDeletion`.
    ///
    /// ```
    /// assert_eq!(objseal_kms::KeyState::PendingDeletion.as_str(), "PendingDeletion");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::Enabled => "Enabled",
            KeyState::Disabled => "Disabled",
            KeyState::PendingDeletion => "PendingDeletion",
        }
    }
}

/// Parameters of `CreateKey`. Only symmetric `ENCRYPT_DECRYPT` keys exist here.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CreateKeyRequest {
    /// Free text.
    pub description: String,
    /// Tags as key → value.
    pub tags: BTreeMap<String, String>,
    /// The key policy (AWS JSON shape); `None`: the default policy, which gives the creator (or,
    /// for a key made by the keystore's operator, every principal of the account) both roles.
    pub policy: Option<String>,
    /// Skip the check that the policy still lets its author change it (AWS's
    /// `BypassPolicyLockoutSafetyCheck`).
    pub bypass_policy_lockout_safety_check: bool,
}

/// A request a service (the S3 server) makes to a [`Kms`](crate::Kms) on behalf of the principal
/// it serves: the KMS evaluates key policies for that principal, with `kms:ViaService` set, and
/// its audit record names both.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delegation {
    /// Whom the request is for.
    pub identity: crate::principal::Identity,
    /// The service's endpoint name as `kms:ViaService` sees it (`s3.<region>.amazonaws.com`).
    pub via_service: String,
    /// The original client's address, for the audit record.
    pub source: Option<String>,
    /// The original request's id, for the audit record.
    pub request_id: Option<String>,
}

/// What `DescribeKey` and `CreateKey` return.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyMetadata {
    /// The key id (a UUID).
    pub key_id: String,
    /// `arn:aws:kms:<region>:<account>:key/<key_id>`.
    pub arn: String,
    /// The account id in the ARN.
    pub account_id: String,
    /// Free text.
    pub description: String,
    /// Lifecycle state.
    pub state: KeyState,
    /// Creation time.
    pub creation_date: u64,
    /// When deletion happens, while [`KeyState::PendingDeletion`].
    pub deletion_date: Option<u64>,
    /// The deletion window in days, while [`KeyState::PendingDeletion`].
    pub pending_deletion_window_days: Option<u32>,
    /// The newest key version (1 for a new key; each rotation adds one); [`KEY_VERSION_UNKNOWN`]
    /// when the service does not say.
    pub current_version: u32,
    /// Tags.
    pub tags: BTreeMap<String, String>,
}

/// One row of `ListKeys`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyListEntry {
    /// The key id.
    pub key_id: String,
    /// The key ARN.
    pub arn: String,
}

/// One row of `ListAliases`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AliasEntry {
    /// `alias/…`.
    pub alias_name: String,
    /// `arn:aws:kms:<region>:<account>:alias/…`.
    pub alias_arn: String,
    /// The key it names.
    pub target_key_id: String,
}

/// What `GetKeyRotationStatus` returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RotationStatus {
    /// The key id.
    pub key_id: String,
    /// Whether automatic rotation is on.
    pub enabled: bool,
    /// The period of automatic rotation in days, when on.
    pub rotation_period_days: Option<u32>,
    /// When the next automatic rotation happens, when on.
    pub next_rotation_date: Option<u64>,
    /// When an on-demand rotation is in progress (never, here: rotation is immediate).
    pub on_demand_rotation_start_date: Option<u64>,
}

/// How a rotation happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RotationType {
    /// By the schedule of automatic rotation.
    Automatic,
    /// By `RotateKeyOnDemand`.
    OnDemand,
}

impl RotationType {
    /// The AWS name: `AUTOMATIC` or `ON_DEMAND`.
    pub fn as_str(self) -> &'static str {
        match self {
            RotationType::Automatic => "AUTOMATIC",
            RotationType::OnDemand => "ON_DEMAND",
        }
    }
}

/// One row of `ListKeyRotations`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RotationEntry {
    /// The key id.
    pub key_id: String,
    /// The version this rotation created.
    pub version: u32,
    /// When.
    pub rotation_date: u64,
    /// How.
    pub rotation_type: RotationType,
}

/// What `ScheduleKeyDeletion` returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeletionSchedule {
    /// The key id.
    pub key_id: String,
    /// When the key will be deleted.
    pub deletion_date: u64,
    /// The window in days.
    pub pending_window_days: u32,
    /// The key's state now (`PendingDeletion`).
    pub key_state: KeyState,
}

/// The size of a data key (`KeySpec` or `NumberOfBytes`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataKeySpec {
    /// 32 bytes (`AES_256`), what objseal uses.
    Aes256,
    /// 16 bytes (`AES_128`).
    Aes128,
    /// Any length from 1 to 1024 bytes (`NumberOfBytes`).
    Bytes(usize),
}

impl DataKeySpec {
    /// The data key's length in bytes.
    ///
    /// ```
    /// assert_eq!(objseal_kms::DataKeySpec::Aes256.len(), 32);
    /// ```
    #[allow(clippy::len_without_is_empty)]
    pub fn len(self) -> usize {
        match self {
            DataKeySpec::Aes256 => 32,
            DataKeySpec::Aes128 => 16,
            DataKeySpec::Bytes(n) => n,
        }
    }
}

/// A ciphertext blob and the key version that made it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ciphertext {
    /// The self-describing blob (names its key and version).
    pub ciphertext_blob: Vec<u8>,
    /// ARN of the key.
    pub key_arn: String,
    /// The key version used (the newest at the time); [`KEY_VERSION_UNKNOWN`] when the service does
    /// not say.
    pub key_version: u32,
}

/// A data key in plaintext and wrapped (`GenerateDataKey`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataKey {
    /// The data key: use it, then drop it (it is wiped).
    pub plaintext: SecretBytes,
    /// The data key wrapped under the master key: store this beside the data.
    pub wrapped: Ciphertext,
}

/// What `Decrypt` returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plaintext {
    /// The decrypted bytes.
    pub plaintext: SecretBytes,
    /// ARN of the key that decrypted it.
    pub key_arn: String,
    /// The key version that decrypted it; [`KEY_VERSION_UNKNOWN`] when the service does not say.
    pub key_version: u32,
}

/// Parameters of `ReEncrypt`.
#[derive(Clone, Copy, Debug)]
pub struct ReEncryptRequest<'a> {
    /// The blob to re-encrypt.
    pub ciphertext_blob: &'a [u8],
    /// The context it was encrypted with.
    pub source_context: &'a EncryptionContext,
    /// When given, the blob must be under this key.
    pub source_key_id: Option<&'a str>,
    /// The key to encrypt under (its newest version).
    pub destination_key_id: &'a str,
    /// The context to bind the new blob to.
    pub destination_context: &'a EncryptionContext,
}

/// What `ReEncrypt` returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReEncrypted {
    /// The new blob.
    pub ciphertext: Ciphertext,
    /// ARN of the key that decrypted the source blob.
    pub source_key_arn: String,
    /// Version of the key that decrypted the source blob; [`KEY_VERSION_UNKNOWN`] when the service
    /// does not say.
    pub source_key_version: u32,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn zeroizing_writer_grows_and_keeps_every_byte() {
        let mut w = ZeroizingWriter::with_capacity(4);
        let mut expected = Vec::new();
        for i in 0..1000u32 {
            let chunk = i.to_be_bytes();
            w.write_all(&chunk).unwrap();
            expected.extend_from_slice(&chunk);
        }
        assert_eq!(&w.into_inner()[..], &expected[..]);
        let doc = BTreeMap::from([("k".repeat(5000), "v".repeat(5000))]);
        let json = to_json_zeroizing(&doc, 16).unwrap();
        assert_eq!(&json[..], &serde_json::to_vec(&doc).unwrap()[..]);
    }

    #[test]
    fn secret_bytes_equality() {
        let a = SecretBytes::from(vec![1u8, 2, 3]);
        assert_eq!(a, SecretBytes::from(vec![1u8, 2, 3]));
        assert_ne!(a, SecretBytes::from(vec![1u8, 2, 4]));
        assert_ne!(a, SecretBytes::from(vec![1u8, 2]));
        assert_ne!(a, SecretBytes::from(vec![1u8, 2, 3, 0]));
    }
}
