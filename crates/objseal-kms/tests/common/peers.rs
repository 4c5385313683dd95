//! The Python peers (boto3, aws-cli v1, moto's server) for interoperability tests.
//!
//! `scripts/peers` installs them into a virtualenv; tests find it through `OBJSEAL_PEERS_VENV`, else at
//! `<repo>/.venv-peers`. When it is missing a test prints a loud notice and returns early — unless
//! `OBJSEAL_REQUIRE_PEERS=1` (set by `scripts/test`, so CI never skips silently), then it fails.
//!
//! ```ignore
//! mod common;
//! use common::peers;
//!
//! #[test]
//! fn talks_to_moto() {
//!     let Some(moto) = peers::MotoServer::start() else { return };
//!     // moto.endpoint() is "http://127.0.0.1:<port>"; the server is killed when `moto` drops.
//!     let out = peers::Peers::find().unwrap()
//!         .aws_cli(&moto.endpoint(), &["kms", "list-keys"])
//!         .output()
//!         .unwrap();
//! }
//! ```
#![allow(dead_code)]

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The access key id the helpers give the peers (moto accepts any credentials).
pub const TEST_ACCESS_KEY_ID: &str = "AKIDOBJSEALTEST";
/// Its secret.
pub const TEST_SECRET_ACCESS_KEY: &str = "objseal-test-secret-key";
/// The region the helpers give the peers.
pub const TEST_REGION: &str = "us-east-1";

/// Whether a missing virtualenv fails the test (`OBJSEAL_REQUIRE_PEERS=1`) rather than skipping it.
pub fn required() -> bool {
    std::env::var("OBJSEAL_REQUIRE_PEERS").is_ok_and(|v| v == "1")
}

/// The installed peers' virtualenv.
#[derive(Clone, Debug)]
pub struct Peers {
    venv: PathBuf,
}

impl Peers {
    /// Finds the virtualenv. When it is missing: panics under `OBJSEAL_REQUIRE_PEERS=1`, else prints a
    /// loud notice to stderr and returns `None` (the caller returns early).
    pub fn find() -> Option<Self> {
        let venv = std::env::var_os("OBJSEAL_PEERS_VENV")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(default_venv);
        let complete = ["python", "aws", "moto_server"]
            .iter()
            .all(|b| venv.join("bin").join(b).is_file());
        if complete {
            return Some(Self { venv });
        }
        let why = format!(
            "the Python peers (boto3, aws-cli, moto) are not installed at {}; run scripts/peers \
             (or set OBJSEAL_PEERS_VENV)",
            venv.display()
        );
        if required() {
            panic!("OBJSEAL_REQUIRE_PEERS=1 and {why}");
        }
        eprintln!("\n!!!!!!!! SKIPPED: {why} !!!!!!!!\n");
        None
    }

    /// The virtualenv's directory.
    pub fn venv(&self) -> &Path {
        &self.venv
    }

    /// The path of a program in the virtualenv's `bin` (`python`, `aws`, `moto_server`).
    pub fn bin(&self, name: &str) -> PathBuf {
        self.venv.join("bin").join(name)
    }

    /// A command for a program of the virtualenv, in an AWS environment of its own: the test
    /// credentials and region, no config or credentials files, no instance metadata, no proxy.
    pub fn command(&self, name: &str) -> Command {
        let mut cmd = Command::new(self.bin(name));
        isolate_aws_env(&mut cmd);
        cmd.stdin(Stdio::null());
        cmd
    }

    /// `aws --endpoint-url <endpoint> <args…>` (JSON output, no pager, no retries), as [`command`](Self::command).
    pub fn aws_cli(&self, endpoint: &str, args: &[&str]) -> Command {
        let mut cmd = self.command("aws");
        cmd.args(["--endpoint-url", endpoint, "--output", "json"]);
        cmd.args(args);
        cmd
    }

    /// `python -c <script> <args…>` with boto3 importable, as [`command`](Self::command).
    pub fn python(&self, script: &str, args: &[&str]) -> Command {
        let mut cmd = self.command("python");
        cmd.arg("-c").arg(script).args(args);
        cmd
    }
}

/// `<repo>/.venv-peers`, the repository being two levels above this crate.
fn default_venv() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(".venv-peers")
}

/// Points `cmd`'s AWS settings at the test credentials and away from the user's files and from the
/// network (instance metadata).
pub fn isolate_aws_env(cmd: &mut Command) {
    for var in [
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_KMS",
        "AWS_ENDPOINT_URL_S3",
        "AWS_ROLE_ARN",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "http_proxy",
        "https_proxy",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("AWS_ACCESS_KEY_ID", TEST_ACCESS_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", TEST_SECRET_ACCESS_KEY)
        .env("AWS_DEFAULT_REGION", TEST_REGION)
        .env("AWS_REGION", TEST_REGION)
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_PAGER", "")
        .env("AWS_MAX_ATTEMPTS", "1")
        .env("NO_PROXY", "127.0.0.1,localhost");
}

/// A port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("binding 127.0.0.1:0")
}

/// Waits until something accepts TCP connections at `addr`, or `child` exits, or `limit` passes.
pub fn wait_for_listener(
    addr: SocketAddr,
    child: &mut Child,
    limit: Duration,
) -> Result<(), String> {
    let start = Instant::now();
    loop {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("exited with {status} before listening on {addr}"));
        }
        if start.elapsed() > limit {
            return Err(format!("not listening on {addr} after {limit:?}"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `moto_server -H 127.0.0.1 -p <free port>`, killed (and reaped) on drop.
#[derive(Debug)]
pub struct MotoServer {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl MotoServer {
    /// Starts moto's server on a free loopback port and waits until it answers. `None` (after a loud
    /// notice) when the peers are not installed and not required; panics when it cannot start.
    pub fn start() -> Option<Self> {
        let peers = Peers::find()?;
        Some(Self::start_with(&peers))
    }

    /// Starts moto's server from `peers`' virtualenv; panics when it cannot start.
    pub fn start_with(peers: &Peers) -> Self {
        let mut last_error = String::new();
        // The port is free when chosen but another process may take it first: try a few.
        for _ in 0..3 {
            let port = free_port();
            // werkzeug logs every request (and moto its tracebacks) to stderr: into a file, since an
            // unread pipe would fill and stall it, and with stderr on /dev/null moto 5.2 answers
            // HTTP 500 to every request (seen here). Shown when a test fails.
            let log = std::env::temp_dir().join(format!("objseal-moto-{port}.log"));
            let file = std::fs::File::create(&log).expect("creating the moto log file");
            let mut cmd = peers.command("moto_server");
            cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdout(Stdio::null())
                .stderr(file);
            let mut child = cmd.spawn().expect("spawning moto_server");
            let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
            match wait_for_listener(addr, &mut child, Duration::from_secs(60)) {
                Ok(()) => return Self { child, port, log },
                Err(e) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    last_error = format!("{e}\n{}", tail(&log));
                    let _ = std::fs::remove_file(&log);
                }
            }
        }
        panic!("moto_server did not start: {last_error}");
    }

    /// moto's log (its stderr) so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Its port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("---- moto_server's log ----\n{}", tail(&self.log));
        }
        let _ = std::fs::remove_file(&self.log);
    }
}

/// The last 60 lines of a log file.
fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(60)..].join("\n")
}
