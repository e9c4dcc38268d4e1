//! A fake of the X-Ray API (restJson1, as aws-sdk-xray 1.121 sends it): every
//! operation is `POST /<path>` with a JSON body, SigV4 service `xray`.
//!
//! | operation                   | path                          | answer |
//! |-----------------------------|-------------------------------|--------|
//! | PutTraceSegments            | `/TraceSegments`              | `{"UnprocessedTraceSegments": [...]}` (documents that are not JSON objects) |
//! | GetTraceSegmentDestination  | `/GetTraceSegmentDestination` | `{"Destination": <configured>, "Status": "ACTIVE"}` |
//! | GetSamplingRules            | `/GetSamplingRules`           | the configured rules ([`default_sampling_rules`] when `null`) |
//! | GetSamplingTargets          | `/SamplingTargets`            | one target per statistics document (rule's `FixedRate`, `ReservoirQuota` = `ReservoirSize`, TTL now + 60 s, `Interval` 10), with `SamplingBoost` while the rule's boost lasts; `UnprocessedBoostStatistics` |
//!
//! Adaptive sampling (X-Ray API reference: `SamplingRule.SamplingRateBoost
//! {MaxRate, CooldownWindowMinutes}`, `GetSamplingTargets`
//! `SamplingBoostStatisticsDocuments` ≤ 25 of `{RuleName, ServiceName,
//! Timestamp, AnomalyCount, TotalCount, SampledAnomalyCount}`, answers
//! `SamplingTargetDocuments[].SamplingBoost {BoostRate, BoostRateTTL}` and
//! `UnprocessedBoostStatistics`): a boost statistics document with
//! `AnomalyCount > 0` for a rule that has a `SamplingRateBoost` starts a
//! boost of that rule at its `MaxRate` for [`XrayApiOptions::boost_ttl`],
//! unless a boost of the rule started less than `CooldownWindowMinutes` ago
//! (X-Ray computes the smallest boost that captures the anomalies, at most
//! `MaxRate`; the fake always grants `MaxRate`). A boost document for an
//! unknown rule or a rule without `SamplingRateBoost` comes back in
//! `UnprocessedBoostStatistics`. X-Ray never puts `SamplingRateBoost` on the
//! `Default` rule: the fake removes one a test configures there.
//!
//! Anything else is 404 `UnknownOperationException`; a bad signature is 403
//! with the `x-amzn-errortype` of [`crate::sigv4::SigV4Error::aws_error_type`];
//! a malformed body or a limit broken (over 50 segment documents, over 25
//! statistics documents) is 400 `InvalidRequestException`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use http::{HeaderValue, StatusCode, header};
use serde_json::{Value, json};

use crate::otlp::{Rejection, check_sigv4, record};
use crate::server::{RecordedRequest, RequestLog, RunningServer, ServerError};
use crate::sigv4::SigV4Expect;

/// Most documents one PutTraceSegments call may carry (spec: 50).
pub const MAX_SEGMENT_DOCUMENTS: usize = 50;
/// Most statistics documents one GetSamplingTargets call may carry (spec: 25).
pub const MAX_STATISTICS_DOCUMENTS: usize = 25;
/// Most boost statistics documents one GetSamplingTargets call may carry (API reference: 25).
pub const MAX_BOOST_STATISTICS_DOCUMENTS: usize = 25;
/// Longest `RuleName` of a boost statistics document (API reference: 1 to 32 characters).
pub const MAX_RULE_NAME_LEN: usize = 32;
/// Longest `ServiceName` of a boost statistics document (API reference: 64).
pub const MAX_SERVICE_NAME_LEN: usize = 64;
/// How long a boost lasts by default (X-Ray's boosts last up to a minute).
pub const DEFAULT_BOOST_TTL: Duration = Duration::from_secs(60);

