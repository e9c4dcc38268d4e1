//! X-Ray adaptive sampling, SDK side: what counts as an anomaly
//! (`AWS_XRAY_ADAPTIVE_SAMPLING_CONFIG`), and the per-trace bookkeeping that
//! counts each trace once for the boost statistics and captures anomalous
//! unsampled traces within `anomalyCaptureLimit` (`spec/xray.md`, Remote
//! sampling; rules as ADOT Python's `_rule_cache.adapt_sampling`).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use opentelemetry::trace::Status;
use opentelemetry::{KeyValue, Value};
use serde::Deserialize;

/// `AWS_XRAY_ADAPTIVE_SAMPLING_CONFIG`: the adaptive sampling configuration,
/// YAML text or the path of a YAML file (ADOT's variable and format).
pub const AWS_XRAY_ADAPTIVE_SAMPLING_CONFIG: &str = "AWS_XRAY_ADAPTIVE_SAMPLING_CONFIG";
/// Span attribute marking a captured span of an unsampled trace (`false`;
/// a boolean, as ADOT Java and Python set it).
pub const TRACE_FLAG_SAMPLED_ATTRIBUTE: &str = "aws.trace.flag.sampled";
/// Captured anomalous traces per second when the config names no
/// `anomalyCaptureLimit`.
pub const DEFAULT_ANOMALY_TRACES_PER_SECOND: u32 = 1;
/// How long a trace's adaptive-sampling bookkeeping is kept (ADOT: 10 min).
pub const TRACE_USAGE_TTL: Duration = Duration::from_secs(600);
/// Most traces whose bookkeeping is kept at once (ADOT: 100 000).
pub const TRACE_USAGE_MAX: usize = 100_000;

const ACCEPTS: &str = "YAML text or the path of a .yaml/.yml file: `version: 1.0` (1.x), optional `anomalyConditions: [{errorCodeRegex: \"^5\\\\d\\\\d$\", operations: [\"GET /orders\"], highLatencyMs: 2000, usage: both | sampling-boost | anomaly-trace-capture}]`, optional `anomalyCaptureLimit: {anomalyTracesPerSecond: 1}`";

/// A rejected `AWS_XRAY_ADAPTIVE_SAMPLING_CONFIG`; the sampler then runs
/// without adaptive sampling (no boosts, no boost statistics, no capture).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error(
    "{AWS_XRAY_ADAPTIVE_SAMPLING_CONFIG}: {problem}; it accepts {ACCEPTS}; adaptive sampling is off"
)]
pub struct AdaptiveConfigError {
    /// What is wrong.
    pub problem: String,
}

fn bad(problem: impl Into<String>) -> AdaptiveConfigError {
    AdaptiveConfigError {
        problem: problem.into(),
    }
}

/// What an anomaly condition is used for (`usage`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AnomalyUsage {
    /// Counted for boosts and captured (the default).
    #[default]
    Both,
    /// Counted for boosts only.
    SamplingBoost,
    /// Captured only.
    AnomalyTraceCapture,
}

impl AnomalyUsage {
    fn boost(self) -> bool {
        matches!(self, Self::Both | Self::SamplingBoost)
    }
    fn capture(self) -> bool {
        matches!(self, Self::Both | Self::AnomalyTraceCapture)
    }
}

/// `errorCodeRegex`, compiled once (matched at the start of the status code,
/// as ADOT Python's `re.match`).
#[derive(Clone, Debug)]
pub struct ErrorCodeRegex {
    pattern: String,
    regex: regex_lite::Regex,
}

impl ErrorCodeRegex {
    /// Compiles `pattern`.
    pub fn new(pattern: &str) -> Result<Self, AdaptiveConfigError> {
        let regex = regex_lite::Regex::new(&format!("^(?:{pattern})")).map_err(|e| {
            bad(format!(
                "errorCodeRegex {pattern:?} is not a regular expression: {e}"
            ))
        })?;
        Ok(Self {
            pattern: pattern.to_string(),
            regex,
        })
    }

    /// The pattern as configured.
    pub fn as_str(&self) -> &str {
        &self.pattern
    }

    fn matches(&self, code: &str) -> bool {
        self.regex.is_match(code)
    }
}

impl PartialEq for ErrorCodeRegex {
    fn eq(&self, other: &Self) -> bool {
        self.pattern == other.pattern
    }
}

