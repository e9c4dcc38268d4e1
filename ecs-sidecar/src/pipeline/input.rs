//! The front of a pipeline: admission (memory limiter, bounded queue) and
//! the [`TraceSink`] each receiver pushes into.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use otel_aws_distro::receiver::{
    Accepted, Backpressure, ExportLogsServiceRequest, ExportMetricsServiceRequest,
    ExportTraceServiceRequest, RequestMeta, Reservation, Sink, TraceSink,
};
use tokio::sync::mpsc;

use crate::processor::batch::Payload;
use crate::processor::{MemoryLimiter, MemoryPermit};
use crate::telemetry::Counters;

/// Suggested retry delay when the queue is full.
pub const QUEUE_FULL_RETRY_AFTER: Duration = Duration::from_secs(1);

/// One accepted batch on its way to the batch processor.
#[derive(Debug)]
pub struct Item {
    /// The data.
    pub payload: Payload,
    /// Units (spans; legacy documents once each).
    pub spans: usize,
    /// Memory accounted to it (when a memory limiter is configured).
    pub permit: Option<MemoryPermit>,
}

/// Admission into one pipeline; shared by its receivers.
#[derive(Debug)]
pub struct PipelineInput {
    name: String,
    tx: mpsc::UnboundedSender<Item>,
    queued_spans: AtomicUsize,
    capacity_spans: usize,
    memory: Option<Arc<MemoryLimiter>>,
    max_span_bytes: Option<usize>,
    /// How many accounted bytes a batch decoded from a request body holds
    /// per body byte, in 1/256ths (0 until a body was decoded): what
    /// [`PipelineInput::check_room`] expects of a body not yet read.
    expansion: AtomicU64,
}

/// The fixed-point unit of [`PipelineInput`]'s `expansion`.
const EXPANSION_ONE: u64 = 256;

impl PipelineInput {
    /// A new input holding at most `capacity_spans` spans not yet taken by
    /// the batch processor; OTLP spans larger than `max_span_bytes` encoded
    /// (what an exporter would drop) are refused as a partial success.
    pub fn new(
        name: &str,
        capacity_spans: usize,
        memory: Option<Arc<MemoryLimiter>>,
        max_span_bytes: Option<usize>,
    ) -> (Arc<Self>, mpsc::UnboundedReceiver<Item>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (
            Arc::new(Self {
                name: name.to_owned(),
                tx,
                queued_spans: AtomicUsize::new(0),
                capacity_spans: capacity_spans.max(1),
                memory,
                max_span_bytes,
                expansion: AtomicU64::new(0),
            }),
            rx,
        )
    }

    /// Offers a batch of `spans` spans, accounted by its in-memory size
    /// ([`crate::processor::size`]). Never blocks: refuses with
    /// [`Backpressure`] when over the memory limit, when the queue is full
    /// or after shutdown began.
    pub fn offer(&self, payload: Payload, spans: usize) -> Result<(), Backpressure> {
        self.offer_decoded(payload, spans, 0)
    }

    /// [`PipelineInput::offer`] for a batch decoded from a request body of
    /// `body_bytes` bytes (0: none), which also tells
    /// [`PipelineInput::check_room`] how much larger decoded batches are
    /// than their bodies.
    fn offer_decoded(
        &self,
        payload: Payload,
        spans: usize,
        body_bytes: usize,
    ) -> Result<(), Backpressure> {
        let bytes = crate::processor::size::payload_bytes(&payload);
        if body_bytes > 0 {
            let ratio = (bytes as u64).saturating_mul(EXPANSION_ONE) / body_bytes as u64;
            // The last four bodies weigh most: the load changes shape slowly.
            let old = self.expansion.load(Ordering::Relaxed);
            let new = if old == 0 {
                ratio
            } else {
                (old.saturating_mul(3).saturating_add(ratio)) / 4
            };
            self.expansion.store(new, Ordering::Relaxed);
        }
        let permit = self.reserve(bytes)?.map(|p| p.with_spans(spans as u64));
        let before = self.queued_spans.fetch_add(spans, Ordering::AcqRel);
        // Always let one batch in when the queue is empty, however large.
        if before > 0 && before + spans > self.capacity_spans {
            self.queued_spans.fetch_sub(spans, Ordering::AcqRel);
            return Err(self.full(before));
        }
        let item = Item {
            payload,
            spans,
            permit,
        };
        if self.tx.send(item).is_err() {
            self.queued_spans.fetch_sub(spans, Ordering::AcqRel);
            return Err(Backpressure::new(
                "the sidecar is shutting down",
                QUEUE_FULL_RETRY_AFTER,
            ));
        }
        Ok(())
    }

