//! `objseal rewrap s3://bucket/key…`: new wrapped keys, same data.

use anyhow::{Result, bail};
use objseal_client::GetOptions;
use serde_json::json;

use super::args::RewrapArgs;
use super::connect::{self, KmsOpener};
use super::{block_on, diagnose, print_json, usage_error};

/// `objseal rewrap`.
pub fn rewrap(args: RewrapArgs) -> Result<()> {
    if args.keys.keys.is_empty() && args.keys.kms_keys.is_empty() && !args.read.discovery {
        usage_error(
            "rewrap",
            "give the keys the objects are wrapped for now: -k KEYFILE and/or --kms-key KEY (each \
             repeatable), or --discovery",
        );
    }
    if args.to_keys.is_empty() && args.to_kms_keys.is_empty() {
        usage_error(
            "rewrap",
            "give the new recipients: --to-key KEYFILE and/or --to-kms-key KEY (each repeatable)",
        );
    }
    if args.read.written_as.is_some() && args.objects.len() > 1 {
        usage_error(
            "rewrap",
            "--written-as names where one object was written: give one object with it",
        );
    }
    let read = GetOptions {
        context: connect::context(&args.keys.context).unwrap_or_else(|e| usage_error("rewrap", e)),
        location: connect::location(&args.read),
        range: None,
        accept_s3ec: args.read.s3ec || args.read.allow_legacy,
        commitment: connect::commitment(&args.read),
    };
    block_on(async {
        let mut kms = KmsOpener::new(&args.keys.kms, args.s3.profile.as_deref());
        let keyring = connect::read_keyring(&args.keys, &args.read, &mut kms).await?;
        let new_keys = connect::recipients(&args.to_keys, &args.to_kms_keys, &mut kms).await?;
        let config = connect::client_config(
            &args.s3,
            Some(&args.transfer),
            args.keys.kms.region.as_deref(),
        );
        let client = connect::connect(config, keyring).await?;
        let mut failed = 0usize;
        for url in &args.objects {
            let done = client
                .rewrap(&url.bucket, &url.key, &read, new_keys.clone(), args.migrate)
                .await;
            match done {
                Ok(out) if args.out.json => print_json(&json!({
                    "bucket": url.bucket,
                    "key": url.key,
                    "key_ids": out.key_ids,
                    "migrated": out.migrated,
                })),
                Ok(out) if !args.out.quiet => {
                    let how = if out.migrated {
                        "migrated to OSE1"
                    } else {
                        "rewrapped"
                    };
                    println!("{how} {url} for {}", out.key_ids.join(", "));
                }
                Ok(_) => {}
                Err(e) => {
                    failed += 1;
                    let hint = match &e {
                        objseal_client::ClientError::InvalidArgument(m)
                            if m.contains("migrate") =>
                        {
                            " (--migrate does that)"
                        }
                        _ => "",
                    };
                    let e = diagnose(&client, e).await;
                    eprintln!("objseal: error: cannot rewrap {url}: {e:#}{hint}");
                }
            }
        }
        match failed {
            0 => Ok(()),
            n => bail!("{n} of {} objects were not rewrapped", args.objects.len()),
        }
    })
}
