//! `init()`: one call that sets up OpenTelemetry for AWS.
//!
//! It reads the configuration ([`crate::config`]), detects the resource
//! (bounded, never fatal), builds the exporters, installs a tracer provider
//! with X-Ray trace ids, the configured sampler and span limits, sets the
//! global propagator (X-Ray + W3C by default) and, unless told not to, a
//! `tracing` subscriber whose JSON lines carry the trace ids. The returned
//! [`Guard`] flushes and shuts everything down.
//!
//! With `OTEL_METRICS_EXPORTER` / `OTEL_LOGS_EXPORTER` it also installs a
//! meter provider (global) and a logger provider fed by the `tracing`
//! events ([`crate::providers`]), on the same resource as the traces.

use std::sync::Arc;

use aws_credential_types::provider::SharedCredentialsProvider;
use opentelemetry::KeyValue;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::logs::SdkLoggerProvider;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanLimits};

use crate::Env;
use crate::config::{
    Config, ConfigError, ExporterKind, OtlpSettings, SigV4Setting, SignalSettings,
};
use crate::export::{
    AwsXraySpec, BatchExporter, BatchSettings, Compression, CredentialStrategy, DefaultChain,
    ExportConfigError, ExportStats, ExporterSpec, OtlpHttpConfig, Protocol, Signing,
    batch_processor, build_exporter,
};
use crate::logs::LogInitError;
use crate::propagation::{PropagatorKind, build_propagator};
use crate::resource::{DetectOptions, service_name};
use crate::sampling::{ConfiguredSampler, SamplerConfig};

/// Why `init()` could not set up telemetry.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    /// A configuration value is invalid.
    #[error("invalid configuration: {0}")]
    Config(#[from] ConfigError),
    /// An exporter could not be built.
    #[error("cannot build the trace exporter: {0}")]
    Exporter(#[from] ExportConfigError),
    /// A metrics exporter could not be built (`OTEL_METRICS_EXPORTER`).
    #[error("cannot build the metrics exporter (OTEL_METRICS_EXPORTER): {0}")]
    Metrics(ExportConfigError),
    /// A logs exporter could not be built (`OTEL_LOGS_EXPORTER`).
    #[error("cannot build the logs exporter (OTEL_LOGS_EXPORTER): {0}")]
    Logger(ExportConfigError),
    /// The `tracing` subscriber could not be installed.
    #[error(transparent)]
    Logs(#[from] LogInitError),
    /// `init()` needs a tokio runtime (the exporters run on it).
    #[error(
        "otel_aws_distro::init() must be called inside a tokio runtime (e.g. from #[tokio::main])"
    )]
    NoRuntime,
}

/// Code overrides for [`init`]. Values set here win over every variable.
#[derive(Debug, Default)]
pub struct Builder {
    env: Option<Env>,
    service_name: Option<String>,
    resource_attributes: Vec<KeyValue>,
    exporters: Vec<Arc<dyn BatchExporter>>,
    sampler: Option<SamplerConfig>,
    propagators: Option<Vec<PropagatorKind>>,
    detect: Option<DetectOptions>,
    credentials: Option<SharedCredentialsProvider>,
    no_subscriber: bool,
    no_globals: bool,
}

/// Sets up OpenTelemetry from the environment; see the crate docs.
pub async fn init() -> Result<Guard, InitError> {
    Builder::new().install().await
}

impl Builder {
    /// A builder that reads the process environment.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads this environment instead of the process's (tests, embedding).
    pub fn with_env(mut self, env: Env) -> Self {
        self.env = Some(env);
        self
    }

    /// Sets `service.name` (wins over `OTEL_SERVICE_NAME`).
    pub fn with_service_name(mut self, name: impl Into<String>) -> Self {
        self.service_name = Some(name.into());
        self
    }

    /// Adds resource attributes (win over detected and `OTEL_RESOURCE_ATTRIBUTES`).
    pub fn with_resource_attributes(mut self, attrs: impl IntoIterator<Item = KeyValue>) -> Self {
        self.resource_attributes.extend(attrs);
        self
    }

    /// Exports to this exporter instead of the configured ones (may be called
    /// several times to export to several).
    pub fn with_exporter(mut self, exporter: Arc<dyn BatchExporter>) -> Self {
        self.exporters.push(exporter);
        self
    }

    /// Uses this sampler instead of `OTEL_TRACES_SAMPLER`.
    pub fn with_sampler(mut self, sampler: SamplerConfig) -> Self {
        self.sampler = Some(sampler);
        self
    }

