//! The SSE response headers: every response about an encrypted object says how it is encrypted
//! (UploadPart included — clients otherwise take an opaque ETag for an MD5 and fail).

use s3s::dto::ServerSideEncryption;

use super::record::{Sealing, SseKind};

/// What a response echoes.
#[derive(Default, Clone)]
pub(crate) struct SseEcho {
    pub sse: Option<ServerSideEncryption>,
    pub kms_key_id: Option<String>,
    pub kms_context: Option<String>,
    pub bucket_key: Option<bool>,
    pub customer_algorithm: Option<String>,
    pub customer_key_md5: Option<String>,
}

impl SseEcho {
    /// The echo of `sealing`; `customer_md5` is the key MD5 the client sent (SSE-C).
    pub fn of(sealing: &Sealing, customer_md5: Option<&str>) -> Self {
        match sealing.kind {
            SseKind::None => SseEcho::default(),
            SseKind::S3 => SseEcho {
                sse: Some(ServerSideEncryption::from_static(
                    ServerSideEncryption::AES256,
                )),
                ..Default::default()
            },
            SseKind::Kms => SseEcho {
                sse: Some(ServerSideEncryption::from_static(
                    ServerSideEncryption::AWS_KMS,
                )),
                kms_key_id: sealing.kms_key.clone(),
                kms_context: Some(super::request::encode_kms_context(&sealing.kms_context)),
                bucket_key: sealing.bucket_key.then_some(true),
                ..Default::default()
            },
            SseKind::Customer => SseEcho {
                customer_algorithm: Some("AES256".into()),
                customer_key_md5: customer_md5.map(str::to_owned),
                ..Default::default()
            },
        }
    }
}

/// Sets the SSE fields every S3 output with SSE headers has.
macro_rules! echo_sse {
    ($out:expr, $echo:expr) => {{
        let e = &$echo;
        $out.server_side_encryption = e.sse.clone();
        $out.ssekms_key_id = e.kms_key_id.clone();
        $out.bucket_key_enabled = e.bucket_key;
        $out.sse_customer_algorithm = e.customer_algorithm.clone();
        $out.sse_customer_key_md5 = e.customer_key_md5.clone();
    }};
}
pub(crate) use echo_sse;
