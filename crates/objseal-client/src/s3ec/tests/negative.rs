//! Tampered, missing, mixed and unsupported metadata; altered bodies; policy.

use super::*;

fn with(base: &[(&str, &str)], name: &str, value: Option<&str>) -> HashMap<String, String> {
    let mut m = meta(base);
    match value {
        Some(v) => m.insert(name.to_string(), v.to_string()),
        None => m.remove(name),
    };
    m
}

fn v3_decrypt(m: &HashMap<String, String>, body_hex: &str) -> Result<Vec<u8>, S3ecError> {
    let env = parse(m)?;
    let mut body = hex::decode(body_hex).unwrap();
    match env.decrypt_in_place(&data_key(), &mut body, CommitmentPolicy::RequireCommitment) {
        Ok(()) => Ok(body),
        Err(e) => {
            assert!(body.is_empty(), "body not wiped after {e}");
            Err(e)
        }
    }
}

const OTHER_28: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGw==";

#[test]
fn every_required_v3_field_missing() {
    for name in ["x-amz-c", "x-amz-w", "x-amz-d", "x-amz-i"] {
        let e = parse(&with(&V3_META, name, None)).unwrap_err();
        assert_eq!(e, S3ecError::MissingField(name), "{name}");
    }
    // Without the wrapped key, V3 content fields point at an instruction file.
    let e = parse(&with(&V3_META, "x-amz-3", None)).unwrap_err();
    assert_eq!(e, S3ecError::InstructionFile);
    // S3EC always writes x-amz-t (with aws:x-amz-cek-alg); we require it, so the data key is only
    // ever asked of the KMS under a context bound to the format.
    let e = parse(&with(&V3_META, "x-amz-t", None)).unwrap_err();
    assert_eq!(e, S3ecError::MissingField("x-amz-t"));
}

#[test]
fn every_required_v2_field_missing() {
    for name in [
        "x-amz-key-v2",
        "x-amz-wrap-alg",
        "x-amz-iv",
        "x-amz-cek-alg",
    ] {
        let e = parse(&with(&V2_META, name, None)).unwrap_err();
        assert_eq!(e, S3ecError::MissingField(name), "{name}");
    }
    assert!(parse(&with(&V2_META, "x-amz-tag-len", None)).is_ok());
    let e = parse(&with(&V2_META, "x-amz-matdesc", None)).unwrap_err();
    assert_eq!(e, S3ecError::MissingField("x-amz-matdesc"));
}

