//! A real server on loopback and an AWS SDK for Rust client for it; with
//! `OBJSEAL_TEST_BACKEND=moto` the server is the scale-out gateway over moto ([`crate::backend`]).

use aws_sdk_s3::Client;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_smithy_http_client::tls;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use md5::{Digest as _, Md5};
use objseal_server::server::{RunningServer, Server, ServerConfig};

pub use crate::backend::Backend;

/// A server's data directory and, in gateway mode, its backend: what a restart over the same
/// directory needs (dereferences to the directory).
pub struct DataDir {
    pub dir: tempfile::TempDir,
    pub backend: Option<Backend>,
}

impl From<tempfile::TempDir> for DataDir {
    fn from(dir: tempfile::TempDir) -> Self {
        DataDir { dir, backend: None }
    }
}

impl std::ops::Deref for DataDir {
    type Target = tempfile::TempDir;
    fn deref(&self) -> &tempfile::TempDir {
        &self.dir
    }
}

pub struct Env {
    pub server: Option<RunningServer>,
    pub client: Client,
    pub dir: DataDir,
}

impl Env {
    pub async fn start() -> Env {
        let dir = tempfile::tempdir().unwrap();
        Self::start_in(dir).await
    }

    /// A server over `dir` (in gateway mode over its backend, leased now if it has none yet).
    pub async fn start_in(dir: impl Into<DataDir>) -> Env {
        let mut dir = dir.into();
        let mut config = ServerConfig::new(dir.path()).with_listen("127.0.0.1:0".parse().unwrap());
        config.sse.allow_ssec_over_http = true;
        match &dir.backend {
            Some(backend) => config.backend = Some(backend.config()),
            None => dir.backend = crate::backend::attach(&mut config),
        }
        let server = Server::start(config).await.expect("server starts");
        let client = client_for(&server);
        Env {
            server: Some(server),
            client,
            dir,
        }
    }

    pub fn server(&self) -> &RunningServer {
        self.server.as_ref().unwrap()
    }

    pub async fn bucket(&self, name: &str) {
        self.client
            .create_bucket()
            .bucket(name)
            .send()
            .await
            .unwrap();
    }

    /// The backend's client, past the gateway (gateway mode only).
    pub fn backend_client(&self) -> Option<Client> {
        self.dir.backend.as_ref().map(Backend::client)
    }

    pub async fn stop(mut self) -> DataDir {
        if let Some(s) = self.server.take() {
            s.shutdown().await.unwrap();
        }
        self.dir
    }
}

pub fn client_for(server: &RunningServer) -> Client {
    let key = server.access_key();
    client_with(server, &key.id, key.secret.as_str())
}

/// A client of `server` signing with this access key.
pub fn client_with(server: &RunningServer, access_key_id: &str, secret: &str) -> Client {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https();
    let conf = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(server.endpoint())
        .force_path_style(true)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(
            access_key_id.to_owned(),
            secret.to_owned(),
            None,
            None,
            "test",
        ))
        .http_client(http)
        .build();
    Client::from_conf(conf)
}

/// The error code and HTTP status of a failed call.
pub fn code_status<E, R>(e: &SdkError<E, R>) -> (String, u16)
where
    E: ProvideErrorMetadata + std::fmt::Debug,
    R: std::fmt::Debug + HasStatus,
{
    let status = e.raw_response().map_or(0, |r| r.status_u16());
    let code = match e {
        SdkError::ServiceError(s) => s.err().code().unwrap_or("").to_owned(),
        other => format!("{other:?}"),
    };
    (code, status)
}

pub trait HasStatus {
    fn status_u16(&self) -> u16;
}

impl HasStatus for aws_sdk_s3::config::http::HttpResponse {
    fn status_u16(&self) -> u16 {
        self.status().as_u16()
    }
}

/// Asserts a call failed with `code` and `status`.
#[macro_export]
macro_rules! assert_refused {
    ($call:expr, $code:expr, $status:expr) => {{
        match $call {
            Ok(_) => panic!("expected {} ({}), got success", $code, $status),
            Err(e) => {
                let (code, status) = $crate::common::code_status(&e);
                assert_eq!((code.as_str(), status), ($code, $status), "{e:?}");
            }
        }
    }};
}

/// Deterministic pseudo-random bytes.
pub fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

pub fn md5_hex(b: &[u8]) -> String {
    hex::encode(Md5::digest(b))
}

/// A customer key and the two header values it needs.
pub struct CustomerKey {
    pub raw: [u8; 32],
    pub b64: String,
    pub md5: String,
}

pub fn customer_key(byte: u8) -> CustomerKey {
    let raw = [byte; 32];
    CustomerKey {
        raw,
        b64: B64.encode(raw),
        md5: B64.encode(Md5::digest(raw)),
    }
}

pub fn body(b: &[u8]) -> ByteStream {
    ByteStream::from(b.to_vec())
}

pub async fn collect(out: aws_sdk_s3::operation::get_object::GetObjectOutput) -> Vec<u8> {
    out.body
        .collect()
        .await
        .expect("body reads completely")
        .into_bytes()
        .to_vec()
}

pub fn unquote(etag: Option<&str>) -> String {
    etag.unwrap_or_default().trim_matches('"').to_owned()
}
