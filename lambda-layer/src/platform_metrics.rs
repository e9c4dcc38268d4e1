//! Platform metrics from the Telemetry API (`OTEL_AWS_LAMBDA_PLATFORM_METRICS=true`):
//! the OpenTelemetry FaaS metrics (semantic conventions, "Metrics for FaaS
//! operations") the function's own SDK cannot measure, aggregated between
//! flushes and exported as delta sums and histograms on the extension's
//! resource.
//!
//! | metric | instrument, unit | from |
//! |---|---|---|
//! | `faas.invocations` | counter, `{invocation}` | `platform.runtimeDone` with `status: success` |
//! | `faas.errors` | counter, `{error}` | `platform.runtimeDone` with `status: error` or `failure` |
//! | `faas.timeouts` | counter, `{timeout}` | `platform.runtimeDone` with `status: timeout` |
//! | `faas.coldstarts` | counter, `{coldstart}` | `platform.report` carrying `initDurationMs` |
//! | `faas.invoke_duration` | histogram, `s` | `platform.runtimeDone` `metrics.durationMs` |
//! | `faas.init_duration` | histogram, `s` | `platform.initReport` `metrics.durationMs` |
//! | `faas.mem_usage` | histogram, `By` | `platform.report` `metrics.maxMemoryUsedMB` (MiB) |
//! | `aws.lambda.billed_duration` | histogram, `s` | `platform.report` `metrics.billedDurationMs` |
//!
//! The semantic conventions describe `faas.invocations` as the number of
//! *successful* invocations; failed ones are `faas.errors` / `faas.timeouts`.
//! Billed duration has no semantic-convention name: it is the one
//! `aws.lambda.*` metric. Durations are converted from milliseconds to
//! seconds, as the conventions' unit says.
//!
//! An invocation's `platform.report` arrives after the extension has
//! called `next` for it, so its figures leave with the next flush (the next
//! invoke, the timer, or SHUTDOWN, which waits briefly for pending reports).

use std::collections::HashSet;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, Histogram, HistogramDataPoint, Metric, NumberDataPoint,
    ResourceMetrics, ScopeMetrics, Sum, metric::Data, number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_semantic_conventions::metric as semconv;

use crate::extension::telemetry::PlatformEvent;

/// The billed duration (no semantic-convention name).
pub const AWS_LAMBDA_BILLED_DURATION: &str = "aws.lambda.billed_duration";
/// Bucket bounds of the duration histograms, seconds (the semantic
/// conventions' advice for `http.server.request.duration`).
pub const DURATION_BOUNDS_S: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];
/// Bucket bounds of `faas.mem_usage`, bytes (powers of two from 32 MiB to 8 GiB, then 10 GiB).
pub const MEMORY_BOUNDS_BYTES: [f64; 10] = [
    33_554_432.0,
    67_108_864.0,
    134_217_728.0,
    268_435_456.0,
    536_870_912.0,
    1_073_741_824.0,
    2_147_483_648.0,
    4_294_967_296.0,
    8_589_934_592.0,
    10_737_418_240.0,
];
/// Bytes in one of Lambda's "MB" (memory sizes are MiB).
const MIB: f64 = 1_048_576.0;
/// Most request ids remembered while waiting for their report.
const MAX_PENDING: usize = 256;

#[derive(Clone, Debug)]
struct Hist {
    bounds: &'static [f64],
    counts: Vec<u64>,
    count: u64,
    sum: f64,
    min: f64,
    max: f64,
}

impl Hist {
    fn new(bounds: &'static [f64]) -> Self {
        Self {
            bounds,
            counts: vec![0; bounds.len() + 1],
            count: 0,
            sum: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
        }
    }

    fn record(&mut self, v: f64) {
        if !v.is_finite() || v < 0.0 {
            return;
        }
        // Explicit bounds: bucket i holds (bounds[i-1], bounds[i]].
        let i = self.bounds.partition_point(|b| *b < v);
        if let Some(c) = self.counts.get_mut(i) {
            *c += 1;
        }
        self.count += 1;
        self.sum += v;
        self.min = self.min.min(v);
        self.max = self.max.max(v);
    }

    fn take(&mut self) -> Option<Self> {
        (self.count > 0).then(|| std::mem::replace(self, Self::new(self.bounds)))
    }
}

/// Aggregates platform events between flushes.
#[derive(Clone, Debug)]
pub struct PlatformMetrics {
    window_start_ns: u64,
    invocations: u64,
    errors: u64,
    timeouts: u64,
    coldstarts: u64,
    done_seen: bool,
    report_seen: bool,
    invoke_duration: Hist,
    init_duration: Hist,
    billed_duration: Hist,
    mem_usage: Hist,
    pending: HashSet<String>,
}

