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
        "OBJSEAL_PRINCIPALS",
        "OBJSEAL_PRINCIPALS_FILE",
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

/// The ARN audit events and key policies name the principal `name` by.
fn user_arn(name: &str) -> String {
    format!("arn:aws:iam::000000000000:user/{name}")
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
        cmd.env("OBJSEAL_KMS_ACCESS_KEY", format!("{key_id}:{secret}"));
        let (server, line) = Self::spawn(cmd);
        assert!(!line.contains(secret), "{line}");
        server
    }

    /// `objseal kms serve` on a free loopback port, with the principals file `file`.
    fn start_with_principals(s: &Store, file: &std::path::Path) -> (Self, String) {
        let mut cmd = s.kms(&["serve", "--listen", "127.0.0.1:0", "--principals"]);
        cmd.arg(file);
        Self::spawn(cmd)
    }

    /// Runs `cmd` (a `serve`) and reads the line it prints once listening.
    fn spawn(mut cmd: Command) -> (Self, String) {
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let Some(endpoint) = line
            .split_whitespace()
            .find(|w| w.starts_with("http://127.0.0.1:"))
            .map(str::to_owned)
        else {
            let _ = child.kill();
            let mut stderr = String::new();
            let _ = child.stderr.take().unwrap().read_to_string(&mut stderr);
            panic!("no address in {line:?}; stderr: {stderr}");
        };
        (Self { child, endpoint }, line)
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

    // The keystore recorded the served requests under the ARN of the principal the access key
    // names (after its id), the refusals too.
    let events = s.json(&["audit"]);
    let events = events.as_array().unwrap();
    assert!(events.iter().any(|e| {
        e["operation"] == "RotateKeyOnDemand"
            && e["principal"] == user_arn(ACCESS_KEY_ID)
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
        "no principals: give --principals FILE (or set OBJSEAL_PRINCIPALS_FILE, or \
         OBJSEAL_PRINCIPALS to the file's text), or access keys with --access-key ID:SECRET or \
         OBJSEAL_KMS_ACCESS_KEY=ID:SECRET",
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
        // The client's requests reached the served keystore under the principal of the access
        // key (named after it).
        let events = s.json(&["audit"]);
        let events = events.as_array().unwrap();
        let mut ops = vec![
            "CreateKey",
            "GenerateDataKey",
            "Decrypt",
            "RotateKeyOnDemand",
            "DisableKey",
        ];
        if what == "boto3" {
            ops.extend(["GetKeyPolicy", "PutKeyPolicy", "ListKeyPolicies"]);
        }
        for op in ops {
            assert!(
                events.iter().any(|e| e["operation"] == op
                    && e["principal"] == user_arn(peers::TEST_ACCESS_KEY_ID)
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

/// A key policy naming `admins` as key administrators and `users` as its users.
fn role_policy(admins: &[&str], users: &[&str]) -> String {
    let arns = |names: &[&str]| names.iter().map(|n| user_arn(n)).collect::<Vec<_>>();
    serde_json::json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "KeyAdministrators", "Effect": "Allow", "Principal": {"AWS": arns(admins)},
         "Action": ["kms:Describe*", "kms:Enable*", "kms:Disable*", "kms:Get*", "kms:List*",
                    "kms:PutKeyPolicy", "kms:RotateKeyOnDemand", "kms:ScheduleKeyDeletion",
                    "kms:CancelKeyDeletion"], "Resource": "*"},
        {"Sid": "KeyUsers", "Effect": "Allow", "Principal": {"AWS": arns(users)},
         "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*",
                    "kms:DescribeKey"], "Resource": "*"}
    ]})
    .to_string()
}

/// `get-key-policy`, `put-key-policy`, `list-key-policies` and `create-key --policy-file` on the
/// embedded keystore, which the command line drives as its operator: key policies never lock it
/// out, malformed ones are refused with AWS's error and change nothing.
#[test]
fn key_policies_on_the_embedded_keystore() {
    let s = Store::new();
    let policy = role_policy(&["keyadmin"], &["datauser"]);
    std::fs::write(s.path("policy.json"), &policy).unwrap();
    let created = s.json(&[
        "create-key",
        "--alias",
        "alias/p",
        "--policy-file",
        &s.path("policy.json").display().to_string(),
    ]);
    let id = created["KeyId"].as_str().unwrap().to_owned();
    // Text: the document exactly as stored; JSON: AWS's names.
    assert_eq!(
        text(&ok(s.kms(&["get-key-policy", "alias/p"]))),
        format!("{policy}\n")
    );
    let got = s.json(&["get-key-policy", &id]);
    assert_eq!(got["Policy"], policy.as_str());
    assert_eq!(got["PolicyName"], "default");
    assert_eq!(text(&ok(s.kms(&["list-key-policies", &id]))), "default\n");
    assert_eq!(
        s.json(&["list-key-policies", &id])["PolicyNames"],
        serde_json::json!(["default"])
    );

    // A key made without a policy: every principal of the account may use it.
    let open = s.json(&["create-key"])["KeyId"]
        .as_str()
        .unwrap()
        .to_owned();
    let default = s.json(&["get-key-policy", &open]);
    assert!(
        default["Policy"]
            .as_str()
            .unwrap()
            .contains("arn:aws:iam::000000000000:root"),
        "{default}"
    );

    // Put: inline, from a file, from standard input.
    let nobody = role_policy(&["nobody"], &["nobody"]);
    let human = text(&ok(s.kms(&["put-key-policy", &id, "--policy", &nobody])));
    assert!(human.contains("policy default replaced"), "{human}");
    assert_eq!(s.json(&["get-key-policy", &id])["Policy"], nobody.as_str());
    // The operator is not one of the principals the policy names, and is never locked out.
    ok(s.kms(&["disable", &id]));
    ok(s.kms(&["enable", &id]));
    ok(s.kms(&[
        "put-key-policy",
        &id,
        "--policy-file",
        &s.path("policy.json").display().to_string(),
    ]));
    assert_eq!(s.json(&["get-key-policy", &id])["Policy"], policy.as_str());
    let mut stdin = s.kms(&["put-key-policy", &id, "--policy-file", "-"]);
    stdin.stdin(Stdio::piped()).stdout(Stdio::piped());
    let mut child = stdin.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(nobody.as_bytes())
        .unwrap();
    assert!(child.wait_with_output().unwrap().status.success());
    assert_eq!(s.json(&["get-key-policy", &id])["Policy"], nobody.as_str());

    // Malformed policies: AWS's error, nothing changed, no key created.
    for bad in [
        "{not json",
        r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "kms:Fly", "Resource": "*"}]}"#,
        r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]}"#,
    ] {
        fails(
            s.kms(&["put-key-policy", &id, "--policy", bad]),
            "error: MalformedPolicyDocumentException: ",
        );
        std::fs::write(s.path("bad.json"), bad).unwrap();
        fails(
            s.kms(&[
                "create-key",
                "--policy-file",
                &s.path("bad.json").display().to_string(),
            ]),
            "error: MalformedPolicyDocumentException: ",
        );
    }
    assert_eq!(s.json(&["get-key-policy", &id])["Policy"], nobody.as_str());
    assert_eq!(s.json(&["list-keys"])["Keys"].as_array().unwrap().len(), 2);
    // A missing policy file creates no key either.
    fails(
        s.kms(&["create-key", "--policy-file", "/nonexistent/policy.json"]),
        "opening the policy file /nonexistent/policy.json",
    );
    assert_eq!(s.json(&["list-keys"])["Keys"].as_array().unwrap().len(), 2);
    // Usage errors: the policy is needed once.
    for args in [
        vec!["put-key-policy", id.as_str()],
        vec![
            "put-key-policy",
            &id,
            "--policy",
            "{}",
            "--policy-file",
            "x",
        ],
        vec!["create-key", "--bypass-policy-lockout-safety-check"],
    ] {
        let out = s.kms(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
    let events = s.json(&["audit"]);
    assert!(
        events
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["operation"] == "PutKeyPolicy"
                && e["principal"] == "local"
                && e["result"] == "MalformedPolicyDocumentException")
    );
}