/// How the fake X-Ray API behaves.
#[derive(Clone, Debug)]
pub struct XrayApiOptions {
    /// Verify SigV4 (service should be `xray`); `None` accepts unsigned requests.
    pub sigv4: Option<SigV4Expect>,
    /// What GetTraceSegmentDestination reports: `"XRay"` or `"CloudWatchLogs"`.
    pub segment_destination: String,
    /// The whole GetSamplingRules response; `Value::Null` means [`default_sampling_rules`].
    pub sampling_rules: Value,
    /// How long a granted boost lasts (`BoostRateTTL` = now + this).
    pub boost_ttl: Duration,
}

impl Default for XrayApiOptions {
    fn default() -> Self {
        Self {
            sigv4: None,
            segment_destination: "XRay".to_owned(),
            sampling_rules: default_sampling_rules(),
            boost_ttl: DEFAULT_BOOST_TTL,
        }
    }
}

impl XrayApiOptions {
    /// Defaults plus SigV4 service `xray` in `region` with [`crate::sigv4::Credentials::test`].
    pub fn signed(region: &str) -> Self {
        Self {
            sigv4: Some(SigV4Expect::test(region, "xray")),
            ..Self::default()
        }
    }
}

/// A GetSamplingRules response holding only X-Ray's built-in `Default` rule
/// (1 request/s reservoir, then 5 %).
pub fn default_sampling_rules() -> Value {
    json!({
        "SamplingRuleRecords": [{
            "SamplingRule": {
                "RuleName": "Default",
                "RuleARN": "arn:aws:xray:us-east-1:123456789012:sampling-rule/Default",
                "ResourceARN": "*",
                "Priority": 10000,
                "FixedRate": 0.05,
                "ReservoirSize": 1,
                "ServiceName": "*",
                "ServiceType": "*",
                "Host": "*",
                "HTTPMethod": "*",
                "URLPath": "*",
                "Version": 1,
                "Attributes": {}
            },
            "CreatedAt": 0.0,
            "ModifiedAt": 1_530_558_121.0
        }]
    })
}

/// One `SamplingRuleRecords[]` entry matching every request of `service`
/// with a `SamplingRateBoost {MaxRate, CooldownWindowMinutes}` (as the API
/// reference shapes it).
pub fn boosted_sampling_rule(
    name: &str,
    service: &str,
    priority: i64,
    reservoir_size: i64,
    fixed_rate: f64,
    max_rate: f64,
    cooldown_window_minutes: i64,
) -> Value {
    json!({
        "SamplingRule": {
            "RuleName": name,
            "RuleARN": format!("arn:aws:xray:us-east-1:123456789012:sampling-rule/{name}"),
            "ResourceARN": "*",
            "Priority": priority,
            "FixedRate": fixed_rate,
            "ReservoirSize": reservoir_size,
            "ServiceName": service,
            "ServiceType": "*",
            "Host": "*",
            "HTTPMethod": "*",
            "URLPath": "*",
            "Version": 1,
            "Attributes": {},
            "SamplingRateBoost": {
                "MaxRate": max_rate,
                "CooldownWindowMinutes": cooldown_window_minutes
            }
        },
        "CreatedAt": 0.0,
        "ModifiedAt": 1_530_558_121.0
    })
}

/// A boost X-Ray granted a rule: when it started and its `BoostRateTTL`
/// (epoch seconds), and its rate.
#[derive(Clone, Copy, Debug)]
struct Boost {
    started: f64,
    ttl: f64,
    rate: f64,
}

#[derive(Debug)]
struct Shared {
    opts: XrayApiOptions,
    log: RequestLog,
    segments: Mutex<Vec<Value>>,
    statistics: Mutex<Vec<Value>>,
    boost_statistics: Mutex<Vec<Value>>,
    boosts: Mutex<HashMap<String, Boost>>,
    rejected: Mutex<Vec<(u16, String)>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A running fake X-Ray API on `127.0.0.1:<port>`. Dropping it stops it.
#[derive(Debug)]
pub struct FakeXrayApi {
    server: RunningServer,
    shared: Arc<Shared>,
}

impl FakeXrayApi {
    /// Starts the fake (inside a tokio runtime).
    pub async fn start(opts: XrayApiOptions) -> Result<Self, ServerError> {
        let shared = Arc::new(Shared {
            opts,
            log: RequestLog::default(),
            segments: Mutex::new(Vec::new()),
            statistics: Mutex::new(Vec::new()),
            boost_statistics: Mutex::new(Vec::new()),
            boosts: Mutex::new(HashMap::new()),
            rejected: Mutex::new(Vec::new()),
        });
        let router = Router::new().fallback(handle).with_state(shared.clone());
        let server = RunningServer::start(router).await?;
        Ok(Self { server, shared })
    }

