//! OTLP span → X-Ray segment or subsegment document.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as Av;
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
/// [`resource_info`] of the span's resource. A local-root dependency span
/// (see [`to_segment_documents`]) gives its own (sub)segment only here.
pub fn span_to_segment(
    span: &Span,
    resource: &ResourceInfo,
    opts: &TranslateOptions,
) -> Result<Segment, TranslateError> {
    doc_of(span, resource, opts, Role::Span).map(Doc::into_owned)
}

/// Which document of a span [`doc_of`] makes.
#[derive(Clone, Copy)]
enum Role {
    /// The span's own segment or subsegment.
    Span,
    /// A local-root dependency span's call: a subsegment of its service
    /// segment (whose id is `service`).
    Dependency { service: Ascii<16> },
    /// The segment of the service a local-root dependency span belongs to
    /// (its id derived from the span's).
    Service,
}

/// The `aws.span.kind` value ADOT's SDKs give a service's local root span.
const LOCAL_ROOT: &str = "LOCAL_ROOT";

/// True for a span the collector's exporter turns into a service segment
/// plus a dependency subsegment: a CLIENT, PRODUCER or CONSUMER span that
/// ADOT marked `aws.span.kind=LOCAL_ROOT` (the first span of its service in
/// the trace). Without the service segment the X-Ray service map would show
/// the call's remote node with no service calling it.
fn is_local_root_dependency(span: &Span) -> bool {
    matches!(
        kind_of(span),
        SpanKind::Client | SpanKind::Producer | SpanKind::Consumer
    ) && span.attributes.iter().any(|kv| {
        kv.key == "aws.span.kind"
            && matches!(
                kv.value.as_ref().and_then(|v| v.value.as_ref()),
                Some(Av::StringValue(s)) if s == LOCAL_ROOT
            )
    })
}

/// The id of the service segment made for a local-root dependency span:
/// derived from the span id (the collector draws a random one; derived, a
/// retried export sends the same documents). SplitMix64's finaliser: a few
/// lines, not worth a dependency.
fn service_segment_id(span_id: u64) -> (Ascii<16>, u64) {
    let mut z = span_id.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    if z == 0 || z == span_id {
        z = !span_id | 1;
    }
    let mut out = [0u8; 16];
    hex_into(&z.to_be_bytes(), &mut out);
    (Ascii(out), z)
}

/// Attributes naming the remote side, left off a service segment (the
/// collector's list).
fn names_remote(key: Key) -> bool {
    matches!(
        key,
        Key::AwsRemoteService
            | Key::AwsRemoteOperation
            | Key::RemoteTarget
            | Key::K8sRemoteNamespace
    )
}

