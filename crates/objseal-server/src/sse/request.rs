//! The SSE headers of a request, parsed and checked the way Amazon S3 checks them.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use md5::{Digest as _, Md5};
use subtle::ConstantTimeEq as _;
use zeroize::Zeroizing;

use s3s::S3Error;
use s3s::dto::ServerSideEncryption;

use super::errors::{invalid_argument, invalid_request};

/// The encryption a write asks for.
#[derive(Debug)]
pub(crate) enum SseChoice {
    /// Stored as given.
    None,
    /// SSE-S3 (`AES256`): the server's own key wraps the data key.
    S3,
    /// SSE-KMS (`aws:kms`).
    Kms(KmsChoice),
    /// SSE-C: the customer's key wraps the data key.
    Customer(CustomerKey),
}

/// The SSE-KMS parameters of a write.
#[derive(Debug, Clone, Default)]
pub(crate) struct KmsChoice {
    /// Key id, ARN or alias; `None` means the server's default key.
    pub key_id: Option<String>,
    /// The caller's encryption context (`x-amz-server-side-encryption-context`), decoded.
    pub context: BTreeMap<String, String>,
    /// `x-amz-server-side-encryption-bucket-key-enabled`.
    pub bucket_key: bool,
}

/// A customer-provided key (SSE-C): the 32 key bytes, zeroized on drop, never logged.
pub(crate) struct CustomerKey {
    key: Zeroizing<[u8; 32]>,
    /// The key's MD5 as the client sent it (base64), echoed in responses; never stored.
    pub md5_b64: String,
}

impl std::fmt::Debug for CustomerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CustomerKey(<redacted>)")
    }
}

impl CustomerKey {
    /// The key bytes.
    pub fn bytes(&self) -> &[u8; 32] {
        &self.key
    }
}

/// The three SSE-C headers of one side of a request (the object, or a copy source).
pub(crate) struct CustomerHeaders<'a> {
    pub algorithm: Option<&'a str>,
    pub key: Option<&'a str>,
    pub md5: Option<&'a str>,
}

impl CustomerHeaders<'_> {
    /// Whether any of the three is present.
    pub fn any(&self) -> bool {
        self.algorithm.is_some() || self.key.is_some() || self.md5.is_some()
    }

    /// The key, if the headers are present; `InvalidArgument` if they are incomplete or wrong.
    pub fn parse(&self, tls: bool, allow_http: bool) -> Result<Option<CustomerKey>, S3Error> {
        if !self.any() {
            return Ok(None);
        }
        if !tls && !allow_http {
            return Err(invalid_request(
                "Requests specifying Server Side Encryption with Customer provided keys must be made over a secure connection.",
            ));
        }
        match self.algorithm {
            Some("AES256") => {}
            Some(_) => {
                return Err(invalid_argument(
                    "The SSE-C algorithm is not valid: it must be AES256.",
                ));
            }
            None => {
                return Err(invalid_argument(
                    "Requests specifying Server Side Encryption with Customer provided keys must provide a valid encryption algorithm.",
                ));
            }
        }
        let key_b64 = self.key.ok_or_else(|| {
            invalid_argument(
                "Requests specifying Server Side Encryption with Customer provided keys must provide an appropriate secret key.",
            )
        })?;
        let md5_b64 = self.md5.ok_or_else(|| {
            invalid_argument(
                "Requests specifying Server Side Encryption with Customer provided keys must provide the client calculated MD5 of the secret key.",
            )
        })?;
        let decoded = Zeroizing::new(B64.decode(key_b64.trim()).map_err(|_| {
            invalid_argument("The secret key was invalid for the specified algorithm.")
        })?);
        if decoded.len() != 32 {
            return Err(invalid_argument(
                "The secret key was invalid for the specified algorithm.",
            ));
        }
        let mut key = Zeroizing::new([0u8; 32]);
        key.copy_from_slice(&decoded);
        let expected = B64.decode(md5_b64.trim()).map_err(|_| {
            invalid_argument(
                "The calculated MD5 hash of the key did not match the hash that was provided.",
            )
        })?;
        let actual = Md5::digest(key.as_slice());
        if expected.len() != actual.len() || !bool::from(actual.as_slice().ct_eq(&expected)) {
            return Err(invalid_argument(
                "The calculated MD5 hash of the key did not match the hash that was provided.",
            ));
        }
        Ok(Some(CustomerKey {
            key,
            md5_b64: B64.encode(actual),
        }))
    }
}

/// The SSE fields of a write (PutObject, CreateMultipartUpload, CopyObject destination).
pub(crate) struct WriteSseHeaders<'a> {
    pub sse: Option<&'a ServerSideEncryption>,
    pub kms_key_id: Option<&'a str>,
    pub kms_context: Option<&'a str>,
    pub bucket_key: Option<bool>,
    pub customer: CustomerHeaders<'a>,
}

