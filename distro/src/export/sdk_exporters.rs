//! The SDK edge for metrics and logs: the meter provider's `ResourceMetrics`
//! and the logger provider's `LogBatch` become the one OTLP batch type per
//! signal here, once (as [`super::ProtoSpanExporter`] does for spans), and
//! go to a [`BatchExporter`]'s `export_metrics` / `export_logs`.
//!
//! The exporters are async: run these under the async-runtime periodic
//! reader and batch log processor (`opentelemetry_sdk::runtime::Tokio`).

use std::sync::Arc;
use std::time::Duration;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_proto::transform::logs::tonic::group_logs_by_resource_and_scope;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::logs::{LogBatch, LogExporter};
use opentelemetry_sdk::metrics::Temporality;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;

use super::BatchExporter;
use super::span_exporter::sdk_error;

/// An `opentelemetry_sdk` [`PushMetricExporter`] handing each collection,
/// as one [`ExportMetricsServiceRequest`], to a [`BatchExporter`].
#[derive(Debug)]
pub struct ProtoMetricExporter {
    inner: Arc<dyn BatchExporter>,
    temporality: Temporality,
}

impl ProtoMetricExporter {
    /// Wraps `inner`, asking the SDK for `temporality`.
    pub fn new(inner: Arc<dyn BatchExporter>, temporality: Temporality) -> Self {
        Self { inner, temporality }
    }
}

impl PushMetricExporter for ProtoMetricExporter {
    async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        let request = ExportMetricsServiceRequest::from(metrics);
        if request
            .resource_metrics
            .iter()
            .all(|r| r.scope_metrics.is_empty())
        {
            return Ok(());
        }
        self.inner
            .export_metrics(request)
            .await
            .map(|_| ())
            .map_err(sdk_error)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush().map_err(sdk_error)
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown().map_err(sdk_error)
    }

    fn temporality(&self) -> Temporality {
        self.temporality
    }
}

/// An `opentelemetry_sdk` [`LogExporter`] handing each batch (plus the
/// provider's resource), as one [`ExportLogsServiceRequest`], to a
/// [`BatchExporter`].
#[derive(Debug)]
pub struct ProtoLogExporter {
    inner: Arc<dyn BatchExporter>,
    resource: ResourceAttributesWithSchema,
}

impl ProtoLogExporter {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn BatchExporter>) -> Self {
        Self {
            inner,
            resource: ResourceAttributesWithSchema::default(),
        }
    }
}

impl LogExporter for ProtoLogExporter {
    async fn export(&self, batch: LogBatch<'_>) -> OTelSdkResult {
        let request = ExportLogsServiceRequest {
            resource_logs: group_logs_by_resource_and_scope(&batch, &self.resource),
        };
        if request.resource_logs.is_empty() {
            return Ok(());
        }
        self.inner
            .export_logs(request)
            .await
            .map(|_| ())
            .map_err(sdk_error)
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown().map_err(sdk_error)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.resource = resource.into();
    }
}
