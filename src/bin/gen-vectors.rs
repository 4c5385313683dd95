//! Writes the OSE1 test vectors, `tests/vectors/positive.json`, `tests/vectors/negative.json` and
//! `tests/vectors/range.json`.
//!
//! ```text
//! cargo run -p objseal-suite --bin gen-vectors            # (re)write the files
//! cargo run -p objseal-suite --bin gen-vectors -- --check # exit 1 if the committed files differ
//! ```
//! The vectors are deterministic (fixed keys and salts), and every one is checked against the
//! reference decoder before anything is written.

use std::process::ExitCode;

use objseal_suite::vectors::{generate, vector_path, verify_vector};

fn main() -> ExitCode {
    let check_only = match std::env::args().nth(1).as_deref() {
        None => false,
        Some("--check") => true,
        Some(other) => {
            eprintln!("usage: gen-vectors [--check]   (unknown argument {other:?})");
            return ExitCode::from(2);
        }
    };
    let files = generate();
    let mut failed = false;
    for vector in files.iter().flat_map(|(_, file)| &file.vectors) {
        if let Err(message) = verify_vector(vector) {
            eprintln!("vector does not verify: {message}");
            failed = true;
        }
    }
    if failed {
        return ExitCode::FAILURE;
    }
    for (relative, file) in &files {
        let path = vector_path(relative);
        let json = file.to_json();
        if check_only {
            let same = std::fs::read_to_string(&path).is_ok_and(|on_disk| on_disk == json);
            if !same {
                eprintln!(
                    "{relative} is out of date: run `cargo run -p objseal-suite --bin gen-vectors`"
                );
                failed = true;
            }
            continue;
        }
        if let Some(dir) = path.parent()
            && let Err(e) = std::fs::create_dir_all(dir)
        {
            eprintln!("cannot create {}: {e}", dir.display());
            return ExitCode::FAILURE;
        }
        if let Err(e) = std::fs::write(&path, &json) {
            eprintln!("cannot write {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
        println!(
            "wrote {relative}: {} vectors, {} bytes",
            file.vectors.len(),
            json.len()
        );
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
