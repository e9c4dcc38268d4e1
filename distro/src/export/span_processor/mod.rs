//! The batch span processor [`crate::init`] installs: each sampled span is
//! encoded to OTLP protobuf ([`super::span_wire`]) on the thread that ends
//! it, and its `SpanData` dropped there; a thread of the processor's own
//! gathers the bytes into batches and hands each to the exporter as the one
//! OTLP batch type, `ExportTraceServiceRequest`.
//!
//! Why not the SDK's thread-based `BatchSpanProcessor`, which this replaces:
//! it sends the `SpanData` itself to its thread, which converts it and frees
//! it there. With glibc's malloc a block freed by another thread goes to
//! that thread's cache, so the application thread, whose blocks never come
//! back to it, takes every allocation from the arena's slow path: the HTTP
//! server layer cost ~+4 µs a request with that processor against ~+1.5 µs
//! with this one (docs/benchmarks.md, "Encoding at the span's end"). What
//! crosses threads here is bytes, appended to a batch buffer. Ending a span
//! wakes no one: the thread is signalled only when a batch is full (the
//! SDK's async-runtime processor woke a tokio task for every span, several
//! microseconds on a loaded VM's request path).
//!
//! Like the SDK's processor: a batch is exported when it holds
//! `max_export_batch_size` spans, when `schedule_delay` has passed since the
//! last timed export, on `force_flush` and on shutdown; a span that ends
//! while `max_queue_size` spans wait is dropped (and counted, in the
//! exporter's `spans_dropped` when it keeps stats, else only logged); each
//! export is bounded by `export_timeout`. Only sampled spans are exported
//! (the specification's rule; X-Ray adaptive sampling records others).
//!
//! Unlike it, spans are batched in lanes, one per shard of the threads that
//! end them, so threads ending spans at once do not wait on one lock; the
//! queue bound counts a lane's batch and the full batches waiting (one
//! thread's spans exactly; several lanes' by the bound plus a batch each),
//! and the lanes' partial batches are merged before they are exported.

use std::cell::Cell;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use opentelemetry::{Context, InstrumentationScope};
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{Span, SpanData, SpanProcessor};
use tokio::runtime::Handle;

pub use super::span_wire::SpanTimes;

use super::BatchExporter;
use crate::shard::{Padded, thread_number};

mod batch;

use batch::Batch;

/// The processor's batching, as `OTEL_BSP_*` configure it
/// (`crate::config`'s `batch` settings).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchSettings {
    /// Longest a span waits before its batch is exported.
    pub schedule_delay: Duration,
    /// Longest one export may take.
    pub export_timeout: Duration,
    /// Spans waiting beyond which new ones are dropped.
    pub max_queue_size: usize,
    /// Spans per exported batch.
    pub max_export_batch_size: usize,
}

impl Default for BatchSettings {
    /// The specification's defaults: 5 s, 30 s, 2,048 and 512.
    fn default() -> Self {
        Self {
            schedule_delay: Duration::from_secs(5),
            export_timeout: Duration::from_secs(30),
            max_queue_size: 2048,
            max_export_batch_size: 512,
        }
    }
}

/// The batch span processor [`crate::init`] installs. Each sampled span is
/// encoded to OTLP protobuf on the thread that ends it and its `SpanData`
/// dropped there (with glibc's malloc, a block freed by another thread
/// starves the allocating thread's cache: docs/benchmarks.md, "Encoding at
/// the span's end"); the processor's own thread batches the bytes by
/// instrumentation scope and hands each batch to the exporter as an
/// `ExportTraceServiceRequest`.
///
/// The batch rules are the SDK's batch processor's ([`BatchSettings`],
/// `OTEL_BSP_*`); a span that ends while `max_queue_size` spans wait, or
/// whose export outlives `export_timeout`, is dropped and counted (the
/// exporter's `spans_dropped`, [`EncodingBatchProcessor::dropped_spans`]).
/// `force_flush` and `shutdown` report the failure of an export they made.
#[derive(Debug)]
pub struct EncodingBatchProcessor {
    shared: Arc<Shared>,
    worker: Mutex<Option<JoinHandle<()>>>,
    live: Option<Arc<dyn LiveSpans>>,
    annotator: Option<Arc<dyn SpanAnnotator>>,
}

