//! OTLP metrics and logs through the receivers on real sockets: HTTP
//! (protobuf, JSON, gzip) and gRPC (tonic's generated clients), partial
//! success for malformed items, backpressure and limits per signal, and a
//! signal without a sink refused.
#![cfg(feature = "server")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::metrics::v1::number_data_point;
use opentelemetry_proto::tonic::metrics::v1::{
    Histogram, HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
};
use otel_aws_distro::receiver::{
    self, Accepted, Backpressure, Encoding, ReceiverConfig, RequestMeta, RunningReceivers, Signal,
    Sinks, Transport,
};
use prost::Message;

/// Records what one signal's sink receives; can push back.
struct Recorder<B> {
    got: Mutex<Vec<(B, RequestMeta)>>,
    push_back: AtomicBool,
}

impl<B> Default for Recorder<B> {
    fn default() -> Self {
        Self {
            got: Mutex::new(Vec::new()),
            push_back: AtomicBool::new(false),
        }
    }
}

impl<B: Send + 'static> Recorder<B> {
    fn accept(&self, batch: B, meta: RequestMeta) -> Result<Accepted, Backpressure> {
        if self.push_back.load(Ordering::SeqCst) {
            return Err(Backpressure::new("queue full", Duration::from_millis(1500)));
        }
        self.got.lock().unwrap().push((batch, meta));
        Ok(Accepted::all())
    }

    fn take(&self) -> Vec<(B, RequestMeta)> {
        std::mem::take(&mut *self.got.lock().unwrap())
    }
}

struct H {
    metrics: Arc<Recorder<ExportMetricsServiceRequest>>,
    logs: Arc<Recorder<ExportLogsServiceRequest>>,
    running: RunningReceivers,
    http: reqwest::Client,
}

async fn start(cfg: ReceiverConfig, with_logs: bool) -> H {
    let metrics = Arc::new(Recorder::default());
    let logs = Arc::new(Recorder::default());
    let m = Arc::clone(&metrics);
    let mut sinks = Sinks::default().with_metrics(Arc::new(
        move |b: ExportMetricsServiceRequest, meta: RequestMeta| m.accept(b, meta),
    ));
    if with_logs {
        let l = Arc::clone(&logs);
        sinks = sinks.with_logs(Arc::new(
            move |b: ExportLogsServiceRequest, meta: RequestMeta| l.accept(b, meta),
        ));
    }
    let running = receiver::serve_signals(cfg, sinks, std::future::pending())
        .await
        .unwrap();
    H {
        metrics,
        logs,
        running,
        http: reqwest::Client::new(),
    }
}

fn local() -> ReceiverConfig {
    ReceiverConfig {
        http_addr: Some("127.0.0.1:0".parse().unwrap()),
        grpc_addr: Some("127.0.0.1:0".parse().unwrap()),
        ..Default::default()
    }
}

impl H {
    async fn post(&self, path: &str, ctype: &str, gzip: bool, body: Vec<u8>) -> reqwest::Response {
        let url = format!("http://{}{path}", self.running.http_addr().unwrap());
        let mut req = self.http.post(url).header("content-type", ctype);
        req = if gzip {
            req.header("content-encoding", "gzip").body(gz(&body))
        } else {
            req.body(body)
        };
        req.send().await.unwrap()
    }

    fn grpc_url(&self) -> String {
        format!("http://{}", self.running.grpc_addr().unwrap())
    }
}

fn gz(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(Value::StringValue(v.into())),
        }),
        ..Default::default()
    }
}

