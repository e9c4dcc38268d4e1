//! The pipeline worker: takes accepted batches, merges the detected
//! resource, batches them and hands each batch to every exporter queue.

use std::sync::Arc;

use otel_aws_distro::appsignals::HeapAdded;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::input::{Item, PipelineInput};
use crate::processor::batch::Outgoing;
use crate::processor::size;
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
        self.process(&mut item);
        let out = self.batcher.push(item.payload, item.spans, item.permit);
        self.send(out).await;
    }

    /// Runs the processors before the batch processor on `item`.
    fn process(&self, item: &mut Item) {
        if let Some(r) = &self.resource {
            r.apply(&mut item.payload.request);
            r.apply(&mut item.payload.translated);
            r.apply_metrics(&mut item.payload.metrics);
            r.apply_logs(&mut item.payload.logs);
        }
        // What Application Signals wrote, when it says exactly.
        let mut added = HeapAdded::default();
        if let Some(a) = &self.appsignals {
            added += a.apply(&mut item.payload.request);
            added += a.apply(&mut item.payload.translated);
        }
        if let Some(m) = &self.appsignals_metrics {
            m.apply(&mut item.payload.metrics);
        }
        // The batch was admitted at its size as received; the processors
        // above add attributes (the resource's, Application Signals' on every
        // span): account it as they left it. When only the traces processor
        // ran and reported its additions exactly, they are added without
        // walking the batch again.
        if let Some(permit) = &mut item.permit {
            if self.resource.is_some() || self.appsignals_metrics.is_some() || !added.exact {
                permit.resize(size::payload_bytes(&item.payload) as u64);
            } else if self.appsignals.is_some() {
                let bytes = i64::try_from(permit.bytes()).unwrap_or(i64::MAX);
                permit.resize(bytes.saturating_add(size::added_bytes(added)).max(0) as u64);
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::AwsApplicationSignalsProcessor;
    use crate::extension::sigv4auth::CredentialsSource;
    use crate::processor::MemoryLimiter;
    use crate::processor::batch::{BatchSettings, Payload};
    use crate::processor::resource::tests::kv;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
    use otel_aws_distro::env::Env;

    /// `n` CLIENT spans of an HTTP call (each gets Application Signals' dependency attributes).
    fn client_spans(n: u64) -> ExportTraceServiceRequest {
        let call = [
            ("http.request.method", "GET"),
            ("url.full", "http://orders/api"),
        ];
        let span = |i: u64| Span {
            trace_id: vec![7; 16],
            span_id: (i + 2).to_be_bytes().to_vec(),
            parent_span_id: vec![1; 8],
            kind: 3,
            end_time_unix_nano: 2_000_000,
            attributes: call.iter().map(|(k, v)| kv(k, v)).collect(),
            ..Span::default()
        };
        let scope_spans = vec![ScopeSpans {
            spans: (0..n).map(span).collect(),
            ..ScopeSpans::default()
        }];
        let resource = Resource {
            attributes: vec![kv("service.name", "shop")],
            ..Resource::default()
        };
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(resource),
                scope_spans,
                ..ResourceSpans::default()
            }],
        }
    }

    /// The processor with no region: the metrics are dropped, nothing is sent anywhere.
    async fn appsignals() -> Arc<AppSignalsProcessor> {
        let creds = CredentialsSource::new(Env::from_pairs([("OTEL_AWS_TEST", "1")]));
        AppSignalsProcessor::start(&AwsApplicationSignalsProcessor::default(), &creds)
            .await
            .unwrap()
    }

    /// A worker running only `appsignals`, and the channel ends it needs kept open.
    fn worker_with(
        appsignals: &Arc<AppSignalsProcessor>,
    ) -> (Worker, (mpsc::Receiver<Arc<Outgoing>>, watch::Sender<bool>)) {
        let (input, rx) = PipelineInput::new("traces", 1_000_000, None, None);
        let (tx, out) = mpsc::channel(4);
        let (stop_tx, stop) = watch::channel(false);
        let worker = Worker {
            rx,
            input,
            batcher: Batcher::new(BatchSettings::default()),
            resource: None,
            appsignals: Some(Arc::clone(appsignals)),
            appsignals_metrics: None,
            exporters: vec![tx],
            stop,
        };
        (worker, (out, stop_tx))
    }

    /// `req` admitted by a fresh memory limiter at its measured size, then
    /// run through `worker`'s processors: the limiter, the item and the size admitted.
    fn admit_and_process(
        worker: &Worker,
        req: ExportTraceServiceRequest,
        spans: usize,
    ) -> (Arc<MemoryLimiter>, Item, u64) {
        let limiter = MemoryLimiter::new(64, Some(0));
        let payload = Payload::otlp(req);
        let admitted = size::payload_bytes(&payload) as u64;
        let mut item = Item {
            payload,
            spans,
            permit: Some(limiter.admit(admitted).unwrap()),
        };
        worker.process(&mut item);
        (limiter, item, admitted)
    }

    /// The memory limiter accounts a batch as the processors left it: the
    /// attributes Application Signals adds to every span are held too.
    #[tokio::test]
    async fn a_batch_is_accounted_with_what_the_processors_added() {
        let appsignals = appsignals().await;
        let (worker, _ends) = worker_with(&appsignals);
        let (limiter, item, admitted) = admit_and_process(&worker, client_spans(100), 100);
        assert_eq!(appsignals.annotated(), 100);
        let spans = &item.payload.request.resource_spans[0].scope_spans[0].spans;
        assert!(
            spans[0]
                .attributes
                .iter()
                .any(|a| a.key == "aws.remote.service"),
            "annotated: {:?}",
            spans[0].attributes
        );
        let held = size::payload_bytes(&item.payload) as u64;
        assert!(
            held > admitted,
            "the processor added {held} - {admitted} bytes"
        );
        assert_eq!(limiter.held_bytes(), held, "admitted {admitted}");

        drop(item);
        assert_eq!(limiter.held_bytes(), 0, "all of it released with the batch");
        appsignals.shutdown().await;
    }

    /// The additions the processor reports are what walking the batch again
    /// measures, whatever the spans held before: attribute vectors with and
    /// without room, none at all, and a written key already present as a
    /// string, an integer or an array (that one is measured by the walk).
    #[tokio::test]
    async fn reported_additions_match_the_walk_for_every_kind_of_span() {
        use opentelemetry_proto::tonic::common::v1::any_value::Value;
        use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue, KeyValue};

        let appsignals = appsignals().await;
        let own_remote = |value: Value| {
            let mut req = client_spans(20);
            for s in &mut req.resource_spans[0].scope_spans[0].spans {
                s.attributes.push(KeyValue {
                    key: "aws.remote.service".into(),
                    value: Some(AnyValue {
                        value: Some(value.clone()),
                    }),
                    ..KeyValue::default()
                });
            }
            req
        };
        let mut roomy = client_spans(20);
        for s in &mut roomy.resource_spans[0].scope_spans[0].spans {
            s.attributes.reserve_exact(8);
        }
        let mut bare = client_spans(20);
        for s in &mut bare.resource_spans[0].scope_spans[0].spans {
            s.attributes = Vec::new();
            s.kind = 2; // SERVER, no attributes: the service set
            s.parent_span_id.clear();
        }
        let cases = [
            ("exact vectors", client_spans(20)),
            ("vectors with room", roomy),
            ("no attributes", bare),
            (
                "own string",
                own_remote(Value::StringValue("legacy-name".into())),
            ),
            ("own integer", own_remote(Value::IntValue(7))),
            (
                "own array",
                own_remote(Value::ArrayValue(ArrayValue {
                    values: vec![AnyValue {
                        value: Some(Value::StringValue("a".into())),
                    }],
                })),
            ),
        ];
        for (case, req) in cases {
            let (worker, _ends) = worker_with(&appsignals);
            let (limiter, item, admitted) = admit_and_process(&worker, req, 20);
            let held = size::payload_bytes(&item.payload) as u64;
            assert!(held > admitted, "{case}: nothing written");
            assert_eq!(limiter.held_bytes(), held, "{case}: admitted {admitted}");
        }
        appsignals.shutdown().await;
    }
}
