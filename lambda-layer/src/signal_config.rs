//! The extension's metrics and logs settings: where each signal goes, how
//! it is signed, and the Telemetry API features (platform metrics, log
//! forwarding). Every variable is a documented `pub const`; a bad value is
//! a startup error naming the variable.
//!
//! Export settings per signal follow the OpenTelemetry variables:
//! `OTEL_EXPORTER_OTLP_{METRICS,LOGS}_{HEADERS,COMPRESSION,TIMEOUT,PROTOCOL}`
//! over the generic `OTEL_EXPORTER_OTLP_*` ones (the distro's parser reads
//! them, so the syntax is the same as for traces).

use otel_aws_distro::Env;
use otel_aws_distro::config::ConfigError;
use otel_aws_distro::export::{OtlpHttpConfig, Signing};

use crate::config::{
    OTEL_AWS_LAMBDA_EXPORTER_ENDPOINT, grpc_addr, http_addr, is_own_receiver, with_path,
};

/// `true` exports the FaaS platform metrics made from Telemetry API events
/// (`faas.invocations`, `faas.errors`, `faas.timeouts`, `faas.coldstarts`,
/// `faas.invoke_duration`, `faas.init_duration`, `faas.mem_usage`,
/// `aws.lambda.billed_duration`; see [`crate::platform_metrics`]). Default `false`.
pub const OTEL_AWS_LAMBDA_PLATFORM_METRICS: &str = "OTEL_AWS_LAMBDA_PLATFORM_METRICS";
/// `true` forwards the function's and extensions' log lines (Telemetry API
/// `function` and `extension` events) as OTLP log records, correlated to
/// the invoke's trace. Default `false`.
pub const OTEL_AWS_LAMBDA_FORWARD_LOGS: &str = "OTEL_AWS_LAMBDA_FORWARD_LOGS";
/// The extension's metrics exporter: `otlp` (default) or `none`.
pub const OTEL_AWS_LAMBDA_METRICS_EXPORTER: &str = "OTEL_AWS_LAMBDA_METRICS_EXPORTER";
/// The extension's logs exporter: `otlp` (default) or `none`.
pub const OTEL_AWS_LAMBDA_LOGS_EXPORTER: &str = "OTEL_AWS_LAMBDA_LOGS_EXPORTER";
/// Where the extension sends metrics (wins over the `OTEL_EXPORTER_OTLP_*`
/// endpoints; a URL without a path gets `/v1/metrics`).
pub const OTEL_AWS_LAMBDA_METRICS_ENDPOINT: &str = "OTEL_AWS_LAMBDA_METRICS_ENDPOINT";
/// Where the extension sends logs (wins over the `OTEL_EXPORTER_OTLP_*`
/// endpoints; a URL without a path gets `/v1/logs`).
pub const OTEL_AWS_LAMBDA_LOGS_ENDPOINT: &str = "OTEL_AWS_LAMBDA_LOGS_ENDPOINT";

/// The CloudWatch Logs OTLP endpoint's log group and stream headers.
pub use otel_aws_distro::config::signals::{LOG_GROUP_HEADER, LOG_STREAM_HEADER};

/// Metrics or logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OtherSignal {
    /// Metric data points.
    Metrics,
    /// Log records.
    Logs,
}

impl OtherSignal {
    /// `METRICS` / `LOGS`, as in the variable names.
    fn upper(self) -> &'static str {
        match self {
            Self::Metrics => "METRICS",
            Self::Logs => "LOGS",
        }
    }

    /// `/v1/metrics` / `/v1/logs`.
    pub fn path(self) -> &'static str {
        match self {
            Self::Metrics => "/v1/metrics",
            Self::Logs => "/v1/logs",
        }
    }

    /// The SigV4 service of the CloudWatch endpoint.
    pub fn service(self) -> &'static str {
        match self {
            Self::Metrics => "monitoring",
            Self::Logs => "logs",
        }
    }

    fn exporter_var(self) -> &'static str {
        match self {
            Self::Metrics => OTEL_AWS_LAMBDA_METRICS_EXPORTER,
            Self::Logs => OTEL_AWS_LAMBDA_LOGS_EXPORTER,
        }
    }

    fn endpoint_var(self) -> &'static str {
        match self {
            Self::Metrics => OTEL_AWS_LAMBDA_METRICS_ENDPOINT,
            Self::Logs => OTEL_AWS_LAMBDA_LOGS_ENDPOINT,
        }
    }

    /// The CloudWatch OTLP endpoint of `region`.
    pub fn aws_endpoint(self, region: &str) -> String {
        format!(
            "https://{}.{region}.amazonaws.com{}",
            self.service(),
            self.path()
        )
    }
}

