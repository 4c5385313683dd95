//! The server's custom routes (s3s takes one route; `ServerRoutes` is all of them):
//!
//! * its own endpoints under `/_objseal/`, answered without authentication:
//!   `GET /_objseal/health` → `200 ok` while the server runs — in gateway mode, while its backend
//!   answers too, else `503` with the reason as text (`BackendHealth`) — and
//!   `GET /_objseal/metrics` → the Prometheus text exposition of [`Metrics`];
//! * `PUT` / `GET /{bucket}?encryption`, for the part of the bucket encryption configuration
//!   s3s does not know (`BlockedEncryptionTypes`; see `routes/encryption.rs`).
//!
//! S3 bucket names cannot start with `_`, so the prefix never hides a bucket. s3s validates the
//! bucket part of every path before custom routes see it, so the server's name validation lets
//! exactly `_objseal` through besides the names AWS allows, and its custom route takes every
//! request under it (anything else there is `404` or `405`): no S3 operation sees the name.

pub(crate) mod encryption;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hyper::http::{Extensions, HeaderValue};
use hyper::{HeaderMap, Method, StatusCode, Uri};
use s3s::route::S3Route;
use s3s::validation::{AwsNameValidation, NameValidation};
use s3s::{Body, S3Request, S3Response, S3Result, s3_error};

use crate::metrics::Metrics;
use crate::store::RemoteStore;

/// The first path segment of the server's own endpoints.
pub const ADMIN_PREFIX: &str = "_objseal";
/// The health check's path.
pub const HEALTH_PATH: &str = "/_objseal/health";
/// The metrics' path.
pub const METRICS_PATH: &str = "/_objseal/metrics";

const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// AWS's bucket-name rules, plus the reserved name [`ADMIN_PREFIX`].
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct ReservedNames;

impl NameValidation for ReservedNames {
    fn validate_bucket_name(&self, name: &str) -> bool {
        name == ADMIN_PREFIX || AwsNameValidation::new().validate_bucket_name(name)
    }
}

/// How long the backend may take to answer a health probe.
pub const BACKEND_PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a probe's result answers health checks: load balancers checking every gateway
/// often cost the backend at most one request per gateway per this interval.
pub const BACKEND_PROBE_INTERVAL: Duration = Duration::from_secs(2);

/// A gateway's view of its backend's health: a probe ([`RemoteStore::probe`]), made when a
/// health check comes and the last result is older than [`BACKEND_PROBE_INTERVAL`]; checks that
/// come while a probe runs wait for its result.
pub(crate) struct BackendHealth {
    store: RemoteStore,
    last: Mutex<Option<(Instant, Result<(), String>)>>,
    probing: tokio::sync::Mutex<()>,
}

impl BackendHealth {
    pub(crate) fn new(store: RemoteStore) -> Self {
        Self {
            store,
            last: Mutex::new(None),
            probing: tokio::sync::Mutex::new(()),
        }
    }

    fn recent(&self) -> Option<Result<(), String>> {
        let last = self
            .last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        last.as_ref()
            .filter(|(at, _)| at.elapsed() < BACKEND_PROBE_INTERVAL)
            .map(|(_, result)| result.clone())
    }

    /// `Ok` while the backend answers; the reason otherwise.
    pub(crate) async fn check(&self) -> Result<(), String> {
        if let Some(result) = self.recent() {
            return result;
        }
        let _probing = self.probing.lock().await;
        if let Some(result) = self.recent() {
            return result;
        }
        let result = self.store.probe(BACKEND_PROBE_TIMEOUT).await;
        if let Err(reason) = &result {
            tracing::warn!(
                backend = self.store.endpoint(),
                reason,
                "health check: the backend is unavailable"
            );
        }
        *self
            .last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) =
            Some((Instant::now(), result.clone()));
        result
    }
}

/// Answers `/_objseal/…` and `?encryption` (see the [module documentation](self)).
pub(crate) struct ServerRoutes {
    pub metrics: Arc<Metrics>,
    /// In gateway mode: the backend, whose health the health check reports.
    pub backend_health: Option<Arc<BackendHealth>>,
}

fn is_admin_path(path: &str) -> bool {
    path.strip_prefix('/')
        .and_then(|p| p.strip_prefix(ADMIN_PREFIX))
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

fn text(status: StatusCode, body: String, content_type: &'static str) -> S3Response<Body> {
    let mut response = S3Response::with_status(Body::from(body), status);
    response.headers.insert(
        hyper::header::CONTENT_TYPE,
        HeaderValue::from_static(content_type),
    );
    response.headers.insert(
        hyper::header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    );
    response
}

#[async_trait::async_trait]
impl S3Route for ServerRoutes {
    fn is_match(&self, method: &Method, uri: &Uri, _: &HeaderMap, ext: &mut Extensions) -> bool {
        is_admin_path(uri.path()) || encryption::matches(method, uri, ext)
    }

    /// The admin endpoints are open to everyone: load balancers and Prometheus do not sign
    /// requests. `?encryption` needs a signature; what it may do, the access gate decides when
    /// the route sends the request on.
    async fn check_access(&self, req: &mut S3Request<Body>) -> S3Result<()> {
        if is_admin_path(req.uri.path()) || req.credentials.is_some() {
            Ok(())
        } else {
            Err(s3_error!(AccessDenied, "Signature is required"))
        }
    }

    async fn call(&self, req: S3Request<Body>) -> S3Result<S3Response<Body>> {
        if !is_admin_path(req.uri.path()) {
            return encryption::call(req).await;
        }
        let path = req.uri.path();
        if path != HEALTH_PATH && path != METRICS_PATH {
            return Err(s3_error!(NoSuchKey, "no such objseal endpoint"));
        }
        if req.method != Method::GET && req.method != Method::HEAD {
            return Err(s3_error!(MethodNotAllowed, "only GET and HEAD"));
        }
        Ok(if path == HEALTH_PATH {
            let backend = match &self.backend_health {
                Some(health) => health.check().await,
                None => Ok(()),
            };
            match backend {
                Ok(()) => text(StatusCode::OK, "ok\n".into(), "text/plain; charset=utf-8"),
                Err(reason) => text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("backend unavailable: {reason}\n"),
                    "text/plain; charset=utf-8",
                ),
            }
        } else {
            text(StatusCode::OK, self.metrics.render(), PROMETHEUS_TEXT)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_reserved_prefix_is_admin() {
        for p in [
            "/_objseal",
            "/_objseal/",
            "/_objseal/health",
            "/_objseal/x/y",
        ] {
            assert!(is_admin_path(p), "{p}");
        }
        for p in [
            "/",
            "/_objsealx",
            "/bucket/_objseal/health",
            "/_objseal-x/health",
        ] {
            assert!(!is_admin_path(p), "{p}");
        }
        assert!(ReservedNames.validate_bucket_name("_objseal"));
        assert!(ReservedNames.validate_bucket_name("photos"));
        assert!(!ReservedNames.validate_bucket_name("_other"));
    }
}
