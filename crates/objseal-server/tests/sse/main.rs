//! The SSE server end to end: a real `objseal-server` on loopback, driven by the AWS SDK for Rust.
//!
//! With `OBJSEAL_TEST_BACKEND=moto` every server is the scale-out gateway over moto's S3 server on
//! loopback (see `backend.rs`); tests about the local data directory skip there, loudly.

mod backend;
mod common;
#[path = "../../../objseal-kms/tests/common/peers.rs"]
mod peers;

mod blocked_types;
mod bucket_default;
mod checksums;
mod copy;
mod disk;
mod errors;
mod modes;
mod multipart;
mod operations;
mod policy;
mod policy_gate;
mod ranges;
mod remote_kms;
mod role_separation;
