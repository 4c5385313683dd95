//! What the client must do against any S3 store; `tests/objseal_serve.rs` and `tests/moto.rs` run
//! each scenario against one store.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use objseal_client::layout::instruction_key;
use objseal_client::{
    ByteRange, ClientError, GetOptions, Keyring, Location, ObjectFormat, PutOptions,
};
use objseal_core::Error;

use super::{Env, PART, data, kek};

fn ctx(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn put_opts(pairs: &[(&str, &str)]) -> PutOptions {
    PutOptions {
        context: ctx(pairs),
        ..PutOptions::default()
    }
}

fn get_opts(pairs: &[(&str, &str)]) -> GetOptions {
    GetOptions {
        context: ctx(pairs),
        ..GetOptions::default()
    }
}

/// Reads through `get_to` and checks that a failure released nothing.
async fn get_nothing(
    client: &objseal_client::EncryptingClient,
    key: &str,
    options: &GetOptions,
) -> ClientError {
    let mut out = Vec::new();
    let err = client
        .get_to("bucket", key, options, &mut out)
        .await
        .expect_err("the read must fail");
    assert!(out.is_empty(), "{err}: {} bytes released", out.len());
    err
}

fn assert_format(err: &ClientError, want: &[Error]) {
    match err {
        ClientError::Format(e) if want.contains(e) => {}
        other => panic!("expected one of {want:?}, got {other:?}"),
    }
}

pub async fn round_trips(env: &Env) {
    let client = env.default_client().await;
    let opts = put_opts(&[("app", "tests")]);
    let read = get_opts(&[("app", "tests")]);
    for len in [0usize, 1, 65536, 65537, 3 * 65536 + 5] {
        let key = format!("small-{len}");
        let plaintext = data(len);
        let put = client.put("bucket", &key, &plaintext, &opts).await.unwrap();
        assert_eq!(
            (put.plaintext_len, put.parts),
            (len as u64, 0),
            "{}",
            env.name()
        );
        let (raw, _) = env.raw_get(&key).await;
        assert_eq!(raw.len() as u64, put.stored_len);
        assert!(len < 16 || raw.windows(16).all(|w| w != &plaintext[..16]));
        let (got, info) = client.get("bucket", &key, &read).await.unwrap();
        assert_eq!(got, plaintext, "{len} bytes via {}", env.name());
        assert_eq!(info.format, ObjectFormat::Objseal);
    }
}

pub async fn multipart_100_mib(env: &Env) {
    let client = env.default_client().await;
    let len = 100 << 20;
    let plaintext = data(len);
    let put = client
        .put("bucket", "big", &plaintext, &PutOptions::default())
        .await
        .unwrap();
    assert_eq!(put.parts, 20);
    let (got, info) = client
        .get("bucket", "big", &GetOptions::default())
        .await
        .unwrap();
    assert_eq!(info.format, ObjectFormat::ObjsealMultipart);
    assert!(got == plaintext, "100 MiB round trip via {}", env.name());
    // Ranges at chunk and part boundaries, and a suffix.
    let chunk = 65536u64;
    let part = PART as u64;
    for (first, last) in [
        (0, 0),
        (chunk - 1, chunk),
        (part - 1, part),
        (part - 10, 2 * part + 10),
        (3 * part + chunk, 3 * part + 2 * chunk - 1),
        (len as u64 - 1, len as u64 - 1),
    ] {
        let options = GetOptions {
            range: Some(ByteRange::Inclusive { first, last }),
            ..GetOptions::default()
        };
        let (got, info) = client.get("bucket", "big", &options).await.unwrap();
        assert_eq!(info.range, first..last + 1);
        assert!(
            got == plaintext[first as usize..=last as usize],
            "{first}..={last}"
        );
    }
    let options = GetOptions {
        range: Some(ByteRange::Suffix(part + 3)),
        ..GetOptions::default()
    };
    let (got, _) = client.get("bucket", "big", &options).await.unwrap();
    assert!(got == plaintext[len - PART - 3..]);
    // Streaming: the same bytes through get_to.
    let mut sink = Vec::new();
    client
        .get_to("bucket", "big", &GetOptions::default(), &mut sink)
        .await
        .unwrap();
    assert!(sink == plaintext);
    // A dropped part: the body loses one segment, the manifest still lists it.
    let (raw, meta) = env.raw_get("big").await;
    let segment = objseal_core::range::ciphertext_len(part, 16).unwrap() as usize;
    let mut dropped = raw[..segment].to_vec();
    dropped.extend_from_slice(&raw[2 * segment..]);
    env.raw_put("big", dropped, meta.clone()).await;
    assert_format(
        &get_nothing(&client, "big", &GetOptions::default()).await,
        &[Error::Truncated],
    );
    // Two parts swapped: same lengths, but each sits where another segment's key is expected.
    let mut swapped = raw[segment..2 * segment].to_vec();
    swapped.extend_from_slice(&raw[..segment]);
    swapped.extend_from_slice(&raw[2 * segment..]);
    env.raw_put("big", swapped, meta).await;
    let err = client
        .get("bucket", "big", &GetOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ClientError::Format(Error::ChunkAuth { segment: 1, .. })
        ),
        "{err:?}"
    );
}

