//! Integrity checks of request bodies: `Content-MD5` and the `x-amz-checksum-*` values that
//! clients send as headers or, with `aws-chunked` bodies, as trailers. All are computed over the
//! plaintext and checked before the write is allowed to complete.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use s3s::checksum::ChecksumHasher;
use s3s::crypto::{Checksum as _, Crc32, Crc32c, Crc64Nvme, Md5, Sha1, Sha256};
use s3s::dto::Checksum;
use s3s::{S3Error, S3ErrorCode, TrailingHeaders};

/// The checksum algorithms S3 knows, by their lower-case names.
pub(crate) const ALGORITHMS: [&str; 5] = ["crc32", "crc32c", "crc64nvme", "sha1", "sha256"];

/// What to compute over a body and what it must match.
pub(crate) struct BodyChecks {
    hasher: ChecksumHasher,
    md5: Option<Md5>,
    content_md5: Option<Vec<u8>>,
    expected: BTreeMap<String, String>,
    trailer: Option<TrailingHeaders>,
    /// Checksums the request declared in `x-amz-trailer`: each must arrive.
    declared: Vec<String>,
}

/// The values computed over a body that passed its checks.
pub(crate) struct BodyDigests {
    /// MD5 of the plaintext, when it was computed.
    pub md5: Option<[u8; 16]>,
    /// Algorithm name → base64 value.
    pub checksums: BTreeMap<String, String>,
    /// Plaintext bytes read.
    pub len: u64,
}

impl BodyChecks {
    /// Plans the checks of a body from its request's headers. `want_md5` asks for the MD5 even
    /// when no `Content-MD5` came (for ETags). Without any checksum requested, CRC64NVME is
    /// computed (as Amazon S3 does for every new object).
    pub fn plan(
        headers: &http::HeaderMap,
        trailer: Option<TrailingHeaders>,
        want_md5: bool,
    ) -> Result<Self, S3Error> {
        let content_md5 = match headers.get("content-md5") {
            Some(v) => {
                let d = v.to_str().ok().and_then(|s| B64.decode(s.trim()).ok());
                match d {
                    Some(d) if d.len() == 16 => Some(d),
                    _ => {
                        return Err(S3Error::with_message(
                            S3ErrorCode::InvalidDigest,
                            "The Content-MD5 you specified was invalid.",
                        ));
                    }
                }
            }
            None => None,
        };
        let mut names: Vec<String> = Vec::new();
        let mut expected = BTreeMap::new();
        for alg in ALGORITHMS {
            if let Some(v) = headers.get(format!("x-amz-checksum-{alg}").as_str()) {
                let v = v.to_str().map_err(|_| bad_checksum_header(alg))?.to_owned();
                expected.insert(alg.to_owned(), v);
                names.push(alg.to_owned());
            }
        }
        for h in ["x-amz-sdk-checksum-algorithm", "x-amz-checksum-algorithm"] {
            if let Some(v) = headers.get(h).and_then(|v| v.to_str().ok()) {
                names.push(v.to_ascii_lowercase());
            }
        }
        let trailer_names: Vec<String> = headers
            .get_all("x-amz-trailer")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|t| {
                t.trim()
                    .to_ascii_lowercase()
                    .strip_prefix("x-amz-checksum-")
                    .map(str::to_owned)
            })
            .collect();
        names.extend(trailer_names.iter().cloned());
        if names.is_empty() {
            names.push("crc64nvme".into());
        }
        let mut hasher = ChecksumHasher::default();
        for name in &names {
            match name.as_str() {
                "crc32" => hasher.crc32 = Some(Crc32::new()),
                "crc32c" => hasher.crc32c = Some(Crc32c::new()),
                "crc64nvme" => hasher.crc64nvme = Some(Crc64Nvme::new()),
                "sha1" => hasher.sha1 = Some(Sha1::new()),
                "sha256" => hasher.sha256 = Some(Sha256::new()),
                other => {
                    return Err(S3Error::with_message(
                        S3ErrorCode::InvalidRequest,
                        format!("Unsupported checksum algorithm: {other}"),
                    ));
                }
            }
        }
        Ok(BodyChecks {
            hasher,
            md5: (want_md5 || content_md5.is_some()).then(Md5::new),
            content_md5,
            expected,
            trailer,
            declared: trailer_names,
        })
    }

    /// Feeds plaintext.
    pub fn update(&mut self, data: &[u8]) {
        self.hasher.update(data);
        if let Some(m) = &mut self.md5 {
            m.update(data);
        }
    }

    /// Finishes: every value that came with the request (headers, then trailers) must match.
    pub fn finish(self) -> Result<BodyDigests, S3Error> {
        let md5: Option<[u8; 16]> = self.md5.map(|m| {
            let out = m.finalize();
            let mut a = [0u8; 16];
            a.copy_from_slice(out.as_ref());
            a
        });
        if let (Some(want), Some(got)) = (&self.content_md5, &md5)
            && want.as_slice() != got.as_slice()
        {
            return Err(S3Error::with_message(
                S3ErrorCode::BadDigest,
                "The Content-MD5 you specified did not match what we received.",
            ));
        }
        let computed = checksum_map(self.hasher.finalize());
        let mut expected = self.expected;
        if let Some(trailer) = &self.trailer {
            trailer.read(|h| {
                for alg in ALGORITHMS {
                    if let Some(v) = h
                        .get(format!("x-amz-checksum-{alg}").as_str())
                        .and_then(|v| v.to_str().ok())
                    {
                        expected.insert(alg.to_owned(), v.to_owned());
                    }
                }
            });
        }
        if let Some(missing) = self.declared.iter().find(|a| !expected.contains_key(*a)) {
            return Err(S3Error::with_message(
                S3ErrorCode::InvalidRequest,
                format!(
                    "The request declared an x-amz-checksum-{missing} trailer that never came."
                ),
            ));
        }
        for (alg, want) in &expected {
            if computed.get(alg) != Some(want) {
                return Err(S3Error::with_message(
                    S3ErrorCode::BadDigest,
                    format!(
                        "The {} you specified did not match the calculated checksum.",
                        alg.to_ascii_uppercase()
                    ),
                ));
            }
        }
        Ok(BodyDigests {
            md5,
            checksums: computed,
            len: 0,
        })
    }
}

