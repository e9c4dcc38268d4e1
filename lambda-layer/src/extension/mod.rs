//! The `otel-aws-extension` external extension.
//!
//! Start-up order (exec → first `next` is the extension's share of the cold
//! start, so only what must precede `next` does):
//! 1. bind the OTLP receivers (127.0.0.1:4318 HTTP, :4317 gRPC), the control
//!    endpoint and the Telemetry API listener — before registering, so the
//!    runtime (started after every extension registered) finds them open;
//! 2. register for INVOKE and SHUTDOWN (SHUTDOWN only on Lambda Managed
//!    Instances), and log the chosen upstream and why;
//! 3. spawn the Telemetry API subscription and the exporter construction
//!    (TLS client, credentials) — they complete while `next` is pending;
//! 4. the loop in [`runner`].

pub mod api;
pub mod appsignals;
pub mod cwlogs;
pub mod delivery;
pub mod flusher;
pub mod listener;
pub mod runner;
pub mod sampling_proxy;
pub mod signals;
pub mod stats;
pub mod telemetry;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use aws_credential_types::provider::SharedCredentialsProvider;
use otel_aws_distro::Env;
use otel_aws_distro::export::{BatchExporter, CredentialStrategy};
use otel_aws_distro::receiver::{ReceiverConfig, RunningReceivers, Sinks};

use crate::buffer::BufferSink;
use crate::clock::{Clock, MonotonicClock};
use crate::config::ExtensionConfig;
use crate::flush::FlushPlanner;
use crate::platform_spans::PlatformSpans;
use api::ExtensionsApi;
use flusher::{Buffers, ExporterSet, Flusher};
use listener::ListenerState;
use signals::DoneSignals;
use stats::ExtensionStats;

/// `AWS_LAMBDA_RUNTIME_API`: `host:port` of the Lambda APIs.
pub const AWS_LAMBDA_RUNTIME_API: &str = "AWS_LAMBDA_RUNTIME_API";

