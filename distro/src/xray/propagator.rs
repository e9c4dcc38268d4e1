//! The `X-Amzn-Trace-Id` text-map propagator.

use super::header::{TraceHeader, format_header, parse_legacy_unsampled};
use super::id::XrayIdGenerator;
use super::state::XrayHeaderState;
use crate::Env;
use opentelemetry::Context;
use opentelemetry::propagation::{
    Extractor, Injector, TextMapPropagator, text_map_propagator::FieldIter,
};
use opentelemetry::trace::{SpanContext, TraceContextExt, TraceFlags, TraceState};
use opentelemetry_sdk::trace::IdGenerator;
use std::fmt;
use std::sync::{Arc, LazyLock};

/// The carrier key (HTTP header name, lower case) of the X-Ray trace header.
pub const XRAY_HEADER: &str = "x-amzn-trace-id";

/// Environment variable in which the Lambda runtime hands each invocation's
/// X-Ray header to the function.
pub const LAMBDA_TRACE_ENV: &str = "_X_AMZN_TRACE_ID";

static FIELDS: LazyLock<[String; 1]> = LazyLock::new(|| [XRAY_HEADER.to_string()]);

/// Where the `xray-lambda` variant finds the Lambda trace header.
#[derive(Clone)]
enum LambdaSource {
    Fixed(Option<String>),
    Dynamic(Arc<dyn Fn() -> Option<String> + Send + Sync>),
}

impl fmt::Debug for LambdaSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LambdaSource::Fixed(v) => f.debug_tuple("Fixed").field(v).finish(),
            LambdaSource::Dynamic(_) => f.write_str("Dynamic(..)"),
        }
    }
}

/// Extracts and injects the AWS X-Ray `X-Amzn-Trace-Id` header.
///
/// Beyond `opentelemetry_aws::trace::XrayPropagator` (which it replaces),
/// it follows `spec/xray.md`:
/// * `Sampled=?` or no `Sampled` extracts a not-sampled remote parent marked
///   "deferred" ([`crate::xray::is_deferred`]); the distro's
///   [`crate::sampling::DeferredAwareParentBased`] lets its root sampler
///   decide for such a parent, keeping the trace id. Inject writes
///   `Sampled=?` only while that parent is still undecided;
/// * extra fields (`Lineage`, vendor keys) survive a hop, `Self` is dropped,
///   the injected value is at most 256 characters;
/// * aws-xray-sdk's placeholder for an unsampled request
///   ([`crate::xray::header::LEGACY_UNSAMPLED_PLACEHOLDER`], all-zero `Root`
///   and `Parent` with `Sampled=0`) is a "do not sample" decision: extract
///   returns a not-sampled remote parent with a **new** X-Ray trace id (and
///   a new parent id, which no span is recorded under), so a parent-based
///   sampler drops the spans and inject passes `Sampled=0` on with ids
///   every propagator accepts (`spec/xray.md`, Decision under "Legacy SDK
///   quirks"; the reference propagators start a new sampled trace instead);
/// * other invalid headers are ignored: extract returns the incoming context.
///
/// ```
/// use std::collections::HashMap;
/// use opentelemetry::propagation::TextMapPropagator;
/// use opentelemetry::trace::TraceContextExt;
/// use otel_aws_distro::xray::XrayPropagator;
///
/// let carrier = HashMap::from([(
///     "x-amzn-trace-id".to_string(),
///     "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1".to_string(),
/// )]);
/// let cx = XrayPropagator::new().extract(&carrier);
/// assert_eq!(cx.span().span_context().trace_id().to_string(), "5759e988bd862e3fe1be46a994272793");
/// ```
#[derive(Clone, Debug, Default)]
pub struct XrayPropagator {
    lambda: Option<LambdaSource>,
}

impl XrayPropagator {
    /// The plain `xray` propagator.
    pub fn new() -> Self {
        Self::default()
    }

