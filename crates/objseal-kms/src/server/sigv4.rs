//! AWS Signature Version 4: verification of signed requests (and, for clients and tests, signing).
//!
//! Only the `Authorization` header form is accepted (`AWS4-HMAC-SHA256 Credential=AKID/date/region/
//! service/aws4_request, SignedHeaders=…, Signature=…`), which is what every SDK sends to KMS;
//! presigned query-string requests are refused as unauthenticated. What [`verify`] checks:
//!
//! - the credential scope: a known access key, the configured region, service `kms`, terminator
//!   `aws4_request`, and a date equal to the day of `X-Amz-Date`;
//! - `X-Amz-Date` present and within the allowed clock skew (15 minutes) of the server's clock;
//! - `host` is signed, and so are `x-amz-target`, `x-amz-content-sha256` and
//!   `x-amz-security-token` when present ([`MUST_BE_SIGNED`]): an unsigned operation name could
//!   otherwise be swapped by whoever replays a captured request (every SDK signs them);
//! - the payload: the canonical request always uses the SHA-256 of the body actually received, and an
//!   `X-Amz-Content-Sha256` header, when sent, must equal it (`UNSIGNED-PAYLOAD` is refused);
//! - session tokens: there is no STS here, so a request with `X-Amz-Security-Token` is refused as
//!   `UnrecognizedClientException`, like an unknown access key;
//! - the signature, compared in constant time.
//!
//! The canonical URI is built as AWS does for every service but S3: the path is normalised (empty,
//! `.` and `..` segments removed) and each segment percent-encoded again (so an encoded `%2F` stays
//! distinct from `/`). The KMS protocol only ever uses `/`.
//!
//! ```
//! use objseal_kms::server::sigv4::{sign, SigningParams};
//! // The `get-vanilla` case of the AWS SigV4 test suite.
//! let params = SigningParams {
//!     access_key_id: "AKIDEXAMPLE",
//!     secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
//!     region: "us-east-1",
//!     service: "service",
//!     amz_date: "20150830T123600Z",
//! };
//! let headers = [("Host", "example.amazonaws.com"), ("X-Amz-Date", "20150830T123600Z")];
//! let auth = sign(&params, "GET", "/", "", &headers, b"");
//! assert!(auth.ends_with("Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"));
//! ```

use crate::keystore::ids::hex_nibble;
use core::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The only algorithm SigV4 defines for HMAC signing.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// Headers that, when a request carries them, must be among its signed headers (besides `host`,
/// which always must).
pub const MUST_BE_SIGNED: &[&str] = &[
    "x-amz-target",
    "x-amz-content-sha256",
    "x-amz-security-token",
];

/// The hex SHA-256 of the empty string.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// Why a request's authentication was refused, named as AWS's JSON services name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AuthErrorKind {
    /// No `Authorization` header (`MissingAuthenticationTokenException`).
    MissingAuthenticationToken,
    /// The `Authorization` header or the headers it needs are malformed or incomplete
    /// (`IncompleteSignatureException`).
    IncompleteSignature,
    /// The signature, its scope or its date does not check out (`InvalidSignatureException`).
    InvalidSignature,
    /// The access key id is unknown, or a session token was sent (`UnrecognizedClientException`).
    UnrecognizedClient,
}

impl AuthErrorKind {
    /// The AWS error name, as sent in `__type`.
    pub fn aws_type(self) -> &'static str {
        match self {
            AuthErrorKind::MissingAuthenticationToken => "MissingAuthenticationTokenException",
            AuthErrorKind::IncompleteSignature => "IncompleteSignatureException",
            AuthErrorKind::InvalidSignature => "InvalidSignatureException",
            AuthErrorKind::UnrecognizedClient => "UnrecognizedClientException",
        }
    }

    /// The HTTP status: AWS's JSON services (KMS, DynamoDB) answer every authentication failure
    /// with 400.
    pub fn http_status(self) -> u16 {
        400
    }
}

/// A refused authentication: its kind and a message for the caller (never secret).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthError {
    /// What went wrong.
    pub kind: AuthErrorKind,
    /// Why, for humans.
    pub message: String,
    /// The access key id the request claimed, when it could be read (for the audit log).
    pub claimed_access_key_id: Option<String>,
}

impl AuthError {
    fn new(kind: AuthErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            claimed_access_key_id: None,
        }
    }
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.aws_type(), self.message)
    }
}

impl std::error::Error for AuthError {}

/// The parts of an `Authorization: AWS4-HMAC-SHA256 …` header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthorizationHeader {
    /// The access key id.
    pub access_key_id: String,
    /// The scope's date, `YYYYMMDD`.
    pub date: String,
    /// The scope's region.
    pub region: String,
    /// The scope's service.
    pub service: String,
    /// The scope's terminator (`aws4_request`).
    pub terminator: String,
    /// The signed header names, as listed (lowercase, `;`-separated on the wire).
    pub signed_headers: Vec<String>,
    /// The hex signature.
    pub signature: String,
}

impl AuthorizationHeader {
    /// The credential scope, `date/region/service/terminator`.
    pub fn scope(&self) -> String {
        format!(
            "{}/{}/{}/{}",
            self.date, self.region, self.service, self.terminator
        )
    }
}

