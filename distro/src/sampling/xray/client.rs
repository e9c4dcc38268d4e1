//! The two ways to reach the sampling API: plain HTTP to a proxy (the
//! sidecar, the X-Ray daemon, the collector's awsproxy — `POST
//! {endpoint}/GetSamplingRules` and `/SamplingTargets`, unsigned, as ADOT
//! does) or X-Ray itself through aws-sdk-xray with the credential chain.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_xray::primitives::DateTime;
use serde::Deserialize;
use serde_json::{Value, json};

use super::rule::{
    SamplingBoost, SamplingBoostStatistics, SamplingRateBoost, SamplingRule, SamplingStatistics,
    SamplingTarget,
};

/// Most statistics documents one `GetSamplingTargets` call may carry.
pub const MAX_STATISTICS_PER_CALL: usize = 25;
/// Most `GetSamplingRules` pages read in one refresh (guards against a
/// `NextToken` loop).
const MAX_RULE_PAGES: usize = 100;
/// Time one sampling API call may take: a proxy request, or an
/// aws-sdk-xray operation with its retries when the client sets no
/// operation timeout of its own. Without it a call to an endpoint that
/// accepts and never answers held the poller for good (aws-config's
/// defaults time out only the connection), and the rules in use aged past
/// their hour and fell back to the local ones.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a sampling API call failed (the poller logs it and keeps the
/// current rules; sampling never waits for it).
#[derive(Debug, thiserror::Error)]
pub enum XrayApiError {
    /// The proxy endpoint is not an `http(s)://` URL.
    #[error("sampling proxy endpoint {0:?} is not an http:// or https:// URL")]
    BadEndpoint(String),
    /// The HTTP request to the proxy failed.
    #[error("sampling proxy request {url} failed: {reason}")]
    Http {
        /// The URL called.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// The answer was not the expected JSON.
    #[error("unexpected {operation} answer: {reason}")]
    BadAnswer {
        /// `GetSamplingRules` or `GetSamplingTargets`.
        operation: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// aws-sdk-xray returned an error.
    #[error("X-Ray {operation} failed: {reason}")]
    Sdk {
        /// The operation.
        operation: &'static str,
        /// The SDK's error with its context.
        reason: String,
    },
    /// No region for the aws-sdk-xray client.
    #[error(
        "no AWS region for the X-Ray sampling API; set AWS_REGION, or set OTEL_TRACES_SAMPLER_ARG=endpoint=http://<proxy>:2000 to use a sidecar"
    )]
    MissingRegion,
}

/// `GetSamplingTargets`' answer.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SamplingTargets {
    /// `SamplingTargetDocuments`.
    pub targets: Vec<SamplingTarget>,
    /// `LastRuleModification`: rules changed then; newer than our rules →
    /// fetch them again.
    pub last_rule_modification: Option<SystemTime>,
    /// `UnprocessedBoostStatistics[].RuleName`: boost statistics X-Ray
    /// could not process (logged; the counts are not sent again).
    pub unprocessed_boost_statistics: Vec<String>,
}

/// A client of the sampling API.
#[derive(Clone, Debug)]
pub enum XrayApiClient {
    /// Plain HTTP to a proxy.
    Proxy {
        /// `http://host:port` (no trailing slash).
        base: String,
        /// The HTTP client.
        http: reqwest::Client,
    },
    /// X-Ray through aws-sdk-xray.
    Sdk(aws_sdk_xray::Client),
}

impl XrayApiClient {
    /// A proxy client for `endpoint` (`http://127.0.0.1:2000`).
    pub fn proxy(endpoint: &str) -> Result<Self, XrayApiError> {
        let base = endpoint.trim().trim_end_matches('/').to_string();
        let ok = url::Url::parse(&base)
            .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
        if !ok {
            return Err(XrayApiError::BadEndpoint(
                crate::config::redact::url(endpoint).into_owned(),
            ));
        }
        let http = reqwest::Client::builder()
            .timeout(CALL_TIMEOUT)
            .build()
            .map_err(|e| XrayApiError::Http {
                url: crate::config::redact::url(&base).into_owned(),
                reason: e.to_string(),
            })?;
        Ok(Self::Proxy { base, http })
    }

    /// An aws-sdk-xray client used as it is (endpoint, region, credentials,
    /// timeouts), with an operation timeout of [`CALL_TIMEOUT`] added when
    /// it has none.
    pub fn sdk(client: aws_sdk_xray::Client) -> Self {
        use crate::export::retry::{SdkTimeout, sdk_timeouts};
        let conf = client.config();
        match sdk_timeouts(
            conf.timeout_config(),
            SdkTimeout::Operation,
            CALL_TIMEOUT,
            true,
        ) {
            Some(t) => Self::Sdk(aws_sdk_xray::Client::from_conf(
                conf.to_builder().timeout_config(t).build(),
            )),
            None => Self::Sdk(client),
        }
    }

