//! OTLP metrics → CloudWatch Embedded Metric Format (EMF) log events, with
//! the semantics of the collector's `awsemf` exporter; shared by the
//! in-process `awsemf` exporter, the Lambda extension and the sidecar.
//!
//! [`EmfEncoder::encode`] (in `encoder`) takes the one metrics batch type,
//! [`ExportMetricsServiceRequest`], and returns [`EmfEvent`]s (one JSON
//! document each) plus [`EncodeStats`]; the point conversions are in
//! `points`, the documents in `document`, the cumulative state in `delta`:
//!
//! - gauges → numbers; sums → numbers, cumulative sums as deltas against
//!   the series' previous point (the first point is withheld unless
//!   `retain_initial_value_of_delta_metric`; a reset sends the new value);
//! - explicit-bucket histograms and summaries → statistic sets
//!   (`Max`/`Min`/`Count`/`Sum`); exponential histograms → `Values`/`Counts`
//!   distributions split at 100 buckets;
//! - data points with the same labels, timestamp, metric kind, namespace and
//!   log destination share a document; labels are the point's attributes,
//!   plus `OTelLib` (the scope name), plus the resource's attributes with
//!   `resource_to_telemetry_conversion`;
//! - dimension sets from `dimension_rollup_option` or `metric_declarations`;
//! - CloudWatch limits: ≤ 100 metrics per document, ≤ 30 names per dimension
//!   set, ≤ 1 MB per event. A point that cannot be converted (no recorded
//!   value, non-finite value, bucket counts that do not add up) is skipped
//!   and counted; the rest of the batch goes on.
//!
//! Deliberate differences from `awsemf` are listed in docs/distro.md
//! ("EMF").
//!
//! `PutLogEventsSender` (feature `cloudwatch-logs`) ships events to CloudWatch Logs; [`StdoutWriter`]
//! prints them one per line (how a Lambda function emits metrics).
//!
//! [`ExportMetricsServiceRequest`]: opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest

use std::sync::Arc;

mod calls;
mod config;
#[cfg(feature = "cloudwatch-logs")]
mod cwlogs;
mod delta;
mod document;
mod encoder;
mod exporter;
mod patterns;
mod points;
mod stdout;
#[cfg(test)]
pub(crate) mod tests;

pub use calls::{
    EVENT_OVERHEAD_BYTES, LogEvent, MAX_BYTES_PER_CALL, MAX_CALL_SPAN, MAX_EVENTS_PER_CALL,
    put_body, rejected_count, split_calls,
};
pub use config::{
    DimensionRollup, EmfConfig, EmfConfigError, LabelMatcher, MAX_DIMENSIONS_PER_SET,
    MetricDeclaration, MetricDescriptor,
};
#[cfg(feature = "cloudwatch-logs")]
pub use cwlogs::{
    ATTEMPT_TIMEOUT, DEFAULT_LOG_STREAM, MAX_EVENT_AGE, MAX_EVENT_FUTURE, PutLogEventsConfig,
    PutLogEventsSender, SendOutcome, SendStats,
};
pub use delta::{DEFAULT_MAX_SERIES, SERIES_TTL};
pub use document::{MAX_EVENT_BYTES, MAX_METRICS_PER_DOCUMENT};
pub use encoder::EmfEncoder;
pub use exporter::{EmfExporter, EmfOutput};
pub use points::{CLOUDWATCH_UNITS, EmfValue, MAX_VALUES_PER_HISTOGRAM, cloudwatch_unit};
pub use stdout::StdoutWriter;

use points::Invalid;

/// The label carrying the instrumentation scope name.
pub const OTEL_LIB_DIMENSION: &str = "OTelLib";
/// Namespace when neither the configuration nor the resource names one.
pub const DEFAULT_NAMESPACE: &str = "default";
/// Data point attribute setting a metric's `StorageResolution` (1 or 60);
/// not a dimension.
pub const STORAGE_RESOLUTION_ATTRIBUTE: &str = "aws.emf.storage_resolution";

