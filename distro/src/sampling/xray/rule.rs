//! Remote sampling rules (`GetSamplingRules`), what they match, and the
//! per-rule state the sampling path updates: reservoir, target, statistics.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use arc_swap::ArcSwap;
use opentelemetry::{KeyValue, Value};

use super::clock::epoch_millis;
use super::glob::Glob;
use super::reservoir::Reservoir;
use super::span_info::{ResourceInfo, SpanInfo};

/// One `SamplingRuleRecords[].SamplingRule` of a `GetSamplingRules` answer.
#[derive(Clone, Debug, PartialEq)]
pub struct SamplingRule {
    /// `RuleName` (rules with an empty name are ignored).
    pub rule_name: String,
    /// `Priority`: lower is matched first.
    pub priority: i32,
    /// `FixedRate`: fraction sampled beyond the reservoir.
    pub fixed_rate: f64,
    /// `ReservoirSize`: requests per second sampled before the fixed rate.
    pub reservoir_size: i32,
    /// `ServiceName` pattern (resource `service.name`).
    pub service_name: String,
    /// `ServiceType` pattern (`AWS::EC2::Instance`, ... from `cloud.platform`).
    pub service_type: String,
    /// `Host` pattern (`server.address` / `http.host`).
    pub host: String,
    /// `HTTPMethod` pattern (`http.request.method` / `http.method`).
    pub http_method: String,
    /// `URLPath` pattern (`url.path` / `http.target`, else the path of `url.full`).
    pub url_path: String,
    /// `ResourceARN` pattern.
    pub resource_arn: String,
    /// `Attributes`: span attribute key → pattern; every entry must match.
    pub attributes: Vec<(String, String)>,
    /// `Version`: only 1 is used.
    pub version: i32,
}

impl SamplingRule {
    /// A rule matching everything (all patterns `*`), for tests and examples.
    pub fn match_all(name: &str, priority: i32, reservoir_size: i32, fixed_rate: f64) -> Self {
        Self {
            rule_name: name.to_string(),
            priority,
            fixed_rate,
            reservoir_size,
            service_name: "*".into(),
            service_type: "*".into(),
            host: "*".into(),
            http_method: "*".into(),
            url_path: "*".into(),
            resource_arn: "*".into(),
            attributes: Vec::new(),
            version: 1,
        }
    }

    /// Whether the sampler uses this rule (`spec/xray.md`: ignore rules with
    /// an empty name or `Version != 1`).
    pub fn is_usable(&self) -> bool {
        !self.rule_name.is_empty() && self.version == 1
    }
}

/// One `SamplingTargetDocuments[]` entry of a `GetSamplingTargets` answer.
#[derive(Clone, Debug, PartialEq)]
pub struct SamplingTarget {
    /// `RuleName`.
    pub rule_name: String,
    /// `FixedRate` to use beyond the quota.
    pub fixed_rate: f64,
    /// `ReservoirQuota`: requests per second this client may sample; `None`
    /// means no reservoir (fixed rate only).
    pub reservoir_quota: Option<u32>,
    /// `ReservoirQuotaTTL`: when the quota ends; `None` means it does not.
    pub reservoir_quota_ttl: Option<SystemTime>,
    /// `Interval`: seconds until the next targets call, if X-Ray asks for one.
    pub interval_secs: Option<u32>,
}

/// One `SamplingStatisticsDocuments[]` entry sent to `GetSamplingTargets`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SamplingStatistics {
    /// `ClientID`: 24 hex characters, fixed for the sampler's life.
    pub client_id: String,
    /// `RuleName`.
    pub rule_name: String,
    /// `Timestamp` of the snapshot.
    pub timestamp: SystemTime,
    /// `RequestCount`: requests that matched the rule.
    pub request_count: u64,
    /// `SampledCount`: of those, sampled (**Decision**: the API's name).
    pub sampled_count: u64,
    /// `BorrowCount`: of those, sampled by borrowing before a target arrived.
    pub borrow_count: u64,
}

/// What a rule's reservoir does now.
#[derive(Clone, Debug, PartialEq)]
enum Target {
    /// No target yet: borrow 1 req/s when `ReservoirSize > 0`, rule's `FixedRate`.
    Initial,
    /// X-Ray's target.
    Assigned {
        quota: u32,
        /// Epoch ms when the quota ends (`u64::MAX`: never).
        quota_end_ms: u64,
        fixed_rate: f64,
    },
}

/// A usable rule with its compiled patterns and live state.
#[derive(Debug)]
pub(crate) struct RuleState {
    pub(crate) rule: SamplingRule,
    pub(crate) name_value: Value,
    /// Whether `ServiceName`/`ServiceType`/`ResourceARN` match this process's
    /// resource (fixed for the sampler's life, so computed once).
    resource_match: bool,
    host: Glob,
    method: Glob,
    path: Glob,
    attributes: Box<[(Box<str>, Glob)]>,
    reservoir: Reservoir,
    target: ArcSwap<Target>,
    requests: AtomicU64,
    sampled: AtomicU64,
    borrowed: AtomicU64,
}

