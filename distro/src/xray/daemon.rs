//! The X-Ray daemon UDP datagram codec (spec/xray.md "Daemon UDP protocol"),
//! the one every part of the project uses: the sidecar's UDP receiver, the
//! Lambda function wrapper's OTLP-over-UDP exporter and `otel-aws translate`.
//!
//! One datagram = the header `{"format":"json","version":1}` + `\n` + either
//! one segment / subsegment JSON document, or `T1S` (sampled) / `T1U`
//! (unsampled) + base64 of an OTLP `ExportTraceServiceRequest` protobuf (the
//! ADOT Lambda variant). The header's `format` is compared
//! case-insensitively; `version` must be 1.

use base64::Engine as _;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message as _;
use serde_json::Value;

/// The daemon header as the SDKs write it (without the newline).
pub const HEADER: &str = r#"{"format":"json","version":1}"#;
/// The header line every encoded datagram starts with.
pub const HEADER_LINE: &str = "{\"format\":\"json\",\"version\":1}\n";
/// Prefix of sampled OTLP spans.
pub const SAMPLED_PREFIX: &str = "T1S";
/// Prefix of unsampled OTLP spans.
pub const UNSAMPLED_PREFIX: &str = "T1U";
/// Largest datagram, header included: the spec's 64 KiB as far as one UDP
/// datagram can carry it (65,535 − 20 bytes IPv4 header − 8 bytes UDP
/// header). Receivers drop longer ones; encoders never produce them.
pub const MAX_DATAGRAM: usize = 65_507;
/// Largest OTLP protobuf body one `T1S`/`T1U` datagram holds (base64 grows
/// it by 4/3).
pub const MAX_OTLP_PROTO_BYTES: usize =
    (MAX_DATAGRAM - HEADER_LINE.len() - SAMPLED_PREFIX.len()) / 4 * 3;

/// Why a datagram does not decode.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DatagramError {
    /// No `\n` after the header.
    #[error("no header line: expected {{\"format\":\"json\",\"version\":1}} then a newline")]
    NoHeader,
    /// The header is not the daemon header.
    #[error("bad header {0:?}: expected {{\"format\":\"json\",\"version\":1}}")]
    BadHeader(String),
    /// `T1S`/`T1U` body that is not base64 OTLP protobuf.
    #[error("bad OTLP datagram: {0}")]
    BadOtlp(String),
    /// A segment document that is not text (or, for callers that translate
    /// it, does not translate).
    #[error("bad segment document: {0}")]
    BadSegment(String),
}

/// What is wrong with a parsed daemon header, naming the field.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HeaderError {
    /// `format` is missing or not `json` (any case).
    #[error("daemon header field `format` is {0}, expected \"json\"")]
    Format(String),
    /// `version` is missing or not 1.
    #[error("daemon header field `version` is {0}, expected 1")]
    Version(String),
}

/// The body of one datagram.
#[derive(Debug, PartialEq)]
pub enum Datagram<'a> {
    /// `T1S`/`T1U`: OTLP spans, and whether they were sent as sampled.
    Otlp {
        /// `T1S` (true) or `T1U` (false).
        sampled: bool,
        /// The decoded spans.
        request: ExportTraceServiceRequest,
    },
    /// A segment or subsegment document (JSON text, not yet checked).
    Segment(&'a str),
}

/// Checks a daemon header already parsed as JSON (the CLI reads headers
/// among other JSON values).
pub fn check_header_value(v: &Value) -> Result<(), HeaderError> {
    let field = |name: &str| v.get(name).unwrap_or(&Value::Null).to_string();
    let format = v.get("format").and_then(Value::as_str);
    if !format.is_some_and(|f| f.eq_ignore_ascii_case("json")) {
        return Err(HeaderError::Format(field("format")));
    }
    if v.get("version").and_then(Value::as_u64) != Some(1) {
        return Err(HeaderError::Version(field("version")));
    }
    Ok(())
}