/// One `anomalyConditions` entry: its fields are AND'd, entries OR'd.
#[derive(Clone, Debug, PartialEq)]
pub struct AnomalyCondition {
    /// `errorCodeRegex` on the HTTP status code.
    pub error_code_regex: Option<ErrorCodeRegex>,
    /// `operations`: the span's operation must be one of these (absent: any).
    pub operations: Option<Vec<String>>,
    /// `highLatencyMs`: the span lasted at least this long.
    pub high_latency: Option<Duration>,
    /// `usage` (default both).
    pub usage: AnomalyUsage,
}

/// A parsed `AWS_XRAY_ADAPTIVE_SAMPLING_CONFIG`.
#[derive(Clone, Debug, PartialEq)]
pub struct AdaptiveSamplingConfig {
    /// `version` (1.x).
    pub version: f64,
    /// `anomalyConditions`; empty: the default anomaly (HTTP 5xx, or an
    /// error status without a status code).
    pub anomaly_conditions: Vec<AnomalyCondition>,
    /// `anomalyCaptureLimit.anomalyTracesPerSecond` (default 1).
    pub anomaly_traces_per_second: u32,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawVersion {
    Number(f64),
    Text(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawConfig {
    version: Option<RawVersion>,
    anomaly_conditions: Option<Vec<RawCondition>>,
    anomaly_capture_limit: Option<RawLimit>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawCondition {
    error_code_regex: Option<String>,
    operations: Option<Vec<String>>,
    high_latency_ms: Option<u64>,
    usage: Option<AnomalyUsage>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawLimit {
    anomaly_traces_per_second: u32,
}

#[cfg(feature = "adaptive-sampling-yaml")]
fn deserialize(text: &str) -> Result<RawConfig, AdaptiveConfigError> {
    serde_norway::from_str(text).map_err(|e| bad(format!("not a valid configuration: {e}")))
}

/// Without the `adaptive-sampling-yaml` feature only YAML's JSON form is read
/// (JSON is YAML): a YAML parser would grow the Lambda extension's
/// dependency set, and the extension never reads this variable.
#[cfg(not(feature = "adaptive-sampling-yaml"))]
fn deserialize(text: &str) -> Result<RawConfig, AdaptiveConfigError> {
    serde_json::from_str(text).map_err(|e| {
        bad(format!(
            "not a valid configuration ({e}); this build reads its JSON form only, enable otel-aws-distro's `adaptive-sampling-yaml` feature for YAML"
        ))
    })
}

impl AdaptiveSamplingConfig {
    /// Parses the variable's value: an existing file's path (read), else
    /// YAML text. A `.yaml`/`.yml` value naming no file is an error.
    pub fn parse(value: &str) -> Result<Self, AdaptiveConfigError> {
        let value = value.trim();
        let path = Path::new(value);
        let text = if path.is_file() {
            std::fs::read_to_string(path)
                .map_err(|e| bad(format!("cannot read {}: {e}", path.display())))?
        } else if value.ends_with(".yaml") || value.ends_with(".yml") {
            return Err(bad(format!("file {value:?} does not exist")));
        } else {
            value.to_string()
        };
        Self::from_text(&text)
    }

    /// Parses YAML (or JSON) text.
    pub fn from_text(text: &str) -> Result<Self, AdaptiveConfigError> {
        let raw = deserialize(text)?;
        let version = match raw.version {
            None => return Err(bad("`version` is missing")),
            Some(RawVersion::Number(v)) => v,
            Some(RawVersion::Text(t)) => t
                .trim()
                .parse::<f64>()
                .map_err(|_| bad(format!("`version: {t}` is not a number")))?,
        };
        if !(1.0..2.0).contains(&version) {
            return Err(bad(format!(
                "version {version} is not supported (only 1.x)"
            )));
        }
        let anomaly_conditions = raw
            .anomaly_conditions
            .unwrap_or_default()
            .into_iter()
            .map(|c| {
                Ok(AnomalyCondition {
                    error_code_regex: c
                        .error_code_regex
                        .as_deref()
                        .map(ErrorCodeRegex::new)
                        .transpose()?,
                    operations: c.operations,
                    high_latency: c.high_latency_ms.map(Duration::from_millis),
                    usage: c.usage.unwrap_or_default(),
                })
            })
            .collect::<Result<Vec<_>, AdaptiveConfigError>>()?;
        Ok(Self {
            version,
            anomaly_conditions,
            anomaly_traces_per_second: raw
                .anomaly_capture_limit
                .map_or(DEFAULT_ANOMALY_TRACES_PER_SECOND, |l| {
                    l.anomaly_traces_per_second
                }),
        })
    }
}

/// How the sampler does adaptive sampling.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum AdaptiveSampling {
    /// No configuration (ADOT's default): rules with `SamplingRateBoost`
    /// are boosted and report boost statistics, the anomaly is the default
    /// one (HTTP 5xx, or an error status without a status code); no capture.
    #[default]
    Default,
    /// `AWS_XRAY_ADAPTIVE_SAMPLING_CONFIG`: its conditions, and anomaly
    /// trace capture within its limit.
    Config(AdaptiveSamplingConfig),
    /// A rejected configuration, and why: no boosts, no boost statistics,
    /// no capture.
    Rejected(AdaptiveConfigError),
}

impl AdaptiveSampling {
    /// From the variable's value (unset: [`AdaptiveSampling::Default`]); a
    /// bad value turns adaptive sampling off and is kept, to be logged as an
    /// error naming the variable once logging is set up (`init()` does it
    /// after installing its subscriber; configuration is read before).
    pub fn from_value(value: Option<&str>) -> Self {
        match value.map(str::trim).filter(|v| !v.is_empty()) {
            None => Self::Default,
            Some(v) => match AdaptiveSamplingConfig::parse(v) {
                Ok(c) => Self::Config(c),
                Err(err) => Self::Rejected(err),
            },
        }
    }

    /// Why the configuration was rejected, when it was.
    pub fn rejection(&self) -> Option<&AdaptiveConfigError> {
        match self {
            Self::Rejected(err) => Some(err),
            _ => None,
        }
    }
}

/// What an ended span's anomaly asks for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Anomaly {
    pub(crate) boost: bool,
    pub(crate) capture: bool,
}

/// The values of an ended span anomaly detection reads.
#[derive(Debug)]
pub(crate) struct EndedSpan<'a> {
    pub(crate) attributes: &'a [KeyValue],
    pub(crate) status: &'a Status,
    pub(crate) duration: Duration,
}

fn attr<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a Value> {
    attrs
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| &kv.value)
}

fn attr_str<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a str> {
    match attr(attrs, key)? {
        Value::String(s) => Some(s.as_str()),
        _ => None,
    }
}

/// `http.response.status_code`, else the older `http.status_code`.
fn status_code(attrs: &[KeyValue]) -> Option<i64> {
    let v = attr(attrs, "http.response.status_code").or_else(|| attr(attrs, "http.status_code"))?;
    match v {
        Value::I64(n) => Some(*n),
        Value::String(s) => s.as_str().trim().parse().ok(),
        Value::F64(f) => Some(*f as i64),
        _ => None,
    }
}

/// `/` and the first path segment (ADOT's `extract_api_path_value`).
fn first_segment(path: &str) -> String {
    match path.split('/').nth(1) {
        Some(seg) => format!("/{seg}"),
        None => "/".to_string(),
    }
}

fn path_of_url(url: &str) -> &str {
    let rest = url.find("://").map_or(url, |i| &url[i + 3..]);
    match rest.find('/') {
        Some(i) => rest[i..].split(['?', '#']).next().unwrap_or("/"),
        None => "",
    }
}

/// The span's operation: `aws.local.operation`, else `METHOD /first-segment`
/// from the request path (ADOT's `_generate_ingress_operation`), else
/// `UnknownOperation`.
pub(crate) fn operation(attrs: &[KeyValue]) -> String {
    if let Some(op) = attr_str(attrs, "aws.local.operation") {
        return op.to_string();
    }
    let path = attr_str(attrs, "http.target")
        .or_else(|| attr_str(attrs, "http.url").map(path_of_url))
        .or_else(|| attr_str(attrs, "url.path"))
        .or_else(|| attr_str(attrs, "url.full").map(path_of_url));
    let Some(path) = path else {
        return "UnknownOperation".to_string();
    };
    let op = first_segment(path);
    match attr_str(attrs, "http.method").or_else(|| attr_str(attrs, "http.request.method")) {
        Some(m) => format!("{m} {op}"),
        None => op,
    }
}

impl AdaptiveSampling {
    /// Whether `span` is an anomaly, and what for.
    pub(crate) fn classify(&self, span: &EndedSpan<'_>) -> Anomaly {
        let conditions = match self {
            Self::Rejected(_) => return Anomaly::default(),
            Self::Config(c) if !c.anomaly_conditions.is_empty() => &c.anomaly_conditions,
            _ => {
                // Default anomaly: HTTP 5xx, or an error status without a code.
                let code = status_code(span.attributes);
                let anomalous = match code {
                    Some(c) => c > 499,
                    None => matches!(span.status, Status::Error { .. }),
                };
                return Anomaly {
                    boost: anomalous,
                    capture: anomalous,
                };
            }
        };
        let code = status_code(span.attributes).map(|c| c.to_string());
        let mut op: Option<String> = None;
        let mut out = Anomaly::default();
        for c in conditions {
            // Skip a condition that would only repeat what is decided.
            if (out.boost && c.usage == AnomalyUsage::SamplingBoost)
                || (out.capture && c.usage == AnomalyUsage::AnomalyTraceCapture)
            {
                continue;
            }
            if let Some(ops) = &c.operations {
                let op = op.get_or_insert_with(|| operation(span.attributes));
                if !ops.iter().any(|o| o == op) {
                    continue;
                }
            }
            let mut anomalous = match (&code, &c.error_code_regex) {
                (Some(code), Some(re)) => re.matches(code),
                _ => false,
            };
            if let Some(min) = c.high_latency {
                anomalous = (c.error_code_regex.is_none() || anomalous) && span.duration >= min;
            }
            if anomalous {
                out.boost |= c.usage.boost();
                out.capture |= c.usage.capture();
            }
            if out.boost && out.capture {
                break;
            }
        }
        out
    }

