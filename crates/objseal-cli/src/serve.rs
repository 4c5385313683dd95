//! `objseal serve`: the S3-compatible SSE server ([`objseal_server::server`]) on embedded
//! defaults, until SIGINT or SIGTERM.
//!
//! Standard output gets the operator's printout: first the line
//! `objseal serve: listening on <endpoint>` (flushed at once; scripts and tests wait for it),
//! then the access key and ready-to-paste AWS CLI commands. The secret key is printed only the
//! first time, when it is generated; afterwards it stays in `<data>/credentials`. Logs (one line
//! per request) go to standard error, filtered by `RUST_LOG` (default `info`).

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;
use objseal_kms::keystore::{ROOT_KEY_ENV, RootKey};
use objseal_server::server::{
    AccessKey, CredentialSource, DEFAULT_DATA_DIR, DEFAULT_KMS_KEY_ALIAS, DEFAULT_LISTEN, KmsKind,
    RunningServer, TlsFiles,
};
use objseal_server::store::{BackendCredentials, RemoteStoreConfig};
use objseal_server::{Server, ServerConfig};
use zeroize::Zeroizing;

const AFTER_HELP: &str = "\
Examples:
  objseal serve                                     # http://127.0.0.1:9000, data in ./objseal-data
  objseal serve --listen 0.0.0.0:9443 --tls-cert cert.pem --tls-key key.pem
  objseal serve --kms-endpoint https://kms.eu-west-1.amazonaws.com --region eu-west-1

The data directory holds root.key (the root key: keep it, and keep it secret), credentials (the
generated access key, in the AWS shared-credentials format), kms/ (the embedded keystore and its audit
log) and store/ (the objects, encrypted). Logs go to standard error; RUST_LOG=debug shows more.";

