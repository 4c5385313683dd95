//! Addresses on the command line: `s3://bucket/key`, `s3://bucket[/prefix]`, and HTTP byte ranges.

use std::fmt;

use objseal_client::ByteRange;

/// An object: `s3://bucket/key`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct S3Url {
    /// The bucket.
    pub bucket: String,
    /// The key (a prefix, for listings; may then be empty).
    pub key: String,
}

impl fmt::Display for S3Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.key.as_str() {
            "" => write!(f, "s3://{}", self.bucket),
            key => write!(f, "s3://{}/{key}", self.bucket),
        }
    }
}

impl S3Url {
    /// `s3://bucket/key`, the key non-empty.
    pub fn object(s: &str) -> Result<Self, String> {
        let url = Self::prefix(s)?;
        if url.key.is_empty() {
            return Err(format!(
                "`{s}` names a bucket, not an object: s3://BUCKET/KEY"
            ));
        }
        Ok(url)
    }

    /// `s3://bucket`, `s3://bucket/` or `s3://bucket/prefix`.
    pub fn prefix(s: &str) -> Result<Self, String> {
        let rest = s
            .strip_prefix("s3://")
            .ok_or_else(|| format!("`{s}` is not an S3 address: s3://BUCKET/KEY"))?;
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(format!("`{s}` names no bucket: s3://BUCKET/KEY"));
        }
        if !bucket
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
        {
            return Err(format!(
                "`{bucket}` is not a bucket name (letters, digits, `-`, `.` and `_`)"
            ));
        }
        Ok(Self {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
        })
    }

    /// The key's last name (after the last `/`), for a download into a directory.
    pub fn file_name(&self) -> Option<&str> {
        let name = self.key.rsplit('/').next().unwrap_or_default();
        (!name.is_empty() && name != "." && name != "..").then_some(name)
    }
}

/// An HTTP byte range: `bytes=0-99`, `0-99`, `100-`, `-500`.
pub(crate) fn parse_range(s: &str) -> Result<ByteRange, String> {
    let bad = || format!("`{s}` is not a byte range (bytes=0-99, 0-99, 100- or -500)");
    let spec = s.trim();
    let spec = spec.strip_prefix("bytes=").unwrap_or(spec);
    let (first, last) = spec.split_once('-').ok_or_else(bad)?;
    let number = |t: &str| -> Result<u64, String> {
        if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        t.parse().map_err(|_| bad())
    };
    match (first.is_empty(), last.is_empty()) {
        (true, true) => Err(bad()),
        (true, false) => match number(last)? {
            0 => Err(format!("`{s}`: a suffix range needs at least one byte")),
            n => Ok(ByteRange::Suffix(n)),
        },
        (false, true) => Ok(ByteRange::From(number(first)?)),
        (false, false) => {
            let (first, last) = (number(first)?, number(last)?);
            if first > last {
                return Err(format!("`{s}`: the first byte is after the last"));
            }
            Ok(ByteRange::Inclusive { first, last })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let url = |b: &str, k: &str| {
            Ok(S3Url {
                bucket: b.into(),
                key: k.into(),
            })
        };
        assert_eq!(S3Url::object("s3://b/k"), url("b", "k"));
        assert_eq!(S3Url::object("s3://b/a/b/c.txt"), url("b", "a/b/c.txt"));
        assert_eq!(S3Url::object("s3://b//k"), url("b", "/k"));
        assert_eq!(S3Url::prefix("s3://b"), url("b", ""));
        assert_eq!(S3Url::prefix("s3://b/"), url("b", ""));
        assert_eq!(S3Url::prefix("s3://b/p/"), url("b", "p/"));
        for bad in [
            "b/k",
            "s3://",
            "s3:///k",
            "s3://b",
            "s3://b/",
            "http://b/k",
            "s3://b c/k",
        ] {
            assert!(S3Url::object(bad).is_err(), "{bad}");
        }
        assert_eq!(S3Url::object("s3://b/k").unwrap().to_string(), "s3://b/k");
        assert_eq!(
            S3Url::object("s3://b/d/x.jpg").unwrap().file_name(),
            Some("x.jpg")
        );
        assert_eq!(S3Url::object("s3://b/d/").unwrap().file_name(), None);
        assert_eq!(S3Url::object("s3://b/..").unwrap().file_name(), None);
    }

    #[test]
    fn ranges() {
        let inc = |first, last| Ok(ByteRange::Inclusive { first, last });
        assert_eq!(parse_range("bytes=0-99"), inc(0, 99));
        assert_eq!(parse_range("0-99"), inc(0, 99));
        assert_eq!(parse_range("7-7"), inc(7, 7));
        assert_eq!(parse_range("100-"), Ok(ByteRange::From(100)));
        assert_eq!(parse_range("bytes=-500"), Ok(ByteRange::Suffix(500)));
        for bad in [
            "",
            "-",
            "bytes=",
            "5",
            "9-3",
            "-0",
            "a-b",
            "1-2-3",
            "+1-2",
            "0-99,200-300",
            " - 5",
        ] {
            assert!(parse_range(bad).is_err(), "{bad}");
        }
    }
}
