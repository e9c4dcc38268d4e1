//! End to end in the Lambda simulator (real SIGSTOP freezing, Telemetry API
//! batching): the test function (`lambda_runtime` + the wrapper) and the
//! extension, exporting to the testkit's SigV4-verifying OTLP endpoint.
//!
//! Each test gives its environment its own ports; the tests run one at a
//! time (a lock) so 2 cores are not oversubscribed.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value;
use otel_aws_lambda::extension::stats::StatsSnapshot;
use otel_aws_testkit::lambda_sim::{InvokeSpec, SimConfig, SimReport, Simulator};
use otel_aws_testkit::otlp::{FakeOtlpEndpoint, FakeResponse, OtlpEndpointOptions};

mod common;
use common::{LayerDir, assert_all_succeeded};

static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

struct Env {
    layer: LayerDir,
    stats: PathBuf,
}

impl Env {
    fn new(name: &str) -> Self {
        let layer = LayerDir::new(&format!("e2e-{name}"));
        let stats = layer.path().join("stats.json");
        Self { layer, stats }
    }

    fn config(&self, fake: &FakeOtlpEndpoint, invokes: Vec<InvokeSpec>) -> SimConfig {
        let mut cfg = self
            .layer
            .sim_config([env!("CARGO_BIN_EXE_otel-aws-test-function")])
            .with_env("OTEL_AWS_LAMBDA_EXPORTER_ENDPOINT", fake.traces_url())
            .with_env("OTEL_AWS_SIGV4", "true") // a 127.0.0.1 fake is not an AWS host: force signing
            .with_env("OTEL_AWS_LAMBDA_STATS_FILE", self.stats.to_str().unwrap());
        cfg.invokes = invokes;
        cfg
    }

    fn stats(&self) -> StatsSnapshot {
        serde_json::from_slice(&std::fs::read(&self.stats).unwrap()).unwrap()
    }
}

/// Runs the simulator and ends a scripted outage once the extension's
/// stats (written after each invoke) show `seen`: the outage lasts until
/// what the test checks has happened, whatever the machine's speed, and the
/// backend is healthy well before SHUTDOWN.
async fn run_recovering(
    cfg: SimConfig,
    fake: &FakeOtlpEndpoint,
    env: &Env,
    seen: impl Fn(&StatsSnapshot) -> bool,
) -> SimReport {
    let sim = Simulator::run(cfg);
    tokio::pin!(sim);
    let mut recovered = false;
    loop {
        tokio::select! {
            report = &mut sim => return report.unwrap(),
            _ = tokio::time::sleep(std::time::Duration::from_millis(10)), if !recovered => {
                let snapshot = std::fs::read(&env.stats)
                    .ok()
                    .and_then(|b| serde_json::from_slice::<StatsSnapshot>(&b).ok());
                if snapshot.as_ref().is_some_and(&seen) {
                    fake.clear_responses();
                    recovered = true;
                }
            }
        }
    }
}

fn events(n: usize, event: serde_json::Value) -> Vec<InvokeSpec> {
    (0..n).map(|_| InvokeSpec::json(&event)).collect()
}

