//! Translation between OTLP spans and X-Ray segment documents (issue 6;
//! spec `xray.md`, "Segment documents" and "OTel span → segment
//! translation").
//!
//! - [`to_segments`]: an OTLP batch → one JSON document per span (a
//!   segment, or an independent subsegment with `type: "subsegment"`),
//!   each at most [`MAX_DOCUMENT_BYTES`]; what PutTraceSegments and the
//!   daemon take.
//! - [`from_segment`]: one X-Ray document (legacy SDK traffic on UDP 2000)
//!   → an OTLP batch, nested subsegments flattened into child spans.
//!   [`InProgressBuffer`] holds `in_progress` documents until they complete
//!   or time out. A document is rejected only without a usable
//!   `trace_id`/`id`: any other unreadable field is coerced or skipped,
//!   counted ([`Repairs`], from the `*_repaired` variants) and logged at
//!   debug.
//!
//! Segments record their resource in `default` metadata as
//! `otel.resource.<key>` ([`RESOURCE_PREFIX`]; indexable as annotations on
//! request), and it comes back as the resource.
//!
//! X-Ray has no field for a span's own name when the segment is named after
//! a service, nor for its kind or status when the document's shape and
//! flags do not imply them; those go into the metadata namespace
//! [`ROUNDTRIP_NAMESPACE`] (`otel`), only when needed, so span → segment →
//! span gives the same span back (ids, parentage, times to the µs, name,
//! kind, status, http, annotations, metadata).
//!
//! Not carried: span events other than exceptions, links, trace state,
//! trace flags, instrumentation scope and dropped-counts (X-Ray has no place
//! for them).

mod annotations;
mod attrs;
mod aws;
mod cause;
pub mod document;
mod from_segment;
mod http;
mod index;
mod metadata;
mod names;
mod size;
mod sql;
mod stack;
mod to_segment;

pub use annotations::{
    ANNOTATIONS_ATTRIBUTE, DEFAULT_NAMESPACE, IndexedKeys, MAX_ANNOTATIONS, MAX_KEY_CHARS,
    MAX_VALUE_CHARS, METADATA_PREFIX, sanitize_key,
};
pub use aws::{RESOURCE_PREFIX, RETRIES_ATTRIBUTE, ResourceInfo, origin, resource_info};
pub use cause::{
    EXCEPTION_CAUSE_ATTRIBUTE, EXCEPTION_ID_ATTRIBUTE, EXCEPTION_REMOTE_ATTRIBUTE,
    EXCEPTION_SKIPPED_ATTRIBUTE, EXCEPTION_TRUNCATED_ATTRIBUTE, MAX_STACK_FRAMES,
};
pub use document::{AnnotationValue, Segment};
pub use from_segment::{
    IN_PROGRESS_ATTRIBUTE, InProgressBuffer, Repairs, SCOPE_NAME, from_segment,
    from_segment_repaired, from_segment_value, parse_segment, parse_segment_repaired,
    segment_to_spans, segments_into_request, segments_into_request_repaired, segments_to_request,
};
pub use http::{TRACED_ATTRIBUTE, X_FORWARDED_FOR_ATTRIBUTE, flags};
pub use metadata::{Metadata, OtelNamespace};
pub use names::{FALLBACK_NAME, MAX_NAME_CHARS, sanitize_name};
pub use size::MAX_DOCUMENT_BYTES;
pub use sql::{
    DATABASE_VERSION_ATTRIBUTE, DRIVER_VERSION_ATTRIBUTE, PREPARATION_ATTRIBUTE, SQL_SYSTEMS,
    is_sql_system,
};
pub use stack::StackLanguage;
pub use to_segment::{span_to_segment, to_segment_documents, to_segments};

/// Serialises a document, trimmed to `opts.max_document_bytes` (metadata
/// first, largest entries first; never ids, times or annotations).
pub fn encode_segment(
    doc: &mut Segment,
    opts: &TranslateOptions,
) -> Result<String, TranslateError> {
    size::encode_within(doc, opts.max_document_bytes)
}

/// Metadata namespace holding what X-Ray cannot say itself, for the way
/// back: `span_name`, `span_kind`, `status_code`, `status_message`.
pub const ROUNDTRIP_NAMESPACE: &str = "otel";

/// How spans become documents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TranslateOptions {
    /// Attributes indexed as annotations besides those the span lists in
    /// `aws.xray.annotations`.
    pub indexed: IndexedKeys,
    /// Largest document in bytes (X-Ray: 64 KiB).
    pub max_document_bytes: usize,
}

impl Default for TranslateOptions {
    fn default() -> Self {
        Self {
            indexed: IndexedKeys::default(),
            max_document_bytes: MAX_DOCUMENT_BYTES,
        }
    }
}

/// Why a span or a document could not be translated.
#[derive(Debug, thiserror::Error)]
pub enum TranslateError {
    /// The span's ids are not X-Ray-shaped.
    #[error("span {span_id} cannot become a segment: {reason}")]
    InvalidSpan {
        /// The span id as hex (may be empty).
        span_id: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// Still over the size limit after trimming metadata, stacks and long strings.
    #[error(
        "segment {id} is {bytes} bytes after trimming metadata; X-Ray accepts at most 64 KiB (reduce the span's annotations)"
    )]
    TooLarge {
        /// The segment id.
        id: String,
        /// Its size after trimming.
        bytes: usize,
    },
    /// JSON encoding failed.
    #[error("cannot encode the segment document: {0}")]
    Encode(String),
    /// The input is not JSON of the segment document's shape.
    #[error("not an X-Ray segment document: {0}")]
    Parse(String),
    /// A required field is missing or malformed.
    #[error("invalid X-Ray segment document: {0}")]
    InvalidDocument(String),
}
