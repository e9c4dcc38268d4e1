//! Decoding a trace header for humans (`otel-aws header`).

use super::header::{TraceHeader, format_header};
use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::{SpanContext, TraceContextExt};
use opentelemetry_sdk::propagation::TraceContextPropagator;

/// What [`decode_trace_header`] found in a header value.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DecodedHeader {
    /// Whether the value is a valid X-Ray header or W3C `traceparent`.
    pub valid: bool,
    /// Trace id, 32 lowercase hex digits.
    pub trace_id: Option<String>,
    /// Parent span id, 16 lowercase hex digits.
    pub span_id: Option<String>,
    /// Sampling decision; `None` when deferred (or invalid).
    pub sampled: Option<bool>,
    /// The same context as `Root=1-…;Parent=…;Sampled=…`.
    pub xray: Option<String>,
    /// The same context as a W3C `traceparent` (a deferred decision is
    /// written as not sampled: W3C flags cannot say "deferred").
    pub traceparent: Option<String>,
}

/// Decodes an `X-Amzn-Trace-Id` value or a W3C `traceparent` value.
///
/// Invalid input gives `valid: false` and every other field `None`; this
/// never panics.
pub fn decode_trace_header(value: &str) -> DecodedHeader {
    if let Some(h) = TraceHeader::parse(value) {
        return decoded(h.trace_id, h.parent_id, h.sampled);
    }
    // `traceparent` is parsed by the SDK's own W3C propagator.
    let cx = TraceContextPropagator::new().extract(&OneHeader(value.trim()));
    let span = cx.span();
    let sc: &SpanContext = span.span_context();
    if sc.is_valid() {
        decoded(sc.trace_id(), sc.span_id(), Some(sc.is_sampled()))
    } else {
        DecodedHeader::default()
    }
}

fn decoded(
    trace_id: opentelemetry::trace::TraceId,
    span_id: opentelemetry::trace::SpanId,
    sampled: Option<bool>,
) -> DecodedHeader {
    let flags = if sampled == Some(true) { "01" } else { "00" };
    DecodedHeader {
        valid: true,
        trace_id: Some(trace_id.to_string()),
        span_id: Some(span_id.to_string()),
        sampled,
        xray: Some(format_header(trace_id, span_id, sampled, "")),
        traceparent: Some(format!("00-{trace_id}-{span_id}-{flags}")),
    }
}

/// A carrier holding only a `traceparent` value.
struct OneHeader<'a>(&'a str);

impl Extractor for OneHeader<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        (key == "traceparent").then_some(self.0)
    }

    fn keys(&self) -> Vec<&str> {
        vec!["traceparent"]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_xray() {
        let d = decode_trace_header(
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;Lineage=1:a:1",
        );
        assert_eq!(
            d,
            DecodedHeader {
                valid: true,
                trace_id: Some("5759e988bd862e3fe1be46a994272793".into()),
                span_id: Some("53995c3f42cd8ad8".into()),
                sampled: Some(true),
                xray: Some(
                    "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
                        .into()
                ),
                traceparent: Some("00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01".into()),
            }
        );
    }

    #[test]
    fn decodes_deferred_xray() {
        let d =
            decode_trace_header("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8");
        assert!(d.valid);
        assert_eq!(d.sampled, None);
        assert_eq!(
            d.xray.as_deref(),
            Some("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=?")
        );
    }

    #[test]
    fn decodes_traceparent() {
        // Example from the W3C Trace Context specification.
        let d = decode_trace_header(" 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 ");
        assert!(d.valid);
        assert_eq!(
            d.trace_id.as_deref(),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
        assert_eq!(d.span_id.as_deref(), Some("00f067aa0ba902b7"));
        assert_eq!(d.sampled, Some(true));
        assert_eq!(
            d.xray.as_deref(),
            Some("Root=1-4bf92f35-77b34da6a3ce929d0e0e4736;Parent=00f067aa0ba902b7;Sampled=1")
        );
    }

    #[test]
    fn invalid_is_all_none() {
        for v in [
            "",
            "nope",
            "00-00000000000000000000000000000000-0000000000000000-01",
        ] {
            assert_eq!(decode_trace_header(v), DecodedHeader::default(), "{v:?}");
        }
    }
}