/// Parses an `Authorization` header value of the `AWS4-HMAC-SHA256` scheme.
///
/// ```
/// use objseal_kms::server::sigv4::parse_authorization;
/// let h = parse_authorization("AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/kms/aws4_request, \
///     SignedHeaders=host;x-amz-date, Signature=abcd").unwrap();
/// assert_eq!(h.access_key_id, "AKID");
/// assert_eq!(h.signed_headers, ["host", "x-amz-date"]);
/// ```
pub fn parse_authorization(value: &str) -> Result<AuthorizationHeader, AuthError> {
    let value = value.trim();
    let Some(rest) = value.strip_prefix(ALGORITHM) else {
        let algorithm = value.split_whitespace().next().unwrap_or("");
        return Err(AuthError::new(
            AuthErrorKind::IncompleteSignature,
            format!(
                "Unsupported AWS 'algorithm': '{}' (only {ALGORITHM} is accepted)",
                truncate(algorithm, 64)
            ),
        ));
    };
    if !rest.starts_with(' ') {
        return Err(AuthError::new(
            AuthErrorKind::IncompleteSignature,
            "Authorization header is malformed: expected a space after the algorithm",
        ));
    }
    let mut credential = None;
    let mut signed_headers = None;
    let mut signature = None;
    for part in rest.split(',') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let Some((name, val)) = part.split_once('=') else {
            return Err(AuthError::new(
                AuthErrorKind::IncompleteSignature,
                format!(
                    "Authorization header requires each component to be 'name=value', got '{}'",
                    truncate(part, 64)
                ),
            ));
        };
        let slot = match name.trim() {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed_headers,
            "Signature" => &mut signature,
            _ => continue,
        };
        if slot.is_some() {
            return Err(AuthError::new(
                AuthErrorKind::IncompleteSignature,
                format!(
                    "Authorization header repeats the '{}' component",
                    name.trim()
                ),
            ));
        }
        *slot = Some(val.trim());
    }
    let missing = |what: &str| {
        AuthError::new(
            AuthErrorKind::IncompleteSignature,
            format!("Authorization header requires '{what}' parameter."),
        )
    };
    let credential = credential.ok_or_else(|| missing("Credential"))?;
    let signed_headers = signed_headers.ok_or_else(|| missing("SignedHeaders"))?;
    let signature = signature.ok_or_else(|| missing("Signature"))?;

    let parts: Vec<&str> = credential.split('/').collect();
    let [access_key_id, date, region, service, terminator] = parts.as_slice() else {
        return Err(AuthError::new(
            AuthErrorKind::IncompleteSignature,
            format!(
                "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '{}'",
                truncate(credential, 256)
            ),
        ));
    };
    if access_key_id.is_empty() {
        return Err(AuthError::new(
            AuthErrorKind::IncompleteSignature,
            "Credential names no access key id",
        ));
    }
    let signed_headers: Vec<String> = signed_headers.split(';').map(str::to_owned).collect();
    if signed_headers.iter().any(|h| h.is_empty()) {
        return Err(AuthError::new(
            AuthErrorKind::IncompleteSignature,
            "SignedHeaders holds an empty header name",
        ));
    }
    Ok(AuthorizationHeader {
        access_key_id: (*access_key_id).to_owned(),
        date: (*date).to_owned(),
        region: (*region).to_owned(),
        service: (*service).to_owned(),
        terminator: (*terminator).to_owned(),
        signed_headers,
        signature: signature.to_owned(),
    })
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// Percent-encodes per SigV4 (RFC 3986): unreserved characters stay, every other byte becomes `%XX`
/// with uppercase hex. `keep_slash` leaves `/` as is (for paths).
pub fn uri_encode(input: &[u8], keep_slash: bool) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(input.len());
    for &b in input {
        if b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'.' | b'_' | b'~')
            || (keep_slash && b == b'/')
        {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
    }
    out
}

/// Decodes `%XX` escapes; a `%` not followed by two hex digits stays literal. `+` stays `+`.
fn percent_decode(input: &str) -> Vec<u8> {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let (Some(h), Some(l)) = (
                bytes.get(i + 1).and_then(|c| hex_nibble(*c)),
                bytes.get(i + 2).and_then(|c| hex_nibble(*c)),
            )
        {
            out.push((h << 4) | l);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

/// The canonical URI of a path as it travels on the wire (already percent-encoded): normalised
/// (empty, `.` and `..` segments removed, a trailing `/` kept) and each segment encoded once more.
///
/// ```
/// use objseal_kms::server::sigv4::canonical_uri;
/// assert_eq!(canonical_uri("//example//"), "/example/");
/// assert_eq!(canonical_uri("/example1/example2/../.."), "/");
/// assert_eq!(canonical_uri("/a%2Fb"), "/a%252Fb");
/// ```
pub fn canonical_uri(path: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let mut out = String::with_capacity(path.len() + 1);
    for segment in &segments {
        out.push('/');
        out.push_str(&uri_encode(segment.as_bytes(), false));
    }
    let trailing = path.ends_with('/') || path.ends_with("/.") || path.ends_with("/..");
    if segments.is_empty() || trailing {
        out.push('/');
    }
    out
}

/// The canonical query string: each name and value decoded and re-encoded, pairs sorted by name,
/// then value (bytewise); a name without `=` takes an empty value.
///
/// ```
/// use objseal_kms::server::sigv4::canonical_query;
/// assert_eq!(canonical_query("Param2=value2&Param1=value1"), "Param1=value1&Param2=value2");
/// assert_eq!(canonical_query("Param1"), "Param1=");
/// assert_eq!(canonical_query("q=a+b"), "q=a%2Bb");
/// ```
pub fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (name, value) = p.split_once('=').unwrap_or((p, ""));
            (
                uri_encode(&percent_decode(name), false),
                uri_encode(&percent_decode(value), false),
            )
        })
        .collect();
    pairs.sort();
    let mut out = String::with_capacity(query.len() + 8);
    for (i, (name, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(name);
        out.push('=');
        out.push_str(value);
    }
    out
}