pub async fn ranges(env: &Env) {
    let client = env.default_client().await;
    let len = 5 * 65536 + 100;
    let plaintext = data(len);
    client
        .put("bucket", "r", &plaintext, &PutOptions::default())
        .await
        .unwrap();
    let cases = [
        ByteRange::Inclusive { first: 0, last: 0 },
        ByteRange::Inclusive {
            first: 65535,
            last: 65536,
        },
        ByteRange::Inclusive {
            first: 65536,
            last: 2 * 65536 - 1,
        },
        ByteRange::Inclusive {
            first: 10,
            last: u64::MAX,
        },
        ByteRange::From(5 * 65536),
        ByteRange::Suffix(1),
        ByteRange::Suffix(101),
        ByteRange::Suffix(len as u64 + 50),
    ];
    for range in cases {
        let options = GetOptions {
            range: Some(range),
            ..GetOptions::default()
        };
        let (got, info) = client.get("bucket", "r", &options).await.unwrap();
        let r = info.range.start as usize..info.range.end as usize;
        assert_eq!(got, plaintext[r], "{range:?}");
    }
    for range in [
        ByteRange::From(len as u64),
        ByteRange::Suffix(0),
        ByteRange::Inclusive { first: 5, last: 4 },
    ] {
        let options = GetOptions {
            range: Some(range),
            ..GetOptions::default()
        };
        assert_format(
            &get_nothing(&client, "r", &options).await,
            &[Error::RangeNotSatisfiable],
        );
    }
    // A suffix read of a truncated object is refused before a byte is released, even when its
    // first request would verify (the final chunk is checked first).
    let (raw, meta) = env.raw_get("r").await;
    env.raw_put("r", raw[..raw.len() - 116].to_vec(), meta.clone())
        .await;
    let options = GetOptions {
        range: Some(ByteRange::Suffix(65536 * 2)),
        ..GetOptions::default()
    };
    assert_format(
        &get_nothing(&client, "r", &options).await,
        &[Error::Truncated],
    );
    assert_format(
        &get_nothing(&client, "r", &GetOptions::default()).await,
        &[Error::Truncated],
    );
    // Extended by a whole sealed chunk's worth of garbage.
    let mut extended = raw.clone();
    extended.extend_from_slice(&[0u8; 65536 + 16 + 7]);
    env.raw_put("r", extended, meta.clone()).await;
    assert_format(
        &get_nothing(&client, "r", &GetOptions::default()).await,
        // The lengthened final chunk (5) or the new last one (6), whichever is reported first.
        &[
            Error::ChunkAuth {
                segment: 0,
                chunk: 5,
            },
            Error::ChunkAuth {
                segment: 0,
                chunk: 6,
            },
            Error::TrailingData,
        ],
    );
    // A flipped bit in chunk 2: reads of other chunks still verify, reads of it never.
    let mut flipped = raw.clone();
    flipped[2 * (65536 + 16) + 5] ^= 1;
    env.raw_put("r", flipped, meta).await;
    let options = GetOptions {
        range: Some(ByteRange::Inclusive { first: 0, last: 10 }),
        ..GetOptions::default()
    };
    assert_eq!(
        client.get("bucket", "r", &options).await.unwrap().0,
        plaintext[..11]
    );
    let options = GetOptions {
        range: Some(ByteRange::Inclusive {
            first: 2 * 65536,
            last: 2 * 65536,
        }),
        ..GetOptions::default()
    };
    let err = get_nothing(&client, "r", &options).await;
    assert!(
        matches!(
            err,
            ClientError::Format(Error::ChunkAuth {
                segment: 0,
                chunk: 2
            })
        ),
        "{err:?}"
    );
}

