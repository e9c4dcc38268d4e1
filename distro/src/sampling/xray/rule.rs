//! Remote sampling rules (`GetSamplingRules`), what they match, and the
//! per-rule state the sampling path updates: reservoir, target, statistics.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use arc_swap::ArcSwap;
use opentelemetry::trace::TraceState;
use opentelemetry::{KeyValue, Value};

use super::clock::epoch_millis;
use super::glob::{End, Glob, Head, HeadCheck};
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
    /// `SamplingRateBoost` (adaptive sampling; X-Ray never sets it on the
    /// `Default` rule).
    pub sampling_rate_boost: Option<SamplingRateBoost>,
}

/// `SamplingRule.SamplingRateBoost`: the rule may be boosted when anomalies
/// are reported for it (X-Ray API reference).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SamplingRateBoost {
    /// `MaxRate` (0 to 1): the highest boosted rate X-Ray may grant.
    pub max_rate: f64,
    /// `CooldownWindowMinutes`: at most one boost per window.
    pub cooldown_window_minutes: i32,
}

/// `SamplingTargetDocuments[].SamplingBoost`: a temporary rate for a rule.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SamplingBoost {
    /// `BoostRate`: used instead of the fixed rate until `BoostRateTTL`.
    pub boost_rate: f64,
    /// `BoostRateTTL`: when the boost ends.
    pub boost_rate_ttl: SystemTime,
}

/// One `SamplingBoostStatisticsDocuments[]` entry sent to `GetSamplingTargets`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SamplingBoostStatistics {
    /// `RuleName`.
    pub rule_name: String,
    /// `ServiceName`: resource `service.name` (`default` without one, as ADOT).
    pub service_name: String,
    /// `Timestamp` of the snapshot.
    pub timestamp: SystemTime,
    /// `AnomalyCount`: traces of this rule with an anomaly.
    pub anomaly_count: u64,
    /// `TotalCount`: traces of this rule.
    pub total_count: u64,
    /// `SampledAnomalyCount`: of the anomalous traces, those sampled.
    pub sampled_anomaly_count: u64,
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
            sampling_rate_boost: None,
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
    /// `SamplingBoost`: a boosted rate until its TTL (adaptive sampling).
    pub sampling_boost: Option<SamplingBoost>,
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
        /// `BoostRate`, used instead of `fixed_rate` until `boost_end_ms`.
        boost_rate: f64,
        /// Epoch ms when the boost ends (0: no boost).
        boost_end_ms: u64,
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
    /// Adaptive sampling counters (only for a rule with `SamplingRateBoost`).
    traces: AtomicU64,
    anomalies: AtomicU64,
    sampled_anomalies: AtomicU64,
    /// Trace state value naming this rule to the spans of its traces
    /// (`xrsr`, as ADOT: the first 8 bytes of SHA-256 of the name, in hex);
    /// `None` for a rule without `SamplingRateBoost`.
    pub(crate) trace_state_hash: Option<String>,
    /// A trace state holding only `xrsr=<trace_state_hash>`: a root span
    /// (empty parent trace state) gets a clone, without re-validating.
    pub(crate) trace_state: Option<TraceState>,
}

