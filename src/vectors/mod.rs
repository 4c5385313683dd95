//! The OSE1 test vectors: schema, deterministic generator and reference decoder.
//!
//! Three files, `tests/vectors/positive.json`, `tests/vectors/negative.json` and
//! `tests/vectors/range.json`, each a [`VectorFile`]. Every byte string is lowercase hex; context
//! pairs are UTF-8 strings. `docs/FORMAT.md` §12 describes every field. Regenerate with [`GENERATOR_COMMAND`]; `tests/vectors.rs` fails if the
//! committed files differ from what [`generate`] produces.

mod decode;
mod generate;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use decode::{Decrypted, decrypt, decrypt_range, error_name, verify_vector};
pub use generate::generate;

/// The command that regenerates the vector files.
pub const GENERATOR_COMMAND: &str = "cargo run -p objseal-suite --bin gen-vectors";
/// Path of the positive vectors, relative to the repository root.
pub const POSITIVE_PATH: &str = "tests/vectors/positive.json";
/// Path of the negative vectors, relative to the repository root.
pub const NEGATIVE_PATH: &str = "tests/vectors/negative.json";
/// Path of the range-read vectors, relative to the repository root.
pub const RANGE_PATH: &str = "tests/vectors/range.json";

/// One vector file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VectorFile {
    /// Always `"OSE1"`.
    pub format: String,
    /// `"positive"` (every vector decrypts to `plaintext`), `"negative"` (every vector fails with
    /// `expected_error`) or `"range"` (a read of every vector's `range` gives `range_plaintext` or
    /// fails with `expected_error`).
    pub kind: String,
    /// How the file was made ([`GENERATOR_COMMAND`]).
    pub generator: String,
    /// A short description of the file and a pointer to `docs/FORMAT.md`.
    pub description: String,
    /// The vectors.
    pub vectors: Vec<Vector>,
}

/// One object as a reader sees it, with the keys and context the reader holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vector {
    /// Unique name.
    pub name: String,
    /// What the vector exercises (and, for negative vectors, what was done to the object).
    pub description: String,
    /// Range vectors: the plaintext byte range the reader asks for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<RangeSpec>,
    /// Negative vectors: the error a conforming decoder reports (an `objseal_core::Error` variant name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_error: Option<String>,
    /// Negative vectors failing with `ChunkAuth`: the chunk that fails first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_chunk: Option<ChunkRef>,
    /// The key-encryption key the reader holds (32 bytes).
    pub kek: String,
    /// The data key the writer used (32 bytes); informative, a decoder recovers it from `wrapped_key`.
    pub dek: String,
    /// The writer's object salt (32 bytes); informative, it is also in `header`.
    pub object_salt: String,
    /// The salt of the writer's wrap (32 bytes); informative, it is also in `wrapped_key`.
    pub wrap_salt: String,
    /// The encryption context the reader supplies, in the order given (not necessarily sorted).
    pub context: Vec<[String; 2]>,
    /// SHA-256 of the canonical encoding of `context` (32 bytes).
    pub ctx_hash: String,
    /// The writer's chunk size as log2; informative, it is also in `header`.
    pub chunk_log2: u8,
    /// Whether the writer made a segmented (multipart) object; informative, it is also in `header`.
    pub segmented: bool,
    /// The header as stored (104 bytes unless a vector damages it).
    pub header: String,
    /// The wrapped-DEK blob as stored, when the object has exactly one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wrapped_key: Option<String>,
    /// The wrapped-DEK blobs as stored, in order, when the object has several (then `wrapped_key` is
    /// absent).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub wrapped_keys: Vec<String>,
    /// Segmented objects: the manifest as stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest: Option<String>,
    /// Segmented objects: the segments as the writer uploaded them (informative; the reader reads `body`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub segments: Vec<SegmentVector>,
    /// The object body as the reader fetches it: the chunks (all segments back to back).
    pub body: String,
    /// Some unsegmented positive vectors: the same object as one file container
    /// (header ‖ key section ‖ body).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// Positive vectors: the plaintext.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plaintext: Option<String>,
    /// Range vectors that succeed: the plaintext bytes the range read returns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range_plaintext: Option<String>,
}

