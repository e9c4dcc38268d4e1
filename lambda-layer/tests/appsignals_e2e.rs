//! CloudWatch Application Signals from the extension, end to end in the
//! Lambda simulator: the test function (`lambda_runtime` + the wrapper)
//! sends its spans to the extension with
//! `OTEL_AWS_APPLICATION_SIGNALS_ENABLED=true` in its environment; the
//! extension exports the annotated spans to a SigV4-verifying OTLP fake and
//! the Latency/Error/Fault metrics as EMF with PutLogEvents to moto's
//! CloudWatch Logs (an independent implementation that verifies SigV4 with
//! botocore), read back with boto3.
//!
//! Expectations come from ADOT's rules and the CloudWatch agent's
//! Application Signals settings as the issue and AWS document them: the
//! `aws.*` span attributes (`aws.span.kind` `LOCAL_ROOT` for the invoke's
//! SERVER span, whose parent is Lambda's; `<function>/FunctionHandler` as
//! the Lambda ingress operation; `lambda:default`), the log group
//! `/aws/application-signals/data`, namespace `ApplicationSignals`, no
//! dimension rollup, the dimension sets `[Environment, Service, Operation]`
//! and `[Environment, Service]` for service metrics and the agent's
//! dependency sets, of which a document carries those whose names it has;
//! Fault for an invoke that fails, Error for a 4xx dependency call.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers

use std::collections::BTreeSet;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::{Span, span::SpanKind};
use otel_aws_lambda::extension::stats::StatsSnapshot;
use otel_aws_testkit::lambda_sim::{InvokeSpec, SimConfig, SimCredentials, Simulator};
use otel_aws_testkit::moto::Moto;
use otel_aws_testkit::otlp::{FakeOtlpEndpoint, OtlpEndpointOptions};
use otel_aws_testkit::sigv4::{Credentials, SigV4Expect};
use serde_json::Value;

mod common;
use common::{LayerDir, string_attr};

/// One simulator at a time: 2 cores.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const FUNCTION: &str = "orders-fn";
const REGION: &str = "us-east-1";
const LOG_GROUP: &str = "/aws/application-signals/data";

/// The test function under the extension, spans to `traces`, stats to the layer folder.
fn sim(layer: &LayerDir, traces: &FakeOtlpEndpoint, invokes: &[Value]) -> SimConfig {
    let mut cfg = layer
        .sim_config([env!("CARGO_BIN_EXE_otel-aws-test-function")])
        .with_env("OTEL_AWS_LAMBDA_EXPORTER_ENDPOINT", traces.traces_url())
        .with_env("OTEL_AWS_SIGV4", "true") // a 127.0.0.1 fake is not an AWS host: force signing
        .with_env("OTEL_AWS_LAMBDA_FLUSH", "end")
        .with_env(
            "OTEL_AWS_LAMBDA_STATS_FILE",
            layer.path().join("stats.json").to_str().unwrap(),
        );
    cfg.function_name = FUNCTION.into();
    cfg.region = REGION.into();
    cfg.invokes = invokes.iter().map(InvokeSpec::json).collect();
    cfg
}

fn stats(layer: &LayerDir) -> StatsSnapshot {
    serde_json::from_slice(&std::fs::read(layer.path().join("stats.json")).unwrap()).unwrap()
}

fn spans(received: &[ExportTraceServiceRequest]) -> Vec<Span> {
    received
        .iter()
        .flat_map(|r| &r.resource_spans)
        .flat_map(|rs| &rs.scope_spans)
        .flat_map(|ss| ss.spans.clone())
        .collect()
}

fn attr<'a>(s: &'a Span, key: &str) -> Option<&'a str> {
    string_attr(&s.attributes, key)
}