/// Why the metrics/logs configuration is unusable.
#[derive(Clone, Debug, thiserror::Error)]
pub enum SignalConfigError {
    /// A variable has a value the extension cannot use. The value is never
    /// kept or shown: an endpoint may carry `user:password@` or a query
    /// token, and any variable may hold a secret pasted into the wrong one.
    #[error(
        "{var} is not valid (the value is not shown, it may hold a secret): expected {accepted}"
    )]
    Invalid {
        /// The variable.
        var: &'static str,
        /// What it accepts.
        accepted: &'static str,
    },
    /// An `OTEL_EXPORTER_OTLP_*` setting of the signal is invalid.
    #[error("{signal} export settings: {message}")]
    Export {
        /// `metrics` or `logs`.
        signal: &'static str,
        /// The distro's message, naming the signal's variable.
        message: String,
    },
    /// No endpoint can be derived.
    #[error("no endpoint for {signal}: set {var} or AWS_REGION (for the CloudWatch OTLP endpoint)")]
    NoEndpoint {
        /// `metrics` or `logs`.
        signal: &'static str,
        /// The variable to set.
        var: &'static str,
    },
}

/// Where one signal goes and why.
#[derive(Clone, Debug)]
pub struct SignalUpstream {
    /// The OTLP/HTTP exporter settings (endpoint with its `/v1/<signal>` path, signing, headers).
    pub otlp: OtlpHttpConfig,
    /// Why this endpoint, in words.
    pub why: String,
}

/// The metrics and logs settings.
#[derive(Clone, Debug, Default)]
pub struct SignalsConfig {
    /// Export platform metrics from the Telemetry API.
    pub platform_metrics: bool,
    /// Forward `function` / `extension` log lines as OTLP logs.
    pub forward_logs: bool,
    /// Where metrics go (`None`: exporter `none`).
    pub metrics: Option<SignalUpstream>,
    /// Where logs go (`None`: exporter `none`).
    pub logs: Option<SignalUpstream>,
    /// Why a signal that is on has nowhere to go (no endpoint and no
    /// region): it is not exported, and the extension runs. Logged by
    /// [`crate::config::ExtensionConfig::log_warnings`] once logging is up
    /// (the settings are read before it).
    pub not_exported: Vec<SignalConfigError>,
}

impl SignalsConfig {
    /// Reads the settings from `env`.
    pub fn from_env(env: &Env) -> Result<Self, SignalConfigError> {
        let mut not_exported = Vec::new();
        Ok(Self {
            platform_metrics: flag(env, OTEL_AWS_LAMBDA_PLATFORM_METRICS)?,
            forward_logs: flag(env, OTEL_AWS_LAMBDA_FORWARD_LOGS)?,
            metrics: upstream(env, OtherSignal::Metrics, &mut not_exported)?,
            logs: upstream(env, OtherSignal::Logs, &mut not_exported)?,
            not_exported,
        })
    }
}

fn flag(env: &Env, var: &'static str) -> Result<bool, SignalConfigError> {
    match env.get(var) {
        None => Ok(false),
        Some(v) => crate::config::parse_bool(v).ok_or(SignalConfigError::Invalid {
            var,
            accepted: crate::config::BOOL_ACCEPTED,
        }),
    }
}

/// `env` as the distro's traces parser should read it for `signal`: the
/// signal's `OTEL_EXPORTER_OTLP_<SIGNAL>_*` values in place of the traces
/// ones (traces-only values blanked, which counts as unset).
fn signal_env(env: &Env, signal: OtherSignal) -> Env {
    const TRACES: &str = "OTEL_EXPORTER_OTLP_TRACES_";
    let mut out = env.clone();
    let traces: Vec<String> = env
        .with_prefix(TRACES)
        .map(|(k, _)| k.to_string())
        .collect();
    for k in traces {
        out = out.with(k, "");
    }
    let prefix = format!("OTEL_EXPORTER_OTLP_{}_", signal.upper());
    for (k, v) in env.with_prefix(&prefix) {
        out = out.with(format!("{TRACES}{}", &k[prefix.len()..]), v);
    }
    out
}

