//! [`ReceiverConfig`]: where to listen and how much to take.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;

/// Default OTLP/gRPC port.
pub const DEFAULT_GRPC_PORT: u16 = 4317;
/// Default OTLP/HTTP port.
pub const DEFAULT_HTTP_PORT: u16 = 4318;
/// Default largest accepted body, after decompression: 20 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 20 * 1024 * 1024;
/// Default time to let in-flight requests finish after shutdown is signalled.
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(5);
/// Suggested longest time a connection may go without receiving a byte
/// (headers not sent, body stalled, idle keep-alive) for a receiver open to
/// other hosts (the ECS sidecar). Not the default: a Lambda sandbox is
/// frozen between invokes, and a timer firing at thaw would close the
/// function's pooled connection under its next export.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Suggested longest time to receive one request's body (same caveat).
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Default concurrent gRPC streams per connection.
pub const DEFAULT_MAX_CONCURRENT_STREAMS: u32 = 16;

/// What [`serve`](super::serve) listens on and its limits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceiverConfig {
    /// OTLP/HTTP listen address (`POST /v1/traces`); `None` disables it. Port 0 picks a free port.
    pub http_addr: Option<SocketAddr>,
    /// OTLP/gRPC listen address; `None` disables it. Port 0 picks a free port.
    pub grpc_addr: Option<SocketAddr>,
    /// Largest body accepted, both as received and after gzip decompression
    /// (the second guards against gzip bombs). Larger: HTTP 413, gRPC INVALID_ARGUMENT (not retryable).
    pub max_body_bytes: usize,
    /// Largest gRPC message, when it differs from `max_body_bytes` (the
    /// collector sets the two apart: `grpc.max_recv_msg_size_mib` and
    /// `http.max_request_body_size`). `None` (the default): `max_body_bytes`.
    pub max_grpc_message_bytes: Option<usize>,
    /// After shutdown is signalled, how long in-flight requests may take
    /// before their connections are dropped.
    pub drain_timeout: Duration,
    /// A connection that receives nothing for this long is closed (half-open
    /// and stalled connections would otherwise hold descriptors and memory).
    /// `None` (the default): never.
    pub idle_timeout: Option<Duration>,
    /// Longest time to receive one request's body; then HTTP 408 / gRPC
    /// `DEADLINE_EXCEEDED` and the held bytes are released. `None` (the default): no limit.
    pub request_timeout: Option<Duration>,
    /// Concurrent gRPC streams one connection may open (HTTP/2 `SETTINGS_MAX_CONCURRENT_STREAMS`).
    pub max_concurrent_streams: u32,
    /// Room left in each received span's attribute vector for attributes a
    /// processor downstream adds (the sidecar's `awsapplicationsignals`), so
    /// writing them does not reallocate the vector. 0 (the default): none.
    pub span_attribute_headroom: usize,
}

impl ReceiverConfig {
    /// Both receivers on 127.0.0.1 at the standard ports (4318 HTTP, 4317 gRPC): the Lambda extension's setup.
    pub fn localhost() -> Self {
        let lo = |port| Some(SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port)));
        Self {
            http_addr: lo(DEFAULT_HTTP_PORT),
            grpc_addr: lo(DEFAULT_GRPC_PORT),
            ..Self::default()
        }
    }
}

impl Default for ReceiverConfig {
    /// No listener enabled; default limits.
    fn default() -> Self {
        Self {
            http_addr: None,
            grpc_addr: None,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_grpc_message_bytes: None,
            drain_timeout: DEFAULT_DRAIN_TIMEOUT,
            idle_timeout: None,
            request_timeout: None,
            max_concurrent_streams: DEFAULT_MAX_CONCURRENT_STREAMS,
            span_attribute_headroom: 0,
        }
    }
}
