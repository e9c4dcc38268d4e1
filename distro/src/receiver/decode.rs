//! Body → the signal's export request ([`ExportTraceServiceRequest`],
//! [`ExportMetricsServiceRequest`], [`ExportLogsServiceRequest`]), once: gzip with a decompressed-size
//! limit, protobuf straight from the received `Bytes` (traces with
//! [`decode_traces`](super::proto_traces::decode_traces), metrics and logs with prost), OTLP/JSON
//! with opentelemetry-proto's serde (plus a lenient fallback), then id
//! validation that removes unusable spans and reports them.

use std::io::Read;

use bytes::Bytes;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

use super::json_compat;
use super::proto_traces::DecodeOptions;
use super::signal::{Logs, Metrics, OtlpSignal, Traces};
use super::sink::Encoding;

/// Why a body could not be decoded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    /// Not valid protobuf / OTLP/JSON / gzip (HTTP 400, gRPC INVALID_ARGUMENT).
    #[error("{0}")]
    Malformed(String),
    /// Larger than the limit, compressed or once decompressed (HTTP 413).
    #[error("request body exceeds the {limit}-byte limit{}", if *.decompressed { " once decompressed" } else { "" })]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
        /// The limit was hit while decompressing (a gzip bomb, or just a large batch).
        decompressed: bool,
    },
}

/// Decompresses a gzip body (one or more members), refusing to produce more than `limit` bytes.
pub fn gunzip(body: &[u8], limit: usize) -> Result<Bytes, DecodeError> {
    // Initial guess of a 4x ratio, capped by the limit; Vec grows if needed.
    let mut out = Vec::with_capacity(body.len().saturating_mul(4).min(limit));
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    flate2::read::MultiGzDecoder::new(body)
        .take(cap)
        .read_to_end(&mut out)
        .map_err(|e| DecodeError::Malformed(format!("invalid gzip body: {e}")))?;
    if out.len() > limit {
        return Err(DecodeError::TooLarge {
            limit,
            decompressed: true,
        });
    }
    Ok(Bytes::from(out))
}

/// Decodes a binary protobuf `ExportTraceServiceRequest`.
pub fn decode_protobuf(body: Bytes) -> Result<ExportTraceServiceRequest, DecodeError> {
    decode_protobuf_of::<Traces>(&body, DecodeOptions::default())
}

/// Decodes an OTLP/JSON `ExportTraceServiceRequest` (hex ids, lowerCamelCase,
/// integer enums; also enum names, snake_case names and base64 ids).
pub fn decode_json(body: &[u8]) -> Result<ExportTraceServiceRequest, DecodeError> {
    decode_json_of::<Traces>(body)
}

/// Decodes a body in the given encoding (already decompressed).
pub fn decode(body: Bytes, encoding: Encoding) -> Result<ExportTraceServiceRequest, DecodeError> {
    decode_of::<Traces>(body, encoding, DecodeOptions::default())
}

/// Decodes an `ExportMetricsServiceRequest` in the given encoding.
pub fn decode_metrics(
    body: Bytes,
    encoding: Encoding,
) -> Result<ExportMetricsServiceRequest, DecodeError> {
    decode_of::<Metrics>(body, encoding, DecodeOptions::default())
}

/// Decodes an `ExportLogsServiceRequest` in the given encoding.
pub fn decode_logs(
    body: Bytes,
    encoding: Encoding,
) -> Result<ExportLogsServiceRequest, DecodeError> {
    decode_of::<Logs>(body, encoding, DecodeOptions::default())
}

pub(crate) fn decode_protobuf_of<S: OtlpSignal>(
    body: &[u8],
    options: DecodeOptions,
) -> Result<S::Request, DecodeError> {
    S::decode_protobuf(body, options)
        .map_err(|e| DecodeError::Malformed(format!("invalid protobuf {}: {e}", S::REQUEST_NAME)))
}

pub(crate) fn decode_json_of<S: OtlpSignal>(body: &[u8]) -> Result<S::Request, DecodeError> {
    match serde_json::from_slice::<S::Request>(body) {
        // Unknown fields are ignored, so snake_case names parse "successfully" into
        // empty requests or items without ids/times: retry those leniently.
        Ok(req) if S::looks_misnamed(&req) => {
            Ok(json_compat::decode_lenient::<S::Request>(body).unwrap_or(req))
        }
        Ok(req) => Ok(req),
        Err(strict) => json_compat::decode_lenient::<S::Request>(body).ok_or_else(|| {
            DecodeError::Malformed(format!("invalid OTLP/JSON {}: {strict}", S::REQUEST_NAME))
        }),
    }
}

