//! TLS: a rustls server configuration (the `ring` provider; TLS 1.2 and 1.3) from PEM files.

use std::sync::Arc;

use rustls::ServerConfig as RustlsConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

use super::ServerError;
use super::config::TlsFiles;

/// Loads the certificate chain and key of `files` into an acceptor offering HTTP/1.1 (ALPN).
pub(crate) fn acceptor(files: &TlsFiles) -> Result<TlsAcceptor, ServerError> {
    let certs = CertificateDer::pem_file_iter(&files.cert_chain)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| {
            ServerError::Tls(format!(
                "reading the certificate chain {}: {e}",
                files.cert_chain.display()
            ))
        })?;
    if certs.is_empty() {
        return Err(ServerError::Tls(format!(
            "{} holds no PEM certificate",
            files.cert_chain.display()
        )));
    }
    // The error names the file and the PEM problem, never key bytes.
    let key = PrivateKeyDer::from_pem_file(&files.private_key).map_err(|e| {
        ServerError::Tls(format!(
            "reading the private key {}: {e}",
            files.private_key.display()
        ))
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = RustlsConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ServerError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| {
            ServerError::Tls(format!(
                "{} and {} do not make a usable certificate and key: {e}",
                files.cert_chain.display(),
                files.private_key.display()
            ))
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}
