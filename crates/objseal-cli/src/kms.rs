//! `objseal kms …`: manage master keys in the embedded keystore (or a remote AWS-KMS-compatible
//! service), read the audit log, and serve the keystore over the AWS KMS protocol.
//!
//! Errors of the KMS reach `main` as the [`KmsError`] itself, so the process prints
//! `objseal: error: <AwsName>: <message>` and exits with status 1.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, Subcommand};
use objseal_kms::audit::{AuditEvent, AuditLog};
use objseal_kms::keystore::{DEFAULT_REGION, LocalKms, LocalKmsConfig, ROOT_KEY_ENV, RootKey};
use objseal_kms::principal::{self, Principal};
use objseal_kms::remote::{RemoteConfig, RemoteKms};
use objseal_kms::server::{AccessKey, AuditScope, KmsServer, ServerConfig};
use objseal_kms::{
    CreateKeyRequest, DEFAULT_POLICY_NAME, KEY_VERSION_UNKNOWN, KeyMetadata, KeyState, Kms,
    KmsError,
};
use serde_json::{Value, json};
use zeroize::Zeroizing;

/// Where the keystore is when `--store` and `OBJSEAL_KMS_STORE` are not given.
pub const DEFAULT_STORE: &str = "objseal-kms.store";
/// Where `serve` listens by default: loopback only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7878";
/// The environment variable `serve` reads access keys from (`ID:SECRET`, comma-separated).
pub const ACCESS_KEY_ENV: &str = "OBJSEAL_KMS_ACCESS_KEY";
/// The environment variable naming the principals file (as `--principals`).
pub const PRINCIPALS_FILE_ENV: &str = "OBJSEAL_PRINCIPALS_FILE";
/// The environment variable holding the principals file's text, read when no file is named.
pub const PRINCIPALS_ENV: &str = "OBJSEAL_PRINCIPALS";
/// The largest policy file read: beyond AWS's 32 KiB limit, so that the KMS is the one to refuse
/// a policy that is merely too long, with its own error.
const MAX_POLICY_FILE: u64 = 1024 * 1024;
/// The largest principals file read.
const MAX_PRINCIPALS_FILE: u64 = 4 * 1024 * 1024;

const AFTER_HELP: &str = "\
Examples:
  objseal keygen -o root.key                       # the keystore's root key (keep it secret)
  objseal kms --root-key-file root.key create-key --description photos --alias alias/photos
  objseal kms --root-key-file root.key list-keys
  objseal kms --root-key-file root.key rotate alias/photos
  objseal kms --root-key-file root.key audit --tail 20
  objseal kms --root-key-file root.key get-key-policy alias/photos > policy.json
  objseal kms --root-key-file root.key put-key-policy alias/photos --policy-file policy.json
  OBJSEAL_KMS_ACCESS_KEY=AKIDLOCAL:s3cret objseal kms --root-key-file root.key serve
  objseal kms --root-key-file root.key serve --principals principals.toml
  aws kms list-keys --endpoint-url http://127.0.0.1:7878 --region us-east-1
  objseal kms --kms-endpoint http://127.0.0.1:7878 list-keys   # credentials from AWS_ACCESS_KEY_ID/…

Key policies (AWS's JSON shape) say which principals may administer and use each key. The commands
on the embedded keystore act as its operator, who holds the root key: key policies do not restrict
them (they are how a policy that locks everyone out is put right). Through --kms-endpoint the service
checks them for the principal that signs.

The root key comes from --root-key-file or OBJSEAL_KMS_ROOT_KEY (64 hex digits); the keystore file from
--store or OBJSEAL_KMS_STORE (default ./objseal-kms.store); the audit log is written beside it
(<store>.audit.jsonl) unless --audit-log says otherwise. KEY is a key id, key ARN, alias name
(alias/…) or alias ARN.";

/// `objseal kms`.
#[derive(Debug, Args)]
#[command(
    long_about = "Manage master keys, read the audit log, and serve the keystore over HTTP.\n\n\
By default the keys live in the embedded keystore: one file, sealed by a root key, with key versions \
(each rotation adds one; old versions still decrypt), states and an append-only audit log. With \
--kms-endpoint the same commands drive any AWS-KMS-compatible service instead (AWS KMS, `objseal kms \
serve`, moto), with credentials from the usual AWS environment variables and files.",
    after_help = AFTER_HELP
)]
pub struct KmsArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: KmsCommand,
    /// Which KMS: the embedded keystore or a remote service.
    #[command(flatten)]
    pub conn: KmsConnection,
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
}

