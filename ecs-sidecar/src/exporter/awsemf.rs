//! `awsemf` exporter: OTLP metrics → CloudWatch Embedded Metric Format
//! documents (the distro's [`EmfEncoder`]) → CloudWatch Logs through the
//! distro's [`PutLogEventsSender`] (which creates a missing stream, and the
//! group when the stream's creation finds it missing), or one line each on
//! stdout with `output_destination: stdout`.
//!
//! The client: region from `region`, else `AWS_REGION`; endpoint from
//! `endpoint`, else `AWS_ENDPOINT_URL_LOGS`, else `AWS_ENDPOINT_URL`, else the
//! regional CloudWatch Logs endpoint; credentials from the sidecar's
//! [`CredentialsSource`] (the task role on ECS); per-attempt timeout
//! `request_timeout_seconds`, `max_retries` retries with backoff.
//!
//! This is an adapter from the collector dialect to the distro's encoder and
//! sender; once the distro's own `awsemf` exporter spec lands in
//! `export/build.rs` the sidecar should build through it instead.

use std::time::Duration;

use aws_sdk_cloudwatchlogs::config::timeout::TimeoutConfig;
use aws_sdk_cloudwatchlogs::config::{BehaviorVersion, Region};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use otel_aws_distro::Env;
use otel_aws_distro::emf::{EmfEncoder, PutLogEventsConfig, PutLogEventsSender, StdoutWriter};
use otel_aws_distro::export::{
    BatchExporter, ExportError, ExportFuture, ExportOutcome, RetryPolicy,
};
use otel_aws_distro::receiver::ExportTraceServiceRequest;

use crate::config::awsemf::{
    DEFAULT_LOG_STREAM, DEFAULT_MAX_RETRIES, DEFAULT_REQUEST_TIMEOUT_SECONDS,
};
use crate::config::{AwsEmfExporter as Settings, OutputDestination};
use crate::extension::sigv4auth::CredentialsSource;

/// CloudWatch Logs endpoint override for every SDK (AWS SDKs' service-specific variable).
pub const AWS_ENDPOINT_URL_LOGS: &str = "AWS_ENDPOINT_URL_LOGS";
/// Endpoint override for every service.
pub const AWS_ENDPOINT_URL: &str = "AWS_ENDPOINT_URL";

/// Where the documents go.
#[derive(Debug)]
enum Output {
    Stdout(StdoutWriter),
    CloudWatch(PutLogEventsSender),
}

/// Encodes metrics batches as EMF and writes or sends them.
#[derive(Debug)]
pub struct EmfExporter {
    id: String,
    encoder: EmfEncoder,
    output: Output,
}