/// `objseal serve`.
#[derive(Debug, Args)]
#[command(
    long_about = "Serve an S3-compatible endpoint that encrypts every object at rest, as Amazon \
S3 does: SSE-S3 (AES256), SSE-KMS (aws:kms) and SSE-C (customer keys). The AWS CLI, boto3 and the \
AWS SDKs work against it with --endpoint-url and the access key it prints. Runs until SIGINT or \
SIGTERM, then finishes the requests in flight.",
    after_help = AFTER_HELP
)]
pub struct ServeArgs {
    /// Address to listen on (port 0: any free port; the real one is printed).
    #[arg(long, value_name = "ADDR:PORT", env = "OBJSEAL_LISTEN", default_value = DEFAULT_LISTEN)]
    pub listen: SocketAddr,
    /// The data directory: root key, access key, keystore and objects (created when missing).
    #[arg(long, value_name = "DIR", env = "OBJSEAL_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
    pub data_dir: PathBuf,
    /// File holding the root key (as `objseal keygen` writes it) [default: the
    /// OBJSEAL_KMS_ROOT_KEY environment variable, else DIR/root.key, made on first start].
    #[arg(long, value_name = "FILE")]
    pub root_key_file: Option<PathBuf>,
    /// Serve SSE-KMS from the AWS-KMS-compatible service at URL instead of the embedded keystore
    /// (credentials from the usual AWS environment variables and files).
    #[arg(long, value_name = "URL")]
    pub kms_endpoint: Option<String>,
    /// Keep the objects in the S3-compatible service at URL (Ceph RGW, MinIO, moto; `s3://` for
    /// Amazon S3 itself) instead of DIR/store: a stateless encrypting gateway — any number of
    /// instances sharing the backend, the root key (--root-key-file or OBJSEAL_KMS_ROOT_KEY) and
    /// the KMS (--kms-endpoint) serve the same buckets. Credentials: OBJSEAL_BACKEND_ACCESS_KEY_ID
    /// and OBJSEAL_BACKEND_SECRET_ACCESS_KEY, else the usual AWS sources.
    #[arg(long, value_name = "URL", env = "OBJSEAL_BACKEND")]
    pub backend: Option<String>,
    /// The backend's region [default: us-east-1].
    #[arg(
        long,
        value_name = "REGION",
        env = "OBJSEAL_BACKEND_REGION",
        requires = "backend"
    )]
    pub backend_region: Option<String>,
    /// Address the backend's buckets virtual-hosted style (`bucket.host`) rather than path style.
    #[arg(long, requires = "backend")]
    pub backend_virtual_hosted: bool,
    /// Call the --kms-endpoint service with the server's own rights rather than on behalf of each
    /// principal: for KMSs that cannot act for others (AWS KMS, moto). Its key policies then see
    /// the server, not the user — no role separation.
    #[arg(long, requires = "kms_endpoint")]
    pub kms_as_server: bool,
    /// The region of the --kms-endpoint service [default: AWS_REGION, else us-east-1].
    #[arg(long, value_name = "REGION", requires = "kms_endpoint")]
    pub region: Option<String>,
    /// The principals file (TOML): named users, each with an access key and optional groups;
    /// bucket and key policies name them arn:aws:iam::000000000000:user/NAME [default: the
    /// OBJSEAL_PRINCIPALS variable's text, else one principal `admin` with --access-key, else
    /// with DIR/credentials].
    #[arg(long, value_name = "FILE", env = "OBJSEAL_PRINCIPALS_FILE",
          conflicts_with_all = ["access_key", "secret_key"])]
    pub principals: Option<PathBuf>,
    /// The access key id of the principal `admin` [default: DIR/credentials, generated on first
    /// start].
    #[arg(long, value_name = "ID", env = "OBJSEAL_ACCESS_KEY")]
    pub access_key: Option<String>,
    /// Its secret key. Prefer the environment: command lines are visible to other users.
    #[arg(long, value_name = "SECRET", env = "OBJSEAL_SECRET_KEY", hide_env_values = true,
          value_parser = parse_secret)]
    pub secret_key: Option<Secret>,
    /// Serve HTTPS with this certificate chain (PEM).
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM).
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Accept SSE-C over plain HTTP (Amazon S3 refuses it: the customer key travels in a header).
    /// For tests on loopback.
    #[arg(long)]
    pub allow_ssec_over_http: bool,
    /// Encrypt writes that ask for no encryption, in buckets without a default encryption of their
    /// own: `AES256` (SSE-S3, Amazon S3's behaviour since 2023) or `aws:kms` (the default KMS key);
    /// `none` stores them as sent.
    #[arg(long, value_name = "none|AES256|aws:kms", default_value = "none",
          value_parser = parse_default_encryption)]
    pub default_encryption: DefaultEncryptionArg,
    /// Serve encrypted objects only: an object stored without objseal's encryption (written to
    /// the store or the gateway's backend bucket around the server) is refused on every read with
    /// 403 InvalidObjectState; writes that ask for no encryption get `--default-encryption`, or
    /// AES256 when that is `none`. Encrypt existing plaintext objects in place first.
    #[arg(long)]
    pub sealed_only: bool,
}

/// `--default-encryption`: `none`, or the server-wide default.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DefaultEncryptionArg(pub Option<objseal_server::DefaultEncryption>);

/// `none`, `AES256` or `aws:kms`.
fn parse_default_encryption(s: &str) -> Result<DefaultEncryptionArg, String> {
    match s {
        "none" => Ok(DefaultEncryptionArg(None)),
        "AES256" => Ok(DefaultEncryptionArg(Some(
            objseal_server::DefaultEncryption::SseS3,
        ))),
        "aws:kms" => Ok(DefaultEncryptionArg(Some(
            objseal_server::DefaultEncryption::SseKms,
        ))),
        other => Err(format!("`{other}`: expected none, AES256 or aws:kms")),
    }
}

/// A secret from the command line or the environment: wiped on drop, never printed by `Debug`.
#[derive(Clone)]
pub struct Secret(Zeroizing<String>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Errors never quote the value.
fn parse_secret(s: &str) -> Result<Secret, String> {
    if s.is_empty() {
        return Err("the secret key must not be empty".into());
    }
    Ok(Secret(Zeroizing::new(s.to_owned())))
}

/// Runs `objseal serve`.
pub fn run(args: ServeArgs) -> Result<()> {
    init_logging();
    let config = config(&args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .thread_name("objseal-serve")
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        let server = Server::start(config).await?;
        print_banner(&server, &args).context("writing to standard output")?;
        crate::kms::shutdown_signal().await;
        eprintln!("objseal serve: stopping (finishing requests in flight)");
        server.shutdown().await?;
        eprintln!("objseal serve: stopped");
        Ok(())
    })
}

