//! `PUT` and `GET /{bucket}?encryption` with S3's `BlockedEncryptionTypes`, which s3s 0.14.1
//! does not know: its `ServerSideEncryptionRule` has no such field, and its XML parser refuses the
//! element as malformed.
//!
//! # Why a route that dispatches again
//!
//! The element cannot simply be cut out of the body before s3s sees it: s3s checks a signed
//! body against its `x-amz-content-sha256` (or its aws-chunked signatures) as it reads it, so a
//! changed body fails authentication. And nothing runs between that check and s3s's parsing of
//! the XML. A custom route is the one place where s3s hands over a request it has authenticated:
//! this route takes `PUT`/`GET /{bucket}?encryption` (path style, the only style the server
//! serves), and then:
//!
//! 1. **PUT**: reads the body (s3s verifies its hash while it is read; at most [`MAX_BODY`]
//!    bytes), parses it strictly — the standard parts with s3s's own XML types, so they mean what
//!    they meant before — and takes `BlockedEncryptionTypes` out of the rule. Malformed XML or an
//!    unknown element is `MalformedXML`; an encryption type other than `SSE-C` / `NONE` is
//!    `InvalidArgument`.
//! 2. Builds the same operation again — for PUT with the body re-serialized without the element
//!    and the blocked types as [`BlockedEncryptionTypes`] in the request's extensions — signs it
//!    with the caller's own access key (s3s hands the route the verified credentials) and sends
//!    it through the server's whole s3s service. So it meets exactly what any request meets:
//!    authentication, the access gate (bucket policies, `s3:PutEncryptionConfiguration` /
//!    `s3:GetEncryptionConfiguration`), the operation, the SSE layer's checks and the store.
//!    There is no second place that decides access. The request carries a [`Redispatched`]
//!    marker so that this route lets it pass.
//! 3. **GET**: the SSE layer answers with the configuration and, in the response's extensions,
//!    the blocked types; this route writes the XML again with `<BlockedEncryptionTypes>` in the
//!    rule, where the AWS SDKs read it.
//!
//! The server's connection loop puts a [`Dispatch`] handle to the service into every request's
//! extensions for step 2 (a handle held by the route itself would keep the service alive forever).
//! Any other request with `?encryption` (another method, another sub-resource beside it) goes to
//! s3s as before.

use std::fmt::Write as _;

use bytes::Bytes;
use futures::StreamExt as _;
use hmac::{Hmac, KeyInit as _, Mac as _};
use hyper::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, HOST, HeaderValue};
use hyper::http::Extensions;
use hyper::{HeaderMap, Method, Uri};
use s3s::dto::{ServerSideEncryptionConfiguration, ServerSideEncryptionRule};
use s3s::service::S3Service;
use s3s::xml::{
    DeError, DeResult, Deserialize as _, DeserializeContent, Deserializer, SerResult, Serialize,
    SerializeContent, Serializer,
};
use s3s::{Body, S3Error, S3ErrorCode, S3Request, S3Response, S3Result, s3_error};
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

use crate::internal::{BlockedEncryptionTypes, EncryptionType};

/// The largest `PutBucketEncryption` body taken: a configuration is a few hundred bytes.
pub const MAX_BODY: usize = 64 * 1024;

/// The server's S3 service, put into every request's extensions by the connection loop, through
/// which the route sends the rewritten request (see the [module documentation](self)).
#[derive(Clone)]
pub(crate) struct Dispatch(pub(crate) S3Service);

/// Marks a request this route has already rewritten, so that it goes on to s3s's operation.
#[derive(Clone, Copy, Debug)]
struct Redispatched;

/// The region signed for when the caller's credential names none.
const DEFAULT_REGION: &str = "us-east-1";

/// The bucket of a bucket-level path (`/bucket` or `/bucket/`) with an AWS-style name: the only
/// names whose canonical URI needs no encoding.
fn bucket_of(path: &str) -> Option<&str> {
    let name = path.strip_prefix('/')?;
    let name = name.strip_suffix('/').unwrap_or(name);
    let aws_chars = name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-');
    (!name.is_empty() && aws_chars).then_some(name)
}

/// Whether the query names the `encryption` sub-resource and nothing else s3s would route on
/// (`x-id` and presigned-URL parameters may come along).
fn is_encryption_query(query: Option<&str>) -> bool {
    let mut encryption = false;
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let key = pair.split_once('=').map_or(pair, |(k, _)| k);
        if key == "encryption" {
            encryption = true;
        } else if key != "x-id" && !key.to_ascii_lowercase().starts_with("x-amz-") {
            return false;
        }
    }
    encryption
}

