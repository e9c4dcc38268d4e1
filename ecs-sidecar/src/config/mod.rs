//! The sidecar's configuration: the OpenTelemetry Collector's YAML dialect
//! (`receivers`, `processors`, `exporters`, `extensions`,
//! `service.pipelines.traces`, `.metrics`, `.logs`), with `${env:VAR}` / `${VAR}` substitution.
//!
//! [`Config::parse`] does everything `--validate` checks: YAML, substitution,
//! component types, every field (unknown fields are refused), values
//! (endpoints, durations, enums) and references (pipelines, authenticators).

pub mod awsemf;
pub mod components;
mod duplicates;
mod error;
mod subst;
mod validate;
pub mod values;

use std::collections::BTreeMap;

use otel_aws_distro::Env;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

pub use self::awsemf::{AwsEmfExporter, OutputDestination};
pub use self::components::*;
pub use self::error::ConfigError;
pub use self::subst::{expand, substitute};
pub use self::values::{
    CompressionSetting, Detector, Encoding, GoDuration, GzipLevelSetting, HttpUrl, ListenAddr,
    LogLevel, ProxyListen, Transport, Verbosity, parse_duration, parse_listen,
};

/// Default config file (the image carries it).
pub const DEFAULT_CONFIG_PATH: &str = "/etc/otel-aws/config.yaml";
/// Inline YAML that replaces the config file when set (ADOT's `AOT_CONFIG_CONTENT`).
pub const OTEL_AWS_CONFIG_CONTENT: &str = "OTEL_AWS_CONFIG_CONTENT";

/// Top-level sections.
pub const SECTIONS: [&str; 5] = [
    "receivers",
    "processors",
    "exporters",
    "extensions",
    "service",
];
/// Receiver types this build supports.
pub const RECEIVER_TYPES: [&str; 3] = ["otlp", "awsxray", "awsecscontainermetrics"];
/// Processor types this build supports.
pub const PROCESSOR_TYPES: [&str; 4] = [
    "batch",
    "memory_limiter",
    "resourcedetection",
    "awsapplicationsignals",
];
/// Exporter types this build supports.
pub const EXPORTER_TYPES: [&str; 5] = ["otlphttp", "awsxray", "awsemf", "debug", "file"];
/// Extension types this build supports.
pub const EXTENSION_TYPES: [&str; 2] = ["health_check", "sigv4auth"];

/// One receiver's settings.
#[derive(Clone, Debug, PartialEq)]
pub enum Receiver {
    /// `otlp`.
    Otlp(OtlpReceiver),
    /// `awsxray`.
    AwsXray(AwsXrayReceiver),
    /// `awsecscontainermetrics`.
    AwsEcsContainerMetrics(AwsEcsContainerMetricsReceiver),
}

/// One processor's settings.
#[derive(Clone, Debug, PartialEq)]
pub enum Processor {
    /// `batch`.
    Batch(BatchProcessor),
    /// `memory_limiter`.
    MemoryLimiter(MemoryLimiterProcessor),
    /// `resourcedetection`.
    ResourceDetection(ResourceDetectionProcessor),
    /// `awsapplicationsignals`.
    AwsApplicationSignals(AwsApplicationSignalsProcessor),
}

/// One exporter's settings.
#[derive(Clone, Debug, PartialEq)]
pub enum Exporter {
    /// `otlphttp`.
    OtlpHttp(OtlpHttpExporter),
    /// `awsxray`.
    AwsXray(AwsXrayExporter),
    /// `awsemf`: metrics as CloudWatch Embedded Metric Format.
    AwsEmf(AwsEmfExporter),
    /// `debug`.
    Debug(DebugExporter),
    /// `file`.
    File(FileExporter),
}

/// One extension's settings.
#[derive(Clone, Debug, PartialEq)]
pub enum Extension {
    /// `health_check`.
    HealthCheck(HealthCheckExtension),
    /// `sigv4auth`.
    SigV4Auth(SigV4AuthExtension),
}

