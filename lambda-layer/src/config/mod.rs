//! The extension's own configuration: every variable is a documented
//! `pub const`; a bad value is a startup error naming the variable and what
//! it accepts.
//!
//! Export settings (protocol, compression, headers, signing, timeouts) are
//! the distro's ([`otel_aws_distro::config`]); only the upstream endpoint
//! and the exporter list are resolved here, because the function and the
//! extension share one environment (see [`resolve_endpoint`]).
//!
//! For the same reason the distro's parser is given only the variables of
//! the extension's own export (`export_settings`): propagators, sampler,
//! batch processor, span limits, resource detection and the other settings
//! of the function's SDK (Python, Node.js, Java read this environment too)
//! are not the extension's, and a value valid for that SDK but unknown to
//! the distro (`OTEL_PROPAGATORS=b3`, `OTEL_TRACES_SAMPLER=parentbased_jaeger_remote`)
//! must not stop the extension. Where a shared value would set the
//! extension's export but names something it does not have
//! (`OTEL_TRACES_EXPORTER=zipkin`, `OTEL_EXPORTER_OTLP_PROTOCOL=grpc`), it
//! is ignored with a [`ConfigWarning`].
//!
//! `OTEL_AWS_CONFIG` names a file of `KEY=VALUE` lines (blank lines and
//! `#` comments ignored) read under the process environment: a variable
//! set in the environment wins over the file. (The sidecar's config file
//! format does not exist yet; this file format is its interim stand-in.)

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use otel_aws_distro::Env;
use otel_aws_distro::config::Config;
use tracing::level_filters::LevelFilter;

use crate::flush::FlushMode;

mod export;
mod upstream;

pub(crate) use export::export_settings;
use export::{export_config, grpc_protocol_warnings};
pub(crate) use upstream::with_path;
pub use upstream::{Upstream, choose_upstream, is_loopback_url, is_own_receiver, resolve_endpoint};

