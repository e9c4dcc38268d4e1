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
//! exists to avoid. The bytes are exactly prost's encoding of the converted
//! span, field for field in prost's order (by tag number), defaults omitted
//! as prost omits them (the tests compare the two, and decode the result
//! against opentelemetry-proto's own conversion).
//!
//! One pass: a nested message's length is not measured first but written
//! after its body, into a byte left for it (two for the span), the body
//! moved in the rare case its length takes another number of bytes. A
//! string attribute's lengths are computed on the spot. (A measuring pass
//! before the writing one, as prost does, was ~40 % of the encoding of an
//! AWS SDK call's span: docs/benchmarks.md, "One pass".)

use opentelemetry::trace::{self, SpanId};
use opentelemetry::{Array, KeyValue, StringValue, Value};
use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue, any_value};
use opentelemetry_proto::tonic::trace::v1::status;

use super::span_otlp::{flags, kind, nanos};
use opentelemetry_sdk::trace::SpanData;
use prost::Message as _;
use prost::encoding::{WireType, encoded_len_varint};

/// A span's start and end, in nanoseconds since the epoch (OTLP's fields):
/// computed once for the encoding and for whatever else reads them (each
/// `SystemTime::duration_since` is ~60 instructions).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpanTimes {
    /// `start_time_unix_nano`.
    pub start: u64,
    /// `end_time_unix_nano`.
    pub end: u64,
}

impl SpanTimes {
    /// `data`'s.
    pub fn of(data: &SpanData) -> Self {
        Self {
            start: nanos(data.start_time),
            end: nanos(data.end_time),
        }
    }
}

/// Appends the span as field `tag` of its container (a length-delimited
/// `Span` message: `ScopeSpans.spans` is tag 2). `extra`: more fields of
/// the `Span` message, already encoded, written after the span's own (the
/// Application Signals attributes: repeated fields may come in any order,
/// and decoders append them). `times`: the span's ([`SpanTimes::of`]).
pub(crate) fn append_span(
    data: &SpanData,
    times: SpanTimes,
    tag: u32,
    extra: &[u8],
    out: &mut Vec<u8>,
) {
    // A span with at most one attribute (and no events or links) is
    // usually under 128 bytes, others up to 16 KiB: a one- or two-byte
    // length (any other is moved into place). The extra fields (Application
    // Signals' four attributes of a local root: ~130 bytes) take a span past
    // 127: moving it was ~170 instructions a span, docs/benchmarks.md.
    let room =
        if data.attributes.len() + data.events.len() + data.links.len() <= 1 && extra.is_empty() {
            1
        } else {
            2
        };
    let body = open_with(tag, room, out);
    write_span(data, times, out);
    out.extend_from_slice(extra);
    close_with(body, room, out);
}

#[inline]
fn encode_varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A field's key (tag and wire type).
#[inline]
fn encode_key(tag: u32, wire_type: WireType, out: &mut Vec<u8>) {
    encode_varint(u64::from(tag << 3 | wire_type as u32), out);
}

/// Opens a length-delimited field of a length not known yet: its key and
/// one byte for the length. Gives where the body starts, for [`close`].
#[inline]
fn open(tag: u32, out: &mut Vec<u8>) -> usize {
    open_with(tag, 1, out)
}

/// [`open`] with `room` bytes for the length.
#[inline]
fn open_with(tag: u32, room: usize, out: &mut Vec<u8>) -> usize {
    encode_key(tag, WireType::LengthDelimited, out);
    out.resize(out.len() + room, 0);
    out.len()
}

/// Writes the length of the field opened at `body` (everything after it).
#[inline]
fn close(body: usize, out: &mut Vec<u8>) {
    close_with(body, 1, out);
}

/// [`close`] of a field opened with `room` bytes for its length: the
/// body is moved when its length's varint takes another number of bytes.
#[inline]
fn close_with(body: usize, room: usize, out: &mut Vec<u8>) {
    let len = out.len() - body;
    let need = encoded_len_varint(len as u64);
    if need == room {
        write_varint_at(len as u64, body - room, out);
        return;
    }
    relength(body, room, need, out);
}

/// The length's varint written over the bytes at `at`.
#[inline]
fn write_varint_at(mut v: u64, at: usize, out: &mut [u8]) {
    let mut i = at;
    while let Some(slot) = out.get_mut(i) {
        if v < 0x80 {
            *slot = v as u8;
            return;
        }
        *slot = (v as u8) | 0x80;
        v >>= 7;
        i += 1;
    }
}

