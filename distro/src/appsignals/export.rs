//! Application Signals in a pipeline: the exporter wrapper that annotates
//! each traces batch before its exporter sees it (the distro's SDK path,
//! ADOT's `AwsMetricAttributesSpanExporter`), and the periodic flush of the
//! metrics to an EMF sink (PutLogEvents, or stdout).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use tokio::sync::watch;

use aws_credential_types::provider::SharedCredentialsProvider;

use super::AppSignals;
use crate::config::ConfigError;
#[cfg(feature = "cloudwatch-logs")]
use crate::emf::PutLogEventsSender;
use crate::emf::StdoutWriter;
use crate::env::Env;
use crate::export::{BatchExporter, ExportError, ExportFuture};

/// Default interval between metric flushes.
pub const DEFAULT_FLUSH_INTERVAL: Duration = Duration::from_secs(60);

/// Attributes most annotated spans get: four on a SERVER span or a local
/// root (`aws.span.kind`, `aws.local.service`, `aws.local.operation`,
/// `aws.local.environment`), six on a typical CLIENT span (plus
/// `aws.remote.service`, `aws.remote.operation`). The SDK edge leaves this
/// much room in each span's attribute vector so writing them does not
/// reallocate it; so does the sidecar's receiver when a pipeline it feeds
/// runs the `awsapplicationsignals` processor.
pub const SPAN_ATTRIBUTE_HEADROOM: usize = 6;

/// A [`BatchExporter`] that puts the Application Signals attributes on each
/// batch, then hands it to `inner`. With several exporters only one records
/// the metrics (`record`), so each span counts once.
#[derive(Debug)]
pub struct AppSignalsExporter {
    inner: Arc<dyn BatchExporter>,
    signals: Arc<AppSignals>,
    record: bool,
}

impl AppSignalsExporter {
    /// Wraps `inner`; `record`: this one also records the metrics.
    pub fn new(inner: Arc<dyn BatchExporter>, signals: Arc<AppSignals>, record: bool) -> Self {
        Self {
            inner,
            signals,
            record,
        }
    }

    /// Wraps every exporter; the first records the metrics.
    pub fn wrap_all(
        exporters: Vec<Arc<dyn BatchExporter>>,
        signals: &Arc<AppSignals>,
    ) -> Vec<Arc<dyn BatchExporter>> {
        exporters
            .into_iter()
            .enumerate()
            .map(|(i, e)| {
                Arc::new(Self::new(e, Arc::clone(signals), i == 0)) as Arc<dyn BatchExporter>
            })
            .collect()
    }
}

impl BatchExporter for AppSignalsExporter {
    fn export(&self, mut batch: ExportTraceServiceRequest) -> ExportFuture<'_> {
        if self.record {
            self.signals.process(&mut batch);
        } else {
            self.signals.annotate(&mut batch);
        }
        self.inner.export(batch)
    }

    fn export_metrics(&self, batch: ExportMetricsServiceRequest) -> ExportFuture<'_> {
        self.inner.export_metrics(batch)
    }

    fn span_attribute_headroom(&self) -> usize {
        SPAN_ATTRIBUTE_HEADROOM + self.inner.span_attribute_headroom()
    }

    fn export_logs(&self, batch: ExportLogsServiceRequest) -> ExportFuture<'_> {
        self.inner.export_logs(batch)
    }

    fn force_flush(&self) -> Result<(), ExportError> {
        self.inner.force_flush()
    }

    fn shutdown(&self) -> Result<(), ExportError> {
        self.inner.shutdown()
    }
}

/// Where the EMF documents go.
#[derive(Debug)]
pub enum EmfSink {
    /// CloudWatch Logs PutLogEvents (to `/aws/application-signals/data`).
    #[cfg(feature = "cloudwatch-logs")]
    PutLogEvents(PutLogEventsSender),
    /// One document per line on stdout.
    Stdout(StdoutWriter),
    /// Nowhere: every document is counted as dropped (no region, no credentials).
    Drop,
}

