//! The per-invoke loop: `next` → INVOKE → wait for "done" (the function's
//! final-flush signal, else `platform.runtimeDone`, bounded by the
//! deadline) → flush or defer (see [`crate::flush`]) → `next`. SHUTDOWN:
//! flush everything left within the deadline, then return.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

use super::api::{ApiError, ExtensionsApi, NextEvent};
use super::flusher::Flusher;
use super::signals::{DoneSignals, DoneSource};
use super::stats::{ExtensionStats, StatsSnapshot, get, inc};
use crate::clock::Clock;
use crate::flush::{EndDecision, FlushPlanner};

/// Kept free before a deadline (the flush stops this long before it).
pub const DEADLINE_MARGIN: Duration = Duration::from_millis(50);
/// Longest wait at SHUTDOWN for trailing `platform.report` events.
pub const REPORT_WAIT: Duration = Duration::from_millis(300);
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
    /// Where to write counters after each flush.
    pub stats_file: Option<std::path::PathBuf>,
    /// Process start (origin of `init_ms`).
    pub started: std::time::Instant,
}

/// Converts an epoch-milliseconds deadline into an `Instant`.
pub fn deadline_instant(deadline_ms: u64) -> Instant {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    Instant::now() + Duration::from_millis(deadline_ms.saturating_sub(now_ms))
}

impl Runner {
    /// Runs until SHUTDOWN (returns `Ok`) or an API failure.
    pub async fn run(mut self) -> Result<(), ApiError> {
        let init_us = self.started.elapsed().as_micros() as u64;
        self.stats
            .init_us
            .store(init_us, std::sync::atomic::Ordering::Relaxed);
        tracing::debug!(init_ms = init_us as f64 / 1000.0, "ready: first next");
        loop {
            match self.api.next().await? {
                NextEvent::Invoke {
                    request_id,
                    deadline_ms,
                    ..
                } => {
                    self.on_invoke(&request_id, deadline_instant(deadline_ms))
                        .await
                }
                NextEvent::Shutdown {
                    shutdown_reason,
                    deadline_ms,
                } => {
                    let deadline = deadline_instant(deadline_ms);
                    // The last invokes' platform.report events trail by the
                    // Telemetry API buffering: give them a moment.
                    let wait_until = Instant::now() + (self.budget(deadline) / 4).min(REPORT_WAIT);
                    while self.flusher.platform_pending() > 0 && Instant::now() < wait_until {
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                    self.shutdown_flush(&shutdown_reason, deadline).await;
                    self.write_stats();
                    return Ok(());
                }
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
            let report = self.flusher.flush(budget).await;
            flushes += 1;
            exported += report.exported;
            if self.flusher.buffer().spans() == 0 {
                break;
            }
            if !report.complete {
                // The exporter already backed off inside the flush; a short pause
                // keeps a backend that fails fast from being hammered.
                tokio::time::sleep(SHUTDOWN_RETRY_PAUSE.min(self.budget(deadline))).await;
            }
        }
        let lost = self.flusher.buffer().take().spans as u64;
        inc(&self.stats.spans_dropped_shutdown, lost);
        if lost > 0 {
            tracing::warn!(
                reason,
                flushes,
                exported,
                lost,
                "shutdown: spans not exported before the deadline are dropped"
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
        self.planner.record_invoke(self.clock.now());
        let buffer = self.flusher.buffer().clone();
        // Stop waiting early enough to flush before the deadline.
        let reserve = FLUSH_RESERVE.min(self.flush_timeout) + DEADLINE_MARGIN;
        let give_up = deadline.checked_sub(reserve).unwrap_or(deadline);
        let mut background: Option<tokio::task::JoinHandle<()>> = None;
        let done = loop {
            let arrived = buffer.data_arrived();
            tokio::pin!(arrived);
            arrived.as_mut().enable();
            let due = self
                .planner
                .due_at(buffer.held_since())
                .map(|at| Instant::now() + at.saturating_sub(self.clock.now()));
            let idle = background.is_none();
            let periodic = async move {
                match due {
                    Some(at) if idle => tokio::time::sleep_until(at).await,
                    _ => std::future::pending().await,
                }
            };
            tokio::select! {
                s = self.signals.wait(request_id) => break Some(s),
                () = tokio::time::sleep_until(give_up) => break None,
                () = periodic => {
                    // Held data is due: flush it now, concurrently with the function.
                    let f = self.flusher.clone();
                    let budget = self.budget(deadline);
                    background = Some(tokio::spawn(async move { f.flush(budget).await; }));
                }
                () = &mut arrived => {}
            }
            if background.as_ref().is_some_and(|b| b.is_finished()) {
                background = None;
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
        let decision = if done.is_none() {
            EndDecision::FlushNow
        } else {
            self.planner.at_invoke_end(
                self.clock.now(),
                buffer.held_since(),
                buffer.under_pressure(),
            )
        };
        match decision {
            EndDecision::FlushNow => {
                let report = self.flusher.flush(self.budget(deadline)).await;
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
        if let Some(b) = background {
            // A background flush still running would be frozen mid-request: wait for it.
            let _ = tokio::time::timeout(self.budget(deadline), b).await;
        }
        self.write_stats();
    }

    /// The counters now.
    pub fn snapshot(&self) -> StatsSnapshot {
        snapshot(&self.stats, self.flusher.buffer())
    }

    fn write_stats(&self) {
        let snap = self.snapshot();
        if snap.spans_dropped_buffer_full > 0 || snap.flushes_incomplete > 0 {
            tracing::debug!(?snap, "extension counters");
        }
        if let Some(path) = &self.stats_file
            && let Err(e) = snap.write_to(path)
        {
            tracing::warn!(error = %e, path = %path.display(), "cannot write the stats file");
        }
    }
}

/// The counters of `stats` and `buffer` together.
pub fn snapshot(stats: &ExtensionStats, buffer: &crate::buffer::SpanBuffer) -> StatsSnapshot {
    let b = buffer.stats();
    StatsSnapshot {
        invokes: get(&stats.invokes),
        flushes: get(&stats.flushes),
        flushes_incomplete: get(&stats.flushes_incomplete),
        spans_received: get(&b.spans_accepted),
        spans_dropped_buffer_full: get(&b.spans_dropped),
        spans_requeued: get(&b.spans_requeued),
        spans_exported: get(&stats.spans_exported),
        spans_export_dropped: get(&stats.spans_export_dropped),
        spans_dropped_shutdown: get(&stats.spans_dropped_shutdown),
        spans_buffered: buffer.spans() as u64,
        done_by_function: get(&stats.done_by_function),
        done_by_runtime_done: get(&stats.done_by_runtime_done),
        done_by_deadline: get(&stats.done_by_deadline),
        deferred: get(&stats.deferred),
        init_us: get(&stats.init_us),
    }
}