/// The body at `body` moved so that its length's `need` bytes fit where
/// `room` were left, and the length written.
#[cold]
fn relength(body: usize, room: usize, need: usize, out: &mut Vec<u8>) {
    let len = out.len() - body;
    let at = body - room;
    if need > room {
        out.resize(out.len() + (need - room), 0);
    }
    out.copy_within(body..body + len, at + need);
    out.truncate(at + need + len);
    write_varint_at(len as u64, at, out);
}

/// A proto3 string or bytes field: omitted when empty.
#[inline]
fn put_bytes(tag: u32, bytes: &[u8], out: &mut Vec<u8>) {
    if !bytes.is_empty() {
        put_delimited(tag, bytes.len(), out);
        out.extend_from_slice(bytes);
    }
}

/// A length-delimited field's key and length.
#[inline]
fn put_delimited(tag: u32, len: usize, out: &mut Vec<u8>) {
    encode_key(tag, WireType::LengthDelimited, out);
    encode_varint(len as u64, out);
}

#[inline]
fn put_varint(tag: u32, v: u64, out: &mut Vec<u8>) {
    if v != 0 {
        encode_key(tag, WireType::Varint, out);
        encode_varint(v, out);
    }
}

#[inline]
fn put_fixed32(tag: u32, v: u32, out: &mut Vec<u8>) {
    if v != 0 {
        encode_key(tag, WireType::ThirtyTwoBit, out);
        out.extend_from_slice(&v.to_le_bytes());
    }
}

#[inline]
fn put_fixed64(tag: u32, v: u64, out: &mut Vec<u8>) {
    if v != 0 {
        encode_key(tag, WireType::SixtyFourBit, out);
        out.extend_from_slice(&v.to_le_bytes());
    }
}

fn write_span(data: &SpanData, times: SpanTimes, out: &mut Vec<u8>) {
    let context = &data.span_context;
    put_bytes(1, &context.trace_id().to_bytes(), out);
    put_bytes(2, &context.span_id().to_bytes(), out);
    put_bytes(3, context.trace_state().header().as_bytes(), out);
    if data.parent_span_id != SpanId::INVALID {
        put_bytes(4, &data.parent_span_id.to_bytes(), out);
    }
    put_bytes(5, data.name.as_bytes(), out);
    put_varint(6, kind(&data.span_kind) as u64, out);
    put_fixed64(7, times.start, out);
    put_fixed64(8, times.end, out);
    put_attributes(9, &data.attributes, out);
    put_varint(10, u64::from(data.dropped_attributes_count), out);
    for e in data.events.iter() {
        let event = open(11, out);
        put_fixed64(1, nanos(e.timestamp), out);
        put_bytes(2, e.name.as_bytes(), out);
        put_attributes(3, &e.attributes, out);
        put_varint(4, u64::from(e.dropped_attributes_count), out);
        close(event, out);
    }
    put_varint(12, u64::from(data.events.dropped_count), out);
    for l in data.links.iter() {
        let link = open(13, out);
        let c = &l.span_context;
        put_bytes(1, &c.trace_id().to_bytes(), out);
        put_bytes(2, &c.span_id().to_bytes(), out);
        put_bytes(3, c.trace_state().header().as_bytes(), out);
        put_attributes(4, &l.attributes, out);
        put_varint(5, u64::from(l.dropped_attributes_count), out);
        put_fixed32(6, flags(c.is_remote(), c.trace_flags()), out);
        close(link, out);
    }
    put_varint(14, u64::from(data.links.dropped_count), out);
    // `status` is always set (an optional message: written even when empty).
    let (code, message) = match &data.status {
        trace::Status::Unset => (status::StatusCode::Unset, ""),
        trace::Status::Ok => (status::StatusCode::Ok, ""),
        trace::Status::Error { description } => (status::StatusCode::Error, description.as_ref()),
    };
    let status = open(15, out);
    put_bytes(2, message.as_bytes(), out);
    put_varint(3, code as u64, out);
    close(status, out);
    // prost writes fields by tag number: `flags` (16) last.
    put_fixed32(
        16,
        flags(data.parent_span_is_remote, context.trace_flags()),
        out,
    );
}

fn put_attributes(tag: u32, kvs: &[KeyValue], out: &mut Vec<u8>) {
    for kv in kvs {
        put_attribute(tag, kv, out);
    }
}