/// The server's configuration from the flags and the environment.
fn config(args: &ServeArgs) -> Result<ServerConfig> {
    let mut config = ServerConfig::new(&args.data_dir).with_listen(args.listen);
    config.root_key = match &args.root_key_file {
        Some(file) => Some(RootKey::from_file(file)?),
        None if std::env::var_os(ROOT_KEY_ENV).is_some() => Some(RootKey::from_env(ROOT_KEY_ENV)?),
        None => None,
    };
    if let Some(endpoint) = &args.kms_endpoint {
        config = config.with_remote_kms(endpoint, args.region.clone());
    }
    if let Some(principals) = objseal_kms::principal::from_file_or_env(args.principals.as_deref())?
    {
        if args.access_key.is_some() {
            bail!("give either principals or an access key, not both");
        }
        config.principals = principals;
    }
    match (&args.access_key, &args.secret_key) {
        (Some(id), Some(secret)) => {
            config.access_keys = vec![AccessKey::new(id, secret.0.as_str())];
        }
        (None, None) => {}
        _ => bail!(
            "give both an access key and its secret (--access-key and --secret-key, or \
             OBJSEAL_ACCESS_KEY and OBJSEAL_SECRET_KEY), or neither to use DIR/credentials"
        ),
    }
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        config.tls = Some(TlsFiles {
            cert_chain: cert.clone(),
            private_key: key.clone(),
        });
    }
    config.kms_as_server = args.kms_as_server;
    if let Some(url) = &args.backend {
        config.backend = Some(backend_config(args, url)?);
    }
    config.sse.allow_ssec_over_http = args.allow_ssec_over_http;
    config.sse.default_encryption = args.default_encryption.0;
    config.sse.sealed_only = args.sealed_only;
    if args.sealed_only && config.sse.default_encryption.is_none() {
        config.sse.default_encryption = Some(objseal_server::DefaultEncryption::SseS3);
    }
    Ok(config)
}

/// The backing store of `--backend URL`.
fn backend_config(args: &ServeArgs, url: &str) -> Result<RemoteStoreConfig> {
    let mut backend = match url.trim_end_matches('/') {
        "s3:" | "s3:/" | "s3://" | "s3" => RemoteStoreConfig::default(),
        u if u.starts_with("http://") || u.starts_with("https://") => RemoteStoreConfig::new(u),
        other => bail!(
            "--backend {other}: expected an http:// or https:// endpoint URL, or s3:// for Amazon S3"
        ),
    };
    if let Some(region) = &args.backend_region {
        backend.region.clone_from(region);
    }
    backend.path_style = !args.backend_virtual_hosted;
    let id = std::env::var("OBJSEAL_BACKEND_ACCESS_KEY_ID").ok();
    let secret = std::env::var("OBJSEAL_BACKEND_SECRET_ACCESS_KEY").ok();
    backend.credentials = match (id, secret) {
        (Some(id), Some(secret)) => Some(BackendCredentials::new(id, secret)),
        (None, None) => None,
        _ => bail!(
            "give both OBJSEAL_BACKEND_ACCESS_KEY_ID and OBJSEAL_BACKEND_SECRET_ACCESS_KEY, or \
             neither (the usual AWS sources then)"
        ),
    };
    Ok(backend)
}

/// Logs to standard error, `RUST_LOG` (default `info`). s3s's own logs stay at `info` at most
/// whatever `RUST_LOG` says, and off by default: at `debug` they print whole requests, headers
/// included (signatures, SSE-C keys); the server logs every request itself.
fn init_logging() {
    use tracing_subscriber::filter::{EnvFilter, FilterExt, filter_fn};
    use tracing_subscriber::prelude::*;

    let env = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,s3s=off"));
    let no_s3s_debug = filter_fn(|meta| {
        !(meta.target().starts_with("s3s") && *meta.level() > tracing::Level::INFO)
    });
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_filter(env.and(no_s3s_debug));
    let _ = tracing_subscriber::registry().with(layer).try_init();
}

