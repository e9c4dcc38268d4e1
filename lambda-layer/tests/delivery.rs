//! Delivery state per exporter, the circuit breaker, the extension's
//! listeners, upstream selection and deadline arithmetic — in process, with
//! scripted exporters and an injected clock (no sleeps asserted on).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use otel_aws_distro::Env;
use otel_aws_distro::export::{
    BatchExporter, ExportError, ExportFuture, ExportOutcome, span_count,
};
use otel_aws_lambda::buffer::SpanBuffer;
use otel_aws_lambda::clock::Clock;
use otel_aws_lambda::config::{BufferLimits, choose_upstream, is_own_receiver};
use otel_aws_lambda::extension::delivery::{BACKOFF_MAX, BACKOFF_MIN, Breaker, FlushKind};
use otel_aws_lambda::extension::flusher::{Buffers, ExporterSet, Flusher};
use otel_aws_lambda::extension::listener::{
    self, ListenerState, control_router, telemetry_path, telemetry_router,
};
use otel_aws_lambda::extension::runner::deadline_instant;
use otel_aws_lambda::extension::signals::DoneSignals;
use otel_aws_lambda::extension::stats::ExtensionStats;

#[derive(Debug, Default)]
struct ManualClock(AtomicU64);
impl ManualClock {
    fn advance(&self, d: Duration) {
        self.0.fetch_add(d.as_millis() as u64, Ordering::SeqCst);
    }
}
impl Clock for ManualClock {
    fn now(&self) -> Duration {
        Duration::from_millis(self.0.load(Ordering::SeqCst))
    }
}

#[derive(Clone, Copy, Debug)]
enum Step {
    Ok,
    Fail,
    Hang,
    /// The destination refuses the request (a 4xx: access denied).
    Reject,
}

/// An exporter that follows a script (then succeeds) and records the span
/// ids it accepted.
#[derive(Debug, Default)]
struct Scripted {
    script: Mutex<VecDeque<Step>>,
    accepted: Mutex<Vec<u64>>,
    calls: AtomicU64,
}

impl Scripted {
    fn new(steps: &[Step]) -> Arc<Self> {
        Arc::new(Self {
            script: Mutex::new(steps.iter().copied().collect()),
            ..Self::default()
        })
    }
    fn accepted(&self) -> Vec<u64> {
        self.accepted.lock().unwrap().clone()
    }
}

/// The span ids of `batch` (as `batch` numbers them), in order.
fn span_ids(batch: &ExportTraceServiceRequest) -> impl Iterator<Item = u64> + '_ {
    batch
        .resource_spans
        .iter()
        .flat_map(|rs| &rs.scope_spans)
        .flat_map(|ss| &ss.spans)
        .map(|s| u64::from_be_bytes(s.span_id.clone().try_into().unwrap()))
}

impl BatchExporter for Scripted {
    fn export(&self, batch: ExportTraceServiceRequest) -> ExportFuture<'_> {
        Box::pin(async move {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let step = self.script.lock().unwrap().pop_front().unwrap_or(Step::Ok);
            match step {
                Step::Ok => {
                    self.accepted.lock().unwrap().extend(span_ids(&batch));
                    Ok(ExportOutcome {
                        requests: 1,
                        spans_exported: span_count(&batch) as u64,
                        ..ExportOutcome::default()
                    })
                }
                Step::Fail => Err(ExportError::GaveUp {
                    attempts: 1,
                    reason: "scripted 503".into(),
                }),
                Step::Hang => std::future::pending().await,
                Step::Reject => Err(ExportError::Rejected {
                    status: 403,
                    message: "scripted AccessDeniedException".into(),
                }),
            }
        })
    }
}

fn batch(first: u64, n: u64) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: (first..first + n)
                    .map(|i| Span {
                        trace_id: vec![1; 16],
                        span_id: i.to_be_bytes().to_vec(),
                        name: format!("s{i}"),
                        ..Span::default()
                    })
                    .collect(),
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }],
    }
}

struct Rig {
    clock: Arc<ManualClock>,
    buffer: Arc<SpanBuffer>,
    flusher: Flusher,
    stats: Arc<ExtensionStats>,
}