impl RuleState {
    /// `adaptive`: whether adaptive sampling is on (else `SamplingRateBoost`
    /// and boosts are ignored).
    pub(crate) fn new(rule: SamplingRule, resource: &ResourceInfo, adaptive: bool) -> Self {
        let resource_match = Glob::new(&rule.service_name)
            .matches(resource.service_name.as_deref())
            && Glob::new(&rule.service_type).matches(resource.service_type)
            && Glob::new(&rule.resource_arn).matches(resource.resource_arn.as_deref());
        let attributes = rule
            .attributes
            .iter()
            .map(|(k, v)| (Box::<str>::from(k.as_str()), Glob::new(v)))
            .collect();
        let hash =
            (adaptive && rule.sampling_rate_boost.is_some()).then(|| rule_hash(&rule.rule_name));
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
            traces: AtomicU64::new(0),
            anomalies: AtomicU64::new(0),
            sampled_anomalies: AtomicU64::new(0),
            trace_state_hash: hash.clone(),
            trace_state: hash.and_then(|h| {
                TraceState::from_key_value([(super::sampler::SAMPLING_RULE_TRACE_STATE_KEY, h)])
                    .ok()
            }),
            rule,
        }
    }

    /// Whether X-Ray may boost this rule (it has a `SamplingRateBoost`).
    #[inline]
    pub(crate) fn has_boost(&self) -> bool {
        self.trace_state_hash.is_some()
    }

    /// Counts a trace of this rule (boost statistics `TotalCount`).
    pub(crate) fn count_trace(&self) {
        self.traces.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts an anomalous trace of this rule (`AnomalyCount`, and
    /// `SampledAnomalyCount` when it was sampled).
    pub(crate) fn count_anomaly(&self, sampled: bool) {
        self.anomalies.fetch_add(1, Ordering::Relaxed);
        if sampled {
            self.sampled_anomalies.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Takes (and resets) the boost counters; `None` for a rule without
    /// `SamplingRateBoost` or without traces since the last call (ADOT sends
    /// only documents with `TotalCount > 0`).
    pub(crate) fn take_boost_statistics(
        &self,
        service_name: &str,
        now: SystemTime,
    ) -> Option<SamplingBoostStatistics> {
        if !self.has_boost() {
            return None;
        }
        let total_count = self.traces.swap(0, Ordering::Relaxed);
        let anomaly_count = self.anomalies.swap(0, Ordering::Relaxed);
        let sampled_anomaly_count = self.sampled_anomalies.swap(0, Ordering::Relaxed);
        (total_count > 0).then(|| SamplingBoostStatistics {
            rule_name: self.rule.rule_name.clone(),
            service_name: service_name.to_string(),
            timestamp: now,
            anomaly_count,
            total_count,
            sampled_anomaly_count,
        })
    }

    /// Whether this rule has `Attributes` to check (the only matching that
    /// may allocate: non-string attribute values are formatted).
    pub(crate) fn needs_attributes(&self) -> bool {
        !self.attributes.is_empty()
    }

    /// The rule's [`Prefilter`].
    pub(crate) fn prefilter(&self) -> Prefilter {
        let check = |g: &Glob, end: End| match HeadCheck::of(g) {
            Some((check, at)) if at == end => (check, true),
            _ => (HeadCheck::PASS, false),
        };
        let (path, path_decided) = check(&self.path, End::Start);
        let (method, method_decided) = check(&self.method, End::Start);
        let (host, host_end, host_decided) = match HeadCheck::of(&self.host) {
            Some((check, end)) => (check, end, true),
            None => (HeadCheck::PASS, End::Start, false),
        };
        Prefilter {
            resource_match: self.resource_match,
            path,
            method,
            host,
            host_end,
            decided: [path_decided, method_decided, host_decided],
        }
    }

    /// `spec/xray.md`: match all of URLPath, HTTPMethod, Host, ServiceName,
    /// ServiceType, ResourceARN and every Attributes entry; for a request
    /// `pre` (this rule's [`Prefilter`]) passed, so what it decided is not
    /// checked again.
    #[inline]
    pub(crate) fn matches_after(
        &self,
        pre: &Prefilter,
        span: &SpanInfo<'_>,
        attrs: &[KeyValue],
    ) -> bool {
        let [path, method, host] = pre.decided;
        (path || self.path.matches(span.path))
            && (method || self.method.matches(span.method))
            && (host || self.host.matches(span.host))
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
                boost_rate,
                boost_end_ms,
            } => (
                now_ms < quota_end_ms && self.reservoir.try_take(now_sec, quota),
                false,
                // Adaptive sampling: the boosted rate until the boost's TTL.
                if now_ms < boost_end_ms {
                    boost_rate
                } else {
                    fixed_rate
                },
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

    /// Applies X-Ray's target for this rule. A target without
    /// `SamplingBoost` leaves a boost in progress running until its TTL; a
    /// boost for a rule without `SamplingRateBoost` is ignored.
    pub(crate) fn set_target(&self, t: &SamplingTarget) {
        let (boost_rate, boost_end_ms) = match (t.sampling_boost, &**self.target.load()) {
            (Some(b), _) if self.has_boost() => (b.boost_rate, epoch_millis(b.boost_rate_ttl)),
            (
                _,
                Target::Assigned {
                    boost_rate,
                    boost_end_ms,
                    ..
                },
            ) => (*boost_rate, *boost_end_ms),
            _ => (0.0, 0),
        };
        self.target.store(Arc::new(Target::Assigned {
            quota: t.reservoir_quota.unwrap_or(0),
            quota_end_ms: t.reservoir_quota_ttl.map_or(u64::MAX, epoch_millis),
            fixed_rate: t.fixed_rate,
            boost_rate,
            boost_end_ms,
        }));
    }

    /// The boost in force at `now_ms`: `(BoostRate, end epoch ms)`.
    pub(crate) fn boost_at(&self, now_ms: u64) -> Option<(f64, u64)> {
        match **self.target.load() {
            Target::Assigned {
                boost_rate,
                boost_end_ms,
                ..
            } if now_ms < boost_end_ms => Some((boost_rate, boost_end_ms)),
            _ => None,
        }
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
            (&self.traces, &old.traces),
            (&self.anomalies, &old.anomalies),
            (&self.sampled_anomalies, &old.sampled_anomalies),
        ] {
            to.store(from.swap(0, Ordering::Relaxed), Ordering::Relaxed);
        }
    }
}

/// A request's path, method and host heads ([`Head`]), read once per
/// decision for every rule's [`Prefilter`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct RequestHeads {
    path: Head,
    method: Head,
    host: Head,
    host_tail: Head,
}

impl RequestHeads {
    /// The path head's first word (see [`Prefilter::first_word`]).
    #[inline]
    pub(crate) fn first_word(&self) -> u64 {
        self.path.first_word()
    }

    /// The heads of `span`'s values.
    #[inline]
    pub(crate) fn of(span: &SpanInfo<'_>) -> Self {
        Self {
            path: Head::of(span.path),
            method: Head::of(span.method),
            host: Head::of(span.host),
            host_tail: Head::tail_of(span.host),
        }
    }
}

/// A test of a rule against a request, exact when it rejects, kept with
/// the other rules' in one contiguous array: whether the resource matches,
/// and the [`HeadCheck`]s of the path, method and host. A request it
/// rejects does not match the rule; one it passes still goes through
/// [`RuleState::matches_after`] for the attributes and for any pattern a
/// head does not decide. A decision tries every rule of higher priority
/// before the one that matches; this keeps those tries on one array instead
/// of in each rule's own allocation (docs/benchmarks.md, "X-Ray adaptive
/// sampling").
#[derive(Clone, Copy, Debug)]
pub(crate) struct Prefilter {
    resource_match: bool,
    path: HeadCheck,
    method: HeadCheck,
    host: HeadCheck,
    host_end: End,
    /// Whether the checks above decide the path, method and host patterns.
    decided: [bool; 3],
}

impl Prefilter {
    /// The first word of the path check (a rule whose resource does not
    /// match gets one nothing passes: `x & 0 != 1`), for a first pass over
    /// the rules that reads 16 bytes of each.
    pub(crate) fn first_word(&self) -> (u64, u64) {
        if self.resource_match {
            self.path.first_word()
        } else {
            (0, 1)
        }
    }

    /// Whether a request with these heads may match.
    #[inline(always)]
    pub(crate) fn may_match(&self, req: &RequestHeads) -> bool {
        let host = match self.host_end {
            End::Start => &req.host,
            End::Tail => &req.host_tail,
        };
        self.resource_match
            & self.path.matches(&req.path)
            & self.method.matches(&req.method)
            & self.host.matches(host)
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

/// The `xrsr` trace state value naming `rule_name`: the first 8 bytes of
/// its SHA-256 in hex (ADOT's rule hash, so a trace crossing ADOT services
/// keeps naming the same rule).
pub(crate) fn rule_hash(rule_name: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(rule_name.as_bytes());
    hex::encode(&digest[..8])
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The prefilter and the rest of the match give what matching every
    /// pattern in full gives (`spec/xray.md`), for every pattern shape a
    /// head decides and those it does not, a resource that does not match,
    /// and requests with and without each value.
    #[test]
    fn prefiltered_matching_agrees_with_the_full_match() {
        let resource = ResourceInfo {
            service_name: Some("checkout-api".into()),
            service_type: Some("AWS::ECS::Container"),
            resource_arn: None,
        };
        let shapes = [
            ("*", "*", "*"),
            ("/api/*", "GET", "*.example.com"),
            ("/API/V1/*", "post", "api.example.com"),
            ("/health", "*", "*"),
            ("*/users", "G?T", "*"),
            ("/0123456789abcdefXYZ*", "*", "*"),
            ("/a?c*", "*", "api.*"),
            ("/ü*", "*", "*.ÉXAMPLE.com"),
            ("", "", ""),
        ];
        let mut rules = Vec::new();
        for (i, (path, method, host)) in shapes.iter().enumerate() {
            for (service, attrs) in [
                ("checkout*", vec![]),
                ("other", vec![]),
                ("*", vec![("tenant".to_string(), "t1-*".to_string())]),
            ] {
                rules.push(RuleState::new(
                    SamplingRule {
                        url_path: (*path).into(),
                        http_method: (*method).into(),
                        host: (*host).into(),
                        service_name: service.into(),
                        attributes: attrs,
                        ..SamplingRule::match_all(&format!("r{i}"), 1, 1, 0.05)
                    },
                    &resource,
                    false,
                ));
            }
        }
        let paths = [
            None,
            Some(""),
            Some("/api/orders"),
            Some("/API/v1/users"),
            Some("/health"),
            Some("/healthz"),
            Some("/v1/users"),
            Some("/0123456789abcdefxyz/1"),
            Some("/abc"),
            Some("/Üx"),
        ];
        let methods = [None, Some("GET"), Some("get"), Some("POST"), Some("GOT")];
        let hosts = [
            None,
            Some("api.example.com"),
            Some("API.EXAMPLE.COM"),
            Some("example.com"),
            Some("api.internal"),
            Some("x.éxample.com"),
        ];
        let attr_sets = [vec![], vec![KeyValue::new("tenant", "T1-gold")]];
        let mut matched = 0;
        for path in paths {
            for method in methods {
                for host in hosts {
                    for attrs in &attr_sets {
                        let span = SpanInfo { path, method, host };
                        let heads = RequestHeads::of(&span);
                        for rule in &rules {
                            let full = rule.resource_match
                                && rule.path.matches(path)
                                && rule.method.matches(method)
                                && rule.host.matches(host)
                                && rule.attributes.iter().all(|(key, glob)| {
                                    glob.matches(
                                        attrs
                                            .iter()
                                            .find(|kv| kv.key.as_str() == &**key)
                                            .map(|kv| kv.value.as_str())
                                            .as_deref(),
                                    )
                                });
                            let pre = rule.prefilter();
                            let quick =
                                pre.may_match(&heads) && rule.matches_after(&pre, &span, attrs);
                            assert_eq!(quick, full, "{:?} vs {span:?} {attrs:?}", rule.rule);
                            let (mask, lit) = pre.first_word();
                            if heads.first_word() & mask != lit {
                                assert!(!full, "first word: {:?} vs {span:?}", rule.rule);
                            }
                            matched += usize::from(full);
                        }
                    }
                }
            }
        }
        // Both outcomes occur often enough for the comparison to mean something.
        assert!(matched > 100, "{matched}");
    }
}
