//! The fleet: a backend (the test binary's [`Site`]: moto's S3 server in `tests/gateway.rs`, a
//! Ceph RADOS Gateway in `tests/gateway_ceph.rs`), a KMS, a root key and access key the gateways
//! share; and the client-side helpers of the tests.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_s3::Client;
use aws_sdk_s3::config::{
    BehaviorVersion, Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ServerSideEncryption;
use aws_smithy_http_client::tls;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use md5::{Digest as _, Md5};
use objseal_kms::keystore::{LocalKms, LocalKmsConfig, RootKey};
use objseal_kms::remote::{RemoteConfig, RemoteCredentials};
use objseal_kms::server::{AccessKey as KmsAccessKey, KmsServer, ServerConfig as KmsConfig};
use objseal_server::server::{AccessKey, RunningServer, Server, ServerConfig};
use objseal_server::store::{BackendCredentials, RemoteStore, RemoteStoreConfig};
use s3s::S3Request;

pub(crate) const ACCESS_KEY: &str = "AKIDGATEWAYTEST";
pub(crate) const SECRET_KEY: &str = "gateway-test-secret";
/// In every encrypted plaintext: the backend must never hold it.
pub(crate) const MARKER: &[u8] = b"PLAINTEXT-MARKER-objseal-gateway";

/// A backend the gateways of a test stand on: an S3 service's endpoint and credentials, and what
/// keeps it running (dropping the site stops a backend of the test's own).
pub(crate) struct Site {
    pub(crate) endpoint: String,
    pub(crate) access_key_id: String,
    pub(crate) secret_access_key: String,
    #[allow(dead_code)] // Held, never read: it keeps the backend running.
    pub(crate) keep: Box<dyn std::any::Any + Send + Sync>,
}

/// The KMS, the root key and the credentials a fleet of gateways shares, and the backend.
pub(crate) struct Fleet {
    pub(crate) site: Site,
    pub(crate) root: [u8; 32],
    _kms_dir: tempfile::TempDir,
    pub(crate) kms: objseal_kms::server::RunningServer,
}

impl Fleet {
    /// The test binary's backend ([`crate::start_site`]) and a KMS; `None` (after a loud
    /// notice) without the backend's programs.
    pub(crate) async fn start() -> Option<Fleet> {
        let site = crate::start_site()?;
        let kms_dir = tempfile::tempdir().unwrap();
        let local = Arc::new(
            LocalKms::open(LocalKmsConfig::new(
                kms_dir.path().join("keys.osks"),
                RootKey::generate().unwrap(),
            ))
            .unwrap(),
        );
        let kms = KmsServer::new(
            KmsConfig::new(
                "us-east-1",
                // The gateways are a service: they call on behalf of their users.
                vec![KmsAccessKey {
                    service: Some("s3".into()),
                    ..KmsAccessKey::new("AKIDKMSGATEWAY", "kms-gateway-secret")
                }],
            ),
            local,
        )
        .unwrap()
        .bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
        let mut root = [0u8; 32];
        getrandom::fill(&mut root).unwrap();
        Some(Fleet {
            site,
            root,
            _kms_dir: kms_dir,
            kms,
        })
    }

    pub(crate) fn backend(&self) -> RemoteStoreConfig {
        RemoteStoreConfig {
            credentials: Some(BackendCredentials::new(
                &self.site.access_key_id,
                &self.site.secret_access_key,
            )),
            max_attempts: 1,
            connect_timeout: Duration::from_secs(2),
            operation_timeout: Duration::from_secs(20),
            ..RemoteStoreConfig::new(self.site.endpoint.clone())
        }
    }

    /// The fleet's inner store on its own, past the SSE layer (with the fleet's state key, so it
    /// reads and writes the gateways' trailers and sidecars).
    pub(crate) async fn store(&self) -> RemoteStore {
        let state = objseal_server::server::gateway_state_key(&RootKey::from_bytes(self.root));
        RemoteStore::connect(self.backend())
            .await
            .unwrap()
            .with_state_key(&state)
    }

    /// A gateway over the backend, with a data directory of its own (which holds nothing the
    /// objects need: `dir` may be fresh every time).
    pub(crate) async fn gateway(&self, dir: &std::path::Path) -> RunningServer {
        self.gateway_with(dir, |_| {}).await
    }

    /// [`Fleet::gateway`], its configuration changed by `tweak` before it starts.
    pub(crate) async fn gateway_with(
        &self,
        dir: &std::path::Path,
        tweak: impl FnOnce(&mut ServerConfig),
    ) -> RunningServer {
        let mut config = ServerConfig::new(dir).with_listen("127.0.0.1:0".parse().unwrap());
        config.root_key = Some(RootKey::from_bytes(self.root));
        config.access_keys = vec![AccessKey::new(ACCESS_KEY, SECRET_KEY)];
        config.remote_kms = Some(RemoteConfig {
            endpoint_url: Some(self.kms.endpoint_url()),
            region: Some("us-east-1".into()),
            credentials: Some(RemoteCredentials::new(
                "AKIDKMSGATEWAY",
                "kms-gateway-secret",
            )),
            operation_timeout: Duration::from_secs(20),
            max_attempts: 1,
            ..RemoteConfig::default()
        });
        config.sse.allow_ssec_over_http = true;
        config.backend = Some(self.backend());
        tweak(&mut config);
        Server::start(config).await.expect("the gateway starts")
    }

    /// A client straight to the backend, past every gateway (request checksums only where
    /// required: Ceph RGW 16 refuses trailing ones).
    pub(crate) fn backend_client(&self) -> Client {
        let conf = client_config(
            &self.site.endpoint,
            &self.site.access_key_id,
            &self.site.secret_access_key,
        )
        .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
        .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
        .build();
        Client::from_conf(conf)
    }
}

pub(crate) fn client(endpoint: &str, id: &str, secret: &str) -> Client {
    Client::from_conf(client_config(endpoint, id, secret).build())
}

fn client_config(endpoint: &str, id: &str, secret: &str) -> aws_sdk_s3::config::Builder {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https();
    aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .force_path_style(true)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(
            id.to_owned(),
            secret.to_owned(),
            None,
            None,
            "test",
        ))
        .http_client(http)
}