fn rig(exporters: Vec<Arc<dyn BatchExporter>>, limits: BufferLimits) -> Rig {
    let clock = Arc::new(ManualClock::default());
    let buffers = Buffers::new(limits, clock.clone());
    let buffer = buffers.traces.clone();
    let (_tx, rx) = tokio::sync::watch::channel(Some(Arc::new(ExporterSet::traces(exporters))));
    let stats = Arc::new(ExtensionStats::default());
    let flusher = Flusher::new(
        buffers,
        rx,
        limits,
        clock.clone(),
        Vec::new(),
        None,
        stats.clone(),
    );
    Rig {
        clock,
        buffer,
        flusher,
        stats,
    }
}

const BUDGET: Duration = Duration::from_millis(300);

#[tokio::test]
async fn one_exporters_failure_does_not_resend_to_the_others() {
    let healthy = Scripted::new(&[]);
    let flaky = Scripted::new(&[Step::Fail]);
    let r = rig(
        vec![healthy.clone(), flaky.clone()],
        BufferLimits::default(),
    );
    r.buffer.push(batch(1, 5));
    let first = r.flusher.flush(BUDGET, FlushKind::InvokeEnd).await;
    assert!(!first.complete);
    assert_eq!(healthy.accepted().len(), 5);
    assert!(flaky.accepted().is_empty());

    r.buffer.push(batch(6, 5));
    // The flaky lane is open: the end of an invoke does not wait for it ...
    let second = r.flusher.flush(BUDGET, FlushKind::InvokeEnd).await;
    assert!(!second.complete);
    // ... the background retry, once due, delivers what it holds.
    r.clock.advance(BACKOFF_MAX);
    let third = r.flusher.flush(BUDGET, FlushKind::Background).await;
    assert!(third.complete, "{third:?}");

    let mut h = healthy.accepted();
    h.sort_unstable();
    assert_eq!(h, (1..=10).collect::<Vec<_>>(), "each span once, no resend");
    let mut f = flaky.accepted();
    f.sort_unstable();
    assert_eq!(
        f,
        (1..=10).collect::<Vec<_>>(),
        "the flaky one got all after recovery"
    );
}

/// A refusal is final: the request is dropped and counted, not kept for a
/// retry that would be refused again, and no breaker opens, so the next
/// invoke's spans go straight out; the other destination gets everything.
#[tokio::test]
async fn a_refused_request_is_dropped_and_counted_and_the_lane_stays_open() {
    let healthy = Scripted::new(&[]);
    let refusing = Scripted::new(&[Step::Reject]);
    let r = rig(
        vec![healthy.clone(), refusing.clone()],
        BufferLimits::default(),
    );
    r.buffer.push(batch(1, 5));
    let first = r.flusher.flush(BUDGET, FlushKind::InvokeEnd).await;
    assert!(first.complete, "nothing held after a refusal: {first:?}");
    assert_eq!(r.flusher.lane_spans(), 0);
    assert!(!r.flusher.any_open(), "a refusal opens no breaker");
    assert_eq!(r.stats.traces.export_dropped.load(Ordering::SeqCst), 5);
    assert_eq!(r.stats.traces.dropped_outage.load(Ordering::SeqCst), 0);

    // The next invoke: no backoff to wait out.
    r.buffer.push(batch(6, 5));
    let second = r.flusher.flush(BUDGET, FlushKind::InvokeEnd).await;
    assert!(second.complete, "{second:?}");
    assert_eq!(refusing.accepted(), (6..=10).collect::<Vec<_>>());
    assert_eq!(refusing.calls.load(Ordering::SeqCst), 2, "never re-sent");
    let mut h = healthy.accepted();
    h.sort_unstable();
    assert_eq!(h, (1..=10).collect::<Vec<_>>());
    assert_eq!(r.stats.traces.export_dropped.load(Ordering::SeqCst), 5);
}