/// Every event of every stream of `/aws/application-signals/data` in moto
/// (boto3, signed with `key`): `(stream names, messages)`.
fn read_emf(moto: &Moto, key: &(String, String)) -> (Vec<String>, Vec<Value>) {
    let script = r#"
import json, sys, boto3
logs = boto3.client("logs", endpoint_url=sys.argv[1], region_name="us-east-1",
                    aws_access_key_id=sys.argv[2], aws_secret_access_key=sys.argv[3])
group = sys.argv[4]
groups = [g["logGroupName"] for g in logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]]
streams, messages = [], []
if group in groups:
    for s in logs.describe_log_streams(logGroupName=group)["logStreams"]:
        streams.append(s["logStreamName"])
        events = logs.get_log_events(logGroupName=group, logStreamName=s["logStreamName"],
                                     startFromHead=True)["events"]
        messages += [e["message"] for e in events]
print(json.dumps({"streams": streams, "messages": messages}))
"#;
    let out = Command::new(moto.python())
        .args(["-c", script, moto.url(), &key.0, &key.1, LOG_GROUP])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "reading moto: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let streams = v["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect();
    let messages = v["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| serde_json::from_str(m.as_str().unwrap()).unwrap())
        .collect();
    (streams, messages)
}

/// The CloudWatch agent's Application Signals `metric_declarations` for
/// dependency metrics (ClientSpan, ProducerSpan, ConsumerSpan), as the
/// issue and the agent's configuration list them.
const DEPENDENCY_SETS: [&[&str]; 13] = [
    &[
        "Environment",
        "Service",
        "Operation",
        "RemoteService",
        "RemoteOperation",
        "RemoteEnvironment",
        "RemoteResourceIdentifier",
        "RemoteResourceType",
    ],
    &[
        "Environment",
        "Service",
        "Operation",
        "RemoteService",
        "RemoteOperation",
        "RemoteEnvironment",
    ],
    &[
        "Environment",
        "Service",
        "Operation",
        "RemoteService",
        "RemoteOperation",
        "RemoteResourceIdentifier",
        "RemoteResourceType",
    ],
    &[
        "Environment",
        "Service",
        "Operation",
        "RemoteService",
        "RemoteOperation",
    ],
    &[
        "Environment",
        "Service",
        "RemoteService",
        "RemoteEnvironment",
    ],
    &["Environment", "Service", "RemoteService"],
    &[
        "Environment",
        "Service",
        "RemoteService",
        "RemoteOperation",
        "RemoteEnvironment",
        "RemoteResourceIdentifier",
        "RemoteResourceType",
    ],
    &[
        "Environment",
        "Service",
        "RemoteService",
        "RemoteOperation",
        "RemoteEnvironment",
    ],
    &[
        "Environment",
        "Service",
        "RemoteService",
        "RemoteOperation",
        "RemoteResourceIdentifier",
        "RemoteResourceType",
    ],
    &["Environment", "Service", "RemoteService", "RemoteOperation"],
    &[
        "Environment",
        "Service",
        "RemoteService",
        "RemoteResourceIdentifier",
        "RemoteResourceType",
    ],
    &[
        "RemoteService",
        "RemoteResourceIdentifier",
        "RemoteResourceType",
    ],
    &["RemoteService"],
];

fn set_of(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

/// The dimension sets of a document, each as a set of names.
fn dimension_sets(doc: &Value) -> Vec<BTreeSet<String>> {
    doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|set| {
            set.as_array()
                .unwrap()
                .iter()
                .map(|n| n.as_str().unwrap().to_owned())
                .collect()
        })
        .collect()
}

/// The CloudWatch Logs side: moto with an IAM key the execution role
/// uses, and the spans' endpoint verifying the same key.
struct Aws {
    moto: Moto,
    key: (String, String),
    traces: FakeOtlpEndpoint,
}

impl Aws {
    async fn start() -> Self {
        let moto = Moto::start("appsignals_e2e", Some(3));
        let key = moto.create_user_key("logs:*");
        let traces = FakeOtlpEndpoint::start(OtlpEndpointOptions {
            sigv4: Some(SigV4Expect {
                credentials: Credentials {
                    access_key_id: key.0.clone(),
                    secret_access_key: key.1.clone(),
                    session_token: None,
                },
                region: REGION.into(),
                service: "xray".into(),
            }),
            ..OtlpEndpointOptions::default()
        })
        .await
        .unwrap();
        Self { moto, key, traces }
    }

