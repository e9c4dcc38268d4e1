//! X-Ray segment document → OTLP spans (legacy SDK traffic): the inverse of
//! [`super::to_segments`]. Nested subsegments become child spans of the
//! (sub)segment that holds them.

mod in_progress;
mod repair;

pub use in_progress::InProgressBuffer;
pub use repair::Repairs;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as Av;
use opentelemetry_proto::tonic::common::v1::{InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use serde::Deserialize;
use serde_json::Value;

use super::TranslateError;
use super::attrs::{kv, kv_str, secs_to_nanos};
use super::aws::RESOURCE_PREFIX;
use super::document::Segment;
use super::metadata::value_of;
use super::names::FALLBACK_NAME;
use super::to_segment::implied_kind;
use super::{annotations, aws, cause, http, sql};

/// Instrumentation scope name of spans made from segment documents.
pub const SCOPE_NAME: &str = "otel-aws-distro/xray-segment";
/// Attribute set (true) on spans made from documents still `in_progress`
/// (their end time is their start time).
pub const IN_PROGRESS_ATTRIBUTE: &str = "aws.xray.in_progress";

fn invalid(msg: impl Into<String>) -> TranslateError {
    TranslateError::InvalidDocument(msg.into())
}

/// `1-<8 hex>-<24 hex>` → 16 bytes (an array: each span copies it once).
fn parse_trace_id(s: &str) -> Option<[u8; 16]> {
    let rest = s.strip_prefix("1-")?;
    let (epoch, random) = rest.split_once('-')?;
    if epoch.len() != 8 || random.len() != 24 {
        return None;
    }
    let mut out = [0u8; 16];
    hex::decode_to_slice(epoch, &mut out[..4]).ok()?;
    hex::decode_to_slice(random, &mut out[4..]).ok()?;
    (!out.iter().all(|b| *b == 0)).then_some(out)
}

/// 16 hex digits → 8 bytes; wrong length, a non-hex digit or all zeros is
/// `None`. By hand: on the segment → span path the `hex` crate's decoding
/// showed at 2.5 % of the time. An array: checking an id allocates
/// nothing.
fn parse_id(s: &str) -> Option<[u8; 8]> {
    let bytes = s.as_bytes();
    if bytes.len() != 16 {
        return None;
    }
    let mut n = 0u64;
    for &b in bytes {
        n = n << 4 | u64::from(char::from(b).to_digit(16)?);
    }
    (n != 0).then(|| n.to_be_bytes())
}

/// Deepest JSON nesting accepted (a subsegment level is two: object and
/// array). Checked before deserialising: serde's recursion over a deeply
/// nested document would exhaust a thread's stack long before serde_json's
/// own limit of 128.
const MAX_JSON_DEPTH: usize = 2 * MAX_DEPTH + 8;

/// True when `text` nests objects/arrays at most `limit` deep (strings are
/// skipped, escapes honoured). Hand-written: a linear byte scan, no parse.
fn nesting_within(text: &str, limit: usize) -> bool {
    // Fast path: with no more opening brackets in the whole text (strings
    // included) than `limit`, nothing can nest deeper. A vectorised count;
    // the exact scan below is for the rare large document.
    if openers(text.as_bytes()) <= limit {
        return true;
    }
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for b in text.bytes() {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                if depth > limit {
                    return false;
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    true
}

/// How many `{` and `[` bytes `bytes` holds. Counted per 128-byte chunk
/// into a byte-wide sum so the compiler vectorises it.
fn openers(bytes: &[u8]) -> usize {
    bytes
        .chunks(128)
        .map(|chunk| {
            chunk
                .iter()
                .map(|&b| u8::from(b == b'{' || b == b'['))
                .fold(0u8, u8::wrapping_add) as usize
        })
        .sum()
}

fn value_within(v: &Value, limit: usize) -> bool {
    if limit == 0 {
        return false;
    }
    match v {
        Value::Object(m) => m.values().all(|v| value_within(v, limit - 1)),
        Value::Array(a) => a.iter().all(|v| value_within(v, limit - 1)),
        _ => true,
    }
}

/// Parses one document (JSON text) into the typed [`Segment`] (for
/// [`InProgressBuffer`] and [`segments_to_request`]), refusing hostile
/// nesting. A field of the wrong type is coerced or skipped (see
/// [`parse_segment_repaired`], which also says how many).
pub fn parse_segment(doc: &str) -> Result<Segment, TranslateError> {
    parse_segment_repaired(doc).map(|(seg, _)| seg)
}

/// [`parse_segment`], also counting the fields coerced or skipped to read
/// the document. Only text that is not a JSON object, or nests too deeply,
/// is refused here (a document without a usable `trace_id`/`id` is refused
/// when it is translated).
pub fn parse_segment_repaired(doc: &str) -> Result<(Segment, Repairs), TranslateError> {
    if !nesting_within(doc, MAX_JSON_DEPTH) {
        return Err(invalid("subsegments nested too deeply"));
    }
    match serde_json::from_str(doc) {
        Ok(seg) => Ok((seg, Repairs::default())),
        // Well-formed JSON of the wrong shape somewhere: the slow path.
        Err(e) if e.is_data() => {
            let value: Value =
                serde_json::from_str(doc).map_err(|e| TranslateError::Parse(e.to_string()))?;
            repair::parse_repaired(value)
        }
        Err(e) => Err(TranslateError::Parse(e.to_string())),
    }
}

/// Parses one document (JSON text) into a batch of spans.
pub fn from_segment(doc: &str) -> Result<ExportTraceServiceRequest, TranslateError> {
    from_segment_repaired(doc).map(|(req, _)| req)
}

/// [`from_segment`], also counting what was coerced or skipped on the way
/// (unreadable fields, unusable subsegments, missing times or names).
pub fn from_segment_repaired(
    doc: &str,
) -> Result<(ExportTraceServiceRequest, Repairs), TranslateError> {
    let (mut seg, mut repairs) = parse_segment_repaired(doc)?;
    let (req, more) = one_request(&mut seg)?;
    repairs.add(more);
    Ok((req, repairs))
}

/// Like [`from_segment`] for an already parsed JSON value.
pub fn from_segment_value(doc: &Value) -> Result<ExportTraceServiceRequest, TranslateError> {
    if !value_within(doc, MAX_JSON_DEPTH) {
        return Err(invalid("subsegments nested too deeply"));
    }
    let mut seg = match Segment::deserialize(doc) {
        Ok(seg) => seg,
        Err(_) => repair::parse_repaired(doc.clone())?.0,
    };
    one_request(&mut seg).map(|(req, _)| req)
}

/// Takes the document's strings (it is left partly emptied).
fn one_request(seg: &mut Segment) -> Result<(ExportTraceServiceRequest, Repairs), TranslateError> {
    let mut repairs = Repairs::default();
    let (resource, spans) = owned_segment_to_spans(seg, &mut repairs)?;
    Ok((
        ExportTraceServiceRequest {
            resource_spans: vec![resource_spans(resource, spans)],
        },
        repairs,
    ))
}

fn resource_spans(resource: Vec<KeyValue>, spans: Vec<Span>) -> ResourceSpans {
    ResourceSpans {
        resource: Some(Resource {
            attributes: resource,
            ..Resource::default()
        }),
        scope_spans: vec![ScopeSpans {
            scope: Some(InstrumentationScope {
                name: SCOPE_NAME.to_owned(),
                ..InstrumentationScope::default()
            }),
            spans,
            schema_url: String::new(),
        }],
        schema_url: String::new(),
    }
}

/// Translates documents into one batch, spans grouped by resource (a
/// segment's resource is described by its name, `origin`, `aws` and
/// `service`; an independent subsegment has an empty resource). Documents
/// that fail are left out and their errors returned.
pub fn segments_to_request<'a>(
    docs: impl IntoIterator<Item = &'a Segment>,
) -> (ExportTraceServiceRequest, Vec<TranslateError>) {
    group_into_request(docs.into_iter().map(segment_to_spans))
}

/// [`segments_to_request`] taking the documents: their strings move into
/// the spans instead of being copied (a collector's parse → spans path).
pub fn segments_into_request(
    docs: impl IntoIterator<Item = Segment>,
) -> (ExportTraceServiceRequest, Vec<TranslateError>) {
    let (req, errors, _) = segments_into_request_repaired(docs);
    (req, errors)
}

/// [`segments_into_request`], also counting what was coerced or skipped
/// while translating (unusable subsegments, missing times or names).
pub fn segments_into_request_repaired(
    docs: impl IntoIterator<Item = Segment>,
) -> (ExportTraceServiceRequest, Vec<TranslateError>, Repairs) {
    let mut repairs = Repairs::default();
    let (req, errors) = group_into_request(
        docs.into_iter()
            .map(|mut doc| owned_segment_to_spans(&mut doc, &mut repairs)),
    );
    (req, errors, repairs)
}

fn group_into_request(
    translated: impl Iterator<Item = Result<(Vec<KeyValue>, Vec<Span>), TranslateError>>,
) -> (ExportTraceServiceRequest, Vec<TranslateError>) {
    let mut groups: Vec<(Vec<KeyValue>, Vec<Span>)> = Vec::new();
    let mut errors = Vec::new();
    for result in translated {
        match result {
            Ok((resource, spans)) => match groups.iter_mut().find(|(r, _)| *r == resource) {
                Some((_, existing)) => existing.extend(spans),
                None => groups.push((resource, spans)),
            },
            Err(e) => errors.push(e),
        }
    }
    let resource_spans = groups
        .into_iter()
        .map(|(r, s)| resource_spans(r, s))
        .collect();
    (ExportTraceServiceRequest { resource_spans }, errors)
}

/// One document → its resource attributes and its spans (the document's
/// span first, then its nested subsegments depth-first).
pub fn segment_to_spans(doc: &Segment) -> Result<(Vec<KeyValue>, Vec<Span>), TranslateError> {
    owned_segment_to_spans(&mut doc.clone(), &mut Repairs::default())
}

/// [`segment_to_spans`] taking the document's strings, so they move into
/// the spans instead of being copied (the parse → spans path; the document
/// is left partly emptied). By reference: a document is over a kilobyte.
fn owned_segment_to_spans(
    doc: &mut Segment,
    repairs: &mut Repairs,
) -> Result<(Vec<KeyValue>, Vec<Span>), TranslateError> {
    let trace_id = doc
        .trace_id
        .as_deref()
        .ok_or_else(|| invalid("trace_id is required"))?;
    let trace_id = parse_trace_id(trace_id)
        .ok_or_else(|| invalid(format!("trace_id {trace_id:?} is not 1-<8 hex>-<24 hex>")))?;
    if parse_id(&doc.id).is_none() {
        return Err(invalid(format!("id {:?} is not 16 hex digits", doc.id)));
    }
    let independent = doc
        .kind
        .as_deref()
        .is_some_and(|k| k.eq_ignore_ascii_case("subsegment"));
    let parent = match doc.parent_id.as_deref().map(parse_id) {
        Some(Some(p)) => p.to_vec(),
        Some(None) => {
            // Kept as a root rather than lost with its subsegments.
            repairs.skip("parent_id");
            Vec::new()
        }
        None => Vec::new(),
    };
    let resource = if independent {
        Vec::new()
    } else {
        let mut resource = aws::resource_attributes(
            &doc.name,
            doc.origin.as_deref(),
            doc.aws.as_deref(),
            doc.service.as_deref(),
            doc.resource_arn.as_deref(),
        );
        recorded_resource(&mut doc.metadata.default, &mut resource);
        resource
    };
    let mut spans = Vec::with_capacity(1 + doc.subsegments.len());
    push_spans(doc, &trace_id, parent, independent, &mut spans, 0, repairs)?;
    Ok((resource, spans))
}

/// Moves the resource a segment recorded in its `default` metadata
/// (`otel.resource.<key>`, see [`super::RESOURCE_PREFIX`]) into `out`, where
/// it wins over what the document's own fields imply (the segment may be
/// named after a span rather than its service).
fn recorded_resource(default: &mut Vec<KeyValue>, out: &mut Vec<KeyValue>) {
    // One pass, each entry moved out, its key shortened in place.
    default.retain_mut(|entry| {
        if !entry.key.starts_with(RESOURCE_PREFIX) {
            return true;
        }
        if value_of(entry).is_some() {
            entry.key.drain(..RESOURCE_PREFIX.len());
            match out.iter_mut().find(|kv| kv.key == entry.key) {
                Some(kv) => kv.value = entry.value.take(),
                None => out.push(std::mem::take(entry)),
            }
        }
        false
    });
}

/// Deepest nesting followed (a hostile document cannot exhaust the stack).
const MAX_DEPTH: usize = 32;

fn push_spans(
    doc: &mut Segment,
    trace_id: &[u8],
    parent: Vec<u8>,
    subsegment: bool,
    out: &mut Vec<Span>,
    depth: usize,
    repairs: &mut Repairs,
) -> Result<(), TranslateError> {
    if depth > MAX_DEPTH {
        return Err(invalid("subsegments nested deeper than 32 levels"));
    }
    let mut children = std::mem::take(&mut doc.subsegments);
    // A subsegment without a usable id is left out; its own subsegments
    // become children of its parent (the top document's id is checked by
    // the caller).
    let id = match to_span(doc, trace_id, subsegment, repairs) {
        Some(span) => {
            // The parent id moves into the span (no copy for a leaf).
            let id = if children.is_empty() {
                Vec::new()
            } else {
                span.span_id.clone()
            };
            out.push(Span {
                parent_span_id: parent,
                ..span
            });
            id
        }
        None => {
            repairs.skip("subsegments.id");
            parent
        }
    };
    for child in &mut children {
        push_spans(child, trace_id, id.clone(), true, out, depth + 1, repairs)?;
    }
    Ok(())
}

/// One (sub)segment → its span. Moves the document's strings into the span
/// (the caller keeps only `subsegments`).
/// The caller sets the span's `parent_span_id`.
fn to_span(
    doc: &mut Segment,
    trace_id: &[u8],
    subsegment: bool,
    repairs: &mut Repairs,
) -> Option<Span> {
    let span_id = parse_id(&doc.id)?.to_vec();
    if doc.name.is_empty() {
        repairs.skip("name");
        doc.name = FALLBACK_NAME.to_owned();
    }
    let end_time = doc.end_time.map(secs_to_nanos).filter(|t| *t != 0);
    let start = match (secs_to_nanos(doc.start_time), end_time) {
        (0, Some(end)) => {
            repairs.skip("start_time");
            end
        }
        (0, None) => {
            repairs.skip("start_time");
            0
        }
        (start, _) => start,
    };
    let end = match (end_time, doc.in_progress) {
        (Some(t), _) => t.max(start),
        (None, true) => start,
        (None, false) => {
            repairs.skip("end_time");
            start
        }
    };

    // What X-Ray cannot say itself (never an attribute).
    let otel = std::mem::take(&mut doc.metadata.otel);
    let kind = otel
        .span_kind
        .as_deref()
        .and_then(SpanKind::from_str_name)
        .unwrap_or_else(|| implied_kind(subsegment, doc.namespace.as_deref()));

    let mut attributes = Vec::with_capacity(
        8 + doc.annotations.len() + doc.metadata.default.len() + doc.metadata.named.len(),
    );
    if let Some(h) = doc.http.take() {
        http::to_attributes(*h, &mut attributes);
    }
    if let Some(s) = doc.sql.take() {
        sql::to_attributes(*s, &mut attributes);
    }
    if let Some(a) = &mut doc.aws {
        aws::call_attributes(a, &mut attributes);
    }
    if let Some(u) = doc.user.take() {
        attributes.push(kv_str("enduser.id", u));
    }
    annotations::annotations_to_attributes(std::mem::take(&mut doc.annotations), &mut attributes);
    annotations::metadata_to_attributes(std::mem::take(&mut doc.metadata), &mut attributes);
    if doc.in_progress && doc.end_time.is_none() {
        attributes.push(kv(IN_PROGRESS_ATTRIBUTE, Av::BoolValue(true)));
    }
    if let Some(t) = doc.traced
        && !attributes.iter().any(|a| a.key == http::TRACED_ATTRIBUTE)
    {
        attributes.push(kv(http::TRACED_ATTRIBUTE, Av::BoolValue(t)));
    }
    // The AWS service a subsegment of namespace `aws` is named after.
    if doc.namespace.as_deref() == Some("aws") && !attributes.iter().any(|a| a.key == "aws.service")
    {
        attributes.push(kv_str("aws.service", doc.name.as_str()));
    }

    let code = otel
        .status_code
        .as_deref()
        .and_then(StatusCode::from_str_name)
        .unwrap_or(
            if doc.fault || doc.error || doc.throttle || doc.cause.is_some() {
                StatusCode::Error
            } else {
                StatusCode::Unset
            },
        );
    let (events, cause_message) =
        cause::to_events(doc.cause.take().map(|c| *c), code == StatusCode::Error, end);
    let message = match otel.status_message {
        Some(m) => m,
        None => cause_message.unwrap_or_default(),
    };

    Some(Span {
        trace_id: trace_id.to_vec(),
        span_id,
        name: match otel.span_name {
            Some(n) => n,
            None => std::mem::take(&mut doc.name),
        },
        kind: kind as i32,
        start_time_unix_nano: start,
        end_time_unix_nano: end,
        attributes,
        events,
        status: (code != StatusCode::Unset || !message.is_empty()).then_some(Status {
            message,
            code: code as i32,
        }),
        ..Span::default()
    })
}
