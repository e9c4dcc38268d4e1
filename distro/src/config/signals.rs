//! Metrics and logs settings of the in-process distro: exporters, the
//! periodic reader, temporality, per-signal OTLP variables and the `awsemf`
//! exporter.
//!
//! Parsed by [`SignalSettings::from_env`], apart from [`super::Config`]: the
//! Lambda extension and the sidecar read the traces configuration from an
//! environment that also belongs to the function's or application's own SDK,
//! whose `OTEL_METRICS_EXPORTER` (`prometheus`, say) is not theirs to refuse.

use std::time::Duration;

use super::vars::*;
use super::{ConfigError, OtlpSettings, Sourced, kind_list, parse, pick};
use crate::Env;
use crate::emf::DimensionRollup;

/// The variables of one signal's OTLP exporter.
#[derive(Debug)]
pub(crate) struct SignalVars {
    pub(crate) endpoint: &'static str,
    pub(crate) headers: &'static str,
    pub(crate) timeout: &'static str,
    pub(crate) compression: &'static str,
    pub(crate) protocol: &'static str,
    /// Appended to `OTEL_EXPORTER_OTLP_ENDPOINT`.
    pub(crate) path: &'static str,
    /// SigV4 service when signing is forced without `OTEL_AWS_SIGV4_SERVICE`.
    pub(crate) service: &'static str,
}

pub(crate) const TRACES: SignalVars = SignalVars {
    endpoint: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
    headers: OTEL_EXPORTER_OTLP_TRACES_HEADERS,
    timeout: OTEL_EXPORTER_OTLP_TRACES_TIMEOUT,
    compression: OTEL_EXPORTER_OTLP_TRACES_COMPRESSION,
    protocol: OTEL_EXPORTER_OTLP_TRACES_PROTOCOL,
    path: "/v1/traces",
    service: "xray",
};

pub(crate) const METRICS: SignalVars = SignalVars {
    endpoint: OTEL_EXPORTER_OTLP_METRICS_ENDPOINT,
    headers: OTEL_EXPORTER_OTLP_METRICS_HEADERS,
    timeout: OTEL_EXPORTER_OTLP_METRICS_TIMEOUT,
    compression: OTEL_EXPORTER_OTLP_METRICS_COMPRESSION,
    protocol: OTEL_EXPORTER_OTLP_METRICS_PROTOCOL,
    path: "/v1/metrics",
    service: "monitoring",
};

pub(crate) const LOGS: SignalVars = SignalVars {
    endpoint: OTEL_EXPORTER_OTLP_LOGS_ENDPOINT,
    headers: OTEL_EXPORTER_OTLP_LOGS_HEADERS,
    timeout: OTEL_EXPORTER_OTLP_LOGS_TIMEOUT,
    compression: OTEL_EXPORTER_OTLP_LOGS_COMPRESSION,
    protocol: OTEL_EXPORTER_OTLP_LOGS_PROTOCOL,
    path: "/v1/logs",
    service: "logs",
};

/// The CloudWatch Logs OTLP endpoint's log group header (also the `awsemf`
/// exporter's log group, as in the ADOT distributions).
pub const LOG_GROUP_HEADER: &str = "x-aws-log-group";
/// The CloudWatch Logs OTLP endpoint's log stream header.
pub const LOG_STREAM_HEADER: &str = "x-aws-log-stream";
/// The `awsemf` exporter's namespace, read from the logs headers (ADOT's
/// convention); never sent to the logs endpoint.
pub const METRIC_NAMESPACE_HEADER: &str = "x-aws-metric-namespace";

/// A metrics exporter the distro can install.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricsExporterKind {
    /// OTLP/HTTP (SigV4-signed for the CloudWatch metrics endpoint).
    Otlp,
    /// CloudWatch Embedded Metric Format (stdout or PutLogEvents).
    AwsEmf,
    /// One OTLP/JSON line per export on stdout.
    Console,
}

/// A logs exporter the distro can install.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogsExporterKind {
    /// OTLP/HTTP (SigV4-signed for the CloudWatch Logs endpoint).
    Otlp,
    /// One OTLP/JSON line per export on stdout.
    Console,
}

