//! Delivery state per exporter: what each destination has not accepted yet,
//! and a circuit breaker that keeps a failing destination off the invoke path.
//!
//! A flush moves everything received into one [`Lane`] per exporter; each
//! lane sends what it holds and forgets it only when its exporter accepted
//! it. So one exporter's failure never re-sends to the others (no
//! duplicates from a shared requeue), and the data of a failing destination
//! waits in its lane, within the same bounds as the receive buffer, the
//! excess dropped and counted.
//!
//! # Circuit breaker
//! - **Closed** (no failure since the last success): a flush attempts the
//!   lane with its whole budget.
//! - **Open** after a failed or timed-out attempt: the lane is not attempted
//!   at the end of an invoke (the invoke is not billed for a dead upstream).
//!   It is retried off the invoke path — by the extension's background
//!   timer, while the environment runs — once `retry_at` has passed, with a
//!   short attempt ([`PROBE_TIMEOUT`]) of one small request
//!   ([`PROBE_SPANS`]), whatever the lane holds. Each retry moves `retry_at`
//!   further out first (backoff from [`BACKOFF_MIN`] doubling to
//!   [`BACKOFF_MAX`]), so a retry cut short by the freeze counts as a failure.
//! - A success closes it again (after a retry, the rest of what the lane
//!   holds is sent in the same flush, with the flush's whole budget).
//!   SHUTDOWN attempts every lane regardless.
//!
//! # Request size
//! A request cut short by a timeout may have been taken by the destination
//! all the same (it is sent again: at least once). A lane that sent the
//! same too-large request at every retry would never get past it — the
//! Lambda soak saw one 2,048-span request sent about 40 times (issue 11).
//! So a retry sends at most [`PROBE_SPANS`], and each request cut short
//! halves the lane's request size (down to [`MIN_REQUEST_SPANS`]) until the
//! lane is empty again, when it is back to [`CHUNK_SPANS`]. And a request
//! is sized to what the time left allows at the pace of the last accepted
//! one (three quarters of it); once less than [`MIN_REQUEST_SPANS`] fit,
//! the attempt stops there (not a failure) rather than start a request
//! the timeout would cut.
//!
//! Every time is an offset of the injected [`crate::clock::Clock`], so the
//! schedule is testable without sleeping.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use otel_aws_distro::export::{BatchExporter, ExportError};

use crate::config::BufferLimits;
use crate::signal::Batch;

/// First pause after a failure.
pub const BACKOFF_MIN: Duration = Duration::from_millis(100);
/// Longest pause between retries of an open lane.
pub const BACKOFF_MAX: Duration = Duration::from_millis(2_000);
/// Longest retry attempt of an open lane.
pub const PROBE_TIMEOUT: Duration = Duration::from_millis(500);
/// Most spans sent in one request by a lane. A lane sends its data as a
/// sequence of such requests and forgets each as soon as it is accepted,
/// so an attempt cut short (timeout, freeze, cancel) re-sends at most the
/// request in flight, not everything before it: fewer duplicates.
pub const CHUNK_SPANS: usize = 2_048;
/// Most spans in the one request of a retry of an open lane: small enough
/// to be answered within [`PROBE_TIMEOUT`] however much the lane holds.
pub const PROBE_SPANS: usize = 256;
/// Smallest request size a lane shrinks to after requests cut short.
pub const MIN_REQUEST_SPANS: usize = 64;

/// Breaker state of one lane.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Breaker {
    /// Failed (or cut short) attempts since the last success.
    pub failures: u32,
    /// When an open breaker may be retried.
    pub retry_at: Option<Duration>,
}

impl Breaker {
    /// True after a failure, until a success.
    pub fn is_open(&self) -> bool {
        self.failures > 0
    }

    /// The pause after `failures` failures.
    pub fn backoff(failures: u32) -> Duration {
        let shift = failures.saturating_sub(1).min(16);
        BACKOFF_MIN
            .checked_mul(1u32 << shift)
            .unwrap_or(BACKOFF_MAX)
            .min(BACKOFF_MAX)
    }

