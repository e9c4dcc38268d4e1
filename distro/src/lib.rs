//! # otel-aws-distro
//!
//! One call sets up OpenTelemetry for AWS: X-Ray trace ids and the
//! `X-Amzn-Trace-Id` propagator (with W3C tracecontext and baggage),
//! EC2/ECS/Lambda resource detection, configuration from the standard
//! `OTEL_*` variables (and the legacy `AWS_XRAY_*` ones), and
//! collector-less OTLP export, SigV4-signed for the X-Ray and CloudWatch
//! Logs OTLP endpoints.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! // OTEL_SERVICE_NAME=checkout
//! // OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=https://xray.us-east-1.amazonaws.com/v1/traces
//! let guard = otel_aws_distro::init().await?;
//! tracing::info_span!("handle_order", order_id = 42).in_scope(|| {
//!     tracing::info!("order accepted"); // JSON line with trace_id / xray_trace_id / span_id
//! });
//! guard.shutdown().await?; // flushes
//! # Ok(()) }
//! ```
//!
//! See [`Builder`] for code overrides and [`config`] for every variable read.

pub mod appsignals;
#[cfg(feature = "aws-sdk")]
pub mod aws_sdk;
#[cfg(feature = "cli")]
pub mod cli;
pub mod config;
pub mod emf;
pub mod env;
pub mod export;
mod init;
pub mod instrument;
mod intern;
pub mod logs;
#[cfg(all(feature = "musl-mem", target_arch = "x86_64"))]
pub mod musl_mem;
pub mod propagation;
pub mod providers;
#[cfg(feature = "server")]
pub mod receiver;
pub mod resource;
pub mod sampling;
mod shard;
pub mod translate;
pub mod xray;

pub use env::Env;
pub use init::{
    Builder, Guard, InitError, build_exporters, build_resource, init, otlp_http_config,
    otlp_settings_config, xray_config,
};

/// The crate README's examples, compiled as doctests (the quickstart users copy).
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
