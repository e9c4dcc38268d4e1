//! A batch of encoded spans: appended to as spans end, turned into the
//! one OTLP batch type for the exporter.

use opentelemetry::InstrumentationScope;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::ScopeSpans;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use prost::Message as _;

use super::super::span_otlp::{same_scope, under_resource};

/// The largest emptied group buffer kept for reuse.
pub(super) const SPARE_KEEP: usize = 4 * 1024 * 1024;

/// Encoded spans, grouped by instrumentation scope in order of first
/// appearance (what the SDK edge's conversion gives).
#[derive(Debug, Default)]
pub(super) struct Batch {
    groups: Vec<Group>,
    /// Spans in the batch.
    pub(super) spans: usize,
}

#[derive(Debug)]
struct Group {
    scope: InstrumentationScope,
    /// `ScopeSpans.spans` fields (tag 2), one after another.
    spans: Vec<u8>,
}

impl Batch {
    /// Appends one encoded span to its scope's group (a new group, from a
    /// `spare` buffer when there is one, for a scope not seen in this batch).
    pub(super) fn push(
        &mut self,
        scope: &InstrumentationScope,
        bytes: &[u8],
        spare: &mut Vec<Vec<u8>>,
    ) {
        let at = self.groups.iter().position(|g| same_scope(&g.scope, scope));
        let group = match at {
            Some(i) => i,
            None => {
                self.groups.push(Group {
                    scope: scope.clone(),
                    spans: spare.pop().unwrap_or_default(),
                });
                self.groups.len() - 1
            }
        };
        if let Some(g) = self.groups.get_mut(group) {
            g.spans.extend_from_slice(bytes);
        }
        self.spans += 1;
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
