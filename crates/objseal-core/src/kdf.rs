//! Every key-derivation label of the format, and the HKDF/HMAC helpers that use them.
//!
//! All labels are ASCII, distinct, and followed by a 0x00 separator, so no label is a prefix of
//! another's input. `docs/FORMAT.md` §4 lists the same strings.

use hkdf::Hkdf;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

use crate::key::{DerivedKey, KEY_LEN};

/// HKDF-Expand label of the header-authentication key `K_hdr`.
pub const LABEL_HEADER: &[u8] = b"objseal/v1 header\0";
/// HKDF-Expand label of the manifest-authentication key `K_manifest`.
pub const LABEL_MANIFEST: &[u8] = b"objseal/v1 manifest\0";
/// HKDF-Expand label of a segment's AES-256-GCM key `K_segment(s)`.
pub const LABEL_SEGMENT: &[u8] = b"objseal/v1 segment\0";
/// HKDF-Expand label of the key that wraps a DEK under a local key-encryption key.
pub const LABEL_WRAP: &[u8] = b"objseal/v1 wrap\0";
/// Domain-separation prefix of the canonical encryption context before hashing.
pub const LABEL_CONTEXT: &[u8] = b"objseal/v1 context\0";

type HmacSha256 = Hmac<Sha256>;

/// HKDF-Extract(salt, ikm) with SHA-256: the pseudorandom key.
pub(crate) fn extract(salt: &[u8], ikm: &[u8; KEY_LEN]) -> DerivedKey {
    let (prk, _) = Hkdf::<Sha256>::extract(Some(salt), ikm);
    let mut out = DerivedKey([0u8; KEY_LEN]);
    out.0.copy_from_slice(&prk);
    out
}

/// HKDF-Expand(prk, info = concatenation of `info`, 32).
pub(crate) fn expand(prk: &DerivedKey, info: &[&[u8]]) -> DerivedKey {
    let mut out = DerivedKey([0u8; KEY_LEN]);
    // A 32-byte PRK and a 32-byte output are always valid for HKDF-SHA-256.
    let hkdf = Hkdf::<Sha256>::from_prk(&prk.0).unwrap_or_else(|_| unreachable!("32-byte PRK"));
    hkdf.expand_multi_info(info, &mut out.0)
        .unwrap_or_else(|_| unreachable!("32-byte OKM"));
    out
}

/// HMAC-SHA-256(key, concatenation of `parts`).
pub(crate) fn hmac(key: &DerivedKey, parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = new_hmac(key);
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// Constant-time check of HMAC-SHA-256(key, parts) against `tag`.
pub(crate) fn hmac_verify(key: &DerivedKey, parts: &[&[u8]], tag: &[u8; 32]) -> bool {
    let mut mac = new_hmac(key);
    for part in parts {
        mac.update(part);
    }
    mac.verify_slice(tag).is_ok()
}

fn new_hmac(key: &DerivedKey) -> HmacSha256 {
    <HmacSha256 as KeyInit>::new_from_slice(&key.0)
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"))
}

/// An incremental SHA-256, for hashing the canonical context.
pub(crate) struct Sha256Writer(Sha256);

impl Sha256Writer {
    pub(crate) fn new() -> Self {
        Self(Sha256::new())
    }
    pub(crate) fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
    pub(crate) fn finish(self) -> [u8; 32] {
        self.0.finalize().into()
    }
}