/// `OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TemporalityPreference {
    /// Everything cumulative (the default).
    #[default]
    Cumulative,
    /// Counters, histograms and asynchronous counters delta; up-down counters cumulative.
    Delta,
    /// Counters and histograms delta; asynchronous counters and up-down counters cumulative.
    LowMemory,
}

/// `OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum HistogramAggregation {
    /// Explicit bucket boundaries (the SDK's defaults; the default).
    #[default]
    ExplicitBucket,
    /// Base-2 exponential buckets (160 buckets, scale up to 20, min and max
    /// recorded: the specification's defaults).
    Base2Exponential,
}

/// Where the `awsemf` exporter writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EmfOutputSetting {
    /// One JSON line per document on stdout.
    Stdout,
    /// PutLogEvents to the log group.
    CloudWatch,
}

/// `awsemf` settings.
#[derive(Clone, Debug, PartialEq)]
pub struct EmfSettings {
    /// Stdout or CloudWatch Logs.
    pub output: Sourced<EmfOutputSetting>,
    /// `x-aws-metric-namespace` of the logs headers (else from the resource).
    pub namespace: Option<String>,
    /// `x-aws-log-group` of the logs headers (needed for `cloudwatch`).
    pub log_group: Option<String>,
    /// `x-aws-log-stream` of the logs headers.
    pub log_stream: Option<String>,
    /// Dimension rollup.
    pub dimension_rollup: Sourced<DimensionRollup>,
    /// CloudWatch Logs endpoint override (the first set of
    /// `AWS_ENDPOINT_URL_CLOUDWATCH_LOGS`, `AWS_ENDPOINT_URL_LOGS` and
    /// `AWS_ENDPOINT_URL`).
    pub endpoint: Option<Sourced<String>>,
}

/// Metrics settings.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricsSettings {
    /// Exporters (empty: no meter provider).
    pub exporters: Sourced<Vec<MetricsExporterKind>>,
    /// Export interval.
    pub interval: Sourced<Duration>,
    /// Export timeout.
    pub timeout: Sourced<Duration>,
    /// Temporality of the OTLP and console exporters (`awsemf` is always delta).
    pub temporality: Sourced<TemporalityPreference>,
    /// Aggregation of histogram instruments (every metrics exporter).
    pub histogram_aggregation: Sourced<HistogramAggregation>,
    /// OTLP exporter.
    pub otlp: OtlpSettings,
    /// `awsemf` exporter.
    pub emf: EmfSettings,
}

/// Logs settings.
#[derive(Clone, Debug, PartialEq)]
pub struct LogsSettings {
    /// Exporters (empty: no logger provider).
    pub exporters: Sourced<Vec<LogsExporterKind>>,
    /// OTLP exporter.
    pub otlp: OtlpSettings,
}

/// Metrics and logs settings together.
#[derive(Clone, Debug, PartialEq)]
pub struct SignalSettings {
    /// Metrics.
    pub metrics: MetricsSettings,
    /// Logs.
    pub logs: LogsSettings,
}

impl SignalSettings {
    /// Reads the metrics and logs variables; `region` signs forced SigV4
    /// (the configuration's [`super::Config::region`]).
    pub fn from_env(env: &Env, region: Option<&str>) -> Result<Self, ConfigError> {
        Ok(Self {
            metrics: MetricsSettings::from_env(env, region)?,
            logs: LogsSettings::from_env(env, region)?,
        })
    }
}

fn header(headers: &[(String, String)], name: &str) -> Option<String> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

fn temporality(var: &'static str, v: &str) -> Result<TemporalityPreference, ConfigError> {
    match v.trim().to_ascii_lowercase().as_str() {
        "cumulative" => Ok(TemporalityPreference::Cumulative),
        "delta" => Ok(TemporalityPreference::Delta),
        "lowmemory" => Ok(TemporalityPreference::LowMemory),
        _ => Err(parse::invalid(var, v, "cumulative, delta or lowmemory")),
    }
}

