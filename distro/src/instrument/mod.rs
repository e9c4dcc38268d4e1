//! Instrumentation without hand-written spans: HTTP servers (axum, hyper,
//! tonic) through a `tower` layer, `reqwest` clients through
//! `reqwest-middleware`, the trace context carried across tasks and
//! threads, and errors recorded per the conventions.
//!
//! Each integration is behind its own cargo feature, so an application
//! compiles only what it uses:
//!
//! | feature   | module                    | what                                   |
//! |-----------|---------------------------|----------------------------------------|
//! | `tower`   | [`server`]                | SERVER spans for any tower HTTP service, gRPC included |
//! | `axum`    | [`server`]                | + `http.route` from axum's matched path, peer from `ConnectInfo` |
//! | `tonic`   | [`server`]                | + peer from tonic's `TcpConnectInfo`   |
//! | `reqwest` | [`client`]                | CLIENT spans and propagation headers   |
//! | `rayon`   | [`context::rayon`]        | context into rayon's pool              |
//! | (none)    | [`context`], [`error`]    | tasks and threads; exceptions on spans |
//!
//! Spans go through the global tracer provider — the one [`crate::init`]
//! installs — unless given a provider; context is extracted and injected
//! with the global propagator (`OTEL_PROPAGATORS`, X-Ray and W3C by default).
//! When the provider is the SDK's (`init()`'s, or an `SdkTracerProvider`
//! given), spans are started with the SDK's tracer itself rather than the
//! globals' boxed one (see `tracer.rs`).

pub mod context;
pub mod error;

#[cfg(any(feature = "tower", feature = "reqwest"))]
mod headers;
pub(crate) mod tracer;

#[cfg(feature = "tower")]
pub mod server;
#[cfg(feature = "tower")]
pub use server::ServerLayer;

#[cfg(feature = "reqwest")]
pub mod client;
#[cfg(feature = "reqwest")]
pub use client::{TracingMiddleware, traced_client};

/// Instrumentation scope name of the spans this module makes.
pub const SCOPE_NAME: &str = "otel-aws-distro.instrument";

#[cfg(any(feature = "tower", feature = "reqwest"))]
fn scope() -> opentelemetry::InstrumentationScope {
    opentelemetry::InstrumentationScope::builder(SCOPE_NAME)
        .with_version(env!("CARGO_PKG_VERSION"))
        .build()
}
