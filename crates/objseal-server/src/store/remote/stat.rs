//! Describing a backend object as the layer wrote it — its metadata with the trailer's entries
//! merged in, its length without the trailer — from one ranged GET of its last 4096 bytes (and,
//! for a completed multipart upload, one GET of its late sidecar).

use std::collections::{BTreeMap, HashMap};

use s3s::S3Result;
use s3s::dto::{ETagCondition, Timestamp, TimestampFormat};

use super::body::collect_limited;
use super::errors::{Subject, backend_error, corrupt};
use super::sidecar::SIDECAR_META;
use super::trailer::{self, TRAILER_LEN, TRAILER_META};
use super::{RemoteStore, from_sdk_time, header_value, to_sdk_time, unquote};

/// The conditions a read puts on the version it describes (evaluated by the backend, against
/// its own ETag — the one [`Stat::etag`] reports).
#[derive(Clone, Debug, Default)]
pub(super) struct Conditions {
    pub if_match: Option<ETagCondition>,
    pub if_none_match: Option<ETagCondition>,
    pub if_modified_since: Option<Timestamp>,
    pub if_unmodified_since: Option<Timestamp>,
}

/// One version of a backend object, as the layer wrote it.
#[derive(Clone, Debug, Default)]
pub(super) struct Stat {
    /// The backend's ETag of this version (without quotes): what reads pin.
    pub etag: String,
    /// The length of what the layer wrote (the backend object without its trailer).
    pub len: u64,
    /// Whether the backend object ends in a trailer.
    pub has_trailer: bool,
    /// The user metadata the object was written with (the gateway's own entry left out).
    pub upfront: HashMap<String, String>,
    /// The late entries: the trailer's, or the late sidecar's (empty without either).
    pub late: BTreeMap<String, String>,
    /// The token of the late sidecar the object names (a completed multipart upload).
    pub late_token: Option<String>,
    pub last_modified: Option<Timestamp>,
    pub content_type: Option<String>,
    pub cache_control: Option<String>,
    pub content_disposition: Option<String>,
    pub content_encoding: Option<String>,
    pub content_language: Option<String>,
    pub expires: Option<Timestamp>,
    pub website_redirect_location: Option<String>,
}

impl Stat {
    /// The metadata the layer sees: the upfront entries, then the trailer's over them (the late
    /// entries win, as [`LocalStore`](crate::LocalStore) merges them).
    pub fn metadata(&self) -> HashMap<String, String> {
        // (`has_late` below tells whether the layer's late entries were there at all.)
        let mut m = self.upfront.clone();
        m.extend(self.late.iter().map(|(k, v)| (k.clone(), v.clone())));
        m
    }
}

impl Stat {
    /// Whether the object carries late entries (in a trailer or a sidecar).
    pub fn has_late(&self) -> bool {
        self.has_trailer || self.late_token.is_some()
    }
}

/// Copies the fields GET and HEAD answers share into a [`Stat`].
macro_rules! described {
    ($out:expr) => {{
        let out = &$out;
        let mut upfront = out.metadata().cloned().unwrap_or_default();
        let trailer = upfront.remove(TRAILER_META);
        let token = upfront.remove(SIDECAR_META);
        let stat = Stat {
            etag: out.e_tag().map(unquote).unwrap_or_default(),
            last_modified: out.last_modified().map(from_sdk_time),
            content_type: out.content_type().map(str::to_owned),
            cache_control: out.cache_control().map(str::to_owned),
            content_disposition: out.content_disposition().map(str::to_owned),
            content_encoding: out.content_encoding().map(str::to_owned),
            content_language: out.content_language().map(str::to_owned),
            expires: out
                .expires_string()
                .and_then(|s| Timestamp::parse(TimestampFormat::HttpDate, s).ok()),
            website_redirect_location: out.website_redirect_location().map(str::to_owned),
            upfront,
            late_token: token,
            ..Stat::default()
        };
        (stat, trailer)
    }};
}

/// The full length of the object a ranged answer is part of (`bytes a-b/total`).
fn total_of(content_range: &str) -> Option<u64> {
    content_range.rsplit_once('/')?.1.trim().parse().ok()
}