    /// aws-sdk-xray configured by aws-config's default chain, with the
    /// region, endpoint (`AWS_ENDPOINT_URL_XRAY`) and credentials given
    /// overriding it.
    pub async fn from_default_chain(
        region: Option<String>,
        endpoint_url: Option<String>,
        credentials: Option<SharedCredentialsProvider>,
    ) -> Result<Self, XrayApiError> {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        if let Some(r) = region {
            loader = loader.region(aws_config::Region::new(r));
        }
        if let Some(url) = endpoint_url {
            loader = loader.endpoint_url(url);
        }
        if let Some(c) = credentials {
            loader = loader.credentials_provider(c);
        }
        let sdk = loader.load().await;
        if sdk.region().is_none() {
            return Err(XrayApiError::MissingRegion);
        }
        Ok(Self::sdk(aws_sdk_xray::Client::new(&sdk)))
    }

    /// `GetSamplingRules`, every page.
    pub async fn get_sampling_rules(&self) -> Result<Vec<SamplingRule>, XrayApiError> {
        let mut rules = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..MAX_RULE_PAGES {
            let next = match self {
                Self::Proxy { base, http } => {
                    let body = match &token {
                        Some(t) => json!({ "NextToken": t }),
                        None => json!({}),
                    };
                    let bytes = post(http, &format!("{base}/GetSamplingRules"), &body).await?;
                    let (page, next) = parse_sampling_rules(&bytes)?;
                    rules.extend(page);
                    next
                }
                Self::Sdk(client) => {
                    let out = client
                        .get_sampling_rules()
                        .set_next_token(token.clone())
                        .send()
                        .await
                        .map_err(|e| XrayApiError::Sdk {
                            operation: "GetSamplingRules",
                            reason: aws_sdk_xray::error::DisplayErrorContext(&e).to_string(),
                        })?;
                    rules.extend(
                        out.sampling_rule_records()
                            .iter()
                            .filter_map(|r| r.sampling_rule())
                            .map(from_sdk_rule),
                    );
                    out.next_token().map(str::to_string)
                }
            };
            match next {
                Some(t) if !t.is_empty() => token = Some(t),
                _ => break,
            }
        }
        Ok(rules)
    }

