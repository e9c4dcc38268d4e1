//! The extension's loop: `next`, and while it is pending a background timer
//! that flushes held data when it is due and retries failing destinations
//! (so that work runs while the environment is thawed, off the invoke path).
//!
//! - INVOKE, periodic phase (see [`crate::flush`]) or every destination
//!   backing off: call `next` at once — waiting for the invoke's end would
//!   bill time and export nothing.
//! - INVOKE otherwise: wait for "done" (the function's final-flush signal,
//!   else `platform.runtimeDone`, bounded by the deadline), flush the
//!   destinations whose breaker is closed, then `next`. A background retry
//!   still in flight gets a short grace and is then cancelled (its data
//!   stays held), so an outage costs milliseconds per invoke, not the flush
//!   timeout.
//! - Lambda Managed Instances (no INVOKE events): only the background
//!   timer, with a short period, until SHUTDOWN.
//! - SHUTDOWN: flush everything left within the deadline, every
//!   destination attempted, then return.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::api::{ApiError, ExtensionsApi, NextEvent};
use super::delivery::FlushKind;
use super::flusher::Flusher;
use super::signals::{DoneSignals, DoneSource};
use super::stats::{ExtensionStats, StatsSnapshot, StatsWriter, get, inc};
use crate::clock::Clock;
use crate::flush::{EndDecision, FlushMode, FlushPlanner};

/// Kept free before a deadline (the flush stops this long before it).
pub const DEADLINE_MARGIN: Duration = Duration::from_millis(50);
/// Longest wait at SHUTDOWN for trailing `platform.report` events.
pub const REPORT_WAIT: Duration = Duration::from_millis(300);
/// At SHUTDOWN with log forwarding on: the wait for trailing log lines ends
/// once no Telemetry API batch arrived for this long (four times the 25 ms
/// buffering the extension subscribes with), at most [`REPORT_WAIT`].
pub const LINES_QUIET: Duration = Duration::from_millis(100);
/// Time reserved for the end-of-invoke flush when waiting for the done signal.
pub const FLUSH_RESERVE: Duration = Duration::from_millis(200);
/// At SHUTDOWN, another flush is tried only with at least this much time left.
pub const SHUTDOWN_RETRY_MIN: Duration = Duration::from_millis(20);
/// Pause between SHUTDOWN flushes after an incomplete one.
pub const SHUTDOWN_RETRY_PAUSE: Duration = Duration::from_millis(50);
/// Kept free before the SHUTDOWN deadline: after the last flush the
/// extension still writes its stats and exits, which on a loaded host took
/// more than [`DEADLINE_MARGIN`] (the simulator then reported it timed out).
pub const SHUTDOWN_MARGIN: Duration = Duration::from_millis(250);
/// Longest deadline taken from an event (a larger or garbled value is capped).
pub const MAX_DEADLINE: Duration = Duration::from_secs(24 * 3600);

/// Everything the loop drives.
#[derive(Debug)]
pub struct Runner {
    /// The registered API handle.
    pub api: ExtensionsApi,
    /// The flusher (owns the buffer).
    pub flusher: Arc<Flusher>,
    /// Done signals.
    pub signals: Arc<DoneSignals>,
    /// Flush decisions.
    pub planner: FlushPlanner,
    /// Longest single flush.
    pub flush_timeout: Duration,
    /// Counters.
    pub stats: Arc<ExtensionStats>,
    /// Clock shared with the buffer.
    pub clock: Arc<dyn Clock>,
    /// Writes the counters after each invoke and at shutdown.
    pub stats_writer: StatsWriter,
    /// Process start (origin of `init_ms`).
    pub started: std::time::Instant,
    /// The background flush or retry in flight.
    pub background: Option<JoinHandle<()>>,
    /// How the last invoke was known to be done.
    pub last_done: Option<DoneSource>,
    /// Log forwarding (told each invoke's request id and trace header).
    pub logs: Option<Arc<crate::telemetry_logs::LogForwarder>>,
}

/// Converts an epoch-milliseconds deadline into an `Instant` (never
/// panics: a deadline in the past is now, one beyond [`MAX_DEADLINE`] is capped).
pub fn deadline_instant(deadline_ms: u64) -> Instant {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let left = Duration::from_millis(deadline_ms.saturating_sub(now_ms)).min(MAX_DEADLINE);
    let now = Instant::now();
    now.checked_add(left).unwrap_or(now)
}

