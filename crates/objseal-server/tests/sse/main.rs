//! The SSE server end to end: a real `objseal-server` on loopback, driven by the AWS SDK for Rust.

mod common;

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