/// `KeyValue { key: 1, value: 2 }` (no `key_strindex`); `value` is always
/// set, written even when it is empty.
#[inline]
fn put_attribute(tag: u32, kv: &KeyValue, out: &mut Vec<u8>) {
    let key = kv.key.as_str().as_bytes();
    if let Value::String(s) = &kv.value {
        // The most common value: every length known at once.
        let value = s.as_str().as_bytes();
        if let Some(heads) = short_string_heads(tag, key.len(), value.len()) {
            // Each run of fixed bytes in one write.
            out.reserve(SHORT_HEADS + key.len() + value.len());
            if key.is_empty() {
                out.extend_from_slice(&heads[..2]);
            } else {
                out.extend_from_slice(&heads[..4]);
                out.extend_from_slice(key);
            }
            out.extend_from_slice(&heads[4..]);
            out.extend_from_slice(value);
            return;
        }
        let any = string_value_len(value.len());
        let key_field = if key.is_empty() {
            0
        } else {
            1 + encoded_len_varint(key.len() as u64) + key.len()
        };
        put_delimited(
            tag,
            key_field + 1 + encoded_len_varint(any as u64) + any,
            out,
        );
        put_bytes(1, key, out);
        put_delimited(2, any, out);
        put_string_value(value, out);
        return;
    }
    let body = open(tag, out);
    put_bytes(1, key, out);
    let any = open(2, out);
    put_any_value(&kv.value, out);
    close(any, out);
    close(body, out);
}

/// The fixed bytes of a string attribute [`short_string_heads`] writes.
const SHORT_HEADS: usize = 8;

/// The fixed bytes of a string attribute whose every length takes one byte
/// (a one-byte field key, a key and value under ~120 bytes: nearly every
/// attribute): the field's key and length, the key's field key and length
/// (the first four), then the value's field key and length and the string
/// value's (the last four). `None` for longer ones.
#[inline]
fn short_string_heads(tag: u32, key: usize, value: usize) -> Option<[u8; SHORT_HEADS]> {
    let any = 2 + value;
    let body = if key == 0 { 0 } else { 2 + key } + 2 + any;
    if tag >= 16 || key >= 0x80 || body >= 0x80 {
        return None;
    }
    // The `as u8`s are exact: every value is below 0x80 here.
    Some([
        (tag << 3 | WireType::LengthDelimited as u32) as u8,
        body as u8,
        0x0A,
        key as u8,
        0x12,
        any as u8,
        0x0A,
        value as u8,
    ])
}

/// `AnyValue { string_value: 1 }` of a string of `len` bytes: a oneof
/// member, written even when empty.
#[inline]
fn string_value_len(len: usize) -> usize {
    1 + encoded_len_varint(len as u64) + len
}

#[inline]
fn put_string_value(s: &[u8], out: &mut Vec<u8>) {
    put_delimited(1, s.len(), out);
    out.extend_from_slice(s);
}

/// The `AnyValue` message's body: its one `value` member, which (a oneof)
/// is written even when it holds its type's default.
fn put_any_value(v: &Value, out: &mut Vec<u8>) {
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
        Value::String(s) => put_string_value(s.as_str().as_bytes(), out),
        Value::Array(a) => {
            let array = open(5, out);
            put_array(a, out);
            close(array, out);
        }
        other => {
            // Without a length prefix: the caller writes it.
            out.extend_from_slice(&fallback(other).encode_to_vec());
        }
    }
}

/// A value kind added to the API after this was written: the upstream
/// conversion, encoded by prost.
fn fallback(v: &Value) -> AnyValue {
    AnyValue::from(v.clone())
}

/// An array kind added to the API after this was written: the upstream
/// conversion's `ArrayValue`.
fn fallback_array(a: &Array) -> ArrayValue {
    match fallback(&Value::Array(a.clone())).value {
        Some(any_value::Value::ArrayValue(inner)) => inner,
        _ => ArrayValue::default(),
    }
}