    fn full(&self, queued: usize) -> Backpressure {
        Backpressure::new(
            format!(
                "pipeline {} is full ({queued} spans waiting for export); retry later",
                self.name
            ),
            QUEUE_FULL_RETRY_AFTER,
        )
    }

    /// Refuses a body of `body_bytes` before it is read and decoded when
    /// [`PipelineInput::offer`] would refuse the batch it decodes to: while
    /// the queue is at its bound, or when a batch of the size such bodies
    /// have decoded to lately would not fit the memory limit. A sidecar
    /// behind a backend outage or a sender faster than its CPU then turns
    /// requests away for the cost of reading their headers, not of decoding
    /// them (docs/benchmarks.md, "Refusing before decoding").
    pub fn check_room(&self, body_bytes: usize) -> Result<(), Backpressure> {
        let queued = self.queued_spans();
        if queued >= self.capacity_spans {
            return Err(self.full(queued));
        }
        if let Some(memory) = &self.memory {
            let expansion = self.expansion.load(Ordering::Relaxed);
            let expected = (body_bytes as u64).saturating_mul(expansion) / EXPANSION_ONE;
            memory.check(expected)?;
        }
        Ok(())
    }

    /// Accounts `bytes` about to be held (a body being received) with the
    /// memory limiter; `None` without one.
    pub fn reserve(&self, bytes: usize) -> Result<Option<MemoryPermit>, Backpressure> {
        match &self.memory {
            Some(m) => m.admit(bytes as u64).map(Some),
            None => Ok(None),
        }
    }

    /// As [`PipelineInput::reserve`], for data held a long time (in-progress
    /// UDP documents): at most half the memory budget.
    pub fn reserve_long_lived(&self, bytes: usize) -> Result<Option<MemoryPermit>, Backpressure> {
        match &self.memory {
            Some(m) => m.admit_long_lived(bytes as u64).map(Some),
            None => Ok(None),
        }
    }

    /// The memory limiter of this pipeline.
    pub fn memory(&self) -> Option<&Arc<MemoryLimiter>> {
        self.memory.as_ref()
    }

    /// Called by the worker for each item it takes.
    pub(crate) fn taken(&self, spans: usize) {
        self.queued_spans.fetch_sub(spans, Ordering::AcqRel);
    }

    /// Spans accepted but not yet taken by the batch processor.
    pub fn queued_spans(&self) -> usize {
        self.queued_spans.load(Ordering::Acquire)
    }
}

/// What a receiver pushes into: the pipeline input plus the receiver's counters.
#[derive(Clone, Debug)]
pub struct ReceiverSink {
    input: Arc<PipelineInput>,
    counters: Arc<Counters>,
}

impl ReceiverSink {
    /// A sink counting into `counters`.
    pub fn new(input: Arc<PipelineInput>, counters: Arc<Counters>) -> Self {
        Self { input, counters }
    }

    /// Offers a batch, counting it as received or refused.
    pub fn offer(&self, payload: Payload, spans: usize) -> Result<(), Backpressure> {
        self.offer_decoded(payload, spans, 0)
    }

    /// [`ReceiverSink::offer`] for a batch decoded from a body of
    /// `body_bytes` bytes ([`PipelineInput::offer_decoded`]).
    fn offer_decoded(
        &self,
        payload: Payload,
        spans: usize,
        body_bytes: usize,
    ) -> Result<(), Backpressure> {
        match self.input.offer_decoded(payload, spans, body_bytes) {
            Ok(()) => {
                Counters::add(&self.counters.received, spans as u64);
                Ok(())
            }
            Err(bp) => {
                Counters::add(&self.counters.refused, spans as u64);
                Err(bp)
            }
        }
    }