/// A header value as SigV4 canonicalises it: surrounding whitespace trimmed, inner runs of spaces
/// collapsed to one.
pub fn canonical_header_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut last_space = false;
    for c in value.trim_matches(|c| c == ' ' || c == '\t').chars() {
        if c == ' ' {
            if !last_space {
                out.push(' ');
            }
            last_space = true;
        } else {
            out.push(c);
            last_space = false;
        }
    }
    out
}

/// Builds the canonical request.
///
/// `headers` holds every header of the request as (name, value), names in any case, repeated names
/// in order of arrival (their values are joined with `,`). `signed_headers` are lowercase names; each
/// must be present in `headers`, or the result is `Err(name)`.
pub fn canonical_request<'a>(
    method: &str,
    path: &str,
    query: &str,
    headers: &[(&str, &str)],
    signed_headers: &'a [String],
    payload_sha256_hex: &str,
) -> Result<String, &'a str> {
    let mut out = String::with_capacity(256);
    out.push_str(method);
    out.push('\n');
    out.push_str(&canonical_uri(path));
    out.push('\n');
    out.push_str(&canonical_query(query));
    out.push('\n');
    for name in signed_headers {
        let values: Vec<String> = headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| canonical_header_value(v))
            .collect();
        if values.is_empty() {
            return Err(name);
        }
        out.push_str(name);
        out.push(':');
        out.push_str(&values.join(","));
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&signed_headers.join(";"));
    out.push('\n');
    out.push_str(payload_sha256_hex);
    Ok(out)
}

/// The string to sign: algorithm, timestamp, scope and the hash of the canonical request.
pub fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &str) -> String {
    format!(
        "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
        sha256_hex(canonical_request.as_bytes())
    )
}

/// The hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC takes keys of any length, so this constructor cannot fail; the fallback only keeps the
    // function total (an all-zero MAC never matches a real signature's key derivation by accident).
    let mut out = [0u8; 32];
    if let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(key) {
        mac.update(data);
        out.copy_from_slice(&mac.finalize().into_bytes());
    }
    out
}

/// The signing key: `HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")`.
pub fn signing_key(
    secret_access_key: &str,
    date: &str,
    region: &str,
    service: &str,
) -> zeroize::Zeroizing<[u8; 32]> {
    let mut k_secret = zeroize::Zeroizing::new(Vec::with_capacity(4 + secret_access_key.len()));
    k_secret.extend_from_slice(b"AWS4");
    k_secret.extend_from_slice(secret_access_key.as_bytes());
    let k_date = zeroize::Zeroizing::new(hmac_sha256(&k_secret, date.as_bytes()));
    let k_region = zeroize::Zeroizing::new(hmac_sha256(&*k_date, region.as_bytes()));
    let k_service = zeroize::Zeroizing::new(hmac_sha256(&*k_region, service.as_bytes()));
    zeroize::Zeroizing::new(hmac_sha256(&*k_service, b"aws4_request"))
}

/// The hex signature of a string to sign under a signing key.
pub fn signature(signing_key: &[u8; 32], string_to_sign: &str) -> String {
    hex::encode(hmac_sha256(signing_key, string_to_sign.as_bytes()))
}

/// What signing needs besides the request.
#[derive(Clone, Copy)]
pub struct SigningParams<'a> {
    /// The access key id.
    pub access_key_id: &'a str,
    /// The secret access key.
    pub secret_access_key: &'a str,
    /// The region of the scope.
    pub region: &'a str,
    /// The service of the scope (`kms`).
    pub service: &'a str,
    /// The request time, `YYYYMMDDTHHMMSSZ`; the request must carry it as `X-Amz-Date`.
    pub amz_date: &'a str,
}

impl fmt::Debug for SigningParams<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningParams")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("region", &self.region)
            .field("service", &self.service)
            .field("amz_date", &self.amz_date)
            .finish()
    }
}

/// Signs a request, signing every header given (which must include `host` and `x-amz-date`), and
/// returns the `Authorization` header value. For clients and tests; the server only verifies.
pub fn sign(
    params: &SigningParams<'_>,
    method: &str,
    path: &str,
    query: &str,
    headers: &[(&str, &str)],
    payload: &[u8],
) -> String {
    let mut signed: Vec<String> = headers
        .iter()
        .map(|(n, _)| n.to_ascii_lowercase())
        .collect();
    signed.sort();
    signed.dedup();
    let date = params.amz_date.get(..8).unwrap_or(params.amz_date);
    let scope = format!("{date}/{}/{}/aws4_request", params.region, params.service);
    // Every signed name comes from `headers`, so the canonical request always builds.
    let canonical = canonical_request(method, path, query, headers, &signed, &sha256_hex(payload))
        .unwrap_or_default();
    let sts = string_to_sign(params.amz_date, &scope, &canonical);
    let key = signing_key(
        params.secret_access_key,
        date,
        params.region,
        params.service,
    );
    format!(
        "{ALGORITHM} Credential={}/{scope}, SignedHeaders={}, Signature={}",
        params.access_key_id,
        signed.join(";"),
        signature(&key, &sts)
    )
}