/// The SSE-C headers of a request's input: `customer_headers!(input)` for the object's,
/// `customer_headers!(input, copy_source)` for a copy source's.
macro_rules! customer_headers {
    ($i:expr) => {
        $crate::sse::request::CustomerHeaders {
            algorithm: $i.sse_customer_algorithm.as_deref(),
            key: $i.sse_customer_key.as_deref(),
            md5: $i.sse_customer_key_md5.as_deref(),
        }
    };
    ($i:expr, copy_source) => {
        $crate::sse::request::CustomerHeaders {
            algorithm: $i.copy_source_sse_customer_algorithm.as_deref(),
            key: $i.copy_source_sse_customer_key.as_deref(),
            md5: $i.copy_source_sse_customer_key_md5.as_deref(),
        }
    };
}
pub(crate) use customer_headers;

/// The SSE headers of a write's input (PutObject, CreateMultipartUpload, CopyObject).
macro_rules! write_sse_headers {
    ($i:expr) => {
        $crate::sse::request::WriteSseHeaders {
            sse: $i.server_side_encryption.as_ref(),
            kms_key_id: $i.ssekms_key_id.as_deref(),
            kms_context: $i.ssekms_encryption_context.as_deref(),
            bucket_key: $i.bucket_key_enabled,
            customer: $crate::sse::request::customer_headers!($i),
        }
    };
}
pub(crate) use write_sse_headers;

/// The bucket's default encryption, when it has one.
#[derive(Debug, Clone)]
pub(crate) enum BucketDefault {
    S3,
    Kms {
        key_id: Option<String>,
        bucket_key: bool,
    },
}

impl WriteSseHeaders<'_> {
    /// The encryption this write gets: its own headers, else the bucket default, else none.
    pub fn choose(
        &self,
        tls: bool,
        allow_http: bool,
        bucket_default: Option<BucketDefault>,
    ) -> Result<SseChoice, S3Error> {
        let customer = self.customer.parse(tls, allow_http)?;
        let sse = self.sse.map(|s| s.as_str());
        match sse {
            None | Some("AES256") | Some("aws:kms") => {}
            Some(other) => {
                return Err(invalid_argument(format!(
                    "The encryption method specified is not supported: {other:?}."
                )));
            }
        }
        if customer.is_some() && sse.is_some() {
            return Err(invalid_argument(
                "Server Side Encryption with Customer provided key is incompatible with the encryption method specified.",
            ));
        }
        if sse != Some("aws:kms") && (self.kms_key_id.is_some() || self.kms_context.is_some()) {
            return Err(invalid_argument(
                "Specifying a KMS key id or encryption context is only valid with x-amz-server-side-encryption: aws:kms.",
            ));
        }
        if let Some(key) = customer {
            return Ok(SseChoice::Customer(key));
        }
        match sse {
            Some("AES256") => Ok(SseChoice::S3),
            Some(_) => Ok(SseChoice::Kms(KmsChoice {
                key_id: self.kms_key_id.filter(|k| !k.is_empty()).map(str::to_owned),
                context: match self.kms_context {
                    Some(c) => parse_kms_context(c)?,
                    None => BTreeMap::new(),
                },
                bucket_key: self.bucket_key.unwrap_or(false),
            })),
            None => Ok(match bucket_default {
                None => SseChoice::None,
                Some(BucketDefault::S3) => SseChoice::S3,
                Some(BucketDefault::Kms { key_id, bucket_key }) => SseChoice::Kms(KmsChoice {
                    key_id,
                    context: BTreeMap::new(),
                    bucket_key: self.bucket_key.unwrap_or(bucket_key),
                }),
            }),
        }
    }
}

/// The largest encryption context taken (its base64 header value), as AWS KMS caps contexts.
pub(crate) const MAX_KMS_CONTEXT: usize = 4096;

/// Decodes `x-amz-server-side-encryption-context`: base64 of a JSON object of strings.
pub(crate) fn parse_kms_context(b64: &str) -> Result<BTreeMap<String, String>, S3Error> {
    if b64.len() > MAX_KMS_CONTEXT {
        return Err(invalid_argument(format!(
            "The encryption context is larger than {MAX_KMS_CONTEXT} bytes."
        )));
    }
    let bad = || {
        invalid_argument(
            "The encryption context must be base64 of a JSON object whose values are strings.",
        )
    };
    let json = B64.decode(b64.trim()).map_err(|_| bad())?;
    let map: BTreeMap<String, String> = serde_json::from_slice(&json).map_err(|_| bad())?;
    if map.keys().any(|k| k.starts_with("aws:")) {
        return Err(invalid_argument(
            "Encryption context keys starting with \"aws:\" are reserved.",
        ));
    }
    Ok(map)
}

/// Encodes an encryption context the way the header carries it.
pub(crate) fn encode_kms_context(context: &BTreeMap<String, String>) -> String {
    B64.encode(serde_json::to_vec(context).unwrap_or_default())
}

