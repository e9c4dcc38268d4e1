//! The meter and logger providers `init()` installs beside the tracer
//! provider: the same resource, exporters described as [`ExporterSpec`]s
//! from the configuration and built by the one builder
//! ([`build_exporter`]), run on the tokio runtime (async-runtime periodic
//! reader and batch log processor).

use std::sync::Arc;

use opentelemetry_sdk::Resource;
use opentelemetry_sdk::logs::SdkLoggerProvider;
use opentelemetry_sdk::logs::log_processor_with_async_runtime::BatchLogProcessor;
use opentelemetry_sdk::metrics::periodic_reader_with_async_runtime::PeriodicReader;
use opentelemetry_sdk::metrics::{
    Aggregation, Instrument, InstrumentKind, SdkMeterProvider, Stream, Temporality,
};

use crate::config::{
    EmfOutputSetting, HistogramAggregation, LogsExporterKind, MetricsExporterKind, OtlpSettings,
    SignalSettings, TemporalityPreference,
};
use crate::emf::EmfConfig;
use crate::export::{
    AwsEmfSpec, AwsEndpointKind, CredentialStrategy, EmfCloudWatch, EmfDestination,
    ExportConfigError, ExportStats, ExporterSpec, Limits, OtlpHttpConfig, ProtoLogExporter,
    ProtoMetricExporter, build_exporter, detect_aws_endpoint,
};
use crate::init::otlp_settings_config;

/// The `awsemf` exporter's spec from the settings; `region` is the
/// configuration's (PutLogEvents).
pub fn emf_spec(signals: &SignalSettings, region: Option<&str>) -> AwsEmfSpec {
    let emf = &signals.metrics.emf;
    AwsEmfSpec {
        config: EmfConfig {
            namespace: emf.namespace.clone(),
            dimension_rollup: emf.dimension_rollup.value,
            log_group_name: emf.log_group.clone(),
            log_stream_name: emf.log_stream.clone(),
            ..EmfConfig::default()
        },
        output: match emf.output.value {
            EmfOutputSetting::Stdout => EmfDestination::Stdout,
            EmfOutputSetting::CloudWatch => EmfDestination::CloudWatch(EmfCloudWatch {
                region: region.map(str::to_owned),
                endpoint: emf.endpoint.as_ref().map(|e| e.value.clone()),
                ..EmfCloudWatch::default()
            }),
        },
        id: None,
    }
}

fn temporality(p: TemporalityPreference) -> Temporality {
    match p {
        TemporalityPreference::Cumulative => Temporality::Cumulative,
        TemporalityPreference::Delta => Temporality::Delta,
        TemporalityPreference::LowMemory => Temporality::LowMemory,
    }
}

/// The metrics exporter specs, each with the temporality it asks the SDK
/// for (`awsemf` always delta: CloudWatch adds up what each document carries).
pub fn metrics_specs(
    signals: &SignalSettings,
    region: Option<&str>,
) -> Vec<(ExporterSpec, Temporality)> {
    let chosen = temporality(signals.metrics.temporality.value);
    signals
        .metrics
        .exporters
        .value
        .iter()
        .map(|kind| match kind {
            MetricsExporterKind::Otlp => (
                ExporterSpec::OtlpHttp(otlp_settings_config(&signals.metrics.otlp)),
                chosen,
            ),
            MetricsExporterKind::Console => (ExporterSpec::Console, chosen),
            MetricsExporterKind::AwsEmf => (
                ExporterSpec::AwsEmf(emf_spec(signals, region)),
                Temporality::Delta,
            ),
        })
        .collect()
}

/// The logs exporter specs.
pub fn logs_specs(signals: &SignalSettings) -> Vec<ExporterSpec> {
    signals
        .logs
        .exporters
        .value
        .iter()
        .map(|kind| match kind {
            LogsExporterKind::Otlp => ExporterSpec::OtlpHttp(logs_otlp(&signals.logs.otlp)),
            LogsExporterKind::Console => ExporterSpec::Console,
        })
        .collect()
}

/// The logs OTLP exporter: the CloudWatch Logs endpoint gets its request limits.
fn logs_otlp(settings: &OtlpSettings) -> OtlpHttpConfig {
    let mut cfg = otlp_settings_config(settings);
    if detect_aws_endpoint(&cfg.endpoint).is_some_and(|e| e.kind == AwsEndpointKind::CloudWatchLogs)
    {
        cfg.limits = Limits::CLOUDWATCH_LOGS;
    }
    cfg
}

/// Builds the meter provider on `resource` (`None` when no metrics exporter
/// is configured); every exporter counts into `stats`.
pub async fn meter_provider(
    signals: &SignalSettings,
    region: Option<&str>,
    resource: &Resource,
    strategy: &CredentialStrategy,
    stats: &Arc<ExportStats>,
) -> Result<Option<SdkMeterProvider>, ExportConfigError> {
    let specs = metrics_specs(signals, region);
    if specs.is_empty() {
        return Ok(None);
    }
    let mut builder = SdkMeterProvider::builder().with_resource(resource.clone());
    if signals.metrics.histogram_aggregation.value == HistogramAggregation::Base2Exponential {
        builder = builder.with_view(exponential_histograms);
    }
    for (spec, temporality) in specs {
        let exporter = build_exporter(&spec, strategy, Some(stats.clone())).await?;
        let reader = PeriodicReader::builder(
            ProtoMetricExporter::new(exporter, temporality),
            opentelemetry_sdk::runtime::Tokio,
        )
        .with_interval(signals.metrics.interval.value)
        .with_timeout(signals.metrics.timeout.value)
        .build();
        builder = builder.with_reader(reader);
    }
    Ok(Some(builder.build()))
}

/// The view of `OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION=
/// base2_exponential_bucket_histogram`: histograms with the specification's
/// default exponential aggregation (160 buckets, scale 20, min and max).
fn exponential_histograms(instrument: &Instrument) -> Option<Stream> {
    if instrument.kind() != InstrumentKind::Histogram {
        return None;
    }
    Stream::builder()
        .with_aggregation(Aggregation::Base2ExponentialHistogram {
            max_size: 160,
            max_scale: 20,
            record_min_max: true,
        })
        .build()
        .ok()
}

/// Builds the logger provider on `resource` (`None` when no logs exporter is
/// configured); every exporter counts into `stats`.
pub async fn logger_provider(
    signals: &SignalSettings,
    resource: &Resource,
    strategy: &CredentialStrategy,
    stats: &Arc<ExportStats>,
) -> Result<Option<SdkLoggerProvider>, ExportConfigError> {
    let specs = logs_specs(signals);
    if specs.is_empty() {
        return Ok(None);
    }
    let mut builder = SdkLoggerProvider::builder().with_resource(resource.clone());
    for spec in specs {
        let exporter = build_exporter(&spec, strategy, Some(stats.clone())).await?;
        let processor = BatchLogProcessor::builder(
            ProtoLogExporter::new(exporter),
            opentelemetry_sdk::runtime::Tokio,
        )
        .build();
        builder = builder.with_log_processor(processor);
    }
    Ok(Some(builder.build()))
}
