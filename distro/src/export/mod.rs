//! Exporters shared by the in-process SDK, the Lambda extension and the sidecar.
//!
//! Every exporter takes the one data shape, an OTLP
//! [`ExportTraceServiceRequest`]. In-process spans are converted once, at the
//! edge, by [`ProtoSpanExporter`] (an `opentelemetry_sdk` `SpanExporter`);
//! receivers hand their decoded requests straight to a [`BatchExporter`].
//!
//! - [`OtlpHttpExporter`]: OTLP/HTTP (protobuf or JSON, gzip or none),
//!   SigV4-signed for the X-Ray traces and CloudWatch Logs endpoints, with
//!   request splitting to the endpoint limits and retries with backoff.
//! - [`ConsoleExporter`]: one human-readable line per span.
//! - [`FileExporter`]: OTLP/JSON lines, one request per line.
//! - [`NoopExporter`]: drops everything (telemetry disabled).
//! - [`crate::emf::EmfExporter`] (`awsemf`): metrics as CloudWatch Embedded
//!   Metric Format documents, on stdout or through PutLogEvents.
//!
//! The meter and logger providers' data become the metrics and logs batch
//! types at the same edge: [`ProtoMetricExporter`], [`ProtoLogExporter`].
//!
//! [`build_exporter`] builds any of them from an [`ExporterSpec`] and a
//! [`CredentialStrategy`]: the one wiring every deployment adapts to.

use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

mod awsxray;
pub use awsxray::{
    ATTEMPT_TIMEOUT, AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_XRAY, AwsXrayConfig, AwsXrayExporter,
    DEFAULT_XRAY_CONCURRENCY, MAX_DOCUMENTS_PER_CALL, xray_endpoint_url,
};
mod build;
mod config;
mod console;
mod credentials;
mod encode;
pub(crate) mod endpoint;
mod file;
mod otlp_http;
pub(crate) mod proto_traces;
pub(crate) mod response;
pub(crate) mod retry;
mod sdk_exporters;
mod signals;
mod sigv4;
mod span_exporter;
pub(crate) mod span_otlp;
mod span_processor;
mod span_wire;
mod split;
mod stats;

pub use build::{
    AwsEmfSpec, AwsXraySpec, CredentialStrategy, DefaultChain, EmfCloudWatch, EmfDestination,
    ExporterSpec, build_exporter, signs,
};
pub use config::{Compression, GzipLevel, Limits, OtlpHttpConfig, Protocol, RetryPolicy, Signing};
pub use console::ConsoleExporter;
pub use credentials::{CachedCredentials, DEFAULT_REFRESH_MARGIN};
pub use encode::{
    EncodedBody, EncodedTraces, encode_request, encode_request_with_level, to_json_line,
};
pub(crate) use endpoint::check_sdk_client_target;
pub use endpoint::{AwsEndpoint, AwsEndpointKind, detect_aws_endpoint};
pub use file::FileExporter;
pub use otlp_http::OtlpHttpExporter;
pub use proto_traces::{TraceLengths, encode_measured, encode_traces};
pub use retry::{TokioSleep, backoff_ceiling, parse_retry_after};
pub use sdk_exporters::{ProtoLogExporter, ProtoMetricExporter};
pub use signals::{OtlpBatch, metric_points};
pub use sigv4::{SigningTarget, sign_request};
pub use span_exporter::{ProtoSpanExporter, batch_processor};
pub use span_otlp::{resource_spans, resource_spans_with_headroom};
pub use span_processor::{
    BatchSettings, EncodingBatchProcessor, LiveSpans, SpanAnnotator, SpanTimes,
};
pub use split::{SplitResult, span_count, split_measured, split_request};
pub use stats::{ExportStats, ExportStatsSnapshot};

/// Future returned by [`BatchExporter::export`].
pub type ExportFuture<'a> = BoxFuture<'a, Result<ExportOutcome, ExportError>>;

/// Something that ships OTLP batches somewhere: traces always, metrics and
/// logs when the exporter supports them (the default refuses them with
/// [`ExportError::Unsupported`]). [`ExportOutcome`]'s span counters count
/// the signal's items (data points, log records) for those.
///
/// Object safe: hold it as `Arc<dyn BatchExporter>` and choose the
/// implementation at run time.
pub trait BatchExporter: Send + Sync + Debug {
    /// Exports one batch. The exporter may split it into several requests and
    /// retries transient failures itself; the result says what happened.
    fn export(&self, batch: ExportTraceServiceRequest) -> ExportFuture<'_>;

