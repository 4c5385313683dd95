//! AWS S3 Encryption Client objects through [`EncryptingClient`]: read (V2, V3) with the client's
//! keys under its strict key selection, written (V3) on request.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_s3::operation::head_object::HeadObjectOutput;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::client::{GetOptions, GetOutput, ObjectFormat, PutOptions, PutOutput};
use crate::s3ec::{Envelope, S3ecError, Version};
use crate::{ClientError, EncryptingClient};

/// The format of an S3EC envelope.
pub(crate) fn format_of(envelope: &Envelope) -> ObjectFormat {
    match envelope.version() {
        Version::V2 => ObjectFormat::S3ecV2,
        Version::V3 => ObjectFormat::S3ecV3,
    }
}

/// Whether a metadata name belongs to the S3EC's formats.
pub(crate) fn is_s3ec_name(name: &str) -> bool {
    name.to_ascii_lowercase().starts_with("x-amz-")
}

impl EncryptingClient {
    /// Reads an S3EC object whole (it is one GCM message), verifies it, then writes the range.
    pub(crate) async fn get_s3ec<W: AsyncWrite + Unpin + ?Sized>(
        &self,
        bucket: &str,
        key: &str,
        head: HeadObjectOutput,
        meta: &HashMap<String, String>,
        options: &GetOptions,
        out: &mut W,
    ) -> Result<GetOutput, ClientError> {
        let Some(envelope) = Envelope::from_metadata(meta)? else {
            return Err(ClientError::NotEncrypted { key: key.into() });
        };
        if !options.accept_s3ec {
            return Err(ClientError::S3ecNotAccepted { key: key.into() });
        }
        envelope.check_policy(options.commitment)?;
        envelope.check_context(&options.context)?;
        let stored = head.content_length.unwrap_or(0).max(0) as u64;
        let limit = self.config.s3ec_max_object_size as u64;
        if stored > limit {
            return Err(ClientError::S3ec(S3ecError::TooLarge {
                len: stored,
                limit,
            }));
        }
        let data_key = self.s3ec_data_key(&envelope).await?;
        let response = self
            .get_pinned(bucket, key, None, head.e_tag.as_deref())
            .await?;
        let mut body = Vec::with_capacity(stored as usize);
        response
            .body
            .into_async_read()
            .take(limit.saturating_add(1))
            .read_to_end(&mut body)
            .await?;
        envelope.decrypt_in_place(&data_key, &mut body, options.commitment)?;
        let total = body.len() as u64;
        let range = match options.range {
            Some(r) => crate::get::resolve_range(total, r)?,
            None => 0..total,
        };
        let result = out
            .write_all(&body[range.start as usize..range.end as usize])
            .await;
        zeroize::Zeroize::zeroize(&mut body);
        result?;
        out.flush().await?;
        Ok(GetOutput {
            object_len: total,
            range,
            format: format_of(&envelope),
            etag: head.e_tag,
        })
    }

    /// The data key under the configured KMS keys (strict), or any key with discovery.
    async fn s3ec_data_key(
        &self,
        envelope: &Envelope,
    ) -> Result<zeroize::Zeroizing<[u8; 32]>, ClientError> {
        let mut first_error = None;
        for (kms, arn) in self.keys.kms_keys() {
            match envelope.unwrap_data_key(kms.as_ref(), Some(arn)).await {
                Ok(key) => return Ok(key),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        if let Some(kms) = self.keys.discovery_kms() {
            return Ok(envelope.unwrap_data_key(kms.as_ref(), None).await?);
        }
        Err(match first_error {
            Some(e) => ClientError::S3ec(e),
            None => ClientError::NoMatchingKey {
                object_key_ids: Vec::new(),
            },
        })
    }

    /// Writes a V3 object under the first KMS recipient, in one `PutObject`.
    pub(crate) async fn put_s3ec_v3<R: AsyncRead + Unpin + ?Sized>(
        &self,
        bucket: &str,
        key: &str,
        reader: &mut R,
        options: &PutOptions,
    ) -> Result<PutOutput, ClientError> {
        if options.location != crate::Location::Unbound {
            return Err(ClientError::InvalidArgument(
                "the S3 Encryption Client format binds no object location: write it with \
                 Location::Unbound"
                    .into(),
            ));
        }
        let Some((kms, arn)) = self.keys.kms_keys().next() else {
            return Err(ClientError::InvalidArgument(
                "the S3 Encryption Client format needs a KMS key".into(),
            ));
        };
        let limit = self.config.s3ec_max_object_size as u64;
        let mut body = Vec::new();
        reader
            .take(limit.saturating_add(1))
            .read_to_end(&mut body)
            .await?;
        if body.len() as u64 > limit {
            return Err(ClientError::S3ec(S3ecError::TooLarge {
                len: body.len() as u64,
                limit,
            }));
        }
        let plaintext_len = body.len() as u64;
        let context: BTreeMap<String, String> = options.context.clone();
        let s3ec_meta = crate::s3ec::encrypt_v3(kms.as_ref(), arn, &context, &mut body).await?;
        let mut meta = options.metadata.clone();
        meta.extend(s3ec_meta);
        let stored_len = body.len() as u64;
        let etag = self
            .put_body(bucket, key, meta, options.content_type.clone(), body)
            .await?;
        Ok(PutOutput {
            plaintext_len,
            stored_len,
            parts: 0,
            etag,
        })
    }
}
