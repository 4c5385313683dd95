//! AES-256-GCM over caller buffers, with the backend chosen once from the CPU.
//!
//! [`Backend::detect`] reads the CPU once and caches the answer; [`Aes256Gcm::new`] uses it, and
//! [`Aes256Gcm::with_backend`] pins a backend explicitly so tests and benches can compare every backend
//! with [`Backend::Portable`]. Only 96-bit nonces are supported (the only size the format uses).

use core::sync::atomic::{AtomicU8, Ordering};

use subtle::ConstantTimeEq;

use crate::Error;

#[cfg(any(target_arch = "x86_64", target_arch = "x86"))]
#[allow(unsafe_code)]
mod aesni;
mod portable;
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod vaes256;
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod vaes512;

/// AES block size in bytes.
pub(crate) const BLOCK: usize = 16;
/// Length of the detached GCM tag.
pub const TAG_LEN: usize = 16;
/// Length of a GCM nonce.
pub const NONCE_LEN: usize = 12;
/// Largest message one (key, nonce) pair may encrypt: 2^32 − 2 blocks (NIST SP 800-38D).
pub const MAX_MESSAGE_LEN: u64 = ((1u64 << 32) - 2) * BLOCK as u64;

/// A detached AES-GCM authentication tag.
pub type Tag = [u8; TAG_LEN];

/// An AES-256-GCM implementation.
///
/// ```
/// use objseal_core::gcm::Backend;
/// // The portable backend is always there; the best one is picked once per process.
/// assert!(Backend::Portable.is_supported());
/// assert!(Backend::detect().is_supported());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Backend {
    /// Constant-time software (the `aes` and `ghash` crates); available everywhere.
    Portable,
    /// AES-NI + PCLMULQDQ on 128-bit registers: 8 blocks in flight, CTR and GHASH in one pass.
    AesNiClmul,
    /// VAES + VPCLMULQDQ on 256-bit registers (AVX2, two blocks per register): 16 blocks in flight, CTR
    /// and GHASH in one pass. x86-64 only: AMD Zen 3 and later, Intel Ice Lake / Alder Lake and later.
    Vaes256,
    /// VAES + VPCLMULQDQ on 512-bit registers (AVX-512, four blocks per register): 16 blocks in
    /// flight, CTR and GHASH in one pass. x86-64 only: Intel Ice Lake server / Sapphire Rapids and
    /// later, AMD Zen 4 and later, where the OS enables the AVX-512 state.
    Vaes512,
}

impl Backend {
    /// Every backend this build knows, fastest last.
    pub const ALL: &'static [Backend] = &[
        Backend::Portable,
        Backend::AesNiClmul,
        Backend::Vaes256,
        Backend::Vaes512,
    ];

    /// The fastest backend this CPU supports. Detection runs once per process.
    pub fn detect() -> Backend {
        static DETECTED: AtomicU8 = AtomicU8::new(u8::MAX);
        let cached = DETECTED.load(Ordering::Relaxed);
        if let Some(backend) = Self::ALL.get(usize::from(cached)) {
            return *backend;
        }
        let best = Self::ALL
            .iter()
            .rev()
            .copied()
            .find(|b| b.is_supported())
            .unwrap_or(Backend::Portable);
        let index = Self::ALL.iter().position(|b| *b == best).unwrap_or(0);
        DETECTED.store(index as u8, Ordering::Relaxed);
        best
    }

    /// Whether this CPU (and OS) can run the backend.
    pub fn is_supported(self) -> bool {
        match self {
            Backend::Portable => true,
            #[cfg(any(target_arch = "x86_64", target_arch = "x86"))]
            Backend::AesNiClmul => aesni::is_supported(),
            #[cfg(not(any(target_arch = "x86_64", target_arch = "x86")))]
            Backend::AesNiClmul => false,
            #[cfg(target_arch = "x86_64")]
            Backend::Vaes256 => vaes256::is_supported(),
            #[cfg(not(target_arch = "x86_64"))]
            Backend::Vaes256 => false,
            #[cfg(target_arch = "x86_64")]
            Backend::Vaes512 => vaes512::is_supported(),
            #[cfg(not(target_arch = "x86_64"))]
            Backend::Vaes512 => false,
        }
    }

    /// The backends this CPU supports.
    ///
    /// ```
    /// use objseal_core::gcm::Backend;
    /// assert!(Backend::available().any(|b| b == Backend::Portable));
    /// ```
    pub fn available() -> impl Iterator<Item = Backend> {
        Self::ALL.iter().copied().filter(|b| b.is_supported())
    }

    /// A short stable name, as used in bench ids and `objseal` output.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Portable => "portable",
            Backend::AesNiClmul => "aesni-clmul",
            Backend::Vaes256 => "vaes256",
            Backend::Vaes512 => "vaes512",
        }
    }
}

