//! # otel-aws-distro
//!
//! One call sets up OpenTelemetry for AWS.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod env;
pub mod export;
pub mod logs;
pub mod propagation;
pub mod resource;
pub mod sampling;
pub mod xray;

pub use env::Env;
