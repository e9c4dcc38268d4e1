//! The pipeline worker: takes accepted batches, merges the detected
//! resource, batches them and hands each batch to every exporter queue.

use std::sync::Arc;

use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::input::{Item, PipelineInput};
use crate::processor::batch::Outgoing;
use crate::processor::{AppSignalsMetrics, AppSignalsProcessor, Batcher, ResourceMerge};

/// What the worker needs.
pub struct Worker {
    /// Accepted batches.
    pub rx: mpsc::UnboundedReceiver<Item>,
    /// The input (for its queue accounting).
    pub input: Arc<PipelineInput>,
    /// Batch processor state.
    pub batcher: Batcher,
    /// Resource to merge, if any.
    pub resource: Option<Arc<ResourceMerge>>,
    /// Application Signals, if configured (after the resource merge).
    pub appsignals: Option<Arc<AppSignalsProcessor>>,
    /// Application Signals in a metrics pipeline (after the resource merge).
    pub appsignals_metrics: Option<Arc<AppSignalsMetrics>>,
    /// Sending sides of the exporter queues.
    pub exporters: Vec<mpsc::Sender<Arc<Outgoing>>>,
    /// Becomes true when the pipeline should drain and stop.
    pub stop: watch::Receiver<bool>,
}

impl Worker {
    /// Runs until stopped; then drains what was accepted and returns
    /// (dropping the exporter queues' senders so their consumers finish).
    pub async fn run(mut self) {
        let timeout = self.batcher.settings().timeout;
        let mut deadline: Option<Instant> = None;
        loop {
            let sleep = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d).await,
                    None => std::future::pending().await,
                }
            };
            let event = tokio::select! {
                biased;
                item = self.rx.recv() => Event::Item(item),
                () = sleep => Event::Timeout,
                r = self.stop.wait_for(|s| *s) => { drop(r); Event::Stop }
            };
            match event {
                Event::Item(Some(item)) => {
                    if self.batcher.held_spans() == 0 {
                        deadline = Some(Instant::now() + timeout);
                    }
                    self.take(item).await;
                    if self.batcher.held_spans() == 0 {
                        deadline = None;
                    }
                }
                Event::Item(None) => break,
                Event::Timeout => {
                    deadline = None;
                    let out = self.batcher.flush();
                    self.send(out).await;
                }
                Event::Stop => {
                    // No more input: drain what is buffered in the channel.
                    self.rx.close();
                    while let Some(item) = self.rx.recv().await {
                        self.take(item).await;
                    }
                    break;
                }
            }
        }
        let out = self.batcher.flush();
        self.send(out).await;
    }

    async fn take(&mut self, mut item: Item) {
        self.input.taken(item.spans);
        if let Some(r) = &self.resource {
            r.apply(&mut item.payload.request);
            r.apply(&mut item.payload.translated);
            r.apply_metrics(&mut item.payload.metrics);
            r.apply_logs(&mut item.payload.logs);
        }
        if let Some(a) = &self.appsignals {
            a.apply(&mut item.payload.request);
            a.apply(&mut item.payload.translated);
        }
        if let Some(m) = &self.appsignals_metrics {
            m.apply(&mut item.payload.metrics);
        }
        let out = self.batcher.push(item.payload, item.spans, item.permit);
        self.send(out).await;
    }

    async fn send(&self, batches: Vec<Outgoing>) {
        for b in batches {
            let b = Arc::new(b);
            for tx in &self.exporters {
                // Waits while the exporter's queue is full: backpressure.
                if tx.send(Arc::clone(&b)).await.is_err() {
                    tracing::error!(
                        "an exporter queue closed before the pipeline; batch not delivered to it"
                    );
                }
            }
        }
    }
}

enum Event {
    Item(Option<Item>),
    Timeout,
    Stop,
}
