//! What the layer keeps about an object in the inner store's metadata (the keys under
//! [`RESERVED_PREFIX`](crate::internal::RESERVED_PREFIX)), and how it is read back.

use std::collections::{BTreeMap, HashMap};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use objseal_core::Header;
use s3s::S3Error;
use s3s::dto::Metadata;

use super::errors::corrupt;
use crate::internal::RESERVED_PREFIX;

pub(crate) const SSE: &str = "objseal-sse";
pub(crate) const HEADER: &str = "objseal-header";
pub(crate) const WRAPPED: &str = "objseal-wrapped-key";
pub(crate) const KMS_KEY: &str = "objseal-kms-key-id";
pub(crate) const KMS_CONTEXT: &str = "objseal-kms-context";
pub(crate) const BUCKET_KEY: &str = "objseal-bucket-key";
pub(crate) const SIZE: &str = crate::internal::LATE_SIZE;
pub(crate) const ETAG: &str = crate::internal::LATE_ETAG;
pub(crate) const MANIFEST: &str = "objseal-manifest";
pub(crate) const CHECKSUM_PREFIX: &str = "objseal-checksum-";
/// An encrypted object's checksums, sealed (see `checksum::seal_checksums`).
pub(crate) const SEALED_CHECKSUMS: &str = "objseal-checksums";
/// A pending SSE-C upload's wrapped manifest key (blanked when the upload completes).
pub(crate) const UPLOAD_MANIFEST_KEY: &str = "objseal-upload-manifest-key";

/// The encryption of a stored object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SseKind {
    None,
    S3,
    Kms,
    Customer,
}

impl SseKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SseKind::None => "none",
            SseKind::S3 => "AES256",
            SseKind::Kms => "aws:kms",
            SseKind::Customer => "SSE-C",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "none" => SseKind::None,
            "AES256" => SseKind::S3,
            "aws:kms" => SseKind::Kms,
            "SSE-C" => SseKind::Customer,
            _ => return None,
        })
    }
}

/// The encryption state of an object (or of a multipart upload), as stored.
#[derive(Clone, Debug)]
pub(crate) struct Sealing {
    pub kind: SseKind,
    /// The OSE1 header (absent for `SseKind::None`).
    pub header: Option<Header>,
    /// The wrapped data key blob.
    pub wrapped: Vec<u8>,
    /// SSE-KMS: the key ARN and the caller's context.
    pub kms_key: Option<String>,
    pub kms_context: BTreeMap<String, String>,
    pub bucket_key: bool,
}

impl Sealing {
    /// No encryption.
    pub fn none() -> Self {
        Sealing {
            kind: SseKind::None,
            header: None,
            wrapped: Vec::new(),
            kms_key: None,
            kms_context: BTreeMap::new(),
            bucket_key: false,
        }
    }

    /// The metadata entries that describe this sealing.
    pub fn to_entries(&self, out: &mut HashMap<String, String>) {
        out.insert(SSE.into(), self.kind.as_str().into());
        if let Some(h) = &self.header {
            out.insert(HEADER.into(), B64.encode(h.to_bytes()));
            out.insert(WRAPPED.into(), B64.encode(&self.wrapped));
        }
        if let Some(k) = &self.kms_key {
            out.insert(KMS_KEY.into(), k.clone());
            if !self.kms_context.is_empty() {
                out.insert(
                    KMS_CONTEXT.into(),
                    super::request::encode_kms_context(&self.kms_context),
                );
            }
            if self.bucket_key {
                out.insert(BUCKET_KEY.into(), "true".into());
            }
        }
    }

    /// Reads the sealing from stored metadata; an object written without the layer is `None`.
    pub fn from_metadata(meta: &Metadata) -> Result<Self, S3Error> {
        let Some(kind) = meta.get(SSE) else {
            return Ok(Sealing::none());
        };
        let kind = SseKind::parse(kind).ok_or_else(|| corrupt("unknown encryption kind"))?;
        if kind == SseKind::None {
            return Ok(Sealing::none());
        }
        let header_bytes = meta
            .get(HEADER)
            .and_then(|h| B64.decode(h).ok())
            .ok_or_else(|| corrupt("missing header"))?;
        let header = Header::parse_exact(&header_bytes).map_err(|_| corrupt("malformed header"))?;
        let wrapped = meta
            .get(WRAPPED)
            .and_then(|w| B64.decode(w).ok())
            .ok_or_else(|| corrupt("missing wrapped key"))?;
        let kms_context = match meta.get(KMS_CONTEXT) {
            Some(c) => {
                super::request::parse_kms_context(c).map_err(|_| corrupt("bad KMS context"))?
            }
            None => BTreeMap::new(),
        };
        Ok(Sealing {
            kind,
            header: Some(header),
            wrapped,
            kms_key: meta.get(KMS_KEY).cloned(),
            kms_context,
            bucket_key: meta.get(BUCKET_KEY).is_some_and(|v| v == "true"),
        })
    }
}