    /// `http://127.0.0.1:<port>` (no trailing slash): the SDK's endpoint URL.
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// Every request that arrived, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.log.all()
    }

    /// Segment documents received by PutTraceSegments (accepted calls only), parsed.
    pub fn segments(&self) -> Vec<Value> {
        lock(&self.shared.segments).clone()
    }

    /// `SamplingStatisticsDocuments` entries received by GetSamplingTargets.
    pub fn sampling_statistics(&self) -> Vec<Value> {
        lock(&self.shared.statistics).clone()
    }

    /// `SamplingBoostStatisticsDocuments` entries received by GetSamplingTargets.
    pub fn sampling_boost_statistics(&self) -> Vec<Value> {
        lock(&self.shared.boost_statistics).clone()
    }

    /// `(BoostRate, BoostRateTTL)` of the boost the fake granted `rule` last, if any.
    pub fn boost_of(&self, rule: &str) -> Option<(f64, SystemTime)> {
        lock(&self.shared.boosts)
            .get(rule)
            .map(|b| (b.rate, UNIX_EPOCH + Duration::from_secs_f64(b.ttl.max(0.0))))
    }

    /// `(status, "<x-amzn-errortype>: <message>")` of each rejected request.
    pub fn rejected(&self) -> Vec<(u16, String)> {
        lock(&self.shared.rejected).clone()
    }
}

async fn handle(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let result = match record(&shared.log, req).await {
        Ok(req) => process(&shared, &req),
        Err(rejection) => Err(rejection),
    };
    match result {
        Ok(body) => {
            let mut resp = Response::new(Body::from(body.to_string()));
            *resp.status_mut() = StatusCode::OK;
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            resp
        }
        Err(rejection) => {
            tracing::debug!(?rejection, "fake X-Ray API rejected a request");
            lock(&shared.rejected).push(rejection.summary());
            rejection.into_response()
        }
    }
}

fn invalid(reason: impl Into<String>) -> Rejection {
    Rejection::new(400, "InvalidRequestException", reason)
}

fn process(shared: &Shared, req: &RecordedRequest) -> Result<Value, Rejection> {
    let path = req.path_and_query.split('?').next().unwrap_or_default();
    let known = [
        "/TraceSegments",
        "/GetTraceSegmentDestination",
        "/GetSamplingRules",
        "/SamplingTargets",
    ];
    if req.method != http::Method::POST || !known.contains(&path) {
        return Err(Rejection::new(
            404,
            "UnknownOperationException",
            format!("no X-Ray operation at {} {path}", req.method),
        ));
    }
    check_sigv4(shared.opts.sigv4.as_ref(), req, SystemTime::now())?;
    // The SDK sends `{}` for operations without input; an empty body is accepted too.
    let input: Value = if req.body.is_empty() {
        json!({})
    } else {
        serde_json::from_slice(&req.body)
            .map_err(|e| invalid(format!("request body is not JSON: {e}")))?
    };
    if !input.is_object() {
        return Err(invalid("request body must be a JSON object"));
    }
    match path {
        "/TraceSegments" => put_trace_segments(shared, &input),
        "/GetTraceSegmentDestination" => Ok(json!({
            "Destination": shared.opts.segment_destination,
            "Status": "ACTIVE",
        })),
        "/GetSamplingRules" => Ok(sampling_rules(shared)),
        _ => sampling_targets(shared, &input),
    }
}

