//! Bucket default encryption: checked when set, applied to every write that names none.

use s3s::dto::{GetBucketEncryptionInput, PutBucketEncryptionInput, PutBucketEncryptionOutput};
use s3s::{S3, S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

use super::SseLayer;
use super::errors::invalid_argument;
use super::request::BucketDefault;

impl<S: S3> SseLayer<S> {
    /// The default encryption of `bucket`, if it has one.
    pub(crate) async fn bucket_default(
        &self,
        bucket: &str,
    ) -> Result<Option<BucketDefault>, S3Error> {
        let req = super::bare_request(GetBucketEncryptionInput {
            bucket: bucket.to_owned(),
            expected_bucket_owner: None,
        });
        let out = match self.inner.get_bucket_encryption(req).await {
            Ok(r) => r.output,
            Err(e) if *e.code() == S3ErrorCode::ServerSideEncryptionConfigurationNotFoundError => {
                return Ok(self.server_default());
            }
            Err(e) => return Err(e),
        };
        let rule = out
            .server_side_encryption_configuration
            .and_then(|c| c.rules.into_iter().next());
        Ok(rule.and_then(|r| {
            let d = r.apply_server_side_encryption_by_default?;
            match d.sse_algorithm.as_str() {
                "AES256" => Some(BucketDefault::S3),
                "aws:kms" => Some(BucketDefault::Kms {
                    key_id: d.kms_master_key_id.filter(|k| !k.is_empty()),
                    bucket_key: r.bucket_key_enabled.unwrap_or(false),
                }),
                _ => None,
            }
        }))
    }

    /// The server-wide default, for buckets without one of their own.
    fn server_default(&self) -> Option<BucketDefault> {
        self.config.default_encryption.map(|d| match d {
            super::DefaultEncryption::SseS3 => BucketDefault::S3,
            super::DefaultEncryption::SseKms => BucketDefault::Kms {
                key_id: None,
                bucket_key: false,
            },
        })
    }

    pub(crate) async fn put_encryption(
        &self,
        req: S3Request<PutBucketEncryptionInput>,
    ) -> S3Result<S3Response<PutBucketEncryptionOutput>> {
        let rules = &req.input.server_side_encryption_configuration.rules;
        if rules.len() != 1 {
            return Err(S3Error::with_message(
                S3ErrorCode::MalformedXML,
                "Exactly one encryption rule is required.",
            ));
        }
        for rule in rules {
            let d = rule
                .apply_server_side_encryption_by_default
                .as_ref()
                .ok_or_else(|| {
                    S3Error::with_message(
                        S3ErrorCode::MalformedXML,
                        "The rule has no default encryption.",
                    )
                })?;
            match d.sse_algorithm.as_str() {
                "AES256" if d.kms_master_key_id.is_some() => {
                    return Err(invalid_argument(
                        "A KMS master key id is only valid with the aws:kms algorithm.",
                    ));
                }
                "AES256" | "aws:kms" => {}
                other => {
                    return Err(invalid_argument(format!(
                        "The encryption algorithm {other:?} is not supported."
                    )));
                }
            }
        }
        self.inner.put_bucket_encryption(req).await
    }
}
