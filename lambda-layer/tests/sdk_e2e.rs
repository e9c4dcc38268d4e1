//! End to end in the Lambda simulator with **Python and Node.js**
//! functions and their real OpenTelemetry SDKs, started through the layer's
//! exec wrapper (`AWS_LAMBDA_EXEC_WRAPPER`: the simulator runs
//! `otel-aws-wrapper <runtime command...>`, as managed runtimes do), with
//! the extension in the layer, exporting to the testkit's SigV4-verifying
//! OTLP endpoint.
//!
//! - Python: the real AWS runtime interface client (`awslambdaric`, what
//!   Lambda's managed Python runtimes run) and the OpenTelemetry Python SDK
//!   (`tests/python/otel_function.py`). Endpoint, protocol, propagators,
//!   service name and resource all come from what the wrapper exports.
//! - Node.js: the OpenTelemetry JS SDK (`tests/node/otel_function.js`) run by
//!   a small Runtime API loop (`tests/node/runtime.js`: the real
//!   `aws-lambda-ric` compiles a native addon at install time). Endpoint,
//!   protocol and resource come from the wrapper; the plain Node SDK does not
//!   read `OTEL_PROPAGATORS`, so the function registers the Lambda-aware
//!   X-Ray propagator itself.
//!
//! Each checks that an unmodified SDK reaches the extension and that its
//! spans leave before every freeze although these runtimes send no done
//! signal (`platform.runtimeDone` ends each invoke).
//!
//! Python: `OTEL_AWS_TEST_PYTHON` (the Makefile sets it), else the
//! workspace's `.tools/venv/bin/python3`. Node: `node` on `PATH` with the
//! packages in `OTEL_AWS_TEST_NODE_MODULES`, else `.tools/node-e2e/node_modules`.
//! `make test-deps` installs both (pinned). A test whose interpreter or
//! packages are missing fails with a message naming `make test-deps`: it
//! never passes without having run.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use otel_aws_lambda::extension::stats::StatsSnapshot;
use otel_aws_testkit::lambda_sim::{InvokeSpec, Simulator};
use otel_aws_testkit::otlp::{FakeOtlpEndpoint, OtlpEndpointOptions};
use otel_aws_testkit::tooling::{self, Need};

mod common;
use common::{LayerDir, parse_trace_header, string_attr};

/// Modules the function needs (pinned in the Makefile's `test-deps`).
const MODULES: &str = "import awslambdaric, opentelemetry.sdk, \
    opentelemetry.exporter.otlp.proto.http.trace_exporter, opentelemetry.propagators.aws";
const INSTALL_HINT: &str = "run `make test-deps` (installs awslambdaric and the OpenTelemetry \
    Python SDK into .tools/venv) or set OTEL_AWS_TEST_PYTHON to a Python that has them";
/// Packages the Node function needs (`tests/node/package.json`).
const NODE_MODULES: [&str; 5] = [
    "@opentelemetry/api",
    "@opentelemetry/sdk-trace-node",
    "@opentelemetry/exporter-trace-otlp-proto",
    "@opentelemetry/resources",
    "@opentelemetry/propagator-aws-xray-lambda",
];
const NODE_HINT: &str = "run `make test-deps` (installs lambda-layer/tests/node/package-lock.json \
    into .tools/node-e2e) or set OTEL_AWS_TEST_NODE_MODULES to a node_modules that has it";

/// The interpreter to use; panics (never skips) when none has the packages.
fn python() -> PathBuf {
    tooling::python("sdk_e2e (Python)", MODULES, INSTALL_HINT, Need::Required)
        .expect("Need::Required panics instead")
}

/// The folder holding the Node function's packages (with `node` on `PATH`);
/// panics (never skips) when either is missing.
fn node() -> PathBuf {
    tooling::node_modules(
        "sdk_e2e (Node.js)",
        &NODE_MODULES,
        NODE_HINT,
        Need::Required,
    )
    .expect("Need::Required panics instead")
}

/// A received span with its resource.
struct Got<'a> {
    span: &'a Span,
    resource: &'a [KeyValue],
}

