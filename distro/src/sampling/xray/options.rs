//! `OTEL_TRACES_SAMPLER_ARG` for `OTEL_TRACES_SAMPLER=xray`, in ADOT's
//! format: comma-separated `key=value` pairs.
//!
//! | key | meaning | default |
//! |-----|---------|---------|
//! | `endpoint` | sampling proxy (sidecar, X-Ray daemon), e.g. `http://127.0.0.1:2000` | none: call X-Ray through aws-sdk-xray |
//! | `polling_interval` | seconds between rules fetches (whole number, 1 to 86400) | 300 |
//! | `rules_file` | aws-xray-sdk local rules file (version 1 or 2); no polling | none |
//!
//! Adaptive sampling reads `AWS_XRAY_ADAPTIVE_SAMPLING_CONFIG` (see
//! [`super::AdaptiveSampling`]); a bad value is logged and turns adaptive
//! sampling off, it does not stop the sampler.

use std::path::PathBuf;
use std::time::Duration;

use super::adaptive::{AWS_XRAY_ADAPTIVE_SAMPLING_CONFIG, AdaptiveSampling};
use super::local::LocalRules;
use super::poller::DEFAULT_RULES_INTERVAL;
use crate::Env;
use crate::sampling::config::SamplerConfigError;

/// `AWS_REGION`: region of the X-Ray API when no `endpoint` is given.
const AWS_REGION: &str = "AWS_REGION";
/// `AWS_DEFAULT_REGION`: fallback for `AWS_REGION`.
const AWS_DEFAULT_REGION: &str = "AWS_DEFAULT_REGION";
/// `AWS_ENDPOINT_URL_XRAY`: X-Ray API endpoint override (aws-sdk convention).
const AWS_ENDPOINT_URL_XRAY: &str = "AWS_ENDPOINT_URL_XRAY";
/// `AWS_ENDPOINT_URL`: endpoint override for every AWS service.
const AWS_ENDPOINT_URL: &str = "AWS_ENDPOINT_URL";

/// Longest `polling_interval` accepted, in seconds (one day): X-Ray's rules
/// expire after an hour without a fetch, and a bound keeps the poller's
/// deadline arithmetic far from overflow.
pub const MAX_POLLING_INTERVAL_SECS: u64 = 86_400;

/// Keys `OTEL_TRACES_SAMPLER_ARG` accepts for the xray sampler.
pub const XRAY_ARG_KEYS: &str = "endpoint, polling_interval, rules_file";

/// Settings of the xray sampler.
#[derive(Clone, Debug, PartialEq)]
pub struct XraySamplerOptions {
    /// Where the rules come from.
    pub source: XrayRulesSource,
    /// Between rules fetches (`polling_interval`, seconds; default 300).
    pub polling_interval: Duration,
    /// Adaptive sampling (`AWS_XRAY_ADAPTIVE_SAMPLING_CONFIG`; remote rules only).
    pub adaptive: AdaptiveSampling,
}

impl Default for XraySamplerOptions {
    fn default() -> Self {
        Self {
            source: XrayRulesSource::Api {
                region: None,
                endpoint_url: None,
            },
            polling_interval: DEFAULT_RULES_INTERVAL,
            adaptive: AdaptiveSampling::Default,
        }
    }
}

/// Where the xray sampler's rules come from. Its `Debug` redacts the
/// endpoints (`otel-aws config` and logs show it; a URL may carry
/// credentials).
#[derive(Clone, PartialEq)]
pub enum XrayRulesSource {
    /// A proxy over plain HTTP (`endpoint=`).
    Proxy {
        /// `http://host:port`.
        endpoint: String,
    },
    /// X-Ray through aws-sdk-xray and the default credential chain.
    Api {
        /// `AWS_REGION` / `AWS_DEFAULT_REGION` (else aws-config's chain).
        region: Option<String>,
        /// `AWS_ENDPOINT_URL_XRAY` / `AWS_ENDPOINT_URL`.
        endpoint_url: Option<String>,
    },
    /// A local rules file (`rules_file=`), read at configuration time.
    File {
        /// The file.
        path: PathBuf,
        /// Its rules.
        rules: LocalRules,
    },
}

impl std::fmt::Debug for XrayRulesSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use crate::config::redact::url;
        match self {
            Self::Proxy { endpoint } => f
                .debug_struct("Proxy")
                .field("endpoint", &url(endpoint))
                .finish(),
            Self::Api {
                region,
                endpoint_url,
            } => f
                .debug_struct("Api")
                .field("region", region)
                .field("endpoint_url", &endpoint_url.as_deref().map(url))
                .finish(),
            Self::File { path, rules } => f
                .debug_struct("File")
                .field("path", path)
                .field("rules", rules)
                .finish(),
        }
    }
}

