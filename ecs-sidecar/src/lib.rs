//! otel-aws ECS sidecar collector.
//!
//! Filled in by the ECS sidecar work (issue 5); the crate builds empty until then.