/// `ArrayValue { values: 1 }`'s body, each value an `AnyValue` message.
fn put_array(a: &Array, out: &mut Vec<u8>) {
    match a {
        Array::Bool(vs) => {
            for b in vs {
                put_delimited(1, 2, out);
                encode_key(2, WireType::Varint, out);
                encode_varint(u64::from(*b), out);
            }
        }
        Array::I64(vs) => {
            for i in vs {
                put_delimited(1, 1 + encoded_len_varint(*i as u64), out);
                encode_key(3, WireType::Varint, out);
                encode_varint(*i as u64, out);
            }
        }
        Array::F64(vs) => {
            for f in vs {
                put_delimited(1, 9, out);
                encode_key(4, WireType::SixtyFourBit, out);
                out.extend_from_slice(&f.to_bits().to_le_bytes());
            }
        }
        Array::String(vs) => {
            for s in vs {
                let s: &StringValue = s;
                let s = s.as_str().as_bytes();
                put_delimited(1, string_value_len(s.len()), out);
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
        append_span(data, SpanTimes::of(data), 2, &[], &mut out);
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

    /// Every length written after its body is prost's: spans, attributes,
    /// arrays, events and links whose bodies end on each side of a varint's
    /// byte boundaries (127/128, 16,383/16,384 bytes), so the span's one or
    /// two bytes of room are used as they are, shrunk to one and grown to
    /// two and three, and the nested fields' one byte grown to two and three.
    #[test]
    fn lengths_on_each_side_of_the_varint_boundaries() {
        let a = || scope("lib-a", None);
        let mut checked = 0;
        for len in [
            0, 1, 60, 90, 100, 110, 120, 126, 127, 128, 129, 200, 16_300, 16_383, 16_384, 16_400,
        ] {
            let text = "v".repeat(len);
            let mut span = data(7, a(), None, Status::Unset);
            span.attributes = vec![KeyValue::new("k", text.clone())];
            span.events.events.clear();
            span.links.links.clear();
            let mut bare = data(8, a(), None, Status::Unset);
            bare.attributes.clear();
            bare.events.events.clear();
            bare.links.links.clear();
            bare.name = Cow::Owned(text.clone());
            let mut nested = data(9, a(), None, Status::error(text.clone()));
            nested.attributes = vec![
                KeyValue::new(
                    "array",
                    Value::Array(Array::String(vec![text.clone().into(), "x".into()])),
                ),
                KeyValue::new("i", len as i64),
            ];
            nested.events.events = vec![Event::new(
                text.clone(),
                at(1),
                vec![KeyValue::new("e", text.clone())],
                0,
            )];
            // Two attributes: two bytes of room, the body often under 128.
            let mut two = data(10, a(), None, Status::Unset);
            two.attributes = vec![KeyValue::new("a", 1_i64), KeyValue::new("b", text.clone())];
            two.events.events.clear();
            two.links.links.clear();
            for data in [span, bare, nested, two] {
                let want = ScopeSpans {
                    spans: vec![super::super::span_otlp::span(data.clone(), 0)],
                    ..Default::default()
                }
                .encode_to_vec();
                assert_eq!(encoded(&data), want, "{len} bytes");
                checked += 1;
            }
        }
        assert_eq!(checked, 64);
    }

    /// Extra fields (the Application Signals attributes, encoded apart) are
    /// the span's own attributes after its others: decoded, the converted
    /// span with them appended, for a bare span and one with an
    /// attribute, the whole on each side of 127/128 and 16,383/16,384 bytes
    /// (two bytes of room then: used, shrunk to one, grown to three).
    #[test]
    fn extra_fields_on_each_side_of_the_varint_boundaries() {
        let mut prefixes = std::collections::BTreeSet::new();
        for len in (0..=80).chain((16_200..=16_400).step_by(5)) {
            let added = vec![opentelemetry_proto::tonic::common::v1::KeyValue {
                key: "aws.local.operation".into(),
                value: Some(AnyValue {
                    value: Some(any_value::Value::StringValue("o".repeat(len))),
                }),
                ..Default::default()
            }];
            let mut extra = Vec::new();
            for kv in &added {
                prost::encoding::message::encode(9, kv, &mut extra);
            }
            let mut bare = data(11, scope("lib-a", None), None, Status::Unset);
            bare.attributes.clear();
            bare.events.events.clear();
            bare.links.links.clear();
            bare.name = Cow::Borrowed("s");
            let mut one = bare.clone();
            one.attributes = vec![KeyValue::new("http.response.status_code", 200_i64)];
            for data in [bare, one] {
                let mut span = super::super::span_otlp::span(data.clone(), 0);
                span.attributes.extend(added.iter().cloned());
                let body = span.encoded_len();
                let want = ScopeSpans {
                    spans: vec![span],
                    ..Default::default()
                };
                let mut got = Vec::new();
                append_span(&data, SpanTimes::of(&data), 2, &extra, &mut got);
                let decoded = ScopeSpans::decode(got.as_slice()).expect("decodes");
                assert_eq!(decoded, want, "{len} bytes");
                // The same fields in another order: as long as prost's bytes
                // only when the span's length takes its fewest bytes.
                assert_eq!(got.len(), want.encoded_len(), "{len} bytes");
                prefixes.insert((got.len() - 1 - body, body));
            }
        }
        // Each length on both sides of each boundary.
        for (bytes, below, above) in [(1, 127, 128), (2, 16_383, 16_384)] {
            assert!(prefixes.contains(&(bytes, below)), "{below}: {prefixes:?}");
            assert!(prefixes.contains(&(bytes + 1, above)), "{above}");
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
            append_span(data, SpanTimes::of(data), 2, &[], &mut out);
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