impl RemoteStore {
    /// Describes the current version of `bucket/key` under `cond` in one request: a GET of its
    /// last [`TRAILER_LEN`] bytes, whose answer carries the metadata, the total length and —
    /// from the same version — the trailer. Objects too small for a range (empty ones) are
    /// described by a HEAD.
    pub(super) async fn stat(&self, bucket: &str, key: &str, cond: &Conditions) -> S3Result<Stat> {
        let answer = self
            .inner
            .clients
            .calls
            .get_object()
            .bucket(bucket)
            .key(key)
            .range(format!("bytes=-{TRAILER_LEN}"))
            .set_if_match(cond.if_match.as_ref().and_then(header_value))
            .set_if_none_match(cond.if_none_match.as_ref().and_then(header_value))
            .set_if_modified_since(cond.if_modified_since.as_ref().map(to_sdk_time))
            .set_if_unmodified_since(cond.if_unmodified_since.as_ref().map(to_sdk_time))
            .send()
            .await;
        let out = match answer {
            Ok(out) => out,
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 416) => {
                return self.stat_by_head(bucket, key, cond).await;
            }
            Err(e) => return Err(backend_error("GetObject", Subject::Object, e)),
        };
        let (mut stat, trailer) = described!(out);
        let sent = u64::try_from(out.content_length().unwrap_or(0)).unwrap_or(0);
        let total = match out.content_range() {
            Some(range) => total_of(range)
                .ok_or_else(|| corrupt(bucket, key, &"an unreadable Content-Range"))?,
            // The whole object came back (a backend that ignores ranges on small objects).
            None => sent,
        };
        let body = collect_limited(out.body.into_inner(), TRAILER_LEN).await;
        if let Some(token) = stat.late_token.clone() {
            // A completed multipart upload: its late entries are in its sidecar.
            if trailer.is_some() {
                return Err(corrupt(bucket, key, &"both a trailer and a late sidecar"));
            }
            stat.late = self.late_entries(bucket, key, &token).await?;
            stat.len = total;
            return Ok(stat);
        }
        let Some(value) = trailer else {
            // Written without the layer's late entries, or by another tool: served as stored.
            stat.len = total;
            return Ok(stat);
        };
        if !trailer::is_trailer_len(&value) || total < TRAILER_LEN as u64 {
            return Err(corrupt(bucket, key, &"a trailer entry that does not fit"));
        }
        let body = body.map_err(|e| {
            tracing::warn!(bucket, key, error = %e, "reading an object's trailer failed");
            super::errors::slow_down("The backing store's answer was cut short; please retry.")
        })?;
        stat.late = self
            .trailer_seal(Some(&stat.upfront))?
            .decode(&body)
            .map_err(|e| corrupt(bucket, key, &e))?;
        stat.has_trailer = true;
        stat.len = total - TRAILER_LEN as u64;
        Ok(stat)
    }

    /// [`Self::stat`] by a HEAD, for objects a ranged GET cannot describe (empty ones: no range
    /// of them is satisfiable). They hold no trailer.
    async fn stat_by_head(&self, bucket: &str, key: &str, cond: &Conditions) -> S3Result<Stat> {
        let out = self
            .inner
            .clients
            .calls
            .head_object()
            .bucket(bucket)
            .key(key)
            .set_if_match(cond.if_match.as_ref().and_then(header_value))
            .set_if_none_match(cond.if_none_match.as_ref().and_then(header_value))
            .set_if_modified_since(cond.if_modified_since.as_ref().map(to_sdk_time))
            .set_if_unmodified_since(cond.if_unmodified_since.as_ref().map(to_sdk_time))
            .send()
            .await
            .map_err(|e| backend_error("HeadObject", Subject::Object, e))?;
        let (mut stat, trailer) = described!(out);
        if trailer.is_some() {
            return Err(corrupt(
                bucket,
                key,
                &"a trailer entry on an object too short for one",
            ));
        }
        if let Some(token) = stat.late_token.clone() {
            stat.late = self.late_entries(bucket, key, &token).await?;
        }
        stat.len = u64::try_from(out.content_length().unwrap_or(0)).unwrap_or(0);
        Ok(stat)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals() {
        assert_eq!(total_of("bytes 0-9/10"), Some(10));
        assert_eq!(total_of("bytes 4086-8191/8192"), Some(8192));
        assert_eq!(total_of("bytes 0-9/*"), None);
        assert_eq!(total_of("nonsense"), None);
    }

    #[test]
    fn late_entries_win() {
        let mut stat = Stat::default();
        stat.upfront.insert("objseal-size".into(), "1".into());
        stat.upfront.insert("a".into(), "b".into());
        stat.late.insert("objseal-size".into(), "2".into());
        let m = stat.metadata();
        assert_eq!(m["objseal-size"], "2");
        assert_eq!(m["a"], "b");
    }
}
