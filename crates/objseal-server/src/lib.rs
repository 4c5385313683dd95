//! # objseal-server
//!
//! An S3-compatible endpoint that encrypts at rest the way Amazon S3 does — SSE-S3, SSE-KMS and
//! SSE-C — with the objseal engine, over a pluggable object store.
//!
//! The server is two layers, both implementing [`s3s::S3`]:
//!
//! * [`SseLayer`] owns every server-side-encryption rule: it parses the SSE headers, makes and
//!   wraps data keys (through [`objseal_kms::Kms`] or the customer's key), seals request bodies
//!   into OSE1 chunks and opens them again, maps plaintext ranges to chunk ranges and ciphertext
//!   sizes back to plaintext sizes, and answers with Amazon S3's headers, errors and ETags.
//! * An inner store keeps what it is given: ciphertext bodies, and the layer's header, wrapped
//!   keys and manifest as internal metadata (see [`internal`]). [`LocalStore`] is the embedded
//!   one, a local directory with crash-safe writes; any other `S3` implementation can take its
//!   place.
//!
//! [`server`] binds them to a listener with SigV4 authentication, TLS, a health endpoint,
//! Prometheus metrics and graceful shutdown.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod internal;
pub mod metrics;
pub mod principals;
pub mod server;
pub mod sse;
pub mod store;

pub use server::{RunningServer, Server, ServerConfig, ServerError};
pub use sse::{DefaultEncryption, GATEWAY_OPEN_INLINE_MAX, SseConfig, SseLayer};
pub use store::LocalStore;
