//! AWS X-Ray ids and the `X-Amzn-Trace-Id` propagator.
//!
//! * [`XrayIdGenerator`]: trace ids whose high 32 bits are the epoch seconds,
//!   as X-Ray requires.
//! * [`XrayPropagator`]: the `xray` and `xray-lambda` propagators.
//! * [`header`]: parsing/formatting the header value and
//!   [`decode_trace_header`] for `otel-aws header`.
//! * [`daemon`]: the daemon UDP datagram codec (header, segment documents,
//!   `T1S`/`T1U` OTLP).
//! * [`is_deferred`]: whether a context's remote parent left the sampling
//!   decision to this service (`Sampled=?`).

pub mod daemon;
mod decode;
pub mod header;
mod id;
mod propagator;
mod state;

pub use decode::{DecodedHeader, decode_trace_header};
pub use header::{TraceHeader, parse_xray_trace_id, xray_trace_id};
pub use id::XrayIdGenerator;
#[cfg(feature = "aws-sdk")]
pub(crate) use propagator::header_for_span;
pub use propagator::{LAMBDA_TRACE_ENV, XRAY_HEADER, XrayPropagator};
pub use state::{header_extras, is_deferred};