fn bad_checksum_header(alg: &str) -> S3Error {
    S3Error::with_message(
        S3ErrorCode::InvalidArgument,
        format!("Invalid x-amz-checksum-{alg} header."),
    )
}

/// The checksums of a DTO as a map.
pub(crate) fn checksum_map(c: Checksum) -> BTreeMap<String, String> {
    [
        ("crc32", c.checksum_crc32),
        ("crc32c", c.checksum_crc32c),
        ("crc64nvme", c.checksum_crc64nvme),
        ("sha1", c.checksum_sha1),
        ("sha256", c.checksum_sha256),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v)))
    .collect()
}

/// A map back into a DTO.
pub(crate) fn checksum_dto(map: &BTreeMap<String, String>) -> Checksum {
    Checksum {
        checksum_crc32: map.get("crc32").cloned(),
        checksum_crc32c: map.get("crc32c").cloned(),
        checksum_crc64nvme: map.get("crc64nvme").cloned(),
        checksum_sha1: map.get("sha1").cloned(),
        checksum_sha256: map.get("sha256").cloned(),
        ..Default::default()
    }
}

/// The segment number whose key seals an encrypted object's checksums: never a body segment
/// (those are 0 and the part numbers 1..=10000), so its key is used for this one message.
const CHECKSUM_SEGMENT: u32 = u32::MAX;

/// An encrypted object's plaintext checksums, sealed under a key of the object (chunk 0, final,
/// of segment `u32::MAX` with a zero salt): stored in clear they would confirm guesses of the
/// plaintext, as an MD5 ETag would (FORMAT.md §15).
pub(crate) fn seal_checksums(
    object: &objseal_core::ObjectKey,
    checksums: &BTreeMap<String, String>,
) -> Result<String, S3Error> {
    let key = object.segment_key(CHECKSUM_SEGMENT, &[0; objseal_core::SEGMENT_SALT_LEN]);
    let mut buf =
        serde_json::to_vec(checksums).map_err(|_| super::errors::internal("checksums"))?;
    let tag = key
        .seal_chunk(0, true, &mut buf)
        .map_err(|_| super::errors::internal("sealing checksums"))?;
    buf.extend_from_slice(&tag);
    Ok(B64.encode(buf))
}

/// [`seal_checksums`] undone; a blob that does not open is a corrupt object.
pub(crate) fn open_checksums(
    object: &objseal_core::ObjectKey,
    sealed: &str,
) -> Result<BTreeMap<String, String>, S3Error> {
    let corrupt = || super::errors::corrupt("sealed checksums");
    let mut buf = B64.decode(sealed).map_err(|_| corrupt())?;
    let at = buf
        .len()
        .checked_sub(objseal_core::gcm::TAG_LEN)
        .ok_or_else(corrupt)?;
    let tag: objseal_core::gcm::Tag = buf[at..].try_into().map_err(|_| corrupt())?;
    buf.truncate(at);
    let key = object.segment_key(CHECKSUM_SEGMENT, &[0; objseal_core::SEGMENT_SALT_LEN]);
    key.open_chunk(0, true, &mut buf, &tag)
        .map_err(|_| corrupt())?;
    serde_json::from_slice(&buf).map_err(|_| corrupt())
}

/// Sets the five checksum fields of an S3 output from a [`Checksum`].
macro_rules! set_checksums {
    ($out:expr, $c:expr) => {{
        let c = $c;
        $out.checksum_crc32 = c.checksum_crc32;
        $out.checksum_crc32c = c.checksum_crc32c;
        $out.checksum_crc64nvme = c.checksum_crc64nvme;
        $out.checksum_sha1 = c.checksum_sha1;
        $out.checksum_sha256 = c.checksum_sha256;
    }};
}
pub(crate) use set_checksums;
