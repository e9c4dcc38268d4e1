//! Protobuf decoding of an OTLP traces body ([`ExportTraceServiceRequest`])
//! straight into prost's structs, the one traces batch type.
//!
//! Why this is hand-written: prost's generated `merge` grows every repeated
//! field one push at a time (a 512-span scope reallocates and copies its span
//! array eight times, a span's seven attributes twice) and reads each string
//! through its generic buffer path. The sidecar spent about 40 % of its CPU
//! in prost's decode (docs/benchmarks.md, "Application Signals processor").
//! Here each message's body is a slice: its repeated fields are counted with
//! one pass over its keys and allocated once at their size, strings are
//! copied from the slice, and a span's attribute vector can be given room
//! for attributes a processor will add (`span_attribute_headroom`), so
//! writing them later does not reallocate.
//!
//! prost is the reference: the result is the same value prost's
//! `Message::decode` gives, and the same bodies are refused — merge rules
//! (a repeated field appends, a scalar or string field read twice keeps the
//! last, an optional message read twice is merged, a oneof keeps the last
//! variant and merges a repeated one of the same message kind), unknown
//! fields skipped (groups included), wire types checked on known fields,
//! varints of at most ten bytes, UTF-8 checked on strings and prost's
//! recursion limit of 100 nested messages. The tests compare the two on
//! generated requests and on thousands of damaged bodies.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, EntityRef, InstrumentationScope, KeyValue, KeyValueList, any_value,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};

/// prost's limit on nested messages (`prost::RECURSION_LIMIT`).
const RECURSION_LIMIT: u32 = 100;

const VARINT: u8 = 0;
const FIXED64: u8 = 1;
const LEN: u8 = 2;
const START_GROUP: u8 = 3;
const END_GROUP: u8 = 4;
const FIXED32: u8 = 5;

/// Why a body is not an `ExportTraceServiceRequest`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("failed to decode Protobuf message: {message}: {problem}")]
pub struct ProtoError {
    /// The message being read when it failed (`Span`, `KeyValue`, …).
    pub message: &'static str,
    /// What was wrong.
    pub problem: Problem,
}

/// What was wrong with the bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// A varint longer than ten bytes, or cut off.
    #[error("invalid varint")]
    InvalidVarint,
    /// A field key above `u32::MAX`.
    #[error("invalid key value")]
    InvalidKey,
    /// Wire type 6 or 7.
    #[error("invalid wire type value")]
    InvalidWireType,
    /// Field number 0.
    #[error("invalid tag value: 0")]
    InvalidTag,
    /// A known field with another wire type than its own.
    #[error("invalid wire type for field {field}")]
    WireTypeMismatch {
        /// The field number.
        field: u32,
    },
    /// A length or fixed-size value past the end of its message.
    #[error("buffer underflow")]
    BufferUnderflow,
    /// A string field that is not UTF-8.
    #[error("invalid string value: data is not UTF-8 encoded")]
    InvalidUtf8,
    /// An end-group key without its start, or for another field.
    #[error("unexpected end group tag")]
    UnexpectedEndGroup,
    /// More than 100 nested messages.
    #[error("recursion limit reached")]
    RecursionLimit,
}

/// How [`decode_traces`] sizes what it allocates.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DecodeOptions {
    /// Room left in each span's attribute vector for attributes a processor
    /// will add (the Application Signals processor writes up to six).
    pub span_attribute_headroom: usize,
}

/// A loop over one message's fields: `$r` reads the body, each arm gets
/// `(field, wire)`; unknown fields are skipped, errors name `$name`.
macro_rules! fields {
    ($name:literal, $body:expr, $depth:expr, |$r:ident, $field:ident, $wire:ident| { $($arm:tt)* }) => {{
        let mut $r = Reader::new($body, $name, $depth);
        while !$r.done() {
            let ($field, $wire) = $r.key()?;
            #[allow(unreachable_patterns)]
            match $field {
                $($arm)*
                _ => $r.skip($field, $wire)?,
            }
        }
        Ok(())
    }};
}