/// Adds to each sampled span as it ends, before it is encoded: the
/// Application Signals attributes ([`crate::appsignals::EndAnnotator`]).
pub trait SpanAnnotator: Send + Sync + std::fmt::Debug {
    /// The provider's resource (before any span ends).
    fn set_resource(&self, resource: &Resource);
    /// More fields of the span's `Span` message, encoded, to write after
    /// its own (`span`'s attributes that they replace are removed from it).
    /// `times`: its start and end as they are encoded.
    fn annotate(&self, span: &mut SpanData, times: SpanTimes) -> Option<Arc<[u8]>>;
    /// A span that ended recorded but not sampled (not exported).
    fn ended_unsampled(&self, span: &SpanData);
}

/// Told of every span this processor sees start and end (recorded or
/// sampled alike), before anything else is done with it: Application
/// Signals' propagation ([`crate::appsignals::Propagation`]) keeps what a
/// live span passes down to its children. One processor of a provider
/// should carry it.
pub trait LiveSpans: Send + Sync + std::fmt::Debug {
    /// `span` starts (its attributes may still be set).
    fn started(&self, span: &mut Span);
    /// `span` ended.
    fn ended(&self, span: &SpanData);
}

#[derive(Debug)]
struct Shared {
    queue: Mutex<Queue>,
    /// Where the spans ending on each shard of threads are batched
    /// ([`crate::shard::thread_number`] modulo [`LANES`]): threads ending
    /// spans at once take different locks. One queue lock for every span
    /// made two threads spend more wall time per span than one
    /// (docs/benchmarks.md, "Threads at once").
    lanes: [Padded<Mutex<Lane>>; LANES],
    /// Spans in `queue.ready` (full batches waiting for the worker): with
    /// a lane's own batch, what `max_queue_size` bounds.
    waiting: AtomicUsize,
    /// The worker waits on it: a batch is full, a flush or the shutdown is
    /// asked for.
    wake: Condvar,
    /// Flushes and the shutdown wait on it for the worker.
    done: Condvar,
    settings: BatchSettings,
    exporter: Arc<dyn BatchExporter>,
    resource: Mutex<Arc<ResourceAttributesWithSchema>>,
    /// Where exports run (the runtime `init()` was called in); without
    /// one, the worker runs them on a current-thread runtime of its own.
    runtime: Option<Handle>,
    dropped: AtomicU64,
}

/// Lanes of the processor: at most this many threads end spans without
/// meeting on a lock.
const LANES: usize = 8;

/// One lane: the batch its threads are filling.
#[derive(Debug, Default)]
struct Lane {
    /// The batch being filled.
    filling: Batch,
    /// Group buffers of this lane's exported batches, emptied, for its next
    /// groups: a buffer that starts empty grows by reallocating through the
    /// batch.
    spare: Vec<Vec<u8>>,
    /// The room a new group buffer is made with when no spare is left (the
    /// spans end faster than the worker exports them): the largest buffer
    /// the worker last gave back, so a burst does not copy each batch's
    /// bytes again as its buffer doubles.
    room: usize,
    /// Shut down: the worker took the last batch; spans are dropped.
    closed: bool,
}

#[derive(Debug, Default)]
struct Queue {
    /// Full batches, oldest first.
    ready: VecDeque<Batch>,
    /// Flushes asked for, and done (the worker exported everything queued
    /// when it saw `flush_asked` at this count).
    flush_asked: u64,
    flush_done: u64,
    /// The first export failure of the last round the worker finished
    /// for a flush or the shutdown (what `force_flush`/`shutdown` report).
    round_error: Option<String>,
    stop: bool,
    stopped: bool,
}

