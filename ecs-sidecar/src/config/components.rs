//! Typed settings of every supported component, field for field as the
//! OpenTelemetry Collector (contrib) names them. Every struct denies unknown
//! fields, so a typo is a startup error that lists the accepted names.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use otel_aws_distro::receiver::Signal;
use serde::{Deserialize, Deserializer};

use super::values::{
    CompressionSetting, Detector, Encoding, GoDuration, GzipLevelSetting, HttpUrl, ListenAddr,
    LogLevel, ProxyListen, Transport, Verbosity, non_empty, optional_url,
};

const fn all_interfaces(port: u16) -> SocketAddr {
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port))
}

/// Default OTLP/gRPC listen address.
pub const DEFAULT_GRPC_ENDPOINT: SocketAddr = all_interfaces(4317);
/// Default OTLP/HTTP listen address.
pub const DEFAULT_HTTP_ENDPOINT: SocketAddr = all_interfaces(4318);
/// Default X-Ray daemon address (UDP datagrams and the TCP proxy).
pub const DEFAULT_XRAY_ENDPOINT: SocketAddr = all_interfaces(2000);
/// Default health_check listen address.
pub const DEFAULT_HEALTH_ENDPOINT: SocketAddr = all_interfaces(13133);

/// Reads a present-but-empty section (`grpc:` with nothing under it) as the defaults.
fn present<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Some(Option::<T>::deserialize(d)?.unwrap_or_default()))
}

/// `receivers.otlp`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OtlpReceiver {
    /// Which protocols listen; at least one.
    #[serde(default)]
    pub protocols: OtlpProtocols,
}

/// `receivers.otlp.protocols`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OtlpProtocols {
    /// OTLP/gRPC (default endpoint 0.0.0.0:4317) when present.
    #[serde(default, deserialize_with = "present")]
    pub grpc: Option<GrpcProtocol>,
    /// OTLP/HTTP (default endpoint 0.0.0.0:4318) when present.
    #[serde(default, deserialize_with = "present")]
    pub http: Option<HttpProtocol>,
}

/// `receivers.otlp.protocols.grpc`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GrpcProtocol {
    /// Listen address (default 0.0.0.0:4317).
    pub endpoint: Option<ListenAddr>,
    /// Largest message in MiB (default and 0: 20).
    pub max_recv_msg_size_mib: Option<u64>,
}

impl GrpcProtocol {
    /// Where it listens.
    pub fn listen(&self) -> SocketAddr {
        self.endpoint.map_or(DEFAULT_GRPC_ENDPOINT, |e| e.0)
    }

    /// `max_recv_msg_size_mib` in bytes; `None`: the default.
    pub fn max_message_bytes(&self) -> Option<usize> {
        self.max_recv_msg_size_mib
            .filter(|&mib| mib > 0)
            .map(|mib| usize::try_from(mib.saturating_mul(1024 * 1024)).unwrap_or(usize::MAX))
    }
}

/// `receivers.otlp.protocols.http`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HttpProtocol {
    /// Listen address (default 0.0.0.0:4318).
    pub endpoint: Option<ListenAddr>,
    /// Largest body in bytes (default and 0: 20 MiB).
    pub max_request_body_size: Option<u64>,
}

impl HttpProtocol {
    /// Where it listens.
    pub fn listen(&self) -> SocketAddr {
        self.endpoint.map_or(DEFAULT_HTTP_ENDPOINT, |e| e.0)
    }

    /// `max_request_body_size`; `None`: the default.
    pub fn max_body_bytes(&self) -> Option<usize> {
        self.max_request_body_size
            .filter(|&n| n > 0)
            .map(|n| usize::try_from(n).unwrap_or(usize::MAX))
    }
}

/// `receivers.awsxray`: the X-Ray daemon's UDP port and its TCP proxy.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AwsXrayReceiver {
    /// UDP listen address (default 0.0.0.0:2000).
    pub endpoint: Option<ListenAddr>,
    /// Only `udp`.
    pub transport: Option<Transport>,
    /// The TCP proxy for X-Ray API calls (on by default at 0.0.0.0:2000).
    #[serde(default, deserialize_with = "present")]
    pub proxy_server: Option<ProxyServer>,
}

