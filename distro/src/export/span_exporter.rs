//! The SDK edge: `SpanData` becomes the one OTLP batch type here, once.

use std::sync::Arc;
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use tokio::runtime::Handle;

use super::{BatchExporter, BatchSettings, EncodingBatchProcessor, ExportError};

/// An `opentelemetry_sdk` [`SpanExporter`] that converts each batch (plus the
/// provider's resource) to one [`ExportTraceServiceRequest`] and hands it to
/// a [`BatchExporter`].
///
/// Its exporters are async (reqwest, AWS credential providers) and need a
/// tokio reactor. Built with [`ProtoSpanExporter::on_runtime`], each export
/// runs as a task on that runtime, so the exporter works under the SDK's
/// thread-based `BatchSpanProcessor`; built with
/// [`ProtoSpanExporter::new`], the export future is polled where the
/// processor polls it (the async-runtime processor, or exporters that need
/// no reactor).
#[derive(Debug)]
pub struct ProtoSpanExporter {
    inner: Arc<dyn BatchExporter>,
    resource: ResourceAttributesWithSchema,
    runtime: Option<Handle>,
}

impl ProtoSpanExporter {
    /// Wraps `inner`; exports are polled by the caller.
    pub fn new(inner: Arc<dyn BatchExporter>) -> Self {
        Self {
            inner,
            resource: ResourceAttributesWithSchema::default(),
            runtime: None,
        }
    }

    /// Wraps `inner`; each export runs as a task on `runtime`.
    pub fn on_runtime(inner: Arc<dyn BatchExporter>, runtime: Handle) -> Self {
        Self {
            runtime: Some(runtime),
            ..Self::new(inner)
        }
    }

    /// Converts spans to one OTLP request with the current resource.
    pub fn to_request(&self, batch: Vec<SpanData>) -> ExportTraceServiceRequest {
        ExportTraceServiceRequest {
            resource_spans: super::resource_spans_with_headroom(
                batch,
                &self.resource,
                self.inner.span_attribute_headroom(),
            ),
        }
    }
}

/// The span processor [`crate::init`] installs for each exporter: an
/// [`EncodingBatchProcessor`] (spans encoded where they end, batched on its
/// own thread, exported on the current tokio runtime when there is one).
pub fn batch_processor(
    exporter: Arc<dyn BatchExporter>,
    settings: BatchSettings,
) -> EncodingBatchProcessor {
    EncodingBatchProcessor::new(exporter, settings)
}

pub(super) fn sdk_error(err: ExportError) -> OTelSdkError {
    OTelSdkError::InternalFailure(err.to_string())
}

impl SpanExporter for ProtoSpanExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        if batch.is_empty() {
            return Ok(());
        }
        let request = self.to_request(batch);
        let result = match &self.runtime {
            Some(runtime) => {
                let inner = self.inner.clone();
                runtime
                    .spawn(async move { inner.export(request).await })
                    .await
                    .map_err(|e| {
                        OTelSdkError::InternalFailure(format!("export task did not finish: {e}"))
                    })?
            }
            None => self.inner.export(request).await,
        };
        result.map(|_| ()).map_err(sdk_error)
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown().map_err(sdk_error)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush().map_err(sdk_error)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.resource = resource.into();
    }
}

#[cfg(test)]
mod tests {
    use super::super::{ExportFuture, ExportOutcome, span_count};
    use super::*;
    use opentelemetry::KeyValue;
    use opentelemetry::trace::{Span, Tracer, TracerProvider};
    use opentelemetry_sdk::runtime::Tokio;
    use opentelemetry_sdk::trace::SdkTracerProvider;
    use opentelemetry_sdk::trace::span_processor_with_async_runtime::BatchSpanProcessor;
    use std::sync::Mutex;

    #[derive(Debug, Default)]
    struct Recorder(Mutex<Vec<ExportTraceServiceRequest>>);

