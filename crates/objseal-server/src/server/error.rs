//! [`ServerError`]: why a server could not start or stop cleanly.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

use objseal_kms::KmsError;

/// Why [`Server::start`](super::Server::start) failed, or a running server ended badly.
///
/// Messages name the file or address at fault and never hold key material or secrets.
#[derive(Debug)]
#[non_exhaustive]
pub enum ServerError {
    /// The configuration is inconsistent (e.g. a TLS certificate without its key).
    Config(String),
    /// A file or directory of the data directory could not be read or written.
    Io {
        /// What was being done, e.g. "creating the data directory /var/lib/objseal".
        what: String,
        /// The underlying error.
        source: io::Error,
    },
    /// A secret file (root key, credentials) exists but is malformed.
    BadSecretFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it (never its content).
        reason: String,
    },
    /// The root key given in the configuration differs from the one in `<data>/root.key`: the
    /// keystore and the SSE-S3 objects of this data directory were made under the file's key.
    RootKeyMismatch(PathBuf),
    /// The KMS refused or failed (opening the keystore, ensuring the default key).
    Kms {
        /// What was being done.
        what: String,
        /// The KMS's error.
        source: KmsError,
    },
    /// The TLS certificate or key could not be loaded.
    Tls(String),
    /// The listen address could not be bound.
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The underlying error.
        source: io::Error,
    },
    /// The server task panicked or was cancelled.
    Task(String),
}

impl ServerError {
    pub(crate) fn io(what: impl Into<String>, source: io::Error) -> Self {
        Self::Io {
            what: what.into(),
            source,
        }
    }

    pub(crate) fn kms(what: impl Into<String>, source: KmsError) -> Self {
        Self::Kms {
            what: what.into(),
            source,
        }
    }
}

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Config(m) => write!(f, "invalid server configuration: {m}"),
            Self::Io { what, source } => write!(f, "{what}: {source}"),
            Self::BadSecretFile { path, reason } => {
                write!(f, "{}: {reason}", path.display())
            }
            Self::RootKeyMismatch(path) => write!(
                f,
                "the configured root key differs from the one in {}: this data directory's \
                 keystore and SSE-S3 objects were made under that file's key",
                path.display()
            ),
            Self::Kms { what, source } => write!(f, "{what}: {source}"),
            Self::Tls(m) => write!(f, "TLS: {m}"),
            Self::Bind { addr, source } => write!(f, "cannot listen on {addr}: {source}"),
            Self::Task(m) => write!(f, "server task failed: {m}"),
        }
    }
}

impl std::error::Error for ServerError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { source, .. } | Self::Bind { source, .. } => Some(source),
            Self::Kms { source, .. } => Some(source),
            _ => None,
        }
    }
}
