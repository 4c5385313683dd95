//! `objseal kms serve` over the wire, with a bare HTTP/1.1 client: every operation's JSON 1.1 shape,
//! and every refusal (signature, operation, JSON, size, parameters, permissions) AWS-shaped, changing
//! nothing, and recorded in the audit log.

mod server_util;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use objseal_kms::audit::{AuditEvent, AuditLog};
use objseal_kms::keystore::{LocalKms, LocalKmsConfig, RootKey};
use objseal_kms::server::sigv4::format_amz_date;
use objseal_kms::server::{AccessKey, AuditScope, Caller, KmsServer, ServerConfig};
use serde_json::{Value, json};
use server_util::*;

fn key_ids(list_keys: &Value) -> BTreeSet<String> {
    list_keys["Keys"]
        .as_array()
        .expect("Keys")
        .iter()
        .map(|k| k["KeyId"].as_str().expect("KeyId").to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_round_trips_with_aws_field_names() {
    let t = TestServer::start().await;
    let mut c = t.client().await;

    // CreateKey: the KeyMetadata AWS returns for a symmetric key.
    let created = c
        .ok(
            "CreateKey",
            json!({"Description": "round trip", "KeyUsage": "ENCRYPT_DECRYPT", "KeySpec": "SYMMETRIC_DEFAULT",
                   "Tags": [{"TagKey": "team", "TagValue": "storage"}]}),
        )
        .await;
    let m = &created["KeyMetadata"];
    let key_id = m["KeyId"].as_str().unwrap().to_owned();
    let arn = m["Arn"].as_str().unwrap().to_owned();
    assert_eq!(
        arn,
        format!("arn:aws:kms:us-east-1:000000000000:key/{key_id}")
    );
    assert_eq!(m["AWSAccountId"], "000000000000");
    assert_eq!(m["Enabled"], true);
    assert_eq!(m["KeyState"], "Enabled");
    assert_eq!(m["Description"], "round trip");
    assert_eq!(m["KeyUsage"], "ENCRYPT_DECRYPT");
    assert_eq!(m["KeySpec"], "SYMMETRIC_DEFAULT");
    assert_eq!(m["CustomerMasterKeySpec"], "SYMMETRIC_DEFAULT");
    assert_eq!(m["EncryptionAlgorithms"], json!(["SYMMETRIC_DEFAULT"]));
    assert_eq!(m["Origin"], "AWS_KMS");
    assert_eq!(m["KeyManager"], "CUSTOMER");
    assert_eq!(m["MultiRegion"], false);
    let created_at = m["CreationDate"]
        .as_u64()
        .expect("CreationDate is epoch seconds");
    assert!(created_at.abs_diff(unix_now()) < 120);
    assert!(m.get("DeletionDate").is_none());

    // DescribeKey by id, ARN and (after CreateAlias) alias.
    for id in [&key_id, &arn] {
        let d = c.ok("DescribeKey", json!({"KeyId": id})).await;
        assert_eq!(d["KeyMetadata"], *m);
    }
    assert_eq!(
        c.ok(
            "CreateAlias",
            json!({"AliasName": "alias/round-trip", "TargetKeyId": key_id})
        )
        .await,
        json!({})
    );
    let d = c
        .ok("DescribeKey", json!({"KeyId": "alias/round-trip"}))
        .await;
    assert_eq!(d["KeyMetadata"]["KeyId"], key_id.as_str());

    let keys = c.ok("ListKeys", json!({})).await;
    assert_eq!(keys["Keys"], json!([{"KeyId": key_id, "KeyArn": arn}]));
    assert_eq!(keys["Truncated"], false);
    assert!(keys.get("NextMarker").is_none());

    let aliases = c.ok("ListAliases", json!({"KeyId": key_id})).await;
    assert_eq!(
        aliases["Aliases"],
        json!([{"AliasName": "alias/round-trip",
                "AliasArn": "arn:aws:kms:us-east-1:000000000000:alias/round-trip",
                "TargetKeyId": key_id}])
    );
    assert_eq!(aliases["Truncated"], false);

    // GenerateDataKey (KeySpec and NumberOfBytes), Decrypt, context bound.
    let ctx = json!({"bucket": "photos", "object": "cat.jpg"});
    let dk = c
        .ok(
            "GenerateDataKey",
            json!({"KeyId": "alias/round-trip", "KeySpec": "AES_256", "EncryptionContext": ctx,
                   "GrantTokens": ["ignored"]}),
        )
        .await;
    assert_eq!(dk["KeyId"], arn.as_str());
    let plaintext = unb64(&dk["Plaintext"]);
    assert_eq!(plaintext.len(), 32);
    let blob = dk["CiphertextBlob"].as_str().unwrap().to_owned();
    let dk64 = c
        .ok(
            "GenerateDataKey",
            json!({"KeyId": key_id, "NumberOfBytes": 64}),
        )
        .await;
    assert_eq!(unb64(&dk64["Plaintext"]).len(), 64);

    let back = c
        .ok(
            "Decrypt",
            json!({"CiphertextBlob": blob, "EncryptionContext": ctx}),
        )
        .await;
    assert_eq!(unb64(&back["Plaintext"]), plaintext);
    assert_eq!(back["KeyId"], arn.as_str());
    assert_eq!(back["EncryptionAlgorithm"], "SYMMETRIC_DEFAULT");
    c.err(
        "Decrypt",
        json!({"CiphertextBlob": blob, "EncryptionContext": {"bucket": "photos"}}),
        400,
        "InvalidCiphertextException",
    )
    .await;

    let wrapped = c
        .ok(
            "GenerateDataKeyWithoutPlaintext",
            json!({"KeyId": arn, "KeySpec": "AES_128", "EncryptionContext": ctx}),
        )
        .await;
    assert!(wrapped.get("Plaintext").is_none());
    assert_eq!(wrapped["KeyId"], arn.as_str());
    let back = c
        .ok(
            "Decrypt",
            json!({"CiphertextBlob": wrapped["CiphertextBlob"], "EncryptionContext": ctx, "KeyId": key_id}),
        )
        .await;
    assert_eq!(unb64(&back["Plaintext"]).len(), 16);

    // Encrypt / ReEncrypt / Decrypt.
    let second = c.ok("CreateKey", json!({})).await["KeyMetadata"].clone();
    let second_arn = second["Arn"].as_str().unwrap().to_owned();
    let enc = c
        .ok(
            "Encrypt",
            json!({"KeyId": key_id, "Plaintext": b64(b"hello kms"), "EncryptionContext": {"a": "1"},
                   "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}),
        )
        .await;
    assert_eq!(enc["KeyId"], arn.as_str());
    assert_eq!(enc["EncryptionAlgorithm"], "SYMMETRIC_DEFAULT");
    let re = c
        .ok(
            "ReEncrypt",
            json!({"CiphertextBlob": enc["CiphertextBlob"], "SourceEncryptionContext": {"a": "1"},
                   "DestinationKeyId": second["KeyId"], "DestinationEncryptionContext": {"b": "2"}}),
        )
        .await;
    assert_eq!(re["SourceKeyId"], arn.as_str());
    assert_eq!(re["KeyId"], second_arn.as_str());
    assert_eq!(re["SourceEncryptionAlgorithm"], "SYMMETRIC_DEFAULT");
    assert_eq!(re["DestinationEncryptionAlgorithm"], "SYMMETRIC_DEFAULT");
    let back = c
        .ok(
            "Decrypt",
            json!({"CiphertextBlob": re["CiphertextBlob"], "EncryptionContext": {"b": "2"}}),
        )
        .await;
    assert_eq!(unb64(&back["Plaintext"]), b"hello kms");
    assert_eq!(back["KeyId"], second_arn.as_str());
    c.err(
        "Decrypt",
        json!({"CiphertextBlob": re["CiphertextBlob"], "EncryptionContext": {"b": "2"}, "KeyId": key_id}),
        400,
        "IncorrectKeyException",
    )
    .await;

    let random = c.ok("GenerateRandom", json!({"NumberOfBytes": 48})).await;
    assert_eq!(unb64(&random["Plaintext"]).len(), 48);

    // Rotation: on demand, automatic settings, listing; the old blob still decrypts.
    let status = c.ok("GetKeyRotationStatus", json!({"KeyId": key_id})).await;
    assert_eq!(status["KeyRotationEnabled"], false);
    assert_eq!(
        c.ok(
            "EnableKeyRotation",
            json!({"KeyId": key_id, "RotationPeriodInDays": 90})
        )
        .await,
        json!({})
    );
    let status = c.ok("GetKeyRotationStatus", json!({"KeyId": key_id})).await;
    assert_eq!(status["KeyRotationEnabled"], true);
    assert_eq!(status["RotationPeriodInDays"], 90);
    let next = status["NextRotationDate"]
        .as_u64()
        .expect("NextRotationDate");
    assert!(next.abs_diff(unix_now() + 90 * 86_400) < 3 * 86_400);
    assert_eq!(
        c.ok("DisableKeyRotation", json!({"KeyId": key_id})).await,
        json!({})
    );
    assert_eq!(
        c.ok("GetKeyRotationStatus", json!({"KeyId": key_id})).await["KeyRotationEnabled"],
        false
    );
    let rotated = c.ok("RotateKeyOnDemand", json!({"KeyId": arn})).await;
    assert_eq!(rotated["KeyId"], key_id.as_str());
    let rotations = c.ok("ListKeyRotations", json!({"KeyId": key_id})).await;
    let list = rotations["Rotations"].as_array().expect("Rotations");
    assert_eq!(list.len(), 1, "{rotations}");
    assert_eq!(list[0]["RotationType"], "ON_DEMAND");
    assert_eq!(list[0]["KeyId"], key_id.as_str());
    assert!(
        list[0]["RotationDate"]
            .as_u64()
            .unwrap()
            .abs_diff(unix_now())
            < 120
    );
    assert_eq!(rotations["Truncated"], false);
    let back = c
        .ok(
            "Decrypt",
            json!({"CiphertextBlob": blob, "EncryptionContext": ctx}),
        )
        .await;
    assert_eq!(
        unb64(&back["Plaintext"]),
        plaintext,
        "the old blob still decrypts"
    );

    // Disable / enable.
    assert_eq!(
        c.ok("DisableKey", json!({"KeyId": key_id})).await,
        json!({})
    );
    let d = c.ok("DescribeKey", json!({"KeyId": key_id})).await;
    assert_eq!(d["KeyMetadata"]["KeyState"], "Disabled");
    assert_eq!(d["KeyMetadata"]["Enabled"], false);
    c.err(
        "GenerateDataKey",
        json!({"KeyId": key_id, "KeySpec": "AES_256"}),
        400,
        "DisabledException",
    )
    .await;
    assert_eq!(c.ok("EnableKey", json!({"KeyId": key_id})).await, json!({}));

    // ScheduleKeyDeletion / CancelKeyDeletion.
    let s = c
        .ok(
            "ScheduleKeyDeletion",
            json!({"KeyId": key_id, "PendingWindowInDays": 7}),
        )
        .await;
    assert_eq!(s["KeyId"], arn.as_str());
    assert_eq!(s["KeyState"], "PendingDeletion");
    assert_eq!(s["PendingWindowInDays"], 7);
    let deletion = s["DeletionDate"].as_u64().unwrap();
    assert!(deletion.abs_diff(unix_now() + 7 * 86_400) < 2 * 86_400);
    let d = c.ok("DescribeKey", json!({"KeyId": key_id})).await;
    assert_eq!(d["KeyMetadata"]["KeyState"], "PendingDeletion");
    assert_eq!(d["KeyMetadata"]["DeletionDate"], deletion);
    assert_eq!(d["KeyMetadata"]["PendingDeletionWindowInDays"], 7);
    c.err(
        "Encrypt",
        json!({"KeyId": key_id, "Plaintext": b64(b"x")}),
        400,
        "KMSInvalidStateException",
    )
    .await;
    let cancelled = c.ok("CancelKeyDeletion", json!({"KeyId": key_id})).await;
    assert_eq!(cancelled["KeyId"], arn.as_str());
    assert_eq!(
        c.ok("DescribeKey", json!({"KeyId": key_id})).await["KeyMetadata"]["KeyState"],
        "Disabled"
    );

    assert_eq!(
        c.ok("DeleteAlias", json!({"AliasName": "alias/round-trip"}))
            .await,
        json!({})
    );
    c.err(
        "DescribeKey",
        json!({"KeyId": "alias/round-trip"}),
        400,
        "NotFoundException",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_operations_page_with_limit_and_marker() {
    let t = TestServer::start().await;
    let mut c = t.client().await;
    let mut created = BTreeSet::new();
    for i in 0..5 {
        let m = c.ok("CreateKey", json!({})).await;
        let id = m["KeyMetadata"]["KeyId"].as_str().unwrap().to_owned();
        c.ok(
            "CreateAlias",
            json!({"AliasName": format!("alias/page-{i}"), "TargetKeyId": id}),
        )
        .await;
        created.insert(id);
    }
    let mut seen = BTreeSet::new();
    let mut marker: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut req = json!({"Limit": 2});
        if let Some(m) = &marker {
            req["Marker"] = json!(m);
        }
        let page = c.ok("ListKeys", req).await;
        pages += 1;
        assert!(page["Keys"].as_array().unwrap().len() <= 2);
        seen.extend(key_ids(&page));
        if page["Truncated"] == true {
            marker = Some(page["NextMarker"].as_str().expect("NextMarker").to_owned());
        } else {
            assert!(page.get("NextMarker").is_none());
            break;
        }
    }
    assert_eq!((seen, pages), (created, 3));

    let page = c.ok("ListAliases", json!({"Limit": 4})).await;
    assert_eq!(page["Aliases"].as_array().unwrap().len(), 4);
    assert_eq!(page["Truncated"], true);
    let rest = c
        .ok(
            "ListAliases",
            json!({"Limit": 4, "Marker": page["NextMarker"]}),
        )
        .await;
    assert_eq!(rest["Aliases"].as_array().unwrap().len(), 1);
    assert_eq!(rest["Truncated"], false);

    c.err(
        "ListKeys",
        json!({"Marker": "bogus"}),
        400,
        "InvalidMarkerException",
    )
    .await;
    c.err("ListKeys", json!({"Limit": 0}), 400, "ValidationException")
        .await;
    c.err(
        "ListKeys",
        json!({"Limit": 1001}),
        400,
        "ValidationException",
    )
    .await;
    c.err(
        "ListAliases",
        json!({"Limit": 101}),
        400,
        "ValidationException",
    )
    .await;
}

/// Every kind of refusal: AWS-shaped, nothing changed, each in the audit log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_are_aws_shaped_change_nothing_and_are_audited() {
    let t = TestServer::start().await;
    let mut c = t.client().await;
    let key = c.ok("CreateKey", json!({"Description": "keep"})).await["KeyMetadata"].clone();
    let key_id = key["KeyId"].as_str().unwrap().to_owned();
    let before_keys = c.ok("ListKeys", json!({})).await;
    let before_key = c.ok("DescribeKey", json!({"KeyId": key_id})).await;

    // (what was sent, expected status, expected __type, expected principal in the audit log)
    let my_arn = arn_of(AKID);
    let me = my_arn.as_str();
    let mut refused: Vec<(String, u16, &str, &str)> = Vec::new();
    let host = c.host();

    // Signature problems.
    let body = br#"{"Description":"sneaky"}"#;
    let mut req = Req::op("CreateKey", body);
    req.creds = Some((AKID, "wrong-secret"));
    refused.push((
        String::from_utf8(req.to_bytes(&host)).unwrap(),
        400,
        "InvalidSignatureException",
        "anonymous",
    ));
    let mut req = Req::op("CreateKey", body);
    req.creds = Some(("AKIDUNKNOWN", SECRET));
    refused.push((
        String::from_utf8(req.to_bytes(&host)).unwrap(),
        400,
        "UnrecognizedClientException",
        "anonymous",
    ));
    let mut req = Req::op("CreateKey", body);
    req.creds = None;
    refused.push((
        String::from_utf8(req.to_bytes(&host)).unwrap(),
        400,
        "MissingAuthenticationTokenException",
        "anonymous",
    ));
    let mut req = Req::op("CreateKey", body);
    req.amz_date = Some(format_amz_date(unix_now() - 16 * 60));
    refused.push((
        String::from_utf8(req.to_bytes(&host)).unwrap(),
        400,
        "InvalidSignatureException",
        "anonymous",
    ));
    let mut req = Req::op("CreateKey", body);
    req.region = "eu-west-1";
    refused.push((
        String::from_utf8(req.to_bytes(&host)).unwrap(),
        400,
        "InvalidSignatureException",
        "anonymous",
    ));
    // A body changed after signing.
    let signed = String::from_utf8(Req::op("CreateKey", body).to_bytes(&host)).unwrap();
    refused.push((
        signed.replace("sneaky", "snaeky"),
        400,
        "InvalidSignatureException",
        "anonymous",
    ));
    // The operation changed after signing.
    let signed = String::from_utf8(Req::op("ListKeys", b"{}").to_bytes(&host)).unwrap();
    refused.push((
        signed.replace("TrentService.ListKeys", "TrentService.CreateKey"),
        400,
        "InvalidSignatureException",
        "anonymous",
    ));
    // Malformed Authorization.
    let signed = String::from_utf8(Req::op("CreateKey", body).to_bytes(&host)).unwrap();
    refused.push((
        signed.replace("SignedHeaders=", "SignedHeadrs="),
        400,
        "IncompleteSignatureException",
        "anonymous",
    ));

    // Protocol problems, correctly signed.
    let req = Req::op("CreateGrant", b"{}");
    refused.push((
        String::from_utf8(req.to_bytes(&host)).unwrap(),
        400,
        "UnknownOperationException",
        me,
    ));
    let mut req = Req::op("CreateKey", body);
    req.target = None;
    refused.push((
        String::from_utf8(req.to_bytes(&host)).unwrap(),
        400,
        "UnknownOperationException",
        me,
    ));
    let mut req = Req::op("CreateKey", body);
    req.content_type = Some("application/json");
    refused.push((
        String::from_utf8(req.to_bytes(&host)).unwrap(),
        400,
        "UnknownOperationException",
        me,
    ));
    let mut req = Req::op("CreateKey", b"");
    req.method = "GET";
    refused.push((
        String::from_utf8(req.to_bytes(&host)).unwrap(),
        400,
        "UnknownOperationException",
        me,
    ));
    for bad in [
        &br#"{"Description": "#[..],
        b"[1,2]",
        b"not json",
        br#"{"Description": 5}"#,
        br#"{"Tags": {"a": "b"}}"#,
    ] {
        let req = Req::op("CreateKey", bad);
        refused.push((
            String::from_utf8(req.to_bytes(&host)).unwrap(),
            400,
            "SerializationException",
            me,
        ));
    }
    // Parameters AWS validates, and what this service does not support.
    for (bad, status, kind) in [
        (
            &br#"{"KeySpec": "RSA_2048"}"#[..],
            400,
            "UnsupportedOperationException",
        ),
        (br#"{"KeySpec": "AES_9"}"#, 400, "ValidationException"),
        (
            br#"{"KeyUsage": "SIGN_VERIFY"}"#,
            400,
            "UnsupportedOperationException",
        ),
        (
            br#"{"Origin": "EXTERNAL"}"#,
            400,
            "UnsupportedOperationException",
        ),
        (
            br#"{"MultiRegion": true}"#,
            400,
            "UnsupportedOperationException",
        ),
        // Key policies are supported; one that does not parse is refused as AWS refuses it.
        (
            br#"{"Policy": "{}"}"#,
            400,
            "MalformedPolicyDocumentException",
        ),
        (
            br#"{"Policy": "{\"Version\": \"2012-10-17\", \"Statement\": [{\"Effect\": \"Allow\", \"Principal\": \"*\", \"Action\": \"kms:Fly\", \"Resource\": \"*\"}]}"}"#,
            400,
            "MalformedPolicyDocumentException",
        ),
        (
            br#"{"KeySpec": "SYMMETRIC_DEFAULT", "CustomerMasterKeySpec": "SYMMETRIC_DEFAULT"}"#,
            400,
            "ValidationException",
        ),
        (
            br#"{"Tags": [{"TagKey": "a", "TagValue": "1"}, {"TagKey": "a", "TagValue": "2"}]}"#,
            400,
            "TagException",
        ),
    ] {
        let req = Req::op("CreateKey", bad);
        refused.push((
            String::from_utf8(req.to_bytes(&host)).unwrap(),
            status,
            kind,
            me,
        ));
    }
    let gdk_bodies: Vec<(String, &str)> = vec![
        (json!({"KeyId": key_id}).to_string(), "ValidationException"),
        (
            json!({"KeyId": key_id, "KeySpec": "AES_256", "NumberOfBytes": 32}).to_string(),
            "ValidationException",
        ),
        (
            json!({"KeyId": key_id, "NumberOfBytes": 0}).to_string(),
            "ValidationException",
        ),
        (
            json!({"KeyId": key_id, "NumberOfBytes": 1025}).to_string(),
            "ValidationException",
        ),
        (
            json!({"KeySpec": "AES_256"}).to_string(),
            "ValidationException",
        ),
        (
            json!({"KeyId": "", "KeySpec": "AES_256"}).to_string(),
            "ValidationException",
        ),
        (
            json!({"KeyId": key_id, "KeySpec": "AES_256", "DryRun": true}).to_string(),
            "UnsupportedOperationException",
        ),
        (
            json!({"KeyId": "alias/nope", "KeySpec": "AES_256"}).to_string(),
            "NotFoundException",
        ),
    ];
    for (b, kind) in &gdk_bodies {
        let req = Req::op("GenerateDataKey", b.as_bytes());
        refused.push((
            String::from_utf8(req.to_bytes(&host)).unwrap(),
            400,
            kind,
            me,
        ));
    }
    for (op, b, kind) in [
        (
            "Decrypt",
            json!({"CiphertextBlob": "***"}),
            "SerializationException",
        ),
        ("Decrypt", json!({}), "ValidationException"),
        (
            "Decrypt",
            json!({"CiphertextBlob": b64(&[7u8; 6145])}),
            "ValidationException",
        ),
        (
            "Decrypt",
            json!({"CiphertextBlob": b64(b"garbage blob")}),
            "InvalidCiphertextException",
        ),
        (
            "Encrypt",
            json!({"KeyId": key_id, "Plaintext": b64(&[1u8; 4097])}),
            "ValidationException",
        ),
        (
            "Encrypt",
            json!({"KeyId": key_id, "Plaintext": b64(b"x"), "EncryptionAlgorithm": "RSAES_OAEP_SHA_1"}),
            "InvalidKeyUsageException",
        ),
        (
            "GenerateRandom",
            json!({"NumberOfBytes": 2000}),
            "ValidationException",
        ),
        (
            "EnableKeyRotation",
            json!({"KeyId": key_id, "RotationPeriodInDays": 30}),
            "ValidationException",
        ),
        (
            "ScheduleKeyDeletion",
            json!({"KeyId": key_id, "PendingWindowInDays": 3}),
            "ValidationException",
        ),
        (
            "ScheduleKeyDeletion",
            json!({"KeyId": key_id, "PendingWindowInDays": 400}),
            "ValidationException",
        ),
        (
            "CreateAlias",
            json!({"AliasName": "alias/bad name", "TargetKeyId": key_id}),
            "ValidationException",
        ),
        (
            "CreateAlias",
            json!({"AliasName": "alias/aws/reserved", "TargetKeyId": key_id}),
            "NotFoundException",
        ),
        (
            "CancelKeyDeletion",
            json!({"KeyId": key_id}),
            "KMSInvalidStateException",
        ),
    ] {
        let body = b.to_string();
        let req = Req::op(op, body.as_bytes());
        refused.push((
            String::from_utf8(req.to_bytes(&host)).unwrap(),
            400,
            kind,
            me,
        ));
    }

    let mut ids = Vec::new();
    for (raw, status, kind, _) in &refused {
        let reply = c.raw(raw.as_bytes()).await;
        if *kind == "NotFoundException" && reply.error_type() != "NotFoundException" {
            // Reserved alias names: AWS answers NotFoundException or InvalidAliasNameException.
            assert_reply(&reply, 400, "InvalidAliasNameException");
        } else {
            assert_reply(&reply, *status, kind);
        }
        ids.push(reply.request_id());
    }
    // Nothing changed.
    assert_eq!(c.ok("ListKeys", json!({})).await, before_keys);
    assert_eq!(
        c.ok("DescribeKey", json!({"KeyId": key_id})).await,
        before_key
    );
    assert_eq!(c.ok("ListAliases", json!({})).await["Aliases"], json!([]));

    // Oversized bodies: by Content-Length before reading, and chunked past the limit.
    let mut big = Client::connect(t.addr()).await;
    let head = format!(
        "POST / HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-amz-json-1.1\r\nX-Amz-Target: TrentService.CreateKey\r\nContent-Length: 10485760\r\n\r\n"
    );
    let reply = big.raw(head.as_bytes()).await;
    assert_reply(&reply, 413, "RequestEntityTooLargeException");
    ids.push(reply.request_id());
    let mut big = Client::connect(t.addr()).await;
    let mut chunked = format!(
        "POST / HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-amz-json-1.1\r\nX-Amz-Target: TrentService.CreateKey\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    .into_bytes();
    let chunk = vec![b' '; 64 * 1024];
    for _ in 0..5 {
        chunked.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        chunked.extend_from_slice(&chunk);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let reply = big.raw(&chunked).await;
    assert_reply(&reply, 413, "RequestEntityTooLargeException");
    ids.push(reply.request_id());
    refused.push((
        String::new(),
        413,
        "RequestEntityTooLargeException",
        "anonymous",
    ));
    refused.push((
        String::new(),
        413,
        "RequestEntityTooLargeException",
        "anonymous",
    ));
    // A body just under the limit is read (and then refused for what it is, not its size).
    let mut near = b"{\"Description\": \"".to_vec();
    near.extend(std::iter::repeat_n(b'a', 200 * 1024));
    near.extend_from_slice(b"\"}");
    let reply = c.send(&Req::op("CreateKey", &near)).await;
    assert_reply(&reply, 400, "ValidationException");
    assert_eq!(c.ok("ListKeys", json!({})).await, before_keys);

    // Every refusal is in the audit log under its request id, with its result and principal.
    let events = t.audit();
    for ((_, _, kind, principal), id) in refused.iter().zip(&ids) {
        let e = events
            .iter()
            .find(|e| e.request_id.as_deref() == Some(id))
            .unwrap_or_else(|| panic!("no audit event for request {id} ({kind})"));
        if *kind != "NotFoundException" {
            assert_eq!(e.result, *kind, "{e:?}");
        }
        assert_eq!(e.principal, *principal, "{e:?}");
        assert!(
            e.source
                .as_deref()
                .is_some_and(|s| s.starts_with("127.0.0.1:")),
            "{e:?}"
        );
        assert!(e.message.is_some(), "{e:?}");
    }
    let bad_sig = events
        .iter()
        .find(|e| e.request_id.as_deref() == Some(&ids[0]))
        .unwrap();
    assert_eq!(bad_sig.operation, "CreateKey");
    assert!(
        bad_sig.message.as_deref().unwrap().contains(AKID),
        "{bad_sig:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_log_records_successes_without_key_material() {
    let t = TestServer::start().await;
    let mut c = t.client().await;
    let key = c.ok("CreateKey", json!({})).await["KeyMetadata"].clone();
    let arn = key["Arn"].as_str().unwrap();
    let ctx = json!({"tenant": "t1"});
    let dk = c
        .ok(
            "GenerateDataKey",
            json!({"KeyId": arn, "KeySpec": "AES_256", "EncryptionContext": ctx}),
        )
        .await;
    let reply = c
        .call(
            "Decrypt",
            json!({"CiphertextBlob": dk["CiphertextBlob"], "EncryptionContext": ctx}),
        )
        .await;
    assert_eq!(reply.status, 200);
    let secret_plain = b"top secret plaintext bytes";
    let enc = c
        .ok(
            "Encrypt",
            json!({"KeyId": arn, "Plaintext": b64(secret_plain)}),
        )
        .await;
    let text = std::fs::read_to_string(&t.audit_path).unwrap();
    for needle in [
        dk["Plaintext"].as_str().unwrap(),
        dk["CiphertextBlob"].as_str().unwrap(),
        enc["CiphertextBlob"].as_str().unwrap(),
        &b64(secret_plain),
        "top secret",
        SECRET,
    ] {
        assert!(!text.contains(needle), "the audit log holds {needle}");
    }
    let events = t.audit();
    let decrypt = events
        .iter()
        .find(|e| e.request_id.as_deref() == Some(&reply.request_id()))
        .expect("decrypt event");
    assert_eq!(decrypt.operation, "Decrypt");
    assert_eq!(decrypt.result, "ok");
    assert_eq!(decrypt.principal, arn_of(AKID));
    assert_eq!(decrypt.key_id.as_deref(), Some(arn));
    assert_eq!(decrypt.key_version, Some(1));
    assert_eq!(
        decrypt
            .context
            .as_ref()
            .and_then(|c| c.get("tenant"))
            .map(String::as_str),
        Some("t1")
    );
    assert_eq!(events.iter().filter(|e| e.result == "ok").count(), 4);
}

/// A request signed with the limited access key.
async fn limited(c: &mut Client, op: &str, body: Value) -> Reply {
    let body = body.to_string();
    let mut req = Req::op(op, body.as_bytes());
    req.creds = Some((LIMITED_AKID, LIMITED_SECRET));
    let bytes = req.to_bytes(&c.host());
    c.raw(&bytes).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_keys_limited_to_some_keys() {
    let t = TestServer::start().await;
    let mut admin = t.client().await;
    let allowed = admin.ok("CreateKey", json!({})).await["KeyMetadata"].clone();
    let other = admin.ok("CreateKey", json!({})).await["KeyMetadata"].clone();
    let (allowed_id, other_id) = (
        allowed["KeyId"].as_str().unwrap().to_owned(),
        other["KeyId"].as_str().unwrap().to_owned(),
    );
    admin
        .ok(
            "CreateAlias",
            json!({"AliasName": "alias/mine", "TargetKeyId": allowed_id}),
        )
        .await;
    admin
        .ok(
            "CreateAlias",
            json!({"AliasName": "alias/theirs", "TargetKeyId": other_id}),
        )
        .await;
    let other_blob = admin
        .ok(
            "GenerateDataKey",
            json!({"KeyId": other_id, "KeySpec": "AES_256"}),
        )
        .await["CiphertextBlob"]
        .clone();
    drop(t.server);

    // Restart over the same keystore with a second, limited access key.
    let audit = Arc::new(AuditLog::open(&t.audit_path).unwrap());
    let config = ServerConfig::new(
        REGION,
        vec![
            AccessKey::new(AKID, SECRET),
            AccessKey::new(LIMITED_AKID, LIMITED_SECRET)
                .allow_only([allowed["Arn"].as_str().unwrap()]),
        ],
    )
    .with_audit(audit, AuditScope::EveryRequest);
    let server = KmsServer::new(config, Arc::new(t.kms.clone()))
        .unwrap()
        .bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let mut c = Client::connect(server.local_addr()).await;
    // Allowed: by id, ARN and alias.
    for id in [
        allowed_id.as_str(),
        allowed["Arn"].as_str().unwrap(),
        "alias/mine",
    ] {
        let r = limited(
            &mut c,
            "GenerateDataKey",
            json!({"KeyId": id, "KeySpec": "AES_256"}),
        )
        .await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        let blob = r.json()["CiphertextBlob"].clone();
        let r = limited(&mut c, "Decrypt", json!({"CiphertextBlob": blob})).await;
        assert_eq!(r.status, 200);
    }
    // Refused: the other key by id, alias; its blob; creating keys; disabling it.
    for (op, body) in [
        (
            "GenerateDataKey",
            json!({"KeyId": other_id, "KeySpec": "AES_256"}),
        ),
        (
            "GenerateDataKey",
            json!({"KeyId": "alias/theirs", "KeySpec": "AES_256"}),
        ),
        ("DescribeKey", json!({"KeyId": other_id})),
        ("Decrypt", json!({"CiphertextBlob": other_blob})),
        // With a wrong context too: refused for the key, before decrypting, so that the answer
        // does not tell whether the blob and context of a forbidden key are valid.
        (
            "Decrypt",
            json!({"CiphertextBlob": other_blob, "EncryptionContext": {"guess": "1"}}),
        ),
        (
            "Decrypt",
            json!({"CiphertextBlob": other_blob, "KeyId": other_id}),
        ),
        (
            "ReEncrypt",
            json!({"CiphertextBlob": other_blob, "DestinationKeyId": allowed_id,
                   "SourceEncryptionContext": {"guess": "1"}}),
        ),
        (
            "ReEncrypt",
            json!({"CiphertextBlob": other_blob, "DestinationKeyId": allowed_id}),
        ),
        ("CreateKey", json!({})),
        ("DisableKey", json!({"KeyId": other_id})),
        ("ScheduleKeyDeletion", json!({"KeyId": "alias/theirs"})),
        (
            "CreateAlias",
            json!({"AliasName": "alias/x", "TargetKeyId": other_id}),
        ),
        ("DeleteAlias", json!({"AliasName": "alias/theirs"})),
    ] {
        let r = limited(&mut c, op, body).await;
        assert_reply(&r, 400, "AccessDeniedException");
        assert!(!r.json()["message"].as_str().unwrap().is_empty());
    }
    // Lists show only its key.
    let r = limited(&mut c, "ListKeys", json!({})).await;
    assert_eq!(key_ids(&r.json()), BTreeSet::from([allowed_id.clone()]));
    let r = limited(&mut c, "ListAliases", json!({})).await;
    let names: Vec<String> = r.json()["Aliases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["AliasName"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["alias/mine"]);
    // Nothing changed for the other key; the refusals are audited under the limited principal.
    let mut admin = Client::connect(server.local_addr()).await;
    let d = admin.ok("DescribeKey", json!({"KeyId": other_id})).await;
    assert_eq!(d["KeyMetadata"]["KeyState"], "Enabled");
    let aliases = admin.ok("ListAliases", json!({})).await;
    assert_eq!(aliases["Aliases"].as_array().unwrap().len(), 2);
    let denied: Vec<AuditEvent> = AuditLog::read(&t.audit_path)
        .unwrap()
        .into_iter()
        .filter(|e| e.result == "AccessDeniedException")
        .collect();
    assert_eq!(denied.len(), 13);
    assert!(denied.iter().all(|e| e.principal == arn_of(LIMITED_AKID)));
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_alive_and_graceful_shutdown() {
    let mut t = TestServer::start().await;
    let mut c = t.client().await;
    for _ in 0..20 {
        c.ok("GenerateRandom", json!({"NumberOfBytes": 16})).await;
    }
    let addr = t.addr();
    t.server.take().unwrap().shutdown().await.unwrap();
    assert!(
        c.closed().await,
        "idle keep-alive connection closed on shutdown"
    );
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_time_out() {
    let t = TestServer::start_with(|mut c| {
        c.request_timeout = Duration::from_millis(300);
        c
    })
    .await;
    let mut c = t.client().await;
    // Headers promise a body that never comes.
    let head = format!(
        "POST / HTTP/1.1\r\nHost: {}\r\nContent-Type: application/x-amz-json-1.1\r\nX-Amz-Target: TrentService.ListKeys\r\nContent-Length: 100\r\n\r\n{{",
        c.host()
    );
    let reply = c.raw(head.as_bytes()).await;
    assert_reply(&reply, 408, "RequestTimeoutException");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_cap_wait_their_turn() {
    let t = TestServer::start_with(|mut c| {
        c.max_connections = 1;
        c
    })
    .await;
    let mut first = t.client().await;
    first
        .ok("GenerateRandom", json!({"NumberOfBytes": 8}))
        .await;
    // The second connection is accepted by the kernel but not served while the first is open.
    let mut second = t.client().await;
    let body = br#"{"NumberOfBytes": 8}"#;
    let bytes = Req::op("GenerateRandom", body).to_bytes(&second.host());
    let waiting = tokio::spawn(async move {
        let reply = second.raw(&bytes).await;
        (second, reply)
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!waiting.is_finished(), "served beyond the connection cap");
    drop(first);
    let (_, reply) = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("served once the first connection closed")
        .unwrap();
    assert_eq!(reply.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_keep_alive_connections_are_closed() {
    let t = TestServer::start_with(|mut c| {
        c.request_timeout = Duration::from_millis(300);
        c
    })
    .await;
    let mut c = t.client().await;
    c.ok("GenerateRandom", json!({"NumberOfBytes": 8})).await;
    assert!(
        c.closed().await,
        "an idle connection is closed after the request timeout"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_caller_kms_audits_each_request_once() {
    let dir = tempfile::tempdir().unwrap();
    let audit_path = dir.path().join("audit.jsonl");
    let audit = Arc::new(AuditLog::open(&audit_path).unwrap());
    let mut kms_config =
        LocalKmsConfig::new(dir.path().join("keys.osks"), RootKey::generate().unwrap());
    kms_config.audit = Some(Arc::clone(&audit));
    let local = LocalKms::open(kms_config).unwrap();
    let config = ServerConfig::new(REGION, vec![AccessKey::new(AKID, SECRET)])
        .with_audit(audit, AuditScope::NotSeenByKms);
    // As `objseal kms serve` does: a keystore handle acting for the signer's identity (its key
    // policies checked, its ARN in the audit events).
    let kms_for = Arc::new(move |c: &Caller| {
        let mut k = local
            .with_identity(c.identity.clone())
            .with_request_id(&c.request_id);
        if let Some(s) = c.source {
            k = k.with_source(s.to_string());
        }
        Arc::new(k) as Arc<dyn objseal_kms::Kms>
    });
    let server = KmsServer::per_caller(config, kms_for)
        .unwrap()
        .bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let mut c = Client::connect(server.local_addr()).await;
    let key = c.ok("CreateKey", json!({})).await["KeyMetadata"]["KeyId"].clone();
    let ok = c
        .call(
            "GenerateDataKey",
            json!({"KeyId": key, "KeySpec": "AES_256"}),
        )
        .await;
    let created = c.call("CreateKey", json!({})).await;
    let without_plaintext = c
        .call(
            "GenerateDataKeyWithoutPlaintext",
            json!({"KeyId": key, "KeySpec": "AES_256"}),
        )
        .await;
    let re_encrypted = c
        .call(
            "ReEncrypt",
            json!({"CiphertextBlob": without_plaintext.json()["CiphertextBlob"], "DestinationKeyId": key}),
        )
        .await;
    let random = c.call("GenerateRandom", json!({"NumberOfBytes": 8})).await;
    let refused_by_kms = c.call("DescribeKey", json!({"KeyId": "alias/none"})).await;
    let refused_by_server = c.call("GenerateDataKey", json!({"KeyId": key})).await;
    let mut unsigned = Req::op("ListKeys", b"{}");
    unsigned.creds = None;
    let bytes = unsigned.to_bytes(&c.host());
    let anonymous = c.raw(&bytes).await;
    let events = AuditLog::read(&audit_path).unwrap();
    let me = arn_of(AKID);
    for (reply, result, principal) in [
        (&ok, "ok", me.as_str()),
        (&created, "ok", &me),
        (&without_plaintext, "ok", &me),
        (&re_encrypted, "ok", &me),
        (&random, "ok", &me),
        (&refused_by_kms, "NotFoundException", &me),
        (&refused_by_server, "ValidationException", &me),
        (
            &anonymous,
            "MissingAuthenticationTokenException",
            "anonymous",
        ),
    ] {
        let id = reply.request_id();
        let mine: Vec<&AuditEvent> = events
            .iter()
            .filter(|e| e.request_id.as_deref() == Some(&id))
            .collect();
        assert_eq!(mine.len(), 1, "{result}: {mine:?}");
        assert_eq!(mine[0].result, result);
        assert_eq!(mine[0].principal, principal);
        assert!(mine[0].source.is_some());
    }
    server.shutdown().await.unwrap();
}

#[test]
fn configuration_is_checked() {
    let dir = tempfile::tempdir().unwrap();
    let kms: Arc<dyn objseal_kms::Kms> = Arc::new(
        LocalKms::open(LocalKmsConfig::new(
            dir.path().join("k"),
            RootKey::generate().unwrap(),
        ))
        .unwrap(),
    );
    let ok = ServerConfig::new(REGION, vec![AccessKey::new(AKID, SECRET)]);
    assert!(KmsServer::new(ok.clone(), Arc::clone(&kms)).is_ok());
    for bad in [
        ServerConfig::new("", vec![AccessKey::new(AKID, SECRET)]),
        ServerConfig::new(REGION, vec![]),
        ServerConfig::new(REGION, vec![AccessKey::new("", SECRET)]),
        ServerConfig::new(REGION, vec![AccessKey::new(AKID, "")]),
        ServerConfig::new(
            REGION,
            vec![AccessKey::new(AKID, SECRET), AccessKey::new(AKID, "x")],
        ),
        ServerConfig {
            max_body_bytes: 0,
            ..ok.clone()
        },
        ServerConfig {
            max_connections: 0,
            ..ok.clone()
        },
    ] {
        assert!(KmsServer::new(bad, Arc::clone(&kms)).is_err());
    }
    let debug = format!("{:?}", AccessKey::new(AKID, "super-secret-value"));
    assert!(!debug.contains("super-secret-value"), "{debug}");
}

/// The KMS of `objseal kms serve` answers the key policy operations in AWS's JSON shapes, refuses
/// a bad policy with AWS's error, and honours the on-behalf-of header only from service
/// principals, signed, naming a principal it knows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_policies_and_delegation_over_the_wire() {
    use objseal_kms::principal::Principal;
    use objseal_kms::server::ON_BEHALF_OF_HEADER;

    const S3_AKID: &str = "AKIDS3SERVICE";
    const S3_SECRET: &str = "s3-service-secret";
    const ALICE_AKID: &str = "AKIDALICE";
    const ALICE_SECRET: &str = "alice-secret";
    let t = TestServer::start_with(|mut c| {
        c.access_keys.push(AccessKey::from_principal(
            &Principal::new("objseal-s3", S3_AKID, S3_SECRET).as_service("s3"),
        ));
        c.access_keys
            .push(AccessKey::from_principal(&Principal::new(
                "alice",
                ALICE_AKID,
                ALICE_SECRET,
            )));
        c
    })
    .await;
    let mut c = t.client().await;
    let alice = "arn:aws:iam::000000000000:user/alice";
    let doc = |who: &str| {
        json!({"Version": "2012-10-17", "Statement": [{"Sid": "Use", "Effect": "Allow",
               "Principal": {"AWS": who}, "Action": "kms:*", "Resource": "*"}]})
        .to_string()
    };

    // CreateKey with a Policy; GetKeyPolicy and ListKeyPolicies with and without PolicyName.
    let key = c.ok("CreateKey", json!({"Policy": doc(alice)})).await["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_owned();
    for body in [
        json!({"KeyId": key}),
        json!({"KeyId": key, "PolicyName": "default"}),
    ] {
        let got = c.ok("GetKeyPolicy", body).await;
        assert_eq!(got, json!({"Policy": doc(alice), "PolicyName": "default"}));
    }
    assert_eq!(
        c.ok("ListKeyPolicies", json!({"KeyId": key})).await,
        json!({"PolicyNames": ["default"], "Truncated": false})
    );
    c.err(
        "GetKeyPolicy",
        json!({"KeyId": key, "PolicyName": "other"}),
        400,
        "NotFoundException",
    )
    .await;

    // PutKeyPolicy: a bad document is refused in AWS's shape and changes nothing.
    for bad in [
        "not json".to_owned(),
        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*",
               "Action": "kms:Teleport", "Resource": "*"}]})
        .to_string(),
        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*",
               "Action": "kms:Decrypt", "Resource": "*",
               "Condition": {"DateLessThan": {"aws:CurrentTime": "2030-01-01"}}}]})
        .to_string(),
    ] {
        let reply = c
            .err(
                "PutKeyPolicy",
                json!({"KeyId": key, "PolicyName": "default", "Policy": bad}),
                400,
                "MalformedPolicyDocumentException",
            )
            .await;
        assert!(
            reply.json()["message"]
                .as_str()
                .unwrap()
                .starts_with("malformed policy: "),
            "{:?}",
            reply.json()
        );
    }
    c.err(
        "PutKeyPolicy",
        json!({"KeyId": key, "PolicyName": "default"}),
        400,
        "ValidationException",
    )
    .await;
    // Longer than a key policy may be: malformed, as AWS says of a policy over its size limit.
    c.err(
        "PutKeyPolicy",
        json!({"KeyId": key, "Policy": "x".repeat(32 * 1024 + 1)}),
        400,
        "MalformedPolicyDocumentException",
    )
    .await;
    // Longer than AWS's length constraint on the member: refused before it is parsed.
    c.err(
        "PutKeyPolicy",
        json!({"KeyId": key, "Policy": "x".repeat(128 * 1024 + 1)}),
        400,
        "ValidationException",
    )
    .await;
    assert_eq!(
        c.ok("GetKeyPolicy", json!({"KeyId": key})).await["Policy"],
        doc(alice).as_str()
    );
    assert_eq!(
        c.ok(
            "PutKeyPolicy",
            json!({"KeyId": key, "PolicyName": "default", "Policy": doc("000000000000"),
                   "BypassPolicyLockoutSafetyCheck": false})
        )
        .await,
        json!({})
    );
    assert_eq!(
        c.ok("GetKeyPolicy", json!({"KeyId": key})).await["Policy"],
        doc("000000000000").as_str()
    );

    // Delegation: DescribeKey signed by `signer`, with the on-behalf-of header naming
    // `on_behalf`, among the signed headers or not.
    let describe = json!({"KeyId": key}).to_string();
    let host = c.host();
    let request = |signer: (&'static str, &'static str), on_behalf: &str, signed: bool| {
        let mut req = Req::op("DescribeKey", describe.as_bytes());
        req.creds = Some(signer);
        if signed {
            req.extra_headers.push((ON_BEHALF_OF_HEADER, on_behalf));
        }
        let mut bytes = String::from_utf8(req.to_bytes(&host)).unwrap();
        if !signed {
            // Added after signing: not among SignedHeaders, so the signature still verifies.
            bytes = bytes.replacen(
                "Content-Length:",
                &format!("{ON_BEHALF_OF_HEADER}: {on_behalf}\r\nContent-Length:"),
                1,
            );
        }
        bytes
    };
    let s3 = (S3_AKID, S3_SECRET);
    let mut refused_ids = Vec::new();
    for (bytes, why) in [
        (
            request((ALICE_AKID, ALICE_SECRET), AKID, true),
            "it is not a service principal",
        ),
        (request(s3, "alice", false), "header is not signed"),
        (request(s3, "not/a-name", true), "must be 1 to 64 of"),
    ] {
        let reply = c.raw(bytes.as_bytes()).await;
        assert_reply(&reply, 400, "AccessDeniedException");
        let message = reply.json()["message"].as_str().unwrap().to_owned();
        assert!(message.contains(why), "{message}");
        refused_ids.push(reply.request_id());
    }
    let for_alice = c.raw(request(s3, "alice", true).as_bytes()).await;
    assert_eq!(
        for_alice.status,
        200,
        "{}",
        String::from_utf8_lossy(&for_alice.body)
    );
    assert_eq!(for_alice.json()["KeyMetadata"]["KeyId"], key.as_str());
    // A principal the S3 server knows and this server does not is acted for too: the key
    // policy decides. The account's policy lets it in; one naming only alice does not.
    let for_nobody = c.raw(request(s3, "nobody", true).as_bytes()).await;
    assert_eq!(for_nobody.status, 200);
    c.ok("PutKeyPolicy", json!({"KeyId": key, "Policy": doc(alice)}))
        .await;
    let reply = c.raw(request(s3, "nobody", true).as_bytes()).await;
    assert_reply(&reply, 400, "AccessDeniedException");
    let message = reply.json()["message"].as_str().unwrap().to_owned();
    assert!(
        message.contains("user/nobody is not authorized to perform: kms:DescribeKey"),
        "{message}"
    );
    assert_eq!(
        c.raw(request(s3, "alice", true).as_bytes()).await.status,
        200
    );

    // The server's audit log names the principal acted for and the service that acted.
    let events = t.audit();
    let by_id = |id: &str| {
        events
            .iter()
            .find(|e| e.request_id.as_deref() == Some(id))
            .unwrap_or_else(|| panic!("no audit event for {id}"))
            .clone()
    };
    let s3_arn = "arn:aws:iam::000000000000:user/objseal-s3";
    for (reply, principal, result) in [
        (&for_alice, alice, "ok"),
        (&for_nobody, "arn:aws:iam::000000000000:user/nobody", "ok"),
        (
            &reply,
            "arn:aws:iam::000000000000:user/nobody",
            "AccessDeniedException",
        ),
    ] {
        let e = by_id(&reply.request_id());
        assert_eq!(e.principal, principal, "{e:?}");
        assert_eq!(e.result, result, "{e:?}");
        assert_eq!(e.invoked_by.as_deref(), Some(s3_arn), "{e:?}");
        assert_eq!(
            e.via_service.as_deref(),
            Some("s3.us-east-1.amazonaws.com"),
            "{e:?}"
        );
    }
    // Refused delegations are the signer's own requests.
    let refused: Vec<AuditEvent> = refused_ids.iter().map(|id| by_id(id)).collect();
    assert_eq!(refused[0].principal, alice);
    assert!(refused[1..].iter().all(|e| e.principal == s3_arn));
    assert!(refused.iter().all(|e| e.result == "AccessDeniedException"
        && e.invoked_by.is_none()
        && e.via_service.is_none()));
}