/// Which KMS a command talks to: the embedded keystore (`--store`, `--root-key-file`) or a remote
/// AWS-KMS-compatible service (`--kms-endpoint`). Shared by `objseal kms`, `encrypt` and `decrypt`.
#[derive(Debug, Args)]
pub struct KmsConnection {
    /// The keystore file (created by the first `create-key` or `serve`) [default:
    /// ./objseal-kms.store].
    #[arg(long, global = true, value_name = "PATH", env = "OBJSEAL_KMS_STORE")]
    pub store: Option<PathBuf>,
    /// File holding the keystore's root key (as `objseal keygen` writes it) [default: the
    /// OBJSEAL_KMS_ROOT_KEY environment variable, 64 hex digits].
    #[arg(long, global = true, value_name = "FILE")]
    pub root_key_file: Option<PathBuf>,
    /// The audit log (JSON lines) [default: the --store PATH with `.audit.jsonl` appended].
    #[arg(long, global = true, value_name = "PATH")]
    pub audit_log: Option<PathBuf>,
    /// Drive the AWS-KMS-compatible service at URL instead of the embedded keystore.
    #[arg(long, global = true, value_name = "URL")]
    pub kms_endpoint: Option<String>,
    /// The region: of the remote service, of the ARNs of the embedded keystore, and that `serve`'s
    /// clients sign for [default: us-east-1; with --kms-endpoint, AWS_REGION].
    #[arg(long, global = true, value_name = "REGION")]
    pub region: Option<String>,
}

/// The subcommands of `objseal kms`.
#[derive(Debug, Subcommand)]
pub enum KmsCommand {
    /// Create a new symmetric master key (version 1, enabled).
    CreateKey {
        /// Free text stored with the key.
        #[arg(long, default_value = "")]
        description: String,
        /// Also name it with this alias (`alias/…`).
        #[arg(long, value_name = "alias/NAME")]
        alias: Option<String>,
        /// Its key policy (JSON, AWS's shape) [default: its creator may do everything with it;
        /// for a key made on the embedded keystore, every principal of the account may].
        #[arg(long, value_name = "FILE")]
        policy_file: Option<PathBuf>,
        /// Accept a policy that would not let the creator change it again (AWS's
        /// BypassPolicyLockoutSafetyCheck; the embedded keystore's operator is never locked out).
        #[arg(long, requires = "policy_file")]
        bypass_policy_lockout_safety_check: bool,
    },
    /// List every key, pending deletion included.
    ListKeys,
    /// Show a key: state, current version, aliases, rotation, deletion date.
    DescribeKey {
        /// Key id, key ARN, alias name or alias ARN.
        key: String,
    },
    /// Add a new key version now; data keys wrapped under older versions still decrypt.
    Rotate {
        /// Key id, key ARN, alias name or alias ARN.
        key: String,
    },
    /// Enable a disabled key.
    Enable {
        /// Key id, key ARN, alias name or alias ARN.
        key: String,
    },
    /// Disable a key: it refuses every cryptographic operation until enabled.
    Disable {
        /// Key id, key ARN, alias name or alias ARN.
        key: String,
    },
    /// Schedule the deletion of a key after a waiting period; until then it can be cancelled.
    ScheduleDeletion {
        /// Key id, key ARN, alias name or alias ARN.
        key: String,
        /// The waiting period in days, 7 to 30.
        #[arg(long, value_name = "N", default_value_t = 30,
              value_parser = clap::value_parser!(u32).range(7..=30))]
        days: u32,
    },
    /// Cancel a scheduled deletion; the key comes back disabled.
    CancelDeletion {
        /// Key id, key ARN, alias name or alias ARN.
        key: String,
    },
    /// Print a key's policy document (its one policy, named `default`).
    #[command(
        long_about = "Print a key's policy document (its one policy, named `default`), as \
stored: `get-key-policy KEY > policy.json`, edit, `put-key-policy KEY --policy-file policy.json`. On \
the embedded keystore this acts as the keystore's operator, whom key policies do not restrict."
    )]
    GetKeyPolicy {
        /// Key id, key ARN, alias name or alias ARN.
        key: String,
    },
    /// Replace a key's policy (AWS's JSON shape; refused whole if malformed).
    #[command(
        long_about = "Replace a key's policy: which principals may administer the key \
(describe, enable, disable, rotate, schedule deletion, put policy) and which may use it \
(GenerateDataKey, Encrypt, Decrypt, ReEncrypt), in the JSON shape of AWS key policies. A policy that \
does not parse, names unknown actions or condition operators, or exceeds 32 KiB is refused \
(MalformedPolicyDocumentException) and changes nothing. On the embedded keystore this acts as the \
keystore's operator, whom key policies do not restrict (and who can therefore always put a policy \
back); through --kms-endpoint, a policy that would stop the signing principal from changing it again \
is refused unless --bypass-policy-lockout-safety-check."
    )]
    PutKeyPolicy {
        /// Key id, key ARN, alias name or alias ARN.
        key: String,
        /// The policy document, from a file (`-`: standard input).
        #[arg(
            long,
            value_name = "FILE",
            required_unless_present = "policy",
            conflicts_with = "policy"
        )]
        policy_file: Option<PathBuf>,
        /// The policy document itself.
        #[arg(long, value_name = "JSON")]
        policy: Option<String>,
        /// Accept a policy that would not let the caller change it again (AWS's
        /// BypassPolicyLockoutSafetyCheck).
        #[arg(long)]
        bypass_policy_lockout_safety_check: bool,
    },
    /// List a key's policy names (always `default`, as AWS KMS).
    ListKeyPolicies {
        /// Key id, key ARN, alias name or alias ARN.
        key: String,
    },
    /// Print the audit log of the embedded keystore (nothing secret is ever in it).
    Audit {
        /// Only the last N events.
        #[arg(long, value_name = "N")]
        tail: Option<usize>,
    },
    /// Serve the keystore over HTTP, speaking the AWS KMS JSON 1.1 protocol with SigV4, until
    /// interrupted (SIGINT or SIGTERM).
    #[command(long_about = concat!(
        "Serve the keystore over HTTP, speaking the AWS KMS JSON 1.1 protocol with SigV4 \
authentication, until interrupted (SIGINT or SIGTERM). boto3, the AWS CLI and the AWS SDKs work \
against it unchanged with --endpoint-url and the access keys of the principals given here. Prints the \
address it listens on. Plain HTTP: keep it on loopback, or put a TLS proxy in front of it.\n\n",
        "Every request acts for the principal whose access key signed it: the key policies are \
checked for its ARN (arn:aws:iam::000000000000:user/NAME) and the audit log names it. A principal \
with `service = \"s3\"` (the S3 server's) may sign requests on behalf of another principal with the \
x-objseal-on-behalf-of header; the key policies then see that principal, with kms:ViaService = \
s3.REGION.amazonaws.com, and the audit log names both.\n\n",
        "Principals come from a TOML file (--principals):\n\n",
        "  [[principal]]\n",
        "  name = \"alice\"\n",
        "  access_key_id = \"AKIAALICE0000000001\"\n",
        "  secret_access_key = \"...\"\n",
        "  groups = [\"data-users\"]     # optional\n",
        "  service = \"s3\"              # optional: may act on behalf of others\n\n",
        "or, without names, from access keys (--access-key ID:SECRET), each a principal named after \
its id."
    ))]
    Serve {
        /// Address to listen on (port 0: any free port).
        #[arg(long, value_name = "ADDR:PORT", default_value = DEFAULT_LISTEN)]
        listen: SocketAddr,
        /// The principals file (TOML: name, access key, secret, groups, service) [default: the
        /// OBJSEAL_PRINCIPALS environment variable's text]. Keep it mode 0600.
        #[arg(long, value_name = "FILE", env = PRINCIPALS_FILE_ENV)]
        principals: Option<PathBuf>,
        /// An access key that may sign requests, `ID:SECRET`, for a principal named after the id;
        /// repeatable [default: the OBJSEAL_KMS_ACCESS_KEY environment variable,
        /// `ID:SECRET[,ID:SECRET…]`]. Not with principals. Prefer the environment: command lines
        /// are visible to other users.
        #[arg(long = "access-key", value_name = "ID:SECRET", value_parser = parse_access_key)]
        access_keys: Vec<Principal>,
    },
}

