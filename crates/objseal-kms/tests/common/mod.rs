//! Helpers shared by the integration tests of the remote client and the server.
#![allow(dead_code)]

pub mod peers;
pub mod scenario;