impl MetricsSettings {
    fn from_env(env: &Env, region: Option<&str>) -> Result<Self, ConfigError> {
        let exporters = pick(
            env,
            &[OTEL_METRICS_EXPORTER],
            |var, v| {
                kind_list(
                    var,
                    v,
                    &[
                        ("otlp", MetricsExporterKind::Otlp),
                        ("awsemf", MetricsExporterKind::AwsEmf),
                        ("console", MetricsExporterKind::Console),
                    ],
                    "a comma-separated list of otlp, awsemf, console, or none",
                    "none on its own, or a list of otlp, awsemf, console",
                )
            },
            Vec::new,
        )?;
        let interval = pick(env, &[OTEL_METRIC_EXPORT_INTERVAL], parse::millis, || {
            Duration::from_secs(60)
        })?;
        let timeout = pick(env, &[OTEL_METRIC_EXPORT_TIMEOUT], parse::millis, || {
            Duration::from_secs(30)
        })?;
        let temporality = pick(
            env,
            &[OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE],
            temporality,
            TemporalityPreference::default,
        )?;
        let histogram_aggregation = pick(
            env,
            &[OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION],
            |var, v| match v.trim().to_ascii_lowercase().as_str() {
                "explicit_bucket_histogram" => Ok(HistogramAggregation::ExplicitBucket),
                "base2_exponential_bucket_histogram" => Ok(HistogramAggregation::Base2Exponential),
                _ => Err(parse::invalid(
                    var,
                    v,
                    "explicit_bucket_histogram or base2_exponential_bucket_histogram",
                )),
            },
            HistogramAggregation::default,
        )?;
        let otlp = super::Config::otlp_from_env(env, region, &METRICS)?;
        let emf = EmfSettings::from_env(env)?;
        if exporters.value.contains(&MetricsExporterKind::AwsEmf)
            && emf.output.value == EmfOutputSetting::CloudWatch
            && emf.log_group.is_none()
        {
            return Err(ConfigError::Conflict(format!(
                "{OTEL_METRICS_EXPORTER}=awsemf sends to CloudWatch Logs and needs a log group: set {LOG_GROUP_HEADER} (and {LOG_STREAM_HEADER}, {METRIC_NAMESPACE_HEADER}) in {OTEL_EXPORTER_OTLP_LOGS_HEADERS}, or {OTEL_AWS_EMF_OUTPUT}=stdout"
            )));
        }
        Ok(Self {
            exporters,
            interval,
            timeout,
            temporality,
            histogram_aggregation,
            otlp,
            emf,
        })
    }
}

impl EmfSettings {
    fn from_env(env: &Env) -> Result<Self, ConfigError> {
        // The awsemf exporter reads its destination from the logs headers (ADOT's convention).
        let logs_headers = match env.get(OTEL_EXPORTER_OTLP_LOGS_HEADERS) {
            Some(v) => parse::key_values(OTEL_EXPORTER_OTLP_LOGS_HEADERS, v)?,
            None => Vec::new(),
        };
        let on_lambda = env.get(AWS_LAMBDA_FUNCTION_NAME).is_some();
        let output = pick(
            env,
            &[OTEL_AWS_EMF_OUTPUT],
            |var, v| match v.trim().to_ascii_lowercase().as_str() {
                "stdout" => Ok(EmfOutputSetting::Stdout),
                "cloudwatch" => Ok(EmfOutputSetting::CloudWatch),
                _ => Err(parse::invalid(var, v, "stdout or cloudwatch")),
            },
            || {
                if on_lambda {
                    EmfOutputSetting::Stdout
                } else {
                    EmfOutputSetting::CloudWatch
                }
            },
        )?;
        let dimension_rollup = pick(
            env,
            &[OTEL_AWS_EMF_DIMENSION_ROLLUP],
            |var, v| {
                v.parse::<DimensionRollup>()
                    .map_err(|_| parse::invalid(var, v, DimensionRollup::ACCEPTED))
            },
            DimensionRollup::default,
        )?;
        let mut endpoint = None;
        for var in super::vars::LOGS_ENDPOINT_VARS {
            if let Some(v) = env.get(var) {
                endpoint = Some(Sourced {
                    value: parse::endpoint(var, v)?,
                    source: super::Source::Env(var),
                });
                break;
            }
        }
        Ok(Self {
            output,
            namespace: header(&logs_headers, METRIC_NAMESPACE_HEADER),
            log_group: header(&logs_headers, LOG_GROUP_HEADER),
            log_stream: header(&logs_headers, LOG_STREAM_HEADER),
            dimension_rollup,
            endpoint,
        })
    }
}

