//! Parent-based sampling that honours X-Ray's deferred decision.

use crate::xray::is_deferred;
use opentelemetry::trace::{Link, SpanKind, TraceId};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{ParentBasedSampler, SamplingResult, ShouldSample};

/// Parent-based sampler for X-Ray traffic (`spec/xray.md`, Decision on
/// deferred sampling).
///
/// * A remote parent whose X-Ray header said `Sampled=?` (or had no
///   `Sampled`) is extracted as a not-sampled remote parent marked deferred
///   ([`crate::xray::is_deferred`]); for it, the **root** sampler decides.
///   The span keeps the parent's trace id (the SDK passes it in) and its
///   parent link, so the trace stays whole.
/// * Every other case is the standard OpenTelemetry parent-based behaviour
///   (the SDK's [`ParentBasedSampler`]): no or invalid parent → root
///   sampler; sampled parent → sample; not-sampled parent → drop.
/// * aws-xray-sdk's unsampled placeholder header (all-zero ids,
///   `Sampled=0`) is extracted by [`crate::xray::XrayPropagator`] as a
///   not-sampled remote parent with a new trace id, so it takes the
///   "not-sampled parent → drop" branch: a legacy caller's "do not sample"
///   is honoured, never overridden by the root sampler.
///
/// The child span carries the decision in its W3C flags and no marker, so
/// a downstream inject writes `Sampled=0/1` and a clean `tracestate`.
#[derive(Clone, Debug)]
pub struct DeferredAwareParentBased {
    root: Box<dyn ShouldSample>,
    parent_based: ParentBasedSampler,
}

impl DeferredAwareParentBased {
    /// Wraps `root`, the sampler for root spans and deferred parents.
    pub fn new(root: impl Into<Box<dyn ShouldSample>>) -> Self {
        let root: Box<dyn ShouldSample> = root.into();
        Self {
            parent_based: ParentBasedSampler::new(root.clone()),
            root,
        }
    }
}

impl ShouldSample for DeferredAwareParentBased {
    fn should_sample(
        &self,
        parent_context: Option<&Context>,
        trace_id: TraceId,
        name: &str,
        span_kind: &SpanKind,
        attributes: &[KeyValue],
        links: &[Link],
    ) -> SamplingResult {
        let sampler: &dyn ShouldSample = if parent_context.is_some_and(is_deferred) {
            self.root.as_ref()
        } else {
            &self.parent_based
        };
        sampler.should_sample(parent_context, trace_id, name, span_kind, attributes, links)
    }
}
