//! Self-telemetry: spans received, refused, exported, retried and dropped,
//! per component, rendered as JSON (health endpoint) and Prometheus text
//! (`/metrics`).
//!
//! The Prometheus text format is written by hand: it is a few lines of
//! `name{label="v"} value`, and the `prometheus` crate would add a registry,
//! protobuf support and ~1 MB to a binary whose size is a product feature.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde_json::{Map, Value, json};

use crate::processor::MemoryLimiter;

/// Live counters of one component (`receiver/otlp`, `exporter/otlphttp/xray`, ...).
#[derive(Debug, Default)]
pub struct Counters {
    /// Spans taken in (receivers) or handed to the component (exporters).
    pub received: AtomicU64,
    /// Spans refused with backpressure (the sender keeps them and retries: 503 / RESOURCE_EXHAUSTED).
    pub refused: AtomicU64,
    /// OTLP requests refused the same way before their body was read and
    /// decoded, so their spans (unknown) are not in `refused` (receivers).
    pub refused_requests: AtomicU64,
    /// Spans the destination accepted (exporters).
    pub exported: AtomicU64,
    /// Retried export attempts (exporters).
    pub retried: AtomicU64,
    /// Spans lost: UDP datagrams under backpressure, undecodable datagrams, exports given up.
    pub dropped: AtomicU64,
    /// Export attempts that failed for good (exporters).
    pub failed_exports: AtomicU64,
}

/// A copy of [`Counters`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CountersSnapshot {
    /// See [`Counters::received`].
    pub received: u64,
    /// See [`Counters::refused`].
    pub refused: u64,
    /// See [`Counters::refused_requests`].
    pub refused_requests: u64,
    /// See [`Counters::exported`].
    pub exported: u64,
    /// See [`Counters::retried`].
    pub retried: u64,
    /// See [`Counters::dropped`].
    pub dropped: u64,
    /// See [`Counters::failed_exports`].
    pub failed_exports: u64,
}

impl Counters {
    /// Adds `n` to `counter`.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// A copy of the counters.
    pub fn snapshot(&self) -> CountersSnapshot {
        let l = |c: &AtomicU64| c.load(Ordering::Relaxed);
        CountersSnapshot {
            received: l(&self.received),
            refused: l(&self.refused),
            refused_requests: l(&self.refused_requests),
            exported: l(&self.exported),
            retried: l(&self.retried),
            dropped: l(&self.dropped),
            failed_exports: l(&self.failed_exports),
        }
    }
}

/// All components' counters and the process start time.
#[derive(Debug)]
pub struct Telemetry {
    started: Instant,
    components: Mutex<Vec<(String, Arc<Counters>)>>,
    limiters: Mutex<Vec<(String, Arc<MemoryLimiter>)>>,
}

impl Default for Telemetry {
    fn default() -> Self {
        Self {
            started: Instant::now(),
            components: Mutex::new(Vec::new()),
            limiters: Mutex::new(Vec::new()),
        }
    }
}

impl Telemetry {
    /// Fresh, empty telemetry.
    pub fn new() -> Self {
        Self::default()
    }

