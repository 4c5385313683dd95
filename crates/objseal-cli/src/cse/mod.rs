//! `objseal put`, `get`, `ls`, `rm` and `rewrap`: client-side encryption against any S3 endpoint,
//! through [`objseal_client::EncryptingClient`].
//!
//! Results go to standard output (`--json`: one JSON object per line); progress bars and the
//! one-line summaries of `put` and `get` to standard error. Errors reach `main` as one line
//! (exit status 1); a contradictory command line is a usage error (exit status 2), found before
//! anything is connected or created.

pub mod address;
pub mod args;
mod connect;
mod get;
mod list;
mod options;
mod progress;
mod put;
mod rewrap;

use std::fmt::Display;
use std::future::Future;

use anyhow::{Context, Result, anyhow};
use clap::CommandFactory;
use objseal_client::{ClientError, EncryptingClient, ObjectFormat};
use serde_json::Value;

pub use get::get;
pub use list::{ls, rm};
pub use put::put;
pub use rewrap::rewrap;

/// Runs `job` on a multi-threaded runtime (parts are sealed and moved in parallel).
fn block_on<T>(job: impl Future<Output = Result<T>>) -> Result<T> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .thread_name("objseal-s3")
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(job)
}

/// Exits with a usage error of `objseal <command>` (status 2), as clap does for its own.
fn usage_error(command: &str, message: impl Display) -> ! {
    let mut cli = crate::cli::Cli::command();
    cli.build();
    let error = match cli.find_subcommand_mut(command) {
        Some(sub) => sub.error(clap::error::ErrorKind::ArgumentConflict, message),
        None => cli.error(clap::error::ErrorKind::ArgumentConflict, message),
    };
    error.exit()
}

/// Prints one result as a line of JSON on standard output.
fn print_json(value: &Value) {
    println!("{value}");
}

/// The format's name in output.
fn format_name(format: &ObjectFormat) -> &'static str {
    match format {
        ObjectFormat::Objseal => "objseal",
        ObjectFormat::ObjsealMultipart => "objseal-multipart",
        ObjectFormat::S3ecV2 => "s3ec-v2",
        ObjectFormat::S3ecV3 => "s3ec-v3",
    }
}

/// `error` with what to do about it, where the client's own words do not say it in terms of this
/// command line.
fn explain(error: ClientError) -> anyhow::Error {
    let hint = match &error {
        ClientError::Format(
            objseal_core::Error::HeaderAuth | objseal_core::Error::UnwrapFailed,
        )
        | ClientError::Kms(objseal_kms::KmsError::InvalidCiphertext(_)) => {
            " (check -k/--kms-key and -c; an object copied byte for byte needs --written-as, one \
             written with --unbound needs --unbound)"
        }
        ClientError::NoMatchingKey { .. } => " (-k KEYFILE, --kms-key KEY, or --discovery)",
        ClientError::S3ec(objseal_client::s3ec::S3ecError::LegacyRefused) => {
            " (--allow-legacy reads it)"
        }
        ClientError::S3ecNotAccepted { .. } => " (--s3ec)",
        // A refused HEAD has no body, so no error code: only its status tells.
        ClientError::S3 { code, message, .. }
            if matches!(
                code.as_deref(),
                Some("InvalidAccessKeyId" | "SignatureDoesNotMatch" | "AccessDenied")
            ) || (code.is_none() && message == "HTTP status 403") =>
        {
            " (check the credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or --profile)"
        }
        _ => "",
    };
    anyhow!("{error}{hint}")
}

/// [`explain`], and for a request that was never answered, why: no credentials, or an endpoint
/// that cannot be reached (the client's message stops at the SDK's "dispatch failure").
async fn diagnose(client: &EncryptingClient, error: ClientError) -> anyhow::Error {
    let ClientError::S3 { message, .. } = &error else {
        return explain(error);
    };
    if !message.starts_with("dispatch failure") {
        return explain(error);
    }
    let profile = client.config().profile.as_deref();
    if connect::credentials_missing(profile).await {
        let source = match profile {
            Some(name) => format!("the profile `{name}` of ~/.aws/credentials"),
            None => "a profile of ~/.aws/credentials (--profile, AWS_PROFILE)".to_owned(),
        };
        return anyhow!(
            "no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or give \
             them in {source}"
        );
    }
    let endpoint = client
        .config()
        .endpoint_url
        .clone()
        .or_else(|| std::env::var("AWS_ENDPOINT_URL_S3").ok())
        .or_else(|| std::env::var("AWS_ENDPOINT_URL").ok())
        .unwrap_or_else(|| "AWS S3".to_owned());
    anyhow!("{error} (could {endpoint} be reached? check --endpoint-url and that it is up)")
}

/// [`diagnose`], where a 404 means that `bucket` is missing (a listing or an upload).
async fn bucket_missing(
    client: &EncryptingClient,
    error: ClientError,
    bucket: &str,
) -> anyhow::Error {
    match error {
        ClientError::NotFound { .. } => anyhow!("the bucket `{bucket}` does not exist"),
        ClientError::S3 {
            code: Some(code), ..
        } if code == "NoSuchBucket" => {
            anyhow!("the bucket `{bucket}` does not exist")
        }
        other => diagnose(client, other).await,
    }
}
