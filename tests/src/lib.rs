//! # otel-aws-testkit
//!
//! Faithful fakes of the AWS parts the distro talks to, each listening on
//! `127.0.0.1:0` and recording what it receives, plus the end-to-end tests
//! (in `tests/tests/`).

pub mod chaos;
pub mod ecs;
pub mod fuzz;
pub mod imds;
pub mod lambda_sim;
pub mod moto;
pub mod otlp;
pub mod ports;
pub mod server;
pub mod sigv4;
pub mod tooling;
pub mod xray_api;
