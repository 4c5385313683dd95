//! # objseal-core
//!
//! Chunked, streaming AES-256-GCM object encryption with a key-committing header — `no_std`, and no
//! allocation anywhere in the default build.
//!
//! * [`gcm`]: AES-256-GCM in place over caller buffers; the CPU is detected once and the fastest
//!   backend used, and every backend can be pinned explicitly.
//! * [`ObjectKey`]: the per-object key schedule (HKDF from the DEK and a random salt); opening an object
//!   verifies the header tag first, which commits the key and binds the encryption context.
//! * [`stream`]: `Encryptor` / `Decryptor` state machines with STREAM nonces, so truncation, reordering
//!   and a missing final chunk are all detected. [`range`]: authenticated random access.
//! * [`format`]: the header, manifest, wrapped-key and file-container layouts; [`wrap`]: key wrapping.
//! * Feature `std`: `std::io` adapters ([`io`]); feature `rayon`: many chunks in parallel ([`par`]).
//!
//! `docs/FORMAT.md` in the repository is the normative format description, with test vectors.
//!
//! ```
//! use objseal_core::{context_hash, Dek, ObjectKey, ObjectParams, Header, stream};
//!
//! let dek = Dek::from_bytes([0x42; 32]);               // normally random, stored wrapped
//! let ctx = context_hash(&[("bucket", "b"), ("key", "k")]).unwrap();
//! let params = ObjectParams::new([7; 32], ctx).chunk_log2(12); // salt: random per object
//!
//! // Write: header + sealed body.
//! let writer = ObjectKey::create(&dek, &params).unwrap();
//! let header_bytes = writer.header().to_bytes();
//! let plaintext = b"hello, objseal".repeat(1000);
//! let mut body = vec![0u8; objseal_core::range::ciphertext_len(plaintext.len() as u64, 12).unwrap() as usize];
//! stream::seal_segment(&writer.body_key().unwrap(), &plaintext, &mut body).unwrap();
//!
//! // Read: parse, verify the header (key commitment + context), open.
//! let header = Header::parse(&header_bytes).unwrap();
//! let reader = ObjectKey::open_with_context(&dek, &header, &ctx).unwrap();
//! let mut out = vec![0u8; plaintext.len()];
//! let n = stream::open_segment(&reader.body_key().unwrap(), &body, &mut out).unwrap();
//! assert_eq!(&out[..n], &plaintext[..]);
//!
//! // Cut the last chunk off: refused, not a short success.
//! let cut = body.len() - (plaintext.len() % 4096 + 16);
//! assert!(stream::open_segment(&reader.body_key().unwrap(), &body[..cut], &mut out).is_err());
//! ```
#![no_std]
#![deny(missing_docs)]
// `unsafe` lives only in the SIMD kernel files (gcm/aesni.rs, gcm/vaes256.rs, gcm/vaes512.rs), which opt back in.
#![deny(unsafe_code)]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

#[cfg(feature = "std")]
extern crate std;

mod context;
mod error;
pub mod format;
pub mod gcm;
pub mod kdf;
mod key;
mod object;
pub mod range;
pub mod seal;
pub mod stream;
pub mod wrap;

#[cfg(feature = "std")]
pub mod io;
#[cfg(feature = "rayon")]
pub mod par;

pub use context::{CONTEXT_HASH_LEN, MAX_CONTEXT_PAIRS, context_hash, empty_context_hash};
pub use error::Error;
pub use format::header::{DEFAULT_CHUNK_LOG2, HEADER_LEN, Header, Suite};
pub use key::{Dek, KEY_LEN, Kek, ManifestKey};
pub use object::{ObjectKey, ObjectParams};
pub use seal::SegmentKey;

/// Length of a segment's random salt.
pub const SEGMENT_SALT_LEN: usize = 16;
