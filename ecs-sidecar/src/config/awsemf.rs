//! `exporters.awsemf`: the collector's `awsemf` exporter settings, field for
//! field as `exporter/awsemfexporter` (config.go) names them. The EMF
//! settings become the distro's [`EmfConfig`] here, once; nothing downstream
//! reads the YAML strings again.
//!
//! Collector fields this build does not implement are still known by name:
//! at their collector default (what configs copied from ADOT carry) they are
//! accepted, otherwise the config is refused naming the field and why
//! (see [`UNSUPPORTED`]). Deliberate differences: docs/ecs.md, "awsemf".

use otel_aws_distro::emf::{
    CLOUDWATCH_UNITS, DimensionRollup, EmfConfig, LabelMatcher, MetricDeclaration, MetricDescriptor,
};
use serde::Deserialize;
use serde::de::{self, Deserializer};
use serde_json::Value;

use super::components::SendingQueue;
use super::error::ConfigError;
use super::values::{HttpUrl, non_empty};

/// `exporters.awsemf`.
// No `deny_unknown_fields`: every other key lands in `unsupported` and
// `check` refuses it (serde cannot deny unknown fields beside `flatten`).
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct AwsEmfExporter {
    /// CloudWatch namespace (default: from the resource's `service.namespace`
    /// / `service.name`, else `default`).
    #[serde(default, deserialize_with = "non_empty")]
    pub namespace: Option<String>,
    /// Log group, with `{TaskId}`-style placeholders (default `/metrics/<namespace>`).
    #[serde(default, deserialize_with = "non_empty")]
    pub log_group_name: Option<String>,
    /// Log stream, with the same placeholders (default [`DEFAULT_LOG_STREAM`]).
    #[serde(default, deserialize_with = "non_empty")]
    pub log_stream_name: Option<String>,
    /// Region of CloudWatch Logs (default `AWS_REGION`).
    #[serde(default, deserialize_with = "non_empty")]
    pub region: Option<String>,
    /// CloudWatch Logs endpoint (`https://` assumed without a scheme, as the
    /// collector's AWS session does; default `AWS_ENDPOINT_URL_CLOUDWATCH_LOGS`,
    /// `AWS_ENDPOINT_URL_LOGS`, `AWS_ENDPOINT_URL`, else the regional endpoint).
    #[serde(default, deserialize_with = "aws_endpoint")]
    pub endpoint: Option<HttpUrl>,
    /// Per-attempt timeout in seconds (collector default 30).
    pub request_timeout_seconds: Option<u64>,
    /// Retries of a failed PutLogEvents call (collector default 2).
    pub max_retries: Option<u32>,
    /// `NoDimensionRollup`, `SingleDimensionRollupOnly`,
    /// `ZeroAndSingleDimensionRollup` (default).
    #[serde(default, deserialize_with = "rollup")]
    pub dimension_rollup_option: DimensionRollup,
    /// Which metrics are extracted, with which dimension sets.
    #[serde(default)]
    pub metric_declarations: Vec<MetricDeclarationSetting>,
    /// Unit overrides.
    #[serde(default)]
    pub metric_descriptors: Vec<MetricDescriptorSetting>,
    /// `enabled: true` copies every resource attribute onto the points as labels.
    #[serde(default)]
    pub resource_to_telemetry_conversion: ResourceToTelemetry,
    /// The first point of a cumulative sum is sent as is instead of being the baseline.
    #[serde(default)]
    pub retain_initial_value_of_delta_metric: bool,
    /// `cloudwatch` (default) or `stdout`.
    #[serde(default)]
    pub output_destination: OutputDestination,
    /// Queue in front of the exporter.
    pub sending_queue: Option<SendingQueue>,
    /// Collector fields this build does not implement (see [`UNSUPPORTED`]).
    #[serde(flatten)]
    pub unsupported: std::collections::BTreeMap<String, Value>,
}

/// Stream for documents whose `log_stream_name` is not set: the collector's
/// default stream name.
pub const DEFAULT_LOG_STREAM: &str = "otel-stream";
/// Collector default of `request_timeout_seconds`.
pub const DEFAULT_REQUEST_TIMEOUT_SECONDS: u64 = 30;
/// Collector default of `max_retries`.
pub const DEFAULT_MAX_RETRIES: u32 = 2;

/// Whether a value of an unsupported field is its harmless collector default.
pub type Harmless = fn(&Value) -> bool;