/// Flush strategy: `end`, `periodic,<ms>` or `adaptive` / `adaptive,<ms>`
/// (default `adaptive`, period 1000 ms); see [`crate::flush`].
pub const OTEL_AWS_LAMBDA_FLUSH: &str = "OTEL_AWS_LAMBDA_FLUSH";
/// `true` adds an init span (cold starts) and an invocation span built from
/// the Telemetry API timings (default `false`).
pub const OTEL_AWS_LAMBDA_PLATFORM_SPANS: &str = "OTEL_AWS_LAMBDA_PLATFORM_SPANS";
/// A `KEY=VALUE` file read under the environment (see the module docs).
pub const OTEL_AWS_CONFIG: &str = "OTEL_AWS_CONFIG";
/// Where the extension exports: a full traces URL (`/v1/traces` is appended
/// when the URL has no path). Wins over the `OTEL_EXPORTER_OTLP_*`
/// endpoints, which are used unless they name the extension's own receivers.
pub const OTEL_AWS_LAMBDA_EXPORTER_ENDPOINT: &str = "OTEL_AWS_LAMBDA_EXPORTER_ENDPOINT";
/// The extension's exporters: a list of `otlp`, `xray`, `console`, `file`,
/// or `none` on its own;
/// wins over `OTEL_TRACES_EXPORTER`, which the function's SDK may also read.
/// `xray` sends X-Ray segment documents with `PutTraceSegments` (for
/// accounts without CloudWatch Transaction Search), signed with the
/// execution role's credentials, in `AWS_REGION`; `AWS_ENDPOINT_URL_XRAY`
/// overrides the endpoint. It is in the extension only when built with the
/// cargo feature `xray`.
pub const OTEL_AWS_LAMBDA_TRACES_EXPORTER: &str = "OTEL_AWS_LAMBDA_TRACES_EXPORTER";
/// Most spans held in memory (default 16384); the excess is dropped and counted.
pub const OTEL_AWS_LAMBDA_MAX_BUFFERED_SPANS: &str = "OTEL_AWS_LAMBDA_MAX_BUFFERED_SPANS";
/// Most encoded bytes held in memory (default 16 MiB); the excess is dropped and counted.
pub const OTEL_AWS_LAMBDA_MAX_BUFFERED_BYTES: &str = "OTEL_AWS_LAMBDA_MAX_BUFFERED_BYTES";
/// Longest one flush may take, milliseconds (default 2000); the invoke
/// deadline also bounds it. What is not sent in time is kept for the next flush.
pub const OTEL_AWS_LAMBDA_FLUSH_TIMEOUT: &str = "OTEL_AWS_LAMBDA_FLUSH_TIMEOUT";
/// OTLP/HTTP listen address (default `127.0.0.1:4318`).
pub const OTEL_AWS_LAMBDA_HTTP_ADDR: &str = "OTEL_AWS_LAMBDA_HTTP_ADDR";
/// OTLP/gRPC listen address (default `127.0.0.1:4317`).
pub const OTEL_AWS_LAMBDA_GRPC_ADDR: &str = "OTEL_AWS_LAMBDA_GRPC_ADDR";
/// Control endpoint for the function wrapper's "final flush" signal
/// (default `127.0.0.1:4319`). The Rust function wrapper reads it too.
pub const OTEL_AWS_LAMBDA_CONTROL_ADDR: &str = "OTEL_AWS_LAMBDA_CONTROL_ADDR";
/// Telemetry API listener (default `0.0.0.0:0`, an ephemeral port: Lambda
/// delivers to `sandbox.localdomain`, the sandbox's own non-loopback
/// address). It serves only `/telemetry/<random token>`, the path given in
/// the subscription, so forged events are refused. The subscription names
/// `sandbox.localdomain` unless the host is a specific IP.
pub const OTEL_AWS_LAMBDA_TELEMETRY_ADDR: &str = "OTEL_AWS_LAMBDA_TELEMETRY_ADDR";
/// Optional path where the extension writes its counters as JSON after each
/// flush and at shutdown.
pub const OTEL_AWS_LAMBDA_STATS_FILE: &str = "OTEL_AWS_LAMBDA_STATS_FILE";
/// Rust function wrapper: where its spans go — `auto` (default: the
/// extension when its OTLP/HTTP port answers, else the X-Ray daemon),
/// `extension`, or `xray-udp` (OTLP in T1S/T1U datagrams to `AWS_XRAY_DAEMON_ADDRESS`).
pub const OTEL_AWS_LAMBDA_FUNCTION_EXPORTER: &str = "OTEL_AWS_LAMBDA_FUNCTION_EXPORTER";
/// Set by Lambda: `on-demand`, `provisioned-concurrency` or
/// `lambda-managed-instances` (no INVOKE events, concurrent invokes, never
/// frozen: the extension flushes continuously).
pub const AWS_LAMBDA_INITIALIZATION_TYPE: &str = "AWS_LAMBDA_INITIALIZATION_TYPE";
/// The value of [`AWS_LAMBDA_INITIALIZATION_TYPE`] on Lambda Managed Instances.
pub const MANAGED_INSTANCES: &str = "lambda-managed-instances";
/// Flush period on Lambda Managed Instances (unless `periodic,<ms>` asks for less).
pub const MANAGED_PERIOD: Duration = Duration::from_millis(200);

/// Log level of the extension's own lines on stderr (default `info`): the
/// OpenTelemetry SDKs' names ([`LOG_LEVELS`]). Another value is warned
/// about once, naming the variable, and `info` is used.
pub const OTEL_LOG_LEVEL: &str = "OTEL_LOG_LEVEL";
/// What [`OTEL_LOG_LEVEL`] accepts.
pub const LOG_LEVELS: &str =
    "none, error, warn (or warning), info, debug, verbose or all (also off and trace), in any case";

