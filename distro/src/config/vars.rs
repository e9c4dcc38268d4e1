//! Every environment variable the distro reads (except the resource
//! detectors', which live with the detectors in [`crate::resource`], and
//! the sampler's and propagators', in [`crate::sampling`] and
//! [`crate::propagation`]).
//!
//! Precedence, written once: a value set in code (the [`crate::Builder`])
//! wins over a signal-specific variable (`OTEL_EXPORTER_OTLP_TRACES_*`),
//! which wins over the generic one (`OTEL_EXPORTER_OTLP_*`), which wins over
//! the default.

pub use crate::resource::{
    AWS_REGION, AWS_XRAY_TRACING_NAME, OTEL_RESOURCE_ATTRIBUTES, OTEL_SERVICE_NAME,
};

/// `true` disables the SDK entirely (OpenTelemetry standard).
pub const OTEL_SDK_DISABLED: &str = "OTEL_SDK_DISABLED";
/// `false` disables tracing (legacy aws-xray-sdk switch, honoured for migrations).
pub const AWS_XRAY_SDK_ENABLED: &str = "AWS_XRAY_SDK_ENABLED";
/// Comma-separated trace exporters: `otlp`, `console`, `file`, `xray`, `none`.
pub const OTEL_TRACES_EXPORTER: &str = "OTEL_TRACES_EXPORTER";
/// Path of the JSON-lines file the `file` exporter appends to.
pub const OTEL_AWS_TRACES_FILE: &str = "OTEL_AWS_TRACES_FILE";
/// `xray` exporter: comma-separated span attribute keys always indexed as
/// X-Ray annotations (besides those a span lists in `aws.xray.annotations`).
pub const OTEL_AWS_XRAY_INDEXED_ATTRIBUTES: &str = "OTEL_AWS_XRAY_INDEXED_ATTRIBUTES";
/// `xray` exporter: `true` indexes every string/number/bool attribute as an
/// annotation (at most 50 per document). Default `false`.
pub const OTEL_AWS_XRAY_INDEX_ALL_ATTRIBUTES: &str = "OTEL_AWS_XRAY_INDEX_ALL_ATTRIBUTES";
/// `xray` exporter: PutTraceSegments calls in flight at once (default 4).
pub const OTEL_AWS_XRAY_MAX_CONCURRENCY: &str = "OTEL_AWS_XRAY_MAX_CONCURRENCY";

/// Base OTLP endpoint; `/v1/traces` is appended for traces.
pub const OTEL_EXPORTER_OTLP_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
/// Traces OTLP endpoint, used as is.
pub const OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
/// Extra request headers for every OTLP export, `key=value,...`.
pub const OTEL_EXPORTER_OTLP_HEADERS: &str = "OTEL_EXPORTER_OTLP_HEADERS";
/// Extra request headers for trace exports (merged over the generic ones).
pub const OTEL_EXPORTER_OTLP_TRACES_HEADERS: &str = "OTEL_EXPORTER_OTLP_TRACES_HEADERS";
/// Per-request export timeout in milliseconds.
pub const OTEL_EXPORTER_OTLP_TIMEOUT: &str = "OTEL_EXPORTER_OTLP_TIMEOUT";
/// Per-request trace export timeout in milliseconds.
pub const OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: &str = "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT";
/// `gzip` or `none`.
pub const OTEL_EXPORTER_OTLP_COMPRESSION: &str = "OTEL_EXPORTER_OTLP_COMPRESSION";
/// `gzip` or `none`, for traces.
pub const OTEL_EXPORTER_OTLP_TRACES_COMPRESSION: &str = "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION";
/// gzip level of OTLP exports, 1 (fastest) to 9 (smallest); default in
/// [`crate::export::GzipLevel::DEFAULT`] (chosen by measurement).
pub const OTEL_AWS_EXPORTER_OTLP_COMPRESSION_LEVEL: &str =
    "OTEL_AWS_EXPORTER_OTLP_COMPRESSION_LEVEL";
/// `http/protobuf` or `http/json`.
pub const OTEL_EXPORTER_OTLP_PROTOCOL: &str = "OTEL_EXPORTER_OTLP_PROTOCOL";
/// `http/protobuf` or `http/json`, for traces.
pub const OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: &str = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL";

