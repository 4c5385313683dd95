//! The wrapped-DEK blob: a data key encrypted for one recipient, stored beside (not inside) the
//! authenticated header so it can be rewrapped without re-encrypting the object.
//!
//! ```text
//! offset  size field
//!      0     1 version 0x01
//!      1     1 wrap algorithm (WrapAlgorithm)
//!      2     1 L = key id length (0..=255)
//!      3     L key id (UTF-8)
//!    3+L     4 key version (BE32)
//!    7+L    32 wrap salt
//!   39+L     2 M = ciphertext length (BE16, 1..=4096)
//!   41+L     M ciphertext (algorithm-specific)
//! ```
//! The "blob prefix" is bytes `0..41+L`; local wraps authenticate it as AAD.

use crate::Error;
use crate::format::{be16, be32};

/// Blob format version.
pub const WRAPPED_KEY_VERSION: u8 = 1;
/// Largest ciphertext a blob may carry.
pub const MAX_WRAPPED_CIPHERTEXT: usize = 4096;
/// Largest serialized blob.
pub const MAX_WRAPPED_KEY_LEN: usize = 41 + 255 + MAX_WRAPPED_CIPHERTEXT;
/// Ciphertext length of the local wrap algorithms: 32-byte DEK plus 16-byte tag.
pub const LOCAL_WRAP_CIPHERTEXT_LEN: usize = 48;

/// How the DEK in a blob is wrapped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WrapAlgorithm {
    /// A local key-encryption key (the server's root key, a key file): HKDF-SHA-256 + AES-256-GCM.
    LocalKek,
    /// A KMS ciphertext blob; the KMS encryption context carries the context hash and suite.
    Kms,
    /// An SSE-C customer key used as a key-encryption key; same construction as `LocalKek`.
    CustomerKey,
}

impl WrapAlgorithm {
    /// Wire id.
    pub const fn id(self) -> u8 {
        match self {
            WrapAlgorithm::LocalKek => 1,
            WrapAlgorithm::Kms => 2,
            WrapAlgorithm::CustomerKey => 3,
        }
    }

    /// The algorithm with this wire id.
    ///
    /// # Errors
    /// [`Error::UnknownWrapAlgorithm`].
    pub const fn from_id(id: u8) -> Result<Self, Error> {
        match id {
            1 => Ok(WrapAlgorithm::LocalKek),
            2 => Ok(WrapAlgorithm::Kms),
            3 => Ok(WrapAlgorithm::CustomerKey),
            other => Err(Error::UnknownWrapAlgorithm(other)),
        }
    }
}

/// A parsed blob, borrowing its bytes.
///
/// ```
/// use objseal_core::format::wrapped_key::{WrappedKey, WrapAlgorithm};
/// let blob = WrappedKey { algorithm: WrapAlgorithm::Kms, key_id: "alias/app", key_version: 3,
///                         wrap_salt: [0; 32], ciphertext: b"opaque" };
/// let mut buf = [0u8; 128];
/// let n = blob.encode(&mut buf).unwrap();
/// assert_eq!(WrappedKey::parse(&buf[..n]).unwrap(), blob);
/// assert!(WrappedKey::parse(&buf[..n - 1]).is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WrappedKey<'a> {
    /// How the DEK is wrapped.
    pub algorithm: WrapAlgorithm,
    /// Which key wraps it (a KMS key ARN or alias, a local key name, or the SSE-C key's fingerprint).
    pub key_id: &'a str,
    /// Version of that key.
    pub key_version: u32,
    /// Random salt of the wrap-key derivation.
    pub wrap_salt: [u8; 32],
    /// The wrapped DEK.
    pub ciphertext: &'a [u8],
}

