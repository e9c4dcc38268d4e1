//! Lambda Managed Instances in the simulator: 4 runtime workers served
//! concurrently, no INVOKE events for extensions, no freeze. The extension
//! registers for SHUTDOWN only and flushes continuously.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::common::v1::any_value;
use otel_aws_lambda::extension::stats::StatsSnapshot;
use otel_aws_testkit::lambda_sim::{InvokeSpec, ReportLine, Simulator};
use otel_aws_testkit::otlp::{FakeOtlpEndpoint, OtlpEndpointOptions};

mod common;
use common::{LayerDir, assert_all_succeeded};

/// Request ids whose SERVER span the fake has received.
fn delivered(fake: &FakeOtlpEndpoint) -> HashSet<String> {
    let mut out = HashSet::new();
    for req in fake.received() {
        for span in req
            .resource_spans
            .iter()
            .flat_map(|rs| &rs.scope_spans)
            .flat_map(|ss| &ss.spans)
        {
            for kv in &span.attributes {
                if kv.key == "faas.invocation_id"
                    && let Some(any_value::Value::StringValue(id)) =
                        kv.value.as_ref().and_then(|v| v.value.as_ref())
                {
                    out.insert(id.clone());
                }
            }
        }
    }
    out
}

fn percentile(mut v: Vec<f64>, p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v.get(i).copied().unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn managed_instances_flush_continuously_from_concurrent_workers() {
    let fake = Arc::new(
        FakeOtlpEndpoint::start(OtlpEndpointOptions::xray_traces("us-east-1"))
            .await
            .unwrap(),
    );
    let layer = LayerDir::new("managed");
    let stats_path = layer.path().join("stats.json");
    const N: usize = 120;
    const WORKERS: usize = 4;
    let mut cfg = layer
        .sim_config([env!("CARGO_BIN_EXE_otel-aws-test-function")])
        .with_env("OTEL_AWS_LAMBDA_EXPORTER_ENDPOINT", fake.traces_url())
        .with_env("OTEL_AWS_SIGV4", "true")
        .with_env("OTEL_AWS_LAMBDA_STATS_FILE", stats_path.to_str().unwrap())
        .managed_instances(WORKERS);
    cfg.invokes = (0..N)
        .map(|_| {
            let mut spec = InvokeSpec::json(&serde_json::json!({"spans": 2, "sleep_ms": 30}));
            spec.frozen_before = Duration::from_millis(10); // arrival gap
            spec
        })
        .collect();

    // Response time of each invoke (report hook) and first time its trace
    // was seen at the upstream (a poller), for the delivery lag figure.
    let answered: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let seen: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let last_answer_delivered = Arc::new(Mutex::new(None::<usize>));
    let (a, f, lad) = (
        answered.clone(),
        fake.clone(),
        last_answer_delivered.clone(),
    );
    cfg.on_report = Some(Arc::new(move |line| {
        if let ReportLine::Invoke(inv) = line {
            let mut a = a.lock().unwrap();
            a.insert(inv.request_id.clone(), Instant::now());
            if a.len() == N {
                *lad.lock().unwrap() = Some(delivered(&f).len());
            }
        }
    }));
    let (f, s) = (fake.clone(), seen.clone());
    let poller = tokio::spawn(async move {
        loop {
            let now = Instant::now();
            for id in delivered(&f) {
                s.lock().unwrap().entry(id).or_insert(now);
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    let report = Simulator::run(cfg).await.unwrap();
    poller.abort();

    assert_all_succeeded(&report, N);
    let ext = &report.init.extensions;
    assert!(
        ext.iter().all(|e| e.events == ["SHUTDOWN"]),
        "registered without INVOKE: {ext:?}"
    );
    assert_eq!(delivered(&fake).len(), N, "every invoke's trace arrived");
    let stats: StatsSnapshot =
        serde_json::from_slice(&std::fs::read(&stats_path).unwrap()).unwrap();
    assert_eq!(stats.invokes, 0, "no INVOKE events: {stats:?}");
    assert_eq!(stats.spans_received, (N * 3) as u64, "{stats:?}");
    assert_eq!(stats.spans_dropped_shutdown, 0, "{stats:?}");
    // Flushed while running, not at SHUTDOWN: most traces were upstream
    // when the last invoke answered.
    let before_end = last_answer_delivered.lock().unwrap().unwrap_or(0);
    assert!(
        before_end >= N / 2,
        "only {before_end} of {N} traces delivered before the last invoke answered"
    );

    let answered = answered.lock().unwrap();
    let seen = seen.lock().unwrap();
    let lags: Vec<f64> = answered
        .iter()
        .filter_map(|(id, at)| {
            let s = seen.get(id)?;
            Some(s.saturating_duration_since(*at).as_secs_f64() * 1000.0)
        })
        .collect();
    eprintln!(
        "managed instances, {WORKERS} workers, {N} invokes: delivery lag (response → upstream, 5 ms polling) p50 {:.0} ms, p90 {:.0} ms, max {:.0} ms over {} invokes; {} of {N} delivered before the last answer",
        percentile(lags.clone(), 0.5),
        percentile(lags.clone(), 0.9),
        percentile(lags.clone(), 1.0),
        lags.len(),
        before_end
    );
}