/// Counters of a flush loop.
#[derive(Debug, Default)]
pub struct FlushStats {
    /// EMF documents delivered.
    pub events_sent: AtomicU64,
    /// EMF documents lost.
    pub events_dropped: AtomicU64,
}

fn now_unix_nano() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

async fn flush_once(signals: &AppSignals, sink: &EmfSink, stats: &FlushStats) {
    let batch = signals.flush(now_unix_nano());
    let n = batch.events.len() as u64;
    if n == 0 {
        return;
    }
    let sent = match sink {
        #[cfg(feature = "cloudwatch-logs")]
        EmfSink::PutLogEvents(sender) => match sender.send(batch.events).await {
            Ok(outcome) => outcome.events_sent,
            Err(e) => {
                tracing::warn!(error = %e, events = n, "application signals: EMF metrics not delivered");
                0
            }
        },
        EmfSink::Stdout(w) => match w.write(&batch.events) {
            Ok(written) => written as u64,
            Err(e) => {
                tracing::warn!(error = %e, "application signals: EMF metrics not written");
                0
            }
        },
        EmfSink::Drop => 0,
    };
    stats.events_sent.fetch_add(sent, Ordering::Relaxed);
    stats
        .events_dropped
        .fetch_add(n.saturating_sub(sent), Ordering::Relaxed);
}

/// A running flush loop.
#[derive(Debug)]
pub struct FlushHandle {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
    stats: Arc<FlushStats>,
}

impl FlushHandle {
    /// Flushes `signals` to `sink` every `interval` (first after one
    /// interval) until [`FlushHandle::shutdown`], which flushes once more.
    pub fn spawn(signals: Arc<AppSignals>, sink: EmfSink, interval: Duration) -> Self {
        let (stop, mut stop_rx) = watch::channel(false);
        let stats = Arc::new(FlushStats::default());
        let loop_stats = Arc::clone(&stats);
        let task = tokio::spawn(async move {
            let start = tokio::time::Instant::now() + interval;
            let mut tick = tokio::time::interval_at(start, interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                let stopped = tokio::select! {
                    _ = tick.tick() => false,
                    r = stop_rx.wait_for(|s| *s) => { drop(r); true }
                };
                if stopped {
                    break;
                }
                flush_once(&signals, &sink, &loop_stats).await;
            }
            flush_once(&signals, &sink, &loop_stats).await;
        });
        Self { stop, task, stats }
    }

    /// The counters.
    pub fn stats(&self) -> Arc<FlushStats> {
        Arc::clone(&self.stats)
    }

    /// Sends the last interval's metrics and stops.
    pub async fn shutdown(self) {
        self.stop.send_replace(true);
        let _ = self.task.await;
    }
}

/// `OTEL_METRIC_EXPORT_INTERVAL`: milliseconds between metric flushes (default 60000).
pub const METRIC_EXPORT_INTERVAL_ENV: &str = "OTEL_METRIC_EXPORT_INTERVAL";

/// `OTEL_AWS_APPLICATION_SIGNALS_ENABLED`: `true` or `false` (default),
/// read by the configuration's boolean rule.
pub fn enabled(env: &Env) -> Result<bool, ConfigError> {
    env.get(super::ENABLED_ENV).map_or(Ok(false), |v| {
        crate::config::parse::bool_value(super::ENABLED_ENV, v)
    })
}

/// `OTEL_METRIC_EXPORT_INTERVAL` (milliseconds, > 0), default 60 s, read
/// by the configuration's rule for it.
pub fn flush_interval(env: &Env) -> Result<Duration, ConfigError> {
    env.get(METRIC_EXPORT_INTERVAL_ENV)
        .map_or(Ok(DEFAULT_FLUSH_INTERVAL), |v| {
            crate::config::parse::millis(METRIC_EXPORT_INTERVAL_ENV, v)
        })
}

