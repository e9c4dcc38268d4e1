//! `SpanData` → the protobuf bytes of one OTLP `Span`, written straight
//! from the SDK's span: no `Span` message, no owned copy of a string.
//!
//! The batch processor ([`super::span_processor`]) encodes each span this way
//! on the thread that ends it, so the span's own allocations are freed where
//! they were made. With glibc's malloc, a block freed by another thread
//! (the export thread, as the SDK's batch processor does it) goes to that
//! thread's cache, and the application thread's next allocations take the
//! arena's slow path: ~3 µs a request in the HTTP server bench
//! (docs/benchmarks.md, "Encoding at the span's end").
//!
//! Hand-written rather than prost's `Message::encode` of the converted span
//! ([`super::span_otlp`]): that needs the `Span` message first, and with it
//! an owned `String` per attribute key and value — the allocations this
//! exists to avoid. prost's own varint and key helpers do the wire format.
//! The bytes are exactly prost's encoding of the converted span, field for
//! field in prost's order (by tag number), defaults omitted as prost omits them (the tests
//! compare the two, and decode the result against opentelemetry-proto's
//! own conversion).

use opentelemetry::trace::{self, SpanId};
use opentelemetry::{Array, KeyValue, StringValue, Value};
use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue, any_value};
use opentelemetry_proto::tonic::trace::v1::{ScopeSpans, status};

use super::span_otlp::{flags, kind, nanos};
use opentelemetry_sdk::trace::SpanData;
use prost::Message as _;
use prost::encoding::{WireType, encoded_len_varint, key_len};

/// Appends the span as field `tag` of its container (a length-delimited
/// `Span` message: `ScopeSpans.spans` is tag 2). `extra`: more fields of
/// the `Span` message, already encoded, written after the span's own (the
/// Application Signals attributes: repeated fields may come in any order,
/// and decoders append them).
pub(crate) fn append_span(data: &SpanData, tag: u32, extra: &[u8], out: &mut Vec<u8>) {
    let sizes = SpanSizes::of(data);
    let body = sizes.total + extra.len();
    let start = out.len();
    let len = key_len(tag) + encoded_len_varint(body as u64) + body;
    out.resize(start + len, 0);
    let mut w = Out {
        buf: &mut out[start..],
        at: 0,
    };
    encode_key(tag, WireType::LengthDelimited, &mut w);
    encode_varint(body as u64, &mut w);
    write_span(data, &sizes, &mut w);
    w.extend_from_slice(extra);
    if w.at != len {
        // A length computed wrongly (a bug, caught by the tests): prost
        // writes the converted span instead, `extra`'s fields merged in.
        debug_assert_eq!(w.at, len, "span length");
        out.truncate(start);
        let mut span = super::span_otlp::span(data.clone(), 0);
        if span.merge(extra).is_err() {
            tracing::error!("the extra fields of a span did not decode; written without them");
        }
        ScopeSpans {
            spans: vec![span],
            ..Default::default()
        }
        .encode_raw(out);
    }
}

/// The span's bytes, written into room made for them (the whole span's
/// length is computed first). Hand-written rather than prost's
/// `encode_varint`/`encode_key`, which write through `BufMut` one byte at a
/// time with a capacity check and a call per write: ~1,000 instructions a
/// span of the AWS SDK bench, more than the rest of the encoding
/// (docs/benchmarks.md). A write past the room is dropped and still counted,
/// so a wrong length is caught after the span, never a panic.
struct Out<'a> {
    buf: &'a mut [u8],
    at: usize,
}

impl Out<'_> {
    #[inline]
    fn push(&mut self, b: u8) {
        if let Some(slot) = self.buf.get_mut(self.at) {
            *slot = b;
        }
        self.at += 1;
    }

    #[inline]
    fn extend_from_slice(&mut self, bytes: &[u8]) {
        let end = self.at + bytes.len();
        if let Some(dst) = self.buf.get_mut(self.at..end) {
            dst.copy_from_slice(bytes);
        }
        self.at = end;
    }
}

