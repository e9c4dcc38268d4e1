//! One flush: take everything received (plus finished platform spans and
//! platform metrics), add the Lambda resource where missing, hand each
//! signal's batch to each of its exporters' [`Lane`]s,
//! and let every lane send what it holds within a time budget, as its
//! circuit breaker allows (see [`super::delivery`]). What a destination did
//! not accept stays in its lane for the next chance; the other destinations
//! are not sent it again. Traces, metrics and logs go the same way, each
//! with its own buffer, lanes and counters, in the same flush. With
//! Application Signals on, the function's spans are annotated before they
//! reach the lanes, and the metrics of the interval the flush ends go to a
//! lane of their own (see [`super::appsignals`]).
//!
//! Delivery is at least once: an attempt that timed out may still have
//! been taken by the destination, and is sent again.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use otel_aws_distro::export::BatchExporter;
use tokio::sync::watch;

use super::appsignals::LambdaAppSignals;
use super::delivery::{Attempt, FlushKind, Lane, PROBE_TIMEOUT};
use super::stats::{ExtensionStats, SignalStats, inc};
use crate::buffer::{Buffer, LogBuffer, MetricBuffer, SpanBuffer};
use crate::clock::Clock;
use crate::config::BufferLimits;
use crate::platform_metrics::PlatformMetrics;
use crate::platform_spans::PlatformSpans;
use crate::signal::Batch;
use otel_aws_distro::export::OtlpBatch as _;

/// The exporters of each signal.
#[derive(Clone, Debug, Default)]
pub struct ExporterSet {
    /// Where spans go.
    pub traces: Vec<Arc<dyn BatchExporter>>,
    /// Where metric data points go (none: they are counted as dropped).
    pub metrics: Vec<Arc<dyn BatchExporter>>,
    /// Where log records go (none: they are counted as dropped).
    pub logs: Vec<Arc<dyn BatchExporter>>,
    /// Where the Application Signals metrics go (EMF to CloudWatch Logs;
    /// none: they are counted as dropped).
    pub app_signals: Vec<Arc<dyn BatchExporter>>,
}

impl ExporterSet {
    /// Traces only.
    pub fn traces(traces: Vec<Arc<dyn BatchExporter>>) -> Self {
        Self {
            traces,
            ..Self::default()
        }
    }
}

/// The exporters, built once off the init path (`None` until built).
pub type Exporters = watch::Receiver<Option<Arc<ExporterSet>>>;

/// The receive buffers of the three signals (one wake-up shared by all).
#[derive(Clone, Debug)]
pub struct Buffers {
    /// Spans.
    pub traces: Arc<SpanBuffer>,
    /// Metric data points.
    pub metrics: Arc<MetricBuffer>,
    /// Log records.
    pub logs: Arc<LogBuffer>,
}

impl Buffers {
    /// Three empty buffers, each bounded by `limits`.
    pub fn new(limits: BufferLimits, clock: Arc<dyn Clock>) -> Self {
        let data = Arc::new(tokio::sync::Notify::new());
        Self {
            traces: Arc::new(Buffer::with_notify(limits, clock.clone(), data.clone())),
            metrics: Arc::new(Buffer::with_notify(limits, clock.clone(), data.clone())),
            logs: Arc::new(Buffer::with_notify(limits, clock, data)),
        }
    }

    /// When the oldest held item of any signal arrived.
    pub fn held_since(&self) -> Option<Duration> {
        [
            self.traces.held_since(),
            self.metrics.held_since(),
            self.logs.held_since(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// True when some buffer is over half of either bound.
    pub fn under_pressure(&self) -> bool {
        self.traces.under_pressure() || self.metrics.under_pressure() || self.logs.under_pressure()
    }

    /// Resolves when items of any signal arrive after this call.
    pub fn data_arrived(&self) -> tokio::sync::futures::Notified<'_> {
        self.traces.data_arrived()
    }
}

/// Shortest wait, at the end of an invoke, for a retry still in flight.
pub const PROBE_GRACE_MIN: Duration = Duration::from_millis(30);

/// What one flush did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlushReport {
    /// Spans taken from the receive buffer for the flush.
    pub spans: usize,
    /// Spans the first destination accepted in this flush.
    pub exported: u64,
    /// Spans still held for some destination afterwards.
    pub kept: usize,
    /// True when nothing (of any signal) is held for any destination afterwards.
    pub complete: bool,
}

/// One signal's buffer and lanes.
#[derive(Debug)]
struct Pipe<B: Batch> {
    buffer: Arc<Buffer<B>>,
    lanes: OnceLock<Vec<Lane<B>>>,
}

/// What one signal's part of a flush did.
#[derive(Clone, Copy, Debug, Default)]
struct PipeOutcome {
    exported: u64,
    failed: bool,
}

impl<B: Batch> Pipe<B> {
    fn new(buffer: Arc<Buffer<B>>) -> Self {
        Self {
            buffer,
            lanes: OnceLock::new(),
        }
    }

