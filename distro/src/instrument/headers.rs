//! `http::HeaderMap` as an OpenTelemetry carrier, and the URL pieces both
//! sides record.
//!
//! Hand-written (opentelemetry-http has the same two adapters) because that
//! crate is not otherwise in the tree and the adapters are a few lines each.

use std::borrow::Cow;

use http::HeaderMap;
#[cfg(any(feature = "reqwest", feature = "tower"))]
use http::header::HeaderValue;
#[cfg(feature = "tower")]
use opentelemetry::propagation::Extractor;
#[cfg(feature = "reqwest")]
use opentelemetry::propagation::Injector;
use opentelemetry::{Context, global};

/// Reads propagation headers from a request: the headers of the
/// propagators this distribution configures (`traceparent`, `tracestate`,
/// `x-amzn-trace-id`, `baggage`) are found in one pass over the map
/// beforehand, so each `get` a propagator makes for them is a match on the
/// name it asks for instead of a header-name parse and hash lookup; any
/// other key (another propagator's, another spelling) goes to the map.
#[cfg(feature = "tower")]
#[derive(Default)]
pub(crate) struct HeaderExtractor<'m> {
    map: Option<&'m HeaderMap>,
    traceparent: Option<&'m HeaderValue>,
    tracestate: Option<&'m HeaderValue>,
    xray: Option<&'m HeaderValue>,
    baggage: Option<&'m HeaderValue>,
}

#[cfg(feature = "tower")]
impl<'m> HeaderExtractor<'m> {
    #[cfg(test)]
    pub(crate) fn new(map: &'m HeaderMap) -> Self {
        Self::scan(map, |_, _| {})
    }

    /// The pass over `map`: keeps the first value of each propagation
    /// header, and hands every other header to `also` (the server layer's
    /// own headers come from the same pass).
    pub(crate) fn scan(map: &'m HeaderMap, mut also: impl FnMut(&str, &'m HeaderValue)) -> Self {
        let mut this = Self {
            map: Some(map),
            ..Self::default()
        };
        for (name, value) in map {
            // Header names are lower case.
            let slot = match name.as_str() {
                "traceparent" => &mut this.traceparent,
                "tracestate" => &mut this.tracestate,
                crate::xray::XRAY_HEADER => &mut this.xray,
                "baggage" => &mut this.baggage,
                other => {
                    also(other, value);
                    continue;
                }
            };
            slot.get_or_insert(value);
        }
        this
    }
}

#[cfg(feature = "tower")]
impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        // The propagators ask for their headers as they name them, in lower
        // case: an exact match; any other key or spelling goes to the
        // (case-insensitive) map.
        let value = match key {
            "traceparent" => self.traceparent,
            "tracestate" => self.tracestate,
            crate::xray::XRAY_HEADER => self.xray,
            "baggage" => self.baggage,
            _ => self.map.and_then(|map| map.get(key)),
        };
        value.and_then(|v| v.to_str().ok())
    }
    fn keys(&self) -> Vec<&str> {
        self.map.map_or_else(Vec::new, |map| {
            map.keys().map(http::header::HeaderName::as_str).collect()
        })
    }
}

/// Writes propagation headers into a request.
#[cfg(feature = "reqwest")]
pub(crate) struct HeaderInjector<'a>(pub(crate) &'a mut HeaderMap);

#[cfg(feature = "reqwest")]
impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            http::header::HeaderName::from_bytes(key.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}

/// The context the configured (global) propagators find in `headers`; the
/// same pass over the map hands every header to `also`.
#[cfg(feature = "tower")]
pub(crate) fn extract_scanning<'m>(
    headers: &'m HeaderMap,
    mut also: impl FnMut(&str, &'m HeaderValue),
) -> Context {
    global::get_text_map_propagator(|p| p.extract(&HeaderExtractor::scan(headers, &mut also)))
}

/// Writes `cx` into `headers` with the configured (global) propagators.
#[cfg(feature = "reqwest")]
pub(crate) fn inject(cx: &Context, headers: &mut HeaderMap) {
    global::get_text_map_propagator(|p| p.inject_context(cx, &mut HeaderInjector(headers)));
}

/// `http.request.method` for `method`: the well-known methods as they are,
/// anything else `_OTHER` (the original goes to
/// `http.request.method_original`). Returns `(value, known)`.
pub(crate) fn method_value(method: &http::Method) -> (&'static str, bool) {
    let known = match *method {
        http::Method::GET => "GET",
        http::Method::POST => "POST",
        http::Method::PUT => "PUT",
        http::Method::DELETE => "DELETE",
        http::Method::HEAD => "HEAD",
        http::Method::PATCH => "PATCH",
        http::Method::OPTIONS => "OPTIONS",
        http::Method::CONNECT => "CONNECT",
        http::Method::TRACE => "TRACE",
        _ => return ("_OTHER", false),
    };
    (known, true)
}

/// `network.protocol.version` for an HTTP version.
pub(crate) fn protocol_version(version: http::Version) -> Option<&'static str> {
    match version {
        http::Version::HTTP_10 => Some("1.0"),
        http::Version::HTTP_11 => Some("1.1"),
        http::Version::HTTP_2 => Some("2"),
        http::Version::HTTP_3 => Some("3"),
        _ => None,
    }
}

