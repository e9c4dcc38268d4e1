//! One pipeline (traces, metrics or logs): input (memory limiter + bounded queue) → worker
//! (resource merge, batch) → one queue per exporter → exporters.
//!
//! Processors run in a fixed order whatever their position in the list:
//! `memory_limiter` at admission (it must refuse before anything is held),
//! `resourcedetection` per accepted batch, then `awsapplicationsignals`
//! (traces: attributes and metrics from spans; metrics: the ADOT SDKs' own
//! metrics normalized for `awsemf`), `batch` last.

pub mod export_queue;
pub mod input;
mod worker;

use std::sync::Arc;
use std::time::Duration;

use otel_aws_distro::receiver::Signal;
use tokio::sync::watch;

use crate::config::{Config, PipelineSection, Processor};
use crate::exporter::{self, ExporterError};
use crate::extension::sigv4auth::CredentialsSource;
use crate::processor::{
    AppSignalsMetrics, AppSignalsProcessor, BatchSettings, Batcher, MemoryLimiter, ResourceMerge,
    resource,
};
use crate::receiver::legacy::LegacyMode;
use crate::telemetry::Telemetry;

pub use self::export_queue::{ExporterHandle, QueueSettings};
pub use self::input::{PipelineInput, ReceiverSink};

/// Smallest input queue, in spans.
pub const MIN_INPUT_SPANS: usize = 1024;
/// Default memory limiter sampling interval.
pub const DEFAULT_CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// A running pipeline.
#[derive(Debug)]
pub struct Pipeline {
    signal: Signal,
    name: String,
    input: Arc<PipelineInput>,
    stop: watch::Sender<bool>,
    worker: tokio::task::JoinHandle<()>,
    exporters: Vec<(
        String,
        tokio::task::JoinHandle<()>,
        Arc<dyn otel_aws_distro::export::BatchExporter>,
    )>,
    sampler: Option<tokio::task::JoinHandle<()>>,
    legacy: LegacyMode,
    appsignals: Option<Arc<AppSignalsProcessor>>,
}

