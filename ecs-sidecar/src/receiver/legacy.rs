//! Legacy X-Ray segment documents (UDP 2000) on their two ways out:
//!
//! - **passed through** as they came to `awsxray` exporters (what the X-Ray
//!   daemon does, `in_progress` documents included): [`RawSegment`];
//! - **translated** to OTLP spans for every other exporter, `in_progress`
//!   documents held by the distro's [`InProgressBuffer`] until the completed
//!   document arrives or they time out: [`LegacyTranslator`].
//!
//! Which ways a receiver takes depends on the exporters of its pipeline
//! ([`LegacyMode`]), so an `awsxray`-only pipeline never parses a document
//! into spans.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use otel_aws_distro::receiver::Backpressure;
use otel_aws_distro::receiver::ExportTraceServiceRequest;
use otel_aws_distro::translate::{self, InProgressBuffer, TranslateError};
use serde::Deserialize;

use crate::processor::MemoryPermit;

/// Memory a held `in_progress` document is accounted for, per byte of its
/// JSON (the parsed document's strings and maps).
pub const HELD_BYTES_PER_JSON_BYTE: usize = 2;

/// Why a document was not taken.
#[derive(Debug, thiserror::Error)]
pub enum OfferError {
    /// Not a translatable document.
    #[error(transparent)]
    Translate(#[from] TranslateError),
    /// An `in_progress` document the memory limiter refused to hold.
    #[error("in-progress document not held: {}", .0.reason)]
    Refused(Backpressure),
}

/// How long an `in_progress` document is held before it is sent as an
/// in-progress span (the distro's default).
pub const IN_PROGRESS_TIMEOUT: Duration = Duration::from_secs(60);
/// Most `in_progress` documents held per receiver.
pub const MAX_IN_PROGRESS: usize = 10_000;

/// Which forms of a legacy document a pipeline needs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LegacyMode {
    /// Some exporter takes OTLP spans (`otlphttp`, `debug`, `file`).
    pub translate: bool,
    /// Some exporter takes segment documents (`awsxray`).
    pub passthrough: bool,
}

/// One segment document as it came (unchanged JSON) and its `id`, which
/// `PutTraceSegments` names in `UnprocessedTraceSegments`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawSegment {
    /// The document's `id`.
    pub id: String,
    /// The document, byte for byte as received.
    pub json: String,
}

#[derive(Deserialize)]
struct IdOnly {
    id: String,
}

impl RawSegment {
    /// Checks that `json` is a JSON object with a string `id` (the whole
    /// text is validated; nothing else is interpreted) and keeps it as is.
    pub fn parse(json: &str) -> Result<Self, TranslateError> {
        let IdOnly { id } =
            serde_json::from_str(json).map_err(|e| TranslateError::Parse(e.to_string()))?;
        Ok(Self {
            id,
            json: json.to_owned(),
        })
    }
}

/// Documents → OTLP spans, holding `in_progress` ones (each accounted
/// with the memory limiter while held).
#[derive(Debug)]
pub struct LegacyTranslator {
    buffer: InProgressBuffer,
    permits: HashMap<(String, String), MemoryPermit>,
    /// Fields coerced or skipped so far to read loosely typed documents.
    repaired: u64,
}

impl Default for LegacyTranslator {
    fn default() -> Self {
        Self::new(IN_PROGRESS_TIMEOUT, MAX_IN_PROGRESS)
    }
}

impl LegacyTranslator {
    /// A translator holding at most `max_held` in-progress documents for `timeout`.
    pub fn new(timeout: Duration, max_held: usize) -> Self {
        Self {
            buffer: InProgressBuffer::new(timeout, max_held),
            permits: HashMap::new(),
            repaired: 0,
        }
    }

    /// Translates one document received at `now`: `Ok(None)` while it is held
    /// (in progress), the spans of it otherwise. An `in_progress` document
    /// is accounted with `reserve` before it is held, and refused when that
    /// refuses.
    pub fn offer(
        &mut self,
        json: &str,
        now: Instant,
        reserve: impl FnOnce(usize) -> Result<Option<MemoryPermit>, Backpressure>,
    ) -> Result<Option<ExportTraceServiceRequest>, OfferError> {
        let (doc, repairs) = translate::parse_segment_repaired(json)?;
        self.repaired += u64::from(repairs.total());
        let key = (doc.trace_id.clone().unwrap_or_default(), doc.id.clone());
        // A later version (completed or in progress) replaces the held one.
        let replaced = self.permits.remove(&key);
        let permit = if doc.in_progress {
            match reserve(json.len().saturating_mul(HELD_BYTES_PER_JSON_BYTE)) {
                Ok(p) => p,
                Err(bp) => {
                    // The earlier version stays held, and accounted.
                    if let Some(r) = replaced {
                        self.permits.insert(key, r);
                    }
                    return Err(OfferError::Refused(bp));
                }
            }
        } else {
            None
        };
        drop(replaced);
        let Some(doc) = self.buffer.offer(doc, now) else {
            if let Some(p) = permit {
                self.permits.insert(key, p);
            }
            return Ok(None);
        };
        let (request, mut errors, repairs) = translate::segments_into_request_repaired([doc]);
        self.repaired += u64::from(repairs.total());
        match errors.pop() {
            Some(e) => Err(e.into()),
            None => Ok(Some(request)),
        }
    }

    fn release_permits(&mut self, held: &[translate::Segment]) {
        for doc in held {
            self.permits
                .remove(&(doc.trace_id.clone().unwrap_or_default(), doc.id.clone()));
        }
    }

    /// Spans of the documents held past the timeout at `now` (marked in
    /// progress by the distro), and how many documents failed to translate.
    pub fn expire(&mut self, now: Instant) -> (ExportTraceServiceRequest, usize) {
        let held = self.buffer.expire(now);
        self.release_permits(&held);
        let (request, errors) = translate::segments_into_request(held);
        (request, errors.len())
    }

    /// Everything held (shutdown), as [`LegacyTranslator::expire`].
    pub fn drain(&mut self) -> (ExportTraceServiceRequest, usize) {
        let held = self.buffer.drain();
        self.permits.clear();
        let (request, errors) = translate::segments_into_request(held);
        (request, errors.len())
    }

    /// Fields coerced or skipped so far to keep loosely typed documents
    /// (each logged at debug by the distro).
    pub fn repaired_fields(&self) -> u64 {
        self.repaired
    }

    /// Documents held.
    pub fn held(&self) -> usize {
        self.buffer.len()
    }

    /// Memory accounted to held documents.
    pub fn held_bytes(&self) -> u64 {
        self.permits.values().map(MemoryPermit::bytes).sum()
    }
}