/// Why the exporter could not be built.
#[derive(Debug, thiserror::Error)]
pub enum EmfBuildError {
    /// No region for CloudWatch Logs.
    #[error("no region for CloudWatch Logs: set region or AWS_REGION")]
    NoRegion,
    /// The settings were refused (regular expressions, endpoint).
    #[error("{0}")]
    Settings(String),
    /// No credentials.
    #[error(transparent)]
    Credentials(#[from] crate::extension::sigv4auth::CredentialsError),
}

/// The CloudWatch Logs endpoint: the setting, else `AWS_ENDPOINT_URL_LOGS`,
/// else `AWS_ENDPOINT_URL`; `None`: the regional endpoint.
pub fn logs_endpoint(cfg: &Settings, env: &Env) -> Option<String> {
    cfg.endpoint
        .as_ref()
        .map(|e| e.as_str().to_owned())
        .or_else(|| env.get(AWS_ENDPOINT_URL_LOGS).map(str::to_owned))
        .or_else(|| env.get(AWS_ENDPOINT_URL).map(str::to_owned))
        .filter(|e| !e.trim().is_empty())
}

impl EmfExporter {
    /// Builds exporter `id` from its settings (credentials loaded only for
    /// `output_destination: cloudwatch`).
    pub async fn build(
        id: &str,
        cfg: &Settings,
        creds: &CredentialsSource,
    ) -> Result<Self, EmfBuildError> {
        let encoder = EmfEncoder::new(cfg.emf_config())
            .map_err(|e| EmfBuildError::Settings(e.to_string()))?;
        for field in cfg.ignored() {
            tracing::warn!(exporter = %id, field, "awsemf: field accepted but ignored by this build");
        }
        let output = match cfg.output_destination {
            OutputDestination::Stdout => Output::Stdout(StdoutWriter::new()),
            OutputDestination::CloudWatch => {
                let region = cfg
                    .region
                    .clone()
                    .or_else(|| creds.default_region())
                    .ok_or(EmfBuildError::NoRegion)?;
                let endpoint = logs_endpoint(cfg, creds.env());
                let timeout = Duration::from_secs(
                    cfg.request_timeout_seconds
                        .unwrap_or(DEFAULT_REQUEST_TIMEOUT_SECONDS),
                );
                let mut conf = aws_sdk_cloudwatchlogs::Config::builder()
                    .behavior_version(BehaviorVersion::latest())
                    .region(Region::new(region.clone()))
                    .credentials_provider(creds.provider().await?)
                    .timeout_config(
                        TimeoutConfig::builder()
                            .operation_attempt_timeout(timeout)
                            .build(),
                    );
                if let Some(url) = &endpoint {
                    conf = conf.endpoint_url(url);
                }
                let put = PutLogEventsConfig {
                    default_log_stream: DEFAULT_LOG_STREAM.to_owned(),
                    create_log_group: true,
                    create_log_stream: true,
                    retry: RetryPolicy {
                        max_attempts: cfg.max_retries.unwrap_or(DEFAULT_MAX_RETRIES) + 1,
                        ..RetryPolicy::default()
                    },
                };
                let sender = PutLogEventsSender::new(
                    aws_sdk_cloudwatchlogs::Client::from_conf(conf.build()),
                    put,
                )
                .map_err(|e| EmfBuildError::Settings(e.to_string()))?;
                tracing::info!(
                    exporter = %id,
                    %region,
                    endpoint = ?endpoint.as_deref().map(otel_aws_distro::config::redact::RedactedUrl),
                    "awsemf exporter: PutLogEvents"
                );
                Output::CloudWatch(sender)
            }
        };
        Ok(Self {
            id: id.to_owned(),
            encoder,
            output,
        })
    }

    async fn export_batch(
        &self,
        batch: ExportMetricsServiceRequest,
    ) -> Result<ExportOutcome, ExportError> {
        let encoded = self.encoder.encode(&batch);
        drop(batch);
        let s = &encoded.stats;
        // Withheld first cumulative points are not lost: they are the baseline.
        let skipped = s.skipped() + s.untracked_series + s.duplicates;
        if skipped > 0 || s.events_dropped > 0 {
            tracing::debug!(
                exporter = %self.id,
                skipped,
                events_dropped = s.events_dropped,
                "awsemf: data points skipped (no recorded value, non-finite, bad buckets, untracked, duplicate) or documents dropped (over 1 MB)"
            );
        }
        let converted = s.converted;
        let n = encoded.events.len() as u64;
        if n == 0 {
            return Ok(ExportOutcome {
                requests: 0,
                spans_exported: 0,
                spans_dropped: skipped,
                retries: 0,
            });
        }
        let (requests, sent, retries) = match &self.output {
            Output::Stdout(w) => {
                w.write(&encoded.events).map_err(ExportError::Io)?;
                (1, n, 0)
            }
            Output::CloudWatch(sender) => {
                let o = sender.send(encoded.events).await?;
                (o.calls, o.events_sent, o.retries)
            }
        };
        // Points are delivered in proportion to the documents that arrived.
        let delivered = if sent >= n {
            converted
        } else {
            converted * sent / n
        };
        Ok(ExportOutcome {
            requests,
            spans_exported: delivered,
            spans_dropped: skipped + (converted - delivered),
            retries,
        })
    }
}

impl BatchExporter for EmfExporter {
    fn export(&self, batch: ExportTraceServiceRequest) -> ExportFuture<'_> {
        drop(batch);
        Box::pin(async { Err(ExportError::Unsupported { signal: "traces" }) })
    }

    fn export_metrics(&self, batch: ExportMetricsServiceRequest) -> ExportFuture<'_> {
        Box::pin(self.export_batch(batch))
    }
}
