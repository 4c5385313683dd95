//! The option groups the client-side-encryption commands share (clap derive): the S3 endpoint,
//! transfers, keys, reading, output.

use std::path::PathBuf;

use clap::Args;

use super::address::S3Url;
use crate::cli::{parse_pair, parse_size};
use crate::kms::KmsConnection;

/// Where the objects are: the S3 endpoint and how requests are made. `--region` is not here: the
/// commands with keys take it from [`KmsConnection`] (one region for S3 and the KMS).
#[derive(Debug, Args)]
pub struct S3Options {
    /// The S3 endpoint, e.g. `http://127.0.0.1:9000` [default: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL,
    /// else AWS S3].
    #[arg(long, value_name = "URL", help_heading = "S3")]
    pub endpoint_url: Option<String>,
    /// The named profile of ~/.aws/config and ~/.aws/credentials [default: AWS_PROFILE, else
    /// `default`].
    #[arg(long, value_name = "NAME", help_heading = "S3")]
    pub profile: Option<String>,
    /// Path-style addressing (`http://host/bucket/key`) [default: on when an endpoint URL is given].
    #[arg(long, conflicts_with = "virtual_hosted", help_heading = "S3")]
    pub path_style: bool,
    /// Virtual-hosted addressing (`http://bucket.host/key`), even with an endpoint URL.
    #[arg(long, help_heading = "S3")]
    pub virtual_hosted: bool,
    /// Send no CRC checksums with uploads (for stores that reject them, such as older Ceph RGW).
    #[arg(long, help_heading = "S3")]
    pub no_checksums: bool,
}

/// How objects move: part sizes and parallelism (`put`, `get`, `rewrap`).
#[derive(Debug, Args)]
pub struct Transfer {
    /// Plaintext bytes per part of a multipart upload and per ranged request of a download; smaller
    /// objects go up in one request. 5MiB to 5GiB.
    #[arg(long, value_name = "BYTES", default_value = "16MiB", value_parser = parse_part_size,
          help_heading = "S3")]
    pub part_size: u64,
    /// Parts or ranges in flight at once (memory: about part size × N × 2).
    #[arg(short = 'j', long, value_name = "N", default_value_t = 8,
          value_parser = clap::value_parser!(u16).range(1..=256), help_heading = "S3")]
    pub concurrency: u16,
}

/// `--region` for the commands without keys (`ls`, `rm`).
#[derive(Debug, Args)]
pub struct Region {
    /// The S3 region [default: AWS_REGION, AWS_DEFAULT_REGION or the profile's, else us-east-1].
    #[arg(long, value_name = "REGION", help_heading = "S3")]
    pub region: Option<String>,
}

/// The keys objects are written for (`put`) or read with (`get`, `rewrap`).
#[derive(Debug, Args)]
pub struct KeyOptions {
    /// A key file (`objseal keygen`); repeatable: every key given is a recipient (put) or may
    /// unwrap (get).
    #[arg(short, long = "key", value_name = "KEYFILE", help_heading = "Keys")]
    pub keys: Vec<PathBuf>,
    /// A KMS master key (key id, key ARN, alias or alias ARN); repeatable, as -k.
    #[arg(long = "kms-key", value_name = "KEY", help_heading = "Keys")]
    pub kms_keys: Vec<String>,
    /// Encryption context pair, repeatable; readers must give the same pairs (in any order). The
    /// object's bucket and key are bound too (see --unbound).
    #[arg(short, long = "context", value_name = "KEY=VALUE", value_parser = parse_pair,
          help_heading = "Keys")]
    pub context: Vec<(String, String)>,
    /// The KMS of --kms-key (and of --to-kms-key, --discovery): the embedded keystore, or a remote
    /// service. --region is also the region of S3.
    #[command(flatten, next_help_heading = "KMS")]
    pub kms: KmsConnection,
}

/// What readers add to [`KeyOptions`].
#[derive(Debug, Args)]
pub struct ReadOptions {
    /// Also accept a KMS-wrapped key under whatever KMS key it names (opt-in: only when every
    /// writer of the bucket is trusted with every key the KMS lets you use).
    #[arg(long, help_heading = "Keys")]
    pub discovery: bool,
    /// The object was copied byte for byte from s3://BUCKET/KEY, where it was written.
    #[arg(long, value_name = "s3://BUCKET/KEY", value_parser = S3Url::object,
          conflicts_with = "unbound", help_heading = "Keys")]
    pub written_as: Option<S3Url>,
    /// The object was written with --unbound (its context does not name its bucket and key).
    #[arg(long, help_heading = "Keys")]
    pub unbound: bool,
    /// Also read AWS S3 Encryption Client objects (V3). Their format binds no object location: anyone
    /// who may write to the bucket could put another such object in this one's place.
    #[arg(long, help_heading = "Keys")]
    pub s3ec: bool,
    /// Also read AWS S3 Encryption Client objects of its V2 format (no key commitment); implies --s3ec.
    #[arg(long, help_heading = "Keys")]
    pub allow_legacy: bool,
}

/// How results are shown.
#[derive(Debug, Args)]
pub struct OutputOptions {
    /// Show no progress bar and no summary lines (errors still).
    #[arg(short, long, conflicts_with = "json")]
    pub quiet: bool,
    /// Print each result as one JSON object (a line) on standard output; no progress bar.
    #[arg(long)]
    pub json: bool,
}

/// A part size: [`parse_size`] within S3's 5 MiB ..= 5 GiB.
fn parse_part_size(s: &str) -> Result<u64, String> {
    let n = parse_size(s)?;
    if !(objseal_client::MIN_PART_SIZE as u64..=5 << 30).contains(&n) {
        return Err(format!("{s} is outside S3's part sizes, 5MiB to 5GiB"));
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_sizes() {
        assert_eq!(parse_part_size("5MiB"), Ok(5 << 20));
        assert!(parse_part_size("4MiB").is_err());
        assert!(parse_part_size("6G").is_err());
    }
}