    /// Captured anomalous traces per second (0: no capture).
    pub(crate) fn capture_per_second(&self) -> u32 {
        match self {
            Self::Config(c) => c.anomaly_traces_per_second,
            _ => 0,
        }
    }
}

/// Per-trace bookkeeping: whether the trace was counted as anomalous for a
/// boost and whether it is being captured, so each trace counts once and a
/// captured trace is captured whole (the spans that end after its anomaly).
///
/// Hand-written rather than a cache crate: one map behind a mutex, off the
/// sampling decision path (span end only), bounded by [`TRACE_USAGE_MAX`]
/// entries and [`TRACE_USAGE_TTL`].
#[derive(Debug, Default)]
pub(crate) struct TraceUsage {
    map: Mutex<HashMap<u128, Entry>>,
}

#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Entry {
    pub(crate) boosted: bool,
    pub(crate) captured: bool,
    touched_ms: u64,
}

impl TraceUsage {
    /// The entry of `trace` (`None`: first span of the trace seen here),
    /// then stores `update(entry)`.
    pub(crate) fn visit(
        &self,
        trace: u128,
        now_ms: u64,
        update: impl FnOnce(Option<Entry>) -> Entry,
    ) {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        let ttl = TRACE_USAGE_TTL.as_millis() as u64;
        let prev = map
            .get(&trace)
            .copied()
            .filter(|e| now_ms.saturating_sub(e.touched_ms) < ttl);
        if prev.is_none() && map.len() >= TRACE_USAGE_MAX {
            map.retain(|_, e| now_ms.saturating_sub(e.touched_ms) < ttl);
            if map.len() >= TRACE_USAGE_MAX {
                // Still full of live traces: forget them all rather than grow
                // (their later spans count as new traces).
                map.clear();
            }
        }
        let mut next = update(prev);
        next.touched_ms = now_ms;
        map.insert(trace, next);
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.map.lock().map(|m| m.len()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(attrs: &[KeyValue], status: Status, ms: u64) -> Anomaly {
        span_with(&AdaptiveSampling::Default, attrs, status, ms)
    }

    fn rejected() -> AdaptiveSampling {
        AdaptiveSampling::from_value(Some("{oops"))
    }

    fn span_with(a: &AdaptiveSampling, attrs: &[KeyValue], status: Status, ms: u64) -> Anomaly {
        a.classify(&EndedSpan {
            attributes: attrs,
            status: &status,
            duration: Duration::from_millis(ms),
        })
    }

    const BOTH: Anomaly = Anomaly {
        boost: true,
        capture: true,
    };
    const NONE: Anomaly = Anomaly {
        boost: false,
        capture: false,
    };

    #[test]
    fn default_anomaly_is_5xx_or_error_without_code() {
        let code = |c: i64| [KeyValue::new("http.response.status_code", c)];
        assert_eq!(span(&code(500), Status::Unset, 1), BOTH);
        assert_eq!(span(&code(503), Status::Unset, 1), BOTH);
        assert_eq!(
            span(&code(404), Status::error("x"), 1),
            NONE,
            "a code decides"
        );
        assert_eq!(span(&code(200), Status::Unset, 1), NONE);
        assert_eq!(
            span(&[KeyValue::new("http.status_code", 502)], Status::Unset, 1),
            BOTH
        );
        assert_eq!(span(&[], Status::error("boom"), 1), BOTH);
        assert_eq!(span(&[], Status::Ok, 1), NONE);
        assert_eq!(span_with(&rejected(), &code(500), Status::Unset, 1), NONE);
    }

    fn config(yaml: &str) -> AdaptiveSampling {
        AdaptiveSampling::Config(AdaptiveSamplingConfig::from_text(yaml).expect("valid"))
    }

    #[test]
    fn conditions_and_within_or_across() {
        let c = config(
            r#"{"version": 1.0, "anomalyConditions": [
                {"errorCodeRegex": "^4\\d\\d$", "operations": ["GET /orders"], "usage": "sampling-boost"},
                {"highLatencyMs": 300, "usage": "anomaly-trace-capture"},
                {"errorCodeRegex": "^5\\d\\d$", "highLatencyMs": 1000}
            ], "anomalyCaptureLimit": {"anomalyTracesPerSecond": 3}}"#,
        );
        let req = |code: i64, path: &str| {
            vec![
                KeyValue::new("http.request.method", "GET"),
                KeyValue::new("url.path", path.to_string()),
                KeyValue::new("http.response.status_code", code),
            ]
        };
        let boost_only = Anomaly {
            boost: true,
            capture: false,
        };
        let capture_only = Anomaly {
            boost: false,
            capture: true,
        };
        assert_eq!(
            span_with(&c, &req(404, "/orders/7"), Status::Unset, 1),
            boost_only
        );
        assert_eq!(
            span_with(&c, &req(404, "/users/7"), Status::Unset, 1),
            NONE,
            "operation"
        );
        assert_eq!(
            span_with(&c, &req(200, "/x"), Status::Unset, 300),
            capture_only
        );
        // 5xx alone is not enough once conditions are configured: this one
        // also needs 1 s.
        assert_eq!(span_with(&c, &req(500, "/x"), Status::Unset, 10), NONE);
        assert_eq!(span_with(&c, &req(500, "/x"), Status::Unset, 1000), BOTH);
        assert_eq!(
            span_with(&c, &req(404, "/orders"), Status::Unset, 400),
            BOTH,
            "OR across entries"
        );
        assert_eq!(c.capture_per_second(), 3);
        assert_eq!(AdaptiveSampling::Default.capture_per_second(), 0);
    }

