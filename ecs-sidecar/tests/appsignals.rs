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
use otel_aws_testkit::xray_api::{FakeXrayApi, XrayApiOptions};
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

/// The metrics the three requests of `appsignals/shop.py` make (answered
/// 200, 503 and 404, each with one call to inventory, which answers 503
/// once), whichever SDK sent them: the service's and the dependency's
/// dimension sets, Error and Fault.
fn assert_shop_request_mix(docs: &[J]) {
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
    assert_eq!(count_sum(dep, "Fault"), (3.0, 1.0), "one 503 call");
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
    assert_eq!(count_sum(service, "Latency").0, 3.0);
    assert_shop_request_mix(&docs);
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
    // ADOT SDKs' own metrics: :4315/:4316 only, as the CloudWatch agent takes them.
    let metrics = cfg
        .service
        .pipelines
        .get("metrics/application_signals")
        .unwrap();
    assert_eq!(metrics.receivers, ["otlp/application_signals"]);
    assert!(
        metrics
            .processors
            .contains(&"awsapplicationsignals".to_owned())
    );
    assert_eq!(metrics.exporters, ["awsemf/application_signals"]);
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
    // Traces and metrics pipelines only.
    let logs = "receivers:\n  otlp:\n    protocols:\n      http:\nprocessors:\n  awsapplicationsignals:\nexporters:\n  debug:\nservice:\n  pipelines:\n    logs:\n      receivers: [otlp]\n      processors: [awsapplicationsignals]\n      exporters: [debug]\n";
    let err = Config::parse(logs, "test.yaml", &test_env(&[]))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("service.pipelines.logs.processors[0]") && err.contains("traces and metrics"),
        "{err}"
    );
}

/// Variable naming a Python with aws-opentelemetry-distro (else `.tools/adot-venv`).
const ADOT_PYTHON: &str = "OTEL_AWS_TEST_ADOT_PYTHON";
const ADOT_HINT: &str = "run `make test-deps` (installs aws-opentelemetry-distro into .tools/adot-venv) or set OTEL_AWS_TEST_ADOT_PYTHON";

/// The ADOT Python interpreter, with [`Need::SkipOutsideCi`]'s rules: skip
/// loudly on a developer machine, fail under CI or when the variable is set.
fn adot_python() -> Option<std::path::PathBuf> {
    let explicit = std::env::var(ADOT_PYTHON)
        .ok()
        .filter(|p| !p.trim().is_empty())
        .map(std::path::PathBuf::from);
    let strict = explicit.is_some() || tooling::ci();
    let python = explicit.unwrap_or_else(|| {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../.tools/adot-venv/bin/python3")
    });
    let check = Command::new(&python)
        .args(["-c", "import amazon.opentelemetry.distro"])
        .output();
    if check.as_ref().is_ok_and(|o| o.status.success()) {
        return Some(python);
    }
    let why = match &check {
        Ok(o) => String::from_utf8_lossy(&o.stderr).into_owned(),
        Err(e) => e.to_string(),
    };
    assert!(
        !strict,
        "adot_sdk: {} cannot import ADOT ({why}): {ADOT_HINT}",
        python.display()
    );
    eprintln!(
        "SKIPPED adot_sdk: {} cannot import ADOT ({why}); {ADOT_HINT}",
        python.display()
    );
    None
}

/// The shipped config with every listener on 127.0.0.1:0 (tests run in parallel).
fn shipped_config_on_free_ports() -> String {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/config/application-signals.yaml"
    ))
    .unwrap();
    ["4315", "4316", "4317", "4318", "2000", "13133"]
        .iter()
        .fold(text, |t, port| {
            t.replace(&format!("0.0.0.0:{port}"), "127.0.0.1:0")
        })
}

/// Every EMF document in `/aws/application-signals/data`, all streams.
async fn application_signals_documents(moto: &Moto) -> Vec<J> {
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
        .filter_log_events()
        .log_group_name("/aws/application-signals/data")
        .send()
        .await
        .unwrap();
    got.events()
        .iter()
        .map(|e| serde_json::from_str(e.message().unwrap()).unwrap())
        .collect()
}