fn metrics(ms: Vec<Metric>) -> ExportMetricsServiceRequest {
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(opentelemetry_proto::tonic::resource::v1::Resource {
                attributes: vec![kv("service.name", "checkout")],
                ..Default::default()
            }),
            scope_metrics: vec![ScopeMetrics {
                metrics: ms,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn counter(name: &str, values: &[f64]) -> Metric {
    Metric {
        name: name.into(),
        unit: "1".into(),
        data: Some(Data::Sum(Sum {
            data_points: values
                .iter()
                .map(|v| NumberDataPoint {
                    time_unix_nano: 1_700_000_000_000_000_000,
                    value: Some(number_data_point::Value::AsDouble(*v)),
                    ..Default::default()
                })
                .collect(),
            aggregation_temporality: 2,
            is_monotonic: true,
        })),
        ..Default::default()
    }
}

fn histogram(name: &str, points: Vec<(Vec<u64>, Vec<f64>)>) -> Metric {
    Metric {
        name: name.into(),
        unit: "ms".into(),
        data: Some(Data::Histogram(Histogram {
            data_points: points
                .into_iter()
                .map(|(bucket_counts, explicit_bounds)| HistogramDataPoint {
                    count: bucket_counts.iter().sum(),
                    bucket_counts,
                    explicit_bounds,
                    time_unix_nano: 1_700_000_000_000_000_000,
                    ..Default::default()
                })
                .collect(),
            aggregation_temporality: 2,
        })),
        ..Default::default()
    }
}

fn logs(records: Vec<LogRecord>) -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: records,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn record(body: &str, trace_id: Vec<u8>, span_id: Vec<u8>) -> LogRecord {
    LogRecord {
        time_unix_nano: 1_700_000_000_000_000_000,
        severity_number: 9,
        severity_text: "INFO".into(),
        body: Some(AnyValue {
            value: Some(Value::StringValue(body.into())),
        }),
        trace_id,
        span_id,
        ..Default::default()
    }
}

#[tokio::test]
async fn http_metrics_protobuf_and_gzip_reach_the_metrics_sink() {
    let h = start(local(), true).await;
    let sent = metrics(vec![
        counter("requests", &[1.0, 2.0]),
        histogram("latency", vec![(vec![1, 2, 0], vec![10.0, 100.0])]),
    ]);
    for gzip in [false, true] {
        let resp = h
            .post(
                "/v1/metrics",
                "application/x-protobuf",
                gzip,
                sent.encode_to_vec(),
            )
            .await;
        assert_eq!(resp.status(), 200);
        let body = ExportMetricsServiceResponse::decode(resp.bytes().await.unwrap()).unwrap();
        assert_eq!(body.partial_success, None);
        let got = h.metrics.take();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].0, sent);
        let meta = &got[0].1;
        assert_eq!(
            (
                meta.signal,
                meta.transport,
                meta.encoding,
                meta.gzip,
                meta.items
            ),
            (
                Signal::Metrics,
                Transport::Http,
                Encoding::Protobuf,
                gzip,
                3
            )
        );
    }
    let s = h.running.stats().snapshot();
    assert_eq!(
        (s.requests, s.accepted_data_points, s.accepted_spans),
        (2, 6, 0)
    );
    assert!(h.logs.take().is_empty());
}

#[tokio::test]
async fn a_malformed_histogram_point_is_refused_alone() {
    let h = start(local(), true).await;
    // OTLP: bucket_counts has one more entry than explicit_bounds.
    let sent = metrics(vec![
        counter("requests", &[1.0]),
        histogram(
            "latency",
            vec![
                (vec![1, 2, 0], vec![10.0, 100.0]),
                (vec![1, 2], vec![10.0, 100.0]),
            ],
        ),
    ]);
    let resp = h
        .post(
            "/v1/metrics",
            "application/x-protobuf",
            false,
            sent.encode_to_vec(),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let body = ExportMetricsServiceResponse::decode(resp.bytes().await.unwrap()).unwrap();
    let partial = body.partial_success.unwrap();
    assert_eq!(partial.rejected_data_points, 1);
    assert!(partial.error_message.contains("latency"), "{partial:?}");
    let got = h.metrics.take();
    assert_eq!(got[0].1.items, 2);
    let s = h.running.stats().snapshot();
    assert_eq!((s.accepted_data_points, s.rejected_data_points), (2, 1));
}

/// Shaped like opentelemetry-proto's `examples/metrics.json`: 64-bit values as strings and numbers.
const METRICS_JSON: &str = r#"{
  "resourceMetrics": [{
    "resource": { "attributes": [{ "key": "service.name", "value": { "stringValue": "my.service" } }] },
    "scopeMetrics": [{
      "scope": { "name": "my.library", "version": "1.0.0" },
      "metrics": [
        { "name": "my.counter", "unit": "1", "description": "I am a Counter",
          "sum": { "aggregationTemporality": 1, "isMonotonic": true,
                   "dataPoints": [{ "asDouble": 5, "startTimeUnixNano": "1544712660300000000",
                                    "timeUnixNano": "1544712660300000000",
                                    "attributes": [{ "key": "my.counter.attr", "value": { "stringValue": "some value" } }] }] } },
        { "name": "my.gauge", "unit": "1",
          "gauge": { "dataPoints": [{ "asInt": "10", "timeUnixNano": 1544712660300000000 }] } },
        { "name": "my.histogram", "unit": "1",
          "histogram": { "aggregationTemporality": 1,
                         "dataPoints": [{ "startTimeUnixNano": "1544712660300000000", "timeUnixNano": "1544712660300000000",
                                          "count": 2, "sum": 2, "bucketCounts": [1, 1], "explicitBounds": [1], "min": 0, "max": 2 }] } }
      ]
    }]
  }]
}"#;

/// Shaped like opentelemetry-proto's `examples/logs.json`.
const LOGS_JSON: &str = r#"{
  "resourceLogs": [{
    "resource": { "attributes": [{ "key": "service.name", "value": { "stringValue": "my.service" } }] },
    "scopeLogs": [{
      "scope": { "name": "my.library", "version": "1.0.0" },
      "logRecords": [{
        "timeUnixNano": "1544712660300000000",
        "observedTimeUnixNano": "1544712660300000000",
        "severityNumber": 10,
        "severityText": "Information",
        "traceId": "5B8EFFF798038103D269B633813FC60C",
        "spanId": "EEE19B7EC3C1B174",
        "body": { "stringValue": "Example log record" },
        "attributes": [{ "key": "string.attribute", "value": { "stringValue": "some string" } }]
      }]
    }]
  }]
}"#;

