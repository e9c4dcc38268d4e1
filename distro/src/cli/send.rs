//! `otel-aws send-test-span`: one small trace through the configured exporter.
//!
//! The spans are made by a real SDK provider (X-Ray ids, the detected
//! resource) and handed to the exporters directly, not through the batch
//! processor, so an export failure comes back here with its reason.

use std::io::Write;
use std::sync::{Arc, Mutex};

use opentelemetry::KeyValue;
use opentelemetry::trace::{Span as _, SpanKind, TraceContextExt, Tracer, TracerProvider as _};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};

use super::CliError;
use crate::Env;
use crate::config::Config;
use crate::xray::xray_trace_id;

/// Collects finished spans in memory.
#[derive(Debug, Clone, Default)]
struct Collect(Arc<Mutex<Vec<SpanData>>>);

impl SpanExporter for Collect {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend(batch);
        Ok(())
    }
}

pub(super) async fn run(env: &Env, out: &mut dyn Write) -> Result<u8, CliError> {
    let config = Config::from_env(env)?;
    if config.disabled.value {
        return Err(CliError::Failed(
            "telemetry is disabled (OTEL_SDK_DISABLED / AWS_XRAY_SDK_ENABLED)".into(),
        ));
    }
    if config.exporters.value.is_empty() {
        return Err(CliError::Failed(
            "OTEL_TRACES_EXPORTER=none: there is no exporter to test".into(),
        ));
    }
    let resource = crate::init::build_resource(env, &config, &[]).await;
    let collect = Collect::default();
    let provider = SdkTracerProvider::builder()
        .with_resource(resource.clone())
        .with_id_generator(crate::xray::XrayIdGenerator::default())
        .with_simple_exporter(collect.clone())
        .build();
    let tracer = provider.tracer("otel-aws send-test-span");
    let trace_id = tracer.in_span("otel-aws test span", |cx| {
        let span = cx.span();
        span.set_attribute(KeyValue::new("otel_aws.test", true));
        tracer
            .span_builder("otel-aws test child")
            .with_kind(SpanKind::Client)
            .start_with_context(&tracer, &cx)
            .end();
        span.span_context().trace_id()
    });
    provider
        .force_flush()
        .map_err(|e| CliError::Failed(format!("could not finish the test spans: {e}")))?;
    let spans = std::mem::take(&mut *collect.0.lock().unwrap_or_else(|p| p.into_inner()));
    let request = ExportTraceServiceRequest {
        resource_spans: crate::export::resource_spans(
            spans,
            &ResourceAttributesWithSchema::from(&resource),
        ),
    };

    let exporters =
        crate::init::build_exporters(&config, None, Arc::new(crate::export::ExportStats::new()))
            .await?;
    let mut failed = Vec::new();
    for (kind, exporter) in config.exporters.value.iter().zip(exporters) {
        match exporter.export(request.clone()).await {
            Ok(outcome) => writeln!(
                out,
                "{}: exported {} span(s) in {} request(s)",
                kind.as_str(),
                outcome.spans_exported,
                outcome.requests
            )?,
            Err(e) => {
                writeln!(out, "{}: FAILED: {e}", kind.as_str())?;
                failed.push(format!("{}: {e}", kind.as_str()));
            }
        }
    }
    writeln!(
        out,
        "trace id {}  (X-Ray: {})",
        trace_id,
        xray_trace_id(trace_id)
    )?;
    if failed.is_empty() {
        Ok(0)
    } else {
        Err(CliError::Failed(format!(
            "export failed: {}",
            failed.join("; ")
        )))
    }
}