#[test]
fn malformed_fields_are_named() {
    type Meta = [(&'static str, &'static str)];
    let cases: [(&Meta, &str, &str); 9] = [
        (&V3_META, "x-amz-i", "AAAA"),
        (&V3_META, "x-amz-i", "not base64!"),
        (&V3_META, "x-amz-d", "AAAA"),
        (&V3_META, "x-amz-3", ""),
        (&V3_META, "x-amz-t", "[1, 2]"),
        (
            &V3_META,
            "x-amz-t",
            r#"{"aws:x-amz-cek-alg": "AES/GCM/NoPadding"}"#,
        ),
        (&V2_META, "x-amz-iv", "AAAAAAAAAAAAAAAAAAAAAA=="),
        (&V2_META, "x-amz-matdesc", r#"{"a": 1}"#),
        (&V2_META, "x-amz-key-v2", "%%%"),
    ];
    for (base, name, value) in cases {
        match parse(&with(base, name, Some(value))) {
            Err(S3ecError::Malformed { field, .. }) => assert_eq!(field, name, "{name}={value}"),
            other => panic!("{name}={value}: {other:?}"),
        }
    }
    let mut m = meta(&V3_META);
    m.insert("X-AMZ-D".into(), OTHER_28.into());
    assert!(matches!(
        parse(&m),
        Err(S3ecError::Malformed {
            field: "x-amz-d",
            ..
        })
    ));
}

#[test]
fn unsupported_algorithms() {
    let e = parse(&with(&V3_META, "x-amz-c", Some("114"))).unwrap_err();
    assert_eq!(e, S3ecError::UnsupportedContentAlgorithm("114".into()));
    for w in ["02", "22", "kms+context"] {
        let e = parse(&with(&V3_META, "x-amz-w", Some(w))).unwrap_err();
        assert_eq!(e, S3ecError::UnsupportedWrapAlgorithm(w.into()));
    }
    let e = parse(&with(
        &V2_META,
        "x-amz-cek-alg",
        Some("AES/CBC/PKCS5Padding"),
    ))
    .unwrap_err();
    assert!(
        matches!(e, S3ecError::UnsupportedContentAlgorithm(_)),
        "{e}"
    );
    for w in ["kms", "AES/GCM", "RSA-OAEP-SHA1"] {
        let e = parse(&with(&V2_META, "x-amz-wrap-alg", Some(w))).unwrap_err();
        assert_eq!(e, S3ecError::UnsupportedWrapAlgorithm(w.into()));
    }
    let e = parse(&with(&V2_META, "x-amz-tag-len", Some("96"))).unwrap_err();
    assert_eq!(e, S3ecError::UnsupportedTagLength("96".into()));
    // V1 (x-amz-key): CBC, not read.
    let v1 = meta(&[
        ("x-amz-key", BLOB_B64),
        ("x-amz-iv", "AAAAAAAAAAAAAAAAAAAAAA=="),
        ("x-amz-matdesc", "{}"),
    ]);
    assert!(matches!(
        parse(&v1),
        Err(S3ecError::UnsupportedContentAlgorithm(_))
    ));
    // Long values are cut short in messages.
    let long = "9".repeat(500);
    let e = parse(&with(&V3_META, "x-amz-c", Some(&long))).unwrap_err();
    assert!(e.to_string().len() < 120, "{e}");
}

#[test]
fn mixed_versions_are_refused() {
    for (name, value) in [
        ("x-amz-key-v2", BLOB_B64),
        ("x-amz-iv", "C+ueKtQg1PR0Vi8T"),
        ("x-amz-key", BLOB_B64),
    ] {
        let e = parse(&with(&V3_META, name, Some(value))).unwrap_err();
        assert_eq!(e, S3ecError::MixedVersions, "{name}");
    }
    for (name, value) in [
        ("x-amz-3", BLOB_B64),
        ("x-amz-d", OTHER_28),
        ("x-amz-c", "115"),
    ] {
        let e = parse(&with(&V2_META, name, Some(value))).unwrap_err();
        assert_eq!(e, S3ecError::MixedVersions, "{name}");
    }
}

#[test]
fn instruction_files_are_not_supported() {
    let e = parse(&meta(&[("x-amz-crypto-instr-file", "")])).unwrap_err();
    assert_eq!(e, S3ecError::InstructionFile);
    let content_only = meta(&[V3_META[0], V3_META[4], V3_META[5]]);
    assert_eq!(
        parse(&content_only).unwrap_err(),
        S3ecError::InstructionFile
    );
}

#[test]
fn tampered_commitment_or_message_id_fails_the_commitment() {
    for name in ["x-amz-d", "x-amz-i"] {
        let e = v3_decrypt(&with(&V3_META, name, Some(OTHER_28)), V3_BODY).unwrap_err();
        assert_eq!(e, S3ecError::CommitmentMismatch, "{name}");
    }
}

#[test]
fn wrong_data_key_fails_the_commitment() {
    let env = parse(&meta(&V3_META)).unwrap();
    let mut body = hex::decode(V3_BODY).unwrap();
    let mut key = data_key();
    key[0] ^= 1;
    let e = env.decrypt_in_place(&key, &mut body, CommitmentPolicy::RequireCommitment);
    assert_eq!(e, Err(S3ecError::CommitmentMismatch));
    assert!(body.is_empty());
}

#[test]
fn every_flipped_bit_fails_the_tag() {
    let len = hex::decode(V3_BODY).unwrap().len();
    for bit in (0..len * 8).step_by(7) {
        let mut body = hex::decode(V3_BODY).unwrap();
        body[bit / 8] ^= 1 << (bit % 8);
        let env = parse(&meta(&V3_META)).unwrap();
        let e = env.decrypt_in_place(&data_key(), &mut body, CommitmentPolicy::RequireCommitment);
        assert_eq!(e, Err(S3ecError::TagMismatch), "bit {bit}");
        assert!(body.is_empty());
    }
    let mut v2 = hex::decode(V2_BODY).unwrap();
    v2[3] ^= 0x80;
    let env = parse(&meta(&V2_META)).unwrap();
    let e = env.decrypt_in_place(&data_key(), &mut v2, CommitmentPolicy::AllowLegacy);
    assert_eq!(e, Err(S3ecError::TagMismatch));
}

#[test]
fn tampered_v2_iv_fails_the_tag() {
    let env = parse(&with(&V2_META, "x-amz-iv", Some("AAAAAAAAAAAAAAAA"))).unwrap();
    let mut body = hex::decode(V2_BODY).unwrap();
    let e = env.decrypt_in_place(&data_key(), &mut body, CommitmentPolicy::AllowLegacy);
    assert_eq!(e, Err(S3ecError::TagMismatch));
}

#[test]
fn truncated_bodies() {
    let env = parse(&meta(&V3_META)).unwrap();
    let full = hex::decode(V3_BODY).unwrap();
    for cut in [0, 1, 15, 16, full.len() - 1] {
        let mut body = full[..cut].to_vec();
        let e = env
            .decrypt_in_place(&data_key(), &mut body, CommitmentPolicy::RequireCommitment)
            .unwrap_err();
        if cut < 16 {
            assert!(
                matches!(e, S3ecError::Malformed { field: "body", .. }),
                "{cut}: {e}"
            );
        } else {
            assert_eq!(e, S3ecError::TagMismatch, "{cut}");
        }
        assert!(body.is_empty());
    }
}

#[test]
fn v2_is_refused_under_require_commitment() {
    let env = parse(&meta(&V2_META)).unwrap();
    let mut body = hex::decode(V2_BODY).unwrap();
    let e = env.decrypt_in_place(&data_key(), &mut body, CommitmentPolicy::RequireCommitment);
    assert_eq!(e, Err(S3ecError::LegacyRefused));
    assert!(body.is_empty());
    assert_eq!(
        CommitmentPolicy::default(),
        CommitmentPolicy::RequireCommitment
    );
}

#[test]
fn context_checks() {
    let env = parse(&meta(&V3_META)).unwrap();
    let cases = [
        ctx(&[]),
        ctx(&[("bucket", "photos")]),
        ctx(&[("bucket", "photos"), ("purpose", "other")]),
        ctx(&[("bucket", "photos"), ("purpose", "fixture"), ("extra", "1")]),
    ];
    for expected in cases {
        assert_eq!(
            env.check_context(&expected),
            Err(S3ecError::ContextMismatch),
            "{expected:?}"
        );
    }
    let reserved = ctx(&[
        ("bucket", "photos"),
        ("purpose", "fixture"),
        ("aws:x-amz-cek-alg", "115"),
    ]);
    assert_eq!(
        env.check_context(&reserved),
        Err(S3ecError::ReservedContextKey)
    );
    // A tampered x-amz-t is a context mismatch for the caller (and a KMS refusal in any case).
    // Without the format's own entry it is malformed.
    let stripped = with(
        &V3_META,
        "x-amz-t",
        Some(r#"{"bucket": "photos", "purpose": "fixture"}"#),
    );
    assert!(matches!(
        parse(&stripped),
        Err(S3ecError::Malformed {
            field: "x-amz-t",
            ..
        })
    ));
    let tampered = with(
        &V3_META,
        "x-amz-t",
        Some(r#"{"bucket": "other", "purpose": "fixture", "aws:x-amz-cek-alg": "115"}"#),
    );
    let env = parse(&tampered).unwrap();
    assert_eq!(
        env.check_context(&ctx(&[("bucket", "photos"), ("purpose", "fixture")])),
        Err(S3ecError::ContextMismatch)
    );
}
