//! `objseal get s3://bucket/key [FILE|-]`.

use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow};
use objseal_client::{ByteRange, ClientError, EncryptingClient, GetOptions, GetOutput};
use serde_json::json;

use super::address::S3Url;
use super::args::GetArgs;
use super::connect::{self, KmsOpener};
use super::progress::{self, CountingWriter};
use super::{block_on, diagnose, format_name, print_json, usage_error};
use crate::stdio::{self, Output};

/// `objseal get`.
pub fn get(args: GetArgs) -> Result<()> {
    let to_stdout = stdio::path_or_stdio(args.output.as_deref()).is_none();
    if args.out.json && to_stdout {
        usage_error(
            "get",
            "--json prints its result on standard output, where the data would go: give an output \
             FILE",
        );
    }
    if args.keys.keys.is_empty() && args.keys.kms_keys.is_empty() && !args.read.discovery {
        usage_error(
            "get",
            "give the keys to decrypt with: -k KEYFILE and/or --kms-key KEY (each repeatable), or \
             --discovery",
        );
    }
    let options = GetOptions {
        context: connect::context(&args.keys.context).unwrap_or_else(|e| usage_error("get", e)),
        location: connect::location(&args.read),
        range: args.range,
        accept_s3ec: args.read.s3ec || args.read.allow_legacy,
        commitment: connect::commitment(&args.read),
    };
    block_on(download(&args, &options))
}

async fn download(args: &GetArgs, options: &GetOptions) -> Result<()> {
    let src = &args.object;
    let dest = destination(args.output.as_deref(), src)?;
    let mut kms = KmsOpener::new(&args.keys.kms, args.s3.profile.as_deref());
    let keyring = connect::read_keyring(&args.keys, &args.read, &mut kms).await?;
    let config = connect::client_config(
        &args.s3,
        Some(&args.transfer),
        args.keys.kms.region.as_deref(),
    );
    let client = connect::connect(config, keyring).await?;
    let show = progress::wanted(&args.out);
    let total = if show {
        estimate(&client, src, args.range).await
    } else {
        None
    };
    let bar = progress::bar(show, total, format!("get {src}"));
    let mut writer = CountingWriter::new(Output::create(dest.as_deref())?, bar.clone());
    // On SIGINT the read stops here, so that the temporary file is removed on the way out.
    let got = tokio::select! {
        got = client.get_to(&src.bucket, &src.key, options, &mut writer) => got,
        _ = tokio::signal::ctrl_c() => Err(ClientError::Io(std::io::Error::new(
            std::io::ErrorKind::Interrupted,
            "interrupted",
        ))),
    };
    let output = writer.into_inner();
    let shown = stdio::display(dest.as_deref(), "standard output");
    let info = match got {
        Ok(info) => info,
        Err(e) => {
            bar.finish_and_clear();
            let what = match (output.is_stdout(), output.written()) {
                (false, _) => "no output file was written".to_owned(),
                (true, 0) => format!("nothing was written to {shown}"),
                (true, n) => format!(
                    "the {n} bytes already written to {shown} are incomplete and must be discarded"
                ),
            };
            let e = diagnose(&client, e).await;
            return Err(anyhow!("cannot get {src}: {e:#}; {what}"));
        }
    };
    if let Err(e) = output.commit() {
        bar.finish_and_clear();
        return Err(e);
    }
    bar.set_length(info.range.end - info.range.start);
    progress::finish(&bar);
    report(args, src, dest.as_deref(), &info);
    Ok(())
}

/// The output file: `None` for standard output; in a directory, the key's last name.
fn destination(output: Option<&Path>, src: &S3Url) -> Result<Option<PathBuf>> {
    let Some(path) = stdio::path_or_stdio(output) else {
        return Ok(None);
    };
    if !path.is_dir() {
        return Ok(Some(path.to_owned()));
    }
    match src.file_name() {
        Some(name) => Ok(Some(path.join(name))),
        None => Err(anyhow!(
            "{} is a directory and {src} has no file name to write in it",
            path.display()
        )),
    }
}

/// The plaintext bytes a read will deliver, for the bar, from the object's metadata (unverified;
/// a multipart object's is estimated from its stored size). `None` if it cannot be told.
async fn estimate(client: &EncryptingClient, src: &S3Url, range: Option<ByteRange>) -> Option<u64> {
    let info = client.head(&src.bucket, &src.key).await.ok()?;
    let total = info.plaintext_len.or_else(|| {
        let sealed = (1u64 << info.chunk_log2?) + objseal_core::gcm::TAG_LEN as u64;
        let chunks = info.stored_len.div_ceil(sealed);
        info.stored_len
            .checked_sub(chunks * objseal_core::gcm::TAG_LEN as u64)
    })?;
    Some(match range {
        None => total,
        Some(ByteRange::Inclusive { first, last }) => {
            last.saturating_add(1).min(total).saturating_sub(first)
        }
        Some(ByteRange::From(first)) => total.saturating_sub(first),
        Some(ByteRange::Suffix(n)) => n.min(total),
    })
}

fn report(args: &GetArgs, src: &S3Url, dest: Option<&Path>, info: &GetOutput) {
    let len = info.range.end - info.range.start;
    if args.out.json {
        print_json(&json!({
            "bucket": src.bucket,
            "key": src.key,
            "output": dest.map(|p| p.display().to_string()),
            "range": {"start": info.range.start, "end": info.range.end},
            "len": len,
            "object_len": info.object_len,
            "format": format_name(&info.format),
            "etag": info.etag,
        }));
    } else if let (false, Some(dest)) = (args.out.quiet, dest) {
        let part = match args.range {
            Some(_) => format!(
                " (bytes {}-{} of {})",
                info.range.start,
                info.range.end.saturating_sub(1),
                info.object_len
            ),
            None => String::new(),
        };
        eprintln!(
            "objseal: get {src}: {len} bytes{part} to {}",
            dest.display()
        );
    }
}