    /// Uses these propagators instead of `OTEL_PROPAGATORS`.
    pub fn with_propagators(mut self, kinds: Vec<PropagatorKind>) -> Self {
        self.propagators = Some(kinds);
        self
    }

    /// Uses these detection options instead of the environment's.
    pub fn with_detect_options(mut self, opts: DetectOptions) -> Self {
        self.detect = Some(opts);
        self
    }

    /// Signs with these credentials instead of aws-config's default chain.
    pub fn with_credentials_provider(mut self, credentials: SharedCredentialsProvider) -> Self {
        self.credentials = Some(credentials);
        self
    }

    /// Does not install the global `tracing` subscriber (bring your own and
    /// add [`crate::logs::otel_layer`] to it).
    pub fn without_tracing_subscriber(mut self) -> Self {
        self.no_subscriber = true;
        self
    }

    /// Sets neither the global tracer provider nor the global propagator
    /// (use [`Guard::tracer_provider`] directly; implies no subscriber).
    pub fn without_globals(mut self) -> Self {
        self.no_globals = true;
        self.no_subscriber = true;
        self
    }

    /// Reads the configuration, applies the overrides, detects the resource,
    /// builds the exporters and installs the provider.
    pub async fn install(self) -> Result<Guard, InitError> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(InitError::NoRuntime);
        }
        let env = self.env.clone().unwrap_or_else(Env::from_process);
        let mut config = Config::from_env(&env)?;
        if let Some(name) = &self.service_name {
            config.service_name = Some(name.clone());
        }
        if let Some(s) = self.sampler {
            config.sampler = crate::config::Sourced::code(s);
        }
        if let Some(p) = self.propagators.clone() {
            config.propagators = crate::config::Sourced::code(p);
        }
        if let Some(d) = self.detect.clone() {
            config.detect = d;
        }
        if config.disabled.value {
            return Ok(Guard::disabled(config));
        }
        let signals = SignalSettings::from_env(&env, config.region.value.as_deref())?;

        let resource = build_resource(&env, &config, &self.resource_attributes).await;
        let stats = Arc::new(ExportStats::new());
        let strategy = match self.credentials.clone() {
            Some(c) => CredentialStrategy::Given(c),
            None => {
                CredentialStrategy::DefaultChain(DefaultChain::new(config.region.value.clone()))
            }
        };
        let metrics_stats = Arc::new(ExportStats::new());
        let meter_provider = crate::providers::meter_provider(
            &signals,
            config.region.value.as_deref(),
            &resource,
            &strategy,
            &metrics_stats,
        )
        .await
        .map_err(InitError::Metrics)?;
        let logs_stats = Arc::new(ExportStats::new());
        let logger_provider =
            crate::providers::logger_provider(&signals, &resource, &strategy, &logs_stats)
                .await
                .map_err(InitError::Logger)?;
        let exporters = if self.exporters.is_empty() {
            build_exporters(&config, self.credentials.clone(), stats.clone()).await?
        } else {
            self.exporters.clone()
        };
        // OTEL_AWS_APPLICATION_SIGNALS_ENABLED: spans annotated and their
        // metrics recorded as they end; metrics flushed.
        let (signals, appsignals) = match crate::appsignals::export::install(
            &env,
            config.region.value.clone(),
            self.credentials.clone(),
        )
        .await?
        {
            Some((signals, flush)) => (Some(signals), Some(flush)),
            None => (None, None),
        };

        let batch = BatchSettings {
            schedule_delay: config.batch.schedule_delay.value,
            export_timeout: config.batch.export_timeout.value,
            max_queue_size: config.batch.max_queue_size.value as usize,
            max_export_batch_size: config.batch.max_export_batch_size.value as usize,
        };
        // Built with the resource (X-Ray rules match service name/type/ARN)
        // inside the runtime: the xray sampler's rule poller starts here.
        let sampler = config
            .sampler
            .value
            .build_for(&resource, self.credentials.clone());
        // Application Signals: each span given its local root's operation
        // as it starts (ADOT's propagating processor), through the sampler,
        // which sees the starting span, and the first batch processor.
        let propagation = appsignals.is_some().then(|| {
            Arc::new(crate::appsignals::Propagation::new(
                crate::appsignals::GeneratorConfig::from_env(&env),
            ))
        });
        // And, as ADOT's `AlwaysRecordSampler`, spans not sampled are
        // recorded, so that the metrics count every request.
        let sampler = match &propagation {
            Some(p) => sampler.with_start_observer(p.clone()).recording_all(),
            None => sampler,
        };
        let mut builder = SdkTracerProvider::builder()
            .with_resource(resource.clone())
            .with_id_generator(crate::xray::XrayIdGenerator::default())
            .with_sampler(sampler.clone())
            .with_span_limits(SpanLimits {
                max_attributes_per_span: config.limits.attributes_per_span.value,
                max_events_per_span: config.limits.events_per_span.value,
                max_links_per_span: config.limits.links_per_span.value,
                max_attributes_per_event: config.limits.attributes_per_event.value,
                max_attributes_per_link: config.limits.attributes_per_link.value,
            });
        // X-Ray adaptive sampling: anomalies counted at span end, captured
        // spans of not-sampled traces sent to the same exporters.
        if let Some(xray) = sampler.adaptive_xray() {
            let capture = exporters.iter().map(|e| {
                let mut e = crate::export::ProtoSpanExporter::new(e.clone());
                opentelemetry_sdk::trace::SpanExporter::set_resource(&mut e, &resource);
                e
            });
            let capture = crate::sampling::xray::AnomalyCaptureProcessor::new(
                xray.clone(),
                capture.collect(),
            )
            .with_timeout(config.batch.export_timeout.value);
            builder = builder.with_span_processor(capture);
        }
        for (i, exporter) in exporters.into_iter().enumerate() {
            let mut processor = batch_processor(exporter, batch);
            if let Some(p) = propagation.as_ref().filter(|_| i == 0) {
                processor = processor.with_live_spans(p.clone());
            }
            if let Some(signals) = &signals {
                // Each exporter's spans annotated; the first processor's counted.
                let annotator = crate::appsignals::EndAnnotator::new(signals.clone(), i == 0);
                processor = processor.with_annotator(Arc::new(annotator));
            }
            builder = builder.with_span_processor(processor);
        }
        let provider = builder.build();

        if !self.no_globals {
            opentelemetry::global::set_text_map_propagator(build_propagator(
                &config.propagators.value,
                config.lambda_trace_env.clone(),
            ));
            // Wrapped so that the instrumentation layers built from the
            // globals can start spans with the SDK's tracer directly.
            opentelemetry::global::set_tracer_provider(
                crate::instrument::tracer::InstalledProvider(provider.clone()),
            );
            if let Some(mp) = &meter_provider {
                opentelemetry::global::set_meter_provider(mp.clone());
            }
        }
        if !self.no_subscriber {
            crate::logs::install(
                Some(&provider),
                logger_provider.as_ref(),
                config.log_format.value,
                env.get(crate::config::vars::RUST_LOG),
            )?;
        }
        // Read with the configuration, before any subscriber: said now,
        // where the application's own or the one just installed hears it.
        if let crate::sampling::SamplerConfig::Xray(xray) = &config.sampler.value
            && let Some(err) = xray.adaptive.rejection()
        {
            tracing::error!(%err, "X-Ray adaptive sampling configuration rejected");
        }
        let _ = provider.tracer("otel-aws-distro");
        Ok(Guard {
            provider: Some(provider),
            meter_provider,
            logger_provider,
            sampler: Some(sampler),
            resource,
            config,
            stats,
            appsignals,
            metrics_stats,
            logs_stats,
        })
    }
}