    fn lanes(&self) -> &[Lane<B>] {
        self.lanes.get().map_or(&[], Vec::as_slice)
    }

    fn init(&self, exporters: &[Arc<dyn BatchExporter>], limits: BufferLimits) {
        let _ = self.lanes.get_or_init(|| {
            exporters
                .iter()
                .map(|e| Lane::new(e.clone(), limits))
                .collect()
        });
    }

    /// Items in the fullest lane.
    fn lane_items(&self) -> usize {
        self.lanes().iter().map(Lane::spans).max().unwrap_or(0)
    }

    fn held(&self) -> usize {
        self.buffer.spans() + self.lane_items()
    }

    fn discard(&self) -> u64 {
        let intake = self.buffer.take().spans;
        let lanes = self.lanes().iter().map(Lane::clear).max().unwrap_or(0);
        (intake + lanes) as u64
    }

    /// Moves the receive buffer (and `extra`) into every lane; returns the
    /// items moved. `prepare` sees what was received (the resource filled
    /// in), not `extra`.
    fn take_into(
        &self,
        extra: Option<B>,
        resource: &[KeyValue],
        stats: &SignalStats,
        prepare: impl FnOnce(&mut B),
    ) -> usize {
        let mut taken = self.buffer.take().batch;
        taken.fill_resource(resource);
        prepare(&mut taken);
        if let Some(mut extra) = extra {
            extra.fill_resource(resource);
            taken.append(extra);
        }
        let items = taken.items();
        if items == 0 {
            return 0;
        }
        let Some((last, others)) = self.lanes().split_last() else {
            // No exporter configured: nothing will ever send these.
            inc(&stats.export_dropped, items as u64);
            return items;
        };
        let mut dropped = 0;
        for lane in others {
            dropped = dropped.max(lane.offer(taken.clone()));
        }
        dropped = dropped.max(last.offer(taken));
        if dropped > 0 {
            inc(&stats.dropped_outage, dropped as u64);
            tracing::warn!(
                signal = B::SIGNAL,
                dropped,
                "a destination has been failing and its share of the buffer is full: dropped"
            );
        }
        items
    }

