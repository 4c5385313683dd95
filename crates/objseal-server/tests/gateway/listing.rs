//! Listings page past the gateway's reserved prefix.

use aws_sdk_s3::types::ServerSideEncryption;

use crate::harness::*;

/// ListObjects (V1) pages past the gateway's own keys: a page holding only `.objseal/` keys comes
/// back empty but says where it ended (NextMarker), so a client paging one key at a time sees
/// every object and stops.
#[tokio::test]
async fn v1_listings_page_past_the_reserved_prefix() {
    let Some(fleet) = Fleet::start().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let gw = fleet.gateway(dir.path()).await;
    let c = client_of(&gw);
    c.create_bucket().bucket("pages").send().await.unwrap();
    // `.objseal/bucket.json` sorts between the two objects.
    c.put_bucket_encryption()
        .bucket("pages")
        .server_side_encryption_configuration(
            aws_sdk_s3::types::ServerSideEncryptionConfiguration::builder()
                .rules(
                    aws_sdk_s3::types::ServerSideEncryptionRule::builder()
                        .apply_server_side_encryption_by_default(
                            aws_sdk_s3::types::ServerSideEncryptionByDefault::builder()
                                .sse_algorithm(ServerSideEncryption::Aes256)
                                .build()
                                .unwrap(),
                        )
                        .build(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    put(&c, "pages", "-before", Mode::None, b"one").await;
    put(&c, "pages", "zz-after", Mode::None, b"two").await;
    let mut seen = Vec::new();
    let mut marker: Option<String> = None;
    for _ in 0..10 {
        let page = c
            .list_objects()
            .bucket("pages")
            .max_keys(1)
            .set_marker(marker.clone())
            .send()
            .await
            .unwrap();
        seen.extend(
            page.contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_owned)),
        );
        if !page.is_truncated().unwrap_or(false) {
            marker = None;
            break;
        }
        marker = page
            .next_marker()
            .map(str::to_owned)
            .or_else(|| seen.last().cloned());
    }
    assert!(marker.is_none(), "the listing did not end");
    assert_eq!(seen, ["-before", "zz-after"]);
    gw.shutdown().await.unwrap();
}
