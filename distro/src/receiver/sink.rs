//! Where receivers push decoded batches: the [`Sink`] trait (one per
//! signal's batch type; [`TraceSink`] for traces), [`Sinks`] naming one per
//! signal, and what travels with each batch.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

use super::signal::Signal;

/// Receives every decoded, validated batch of one signal (`B` is
/// [`ExportTraceServiceRequest`], [`ExportMetricsServiceRequest`] or
/// [`ExportLogsServiceRequest`]). Same contract as [`TraceSink`]: `accept`
/// is called on the request path, once per request, and must not block.
pub trait Sink<B>: Send + Sync + 'static {
    /// Takes ownership of one batch; [`Backpressure`] makes the sender retry.
    /// `meta.items` is the number of data points / log records / spans in it.
    fn accept(&self, batch: B, meta: RequestMeta) -> Result<Accepted, Backpressure>;

    /// Accounts `bytes` about to be held (see [`TraceSink::reserve`]). The default accounts nothing.
    fn reserve(&self, bytes: usize) -> Result<Reservation, Backpressure> {
        let _ = bytes;
        Ok(Reservation::none())
    }
}

/// A closure taking metrics batches is a metrics sink.
impl<F> Sink<ExportMetricsServiceRequest> for F
where
    F: Fn(ExportMetricsServiceRequest, RequestMeta) -> Result<Accepted, Backpressure>
        + Send
        + Sync
        + 'static,
{
    fn accept(
        &self,
        batch: ExportMetricsServiceRequest,
        meta: RequestMeta,
    ) -> Result<Accepted, Backpressure> {
        self(batch, meta)
    }
}

/// A closure taking logs batches is a logs sink.
impl<F> Sink<ExportLogsServiceRequest> for F
where
    F: Fn(ExportLogsServiceRequest, RequestMeta) -> Result<Accepted, Backpressure>
        + Send
        + Sync
        + 'static,
{
    fn accept(
        &self,
        batch: ExportLogsServiceRequest,
        meta: RequestMeta,
    ) -> Result<Accepted, Backpressure> {
        self(batch, meta)
    }
}

/// A [`TraceSink`] seen as the generic [`Sink`] of traces.
struct TraceSinkAdapter(Arc<dyn TraceSink>);

impl Sink<ExportTraceServiceRequest> for TraceSinkAdapter {
    fn accept(
        &self,
        batch: ExportTraceServiceRequest,
        meta: RequestMeta,
    ) -> Result<Accepted, Backpressure> {
        self.0.accept(batch, meta)
    }

    fn reserve(&self, bytes: usize) -> Result<Reservation, Backpressure> {
        self.0.reserve(bytes)
    }
}

/// The sink of each signal a receiver serves. A signal without a sink is
/// not served: HTTP 404 on its path, gRPC UNIMPLEMENTED for its service.
#[derive(Clone, Default)]
pub struct Sinks {
    /// Where spans go.
    pub traces: Option<Arc<dyn Sink<ExportTraceServiceRequest>>>,
    /// Where metric data points go.
    pub metrics: Option<Arc<dyn Sink<ExportMetricsServiceRequest>>>,
    /// Where log records go.
    pub logs: Option<Arc<dyn Sink<ExportLogsServiceRequest>>>,
}

impl Sinks {
    /// Traces only, into a [`TraceSink`] (what [`serve`](super::serve) does).
    pub fn traces(sink: Arc<dyn TraceSink>) -> Self {
        Self {
            traces: Some(Arc::new(TraceSinkAdapter(sink))),
            ..Self::default()
        }
    }

    /// Adds (or replaces) the traces sink.
    pub fn with_traces(mut self, sink: Arc<dyn TraceSink>) -> Self {
        self.traces = Some(Arc::new(TraceSinkAdapter(sink)));
        self
    }

    /// Adds (or replaces) the metrics sink.
    pub fn with_metrics(mut self, sink: Arc<dyn Sink<ExportMetricsServiceRequest>>) -> Self {
        self.metrics = Some(sink);
        self
    }

    /// Adds (or replaces) the logs sink.
    pub fn with_logs(mut self, sink: Arc<dyn Sink<ExportLogsServiceRequest>>) -> Self {
        self.logs = Some(sink);
        self
    }

    /// Whether `signal` has a sink.
    pub fn serves(&self, signal: Signal) -> bool {
        match signal {
            Signal::Traces => self.traces.is_some(),
            Signal::Metrics => self.metrics.is_some(),
            Signal::Logs => self.logs.is_some(),
        }
    }
}

impl std::fmt::Debug for Sinks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let served: Vec<_> = Signal::ALL.iter().filter(|s| self.serves(**s)).collect();
        f.debug_struct("Sinks").field("signals", &served).finish()
    }
}

