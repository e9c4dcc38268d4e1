//! # otel-aws-lambda
//!
//! The `otel-aws-extension` Lambda extension and the function-side wrapper
//! for Rust functions.
//!
//! - **Extension** ([`extension`]): an external extension that receives
//!   OTLP from the function on 127.0.0.1:4318 (HTTP) / :4317 (gRPC), holds
//!   it in a bounded [`buffer`], and exports it with the distro's exporters
//!   (by default SigV4-signed OTLP to the X-Ray endpoint) before the
//!   environment freezes. See [`flush`] for when, [`config`] for every variable.
//! - **Rust functions** ([`function`]): one call wraps a `lambda_runtime`
//!   handler so each invoke gets a SERVER span parented on the X-Ray header
//!   and its spans reach the extension before the handler returns.
//!
//! ```no_run
//! use lambda_runtime::{Error, LambdaEvent};
//! use serde_json::Value;
//!
//! async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
//!     tracing::info_span!("work").in_scope(|| ());
//!     Ok(event.payload)
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Error> {
//!     otel_aws_lambda::function::run(handler).await
//! }
//! ```

pub mod buffer;
pub mod clock;
pub mod config;
pub mod extension;
pub mod flush;
pub mod function;
pub mod platform_metrics;
pub mod platform_spans;
pub mod resource;
pub mod signal;
pub mod signal_config;
pub mod telemetry_logs;
#[cfg(test)]
mod test_log;

/// The crate README's examples, compiled as doctests (the quickstart users copy).
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
