//! [`XraySampler`]: the decision path. Lock-free: the rule set is an
//! `ArcSwap` snapshot replaced by the poller, reservoirs and counters are
//! atomics, and nothing here waits on the network.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;
use opentelemetry::trace::{Link, SpanKind, TraceContextExt, TraceId, TraceState};
use opentelemetry::{Context, Key, KeyValue, Value};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{SamplingDecision, SamplingResult, ShouldSample, SpanData};

use super::adaptive::{AdaptiveSampling, EndedSpan, TraceUsage};
use super::clock::{Clock, SystemClock, epoch_millis};
use super::local::{CompiledLocalRule, LocalRules, LocalTarget};
use super::reservoir::Reservoir;
use super::rule::{
    Prefilter, RequestHeads, RuleState, SamplingBoostStatistics, SamplingRule, SamplingStatistics,
    SamplingTarget, order, ratio_sampled,
};
use super::span_info::{ResourceInfo, SpanInfo};

/// Span attribute naming the rule that decided (`spec/xray.md`).
pub const SAMPLING_RULE_ATTRIBUTE: &str = "aws.xray.sampling_rule";
/// Rules older than this are not trusted: the fallback sampler decides.
pub const RULES_EXPIRY: Duration = Duration::from_secs(3600);
/// Fallback: requests per second sampled before the ratio.
pub const FALLBACK_RESERVOIR_PER_SECOND: u32 = 1;
/// Fallback: fraction of the rest sampled by trace id.
pub const FALLBACK_RATE: f64 = 0.05;
/// Trace state key naming the rule that decided a trace, for its spans
/// (ADOT's key; set only for rules with `SamplingRateBoost`).
pub const SAMPLING_RULE_TRACE_STATE_KEY: &str = "xrsr";

/// The X-Ray sampler (root sampler; wrap it in
/// [`crate::sampling::DeferredAwareParentBased`] for parent-based behaviour,
/// as [`crate::sampling::SamplerConfig::build_for`] does).
///
/// Cloning shares the state. When every clone is dropped, a poller started
/// with [`XraySampler::spawn_poller`] stops.
#[derive(Clone, Debug)]
pub struct XraySampler {
    pub(crate) shared: Arc<Shared>,
}

#[derive(Debug)]
pub(crate) struct Shared {
    clock: Arc<dyn Clock>,
    client_id: String,
    resource: ResourceInfo,
    mode: Mode,
    fallback: Reservoir,
    pub(crate) poller: OnceLock<tokio::task::AbortHandle>,
    /// Adaptive sampling: what an anomaly is, the capture limit.
    adaptive: AdaptiveSampling,
    /// `ServiceName` of the boost statistics.
    boost_service_name: String,
    /// Anomalous unsampled traces captured this second.
    capture: Reservoir,
    /// Which traces were counted for a boost or are being captured.
    usage: TraceUsage,
    /// Whether a rule in use has `SamplingRateBoost` (and adaptive sampling
    /// is on): read on every not-sampled decision, so not in the snapshot.
    any_boost: AtomicBool,
}

impl Drop for Shared {
    fn drop(&mut self) {
        if let Some(task) = self.poller.get() {
            task.abort();
        }
    }
}

#[derive(Debug)]
enum Mode {
    Remote(ArcSwap<RuleSet>),
    Local(LocalSet),
}

#[derive(Debug, Default)]
struct RuleSet {
    rules: Vec<Arc<RuleState>>,
    /// Each rule's [`Prefilter`], in the same order.
    prefilters: Vec<Prefilter>,
    /// Each rule's [`Prefilter::first_word`], in the same order.
    first_words: Vec<(u64, u64)>,
    /// Epoch ms of the fetch these rules came from; `None`: never fetched.
    fetched_ms: Option<u64>,
}

#[derive(Debug)]
struct LocalSet {
    rules: Vec<(CompiledLocalRule, LocalTarget, Reservoir, Value)>,
    default: (LocalTarget, Reservoir, Value),
}

impl XraySampler {
    /// A centralized sampler for a process with this `resource` (its
    /// `service.name`, `cloud.platform` and ARN are what `ServiceName`,
    /// `ServiceType` and `ResourceARN` match). It has no rules until
    /// [`XraySampler::update_rules`] (the poller calls it); until then, and
    /// when rules are older than [`RULES_EXPIRY`], the fallback decides:
    /// 1 request/s, then 5 % by trace id.
    pub fn remote(resource: &Resource, clock: Arc<dyn Clock>) -> Self {
        Self::remote_with(ResourceInfo::from_resource(resource), clock)
    }