    /// Whether [`BatchExporter::export_encoded`] sends the bytes as they are
    /// (an exporter whose wire format is OTLP protobuf). When it does not,
    /// the in-process batch processor decodes its batches and calls
    /// [`BatchExporter::export`] instead.
    fn takes_encoded(&self) -> bool {
        false
    }

    /// Exports one batch given in its protobuf encoding (same contract as
    /// [`BatchExporter::export`]). The default decodes it and calls `export`.
    fn export_encoded(&self, batch: EncodedTraces) -> ExportFuture<'_> {
        match batch.decode() {
            Ok(request) => self.export(request),
            Err(err) => Box::pin(async move {
                Err(ExportError::Encode(format!(
                    "an encoded traces batch did not decode: {err}"
                )))
            }),
        }
    }

    /// Exports one metrics batch (same contract as [`BatchExporter::export`]).
    fn export_metrics(&self, batch: ExportMetricsServiceRequest) -> ExportFuture<'_> {
        drop(batch);
        Box::pin(async { Err(ExportError::Unsupported { signal: "metrics" }) })
    }

    /// Exports one logs batch (same contract as [`BatchExporter::export`]).
    fn export_logs(&self, batch: ExportLogsServiceRequest) -> ExportFuture<'_> {
        drop(batch);
        Box::pin(async { Err(ExportError::Unsupported { signal: "logs" }) })
    }

    /// Flushes anything buffered. Exporters in this module do not buffer
    /// across calls, so the default does nothing.
    fn force_flush(&self) -> Result<(), ExportError> {
        Ok(())
    }

    /// Stops the exporter; later exports fail with [`ExportError::Shutdown`].
    fn shutdown(&self) -> Result<(), ExportError> {
        Ok(())
    }

    /// The exporter's counters, when it keeps any.
    fn stats(&self) -> Option<Arc<ExportStats>> {
        None
    }

    /// How many attributes this exporter adds to each span of a traces
    /// batch (the Application Signals wrapper): the SDK edge converts spans
    /// with that much room in their attribute vectors.
    fn span_attribute_headroom(&self) -> usize {
        0
    }

    /// The X-Ray API exporter this is, for callers that also pass legacy
    /// segment documents through it (the sidecar).
    fn into_awsxray(self: Arc<Self>) -> Option<Arc<AwsXrayExporter>> {
        None
    }
}

/// What one [`BatchExporter::export`] call did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExportOutcome {
    /// Requests that the destination accepted.
    pub requests: u32,
    /// Spans the destination accepted.
    pub spans_exported: u64,
    /// Spans dropped (over the per-span size limit, or rejected by the
    /// destination in a partial success).
    pub spans_dropped: u64,
    /// Retried attempts across all requests.
    pub retries: u32,
}

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The destination refused the request with a status that must not be
    /// retried (4xx other than 429).
    #[error("the endpoint rejected the batch with HTTP {status}: {message}")]
    Rejected {
        /// HTTP status code.
        status: u16,
        /// The message the endpoint returned, plus what to do about it.
        message: String,
    },
    /// Transient failures did not clear within the retry policy.
    #[error("gave up after {attempts} attempt(s): {reason}")]
    GaveUp {
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        reason: String,
    },
    /// A batch sent as several requests (over the per-request limits) was
    /// cut short: the first `delivered` items reached the destination, then
    /// `error` stopped the rest (an outage that outlasted the retries).
    #[error("{error} (after {delivered} item(s) of the batch were delivered)")]
    PartlyDelivered {
        /// Items the destination accepted before the failure.
        delivered: u64,
        /// What stopped the rest.
        error: Box<ExportError>,
    },
    /// Credentials for SigV4 signing could not be loaded.
    #[error(
        "cannot load AWS credentials for signing: {0} (configure the default chain: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, a role)"
    )]
    Credentials(String),
    /// Signing the request failed.
    #[error("cannot sign the request: {0}")]
    Signing(String),
    /// Encoding the request failed.
    #[error("cannot encode the request: {0}")]
    Encode(String),
    /// Writing to a file or stdout failed.
    #[error("cannot write spans: {0}")]
    Io(#[from] std::io::Error),
    /// The exporter was shut down.
    #[error("the exporter is shut down")]
    Shutdown,
    /// The exporter does not carry this signal.
    #[error("this exporter does not export {signal}")]
    Unsupported {
        /// `traces`, `metrics` or `logs`.
        signal: &'static str,
    },
}