    /// `GetSamplingTargets` with at most [`MAX_STATISTICS_PER_CALL`]
    /// statistics documents and as many boost statistics documents.
    pub async fn get_sampling_targets(
        &self,
        statistics: &[SamplingStatistics],
        boost_statistics: &[SamplingBoostStatistics],
    ) -> Result<SamplingTargets, XrayApiError> {
        match self {
            Self::Proxy { base, http } => {
                let body = targets_request(statistics, boost_statistics);
                let bytes = post(http, &format!("{base}/SamplingTargets"), &body).await?;
                parse_sampling_targets(&bytes)
            }
            Self::Sdk(client) => {
                let docs = statistics
                    .iter()
                    .map(|s| {
                        aws_sdk_xray::types::SamplingStatisticsDocument::builder()
                            .rule_name(&s.rule_name)
                            .client_id(&s.client_id)
                            .timestamp(DateTime::from(s.timestamp))
                            .request_count(clamp(s.request_count))
                            .sampled_count(clamp(s.sampled_count))
                            .borrow_count(clamp(s.borrow_count))
                            .build()
                            .map_err(|e| XrayApiError::Sdk {
                                operation: "GetSamplingTargets",
                                reason: e.to_string(),
                            })
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let boost_docs = boost_statistics
                    .iter()
                    .map(|s| {
                        aws_sdk_xray::types::SamplingBoostStatisticsDocument::builder()
                            .rule_name(&s.rule_name)
                            .service_name(&s.service_name)
                            .timestamp(DateTime::from(s.timestamp))
                            .anomaly_count(clamp(s.anomaly_count))
                            .total_count(clamp(s.total_count))
                            .sampled_anomaly_count(clamp(s.sampled_anomaly_count))
                            .build()
                            .map_err(|e| XrayApiError::Sdk {
                                operation: "GetSamplingTargets",
                                reason: e.to_string(),
                            })
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let out = client
                    .get_sampling_targets()
                    .set_sampling_statistics_documents(Some(docs))
                    .set_sampling_boost_statistics_documents(
                        (!boost_docs.is_empty()).then_some(boost_docs),
                    )
                    .send()
                    .await
                    .map_err(|e| XrayApiError::Sdk {
                        operation: "GetSamplingTargets",
                        reason: aws_sdk_xray::error::DisplayErrorContext(&e).to_string(),
                    })?;
                Ok(SamplingTargets {
                    targets: out
                        .sampling_target_documents()
                        .iter()
                        .filter_map(|t| {
                            Some(SamplingTarget {
                                rule_name: t.rule_name()?.to_string(),
                                fixed_rate: t.fixed_rate(),
                                reservoir_quota: t
                                    .reservoir_quota()
                                    .map(|q| u32::try_from(q).unwrap_or(0)),
                                reservoir_quota_ttl: t
                                    .reservoir_quota_ttl()
                                    .and_then(|d| SystemTime::try_from(*d).ok()),
                                interval_secs: t.interval().and_then(|i| u32::try_from(i).ok()),
                                sampling_boost: t.sampling_boost().and_then(|b| {
                                    Some(SamplingBoost {
                                        boost_rate: b.boost_rate(),
                                        boost_rate_ttl: SystemTime::try_from(*b.boost_rate_ttl())
                                            .ok()?,
                                    })
                                }),
                            })
                        })
                        .collect(),
                    last_rule_modification: out
                        .last_rule_modification()
                        .and_then(|d| SystemTime::try_from(*d).ok()),
                    unprocessed_boost_statistics: out
                        .unprocessed_boost_statistics()
                        .iter()
                        .filter_map(|u| u.rule_name().map(str::to_string))
                        .collect(),
                })
            }
        }
    }
}

fn clamp(n: u64) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn from_sdk_rule(r: &aws_sdk_xray::types::SamplingRule) -> SamplingRule {
    let mut attributes: Vec<(String, String)> = r
        .attributes()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    attributes.sort();
    SamplingRule {
        rule_name: r.rule_name().unwrap_or_default().to_string(),
        priority: r.priority(),
        fixed_rate: r.fixed_rate(),
        reservoir_size: r.reservoir_size(),
        service_name: r.service_name().to_string(),
        service_type: r.service_type().to_string(),
        host: r.host().to_string(),
        http_method: r.http_method().to_string(),
        url_path: r.url_path().to_string(),
        resource_arn: r.resource_arn().to_string(),
        attributes,
        version: r.version(),
        sampling_rate_boost: r.sampling_rate_boost().map(|b| SamplingRateBoost {
            max_rate: b.max_rate(),
            cooldown_window_minutes: b.cooldown_window_minutes(),
        }),
    }
}

async fn post(http: &reqwest::Client, url: &str, body: &Value) -> Result<Vec<u8>, XrayApiError> {
    let fail = |reason: String| XrayApiError::Http {
        url: crate::config::redact::url(url).into_owned(),
        reason,
    };
    let resp = http
        .post(url)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(body.to_string())
        .send()
        .await
        .map_err(|e| fail(e.without_url().to_string()))?;
    let status = resp.status();
    let bytes = resp
        .bytes()
        .await
        .map_err(|e| fail(e.without_url().to_string()))?;
    if !status.is_success() {
        let text = String::from_utf8_lossy(&bytes);
        return Err(fail(format!(
            "HTTP {status}: {}",
            text.chars().take(200).collect::<String>()
        )));
    }
    Ok(bytes.to_vec())
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RulesOut {
    #[serde(default)]
    sampling_rule_records: Vec<RecordOut>,
    next_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RecordOut {
    sampling_rule: Option<RuleOut>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RuleOut {
    rule_name: Option<String>,
    #[serde(default)]
    priority: i32,
    #[serde(default)]
    fixed_rate: f64,
    #[serde(default)]
    reservoir_size: i32,
    #[serde(default)]
    service_name: String,
    #[serde(default)]
    service_type: String,
    #[serde(default)]
    host: String,
    #[serde(default, rename = "HTTPMethod")]
    http_method: String,
    #[serde(default, rename = "URLPath")]
    url_path: String,
    #[serde(default, rename = "ResourceARN")]
    resource_arn: String,
    attributes: Option<std::collections::BTreeMap<String, String>>,
    #[serde(default)]
    version: i32,
    sampling_rate_boost: Option<RateBoostOut>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RateBoostOut {
    #[serde(default)]
    max_rate: f64,
    #[serde(default)]
    cooldown_window_minutes: i32,
}

/// Parses a `GetSamplingRules` JSON answer: the rules (all of them, usable
/// or not) and the `NextToken`.
pub fn parse_sampling_rules(
    body: &[u8],
) -> Result<(Vec<SamplingRule>, Option<String>), XrayApiError> {
    let out: RulesOut = serde_json::from_slice(body).map_err(|e| XrayApiError::BadAnswer {
        operation: "GetSamplingRules",
        reason: e.to_string(),
    })?;
    let rules = out
        .sampling_rule_records
        .into_iter()
        .filter_map(|r| r.sampling_rule)
        .map(|r| SamplingRule {
            rule_name: r.rule_name.unwrap_or_default(),
            priority: r.priority,
            fixed_rate: r.fixed_rate,
            reservoir_size: r.reservoir_size,
            service_name: r.service_name,
            service_type: r.service_type,
            host: r.host,
            http_method: r.http_method,
            url_path: r.url_path,
            resource_arn: r.resource_arn,
            attributes: r.attributes.unwrap_or_default().into_iter().collect(),
            version: r.version,
            sampling_rate_boost: r.sampling_rate_boost.map(|b| SamplingRateBoost {
                max_rate: b.max_rate,
                cooldown_window_minutes: b.cooldown_window_minutes,
            }),
        })
        .collect();
    Ok((rules, out.next_token))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TargetsOut {
    #[serde(default)]
    sampling_target_documents: Vec<TargetOut>,
    last_rule_modification: Option<f64>,
    #[serde(default)]
    unprocessed_boost_statistics: Vec<UnprocessedOut>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UnprocessedOut {
    rule_name: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct BoostOut {
    boost_rate: f64,
    #[serde(rename = "BoostRateTTL")]
    boost_rate_ttl: f64,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TargetOut {
    rule_name: Option<String>,
    #[serde(default)]
    fixed_rate: f64,
    reservoir_quota: Option<i64>,
    #[serde(rename = "ReservoirQuotaTTL")]
    reservoir_quota_ttl: Option<f64>,
    interval: Option<i64>,
    sampling_boost: Option<BoostOut>,
}

fn epoch_secs(secs: f64) -> Option<SystemTime> {
    // Checked: the value comes from an answer on the wire, and
    // `from_secs_f64` / `SystemTime + Duration` panic on huge values.
    Duration::try_from_secs_f64(secs)
        .ok()
        .and_then(|d| UNIX_EPOCH.checked_add(d))
}

/// Parses a `GetSamplingTargets` JSON answer.
pub fn parse_sampling_targets(body: &[u8]) -> Result<SamplingTargets, XrayApiError> {
    let out: TargetsOut = serde_json::from_slice(body).map_err(|e| XrayApiError::BadAnswer {
        operation: "GetSamplingTargets",
        reason: e.to_string(),
    })?;
    Ok(SamplingTargets {
        targets: out
            .sampling_target_documents
            .into_iter()
            .filter_map(|t| {
                Some(SamplingTarget {
                    rule_name: t.rule_name?,
                    fixed_rate: t.fixed_rate,
                    reservoir_quota: t.reservoir_quota.map(|q| u32::try_from(q).unwrap_or(0)),
                    reservoir_quota_ttl: t.reservoir_quota_ttl.and_then(epoch_secs),
                    interval_secs: t.interval.and_then(|i| u32::try_from(i).ok()),
                    sampling_boost: t.sampling_boost.and_then(|b| {
                        Some(SamplingBoost {
                            boost_rate: b.boost_rate,
                            boost_rate_ttl: epoch_secs(b.boost_rate_ttl)?,
                        })
                    }),
                })
            })
            .collect(),
        last_rule_modification: out.last_rule_modification.and_then(epoch_secs),
        unprocessed_boost_statistics: out
            .unprocessed_boost_statistics
            .into_iter()
            .filter_map(|u| u.rule_name)
            .collect(),
    })
}

fn epoch_secs_f64(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// The `GetSamplingTargets` request body for `statistics` and
/// `boost_statistics` (`SamplingBoostStatisticsDocuments` only when there
/// are some).
pub fn targets_request(
    statistics: &[SamplingStatistics],
    boost_statistics: &[SamplingBoostStatistics],
) -> Value {
    let mut body = statistics_request(statistics);
    if !boost_statistics.is_empty() {
        let docs: Vec<Value> = boost_statistics
            .iter()
            .map(|s| {
                json!({
                    "RuleName": s.rule_name,
                    "ServiceName": s.service_name,
                    "Timestamp": epoch_secs_f64(s.timestamp),
                    "AnomalyCount": s.anomaly_count,
                    "TotalCount": s.total_count,
                    "SampledAnomalyCount": s.sampled_anomaly_count,
                })
            })
            .collect();
        body["SamplingBoostStatisticsDocuments"] = Value::Array(docs);
    }
    body
}

/// The `GetSamplingTargets` request body for `statistics`.
pub fn statistics_request(statistics: &[SamplingStatistics]) -> Value {
    let docs: Vec<Value> = statistics
        .iter()
        .map(|s| {
            json!({
                "ClientID": s.client_id,
                "RuleName": s.rule_name,
                "Timestamp": epoch_secs_f64(s.timestamp),
                "RequestCount": s.request_count,
                "SampledCount": s.sampled_count,
                "BorrowCount": s.borrow_count,
            })
        })
        .collect();
    json!({ "SamplingStatisticsDocuments": docs })
}
