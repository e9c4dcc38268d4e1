//! `awsapplicationsignals`: CloudWatch Application Signals for spans from
//! any SDK. Every traces batch gets ADOT's `aws.*` attributes (the
//! distro's [`AppSignals`] generator), and the Latency/Error/Fault metrics
//! aggregated from them are sent every `metrics_flush_interval` as EMF to
//! `/aws/application-signals/data` (namespace `ApplicationSignals`) through
//! the distro's PutLogEvents sender, as the CloudWatch agent does.
//!
//! The sender: region from `region`, else `AWS_REGION`; endpoint from
//! `endpoint`, else `AWS_ENDPOINT_URL_CLOUDWATCH_LOGS`, `AWS_ENDPOINT_URL_LOGS`, `AWS_ENDPOINT_URL`, else
//! the regional endpoint; the sidecar's credentials. Without a region the
//! spans are still annotated and the metrics are dropped and counted.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use otel_aws_distro::appsignals::{
    AppSignals, EmfSink, FlushHandle, FlushStats, GeneratorConfig, HeapAdded, logs_endpoint_url,
};
use otel_aws_distro::emf::{EmfConfigError, PutLogEventsConfig, PutLogEventsSender};

use crate::config::AwsApplicationSignalsProcessor;
use crate::extension::sigv4auth::CredentialsSource;

/// Default interval between metric flushes (the agent's EMF batching is per minute).
pub const DEFAULT_FLUSH_INTERVAL: Duration =
    otel_aws_distro::appsignals::export::DEFAULT_FLUSH_INTERVAL;

/// The processor of one traces pipeline.
#[derive(Debug)]
pub struct AppSignalsProcessor {
    signals: Arc<AppSignals>,
    annotated: AtomicU64,
    flush: std::sync::Mutex<Option<FlushHandle>>,
    flush_stats: Arc<FlushStats>,
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
        let sink = match sender(cfg, creds).await {
            Ok(s) => EmfSink::PutLogEvents(s),
            Err(e) => {
                tracing::error!(error = %e, "awsapplicationsignals: metrics will be dropped");
                EmfSink::Drop
            }
        };
        let interval = cfg
            .metrics_flush_interval
            .map_or(DEFAULT_FLUSH_INTERVAL, |d| d.0);
        let flush = FlushHandle::spawn(Arc::clone(&signals), sink, interval);
        Ok(Arc::new(Self {
            signals,
            annotated: AtomicU64::new(0),
            flush_stats: flush.stats(),
            flush: std::sync::Mutex::new(Some(flush)),
        }))
    }

    /// Annotates the spans of `req` and records their metrics; returns what
    /// the attributes added to the batch's heap.
    pub fn apply(&self, req: &mut ExportTraceServiceRequest) -> HeapAdded {
        if req.resource_spans.is_empty() {
            return HeapAdded::default();
        }
        let s = self.signals.process(req);
        self.annotated.fetch_add(s.annotated, Ordering::Relaxed);
        s.heap
    }

    /// Spans annotated so far.
    pub fn annotated(&self) -> u64 {
        self.annotated.load(Ordering::Relaxed)
    }

    /// EMF documents sent and dropped so far.
    pub fn flush_stats(&self) -> Arc<FlushStats> {
        Arc::clone(&self.flush_stats)
    }

    /// Sends the last interval's metrics and stops the flush task.
    pub async fn shutdown(&self) {
        let flush = self.flush.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(flush) = flush {
            flush.shutdown().await;
        }
    }
}
