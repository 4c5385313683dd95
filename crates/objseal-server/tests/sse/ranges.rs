//! Ranged reads (206) at chunk edges, suffixes and open ranges, in every mode.

use aws_sdk_s3::types::ServerSideEncryption;

use crate::assert_refused;
use crate::common::*;

#[tokio::test]
async fn ranges_at_chunk_boundaries_in_every_mode() {
    let env = Env::start().await;
    env.bucket("rng").await;
    let c = &env.client;
    let ck = customer_key(3);
    let len = 20 * 65536 + 100;
    let plain = data(len, 11);
    for mode in ["none", "s3", "kms", "ssec"] {
        let mut put = c.put_object().bucket("rng").key(mode).body(body(&plain));
        match mode {
            "s3" => put = put.server_side_encryption(ServerSideEncryption::Aes256),
            "kms" => put = put.server_side_encryption(ServerSideEncryption::AwsKms),
            "ssec" => {
                put = put
                    .sse_customer_algorithm("AES256")
                    .sse_customer_key(&ck.b64)
                    .sse_customer_key_md5(&ck.md5)
            }
            _ => {}
        }
        put.send().await.unwrap();
        let n = len as u64;
        let cases: Vec<(String, u64, u64)> = vec![
            ("bytes=0-0".into(), 0, 1),
            (format!("bytes={}-{}", n - 1, n - 1), n - 1, n),
            ("bytes=65535-65536".into(), 65535, 65537),
            ("bytes=65536-131071".into(), 65536, 131072),
            ("bytes=100-".into(), 100, n),
            ("bytes=-100".into(), n - 100, n),
            (format!("bytes=-{}", n + 10), 0, n),
            (format!("bytes=5-{}", n + 1000), 5, n),
            ("bytes=1000-1200000".into(), 1000, 1_200_001),
        ];
        for (range, start, end) in cases {
            let mut get = c.get_object().bucket("rng").key(mode).range(&range);
            if mode == "ssec" {
                get = get
                    .sse_customer_algorithm("AES256")
                    .sse_customer_key(&ck.b64)
                    .sse_customer_key_md5(&ck.md5);
            }
            let out = get
                .send()
                .await
                .unwrap_or_else(|e| panic!("{mode} {range}: {e:?}"));
            assert_eq!(
                out.content_length(),
                Some((end - start) as i64),
                "{mode} {range}"
            );
            assert_eq!(
                out.content_range(),
                Some(format!("bytes {}-{}/{}", start, end - 1, n).as_str()),
                "{mode} {range}"
            );
            assert_eq!(
                collect(out).await,
                &plain[start as usize..end as usize],
                "{mode} {range}"
            );
        }
        let mut get = c
            .get_object()
            .bucket("rng")
            .key(mode)
            .range(format!("bytes={}-", n));
        if mode == "ssec" {
            get = get
                .sse_customer_algorithm("AES256")
                .sse_customer_key(&ck.b64)
                .sse_customer_key_md5(&ck.md5);
        }
        assert_refused!(get.send().await, "InvalidRange", 416);
    }
    env.stop().await;
}
