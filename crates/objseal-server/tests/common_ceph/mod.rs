//! A real Ceph RADOS Gateway (Ceph 16's S3) on loopback for the tests: a one-node cluster — one
//! monitor, one memstore OSD (data in RAM), radosgw on 127.0.0.1 — started by
//! `scripts/ceph-rgw/start.sh` in a fresh directory and stopped by `scripts/ceph-rgw/stop.sh`.
//!
//! `scripts/apt-ceph` installs the Debian packages. When the daemons are missing,
//! [`CephRgw::start`] prints a loud SKIPPED notice and returns `None` (the test returns early) —
//! unless `OBJSEAL_REQUIRE_PEERS=1` (set by `scripts/test`, so CI never skips silently): then it
//! panics.
//!
//! One cluster serves every test of a test binary that runs at the same time: [`CephRgw::start`]
//! hands out handles to a shared cluster, started by the first caller (the others wait for it) and
//! stopped when the last handle drops. Tests keep apart by bucket ([`bucket_name`]). A test that
//! needs a cluster of its own (to stop or break it) takes [`CephRgw::start_private`]. Should the
//! test process die without dropping its handles (SIGKILL, abort), start.sh's owner watch stops the
//! daemons once the process has gone.
//!
//! RGW 16 rejects the SDKs' default trailing-checksum uploads (`aws-chunked` with
//! `STREAMING-UNSIGNED-PAYLOAD-TRAILER`); [`CephRgw::client`] computes request checksums only when
//! an operation requires them. RGW does not enforce AWS's 2 KB user-metadata limit: it takes
//! metadata up to its HTTP frontend's request-header limit (about 15 KB of values here) and answers
//! a bare HTTP 400 beyond that. RGW 16.2.15 answers CompleteMultipartUpload with an empty ETag
//! (HeadObject then gives the right one).
//!
//! ```ignore
//! mod common_ceph;
//! use common_ceph::CephRgw;
//!
//! #[tokio::test]
//! async fn talks_to_rgw() {
//!     let Some(rgw) = CephRgw::start() else { return };
//!     let bucket = common_ceph::bucket_name("demo");
//!     rgw.client().create_bucket().bucket(&bucket).send().await.unwrap();
//! }
//! ```
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use aws_sdk_s3::Client;
use aws_sdk_s3::config::{
    BehaviorVersion, Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};
use aws_smithy_http_client::tls;

/// The programs start.sh runs (ceph-mgr too, but the tests start no manager).
const BINARIES: &[&str] = &[
    "ceph-mon",
    "ceph-osd",
    "radosgw",
    "radosgw-admin",
    "ceph",
    "monmaptool",
    "uuidgen",
    "curl",
];

/// How many times a start is tried when it fails on a port another process took meanwhile.
const START_ATTEMPTS: usize = 3;

/// Whether missing Ceph daemons fail the test (`OBJSEAL_REQUIRE_PEERS=1`) rather than skipping it.
pub fn required() -> bool {
    std::env::var("OBJSEAL_REQUIRE_PEERS").is_ok_and(|v| v == "1")
}

/// A running one-node Ceph cluster with its RADOS Gateway; see the module's documentation. Clones
/// share the cluster, which stops when the last of them drops.
#[derive(Clone, Debug)]
pub struct CephRgw {
    cluster: Arc<Cluster>,
}

/// The cluster the shared handles point at, while any of them lives.
static SHARED: Mutex<Weak<Cluster>> = Mutex::new(Weak::new());

impl CephRgw {
    /// A handle to the test binary's shared cluster, started now unless one is running. `None`
    /// (after a loud notice) when the Ceph packages are missing and `OBJSEAL_REQUIRE_PEERS` is not
    /// 1; panics when they are missing under it, or when the cluster does not start.
    pub fn start() -> Option<CephRgw> {
        ceph_available()?;
        // Held while starting, so that concurrent callers wait for the one cluster.
        let mut shared = SHARED.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(cluster) = shared.upgrade() {
            return Some(CephRgw { cluster });
        }
        let cluster = Arc::new(Cluster::start());
        *shared = Arc::downgrade(&cluster);
        Some(CephRgw { cluster })
    }