/// Receives every decoded, validated batch from the receivers.
///
/// `accept` is called on the request path, synchronously, once per request:
/// it must be cheap (append to a buffer, `try_send` into a queue) and never
/// block. The Lambda extension buffers per invoke; the sidecar queues for
/// batching.
pub trait TraceSink: Send + Sync + 'static {
    /// Takes ownership of one batch. Return [`Backpressure`] to make the
    /// caller retry later (HTTP 503 + `Retry-After`, gRPC
    /// `RESOURCE_EXHAUSTED` + `RetryInfo`); the batch is then dropped here
    /// and counted as backpressured, the sender keeps its copy.
    fn accept(
        &self,
        batch: ExportTraceServiceRequest,
        meta: RequestMeta,
    ) -> Result<Accepted, Backpressure>;

    /// Accounts `bytes` the receiver is about to hold (a request body as
    /// it arrives, before it is decoded) against the sink's memory bound;
    /// the returned [`Reservation`] gives them back when dropped, after the
    /// batch went through [`TraceSink::accept`]. [`Backpressure`] refuses
    /// the request before the bytes are read and decoded (HTTP 503, gRPC
    /// `RESOURCE_EXHAUSTED`): over the memory bound, or while the sink
    /// could not take any batch. The default accounts nothing.
    fn reserve(&self, bytes: usize) -> Result<Reservation, Backpressure> {
        let _ = bytes;
        Ok(Reservation::none())
    }
}

/// Bytes accounted by [`TraceSink::reserve`]; released when dropped.
#[derive(Default)]
pub struct Reservation(Option<Box<dyn Send + Sync>>);

impl Reservation {
    /// Nothing accounted.
    pub fn none() -> Self {
        Self(None)
    }

    /// Accounted bytes held by `guard` (released when it is dropped).
    pub fn new(guard: impl Send + Sync + 'static) -> Self {
        Self(Some(Box::new(guard)))
    }
}

impl std::fmt::Debug for Reservation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Reservation(held)"
        } else {
            "Reservation(none)"
        })
    }
}

/// Any `Fn(batch, meta) -> Result<Accepted, Backpressure>` is a sink (handy in tests and small embeddings).
impl<F> TraceSink for F
where
    F: Fn(ExportTraceServiceRequest, RequestMeta) -> Result<Accepted, Backpressure>
        + Send
        + Sync
        + 'static,
{
    fn accept(
        &self,
        batch: ExportTraceServiceRequest,
        meta: RequestMeta,
    ) -> Result<Accepted, Backpressure> {
        self(batch, meta)
    }
}

/// The sink took the batch. It may still have dropped part of it (for
/// example a per-invoke buffer that is full): report that in
/// `rejected` and the sender gets an OTLP `partial_success`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Accepted {
    /// Items (spans, data points, log records) of the batch the sink dropped (0 = all kept).
    pub rejected: u64,
    /// Why, for the sender's logs (empty when nothing was dropped).
    pub message: String,
}

impl Accepted {
    /// Everything was kept.
    pub fn all() -> Self {
        Self::default()
    }

    /// `rejected` items were dropped, for the reason in `message`.
    pub fn partial(rejected: u64, message: impl Into<String>) -> Self {
        Self {
            rejected,
            message: message.into(),
        }
    }
}

/// The sink cannot take the batch now (memory limit, queue full): the
/// sender should retry after `retry_after`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Backpressure {
    /// Suggested wait before retrying (sent as `Retry-After`, whole seconds rounded up, and as gRPC `RetryInfo`).
    pub retry_after: Duration,
    /// Why, for the sender's logs ("queue full", "memory limit 64 MiB reached").
    pub reason: String,
}

impl Backpressure {
    /// Backpressure with a reason and a suggested retry delay.
    pub fn new(reason: impl Into<String>, retry_after: Duration) -> Self {
        Self {
            retry_after,
            reason: reason.into(),
        }
    }
}

/// Which receiver a batch came through.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transport {
    /// OTLP/HTTP (`POST /v1/<signal>`).
    Http,
    /// OTLP/gRPC (`<Signal>Service/Export`).
    Grpc,
}

/// How the batch was encoded on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// Binary protobuf (`application/x-protobuf`, and always for gRPC).
    Protobuf,
    /// OTLP/JSON (`application/json`).
    Json,
}

/// Facts about the request a batch arrived in, for the sink and self-telemetry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestMeta {
    /// Which signal the batch carries.
    pub signal: Signal,
    /// HTTP or gRPC.
    pub transport: Transport,
    /// Protobuf or JSON.
    pub encoding: Encoding,
    /// The body was gzip-compressed.
    pub gzip: bool,
    /// Decoded (decompressed) body size in bytes: a cheap proxy for the batch's memory footprint.
    pub body_bytes: usize,
    /// Items (spans, data points or log records) in the batch handed to the
    /// sink, after invalid ones were removed.
    pub items: u64,
    /// The peer's address, when known.
    pub peer: Option<SocketAddr>,
}
