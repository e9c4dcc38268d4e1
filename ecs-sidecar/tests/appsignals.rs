//! Application Signals through the sidecar: the plain OpenTelemetry Python
//! SDK (no ADOT) sends spans to the `otlp` receiver; the
//! `awsapplicationsignals` processor puts ADOT's `aws.*` attributes on them
//! (seen in the `file` exporter's output) and sends Latency/Error/Fault as
//! EMF through PutLogEvents to moto's CloudWatch Logs, read back with
//! GetLogEvents. Plus the shipped config/application-signals.yaml.
//!
//! Python: `OTEL_AWS_TEST_PYTHON` (the Makefile sets it), else
//! `.tools/venv`; skipped outside CI when neither is there, fails in CI.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;

use aws_sdk_cloudwatchlogs::config::{BehaviorVersion, Credentials, Region};
use common::*;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::Span;
use otel_aws_sidecar::config::{Config, Processor};
use otel_aws_testkit::moto::Moto;
use otel_aws_testkit::tooling::{self, Need};
use serde_json::Value as J;

const MODULES: &str =
    "import opentelemetry.sdk.trace, opentelemetry.exporter.otlp.proto.http.trace_exporter";
const HINT: &str = "run `make test-deps` (installs the OpenTelemetry Python SDK and OTLP/HTTP exporter into .tools/venv) or set OTEL_AWS_TEST_PYTHON";

fn config(logs_url: &str, file: &str) -> String {
    format!(
        "
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:0
processors:
  resourcedetection:
    detectors: [env]
    override: false
  awsapplicationsignals:
    metrics_flush_interval: 1h
    endpoint: {logs_url}
  batch:
    timeout: 50ms
exporters:
  file:
    path: {file}
service:
  pipelines:
    traces:
      receivers: [otlp]
      processors: [resourcedetection, awsapplicationsignals, batch]
      exporters: [file]
"
    )
}

fn attr<'a>(s: &'a Span, key: &str) -> Option<&'a str> {
    s.attributes.iter().find(|kv| kv.key == key).and_then(|kv| {
        match kv.value.as_ref()?.value.as_ref()? {
            Value::StringValue(s) => Some(s.as_str()),
            _ => None,
        }
    })
}

fn spans_in(file: &std::path::Path) -> Vec<Span> {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .flat_map(|l| {
            let req: ExportTraceServiceRequest = serde_json::from_str(l).unwrap();
            req.resource_spans
                .into_iter()
                .flat_map(|rs| rs.scope_spans)
                .flat_map(|ss| ss.spans)
                .collect::<Vec<_>>()
        })
        .collect()
}

fn sorted_sets(doc: &J) -> Vec<Vec<String>> {
    let mut sets: Vec<Vec<String>> =
        serde_json::from_value(doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"].clone()).unwrap();
    for s in &mut sets {
        s.sort();
    }
    sets.sort();
    sets
}

fn sets(list: &[&[&str]]) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = list
        .iter()
        .map(|s| {
            let mut v: Vec<String> = s.iter().map(|x| (*x).to_owned()).collect();
            v.sort();
            v
        })
        .collect();
    out.sort();
    out
}