/// Writes a principals file (mode 0600) and returns its path.
fn principals_file(s: &Store, entries: &[(&str, &str, &str, Option<&str>)]) -> PathBuf {
    let mut text = String::new();
    for (name, id, secret, service) in entries {
        text.push_str(&format!(
            "[[principal]]\nname = \"{name}\"\naccess_key_id = \"{id}\"\nsecret_access_key = \"{secret}\"\n"
        ));
        if let Some(service) = service {
            text.push_str(&format!("service = \"{service}\"\n"));
        }
        text.push('\n');
    }
    let path = s.path("principals.toml");
    std::fs::write(&path, text).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    path
}

const PEOPLE: [(&str, &str, &str, Option<&str>); 4] = [
    (
        "keyadmin",
        "AKIDKEYADMIN",
        "keyadmin-secret-never-printed",
        None,
    ),
    (
        "datauser",
        "AKIDDATAUSER",
        "datauser-secret-never-printed",
        None,
    ),
    (
        "s3admin",
        "AKIDS3ADMIN",
        "s3admin-secret-never-printed",
        None,
    ),
    (
        "objseal-s3",
        "AKIDOBJSEALS3",
        "objseal-s3-secret-never-printed",
        Some("s3"),
    ),
];

/// `objseal kms --kms-endpoint <server> <args>` signing as one of [`PEOPLE`].
fn as_person(server: &Server, name: &str, args: &[&str]) -> Command {
    let (_, id, secret, _) = PEOPLE.iter().find(|p| p.0 == name).unwrap();
    let mut cmd = bare();
    cmd.args([
        "kms",
        "--kms-endpoint",
        &server.endpoint,
        "--region",
        "us-east-1",
    ])
    .args(args)
    .env("AWS_ACCESS_KEY_ID", id)
    .env("AWS_SECRET_ACCESS_KEY", secret);
    cmd
}

