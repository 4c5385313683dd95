//! Interoperability with the AWS S3 Encryption Client (`amazon-s3-encryption-client-python` 4.x),
//! over moto's S3 and KMS (started here on 127.0.0.1):
//!
//! - (a) objects it writes, V3 and legacy V2, are read raw with aws-sdk-s3 and decrypted by
//!   `objseal_client::s3ec` with `RemoteKms` against moto's KMS;
//! - (b) V3 objects `encrypt_v3` writes are decrypted by it;
//! - (c) objects whose S3EC metadata was tampered with are refused by both, each for its reason.

#[path = "s3ec/harness.rs"]
mod harness;

use std::collections::{BTreeMap, HashMap};

use aws_sdk_s3::primitives::ByteStream;
use harness::{Moto, Venv};
use objseal_client::s3ec::{CommitmentPolicy, S3ecError, Version, decrypt_object, encrypt_v3};
use objseal_kms::{CreateKeyRequest, Kms, KmsError};
use serde_json::{Value, json};

const BUCKET: &str = "s3ec-interop";

fn context() -> BTreeMap<String, String> {
    [("bucket", BUCKET), ("purpose", "interop")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The object's raw body and user metadata, as a plain SDK client sees them.
async fn raw(s3: &aws_sdk_s3::Client, key: &str) -> (Vec<u8>, HashMap<String, String>) {
    let out = s3
        .get_object()
        .bucket(BUCKET)
        .key(key)
        .send()
        .await
        .expect("GetObject");
    let meta = out.metadata().cloned().unwrap_or_default();
    let body = out
        .body
        .collect()
        .await
        .expect("body")
        .into_bytes()
        .to_vec();
    (body, meta)
}

async fn put_raw(s3: &aws_sdk_s3::Client, key: &str, body: Vec<u8>, meta: HashMap<String, String>) {
    s3.put_object()
        .bucket(BUCKET)
        .key(key)
        .set_metadata(Some(meta))
        .body(ByteStream::from(body))
        .send()
        .await
        .expect("PutObject");
}

fn op(op: &str, key: &str, arn: &str, ctx: &BTreeMap<String, String>) -> Value {
    json!({"op": op, "bucket": BUCKET, "key": key, "kms_key": arn, "context": ctx})
}

/// A copy of `from` under `to` with one metadata field replaced.
async fn tamper(s3: &aws_sdk_s3::Client, from: &str, to: &str, field: &str, value: &str) {
    let (body, mut meta) = raw(s3, from).await;
    assert!(
        meta.insert(field.into(), value.into()).is_some(),
        "{from} has no {field}"
    );
    put_raw(s3, to, body, meta).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3ec_python_interop_over_moto() {
    let Some(venv) = Venv::find() else { return };
    let moto = Moto::start(&venv);
    let endpoint = moto.endpoint();
    let s3 = moto.s3();
    let kms = moto.kms().await;
    let arn = kms
        .create_key(CreateKeyRequest::default())
        .await
        .expect("CreateKey")
        .arn;
    s3.create_bucket()
        .bucket(BUCKET)
        .send()
        .await
        .expect("CreateBucket");
    let ctx = context();
    let policy = CommitmentPolicy::RequireCommitment;

    // (a) The Python client writes V3 and V2; we read them.
    let py_v3 = b"written by the Python S3 Encryption Client, V3".to_vec();
    let py_v2 = b"written by the Python S3 Encryption Client, legacy V2".to_vec();
    let mut put_v3 = op("put", "py-v3", &arn, &ctx);
    put_v3["format"] = "v3".into();
    put_v3["plaintext_hex"] = hex::encode(&py_v3).into();
    let mut put_v2 = op("put", "py-v2", &arn, &ctx);
    put_v2["format"] = "v2".into();
    put_v2["plaintext_hex"] = hex::encode(&py_v2).into();
    let results = venv.peer(&endpoint, &json!([put_v3, put_v2]));
    assert!(results.iter().all(|r| r["ok"] == true), "{results:?}");

    let (mut body, meta) = raw(&s3, "py-v3").await;
    let mut names: Vec<&str> = meta.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "x-amz-3", "x-amz-c", "x-amz-d", "x-amz-i", "x-amz-t", "x-amz-w"
        ]
    );
    let v = decrypt_object(&kms, Some(&arn), &meta, &ctx, &mut body, policy).await;
    assert_eq!(v, Ok(Version::V3));
    assert_eq!(body, py_v3);

    let (body, meta) = raw(&s3, "py-v2").await;
    assert_eq!(
        meta.get("x-amz-cek-alg").map(String::as_str),
        Some("AES/GCM/NoPadding")
    );
    let mut refused = body.clone();
    let e = decrypt_object(&kms, Some(&arn), &meta, &ctx, &mut refused, policy).await;
    assert_eq!(e, Err(S3ecError::LegacyRefused));
    assert!(refused.is_empty());
    let mut body = body;
    let legacy = CommitmentPolicy::AllowLegacy;
    let v = decrypt_object(&kms, Some(&arn), &meta, &ctx, &mut body, legacy).await;
    assert_eq!(v, Ok(Version::V2));
    assert_eq!(body, py_v2);

    // (b) We write V3 objects; the Python client reads them.
    let ours: [(&str, Vec<u8>, BTreeMap<String, String>); 3] = [
        (
            "rs-v3",
            b"written by objseal's encrypt_v3".to_vec(),
            ctx.clone(),
        ),
        ("rs-v3-empty", Vec::new(), BTreeMap::new()),
        (
            "rs-v3-large",
            (0..300_000u32).map(|i| (i % 251) as u8).collect(),
            ctx.clone(),
        ),
    ];
    let mut gets = Vec::new();
    for (key, plaintext, c) in &ours {
        let mut body = plaintext.clone();
        let meta = encrypt_v3(&kms, &arn, c, &mut body)
            .await
            .expect("encrypt_v3");
        put_raw(&s3, key, body, meta.into_iter().collect()).await;
        gets.push(op("get", key, &arn, c));
    }
    let results = venv.peer(&endpoint, &Value::Array(gets));
    for ((key, plaintext, _), r) in ours.iter().zip(&results) {
        assert_eq!(r["ok"], true, "{key}: {r}");
        assert_eq!(r["plaintext_hex"], hex::encode(plaintext), "{key}");
    }

    // (c) Tampered metadata: refused by both.
    let other_28 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGw==";
    let tampered_t = r#"{"bucket": "elsewhere", "purpose": "interop", "aws:x-amz-cek-alg": "115"}"#;
    let cases = [
        ("py-v3", "t-d", "x-amz-d", other_28),
        ("py-v3", "t-i", "x-amz-i", other_28),
        ("py-v3", "t-t", "x-amz-t", tampered_t),
        ("py-v3", "t-c", "x-amz-c", "114"),
        ("rs-v3", "t-rs-d", "x-amz-d", other_28),
        ("py-v2", "t-iv", "x-amz-iv", "AAAAAAAAAAAAAAAA"),
    ];
    let mut gets = Vec::new();
    for (from, to, field, value) in cases {
        tamper(&s3, from, to, field, value).await;
        let mut get = op("get", to, &arn, &ctx);
        get["policy"] = "allow_legacy".into();
        gets.push(get);
    }
    for (from, to, field, _) in cases {
        let (mut body, meta) = raw(&s3, to).await;
        let e = decrypt_object(&kms, Some(&arn), &meta, &ctx, &mut body, legacy).await;
        let e = e.expect_err(to);
        let right = match field {
            "x-amz-d" | "x-amz-i" => e == S3ecError::CommitmentMismatch,
            "x-amz-t" => e == S3ecError::ContextMismatch,
            "x-amz-c" => e == S3ecError::UnsupportedContentAlgorithm("114".into()),
            _ => e == S3ecError::TagMismatch,
        };
        assert!(right, "{from} with {field} changed: {e:?}");
        assert!(body.is_empty());
    }
    // A reader expecting the tampered context gets past the context check; KMS refuses it.
    let (mut body, meta) = raw(&s3, "t-t").await;
    let mut elsewhere = ctx.clone();
    elsewhere.insert("bucket".into(), "elsewhere".into());
    let e = decrypt_object(&kms, Some(&arn), &meta, &elsewhere, &mut body, policy).await;
    assert!(
        matches!(e, Err(S3ecError::Kms(KmsError::InvalidCiphertext(_)))),
        "{e:?}"
    );

    let results = venv.peer(&endpoint, &Value::Array(gets));
    for ((_, to, field, _), r) in cases.iter().zip(&results) {
        assert_eq!(r["ok"], false, "S3EC accepted {to} ({field} changed): {r}");
        let why = match *field {
            "x-amz-d" | "x-amz-i" => "Key commitment verification failed",
            "x-amz-t" => "encryption context does not match",
            "x-amz-c" => "Unknown content encryption algorithm",
            _ => "Failed to decrypt Object",
        };
        let message = r["message"].as_str().unwrap_or_default();
        assert!(message.contains(why), "{to}: {message}");
        eprintln!(
            "S3EC refused {to} ({field} changed): {}: {}",
            r["error"], r["message"]
        );
    }
    drop(moto);
}

/// The same peer through [`objseal_client::EncryptingClient`]: it reads what the Python client
/// writes (V2 only when legacy objects are allowed), under strict key selection, ranges included;
/// what it writes as V3 the Python client reads; and `rewrap` migrates an S3EC object to OSE1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3ec_objects_through_the_encrypting_client() {
    use std::sync::Arc;

    use objseal_client::{
        ByteRange, ClientConfig, ClientError, EncryptingClient, GetOptions, Keyring, ObjectFormat,
        PutOptions, WriteFormat,
    };

    let Some(venv) = Venv::find() else { return };
    let moto = Moto::start(&venv);
    let endpoint = moto.endpoint();
    let kms: Arc<dyn Kms> = Arc::new(moto.kms().await);
    let arn = kms
        .create_key(CreateKeyRequest::default())
        .await
        .unwrap()
        .arn;
    let other = kms
        .create_key(CreateKeyRequest::default())
        .await
        .unwrap()
        .arn;
    moto.s3()
        .create_bucket()
        .bucket(BUCKET)
        .send()
        .await
        .unwrap();
    let config = ClientConfig {
        endpoint_url: Some(endpoint.clone()),
        region: Some("us-east-1".into()),
        credentials: Some(("testing".into(), zeroize::Zeroizing::new("testing".into()))),
        force_path_style: true,
        max_attempts: 1,
        ..ClientConfig::default()
    };
    let client = EncryptingClient::connect(
        config.clone(),
        Keyring::new().with_kms_key(kms.clone(), arn.clone()),
    )
    .await
    .unwrap();
    let ctx = context();
    let plaintext: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    for format in ["v3", "v2"] {
        let mut put = op("put", &format!("py-{format}"), &arn, &ctx);
        put["format"] = format.into();
        put["plaintext_hex"] = hex::encode(&plaintext).into();
        let results = venv.peer(&endpoint, &json!([put]));
        assert_eq!(results[0]["ok"], true, "{results:?}");
    }
    // Refused unless accepted: the format binds no object location.
    let not_accepted = GetOptions {
        context: ctx.clone(),
        ..GetOptions::default()
    };
    let err = client
        .get(BUCKET, "py-v3", &not_accepted)
        .await
        .unwrap_err();
    assert!(
        matches!(err, ClientError::S3ecNotAccepted { .. }),
        "{err:?}"
    );
    let read = GetOptions {
        accept_s3ec: true,
        ..not_accepted
    };
    let (got, info) = client.get(BUCKET, "py-v3", &read).await.unwrap();
    assert_eq!(
        (got == plaintext, info.format),
        (true, ObjectFormat::S3ecV3)
    );
    let ranged = GetOptions {
        range: Some(ByteRange::Suffix(10)),
        ..read.clone()
    };
    assert_eq!(
        client.get(BUCKET, "py-v3", &ranged).await.unwrap().0,
        plaintext[plaintext.len() - 10..]
    );
    let err = client.get(BUCKET, "py-v2", &read).await.unwrap_err();
    assert!(
        matches!(err, ClientError::S3ec(S3ecError::LegacyRefused)),
        "{err:?}"
    );
    let legacy = GetOptions {
        commitment: CommitmentPolicy::AllowLegacy,
        ..read.clone()
    };
    let (got, info) = client.get(BUCKET, "py-v2", &legacy).await.unwrap();
    assert_eq!(
        (got == plaintext, info.format),
        (true, ObjectFormat::S3ecV2)
    );
    let err = client
        .get(
            BUCKET,
            "py-v3",
            &GetOptions {
                accept_s3ec: true,
                ..GetOptions::default()
            },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, ClientError::S3ec(S3ecError::ContextMismatch)),
        "{err:?}"
    );
    // Strict: a reader configured with another KMS key does not decrypt it.
    let stranger = EncryptingClient::connect(
        config.clone(),
        Keyring::new().with_kms_key(kms.clone(), other.clone()),
    )
    .await
    .unwrap();
    assert!(stranger.get(BUCKET, "py-v3", &read).await.is_err());

    // V3 written by the encrypting client, read by the Python client.
    let bound = PutOptions {
        context: ctx.clone(),
        format: WriteFormat::S3ecV3,
        ..PutOptions::default()
    };
    let err = client
        .put(BUCKET, "x", &plaintext, &bound)
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::InvalidArgument(_)), "{err:?}");
    let v3 = PutOptions {
        location: objseal_client::Location::Unbound,
        ..bound
    };
    client
        .put(BUCKET, "rs-client-v3", &plaintext, &v3)
        .await
        .unwrap();
    let results = venv.peer(&endpoint, &json!([op("get", "rs-client-v3", &arn, &ctx)]));
    assert_eq!(results[0]["ok"], true, "{results:?}");
    assert_eq!(results[0]["plaintext_hex"], hex::encode(&plaintext));
    assert_eq!(
        client.head(BUCKET, "rs-client-v3").await.unwrap().format,
        Some(ObjectFormat::S3ecV3)
    );

    // Migration: the S3EC object becomes an OSE1 object for the new keys.
    let err = client
        .rewrap(
            BUCKET,
            "py-v3",
            &read,
            Keyring::new().with_kms_key(kms.clone(), other.clone()),
            false,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::InvalidArgument(_)), "{err:?}");
    let out = client
        .rewrap(
            BUCKET,
            "py-v3",
            &read,
            Keyring::new().with_kms_key(kms.clone(), other.clone()),
            true,
        )
        .await
        .unwrap();
    assert!(out.migrated);
    let (got, info) = stranger.get(BUCKET, "py-v3", &read).await.unwrap();
    assert_eq!(
        (got == plaintext, info.format),
        (true, ObjectFormat::Objseal)
    );
    drop(moto);
}
