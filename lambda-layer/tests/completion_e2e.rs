//! End to end in the Lambda simulator: the layer's **completion hook** for
//! Python and Node.js functions (issue 12). Through the exec wrapper, when
//! the handler returns, the hook flushes the function's global
//! OpenTelemetry provider and posts the same done signal the Rust function
//! wrapper sends, so the extension flushes without waiting for
//! `platform.runtimeDone` (≥ 25 ms after the response).
//!
//! The layer is assembled as `package-layer.sh` lays it out:
//! `extensions/otel-aws-extension`, `otel-aws-wrapper` and
//! `otel-aws-hooks/{python,node}` (symlinks into the build and the source
//! tree). The functions (`tests/python/completion_function.py`,
//! `tests/node/completion_function.js`) do not flush: only the hook can
//! have delivered their spans before each freeze. Every other invoke's
//! handler raises (rejects): the hook flushes and signals after an error too.
//!
//! - Python: the real runtime interface client (`awslambdaric`).
//! - Node.js: `tests/node/runtime.js`, which speaks the Runtime API and
//!   loads the handler with `require`, as `aws-lambda-ric` does.
//!
//! With `OTEL_AWS_TEST_PROVIDER=global-all` (Node.js) the function also
//! installs global meter and logger providers whose own exports wait 10
//! minutes: each invoke's counter point and log record reach the (SigV4
//! `monitoring` / `logs`) fakes before the freeze only if the hook flushed
//! all three providers before its signal.
//!
//! With `OTEL_AWS_TEST_PROVIDER=own` the functions export through their own
//! provider object (never global) and flush it themselves: the hook cannot
//! vouch for it, sends nothing, and every invoke still delivers everything
//! through the `runtimeDone` fallback.
//!
//! Interpreters and packages as in `sdk_e2e.rs`: a missing one skips with a
//! message, except under `CI=true` (or, for Python, with
//! `OTEL_AWS_TEST_PYTHON` set), where it fails.
//!
//! Benchmark (not a test assert): `post_runtime_p50_with_and_without_the_hook`
//! (ignored; see docs/benchmarks.md).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex};

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use otel_aws_lambda::extension::stats::StatsSnapshot;
use otel_aws_testkit::lambda_sim::{InvokeSpec, SimReport, Simulator};
use otel_aws_testkit::otlp::{FakeOtlpEndpoint, OtlpEndpointOptions};
use prost::Message as _;

mod common;
use common::{LayerDir, assert_all_succeeded};

const CHILDREN: usize = 2;
const MODULES: &str = "import awslambdaric, opentelemetry.sdk, \
    opentelemetry.exporter.otlp.proto.http.trace_exporter, opentelemetry.propagators.aws";
const HINT: &str = "run `make test-deps` (installs .tools/venv and .tools/node-e2e) or set \
    OTEL_AWS_TEST_PYTHON / OTEL_AWS_TEST_NODE_MODULES";
const NODE_MODULES: [&str; 9] = [
    "@opentelemetry/api",
    "@opentelemetry/sdk-trace-node",
    "@opentelemetry/exporter-trace-otlp-proto",
    "@opentelemetry/resources",
    "@opentelemetry/propagator-aws-xray-lambda",
    // global-all (installed with the trace exporter: otlp-transformer's dependencies)
    "@opentelemetry/api-logs",
    "@opentelemetry/sdk-logs",
    "@opentelemetry/sdk-metrics",
    "@opentelemetry/otlp-transformer",
];

fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

fn manifest() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The Python with awslambdaric and the SDK, or `None` (skip) outside CI.
fn python() -> Option<PathBuf> {
    let explicit = std::env::var("OTEL_AWS_TEST_PYTHON")
        .ok()
        .filter(|p| !p.trim().is_empty())
        .map(PathBuf::from);
    let strict = explicit.is_some() || ci();
    let python = explicit.unwrap_or_else(|| manifest().join("../.tools/venv/bin/python3"));
    let check = Command::new(&python).args(["-c", MODULES]).output();
    if check.as_ref().is_ok_and(|o| o.status.success()) {
        return Some(python);
    }
    let why = match &check {
        Ok(o) => String::from_utf8_lossy(&o.stderr).into_owned(),
        Err(e) => e.to_string(),
    };
    assert!(!strict, "{}: {why}: {HINT}", python.display());
    eprintln!(
        "SKIPPED completion_e2e (Python): {} ({why}); {HINT}",
        python.display()
    );
    None
}

