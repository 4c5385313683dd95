//! Client-side encryption for any S3 endpoint: data is encrypted before it leaves the caller, and
//! the store — `objseal serve`, MinIO, Ceph, AWS S3 — only ever holds ciphertext and wrapped keys.
//!
//! [`EncryptingClient`] wraps the AWS SDK for Rust's S3 client (configured like any AWS client:
//! endpoint, region, credentials and profiles from the usual environment and files). Objects are
//! OSE1 (`docs/FORMAT.md`; their place on the store is §16):
//!
//! - **Keys** ([`Keyring`]): KMS master keys through any [`objseal_kms::Kms`] (the embedded
//!   keystore, `objseal kms serve`, AWS KMS) and local key-encryption keys, several recipients per
//!   object. Readers use only the keys they were configured with (strict); following the key a blob
//!   names is an explicit opt-in ([`Keyring::with_discovery`]).
//! - **Context**: the caller's pairs, plus `aws:s3:arn` binding the object to its bucket and key,
//!   so an object moved to another name is refused unless the reader says where it was written.
//! - **Streaming, parallel, bounded memory**: large objects go up as multipart uploads, one OSE1
//!   segment per part, parts sealed and uploaded concurrently; downloads fetch ranges concurrently
//!   and write in order. Memory is about `part_size × concurrency × 2`, whatever the object's size.
//! - **Authenticated ranged reads** fetch and open only the chunks they need, after the header (and
//!   a multipart object's manifest) verified.
//! - **AWS S3 Encryption Client** objects ([`s3ec`]): V2 and V3 are read, V3 written, under a
//!   commitment policy.
//! - **Rewrap**: new wrapped keys by a metadata-replacing self-copy; the data is not rewritten.
//!
//! ```no_run
//! # async fn demo() -> Result<(), objseal_client::ClientError> {
//! use std::sync::Arc;
//! use objseal_client::{ClientConfig, EncryptingClient, GetOptions, Keyring, PutOptions};
//! use objseal_core::{Kek, wrap::LocalKek};
//!
//! let kek = LocalKek::new(Kek::generate()?, "my-kek", 1)?;
//! let config = ClientConfig {
//!     endpoint_url: Some("http://127.0.0.1:9000".into()),
//!     force_path_style: true,
//!     ..ClientConfig::default()
//! };
//! let client = EncryptingClient::connect(config, Keyring::new().with_kek(kek)).await?;
//! client.put("photos", "cat.jpg", b"meow", &PutOptions::default()).await?;
//! let (plaintext, _) = client.get("photos", "cat.jpg", &GetOptions::default()).await?;
//! assert_eq!(plaintext, b"meow");
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod client;
mod config;
mod error;
mod get;
mod keyring;
pub mod layout;
mod ops;
mod pipe;
mod put;
mod rewrap;
pub mod s3ec;
mod s3ec_io;
#[cfg(test)]
mod vector_tests;

pub use client::{
    EncryptingClient, GetOptions, GetOutput, ObjectFormat, PutOptions, PutOutput, WriteFormat,
};
pub use config::{ClientConfig, MAX_PARTS, MIN_PART_SIZE};
pub use error::ClientError;
pub use keyring::{Keyring, MAX_RECIPIENTS, Recipient, ResolvedKeyring};
pub use layout::Location;
pub use objseal_core::range::ByteRange;
pub use ops::{ListEntry, ObjectInfo};
pub use rewrap::RewrapOutput;
pub use s3ec::CommitmentPolicy;