pub async fn wrong_keys_and_contexts(env: &Env) {
    let writer = env.client(Keyring::new().with_kek(kek(1))).await;
    writer
        .put("bucket", "k", b"secret data", &put_opts(&[("tenant", "a")]))
        .await
        .unwrap();
    // A reader without the KEK: strict selection finds no key for the object.
    let other = env.client(Keyring::new().with_kek(kek(2))).await;
    let err = get_nothing(&other, "k", &get_opts(&[("tenant", "a")])).await;
    assert!(
        matches!(&err, ClientError::NoMatchingKey { object_key_ids } if object_key_ids == &["kek-1"]),
        "{err:?}"
    );
    // A KEK of the same name but other bytes: the unwrap fails.
    let impostor =
        objseal_core::wrap::LocalKek::new(objseal_core::Kek::from_bytes([9; 32]), "kek-1", 1)
            .unwrap();
    let impostor = env.client(Keyring::new().with_kek(impostor)).await;
    assert_format(
        &get_nothing(&impostor, "k", &get_opts(&[("tenant", "a")])).await,
        &[Error::UnwrapFailed],
    );
    // The right key, the wrong context.
    assert_format(
        &get_nothing(&writer, "k", &get_opts(&[("tenant", "b")])).await,
        &[Error::UnwrapFailed],
    );
    assert_format(
        &get_nothing(&writer, "k", &GetOptions::default()).await,
        &[Error::UnwrapFailed],
    );
    let err = writer
        .put("bucket", "x", b"", &put_opts(&[("aws:x", "1")]))
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::InvalidArgument(_)), "{err:?}");
    // KMS: the wrong context is the KMS's refusal.
    let kms = env.client(env.kms_keyring(0)).await;
    kms.put("bucket", "kms", b"kms data", &put_opts(&[("tenant", "a")]))
        .await
        .unwrap();
    assert_eq!(
        kms.get("bucket", "kms", &get_opts(&[("tenant", "a")]))
            .await
            .unwrap()
            .0,
        b"kms data"
    );
    let err = get_nothing(&kms, "kms", &get_opts(&[("tenant", "b")])).await;
    assert!(matches!(err, ClientError::Kms(_)), "{err:?}");
}

pub async fn strict_key_selection(env: &Env) {
    // Someone who may use KMS key B writes an object where the reader (configured with key A)
    // expects one: strict mode refuses it, discovery (opt-in) would read it.
    let attacker = env.client(env.kms_keyring(1)).await;
    attacker
        .put("bucket", "subst", b"attacker data", &PutOptions::default())
        .await
        .unwrap();
    let reader = env.client(env.kms_keyring(0)).await;
    let err = get_nothing(&reader, "subst", &GetOptions::default()).await;
    assert!(
        matches!(&err, ClientError::NoMatchingKey { object_key_ids } if object_key_ids == &[env.kms_keys[1].clone()]),
        "{err:?}"
    );
    // A blob that claims key A while its ciphertext is under key B: the KMS refuses it, because the
    // reader pins the key it was configured with.
    let (body, mut meta) = env.raw_get("subst").await;
    let blob = B64.decode(&meta["objseal-keys"]).unwrap();
    let parsed = objseal_core::format::wrapped_key::WrappedKey::parse(&blob).unwrap();
    let relabelled = objseal_core::format::wrapped_key::WrappedKey {
        key_id: &env.kms_keys[0],
        ..parsed
    };
    let mut out = vec![0; relabelled.encoded_len()];
    relabelled.encode(&mut out).unwrap();
    meta.insert("objseal-keys".into(), B64.encode(&out));
    env.raw_put("subst", body, meta).await;
    let err = get_nothing(&reader, "subst", &GetOptions::default()).await;
    assert!(matches!(err, ClientError::Kms(_)), "{err:?}");
    let discovering = env
        .client(env.kms_keyring(0).with_discovery(env.kms.clone()))
        .await;
    attacker
        .put("bucket", "subst2", b"attacker data", &PutOptions::default())
        .await
        .unwrap();
    assert_eq!(
        discovering
            .get("bucket", "subst2", &GetOptions::default())
            .await
            .unwrap()
            .0,
        b"attacker data"
    );
}

