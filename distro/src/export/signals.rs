//! What the exporters need to know about each signal's batch type
//! ([`ExportTraceServiceRequest`], [`ExportMetricsServiceRequest`],
//! [`ExportLogsServiceRequest`]): how many items it holds, how to halve it
//! when an encoding is over a request limit, and how to read the
//! destination's partial-success answer.

use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::metrics::v1::Metric;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use prost::Message as _;

/// An OTLP export request of one signal.
pub trait OtlpBatch: prost::Message + serde::Serialize + Default + Clone + Send + 'static {
    /// `traces`, `metrics` or `logs`.
    const SIGNAL: &'static str;
    /// What one item is called: `span`, `data point`, `log record`.
    const ITEM: &'static str;

    /// Items (spans, data points, log records) in the request.
    fn items(&self) -> usize;

    /// Splits the request in two of about half the items each (`None` when
    /// it holds one item or less).
    fn halve(self) -> Option<[Self; 2]>;

    /// The request as protobuf: prost's `encode_to_vec`, or the same bytes
    /// from a faster encoder (traces: [`super::encode_traces`]).
    fn encode_protobuf(&self) -> Vec<u8> {
        self.encode_to_vec()
    }

    /// Items the destination rejected in its (protobuf or JSON) answer, and its message.
    fn rejected(json: bool, body: &[u8]) -> Option<(u64, String)>;
}

/// The partial success of a JSON answer: proto3 JSON writes the int64
/// count as a string (`"rejectedLogRecords":"2"`), which opentelemetry-proto's
/// serde does not read back, so the two fields are read by hand.
fn json_partial(body: &[u8], field: &str) -> Option<(u64, String)> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let p = v.get("partialSuccess")?;
    let n = match p.get(field) {
        Some(serde_json::Value::String(s)) => s.parse().ok()?,
        Some(serde_json::Value::Number(n)) => n.as_u64()?,
        _ => 0,
    };
    let msg = p
        .get("errorMessage")
        .and_then(|m| m.as_str())
        .unwrap_or_default();
    Some((n, msg.to_owned()))
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// Data points of one metric.
pub fn metric_points(m: &Metric) -> usize {
    match &m.data {
        None => 0,
        Some(Data::Gauge(g)) => g.data_points.len(),
        Some(Data::Sum(s)) => s.data_points.len(),
        Some(Data::Histogram(h)) => h.data_points.len(),
        Some(Data::ExponentialHistogram(h)) => h.data_points.len(),
        Some(Data::Summary(s)) => s.data_points.len(),
    }
}

/// Halves a nested list of resources → scopes → items, keeping each
/// half's resource and scope (the three request types have the same shape).
macro_rules! halve_nested {
    ($req:expr, $resources:ident, $scopes:ident, $items:ident) => {{
        let mut req = $req;
        if req.$resources.len() > 1 {
            let tail = req.$resources.split_off(req.$resources.len() / 2);
            let mut b = req.clone();
            b.$resources = tail;
            return Some([req, b]);
        }
        let r = req.$resources.first_mut()?;
        if r.$scopes.len() > 1 {
            let tail = r.$scopes.split_off(r.$scopes.len() / 2);
            let mut other = r.clone();
            other.$scopes = tail;
            let b = Self {
                $resources: vec![other],
            };
            return Some([req, b]);
        }
        let s = r.$scopes.first_mut()?;
        if s.$items.len() <= 1 {
            return None;
        }
        let tail = s.$items.split_off(s.$items.len() / 2);
        let mut scope = s.clone();
        scope.$items = tail;
        let mut other = r.clone();
        other.$scopes = vec![scope];
        let b = Self {
            $resources: vec![other],
        };
        Some([req, b])
    }};
}

impl OtlpBatch for ExportTraceServiceRequest {
    const SIGNAL: &'static str = "traces";
    const ITEM: &'static str = "span";

    fn items(&self) -> usize {
        super::split::span_count(self)
    }

    fn halve(self) -> Option<[Self; 2]> {
        super::split::halve(self)
    }

    fn encode_protobuf(&self) -> Vec<u8> {
        super::encode_traces(self)
    }