    /// Every span received (none refused), after checking that the `n`
    /// SERVER spans, one per invoke, are the function's local roots.
    fn local_roots(&self, n: usize) -> Vec<Span> {
        assert!(
            self.traces.rejected().is_empty(),
            "{:?}",
            self.traces.rejected()
        );
        let spans = spans(&self.traces.received());
        let servers: Vec<&Span> = spans
            .iter()
            .filter(|s| s.kind == SpanKind::Server as i32)
            .collect();
        assert_eq!(servers.len(), n, "one SERVER span per invoke");
        let operation = format!("{FUNCTION}/FunctionHandler");
        for s in &servers {
            assert_eq!(attr(s, "aws.span.kind"), Some("LOCAL_ROOT"), "{s:?}");
            assert_eq!(attr(s, "aws.local.service"), Some(FUNCTION));
            assert_eq!(attr(s, "aws.local.operation"), Some(operation.as_str()));
            assert_eq!(attr(s, "aws.local.environment"), Some("lambda:default"));
            assert_eq!(attr(s, "aws.remote.service"), None);
        }
        spans
    }

    /// `cfg` with Application Signals on, CloudWatch Logs at moto and the key.
    fn configure(&self, cfg: SimConfig) -> SimConfig {
        let mut cfg = cfg
            .with_env("OTEL_AWS_APPLICATION_SIGNALS_ENABLED", "true")
            .with_env("AWS_ENDPOINT_URL_LOGS", self.moto.url());
        cfg.credentials = SimCredentials {
            access_key_id: self.key.0.clone(),
            secret_access_key: self.key.1.clone(),
            session_token: None,
        };
        cfg
    }
}

/// The service-metric documents (local roots) of `function`, checked
/// against the agent's service dimension sets.
fn service_docs<'a>(docs: &'a [Value], function: &str) -> Vec<&'a Value> {
    let operation = format!("{function}/FunctionHandler");
    assert!(
        !docs.iter().any(|d| d["Telemetry.Source"] == "ServerSpan"),
        "{docs:?}"
    );
    let service: Vec<&Value> = docs
        .iter()
        .filter(|d| d["Telemetry.Source"] == "LocalRootSpan")
        .collect();
    assert!(!service.is_empty(), "{docs:?}");
    for d in &service {
        assert_eq!(
            d["_aws"]["CloudWatchMetrics"][0]["Namespace"], "ApplicationSignals",
            "{d}"
        );
        assert_eq!(d["Environment"], "lambda:default", "{d}");
        assert_eq!(d["Service"], function, "{d}");
        assert_eq!(d["Operation"], operation.as_str(), "{d}");
        assert_eq!(
            dimension_sets(d),
            vec![
                set_of(&["Environment", "Service", "Operation"]),
                set_of(&["Environment", "Service"])
            ],
            "{d}"
        );
    }
    service
}