/// Why an exporter could not be created.
#[derive(Debug, thiserror::Error)]
pub enum ExportConfigError {
    /// The endpoint is not an absolute http(s) URL.
    #[error(
        "invalid OTLP endpoint {endpoint:?}: {reason} (give a full URL such as https://xray.us-east-1.amazonaws.com/v1/traces)"
    )]
    InvalidEndpoint {
        /// The endpoint as given, without userinfo or query string
        /// ([`crate::config::redact::url`]).
        endpoint: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The endpoint override of an AWS API client (X-Ray, CloudWatch Logs)
    /// is not an absolute http(s) URL.
    #[error(
        "invalid {service} endpoint {endpoint:?}: it must be an absolute http(s) URL such as https://vpce-0123.{api}.us-east-1.vpce.amazonaws.com (set by {vars})"
    )]
    InvalidApiEndpoint {
        /// The API's name (`X-Ray`, `CloudWatch Logs`).
        service: &'static str,
        /// The API's host prefix in the example (`xray`, `logs`).
        api: &'static str,
        /// The variables that set it, in the order they are read.
        vars: &'static str,
        /// The endpoint as given, redacted.
        endpoint: String,
    },
    /// A header name or value is not valid HTTP.
    #[error("invalid OTLP header {name:?}: {reason}")]
    InvalidHeader {
        /// Header name.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Signing is needed but no region is known.
    #[error(
        "SigV4 signing is on for {endpoint} but no region is known: set AWS_REGION or use an endpoint with the region in its host"
    )]
    MissingRegion {
        /// The endpoint.
        endpoint: String,
    },
    /// The CloudWatch Logs endpoint needs the log group and stream headers.
    #[error(
        "the CloudWatch Logs OTLP endpoint {endpoint} needs both headers x-aws-log-group and x-aws-log-stream (set them in OTEL_EXPORTER_OTLP_LOGS_HEADERS); missing: {missing}"
    )]
    MissingLogHeaders {
        /// The endpoint.
        endpoint: String,
        /// The missing header names.
        missing: String,
    },
    /// Signing is needed but no credentials provider was given.
    #[error(
        "SigV4 signing is on for {endpoint} but no credentials provider was given: pass one or use OtlpHttpExporter::from_default_chain"
    )]
    MissingCredentials {
        /// The endpoint.
        endpoint: String,
    },
    /// The default credential chain found no provider.
    #[error(
        "the AWS default credential chain has no credentials provider (set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE or run with a role)"
    )]
    NoDefaultCredentials,
    /// A limit or retry setting is unusable.
    #[error("invalid exporter setting {name}: {reason}")]
    InvalidSetting {
        /// Setting name.
        name: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
    /// The output file could not be opened.
    #[error("cannot open {path}: {source}")]
    File {
        /// The path.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// An exporter that drops every batch (counted as exported).
#[derive(Clone, Debug, Default)]
pub struct NoopExporter;

impl NoopExporter {
    /// A new no-op exporter.
    pub fn new() -> Self {
        Self
    }
}

impl NoopExporter {
    fn drop_batch<B: OtlpBatch>(batch: B) -> ExportFuture<'static> {
        Self::dropped(batch.items())
    }

    /// What dropping `items` items reports: all of them "exported".
    fn dropped(items: usize) -> ExportFuture<'static> {
        let items = items as u64;
        Box::pin(async move {
            Ok(ExportOutcome {
                requests: 0,
                spans_exported: items,
                ..ExportOutcome::default()
            })
        })
    }
}

impl BatchExporter for NoopExporter {
    fn export(&self, batch: ExportTraceServiceRequest) -> ExportFuture<'_> {
        Self::drop_batch(batch)
    }

    /// Dropped as they are: nothing to decode for.
    fn takes_encoded(&self) -> bool {
        true
    }

    fn export_encoded(&self, batch: EncodedTraces) -> ExportFuture<'_> {
        Self::dropped(batch.spans())
    }

    fn export_metrics(&self, batch: ExportMetricsServiceRequest) -> ExportFuture<'_> {
        Self::drop_batch(batch)
    }

    fn export_logs(&self, batch: ExportLogsServiceRequest) -> ExportFuture<'_> {
        Self::drop_batch(batch)
    }
}

/// Default per-attempt timeout of [`OtlpHttpConfig`].
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