impl core::fmt::Display for Backend {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

// Keys live inline: the core never allocates, so the larger variant cannot be boxed.
#[allow(clippy::large_enum_variant)]
enum Engine {
    Portable(portable::PortableKey),
    #[cfg(any(target_arch = "x86_64", target_arch = "x86"))]
    AesNiClmul(aesni::AesNiKey),
    #[cfg(target_arch = "x86_64")]
    Vaes256(vaes256::Vaes256Key),
    #[cfg(target_arch = "x86_64")]
    Vaes512(vaes512::Vaes512Key),
}

/// An expanded AES-256-GCM key (key schedule and GHASH key powers), built once and reused.
///
/// Sealing and opening work in place on the caller's buffer with a detached tag; nothing is allocated.
/// The expanded key is wiped when dropped, and `Debug` never prints it.
///
/// ```
/// use objseal_core::gcm::Aes256Gcm;
/// let gcm = Aes256Gcm::new(&[7u8; 32]);
/// let nonce = [0u8; 12];
/// let mut buf = *b"attack at dawn";
/// let tag = gcm.seal_in_place(&nonce, b"header", &mut buf);
/// assert_ne!(&buf, b"attack at dawn");
/// gcm.open_in_place(&nonce, b"header", &mut buf, &tag).unwrap();
/// assert_eq!(&buf, b"attack at dawn");
/// ```
pub struct Aes256Gcm {
    engine: Engine,
}

impl core::fmt::Debug for Aes256Gcm {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Aes256Gcm")
            .field("backend", &self.backend())
            .finish_non_exhaustive()
    }
}

impl Aes256Gcm {
    /// Expands `key` for the fastest backend of this CPU.
    pub fn new(key: &[u8; 32]) -> Self {
        match Self::with_backend(key, Backend::detect()) {
            Ok(gcm) => gcm,
            Err(_) => Self {
                engine: Engine::Portable(portable::PortableKey::new(key)),
            },
        }
    }

    /// Expands `key` for one particular backend.
    ///
    /// # Errors
    /// [`Error::BackendUnavailable`] when this CPU cannot run `backend`.
    ///
    /// ```
    /// use objseal_core::gcm::{Aes256Gcm, Backend};
    /// let gcm = Aes256Gcm::with_backend(&[1u8; 32], Backend::Portable).unwrap();
    /// assert_eq!(gcm.backend(), Backend::Portable);
    /// ```
    pub fn with_backend(key: &[u8; 32], backend: Backend) -> Result<Self, Error> {
        let engine = match backend {
            Backend::Portable => Engine::Portable(portable::PortableKey::new(key)),
            #[cfg(any(target_arch = "x86_64", target_arch = "x86"))]
            Backend::AesNiClmul => Engine::AesNiClmul(
                aesni::AesNiKey::new(key).ok_or(Error::BackendUnavailable(backend))?,
            ),
            #[cfg(target_arch = "x86_64")]
            Backend::Vaes256 => Engine::Vaes256(
                vaes256::Vaes256Key::new(key).ok_or(Error::BackendUnavailable(backend))?,
            ),
            #[cfg(target_arch = "x86_64")]
            Backend::Vaes512 => Engine::Vaes512(
                vaes512::Vaes512Key::new(key).ok_or(Error::BackendUnavailable(backend))?,
            ),
            #[allow(unreachable_patterns)]
            _ => return Err(Error::BackendUnavailable(backend)),
        };
        Ok(Self { engine })
    }

