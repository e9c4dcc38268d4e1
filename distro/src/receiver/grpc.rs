//! OTLP/gRPC receiver: `TraceService/Export`, `MetricsService/Export` and
//! `LogsService/Export` (each when its signal has a sink) on tonic, gzip
//! request compression accepted.
//!
//! The service is written against `tonic::server::Grpc` rather than the
//! generated `*ServiceServer`s because the generated one decodes with
//! `ProstCodec`, which reports malformed protobuf as INTERNAL; OTLP asks for
//! INVALID_ARGUMENT (non-retryable). The codec here decodes with prost
//! straight from tonic's buffer and maps errors accordingly. Tonic's own
//! decompression errors are remapped the same way (see [`remap_status`]).
//!
//! Every received body frame is accounted with the sink
//! ([`Sink::reserve`](super::Sink::reserve)) before tonic buffers
//! it ([`ReservingBody`]), and a stream must deliver its message within the
//! request timeout.

use std::convert::Infallible;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use prost::Message;
use tonic::codec::{Codec, CompressionEncoding, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::{Code, Status};

use super::deliver::{Shared, deliver};
use super::proto_traces::DecodeOptions;
use super::signal::{Logs, Metrics, OtlpSignal, Signal, Traces};
use super::sink::{Backpressure, Encoding, RequestMeta, Reservation, Transport};
use super::stats::ReceiverStats;
use super::status::{CODE_RESOURCE_EXHAUSTED, RpcStatus};

/// The gRPC traces method path.
pub const EXPORT_PATH: &str = super::signal::GRPC_TRACES_PATH;

/// A decoded request and its decoded size in bytes.
type Decoded<S> = (<S as OtlpSignal>::Request, usize);

/// Prost codec whose decode errors are INVALID_ARGUMENT.
struct OtlpCodec<S> {
    stats: Arc<ReceiverStats>,
    decode: DecodeOptions,
    signal: PhantomData<S>,
}

struct OtlpDecoder<S> {
    stats: Arc<ReceiverStats>,
    decode: DecodeOptions,
    signal: PhantomData<S>,
}

struct OtlpEncoder<S>(PhantomData<S>);

impl<S: OtlpSignal> Codec for OtlpCodec<S> {
    type Encode = S::Response;
    type Decode = Decoded<S>;
    type Encoder = OtlpEncoder<S>;
    type Decoder = OtlpDecoder<S>;

    fn encoder(&mut self) -> Self::Encoder {
        OtlpEncoder(PhantomData)
    }

    fn decoder(&mut self) -> Self::Decoder {
        OtlpDecoder {
            stats: Arc::clone(&self.stats),
            decode: self.decode,
            signal: PhantomData,
        }
    }
}

impl<S: OtlpSignal> Encoder for OtlpEncoder<S> {
    type Item = S::Response;
    type Error = Status;

    fn encode(&mut self, item: Self::Item, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        item.encode(dst)
            .map_err(|e| Status::internal(format!("encoding the response failed: {e}")))
    }
}

impl<S: OtlpSignal> Decoder for OtlpDecoder<S> {
    type Item = Decoded<S>;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Decoded<S>>, Status> {
        use bytes::Buf;
        let len = src.remaining();
        // tonic's buffer hands the message over without a copy.
        let body = src.copy_to_bytes(len);
        match S::decode_protobuf(&body, self.decode) {
            Ok(req) => Ok(Some((req, len))),
            Err(e) => {
                self.stats.malformed();
                Err(Status::invalid_argument(format!(
                    "invalid protobuf {}: {e}",
                    S::REQUEST_NAME
                )))
            }
        }
    }
}

/// The unary handler: validate, hand to the sink, answer.
struct ExportHandler<S>(Arc<Shared>, PhantomData<S>);

impl<S: OtlpSignal> tonic::server::UnaryService<Decoded<S>> for ExportHandler<S> {
    type Response = S::Response;
    type Future = std::future::Ready<Result<tonic::Response<Self::Response>, Status>>;

    fn call(&mut self, request: tonic::Request<Decoded<S>>) -> Self::Future {
        let peer = request.remote_addr();
        let gzip = request
            .metadata()
            .get("grpc-encoding")
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"));
        // The body was decoded (the batch owns its own copies): give its
        // bytes back before the sink accounts the decoded batch.
        if let Some(HeldSlot(held)) = request.extensions().get::<HeldSlot>() {
            held.lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clear();
        }
        let (batch, body_bytes) = request.into_inner();
        let meta = RequestMeta {
            signal: S::SIGNAL,
            transport: Transport::Grpc,
            encoding: Encoding::Protobuf,
            gzip,
            body_bytes,
            items: 0,
            peer,
        };
        std::future::ready(match deliver::<S>(&self.0, batch, meta) {
            Ok(resp) => Ok(tonic::Response::new(resp)),
            Err(bp) => Err(backpressure_status(bp)),
        })
    }
}

/// RESOURCE_EXHAUSTED is retryable for OTLP clients only with RetryInfo attached.
fn backpressure_status(bp: Backpressure) -> Status {
    let details = RpcStatus::with_retry(CODE_RESOURCE_EXHAUSTED, bp.reason.clone(), bp.retry_after)
        .encode_to_vec();
    Status::with_details(Code::ResourceExhausted, bp.reason, details.into())
}

/// Reservations of one stream's body, held until it is decoded.
type Held = Arc<std::sync::Mutex<Vec<Reservation>>>;

/// The stream's [`Held`], passed to the handler in the request extensions.
#[derive(Clone)]
struct HeldSlot(Held);

/// A request body that accounts each data frame with the sink before
/// handing it to tonic (which buffers the whole message); a refusal ends
/// the stream with RESOURCE_EXHAUSTED + RetryInfo.
struct ReservingBody<B, S> {
    inner: Pin<Box<B>>,
    shared: Arc<Shared>,
    held: Held,
    signal: PhantomData<fn() -> S>,
}

impl<B, S: OtlpSignal> tonic::codegen::Body for ReservingBody<B, S>
where
    B: tonic::codegen::Body,
    B::Error: Into<tonic::codegen::StdError>,
{
    type Data = B::Data;
    type Error = tonic::codegen::StdError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        use bytes::Buf as _;
        let frame = match self.inner.as_mut().poll_frame(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(None) => return Poll::Ready(None),
            Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(Some(Ok(frame))) => frame,
        };
        if let Some(data) = frame.data_ref() {
            let reserved = match S::sink(&self.shared.sinks) {
                Some(sink) => sink.reserve(data.remaining()),
                None => Ok(Reservation::none()),
            };
            match reserved {
                Ok(r) => self
                    .held
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push(r),
                Err(bp) => {
                    self.shared.stats.backpressured(S::SIGNAL, 0);
                    return Poll::Ready(Some(Err(Box::new(backpressure_status(bp)))));
                }
            }
        }
        Poll::Ready(Some(Ok(frame)))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// The tower service tonic's server runs: routes the methods of the signals
/// with a sink, UNIMPLEMENTED for the rest.
#[derive(Clone)]
pub(crate) struct OtlpGrpcService {
    shared: Arc<Shared>,
}

impl OtlpGrpcService {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

impl<B> tonic::codegen::Service<http::Request<B>> for OtlpGrpcService
where
    B: tonic::codegen::Body + Send + 'static,
    B::Error: Into<tonic::codegen::StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let shared = Arc::clone(&self.shared);
        let path = req.uri().path();
        let signal = Signal::ALL
            .into_iter()
            .find(|s| s.grpc_path() == path && shared.sinks.serves(*s));
        match signal {
            Some(Signal::Traces) => export::<Traces, B>(shared, req),
            Some(Signal::Metrics) => export::<Metrics, B>(shared, req),
            Some(Signal::Logs) => export::<Logs, B>(shared, req),
            None => {
                let served: Vec<&str> = Signal::ALL
                    .into_iter()
                    .filter(|s| shared.sinks.serves(*s))
                    .map(Signal::grpc_path)
                    .collect();
                let msg = format!("unknown method {path}: only {}", served.join(", "));
                Box::pin(async move { Ok(Status::unimplemented(msg).into_http()) })
            }
        }
    }
}

/// One unary export call of signal `S`.
fn export<S: OtlpSignal, B>(
    shared: Arc<Shared>,
    req: http::Request<B>,
) -> BoxFuture<Result<http::Response<tonic::body::Body>, Infallible>>
where
    B: tonic::codegen::Body + Send + 'static,
    B::Error: Into<tonic::codegen::StdError> + Send + 'static,
{
    let held: Held = Arc::default();
    let (mut parts, body) = req.into_parts();
    parts.extensions.insert(HeldSlot(Arc::clone(&held)));
    let req = http::Request::from_parts(
        parts,
        ReservingBody::<B, S> {
            inner: Box::pin(body),
            shared: Arc::clone(&shared),
            held: Arc::clone(&held),
            signal: PhantomData,
        },
    );
    Box::pin(async move {
        shared.stats.request();
        let codec = OtlpCodec::<S> {
            stats: Arc::clone(&shared.stats),
            decode: shared.decode,
            signal: PhantomData,
        };
        let mut grpc = tonic::server::Grpc::new(codec)
            .accept_compressed(CompressionEncoding::Gzip)
            .max_decoding_message_size(shared.max_grpc_message_bytes);
        let unary = grpc.unary(ExportHandler::<S>(Arc::clone(&shared), PhantomData), req);
        let timed = match shared.request_timeout {
            Some(t) => tokio::time::timeout(t, unary).await.ok(),
            None => Some(unary.await),
        };
        let Some(mut res) = timed else {
            drop(held);
            return Ok(Status::deadline_exceeded(
                "the request did not arrive within the request timeout",
            )
            .into_http());
        };
        drop(held);
        if let Some(status) = Status::from_header_map(res.headers())
            && let Some(new) = remap_status(&status, &shared.stats)
        {
            // Replace the trailers-only status in place.
            let _ = new.add_header(res.headers_mut());
        }
        Ok(res)
    })
}

/// Tonic reports a bad gzip body and a truncated message as INTERNAL, an
/// oversize message as OUT_OF_RANGE and a decompressed size over the limit
/// as RESOURCE_EXHAUSTED. OTLP clients retry OUT_OF_RANGE (and
/// RESOURCE_EXHAUSTED could pass for backpressure), so a request that can
/// never succeed as sent gets INVALID_ARGUMENT, which the OTLP spec lists as
/// not retryable. Counts the refusals. Returns the replacement status, if any.
fn remap_status(status: &Status, stats: &ReceiverStats) -> Option<Status> {
    let msg = status.message();
    match status.code() {
        Code::Internal if msg.starts_with("Error decompressing") => {
            stats.malformed();
            Some(Status::invalid_argument(format!(
                "invalid gzip body: {msg}"
            )))
        }
        Code::Internal if msg.starts_with("Unexpected EOF") => {
            stats.malformed();
            Some(Status::invalid_argument(format!(
                "truncated gRPC message: {msg}"
            )))
        }
        Code::ResourceExhausted if msg.starts_with("Error decompressing: size limit") => {
            stats.too_large();
            Some(Status::invalid_argument(format!(
                "request too large: {msg}"
            )))
        }
        Code::OutOfRange => {
            stats.too_large();
            Some(Status::invalid_argument(format!(
                "request too large: {msg}"
            )))
        }
        _ => None,
    }
}