/// `true` signs OTLP requests with SigV4 for any endpoint (VPC endpoints, proxies).
pub const OTEL_AWS_SIGV4: &str = "OTEL_AWS_SIGV4";
/// SigV4 service name when signing is forced (default: the signal's
/// CloudWatch service, `xray`, `monitoring` or `logs`).
pub const OTEL_AWS_SIGV4_SERVICE: &str = "OTEL_AWS_SIGV4_SERVICE";
/// AWS region fallback (AWS CLI standard).
pub const AWS_DEFAULT_REGION: &str = "AWS_DEFAULT_REGION";

/// Delay between two batch exports, milliseconds (default 5000).
pub const OTEL_BSP_SCHEDULE_DELAY: &str = "OTEL_BSP_SCHEDULE_DELAY";
/// Maximum time an export may take, milliseconds (default 30000).
pub const OTEL_BSP_EXPORT_TIMEOUT: &str = "OTEL_BSP_EXPORT_TIMEOUT";
/// Maximum spans queued before new ones are dropped (default 2048).
pub const OTEL_BSP_MAX_QUEUE_SIZE: &str = "OTEL_BSP_MAX_QUEUE_SIZE";
/// Maximum spans per export (default 512, at most the queue size).
pub const OTEL_BSP_MAX_EXPORT_BATCH_SIZE: &str = "OTEL_BSP_MAX_EXPORT_BATCH_SIZE";

/// Generic attribute count limit (default 128).
pub const OTEL_ATTRIBUTE_COUNT_LIMIT: &str = "OTEL_ATTRIBUTE_COUNT_LIMIT";
/// Attributes per span (default: the generic limit).
pub const OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT: &str = "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT";
/// Events per span (default 128).
pub const OTEL_SPAN_EVENT_COUNT_LIMIT: &str = "OTEL_SPAN_EVENT_COUNT_LIMIT";
/// Links per span (default 128).
pub const OTEL_SPAN_LINK_COUNT_LIMIT: &str = "OTEL_SPAN_LINK_COUNT_LIMIT";
/// Attributes per span event (default 128).
pub const OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT: &str = "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT";
/// Attributes per span link (default 128).
pub const OTEL_LINK_ATTRIBUTE_COUNT_LIMIT: &str = "OTEL_LINK_ATTRIBUTE_COUNT_LIMIT";

/// Comma-separated metrics exporters: `otlp`, `awsemf`, `console`, `none` (default `none`).
pub const OTEL_METRICS_EXPORTER: &str = "OTEL_METRICS_EXPORTER";
/// Comma-separated logs exporters: `otlp`, `console`, `none` (default `none`).
pub const OTEL_LOGS_EXPORTER: &str = "OTEL_LOGS_EXPORTER";
/// Interval between two metric exports, milliseconds (default 60000).
pub const OTEL_METRIC_EXPORT_INTERVAL: &str = "OTEL_METRIC_EXPORT_INTERVAL";
/// Maximum time a metric export may take, milliseconds (default 30000).
pub const OTEL_METRIC_EXPORT_TIMEOUT: &str = "OTEL_METRIC_EXPORT_TIMEOUT";
/// `cumulative` (default), `delta` or `lowmemory` (OTLP and console metrics exporters).
pub const OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: &str =
    "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE";
/// `explicit_bucket_histogram` (default) or `base2_exponential_bucket_histogram`:
/// the aggregation of histogram instruments (every metrics exporter).
pub const OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION: &str =
    "OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION";