/// A request to call a store with directly.
pub(crate) fn bare<T>(input: T) -> S3Request<T> {
    S3Request {
        input,
        method: http::Method::PUT,
        uri: http::Uri::from_static("/"),
        headers: http::HeaderMap::new(),
        extensions: http::Extensions::new(),
        credentials: None,
        region: None,
        service: None,
        trailing_headers: None,
    }
}

pub(crate) fn client_of(gateway: &RunningServer) -> Client {
    client(gateway.endpoint(), ACCESS_KEY, SECRET_KEY)
}

/// The code and HTTP status of a failed call.
pub(crate) fn refusal<E: ProvideErrorMetadata, T>(
    r: Result<T, SdkError<E, aws_sdk_s3::config::http::HttpResponse>>,
) -> (String, u16) {
    match r {
        Ok(_) => panic!("expected a refusal, got success"),
        Err(e) => {
            let status = e.raw_response().map_or(0, |r| r.status().as_u16());
            let code = match &e {
                SdkError::ServiceError(s) => s.err().code().unwrap_or("").to_owned(),
                other => format!("{other}"),
            };
            (code, status)
        }
    }
}

/// `len` pseudo-random bytes with [`MARKER`] every 10 000 bytes.
pub(crate) fn plaintext(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out: Vec<u8> = (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let mut at = 0;
    while at + MARKER.len() <= len {
        out[at..at + MARKER.len()].copy_from_slice(MARKER);
        at += 10_000;
    }
    out
}

pub(crate) fn md5_hex(b: &[u8]) -> String {
    hex::encode(Md5::digest(b))
}

pub(crate) fn unquote(etag: Option<&str>) -> String {
    etag.unwrap_or_default().trim_matches('"').to_owned()
}

pub(crate) async fn bytes(out: aws_sdk_s3::operation::get_object::GetObjectOutput) -> Vec<u8> {
    out.body.collect().await.unwrap().into_bytes().to_vec()
}

/// The SSE modes, as a PutObject / GetObject applies them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    None,
    SseS3,
    SseKms,
    SseC,
}

pub(crate) const MODES: [Mode; 4] = [Mode::None, Mode::SseS3, Mode::SseKms, Mode::SseC];
pub(crate) const CUSTOMER_KEY: [u8; 32] = [0x5c; 32];

