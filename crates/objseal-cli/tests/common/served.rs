//! The real `objseal serve` binary on loopback, for tests that need a whole server process
//! (peers, crashes): started on `127.0.0.1:0` with fixed access keys, killed on drop.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_objseal");
const LISTENING: &str = "objseal serve: listening on ";

/// A running `objseal serve`. Killed (SIGKILL) and reaped on drop, so a failing test leaves no
/// server behind; a test that panics meanwhile gets the tail of the server's log on stderr.
pub struct Served {
    child: Child,
    /// `http://127.0.0.1:PORT` (`https://` with TLS).
    pub endpoint: String,
    /// The server's standard error (its request log), a file beside the data directory.
    log: PathBuf,
    /// Standard output after the listening line, read in the background so the child never
    /// blocks on a full pipe.
    rest: mpsc::Receiver<String>,
}

impl Served {
    /// `objseal serve --listen 127.0.0.1:0 --data-dir <data> --allow-ssec-over-http` signing with
    /// `access_key` / `secret_key` (given through the environment, not the command line); waits
    /// (at most 60 s) for the listening line.
    pub fn start(data: &Path, access_key: &str, secret_key: &str) -> Self {
        Self::start_with(data, access_key, secret_key, &[])
    }

    /// [`start`](Self::start) with more arguments (`--tls-cert`, `--tls-key`); the endpoint is
    /// `https://127.0.0.1:PORT` then.
    pub fn start_with(
        data: &Path,
        access_key: &str,
        secret_key: &str,
        extra: &[&std::ffi::OsStr],
    ) -> Self {
        Self::start_with_env(data, access_key, secret_key, extra, &[])
    }

    /// [`start_with`](Self::start_with) with more environment variables for the server.
    pub fn start_with_env(
        data: &Path,
        access_key: &str,
        secret_key: &str,
        extra: &[&std::ffi::OsStr],
        env: &[(&str, &str)],
    ) -> Self {
        let log = data.with_extension(format!("log-{}", unique()));
        let log_file = std::fs::File::create(&log).expect("creating the server log file");
        let mut cmd = Command::new(BIN);
        for var in [
            "OBJSEAL_LISTEN",
            "OBJSEAL_DATA_DIR",
            "OBJSEAL_KMS_ROOT_KEY",
            "RUST_LOG",
        ] {
            cmd.env_remove(var);
        }
        let mut child = cmd
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data)
            .arg("--allow-ssec-over-http")
            .args(extra)
            .env("OBJSEAL_ACCESS_KEY", access_key)
            .env("OBJSEAL_SECRET_KEY", secret_key)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log_file)
            .spawn()
            .expect("spawning objseal serve");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || forward_lines(stdout, &tx));
        let mut served = Self {
            child,
            endpoint: String::new(),
            log,
            rest: rx,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match served.rest.recv_timeout(left) {
                Ok(line) => {
                    if let Some(endpoint) = line.strip_prefix(LISTENING) {
                        served.endpoint = endpoint.trim().to_owned();
                        assert!(
                            served.endpoint.starts_with("http://127.0.0.1:")
                                || served.endpoint.starts_with("https://127.0.0.1:"),
                            "{}",
                            served.endpoint
                        );
                        return served;
                    }
                    seen.push(line);
                }
                Err(_) => {
                    let _ = served.child.kill();
                    let _ = served.child.wait();
                    panic!(
                        "objseal serve printed no listening line; stdout: {seen:?}\nstderr:\n{}",
                        served.log_tail(60)
                    );
                }
            }
        }
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `kill -9` and reap: the crash under test.
    pub fn kill9(&mut self) {
        self.signal(libc::SIGKILL);
        self.child.wait().expect("reaping the killed server");
    }

    /// SIGTERM, then waits (at most 20 s) for the exit status.
    pub fn terminate(&mut self) -> ExitStatus {
        self.signal(libc::SIGTERM);
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "objseal serve did not stop within 20 s of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn signal(&mut self, signal: libc::c_int) {
        if self.child.try_wait().unwrap().is_some() {
            return;
        }
        let pid = libc::pid_t::try_from(self.child.id()).unwrap();
        // SAFETY: kill(2) on our own (unreaped, so not recycled) child's pid has no memory effects.
        let rc = unsafe { libc::kill(pid, signal) };
        assert_eq!(rc, 0, "kill({pid}, {signal}) failed");
    }

    /// Everything the server wrote: its standard output (from the listening line on, as far as
    /// read) and its standard error.
    pub fn output(&self) -> Vec<u8> {
        let mut out: Vec<u8> = self.rest.try_iter().flat_map(|l| l.into_bytes()).collect();
        out.extend(std::fs::read(&self.log).unwrap_or_default());
        out
    }

    /// The last `lines` lines of the server's standard error.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!(
                "---- objseal serve's log (last 40 lines) ----\n{}",
                self.log_tail(40)
            );
        }
        let _ = std::fs::remove_file(&self.log);
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

/// A number unique within this process (log file names).
fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}