/// `ID:SECRET` (split at the first `:`), both non-empty: the access key of a principal named after
/// its id. Errors never quote the secret.
fn parse_access_key(s: &str) -> Result<Principal, String> {
    match s.split_once(':') {
        Some((id, secret)) if !id.is_empty() && !secret.is_empty() => {
            Ok(Principal::new(id, id, secret))
        }
        _ => Err("expected ID:SECRET, both non-empty".into()),
    }
}

/// Runs `objseal kms …`.
pub fn run(args: KmsArgs) -> Result<()> {
    let serve = matches!(args.command, KmsCommand::Serve { .. });
    let runtime = if serve {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("objseal-kms")
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    }
    .context("starting the async runtime")?;
    runtime.block_on(run_async(args))
}

async fn run_async(args: KmsArgs) -> Result<()> {
    let mut out = Output { json: args.json };
    match &args.command {
        KmsCommand::Audit { tail } => {
            if args.conn.kms_endpoint.is_some() {
                bail!("`audit` reads the embedded keystore's log; a remote KMS keeps its own");
            }
            let store = store_path(&args.conn);
            return audit(&audit_path(&args.conn, &store), *tail, &mut out);
        }
        KmsCommand::Serve {
            listen,
            principals,
            access_keys,
        } => {
            if args.conn.kms_endpoint.is_some() {
                bail!(
                    "`serve` serves the embedded keystore; it cannot be combined with --kms-endpoint"
                );
            }
            let principals = serve_principals(principals.as_deref(), access_keys.clone())?;
            return serve(&args, *listen, principals).await;
        }
        _ => {}
    }
    let may_create = matches!(args.command, KmsCommand::CreateKey { .. });
    let kms = open_kms(&args.conn, may_create).await?;
    key_command(kms.as_ref(), &args.command, &mut out).await
}

