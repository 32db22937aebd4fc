//! Request and upload counters, exposed in the Prometheus text format at `/metrics`.
//!
//! Per-process counters: with several replicas, Prometheus scrapes each and sums.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the latency histogram, in seconds.
const BUCKETS: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Default)]
struct Inner {
    requests: BTreeMap<(String, String, u16), u64>,
    latency: BTreeMap<(String, String), Histogram>,
    uploads: BTreeMap<(String, String), u64>,
}

#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

/// Label values may hold any text; escape as the exposition format requires.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

impl Metrics {
    pub fn record(&self, method: &str, route: &str, status: u16, elapsed: Duration, error: Option<&str>) {
        let mut m = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        *m.requests.entry((method.to_owned(), route.to_owned(), status)).or_default() += 1;
        let h = m.latency.entry((method.to_owned(), route.to_owned())).or_default();
        let secs = elapsed.as_secs_f64();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if secs <= *bound {
                h.counts[i] += 1;
            }
        }
        h.count += 1;
        h.sum += secs;
        if method == "POST" && route == "/v1/packages" {
            let key = match (status, error) {
                (200 | 201, _) => ("accepted".to_owned(), String::new()),
                (_, Some(code)) => ("rejected".to_owned(), code.to_owned()),
                (s, None) => ("rejected".to_owned(), format!("http_{s}")),
            };
            *m.uploads.entry(key).or_default() += 1;
        }
    }

    pub fn render(&self) -> String {
        let m = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = String::new();
        out.push_str("# HELP prequal_http_requests_total HTTP requests by method, route and status.\n");
        out.push_str("# TYPE prequal_http_requests_total counter\n");
        for ((method, route, status), n) in &m.requests {
            let _ = writeln!(
                out,
                "prequal_http_requests_total{{method=\"{}\",route=\"{}\",status=\"{status}\"}} {n}",
                escape(method),
                escape(route)
            );
        }
        out.push_str("# HELP prequal_http_request_duration_seconds Time to answer, by method and route.\n");
        out.push_str("# TYPE prequal_http_request_duration_seconds histogram\n");
        for ((method, route), h) in &m.latency {
            let labels = format!("method=\"{}\",route=\"{}\"", escape(method), escape(route));
            for (i, bound) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "prequal_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {}",
                    h.counts[i]
                );
            }
            let _ = writeln!(out, "prequal_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}", h.count);
            let _ = writeln!(out, "prequal_http_request_duration_seconds_sum{{{labels}}} {}", h.sum);
            let _ = writeln!(out, "prequal_http_request_duration_seconds_count{{{labels}}} {}", h.count);
        }
        out.push_str("# HELP prequal_uploads_total Package uploads by outcome and error code.\n");
        out.push_str("# TYPE prequal_uploads_total counter\n");
        for ((outcome, code), n) in &m.uploads {
            let _ = writeln!(out, "prequal_uploads_total{{outcome=\"{outcome}\",code=\"{}\"}} {n}", escape(code));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_histograms() {
        let m = Metrics::default();
        m.record("GET", "/v1/packages", 200, Duration::from_millis(3), None);
        m.record("POST", "/v1/packages", 422, Duration::from_millis(30), Some("hash_mismatch"));
        m.record("POST", "/v1/packages", 201, Duration::from_millis(30), None);
        let text = m.render();
        assert!(text.contains("prequal_http_requests_total{method=\"GET\",route=\"/v1/packages\",status=\"200\"} 1"));
        assert!(text.contains("le=\"0.005\"} 1"));
        assert!(text.contains("prequal_uploads_total{outcome=\"rejected\",code=\"hash_mismatch\"} 1"));
        assert!(text.contains("prequal_uploads_total{outcome=\"accepted\",code=\"\"} 1"));
    }
}
