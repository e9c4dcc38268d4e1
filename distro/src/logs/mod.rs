//! Logs that link to traces: the `tracing` integration.
//!
//! [`install`] sets a global `tracing` subscriber made of an `EnvFilter`
//! for the log lines (`RUST_LOG`, default `info`; spans are exported at
//! `info` and above regardless), the `tracing-opentelemetry` layer wired to
//! the distro's tracer provider (so `#[instrument]` spans become
//! OpenTelemetry spans), and a log line formatter: [`JsonFormat`] (default;
//! adds `trace_id`, `xray_trace_id`, `span_id`) or plain text. With a logger
//! provider (`OTEL_LOGS_EXPORTER`), [`log_bridge_layer`] also turns `tracing`
//! events into OpenTelemetry log records carrying the active trace and span
//! ids; the log lines on stdout are unchanged.

mod json;

pub use json::JsonFormat;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_appender_tracing::layer::OpenTelemetryTracingBridge;
use opentelemetry_sdk::logs::SdkLoggerProvider;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use tracing::Subscriber;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer as _;
use tracing_subscriber::filter::{FilterExt as _, LevelFilter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;

/// Format of log lines written by the distro's `tracing` subscriber
/// (`OTEL_AWS_LOG_FORMAT`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line with `trace_id`/`span_id` (CloudWatch Logs friendly).
    Json,
    /// Human-readable text.
    Text,
}

/// Errors installing the `tracing` subscriber.
#[derive(Debug, thiserror::Error)]
pub enum LogInitError {
    /// `RUST_LOG` could not be parsed.
    #[error(
        "RUST_LOG={value:?} is not a valid tracing filter ({reason}): use directives like `info` or `my_crate=debug,info`"
    )]
    Filter {
        /// The value.
        value: String,
        /// Parser message.
        reason: String,
    },
    /// A global subscriber is already installed (by the application or another library).
    #[error(
        "a global tracing subscriber is already set; build the layers with otel_aws_distro::logs::otel_layer and add them to yours"
    )]
    AlreadySet,
}

/// The `tracing-opentelemetry` layer wired to `provider`, for applications
/// that build their own subscriber.
pub fn otel_layer<S>(
    provider: &SdkTracerProvider,
) -> tracing_opentelemetry::OpenTelemetryLayer<S, SdkTracer>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    tracing_opentelemetry::layer().with_tracer(provider.tracer("otel-aws-distro"))
}

/// Targets whose events never become OpenTelemetry log records: the
/// exporters' own diagnostics (exporting them would log about exporting, in
/// a loop) and the HTTP/TLS/AWS client crates under them.
const BRIDGE_EXCLUDED_TARGETS: &[&str] = &[
    "opentelemetry",
    "otel_aws_distro::export",
    "otel_aws_distro::emf",
    "hyper",
    "h2",
    "reqwest",
    "rustls",
    "tonic",
    "tower",
    "aws_",
];

/// The layer bridging `tracing` events to `logger_provider` (the upstream
/// `opentelemetry-appender-tracing` bridge), minus the exporters' own events;
/// for applications that build their own subscriber.
pub fn log_bridge_layer<S>(logger_provider: &SdkLoggerProvider) -> impl tracing_subscriber::Layer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    OpenTelemetryTracingBridge::new(logger_provider).with_filter(
        tracing_subscriber::filter::filter_fn(|meta| {
            let target = meta.target();
            !BRIDGE_EXCLUDED_TARGETS
                .iter()
                .any(|t| target.starts_with(t))
        }),
    )
}

/// Installs the global subscriber: filter + OpenTelemetry layer (when a
/// provider is given) + the log bridge (when a logger provider is given) +
/// the chosen line format, writing to stdout.
///
/// `filter` (`RUST_LOG`, default `info`) decides which log lines are
/// written. Spans are exported at `info` and above whatever it says (and
/// below `info` where it enables them): `RUST_LOG=warn` quietens the logs
/// without losing the `info_span!`/`#[instrument]` spans of the trace.
pub fn install(
    provider: Option<&SdkTracerProvider>,
    logger_provider: Option<&SdkLoggerProvider>,
    format: LogFormat,
    filter: Option<&str>,
) -> Result<(), LogInitError> {
    let subscriber = subscriber(provider, logger_provider, format, filter, std::io::stdout)?;
    tracing::subscriber::set_global_default(subscriber).map_err(|_| LogInitError::AlreadySet)
}

/// The subscriber [`install`] sets, writing log lines to `writer`.
pub(crate) fn subscriber<W>(
    provider: Option<&SdkTracerProvider>,
    logger_provider: Option<&SdkLoggerProvider>,
    format: LogFormat,
    filter: Option<&str>,
    writer: W,
) -> Result<impl Subscriber + Send + Sync + 'static, LogInitError>
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let directives = filter.unwrap_or("info");
    let parse = || {
        EnvFilter::builder()
            .parse(directives)
            .map_err(|e| LogInitError::Filter {
                value: directives.to_string(),
                reason: e.to_string(),
            })
    };
    let log_filter = parse()?;
    let span_filter = LevelFilter::INFO.or(parse()?);
    let otel = provider.map(|p| otel_layer(p).with_filter(span_filter));
    // Log records follow RUST_LOG, like the lines.
    let bridge = match logger_provider {
        Some(lp) => Some(log_bridge_layer(lp).with_filter(parse()?)),
        None => None,
    };
    let lines = match format {
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .event_format(JsonFormat::new())
            .with_writer(writer)
            .boxed(),
        LogFormat::Text => tracing_subscriber::fmt::layer().with_writer(writer).boxed(),
    };
    Ok(tracing_subscriber::registry()
        .with(otel)
        .with(bridge)
        .with(lines.with_filter(log_filter)))
}

#[cfg(test)]
mod tests;
