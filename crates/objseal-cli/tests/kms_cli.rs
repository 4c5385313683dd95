//! End-to-end tests of `objseal kms …`, running the real binary.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

// The peers' virtualenv finder and AWS-environment isolation, shared with objseal-kms's own tests.
#[path = "../../objseal-kms/tests/common/peers.rs"]
mod peers;

const BIN: &str = env!("CARGO_BIN_EXE_objseal");
const ACCESS_KEY_ID: &str = "AKIDCLITEST";
const ACCESS_SECRET: &str = "cli-test-secret-never-printed";

/// A temporary keystore: its directory, and a root key file made by `objseal keygen`.
struct Store {
    dir: tempfile::TempDir,
}

impl Store {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let out = bare()
            .args(["keygen", "-o"])
            .arg(dir.path().join("root.key"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        Self { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `objseal kms --store … --root-key-file … <args>`.
    fn kms(&self, args: &[&str]) -> Command {
        let mut cmd = bare();
        cmd.arg("kms")
            .arg("--store")
            .arg(self.path("keys.store"))
            .arg("--root-key-file")
            .arg(self.path("root.key"))
            .args(args);
        cmd
    }

    /// Runs `kms <args> --json`, requires success, parses standard output.
    fn json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.push("--json");
        let out = ok(self.kms(&all));
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!("{e}: {}", String::from_utf8_lossy(&out.stdout));
        })
    }

    fn root_key_hex(&self) -> String {
        let text = std::fs::read_to_string(self.path("root.key")).unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix("objseal-kek-1:"))
            .unwrap()
            .to_owned()
    }
}