/// The commands that manage keys, on the embedded keystore or a remote KMS.
async fn key_command(kms: &dyn Kms, command: &KmsCommand, out: &mut Output) -> Result<()> {
    match command {
        KmsCommand::CreateKey {
            description,
            alias,
            policy_file,
            bypass_policy_lockout_safety_check,
        } => {
            // Read before anything is created: a missing file must not leave a key behind.
            let policy = policy_file.as_deref().map(read_policy_file).transpose()?;
            if let Some(alias) = alias {
                // Refuse a taken alias before creating a key that would then have none.
                match kms.describe_key(alias).await {
                    Ok(m) => {
                        return Err(KmsError::AlreadyExists(format!(
                            "{alias} already names key {}; no key was created",
                            m.key_id
                        ))
                        .into());
                    }
                    Err(KmsError::NotFound(_)) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            let created = kms
                .create_key(CreateKeyRequest {
                    description: description.clone(),
                    policy,
                    bypass_policy_lockout_safety_check: *bypass_policy_lockout_safety_check,
                    ..CreateKeyRequest::default()
                })
                .await?;
            if let Some(alias) = alias {
                kms.create_alias(alias, &created.key_id)
                    .await
                    .map_err(|e| {
                        anyhow!(e).context(format!(
                            "key {} was created, but the alias {alias} was refused",
                            created.key_id
                        ))
                    })?;
            }
            let aliases: Vec<String> = alias.iter().cloned().collect();
            out.key(&created, &aliases, None, "created key");
        }
        KmsCommand::ListKeys => {
            let keys = kms.list_keys().await?;
            let aliases = kms.list_aliases(None).await?;
            let mut rows = Vec::with_capacity(keys.len());
            for k in keys {
                let m = kms.describe_key(&k.key_id).await?;
                let names: Vec<String> = aliases
                    .iter()
                    .filter(|a| a.target_key_id == m.key_id)
                    .map(|a| a.alias_name.clone())
                    .collect();
                rows.push((m, names));
            }
            out.key_list(&rows);
        }
        KmsCommand::DescribeKey { key } => {
            let m = kms.describe_key(key).await?;
            let aliases = alias_names(kms, &m.key_id).await?;
            let rotation = kms.get_key_rotation_status(&m.key_id).await.ok();
            out.key(&m, &aliases, rotation.as_ref(), "");
        }
        KmsCommand::Rotate { key } => {
            let key_id = kms.rotate_key_on_demand(key).await?;
            let m = kms.describe_key(&key_id).await?;
            out.done(
                json!({"KeyId": m.key_id, "CurrentVersion": m.current_version}),
                &format!("rotated key {}: {}", m.key_id, version_text(&m)),
            );
        }
        KmsCommand::Enable { key } => {
            kms.enable_key(key).await?;
            out.done(
                json!({"KeyId": key, "KeyState": KeyState::Enabled.as_str()}),
                &format!("key {key} is enabled"),
            );
        }
        KmsCommand::Disable { key } => {
            kms.disable_key(key).await?;
            out.done(
                json!({"KeyId": key, "KeyState": KeyState::Disabled.as_str()}),
                &format!(
                    "key {key} is disabled: it refuses every cryptographic operation until enabled"
                ),
            );
        }
        KmsCommand::ScheduleDeletion { key, days } => {
            let s = kms.schedule_key_deletion(key, Some(*days)).await?;
            out.done(
                json!({
                    "KeyId": s.key_id,
                    "DeletionDate": s.deletion_date,
                    "PendingWindowInDays": s.pending_window_days,
                    "KeyState": s.key_state.as_str(),
                }),
                &format!(
                    "key {key} will be deleted on {} ({}-day window); until then \
                     `objseal kms cancel-deletion {key}` keeps it",
                    date(s.deletion_date),
                    s.pending_window_days,
                ),
            );
        }
        KmsCommand::CancelDeletion { key } => {
            let key_id = kms.cancel_key_deletion(key).await?;
            // As AWS KMS does, a key whose deletion is cancelled comes back disabled.
            out.done(
                json!({"KeyId": key_id, "KeyState": KeyState::Disabled.as_str()}),
                &format!(
                    "deletion of key {key} cancelled; it is disabled (`objseal kms enable {key}` \
                     to use it again)"
                ),
            );
        }
        KmsCommand::GetKeyPolicy { key } => {
            let policy = kms.get_key_policy(key).await?;
            // Text: the document exactly as stored, so that it can be edited and put back.
            out.done(
                json!({"KeyId": key, "PolicyName": DEFAULT_POLICY_NAME, "Policy": policy}),
                &policy,
            );
        }
        KmsCommand::PutKeyPolicy {
            key,
            policy_file,
            policy,
            bypass_policy_lockout_safety_check,
        } => {
            let document = match (policy, policy_file) {
                (Some(text), _) => text.clone(),
                (None, Some(file)) => read_policy_file(file)?,
                (None, None) => bail!("give the policy with --policy-file FILE or --policy JSON"),
            };
            kms.put_key_policy(key, &document, *bypass_policy_lockout_safety_check)
                .await?;
            out.done(
                json!({"KeyId": key, "PolicyName": DEFAULT_POLICY_NAME}),
                &format!("key {key}: policy {DEFAULT_POLICY_NAME} replaced"),
            );
        }
        KmsCommand::ListKeyPolicies { key } => {
            let names = kms.list_key_policies(key).await?;
            out.done(json!({"PolicyNames": names}), &names.join("\n"));
        }
        KmsCommand::Audit { .. } | KmsCommand::Serve { .. } => {
            bail!("`audit` and `serve` are not key commands")
        }
    }
    Ok(())
}

/// The KMS `conn` names: the remote service, or the embedded keystore (created when missing only if
/// `may_create`).
pub async fn open_kms(args: &KmsConnection, may_create: bool) -> Result<Box<dyn Kms>> {
    if let Some(endpoint) = &args.kms_endpoint {
        if args.root_key_file.is_some() || args.audit_log.is_some() {
            bail!(
                "--root-key-file and --audit-log are for the embedded keystore, not --kms-endpoint"
            );
        }
        let remote = RemoteKms::connect(RemoteConfig {
            endpoint_url: Some(endpoint.clone()),
            region: args.region.clone(),
            ..RemoteConfig::default()
        })
        .await?;
        return Ok(Box::new(remote));
    }
    let store = store_path(args);
    if !may_create && !store.exists() {
        bail!(
            "the keystore {} does not exist (`objseal kms create-key` creates it; --store or \
             OBJSEAL_KMS_STORE name another)",
            store.display()
        );
    }
    Ok(Box::new(open_local(args, &store)?.0))
}

/// Opens (creating when missing) the embedded keystore, recording to its audit log.
fn open_local(args: &KmsConnection, store: &Path) -> Result<(LocalKms, Arc<AuditLog>)> {
    let root_key = match &args.root_key_file {
        Some(file) => RootKey::from_file(file)?,
        None if std::env::var_os(ROOT_KEY_ENV).is_some() => RootKey::from_env(ROOT_KEY_ENV)?,
        None => bail!(
            "no root key for the keystore: give --root-key-file FILE or set {ROOT_KEY_ENV} \
             (64 hex digits); `objseal keygen -o FILE` makes one"
        ),
    };
    let audit_path = audit_path(args, store);
    let audit = Arc::new(
        AuditLog::open(&audit_path)
            .with_context(|| format!("opening the audit log {}", audit_path.display()))?,
    );
    let mut config = LocalKmsConfig::new(store, root_key);
    config.region = args.region.clone().unwrap_or_else(|| DEFAULT_REGION.into());
    config.audit = Some(Arc::clone(&audit));
    Ok((LocalKms::open(config)?, audit))
}

fn store_path(args: &KmsConnection) -> PathBuf {
    args.store
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_STORE))
}