#[inline]
fn encode_varint(mut v: u64, out: &mut Out<'_>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A field's key (tag and wire type).
#[inline]
fn encode_key(tag: u32, wire_type: WireType, out: &mut Out<'_>) {
    encode_varint(u64::from(tag << 3 | wire_type as u32), out);
}

/// A length-delimited field of `len` bytes, key and length included.
#[inline]
fn delimited_len(tag: u32, len: usize) -> usize {
    key_len(tag) + encoded_len_varint(len as u64) + len
}

#[inline]
fn varint_len(tag: u32, v: u64) -> usize {
    if v == 0 {
        0
    } else {
        key_len(tag) + encoded_len_varint(v)
    }
}

#[inline]
fn fixed_len(tag: u32, nonzero: bool, width: usize) -> usize {
    if nonzero { key_len(tag) + width } else { 0 }
}

/// A proto3 string or bytes field: omitted when empty.
#[inline]
fn bytes_len(tag: u32, len: usize) -> usize {
    if len == 0 { 0 } else { delimited_len(tag, len) }
}

#[inline]
fn put_bytes(tag: u32, bytes: &[u8], out: &mut Out<'_>) {
    if !bytes.is_empty() {
        put_delimited(tag, bytes.len(), out);
        out.extend_from_slice(bytes);
    }
}

#[inline]
fn put_delimited(tag: u32, len: usize, out: &mut Out<'_>) {
    encode_key(tag, WireType::LengthDelimited, out);
    encode_varint(len as u64, out);
}

#[inline]
fn put_varint(tag: u32, v: u64, out: &mut Out<'_>) {
    if v != 0 {
        encode_key(tag, WireType::Varint, out);
        encode_varint(v, out);
    }
}

#[inline]
fn put_fixed32(tag: u32, v: u32, out: &mut Out<'_>) {
    if v != 0 {
        encode_key(tag, WireType::ThirtyTwoBit, out);
        out.extend_from_slice(&v.to_le_bytes());
    }
}

#[inline]
fn put_fixed64(tag: u32, v: u64, out: &mut Out<'_>) {
    if v != 0 {
        encode_key(tag, WireType::SixtyFourBit, out);
        out.extend_from_slice(&v.to_le_bytes());
    }
}

/// What the write pass needs of the measure pass.
struct SpanSizes {
    total: usize,
    trace_state: String,
    /// The span's times in nanoseconds (each read once).
    start: u64,
    end: u64,
}

impl SpanSizes {
    fn of(data: &SpanData) -> Self {
        let context = &data.span_context;
        let trace_state = context.trace_state().header();
        let (start, end) = (nanos(data.start_time), nanos(data.end_time));
        let parent = if data.parent_span_id == SpanId::INVALID {
            0
        } else {
            8
        };
        let status = match &data.status {
            trace::Status::Unset => 0,
            trace::Status::Ok => varint_len(3, status::StatusCode::Ok as u64),
            trace::Status::Error { description } => {
                bytes_len(2, description.len()) + varint_len(3, status::StatusCode::Error as u64)
            }
        };
        let total = delimited_len(1, 16)
            + delimited_len(2, 8)
            + bytes_len(3, trace_state.len())
            + bytes_len(4, parent)
            + fixed_len(16, true, 4)
            + bytes_len(5, data.name.len())
            + varint_len(6, kind(&data.span_kind) as u64)
            + fixed_len(7, start != 0, 8)
            + fixed_len(8, end != 0, 8)
            + attributes_len(9, &data.attributes)
            + varint_len(10, u64::from(data.dropped_attributes_count))
            + data
                .events
                .iter()
                .map(|e| delimited_len(11, event_len(e)))
                .sum::<usize>()
            + varint_len(12, u64::from(data.events.dropped_count))
            + data
                .links
                .iter()
                .map(|l| delimited_len(13, link_len(l)))
                .sum::<usize>()
            + varint_len(14, u64::from(data.links.dropped_count))
            + delimited_len(15, status);
        Self {
            total,
            trace_state,
            start,
            end,
        }
    }
}

fn write_span(data: &SpanData, sizes: &SpanSizes, out: &mut Out<'_>) {
    let context = &data.span_context;
    put_bytes(1, &context.trace_id().to_bytes(), out);
    put_bytes(2, &context.span_id().to_bytes(), out);
    put_bytes(3, sizes.trace_state.as_bytes(), out);
    if data.parent_span_id != SpanId::INVALID {
        put_bytes(4, &data.parent_span_id.to_bytes(), out);
    }
    put_bytes(5, data.name.as_bytes(), out);
    put_varint(6, kind(&data.span_kind) as u64, out);
    put_fixed64(7, sizes.start, out);
    put_fixed64(8, sizes.end, out);
    put_attributes(9, &data.attributes, out);
    put_varint(10, u64::from(data.dropped_attributes_count), out);
    for e in data.events.iter() {
        put_delimited(11, event_len(e), out);
        put_fixed64(1, nanos(e.timestamp), out);
        put_bytes(2, e.name.as_bytes(), out);
        put_attributes(3, &e.attributes, out);
        put_varint(4, u64::from(e.dropped_attributes_count), out);
    }
    put_varint(12, u64::from(data.events.dropped_count), out);
    for l in data.links.iter() {
        put_delimited(13, link_len(l), out);
        let c = &l.span_context;
        put_bytes(1, &c.trace_id().to_bytes(), out);
        put_bytes(2, &c.span_id().to_bytes(), out);
        put_bytes(3, c.trace_state().header().as_bytes(), out);
        put_attributes(4, &l.attributes, out);
        put_varint(5, u64::from(l.dropped_attributes_count), out);
        put_fixed32(6, flags(c.is_remote(), c.trace_flags()), out);
    }
    put_varint(14, u64::from(data.links.dropped_count), out);
    // `status` is always set (an optional message: written even when empty).
    let (code, message) = match &data.status {
        trace::Status::Unset => (status::StatusCode::Unset, ""),
        trace::Status::Ok => (status::StatusCode::Ok, ""),
        trace::Status::Error { description } => (status::StatusCode::Error, description.as_ref()),
    };
    put_delimited(
        15,
        bytes_len(2, message.len()) + varint_len(3, code as u64),
        out,
    );
    put_bytes(2, message.as_bytes(), out);
    put_varint(3, code as u64, out);
    // prost writes fields by tag number: `flags` (16) last.
    put_fixed32(
        16,
        flags(data.parent_span_is_remote, context.trace_flags()),
        out,
    );
}

fn event_len(e: &trace::Event) -> usize {
    fixed_len(1, nanos(e.timestamp) != 0, 8)
        + bytes_len(2, e.name.len())
        + attributes_len(3, &e.attributes)
        + varint_len(4, u64::from(e.dropped_attributes_count))
}

fn link_len(l: &trace::Link) -> usize {
    let c = &l.span_context;
    delimited_len(1, 16)
        + delimited_len(2, 8)
        + bytes_len(3, c.trace_state().header().len())
        + attributes_len(4, &l.attributes)
        + varint_len(5, u64::from(l.dropped_attributes_count))
        + fixed_len(6, true, 4)
}

fn attributes_len(tag: u32, kvs: &[KeyValue]) -> usize {
    kvs.iter()
        .map(|kv| delimited_len(tag, key_value_len(kv)))
        .sum()
}

fn put_attributes(tag: u32, kvs: &[KeyValue], out: &mut Out<'_>) {
    for kv in kvs {
        put_attribute(tag, kv, any_value_len(&kv.value), out);
    }
}

#[inline]
fn put_attribute(tag: u32, kv: &KeyValue, value_len: usize, out: &mut Out<'_>) {
    put_delimited(tag, key_value_len_with(kv, value_len), out);
    put_bytes(1, kv.key.as_str().as_bytes(), out);
    // `value` is always set: written even when the value is empty.
    put_delimited(2, value_len, out);
    put_any_value(&kv.value, out);
}

#[inline]
fn key_value_len_with(kv: &KeyValue, value_len: usize) -> usize {
    bytes_len(1, kv.key.as_str().len()) + delimited_len(2, value_len)
}

/// `KeyValue { key: 1, value: 2 }` (no `key_strindex`).
#[inline]
fn key_value_len(kv: &KeyValue) -> usize {
    key_value_len_with(kv, any_value_len(&kv.value))
}

/// The `AnyValue` message's length: its one `value` member, which (a oneof)
/// is written even when it holds its type's default.
#[inline]
fn any_value_len(v: &Value) -> usize {
    match v {
        Value::Bool(_) => key_len(2) + 1,
        Value::I64(i) => key_len(3) + encoded_len_varint(*i as u64),
        Value::F64(_) => key_len(4) + 8,
        Value::String(s) => delimited_len(1, s.as_str().len()),
        Value::Array(a) => delimited_len(5, array_len(a)),
        other => fallback(other).encoded_len(),
    }
}

#[inline]
fn put_any_value(v: &Value, out: &mut Out<'_>) {
    match v {
        Value::Bool(b) => {
            encode_key(2, WireType::Varint, out);
            encode_varint(u64::from(*b), out);
        }
        Value::I64(i) => {
            encode_key(3, WireType::Varint, out);
            encode_varint(*i as u64, out);
        }
        Value::F64(f) => {
            encode_key(4, WireType::SixtyFourBit, out);
            out.extend_from_slice(&f.to_bits().to_le_bytes());
        }
        Value::String(s) => put_string_value(s, out),
        Value::Array(a) => {
            put_delimited(5, array_len(a), out);
            put_array(a, out);
        }
        other => {
            // Without a length prefix: the caller wrote it.
            out.extend_from_slice(&fallback(other).encode_to_vec());
        }
    }
}

/// A value kind added to the API after this was written: the upstream
/// conversion, encoded by prost.
fn fallback(v: &Value) -> AnyValue {
    AnyValue::from(v.clone())
}

#[inline]
fn put_string_value(s: &StringValue, out: &mut Out<'_>) {
    // A oneof member: written even when empty.
    put_delimited(1, s.as_str().len(), out);
    out.extend_from_slice(s.as_str().as_bytes());
}

/// `ArrayValue { values: 1 }`, each an `AnyValue` message.
fn array_len(a: &Array) -> usize {
    fn each<T>(vs: &[T], len: impl Fn(&T) -> usize) -> usize {
        vs.iter().map(|v| delimited_len(1, len(v))).sum()
    }
    match a {
        Array::Bool(vs) => each(vs, |_| key_len(2) + 1),
        Array::I64(vs) => each(vs, |i| key_len(3) + encoded_len_varint(*i as u64)),
        Array::F64(vs) => each(vs, |_| key_len(4) + 8),
        Array::String(vs) => each(vs, |s| delimited_len(1, s.as_str().len())),
        other => fallback_array(other).encoded_len(),
    }
}

/// An array kind added to the API after this was written: the upstream
/// conversion's `ArrayValue`.
fn fallback_array(a: &Array) -> ArrayValue {
    match fallback(&Value::Array(a.clone())).value {
        Some(any_value::Value::ArrayValue(inner)) => inner,
        _ => ArrayValue::default(),
    }
}

fn put_array(a: &Array, out: &mut Out<'_>) {
    match a {
        Array::Bool(vs) => {
            for b in vs {
                put_delimited(1, key_len(2) + 1, out);
                encode_key(2, WireType::Varint, out);
                encode_varint(u64::from(*b), out);
            }
        }
        Array::I64(vs) => {
            for i in vs {
                put_delimited(1, key_len(3) + encoded_len_varint(*i as u64), out);
                encode_key(3, WireType::Varint, out);
                encode_varint(*i as u64, out);
            }
        }
        Array::F64(vs) => {
            for f in vs {
                put_delimited(1, key_len(4) + 8, out);
                encode_key(4, WireType::SixtyFourBit, out);
                out.extend_from_slice(&f.to_bits().to_le_bytes());
            }
        }
        Array::String(vs) => {
            for s in vs {
                put_delimited(1, delimited_len(1, s.as_str().len()), out);
                put_string_value(s, out);
            }
        }
        other => out.extend_from_slice(&fallback_array(other).encode_to_vec()),
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;
    use std::time::UNIX_EPOCH;

    use opentelemetry::trace::{Event, Status};
    use opentelemetry_proto::tonic::trace::v1::ScopeSpans;
    use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
    use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;

    use super::super::span_otlp::tests::{at, data, scope};
    use super::*;

    /// The fixture of the conversion's tests (every value kind, events,
    /// links, remote and local parents, each status), plus the edges where
    /// proto3 omits a default: empty name, key and strings, zero and
    /// pre-epoch times, zero and negative numbers, no status description.
    fn spans() -> Vec<SpanData> {
        let a = || scope("lib-a", None);
        let mut out = vec![
            data(0, a(), None, Status::Unset),
            data(1, a(), Some((0x1000, false)), Status::Ok),
            data(
                2,
                scope("lib-b", Some("1.2.3")),
                Some((0x77, true)),
                Status::error("boom"),
            ),
            data(3, a(), None, Status::error(String::from("owned"))),
            data(4, a(), None, Status::error("")),
            data(5, a(), Some((0x9, true)), Status::Unset),
        ];
        let mut edges = data(6, a(), None, Status::Unset);
        edges.name = Cow::Borrowed("");
        edges.start_time = UNIX_EPOCH;
        edges.end_time = UNIX_EPOCH - std::time::Duration::from_secs(1);
        edges.dropped_attributes_count = 0;
        edges.attributes = vec![
            KeyValue::new("", ""),
            KeyValue::new("zero", 0_i64),
            KeyValue::new("min", i64::MIN),
            KeyValue::new("false", false),
            KeyValue::new("zero.double", 0.0_f64),
            KeyValue::new("negative.zero", -0.0_f64),
            KeyValue::new("nan", f64::NAN),
            KeyValue::new("empty.array", Value::Array(Array::I64(Vec::new()))),
            KeyValue::new(
                "mixed.strings",
                Value::Array(Array::String(vec!["".into(), "x".repeat(300).into()])),
            ),
            KeyValue::new("long", "y".repeat(20_000)),
        ];
        edges
            .events
            .events
            .push(Event::new("", UNIX_EPOCH, Vec::new(), 0));
        out.push(edges);
        out
    }

    fn encoded(data: &SpanData) -> Vec<u8> {
        let mut out = Vec::new();
        append_span(data, 2, &[], &mut out);
        out
    }

    /// Byte for byte what prost writes for the converted span, as the one
    /// span of a `ScopeSpans` (its field 2).
    #[test]
    fn writes_prosts_bytes_of_the_converted_span() {
        for data in spans() {
            let want = ScopeSpans {
                spans: vec![super::super::span_otlp::span(data.clone(), 0)],
                ..Default::default()
            }
            .encode_to_vec();
            assert_eq!(encoded(&data), want, "span {:?}", data.name);
        }
    }

    /// Decoded, each span is what opentelemetry-proto's own conversion of
    /// the same `SpanData` gives (NaN compared by its bits).
    #[test]
    fn decodes_to_the_opentelemetry_proto_conversion() {
        let resource = ResourceAttributesWithSchema::default();
        for data in spans() {
            let want = group_spans_by_resource_and_scope(vec![data.clone()], &resource)
                .remove(0)
                .scope_spans
                .remove(0)
                .spans
                .remove(0);
            let got = ScopeSpans::decode(encoded(&data).as_slice())
                .expect("decodes")
                .spans
                .remove(0);
            assert_eq!(
                format!("{got:?}"),
                format!("{want:?}"),
                "span {:?}",
                data.name
            );
        }
    }

    /// Spans appended one after another are that many spans of a
    /// `ScopeSpans`, in order.
    #[test]
    fn appended_spans_decode_in_order() {
        let all = spans();
        let mut out = Vec::new();
        for data in &all {
            append_span(data, 2, &[], &mut out);
        }
        let decoded = ScopeSpans::decode(out.as_slice()).expect("decodes");
        let ids: Vec<Vec<u8>> = decoded.spans.iter().map(|s| s.span_id.clone()).collect();
        let want: Vec<Vec<u8>> = all
            .iter()
            .map(|d| d.span_context.span_id().to_bytes().to_vec())
            .collect();
        assert_eq!(ids, want);
        assert_eq!(
            decoded.spans[0].start_time_unix_nano,
            nanos(at(1_544_712_660_000_000_000))
        );
    }
}
