//! The client against `objseal serve` (plain mode, in process, on loopback).

mod common;

use common::Env;

all_scenarios!(Some(Env::objseal().await));