/// `--audit-log`, else `<store>.audit.jsonl` beside the store.
fn audit_path(args: &KmsConnection, store: &Path) -> PathBuf {
    args.audit_log.clone().unwrap_or_else(|| {
        let mut name = store.file_name().unwrap_or_default().to_os_string();
        name.push(".audit.jsonl");
        store.with_file_name(name)
    })
}

async fn alias_names(kms: &dyn Kms, key_id: &str) -> Result<Vec<String>, KmsError> {
    Ok(kms
        .list_aliases(Some(key_id))
        .await?
        .into_iter()
        .map(|a| a.alias_name)
        .collect())
}

/// `objseal kms audit`.
fn audit(path: &Path, tail: Option<usize>, out: &mut Output) -> Result<()> {
    if !path.exists() {
        bail!("the audit log {} does not exist", path.display());
    }
    let events = AuditLog::read(path)
        .with_context(|| format!("reading the audit log {}", path.display()))?;
    let skip = tail.map_or(0, |n| events.len().saturating_sub(n));
    out.audit(&events[skip..]);
    Ok(())
}

/// The principals `serve` accepts requests from: the principals file (`--principals` /
/// `OBJSEAL_PRINCIPALS_FILE`), else its text in `OBJSEAL_PRINCIPALS`; or access keys
/// (`--access-key` / `OBJSEAL_KMS_ACCESS_KEY`), each a principal named after its id. Never both:
/// which would win is not obvious, and a forgotten variable must not silently add a principal.
fn serve_principals(
    file: Option<&Path>,
    mut access_keys: Vec<Principal>,
) -> Result<Vec<Principal>> {
    let text_env = std::env::var(PRINCIPALS_ENV)
        .ok()
        .filter(|t| !t.trim().is_empty())
        .map(Zeroizing::new);
    let keys_env = if access_keys.is_empty() {
        std::env::var(ACCESS_KEY_ENV)
            .ok()
            .filter(|v| !v.trim().is_empty())
            .map(Zeroizing::new)
    } else {
        None
    };
    let named = match (file, &text_env) {
        (Some(file), _) => Some(file.display().to_string()),
        (None, Some(_)) => Some(PRINCIPALS_ENV.to_owned()),
        (None, None) => None,
    };
    let keys = if !access_keys.is_empty() {
        Some("--access-key")
    } else {
        keys_env.as_ref().map(|_| ACCESS_KEY_ENV)
    };
    if let (Some(named), Some(keys)) = (&named, keys) {
        bail!(
            "principals ({named}) and access keys ({keys}) are both given: give one or the other \
             (in a principals file, each access key belongs to a named principal)"
        );
    }
    let principals = match (file, text_env) {
        (Some(file), _) => {
            let text = read_principals_file(file)?;
            principal::parse_toml(&text)
                .with_context(|| format!("reading the principals file {}", file.display()))?
        }
        (None, Some(text)) => principal::parse_toml(&text)
            .with_context(|| format!("reading the principals in {PRINCIPALS_ENV}"))?,
        (None, None) => {
            if let Some(value) = keys_env {
                for pair in value.split(',').filter(|p| !p.trim().is_empty()) {
                    access_keys.push(parse_access_key(pair.trim()).map_err(|e| {
                        anyhow!("{ACCESS_KEY_ENV}: {e} (comma-separated ID:SECRET pairs)")
                    })?);
                }
            }
            if access_keys.is_empty() {
                bail!(
                    "no principals: give --principals FILE (or set {PRINCIPALS_FILE_ENV}, or \
                     {PRINCIPALS_ENV} to the file's text), or access keys with --access-key \
                     ID:SECRET or {ACCESS_KEY_ENV}=ID:SECRET; clients sign with them \
                     (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)"
                );
            }
            principal::check_all(&access_keys).context(
                "the access keys (each names a principal after its id, which must then be a valid \
                 name; a principals file names principals freely)",
            )?;
            access_keys
        }
    };
    Ok(principals)
}

