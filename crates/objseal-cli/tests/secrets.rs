//! No secret leaves its place: `objseal serve` (embedded keystore) at the most verbose log level
//! (`RUST_LOG=trace`), driven by the AWS SDK for Rust through every SSE mode — single PUTs,
//! ranged GETs, a multipart SSE-C upload, copies, and refused requests (a wrong SSE-C key, a bad
//! signature, a missing key) — and afterwards no customer key, secret access key or root key
//! (raw, hex or base64, either case) appears in the server's logs, in any answer body or header,
//! or in any file of the data directory (objects, their metadata, the access log, the KMS's
//! audit log) but the two files that are those secrets' homes (`root.key`, `credentials`).

mod common;

use std::path::Path;

use aws_sdk_s3::Client;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, ServerSideEncryption};
use aws_smithy_http_client::tls;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE_NO_PAD as B64URL};
use md5::{Digest as _, Md5};

use common::served::Served;

const ACCESS_KEY: &str = "AKIDSECRETSTEST00001";
const SECRET_KEY: &str = "secrets-test-secret-access-key-0000000001";
const CUSTOMER_KEY: [u8; 32] = *b"customer-key-never-to-be-logged!";
const WRONG_KEY: [u8; 32] = *b"another-customer-key-not-to-log!";

fn client(endpoint: &str, secret: &str) -> Client {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https();
    let conf = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .force_path_style(true)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(ACCESS_KEY, secret, None, None, "test"))
        .retry_config(RetryConfig::disabled())
        .http_client(http)
        .build();
    Client::from_conf(conf)
}

/// PUTs `body` as `bucket/key` under `sse` and reads it back (`range`: those bytes only).
async fn round_trip(
    c: &Client,
    bucket: &str,
    key: &str,
    sse: Option<ServerSideEncryption>,
    body: &[u8],
    range: Option<std::ops::Range<usize>>,
) {
    c.put_object()
        .bucket(bucket)
        .key(key)
        .set_server_side_encryption(sse)
        .body(ByteStream::from(body.to_vec()))
        .send()
        .await
        .unwrap();
    let got = c
        .get_object()
        .bucket(bucket)
        .key(key)
        .set_range(
            range
                .as_ref()
                .map(|r| format!("bytes={}-{}", r.start, r.end - 1)),
        )
        .send()
        .await
        .unwrap();
    let got = got.body.collect().await.unwrap().into_bytes();
    assert_eq!(&got[..], &body[range.unwrap_or(0..body.len())], "{key}");
}

/// Every form a 32-byte secret may take in text: raw, hex (both cases), base64 (standard, URL).
fn forms(name: &str, secret: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut out = vec![
        (format!("{name} (raw)"), secret.to_vec()),
        (format!("{name} (hex)"), hex::encode(secret).into_bytes()),
        (
            format!("{name} (HEX)"),
            hex::encode_upper(secret).into_bytes(),
        ),
        (format!("{name} (base64)"), B64.encode(secret).into_bytes()),
        (
            format!("{name} (base64url)"),
            B64URL.encode(secret).into_bytes(),
        ),
    ];
    // A secret that is itself text (a secret access key): also its base64.
    if let Ok(text) = std::str::from_utf8(secret) {
        out.push((format!("{name} (text)"), text.as_bytes().to_vec()));
    }
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// The error body (and headers) of a refused call, as received.
fn refusal_text<E: std::error::Error + 'static, R: std::fmt::Debug>(
    r: Result<R, SdkError<E, aws_sdk_s3::config::http::HttpResponse>>,
) -> Vec<u8> {
    match r {
        Ok(v) => panic!("expected a refusal, got {v:?}"),
        Err(SdkError::ServiceError(e)) => {
            let raw = e.raw();
            let mut text = format!("{:?}\n", raw.headers()).into_bytes();
            text.extend_from_slice(raw.body().bytes().unwrap_or_default());
            text
        }
        Err(other) => panic!(
            "expected a service error, got {}",
            aws_sdk_s3::error::DisplayErrorContext(&other)
        ),
    }
}

/// Every regular file under `dir`, with its path.
fn files(dir: &Path, out: &mut Vec<(std::path::PathBuf, Vec<u8>)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, out);
        } else if path.is_file() {
            out.push((path.clone(), std::fs::read(&path).unwrap()));
        }
    }
}