/// `node_modules` with the Node function's packages, or `None` (skip) outside CI.
fn node_modules() -> Option<PathBuf> {
    let modules = std::env::var("OTEL_AWS_TEST_NODE_MODULES")
        .ok()
        .filter(|p| !p.trim().is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest().join("../.tools/node-e2e/node_modules"));
    let has_node = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let complete = NODE_MODULES
        .iter()
        .all(|m| modules.join(m).join("package.json").exists());
    if has_node && complete {
        return Some(modules);
    }
    assert!(
        !ci(),
        "CI=true: no node or {} incomplete: {HINT}",
        modules.display()
    );
    eprintln!(
        "SKIPPED completion_e2e (Node.js): no node or {} incomplete; {HINT}",
        modules.display()
    );
    None
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lang {
    Python,
    Node,
}

/// How one run is set up.
struct Run {
    lang: Lang,
    /// `OTEL_AWS_TEST_PROVIDER`: `global` (the handler does not flush),
    /// `global-flush` (it flushes the global provider itself) or `own`.
    provider: &'static str,
    /// `OTEL_AWS_LAMBDA_COMPLETION_HOOK` (the wrapper's switch).
    hook: bool,
    invokes: usize,
    /// Every other invoke (odd index) raises after its spans.
    fail_odd: bool,
}

/// What came out.
struct Outcome {
    report: SimReport,
    stats: StatsSnapshot,
    /// Invokes whose spans were not all at the endpoint when frozen.
    incomplete_at_freeze: Vec<String>,
    spans: usize,
}

/// Spans per request id (the SERVER span's `faas.invocation_id`, then its trace).
fn per_request(received: &[ExportTraceServiceRequest]) -> HashMap<String, usize> {
    let spans: Vec<_> = received
        .iter()
        .flat_map(|r| &r.resource_spans)
        .flat_map(|rs| &rs.scope_spans)
        .flat_map(|ss| &ss.spans)
        .collect();
    let mut per_trace: HashMap<&[u8], usize> = HashMap::new();
    for s in &spans {
        *per_trace.entry(&s.trace_id).or_default() += 1;
    }
    spans
        .iter()
        .filter_map(|s| {
            s.attributes
                .iter()
                .find(|kv| kv.key == "faas.invocation_id")
                .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
                    any_value::Value::StringValue(id) => Some(id.clone()),
                    _ => None,
                })
                .map(|id| (id, per_trace[&s.trace_id[..]]))
        })
        .collect()
}

fn string_value(attrs: &[KeyValue], key: &str) -> Option<String> {
    attrs.iter().find(|kv| kv.key == key).and_then(|kv| {
        match kv.value.as_ref()?.value.as_ref()? {
            any_value::Value::StringValue(s) => Some(s.clone()),
            _ => None,
        }
    })
}

/// Request ids of the `completion.invokes` points the metrics fake accepted.
fn metric_requests(fake: &FakeOtlpEndpoint) -> Vec<String> {
    let mut out = Vec::new();
    for body in fake.accepted_bodies() {
        let req = ExportMetricsServiceRequest::decode(body.as_ref()).unwrap();
        for m in req
            .resource_metrics
            .iter()
            .flat_map(|r| &r.scope_metrics)
            .flat_map(|s| &s.metrics)
            .filter(|m| m.name == "completion.invokes")
        {
            if let Some(Data::Sum(sum)) = &m.data {
                out.extend(
                    sum.data_points
                        .iter()
                        .filter_map(|p| string_value(&p.attributes, "faas.invocation_id")),
                );
            }
        }
    }
    out
}

