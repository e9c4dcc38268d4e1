//! The W3C Trace Context propagator (`tracecontext` in `OTEL_PROPAGATORS`).
//!
//! Extraction is hand-written; injection and `fields()` are the SDK's
//! `TraceContextPropagator`'s. The SDK's extraction splits `traceparent`
//! into a `Vec` of its parts, checks each part for upper case with a
//! `chars()` pass and decodes the ids with `from_str_radix`: ≈ 2,900
//! instructions of the ≈ 11,900 the HTTP server layer adds to a request
//! (callgrind, docs/benchmarks.md "HTTP server layer"). A `traceparent` is
//! a fixed 55-byte layout, so it is read here at fixed offsets with a hex
//! table, without allocating: 968 instructions per request, the two header
//! lookups and the new `Context` included.
//!
//! It follows the Trace Context specification (Level 1, §3.2 and the W3C
//! test suite, test/test.py) where the SDK is lenient; the deliberate
//! differences, each covered by a test:
//! - ids and flags must be exactly 32, 16 and 2 lower-case hex digits
//!   (the SDK accepts shorter ids, `00-1-2-01`, and a leading `+`);
//! - the version is lower-case hex too (the SDK accepts `CC-…`);
//! - version `00` is exactly 55 characters (the SDK accepts a trailing `-`);
//! - only spaces and tabs around the value are trimmed (HTTP's OWS).
//!
//! `tracestate` is parsed as the SDK does (`TraceState::from_str`, an
//! invalid one dropped), and only when `traceparent` is valid.

use std::str::FromStr as _;

use opentelemetry::Context;
use opentelemetry::propagation::text_map_propagator::FieldIter;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{
    SpanContext, SpanId, TraceContextExt as _, TraceFlags, TraceId, TraceState,
};
use opentelemetry_sdk::propagation::TraceContextPropagator;

const TRACEPARENT: &str = "traceparent";
const TRACESTATE: &str = "tracestate";

/// W3C `traceparent`/`tracestate` (see the module docs).
#[derive(Clone, Debug, Default)]
pub(crate) struct TraceContext {
    sdk: TraceContextPropagator,
}

impl TraceContext {
    pub(crate) fn new() -> Self {
        Self::default()
    }
}

impl TextMapPropagator for TraceContext {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        self.sdk.inject_context(cx, injector);
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        let Some((trace_id, span_id, flags)) = extractor.get(TRACEPARENT).and_then(traceparent)
        else {
            return cx.clone();
        };
        let state = extractor
            .get(TRACESTATE)
            .and_then(|s| TraceState::from_str(s).ok())
            .unwrap_or_default();
        cx.with_remote_span_context(SpanContext::new(trace_id, span_id, flags, true, state))
    }

    fn fields(&self) -> FieldIter<'_> {
        self.sdk.fields()
    }
}

/// `version-traceid-parentid-flags`, the ids non-zero; only the sampled
/// flag is kept (as the SDK does). A version above `00` may carry more
/// after a `-` at offset 55; `ff` is invalid.
pub(crate) fn traceparent(value: &str) -> Option<(TraceId, SpanId, TraceFlags)> {
    let v = value.trim_matches([' ', '\t']).as_bytes();
    if v.len() < 55 || v[2] != b'-' || v[35] != b'-' || v[52] != b'-' {
        return None;
    }
    let version = hex(&v[0..2])?;
    if version == 0xff || (version == 0 && v.len() != 55) || v.get(55).is_some_and(|&b| b != b'-') {
        return None;
    }
    let trace_id = u128::from(hex(&v[3..19])?) << 64 | u128::from(hex(&v[19..35])?);
    let span_id = hex(&v[36..52])?;
    let flags = hex(&v[53..55])?;
    if trace_id == 0 || span_id == 0 {
        return None;
    }
    Some((
        TraceId::from(trace_id),
        SpanId::from(span_id),
        TraceFlags::new(flags as u8) & TraceFlags::SAMPLED,
    ))
}

