//! The contract between the [`SseLayer`](crate::SseLayer) and the inner store it wraps.
//!
//! The inner store is any [`s3s::S3`] implementation that stores what it is given. The layer
//! keeps its own state in the object's user metadata under keys that start with
//! [`RESERVED_PREFIX`]; the store keeps those entries verbatim like any other user metadata and
//! returns them on `HeadObject` / `GetObject`. Clients can neither set nor see them: the layer
//! refuses such keys on write and strips them on read.
//!
//! Two things cannot be known before a body has been read — the plaintext's size, MD5 and
//! checksums, and a multipart object's manifest — and S3 has no call that changes metadata
//! atomically afterwards. For these the layer puts a [`LateMetadata`] into the request's
//! extensions on `PutObject` and `CompleteMultipartUpload`: a store that honours it merges the
//! entries into the object's metadata in the same atomic step that makes the object visible.
//! [`LocalStore`](crate::LocalStore) does.
//!
//! A `LateMetadata` may also ride on `UploadPart`. Two of its entries are instructions rather
//! than data: [`LATE_ETAG`] is the ETag the store records and reports (in responses, listings
//! and `ListParts`) instead of computing its own — a request with `LateMetadata` always gets
//! one, so the store need not hash the body — and [`LATE_SIZE`] is the size listings report for
//! the object (its plaintext size). Everything else the store keeps without looking at it.
//!
//! The server puts a [`Transport`] into every request's extensions so the layer can tell TLS
//! connections from plain ones (SSE-C is refused over plain HTTP).
//!
//! A bucket's [`BlockedEncryptionTypes`] (part of S3's bucket encryption configuration, missing
//! from s3s 0.14.1's DTOs) ride in the extensions too: in the request of `PutBucketEncryption`
//! (the list of the configuration's rule; absent means none) and in the response of
//! `GetBucketEncryption` (absent means none). A store that keeps bucket encryption configurations
//! keeps it with them and drops it with them on `DeleteBucketEncryption`;
//! [`LocalStore`](crate::LocalStore) does.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Metadata keys with this prefix belong to the layer, never to clients.
pub const RESERVED_PREFIX: &str = "objseal-";

/// The late entry naming the ETag to record and report.
pub const LATE_ETAG: &str = "objseal-etag";

/// The late entry naming the size listings report.
pub const LATE_SIZE: &str = "objseal-size";

/// Metadata entries the layer hands to the store after the body has been read.
///
/// The layer fills it, at the latest, when the body stream it gave the store yields its last
/// item (`None`). A body stream that ends with an error means the write must not happen at all.
#[derive(Clone, Default, Debug)]
pub struct LateMetadata(Arc<Mutex<Option<HashMap<String, String>>>>);

impl LateMetadata {
    /// A new, empty slot.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the entries (called by the layer).
    pub fn set(&self, entries: HashMap<String, String>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(entries);
    }

    /// Takes the entries (called by the store, once the body is complete).
    pub fn take(&self) -> Option<HashMap<String, String>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

/// The metadata of the uploads a `ListMultipartUploads` answer lists, by the store's upload id,
/// as given to `CreateMultipartUpload`. A store that can puts it into the response's extensions;
/// the layer then lists each upload under the id its client was given (which carries the upload's
/// sealing), so listed ids work with every multipart call.
#[derive(Clone, Debug, Default)]
pub struct UploadsMetadata(pub HashMap<String, HashMap<String, String>>);

/// How the request reached the server.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Transport {
    /// The connection is TLS.
    pub tls: bool,
    /// The client's address, when known (for audit records).
    pub peer: Option<std::net::SocketAddr>,
}

/// An encryption type a bucket can refuse for new objects (`<EncryptionType>` of S3's
/// `BlockedEncryptionTypes`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EncryptionType {
    /// `SSE-C`: writes that ask for SSE-C are refused (403 `AccessDenied`).
    SseC,
    /// `NONE`: nothing is refused. Amazon S3 takes it to allow SSE-C again explicitly (buckets
    /// made since April 2026 block SSE-C unless told `NONE`); it blocks no write.
    None,
}

impl EncryptionType {
    /// The value on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SseC => "SSE-C",
            Self::None => "NONE",
        }
    }

    /// The type a wire value names, if it names one (exact spelling, as S3's enum).
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "SSE-C" => Some(Self::SseC),
            "NONE" => Some(Self::None),
            _ => None,
        }
    }
}

/// The encryption types a bucket refuses for new objects (S3's `BlockedEncryptionTypes`; see the
/// [module documentation](self) for how it travels). Sorted, without duplicates.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BlockedEncryptionTypes(Vec<EncryptionType>);

impl BlockedEncryptionTypes {
    /// The set of `types` (order and repetition do not matter).
    pub fn new(types: impl IntoIterator<Item = EncryptionType>) -> Self {
        let mut types: Vec<EncryptionType> = types.into_iter().collect();
        types.sort_unstable();
        types.dedup();
        Self(types)
    }

    /// The types, sorted.
    pub fn types(&self) -> &[EncryptionType] {
        &self.0
    }

    /// Whether it lists no type at all.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether writes of `kind` are refused (`NONE` refuses nothing).
    pub fn blocks(&self, kind: EncryptionType) -> bool {
        kind != EncryptionType::None && self.0.contains(&kind)
    }
}

/// A `CopyObject` precondition of the layer's own: the source's stored metadata entry `name` must
/// hold exactly `value` in the version the store copies (checked against the file it opened), or
/// the copy fails with `PreconditionFailed`. The layer's in-place copies name the object's header
/// entry, unique to each write, where an ETag is not (equal plaintexts have equal MD5 ETags). A
/// store must honour it to serve them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CopySourceMetadataMatch {
    /// The metadata name (`objseal-header`).
    pub name: String,
    /// The value it must hold.
    pub value: String,
}

/// The source of an error a store answers a bucket's configuration or policy calls with when
/// the stored configuration fails authentication (a [`RemoteStore`](crate::store::RemoteStore)'s
/// `bucket.json` without a valid tag, FORMAT.md §17.5). The layer's policy gate treats such a
/// bucket as one whose stored policy does not parse: every request is refused (fail closed), but
/// members of `admins` may still replace the policy — which replaces the whole configuration.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UnauthenticatedConfig;

impl std::fmt::Display for UnauthenticatedConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the bucket's stored configuration fails authentication")
    }
}

impl std::error::Error for UnauthenticatedConfig {}

impl UnauthenticatedConfig {
    /// Whether `err` was made from an [`UnauthenticatedConfig`].
    pub fn is_source_of(err: &s3s::S3Error) -> bool {
        err.source()
            .is_some_and(|s| s.downcast_ref::<UnauthenticatedConfig>().is_some())
    }
}