fn spans(received: &[ExportTraceServiceRequest]) -> Vec<Got<'_>> {
    let mut out = Vec::new();
    for rs in received.iter().flat_map(|r| &r.resource_spans) {
        let resource = rs.resource.as_ref().map_or(&[][..], |r| &r.attributes[..]);
        for span in rs.scope_spans.iter().flat_map(|ss| &ss.spans) {
            out.push(Got { span, resource });
        }
    }
    out
}

/// Per request id (the SERVER span's `faas.invocation_id`): spans of its trace.
fn per_request(received: &[ExportTraceServiceRequest]) -> HashMap<String, usize> {
    let all = spans(received);
    let mut per_trace: HashMap<&[u8], usize> = HashMap::new();
    for g in &all {
        *per_trace.entry(&g.span.trace_id).or_default() += 1;
    }
    all.iter()
        .filter_map(|g| {
            string_attr(&g.span.attributes, "faas.invocation_id")
                .map(|id| (id.to_string(), per_trace[&g.span.trace_id[..]]))
        })
        .collect()
}

/// One SDK function: how to start it, where it lives, what it needs.
struct SdkFunction {
    /// The runtime command (the wrapper is put in front of it).
    command: Vec<String>,
    /// `LAMBDA_TASK_ROOT` and working directory: the fixture's folder.
    task_root: PathBuf,
    /// `AWS_EXECUTION_ENV` of the managed runtime.
    execution_env: &'static str,
    /// `telemetry.sdk.language` the SDK reports.
    language: &'static str,
    /// Extra environment (module paths, ...).
    env: Vec<(&'static str, String)>,
}

/// Runs `function` through the wrapper with the extension for N invokes of
/// `{"spans": 2}` and checks every invoke's spans at its freeze, the
/// parent, the resource and the extension's counters.
async fn run_through_the_wrapper(function: SdkFunction, tag: &str) {
    let fake = Arc::new(
        FakeOtlpEndpoint::start(OtlpEndpointOptions::xray_traces("us-east-1"))
            .await
            .unwrap(),
    );
    let layer = LayerDir::new(&format!("sdk-e2e-{tag}"));
    let stats_file = layer.path().join("stats.json");
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));

    const N: usize = 40;
    const CHILDREN: usize = 2;
    let name = format!("{tag}-orders");
    let failures = Arc::new(Mutex::new(Vec::new()));
    let (f, fails) = (fake.clone(), failures.clone());
    let mut cfg = layer
        .sim_config(function.command.clone())
        // A managed runtime: the wrapper picks the Lambda-aware propagator.
        .with_env("AWS_EXECUTION_ENV", function.execution_env)
        .with_env("OTEL_AWS_LAMBDA_EXPORTER_ENDPOINT", fake.traces_url())
        .with_env("OTEL_AWS_SIGV4", "true") // a 127.0.0.1 fake is not an AWS host: force signing
        .with_env("OTEL_AWS_LAMBDA_FLUSH", "end")
        .with_env("OTEL_AWS_LAMBDA_STATS_FILE", stats_file.to_str().unwrap())
        // The wrapper derives the SDK's endpoint from OTEL_AWS_LAMBDA_HTTP_ADDR (sim_config's free port).
        .on_frozen(move |inv| {
            // Every process is stopped: what has not arrived is at risk.
            let got = per_request(&f.received())
                .get(&inv.request_id)
                .copied()
                .unwrap_or(0);
            if got != 1 + CHILDREN {
                fails.lock().unwrap().push(format!(
                    "invoke {} ({}): {got} spans at freeze",
                    inv.index, inv.request_id
                ));
            }
        });
    for (k, v) in &function.env {
        cfg = cfg.with_env(*k, v.clone());
    }
    cfg.exec_wrapper = Some(manifest.join("scripts/otel-aws-wrapper"));
    cfg.task_root = Some(function.task_root.clone());
    cfg.handler = "otel_function.handler".into();
    cfg.function_name = name.clone();
    cfg.invokes = (0..N)
        .map(|_| InvokeSpec::json(&serde_json::json!({ "spans": CHILDREN })))
        .collect();

    let report = Simulator::run(cfg).await.unwrap();
    let received = fake.received();
    let stats: StatsSnapshot =
        serde_json::from_slice(&std::fs::read(&stats_file).unwrap()).unwrap();
    drop(layer);
    assert_eq!(report.init.status.as_str(), "success", "{:?}", report.init);
    assert_eq!(report.invokes.len(), N);
    for inv in &report.invokes {
        assert_eq!(inv.status.as_str(), "success", "{inv:?}");
        assert!(!inv.reset, "{inv:?}");
    }
    let failures = failures.lock().unwrap();
    assert!(
        failures.is_empty(),
        "{} invokes incomplete at freeze: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    assert!(fake.rejected().is_empty(), "SigV4: {:?}", fake.rejected());

    let all = spans(&received);
    assert_eq!(all.len(), N * (1 + CHILDREN), "none lost, none duplicated");
    for inv in &report.invokes {
        let server = all
            .iter()
            .find(|g| {
                string_attr(&g.span.attributes, "faas.invocation_id") == Some(&inv.request_id)
            })
            .unwrap_or_else(|| panic!("no SERVER span for {}", inv.request_id));
        assert_eq!(server.span.kind, SpanKind::Server as i32);
        // Parented on Lambda-Runtime-Trace-Id: the runtime puts it in
        // _X_AMZN_TRACE_ID, the Lambda-aware X-Ray propagator reads it.
        let (trace_id, parent) = parse_trace_header(&inv.trace_header);
        assert_eq!(hex::encode(&server.span.trace_id), trace_id, "{inv:?}");
        assert_eq!(hex::encode(&server.span.parent_span_id), parent, "{inv:?}");
        // The resource the wrapper configured, as the SDK built it (the
        // extension only fills attributes the function did not set).
        let res = server.resource;
        assert_eq!(string_attr(res, "service.name"), Some(name.as_str()));
        assert_eq!(
            string_attr(res, "telemetry.sdk.language"),
            Some(function.language)
        );
        assert_eq!(string_attr(res, "cloud.platform"), Some("aws_lambda"));
        assert_eq!(string_attr(res, "faas.name"), Some(name.as_str()));
    }
    let first = &report.invokes[0];
    assert!(
        all.iter().any(|g| {
            g.span.attributes.iter().any(|kv| {
                kv.key == "faas.coldstart"
                    && kv.value.as_ref().and_then(|v| v.value.as_ref())
                        == Some(&any_value::Value::BoolValue(true))
            }) && string_attr(&g.span.attributes, "faas.invocation_id") == Some(&first.request_id)
        }),
        "the first invoke is the cold start"
    );
    // No done signal from these SDKs: `platform.runtimeDone` ended every invoke.
    assert_eq!(stats.invokes, N as u64, "{stats:?}");
    assert_eq!(stats.done_by_runtime_done, N as u64, "{stats:?}");
    assert_eq!(
        stats.spans_received,
        (N * (1 + CHILDREN)) as u64,
        "{stats:?}"
    );
    assert_eq!(stats.spans_exported, stats.spans_received, "{stats:?}");
    assert_eq!(stats.spans_dropped_buffer_full, 0, "{stats:?}");
    assert_eq!(stats.spans_dropped_shutdown, 0, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_through_the_exec_wrapper_every_span_before_each_freeze() {
    let python = python();
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let function = SdkFunction {
        command: vec![
            python.display().to_string(),
            "-m".into(),
            "awslambdaric".into(),
            "otel_function.handler".into(),
        ],
        task_root: manifest.join("tests/python"),
        execution_env: "AWS_Lambda_python3.11",
        language: "python",
        env: vec![("PYTHONDONTWRITEBYTECODE", "1".into())], // keep the fixture folder clean
    };
    run_through_the_wrapper(function, "py").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_sdk_through_the_exec_wrapper_every_span_before_each_freeze() {
    let modules = node();
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let function = SdkFunction {
        command: vec![
            "node".into(),
            "runtime.js".into(),
            "otel_function.handler".into(),
        ],
        task_root: manifest.join("tests/node"),
        execution_env: "AWS_Lambda_nodejs20.x",
        language: "nodejs",
        env: vec![("NODE_PATH", modules.display().to_string())],
    };
    run_through_the_wrapper(function, "node").await;
}