/// Default OTLP/HTTP listen address.
pub const DEFAULT_HTTP_ADDR: &str = "127.0.0.1:4318";
/// Default OTLP/gRPC listen address.
pub const DEFAULT_GRPC_ADDR: &str = "127.0.0.1:4317";
/// Default control address.
pub const DEFAULT_CONTROL_ADDR: &str = "127.0.0.1:4319";

/// Longest flush period on Lambda Managed Instances (the "no span older
/// than 1 s in the buffer" bound).
const DEFAULT_PERIOD_CAP: Duration = Duration::from_millis(1000);

/// Why the configuration is unusable.
#[derive(Debug, thiserror::Error)]
pub enum LambdaConfigError {
    /// A variable has a value the extension cannot use. The value is never
    /// kept or shown: any variable may hold a secret (an endpoint with
    /// `user:password@`, a token pasted into the wrong variable).
    #[error(
        "{var} is not valid (the value is not shown, it may hold a secret): expected {accepted}"
    )]
    Invalid {
        /// The variable.
        var: &'static str,
        /// What it accepts.
        accepted: &'static str,
    },
    /// The `OTEL_AWS_CONFIG` file cannot be read or parsed.
    #[error("{OTEL_AWS_CONFIG}={path}: {reason}")]
    File {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The distro's configuration (exporter settings) is invalid.
    #[error(transparent)]
    Distro(#[from] otel_aws_distro::config::ConfigError),
    /// No exporter endpoint can be derived.
    #[error(
        "no upstream for the extension: set {OTEL_AWS_LAMBDA_EXPORTER_ENDPOINT} or AWS_REGION (for the X-Ray OTLP endpoint)"
    )]
    NoEndpoint,
    /// The metrics/logs settings are invalid (see [`crate::signal_config`]).
    #[error(transparent)]
    Signals(#[from] crate::signal_config::SignalConfigError),
    /// The `xray` exporter is on but no region is known.
    #[error(
        "the xray exporter calls PutTraceSegments in the function's region: set AWS_REGION (Lambda sets it)"
    )]
    NoXrayRegion,
}

/// A setting the extension does not apply: it starts anyway, and logs this
/// once at warn when its log output exists ([`ExtensionConfig::log_warnings`]).
/// Like [`LambdaConfigError::Invalid`], it names the variable, never its value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "{var} is not applied by the extension (the value is not shown, it may hold a secret): it accepts {accepted}; {instead}"
)]
pub struct ConfigWarning {
    /// The variable.
    pub var: &'static str,
    /// What the extension accepts in it.
    pub accepted: &'static str,
    /// What the extension does instead.
    pub instead: &'static str,
}

/// `OTEL_LOG_LEVEL` as a level: the names of the OpenTelemetry SDKs'
/// internal loggers (`NONE`, `ERROR`, `WARN`, `INFO`, `DEBUG`, `VERBOSE`,
/// `ALL`, any case), Python's `warning`, and tracing's `off` and `trace`.
/// `None` for anything else.
pub fn parse_log_level(v: &str) -> Option<LevelFilter> {
    let v = v.trim().to_ascii_lowercase();
    Some(match v.as_str() {
        "none" | "off" => LevelFilter::OFF,
        "error" => LevelFilter::ERROR,
        "warn" | "warning" => LevelFilter::WARN,
        "info" => LevelFilter::INFO,
        "debug" => LevelFilter::DEBUG,
        "verbose" | "all" | "trace" => LevelFilter::TRACE,
        _ => return None,
    })
}

/// The extension's log level: `info` when `OTEL_LOG_LEVEL` is unset or
/// unknown (the OpenTelemetry rule for an unknown enum value: warn and
/// ignore it), with the warning for the unknown one.
fn log_level(env: &Env) -> (LevelFilter, Option<ConfigWarning>) {
    match env.get(OTEL_LOG_LEVEL) {
        None => (LevelFilter::INFO, None),
        Some(v) => match parse_log_level(v) {
            Some(level) => (level, None),
            None => (
                LevelFilter::INFO,
                Some(ConfigWarning {
                    var: OTEL_LOG_LEVEL,
                    accepted: LOG_LEVELS,
                    instead: "its own lines are logged at info",
                }),
            ),
        },
    }
}

