//! The per-object key schedule and the header commitment.
//!
//! ```text
//! PRK          = HKDF-Extract(salt = object_salt, IKM = DEK)                      (SHA-256)
//! K_hdr        = HKDF-Expand(PRK, LABEL_HEADER   ‖ header[0..72], 32)
//! K_manifest   = HKDF-Expand(PRK, LABEL_MANIFEST ‖ header[0..72], 32)
//! K_segment(s) = HKDF-Expand(PRK, LABEL_SEGMENT  ‖ header[0..72] ‖ BE32(s) ‖ segment_salt, 32)
//! header_tag   = HMAC-SHA-256(K_hdr, header[0..72])
//! ```
//! Verifying `header_tag` before anything else is the key commitment: HMAC-SHA-256 is collision
//! resistant in its key for a fixed message, so no second DEK verifies the same header.

use crate::format::header::{
    DEFAULT_CHUNK_LOG2, HEADER_PREFIX_LEN, Header, MAX_CHUNK_LOG2, MIN_CHUNK_LOG2, Suite,
};
use crate::gcm::{Aes256Gcm, Backend};
use crate::kdf::{self, LABEL_HEADER, LABEL_MANIFEST, LABEL_SEGMENT};
use crate::key::{Dek, DerivedKey};
use crate::seal::SegmentKey;
use crate::{Error, SEGMENT_SALT_LEN};

/// What a writer chooses for a new object.
///
/// ```
/// use objseal_core::ObjectParams;
/// let params = ObjectParams::new([1u8; 32], objseal_core::empty_context_hash()).chunk_log2(20).segmented(true);
/// assert_eq!(params.chunk_log2, 20);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectParams {
    /// Random, unique per object: 32 bytes from a CSPRNG.
    pub object_salt: [u8; 32],
    /// Hash of the encryption context ([`crate::context_hash`]).
    pub ctx_hash: [u8; 32],
    /// log2 of the chunk size, 12..=24.
    pub chunk_log2: u8,
    /// Whether the object is written as segments with a manifest.
    pub segmented: bool,
}

impl ObjectParams {
    /// Unsegmented, 64 KiB chunks.
    pub const fn new(object_salt: [u8; 32], ctx_hash: [u8; 32]) -> Self {
        Self {
            object_salt,
            ctx_hash,
            chunk_log2: DEFAULT_CHUNK_LOG2,
            segmented: false,
        }
    }

    /// With a fresh random salt from the OS.
    ///
    /// # Errors
    /// [`Error::Rng`] if the OS source fails.
    #[cfg(feature = "getrandom")]
    pub fn random(ctx_hash: [u8; 32]) -> Result<Self, Error> {
        let mut salt = [0u8; 32];
        getrandom::fill(&mut salt).map_err(|_| Error::Rng)?;
        Ok(Self::new(salt, ctx_hash))
    }

    /// Sets the chunk size (as log2).
    #[must_use]
    pub const fn chunk_log2(mut self, chunk_log2: u8) -> Self {
        self.chunk_log2 = chunk_log2;
        self
    }

    /// Sets whether the object is segmented.
    #[must_use]
    pub const fn segmented(mut self, segmented: bool) -> Self {
        self.segmented = segmented;
        self
    }
}

/// The keys of one object: derived from its DEK and header, after the header tag has verified.
///
/// ```
/// use objseal_core::{Dek, Error, ObjectKey, ObjectParams};
/// let dek = Dek::from_bytes([7u8; 32]);
/// let writer = ObjectKey::create(&dek, &ObjectParams::new([1u8; 32], [2u8; 32])).unwrap();
/// let header = writer.header().clone();
/// assert!(ObjectKey::open(&dek, &header).is_ok());
/// // Any other key fails the commitment check before a single chunk is touched.
/// let wrong = Dek::from_bytes([8u8; 32]);
/// assert_eq!(ObjectKey::open(&wrong, &header).unwrap_err(), Error::HeaderAuth);
/// ```
pub struct ObjectKey {
    prk: DerivedKey,
    header: Header,
    backend: Backend,
}

impl core::fmt::Debug for ObjectKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ObjectKey")
            .field("header", &self.header)
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