thread_local! {
    /// Each thread's buffer for the span it is ending (encoded before the
    /// queue's lock is taken, copied in under it).
    static SCRATCH: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

/// A scratch buffer grown past this by one large span is not kept.
const SCRATCH_KEEP: usize = 64 * 1024;

/// Emptied group buffers a lane keeps for reuse (a batch of 512 spans of a
/// few hundred bytes each is ~200 KiB; see [`batch::SPARE_KEEP`]).
const SPARE_BUFFERS: usize = 2;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves plain data behind: keep going.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl EncodingBatchProcessor {
    /// Starts the processor's thread. Exports run on the current tokio
    /// runtime when there is one.
    pub fn new(exporter: Arc<dyn BatchExporter>, settings: BatchSettings) -> Self {
        let settings = BatchSettings {
            max_export_batch_size: settings.max_export_batch_size.max(1),
            max_queue_size: settings.max_queue_size.max(1),
            ..settings
        };
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue::default()),
            lanes: Default::default(),
            waiting: AtomicUsize::new(0),
            wake: Condvar::new(),
            done: Condvar::new(),
            settings,
            exporter,
            resource: Mutex::new(Arc::default()),
            runtime: Handle::try_current().ok(),
            dropped: AtomicU64::new(0),
        });
        let worker = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name("otel-aws-spans".into())
                .spawn(move || shared.run())
        };
        let worker = match worker {
            Ok(handle) => Some(handle),
            Err(err) => {
                tracing::error!(error = %err, "cannot start the span batch thread; spans will be dropped");
                for lane in &shared.lanes {
                    lock(&lane.0).closed = true;
                }
                let mut q = lock(&shared.queue);
                q.stop = true;
                q.stopped = true;
                None
            }
        };
        Self {
            shared,
            worker: Mutex::new(worker),
            live: None,
            annotator: None,
        }
    }

    /// This processor, adding `annotator`'s fields to each span it encodes.
    pub fn with_annotator(mut self, annotator: Arc<dyn SpanAnnotator>) -> Self {
        self.annotator = Some(annotator);
        self
    }

    /// This processor, telling `live` of each span's start and end.
    pub fn with_live_spans(mut self, live: Arc<dyn LiveSpans>) -> Self {
        self.live = Some(live);
        self
    }

    /// Spans dropped by this processor (queue full, after shutdown, or an
    /// export that failed to run).
    pub fn dropped_spans(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }
}

impl SpanProcessor for EncodingBatchProcessor {
    fn on_start(&self, span: &mut Span, _cx: &Context) {
        if let Some(live) = &self.live {
            live.started(span);
        }
    }

    fn on_end(&self, span: SpanData) {
        if let Some(live) = &self.live {
            live.ended(&span);
        }
        if !span.span_context.is_sampled() {
            if let Some(a) = &self.annotator {
                a.ended_unsampled(&span);
            }
            return;
        }
        let mut span = span;
        let times = SpanTimes::of(&span);
        let extra = self
            .annotator
            .as_ref()
            .and_then(|a| a.annotate(&mut span, times));
        let mut buf = SCRATCH.with(Cell::take);
        buf.clear();
        super::span_wire::append_span(
            &span,
            times,
            2,
            extra.as_deref().unwrap_or_default(),
            &mut buf,
        );
        self.shared.push(&span.instrumentation_scope, &buf);
        if buf.capacity() <= SCRATCH_KEEP {
            SCRATCH.with(|s| s.set(buf));
        }
        // `span` is dropped here, on the thread that allocated it.
    }

    fn force_flush(&self) -> OTelSdkResult {
        let shared = &self.shared;
        let mut q = lock(&shared.queue);
        if q.stopped {
            return Err(OTelSdkError::AlreadyShutdown);
        }
        q.flush_asked += 1;
        let asked = q.flush_asked;
        shared.wake.notify_all();
        while q.flush_done < asked && !q.stopped {
            q = shared
                .done
                .wait(q)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        if q.flush_done < asked {
            return Err(OTelSdkError::AlreadyShutdown);
        }
        match &q.round_error {
            Some(err) => Err(OTelSdkError::InternalFailure(err.clone())),
            None => Ok(()),
        }
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        let shared = &self.shared;
        let deadline = Instant::now() + timeout;
        {
            let mut q = lock(&shared.queue);
            if q.stop {
                return Err(OTelSdkError::AlreadyShutdown);
            }
            q.stop = true;
            shared.wake.notify_all();
            while !q.stopped {
                let now = Instant::now();
                if now >= deadline {
                    return Err(OTelSdkError::Timeout(timeout));
                }
                q = shared
                    .done
                    .wait_timeout(q, deadline - now)
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .0;
            }
        }
        if let Some(worker) = lock(&self.worker).take() {
            let _ = worker.join();
        }
        shared
            .exporter
            .shutdown()
            .map_err(super::span_exporter::sdk_error)
    }

    fn set_resource(&mut self, resource: &Resource) {
        if let Some(a) = &self.annotator {
            a.set_resource(resource);
        }
        *lock(&self.shared.resource) = Arc::new(resource.into());
    }
}

impl Drop for EncodingBatchProcessor {
    /// Stops the thread if the provider was never shut down (it exports
    /// what is queued first).
    fn drop(&mut self) {
        let mut q = lock(&self.shared.queue);
        if !q.stop {
            q.stop = true;
            self.shared.wake.notify_all();
        }
    }
}

impl Shared {
    /// Queues one encoded span (`bytes`: a `ScopeSpans.spans` field) in
    /// this thread's lane. A span is dropped when its lane's batch and the
    /// full batches waiting hold `max_queue_size` spans: one thread's spans
    /// are bounded by it exactly, several lanes' together by it plus a
    /// batch a lane.
    fn push(&self, scope: &InstrumentationScope, bytes: &[u8]) {
        let at = thread_number() % LANES;
        let mut lane = lock(&self.lanes[at].0);
        let why = if lane.closed {
            "a span ended after the processor was shut down"
        } else if self.waiting.load(Ordering::Relaxed) + lane.filling.spans
            >= self.settings.max_queue_size
        {
            "the span queue is full (OTEL_BSP_MAX_QUEUE_SIZE)"
        } else {
            let Lane {
                filling,
                spare,
                room,
                ..
            } = &mut *lane;
            filling.push(scope, bytes, spare, *room);
            if filling.spans >= self.settings.max_export_batch_size {
                let mut full = std::mem::take(filling);
                full.lane = at;
                // Under the lane's lock: the worker's last round, which
                // closes the lane, sees the batch in `ready` or was first.
                let mut q = lock(&self.queue);
                self.waiting.fetch_add(full.spans, Ordering::Relaxed);
                q.ready.push_back(full);
                self.wake.notify_all();
            }
            return;
        };
        drop(lane);
        self.count_dropped(1, why);
    }