/// The signal's endpoint and why: its own variable, then the OTLP
/// variables (unless they name the extension's receivers), then a
/// collector named by `OTEL_AWS_LAMBDA_EXPORTER_ENDPOINT` (its
/// `/v1/traces` path swapped), then CloudWatch in `AWS_REGION`.
fn endpoint(env: &Env, signal: OtherSignal) -> Result<(String, String), SignalConfigError> {
    let own_var = signal.endpoint_var();
    if let Some(v) = env.get(own_var) {
        let url = with_path(v, signal.path()).ok_or(SignalConfigError::Invalid {
            var: own_var,
            accepted: "an absolute http(s) URL",
        })?;
        return Ok((url, format!("{own_var} is set (it wins)")));
    }
    let own = [http_addr(env), grpc_addr(env)]
        .into_iter()
        .filter_map(Result::ok)
        .collect::<Vec<_>>();
    let specific = format!("OTEL_EXPORTER_OTLP_{}_ENDPOINT", signal.upper());
    if let Some(v) = env.get(&specific)
        && !is_own_receiver(v, &own)
    {
        return Ok((v.to_string(), format!("{specific} is set")));
    }
    if let Some(v) = env.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        && !is_own_receiver(v, &own)
    {
        let url = format!("{}{}", v.trim_end_matches('/'), signal.path());
        return Ok((url, "OTEL_EXPORTER_OTLP_ENDPOINT is set".into()));
    }
    if let Some(v) = env.get(OTEL_AWS_LAMBDA_EXPORTER_ENDPOINT)
        && let Some(base) = v.strip_suffix("/v1/traces")
        && otel_aws_distro::export::detect_aws_endpoint(v).is_none()
    {
        return Ok((
            format!("{base}{}", signal.path()),
            format!("the collector named by {OTEL_AWS_LAMBDA_EXPORTER_ENDPOINT}"),
        ));
    }
    let region = env.get("AWS_REGION").ok_or(SignalConfigError::NoEndpoint {
        signal: signal_name(signal),
        var: own_var,
    })?;
    Ok((
        signal.aws_endpoint(region),
        "the CloudWatch OTLP endpoint of AWS_REGION".into(),
    ))
}

fn signal_name(signal: OtherSignal) -> &'static str {
    match signal {
        OtherSignal::Metrics => "metrics",
        OtherSignal::Logs => "logs",
    }
}

/// True when `url` is the CloudWatch OTLP endpoint of `signal` (any region).
fn is_cloudwatch(url: &str, signal: OtherSignal) -> bool {
    otel_aws_distro::export::detect_aws_endpoint(url)
        .is_some_and(|e| e.kind.service() == signal.service())
}