/// Query parameters whose values are redacted in `url.query` / `url.full`
/// (presigned-URL credentials): the four the conventions list (SigV2's,
/// Azure's, Google's), and SigV4's query authentication (AWS presigned
/// URLs: S3 downloads and uploads are the common case), which the
/// conventions do not list: its signature, its credential scope (the
/// access key id, as SigV2's `AWSAccessKeyId`) and a session's token, a
/// secret in its own right. docs/distro.md notes the difference.
const SENSITIVE_QUERY_KEYS: [&str; 7] = [
    "AWSAccessKeyId",
    "Signature",
    "sig",
    "X-Goog-Signature",
    "X-Amz-Signature",
    "X-Amz-Credential",
    "X-Amz-Security-Token",
];

/// `query` with the values of [`SENSITIVE_QUERY_KEYS`] replaced by `REDACTED`.
pub(crate) fn redact_query(query: &str) -> Cow<'_, str> {
    let sensitive = |pair: &str| {
        let key = pair.split('=').next().unwrap_or_default();
        SENSITIVE_QUERY_KEYS.contains(&key) && pair.contains('=')
    };
    if !query.split('&').any(sensitive) {
        return Cow::Borrowed(query);
    }
    let parts: Vec<Cow<'_, str>> = query
        .split('&')
        .map(|pair| {
            if sensitive(pair) {
                let key = pair.split('=').next().unwrap_or_default();
                Cow::Owned(format!("{key}=REDACTED"))
            } else {
                Cow::Borrowed(pair)
            }
        })
        .collect();
    Cow::Owned(parts.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_redaction_follows_the_url_conventions() {
        // Examples from the semantic conventions (url.query / url.full notes).
        assert_eq!(redact_query("q=OpenTelemetry"), "q=OpenTelemetry");
        assert_eq!(
            redact_query("Signature=abc123&X-Goog-Signature=x&a=1&sig=zz&AWSAccessKeyId=AKIA"),
            "Signature=REDACTED&X-Goog-Signature=REDACTED&a=1&sig=REDACTED&AWSAccessKeyId=REDACTED"
        );
        assert_eq!(redact_query("Signatures=1"), "Signatures=1");
        // SigV4 query authentication (an S3 presigned GET, per the SigV4
        // documentation's parameter list): the secrets go, the rest stays.
        assert_eq!(
            redact_query(
                "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20261207%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20261207T000000Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host&X-Amz-Security-Token=FwoGZXIv&X-Amz-Signature=5d672d79"
            ),
            "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=REDACTED&X-Amz-Date=20261207T000000Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host&X-Amz-Security-Token=REDACTED&X-Amz-Signature=REDACTED"
        );
    }

    /// The one-pass extractor answers as `HeaderMap::get` does: the first
    /// value of a repeated header, case-insensitive keys, non-text values
    /// absent, and keys outside the propagators' headers from the map.
    #[cfg(feature = "tower")]
    #[test]
    fn extractor_answers_as_the_header_map_does() {
        use opentelemetry::propagation::TextMapPropagator as _;
        let mut map = HeaderMap::new();
        map.append("traceparent", HeaderValue::from_static("first"));
        map.append("traceparent", HeaderValue::from_static("second"));
        map.insert("x-amzn-trace-id", HeaderValue::from_static("Root=1-a-b"));
        map.insert("baggage", HeaderValue::from_bytes(b"k=\xff").unwrap());
        map.insert("x-other", HeaderValue::from_static("other"));
        let extractor = HeaderExtractor::new(&map);
        for key in [
            "traceparent",
            "TraceParent",
            "tracestate",
            "x-amzn-trace-id",
            "X-Amzn-Trace-Id",
            "baggage",
            "x-other",
            "absent",
        ] {
            let want = map.get(key).and_then(|v| v.to_str().ok());
            assert_eq!(extractor.get(key), want, "{key}");
        }
        assert_eq!(extractor.get("traceparent"), Some("first"));
        assert_eq!(extractor.get("x-other"), Some("other"));
        // The default propagators' headers take the matched slots.
        let propagator = crate::propagation::build_propagator(
            &crate::propagation::PropagatorKind::DEFAULT,
            None,
        );
        let fields: Vec<&str> = propagator.fields().collect();
        assert!(!fields.is_empty());
        for field in fields {
            assert!(
                [
                    "traceparent",
                    "tracestate",
                    crate::xray::XRAY_HEADER,
                    "baggage"
                ]
                .contains(&field),
                "{field}"
            );
        }
        let mut keys = extractor.keys();
        keys.sort_unstable();
        assert_eq!(
            keys,
            ["baggage", "traceparent", "x-amzn-trace-id", "x-other"]
        );
    }

    #[test]
    fn unknown_methods_become_other() {
        assert_eq!(method_value(&http::Method::GET), ("GET", true));
        let custom = http::Method::from_bytes(b"PURGE").map(|m| method_value(&m));
        assert_eq!(custom.ok(), Some(("_OTHER", false)));
    }
}