impl RuleState {
    pub(crate) fn new(rule: SamplingRule, resource: &ResourceInfo) -> Self {
        let resource_match = Glob::new(&rule.service_name)
            .matches(resource.service_name.as_deref())
            && Glob::new(&rule.service_type).matches(resource.service_type)
            && Glob::new(&rule.resource_arn).matches(resource.resource_arn.as_deref());
        let attributes = rule
            .attributes
            .iter()
            .map(|(k, v)| (Box::<str>::from(k.as_str()), Glob::new(v)))
            .collect();
        Self {
            name_value: Value::String(Arc::<str>::from(rule.rule_name.as_str()).into()),
            resource_match,
            host: Glob::new(&rule.host),
            method: Glob::new(&rule.http_method),
            path: Glob::new(&rule.url_path),
            attributes,
            reservoir: Reservoir::default(),
            target: ArcSwap::from_pointee(Target::Initial),
            requests: AtomicU64::new(0),
            sampled: AtomicU64::new(0),
            borrowed: AtomicU64::new(0),
            rule,
        }
    }

    /// Whether this rule has `Attributes` to check (the only matching that
    /// may allocate: non-string attribute values are formatted).
    pub(crate) fn needs_attributes(&self) -> bool {
        !self.attributes.is_empty()
    }

    /// `spec/xray.md`: match all of URLPath, HTTPMethod, Host, ServiceName,
    /// ServiceType, ResourceARN and every Attributes entry.
    #[inline]
    pub(crate) fn matches(&self, span: &SpanInfo<'_>, attrs: &[KeyValue]) -> bool {
        self.resource_match
            && self.path.matches(span.path)
            && self.method.matches(span.method)
            && self.host.matches(span.host)
            && self.attributes.iter().all(|(key, glob)| {
                match attrs.iter().find(|kv| kv.key.as_str() == &**key) {
                    None => glob.matches(None),
                    Some(kv) => match &kv.value {
                        Value::String(s) => glob.matches(Some(s.as_str())),
                        other => glob.matches(Some(&other.as_str())),
                    },
                }
            })
    }

    /// The decision for a request this rule matched; counts it.
    #[inline]
    pub(crate) fn sample(&self, now_ms: u64, trace_id_low: u64) -> bool {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let now_sec = now_ms / 1000;
        let target = self.target.load();
        let (take, borrowing, fixed_rate) = match **target {
            Target::Initial => (
                self.rule.reservoir_size > 0 && self.reservoir.try_take(now_sec, 1),
                true,
                self.rule.fixed_rate,
            ),
            Target::Assigned {
                quota,
                quota_end_ms,
                fixed_rate,
            } => (
                now_ms < quota_end_ms && self.reservoir.try_take(now_sec, quota),
                false,
                fixed_rate,
            ),
        };
        if take {
            self.sampled.fetch_add(1, Ordering::Relaxed);
            if borrowing {
                self.borrowed.fetch_add(1, Ordering::Relaxed);
            }
            return true;
        }
        let sampled = ratio_sampled(trace_id_low, fixed_rate);
        if sampled {
            self.sampled.fetch_add(1, Ordering::Relaxed);
        }
        sampled
    }

    /// Applies X-Ray's target for this rule.
    pub(crate) fn set_target(&self, t: &SamplingTarget) {
        self.target.store(Arc::new(Target::Assigned {
            quota: t.reservoir_quota.unwrap_or(0),
            quota_end_ms: t.reservoir_quota_ttl.map_or(u64::MAX, epoch_millis),
            fixed_rate: t.fixed_rate,
        }));
    }

    /// Takes (and resets) the counters.
    pub(crate) fn take_statistics(&self, client_id: &str, now: SystemTime) -> SamplingStatistics {
        SamplingStatistics {
            client_id: client_id.to_string(),
            rule_name: self.rule.rule_name.clone(),
            timestamp: now,
            request_count: self.requests.swap(0, Ordering::Relaxed),
            sampled_count: self.sampled.swap(0, Ordering::Relaxed),
            borrow_count: self.borrowed.swap(0, Ordering::Relaxed),
        }
    }

    /// Carries the live state of `old` (same rule) over to `self`.
    pub(crate) fn inherit(&self, old: &RuleState) {
        self.target.store(old.target.load_full());
        self.reservoir.copy_from(&old.reservoir);
        for (to, from) in [
            (&self.requests, &old.requests),
            (&self.sampled, &old.sampled),
            (&self.borrowed, &old.borrowed),
        ] {
            to.store(from.swap(0, Ordering::Relaxed), Ordering::Relaxed);
        }
    }
}

/// Trace-id ratio decision, as OpenTelemetry's `TraceIdRatioBased`: the low
/// 63 bits of the trace id compared with `rate * 2^63`.
#[inline]
pub(crate) fn ratio_sampled(trace_id_low: u64, rate: f64) -> bool {
    if rate >= 1.0 {
        return true;
    }
    if rate.is_nan() || rate <= 0.0 {
        return false;
    }
    let bound = (rate * (1u64 << 63) as f64) as u64;
    (trace_id_low >> 1) < bound
}

/// Sorts by `Priority`, then `RuleName`, dropping unusable rules.
pub(crate) fn order(mut rules: Vec<SamplingRule>) -> Vec<SamplingRule> {
    rules.retain(SamplingRule::is_usable);
    rules.sort_by(|a, b| {
        a.priority
            .cmp(&b.priority)
            .then_with(|| a.rule_name.cmp(&b.rule_name))
    });
    rules
}
