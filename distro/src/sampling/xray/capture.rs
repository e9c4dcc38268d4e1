//! [`AnomalyCaptureProcessor`]: the span processor that runs X-Ray adaptive
//! sampling at span end ([`XraySampler::on_span_end`]) and exports the
//! captured spans of not-sampled traces, marked
//! `aws.trace.flag.sampled=false`, to the exporters it was given (ADOT's
//! `BatchUnsampledSpanProcessor`). The regular batch processors export only
//! sampled spans, so nothing is exported twice.

use std::cell::Cell;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{Span, SpanData, SpanExporter, SpanProcessor};
use tokio::runtime::{self, Handle, RuntimeFlavor};
use tokio::sync::mpsc;

use super::adaptive::TRACE_FLAG_SAMPLED_ATTRIBUTE;
use super::sampler::XraySampler;

/// Captured spans waiting for export per exporter; more are dropped (and
/// counted): the capture limit keeps the flow small, this bounds memory if
/// an exporter stalls.
pub const CAPTURE_QUEUE: usize = 2048;
/// Most captured spans per export call.
pub const CAPTURE_BATCH: usize = 512;
/// How long the first captured span waits for company before export.
pub const CAPTURE_DELAY: Duration = Duration::from_secs(1);
/// How long [`SpanProcessor::force_flush`] and the shutdown wait for the
/// export tasks, unless [`AnomalyCaptureProcessor::with_timeout`] says
/// otherwise (`OTEL_BSP_EXPORT_TIMEOUT`'s default; `init()` passes its value).
pub const CAPTURE_FLUSH_TIMEOUT: Duration = Duration::from_secs(30);

/// Where a flush's result goes: the export task answers once the spans
/// queued when it saw the request are exported.
type FlushAck = std::sync::mpsc::Sender<OTelSdkResult>;

/// One exporter's export task, as the processor sees it.
#[derive(Debug)]
struct Sink {
    spans: mpsc::Sender<SpanData>,
    flushes: mpsc::UnboundedSender<FlushAck>,
}

#[derive(Debug)]
struct Loops {
    sinks: Vec<Sink>,
    /// Each export task holds a sender and sends its last result as it
    /// ends: disconnected once every task ended. `None` without a runtime.
    ended: Option<std::sync::mpsc::Receiver<OTelSdkResult>>,
    /// The runtime the tasks run on.
    runtime: Option<Handle>,
}

/// Runs adaptive sampling on every recorded span's end and exports the
/// captured spans of not-sampled traces. Add it to the tracer provider
/// beside the batch processors; the sampler must record not-sampled spans
/// ([`crate::sampling::ConfiguredSampler`] does when adaptive sampling is
/// active).
///
/// [`SpanProcessor::force_flush`] and the shutdown block their caller until
/// the export tasks (on the runtime the processor was built in) have
/// exported what was queued, at most the processor's timeout: call them off
/// that runtime's worker threads (`spawn_blocking`, as
/// [`crate::Guard::force_flush`] does). On a current-thread runtime's own
/// thread they cannot wait: the flush fails and the shutdown returns at
/// once (the tasks still export what is queued once the runtime runs them).
#[derive(Debug)]
pub struct AnomalyCaptureProcessor {
    sampler: XraySampler,
    /// `None` once shut down.
    loops: Mutex<Option<Loops>>,
    timeout: Duration,
    dropped: AtomicU64,
    captured: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl AnomalyCaptureProcessor {
    /// A processor exporting captured spans to each of `exporters` (their
    /// resource already set), each from its own task on the current tokio
    /// runtime; outside a runtime spans are still counted but none captured.
    pub fn new<E: SpanExporter + 'static>(sampler: XraySampler, exporters: Vec<E>) -> Self {
        Self::with_delay(sampler, exporters, CAPTURE_DELAY)
    }