/// `objseal kms serve --principals`: each request acts for the principal that signed it (key
/// policies checked for it, its ARN in the audit log), and the S3 server's service principal acts
/// on behalf of others through `RemoteKms::on_behalf_of` (the audit log naming both).
#[test]
fn serve_with_principals_checks_key_policies_and_delegation() {
    use objseal_kms::remote::{RemoteConfig, RemoteCredentials, RemoteKms};
    use objseal_kms::{DataKeySpec, Delegation, Kms, KmsError};

    let s = Store::new();
    let file = principals_file(&s, &PEOPLE);
    let (server, line) = Server::start_with_principals(&s, &file);
    assert!(
        line.contains("principals keyadmin, datauser, s3admin, objseal-s3 (service s3)"),
        "{line}"
    );
    let policy = role_policy(&["keyadmin"], &["datauser"]);
    std::fs::write(s.path("policy.json"), &policy).unwrap();

    // The key admin creates the key with the role-separation policy and administers it.
    let created: Value = serde_json::from_slice(
        &ok(as_person(
            &server,
            "keyadmin",
            &[
                "create-key",
                "--policy-file",
                &s.path("policy.json").display().to_string(),
                "--json",
            ],
        ))
        .stdout,
    )
    .unwrap();
    let id = created["KeyId"].as_str().unwrap().to_owned();
    let got = text(&ok(as_person(
        &server,
        "keyadmin",
        &["get-key-policy", &id],
    )));
    assert_eq!(got, format!("{policy}\n"));
    ok(as_person(&server, "keyadmin", &["disable", &id]));
    ok(as_person(&server, "keyadmin", &["enable", &id]));
    // It may not give the key away without the lockout bypass.
    let away = role_policy(&["s3admin"], &["datauser"]);
    fails(
        as_person(
            &server,
            "keyadmin",
            &["put-key-policy", &id, "--policy", &away],
        ),
        "error: MalformedPolicyDocumentException: ",
    );
    // The data user may not administer it; the S3 admin may not even describe it.
    for (who, args) in [
        ("datauser", vec!["disable", id.as_str()]),
        ("datauser", vec!["rotate", &id]),
        ("datauser", vec!["put-key-policy", &id, "--policy", &away]),
        ("s3admin", vec!["describe-key", &id]),
    ] {
        fails(
            as_person(&server, who, &args),
            "error: AccessDeniedException: ",
        );
    }

    // Through the AWS SDK for Rust, as the S3 server calls it.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let connect = |name: &str| {
        let (_, key_id, secret, _) = *PEOPLE.iter().find(|p| p.0 == name).unwrap();
        runtime
            .block_on(RemoteKms::connect(RemoteConfig {
                endpoint_url: Some(server.endpoint.clone()),
                region: Some("us-east-1".into()),
                credentials: Some(RemoteCredentials::new(key_id, secret)),
                max_attempts: 1,
                ..RemoteConfig::default()
            }))
            .unwrap()
    };
    let for_user = |name: &str| Delegation {
        identity: objseal_kms::principal::Principal::new(name, "-", "-").identity("000000000000"),
        via_service: "s3.us-east-1.amazonaws.com".into(),
        source: Some("198.51.100.20:40000".into()),
        request_id: Some(format!("s3-{name}")),
    };
    let s3 = connect("objseal-s3");
    let ctx = Default::default();
    let as_data = s3.on_behalf_of(&for_user("datauser"));
    let dk = runtime
        .block_on(as_data.generate_data_key(&id, &ctx, DataKeySpec::Aes256))
        .unwrap();
    runtime
        .block_on(as_data.decrypt(&dk.wrapped.ciphertext_blob, &ctx, None))
        .unwrap();
    let as_s3admin = s3.on_behalf_of(&for_user("s3admin"));
    let e = runtime
        .block_on(as_s3admin.decrypt(&dk.wrapped.ciphertext_blob, &ctx, None))
        .unwrap_err();
    assert!(matches!(e, KmsError::AccessDenied(_)), "{e:?}");
    // A principal that is not a service may not act for another.
    let data = connect("datauser");
    let e = runtime
        .block_on(data.on_behalf_of(&for_user("keyadmin")).describe_key(&id))
        .unwrap_err();
    assert!(
        matches!(&e, KmsError::AccessDenied(m) if m.contains("not a service principal")),
        "{e:?}"
    );
    drop((as_data, as_s3admin, s3, data));
    drop(runtime);
    drop(server);

    // The audit log names each principal by ARN and, for delegated requests, the service.
    let events = s.json(&["audit"]);
    let events = events.as_array().unwrap();
    let find = |principal: &str, op: &str, result: &str| {
        events
            .iter()
            .find(|e| e["principal"] == principal && e["operation"] == op && e["result"] == result)
            .unwrap_or_else(|| panic!("no {op} by {principal} → {result} in {events:#?}"))
    };
    find(&user_arn("keyadmin"), "CreateKey", "ok");
    find(
        &user_arn("keyadmin"),
        "PutKeyPolicy",
        "MalformedPolicyDocumentException",
    );
    find(&user_arn("datauser"), "DisableKey", "AccessDeniedException");
    find(&user_arn("s3admin"), "DescribeKey", "AccessDeniedException");
    for (who, op, result) in [
        ("datauser", "GenerateDataKey", "ok"),
        ("datauser", "Decrypt", "ok"),
        ("s3admin", "Decrypt", "AccessDeniedException"),
    ] {
        let e = find(&user_arn(who), op, result);
        assert_eq!(e["invoked_by"], user_arn("objseal-s3").as_str(), "{e}");
        assert_eq!(e["via_service"], "s3.us-east-1.amazonaws.com", "{e}");
        assert_eq!(e["source"], "198.51.100.20:40000", "{e}");
        assert_eq!(e["request_id"], format!("s3-{who}").as_str(), "{e}");
    }
    let refused = events
        .iter()
        .find(|e| {
            e["message"]
                .as_str()
                .is_some_and(|m| m.contains("not a service principal"))
        })
        .expect("the refused delegation");
    assert_eq!(refused["principal"], user_arn("datauser").as_str());
    assert!(refused.get("invoked_by").is_none(), "{refused}");
    let human = text(&ok(s.kms(&["audit"])));
    assert!(
        human.contains(&format!(
            "via s3.us-east-1.amazonaws.com (invoked by {})",
            user_arn("objseal-s3")
        )),
        "{human}"
    );
    let log = std::fs::read_to_string(s.path("keys.store.audit.jsonl")).unwrap();
    assert!(PEOPLE.iter().all(|p| !log.contains(p.2)));
}

