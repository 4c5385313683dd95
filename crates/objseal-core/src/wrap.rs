//! Key wrapping: the recipient/identity traits, and the local key-encryption-key implementation.
//!
//! A [`KeyWrap`] turns a DEK into a [`WrappedKey`] blob bound to the object's context hash; a
//! [`KeyUnwrap`] turns a blob back into the DEK. Local KEKs and SSE-C customer keys live here; KMS
//! adapters implement the same traits in their own crates.
//!
//! Local wrap (algorithms `LocalKek` and `CustomerKey`):
//! ```text
//! wrap_key   = HKDF-SHA-256(IKM = KEK, salt = wrap_salt, info = LABEL_WRAP ‖ blob_prefix ‖ ctx_hash)
//! ciphertext = AES-256-GCM(wrap_key, nonce = 0^12, aad = blob_prefix ‖ ctx_hash, DEK)   (48 bytes)
//! ```
//! The zero nonce is safe because every wrap key is used exactly once (fresh random `wrap_salt`).

use crate::Error;
use crate::format::wrapped_key::{
    LOCAL_WRAP_CIPHERTEXT_LEN, MAX_WRAPPED_KEY_LEN, WrapAlgorithm, WrappedKey,
};
use crate::gcm::{Aes256Gcm, TAG_LEN};
use crate::kdf::{self, LABEL_WRAP};
use crate::key::{Dek, KEY_LEN, Kek};

/// Something that can wrap a DEK for storage (a recipient).
pub trait KeyWrap {
    /// Wraps `dek` for the object whose context hash is `ctx_hash`, writing the blob into `out` and
    /// returning its length. `wrap_salt` must be fresh random bytes.
    ///
    /// # Errors
    /// Implementation-specific; [`Error::BufferTooSmall`] if `out` is too small.
    fn wrap_key(
        &self,
        dek: &Dek,
        ctx_hash: &[u8; 32],
        wrap_salt: &[u8; 32],
        out: &mut [u8],
    ) -> Result<usize, Error>;
}

/// Something that can unwrap a DEK (an identity).
pub trait KeyUnwrap {
    /// Unwraps `blob` for the object whose context hash is `ctx_hash`.
    ///
    /// # Errors
    /// [`Error::UnknownWrapAlgorithm`] for a blob this unwrapper does not handle, [`Error::UnwrapFailed`]
    /// for a wrong key, wrong context or tampered blob.
    fn unwrap_key(&self, blob: &WrappedKey<'_>, ctx_hash: &[u8; 32]) -> Result<Dek, Error>;
}

/// Longest local key id.
pub const MAX_KEY_ID_LEN: usize = 255;

/// A local key-encryption key with its id and version.
///
/// ```
/// use objseal_core::{Dek, Kek};
/// use objseal_core::wrap::{KeyUnwrap, KeyWrap, LocalKek};
/// use objseal_core::format::wrapped_key::WrappedKey;
/// let kek = LocalKek::new(Kek::from_bytes([1; 32]), "root", 1).unwrap();
/// let dek = Dek::from_bytes([2; 32]);
/// let ctx = objseal_core::empty_context_hash();
/// let mut buf = [0u8; 256];
/// let n = kek.wrap_key(&dek, &ctx, &[3; 32], &mut buf).unwrap();
/// let blob = WrappedKey::parse(&buf[..n]).unwrap();
/// assert_eq!(kek.unwrap_key(&blob, &ctx).unwrap(), dek);
/// // Another context, or another KEK, does not unwrap it.
/// assert!(kek.unwrap_key(&blob, &[9; 32]).is_err());
/// let other = LocalKek::new(Kek::from_bytes([4; 32]), "root", 1).unwrap();
/// assert!(other.unwrap_key(&blob, &ctx).is_err());
/// ```
pub struct LocalKek {
    kek: Kek,
    key_id: [u8; MAX_KEY_ID_LEN],
    key_id_len: u8,
    key_version: u32,
    algorithm: WrapAlgorithm,
}

impl core::fmt::Debug for LocalKek {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("LocalKek")
            .field("key_id", &self.key_id())
            .field("key_version", &self.key_version)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

impl LocalKek {
    /// A local KEK named `key_id` (at most 255 bytes), version `key_version`.
    ///
    /// # Errors
    /// [`Error::BadWrappedKey`] for a key id over 255 bytes.
    pub fn new(kek: Kek, key_id: &str, key_version: u32) -> Result<Self, Error> {
        Self::with_algorithm(kek, key_id, key_version, WrapAlgorithm::LocalKek)
    }

    /// An SSE-C customer key used as a KEK; `key_id` is conventionally its fingerprint, never the key.
    ///
    /// # Errors
    /// As [`LocalKek::new`].
    pub fn customer_key(kek: Kek, key_id: &str) -> Result<Self, Error> {
        Self::with_algorithm(kek, key_id, 0, WrapAlgorithm::CustomerKey)
    }

    fn with_algorithm(
        kek: Kek,
        key_id: &str,
        key_version: u32,
        algorithm: WrapAlgorithm,
    ) -> Result<Self, Error> {
        let key_id_len = u8::try_from(key_id.len())
            .map_err(|_| Error::BadWrappedKey("key id longer than 255 bytes"))?;
        let mut id = [0u8; MAX_KEY_ID_LEN];
        id[..key_id.len()].copy_from_slice(key_id.as_bytes());
        Ok(Self {
            kek,
            key_id: id,
            key_id_len,
            key_version,
            algorithm,
        })
    }

