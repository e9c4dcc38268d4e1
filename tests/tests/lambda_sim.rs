//! The Lambda simulator against the real `lambda_runtime` and
//! `lambda-extension` crates, unchanged (fixtures `sim-echo-function` and
//! `sim-probe-extension`).

// Test code: a failed unwrap is a failed test (clippy.toml allows it only
// inside #[test] functions, not in the helpers here).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use otel_aws_testkit::lambda_sim::{
    InvokeSpec, ReportLine, SHUTDOWN_EXTERNAL, SimConfig, SimReport, Simulator, Status, procfs,
};
use serde_json::{Value, json};

const ECHO: &str = env!("CARGO_BIN_EXE_sim-echo-function");
const PROBE: &str = env!("CARGO_BIN_EXE_sim-probe-extension");
const LAMBDA_SIM: &str = env!("CARGO_BIN_EXE_lambda-sim");

/// A temp dir holding `layer/extensions/probe` (the probe extension) and the probe's output file.
struct Layer {
    root: PathBuf,
}

impl Layer {
    fn new(test: &str) -> Self {
        let root = std::env::temp_dir().join(format!("lambda-sim-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("layer/extensions")).unwrap();
        std::os::unix::fs::symlink(PROBE, root.join("layer/extensions/probe")).unwrap();
        Self { root }
    }
    fn dir(&self) -> PathBuf {
        self.root.join("layer")
    }
    fn out(&self) -> PathBuf {
        self.root.join("probe.jsonl")
    }
    /// Everything the probe wrote, one JSON value per line.
    fn records(&self) -> Vec<Value> {
        std::fs::read_to_string(self.out())
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
    fn config(&self, invokes: Vec<InvokeSpec>) -> SimConfig {
        let mut cfg = SimConfig::new([ECHO])
            .with_layer(self.dir())
            .with_env("SIM_PROBE_OUT", self.out().display().to_string());
        cfg.invokes = invokes;
        cfg.forward_output = false;
        cfg
    }
}

impl Drop for Layer {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn events(records: &[Value], event_type: &str) -> Vec<Value> {
    records
        .iter()
        .filter(|r| r["kind"] == "event" && r["eventType"] == event_type)
        .cloned()
        .collect()
}

fn telemetry(records: &[Value], kind: &str) -> Vec<Value> {
    records
        .iter()
        .filter(|r| r["kind"] == "telemetry" && r["item"]["type"] == kind)
        .cloned()
        .collect()
}

/// Epoch milliseconds of an RFC 3339 `...T..:..:..(.mmm)Z` time.
fn rfc3339_ms(t: &str) -> f64 {
    let (date, time) = t.trim_end_matches('Z').split_once('T').unwrap();
    let d: Vec<i64> = date.split('-').map(|x| x.parse().unwrap()).collect();
    // Days from civil (Howard Hinnant's algorithm), independent of the simulator's formatter.
    let (y, m, day) = (if d[1] <= 2 { d[0] - 1 } else { d[0] }, d[1], d[2]);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let parts: Vec<f64> = time.split(':').map(|x| x.parse().unwrap()).collect();
    (days as f64 * 86_400.0 + parts[0] * 3600.0 + parts[1] * 60.0 + parts[2]) * 1000.0
}

async fn run(cfg: SimConfig) -> SimReport {
    tokio::time::timeout(Duration::from_secs(60), Simulator::run(cfg))
        .await
        .expect("simulator finished")
        .expect("simulator ran")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_crates_run_unchanged_with_freezing_and_telemetry() {
    let layer = Layer::new("main");
    let specs: Vec<InvokeSpec> = (0..5)
        .map(|i| InvokeSpec::json(&json!({ "n": i, "text": format!("event {i}") })))
        .collect();
    let mut cfg = layer
        .config(specs.clone())
        .with_env("SIM_PROBE_WAIT_RUNTIME_DONE", "1")
        .with_env("SIM_PROBE_SHUTDOWN_LINGER_MS", "300");
    // Record the scheduler state of every process while frozen.
    type Seen = Vec<Vec<(u32, Option<char>)>>; // per freeze: (pid, state)
    let states: Arc<Mutex<Seen>> = Arc::default();
    let seen = states.clone();
    cfg = cfg.on_frozen(move |inv| {
        let s = inv
            .frozen_pids
            .iter()
            .map(|p| (*p, procfs::process_state(*p)))
            .collect();
        seen.lock().unwrap().push(s);
    });
    let report = run(cfg).await;

    assert_eq!(report.init.status, Status::Success, "{:?}", report.init);
    assert_eq!(report.init.extensions.len(), 1);
    assert_eq!(report.init.extensions[0].name, "probe");
    assert_eq!(report.init.extensions[0].events, ["INVOKE", "SHUTDOWN"]);
    assert_eq!(report.invokes.len(), 5);
    let runtime_pid = report.init.runtime_pid.unwrap();
    let probe_pid = report.init.extension_pids[0].1;

    for (inv, spec) in report.invokes.iter().zip(&specs) {
        assert_eq!(inv.status, Status::Success, "{inv:?}");
        let resp = inv.response_json().unwrap();
        // The function got the event and the headers.
        let sent: Value = serde_json::from_slice(&spec.event).unwrap();
        assert_eq!(resp["event"], sent);
        assert_eq!(resp["request_id"], inv.request_id.as_str());
        assert_eq!(resp["trace_id"], inv.trace_header.as_str());
        assert_eq!(resp["deadline_ms"], inv.deadline_ms);
        assert_eq!(
            resp["function_arn"],
            "arn:aws:lambda:us-east-1:123456789012:function:lambda-sim-function"
        );
        assert_eq!(resp["pid"], runtime_pid, "one warm runtime process");
        assert!(
            inv.trace_header.starts_with("Root=1-") && inv.trace_header.ends_with(";Sampled=1")
        );
        // The extension waited for runtimeDone, which the buffering delays.
        assert!(inv.post_runtime_extension_ms > 0.0, "{inv:?}");
        assert!(inv.frozen_pids.contains(&runtime_pid) && inv.frozen_pids.contains(&probe_pid));
        assert!(inv.frozen_at.is_some());
    }
    assert_eq!(
        report.invokes[0].init_duration_ms,
        Some(report.init.init_duration_ms)
    );
    assert!(
        report.invokes[1..]
            .iter()
            .all(|i| i.init_duration_ms.is_none())
    );
    // Distinct request ids and trace headers per invoke.
    let mut ids: Vec<&str> = report
        .invokes
        .iter()
        .map(|i| i.request_id.as_str())
        .collect();
    ids.dedup();
    assert_eq!(ids.len(), 5);

    // Every process was stopped while frozen.
    let states = states.lock().unwrap();
    assert_eq!(states.len(), 5);
    for s in states.iter() {
        assert!(s.len() >= 2);
        for (pid, state) in s {
            assert_eq!(
                *state,
                Some('T'),
                "pid {pid} not stopped while frozen: {s:?}"
            );
        }
    }

    // The extension saw INVOKE for every request with the Lambda fields, then SHUTDOWN.
    let records = layer.records();
    let invokes = events(&records, "INVOKE");
    assert_eq!(invokes.len(), 5, "{records:#?}");
    for (ev, inv) in invokes.iter().zip(&report.invokes) {
        assert_eq!(ev["requestId"], inv.request_id.as_str());
        assert_eq!(ev["deadlineMs"], inv.deadline_ms);
        assert_eq!(ev["tracing"]["type"], "X-Amzn-Trace-Id");
        assert_eq!(ev["tracing"]["value"], inv.trace_header.as_str());
        assert!(
            ev["invokedFunctionArn"]
                .as_str()
                .unwrap()
                .ends_with(":function:lambda-sim-function")
        );
    }
    let shutdown = events(&records, "SHUTDOWN");
    assert_eq!(shutdown.len(), 1);
    assert_eq!(shutdown[0]["shutdownReason"], "spindown");
    assert_eq!(shutdown[0]["deadlineMs"], report.shutdown.deadline_ms);
    assert_eq!(report.shutdown.acknowledged, ["probe"]);
    assert!(
        report.shutdown.timed_out.is_empty(),
        "{:?}",
        report.shutdown
    );

    // Telemetry: init events, then start / runtimeDone / report for every request, in order.
    for kind in [
        "platform.initStart",
        "platform.initRuntimeDone",
        "platform.initReport",
    ] {
        assert_eq!(telemetry(&records, kind).len(), 1, "{kind}");
    }
    assert_eq!(
        telemetry(&records, "platform.telemetrySubscription").len(),
        1
    );
    for inv in &report.invokes {
        let pos = |kind: &str| {
            records
                .iter()
                .position(|r| {
                    r["item"]["type"] == kind
                        && r["item"]["record"]["requestId"] == inv.request_id.as_str()
                })
                .unwrap_or_else(|| panic!("{kind} for {} missing", inv.request_id))
        };
        let (start, done, rep) = (
            pos("platform.start"),
            pos("platform.runtimeDone"),
            pos("platform.report"),
        );
        assert!(start < done && done < rep);
        let done = &records[done]["item"]["record"];
        assert_eq!(done["status"], "success");
        assert!(done["metrics"]["producedBytes"].as_u64().unwrap() > 0);
        let spans: Vec<&str> = done["spans"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].as_str().unwrap())
            .collect();
        assert_eq!(spans, ["responseLatency", "responseDuration"]);
        assert_eq!(done["tracing"]["value"], inv.trace_header.as_str());
        let rep = &records[rep]["item"]["record"]["metrics"];
        assert_eq!(rep["memorySizeMB"], 128);
        assert!(rep["maxMemoryUsedMB"].as_u64().unwrap() > 0);
        assert!(
            rep["billedDurationMs"].as_u64().unwrap() >= rep["durationMs"].as_f64().unwrap() as u64
        );
        // The extension was told runtimeDone before it called next.
        let next_at = records
            .iter()
            .find(|r| {
                r["kind"] == "next_after_runtime_done" && r["requestId"] == inv.request_id.as_str()
            })
            .unwrap();
        assert!(next_at["at_ms"].as_f64().unwrap() <= inv.frozen_at_ms.unwrap());
    }
    // Buffering: each batch went out at least timeoutMs (25) after its first event.
    let mut batches: Vec<(f64, f64)> = Vec::new(); // (received, earliest event time)
    for r in records.iter().filter(|r| r["kind"] == "telemetry") {
        let at = r["at_ms"].as_f64().unwrap();
        let t = rfc3339_ms(r["item"]["time"].as_str().unwrap());
        match batches.iter_mut().find(|b| b.0 == at) {
            Some(b) => b.1 = b.1.min(t),
            None => batches.push((at, t)),
        }
    }
    assert!(batches.len() >= 5);
    for (at, first) in &batches {
        assert!(
            at - first >= 25.0,
            "batch delivered {} ms after its first event",
            at - first
        );
    }
    // Every record parsed in the real crate (a bad one makes it answer 400).
    assert_eq!(report.telemetry.len(), 1);
    assert_eq!(
        report.telemetry[0].rejected_batches, 0,
        "{:?}",
        report.telemetry
    );
    assert_eq!(
        report.telemetry[0].dropped_events, 0,
        "{:?}",
        report.telemetry
    );
    assert_eq!(
        report.telemetry[0].destination.split(':').nth(1),
        Some("//sandbox.localdomain")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_after_init_is_refused() {
    let layer = Layer::new("late");
    let cfg = layer
        .config(otel_aws_testkit::lambda_sim::generated(2))
        .with_env("SIM_PROBE_LATE_REGISTER", "1");
    let report = run(cfg).await;
    assert!(report.invokes.iter().all(|i| i.status == Status::Success));
    let records = layer.records();
    let late: Vec<&Value> = records
        .iter()
        .filter(|r| r["kind"] == "late_register")
        .collect();
    assert_eq!(late.len(), 1, "{records:#?}");
    assert_eq!(late[0]["status"], 403);
    let body: Value = serde_json::from_str(late[0]["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["errorType"], "Extension.RegistrationClosed");
    assert_eq!(
        report.init.extensions.len(),
        1,
        "nothing registered after init"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_is_reported_and_the_environment_reset() {
    let layer = Layer::new("timeout");
    // The timeout applies to both invokes: the second, a cold start after
    // the reset, must have room to succeed on a busy machine; the first
    // sleeps far past it.
    let mut cfg = layer
        .config(vec![
            InvokeSpec::json(&json!({ "sleep_ms": 600_000 })),
            InvokeSpec::json(&json!({ "after": "reset" })),
        ])
        .with_env("SIM_PROBE_SHUTDOWN_LINGER_MS", "300");
    cfg.timeout = Duration::from_secs(3);
    let report = run(cfg).await;

    let first = &report.invokes[0];
    assert_eq!(first.status, Status::Timeout, "{first:?}");
    assert!(first.reset);
    assert!(first.response_body.is_none());
    assert!(first.frozen_at.is_none());
    let second = &report.invokes[1];
    assert_eq!(second.status, Status::Success, "{second:?}");
    assert!(
        second.init_duration_ms.is_some(),
        "cold start after the reset"
    );

    let kinds: Vec<String> = report
        .lines
        .iter()
        .map(|l| match l {
            ReportLine::Init(i) => format!("init:{}", i.phase),
            ReportLine::Invoke(i) => format!("invoke:{}", i.status.as_str()),
            ReportLine::Shutdown(s) => format!("shutdown:{}", s.reason),
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "init:init",
            "invoke:timeout",
            "shutdown:timeout",
            "init:invoke",
            "invoke:success",
            "shutdown:spindown"
        ]
    );
    let pids: Vec<u32> = report
        .lines
        .iter()
        .filter_map(|l| match l {
            ReportLine::Init(i) => i.runtime_pid,
            _ => None,
        })
        .collect();
    assert_ne!(pids[0], pids[1], "a fresh runtime after the reset");
    assert_eq!(second.response_json().unwrap()["pid"], pids[1]);

    let records = layer.records();
    let reasons: Vec<String> = events(&records, "SHUTDOWN")
        .iter()
        .map(|e| e["shutdownReason"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(reasons, ["timeout", "spindown"]);
    let done = telemetry(&records, "platform.runtimeDone");
    assert!(
        done.iter().any(
            |d| d["item"]["record"]["requestId"] == first.request_id.as_str()
                && d["item"]["record"]["status"] == "timeout"
        ),
        "{done:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_kills_a_lingering_extension_after_the_deadline() {
    let layer = Layer::new("linger");
    let cfg = layer
        .config(otel_aws_testkit::lambda_sim::generated(1))
        .with_env("SIM_PROBE_IGNORE_SHUTDOWN", "1");
    let report = run(cfg).await;
    let probe_pid = report.init.extension_pids[0].1;

    assert_eq!(report.invokes[0].status, Status::Success);
    let sd = &report.shutdown;
    assert_eq!(sd.reason, "spindown");
    assert_eq!(sd.timed_out, ["probe"]);
    assert!(sd.killed.iter().any(|k| k == "probe"));
    assert!(sd.acknowledged.is_empty());
    // It was given the whole external-extension deadline before SIGKILL.
    assert!(
        sd.duration_ms >= SHUTDOWN_EXTERNAL.as_millis() as f64,
        "{sd:?}"
    );
    let shutdown = events(&layer.records(), "SHUTDOWN");
    assert_eq!(shutdown.len(), 1);
    assert_eq!(shutdown[0]["deadlineMs"], sd.deadline_ms);
    assert!(
        matches!(procfs::process_state(probe_pid), None | Some('Z')),
        "probe still alive"
    );
}

/// An extension that exits by itself at SHUTDOWN, and a runtime ended by
/// the SIGTERM, were not SIGKILLed: `killed` is decided by the wait status,
/// not by whether the simulator had noticed the exit before its kill (that
/// used to race). Several environments, so a racy report would show.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_extension_exiting_at_shutdown_is_not_reported_killed() {
    for round in 0..4 {
        let layer = Layer::new(&format!("exit-{round}"));
        let cfg = layer
            .config(otel_aws_testkit::lambda_sim::generated(1))
            .with_env("SIM_PROBE_EXIT_ON_SHUTDOWN", "1");
        let report = run(cfg).await;
        assert_eq!(report.invokes[0].status, Status::Success);
        let sd = &report.shutdown;
        // It ended before the deadline (not `timed_out`), by itself.
        assert!(sd.timed_out.is_empty(), "round {round}: {sd:?}");
        assert!(sd.killed.is_empty(), "round {round}: {sd:?}");
        assert!(sd.acknowledged.is_empty(), "it exited instead: {sd:?}");
        assert_eq!(events(&layer.records(), "SHUTDOWN").len(), 1);
    }
}

// A plain (current-thread) tokio test: the simulator must not need more.
#[tokio::test]
async fn function_error_without_extensions() {
    let mut cfg = SimConfig::new([ECHO]);
    cfg.forward_output = false;
    cfg.invokes = vec![
        InvokeSpec::json(&json!({ "fail": true })),
        InvokeSpec::json(&json!({ "ok": 1 })),
    ];
    let report = run(cfg).await;
    assert!(report.init.extensions.is_empty());
    let failed = &report.invokes[0];
    assert_eq!(failed.status, Status::Error);
    assert!(failed.error_type.is_some());
    assert!(
        !failed.reset,
        "a function error does not reset the environment"
    );
    assert_eq!(failed.post_runtime_extension_ms, 0.0);
    assert_eq!(report.invokes[1].status, Status::Success);
    assert_eq!(
        report.invokes[1].response_json().unwrap()["event"],
        json!({ "ok": 1 })
    );
    // No external extension: the runtime gets 500 ms, and it exits on SIGTERM.
    assert!(report.shutdown.timed_out.is_empty());
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

#[test]
fn lambda_sim_binary_cli() {
    let layer = Layer::new("cli");
    let events = layer.root.join("events.jsonl");
    write(&events, "{\"a\":1}\n{\"b\":2}\n");
    let out = std::process::Command::new(LAMBDA_SIM)
        .arg("--layer")
        .arg(layer.dir())
        .args([
            "--invokes",
            "3",
            "--timeout-ms",
            "2000",
            "--memory-mb",
            "256",
            "--quiet",
        ])
        .arg("--events")
        .arg(&events)
        .arg("--env")
        .arg(format!("SIM_PROBE_OUT={}", layer.out().display()))
        .arg("--")
        .arg(ECHO)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let kinds: Vec<&str> = lines.iter().map(|l| l["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["init", "invoke", "invoke", "invoke", "shutdown"]);
    let sent: Vec<Value> = lines[1..4]
        .iter()
        .map(|l| {
            serde_json::from_str::<Value>(l["response_body"].as_str().unwrap()).unwrap()["event"]
                .clone()
        })
        .collect();
    assert_eq!(sent, [json!({"a":1}), json!({"b":2}), json!({"a":1})]);
    for l in &lines[1..4] {
        assert_eq!(l["status"], "success");
        assert!(l["frozen_at_ms"].as_f64().is_some());
        assert!(l["post_runtime_extension_ms"].as_f64().is_some());
    }
    assert_eq!(events_of(&layer, "INVOKE"), 3);
    assert!(String::from_utf8_lossy(&out.stderr).contains("3/3 invokes succeeded"));
}

fn events_of(layer: &Layer, t: &str) -> usize {
    events(&layer.records(), t).len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn managed_instances_serve_concurrent_workers_without_freezing() {
    let mut cfg = SimConfig::new([ECHO]).managed_instances(4);
    cfg.forward_output = false;
    cfg.invokes = (0..12)
        .map(|_| InvokeSpec::json(&json!({"sleep_ms": 300})))
        .collect();
    let report = run(cfg).await;
    assert_eq!(report.init.status, Status::Success, "{:?}", report.init);
    assert_eq!(report.invokes.len(), 12);
    let mut pids = std::collections::HashSet::new();
    for inv in &report.invokes {
        assert_eq!(inv.status, Status::Success, "{inv:?}");
        assert!(inv.frozen_at.is_none(), "never frozen: {inv:?}");
        let body: Value = serde_json::from_str(inv.response_body.as_deref().unwrap()).unwrap();
        assert_eq!(body["request_id"], inv.request_id.as_str());
        pids.insert(body["pid"].as_u64().unwrap());
    }
    assert!(
        pids.len() >= 2,
        "invokes were served by several workers: {pids:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn managed_instances_refuse_invoke_registration() {
    // The probe extension registers for INVOKE: Managed Instances send none.
    let layer = Layer::new("managed-invoke");
    let cfg = layer
        .config(vec![InvokeSpec::json(&json!({}))])
        .managed_instances(2);
    let report = run(cfg).await;
    // docs/lambda-sim.md: on Managed Instances a registration asking for
    // INVOKE is refused with Extension.InvalidEventType (a refused
    // registration is 403, as one after init); the extension cannot run
    // and exits, and an extension that exits during init fails it as in
    // Lambda: `failure`, Extension.Crash, nothing registered.
    assert_eq!(report.init.status, Status::Failure, "{:?}", report.init);
    assert_eq!(
        report.init.error_type.as_deref(),
        Some("Extension.Crash"),
        "{:?}",
        report.init
    );
    assert!(report.init.extensions.is_empty(), "{:?}", report.init);
    let records = layer.records();
    let failed: Vec<&Value> = records
        .iter()
        .filter(|r| r["kind"] == "run_error")
        .collect();
    assert_eq!(failed.len(), 1, "{records:#?}");
    let error = failed[0]["error"].as_str().unwrap();
    assert!(
        error.contains("unable to register the extension: 403"),
        "{error}"
    );
    let again = &failed[0]["register_again"];
    assert_eq!(again["status"], 403, "{again}");
    let body: Value = serde_json::from_str(again["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["errorType"], "Extension.InvalidEventType", "{body}");
    assert!(events(&records, "INVOKE").is_empty());
}