/// Whether the route takes the request.
pub(crate) fn matches(method: &Method, uri: &Uri, extensions: &Extensions) -> bool {
    (method == Method::PUT || method == Method::GET)
        && extensions.get::<Redispatched>().is_none()
        && bucket_of(uri.path()).is_some()
        && is_encryption_query(uri.query())
}

/// Answers a matched request (see the [module documentation](self)). Its signature has been
/// checked by s3s, its body is checked as it is read.
pub(crate) async fn call(mut req: S3Request<Body>) -> S3Result<S3Response<Body>> {
    let bucket = bucket_of(req.uri.path())
        .ok_or_else(|| s3_error!(InvalidURI, "not a bucket path"))?
        .to_owned();
    if req.method == Method::PUT {
        let body = read_body(&mut req.input).await?;
        let (config, blocked) = parse_put(&body)?;
        let body = to_xml(&config)?;
        let mut extensions = Extensions::new();
        if let Some(blocked) = blocked {
            extensions.insert(blocked);
        }
        redispatch(req, Method::PUT, &bucket, body, extensions).await
    } else {
        let mut resp =
            redispatch(req, Method::GET, &bucket, Bytes::new(), Extensions::new()).await?;
        let blocked = resp.extensions.remove::<BlockedEncryptionTypes>();
        if let Some(blocked) = blocked
            && resp.status.is_none_or(|s| s.is_success())
        {
            let xml = resp.output.bytes().unwrap_or_default();
            resp.output = Body::from(with_blocked(&xml, &blocked)?);
            resp.headers.remove(CONTENT_LENGTH);
        }
        Ok(resp)
    }
}

/// The body, up to [`MAX_BODY`] bytes; a body that fails s3s's verification is the caller's.
async fn read_body(body: &mut Body) -> S3Result<Bytes> {
    let mut buf = Vec::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| {
            S3Error::with_message(
                S3ErrorCode::IncompleteBody,
                format!("The request body could not be read: {e}"),
            )
        })?;
        if buf.len() + chunk.len() > MAX_BODY {
            return Err(S3Error::with_message(
                S3ErrorCode::MaxMessageLengthExceeded,
                format!("The encryption configuration is larger than {MAX_BODY} bytes."),
            ));
        }
        buf.extend_from_slice(&chunk);
    }
    if buf.is_empty() {
        return Err(S3Error::with_message(
            S3ErrorCode::MissingRequestBodyError,
            "The request body is empty.",
        ));
    }
    Ok(Bytes::from(buf))
}

// ----------------------------------------------------------------------------------------- XML

/// A `ServerSideEncryptionConfiguration` as the wire has it: s3s's rules plus, per rule, the
/// `<EncryptionType>` values of its `<BlockedEncryptionTypes>` (if it has that element).
#[derive(Debug, Default, PartialEq)]
struct ConfigXml {
    rules: Vec<RuleXml>,
}

/// One `<Rule>`: what s3s's DTO holds, and the `<EncryptionType>` values if the rule has a
/// `<BlockedEncryptionTypes>` element (`Some(vec![])` for an empty one).
#[derive(Debug, Default, PartialEq)]
struct RuleXml {
    rule: ServerSideEncryptionRule,
    blocked: Option<Vec<String>>,
}

impl<'xml> DeserializeContent<'xml> for RuleXml {
    /// The elements of s3s's `ServerSideEncryptionRule` plus `BlockedEncryptionTypes`, each at
    /// most once; anything else is malformed, as s3s has it.
    fn deserialize_content(d: &mut Deserializer<'xml>) -> DeResult<Self> {
        let mut out = RuleXml::default();
        d.for_each_element(|d, name| match name {
            b"ApplyServerSideEncryptionByDefault" => {
                if out.rule.apply_server_side_encryption_by_default.is_some() {
                    return Err(DeError::DuplicateField);
                }
                out.rule.apply_server_side_encryption_by_default = Some(d.content()?);
                Ok(())
            }
            b"BucketKeyEnabled" => {
                if out.rule.bucket_key_enabled.is_some() {
                    return Err(DeError::DuplicateField);
                }
                out.rule.bucket_key_enabled = Some(d.content()?);
                Ok(())
            }
            b"BlockedEncryptionTypes" => {
                if out.blocked.is_some() {
                    return Err(DeError::DuplicateField);
                }
                let mut types = Vec::new();
                d.for_each_element(|d, name| match name {
                    b"EncryptionType" => {
                        types.push(d.content::<String>()?);
                        Ok(())
                    }
                    _ => Err(DeError::UnexpectedTagName),
                })?;
                out.blocked = Some(types);
                Ok(())
            }
            _ => Err(DeError::UnexpectedTagName),
        })?;
        Ok(out)
    }
}