impl LogsSettings {
    fn from_env(env: &Env, region: Option<&str>) -> Result<Self, ConfigError> {
        let exporters = pick(
            env,
            &[OTEL_LOGS_EXPORTER],
            |var, v| {
                kind_list(
                    var,
                    v,
                    &[
                        ("otlp", LogsExporterKind::Otlp),
                        ("console", LogsExporterKind::Console),
                    ],
                    "a comma-separated list of otlp, console, or none",
                    "none on its own, or a list of otlp, console",
                )
            },
            Vec::new,
        )?;
        let mut otlp = super::Config::otlp_from_env(env, region, &LOGS)?;
        // The namespace header is the awsemf exporter's, not the endpoint's.
        otlp.headers
            .value
            .retain(|(k, _)| !k.eq_ignore_ascii_case(METRIC_NAMESPACE_HEADER));
        Ok(Self { exporters, otlp })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SigV4Setting;

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    fn settings(pairs: &[(&str, &str)]) -> Result<SignalSettings, ConfigError> {
        let e = env(pairs);
        SignalSettings::from_env(&e, e.get("AWS_REGION"))
    }

    #[test]
    fn defaults_install_no_meter_or_logger_provider() {
        let c = settings(&[]).unwrap();
        assert!(c.metrics.exporters.value.is_empty());
        assert!(c.logs.exporters.value.is_empty());
        // OpenTelemetry environment specification defaults.
        assert_eq!(c.metrics.interval.value, Duration::from_secs(60));
        assert_eq!(c.metrics.timeout.value, Duration::from_secs(30));
        assert_eq!(
            c.metrics.temporality.value,
            TemporalityPreference::Cumulative
        );
        assert_eq!(
            c.metrics.histogram_aggregation.value,
            HistogramAggregation::ExplicitBucket
        );
        assert_eq!(
            c.metrics.otlp.endpoint.value,
            "http://localhost:4318/v1/metrics"
        );
        assert_eq!(c.logs.otlp.endpoint.value, "http://localhost:4318/v1/logs");
    }

    #[test]
    fn per_signal_endpoints_headers_and_signing() {
        let c = settings(&[
            ("OTEL_METRICS_EXPORTER", "otlp,awsemf"),
            ("OTEL_LOGS_EXPORTER", "OTLP"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/"),
            (
                "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
                "https://logs.eu-west-1.amazonaws.com/v1/logs",
            ),
            (
                "OTEL_EXPORTER_OTLP_LOGS_HEADERS",
                "x-aws-log-group=app,x-aws-log-stream=s1,x-aws-metric-namespace=Shop",
            ),
            ("OTEL_METRIC_EXPORT_INTERVAL", "1500"),
            ("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "Delta"),
            (
                "OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION",
                "base2_exponential_bucket_histogram",
            ),
            ("AWS_REGION", "eu-west-1"),
            ("OTEL_AWS_SIGV4", "true"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"),
        ])
        .unwrap();
        assert_eq!(
            c.metrics.exporters.value,
            vec![MetricsExporterKind::Otlp, MetricsExporterKind::AwsEmf]
        );
        assert_eq!(c.logs.exporters.value, vec![LogsExporterKind::Otlp]);
        assert_eq!(
            c.metrics.otlp.endpoint.value,
            "http://collector:4318/v1/metrics"
        );
        assert_eq!(
            c.logs.otlp.endpoint.value,
            "https://logs.eu-west-1.amazonaws.com/v1/logs"
        );
        assert_eq!(c.metrics.interval.value, Duration::from_millis(1500));
        assert_eq!(c.metrics.temporality.value, TemporalityPreference::Delta);
        assert_eq!(
            c.metrics.histogram_aggregation.value,
            HistogramAggregation::Base2Exponential
        );
        assert_eq!(c.metrics.emf.namespace.as_deref(), Some("Shop"));
        assert_eq!(c.metrics.emf.log_group.as_deref(), Some("app"));
        assert_eq!(c.metrics.emf.log_stream.as_deref(), Some("s1"));
        assert_eq!(c.metrics.emf.output.value, EmfOutputSetting::CloudWatch);
        assert_eq!(
            c.metrics.emf.endpoint.as_ref().map(|e| e.value.as_str()),
            Some("http://127.0.0.1:5000")
        );
        // Forced signing defaults to each signal's service.
        assert!(
            matches!(&c.metrics.otlp.sigv4.value, SigV4Setting::Force { service, .. } if service == "monitoring")
        );
        assert!(
            matches!(&c.logs.otlp.sigv4.value, SigV4Setting::Force { service, .. } if service == "logs")
        );
        let names: Vec<&str> = c
            .logs
            .otlp
            .headers
            .value
            .iter()
            .map(|(k, _)| k.as_str())
            .collect();
        assert_eq!(names, vec!["x-aws-log-group", "x-aws-log-stream"]);
    }

    #[test]
    fn bad_values_name_the_variable_and_what_it_accepts() {
        for (var, value, accepted) in [
            (
                "OTEL_METRICS_EXPORTER",
                "prometheus",
                "otlp, awsemf, console",
            ),
            ("OTEL_METRICS_EXPORTER", "none,otlp", "none on its own"),
            ("OTEL_LOGS_EXPORTER", "awsemf", "otlp, console"),
            ("OTEL_METRIC_EXPORT_INTERVAL", "0", "positive"),
            ("OTEL_METRIC_EXPORT_TIMEOUT", "soon", "milliseconds"),
            (
                "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
                "sometimes",
                "cumulative, delta or lowmemory",
            ),
            ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "collector", "URL"),
            (
                "OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION",
                "exponential",
                "base2_exponential_bucket_histogram",
            ),
            ("OTEL_AWS_EMF_OUTPUT", "s3", "stdout or cloudwatch"),
            ("OTEL_AWS_EMF_DIMENSION_ROLLUP", "All", "NoDimensionRollup"),
            ("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS", "logs.local", "URL"),
        ] {
            let err = settings(&[(var, value)]).unwrap_err().to_string();
            assert!(err.contains(var), "{err}");
            assert!(err.contains(accepted), "{err}");
        }
        // awsemf to CloudWatch without a log group: what to set.
        let err = settings(&[("OTEL_METRICS_EXPORTER", "awsemf")])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("x-aws-log-group") && err.contains("OTEL_AWS_EMF_OUTPUT=stdout"),
            "{err}"
        );
        // On Lambda, awsemf writes to stdout by default.
        let c = settings(&[
            ("OTEL_METRICS_EXPORTER", "awsemf"),
            ("AWS_LAMBDA_FUNCTION_NAME", "f"),
        ])
        .unwrap();
        assert_eq!(c.metrics.emf.output.value, EmfOutputSetting::Stdout);
    }

    /// Every CloudWatch Logs client reads the same variables in the same
    /// order: the AWS SDKs' service-specific name, the short one, the
    /// general one. EMF here, Application Signals through
    /// `appsignals::logs_endpoint_url`.
    #[test]
    fn the_logs_endpoint_override_is_read_from_every_name_in_one_order() {
        let full = ("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS", "http://127.0.0.1:1001");
        let short = ("AWS_ENDPOINT_URL_LOGS", "http://127.0.0.1:1002");
        let all = ("AWS_ENDPOINT_URL", "http://127.0.0.1:1003");
        type Vars<'a> = &'a [(&'a str, &'a str)];
        let cases: [(Vars, Option<&str>); 5] = [
            (&[full, short, all], Some(full.1)),
            (&[short, all], Some(short.1)),
            (&[short], Some(short.1)),
            (&[all], Some(all.1)),
            (&[], None),
        ];
        for (pairs, want) in cases {
            let c = settings(pairs).unwrap();
            let got = c.metrics.emf.endpoint.as_ref().map(|e| e.value.as_str());
            assert_eq!(got, want, "{pairs:?}");
            let app = crate::appsignals::logs_endpoint_url(&env(pairs));
            assert_eq!(app.as_deref(), want, "{pairs:?}");
        }
        let err = settings(&[("AWS_ENDPOINT_URL_LOGS", "logs.local")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("AWS_ENDPOINT_URL_LOGS"), "{err}");
    }

    #[test]
    fn the_traces_configuration_ignores_the_other_signals() {
        // The extension and the sidecar parse `Config` from an environment
        // shared with the function's SDK.
        let e = env(&[
            ("OTEL_METRICS_EXPORTER", "prometheus"),
            ("OTEL_LOGS_EXPORTER", "weird"),
        ]);
        assert!(crate::config::Config::from_env(&e).is_ok());
        assert!(SignalSettings::from_env(&e, None).is_err());
    }
}
