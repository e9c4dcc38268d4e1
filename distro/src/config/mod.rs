//! Configuration from the environment (`OTEL_*`, AWS and legacy
//! `AWS_XRAY_*` variables), with where each value came from.
//!
//! Precedence (written once, here): code ([`crate::Builder`]) >
//! signal-specific variable > generic variable > default. A bad value is an
//! error naming the variable and what it accepts; `init()` stops on it.

mod legacy;
pub(crate) mod parse;
pub mod redact;
mod report;
pub mod signals;
pub mod vars;

use std::path::PathBuf;
use std::time::Duration;

use opentelemetry::KeyValue;

use crate::Env;
use crate::propagation::{PropagatorConfigError, PropagatorKind};
use crate::resource::{DetectOptions, ResourceConfigError};
use crate::sampling::{SamplerConfig, SamplerConfigError};

pub use crate::logs::LogFormat;
pub use legacy::{ContextMissing, DaemonAddress};
pub use report::ConfigEntry;
pub use signals::{
    EmfOutputSetting, EmfSettings, HistogramAggregation, LogsExporterKind, LogsSettings,
    MetricsExporterKind, MetricsSettings, SignalSettings, TemporalityPreference,
};
use vars::*;

/// A configuration error: always names the variable and what it accepts.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A variable has a value the distro cannot use. The value is never
    /// kept or shown: any variable may hold a secret (an endpoint with
    /// `user:password@`, a key pasted into the wrong variable).
    #[error(
        "{var} is not valid (the value is not shown, it may hold a secret): expected {accepted}"
    )]
    Invalid {
        /// The variable.
        var: &'static str,
        /// What it accepts.
        accepted: &'static str,
    },
    /// A variable that may hold a secret (a header list, a key, a token)
    /// has a value the distro cannot use. The value is never kept or shown.
    #[error(
        "{var} is not valid ({problem}; the value is not shown, it may hold a secret): expected {accepted}"
    )]
    InvalidSecret {
        /// The variable.
        var: &'static str,
        /// What is wrong, without the value (e.g. which pair).
        problem: String,
        /// What it accepts.
        accepted: &'static str,
    },
    /// A combination of settings that cannot work.
    #[error("{0}")]
    Conflict(String),
    /// Sampler settings.
    #[error(transparent)]
    Sampler(#[from] SamplerConfigError),
    /// Propagator settings.
    #[error(transparent)]
    Propagator(#[from] PropagatorConfigError),
    /// Resource settings.
    #[error(transparent)]
    Resource(#[from] ResourceConfigError),
}

/// Where a configuration value came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// Set in code through the builder.
    Code,
    /// Read from this environment variable.
    Env(&'static str),
    /// The distro's default.
    Default,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Code => f.write_str("code"),
            Source::Env(v) => write!(f, "env {v}"),
            Source::Default => f.write_str("default"),
        }
    }
}

/// A value and where it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct Sourced<T> {
    /// The value in effect.
    pub value: T,
    /// Where it came from.
    pub source: Source,
}

impl<T> Sourced<T> {
    /// A default value.
    pub fn default_value(value: T) -> Self {
        Self {
            value,
            source: Source::Default,
        }
    }

    /// A value set in code.
    pub fn code(value: T) -> Self {
        Self {
            value,
            source: Source::Code,
        }
    }
}

/// Reads the first of `vars` that is set (signal-specific first), parsing it.
fn pick<T>(
    env: &Env,
    vars: &[&'static str],
    parse: impl Fn(&'static str, &str) -> Result<T, ConfigError>,
    default: impl FnOnce() -> T,
) -> Result<Sourced<T>, ConfigError> {
    for var in vars {
        if let Some(v) = env.get(var) {
            return Ok(Sourced {
                value: parse(var, v)?,
                source: Source::Env(var),
            });
        }
    }
    Ok(Sourced::default_value(default()))
}

/// A trace exporter the distro can install.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExporterKind {
    /// OTLP/HTTP (SigV4-signed for the AWS endpoints).
    Otlp,
    /// Human-readable lines on stdout.
    Console,
    /// OTLP/JSON lines appended to [`Config::traces_file`].
    File,
    /// X-Ray segment documents through `PutTraceSegments` (`xray`).
    Xray,
}

impl ExporterKind {
    /// The `OTEL_TRACES_EXPORTER` spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Otlp => "otlp",
            Self::Console => "console",
            Self::File => "file",
            Self::Xray => "xray",
        }
    }
}

