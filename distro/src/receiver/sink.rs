//! Where receivers push decoded batches: the [`TraceSink`] trait and what
//! travels with each batch.

use std::net::SocketAddr;
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

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
    /// the request before the bytes are read (HTTP 503, gRPC
    /// `RESOURCE_EXHAUSTED`). The default accounts nothing.
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
/// `rejected_spans` and the sender gets an OTLP `partial_success`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Accepted {
    /// Spans of the batch the sink dropped (0 = all kept).
    pub rejected_spans: u64,
    /// Why, for the sender's logs (empty when nothing was dropped).
    pub message: String,
}

impl Accepted {
    /// Everything was kept.
    pub fn all() -> Self {
        Self::default()
    }

    /// `rejected_spans` spans were dropped, for the reason in `message`.
    pub fn partial(rejected_spans: u64, message: impl Into<String>) -> Self {
        Self {
            rejected_spans,
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
    /// OTLP/HTTP (`POST /v1/traces`).
    Http,
    /// OTLP/gRPC (`TraceService/Export`).
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
    /// HTTP or gRPC.
    pub transport: Transport,
    /// Protobuf or JSON.
    pub encoding: Encoding,
    /// The body was gzip-compressed.
    pub gzip: bool,
    /// Decoded (decompressed) body size in bytes: a cheap proxy for the batch's memory footprint.
    pub body_bytes: usize,
    /// Spans in the batch handed to the sink (after invalid ones were removed).
    pub span_count: u64,
    /// The peer's address, when known.
    pub peer: Option<SocketAddr>,
}
