//! The backend's `ListParts`, tolerant of one known deviation: moto (5.x) answers with the root
//! element `ListPartsResponse` instead of `ListPartsResult`, which the AWS SDK refuses to
//! decode. A 200 answer the SDK could not decode is then read by a minimal reader of the few
//! elements the gateway needs; anything else it cannot read stays the SDK's error.

use aws_sdk_s3::error::SdkError;
use s3s::S3Result;
use s3s::dto::{Timestamp, TimestampFormat};

use super::{RemoteStore, from_sdk_time, unquote};

/// One part as the backend lists it.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct BackendPart {
    pub number: i32,
    /// Without quotes.
    pub etag: String,
    pub size: i64,
    pub last_modified: Option<Timestamp>,
}

/// A page of the backend's parts.
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct BackendParts {
    pub parts: Vec<BackendPart>,
    pub truncated: Option<bool>,
    pub next_marker: Option<i32>,
    pub max_parts: Option<i32>,
}

impl RemoteStore {
    /// The backend's `ListParts` of upload `id` of `key`: a 404 is `NoSuchUpload`.
    pub(super) async fn backend_parts(
        &self,
        bucket: &str,
        key: &str,
        id: &str,
        marker: Option<i32>,
        max: Option<i32>,
    ) -> S3Result<BackendParts> {
        let answer = self
            .inner
            .clients
            .calls
            .list_parts()
            .bucket(bucket)
            .key(key)
            .upload_id(id)
            .set_part_number_marker(marker.map(|m| m.to_string()))
            .set_max_parts(max)
            .send()
            .await;
        let out = match answer {
            Ok(out) => out,
            Err(e) => {
                if let SdkError::ServiceError(s) = &e
                    && s.raw().status().as_u16() == 200
                    && let Some(parsed) = s.raw().body().bytes().and_then(parse)
                {
                    return Ok(parsed);
                }
                return Err(super::multipart::upload_error("ListParts", e));
            }
        };
        Ok(BackendParts {
            parts: out
                .parts()
                .iter()
                .filter_map(|p| {
                    Some(BackendPart {
                        number: p.part_number()?,
                        etag: p.e_tag().map(unquote)?,
                        size: p.size().unwrap_or(0),
                        last_modified: p.last_modified().map(from_sdk_time),
                    })
                })
                .collect(),
            truncated: out.is_truncated(),
            next_marker: out.next_part_number_marker().and_then(|m| m.parse().ok()),
            max_parts: out.max_parts(),
        })
    }
}

/// The text of the first `<name>…</name>` in `xml`.
fn element<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{name}>"))? + start;
    Some(&xml[start..end])
}

fn unescape(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&apos;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// A `ListParts` answer body; `None` unless it is one.
fn parse(body: &[u8]) -> Option<BackendParts> {
    let xml = std::str::from_utf8(body).ok()?;
    if !(xml.contains("<ListPartsResponse") || xml.contains("<ListPartsResult")) {
        return None;
    }
    let mut parts = Vec::new();
    let mut rest = xml;
    let mut outside = String::new();
    while let Some(at) = rest.find("<Part>") {
        outside.push_str(&rest[..at]);
        let end = rest[at..].find("</Part>")? + at;
        let part = &rest[at..end];
        parts.push(BackendPart {
            number: element(part, "PartNumber")?.trim().parse().ok()?,
            etag: unquote(&unescape(element(part, "ETag")?)),
            size: element(part, "Size")?.trim().parse().ok()?,
            last_modified: element(part, "LastModified")
                .and_then(|t| Timestamp::parse(TimestampFormat::DateTime, t.trim()).ok()),
        });
        rest = &rest[end + "</Part>".len()..];
    }
    outside.push_str(rest);
    Some(BackendParts {
        parts,
        truncated: element(&outside, "IsTruncated").map(|t| t.trim() == "true"),
        next_marker: element(&outside, "NextPartNumberMarker").and_then(|t| t.trim().parse().ok()),
        max_parts: element(&outside, "MaxParts").and_then(|t| t.trim().parse().ok()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn motos_answer_is_read() {
        let body = br#"<?xml version="1.0" encoding="utf-8"?>
<ListPartsResponse xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Bucket>b</Bucket><Key>k</Key><UploadId>u</UploadId><PartNumberMarker>0</PartNumberMarker><NextPartNumberMarker>2</NextPartNumberMarker><MaxParts>1000</MaxParts><IsTruncated>false</IsTruncated><Part><PartNumber>1</PartNumber><LastModified>2026-12-02T05:06:29.000Z</LastModified><ETag>"a8cd"</ETag><Size>14</Size></Part><Part><PartNumber>2</PartNumber><LastModified>2026-12-02T05:06:29.000Z</LastModified><ETag>&quot;b9&quot;</ETag><Size>5</Size></Part></ListPartsResponse>"#;
        let p = parse(body).unwrap();
        assert_eq!(p.parts.len(), 2);
        assert_eq!(p.parts[0].number, 1);
        assert_eq!(p.parts[0].etag, "a8cd");
        assert_eq!(p.parts[1].etag, "b9");
        assert_eq!(p.parts[1].size, 5);
        assert!(p.parts[0].last_modified.is_some());
        assert_eq!(p.truncated, Some(false));
        assert_eq!(p.next_marker, Some(2));
        assert_eq!(p.max_parts, Some(1000));
        assert!(parse(b"<Error><Code>NoSuchUpload</Code></Error>").is_none());
        assert!(parse(b"<ListPartsResult><Part><PartNumber>x</PartNumber></Part>").is_none());
    }
}