/// Parses `YYYYMMDDTHHMMSSZ` into seconds since the Unix epoch.
///
/// ```
/// use objseal_kms::server::sigv4::parse_amz_date;
/// assert_eq!(parse_amz_date("20150830T123600Z"), Some(1_440_938_160));
/// assert_eq!(parse_amz_date("2015-08-30T12:36:00Z"), None);
/// ```
pub fn parse_amz_date(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |r: core::ops::Range<usize>| -> Option<u64> {
        let mut v = 0u64;
        for &c in b.get(r)? {
            if !c.is_ascii_digit() {
                return None;
            }
            v = v * 10 + u64::from(c - b'0');
        }
        Some(v)
    };
    let (year, month, day) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (hour, minute, second) = (num(9..11)?, num(11..13)?, num(13..15)?);
    if !(1970..=9999).contains(&year)
        || !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let days = days_from_civil(year, month, day);
    Some(days * 86_400 + hour * 3_600 + minute * 60 + second)
}

/// Formats seconds since the Unix epoch as `YYYYMMDDTHHMMSSZ`.
///
/// ```
/// use objseal_kms::server::sigv4::format_amz_date;
/// assert_eq!(format_amz_date(1_440_938_160), "20150830T123600Z");
/// ```
pub fn format_amz_date(unix: u64) -> String {
    let days = unix / 86_400;
    let rem = unix % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        rem / 3_600,
        (rem % 3_600) / 60,
        rem % 60
    )
}

fn is_leap(y: u64) -> bool {
    (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400)
}

fn days_in_month(y: u64, m: u64) -> u64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

// Howard Hinnant's days-from-civil, for years from 1970 on (no negative intermediate values).
fn days_from_civil(y: u64, m: u64, d: u64) -> u64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// A request to verify: its method, path and query as received, every header (name, value) in order
/// of arrival, and the body.
#[derive(Clone, Copy, Debug)]
pub struct RequestToVerify<'a> {
    /// `POST`, …
    pub method: &'a str,
    /// The path as received (percent-encoded).
    pub path: &'a str,
    /// The query as received, without `?` (empty when none).
    pub query: &'a str,
    /// Every header, names in any case; values that are not UTF-8 must be left out by the caller
    /// (a signed header that is missing fails verification).
    pub headers: &'a [(&'a str, &'a str)],
    /// The body.
    pub body: &'a [u8],
}

impl RequestToVerify<'_> {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }
}

/// What the server expects of a signature.
#[derive(Clone, Copy, Debug)]
pub struct VerifyPolicy<'a> {
    /// The region the scope must name.
    pub region: &'a str,
    /// The service the scope must name (`kms`).
    pub service: &'a str,
    /// The server's clock, seconds since the Unix epoch.
    pub now: u64,
    /// The largest accepted difference between `X-Amz-Date` and `now`, in seconds (AWS: 900).
    pub max_skew_secs: u64,
}

/// Verifies a request's SigV4 signature. `secret_for` maps an access key id to its secret (`None`:
/// unknown key). On success returns the access key id that signed.
pub fn verify<'s>(
    request: &RequestToVerify<'_>,
    policy: &VerifyPolicy<'_>,
    secret_for: impl Fn(&str) -> Option<&'s str>,
) -> Result<String, AuthError> {
    let Some(authorization) = request.header("authorization") else {
        return Err(AuthError::new(
            AuthErrorKind::MissingAuthenticationToken,
            "Missing Authentication Token",
        ));
    };
    let auth = parse_authorization(authorization)?;
    let claimed = auth.access_key_id.clone();
    verify_parsed(request, policy, secret_for, &auth).map_err(|mut e| {
        e.claimed_access_key_id = Some(claimed.clone());
        e
    })?;
    Ok(claimed)
}

