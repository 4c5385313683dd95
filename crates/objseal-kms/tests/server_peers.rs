//! `objseal kms serve` against the clients people use: boto3 and aws-cli (v1) run the key lifecycle
//! (tests/peers/kms_scenario_*) against a `LocalKms` served on 127.0.0.1, checking every result.
//!
//! The peers come from the virtualenv `scripts/peers` installs (`OBJSEAL_PEERS_VENV`, default
//! `<repo>/.venv-peers`); without it these tests print a loud notice and pass, unless
//! `OBJSEAL_REQUIRE_PEERS=1`.

mod common;
mod server_util;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::peers::{self, Peers};
use server_util::TestServer;

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/peers")
        .join(name)
}

/// Empty AWS config and credentials files and a home of their own in the test's directory, so
/// nothing of the host's AWS settings reaches the peer (and nothing depends on `/dev/null`).
fn private_aws_files(t: &TestServer, cmd: &mut Command) {
    let home = t.dir.path().join("home");
    std::fs::create_dir_all(&home).expect("home");
    let config = t.dir.path().join("aws-config");
    let credentials = t.dir.path().join("aws-credentials");
    std::fs::write(&config, "").expect("config");
    std::fs::write(&credentials, "").expect("credentials");
    cmd.env("AWS_CONFIG_FILE", config)
        .env("AWS_SHARED_CREDENTIALS_FILE", credentials)
        .env("HOME", home);
}

/// Runs `cmd` off the async runtime (the server answers on it meanwhile) and checks it printed
/// `SCENARIO OK`.
async fn run_scenario(what: &str, mut cmd: Command) -> Output {
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .expect("join")
        .unwrap_or_else(|e| panic!("running the {what} scenario: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("SCENARIO OK"),
        "the {what} scenario failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
    out
}

/// The refusals each scenario provokes are in the server's audit log, under the right principal:
/// the ARN of the principal the test access key belongs to (named after it).
fn check_audit(t: &TestServer) {
    let events = t.audit();
    let me = server_util::arn_of(peers::TEST_ACCESS_KEY_ID);
    let has = |result: &str, principal: &str| {
        events
            .iter()
            .any(|e| e.result == result && e.principal == principal)
    };
    for result in [
        "ok",
        "InvalidCiphertextException",
        "DisabledException",
        "KMSInvalidStateException",
        "NotFoundException",
    ] {
        assert!(has(result, &me), "no {result} in the audit log");
    }
    for result in ["InvalidSignatureException", "UnrecognizedClientException"] {
        assert!(has(result, "anonymous"), "no {result} in the audit log");
    }
    let ops: std::collections::BTreeSet<&str> =
        events.iter().map(|e| e.operation.as_str()).collect();
    for op in [
        "CreateKey",
        "GenerateDataKey",
        "Decrypt",
        "RotateKeyOnDemand",
        "DisableKey",
        "ScheduleKeyDeletion",
    ] {
        assert!(ops.contains(op), "no {op} in the audit log: {ops:?}");
    }
    assert!(
        events
            .iter()
            .all(|e| e.request_id.is_some() && e.source.is_some())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boto3_runs_the_key_lifecycle() {
    let Some(peers) = Peers::find() else {
        return;
    };
    let t = TestServer::start().await;
    let mut cmd = peers.command("python");
    private_aws_files(&t, &mut cmd);
    cmd.arg(script("kms_scenario_boto3.py"))
        .env("OBJSEAL_KMS_ENDPOINT", t.endpoint());
    let out = run_scenario("boto3", cmd).await;
    println!("{}", String::from_utf8_lossy(&out.stdout));
    check_audit(&t);
    // The session-token refusal, too.
    assert!(
        t.audit()
            .iter()
            .filter(|e| e.result == "UnrecognizedClientException")
            .count()
            >= 2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_cli_runs_the_key_lifecycle() {
    let Some(peers) = Peers::find() else {
        return;
    };
    let t = TestServer::start().await;
    let mut cmd = Command::new("bash");
    peers::isolate_aws_env(&mut cmd);
    private_aws_files(&t, &mut cmd);
    cmd.arg(script("kms_scenario_awscli.sh"))
        .env("OBJSEAL_KMS_ENDPOINT", t.endpoint())
        .env("AWS_CLI", peers.bin("aws"))
        .env("PYTHON", peers.bin("python"))
        .stdin(std::process::Stdio::null());
    let out = run_scenario("aws-cli", cmd).await;
    println!("{}", String::from_utf8_lossy(&out.stdout));
    check_audit(&t);
}