/// A checked configuration. Keys are component ids (`otlphttp/xray`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Config {
    /// `receivers`.
    pub receivers: BTreeMap<String, Receiver>,
    /// `processors`.
    pub processors: BTreeMap<String, Processor>,
    /// `exporters`.
    pub exporters: BTreeMap<String, Exporter>,
    /// `extensions`.
    pub extensions: BTreeMap<String, Extension>,
    /// `service`.
    pub service: ServiceSection,
}

/// The signal of a pipeline id: `traces`, `metrics/app` → metrics; `None`
/// for anything else (refused when the config is checked).
pub fn pipeline_signal(id: &str) -> Option<otel_aws_distro::receiver::Signal> {
    use otel_aws_distro::receiver::Signal;
    let (ty, name) = id.split_once('/').unwrap_or((id, "x"));
    if name.is_empty() {
        return None;
    }
    Signal::ALL.into_iter().find(|s| s.as_str() == ty)
}

/// The type part of a component id: `otlphttp/xray` → `otlphttp`.
pub fn component_type(id: &str) -> &str {
    id.split_once('/').map_or(id, |(t, _)| t)
}

impl Config {
    /// Parses and checks YAML text. `origin` names the source in errors.
    pub fn parse(text: &str, origin: &str, env: &Env) -> Result<Config, ConfigError> {
        if let Some(message) = duplicates::find(text) {
            return Err(ConfigError::Yaml {
                origin: origin.to_owned(),
                message,
            });
        }
        let mut root: Value = serde_norway::from_str(text).map_err(|e| ConfigError::Yaml {
            origin: origin.to_owned(),
            message: e.to_string(),
        })?;
        if root.is_null() {
            root = Value::Object(Map::new());
        }
        let Value::Object(mut root) = root else {
            return Err(ConfigError::Yaml {
                origin: origin.to_owned(),
                message: "the top level must be a mapping of sections (receivers, processors, exporters, extensions, service)".into(),
            });
        };
        for key in root.keys() {
            if !SECTIONS.contains(&key.as_str()) {
                return Err(ConfigError::Unknown {
                    path: key.clone(),
                    what: "section",
                    name: key.clone(),
                    accepted: error::list(SECTIONS),
                });
            }
        }
        for (key, value) in root.iter_mut() {
            substitute(value, env, key)?;
        }
        let mut cfg = Config {
            receivers: section(
                &mut root,
                "receivers",
                "receiver",
                &RECEIVER_TYPES,
                |t, v, p| {
                    Ok(match t {
                        "otlp" => Receiver::Otlp(typed(v, p)?),
                        "awsecscontainermetrics" => Receiver::AwsEcsContainerMetrics(typed(v, p)?),
                        _ => Receiver::AwsXray(typed(v, p)?),
                    })
                },
            )?,
            processors: section(
                &mut root,
                "processors",
                "processor",
                &PROCESSOR_TYPES,
                |t, v, p| {
                    Ok(match t {
                        "batch" => Processor::Batch(typed(v, p)?),
                        "memory_limiter" => Processor::MemoryLimiter(typed(v, p)?),
                        "awsapplicationsignals" => Processor::AwsApplicationSignals(typed(v, p)?),
                        _ => Processor::ResourceDetection(typed(v, p)?),
                    })
                },
            )?,
            exporters: section(
                &mut root,
                "exporters",
                "exporter",
                &EXPORTER_TYPES,
                |t, v, p| {
                    Ok(match t {
                        "otlphttp" => Exporter::OtlpHttp(typed(v, p)?),
                        "awsxray" => Exporter::AwsXray(typed(v, p)?),
                        "awsemf" => Exporter::AwsEmf(typed(v, p)?),
                        "debug" => Exporter::Debug(typed(v, p)?),
                        _ => Exporter::File(typed(v, p)?),
                    })
                },
            )?,
            extensions: section(
                &mut root,
                "extensions",
                "extension",
                &EXTENSION_TYPES,
                |t, v, p| {
                    Ok(match t {
                        "health_check" => Extension::HealthCheck(typed(v, p)?),
                        _ => Extension::SigV4Auth(typed(v, p)?),
                    })
                },
            )?,
            service: ServiceSection::default(),
        };
        if let Some(service) = root.remove("service") {
            cfg.service = typed(service, "service")?;
        }
        validate::check(&cfg)?;
        Ok(cfg)
    }