pub(crate) fn customer() -> (String, String) {
    (
        B64.encode(CUSTOMER_KEY),
        B64.encode(Md5::digest(CUSTOMER_KEY)),
    )
}

pub(crate) async fn put(c: &Client, bucket: &str, key: &str, mode: Mode, data: &[u8]) -> String {
    let mut req = c
        .put_object()
        .bucket(bucket)
        .key(key)
        .metadata("colour", "blue")
        .content_type("application/x-test")
        .body(ByteStream::from(data.to_vec()));
    let (k, md5) = customer();
    req = match mode {
        Mode::None => req,
        Mode::SseS3 => req.server_side_encryption(ServerSideEncryption::Aes256),
        Mode::SseKms => req.server_side_encryption(ServerSideEncryption::AwsKms),
        Mode::SseC => req
            .sse_customer_algorithm("AES256")
            .sse_customer_key(k)
            .sse_customer_key_md5(md5),
    };
    let out = req.send().await.unwrap();
    unquote(out.e_tag())
}

pub(crate) async fn get(
    c: &Client,
    bucket: &str,
    key: &str,
    mode: Mode,
    range: Option<&str>,
) -> Vec<u8> {
    let mut req = c
        .get_object()
        .bucket(bucket)
        .key(key)
        .set_range(range.map(str::to_owned));
    if mode == Mode::SseC {
        let (k, md5) = customer();
        req = req
            .sse_customer_algorithm("AES256")
            .sse_customer_key(k)
            .sse_customer_key_md5(md5);
    }
    bytes(req.send().await.unwrap()).await
}

pub(crate) async fn head(
    c: &Client,
    bucket: &str,
    key: &str,
    mode: Mode,
) -> aws_sdk_s3::operation::head_object::HeadObjectOutput {
    let mut req = c.head_object().bucket(bucket).key(key);
    if mode == Mode::SseC {
        let (k, md5) = customer();
        req = req
            .sse_customer_algorithm("AES256")
            .sse_customer_key(k)
            .sse_customer_key_md5(md5);
    }
    req.send().await.unwrap()
}

/// Whole and ranged reads of `key` (holding `data`) give the plaintext's bytes.
pub(crate) async fn check_reads(c: &Client, bucket: &str, key: &str, mode: Mode, data: &[u8]) {
    assert_eq!(get(c, bucket, key, mode, None).await, data, "{key} whole");
    let n = data.len();
    if n == 0 {
        return;
    }
    let ranges = [
        (0, n.min(10) - 1),
        (n / 3, n - 1),
        (n.saturating_sub(100), n - 1),
        (65_530.min(n - 1), 65_545.min(n - 1)),
    ];
    for (a, b) in ranges {
        let got = get(c, bucket, key, mode, Some(&format!("bytes={a}-{b}"))).await;
        assert_eq!(got, &data[a..=b], "{key} bytes={a}-{b}");
    }
    let suffix = n.min(70_000);
    let got = get(c, bucket, key, mode, Some(&format!("bytes=-{suffix}"))).await;
    assert_eq!(got, &data[n - suffix..], "{key} bytes=-{suffix}");
}

/// Every backend object of `bucket`, its body and its metadata, read straight from the backend.
pub(crate) async fn backend_objects(
    backend: &Client,
    bucket: &str,
) -> Vec<(String, Vec<u8>, HashMap<String, String>)> {
    let listed = backend
        .list_objects_v2()
        .bucket(bucket)
        .send()
        .await
        .unwrap();
    let mut out = Vec::new();
    for key in listed.contents().iter().filter_map(|o| o.key()) {
        let got = backend
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .unwrap();
        let meta = got.metadata().cloned().unwrap_or_default();
        out.push((key.to_owned(), bytes(got).await, meta));
    }
    out
}

pub(crate) fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

pub(crate) const SIZES: [usize; 5] = [0, 1, 4095, 70_000, 300_001];

pub(crate) const DENY_UNLESS_KMS: &str = r#"{"Version": "2012-10-17", "Statement": [
  {"Sid": "OnlyKms", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
   "Resource": "arn:aws:s3:::BUCKET/*",
   "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}}}]}"#;
