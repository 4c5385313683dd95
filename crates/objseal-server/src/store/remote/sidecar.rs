//! The gateway's sidecar objects for multipart uploads and the objects they make: where they
//! live, what they hold (small JSON, strictly parsed), and reading, writing and deleting them.
//! See the module documentation's "Multipart uploads".

use std::collections::BTreeMap;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{Delete, ObjectIdentifier};
use s3s::{S3Error, S3ErrorCode, S3Result};
use serde::{Deserialize, Serialize};

use super::GATEWAY_PREFIX;
use super::RemoteStore;
use super::body::collect_limited;
use super::errors::{Subject, backend_error, corrupt, internal};
use super::state::{Binding, Found, Kind};
use super::{header_value, unquote};

/// The backend object's user metadata entry that marks an object whose late entries live in a
/// sidecar (a completed multipart upload's): the sidecar's token, 32 lowercase hex digits.
/// Written only by the gateway; never shown to the layer.
pub const SIDECAR_META: &str = "objseal-late";

/// The layer's entry holding a pending SSE-C upload's wrapped manifest key (§15): the gateway
/// keeps it in the upload's sidecar only, never in the backend object's metadata (which cannot
/// be blanked after completion).
pub(super) const UPLOAD_MANIFEST_KEY: &str = "objseal-upload-manifest-key";

/// The most a sidecar may hold (a manifest of 10 000 parts is 373 KiB in base64).
const MAX_SIDECAR: usize = 1024 * 1024;

/// The folder of an upload's sidecars: `.objseal/uploads/<hex of the backend upload id>/`.
pub(super) fn upload_dir(upload_id: &str) -> String {
    format!(
        "{GATEWAY_PREFIX}uploads/{}/",
        hex::encode(upload_id.as_bytes())
    )
}

/// The sidecar of an upload's metadata.
pub(super) fn upload_key(upload_id: &str) -> String {
    format!("{}upload.json", upload_dir(upload_id))
}

/// The sidecar of one part of an upload.
pub(super) fn part_key(upload_id: &str, part: i32) -> String {
    format!("{}{part:05}", upload_dir(upload_id))
}

/// The sidecar of a completed object's late entries.
pub(super) fn late_key(token: &str) -> String {
    format!("{GATEWAY_PREFIX}late/{token}")
}

/// A fresh token naming a late sidecar.
pub(super) fn new_token() -> S3Result<String> {
    let mut t = [0u8; 16];
    getrandom::fill(&mut t).map_err(|_| internal("The random source failed."))?;
    Ok(hex::encode(t))
}

/// Whether `token` is one [`new_token`] makes (so it can name a key).
pub(super) fn valid_token(token: &str) -> bool {
    token.len() == 32
        && token
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// `upload.json`: written at CreateMultipartUpload, deleted with the upload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct UploadSidecar {
    pub v: u32,
    /// The object's key.
    pub key: String,
    /// The token of the object's late sidecar (also in the backend upload's metadata).
    pub token: String,
    /// The metadata the layer created the upload with.
    pub metadata: BTreeMap<String, String>,
}

/// A part's sidecar: written after the backend took the part, before the part is acknowledged.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PartSidecar {
    pub v: u32,
    pub part: i32,
    /// The backend's ETag of the part (without quotes).
    pub backend_etag: String,
    /// The part's stored length.
    pub size: u64,
    /// The layer's late entries for the part ([`LATE_ETAG`](crate::internal::LATE_ETAG): the
    /// ETag the client sees).
    pub entries: BTreeMap<String, String>,
}

/// A completed object's late entries: written before the backend completes the upload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LateSidecar {
    pub v: u32,
    /// The object's key (a sidecar names its object).
    pub key: String,
    pub entries: BTreeMap<String, String>,
}

/// A sidecar as read: its value and the backend's ETag of it.
pub(super) struct Read<T> {
    pub value: T,
    pub etag: String,
}

