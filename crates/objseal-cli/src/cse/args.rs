//! Command-line syntax of `put`, `get`, `ls`, `rm` and `rewrap` (clap derive).

use std::ffi::OsString;
use std::path::PathBuf;

use clap::Args;
use objseal_client::ByteRange;

use super::address::S3Url;
pub use super::options::{KeyOptions, OutputOptions, ReadOptions, Region, S3Options, Transfer};
use crate::cli::parse_pair;

/// The after-help paragraph on where the endpoint and credentials come from.
macro_rules! endpoint_help {
    () => {
        "\
The endpoint, region and credentials are read as the AWS CLI reads them: --endpoint-url, else
AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL; --region, else AWS_REGION or the profile's; credentials from
AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN, else the profile (--profile, else
AWS_PROFILE, else `default`) in ~/.aws/credentials and ~/.aws/config."
    };
}
const ENDPOINT_HELP: &str = endpoint_help!();

/// The help of `--region` where it is `KmsConnection`'s.
const REGION_HELP: &str = "The region of S3 and of the --kms-endpoint service, and of the ARNs of the \
embedded keystore [default: AWS_REGION or the profile's; for the keystore, us-east-1]";

/// `objseal put`.
#[derive(Debug, Args)]
#[command(
    mut_arg("region", |a| a.help(REGION_HELP)),
    override_usage = "objseal put [OPTIONS] [FILE|-] s3://BUCKET/KEY",
    long_about = "Encrypt a file or standard input and upload it to any S3 endpoint.\n\nA fresh \
data key is drawn for the object and wrapped for every key given (-k key files, --kms-key KMS keys), \
bound to the encryption context and to the object's bucket and key. Objects of at least --part-size \
bytes go up as multipart uploads, parts sealed and uploaded in parallel, in bounded memory whatever \
the size; a failed multipart upload is aborted. The store only ever sees ciphertext.",
    after_help = PUT_AFTER_HELP
)]
pub struct PutArgs {
    /// The plaintext (`-` or absent: standard input) and the object to write.
    #[arg(value_name = "ARGS", num_args = 1..=2, required = true, hide = true)]
    pub args: Vec<OsString>,
    /// The object's Content-Type.
    #[arg(long, value_name = "TYPE")]
    pub content_type: Option<String>,
    /// User metadata stored in the clear beside the object, repeatable.
    #[arg(long = "metadata", value_name = "NAME=VALUE", value_parser = parse_pair)]
    pub metadata: Vec<(String, String)>,
    /// Output.
    #[command(flatten)]
    pub out: OutputOptions,
    /// The keys the data key is wrapped for (at least one).
    #[command(flatten)]
    pub keys: KeyOptions,
    /// Bind the context to nothing but the -c pairs: the object may then be copied or moved byte
    /// for byte and still read.
    #[arg(long, help_heading = "Keys")]
    pub unbound: bool,
    /// Write the AWS S3 Encryption Client's V3 format (one request, read whole; needs --kms-key).
    #[arg(long, help_heading = "Keys")]
    pub s3ec_v3: bool,
    /// The endpoint.
    #[command(flatten)]
    pub s3: S3Options,
    /// Part sizes and parallelism.
    #[command(flatten)]
    pub transfer: Transfer,
}

const PUT_AFTER_HELP: &str = concat!(
    "\
FILE is the plaintext; `-` or no FILE: standard input.

Examples:
  objseal put -k my.key photo.jpg s3://photos/cat.jpg --endpoint-url http://127.0.0.1:9000
  tar c dir | objseal put --kms-key alias/backups - s3://backups/dir.tar -c host=web1
  objseal put -k my.key -k recovery.key --part-size 64MiB -j 16 big.iso s3://isos/big.iso

",
    endpoint_help!()
);

/// `objseal get`.
#[derive(Debug, Args)]
#[command(
    mut_arg("region", |a| a.help(REGION_HELP)),
    long_about = "Download an object, verify and decrypt it.\n\nThe header and wrapped keys are \
verified before any data is fetched; only keys given here are used (strict), unless --discovery. \
Chunks are fetched in parallel ranged requests and written only once they verified. An output FILE \
is written to a temporary file beside it and renamed into place only when everything verified: a \
wrong key, a wrong context or tampered data leaves no file. On standard output, data streams as it \
verifies; on an error the exit status is 1 and what was written must be discarded.",
    after_help = GET_AFTER_HELP
)]
pub struct GetArgs {
    /// The object.
    #[arg(value_name = "s3://BUCKET/KEY", value_parser = S3Url::object)]
    pub object: S3Url,
    /// Where to write the plaintext (a directory: the key's last name in it); `-` or absent:
    /// standard output.
    #[arg(value_name = "FILE|-")]
    pub output: Option<PathBuf>,
    /// Only these plaintext bytes: `bytes=0-99` (or `0-99`), `100-` (to the end), `-500` (the
    /// last 500).
    #[arg(long, value_name = "RANGE", value_parser = crate::cse::address::parse_range,
          allow_hyphen_values = true)]
    pub range: Option<ByteRange>,
    /// Output.
    #[command(flatten)]
    pub out: OutputOptions,
    /// The keys that may unwrap the data key.
    #[command(flatten)]
    pub keys: KeyOptions,
    /// Reading options.
    #[command(flatten)]
    pub read: ReadOptions,
    /// The endpoint.
    #[command(flatten)]
    pub s3: S3Options,
    /// Part sizes and parallelism.
    #[command(flatten)]
    pub transfer: Transfer,
}