impl<'xml> DeserializeContent<'xml> for ConfigXml {
    fn deserialize_content(d: &mut Deserializer<'xml>) -> DeResult<Self> {
        let mut rules = Vec::new();
        d.for_each_element(|d, name| match name {
            b"Rule" => {
                rules.push(d.content()?);
                Ok(())
            }
            _ => Err(DeError::UnexpectedTagName),
        })?;
        if rules.is_empty() {
            return Err(DeError::MissingField);
        }
        Ok(Self { rules })
    }
}

impl SerializeContent for RuleXml {
    /// In the AWS SDKs' order: the default, the bucket key, the blocked types.
    fn serialize_content<W: std::io::Write>(&self, s: &mut Serializer<W>) -> SerResult {
        if let Some(d) = &self.rule.apply_server_side_encryption_by_default {
            s.content("ApplyServerSideEncryptionByDefault", d)?;
        }
        if let Some(enabled) = &self.rule.bucket_key_enabled {
            s.content("BucketKeyEnabled", enabled)?;
        }
        if let Some(types) = &self.blocked {
            s.element("BlockedEncryptionTypes", |s| {
                s.flattened_list("EncryptionType", types)
            })?;
        }
        Ok(())
    }
}

impl SerializeContent for ConfigXml {
    fn serialize_content<W: std::io::Write>(&self, s: &mut Serializer<W>) -> SerResult {
        s.flattened_list("Rule", &self.rules)
    }
}

impl Serialize for ConfigXml {
    fn serialize<W: std::io::Write>(&self, s: &mut Serializer<W>) -> SerResult {
        s.content("ServerSideEncryptionConfiguration", self)
    }
}

fn malformed(e: DeError) -> S3Error {
    S3Error::with_message(
        S3ErrorCode::MalformedXML,
        format!(
            "The XML you provided was not well-formed or did not validate against our published schema: {e}."
        ),
    )
}

/// A `PutBucketEncryption` body: the configuration s3s knows, and the blocked types of its first
/// rule if that rule has the element (S3 takes one rule; the layer refuses more).
fn parse_put(
    xml: &[u8],
) -> S3Result<(
    ServerSideEncryptionConfiguration,
    Option<BlockedEncryptionTypes>,
)> {
    let mut d = Deserializer::new(xml);
    let config: ConfigXml = d
        .named_element("ServerSideEncryptionConfiguration", Deserializer::content)
        .map_err(malformed)?;
    d.expect_eof().map_err(malformed)?;
    let mut blocked = None;
    for (i, rule) in config.rules.iter().enumerate() {
        let Some(names) = &rule.blocked else { continue };
        let types = names
            .iter()
            .map(|name| {
                EncryptionType::parse(name).ok_or_else(|| {
                    S3Error::with_message(
                        S3ErrorCode::InvalidArgument,
                        format!(
                            "The encryption type {name:?} is not valid: BlockedEncryptionTypes \
                             takes SSE-C or NONE."
                        ),
                    )
                })
            })
            .collect::<S3Result<Vec<_>>>()?;
        if i == 0 {
            blocked = Some(BlockedEncryptionTypes::new(types));
        }
    }
    let config = ServerSideEncryptionConfiguration {
        rules: config.rules.into_iter().map(|r| r.rule).collect(),
    };
    Ok((config, blocked))
}

/// `<?xml …?>` and `val`, as s3s writes XML bodies.
fn to_xml<T: Serialize>(val: &T) -> S3Result<Bytes> {
    let mut buf = Vec::with_capacity(256);
    let mut s = Serializer::new(&mut buf);
    s.decl()
        .and_then(|()| val.serialize(&mut s))
        .map_err(|e| S3Error::with_message(S3ErrorCode::InternalError, format!("XML: {e:?}")))?;
    Ok(Bytes::from(buf))
}