fn upstream(
    env: &Env,
    signal: OtherSignal,
    not_exported: &mut Vec<SignalConfigError>,
) -> Result<Option<SignalUpstream>, SignalConfigError> {
    let var = signal.exporter_var();
    match env.get(var).map(str::to_ascii_lowercase).as_deref() {
        None | Some("otlp") => {}
        Some("none") => return Ok(None),
        Some(_) => {
            return Err(SignalConfigError::Invalid {
                var,
                accepted: "otlp or none",
            });
        }
    }
    let name = signal_name(signal);
    let senv = signal_env(env, signal);
    let cfg = crate::config::export_settings(&senv).map_err(|e: ConfigError| {
        SignalConfigError::Export {
            signal: name,
            message: e.to_string().replace(
                "OTEL_EXPORTER_OTLP_TRACES_",
                &format!("OTEL_EXPORTER_OTLP_{}_", signal.upper()),
            ),
        }
    })?;
    let (url, why) = match endpoint(env, signal) {
        Ok(found) => found,
        // Traces may still have somewhere to go (a collector URL with
        // another path, the console): the signal is off, not the extension.
        Err(e @ SignalConfigError::NoEndpoint { .. }) => {
            not_exported.push(e);
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    let mut otlp = otel_aws_distro::otlp_http_config(&cfg);
    // Compression not asked for: gzip to the AWS OTLP endpoints, chosen on
    // the upstream (the distro chose on the endpoint it read).
    if cfg.otlp.gzip.source == otel_aws_distro::config::Source::Default {
        otlp.compression = if otel_aws_distro::export::detect_aws_endpoint(&url).is_some() {
            otel_aws_distro::export::Compression::Gzip
        } else {
            otel_aws_distro::export::Compression::None
        };
    }
    otlp.endpoint = url;
    // Forced signing uses the signal's CloudWatch service, whatever
    // OTEL_AWS_SIGV4_SERVICE names for traces; `Auto` signs the CloudWatch
    // endpoints with their own service (the distro recognises them).
    if let Signing::Force { service, .. } = &mut otlp.signing {
        *service = Some(signal.service().into());
    }
    // The CloudWatch Logs endpoint needs a group and a stream: by default
    // the function's own (Lambda names them in the environment).
    if signal == OtherSignal::Logs && is_cloudwatch(&otlp.endpoint, signal) {
        for (header, var) in [
            (LOG_GROUP_HEADER, "AWS_LAMBDA_LOG_GROUP_NAME"),
            (LOG_STREAM_HEADER, "AWS_LAMBDA_LOG_STREAM_NAME"),
        ] {
            let have = otlp
                .headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case(header));
            if let (false, Some(v)) = (have, env.get(var)) {
                otlp.headers.push((header.into(), v.into()));
            }
        }
    }
    Ok(Some(SignalUpstream { otlp, why }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::from_pairs(pairs.iter().copied())
    }

    #[test]
    fn cloudwatch_by_default_signed_for_each_service() {
        let c = SignalsConfig::from_env(&env(&[
            ("AWS_REGION", "eu-west-1"),
            ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/orders"),
            ("AWS_LAMBDA_LOG_STREAM_NAME", "2026/12/05/[$LATEST]abc"),
        ]))
        .unwrap();
        assert!(!c.platform_metrics && !c.forward_logs);
        let m = c.metrics.unwrap().otlp;
        assert_eq!(
            m.endpoint,
            "https://monitoring.eu-west-1.amazonaws.com/v1/metrics"
        );
        assert_eq!(m.signing, Signing::Auto);
        assert!(
            otel_aws_distro::export::signs(&m),
            "the metrics endpoint is signed"
        );
        let l = c.logs.unwrap().otlp;
        assert_eq!(l.endpoint, "https://logs.eu-west-1.amazonaws.com/v1/logs");
        assert!(
            l.headers
                .contains(&("x-aws-log-group".into(), "/aws/lambda/orders".into()))
        );
        assert!(l.headers.iter().any(|(k, _)| k == "x-aws-log-stream"));
        // Gzip to the AWS OTLP endpoints when compression is not asked for,
        // as the distro does for its own endpoint.
        assert_eq!(m.compression, otel_aws_distro::export::Compression::Gzip);
        assert_eq!(l.compression, otel_aws_distro::export::Compression::Gzip);
        let c = SignalsConfig::from_env(&env(&[
            ("AWS_REGION", "eu-west-1"),
            ("OTEL_EXPORTER_OTLP_METRICS_COMPRESSION", "none"),
            (
                "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
                "http://collector:4318/v1/logs",
            ),
        ]))
        .unwrap();
        let (m, l) = (c.metrics.unwrap().otlp, c.logs.unwrap().otlp);
        assert_eq!(m.compression, otel_aws_distro::export::Compression::None);
        assert_eq!(l.compression, otel_aws_distro::export::Compression::None);
    }

    #[test]
    fn signal_variables_win_and_own_receivers_are_skipped() {
        let c = SignalsConfig::from_env(&env(&[
            ("AWS_REGION", "us-east-1"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318"),
            (
                "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
                "http://collector:4318/v1/metrics",
            ),
            (
                "OTEL_EXPORTER_OTLP_LOGS_HEADERS",
                "x-aws-log-group=g,x-aws-log-stream=s",
            ),
            ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "x-only-traces=1"),
            ("OTEL_AWS_SIGV4", "true"),
            ("OTEL_AWS_LAMBDA_PLATFORM_METRICS", "true"),
        ]))
        .unwrap();
        assert!(c.platform_metrics);
        let m = c.metrics.unwrap().otlp;
        assert_eq!(m.endpoint, "http://collector:4318/v1/metrics");
        assert!(matches!(&m.signing, Signing::Force { service: Some(s), .. } if s == "monitoring"));
        assert!(m.headers.iter().all(|(k, _)| k != "x-only-traces"));
        let l = c.logs.unwrap().otlp;
        // OTEL_EXPORTER_OTLP_ENDPOINT is the extension's own receiver: CloudWatch.
        assert_eq!(l.endpoint, "https://logs.us-east-1.amazonaws.com/v1/logs");
        assert!(is_cloudwatch(&l.endpoint, OtherSignal::Logs));
        assert!(matches!(&l.signing, Signing::Force { service: Some(s), .. } if s == "logs"));
        assert_eq!(
            l.headers,
            vec![
                ("x-aws-log-group".to_string(), "g".to_string()),
                ("x-aws-log-stream".to_string(), "s".to_string())
            ]
        );
    }

    #[test]
    fn bad_values_name_their_variable() {
        for (k, v) in [
            (OTEL_AWS_LAMBDA_PLATFORM_METRICS, "maybe"),
            (OTEL_AWS_LAMBDA_METRICS_EXPORTER, "prometheus"),
            (OTEL_AWS_LAMBDA_LOGS_ENDPOINT, "logs.example.com"),
            ("OTEL_EXPORTER_OTLP_METRICS_COMPRESSION", "zip"),
        ] {
            let err = SignalsConfig::from_env(&env(&[("AWS_REGION", "us-east-1"), (k, v)]))
                .unwrap_err()
                .to_string();
            assert!(err.contains(k), "{k}: {err}");
        }
        let none = SignalsConfig::from_env(&env(&[
            (OTEL_AWS_LAMBDA_METRICS_EXPORTER, "none"),
            (OTEL_AWS_LAMBDA_LOGS_EXPORTER, "none"),
        ]))
        .unwrap();
        assert!(none.metrics.is_none() && none.logs.is_none());
        // Nowhere to send them (no region, no endpoint): off, not an error.
        let nowhere = SignalsConfig::from_env(&env(&[])).unwrap();
        assert!(nowhere.metrics.is_none() && nowhere.logs.is_none());
    }
}