pub async fn swapped_and_tampered_metadata(env: &Env) {
    let client = env.client(Keyring::new().with_kek(kek(1))).await;
    let unbound = PutOptions {
        location: Location::Unbound,
        ..PutOptions::default()
    };
    let unbound_read = GetOptions {
        location: Location::Unbound,
        ..GetOptions::default()
    };
    client
        .put("bucket", "one", &data(1000), &unbound)
        .await
        .unwrap();
    client
        .put("bucket", "two", &data(2000), &unbound)
        .await
        .unwrap();
    let (_, meta_one) = env.raw_get("one").await;
    let (body_two, mut meta_two) = env.raw_get("two").await;
    // Object one's wrapped key on object two (same KEK, same context): it unwraps to the other
    // object's data key, which the header refuses.
    meta_two.insert("objseal-keys".into(), meta_one["objseal-keys"].clone());
    env.raw_put("two", body_two.clone(), meta_two.clone()).await;
    assert_format(
        &get_nothing(&client, "two", &unbound_read).await,
        &[Error::HeaderAuth],
    );
    // Every byte of the header matters.
    let (_, good_meta) = {
        client
            .put("bucket", "two", &data(2000), &unbound)
            .await
            .unwrap();
        env.raw_get("two").await
    };
    let (body, _) = env.raw_get("two").await;
    let header = B64.decode(&good_meta["objseal-header"]).unwrap();
    for at in [0, 3, 6, 7, 8, 40, 72, 103] {
        let mut bad = header.clone();
        bad[at] ^= 0x01;
        let mut meta = good_meta.clone();
        meta.insert("objseal-header".into(), B64.encode(&bad));
        env.raw_put("two", body.clone(), meta).await;
        let err = get_nothing(&client, "two", &unbound_read).await;
        assert!(
            matches!(err, ClientError::Format(_)),
            "header byte {at}: {err:?}"
        );
    }
    // Garbage, missing and extra entries.
    for (name, value) in [
        ("objseal-header", "***"),
        ("objseal-keys", "AAAA"),
        ("objseal-instruction", "manifest"),
    ] {
        let mut meta = good_meta.clone();
        meta.insert(name.into(), value.into());
        env.raw_put("two", body.clone(), meta).await;
        let err = get_nothing(&client, "two", &unbound_read).await;
        assert!(matches!(err, ClientError::Format(_)), "{name}: {err:?}");
    }
    let mut meta = good_meta.clone();
    meta.remove("objseal-keys");
    env.raw_put("two", body.clone(), meta).await;
    assert!(matches!(
        get_nothing(&client, "two", &unbound_read).await,
        ClientError::Format(_)
    ));
    let mut meta = good_meta.clone();
    meta.remove("objseal-header");
    env.raw_put("two", body, meta).await;
    assert!(matches!(
        get_nothing(&client, "two", &unbound_read).await,
        ClientError::NotEncrypted { .. }
    ));
}

pub async fn tampered_manifest(env: &Env) {
    let client = env.client(Keyring::new().with_kek(kek(1))).await;
    client
        .put("bucket", "mp", &data(PART + 10), &PutOptions::default())
        .await
        .unwrap();
    client
        .put("bucket", "mp2", &data(PART + 10), &PutOptions::default())
        .await
        .unwrap();
    let (instruction, _) = env.raw_get(&instruction_key("mp")).await;
    let (other, _) = env.raw_get(&instruction_key("mp2")).await;
    // A manifest from another object (of the same shape) fails its tag.
    env.raw_put(&instruction_key("mp"), other, Default::default())
        .await;
    assert_format(
        &get_nothing(&client, "mp", &GetOptions::default()).await,
        &[Error::ManifestAuth],
    );
    let mut flipped = instruction.clone();
    let n = flipped.len();
    flipped[n - 40] ^= 1;
    env.raw_put(&instruction_key("mp"), flipped, Default::default())
        .await;
    assert_format(
        &get_nothing(&client, "mp", &GetOptions::default()).await,
        &[Error::ManifestAuth],
    );
    env.raw_put(
        &instruction_key("mp"),
        instruction.clone(),
        Default::default(),
    )
    .await;
    assert_eq!(
        client
            .get("bucket", "mp", &GetOptions::default())
            .await
            .unwrap()
            .0,
        data(PART + 10)
    );
    client
        .s3()
        .delete_object()
        .bucket("bucket")
        .key(instruction_key("mp"))
        .send()
        .await
        .unwrap();
    assert_format(
        &get_nothing(&client, "mp", &GetOptions::default()).await,
        &[Error::BadManifest("the instruction object is missing")],
    );
}

