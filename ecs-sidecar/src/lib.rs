//! # otel-aws-sidecar
//!
//! A small collector for ECS tasks: OTLP (gRPC and HTTP) and legacy X-Ray
//! daemon traffic (UDP segments, `T1S`/`T1U` OTLP datagrams, the TCP
//! sampling proxy) in; batching, memory limits, ECS resource detection; export
//! to X-Ray (OTLP/HTTP with SigV4, or PutTraceSegments), a file or the
//! console. Configured in the OpenTelemetry Collector's YAML dialect so ADOT
//! users can bring theirs.
//!
//! The binary `otel-aws-sidecar` is a thin shell over [`config::Config`] and
//! `pipeline`.

pub mod config;
pub mod exporter;
pub mod extension;
pub mod healthcheck;
pub mod pipeline;
pub mod processor;
pub mod receiver;
pub mod service;
pub mod telemetry;

pub use service::{ReceiverAddrs, Sidecar, SidecarOptions, StartError};
