//! Metrics and logs through the sidecar: the real OpenTelemetry Python SDK
//! (OTLP/HTTP protobuf metrics and logs exporters) → the sidecar's `otlp`
//! receiver → `metrics` and `logs` pipelines → `otlphttp` exporters signed
//! for `monitoring` and `logs` (SigV4 verified by the testkit's fakes, the
//! logs endpoint requiring `x-aws-log-group`/`x-aws-log-stream`) and a
//! `file` exporter. Plus a gRPC client sending both signals, and config
//! checks of which components carry which signal.
//!
//! Python: `OTEL_AWS_TEST_PYTHON` (the Makefile sets it), else
//! `.tools/venv`; skipped outside CI when neither is there, fails in CI.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use otel_aws_distro::Env;
use otel_aws_sidecar::config::Config;
use otel_aws_testkit::otlp::{FakeOtlpEndpoint, OtlpEndpointOptions};
use otel_aws_testkit::tooling::{self, Need};
use prost::Message;

const MODULES: &str = "import opentelemetry.sdk._logs, opentelemetry.exporter.otlp.proto.http.metric_exporter, opentelemetry.exporter.otlp.proto.http._log_exporter";
const HINT: &str = "run `make test-deps` (installs the OpenTelemetry Python SDK and OTLP/HTTP exporter into .tools/venv) or set OTEL_AWS_TEST_PYTHON";

fn config(metrics_url: &str, logs_url: &str, file: &str) -> String {
    format!(
        "
extensions:
  sigv4auth:
    region: us-east-1
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:0
      grpc:
        endpoint: 127.0.0.1:0
processors:
  batch:
    timeout: 50ms
  resourcedetection:
    detectors: [env]
  memory_limiter:
    limit_mib: 256
exporters:
  otlphttp/metrics:
    metrics_endpoint: {metrics_url}
    auth:
      authenticator: sigv4auth
  otlphttp/logs:
    logs_endpoint: {logs_url}
    headers:
      x-aws-log-group: /ecs/checkout
      x-aws-log-stream: task-1
    auth:
      authenticator: sigv4auth
  file:
    path: {file}
service:
  extensions: [sigv4auth]
  pipelines:
    metrics:
      receivers: [otlp]
      processors: [memory_limiter, resourcedetection, batch]
      exporters: [otlphttp/metrics, file]
    logs:
      receivers: [otlp]
      processors: [batch, resourcedetection]
      exporters: [otlphttp/logs]
"
    )
}

fn metrics_of(fake: &FakeOtlpEndpoint) -> Vec<ExportMetricsServiceRequest> {
    fake.accepted_bodies()
        .iter()
        .map(|b| ExportMetricsServiceRequest::decode(b.as_ref()).unwrap())
        .collect()
}

fn logs_of(fake: &FakeOtlpEndpoint) -> Vec<ExportLogsServiceRequest> {
    fake.accepted_bodies()
        .iter()
        .map(|b| ExportLogsServiceRequest::decode(b.as_ref()).unwrap())
        .collect()
}