#[test]
fn no_secret_reaches_logs_answers_or_the_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server =
        Served::start_with_env(&data, ACCESS_KEY, SECRET_KEY, &[], &[("RUST_LOG", "trace")]);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut answers: Vec<(String, Vec<u8>)> = Vec::new();
    rt.block_on(async {
        let c = client(&server.endpoint, SECRET_KEY);
        c.create_bucket().bucket("secrets").send().await.unwrap();
        let body: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let key_b64 = B64.encode(CUSTOMER_KEY);
        let key_md5 = B64.encode(Md5::digest(CUSTOMER_KEY));
        let wrong_b64 = B64.encode(WRONG_KEY);
        let wrong_md5 = B64.encode(Md5::digest(WRONG_KEY));

        // Every mode written and read back, whole and by a range.
        for (key, sse) in [
            ("none", None),
            ("sse-s3", Some(ServerSideEncryption::Aes256)),
            ("sse-kms", Some(ServerSideEncryption::AwsKms)),
        ] {
            round_trip(&c, "secrets", key, sse, &body, Some(1000..70_001)).await;
        }
        c.put_object()
            .bucket("secrets")
            .key("sse-c")
            .sse_customer_algorithm("AES256")
            .sse_customer_key(&key_b64)
            .sse_customer_key_md5(&key_md5)
            .body(ByteStream::from(body.clone()))
            .send()
            .await
            .unwrap();
        let got = c
            .get_object()
            .bucket("secrets")
            .key("sse-c")
            .sse_customer_algorithm("AES256")
            .sse_customer_key(&key_b64)
            .sse_customer_key_md5(&key_md5)
            .send()
            .await
            .unwrap();
        assert_eq!(got.body.collect().await.unwrap().into_bytes(), body);

        // A multipart SSE-C upload, and copies out of SSE-C into SSE-KMS.
        let id = c
            .create_multipart_upload()
            .bucket("secrets")
            .key("sse-c-multipart")
            .sse_customer_algorithm("AES256")
            .sse_customer_key(&key_b64)
            .sse_customer_key_md5(&key_md5)
            .send()
            .await
            .unwrap()
            .upload_id()
            .unwrap()
            .to_owned();
        let part = c
            .upload_part()
            .bucket("secrets")
            .key("sse-c-multipart")
            .upload_id(&id)
            .part_number(1)
            .sse_customer_algorithm("AES256")
            .sse_customer_key(&key_b64)
            .sse_customer_key_md5(&key_md5)
            .body(ByteStream::from(body.clone()))
            .send()
            .await
            .unwrap();
        c.complete_multipart_upload()
            .bucket("secrets")
            .key("sse-c-multipart")
            .upload_id(&id)
            .sse_customer_algorithm("AES256")
            .sse_customer_key(&key_b64)
            .sse_customer_key_md5(&key_md5)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .parts(
                        CompletedPart::builder()
                            .part_number(1)
                            .e_tag(part.e_tag().unwrap())
                            .build(),
                    )
                    .build(),
            )
            .send()
            .await
            .unwrap();
        c.copy_object()
            .bucket("secrets")
            .key("copied")
            .copy_source("secrets/sse-c")
            .copy_source_sse_customer_algorithm("AES256")
            .copy_source_sse_customer_key(&key_b64)
            .copy_source_sse_customer_key_md5(&key_md5)
            .server_side_encryption(ServerSideEncryption::AwsKms)
            .send()
            .await
            .unwrap();

        // Refusals: the wrong customer key, no key, a bad signature.
        let wrong = c
            .get_object()
            .bucket("secrets")
            .key("sse-c")
            .sse_customer_algorithm("AES256")
            .sse_customer_key(&wrong_b64)
            .sse_customer_key_md5(&wrong_md5)
            .send()
            .await;
        answers.push((
            "GET with the wrong customer key".into(),
            refusal_text(wrong),
        ));
        let missing = c.get_object().bucket("secrets").key("sse-c").send().await;
        answers.push(("GET without the customer key".into(), refusal_text(missing)));
        let mismatched = c
            .put_object()
            .bucket("secrets")
            .key("mismatch")
            .sse_customer_algorithm("AES256")
            .sse_customer_key(&key_b64)
            .sse_customer_key_md5(&wrong_md5)
            .body(ByteStream::from_static(b"x"))
            .send()
            .await;
        answers.push((
            "PUT with a key MD5 that does not match".into(),
            refusal_text(mismatched),
        ));
        let forged = client(&server.endpoint, "not-the-secret-access-key-at-all")
            .get_object()
            .bucket("secrets")
            .key("sse-s3")
            .send()
            .await;
        answers.push(("a bad signature".into(), refusal_text(forged)));
    });
    drop(rt);
    // Stop the server (SIGTERM: it finishes its logs), then take what it wrote.
    assert!(server.terminate().success());
    let output = server.output();
    drop(server);

    let root_text = std::fs::read_to_string(data.join("root.key")).unwrap();
    // `objseal-kek-1:<64 hex digits>` (objseal_kms::keystore::KEY_LINE_PREFIX).
    let root_hex = root_text
        .lines()
        .find_map(|l| l.trim().strip_prefix("objseal-kek-1:"))
        .expect("the root key's line");
    let root = hex::decode(root_hex).unwrap();

    let mut secrets = forms("customer key", &CUSTOMER_KEY);
    secrets.extend(forms("wrong customer key", &WRONG_KEY));
    secrets.extend(forms("root key", &root));
    secrets.push(("secret access key".into(), SECRET_KEY.as_bytes().to_vec()));
    secrets.push((
        "secret access key (base64)".into(),
        B64.encode(SECRET_KEY).into_bytes(),
    ));

    // Where secrets must not be: the server's log (everything it printed), the answers, and every
    // file of the data directory except the secrets' own homes.
    assert!(
        contains(&output, b"TRACE") || contains(&output, b"DEBUG"),
        "the log is not verbose: is RUST_LOG honoured?"
    );
    // The scan reads real content: the log names the requests, the data directory the objects.
    assert!(
        contains(&output, b"sse-c-multipart"),
        "the log names no request"
    );
    let mut places: Vec<(String, Vec<u8>)> = vec![("the server's output".into(), output)];
    places.extend(answers);
    let mut stored = Vec::new();
    files(&data, &mut stored);
    assert!(
        stored.len() > 5,
        "the data directory holds {} files",
        stored.len()
    );
    for (path, bytes) in stored {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name == "root.key" || name == "credentials" {
            continue;
        }
        places.push((format!("file {}", path.display()), bytes));
    }
    assert!(
        places
            .iter()
            .any(|(p, b)| p.starts_with("file") && contains(b, b"sse-c-multipart")),
        "no file of the data directory names the objects"
    );
    let mut found = Vec::new();
    for (place, bytes) in &places {
        for (what, needle) in &secrets {
            if contains(bytes, needle) {
                found.push(format!("{what} in {place}"));
            }
        }
    }
    assert!(found.is_empty(), "secrets found:\n{}", found.join("\n"));
}