/// Decodes a protobuf `ExportTraceServiceRequest`: the value prost's
/// `Message::decode` gives for `body`, or an error where prost refuses it.
pub fn decode_traces(
    body: &[u8],
    options: DecodeOptions,
) -> Result<ExportTraceServiceRequest, ProtoError> {
    let d = Decoder { options };
    let mut req = ExportTraceServiceRequest::default();
    let [n] = count(body, [1]);
    req.resource_spans.reserve_exact(n);
    let decoded: Result<(), ProtoError> = fields!("ExportTraceServiceRequest", body, RECURSION_LIMIT, |r, field, wire| {
        1 => r.push(field, wire, &mut req.resource_spans, |rs, b, depth| {
            d.resource_spans(rs, b, depth)
        })?,
    });
    decoded.map(|()| req)
}

/// How many fields of each of `tags` the message body holds (a first pass
/// over its keys, for the vectors' capacities). A body that does not parse
/// stops the count; decoding it reports the error.
fn count<const N: usize>(body: &[u8], tags: [u32; N]) -> [usize; N] {
    let mut counts = [0; N];
    // Depth does not matter to a count: skipped as if at the top.
    let mut r = Reader::new(body, "", RECURSION_LIMIT);
    while !r.done() {
        let Ok((field, wire)) = r.key() else { break };
        if let Some(i) = tags.iter().position(|t| *t == field) {
            counts[i] += 1;
        }
        if r.skip(field, wire).is_err() {
            break;
        }
    }
    counts
}

