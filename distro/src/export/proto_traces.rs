//! Protobuf encoding of a traces batch ([`ExportTraceServiceRequest`]) that
//! computes the length of each nested message once.
//!
//! Why this is hand-written: prost's generated `encode` writes a nested
//! message as key, length, body and takes the length from the child's
//! `encoded_len`, which walks the child's own children; prost keeps no
//! length cache, so a span's attributes are walked once per level above them
//! (request, resource spans, scope spans, span, key-value, value) before they
//! are written. The sidecar's exporter spent about a seventh of its CPU in
//! those sums (docs/benchmarks.md, "Application Signals processor").
//!
//! Here a first pass ([`TraceLengths::measure`]) walks the request once and
//! records the body length of every message that holds a repeated field
//! (resource spans, resource, entity ref, scope spans, scope, span, event,
//! link, array and key-value-list values) in the order the writer meets them;
//! the write pass reads them back in that order. Messages of fixed shape
//! (key-values with a scalar value, scalar values, status) are measured again
//! where they are written: a few additions, no walk.
//!
//! prost's `encode_to_vec` is the reference: the output is the same bytes
//! (fields in tag order, proto3 scalars and strings skipped when they hold
//! their default, present optional messages written even when empty, oneof
//! values always written), which the tests check against prost on chosen
//! edge cases and on generated requests.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, EntityRef, InstrumentationScope, KeyValue, KeyValueList, any_value,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use prost::Message as _;

/// Bytes of `v` as a base-128 varint (prost's formula).
#[inline]
fn varint_len(v: u64) -> usize {
    ((((v | 1).leading_zeros() ^ 63) * 9 + 73) / 64) as usize
}

/// A length-delimited field with a one-byte key (every field number here but
/// span flags is below 16): key, length prefix, body.
#[inline]
fn delimited(len: usize) -> usize {
    1 + varint_len(len as u64) + len
}

/// A string or bytes field, skipped when empty.
#[inline]
fn bytes_field(b: &[u8]) -> usize {
    if b.is_empty() { 0 } else { delimited(b.len()) }
}

/// A varint field (uint32, int32, enum; an int32 is sign-extended to 64
/// bits), skipped when zero.
#[inline]
fn varint_field(v: u64) -> usize {
    if v == 0 { 0 } else { 1 + varint_len(v) }
}

/// A fixed64 field, skipped when zero.
#[inline]
fn fixed64_field(v: u64) -> usize {
    if v == 0 { 0 } else { 9 }
}

fn status_len(s: &Status) -> usize {
    bytes_field(s.message.as_bytes()) + varint_field(s.code as u64)
}

/// The body length of a value, when it holds no array or key-value list.
/// `Err` carries the nested list that has a recorded length.
#[inline]
fn scalar_value_len(v: &AnyValue) -> Result<usize, Nested<'_>> {
    use any_value::Value;
    Ok(match &v.value {
        None => 0,
        // Oneof members are written whatever their value.
        Some(Value::StringValue(s)) => delimited(s.len()),
        Some(Value::BoolValue(_)) => 2,
        Some(Value::IntValue(i)) => 1 + varint_len(*i as u64),
        Some(Value::DoubleValue(_)) => 9,
        Some(Value::BytesValue(b)) => delimited(b.len()),
        Some(Value::StringValueStrindex(i)) => 1 + varint_len(*i as u64),
        Some(Value::ArrayValue(a)) => return Err(Nested::Array(a)),
        Some(Value::KvlistValue(l)) => return Err(Nested::KvList(l)),
    })
}