/// Without an exporter (none configured, or building them failed: the
/// extension logs why and goes on) spans are dropped at the flush and
/// counted, never held: the buffer does not fill across invokes.
#[tokio::test]
async fn without_an_exporter_spans_are_dropped_and_counted() {
    let r = rig(Vec::new(), BufferLimits::default());
    for i in 0..3 {
        r.buffer.push(batch(1 + i * 4, 4));
        let report = r.flusher.flush(BUDGET, FlushKind::InvokeEnd).await;
        assert!(report.complete, "{report:?}");
        assert_eq!(report.exported, 0);
    }
    assert_eq!(r.flusher.lane_spans(), 0);
    assert_eq!(r.stats.traces.export_dropped.load(Ordering::SeqCst), 12);
    assert_eq!(r.stats.traces.dropped_outage.load(Ordering::SeqCst), 0);
}

#[tokio::test(start_paused = true)]
async fn a_hanging_upstream_is_attempted_once_then_kept_off_the_invoke_path() {
    let up = Scripted::new(&[Step::Hang, Step::Hang, Step::Hang]);
    let r = rig(vec![up.clone()], BufferLimits::default());
    r.buffer.push(batch(1, 2));
    let first = r.flusher.flush(BUDGET, FlushKind::InvokeEnd).await;
    assert!(!first.complete && first.kept == 2, "{first:?}");
    assert_eq!(up.calls.load(Ordering::SeqCst), 1);
    // Later invoke ends skip it entirely (no attempt, nothing waited on).
    for i in 0..5 {
        r.buffer.push(batch(10 + i * 2, 2));
        let rep = r.flusher.flush(BUDGET, FlushKind::InvokeEnd).await;
        assert!(!rep.complete);
        assert!(r.flusher.backing_off(r.clock.now()));
    }
    assert_eq!(
        up.calls.load(Ordering::SeqCst),
        1,
        "no attempt at invoke ends"
    );
    assert!(r.stats.lane_attempts_skipped.load(Ordering::SeqCst) >= 5);
    // Background retries, each after its backoff, until the upstream answers.
    let mut rounds = 0;
    while r.flusher.held() > 0 {
        rounds += 1;
        assert!(rounds < 20, "never recovered");
        let at = r.flusher.next_retry_at().expect("a retry is scheduled");
        let now = r.clock.now();
        r.clock.advance(at.saturating_sub(now));
        r.flusher.flush(BUDGET, FlushKind::Background).await;
    }
    let mut got = up.accepted();
    got.sort_unstable();
    got.dedup();
    assert_eq!(got.len(), 12, "none lost");
    assert_eq!(r.flusher.next_retry_at(), None, "breaker closed again");
}

#[tokio::test]
async fn a_cancelled_flush_loses_nothing() {
    let up = Scripted::new(&[Step::Hang]);
    let r = rig(vec![up.clone()], BufferLimits::default());
    r.buffer.push(batch(1, 3));
    // Cancelled mid-attempt (as the runner aborts a background retry).
    let cut = tokio::time::timeout(
        Duration::from_millis(20),
        r.flusher
            .flush(Duration::from_secs(60), FlushKind::Background),
    )
    .await;
    assert!(cut.is_err());
    assert_eq!(r.flusher.held(), 3, "still held after the cancel");
    r.flusher.flush(BUDGET, FlushKind::Shutdown).await;
    assert_eq!(up.accepted().len(), 3);
}

/// Issue 11: a background retry aborted between two requests used to lose
/// the count of the request the destination had already taken (the report
/// died with the flush), so `spans_exported` undercounted.
#[tokio::test]
async fn a_flush_cancelled_between_requests_still_counts_what_was_taken() {
    use otel_aws_lambda::extension::delivery::CHUNK_SPANS;
    let n = CHUNK_SPANS as u64;
    // The first request is accepted, the second never answers.
    let up = Scripted::new(&[Step::Ok, Step::Hang]);
    let r = rig(vec![up.clone()], BufferLimits::default());
    r.buffer.push(batch(1, 2 * n));
    // Boxed, so that dropping it drops the flush (and its lock).
    let mut flush = Box::pin(
        r.flusher
            .flush(Duration::from_secs(60), FlushKind::Background),
    );
    // Poll the flush until the second request is in flight, then drop it.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while up.calls.load(Ordering::SeqCst) < 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "second request never sent"
        );
        let _ = tokio::time::timeout(Duration::from_millis(5), &mut flush).await;
    }
    drop(flush);
    assert_eq!(up.accepted().len() as u64, n);
    assert_eq!(
        r.stats.traces.exported.load(Ordering::SeqCst),
        n,
        "the accepted request is counted though its flush was cancelled"
    );
    assert_eq!(r.flusher.held() as u64, n, "the rest is still held");
    let last = r.flusher.flush(BUDGET, FlushKind::Shutdown).await;
    assert!(last.complete, "{last:?}");
    assert_eq!(
        r.stats.traces.exported.load(Ordering::SeqCst),
        2 * n,
        "each span counted once"
    );
}

