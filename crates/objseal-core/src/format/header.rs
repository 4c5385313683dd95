//! The 104-byte object header.
//!
//! ```text
//! offset size field
//!      0    4 magic "OSE" ‖ version 0x01
//!      4    2 suite id (BE16), 0x0001 = AES-256-GCM chunks, HKDF-SHA-256, HMAC-SHA-256 commitment
//!      6    1 chunk_log2 (12..=24)
//!      7    1 flags: bit 0 = segmented; other bits reserved, must be 0
//!      8   32 object_salt
//!     40   32 ctx_hash = SHA-256 of the canonical encryption context
//!     72   32 header_tag = HMAC-SHA-256(K_hdr, bytes 0..72)
//! ```

use crate::Error;
use crate::format::be16;

/// Magic bytes at offset 0.
pub const MAGIC: [u8; 3] = *b"OSE";
/// The one format version this library writes and reads.
pub const VERSION: u8 = 1;
/// Length of a serialized header.
pub const HEADER_LEN: usize = 104;
/// Length of the header bytes covered by the header tag (everything before the tag).
pub const HEADER_PREFIX_LEN: usize = 72;
/// Smallest allowed `chunk_log2` (4 KiB chunks).
pub const MIN_CHUNK_LOG2: u8 = 12;
/// Largest allowed `chunk_log2` (16 MiB chunks).
pub const MAX_CHUNK_LOG2: u8 = 24;
/// Default `chunk_log2` (64 KiB chunks).
pub const DEFAULT_CHUNK_LOG2: u8 = 16;
/// Header flag: the object is a sequence of independently keyed segments described by a manifest.
pub const FLAG_SEGMENTED: u8 = 0x01;

/// Cipher suites.
///
/// ```
/// use objseal_core::format::header::Suite;
/// assert_eq!(Suite::from_id(1).unwrap(), Suite::Aes256GcmHkdfSha256);
/// assert!(Suite::from_id(2).is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Suite {
    /// AES-256-GCM chunks, HKDF-SHA-256 key schedule, HMAC-SHA-256 header and manifest tags.
    Aes256GcmHkdfSha256,
}

impl Suite {
    /// The suite's wire id.
    pub const fn id(self) -> u16 {
        match self {
            Suite::Aes256GcmHkdfSha256 => 0x0001,
        }
    }

    /// The suite with this wire id.
    ///
    /// # Errors
    /// [`Error::UnknownSuite`] for ids this library does not implement.
    pub const fn from_id(id: u16) -> Result<Self, Error> {
        match id {
            0x0001 => Ok(Suite::Aes256GcmHkdfSha256),
            other => Err(Error::UnknownSuite(other)),
        }
    }
}

/// A parsed header. Parsing checks structure only; [`crate::ObjectKey::open`] checks the tag.
///
/// ```
/// use objseal_core::format::header::{Header, HEADER_LEN};
/// assert!(Header::parse(&[0u8; HEADER_LEN]).is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// Cipher suite.
    pub suite: Suite,
    /// log2 of the plaintext chunk size.
    pub chunk_log2: u8,
    /// Whether the object is segmented (multipart).
    pub segmented: bool,
    /// Random per-object salt of the key schedule.
    pub object_salt: [u8; 32],
    /// SHA-256 of the canonical encryption context.
    pub ctx_hash: [u8; 32],
    /// HMAC-SHA-256 over the first 72 bytes under `K_hdr`.
    pub tag: [u8; 32],
}

impl Header {
    /// Parses the first [`HEADER_LEN`] bytes of `bytes` (more may follow).
    ///
    /// # Errors
    /// [`Error::TooShort`], [`Error::BadMagic`], [`Error::UnsupportedVersion`], [`Error::UnknownSuite`],
    /// [`Error::BadChunkSize`] or [`Error::BadFlags`], checked in that order.
    pub fn parse(bytes: &[u8]) -> Result<Self, Error> {
        let bytes = bytes
            .get(..HEADER_LEN)
            .ok_or(Error::TooShort { what: "header" })?;
        if bytes[..3] != MAGIC {
            return Err(Error::BadMagic);
        }
        if bytes[3] != VERSION {
            return Err(Error::UnsupportedVersion(bytes[3]));
        }
        let suite = Suite::from_id(be16(bytes, 4))?;
        let chunk_log2 = bytes[6];
        if !(MIN_CHUNK_LOG2..=MAX_CHUNK_LOG2).contains(&chunk_log2) {
            return Err(Error::BadChunkSize(chunk_log2));
        }
        let flags = bytes[7];
        if flags & !FLAG_SEGMENTED != 0 {
            return Err(Error::BadFlags(flags));
        }
        let mut header = Header {
            suite,
            chunk_log2,
            segmented: flags & FLAG_SEGMENTED != 0,
            object_salt: [0; 32],
            ctx_hash: [0; 32],
            tag: [0; 32],
        };
        header.object_salt.copy_from_slice(&bytes[8..40]);
        header.ctx_hash.copy_from_slice(&bytes[40..72]);
        header.tag.copy_from_slice(&bytes[72..104]);
        Ok(header)
    }

    /// Parses a header that must be exactly [`HEADER_LEN`] bytes, as stored in object metadata.
    ///
    /// # Errors
    /// [`Error::BadLength`] for any other length, then as [`Header::parse`].
    ///
    /// ```
    /// use objseal_core::{Header, HEADER_LEN};
    /// assert_eq!(Header::parse_exact(&[0u8; HEADER_LEN + 1]).unwrap_err(), objseal_core::Error::BadLength);
    /// ```
    pub fn parse_exact(bytes: &[u8]) -> Result<Self, Error> {
        if bytes.len() != HEADER_LEN {
            return Err(Error::BadLength);
        }
        Self::parse(bytes)
    }

    /// The bytes covered by the header tag.
    pub fn prefix_bytes(&self) -> [u8; HEADER_PREFIX_LEN] {
        let mut out = [0u8; HEADER_PREFIX_LEN];
        out[..3].copy_from_slice(&MAGIC);
        out[3] = VERSION;
        out[4..6].copy_from_slice(&self.suite.id().to_be_bytes());
        out[6] = self.chunk_log2;
        out[7] = if self.segmented { FLAG_SEGMENTED } else { 0 };
        out[8..40].copy_from_slice(&self.object_salt);
        out[40..72].copy_from_slice(&self.ctx_hash);
        out
    }

    /// The serialized header.
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[..HEADER_PREFIX_LEN].copy_from_slice(&self.prefix_bytes());
        out[HEADER_PREFIX_LEN..].copy_from_slice(&self.tag);
        out
    }

    /// Plaintext bytes per chunk.
    pub const fn chunk_size(&self) -> usize {
        1usize << self.chunk_log2
    }
}
