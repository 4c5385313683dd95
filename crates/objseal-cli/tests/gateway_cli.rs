//! `objseal serve --backend URL`: the real binary as a gateway in front of moto's S3 server, driven
//! by the AWS CLI; two gateways sharing the backend and the root key read each other's objects,
//! and the backend (read straight, with boto3) holds no plaintext.

use std::ffi::OsStr;
use std::process::Command;

#[path = "../../objseal-kms/tests/common/peers.rs"]
mod peers;

mod common;
use common::served::Served;

/// `aws s3 …` / `aws s3api …` against `endpoint` with the test credentials; requires success and
/// returns standard output.
fn aws(venv: &peers::Peers, endpoint: &str, args: &[&str]) -> String {
    let out = venv.aws_cli(endpoint, args).output().unwrap();
    assert!(
        out.status.success(),
        "aws {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Two `objseal serve --backend` over one moto, sharing a root key; `None` when the peers are
/// missing (and not required).
struct Fleet {
    venv: peers::Peers,
    dir: tempfile::TempDir,
    one: Served,
    two: Served,
    backend: String,
    _moto: peers::MotoServer,
}

fn fleet() -> Option<Fleet> {
    let venv = peers::Peers::find()?;
    let moto = peers::MotoServer::start_with(&venv);
    let dir = tempfile::tempdir().unwrap();
    let root_key = dir.path().join("root.key");
    let keygen = Command::new(env!("CARGO_BIN_EXE_objseal"))
        .args(["keygen", "-o"])
        .arg(&root_key)
        .output()
        .unwrap();
    assert!(keygen.status.success());
    let backend = moto.endpoint();
    let args: Vec<&OsStr> = vec![
        OsStr::new("--backend"),
        OsStr::new(&backend),
        OsStr::new("--root-key-file"),
        root_key.as_os_str(),
    ];
    let env = [
        ("OBJSEAL_BACKEND_ACCESS_KEY_ID", "moto"),
        ("OBJSEAL_BACKEND_SECRET_ACCESS_KEY", "moto-secret"),
    ];
    let start = |name: &str| {
        Served::start_with_env(
            &dir.path().join(name),
            peers::TEST_ACCESS_KEY_ID,
            peers::TEST_SECRET_ACCESS_KEY,
            &args,
            &env,
        )
    };
    let (one, two) = (start("one"), start("two"));
    Some(Fleet {
        venv,
        dir,
        one,
        two,
        backend,
        _moto: moto,
    })
}

#[test]
fn two_gateways_over_one_backend_share_objects_and_the_backend_sees_only_ciphertext() {
    let Some(Fleet {
        venv,
        dir,
        one,
        two,
        backend,
        _moto,
    }) = fleet()
    else {
        return;
    };

    let marker = "objseal-gateway-plaintext-marker ".repeat(2_000);
    let file = dir.path().join("doc.txt");
    std::fs::write(&file, &marker).unwrap();
    let file = file.to_str().unwrap();
    aws(&venv, &one.endpoint, &["s3", "mb", "s3://gateway-docs"]);
    aws(
        &venv,
        &one.endpoint,
        &[
            "s3",
            "cp",
            file,
            "s3://gateway-docs/doc.txt",
            "--sse",
            "AES256",
        ],
    );
    // Read back through the other gateway: whole, and a range.
    let back = dir.path().join("back.txt");
    aws(
        &venv,
        &two.endpoint,
        &[
            "s3",
            "cp",
            "s3://gateway-docs/doc.txt",
            back.to_str().unwrap(),
        ],
    );
    assert_eq!(std::fs::read_to_string(&back).unwrap(), marker);
    let range = dir.path().join("range.txt");
    let head = aws(
        &venv,
        &two.endpoint,
        &[
            "s3api",
            "get-object",
            "--bucket",
            "gateway-docs",
            "--key",
            "doc.txt",
            "--range",
            "bytes=34-66",
            range.to_str().unwrap(),
        ],
    );
    assert!(
        head.contains("\"ServerSideEncryption\": \"AES256\""),
        "{head}"
    );
    assert_eq!(std::fs::read_to_string(&range).unwrap(), &marker[34..=66]);
    let listed = aws(
        &venv,
        &two.endpoint,
        &["s3api", "list-objects-v2", "--bucket", "gateway-docs"],
    );
    assert!(
        listed.contains(&format!("\"Size\": {}", marker.len())),
        "{listed}"
    );

    // The backend, read straight: the object is there, ciphertext only.
    let scan = venv
        .python(
            "import sys, boto3\n\
             s3 = boto3.client('s3', endpoint_url=sys.argv[1], region_name='us-east-1')\n\
             for o in s3.list_objects_v2(Bucket='gateway-docs').get('Contents', []):\n\
             \x20   got = s3.get_object(Bucket='gateway-docs', Key=o['Key'])\n\
             \x20   body = got['Body'].read()\n\
             \x20   assert b'plaintext-marker' not in body, o['Key']\n\
             \x20   assert 'plaintext' not in repr(got['Metadata']), o['Key']\n\
             \x20   print('object', o['Key'], len(body), sorted(got['Metadata']))\n",
            &[&backend],
        )
        .output()
        .unwrap();
    let scanned = String::from_utf8_lossy(&scan.stdout);
    assert!(
        scan.status.success() && scanned.contains("object doc.txt"),
        "{scanned}\n{}",
        String::from_utf8_lossy(&scan.stderr)
    );
    assert!(scanned.contains("objseal-header"), "{scanned}");
    drop((one, two));
}

/// A multipart upload started on one gateway, given a part through it and one through a second,
/// survives the first being killed (`kill -9`): the second completes it, and every acknowledged
/// part is in the object.
#[test]
fn a_gateway_killed_mid_upload_loses_no_acknowledged_part() {
    let Some(Fleet {
        venv,
        dir,
        mut one,
        two,
        backend: _,
        _moto,
    }) = fleet()
    else {
        return;
    };
    let part = |n: u8| -> (String, Vec<u8>) {
        let bytes: Vec<u8> = (0..5 * 1024 * 1024 + 17)
            .map(|i: usize| (i as u8).wrapping_mul(n))
            .collect();
        let path = dir.path().join(format!("part{n}"));
        std::fs::write(&path, &bytes).unwrap();
        (path.to_str().unwrap().to_owned(), bytes)
    };
    let etag_of = |out: &str| -> String {
        let v: serde_json::Value = serde_json::from_str(out).unwrap();
        v["ETag"].as_str().unwrap().to_owned()
    };
    aws(&venv, &one.endpoint, &["s3", "mb", "s3://gateway-kill"]);
    let created = aws(
        &venv,
        &one.endpoint,
        &[
            "s3api",
            "create-multipart-upload",
            "--bucket",
            "gateway-kill",
            "--key",
            "big",
            "--server-side-encryption",
            "AES256",
        ],
    );
    let upload: serde_json::Value = serde_json::from_str(&created).unwrap();
    let upload = upload["UploadId"].as_str().unwrap().to_owned();
    let (p1, b1) = part(1);
    let (p2, b2) = part(2);
    let upload_part = |endpoint: &str, n: &str, file: &str| {
        etag_of(&aws(
            &venv,
            endpoint,
            &[
                "s3api",
                "upload-part",
                "--bucket",
                "gateway-kill",
                "--key",
                "big",
                "--upload-id",
                &upload,
                "--part-number",
                n,
                "--body",
                file,
            ],
        ))
    };
    let e1 = upload_part(&one.endpoint, "1", &p1);
    // The first gateway dies; the second takes the next part and completes the upload.
    one.kill9();
    let e2 = upload_part(&two.endpoint, "2", &p2);
    let parts = serde_json::json!({"Parts": [
        {"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]});
    aws(
        &venv,
        &two.endpoint,
        &[
            "s3api",
            "complete-multipart-upload",
            "--bucket",
            "gateway-kill",
            "--key",
            "big",
            "--upload-id",
            &upload,
            "--multipart-upload",
            &parts.to_string(),
        ],
    );
    let back = dir.path().join("back");
    aws(
        &venv,
        &two.endpoint,
        &["s3", "cp", "s3://gateway-kill/big", back.to_str().unwrap()],
    );
    let got = std::fs::read(&back).unwrap();
    assert_eq!(got.len(), b1.len() + b2.len());
    assert!(got[..b1.len()] == b1[..] && got[b1.len()..] == b2[..]);
}