impl AwsXrayReceiver {
    /// Where the UDP socket listens.
    pub fn listen(&self) -> SocketAddr {
        self.endpoint.map_or(DEFAULT_XRAY_ENDPOINT, |e| e.0)
    }

    /// Where the TCP proxy listens; `None`: turned off.
    pub fn proxy_listen(&self) -> Option<SocketAddr> {
        match self.proxy_server.as_ref().and_then(|p| p.endpoint) {
            None => Some(DEFAULT_XRAY_ENDPOINT),
            Some(ProxyListen::At(addr)) => Some(addr),
            Some(ProxyListen::Off) => None,
        }
    }
}

/// `receivers.awsecscontainermetrics`: task and container metrics from the
/// ECS task metadata endpoint v4.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AwsEcsContainerMetricsReceiver {
    /// How often to collect (default 20s, as the collector).
    pub collection_interval: Option<GoDuration>,
}

/// `receivers.awsxray.proxy_server`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ProxyServer {
    /// TCP listen address (default 0.0.0.0:2000); an empty string turns the proxy off.
    pub endpoint: Option<ProxyListen>,
    /// Signing region (default `AWS_REGION`; empty: the default).
    #[serde(default, deserialize_with = "non_empty")]
    pub region: Option<String>,
    /// Upstream base URL (default `AWS_ENDPOINT_URL_XRAY`, else `https://xray.<region>.amazonaws.com`).
    pub aws_endpoint: Option<HttpUrl>,
}

/// `processors.batch`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BatchProcessor {
    /// Send a partial batch after this long (default 200ms).
    pub timeout: Option<GoDuration>,
    /// Send once this many spans are held (default 8192).
    pub send_batch_size: Option<u64>,
    /// Split batches larger than this (default 0: no limit).
    pub send_batch_max_size: Option<u64>,
}

/// `processors.resourcedetection`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ResourceDetectionProcessor {
    /// Detectors in order: `env`, `ecs`, `ec2`.
    #[serde(default)]
    pub detectors: Vec<Detector>,
    /// Bound on detection (default 5s).
    pub timeout: Option<GoDuration>,
    /// Detected values replace the batch's own (default true).
    #[serde(default = "yes", rename = "override")]
    pub override_: bool,
}

fn yes() -> bool {
    true
}

impl Default for ResourceDetectionProcessor {
    fn default() -> Self {
        Self {
            detectors: Vec::new(),
            timeout: None,
            override_: true,
        }
    }
}

/// `processors.awsapplicationsignals`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AwsApplicationSignalsProcessor {
    /// How often the metrics are sent as EMF (default 60s).
    pub metrics_flush_interval: Option<GoDuration>,
    /// Distinct metric label sets per interval; more are dropped (default 10000).
    pub max_series: Option<u64>,
    /// CloudWatch Logs region (default `AWS_REGION`; empty: the default).
    #[serde(default, deserialize_with = "non_empty")]
    pub region: Option<String>,
    /// CloudWatch Logs endpoint (default `AWS_ENDPOINT_URL_CLOUDWATCH_LOGS`, `AWS_ENDPOINT_URL_LOGS`, `AWS_ENDPOINT_URL`, the regional one).
    pub endpoint: Option<HttpUrl>,
}

/// `processors.memory_limiter`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MemoryLimiterProcessor {
    /// How often the process memory is read (default 1s).
    pub check_interval: Option<GoDuration>,
    /// Hard limit in MiB (required).
    pub limit_mib: Option<u64>,
    /// Headroom below the hard limit where data is refused (default 20 % of limit_mib).
    pub spike_limit_mib: Option<u64>,
}

/// `exporters.<id>.auth`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Auth {
    /// Id of an authenticator extension (`sigv4auth`).
    pub authenticator: String,
}

