//! A bucket's encryption configuration: its default encryption and its blocked encryption types
//! (S3's `BlockedEncryptionTypes`), checked when set, reported with the server-wide default
//! filled in, and applied to every write that chooses an encryption.
//!
//! Blocked types reach the layer and the store as [`BlockedEncryptionTypes`] in the extensions
//! (s3s 0.14.1's DTOs lack the field; see [`internal`](crate::internal) and the server's
//! `?encryption` route, which reads and writes that part of the XML). As in Amazon S3, blocking
//! `SSE-C` refuses — with 403 `AccessDenied`, before anything is read or stored — every write
//! that asks for SSE-C: PutObject, PostObject, CopyObject (its destination) and
//! CreateMultipartUpload (the parts follow the upload). Reads of existing SSE-C objects still work.
//! `NONE` blocks nothing: S3 takes it to allow SSE-C explicitly.

use s3s::dto::{
    GetBucketEncryptionInput, GetBucketEncryptionOutput, PutBucketEncryptionInput,
    PutBucketEncryptionOutput, ServerSideEncryption, ServerSideEncryptionByDefault,
    ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
};
use s3s::{S3, S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

use super::errors::invalid_argument;
use super::request::{BucketDefault, SseChoice, WriteSseHeaders};
use super::{DefaultEncryption, SseLayer};
use crate::internal::{BlockedEncryptionTypes, EncryptionType};

/// What a write needs to know of its bucket's encryption configuration.
#[derive(Debug, Default)]
struct BucketEncryption {
    /// The default for writes that name no encryption: the bucket's own, else the server-wide one.
    default: Option<BucketDefault>,
    /// The encryption types the bucket refuses.
    blocked: BlockedEncryptionTypes,
}

/// The refusal of a write whose encryption the bucket blocks (Amazon S3's status and code).
fn blocked_write(kind: EncryptionType) -> S3Error {
    S3Error::with_message(
        S3ErrorCode::AccessDenied,
        format!(
            "Access Denied: this bucket blocks writes with {} encryption (BlockedEncryptionTypes \
             in its encryption configuration).",
            kind.as_str()
        ),
    )
}

/// The bucket default a stored rule names, if it names one the layer applies.
fn rule_default(rule: &ServerSideEncryptionRule) -> Option<BucketDefault> {
    let d = rule.apply_server_side_encryption_by_default.as_ref()?;
    match d.sse_algorithm.as_str() {
        ServerSideEncryption::AES256 => Some(BucketDefault::S3),
        ServerSideEncryption::AWS_KMS => Some(BucketDefault::Kms {
            key_id: d.kms_master_key_id.clone().filter(|k| !k.is_empty()),
            bucket_key: rule.bucket_key_enabled.unwrap_or(false),
        }),
        _ => None,
    }
}

impl<S: S3> SseLayer<S> {
    /// The encryption configuration of `bucket` as writes see it. A bucket without one of its own
    /// (or whose rule only blocks types) gets the server-wide default.
    async fn bucket_encryption(&self, bucket: &str) -> Result<BucketEncryption, S3Error> {
        let req = super::bare_request(GetBucketEncryptionInput {
            bucket: bucket.to_owned(),
            expected_bucket_owner: None,
        });
        let resp = match self.inner.get_bucket_encryption(req).await {
            Ok(r) => r,
            Err(e) if *e.code() == S3ErrorCode::ServerSideEncryptionConfigurationNotFoundError => {
                return Ok(BucketEncryption {
                    default: self.server_default(),
                    blocked: BlockedEncryptionTypes::default(),
                });
            }
            Err(e) => return Err(e),
        };
        let blocked = resp
            .extensions
            .get::<BlockedEncryptionTypes>()
            .cloned()
            .unwrap_or_default();
        let rule = resp
            .output
            .server_side_encryption_configuration
            .and_then(|c| c.rules.into_iter().next());
        let default = match rule {
            Some(rule) if rule.apply_server_side_encryption_by_default.is_some() => {
                rule_default(&rule)
            }
            _ => self.server_default(),
        };
        Ok(BucketEncryption { default, blocked })
    }

    /// The encryption a write into `bucket` gets (PutObject, PostObject, CopyObject's destination,
    /// CreateMultipartUpload): its own headers, else the bucket's default, else the server-wide
    /// one — refused with 403 `AccessDenied` if the bucket blocks it. Reads and stores nothing
    /// else, so a refused write changes nothing.
    pub(crate) async fn choose_encryption(
        &self,
        bucket: &str,
        headers: WriteSseHeaders<'_>,
        tls: bool,
    ) -> Result<SseChoice, S3Error> {
        let encryption = self.bucket_encryption(bucket).await?;
        let choice = headers.choose(tls, self.config.allow_ssec_over_http, encryption.default)?;
        if matches!(choice, SseChoice::Customer(_))
            && encryption.blocked.blocks(EncryptionType::SseC)
        {
            tracing::info!(bucket, "an SSE-C write refused: the bucket blocks SSE-C");
            return Err(blocked_write(EncryptionType::SseC));
        }
        Ok(choice)
    }

    /// The server-wide default, for buckets without one of their own.
    fn server_default(&self) -> Option<BucketDefault> {
        self.config.default_encryption.map(|d| match d {
            DefaultEncryption::SseS3 => BucketDefault::S3,
            DefaultEncryption::SseKms => BucketDefault::Kms {
                key_id: None,
                bucket_key: false,
            },
        })
    }

    /// The server-wide default as a configuration's `ApplyServerSideEncryptionByDefault` (no KMS
    /// key id: writes then use the server's default key, as they do for a bucket default naming
    /// none).
    fn server_default_dto(&self) -> Option<ServerSideEncryptionByDefault> {
        let algorithm = match self.config.default_encryption? {
            DefaultEncryption::SseS3 => ServerSideEncryption::AES256,
            DefaultEncryption::SseKms => ServerSideEncryption::AWS_KMS,
        };
        Some(ServerSideEncryptionByDefault {
            sse_algorithm: ServerSideEncryption::from_static(algorithm),
            kms_master_key_id: None,
        })
    }

    /// `PutBucketEncryption`: exactly one rule, with a default encryption the layer applies or
    /// blocked types (or both); `NONE` stands alone.
    pub(crate) async fn put_encryption(
        &self,
        req: S3Request<PutBucketEncryptionInput>,
    ) -> S3Result<S3Response<PutBucketEncryptionOutput>> {
        let blocked = req.extensions.get::<BlockedEncryptionTypes>();
        if let Some(blocked) = blocked
            && blocked.types().contains(&EncryptionType::None)
            && blocked.types().len() > 1
        {
            return Err(invalid_argument(
                "The encryption type NONE cannot be combined with other blocked encryption types.",
            ));
        }
        let blocks_any = blocked.is_some_and(|b| !b.is_empty());
        let rules = &req.input.server_side_encryption_configuration.rules;
        if rules.len() != 1 {
            return Err(S3Error::with_message(
                S3ErrorCode::MalformedXML,
                "Exactly one encryption rule is required.",
            ));
        }
        for rule in rules {
            let Some(d) = rule.apply_server_side_encryption_by_default.as_ref() else {
                if blocks_any {
                    continue;
                }
                return Err(S3Error::with_message(
                    S3ErrorCode::MalformedXML,
                    "The rule has neither a default encryption nor blocked encryption types.",
                ));
            };
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

    /// `GetBucketEncryption`: the bucket's configuration, its blocked types in the response's
    /// extensions. Where the bucket has no default of its own, the server-wide default stands in,
    /// as Amazon S3 reports its SSE-S3 default for every bucket; without either, 404
    /// `ServerSideEncryptionConfigurationNotFoundError`.
    pub(crate) async fn get_encryption(
        &self,
        mut req: S3Request<GetBucketEncryptionInput>,
    ) -> S3Result<S3Response<GetBucketEncryptionOutput>> {
        super::put::scrub_headers(&mut req.headers);
        let mut resp = match self.inner.get_bucket_encryption(req).await {
            Ok(resp) => resp,
            Err(e) if *e.code() == S3ErrorCode::ServerSideEncryptionConfigurationNotFoundError => {
                let Some(default) = self.server_default_dto() else {
                    return Err(e);
                };
                return Ok(S3Response::new(GetBucketEncryptionOutput {
                    server_side_encryption_configuration: Some(ServerSideEncryptionConfiguration {
                        rules: vec![ServerSideEncryptionRule {
                            apply_server_side_encryption_by_default: Some(default),
                            bucket_key_enabled: Some(false),
                        }],
                    }),
                }));
            }
            Err(e) => return Err(e),
        };
        if let Some(config) = resp.output.server_side_encryption_configuration.as_mut() {
            for rule in &mut config.rules {
                if rule.apply_server_side_encryption_by_default.is_none() {
                    rule.apply_server_side_encryption_by_default = self.server_default_dto();
                }
            }
        }
        Ok(resp)
    }
}