fn bad(reason: impl Into<String>) -> SamplerConfigError {
    SamplerConfigError::InvalidXrayArg {
        reason: reason.into(),
    }
}

/// A key of the argument as an error shows it: the key when it looks like
/// one, else its pair's position (text before a `=` can be part of a URL or
/// a secret written in the wrong place).
fn key_name(key: &str, n: usize) -> String {
    let plain = !key.is_empty()
        && key.len() <= 32
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if plain {
        format!("key {key:?}")
    } else {
        format!("the key of pair {}", n + 1)
    }
}

impl XraySamplerOptions {
    /// Parses `OTEL_TRACES_SAMPLER_ARG` (unset: the X-Ray API with the
    /// default chain) and reads the rules file when one is named.
    pub fn from_env(env: &Env) -> Result<Self, SamplerConfigError> {
        let mut endpoint = None;
        let mut interval = None;
        let mut file = None;
        let arg = env.get(super::super::OTEL_TRACES_SAMPLER_ARG).unwrap_or("");
        for (n, pair) in arg
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .enumerate()
        {
            let Some((key, value)) = pair.split_once('=') else {
                return Err(bad(format!("pair {} is not key=value", n + 1)));
            };
            let (key, value) = (key.trim(), value.trim());
            if value.is_empty() {
                return Err(bad(format!("{} has no value", key_name(key, n))));
            }
            match key {
                "endpoint" => endpoint = Some(value.to_string()),
                "polling_interval" => {
                    let secs = value
                        .parse::<u64>()
                        .ok()
                        .filter(|s| (1..=MAX_POLLING_INTERVAL_SECS).contains(s))
                        .ok_or_else(|| {
                            bad(format!(
                                "polling_interval must be a whole number of seconds from 1 to {MAX_POLLING_INTERVAL_SECS}"
                            ))
                        })?;
                    interval = Some(Duration::from_secs(secs));
                }
                "rules_file" => file = Some(PathBuf::from(value)),
                other => {
                    return Err(bad(format!(
                        "{} is not a known key; accepted keys: {XRAY_ARG_KEYS}",
                        key_name(other, n)
                    )));
                }
            }
        }
        let source = match (endpoint, file) {
            (Some(_), Some(_)) => {
                return Err(bad("give either endpoint or rules_file, not both"));
            }
            (Some(endpoint), None) => {
                let ok = url::Url::parse(&endpoint)
                    .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
                if !ok {
                    return Err(bad(format!(
                        "endpoint={:?} is not an http:// URL (e.g. http://127.0.0.1:2000)",
                        crate::config::redact::url(&endpoint)
                    )));
                }
                XrayRulesSource::Proxy { endpoint }
            }
            (None, Some(path)) => {
                let rules = LocalRules::read(&path).map_err(|e| SamplerConfigError::RulesFile {
                    path: path.clone(),
                    problem: e.problem,
                })?;
                XrayRulesSource::File { path, rules }
            }
            (None, None) => XrayRulesSource::Api {
                region: env
                    .get(AWS_REGION)
                    .or_else(|| env.get(AWS_DEFAULT_REGION))
                    .map(str::to_string),
                endpoint_url: env
                    .get(AWS_ENDPOINT_URL_XRAY)
                    .or_else(|| env.get(AWS_ENDPOINT_URL))
                    .map(str::to_string),
            },
        };
        Ok(Self {
            source,
            polling_interval: interval.unwrap_or(DEFAULT_RULES_INTERVAL),
            adaptive: AdaptiveSampling::from_value(env.get(AWS_XRAY_ADAPTIVE_SAMPLING_CONFIG)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_the_endpoints() {
        let proxy = XrayRulesSource::Proxy {
            endpoint: "http://u:s3cr3t@proxy:2000/?token=s3cr3t".into(),
        };
        let api = XrayRulesSource::Api {
            region: Some("eu-west-1".into()),
            endpoint_url: Some("https://u:s3cr3t@xray.local/?k=s3cr3t".into()),
        };
        for (source, kept) in [(proxy, "proxy:2000"), (api, "xray.local")] {
            let shown = format!("{source:?}");
            assert!(!shown.contains("s3cr3t"), "{shown}");
            assert!(shown.contains(kept), "{shown}");
        }
        let opts = XraySamplerOptions::from_env(&Env::from_pairs([(
            "OTEL_TRACES_SAMPLER_ARG",
            "endpoint=http://u:s3cr3t@proxy:2000",
        )]))
        .unwrap();
        let shown = format!("{opts:?}");
        assert!(
            !shown.contains("s3cr3t") && shown.contains("proxy:2000"),
            "{shown}"
        );
    }
}