/// Checks the header line of a datagram (without its newline).
pub fn check_header(header: &[u8]) -> Result<(), DatagramError> {
    // What the SDKs send, byte for byte: skip the JSON parse.
    if header == HEADER.as_bytes() {
        return Ok(());
    }
    let bad = || DatagramError::BadHeader(String::from_utf8_lossy(header).into_owned());
    let v: Value = serde_json::from_slice(header).map_err(|_| bad())?;
    check_header_value(&v).map_err(|_| bad())
}

/// Splits one datagram into its header (checked) and body (decoded when
/// OTLP). Surrounding whitespace of the body is ignored.
pub fn parse_datagram(data: &[u8]) -> Result<Datagram<'_>, DatagramError> {
    let nl = data
        .iter()
        .position(|b| *b == b'\n')
        .ok_or(DatagramError::NoHeader)?;
    let (header, body) = (&data[..nl], &data[nl + 1..]);
    check_header(header)?;
    let body = body.trim_ascii();
    let otlp = match body.strip_prefix(SAMPLED_PREFIX.as_bytes()) {
        Some(b64) => Some((true, b64)),
        None => body
            .strip_prefix(UNSAMPLED_PREFIX.as_bytes())
            .map(|b64| (false, b64)),
    };
    if let Some((sampled, b64)) = otlp {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64.trim_ascii())
            .map_err(|e| DatagramError::BadOtlp(format!("base64: {e}")))?;
        return ExportTraceServiceRequest::decode(bytes.as_slice())
            .map(|request| Datagram::Otlp { sampled, request })
            .map_err(|e| DatagramError::BadOtlp(format!("protobuf: {e}")));
    }
    std::str::from_utf8(body)
        .map(Datagram::Segment)
        .map_err(|e| DatagramError::BadSegment(e.to_string()))
}

/// One `T1S` (`sampled`) or `T1U` datagram carrying `request`. Callers keep
/// the request's protobuf within [`MAX_OTLP_PROTO_BYTES`] so the datagram
/// stays within [`MAX_DATAGRAM`].
pub fn encode_otlp(sampled: bool, request: &ExportTraceServiceRequest) -> Vec<u8> {
    let prefix = if sampled {
        SAMPLED_PREFIX
    } else {
        UNSAMPLED_PREFIX
    };
    let body =
        base64::engine::general_purpose::STANDARD.encode(crate::export::encode_traces(request));
    let mut out = Vec::with_capacity(HEADER_LINE.len() + prefix.len() + body.len());
    out.extend_from_slice(HEADER_LINE.as_bytes());
    out.extend_from_slice(prefix.as_bytes());
    out.extend_from_slice(body.as_bytes());
    out
}