/// `exporters.<id>.retry_on_failure`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RetryOnFailure {
    /// Retry at all (default true).
    pub enabled: Option<bool>,
    /// First backoff (default 5s).
    pub initial_interval: Option<GoDuration>,
    /// Largest backoff (default 30s).
    pub max_interval: Option<GoDuration>,
    /// Give up on a batch after this long (default 300s).
    pub max_elapsed_time: Option<GoDuration>,
}

/// `exporters.<id>.sending_queue`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SendingQueue {
    /// Queue at all (default true; false means a queue of one batch).
    pub enabled: Option<bool>,
    /// Concurrent exports (default 1).
    pub num_consumers: Option<u64>,
    /// Batches held (default 100).
    pub queue_size: Option<u64>,
}

/// `exporters.otlphttp`. `Debug` shows the header names only (values often
/// carry an `Authorization` or API key).
#[derive(Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OtlpHttpExporter {
    /// Base URL; `/v1/<signal>` is appended.
    pub endpoint: Option<HttpUrl>,
    /// Full traces URL, used as is (wins over `endpoint`).
    pub traces_endpoint: Option<HttpUrl>,
    /// Full metrics URL, used as is (wins over `endpoint`).
    pub metrics_endpoint: Option<HttpUrl>,
    /// Full logs URL, used as is (wins over `endpoint`).
    pub logs_endpoint: Option<HttpUrl>,
    /// Extra headers (numbers and booleans taken as their text).
    #[serde(default, deserialize_with = "super::values::header_values")]
    pub headers: BTreeMap<String, String>,
    /// `gzip` (default) or `none`.
    #[serde(default)]
    pub compression: CompressionSetting,
    /// `compression_params.level`: the gzip level (default: the distro's,
    /// chosen by measurement).
    pub compression_params: Option<CompressionParams>,
    /// `proto` (default) or `json`.
    #[serde(default)]
    pub encoding: Encoding,
    /// Per-attempt timeout (default 10s).
    pub timeout: Option<GoDuration>,
    /// Authenticator (SigV4).
    pub auth: Option<Auth>,
    /// Retries.
    pub retry_on_failure: Option<RetryOnFailure>,
    /// Queue in front of the exporter.
    pub sending_queue: Option<SendingQueue>,
}

impl std::fmt::Debug for OtlpHttpExporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Self {
            endpoint,
            traces_endpoint,
            metrics_endpoint,
            logs_endpoint,
            headers,
            compression,
            compression_params,
            encoding,
            timeout,
            auth,
            retry_on_failure,
            sending_queue,
        } = self;
        let header_names: Vec<(&String, otel_aws_distro::config::redact::Placeholder)> = headers
            .keys()
            .map(|k| (k, otel_aws_distro::config::redact::Placeholder))
            .collect();
        f.debug_struct("OtlpHttpExporter")
            .field("endpoint", endpoint)
            .field("traces_endpoint", traces_endpoint)
            .field("metrics_endpoint", metrics_endpoint)
            .field("logs_endpoint", logs_endpoint)
            .field("headers", &header_names)
            .field("compression", compression)
            .field("compression_params", compression_params)
            .field("encoding", encoding)
            .field("timeout", timeout)
            .field("auth", auth)
            .field("retry_on_failure", retry_on_failure)
            .field("sending_queue", sending_queue)
            .finish()
    }
}

/// `exporters.otlphttp.compression_params`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CompressionParams {
    /// gzip level, 1 (fastest) to 9 (smallest).
    pub level: Option<GzipLevelSetting>,
}

impl OtlpHttpExporter {
    /// The traces URL: `traces_endpoint` as is, else `endpoint` +
    /// `/v1/traces`; `None` when neither is set (refused when the config is
    /// checked).
    pub fn traces_url(&self) -> Option<String> {
        self.url_for(Signal::Traces)
    }

    /// The URL for `signal`: its own `<signal>_endpoint` as is, else
    /// `endpoint` + `/v1/<signal>`; `None` when neither is set.
    pub fn url_for(&self, signal: Signal) -> Option<String> {
        let own = match signal {
            Signal::Traces => self.traces_endpoint.as_ref(),
            Signal::Metrics => self.metrics_endpoint.as_ref(),
            Signal::Logs => self.logs_endpoint.as_ref(),
        };
        self.signal_url(own, signal.as_str())
    }