fn exporters(var: &'static str, value: &str) -> Result<Vec<ExporterKind>, ConfigError> {
    kind_list(
        var,
        value,
        &[
            ("otlp", ExporterKind::Otlp),
            ("console", ExporterKind::Console),
            ("logging", ExporterKind::Console),
            ("file", ExporterKind::File),
            ("xray", ExporterKind::Xray),
            ("awsxray", ExporterKind::Xray),
        ],
        "a comma-separated list of otlp, console, file, xray, or none",
        "none on its own, or a list of otlp, console, file, xray",
    )
}

/// A comma-separated list of exporter names from `table` (case-insensitive,
/// duplicates folded), or `none` on its own (an empty list).
pub(crate) fn kind_list<K: Copy + PartialEq>(
    var: &'static str,
    value: &str,
    table: &[(&str, K)],
    accepted: &'static str,
    none_alone: &'static str,
) -> Result<Vec<K>, ConfigError> {
    let mut out = Vec::new();
    let mut saw_none = false;
    for item in value.split(',').map(|s| s.trim().to_ascii_lowercase()) {
        if item == "none" {
            saw_none = true;
            continue;
        }
        let Some(kind) = table.iter().find(|(n, _)| *n == item).map(|(_, k)| *k) else {
            return Err(ConfigError::Invalid { var, accepted });
        };
        if !out.contains(&kind) {
            out.push(kind);
        }
    }
    if saw_none && !out.is_empty() {
        return Err(ConfigError::Invalid {
            var,
            accepted: none_alone,
        });
    }
    Ok(out)
}

/// How OTLP requests are signed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SigV4Setting {
    /// Sign when the endpoint is a CloudWatch OTLP endpoint (X-Ray traces,
    /// CloudWatch Logs, CloudWatch metrics).
    Auto,
    /// Sign every request (VPC endpoints, proxies): `OTEL_AWS_SIGV4=true`.
    Force {
        /// SigV4 service name.
        service: String,
        /// SigV4 region.
        region: String,
    },
    /// Never sign: `OTEL_AWS_SIGV4=false`.
    Off,
}

/// OTLP exporter settings. `Debug` shows the header names only.
#[derive(Clone, PartialEq)]
pub struct OtlpSettings {
    /// Full URL of the signal (including `/v1/traces`, `/v1/metrics`, `/v1/logs`).
    pub endpoint: Sourced<String>,
    /// Extra request headers.
    pub headers: Sourced<Vec<(String, String)>>,
    /// Per-request timeout.
    pub timeout: Sourced<Duration>,
    /// Gzip request bodies.
    pub gzip: Sourced<bool>,
    /// gzip level (`OTEL_AWS_EXPORTER_OTLP_COMPRESSION_LEVEL`).
    pub gzip_level: Sourced<crate::export::GzipLevel>,
    /// OTLP/JSON instead of protobuf.
    pub json: Sourced<bool>,
    /// Signing.
    pub sigv4: Sourced<SigV4Setting>,
}

impl std::fmt::Debug for OtlpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Self {
            endpoint,
            headers,
            timeout,
            gzip,
            gzip_level,
            json,
            sigv4,
        } = self;
        f.debug_struct("OtlpSettings")
            .field("endpoint", endpoint)
            .field(
                "headers",
                &Sourced {
                    value: redact::RedactedHeaders(&headers.value),
                    source: headers.source.clone(),
                },
            )
            .field("timeout", timeout)
            .field("gzip", gzip)
            .field("gzip_level", gzip_level)
            .field("json", json)
            .field("sigv4", sigv4)
            .finish()
    }
}

/// Batch span processor settings.
#[derive(Clone, Debug, PartialEq)]
pub struct BatchSettings {
    /// Delay between exports.
    pub schedule_delay: Sourced<Duration>,
    /// Maximum time an export may take.
    pub export_timeout: Sourced<Duration>,
    /// Queue size.
    pub max_queue_size: Sourced<u32>,
    /// Spans per export.
    pub max_export_batch_size: Sourced<u32>,
}

