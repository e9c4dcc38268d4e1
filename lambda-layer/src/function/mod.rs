//! The function side for Rust functions: one call wraps a `lambda_runtime`
//! handler so that each invoke
//!
//! - runs inside a SERVER span parented on `Lambda-Runtime-Trace-Id` (the
//!   X-Ray header), with `faas.invocation_id`, `faas.coldstart`,
//!   `cloud.resource_id` (the invoked ARN) and `faas.trigger`;
//! - force-flushes its spans before the handler returns — to the extension
//!   on 127.0.0.1 (fast, loopback), then tells the extension "final flush
//!   done for this request id" so it can export and let the environment
//!   freeze without waiting for `platform.runtimeDone`;
//! - or, without the extension, sends OTLP over UDP to the X-Ray daemon
//!   (`AWS_XRAY_DAEMON_ADDRESS`, T1S/T1U datagrams; see [`udp`]).
//!
//! `lambda_runtime::run` would add its own "Lambda runtime invoke" span,
//! not parented on the X-Ray header; the wrapper runs a plain
//! `lambda_runtime::Runtime` instead so each invoke has exactly one SERVER
//! span. Child spans come from `tracing` (`#[instrument]`, `info_span!`).

#[cfg(feature = "triggers")]
pub mod triggers;
pub mod udp;

use std::collections::HashMap;
use std::fmt::Debug;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use lambda_runtime::{Context, Diagnostic, LambdaEvent};
use opentelemetry::propagation::TextMapPropagator;
use otel_aws_distro::export::{
    BatchExporter, Compression, OtlpHttpConfig, OtlpHttpExporter, Protocol, RetryPolicy, Signing,
};
use otel_aws_distro::xray::XrayPropagator;
use otel_aws_distro::{Builder, Env, Guard};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::config::{OTEL_AWS_LAMBDA_FUNCTION_EXPORTER, control_addr, http_addr};