    /// The backend this key was expanded for.
    pub fn backend(&self) -> Backend {
        match self.engine {
            Engine::Portable(_) => Backend::Portable,
            #[cfg(any(target_arch = "x86_64", target_arch = "x86"))]
            Engine::AesNiClmul(_) => Backend::AesNiClmul,
            #[cfg(target_arch = "x86_64")]
            Engine::Vaes256(_) => Backend::Vaes256,
            #[cfg(target_arch = "x86_64")]
            Engine::Vaes512(_) => Backend::Vaes512,
        }
    }

    /// Encrypts `buf` in place and returns the detached tag over `aad` and the ciphertext.
    ///
    /// # Panics
    /// Never for inputs within [`MAX_MESSAGE_LEN`]; longer messages are a caller bug, and the chunked format
    /// never produces them (chunks are at most 16 MiB).
    pub fn seal_in_place(&self, nonce: &[u8; NONCE_LEN], aad: &[u8], buf: &mut [u8]) -> Tag {
        assert!(
            buf.len() as u64 <= MAX_MESSAGE_LEN,
            "AES-GCM message longer than 2^39 - 256 bits"
        );
        match &self.engine {
            Engine::Portable(k) => k.encrypt(nonce, aad, buf),
            #[cfg(any(target_arch = "x86_64", target_arch = "x86"))]
            Engine::AesNiClmul(k) => k.encrypt(nonce, aad, buf),
            #[cfg(target_arch = "x86_64")]
            Engine::Vaes256(k) => k.encrypt(nonce, aad, buf),
            #[cfg(target_arch = "x86_64")]
            Engine::Vaes512(k) => k.encrypt(nonce, aad, buf),
        }
    }

    /// Decrypts `buf` in place if `tag` verifies over `aad` and the ciphertext.
    ///
    /// # Errors
    /// [`Error::TagMismatch`] if the tag does not verify. The buffer then holds the ciphertext again
    /// (the keystream is re-applied): plaintext whose tag has not verified is never left behind, and the
    /// caller may retry with another nonce.
    pub fn open_in_place(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
        tag: &Tag,
    ) -> Result<(), Error> {
        if buf.len() as u64 > MAX_MESSAGE_LEN {
            return Err(Error::TagMismatch);
        }
        let computed = match &self.engine {
            Engine::Portable(k) => k.decrypt(nonce, aad, buf),
            #[cfg(any(target_arch = "x86_64", target_arch = "x86"))]
            Engine::AesNiClmul(k) => k.decrypt(nonce, aad, buf),
            #[cfg(target_arch = "x86_64")]
            Engine::Vaes256(k) => k.decrypt(nonce, aad, buf),
            #[cfg(target_arch = "x86_64")]
            Engine::Vaes512(k) => k.decrypt(nonce, aad, buf),
        };
        if bool::from(computed.ct_eq(tag)) {
            Ok(())
        } else {
            // CTR is its own inverse: encrypting again restores the ciphertext (the tag is discarded).
            let _ = match &self.engine {
                Engine::Portable(k) => k.encrypt(nonce, aad, buf),
                #[cfg(any(target_arch = "x86_64", target_arch = "x86"))]
                Engine::AesNiClmul(k) => k.encrypt(nonce, aad, buf),
                #[cfg(target_arch = "x86_64")]
                Engine::Vaes256(k) => k.encrypt(nonce, aad, buf),
                #[cfg(target_arch = "x86_64")]
                Engine::Vaes512(k) => k.encrypt(nonce, aad, buf),
            };
            Err(Error::TagMismatch)
        }
    }
}

/// The final GHASH block: bit lengths of the AAD and the ciphertext, big-endian.
pub(crate) fn lengths_block(aad_len: usize, ct_len: usize) -> [u8; BLOCK] {
    let mut block = [0u8; BLOCK];
    block[..8].copy_from_slice(&((aad_len as u64) * 8).to_be_bytes());
    block[8..].copy_from_slice(&((ct_len as u64) * 8).to_be_bytes());
    block
}
