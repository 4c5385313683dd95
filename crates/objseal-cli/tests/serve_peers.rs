//! Interoperability of the real `objseal serve` binary with the clients people use: boto3, aws-cli
//! (v1) and rclone (Go SDK), over SSE-S3, SSE-KMS and SSE-C.
//!
//! Each test starts its own server (on 127.0.0.1:0, a fresh data directory, fixed access keys,
//! `--allow-ssec-over-http`) and runs one scenario script from `tests/peers/`, which checks every
//! result itself and prints `SCENARIO OK` at its end. The Python peers come from the virtualenv
//! `scripts/peers` installs (`OBJSEAL_PEERS_VENV`), rclone from PATH (`scripts/apt-peers`) or
//! `OBJSEAL_RCLONE`. A missing peer skips the test with a loud notice, or fails it under
//! `OBJSEAL_REQUIRE_PEERS=1`.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

// The peers' virtualenv finder and AWS-environment isolation, shared with objseal-kms's own tests.
#[path = "../../objseal-kms/tests/common/peers.rs"]
mod peers;

mod common;
use common::served::Served;

/// The scenario scripts.
fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/peers")
        .join(name)
}

/// Runs `cmd` (a scenario) against a fresh `objseal serve`, with the endpoint in
/// `OBJSEAL_S3_ENDPOINT`, the test credentials and region, and a scratch HOME and TMPDIR; requires
/// success and `SCENARIO OK`.
fn run_scenario(what: &str, cmd: Command) {
    run_scenario_with(what, cmd, &[]);
}

/// [`run_scenario`] with more arguments for `objseal serve`.
fn run_scenario_with(what: &str, mut cmd: Command, serve_args: &[&OsStr]) {
    let dir = tempfile::tempdir().unwrap();
    let server = Served::start_with(
        &dir.path().join("data"),
        peers::TEST_ACCESS_KEY_ID,
        peers::TEST_SECRET_ACCESS_KEY,
        serve_args,
    );
    let home = dir.path().join("home");
    let tmp = dir.path().join("tmp");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::create_dir_all(&tmp).unwrap();
    peers::isolate_aws_env(&mut cmd);
    cmd.env("OBJSEAL_S3_ENDPOINT", &server.endpoint)
        .env("HOME", &home)
        .env("TMPDIR", &tmp)
        .stdin(Stdio::null());
    let (stdout_path, stderr_path) = (dir.path().join("stdout"), dir.path().join("stderr"));
    let started = Instant::now();
    let status = run_bounded(&mut cmd, &stdout_path, &stderr_path, SCENARIO_LIMIT);
    let stdout = std::fs::read_to_string(&stdout_path).unwrap_or_default();
    let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    assert!(
        status.is_some_and(|s| s.success()) && stdout.contains("SCENARIO OK"),
        "the {what} scenario against objseal serve failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        status.map_or_else(
            || format!("killed after {SCENARIO_LIMIT:?}"),
            |s| s.to_string()
        ),
    );
    eprintln!("{what} scenario passed in {:.1?}", started.elapsed());
    drop(server);
}

/// How long a scenario may run before it is taken for hung and killed.
const SCENARIO_LIMIT: Duration = Duration::from_secs(300);

/// Runs `cmd` in a process group of its own, its output into two files; kills the whole group
/// (the script and the clients it started) after `limit`, returning `None` then.
fn run_bounded(
    cmd: &mut Command,
    stdout: &Path,
    stderr: &Path,
    limit: Duration,
) -> Option<ExitStatus> {
    use std::os::unix::process::CommandExt;
    let mut child = cmd
        .process_group(0)
        .stdout(std::fs::File::create(stdout).unwrap())
        .stderr(std::fs::File::create(stderr).unwrap())
        .spawn()
        .expect("starting the scenario");
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        if Instant::now() > deadline {
            let group = libc::pid_t::try_from(child.id()).unwrap();
            // SAFETY: kill(2) on the process group we created for the child; no memory effects.
            unsafe { libc::kill(-group, libc::SIGKILL) };
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn boto3_round_trips_sse_s3_kms_and_c_with_default_checksums() {
    let Some(venv) = peers::Peers::find() else {
        return;
    };
    let mut cmd = Command::new(venv.bin("python"));
    cmd.arg(script("s3_boto3.py"));
    run_scenario("boto3", cmd);
}

#[test]
fn aws_cli_copies_100_mib_under_every_sse_and_gets_aws_refusals() {
    let Some(venv) = peers::Peers::find() else {
        return;
    };
    let mut cmd = Command::new("bash");
    cmd.arg(script("s3_awscli.sh"))
        .env("AWS_CLI", venv.bin("aws"))
        .env("PYTHON", venv.bin("python"));
    run_scenario("aws-cli", cmd);
}

#[test]
fn rclone_copies_with_sse_c_kms_and_multipart() {
    let Some(rclone) = find_rclone() else {
        return;
    };
    // Over TLS: rclone's Go SDK refuses to send SSE-C keys over plain HTTP ("ConfigError: cannot
    // send SSE keys over HTTP"), as it should. The test certificate is objseal-server's.
    let tls = Path::new(env!("CARGO_MANIFEST_DIR")).join("../objseal-server/tests/data/tls");
    let (cert, key, ca) = (
        tls.join("server.pem"),
        tls.join("server.key"),
        tls.join("ca.pem"),
    );
    let mut cmd = Command::new("bash");
    cmd.arg(script("s3_rclone.sh"))
        .env("RCLONE", rclone)
        .env("PYTHON", python3())
        .env("OBJSEAL_CA_CERT", &ca);
    run_scenario_with(
        "rclone",
        cmd,
        &[
            OsStr::new("--tls-cert"),
            cert.as_os_str(),
            OsStr::new("--tls-key"),
            key.as_os_str(),
        ],
    );
}

/// rclone: `OBJSEAL_RCLONE`, else `rclone` on PATH. Missing: a loud notice and `None`, or a panic
/// under `OBJSEAL_REQUIRE_PEERS=1`.
fn find_rclone() -> Option<PathBuf> {
    let given = std::env::var_os("OBJSEAL_RCLONE").filter(|v| !v.is_empty());
    let found = match &given {
        Some(path) => Some(PathBuf::from(path)).filter(|p| p.is_file()),
        None => on_path("rclone"),
    };
    if found.is_some() {
        return found;
    }
    let why = match given {
        Some(path) => format!(
            "rclone is not at OBJSEAL_RCLONE={}",
            Path::new(&path).display()
        ),
        None => "rclone is not installed (not on PATH); run scripts/apt-peers (apt-get install -y \
                 rclone)"
            .to_owned(),
    };
    if peers::required() {
        panic!("OBJSEAL_REQUIRE_PEERS=1 and {why}");
    }
    eprintln!("\n!!!!!!!! SKIPPED: {why} !!!!!!!!\n");
    None
}

/// The scripts' helper python: the peers' virtualenv when there is one, else `python3` on PATH.
fn python3() -> PathBuf {
    std::env::var_os("OBJSEAL_PEERS_VENV")
        .filter(|v| !v.is_empty())
        .map(|v| PathBuf::from(v).join("bin/python"))
        .filter(|p| p.is_file())
        .or_else(|| on_path("python3"))
        .unwrap_or_else(|| PathBuf::from("python3"))
}

fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}