/// An array or key-value-list value (its length is recorded).
enum Nested<'a> {
    Array(&'a ArrayValue),
    KvList(&'a KeyValueList),
}

/// The lengths of one request's nested messages, from [`TraceLengths::measure`].
#[derive(Clone, Debug, Default)]
pub struct TraceLengths {
    /// Body lengths in the writer's order.
    slots: Vec<usize>,
    /// The request's encoded length.
    total: usize,
}

impl TraceLengths {
    /// Measures `req` (one walk).
    pub fn measure(req: &ExportTraceServiceRequest) -> Self {
        Self::measure_with_spans(req, &mut |_| {})
    }

    /// [`TraceLengths::measure`], calling `on_span` with each span's encoded
    /// length in request order (what [`crate::export::split_request`] needs).
    pub(crate) fn measure_with_spans(
        req: &ExportTraceServiceRequest,
        on_span: &mut impl FnMut(usize),
    ) -> Self {
        let mut m = Self::default();
        let mut total = 0;
        for rs in &req.resource_spans {
            total += delimited(m.resource_spans(rs, on_span));
        }
        m.total = total;
        m
    }

    /// The request's encoded length.
    pub fn encoded_len(&self) -> usize {
        self.total
    }

    /// Reserves a slot for a message's length, filled by [`Self::close`].
    #[inline]
    fn open(&mut self) -> usize {
        self.slots.push(0);
        self.slots.len() - 1
    }

    #[inline]
    fn close(&mut self, slot: usize, len: usize) -> usize {
        if let Some(s) = self.slots.get_mut(slot) {
            *s = len;
        }
        len
    }

    fn resource_spans(&mut self, rs: &ResourceSpans, on_span: &mut impl FnMut(usize)) -> usize {
        let slot = self.open();
        let mut n = rs
            .resource
            .as_ref()
            .map_or(0, |r| delimited(self.resource(r)));
        for ss in &rs.scope_spans {
            n += delimited(self.scope_spans(ss, on_span));
        }
        n += bytes_field(rs.schema_url.as_bytes());
        self.close(slot, n)
    }

    fn resource(&mut self, r: &Resource) -> usize {
        let slot = self.open();
        let mut n = self.key_values(&r.attributes);
        n += varint_field(u64::from(r.dropped_attributes_count));
        for e in &r.entity_refs {
            n += delimited(self.entity_ref(e));
        }
        self.close(slot, n)
    }

    fn entity_ref(&mut self, e: &EntityRef) -> usize {
        let slot = self.open();
        let n = bytes_field(e.schema_url.as_bytes())
            + bytes_field(e.r#type.as_bytes())
            + e.id_keys.iter().map(|k| delimited(k.len())).sum::<usize>()
            + e.description_keys
                .iter()
                .map(|k| delimited(k.len()))
                .sum::<usize>();
        self.close(slot, n)
    }

    fn scope_spans(&mut self, ss: &ScopeSpans, on_span: &mut impl FnMut(usize)) -> usize {
        let slot = self.open();
        let mut n = ss.scope.as_ref().map_or(0, |s| delimited(self.scope(s)));
        for (i, span) in ss.spans.iter().enumerate() {
            if let Some(next) = ss.spans.get(i + 1) {
                prefetch_slice(&next.attributes);
            }
            let len = self.span(span);
            on_span(len);
            n += delimited(len);
        }
        n += bytes_field(ss.schema_url.as_bytes());
        self.close(slot, n)
    }

    fn scope(&mut self, s: &InstrumentationScope) -> usize {
        let slot = self.open();
        let n = bytes_field(s.name.as_bytes())
            + bytes_field(s.version.as_bytes())
            + self.key_values(&s.attributes)
            + varint_field(u64::from(s.dropped_attributes_count));
        self.close(slot, n)
    }

    fn span(&mut self, s: &Span) -> usize {
        let slot = self.open();
        let mut n = bytes_field(&s.trace_id)
            + bytes_field(&s.span_id)
            + bytes_field(s.trace_state.as_bytes())
            + bytes_field(&s.parent_span_id)
            + bytes_field(s.name.as_bytes())
            + varint_field(s.kind as u64)
            + fixed64_field(s.start_time_unix_nano)
            + fixed64_field(s.end_time_unix_nano);
        n += self.key_values(&s.attributes);
        n += varint_field(u64::from(s.dropped_attributes_count));
        for e in &s.events {
            n += delimited(self.event(e));
        }
        n += varint_field(u64::from(s.dropped_events_count));
        for l in &s.links {
            n += delimited(self.link(l));
        }
        n += varint_field(u64::from(s.dropped_links_count));
        n += s.status.as_ref().map_or(0, |st| delimited(status_len(st)));
        // flags: field 16, a two-byte key and four bytes.
        if s.flags != 0 {
            n += 2 + 4;
        }
        self.close(slot, n)
    }

    fn event(&mut self, e: &Event) -> usize {
        let slot = self.open();
        let n = fixed64_field(e.time_unix_nano)
            + bytes_field(e.name.as_bytes())
            + self.key_values(&e.attributes)
            + varint_field(u64::from(e.dropped_attributes_count));
        self.close(slot, n)
    }

    fn link(&mut self, l: &Link) -> usize {
        let slot = self.open();
        let n = bytes_field(&l.trace_id)
            + bytes_field(&l.span_id)
            + bytes_field(l.trace_state.as_bytes())
            + self.key_values(&l.attributes)
            + varint_field(u64::from(l.dropped_attributes_count))
            + if l.flags != 0 { 5 } else { 0 };
        self.close(slot, n)
    }

    /// A repeated key-value field: each element's key, length and body.
    #[inline]
    fn key_values(&mut self, kvs: &[KeyValue]) -> usize {
        kvs.iter().map(|kv| delimited(self.key_value(kv))).sum()
    }

    #[inline]
    fn key_value(&mut self, kv: &KeyValue) -> usize {
        bytes_field(kv.key.as_bytes())
            + kv.value.as_ref().map_or(0, |v| delimited(self.value(v)))
            + varint_field(kv.key_strindex as u64)
    }

    #[inline]
    fn value(&mut self, v: &AnyValue) -> usize {
        match scalar_value_len(v) {
            Ok(n) => n,
            Err(Nested::Array(a)) => delimited(self.array(a)),
            Err(Nested::KvList(l)) => delimited(self.kv_list(l)),
        }
    }

    fn array(&mut self, a: &ArrayValue) -> usize {
        let slot = self.open();
        let n = a.values.iter().map(|v| delimited(self.value(v))).sum();
        self.close(slot, n)
    }

    fn kv_list(&mut self, l: &KeyValueList) -> usize {
        let slot = self.open();
        let n = self.key_values(&l.values);
        self.close(slot, n)
    }
}

/// Encodes `req` as protobuf: the bytes of prost's `encode_to_vec`, each
/// nested length computed once.
pub fn encode_traces(req: &ExportTraceServiceRequest) -> Vec<u8> {
    encode_measured(req, &TraceLengths::measure(req))
}

/// Encodes `req` with the lengths `measure` recorded for it. Lengths that
/// do not fit `req` (measured for another request) are detected after the
/// write, and the request is then encoded by prost instead.
pub fn encode_measured(req: &ExportTraceServiceRequest, lengths: &TraceLengths) -> Vec<u8> {
    write(req, lengths).unwrap_or_else(|| req.encode_to_vec())
}

/// The write pass; `None` when `lengths` do not fit `req`.
fn write(req: &ExportTraceServiceRequest, lengths: &TraceLengths) -> Option<Vec<u8>> {
    let mut w = Writer {
        buf: Vec::with_capacity(lengths.total),
        slots: &lengths.slots,
        next: 0,
    };
    for rs in &req.resource_spans {
        w.resource_spans(rs);
    }
    (w.next == lengths.slots.len() && w.buf.len() == lengths.total).then_some(w.buf)
}

/// The write pass: reads the recorded lengths in the order they were recorded.
struct Writer<'a> {
    buf: Vec<u8>,
    slots: &'a [usize],
    next: usize,
}

impl Writer<'_> {
    /// The next recorded length (0 past the end: a mismatch that
    /// [`encode_measured`] detects once the write is done).
    #[inline]
    fn take(&mut self) -> usize {
        let len = self.slots.get(self.next).copied().unwrap_or(0);
        self.next += 1;
        len
    }

    #[inline]
    fn peek(&self) -> usize {
        self.slots.get(self.next).copied().unwrap_or(0)
    }

    #[inline]
    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.buf.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.buf.push(v as u8);
    }

    /// A nested message's key and its recorded length.
    #[inline]
    fn nested(&mut self, key: u8) {
        let len = self.take();
        self.header(key, len);
    }

    /// A length-delimited field written even when empty (a repeated string's
    /// element, a oneof member).
    #[inline]
    fn always(&mut self, key: u8, b: &[u8]) {
        self.header(key, b.len());
        self.buf.extend_from_slice(b);
    }

    /// A length-delimited field's key and length prefix.
    #[inline]
    fn header(&mut self, key: u8, len: usize) {
        self.buf.push(key);
        self.varint(len as u64);
    }

    #[inline]
    fn bytes(&mut self, key: u8, b: &[u8]) {
        if !b.is_empty() {
            self.always(key, b);
        }
    }

    #[inline]
    fn uint(&mut self, key: u8, v: u64) {
        if v != 0 {
            self.buf.push(key);
            self.varint(v);
        }
    }

    #[inline]
    fn fixed64(&mut self, key: u8, v: u64) {
        if v != 0 {
            self.buf.push(key);
            self.buf.extend_from_slice(&v.to_le_bytes());
        }
    }

    fn resource_spans(&mut self, rs: &ResourceSpans) {
        self.nested(0x0a);
        if let Some(r) = &rs.resource {
            self.resource(r);
        }
        for ss in &rs.scope_spans {
            self.scope_spans(ss);
        }
        self.bytes(0x1a, rs.schema_url.as_bytes());
    }

    fn resource(&mut self, r: &Resource) {
        self.nested(0x0a);
        self.key_values(0x0a, &r.attributes);
        self.uint(0x10, u64::from(r.dropped_attributes_count));
        for e in &r.entity_refs {
            self.nested(0x1a);
            self.bytes(0x0a, e.schema_url.as_bytes());
            self.bytes(0x12, e.r#type.as_bytes());
            // Repeated strings: every element, empty or not.
            for k in &e.id_keys {
                self.always(0x1a, k.as_bytes());
            }
            for k in &e.description_keys {
                self.always(0x22, k.as_bytes());
            }
        }
    }

    fn scope_spans(&mut self, ss: &ScopeSpans) {
        self.nested(0x12);
        if let Some(s) = &ss.scope {
            self.nested(0x0a);
            self.bytes(0x0a, s.name.as_bytes());
            self.bytes(0x12, s.version.as_bytes());
            self.key_values(0x1a, &s.attributes);
            self.uint(0x20, u64::from(s.dropped_attributes_count));
        }
        for span in &ss.spans {
            self.span(span);
        }
        self.bytes(0x1a, ss.schema_url.as_bytes());
    }

    fn span(&mut self, s: &Span) {
        self.nested(0x12);
        self.bytes(0x0a, &s.trace_id);
        self.bytes(0x12, &s.span_id);
        self.bytes(0x1a, s.trace_state.as_bytes());
        self.bytes(0x22, &s.parent_span_id);
        self.bytes(0x2a, s.name.as_bytes());
        self.uint(0x30, s.kind as u64);
        self.fixed64(0x39, s.start_time_unix_nano);
        self.fixed64(0x41, s.end_time_unix_nano);
        self.key_values(0x4a, &s.attributes);
        self.uint(0x50, u64::from(s.dropped_attributes_count));
        for e in &s.events {
            self.nested(0x5a);
            self.fixed64(0x09, e.time_unix_nano);
            self.bytes(0x12, e.name.as_bytes());
            self.key_values(0x1a, &e.attributes);
            self.uint(0x20, u64::from(e.dropped_attributes_count));
        }
        self.uint(0x60, u64::from(s.dropped_events_count));
        for l in &s.links {
            self.nested(0x6a);
            self.bytes(0x0a, &l.trace_id);
            self.bytes(0x12, &l.span_id);
            self.bytes(0x1a, l.trace_state.as_bytes());
            self.key_values(0x22, &l.attributes);
            self.uint(0x28, u64::from(l.dropped_attributes_count));
            if l.flags != 0 {
                self.buf.push(0x35);
                self.buf.extend_from_slice(&l.flags.to_le_bytes());
            }
        }
        self.uint(0x70, u64::from(s.dropped_links_count));
        if let Some(st) = &s.status {
            self.header(0x7a, status_len(st));
            self.bytes(0x12, st.message.as_bytes());
            self.uint(0x18, st.code as u64);
        }
        if s.flags != 0 {
            // Field 16, wire type fixed32: key 133 as a varint.
            self.buf.extend_from_slice(&[0x85, 0x01]);
            self.buf.extend_from_slice(&s.flags.to_le_bytes());
        }
    }

    /// The body length of `v`: computed for a scalar, recorded (next slot)
    /// for an array or list.
    #[inline]
    fn value_len(&self, v: &AnyValue) -> usize {
        scalar_value_len(v).unwrap_or_else(|_| delimited(self.peek()))
    }

    #[inline]
    fn key_values(&mut self, key: u8, kvs: &[KeyValue]) {
        for kv in kvs {
            let value_len = kv.value.as_ref().map(|v| self.value_len(v));
            let len = bytes_field(kv.key.as_bytes())
                + value_len.map_or(0, delimited)
                + varint_field(kv.key_strindex as u64);
            self.header(key, len);
            self.bytes(0x0a, kv.key.as_bytes());
            if let (Some(v), Some(value_len)) = (&kv.value, value_len) {
                self.header(0x12, value_len);
                self.value(v);
            }
            self.uint(0x18, kv.key_strindex as u64);
        }
    }

    /// A value's body (its key and length are written by the caller).
    fn value(&mut self, v: &AnyValue) {
        use any_value::Value;
        match &v.value {
            None => {}
            Some(Value::StringValue(s)) => self.always(0x0a, s.as_bytes()),
            Some(Value::BoolValue(b)) => self.buf.extend_from_slice(&[0x10, u8::from(*b)]),
            Some(Value::IntValue(i)) => {
                self.buf.push(0x18);
                self.varint(*i as u64);
            }
            Some(Value::DoubleValue(d)) => {
                self.buf.push(0x21);
                self.buf.extend_from_slice(&d.to_le_bytes());
            }
            Some(Value::ArrayValue(a)) => {
                self.nested(0x2a);
                for item in &a.values {
                    let item_len = self.value_len(item);
                    self.header(0x0a, item_len);
                    self.value(item);
                }
            }
            Some(Value::KvlistValue(l)) => {
                self.nested(0x32);
                self.key_values(0x0a, &l.values);
            }
            Some(Value::BytesValue(b)) => self.always(0x3a, b),
            Some(Value::StringValueStrindex(i)) => {
                self.buf.push(0x40);
                self.varint(*i as u64);
            }
        }
    }
}

/// Asks the processor to start loading `items` into its caches (a hint;
/// nothing else happens). The measuring walk reads every span's attribute
/// array once, each a separate allocation the hardware prefetcher does not
/// follow from the previous span's.
#[inline]
fn prefetch_slice<T>(items: &[T]) {
    #[cfg(target_arch = "x86_64")]
    {
        use core::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        let bytes = std::mem::size_of_val(items);
        let base = items.as_ptr().cast::<i8>();
        for offset in (0..bytes).step_by(64) {
            // SAFETY: a prefetch never faults and reads nothing the program
            // sees; every address is inside `items`.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(base.wrapping_add(offset)) };
        }
    }
    // aarch64's prefetch intrinsic is not stable Rust yet: no hint there.
    #[cfg(not(target_arch = "x86_64"))]
    let _ = items;
}

#[cfg(test)]
#[path = "proto_traces_tests.rs"]
pub(crate) mod tests;
