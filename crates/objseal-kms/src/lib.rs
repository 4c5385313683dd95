//! Key management for objseal: envelope encryption with data keys under versioned master keys.
//!
//! The [`Kms`] trait is what every adapter (the SSE server, the CSE client, the CLI) asks for data keys
//! and for unwrapping them. Its operations and error names follow AWS KMS one-to-one, so the same code
//! runs against the embedded keystore, against `objseal kms serve`, against AWS KMS itself or any
//! compatible service.
//!
//! | module | what |
//! |---|---|
//! | [`keystore`] | [`LocalKms`], the embedded default: one store file sealed under a root key, versioned keys, AWS key states, lazy rotation and deletion |
//! | [`blob`] | the keystore's self-describing ciphertext blobs (`OSKB`, FORMAT.md §14) |
//! | [`audit`] | the append-only JSON-lines audit log |
//! | [`cache`] | the opt-in, bounded data-key cache |
//! | [`envelope`] | OSE1 data keys from any `Kms` (wrapped-key algorithm 2, FORMAT.md §7) |
//! | [`principal`] | named principals (TOML), their ARNs and identities |
//! | [`policy`] | access policies in the AWS JSON shape (a documented subset) and their evaluation: the engine under key policies and bucket policies |
//! | `server` (feature `server`) | the AWS KMS JSON 1.1 protocol with SigV4 over any `Kms` (`objseal kms serve`) |
//! | `remote` (feature `remote`) | a `Kms` over the AWS SDK for Rust: AWS KMS, `objseal kms serve`, moto |
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod audit;
pub mod blob;
pub mod cache;
pub mod clock;
pub mod envelope;
mod error;
pub mod keystore;
pub mod policy;
pub mod principal;
#[cfg(any(feature = "remote", feature = "server"))]
mod remote_headers {
    //! The headers of a request a service makes on behalf of a principal
    //! ([`Kms::on_behalf_of`](crate::Kms::on_behalf_of) over the network).

    /// The header a service principal names the principal it acts for in (its user name); it must
    /// be signed, and `objseal kms serve` honours it only from principals configured as services.
    pub const ON_BEHALF_OF_HEADER: &str = "x-objseal-on-behalf-of";
    /// The header carrying the original client's address, for the KMS's audit record.
    pub const SOURCE_ADDRESS_HEADER: &str = "x-objseal-source-address";
    /// The header carrying the original request's id, for the KMS's audit record.
    pub const SOURCE_REQUEST_ID_HEADER: &str = "x-objseal-source-request-id";
}
#[cfg(feature = "remote")]
pub mod remote;
#[cfg(feature = "server")]
pub mod server;
mod types;

pub use error::KmsError;
pub use keystore::{LocalKms, LocalKmsConfig, RootKey};
pub use types::*;

use std::sync::Arc;

use async_trait::async_trait;

/// The only key policy name AWS KMS has.
pub const DEFAULT_POLICY_NAME: &str = "default";