/// Builds the resource: detected < `OTEL_RESOURCE_ATTRIBUTES` < service name
/// precedence < code attributes; plus `telemetry.sdk.*` and `telemetry.distro.*`.
pub async fn build_resource(env: &Env, config: &Config, code_attrs: &[KeyValue]) -> Resource {
    let detected = crate::resource::detect(env, &config.detect).await;
    let executable = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "unknown".to_string());
    let name = match &config.service_name {
        Some(n) => n.clone(),
        None => service_name(env, &detected, &executable).0,
    };
    let mut attrs: Vec<KeyValue> = detected
        .iter()
        .map(|(k, v)| KeyValue::new(k.clone(), v.clone()))
        .collect();
    attrs.extend(config.resource_attributes.value.iter().cloned());
    attrs.push(KeyValue::new("service.name", name));
    attrs.push(KeyValue::new("telemetry.distro.name", "otel-aws"));
    attrs.push(KeyValue::new(
        "telemetry.distro.version",
        env!("CARGO_PKG_VERSION"),
    ));
    attrs.extend(code_attrs.iter().cloned());
    Resource::builder_empty()
        .with_detector(Box::new(
            opentelemetry_sdk::resource::TelemetryResourceDetector,
        ))
        .with_attributes(attrs)
        .build()
}

