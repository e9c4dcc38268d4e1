//! The step both receivers share after decoding: validate, hand to the
//! sink, count, and shape the OTLP response.

use std::sync::Arc;

use super::proto_traces::DecodeOptions;
use super::signal::OtlpSignal;
use super::sink::{Backpressure, RequestMeta, Sinks};
use super::stats::ReceiverStats;

/// What the receiver shares between requests.
pub(crate) struct Shared {
    pub sinks: Sinks,
    pub stats: Arc<ReceiverStats>,
    pub max_body_bytes: usize,
    pub max_grpc_message_bytes: usize,
    pub request_timeout: Option<std::time::Duration>,
    /// How protobuf bodies are decoded.
    pub decode: DecodeOptions,
}

/// Validates `batch`, gives it to the signal's sink (unless no item is
/// left) and returns the response to send, or the sink's backpressure.
/// `meta.items` is filled in here. Only called for a signal with a sink.
pub(crate) fn deliver<S: OtlpSignal>(
    shared: &Shared,
    mut batch: S::Request,
    mut meta: RequestMeta,
) -> Result<S::Response, Backpressure> {
    let signal = S::SIGNAL;
    let v = S::validate(&mut batch);
    meta.items = v.items;
    let sink = S::sink(&shared.sinks);
    let (rejected, message) = match sink {
        Some(sink) if v.items > 0 => match sink.accept(batch, meta) {
            Ok(acc) => {
                let kept = v.items.saturating_sub(acc.rejected);
                let rejected = v.rejected + acc.rejected;
                shared.stats.accepted(signal, kept, rejected);
                let message = match (v.message.is_empty(), acc.message.is_empty()) {
                    (true, _) => acc.message,
                    (false, true) => v.message,
                    (false, false) => format!("{}; {}", v.message, acc.message),
                };
                (rejected, message)
            }
            Err(bp) => {
                shared.stats.backpressured(signal, v.items);
                shared.stats.rejected(signal, v.rejected);
                return Err(bp);
            }
        },
        _ => {
            shared.stats.accepted(signal, 0, v.rejected);
            (v.rejected, v.message)
        }
    };
    Ok(S::response(rejected, message))
}
