//! `objseal`: encrypt and decrypt files and streams in the OSE1 object format, and manage key files.
//!
//! Every command streams in constant memory; outputs written to a path appear only, atomically, on
//! full success. See `objseal --help` and `objseal <command> --help`.
#![forbid(unsafe_code)]

mod cli;
mod crypt;
mod cse;
mod demo;
mod demo_s3;
mod inspect;
mod keyfile;
mod keys;
mod kms;
mod pipe;
mod serve;
mod stdio;
mod time;

use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Parser;

use crate::cli::{Cli, Command};

fn main() -> ExitCode {
    // Usage errors exit with status 2 from inside `parse` (nothing has been created yet).
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("objseal: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs one command. Returns (rather than exiting) on error so that temporary files are removed by
/// their destructors before the process ends.
fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Keygen(args) => keyfile::keygen(args.output.as_deref(), args.force),
        Command::Encrypt(args) => in_pool(args.threads, || {
            let key = match (&args.key, &args.kms_key) {
                (Some(file), _) => crypt::KeySource::File(file),
                (None, Some(key_id)) => crypt::KeySource::Kms {
                    key_id,
                    conn: &args.kms,
                },
                (None, None) => anyhow::bail!("give a key file (-k) or a KMS key (--kms-key)"),
            };
            crypt::encrypt(&crypt::EncryptJob {
                key,
                input: stdio::path_or_stdio(args.input.as_deref()),
                output: stdio::path_or_stdio(args.output.as_deref()),
                chunk_log2: args.chunk_log2,
                context: &args.context,
            })
            .map(|_| ())
        }),
        Command::Decrypt(args) => in_pool(args.threads, || {
            crypt::decrypt(&crypt::DecryptJob {
                key: args.key.as_deref(),
                kms: Some(&args.kms),
                input: stdio::path_or_stdio(args.input.as_deref()),
                output: stdio::path_or_stdio(args.output.as_deref()),
                context: &args.context,
            })
            .map(|_| ())
        }),
        Command::Inspect(args) => {
            let mut stdout = std::io::stdout().lock();
            inspect::inspect(stdio::path_or_stdio(args.file.as_deref()), &mut stdout)
        }
        Command::Demo(args) => in_pool(args.threads, || demo::run(args.size)),
        Command::Kms(args) => kms::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Put(args) => cse::put(args),
        Command::Get(args) => cse::get(args),
        Command::Ls(args) => cse::ls(args),
        Command::Rm(args) => cse::rm(args),
        Command::Rewrap(args) => cse::rewrap(args),
    }
}

/// Runs `job` on a rayon pool of `threads` workers, or on the global pool (one worker per core).
fn in_pool<T: Send>(threads: Option<u16>, job: impl FnOnce() -> Result<T> + Send) -> Result<T> {
    match threads {
        None => job(),
        Some(n) => rayon::ThreadPoolBuilder::new()
            .num_threads(usize::from(n))
            .thread_name(|i| format!("objseal-{i}"))
            .build()
            .context("starting the worker threads")?
            .install(job),
    }
}