pub async fn copies_and_locations(env: &Env) {
    let client = env.default_client().await;
    let plaintext = data(70_000);
    client
        .put("bucket", "src", &plaintext, &PutOptions::default())
        .await
        .unwrap();
    // A byte-for-byte copy under another name is refused unless the reader says where it was written.
    client
        .s3()
        .copy_object()
        .bucket("bucket")
        .key("moved")
        .copy_source("bucket/src")
        .send()
        .await
        .unwrap();
    assert!(matches!(
        get_nothing(&client, "moved", &GetOptions::default()).await,
        ClientError::Format(_) | ClientError::Kms(_)
    ));
    let written_as = GetOptions {
        location: Location::WrittenAs {
            bucket: "bucket".into(),
            key: "src".into(),
        },
        ..GetOptions::default()
    };
    assert_eq!(
        client.get("bucket", "moved", &written_as).await.unwrap().0,
        plaintext
    );
    // The client's copy re-encrypts for the new name.
    client
        .copy(
            ("bucket", "src"),
            ("bucket", "dst"),
            &GetOptions::default(),
            &PutOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(
        client
            .get("bucket", "dst", &GetOptions::default())
            .await
            .unwrap()
            .0,
        plaintext
    );
    let (a, _) = env.raw_get("src").await;
    let (b, _) = env.raw_get("dst").await;
    assert_ne!(a, b);
    // A copy whose write side refuses at once ends (no deadlock on the full channel).
    let bad_write = PutOptions {
        metadata: [("Objseal-Keys".to_owned(), "x".to_owned())].into(),
        ..PutOptions::default()
    };
    let copied = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        client.copy(
            ("bucket", "src"),
            ("bucket", "dst2"),
            &GetOptions::default(),
            &bad_write,
        ),
    )
    .await
    .expect("copy hung");
    assert!(
        matches!(copied, Err(ClientError::InvalidArgument(_))),
        "{copied:?}"
    );
    let reserved = client
        .put(
            "bucket",
            "src.objseal-instruction",
            b"x",
            &PutOptions::default(),
        )
        .await;
    assert!(
        matches!(reserved, Err(ClientError::InvalidArgument(_))),
        "{reserved:?}"
    );
    // A copy whose source fails writes nothing.
    let err = client
        .copy(
            ("bucket", "moved"),
            ("bucket", "never"),
            &GetOptions::default(),
            &PutOptions::default(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, ClientError::Format(_) | ClientError::Kms(_)),
        "{err:?}"
    );
    assert!(matches!(
        client.head("bucket", "never").await,
        Err(ClientError::NotFound { .. })
    ));
}

pub async fn list_head_delete(env: &Env) {
    let client = env.default_client().await;
    client
        .put("bucket", "dir/a", &data(10), &PutOptions::default())
        .await
        .unwrap();
    client
        .put("bucket", "dir/b", &data(PART + 1), &PutOptions::default())
        .await
        .unwrap();
    let listed: Vec<String> = client
        .list("bucket", "dir/")
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.key)
        .collect();
    assert_eq!(listed, ["dir/a", "dir/b"]);
    let info = client.head("bucket", "dir/a").await.unwrap();
    assert_eq!(info.format, Some(ObjectFormat::Objseal));
    assert_eq!(info.plaintext_len, Some(10));
    assert_eq!(info.key_ids, [env.kms_keys[0].clone(), "kek-1".to_owned()]);
    let info = client.head("bucket", "dir/b").await.unwrap();
    assert_eq!(info.format, Some(ObjectFormat::ObjsealMultipart));
    assert_eq!(info.plaintext_len, Some(PART as u64 + 1));
    client.delete("bucket", "dir/b").await.unwrap();
    let raw = env
        .raw()
        .await
        .list_objects_v2()
        .bucket("bucket")
        .prefix("dir/")
        .send()
        .await
        .unwrap();
    let left: Vec<&str> = raw.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(left, ["dir/a"]);
    assert!(matches!(
        client.head("bucket", "dir/b").await,
        Err(ClientError::NotFound { .. })
    ));
}