/// Decodes a body of signal `S` in the given encoding (already decompressed).
pub(crate) fn decode_of<S: OtlpSignal>(
    body: Bytes,
    encoding: Encoding,
    options: DecodeOptions,
) -> Result<S::Request, DecodeError> {
    match encoding {
        Encoding::Protobuf => decode_protobuf_of::<S>(&body, options),
        Encoding::Json => decode_json_of::<S>(&body),
    }
}

/// Result of [`validate`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Validation {
    /// Items kept (spans, data points or log records).
    pub items: u64,
    /// Items removed (unusable ids, malformed points).
    pub rejected: u64,
    /// Why the first one was removed (empty when none were).
    pub message: String,
}

/// Removes spans whose ids cannot be exported (trace id not 16 bytes or all
/// zero, span id not 8 bytes or all zero, parent span id neither empty nor 8
/// bytes) and counts what is left. Such spans are refused individually
/// (OTLP `partial_success`) instead of failing the whole request.
pub fn validate(batch: &mut ExportTraceServiceRequest) -> Validation {
    let mut v = Validation::default();
    for rs in &mut batch.resource_spans {
        for ss in &mut rs.scope_spans {
            let before = ss.spans.len();
            ss.spans.retain(
                |s| match id_problem(&s.trace_id, &s.span_id, &s.parent_span_id) {
                    None => true,
                    Some(problem) => {
                        if v.message.is_empty() {
                            v.message = format!("span {:?} dropped: {problem}", s.name);
                        }
                        false
                    }
                },
            );
            let kept = ss.spans.len();
            v.items += kept as u64;
            v.rejected += (before - kept) as u64;
        }
    }
    if v.rejected > 1 {
        v.message = format!(
            "{} spans with invalid ids dropped; first: {}",
            v.rejected, v.message
        );
    }
    v
}

fn id_problem(trace_id: &[u8], span_id: &[u8], parent: &[u8]) -> Option<String> {
    if trace_id.len() != 16 {
        return Some(format!(
            "trace id has {} bytes, expected 16",
            trace_id.len()
        ));
    }
    if trace_id.iter().all(|&b| b == 0) {
        return Some("trace id is all zeros".to_owned());
    }
    if span_id.len() != 8 {
        return Some(format!("span id has {} bytes, expected 8", span_id.len()));
    }
    if span_id.iter().all(|&b| b == 0) {
        return Some("span id is all zeros".to_owned());
    }
    if !parent.is_empty() && parent.len() != 8 {
        return Some(format!(
            "parent span id has {} bytes, expected 0 or 8",
            parent.len()
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

    fn span(trace_id: Vec<u8>, span_id: Vec<u8>, parent: Vec<u8>) -> Span {
        Span {
            trace_id,
            span_id,
            parent_span_id: parent,
            name: "s".into(),
            ..Default::default()
        }
    }

    #[test]
    fn validate_table() {
        let ok = || (vec![1u8; 16], vec![2u8; 8]);
        let cases: Vec<(Span, bool)> = vec![
            (span(ok().0, ok().1, vec![]), true),
            (span(ok().0, ok().1, vec![3; 8]), true),
            (span(vec![1; 15], ok().1, vec![]), false),
            (span(vec![0; 16], ok().1, vec![]), false),
            (span(ok().0, vec![2; 9], vec![]), false),
            (span(ok().0, vec![0; 8], vec![]), false),
            (span(ok().0, ok().1, vec![3; 4]), false),
            (span(vec![], vec![], vec![]), false),
        ];
        for (s, keep) in cases {
            let mut req = ExportTraceServiceRequest {
                resource_spans: vec![ResourceSpans {
                    scope_spans: vec![ScopeSpans {
                        spans: vec![s.clone()],
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
            };
            let v = validate(&mut req);
            assert_eq!(
                (v.items, v.rejected),
                (u64::from(keep), u64::from(!keep)),
                "{s:?}"
            );
            assert_eq!(v.message.is_empty(), keep);
        }
    }

    #[test]
    fn gzip_limit_and_garbage() {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(&[0u8; 10_000]).unwrap();
        let gz = enc.finish().unwrap();
        assert_eq!(gunzip(&gz, 10_000).unwrap().len(), 10_000);
        assert_eq!(
            gunzip(&gz, 9_999),
            Err(DecodeError::TooLarge {
                limit: 9_999,
                decompressed: true
            })
        );
        assert!(matches!(
            gunzip(b"not gzip", 100),
            Err(DecodeError::Malformed(_))
        ));
        // Truncated stream.
        assert!(matches!(
            gunzip(&gz[..gz.len() - 4], 100_000),
            Err(DecodeError::Malformed(_))
        ));
    }
}