    /// Attempts every lane as `kind` and its breaker allow.
    async fn send(
        &self,
        kind: FlushKind,
        remaining: Duration,
        f: &Flusher,
        stats: &SignalStats,
    ) -> PipeOutcome {
        let lanes = self.lanes();
        let plans: Vec<Attempt> = lanes.iter().map(|l| l.plan(kind, f.clock.now())).collect();
        let attempts = lanes
            .iter()
            .zip(&plans)
            .enumerate()
            .map(|(i, (lane, &plan))| async move {
                if plan == Attempt::Skip {
                    return None;
                }
                let t0 = tokio::time::Instant::now();
                // Counted as each request settles, so a flush cancelled between
                // requests (an aborted background retry) still counts what the
                // destination took. The first lane's count is the signal's.
                let settled = |exported, dropped| {
                    if i == 0 {
                        inc(&stats.exported, exported);
                    }
                    inc(&stats.export_dropped, dropped);
                };
                let r = lane
                    .attempt(plan, remaining, || f.clock.now(), settled)
                    .await;
                if r.attempted && !r.failed {
                    let us = u64::try_from(t0.elapsed().as_micros()).unwrap_or(u64::MAX);
                    f.slowest_ok_us.fetch_max(us, Ordering::Relaxed);
                }
                Some(r)
            });
        let results = futures_util::future::join_all(attempts).await;
        let mut out = PipeOutcome::default();
        for (i, (r, lane)) in results.iter().zip(lanes).enumerate() {
            match r {
                // An empty lane has nothing to skip.
                None if lane.spans() == 0 => {}
                None => inc(&f.stats.lane_attempts_skipped, 1),
                Some(r) => {
                    if i == 0 {
                        out.exported = r.exported;
                    }
                    if r.failed {
                        out.failed = true;
                        inc(&stats.requeued, r.kept as u64);
                    }
                }
            }
        }
        out
    }
}

/// Application Signals: the generator, and the lane of its metrics (its
/// receive buffer stays empty: the metrics come from the flush itself).
#[derive(Debug)]
struct AppSignalsPipe {
    signals: Arc<LambdaAppSignals>,
    pipe: Pipe<ExportMetricsServiceRequest>,
    /// Shortest aggregation interval (zero: every flush ends one).
    interval: Duration,
    /// When the current interval began (clock offset).
    since: Mutex<Duration>,
}

impl AppSignalsPipe {
    /// Ends the interval when it is due at `now` (or `force`): its metrics.
    fn take_due(&self, now: Duration, force: bool) -> Option<ExportMetricsServiceRequest> {
        let mut since = self.since.lock().unwrap_or_else(|p| p.into_inner());
        if !force && now.saturating_sub(*since) < self.interval {
            return None;
        }
        *since = now;
        self.signals.take_metrics(unix_now_ns())
    }
}

/// Flushes the buffers; share as `Arc<Flusher>`.
#[derive(Debug)]
pub struct Flusher {
    buffers: Buffers,
    traces: Pipe<ExportTraceServiceRequest>,
    metrics: Pipe<ExportMetricsServiceRequest>,
    logs: Pipe<ExportLogsServiceRequest>,
    app_signals: Option<AppSignalsPipe>,
    exporters: Exporters,
    built: OnceLock<()>,
    limits: BufferLimits,
    clock: Arc<dyn Clock>,
    resource: Vec<KeyValue>,
    platform: Option<Arc<Mutex<PlatformSpans>>>,
    platform_metrics: Option<Arc<Mutex<PlatformMetrics>>>,
    stats: Arc<ExtensionStats>,
    slowest_ok_us: AtomicU64,
    lock: tokio::sync::Mutex<()>,
}

impl Flusher {
    /// A flusher over `buffers` exporting to `exporters` (awaited on first
    /// use); each exporter's lane holds at most `limits`.
    pub fn new(
        buffers: Buffers,
        exporters: Exporters,
        limits: BufferLimits,
        clock: Arc<dyn Clock>,
        resource: Vec<KeyValue>,
        platform: Option<Arc<Mutex<PlatformSpans>>>,
        stats: Arc<ExtensionStats>,
    ) -> Self {
        Self {
            traces: Pipe::new(buffers.traces.clone()),
            metrics: Pipe::new(buffers.metrics.clone()),
            logs: Pipe::new(buffers.logs.clone()),
            app_signals: None,
            buffers,
            exporters,
            built: OnceLock::new(),
            limits,
            clock,
            resource,
            platform,
            platform_metrics: None,
            stats,
            slowest_ok_us: AtomicU64::new(0),
            lock: tokio::sync::Mutex::new(()),
        }
    }

    /// Adds the platform metrics taken at each flush.
    pub fn with_platform_metrics(mut self, p: Option<Arc<Mutex<PlatformMetrics>>>) -> Self {
        self.platform_metrics = p;
        self
    }

    /// Annotates the function's spans with Application Signals attributes
    /// and sends the metrics to the `app_signals` exporters, ending an
    /// aggregation interval at a flush once `interval` has passed (zero:
    /// at every flush) and at SHUTDOWN.
    pub fn with_app_signals(
        mut self,
        s: Option<Arc<LambdaAppSignals>>,
        interval: Duration,
    ) -> Self {
        self.app_signals = s.map(|signals| AppSignalsPipe {
            signals,
            pipe: Pipe::new(Arc::new(Buffer::new(self.limits, self.clock.clone()))),
            interval,
            since: Mutex::new(self.clock.now()),
        });
        self
    }