    impl BatchExporter for Recorder {
        fn export(&self, batch: ExportTraceServiceRequest) -> ExportFuture<'_> {
            let n = span_count(&batch) as u64;
            self.0.lock().unwrap().push(batch);
            Box::pin(async move {
                Ok(ExportOutcome {
                    requests: 1,
                    spans_exported: n,
                    ..Default::default()
                })
            })
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn async_batch_processor_delivers_one_request_with_resource() {
        let recorder = Arc::new(Recorder::default());
        let exporter = ProtoSpanExporter::new(recorder.clone());
        let provider = SdkTracerProvider::builder()
            .with_resource(
                Resource::builder_empty()
                    .with_attribute(KeyValue::new("service.name", "checkout"))
                    .build(),
            )
            .with_span_processor(BatchSpanProcessor::builder(exporter, Tokio).build())
            .build();
        let tracer = provider.tracer("lib-a");
        for i in 0..3 {
            let mut span = tracer.start(format!("op-{i}"));
            span.set_attribute(KeyValue::new("i", i64::from(i)));
            span.end();
        }
        provider.tracer("lib-b").start("other").end();
        // force_flush blocks on a channel answered by a tokio task: call it off the runtime.
        let flushed = tokio::task::spawn_blocking(move || {
            let r = provider.force_flush();
            let _ = provider.shutdown();
            r
        })
        .await
        .unwrap();
        flushed.unwrap();
        let got = recorder.0.lock().unwrap().clone();
        let spans: usize = got.iter().map(span_count).sum();
        assert_eq!(spans, 4);
        let rs = &got[0].resource_spans[0];
        let service = rs
            .resource
            .as_ref()
            .unwrap()
            .attributes
            .iter()
            .find(|kv| kv.key == "service.name");
        assert!(service.is_some(), "resource reached the request");
        let scopes: Vec<&str> = got
            .iter()
            .flat_map(|r| &r.resource_spans)
            .flat_map(|rs| &rs.scope_spans)
            .map(|ss| ss.scope.as_ref().unwrap().name.as_str())
            .collect();
        assert!(
            scopes.contains(&"lib-a") && scopes.contains(&"lib-b"),
            "{scopes:?}"
        );
    }

    /// Records every span; samples only the one named `sampled`.
    #[derive(Debug, Clone)]
    struct RecordAll;

    impl opentelemetry_sdk::trace::ShouldSample for RecordAll {
        fn should_sample(
            &self,
            _: Option<&opentelemetry::Context>,
            _: opentelemetry::trace::TraceId,
            name: &str,
            _: &opentelemetry::trace::SpanKind,
            _: &[KeyValue],
            _: &[opentelemetry::trace::Link],
        ) -> opentelemetry_sdk::trace::SamplingResult {
            use opentelemetry_sdk::trace::SamplingDecision;
            opentelemetry_sdk::trace::SamplingResult {
                decision: if name == "sampled" {
                    SamplingDecision::RecordAndSample
                } else {
                    SamplingDecision::RecordOnly
                },
                attributes: Vec::new(),
                trace_state: Default::default(),
            }
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn batch_processor_exports_sampled_spans_only() {
        let recorder = Arc::new(Recorder::default());
        let provider = SdkTracerProvider::builder()
            .with_sampler(RecordAll)
            .with_span_processor(batch_processor(recorder.clone(), BatchSettings::default()))
            .build();
        let tracer = provider.tracer("t");
        tracer.start("recorded-only").end();
        tracer.start("sampled").end();
        let flushed = tokio::task::spawn_blocking(move || {
            let r = provider.force_flush();
            let _ = provider.shutdown();
            r
        })
        .await
        .unwrap();
        flushed.unwrap();
        let got = recorder.0.lock().unwrap().clone();
        let names: Vec<&str> = got
            .iter()
            .flat_map(|r| &r.resource_spans)
            .flat_map(|rs| &rs.scope_spans)
            .flat_map(|ss| &ss.spans)
            .map(|s| s.name.as_str())
            .collect();
        assert_eq!(names, ["sampled"]);
    }
}
