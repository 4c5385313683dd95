//! The one error type of `objseal-core`.

use crate::gcm::Backend;

/// Everything that can go wrong in the core. Every variant names what was wrong with the input; none
/// carries secret bytes.
///
/// ```
/// use objseal_core::Error;
/// assert_eq!(Error::HeaderAuth.to_string(),
///     "header authentication failed: wrong key, wrong encryption context, or tampered header");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The CPU cannot run the requested AES-GCM backend.
    BackendUnavailable(Backend),
    /// A bare AES-GCM tag did not verify.
    TagMismatch,
    /// The input is shorter than the structure it must hold.
    TooShort {
        /// What was being read.
        what: &'static str,
    },
    /// The first bytes are not an objseal header or manifest.
    BadMagic,
    /// A format version this library does not read.
    UnsupportedVersion(u8),
    /// A suite id this library does not implement.
    UnknownSuite(u16),
    /// `chunk_log2` outside 12..=24.
    BadChunkSize(u8),
    /// Reserved flag bits are set, or a flag does not fit the context (e.g. a segmented header in a file).
    BadFlags(u8),
    /// The header tag did not verify: wrong data key, wrong encryption context, or a tampered header.
    HeaderAuth,
    /// A chunk did not authenticate: tampered, reordered, moved, or opened with the wrong final flag.
    ChunkAuth {
        /// Segment number (0 for unsegmented objects).
        segment: u32,
        /// Chunk index within the segment.
        chunk: u64,
    },
    /// The ciphertext ended before its final chunk.
    Truncated,
    /// Bytes follow the final chunk.
    TrailingData,
    /// A ciphertext length that no plaintext length maps to, or a chunk of the wrong size.
    BadLength,
    /// More chunks, segments or bytes than the format allows.
    LimitExceeded,
    /// The output buffer is too small.
    BufferTooSmall {
        /// Bytes needed.
        needed: usize,
    },
    /// Chunks were fed after the final chunk, or a finished stream was used again.
    StreamFinished,
    /// A wrapped-key blob is malformed.
    BadWrappedKey(&'static str),
    /// A wrap algorithm this library does not know, or one the unwrapper does not handle.
    UnknownWrapAlgorithm(u8),
    /// The wrapped key did not unwrap: wrong key-encryption key, wrong context, or a tampered blob.
    UnwrapFailed,
    /// A key of the wrong length (keys are exactly 32 bytes).
    BadKeyLength(usize),
    /// A manifest is malformed.
    BadManifest(&'static str),
    /// The manifest tag did not verify: tampered, truncated or from another object.
    ManifestAuth,
    /// An encryption context that cannot be canonicalised (duplicate key).
    BadContext(&'static str),
    /// A byte range outside the object.
    RangeNotSatisfiable,
    /// A random-number source failed.
    Rng,
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Error::BackendUnavailable(b) => write!(f, "AES-GCM backend {b} is not supported by this CPU"),
            Error::TagMismatch => f.write_str("AES-GCM tag mismatch"),
            Error::TooShort { what } => write!(f, "input too short for {what}"),
            Error::BadMagic => f.write_str("not objseal data (bad magic)"),
            Error::UnsupportedVersion(v) => write!(f, "unsupported format version {v}"),
            Error::UnknownSuite(s) => write!(f, "unknown suite id 0x{s:04x}"),
            Error::BadChunkSize(k) => write!(f, "chunk_log2 {k} outside 12..=24"),
            Error::BadFlags(b) => write!(f, "invalid header flags 0x{b:02x}"),
            Error::HeaderAuth => {
                f.write_str("header authentication failed: wrong key, wrong encryption context, or tampered header")
            }
            Error::ChunkAuth { segment, chunk } => {
                write!(f, "chunk {chunk} of segment {segment} failed authentication")
            }
            Error::Truncated => f.write_str("ciphertext truncated: final chunk missing"),
            Error::TrailingData => f.write_str("unexpected data after the final chunk"),
            Error::BadLength => f.write_str("impossible ciphertext or chunk length"),
            Error::LimitExceeded => f.write_str("format limit exceeded"),
            Error::BufferTooSmall { needed } => write!(f, "output buffer too small: {needed} bytes needed"),
            Error::StreamFinished => f.write_str("stream already finished"),
            Error::BadWrappedKey(why) => write!(f, "malformed wrapped key: {why}"),
            Error::UnknownWrapAlgorithm(a) => write!(f, "unknown or unsupported wrap algorithm {a}"),
            Error::UnwrapFailed => {
                f.write_str("key unwrap failed: wrong key-encryption key, wrong context, or tampered blob")
            }
            Error::BadKeyLength(n) => write!(f, "key must be 32 bytes, got {n}"),
            Error::BadManifest(why) => write!(f, "malformed manifest: {why}"),
            Error::ManifestAuth => f.write_str("manifest authentication failed"),
            Error::BadContext(why) => write!(f, "invalid encryption context: {why}"),
            Error::RangeNotSatisfiable => f.write_str("range not satisfiable"),
            Error::Rng => f.write_str("random number generator failed"),
        }
    }
}

impl core::error::Error for Error {}