/// Where `serve` takes its principals from: the file, else `OBJSEAL_PRINCIPALS`'s text; access
/// keys only without them; errors name the problem and never a secret.
#[test]
fn serve_principals_come_from_one_place() {
    let s = Store::new();
    let file = principals_file(&s, &PEOPLE[..1]);
    let text = std::fs::read_to_string(&file).unwrap();

    // The file's text in the environment.
    let mut cmd = s.kms(&["serve", "--listen", "127.0.0.1:0"]);
    cmd.env("OBJSEAL_PRINCIPALS", &text);
    let (server, line) = Server::spawn(cmd);
    assert!(line.contains("principals keyadmin"), "{line}");
    ok(as_person(&server, "keyadmin", &["list-keys"]));
    drop(server);
    // The file named in the environment.
    let mut cmd = s.kms(&["serve", "--listen", "127.0.0.1:0"]);
    cmd.env("OBJSEAL_PRINCIPALS_FILE", &file);
    let (server, line) = Server::spawn(cmd);
    assert!(line.contains("principals keyadmin"), "{line}");
    drop(server);

    // Principals and access keys at once: refused, whichever way each is given.
    let both = "principals (";
    let mut cmd = s.kms(&["serve", "--access-key", "AKIDX:secret-x", "--principals"]);
    cmd.arg(&file);
    fails(cmd, both);
    let mut cmd = s.kms(&["serve", "--principals"]);
    cmd.arg(&file)
        .env("OBJSEAL_KMS_ACCESS_KEY", "AKIDX:secret-x");
    fails(cmd, both);
    let mut cmd = s.kms(&["serve"]);
    cmd.env("OBJSEAL_PRINCIPALS", &text)
        .env("OBJSEAL_KMS_ACCESS_KEY", "AKIDX:secret-x");
    let stderr = fails(cmd, both);
    assert!(
        stderr.contains("OBJSEAL_PRINCIPALS") && stderr.contains("OBJSEAL_KMS_ACCESS_KEY"),
        "{stderr}"
    );

    // Bad files: what is wrong, never the secret.
    std::fs::write(
        s.path("bad.toml"),
        "[[principal]]\nname = \"a b\"\naccess_key_id = \"K\"\nsecret_access_key = \"hunter2-secret\"\n",
    )
    .unwrap();
    let mut cmd = s.kms(&["serve", "--principals"]);
    cmd.arg(s.path("bad.toml"));
    let stderr = fails(cmd, "principal name \"a b\" must be");
    assert!(!stderr.contains("hunter2"), "{stderr}");
    std::fs::write(
        s.path("typo.toml"),
        "[[principal]]\nname = \"a\"\naccess_key_id = \"K\"\nsecret_acces_key = \"hunter2-secret\"\n",
    )
    .unwrap();
    let mut cmd = s.kms(&["serve", "--principals"]);
    cmd.arg(s.path("typo.toml"));
    let stderr = fails(cmd, "reading the principals file");
    assert!(!stderr.contains("hunter2"), "{stderr}");
    let mut cmd = s.kms(&["serve", "--principals"]);
    cmd.arg(s.path("missing.toml"));
    fails(cmd, "opening the principals file");
    // An access key id that cannot name a principal.
    fails(
        s.kms(&["serve", "--access-key", "AKID/1:secret"]),
        "the access keys (each names a principal after its id",
    );

    // A principals file others may read: served, with a warning.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let (mut server, _) = Server::start_with_principals(&s, &file);
        let _ = server.child.kill();
        let mut stderr = String::new();
        server
            .child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        assert!(
            stderr.contains("is readable by others (mode 644): chmod 600 it"),
            "{stderr}"
        );
    }
}