fn to_hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn resource_has(
    attrs: &[opentelemetry_proto::tonic::common::v1::KeyValue],
    k: &str,
    v: &str,
) -> bool {
    attrs.iter().any(|a| {
        a.key == k
            && matches!(a.value.as_ref().and_then(|v| v.value.as_ref()), Some(Value::StringValue(s)) if s == v)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_metrics_and_logs_reach_signed_cloudwatch_endpoints() {
    let Some(python) = tooling::python("signals", MODULES, HINT, Need::SkipOutsideCi) else {
        return;
    };
    let m = FakeOtlpEndpoint::start(OtlpEndpointOptions::cloudwatch_metrics("us-east-1"))
        .await
        .unwrap();
    let l = FakeOtlpEndpoint::start(OtlpEndpointOptions::cloudwatch_logs("us-east-1"))
        .await
        .unwrap();
    let file = std::env::temp_dir().join(format!("otel-aws-signals-{}.jsonl", std::process::id()));
    let _ = std::fs::remove_file(&file);
    let env = test_env(&[(
        "OTEL_RESOURCE_ATTRIBUTES",
        "deployment.environment=e2e".into(),
    )]);
    let sidecar = start(
        &config(&m.traces_url(), &l.traces_url(), file.to_str().unwrap()),
        env,
    )
    .await;
    let http = sidecar.receiver_addrs("otlp").unwrap().http.unwrap();

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/signals/otel_signals.py");
    let out = Command::new(&python)
        .arg(script)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("OTEL_SERVICE_NAME", "checkout")
        .env(
            "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
            format!("http://{http}/v1/metrics"),
        )
        .env(
            "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
            format!("http://{http}/v1/logs"),
        )
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "python failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ids: Vec<&str> = stdout.split_whitespace().collect();
    let (trace_id, span_id) = (ids[1].to_owned(), ids[3].to_owned());

    // Metrics: signed for `monitoring` (the fake refuses anything else).
    wait_until("3 metrics", || {
        metrics_of(&m)
            .iter()
            .flat_map(|r| &r.resource_metrics)
            .flat_map(|r| &r.scope_metrics)
            .map(|s| s.metrics.len())
            .sum::<usize>()
            >= 3
    })
    .await;
    assert!(m.rejected().is_empty(), "{:?}", m.rejected());
    let got = metrics_of(&m);
    let rm = &got[0].resource_metrics[0];
    let attrs = &rm.resource.as_ref().unwrap().attributes;
    assert!(resource_has(attrs, "service.name", "checkout"));
    // resourcedetection (env) merged into the SDK's resource.
    assert!(
        resource_has(attrs, "deployment.environment", "e2e"),
        "{attrs:?}"
    );
    let metrics: Vec<_> = got
        .iter()
        .flat_map(|r| &r.resource_metrics)
        .flat_map(|r| &r.scope_metrics)
        .flat_map(|s| &s.metrics)
        .collect();
    let by_name = |n: &str| metrics.iter().find(|m| m.name == n).unwrap();
    let Some(Data::Sum(sum)) = &by_name("orders.placed").data else {
        panic!()
    };
    assert_eq!(
        sum.data_points[0].value,
        Some(opentelemetry_proto::tonic::metrics::v1::number_data_point::Value::AsInt(3))
    );
    let Some(Data::Histogram(h)) = &by_name("order.latency").data else {
        panic!()
    };
    assert_eq!(
        (h.data_points[0].count, h.data_points[0].sum),
        (2, Some(492.0))
    );
    assert!(matches!(by_name("queue.depth").data, Some(Data::Gauge(_))));
    let signed = &m.requests()[0];
    let auth = signed.headers["authorization"].to_str().unwrap();
    assert!(
        auth.contains("/us-east-1/monitoring/aws4_request"),
        "{auth}"
    );

    // Logs: signed for `logs`, with the group/stream headers, ids kept.
    wait_until("2 log records", || {
        logs_of(&l)
            .iter()
            .flat_map(|r| &r.resource_logs)
            .flat_map(|r| &r.scope_logs)
            .map(|s| s.log_records.len())
            .sum::<usize>()
            >= 2
    })
    .await;
    assert!(l.rejected().is_empty(), "{:?}", l.rejected());
    let req = &l.requests()[0];
    assert_eq!(req.headers["x-aws-log-group"], "/ecs/checkout");
    assert_eq!(req.headers["x-aws-log-stream"], "task-1");
    assert!(
        req.headers["authorization"]
            .to_str()
            .unwrap()
            .contains("/us-east-1/logs/aws4_request")
    );
    let records: Vec<_> = logs_of(&l)
        .into_iter()
        .flat_map(|r| r.resource_logs)
        .flat_map(|r| r.scope_logs)
        .flat_map(|s| s.log_records)
        .collect();
    let placed = records
        .iter()
        .find(|r| matches!(r.body.as_ref().and_then(|b| b.value.as_ref()), Some(Value::StringValue(s)) if s == "order placed"))
        .unwrap();
    assert_eq!(to_hex(&placed.trace_id), trace_id);
    assert_eq!(to_hex(&placed.span_id), span_id);
    let low = records
        .iter()
        .find(|r| matches!(r.body.as_ref().and_then(|b| b.value.as_ref()), Some(Value::StringValue(s)) if s == "stock low for sku-1"))
        .unwrap();
    // logs.proto: SEVERITY_NUMBER_WARN = 13.
    assert_eq!(low.severity_number, 13);
    assert!(low.trace_id.is_empty());

    // The file exporter wrote the metrics as OTLP/JSON lines.
    wait_until("the file exporter", || {
        std::fs::read_to_string(&file).is_ok_and(|t| t.contains("orders.placed"))
    })
    .await;
    let text = std::fs::read_to_string(&file).unwrap();
    let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert!(first["resourceMetrics"].is_array(), "{first}");
    assert!(sidecar.shutdown().await);
    let _ = std::fs::remove_file(&file);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_metrics_and_logs_share_one_receiver_with_traces() {
    use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
    use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
    use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
    use opentelemetry_proto::tonic::metrics::v1::{
        Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics,
        ScopeMetrics,
    };
    let dir = std::env::temp_dir().join(format!("otel-aws-signals-grpc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = |s: &str| dir.join(format!("{s}.jsonl"));
    let yaml = format!(
        "
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:0
      http:
        endpoint: 127.0.0.1:0
exporters:
  file/traces: {{path: {}}}
  file/metrics: {{path: {}}}
  file/logs: {{path: {}}}
  debug: {{}}
service:
  pipelines:
    traces: {{receivers: [otlp], exporters: [file/traces]}}
    metrics: {{receivers: [otlp], exporters: [file/metrics, debug]}}
    logs: {{receivers: [otlp], exporters: [file/logs, debug]}}
",
        path("traces").display(),
        path("metrics").display(),
        path("logs").display()
    );
    let sidecar = start(&yaml, test_env(&[])).await;
    let addrs = sidecar.receiver_addrs("otlp").unwrap();
    let url = format!("http://{}", addrs.grpc.unwrap());
    let metric = |name: &str, data| Metric {
        name: name.into(),
        data: Some(data),
        ..Default::default()
    };
    let metrics = ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![
                    metric(
                        "temp",
                        Data::Gauge(Gauge {
                            data_points: vec![NumberDataPoint::default(); 2],
                        }),
                    ),
                    // One good histogram point, one with bucket counts that do not match its bounds.
                    metric(
                        "lat",
                        Data::Histogram(Histogram {
                            data_points: vec![
                                HistogramDataPoint {
                                    bucket_counts: vec![1, 1],
                                    explicit_bounds: vec![5.0],
                                    ..Default::default()
                                },
                                HistogramDataPoint {
                                    bucket_counts: vec![1],
                                    explicit_bounds: vec![5.0],
                                    ..Default::default()
                                },
                            ],
                            aggregation_temporality: 2,
                        }),
                    ),
                ],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let resp = MetricsServiceClient::connect(url.clone())
        .await
        .unwrap()
        .export(metrics)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(resp.partial_success.unwrap().rejected_data_points, 1);
    let logs = ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: vec![LogRecord::default(); 4],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let resp = LogsServiceClient::connect(url)
        .await
        .unwrap()
        .export(logs)
        .await
        .unwrap();
    assert!(resp.into_inner().partial_success.is_none());
    let traces_http = format!("http://{}/v1/traces", addrs.http.unwrap());
    assert_eq!(post_otlp(&traces_http, &spans(2, 7)).await.status(), 200);

    let lines = |s: &str| std::fs::read_to_string(path(s)).unwrap_or_default();
    wait_until("three files", || {
        lines("metrics").contains("\"lat\"")
            && lines("logs").contains("logRecords")
            && lines("traces").contains("op-7-1")
    })
    .await;
    let t = sidecar.telemetry();
    assert!(sidecar.shutdown().await);
    drop(t);
    let m: ExportMetricsServiceRequest =
        serde_json::from_str(lines("metrics").lines().next().unwrap()).unwrap();
    let pts: usize = m.resource_metrics[0].scope_metrics[0]
        .metrics
        .iter()
        .map(otel_aws_distro::export::metric_points)
        .sum();
    assert_eq!(pts, 3);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn which_components_carry_which_signal() {
    let env = Env::from_pairs([("AWS_REGION", "us-east-1".to_owned())]);
    let base = |pipelines: &str, exporters: &str| {
        format!(
            "receivers:\n  otlp: {{protocols: {{http: {{}}}}}}\n  awsxray: {{}}\nexporters:\n{exporters}\nservice:\n  pipelines:\n{pipelines}\n"
        )
    };
    let cases = [
        // (pipelines, exporters, Ok or the start of the error's path)
        (
            "    metrics: {receivers: [otlp], exporters: [debug]}\n    logs/app: {receivers: [otlp], exporters: [debug]}",
            "  debug: {}",
            Ok(()),
        ),
        (
            "    metrics: {receivers: [awsxray], exporters: [debug]}",
            "  debug: {}",
            Err("service.pipelines.metrics.receivers[0]"),
        ),
        (
            "    logs: {receivers: [otlp], exporters: [awsxray]}",
            "  awsxray: {}",
            Err("service.pipelines.logs.exporters[0]"),
        ),
        // An otlphttp exporter needs a URL for each signal it exports.
        (
            "    logs: {receivers: [otlp], exporters: [otlphttp]}",
            "  otlphttp: {traces_endpoint: 'http://127.0.0.1:1/v1/traces'}",
            Err("exporters.otlphttp.endpoint"),
        ),
        (
            "    logs: {receivers: [otlp], exporters: [otlphttp]}",
            "  otlphttp: {logs_endpoint: 'http://127.0.0.1:1/v1/logs'}",
            Ok(()),
        ),
        (
            "    profiles: {receivers: [otlp], exporters: [debug]}",
            "  debug: {}",
            Err("service.pipelines.profiles"),
        ),
        (
            "    metrics/: {receivers: [otlp], exporters: [debug]}",
            "  debug: {}",
            Err("service.pipelines.metrics/"),
        ),
    ];
    for (pipelines, exporters, want) in cases {
        let yaml = base(pipelines, exporters);
        let got = Config::parse(&yaml, "test", &env);
        match want {
            Ok(()) => assert!(got.is_ok(), "{yaml}\n{got:?}"),
            Err(path) => {
                let e = got.unwrap_err().to_string();
                assert!(e.starts_with(path), "{yaml}\nwant {path}: got {e}");
            }
        }
    }
}
