//! The step both receivers share after decoding: validate, hand to the
//! sink, count, and shape the OTLP response.

use std::sync::Arc;

use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};

use super::decode::validate;
use super::sink::{Backpressure, RequestMeta, TraceSink};
use super::stats::ReceiverStats;

/// What the receiver shares between requests.
pub(crate) struct Shared {
    pub sink: Arc<dyn TraceSink>,
    pub stats: Arc<ReceiverStats>,
    pub max_body_bytes: usize,
    pub request_timeout: Option<std::time::Duration>,
}

/// Validates `batch`, gives it to the sink (unless no span is left) and
/// returns the response to send, or the sink's backpressure.
/// `meta.span_count` is filled in here.
pub(crate) fn deliver(
    shared: &Shared,
    mut batch: ExportTraceServiceRequest,
    mut meta: RequestMeta,
) -> Result<ExportTraceServiceResponse, Backpressure> {
    let v = validate(&mut batch);
    meta.span_count = v.spans;
    let (rejected, message) = if v.spans == 0 {
        shared.stats.accepted(0, v.rejected);
        (v.rejected, v.message)
    } else {
        match shared.sink.accept(batch, meta) {
            Ok(acc) => {
                let kept = v.spans.saturating_sub(acc.rejected_spans);
                let rejected = v.rejected + acc.rejected_spans;
                shared.stats.accepted(kept, rejected);
                let message = match (v.message.is_empty(), acc.message.is_empty()) {
                    (true, _) => acc.message,
                    (false, true) => v.message,
                    (false, false) => format!("{}; {}", v.message, acc.message),
                };
                (rejected, message)
            }
            Err(bp) => {
                shared.stats.backpressured(v.spans);
                shared.stats.rejected_spans(v.rejected);
                return Err(bp);
            }
        }
    };
    let partial_success =
        (rejected > 0 || !message.is_empty()).then(|| ExportTracePartialSuccess {
            rejected_spans: i64::try_from(rejected).unwrap_or(i64::MAX),
            error_message: message,
        });
    Ok(ExportTraceServiceResponse { partial_success })
}
