//! `DeleteObjects` under the bucket policy, key by key. Its keys are in the body, which the
//! access gate does not see: the gate hands its decision over ([`DeferredCheck`], in the request's
//! extensions) and the layer checks `s3:DeleteObject` on each key's ARN before the store sees any
//! of them. As in Amazon S3, a denied key gets its own `AccessDenied` entry in the result (quiet
//! or not) and stays; the others are deleted.

use s3s::dto::{DeleteObjectsInput, DeleteObjectsOutput, Error as KeyError};
use s3s::{S3, S3Request, S3Response, S3Result};

use super::SseLayer;
use crate::server::access::DeferredCheck;

impl<S: S3> SseLayer<S> {
    pub(crate) async fn delete_objects_checked(
        &self,
        mut req: S3Request<DeleteObjectsInput>,
    ) -> S3Result<S3Response<DeleteObjectsOutput>> {
        let check = req.extensions.get::<DeferredCheck>().cloned();
        let bucket = req.input.bucket.clone();
        // Without the gate (a layer served on its own), nobody is known to evaluate a policy for:
        // a bucket with one keeps its keys.
        let unchecked = check.is_none() && self.policies.get(&bucket).is_some();
        let mut kept = Vec::new();
        let mut denied = Vec::new();
        // Every key is decided (and logged) before anything is deleted.
        for object in std::mem::take(&mut req.input.delete.objects) {
            let allowed = match &check {
                Some(check) => {
                    check.allows(&req.headers, &bucket, &object.key, "s3:DeleteObject")?
                }
                None => !unchecked,
            };
            if allowed {
                kept.push(object);
            } else {
                denied.push(KeyError {
                    code: Some("AccessDenied".to_owned()),
                    key: Some(object.key),
                    message: Some("Access Denied".to_owned()),
                    version_id: object.version_id,
                });
            }
        }
        let mut out = if kept.is_empty() && !denied.is_empty() {
            S3Response::new(DeleteObjectsOutput {
                deleted: Some(Vec::new()),
                ..Default::default()
            })
        } else {
            req.input.delete.objects = kept;
            super::put::scrub_headers(&mut req.headers);
            self.inner.delete_objects(req).await?
        };
        if !denied.is_empty() {
            out.output
                .errors
                .get_or_insert_with(Vec::new)
                .extend(denied);
        }
        Ok(out)
    }
}
