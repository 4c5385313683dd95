//! Command-line syntax (clap derive).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::kms::KmsConnection;

const AFTER_HELP: &str = "\
Examples:
  objseal keygen -o my.key
  objseal encrypt -k my.key -i photo.jpg -o photo.jpg.ose --context bucket=photos
  objseal decrypt -k my.key -i photo.jpg.ose -o photo.jpg --context bucket=photos
  objseal inspect photo.jpg.ose
  tar c dir | objseal encrypt -k my.key > dir.tar.ose
  objseal encrypt --kms-key alias/photos -i photo.jpg -o photo.jpg.ose   # data key from the KMS
  objseal decrypt -i photo.jpg.ose -o photo.jpg                          # unwrapped by the KMS
  objseal demo
  objseal kms --help
  objseal serve                                                          # an S3 endpoint that encrypts at rest
  objseal put -k my.key photo.jpg s3://photos/cat.jpg --endpoint-url URL # client-side: the store sees ciphertext
  objseal get -k my.key s3://photos/cat.jpg cat.jpg                      # verified, then renamed into place
  objseal get -k my.key s3://photos/cat.jpg --range -1000 | xxd          # the last 1000 bytes only
  objseal ls --long s3://photos                                          # formats and key ids; no key needed
  objseal rewrap -k my.key --to-kms-key alias/photos s3://photos/cat.jpg
  objseal rm s3://photos/cat.jpg

Exit status: 0 on success, 1 on any error, 2 on a usage error.";

/// Encrypt and decrypt files and streams for object storage.
///
/// objseal seals data in the OSE1 format: chunked, streaming AES-256-GCM under a fresh random data key
/// per object, with a key-committing header bound to an optional encryption context. The data key is
/// stored wrapped by a key-encryption key from a key file (`objseal keygen`) or by a KMS master key.
/// `put`, `get`, `ls`, `rm` and `rewrap` do the same for objects on any S3 endpoint (client-side
/// encryption: the store only ever sees ciphertext).
#[derive(Debug, Parser)]
#[command(name = "objseal", version, after_help = AFTER_HELP)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Generate a new key-encryption key file.
    Keygen(KeygenArgs),
    /// Encrypt a file or stream.
    Encrypt(EncryptArgs),
    /// Decrypt and verify a file or stream.
    Decrypt(DecryptArgs),
    /// Show the header and wrapped keys of an encrypted file (no key needed, nothing secret shown).
    Inspect(InspectArgs),
    /// Run the whole job on embedded defaults: keygen, encrypt, inspect, decrypt, verify, tamper check.
    Demo(DemoArgs),
    /// Manage master keys (embedded keystore or remote KMS), read the audit log, serve the keystore.
    Kms(crate::kms::KmsArgs),
    /// Serve an S3-compatible endpoint that encrypts at rest (SSE-S3, SSE-KMS, SSE-C).
    Serve(crate::serve::ServeArgs),
    /// Encrypt a file or stream and upload it to any S3 endpoint (client-side encryption).
    Put(crate::cse::args::PutArgs),
    /// Download an object, verify and decrypt it (all of it or a byte range).
    Get(crate::cse::args::GetArgs),
    /// List the objects of a bucket (or under a prefix); --long adds their formats and key ids.
    Ls(crate::cse::args::LsArgs),
    /// Delete objects (and the instruction objects beside them).
    Rm(crate::cse::args::RmArgs),
    /// Give objects new wrapped keys (other KMS keys or key files) without rewriting their data.
    Rewrap(crate::cse::args::RewrapArgs),
}

/// `objseal keygen`.
#[derive(Debug, Args)]
#[command(
    long_about = "Generate a new 32-byte key-encryption key from the operating system's \
random source.\n\nThe key file is text: a comment line, then `objseal-kek-1:` and 64 hex digits. A file \
is created with mode 0600 and never overwritten unless --force is given. Without -o the key is printed \
to standard output. Keep the key file secret: whoever has it can decrypt everything sealed with it."
)]
pub struct KeygenArgs {
    /// Write the key to FILE (mode 0600) instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Replace FILE if it already exists.
    #[arg(long, requires = "output")]
    pub force: bool,
}