/// Maps the configuration onto the (traces) OTLP exporter's settings.
pub fn otlp_http_config(config: &Config) -> OtlpHttpConfig {
    otlp_settings_config(&config.otlp)
}

/// Maps one signal's OTLP settings onto the OTLP exporter's settings.
pub fn otlp_settings_config(otlp: &OtlpSettings) -> OtlpHttpConfig {
    let mut cfg = OtlpHttpConfig::new(otlp.endpoint.value.clone());
    cfg.headers = otlp.headers.value.clone();
    cfg.timeout = otlp.timeout.value;
    cfg.compression = if otlp.gzip.value {
        Compression::Gzip
    } else {
        Compression::None
    };
    cfg.gzip_level = otlp.gzip_level.value;
    cfg.protocol = if otlp.json.value {
        Protocol::HttpJson
    } else {
        Protocol::HttpProtobuf
    };
    cfg.signing = match &otlp.sigv4.value {
        SigV4Setting::Auto => Signing::Auto,
        SigV4Setting::Force { service, region } => Signing::Force {
            service: Some(service.clone()),
            region: Some(region.clone()),
        },
        SigV4Setting::Off => Signing::Off,
    };
    cfg
}

/// Maps the configuration onto the `xray` exporter's settings.
pub fn xray_config(config: &Config) -> crate::export::AwsXrayConfig {
    let mut cfg = crate::export::AwsXrayConfig::default();
    cfg.translate.indexed = crate::translate::IndexedKeys {
        keys: config.xray.indexed_attributes.value.clone(),
        all: config.xray.index_all_attributes.value,
    };
    cfg.max_concurrency = config.xray.max_concurrency.value as usize;
    cfg
}

/// Builds the configured exporters. OTLP signs with `credentials`, or with
/// aws-config's default chain (cached, refreshed before expiry) when `None`;
/// its counters go to `stats`.
pub async fn build_exporters(
    config: &Config,
    credentials: Option<SharedCredentialsProvider>,
    stats: Arc<ExportStats>,
) -> Result<Vec<Arc<dyn BatchExporter>>, InitError> {
    let strategy = match credentials {
        Some(c) => CredentialStrategy::Given(c),
        None => CredentialStrategy::DefaultChain(DefaultChain::new(config.region.value.clone())),
    };
    let mut out: Vec<Arc<dyn BatchExporter>> = Vec::new();
    for kind in &config.exporters.value {
        let (spec, shared_stats) = match kind {
            ExporterKind::Otlp => (ExporterSpec::OtlpHttp(otlp_http_config(config)), true),
            ExporterKind::Console => (ExporterSpec::Console, false),
            ExporterKind::File => (ExporterSpec::File(config.traces_file.value.clone()), false),
            ExporterKind::Xray => (
                ExporterSpec::AwsXray(AwsXraySpec::new(
                    xray_config(config),
                    config.region.value.clone(),
                    None,
                )),
                true,
            ),
        };
        let stats = shared_stats.then(|| stats.clone());
        out.push(build_exporter(&spec, &strategy, stats).await?);
    }
    Ok(out)
}

/// Keeps telemetry running; flushes and shuts down on [`Guard::shutdown`] or drop.
#[derive(Debug)]
pub struct Guard {
    provider: Option<SdkTracerProvider>,
    meter_provider: Option<SdkMeterProvider>,
    logger_provider: Option<SdkLoggerProvider>,
    /// Kept to stop the X-Ray rules poller at shutdown (the global provider
    /// holds a clone of the sampler forever).
    sampler: Option<ConfiguredSampler>,
    resource: Resource,
    config: Config,
    stats: Arc<ExportStats>,
    /// Application Signals metrics flush (when enabled).
    appsignals: Option<crate::appsignals::FlushHandle>,
    metrics_stats: Arc<ExportStats>,
    logs_stats: Arc<ExportStats>,
}

impl Guard {
    fn disabled(config: Config) -> Self {
        Self {
            provider: None,
            meter_provider: None,
            logger_provider: None,
            sampler: None,
            resource: Resource::builder_empty().build(),
            config,
            stats: Arc::new(ExportStats::new()),
            appsignals: None,
            metrics_stats: Arc::new(ExportStats::new()),
            logs_stats: Arc::new(ExportStats::new()),
        }
    }

    /// True when telemetry is off (`OTEL_SDK_DISABLED=true` or `AWS_XRAY_SDK_ENABLED=false`).
    pub fn is_disabled(&self) -> bool {
        self.provider.is_none()
    }

