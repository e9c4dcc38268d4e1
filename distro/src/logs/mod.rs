//! Logs that link to traces: the `tracing` integration.
//!
//! [`install`] sets a global `tracing` subscriber made of an `EnvFilter`
//! (`RUST_LOG`, default `info`), the `tracing-opentelemetry` layer wired to
//! the distro's tracer provider (so `#[instrument]` spans become
//! OpenTelemetry spans), and a log line formatter: [`JsonFormat`] (default;
//! adds `trace_id`, `xray_trace_id`, `span_id`) or plain text.

mod json;

pub use json::JsonFormat;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use tracing::Subscriber;
use tracing_subscriber::EnvFilter;
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

/// Installs the global subscriber: filter + OpenTelemetry layer (when a
/// provider is given) + the chosen line format, writing to stdout.
pub fn install(
    provider: Option<&SdkTracerProvider>,
    format: LogFormat,
    filter: Option<&str>,
) -> Result<(), LogInitError> {
    let directives = filter.unwrap_or("info");
    let filter = EnvFilter::builder()
        .parse(directives)
        .map_err(|e| LogInitError::Filter {
            value: directives.to_string(),
            reason: e.to_string(),
        })?;
    let otel = provider.map(otel_layer);
    let registry = tracing_subscriber::registry().with(filter).with(otel);
    let result = match format {
        LogFormat::Json => tracing::subscriber::set_global_default(
            registry.with(tracing_subscriber::fmt::layer().event_format(JsonFormat::new())),
        ),
        LogFormat::Text => {
            tracing::subscriber::set_global_default(registry.with(tracing_subscriber::fmt::layer()))
        }
    };
    result.map_err(|_| LogInitError::AlreadySet)
}

#[cfg(test)]
mod tests;