/// One span → its document, borrowing from the span and the resource.
fn doc_of<'a>(
    span: &'a Span,
    resource: &'a ResourceInfo,
    opts: &TranslateOptions,
    role: Role,
) -> Result<Doc<'a>, TranslateError> {
    let (mut id, mut id_num) =
        span_id(&span.span_id).ok_or_else(|| TranslateError::InvalidSpan {
            span_id: hex::encode(&span.span_id),
            reason: "span id is not 8 non-zero bytes",
        })?;
    let trace_id = xray_trace_id(&span.trace_id).ok_or_else(|| TranslateError::InvalidSpan {
        span_id: id.as_str().to_owned(),
        reason: "trace id is not 16 bytes, or is all zero",
    })?;
    let mut parent_id = span_id(&span.parent_span_id).map(|(hex, _)| hex);
    let kind = kind_of(span);
    let attrs = SpanAttrs::new(&span.attributes);
    // Spec: "A span becomes a subsegment when its kind is not SERVER and it
    // has a parent; otherwise a segment."
    let subsegment = match role {
        Role::Span => kind != SpanKind::Server && parent_id.is_some(),
        Role::Dependency { service } => {
            parent_id = Some(service);
            true
        }
        Role::Service => {
            (id, id_num) = service_segment_id(id_num);
            false
        }
    };
    let service = matches!(role, Role::Service);

    let raw = match role {
        // The service's own name, not the call's.
        Role::Service => attrs
            .str_of(&[Key::AwsLocalService])
            .or_else(|| resource.service_name.as_deref().map(Cow::Borrowed))
            .unwrap_or_else(|| {
                names::raw_name(&span.name, kind, &attrs, resource.service_name.as_deref())
            }),
        _ => names::raw_name(&span.name, kind, &attrs, resource.service_name.as_deref()),
    };
    let name = if names::is_clean_name(&raw) {
        raw
    } else {
        Cow::Owned(names::sanitize_name(&raw))
    };
    let namespace = if !subsegment {
        None
    } else if attrs.is_aws_call() {
        Some("aws")
    } else if kind == SpanKind::Client || matches!(role, Role::Dependency { .. }) {
        Some("remote")
    } else {
        None
    };

    let http = if service {
        None
    } else {
        http::from_attributes(&attrs)
    };
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
    if !service {
        aws::call_fields(&attrs, &mut aws);
    }

    let (sql_used, user_used) = (sql.is_some(), user.is_some());
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
            http.as_ref().is_some_and(|h| h.consumes(key))
                || (sql_used && sql::consumes(key))
                || aws::consumes(key)
                || (user_used && key == Key::EnduserId)
                || (service && names_remote(key))
        },
        ROUNDTRIP_NAMESPACE,
    );
    if service {
        // The service segment describes the service: its resource and the
        // span's annotations; the call's own data is on the dependency
        // subsegment.
        metadata
            .default
            .retain(|(k, _)| k.starts_with(aws::RESOURCE_PREFIX));
        metadata.named.clear();
    }

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
    if service {
        // Not a span of its own: nothing to carry back.
    } else if name != span.name {
        roundtrip.span_name = Some(&span.name);
    }
    if !service && kind != implied_kind(subsegment, namespace) {
        roundtrip.span_kind = Some(kind.as_str_name());
    }
    // A cause reads back as ERROR (collector receiver), so an exception on
    // a span not marked failed needs its status carried.
    let implied_error = error || fault || throttle || !exceptions.is_empty();
    if !service && (status_error != implied_error || status_code == StatusCode::Ok as i32) {
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
        } else if !service {
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

/// The documents of one span, in order: its own; or, for a local-root
/// dependency span (CLIENT, PRODUCER or CONSUMER marked
/// `aws.span.kind=LOCAL_ROOT`), the dependency subsegment, then the
/// segment of its service (as the collector's exporter makes them).
fn docs_of<'a>(
    span: &'a Span,
    resource: &'a ResourceInfo,
    opts: &TranslateOptions,
    mut f: impl FnMut(Result<Doc<'a>, TranslateError>),
) {
    if !is_local_root_dependency(span) {
        return f(doc_of(span, resource, opts, Role::Span));
    }
    match span_id(&span.span_id) {
        Some((_, n)) => {
            let service = service_segment_id(n).0;
            f(doc_of(span, resource, opts, Role::Dependency { service }));
            f(doc_of(span, resource, opts, Role::Service));
        }
        // The error the span's own document gives.
        None => f(doc_of(span, resource, opts, Role::Span)),
    }
}

/// Every span of `req` → typed documents, in order: one per span, two for
/// a local-root dependency span (see `docs_of`).
pub fn to_segment_documents(
    req: &ExportTraceServiceRequest,
    opts: &TranslateOptions,
) -> Vec<Result<Segment, TranslateError>> {
    let mut out = Vec::with_capacity(span_count(req));
    for_each_span(req, |span, info| {
        docs_of(span, info, opts, |doc| out.push(doc.map(Doc::into_owned)));
    });
    out
}

/// Every span of `req` → JSON documents of at most
/// `opts.max_document_bytes`, in order (one per span, two for a local-root
/// dependency span: see `docs_of`): what PutTraceSegments and the X-Ray
/// daemon take.
pub fn to_segments(
    req: &ExportTraceServiceRequest,
    opts: &TranslateOptions,
) -> Vec<Result<String, TranslateError>> {
    let mut out = Vec::with_capacity(span_count(req));
    // One serialisation buffer for the batch; each document is copied out
    // at its exact size.
    let mut buf = Vec::with_capacity(1024);
    for_each_span(req, |span, info| {
        docs_of(span, info, opts, |doc| {
            out.push(doc.and_then(|doc| encode(doc, &mut buf, opts)));
        });
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
    size::encode_within(&mut doc.into_owned(), opts.max_document_bytes)
}
