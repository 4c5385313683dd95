//! What `tests/s3ec_moto.rs` needs around the test: the peers' virtualenv with the Python S3
//! Encryption Client, moto's server (killed on drop), SDK clients for it, and `peer.py`.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use objseal_kms::remote::{RemoteConfig, RemoteCredentials, RemoteKms};

/// moto accepts any credentials; these are the ones the peer script uses too.
pub const ACCESS_KEY: &str = "testing";
/// Its secret.
pub const SECRET_KEY: &str = "testing";

/// The peers' virtualenv, with `s3_encryption` importable.
pub struct Venv(PathBuf);

impl Venv {
    /// `OBJSEAL_PEERS_VENV`, else `<repo>/.venv-peers`. When it lacks moto or `s3_encryption`:
    /// panics under `CI` (or `OBJSEAL_REQUIRE_PEERS=1`), else prints a loud notice and gives `None`.
    pub fn find() -> Option<Self> {
        let venv = std::env::var_os("OBJSEAL_PEERS_VENV")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv-peers"));
        let python = venv.join("bin/python");
        let importable = venv.join("bin/moto_server").is_file()
            && Command::new(&python)
                .args(["-c", "import s3_encryption, boto3"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
        if importable {
            return Some(Self(venv));
        }
        let why = format!(
            "the Python S3 Encryption Client (amazon-s3-encryption-client-python) or moto is not \
             installed in {}; run scripts/peers (or set OBJSEAL_PEERS_VENV)",
            venv.display()
        );
        let ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty());
        if ci || std::env::var("OBJSEAL_REQUIRE_PEERS").is_ok_and(|v| v == "1") {
            panic!("{why}");
        }
        eprintln!("\n!!!!!!!! SKIPPED: {why} !!!!!!!!\n");
        None
    }

    /// A program of the virtualenv, in an AWS environment of its own.
    fn command(&self, name: &str) -> Command {
        let mut cmd = Command::new(self.0.join("bin").join(name));
        for var in [
            "AWS_PROFILE",
            "AWS_DEFAULT_PROFILE",
            "AWS_SESSION_TOKEN",
            "AWS_ENDPOINT_URL",
            "AWS_ENDPOINT_URL_KMS",
            "AWS_ENDPOINT_URL_S3",
            "HTTP_PROXY",
            "HTTPS_PROXY",
            "http_proxy",
            "https_proxy",
        ] {
            cmd.env_remove(var);
        }
        cmd.env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("NO_PROXY", "127.0.0.1,localhost");
        cmd
    }

    /// Runs `tests/s3ec/peer.py` with `ops` (a JSON list); its JSON list of results.
    pub fn peer(&self, endpoint: &str, ops: &serde_json::Value) -> Vec<serde_json::Value> {
        use std::io::Write as _;
        // From this crate or another of the workspace (the CLI's tests use this harness too).
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../objseal-client/tests/s3ec/peer.py");
        let mut child = self
            .command("python")
            .arg(script)
            .arg(endpoint)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawning peer.py");
        let mut stdin = child.stdin.take().expect("stdin");
        stdin
            .write_all(ops.to_string().as_bytes())
            .expect("writing ops");
        drop(stdin);
        let out = child.wait_with_output().expect("peer.py");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "peer.py failed: {stderr}");
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("peer.py's output: {e}; stderr: {stderr}"))
    }
}

/// `moto_server -H 127.0.0.1 -p <free port>`, killed and reaped on drop.
pub struct Moto {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Moto {
    /// Starts moto's server from `venv` on a free port and waits until it listens.
    pub fn start(venv: &Venv) -> Self {
        let mut last = String::new();
        for _ in 0..3 {
            let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
                .and_then(|l| l.local_addr())
                .map(|a| a.port())
                .expect("a free port");
            // Into a file: an unread pipe would stall it, and on /dev/null moto answers HTTP 500.
            let log = std::env::temp_dir().join(format!("objseal-s3ec-moto-{port}.log"));
            let file = std::fs::File::create(&log).expect("moto log");
            let child = venv
                .command("moto_server")
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(file)
                .spawn()
                .expect("spawning moto_server");
            let mut moto = Self { child, port, log };
            let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(60) {
                if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                    return moto;
                }
                if let Ok(Some(status)) = moto.child.try_wait() {
                    last = format!("moto_server exited with {status}");
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            last = format!(
                "{last}\n{}",
                std::fs::read_to_string(&moto.log).unwrap_or_default()
            );
        }
        panic!("moto_server did not start: {last}");
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// An SDK S3 client for moto: path style, test credentials, no retries.
    pub fn s3(&self) -> aws_sdk_s3::Client {
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
            ))
            .build_https();
        let conf = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .endpoint_url(self.endpoint())
            .force_path_style(true)
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "test"))
            .http_client(http)
            .build();
        aws_sdk_s3::Client::from_conf(conf)
    }

    /// A `RemoteKms` for moto's KMS.
    pub async fn kms(&self) -> RemoteKms {
        RemoteKms::connect(RemoteConfig {
            endpoint_url: Some(self.endpoint()),
            region: Some("us-east-1".into()),
            credentials: Some(RemoteCredentials::new(ACCESS_KEY, SECRET_KEY)),
            connect_timeout: Duration::from_secs(5),
            operation_timeout: Duration::from_secs(30),
            max_attempts: 1,
            ..RemoteConfig::default()
        })
        .await
        .expect("RemoteKms for moto")
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            let lines: Vec<&str> = log.lines().collect();
            eprintln!(
                "---- moto's log ----\n{}",
                lines[lines.len().saturating_sub(40)..].join("\n")
            );
        }
        let _ = std::fs::remove_file(&self.log);
    }
}