/// One datagram carrying the segment document `doc`.
pub fn encode_segment(doc: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LINE.len() + doc.len());
    out.extend_from_slice(HEADER_LINE.as_bytes());
    out.extend_from_slice(doc.as_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
    use serde_json::json;

    fn request(n: usize) -> ExportTraceServiceRequest {
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: (0..n)
                        .map(|i| Span {
                            trace_id: vec![1; 16],
                            span_id: vec![i as u8 + 1; 8],
                            name: format!("s{i}"),
                            ..Span::default()
                        })
                        .collect(),
                    ..ScopeSpans::default()
                }],
                ..ResourceSpans::default()
            }],
        }
    }

    fn b64(bytes: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    #[derive(Debug, PartialEq)]
    enum Want {
        Segment(&'static str),
        Otlp(bool, usize),
        Err(&'static str),
    }

    #[test]
    fn parse_table() {
        let doc = r#"{"name":"a","id":"70de5b6f19ff9a0a"}"#;
        let otlp3 = b64(&request(3).encode_to_vec());
        let cases: Vec<(String, Want)> = vec![
            (format!("{HEADER_LINE}{doc}"), Want::Segment(doc)),
            (format!("{HEADER_LINE} {doc}\n"), Want::Segment(doc)),
            (
                format!("{{\"format\":\"JSON\",\"version\":1}}\n{doc}"),
                Want::Segment(doc),
            ),
            (
                format!("{{ \"version\": 1, \"format\": \"Json\" }}\n{doc}"),
                Want::Segment(doc),
            ),
            (format!("{HEADER_LINE}T1S{otlp3}"), Want::Otlp(true, 3)),
            (format!("{HEADER_LINE}T1U{otlp3}\n"), Want::Otlp(false, 3)),
            (doc.to_owned(), Want::Err("no header")),
            (
                format!("{{\"format\":\"json\",\"version\":2}}\n{doc}"),
                Want::Err("bad header"),
            ),
            (
                format!("{{\"format\":\"xml\",\"version\":1}}\n{doc}"),
                Want::Err("bad header"),
            ),
            (
                format!("{{\"format\":\"json\"}}\n{doc}"),
                Want::Err("bad header"),
            ),
            (format!("not json\n{doc}"), Want::Err("bad header")),
            (format!("{HEADER_LINE}T1S!!!notbase64"), Want::Err("base64")),
            (
                format!("{HEADER_LINE}T1S{}", b64(b"\xff\xff\xff")),
                Want::Err("protobuf"),
            ),
        ];
        for (datagram, want) in cases {
            match (parse_datagram(datagram.as_bytes()), want) {
                (Ok(Datagram::Segment(got)), Want::Segment(doc)) => assert_eq!(got, doc),
                (Ok(Datagram::Otlp { sampled, request }), Want::Otlp(s, n)) => {
                    let spans = request.resource_spans[0].scope_spans[0].spans.len();
                    assert_eq!((sampled, spans), (s, n), "{datagram}");
                }
                (Err(e), Want::Err(word)) => {
                    assert!(e.to_string().contains(word), "{datagram}: {e}");
                }
                (got, want) => panic!("{datagram}: got {got:?}, want {want:?}"),
            }
        }
        let bad_utf8 = [HEADER_LINE.as_bytes(), b"\xff\xfe"].concat();
        assert!(matches!(
            parse_datagram(&bad_utf8),
            Err(DatagramError::BadSegment(_))
        ));
    }

    #[test]
    fn encoding_round_trips() {
        for sampled in [true, false] {
            let datagram = encode_otlp(sampled, &request(2));
            assert!(datagram.starts_with(HEADER_LINE.as_bytes()));
            assert_eq!(
                parse_datagram(&datagram),
                Ok(Datagram::Otlp {
                    sampled,
                    request: request(2)
                })
            );
        }
        let doc = r#"{"name":"a"}"#;
        assert_eq!(
            parse_datagram(&encode_segment(doc)),
            Ok(Datagram::Segment(doc))
        );
    }

    #[test]
    fn the_largest_otlp_body_fits_one_datagram() {
        let encoded = b64(&vec![0u8; MAX_OTLP_PROTO_BYTES]).len();
        assert!(HEADER_LINE.len() + SAMPLED_PREFIX.len() + encoded <= MAX_DATAGRAM);
        let over = b64(&vec![0u8; MAX_OTLP_PROTO_BYTES + 3]).len();
        assert!(HEADER_LINE.len() + SAMPLED_PREFIX.len() + over > MAX_DATAGRAM);
    }

    #[test]
    fn header_values_name_the_field_at_fault() {
        assert_eq!(
            check_header_value(&json!({"format": "JSON", "version": 1})),
            Ok(())
        );
        assert!(matches!(
            check_header_value(&json!({"format": "json", "version": 2})),
            Err(HeaderError::Version(_))
        ));
        let e = check_header_value(&json!({"format": "xml", "version": 1})).unwrap_err();
        assert!(e.to_string().contains("`format` is \"xml\""), "{e}");
        let e = check_header_value(&json!({"version": 1})).unwrap_err();
        assert!(e.to_string().contains("`format` is null"), "{e}");
    }
}