    /// Takes every lane's batch (`close`: and closes the lanes, at the
    /// shutdown).
    fn take_lanes(&self, close: bool, into: &mut Vec<Batch>) {
        for (i, lane) in self.lanes.iter().enumerate() {
            let mut lane = lock(&lane.0);
            if lane.filling.spans > 0 {
                let mut batch = std::mem::take(&mut lane.filling);
                batch.lane = i;
                into.push(batch);
            }
            lane.closed |= close;
        }
    }

    /// Gives each lane back the buffers of its exported batches, and the
    /// room to make new ones with.
    fn give_back(&self, spare: Vec<Vec<Vec<u8>>>) {
        for (lane, buffers) in self.lanes.iter().zip(spare) {
            if buffers.is_empty() {
                continue;
            }
            let mut lane = lock(&lane.0);
            if let Some(largest) = buffers.iter().map(Vec::capacity).max() {
                lane.room = largest;
            }
            // A few buffers are enough: one per scope of a batch being filled.
            let room = SPARE_BUFFERS.saturating_sub(lane.spare.len());
            lane.spare.extend(buffers.into_iter().take(room));
        }
    }

    /// Counts spans the processor could not deliver, in its own counter
    /// and the exporter's stats; logs at the first and every doubling.
    fn count_dropped(&self, n: u64, why: &str) {
        let before = self.dropped.fetch_add(n, Ordering::Relaxed);
        if let Some(stats) = self.exporter.stats() {
            stats.spans_dropped.fetch_add(n, Ordering::Relaxed);
        }
        let after = before + n;
        if before == 0 || (before + 1..=after).any(u64::is_power_of_two) {
            tracing::warn!(dropped_total = after, "spans dropped: {why}");
        }
    }

    /// The worker thread.
    fn run(&self) {
        let own_runtime = match self.runtime {
            Some(_) => None,
            None => match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => Some(rt),
                Err(err) => {
                    tracing::error!(error = %err, "cannot start a runtime for span exports");
                    None
                }
            },
        };
        let delay = self.settings.schedule_delay;
        let mut deadline = Instant::now() + delay;
        loop {
            let (batches, flush_to, stop, everything) = {
                let mut q = lock(&self.queue);
                loop {
                    if !q.ready.is_empty() || q.flush_asked > q.flush_done || q.stop {
                        break;
                    }
                    let now = Instant::now();
                    if now >= deadline {
                        break;
                    }
                    q = self
                        .wake
                        .wait_timeout(q, deadline - now)
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .0;
                }
                let timer = Instant::now() >= deadline;
                if timer {
                    deadline = Instant::now() + delay;
                }
                let flush_to = q.flush_asked;
                let everything = timer || flush_to > q.flush_done || q.stop;
                let batches: Vec<Batch> = q.ready.drain(..).collect();
                self.waiting.fetch_sub(
                    batches.iter().map(|b| b.spans).sum::<usize>(),
                    Ordering::Relaxed,
                );
                (batches, flush_to, q.stop, everything)
            };
            let mut batches = batches;
            if everything {
                self.take_lanes(stop, &mut batches);
            }
            let mut spare: Vec<Vec<Vec<u8>>> = vec![Vec::new(); LANES];
            let batches = self.coalesce(batches, &mut spare);
            let mut round_error = None;
            for batch in batches {
                let lane = batch.lane % LANES;
                if let Err(err) = self.export(batch, own_runtime.as_ref(), &mut spare[lane]) {
                    round_error.get_or_insert(err);
                }
            }
            self.give_back(spare);
            let mut q = lock(&self.queue);
            if flush_to > q.flush_done || stop {
                q.round_error = round_error;
            }
            q.flush_done = q.flush_done.max(flush_to);
            // The lanes were closed and emptied above; a batch one of them
            // queued before it closed is in `ready`, for one more round.
            if stop && q.ready.is_empty() {
                q.stopped = true;
            }
            self.done.notify_all();
            if q.stopped {
                return;
            }
        }
    }