    /// The one URL rule for every signal: the signal's own endpoint as is,
    /// else the base `endpoint` + `/v1/<signal>`.
    fn signal_url(&self, own: Option<&HttpUrl>, signal: &str) -> Option<String> {
        match (own, &self.endpoint) {
            (Some(url), _) => Some(url.as_str().to_owned()),
            (None, Some(base)) => Some(format!(
                "{}/v1/{signal}",
                base.as_str().trim_end_matches('/')
            )),
            (None, None) => None,
        }
    }
}

/// `exporters.awsxray`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AwsXrayExporter {
    /// Region (default `AWS_REGION`; empty: the default).
    #[serde(default, deserialize_with = "non_empty")]
    pub region: Option<String>,
    /// X-Ray API endpoint override (empty: none).
    #[serde(default, deserialize_with = "optional_url")]
    pub endpoint: Option<HttpUrl>,
    /// Attribute keys indexed as annotations.
    #[serde(default)]
    pub indexed_attributes: Vec<String>,
    /// Index every attribute.
    #[serde(default)]
    pub index_all_attributes: bool,
    /// Retries.
    pub retry_on_failure: Option<RetryOnFailure>,
    /// Queue in front of the exporter.
    pub sending_queue: Option<SendingQueue>,
}

/// `exporters.debug`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DebugExporter {
    /// `basic` (a count per batch, default), `normal` or `detailed` (a line per span).
    #[serde(default)]
    pub verbosity: Verbosity,
}

/// `exporters.file`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FileExporter {
    /// Output file (OTLP/JSON lines); required.
    pub path: Option<String>,
    /// Queue in front of the exporter.
    pub sending_queue: Option<SendingQueue>,
}

/// `extensions.health_check`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HealthCheckExtension {
    /// Listen address (default 0.0.0.0:13133).
    pub endpoint: Option<ListenAddr>,
    /// Path of the JSON status (default `/`).
    pub path: Option<String>,
    /// Report unhealthy (503) while a memory limiter has been refusing data
    /// for longer than this (default 30s; otel-aws extension).
    pub unhealthy_after_refusing: Option<GoDuration>,
}

impl HealthCheckExtension {
    /// Where it listens.
    pub fn listen(&self) -> SocketAddr {
        self.endpoint.map_or(DEFAULT_HEALTH_ENDPOINT, |e| e.0)
    }
}

/// `extensions.sigv4auth`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SigV4AuthExtension {
    /// Signing region (default: from the endpoint host, else `AWS_REGION`; empty: the default).
    #[serde(default, deserialize_with = "non_empty")]
    pub region: Option<String>,
    /// Signing service (default: from the endpoint host, else `xray`; empty: the default).
    #[serde(default, deserialize_with = "non_empty")]
    pub service: Option<String>,
}

/// `service`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ServiceSection {
    /// Extensions to start.
    #[serde(default)]
    pub extensions: Vec<String>,
    /// `traces`, `metrics`, `logs` or `<signal>/<name>` pipelines.
    #[serde(default)]
    pub pipelines: BTreeMap<String, PipelineSection>,
    /// Own logs.
    #[serde(default)]
    pub telemetry: Telemetry,
}

/// `service.pipelines.<id>`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PipelineSection {
    /// Receiver ids.
    #[serde(default)]
    pub receivers: Vec<String>,
    /// Processor ids, in order.
    #[serde(default)]
    pub processors: Vec<String>,
    /// Exporter ids.
    #[serde(default)]
    pub exporters: Vec<String>,
}

/// `service.telemetry`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Telemetry {
    /// `service.telemetry.logs`.
    #[serde(default)]
    pub logs: TelemetryLogs,
}

/// `service.telemetry.logs`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TelemetryLogs {
    /// `debug`, `info` (default), `warn`, `error`.
    #[serde(default)]
    pub level: LogLevel,
}
