//! aws-xray-sdk local sampling rule files (`spec/xray.md`, "Legacy local
//! rules file"): version 2 matches `host`, version 1 `service_name` (used
//! as the host); first match wins, else the `default` rule.

use std::fmt;
use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use super::glob::Glob;

/// A parsed local rules file.
#[derive(Clone, PartialEq)]
pub struct LocalRules {
    /// `version`: 1 or 2.
    pub version: u32,
    /// `rules`, in file order.
    pub rules: Vec<LocalRule>,
    /// `default`: `fixed_target` and `rate` for requests no rule matches.
    pub default: LocalTarget,
}

impl fmt::Debug for LocalRules {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Short: `otel-aws config` prints the sampler with `{:?}`.
        write!(
            f,
            "LocalRules {{ version: {}, rules: {}, default: {}/s then {} }}",
            self.version,
            self.rules.len(),
            self.default.fixed_target,
            self.default.rate
        )
    }
}

/// Requests per second sampled, then the fraction of the rest.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LocalTarget {
    /// `fixed_target`: requests per second.
    pub fixed_target: u32,
    /// `rate`: fraction sampled beyond `fixed_target`.
    pub rate: f64,
}

/// One entry of `rules`.
#[derive(Clone, Debug, PartialEq)]
pub struct LocalRule {
    /// `description` (recorded as `aws.xray.sampling_rule`).
    pub description: String,
    /// `host` (version 2) or `service_name` (version 1) pattern.
    pub host: String,
    /// `http_method` pattern.
    pub http_method: String,
    /// `url_path` pattern.
    pub url_path: String,
    /// The rule's rates.
    pub target: LocalTarget,
}

/// Why a rules file was rejected (the message says what is wrong and where).
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("{problem}")]
pub struct LocalRulesError {
    /// What is wrong.
    pub problem: String,
}

fn err(problem: impl Into<String>) -> LocalRulesError {
    LocalRulesError {
        problem: problem.into(),
    }
}

#[derive(Deserialize)]
struct RawFile {
    version: Option<Value>,
    default: Option<RawRule>,
    #[serde(default)]
    rules: Vec<RawRule>,
}

#[derive(Deserialize)]
struct RawRule {
    description: Option<String>,
    host: Option<String>,
    service_name: Option<String>,
    http_method: Option<String>,
    url_path: Option<String>,
    fixed_target: Option<Value>,
    rate: Option<Value>,
}

impl LocalRules {
    /// Reads and validates `path`.
    pub fn read(path: &Path) -> Result<LocalRules, LocalRulesError> {
        let text =
            std::fs::read_to_string(path).map_err(|e| err(format!("cannot read it: {e}")))?;
        LocalRules::parse(&text)
    }

    /// Parses and validates a rules document.
    pub fn parse(text: &str) -> Result<LocalRules, LocalRulesError> {
        let raw: RawFile = serde_json::from_str(text)
            .map_err(|e| err(format!("not a valid rules document: {e}")))?;
        let version = match raw.version.as_ref().and_then(Value::as_u64) {
            Some(v @ (1 | 2)) => v as u32,
            Some(v) => {
                return Err(err(format!(
                    "\"version\" is {v}; only 1 and 2 are supported"
                )));
            }
            None => return Err(err("\"version\" (1 or 2) is missing")),
        };
        let default = raw
            .default
            .ok_or_else(|| err("the \"default\" rule is missing"))?;
        if default.host.is_some()
            || default.service_name.is_some()
            || default.http_method.is_some()
            || default.url_path.is_some()
        {
            return Err(err(
                "the \"default\" rule takes only \"fixed_target\" and \"rate\"",
            ));
        }
        let default = target(&default, "the \"default\" rule")?;
        let mut rules = Vec::with_capacity(raw.rules.len());
        for (i, r) in raw.rules.iter().enumerate() {
            let at = format!("rules[{i}]");
            let host = match version {
                2 => r
                    .host
                    .clone()
                    .ok_or_else(|| err(format!("{at}: \"host\" is missing")))?,
                _ => r
                    .service_name
                    .clone()
                    .ok_or_else(|| err(format!("{at}: \"service_name\" is missing (version 1)")))?,
            };
            let http_method = r
                .http_method
                .clone()
                .ok_or_else(|| err(format!("{at}: \"http_method\" is missing")))?;
            let url_path = r
                .url_path
                .clone()
                .ok_or_else(|| err(format!("{at}: \"url_path\" is missing")))?;
            rules.push(LocalRule {
                description: r.description.clone().unwrap_or_default(),
                host,
                http_method,
                url_path,
                target: target(r, &at)?,
            });
        }
        Ok(LocalRules {
            version,
            rules,
            default,
        })
    }
}

fn target(r: &RawRule, at: &str) -> Result<LocalTarget, LocalRulesError> {
    let fixed_target = r
        .fixed_target
        .as_ref()
        .ok_or_else(|| err(format!("{at}: \"fixed_target\" is missing")))?
        .as_u64()
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| err(format!("{at}: \"fixed_target\" must be a whole number ≥ 0")))?;
    let rate = r
        .rate
        .as_ref()
        .ok_or_else(|| err(format!("{at}: \"rate\" is missing")))?
        .as_f64()
        .filter(|r| (0.0..=1.0).contains(r))
        .ok_or_else(|| err(format!("{at}: \"rate\" must be a number between 0 and 1")))?;
    Ok(LocalTarget { fixed_target, rate })
}

/// A local rule compiled for matching.
#[derive(Debug)]
pub(crate) struct CompiledLocalRule {
    pub(crate) host: Glob,
    pub(crate) method: Glob,
    pub(crate) path: Glob,
}

impl CompiledLocalRule {
    pub(crate) fn new(rule: &LocalRule) -> Self {
        Self {
            host: Glob::new(&rule.host),
            method: Glob::new(&rule.http_method),
            path: Glob::new(&rule.url_path),
        }
    }
}