/// Buffer bounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BufferLimits {
    /// Most spans held.
    pub max_spans: usize,
    /// Most encoded bytes held.
    pub max_bytes: usize,
}

impl Default for BufferLimits {
    fn default() -> Self {
        Self {
            max_spans: 16_384,
            max_bytes: 16 * 1024 * 1024,
        }
    }
}

/// The extension's configuration.
#[derive(Clone, Debug)]
pub struct ExtensionConfig {
    /// Flush strategy.
    pub flush: FlushMode,
    /// Emit init/invocation platform spans.
    pub platform_spans: bool,
    /// Buffer bounds.
    pub buffer: BufferLimits,
    /// Longest one flush may take.
    pub flush_timeout: Duration,
    /// OTLP/HTTP listen address.
    pub http_addr: SocketAddr,
    /// OTLP/gRPC listen address.
    pub grpc_addr: SocketAddr,
    /// Control endpoint address.
    pub control_addr: SocketAddr,
    /// Telemetry API listener address.
    pub telemetry_addr: SocketAddr,
    /// Where counters are written, if anywhere.
    pub stats_file: Option<PathBuf>,
    /// Lambda Managed Instances: register for SHUTDOWN only, flush continuously.
    pub managed: bool,
    /// The upstream of the `otlp` exporter and why (when `otlp` is on).
    pub upstream: Option<Upstream>,
    /// Log level of the extension's own lines (`OTEL_LOG_LEVEL`).
    pub log_level: LevelFilter,
    /// Settings read but not applied, logged once at start-up.
    pub warnings: Vec<ConfigWarning>,
    /// The distro configuration the exporters are built from (endpoint and
    /// exporter list already resolved for the extension).
    pub export: Config,
    /// The environment everything was read from (file merged in).
    pub env: Env,
    /// Metrics and logs: destinations, platform metrics, log forwarding.
    pub signals: crate::signal_config::SignalsConfig,
    /// CloudWatch Application Signals (`OTEL_AWS_APPLICATION_SIGNALS_ENABLED`,
    /// the distro's variable and rule): annotate the function's spans, send
    /// the metrics as EMF (see [`crate::extension::appsignals`]).
    pub app_signals: bool,
    /// Shortest Application Signals aggregation interval: zero (every
    /// flush, i.e. every invoke with `end`: the environment may freeze for
    /// good after any invoke), or on Lambda Managed Instances, which flush
    /// every 200 ms and never freeze, `OTEL_METRIC_EXPORT_INTERVAL` (default
    /// 60 s, the agent's interval).
    pub app_signals_interval: Duration,
}