/// Collector `awsemf` (and AWS session) fields not implemented here: the
/// name, whether a value is the harmless default, and what to do instead.
pub const UNSUPPORTED: &[(&str, Harmless, &str)] = &[
    (
        "log_retention",
        is_zero,
        "retention is not set by this exporter: set it on the log group (CDK, CloudFormation or PutRetentionPolicy); accepted: 0",
    ),
    (
        "tags",
        is_empty,
        "log group tags are not set by this exporter: tag the group where it is created; accepted: none",
    ),
    (
        "role_arn",
        is_empty,
        "assuming a role is not supported: give the task role the logs permissions; accepted: \"\"",
    ),
    (
        "proxy_address",
        is_empty,
        "no HTTP proxy for CloudWatch Logs; accepted: \"\"",
    ),
    (
        "no_verify_ssl",
        is_false,
        "TLS certificates are always verified; accepted: false",
    ),
    (
        "local_mode",
        is_false,
        "local mode (no instance metadata) is not needed: the region comes from region or AWS_REGION; accepted: false",
    ),
    ("resource_arn", is_empty, "accepted: \"\""),
    (
        "certificate_file_path",
        is_empty,
        "custom CA files are not supported; accepted: \"\"",
    ),
    ("sts_region", is_empty, "accepted: \"\""),
    ("imds_retries", is_zero, "accepted: 0"),
    (
        "profile",
        is_empty,
        "credentials come from the environment or the task role; accepted: \"\"",
    ),
    (
        "shared_credentials_file",
        is_empty,
        "credentials come from the environment or the task role; accepted: []",
    ),
    (
        "detailed_metrics",
        is_false,
        "summaries are sent as statistic sets; accepted: false",
    ),
    ("disable_metric_extraction", is_false, "accepted: false"),
    ("parse_json_encoded_attr_values", is_empty, "accepted: []"),
    (
        "eks_fargate_container_insights_enabled",
        is_false,
        "accepted: false",
    ),
    (
        "version",
        is_version_1,
        "only EMF with the _aws metadata (version \"1\") is written; accepted: \"1\"",
    ),
    ("middleware", is_empty, "accepted: none"),
    ("num_workers", is_any, ""),
];

fn is_zero(v: &Value) -> bool {
    v.is_null() || v.as_f64() == Some(0.0)
}
fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}
fn is_false(v: &Value) -> bool {
    v.is_null() || v.as_bool() == Some(false)
}
fn is_version_1(v: &Value) -> bool {
    v.is_null() || v.as_str() == Some("1") || v.as_u64() == Some(1)
}
fn is_any(_: &Value) -> bool {
    true
}

/// `resource_to_telemetry_conversion`.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ResourceToTelemetry {
    /// Copy resource attributes onto points (default false).
    #[serde(default)]
    pub enabled: bool,
}

/// `output_destination` (case-insensitive, as the collector compares it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OutputDestination {
    /// PutLogEvents (the default).
    #[default]
    CloudWatch,
    /// One document per line on stdout.
    Stdout,
}

impl<'de> Deserialize<'de> for OutputDestination {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        match s.to_ascii_lowercase().as_str() {
            "" | "cloudwatch" => Ok(Self::CloudWatch),
            "stdout" => Ok(Self::Stdout),
            _ => Err(de::Error::unknown_variant(&s, &["cloudwatch", "stdout"])),
        }
    }
}

/// One `metric_declarations` entry.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct MetricDeclarationSetting {
    /// Dimension sets (each a list of label names).
    #[serde(default)]
    pub dimensions: Vec<Vec<String>>,
    /// Regular expressions selecting metric names (at least one).
    #[serde(default)]
    pub metric_name_selectors: Vec<String>,
    /// Label filters.
    #[serde(default)]
    pub label_matchers: Vec<LabelMatcherSetting>,
}

/// One `metric_declarations[*].label_matchers` entry.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct LabelMatcherSetting {
    /// Labels whose values are joined.
    #[serde(default)]
    pub label_names: Vec<String>,
    /// Separator (default `;`).
    pub separator: Option<String>,
    /// Regular expression the joined values must match.
    #[serde(default)]
    pub regex: String,
}

/// One `metric_descriptors` entry.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct MetricDescriptorSetting {
    /// Metric name.
    #[serde(default)]
    pub metric_name: String,
    /// A CloudWatch unit (`Count`, `Bytes`, `Milliseconds`, ...).
    #[serde(default)]
    pub unit: String,
    /// Replace the metric's own unit too.
    #[serde(default)]
    pub overwrite: bool,
}

fn rollup<'de, D: Deserializer<'de>>(d: D) -> Result<DimensionRollup, D::Error> {
    let s = String::deserialize(d)?;
    if s.trim().is_empty() {
        return Ok(DimensionRollup::default());
    }
    s.parse().map_err(|_| {
        de::Error::custom(format!(
            "{s:?} is not a rollup option; accepted: {}",
            DimensionRollup::ACCEPTED
        ))
    })
}

/// An endpoint where `""` is "not set" and a bare host gets `https://`.
fn aws_endpoint<'de, D: Deserializer<'de>>(d: D) -> Result<Option<HttpUrl>, D::Error> {
    match Option::<String>::deserialize(d)? {
        None => Ok(None),
        Some(s) if s.trim().is_empty() => Ok(None),
        Some(s) if s.contains("://") => HttpUrl::parse(&s).map(Some).map_err(de::Error::custom),
        Some(s) => HttpUrl::parse(&format!("https://{s}"))
            .map(Some)
            .map_err(de::Error::custom),
    }
}

