//! The `objseal` command.
#![forbid(unsafe_code)]

fn main() {}
