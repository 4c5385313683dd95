//! `objseal put [FILE|-] s3://bucket/key`.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::Result;
use objseal_client::{Location, PutOptions, PutOutput, WriteFormat};
use serde_json::json;

use super::address::S3Url;
use super::args::PutArgs;
use super::connect::{self, KmsOpener};
use super::progress::{self, CountingReader};
use super::{block_on, bucket_missing, print_json, usage_error};
use crate::stdio;

/// `objseal put`.
pub fn put(args: PutArgs) -> Result<()> {
    let (source, dest) = operands(&args);
    if args.keys.keys.is_empty() && args.keys.kms_keys.is_empty() {
        usage_error(
            "put",
            "give the keys to encrypt for: -k KEYFILE and/or --kms-key KEY (each repeatable)",
        );
    }
    if args.s3ec_v3 && (args.keys.kms_keys.len() != 1 || !args.keys.keys.is_empty()) {
        usage_error(
            "put",
            "--s3ec-v3 writes for exactly one KMS key: one --kms-key and no -k",
        );
    }
    let context = connect::context(&args.keys.context).unwrap_or_else(|e| usage_error("put", e));
    let mut metadata = HashMap::new();
    for (name, value) in &args.metadata {
        if metadata.insert(name.clone(), value.clone()).is_some() {
            usage_error("put", format!("--metadata `{name}` is given twice"));
        }
    }
    if source.is_none() && std::io::stdin().is_terminal() && args.args.len() == 1 {
        anyhow::bail!(
            "refusing to read the object from a terminal: give a FILE, pipe the data in, or say \
             `-` to type it"
        );
    }
    let options = PutOptions {
        context,
        // The S3 Encryption Client's format binds no location.
        location: if args.unbound || args.s3ec_v3 {
            Location::Unbound
        } else {
            Location::Here
        },
        content_type: args.content_type.clone(),
        metadata,
        format: if args.s3ec_v3 {
            WriteFormat::S3ecV3
        } else {
            WriteFormat::Objseal
        },
    };
    block_on(upload(&args, source.as_deref(), &dest, &options))
}

/// The plaintext (`None`: standard input) and the destination, from `[FILE|-] s3://BUCKET/KEY`.
fn operands(args: &PutArgs) -> (Option<PathBuf>, S3Url) {
    let (source, dest) = match args.args.as_slice() {
        [dest] => (None, dest),
        [source, dest] => (Some(PathBuf::from(source)), dest),
        _ => usage_error("put", "expected [FILE|-] s3://BUCKET/KEY"),
    };
    let dest = dest
        .to_str()
        .ok_or_else(|| format!("`{}` is not an S3 address", dest.to_string_lossy()))
        .and_then(S3Url::object)
        .unwrap_or_else(|e| {
            usage_error("put", format!("{e} (objseal put [FILE|-] s3://BUCKET/KEY)"))
        });
    let source = source.filter(|p| p.as_os_str() != "-");
    (source, dest)
}

async fn upload(
    args: &PutArgs,
    source: Option<&Path>,
    dest: &S3Url,
    options: &PutOptions,
) -> Result<()> {
    let input = stdio::open_input(source)?;
    let mut kms = KmsOpener::new(&args.keys.kms, args.s3.profile.as_deref());
    let keyring = connect::recipients(&args.keys.keys, &args.keys.kms_keys, &mut kms).await?;
    let config = connect::client_config(
        &args.s3,
        Some(&args.transfer),
        args.keys.kms.region.as_deref(),
    );
    let client = connect::connect(config, keyring).await?;
    let bar = progress::bar(
        progress::wanted(&args.out),
        input.file_len,
        format!("put {dest}"),
    );
    let mut reader = CountingReader::new(input.reader, bar.clone());
    match client
        .put_stream(&dest.bucket, &dest.key, &mut reader, options)
        .await
    {
        Ok(out) => {
            progress::finish(&bar);
            report(args, dest, &out);
            Ok(())
        }
        Err(e) => {
            bar.finish_and_clear();
            let e = bucket_missing(&client, e, &dest.bucket).await;
            Err(e.context(format!("cannot put {dest}")))
        }
    }
}

fn report(args: &PutArgs, dest: &S3Url, out: &PutOutput) {
    if args.out.json {
        print_json(&json!({
            "bucket": dest.bucket,
            "key": dest.key,
            "plaintext_len": out.plaintext_len,
            "stored_len": out.stored_len,
            "parts": out.parts,
            "etag": out.etag,
            "format": if args.s3ec_v3 { "s3ec-v3" } else { "objseal" },
        }));
    } else if !args.out.quiet {
        let parts = match out.parts {
            0 => String::new(),
            n => format!(" in {n} parts"),
        };
        eprintln!(
            "objseal: put {dest}: {} bytes{parts}, {} stored",
            out.plaintext_len, out.stored_len
        );
    }
}
