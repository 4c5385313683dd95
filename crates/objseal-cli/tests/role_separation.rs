//! Role separation with the real binaries and boto3: `objseal kms serve --principals F` and
//! `objseal serve --principals F --kms-endpoint …` (the S3 server signing to the KMS as a service
//! principal, on behalf of its users), and the scenario `tests/peers/role_separation_boto3.py` as
//! three principals. Afterwards both audit logs must name the principal of every decision.

use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;

mod common;
#[path = "../../objseal-kms/tests/common/peers.rs"]
mod peers;

const BIN: &str = env!("CARGO_BIN_EXE_objseal");

/// name, access key id, secret.
const PEOPLE: [(&str, &str, &str); 3] = [
    ("s3admin", "AKIDROLESS3ADMIN0001", "s3admin-role-secret"),
    ("alice", "AKIDROLESALICE000001", "alice-role-secret"),
    ("kate", "AKIDROLESKATE0000001", "kate-role-secret"),
];
const SERVICE: (&str, &str, &str) = ("objseal-s3", "AKIDROLESSERVICE0001", "service-role-secret");

fn principals_file(path: &Path, with_service: bool) {
    let mut text = String::new();
    let service = with_service.then_some(SERVICE);
    for (name, id, secret) in PEOPLE.iter().copied().chain(service) {
        text.push_str(&format!(
            "[[principal]]\nname = \"{name}\"\naccess_key_id = \"{id}\"\nsecret_access_key = \"{secret}\"\n"
        ));
        if name == SERVICE.0 {
            text.push_str("service = \"s3\"\n");
        }
    }
    std::fs::write(path, text).unwrap();
}

/// [`common::spawn::start`] with standard error discarded and no `RUST_LOG` of the test's.
fn start(mut cmd: Command, marker: &str) -> (common::spawn::Running, String) {
    cmd.env_remove("RUST_LOG").stderr(Stdio::null());
    common::spawn::start(cmd, marker)
}

fn json_lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn arn(name: &str) -> String {
    format!("arn:aws:iam::000000000000:user/{name}")
}

#[test]
fn boto3_shows_an_s3_admin_cannot_read_sse_kms_objects_without_the_key() {
    let Some(venv) = peers::Peers::find() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let path = |n: &str| dir.path().join(n);
    let keygen = Command::new(BIN)
        .args(["keygen", "-o"])
        .arg(path("root.key"))
        .output()
        .unwrap();
    assert!(keygen.status.success());
    principals_file(&path("kms-principals.toml"), true);
    principals_file(&path("s3-principals.toml"), false);
    let kms = |args: &[&str]| {
        let mut cmd = Command::new(BIN);
        cmd.arg("kms")
            .arg("--store")
            .arg(path("keys.store"))
            .arg("--root-key-file")
            .arg(path("root.key"))
            .args(args);
        cmd
    };
    // The keystore exists before it is served (its operator makes it).
    assert!(
        kms(&["list-keys"]).output().unwrap().status.success() || {
            kms(&["create-key", "--description", "seed"])
                .output()
                .unwrap()
                .status
                .success()
        }
    );
    let mut serve_kms = kms(&["serve", "--listen", "127.0.0.1:0", "--principals"]);
    serve_kms.arg(path("kms-principals.toml"));
    let (_kms, kms_endpoint) = start(serve_kms, "http://127.0.0.1:");

    let mut serve_s3 = Command::new(BIN);
    serve_s3
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(path("data"))
        .arg("--principals")
        .arg(path("s3-principals.toml"))
        .args(["--kms-endpoint", &kms_endpoint, "--region", "us-east-1"])
        .env("AWS_ACCESS_KEY_ID", SERVICE.1)
        .env("AWS_SECRET_ACCESS_KEY", SERVICE.2)
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null");
    let (_s3, s3_endpoint) = start(serve_s3, "objseal serve: listening on");

    let mut scenario = venv.command("python");
    scenario
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/role_separation_boto3.py"))
        .env("OBJSEAL_S3_ENDPOINT", &s3_endpoint)
        .env("OBJSEAL_KMS_ENDPOINT", &kms_endpoint)
        .env("HOME", dir.path());
    for (name, id, secret) in PEOPLE {
        scenario.env(
            format!("OBJSEAL_TEST_{}_KEY", name.to_uppercase()),
            format!("{id}:{secret}"),
        );
    }
    let out = scenario.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("SCENARIO OK"),
        "the role-separation scenario failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key = stdout
        .lines()
        .find_map(|l| l.strip_prefix("KEY_ARN "))
        .unwrap()
        .to_owned();

    // (6) the KMS's audit log names the principal — and the S3 server that acted for it.
    let kms_log = json_lines(&path("keys.store.audit.jsonl"));
    let about_key: Vec<&Value> = kms_log.iter().filter(|e| e["key_id"] == key).collect();
    let has = |principal: &str, operation: &str, result: &str, via_s3: bool| {
        about_key.iter().any(|e| {
            e["principal"] == arn(principal)
                && e["operation"] == operation
                && e["result"] == result
                && (e["invoked_by"] == arn(SERVICE.0)) == via_s3
        })
    };
    assert!(has("s3admin", "Decrypt", "AccessDeniedException", true));
    assert!(has("s3admin", "Decrypt", "ok", true));
    assert!(has("alice", "GenerateDataKey", "ok", true));
    assert!(has("alice", "DisableKey", "AccessDeniedException", false));
    assert!(has(
        "kate",
        "GenerateDataKey",
        "AccessDeniedException",
        false
    ));
    assert!(has("kate", "PutKeyPolicy", "ok", false));
    // ... and the S3 server's access log every decision of its own.
    let access = json_lines(&path("data/access.jsonl"));
    assert!(access.iter().any(|r| r["principal"] == arn("alice")
        && r["operation"] == "PutObject"
        && r["decision"] == "deny"));
    assert!(access.iter().any(|r| r["principal"] == arn("s3admin")
        && r["operation"] == "DeleteObject"
        && r["decision"] == "allow"));
    assert!(access.iter().all(|r| {
        r["principal"]
            .as_str()
            .is_some_and(|p| p.starts_with("arn:aws:iam::000000000000:user/"))
    }));
}