/// A cursor over one message body: the message's name (for errors) and
/// what prost calls the recursion count of its fields (100 for the
/// request's, one less per level; a nested message needs more than 0).
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    message: &'static str,
    depth: u32,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8], message: &'static str, depth: u32) -> Self {
        Self {
            buf,
            pos: 0,
            message,
            depth,
        }
    }

    #[inline]
    fn done(&self) -> bool {
        self.pos >= self.buf.len()
    }

    /// `problem`, found in this message.
    #[inline]
    fn fail(&self, problem: Problem) -> ProtoError {
        ProtoError {
            message: self.message,
            problem,
        }
    }

    /// A base-128 varint of at most ten bytes (the tenth at most 1), as
    /// prost reads it.
    #[inline]
    fn varint(&mut self) -> Result<u64, ProtoError> {
        let rest = &self.buf[self.pos.min(self.buf.len())..];
        match rest.first() {
            Some(&b) if b < 0x80 => {
                self.pos += 1;
                return Ok(u64::from(b));
            }
            None => return Err(self.fail(Problem::InvalidVarint)),
            Some(_) => {}
        }
        let mut value = 0u64;
        for (i, &b) in rest.iter().take(10).enumerate() {
            value |= u64::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                if i == 9 && b >= 2 {
                    return Err(self.fail(Problem::InvalidVarint));
                }
                self.pos += i + 1;
                return Ok(value);
            }
        }
        Err(self.fail(Problem::InvalidVarint))
    }

    /// A field key: (field number, wire type).
    #[inline]
    fn key(&mut self) -> Result<(u32, u8), ProtoError> {
        let key = self.varint()?;
        let key = u32::try_from(key).map_err(|_| self.fail(Problem::InvalidKey))?;
        let wire = (key & 7) as u8;
        if wire > FIXED32 {
            return Err(self.fail(Problem::InvalidWireType));
        }
        let field = key >> 3;
        if field == 0 {
            return Err(self.fail(Problem::InvalidTag));
        }
        Ok((field, wire))
    }

    #[inline]
    fn expect(&self, field: u32, wire: u8, want: u8) -> Result<(), ProtoError> {
        if wire == want {
            Ok(())
        } else {
            Err(self.fail(Problem::WireTypeMismatch { field }))
        }
    }

    /// `n` bytes.
    #[inline]
    fn take(&mut self, n: u64) -> Result<&'a [u8], ProtoError> {
        let rest = self.buf.len() - self.pos;
        if n > rest as u64 {
            return Err(self.fail(Problem::BufferUnderflow));
        }
        let start = self.pos;
        self.pos += n as usize;
        Ok(&self.buf[start..self.pos])
    }

    /// A length-delimited field's bytes.
    #[inline]
    fn delimited(&mut self, field: u32, wire: u8) -> Result<&'a [u8], ProtoError> {
        self.expect(field, wire, LEN)?;
        let len = self.varint()?;
        self.take(len)
    }

    /// A nested message field, decoded by `decode` (one level down) into
    /// `into`: a message read twice is merged, as prost does.
    #[inline]
    fn merge<T>(
        &mut self,
        field: u32,
        wire: u8,
        into: &mut T,
        decode: impl FnOnce(&mut T, &[u8], u32) -> Result<(), ProtoError>,
    ) -> Result<(), ProtoError> {
        self.expect(field, wire, LEN)?;
        if self.depth == 0 {
            return Err(self.fail(Problem::RecursionLimit));
        }
        let len = self.varint()?;
        let body = self.take(len)?;
        decode(into, body, self.depth - 1)
    }

    /// One element of a repeated message field, decoded by `decode`.
    #[inline]
    fn push<T: Default>(
        &mut self,
        field: u32,
        wire: u8,
        to: &mut Vec<T>,
        decode: impl FnOnce(&mut T, &[u8], u32) -> Result<(), ProtoError>,
    ) -> Result<(), ProtoError> {
        let mut value = T::default();
        self.merge(field, wire, &mut value, decode)?;
        to.push(value);
        Ok(())
    }

    #[inline]
    fn string(&mut self, field: u32, wire: u8) -> Result<String, ProtoError> {
        let bytes = self.delimited(field, wire)?;
        std::str::from_utf8(bytes)
            .map(str::to_owned)
            .map_err(|_| self.fail(Problem::InvalidUtf8))
    }

    #[inline]
    fn bytes(&mut self, field: u32, wire: u8) -> Result<Vec<u8>, ProtoError> {
        self.delimited(field, wire).map(<[u8]>::to_vec)
    }

    #[inline]
    fn uint(&mut self, field: u32, wire: u8) -> Result<u64, ProtoError> {
        self.expect(field, wire, VARINT)?;
        self.varint()
    }

    #[inline]
    fn fixed64(&mut self, field: u32, wire: u8) -> Result<u64, ProtoError> {
        self.expect(field, wire, FIXED64)?;
        let b = self.take(8)?;
        let b: [u8; 8] = b
            .try_into()
            .map_err(|_| self.fail(Problem::BufferUnderflow))?;
        Ok(u64::from_le_bytes(b))
    }

    #[inline]
    fn fixed32(&mut self, field: u32, wire: u8) -> Result<u32, ProtoError> {
        self.expect(field, wire, FIXED32)?;
        let b = self.take(4)?;
        let b: [u8; 4] = b
            .try_into()
            .map_err(|_| self.fail(Problem::BufferUnderflow))?;
        Ok(u32::from_le_bytes(b))
    }

    /// Skips an unknown field (prost's `skip_field`: groups are walked to
    /// their end key, one level deeper per group). Inlined: [`count`] skips
    /// every field it does not count.
    #[inline]
    fn skip(&mut self, field: u32, wire: u8) -> Result<(), ProtoError> {
        if self.depth == 0 {
            return Err(self.fail(Problem::RecursionLimit));
        }
        let len = match wire {
            VARINT => {
                self.varint()?;
                0
            }
            FIXED32 => 4,
            FIXED64 => 8,
            LEN => self.varint()?,
            START_GROUP => return self.skip_group(field),
            _ => return Err(self.fail(Problem::UnexpectedEndGroup)),
        };
        self.take(len).map(|_| ())
    }

    /// The fields of a group up to its end key, one level deeper.
    #[cold]
    fn skip_group(&mut self, field: u32) -> Result<(), ProtoError> {
        self.depth -= 1;
        let skipped = loop {
            let (inner, inner_wire) = self.key()?;
            if inner_wire == END_GROUP {
                break if inner == field {
                    Ok(())
                } else {
                    Err(self.fail(Problem::UnexpectedEndGroup))
                };
            }
            self.skip(inner, inner_wire)?;
        };
        self.depth += 1;
        skipped
    }
}

/// Decodes the nested messages, merging into the value given as prost does.
struct Decoder {
    options: DecodeOptions,
}

impl Decoder {
    fn resource_spans(
        &self,
        rs: &mut ResourceSpans,
        body: &[u8],
        depth: u32,
    ) -> Result<(), ProtoError> {
        let [n] = count(body, [2]);
        rs.scope_spans.reserve_exact(n);
        fields!("ResourceSpans", body, depth, |r, field, wire| {
            1 => r.merge(field, wire, rs.resource.get_or_insert_with(Resource::default), |res, b, d| {
                self.resource(res, b, d)
            })?,
            2 => r.push(field, wire, &mut rs.scope_spans, |ss, b, d| self.scope_spans(ss, b, d))?,
            3 => rs.schema_url = r.string(field, wire)?,
        })
    }