impl RemoteStore {
    /// Reads the sidecar `key` of `bucket`, of `kind`: `None` when there is none,
    /// [`Found::Forged`] when it carries no valid tag (not the gateway's: logged). A sidecar
    /// whose tag is valid but that does not parse is damage (500).
    pub(super) async fn read_sidecar_found<T: for<'de> Deserialize<'de>>(
        &self,
        kind: Kind,
        bucket: &str,
        key: &str,
    ) -> S3Result<Option<Read<Found<T>>>> {
        let state = self.state_key()?;
        let answer = self
            .inner
            .clients
            .calls
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await;
        let out = match answer {
            Ok(out) => out,
            Err(e) => {
                let e = backend_error("GetObject", Subject::Object, e);
                return match e.code() {
                    S3ErrorCode::NoSuchKey => Ok(None),
                    _ => Err(e),
                };
            }
        };
        let etag = out.e_tag().map(unquote).unwrap_or_default();
        let body = collect_limited(out.body.into_inner(), MAX_SIDECAR)
            .await
            .map_err(|e| {
                tracing::warn!(bucket, key, error = %e, "reading a sidecar failed");
                super::errors::slow_down("The backing store's answer was cut short; please retry.")
            })?;
        let Some(json) = state.open(Binding::sidecar(kind, bucket, key), &body) else {
            tracing::warn!(
                bucket,
                key,
                "a sidecar fails authentication: it is not the gateway's and is ignored"
            );
            return Ok(Some(Read {
                value: Found::Forged,
                etag,
            }));
        };
        let value = serde_json::from_slice(&json).map_err(|e| corrupt(bucket, key, &e))?;
        Ok(Some(Read {
            value: Found::Valid(value),
            etag,
        }))
    }

    /// [`Self::read_sidecar_found`], a sidecar that fails authentication read as none.
    pub(super) async fn read_sidecar<T: for<'de> Deserialize<'de>>(
        &self,
        kind: Kind,
        bucket: &str,
        key: &str,
    ) -> S3Result<Option<Read<T>>> {
        Ok(self
            .read_sidecar_found(kind, bucket, key)
            .await?
            .and_then(|r| match r.value {
                Found::Valid(value) => Some(Read {
                    value,
                    etag: r.etag,
                }),
                Found::Forged => None,
            }))
    }

    /// Writes the sidecar `key` of `bucket`; with `cond` (`*` or an ETag) only if none exists
    /// / it still has that ETag (`PreconditionFailed` otherwise).
    pub(super) async fn write_sidecar<T: Serialize>(
        &self,
        kind: Kind,
        bucket: &str,
        key: &str,
        value: &T,
        cond: Option<&s3s::dto::ETagCondition>,
    ) -> S3Result<()> {
        let json =
            serde_json::to_vec(value).map_err(|_| internal("A sidecar could not be made."))?;
        self.write_sidecar_json(kind, bucket, key, &json, cond)
            .await
    }

    /// Writes the sidecar `key` of `bucket` holding `json`, sealed with its tag (see
    /// [`Self::write_sidecar`]).
    pub(super) async fn write_sidecar_json(
        &self,
        kind: Kind,
        bucket: &str,
        key: &str,
        json: &[u8],
        cond: Option<&s3s::dto::ETagCondition>,
    ) -> S3Result<()> {
        let json = self
            .state_key()?
            .seal(Binding::sidecar(kind, bucket, key), json);
        let (if_match, if_none_match) = match cond {
            Some(c) if c.is_any() => (None, header_value(c)),
            Some(c) => (header_value(c), None),
            None => (None, None),
        };
        self.inner
            .clients
            .calls
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_type("application/json")
            .body(ByteStream::from(json))
            .set_if_match(if_match)
            .set_if_none_match(if_none_match)
            .send()
            .await
            .map_err(|e| backend_error("PutObject", Subject::Object, e))?;
        Ok(())
    }

    /// Deletes the sidecar `key`, best effort (a failure is logged: the sidecar is garbage).
    pub(super) async fn forget_sidecar(&self, bucket: &str, key: &str) {
        let done = self
            .inner
            .clients
            .calls
            .delete_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await;
        if let Err(e) = done {
            let e = backend_error("DeleteObject", Subject::Object, e);
            tracing::warn!(
                bucket,
                key,
                code = e.code().as_str(),
                "a sidecar could not be deleted; it is left as garbage"
            );
        }
    }

    /// Deletes every sidecar of an upload, best effort.
    pub(super) async fn forget_upload(&self, bucket: &str, upload_id: &str) {
        let prefix = upload_dir(upload_id);
        let mut token = None;
        loop {
            let listed = self
                .inner
                .clients
                .calls
                .list_objects_v2()
                .bucket(bucket)
                .prefix(&prefix)
                .set_continuation_token(token.take())
                .send()
                .await;
            let out = match listed {
                Ok(out) => out,
                Err(e) => {
                    let e = backend_error("ListObjectsV2", Subject::Bucket, e);
                    tracing::warn!(
                        bucket,
                        upload_id,
                        code = e.code().as_str(),
                        "an upload's sidecars could not be listed; they are left as garbage"
                    );
                    return;
                }
            };
            let ids: Vec<ObjectIdentifier> = out
                .contents()
                .iter()
                .filter_map(|o| o.key())
                .filter_map(|k| ObjectIdentifier::builder().key(k).build().ok())
                .collect();
            if !ids.is_empty() {
                let Ok(delete) = Delete::builder().set_objects(Some(ids)).quiet(true).build()
                else {
                    return;
                };
                let done = self
                    .inner
                    .clients
                    .calls
                    .delete_objects()
                    .bucket(bucket)
                    .delete(delete)
                    .send()
                    .await;
                if let Err(e) = done {
                    let e = backend_error("DeleteObjects", Subject::Bucket, e);
                    tracing::warn!(
                        bucket,
                        upload_id,
                        code = e.code().as_str(),
                        "an upload's sidecars could not be deleted; they are left as garbage"
                    );
                    return;
                }
            }
            match out.next_continuation_token() {
                Some(t) if out.is_truncated() == Some(true) => token = Some(t.to_owned()),
                _ => return,
            }
        }
    }

