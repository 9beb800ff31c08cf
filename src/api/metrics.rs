//! The counters behind `GET /metrics` (served in `health`), as Prometheus text: requests by
//! route, method and status, a latency histogram per route, and the database pool's gauges.
//! Small enough to keep by hand.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

use crate::store::StoreStats;

/// Histogram bucket upper bounds, seconds.
const BUCKETS: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

#[derive(Debug, Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Debug, Default)]
struct Counters {
    requests: BTreeMap<(&'static str, &'static str, u16), u64>,
    latency: BTreeMap<&'static str, Histogram>,
}

/// The request counters and histograms of one process.
#[derive(Debug, Default)]
pub struct Metrics {
    counters: Mutex<Counters>,
}

impl Metrics {
    /// Counts one request.
    pub fn record(&self, route: &'static str, method: &str, status: u16, latency: Duration) {
        let mut counters = self.counters.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *counters.requests.entry((route, method_label(method), status)).or_default() += 1;
        let histogram = counters.latency.entry(route).or_default();
        let seconds = latency.as_secs_f64();
        for (count, bound) in histogram.counts.iter_mut().zip(BUCKETS) {
            if seconds <= bound {
                *count += 1;
            }
        }
        histogram.count += 1;
        histogram.sum += seconds;
    }

    /// The Prometheus text exposition, with the store's gauges and counters.
    pub fn render(&self, store: StoreStats) -> String {
        let counters = self.counters.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut out = String::new();
        out.push_str("# HELP orders_http_requests_total HTTP requests by route, method and status.\n");
        out.push_str("# TYPE orders_http_requests_total counter\n");
        for ((route, method, status), count) in &counters.requests {
            let _ = writeln!(
                out,
                "orders_http_requests_total{{route=\"{route}\",method=\"{method}\",status=\"{status}\"}} {count}"
            );
        }
        out.push_str("# HELP orders_http_request_duration_seconds HTTP request latency by route.\n");
        out.push_str("# TYPE orders_http_request_duration_seconds histogram\n");
        for (route, h) in &counters.latency {
            for (count, bound) in h.counts.iter().zip(BUCKETS) {
                let _ = writeln!(
                    out,
                    "orders_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {count}"
                );
            }
            let _ = writeln!(
                out,
                "orders_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(out, "orders_http_request_duration_seconds_sum{{route=\"{route}\"}} {}", h.sum);
            let _ = writeln!(out, "orders_http_request_duration_seconds_count{{route=\"{route}\"}} {}", h.count);
        }
        let StoreStats { open, idle, lookups, lookup_statements } = store;
        for (name, kind, help, value) in [
            ("orders_db_pool_connections", "gauge", "Open database connections.", open as u64),
            ("orders_db_pool_idle_connections", "gauge", "Idle database connections.", idle as u64),
            ("orders_db_order_lookups_total", "counter", "Orders looked up by id.", lookups),
            (
                "orders_db_order_lookup_statements_total",
                "counter",
                "Statements that answered them (concurrent lookups share one).",
                lookup_statements,
            ),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}");
        }
        out
    }
}

/// The method's label: HTTP's own methods by name, any other as `OTHER`, so that clients
/// sending made-up methods cannot grow the counters without bound.
fn method_label(method: &str) -> &'static str {
    match method {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "OPTIONS" => "OPTIONS",
        "CONNECT" => "CONNECT",
        "TRACE" => "TRACE",
        _ => "OTHER",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_up_methods_are_counted_together_as_other() {
        let metrics = Metrics::default();
        for method in ["GET", "BREW", "WHEN", "GET"] {
            metrics.record("/orders", method, 405, Duration::from_millis(1));
        }
        let text = metrics.render(StoreStats { open: 1, idle: 1, lookups: 0, lookup_statements: 0 });
        assert!(
            text.contains("orders_http_requests_total{route=\"/orders\",method=\"GET\",status=\"405\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("orders_http_requests_total{route=\"/orders\",method=\"OTHER\",status=\"405\"} 2"),
            "{text}"
        );
        assert!(!text.contains("BREW"), "{text}");
    }
}