/// A `GetBucketEncryption` body as s3s wrote it, with `blocked` in its first rule.
fn with_blocked(xml: &[u8], blocked: &BlockedEncryptionTypes) -> S3Result<Bytes> {
    let mut d = Deserializer::new(xml);
    let config = ServerSideEncryptionConfiguration::deserialize(&mut d).map_err(|e| {
        tracing::error!(error = %e, "the configuration s3s wrote does not parse");
        S3Error::with_message(
            S3ErrorCode::InternalError,
            "Internal error: encryption configuration.",
        )
    })?;
    let names: Vec<String> = blocked
        .types()
        .iter()
        .map(|t| t.as_str().to_owned())
        .collect();
    let mut names = Some(names);
    let rules = config
        .rules
        .into_iter()
        .map(|rule| RuleXml {
            rule,
            blocked: names.take(),
        })
        .collect();
    to_xml(&ConfigXml { rules })
}

// ------------------------------------------------------------------------------ the dispatch

/// Sends `method /{bucket}?encryption` with `body` through the server's service, signed anew with
/// the credentials s3s verified for `req`, carrying `req`'s extensions plus `extra`.
async fn redispatch(
    req: S3Request<Body>,
    method: Method,
    bucket: &str,
    body: Bytes,
    extra: Extensions,
) -> S3Result<S3Response<Body>> {
    let S3Request {
        credentials,
        region,
        headers: client_headers,
        mut extensions,
        ..
    } = req;
    let Some(credentials) = credentials else {
        return Err(s3_error!(AccessDenied, "Signature is required"));
    };
    let Some(Dispatch(service)) = extensions.get::<Dispatch>().cloned() else {
        tracing::error!("the ?encryption route found no dispatch handle in the request");
        return Err(S3Error::with_message(
            S3ErrorCode::InternalError,
            "Internal error: request dispatch.",
        ));
    };
    let region = region.as_ref().map_or(DEFAULT_REGION, |r| r.as_str());
    let host = client_headers
        .get(HOST)
        .cloned()
        .unwrap_or_else(|| HeaderValue::from_static("localhost"));
    let owner = client_headers.get("x-amz-expected-bucket-owner").cloned();

    let mut headers = HeaderMap::new();
    headers.insert(HOST, host);
    if let Some(owner) = owner {
        headers.insert("x-amz-expected-bucket-owner", owner);
    }
    if method == Method::PUT {
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/xml"));
        headers.insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
    }
    let now = time::OffsetDateTime::now_utc();
    let signing = Signing {
        access_key: &credentials.access_key,
        secret_key: credentials.secret_key.expose(),
        region,
        date: &amz_date(now),
    };
    signing.sign(
        &method,
        &format!("/{bucket}"),
        "encryption=",
        &mut headers,
        &body,
    )?;

    let uri: Uri = format!("/{bucket}?encryption")
        .parse()
        .map_err(|_| s3_error!(InvalidURI, "not a bucket path"))?;
    let mut request = hyper::Request::new(Body::from(body));
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    *request.headers_mut() = headers;
    extensions.extend(extra);
    extensions.insert(Redispatched);
    *request.extensions_mut() = extensions;

    let response = service.call(request).await.map_err(|e| {
        tracing::error!(error = ?e, "the S3 service failed on a rewritten ?encryption request");
        S3Error::with_message(
            S3ErrorCode::InternalError,
            "Internal error: request dispatch.",
        )
    })?;
    let (parts, body) = response.into_parts();
    Ok(S3Response {
        output: body,
        status: Some(parts.status),
        headers: parts.headers,
        extensions: parts.extensions,
    })
}

/// `x-amz-date`: `YYYYMMDD'T'HHMMSS'Z'`, UTC.
fn amz_date(t: time::OffsetDateTime) -> String {
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// What a SigV4 header signature for service `s3` takes.
struct Signing<'a> {
    access_key: &'a str,
    secret_key: &'a str,
    region: &'a str,
    /// `x-amz-date`.
    date: &'a str,
}

