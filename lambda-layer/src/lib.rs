//! otel-aws Lambda extension and function-side wrapper.
//!
//! Filled in by the Lambda work (issue 4); the crate builds empty until then.