/// A plaintext byte range, as HTTP `Range: bytes=…` gives it.
///
/// ```
/// use objseal_suite::vectors::RangeSpec;
/// let r: RangeSpec = serde_json::from_str(r#"{"first": 1, "last": 5}"#).unwrap();
/// assert_eq!(r, RangeSpec::Inclusive { first: 1, last: 5 });
/// assert_eq!(r.resolve(3), Some(1..3));
/// assert_eq!(RangeSpec::Suffix { suffix: 10 }.resolve(4), Some(0..4));
/// assert_eq!(RangeSpec::From { from: 4 }.resolve(4), None);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged, deny_unknown_fields)]
pub enum RangeSpec {
    /// Bytes `first..=last` (`bytes=first-last`); a `last` past the end is clamped to it.
    Inclusive {
        /// First byte.
        first: u64,
        /// Last byte, inclusive.
        last: u64,
    },
    /// From `from` to the end (`bytes=from-`).
    From {
        /// First byte.
        from: u64,
    },
    /// The last `suffix` bytes (`bytes=-suffix`), the whole object if it is shorter.
    Suffix {
        /// How many bytes.
        suffix: u64,
    },
}

impl RangeSpec {
    /// The plaintext bytes `start..end` this range selects from an object of `len` bytes, or `None`
    /// when it is not satisfiable (`first > last`, a start at or past the end, an empty suffix, or
    /// any range of an empty object).
    pub fn resolve(self, len: u64) -> Option<core::ops::Range<u64>> {
        match self {
            RangeSpec::Inclusive { first, last } if first <= last && first < len => {
                Some(first..last.saturating_add(1).min(len))
            }
            RangeSpec::From { from } if from < len => Some(from..len),
            RangeSpec::Suffix { suffix } if suffix > 0 && len > 0 => {
                Some(len - suffix.min(len)..len)
            }
            _ => None,
        }
    }
}

impl From<RangeSpec> for objseal_core::range::ByteRange {
    fn from(range: RangeSpec) -> Self {
        match range {
            RangeSpec::Inclusive { first, last } => Self::Inclusive { first, last },
            RangeSpec::From { from } => Self::From(from),
            RangeSpec::Suffix { suffix } => Self::Suffix(suffix),
        }
    }
}

/// One uploaded segment (S3 part).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SegmentVector {
    /// Segment number (the S3 part number).
    pub number: u32,
    /// The segment salt of this upload (16 bytes).
    pub salt: String,
    /// The segment's ciphertext (its chunks).
    pub ciphertext: String,
}

/// A chunk position.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChunkRef {
    /// Segment number (0 for unsegmented objects).
    pub segment: u32,
    /// Chunk index within the segment.
    pub chunk: u64,
}

impl VectorFile {
    /// The file as committed: pretty JSON with a trailing newline.
    ///
    /// # Panics
    /// Never in practice (the schema always serializes).
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("vector schema serializes");
        s.push('\n');
        s
    }

    /// Parses a vector file.
    ///
    /// # Errors
    /// The JSON error, if the text is not a vector file.
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }
}

/// The repository root (where the vector paths are relative to).
pub fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Absolute path of a vector file given relative to the repository root.
pub fn vector_path(relative: &str) -> PathBuf {
    repo_root().join(relative)
}

/// Decodes a hex field, naming it in the error.
///
/// # Errors
/// A message naming the field when it is not valid hex.
pub fn unhex(field: &str, value: &str) -> Result<Vec<u8>, String> {
    hex::decode(value).map_err(|e| format!("field {field}: {e}"))
}

/// Decodes a hex field of exactly `N` bytes.
///
/// # Errors
/// A message naming the field when it is not valid hex or not `N` bytes.
pub fn unhex_array<const N: usize>(field: &str, value: &str) -> Result<[u8; N], String> {
    let bytes = unhex(field, value)?;
    bytes
        .as_slice()
        .try_into()
        .map_err(|_| format!("field {field}: {} bytes, expected {N}", bytes.len()))
}