/// Why the extension could not run.
#[derive(Debug, thiserror::Error)]
pub enum ExtensionError {
    /// Not running under Lambda (or a simulator).
    #[error("{AWS_LAMBDA_RUNTIME_API} is not set: run the extension inside Lambda or lambda-sim")]
    NoRuntimeApi,
    /// A receiver could not listen.
    #[error(transparent)]
    Receiver(#[from] otel_aws_distro::receiver::ReceiverError),
    /// The control or telemetry listener could not listen.
    #[error("cannot listen on {addr}: {source} (set {var} to a free address)")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// Its variable.
        var: &'static str,
        /// The OS error.
        source: std::io::Error,
    },
    /// An Extensions API call failed.
    #[error(transparent)]
    Api(#[from] api::ApiError),
    /// The sampling proxy's address is not valid.
    #[error(transparent)]
    SamplingProxy(#[from] sampling_proxy::SamplingProxyError),
}

/// Credentials of the execution role from the environment (Lambda sets
/// them for the runtime and the extensions); `None` lets the exporter fall
/// back to aws-config's default chain.
pub fn env_credentials(env: &Env) -> Option<SharedCredentialsProvider> {
    let key = env.get("AWS_ACCESS_KEY_ID")?;
    let secret = env.get("AWS_SECRET_ACCESS_KEY")?;
    let creds = aws_credential_types::Credentials::new(
        key,
        secret,
        env.get("AWS_SESSION_TOKEN").map(str::to_string),
        None,
        "lambda-environment",
    );
    Some(SharedCredentialsProvider::new(creds))
}

/// Builds the configured exporters. Unlike the distro's `build_exporters`,
/// never loads aws-config's default chain: Lambda gives the execution
/// role's credentials in the environment, and leaving the chain out keeps
/// aws-config (and its STS/SSO clients) out of the extension binary. The
/// `xray` exporter (cargo feature `xray`) builds its SDK client by hand from
/// the region, `creds` and `AWS_ENDPOINT_URL_XRAY` / `AWS_ENDPOINT_URL` in
/// `env`; without the feature it is logged as unavailable.
pub fn build_exporters(
    cfg: &otel_aws_distro::config::Config,
    env: &Env,
    creds: Option<SharedCredentialsProvider>,
) -> Result<Vec<Arc<dyn BatchExporter>>, otel_aws_distro::export::ExportConfigError> {
    use futures_util::FutureExt as _;
    use otel_aws_distro::config::ExporterKind;
    use otel_aws_distro::export::{CredentialStrategy, ExportConfigError, ExporterSpec};
    #[cfg(not(feature = "xray"))]
    let _ = env;
    let strategy = creds.map_or(CredentialStrategy::None, CredentialStrategy::Given);
    let mut out: Vec<Arc<dyn BatchExporter>> = Vec::new();
    for kind in &cfg.exporters.value {
        let spec = match kind {
            ExporterKind::Otlp => ExporterSpec::OtlpHttp(otel_aws_distro::otlp_http_config(cfg)),
            ExporterKind::Console => ExporterSpec::Console,
            ExporterKind::File => ExporterSpec::File(cfg.traces_file.value.clone()),
            #[cfg(feature = "xray")]
            ExporterKind::Xray => ExporterSpec::AwsXray(otel_aws_distro::export::AwsXraySpec::new(
                otel_aws_distro::xray_config(cfg),
                cfg.region.value.clone(),
                otel_aws_distro::export::xray_endpoint_url(env),
            )),
            #[cfg(not(feature = "xray"))]
            ExporterKind::Xray => {
                tracing::error!(
                    exporter = "xray",
                    "this layer was built without the xray exporter (build otel-aws-lambda with --features xray, or use otlp): spans are not sent to X-Ray"
                );
                continue;
            }
        };
        // With given (or no) credentials nothing in the build waits: the
        // future is ready at its first poll.
        let built = otel_aws_distro::export::build_exporter(&spec, &strategy, None)
            .now_or_never()
            .ok_or(ExportConfigError::InvalidSetting {
                name: "credentials",
                reason: "the extension builds exporters without loading credentials".into(),
            })??;
        out.push(built);
    }
    Ok(out)
}

/// The OTLP/HTTP exporter of metrics or logs (`up`: its settings; `None`:
/// exporter `none`), built as the traces one is (given credentials, no
/// default chain). A build error is logged and leaves the signal without a
/// destination: its data is counted as dropped.
pub fn build_signal_exporter(
    signal: &'static str,
    up: Option<&crate::signal_config::SignalUpstream>,
    strategy: &otel_aws_distro::export::CredentialStrategy,
) -> Vec<Arc<dyn BatchExporter>> {
    use futures_util::FutureExt as _;
    use otel_aws_distro::export::ExporterSpec;
    let Some(up) = up else { return Vec::new() };
    tracing::info!(
        signal,
        upstream = %otel_aws_distro::config::redact::RedactedUrl(&up.otlp.endpoint),
        why = %up.why,
        "upstream chosen"
    );
    let spec = ExporterSpec::OtlpHttp(up.otlp.clone());
    match otel_aws_distro::export::build_exporter(&spec, strategy, None).now_or_never() {
        Some(Ok(e)) => vec![e],
        Some(Err(e)) => {
            tracing::error!(signal, error = %e, "cannot build the exporter: this signal's data will be dropped");
            Vec::new()
        }
        None => {
            tracing::error!(
                signal,
                "the exporter needs credentials the extension does not load"
            );
            Vec::new()
        }
    }
}

/// Runs the extension until SHUTDOWN.
pub async fn run(cfg: ExtensionConfig) -> Result<(), ExtensionError> {
    run_since(cfg, std::time::Instant::now()).await
}

/// Like [`run`]; `started` (the process start, taken first thing in `main`)
/// is the origin of the `init_ms` counter (exec → first `next`).
pub async fn run_since(
    cfg: ExtensionConfig,
    started: std::time::Instant,
) -> Result<(), ExtensionError> {
    let runtime_api = cfg
        .env
        .get(AWS_LAMBDA_RUNTIME_API)
        .ok_or(ExtensionError::NoRuntimeApi)?
        .to_string();
    let clock: Arc<dyn Clock> = Arc::new(MonotonicClock::new());
    let buffers = Buffers::new(cfg.buffer, clock.clone());
    let signals = Arc::new(DoneSignals::new());
    let platform_metrics = cfg.signals.platform_metrics.then(|| {
        Arc::new(Mutex::new(crate::platform_metrics::PlatformMetrics::new(
            flusher::unix_now_ns(),
        )))
    });
    let forwarder = cfg.signals.forward_logs.then(|| {
        Arc::new(crate::telemetry_logs::LogForwarder::new(
            buffers.logs.clone(),
            cfg.managed,
        ))
    });
    let platform = cfg.platform_spans.then(|| {
        let name = cfg
            .env
            .get("AWS_LAMBDA_FUNCTION_NAME")
            .unwrap_or("function");
        Arc::new(Mutex::new(PlatformSpans::new(name)))
    });
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = move || {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|s| *s).await;
        }
    };

