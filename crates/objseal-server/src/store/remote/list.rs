//! Listings (V1 and V2): the backend's, with the gateway's prefix hidden and each object's size
//! and ETag as a HEAD through the store reports them.

use futures::StreamExt as _;
use percent_encoding::percent_decode_str;
use s3s::dto::*;
use s3s::{S3ErrorCode, S3Request, S3Response, S3Result};

use super::errors::{Subject, backend_error};
use super::stat::Conditions;
use super::trailer::TRAILER_LEN;
use super::{RemoteStore, from_sdk_time, is_reserved_key, unquote};
use crate::internal::{LATE_ETAG, LATE_SIZE};

/// A listed object, as the backend lists it.
struct Listed {
    /// The key as it goes back to the client (URL-encoded when asked).
    shown: String,
    /// The key itself.
    key: String,
    size: i64,
    etag: String,
    last_modified: Option<Timestamp>,
    storage_class: Option<String>,
    owner: Option<Owner>,
}

impl Listed {
    fn into_object(self) -> Object {
        Object {
            key: Some(self.shown),
            size: Some(self.size),
            e_tag: Some(ETag::Strong(self.etag)),
            last_modified: self.last_modified,
            storage_class: self.storage_class.map(ObjectStorageClass::from),
            owner: self.owner,
            ..Default::default()
        }
    }
}

pub(super) fn is_url(encoding: Option<&EncodingType>) -> bool {
    encoding.is_some_and(|e| e.as_str().eq_ignore_ascii_case(EncodingType::URL))
}

/// The key a listing names (listings with `encoding-type=url` name them encoded).
pub(super) fn real_key(shown: &str, url: bool) -> String {
    if url {
        percent_decode_str(shown).decode_utf8_lossy().into_owned()
    } else {
        shown.to_owned()
    }
}

macro_rules! listed {
    ($o:expr, $url:expr) => {{
        let o = $o;
        let shown = o.key().unwrap_or_default().to_owned();
        Listed {
            key: real_key(&shown, $url),
            shown,
            size: o.size().unwrap_or(0),
            etag: o.e_tag().map(unquote).unwrap_or_default(),
            last_modified: o.last_modified().map(from_sdk_time),
            storage_class: o.storage_class().map(|c| c.as_str().to_owned()),
            owner: o.owner().map(|w| Owner {
                display_name: w.display_name().map(str::to_owned),
                id: w.id().map(str::to_owned),
            }),
        }
    }};
}

impl RemoteStore {
    /// Each listed object as the store reports it: the size the layer named ([`LATE_SIZE`]) and
    /// its ETag ([`LATE_ETAG`]), read from the object's trailer or late sidecar; objects without
    /// either as listed. Objects shorter than a trailer without a multipart ETag cannot hold one
    /// and cost nothing; every other object one ranged GET of its last 4 KiB (and a completed
    /// multipart upload one GET of its sidecar), `list_concurrency` at a time. An object replaced since the
    /// backend listed it is described as it is now; one deleted since is left out.
    async fn describe(&self, bucket: &str, listed: Vec<Listed>) -> S3Result<Vec<Object>> {
        let concurrency = self.inner.list_concurrency.max(1);
        let described: Vec<S3Result<Option<Object>>> = futures::stream::iter(listed)
            .map(|l| self.describe_one(bucket, l))
            .buffered(concurrency)
            .collect()
            .await;
        let mut out = Vec::with_capacity(described.len());
        for d in described {
            if let Some(o) = d? {
                out.push(o);
            }
        }
        Ok(out)
    }

    async fn describe_one(&self, bucket: &str, mut l: Listed) -> S3Result<Option<Object>> {
        // Objects with a trailer are at least as long as one; a completed multipart upload
        // (late entries in a sidecar) may be shorter, and has a multipart ETag (`…-N`).
        if l.size >= TRAILER_LEN as i64 || l.etag.contains('-') {
            let pinned = Conditions {
                if_match: Some(ETagCondition::ETag(ETag::Strong(l.etag.clone()))),
                ..Conditions::default()
            };
            let stat = match self.stat(bucket, &l.key, &pinned).await {
                Err(e) if *e.code() == S3ErrorCode::PreconditionFailed => {
                    self.stat(bucket, &l.key, &Conditions::default()).await
                }
                other => other,
            };
            let stat = match stat {
                Ok(stat) => stat,
                Err(e) if *e.code() == S3ErrorCode::NoSuchKey => return Ok(None),
                // One damaged object (logged where it was found) must not make the whole
                // bucket unlistable: it is listed as stored.
                Err(e) if *e.code() == S3ErrorCode::InternalError => {
                    return Ok(Some(l.into_object()));
                }
                Err(e) => return Err(e),
            };
            if stat.has_late() {
                let size = stat
                    .late
                    .get(LATE_SIZE)
                    .and_then(|s| s.parse::<u64>().ok())
                    .unwrap_or(stat.len);
                l.size = i64::try_from(size).unwrap_or(i64::MAX);
                if let Some(etag) = stat.late.get(LATE_ETAG) {
                    l.etag.clone_from(etag);
                }
                l.last_modified = stat.last_modified.or(l.last_modified);
            } else if stat.etag != l.etag {
                l.size = i64::try_from(stat.len).unwrap_or(i64::MAX);
                l.etag = stat.etag;
                l.last_modified = stat.last_modified.or(l.last_modified);
            }
        }
        Ok(Some(l.into_object()))
    }