fn verify_parsed<'s>(
    request: &RequestToVerify<'_>,
    policy: &VerifyPolicy<'_>,
    secret_for: impl Fn(&str) -> Option<&'s str>,
    auth: &AuthorizationHeader,
) -> Result<(), AuthError> {
    use AuthErrorKind::*;
    let Some(secret) = secret_for(&auth.access_key_id) else {
        return Err(AuthError::new(
            UnrecognizedClient,
            "The security token included in the request is invalid.",
        ));
    };
    if request.header("x-amz-security-token").is_some() {
        return Err(AuthError::new(
            UnrecognizedClient,
            "The security token included in the request is invalid: this service issues no temporary credentials.",
        ));
    }
    let Some(amz_date) = request.header("x-amz-date") else {
        return Err(AuthError::new(
            IncompleteSignature,
            "Authorization header requires existence of a 'X-Amz-Date' header.",
        ));
    };
    let amz_date = amz_date.trim();
    let Some(request_time) = parse_amz_date(amz_date) else {
        return Err(AuthError::new(
            IncompleteSignature,
            format!(
                "Date must be in ISO-8601 'basic format'. Got '{}'. See http://en.wikipedia.org/wiki/ISO_8601",
                truncate(amz_date, 32)
            ),
        ));
    };
    if auth.date != amz_date[..8] {
        return Err(AuthError::new(
            InvalidSignature,
            format!(
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != '{}', from '{}'.",
                truncate(&auth.date, 16),
                &amz_date[..8],
                amz_date
            ),
        ));
    }
    if auth.region != policy.region {
        return Err(AuthError::new(
            InvalidSignature,
            format!(
                "Credential should be scoped to a valid region, not '{}'. ",
                truncate(&auth.region, 64)
            ),
        ));
    }
    if auth.service != policy.service {
        return Err(AuthError::new(
            InvalidSignature,
            format!(
                "Credential should be scoped to correct service: '{}'. ",
                policy.service
            ),
        ));
    }
    if auth.terminator != "aws4_request" {
        return Err(AuthError::new(
            InvalidSignature,
            format!(
                "Credential should be scoped with a valid terminator: 'aws4_request', not '{}'. ",
                truncate(&auth.terminator, 64)
            ),
        ));
    }
    // Saturating: a configured skew near `u64::MAX` ("any") must not overflow.
    if request_time.saturating_add(policy.max_skew_secs) < policy.now {
        return Err(AuthError::new(
            InvalidSignature,
            format!(
                "Signature expired: {amz_date} is now earlier than {} ({} - {} min.)",
                format_amz_date(policy.now.saturating_sub(policy.max_skew_secs)),
                format_amz_date(policy.now),
                policy.max_skew_secs / 60
            ),
        ));
    }
    if request_time > policy.now.saturating_add(policy.max_skew_secs) {
        return Err(AuthError::new(
            InvalidSignature,
            format!(
                "Signature not yet current: {amz_date} is still later than {} ({} + {} min.)",
                format_amz_date(policy.now.saturating_add(policy.max_skew_secs)),
                format_amz_date(policy.now),
                policy.max_skew_secs / 60
            ),
        ));
    }
    if !auth.signed_headers.iter().any(|h| h == "host") {
        return Err(AuthError::new(
            InvalidSignature,
            "'Host' must be a 'SignedHeader' in the AWS Authorization.",
        ));
    }
    if let Some(h) = auth
        .signed_headers
        .iter()
        .find(|h| h.bytes().any(|b| b.is_ascii_uppercase()))
    {
        return Err(AuthError::new(
            IncompleteSignature,
            format!("SignedHeaders must be lowercase, got '{}'", truncate(h, 64)),
        ));
    }
    for name in MUST_BE_SIGNED {
        if request.header(name).is_some() && !auth.signed_headers.iter().any(|h| h == name) {
            return Err(AuthError::new(
                InvalidSignature,
                format!("The header '{name}' must be signed."),
            ));
        }
    }
    let body_hash = sha256_hex(request.body);
    if let Some(claimed) = request.header("x-amz-content-sha256") {
        let claimed = claimed.trim();
        if claimed != body_hash {
            return Err(AuthError::new(
                InvalidSignature,
                if claimed == "UNSIGNED-PAYLOAD" || claimed.starts_with("STREAMING-") {
                    "The payload must be signed: x-amz-content-sha256 must be the SHA-256 of the body.".to_owned()
                } else {
                    "The provided 'x-amz-content-sha256' header does not match what was computed."
                        .to_owned()
                },
            ));
        }
    }
    let canonical = canonical_request(
        request.method,
        request.path,
        request.query,
        request.headers,
        &auth.signed_headers,
        &body_hash,
    )
    .map_err(|missing| {
        AuthError::new(
            InvalidSignature,
            format!(
                "The request signature we calculated does not match the signature you provided: signed header '{}' is not in the request.",
                truncate(missing, 64)
            ),
        )
    })?;
    let sts = string_to_sign(amz_date, &auth.scope(), &canonical);
    let key = signing_key(secret, &auth.date, &auth.region, &auth.service);
    let expected = signature(&key, &sts);
    let given = auth.signature.as_bytes();
    let matches = given.len() == expected.len() && bool::from(expected.as_bytes().ct_eq(given));
    if !matches {
        return Err(AuthError::new(
            InvalidSignature,
            "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const AKID: &str = "AKIDEXAMPLE";
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    const DATE: &str = "20150830T123600Z";
    const HOST: &str = "example.amazonaws.com";

    fn suite_params() -> SigningParams<'static> {
        SigningParams {
            access_key_id: AKID,
            secret_access_key: SECRET,
            region: "us-east-1",
            service: "service",
            amz_date: DATE,
        }
    }

    fn suite_policy() -> VerifyPolicy<'static> {
        VerifyPolicy {
            region: "us-east-1",
            service: "service",
            now: parse_amz_date(DATE).unwrap(),
            max_skew_secs: 900,
        }
    }

    /// Signs a suite case and checks the published signature; then verifies it back.
    fn suite_case(
        method: &str,
        path: &str,
        query: &str,
        extra: &[(&str, &str)],
        body: &[u8],
        signed: &str,
        sig: &str,
    ) {
        let mut headers: Vec<(&str, &str)> = vec![("Host", HOST)];
        headers.extend_from_slice(extra);
        headers.push(("X-Amz-Date", DATE));
        let auth = sign(&suite_params(), method, path, query, &headers, body);
        let expected = format!(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders={signed}, Signature={sig}"
        );
        assert_eq!(auth, expected, "signing {method} {path}?{query}");
        headers.push(("Authorization", &auth));
        let req = RequestToVerify {
            method,
            path,
            query,
            headers: &headers,
            body,
        };
        let who = verify(&req, &suite_policy(), |id| (id == AKID).then_some(SECRET));
        assert_eq!(who, Ok(AKID.to_owned()));
    }

    #[test]
    fn aws_suite_get_vanilla() {
        suite_case(
            "GET",
            "/",
            "",
            &[],
            b"",
            "host;x-amz-date",
            "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
        );
    }

    #[test]
    fn aws_suite_get_vanilla_canonical_request() {
        let headers = [("Host", HOST), ("X-Amz-Date", DATE)];
        let signed = vec!["host".to_owned(), "x-amz-date".to_owned()];
        let c = canonical_request("GET", "/", "", &headers, &signed, EMPTY_SHA256).unwrap();
        assert_eq!(
            c,
            "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n\
             e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            string_to_sign(DATE, "20150830/us-east-1/service/aws4_request", &c),
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n\
             bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63"
        );
    }

    #[test]
    fn aws_suite_get_unreserved() {
        suite_case(
            "GET",
            "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
            "",
            &[],
            b"",
            "host;x-amz-date",
            "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f",
        );
    }

    #[test]
    fn aws_suite_get_slashes_and_dots() {
        let sig = "9a624bd73a37c9a373b5312afbebe7a714a789de108f0bdfe846570885f57e84";
        suite_case("GET", "//example//", "", &[], b"", "host;x-amz-date", sig);
        // get-slash, get-slash-dot-slash, get-relative, get-relative-relative all canonicalise to "/"
        // and so sign like get-vanilla.
        let vanilla = "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";
        for path in ["//", "/./", "/example/..", "/example1/example2/../.."] {
            suite_case("GET", path, "", &[], b"", "host;x-amz-date", vanilla);
        }
    }

    #[test]
    fn aws_suite_queries() {
        suite_case(
            "GET",
            "/",
            "Param2=value2&Param1=value1",
            &[],
            b"",
            "host;x-amz-date",
            "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
        );
        suite_case(
            "GET",
            "/",
            "Param1=value2&Param1=value1",
            &[],
            b"",
            "host;x-amz-date",
            "5772eed61e12b33fae39ee5e7012498b51d56abc0abb7c60486157bd471c4694",
        );
        // get-vanilla-utf8-query: "?ሴ=bar", sent percent-encoded.
        suite_case(
            "GET",
            "/",
            "%E1%88%B4=bar",
            &[],
            b"",
            "host;x-amz-date",
            "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04",
        );
    }

    #[test]
    fn aws_suite_headers() {
        suite_case(
            "GET",
            "/",
            "",
            &[
                ("My-Header1", "value4"),
                ("My-Header1", "value1"),
                ("My-Header1", "value3"),
                ("My-Header1", "value2"),
            ],
            b"",
            "host;my-header1;x-amz-date",
            "08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01",
        );
        suite_case(
            "GET",
            "/",
            "",
            &[
                ("My-Header1", "value2"),
                ("My-Header1", "value2"),
                ("My-Header1", "value1"),
            ],
            b"",
            "host;my-header1;x-amz-date",
            "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea",
        );
        suite_case(
            "GET",
            "/",
            "",
            &[("My-Header1", " value1"), ("My-Header2", "\"a   b   c\"")],
            b"",
            "host;my-header1;my-header2;x-amz-date",
            "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736",
        );
    }

    #[test]
    fn aws_suite_post_x_www_form_urlencoded() {
        suite_case(
            "POST",
            "/",
            "",
            &[("Content-Type", "application/x-www-form-urlencoded")],
            b"Param1=value1",
            "content-type;host;x-amz-date",
            "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a",
        );
    }

    #[test]
    fn aws_suite_session_token_signs_but_is_refused() {
        let token = "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267";
        let mut headers = vec![
            ("Host", HOST),
            ("X-Amz-Date", DATE),
            ("X-Amz-Security-Token", token),
        ];
        let auth = sign(&suite_params(), "GET", "/", "", &headers, b"");
        assert!(auth.ends_with(
            "SignedHeaders=host;x-amz-date;x-amz-security-token, \
             Signature=07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8"
        ));
        headers.push(("Authorization", &auth));
        let req = RequestToVerify {
            method: "GET",
            path: "/",
            query: "",
            headers: &headers,
            body: b"",
        };
        let err = verify(&req, &suite_policy(), |id| (id == AKID).then_some(SECRET)).unwrap_err();
        assert_eq!(err.kind, AuthErrorKind::UnrecognizedClient);
    }

    #[test]
    fn canonical_uri_and_query_edges() {
        assert_eq!(canonical_uri(""), "/");
        assert_eq!(canonical_uri("/example/"), "/example/");
        assert_eq!(canonical_uri("/./example"), "/example");
        assert_eq!(canonical_uri("/100%25"), "/100%2525");
        assert_eq!(canonical_query("b&a=1"), "a=1&b=");
        assert_eq!(canonical_query("a=1=2"), "a=1%3D2");
        assert_eq!(canonical_query("x=a.b&x=a%2Fb"), "x=a%2Fb&x=a.b");
        assert_eq!(canonical_query("q=%zz"), "q=%25zz");
        assert_eq!(canonical_header_value("  a \t b  "), "a \t b");
    }

    #[test]
    fn dates_round_trip() {
        for t in [
            0u64,
            951_782_400,
            1_440_938_160,
            4_102_444_799,
            253_402_300_799,
        ] {
            assert_eq!(parse_amz_date(&format_amz_date(t)), Some(t));
        }
        assert_eq!(parse_amz_date("20150230T000000Z"), None);
        assert_eq!(parse_amz_date("20160229T000000Z"), Some(1_456_704_000));
        assert_eq!(parse_amz_date("2015083OT123600Z"), None);
        assert_eq!(parse_amz_date("20150830T123600ZZ"), None);
        assert_eq!(parse_amz_date("ééééééééT12360Z"), None);
    }

    /// A KMS-shaped request signed with the suite's key, and the ways it can be refused.
    struct Kms {
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    }

    impl Kms {
        fn signed(extra: &[(&str, &str)], body: &[u8]) -> Self {
            let params = SigningParams {
                service: "kms",
                ..suite_params()
            };
            let mut headers: Vec<(&str, &str)> = vec![
                ("Host", "127.0.0.1:4000"),
                ("Content-Type", "application/x-amz-json-1.1"),
                ("X-Amz-Target", "TrentService.ListKeys"),
                ("X-Amz-Date", DATE),
            ];
            headers.extend_from_slice(extra);
            let auth = sign(&params, "POST", "/", "", &headers, body);
            let mut owned: Vec<(String, String)> = headers
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect();
            owned.push(("Authorization".into(), auth));
            Self {
                headers: owned,
                body: body.to_vec(),
            }
        }

        fn set(&mut self, name: &str, value: &str) -> &mut Self {
            self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
            self.headers.push((name.to_owned(), value.to_owned()));
            self
        }

        fn verify_at(&self, now: u64) -> Result<String, AuthError> {
            self.verify_with(now, 900)
        }

        fn verify_with(&self, now: u64, max_skew_secs: u64) -> Result<String, AuthError> {
            let headers: Vec<(&str, &str)> = self
                .headers
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect();
            let req = RequestToVerify {
                method: "POST",
                path: "/",
                query: "",
                headers: &headers,
                body: &self.body,
            };
            let policy = VerifyPolicy {
                region: "us-east-1",
                service: "kms",
                now,
                max_skew_secs,
            };
            verify(&req, &policy, |id| (id == AKID).then_some(SECRET))
        }

        fn verify(&self) -> Result<String, AuthError> {
            self.verify_at(parse_amz_date(DATE).unwrap())
        }
    }

    fn kind(r: Result<String, AuthError>) -> AuthErrorKind {
        r.unwrap_err().kind
    }

    /// A huge configured skew (or clock) must not overflow the window arithmetic (a panic in debug
    /// builds, a wrapped window that refuses everything in release builds).
    #[test]
    fn skew_window_arithmetic_saturates() {
        let ok = Kms::signed(&[], b"{}");
        let t = parse_amz_date(DATE).unwrap();
        assert_eq!(ok.verify_with(t, u64::MAX), Ok(AKID.to_owned()));
        assert_eq!(ok.verify_with(u64::MAX, u64::MAX), Ok(AKID.to_owned()));
        assert_eq!(ok.verify_with(0, u64::MAX - 1), Ok(AKID.to_owned()));
        let e = ok.verify_with(u64::MAX, 900).unwrap_err();
        assert!(e.message.starts_with("Signature expired"), "{}", e.message);
        let e = ok.verify_with(0, 0).unwrap_err();
        assert!(
            e.message.starts_with("Signature not yet current"),
            "{}",
            e.message
        );
    }

    #[test]
    fn kms_request_verifies_and_every_tamper_is_refused() {
        let body = br#"{"Limit":10}"#;
        let ok = Kms::signed(&[], body);
        assert_eq!(ok.verify(), Ok(AKID.to_owned()));

        // A different body, target or host.
        let mut r = Kms::signed(&[], body);
        r.body = br#"{"Limit":11}"#.to_vec();
        assert_eq!(kind(r.verify()), AuthErrorKind::InvalidSignature);
        let mut r = Kms::signed(&[], body);
        r.set("X-Amz-Target", "TrentService.ScheduleKeyDeletion");
        assert_eq!(kind(r.verify()), AuthErrorKind::InvalidSignature);
        let mut r = Kms::signed(&[], body);
        r.set("Host", "evil:1");
        assert_eq!(kind(r.verify()), AuthErrorKind::InvalidSignature);

        // Clock skew: 15 minutes either way, not one second more.
        let t = parse_amz_date(DATE).unwrap();
        assert!(ok.verify_at(t + 900).is_ok());
        assert!(ok.verify_at(t - 900).is_ok());
        let e = ok.verify_at(t + 901).unwrap_err();
        assert_eq!(e.kind, AuthErrorKind::InvalidSignature);
        assert!(e.message.starts_with("Signature expired"), "{}", e.message);
        assert_eq!(e.claimed_access_key_id.as_deref(), Some(AKID));
        assert_eq!(kind(ok.verify_at(t - 901)), AuthErrorKind::InvalidSignature);

        // No Authorization, another algorithm, missing parts, unknown key.
        let mut r = Kms::signed(&[], body);
        r.headers.retain(|(n, _)| n != "Authorization");
        assert_eq!(kind(r.verify()), AuthErrorKind::MissingAuthenticationToken);
        let mut r = Kms::signed(&[], body);
        r.set("Authorization", "AWS AKIDEXAMPLE:abc");
        assert_eq!(kind(r.verify()), AuthErrorKind::IncompleteSignature);
        let mut r = Kms::signed(&[], body);
        r.set(
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/kms/aws4_request, SignedHeaders=host",
        );
        assert_eq!(kind(r.verify()), AuthErrorKind::IncompleteSignature);
        let mut r = Kms::signed(&[], body);
        r.set(
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/kms, SignedHeaders=host, Signature=00",
        );
        assert_eq!(kind(r.verify()), AuthErrorKind::IncompleteSignature);
        let auth = ok
            .headers
            .last()
            .unwrap()
            .1
            .replace("AKIDEXAMPLE", "AKIDOTHER");
        let mut r = Kms::signed(&[], body);
        r.set("Authorization", &auth);
        assert_eq!(kind(r.verify()), AuthErrorKind::UnrecognizedClient);

        // Missing date; date outside the scope's day.
        let mut r = Kms::signed(&[], body);
        r.headers.retain(|(n, _)| n != "X-Amz-Date");
        assert_eq!(kind(r.verify()), AuthErrorKind::IncompleteSignature);
        let mut r = Kms::signed(&[], body);
        r.set("X-Amz-Date", "20150831T000000Z");
        assert_eq!(
            kind(r.verify_at(parse_amz_date("20150831T000000Z").unwrap())),
            AuthErrorKind::InvalidSignature
        );

        // Wrong signature: flipped digit, wrong length, non-hex.
        for bad in [
            "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
            "00",
            "zz",
            "",
        ] {
            let auth = ok.headers.last().unwrap().1.clone();
            let (head, _) = auth.rsplit_once("Signature=").unwrap();
            let mut r = Kms::signed(&[], body);
            r.set("Authorization", &format!("{head}Signature={bad}"));
            assert_eq!(kind(r.verify()), AuthErrorKind::InvalidSignature, "{bad}");
        }
    }

    #[test]
    fn scope_region_service_and_signed_headers_are_enforced() {
        let body = b"{}";
        let ok = Kms::signed(&[], body);
        let auth = ok.headers.last().unwrap().1.clone();
        for (from, to) in [
            ("/us-east-1/", "/eu-west-1/"),
            ("/kms/", "/s3/"),
            ("aws4_request", "aws4_reqest"),
        ] {
            let mut r = Kms::signed(&[], body);
            r.set("Authorization", &auth.replace(from, to));
            assert_eq!(kind(r.verify()), AuthErrorKind::InvalidSignature, "{to}");
        }
        // host must be signed.
        let params = SigningParams {
            service: "kms",
            ..suite_params()
        };
        let headers = [("X-Amz-Date", DATE)];
        let auth = sign(&params, "POST", "/", "", &headers, body);
        let mut r = Kms::signed(&[], body);
        r.set("Authorization", &auth);
        let e = r.verify().unwrap_err();
        assert_eq!(e.kind, AuthErrorKind::InvalidSignature);
        assert!(e.message.contains("Host"), "{}", e.message);
        // x-amz-target must be signed; another unsigned header is left out of the signature.
        let unsigned_target = sign(
            &params,
            "POST",
            "/",
            "",
            &[("Host", "127.0.0.1:4000"), ("X-Amz-Date", DATE)],
            body,
        );
        let mut r = Kms::signed(&[], body);
        r.set("Authorization", &unsigned_target);
        let e = r.verify().unwrap_err();
        assert_eq!(e.kind, AuthErrorKind::InvalidSignature);
        assert!(e.message.contains("x-amz-target"), "{}", e.message);
        let mut r = Kms::signed(&[], body);
        r.headers
            .push(("X-Amz-User-Agent".into(), "unsigned/1.0".into()));
        r.headers
            .push(("User-Agent".into(), "proxy-rewritten".into()));
        assert!(r.verify().is_ok());
    }

    #[test]
    fn content_sha256_must_match_the_body() {
        let body = br#"{"KeyId":"k"}"#;
        let good = sha256_hex(body);
        let r = Kms::signed(&[("X-Amz-Content-Sha256", &good)], body);
        assert!(r.verify().is_ok());
        let r = Kms::signed(&[("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")], body);
        assert_eq!(kind(r.verify()), AuthErrorKind::InvalidSignature);
        let r = Kms::signed(&[("X-Amz-Content-Sha256", EMPTY_SHA256)], body);
        assert_eq!(kind(r.verify()), AuthErrorKind::InvalidSignature);
    }

    #[test]
    fn parsing_never_panics_on_odd_input() {
        for s in [
            "",
            "AWS4-HMAC-SHA256",
            "AWS4-HMAC-SHA256 ",
            "AWS4-HMAC-SHA256 ,,,",
            "AWS4-HMAC-SHA256 Credential=, SignedHeaders=, Signature=",
            "AWS4-HMAC-SHA256 Credential=////, SignedHeaders=;;, Signature=x",
            "AWS4-HMAC-SHA256 Credential=a/b/c/d/e, Credential=a/b/c/d/e, SignedHeaders=host, Signature=x",
            "AWS4-HMAC-SHA256Credential=a",
            "ሴሴሴ",
        ] {
            let _ = parse_authorization(s);
        }
        let r = Kms::signed(&[], b"{}");
        let mut r2 = Kms::signed(&[], b"{}");
        r2.set(
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/ሴ/us-east-1/kms/aws4_request, SignedHeaders=host, Signature=x",
        );
        assert!(r2.verify().is_err());
        assert!(r.verify().is_ok());
    }
}
