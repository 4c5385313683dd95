//! The shared key-lifecycle scenario (`common::scenario`) against the embedded `LocalKms`, directly.

mod common;

use std::sync::Arc;

use common::scenario::{self, Expect};
use objseal_kms::audit::AuditLog;
use objseal_kms::keystore::{LocalKms, LocalKmsConfig, RootKey};

#[tokio::test]
async fn lifecycle_against_local_kms() {
    let dir = tempfile::tempdir().unwrap();
    let audit = Arc::new(AuditLog::open(dir.path().join("audit.jsonl")).unwrap());
    let mut config =
        LocalKmsConfig::new(dir.path().join("keys.osks"), RootKey::generate().unwrap());
    config.audit = Some(Arc::clone(&audit));
    let kms = LocalKms::open(config).unwrap();
    scenario::lifecycle(&kms, Expect::LOCAL).await;

    // Every step was audited, refusals included, and no event holds key material.
    let events = AuditLog::read(audit.path()).unwrap();
    for op in [
        "CreateKey",
        "GenerateDataKey",
        "Decrypt",
        "RotateKeyOnDemand",
        "DisableKey",
        "ScheduleKeyDeletion",
        "CancelKeyDeletion",
    ] {
        assert!(events.iter().any(|e| e.operation == op), "no {op} event");
    }
    assert!(events.iter().any(|e| e.result == "DisabledException"));
    assert!(
        events
            .iter()
            .any(|e| e.result == "InvalidCiphertextException")
    );
}