    /// The receiver's counters.
    pub fn counters(&self) -> &Arc<Counters> {
        &self.counters
    }

    /// The pipeline input this sink feeds.
    pub fn input(&self) -> &Arc<PipelineInput> {
        &self.input
    }
}

/// Removes spans whose encoding exceeds `limit` bytes; returns how many.
fn remove_spans_over(batch: &mut ExportTraceServiceRequest, limit: usize) -> u64 {
    use prost::Message as _;
    let mut removed = 0u64;
    for rs in &mut batch.resource_spans {
        for ss in &mut rs.scope_spans {
            let before = ss.spans.len();
            ss.spans.retain(|s| s.encoded_len() <= limit);
            removed += (before - ss.spans.len()) as u64;
        }
    }
    removed
}

impl TraceSink for ReceiverSink {
    fn accept(
        &self,
        batch: ExportTraceServiceRequest,
        meta: RequestMeta,
    ) -> Result<Accepted, Backpressure> {
        let mut batch = batch;
        let too_large = self
            .input
            .max_span_bytes
            .map_or(0, |limit| remove_spans_over(&mut batch, limit));
        let spans = usize::try_from(meta.items.saturating_sub(too_large)).unwrap_or(usize::MAX);
        if too_large > 0 {
            Counters::add(&self.counters.dropped, too_large);
        }
        if spans > 0 {
            self.offer_decoded(Payload::otlp(batch), spans, meta.body_bytes)?;
        }
        Ok(if too_large > 0 {
            Accepted::partial(
                too_large,
                format!(
                    "{too_large} span(s) over the destination's {} bytes per span were not accepted",
                    self.input.max_span_bytes.unwrap_or_default()
                ),
            )
        } else {
            Accepted::all()
        })
    }

    fn reserve(&self, bytes: usize) -> Result<Reservation, Backpressure> {
        self.reservation(bytes)
    }
}

impl ReceiverSink {
    /// Accounts body bytes with the pipeline's memory limiter, once the
    /// batch they decode to can be taken ([`PipelineInput::check_room`]).
    /// A refusal here ends the request: counted once, as a request.
    fn reservation(&self, bytes: usize) -> Result<Reservation, Backpressure> {
        let reserved = self
            .input
            .check_room(bytes)
            .and_then(|()| self.input.reserve(bytes));
        match reserved {
            Ok(Some(permit)) => Ok(Reservation::new(permit)),
            Ok(None) => Ok(Reservation::none()),
            Err(bp) => {
                Counters::add(&self.counters.refused_requests, 1);
                Err(bp)
            }
        }
    }

    /// Offers a metrics or logs payload of `meta.items` items.
    fn offer_items(&self, payload: Payload, meta: &RequestMeta) -> Result<Accepted, Backpressure> {
        let items = usize::try_from(meta.items).unwrap_or(usize::MAX);
        if items > 0 {
            self.offer_decoded(payload, items, meta.body_bytes)?;
        }
        Ok(Accepted::all())
    }
}

/// Metrics pipelines: data points are the unit of the queue bound.
impl Sink<ExportMetricsServiceRequest> for ReceiverSink {
    fn accept(
        &self,
        batch: ExportMetricsServiceRequest,
        meta: RequestMeta,
    ) -> Result<Accepted, Backpressure> {
        self.offer_items(Payload::metrics(batch), &meta)
    }

    fn reserve(&self, bytes: usize) -> Result<Reservation, Backpressure> {
        self.reservation(bytes)
    }
}

/// Logs pipelines: log records are the unit of the queue bound.
impl Sink<ExportLogsServiceRequest> for ReceiverSink {
    fn accept(
        &self,
        batch: ExportLogsServiceRequest,
        meta: RequestMeta,
    ) -> Result<Accepted, Backpressure> {
        self.offer_items(Payload::logs(batch), &meta)
    }