    /// [`XraySampler::remote`] with the resource values given directly.
    pub fn remote_with(resource: ResourceInfo, clock: Arc<dyn Clock>) -> Self {
        Self::remote_adaptive(resource, clock, AdaptiveSampling::Default)
    }

    /// [`XraySampler::remote_with`] with this adaptive sampling setting
    /// (`AWS_XRAY_ADAPTIVE_SAMPLING_CONFIG`).
    pub fn remote_adaptive(
        resource: ResourceInfo,
        clock: Arc<dyn Clock>,
        adaptive: AdaptiveSampling,
    ) -> Self {
        let mut sampler = Self::new(
            resource,
            clock,
            Mode::Remote(ArcSwap::from_pointee(RuleSet::default())),
        );
        if let Some(shared) = Arc::get_mut(&mut sampler.shared) {
            shared.adaptive = adaptive;
        }
        sampler
    }

    /// A sampler deciding by an aws-xray-sdk local rules file.
    pub fn local(rules: &LocalRules, clock: Arc<dyn Clock>) -> Self {
        let name = |s: &str| Value::String(Arc::<str>::from(s).into());
        let set = LocalSet {
            rules: rules
                .rules
                .iter()
                .map(|r| {
                    (
                        CompiledLocalRule::new(r),
                        r.target,
                        Reservoir::default(),
                        name(&r.description),
                    )
                })
                .collect(),
            default: (rules.default, Reservoir::default(), name("Default")),
        };
        Self::new(ResourceInfo::default(), clock, Mode::Local(set))
    }

    fn new(resource: ResourceInfo, clock: Arc<dyn Clock>, mode: Mode) -> Self {
        let id: [u8; 12] = rand::random();
        Self {
            shared: Arc::new(Shared {
                clock,
                client_id: hex::encode(id),
                boost_service_name: resource
                    .service_name
                    .clone()
                    .unwrap_or_else(|| "default".to_string()),
                resource,
                mode,
                fallback: Reservoir::default(),
                poller: OnceLock::new(),
                adaptive: AdaptiveSampling::Default,
                capture: Reservoir::default(),
                usage: TraceUsage::default(),
                any_boost: AtomicBool::new(false),
            }),
        }
    }

    /// The system clock, for callers that have no clock to inject.
    pub fn system_clock() -> Arc<dyn Clock> {
        Arc::new(SystemClock)
    }

    /// `ClientID` sent with the statistics: 24 hex characters.
    pub fn client_id(&self) -> &str {
        &self.shared.client_id
    }

    pub(crate) fn downgrade(&self) -> Weak<Shared> {
        Arc::downgrade(&self.shared)
    }

    pub(crate) fn now(&self) -> SystemTime {
        self.shared.clock.now()
    }

    /// Installs a fresh `GetSamplingRules` answer: unusable rules dropped,
    /// ordered by `Priority` then `RuleName`; a rule that did not change
    /// keeps its target, reservoir and counters. Marks the rules fresh now.
    /// No effect on a local-rules sampler.
    pub fn update_rules(&self, rules: Vec<SamplingRule>) {
        let Mode::Remote(set) = &self.shared.mode else {
            return;
        };
        let old = set.load_full();
        let adaptive = self.shared.adaptive.rejection().is_none();
        let rules: Vec<Arc<RuleState>> = order(rules)
            .into_iter()
            .map(|rule| {
                let state = RuleState::new(rule, &self.shared.resource, adaptive);
                if let Some(prev) = old.rules.iter().find(|p| p.rule == state.rule) {
                    state.inherit(prev);
                }
                Arc::new(state)
            })
            .collect();
        self.shared
            .any_boost
            .store(rules.iter().any(|r| r.has_boost()), Ordering::Relaxed);
        let prefilters: Vec<Prefilter> = rules.iter().map(|r| r.prefilter()).collect();
        set.store(Arc::new(RuleSet {
            first_words: prefilters.iter().map(Prefilter::first_word).collect(),
            prefilters,
            rules,
            fetched_ms: Some(epoch_millis(self.now())),
        }));
    }

    /// Names of the rules in use, in matching order.
    pub fn rule_names(&self) -> Vec<String> {
        match &self.shared.mode {
            Mode::Remote(set) => set
                .load()
                .rules
                .iter()
                .map(|r| r.rule.rule_name.clone())
                .collect(),
            Mode::Local(_) => Vec::new(),
        }
    }

    /// When the rules in use were fetched (`None`: never, or local rules).
    pub fn rules_fetched_at(&self) -> Option<SystemTime> {
        match &self.shared.mode {
            Mode::Remote(set) => set
                .load()
                .fetched_ms
                .map(|ms| UNIX_EPOCH + Duration::from_millis(ms)),
            Mode::Local(_) => None,
        }
    }