/// An object as the layer presents it: its sealing and the facts written after its body.
#[derive(Clone, Debug)]
pub(crate) struct ObjectRecord {
    pub sealing: Sealing,
    /// Plaintext size (`None` for objects written without the layer: the store's size is right).
    pub size: Option<u64>,
    /// The ETag clients see, without quotes.
    pub etag: Option<String>,
    /// Multipart manifest bytes.
    pub manifest: Option<Vec<u8>>,
    /// Checksums of the plaintext of an unencrypted object: algorithm name (e.g. `crc32`) →
    /// base64 value.
    pub checksums: BTreeMap<String, String>,
    /// An encrypted object's checksums, sealed.
    pub sealed_checksums: Option<String>,
}

impl ObjectRecord {
    pub fn from_metadata(meta: Option<&Metadata>) -> Result<Self, S3Error> {
        let empty = Metadata::default();
        let meta = meta.unwrap_or(&empty);
        let sealing = Sealing::from_metadata(meta)?;
        let size = match meta.get(SIZE) {
            Some(s) => Some(s.parse().map_err(|_| corrupt("bad size"))?),
            None => None,
        };
        if sealing.kind != SseKind::None && size.is_none() {
            return Err(corrupt("missing plaintext size"));
        }
        let manifest = match meta.get(MANIFEST) {
            Some(m) => Some(
                B64.decode(m)
                    .map_err(|_| corrupt("bad manifest encoding"))?,
            ),
            None => None,
        };
        let checksums = meta
            .iter()
            .filter_map(|(k, v)| {
                k.strip_prefix(CHECKSUM_PREFIX)
                    .map(|alg| (alg.to_owned(), v.clone()))
            })
            .collect();
        Ok(ObjectRecord {
            sealing,
            size,
            etag: meta.get(ETAG).cloned(),
            manifest,
            checksums,
            sealed_checksums: meta.get(SEALED_CHECKSUMS).cloned(),
        })
    }
}

/// Client metadata names in our namespace are kept escaped, under this prefix: `objseal-X` is
/// stored as `objseal-user-X`, so a client (objseal-client's CSE objects, say) may use any name
/// while the layer's own entries stay apart.
pub(crate) const ESCAPED_USER_PREFIX: &str = "objseal-user-";

/// The client's metadata as the store keeps it: names starting with `objseal-` escaped.
pub(crate) fn stored_user_metadata(meta: Option<Metadata>) -> Option<Metadata> {
    meta.map(|m| {
        m.into_iter()
            .map(|(k, v)| match strip_prefix_ci(&k, RESERVED_PREFIX) {
                Some(rest) => (format!("{ESCAPED_USER_PREFIX}{rest}"), v),
                None => (k, v),
            })
            .collect()
    })
}

/// The client's metadata as the store returns it: ours removed, the client's unescaped.
pub(crate) fn user_metadata(meta: Option<Metadata>) -> Option<Metadata> {
    meta.map(|m| {
        m.into_iter()
            .filter_map(|(k, v)| match strip_prefix_ci(&k, ESCAPED_USER_PREFIX) {
                Some(rest) => Some((format!("{RESERVED_PREFIX}{rest}"), v)),
                None if strip_prefix_ci(&k, RESERVED_PREFIX).is_some() => None,
                None => Some((k, v)),
            })
            .collect()
    })
}

/// `name` without `prefix`, compared ASCII-case-insensitively (metadata names are).
fn strip_prefix_ci<'a>(name: &'a str, prefix: &str) -> Option<&'a str> {
    let head = name.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &name[prefix.len()..])
}

/// The most user metadata an object takes (keys and values, UTF-8 bytes), as on Amazon S3.
pub(crate) const MAX_USER_METADATA: usize = 2048;

/// Refuses more than [`MAX_USER_METADATA`] of client metadata.
pub(crate) fn check_user_metadata(meta: Option<&Metadata>) -> Result<(), S3Error> {
    let size: usize = meta.map_or(0, |m| m.iter().map(|(k, v)| k.len() + v.len()).sum());
    if size > MAX_USER_METADATA {
        return Err(S3Error::with_message(
            s3s::S3ErrorCode::MetadataTooLarge,
            format!(
                "Your metadata headers exceed the maximum allowed metadata size ({size} > {MAX_USER_METADATA} bytes)."
            ),
        ));
    }
    Ok(())
}