/// Wipes a customer key held in a request's fields (s3s parses it into a plain `String`) before
/// the request goes on to the store or is dropped.
pub(crate) fn wipe(key: &mut Option<String>) {
    use zeroize::Zeroize as _;
    if let Some(mut k) = key.take() {
        k.zeroize();
    }
}

/// Refuses `x-amz-server-side-encryption` on reads (GET, HEAD), as Amazon S3 does.
pub(crate) fn refuse_sse_on_read(headers: &http::HeaderMap) -> Result<(), S3Error> {
    if headers.contains_key("x-amz-server-side-encryption")
        || headers.contains_key("x-amz-server-side-encryption-aws-kms-key-id")
    {
        return Err(invalid_argument(
            "x-amz-server-side-encryption header is not supported for this operation.",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn customer<'a>(
        alg: Option<&'a str>,
        key: Option<&'a str>,
        md5: Option<&'a str>,
    ) -> CustomerHeaders<'a> {
        CustomerHeaders {
            algorithm: alg,
            key,
            md5,
        }
    }

    #[test]
    fn customer_key_checks() {
        let key = [7u8; 32];
        let k = B64.encode(key);
        let m = B64.encode(Md5::digest(key));
        let ok = customer(Some("AES256"), Some(&k), Some(&m))
            .parse(true, false)
            .unwrap()
            .unwrap();
        assert_eq!(ok.bytes(), &key);
        assert_eq!(ok.md5_b64, m);
        // Plain HTTP refused unless allowed.
        let e = customer(Some("AES256"), Some(&k), Some(&m))
            .parse(false, false)
            .unwrap_err();
        assert_eq!(e.code().as_str(), "InvalidRequest");
        assert!(
            customer(Some("AES256"), Some(&k), Some(&m))
                .parse(false, true)
                .is_ok()
        );
        for (alg, key, md5) in [
            (Some("AES128"), Some(k.as_str()), Some(m.as_str())),
            (None, Some(&k), Some(&m)),
            (Some("AES256"), None, Some(&m)),
            (Some("AES256"), Some(&k), None),
            (Some("AES256"), Some("c2hvcnQ="), Some(&m)),
            (Some("AES256"), Some("!!"), Some(&m)),
            (Some("AES256"), Some(&k), Some("AAAAAAAAAAAAAAAAAAAAAA==")),
        ] {
            let e = customer(alg, key, md5).parse(true, false).unwrap_err();
            assert_eq!(e.code().as_str(), "InvalidArgument");
        }
        assert!(format!("{ok:?}").contains("redacted"));
    }

    #[test]
    fn write_choice_rules() {
        let kms = ServerSideEncryption::from_static(ServerSideEncryption::AWS_KMS);
        let aes = ServerSideEncryption::from_static(ServerSideEncryption::AES256);
        let bogus = ServerSideEncryption::from("rot13".to_owned());
        let none = || CustomerHeaders {
            algorithm: None,
            key: None,
            md5: None,
        };
        let w = |sse, key_id, ctx| WriteSseHeaders {
            sse,
            kms_key_id: key_id,
            kms_context: ctx,
            bucket_key: None,
            customer: none(),
        };
        assert!(matches!(
            w(None, None, None).choose(false, false, None).unwrap(),
            SseChoice::None
        ));
        assert!(matches!(
            w(Some(&aes), None, None)
                .choose(false, false, None)
                .unwrap(),
            SseChoice::S3
        ));
        assert!(matches!(
            w(None, None, None)
                .choose(false, false, Some(BucketDefault::S3))
                .unwrap(),
            SseChoice::S3
        ));
        assert!(matches!(
            w(Some(&kms), Some("k"), None)
                .choose(false, false, None)
                .unwrap(),
            SseChoice::Kms(KmsChoice {
                key_id: Some(_),
                ..
            })
        ));
        assert_eq!(
            w(Some(&bogus), None, None)
                .choose(false, false, None)
                .unwrap_err()
                .code()
                .as_str(),
            "InvalidArgument"
        );
        assert_eq!(
            w(Some(&aes), Some("k"), None)
                .choose(false, false, None)
                .unwrap_err()
                .code()
                .as_str(),
            "InvalidArgument"
        );
        assert_eq!(
            w(None, Some("k"), None)
                .choose(false, false, None)
                .unwrap_err()
                .code()
                .as_str(),
            "InvalidArgument"
        );
        let ctx = B64.encode(br#"{"a":"b"}"#);
        match w(Some(&kms), None, Some(&ctx))
            .choose(false, false, None)
            .unwrap()
        {
            SseChoice::Kms(c) => assert_eq!(c.context["a"], "b"),
            other => panic!("{other:?}"),
        }
        let bad_ctx = B64.encode(br#"{"a":1}"#);
        assert!(
            w(Some(&kms), None, Some(&bad_ctx))
                .choose(false, false, None)
                .is_err()
        );
        assert!(
            w(Some(&kms), None, Some("%%%"))
                .choose(false, false, None)
                .is_err()
        );
    }
}
