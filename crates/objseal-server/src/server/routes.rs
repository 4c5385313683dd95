//! The server's custom routes (s3s takes one route; `ServerRoutes` is all of them):
//!
//! * its own endpoints under `/_objseal/`, answered without authentication:
//!   `GET /_objseal/health` → `200 ok` while the server runs, and `GET /_objseal/metrics` → the
//!   Prometheus text exposition of [`Metrics`];
//! * `PUT` / `GET /{bucket}?encryption`, for the part of the bucket encryption configuration
//!   s3s does not know (`BlockedEncryptionTypes`; see `routes/encryption.rs`).
//!
//! S3 bucket names cannot start with `_`, so the prefix never hides a bucket. s3s validates the
//! bucket part of every path before custom routes see it, so the server's name validation lets
//! exactly `_objseal` through besides the names AWS allows, and its custom route takes every
//! request under it (anything else there is `404` or `405`): no S3 operation sees the name.

pub(crate) mod encryption;

use std::sync::Arc;

use hyper::http::{Extensions, HeaderValue};
use hyper::{HeaderMap, Method, StatusCode, Uri};
use s3s::route::S3Route;
use s3s::validation::{AwsNameValidation, NameValidation};
use s3s::{Body, S3Request, S3Response, S3Result, s3_error};

use crate::metrics::Metrics;

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

/// Answers `/_objseal/…` and `?encryption` (see the [module documentation](self)).
pub(crate) struct ServerRoutes {
    pub metrics: Arc<Metrics>,
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
            text(StatusCode::OK, "ok\n".into(), "text/plain; charset=utf-8")
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