/// The operator's printout (see the [module documentation](self)).
fn print_banner(server: &RunningServer, args: &ServeArgs) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    let endpoint = server.endpoint();
    writeln!(out, "objseal serve: listening on {endpoint}")?;
    out.flush()?;

    let data = server.data_dir();
    let credentials = server.credentials_path();
    let key = server.access_key();
    writeln!(out, "  data directory  {}", data.display())?;
    if let Some(url) = &args.backend {
        writeln!(out, "  backing store   {url} (stateless gateway)")?;
        if matches!(server.kms(), KmsKind::Embedded(_)) {
            writeln!(
                out,
                "  note            SSE-KMS keys are in this instance's embedded keystore: other \
                 gateways on the same backend need a shared KMS (--kms-endpoint)"
            )?;
        }
        if server.root_key_source() == objseal_server::server::RootKeySource::Generated {
            writeln!(
                out,
                "  note            a new root key was made: give every gateway of this backend the \
                 same one (--root-key-file), or they cannot read each other's SSE-S3 objects"
            )?;
        }
    }
    match server.kms() {
        KmsKind::Embedded(store) => writeln!(
            out,
            "  KMS             embedded keystore {}",
            store.display()
        )?,
        KmsKind::Remote(url) => writeln!(
            out,
            "  KMS             {}",
            url.as_deref().unwrap_or("AWS KMS (from the environment)")
        )?,
    }
    writeln!(
        out,
        "  default key     {DEFAULT_KMS_KEY_ALIAS} = {}",
        server.default_kms_key_arn()
    )?;
    let secret: Zeroizing<String> = match server.credential_source() {
        CredentialSource::Generated => {
            writeln!(
                out,
                "  access key      {} (new: the secret below is shown only now; it is kept in {}, \
                 mode 0600)",
                key.id,
                credentials.display()
            )?;
            Zeroizing::new(key.secret.as_str().to_owned())
        }
        CredentialSource::Stored => {
            writeln!(
                out,
                "  access key      {} (secret in {})",
                key.id,
                credentials.display()
            )?;
            Zeroizing::new(format!(
                "$(sed -n 's/^aws_secret_access_key = //p' {})",
                shell_quote(&credentials)
            ))
        }
        CredentialSource::Configured => {
            writeln!(out, "  access key      {} (as given)", key.id)?;
            if server.access_keys().len() > 1 {
                let ids: Vec<&str> = server.access_keys().iter().map(|k| k.id.as_str()).collect();
                writeln!(
                    out,
                    "  principals      {} access keys: {}",
                    ids.len(),
                    ids.join(", ")
                )?;
            }
            Zeroizing::new("<your secret key>".into())
        }
    };
    if !server.local_addr().ip().is_loopback() && endpoint.starts_with("http:") {
        writeln!(
            out,
            "  warning         plain HTTP beyond loopback: give --tls-cert/--tls-key, or put a TLS \
             proxy in front"
        )?;
    }

    let aws = format!("aws --endpoint-url {endpoint}");
    let tls = endpoint.starts_with("https:");
    writeln!(
        out,
        "\nTry it (the AWS CLI; boto3 and the SDKs take the same endpoint and keys):"
    )?;
    writeln!(
        out,
        "  export AWS_ACCESS_KEY_ID={} AWS_SECRET_ACCESS_KEY={} AWS_DEFAULT_REGION=us-east-1",
        key.id,
        secret.as_str()
    )?;
    if tls {
        writeln!(
            out,
            "  # a self-signed certificate? add --ca-bundle <its CA's PEM> to the commands"
        )?;
    }
    writeln!(out, "  {aws} s3 mb s3://demo")?;
    writeln!(out, "  {aws} s3 cp file s3://demo/file --sse AES256")?;
    writeln!(
        out,
        "  {aws} s3 cp file s3://demo/file-kms --sse aws:kms --sse-kms-key-id {DEFAULT_KMS_KEY_ALIAS}"
    )?;
    writeln!(out, "  head -c 32 /dev/urandom > key.bin")?;
    writeln!(
        out,
        "  {aws} s3 cp file s3://demo/file-c --sse-c AES256 --sse-c-key fileb://key.bin"
    )?;
    writeln!(
        out,
        "  {aws} s3 cp s3://demo/file-c back --sse-c AES256 --sse-c-key fileb://key.bin"
    )?;
    if !tls && !args.allow_ssec_over_http {
        writeln!(
            out,
            "  # SSE-C needs TLS (--tls-cert/--tls-key) or, for tests, --allow-ssec-over-http"
        )?;
    }
    writeln!(
        out,
        "  curl {endpoint}/_objseal/health; curl {endpoint}/_objseal/metrics"
    )?;
    writeln!(
        out,
        "\nStop with Ctrl-C (or SIGTERM): requests in flight finish first."
    )?;
    out.flush()
}