    /// True when an open breaker may be retried at `now`.
    pub fn retry_due(&self, now: Duration) -> bool {
        self.is_open() && self.retry_at.is_none_or(|at| now >= at)
    }

    /// Records the start of a retry: counts it as a failure until it succeeds.
    pub fn start_retry(&mut self, now: Duration) {
        self.failures = self.failures.saturating_add(1);
        self.retry_at = Some(now.saturating_add(Self::backoff(self.failures)));
    }

    /// Records a failed attempt of a closed breaker (opens it).
    pub fn fail(&mut self, now: Duration) {
        if !self.is_open() {
            self.failures = 1;
            self.retry_at = Some(now.saturating_add(Self::backoff(1)));
        }
    }

    /// Records a success (closes it).
    pub fn succeed(&mut self) {
        *self = Self::default();
    }
}

/// Why a flush runs, which decides which lanes it attempts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlushKind {
    /// At the end of an invoke: closed lanes only.
    InvokeEnd,
    /// Off the invoke path (timer): closed lanes, and open ones whose retry is due.
    Background,
    /// SHUTDOWN: every lane, whatever its breaker says.
    Shutdown,
}

/// How a lane is attempted in one flush.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attempt {
    /// Not now (breaker open).
    Skip,
    /// With the whole flush budget.
    Full,
    /// A retry of an open breaker, bounded by [`PROBE_TIMEOUT`].
    Probe,
}

#[derive(Debug)]
struct Held<B> {
    batch: B,
    spans: usize,
    bytes: usize,
}

#[derive(Debug)]
struct LaneState<B> {
    pending: VecDeque<Held<B>>,
    spans: usize,
    bytes: usize,
    breaker: Breaker,
    /// Most spans per request now (halved by each request cut short).
    request_spans: usize,
    /// How long the last accepted request took per span.
    per_span: Option<Duration>,
}

impl<B> Default for LaneState<B> {
    fn default() -> Self {
        Self {
            pending: VecDeque::new(),
            spans: 0,
            bytes: 0,
            breaker: Breaker::default(),
            request_spans: CHUNK_SPANS,
            per_span: None,
        }
    }
}

impl<B: Batch> LaneState<B> {
    /// Splits the front batch into requests of at most `max` spans when it
    /// holds more (the lane accounts the pieces' sizes from then on).
    fn split_front(&mut self, max: usize) {
        if self.pending.front().is_none_or(|h| h.spans <= max) {
            return;
        }
        let Some(front) = self.pending.pop_front() else {
            return;
        };
        self.bytes -= front.bytes;
        for chunk in front.batch.chunks(max).into_iter().rev() {
            let (spans, bytes) = (chunk.items(), chunk.encoded_len());
            self.bytes += bytes;
            self.pending.push_front(Held {
                batch: chunk,
                spans,
                bytes,
            });
        }
    }
}

/// What one lane attempt did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LaneReport {
    /// How it was attempted.
    pub attempted: bool,
    /// Spans the destination accepted.
    pub exported: u64,
    /// Spans dropped for good (rejected, over limits).
    pub dropped: u64,
    /// Spans still held after the attempt.
    pub kept: usize,
    /// The attempt failed or timed out.
    pub failed: bool,
}

/// One exporter and what it has not accepted yet of one signal
/// (`B`: spans by default; "spans" below are the signal's items).
#[derive(Debug)]
pub struct Lane<B: Batch = ExportTraceServiceRequest> {
    exporter: Arc<dyn BatchExporter>,
    limits: BufferLimits,
    state: Mutex<LaneState<B>>,
}

