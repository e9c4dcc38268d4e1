//! `awsecscontainermetrics` receiver: every `collection_interval` (default
//! 20 s, the collector's) reads `${ECS_CONTAINER_METADATA_URI_V4}/task/stats`
//! and `/task`, turns them into OTLP metrics ([`super::ecs_stats`]) and
//! offers them to the metrics pipeline.
//!
//! Outside ECS (no `ECS_CONTAINER_METADATA_URI_V4`) it logs one warning and
//! collects nothing, so one config serves ECS and a local run (the
//! collector refuses to start instead). A failed collection is logged and
//! counted as refused; the next interval tries again.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use otel_aws_distro::Env;
use otel_aws_distro::export::OtlpBatch;
use otel_aws_distro::resource::ECS_CONTAINER_METADATA_URI_V4;
use tokio::sync::watch;

use super::ecs_stats::{TaskMetadata, TaskStats, task_metrics};
use crate::pipeline::ReceiverSink;
use crate::processor::batch::Payload;
use crate::telemetry::Counters;

/// The collector's default `collection_interval`.
pub const DEFAULT_COLLECTION_INTERVAL: Duration = Duration::from_secs(20);
/// Per-request timeout to the metadata endpoint.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Why one collection failed.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    /// The request failed.
    #[error("GET {path}: {source}")]
    Http {
        /// `/task` or `/task/stats`.
        path: &'static str,
        /// Why.
        source: reqwest::Error,
    },
    /// The document is not the expected JSON.
    #[error("{path}: not a task metadata v4 document: {source}")]
    Json {
        /// `/task` or `/task/stats`.
        path: &'static str,
        /// Why.
        source: serde_json::Error,
    },
}

/// A running receiver.
#[derive(Debug)]
pub struct EcsContainerMetrics {
    task: Option<tokio::task::JoinHandle<()>>,
}

impl EcsContainerMetrics {
    /// Starts collecting into `sink` (idle outside ECS); ends when `stop` turns true.
    pub fn start(
        id: &str,
        interval: Duration,
        env: &Env,
        sink: ReceiverSink,
        mut stop: watch::Receiver<bool>,
    ) -> Self {
        let Some(base) = env.get(ECS_CONTAINER_METADATA_URI_V4).map(str::to_owned) else {
            tracing::warn!(receiver = %id, "awsecscontainermetrics: {ECS_CONTAINER_METADATA_URI_V4} is not set (not on ECS): no task metrics are collected");
            return Self { task: None };
        };
        let id = id.to_owned();
        let client = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .unwrap_or_default();
        let task = tokio::spawn(async move {
            let mut ticker = tokio::time::interval(interval.max(Duration::from_millis(10)));
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = ticker.tick() => {}
                    _ = stop.wait_for(|s| *s) => break,
                }
                match collect(&client, &base).await {
                    Ok(batch) => {
                        let n = batch.items();
                        if let Err(bp) = sink.offer(Payload::metrics(batch), n) {
                            tracing::warn!(receiver = %id, reason = %bp.reason, "awsecscontainermetrics: pipeline refused the task metrics");
                        }
                    }
                    Err(e) => {
                        Counters::add(&sink.counters().refused, 1);
                        tracing::warn!(receiver = %id, error = %e, "awsecscontainermetrics: collection failed; trying again next interval");
                    }
                }
            }
        });
        Self { task: Some(task) }
    }

    /// Waits for the collection loop to end (after `stop`).
    pub async fn wait(self) {
        if let Some(t) = self.task {
            let _ = t.await;
        }
    }
}

async fn get<T: serde::de::DeserializeOwned>(
    client: &reqwest::Client,
    base: &str,
    path: &'static str,
) -> Result<T, CollectError> {
    let http = |source| CollectError::Http { path, source };
    let body = client
        .get(format!("{}{path}", base.trim_end_matches('/')))
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(http)?
        .bytes()
        .await
        .map_err(http)?;
    serde_json::from_slice(&body).map_err(|source| CollectError::Json { path, source })
}

/// One collection: `/task/stats` and `/task` → metrics stamped now.
pub async fn collect(
    client: &reqwest::Client,
    base: &str,
) -> Result<
    opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest,
    CollectError,
> {
    let stats: TaskStats = get(client, base, "/task/stats").await?;
    let task: TaskMetadata = get(client, base, "/task").await?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    Ok(task_metrics(&stats, &task, now))
}