impl<'a> WrappedKey<'a> {
    /// Parses exactly one blob.
    ///
    /// # Errors
    /// [`Error::BadWrappedKey`] for any malformed byte, [`Error::UnknownWrapAlgorithm`].
    pub fn parse(bytes: &'a [u8]) -> Result<Self, Error> {
        if bytes.len() < 3 {
            return Err(Error::BadWrappedKey("too short"));
        }
        if bytes[0] != WRAPPED_KEY_VERSION {
            return Err(Error::BadWrappedKey("unsupported version"));
        }
        let algorithm = WrapAlgorithm::from_id(bytes[1])?;
        let id_len = usize::from(bytes[2]);
        let prefix = 41 + id_len;
        if bytes.len() < prefix {
            return Err(Error::BadWrappedKey("too short"));
        }
        let key_id = core::str::from_utf8(&bytes[3..3 + id_len])
            .map_err(|_| Error::BadWrappedKey("key id not UTF-8"))?;
        let key_version = be32(bytes, 3 + id_len);
        let mut wrap_salt = [0u8; 32];
        wrap_salt.copy_from_slice(&bytes[7 + id_len..39 + id_len]);
        let ct_len = usize::from(be16(bytes, 39 + id_len));
        if ct_len == 0 || ct_len > MAX_WRAPPED_CIPHERTEXT {
            return Err(Error::BadWrappedKey("ciphertext length out of range"));
        }
        if bytes.len() != prefix + ct_len {
            return Err(Error::BadWrappedKey("length does not match"));
        }
        let blob = Self {
            algorithm,
            key_id,
            key_version,
            wrap_salt,
            ciphertext: &bytes[prefix..],
        };
        if matches!(
            algorithm,
            WrapAlgorithm::LocalKek | WrapAlgorithm::CustomerKey
        ) && ct_len != LOCAL_WRAP_CIPHERTEXT_LEN
        {
            return Err(Error::BadWrappedKey(
                "local wrap must hold exactly a 32-byte key",
            ));
        }
        Ok(blob)
    }

    /// Serialized length.
    pub fn encoded_len(&self) -> usize {
        41 + self.key_id.len() + self.ciphertext.len()
    }

    /// Writes the bytes before the ciphertext (the "blob prefix") into `out`; returns its length.
    ///
    /// # Errors
    /// [`Error::BadWrappedKey`] for a key id over 255 bytes or a ciphertext length out of range,
    /// [`Error::BufferTooSmall`].
    pub fn encode_prefix(&self, out: &mut [u8]) -> Result<usize, Error> {
        let id_len = u8::try_from(self.key_id.len())
            .map_err(|_| Error::BadWrappedKey("key id longer than 255 bytes"))?;
        if self.ciphertext.is_empty() || self.ciphertext.len() > MAX_WRAPPED_CIPHERTEXT {
            return Err(Error::BadWrappedKey("ciphertext length out of range"));
        }
        let prefix = 41 + self.key_id.len();
        let out = out
            .get_mut(..prefix)
            .ok_or(Error::BufferTooSmall { needed: prefix })?;
        out[0] = WRAPPED_KEY_VERSION;
        out[1] = self.algorithm.id();
        out[2] = id_len;
        out[3..3 + self.key_id.len()].copy_from_slice(self.key_id.as_bytes());
        let at = 3 + self.key_id.len();
        out[at..at + 4].copy_from_slice(&self.key_version.to_be_bytes());
        out[at + 4..at + 36].copy_from_slice(&self.wrap_salt);
        out[at + 36..at + 38].copy_from_slice(&(self.ciphertext.len() as u16).to_be_bytes());
        Ok(prefix)
    }

    /// Serializes the blob into `out`; returns its length.
    ///
    /// # Errors
    /// As [`WrappedKey::encode_prefix`].
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, Error> {
        let len = self.encoded_len();
        if out.len() < len {
            return Err(Error::BufferTooSmall { needed: len });
        }
        let prefix = self.encode_prefix(out)?;
        out[prefix..len].copy_from_slice(self.ciphertext);
        Ok(len)
    }
}