/// A principals file's text, at most [`MAX_PRINCIPALS_FILE`] bytes of UTF-8; warns when others
/// may read it (it holds secrets).
fn read_principals_file(path: &Path) -> Result<Zeroizing<String>> {
    use std::io::Read;
    let file = std::fs::File::open(path)
        .with_context(|| format!("opening the principals file {}", path.display()))?;
    #[cfg(unix)]
    if let Ok(meta) = file.metadata() {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            eprintln!(
                "objseal: warning: the principals file {} holds secrets and is readable by \
                 others (mode {mode:03o}): chmod 600 it",
                path.display()
            );
        }
    }
    let mut bytes = Zeroizing::new(Vec::new());
    file.take(MAX_PRINCIPALS_FILE + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("reading the principals file {}", path.display()))?;
    if bytes.len() as u64 > MAX_PRINCIPALS_FILE {
        bail!(
            "the principals file {} is larger than {} MiB",
            path.display(),
            MAX_PRINCIPALS_FILE >> 20
        );
    }
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| anyhow!("the principals file {} is not UTF-8 text", path.display()))?;
    Ok(Zeroizing::new(text.to_owned()))
}

/// A policy document from a file (`-`: standard input): UTF-8, at most [`MAX_POLICY_FILE`] bytes.
/// Whether it is a valid policy is for the KMS to say.
fn read_policy_file(path: &Path) -> Result<String> {
    use std::io::Read;
    let what = || {
        if path == Path::new("-") {
            "standard input".to_owned()
        } else {
            format!("the policy file {}", path.display())
        }
    };
    let reader: Box<dyn Read> = if path == Path::new("-") {
        Box::new(std::io::stdin())
    } else {
        Box::new(std::fs::File::open(path).with_context(|| format!("opening {}", what()))?)
    };
    let mut bytes = Vec::new();
    reader
        .take(MAX_POLICY_FILE + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("reading {}", what()))?;
    if bytes.len() as u64 > MAX_POLICY_FILE {
        bail!(
            "{} is larger than {} MiB: not a key policy (at most 32 KiB)",
            what(),
            MAX_POLICY_FILE >> 20
        );
    }
    String::from_utf8(bytes).map_err(|_| anyhow!("{} is not UTF-8 text", what()))
}

