//! Fixed-size secret keys: zeroized on drop, compared in constant time, never printed.

use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::Error;

/// Length of every key in the format.
pub const KEY_LEN: usize = 32;

macro_rules! secret_key {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Zeroize, ZeroizeOnDrop)]
        pub struct $name([u8; KEY_LEN]);

        impl $name {
            /// Wraps 32 key bytes.
            pub const fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
                Self(bytes)
            }

            /// Copies a key from a slice, which must be exactly 32 bytes.
            ///
            /// # Errors
            /// [`Error::BadKeyLength`] for any other length.
            pub fn try_from_slice(bytes: &[u8]) -> Result<Self, Error> {
                let array: [u8; KEY_LEN] = bytes.try_into().map_err(|_| Error::BadKeyLength(bytes.len()))?;
                Ok(Self(array))
            }

            /// A fresh key from the operating system's random source.
            ///
            /// # Errors
            /// [`Error::Rng`] if the OS source fails.
            #[cfg(feature = "getrandom")]
            pub fn generate() -> Result<Self, Error> {
                let mut bytes = [0u8; KEY_LEN];
                getrandom::fill(&mut bytes).map_err(|_| Error::Rng)?;
                Ok(Self(bytes))
            }

            /// The raw key bytes. Handle with care: copies are not zeroized for you.
            pub fn expose_secret(&self) -> &[u8; KEY_LEN] {
                &self.0
            }
        }

        impl ConstantTimeEq for $name {
            fn ct_eq(&self, other: &Self) -> subtle::Choice {
                self.0.ct_eq(&other.0)
            }
        }

        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                self.ct_eq(other).into()
            }
        }

        impl Eq for $name {}

        impl core::fmt::Debug for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str(concat!(stringify!($name), "(<redacted>)"))
            }
        }
    };
}

secret_key!(
    /// A per-object data-encryption key. Never stored in the clear: it travels wrapped (see
    /// [`crate::wrap`]).
    ///
    /// ```
    /// use objseal_core::Dek;
    /// let dek = Dek::from_bytes([9u8; 32]);
    /// assert_eq!(format!("{dek:?}"), "Dek(<redacted>)");
    /// assert!(Dek::try_from_slice(&[0u8; 31]).is_err());
    /// ```
    Dek
);

secret_key!(
    /// A key-encryption key: wraps data keys (a local root key, or an SSE-C customer key).
    ///
    /// ```
    /// use objseal_core::Kek;
    /// let kek = Kek::from_bytes([1u8; 32]);
    /// assert_eq!(kek, Kek::from_bytes([1u8; 32]));
    /// ```
    Kek
);

secret_key!(
    /// The key of an object's manifest (FORMAT.md §6): it authenticates the list of segments and
    /// opens nothing else — no chunk, no other key follows from it. A writer that must finish a
    /// segmented object without its data key (an S3 server completing an SSE-C multipart upload,
    /// whose Complete request carries no customer key) keeps it for that long.
    ///
    /// ```
    /// use objseal_core::{Dek, ObjectKey, ObjectParams};
    /// let object = ObjectKey::create(&Dek::from_bytes([1; 32]), &ObjectParams::new([2; 32], [3; 32]).segmented(true)).unwrap();
    /// let key = object.manifest_key();
    /// assert_eq!(key, object.manifest_key());
    /// assert!(!format!("{key:?}").contains("1"));
    /// ```
    ManifestKey
);

/// A 32-byte derived secret (HKDF output) that zeroizes itself.
#[derive(Zeroize, ZeroizeOnDrop)]
pub(crate) struct DerivedKey(pub(crate) [u8; KEY_LEN]);