impl ObjectKey {
    /// Starts a new object: derives its keys and computes the header tag.
    ///
    /// # Errors
    /// [`Error::BadChunkSize`] for a chunk size outside 12..=24.
    pub fn create(dek: &Dek, params: &ObjectParams) -> Result<Self, Error> {
        if !(MIN_CHUNK_LOG2..=MAX_CHUNK_LOG2).contains(&params.chunk_log2) {
            return Err(Error::BadChunkSize(params.chunk_log2));
        }
        let mut header = Header {
            suite: Suite::Aes256GcmHkdfSha256,
            chunk_log2: params.chunk_log2,
            segmented: params.segmented,
            object_salt: params.object_salt,
            ctx_hash: params.ctx_hash,
            tag: [0; 32],
        };
        let prk = kdf::extract(&header.object_salt, dek.expose_secret());
        let prefix = header.prefix_bytes();
        header.tag = kdf::hmac(&kdf::expand(&prk, &[LABEL_HEADER, &prefix]), &[&prefix]);
        Ok(Self {
            prk,
            header,
            backend: Backend::detect(),
        })
    }

    /// Opens an existing object: verifies the header tag (the key commitment) in constant time.
    ///
    /// This does not compare the header's context hash with one the caller expects: readers that know
    /// the context (almost all) should call [`ObjectKey::open_with_context`], unless the DEK was
    /// unwrapped by a key wrap that already binds the context hash (every wrap in this crate does).
    ///
    /// # Errors
    /// [`Error::HeaderAuth`] if `dek` is not the object's key or the header was altered.
    pub fn open(dek: &Dek, header: &Header) -> Result<Self, Error> {
        let prk = kdf::extract(&header.object_salt, dek.expose_secret());
        let prefix = header.prefix_bytes();
        if !kdf::hmac_verify(
            &kdf::expand(&prk, &[LABEL_HEADER, &prefix]),
            &[&prefix],
            &header.tag,
        ) {
            return Err(Error::HeaderAuth);
        }
        Ok(Self {
            prk,
            header: header.clone(),
            backend: Backend::detect(),
        })
    }

    /// Opens an object and checks that it was bound to the expected encryption context.
    ///
    /// # Errors
    /// [`Error::HeaderAuth`] for a wrong key, a tampered header, or a context hash other than `ctx_hash`.
    pub fn open_with_context(
        dek: &Dek,
        header: &Header,
        ctx_hash: &[u8; 32],
    ) -> Result<Self, Error> {
        let key = Self::open(dek, header)?;
        if subtle::ConstantTimeEq::ct_eq(&key.header.ctx_hash[..], &ctx_hash[..]).into() {
            Ok(key)
        } else {
            Err(Error::HeaderAuth)
        }
    }

    /// Uses `backend` for every segment key derived from now on.
    ///
    /// # Errors
    /// [`Error::BackendUnavailable`] if this CPU cannot run it.
    pub fn with_backend(mut self, backend: Backend) -> Result<Self, Error> {
        if !backend.is_supported() {
            return Err(Error::BackendUnavailable(backend));
        }
        self.backend = backend;
        Ok(self)
    }

    /// The object's header (with its tag).
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The AES-GCM key of segment `segment` with its random `segment_salt` (see the manifest).
    pub fn segment_key(&self, segment: u32, segment_salt: &[u8; SEGMENT_SALT_LEN]) -> SegmentKey {
        let prefix = self.header.prefix_bytes();
        let key = kdf::expand(
            &self.prk,
            &[LABEL_SEGMENT, &prefix, &segment.to_be_bytes(), segment_salt],
        );
        let gcm = Aes256Gcm::with_backend(&key.0, self.backend)
            .unwrap_or_else(|_| Aes256Gcm::new(&key.0));
        SegmentKey {
            gcm,
            chunk_log2: self.header.chunk_log2,
            segment,
        }
    }

    /// The key of an unsegmented object's body (segment 0, all-zero segment salt).
    ///
    /// # Errors
    /// [`Error::BadFlags`] if the header says the object is segmented.
    pub fn body_key(&self) -> Result<SegmentKey, Error> {
        if self.header.segmented {
            return Err(Error::BadFlags(crate::format::header::FLAG_SEGMENTED));
        }
        Ok(self.segment_key(0, &[0u8; SEGMENT_SALT_LEN]))
    }

    pub(crate) fn manifest_mac_key(&self) -> DerivedKey {
        let prefix: [u8; HEADER_PREFIX_LEN] = self.header.prefix_bytes();
        kdf::expand(&self.prk, &[LABEL_MANIFEST, &prefix])
    }

    /// The key that authenticates this object's manifest (see [`crate::ManifestKey`]), for
    /// [`crate::format::manifest::encode_manifest_with_key`].
    pub fn manifest_key(&self) -> crate::ManifestKey {
        crate::ManifestKey::from_bytes(self.manifest_mac_key().0)
    }
}