impl AwsEmfExporter {
    /// Checks what the types cannot (`path`: `exporters.<id>`): the
    /// unsupported collector fields, declarations, descriptor units, timeouts.
    pub fn check(&self, path: &str) -> Result<(), ConfigError> {
        for (name, value) in &self.unsupported {
            let Some((_, harmless, hint)) = UNSUPPORTED.iter().find(|(n, _, _)| n == name) else {
                let mut accepted: Vec<&str> = FIELDS.to_vec();
                accepted.sort_unstable();
                return Err(ConfigError::field(
                    format!("{path}.{name}"),
                    format!("unknown field `{name}`; accepted: {}", accepted.join(", ")),
                ));
            };
            if !harmless(value) {
                return Err(ConfigError::Unsupported {
                    path: format!("{path}.{name}"),
                    message: format!("not supported by the otel-aws sidecar's awsemf: {hint}"),
                });
            }
        }
        if self.request_timeout_seconds == Some(0) {
            return Err(ConfigError::field(
                format!("{path}.request_timeout_seconds"),
                "must be at least 1 (seconds)",
            ));
        }
        for (i, d) in self.metric_descriptors.iter().enumerate() {
            if d.metric_name.trim().is_empty() {
                return Err(ConfigError::field(
                    format!("{path}.metric_descriptors[{i}].metric_name"),
                    "required: the metric's name",
                ));
            }
            if !CLOUDWATCH_UNITS.contains(&d.unit.as_str()) {
                return Err(ConfigError::field(
                    format!("{path}.metric_descriptors[{i}].unit"),
                    format!(
                        "{:?} is not a CloudWatch unit; accepted: {}",
                        d.unit,
                        CLOUDWATCH_UNITS.join(", ")
                    ),
                ));
            }
        }
        // The encoder compiles the declarations: its errors, with our path.
        otel_aws_distro::emf::EmfEncoder::new(self.emf_config()).map_err(|e| {
            let (sub, message) = declaration_error(&e);
            ConfigError::field(format!("{path}.metric_declarations{sub}"), message)
        })?;
        Ok(())
    }

    /// The encoder's settings.
    pub fn emf_config(&self) -> EmfConfig {
        EmfConfig {
            namespace: self.namespace.clone(),
            dimension_rollup: self.dimension_rollup_option,
            metric_declarations: self
                .metric_declarations
                .iter()
                .map(|d| MetricDeclaration {
                    dimensions: d.dimensions.clone(),
                    metric_name_selectors: d.metric_name_selectors.clone(),
                    label_matchers: d
                        .label_matchers
                        .iter()
                        .map(|m| LabelMatcher {
                            label_names: m.label_names.clone(),
                            separator: m.separator.clone(),
                            regex: m.regex.clone(),
                        })
                        .collect(),
                })
                .collect(),
            metric_descriptors: self
                .metric_descriptors
                .iter()
                .map(|d| MetricDescriptor {
                    metric_name: d.metric_name.clone(),
                    unit: d.unit.clone(),
                    overwrite: d.overwrite,
                })
                .collect(),
            resource_to_telemetry_conversion: self.resource_to_telemetry_conversion.enabled,
            retain_initial_value_of_delta_metric: self.retain_initial_value_of_delta_metric,
            log_group_name: self.log_group_name.clone(),
            log_stream_name: self.log_stream_name.clone(),
        }
    }

    /// Fields accepted whatever their value but not acted on (`num_workers`):
    /// logged as ignored at start.
    pub fn ignored(&self) -> Vec<&str> {
        self.unsupported
            .iter()
            .filter(|(k, v)| {
                !v.is_null()
                    && UNSUPPORTED
                        .iter()
                        .any(|(n, _, hint)| *n == k.as_str() && hint.is_empty())
            })
            .map(|(k, _)| k.as_str())
            .collect()
    }
}

/// Implemented fields (for the unknown-field message).
const FIELDS: &[&str] = &[
    "namespace",
    "log_group_name",
    "log_stream_name",
    "region",
    "endpoint",
    "request_timeout_seconds",
    "max_retries",
    "dimension_rollup_option",
    "metric_declarations",
    "metric_descriptors",
    "resource_to_telemetry_conversion",
    "retain_initial_value_of_delta_metric",
    "output_destination",
    "sending_queue",
];

/// The sub-path (`[0].label_matchers[1]`) and message of an encoder error.
fn declaration_error(e: &otel_aws_distro::emf::EmfConfigError) -> (String, String) {
    use otel_aws_distro::emf::EmfConfigError as E;
    match e {
        E::NoSelectors { index } => (
            format!("[{index}].metric_name_selectors"),
            "required: at least one regular expression selecting metric names".into(),
        ),
        E::BadLabelMatcher { index, matcher } => (
            format!("[{index}].label_matchers[{matcher}]"),
            "needs label_names and a regex".into(),
        ),
        E::Regex {
            index,
            regex,
            reason,
        } => (
            format!("[{index}]"),
            format!("invalid regular expression {regex:?}: {reason}"),
        ),
        other => (String::new(), other.to_string()),
    }
}