/// The real ADOT Python distro (Application Signals on, its documented
/// settings for a CloudWatch agent sidecar) behind the sidecar running the
/// shipped config/application-signals.yaml: ADOT's own Latency/Error/Fault
/// (OTLP to :4316/v1/metrics) come out as the CloudWatch agent writes them
/// (EMF in /aws/application-signals/data, namespace ApplicationSignals, the
/// agent's dimension sets, Service/Operation/Environment from ADOT's labels
/// and the ECS resource), its spans reach X-Ray without the sidecar's
/// trace-side processor touching them, and nothing is counted twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adot_sdk_metrics_become_the_agents_emf() {
    let Some(python) = adot_python() else {
        return;
    };
    let moto = Moto::start("appsignals-adot", None);
    let xray = FakeXrayApi::start(XrayApiOptions::signed("us-east-1"))
        .await
        .unwrap();
    let env = test_env(&[
        ("AWS_ENDPOINT_URL_LOGS", moto.url().to_owned()),
        ("AWS_ENDPOINT_URL_XRAY", xray.url()),
        // What the ecs detector reads on ECS, through the env detector here.
        (
            "OTEL_RESOURCE_ATTRIBUTES",
            "cloud.platform=aws_ecs,aws.ecs.cluster.arn=arn:aws:ecs:us-east-1:123456789012:cluster/shop"
                .into(),
        ),
    ]);
    let sidecar = start(&shipped_config_on_free_ports(), env).await;
    let appsignals = sidecar
        .receiver_addrs("otlp/application_signals")
        .unwrap()
        .http
        .unwrap();

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/appsignals/adot_app.py");
    let instrument = python.with_file_name("opentelemetry-instrument");
    let out = Command::new(&python)
        .arg(&instrument)
        .arg(&python)
        .arg(script)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("OTEL_PYTHON_DISTRO", "aws_distro")
        .env("OTEL_PYTHON_CONFIGURATOR", "aws_configurator")
        .env("OTEL_SERVICE_NAME", "checkout")
        .env("OTEL_AWS_APPLICATION_SIGNALS_ENABLED", "true")
        .env(
            "OTEL_AWS_APPLICATION_SIGNALS_EXPORTER_ENDPOINT",
            format!("http://{appsignals}/v1/metrics"),
        )
        .env(
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            format!("http://{appsignals}/v1/traces"),
        )
        // Every span sampled (ADOT's default is X-Ray's remote sampler).
        .env("OTEL_TRACES_SAMPLER", "always_on")
        .env("OTEL_METRICS_EXPORTER", "none")
        .env("OTEL_LOGS_EXPORTER", "none")
        // Only the Application Signals metrics: no runtime metrics, no ServiceEvents.
        .env("OTEL_AWS_APPLICATION_SIGNALS_RUNTIME_ENABLED", "false")
        .env("OTEL_AWS_SERVICE_EVENTS_ENABLED", "false")
        .output()
        .unwrap();
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("SENT 6"),
        "ADOT app failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // Spans: 3 segments and 3 subsegments reach X-Ray.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    while xray.segments().len() < 6 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "6 documents not sent: {:?} {:?}",
            xray.segments(),
            xray.rejected()
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let segments = xray.segments();
    assert_eq!(segments.len(), 6, "{segments:#?}");
    let meta = |d: &J, k: &str| d["metadata"]["default"][k].as_str().map(str::to_owned);
    let (roots, calls): (Vec<&J>, Vec<&J>) = segments.iter().partition(|d| d["type"].is_null());
    assert_eq!((roots.len(), calls.len()), (3, 3), "{segments:#?}");
    for d in &segments {
        // ADOT's attributes as ADOT set them; the sidecar's processor adds
        // aws.local.environment to spans it annotates: none here.
        assert_eq!(meta(d, "aws.local.service").as_deref(), Some("checkout"));
        assert_eq!(
            meta(d, "aws.local.operation").as_deref(),
            Some("GET /orders/{id}")
        );
        assert_eq!(meta(d, "aws.local.environment"), None, "{d:#}");
    }
    for d in &roots {
        assert_eq!(d["name"], "checkout");
        assert_eq!(meta(d, "aws.span.kind").as_deref(), Some("LOCAL_ROOT"));
    }
    for d in &calls {
        assert_eq!(d["name"], "inventory:8080");
        assert_eq!(meta(d, "aws.span.kind").as_deref(), Some("CLIENT"));
        assert_eq!(
            meta(d, "aws.remote.operation").as_deref(),
            Some("GET /items")
        );
    }

    // Metrics: the exporter sends what it holds on shutdown at the latest.
    assert!(sidecar.shutdown().await);
    let docs = application_signals_documents(&moto).await;
    // One document per label set ADOT sent; none from the trace-side
    // processor (it left ADOT's spans alone), so nothing is counted twice.
    assert_eq!(docs.len(), 2, "{docs:#?}");
    for d in &docs {
        let cw = &d["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(cw["Namespace"], "ApplicationSignals");
        assert_eq!(d["Service"], "checkout");
        assert_eq!(d["Operation"], "GET /orders/{id}");
        assert_eq!(d["Environment"], "ecs:shop", "the agent's ECS resolver");
        for raw in ["aws.span.kind", "aws.local.service", "aws.local.operation"] {
            assert!(d.get(raw).is_none(), "{raw} left in {d:#}");
        }
        let latency = cw["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["Name"] == "Latency")
            .unwrap();
        assert_eq!(latency["Unit"], "Milliseconds");
        assert_eq!(count_sum(d, "Latency").0, 3.0, "three requests");
    }
    assert_shop_request_mix(&docs);
}

/// The shipped awsemf/application_signals settings are the CloudWatch
/// agent's, as the distro states them for the span-derived metrics (one
/// list: a change to either fails here).
#[test]
fn shipped_emf_settings_are_the_span_metrics_settings() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/config/application-signals.yaml"
    );
    let (cfg, _) = Config::load(path, &test_env(&[])).unwrap();
    let Some(otel_aws_sidecar::config::Exporter::AwsEmf(emf)) =
        cfg.exporters.get("awsemf/application_signals")
    else {
        panic!("no awsemf/application_signals exporter");
    };
    assert_eq!(emf.emf_config(), otel_aws_distro::appsignals::emf_config());
}