fn put_trace_segments(shared: &Shared, input: &Value) -> Result<Value, Rejection> {
    let Some(docs) = input.get("TraceSegmentDocuments").and_then(Value::as_array) else {
        return Err(invalid(
            "TraceSegmentDocuments (a list of JSON strings) is required",
        ));
    };
    if docs.len() > MAX_SEGMENT_DOCUMENTS {
        return Err(invalid(format!(
            "{} TraceSegmentDocuments in one call; at most {MAX_SEGMENT_DOCUMENTS} allowed",
            docs.len()
        )));
    }
    let mut accepted = Vec::new();
    let mut unprocessed = Vec::new();
    for doc in docs {
        let parsed = doc
            .as_str()
            .and_then(|s| serde_json::from_str::<Value>(s).ok());
        match parsed {
            Some(v) if v.is_object() => accepted.push(v),
            _ => unprocessed.push(json!({
                "Id": doc.as_str().and_then(|s| serde_json::from_str::<Value>(s).ok()).and_then(|v| v.get("id").cloned()),
                "ErrorCode": "InvalidSegment",
                "Message": "segment document is not a JSON object",
            })),
        }
    }
    lock(&shared.segments).extend(accepted);
    Ok(json!({ "UnprocessedTraceSegments": unprocessed }))
}

/// The configured rules, `SamplingRateBoost` removed from the `Default` rule.
fn sampling_rules(shared: &Shared) -> Value {
    let mut rules = if shared.opts.sampling_rules.is_null() {
        default_sampling_rules()
    } else {
        shared.opts.sampling_rules.clone()
    };
    if let Some(records) = rules
        .get_mut("SamplingRuleRecords")
        .and_then(Value::as_array_mut)
    {
        for rule in records
            .iter_mut()
            .filter_map(|r| r.get_mut("SamplingRule"))
            .filter_map(Value::as_object_mut)
        {
            if rule.get("RuleName").and_then(Value::as_str) == Some("Default")
                && rule.remove("SamplingRateBoost").is_some()
            {
                tracing::warn!(
                    "fake X-Ray API: the Default rule cannot carry SamplingRateBoost; removed"
                );
            }
        }
    }
    rules
}

fn count(doc: &Value, key: &str) -> Result<u64, Rejection> {
    doc.get(key).and_then(Value::as_u64).ok_or_else(|| {
        invalid(format!(
            "every boost statistics document needs {key}, a whole number >= 0"
        ))
    })
}

/// Checks one `SamplingBoostStatisticsDocument` (every field is required).
fn check_boost_document(doc: &Value) -> Result<(&str, u64), Rejection> {
    let name = doc
        .get("RuleName")
        .and_then(Value::as_str)
        .filter(|n| (1..=MAX_RULE_NAME_LEN).contains(&n.chars().count()))
        .ok_or_else(|| {
            invalid(format!(
                "every boost statistics document needs a RuleName of 1 to {MAX_RULE_NAME_LEN} characters"
            ))
        })?;
    doc.get("ServiceName")
        .and_then(Value::as_str)
        .filter(|n| n.chars().count() <= MAX_SERVICE_NAME_LEN)
        .ok_or_else(|| {
            invalid(format!(
                "every boost statistics document needs a ServiceName of at most {MAX_SERVICE_NAME_LEN} characters"
            ))
        })?;
    if !doc.get("Timestamp").is_some_and(Value::is_number) {
        return Err(invalid(
            "every boost statistics document needs a Timestamp (epoch seconds)",
        ));
    }
    let anomalies = count(doc, "AnomalyCount")?;
    count(doc, "TotalCount")?;
    count(doc, "SampledAnomalyCount")?;
    Ok((name, anomalies))
}

