//! OTLP span → X-Ray segment or subsegment document.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use std::borrow::Cow;

use opentelemetry_proto::tonic::trace::v1::Span;

use super::attrs::nanos_to_secs;
use super::aws::{ResourceInfo, resource_info};
use super::document::{Cause, CauseData, Exception, Segment};
use super::index::{Key, SpanAttrs};
use super::{ROUNDTRIP_NAMESPACE, TranslateError, TranslateOptions};
use super::{annotations, aws, cause, http, names, size, sql};

pub(crate) mod out;
#[cfg(test)]
mod tests;

use out::{Ascii, AwsOut, Doc, Roundtrip};

/// Lower-case hex of `bytes` into `out` (twice as long).
fn hex_into(bytes: &[u8], out: &mut [u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for (b, pair) in bytes.iter().zip(out.chunks_exact_mut(2)) {
        pair[0] = DIGITS[usize::from(b >> 4)];
        pair[1] = DIGITS[usize::from(b & 0xf)];
    }
}

/// `1-<8 hex>-<24 hex>` from 16 trace-id bytes.
fn xray_trace_id(bytes: &[u8]) -> Option<Ascii<35>> {
    if bytes.len() != 16 || bytes.iter().all(|b| *b == 0) {
        return None;
    }
    let mut out = [b'-'; 35];
    out[0] = b'1';
    hex_into(&bytes[..4], &mut out[2..10]);
    hex_into(&bytes[4..], &mut out[11..]);
    Some(Ascii(out))
}

fn span_id(bytes: &[u8]) -> Option<(Ascii<16>, u64)> {
    let arr: [u8; 8] = bytes.try_into().ok()?;
    let n = u64::from_be_bytes(arr);
    let mut out = [0u8; 16];
    hex_into(&arr, &mut out);
    (n != 0).then_some((Ascii(out), n))
}

/// The kind [`super::from_segment`] infers from a document's shape.
pub(crate) fn implied_kind(subsegment: bool, namespace: Option<&str>) -> SpanKind {
    match (subsegment, namespace) {
        (false, _) => SpanKind::Server,
        // `local`: work in the process itself (the collector's reading).
        (true, Some(ns)) if ns.eq_ignore_ascii_case("local") => SpanKind::Internal,
        (true, Some(_)) => SpanKind::Client,
        (true, None) => SpanKind::Internal,
    }
}

/// The span kind from its OTLP number (unknown values as UNSPECIFIED).
fn kind_of(span: &Span) -> SpanKind {
    SpanKind::try_from(span.kind).unwrap_or(SpanKind::Unspecified)
}

/// One span → one document (typed). `resource` comes from
/// [`resource_info`] of the span's resource.
pub fn span_to_segment(
    span: &Span,
    resource: &ResourceInfo,
    opts: &TranslateOptions,
) -> Result<Segment, TranslateError> {
    doc_of(span, resource, opts).map(Doc::into_owned)
}

/// One span → its document, borrowing from the span and the resource.
fn doc_of<'a>(
    span: &'a Span,
    resource: &'a ResourceInfo,
    opts: &TranslateOptions,
) -> Result<Doc<'a>, TranslateError> {
    let (id, id_num) = span_id(&span.span_id).ok_or_else(|| TranslateError::InvalidSpan {
        span_id: hex::encode(&span.span_id),
        reason: "span id is not 8 non-zero bytes",
    })?;
    let trace_id = xray_trace_id(&span.trace_id).ok_or_else(|| TranslateError::InvalidSpan {
        span_id: id.as_str().to_owned(),
        reason: "trace id is not 16 bytes, or is all zero",
    })?;
    let parent_id = span_id(&span.parent_span_id).map(|(hex, _)| hex);
    let kind = kind_of(span);
    let attrs = SpanAttrs::new(&span.attributes);
    // Spec: "A span becomes a subsegment when its kind is not SERVER and it
    // has a parent; otherwise a segment."
    let subsegment = kind != SpanKind::Server && parent_id.is_some();

    let raw = names::raw_name(&span.name, kind, &attrs, resource.service_name.as_deref());
    let name = if names::is_clean_name(&raw) {
        raw
    } else {
        Cow::Owned(names::sanitize_name(&raw))
    };
    let namespace = if !subsegment {
        None
    } else if attrs.is_aws_call() {
        Some("aws")
    } else if kind == SpanKind::Client {
        Some("remote")
    } else {
        None
    };

    let http = http::from_attributes(&attrs);
    let sql = if subsegment {
        sql::from_attributes(&attrs)
    } else {
        None
    };
    let user = if subsegment {
        None
    } else {
        attrs.str_of(&[Key::EnduserId])
    };
    let mut aws = match (subsegment, &resource.aws) {
        (false, Some(r)) => AwsOut::resource(r),
        _ => AwsOut::default(),
    };
    aws::call_fields(&attrs, &mut aws);

    let (http_used, sql_used, user_used) = (http.is_some(), sql.is_some(), user.is_some());
    let resource_attributes: &[_] = if subsegment {
        &[]
    } else {
        &resource.attributes
    };
    let (annotations, mut metadata) = annotations::split(
        &attrs,
        resource_attributes,
        &opts.indexed,
        |key| {
            (http_used && http::consumes(key))
                || (sql_used && sql::consumes(key))
                || aws::consumes(key)
                || (user_used && key == Key::EnduserId)
        },
        ROUNDTRIP_NAMESPACE,
    );

    let (status_code, status_message) = span
        .status
        .as_ref()
        .map_or((StatusCode::Unset as i32, ""), |s| {
            (s.code, s.message.as_str())
        });
    let status_error = status_code == StatusCode::Error as i32;
    let http_status = http
        .as_ref()
        .and_then(|h| h.response.as_ref())
        .and_then(|r| r.status);
    let (error, fault, throttle) = http::flags(http_status, status_error);

    let mut exceptions = cause::exceptions(
        &span.events,
        id_num,
        matches!(kind, SpanKind::Client | SpanKind::Producer),
        resource.stack_language,
    );
    let mut roundtrip = Roundtrip::default();
    if name != span.name {
        roundtrip.span_name = Some(&span.name);
    }
    if kind != implied_kind(subsegment, namespace) {
        roundtrip.span_kind = Some(kind.as_str_name());
    }
    // A cause reads back as ERROR (collector receiver), so an exception on
    // a span not marked failed needs its status carried.
    let implied_error = error || fault || throttle || !exceptions.is_empty();
    if status_error != implied_error || status_code == StatusCode::Ok as i32 {
        roundtrip.status_code = Some(status_code_name(status_code));
    }
    if !status_message.is_empty() {
        if status_error && exceptions.is_empty() {
            // The console shows a typeless exception as the error message.
            exceptions.push(Exception {
                id: cause::exception_id(id_num, 0),
                message: Some(status_message.to_owned()),
                ..Exception::default()
            });
        } else {
            roundtrip.status_message = Some(status_message);
        }
    }
    metadata.roundtrip = roundtrip;

    let end = (span.end_time_unix_nano != 0).then(|| nanos_to_secs(span.end_time_unix_nano));
    Ok(Doc {
        name,
        id,
        trace_id,
        parent_id,
        kind: subsegment.then_some("subsegment"),
        start_time: nanos_to_secs(span.start_time_unix_nano),
        end_time: end,
        in_progress: end.is_none(),
        fault,
        error,
        throttle,
        namespace,
        origin: if subsegment {
            None
        } else {
            resource.origin.as_deref()
        },
        user,
        resource_arn: if subsegment {
            None
        } else {
            resource.resource_arn.as_deref()
        },
        service: if subsegment {
            None
        } else {
            resource.service.as_ref()
        },
        http,
        aws: (!aws.is_empty()).then_some(aws),
        sql,
        annotations,
        metadata,
        cause: (!exceptions.is_empty()).then(|| {
            Cause::Exceptions(CauseData {
                exceptions,
                ..CauseData::default()
            })
        }),
    })
}

