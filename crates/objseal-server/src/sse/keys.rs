//! Data keys: a fresh one per object, wrapped for its SSE mode, and unwrapped again on reads.

use std::collections::BTreeMap;
use std::time::Instant;

use objseal_core::format::wrapped_key::{MAX_WRAPPED_KEY_LEN, WrappedKey};
use objseal_core::wrap::{KeyUnwrap as _, KeyWrap as _, LocalKek};
use objseal_core::{
    Dek, Error as CoreError, Kek, ManifestKey, ObjectKey, ObjectParams, context_hash,
};
use objseal_kms::envelope;
use s3s::{S3Error, S3Request};

use super::SseLayer;
use super::errors::{corrupt, internal, kms, wrong_customer_key};
use super::record::{Sealing, SseKind};
use super::request::{CustomerKey, SseChoice};

/// The key id written into SSE-C blobs: a constant, so nothing derived from the customer's key
/// is stored beside the wrap itself.
const CUSTOMER_KEY_ID: &str = "sse-c";

/// The encryption context of an object: its S3 ARN (as Amazon S3 binds SSE-KMS keys), plus the
/// caller's SSE-KMS context.
pub(crate) fn object_context(
    bucket: &str,
    key: &str,
    extra: &BTreeMap<String, String>,
) -> Result<[u8; 32], S3Error> {
    let arn = format!("arn:aws:s3:::{bucket}/{key}");
    let mut pairs: Vec<(&str, &str)> = vec![("aws:s3:arn", &arn)];
    pairs.extend(extra.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    context_hash(&pairs)
        .map_err(|_| super::errors::invalid_argument("The encryption context is too large."))
}

fn customer_kek(key: &CustomerKey) -> Result<LocalKek, S3Error> {
    LocalKek::customer_key(Kek::from_bytes(*key.bytes()), CUSTOMER_KEY_ID)
        .map_err(|_| internal("customer key wrap"))
}

impl<S> SseLayer<S> {
    /// A new object's keys for `choice`: `None` for an unencrypted write.
    pub(crate) async fn new_object_key<T>(
        &self,
        req: &S3Request<T>,
        choice: &SseChoice,
        bucket: &str,
        key: &str,
        segmented: bool,
    ) -> Result<Option<(ObjectKey, Sealing)>, S3Error> {
        let (kind, kms_choice) = match choice {
            SseChoice::None => return Ok(None),
            SseChoice::S3 => (SseKind::S3, None),
            SseChoice::Kms(k) => (SseKind::Kms, Some(k)),
            SseChoice::Customer(_) => (SseKind::Customer, None),
        };
        let empty = BTreeMap::new();
        let kms_context = kms_choice.map_or(&empty, |k| &k.context);
        let ctx = object_context(bucket, key, kms_context)?;
        let mut kms_key = None;
        let (dek, wrapped) = match choice {
            SseChoice::Kms(k) => {
                let key_id = k.key_id.as_deref().unwrap_or(&self.config.default_kms_key);
                let started = Instant::now();
                let handle = self.kms_for(req)?;
                let result = envelope::new_data_key(handle.as_ref(), key_id, &ctx).await;
                self.metrics
                    .kms_call("GenerateDataKey", started.elapsed(), result.is_ok());
                let (dek, blob) = result.map_err(kms)?;
                kms_key = Some(
                    WrappedKey::parse(&blob)
                        .map_err(|_| internal("KMS blob"))?
                        .key_id
                        .to_owned(),
                );
                (dek, blob)
            }
            _ => {
                let dek = Dek::generate().map_err(|_| internal("random source"))?;
                let mut salt = [0u8; 32];
                getrandom::fill(&mut salt).map_err(|_| internal("random source"))?;
                let mut out = vec![0u8; MAX_WRAPPED_KEY_LEN];
                let n = match choice {
                    SseChoice::Customer(c) => {
                        customer_kek(c)?.wrap_key(&dek, &ctx, &salt, &mut out)
                    }
                    _ => self.sse_s3.wrap_key(&dek, &ctx, &salt, &mut out),
                }
                .map_err(|_| internal("key wrap"))?;
                out.truncate(n);
                (dek, out)
            }
        };
        let params = ObjectParams::random(ctx)
            .map_err(|_| internal("random source"))?
            .chunk_log2(self.config.chunk_log2)
            .segmented(segmented);
        let object = ObjectKey::create(&dek, &params).map_err(|_| internal("object key"))?;
        let sealing = Sealing {
            kind,
            header: Some(object.header().clone()),
            wrapped,
            kms_key,
            kms_context: kms_context.clone(),
            bucket_key: kms_choice.is_some_and(|k| k.bucket_key),
        };
        Ok(Some((object, sealing)))
    }

    /// The keys of a stored object, checking the SSE-C rules: a customer key is required for,
    /// and only accepted for, SSE-C objects. `None` for unencrypted objects.
    pub(crate) async fn open_object_key<T>(
        &self,
        req: &S3Request<T>,
        sealing: &Sealing,
        bucket: &str,
        key: &str,
        customer: Option<&CustomerKey>,
    ) -> Result<Option<ObjectKey>, S3Error> {
        check_customer_key(sealing.kind, customer)?;
        let Some(header) = &sealing.header else {
            return Ok(None);
        };
        let ctx = object_context(bucket, key, &sealing.kms_context)?;
        let blob =
            WrappedKey::parse(&sealing.wrapped).map_err(|_| corrupt("malformed wrapped key"))?;
        let dek = match (sealing.kind, customer) {
            (SseKind::Customer, Some(c)) => customer_kek(c)?
                .unwrap_key(&blob, &ctx)
                .map_err(|_| wrong_customer_key())?,
            (SseKind::Kms, _) => {
                let started = Instant::now();
                let handle = self.kms_for(req)?;
                let result = envelope::unwrap_data_key(handle.as_ref(), &blob, &ctx).await;
                self.metrics
                    .kms_call("Decrypt", started.elapsed(), result.is_ok());
                result.map_err(kms)?
            }
            (SseKind::S3, _) => self
                .sse_s3
                .unwrap_key(&blob, &ctx)
                .map_err(|_| corrupt("the data key does not unwrap"))?,
            _ => return Err(corrupt("unknown encryption kind")),
        };
        match ObjectKey::open_with_context(&dek, header, &ctx) {
            Ok(k) => Ok(Some(k)),
            Err(CoreError::HeaderAuth) if sealing.kind == SseKind::Customer => {
                Err(wrong_customer_key())
            }
            Err(_) => Err(corrupt("the header does not verify")),
        }
    }
}

/// SSE-C objects need the key; other objects refuse one (both `InvalidRequest`, as Amazon S3).
pub(crate) fn check_customer_key(
    kind: SseKind,
    customer: Option<&CustomerKey>,
) -> Result<(), S3Error> {
    match (kind, customer) {
        (SseKind::Customer, None) => Err(super::errors::invalid_request(
            "The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object.",
        )),
        (SseKind::Customer, Some(_)) | (_, None) => Ok(()),
        (_, Some(_)) => Err(super::errors::invalid_request(
            "The encryption parameters are not applicable to this object.",
        )),
    }
}

/// The context a manifest key is wrapped under: the object's and its header's (so the wrap
/// serves this one upload), told apart from its data key's.
fn manifest_key_context(
    bucket: &str,
    key: &str,
    header: &objseal_core::Header,
) -> Result<[u8; 32], S3Error> {
    let arn = format!("arn:aws:s3:::{bucket}/{key}");
    let tag = hex::encode(header.tag);
    context_hash(&[
        ("aws:s3:arn", &arn),
        ("objseal:wrapped", "manifest-key"),
        ("objseal:header-tag", &tag),
    ])
    .map_err(|_| internal("manifest key context"))
}

impl<S> SseLayer<S> {
    /// Wraps an upload's manifest key under the server's own key, bound to the object and its
    /// header (so to this one upload).
    pub(crate) fn wrap_manifest_key(
        &self,
        object: &ObjectKey,
        bucket: &str,
        key: &str,
    ) -> Result<Vec<u8>, S3Error> {
        let ctx = manifest_key_context(bucket, key, object.header())?;
        let mk = object.manifest_key();
        let mut salt = [0u8; 32];
        getrandom::fill(&mut salt).map_err(|_| internal("random source"))?;
        let mut out = vec![0u8; MAX_WRAPPED_KEY_LEN];
        // The wrap takes its 32 secret bytes as a data key; the context keeps the two uses apart.
        let n = self
            .sse_s3
            .wrap_key(&Dek::from_bytes(*mk.expose_secret()), &ctx, &salt, &mut out)
            .map_err(|_| internal("manifest key wrap"))?;
        out.truncate(n);
        Ok(out)
    }

    /// The manifest key of an upload, from [`SseLayer::wrap_manifest_key`]'s blob.
    pub(crate) fn unwrap_manifest_key(
        &self,
        blob: &[u8],
        bucket: &str,
        key: &str,
        header: &objseal_core::Header,
    ) -> Result<ManifestKey, S3Error> {
        let ctx = manifest_key_context(bucket, key, header)?;
        let no_such_upload = || S3Error::new(s3s::S3ErrorCode::NoSuchUpload);
        let blob = WrappedKey::parse(blob).map_err(|_| no_such_upload())?;
        let dek = self
            .sse_s3
            .unwrap_key(&blob, &ctx)
            .map_err(|_| no_such_upload())?;
        Ok(ManifestKey::from_bytes(*dek.expose_secret()))
    }
}