    /// The `xray-lambda` propagator: when the carrier has no valid X-Ray
    /// header, it falls back to the value of `_X_AMZN_TRACE_ID`, read once
    /// from the process environment now. The Lambda runtime changes that
    /// variable on every invocation; code that outlives one invocation
    /// should use [`Self::lambda_with_env_source`] instead.
    pub fn lambda() -> Self {
        Self::lambda_with_env_value(
            Env::from_process()
                .get(LAMBDA_TRACE_ENV)
                .map(str::to_string),
        )
    }

    /// The `xray-lambda` propagator with the `_X_AMZN_TRACE_ID` value given
    /// by the caller (`None`: no fallback).
    pub fn lambda_with_env_value(value: Option<String>) -> Self {
        Self {
            lambda: Some(LambdaSource::Fixed(value)),
        }
    }

    /// The `xray-lambda` propagator asking `source` for the current
    /// `_X_AMZN_TRACE_ID` value each time the carrier has no X-Ray header
    /// (for example a per-invocation value kept by the Lambda wrapper).
    pub fn lambda_with_env_source(
        source: impl Fn() -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        Self {
            lambda: Some(LambdaSource::Dynamic(Arc::new(source))),
        }
    }

    /// Whether this is the `xray-lambda` variant.
    pub fn is_lambda(&self) -> bool {
        self.lambda.is_some()
    }

    fn lambda_header(&self) -> Option<Incoming> {
        match self.lambda.as_ref()? {
            LambdaSource::Fixed(value) => Incoming::classify(value.as_deref()?),
            LambdaSource::Dynamic(source) => Incoming::classify(&source()?),
        }
    }
}

/// What an extracted header value means.
enum Incoming {
    /// A valid header: continue its trace.
    Header(TraceHeader),
    /// aws-xray-sdk's unsampled placeholder, with its other fields.
    LegacyUnsampled(String),
}

impl Incoming {
    fn classify(value: &str) -> Option<Incoming> {
        match TraceHeader::parse(value) {
            Some(header) => Some(Incoming::Header(header)),
            None => parse_legacy_unsampled(value).map(Incoming::LegacyUnsampled),
        }
    }

    fn into_context(self, cx: &Context) -> Context {
        match self {
            Incoming::Header(header) => context_with_header(cx, header),
            Incoming::LegacyUnsampled(extras) => context_for_legacy_unsampled(cx, extras),
        }
    }
}

/// The context `cx` continued by a new, not-sampled remote parent: the
/// placeholder's "do not sample" with ids a downstream service accepts.
pub(crate) fn context_for_legacy_unsampled(cx: &Context, extras: String) -> Context {
    let ids = XrayIdGenerator::default();
    context_with_header(
        cx,
        TraceHeader {
            trace_id: ids.new_trace_id(),
            parent_id: ids.new_span_id(),
            sampled: Some(false),
            extras,
        },
    )
}

/// The context `cx` continued by the remote parent in `header`.
pub(crate) fn context_with_header(cx: &Context, header: TraceHeader) -> Context {
    let flags = if header.sampled == Some(true) {
        TraceFlags::SAMPLED
    } else {
        TraceFlags::default()
    };
    let sc = SpanContext::new(
        header.trace_id,
        header.parent_id,
        flags,
        true,
        TraceState::NONE,
    );
    let deferred = header.sampled.is_none();
    if deferred || !header.extras.is_empty() {
        cx.with_value(XrayHeaderState {
            trace_id: header.trace_id,
            parent_id: header.parent_id,
            deferred,
            extras: header.extras,
        })
        .with_remote_span_context(sc)
    } else {
        cx.with_remote_span_context(sc)
    }
}

/// The header value to inject for the span in `cx`, if it is valid.
pub(crate) fn header_for(cx: &Context) -> Option<String> {
    header_for_span(cx, cx.span().span_context())
}