fn status_code_name(code: i32) -> &'static str {
    StatusCode::try_from(code)
        .unwrap_or(StatusCode::Unset)
        .as_str_name()
}

/// Every span of `req` with its resource's info, in order (the resource
/// looked up once per resource group).
fn for_each_span<'a>(
    req: &'a ExportTraceServiceRequest,
    mut f: impl FnMut(&'a Span, &ResourceInfo),
) {
    for rs in &req.resource_spans {
        let info = resource_info(
            rs.resource
                .as_ref()
                .map(|r| r.attributes.as_slice())
                .unwrap_or_default(),
        );
        for span in rs.scope_spans.iter().flat_map(|ss| ss.spans.iter()) {
            f(span, &info);
        }
    }
}

fn span_count(req: &ExportTraceServiceRequest) -> usize {
    req.resource_spans
        .iter()
        .flat_map(|rs| &rs.scope_spans)
        .map(|ss| ss.spans.len())
        .sum()
}

/// Every span of `req` → a typed document (one result per span, in order).
pub fn to_segment_documents(
    req: &ExportTraceServiceRequest,
    opts: &TranslateOptions,
) -> Vec<Result<Segment, TranslateError>> {
    let mut out = Vec::with_capacity(span_count(req));
    for_each_span(req, |span, info| {
        out.push(span_to_segment(span, info, opts));
    });
    out
}

/// Every span of `req` → a JSON document of at most
/// `opts.max_document_bytes` (one result per span, in order): what
/// PutTraceSegments and the X-Ray daemon take.
pub fn to_segments(
    req: &ExportTraceServiceRequest,
    opts: &TranslateOptions,
) -> Vec<Result<String, TranslateError>> {
    let mut out = Vec::with_capacity(span_count(req));
    // One serialisation buffer for the batch; each document is copied out
    // at its exact size.
    let mut buf = Vec::with_capacity(1024);
    for_each_span(req, |span, info| {
        out.push(doc_of(span, info, opts).and_then(|doc| encode(doc, &mut buf, opts)));
    });
    out
}

/// Serialises a document; one over the size limit is made owned and
/// trimmed ([`size::encode_within`], which gives the same bytes when
/// nothing needs trimming).
fn encode(
    doc: Doc<'_>,
    buf: &mut Vec<u8>,
    opts: &TranslateOptions,
) -> Result<String, TranslateError> {
    buf.clear();
    serde_json::to_writer(&mut *buf, &doc).map_err(|e| TranslateError::Encode(e.to_string()))?;
    if buf.len() <= opts.max_document_bytes {
        return String::from_utf8(buf.clone()).map_err(|e| TranslateError::Encode(e.to_string()));
    }
    size::encode_within(
        &mut doc.into_owned(),
        opts.max_document_bytes,
        ROUNDTRIP_NAMESPACE,
    )
}