    /// The Application Signals generator, when on.
    pub fn app_signals(&self) -> Option<&Arc<LambdaAppSignals>> {
        self.app_signals.as_ref().map(|a| &a.signals)
    }

    /// Application Signals metric data points held for their destination.
    pub fn app_signals_held(&self) -> usize {
        self.app_signals.as_ref().map_or(0, |a| a.pipe.held())
    }

    /// The receive buffers.
    pub fn buffers(&self) -> &Buffers {
        &self.buffers
    }

    /// The spans receive buffer.
    pub fn buffer(&self) -> &Arc<SpanBuffer> {
        &self.buffers.traces
    }

    /// Platform invocations still waiting for their `platform.report`.
    pub fn platform_pending(&self) -> usize {
        let spans = self
            .platform
            .as_ref()
            .map_or(0, |p| p.lock().unwrap_or_else(|p| p.into_inner()).pending());
        let metrics = self
            .platform_metrics
            .as_ref()
            .map_or(0, |p| p.lock().unwrap_or_else(|p| p.into_inner()).pending());
        spans.max(metrics)
    }

    /// Every lane's breaker and the items it holds.
    fn breakers(&self) -> impl Iterator<Item = (super::delivery::Breaker, usize)> + '_ {
        let t = self.traces.lanes().iter().map(|l| (l.breaker(), l.spans()));
        let m = self
            .metrics
            .lanes()
            .iter()
            .map(|l| (l.breaker(), l.spans()));
        let g = self.logs.lanes().iter().map(|l| (l.breaker(), l.spans()));
        let a = self
            .app_signals
            .iter()
            .flat_map(|a| a.pipe.lanes())
            .map(|l| (l.breaker(), l.spans()));
        t.chain(m).chain(g).chain(a)
    }

    /// Items held for delivery, all signals: the receive buffers plus the fullest lane of each.
    pub fn held(&self) -> usize {
        self.traces.held() + self.metrics.held() + self.logs.held() + self.app_signals_held()
    }

    /// Spans held in the fullest traces lane (not yet accepted by some destination).
    pub fn lane_spans(&self) -> usize {
        self.traces.lane_items()
    }

    /// True when some destination's breaker is open.
    pub fn any_open(&self) -> bool {
        self.breakers().any(|(b, _)| b.is_open())
    }

    /// True when every destination is failing and none may be retried at
    /// `now`: a flush at the end of an invoke would send nothing.
    pub fn backing_off(&self, now: Duration) -> bool {
        let mut any = false;
        for (b, _) in self.breakers() {
            any = true;
            if !b.is_open() || b.retry_due(now) {
                return false;
            }
        }
        any
    }

    /// When the earliest retry of an open lane holding data is due (clock offset).
    pub fn next_retry_at(&self) -> Option<Duration> {
        self.breakers()
            .filter(|(b, items)| *items > 0 && b.is_open())
            .map(|(b, _)| b.retry_at.unwrap_or_default())
            .min()
    }

    /// How long the end of an invoke waits for a retry still in flight:
    /// twice the slowest successful attempt seen, at least
    /// [`PROBE_GRACE_MIN`], at most [`PROBE_TIMEOUT`].
    pub fn probe_grace(&self) -> Duration {
        let slowest = Duration::from_micros(self.slowest_ok_us.load(Ordering::Relaxed));
        slowest
            .saturating_mul(2)
            .clamp(PROBE_GRACE_MIN, PROBE_TIMEOUT)
    }

    /// Drops everything held (SHUTDOWN, out of time), counting it per
    /// signal as lost at shutdown; returns the items lost, all signals.
    pub fn discard(&self) -> u64 {
        let t = self.traces.discard();
        let m = self.metrics.discard();
        let l = self.logs.discard();
        let a = self.app_signals.as_ref().map_or(0, |a| a.pipe.discard());
        inc(&self.stats.traces.dropped_shutdown, t);
        inc(&self.stats.metrics.dropped_shutdown, m);
        inc(&self.stats.logs.dropped_shutdown, l);
        inc(&self.stats.app_signals.dropped_shutdown, a);
        t + m + l + a
    }