    // 1. Listeners.
    let sinks = Sinks::traces(Arc::new(BufferSink(buffers.traces.clone())))
        .with_metrics(Arc::new(BufferSink(buffers.metrics.clone())))
        .with_logs(Arc::new(BufferSink(buffers.logs.clone())));
    let receivers: RunningReceivers = otel_aws_distro::receiver::serve_signals(
        ReceiverConfig {
            http_addr: Some(cfg.http_addr),
            grpc_addr: Some(cfg.grpc_addr),
            ..ReceiverConfig::default()
        },
        sinks,
        stopped(),
    )
    .await?;
    let state = ListenerState {
        signals: signals.clone(),
        platform: platform.clone(),
        platform_metrics: platform_metrics.clone(),
        logs: forwarder.clone(),
    };
    let token = listener::telemetry_token();
    let listen = |addr, var, router| {
        let stop = stopped();
        async move {
            listener::serve(addr, router, stop)
                .await
                .map_err(|source| ExtensionError::Listen { addr, var, source })
        }
    };
    // Two listeners: the control endpoint (loopback) serves the done signal
    // only; the Telemetry API destination serves its secret path only.
    listen(
        cfg.control_addr,
        crate::config::OTEL_AWS_LAMBDA_CONTROL_ADDR,
        listener::control_router(state.clone()),
    )
    .await?;
    let telemetry_addr = listen(
        cfg.telemetry_addr,
        crate::config::OTEL_AWS_LAMBDA_TELEMETRY_ADDR,
        listener::telemetry_router(state, &token),
    )
    .await?;

    // The X-Ray sampling proxy for the function (centralized and adaptive sampling).
    let _sampling_proxy = sampling_proxy::start(&cfg.env, stop_tx.subscribe()).await?;

    // 2. Register.
    // Lambda Managed Instances send no INVOKE events to extensions.
    let events: &[&str] = if cfg.managed {
        &["SHUTDOWN"]
    } else {
        &["INVOKE", "SHUTDOWN"]
    };
    let api = ExtensionsApi::register_for(&runtime_api, api::EXTENSION_NAME, events).await?;
    match &cfg.upstream {
        Some(up) => tracing::info!(
            upstream = %otel_aws_distro::config::redact::RedactedUrl(&up.url),
            why = %up.why,
            managed_instances = cfg.managed,
            "upstream chosen"
        ),
        None => tracing::info!(
            managed_instances = cfg.managed,
            "no otlp exporter: no upstream URL"
        ),
    }