/// Sum of a statistic set's `field` over `docs`.
fn total(docs: &[&Value], metric: &str, field: &str) -> f64 {
    docs.iter()
        .map(|d| d[metric][field].as_f64().unwrap_or(0.0))
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn function_spans_get_application_signals_attributes_and_emf_metrics_reach_cloudwatch_logs() {
    let _serial = SERIAL.lock().await;
    let aws = Aws::start().await;
    let layer = LayerDir::new("appsignals-e2e");
    // Invoke 1: a child span and an S3 call (200); 2: an S3 call answered
    // 404; 3: the handler fails.
    let invokes = [
        serde_json::json!({"spans": 1, "client_status": 200}),
        serde_json::json!({"client_status": 404}),
        serde_json::json!({"fail": true}),
    ];
    let cfg = aws
        .configure(sim(&layer, &aws.traces, &invokes))
        .with_env("OTEL_AWS_LAMBDA_PLATFORM_SPANS", "true");
    let report = Simulator::run(cfg).await.unwrap();
    let st = stats(&layer);
    let statuses: Vec<&str> = report.invokes.iter().map(|i| i.status.as_str()).collect();
    assert_eq!(statuses, ["success", "success", "error"], "{report:?}");
    assert!(report.invokes.iter().all(|i| !i.reset), "{report:?}");
    assert!(
        report.shutdown.timed_out.is_empty(),
        "{:?}",
        report.shutdown
    );

    // The spans, as exported: ADOT's attributes.
    let spans = aws.local_roots(3);
    let operation = format!("{FUNCTION}/FunctionHandler");
    let clients: Vec<&Span> = spans
        .iter()
        .filter(|s| s.kind == SpanKind::Client as i32)
        .collect();
    assert_eq!(clients.len(), 2);
    for s in &clients {
        assert_eq!(attr(s, "aws.span.kind"), Some("CLIENT"));
        assert_eq!(attr(s, "aws.local.service"), Some(FUNCTION));
        assert_eq!(attr(s, "aws.local.operation"), Some(operation.as_str()));
        assert_eq!(attr(s, "aws.local.environment"), Some("lambda:default"));
        assert_eq!(attr(s, "aws.remote.service"), Some("AWS::S3"));
        assert_eq!(attr(s, "aws.remote.operation"), Some("GetObject"));
        assert_eq!(attr(s, "aws.remote.resource.type"), Some("AWS::S3::Bucket"));
        assert_eq!(
            attr(s, "aws.remote.resource.identifier"),
            Some("orders-archive")
        );
    }
    // The INTERNAL child is not a local root: no metrics, no span kind.
    let child = spans.iter().find(|s| s.name == "child").unwrap();
    assert_eq!(attr(child, "aws.span.kind"), None);
    // The extension's platform spans (a local root each, parented on Lambda's
    // header) describe the platform, as Lambda's own X-Ray segments do: not
    // annotated, not counted (the invoke counts once, by its SERVER span).
    let platform: Vec<&Span> = spans
        .iter()
        .filter(|s| s.name == format!("{FUNCTION} invocation"))
        .collect();
    // (The last invoke's may miss SHUTDOWN: its `platform.report` trails.)
    assert!(!platform.is_empty(), "{spans:?}");
    assert!(platform.iter().all(|s| attr(s, "aws.span.kind").is_none()));

    // The EMF documents in CloudWatch Logs.
    let (streams, docs) = read_emf(&aws.moto, &aws.key);
    assert_eq!(
        streams.len(),
        1,
        "one stream per execution environment: {streams:?}"
    );
    assert!(
        streams[0].starts_with(&format!("otel-aws/{FUNCTION}/")),
        "{streams:?}"
    );
    assert!(!docs.is_empty());
    for d in &docs {
        let cwm = &d["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(cwm["Namespace"], "ApplicationSignals", "{d}");
        assert!(d["_aws"]["Timestamp"].as_i64().is_some(), "{d}");
        let names: BTreeSet<&str> = cwm["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["Name"].as_str().unwrap())
            .collect();
        assert_eq!(names, BTreeSet::from(["Latency", "Error", "Fault"]), "{d}");
        let latency_unit = cwm["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["Name"] == "Latency")
            .unwrap()["Unit"]
            .clone();
        assert_eq!(latency_unit, "Milliseconds", "{d}");
        assert_eq!(d["Environment"], "lambda:default", "{d}");
        assert_eq!(d["Service"], FUNCTION, "{d}");
    }
    let by_source = |source: &str| -> Vec<&Value> {
        docs.iter()
            .filter(|d| d["Telemetry.Source"] == source)
            .collect()
    };
    // Service metrics: every invoke once (the LOCAL_ROOT SERVER span), the failed one a fault.
    let service = service_docs(&docs, FUNCTION);
    assert_eq!(total(&service, "Latency", "Count"), 3.0);
    assert_eq!(total(&service, "Fault", "Count"), 3.0);
    assert_eq!(total(&service, "Fault", "Sum"), 1.0, "one invoke failed");
    assert_eq!(total(&service, "Error", "Sum"), 0.0);
    // Dependency metrics: the two S3 calls, the 404 an error.
    let deps = by_source("ClientSpan");
    assert!(!deps.is_empty(), "{docs:?}");
    let present = set_of(&[
        "Environment",
        "Service",
        "Operation",
        "RemoteService",
        "RemoteOperation",
        "RemoteResourceIdentifier",
        "RemoteResourceType",
    ]);
    let expected: Vec<BTreeSet<String>> = DEPENDENCY_SETS
        .iter()
        .map(|s| set_of(s))
        .filter(|s| s.is_subset(&present))
        .collect();
    assert_eq!(expected.len(), 8, "the sets without RemoteEnvironment");
    for d in &deps {
        assert_eq!(d["Operation"], operation.as_str(), "{d}");
        assert_eq!(d["RemoteService"], "AWS::S3", "{d}");
        assert_eq!(d["RemoteOperation"], "GetObject", "{d}");
        assert_eq!(d["RemoteResourceType"], "AWS::S3::Bucket", "{d}");
        assert_eq!(d["RemoteResourceIdentifier"], "orders-archive", "{d}");
        assert_eq!(dimension_sets(d), expected, "{d}");
    }
    assert_eq!(total(&deps, "Latency", "Count"), 2.0);
    assert_eq!(total(&deps, "Error", "Sum"), 1.0, "the 404");
    assert_eq!(total(&deps, "Fault", "Sum"), 0.0);

    // The counters agree: every point made was delivered.
    assert_eq!(st.app_signals_spans_annotated, 5, "{st:?}");
    assert!(st.app_signals_points > 0, "{st:?}");
    assert_eq!(
        st.app_signals_points_exported, st.app_signals_points,
        "{st:?}"
    );
    assert_eq!(st.app_signals_points_dropped, 0, "{st:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_variable_spans_are_untouched_and_nothing_reaches_cloudwatch_logs() {
    let _serial = SERIAL.lock().await;
    let traces = FakeOtlpEndpoint::start(OtlpEndpointOptions::xray_traces(REGION))
        .await
        .unwrap();
    let (logs_url, connections, _listener) = counting_listener().await;
    let layer = LayerDir::new("appsignals-off");
    let invokes = [
        serde_json::json!({"spans": 1, "client_status": 200}),
        serde_json::json!({"fail": true}),
    ];
    let cfg = sim(&layer, &traces, &invokes).with_env("AWS_ENDPOINT_URL_LOGS", logs_url);
    let report = Simulator::run(cfg).await.unwrap();
    let st = stats(&layer);
    assert_eq!(report.invokes.len(), 2);
    assert!(
        report.shutdown.timed_out.is_empty(),
        "{:?}",
        report.shutdown
    );
    let spans = spans(&traces.received());
    assert_eq!(spans.len(), 4, "SERVER + child + CLIENT, SERVER: {spans:?}");
    // The S3 span's own `aws.s3.bucket` stays; nothing of Application Signals.
    for s in &spans {
        assert!(
            s.attributes
                .iter()
                .all(|kv| !kv.key.starts_with("aws.span.")
                    && !kv.key.starts_with("aws.local.")
                    && !kv.key.starts_with("aws.remote.")),
            "{s:?}"
        );
    }
    assert_eq!(
        connections.load(Ordering::SeqCst),
        0,
        "no CloudWatch Logs call"
    );
    assert_eq!(
        (st.app_signals_spans_annotated, st.app_signals_points),
        (0, 0),
        "{st:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cloudwatch_logs_outage_keeps_invokes_within_budget_and_counts_the_lost_metrics() {
    let _serial = SERIAL.lock().await;
    let traces = FakeOtlpEndpoint::start(OtlpEndpointOptions::xray_traces(REGION))
        .await
        .unwrap();
    // CloudWatch Logs accepts connections and never answers.
    let (logs_url, connections, _listener) = counting_listener().await;
    let layer = LayerDir::new("appsignals-outage");
    const N: usize = 4;
    let invokes = vec![serde_json::json!({"spans": 1}); N];
    let cfg = sim(&layer, &traces, &invokes)
        .with_env("OTEL_AWS_APPLICATION_SIGNALS_ENABLED", "true")
        .with_env("OTEL_AWS_LAMBDA_FLUSH_TIMEOUT", "500")
        .with_env("AWS_ENDPOINT_URL_LOGS", logs_url);
    let report = Simulator::run(cfg).await.unwrap();
    let st = stats(&layer);
    // Every invoke ended within its deadline, and the spans were not held back.
    common::assert_all_succeeded(&report, N);
    let spans = spans(&traces.received());
    assert_eq!(spans.len(), 2 * N, "{st:?}");
    assert!(
        spans
            .iter()
            .filter(|s| s.kind == SpanKind::Server as i32)
            .all(|s| attr(s, "aws.local.environment") == Some("lambda:default"))
    );
    // The metrics were attempted, kept off later invokes by the breaker, and
    // what SHUTDOWN could not deliver is counted as dropped.
    assert!(connections.load(Ordering::SeqCst) > 0, "{st:?}");
    assert!(st.app_signals_points > 0, "{st:?}");
    assert_eq!(st.app_signals_points_exported, 0, "{st:?}");
    assert_eq!(
        st.app_signals_points_dropped, st.app_signals_points,
        "{st:?}"
    );
    assert!(st.lane_attempts_skipped > 0, "{st:?}");
    assert_eq!(st.spans_exported, 2 * N as u64, "{st:?}");
}

/// A TCP listener that accepts connections, counts them and never answers:
/// `(http URL, connections, the task holding them)`.
async fn counting_listener() -> (String, Arc<AtomicUsize>, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = listener.accept().await {
            c.fetch_add(1, Ordering::SeqCst);
            held.push(sock);
        }
    });
    (url, count, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_python_sdk_spans_through_the_wrapper_appear_in_application_signals() {
    let _serial = SERIAL.lock().await;
    let python = otel_aws_testkit::tooling::python(
        "appsignals_e2e (Python)",
        "import awslambdaric, opentelemetry.sdk, \
         opentelemetry.exporter.otlp.proto.http.trace_exporter, opentelemetry.propagators.aws",
        "run `make test-deps` (installs awslambdaric and the OpenTelemetry Python SDK into \
         .tools/venv) or set OTEL_AWS_TEST_PYTHON to a Python that has them",
        otel_aws_testkit::tooling::Need::Required,
    )
    .expect("Need::Required panics instead");
    let aws = Aws::start().await;
    let layer = LayerDir::new("appsignals-e2e-py");
    let manifest = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    const N: usize = 3;
    let invokes = vec![serde_json::json!({"spans": 1}); N];
    // The plain OpenTelemetry Python SDK (no ADOT), run by awslambdaric
    // through the layer's exec wrapper (tests/python/otel_function.py).
    let mut cfg = sim(&layer, &aws.traces, &invokes);
    cfg.function = vec![
        python.display().to_string(),
        "-m".into(),
        "awslambdaric".into(),
        "otel_function.handler".into(),
    ];
    let mut cfg = aws
        .configure(cfg)
        .with_env("AWS_EXECUTION_ENV", "AWS_Lambda_python3.11")
        .with_env("PYTHONDONTWRITEBYTECODE", "1");
    cfg.exec_wrapper = Some(manifest.join("scripts/otel-aws-wrapper"));
    cfg.task_root = Some(manifest.join("tests/python"));
    cfg.handler = "otel_function.handler".into();
    let report = Simulator::run(cfg).await.unwrap();
    common::assert_all_succeeded(&report, N);
    // The wrapper names the service after the function; the SDK's SERVER
    // span is the invoke's local root.
    aws.local_roots(N);
    let (_, docs) = read_emf(&aws.moto, &aws.key);
    let service = service_docs(&docs, FUNCTION);
    assert_eq!(total(&service, "Latency", "Count"), N as f64);
    assert_eq!(total(&service, "Fault", "Sum"), 0.0);
    assert_eq!(total(&service, "Error", "Sum"), 0.0);
}

/// The docs/benchmarks.md figure: post-runtime time per invoke with
/// Application Signals off and on, `BENCH_INVOKES` each (default 100), of
/// the Rust test function (3 child spans and an S3-shaped CLIENT span per
/// invoke, `OTEL_AWS_LAMBDA_FLUSH=end`); spans and EMF go to loopback
/// SigV4-verifying fakes, so the difference is the extension's own work
/// (annotation, aggregation, EMF encoding, signing, one more request in the
/// same flush), not a network. Prints a table; asserts what arrived.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run with --run-ignored ignored-only --no-capture"]
async fn post_runtime_with_and_without_application_signals() {
    let _serial = SERIAL.lock().await;
    let n: usize = std::env::var("BENCH_INVOKES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let mut rows = Vec::new();
    for on in [false, true] {
        let traces = FakeOtlpEndpoint::start(OtlpEndpointOptions::xray_traces(REGION))
            .await
            .unwrap();
        // A fast CloudWatch Logs stand-in (the client's correctness is
        // moto's test above): answers every signed JSON 1.1 call `{}`.
        let (logs_url, logs_calls) = fast_logs().await;
        let layer = LayerDir::new(&format!("appsignals-bench-{on}"));
        let invokes = vec![serde_json::json!({"spans": 3, "client_status": 200}); n];
        let mut cfg = sim(&layer, &traces, &invokes).with_env("AWS_ENDPOINT_URL_LOGS", logs_url);
        if on {
            cfg = cfg.with_env("OTEL_AWS_APPLICATION_SIGNALS_ENABLED", "true");
        }
        let report = Simulator::run(cfg).await.unwrap();
        common::assert_all_succeeded(&report, n);
        let st = stats(&layer);
        assert_eq!(st.spans_exported, 5 * n as u64, "{st:?}");
        if on {
            assert_eq!(
                st.app_signals_points_exported, st.app_signals_points,
                "{st:?}"
            );
        }
        let mut v: Vec<f64> = report
            .invokes
            .iter()
            .map(|i| i.post_runtime_extension_ms)
            .collect();
        v.sort_by(f64::total_cmp);
        let q = |p: f64| v[((v.len() as f64 * p) as usize).min(v.len() - 1)];
        rows.push(format!(
            "| {} | {n} | {:.2} | {:.2} | {:.2} | {} |",
            if on { "on" } else { "off" },
            q(0.5),
            q(0.9),
            q(0.99),
            logs_calls.load(Ordering::SeqCst),
        ));
    }
    println!(
        "| Application Signals | invokes | post-runtime p50 ms | p90 ms | p99 ms | Logs requests |"
    );
    println!("|---|---|---|---|---|---|");
    for r in rows {
        println!("{r}");
    }
}

/// A loopback CloudWatch Logs stand-in: every `POST /` signed for `logs`
/// (else 403) answered `{}`; `(URL, calls answered)`.
async fn fast_logs() -> (String, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let app = axum::Router::new().route(
        "/",
        axum::routing::post(move |headers: axum::http::HeaderMap| {
            let c = c.clone();
            async move {
                let signed = headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v.contains("/logs/aws4_request"));
                if !signed {
                    return (axum::http::StatusCode::FORBIDDEN, "{}");
                }
                c.fetch_add(1, Ordering::SeqCst);
                (axum::http::StatusCode::OK, "{}")
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, calls)
}