/// Span limits.
#[derive(Clone, Debug, PartialEq)]
pub struct LimitSettings {
    /// Attributes per span.
    pub attributes_per_span: Sourced<u32>,
    /// Events per span.
    pub events_per_span: Sourced<u32>,
    /// Links per span.
    pub links_per_span: Sourced<u32>,
    /// Attributes per event.
    pub attributes_per_event: Sourced<u32>,
    /// Attributes per link.
    pub attributes_per_link: Sourced<u32>,
}

/// Settings of the `xray` exporter (segment documents via PutTraceSegments).
#[derive(Clone, Debug, PartialEq)]
pub struct XraySettings {
    /// Attribute keys always indexed as annotations.
    pub indexed_attributes: Sourced<Vec<String>>,
    /// Index every attribute with a string, number or bool value.
    pub index_all_attributes: Sourced<bool>,
    /// PutTraceSegments calls in flight at once.
    pub max_concurrency: Sourced<u32>,
}

/// The effective configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// SDK disabled (`OTEL_SDK_DISABLED=true` or `AWS_XRAY_SDK_ENABLED=false`).
    pub disabled: Sourced<bool>,
    /// `service.name` set in code (env precedence is resolved with the resource).
    pub service_name: Option<String>,
    /// `OTEL_RESOURCE_ATTRIBUTES`.
    pub resource_attributes: Sourced<Vec<KeyValue>>,
    /// Propagators in order.
    pub propagators: Sourced<Vec<PropagatorKind>>,
    /// Sampler.
    pub sampler: Sourced<SamplerConfig>,
    /// Trace exporters (empty = none).
    pub exporters: Sourced<Vec<ExporterKind>>,
    /// File for the `file` exporter.
    pub traces_file: Sourced<PathBuf>,
    /// OTLP settings.
    pub otlp: OtlpSettings,
    /// `xray` exporter settings.
    pub xray: XraySettings,
    /// Batch processor settings.
    pub batch: BatchSettings,
    /// Span limits.
    pub limits: LimitSettings,
    /// AWS region, when known from the environment.
    pub region: Sourced<Option<String>>,
    /// Legacy daemon address.
    pub daemon: Sourced<DaemonAddress>,
    /// Legacy context-missing strategy.
    pub context_missing: Sourced<ContextMissing>,
    /// Log line format.
    pub log_format: Sourced<LogFormat>,
    /// Resource detection.
    pub detect: DetectOptions,
    /// The `_X_AMZN_TRACE_ID` value in Lambda (for the `xray-lambda` propagator).
    pub lambda_trace_env: Option<String>,
}

impl Config {
    /// Reads the configuration from `env`. Errors name the variable and what it accepts.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let otel_disabled = pick(env, &[OTEL_SDK_DISABLED], parse::bool_value, || false)?;
        let xray_enabled = pick(env, &[AWS_XRAY_SDK_ENABLED], parse::bool_value, || true)?;
        let disabled = if otel_disabled.value {
            otel_disabled
        } else if !xray_enabled.value {
            Sourced {
                value: true,
                source: xray_enabled.source,
            }
        } else {
            Sourced::default_value(false)
        };

        let resource_attributes = match env.get(OTEL_RESOURCE_ATTRIBUTES) {
            Some(v) => Sourced {
                value: crate::resource::parse_resource_attributes(v)?,
                source: Source::Env(OTEL_RESOURCE_ATTRIBUTES),
            },
            None => Sourced::default_value(Vec::new()),
        };

        let propagators_var = crate::propagation::OTEL_PROPAGATORS;
        let propagators = Sourced {
            value: PropagatorKind::parse_list(env.get(propagators_var))?,
            source: source_of(env, propagators_var),
        };
        let sampler = Sourced {
            value: SamplerConfig::from_env(env)?,
            source: source_of(env, crate::sampling::OTEL_TRACES_SAMPLER),
        };
        let exporters = pick(env, &[OTEL_TRACES_EXPORTER], exporters, || {
            vec![ExporterKind::Otlp]
        })?;
        let traces_file = pick(
            env,
            &[OTEL_AWS_TRACES_FILE],
            |_, v| Ok(PathBuf::from(v)),
            || PathBuf::from("otel-aws-traces.jsonl"),
        )?;