/// Request ids of the log records the logs fake accepted.
fn log_requests(fake: &FakeOtlpEndpoint) -> Vec<String> {
    let mut out = Vec::new();
    for body in fake.accepted_bodies() {
        let req = ExportLogsServiceRequest::decode(body.as_ref()).unwrap();
        out.extend(
            req.resource_logs
                .iter()
                .flat_map(|r| &r.scope_logs)
                .flat_map(|s| &s.log_records)
                .filter_map(|r| string_value(&r.attributes, "faas.invocation_id")),
        );
    }
    out
}

/// Runs the completion fixture through the layer's wrapper and hooks.
async fn run(r: Run, interpreter: PathBuf) -> Outcome {
    let fake = Arc::new(
        FakeOtlpEndpoint::start(OtlpEndpointOptions::xray_traces("us-east-1"))
            .await
            .unwrap(),
    );
    let metrics = Arc::new(
        FakeOtlpEndpoint::start(OtlpEndpointOptions::cloudwatch_metrics("us-east-1"))
            .await
            .unwrap(),
    );
    let logs = Arc::new(
        FakeOtlpEndpoint::start(OtlpEndpointOptions {
            required_headers: Vec::new(),
            ..OtlpEndpointOptions::cloudwatch_logs("us-east-1")
        })
        .await
        .unwrap(),
    );
    let all_signals = r.provider == "global-all";
    let tag = format!("completion-{:?}-{}-{}", r.lang, r.provider, r.hook).to_lowercase();
    let layer = LayerDir::new(&tag);
    // The layer's layout (package-layer.sh): the wrapper finds its hooks beside it.
    let root = layer.path().join("layer");
    std::os::unix::fs::symlink(
        manifest().join("scripts/otel-aws-wrapper"),
        root.join("otel-aws-wrapper"),
    )
    .unwrap();
    std::os::unix::fs::symlink(manifest().join("hooks"), root.join("otel-aws-hooks")).unwrap();
    let stats_file = layer.path().join("stats.json");

    let (command, task_root, execution_env, env): (Vec<String>, _, _, Vec<(&str, String)>) =
        match r.lang {
            Lang::Python => (
                vec![
                    interpreter.display().to_string(),
                    "-m".into(),
                    "awslambdaric".into(),
                    "completion_function.handler".into(),
                ],
                manifest().join("tests/python"),
                "AWS_Lambda_python3.11",
                vec![("PYTHONDONTWRITEBYTECODE", "1".into())], // keep the source tree clean
            ),
            Lang::Node => (
                vec![
                    "node".into(),
                    "runtime.js".into(),
                    "completion_function.handler".into(),
                ],
                manifest().join("tests/node"),
                "AWS_Lambda_nodejs20.x",
                vec![("NODE_PATH", interpreter.display().to_string())],
            ),
        };
    let failures = Arc::new(Mutex::new(Vec::new()));
    let (f, fails) = (fake.clone(), failures.clone());
    let (fm, fl) = (metrics.clone(), logs.clone());
    let mut cfg = layer
        .sim_config(command)
        .with_env("AWS_EXECUTION_ENV", execution_env)
        .with_env("OTEL_AWS_LAMBDA_EXPORTER_ENDPOINT", fake.traces_url())
        .with_env("OTEL_AWS_SIGV4", "true")
        .with_env("OTEL_AWS_LAMBDA_FLUSH", "end")
        .with_env("OTEL_AWS_LAMBDA_STATS_FILE", stats_file.to_str().unwrap())
        .with_env("OTEL_AWS_TEST_PROVIDER", r.provider)
        .with_env("OTEL_AWS_LAMBDA_METRICS_ENDPOINT", metrics.traces_url())
        .with_env("OTEL_AWS_LAMBDA_LOGS_ENDPOINT", logs.traces_url())
        .with_env(
            "OTEL_AWS_LAMBDA_COMPLETION_HOOK",
            if r.hook { "true" } else { "false" },
        )
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
            if all_signals {
                let id = &inv.request_id;
                let points = metric_requests(&fm).iter().filter(|r| *r == id).count();
                let records = log_requests(&fl).iter().filter(|r| *r == id).count();
                if (points, records) != (1, 1) {
                    fails.lock().unwrap().push(format!(
                        "invoke {} ({id}): {points} counter points and {records} log records at freeze",
                        inv.index
                    ));
                }
            }
        });
    for (k, v) in env {
        cfg = cfg.with_env(k, v);
    }
    cfg.exec_wrapper = Some(root.join("otel-aws-wrapper"));
    cfg.task_root = Some(task_root);
    cfg.handler = "completion_function.handler".into();
    cfg.function_name = format!("{tag}-fn");
    cfg.invokes = (0..r.invokes)
        .map(|i| {
            let fail = r.fail_odd && i % 2 == 1;
            InvokeSpec::json(&serde_json::json!({ "spans": CHILDREN, "fail": fail }))
        })
        .collect();

    let report = Simulator::run(cfg).await.unwrap();
    let stats: StatsSnapshot =
        serde_json::from_slice(&std::fs::read(&stats_file).unwrap()).unwrap();
    drop(layer);
    assert_eq!(report.init.status.as_str(), "success", "{:?}", report.init);
    if r.fail_odd {
        assert_eq!(report.invokes.len(), r.invokes);
        for inv in &report.invokes {
            let want = if inv.index % 2 == 1 {
                "error"
            } else {
                "success"
            };
            assert_eq!(inv.status.as_str(), want, "{inv:?}");
            assert!(!inv.reset, "environment reset: {inv:?}");
        }
        assert!(
            report.shutdown.timed_out.is_empty(),
            "{:?}",
            report.shutdown
        );
    } else {
        assert_all_succeeded(&report, r.invokes);
    }
    for f in [&fake, &metrics, &logs] {
        assert!(f.rejected().is_empty(), "SigV4: {:?}", f.rejected());
    }
    let spans = per_request(&fake.received()).values().sum();
    let incomplete_at_freeze = failures.lock().unwrap().clone();
    Outcome {
        report,
        stats,
        incomplete_at_freeze,
        spans,
    }
}