impl Signing<'_> {
    /// Adds `x-amz-date`, `x-amz-content-sha256` and `authorization` to `headers` for a request
    /// `method path?query` with `body`, signing every header in `headers` but `content-length`
    /// and `content-type` (AWS SigV4). `path` and `query` are taken as canonical already: a bucket
    /// path needs no encoding (see [`bucket_of`]) and the query is `encryption=`.
    fn sign(
        &self,
        method: &Method,
        path: &str,
        query: &str,
        headers: &mut HeaderMap,
        body: &[u8],
    ) -> S3Result<()> {
        let payload = hex::encode(Sha256::digest(body));
        headers.insert("x-amz-date", header_value(self.date)?);
        headers.insert("x-amz-content-sha256", header_value(&payload)?);
        let mut signed: Vec<(String, String)> = Vec::new();
        for (name, value) in headers.iter() {
            if name == CONTENT_LENGTH || name == CONTENT_TYPE {
                continue;
            }
            let value = value
                .to_str()
                .map_err(|_| s3_error!(InvalidArgument, "a header is not ASCII text"))?;
            signed.push((name.as_str().to_owned(), value.trim().to_owned()));
        }
        signed.sort();
        let mut canonical = format!("{method}\n{path}\n{query}\n");
        for (name, value) in &signed {
            let _ = writeln!(canonical, "{name}:{value}");
        }
        let names: Vec<&str> = signed.iter().map(|(n, _)| n.as_str()).collect();
        let signed_headers = names.join(";");
        let _ = write!(canonical, "\n{signed_headers}\n{payload}");

        let day = self.date.get(..8).unwrap_or(self.date);
        let scope = format!("{day}/{}/s3/aws4_request", self.region);
        let to_sign = format!(
            "AWS4-HMAC-SHA256\n{}\n{scope}\n{}",
            self.date,
            hex::encode(Sha256::digest(canonical.as_bytes()))
        );
        let secret = Zeroizing::new(format!("AWS4{}", self.secret_key));
        let mut key = Zeroizing::new(hmac(secret.as_bytes(), day.as_bytes())?);
        for part in [self.region, "s3", "aws4_request"] {
            key = Zeroizing::new(hmac(key.as_slice(), part.as_bytes())?);
        }
        let signature = hex::encode(hmac(key.as_slice(), to_sign.as_bytes())?);
        let authorization = format!(
            "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
            self.access_key
        );
        headers.insert(AUTHORIZATION, header_value(&authorization)?);
        Ok(())
    }
}

fn header_value(s: &str) -> S3Result<HeaderValue> {
    HeaderValue::from_str(s).map_err(|_| s3_error!(InvalidArgument, "a header value is not valid"))
}

