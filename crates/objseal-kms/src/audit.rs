//! The append-only audit log: one JSON object per line for every operation, refusals included.
//!
//! An event names who asked, what, for which key and version, under which encryption context, and how
//! it ended (`"ok"` or the AWS error name). It never holds key material, plaintext or ciphertext
//! blobs: [`AuditEvent`] has no field that could carry them.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::EncryptionContext;

/// One audited operation.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// Seconds since the Unix epoch.
    pub time: u64,
    /// Who asked: a principal's ARN (`arn:aws:iam::<account>:user/<name>`), `local` for the
    /// keystore's operator (the CLI), `kms` for the keystore's own changes, or `anonymous` for
    /// requests that failed authentication.
    pub principal: String,
    /// The AWS operation name (`GenerateDataKey`, …), or what the request claimed to be.
    pub operation: String,
    /// The key's id or ARN, when the request named or resolved one.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub key_id: Option<String>,
    /// The key version used, when a cryptographic operation ran.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub key_version: Option<u32>,
    /// The encryption context (not secret: AWS logs it too).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub context: Option<EncryptionContext>,
    /// `"ok"`, or the AWS error name of the refusal.
    pub result: String,
    /// A human-readable detail of a refusal (never secret).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub message: Option<String>,
    /// Where the request came from (a socket address), for requests over the network.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub source: Option<String>,
    /// The request id returned to the caller.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub request_id: Option<String>,
    /// For a request a service made on the principal's behalf: the service (`kms:ViaService`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub via_service: Option<String>,
    /// For such a request: the principal of the service that made it (the S3 server's).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub invoked_by: Option<String>,
}

/// An append-only JSON-lines audit log file.
///
/// ```
/// use objseal_kms::audit::{AuditEvent, AuditLog};
/// let dir = tempfile::tempdir().unwrap();
/// let log = AuditLog::open(dir.path().join("audit.jsonl")).unwrap();
/// log.record(&AuditEvent { principal: "local".into(), operation: "CreateKey".into(), result: "ok".into(), ..Default::default() }).unwrap();
/// let events = AuditLog::read(log.path()).unwrap();
/// assert_eq!(events[0].operation, "CreateKey");
/// ```
#[derive(Debug)]
pub struct AuditLog {
    path: PathBuf,
    file: Mutex<File>,
}

impl AuditLog {
    /// Opens (creating, mode 0600) the log at `path` for appending.
    pub fn open(path: impl Into<PathBuf>) -> io::Result<Self> {
        let path = path.into();
        let mut options = OpenOptions::new();
        options.create(true).append(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let file = options.open(&path)?;
        Ok(Self {
            path,
            file: Mutex::new(file),
        })
    }

    /// The log's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one event as one line, in a single write so concurrent writers never interleave.
    pub fn record(&self, event: &AuditEvent) -> io::Result<()> {
        self.record_json(event)
    }

    /// Appends any serializable record as one JSON line (for logs of other shapes, such as the S3
    /// server's access decisions), in a single write.
    pub fn record_json<T: Serialize + ?Sized>(&self, record: &T) -> io::Result<()> {
        let mut line = serde_json::to_vec(record).map_err(io::Error::other)?;
        line.push(b'\n');
        let mut file = self
            .file
            .lock()
            .map_err(|_| io::Error::other("audit log lock poisoned"))?;
        file.write_all(&line)?;
        file.flush()
    }

    /// Reads every event of a log file, oldest first.
    pub fn read(path: impl AsRef<Path>) -> io::Result<Vec<AuditEvent>> {
        let text = std::fs::read_to_string(path)?;
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).map_err(io::Error::other))
            .collect()
    }
}