    fn resource(&self, res: &mut Resource, body: &[u8], depth: u32) -> Result<(), ProtoError> {
        let [attrs, refs] = count(body, [1, 3]);
        res.attributes.reserve_exact(attrs);
        res.entity_refs.reserve_exact(refs);
        fields!("Resource", body, depth, |r, field, wire| {
            1 => r.push(field, wire, &mut res.attributes, |kv, b, d| self.key_value(kv, b, d))?,
            2 => res.dropped_attributes_count = r.uint(field, wire)? as u32,
            3 => r.push(field, wire, &mut res.entity_refs, entity_ref)?,
        })
    }

    fn scope_spans(&self, ss: &mut ScopeSpans, body: &[u8], depth: u32) -> Result<(), ProtoError> {
        let [n] = count(body, [2]);
        ss.spans.reserve_exact(n);
        fields!("ScopeSpans", body, depth, |r, field, wire| {
            1 => r.merge(field, wire, ss.scope.get_or_insert_with(InstrumentationScope::default), |s, b, d| {
                self.scope(s, b, d)
            })?,
            2 => r.push(field, wire, &mut ss.spans, |s, b, d| self.span(s, b, d))?,
            3 => ss.schema_url = r.string(field, wire)?,
        })
    }

    fn scope(
        &self,
        s: &mut InstrumentationScope,
        body: &[u8],
        depth: u32,
    ) -> Result<(), ProtoError> {
        let [attrs] = count(body, [3]);
        s.attributes.reserve_exact(attrs);
        fields!("InstrumentationScope", body, depth, |r, field, wire| {
            1 => s.name = r.string(field, wire)?,
            2 => s.version = r.string(field, wire)?,
            3 => r.push(field, wire, &mut s.attributes, |kv, b, d| self.key_value(kv, b, d))?,
            4 => s.dropped_attributes_count = r.uint(field, wire)? as u32,
        })
    }

    fn span(&self, s: &mut Span, body: &[u8], depth: u32) -> Result<(), ProtoError> {
        let [attrs, events, links] = count(body, [9, 11, 13]);
        s.attributes
            .reserve_exact(attrs + self.options.span_attribute_headroom);
        s.events.reserve_exact(events);
        s.links.reserve_exact(links);
        fields!("Span", body, depth, |r, field, wire| {
            1 => s.trace_id = r.bytes(field, wire)?,
            2 => s.span_id = r.bytes(field, wire)?,
            3 => s.trace_state = r.string(field, wire)?,
            4 => s.parent_span_id = r.bytes(field, wire)?,
            5 => s.name = r.string(field, wire)?,
            6 => s.kind = r.uint(field, wire)? as i32,
            7 => s.start_time_unix_nano = r.fixed64(field, wire)?,
            8 => s.end_time_unix_nano = r.fixed64(field, wire)?,
            9 => r.push(field, wire, &mut s.attributes, |kv, b, d| self.key_value(kv, b, d))?,
            10 => s.dropped_attributes_count = r.uint(field, wire)? as u32,
            11 => r.push(field, wire, &mut s.events, |e, b, d| self.event(e, b, d))?,
            12 => s.dropped_events_count = r.uint(field, wire)? as u32,
            13 => r.push(field, wire, &mut s.links, |l, b, d| self.link(l, b, d))?,
            14 => s.dropped_links_count = r.uint(field, wire)? as u32,
            15 => r.merge(field, wire, s.status.get_or_insert_with(Status::default), status)?,
            16 => s.flags = r.fixed32(field, wire)?,
        })
    }

    fn event(&self, e: &mut Event, body: &[u8], depth: u32) -> Result<(), ProtoError> {
        let [attrs] = count(body, [3]);
        e.attributes.reserve_exact(attrs);
        fields!("Event", body, depth, |r, field, wire| {
            1 => e.time_unix_nano = r.fixed64(field, wire)?,
            2 => e.name = r.string(field, wire)?,
            3 => r.push(field, wire, &mut e.attributes, |kv, b, d| self.key_value(kv, b, d))?,
            4 => e.dropped_attributes_count = r.uint(field, wire)? as u32,
        })
    }