    /// Applies `GetSamplingTargets` targets to the rules they name.
    pub fn update_targets(&self, targets: &[SamplingTarget]) {
        let Mode::Remote(set) = &self.shared.mode else {
            return;
        };
        let set = set.load();
        for t in targets {
            if let Some(r) = set.rules.iter().find(|r| r.rule.rule_name == t.rule_name) {
                r.set_target(t);
            }
        }
    }

    /// Statistics of every rule since the last call, and resets them.
    pub fn take_statistics(&self) -> Vec<SamplingStatistics> {
        let Mode::Remote(set) = &self.shared.mode else {
            return Vec::new();
        };
        let now = self.now();
        set.load()
            .rules
            .iter()
            .map(|r| r.take_statistics(&self.shared.client_id, now))
            .collect()
    }

    /// Adaptive sampling boost statistics of every rule with
    /// `SamplingRateBoost` that saw traces since the last call, and resets
    /// them.
    pub fn take_boost_statistics(&self) -> Vec<SamplingBoostStatistics> {
        let Mode::Remote(set) = &self.shared.mode else {
            return Vec::new();
        };
        let now = self.now();
        set.load()
            .rules
            .iter()
            .filter_map(|r| r.take_boost_statistics(&self.shared.boost_service_name, now))
            .collect()
    }

    /// The boost in force for `rule` now: `(BoostRate, until)`.
    pub fn boost_of(&self, rule: &str) -> Option<(f64, SystemTime)> {
        let Mode::Remote(set) = &self.shared.mode else {
            return None;
        };
        let now_ms = epoch_millis(self.now());
        set.load()
            .rules
            .iter()
            .find(|r| r.rule.rule_name == rule)
            .and_then(|r| r.boost_at(now_ms))
            .map(|(rate, end)| (rate, UNIX_EPOCH + Duration::from_millis(end)))
    }

    /// The adaptive sampling setting.
    pub fn adaptive(&self) -> &AdaptiveSampling {
        &self.shared.adaptive
    }

    /// Whether not-sampled spans must be recorded (so adaptive sampling sees
    /// them end): a configuration is given, or a rule in use has
    /// `SamplingRateBoost`. Never for local rules or a rejected configuration.
    pub fn records_unsampled(&self) -> bool {
        match (&self.shared.mode, &self.shared.adaptive) {
            (Mode::Local(_), _) | (_, AdaptiveSampling::Rejected(_)) => false,
            (_, AdaptiveSampling::Config(_)) => true,
            (Mode::Remote(_), AdaptiveSampling::Default) => {
                self.shared.any_boost.load(Ordering::Relaxed)
            }
        }
    }

    /// Adaptive sampling at span end (every recorded span, sampled or not):
    /// counts the trace and its anomaly for the boost statistics of the rule
    /// that decided the trace (named by the `xrsr` trace state), once per
    /// trace; returns whether this not-sampled span is captured (its trace
    /// had an anomaly and fit `anomalyTracesPerSecond`, or was already
    /// being captured).
    pub fn on_span_end(&self, span: &SpanData) -> bool {
        if !self.records_unsampled() {
            return false;
        }
        let Mode::Remote(set) = &self.shared.mode else {
            return false;
        };
        let set = set.load();
        let ctx = &span.span_context;
        let rule = ctx
            .trace_state()
            .get(SAMPLING_RULE_TRACE_STATE_KEY)
            .and_then(|h| {
                set.rules
                    .iter()
                    .find(|r| r.trace_state_hash.as_deref() == Some(h))
            });
        let anomaly = self.shared.adaptive.classify(&EndedSpan {
            attributes: &span.attributes,
            status: &span.status,
            duration: span
                .end_time
                .duration_since(span.start_time)
                .unwrap_or_default(),
        });
        let sampled = ctx.is_sampled();
        let now_ms = self.shared.clock.now_millis();
        let per_second = self.shared.adaptive.capture_per_second();
        let trace = u128::from_be_bytes(ctx.trace_id().to_bytes());
        let mut captured = false;
        self.shared.usage.visit(trace, now_ms, |prev| {
            let mut entry = prev.unwrap_or_default();
            if !sampled
                && (entry.captured
                    || (anomaly.capture && self.shared.capture.try_take(now_ms / 1000, per_second)))
            {
                captured = true;
                entry.captured = true;
            }
            if let Some(rule) = rule {
                if anomaly.boost && !entry.boosted {
                    rule.count_anomaly(sampled);
                    entry.boosted = true;
                }
                if prev.is_none() {
                    rule.count_trace();
                }
            }
            entry
        });
        captured
    }