#[tokio::test]
async fn a_long_outage_keeps_the_lane_bounded_and_counts_drops() {
    let up = Scripted::new(&[Step::Fail; 64]);
    let limits = BufferLimits {
        max_spans: 10,
        max_bytes: 1 << 20,
    };
    let r = rig(vec![up.clone()], limits);
    for i in 0..6 {
        r.buffer.push(batch(1 + i * 4, 4));
        r.flusher.flush(BUDGET, FlushKind::InvokeEnd).await;
    }
    assert_eq!(r.flusher.lane_spans(), 10, "held within the bound");
    assert_eq!(r.stats.traces.dropped_outage.load(Ordering::SeqCst), 14);
}

#[test]
fn breaker_backoff_doubles_to_the_cap() {
    assert_eq!(Breaker::backoff(1), BACKOFF_MIN);
    assert_eq!(Breaker::backoff(2), BACKOFF_MIN * 2);
    assert_eq!(Breaker::backoff(40), BACKOFF_MAX);
    let mut b = Breaker::default();
    assert!(!b.is_open());
    b.fail(Duration::from_secs(1));
    assert!(b.is_open() && !b.retry_due(Duration::from_secs(1)));
    assert!(b.retry_due(Duration::from_secs(1) + BACKOFF_MIN));
    b.start_retry(Duration::from_secs(2));
    assert_eq!(b.failures, 2);
    assert!(!b.retry_due(Duration::from_secs(2)));
    b.succeed();
    assert!(!b.is_open());
}

#[test]
fn deadline_arithmetic_never_panics() {
    let now = tokio::time::Instant::now();
    // Far future (garbled or hostile deadline): capped, no overflow panic.
    let far = deadline_instant(u64::MAX);
    assert!(far > now);
    // Past: now.
    assert!(deadline_instant(0) <= tokio::time::Instant::now());
}