impl<B: Batch> Lane<B> {
    /// An empty lane for `exporter`, holding at most `limits`.
    pub fn new(exporter: Arc<dyn BatchExporter>, limits: BufferLimits) -> Self {
        Self {
            exporter,
            limits,
            state: Mutex::new(LaneState::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LaneState<B>> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds a batch within the bounds; returns the spans dropped.
    pub fn offer(&self, mut batch: B) -> usize {
        let spans = batch.items();
        if spans == 0 {
            return 0;
        }
        let bytes = batch.encoded_len();
        let mut st = self.lock();
        let room_spans = self.limits.max_spans.saturating_sub(st.spans);
        let room_bytes = self.limits.max_bytes.saturating_sub(st.bytes);
        let mut keep = spans.min(room_spans);
        if bytes > room_bytes {
            let by_size = (room_bytes as u128)
                .saturating_mul(spans as u128)
                .checked_div(bytes as u128)
                .unwrap_or(0);
            keep = keep.min(usize::try_from(by_size).unwrap_or(usize::MAX));
        }
        let dropped = spans - keep;
        if keep == 0 {
            return dropped;
        }
        let bytes = if dropped > 0 {
            batch.truncate(keep);
            batch.encoded_len()
        } else {
            bytes
        };
        st.spans += keep;
        st.bytes += bytes;
        if keep <= CHUNK_SPANS {
            st.pending.push_back(Held {
                batch,
                spans: keep,
                bytes,
            });
        } else {
            for chunk in batch.chunks(CHUNK_SPANS) {
                let (spans, bytes) = (chunk.items(), chunk.encoded_len());
                st.pending.push_back(Held {
                    batch: chunk,
                    spans,
                    bytes,
                });
            }
            // The chunks' sizes are what the lane accounts from now on.
            st.bytes = st.pending.iter().map(|h| h.bytes).sum();
        }
        dropped
    }

    /// Spans held.
    pub fn spans(&self) -> usize {
        self.lock().spans
    }

    /// The breaker now.
    pub fn breaker(&self) -> Breaker {
        self.lock().breaker
    }

    /// Drops everything held; returns the spans dropped.
    pub fn clear(&self) -> usize {
        let mut st = self.lock();
        let spans = st.spans;
        st.pending.clear();
        st.spans = 0;
        st.bytes = 0;
        st.request_spans = CHUNK_SPANS;
        spans
    }

    /// How a flush of `kind` at `now` attempts this lane (and, for a probe,
    /// moves the retry time out first).
    pub fn plan(&self, kind: FlushKind, now: Duration) -> Attempt {
        let mut st = self.lock();
        if st.spans == 0 {
            return Attempt::Skip;
        }
        match (kind, st.breaker.is_open()) {
            (FlushKind::Shutdown, _) | (_, false) => Attempt::Full,
            (FlushKind::InvokeEnd, true) => Attempt::Skip,
            (FlushKind::Background, true) if st.breaker.retry_due(now) => {
                st.breaker.start_retry(now);
                Attempt::Probe
            }
            (FlushKind::Background, true) => Attempt::Skip,
        }
    }

    /// Sends what the lane holds, in order, as requests of at most the
    /// lane's request size, until one fails or `budget` passes. A
    /// [`Attempt::Probe`] first sends one request of at most
    /// [`PROBE_SPANS`] within [`PROBE_TIMEOUT`]; once that is accepted the
    /// breaker closes and the rest goes with what is left of `budget`.
    /// Cancel-safe: each request's data leaves the lane only once the
    /// exporter accepted (or refused) it, and `settled(exported, dropped)`
    /// is called in the same step, so counters fed by it stay exact when
    /// the attempt is cancelled between requests (the report is then lost).
    pub async fn attempt(
        &self,
        plan: Attempt,
        budget: Duration,
        now: impl Fn() -> Duration,
        settled: impl Fn(u64, u64),
    ) -> LaneReport {
        let mut report = LaneReport::default();
        let start = tokio::time::Instant::now();
        let mut ok = plan != Attempt::Skip;
        if ok && plan == Attempt::Probe {
            ok = self
                .timed(budget.min(PROBE_TIMEOUT), true, &mut report, &now, &settled)
                .await;
        }
        if ok {
            let left = budget.saturating_sub(start.elapsed());
            ok = self.timed(left, false, &mut report, &now, &settled).await;
        }
        report.failed = plan != Attempt::Skip && !ok;
        report.kept = self.lock().spans;
        report
    }

    /// One bounded round of [`Self::send_all`], recorded on the breaker; a
    /// request cut short by `timeout` halves the lane's request size.
    async fn timed(
        &self,
        timeout: Duration,
        probe: bool,
        report: &mut LaneReport,
        now: &impl Fn() -> Duration,
        settled: &impl Fn(u64, u64),
    ) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        let sent =
            tokio::time::timeout(timeout, self.send_all(report, probe, deadline, settled)).await;
        let mut st = self.lock();
        match sent {
            Ok(true) => {
                st.breaker.succeed();
                true
            }
            Ok(false) => {
                st.breaker.fail(now());
                false
            }
            Err(_) => {
                st.request_spans = (st.request_spans / 2).max(MIN_REQUEST_SPANS);
                tracing::debug!(
                    timeout_ms = timeout.as_millis() as u64,
                    request_spans = st.request_spans,
                    "export attempt timed out"
                );
                st.breaker.fail(now());
                false
            }
        }
    }

    /// The front requests, one at a time; false at the first failure.
    /// With `probe`, only the first request, of at most [`PROBE_SPANS`].
    /// Requests after the first are sized to fit before `deadline`.
    async fn send_all(
        &self,
        report: &mut LaneReport,
        probe: bool,
        deadline: tokio::time::Instant,
        settled: &impl Fn(u64, u64),
    ) -> bool {
        let mut first = true;
        loop {
            let (request, count, spans) = {
                let mut st = self.lock();
                let mut max = if probe {
                    st.request_spans.min(PROBE_SPANS)
                } else {
                    st.request_spans
                };
                if let Some(per_span) = st.per_span {
                    let left = deadline.saturating_duration_since(tokio::time::Instant::now());
                    let fit = (left.as_nanos() * 3 / 4)
                        .checked_div(per_span.as_nanos())
                        .map_or(usize::MAX, |n| usize::try_from(n).unwrap_or(usize::MAX));
                    if !first && fit < MIN_REQUEST_SPANS && !st.pending.is_empty() {
                        // Out of time, not failed: the rest waits for the next flush.
                        return true;
                    }
                    max = max.min(fit.max(MIN_REQUEST_SPANS));
                }
                st.split_front(max);
                let mut merged = B::default();
                let (mut count, mut spans) = (0, 0);
                for h in &st.pending {
                    if count > 0 && spans + h.spans > max {
                        break;
                    }
                    merged.append(h.batch.clone());
                    count += 1;
                    spans += h.spans;
                }
                (merged, count, spans)
            };
            if count == 0 {
                // Empty: the next backlog starts with full-size requests.
                self.lock().request_spans = CHUNK_SPANS;
                return true;
            }
            report.attempted = true;
            first = false;
            let started = tokio::time::Instant::now();
            let result = B::export(self.exporter.as_ref(), request).await;
            // From here to the lane's update below there is no await: a
            // cancel lands before the request settles or after both.
            match result {
                Ok(o) => {
                    report.exported += o.spans_exported;
                    report.dropped += o.spans_dropped;
                    settled(o.spans_exported, o.spans_dropped);
                    let per_span =
                        started.elapsed() / u32::try_from(spans.max(1)).unwrap_or(u32::MAX);
                    self.lock().per_span = Some(per_span);
                }
                Err(
                    e @ (ExportError::Rejected { .. }
                    | ExportError::Encode(_)
                    | ExportError::Shutdown),
                ) => {
                    tracing::error!(error = %e, signal = B::SIGNAL, items = spans, "dropped: the destination refused them");
                    report.dropped += spans as u64;
                    settled(0, spans as u64);
                }
                Err(e) => {
                    tracing::debug!(error = %e, "export attempt failed");
                    return false;
                }
            }
            let mut st = self.lock();
            for _ in 0..count {
                if let Some(h) = st.pending.pop_front() {
                    st.spans -= h.spans;
                    st.bytes -= h.bytes;
                }
            }
            if probe {
                return true;
            }
        }
    }
}