    /// The counters of `kind/id` (`receiver`, `otlp`), created on first use.
    pub fn component(&self, kind: &str, id: &str) -> Arc<Counters> {
        let name = format!("{kind}/{id}");
        let mut all = self.components.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, c)) = all.iter().find(|(n, _)| *n == name) {
            return Arc::clone(c);
        }
        let c = Arc::new(Counters::default());
        all.push((name, Arc::clone(&c)));
        c
    }

    /// Registers the memory limiter of pipeline `name` (health reports on it).
    pub fn register_limiter(&self, name: &str, limiter: Arc<MemoryLimiter>) {
        let mut all = self.limiters.lock().unwrap_or_else(|p| p.into_inner());
        all.push((name.to_owned(), limiter));
    }

    /// The pipeline whose memory limiter has been refusing data the
    /// longest, and for how long (`None` when none is refusing).
    pub fn longest_refusal(&self) -> Option<(String, std::time::Duration)> {
        let all = self.limiters.lock().unwrap_or_else(|p| p.into_inner());
        all.iter()
            .filter_map(|(n, l)| l.refusing_for().map(|d| (n.clone(), d)))
            .max_by_key(|(_, d)| *d)
    }

    /// Spans accepted and not yet through every exporter, all pipelines.
    pub fn held_spans(&self) -> u64 {
        let all = self.limiters.lock().unwrap_or_else(|p| p.into_inner());
        all.iter().map(|(_, l)| l.held_spans()).sum()
    }

    /// Accounted bytes held per pipeline.
    pub fn held_bytes(&self) -> Vec<(String, u64)> {
        let all = self.limiters.lock().unwrap_or_else(|p| p.into_inner());
        all.iter()
            .map(|(n, l)| (n.clone(), l.held_bytes()))
            .collect()
    }

    /// Every component's counters, in registration order.
    pub fn snapshot(&self) -> Vec<(String, CountersSnapshot)> {
        let all = self.components.lock().unwrap_or_else(|p| p.into_inner());
        all.iter().map(|(n, c)| (n.clone(), c.snapshot())).collect()
    }

    /// The counters of `name` (`receiver/otlp`), if registered.
    pub fn get(&self, name: &str) -> Option<CountersSnapshot> {
        self.snapshot()
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, s)| s)
    }

    /// The health document: status, uptime and counters per component.
    pub fn to_json(&self, status: &str) -> Value {
        let mut components = Map::new();
        for (name, s) in self.snapshot() {
            components.insert(
                name,
                json!({
                    "received": s.received,
                    "refused": s.refused,
                    "refused_requests": s.refused_requests,
                    "exported": s.exported,
                    "retried": s.retried,
                    "dropped": s.dropped,
                    "failed_exports": s.failed_exports,
                }),
            );
        }
        let held: Map<String, Value> = self
            .held_bytes()
            .into_iter()
            .map(|(n, b)| (n, json!(b)))
            .collect();
        json!({
            "status": status,
            "uptime_seconds": self.started.elapsed().as_secs_f64(),
            "components": components,
            "memory_held_bytes": held,
        })
    }

    /// Prometheus text exposition (version 0.0.4).
    pub fn to_prometheus(&self) -> String {
        let snap = self.snapshot();
        let mut out = String::new();
        let series: [Series; 7] = [
            (
                "otel_aws_sidecar_spans_received_total",
                "Spans taken in by the component.",
                |s| s.received,
            ),
            (
                "otel_aws_sidecar_spans_refused_total",
                "Spans refused with backpressure (sender retries).",
                |s| s.refused,
            ),
            (
                "otel_aws_sidecar_requests_refused_total",
                "Requests refused with backpressure before their body was decoded (spans unknown).",
                |s| s.refused_requests,
            ),
            (
                "otel_aws_sidecar_spans_exported_total",
                "Spans the destination accepted.",
                |s| s.exported,
            ),
            (
                "otel_aws_sidecar_export_retries_total",
                "Retried export attempts.",
                |s| s.retried,
            ),
            (
                "otel_aws_sidecar_spans_dropped_total",
                "Spans lost (UDP backpressure, undecodable, export given up).",
                |s| s.dropped,
            ),
            (
                "otel_aws_sidecar_failed_exports_total",
                "Exports that failed for good.",
                |s| s.failed_exports,
            ),
        ];
        for (metric, help, get) in series {
            let _ = writeln!(out, "# HELP {metric} {help}");
            let _ = writeln!(out, "# TYPE {metric} counter");
            for (name, s) in &snap {
                let _ = writeln!(out, "{metric}{{component=\"{}\"}} {}", escape(name), get(s));
            }
        }
        let _ = writeln!(
            out,
            "# HELP otel_aws_sidecar_memory_held_bytes Bytes accounted by the pipeline's memory limiter."
        );
        let _ = writeln!(out, "# TYPE otel_aws_sidecar_memory_held_bytes gauge");
        for (name, bytes) in self.held_bytes() {
            let _ = writeln!(
                out,
                "otel_aws_sidecar_memory_held_bytes{{pipeline=\"{}\"}} {bytes}",
                escape(&name)
            );
        }
        let _ = writeln!(
            out,
            "# HELP otel_aws_sidecar_uptime_seconds Seconds since start."
        );
        let _ = writeln!(out, "# TYPE otel_aws_sidecar_uptime_seconds gauge");
        let _ = writeln!(
            out,
            "otel_aws_sidecar_uptime_seconds {}",
            self.started.elapsed().as_secs_f64()
        );
        out
    }
}

/// (metric name, help text, which counter).
type Series = (&'static str, &'static str, fn(&CountersSnapshot) -> u64);

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_and_prometheus_carry_the_counters() {
        let t = Telemetry::new();
        let r = t.component("receiver", "otlp");
        Counters::add(&r.received, 7);
        Counters::add(&r.refused, 2);
        let e = t.component("exporter", "otlphttp/xray");
        Counters::add(&e.exported, 5);
        assert!(Arc::ptr_eq(&r, &t.component("receiver", "otlp")));
        let j = t.to_json("ok");
        assert_eq!(j["components"]["receiver/otlp"]["received"], 7);
        assert_eq!(j["components"]["receiver/otlp"]["refused"], 2);
        assert_eq!(j["components"]["exporter/otlphttp/xray"]["exported"], 5);
        let p = t.to_prometheus();
        assert!(
            p.contains("otel_aws_sidecar_spans_received_total{component=\"receiver/otlp\"} 7\n"),
            "{p}"
        );
        assert!(
            p.contains(
                "otel_aws_sidecar_spans_exported_total{component=\"exporter/otlphttp/xray\"} 5\n"
            ),
            "{p}"
        );
        assert!(
            p.contains("# TYPE otel_aws_sidecar_spans_dropped_total counter\n"),
            "{p}"
        );
    }
}
