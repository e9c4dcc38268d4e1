//! Sampling: the configured sampler (`OTEL_TRACES_SAMPLER`) and the
//! parent-based sampler that honours X-Ray's deferred decision.

mod config;
mod deferred;

pub use config::{
    ACCEPTED_SAMPLERS, ConfiguredSampler, OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG,
    SamplerConfig, SamplerConfigError,
};
pub use deferred::DeferredAwareParentBased;
