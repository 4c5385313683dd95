//! Encryption context: string pairs bound to an object through the hash in its header.
//!
//! Canonical form (`docs/FORMAT.md` §3): pairs sorted by key bytes, each key unique, encoded as
//! `LABEL_CONTEXT ‖ BE32(n) ‖ n × (BE32(len k) ‖ k ‖ BE32(len v) ‖ v)` and hashed with SHA-256.
//! Sorting is done without allocating (selection of the next-larger key), so callers may pass
//! pairs in any order.

use crate::Error;
use crate::kdf::{LABEL_CONTEXT, Sha256Writer};

/// Length of a context hash.
pub const CONTEXT_HASH_LEN: usize = 32;
/// Most pairs a context may hold. Canonical ordering without allocation is quadratic in the pair
/// count, so contexts that arrive over the network are bounded (AWS KMS contexts are far smaller).
pub const MAX_CONTEXT_PAIRS: usize = 256;

/// SHA-256 of the canonical encoding of `pairs`, which may come in any order.
///
/// # Errors
/// [`Error::BadContext`] if a key appears twice, there are more than [`MAX_CONTEXT_PAIRS`] pairs, or a
/// key or value is longer than 2^32 − 1 bytes.
///
/// ```
/// use objseal_core::context_hash;
/// let a = context_hash(&[("bucket", "photos"), ("key", "cat.jpg")]).unwrap();
/// let b = context_hash(&[("key", "cat.jpg"), ("bucket", "photos")]).unwrap();
/// assert_eq!(a, b);
/// assert_ne!(a, context_hash(&[("bucket", "photos"), ("key", "Cat.jpg")]).unwrap());
/// assert!(context_hash(&[("k", "1"), ("k", "2")]).is_err());
/// ```
pub fn context_hash(pairs: &[(&str, &str)]) -> Result<[u8; CONTEXT_HASH_LEN], Error> {
    if pairs.len() > MAX_CONTEXT_PAIRS {
        return Err(Error::BadContext("more than 256 pairs"));
    }
    let count = u32::try_from(pairs.len()).map_err(|_| Error::BadContext("too many pairs"))?;
    let mut hasher = Sha256Writer::new();
    hasher.update(LABEL_CONTEXT);
    hasher.update(&count.to_be_bytes());
    let mut previous: Option<&str> = None;
    for _ in 0..pairs.len() {
        // The smallest key strictly greater than the previous one.
        let next = pairs
            .iter()
            .filter(|(k, _)| previous.is_none_or(|p| k.as_bytes() > p.as_bytes()))
            .min_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()))
            .ok_or(Error::BadContext("duplicate key"))?;
        for field in [next.0, next.1] {
            let len = u32::try_from(field.len())
                .map_err(|_| Error::BadContext("field longer than 2^32 - 1 bytes"))?;
            hasher.update(&len.to_be_bytes());
            hasher.update(field.as_bytes());
        }
        previous = Some(next.0);
    }
    Ok(hasher.finish())
}

/// The hash of the empty context (no pairs).
///
/// ```
/// assert_eq!(objseal_core::empty_context_hash(), objseal_core::context_hash(&[]).unwrap());
/// ```
pub fn empty_context_hash() -> [u8; CONTEXT_HASH_LEN] {
    let mut hasher = Sha256Writer::new();
    hasher.update(LABEL_CONTEXT);
    hasher.update(&0u32.to_be_bytes());
    hasher.finish()
}
