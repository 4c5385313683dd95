//! Multipart uploads: one segment per part, parts in any order and re-uploaded, ranges and
//! part numbers across part boundaries, and the SSE-C rules of every part.

use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, ServerSideEncryption};

use crate::assert_refused;
use crate::common::*;

const MIB5: usize = 5 * 1024 * 1024;

#[tokio::test]
async fn multipart_in_every_mode_with_ranges_across_parts() {
    let env = Env::start().await;
    env.bucket("mpu").await;
    let c = &env.client;
    let ck = customer_key(4);
    let parts = [data(MIB5 + 1, 1), data(MIB5 + 1, 2), data(1000, 3)];
    let whole: Vec<u8> = parts.concat();
    for mode in ["none", "s3", "kms", "ssec"] {
        let mut create = c.create_multipart_upload().bucket("mpu").key(mode);
        match mode {
            "s3" => create = create.server_side_encryption(ServerSideEncryption::Aes256),
            "kms" => create = create.server_side_encryption(ServerSideEncryption::AwsKms),
            "ssec" => {
                create = create
                    .sse_customer_algorithm("AES256")
                    .sse_customer_key(&ck.b64)
                    .sse_customer_key_md5(&ck.md5)
            }
            _ => {}
        }
        let up = create.send().await.unwrap();
        let id = up.upload_id().unwrap().to_owned();
        let ssec = mode == "ssec";
        let upload = |n: i32, b: &[u8]| {
            let mut r = c
                .upload_part()
                .bucket("mpu")
                .key(mode)
                .upload_id(&id)
                .part_number(n)
                .body(body(b));
            if ssec {
                r = r
                    .sse_customer_algorithm("AES256")
                    .sse_customer_key(&ck.b64)
                    .sse_customer_key_md5(&ck.md5);
            }
            r.send()
        };
        // Out of order, and part 2 uploaded twice (first with the wrong bytes).
        let e3 = upload(3, &parts[2]).await.unwrap();
        let stale = upload(2, &parts[0]).await.unwrap();
        let e1 = upload(1, &parts[0]).await.unwrap();
        let e2 = upload(2, &parts[1]).await.unwrap();
        match mode {
            "s3" => assert_eq!(
                e1.server_side_encryption(),
                Some(&ServerSideEncryption::Aes256)
            ),
            "kms" => assert!(e1.ssekms_key_id().is_some()),
            "ssec" => assert_eq!(e1.sse_customer_key_md5(), Some(ck.md5.as_str())),
            _ => {}
        }
        let list = c
            .list_parts()
            .bucket("mpu")
            .key(mode)
            .upload_id(&id)
            .send()
            .await
            .unwrap();
        let sizes: Vec<i64> = list.parts().iter().map(|p| p.size().unwrap()).collect();
        assert_eq!(
            sizes,
            vec![(MIB5 + 1) as i64, (MIB5 + 1) as i64, 1000],
            "{mode}: ListParts shows plaintext sizes"
        );
        let completed = |tags: [&str; 3]| {
            CompletedMultipartUpload::builder()
                .set_parts(Some(
                    tags.iter()
                        .enumerate()
                        .map(|(i, t)| {
                            CompletedPart::builder()
                                .part_number(i as i32 + 1)
                                .e_tag(*t)
                                .build()
                        })
                        .collect(),
                ))
                .build()
        };
        // A stale part's ETag is refused.
        let mut bad = c
            .complete_multipart_upload()
            .bucket("mpu")
            .key(mode)
            .upload_id(&id)
            .multipart_upload(completed([
                e1.e_tag().unwrap(),
                stale.e_tag().unwrap(),
                e3.e_tag().unwrap(),
            ]));
        if ssec {
            bad = bad
                .sse_customer_algorithm("AES256")
                .sse_customer_key(&ck.b64)
                .sse_customer_key_md5(&ck.md5);
        }
        assert_refused!(bad.send().await, "InvalidPart", 400);
        // The upload is listed under the id its client was given.
        let listed = c
            .list_multipart_uploads()
            .bucket("mpu")
            .prefix(mode)
            .send()
            .await
            .unwrap();
        assert_eq!(listed.uploads()[0].upload_id(), Some(id.as_str()), "{mode}");
        // Complete takes no customer key (as on Amazon S3): the upload id carries what it needs.
        let done = c
            .complete_multipart_upload()
            .bucket("mpu")
            .key(mode)
            .upload_id(&id)
            .multipart_upload(completed([
                e1.e_tag().unwrap(),
                e2.e_tag().unwrap(),
                e3.e_tag().unwrap(),
            ]))
            .send()
            .await
            .unwrap();
        assert!(
            unquote(done.e_tag()).ends_with("-3"),
            "{mode}: {:?}",
            done.e_tag()
        );

        let get = |range: Option<String>, part: Option<i32>| {
            let mut g = c
                .get_object()
                .bucket("mpu")
                .key(mode)
                .set_range(range)
                .set_part_number(part);
            if ssec {
                g = g
                    .sse_customer_algorithm("AES256")
                    .sse_customer_key(&ck.b64)
                    .sse_customer_key_md5(&ck.md5);
            }
            g.send()
        };
        let all = get(None, None).await.unwrap();
        assert_eq!(all.content_length(), Some(whole.len() as i64));
        assert_eq!(unquote(all.e_tag()), unquote(done.e_tag()));
        assert_eq!(collect(all).await, whole, "{mode}");
        let b = MIB5 as u64 + 1;
        let n = whole.len() as u64;
        for (start, end) in [
            (0, 1),
            (b - 1, b + 1),
            (b - 10, 2 * b + 10),
            (2 * b, n),
            (n - 1, n),
            (b, b + 1),
        ] {
            let out = get(Some(format!("bytes={}-{}", start, end - 1)), None)
                .await
                .unwrap();
            assert_eq!(
                collect(out).await,
                &whole[start as usize..end as usize],
                "{mode} {start}-{end}"
            );
        }
        let out = get(Some("bytes=-1500".into()), None).await.unwrap();
        assert_eq!(collect(out).await, &whole[whole.len() - 1500..]);
        if mode != "none" {
            let out = get(None, Some(2)).await.unwrap();
            assert_eq!(out.parts_count(), Some(3));
            assert_eq!(out.content_length(), Some((MIB5 + 1) as i64));
            assert_eq!(collect(out).await, parts[1], "{mode} partNumber=2");
        }
        let head = c
            .list_objects_v2()
            .bucket("mpu")
            .prefix(mode)
            .send()
            .await
            .unwrap();
        assert_eq!(head.contents()[0].size(), Some(whole.len() as i64));
    }
    env.stop().await;
}