    /// [`AnomalyCaptureProcessor::new`], the first captured span of a batch
    /// waiting up to `delay` (not [`CAPTURE_DELAY`]) for company.
    pub fn with_delay<E: SpanExporter + 'static>(
        sampler: XraySampler,
        exporters: Vec<E>,
        delay: Duration,
    ) -> Self {
        let runtime = Handle::try_current().ok();
        if runtime.is_none() && !exporters.is_empty() {
            tracing::warn!(
                "X-Ray anomaly trace capture needs a tokio runtime; captured spans are not exported"
            );
        }
        let mut loops = Loops {
            sinks: Vec::new(),
            ended: None,
            runtime: runtime.clone(),
        };
        if let Some(rt) = &runtime {
            // Before the tasks first run, the thread building the processor
            // is the one that may drive them.
            EXPORTS_ON.with(|r| r.set(Some(rt.id())));
            let (ended_tx, ended_rx) = std::sync::mpsc::channel();
            for e in exporters {
                let (spans, spans_rx) = mpsc::channel(CAPTURE_QUEUE);
                let (flushes, flushes_rx) = mpsc::unbounded_channel();
                rt.spawn(export_loop(
                    e,
                    spans_rx,
                    flushes_rx,
                    delay,
                    ended_tx.clone(),
                ));
                loops.sinks.push(Sink { spans, flushes });
            }
            loops.ended = Some(ended_rx);
        }
        Self {
            sampler,
            loops: Mutex::new(Some(loops)),
            timeout: CAPTURE_FLUSH_TIMEOUT,
            dropped: AtomicU64::new(0),
            captured: AtomicU64::new(0),
        }
    }

    /// This processor, its flushes waiting at most `timeout` for the export
    /// tasks (default [`CAPTURE_FLUSH_TIMEOUT`]).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Spans captured so far (each counted once, whatever the number of exporters).
    pub fn captured(&self) -> u64 {
        self.captured.load(Ordering::Relaxed)
    }

    /// Captured spans dropped because an exporter's queue was full or closed.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

thread_local! {
    /// The runtime whose export task last ran on this thread (or that a
    /// processor was built in on it).
    static EXPORTS_ON: Cell<Option<runtime::Id>> = const { Cell::new(None) };
}

/// Whether the calling thread is the one driving `runtime`, a
/// current-thread runtime, and so the one the export tasks need: blocking
/// it for them would wait out the timeout. (A `spawn_blocking` thread has
/// the runtime's context too, but no task ever runs on it.)
fn on_own_current_thread(runtime: Option<&Handle>) -> bool {
    let Some(ours) = runtime.filter(|r| r.runtime_flavor() == RuntimeFlavor::CurrentThread) else {
        return false;
    };
    Handle::try_current().is_ok_and(|here| here.id() == ours.id())
        && EXPORTS_ON.with(Cell::get) == Some(ours.id())
}

/// One exporter's task: batches captured spans (the first waits up to
/// `delay` for company), exports what is queued when a flush asks, and,
/// once the processor closes the queue, exports the rest and shuts the
/// exporter down.
async fn export_loop<E: SpanExporter>(
    exporter: E,
    mut spans: mpsc::Receiver<SpanData>,
    mut flushes: mpsc::UnboundedReceiver<FlushAck>,
    delay: Duration,
    ended: std::sync::mpsc::Sender<OTelSdkResult>,
) {
    let runtime = Handle::current().id();
    let mut batch: Vec<SpanData> = Vec::new();
    let mut deadline = None;
    loop {
        EXPORTS_ON.with(|r| r.set(Some(runtime)));
        tokio::select! {
            biased;
            Some(ack) = flushes.recv() => {
                // Every span queued before the request is in the queue now.
                while let Ok(span) = spans.try_recv() {
                    batch.push(span);
                }
                deadline = None;
                let _ = ack.send(export(&exporter, &mut batch).await);
            }
            () = tokio::time::sleep_until(deadline.unwrap_or_else(tokio::time::Instant::now)),
                if deadline.is_some() =>
            {
                deadline = None;
                let _ = export(&exporter, &mut batch).await;
            }
            span = spans.recv() => {
                let Some(span) = span else { break };
                if batch.is_empty() {
                    deadline = Some(tokio::time::Instant::now() + delay);
                }
                batch.push(span);
                if batch.len() >= CAPTURE_BATCH {
                    deadline = None;
                    let _ = export(&exporter, &mut batch).await;
                }
            }
        }
    }
    // The processor shut down (or was dropped): `recv` gave every span
    // queued before the queue closed.
    let result = export(&exporter, &mut batch).await;
    let _ = ended.send(result.and(exporter.shutdown()));
}