/// Where an event goes in CloudWatch Logs.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LogDestination {
    /// Log group name.
    pub log_group: String,
    /// Log stream name (`None`: the sender's default stream).
    pub log_stream: Option<String>,
}

/// One EMF document, ready for PutLogEvents or stdout.
#[derive(Clone, Debug, PartialEq)]
pub struct EmfEvent {
    /// Milliseconds since the epoch (the document's `_aws.Timestamp`).
    pub timestamp_ms: i64,
    /// The JSON document.
    pub message: String,
    /// Where it goes.
    pub destination: Arc<LogDestination>,
}

/// What one [`EmfEncoder::encode`] call did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EncodeStats {
    /// Data points read.
    pub data_points: u64,
    /// Data points turned into EMF values.
    pub converted: u64,
    /// Points skipped: flagged "no recorded value".
    pub no_recorded_value: u64,
    /// Points skipped: NaN or infinite values.
    pub non_finite: u64,
    /// Points skipped: bucket counts that do not match the bounds or count.
    pub bad_buckets: u64,
    /// Points skipped: a number point without a value, or a metric without data.
    pub missing_value: u64,
    /// First points of cumulative series, withheld until a delta exists.
    pub first_cumulative: u64,
    /// Cumulative points of series the bounded delta state could not track.
    pub untracked_series: u64,
    /// Points whose metric name repeats within one document's group (the
    /// first is kept, as `awsemf` does).
    pub duplicates: u64,
    /// Metrics written as plain fields only: no declaration selects them or
    /// no dimension set remains.
    pub metrics_not_extracted: u64,
    /// Dimension sets over 30 names, left out.
    pub dimension_sets_dropped: u64,
    /// Documents written.
    pub events: u64,
    /// Documents dropped (over 1 MB with a single metric, or unwritable).
    pub events_dropped: u64,
    /// Of those, over the 1 MB event limit.
    pub oversized_events: u64,
}

impl EncodeStats {
    /// Points skipped because they cannot be converted.
    pub fn skipped(&self) -> u64 {
        self.no_recorded_value + self.non_finite + self.bad_buckets + self.missing_value
    }

    /// Points an exporter reports as dropped: the skipped ones, those over the
    /// series cap and duplicates. Withheld first cumulative points are not
    /// counted: they are the baseline, not lost.
    pub fn dropped(&self) -> u64 {
        self.skipped() + self.untracked_series + self.duplicates
    }

    /// Adds `other` into `self`.
    pub fn add(&mut self, other: &EncodeStats) {
        let Self {
            data_points,
            converted,
            no_recorded_value,
            non_finite,
            bad_buckets,
            missing_value,
            first_cumulative,
            untracked_series,
            duplicates,
            metrics_not_extracted,
            dimension_sets_dropped,
            events,
            events_dropped,
            oversized_events,
        } = other;
        self.data_points += data_points;
        self.converted += converted;
        self.no_recorded_value += no_recorded_value;
        self.non_finite += non_finite;
        self.bad_buckets += bad_buckets;
        self.missing_value += missing_value;
        self.first_cumulative += first_cumulative;
        self.untracked_series += untracked_series;
        self.duplicates += duplicates;
        self.metrics_not_extracted += metrics_not_extracted;
        self.dimension_sets_dropped += dimension_sets_dropped;
        self.events += events;
        self.events_dropped += events_dropped;
        self.oversized_events += oversized_events;
    }

    fn invalid(&mut self, why: Invalid) {
        match why {
            Invalid::NoRecordedValue => self.no_recorded_value += 1,
            Invalid::NonFinite => self.non_finite += 1,
            Invalid::Buckets => self.bad_buckets += 1,
            Invalid::Missing => self.missing_value += 1,
        }
    }
}

/// What [`EmfEncoder::encode`] returns.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EmfBatch {
    /// The documents, in the order their groups first appeared.
    pub events: Vec<EmfEvent>,
    /// What happened to the points.
    pub stats: EncodeStats,
}