async fn post(addr: SocketAddr, path: &str, body: &str) -> u16 {
    reqwest::Client::new()
        .post(format!("http://{addr}{path}"))
        .body(body.to_string())
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn forged_telemetry_events_are_refused() {
    let signals = Arc::new(DoneSignals::new());
    let state = ListenerState {
        signals: signals.clone(),
        platform: None,
        platform_metrics: None,
        logs: None,
    };
    let any = "127.0.0.1:0".parse().unwrap();
    let token = listener::telemetry_token();
    assert_eq!(token.len(), 32);
    assert_ne!(token, listener::telemetry_token(), "fresh per call");
    let control = listener::serve(any, control_router(state.clone()), std::future::pending())
        .await
        .unwrap();
    let telemetry = listener::serve(any, telemetry_router(state, &token), std::future::pending())
        .await
        .unwrap();
    let forged = r#"[{"time":"2024-01-01T00:00:00Z","type":"platform.runtimeDone","record":{"requestId":"forged","status":"success"}}]"#;
    // The control port serves the done signal only.
    assert_eq!(post(control, "/telemetry", forged).await, 404);
    // The telemetry port refuses a path without the subscription's token.
    assert_eq!(post(telemetry, "/telemetry", forged).await, 404);
    assert_eq!(post(telemetry, "/telemetry/0000", forged).await, 404);
    assert_eq!(
        signals.get("forged"),
        None,
        "a forged runtimeDone was counted"
    );
    // The subscribed path works; the done signal works on the control port.
    assert_eq!(post(telemetry, &telemetry_path(&token), forged).await, 200);
    assert!(signals.get("forged").is_some());
    let done = listener::done_path("req-1");
    assert_eq!(post(control, &done, "").await, 204);
    assert_eq!(post(telemetry, &done, "").await, 404);
}

#[test]
fn upstream_refuses_only_the_extensions_own_receivers() {
    let own: [SocketAddr; 2] = [
        "127.0.0.1:4318".parse().unwrap(),
        "127.0.0.1:4317".parse().unwrap(),
    ];
    for (url, want) in [
        ("http://127.0.0.1:4318/v1/traces", true),
        ("http://localhost:4318", true),
        ("http://[::1]:4317", true),
        ("http://0.0.0.0:4318/", true),
        ("http://127.0.0.1:4319/v1/traces", false),
        ("http://127.0.0.1:9000/v1/traces", false),
        ("http://localhost", false),
        ("https://collector.example:4318", false),
        ("http://10.0.0.1:4318", false),
    ] {
        assert_eq!(is_own_receiver(url, &own), want, "{url}");
    }
    let region = ("AWS_REGION", "eu-west-1");
    let sink = "http://127.0.0.1:9000/v1/traces";
    let up = choose_upstream(&Env::from_pairs([
        region,
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", sink),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://localhost:4318"),
    ]))
    .unwrap();
    assert_eq!(up.url, sink);
    assert_eq!(up.var, Some("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"));
    let up = choose_upstream(&Env::from_pairs([
        region,
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://localhost:4318"),
    ]))
    .unwrap();
    assert_eq!(up.url, "https://xray.eu-west-1.amazonaws.com/v1/traces");
    assert!(up.why.contains("own receiver"), "{}", up.why);
    // Receivers moved: the default port is then a valid upstream.
    let up = choose_upstream(&Env::from_pairs([
        region,
        ("OTEL_AWS_LAMBDA_HTTP_ADDR", "127.0.0.1:5318"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://localhost:4318"),
    ]))
    .unwrap();
    assert_eq!(up.url, "http://localhost:4318/v1/traces");
}

#[tokio::test(start_paused = true)]
async fn an_attempt_cut_short_resends_only_the_request_in_flight() {
    use otel_aws_lambda::extension::delivery::CHUNK_SPANS;
    let n = CHUNK_SPANS as u64;
    // The first request is accepted, the second hangs until the budget ends.
    let up = Scripted::new(&[Step::Ok, Step::Hang]);
    let r = rig(vec![up.clone()], BufferLimits::default());
    r.buffer.push(batch(1, 3 * n));
    let first = r.flusher.flush(BUDGET, FlushKind::InvokeEnd).await;
    assert!(!first.complete);
    assert_eq!(
        first.kept as u64,
        2 * n,
        "the accepted request left the lane"
    );
    r.flusher.flush(BUDGET, FlushKind::Shutdown).await;
    let got = up.accepted();
    assert_eq!(got.len() as u64, 3 * n, "no duplicates: {}", got.len());
    let mut uniq = got.clone();
    uniq.sort_unstable();
    uniq.dedup();
    assert_eq!(uniq.len(), got.len());
}

/// A destination that takes each request (counts its spans) as soon as it
/// arrives and answers after a time proportional to its size — as the soak's
/// backend does under load: a request cut short by the client's timeout was
/// delivered all the same.
#[derive(Debug, Default)]
struct SlowBySize {
    per_span: Duration,
    fail_first: std::sync::atomic::AtomicBool,
    accepted: Mutex<Vec<u64>>,
}

impl BatchExporter for SlowBySize {
    fn export(&self, batch: ExportTraceServiceRequest) -> ExportFuture<'_> {
        Box::pin(async move {
            if self.fail_first.swap(false, Ordering::SeqCst) {
                return Err(ExportError::GaveUp {
                    attempts: 1,
                    reason: "scripted 503".into(),
                });
            }
            let n = span_count(&batch);
            self.accepted.lock().unwrap().extend(span_ids(&batch));
            tokio::time::sleep(self.per_span * n as u32).await;
            Ok(ExportOutcome {
                requests: 1,
                spans_exported: n as u64,
                ..ExportOutcome::default()
            })
        })
    }
}