/// `path` quoted for a POSIX shell.
fn shell_quote(path: &Path) -> String {
    let s = path.display().to_string();
    if s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/._-+,:@".contains(&b))
    {
        s
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn parse(args: &[&str]) -> Result<ServeArgs, clap::Error> {
        let cli = crate::cli::Cli::try_parse_from(
            std::iter::once("objseal").chain(args.iter().copied()),
        )?;
        match cli.command {
            crate::cli::Command::Serve(a) => Ok(a),
            _ => panic!("not serve"),
        }
    }

    #[test]
    fn flags_map_onto_the_config() {
        let a = parse(&[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            "/tmp/x",
            "--access-key",
            "AKID",
            "--secret-key",
            "s3cret",
            "--tls-cert",
            "c.pem",
            "--tls-key",
            "k.pem",
            "--allow-ssec-over-http",
            "--kms-endpoint",
            "http://127.0.0.1:7878",
            "--region",
            "eu-west-1",
        ])
        .unwrap();
        let c = config(&a).unwrap();
        assert_eq!(c.listen.port(), 0);
        assert_eq!(c.data_dir, PathBuf::from("/tmp/x"));
        assert_eq!(c.access_keys, vec![AccessKey::new("AKID", "s3cret")]);
        assert_eq!(c.tls.unwrap().private_key, PathBuf::from("k.pem"));
        assert!(c.sse.allow_ssec_over_http);
        let remote = c.remote_kms.unwrap();
        assert_eq!(remote.region.as_deref(), Some("eu-west-1"));
        // Debug prints never show the secret.
        assert!(!format!("{a:?}").contains("s3cret"));
        assert!(!format!("{:?}", c.access_keys).contains("s3cret"));
    }

    #[test]
    fn default_encryption_flag() {
        let none = parse(&["serve"]).unwrap();
        assert_eq!(config(&none).unwrap().sse.default_encryption, None);
        for (flag, want) in [
            ("AES256", Some(objseal_server::DefaultEncryption::SseS3)),
            ("aws:kms", Some(objseal_server::DefaultEncryption::SseKms)),
            ("none", None),
        ] {
            let a = parse(&["serve", "--default-encryption", flag]).unwrap();
            assert_eq!(config(&a).unwrap().sse.default_encryption, want, "{flag}");
        }
        assert!(parse(&["serve", "--default-encryption", "rot13"]).is_err());
        // Sealed objects only: nothing is stored as sent.
        let sealed = parse(&["serve", "--sealed-only"]).unwrap();
        let c = config(&sealed).unwrap();
        assert!(c.sse.sealed_only);
        assert_eq!(
            c.sse.default_encryption,
            Some(objseal_server::DefaultEncryption::SseS3)
        );
        let kms = parse(&["serve", "--sealed-only", "--default-encryption", "aws:kms"]).unwrap();
        assert_eq!(
            config(&kms).unwrap().sse.default_encryption,
            Some(objseal_server::DefaultEncryption::SseKms)
        );
    }

    #[test]
    fn half_given_pairs_are_refused() {
        assert!(parse(&["serve", "--tls-cert", "c.pem"]).is_err());
        assert!(parse(&["serve", "--region", "eu-west-1"]).is_err());
        let a = parse(&["serve", "--access-key", "AKID"]).unwrap();
        if a.secret_key.is_none() {
            assert!(config(&a).is_err());
        }
    }

    #[test]
    fn paths_are_quoted_for_the_shell() {
        assert_eq!(
            shell_quote(Path::new("./objseal-data/credentials")),
            "./objseal-data/credentials"
        );
        assert_eq!(shell_quote(Path::new("/a b/it's")), r"'/a b/it'\''s'");
    }
}
