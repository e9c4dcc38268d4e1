//! A batch of encoded spans: appended to as spans end, turned into the
//! one OTLP batch type for the exporter, decoded or in its encoding.

use opentelemetry::InstrumentationScope;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::InstrumentationScope as ProtoScope;
use opentelemetry_proto::tonic::trace::v1::ScopeSpans;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use prost::Message as _;
use prost::encoding::{encode_varint, encoded_len_varint};

use super::super::EncodedTraces;
use super::super::span_otlp::{same_scope, under_resource};

/// The largest emptied group buffer kept for reuse. Each lane keeps up to
/// two (`SPARE_BUFFERS`), so eight busy lanes hold at most 16 MiB of them;
/// a batch of 512 spans of a few hundred bytes is ~200 KiB, and a larger
/// buffer is let go and grown again for the next batch.
pub(super) const SPARE_KEEP: usize = 1024 * 1024;

/// Encoded spans, grouped by instrumentation scope in order of first
/// appearance (what the SDK edge's conversion gives).
#[derive(Debug, Default)]
pub(super) struct Batch {
    /// The lane it was filled in (its buffers go back there once exported).
    pub(super) lane: usize,
    groups: Vec<Group>,
    /// Spans in the batch.
    pub(super) spans: usize,
    /// The longest span's bytes (its field's key and length included).
    largest: usize,
}

#[derive(Debug)]
struct Group {
    scope: InstrumentationScope,
    /// `ScopeSpans.spans` fields (tag 2), one after another.
    spans: Vec<u8>,
}

impl Batch {
    /// Appends one encoded span to its scope's group (a new group, from a
    /// `spare` buffer when there is one, else a new one of `room` bytes, for
    /// a scope not seen in this batch).
    pub(super) fn push(
        &mut self,
        scope: &InstrumentationScope,
        bytes: &[u8],
        spare: &mut Vec<Vec<u8>>,
        room: usize,
    ) {
        let at = self.groups.iter().position(|g| same_scope(&g.scope, scope));
        let group = match at {
            Some(i) => i,
            None => {
                self.groups.push(Group {
                    scope: scope.clone(),
                    spans: spare
                        .pop()
                        .unwrap_or_else(|| Vec::with_capacity(room.max(bytes.len()))),
                });
                self.groups.len() - 1
            }
        };
        if let Some(g) = self.groups.get_mut(group) {
            g.spans.extend_from_slice(bytes);
        }
        self.spans += 1;
        self.largest = self.largest.max(bytes.len());
    }

    /// Appends `other`'s spans, group by group (a group of a scope this
    /// batch has is appended to its group, whose buffer then goes to
    /// `spare`).
    pub(super) fn append(&mut self, other: Batch, spare: &mut Vec<Vec<u8>>) {
        for mut group in other.groups {
            match self
                .groups
                .iter_mut()
                .find(|g| same_scope(&g.scope, &group.scope))
            {
                Some(g) => {
                    g.spans.extend_from_slice(&group.spans);
                    if group.spans.capacity() <= SPARE_KEEP {
                        group.spans.clear();
                        spare.push(group.spans);
                    }
                }
                None => self.groups.push(group),
            }
        }
        self.spans += other.spans;
        self.largest = self.largest.max(other.largest);
    }

    /// The batch as the encoding of the one OTLP batch type: the bytes
    /// prost's `encode_to_vec` gives for [`Batch::into_request`]'s request
    /// (the same fields in the same order: the resource, then each scope's
    /// `ScopeSpans` with its scope, its spans as they were appended and its
    /// schema URL, then the resource's schema URL), written around the
    /// spans' own bytes without decoding them. Each group's buffer,
    /// emptied, goes to `spare`.
    pub(super) fn into_encoded(
        self,
        resource: &ResourceAttributesWithSchema,
        spare: &mut Vec<Vec<u8>>,
    ) -> EncodedTraces {
        /// A length-delimited field's key (wire type 2) and length prefix.
        fn head(tag: u32, len: usize, out: &mut Vec<u8>) {
            encode_varint(u64::from(tag << 3 | 2), out);
            encode_varint(len as u64, out);
        }
        fn field_len(len: usize) -> usize {
            1 + encoded_len_varint(len as u64) + len
        }
        fn string_field(tag: u32, s: &str, out: &mut Vec<u8>) {
            if !s.is_empty() {
                head(tag, s.len(), out);
                out.extend_from_slice(s.as_bytes());
            }
        }
        let opt_len = |s: &str| if s.is_empty() { 0 } else { field_len(s.len()) };
        let resource_bytes = under_resource(resource, Vec::new())
            .resource
            .unwrap_or_default()
            .encode_to_vec();
        let resource_schema = resource.schema_url.as_deref().unwrap_or_default();
        let scopes: Vec<Vec<u8>> = self
            .groups
            .iter()
            .map(|g| ProtoScope::from((&g.scope, None)).encode_to_vec())
            .collect();
        let scope_spans_len = |scope: &[u8], group: &Group| {
            let schema = group.scope.schema_url().unwrap_or_default();
            field_len(scope.len()) + group.spans.len() + opt_len(schema)
        };
        let mut resource_spans_len = field_len(resource_bytes.len()) + opt_len(resource_schema);
        for (scope, group) in scopes.iter().zip(&self.groups) {
            resource_spans_len += field_len(scope_spans_len(scope, group));
        }
        let mut body = Vec::with_capacity(field_len(resource_spans_len));
        head(1, resource_spans_len, &mut body);
        head(1, resource_bytes.len(), &mut body);
        body.extend_from_slice(&resource_bytes);
        for (scope, mut group) in scopes.iter().zip(self.groups) {
            head(2, scope_spans_len(scope, &group), &mut body);
            head(1, scope.len(), &mut body);
            body.extend_from_slice(scope);
            body.extend_from_slice(&group.spans);
            string_field(3, group.scope.schema_url().unwrap_or_default(), &mut body);
            if group.spans.capacity() <= SPARE_KEEP {
                group.spans.clear();
                spare.push(group.spans);
            }
        }
        string_field(3, resource_schema, &mut body);
        EncodedTraces::new(body, self.spans, self.largest)
    }

    /// The batch as the one OTLP batch type: the spans decoded from their
    /// bytes (by prost, as any other OTLP input is), each scope's group one
    /// `ScopeSpans`, under `resource`; `headroom` more attributes of room
    /// in each span (see [`crate::export::BatchExporter::span_attribute_headroom`]).
    /// Each group's buffer, emptied, goes to `spare`.
    pub(super) fn into_request(
        self,
        resource: &ResourceAttributesWithSchema,
        headroom: usize,
        spare: &mut Vec<Vec<u8>>,
    ) -> Result<ExportTraceServiceRequest, prost::DecodeError> {
        let mut scope_spans = Vec::with_capacity(self.groups.len());
        for mut group in self.groups {
            // The group's bytes are `ScopeSpans.spans` fields: a
            // `ScopeSpans` message without its scope.
            let mut decoded = ScopeSpans::decode(group.spans.as_slice())?;
            if headroom > 0 {
                for span in &mut decoded.spans {
                    span.attributes.reserve_exact(headroom);
                }
            }
            decoded.schema_url = group.scope.schema_url().unwrap_or_default().to_owned();
            decoded.scope = Some((&group.scope, None).into());
            scope_spans.push(decoded);
            if group.spans.capacity() <= SPARE_KEEP {
                group.spans.clear();
                spare.push(group.spans);
            }
        }
        Ok(ExportTraceServiceRequest {
            resource_spans: vec![under_resource(resource, scope_spans)],
        })
    }
}