impl ExtensionConfig {
    /// Reads the configuration from `env` (and the `OTEL_AWS_CONFIG` file it names).
    pub fn from_env(env: &Env) -> Result<Self, LambdaConfigError> {
        let env = merge_config_file(env)?;
        let flush = match env.get(OTEL_AWS_LAMBDA_FLUSH) {
            Some(v) => FlushMode::parse(v).ok_or(LambdaConfigError::Invalid {
                var: OTEL_AWS_LAMBDA_FLUSH,
                accepted: "end, periodic,<ms> (ms > 0), adaptive or adaptive,<ms>",
            })?,
            None => FlushMode::default(),
        };
        let platform_spans = bool_var(&env, OTEL_AWS_LAMBDA_PLATFORM_SPANS, false)?;
        let defaults = BufferLimits::default();
        let buffer = BufferLimits {
            max_spans: positive(&env, OTEL_AWS_LAMBDA_MAX_BUFFERED_SPANS, defaults.max_spans)?,
            max_bytes: positive(&env, OTEL_AWS_LAMBDA_MAX_BUFFERED_BYTES, defaults.max_bytes)?,
        };
        let flush_timeout =
            Duration::from_millis(positive(&env, OTEL_AWS_LAMBDA_FLUSH_TIMEOUT, 2000)? as u64);
        let managed = env
            .get(AWS_LAMBDA_INITIALIZATION_TYPE)
            .is_some_and(|v| v.trim().eq_ignore_ascii_case(MANAGED_INSTANCES));
        let flush = if managed {
            // No INVOKE events and no freeze: flush on a short period.
            match flush {
                FlushMode::Periodic(p) => FlushMode::Periodic(p.min(DEFAULT_PERIOD_CAP)),
                _ => FlushMode::Periodic(MANAGED_PERIOD),
            }
        } else {
            flush
        };
        let mut warnings = Vec::new();
        let (log_level, level_warning) = log_level(&env);
        warnings.extend(level_warning);
        warnings.extend(grpc_protocol_warnings(&env));
        let (export, upstream) = export_config(&env, &mut warnings)?;
        let signals = crate::signal_config::SignalsConfig::from_env(&env)?;
        let app_signals = otel_aws_distro::appsignals::export::enabled(&env)?;
        let app_signals_interval = if app_signals && managed {
            otel_aws_distro::appsignals::export::flush_interval(&env)?
        } else {
            Duration::ZERO
        };
        Ok(Self {
            signals,
            app_signals,
            app_signals_interval,
            managed,
            upstream,
            flush,
            platform_spans,
            buffer,
            flush_timeout,
            http_addr: addr(&env, OTEL_AWS_LAMBDA_HTTP_ADDR, DEFAULT_HTTP_ADDR)?,
            grpc_addr: addr(&env, OTEL_AWS_LAMBDA_GRPC_ADDR, DEFAULT_GRPC_ADDR)?,
            control_addr: addr(&env, OTEL_AWS_LAMBDA_CONTROL_ADDR, DEFAULT_CONTROL_ADDR)?,
            telemetry_addr: addr(&env, OTEL_AWS_LAMBDA_TELEMETRY_ADDR, "0.0.0.0:0")?,
            stats_file: env.get(OTEL_AWS_LAMBDA_STATS_FILE).map(PathBuf::from),
            log_level,
            warnings,
            export,
            env,
        })
    }

    /// Logs each of [`Self::warnings`] at warn. Call once, after the log
    /// subscriber is installed (the configuration is read before it).
    pub fn log_warnings(&self) {
        for w in &self.warnings {
            tracing::warn!(variable = w.var, "{w}");
        }
        for e in &self.signals.not_exported {
            tracing::warn!(error = %e, "not exported");
        }
    }
}

/// The extension's OTLP/gRPC address.
pub fn grpc_addr(env: &Env) -> Result<SocketAddr, LambdaConfigError> {
    addr(env, OTEL_AWS_LAMBDA_GRPC_ADDR, DEFAULT_GRPC_ADDR)
}

/// The extension's OTLP/HTTP address (same variable and default as the extension).
pub fn http_addr(env: &Env) -> Result<SocketAddr, LambdaConfigError> {
    addr(env, OTEL_AWS_LAMBDA_HTTP_ADDR, DEFAULT_HTTP_ADDR)
}

/// The control address the function wrapper signals (same variable and
/// default as the extension).
pub fn control_addr(env: &Env) -> Result<SocketAddr, LambdaConfigError> {
    addr(env, OTEL_AWS_LAMBDA_CONTROL_ADDR, DEFAULT_CONTROL_ADDR)
}

/// What the extension's boolean variables accept ([`parse_bool`]).
pub(crate) const BOOL_ACCEPTED: &str = "true or false";