        let region = match (env.get(AWS_REGION), env.get(AWS_DEFAULT_REGION)) {
            (Some(r), _) => Sourced {
                value: Some(r.to_string()),
                source: Source::Env(AWS_REGION),
            },
            (None, Some(r)) => Sourced {
                value: Some(r.to_string()),
                source: Source::Env(AWS_DEFAULT_REGION),
            },
            _ => Sourced::default_value(None),
        };

        let otlp = Self::otlp_from_env(env, region.value.as_deref(), &signals::TRACES)?;
        let batch = Self::batch_from_env(env)?;
        let xray = XraySettings {
            indexed_attributes: pick(
                env,
                &[OTEL_AWS_XRAY_INDEXED_ATTRIBUTES],
                |_, v| {
                    Ok(v.split(',')
                        .map(str::trim)
                        .filter(|k| !k.is_empty())
                        .map(str::to_owned)
                        .collect())
                },
                Vec::new,
            )?,
            index_all_attributes: pick(
                env,
                &[OTEL_AWS_XRAY_INDEX_ALL_ATTRIBUTES],
                parse::bool_value,
                || false,
            )?,
            max_concurrency: pick(
                env,
                &[OTEL_AWS_XRAY_MAX_CONCURRENCY],
                parse::positive_u32,
                || 4,
            )?,
        };
        let limits = Self::limits_from_env(env)?;

        let daemon = pick(
            env,
            &[AWS_XRAY_DAEMON_ADDRESS],
            |_, v| DaemonAddress::parse(v),
            DaemonAddress::default,
        )?;
        let context_missing = pick(
            env,
            &[AWS_XRAY_CONTEXT_MISSING],
            |_, v| ContextMissing::parse(v),
            ContextMissing::default,
        )?;
        let log_format = pick(
            env,
            &[OTEL_AWS_LOG_FORMAT],
            |var, v| match v.to_ascii_lowercase().as_str() {
                "json" => Ok(LogFormat::Json),
                "text" => Ok(LogFormat::Text),
                _ => Err(ConfigError::Invalid {
                    var,
                    accepted: "json or text",
                }),
            },
            || LogFormat::Json,
        )?;