    /// The batches, those smaller than `max_export_batch_size` (the lanes'
    /// partly filled ones, at a timed export, a flush or the shutdown)
    /// merged while they fit in one: as many exports as one queue would
    /// have made. The buffers merged away go to `spare`, by lane.
    fn coalesce(&self, batches: Vec<Batch>, spare: &mut [Vec<Vec<u8>>]) -> Vec<Batch> {
        let max = self.settings.max_export_batch_size;
        let mut out: Vec<Batch> = Vec::with_capacity(batches.len());
        for batch in batches {
            match out.last_mut() {
                Some(last) if last.spans + batch.spans <= max => {
                    let lane = batch.lane % LANES;
                    last.append(batch, &mut spare[lane]);
                }
                _ => out.push(batch),
            }
        }
        out
    }

    /// Exports one batch, waiting at most `export_timeout` for it; the
    /// failure, if it failed.
    fn export(
        &self,
        batch: Batch,
        own_runtime: Option<&tokio::runtime::Runtime>,
        spare: &mut Vec<Vec<u8>>,
    ) -> Result<(), String> {
        let spans = batch.spans as u64;
        let resource = lock(&self.resource).clone();
        let exporter = self.exporter.clone();
        // An exporter that sends protobuf takes the batch as it is encoded;
        // any other gets it decoded.
        let payload = if exporter.takes_encoded() {
            Payload::Encoded(batch.into_encoded(&resource, spare))
        } else {
            let headroom = exporter.span_attribute_headroom();
            match batch.into_request(&resource, headroom, spare) {
                Ok(request) => Payload::Decoded(request),
                Err(err) => {
                    // Never for bytes this module wrote; counted all the same.
                    tracing::error!(error = %err, "an encoded span batch did not decode");
                    self.count_dropped(spans, "the batch did not decode");
                    return Err(format!("an encoded span batch did not decode: {err}"));
                }
            }
        };
        let timeout = self.settings.export_timeout;
        let export = async move {
            let export = match payload {
                Payload::Encoded(encoded) => exporter.export_encoded(encoded),
                Payload::Decoded(request) => exporter.export(request),
            };
            tokio::time::timeout(timeout, export).await
        };
        // Spawned on either runtime, so an exporter that panics ends its
        // task, not this thread: the batch is counted and the next exported.
        let outcome = match (&self.runtime, own_runtime) {
            (Some(handle), _) => handle.block_on(handle.spawn(export)),
            (None, Some(rt)) => rt.block_on(rt.spawn(export)),
            (None, None) => {
                tracing::error!("span export did not run: no runtime to export on");
                self.count_dropped(spans, "the export did not run");
                return Err("no runtime to export on".to_owned());
            }
        }
        .map_err(|e| format!("the export task did not finish: {e}"));
        match outcome {
            Ok(Ok(Ok(_))) => Ok(()),
            Ok(Ok(Err(err))) => {
                // The exporter counted what it could not deliver.
                tracing::warn!(error = %err, "span export failed");
                Err(err.to_string())
            }
            Ok(Err(_)) => {
                tracing::warn!(
                    timeout_ms = timeout.as_millis() as u64,
                    "span export timed out (OTEL_BSP_EXPORT_TIMEOUT)"
                );
                self.count_dropped(spans, "the export timed out");
                Err(format!(
                    "span export timed out after {} ms (OTEL_BSP_EXPORT_TIMEOUT)",
                    timeout.as_millis()
                ))
            }
            Err(why) => {
                tracing::error!("span export did not run: {why}");
                self.count_dropped(spans, "the export did not run");
                Err(why)
            }
        }
    }
}

/// A batch as its exporter takes it.
enum Payload {
    Encoded(super::EncodedTraces),
    Decoded(opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest),
}

#[cfg(test)]
mod tests;