const GET_AFTER_HELP: &str = concat!(
    "\
Examples:
  objseal get -k my.key s3://photos/cat.jpg cat.jpg
  objseal get --kms-key alias/photos s3://photos/cat.jpg --range bytes=0-1023 > head.bin
  objseal get -k my.key s3://photos/copy.jpg --written-as s3://photos/cat.jpg > cat.jpg

",
    endpoint_help!()
);

/// `objseal ls`.
#[derive(Debug, Args)]
#[command(
    long_about = "List the objects of a bucket, or those whose keys start with a prefix: last \
modified, stored (ciphertext) size, key. Instruction objects (the manifests and wrapped keys kept \
beside some objects) are left out. --long also reads each object's metadata (no key needed, nothing \
verified): its format, plaintext size and the key ids its data key is wrapped for.",
    after_help = ENDPOINT_HELP
)]
pub struct LsArgs {
    /// The bucket, or a prefix of keys in it.
    #[arg(value_name = "s3://BUCKET[/PREFIX]", value_parser = S3Url::prefix)]
    pub target: S3Url,
    /// Also show each object's format, plaintext size and key ids (one HEAD request each).
    #[arg(short, long)]
    pub long: bool,
    /// Output.
    #[command(flatten)]
    pub out: OutputOptions,
    /// The region.
    #[command(flatten)]
    pub region: Region,
    /// The endpoint.
    #[command(flatten)]
    pub s3: S3Options,
}

/// `objseal rm`.
#[derive(Debug, Args)]
#[command(
    long_about = "Delete objects, and the instruction object beside each. An object that does \
not exist is an error (exit status 1, after the others were deleted) unless --force.",
    after_help = ENDPOINT_HELP
)]
pub struct RmArgs {
    /// The objects.
    #[arg(value_name = "s3://BUCKET/KEY", required = true, value_parser = S3Url::object)]
    pub objects: Vec<S3Url>,
    /// Ignore objects that do not exist.
    #[arg(short, long)]
    pub force: bool,
    /// Output.
    #[command(flatten)]
    pub out: OutputOptions,
    /// The region.
    #[command(flatten)]
    pub region: Region,
    /// The endpoint.
    #[command(flatten)]
    pub s3: S3Options,
}

/// `objseal rewrap`.
#[derive(Debug, Args)]
#[command(
    mut_arg("region", |a| a.help(REGION_HELP)),
    long_about = "Give objects new wrapped keys: the data key is unwrapped with the keys given \
(-k, --kms-key), verified against the object's header, and wrapped for the new recipients \
(--to-key, --to-kms-key), which replace the old ones. Only metadata changes (a self-copy pinned to \
the version read); the data is not rewritten. AWS S3 Encryption Client objects have no such keys: \
--migrate reads them and writes them again as OSE1 for the new recipients.",
    after_help = REWRAP_AFTER_HELP
)]
pub struct RewrapArgs {
    /// The objects.
    #[arg(value_name = "s3://BUCKET/KEY", required = true, value_parser = S3Url::object)]
    pub objects: Vec<S3Url>,
    /// Output.
    #[command(flatten)]
    pub out: OutputOptions,
    /// A new recipient: a key file; repeatable.
    #[arg(long = "to-key", value_name = "KEYFILE", help_heading = "New keys")]
    pub to_keys: Vec<PathBuf>,
    /// A new recipient: a KMS master key; repeatable.
    #[arg(long = "to-kms-key", value_name = "KEY", help_heading = "New keys")]
    pub to_kms_keys: Vec<String>,
    /// Migrate AWS S3 Encryption Client objects to OSE1 (their data is read and written again).
    #[arg(long, help_heading = "New keys")]
    pub migrate: bool,
    /// The keys that may unwrap the data key now.
    #[command(flatten)]
    pub keys: KeyOptions,
    /// Reading options.
    #[command(flatten)]
    pub read: ReadOptions,
    /// The endpoint.
    #[command(flatten)]
    pub s3: S3Options,
    /// Part sizes and parallelism.
    #[command(flatten)]
    pub transfer: Transfer,
}

const REWRAP_AFTER_HELP: &str = concat!(
    "\
Examples:
  objseal rewrap -k old.key --to-kms-key alias/photos s3://photos/a.jpg s3://photos/b.jpg
  objseal rewrap --kms-key alias/old --to-kms-key alias/new --to-key recovery.key s3://b/k
  objseal rewrap --kms-key alias/k --migrate --to-kms-key alias/k s3://b/s3ec-object

",
    endpoint_help!()
);