/// Every span of every invoke at the endpoint before that invoke's freeze,
/// none lost or duplicated.
fn assert_delivered(o: &Outcome, n: usize) {
    assert!(
        o.incomplete_at_freeze.is_empty(),
        "{} invokes incomplete at freeze: {:?}",
        o.incomplete_at_freeze.len(),
        &o.incomplete_at_freeze[..o.incomplete_at_freeze.len().min(5)]
    );
    assert_eq!(o.spans, n * (1 + CHILDREN));
    let s = &o.stats;
    assert_eq!(s.invokes, n as u64, "{s:?}");
    assert_eq!(s.spans_received, (n * (1 + CHILDREN)) as u64, "{s:?}");
    assert_eq!(s.spans_exported, s.spans_received, "{s:?}");
    assert_eq!(s.done_by_deadline, 0, "{s:?}");
}

fn p50(report: &SimReport) -> f64 {
    let mut v: Vec<f64> = report
        .invokes
        .iter()
        .map(|i| i.post_runtime_extension_ms)
        .collect();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

const N: usize = 20;

/// Half the invokes fail (the handler raises or rejects): the hook signals either way.
async fn hook_signals_done(lang: Lang, interpreter: PathBuf) {
    let o = run(
        Run {
            lang,
            provider: "global",
            hook: true,
            invokes: N,
            fail_odd: true,
        },
        interpreter,
    )
    .await;
    assert_delivered(&o, N);
    // The hook's signal ended every invoke, before runtimeDone could.
    assert_eq!(o.stats.done_by_function, N as u64, "{:?}", o.stats);
    assert_eq!(o.stats.done_by_runtime_done, 0, "{:?}", o.stats);
    eprintln!(
        "{lang:?} with the hook: post-runtime p50 {:.2} ms",
        p50(&o.report)
    );
}

async fn own_provider_falls_back(lang: Lang, interpreter: PathBuf) {
    let o = run(
        Run {
            lang,
            provider: "own",
            hook: true,
            invokes: N,
            fail_odd: false,
        },
        interpreter,
    )
    .await;
    assert_delivered(&o, N);
    // No global provider: the hook could not vouch for the spans, sent no signal.
    assert_eq!(o.stats.done_by_function, 0, "{:?}", o.stats);
    assert_eq!(o.stats.done_by_runtime_done, N as u64, "{:?}", o.stats);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_hook_flushes_the_global_provider_and_signals_done() {
    let Some(python) = python() else { return };
    hook_signals_done(Lang::Python, python).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_own_provider_falls_back_to_runtime_done_and_delivers_everything() {
    let Some(python) = python() else { return };
    own_provider_falls_back(Lang::Python, python).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_hook_flushes_the_global_provider_and_signals_done() {
    let Some(modules) = node_modules() else {
        return;
    };
    hook_signals_done(Lang::Node, modules).await;
}

/// The hook flushes the global meter and logger providers too, before its
/// signal: every invoke's counter point and log record are upstream before
/// the freeze, though the providers' own exports wait 10 minutes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_hook_flushes_the_meter_and_logger_providers_too() {
    let Some(modules) = node_modules() else {
        return;
    };
    let n = 6;
    let o = run(
        Run {
            lang: Lang::Node,
            provider: "global-all",
            hook: true,
            invokes: n,
            fail_odd: true,
        },
        modules,
    )
    .await;
    assert_delivered(&o, n);
    assert_eq!(o.stats.done_by_function, n as u64, "{:?}", o.stats);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_own_provider_falls_back_to_runtime_done_and_delivers_everything() {
    let Some(modules) = node_modules() else {
        return;
    };
    own_provider_falls_back(Lang::Node, modules).await;
}

/// The docs/benchmarks.md figure: post-runtime p50 with and without the
/// hook (`OTEL_AWS_LAMBDA_COMPLETION_HOOK=false`), `BENCH_INVOKES` each
/// (default 200), of a function that flushes its global provider itself
/// (so that it is correct without the hook too). Prints a table; asserts
/// only that everything arrived. Fails without Python or Node.js.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run with --run-ignored ignored-only --no-capture"]
async fn post_runtime_p50_with_and_without_the_hook() {
    let n: usize = std::env::var("BENCH_INVOKES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let mut rows = Vec::new();
    for lang in [Lang::Python, Lang::Node] {
        let interpreter = match lang {
            Lang::Python => python(),
            Lang::Node => node_modules(),
        };
        // A table missing a runtime is not the figure: fail, never skip.
        let Some(interpreter) = interpreter else {
            panic!("the benchmark needs {lang:?} (see the SKIPPED line above): {HINT}");
        };
        for hook in [false, true] {
            let o = run(
                Run {
                    lang,
                    provider: "global-flush",
                    hook,
                    invokes: n,
                    fail_odd: false,
                },
                interpreter.clone(),
            )
            .await;
            assert_delivered(&o, n);
            let mut v: Vec<f64> = o
                .report
                .invokes
                .iter()
                .map(|i| i.post_runtime_extension_ms)
                .collect();
            v.sort_by(f64::total_cmp);
            let q = |p: f64| v[((v.len() as f64 * p) as usize).min(v.len() - 1)];
            rows.push(format!(
                "| {lang:?} | {} | {n} | {:.2} | {:.2} | {:.2} | {} / {} |",
                if hook { "on" } else { "off" },
                q(0.5),
                q(0.9),
                q(0.99),
                o.stats.done_by_function,
                o.stats.done_by_runtime_done,
            ));
        }
    }
    println!(
        "| runtime | hook | invokes | post-runtime p50 ms | p90 ms | p99 ms | done by function / runtimeDone |"
    );
    println!("|---|---|---|---|---|---|---|");
    for r in rows {
        println!("{r}");
    }
}