    /// The key id.
    pub fn key_id(&self) -> &str {
        // Copied from a &str in the constructor, so always valid UTF-8.
        core::str::from_utf8(&self.key_id[..usize::from(self.key_id_len)]).unwrap_or("")
    }

    /// The key version.
    pub fn key_version(&self) -> u32 {
        self.key_version
    }

    /// The algorithm of the blobs it writes and unwraps: `LocalKek`, or `CustomerKey` for SSE-C.
    ///
    /// ```
    /// use objseal_core::{Kek, format::wrapped_key::WrapAlgorithm, wrap::LocalKek};
    /// let kek = LocalKek::customer_key(Kek::from_bytes([1; 32]), "sse-c").unwrap();
    /// assert_eq!(kek.algorithm(), WrapAlgorithm::CustomerKey);
    /// ```
    pub fn algorithm(&self) -> WrapAlgorithm {
        self.algorithm
    }

    fn wrap_gcm(&self, wrap_salt: &[u8; 32], prefix: &[u8], ctx_hash: &[u8; 32]) -> Aes256Gcm {
        let prk = kdf::extract(wrap_salt, self.kek.expose_secret());
        let wrap_key = kdf::expand(&prk, &[LABEL_WRAP, prefix, ctx_hash]);
        Aes256Gcm::new(&wrap_key.0)
    }
}

/// AAD = blob prefix ‖ ctx_hash, assembled on the stack.
fn aad<'b>(
    prefix: &[u8],
    ctx_hash: &[u8; 32],
    buf: &'b mut [u8; 41 + MAX_KEY_ID_LEN + 32],
) -> &'b [u8] {
    buf[..prefix.len()].copy_from_slice(prefix);
    buf[prefix.len()..prefix.len() + 32].copy_from_slice(ctx_hash);
    &buf[..prefix.len() + 32]
}

impl KeyWrap for LocalKek {
    fn wrap_key(
        &self,
        dek: &Dek,
        ctx_hash: &[u8; 32],
        wrap_salt: &[u8; 32],
        out: &mut [u8],
    ) -> Result<usize, Error> {
        let placeholder = [0u8; LOCAL_WRAP_CIPHERTEXT_LEN];
        let blob = WrappedKey {
            algorithm: self.algorithm,
            key_id: self.key_id(),
            key_version: self.key_version,
            wrap_salt: *wrap_salt,
            ciphertext: &placeholder,
        };
        let len = blob.encoded_len();
        debug_assert!(len <= MAX_WRAPPED_KEY_LEN);
        if out.len() < len {
            return Err(Error::BufferTooSmall { needed: len });
        }
        let prefix_len = blob.encode_prefix(out)?;
        let (prefix, rest) = out.split_at_mut(prefix_len);
        let gcm = self.wrap_gcm(wrap_salt, prefix, ctx_hash);
        let (ct, tag_out) = rest[..LOCAL_WRAP_CIPHERTEXT_LEN].split_at_mut(KEY_LEN);
        ct.copy_from_slice(dek.expose_secret());
        let mut aad_buf = [0u8; 41 + MAX_KEY_ID_LEN + 32];
        let tag = gcm.seal_in_place(&[0u8; 12], aad(prefix, ctx_hash, &mut aad_buf), ct);
        tag_out.copy_from_slice(&tag);
        Ok(len)
    }
}

impl KeyUnwrap for LocalKek {
    fn unwrap_key(&self, blob: &WrappedKey<'_>, ctx_hash: &[u8; 32]) -> Result<Dek, Error> {
        if blob.algorithm != self.algorithm {
            return Err(Error::UnknownWrapAlgorithm(blob.algorithm.id()));
        }
        if blob.ciphertext.len() != KEY_LEN + TAG_LEN {
            return Err(Error::BadWrappedKey(
                "local wrap must hold exactly a 32-byte key",
            ));
        }
        let mut prefix = [0u8; 41 + MAX_KEY_ID_LEN];
        let prefix_len = blob.encode_prefix(&mut prefix)?;
        let prefix = &prefix[..prefix_len];
        let gcm = self.wrap_gcm(&blob.wrap_salt, prefix, ctx_hash);
        let mut dek = Dek::from_bytes([0u8; KEY_LEN]);
        let mut plain = [0u8; KEY_LEN];
        plain.copy_from_slice(&blob.ciphertext[..KEY_LEN]);
        let mut tag = [0u8; TAG_LEN];
        tag.copy_from_slice(&blob.ciphertext[KEY_LEN..]);
        let mut aad_buf = [0u8; 41 + MAX_KEY_ID_LEN + 32];
        let opened = gcm.open_in_place(
            &[0u8; 12],
            aad(prefix, ctx_hash, &mut aad_buf),
            &mut plain,
            &tag,
        );
        if opened.is_ok() {
            dek = Dek::from_bytes(plain);
        }
        zeroize::Zeroize::zeroize(&mut plain);
        opened.map(|()| dek).map_err(|_| Error::UnwrapFailed)
    }
}