    /// A cluster of this caller's own (its own directory and ports), stopped when the handle and
    /// its clones drop. `None` or a panic as for [`start`](Self::start).
    pub fn start_private() -> Option<CephRgw> {
        ceph_available()?;
        Some(CephRgw {
            cluster: Arc::new(Cluster::start()),
        })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> &str {
        &self.cluster.endpoint
    }

    /// The S3 user's access key id.
    pub fn access_key_id(&self) -> &str {
        &self.cluster.access_key_id
    }

    /// The S3 user's secret access key.
    pub fn secret_access_key(&self) -> &str {
        &self.cluster.secret_access_key
    }

    /// The region to sign for (RGW takes any; `us-east-1`).
    pub fn region(&self) -> &str {
        &self.cluster.region
    }

    /// The cluster's directory (ceph.conf, env, logs); removed when the cluster stops.
    pub fn dir(&self) -> &Path {
        &self.cluster.dir
    }

    /// Whether another handle than this one (and its clones) uses the same cluster.
    pub fn same_cluster(&self, other: &CephRgw) -> bool {
        Arc::ptr_eq(&self.cluster, &other.cluster)
    }

    /// An AWS SDK client for the gateway as its S3 user: path-style addressing, and checksums only
    /// where an operation requires them (RGW 16 rejects trailing-checksum uploads).
    pub fn client(&self) -> Client {
        client_for(
            self.endpoint(),
            self.access_key_id(),
            self.secret_access_key(),
        )
    }

    /// The last lines of radosgw's log, for a failing test's message.
    pub fn rgw_log_tail(&self) -> String {
        tail(&self.cluster.dir.join("log/client.rgw.gw.log"), 40)
    }
}

/// An AWS SDK for Rust client of an RGW endpoint on loopback, as [`CephRgw::client`].
pub fn client_for(endpoint: &str, access_key_id: &str, secret: &str) -> Client {
    // The SDK is built without its default HTTPS stack: rustls on ring, as tests/sse/common.rs.
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https();
    let conf = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .force_path_style(true)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(
            access_key_id.to_owned(),
            secret.to_owned(),
            None,
            None,
            "ceph-rgw-test",
        ))
        .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
        .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
        .http_client(http)
        .build();
    Client::from_conf(conf)
}

/// A bucket name no other test (of this process or another) uses: `<prefix>-<pid>-<n>-<time>`,
/// lowercase, 63 characters at most.
pub fn bucket_name(prefix: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let prefix: String = prefix
        .chars()
        .map(|c| c.to_ascii_lowercase())
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .take(30)
        .collect();
    format!("{prefix}-{}-{n}-{nanos:x}", std::process::id())
}

/// `Some(())` when every program start.sh runs is on PATH; otherwise the SKIPPED notice and `None`,
/// or a panic under `OBJSEAL_REQUIRE_PEERS=1`.
fn ceph_available() -> Option<()> {
    let missing: Vec<&str> = BINARIES
        .iter()
        .copied()
        .filter(|b| find_on_path(b).is_none())
        .collect();
    if missing.is_empty() {
        return Some(());
    }
    let why = format!(
        "the Ceph RADOS Gateway is not installed (missing {}); run scripts/apt-ceph",
        missing.join(", ")
    );
    if required() {
        panic!("OBJSEAL_REQUIRE_PEERS=1 and {why}");
    }
    eprintln!("\n!!!!!!!! SKIPPED: {why} !!!!!!!!\n");
    None
}

fn find_on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| std::fs::metadata(p).is_ok_and(|m| m.is_file()))
}

/// `<repo>/scripts/ceph-rgw`, the repository being two levels above this crate.
fn scripts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/ceph-rgw")
}

#[derive(Debug)]
struct Cluster {
    dir: PathBuf,
    endpoint: String,
    access_key_id: String,
    secret_access_key: String,
    region: String,
}

