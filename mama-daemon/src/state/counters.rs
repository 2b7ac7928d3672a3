//! The counters behind `/metrics`: requests by route and status, latency histograms, RPC calls,
//! login failures and event write failures. A handful of counters needs no metrics framework:
//! this is a mutex-guarded map rendered in the text exposition format. It knows nothing of axum
//! or of the handlers, so the state can hold it while the handlers (`crate::metrics`, the RPC
//! dispatcher) fill and render it.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use mama_core::ops::audit::WriterStats;

/// Latency bucket bounds in seconds.
const BUCKETS: [f64; 11] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    total: u64,
}

#[derive(Default)]
pub struct Metrics {
    /// (listener, method, route, status) → count
    requests: Mutex<BTreeMap<(String, String, String, u16), u64>>,
    /// (listener, route) → latency
    latency: Mutex<BTreeMap<(String, String), Histogram>>,
    /// RPC calls by method and result code.
    rpc_calls: Mutex<BTreeMap<(String, String), u64>>,
    pub login_failures: AtomicU64,
    pub event_write_failures: AtomicU64,
}

pub type SharedMetrics = Arc<Metrics>;

impl Metrics {
    /// Counts one request of `route` (a route template, never a raw path) and its latency.
    pub fn observe(&self, listener: &str, method: &str, route: &str, status: u16, seconds: f64) {
        if let Ok(mut map) = self.requests.lock() {
            *map.entry((listener.into(), method.into(), route.into(), status))
                .or_default() += 1;
        }
        if let Ok(mut map) = self.latency.lock() {
            let h = map.entry((listener.into(), route.into())).or_default();
            for (i, bound) in BUCKETS.iter().enumerate() {
                if seconds <= *bound {
                    h.counts[i] += 1;
                }
            }
            h.sum += seconds;
            h.total += 1;
        }
    }

    /// Counts one RPC call by method (known methods only) and outcome code (`ok` or the error).
    pub fn rpc_call(&self, method: &str, outcome: &str) {
        if let Ok(mut map) = self.rpc_calls.lock() {
            *map.entry((method.into(), outcome.into())).or_default() += 1;
        }
    }

    /// The text exposition of every counter, the audit writer's and the given gauges.
    pub fn render(&self, audit: &WriterStats, gauges: &[(&str, &str, u64)]) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP mama_http_requests_total HTTP requests by listener, method, route and status."
        );
        let _ = writeln!(out, "# TYPE mama_http_requests_total counter");
        if let Ok(map) = self.requests.lock() {
            for ((listener, method, route, status), n) in map.iter() {
                let _ = writeln!(out, "mama_http_requests_total{{listener=\"{listener}\",method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {n}");
            }
        }
        let _ = writeln!(
            out,
            "# HELP mama_http_request_duration_seconds HTTP request latency."
        );
        let _ = writeln!(out, "# TYPE mama_http_request_duration_seconds histogram");
        if let Ok(map) = self.latency.lock() {
            for ((listener, route), h) in map.iter() {
                let labels = format!("listener=\"{listener}\",route=\"{route}\"");
                for (i, bound) in BUCKETS.iter().enumerate() {
                    let _ = writeln!(
                        out,
                        "mama_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {}",
                        h.counts[i]
                    );
                }
                let _ = writeln!(
                    out,
                    "mama_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                    h.total
                );
                let _ = writeln!(
                    out,
                    "mama_http_request_duration_seconds_sum{{{labels}}} {}",
                    h.sum
                );
                let _ = writeln!(
                    out,
                    "mama_http_request_duration_seconds_count{{{labels}}} {}",
                    h.total
                );
            }
        }
        let _ = writeln!(out, "# HELP mama_rpc_calls_total Admin RPC calls by method and outcome (ok or the error code).");
        let _ = writeln!(out, "# TYPE mama_rpc_calls_total counter");
        if let Ok(map) = self.rpc_calls.lock() {
            for ((method, outcome), n) in map.iter() {
                let _ = writeln!(
                    out,
                    "mama_rpc_calls_total{{method=\"{method}\",outcome=\"{outcome}\"}} {n}"
                );
            }
        }
        let counters = [
            (
                "mama_login_failures_total",
                "Failed admin logins.",
                self.login_failures.load(Ordering::Relaxed),
            ),
            (
                "mama_event_write_failures_total",
                "Requests refused because their event could not be stored.",
                self.event_write_failures.load(Ordering::Relaxed),
            ),
            (
                "mama_audit_events_total",
                "Events stored by the group-commit writer (reads, rejected requests, logins).",
                audit.events.load(Ordering::Relaxed),
            ),
            (
                "mama_audit_commits_total",
                "Transactions the group-commit writer committed (events per commit shows how many requests shared one).",
                audit.commits.load(Ordering::Relaxed),
            ),
        ];
        for (name, help, value) in counters {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
            );
        }
        for (name, help, value) in gauges {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
            );
        }
        out
    }
}
