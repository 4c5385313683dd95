//! End-to-end tests of `objseal serve`, running the real binary.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_objseal");
const LISTENING: &str = "objseal serve: listening on ";

/// The binary, with none of the environment variables it reads inherited from the test's.
fn bare() -> Command {
    let mut cmd = Command::new(BIN);
    for var in [
        "OBJSEAL_LISTEN",
        "OBJSEAL_DATA_DIR",
        "OBJSEAL_ACCESS_KEY",
        "OBJSEAL_SECRET_KEY",
        "OBJSEAL_KMS_ROOT_KEY",
        "RUST_LOG",
    ] {
        cmd.env_remove(var);
    }
    cmd.stdin(Stdio::null());
    cmd
}

/// A running `objseal serve`, killed on drop (a failing test leaves no server behind).
struct Served {
    child: Child,
    /// Standard output up to and including the listening line.
    banner: Vec<String>,
    endpoint: String,
    /// The rest of standard output, read in the background (so the child never blocks on it).
    rest: mpsc::Receiver<String>,
}

impl Served {
    /// `objseal serve --listen 127.0.0.1:0 --data-dir <data> <extra>`; waits for the listening
    /// line.
    fn start(data: &Path, extra: &[&str]) -> Self {
        let mut child = bare()
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || forward_lines(stdout, &tx));
        let mut served = Self {
            child,
            banner: Vec::new(),
            endpoint: String::new(),
            rest: rx,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match served.rest.recv_timeout(left) {
                Ok(line) => {
                    let found = line.strip_prefix(LISTENING).map(str::to_owned);
                    served.banner.push(line);
                    if let Some(endpoint) = found {
                        served.endpoint = endpoint;
                        return served;
                    }
                }
                Err(_) => {
                    let stderr = served.stderr_now();
                    panic!(
                        "no listening line; stdout so far: {:?}, stderr: {stderr}",
                        served.banner
                    )
                }
            }
        }
    }

    fn addr(&self) -> &str {
        self.endpoint.trim_start_matches("http://")
    }

    /// The rest of the banner: every line printed within `wait`.
    fn more_lines(&self, wait: Duration) -> Vec<String> {
        let mut lines = Vec::new();
        while let Ok(line) = self.rest.recv_timeout(wait) {
            lines.push(line);
        }
        lines
    }

    /// Kills the child (if running) and returns its standard error.
    fn stderr_now(&mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let mut stderr = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = e.read_to_string(&mut stderr);
        }
        stderr
    }

    /// Sends SIGTERM and waits (at most 20 s) for the exit status.
    fn terminate(&mut self) -> ExitStatus {
        let pid = libc::pid_t::try_from(self.child.id()).unwrap();
        // SAFETY: kill(2) with a valid signal on our own child's pid has no memory effects.
        let rc = unsafe { libc::kill(pid, libc::SIGTERM) };
        assert_eq!(rc, 0, "kill failed");
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "serve did not stop after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn forward_lines(stdout: ChildStdout, tx: &mpsc::Sender<String>) {
    for line in BufReader::new(stdout).lines() {
        let Ok(line) = line else { return };
        if tx.send(line).is_err() {
            return;
        }
    }
}

/// One raw HTTP/1.1 GET; returns the status line and the body.
fn get(addr: &str, path: &str) -> (String, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    let status = reply.lines().next().unwrap_or_default().to_owned();
    let body = reply
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_owned();
    (status, body)
}

/// The `KEY=value` word of an `export` line.
fn exported(lines: &[String], key: &str) -> String {
    lines
        .iter()
        .filter(|l| l.trim_start().starts_with("export "))
        .flat_map(|l| l.split_whitespace())
        .find_map(|w| w.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("no {key} in {lines:#?}"))
        .to_owned()
}

#[test]
fn serve_starts_on_defaults_answers_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut served = Served::start(&data, &[]);
    assert!(
        served.endpoint.starts_with("http://127.0.0.1:") && !served.endpoint.ends_with(":0"),
        "{}",
        served.endpoint
    );

    let (status, body) = get(served.addr(), "/_objseal/health");
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    assert_eq!(body.trim(), "ok");
    let (status, body) = get(served.addr(), "/_objseal/metrics");
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    assert!(body.contains("objseal_requests_total"), "{body}");
    let (status, _) = get(served.addr(), "/");
    assert!(status.starts_with("HTTP/1.1 403"), "unsigned: {status}");

    // First start: the generated secret is shown once, with ready-to-paste commands, and kept
    // in the data directory.
    let banner = served.more_lines(Duration::from_millis(500));
    let id = exported(&banner, "AWS_ACCESS_KEY_ID");
    let secret = exported(&banner, "AWS_SECRET_ACCESS_KEY");
    assert_eq!((id.len(), secret.len()), (20, 40), "{banner:#?}");
    let text = banner.join("\n");
    for needle in [
        "s3 mb s3://demo",
        "--sse AES256",
        "--sse aws:kms --sse-kms-key-id alias/objseal-default",
        "--sse-c AES256 --sse-c-key fileb://key.bin",
        "--allow-ssec-over-http",
    ] {
        assert!(text.contains(needle), "{needle:?} missing from {text}");
    }
    let credentials = std::fs::read_to_string(data.join("credentials")).unwrap();
    assert!(credentials.contains(&id) && credentials.contains(&secret));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for file in ["credentials", "root.key"] {
            let mode = std::fs::metadata(data.join(file))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{file}");
        }
    }

    let status = served.terminate();
    assert!(status.success(), "{status:?}");
    let stderr = served.stderr_now();
    assert!(
        !stderr.contains(&secret),
        "the secret is never logged: {stderr}"
    );
    assert!(
        stderr.contains("/_objseal/health"),
        "requests are logged: {stderr}"
    );

    // A restart reuses the access key and shows the secret's file instead of the secret.
    let mut again = Served::start(&data, &[]);
    let banner = again.more_lines(Duration::from_millis(500));
    assert_eq!(exported(&banner, "AWS_ACCESS_KEY_ID"), id);
    let text = banner.join("\n");
    assert!(!text.contains(&secret), "{text}");
    assert!(text.contains("credentials"), "{text}");
    assert!(again.terminate().success());
}

#[test]
fn serve_refuses_half_given_access_keys() {
    let dir = tempfile::tempdir().unwrap();
    let out = bare()
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .args(["--access-key", "AKIDONLY"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--secret-key"), "{stderr}");
}