fn hmac(key: &[u8], data: &[u8]) -> S3Result<[u8; 32]> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key)
        .map_err(|_| S3Error::with_message(S3ErrorCode::InternalError, "Internal error: HMAC."))?;
    mac.update(data);
    Ok(mac.finalize().into_bytes().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put_body(rule: &str) -> String {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
             <ServerSideEncryptionConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
             <Rule>{rule}</Rule></ServerSideEncryptionConfiguration>"
        )
    }

    const AES: &str = "<ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault>";

    fn code(r: S3Result<impl std::fmt::Debug>) -> String {
        r.unwrap_err().code().as_str().to_owned()
    }

    #[test]
    fn the_route_takes_only_bucket_level_encryption_requests() {
        let ext = Extensions::new();
        let uri = |s: &str| s.parse::<Uri>().unwrap();
        for u in [
            "/b?encryption",
            "/b/?encryption=",
            "/my.bucket-1?encryption&x-id=PutBucketEncryption",
            "/b?encryption&X-Amz-Signature=abc",
        ] {
            assert!(matches(&Method::PUT, &uri(u), &ext), "{u}");
            assert!(matches(&Method::GET, &uri(u), &ext), "{u}");
        }
        for u in [
            "/b",
            "/b/key?encryption",
            "/?encryption",
            "/b?encryption&acl",
            "/_objseal?encryption",
            "/B?encryption",
        ] {
            assert!(!matches(&Method::PUT, &uri(u), &ext), "{u}");
        }
        assert!(!matches(&Method::DELETE, &uri("/b?encryption"), &ext));
        let mut again = Extensions::new();
        again.insert(Redispatched);
        assert!(!matches(&Method::PUT, &uri("/b?encryption"), &again));
    }

    #[test]
    fn blocked_types_are_taken_out_and_the_rest_parses_as_s3s_has_it() {
        let xml = put_body(&format!(
            "{AES}<BucketKeyEnabled>true</BucketKeyEnabled>\
             <BlockedEncryptionTypes><EncryptionType>SSE-C</EncryptionType>\
             <EncryptionType>SSE-C</EncryptionType></BlockedEncryptionTypes>"
        ));
        let (config, blocked) = parse_put(xml.as_bytes()).unwrap();
        assert_eq!(
            blocked,
            Some(BlockedEncryptionTypes::new([EncryptionType::SseC]))
        );
        let rule = &config.rules[0];
        assert_eq!(rule.bucket_key_enabled, Some(true));
        assert_eq!(
            rule.apply_server_side_encryption_by_default
                .as_ref()
                .unwrap()
                .sse_algorithm
                .as_str(),
            "AES256"
        );
        // What goes on to s3s is what s3s would have parsed from the same body without the element.
        let forwarded = to_xml(&config).unwrap();
        let mut d = Deserializer::new(&forwarded);
        assert_eq!(
            ServerSideEncryptionConfiguration::deserialize(&mut d).unwrap(),
            config
        );

        let (_, none) = parse_put(put_body(AES).as_bytes()).unwrap();
        assert_eq!(none, None);
        let (config, empty) = parse_put(put_body("<BlockedEncryptionTypes/>").as_bytes()).unwrap();
        assert_eq!(empty, Some(BlockedEncryptionTypes::default()));
        assert!(
            config.rules[0]
                .apply_server_side_encryption_by_default
                .is_none()
        );
    }

    #[test]
    fn bad_configurations_get_s3_errors() {
        let bad_type = put_body(
            "<BlockedEncryptionTypes><EncryptionType>SSE-KMS</EncryptionType></BlockedEncryptionTypes>",
        );
        assert_eq!(code(parse_put(bad_type.as_bytes())), "InvalidArgument");
        let lower = put_body(
            "<BlockedEncryptionTypes><EncryptionType>sse-c</EncryptionType></BlockedEncryptionTypes>",
        );
        assert_eq!(code(parse_put(lower.as_bytes())), "InvalidArgument");
        for malformed in [
            put_body(&format!(
                "{AES}<BlockedEncryptionTypes/><BlockedEncryptionTypes/>"
            )),
            put_body("<BlockedEncryptionTypes><Type>SSE-C</Type></BlockedEncryptionTypes>"),
            put_body(&format!("{AES}<Unknown/>")),
            put_body(&format!("{AES}{AES}")),
            "<ServerSideEncryptionConfiguration></ServerSideEncryptionConfiguration>".to_owned(),
            "<ServerSideEncryptionConfiguration><Other/></ServerSideEncryptionConfiguration>"
                .to_owned(),
            "<Other/>".to_owned(),
            "<ServerSideEncryptionConfiguration><Rule>".to_owned(),
            format!("{}<Second/>", put_body(AES)),
            "not xml".to_owned(),
        ] {
            assert_eq!(
                code(parse_put(malformed.as_bytes())),
                "MalformedXML",
                "{malformed}"
            );
        }
    }

    #[test]
    fn get_answers_gain_the_blocked_types_in_their_rule() {
        let config = ServerSideEncryptionConfiguration {
            rules: vec![ServerSideEncryptionRule {
                apply_server_side_encryption_by_default: None,
                bucket_key_enabled: Some(false),
            }],
        };
        let s3s_xml = to_xml(&config).unwrap();
        let blocked = BlockedEncryptionTypes::new([EncryptionType::None]);
        let out = with_blocked(&s3s_xml, &blocked).unwrap();
        let text = std::str::from_utf8(&out).unwrap();
        assert!(
            text.contains(
                "<Rule><BucketKeyEnabled>false</BucketKeyEnabled><BlockedEncryptionTypes>\
                 <EncryptionType>NONE</EncryptionType></BlockedEncryptionTypes></Rule>"
            ),
            "{text}"
        );
        let (parsed, again) = parse_put(&out).unwrap();
        assert_eq!(parsed, config);
        assert_eq!(again, Some(blocked));
    }

    /// The "GET Bucket Lifecycle" example of Amazon S3's SigV4 documentation (header-based
    /// authentication), signed to the published signature.
    #[test]
    fn signatures_match_the_aws_example() {
        let signing = Signing {
            access_key: "AKIAIOSFODNN7EXAMPLE",
            secret_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            region: "us-east-1",
            date: "20130524T000000Z",
        };
        let mut h = HeaderMap::new();
        h.insert(
            HOST,
            HeaderValue::from_static("examplebucket.s3.amazonaws.com"),
        );
        signing
            .sign(&Method::GET, "/", "lifecycle=", &mut h, b"")
            .unwrap();
        assert_eq!(
            h[AUTHORIZATION],
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, \
             SignedHeaders=host;x-amz-content-sha256;x-amz-date, \
             Signature=fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"
        );
        assert_eq!(
            h["x-amz-content-sha256"],
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let t = time::OffsetDateTime::from_unix_timestamp(1_369_353_600).unwrap();
        assert_eq!(amz_date(t), "20130524T000000Z");
    }
}