/// Metrics OTLP endpoint, used as is (else the base endpoint + `/v1/metrics`).
pub const OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT";
/// Extra request headers for metric exports (merged over the generic ones).
pub const OTEL_EXPORTER_OTLP_METRICS_HEADERS: &str = "OTEL_EXPORTER_OTLP_METRICS_HEADERS";
/// Per-request metric export timeout in milliseconds.
pub const OTEL_EXPORTER_OTLP_METRICS_TIMEOUT: &str = "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT";
/// `gzip` or `none`, for metrics.
pub const OTEL_EXPORTER_OTLP_METRICS_COMPRESSION: &str = "OTEL_EXPORTER_OTLP_METRICS_COMPRESSION";
/// `http/protobuf` or `http/json`, for metrics.
pub const OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: &str = "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL";
/// Logs OTLP endpoint, used as is (else the base endpoint + `/v1/logs`).
pub const OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT";
/// Extra request headers for log exports, merged over the generic ones. The
/// CloudWatch Logs endpoint needs `x-aws-log-group` and `x-aws-log-stream`
/// here; the `awsemf` metrics exporter also reads its log group, stream and
/// `x-aws-metric-namespace` from it (as the ADOT distributions do).
pub const OTEL_EXPORTER_OTLP_LOGS_HEADERS: &str = "OTEL_EXPORTER_OTLP_LOGS_HEADERS";
/// Per-request log export timeout in milliseconds.
pub const OTEL_EXPORTER_OTLP_LOGS_TIMEOUT: &str = "OTEL_EXPORTER_OTLP_LOGS_TIMEOUT";
/// `gzip` or `none`, for logs.
pub const OTEL_EXPORTER_OTLP_LOGS_COMPRESSION: &str = "OTEL_EXPORTER_OTLP_LOGS_COMPRESSION";
/// `http/protobuf` or `http/json`, for logs.
pub const OTEL_EXPORTER_OTLP_LOGS_PROTOCOL: &str = "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL";
/// `awsemf` exporter output: `stdout` (default on Lambda) or `cloudwatch`
/// (PutLogEvents, feature `cloudwatch-logs`; default elsewhere).
pub const OTEL_AWS_EMF_OUTPUT: &str = "OTEL_AWS_EMF_OUTPUT";
/// `awsemf` exporter: `dimension_rollup_option` (`NoDimensionRollup`,
/// `SingleDimensionRollupOnly`, `ZeroAndSingleDimensionRollup` (default)).
pub const OTEL_AWS_EMF_DIMENSION_ROLLUP: &str = "OTEL_AWS_EMF_DIMENSION_ROLLUP";
/// `awsemf` to CloudWatch: the CloudWatch Logs endpoint (the AWS SDKs'
/// service-specific endpoint variable; VPC endpoints, local tests).
pub const AWS_ENDPOINT_URL_CLOUDWATCH_LOGS: &str = "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS";
/// The CloudWatch Logs endpoint under the name issue 15 and some tools
/// use (`logs` is the service's SigV4 name); read after
/// [`AWS_ENDPOINT_URL_CLOUDWATCH_LOGS`], the AWS SDKs' own.
pub const AWS_ENDPOINT_URL_LOGS: &str = "AWS_ENDPOINT_URL_LOGS";
/// Every AWS service's endpoint (the AWS SDKs' variable); below
/// [`AWS_ENDPOINT_URL_CLOUDWATCH_LOGS`].
pub use crate::export::AWS_ENDPOINT_URL;
/// Where every CloudWatch Logs client (EMF, Application Signals, in the
/// distro, the sidecar and the Lambda extension) reads its endpoint
/// override, first set wins.
pub const LOGS_ENDPOINT_VARS: [&str; 3] = [
    AWS_ENDPOINT_URL_CLOUDWATCH_LOGS,
    AWS_ENDPOINT_URL_LOGS,
    AWS_ENDPOINT_URL,
];
/// Set by Lambda: the `awsemf` output defaults to stdout there.
pub const AWS_LAMBDA_FUNCTION_NAME: &str = "AWS_LAMBDA_FUNCTION_NAME";

/// Legacy X-Ray daemon address: `host:port` or `tcp:host:port udp:host:port`.
pub const AWS_XRAY_DAEMON_ADDRESS: &str = "AWS_XRAY_DAEMON_ADDRESS";
/// Legacy: what to do when code expects a trace context and there is none:
/// `LOG_ERROR` (default), `RUNTIME_ERROR`, `IGNORE_ERROR`.
pub const AWS_XRAY_CONTEXT_MISSING: &str = "AWS_XRAY_CONTEXT_MISSING";

/// Log line format of the distro's `tracing` subscriber: `json` (default) or `text`.
pub const OTEL_AWS_LOG_FORMAT: &str = "OTEL_AWS_LOG_FORMAT";
/// Standard `tracing` filter for the distro's subscriber (default `info`).
pub const RUST_LOG: &str = "RUST_LOG";