fn sampling_targets(shared: &Shared, input: &Value) -> Result<Value, Rejection> {
    let Some(stats) = input
        .get("SamplingStatisticsDocuments")
        .and_then(Value::as_array)
    else {
        return Err(invalid("SamplingStatisticsDocuments is required"));
    };
    if stats.len() > MAX_STATISTICS_DOCUMENTS {
        return Err(invalid(format!(
            "{} SamplingStatisticsDocuments in one call; at most {MAX_STATISTICS_DOCUMENTS} allowed",
            stats.len()
        )));
    }
    let boost_stats = match input.get("SamplingBoostStatisticsDocuments") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(docs)) => docs.clone(),
        Some(_) => {
            return Err(invalid(
                "SamplingBoostStatisticsDocuments must be a list of SamplingBoostStatisticsDocument",
            ));
        }
    };
    if boost_stats.len() > MAX_BOOST_STATISTICS_DOCUMENTS {
        return Err(invalid(format!(
            "{} SamplingBoostStatisticsDocuments in one call; at most {MAX_BOOST_STATISTICS_DOCUMENTS} allowed",
            boost_stats.len()
        )));
    }
    let checked = boost_stats
        .iter()
        .map(check_boost_document)
        .collect::<Result<Vec<_>, _>>()?;
    let rules = sampling_rules(shared);
    let records = rules
        .get("SamplingRuleRecords")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let rule = |name: &str| {
        records
            .iter()
            .filter_map(|r| r.get("SamplingRule"))
            .find(|r| r.get("RuleName").and_then(Value::as_str) == Some(name))
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    let mut unprocessed_boost = Vec::new();
    {
        let mut boosts = lock(&shared.boosts);
        for (name, anomalies) in &checked {
            let Some(boost) = rule(name).and_then(|r| r.get("SamplingRateBoost")) else {
                unprocessed_boost.push(json!({
                    "RuleName": name,
                    "ErrorCode": "400",
                    "Message": format!("sampling rule {name:?} does not exist or has no SamplingRateBoost"),
                }));
                continue;
            };
            if *anomalies == 0 {
                continue;
            }
            let max_rate = boost.get("MaxRate").and_then(Value::as_f64).unwrap_or(0.0);
            let cooldown = boost
                .get("CooldownWindowMinutes")
                .and_then(Value::as_f64)
                .unwrap_or(1.0)
                * 60.0;
            let cooling = boosts
                .get(*name)
                .is_some_and(|b| now < b.started + cooldown);
            if !cooling {
                boosts.insert(
                    (*name).to_owned(),
                    Boost {
                        started: now,
                        ttl: (now + shared.opts.boost_ttl.as_secs_f64()).floor(),
                        rate: max_rate,
                    },
                );
            }
        }
    }
    let boosts = lock(&shared.boosts).clone();
    let mut targets = Vec::new();
    for doc in stats {
        let Some(name) = doc.get("RuleName").and_then(Value::as_str) else {
            return Err(invalid("every statistics document needs a RuleName"));
        };
        let r = rule(name);
        let mut target = json!({
            "RuleName": name,
            "FixedRate": r.and_then(|r| r.get("FixedRate")).cloned().unwrap_or(json!(0.05)),
            "ReservoirQuota": r.and_then(|r| r.get("ReservoirSize")).cloned().unwrap_or(json!(1)),
            "ReservoirQuotaTTL": (now + 60.0).floor(),
            "Interval": 10,
        });
        if let Some(b) = boosts.get(name).filter(|b| now < b.ttl) {
            target["SamplingBoost"] = json!({ "BoostRate": b.rate, "BoostRateTTL": b.ttl });
        }
        targets.push(target);
    }
    let last_modification = records
        .iter()
        .filter_map(|r| r.get("ModifiedAt").and_then(Value::as_f64))
        .fold(0.0_f64, f64::max);
    lock(&shared.statistics).extend(stats.iter().cloned());
    lock(&shared.boost_statistics).extend(boost_stats);
    Ok(json!({
        "SamplingTargetDocuments": targets,
        "LastRuleModification": last_modification,
        "UnprocessedStatistics": [],
        "UnprocessedBoostStatistics": unprocessed_boost,
    }))
}
