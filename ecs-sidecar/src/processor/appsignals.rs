//! `awsapplicationsignals`: CloudWatch Application Signals for spans from
//! any SDK. Every traces batch gets ADOT's `aws.*` attributes (the
//! distro's [`AppSignals`] generator), and the Latency/Error/Fault metrics
//! aggregated from them are sent every `metrics_flush_interval` as EMF to
//! `/aws/application-signals/data` (namespace `ApplicationSignals`) through
//! the distro's PutLogEvents sender, as the CloudWatch agent does.
//!
//! The sender: region from `region`, else `AWS_REGION`; endpoint from
//! `endpoint`, else `AWS_ENDPOINT_URL_LOGS`, else `AWS_ENDPOINT_URL`, else
//! the regional endpoint; the sidecar's credentials. Without a region the
//! spans are still annotated and the metrics are dropped and counted.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use otel_aws_distro::appsignals::{AppSignals, GeneratorConfig, logs_endpoint_url};
use otel_aws_distro::emf::{EmfConfigError, PutLogEventsConfig, PutLogEventsSender};
use tokio::sync::watch;

use crate::config::AwsApplicationSignalsProcessor;
use crate::extension::sigv4auth::CredentialsSource;

/// Default interval between metric flushes (the agent's EMF batching is per minute).
pub const DEFAULT_FLUSH_INTERVAL: Duration = Duration::from_secs(60);

/// Counters of the processor.
#[derive(Debug, Default)]
pub struct AppSignalsStats {
    /// Spans that got attributes.
    pub annotated: AtomicU64,
    /// EMF events handed to the sender.
    pub events_sent: AtomicU64,
    /// EMF events lost (no region/credentials, send failure).
    pub events_dropped: AtomicU64,
}

/// The processor of one traces pipeline.
#[derive(Debug)]
pub struct AppSignalsProcessor {
    signals: Arc<AppSignals>,
    stats: Arc<AppSignalsStats>,
    stop: watch::Sender<bool>,
    task: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

fn now_unix_nano() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// The sender for the processor's settings, or why there is none.
async fn sender(
    cfg: &AwsApplicationSignalsProcessor,
    creds: &CredentialsSource,
) -> Result<PutLogEventsSender, String> {
    let region = cfg
        .region
        .clone()
        .or_else(|| creds.default_region())
        .ok_or("no region: set processors.awsapplicationsignals.region or AWS_REGION")?;
    let endpoint = cfg
        .endpoint
        .as_ref()
        .map(|e| e.as_str().to_owned())
        .or_else(|| logs_endpoint_url(creds.env()));
    let provider = creds.provider().await.map_err(|e| e.to_string())?;
    PutLogEventsSender::from_credentials(region, provider, endpoint, PutLogEventsConfig::default())
        .map_err(|e| e.to_string())
}

impl AppSignalsProcessor {
    /// Starts the processor and its flush task.
    pub async fn start(
        cfg: &AwsApplicationSignalsProcessor,
        creds: &CredentialsSource,
    ) -> Result<Arc<Self>, EmfConfigError> {
        let signals = Arc::new(AppSignals::new(
            GeneratorConfig::from_env(creds.env()),
            cfg.max_series
                .map_or(otel_aws_distro::appsignals::DEFAULT_MAX_SERIES, |n| {
                    n as usize
                }),
        )?);
        let sender = match sender(cfg, creds).await {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::error!(error = %e, "awsapplicationsignals: metrics will be dropped");
                None
            }
        };
        let interval = cfg
            .metrics_flush_interval
            .map_or(DEFAULT_FLUSH_INTERVAL, |d| d.0);
        let stats = Arc::new(AppSignalsStats::default());
        let (stop, stop_rx) = watch::channel(false);
        let task = tokio::spawn(flush_loop(
            Arc::clone(&signals),
            sender,
            interval,
            Arc::clone(&stats),
            stop_rx,
        ));
        Ok(Arc::new(Self {
            signals,
            stats,
            stop,
            task: std::sync::Mutex::new(Some(task)),
        }))
    }

    /// Annotates the spans of `req` and records their metrics.
    pub fn apply(&self, req: &mut ExportTraceServiceRequest) {
        if req.resource_spans.is_empty() {
            return;
        }
        let s = self.signals.process(req);
        self.stats
            .annotated
            .fetch_add(s.annotated, Ordering::Relaxed);
    }

    /// The counters.
    pub fn stats(&self) -> Arc<AppSignalsStats> {
        Arc::clone(&self.stats)
    }

    /// Sends the last interval's metrics and stops the flush task.
    pub async fn shutdown(&self) {
        self.stop.send_replace(true);
        let task = self.task.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}

async fn flush_once(
    signals: &AppSignals,
    sender: Option<&PutLogEventsSender>,
    stats: &AppSignalsStats,
) {
    let batch = signals.flush(now_unix_nano());
    if batch.events.is_empty() {
        return;
    }
    let n = batch.events.len() as u64;
    let Some(sender) = sender else {
        stats.events_dropped.fetch_add(n, Ordering::Relaxed);
        return;
    };
    match sender.send(batch.events).await {
        Ok(outcome) => {
            stats
                .events_sent
                .fetch_add(outcome.events_sent, Ordering::Relaxed);
            stats
                .events_dropped
                .fetch_add(n.saturating_sub(outcome.events_sent), Ordering::Relaxed);
        }
        Err(e) => {
            stats.events_dropped.fetch_add(n, Ordering::Relaxed);
            tracing::warn!(error = %e, events = n, "awsapplicationsignals: EMF metrics not delivered");
        }
    }
}

async fn flush_loop(
    signals: Arc<AppSignals>,
    sender: Option<PutLogEventsSender>,
    interval: Duration,
    stats: Arc<AppSignalsStats>,
    mut stop: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let stopped = tokio::select! {
            _ = tick.tick() => false,
            r = stop.wait_for(|s| *s) => { drop(r); true }
        };
        if stopped {
            break;
        }
        flush_once(&signals, sender.as_ref(), &stats).await;
    }
    flush_once(&signals, sender.as_ref(), &stats).await;
}