/// [`common::spawn::start`] with `RUST_LOG=trace` and standard error into `log`.
fn start_logged(
    mut cmd: std::process::Command,
    log: &Path,
    marker: &str,
) -> (common::spawn::Running, String) {
    cmd.env("RUST_LOG", "trace")
        .stderr(std::fs::File::create(log).unwrap());
    common::spawn::start(cmd, marker)
}

/// The same with the KMS as a server of its own (`objseal kms serve`, trace logs) and the S3
/// server its client (`--kms-endpoint`, trace logs): neither log, nor the KMS's keystore
/// directory (audit log included), holds the KMS's root key, the service's KMS secret, the S3
/// secret or the customer key — and the KMS's log holds no data key (no `"Plaintext"` member
/// of its answers).
#[test]
fn a_remote_kms_and_its_s3_server_log_no_secret_either() {
    const SERVICE_ID: &str = "AKIDSECRETSSERVICE01";
    const SERVICE_SECRET: &str = "kms-service-secret-never-to-be-logged-01";
    let dir = tempfile::tempdir().unwrap();
    let path = |n: &str| dir.path().join(n);
    let bin = env!("CARGO_BIN_EXE_objseal");
    let keygen = std::process::Command::new(bin)
        .args(["keygen", "-o"])
        .arg(path("kms-root.key"))
        .output()
        .unwrap();
    assert!(keygen.status.success());
    std::fs::create_dir(path("kms")).unwrap();
    std::fs::write(
        path("principals.toml"),
        format!(
            "[[principal]]\nname = \"objseal-s3\"\naccess_key_id = \"{SERVICE_ID}\"\n\
             secret_access_key = \"{SERVICE_SECRET}\"\nservice = \"s3\"\n"
        ),
    )
    .unwrap();
    let mut kms = std::process::Command::new(bin);
    kms.arg("kms")
        .arg("--store")
        .arg(path("kms/keys.store"))
        .arg("--root-key-file")
        .arg(path("kms-root.key"))
        .args(["serve", "--listen", "127.0.0.1:0", "--principals"])
        .arg(path("principals.toml"));
    let (kms_proc, kms_endpoint) = start_logged(kms, &path("kms.log"), "http://127.0.0.1:");
    let mut s3 = std::process::Command::new(bin);
    s3.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(path("data"))
        .args(["--allow-ssec-over-http", "--kms-endpoint", &kms_endpoint])
        .args(["--region", "us-east-1"])
        .env("OBJSEAL_ACCESS_KEY", ACCESS_KEY)
        .env("OBJSEAL_SECRET_KEY", SECRET_KEY)
        .env("AWS_ACCESS_KEY_ID", SERVICE_ID)
        .env("AWS_SECRET_ACCESS_KEY", SERVICE_SECRET)
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null");
    let (s3_proc, s3_endpoint) = start_logged(s3, &path("s3.log"), "objseal serve: listening on");

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let c = client(&s3_endpoint, SECRET_KEY);
        c.create_bucket()
            .bucket("kms-secrets")
            .send()
            .await
            .unwrap();
        let body: Vec<u8> = (0..200_000u32).map(|i| (i % 241) as u8).collect();
        for (key, sse) in [
            ("sse-kms", ServerSideEncryption::AwsKms),
            ("sse-s3", ServerSideEncryption::Aes256),
        ] {
            round_trip(&c, "kms-secrets", key, Some(sse), &body, None).await;
        }
        c.put_object()
            .bucket("kms-secrets")
            .key("sse-c")
            .sse_customer_algorithm("AES256")
            .sse_customer_key(B64.encode(CUSTOMER_KEY))
            .sse_customer_key_md5(B64.encode(Md5::digest(CUSTOMER_KEY)))
            .body(ByteStream::from(body.clone()))
            .send()
            .await
            .unwrap();
    });
    drop(rt);
    drop(s3_proc);
    drop(kms_proc);

    let root_text = std::fs::read_to_string(path("kms-root.key")).unwrap();
    let root_hex = root_text
        .lines()
        .find_map(|l| l.trim().strip_prefix("objseal-kek-1:"))
        .expect("the root key's line");
    let mut secrets = forms("KMS root key", &hex::decode(root_hex).unwrap());
    secrets.extend(forms("customer key", &CUSTOMER_KEY));
    for (name, s) in [
        ("the service's KMS secret", SERVICE_SECRET),
        ("the S3 secret access key", SECRET_KEY),
    ] {
        secrets.push((name.into(), s.as_bytes().to_vec()));
        secrets.push((format!("{name} (base64)"), B64.encode(s).into_bytes()));
    }
    let kms_log = std::fs::read(path("kms.log")).unwrap();
    let s3_log = std::fs::read(path("s3.log")).unwrap();
    // (`objseal kms serve` keeps its record in the audit log; its standard error is checked all
    // the same.)
    assert!(contains(&s3_log, b"TRACE") || contains(&s3_log, b"DEBUG"));
    assert!(
        !contains(&kms_log, b"\"Plaintext\""),
        "the KMS logged a data key (a Plaintext member)"
    );
    let mut places = vec![
        ("the KMS's log".to_owned(), kms_log),
        ("the S3 server's log".to_owned(), s3_log),
    ];
    let mut stored = Vec::new();
    files(&path("kms"), &mut stored);
    files(&path("data"), &mut stored);
    assert!(
        stored
            .iter()
            .any(|(p, _)| p.to_string_lossy().ends_with(".audit.jsonl")),
        "no KMS audit log: {:?}",
        stored.iter().map(|(p, _)| p).collect::<Vec<_>>()
    );
    for (p, bytes) in stored {
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if name == "root.key" || name == "credentials" {
            continue;
        }
        places.push((format!("file {}", p.display()), bytes));
    }
    let found: Vec<String> = places
        .iter()
        .flat_map(|(place, bytes)| {
            secrets
                .iter()
                .filter(|(_, needle)| contains(bytes, needle))
                .map(move |(what, _)| format!("{what} in {place}"))
        })
        .collect();
    assert!(found.is_empty(), "secrets found:\n{}", found.join("\n"));
}