#[tokio::test]
async fn http_json_metrics_and_logs_decode() {
    let h = start(local(), true).await;
    let resp = h
        .post(
            "/v1/metrics",
            "application/json",
            false,
            METRICS_JSON.into(),
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/json");
    assert_eq!(resp.text().await.unwrap(), "{}");
    let got = h.metrics.take();
    let ms = &got[0].0.resource_metrics[0].scope_metrics[0].metrics;
    assert_eq!(ms.len(), 3);
    let Some(Data::Sum(sum)) = &ms[0].data else {
        panic!("{:?}", ms[0])
    };
    assert_eq!(
        sum.data_points[0].value,
        Some(number_data_point::Value::AsDouble(5.0))
    );
    assert_eq!(sum.data_points[0].time_unix_nano, 1_544_712_660_300_000_000);
    let Some(Data::Gauge(g)) = &ms[1].data else {
        panic!("{:?}", ms[1])
    };
    assert_eq!(
        g.data_points[0].value,
        Some(number_data_point::Value::AsInt(10))
    );
    assert_eq!(got[0].1.items, 3);

    let resp = h
        .post("/v1/logs", "application/json", true, LOGS_JSON.into())
        .await;
    assert_eq!(resp.status(), 200);
    let got = h.logs.take();
    let rec = &got[0].0.resource_logs[0].scope_logs[0].log_records[0];
    assert_eq!(
        hex::encode(&rec.trace_id),
        "5b8efff798038103d269b633813fc60c"
    );
    assert_eq!(hex::encode(&rec.span_id), "eee19b7ec3c1b174");
    assert_eq!(
        (rec.severity_number, rec.severity_text.as_str()),
        (10, "Information")
    );
    assert_eq!(
        (got[0].1.signal, got[0].1.encoding, got[0].1.gzip),
        (Signal::Logs, Encoding::Json, true)
    );
}

#[tokio::test]
async fn snake_case_json_logs_with_enum_names_decode_leniently() {
    let h = start(local(), true).await;
    let body = r#"{"resource_logs":[{"scope_logs":[{"log_records":[{
        "time_unix_nano":"1544712660300000000","severity_number":"SEVERITY_NUMBER_WARN",
        "body":{"string_value":"disk almost full"}}]}]}]}"#;
    let resp = h
        .post("/v1/logs", "application/json", false, body.into())
        .await;
    assert_eq!(resp.status(), 200);
    let got = h.logs.take();
    let rec = &got[0].0.resource_logs[0].scope_logs[0].log_records[0];
    // logs.proto: SEVERITY_NUMBER_WARN = 13.
    assert_eq!(rec.severity_number, 13);
    assert_eq!(rec.time_unix_nano, 1_544_712_660_300_000_000);
}