    pub(super) async fn list_objects_v2_impl(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        let input = req.input;
        let url = is_url(input.encoding_type.as_ref());
        let out = self
            .inner
            .clients
            .calls
            .list_objects_v2()
            .bucket(&input.bucket)
            .set_prefix(input.prefix.clone())
            .set_delimiter(input.delimiter.clone())
            .set_max_keys(input.max_keys)
            .set_continuation_token(input.continuation_token.clone())
            .set_start_after(input.start_after.clone())
            .set_fetch_owner(input.fetch_owner)
            .set_encoding_type(url.then_some(aws_sdk_s3::types::EncodingType::Url))
            .send()
            .await
            .map_err(|e| backend_error("ListObjectsV2", Subject::Bucket, e))?;
        let listed: Vec<Listed> = out
            .contents()
            .iter()
            .map(|o| listed!(o, url))
            .filter(|l| !is_reserved_key(&l.key))
            .collect();
        let contents = self.describe(&input.bucket, listed).await?;
        let prefixes =
            common_prefixes(out.common_prefixes().iter().filter_map(|p| p.prefix()), url);
        let key_count = i32::try_from(contents.len() + prefixes.len()).unwrap_or(i32::MAX);
        Ok(S3Response::new(ListObjectsV2Output {
            name: Some(input.bucket),
            prefix: out.prefix().map(str::to_owned).or(input.prefix),
            max_keys: out.max_keys().or(input.max_keys),
            key_count: Some(key_count),
            continuation_token: input.continuation_token,
            is_truncated: out.is_truncated(),
            next_continuation_token: out.next_continuation_token().map(str::to_owned),
            contents: Some(contents),
            common_prefixes: Some(prefixes),
            delimiter: out.delimiter().map(str::to_owned).or(input.delimiter),
            encoding_type: input.encoding_type,
            start_after: out.start_after().map(str::to_owned).or(input.start_after),
            request_charged: None,
        }))
    }

    pub(super) async fn list_objects_impl(
        &self,
        req: S3Request<ListObjectsInput>,
    ) -> S3Result<S3Response<ListObjectsOutput>> {
        let input = req.input;
        let url = is_url(input.encoding_type.as_ref());
        let out = self
            .inner
            .clients
            .calls
            .list_objects()
            .bucket(&input.bucket)
            .set_prefix(input.prefix.clone())
            .set_delimiter(input.delimiter.clone())
            .set_max_keys(input.max_keys)
            .set_marker(input.marker.clone())
            .set_encoding_type(url.then_some(aws_sdk_s3::types::EncodingType::Url))
            .send()
            .await
            .map_err(|e| backend_error("ListObjects", Subject::Bucket, e))?;
        let listed: Vec<Listed> = out
            .contents()
            .iter()
            .map(|o| listed!(o, url))
            .filter(|l| !is_reserved_key(&l.key))
            .collect();
        // A V1 client continues after the last key it saw unless told otherwise; a truncated
        // page whose last entries were the gateway's own (hidden) must say where it ended, or a
        // page of nothing but `.objseal/` keys would leave the client nowhere to go on from.
        let next_marker = out.next_marker().map(str::to_owned).or_else(|| {
            let last_key = out.contents().last().and_then(|o| o.key());
            let last_prefix = out.common_prefixes().last().and_then(|p| p.prefix());
            out.is_truncated()
                .unwrap_or(false)
                .then(|| last_key.max(last_prefix).map(str::to_owned))
                .flatten()
        });
        let contents = self.describe(&input.bucket, listed).await?;
        let prefixes =
            common_prefixes(out.common_prefixes().iter().filter_map(|p| p.prefix()), url);
        Ok(S3Response::new(ListObjectsOutput {
            name: Some(input.bucket),
            prefix: out.prefix().map(str::to_owned).or(input.prefix),
            marker: out.marker().map(str::to_owned).or(input.marker),
            max_keys: out.max_keys().or(input.max_keys),
            is_truncated: out.is_truncated(),
            contents: Some(contents),
            common_prefixes: Some(prefixes),
            delimiter: out.delimiter().map(str::to_owned).or(input.delimiter),
            next_marker,
            encoding_type: input.encoding_type,
            request_charged: None,
        }))
    }
}

/// The common prefixes a client may see: those inside the gateway's prefix are its own.
fn common_prefixes<'a>(prefixes: impl Iterator<Item = &'a str>, url: bool) -> Vec<CommonPrefix> {
    prefixes
        .filter(|p| !is_reserved_key(&real_key(p, url)))
        .map(|p| CommonPrefix {
            prefix: Some(p.to_owned()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_prefixes_of_the_gateway_are_hidden() {
        assert_eq!(real_key("a%20b/%2Eobjseal%2F", true), "a b/.objseal/");
        assert_eq!(real_key("a%20b", false), "a%20b");
        let shown: Vec<_> = common_prefixes(
            [".objseal/", "%2Eobjseal%2F", "photos/", ".objseal-not/"].into_iter(),
            true,
        )
        .into_iter()
        .filter_map(|p| p.prefix)
        .collect();
        assert_eq!(shown, ["photos/", ".objseal-not/"]);
    }
}