impl Pipeline {
    /// Builds the processors and exporters of pipeline `name` and starts its worker.
    pub async fn start(
        name: &str,
        section: &PipelineSection,
        cfg: &Config,
        telemetry: &Arc<Telemetry>,
        creds: &CredentialsSource,
        env: &otel_aws_distro::Env,
    ) -> Result<Pipeline, ExporterError> {
        let signal = crate::config::pipeline_signal(name).unwrap_or(Signal::Traces);
        let mut batch = BatchSettings::passthrough();
        let mut memory = None;
        let mut sampler = None;
        let mut merge = None;
        let mut appsignals = None;
        let mut appsignals_metrics = None;
        for id in &section.processors {
            match cfg.processors.get(id) {
                Some(Processor::Batch(b)) => {
                    let d = BatchSettings::default();
                    batch = BatchSettings {
                        timeout: b.timeout.map_or(d.timeout, |t| t.0),
                        send_batch_size: b
                            .send_batch_size
                            .map_or(d.send_batch_size, |n| n as usize),
                        send_batch_max_size: b.send_batch_max_size.map_or(0, |n| n as usize),
                    };
                }
                Some(Processor::MemoryLimiter(m)) => {
                    let limiter = MemoryLimiter::new(m.limit_mib.unwrap_or(0), m.spike_limit_mib);
                    sampler =
                        Some(limiter.spawn_sampler(
                            m.check_interval.map_or(DEFAULT_CHECK_INTERVAL, |d| d.0),
                        ));
                    memory = Some(limiter);
                }
                Some(Processor::ResourceDetection(r)) => {
                    let timeout = r.timeout.map_or(resource::DEFAULT_TIMEOUT, |t| t.0);
                    merge = Some(Arc::new(
                        ResourceMerge::detect(env, &r.detectors, timeout, r.override_).await,
                    ));
                }
                // In a metrics pipeline: the ADOT SDKs' own metrics, normalized.
                Some(Processor::AwsApplicationSignals(_)) if signal == Signal::Metrics => {
                    appsignals_metrics = Some(Arc::new(AppSignalsMetrics::new()));
                }
                Some(Processor::AwsApplicationSignals(a)) => {
                    let p = AppSignalsProcessor::start(a, creds).await.map_err(|e| {
                        ExporterError::Unsupported {
                            id: id.clone(),
                            message: format!("processor awsapplicationsignals: {e}"),
                        }
                    })?;
                    appsignals = Some(p);
                }
                None => {}
            }
        }
        let mut exporters = Vec::new();
        let mut senders = Vec::new();
        let mut legacy = LegacyMode::default();
        let mut max_span_bytes: Option<usize> = None;
        for id in &section.exporters {
            let built = exporter::build(id, cfg, creds, signal).await?;
            if let Some(m) = built.max_span_bytes {
                max_span_bytes = Some(max_span_bytes.map_or(m, |cur| cur.min(m)));
            }
            if built.passthrough.is_some() {
                legacy.passthrough = true;
            } else {
                legacy.translate = true;
            }
            let handle = export_queue::spawn(
                id,
                built.exporter,
                built.passthrough,
                built.queue,
                telemetry.component("exporter", id),
            );
            senders.push(handle.tx.clone());
            exporters.push((handle.id, handle.task, handle.exporter));
        }
        if memory.is_none() {
            tracing::info!(
                pipeline = %name,
                limit_mib = crate::processor::memory_limiter::DEFAULT_HELD_LIMIT_MIB,
                "no memory_limiter: unexported batches are bounded by the default"
            );
            memory = Some(MemoryLimiter::implicit());
        }
        let capacity = (batch.send_batch_size * 4).max(MIN_INPUT_SPANS);
        if let Some(m) = &memory {
            telemetry.register_limiter(name, Arc::clone(m));
        }
        let (input, rx) = PipelineInput::new(name, capacity, memory, max_span_bytes);
        let (stop, stop_rx) = watch::channel(false);
        let worker = tokio::spawn(
            worker::Worker {
                rx,
                input: Arc::clone(&input),
                batcher: Batcher::new(batch),
                resource: merge,
                appsignals: appsignals.clone(),
                appsignals_metrics,
                exporters: senders,
                stop: stop_rx,
            }
            .run(),
        );
        Ok(Pipeline {
            signal,
            name: name.to_owned(),
            input,
            stop,
            worker,
            exporters,
            sampler,
            legacy,
            appsignals,
        })
    }

    /// The pipeline's name (`traces`, `traces/app`, `metrics`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The signal the pipeline carries.
    pub fn signal(&self) -> Signal {
        self.signal
    }

    /// Room its processors want in each received span's attribute vector:
    /// what `awsapplicationsignals` writes, so writing it does not
    /// reallocate the vector.
    pub fn span_attribute_headroom(&self) -> usize {
        if self.appsignals.is_some() {
            otel_aws_distro::appsignals::export::SPAN_ATTRIBUTE_HEADROOM
        } else {
            0
        }
    }

    /// The forms of legacy X-Ray documents this pipeline's exporters take.
    pub fn legacy_mode(&self) -> LegacyMode {
        self.legacy
    }

    /// A sink for receiver `id`, counting into its telemetry.
    pub fn sink(&self, id: &str, telemetry: &Telemetry) -> ReceiverSink {
        ReceiverSink::new(Arc::clone(&self.input), telemetry.component("receiver", id))
    }

    /// Stops taking input, sends what was accepted and waits for the
    /// exporters to finish (call inside a timeout: an exporter in an outage
    /// retries up to its `max_elapsed_time`).
    pub async fn drain(self) {
        self.stop.send_replace(true);
        let _ = self.worker.await;
        for (id, task, exporter) in self.exporters {
            let _ = task.await;
            if let Err(e) = exporter.shutdown() {
                tracing::warn!(exporter = %id, error = %e, "exporter shutdown failed");
            }
        }
        if let Some(s) = self.sampler {
            s.abort();
        }
        if let Some(a) = self.appsignals {
            a.shutdown().await;
        }
    }
}
