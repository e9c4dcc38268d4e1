//! CloudWatch Application Signals from the extension
//! (`OTEL_AWS_APPLICATION_SIGNALS_ENABLED=true` in the function's
//! environment, parsed by the distro's
//! [`enabled`](otel_aws_distro::appsignals::export::enabled)).
//!
//! At each flush, before the spans the function sent are handed to the
//! exporters' lanes (after the Lambda resource is filled in), the distro's
//! [`AppSignals`] puts ADOT's `aws.*` attributes on them and records
//! Latency/Error/Fault per label set; the flush then ends the interval and
//! hands those metrics (one OTLP metrics batch) to a lane of their own,
//! whose exporter ([`EmfLogsExporter`]) encodes them as the CloudWatch
//! agent does (EMF, namespace `ApplicationSignals`, its dimension sets) and
//! sends them with PutLogEvents to `/aws/application-signals/data`. So the
//! metrics go out at the points the extension already flushes (end of
//! invoke per its flush strategy, the background timer, SHUTDOWN), within
//! the same budget, with the same breaker, backoff, bounds and counters as
//! every other destination.
//!
//! - Environment: `lambda:default` (the Lambda resource's `cloud.platform`;
//!   `deployment.environment` on the function's resource wins); ingress
//!   operation `<function>/FunctionHandler` (`AWS_LAMBDA_FUNCTION_NAME`).
//! - The extension's own platform spans (`OTEL_AWS_LAMBDA_PLATFORM_SPANS`)
//!   are neither annotated nor counted: like the segments Lambda itself
//!   sends to X-Ray (`AWS::Lambda`, `AWS::Lambda::Function`), they describe
//!   the platform, and the invocation span would count each invoke a second
//!   time beside the function's own SERVER span.
//! - Sender: region `AWS_REGION`, endpoint `AWS_ENDPOINT_URL_LOGS`, else
//!   `AWS_ENDPOINT_URL`, else `https://logs.<region>.amazonaws.com`; the
//!   execution role's credentials from the environment. Log stream: one per
//!   execution environment, created (with the group, if missing) on first use.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use aws_credential_types::provider::SharedCredentialsProvider;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use otel_aws_distro::Env;
use otel_aws_distro::appsignals::{
    AppSignals, DEFAULT_MAX_SERIES, GeneratorConfig, LOG_GROUP, emf_config, logs_endpoint_url,
};
use otel_aws_distro::config::ConfigError;
use otel_aws_distro::emf::{EmfConfigError, EmfEncoder};
use otel_aws_distro::export::{
    BatchExporter, ExportConfigError, ExportError, ExportFuture, ExportOutcome,
};

use super::cwlogs::{LogEvent, LogsClient, PutError};

/// The generator and the per-flush aggregation of one execution environment.
#[derive(Debug)]
pub struct LambdaAppSignals {
    signals: AppSignals,
    annotated: AtomicU64,
}

impl LambdaAppSignals {
    /// With the generator settings `config` (the extension: from the
    /// function's environment, [`GeneratorConfig::from_env`]).
    pub fn new(config: GeneratorConfig) -> Result<Self, ConfigError> {
        let signals =
            AppSignals::new(config, DEFAULT_MAX_SERIES).map_err(|_| ConfigError::Invalid {
                var: otel_aws_distro::appsignals::ENABLED_ENV,
                accepted: "true or false (the EMF settings were refused: a bug)",
            })?;
        Ok(Self {
            signals,
            annotated: AtomicU64::new(0),
        })
    }

    /// Annotates the function's spans and records their metrics.
    pub fn annotate(&self, batch: &mut ExportTraceServiceRequest) {
        if batch.resource_spans.is_empty() {
            return;
        }
        let s = self.signals.process(batch);
        self.annotated.fetch_add(s.annotated, Ordering::Relaxed);
    }

    /// Ends the interval at `now_unix_nano`: the metrics recorded since the
    /// last call (`None`: nothing recorded).
    pub fn take_metrics(&self, now_unix_nano: u64) -> Option<ExportMetricsServiceRequest> {
        self.signals.take_metrics(now_unix_nano)
    }

    /// Spans annotated so far.
    pub fn annotated(&self) -> u64 {
        self.annotated.load(Ordering::Relaxed)
    }

    /// Observations dropped by the per-interval series cap so far.
    pub fn series_dropped(&self) -> u64 {
        self.signals.dropped()
    }
}

/// The log stream of this execution environment: `otel-aws/<function>/<Lambda's
/// log stream name>` (else a time-based id), without the characters
/// CloudWatch Logs refuses in stream names (`:` and `*`).
pub fn log_stream_name(env: &Env, unique: u64) -> String {
    let function = env
        .get(otel_aws_distro::appsignals::LAMBDA_FUNCTION_NAME_ENV)
        .unwrap_or("function");
    let instance = env
        .get("AWS_LAMBDA_LOG_STREAM_NAME")
        .map_or_else(|| format!("{unique:x}"), str::to_owned);
    format!("otel-aws/{function}/{instance}")
        .chars()
        .map(|c| if c == ':' || c == '*' { '_' } else { c })
        .take(512)
        .collect()
}