impl PlatformMetrics {
    /// An empty aggregation whose first window starts at `start_ns` (Unix ns).
    pub fn new(start_ns: u64) -> Self {
        Self {
            window_start_ns: start_ns,
            invocations: 0,
            errors: 0,
            timeouts: 0,
            coldstarts: 0,
            done_seen: false,
            report_seen: false,
            invoke_duration: Hist::new(&DURATION_BOUNDS_S),
            init_duration: Hist::new(&DURATION_BOUNDS_S),
            billed_duration: Hist::new(&DURATION_BOUNDS_S),
            mem_usage: Hist::new(&MEMORY_BOUNDS_BYTES),
            pending: HashSet::new(),
        }
    }

    /// Invocations started whose `platform.report` has not arrived.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Records one Telemetry API event.
    pub fn on_event(&mut self, e: &PlatformEvent) {
        match e {
            PlatformEvent::InitReport { duration_ms, .. } => {
                self.init_duration.record(duration_ms / 1000.0);
            }
            PlatformEvent::Start { request_id, .. } => {
                if self.pending.len() >= MAX_PENDING {
                    self.pending.clear();
                }
                self.pending.insert(request_id.clone());
            }
            PlatformEvent::RuntimeDone {
                status,
                duration_ms,
                ..
            } => {
                self.done_seen = true;
                match status.as_str() {
                    "success" => self.invocations += 1,
                    "timeout" => self.timeouts += 1,
                    _ => self.errors += 1,
                }
                if let Some(ms) = duration_ms {
                    self.invoke_duration.record(ms / 1000.0);
                }
            }
            PlatformEvent::Report {
                request_id,
                billed_duration_ms,
                max_memory_used_mb,
                init_duration_ms,
                ..
            } => {
                self.pending.remove(request_id);
                self.report_seen = true;
                if init_duration_ms.is_some() {
                    self.coldstarts += 1;
                }
                if let Some(ms) = billed_duration_ms {
                    self.billed_duration.record(ms / 1000.0);
                }
                if let Some(mb) = max_memory_used_mb {
                    self.mem_usage.record(mb * MIB);
                }
            }
            PlatformEvent::InitStart { .. } => {}
        }
    }