/// Span ids of everything received, and per request id (the SERVER span's
/// `faas.invocation_id`) the number of spans in its trace.
fn index(
    received: &[ExportTraceServiceRequest],
) -> (HashSet<Vec<u8>>, usize, HashMap<String, usize>) {
    let mut ids = HashSet::new();
    let mut total = 0;
    let mut trace_of: HashMap<String, Vec<u8>> = HashMap::new();
    let mut per_trace: HashMap<Vec<u8>, usize> = HashMap::new();
    for req in received {
        for span in req
            .resource_spans
            .iter()
            .flat_map(|rs| &rs.scope_spans)
            .flat_map(|ss| &ss.spans)
        {
            total += 1;
            ids.insert(span.span_id.clone());
            *per_trace.entry(span.trace_id.clone()).or_default() += 1;
            for kv in &span.attributes {
                if kv.key == "faas.invocation_id"
                    && let Some(any_value::Value::StringValue(id)) =
                        kv.value.as_ref().and_then(|v| v.value.as_ref())
                {
                    trace_of.insert(id.clone(), span.trace_id.clone());
                }
            }
        }
    }
    let per_request = trace_of
        .into_iter()
        .map(|(id, t)| (id, per_trace.get(&t).copied().unwrap_or(0)))
        .collect();
    (ids, total, per_request)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_span_arrives_before_its_invoke_freezes() {
    let _serial = SERIAL.lock().await;
    let fake = Arc::new(
        FakeOtlpEndpoint::start(OtlpEndpointOptions::xray_traces("us-east-1"))
            .await
            .unwrap(),
    );
    let env = Env::new("freeze");
    const N: usize = 210;
    const CHILDREN: usize = 3;
    let failures = Arc::new(Mutex::new(Vec::new()));
    let (f, fails) = (fake.clone(), failures.clone());
    let cfg = env
        .config(&fake, events(N, serde_json::json!({"spans": CHILDREN})))
        .with_env("OTEL_AWS_LAMBDA_FLUSH", "end")
        .on_frozen(move |inv| {
            // Every process is stopped now: what has not arrived is at risk.
            let (_, _, per_request) = index(&f.received());
            let got = per_request.get(&inv.request_id).copied().unwrap_or(0);
            if got != 1 + CHILDREN {
                fails.lock().unwrap().push(format!(
                    "invoke {} ({}): {got} spans at freeze",
                    inv.index, inv.request_id
                ));
            }
        });
    let report = Simulator::run(cfg).await.unwrap();
    assert_all_succeeded(&report, N);
    let failures = failures.lock().unwrap();
    assert!(
        failures.is_empty(),
        "{} invokes incomplete at freeze: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    let (ids, total, per_request) = index(&fake.received());
    assert_eq!(per_request.len(), N);
    assert_eq!(ids.len(), N * (1 + CHILDREN), "none lost");
    assert_eq!(total, ids.len(), "no duplicates");
    assert!(
        fake.rejected().is_empty(),
        "SigV4 rejections: {:?}",
        fake.rejected()
    );
    let stats = env.stats();
    assert_eq!(stats.invokes, N as u64);
    assert_eq!(stats.spans_dropped_buffer_full, 0);
    assert_eq!(stats.done_by_function, N as u64, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adaptive_default_loses_nothing_at_shutdown() {
    let _serial = SERIAL.lock().await;
    let fake = FakeOtlpEndpoint::start(OtlpEndpointOptions::xray_traces("us-east-1"))
        .await
        .unwrap();
    let env = Env::new("adaptive");
    const N: usize = 60;
    let cfg = env
        .config(&fake, events(N, serde_json::json!({"spans": 2})))
        // No done signal (as Python/Node): adaptive goes periodic.
        .with_env("OTEL_AWS_TEST_NO_DONE", "1")
        .with_env("OTEL_AWS_LAMBDA_PLATFORM_SPANS", "true");
    let report = Simulator::run(cfg).await.unwrap();
    assert_all_succeeded(&report, N);
    let (_, _, per_request) = index(&fake.received());
    assert_eq!(per_request.len(), N, "a SERVER span per invoke");
    assert!(per_request.values().all(|n| *n >= 3), "{per_request:?}");
    let stats = env.stats();
    assert!(
        stats.deferred > 0,
        "back-to-back invokes should go periodic: {stats:?}"
    );
    assert_eq!(stats.spans_buffered, 0, "{stats:?}");
    assert_eq!(
        stats.spans_exported,
        stats.spans_received + platform_spans(&fake),
        "{stats:?}"
    );
}

fn platform_spans(fake: &FakeOtlpEndpoint) -> u64 {
    fake.received()
        .iter()
        .flat_map(|r| &r.resource_spans)
        .flat_map(|rs| &rs.scope_spans)
        .filter(|ss| {
            ss.scope
                .as_ref()
                .is_some_and(|s| s.name == "otel-aws-extension")
        })
        .map(|ss| ss.spans.len() as u64)
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backend_503_then_recovers_loses_nothing() {
    let _serial = SERIAL.lock().await;
    let fake = FakeOtlpEndpoint::start(OtlpEndpointOptions::xray_traces("us-east-1"))
        .await
        .unwrap();
    // 503s until a flush was deferred and its spans kept (what this test
    // checks), then the backend recovers: the outage ends on that outcome,
    // not after a count of answers whose use depends on the machine's speed.
    fake.push_responses(std::iter::repeat_n(FakeResponse::Status(503), 100_000));
    let env = Env::new("503");
    const N: usize = 25;
    let cfg = env
        .config(&fake, events(N, serde_json::json!({"spans": 2})))
        .with_env("OTEL_AWS_LAMBDA_FLUSH", "end")
        .with_env("OTEL_AWS_LAMBDA_FLUSH_TIMEOUT", "300");
    let report = run_recovering(cfg, &fake, &env, |s| {
        s.flushes_incomplete > 0 && s.spans_requeued > 0
    })
    .await;
    assert_all_succeeded(&report, N);
    let (ids, _, per_request) = index(&fake.received());
    assert_eq!(per_request.len(), N, "every invoke's trace arrived");
    assert_eq!(ids.len(), N * 3, "none lost");
    let stats = env.stats();
    assert!(
        stats.flushes_incomplete > 0,
        "the 503s should have deferred some flushes: {stats:?}"
    );
    assert!(stats.spans_requeued > 0, "{stats:?}");
    assert_eq!(stats.spans_buffered, 0, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hanging_backend_the_extension_keeps_the_deadline() {
    let _serial = SERIAL.lock().await;
    let fake = FakeOtlpEndpoint::start(OtlpEndpointOptions::xray_traces("us-east-1"))
        .await
        .unwrap();
    fake.push_responses(std::iter::repeat_n(FakeResponse::Hang, 3));
    let env = Env::new("hang");
    const N: usize = 6;
    let mut cfg = env
        .config(&fake, events(N, serde_json::json!({"spans": 1})))
        .with_env("OTEL_AWS_LAMBDA_FLUSH", "end")
        .with_env("OTEL_AWS_LAMBDA_FLUSH_TIMEOUT", "400");
    cfg.timeout = std::time::Duration::from_secs(3);
    let report = Simulator::run(cfg).await.unwrap();
    // No invoke timed out and no environment was reset: the extension
    // called `next` in time although the backend never answered.
    assert_all_succeeded(&report, N);
    // The first invoke's flush met the hung backend and waited out its
    // whole budget, the configured flush timeout, before `next`. (Measured
    // from the invoke's start: the Rust wrapper signals the end before
    // lambda_runtime posts the response, so the flush may start just
    // before the post-runtime time does.)
    let first = &report.invokes[0];
    assert!(first.total_duration_ms >= 400.0, "{first:?}");
    let (ids, _, per_request) = index(&fake.received());
    assert_eq!(
        per_request.len(),
        N,
        "spans of the hung flushes were kept and sent later"
    );
    assert_eq!(ids.len(), N * 2);
    let stats = env.stats();
    assert!(stats.flushes_incomplete >= 1, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn burst_of_50k_spans_is_bounded_dropped_and_counted() {
    let _serial = SERIAL.lock().await;
    let fake = Arc::new(
        FakeOtlpEndpoint::start(OtlpEndpointOptions::xray_traces("us-east-1"))
            .await
            .unwrap(),
    );
    let env = Env::new("burst");
    let peak_kib = Arc::new(Mutex::new(0u64));
    let peak = peak_kib.clone();
    let invokes = vec![
        InvokeSpec::json(&serde_json::json!({"burst": 50_000})),
        InvokeSpec::json(&serde_json::json!({"spans": 1})),
    ];
    let ext_pid = Arc::new(Mutex::new(None::<u32>));
    let pid_slot = ext_pid.clone();
    let mut cfg = env
        .config(&fake, invokes)
        .with_env("OTEL_AWS_LAMBDA_FLUSH", "end")
        .on_frozen(move |inv| {
            // The extension is the frozen process that is not the runtime;
            // take the largest peak over the frozen processes' extension.
            let pid = *pid_slot.lock().unwrap();
            let pids: Vec<u32> = match pid {
                Some(p) => vec![p],
                None => inv.frozen_pids.clone(),
            };
            let mut p = peak.lock().unwrap();
            for pid in pids {
                *p = (*p).max(otel_aws_testkit::lambda_sim::procfs::peak_rss_kib(pid));
            }
        });
    let slot = ext_pid.clone();
    cfg.on_report = Some(Arc::new(move |line| {
        if let otel_aws_testkit::lambda_sim::ReportLine::Init(init) = line
            && let Some((_, pid)) = init.extension_pids.first()
        {
            *slot.lock().unwrap() = Some(*pid);
        }
    }));
    let report = Simulator::run(cfg).await.unwrap();
    assert_all_succeeded(&report, 2);
    let stats = env.stats();
    let max = otel_aws_lambda::config::BufferLimits::default().max_spans as u64;
    // 50,000 burst spans + 2 SERVER spans + 1 child offered.
    assert_eq!(
        stats.spans_received + stats.spans_dropped_buffer_full,
        50_003,
        "{stats:?}"
    );
    assert!(stats.spans_received <= max + 2, "{stats:?}");
    assert!(stats.spans_dropped_buffer_full >= 50_000 - max, "{stats:?}");
    assert_eq!(
        fake.span_count() as u64,
        stats.spans_received,
        "everything kept was exported"
    );
    // Memory stays bounded by the buffer limit (16 MiB of spans), far from the 50,000-span burst.
    let peak = *peak_kib.lock().unwrap();
    assert!(
        peak > 0 && peak < 96 * 1024,
        "extension peak RSS {peak} KiB"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_counts_what_the_deadline_left_unsent() {
    let _serial = SERIAL.lock().await;
    let fake = FakeOtlpEndpoint::start(OtlpEndpointOptions::xray_traces("us-east-1"))
        .await
        .unwrap();
    // The backend never answers: nothing can be exported, ever.
    fake.push_responses(std::iter::repeat_n(FakeResponse::Hang, 200));
    let env = Env::new("shutdown-lost");
    const N: usize = 2;
    let cfg = env
        .config(&fake, events(N, serde_json::json!({"spans": 1})))
        .with_env("OTEL_AWS_LAMBDA_FLUSH", "end")
        .with_env("OTEL_AWS_LAMBDA_FLUSH_TIMEOUT", "300");
    let report = Simulator::run(cfg).await.unwrap();
    // The extension kept trying until the deadline margin, then exited in time.
    assert_all_succeeded(&report, N);
    assert!(report.shutdown.killed.is_empty(), "{:?}", report.shutdown);
    assert_eq!(fake.span_count(), 0);
    let stats = env.stats();
    assert_eq!(stats.spans_received, (N * 2) as u64, "{stats:?}");
    assert_eq!(stats.spans_exported, 0, "{stats:?}");
    assert_eq!(
        stats.spans_dropped_shutdown, stats.spans_received,
        "every span left at the deadline is counted as dropped: {stats:?}"
    );
    assert_eq!(stats.spans_buffered, 0, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_flushes_again_while_the_deadline_allows() {
    let _serial = SERIAL.lock().await;
    let fake = FakeOtlpEndpoint::start(OtlpEndpointOptions::xray_traces("us-east-1"))
        .await
        .unwrap();
    // One hung request per flush (each ends at the 300 ms flush timeout):
    // both invokes' flushes and the first SHUTDOWN flush get nothing through.
    fake.push_responses(std::iter::repeat_n(FakeResponse::Hang, 3));
    let env = Env::new("shutdown-retry");
    const N: usize = 2;
    let cfg = env
        .config(&fake, events(N, serde_json::json!({"spans": 1})))
        .with_env("OTEL_AWS_LAMBDA_FLUSH", "end")
        .with_env("OTEL_AWS_LAMBDA_FLUSH_TIMEOUT", "300");
    let report = Simulator::run(cfg).await.unwrap();
    assert_all_succeeded(&report, N);
    let (ids, _, per_request) = index(&fake.received());
    assert_eq!(per_request.len(), N, "sent by a later SHUTDOWN flush");
    assert_eq!(ids.len(), N * 2);
    let stats = env.stats();
    assert_eq!(stats.spans_dropped_shutdown, 0, "{stats:?}");
    assert_eq!(stats.spans_exported, (N * 2) as u64, "{stats:?}");
}

/// Median of `v` (sorted copy).
fn p50(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hanging_upstream_costs_milliseconds_and_loses_nothing() {
    let _serial = SERIAL.lock().await;
    let fake = FakeOtlpEndpoint::start(OtlpEndpointOptions::xray_traces("us-east-1"))
        .await
        .unwrap();
    // The upstream hangs for its next 3 requests (the first flush, then
    // two retries), then recovers.
    fake.push_responses(std::iter::repeat_n(FakeResponse::Hang, 3));
    let env = Env::new("outage");
    const N: usize = 40;
    let cfg = env
        .config(
            &fake,
            events(N, serde_json::json!({"spans": 2, "sleep_ms": 20})),
        )
        .with_env("OTEL_AWS_LAMBDA_FLUSH", "end")
        .with_env("OTEL_AWS_LAMBDA_FLUSH_TIMEOUT", "1000");
    let report = Simulator::run(cfg).await.unwrap();
    assert_all_succeeded(&report, N);
    let (ids, total, per_request) = index(&fake.received());
    assert_eq!(per_request.len(), N, "every invoke's trace arrived");
    assert_eq!(ids.len(), N * 3, "none lost");
    // Hung requests were never taken, so nothing was sent twice.
    assert_eq!(total, ids.len(), "no duplicates");
    let stats = env.stats();
    assert_eq!(stats.spans_dropped_outage, 0, "{stats:?}");
    assert_eq!(stats.spans_dropped_shutdown, 0, "{stats:?}");
    assert!(stats.flushes_incomplete >= 1, "{stats:?}");
    assert!(
        stats.lane_attempts_skipped + stats.deferred > 0,
        "later invokes skipped the failing upstream: {stats:?}"
    );
    // For docs/benchmarks.md (not asserted: the machine is shared).
    let post: Vec<f64> = report.invokes[2..]
        .iter()
        .map(|i| i.post_runtime_extension_ms)
        .collect();
    eprintln!(
        "outage: post-runtime p50 from the third invoke {:.2} ms, first {:.1} ms, max {:.1} ms; {} spans received ({} unique); {stats:?}",
        p50(post.clone()),
        report.invokes[0].post_runtime_extension_ms,
        post.iter().copied().fold(0.0, f64::max),
        total,
        ids.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_503_outage_is_kept_off_the_invoke_path_and_loses_nothing() {
    let _serial = SERIAL.lock().await;
    let fake = FakeOtlpEndpoint::start(OtlpEndpointOptions::xray_traces("us-east-1"))
        .await
        .unwrap();
    // A backend answering 503 until an invoke ended without waiting on it
    // (what this test checks), then recovering: the outage ends on that
    // outcome, so nothing depends on how many answers a loaded machine uses.
    fake.push_responses(std::iter::repeat_n(FakeResponse::Status(503), 100_000));
    let env = Env::new("long503");
    const N: usize = 40;
    let cfg = env
        .config(
            &fake,
            events(N, serde_json::json!({"spans": 2, "sleep_ms": 20})),
        )
        .with_env("OTEL_AWS_LAMBDA_FLUSH", "end")
        .with_env("OTEL_AWS_LAMBDA_FLUSH_TIMEOUT", "500");
    let report = run_recovering(cfg, &fake, &env, |s| {
        s.lane_attempts_skipped + s.deferred > 0
    })
    .await;
    assert_all_succeeded(&report, N);
    let (ids, total, per_request) = index(&fake.received());
    assert_eq!(per_request.len(), N, "every invoke's trace arrived");
    assert_eq!(ids.len(), N * 3, "none lost");
    assert_eq!(total, ids.len(), "no duplicates");
    let stats = env.stats();
    assert_eq!(
        stats.spans_dropped_outage + stats.spans_dropped_shutdown,
        0,
        "{stats:?}"
    );
    assert!(
        stats.lane_attempts_skipped + stats.deferred > 0,
        "{stats:?}"
    );
    let post: Vec<f64> = report.invokes[2..]
        .iter()
        .map(|i| i.post_runtime_extension_ms)
        .collect();
    eprintln!(
        "long 503: post-runtime first {:.1} ms, p50 from the third {:.2} ms; {stats:?}",
        report.invokes[0].post_runtime_extension_ms,
        p50(post)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loopback_upstream_on_another_port_receives_the_data() {
    let _serial = SERIAL.lock().await;
    let fake = FakeOtlpEndpoint::start(OtlpEndpointOptions::xray_traces("us-east-1"))
        .await
        .unwrap();
    let env = Env::new("loopback");
    const N: usize = 3;
    let mut cfg = env
        .layer
        .sim_config([env!("CARGO_BIN_EXE_otel-aws-test-function")])
        // A second local collector / test sink on loopback: the upstream.
        .with_env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", fake.traces_url())
        .with_env("OTEL_AWS_SIGV4", "true")
        .with_env("OTEL_AWS_LAMBDA_FLUSH", "end")
        .with_env("OTEL_AWS_LAMBDA_STATS_FILE", env.stats.to_str().unwrap());
    cfg.invokes = events(N, serde_json::json!({"spans": 1}));
    let report = Simulator::run(cfg).await.unwrap();
    assert_all_succeeded(&report, N);
    let (ids, _, per_request) = index(&fake.received());
    assert_eq!(per_request.len(), N);
    assert_eq!(ids.len(), N * 2);
}

/// Late spans at freeze and post-runtime time of one flush mode, 100
/// back-to-back invokes; `done`: the function signals its end (the Rust
/// wrapper), else only `platform.runtimeDone` tells (Python, Node.js).
async fn freeze_figures(mode: &str, done: bool) -> (usize, usize, f64, StatsSnapshot) {
    let fake = Arc::new(
        FakeOtlpEndpoint::start(OtlpEndpointOptions::xray_traces("us-east-1"))
            .await
            .unwrap(),
    );
    let env = Env::new(&format!("modes-{mode}-{done}"));
    const N: usize = 100;
    const CHILDREN: usize = 2;
    let late = Arc::new(Mutex::new(0usize));
    let (f, l) = (fake.clone(), late.clone());
    let mut cfg = env
        .config(&fake, events(N, serde_json::json!({"spans": CHILDREN})))
        .with_env("OTEL_AWS_LAMBDA_FLUSH", mode)
        .on_frozen(move |inv| {
            let (_, _, per_request) = index(&f.received());
            let got = per_request.get(&inv.request_id).copied().unwrap_or(0);
            *l.lock().unwrap() += (1 + CHILDREN).saturating_sub(got);
        });
    if !done {
        cfg = cfg.with_env("OTEL_AWS_TEST_NO_DONE", "1");
    }
    let report = Simulator::run(cfg).await.unwrap();
    assert_all_succeeded(&report, N);
    let (ids, _, _) = index(&fake.received());
    assert_eq!(ids.len(), N * (1 + CHILDREN), "{mode}: none lost");
    let post = p50(report
        .invokes
        .iter()
        .map(|i| i.post_runtime_extension_ms)
        .collect());
    let late = *late.lock().unwrap();
    (late, N * (1 + CHILDREN), post, env.stats())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flush_modes_side_by_side_at_freeze() {
    let _serial = SERIAL.lock().await;
    let mut lines = Vec::new();
    for (mode, done) in [
        ("end", true),
        ("adaptive", true),
        ("end", false),
        ("adaptive", false),
    ] {
        let (late, total, post, stats) = freeze_figures(mode, done).await;
        lines.push(format!(
            "{mode:<8} done-signal={done:<5} late at freeze {late}/{total}, post-runtime p50 {post:.2} ms, deferred {}",
            stats.deferred
        ));
        assert_eq!(stats.spans_buffered, 0, "{mode}: {stats:?}");
        if mode == "end" || done {
            // Flushed before every freeze: with the done signal adaptive is `end`.
            assert_eq!(
                late, 0,
                "{mode} (done signal {done}): every span before its freeze"
            );
        } else {
            assert!(stats.deferred > 0, "adaptive goes periodic: {stats:?}");
        }
    }
    eprintln!("freeze figures:\n{}", lines.join("\n"));
}

/// Bench (not run by default; figures for docs/benchmarks.md): the upstream
/// hangs for the whole run, default flush timeout (2,000 ms). Prints the
/// post-runtime time per invoke from the third one on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "bench: run with --run-ignored only"]
async fn bench_post_runtime_during_a_hang() {
    let _serial = SERIAL.lock().await;
    let fake = FakeOtlpEndpoint::start(OtlpEndpointOptions::xray_traces("us-east-1"))
        .await
        .unwrap();
    fake.push_responses(std::iter::repeat_n(FakeResponse::Hang, 10_000));
    let env = Env::new("bench-hang");
    const N: usize = 60;
    let cfg = env
        .config(
            &fake,
            events(N, serde_json::json!({"spans": 2, "sleep_ms": 20})),
        )
        .with_env("OTEL_AWS_LAMBDA_FLUSH", "end");
    let report = Simulator::run(cfg).await.unwrap();
    let post: Vec<f64> = report.invokes[2..]
        .iter()
        .map(|i| i.post_runtime_extension_ms)
        .collect();
    let mut sorted = post.clone();
    sorted.sort_by(f64::total_cmp);
    let p90 = sorted[(sorted.len() * 9) / 10];
    eprintln!(
        "hang for the whole run: first invoke {:.1} ms, second {:.1} ms; from the third: p50 {:.2} ms, p90 {:.2} ms, max {:.1} ms over {} invokes; {:?}",
        report.invokes[0].post_runtime_extension_ms,
        report.invokes[1].post_runtime_extension_ms,
        p50(post.clone()),
        p90,
        sorted.last().copied().unwrap_or(0.0),
        post.len(),
        env.stats()
    );
}

/// The Telemetry API refuses the subscription (HTTP 500): the extension
/// logs it and goes on (an extension that exits fails every invoke with
/// `Extension.Crash`), ending each invoke on the function's own "done" (the
/// wrapper's final flush), as it must without `platform.runtimeDone`.
/// Nothing is lost and no invoke fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_telemetry_api_every_span_still_arrives() {
    let _serial = SERIAL.lock().await;
    let fake = FakeOtlpEndpoint::start(OtlpEndpointOptions::xray_traces("us-east-1"))
        .await
        .unwrap();
    let env = Env::new("no-telemetry");
    const N: usize = 20;
    const CHILDREN: usize = 2;
    let mut cfg = env
        .config(&fake, events(N, serde_json::json!({"spans": CHILDREN})))
        .with_env("OTEL_AWS_LAMBDA_FLUSH", "end");
    cfg.telemetry_unavailable = true;
    let report = Simulator::run(cfg).await.unwrap();
    // Every invoke a success: none timed out waiting for the extension.
    assert_all_succeeded(&report, N);
    let (ids, total, per_request) = index(&fake.received());
    assert_eq!(per_request.len(), N);
    assert!(
        per_request.values().all(|&n| n == 1 + CHILDREN),
        "{per_request:?}"
    );
    assert_eq!(ids.len(), N * (1 + CHILDREN), "none lost");
    assert_eq!(total, ids.len(), "no duplicates");
    let stats = env.stats();
    assert_eq!(stats.invokes, N as u64);
    assert_eq!(stats.done_by_function, N as u64, "{stats:?}");
    // The scenario is the one meant: no subscription was accepted, so no
    // platform event reached the extension.
    assert!(report.telemetry.is_empty(), "{:?}", report.telemetry);
}