    /// Reads the configuration: `OTEL_AWS_CONFIG_CONTENT` when set (it wins,
    /// as `AOT_CONFIG_CONTENT` does in ADOT), else `file`.
    pub fn load(file: &str, env: &Env) -> Result<(Config, String), ConfigError> {
        if let Some(content) = env.get(OTEL_AWS_CONFIG_CONTENT) {
            let origin = OTEL_AWS_CONFIG_CONTENT.to_owned();
            return Ok((Config::parse(content, &origin, env)?, origin));
        }
        let text = std::fs::read_to_string(file).map_err(|source| ConfigError::Read {
            file: file.to_owned(),
            source,
        })?;
        Ok((Config::parse(&text, file, env)?, file.to_owned()))
    }

    /// Pipelines in id order: (`<signal>` or `<signal>/<name>`, its section).
    pub fn pipelines(&self) -> impl Iterator<Item = (&String, &PipelineSection)> {
        self.service.pipelines.iter()
    }
}

type Build<T> = fn(&str, Value, &str) -> Result<T, ConfigError>;

fn section<T>(
    root: &mut Map<String, Value>,
    name: &'static str,
    what: &'static str,
    types: &[&str],
    build: Build<T>,
) -> Result<BTreeMap<String, T>, ConfigError> {
    let mut out = BTreeMap::new();
    let Some(value) = root.remove(name) else {
        return Ok(out);
    };
    let map = match value {
        Value::Null => return Ok(out),
        Value::Object(map) => map,
        other => {
            return Err(ConfigError::field(
                name,
                format!(
                    "expected a mapping of component ids, found {}",
                    kind(&other)
                ),
            ));
        }
    };
    for (id, body) in map {
        let path = format!("{name}.{id}");
        let ty = component_type(&id);
        let suffix_ok = id.split_once('/').is_none_or(|(_, n)| !n.is_empty());
        if !types.contains(&ty) || !suffix_ok {
            return Err(ConfigError::Unknown {
                path,
                what,
                name: id.clone(),
                accepted: format!(
                    "{} (optionally with a /name suffix, e.g. {}/xray)",
                    error::list(types),
                    types[0]
                ),
            });
        }
        let body = if body.is_null() {
            Value::Object(Map::new())
        } else {
            body
        };
        let built = build(ty, body, &path)?;
        out.insert(id, built);
    }
    Ok(out)
}

/// Deserializes `value` into `T`, naming the failing field's full path.
fn typed<T: DeserializeOwned>(value: Value, path: &str) -> Result<T, ConfigError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let inner = e.path().to_string();
        let full = if inner == "." || inner.is_empty() {
            path.to_owned()
        } else {
            format!("{path}.{inner}")
        };
        ConfigError::field(full, without_value(&e.into_inner().to_string()))
    })
}

/// serde's "invalid type" and "invalid value" messages quote the value
/// (`invalid type: string "Bearer …", expected a map`); a value in the
/// wrong place can be a secret, and the path already says where. Kept: the
/// kind of value found and what was expected.
fn without_value(message: &str) -> String {
    for prefix in ["invalid type: ", "invalid value: "] {
        let Some(rest) = message.strip_prefix(prefix) else {
            continue;
        };
        let Some(at) = rest.rfind(", expected ") else {
            continue;
        };
        let (found, expected) = rest.split_at(at);
        let kind = found
            .split(['"', '`'])
            .next()
            .unwrap_or_default()
            .trim_end();
        return format!("{prefix}{kind}{expected}");
    }
    message.to_owned()
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

#[cfg(test)]
mod tests;
