//! Sampling: the configured sampler (`OTEL_TRACES_SAMPLER`), the
//! parent-based sampler that honours X-Ray's deferred decision, and the
//! X-Ray sampler ([`xray`]).

mod config;
mod deferred;
pub mod xray;

pub use config::{
    ACCEPTED_SAMPLERS, ConfiguredSampler, OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG,
    SamplerConfig, SamplerConfigError, StartObserver,
};
pub use deferred::DeferredAwareParentBased;
pub use xray::{XrayRulesSource, XraySampler, XraySamplerOptions};
