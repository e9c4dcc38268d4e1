//! The three OTLP signals the receivers take, described once: batch and
//! response types, paths, how items are counted and which are refused.
//!
//! The HTTP and gRPC receivers, the decoder and the delivery step are
//! generic over [`OtlpSignal`]; adding behaviour for one signal means
//! touching its impl here, nothing else.

use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::metrics::v1::{ExponentialHistogramDataPoint, HistogramDataPoint};

use super::decode::Validation;
use super::proto_traces::{DecodeOptions, decode_traces};
use super::sink::{Sink, Sinks};

/// One of the three OTLP signals.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Signal {
    /// Spans (`/v1/traces`, `TraceService`).
    Traces,
    /// Metric data points (`/v1/metrics`, `MetricsService`).
    Metrics,
    /// Log records (`/v1/logs`, `LogsService`).
    Logs,
}

impl Signal {
    /// `traces`, `metrics` or `logs` (the collector's pipeline type names).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Traces => "traces",
            Self::Metrics => "metrics",
            Self::Logs => "logs",
        }
    }

    /// What one item of the signal is called in messages: `span`, `data point`, `log record`.
    pub fn item(self) -> &'static str {
        match self {
            Self::Traces => "span",
            Self::Metrics => "data point",
            Self::Logs => "log record",
        }
    }

    /// The OTLP/HTTP path (`/v1/traces`, `/v1/metrics`, `/v1/logs`).
    pub fn http_path(self) -> &'static str {
        match self {
            Self::Traces => TRACES_PATH,
            Self::Metrics => METRICS_PATH,
            Self::Logs => LOGS_PATH,
        }
    }

    /// The OTLP/gRPC method path.
    pub fn grpc_path(self) -> &'static str {
        match self {
            Self::Traces => GRPC_TRACES_PATH,
            Self::Metrics => GRPC_METRICS_PATH,
            Self::Logs => GRPC_LOGS_PATH,
        }
    }

    /// All three, in a fixed order.
    pub const ALL: [Signal; 3] = [Self::Traces, Self::Metrics, Self::Logs];
}

impl std::fmt::Display for Signal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The OTLP/HTTP traces path.
pub const TRACES_PATH: &str = "/v1/traces";
/// The OTLP/HTTP metrics path.
pub const METRICS_PATH: &str = "/v1/metrics";
/// The OTLP/HTTP logs path.
pub const LOGS_PATH: &str = "/v1/logs";
/// The OTLP/gRPC traces method.
pub const GRPC_TRACES_PATH: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
/// The OTLP/gRPC metrics method.
pub const GRPC_METRICS_PATH: &str =
    "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export";
/// The OTLP/gRPC logs method.
pub const GRPC_LOGS_PATH: &str = "/opentelemetry.proto.collector.logs.v1.LogsService/Export";

/// A signal's types and rules, for the generic receiver code.
pub(crate) trait OtlpSignal: Send + Sync + 'static {
    /// The export request (the one batch type of the signal).
    type Request: prost::Message + Default + serde::de::DeserializeOwned + Send + 'static;
    /// The export response.
    type Response: prost::Message + Default + Send + 'static;
    /// Which signal.
    const SIGNAL: Signal;
    /// The protobuf message name, for error messages.
    const REQUEST_NAME: &'static str;

    /// The sink configured for this signal, if any.
    fn sink(sinks: &Sinks) -> Option<&std::sync::Arc<dyn Sink<Self::Request>>>;

    /// Removes items that cannot be carried on and counts what is left.
    fn validate(req: &mut Self::Request) -> Validation;

    /// A strictly parsed JSON body that probably used names the strict
    /// parser ignores (snake_case): nothing in it, or items without times/ids.
    fn looks_misnamed(req: &Self::Request) -> bool;

    /// The response for `rejected` items refused for `message`.
    fn response(rejected: u64, message: String) -> Self::Response;

    /// Decodes a protobuf body: prost's generated decoder, unless the
    /// signal has its own (traces: [`decode_traces`]).
    fn decode_protobuf(body: &[u8], options: DecodeOptions) -> Result<Self::Request, String> {
        let _ = options;
        <Self::Request as prost::Message>::decode(body).map_err(|e| e.to_string())
    }

    /// Proto3 JSON of the response (int64 as a string).
    fn response_json(resp: &Self::Response) -> Vec<u8>;
}