/// Exports `batch` (emptied) in calls of at most [`CAPTURE_BATCH`] spans;
/// the first failure is returned (and logged).
async fn export<E: SpanExporter>(exporter: &E, batch: &mut Vec<SpanData>) -> OTelSdkResult {
    let mut result = Ok(());
    while !batch.is_empty() {
        let rest = batch.split_off(batch.len().min(CAPTURE_BATCH));
        let chunk = std::mem::replace(batch, rest);
        let n = chunk.len();
        if let Err(err) = exporter.export(chunk).await {
            tracing::warn!(%err, spans = n, "cannot export captured anomaly spans");
            result = result.and(Err(err));
        }
    }
    result
}

impl SpanProcessor for AnomalyCaptureProcessor {
    fn on_start(&self, _span: &mut Span, _cx: &Context) {}

    fn on_end(&self, mut span: SpanData) {
        if !self.sampler.on_span_end(&span) {
            return;
        }
        self.captured.fetch_add(1, Ordering::Relaxed);
        span.attributes
            .push(KeyValue::new(TRACE_FLAG_SAMPLED_ATTRIBUTE, false));
        let loops = lock(&self.loops);
        let Some((last, rest)) = loops.as_ref().and_then(|l| l.sinks.split_last()) else {
            return;
        };
        for sink in rest {
            if sink.spans.try_send(span.clone()).is_err() {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
        if last.spans.try_send(span).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Asks each export task to export the spans queued now and waits, at
    /// most the processor's timeout, until they all answered.
    fn force_flush(&self) -> OTelSdkResult {
        let (ack, answers) = std::sync::mpsc::channel();
        let asked = {
            let loops = lock(&self.loops);
            let Some(loops) = loops.as_ref() else {
                return Err(OTelSdkError::AlreadyShutdown);
            };
            if loops.sinks.is_empty() {
                return Ok(());
            }
            if on_own_current_thread(loops.runtime.as_ref()) {
                return Err(OTelSdkError::InternalFailure(
                    "captured anomaly spans cannot be flushed from the thread of the current-thread runtime that exports them; flush from spawn_blocking".into(),
                ));
            }
            for sink in &loops.sinks {
                if sink.flushes.send(ack.clone()).is_err() {
                    return Err(OTelSdkError::InternalFailure(
                        "an export task of captured anomaly spans has stopped (its runtime shut down)".into(),
                    ));
                }
            }
            loops.sinks.len()
        };
        drop(ack);
        let deadline = Instant::now() + self.timeout;
        let mut result = Ok(());
        for _ in 0..asked {
            let left = deadline.saturating_duration_since(Instant::now());
            match answers.recv_timeout(left) {
                Ok(answer) => result = result.and(answer),
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    return Err(OTelSdkError::Timeout(self.timeout));
                }
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(OTelSdkError::InternalFailure(
                        "an export task of captured anomaly spans stopped before it answered the flush".into(),
                    ));
                }
            }
        }
        result
    }

    /// Closes the queues: each export task exports what it holds and shuts
    /// its exporter down; waits at most `timeout` for them all.
    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        let Some(loops) = lock(&self.loops).take() else {
            return Err(OTelSdkError::AlreadyShutdown);
        };
        let Loops {
            sinks,
            ended,
            runtime,
        } = loops;
        drop(sinks);
        let Some(ended) = ended else {
            return Ok(());
        };
        if on_own_current_thread(runtime.as_ref()) {
            tracing::warn!(
                "X-Ray anomaly capture shut down on its current-thread runtime's thread: captured spans are exported only if the runtime keeps running"
            );
            return Ok(());
        }
        let deadline = Instant::now() + timeout;
        let mut result = Ok(());
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match ended.recv_timeout(left) {
                Ok(last) => result = result.and(last),
                // Every task ended (a task dropped with its runtime ends too).
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return result,
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    return Err(OTelSdkError::Timeout(timeout));
                }
            }
        }
    }
}