/// The header value to inject for a span `sc` started in `cx` (its parent's
/// context, whose X-Ray header state the span inherits), if it is valid:
/// what [`header_for`] gives for `cx` with that span in it, without
/// building that context.
pub(crate) fn header_for_span(cx: &Context, sc: &SpanContext) -> Option<String> {
    if !sc.is_valid() {
        return None;
    }
    let state = cx
        .get::<XrayHeaderState>()
        .filter(|s| s.trace_id == sc.trace_id());
    let sampled = if sc.is_sampled() {
        Some(true)
    } else if state.is_some_and(|s| s.defers(sc)) {
        None
    } else {
        Some(false)
    };
    let extras = state.map_or("", |s| s.extras.as_str());
    Some(format_header(sc.trace_id(), sc.span_id(), sampled, extras))
}

impl TextMapPropagator for XrayPropagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        if let Some(value) = header_for(cx) {
            injector.set(XRAY_HEADER, value);
        }
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        let incoming = extractor
            .get(XRAY_HEADER)
            .and_then(Incoming::classify)
            .or_else(|| self.lambda_header());
        match incoming {
            Some(incoming) => incoming.into_context(cx),
            None => cx.clone(),
        }
    }

    fn fields(&self) -> FieldIter<'_> {
        FieldIter::new(FIELDS.as_slice())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xray::is_deferred;
    use std::collections::HashMap;

    const SAMPLED: &str =
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
    const LAMBDA: &str = "Root=1-58406520-a006649127e371903a2de979;Parent=4c721bf33e3caf8f;Sampled=0;Lineage=1:a87bd80c:1";

    fn carrier(value: &str) -> HashMap<String, String> {
        HashMap::from([(XRAY_HEADER.to_string(), value.to_string())])
    }

    fn trace_id(cx: &Context) -> String {
        cx.span().span_context().trace_id().to_string()
    }

    #[test]
    fn invalid_header_returns_incoming_context() {
        let base = XrayPropagator::new().extract(&carrier(SAMPLED));
        let cx = XrayPropagator::new().extract_with_context(&base, &carrier("Root=1-bad;Parent=x"));
        assert_eq!(trace_id(&cx), "5759e988bd862e3fe1be46a994272793");
        assert!(
            !XrayPropagator::new()
                .extract(&carrier(""))
                .span()
                .span_context()
                .is_valid()
        );
    }

    #[test]
    fn lambda_falls_back_to_env_value_only_without_carrier_header() {
        let p = XrayPropagator::lambda_with_env_value(Some(LAMBDA.to_string()));
        assert!(p.is_lambda());
        let from_env = p.extract(&HashMap::new());
        assert_eq!(trace_id(&from_env), "58406520a006649127e371903a2de979");
        assert!(!from_env.span().span_context().is_sampled());
        let from_carrier = p.extract(&carrier(SAMPLED));
        assert_eq!(trace_id(&from_carrier), "5759e988bd862e3fe1be46a994272793");
        // Plain xray and a lambda propagator without a value do not fall back.
        assert!(
            !XrayPropagator::new()
                .extract(&HashMap::new())
                .has_active_span()
        );
        let none = XrayPropagator::lambda_with_env_value(None).extract(&HashMap::new());
        assert!(!none.has_active_span());
    }

    #[test]
    fn lambda_source_is_asked_each_time() {
        let p = XrayPropagator::lambda_with_env_source(|| Some(LAMBDA.to_string()));
        let cx = p.extract(&HashMap::new());
        assert_eq!(trace_id(&cx), "58406520a006649127e371903a2de979");
    }

    #[test]
    fn deferred_round_trip_writes_question_mark() {
        let header =
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Lineage=1:a87bd80c:1";
        let p = XrayPropagator::new();
        let cx = p.extract(&carrier(header));
        assert!(is_deferred(&cx));
        let mut out = HashMap::new();
        p.inject_context(&cx, &mut out);
        assert_eq!(
            out.get(XRAY_HEADER).map(String::as_str),
            Some(
                "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=?;Lineage=1:a87bd80c:1"
            )
        );
    }

    #[test]
    fn fields_name_the_header() {
        let p = XrayPropagator::new();
        let fields: Vec<&str> = p.fields().collect();
        assert_eq!(fields, [XRAY_HEADER]);
    }
}
