//! Which propagators run (`OTEL_PROPAGATORS`) and carrier helpers for
//! custom transports (message headers, queue attributes).
//!
//! ```
//! use std::collections::HashMap;
//! use opentelemetry::Context;
//! use otel_aws_distro::propagation::{PropagatorKind, build_propagator, extract_from_map, inject_into_map};
//!
//! let kinds = PropagatorKind::parse_list(None).unwrap(); // xray,tracecontext,baggage
//! let propagator = build_propagator(&kinds, None);
//! let mut headers = HashMap::new();
//! inject_into_map(&Context::current(), &propagator, &mut headers);
//! let _cx = extract_from_map(&propagator, &headers);
//! ```

mod w3c;

use crate::xray::XrayPropagator;
use opentelemetry::Context;
use opentelemetry::global;
use opentelemetry::propagation::{Extractor, TextMapCompositePropagator, TextMapPropagator};
use opentelemetry_sdk::propagation::BaggagePropagator;
use std::collections::HashMap;

/// Comma-separated list of propagators (OpenTelemetry standard variable).
/// Default `xray,tracecontext,baggage`.
pub const OTEL_PROPAGATORS: &str = "OTEL_PROPAGATORS";

/// Values of `OTEL_PROPAGATORS` this version accepts.
pub const ACCEPTED_PROPAGATORS: &str = "xray, xray-lambda, tracecontext, baggage, none";

/// One entry of `OTEL_PROPAGATORS`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PropagatorKind {
    /// `xray`: the `X-Amzn-Trace-Id` header.
    Xray,
    /// `xray-lambda`: `xray`, falling back to Lambda's `_X_AMZN_TRACE_ID`.
    XrayLambda,
    /// `tracecontext`: W3C `traceparent`/`tracestate`.
    TraceContext,
    /// `baggage`: W3C `baggage`.
    Baggage,
    /// `none`: no propagation.
    None,
}

/// Why `OTEL_PROPAGATORS` was rejected.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PropagatorConfigError {
    /// An entry is not a propagator we know.
    #[error(
        "{OTEL_PROPAGATORS} contains unknown propagator {value:?}; use a comma-separated list of: {ACCEPTED_PROPAGATORS}"
    )]
    Unknown {
        /// The entry found.
        value: String,
    },
    /// `none` was combined with other propagators.
    #[error(
        "{OTEL_PROPAGATORS}={list:?}: `none` disables propagation and cannot be combined with other propagators; use `none` alone or a list of: {ACCEPTED_PROPAGATORS}"
    )]
    NoneCombined {
        /// The whole value.
        list: String,
    },
}

impl PropagatorKind {
    /// The default list: `xray,tracecontext,baggage`.
    pub const DEFAULT: [PropagatorKind; 3] = [
        PropagatorKind::Xray,
        PropagatorKind::TraceContext,
        PropagatorKind::Baggage,
    ];

    /// The variable's spelling of this propagator.
    pub fn name(self) -> &'static str {
        match self {
            PropagatorKind::Xray => "xray",
            PropagatorKind::XrayLambda => "xray-lambda",
            PropagatorKind::TraceContext => "tracecontext",
            PropagatorKind::Baggage => "baggage",
            PropagatorKind::None => "none",
        }
    }

    /// Parses the value of `OTEL_PROPAGATORS`: comma separated, entries
    /// trimmed and case-insensitive, empty entries and repeats ignored.
    /// Unset or blank gives the default `xray,tracecontext,baggage`;
    /// `none` alone gives `[None]` (propagation disabled).
    pub fn parse_list(value: Option<&str>) -> Result<Vec<PropagatorKind>, PropagatorConfigError> {
        let Some(value) = value.filter(|v| !v.trim().is_empty()) else {
            return Ok(Self::DEFAULT.to_vec());
        };
        let mut kinds = Vec::new();
        for entry in value.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let kind = match entry.to_ascii_lowercase().as_str() {
                "xray" => PropagatorKind::Xray,
                "xray-lambda" => PropagatorKind::XrayLambda,
                "tracecontext" => PropagatorKind::TraceContext,
                "baggage" => PropagatorKind::Baggage,
                "none" => PropagatorKind::None,
                _ => {
                    return Err(PropagatorConfigError::Unknown {
                        value: entry.to_string(),
                    });
                }
            };
            if !kinds.contains(&kind) {
                kinds.push(kind);
            }
        }
        if kinds.contains(&PropagatorKind::None) && kinds.len() > 1 {
            return Err(PropagatorConfigError::NoneCombined {
                list: value.to_string(),
            });
        }
        if kinds.is_empty() {
            return Ok(Self::DEFAULT.to_vec());
        }
        Ok(kinds)
    }
}