fn partial_needed(rejected: u64, message: &str) -> bool {
    rejected > 0 || !message.is_empty()
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn partial_json(field: &str, rejected: i64, message: &str) -> Vec<u8> {
    let mut partial = serde_json::Map::new();
    partial.insert(field.to_owned(), rejected.to_string().into());
    partial.insert("errorMessage".to_owned(), message.into());
    serde_json::json!({ "partialSuccess": partial })
        .to_string()
        .into_bytes()
}

/// Traces.
pub(crate) struct Traces;

impl OtlpSignal for Traces {
    type Request = ExportTraceServiceRequest;
    type Response = ExportTraceServiceResponse;
    const SIGNAL: Signal = Signal::Traces;
    const REQUEST_NAME: &'static str = "ExportTraceServiceRequest";

    fn sink(sinks: &Sinks) -> Option<&std::sync::Arc<dyn Sink<Self::Request>>> {
        sinks.traces.as_ref()
    }

    fn validate(req: &mut Self::Request) -> Validation {
        super::decode::validate(req)
    }

    fn decode_protobuf(body: &[u8], options: DecodeOptions) -> Result<Self::Request, String> {
        decode_traces(body, options).map_err(|e| e.to_string())
    }

    fn looks_misnamed(req: &Self::Request) -> bool {
        let mut spans = req
            .resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .flat_map(|s| &s.spans)
            .peekable();
        spans.peek().is_none()
            || spans.any(|s| s.trace_id.is_empty() || s.start_time_unix_nano == 0)
    }

    fn response(rejected: u64, message: String) -> Self::Response {
        ExportTraceServiceResponse {
            partial_success: partial_needed(rejected, &message).then(|| {
                ExportTracePartialSuccess {
                    rejected_spans: to_i64(rejected),
                    error_message: message,
                }
            }),
        }
    }

    fn response_json(resp: &Self::Response) -> Vec<u8> {
        match &resp.partial_success {
            None => b"{}".to_vec(),
            Some(p) => partial_json("rejectedSpans", p.rejected_spans, &p.error_message),
        }
    }
}

/// Metrics.
pub(crate) struct Metrics;

impl OtlpSignal for Metrics {
    type Request = ExportMetricsServiceRequest;
    type Response = ExportMetricsServiceResponse;
    const SIGNAL: Signal = Signal::Metrics;
    const REQUEST_NAME: &'static str = "ExportMetricsServiceRequest";

    fn sink(sinks: &Sinks) -> Option<&std::sync::Arc<dyn Sink<Self::Request>>> {
        sinks.metrics.as_ref()
    }

    fn validate(req: &mut Self::Request) -> Validation {
        validate_metrics(req)
    }

    fn looks_misnamed(req: &Self::Request) -> bool {
        let mut metrics = req
            .resource_metrics
            .iter()
            .flat_map(|r| &r.scope_metrics)
            .flat_map(|s| &s.metrics)
            .peekable();
        metrics.peek().is_none() || metrics.any(|m| m.name.is_empty() || m.data.is_none())
    }

    fn response(rejected: u64, message: String) -> Self::Response {
        ExportMetricsServiceResponse {
            partial_success: partial_needed(rejected, &message).then(|| {
                ExportMetricsPartialSuccess {
                    rejected_data_points: to_i64(rejected),
                    error_message: message,
                }
            }),
        }
    }

    fn response_json(resp: &Self::Response) -> Vec<u8> {
        match &resp.partial_success {
            None => b"{}".to_vec(),
            Some(p) => partial_json(
                "rejectedDataPoints",
                p.rejected_data_points,
                &p.error_message,
            ),
        }
    }
}

/// Logs.
pub(crate) struct Logs;

impl OtlpSignal for Logs {
    type Request = ExportLogsServiceRequest;
    type Response = ExportLogsServiceResponse;
    const SIGNAL: Signal = Signal::Logs;
    const REQUEST_NAME: &'static str = "ExportLogsServiceRequest";

    fn sink(sinks: &Sinks) -> Option<&std::sync::Arc<dyn Sink<Self::Request>>> {
        sinks.logs.as_ref()
    }

    fn validate(req: &mut Self::Request) -> Validation {
        validate_logs(req)
    }

    fn looks_misnamed(req: &Self::Request) -> bool {
        let mut records = req
            .resource_logs
            .iter()
            .flat_map(|r| &r.scope_logs)
            .flat_map(|s| &s.log_records)
            .peekable();
        records.peek().is_none()
            || records.any(|r| {
                r.time_unix_nano == 0 && r.observed_time_unix_nano == 0 && r.body.is_none()
            })
    }

    fn response(rejected: u64, message: String) -> Self::Response {
        ExportLogsServiceResponse {
            partial_success: partial_needed(rejected, &message).then(|| ExportLogsPartialSuccess {
                rejected_log_records: to_i64(rejected),
                error_message: message,
            }),
        }
    }

    fn response_json(resp: &Self::Response) -> Vec<u8> {
        match &resp.partial_success {
            None => b"{}".to_vec(),
            Some(p) => partial_json(
                "rejectedLogRecords",
                p.rejected_log_records,
                &p.error_message,
            ),
        }
    }
}

/// Keeps the first refusal's reason and summarises the count.
#[derive(Default)]
struct Refusals {
    v: Validation,
}

impl Refusals {
    fn refuse(&mut self, what: impl FnOnce() -> String) {
        if self.v.message.is_empty() {
            self.v.message = what();
        }
        self.v.rejected += 1;
    }

    fn finish(mut self, item: &str) -> Validation {
        if self.v.rejected > 1 {
            self.v.message = format!(
                "{} invalid {item}s dropped; first: {}",
                self.v.rejected, self.v.message
            );
        }
        self.v
    }
}

/// A histogram point whose bucket counts do not match its bounds (OTLP:
/// `bucket_counts` is empty or has one more entry than `explicit_bounds`).
fn histogram_problem(p: &HistogramDataPoint) -> Option<String> {
    let (counts, bounds) = (p.bucket_counts.len(), p.explicit_bounds.len());
    (counts != 0 && counts != bounds + 1).then(|| {
        format!(
            "{counts} bucket counts for {bounds} explicit bounds (expected {})",
            bounds + 1
        )
    })
}

/// An exponential histogram point with a scale outside OTLP's [-10, 20].
fn exp_histogram_problem(p: &ExponentialHistogramDataPoint) -> Option<String> {
    (!(-10..=20).contains(&p.scale)).then(|| format!("scale {} outside [-10, 20]", p.scale))
}

/// Drops data points that are malformed per the OTLP data model (a
/// histogram with mismatched bucket counts, an exponential histogram with
/// an impossible scale) and metrics left without points or without a name;
/// counts the data points kept. Values (NaN included, a staleness marker)
/// are not judged here: the exporters do what their destination allows.
pub(crate) fn validate_metrics(req: &mut ExportMetricsServiceRequest) -> Validation {
    let mut r = Refusals::default();
    for rm in &mut req.resource_metrics {
        for sm in &mut rm.scope_metrics {
            sm.metrics.retain_mut(|m| {
                let name = m.name.clone();
                let points = match &mut m.data {
                    None => 0,
                    Some(Data::Gauge(g)) => g.data_points.len(),
                    Some(Data::Sum(s)) => s.data_points.len(),
                    Some(Data::Summary(s)) => s.data_points.len(),
                    Some(Data::Histogram(h)) => {
                        h.data_points.retain(|p| match histogram_problem(p) {
                            None => true,
                            Some(why) => {
                                r.refuse(|| format!("metric {name:?}: histogram point with {why}"));
                                false
                            }
                        });
                        h.data_points.len()
                    }
                    Some(Data::ExponentialHistogram(h)) => {
                        h.data_points.retain(|p| match exp_histogram_problem(p) {
                            None => true,
                            Some(why) => {
                                r.refuse(|| {
                                    format!(
                                        "metric {name:?}: exponential histogram point with {why}"
                                    )
                                });
                                false
                            }
                        });
                        h.data_points.len()
                    }
                };
                if points > 0 && m.name.is_empty() {
                    for _ in 0..points {
                        r.refuse(|| "a metric without a name".to_owned());
                    }
                    return false;
                }
                r.v.items += points as u64;
                points > 0
            });
        }
    }
    r.finish("data point")
}

/// Drops log records whose trace or span id has the wrong length (OTLP:
/// empty, or 16 / 8 bytes); counts the records kept.
pub(crate) fn validate_logs(req: &mut ExportLogsServiceRequest) -> Validation {
    let mut r = Refusals::default();
    for rl in &mut req.resource_logs {
        for sl in &mut rl.scope_logs {
            let before = sl.log_records.len();
            sl.log_records.retain(|rec| {
                let problem = match (rec.trace_id.len(), rec.span_id.len()) {
                    (0 | 16, 0 | 8) => None,
                    (0 | 16, n) => Some(format!("span id has {n} bytes, expected 0 or 8")),
                    (n, _) => Some(format!("trace id has {n} bytes, expected 0 or 16")),
                };
                match problem {
                    None => true,
                    Some(why) => {
                        r.refuse(|| format!("log record dropped: {why}"));
                        false
                    }
                }
            });
            r.v.items += sl.log_records.len() as u64;
            debug_assert!(before >= sl.log_records.len());
        }
    }
    r.finish("log record")
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
    use opentelemetry_proto::tonic::metrics::v1::{
        Gauge, Histogram, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics,
    };

    fn metrics(ms: Vec<Metric>) -> ExportMetricsServiceRequest {
        ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                scope_metrics: vec![ScopeMetrics {
                    metrics: ms,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    fn hist(name: &str, points: Vec<(Vec<u64>, Vec<f64>)>) -> Metric {
        Metric {
            name: name.into(),
            data: Some(Data::Histogram(Histogram {
                data_points: points
                    .into_iter()
                    .map(|(bucket_counts, explicit_bounds)| HistogramDataPoint {
                        bucket_counts,
                        explicit_bounds,
                        ..Default::default()
                    })
                    .collect(),
                aggregation_temporality: 2,
            })),
            ..Default::default()
        }
    }

    fn gauge(name: &str, n: usize) -> Metric {
        Metric {
            name: name.into(),
            data: Some(Data::Gauge(Gauge {
                data_points: vec![NumberDataPoint::default(); n],
            })),
            ..Default::default()
        }
    }

    #[test]
    fn metrics_validation_table() {
        // (metrics, kept points, rejected points, metrics left)
        let cases: Vec<(Vec<Metric>, u64, u64, usize)> = vec![
            (vec![gauge("g", 3)], 3, 0, 1),
            (vec![gauge("g", 0)], 0, 0, 0),
            (vec![gauge("", 2)], 0, 2, 0),
            // Bucket counts: empty is allowed, bounds+1 is right, anything else is refused.
            (vec![hist("h", vec![(vec![], vec![1.0])])], 1, 0, 1),
            (vec![hist("h", vec![(vec![1, 2], vec![1.0])])], 1, 0, 1),
            (
                vec![hist(
                    "h",
                    vec![(vec![1, 2], vec![1.0]), (vec![1], vec![1.0])],
                )],
                1,
                1,
                1,
            ),
            (
                vec![hist("h", vec![(vec![1, 2, 3], vec![1.0])]), gauge("g", 1)],
                1,
                1,
                1,
            ),
        ];
        for (ms, kept, rejected, left) in cases {
            let mut req = metrics(ms.clone());
            let v = validate_metrics(&mut req);
            assert_eq!((v.items, v.rejected), (kept, rejected), "{ms:?}");
            assert_eq!(v.message.is_empty(), rejected == 0);
            assert_eq!(req.resource_metrics[0].scope_metrics[0].metrics.len(), left);
        }
    }

    #[test]
    fn logs_validation_table() {
        let rec = |t: usize, s: usize| LogRecord {
            trace_id: vec![1; t],
            span_id: vec![2; s],
            ..Default::default()
        };
        for (t, s, keep) in [
            (0, 0, true),
            (16, 8, true),
            (16, 0, true),
            (15, 8, false),
            (16, 7, false),
            (0, 9, false),
        ] {
            let mut req = ExportLogsServiceRequest {
                resource_logs: vec![ResourceLogs {
                    scope_logs: vec![ScopeLogs {
                        log_records: vec![rec(t, s), rec(0, 0)],
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
            };
            let v = validate_logs(&mut req);
            assert_eq!(
                (v.items, v.rejected),
                (1 + u64::from(keep), u64::from(!keep)),
                "{t} {s}"
            );
        }
    }

    #[test]
    fn partial_success_json() {
        let r = Metrics::response(2, "why".into());
        assert_eq!(
            String::from_utf8(Metrics::response_json(&r)).unwrap(),
            r#"{"partialSuccess":{"errorMessage":"why","rejectedDataPoints":"2"}}"#
        );
        assert_eq!(
            Logs::response_json(&Logs::response(0, String::new())),
            b"{}"
        );
    }
}