/// The metrics batches → EMF documents (the CloudWatch agent's
/// Application Signals settings) → PutLogEvents to
/// `/aws/application-signals/data`. A [`BatchExporter`] for metrics only.
#[derive(Debug)]
pub struct EmfLogsExporter {
    encoder: EmfEncoder,
    client: LogsClient,
    stream: String,
    /// The stream is known to exist.
    created: AtomicBool,
}

impl EmfLogsExporter {
    /// An exporter sending through `client` to `stream`.
    pub fn new(client: LogsClient, stream: String) -> Result<Self, EmfConfigError> {
        Ok(Self {
            encoder: EmfEncoder::new(emf_config())?,
            client,
            stream,
            created: AtomicBool::new(false),
        })
    }

    /// The exporter of the extension: `region` (the distro's, from
    /// `AWS_REGION`), endpoint `AWS_ENDPOINT_URL_LOGS` / `AWS_ENDPOINT_URL`
    /// in `env`, the execution role's `credentials`. `Err` says why there
    /// is none (the metrics are then dropped and counted).
    pub fn from_env(
        env: &Env,
        region: Option<&str>,
        credentials: Option<SharedCredentialsProvider>,
    ) -> Result<Self, ExportConfigError> {
        let region = region.unwrap_or_default();
        let credentials = credentials.ok_or_else(|| ExportConfigError::InvalidSetting {
            name: "credentials",
            reason: "no AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY in the environment (Lambda sets them from the execution role)".into(),
        })?;
        let client = LogsClient::new(region, logs_endpoint_url(env).as_deref(), credentials)?;
        Self::new(client, log_stream_name(env, super::flusher::unix_now_ns())).map_err(|e| {
            ExportConfigError::InvalidSetting {
                name: "emf",
                reason: e.to_string(),
            }
        })
    }

    async fn export_batch(
        &self,
        batch: ExportMetricsServiceRequest,
    ) -> Result<ExportOutcome, ExportError> {
        let encoded = self.encoder.encode(&batch);
        drop(batch);
        let s = &encoded.stats;
        let skipped = s.dropped();
        let n = encoded.events.len() as u64;
        if n == 0 {
            return Ok(ExportOutcome {
                spans_dropped: skipped,
                ..ExportOutcome::default()
            });
        }
        let events: Vec<LogEvent> = encoded
            .events
            .into_iter()
            .map(|e| LogEvent {
                timestamp: e.timestamp_ms,
                message: e.message,
            })
            .collect();
        let mut creating = !self.created.load(Ordering::Relaxed);
        loop {
            if creating {
                self.client
                    .create_stream(LOG_GROUP, &self.stream, true)
                    .await?;
                self.created.store(true, Ordering::Relaxed);
            }
            match self
                .client
                .send(LOG_GROUP, &self.stream, events.clone())
                .await
            {
                Ok(out) => {
                    // Points count by the share of their documents that arrived.
                    let delivered = if out.sent >= n {
                        s.converted
                    } else {
                        s.converted * out.sent / n
                    };
                    return Ok(ExportOutcome {
                        requests: out.calls,
                        spans_exported: delivered,
                        spans_dropped: skipped + (s.converted - delivered),
                        retries: 0,
                    });
                }
                // Deleted since it was created: create it once more.
                Err(PutError::Missing) if !creating => creating = true,
                Err(PutError::Missing) => {
                    return Err(ExportError::Rejected {
                        status: 400,
                        message: format!(
                            "log group {LOG_GROUP} / stream {} still missing after creating them",
                            self.stream
                        ),
                    });
                }
                Err(PutError::Failed(e)) => return Err(e),
            }
        }
    }
}

impl BatchExporter for EmfLogsExporter {
    fn export(&self, batch: ExportTraceServiceRequest) -> ExportFuture<'_> {
        drop(batch);
        Box::pin(async { Err(ExportError::Unsupported { signal: "traces" }) })
    }

    fn export_metrics(&self, batch: ExportMetricsServiceRequest) -> ExportFuture<'_> {
        Box::pin(self.export_batch(batch))
    }
}

/// The Application Signals destination: the exporter, or (logged) none.
pub fn build_exporter(
    env: &Env,
    region: Option<&str>,
    credentials: Option<SharedCredentialsProvider>,
) -> Vec<Arc<dyn BatchExporter>> {
    match EmfLogsExporter::from_env(env, region, credentials) {
        Ok(e) => vec![Arc::new(e)],
        Err(e) => {
            tracing::error!(error = %e, "application signals: no CloudWatch Logs destination; the metrics are dropped and counted");
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_stream_per_environment_without_forbidden_characters() {
        let env = Env::from_pairs([
            ("AWS_LAMBDA_FUNCTION_NAME", "orders"),
            ("AWS_LAMBDA_LOG_STREAM_NAME", "2026/12/05/[$LATEST]ab:c*d"),
        ]);
        assert_eq!(
            log_stream_name(&env, 7),
            "otel-aws/orders/2026/12/05/[$LATEST]ab_c_d"
        );
        let env = Env::from_pairs([("AWS_LAMBDA_FUNCTION_NAME", "orders")]);
        assert_eq!(log_stream_name(&env, 255), "otel-aws/orders/ff");
    }
}