/// `objseal kms serve`.
async fn serve(args: &KmsArgs, listen: SocketAddr, principals: Vec<Principal>) -> Result<()> {
    let store = store_path(&args.conn);
    let (local, audit) = open_local(&args.conn, &store)?;
    let region = local.region().to_owned();
    let names: Vec<String> = principals
        .iter()
        .map(|p| match &p.service {
            Some(service) => format!("{} (service {service})", p.name),
            None => p.name.clone(),
        })
        .collect();
    let ids: Vec<String> = principals.iter().map(|p| p.access_key_id.clone()).collect();
    let access_keys = principals.iter().map(AccessKey::from_principal).collect();
    // The keystore records each operation it runs, with the caller; the server records, in the
    // same log, what never reaches it (refused signatures, unknown operations, refused
    // delegations): each request once.
    let mut config =
        ServerConfig::new(region.clone(), access_keys).with_audit(audit, AuditScope::NotSeenByKms);
    // The principals' ARNs are in the keystore's account: key policies name them so.
    config.account_id = local.account_id().to_owned();
    // Each request runs as its signer (key policies checked for it, its ARN in the audit log),
    // or for the principal a service signed it on behalf of (with kms:ViaService).
    let kms_for = objseal_kms::server::local_for_callers(local.clone());
    let server = KmsServer::per_caller(config, kms_for)?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("listening on {listen}"))?;
    let bound = listener.local_addr().context("reading the bound address")?;
    if !bound.ip().is_loopback() {
        eprintln!(
            "objseal: warning: serving plain HTTP on {bound}, beyond loopback: put a TLS proxy in \
             front of it"
        );
    }
    {
        use std::io::Write;
        let mut stdout = std::io::stdout().lock();
        if args.json {
            writeln!(
                stdout,
                "{}",
                json!({"Endpoint": format!("http://{bound}"), "Region": region,
                       "Store": store.display().to_string(), "AccessKeyIds": ids,
                       "Principals": names})
            )?;
        } else {
            writeln!(
                stdout,
                "objseal kms: serving {} on http://{bound} (region {region}, principals {})",
                store.display(),
                names.join(", ")
            )?;
        }
        stdout.flush()?;
    }
    server.serve(listener, shutdown_signal()).await?;
    eprintln!("objseal kms: stopped");
    Ok(())
}

/// Completes on SIGINT or SIGTERM.
pub(crate) async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// A date (seconds since the epoch) as RFC 3339.
fn date(secs: u64) -> String {
    crate::time::rfc3339_utc(UNIX_EPOCH + Duration::from_secs(secs))
}

fn version_text(m: &KeyMetadata) -> String {
    if m.current_version == KEY_VERSION_UNKNOWN {
        "the service does not report key versions".into()
    } else {
        format!("version {} is now current", m.current_version)
    }
}

/// Text or JSON on standard output.
struct Output {
    json: bool,
}

impl Output {
    fn print(&mut self, text: &str) {
        println!("{text}");
    }

    fn key(
        &mut self,
        m: &KeyMetadata,
        aliases: &[String],
        rotation: Option<&objseal_kms::RotationStatus>,
        heading: &str,
    ) {
        if self.json {
            let mut v = key_json(m);
            v["Aliases"] = json!(aliases);
            if let Some(r) = rotation {
                v["KeyRotationEnabled"] = json!(r.enabled);
                if let Some(p) = r.rotation_period_days {
                    v["RotationPeriodInDays"] = json!(p);
                }
                if let Some(d) = r.next_rotation_date {
                    v["NextRotationDate"] = json!(d);
                }
            }
            self.print(&v.to_string());
            return;
        }
        let mut lines = Vec::new();
        if !heading.is_empty() {
            lines.push(format!("{heading} {}", m.key_id));
        }
        let mut row = |k: &str, v: String| lines.push(format!("  {k:<12} {v}"));
        row("key id", m.key_id.clone());
        row("arn", m.arn.clone());
        row("state", m.state.as_str().to_owned());
        if m.current_version != KEY_VERSION_UNKNOWN {
            row("version", m.current_version.to_string());
        }
        if !m.description.is_empty() {
            row("description", m.description.clone());
        }
        row("created", date(m.creation_date));
        if let Some(d) = m.deletion_date {
            let window = m
                .pending_deletion_window_days
                .map_or(String::new(), |w| format!(" ({w}-day window)"));
            row("deletion", format!("{}{window}", date(d)));
        }
        if !aliases.is_empty() {
            row("aliases", aliases.join(", "));
        }
        if !m.tags.is_empty() {
            let tags: Vec<String> = m.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
            row("tags", tags.join(", "));
        }
        if let Some(r) = rotation {
            let text = match (r.enabled, r.rotation_period_days, r.next_rotation_date) {
                (false, _, _) => "on demand only".to_owned(),
                (true, Some(p), Some(next)) => format!("every {p} days, next {}", date(next)),
                (true, Some(p), None) => format!("every {p} days"),
                (true, None, _) => "automatic".to_owned(),
            };
            row("rotation", text);
        }
        self.print(&lines.join("\n"));
    }

