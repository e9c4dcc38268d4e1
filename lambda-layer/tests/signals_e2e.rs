//! Metrics and logs beside traces, end to end in the Lambda simulator: the
//! real OpenTelemetry Python SDK (`tests/python/signals_function.py`, run
//! by `awslambdaric` through the layer's exec wrapper) sends a span, a
//! counter increment and a log record per invoke to the extension, which
//! exports each signal over OTLP/HTTP to its own SigV4-verifying fake:
//! `/v1/traces` (service `xray`), `/v1/metrics` (service `monitoring`),
//! `/v1/logs` (service `logs`, with the `x-aws-log-group` /
//! `x-aws-log-stream` headers from `OTEL_EXPORTER_OTLP_LOGS_HEADERS`).
//! With `OTEL_AWS_LAMBDA_PLATFORM_METRICS` and `OTEL_AWS_LAMBDA_FORWARD_LOGS`
//! on, the extension also exports the FaaS platform metrics made from the
//! simulator's `platform.*` events and forwards the function's stdout lines
//! (Telemetry API `function` events) as log records tied to each invoke's trace.
//!
//! Expectations come from the issue (signals, services, headers), the
//! OpenTelemetry FaaS metrics conventions (names, units, s not ms) and the
//! simulator's report (request ids, trace headers, invoke count).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, SeverityNumber};
use opentelemetry_proto::tonic::metrics::v1::{Metric, metric::Data, number_data_point};
use otel_aws_lambda::extension::stats::StatsSnapshot;
use otel_aws_testkit::lambda_sim::{InvokeSpec, Simulator};
use otel_aws_testkit::otlp::{FakeOtlpEndpoint, OtlpEndpointOptions};
use otel_aws_testkit::tooling::{self, Need};
use prost::Message;

mod common;
use common::{LayerDir, parse_trace_header, string_attr};

const MODULES: &str = "import awslambdaric, opentelemetry.sdk._logs, opentelemetry.sdk.metrics, \
    opentelemetry.exporter.otlp.proto.http.metric_exporter, \
    opentelemetry.exporter.otlp.proto.http._log_exporter, opentelemetry.propagators.aws";
const INSTALL_HINT: &str = "run `make test-deps` (installs awslambdaric and the OpenTelemetry \
    Python SDK into .tools/venv) or set OTEL_AWS_TEST_PYTHON to a Python that has them";
const LOG_GROUP: &str = "/aws/lambda/signals-e2e";
const LOG_STREAM: &str = "2026/12/05/[$LATEST]e2e";

fn body_str(r: &LogRecord) -> &str {
    match r.body.as_ref().and_then(|b| b.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => s,
        _ => "",
    }
}

/// Every metric received, with its resource attributes.
fn metrics_of(fake: &FakeOtlpEndpoint) -> Vec<(Vec<KeyValue>, Metric)> {
    let mut out = Vec::new();
    for body in fake.accepted_bodies() {
        let req = ExportMetricsServiceRequest::decode(body.as_ref()).unwrap();
        for rm in req.resource_metrics {
            let res = rm.resource.map(|r| r.attributes).unwrap_or_default();
            for sm in rm.scope_metrics {
                for m in sm.metrics {
                    out.push((res.clone(), m));
                }
            }
        }
    }
    out
}

/// Every log record received, with its resource attributes.
fn logs_of(fake: &FakeOtlpEndpoint) -> Vec<(Vec<KeyValue>, LogRecord)> {
    let mut out = Vec::new();
    for body in fake.accepted_bodies() {
        let req = ExportLogsServiceRequest::decode(body.as_ref()).unwrap();
        for rl in req.resource_logs {
            let res = rl.resource.map(|r| r.attributes).unwrap_or_default();
            for sl in rl.scope_logs {
                for r in sl.log_records {
                    out.push((res.clone(), r));
                }
            }
        }
    }
    out
}

/// True when some `orders.processed` point names `request_id`.
fn has_point_for(metrics: &[(Vec<KeyValue>, Metric)], request_id: &str) -> bool {
    metrics.iter().any(|(_, m)| {
        m.name == "orders.processed"
            && matches!(&m.data, Some(Data::Sum(s)) if s.data_points.iter().any(|p| string_attr(&p.attributes, "request_id") == Some(request_id)))
    })
}

/// Sum of the delta counter `name`'s points.
fn counter_total(metrics: &[(Vec<KeyValue>, Metric)], name: &str) -> i64 {
    metrics
        .iter()
        .filter(|(_, m)| m.name == name)
        .flat_map(|(_, m)| match &m.data {
            Some(Data::Sum(s)) => s.data_points.clone(),
            _ => Vec::new(),
        })
        .map(|p| match p.value {
            Some(number_data_point::Value::AsInt(v)) => v,
            _ => 0,
        })
        .sum()
}

