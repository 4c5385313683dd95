//! [`EncryptingClient`]: an S3 client that encrypts before upload and decrypts after download.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use objseal_core::range::ByteRange;

use crate::keyring::{Keyring, ResolvedKeyring};
use crate::layout::Location;
use crate::{ClientConfig, ClientError};

/// How [`EncryptingClient::put`] writes an object.
#[derive(Clone, Debug, Default)]
pub struct PutOptions {
    /// The caller's encryption context; readers must give the same pairs. Keys starting with `aws:`
    /// are reserved.
    pub context: BTreeMap<String, String>,
    /// Whether the context binds the object to its bucket and key ([`Location::Here`], the default)
    /// or to nothing ([`Location::Unbound`]); `WrittenAs` is for readers.
    pub location: Location,
    /// The object's `Content-Type`.
    pub content_type: Option<String>,
    /// User metadata stored in the clear beside the object (names without `x-amz-meta-`; names
    /// starting with `objseal-` or `x-amz-` are reserved).
    pub metadata: HashMap<String, String>,
    /// The format written.
    pub format: WriteFormat,
}

/// The object format [`EncryptingClient::put`] writes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum WriteFormat {
    /// OSE1 (`docs/FORMAT.md`): streaming, multipart, ranged reads, several recipients.
    #[default]
    Objseal,
    /// The AWS S3 Encryption Client's V3 format (committing suite 115), for readers that use that
    /// client. One GCM message: written in one `PutObject`, read whole. Needs a KMS recipient (the
    /// first is used) and [`Location::Unbound`]: the format binds no location.
    S3ecV3,
}

/// How [`EncryptingClient::get`] reads an object.
#[derive(Clone, Debug, Default)]
pub struct GetOptions {
    /// The encryption context the object was written with.
    pub context: BTreeMap<String, String>,
    /// Where the object was written: [`Location::Here`] unless it was copied byte for byte.
    pub location: Location,
    /// A plaintext byte range; `None`: the whole object.
    pub range: Option<ByteRange>,
    /// Whether AWS S3 Encryption Client objects are read at all. Off by default: that format binds
    /// no object location, so anyone who may write to the bucket could put another such object —
    /// under a KMS key this client uses, with the same context — in this one's place.
    pub accept_s3ec: bool,
    /// Whether AWS S3 Encryption Client objects without key commitment (its V2 format) are read
    /// (with [`accept_s3ec`](Self::accept_s3ec)).
    pub commitment: crate::s3ec::CommitmentPolicy,
}

/// What a read returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GetOutput {
    /// The plaintext length of the whole object.
    pub object_len: u64,
    /// The plaintext bytes delivered (the range, or the whole object).
    pub range: core::ops::Range<u64>,
    /// The object's format.
    pub format: ObjectFormat,
    /// The store's ETag of the version read.
    pub etag: Option<String>,
}

/// The format of a stored object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ObjectFormat {
    /// OSE1, unsegmented (one `PutObject`).
    Objseal,
    /// OSE1, segmented (a multipart upload; the manifest in the instruction object).
    ObjsealMultipart,
    /// The AWS S3 Encryption Client's V2 format (no key commitment).
    S3ecV2,
    /// The AWS S3 Encryption Client's V3 format (suite 115, committing).
    S3ecV3,
}

/// What a write stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PutOutput {
    /// The plaintext length.
    pub plaintext_len: u64,
    /// The stored (ciphertext) length.
    pub stored_len: u64,
    /// Parts of the multipart upload (0: a single `PutObject`).
    pub parts: u32,
    /// The store's ETag.
    pub etag: Option<String>,
}

/// An S3 client that encrypts before upload and decrypts after download.
///
/// Cloning is cheap and shares the connection pool.
#[derive(Clone, Debug)]
pub struct EncryptingClient {
    pub(crate) s3: aws_sdk_s3::Client,
    pub(crate) keys: Arc<ResolvedKeyring>,
    pub(crate) config: Arc<ClientConfig>,
}

impl EncryptingClient {
    /// Builds the client: checks `config`, reads the AWS environment for what it leaves open, and
    /// resolves the keyring's KMS keys to ARNs (`DescribeKey`). Sends nothing to S3.
    ///
    /// # Errors
    /// [`ClientError::InvalidArgument`] for a bad configuration; the KMS's refusal of a key.
    pub async fn connect(config: ClientConfig, keys: Keyring) -> Result<Self, ClientError> {
        config.validate()?;
        let s3 = config.s3_client().await;
        Self::with_s3_client(s3, config, keys).await
    }

    /// As [`connect`](Self::connect), over an `aws-sdk-s3` client configured by the caller.
    ///
    /// # Errors
    /// As [`connect`](Self::connect).
    pub async fn with_s3_client(
        s3: aws_sdk_s3::Client,
        config: ClientConfig,
        keys: Keyring,
    ) -> Result<Self, ClientError> {
        config.validate()?;
        let keys = keys.resolve().await?;
        Ok(Self {
            s3,
            keys: Arc::new(keys),
            config: Arc::new(config),
        })
    }

    /// The underlying `aws-sdk-s3` client (it sends and receives only what the store holds).
    pub fn s3(&self) -> &aws_sdk_s3::Client {
        &self.s3
    }

    /// The configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// The resolved keys.
    pub fn keys(&self) -> &ResolvedKeyring {
        &self.keys
    }

    /// Encrypts `data` and stores it as `bucket`/`key`.
    ///
    /// # Errors
    /// As [`put_stream`](Self::put_stream).
    pub async fn put(
        &self,
        bucket: &str,
        key: &str,
        data: &[u8],
        options: &PutOptions,
    ) -> Result<PutOutput, ClientError> {
        let mut reader = data;
        self.put_stream(bucket, key, &mut reader, options).await
    }

    /// Reads, verifies and decrypts `bucket`/`key` (or its range) into memory. Nothing is returned
    /// unless every byte verified.
    ///
    /// # Errors
    /// As [`get_to`](Self::get_to).
    pub async fn get(
        &self,
        bucket: &str,
        key: &str,
        options: &GetOptions,
    ) -> Result<(Vec<u8>, GetOutput), ClientError> {
        let mut out = Vec::new();
        let info = self.get_to(bucket, key, options, &mut out).await?;
        Ok((out, info))
    }
}