/// A key management service: data keys under named, versioned master keys.
///
/// Every `key_id` argument accepts what AWS KMS accepts: a key id (UUID), a key ARN, an alias name
/// (`alias/…`) or an alias ARN. Encryption contexts are bound exactly: decrypting needs the very map
/// that encrypting used (keys and values compared case-sensitively, order irrelevant).
///
/// Implementations are shareable across threads and tasks (`Send + Sync`); the trait is object safe,
/// so adapters hold an `Arc<dyn Kms>`.
#[async_trait]
pub trait Kms: Send + Sync {
    /// Creates a new symmetric master key (`CreateKey`).
    async fn create_key(&self, request: CreateKeyRequest) -> Result<KeyMetadata, KmsError>;
    /// Describes a key (`DescribeKey`).
    async fn describe_key(&self, key_id: &str) -> Result<KeyMetadata, KmsError>;
    /// Lists every key, pending deletion included (`ListKeys`).
    async fn list_keys(&self) -> Result<Vec<KeyListEntry>, KmsError>;
    /// Points a new alias (`alias/…`) at a key (`CreateAlias`).
    async fn create_alias(&self, alias_name: &str, target_key_id: &str) -> Result<(), KmsError>;
    /// Deletes an alias; the key stays (`DeleteAlias`).
    async fn delete_alias(&self, alias_name: &str) -> Result<(), KmsError>;
    /// Lists aliases, all or those of one key (`ListAliases`).
    async fn list_aliases(&self, key_id: Option<&str>) -> Result<Vec<AliasEntry>, KmsError>;
    /// Enables a disabled key (`EnableKey`).
    async fn enable_key(&self, key_id: &str) -> Result<(), KmsError>;
    /// Disables a key: it refuses every cryptographic operation until enabled (`DisableKey`).
    async fn disable_key(&self, key_id: &str) -> Result<(), KmsError>;
    /// Turns on automatic yearly (or `rotation_period_days`, 90–2560) rotation (`EnableKeyRotation`).
    async fn enable_key_rotation(
        &self,
        key_id: &str,
        rotation_period_days: Option<u32>,
    ) -> Result<(), KmsError>;
    /// Turns off automatic rotation (`DisableKeyRotation`).
    async fn disable_key_rotation(&self, key_id: &str) -> Result<(), KmsError>;
    /// Whether automatic rotation is on, its period and next date (`GetKeyRotationStatus`).
    async fn get_key_rotation_status(&self, key_id: &str) -> Result<RotationStatus, KmsError>;
    /// Adds a new key version now; old versions still decrypt (`RotateKeyOnDemand`). Returns the key id.
    async fn rotate_key_on_demand(&self, key_id: &str) -> Result<String, KmsError>;
    /// Lists the rotations of a key, oldest first (`ListKeyRotations`).
    async fn list_key_rotations(&self, key_id: &str) -> Result<Vec<RotationEntry>, KmsError>;
    /// Schedules deletion after 7–30 days, 30 by default (`ScheduleKeyDeletion`).
    async fn schedule_key_deletion(
        &self,
        key_id: &str,
        pending_window_days: Option<u32>,
    ) -> Result<DeletionSchedule, KmsError>;
    /// Cancels a scheduled deletion; the key comes back disabled (`CancelKeyDeletion`). Returns the key id.
    async fn cancel_key_deletion(&self, key_id: &str) -> Result<String, KmsError>;
    /// A fresh data key, in plaintext and wrapped under the key's newest version (`GenerateDataKey`).
    async fn generate_data_key(
        &self,
        key_id: &str,
        context: &EncryptionContext,
        spec: DataKeySpec,
    ) -> Result<DataKey, KmsError>;
    /// A fresh data key, wrapped only (`GenerateDataKeyWithoutPlaintext`).
    async fn generate_data_key_without_plaintext(
        &self,
        key_id: &str,
        context: &EncryptionContext,
        spec: DataKeySpec,
    ) -> Result<Ciphertext, KmsError>;
    /// Encrypts up to 4096 bytes under the key's newest version (`Encrypt`).
    async fn encrypt(
        &self,
        key_id: &str,
        plaintext: &[u8],
        context: &EncryptionContext,
    ) -> Result<Ciphertext, KmsError>;
    /// Decrypts a ciphertext blob (`Decrypt`). The blob names its key; when `key_id` is given it must
    /// be that key (`IncorrectKeyException` otherwise).
    async fn decrypt(
        &self,
        ciphertext_blob: &[u8],
        context: &EncryptionContext,
        key_id: Option<&str>,
    ) -> Result<Plaintext, KmsError>;
    /// Decrypts under one key and context and encrypts under another, without the plaintext leaving
    /// the service (`ReEncrypt`).
    async fn re_encrypt(&self, request: ReEncryptRequest<'_>) -> Result<ReEncrypted, KmsError>;
    /// Random bytes from the service's generator, 1–1024 of them (`GenerateRandom`).
    async fn generate_random(&self, number_of_bytes: usize) -> Result<SecretBytes, KmsError>;
    /// The key's policy document (`GetKeyPolicy`, policy name `default`).
    async fn get_key_policy(&self, key_id: &str) -> Result<String, KmsError>;
    /// Replaces the key's policy (`PutKeyPolicy`). Unless `bypass_policy_lockout_safety_check`, a
    /// policy that would not let the caller change it again is refused
    /// (`MalformedPolicyDocumentException`), as AWS does.
    async fn put_key_policy(
        &self,
        key_id: &str,
        policy: &str,
        bypass_policy_lockout_safety_check: bool,
    ) -> Result<(), KmsError>;
    /// The key's policy names (`ListKeyPolicies`): always `["default"]`.
    async fn list_key_policies(&self, key_id: &str) -> Result<Vec<String>, KmsError>;
    /// A handle whose requests are made on behalf of `delegation.identity` through a service: the
    /// KMS checks key policies for that principal (with `kms:ViaService`) and its audit log names
    /// both the principal and the service.
    fn on_behalf_of(&self, delegation: &Delegation) -> Arc<dyn Kms>;
}