    fn link(&self, l: &mut Link, body: &[u8], depth: u32) -> Result<(), ProtoError> {
        let [attrs] = count(body, [4]);
        l.attributes.reserve_exact(attrs);
        fields!("Link", body, depth, |r, field, wire| {
            1 => l.trace_id = r.bytes(field, wire)?,
            2 => l.span_id = r.bytes(field, wire)?,
            3 => l.trace_state = r.string(field, wire)?,
            4 => r.push(field, wire, &mut l.attributes, |kv, b, d| self.key_value(kv, b, d))?,
            5 => l.dropped_attributes_count = r.uint(field, wire)? as u32,
            6 => l.flags = r.fixed32(field, wire)?,
        })
    }

    fn key_value(&self, kv: &mut KeyValue, body: &[u8], depth: u32) -> Result<(), ProtoError> {
        fields!("KeyValue", body, depth, |r, field, wire| {
            1 => kv.key = r.string(field, wire)?,
            2 => r.merge(field, wire, kv.value.get_or_insert_with(AnyValue::default), |v, b, d| {
                self.any_value(v, b, d)
            })?,
            3 => kv.key_strindex = r.uint(field, wire)? as i32,
        })
    }

    /// The oneof: a scalar or string variant replaces whatever was there; an
    /// array or list read again is merged into the one already there.
    fn any_value(&self, v: &mut AnyValue, body: &[u8], depth: u32) -> Result<(), ProtoError> {
        use any_value::Value;
        fields!("AnyValue", body, depth, |r, field, wire| {
            1 => v.value = Some(Value::StringValue(r.string(field, wire)?)),
            2 => v.value = Some(Value::BoolValue(r.uint(field, wire)? != 0)),
            3 => v.value = Some(Value::IntValue(r.uint(field, wire)? as i64)),
            4 => v.value = Some(Value::DoubleValue(f64::from_bits(r.fixed64(field, wire)?))),
            5 => {
                if !matches!(v.value, Some(Value::ArrayValue(_))) {
                    v.value = Some(Value::ArrayValue(ArrayValue::default()));
                }
                if let Some(Value::ArrayValue(a)) = &mut v.value {
                    r.merge(field, wire, a, |a, b, d| self.array(a, b, d))?;
                }
            }
            6 => {
                if !matches!(v.value, Some(Value::KvlistValue(_))) {
                    v.value = Some(Value::KvlistValue(KeyValueList::default()));
                }
                if let Some(Value::KvlistValue(l)) = &mut v.value {
                    r.merge(field, wire, l, |l, b, d| self.kv_list(l, b, d))?;
                }
            }
            7 => v.value = Some(Value::BytesValue(r.bytes(field, wire)?)),
            8 => v.value = Some(Value::StringValueStrindex(r.uint(field, wire)? as i32)),
        })
    }

    fn array(&self, a: &mut ArrayValue, body: &[u8], depth: u32) -> Result<(), ProtoError> {
        let [n] = count(body, [1]);
        a.values.reserve_exact(n);
        fields!("ArrayValue", body, depth, |r, field, wire| {
            1 => r.push(field, wire, &mut a.values, |v, b, d| self.any_value(v, b, d))?,
        })
    }

    fn kv_list(&self, l: &mut KeyValueList, body: &[u8], depth: u32) -> Result<(), ProtoError> {
        let [n] = count(body, [1]);
        l.values.reserve_exact(n);
        fields!("KeyValueList", body, depth, |r, field, wire| {
            1 => r.push(field, wire, &mut l.values, |kv, b, d| self.key_value(kv, b, d))?,
        })
    }
}

fn entity_ref(e: &mut EntityRef, body: &[u8], depth: u32) -> Result<(), ProtoError> {
    fields!("EntityRef", body, depth, |r, field, wire| {
        1 => e.schema_url = r.string(field, wire)?,
        2 => e.r#type = r.string(field, wire)?,
        3 => e.id_keys.push(r.string(field, wire)?),
        4 => e.description_keys.push(r.string(field, wire)?),
    })
}

fn status(s: &mut Status, body: &[u8], depth: u32) -> Result<(), ProtoError> {
    fields!("Status", body, depth, |r, field, wire| {
        2 => s.message = r.string(field, wire)?,
        3 => s.code = r.uint(field, wire)? as i32,
    })
}

#[cfg(test)]
#[path = "proto_traces_tests.rs"]
mod tests;