/// Why the wrapper could not set up telemetry.
#[derive(Debug, thiserror::Error)]
pub enum FunctionInitError {
    /// The distro's set-up failed.
    #[error(transparent)]
    Init(#[from] otel_aws_distro::InitError),
    /// A variable is invalid.
    #[error(transparent)]
    Config(#[from] crate::config::LambdaConfigError),
    /// The exporter could not be built.
    #[error(transparent)]
    Exporter(#[from] otel_aws_distro::export::ExportConfigError),
    /// The HTTP client for the done signal could not be built.
    #[error("cannot build the HTTP client for the extension's done signal: {0}")]
    Client(String),
    /// The UDP socket could not be opened.
    #[error("cannot open a UDP socket to the X-Ray daemon at {addr}: {source}")]
    Udp {
        /// The daemon address.
        addr: String,
        /// The OS error.
        source: std::io::Error,
    },
}

/// Where the function's spans go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Destination {
    /// The extension's OTLP/HTTP receiver; `control` gets the done signal.
    Extension {
        /// OTLP/HTTP address.
        otlp: SocketAddr,
        /// Control address.
        control: SocketAddr,
    },
    /// T1S/T1U datagrams to the X-Ray daemon.
    XrayUdp(String),
}

impl Destination {
    /// Chooses from `OTEL_AWS_LAMBDA_FUNCTION_EXPORTER` (see [`crate::config`]).
    /// `auto` probes the extension's port with an async connect (at most
    /// 50 ms), never blocking the runtime's thread.
    pub async fn from_env(env: &Env) -> Result<Self, FunctionInitError> {
        let otlp = http_addr(env)?;
        let control = control_addr(env)?;
        let daemon = otel_aws_distro::config::DaemonAddress::parse(
            env.get("AWS_XRAY_DAEMON_ADDRESS")
                .unwrap_or("127.0.0.1:2000"),
        )
        .map_err(otel_aws_distro::InitError::from)?;
        let mode = env
            .get(OTEL_AWS_LAMBDA_FUNCTION_EXPORTER)
            .unwrap_or("auto")
            .to_ascii_lowercase();
        let extension = Self::Extension { otlp, control };
        match mode.as_str() {
            "extension" => Ok(extension),
            "xray-udp" => Ok(Self::XrayUdp(daemon.udp)),
            "auto" => {
                // Extensions register (and bind their ports) before the runtime starts.
                let connect = tokio::net::TcpStream::connect(otlp);
                let up = matches!(
                    tokio::time::timeout(Duration::from_millis(50), connect).await,
                    Ok(Ok(_))
                );
                Ok(if up {
                    extension
                } else {
                    Self::XrayUdp(daemon.udp)
                })
            }
            _ => Err(crate::config::LambdaConfigError::Invalid {
                var: OTEL_AWS_LAMBDA_FUNCTION_EXPORTER,
                accepted: "auto, extension or xray-udp",
            }
            .into()),
        }
    }

    fn exporter(&self) -> Result<Arc<dyn BatchExporter>, FunctionInitError> {
        Ok(match self {
            Self::Extension { otlp, .. } => {
                let mut cfg = OtlpHttpConfig::new(format!("http://{otlp}/v1/traces"));
                cfg.protocol = Protocol::HttpProtobuf;
                cfg.compression = Compression::None; // loopback: gzip only costs CPU
                cfg.signing = Signing::Off;
                cfg.retry = RetryPolicy::none();
                cfg.timeout = Duration::from_secs(2);
                Arc::new(OtlpHttpExporter::new(cfg, None)?)
            }
            Self::XrayUdp(addr) => Arc::new(udp::XrayUdpExporter::new(addr).map_err(|source| {
                FunctionInitError::Udp {
                    addr: addr.clone(),
                    source,
                }
            })?),
        })
    }
}

/// The function's telemetry: the distro's provider plus the per-invoke span
/// and flush.
#[derive(Debug)]
pub struct FunctionTelemetry {
    guard: Guard,
    destination: Destination,
    client: reqwest::Client,
    cold: AtomicBool,
    name: String,
}

impl FunctionTelemetry {
    /// Sets up telemetry from the process environment.
    pub async fn init() -> Result<Self, FunctionInitError> {
        Self::init_with(Builder::new(), Env::from_process()).await
    }

    /// Sets up telemetry with `builder` (your overrides) reading `env`; the
    /// exporter towards the extension or the daemon is added to it.
    pub async fn init_with(builder: Builder, env: Env) -> Result<Self, FunctionInitError> {
        let destination = Destination::from_env(&env).await?;
        let client = reqwest::Client::builder()
            .no_proxy()
            .http1_only()
            .tls_certs_only(std::iter::empty()) // loopback HTTP: no root certificates to load
            .timeout(Duration::from_millis(200))
            .build()
            .map_err(|e| FunctionInitError::Client(e.to_string()))?;
        // With the extension, Application Signals (the variable is in the
        // function's and the extension's environment) are the extension's
        // work: it annotates the spans and sends the metrics as EMF before
        // the freeze. The distro in the function would mark the spans as
        // already annotated and hold the metrics for its own minute-long
        // interval, which a frozen environment may never reach.
        let distro_env = match destination {
            Destination::Extension { .. } => env
                .clone()
                .with(otel_aws_distro::appsignals::ENABLED_ENV, "false"),
            Destination::XrayUdp(_) => env.clone(),
        };
        let guard = builder
            .with_env(distro_env)
            .with_exporter(destination.exporter()?)
            .install()
            .await?;
        Ok(Self {
            guard,
            destination,
            client,
            cold: AtomicBool::new(true),
            name: env
                .get("AWS_LAMBDA_FUNCTION_NAME")
                .unwrap_or("lambda")
                .to_string(),
        })
    }

    /// Where spans go.
    pub fn destination(&self) -> &Destination {
        &self.destination
    }

    /// The distro guard (provider, resource, stats).
    pub fn guard(&self) -> &Guard {
        &self.guard
    }

    /// Runs `fut` (one invoke's handler) in the invoke's SERVER span, then
    /// flushes and signals the extension. Returns the handler's result.
    pub async fn invoke<R, E>(
        &self,
        ctx: &Context,
        fut: impl Future<Output = Result<R, E>>,
    ) -> Result<R, E> {
        let span = self.invoke_span(ctx, "other");
        self.runtime_parent(ctx, &span);
        let result = fut.instrument(span.clone()).await;
        if result.is_err() {
            span.record("otel.status_code", "ERROR");
        }
        drop(span);
        self.finish(&ctx.request_id).await;
        result
    }

    /// [`Self::invoke`] with what the event's `trigger` says (feature
    /// `triggers`): `faas.trigger`, its attributes, its parent (else the
    /// runtime's X-Ray header) and links; then what the response says
    /// (HTTP status — 5xx is an error —, partial batch failures).
    #[cfg(feature = "triggers")]
    pub async fn invoke_triggered<R, E>(
        &self,
        ctx: &Context,
        trigger: triggers::Trigger,
        fut: impl Future<Output = Result<R, E>>,
    ) -> Result<R, E>
    where
        R: triggers::TriggerResponse,
    {
        let span = self.invoke_span(ctx, trigger.kind.as_str());
        match trigger.parent {
            Some(parent) => {
                let _ = span.set_parent(parent);
            }
            None => self.runtime_parent(ctx, &span),
        }
        for kv in trigger.attributes {
            span.set_attribute(kv.key, kv.value);
        }
        for (sc, attrs) in trigger.links {
            span.add_link_with_attributes(sc, attrs);
        }
        let result = fut.instrument(span.clone()).await;
        match &result {
            Ok(response) => {
                let outcome = response.outcome();
                for kv in outcome.attributes {
                    span.set_attribute(kv.key, kv.value);
                }
                for id in outcome.failed_items {
                    span.add_event(
                        triggers::BATCH_ITEM_FAILURE_EVENT,
                        vec![opentelemetry::KeyValue::new("messaging.message.id", id)],
                    );
                }
                if outcome.server_error {
                    span.record("otel.status_code", "ERROR");
                }
            }
            Err(_) => {
                span.record("otel.status_code", "ERROR");
            }
        }
        drop(span);
        self.finish(&ctx.request_id).await;
        result
    }

    /// The invoke's SERVER span (not yet entered: parent, attributes and
    /// links may still be set).
    fn invoke_span(&self, ctx: &Context, trigger: &str) -> tracing::Span {
        let cold = self.cold.swap(false, Ordering::Relaxed);
        tracing::info_span!(
            "lambda.invoke",
            otel.name = %self.name,
            otel.kind = "server",
            otel.status_code = tracing::field::Empty,
            faas.invocation_id = %ctx.request_id,
            faas.coldstart = cold,
            faas.trigger = trigger,
            cloud.resource_id = %ctx.invoked_function_arn,
            cloud.provider = "aws",
        )
    }

    /// Parents `span` on `Lambda-Runtime-Trace-Id` (the X-Ray header).
    fn runtime_parent(&self, ctx: &Context, span: &tracing::Span) {
        if let Some(header) = &ctx.xray_trace_id {
            let carrier = HashMap::from([("x-amzn-trace-id".to_string(), header.clone())]);
            let parent = XrayPropagator::new().extract(&carrier);
            let _ = span.set_parent(parent);
        }
    }

    /// Flushes the invoke's spans and, with the extension, signals it.
    pub async fn finish(&self, request_id: &str) {
        if let Err(e) = self.guard.force_flush().await {
            tracing::warn!(error = %e, "flushing the invoke's spans failed");
        }
        if let Destination::Extension { control, .. } = &self.destination {
            let url = format!(
                "http://{control}{}",
                crate::extension::listener::done_path(request_id)
            );
            if let Err(e) = self.client.post(url).send().await {
                tracing::debug!(error = %e, "the extension did not take the done signal; it falls back to platform.runtimeDone");
            }
        }
    }

    /// Flushes and shuts the provider down.
    pub async fn shutdown(self) -> Result<(), String> {
        self.guard.shutdown().await
    }
}

/// Runs `handler` under `lambda_runtime` with telemetry from the environment.
pub async fn run<A, R, E, F, Fut>(handler: F) -> Result<(), lambda_runtime::Error>
where
    F: Fn(LambdaEvent<A>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<R, E>> + Send + 'static,
    A: DeserializeOwned + Send + 'static,
    R: Serialize + Send + 'static,
    E: Into<Diagnostic> + Debug + Send + 'static,
{
    let telemetry = FunctionTelemetry::init().await?;
    run_with(telemetry, handler).await
}

/// Runs `handler` under `lambda_runtime` with `telemetry`.
pub async fn run_with<A, R, E, F, Fut>(
    telemetry: FunctionTelemetry,
    handler: F,
) -> Result<(), lambda_runtime::Error>
where
    F: Fn(LambdaEvent<A>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<R, E>> + Send + 'static,
    A: DeserializeOwned + Send + 'static,
    R: Serialize + Send + 'static,
    E: Into<Diagnostic> + Debug + Send + 'static,
{
    let telemetry = Arc::new(telemetry);
    let handler = Arc::new(handler);
    let t = telemetry.clone();
    let service = lambda_runtime::service_fn(move |event: LambdaEvent<A>| {
        let t = t.clone();
        let handler = handler.clone();
        async move {
            let ctx = event.context.clone();
            t.invoke(&ctx, handler(event)).await
        }
    });
    lambda_runtime::Runtime::new(service).run().await
}

/// Runs `handler` under `lambda_runtime` with telemetry from the
/// environment, reading each event's trigger ([`triggers`]; feature
/// `triggers`). `A` is an `aws_lambda_events` type (or `serde_json::Value`),
/// `R` its response type.
#[cfg(feature = "triggers")]
pub async fn run_traced<A, R, E, F, Fut>(handler: F) -> Result<(), lambda_runtime::Error>
where
    F: Fn(LambdaEvent<A>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<R, E>> + Send + 'static,
    A: DeserializeOwned + triggers::TriggerEvent + Send + 'static,
    R: Serialize + triggers::TriggerResponse + Send + 'static,
    E: Into<Diagnostic> + Debug + Send + 'static,
{
    let telemetry = FunctionTelemetry::init().await?;
    run_traced_with(telemetry, handler).await
}

/// [`run_traced`] with `telemetry`.
#[cfg(feature = "triggers")]
pub async fn run_traced_with<A, R, E, F, Fut>(
    telemetry: FunctionTelemetry,
    handler: F,
) -> Result<(), lambda_runtime::Error>
where
    F: Fn(LambdaEvent<A>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<R, E>> + Send + 'static,
    A: DeserializeOwned + triggers::TriggerEvent + Send + 'static,
    R: Serialize + triggers::TriggerResponse + Send + 'static,
    E: Into<Diagnostic> + Debug + Send + 'static,
{
    let telemetry = Arc::new(telemetry);
    let handler = Arc::new(handler);
    let service = lambda_runtime::service_fn(move |event: LambdaEvent<A>| {
        let t = telemetry.clone();
        let handler = handler.clone();
        async move {
            let ctx = event.context.clone();
            let trigger = event.payload.trigger();
            t.invoke_triggered(&ctx, trigger, handler(event)).await
        }
    });
    lambda_runtime::Runtime::new(service).run().await
}
