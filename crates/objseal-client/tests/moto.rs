//! The client against moto's S3 server, an independent S3 implementation, on loopback.

mod common;

use common::Env;

all_scenarios!(Env::moto().await);
