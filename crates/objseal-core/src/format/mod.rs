//! Byte layouts of the format: parse and serialize, no policy and no cryptography.
//!
//! Everything is big-endian; `docs/FORMAT.md` is the normative description.

pub mod container;
pub mod header;
pub mod manifest;
pub mod wrapped_key;

/// Reads a big-endian u16 at `at`; callers have checked the length.
pub(crate) fn be16(bytes: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([bytes[at], bytes[at + 1]])
}

/// Reads a big-endian u32 at `at`; callers have checked the length.
pub(crate) fn be32(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

/// Reads a big-endian u64 at `at`; callers have checked the length.
pub(crate) fn be64(bytes: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&bytes[at..at + 8]);
    u64::from_be_bytes(b)
}