#[tokio::test]
async fn grpc_metrics_and_logs_with_gzip() {
    let h = start(local(), true).await;
    let sent_m = metrics(vec![counter("requests", &[1.0, 2.0, 3.0])]);
    let mut mc = MetricsServiceClient::connect(h.grpc_url())
        .await
        .unwrap()
        .send_compressed(tonic::codec::CompressionEncoding::Gzip);
    let resp = mc.export(sent_m.clone()).await.unwrap().into_inner();
    assert_eq!(resp.partial_success, None);

    let sent_l = logs(vec![
        record("ok", vec![7; 16], vec![8; 8]),
        record("bad trace id", vec![7; 5], vec![8; 8]),
    ]);
    let mut lc = LogsServiceClient::connect(h.grpc_url()).await.unwrap();
    let resp = lc.export(sent_l).await.unwrap().into_inner();
    let partial = resp.partial_success.unwrap();
    assert_eq!(partial.rejected_log_records, 1);
    assert!(
        partial.error_message.contains("trace id has 5 bytes"),
        "{partial:?}"
    );

    let m = h.metrics.take();
    assert_eq!(m[0].0, sent_m);
    assert_eq!(
        (m[0].1.transport, m[0].1.gzip, m[0].1.items),
        (Transport::Grpc, true, 3)
    );
    let l = h.logs.take();
    assert_eq!(l[0].1.items, 1);
    assert_eq!(l[0].0.resource_logs[0].scope_logs[0].log_records.len(), 1);
    let s = h.running.stats().snapshot();
    assert_eq!(
        (
            s.accepted_data_points,
            s.accepted_log_records,
            s.rejected_log_records
        ),
        (3, 1, 1)
    );
}

#[tokio::test]
async fn a_signal_without_a_sink_is_not_served() {
    let h = start(local(), false).await;
    let resp = h
        .post(
            "/v1/logs",
            "application/x-protobuf",
            false,
            logs(vec![]).encode_to_vec(),
        )
        .await;
    assert_eq!(resp.status(), 404);
    assert!(resp.text().await.unwrap().contains("/v1/metrics"));
    let resp = h
        .post("/v1/traces", "application/x-protobuf", false, Vec::new())
        .await;
    assert_eq!(resp.status(), 404);
    let mut lc = LogsServiceClient::connect(h.grpc_url()).await.unwrap();
    let err = lc
        .export(logs(vec![record("x", vec![], vec![])]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unimplemented);
    assert!(
        err.message().contains("MetricsService"),
        "{}",
        err.message()
    );
}

#[tokio::test]
async fn backpressure_and_size_limits_apply_to_metrics_and_logs() {
    let h = start(
        ReceiverConfig {
            max_body_bytes: 4096,
            ..local()
        },
        true,
    )
    .await;
    h.metrics.push_back.store(true, Ordering::SeqCst);
    let resp = h
        .post(
            "/v1/metrics",
            "application/x-protobuf",
            false,
            metrics(vec![counter("c", &[1.0, 2.0])]).encode_to_vec(),
        )
        .await;
    assert_eq!(resp.status(), 503);
    assert_eq!(resp.headers()["retry-after"], "2");
    let mut mc = MetricsServiceClient::connect(h.grpc_url()).await.unwrap();
    let err = mc
        .export(metrics(vec![counter("c", &[1.0])]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::ResourceExhausted);

    let big = logs(vec![record(&"x".repeat(5000), vec![], vec![])]);
    let resp = h
        .post(
            "/v1/logs",
            "application/x-protobuf",
            false,
            big.encode_to_vec(),
        )
        .await;
    assert_eq!(resp.status(), 413);
    // A gzip body that only grows past the limit once decompressed.
    let resp = h
        .post(
            "/v1/logs",
            "application/x-protobuf",
            true,
            big.encode_to_vec(),
        )
        .await;
    assert_eq!(resp.status(), 413);
    let resp = h
        .post(
            "/v1/logs",
            "application/x-protobuf",
            false,
            b"\xff\xff\xff".to_vec(),
        )
        .await;
    assert_eq!(resp.status(), 400);

    let s = h.running.stats().snapshot();
    assert_eq!(s.backpressured_requests, 2);
    assert_eq!(s.backpressured_data_points, 3);
    assert_eq!(s.too_large_requests, 2);
    assert_eq!(s.malformed_requests, 1);
    assert!(h.logs.take().is_empty());
}
