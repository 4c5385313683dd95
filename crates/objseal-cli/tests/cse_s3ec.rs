//! `objseal get` reads what the AWS S3 Encryption Client (`amazon-s3-encryption-client-python` 4.x)
//! writes — V3, and V2 only with `--allow-legacy` — over moto's S3 and KMS on loopback, with the
//! KMS key pinned (`--kms-key`, `--kms-endpoint`), and only when asked to (`--s3ec`).

#[path = "../../objseal-client/tests/s3ec/harness.rs"]
mod harness;

use std::process::Command;

use harness::{Moto, Venv};
use objseal_kms::{CreateKeyRequest, Kms};
use serde_json::json;

fn objseal(moto: &Moto, home: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_objseal"))
        .args(args)
        .args([
            "--endpoint-url",
            &moto.endpoint(),
            "--kms-endpoint",
            &moto.endpoint(),
        ])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("AWS_ACCESS_KEY_ID", harness::ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", harness::SECRET_KEY)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .expect("running objseal")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_reads_what_the_s3_encryption_client_wrote() {
    let Some(venv) = Venv::find() else { return };
    let moto = Moto::start(&venv);
    let kms = moto.kms().await;
    let arn = kms
        .create_key(CreateKeyRequest::default())
        .await
        .unwrap()
        .arn;
    moto.s3()
        .create_bucket()
        .bucket("peer")
        .send()
        .await
        .unwrap();
    let plaintext: Vec<u8> = (0..70_000u32).map(|i| (i % 251) as u8).collect();
    let mut ops = Vec::new();
    for format in ["v3", "v2"] {
        ops.push(
            json!({"op": "put", "format": format, "bucket": "peer", "key": format,
            "kms_key": arn, "context": {"app": "cli"}, "plaintext_hex": hex::encode(&plaintext)}),
        );
    }
    let results = venv.peer(&moto.endpoint(), &serde_json::Value::Array(ops));
    assert!(results.iter().all(|r| r["ok"] == true), "{results:?}");
    let home = tempfile::tempdir().unwrap();
    let read = |extra: &[&str], key: &str| {
        let mut args = vec!["get", "--kms-key", &arn, "-c", "app=cli"];
        args.extend_from_slice(extra);
        let url = format!("s3://peer/{key}");
        args.push(&url);
        objseal(&moto, home.path(), &args)
    };
    let out = read(&["--s3ec"], "v3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout == plaintext);
    let out = read(&[], "v3");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--s3ec"));
    assert!(out.stdout.is_empty());
    let out = read(&["--s3ec"], "v2");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--allow-legacy"));
    assert!(out.stdout.is_empty());
    let out = read(&["--allow-legacy", "--range", "-100"], "v2");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout == plaintext[plaintext.len() - 100..]);
    drop(moto);
}