    fn key_list(&mut self, rows: &[(KeyMetadata, Vec<String>)]) {
        if self.json {
            let list: Vec<Value> = rows
                .iter()
                .map(|(m, aliases)| {
                    let mut v = key_json(m);
                    v["Aliases"] = json!(aliases);
                    v
                })
                .collect();
            self.print(&json!({ "Keys": list }).to_string());
            return;
        }
        if rows.is_empty() {
            self.print("no keys");
            return;
        }
        let mut lines = Vec::with_capacity(rows.len() + 1);
        lines.push(format!(
            "{:<36}  {:<15}  {:>7}  {}",
            "KEY ID", "STATE", "VERSION", "ALIASES / DESCRIPTION"
        ));
        for (m, aliases) in rows {
            let mut tail = aliases.join(", ");
            if !m.description.is_empty() {
                if !tail.is_empty() {
                    tail.push_str("  ");
                }
                tail.push_str(&m.description);
            }
            let version = if m.current_version == KEY_VERSION_UNKNOWN {
                "?".to_owned()
            } else {
                m.current_version.to_string()
            };
            lines.push(format!(
                "{:<36}  {:<15}  {version:>7}  {tail}",
                m.key_id,
                m.state.as_str()
            ));
        }
        self.print(&lines.join("\n"));
    }

    /// The outcome of a state change: a sentence, or `json`.
    fn done(&mut self, json: Value, sentence: &str) {
        if self.json {
            self.print(&json.to_string());
        } else {
            self.print(sentence);
        }
    }

    fn audit(&mut self, events: &[AuditEvent]) {
        if self.json {
            self.print(&json!(events).to_string());
            return;
        }
        let mut lines = Vec::with_capacity(events.len());
        for e in events {
            let mut line = format!("{}  {:<10} {}", date(e.time), e.principal, e.operation);
            if let Some(k) = &e.key_id {
                line.push_str(&format!(" key={k}"));
            }
            if let Some(v) = e.key_version {
                line.push_str(&format!(" v{v}"));
            }
            if let Some(c) = e.context.as_ref().filter(|c| !c.is_empty()) {
                let pairs: Vec<String> = c.iter().map(|(k, v)| format!("{k}={v}")).collect();
                line.push_str(&format!(" context={{{}}}", pairs.join(",")));
            }
            line.push_str(&format!(" → {}", e.result));
            if let Some(m) = &e.message {
                line.push_str(&format!(" ({m})"));
            }
            if let Some(s) = &e.source {
                line.push_str(&format!(" from {s}"));
            }
            // A request a service made for the principal: which service, and whose credentials.
            match (&e.via_service, &e.invoked_by) {
                (Some(via), Some(by)) => line.push_str(&format!(" via {via} (invoked by {by})")),
                (Some(via), None) => line.push_str(&format!(" via {via}")),
                (None, Some(by)) => line.push_str(&format!(" (invoked by {by})")),
                (None, None) => {}
            }
            lines.push(line);
        }
        if !lines.is_empty() {
            self.print(&lines.join("\n"));
        }
    }
}

/// A key's metadata under AWS's field names, plus `CurrentVersion`.
fn key_json(m: &KeyMetadata) -> Value {
    let mut v = json!({
        "KeyId": m.key_id,
        "Arn": m.arn,
        "AWSAccountId": m.account_id,
        "Description": m.description,
        "KeyState": m.state.as_str(),
        "Enabled": m.state == KeyState::Enabled,
        "CreationDate": m.creation_date,
        "Tags": m.tags,
    });
    if m.current_version != KEY_VERSION_UNKNOWN {
        v["CurrentVersion"] = json!(m.current_version);
    }
    if let Some(d) = m.deletion_date {
        v["DeletionDate"] = json!(d);
    }
    if let Some(w) = m.pending_deletion_window_days {
        v["PendingDeletionWindowInDays"] = json!(w);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_keys() {
        let k = parse_access_key("AKID:se:cret").unwrap();
        assert_eq!(k.access_key_id, "AKID");
        assert_eq!(k.name, "AKID");
        assert_eq!(k.secret.as_str(), "se:cret");
        for bad in ["AKID", ":hunter2", "AKID:", ""] {
            let e = parse_access_key(bad).unwrap_err();
            assert!(!e.contains("hunter2"), "{e}");
        }
    }

    #[test]
    fn audit_log_beside_the_store() {
        use clap::Parser;
        let cli = crate::cli::Cli::parse_from([
            "objseal",
            "kms",
            "--store",
            "/x/keys.store",
            "list-keys",
        ]);
        let crate::cli::Command::Kms(args) = cli.command else {
            panic!("not kms")
        };
        assert_eq!(
            audit_path(&args.conn, &store_path(&args.conn)),
            PathBuf::from("/x/keys.store.audit.jsonl")
        );
    }
}