    /// The late entries of the object `key` whose metadata names the sidecar `token`. A missing,
    /// unreadable or foreign sidecar is damage: the object is refused (500), never served as
    /// stored.
    pub(super) async fn late_entries(
        &self,
        bucket: &str,
        key: &str,
        token: &str,
    ) -> S3Result<BTreeMap<String, String>> {
        if !valid_token(token) {
            return Err(corrupt(
                bucket,
                key,
                &"a late sidecar entry that is not a token",
            ));
        }
        let read: Option<Read<Found<LateSidecar>>> = self
            .read_sidecar_found(Kind::Late, bucket, &late_key(token))
            .await?;
        match read.map(|r| r.value) {
            Some(Found::Valid(s)) if s.v == 1 && s.key == key => Ok(s.entries),
            Some(Found::Valid(_)) => Err(corrupt(bucket, key, &"a late sidecar of another object")),
            Some(Found::Forged) => Err(corrupt(
                bucket,
                key,
                &"its late sidecar fails authentication",
            )),
            None => Err(corrupt(bucket, key, &"its late sidecar is missing")),
        }
    }

    /// Writes the late sidecar `token` of `key`, never changing one an object may already use:
    /// created if absent; kept if it holds the same; replaced (pinned to what was read) only
    /// while `still_pending` says the upload it is for has not completed.
    pub(super) async fn publish_late(
        &self,
        bucket: &str,
        token: &str,
        value: &LateSidecar,
        still_pending: impl std::future::Future<Output = S3Result<()>>,
    ) -> S3Result<()> {
        let key = late_key(token);
        let created = self
            .write_sidecar(
                Kind::Late,
                bucket,
                &key,
                value,
                Some(&s3s::dto::ETagCondition::Any),
            )
            .await;
        match created {
            Err(e) if *e.code() == S3ErrorCode::PreconditionFailed => {}
            other => return other,
        }
        let Some(existing) = self
            .read_sidecar_found::<LateSidecar>(Kind::Late, bucket, &key)
            .await?
        else {
            return Err(S3Error::with_message(
                S3ErrorCode::OperationAborted,
                "A conflicting operation is in progress on this upload; please retry.",
            ));
        };
        // (One that fails authentication is not the gateway's: replaced as a different one.)
        if matches!(&existing.value, Found::Valid(v) if v == value) {
            return Ok(());
        }
        still_pending.await?;
        let pinned = s3s::dto::ETagCondition::ETag(s3s::dto::ETag::Strong(existing.etag));
        self.write_sidecar(Kind::Late, bucket, &key, value, Some(&pinned))
            .await
            .map_err(|e| match e.code() {
                S3ErrorCode::PreconditionFailed => S3Error::with_message(
                    S3ErrorCode::OperationAborted,
                    "A conflicting operation is in progress on this upload; please retry.",
                ),
                _ => e,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_tokens() {
        assert_eq!(upload_dir("a/b"), ".objseal/uploads/612f62/");
        assert_eq!(upload_key("x"), ".objseal/uploads/78/upload.json");
        assert_eq!(part_key("x", 7), ".objseal/uploads/78/00007");
        let t = new_token().unwrap();
        assert!(valid_token(&t));
        assert_eq!(late_key(&t), format!(".objseal/late/{t}"));
        assert!(!valid_token("../x"));
        assert!(!valid_token(&t.to_uppercase()));
        assert_ne!(new_token().unwrap(), t);
    }

    #[test]
    fn sidecars_parse_strictly() {
        let p = PartSidecar {
            v: 1,
            part: 3,
            backend_etag: "e".into(),
            size: 9,
            entries: BTreeMap::from([("objseal-etag".into(), "s".into())]),
        };
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(serde_json::from_str::<PartSidecar>(&json).unwrap(), p);
        let extra = json.replacen('{', "{\"x\":1,", 1);
        assert!(serde_json::from_str::<PartSidecar>(&extra).is_err());
        assert!(serde_json::from_str::<LateSidecar>("{\"v\":1,\"key\":\"k\"}").is_err());
    }
}
