//! Prometheus metrics: requests by operation and outcome, bytes sealed and opened, KMS calls and
//! their latencies. Rendered in the text exposition format by [`Metrics::render`].
//!
//! ```
//! use objseal_server::metrics::Metrics;
//! let m = Metrics::default();
//! m.request("PutObject", "200");
//! m.sealed(65536);
//! assert!(m.render().contains("objseal_requests_total{operation=\"PutObject\",status=\"200\"} 1"));
//! ```

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds (seconds) of the KMS latency histogram's buckets.
const LATENCY_BUCKETS: [f64; 10] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2.5,
];

#[derive(Default)]
struct Histogram {
    buckets: [u64; LATENCY_BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// The server's counters; cheap to update from any task.
#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, String), u64>>,
    kms: Mutex<BTreeMap<(String, &'static str), Histogram>>,
    sealed_bytes: AtomicU64,
    opened_bytes: AtomicU64,
}

impl Metrics {
    /// Counts one finished S3 request: `operation` is the S3 name, `status` the HTTP status.
    pub fn request(&self, operation: &str, status: &str) {
        let mut map = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        *map.entry((operation.to_owned(), status.to_owned()))
            .or_default() += 1;
    }

    /// Counts plaintext bytes sealed.
    pub fn sealed(&self, bytes: u64) {
        self.sealed_bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Counts plaintext bytes released after their tags verified.
    pub fn opened(&self, bytes: u64) {
        self.opened_bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Records one KMS call: its operation, how long it took and whether it succeeded.
    pub fn kms_call(&self, operation: &str, elapsed: Duration, ok: bool) {
        let mut map = self.kms.lock().unwrap_or_else(|p| p.into_inner());
        let h = map
            .entry((operation.to_owned(), if ok { "ok" } else { "error" }))
            .or_default();
        let secs = elapsed.as_secs_f64();
        for (bucket, bound) in h.buckets.iter_mut().zip(LATENCY_BUCKETS) {
            if secs <= bound {
                *bucket += 1;
            }
        }
        h.count += 1;
        h.sum += secs;
    }

    /// The metrics in Prometheus' text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP objseal_requests_total S3 requests by operation and HTTP status.\n");
        out.push_str("# TYPE objseal_requests_total counter\n");
        for ((op, status), n) in self
            .requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            let _ = writeln!(
                out,
                "objseal_requests_total{{operation=\"{op}\",status=\"{status}\"}} {n}"
            );
        }
        for (name, help, value) in [
            (
                "objseal_sealed_bytes_total",
                "Plaintext bytes sealed.",
                &self.sealed_bytes,
            ),
            (
                "objseal_opened_bytes_total",
                "Plaintext bytes opened and verified.",
                &self.opened_bytes,
            ),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            let _ = writeln!(out, "{name} {}", value.load(Ordering::Relaxed));
        }
        out.push_str("# HELP objseal_kms_call_seconds KMS calls by operation and outcome.\n");
        out.push_str("# TYPE objseal_kms_call_seconds histogram\n");
        for ((op, outcome), h) in self.kms.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            let labels = format!("operation=\"{op}\",outcome=\"{outcome}\"");
            for (bound, n) in LATENCY_BUCKETS.iter().zip(h.buckets) {
                let _ = writeln!(
                    out,
                    "objseal_kms_call_seconds_bucket{{{labels},le=\"{bound}\"}} {n}"
                );
            }
            let _ = writeln!(
                out,
                "objseal_kms_call_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(out, "objseal_kms_call_seconds_sum{{{labels}}} {}", h.sum);
            let _ = writeln!(
                out,
                "objseal_kms_call_seconds_count{{{labels}}} {}",
                h.count
            );
        }
        out
    }
}