    /// The installed provider (`None` when disabled).
    pub fn tracer_provider(&self) -> Option<&SdkTracerProvider> {
        self.provider.as_ref()
    }

    /// The sampler the provider decides with (`None` when disabled); e.g.
    /// its X-Ray rules in use ([`ConfiguredSampler::adaptive_xray`]).
    pub fn sampler(&self) -> Option<&ConfiguredSampler> {
        self.sampler.as_ref()
    }

    /// The meter provider (`None` unless `OTEL_METRICS_EXPORTER` names an
    /// exporter; it is also the global one).
    pub fn meter_provider(&self) -> Option<&SdkMeterProvider> {
        self.meter_provider.as_ref()
    }

    /// The logger provider the `tracing` events go to (`None` unless
    /// `OTEL_LOGS_EXPORTER` names an exporter).
    pub fn logger_provider(&self) -> Option<&SdkLoggerProvider> {
        self.logger_provider.as_ref()
    }

    /// Counters of the metrics exporters (data points as `spans_*`).
    pub fn metrics_stats(&self) -> &Arc<ExportStats> {
        &self.metrics_stats
    }

    /// Counters of the logs exporters (log records as `spans_*`).
    pub fn logs_stats(&self) -> &Arc<ExportStats> {
        &self.logs_stats
    }

    /// The resource every span carries.
    pub fn resource(&self) -> &Resource {
        &self.resource
    }

    /// The effective configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Export counters.
    pub fn stats(&self) -> &Arc<ExportStats> {
        &self.stats
    }

    /// Exports every finished span, the metrics collected so far and the
    /// log records emitted, now.
    pub async fn force_flush(&self) -> Result<(), String> {
        let Some(provider) = self.provider.clone() else {
            return Ok(());
        };
        let meters = self.meter_provider.clone();
        let loggers = self.logger_provider.clone();
        // The SDK's flush blocks its caller until the batch task (on this
        // runtime) answers: run it off the async worker.
        tokio::task::spawn_blocking(move || {
            let traces = provider.force_flush().map_err(|e| e.to_string());
            let metrics = meters.map_or(Ok(()), |m| m.force_flush().map_err(|e| e.to_string()));
            let logs = loggers.map_or(Ok(()), |l| l.force_flush().map_err(|e| e.to_string()));
            traces.and(metrics).and(logs)
        })
        .await
        .map_err(|e| e.to_string())?
    }

    /// Flushes and shuts down the provider.
    pub async fn shutdown(mut self) -> Result<(), String> {
        if let Some(sampler) = self.sampler.take() {
            sampler.shutdown();
        }
        let Some(provider) = self.provider.take() else {
            return Ok(());
        };
        let all = shutdown_all(
            provider,
            self.meter_provider.take(),
            self.logger_provider.take(),
        );
        let result = tokio::task::spawn_blocking(all)
            .await
            .map_err(|e| e.to_string())?;
        // After the provider: the last spans' metrics are in the last interval.
        if let Some(a) = self.appsignals.take() {
            a.shutdown().await;
        }
        result
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(sampler) = self.sampler.take() {
            sampler.shutdown();
        }
        let Some(provider) = self.provider.take() else {
            return;
        };
        let all = shutdown_all(
            provider,
            self.meter_provider.take(),
            self.logger_provider.take(),
        );
        match tokio::runtime::Handle::try_current() {
            Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                let _ = tokio::task::block_in_place(all);
            }
            Ok(_) => {
                tracing::warn!(
                    "otel-aws Guard dropped on a current-thread runtime: call `guard.shutdown().await` to flush the last spans"
                );
            }
            Err(_) => {
                let _ = all();
            }
        }
    }
}

/// Shuts the three providers down (blocking): logs and metrics first, as
/// their exports may still log and open spans.
fn shutdown_all(
    traces: SdkTracerProvider,
    meters: Option<SdkMeterProvider>,
    loggers: Option<SdkLoggerProvider>,
) -> impl FnOnce() -> Result<(), String> + Send + 'static {
    move || {
        let logs = loggers.map_or(Ok(()), |l| l.shutdown().map_err(|e| e.to_string()));
        let metrics = meters.map_or(Ok(()), |m| m.shutdown().map_err(|e| e.to_string()));
        // Flush first: the batch processor's shutdown exports what is left
        // but does not report that export's failure; the flush does.
        let flushed = traces.force_flush();
        let traces = flushed.and(traces.shutdown()).map_err(|e| e.to_string());
        traces.and(metrics).and(logs)
    }
}