    async fn ready(&self, budget: Duration) -> bool {
        if self.built.get().is_some() {
            return true;
        }
        // Built right after registration; the first flush may have to wait for it.
        let mut rx = self.exporters.clone();
        let built = tokio::time::timeout(budget, rx.wait_for(Option::is_some)).await;
        let set = match built {
            Ok(Ok(v)) => v.clone().unwrap_or_default(),
            _ => return false,
        };
        self.traces.init(&set.traces, self.limits);
        self.metrics.init(&set.metrics, self.limits);
        self.logs.init(&set.logs, self.limits);
        if let Some(a) = &self.app_signals {
            a.pipe.init(&set.app_signals, self.limits);
        }
        let _ = self.built.set(());
        true
    }

    /// Moves what was received into the lanes and sends what each lane
    /// holds, as `kind` and the breakers allow, giving up after `budget`.
    /// Flushes never overlap: a second caller waits for the first.
    /// Cancel-safe: dropping the future loses nothing.
    pub async fn flush(&self, budget: Duration, kind: FlushKind) -> FlushReport {
        let start = tokio::time::Instant::now();
        let Ok(_serial) = tokio::time::timeout(budget, self.lock.lock()).await else {
            return FlushReport::default();
        };
        if !self.ready(budget.saturating_sub(start.elapsed())).await {
            return FlushReport::default();
        }
        let spans = self.take_into(kind);
        let remaining = budget.saturating_sub(start.elapsed());
        let s = &self.stats;
        let app_signals = async {
            match &self.app_signals {
                Some(a) => a.pipe.send(kind, remaining, self, &s.app_signals).await,
                None => PipeOutcome::default(),
            }
        };
        let (t, m, l, a) = tokio::join!(
            self.traces.send(kind, remaining, self, &s.traces),
            self.metrics.send(kind, remaining, self, &s.metrics),
            self.logs.send(kind, remaining, self, &s.logs),
            app_signals,
        );
        if t.failed || m.failed || l.failed || a.failed {
            inc(&self.stats.flushes_incomplete, 1);
            tracing::warn!(
                spans = self.traces.lane_items(),
                metric_points = self.metrics.lane_items(),
                log_records = self.logs.lane_items(),
                app_signals_points = self.app_signals_held(),
                "flush incomplete: a destination failed; what it did not take is kept and retried off the invoke path"
            );
        }
        let kept = self.traces.lane_items();
        FlushReport {
            spans,
            exported: t.exported,
            kept,
            complete: kept
                + self.metrics.lane_items()
                + self.logs.lane_items()
                + self.app_signals.as_ref().map_or(0, |a| a.pipe.lane_items())
                == 0,
        }
    }

    /// Takes the receive buffers, platform spans and platform metrics into
    /// every lane (no await: nothing is in flight between the take and the
    /// hand-over); returns the spans taken.
    fn take_into(&self, kind: FlushKind) -> usize {
        let spans = self.platform.as_ref().and_then(|p| {
            let rs = p
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take(&self.resource)?;
            Some(ExportTraceServiceRequest {
                resource_spans: vec![rs],
            })
        });
        let metrics = self.platform_metrics.as_ref().and_then(|p| {
            let batch = p
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take(&self.resource, unix_now_ns())?;
            inc(&self.stats.platform_metric_points, batch.items() as u64);
            Some(batch)
        });
        let s = &self.stats;
        // Application Signals: the function's spans only (with the Lambda
        // resource filled in), not the platform spans; then the interval ends.
        let signals = self.app_signals.as_ref().map(|a| &a.signals);
        let t = self
            .traces
            .take_into(spans, &self.resource, &s.traces, |batch| {
                if let Some(signals) = signals {
                    signals.annotate(batch);
                }
            });
        let m = self
            .metrics
            .take_into(metrics, &self.resource, &s.metrics, |_| {});
        let l = self.logs.take_into(None, &self.resource, &s.logs, |_| {});
        let a = self.app_signals.as_ref().map_or(0, |a| {
            let metrics = a.take_due(self.clock.now(), kind == FlushKind::Shutdown);
            if let Some(m) = &metrics {
                inc(&s.app_signals_points, m.items() as u64);
            }
            a.pipe.take_into(metrics, &[], &s.app_signals, |_| {})
        });
        if t + m + l + a > 0 {
            inc(&self.stats.flushes, 1);
        }
        t
    }
}

/// Now, Unix nanoseconds (0 before 1970).
pub fn unix_now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}
