//! OTLP span → X-Ray segment or subsegment document.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::{Span, Status};
use serde_json::{Map, Value};

use super::attrs::{nanos_to_secs, str_of};
use super::aws::{ResourceInfo, call_fields, resource_info};
use super::document::{Aws, Cause, CauseData, Exception, Segment};
use super::{ROUNDTRIP_NAMESPACE, TranslateError, TranslateOptions};
use super::{annotations, aws, cause, http, names, size, sql};

/// Attribute naming the end user (`user` on segments).
const USER_ATTRIBUTE: &str = "enduser.id";

/// `1-<8 hex>-<24 hex>` from 16 trace-id bytes.
fn xray_trace_id(bytes: &[u8]) -> Option<String> {
    if bytes.len() != 16 || bytes.iter().all(|b| *b == 0) {
        return None;
    }
    let hex = hex::encode(bytes);
    Some(format!("1-{}-{}", &hex[..8], &hex[8..]))
}

fn span_id(bytes: &[u8]) -> Option<(String, u64)> {
    let arr: [u8; 8] = bytes.try_into().ok()?;
    let n = u64::from_be_bytes(arr);
    (n != 0).then(|| (hex::encode(arr), n))
}

/// The kind [`super::from_segment`] infers from a document's shape.
pub(crate) fn implied_kind(subsegment: bool, namespace: Option<&str>) -> SpanKind {
    match (subsegment, namespace) {
        (false, _) => SpanKind::Server,
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
    let (id, id_num) = span_id(&span.span_id).ok_or_else(|| TranslateError::InvalidSpan {
        span_id: hex::encode(&span.span_id),
        reason: "span id is not 8 non-zero bytes",
    })?;
    let trace_id = xray_trace_id(&span.trace_id).ok_or_else(|| TranslateError::InvalidSpan {
        span_id: id.clone(),
        reason: "trace id is not 16 bytes, or is all zero",
    })?;
    let parent_id = span_id(&span.parent_span_id).map(|(hex, _)| hex);
    let kind = kind_of(span);
    let attrs = span.attributes.as_slice();
    // Spec: "A span becomes a subsegment when its kind is not SERVER and it
    // has a parent; otherwise a segment."
    let subsegment = kind != SpanKind::Server && parent_id.is_some();

    let raw = names::raw_name(&span.name, kind, attrs, resource.service_name.as_deref());
    let name = if names::is_clean_name(&raw) {
        raw.into_owned()
    } else {
        names::sanitize_name(&raw)
    };
    let namespace = if !subsegment {
        None
    } else if names::is_aws_call(attrs) {
        Some("aws".to_owned())
    } else if kind == SpanKind::Client {
        Some("remote".to_owned())
    } else {
        None
    };

    let http = http::from_attributes(attrs);
    let sql = if subsegment {
        sql::from_attributes(attrs)
    } else {
        None
    };
    let user = if subsegment {
        None
    } else {
        str_of(attrs, &[USER_ATTRIBUTE])
    };
    let mut aws = if subsegment {
        Aws::default()
    } else {
        resource.aws.clone().unwrap_or_default()
    };
    call_fields(attrs, &mut aws);

    let (http_used, sql_used, user_used) = (http.is_some(), sql.is_some(), user.is_some());
    let (annotations, mut metadata) = annotations::split(attrs, &opts.indexed, |key| {
        (http_used && http::CONSUMED.contains(&key))
            || (sql_used && sql::CONSUMED.contains(&key))
            || aws::CONSUMED.contains(&key)
            || (user_used && key == USER_ATTRIBUTE)
    });

    let status = span.status.clone().unwrap_or_default();
    let status_error = status.code == StatusCode::Error as i32;
    let http_status = http
        .as_ref()
        .and_then(|h| h.response.as_ref())
        .and_then(|r| r.status);
    let (error, fault, throttle) = http::flags(http_status, status_error);

    let mut exceptions = cause::exceptions(&span.events, id_num, kind == SpanKind::Client);
    let mut roundtrip = Map::new();
    if name != span.name {
        roundtrip.insert("span_name".into(), Value::String(span.name.clone()));
    }
    if kind != implied_kind(subsegment, namespace.as_deref()) {
        roundtrip.insert("span_kind".into(), Value::String(kind.as_str_name().into()));
    }
    let implied_error = error || fault || throttle;
    if (status.code == StatusCode::Error as i32) != implied_error
        || status.code == StatusCode::Ok as i32
    {
        roundtrip.insert(
            "status_code".into(),
            Value::String(status_code_name(&status).into()),
        );
    }
    if !status.message.is_empty() {
        if status_error && exceptions.is_empty() {
            // The console shows a typeless exception as the error message.
            exceptions.push(Exception {
                id: cause::exception_id(id_num, 0),
                message: Some(status.message.clone()),
                ..Exception::default()
            });
        } else {
            roundtrip.insert(
                "status_message".into(),
                Value::String(status.message.clone()),
            );
        }
    }
    if !roundtrip.is_empty() {
        metadata.insert(ROUNDTRIP_NAMESPACE.to_owned(), Value::Object(roundtrip));
    }

    let end = (span.end_time_unix_nano != 0).then(|| nanos_to_secs(span.end_time_unix_nano));
    Ok(Segment {
        name,
        id,
        trace_id: Some(trace_id),
        parent_id,
        kind: subsegment.then(|| "subsegment".to_owned()),
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
            resource.origin.clone()
        },
        user,
        resource_arn: if subsegment {
            None
        } else {
            resource.resource_arn.clone()
        },
        service: if subsegment {
            None
        } else {
            resource.service.clone()
        },
        http,
        aws: (aws != Aws::default()).then_some(aws),
        sql,
        annotations,
        metadata,
        cause: (!exceptions.is_empty()).then(|| {
            Cause::Exceptions(CauseData {
                exceptions,
                ..CauseData::default()
            })
        }),
        subsegments: Vec::new(),
    })
}

fn status_code_name(status: &Status) -> &'static str {
    StatusCode::try_from(status.code)
        .unwrap_or(StatusCode::Unset)
        .as_str_name()
}

/// Every span of `req` translated, lazily, in order (resource looked up once
/// per resource group).
fn documents<'a>(
    req: &'a ExportTraceServiceRequest,
    opts: &'a TranslateOptions,
) -> impl Iterator<Item = Result<Segment, TranslateError>> + 'a {
    req.resource_spans.iter().flat_map(move |rs| {
        let info = resource_info(
            rs.resource
                .as_ref()
                .map(|r| r.attributes.as_slice())
                .unwrap_or_default(),
        );
        rs.scope_spans
            .iter()
            .flat_map(|ss| ss.spans.iter())
            .map(move |span| span_to_segment(span, &info, opts))
    })
}

/// Every span of `req` → a typed document (one result per span, in order).
pub fn to_segment_documents(
    req: &ExportTraceServiceRequest,
    opts: &TranslateOptions,
) -> Vec<Result<Segment, TranslateError>> {
    documents(req, opts).collect()
}

/// Every span of `req` → a JSON document of at most
/// `opts.max_document_bytes` (one result per span, in order): what
/// PutTraceSegments and the X-Ray daemon take.
pub fn to_segments(
    req: &ExportTraceServiceRequest,
    opts: &TranslateOptions,
) -> Vec<Result<String, TranslateError>> {
    documents(req, opts)
        .map(|doc| {
            doc.and_then(|mut doc| {
                size::encode_within(&mut doc, opts.max_document_bytes, ROUNDTRIP_NAMESPACE)
            })
        })
        .collect()
}