/// Lower-case hex digits (at most 16) as a number: a table lookup per
/// digit, one check at the end.
fn hex(digits: &[u8]) -> Option<u64> {
    let mut acc = 0u64;
    let mut bad = 0u8;
    for &b in digits {
        let nibble = HEX[usize::from(b)];
        bad |= nibble;
        acc = acc << 4 | u64::from(nibble & 0x0f);
    }
    (bad & 0xf0 == 0).then_some(acc)
}

/// Each byte's value as a lower-case hex digit, 0xff for anything else.
static HEX: [u8; 256] = {
    let mut table = [0xff; 256];
    let mut i = 0;
    while i < 10 {
        table[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        table[b'a' as usize + i] = 10 + i as u8;
        i += 1;
    }
    table
};

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const ID: &str = "12345678901234567890123456789012";

    fn extract(p: &dyn TextMapPropagator, headers: &[(&str, &str)]) -> SpanContext {
        let map: HashMap<String, String> = headers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        p.extract_with_context(&Context::new(), &map)
            .span()
            .span_context()
            .clone()
    }

    /// The `traceparent` cases of the W3C Trace Context test suite
    /// (w3c/trace-context test/test.py): what each must give.
    #[test]
    fn w3c_test_suite_traceparent_cases() {
        let valid = [
            "00-12345678901234567890123456789012-1234567890123456-01",
            "cc-12345678901234567890123456789012-1234567890123456-01",
            "cc-12345678901234567890123456789012-1234567890123456-01-what-the-future-will-be-like",
            " 00-12345678901234567890123456789012-1234567890123456-01",
            "\t00-12345678901234567890123456789012-1234567890123456-01",
            "00-12345678901234567890123456789012-1234567890123456-01 ",
            "00-12345678901234567890123456789012-1234567890123456-01\t",
            "\t 00-12345678901234567890123456789012-1234567890123456-01 \t",
        ];
        for v in valid {
            let (trace_id, span_id, flags) = traceparent(v).unwrap_or_else(|| panic!("{v:?}"));
            assert_eq!(format!("{trace_id}"), ID, "{v:?}");
            assert_eq!(format!("{span_id}"), "1234567890123456", "{v:?}");
            assert!(flags.is_sampled(), "{v:?}");
        }
        let invalid = [
            "00-12345678901234567890123456789012-1234567890123456-01.",
            "00-12345678901234567890123456789012-1234567890123456-01-what-the-future-will-be-like",
            "cc-12345678901234567890123456789012-1234567890123456-01.what-the-future-will-be-like",
            "ff-12345678901234567890123456789012-1234567890123456-01",
            ".0-12345678901234567890123456789012-1234567890123456-01",
            "0.-12345678901234567890123456789012-1234567890123456-01",
            "000-12345678901234567890123456789012-1234567890123456-01",
            "0000-12345678901234567890123456789012-1234567890123456-01",
            "0-12345678901234567890123456789012-1234567890123456-01",
            "00-00000000000000000000000000000000-1234567890123456-01",
            "00-.2345678901234567890123456789012-1234567890123456-01",
            "00-1234567890123456789012345678901.-1234567890123456-01",
            "00-123456789012345678901234567890123-1234567890123456-01",
            "00-1234567890123456789012345678901-1234567890123456-01",
            "00-12345678901234567890123456789012-0000000000000000-01",
            "00-12345678901234567890123456789012-.234567890123456-01",
            "00-12345678901234567890123456789012-123456789012345.-01",
            "00-12345678901234567890123456789012-12345678901234567-01",
            "00-12345678901234567890123456789012-123456789012345-01",
            "00-12345678901234567890123456789012-1234567890123456-.0",
            "00-12345678901234567890123456789012-1234567890123456-0.",
            "00-12345678901234567890123456789012-1234567890123456-001",
            "00-12345678901234567890123456789012-1234567890123456-1",
            "",
        ];
        for v in invalid {
            assert_eq!(traceparent(v), None, "{v:?}");
        }
    }

    /// Flags: only the sampled bit survives (unknown bits are zeroed, as
    /// the specification asks of a receiver that does not know them).
    #[test]
    fn flags_keep_only_sampled() {
        let flag = |f: &str| {
            traceparent(&format!("00-{ID}-1234567890123456-{f}")).map(|(_, _, flags)| flags)
        };
        assert_eq!(flag("00"), Some(TraceFlags::default()));
        assert_eq!(flag("01"), Some(TraceFlags::SAMPLED));
        assert_eq!(flag("03"), Some(TraceFlags::SAMPLED));
        assert_eq!(flag("fe"), Some(TraceFlags::default()));
        assert_eq!(flag("FF"), None);
    }

    /// On every input where the specification and the SDK agree, the
    /// extracted context (ids, flags, remote, tracestate) is the SDK's; the
    /// listed differences are the specification's stricter answers.
    #[test]
    fn agrees_with_the_sdk_propagator_except_where_the_spec_is_stricter() {
        let ours = TraceContext::new();
        let sdk = TraceContextPropagator::new();
        let agree: &[&[(&str, &str)]] = &[
            &[(
                "traceparent",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            )],
            &[(
                "traceparent",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
            )],
            &[(
                "traceparent",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09",
            )],
            &[(
                "traceparent",
                "02-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-08",
            )],
            &[(
                "traceparent",
                "02-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09-XYZxsf09",
            )],
            &[
                (
                    "traceparent",
                    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                ),
                ("tracestate", "foo=bar,rojo=00f067aa0ba902b7"),
            ],
            &[
                (
                    "traceparent",
                    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                ),
                ("tracestate", "foo=1 \t , \t bar=2"),
            ],
            &[
                (
                    "traceparent",
                    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                ),
                ("tracestate", "FOO=1,bad key=2"),
            ],
            &[("tracestate", "foo=bar")],
            &[],
            &[(
                "traceparent",
                "00-ab000000000000000000000000000000-CD00000000000000-01",
            )],
            &[(
                "traceparent",
                "00-AB000000000000000000000000000000-cd00000000000000-01",
            )],
            &[(
                "traceparent",
                "00-ab000000000000000000000000000000-cd00000000000000-A1",
            )],
            &[(
                "traceparent",
                "00-00000000000000000000000000000000-0000000000000000-01",
            )],
            &[(
                "traceparent",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            )],
            &[(
                "traceparent",
                "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            )],
            &[(
                "traceparent",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",
            )],
            &[("traceparent", "zz")],
        ];
        for headers in agree {
            assert_eq!(
                extract(&ours, headers),
                extract(&sdk, headers),
                "{headers:?}"
            );
        }
        // The SDK accepts these; the specification does not.
        let stricter = [
            "00-1-2-01",
            "00-+2345678901234567890123456789012-1234567890123456-01",
            "CC-12345678901234567890123456789012-1234567890123456-01",
            "00-12345678901234567890123456789012-1234567890123456-01-",
        ];
        for v in stricter {
            let headers = [("traceparent", v)];
            assert!(extract(&sdk, &headers).is_valid(), "the SDK accepts {v:?}");
            assert!(!extract(&ours, &headers).is_valid(), "{v:?}");
        }
    }

    /// Injection is the SDK's, byte for byte; `fields()` the same two names.
    #[test]
    fn injects_and_lists_fields_as_the_sdk() {
        let sdk = TraceContextPropagator::new();
        let cx = Context::new().with_remote_span_context(SpanContext::new(
            TraceId::from(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736),
            SpanId::from(0x00f0_67aa_0ba9_02b7),
            TraceFlags::SAMPLED,
            true,
            TraceState::from_str("foo=bar").unwrap_or_default(),
        ));
        let (mut ours_out, mut sdk_out) = (HashMap::new(), HashMap::new());
        TraceContext::new().inject_context(&cx, &mut ours_out);
        sdk.inject_context(&cx, &mut sdk_out);
        assert_eq!(ours_out, sdk_out);
        assert_eq!(
            ours_out.get("traceparent").map(String::as_str),
            Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
        );
        let ours = TraceContext::new();
        let fields: Vec<&str> = ours.fields().collect();
        assert_eq!(fields, ["traceparent", "tracestate"]);
    }
}
