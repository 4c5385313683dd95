//! Workspace-level support for objseal's integration tests, test vectors and benches.
//!
//! [`vectors`] holds the schema of the published OSE1 test vectors (`tests/vectors/*.json`), their
//! deterministic generator and the reference decoder that checks them; the `gen-vectors` binary and
//! the `tests/vectors.rs` integration test share it.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod vectors;