    // 3. Off the critical path: subscription, exporters, resource.
    let host = if telemetry_addr.ip().is_unspecified() {
        "sandbox.localdomain".to_string()
    } else {
        telemetry_addr.ip().to_string()
    };
    let uri = format!(
        "http://{host}:{}{}",
        telemetry_addr.port(),
        listener::telemetry_path(&token)
    );
    let sub_api = api.clone();
    let sub_logs = cfg.signals.forward_logs;
    tokio::spawn(async move {
        if let Err(e) = sub_api.subscribe_telemetry(&uri, sub_logs).await {
            tracing::warn!(error = %e, "Telemetry API subscription failed: flushing on the function's signal or the deadline only");
        }
    });
    let app_signals = if cfg.app_signals {
        match appsignals::LambdaAppSignals::new(
            otel_aws_distro::appsignals::GeneratorConfig::from_env(&cfg.env),
        ) {
            Ok(s) => Some(Arc::new(s)),
            Err(e) => {
                tracing::error!(error = %e, "application signals are off");
                None
            }
        }
    } else {
        None
    };
    let (exp_tx, exp_rx) = tokio::sync::watch::channel(None);
    let export_cfg = cfg.export.clone();
    let signals_cfg = cfg.signals.clone();
    let creds = env_credentials(&cfg.env);
    let exp_env = cfg.env.clone();
    let with_app_signals = app_signals.is_some();
    // On a blocking thread: building the TLS client loads the system's root
    // certificates (CPU-bound, tens of ms) and must not delay `next` on this
    // single-threaded runtime.
    tokio::task::spawn_blocking(move || {
        let strategy = creds
            .clone()
            .map_or(CredentialStrategy::None, CredentialStrategy::Given);
        let traces = build_exporters(&export_cfg, &exp_env, creds.clone()).unwrap_or_else(|e| {
            tracing::error!(error = %e, "cannot build the exporters: spans will be dropped");
            Vec::new()
        });
        let set = ExporterSet {
            traces,
            metrics: build_signal_exporter("metrics", signals_cfg.metrics.as_ref(), &strategy),
            logs: build_signal_exporter("logs", signals_cfg.logs.as_ref(), &strategy),
            app_signals: if with_app_signals {
                appsignals::build_exporter(&exp_env, export_cfg.region.value.as_deref(), creds)
            } else {
                Vec::new()
            },
        };
        let _ = exp_tx.send(Some(Arc::new(set)));
    });
    let resource = crate::resource::lambda_resource(&cfg.env).await;
    let stats = Arc::new(ExtensionStats::default());
    let flusher = Arc::new(
        Flusher::new(
            buffers,
            exp_rx,
            cfg.buffer,
            clock.clone(),
            resource,
            platform,
            stats.clone(),
        )
        .with_platform_metrics(platform_metrics)
        .with_app_signals(app_signals, cfg.app_signals_interval),
    );

    // 4. The loop.
    let runner = runner::Runner {
        api: api.clone(),
        flusher,
        signals,
        planner: FlushPlanner::new(cfg.flush),
        flush_timeout: cfg.flush_timeout,
        stats,
        clock,
        stats_writer: stats::StatsWriter::new(cfg.stats_file.clone()),
        started,
        background: None,
        last_done: None,
        logs: forwarder,
    };
    let result = runner.run().await;
    let _ = stop_tx.send(true);
    receivers.shutdown();
    if let Err(e) = &result {
        api.report_error(false, "RuntimeApi", &e.to_string()).await;
    }
    result.map_err(Into::into)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The "upstream chosen" line of a metrics/logs exporter says where
    /// data goes without the URL's userinfo or query string (credentials:
    /// `user:password@`, `?api_key=`).
    #[test]
    fn signal_upstream_line_hides_url_secrets() {
        let up = crate::signal_config::SignalUpstream {
            otlp: otel_aws_distro::export::OtlpHttpConfig::new(
                "https://admin:s3cr3t@collector.example:4318/v1/metrics?api_key=k3y",
            ),
            why: "OTEL_AWS_LAMBDA_METRICS_ENDPOINT is set (it wins)".into(),
        };
        let (_, text) = crate::test_log::capture(|| {
            build_signal_exporter("metrics", Some(&up), &CredentialStrategy::None)
        });
        assert!(text.contains("upstream chosen"), "{text}");
        assert!(text.contains("collector.example:4318/v1/metrics"), "{text}");
        assert!(
            !text.contains("s3cr3t") && !text.contains("k3y"),
            "secret logged: {text}"
        );
    }
}
