//! Encoding an OTLP request into an HTTP body.

use std::io::Write;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

use super::{Compression, ExportError, GzipLevel, OtlpBatch, Protocol};
use bytes::Bytes;

/// An encoded request body, ready to sign and send.
#[derive(Clone, Debug)]
pub struct EncodedBody {
    /// The bytes sent (compressed when `content_encoding` is set).
    pub bytes: Bytes,
    /// Size before compression.
    pub uncompressed_len: usize,
    /// `Content-Type` header value.
    pub content_type: &'static str,
    /// `Content-Encoding` header value, if compressed.
    pub content_encoding: Option<&'static str>,
}

/// One traces batch in its protobuf encoding: the bytes of an OTLP
/// `ExportTraceServiceRequest`, byte for byte what prost's `encode_to_vec`
/// gives for it (the same one batch type, already on the wire). The
/// in-process batch processor writes it from the spans' own encodings, so
/// an exporter that sends protobuf ([`super::BatchExporter::takes_encoded`])
/// sends it as it is, without decoding and encoding the batch again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncodedTraces {
    body: Vec<u8>,
    spans: usize,
    largest_span: usize,
}

impl EncodedTraces {
    /// `body`, the encoding of a request holding `spans` spans, none of
    /// whose `Span` messages is longer than `largest_span` bytes.
    pub fn new(body: Vec<u8>, spans: usize, largest_span: usize) -> Self {
        Self {
            body,
            spans,
            largest_span,
        }
    }

    /// The request's bytes.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The request's bytes, owned.
    pub fn into_body(self) -> Vec<u8> {
        self.body
    }

    /// Spans in the request.
    pub fn spans(&self) -> usize {
        self.spans
    }

    /// An upper bound of the encoded length of each of its spans.
    pub fn largest_span(&self) -> usize {
        self.largest_span
    }

    /// The request, decoded (by prost).
    pub fn decode(&self) -> Result<ExportTraceServiceRequest, prost::DecodeError> {
        prost::Message::decode(self.body.as_slice())
    }
}

/// `Content-Type` of a protobuf body.
const PROTOBUF: &str = "application/x-protobuf";

/// Encodes `req` (any signal's export request) as protobuf or OTLP/JSON, then compresses it (gzip at
/// [`GzipLevel::DEFAULT`]).
pub fn encode_request<M: OtlpBatch>(
    req: &M,
    protocol: Protocol,
    compression: Compression,
) -> Result<EncodedBody, ExportError> {
    encode_request_with_level(req, protocol, compression, GzipLevel::DEFAULT)
}

/// [`encode_request`] with the gzip level to use when `compression` is gzip.
/// Protobuf comes from [`OtlpBatch::encode_protobuf`] (traces: each nested
/// length computed once, [`super::encode_traces`]).
pub fn encode_request_with_level<M: OtlpBatch>(
    req: &M,
    protocol: Protocol,
    compression: Compression,
    level: GzipLevel,
) -> Result<EncodedBody, ExportError> {
    let (raw, content_type) = match protocol {
        Protocol::HttpProtobuf => (req.encode_protobuf(), PROTOBUF),
        Protocol::HttpJson => (
            serde_json::to_vec(req).map_err(|e| ExportError::Encode(e.to_string()))?,
            "application/json",
        ),
    };
    finish_body(raw, content_type, compression, level)
}

/// The body of protobuf bytes already encoded (`raw`), compressed as asked.
pub(crate) fn protobuf_body(
    raw: Vec<u8>,
    compression: Compression,
    level: GzipLevel,
) -> Result<EncodedBody, ExportError> {
    finish_body(raw, PROTOBUF, compression, level)
}

fn finish_body(
    raw: Vec<u8>,
    content_type: &'static str,
    compression: Compression,
    level: GzipLevel,
) -> Result<EncodedBody, ExportError> {
    let uncompressed_len = raw.len();
    match compression {
        Compression::None => Ok(EncodedBody {
            bytes: Bytes::from(raw),
            uncompressed_len,
            content_type,
            content_encoding: None,
        }),
        Compression::Gzip => {
            // The level trades CPU for bytes (docs/benchmarks.md, "gzip level").
            let mut gz = flate2::write::GzEncoder::new(
                Vec::with_capacity(raw.len() / 4 + 64),
                flate2::Compression::new(level.get()),
            );
            gz.write_all(&raw)?;
            let bytes = gz.finish()?;
            Ok(EncodedBody {
                bytes: Bytes::from(bytes),
                uncompressed_len,
                content_type,
                content_encoding: Some("gzip"),
            })
        }
    }
}

