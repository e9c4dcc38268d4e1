//! What an extracted X-Ray header carries beyond the W3C span context.
//!
//! W3C trace flags cannot say "sampling decision deferred", and a
//! `TraceState` entry would leak into the `tracestate` header a downstream
//! tracecontext inject writes (and trace state keys are lower-case only, so
//! `Lineage` could not keep its case). So the X-Ray propagator stores this
//! small value in the extracted [`Context`] next to the remote span context
//! (`spec/xray.md`, Decision on deferred sampling):
//!
//! * the deferred marker applies only to the very remote parent it came with
//!   (same trace id and span id, still not sampled): once a span is created
//!   under it, the sampler has decided and the marker no longer matches;
//! * the extra header fields (`Lineage`, vendor keys) are written back by the
//!   X-Ray propagator's inject for any span of the same trace.

use opentelemetry::Context;
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceId};

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct XrayHeaderState {
    pub(crate) trace_id: TraceId,
    pub(crate) parent_id: SpanId,
    pub(crate) deferred: bool,
    pub(crate) extras: String,
}

impl XrayHeaderState {
    /// Whether `sc` is the still-undecided remote parent this state came with.
    pub(crate) fn defers(&self, sc: &SpanContext) -> bool {
        self.deferred
            && sc.is_remote()
            && !sc.is_sampled()
            && sc.trace_id() == self.trace_id
            && sc.span_id() == self.parent_id
    }
}

/// Whether the span in `cx` is a remote parent whose X-Ray header said
/// `Sampled=?` (or had no `Sampled`) and no sampling decision has been made
/// under it yet.
pub fn is_deferred(cx: &Context) -> bool {
    match cx.get::<XrayHeaderState>() {
        Some(state) => state.defers(cx.span().span_context()),
        None => false,
    }
}

/// The extra `X-Amzn-Trace-Id` fields (`Lineage`, vendor keys; `Key=Value;…`)
/// extracted for the trace of the span in `cx`, if any.
pub fn header_extras(cx: &Context) -> Option<&str> {
    let state = cx.get::<XrayHeaderState>()?;
    (state.trace_id == cx.span().span_context().trace_id() && !state.extras.is_empty())
        .then_some(state.extras.as_str())
}