fn count_sum(doc: &J, metric: &str) -> (f64, f64) {
    (
        doc[metric]["Count"].as_f64().unwrap(),
        doc[metric]["Sum"].as_f64().unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_python_sdk_spans_get_application_signals() {
    let Some(python) = tooling::python("appsignals", MODULES, HINT, Need::SkipOutsideCi) else {
        return;
    };
    let moto = Moto::start("appsignals", None);
    let file =
        std::env::temp_dir().join(format!("otel-aws-appsignals-{}.jsonl", std::process::id()));
    let _ = std::fs::remove_file(&file);
    let env = test_env(&[(
        "OTEL_RESOURCE_ATTRIBUTES",
        "cloud.platform=aws_ecs,aws.ecs.cluster.arn=arn:aws:ecs:us-east-1:123456789012:cluster/shop"
            .into(),
    )]);
    let sidecar = start(&config(moto.url(), file.to_str().unwrap()), env).await;
    let http = sidecar.receiver_addrs("otlp").unwrap().http.unwrap();

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/appsignals/plain_sdk.py");
    let out = Command::new(&python)
        .arg(script)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("OTEL_SERVICE_NAME", "checkout")
        .env(
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            format!("http://{http}/v1/traces"),
        )
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // Spans: every one annotated (the file exporter writes what X-Ray would get).
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    while spans_in(&file).len() < 6 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "6 spans not exported"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let spans = spans_in(&file);
    assert_eq!(spans.len(), 6);
    for s in &spans {
        assert_eq!(attr(s, "aws.local.service"), Some("checkout"), "{s:?}");
        assert_eq!(attr(s, "aws.local.environment"), Some("ecs:shop"));
        assert_eq!(attr(s, "aws.local.operation"), Some("GET /orders/{id}"));
        match s.name.as_str() {
            "GET /orders/{id}" => assert_eq!(attr(s, "aws.span.kind"), Some("LOCAL_ROOT")),
            _ => {
                assert_eq!(attr(s, "aws.span.kind"), Some("CLIENT"));
                assert_eq!(attr(s, "aws.remote.service"), Some("inventory:8080"));
                assert_eq!(attr(s, "aws.remote.operation"), Some("GET /items"));
            }
        }
    }

    // Metrics: the last interval is sent on shutdown.
    assert!(sidecar.shutdown().await);
    let client = aws_sdk_cloudwatchlogs::Client::from_conf(
        aws_sdk_cloudwatchlogs::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(moto.url())
            .credentials_provider(Credentials::new(
                "AKIDEXAMPLE",
                "secret",
                None,
                None,
                "test",
            ))
            .build(),
    );
    let got = client
        .get_log_events()
        .log_group_name("/aws/application-signals/data")
        .log_stream_name(otel_aws_distro::emf::DEFAULT_LOG_STREAM)
        .start_from_head(true)
        .send()
        .await
        .unwrap();
    let docs: Vec<J> = got
        .events()
        .iter()
        .map(|e| serde_json::from_str(e.message().unwrap()).unwrap())
        .collect();
    assert_eq!(docs.len(), 2, "{docs:#?}");
    for d in &docs {
        let cw = &d["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(cw["Namespace"], "ApplicationSignals");
        assert!(d["_aws"]["Timestamp"].as_i64().unwrap() > 1_700_000_000_000);
        assert_eq!(d["Service"], "checkout");
        assert_eq!(d["Environment"], "ecs:shop");
        assert_eq!(d["Operation"], "GET /orders/{id}");
        let names: Vec<&str> = cw["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["Name"].as_str().unwrap())
            .collect();
        for n in ["Latency", "Error", "Fault"] {
            assert!(names.contains(&n), "{names:?}");
        }
    }
    let service = docs
        .iter()
        .find(|d| d["Telemetry.Source"] == "LocalRootSpan")
        .unwrap();
    assert_eq!(
        sorted_sets(service),
        sets(&[
            &["Environment", "Service", "Operation"],
            &["Environment", "Service"]
        ])
    );
    assert_eq!(count_sum(service, "Latency").0, 3.0);
    assert_eq!(count_sum(service, "Error"), (3.0, 1.0), "one 404");
    assert_eq!(count_sum(service, "Fault"), (3.0, 1.0), "one 503");

    let dep = docs
        .iter()
        .find(|d| d["Telemetry.Source"] == "ClientSpan")
        .unwrap();
    assert_eq!(dep["RemoteService"], "inventory:8080");
    assert_eq!(dep["RemoteOperation"], "GET /items");
    let (e, s, o, rs, ro) = (
        "Environment",
        "Service",
        "Operation",
        "RemoteService",
        "RemoteOperation",
    );
    assert_eq!(
        sorted_sets(dep),
        sets(&[&[e, s, o, rs, ro], &[e, s, rs], &[e, s, rs, ro], &[rs]])
    );
    assert_eq!(count_sum(dep, "Error"), (3.0, 0.0));
    assert_eq!(count_sum(dep, "Fault"), (3.0, 1.0));
    let _ = std::fs::remove_file(&file);
}

#[test]
fn shipped_config_listens_on_the_application_signals_ports() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/config/application-signals.yaml"
    );
    let env = test_env(&[]);
    let (cfg, _) = Config::load(path, &env).unwrap();
    let text = std::fs::read_to_string(path).unwrap();
    for port in [
        "0.0.0.0:4315",
        "0.0.0.0:4316",
        "0.0.0.0:4317",
        "0.0.0.0:4318",
        "0.0.0.0:2000",
    ] {
        assert!(text.contains(port), "{port}");
    }
    let Some(Processor::AwsApplicationSignals(a)) = cfg.processors.get("awsapplicationsignals")
    else {
        panic!("no awsapplicationsignals processor");
    };
    assert_eq!(a.metrics_flush_interval.map(|d| d.0.as_secs()), Some(60));
    let traces = cfg.service.pipelines.get("traces").unwrap();
    assert_eq!(
        traces.processors,
        [
            "memory_limiter",
            "resourcedetection",
            "awsapplicationsignals",
            "batch"
        ]
    );
    assert_eq!(
        traces.receivers,
        ["otlp/application_signals", "otlp", "awsxray"]
    );
    assert_eq!(traces.exporters, ["awsxray"]);
}

#[test]
fn bad_processor_settings_name_the_path() {
    for (yaml, path) in [
        (
            "max_series: 0",
            "processors.awsapplicationsignals.max_series",
        ),
        (
            "metrics_flush_interval: 0s",
            "processors.awsapplicationsignals.metrics_flush_interval",
        ),
        ("flush: 1s", "processors.awsapplicationsignals.flush"),
    ] {
        let cfg = format!(
            "receivers:\n  otlp:\n    protocols:\n      http:\nprocessors:\n  awsapplicationsignals:\n    {yaml}\nexporters:\n  debug:\nservice:\n  pipelines:\n    traces:\n      receivers: [otlp]\n      processors: [awsapplicationsignals]\n      exporters: [debug]\n"
        );
        let err = Config::parse(&cfg, "test.yaml", &test_env(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains(path), "{yaml}: {err}");
    }
}