    /// The metrics recorded since the last take, as one batch on
    /// `resource`, ending the window at `now_ns` (`None`: nothing recorded).
    pub fn take(
        &mut self,
        resource: &[KeyValue],
        now_ns: u64,
    ) -> Option<ExportMetricsServiceRequest> {
        let start = self.window_start_ns;
        let mut metrics = Vec::new();
        let mut counter = |name: &str, unit: &str, desc: &str, v: u64| {
            metrics.push(Metric {
                name: name.into(),
                unit: unit.into(),
                description: desc.into(),
                data: Some(Data::Sum(Sum {
                    data_points: vec![NumberDataPoint {
                        start_time_unix_nano: start,
                        time_unix_nano: now_ns,
                        value: Some(number_data_point::Value::AsInt(
                            i64::try_from(v).unwrap_or(i64::MAX),
                        )),
                        ..NumberDataPoint::default()
                    }],
                    aggregation_temporality: AggregationTemporality::Delta as i32,
                    is_monotonic: true,
                })),
                ..Metric::default()
            });
        };
        if self.done_seen {
            counter(
                semconv::FAAS_INVOCATIONS,
                "{invocation}",
                "Number of successful invocations",
                self.invocations,
            );
            counter(
                semconv::FAAS_ERRORS,
                "{error}",
                "Number of invocation errors",
                self.errors,
            );
            counter(
                semconv::FAAS_TIMEOUTS,
                "{timeout}",
                "Number of invocation timeouts",
                self.timeouts,
            );
        }
        if self.report_seen {
            counter(
                semconv::FAAS_COLDSTARTS,
                "{coldstart}",
                "Number of invocation cold starts",
                self.coldstarts,
            );
        }
        let hists = [
            (
                semconv::FAAS_INVOKE_DURATION,
                "s",
                "Measures the duration of the function's logic execution",
                self.invoke_duration.take(),
            ),
            (
                semconv::FAAS_INIT_DURATION,
                "s",
                "Measures the duration of the function's initialization, such as a cold start",
                self.init_duration.take(),
            ),
            (
                AWS_LAMBDA_BILLED_DURATION,
                "s",
                "Billed duration of each invocation",
                self.billed_duration.take(),
            ),
            (
                semconv::FAAS_MEM_USAGE,
                "By",
                "Distribution of max memory usage per invocation",
                self.mem_usage.take(),
            ),
        ];
        for (name, unit, desc, h) in hists {
            let Some(h) = h else { continue };
            metrics.push(Metric {
                name: name.into(),
                unit: unit.into(),
                description: desc.into(),
                data: Some(Data::Histogram(Histogram {
                    data_points: vec![HistogramDataPoint {
                        start_time_unix_nano: start,
                        time_unix_nano: now_ns,
                        count: h.count,
                        sum: Some(h.sum),
                        bucket_counts: h.counts,
                        explicit_bounds: h.bounds.to_vec(),
                        min: Some(h.min),
                        max: Some(h.max),
                        ..HistogramDataPoint::default()
                    }],
                    aggregation_temporality: AggregationTemporality::Delta as i32,
                })),
                ..Metric::default()
            });
        }
        if metrics.is_empty() {
            return None;
        }
        let pending = std::mem::take(&mut self.pending);
        *self = Self::new(now_ns);
        self.pending = pending;
        Some(ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                resource: Some(Resource {
                    attributes: resource.to_vec(),
                    ..Resource::default()
                }),
                scope_metrics: vec![ScopeMetrics {
                    scope: Some(InstrumentationScope {
                        name: crate::extension::api::EXTENSION_NAME.into(),
                        version: env!("CARGO_PKG_VERSION").into(),
                        ..InstrumentationScope::default()
                    }),
                    metrics,
                    ..ScopeMetrics::default()
                }],
                ..ResourceMetrics::default()
            }],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find<'a>(b: &'a ExportMetricsServiceRequest, name: &str) -> Option<&'a Metric> {
        b.resource_metrics[0].scope_metrics[0]
            .metrics
            .iter()
            .find(|m| m.name == name)
    }

    fn sum(b: &ExportMetricsServiceRequest, name: &str) -> Option<i64> {
        match &find(b, name)?.data {
            Some(Data::Sum(s)) => match s.data_points[0].value {
                Some(number_data_point::Value::AsInt(v)) => Some(v),
                _ => None,
            },
            _ => None,
        }
    }

    fn hist<'a>(b: &'a ExportMetricsServiceRequest, name: &str) -> Option<&'a HistogramDataPoint> {
        match &find(b, name)?.data {
            Some(Data::Histogram(h)) => h.data_points.first(),
            _ => None,
        }
    }

    fn done(id: &str, status: &str, ms: f64) -> PlatformEvent {
        PlatformEvent::RuntimeDone {
            time_ns: 0,
            request_id: id.into(),
            status: status.into(),
            duration_ms: Some(ms),
        }
    }

    fn report(id: &str, init: Option<f64>) -> PlatformEvent {
        PlatformEvent::Report {
            time_ns: 0,
            request_id: id.into(),
            duration_ms: Some(12.0),
            billed_duration_ms: Some(13.0),
            max_memory_used_mb: Some(31.0),
            memory_size_mb: Some(128.0),
            init_duration_ms: init,
        }
    }

    #[test]
    fn counts_by_status_and_converts_units() {
        let mut p = PlatformMetrics::new(1);
        assert!(p.take(&[], 2).is_none(), "nothing recorded: no batch");
        p.on_event(&PlatformEvent::InitReport {
            time_ns: 0,
            duration_ms: 250.0,
        });
        for (id, status) in [("a", "success"), ("b", "error"), ("c", "timeout")] {
            p.on_event(&PlatformEvent::Start {
                time_ns: 0,
                request_id: id.into(),
                trace: None,
            });
            p.on_event(&done(id, status, 30.0));
        }
        assert_eq!(p.pending(), 3);
        p.on_event(&report("a", Some(250.0)));
        p.on_event(&report("b", None));
        assert_eq!(p.pending(), 1);
        let b = p.take(&[], 10).unwrap();
        assert_eq!(sum(&b, "faas.invocations"), Some(1));
        assert_eq!(sum(&b, "faas.errors"), Some(1));
        assert_eq!(sum(&b, "faas.timeouts"), Some(1));
        assert_eq!(sum(&b, "faas.coldstarts"), Some(1));
        let d = hist(&b, "faas.invoke_duration").unwrap();
        assert_eq!((d.count, d.sum), (3, Some(0.09)));
        assert_eq!((d.start_time_unix_nano, d.time_unix_nano), (1, 10));
        // 0.03 s is in (0.025, 0.05]: bucket 3.
        assert_eq!(d.bucket_counts[3], 3);
        assert_eq!(hist(&b, "faas.init_duration").unwrap().sum, Some(0.25));
        let billed = hist(&b, AWS_LAMBDA_BILLED_DURATION).unwrap();
        assert_eq!((billed.count, billed.sum), (2, Some(0.026)));
        let mem = hist(&b, "faas.mem_usage").unwrap();
        assert_eq!(mem.max, Some(31.0 * 1_048_576.0));
        assert_eq!(find(&b, "faas.mem_usage").unwrap().unit, "By");
        assert_eq!(find(&b, "faas.invoke_duration").unwrap().unit, "s");
        // The next window starts where this one ended; the pending report is kept.
        assert_eq!(p.pending(), 1);
        p.on_event(&report("c", None));
        let b = p.take(&[], 20).unwrap();
        assert_eq!(sum(&b, "faas.coldstarts"), Some(0));
        assert!(find(&b, "faas.invocations").is_none());
        assert_eq!(hist(&b, "faas.mem_usage").unwrap().start_time_unix_nano, 10);
    }
}
