//! Settings of the OTLP/HTTP exporter.

use std::time::Duration;

use super::DEFAULT_TIMEOUT;

/// Settings for [`super::OtlpHttpExporter`]. `Debug` shows the header
/// names only (values often carry an `Authorization` or API key).
#[derive(Clone, PartialEq, Eq)]
pub struct OtlpHttpConfig {
    /// Full URL including `/v1/traces`; used as is.
    pub endpoint: String,
    /// Extra headers sent (and signed) with every request.
    pub headers: Vec<(String, String)>,
    /// Timeout of one attempt (default 10 s).
    pub timeout: Duration,
    /// Body compression.
    pub compression: Compression,
    /// gzip level when `compression` is gzip (default [`GzipLevel::DEFAULT`]).
    pub gzip_level: GzipLevel,
    /// Body encoding.
    pub protocol: Protocol,
    /// When to SigV4-sign.
    pub signing: Signing,
    /// Retries of transient failures.
    pub retry: RetryPolicy,
    /// Request size limits; larger batches are split.
    pub limits: Limits,
}

impl std::fmt::Debug for OtlpHttpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Self {
            endpoint,
            headers,
            timeout,
            compression,
            gzip_level,
            protocol,
            signing,
            retry,
            limits,
        } = self;
        f.debug_struct("OtlpHttpConfig")
            .field("endpoint", &crate::config::redact::RedactedUrl(endpoint))
            .field("headers", &crate::config::redact::RedactedHeaders(headers))
            .field("timeout", timeout)
            .field("compression", compression)
            .field("gzip_level", gzip_level)
            .field("protocol", protocol)
            .field("signing", signing)
            .field("retry", retry)
            .field("limits", limits)
            .finish()
    }
}

impl OtlpHttpConfig {
    /// Defaults for `endpoint`: protobuf, no compression, automatic signing.
    pub fn new(endpoint: impl Into<String>) -> Self {
        Self {
            endpoint: endpoint.into(),
            headers: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
            compression: Compression::None,
            gzip_level: GzipLevel::DEFAULT,
            protocol: Protocol::HttpProtobuf,
            signing: Signing::Auto,
            retry: RetryPolicy::default(),
            limits: Limits::default(),
        }
    }
}

impl Default for OtlpHttpConfig {
    /// The local collector default, `http://localhost:4318/v1/traces`.
    fn default() -> Self {
        Self::new("http://localhost:4318/v1/traces")
    }
}

/// Body compression.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Compression {
    /// Send the body as is.
    #[default]
    None,
    /// gzip (`Content-Encoding: gzip`).
    Gzip,
}

/// A gzip level, 1 (fastest) to 9 (smallest).
///
/// The default is chosen by measurement (docs/benchmarks.md, "gzip level"):
/// bytes leaving an AWS network through a NAT gateway are billed per GB,
/// CPU time is what a Lambda extension pays for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct GzipLevel(u8);

impl GzipLevel {
    /// The fastest level.
    pub const FASTEST: Self = Self(1);
    /// The smallest output.
    pub const SMALLEST: Self = Self(9);
    /// The default (see the type's documentation).
    pub const DEFAULT: Self = Self(DEFAULT_GZIP_LEVEL);

    /// `level` when it is 1 to 9.
    pub fn new(level: u32) -> Option<Self> {
        u8::try_from(level)
            .ok()
            .filter(|l| (1..=9).contains(l))
            .map(Self)
    }

    /// The level, 1 to 9.
    pub fn get(self) -> u32 {
        u32::from(self.0)
    }
}

impl Default for GzipLevel {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl std::fmt::Display for GzipLevel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// The default gzip level (docs/benchmarks.md, "gzip level").
const DEFAULT_GZIP_LEVEL: u8 = 3;

/// OTLP/HTTP body encoding.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Protocol {
    /// `application/x-protobuf`.
    #[default]
    HttpProtobuf,
    /// `application/json` (OTLP/JSON: hex ids, camelCase).
    HttpJson,
}

/// When requests are SigV4-signed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Signing {
    /// Sign when the endpoint is the X-Ray traces or CloudWatch Logs OTLP
    /// endpoint; service and region come from the host.
    #[default]
    Auto,
    /// Sign whatever the endpoint (e.g. a VPC endpoint or proxy).
    Force {
        /// Signing service name; default `xray` (or the detected service).
        service: Option<String>,
        /// Signing region (the config layer passes `AWS_REGION`); when
        /// `None`, the region in the endpoint host, else an error.
        region: Option<String>,
    },
    /// Never sign.
    Off,
}

/// Retries of transient failures (429, 502, 503, 504, other 5xx,
/// connection errors and timeouts): exponential backoff with full jitter,
/// `Retry-After` honoured when it fits in the budget.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per request, including the first (1 = no retries).
    pub max_attempts: u32,
    /// Budget from the first attempt: no retry starts after it.
    pub max_elapsed: Duration,
    /// Ceiling of the first backoff.
    pub initial_backoff: Duration,
    /// Largest backoff ceiling.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    /// 5 attempts within 30 s, backoff ceilings 500 ms, 1 s, 2 s, 4 s (≤ 5 s).
    fn default() -> Self {
        Self {
            max_attempts: 5,
            max_elapsed: Duration::from_secs(30),
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries.
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }
}

/// Request limits (spec: X-Ray OTLP endpoint limits per traces request).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Spans per request (default 10,000).
    pub max_spans_per_request: usize,
    /// Uncompressed body bytes per request (default 5 MB).
    pub max_request_bytes: usize,
    /// Encoded bytes of one span; larger spans are dropped (default 200 KB).
    pub max_span_bytes: usize,
}

impl Limits {
    /// Per-request limits of the CloudWatch Logs OTLP endpoint, taken to be
    /// PutLogEvents' (1 MB of events, 10,000 events per call).
    pub const CLOUDWATCH_LOGS: Limits = Limits {
        max_spans_per_request: 10_000,
        max_request_bytes: 1024 * 1024,
        max_span_bytes: 1024 * 1024,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_spans_per_request: 10_000,
            max_request_bytes: 5 * 1000 * 1000,
            max_span_bytes: 200 * 1000,
        }
    }
}