    #[test]
    fn operations_as_adot_derives_them() {
        let op = |attrs: &[KeyValue]| operation(attrs);
        assert_eq!(
            op(&[KeyValue::new("aws.local.operation", "Checkout")]),
            "Checkout"
        );
        assert_eq!(
            op(&[
                KeyValue::new("http.method", "POST"),
                KeyValue::new("http.target", "/api/v1/x")
            ]),
            "POST /api"
        );
        assert_eq!(
            op(&[KeyValue::new("url.full", "https://h:8/orders/9?q=1")]),
            "/orders"
        );
        assert_eq!(op(&[KeyValue::new("url.path", "/")]), "/");
        assert_eq!(op(&[]), "UnknownOperation");
    }

    #[test]
    fn config_parsing_table() {
        let ok = AdaptiveSamplingConfig::from_text(r#"{"version": 1}"#).expect("minimal");
        assert_eq!(
            ok.anomaly_traces_per_second,
            DEFAULT_ANOMALY_TRACES_PER_SECOND
        );
        assert!(ok.anomaly_conditions.is_empty());
        let ok = AdaptiveSamplingConfig::from_text(r#"{"version": "1.5"}"#).expect("text version");
        assert_eq!(ok.version, 1.5);
        for (bad_config, needle) in [
            (r#"{"anomalyConditions": []}"#, "version"),
            (r#"{"version": 2.0}"#, "only 1.x"),
            (r#"{"version": 0.9}"#, "only 1.x"),
            (r#"{"version": 1, "extra": 1}"#, "extra"),
            (
                r#"{"version": 1, "anomalyConditions": [{"usage": "always"}]}"#,
                "always",
            ),
            (
                r#"{"version": 1, "anomalyConditions": [{"errorCodeRegex": "(5"}]}"#,
                "errorCodeRegex",
            ),
            (
                r#"{"version": 1, "anomalyConditions": [{"operations": "GET /"}]}"#,
                "operations",
            ),
            (
                r#"{"version": 1, "anomalyCaptureLimit": {"anomalyTracesPerSecond": -1}}"#,
                "anomalyTracesPerSecond",
            ),
            (
                r#"{"version": 1, "anomalyCaptureLimit": {}}"#,
                "anomalyTracesPerSecond",
            ),
            ("[1, 2]", "not a valid configuration"),
        ] {
            let err = AdaptiveSamplingConfig::from_text(bad_config)
                .expect_err(bad_config)
                .to_string();
            assert!(err.contains(needle), "{bad_config}: {err}");
            assert!(err.contains(AWS_XRAY_ADAPTIVE_SAMPLING_CONFIG), "{err}");
            assert!(
                err.contains("anomaly-trace-capture"),
                "names what it accepts: {err}"
            );
        }
        let err =
            AdaptiveSamplingConfig::parse("/no/such/adaptive.yaml").expect_err("missing file");
        assert!(err.to_string().contains("does not exist"), "{err}");
        let off = AdaptiveSampling::from_value(Some("{oops"));
        let why = off.rejection().expect("rejected").to_string();
        assert!(
            why.starts_with(AWS_XRAY_ADAPTIVE_SAMPLING_CONFIG)
                && why.contains("adaptive sampling is off"),
            "{why}"
        );
        assert_eq!(
            AdaptiveSampling::from_value(None),
            AdaptiveSampling::Default
        );
        assert_eq!(
            AdaptiveSampling::from_value(Some("  ")),
            AdaptiveSampling::Default
        );
    }

    #[cfg(feature = "adaptive-sampling-yaml")]
    #[test]
    fn yaml_text_and_file() {
        // ADOT's test configuration, as YAML.
        let yaml = "version: 1.0\nanomalyConditions:\n  - errorCodeRegex: \"^5\\\\d\\\\d$\"\n    usage: both\n  - errorCodeRegex: \"^4\\\\d\\\\d$\"\n    operations: [\"GET /a\"]\n    highLatencyMs: 100\n    usage: sampling-boost\nanomalyCaptureLimit:\n  anomalyTracesPerSecond: 10\n";
        let c = AdaptiveSamplingConfig::parse(yaml).expect("yaml");
        assert_eq!(c.anomaly_conditions.len(), 2);
        assert_eq!(
            c.anomaly_conditions[0]
                .error_code_regex
                .as_ref()
                .map(ErrorCodeRegex::as_str),
            Some("^5\\d\\d$")
        );
        assert_eq!(c.anomaly_conditions[1].usage, AnomalyUsage::SamplingBoost);
        assert_eq!(
            c.anomaly_conditions[1].high_latency,
            Some(Duration::from_millis(100))
        );
        assert_eq!(c.anomaly_traces_per_second, 10);
        let path =
            std::env::temp_dir().join(format!("otel-aws-adaptive-{}.yaml", std::process::id()));
        std::fs::write(&path, yaml).expect("write");
        let from_file = AdaptiveSamplingConfig::parse(path.to_str().expect("utf-8"));
        let _ = std::fs::remove_file(&path);
        assert_eq!(from_file, Ok(c));
        let err = AdaptiveSamplingConfig::parse(
            "version: 1.0\nanomalyConditions:\n  - operations: invalid part of config\n",
        )
        .expect_err("ADOT's invalid example");
        assert!(
            err.to_string().contains(AWS_XRAY_ADAPTIVE_SAMPLING_CONFIG),
            "{err}"
        );
    }

    #[test]
    fn trace_usage_is_bounded_and_expires() {
        let u = TraceUsage::default();
        let mut seen = None;
        u.visit(1, 0, |e| {
            seen = Some(e.is_none());
            Entry {
                boosted: true,
                ..Entry::default()
            }
        });
        assert_eq!(seen, Some(true));
        u.visit(1, 1000, |e| {
            seen = Some(e.is_some_and(|e| e.boosted));
            e.unwrap_or_default()
        });
        assert_eq!(seen, Some(true), "remembered");
        let late = TRACE_USAGE_TTL.as_millis() as u64 + 2000;
        u.visit(1, late, |e| {
            seen = Some(e.is_none());
            e.unwrap_or_default()
        });
        assert_eq!(seen, Some(true), "expired after the TTL");
        for t in 0..(TRACE_USAGE_MAX as u128 + 10) {
            u.visit(t + 10, late, |e| e.unwrap_or_default());
        }
        assert!(u.len() <= TRACE_USAGE_MAX, "{}", u.len());
    }
}