/// The binary, with none of the environment variables it reads inherited from the test's.
fn bare() -> Command {
    let mut cmd = Command::new(BIN);
    for var in [
        "OBJSEAL_KMS_STORE",
        "OBJSEAL_KMS_ROOT_KEY",
        "OBJSEAL_KMS_ACCESS_KEY",
        "AWS_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_KMS",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .stdin(Stdio::null());
    cmd
}

fn ok(mut cmd: Command) -> Output {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed: {:?}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Requires exit status 1 and `needle` in standard error; returns standard error.
fn fails(mut cmd: Command, needle: &str) -> String {
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{cmd:?}: {stderr}");
    assert!(
        stderr.contains(needle),
        "{cmd:?}: expected {needle:?} in {stderr}"
    );
    stderr
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn key_lifecycle_is_managed_and_audited() {
    let s = Store::new();
    let created = s.json(&[
        "create-key",
        "--description",
        "photos key",
        "--alias",
        "alias/photos",
    ]);
    let id = created["KeyId"].as_str().unwrap().to_owned();
    assert_eq!(created["KeyState"], "Enabled");
    assert_eq!(created["CurrentVersion"], 1);
    assert_eq!(created["Aliases"][0], "alias/photos");
    assert!(
        created["Arn"]
            .as_str()
            .unwrap()
            .ends_with(&format!(":key/{id}"))
    );

    let described = s.json(&["describe-key", "alias/photos"]);
    assert_eq!(described["KeyId"], id.as_str());
    assert_eq!(described["Description"], "photos key");

    let rotated = s.json(&["rotate", "alias/photos"]);
    assert_eq!(rotated["CurrentVersion"], 2);
    let human = text(&ok(s.kms(&["rotate", &id])));
    assert!(human.contains("version 3 is now current"), "{human}");

    ok(s.kms(&["disable", &id]));
    assert_eq!(s.json(&["describe-key", &id])["KeyState"], "Disabled");
    ok(s.kms(&["enable", "alias/photos"]));
    assert_eq!(s.json(&["describe-key", &id])["KeyState"], "Enabled");

    let scheduled = s.json(&["schedule-deletion", &id, "--days", "7"]);
    assert_eq!(scheduled["KeyState"], "PendingDeletion");
    assert_eq!(scheduled["PendingWindowInDays"], 7);
    let pending = s.json(&["describe-key", &id]);
    assert_eq!(pending["KeyState"], "PendingDeletion");
    assert!(pending["DeletionDate"].as_u64().is_some(), "{pending}");
    let human = text(&ok(s.kms(&["describe-key", &id])));
    assert!(
        human.contains("PendingDeletion") && human.contains("7-day window"),
        "{human}"
    );
    // A key pending deletion refuses state changes, with the AWS error name.
    fails(s.kms(&["rotate", &id]), "error: KMSInvalidStateException: ");
    ok(s.kms(&["cancel-deletion", &id]));
    assert_eq!(s.json(&["describe-key", &id])["KeyState"], "Disabled");

    let list = s.json(&["list-keys"]);
    let keys = list["Keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["KeyId"], id.as_str());
    assert_eq!(keys[0]["CurrentVersion"], 3);
    let human = text(&ok(s.kms(&["list-keys"])));
    assert!(
        human.contains(&id) && human.contains("alias/photos"),
        "{human}"
    );

    // The audit log shows every change, the refusal included, and nothing secret.
    let events = s.json(&["audit"]);
    let events = events.as_array().unwrap();
    for op in [
        "CreateKey",
        "CreateAlias",
        "RotateKeyOnDemand",
        "DisableKey",
        "EnableKey",
        "ScheduleKeyDeletion",
        "CancelKeyDeletion",
    ] {
        assert!(
            events
                .iter()
                .any(|e| e["operation"] == op && e["result"] == "ok" && e["principal"] == "local"),
            "no successful {op} in {events:?}"
        );
    }
    assert!(events.iter().any(
        |e| e["operation"] == "RotateKeyOnDemand" && e["result"] == "KMSInvalidStateException"
    ));
    let tail = s.json(&["audit", "--tail", "2"]);
    assert_eq!(tail.as_array().unwrap().len(), 2);
    let human = text(&ok(s.kms(&["audit", "--tail", "50"])));
    assert!(
        human.contains("CancelKeyDeletion") && human.contains("→ ok"),
        "{human}"
    );
    let log = std::fs::read_to_string(s.path("keys.store.audit.jsonl")).unwrap();
    assert!(!log.contains(&s.root_key_hex()));
}

#[test]
fn a_wrong_or_missing_root_key_is_refused_clearly() {
    let s = Store::new();
    ok(s.kms(&["create-key"]));
    let other = "ab".repeat(32);
    let mut cmd = bare();
    cmd.args(["kms", "--store"])
        .arg(s.path("keys.store"))
        .arg("list-keys")
        .env("OBJSEAL_KMS_ROOT_KEY", &other);
    let stderr = fails(cmd, "cannot be opened with this root key");
    assert!(stderr.contains("error: KMSInternalException: "), "{stderr}");
    assert!(!stderr.contains(&other) && !stderr.contains(&s.root_key_hex()));

    let mut cmd = bare();
    cmd.args(["kms", "--store"])
        .arg(s.path("keys.store"))
        .arg("list-keys");
    fails(
        cmd,
        "no root key for the keystore: give --root-key-file FILE or set OBJSEAL_KMS_ROOT_KEY",
    );

    let mut cmd = bare();
    cmd.args(["kms", "--store"])
        .arg(s.path("keys.store"))
        .arg("list-keys")
        .env("OBJSEAL_KMS_ROOT_KEY", "not hex at all");
    fails(cmd, "error: ValidationException: root key");

    // The right key from the environment works, and a missing store is not created by a read.
    let mut cmd = bare();
    cmd.args(["kms", "--store"])
        .arg(s.path("keys.store"))
        .arg("list-keys")
        .env("OBJSEAL_KMS_ROOT_KEY", s.root_key_hex());
    ok(cmd);
    let mut cmd = bare();
    cmd.args(["kms", "--store"])
        .arg(s.path("elsewhere.store"))
        .arg("list-keys")
        .env("OBJSEAL_KMS_ROOT_KEY", s.root_key_hex());
    fails(cmd, "does not exist");
    assert!(!s.path("elsewhere.store").exists());
}

#[test]
fn refusals_carry_their_aws_names() {
    let s = Store::new();
    ok(s.kms(&["create-key", "--alias", "alias/a"]));
    fails(
        s.kms(&["describe-key", "alias/nope"]),
        "error: NotFoundException: ",
    );
    fails(
        s.kms(&["create-key", "--alias", "alias/a"]),
        "error: AlreadyExistsException: ",
    );
    fails(
        s.kms(&["cancel-deletion", "alias/a"]),
        "error: KMSInvalidStateException: ",
    );
    // Out-of-range windows are usage errors (status 2), caught before the keystore.
    let out = s
        .kms(&["schedule-deletion", "alias/a", "--days", "3"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// A running `objseal kms serve`, killed on drop.
struct Server {
    child: Child,
    endpoint: String,
}

impl Server {
    fn start(s: &Store) -> Self {
        Self::start_with(s, ACCESS_KEY_ID, ACCESS_SECRET)
    }

    /// `objseal kms serve` on a free loopback port, accepting one access key.
    fn start_with(s: &Store, key_id: &str, secret: &str) -> Self {
        let mut cmd = s.kms(&["serve", "--listen", "127.0.0.1:0"]);
        cmd.env("OBJSEAL_KMS_ACCESS_KEY", format!("{key_id}:{secret}"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let endpoint = line
            .split_whitespace()
            .find(|w| w.starts_with("http://127.0.0.1:"))
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .to_owned();
        assert!(!line.contains(secret), "{line}");
        Self { child, endpoint }
    }

    fn addr(&self) -> &str {
        self.endpoint.trim_start_matches("http://")
    }

    /// `objseal kms --kms-endpoint <this server> <args>`, signing with the test access key.
    fn client(&self, args: &[&str]) -> Command {
        let mut cmd = bare();
        cmd.args([
            "kms",
            "--kms-endpoint",
            &self.endpoint,
            "--region",
            "us-east-1",
        ])
        .args(args)
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", ACCESS_SECRET);
        cmd
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One raw HTTP/1.1 request; returns the status line and the body.
fn raw_post(addr: &str, target: &str, body: &str) -> (String, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "POST / HTTP/1.1\r\nHost: {addr}\r\nX-Amz-Target: {target}\r\n\
         Content-Type: application/x-amz-json-1.1\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
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

#[test]
fn serve_answers_the_aws_protocol_and_stops() {
    let s = Store::new();
    let local = s.json(&["create-key", "--alias", "alias/served"]);
    let mut server = Server::start(&s);

    // An unsigned request: refused in the AWS way, as JSON.
    let (status, body) = raw_post(server.addr(), "TrentService.ListKeys", "{}");
    assert!(status.starts_with("HTTP/1.1 400"), "{status}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["__type"], "MissingAuthenticationTokenException");

    // Signed requests through `--kms-endpoint` (RemoteKms, the AWS SDK for Rust).
    let described = serde_json::from_slice::<Value>(
        &ok(server.client(&["describe-key", "alias/served", "--json"])).stdout,
    )
    .unwrap();
    assert_eq!(described["KeyId"], local["KeyId"]);
    assert_eq!(described["CurrentVersion"], 1);
    let created = serde_json::from_slice::<Value>(
        &ok(server.client(&["create-key", "--description", "over http", "--json"])).stdout,
    )
    .unwrap();
    let id = created["KeyId"].as_str().unwrap().to_owned();
    ok(server.client(&["rotate", &id]));
    let listed = text(&ok(server.client(&["list-keys"])));
    assert!(
        listed.contains(&id) && listed.contains("over http"),
        "{listed}"
    );
    let mut wrong = server.client(&["list-keys"]);
    wrong.env("AWS_SECRET_ACCESS_KEY", "not-the-secret");
    fails(wrong, "error: InvalidSignatureException: ");

    // SIGTERM stops it gracefully.
    let killed = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let start = Instant::now();
    let status = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "serve did not stop"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
    let mut stderr = String::new();
    server
        .child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(!stderr.contains(ACCESS_SECRET), "{stderr}");

    // The keystore recorded the served requests under the access key id, the refusals too.
    let events = s.json(&["audit"]);
    let events = events.as_array().unwrap();
    assert!(events.iter().any(|e| {
        e["operation"] == "RotateKeyOnDemand"
            && e["principal"] == ACCESS_KEY_ID
            && e["source"]
                .as_str()
                .is_some_and(|s| s.starts_with("127.0.0.1:"))
    }));
    assert!(
        events
            .iter()
            .any(|e| e["result"] == "MissingAuthenticationTokenException")
    );
    assert!(
        events
            .iter()
            .any(|e| e["result"] == "InvalidSignatureException")
    );
    let log = std::fs::read_to_string(s.path("keys.store.audit.jsonl")).unwrap();
    assert!(!log.contains(ACCESS_SECRET));
    // The key made over HTTP is in the store.
    assert!(text(&ok(s.kms(&["list-keys"]))).contains(&id));
}

#[test]
fn serve_needs_an_access_key() {
    let s = Store::new();
    fails(
        s.kms(&["serve", "--listen", "127.0.0.1:0"]),
        "no access keys: give --access-key ID:SECRET or set OBJSEAL_KMS_ACCESS_KEY",
    );
    let out = s
        .kms(&["serve", "--access-key", "only-an-id"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn an_unreachable_remote_kms_is_a_dependency_failure() {
    // A port just freed on 127.0.0.2: every server the tests start binds 127.0.0.1, so none of
    // those running in parallel can take it over (on 127.0.0.1 one did, once).
    let port = std::net::TcpListener::bind("127.0.0.2:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut cmd = bare();
    cmd.args([
        "kms",
        "--kms-endpoint",
        &format!("http://127.0.0.2:{port}"),
        "list-keys",
    ])
    .env("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID)
    .env("AWS_SECRET_ACCESS_KEY", ACCESS_SECRET);
    let stderr = fails(cmd, "error: DependencyTimeoutException: ");
    assert!(!stderr.contains(ACCESS_SECRET));
}

/// The clients people use, against the real `objseal kms serve` binary: boto3 and aws-cli (v1) each
/// run the key lifecycle of `crates/objseal-kms/tests/peers/` (create-key → generate-data-key →
/// decrypt → context mismatch refused → rotate → decrypt the old blob → disable (refused) →
/// schedule-deletion), checking every answer. Needs the peers of `scripts/peers` (skipped with a
/// loud notice without them, unless `OBJSEAL_REQUIRE_PEERS=1`).
#[test]
fn boto3_and_aws_cli_run_the_key_lifecycle_against_objseal_kms_serve() {
    let Some(venv) = peers::Peers::find() else {
        return;
    };
    let scenarios =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../objseal-kms/tests/peers");
    let boto3 = {
        let mut cmd = venv.command("python");
        cmd.arg(scenarios.join("kms_scenario_boto3.py"));
        cmd
    };
    let aws_cli = {
        let mut cmd = Command::new("bash");
        peers::isolate_aws_env(&mut cmd);
        cmd.arg(scenarios.join("kms_scenario_awscli.sh"))
            .env("AWS_CLI", venv.bin("aws"))
            .env("PYTHON", venv.bin("python"))
            .stdin(Stdio::null());
        cmd
    };
    // Each client gets a keystore and a server of its own: the scenarios expect to start empty.
    for (what, mut cmd) in [("boto3", boto3), ("aws-cli", aws_cli)] {
        let s = Store::new();
        let server =
            Server::start_with(&s, peers::TEST_ACCESS_KEY_ID, peers::TEST_SECRET_ACCESS_KEY);
        let home = s.path("home");
        std::fs::create_dir_all(&home).unwrap();
        std::fs::write(s.path("aws-config"), "").unwrap();
        std::fs::write(s.path("aws-credentials"), "").unwrap();
        let out = cmd
            .env("OBJSEAL_KMS_ENDPOINT", &server.endpoint)
            .env("AWS_CONFIG_FILE", s.path("aws-config"))
            .env("AWS_SHARED_CREDENTIALS_FILE", s.path("aws-credentials"))
            .env("HOME", &home)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("SCENARIO OK"),
            "the {what} scenario against objseal kms serve failed ({}):\n{stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        drop(server);
        // The client's requests reached the served keystore under the access key id.
        let events = s.json(&["audit"]);
        let events = events.as_array().unwrap();
        for op in [
            "CreateKey",
            "GenerateDataKey",
            "Decrypt",
            "RotateKeyOnDemand",
            "DisableKey",
        ] {
            assert!(
                events.iter().any(|e| e["operation"] == op
                    && e["principal"] == peers::TEST_ACCESS_KEY_ID
                    && e["result"] == "ok"),
                "{what}: no {op} by the test key in the audit log"
            );
        }
        assert!(
            events.iter().any(|e| e["result"] == "DisabledException"),
            "{what}: the refusal of the disabled key is not in the audit log"
        );
    }
}

/// `encrypt --kms-key` takes the data key from a KMS master key (wrapped-key algorithm 2) and
/// `decrypt` without `-k` has the same KMS unwrap it: through the embedded keystore, and through
/// `objseal kms serve` with `--kms-endpoint`; every refusal of the KMS stops decryption, leaving no
/// output.
#[test]
fn files_encrypted_under_a_kms_key_decrypt_through_the_kms() {
    let s = Store::new();
    let key = s.json(&["create-key", "--alias", "alias/files"]);
    let plain: Vec<u8> = (0..300_000u32).map(|i| (i * 7 + i / 1000) as u8).collect();
    std::fs::write(s.path("plain"), &plain).unwrap();
    // `objseal <cmd> --store … --root-key-file … <args>`: the embedded keystore as the KMS.
    let with_store = |cmd: &str, args: &[&str]| {
        let mut c = bare();
        c.arg(cmd)
            .arg("--store")
            .arg(s.path("keys.store"))
            .arg("--root-key-file")
            .arg(s.path("root.key"))
            .args(args);
        c
    };
    let (plain_path, sealed, out) = (
        s.path("plain").display().to_string(),
        s.path("sealed.ose").display().to_string(),
        s.path("out").display().to_string(),
    );
    ok(with_store(
        "encrypt",
        &[
            "--kms-key",
            "alias/files",
            "-i",
            &plain_path,
            "-o",
            &sealed,
            "-c",
            "bucket=b",
        ],
    ));
    let shown = text(&ok({
        let mut c = bare();
        c.args(["inspect", &sealed]);
        c
    }));
    assert!(shown.contains("kms (2)"), "{shown}");
    assert!(shown.contains(key["Arn"].as_str().unwrap()), "{shown}");

    ok(with_store(
        "decrypt",
        &["-i", &sealed, "-o", &out, "-c", "bucket=b"],
    ));
    assert!(std::fs::read(&out).unwrap() == plain);
    std::fs::remove_file(&out).unwrap();

    // Another context: the KMS refuses to unwrap; nothing is written.
    let err = fails(
        with_store(
            "decrypt",
            &["-i", &sealed, "-o", &out, "-c", "bucket=other"],
        ),
        "InvalidCiphertextException",
    );
    assert!(!std::path::Path::new(&out).exists(), "{err}");
    // A key file is not the KMS.
    fails(
        with_store(
            "decrypt",
            &[
                "-k",
                &s.path("root.key").display().to_string(),
                "-i",
                &sealed,
                "-o",
                &out,
                "-c",
                "bucket=b",
            ],
        ),
        "wrapped by a KMS master key",
    );
    // A disabled master key neither unwraps nor makes data keys.
    ok(s.kms(&["disable", "alias/files"]));
    fails(
        with_store("decrypt", &["-i", &sealed, "-o", &out, "-c", "bucket=b"]),
        "DisabledException",
    );
    fails(
        with_store(
            "encrypt",
            &["--kms-key", "alias/files", "-i", &plain_path, "-o", &out],
        ),
        "DisabledException",
    );
    assert!(!std::path::Path::new(&out).exists());
    ok(s.kms(&["enable", "alias/files"]));

    // The same file through `objseal kms serve`, over the AWS protocol.
    let server = Server::start(&s);
    let remote = |cmd: &str, args: &[&str]| {
        let mut c = bare();
        c.args([
            cmd,
            "--kms-endpoint",
            &server.endpoint,
            "--region",
            "us-east-1",
        ])
        .args(args)
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", ACCESS_SECRET);
        c
    };
    ok(remote(
        "decrypt",
        &["-i", &sealed, "-o", &out, "-c", "bucket=b"],
    ));
    assert!(std::fs::read(&out).unwrap() == plain);
    std::fs::remove_file(&out).unwrap();
    let sealed2 = s.path("sealed2.ose").display().to_string();
    ok(remote(
        "encrypt",
        &[
            "--kms-key",
            "alias/files",
            "-i",
            &plain_path,
            "-o",
            &sealed2,
        ],
    ));
    ok(with_store("decrypt", &["-i", &sealed2, "-o", &out]));
    assert!(std::fs::read(&out).unwrap() == plain);
    drop(server);

    // The keystore's audit log names the object context of every unwrap, never a key.
    let events = s.json(&["audit"]);
    assert!(events.as_array().unwrap().iter().any(|e| {
        e["operation"] == "Decrypt"
            && e["result"] == "ok"
            && e["context"]["objseal:ctx"]
                .as_str()
                .is_some_and(|h| h.len() == 64)
    }));
}