    /// Whether any rule in use checks span `Attributes`.
    pub fn needs_attributes(&self) -> bool {
        match &self.shared.mode {
            Mode::Remote(set) => set.load().rules.iter().any(|r| r.needs_attributes()),
            Mode::Local(_) => false,
        }
    }

    /// The decision: sampled or not, the deciding rule's name when sampled
    /// (cloning it shares its `Arc<str>`), and the span's trace state:
    /// `parent`'s, with the rule's `xrsr` entry when the rule has
    /// `SamplingRateBoost` and no upstream rule is named yet.
    #[inline]
    pub(crate) fn decide(
        &self,
        trace_id: TraceId,
        attrs: &[KeyValue],
        parent: TraceState,
    ) -> (bool, Option<Value>, TraceState) {
        let now_ms = self.shared.clock.now_millis();
        let bytes = trace_id.to_bytes();
        let mut low = [0u8; 8];
        low.copy_from_slice(&bytes[8..]);
        let low = u64::from_be_bytes(low);
        let span = SpanInfo::from_attributes(attrs);
        match &self.shared.mode {
            Mode::Remote(set) => {
                let set = set.load();
                let fresh = set
                    .fetched_ms
                    .is_some_and(|at| now_ms.saturating_sub(at) <= RULES_EXPIRY.as_millis() as u64);
                if fresh {
                    let req = RequestHeads::of(&span);
                    let first = req.first_word();
                    let candidates = set
                        .first_words
                        .iter()
                        .zip(&set.prefilters)
                        .zip(&set.rules)
                        .filter(|(((mask, lit), _), _)| first & mask == *lit);
                    for ((_, pre), rule) in candidates {
                        if pre.may_match(&req) && rule.matches_after(pre, &span, attrs) {
                            let sampled = rule.sample(now_ms, low);
                            return (
                                sampled,
                                sampled.then(|| rule.name_value.clone()),
                                with_rule(parent, rule),
                            );
                        }
                    }
                }
                (self.fallback(now_ms, low), None, parent)
            }
            Mode::Local(local) => {
                let now_sec = now_ms / 1000;
                let (target, reservoir, name) = local
                    .rules
                    .iter()
                    .find(|(c, ..)| {
                        c.path.matches(span.path)
                            && c.method.matches(span.method)
                            && c.host.matches(span.host)
                    })
                    .map(|(_, t, r, n)| (t, r, n))
                    .unwrap_or((&local.default.0, &local.default.1, &local.default.2));
                let sampled = reservoir.try_take(now_sec, target.fixed_target)
                    || ratio_sampled(low, target.rate);
                (sampled, sampled.then(|| name.clone()), parent)
            }
        }
    }

    fn fallback(&self, now_ms: u64, low: u64) -> bool {
        self.shared
            .fallback
            .try_take(now_ms / 1000, FALLBACK_RESERVOIR_PER_SECOND)
            || ratio_sampled(low, FALLBACK_RATE)
    }
}

/// `trace_state` with `rule`'s `xrsr` entry: a rule with SamplingRateBoost
/// names itself to the trace's spans (an upstream service's rule wins), so
/// their anomalies count for it. A root span's (empty) trace state becomes a
/// clone of the rule's prebuilt one, without re-validating.
#[inline]
fn with_rule(trace_state: TraceState, rule: &RuleState) -> TraceState {
    if trace_state == TraceState::NONE {
        if let Some(own) = &rule.trace_state {
            return own.clone();
        }
    } else if trace_state.get(SAMPLING_RULE_TRACE_STATE_KEY).is_none()
        && let Some(hash) = &rule.trace_state_hash
        && let Ok(with_rule) = trace_state.insert(SAMPLING_RULE_TRACE_STATE_KEY, hash.clone())
    {
        return with_rule;
    }
    trace_state
}

impl ShouldSample for XraySampler {
    fn should_sample(
        &self,
        parent_context: Option<&Context>,
        trace_id: TraceId,
        _name: &str,
        _span_kind: &SpanKind,
        attributes: &[KeyValue],
        _links: &[Link],
    ) -> SamplingResult {
        let parent = match parent_context {
            Some(cx) if cx.has_active_span() => cx.span().span_context().trace_state().clone(),
            _ => TraceState::default(),
        };
        let (sampled, rule, trace_state) = self.decide(trace_id, attributes, parent);
        SamplingResult {
            decision: if sampled {
                SamplingDecision::RecordAndSample
            } else {
                SamplingDecision::Drop
            },
            // Only sampled spans are recorded, so only they carry the rule
            // (and a dropped span costs no allocation).
            attributes: match rule {
                Some(name) => vec![KeyValue::new(
                    Key::from_static_str(SAMPLING_RULE_ATTRIBUTE),
                    name,
                )],
                None => Vec::new(),
            },
            trace_state,
        }
    }
}
