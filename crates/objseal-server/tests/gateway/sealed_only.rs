//! Downgrade: a writer to the backend bucket (no keys) plants plaintext objects where encrypted
//! ones belong. A gateway with `sealed_only` refuses to serve them — GET, ranged GET, HEAD, copy
//! source, in-place copy — and seals every write; a gateway without it serves them as stored.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{MetadataDirective, ServerSideEncryption};

use crate::harness::*;

#[tokio::test]
async fn a_sealed_only_gateway_never_serves_planted_plaintext() {
    let Some(fleet) = Fleet::start().await else {
        return;
    };
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let open = fleet.gateway(dir_a.path()).await;
    let sealed = fleet
        .gateway_with(dir_b.path(), |c| c.sse.sealed_only = true)
        .await;
    let (a, b) = (client_of(&open), client_of(&sealed));
    a.create_bucket().bucket("downgrade").send().await.unwrap();
    let data = plaintext(70_000, 41);
    put(&a, "downgrade", "genuine", Mode::SseS3, &data).await;
    // Plaintext through the open gateway (stored with the layer's "none"), and planted straight
    // in the backend, once bare and once dressed as the layer's "none".
    put(&a, "downgrade", "through-gateway", Mode::None, &data).await;
    let direct = fleet.backend_client();
    let forged = b"attacker-chosen bytes, not sealed";
    direct
        .put_object()
        .bucket("downgrade")
        .key("planted")
        .body(ByteStream::from_static(forged))
        .send()
        .await
        .unwrap();
    direct
        .put_object()
        .bucket("downgrade")
        .key("planted-as-none")
        .metadata("objseal-sse", "none")
        .body(ByteStream::from_static(forged))
        .send()
        .await
        .unwrap();

    for key in ["through-gateway", "planted", "planted-as-none"] {
        let whole = refusal(b.get_object().bucket("downgrade").key(key).send().await);
        assert_eq!(whole, ("InvalidObjectState".into(), 403), "GET {key}");
        let ranged = b
            .get_object()
            .bucket("downgrade")
            .key(key)
            .range("bytes=0-9")
            .send()
            .await;
        assert_eq!(refusal(ranged).1, 403, "ranged GET {key}");
        // HEAD answers carry no body, so only the status tells.
        let head = b.head_object().bucket("downgrade").key(key).send().await;
        assert_eq!(refusal(head).1, 403, "HEAD {key}");
        let copy = b
            .copy_object()
            .bucket("downgrade")
            .key(format!("{key}-copy"))
            .copy_source(format!("downgrade/{key}"))
            .send()
            .await;
        assert_eq!(
            refusal(copy),
            ("InvalidObjectState".into(), 403),
            "copy of {key}"
        );
        let in_place = b
            .copy_object()
            .bucket("downgrade")
            .key(key)
            .copy_source(format!("downgrade/{key}"))
            .metadata_directive(MetadataDirective::Replace)
            .metadata("colour", "red")
            .send()
            .await;
        assert_eq!(refusal(in_place).1, 403, "in-place copy of {key}");
    }
    // Nothing was copied.
    let listed = b
        .list_objects_v2()
        .bucket("downgrade")
        .send()
        .await
        .unwrap();
    let keys: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert!(
        keys.iter().all(|k| !k.ends_with("-copy")),
        "copies of refused sources: {keys:?}"
    );

    // Genuine objects read as ever; a write that asks for no encryption is sealed (SSE-S3).
    check_reads(&b, "downgrade", "genuine", Mode::SseS3, &data).await;
    let written = plaintext(30_000, 43);
    put(&b, "downgrade", "written", Mode::None, &written).await;
    let h = head(&b, "downgrade", "written", Mode::None).await;
    assert_eq!(
        h.server_side_encryption(),
        Some(&ServerSideEncryption::Aes256)
    );
    assert_eq!(
        get(&b, "downgrade", "written", Mode::None, None).await,
        written
    );
    let stored = direct
        .get_object()
        .bucket("downgrade")
        .key("written")
        .send()
        .await
        .unwrap();
    let sse = stored
        .metadata()
        .and_then(|m| m.get("objseal-sse"))
        .cloned();
    assert!(
        sse.as_deref().is_some_and(|s| s != "none"),
        "stored sealed: {sse:?}"
    );
    let body = bytes(stored).await;
    assert!(!contains(&body, MARKER), "the backend holds no plaintext");

    // The open gateway serves what is stored, as documented.
    assert_eq!(
        get(&a, "downgrade", "planted", Mode::None, None).await,
        forged
    );
    open.shutdown().await.unwrap();
    sealed.shutdown().await.unwrap();
}