/// (count, sum) of the histogram `name` over all points, and its unit.
fn histogram_total(metrics: &[(Vec<KeyValue>, Metric)], name: &str) -> (u64, f64, String) {
    let mut out = (0, 0.0, String::new());
    for (_, m) in metrics.iter().filter(|(_, m)| m.name == name) {
        out.2 = m.unit.clone();
        if let Some(Data::Histogram(h)) = &m.data {
            for p in &h.data_points {
                out.0 += p.count;
                out.1 += p.sum.unwrap_or(0.0);
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_metrics_and_logs_reach_signed_sinks_with_platform_metrics_and_forwarded_logs() {
    let python = tooling::python("signals_e2e", MODULES, INSTALL_HINT, Need::Required)
        .expect("Need::Required panics instead");
    let region = "us-east-1";
    let traces = FakeOtlpEndpoint::start(OtlpEndpointOptions::xray_traces(region))
        .await
        .unwrap();
    let metrics = Arc::new(
        FakeOtlpEndpoint::start(OtlpEndpointOptions::cloudwatch_metrics(region))
            .await
            .unwrap(),
    );
    let logs = Arc::new(
        FakeOtlpEndpoint::start(OtlpEndpointOptions::cloudwatch_logs(region))
            .await
            .unwrap(),
    );
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let layer = LayerDir::new("signals-e2e");
    // The layer's layout (package-layer.sh): the wrapper finds its completion
    // hook beside it; the hook flushes the global tracer, meter and logger
    // providers, then signals done.
    let root = layer.path().join("layer");
    std::os::unix::fs::symlink(
        manifest.join("scripts/otel-aws-wrapper"),
        root.join("otel-aws-wrapper"),
    )
    .unwrap();
    std::os::unix::fs::symlink(manifest.join("hooks"), root.join("otel-aws-hooks")).unwrap();
    let stats_file = layer.path().join("stats.json");
    const N: usize = 6;
    let name = "signals-orders";

    // At each freeze, the SDK's metric point and log record of that invoke
    // have left the extension (the hook flushed them before its done signal).
    let failures = Arc::new(Mutex::new(Vec::new()));
    let (m, l, fails) = (metrics.clone(), logs.clone(), failures.clone());
    let mut cfg = layer
        .sim_config([
            python.display().to_string(),
            "-m".into(),
            "awslambdaric".into(),
            "signals_function.handler".into(),
        ])
        .with_env("AWS_EXECUTION_ENV", "AWS_Lambda_python3.11")
        .with_env("PYTHONDONTWRITEBYTECODE", "1")
        .with_env("OTEL_AWS_LAMBDA_EXPORTER_ENDPOINT", traces.traces_url())
        .with_env("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", metrics.traces_url())
        .with_env("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", logs.traces_url())
        .with_env(
            "OTEL_EXPORTER_OTLP_LOGS_HEADERS",
            format!("x-aws-log-group={LOG_GROUP},x-aws-log-stream={LOG_STREAM}"),
        )
        .with_env("OTEL_AWS_SIGV4", "true") // 127.0.0.1 fakes are not AWS hosts: force signing
        .with_env("OTEL_AWS_LAMBDA_FLUSH", "end")
        .with_env("OTEL_AWS_LAMBDA_PLATFORM_METRICS", "true")
        .with_env("OTEL_AWS_LAMBDA_FORWARD_LOGS", "true")
        .with_env("OTEL_AWS_LAMBDA_STATS_FILE", stats_file.to_str().unwrap())
        .on_frozen(move |inv| {
            let id = &inv.request_id;
            if !has_point_for(&metrics_of(&m), id) {
                fails
                    .lock()
                    .unwrap()
                    .push(format!("{id}: no metric point at freeze"));
            }
            let want = format!("order processed {id}");
            if !logs_of(&l).iter().any(|(_, r)| body_str(r) == want) {
                fails
                    .lock()
                    .unwrap()
                    .push(format!("{id}: no log record at freeze"));
            }
        });
    cfg.exec_wrapper = Some(root.join("otel-aws-wrapper"));
    cfg.task_root = Some(manifest.join("tests/python"));
    cfg.handler = "signals_function.handler".into();
    cfg.function_name = name.into();
    cfg.invokes = (0..N)
        .map(|_| InvokeSpec::json(&serde_json::json!({})))
        .collect();

    let report = Simulator::run(cfg).await.unwrap();
    let stats: StatsSnapshot =
        serde_json::from_slice(&std::fs::read(&stats_file).unwrap()).unwrap();
    drop(layer);
    assert_eq!(report.init.status.as_str(), "success", "{:?}", report.init);
    common::assert_all_succeeded(&report, N);
    let failures = failures.lock().unwrap().clone();
    assert!(failures.is_empty(), "{failures:?}");

    // SigV4 verified per service; the logs headers as configured.
    assert!(
        traces.rejected().is_empty(),
        "traces: {:?}",
        traces.rejected()
    );
    assert!(
        metrics.rejected().is_empty(),
        "metrics: {:?}",
        metrics.rejected()
    );
    assert!(logs.rejected().is_empty(), "logs: {:?}", logs.rejected());
    let log_requests = logs.requests();
    assert!(!log_requests.is_empty());
    for r in &log_requests {
        assert_eq!(r.headers.get("x-aws-log-group").unwrap(), LOG_GROUP);
        assert_eq!(r.headers.get("x-aws-log-stream").unwrap(), LOG_STREAM);
        let auth = r.headers.get("authorization").unwrap().to_str().unwrap();
        assert!(
            auth.contains(&format!("/{region}/logs/aws4_request")),
            "{auth}"
        );
    }
    for r in &metrics.requests() {
        let auth = r.headers.get("authorization").unwrap().to_str().unwrap();
        assert!(
            auth.contains(&format!("/{region}/monitoring/aws4_request")),
            "{auth}"
        );
    }
    assert_eq!(traces.span_count(), N, "one SERVER span per invoke");

    // The SDK's data, per invoke, on the function's resource.
    let got_metrics = metrics_of(&metrics);
    let got_logs = logs_of(&logs);
    for inv in &report.invokes {
        let id = &inv.request_id;
        assert!(has_point_for(&got_metrics, id), "{id}");
        let (trace_id, parent) = parse_trace_header(&inv.trace_header);
        let (res, sdk) = got_logs
            .iter()
            .find(|(_, r)| body_str(r) == format!("order processed {id}"))
            .unwrap_or_else(|| panic!("no SDK log record for {id}"));
        assert_eq!(string_attr(res, "service.name"), Some(name));
        assert_eq!(sdk.severity_number, SeverityNumber::Warn as i32);
        // Emitted inside the SERVER span, which is parented on the invoke's header.
        assert_eq!(hex::encode(&sdk.trace_id), trace_id, "{id}");
        // The stdout line, forwarded from the Telemetry API: severity from
        // its JSON, tied to the running invoke (request id, trace, parent).
        let (_, fwd) = got_logs
            .iter()
            .find(|(_, r)| body_str(r) == format!("stdout {id}"))
            .unwrap_or_else(|| panic!("no forwarded line for {id} (invoke {} of {N})", inv.index));
        assert_eq!(fwd.severity_number, SeverityNumber::Error as i32);
        assert_eq!(fwd.severity_text, "ERROR");
        assert_eq!(
            string_attr(&fwd.attributes, "aws.lambda.log.type"),
            Some("function")
        );
        // Tied by its `time` to the invoke whose `platform.start` precedes
        // it, whenever its Telemetry API batch arrives: its own request id,
        // trace and parent.
        assert_eq!(
            string_attr(&fwd.attributes, "faas.invocation_id"),
            Some(id.as_str())
        );
        assert_eq!(hex::encode(&fwd.trace_id), trace_id, "{id}");
        assert_eq!(hex::encode(&fwd.span_id), parent, "{id}");
    }
    let (res, _) = got_metrics
        .iter()
        .find(|(_, m)| m.name == "orders.processed")
        .unwrap();
    assert_eq!(string_attr(res, "service.name"), Some(name));

    // Platform metrics (FaaS semantic conventions): every invoke counted
    // once, one cold start, durations in seconds, memory in bytes.
    assert_eq!(counter_total(&got_metrics, "faas.invocations"), N as i64);
    assert_eq!(counter_total(&got_metrics, "faas.errors"), 0);
    assert_eq!(counter_total(&got_metrics, "faas.coldstarts"), 1);
    let (count, sum, unit) = histogram_total(&got_metrics, "faas.invoke_duration");
    assert_eq!((count, unit.as_str()), (N as u64, "s"));
    let runtime_s: f64 = report
        .invokes
        .iter()
        .map(|i| i.runtime_duration_ms)
        .sum::<f64>()
        / 1000.0;
    assert!(
        sum > 0.0 && sum < runtime_s * 2.0 + 0.01,
        "{sum} s vs {runtime_s} s"
    );
    let (count, _, unit) = histogram_total(&got_metrics, "aws.lambda.billed_duration");
    assert_eq!((count, unit.as_str()), (N as u64, "s"));
    let (count, sum, unit) = histogram_total(&got_metrics, "faas.mem_usage");
    assert_eq!((count, unit.as_str()), (N as u64, "By"));
    assert!(sum >= N as f64 * 1_048_576.0, "max memory in bytes: {sum}");
    let (count, _, unit) = histogram_total(&got_metrics, "faas.init_duration");
    assert_eq!((count, unit.as_str()), (1, "s"));
    let platform = got_metrics
        .iter()
        .find(|(_, m)| m.name == "faas.invocations")
        .unwrap();
    assert_eq!(string_attr(&platform.0, "faas.name"), Some(name));

    // The hook flushed all three providers and signalled every invoke's end.
    assert_eq!(stats.done_by_function, N as u64, "{stats:?}");
    // The counters agree: nothing dropped.
    assert_eq!(stats.metric_points_dropped, 0, "{stats:?}");
    assert_eq!(stats.log_records_dropped, 0, "{stats:?}");
    assert!(stats.metric_points_exported >= N as u64, "{stats:?}");
    assert!(stats.log_records_exported >= 2 * N as u64, "{stats:?}");
}
