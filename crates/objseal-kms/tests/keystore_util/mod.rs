//! Helpers shared by the keystore tests.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;

use objseal_kms::audit::AuditLog;
use objseal_kms::cache::CacheLimits;
use objseal_kms::clock::TestClock;
use objseal_kms::keystore::block_on;
use objseal_kms::{
    CreateKeyRequest, EncryptionContext, Kms, KmsError, LocalKms, LocalKmsConfig, RootKey,
};

/// 2030-01-01T00:00:00Z.
pub const T0: u64 = 1_893_456_000;
pub const DAY: u64 = 86_400;

/// A keystore in a temporary directory, on a test clock.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub clock: Arc<TestClock>,
    pub root: RootKey,
    pub kms: LocalKms,
}

impl Env {
    pub fn new() -> Self {
        Self::with(|_| {})
    }

    pub fn with(adjust: impl FnOnce(&mut LocalKmsConfig)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(TestClock::at_secs(T0));
        let root = RootKey::generate().unwrap();
        let mut config = LocalKmsConfig::new(dir.path().join("keys.osks"), root.clone());
        config.clock = clock.clone();
        adjust(&mut config);
        let kms = LocalKms::open(config).unwrap();
        Self {
            dir,
            clock,
            root,
            kms,
        }
    }

    pub fn with_cache(limits: CacheLimits) -> Self {
        Self::with(|c| c.cache = Some(limits))
    }

    pub fn with_audit() -> Self {
        Self::with(|c| {
            c.audit = Some(Arc::new(
                AuditLog::open(c.store_path.with_file_name("audit.jsonl")).unwrap(),
            ))
        })
    }

    pub fn store_path(&self) -> PathBuf {
        self.dir.path().join("keys.osks")
    }

    pub fn audit_path(&self) -> PathBuf {
        self.dir.path().join("audit.jsonl")
    }

    /// Another handle on the same store (as another process would open it), same clock.
    pub fn reopen(&self) -> LocalKms {
        self.reopen_with(|_| {})
    }

    pub fn reopen_with(&self, adjust: impl FnOnce(&mut LocalKmsConfig)) -> LocalKms {
        let mut config = LocalKmsConfig::new(self.store_path(), self.root.clone());
        config.clock = self.clock.clone();
        adjust(&mut config);
        LocalKms::open(config).unwrap()
    }

    pub fn key(&self) -> String {
        create_key(&self.kms)
    }
}

pub fn create_key(kms: &LocalKms) -> String {
    block_on(kms.create_key(CreateKeyRequest::default()))
        .unwrap()
        .key_id
}

pub fn ctx(pairs: &[(&str, &str)]) -> EncryptionContext {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// "ok" or the AWS error name.
pub fn outcome<T>(r: Result<T, KmsError>) -> String {
    match r {
        Ok(_) => "ok".into(),
        Err(e) => e.aws_type().to_owned(),
    }
}

pub fn b<F: std::future::Future>(f: F) -> F::Output {
    block_on(f)
}

/// Standard base64 with padding.
pub fn base64(bytes: &[u8]) -> String {
    base64_with(
        bytes,
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
        true,
    )
}

/// URL-safe base64 without padding.
pub fn base64url(bytes: &[u8]) -> String {
    base64_with(
        bytes,
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
        false,
    )
}

fn base64_with(bytes: &[u8], alphabet: &[u8; 64], pad: bool) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..4 {
            if i < chars {
                out.push(char::from(alphabet[((n >> (18 - 6 * i)) & 63) as usize]));
            } else if pad {
                out.push('=');
            }
        }
    }
    out
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