/// `at` (a clock offset) as an `Instant`.
fn instant_at(clock: &dyn Clock, at: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(at.saturating_sub(clock.now()))
        .unwrap_or(now)
}

impl Runner {
    /// Runs until SHUTDOWN (returns `Ok`) or an API failure.
    pub async fn run(mut self) -> Result<(), ApiError> {
        let init_us = u64::try_from(self.started.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.stats
            .init_us
            .store(init_us, std::sync::atomic::Ordering::Relaxed);
        tracing::debug!(init_ms = init_us as f64 / 1000.0, "ready: first next");
        loop {
            match self.next_event().await? {
                NextEvent::Invoke {
                    request_id,
                    deadline_ms,
                    tracing,
                    ..
                } => {
                    if let Some(f) = &self.logs {
                        f.note_invoke(&request_id, tracing.as_ref().map(|t| t.value.as_str()));
                    }
                    self.on_invoke(&request_id, deadline_instant(deadline_ms))
                        .await
                }
                NextEvent::Shutdown {
                    shutdown_reason,
                    deadline_ms,
                } => {
                    let deadline = deadline_instant(deadline_ms);
                    if let Some(b) = self.background.take() {
                        b.abort();
                    }
                    // The last invokes' platform.report events, and their
                    // forwarded log lines, trail by the Telemetry API
                    // buffering: give them a moment.
                    let shutdown_at = Instant::now();
                    let wait_until = shutdown_at + (self.budget(deadline) / 4).min(REPORT_WAIT);
                    while Instant::now() < wait_until {
                        let reports = self.flusher.platform_pending() > 0;
                        let lines = self.logs.as_ref().is_some_and(|f| {
                            f.lines_may_follow(shutdown_at.into_std(), LINES_QUIET)
                        });
                        if !reports && !lines {
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                    self.shutdown_flush(&shutdown_reason, deadline).await;
                    self.stats_writer.write_now(self.snapshot()).await;
                    return Ok(());
                }
            }
        }
    }

    /// When the background timer fires next (`None`: nothing to do, or a
    /// background flush is in flight).
    fn background_due(&self) -> Option<Instant> {
        if self.background.is_some() {
            return None;
        }
        let due = self.planner.due_at(self.flusher.buffers().held_since());
        let retry = self.flusher.next_retry_at();
        let at = match (due, retry) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => a.or(b)?,
        };
        Some(instant_at(self.clock.as_ref(), at))
    }

    /// Starts a background flush (due data, retries of failing destinations).
    fn spawn_background(&mut self) {
        let f = self.flusher.clone();
        let budget = self.flush_timeout;
        self.background = Some(tokio::spawn(async move {
            f.flush(budget, FlushKind::Background).await;
        }));
    }

    /// One round of the background timer: returns when it fired (and started
    /// a flush), when a background flush ended, or when data arrived.
    async fn background_tick(&mut self) {
        let buffers = self.flusher.buffers().clone();
        let arrived = buffers.data_arrived();
        tokio::pin!(arrived);
        arrived.as_mut().enable();
        let due = self.background_due();
        let fire = async move {
            match due {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        let fired = {
            let running = async {
                match self.background.as_mut() {
                    Some(b) => {
                        let _ = b.await;
                    }
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = fire => true,
                () = running => false,
                () = &mut arrived => false,
            }
        };
        if self
            .background
            .as_ref()
            .is_some_and(JoinHandle::is_finished)
        {
            self.background = None;
        }
        if fired {
            self.spawn_background();
        }
    }

    /// `next`, with the background timer running while it is pending.
    async fn next_event(&mut self) -> Result<NextEvent, ApiError> {
        let api = self.api.clone();
        let next = api.next();
        tokio::pin!(next);
        loop {
            tokio::select! {
                ev = &mut next => return ev,
                () = self.background_tick() => {}
            }
        }
    }

    /// SHUTDOWN: flush again and again while something is left and the
    /// deadline allows; what is still held then is lost with the
    /// environment, so it is taken out of the buffer and counted as
    /// `spans_dropped_shutdown`.
    async fn shutdown_flush(&self, reason: &str, deadline: Instant) {
        let (mut flushes, mut exported) = (0u32, 0u64);
        let deadline = deadline.checked_sub(SHUTDOWN_MARGIN).unwrap_or(deadline);
        loop {
            let budget = self.budget(deadline);
            if budget < SHUTDOWN_RETRY_MIN {
                break;
            }
            let report = self.flusher.flush(budget, FlushKind::Shutdown).await;
            flushes += 1;
            exported += report.exported;
            if self.flusher.held() == 0 {
                break;
            }
            if !report.complete {
                // The exporter already backed off inside the flush; a short pause
                // keeps a backend that fails fast from being hammered.
                tokio::time::sleep(SHUTDOWN_RETRY_PAUSE.min(self.budget(deadline))).await;
            }
        }
        let lost = self.flusher.discard();
        if lost > 0 {
            tracing::warn!(
                reason,
                flushes,
                exported,
                lost,
                "shutdown: spans, data points and log records not exported before the deadline are dropped"
            );
        } else {
            tracing::info!(reason, flushes, exported, "shutdown flush");
        }
    }

    fn budget(&self, deadline: Instant) -> Duration {
        deadline
            .saturating_duration_since(Instant::now())
            .saturating_sub(DEADLINE_MARGIN)
            .min(self.flush_timeout)
    }

    async fn on_invoke(&mut self, request_id: &str, deadline: Instant) {
        inc(&self.stats.invokes, 1);
        let now = self.clock.now();
        self.planner.record_invoke(now);
        let buffer = self.flusher.buffers().clone();
        // Periodic phase: the data of this invoke will be flushed by the
        // timer (or the next invoke); waiting for the invoke's end would
        // bill time and send nothing. Likewise when every destination is
        // backing off.
        // `adaptive` with a function that signals its end (the Rust
        // wrapper): flushing at the end costs about a millisecond, so it
        // always does — safe and cheap. Without that signal, waiting for
        // `platform.runtimeDone` costs ≥ 25 ms, so the periodic phase calls
        // `next` at once instead (the trade-off in docs/lambda.md).
        let signalled = matches!(self.planner.mode(), FlushMode::Adaptive(_))
            && self.last_done == Some(DoneSource::Function);
        let defer = !signalled
            && self.planner.active_period().is_some()
            && self.planner.at_invoke_end(now, buffer.held_since(), false) == EndDecision::Defer;
        // A retry of a failing destination in flight is not left to be
        // frozen mid-request: this invoke waits for its end and gives the
        // retry a grace (below), so a recovered upstream is noticed even
        // when every invoke is shorter than its round trip.
        let probing = self.background.is_some() && self.flusher.any_open();
        let early =
            !buffer.under_pressure() && !probing && (defer || self.flusher.backing_off(now));
        if early {
            inc(&self.stats.deferred, 1);
            // A regular background flush still running is finished first
            // (concurrently with the function: the freeze waits for its
            // `next` anyway); a retry of a failing destination is not waited for.
            let budget = self.budget(deadline);
            if !self.flusher.any_open()
                && let Some(b) = self.background.as_mut()
                && tokio::time::timeout(budget, b).await.is_ok()
            {
                self.background = None;
            }
            self.publish_stats();
            return;
        }
        // Stop waiting early enough to flush before the deadline.
        let reserve = FLUSH_RESERVE.min(self.flush_timeout) + DEADLINE_MARGIN;
        let give_up = deadline.checked_sub(reserve).unwrap_or(deadline);
        let signals = self.signals.clone();
        let done = loop {
            tokio::select! {
                s = signals.wait(request_id) => break Some(s),
                () = tokio::time::sleep_until(give_up) => break None,
                () = self.background_tick() => {}
            }
        };
        match done {
            Some(DoneSource::Function) => inc(&self.stats.done_by_function, 1),
            Some(DoneSource::RuntimeDone) => inc(&self.stats.done_by_runtime_done, 1),
            None => {
                inc(&self.stats.done_by_deadline, 1);
                tracing::warn!(
                    request_id,
                    "no done signal before the deadline margin: flushing what has arrived"
                );
            }
        }
        if done.is_some() {
            self.last_done = done;
        }
        let signalled = matches!(self.planner.mode(), FlushMode::Adaptive(_))
            && done == Some(DoneSource::Function);
        let decision = if done.is_none() || signalled {
            EndDecision::FlushNow
        } else {
            self.planner.at_invoke_end(
                self.clock.now(),
                buffer.held_since(),
                buffer.under_pressure(),
            )
        };
        // A background flush still running would be frozen mid-request:
        // a retry of a failing destination gets a short grace, a regular
        // flush the budget; then it is cancelled (its data stays held).
        if let Some(mut b) = self.background.take() {
            let grace = if self.flusher.any_open() {
                self.flusher.probe_grace()
            } else {
                self.budget(deadline)
            };
            if tokio::time::timeout(grace.min(self.budget(deadline)), &mut b)
                .await
                .is_err()
            {
                b.abort();
                inc(&self.stats.retries_aborted, 1);
            }
        }
        match decision {
            EndDecision::FlushNow => {
                let report = self
                    .flusher
                    .flush(self.budget(deadline), FlushKind::InvokeEnd)
                    .await;
                tracing::debug!(
                    request_id,
                    spans = report.spans,
                    exported = report.exported,
                    kept = report.kept,
                    "end-of-invoke flush"
                );
            }
            EndDecision::Defer => inc(&self.stats.deferred, 1),
        }
        self.publish_stats();
    }

    /// The counters now.
    pub fn snapshot(&self) -> StatsSnapshot {
        snapshot(&self.stats, &self.flusher)
    }

    fn publish_stats(&self) {
        let snap = self.snapshot();
        if snap.spans_dropped_buffer_full > 0 || snap.flushes_incomplete > 0 {
            tracing::debug!(?snap, "extension counters");
        }
        self.stats_writer.publish(snap);
    }
}

/// The counters of `stats` and the flusher's buffers and lanes together.
pub fn snapshot(stats: &ExtensionStats, flusher: &Flusher) -> StatsSnapshot {
    let buffers = flusher.buffers();
    let b = buffers.traces.stats();
    let (m, l) = (buffers.metrics.stats(), buffers.logs.stats());
    let dropped = |buf: &crate::buffer::BufferStats, s: &super::stats::SignalStats| {
        get(&buf.spans_dropped)
            + get(&s.export_dropped)
            + get(&s.dropped_outage)
            + get(&s.dropped_shutdown)
    };
    StatsSnapshot {
        metric_points_received: get(&m.spans_accepted) + get(&stats.platform_metric_points),
        metric_points_exported: get(&stats.metrics.exported),
        metric_points_dropped: dropped(m, &stats.metrics),
        log_records_received: get(&l.spans_accepted),
        log_records_exported: get(&stats.logs.exported),
        log_records_dropped: dropped(l, &stats.logs),
        invokes: get(&stats.invokes),
        flushes: get(&stats.flushes),
        flushes_incomplete: get(&stats.flushes_incomplete),
        spans_received: get(&b.spans_accepted),
        spans_dropped_buffer_full: get(&b.spans_dropped),
        spans_requeued: get(&b.spans_requeued) + get(&stats.traces.requeued),
        spans_exported: get(&stats.traces.exported),
        spans_export_dropped: get(&stats.traces.export_dropped),
        spans_dropped_outage: get(&stats.traces.dropped_outage),
        lane_attempts_skipped: get(&stats.lane_attempts_skipped),
        retries_aborted: get(&stats.retries_aborted),
        spans_held_for_retry: flusher.lane_spans() as u64,
        spans_dropped_shutdown: get(&stats.traces.dropped_shutdown),
        spans_buffered: flusher.held() as u64,
        done_by_function: get(&stats.done_by_function),
        done_by_runtime_done: get(&stats.done_by_runtime_done),
        done_by_deadline: get(&stats.done_by_deadline),
        deferred: get(&stats.deferred),
        init_us: get(&stats.init_us),
        app_signals_spans_annotated: flusher.app_signals().map_or(0, |a| a.annotated()),
        app_signals_points: get(&stats.app_signals_points),
        app_signals_points_exported: get(&stats.app_signals.exported),
        app_signals_points_dropped: get(&stats.app_signals.export_dropped)
            + get(&stats.app_signals.dropped_outage)
            + get(&stats.app_signals.dropped_shutdown)
            + flusher.app_signals().map_or(0, |a| a.series_dropped()),
        app_signals_points_held: flusher.app_signals_held() as u64,
    }
}
