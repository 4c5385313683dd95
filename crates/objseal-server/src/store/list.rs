//! Listing objects (V1 and V2) from a bucket's in-memory index.

use std::collections::BTreeMap;
use std::ops::Bound;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use super::bucket::IndexEntry;
use super::{LocalStore, lock, ts_from_ms};

/// The most keys one listing returns, as Amazon S3 does.
const MAX_KEYS: i32 = 1000;

/// What `encoding-type=url` leaves as is: unreserved characters and `/`.
const URL_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

/// One page of a listing.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Page {
    pub objects: Vec<(String, IndexEntry)>,
    pub prefixes: Vec<String>,
    pub truncated: bool,
    /// The last key or common prefix returned: where the next page starts after.
    pub last: Option<String>,
}

/// The smallest string greater than every string that starts with `s` (`None` if there is none).
///
/// UTF-8 byte order is code-point order, so bumping the last character that can be bumped works.
fn prefix_successor(s: &str) -> Option<String> {
    let mut chars: Vec<char> = s.chars().collect();
    while let Some(c) = chars.pop() {
        let next = match c {
            '\u{D7FF}' => Some('\u{E000}'),
            char::MAX => None,
            c => char::from_u32(u32::from(c) + 1),
        };
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// Lists the keys of `objects` that start with `prefix` and sort after `after`, rolling those
/// with `delimiter` after the prefix into common prefixes, at most `max` entries in all.
///
/// A common prefix that sorts at or before `after` has been returned already and is skipped
/// with all its keys, so a page can resume after a common prefix.
pub(super) fn list_page(
    objects: &BTreeMap<String, IndexEntry>,
    prefix: &str,
    delimiter: Option<&str>,
    after: Option<&str>,
    max: usize,
) -> Page {
    let mut page = Page::default();
    if max == 0 {
        return page;
    }
    let delimiter = delimiter.filter(|d| !d.is_empty());
    let mut cursor: Bound<String> = match after {
        Some(a) if a >= prefix => Bound::Excluded(a.to_owned()),
        _ => Bound::Included(prefix.to_owned()),
    };
    let mut count = 0usize;
    loop {
        let lower = match &cursor {
            Bound::Included(s) => Bound::Included(s.as_str()),
            Bound::Excluded(s) => Bound::Excluded(s.as_str()),
            Bound::Unbounded => Bound::Unbounded,
        };
        let Some((key, entry)) = objects.range::<str, _>((lower, Bound::Unbounded)).next() else {
            break;
        };
        if !key.starts_with(prefix) {
            break;
        }
        let rest = &key[prefix.len()..];
        if let Some(d) = delimiter
            && let Some(pos) = rest.find(d)
        {
            let common = &key[..prefix.len() + pos + d.len()];
            let seen = after.is_some_and(|a| common <= a)
                || page.prefixes.last().is_some_and(|p| p == common);
            if !seen {
                if count == max {
                    page.truncated = true;
                    break;
                }
                page.prefixes.push(common.to_owned());
                page.last = Some(common.to_owned());
                count += 1;
            }
            cursor = match prefix_successor(common) {
                Some(s) => Bound::Included(s),
                None => Bound::Excluded(key.clone()),
            };
            continue;
        }
        if count == max {
            page.truncated = true;
            break;
        }
        page.objects.push((key.clone(), entry.clone()));
        page.last = Some(key.clone());
        count += 1;
        cursor = Bound::Excluded(key.clone());
    }
    page
}

/// Applies `encoding-type=url` to a string of the response.
fn encoder(url: bool) -> impl Fn(String) -> String {
    move |s| {
        if url {
            utf8_percent_encode(&s, URL_ENCODE).to_string()
        } else {
            s
        }
    }
}

fn is_url(encoding: Option<&EncodingType>) -> bool {
    encoding.is_some_and(|e| e.as_str().eq_ignore_ascii_case(EncodingType::URL))
}

fn max_keys(max: Option<i32>) -> S3Result<usize> {
    let max = max.unwrap_or(MAX_KEYS);
    if max < 0 {
        return Err(s3_error!(InvalidArgument, "max-keys cannot be negative"));
    }
    Ok(usize::try_from(max.min(MAX_KEYS)).unwrap_or(0))
}

fn encode_token(last: &str) -> String {
    hex::encode(last.as_bytes())
}

fn decode_token(token: &str) -> S3Result<String> {
    hex::decode(token)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| {
            s3_error!(
                InvalidArgument,
                "The continuation token provided is incorrect"
            )
        })
}

fn objects_out(
    page: &mut Page,
    enc: &impl Fn(String) -> String,
) -> (Vec<Object>, Vec<CommonPrefix>) {
    let objects = std::mem::take(&mut page.objects)
        .into_iter()
        .map(|(key, entry)| Object {
            key: Some(enc(key)),
            size: Some(i64::try_from(entry.size).unwrap_or(i64::MAX)),
            e_tag: Some(ETag::Strong(entry.etag)),
            last_modified: Some(ts_from_ms(entry.last_modified)),
            storage_class: Some(ObjectStorageClass::from_static(
                ObjectStorageClass::STANDARD,
            )),
            ..Default::default()
        })
        .collect();
    let prefixes = std::mem::take(&mut page.prefixes)
        .into_iter()
        .map(|p| CommonPrefix {
            prefix: Some(enc(p)),
        })
        .collect();
    (objects, prefixes)
}

impl LocalStore {
    fn list(
        &self,
        bucket: &str,
        prefix: &str,
        delimiter: Option<&str>,
        after: Option<&str>,
        max: usize,
    ) -> S3Result<Page> {
        let bucket = self.bucket(bucket)?;
        let index = lock(&bucket.index);
        Ok(list_page(&index.objects, prefix, delimiter, after, max))
    }

    pub(super) async fn list_objects_impl(
        &self,
        req: S3Request<ListObjectsInput>,
    ) -> S3Result<S3Response<ListObjectsOutput>> {
        let input = req.input;
        let max = max_keys(input.max_keys)?;
        let prefix = input.prefix.clone().unwrap_or_default();
        let mut page = self.list(
            &input.bucket,
            &prefix,
            input.delimiter.as_deref(),
            input.marker.as_deref(),
            max,
        )?;
        let enc = encoder(is_url(input.encoding_type.as_ref()));
        let next_marker = if page.truncated {
            page.last.take().map(&enc)
        } else {
            None
        };
        let (contents, common_prefixes) = objects_out(&mut page, &enc);
        Ok(S3Response::new(ListObjectsOutput {
            name: Some(input.bucket),
            prefix: Some(enc(prefix)),
            marker: input.marker.map(&enc),
            max_keys: Some(i32::try_from(max).unwrap_or(MAX_KEYS)),
            is_truncated: Some(page.truncated),
            contents: Some(contents),
            common_prefixes: Some(common_prefixes),
            delimiter: input.delimiter.map(&enc),
            next_marker,
            encoding_type: input.encoding_type,
            request_charged: None,
        }))
    }

    pub(super) async fn list_objects_v2_impl(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        let input = req.input;
        let max = max_keys(input.max_keys)?;
        let prefix = input.prefix.clone().unwrap_or_default();
        let after = match &input.continuation_token {
            Some(token) => Some(decode_token(token)?),
            None => input.start_after.clone(),
        };
        let mut page = self.list(
            &input.bucket,
            &prefix,
            input.delimiter.as_deref(),
            after.as_deref(),
            max,
        )?;
        let enc = encoder(is_url(input.encoding_type.as_ref()));
        let next_token = if page.truncated {
            page.last.take().map(|l| encode_token(&l))
        } else {
            None
        };
        let (contents, common_prefixes) = objects_out(&mut page, &enc);
        let key_count = i32::try_from(contents.len() + common_prefixes.len()).unwrap_or(MAX_KEYS);
        Ok(S3Response::new(ListObjectsV2Output {
            name: Some(input.bucket),
            prefix: Some(enc(prefix)),
            max_keys: Some(i32::try_from(max).unwrap_or(MAX_KEYS)),
            key_count: Some(key_count),
            continuation_token: input.continuation_token,
            is_truncated: Some(page.truncated),
            next_continuation_token: next_token,
            contents: Some(contents),
            common_prefixes: Some(common_prefixes),
            delimiter: input.delimiter.map(&enc),
            encoding_type: input.encoding_type,
            start_after: input.start_after.map(&enc),
            request_charged: None,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(keys: &[&str]) -> BTreeMap<String, IndexEntry> {
        keys.iter()
            .map(|k| {
                let entry = IndexEntry {
                    size: 1,
                    etag: "e".into(),
                    last_modified: 0,
                };
                ((*k).to_owned(), entry)
            })
            .collect()
    }

    fn keys(page: &Page) -> Vec<&str> {
        page.objects.iter().map(|(k, _)| k.as_str()).collect()
    }

    #[test]
    fn successor() {
        assert_eq!(prefix_successor("a/").as_deref(), Some("a0"));
        assert_eq!(prefix_successor("a\u{D7FF}").as_deref(), Some("a\u{E000}"));
        assert_eq!(prefix_successor("a\u{10FFFF}").as_deref(), Some("b"));
        assert_eq!(prefix_successor("\u{10FFFF}"), None);
        assert_eq!(prefix_successor(""), None);
    }

    #[test]
    fn delimiter_and_resume_after_common_prefix() {
        let idx = index(&["a", "b/1", "b/2", "b/3", "c", "d/x/y", "e"]);
        let p = list_page(&idx, "", Some("/"), None, 3);
        assert_eq!(keys(&p), ["a", "c"]);
        assert_eq!(p.prefixes, ["b/"]);
        assert!(p.truncated);
        assert_eq!(p.last.as_deref(), Some("c"));
        let p = list_page(&idx, "", Some("/"), Some("b/"), 10);
        assert_eq!(keys(&p), ["c", "e"]);
        assert_eq!(p.prefixes, ["d/"]);
        assert!(!p.truncated);
        // Resuming inside a rolled-up prefix does not repeat it.
        let p = list_page(&idx, "", Some("/"), Some("b/1"), 10);
        assert_eq!(p.prefixes, ["d/"]);
    }

    #[test]
    fn unbumpable_common_prefix_is_listed_once() {
        let idx = index(&["\u{10FFFF}", "\u{10FFFF}\u{10FFFF}", "\u{10FFFF}a", "a"]);
        let p = list_page(&idx, "", Some("\u{10FFFF}"), None, 10);
        assert_eq!(keys(&p), ["a"]);
        assert_eq!(p.prefixes, ["\u{10FFFF}"]);
        let p = list_page(&idx, "", Some("\u{10FFFF}"), None, 1);
        assert!(p.truncated);
        let p = list_page(&idx, "", Some("\u{10FFFF}"), p.last.as_deref(), 1);
        assert_eq!(p.prefixes, ["\u{10FFFF}"]);
        assert!(!p.truncated);
    }

    #[test]
    fn prefix_and_max_zero() {
        let idx = index(&["a/1", "a/2", "ab", "b"]);
        let p = list_page(&idx, "a/", None, None, 10);
        assert_eq!(keys(&p), ["a/1", "a/2"]);
        let p = list_page(&idx, "a", Some("/"), None, 10);
        assert_eq!(keys(&p), ["ab"]);
        assert_eq!(p.prefixes, ["a/"]);
        let p = list_page(&idx, "", None, None, 0);
        assert!(p.objects.is_empty() && !p.truncated);
        let p = list_page(&idx, "a/", None, Some("0"), 10);
        assert_eq!(keys(&p), ["a/1", "a/2"]);
    }

    #[test]
    fn tokens_and_encoding() {
        let t = encode_token("ü/x y");
        assert_eq!(decode_token(&t).unwrap(), "ü/x y");
        assert!(decode_token("zz").is_err());
        let enc = encoder(true);
        assert_eq!(enc("a b+c/é%".to_owned()), "a%20b%2Bc/%C3%A9%25");
    }
}