impl Cluster {
    /// Runs start.sh in a fresh directory on free ports; panics with its output when it fails.
    fn start() -> Cluster {
        let mut failures = String::new();
        for attempt in 1..=START_ATTEMPTS {
            let dir = fresh_dir();
            let began = Instant::now();
            let out = script("start.sh", &dir)
                .env("RGW_PORT", "auto")
                .env("MON_V2_PORT", "auto")
                .env("MON_V1_PORT", "auto")
                // RGW needs no manager; without it the cluster starts sooner and takes less memory.
                .env("START_MGR", "0")
                .env("CEPH_START_TIMEOUT", "120")
                // start.sh stops the cluster itself once this process has gone without dropping it.
                .env("CEPH_RGW_OWNER_PID", std::process::id().to_string())
                .output()
                .expect("running scripts/ceph-rgw/start.sh");
            if out.status.success() {
                let cluster = Cluster::from_env_file(&dir);
                eprintln!(
                    "ceph-rgw: started at {} in {:.1?} (dir {})",
                    cluster.endpoint,
                    began.elapsed(),
                    dir.display()
                );
                return cluster;
            }
            let text = output_text(&out);
            failures.push_str(&format!(
                "---- attempt {attempt}: start.sh {} exited with {}\n{text}\n",
                dir.display(),
                out.status
            ));
            // Logs of a failed start stay in DIR/log; the next attempt takes another directory.
            // Only a port taken between start.sh's check and the daemon's bind is worth a retry.
            let port_clash =
                out.status.code() == Some(3) || text.contains("Address already in use");
            if !port_clash {
                break;
            }
        }
        panic!("the Ceph RADOS Gateway did not start:\n{failures}");
    }

    /// Reads DIR/env (`export NAME='value'` lines) as start.sh wrote it.
    fn from_env_file(dir: &Path) -> Cluster {
        let path = dir.join("env");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        let vars: HashMap<&str, &str> = text
            .lines()
            .filter_map(|line| line.trim().strip_prefix("export "))
            .filter_map(|assignment| assignment.split_once('='))
            .map(|(name, value)| (name, value.trim_matches('\'')))
            .collect();
        let var = |name: &str| -> String {
            vars.get(name)
                .unwrap_or_else(|| panic!("{} lacks {name}:\n{text}", path.display()))
                .to_string()
        };
        let endpoint = var("S3_ENDPOINT_URL");
        assert!(
            endpoint.starts_with("http://127.0.0.1:"),
            "RGW must listen on loopback only, not {endpoint}"
        );
        Cluster {
            dir: dir.to_owned(),
            endpoint,
            access_key_id: var("AWS_ACCESS_KEY_ID"),
            secret_access_key: var("AWS_SECRET_ACCESS_KEY"),
            region: var("AWS_DEFAULT_REGION"),
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "---- radosgw's log (last lines) ----\n{}",
                tail(&self.dir.join("log/client.rgw.gw.log"), 40)
            );
        }
        match script("stop.sh", &self.dir).output() {
            Ok(out) if out.status.success() => {}
            Ok(out) => eprintln!(
                "ceph-rgw: stop.sh {} exited with {}\n{}",
                self.dir.display(),
                out.status,
                output_text(&out)
            ),
            Err(e) => eprintln!("ceph-rgw: running stop.sh {}: {e}", self.dir.display()),
        }
    }
}

/// `bash <scripts>/NAME DIR`, with no input and its output captured (the daemons write to files, so
/// the pipes close when the script ends).
fn script(name: &str, dir: &Path) -> Command {
    let mut cmd = Command::new("bash");
    cmd.arg(scripts_dir().join(name))
        .arg(dir)
        .stdin(Stdio::null())
        // The cluster's settings are the scripts' own, not whatever the caller's shell exports.
        .env_remove("S3_UID")
        .env_remove("S3_ACCESS_KEY")
        .env_remove("S3_SECRET_KEY")
        .env_remove("MEMSTORE_BYTES")
        .env_remove("CEPH_CONF");
    cmd
}

/// A directory path for one cluster, not yet made (start.sh makes it; stop.sh removes it). Short:
/// Ceph's admin sockets live under it, and socket paths have 107 bytes at most.
fn fresh_dir() -> PathBuf {
    static N: AtomicU64 = AtomicU64::new(0);
    let mut base = std::env::temp_dir();
    if base.as_os_str().len() > 40 {
        base = PathBuf::from("/tmp");
    }
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    base.join(format!(
        "objseal-ceph-{}-{}-{nanos:x}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ))
}

fn output_text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The last `n` lines of a file ("" when it cannot be read).
fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
