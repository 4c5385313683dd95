//! A whole setting for the client-side-encryption commands: the real `objseal serve` on loopback
//! with a bucket, key files and an embedded keystore in a temporary directory that is also HOME,
//! and `objseal` commands with an AWS environment of their own (nothing inherited from the user's).
#![allow(dead_code)]

use std::borrow::BorrowMut;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use objseal_client::{ClientConfig, EncryptingClient, Keyring};

use super::served::Served;

pub const BIN: &str = env!("CARGO_BIN_EXE_objseal");
pub const ACCESS_KEY: &str = "AKIDCSETEST";
pub const SECRET_KEY: &str = "cse-test-secret-never-printed";
pub const BUCKET: &str = "bucket";
/// The KMS key the setting creates, by alias.
pub const KMS_ALIAS: &str = "alias/cse";

/// The AWS and objseal variables a test must not inherit.
const SCRUBBED: &[&str] = &[
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_ENDPOINT_URL_KMS",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_CA_BUNDLE",
    "OBJSEAL_KMS_STORE",
    "OBJSEAL_KMS_ROOT_KEY",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "http_proxy",
    "https_proxy",
    "ALL_PROXY",
];

pub struct Env {
    /// HOME of every command, and where key files, the keystore and test files live.
    pub dir: tempfile::TempDir,
    pub server: Served,
}

impl Env {
    /// The server, bucket [`BUCKET`], key files `a.key` and `b.key`, and a keystore holding
    /// [`KMS_ALIAS`].
    pub fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let server = Served::start(&dir.path().join("server"), ACCESS_KEY, SECRET_KEY);
        let env = Self { dir, server };
        env.create_bucket(BUCKET);
        for name in ["a.key", "b.key", "root.key"] {
            ok(env.bare().args(["keygen", "-o"]).arg(env.path(name)));
        }
        ok(env.bare().args([
            "kms",
            "create-key",
            "--description",
            "cse tests",
            "--alias",
            KMS_ALIAS,
        ]));
        env
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The server's endpoint.
    pub fn endpoint(&self) -> &str {
        &self.server.endpoint
    }

    /// `objseal` in the setting's environment, without credentials or endpoint: HOME is the
    /// temporary directory, the keystore is the setting's, nothing reaches the network but
    /// loopback.
    pub fn bare(&self) -> Command {
        self.bare_program(BIN.as_ref())
    }

    /// [`bare`](Self::bare) for another program (which runs `objseal`).
    pub fn bare_program(&self, program: &std::ffi::OsStr) -> Command {
        let mut cmd = Command::new(program);
        for var in SCRUBBED {
            cmd.env_remove(var);
        }
        cmd.env("HOME", self.dir.path())
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("NO_COLOR", "1")
            .env("OBJSEAL_KMS_STORE", self.path("kms.store"))
            .env("OBJSEAL_KMS_ROOT_KEY", key_hex(&self.path("root.key")))
            .current_dir(self.dir.path())
            .stdin(Stdio::null());
        cmd
    }

    /// `objseal <args> --endpoint-url <server>` with the server's credentials and region in the
    /// AWS environment variables.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = self.bare();
        cmd.args(args).arg("--endpoint-url").arg(self.endpoint());
        self.credentials(&mut cmd);
        cmd
    }

    /// Gives `cmd` the server's credentials and region in the AWS environment variables.
    pub fn credentials(&self, cmd: &mut Command) {
        cmd.env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
            .env("AWS_REGION", "us-east-1");
    }

    /// `shell_command` (with the server's credentials) on a pseudo-terminal, through util-linux
    /// `script`; its output is what the terminal showed, standard error included. `None` when
    /// `script` is missing (outside CI: under CI=true that fails the test).
    pub fn on_terminal(&self, shell_command: &str) -> Option<Output> {
        let found = Command::new("sh")
            .args(["-c", "command -v script"])
            .output()
            .is_ok_and(|o| o.status.success());
        if !found {
            let why = "util-linux `script` is not installed (Debian: apt-get install bsdutils)";
            if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) {
                panic!("CI is set and {why}");
            }
            eprintln!("\n!!!!!!!! SKIPPED: {why} !!!!!!!!\n");
            return None;
        }
        let mut cmd = self.bare_program("script".as_ref());
        cmd.args(["-qefc", shell_command, "/dev/null"])
            .env("SHELL", "/bin/sh")
            .env("TERM", "xterm");
        self.credentials(&mut cmd);
        Some(ok(cmd))
    }

    /// A plain S3 client of the server (what the store holds, as it holds it).
    pub fn raw<T>(&self, job: impl AsyncFnOnce(aws_sdk_s3::Client) -> T) -> T {
        let config = ClientConfig {
            endpoint_url: Some(self.endpoint().to_owned()),
            region: Some("us-east-1".into()),
            credentials: Some((
                ACCESS_KEY.into(),
                zeroize::Zeroizing::new(SECRET_KEY.into()),
            )),
            force_path_style: true,
            max_attempts: 1,
            ..ClientConfig::default()
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let client = EncryptingClient::connect(config, Keyring::new())
                .await
                .unwrap();
            job(client.s3().clone()).await
        })
    }

    pub fn create_bucket(&self, name: &str) {
        self.raw(async |s3| s3.create_bucket().bucket(name).send().await.unwrap());
    }

    /// Every key the store holds in [`BUCKET`], instruction objects included.
    pub fn stored_keys(&self) -> Vec<String> {
        self.raw(async |s3| {
            let out = s3.list_objects_v2().bucket(BUCKET).send().await.unwrap();
            out.contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_owned))
                .collect()
        })
    }
}

/// The 64 hex digits of a key file.
pub fn key_hex(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix("objseal-kek-1:"))
        .unwrap_or_default()
        .to_owned()
}

/// Runs `cmd`, requires success, returns its output.
pub fn ok(mut cmd: impl BorrowMut<Command>) -> Output {
    let cmd = cmd.borrow_mut();
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed: {:?}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs `cmd`, requires exit status `code` and `needle` in standard error; returns standard error.
pub fn fails(mut cmd: impl BorrowMut<Command>, code: i32, needle: &str) -> String {
    let cmd = cmd.borrow_mut();
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(code), "{cmd:?}: {stderr}");
    assert!(
        stderr.contains(needle),
        "{cmd:?}: expected {needle:?} in:\n{stderr}"
    );
    assert!(!stderr.contains(SECRET_KEY), "{stderr}");
    stderr
}

/// Runs `cmd` with `input` on standard input; requires success.
pub fn ok_with_input(mut cmd: impl BorrowMut<Command>, input: &[u8]) -> Output {
    use std::io::Write;
    let cmd = cmd.borrow_mut();
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed: {:?}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Parses every line of standard output as JSON.
pub fn json_lines(out: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// Deterministic plaintext.
pub fn data(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i.wrapping_mul(31) % 251) as u8).collect()
}