/// `objseal encrypt`.
#[derive(Debug, Args)]
#[command(
    long_about = "Encrypt a file or stream.\n\nA fresh random data key and salt are drawn for \
the object; the data key is stored wrapped by the key-encryption key in KEYFILE, bound to the \
encryption context. With --kms-key instead, the data key comes from a KMS master key (the embedded \
keystore, or --kms-endpoint) and is stored as the KMS wrapped it, bound to the encryption context. \
The input is streamed in constant memory. An output file is written to a temporary file beside it and \
renamed into place only when complete."
)]
pub struct EncryptArgs {
    /// Key file (from `objseal keygen`).
    #[arg(
        short,
        long,
        value_name = "KEYFILE",
        required_unless_present = "kms_key",
        conflicts_with = "kms_key"
    )]
    pub key: Option<PathBuf>,
    /// Take the data key from this KMS master key (key id, key ARN or alias) instead of a key file.
    #[arg(long, value_name = "KEY")]
    pub kms_key: Option<String>,
    /// The KMS of --kms-key: the embedded keystore, or a remote service.
    #[command(flatten)]
    pub kms: KmsConnection,
    /// Plaintext to read; `-` or absent: standard input.
    #[arg(short, long, value_name = "IN")]
    pub input: Option<PathBuf>,
    /// Where to write the encrypted file; `-` or absent: standard output.
    #[arg(short, long, value_name = "OUT")]
    pub output: Option<PathBuf>,
    /// log2 of the chunk size: 12 (4 KiB) to 24 (16 MiB).
    #[arg(long, value_name = "N", default_value_t = objseal_core::DEFAULT_CHUNK_LOG2,
          value_parser = clap::value_parser!(u8).range(12..=24))]
    pub chunk_log2: u8,
    /// Encryption context pair, repeatable; decryption must give the same pairs (in any order).
    #[arg(short, long = "context", value_name = "KEY=VALUE", value_parser = parse_pair)]
    pub context: Vec<(String, String)>,
    /// Worker threads [default: one per CPU core].
    #[arg(short = 'j', long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub threads: Option<u16>,
}

/// `objseal decrypt`.
#[derive(Debug, Args)]
#[command(
    long_about = "Decrypt and verify a file or stream.\n\nOnly authenticated data is ever \
written. An output file appears (atomically) only if the whole input verified: a wrong key, a wrong \
context, or a tampered, truncated or extended input leaves no output file. On standard output, data is \
streamed as it verifies; on an error the exit status is 1 and what was written must be discarded."
)]
pub struct DecryptArgs {
    /// Key file (from `objseal keygen`); without it, the data key is unwrapped by the KMS (the
    /// embedded keystore, or --kms-endpoint) that wrapped it.
    #[arg(short, long, value_name = "KEYFILE")]
    pub key: Option<PathBuf>,
    /// The KMS for files encrypted with `--kms-key`.
    #[command(flatten)]
    pub kms: KmsConnection,
    /// Encrypted file to read; `-` or absent: standard input.
    #[arg(short, long, value_name = "IN")]
    pub input: Option<PathBuf>,
    /// Where to write the plaintext; `-` or absent: standard output.
    #[arg(short, long, value_name = "OUT")]
    pub output: Option<PathBuf>,
    /// Encryption context pair, repeatable: the pairs given at encryption.
    #[arg(short, long = "context", value_name = "KEY=VALUE", value_parser = parse_pair)]
    pub context: Vec<(String, String)>,
    /// Worker threads [default: one per CPU core].
    #[arg(short = 'j', long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub threads: Option<u16>,
}

/// `objseal inspect`.
#[derive(Debug, Args)]
#[command(
    long_about = "Show the header and wrapped keys of an encrypted file, and for a file its \
body and plaintext lengths. Needs no key and shows nothing secret. Nothing is verified: the lengths \
are computed from the file's size, and only `decrypt` authenticates."
)]
pub struct InspectArgs {
    /// Encrypted file; `-` or absent: standard input.
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,
}

/// `objseal demo`.
#[derive(Debug, Args)]
#[command(
    long_about = "Run the whole job on embedded defaults, in a temporary directory that is \
removed afterwards: generate a key, write a deterministic sample file, encrypt it, inspect it, decrypt \
it, check the round trip, then tamper with the ciphertext and show that it is refused. Prints timings, \
throughput and the AES-GCM backend in use."
)]
pub struct DemoArgs {
    /// Sample size: bytes, or with a K, M, G (or KiB, MiB, GiB) suffix.
    #[arg(long, value_name = "BYTES", default_value = "64MiB", value_parser = parse_size)]
    pub size: u64,
    /// Worker threads [default: one per CPU core].
    #[arg(short = 'j', long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub threads: Option<u16>,
}

/// `key=value` (split at the first `=`; the key must not be empty, the value may be).
pub(crate) fn parse_pair(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        Some(_) => Err("the key before `=` must not be empty".into()),
        None => Err("expected KEY=VALUE".into()),
    }
}

/// A byte count with an optional binary suffix: `4096`, `64K`, `64MiB`, `1g`.
pub(crate) fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, suffix) = s.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("`{s}` is not a size (e.g. 1048576, 64K, 64MiB, 1G)"))?;
    let shift = match suffix.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kib" => 10,
        "m" | "mib" => 20,
        "g" | "gib" => 30,
        other => return Err(format!("unknown size suffix `{other}` (use K, M or G)")),
    };
    n.checked_mul(1 << shift)
        .ok_or_else(|| format!("`{s}` is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("0"), Ok(0));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("64K"), Ok(64 << 10));
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("1g"), Ok(1 << 30));
        assert!(parse_size("").is_err());
        assert!(parse_size("12T").is_err());
        assert!(parse_size("-1").is_err());
        assert!(parse_size("99999999999999999999G").is_err());
    }

    #[test]
    fn pairs() {
        assert_eq!(parse_pair("a=b=c"), Ok(("a".into(), "b=c".into())));
        assert_eq!(parse_pair("a="), Ok(("a".into(), String::new())));
        assert!(parse_pair("=b").is_err());
        assert!(parse_pair("ab").is_err());
    }
}