/// `true` or `false`, any case (the OpenTelemetry boolean rule, as the
/// distro's parser applies it); `None` for anything else.
pub(crate) fn parse_bool(v: &str) -> Option<bool> {
    if v.trim().eq_ignore_ascii_case("true") {
        Some(true)
    } else if v.trim().eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

fn bool_var(env: &Env, var: &'static str, default: bool) -> Result<bool, LambdaConfigError> {
    match env.get(var) {
        None => Ok(default),
        Some(v) => parse_bool(v).ok_or(LambdaConfigError::Invalid {
            var,
            accepted: BOOL_ACCEPTED,
        }),
    }
}

fn positive(env: &Env, var: &'static str, default: usize) -> Result<usize, LambdaConfigError> {
    match env.get(var) {
        None => Ok(default),
        Some(v) => match v.parse::<usize>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(LambdaConfigError::Invalid {
                var,
                accepted: "a positive integer",
            }),
        },
    }
}

fn addr(env: &Env, var: &'static str, default: &str) -> Result<SocketAddr, LambdaConfigError> {
    let v = env.get(var).unwrap_or(default);
    v.parse().map_err(|_| LambdaConfigError::Invalid {
        var,
        accepted: "an IP:port socket address such as 127.0.0.1:4318",
    })
}

/// Merges the `OTEL_AWS_CONFIG` file under `env` (the environment wins).
fn merge_config_file(env: &Env) -> Result<Env, LambdaConfigError> {
    let Some(path) = env.get(OTEL_AWS_CONFIG) else {
        return Ok(env.clone());
    };
    let text = std::fs::read_to_string(path).map_err(|e| LambdaConfigError::File {
        path: path.to_string(),
        reason: e.to_string(),
    })?;
    let mut merged = env.clone();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            return Err(LambdaConfigError::File {
                path: path.to_string(),
                reason: format!("line {} is not KEY=VALUE", n + 1),
            });
        };
        let k = k.trim().trim_start_matches("export ").trim();
        if env.raw(k).is_none() {
            merged = merged.with(k, v.trim().trim_matches('"'));
        }
    }
    Ok(merged)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signal_config::{
        OTEL_AWS_LAMBDA_FORWARD_LOGS, OTEL_AWS_LAMBDA_LOGS_ENDPOINT, OTEL_AWS_LAMBDA_LOGS_EXPORTER,
        OTEL_AWS_LAMBDA_METRICS_ENDPOINT, OTEL_AWS_LAMBDA_METRICS_EXPORTER,
        OTEL_AWS_LAMBDA_PLATFORM_METRICS,
    };

    /// A setting the extension does not apply is logged once, at warn,
    /// naming the variable and never the value.
    #[test]
    fn warnings_are_logged_once_without_the_value() {
        let env = Env::from_pairs([("AWS_REGION", "us-east-1"), (OTEL_LOG_LEVEL, "s3cr3tTOKEN")]);
        let cfg = ExtensionConfig::from_env(&env).unwrap();
        let ((), text) = crate::test_log::capture(|| cfg.log_warnings());
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1, "{text}");
        assert!(lines[0].contains("WARN"), "{text}");
        assert!(lines[0].contains(OTEL_LOG_LEVEL), "{text}");
        assert!(!text.to_ascii_lowercase().contains("s3cr3ttoken"), "{text}");
    }

    /// Metrics and logs with nowhere to go (no endpoint of their own, no
    /// collector, no region) are not exported and the extension runs. Why
    /// is logged with the other warnings, once logging is up, naming what
    /// to set; reading the settings logs nothing (before, it was logged
    /// there, before the extension had a subscriber, and lost).
    #[test]
    fn a_signal_without_an_endpoint_is_reported_once_logging_is_up() {
        let env = Env::from_pairs([(
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "http://collector.internal:4318/v1/traces",
        )]);
        let (cfg, early) = crate::test_log::capture(|| ExtensionConfig::from_env(&env));
        let cfg = cfg.unwrap();
        assert_eq!(early, "", "logged while reading the settings");
        assert!(cfg.signals.metrics.is_none() && cfg.signals.logs.is_none());
        let ((), text) = crate::test_log::capture(|| cfg.log_warnings());
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        for (line, signal, var) in [
            (lines[0], "metrics", OTEL_AWS_LAMBDA_METRICS_ENDPOINT),
            (lines[1], "logs", OTEL_AWS_LAMBDA_LOGS_ENDPOINT),
        ] {
            assert!(line.contains("WARN"), "{line}");
            assert!(
                line.contains(&format!("no endpoint for {signal}")),
                "{line}"
            );
            assert!(line.contains(var) && line.contains("AWS_REGION"), "{line}");
        }
    }

    /// The reason logged with the upstream names a skipped endpoint without
    /// its userinfo or query string (`user:password@`, `?token=`).
    #[test]
    fn upstream_reason_hides_url_secrets() {
        let env = Env::from_pairs([
            ("AWS_REGION", "us-east-1"),
            (
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "http://admin:s3cr3t@127.0.0.1:4318/v1/traces?token=k3y",
            ),
        ]);
        let up = choose_upstream(&env).unwrap();
        assert_eq!(up.url, "https://xray.us-east-1.amazonaws.com/v1/traces");
        assert!(up.why.contains("127.0.0.1:4318/v1/traces"), "{}", up.why);
        assert!(
            !up.why.contains("s3cr3t") && !up.why.contains("k3y"),
            "secret in the logged reason: {}",
            up.why
        );
    }

    /// Issue 11: a bad value is never echoed (it may be a secret: an
    /// endpoint with `user:password@`, a token in the wrong variable); the
    /// error names the variable and what it accepts.
    #[test]
    fn bad_values_are_never_echoed() {
        let secret = "s3cr3tTOKEN";
        let base = Env::from_pairs([("AWS_REGION", "us-east-1")]);
        let cases = [
            (OTEL_AWS_LAMBDA_FLUSH, secret.to_owned()),
            (OTEL_AWS_LAMBDA_PLATFORM_SPANS, secret.to_owned()),
            (OTEL_AWS_LAMBDA_MAX_BUFFERED_SPANS, secret.to_owned()),
            (OTEL_AWS_LAMBDA_FLUSH_TIMEOUT, secret.to_owned()),
            (OTEL_AWS_LAMBDA_HTTP_ADDR, secret.to_owned()),
            (OTEL_AWS_LAMBDA_TRACES_EXPORTER, format!("otlp,{secret}")),
            (
                OTEL_AWS_LAMBDA_EXPORTER_ENDPOINT,
                format!("ftp://admin:{secret}@collector"),
            ),
            (
                OTEL_AWS_LAMBDA_EXPORTER_ENDPOINT,
                format!("admin:{secret}@collector"),
            ),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", secret.to_owned()),
            (OTEL_AWS_LAMBDA_PLATFORM_METRICS, secret.to_owned()),
            (OTEL_AWS_LAMBDA_FORWARD_LOGS, secret.to_owned()),
            (OTEL_AWS_LAMBDA_METRICS_EXPORTER, secret.to_owned()),
            (OTEL_AWS_LAMBDA_LOGS_EXPORTER, secret.to_owned()),
            (
                OTEL_AWS_LAMBDA_METRICS_ENDPOINT,
                format!("ftp://admin:{secret}@collector"),
            ),
            (
                OTEL_AWS_LAMBDA_LOGS_ENDPOINT,
                format!("admin:{secret}@collector"),
            ),
            ("OTEL_EXPORTER_OTLP_METRICS_COMPRESSION", secret.to_owned()),
        ];
        for (var, value) in &cases {
            let err = ExtensionConfig::from_env(&base.clone().with(*var, value.as_str()))
                .expect_err(var)
                .to_string();
            assert!(err.contains(var), "{var}: {err}");
            assert!(err.contains("expected"), "{var}: {err}");
            // Case-insensitive: a parser may echo the value lowercased.
            assert!(
                !err.to_ascii_lowercase()
                    .contains(&secret.to_ascii_lowercase()),
                "{var} echoed its value: {err}"
            );
        }
    }
}