    fn rejected(json: bool, body: &[u8]) -> Option<(u64, String)> {
        if json {
            return json_partial(body, "rejectedSpans");
        }
        let p = ExportTraceServiceResponse::decode(body)
            .ok()?
            .partial_success?;
        Some((count(p.rejected_spans), p.error_message))
    }
}

impl OtlpBatch for ExportMetricsServiceRequest {
    const SIGNAL: &'static str = "metrics";
    const ITEM: &'static str = "data point";

    fn items(&self) -> usize {
        self.resource_metrics
            .iter()
            .flat_map(|r| &r.scope_metrics)
            .flat_map(|s| &s.metrics)
            .map(metric_points)
            .sum()
    }

    fn halve(self) -> Option<[Self; 2]> {
        // A single metric with many points is not split further.
        halve_nested!(self, resource_metrics, scope_metrics, metrics)
    }

    fn rejected(json: bool, body: &[u8]) -> Option<(u64, String)> {
        if json {
            return json_partial(body, "rejectedDataPoints");
        }
        let p = ExportMetricsServiceResponse::decode(body)
            .ok()?
            .partial_success?;
        Some((count(p.rejected_data_points), p.error_message))
    }
}

impl OtlpBatch for ExportLogsServiceRequest {
    const SIGNAL: &'static str = "logs";
    const ITEM: &'static str = "log record";

    fn items(&self) -> usize {
        self.resource_logs
            .iter()
            .flat_map(|r| &r.scope_logs)
            .map(|s| s.log_records.len())
            .sum()
    }

    fn halve(self) -> Option<[Self; 2]> {
        halve_nested!(self, resource_logs, scope_logs, log_records)
    }

    fn rejected(json: bool, body: &[u8]) -> Option<(u64, String)> {
        if json {
            return json_partial(body, "rejectedLogRecords");
        }
        let p = ExportLogsServiceResponse::decode(body)
            .ok()?
            .partial_success?;
        Some((count(p.rejected_log_records), p.error_message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
    use prost::Message;

    #[test]
    fn trace_partial_success_json_with_a_number() {
        let json = br#"{"partialSuccess":{"rejectedSpans":3}}"#;
        assert_eq!(
            ExportTraceServiceRequest::rejected(true, json),
            Some((3, String::new()))
        );
    }

    fn logs(resources: usize, scopes: usize, records: usize) -> ExportLogsServiceRequest {
        ExportLogsServiceRequest {
            resource_logs: vec![
                ResourceLogs {
                    scope_logs: vec![
                        ScopeLogs {
                            log_records: vec![LogRecord::default(); records],
                            ..Default::default()
                        };
                        scopes
                    ],
                    ..Default::default()
                };
                resources
            ],
        }
    }

    #[test]
    fn halving_keeps_every_item_and_stops_at_one() {
        for (r, s, n) in [(4, 1, 3), (1, 3, 2), (1, 1, 9), (2, 2, 2)] {
            let req = logs(r, s, n);
            let total = req.items();
            let [a, b] = req.halve().unwrap();
            assert_eq!(a.items() + b.items(), total, "{r} {s} {n}");
            assert!(a.items() > 0 && b.items() > 0);
        }
        assert!(logs(1, 1, 1).halve().is_none());
        assert!(logs(0, 0, 0).halve().is_none());
    }

    #[test]
    fn partial_success_of_each_signal() {
        let m = ExportMetricsServiceResponse {
            partial_success: Some(
                opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsPartialSuccess {
                    rejected_data_points: 3,
                    error_message: "nan".into(),
                },
            ),
        };
        assert_eq!(
            ExportMetricsServiceRequest::rejected(false, &m.encode_to_vec()),
            Some((3, "nan".into()))
        );
        // OTLP/JSON: int64 as a string.
        let json = br#"{"partialSuccess":{"rejectedLogRecords":"2","errorMessage":"too old"}}"#;
        assert_eq!(
            ExportLogsServiceRequest::rejected(true, json),
            Some((2, "too old".into()))
        );
        assert_eq!(ExportLogsServiceRequest::rejected(true, b"{}"), None);
    }
}
