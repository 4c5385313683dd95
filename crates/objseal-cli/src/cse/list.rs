//! `objseal ls s3://bucket[/prefix]` and `objseal rm s3://bucket/key…`: no key needed.

use anyhow::{Result, anyhow, bail};
use futures::StreamExt as _;
use objseal_client::layout::is_instruction_key;
use objseal_client::{ClientError, EncryptingClient, Keyring, ListEntry, ObjectInfo};
use serde_json::{Value, json};

use super::args::{LsArgs, RmArgs};
use super::connect;
use super::{block_on, bucket_missing, diagnose, format_name, print_json};

/// HEAD requests in flight at once for `ls --long`.
const HEADS_IN_FLIGHT: usize = 8;

/// `objseal ls`.
pub fn ls(args: LsArgs) -> Result<()> {
    block_on(async {
        let config = connect::client_config(&args.s3, None, args.region.region.as_deref());
        let client = connect::connect(config, Keyring::new()).await?;
        let url = &args.target;
        let entries = match client.list(&url.bucket, &url.key).await {
            Ok(entries) => entries,
            Err(e) => {
                let e = bucket_missing(&client, e, &url.bucket).await;
                return Err(e.context(format!("cannot list {url}")));
            }
        };
        if !args.long {
            for entry in &entries {
                show(&args, entry, None);
            }
            return Ok(());
        }
        // The HEADs run concurrently and are shown in listing order, each as soon as it is known.
        let mut heads = futures::stream::iter(entries.iter().map(|entry| {
            let client = &client;
            async move { (entry, client.head(&url.bucket, &entry.key).await) }
        }))
        .buffered(HEADS_IN_FLIGHT);
        while let Some((entry, head)) = heads.next().await {
            match head {
                Ok(info) => show(&args, entry, Some(&info)),
                // Deleted since it was listed.
                Err(ClientError::NotFound { .. }) => {}
                Err(e) => {
                    let e = diagnose(&client, e).await;
                    return Err(e.context(format!("cannot read s3://{}/{}", url.bucket, entry.key)));
                }
            }
        }
        Ok(())
    })
}

/// One line of the listing.
fn show(args: &LsArgs, entry: &ListEntry, info: Option<&ObjectInfo>) {
    let date = entry
        .last_modified
        .as_deref()
        .map_or("-".to_owned(), to_seconds);
    if args.out.json {
        let mut value = json!({
            "key": entry.key,
            "stored_len": entry.stored_len,
            "last_modified": entry.last_modified,
            "etag": entry.etag,
        });
        if let (Some(info), Value::Object(map)) = (info, &mut value) {
            map.insert(
                "format".into(),
                json!(info.format.as_ref().map(format_name)),
            );
            map.insert("plaintext_len".into(), json!(info.plaintext_len));
            map.insert("key_ids".into(), json!(info.key_ids));
        }
        print_json(&value);
    } else if let Some(info) = info {
        let format = info.format.as_ref().map_or("plain", format_name);
        let plaintext = info
            .plaintext_len
            .map_or_else(|| "-".to_owned(), |n| n.to_string());
        let key_ids = match info.key_ids.as_slice() {
            [] => "-".to_owned(),
            ids => ids.join(","),
        };
        println!(
            "{date:<20}  {:>12}  {format:<17}  {plaintext:>12}  {}  {key_ids}",
            entry.stored_len, entry.key
        );
    } else {
        println!("{date:<20}  {:>12}  {}", entry.stored_len, entry.key);
    }
}

/// An RFC 3339 time to the second: `2026-12-02T01:41:51.1Z` → `2026-12-02T01:41:51Z`.
fn to_seconds(time: &str) -> String {
    match (time.find('.'), time.strip_suffix('Z')) {
        (Some(dot), Some(_)) => format!("{}Z", &time[..dot]),
        _ => time.to_owned(),
    }
}

/// `objseal rm`.
pub fn rm(args: RmArgs) -> Result<()> {
    block_on(async {
        let config = connect::client_config(&args.s3, None, args.region.region.as_deref());
        let client = connect::connect(config, Keyring::new()).await?;
        let mut failed = 0usize;
        for url in &args.objects {
            match remove(&client, &args, &url.bucket, &url.key).await {
                Ok(deleted) if args.out.json => {
                    print_json(&json!({"bucket": url.bucket, "key": url.key, "deleted": deleted}));
                }
                Ok(true) if !args.out.quiet => println!("deleted {url}"),
                Ok(_) => {}
                Err(e) => {
                    failed += 1;
                    eprintln!("objseal: error: cannot delete {url}: {e:#}");
                }
            }
        }
        match failed {
            0 => Ok(()),
            n => bail!("{n} of {} objects were not deleted", args.objects.len()),
        }
    })
}

/// Deletes one object; `Ok(false)`: it did not exist and --force was given.
async fn remove(client: &EncryptingClient, args: &RmArgs, bucket: &str, key: &str) -> Result<bool> {
    if is_instruction_key(key) {
        bail!(
            "it is the instruction object of another object, which needs it: remove that one \
             instead"
        );
    }
    // S3 answers a DELETE of a missing key with success: ask first, so that a mistyped key shows.
    match client
        .s3()
        .head_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
    {
        Ok(_) => {}
        Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => {
            if args.force {
                return Ok(false);
            }
            return Err(anyhow!("it does not exist (--force ignores that)"));
        }
        // Anything else (no permission to HEAD, say) is left for the DELETE to tell.
        Err(_) => {}
    }
    match client.delete(bucket, key).await {
        Ok(()) => Ok(true),
        Err(e) => Err(diagnose(client, e).await),
    }
}

#[cfg(test)]
mod tests {
    use super::to_seconds;

    #[test]
    fn times_to_the_second() {
        assert_eq!(to_seconds("2026-12-02T01:41:51.1Z"), "2026-12-02T01:41:51Z");
        assert_eq!(
            to_seconds("2026-12-02T01:41:51.123Z"),
            "2026-12-02T01:41:51Z"
        );
        assert_eq!(to_seconds("2026-12-02T01:41:51Z"), "2026-12-02T01:41:51Z");
        assert_eq!(
            to_seconds("2026-12-02T01:41:51.5+01:00"),
            "2026-12-02T01:41:51.5+01:00"
        );
    }
}