/// One OTLP/JSON line (no trailing newline): hex ids, camelCase names, as
/// the OTLP specification's JSON encoding. Any signal's request.
pub fn to_json_line<M: serde::Serialize>(req: &M) -> Result<String, ExportError> {
    serde_json::to_string(req).map_err(|e| ExportError::Encode(e.to_string()))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
    use prost::Message;
    use std::io::Read;

    pub(crate) fn span(name: &str, attr_len: usize) -> Span {
        Span {
            trace_id: hex::decode("5b8efff798038103d269b633813fc60c").unwrap(),
            span_id: hex::decode("eee19b7ec3c1b174").unwrap(),
            parent_span_id: hex::decode("eee19b7ec3c1b173").unwrap(),
            name: name.to_owned(),
            kind: 2,
            start_time_unix_nano: 1_544_712_660_000_000_000,
            end_time_unix_nano: 1_544_712_661_000_000_000,
            attributes: vec![KeyValue {
                key: "payload".into(),
                value: Some(AnyValue {
                    value: Some(any_value::Value::StringValue("x".repeat(attr_len))),
                }),
                ..Default::default()
            }],
            status: Some(Status {
                message: String::new(),
                code: 1,
            }),
            ..Default::default()
        }
    }

    pub(crate) fn request(groups: &[(&str, usize)], attr_len: usize) -> ExportTraceServiceRequest {
        ExportTraceServiceRequest {
            resource_spans: groups
                .iter()
                .map(|(service, n)| ResourceSpans {
                    resource: Some(Resource {
                        attributes: vec![KeyValue {
                            key: "service.name".into(),
                            value: Some(AnyValue {
                                value: Some(any_value::Value::StringValue((*service).into())),
                            }),
                            ..Default::default()
                        }],
                        ..Default::default()
                    }),
                    scope_spans: vec![ScopeSpans {
                        spans: (0..*n)
                            .map(|i| span(&format!("span-{i}"), attr_len))
                            .collect(),
                        ..Default::default()
                    }],
                    ..Default::default()
                })
                .collect(),
        }
    }

    #[test]
    fn json_uses_otlp_json_encoding() {
        let line = to_json_line(&request(&[("svc", 1)], 3)).unwrap();
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        let s = &v["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
        // OTLP/JSON: ids are lower-case hex, 64-bit integers are strings, names camelCase.
        assert_eq!(s["traceId"], "5b8efff798038103d269b633813fc60c");
        assert_eq!(s["spanId"], "eee19b7ec3c1b174");
        assert_eq!(s["parentSpanId"], "eee19b7ec3c1b173");
        assert_eq!(s["startTimeUnixNano"], "1544712660000000000");
        assert_eq!(s["kind"], 2);
        assert!(!line.contains('\n'));
    }

    #[test]
    fn json_round_trip() {
        let req = request(&[("a", 2), ("b", 1)], 10);
        let body = encode_request(&req, Protocol::HttpJson, Compression::None).unwrap();
        assert_eq!(body.content_type, "application/json");
        let back: ExportTraceServiceRequest = serde_json::from_slice(&body.bytes).unwrap();
        assert_eq!(back, req);
    }

    #[test]
    fn gzip_protobuf_round_trip() {
        let req = request(&[("a", 3)], 1000);
        let body = encode_request(&req, Protocol::HttpProtobuf, Compression::Gzip).unwrap();
        assert_eq!(body.content_encoding, Some("gzip"));
        assert_eq!(body.content_type, "application/x-protobuf");
        assert!(body.bytes.len() < body.uncompressed_len);
        let mut raw = Vec::new();
        flate2::read::GzDecoder::new(&body.bytes[..])
            .read_to_end(&mut raw)
            .unwrap();
        assert_eq!(raw.len(), body.uncompressed_len);
        assert_eq!(ExportTraceServiceRequest::decode(&raw[..]).unwrap(), req);
    }
}