/// An SDK's Application Signals metrics over OTLP/gRPC to :4315 (ADOT's
/// gRPC default) through the shipped config, labelled as ADOT labels them:
/// the resource's `deployment.environment` wins over the point's own
/// `aws.local.environment` (the agent's resolver), a PRODUCER point gets
/// the dependency dimension sets, a point without `aws.span.kind` (such as
/// ADOT's runtime metrics) is dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_metrics_over_grpc_4315_follow_the_agents_rules() {
    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
    use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
    use opentelemetry_proto::tonic::metrics::v1::{
        AggregationTemporality, Histogram, HistogramDataPoint, Metric, ResourceMetrics,
        ScopeMetrics, metric::Data,
    };
    use opentelemetry_proto::tonic::resource::v1::Resource;

    let moto = Moto::start("appsignals-grpc", None);
    let sidecar = start(
        &shipped_config_on_free_ports(),
        test_env(&[("AWS_ENDPOINT_URL_LOGS", moto.url().to_owned())]),
    )
    .await;
    let grpc = sidecar
        .receiver_addrs("otlp/application_signals")
        .unwrap()
        .grpc
        .unwrap();
    let producer = vec![
        kv("aws.span.kind", "PRODUCER"),
        kv("aws.local.service", "billing"),
        kv("aws.local.operation", "POST /invoices"),
        kv("aws.local.environment", "set-by-sdk"),
        kv("aws.remote.service", "AWS::SQS"),
        kv("aws.remote.operation", "SendMessage"),
        kv("aws.remote.resource.type", "AWS::SQS::Queue"),
        kv("aws.remote.resource.identifier", "invoices"),
    ];
    let histogram = |name: &str, unit: &str, sum: f64, attributes: Vec<_>| Metric {
        name: name.to_owned(),
        unit: unit.to_owned(),
        data: Some(Data::Histogram(Histogram {
            aggregation_temporality: AggregationTemporality::Delta as i32,
            data_points: vec![HistogramDataPoint {
                attributes,
                count: 2,
                sum: Some(sum),
                min: Some(0.0),
                max: Some(sum),
                bucket_counts: vec![2],
                ..HistogramDataPoint::default()
            }],
        })),
        ..Metric::default()
    };
    let req = ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: vec![
                    kv("service.name", "billing"),
                    kv("deployment.environment", "prod"),
                ],
                ..Resource::default()
            }),
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![
                    histogram("Latency", "Milliseconds", 12.0, producer.clone()),
                    histogram("Error", "", 0.0, producer.clone()),
                    histogram("Fault", "", 1.0, producer),
                    // A runtime metric: no aws.span.kind.
                    histogram(
                        "process.runtime.cpython.gc_count",
                        "",
                        3.0,
                        vec![kv("aws.local.service", "billing")],
                    ),
                ],
                ..ScopeMetrics::default()
            }],
            ..ResourceMetrics::default()
        }],
    };
    MetricsServiceClient::connect(format!("http://{grpc}"))
        .await
        .unwrap()
        .export(req)
        .await
        .unwrap();

    assert!(sidecar.shutdown().await);
    let docs = application_signals_documents(&moto).await;
    assert_eq!(docs.len(), 1, "the runtime metric is dropped: {docs:#?}");
    let d = &docs[0];
    assert_eq!(
        d["_aws"]["CloudWatchMetrics"][0]["Namespace"],
        "ApplicationSignals"
    );
    assert_eq!(d["Telemetry.Source"], "ProducerSpan");
    assert_eq!(d["Service"], "billing");
    assert_eq!(d["Environment"], "prod");
    assert_eq!(d["RemoteService"], "AWS::SQS");
    assert_eq!(d["RemoteResourceIdentifier"], "invoices");
    assert_eq!(count_sum(d, "Fault"), (2.0, 1.0));
    let (e, s, o, rs, ro) = (
        "Environment",
        "Service",
        "Operation",
        "RemoteService",
        "RemoteOperation",
    );
    let (id, ty) = ("RemoteResourceIdentifier", "RemoteResourceType");
    // The agent's dependency sets whose names the document has (no RemoteEnvironment).
    assert_eq!(
        sorted_sets(d),
        sets(&[
            &[e, s, o, rs, ro, id, ty],
            &[e, s, o, rs, ro],
            &[e, s, rs],
            &[e, s, rs, ro, id, ty],
            &[e, s, rs, ro],
            &[e, s, rs, id, ty],
            &[rs, id, ty],
            &[rs],
        ])
    );
}