pub async fn rewrap_changes_only_keys(env: &Env) {
    let a = env.client(Keyring::new().with_kek(kek(1))).await;
    let plaintext = data(PART + 77);
    a.put("bucket", "rw", &plaintext, &put_opts(&[("t", "1")]))
        .await
        .unwrap();
    let read = get_opts(&[("t", "1")]);
    let (body_before, _) = env.raw_get("rw").await;
    // Add a recovery KEK and a KMS key, then drop the first KEK.
    let out = a
        .rewrap(
            "bucket",
            "rw",
            &read,
            Keyring::new()
                .with_kek(kek(1))
                .with_kek(kek(2))
                .with_kms_key(env.kms.clone(), env.kms_keys[1].clone()),
            false,
        )
        .await
        .unwrap();
    assert_eq!(out.key_ids, ["kek-1", "kek-2", env.kms_keys[1].as_str()]);
    let b = env.client(Keyring::new().with_kek(kek(2))).await;
    assert!(b.get("bucket", "rw", &read).await.unwrap().0 == plaintext);
    b.rewrap("bucket", "rw", &read, env.kms_keyring(1), false)
        .await
        .unwrap();
    assert!(matches!(
        get_nothing(&a, "rw", &read).await,
        ClientError::NoMatchingKey { .. }
    ));
    let kms = env.client(env.kms_keyring(1)).await;
    assert!(kms.get("bucket", "rw", &read).await.unwrap().0 == plaintext);
    // Keys moving into the instruction object (16 recipients) and back out: readable throughout.
    let mut many = Keyring::new();
    for n in 1..=16 {
        many = many.with_kek(kek(n));
    }
    kms.rewrap("bucket", "rw", &read, many, false)
        .await
        .unwrap();
    let (_, meta) = env.raw_get("rw").await;
    assert_eq!(meta["objseal-instruction"], "keys,manifest");
    assert!(b.get("bucket", "rw", &read).await.unwrap().0 == plaintext);
    b.rewrap(
        "bucket",
        "rw",
        &read,
        Keyring::new().with_kek(kek(3)),
        false,
    )
    .await
    .unwrap();
    let (_, meta) = env.raw_get("rw").await;
    assert_eq!(meta["objseal-instruction"], "manifest");
    let c = env.client(Keyring::new().with_kek(kek(3))).await;
    assert!(c.get("bucket", "rw", &read).await.unwrap().0 == plaintext);
    let (body_after, _) = env.raw_get("rw").await;
    assert!(body_before == body_after, "the data was rewritten");
}

pub async fn many_recipients_use_the_instruction_object(env: &Env) {
    let mut keys = Keyring::new();
    for n in 1..=16 {
        keys = keys.with_kek(kek(n));
    }
    keys = keys.with_kms_key(env.kms.clone(), env.kms_keys[0].clone());
    let err = objseal_client::EncryptingClient::connect(env.config.clone(), keys)
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::InvalidArgument(_)), "{err:?}");
    let mut keys = Keyring::new().with_kms_key(env.kms.clone(), env.kms_keys[0].clone());
    for n in 1..=15 {
        keys = keys.with_kek(kek(n));
    }
    let client = env.client(keys).await;
    client
        .put("bucket", "many", &data(5000), &PutOptions::default())
        .await
        .unwrap();
    let (_, meta) = env.raw_get("many").await;
    assert_eq!(
        meta.get("objseal-instruction").map(String::as_str),
        Some("keys")
    );
    assert!(!meta.contains_key("objseal-keys"));
    let reader = env.client(Keyring::new().with_kek(kek(15))).await;
    assert_eq!(
        reader
            .get("bucket", "many", &GetOptions::default())
            .await
            .unwrap()
            .0,
        data(5000)
    );
    assert_eq!(
        client.head("bucket", "many").await.unwrap().key_ids.len(),
        16
    );
}

/// A source that fails after some bytes.
struct FailingReader(usize);

impl tokio::io::AsyncRead for FailingReader {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        if self.0 == 0 {
            return std::task::Poll::Ready(Err(std::io::Error::other("the source broke")));
        }
        let n = self.0.min(buf.remaining());
        buf.put_slice(&vec![7u8; n]);
        self.0 -= n;
        std::task::Poll::Ready(Ok(()))
    }
}

pub async fn failed_upload_leaves_nothing(env: &Env) {
    let client = env.client(Keyring::new().with_kek(kek(1))).await;
    let err = client
        .put_stream(
            "bucket",
            "broken",
            &mut FailingReader(3 * PART + 5),
            &PutOptions::default(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Io(_)), "{err:?}");
    // The abort is sent from a task: give it a moment.
    let mut pending = 1;
    for _ in 0..50 {
        let uploads = client
            .s3()
            .list_multipart_uploads()
            .bucket("bucket")
            .send()
            .await
            .unwrap();
        pending = uploads.uploads().len();
        if pending == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(pending, 0, "the failed upload was not aborted");
    assert!(matches!(
        client.head("bucket", "broken").await,
        Err(ClientError::NotFound { .. })
    ));
}