        Ok(Self {
            disabled,
            service_name: None,
            resource_attributes,
            propagators,
            sampler,
            exporters,
            traces_file,
            otlp,
            xray,
            batch,
            limits,
            region,
            daemon,
            context_missing,
            log_format,
            detect: DetectOptions::from_env(env)?,
            lambda_trace_env: env.get("_X_AMZN_TRACE_ID").map(str::to_string),
        })
    }

    /// OTLP settings of one signal (`vars` names its variables).
    pub(crate) fn otlp_from_env(
        env: &Env,
        region: Option<&str>,
        vars: &signals::SignalVars,
    ) -> Result<OtlpSettings, ConfigError> {
        let endpoint = if let Some(v) = env.get(vars.endpoint) {
            Sourced {
                value: parse::endpoint(vars.endpoint, v)?,
                source: Source::Env(vars.endpoint),
            }
        } else if let Some(v) = env.get(OTEL_EXPORTER_OTLP_ENDPOINT) {
            let base = parse::endpoint(OTEL_EXPORTER_OTLP_ENDPOINT, v)?;
            Sourced {
                value: format!("{}{}", base.trim_end_matches('/'), vars.path),
                source: Source::Env(OTEL_EXPORTER_OTLP_ENDPOINT),
            }
        } else {
            Sourced::default_value(format!("http://localhost:4318{}", vars.path))
        };

        // Headers: generic first, signal-specific merged over them.
        let mut headers = pick(
            env,
            &[OTEL_EXPORTER_OTLP_HEADERS],
            parse::key_values,
            Vec::new,
        )?;
        if let Some(v) = env.get(vars.headers) {
            for (k, val) in parse::key_values(vars.headers, v)? {
                headers.value.retain(|(hk, _)| !hk.eq_ignore_ascii_case(&k));
                headers.value.push((k, val));
            }
            headers.source = Source::Env(vars.headers);
        }

        let sigv4 = match env.get(OTEL_AWS_SIGV4) {
            None => Sourced::default_value(SigV4Setting::Auto),
            Some(v) if parse::bool_value(OTEL_AWS_SIGV4, v)? => {
                let region = region.ok_or_else(|| {
                    ConfigError::Conflict(format!(
                        "{OTEL_AWS_SIGV4}=true needs a region to sign for: set {AWS_REGION}"
                    ))
                })?;
                Sourced {
                    value: SigV4Setting::Force {
                        service: env
                            .get(OTEL_AWS_SIGV4_SERVICE)
                            .unwrap_or(vars.service)
                            .to_string(),
                        region: region.to_string(),
                    },
                    source: Source::Env(OTEL_AWS_SIGV4),
                }
            }
            Some(_) => Sourced {
                value: SigV4Setting::Off,
                source: Source::Env(OTEL_AWS_SIGV4),
            },
        };

        // gzip by default for the AWS OTLP endpoints: smaller bodies, and
        // SigV4's payload hash then covers far fewer bytes.
        let aws_endpoint = crate::export::detect_aws_endpoint(&endpoint.value).is_some();
        Ok(OtlpSettings {
            endpoint,
            headers,
            timeout: pick(
                env,
                &[vars.timeout, OTEL_EXPORTER_OTLP_TIMEOUT],
                parse::millis,
                || Duration::from_secs(10),
            )?,
            gzip: pick(
                env,
                &[vars.compression, OTEL_EXPORTER_OTLP_COMPRESSION],
                parse::gzip,
                || aws_endpoint,
            )?,
            gzip_level: pick(
                env,
                &[OTEL_AWS_EXPORTER_OTLP_COMPRESSION_LEVEL],
                parse::gzip_level,
                crate::export::GzipLevel::default,
            )?,
            json: pick(
                env,
                &[vars.protocol, OTEL_EXPORTER_OTLP_PROTOCOL],
                parse::http_json,
                || false,
            )?,
            sigv4,
        })
    }

    fn batch_from_env(env: &Env) -> Result<BatchSettings, ConfigError> {
        let max_queue_size = pick(env, &[OTEL_BSP_MAX_QUEUE_SIZE], parse::positive_u32, || {
            2048
        })?;
        let max_export_batch_size = pick(
            env,
            &[OTEL_BSP_MAX_EXPORT_BATCH_SIZE],
            parse::positive_u32,
            || 512,
        )?;
        if max_export_batch_size.value > max_queue_size.value {
            return Err(ConfigError::Conflict(format!(
                "{OTEL_BSP_MAX_EXPORT_BATCH_SIZE} ({}) must not exceed {OTEL_BSP_MAX_QUEUE_SIZE} ({})",
                max_export_batch_size.value, max_queue_size.value
            )));
        }
        Ok(BatchSettings {
            schedule_delay: pick(env, &[OTEL_BSP_SCHEDULE_DELAY], parse::millis, || {
                Duration::from_millis(5000)
            })?,
            export_timeout: pick(env, &[OTEL_BSP_EXPORT_TIMEOUT], parse::millis, || {
                Duration::from_millis(30000)
            })?,
            max_queue_size,
            max_export_batch_size,
        })
    }

    fn limits_from_env(env: &Env) -> Result<LimitSettings, ConfigError> {
        let generic = pick(
            env,
            &[OTEL_ATTRIBUTE_COUNT_LIMIT],
            parse::positive_u32,
            || 128,
        )?;
        let attrs = |var: &'static str| -> Result<Sourced<u32>, ConfigError> {
            match env.get(var) {
                Some(v) => Ok(Sourced {
                    value: parse::positive_u32(var, v)?,
                    source: Source::Env(var),
                }),
                None => Ok(generic.clone()),
            }
        };
        Ok(LimitSettings {
            attributes_per_span: attrs(OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT)?,
            events_per_span: pick(
                env,
                &[OTEL_SPAN_EVENT_COUNT_LIMIT],
                parse::positive_u32,
                || 128,
            )?,
            links_per_span: pick(
                env,
                &[OTEL_SPAN_LINK_COUNT_LIMIT],
                parse::positive_u32,
                || 128,
            )?,
            attributes_per_event: attrs(OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT)?,
            attributes_per_link: attrs(OTEL_LINK_ATTRIBUTE_COUNT_LIMIT)?,
        })
    }
}

fn source_of(env: &Env, var: &'static str) -> Source {
    if env.get(var).is_some() {
        Source::Env(var)
    } else {
        Source::Default
    }
}

#[cfg(test)]
mod tests;