/// Builds the composite propagator for `kinds`, in order (on extract a
/// later propagator's valid context replaces an earlier one's).
/// `lambda_trace_env` is the `_X_AMZN_TRACE_ID` value `xray-lambda` falls
/// back to. An empty list or `[None]` gives a propagator that does nothing.
pub fn build_propagator(
    kinds: &[PropagatorKind],
    lambda_trace_env: Option<String>,
) -> TextMapCompositePropagator {
    let mut propagators: Vec<Box<dyn TextMapPropagator + Send + Sync>> = Vec::new();
    for kind in kinds {
        match kind {
            PropagatorKind::Xray => propagators.push(Box::new(XrayPropagator::new())),
            PropagatorKind::XrayLambda => propagators.push(Box::new(
                XrayPropagator::lambda_with_env_value(lambda_trace_env.clone()),
            )),
            PropagatorKind::TraceContext => propagators.push(Box::new(w3c::TraceContext::new())),
            PropagatorKind::Baggage => propagators.push(Box::new(BaggagePropagator::new())),
            PropagatorKind::None => {}
        }
    }
    TextMapCompositePropagator::new(propagators)
}

/// Injects `cx` into a string map (message headers, queue attributes).
/// Keys are written in lower case (`x-amzn-trace-id`, `traceparent`, …).
pub fn inject_into_map(
    cx: &Context,
    propagator: &dyn TextMapPropagator,
    map: &mut HashMap<String, String>,
) {
    propagator.inject_context(cx, map);
}

/// Extracts a context from a string map, on top of the current context.
/// Keys match case-insensitively (`X-Amzn-Trace-Id` is found too).
pub fn extract_from_map(
    propagator: &dyn TextMapPropagator,
    map: &HashMap<String, String>,
) -> Context {
    propagator.extract(&MapExtractor(map))
}

/// [`inject_into_map`] with the global propagator
/// (`opentelemetry::global::set_text_map_propagator`).
pub fn inject_into_map_global(cx: &Context, map: &mut HashMap<String, String>) {
    global::get_text_map_propagator(|p| inject_into_map(cx, p, map));
}

/// [`extract_from_map`] with the global propagator.
pub fn extract_from_map_global(map: &HashMap<String, String>) -> Context {
    global::get_text_map_propagator(|p| extract_from_map(p, map))
}

/// Case-insensitive view of a string map. (The `HashMap` extractor that
/// ships with `opentelemetry` only finds lower-case keys, but message
/// headers keep whatever case the producer used.)
struct MapExtractor<'a>(&'a HashMap<String, String>);

impl Extractor for MapExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        if let Some(v) = self.0.get(key) {
            return Some(v);
        }
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use PropagatorKind::*;

    #[test]
    fn parse_list_table() {
        let ok: &[(Option<&str>, &[PropagatorKind])] = &[
            (Option::None, &[Xray, TraceContext, Baggage]),
            (Some(""), &[Xray, TraceContext, Baggage]),
            (Some("  "), &[Xray, TraceContext, Baggage]),
            (Some("xray"), &[Xray]),
            (Some(" XRay , TraceContext "), &[Xray, TraceContext]),
            (
                Some("tracecontext,baggage,xray"),
                &[TraceContext, Baggage, Xray],
            ),
            (
                Some("xray-lambda,tracecontext"),
                &[XrayLambda, TraceContext],
            ),
            (Some("xray,,baggage,"), &[Xray, Baggage]),
            (Some("xray,xray"), &[Xray]),
            (Some("none"), &[None]),
            (Some(" NONE "), &[None]),
        ];
        for (input, expected) in ok {
            assert_eq!(
                PropagatorKind::parse_list(*input).as_deref(),
                Ok(*expected),
                "{input:?}"
            );
        }
        let bad = [
            ("b3", "unknown propagator \"b3\""),
            ("xray,jaeger", "unknown propagator \"jaeger\""),
            ("xray;tracecontext", "unknown propagator"),
            ("none,xray", "cannot be combined"),
        ];
        for (input, needle) in bad {
            let err = PropagatorKind::parse_list(Some(input))
                .unwrap_err()
                .to_string();
            assert!(err.contains(needle), "{input}: {err}");
            assert!(err.contains(OTEL_PROPAGATORS), "{err}");
            assert!(
                err.contains("xray-lambda, tracecontext, baggage, none"),
                "{err}"
            );
        }
    }

    #[test]
    fn none_builds_a_silent_propagator() {
        let p = build_propagator(&[None], Option::None);
        assert_eq!(p.fields().count(), 0);
        let mut map = HashMap::new();
        inject_into_map(&Context::new(), &p, &mut map);
        assert!(map.is_empty());
    }

    #[test]
    fn default_fields() {
        let p = build_propagator(&PropagatorKind::DEFAULT, Option::None);
        let mut fields: Vec<&str> = p.fields().collect();
        fields.sort_unstable();
        assert_eq!(
            fields,
            ["baggage", "traceparent", "tracestate", "x-amzn-trace-id"]
        );
    }
}