#[tokio::test]
async fn ssec_parts_need_the_uploads_key_and_small_parts_are_refused() {
    let env = Env::start().await;
    env.bucket("mpu").await;
    let c = &env.client;
    let ck = customer_key(4);
    let other = customer_key(5);
    let up = c
        .create_multipart_upload()
        .bucket("mpu")
        .key("c")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&ck.b64)
        .sse_customer_key_md5(&ck.md5)
        .send()
        .await
        .unwrap();
    let id = up.upload_id().unwrap();
    assert_refused!(
        c.upload_part()
            .bucket("mpu")
            .key("c")
            .upload_id(id)
            .part_number(1)
            .body(body(b"x"))
            .send()
            .await,
        "InvalidRequest",
        400
    );
    assert_refused!(
        c.upload_part()
            .bucket("mpu")
            .key("c")
            .upload_id(id)
            .part_number(1)
            .sse_customer_algorithm("AES256")
            .sse_customer_key(&other.b64)
            .sse_customer_key_md5(&other.md5)
            .body(body(b"x"))
            .send()
            .await,
        "InvalidArgument",
        400
    );
    let p1 = c
        .upload_part()
        .bucket("mpu")
        .key("c")
        .upload_id(id)
        .part_number(1)
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&ck.b64)
        .sse_customer_key_md5(&ck.md5)
        .body(body(b"small"))
        .send()
        .await
        .unwrap();
    let p2 = c
        .upload_part()
        .bucket("mpu")
        .key("c")
        .upload_id(id)
        .part_number(2)
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&ck.b64)
        .sse_customer_key_md5(&ck.md5)
        .body(body(b"tail"))
        .send()
        .await
        .unwrap();
    let parts = CompletedMultipartUpload::builder()
        .parts(
            CompletedPart::builder()
                .part_number(1)
                .e_tag(p1.e_tag().unwrap())
                .build(),
        )
        .parts(
            CompletedPart::builder()
                .part_number(2)
                .e_tag(p2.e_tag().unwrap())
                .build(),
        )
        .build();
    assert_refused!(
        c.complete_multipart_upload()
            .bucket("mpu")
            .key("c")
            .upload_id(id)
            .sse_customer_algorithm("AES256")
            .sse_customer_key(&other.b64)
            .sse_customer_key_md5(&other.md5)
            .multipart_upload(parts.clone())
            .send()
            .await,
        "InvalidArgument",
        400
    );
    // Without the key, completion proceeds to the part checks (the key is not required).
    assert_refused!(
        c.complete_multipart_upload()
            .bucket("mpu")
            .key("c")
            .upload_id(id)
            .multipart_upload(parts.clone())
            .send()
            .await,
        "EntityTooSmall",
        400
    );
    assert_refused!(
        c.complete_multipart_upload()
            .bucket("mpu")
            .key("c")
            .upload_id(id)
            .sse_customer_algorithm("AES256")
            .sse_customer_key(&ck.b64)
            .sse_customer_key_md5(&ck.md5)
            .multipart_upload(parts)
            .send()
            .await,
        "EntityTooSmall",
        400
    );
    // A forged state (kind "none": no encryption) on the real store id is no upload at all.
    let forged = format!("{}.AQAA", id.rsplit_once('.').unwrap().0);
    assert_refused!(
        c.upload_part()
            .bucket("mpu")
            .key("c")
            .upload_id(&forged)
            .part_number(1)
            .body(body(b"x"))
            .send()
            .await,
        "NoSuchUpload",
        404
    );
    // Abort; the upload is gone.
    c.abort_multipart_upload()
        .bucket("mpu")
        .key("c")
        .upload_id(id)
        .send()
        .await
        .unwrap();
    assert_refused!(
        c.list_parts()
            .bucket("mpu")
            .key("c")
            .upload_id(id)
            .send()
            .await,
        "NoSuchUpload",
        404
    );
    assert_refused!(
        c.upload_part()
            .bucket("mpu")
            .key("c")
            .upload_id("garbage")
            .part_number(1)
            .body(body(b"x"))
            .send()
            .await,
        "NoSuchUpload",
        404
    );
    env.stop().await;
}