/// The distro's sink: PutLogEvents in `region` (endpoint from
/// `AWS_ENDPOINT_URL_CLOUDWATCH_LOGS`/`AWS_ENDPOINT_URL_LOGS`/`AWS_ENDPOINT_URL`), signing with `credentials`
/// or aws-config's default chain; without a region or credentials the
/// documents are dropped and counted (with a warning now).
#[cfg(feature = "cloudwatch-logs")]
pub async fn default_sink(
    env: &Env,
    region: Option<String>,
    credentials: Option<SharedCredentialsProvider>,
) -> EmfSink {
    let Some(region) = region else {
        tracing::warn!("application signals: no region (set AWS_REGION); metrics are dropped");
        return EmfSink::Drop;
    };
    let credentials = match credentials {
        Some(c) => Some(c),
        None => aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(region.clone()))
            .load()
            .await
            .credentials_provider(),
    };
    let Some(credentials) = credentials else {
        tracing::warn!("application signals: no AWS credentials; metrics are dropped");
        return EmfSink::Drop;
    };
    match PutLogEventsSender::from_credentials(
        region,
        credentials,
        super::logs_endpoint_url(env),
        crate::emf::PutLogEventsConfig::default(),
    ) {
        Ok(s) => EmfSink::PutLogEvents(s),
        Err(e) => {
            tracing::warn!(error = %e, "application signals: metrics are dropped");
            EmfSink::Drop
        }
    }
}

/// Without feature `cloudwatch-logs`: EMF documents on stdout.
#[cfg(not(feature = "cloudwatch-logs"))]
pub async fn default_sink(
    _env: &Env,
    _region: Option<String>,
    _credentials: Option<SharedCredentialsProvider>,
) -> EmfSink {
    EmfSink::Stdout(StdoutWriter::new())
}

/// The distro's set-up when `OTEL_AWS_APPLICATION_SIGNALS_ENABLED=true`:
/// the rules and metrics, for the batch processors to run at each span's
/// end ([`super::EndAnnotator`]), and the flush loop started (`None`:
/// disabled).
pub async fn install(
    env: &Env,
    region: Option<String>,
    credentials: Option<SharedCredentialsProvider>,
) -> Result<Option<(Arc<AppSignals>, FlushHandle)>, ConfigError> {
    if !enabled(env)? {
        return Ok(None);
    }
    let interval = flush_interval(env)?;
    let signals = Arc::new(
        AppSignals::new(
            super::GeneratorConfig::from_env(env),
            super::DEFAULT_MAX_SERIES,
        )
        .map_err(|_| ConfigError::Invalid {
            var: super::ENABLED_ENV,
            accepted: "true or false (the EMF settings were refused: a bug)",
        })?,
    );
    let sink = default_sink(env, region, credentials).await;
    let flush = FlushHandle::spawn(signals.clone(), sink, interval);
    Ok(Some((signals, flush)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_switch_and_the_interval_follow_the_configuration_rules() {
        let env = |k: &str, v: &str| Env::from_pairs([(k.to_owned(), v.to_owned())]);
        let on = super::super::ENABLED_ENV;
        assert!(!enabled(&Env::from_pairs(Vec::<(String, String)>::new())).unwrap());
        assert!(enabled(&env(on, "TRUE")).unwrap());
        assert!(!enabled(&env(on, " false ")).unwrap());
        let err = enabled(&env(on, "yes")).unwrap_err().to_string();
        assert!(err.contains(on) && err.contains("true or false"), "{err}");

        let every = METRIC_EXPORT_INTERVAL_ENV;
        assert_eq!(
            flush_interval(&env(every, "1500")).unwrap(),
            Duration::from_millis(1500)
        );
        for bad in ["0", "-1", "1m"] {
            let err = flush_interval(&env(every, bad)).unwrap_err().to_string();
            assert!(err.contains(every) && err.contains("milliseconds"), "{err}");
        }
    }
}