/// Issue 11 (Lambda soak, 10,000 invokes): after an outage the lane held
/// more than a retry could send within `PROBE_TIMEOUT`, so every retry
/// timed out after the destination had taken the request, the breaker never
/// closed, and the same chunk was sent again at every retry (81,304
/// duplicates, the backlog growing until SHUTDOWN dropped it).
#[tokio::test(start_paused = true)]
async fn a_backlog_too_big_for_one_retry_drains_without_resending_it_again_and_again() {
    use otel_aws_lambda::extension::delivery::{CHUNK_SPANS, PROBE_TIMEOUT};
    // A full request takes four times as long as a retry may.
    let per_span = PROBE_TIMEOUT * 4 / CHUNK_SPANS as u32;
    let up = Arc::new(SlowBySize {
        per_span,
        fail_first: true.into(),
        ..SlowBySize::default()
    });
    let r = rig(vec![up.clone()], BufferLimits::default());
    // A 503 opens the breaker; then invokes go on adding spans while it is open.
    r.buffer.push(batch(1, 4));
    r.flusher.flush(BUDGET, FlushKind::InvokeEnd).await;
    assert!(r.flusher.any_open());
    let mut next = 5;
    let total = 3 * CHUNK_SPANS as u64;
    while next <= total {
        r.buffer.push(batch(next, 4));
        next += 4;
        r.flusher.flush(BUDGET, FlushKind::InvokeEnd).await;
    }
    // Background retries as the runner makes them (the flush timeout, 2 s, as budget).
    let mut rounds = 0;
    while r.flusher.held() > 0 {
        rounds += 1;
        assert!(
            rounds <= 40,
            "the backlog never drained: {} spans still held, {} received",
            r.flusher.held(),
            up.accepted.lock().unwrap().len()
        );
        if let Some(at) = r.flusher.next_retry_at() {
            let now = r.clock.now();
            r.clock.advance(at.saturating_sub(now));
        }
        r.flusher
            .flush(Duration::from_secs(2), FlushKind::Background)
            .await;
    }
    let got = up.accepted.lock().unwrap().clone();
    let mut uniq = got.clone();
    uniq.sort_unstable();
    uniq.dedup();
    assert_eq!(uniq, (1..=total).collect::<Vec<_>>(), "none lost");
    // At least once: a request cut short may be sent again, but each span
    // at most twice, and far fewer duplicates than spans.
    let mut counts = std::collections::HashMap::new();
    for id in &got {
        *counts.entry(*id).or_insert(0u32) += 1;
    }
    assert!(
        counts.values().all(|&c| c <= 2),
        "a span was sent {} times",
        counts.values().max().unwrap()
    );
    let dups = got.len() - uniq.len();
    assert!(dups < CHUNK_SPANS, "{dups} duplicates of {total} spans");
    assert_eq!(r.flusher.next_retry_at(), None, "breaker closed again");
}

/// Snapshots published (written on blocking threads, not waited for)
/// before the last one written and waited for never overwrite it, however
/// the blocking threads run them.
#[test]
fn stats_are_written_off_the_async_thread_newest_wins() {
    use otel_aws_lambda::extension::stats::{StatsSnapshot, StatsWriter};
    let dir = std::env::temp_dir().join(format!("otel-aws-stats-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("stats.json");
    // The writer's runtime is the test's: shut down, it has finished every
    // blocking write it started (those not started yet never run).
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let writer = StatsWriter::new(Some(path.clone()));
        for invokes in 1..=20 {
            writer.publish(StatsSnapshot {
                invokes,
                ..StatsSnapshot::default()
            });
        }
        writer
            .write_now(StatsSnapshot {
                invokes: 99,
                ..StatsSnapshot::default()
            })
            .await;
    });
    rt.shutdown_timeout(Duration::from_secs(60));
    let got: StatsSnapshot = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(got.invokes, 99);
    let _ = std::fs::remove_dir_all(&dir);
}