    fn reserve(&self, bytes: usize) -> Result<Reservation, Backpressure> {
        self.reservation(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sink(capacity: usize) -> (ReceiverSink, mpsc::UnboundedReceiver<Item>) {
        let (input, rx) = PipelineInput::new("traces", capacity, None, None);
        (ReceiverSink::new(input, Arc::default()), rx)
    }

    #[test]
    fn a_body_is_refused_before_it_is_read_while_the_queue_is_full() {
        let (sink, _rx) = sink(10);
        assert!(
            TraceSink::reserve(&sink, 1_000).is_ok(),
            "an empty queue takes a body"
        );
        let batch = || Payload::otlp(ExportTraceServiceRequest::default());
        sink.offer(batch(), 9).unwrap();
        // Room for one more span: offer would take a 1-span batch, so the
        // body is read.
        assert!(TraceSink::reserve(&sink, 1_000).is_ok());
        sink.offer(batch(), 1).unwrap();
        let refused = TraceSink::reserve(&sink, 1_000).unwrap_err();
        assert!(
            refused.reason.contains("pipeline traces is full (10 spans"),
            "{}",
            refused.reason
        );
        let counted = sink.counters().snapshot();
        assert_eq!((counted.refused_requests, counted.refused), (1, 0));
        assert_eq!(refused.retry_after, QUEUE_FULL_RETRY_AFTER);
        // offer refuses any batch then, for the same reason.
        let offered = sink.offer(batch(), 1).unwrap_err();
        assert_eq!(offered.reason, refused.reason);
        // Once the worker took spans off the queue, bodies are read again.
        sink.input().taken(1);
        assert!(TraceSink::reserve(&sink, 1_000).is_ok());
    }

    /// 300 spans with 1 KiB names.
    fn request() -> ExportTraceServiceRequest {
        use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: (0..300)
                        .map(|i| Span {
                            name: format!("{i:01024}"),
                            ..Span::default()
                        })
                        .collect(),
                    ..ScopeSpans::default()
                }],
                ..ResourceSpans::default()
            }],
        }
    }

    fn meta(body_bytes: usize) -> RequestMeta {
        RequestMeta {
            signal: otel_aws_distro::receiver::Signal::Traces,
            transport: otel_aws_distro::receiver::Transport::Http,
            encoding: otel_aws_distro::receiver::Encoding::Protobuf,
            gzip: false,
            body_bytes,
            items: 300,
            peer: None,
        }
    }

    #[test]
    fn a_body_whose_batch_would_not_fit_the_memory_limit_is_refused_before_it_is_read() {
        let decoded = crate::processor::size::payload_bytes(&Payload::otlp(request()));
        // A budget of two and a half such batches.
        let limiter = MemoryLimiter::new(1, Some(0));
        let budget = 1024 * 1024;
        let per_batch = decoded as u64;
        assert!(
            per_batch * 5 / 2 < budget && per_batch * 4 > budget,
            "{decoded}"
        );
        let (input, _rx) = PipelineInput::new("traces", 1_000_000, Some(limiter.clone()), None);
        let sink = ReceiverSink::new(input, Arc::default());
        // Bodies decode to four times their size here.
        let body = decoded / 4;
        TraceSink::accept(&sink, request(), meta(body)).unwrap();
        TraceSink::accept(&sink, request(), meta(body)).unwrap();
        let held = limiter.held_bytes();
        assert_eq!(held, 2 * per_batch);
        // The body alone would fit; the batch it decodes to would not.
        assert!(held + body as u64 <= budget);
        let refused = TraceSink::reserve(&sink, body).unwrap_err();
        assert!(
            refused.reason.starts_with("memory limit reached"),
            "{}",
            refused.reason
        );
        assert!(limiter.refusing_for().is_some());
        assert_eq!(sink.counters().snapshot().refused_requests, 1);
        assert_eq!(
            limiter.held_bytes(),
            held,
            "nothing taken for a refused body"
        );
        // A body that decodes to what still fits is read.
        let small = ((budget - held) / 4 - 16) as usize;
        assert!(TraceSink::reserve(&sink, small).is_ok());
    }
}
