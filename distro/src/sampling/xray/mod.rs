//! The X-Ray sampler (`OTEL_TRACES_SAMPLER=xray`): centralized rules from
//! X-Ray (directly, or through a proxy) or an aws-xray-sdk local rules file.
//!
//! * [`XraySampler`] decides without blocking: rules are an atomically
//!   swapped snapshot, reservoirs and counters are atomics.
//! * The poller ([`XraySampler::spawn_poller`]) runs on tokio and keeps the
//!   rules and targets fresh.
//! * All time comes from a [`Clock`] so tests control it.

mod adaptive;
mod capture;
mod client;
mod clock;
mod glob;
mod local;
mod options;
mod poller;
#[cfg(feature = "server")]
pub mod proxy;
mod reservoir;
mod rule;
mod sampler;
mod span_info;

pub use adaptive::{
    AWS_XRAY_ADAPTIVE_SAMPLING_CONFIG, AdaptiveConfigError, AdaptiveSampling,
    AdaptiveSamplingConfig, AnomalyCondition, AnomalyUsage, DEFAULT_ANOMALY_TRACES_PER_SECOND,
    ErrorCodeRegex, TRACE_FLAG_SAMPLED_ATTRIBUTE, TRACE_USAGE_MAX, TRACE_USAGE_TTL,
};
pub use capture::{
    AnomalyCaptureProcessor, CAPTURE_BATCH, CAPTURE_DELAY, CAPTURE_FLUSH_TIMEOUT, CAPTURE_QUEUE,
};
pub use client::{
    CALL_TIMEOUT, MAX_STATISTICS_PER_CALL, SamplingTargets, XrayApiClient, XrayApiError,
    parse_sampling_rules, parse_sampling_targets, statistics_request, targets_request,
};
pub use clock::{Clock, ManualClock, SystemClock};
pub use local::{LocalRule, LocalRules, LocalRulesError, LocalTarget};
pub use options::{MAX_POLLING_INTERVAL_SECS, XrayRulesSource, XraySamplerOptions};
pub use poller::{
    DEFAULT_RULES_INTERVAL, DEFAULT_TARGETS_INTERVAL, PollerClient, PollerHandle, PollerOptions,
    ReportOutcome, refresh_rules, report_statistics,
};
pub use rule::{
    SamplingBoost, SamplingBoostStatistics, SamplingRateBoost, SamplingRule, SamplingStatistics,
    SamplingTarget,
};
pub use sampler::{
    FALLBACK_RATE, FALLBACK_RESERVOIR_PER_SECOND, RULES_EXPIRY, SAMPLING_RULE_ATTRIBUTE,
    SAMPLING_RULE_TRACE_STATE_KEY, XraySampler,
};
pub use span_info::{ResourceInfo, service_type};
