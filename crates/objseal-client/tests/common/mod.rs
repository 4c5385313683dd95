//! The stores the client tests run against — `objseal serve` (in process, plain mode) and moto's
//! S3 server (an independent implementation) — both on loopback, and the keys they use.
#![allow(dead_code)]

#[path = "../../../objseal-kms/tests/common/peers.rs"]
pub mod peers;
pub mod scenarios;

use std::collections::HashMap;
use std::sync::Arc;

use aws_sdk_s3::primitives::ByteStream;
use objseal_client::{ClientConfig, EncryptingClient, Keyring};
use objseal_core::Kek;
use objseal_core::wrap::LocalKek;
use objseal_kms::{CreateKeyRequest, Kms, LocalKms, LocalKmsConfig, RootKey};
use objseal_server::server::{RunningServer, Server, ServerConfig};

pub enum Store {
    Objseal(RunningServer),
    Moto(peers::MotoServer),
}

pub struct Env {
    pub store: Store,
    pub config: ClientConfig,
    pub kms: Arc<dyn Kms>,
    /// Two keys of `kms`, by ARN.
    pub kms_keys: [String; 2],
    _dir: tempfile::TempDir,
}

pub const PART: usize = 5 << 20;

impl Env {
    pub async fn objseal() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let config = ServerConfig::new(dir.path().join("server"))
            .with_listen("127.0.0.1:0".parse().unwrap());
        let server = Server::start(config).await.expect("server starts");
        let key = server.access_key();
        let config = client_config(
            server.endpoint().to_owned(),
            key.id.clone(),
            key.secret.as_str().to_owned(),
        );
        Self::finish(Store::Objseal(server), config, dir).await
    }

    /// `None` when the Python peers are not installed (and not required).
    pub async fn moto() -> Option<Env> {
        let moto = peers::MotoServer::start()?;
        let config = client_config(
            moto.endpoint(),
            peers::TEST_ACCESS_KEY_ID.into(),
            peers::TEST_SECRET_ACCESS_KEY.into(),
        );
        let dir = tempfile::tempdir().unwrap();
        Some(Self::finish(Store::Moto(moto), config, dir).await)
    }

    async fn finish(store: Store, config: ClientConfig, dir: tempfile::TempDir) -> Env {
        let kms = LocalKms::open(LocalKmsConfig::new(
            dir.path().join("kms.store"),
            RootKey::from_bytes([42; 32]),
        ))
        .unwrap();
        let (a, b) = (new_kms_key(&kms).await, new_kms_key(&kms).await);
        let env = Env {
            store,
            config,
            kms: Arc::new(kms),
            kms_keys: [a, b],
            _dir: dir,
        };
        env.raw()
            .await
            .create_bucket()
            .bucket("bucket")
            .send()
            .await
            .unwrap();
        env
    }

    pub fn name(&self) -> &'static str {
        match self.store {
            Store::Objseal(_) => "objseal serve",
            Store::Moto(_) => "moto",
        }
    }

    pub async fn client(&self, keys: Keyring) -> EncryptingClient {
        EncryptingClient::connect(self.config.clone(), keys)
            .await
            .expect("client")
    }

    /// A client with one KMS key (`kms_keys[0]`) and one KEK (`kek(1)`).
    pub async fn default_client(&self) -> EncryptingClient {
        self.client(self.kms_keyring(0).with_kek(kek(1))).await
    }

    pub fn kms_keyring(&self, i: usize) -> Keyring {
        Keyring::new().with_kms_key(self.kms.clone(), self.kms_keys[i].clone())
    }

    /// A plain S3 client of the same store, for what an attacker with write access does.
    pub async fn raw(&self) -> aws_sdk_s3::Client {
        EncryptingClient::connect(self.config.clone(), Keyring::new())
            .await
            .unwrap()
            .s3()
            .clone()
    }

    pub async fn raw_get(&self, key: &str) -> (Vec<u8>, HashMap<String, String>) {
        let out = self
            .raw()
            .await
            .get_object()
            .bucket("bucket")
            .key(key)
            .send()
            .await
            .unwrap();
        let meta = out.metadata.clone().unwrap_or_default();
        (out.body.collect().await.unwrap().to_vec(), meta)
    }

    pub async fn raw_put(&self, key: &str, body: Vec<u8>, meta: HashMap<String, String>) {
        self.raw()
            .await
            .put_object()
            .bucket("bucket")
            .key(key)
            .set_metadata(Some(meta))
            .body(ByteStream::from(body))
            .send()
            .await
            .unwrap();
    }
}

fn client_config(endpoint: String, id: String, secret: String) -> ClientConfig {
    ClientConfig {
        endpoint_url: Some(endpoint),
        region: Some("us-east-1".into()),
        credentials: Some((id, zeroize::Zeroizing::new(secret))),
        force_path_style: true,
        part_size: PART,
        multipart_threshold: PART,
        concurrency: 4,
        max_attempts: 1,
        ..ClientConfig::default()
    }
}

/// A new key of `kms`, by ARN.
pub async fn new_kms_key(kms: &dyn Kms) -> String {
    kms.create_key(CreateKeyRequest::default())
        .await
        .unwrap()
        .arn
}

/// KEK number `n`, named `kek-n`.
pub fn kek(n: u8) -> LocalKek {
    LocalKek::new(Kek::from_bytes([n; 32]), &format!("kek-{n}"), 1).unwrap()
}

/// Deterministic plaintext.
pub fn data(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i.wrapping_mul(31) % 251) as u8).collect()
}

/// Every scenario of `scenarios.rs`, one test each, against the store `$start` gives.
#[macro_export]
macro_rules! all_scenarios {
    ($start:expr) => {
        $crate::scenario_tests!($start;
            round_trips,
            multipart_100_mib,
            ranges,
            wrong_keys_and_contexts,
            strict_key_selection,
            swapped_and_tampered_metadata,
            tampered_manifest,
            copies_and_locations,
            list_head_delete,
            rewrap_changes_only_keys,
            many_recipients_use_the_instruction_object,
            failed_upload_leaves_nothing,
        );
    };
}

/// Runs the named scenarios as one test per store.
#[macro_export]
macro_rules! scenario_tests {
    ($start:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                let Some(env) = $start else { return };
                common::scenarios::$name(&env).await;
            }
        )*
    };
}
