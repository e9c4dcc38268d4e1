//! `OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG`.

use super::DeferredAwareParentBased;
use super::xray::{
    PollerClient, PollerHandle, PollerOptions, ResourceInfo, XrayApiClient, XrayRulesSource,
    XraySampler, XraySamplerOptions,
};
use crate::Env;
use aws_credential_types::provider::SharedCredentialsProvider;
use opentelemetry::trace::{Link, SpanKind, TraceId};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{Sampler, SamplingDecision, SamplingResult, ShouldSample};
use std::path::PathBuf;
use std::sync::Arc;

/// Which sampler to use (OpenTelemetry standard variable). Default
/// `parentbased_always_on`.
pub const OTEL_TRACES_SAMPLER: &str = "OTEL_TRACES_SAMPLER";
/// Argument of the ratio samplers: a probability in `[0, 1]`. Default `1.0`.
/// For `xray`: `endpoint=<url>,polling_interval=<seconds>` or
/// `rules_file=<path>` (see [`XraySamplerOptions`]).
pub const OTEL_TRACES_SAMPLER_ARG: &str = "OTEL_TRACES_SAMPLER_ARG";

/// Values of `OTEL_TRACES_SAMPLER` this version accepts.
pub const ACCEPTED_SAMPLERS: &str = "always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off, parentbased_traceidratio, xray";

/// The sampler chosen by configuration.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum SamplerConfig {
    /// Sample every span.
    AlwaysOn,
    /// Sample nothing.
    AlwaysOff,
    /// Sample this fraction of traces by trace id, ignoring the parent.
    TraceIdRatio(f64),
    /// Follow the parent; root spans and deferred X-Ray parents are sampled.
    #[default]
    ParentBasedAlwaysOn,
    /// Follow the parent; root spans and deferred X-Ray parents are dropped.
    ParentBasedAlwaysOff,
    /// Follow the parent; root spans and deferred X-Ray parents by ratio.
    ParentBasedTraceIdRatio(f64),
    /// X-Ray centralized sampling (or a local rules file) as the root
    /// sampler, parent-based ([`DeferredAwareParentBased`]).
    Xray(XraySamplerOptions),
}

/// Why the sampler configuration was rejected.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SamplerConfigError {
    /// `OTEL_TRACES_SAMPLER` names a sampler we do not know.
    #[error(
        "{OTEL_TRACES_SAMPLER}={value:?} is not a known sampler; set it to one of: {ACCEPTED_SAMPLERS}"
    )]
    UnknownSampler {
        /// The value found.
        value: String,
    },
    /// `OTEL_TRACES_SAMPLER_ARG` is not a number in `[0, 1]`.
    #[error(
        "{OTEL_TRACES_SAMPLER_ARG}={value:?} is not a valid ratio for {sampler}; set a number between 0 and 1 (for example 0.05), or unset it for 1.0"
    )]
    InvalidRatio {
        /// The value found.
        value: String,
        /// The ratio sampler it was meant for.
        sampler: &'static str,
    },
    /// `OTEL_TRACES_SAMPLER_ARG` is not valid for the xray sampler (the
    /// value is not quoted whole: its endpoint may carry credentials).
    #[error(
        "{OTEL_TRACES_SAMPLER_ARG} is not valid for the xray sampler: {reason}; set it to endpoint=http://<proxy>:2000[,polling_interval=<seconds>], or rules_file=/path/rules.json, or unset it to call X-Ray directly"
    )]
    InvalidXrayArg {
        /// What is wrong (naming the key, never the whole value).
        reason: String,
    },
    /// The local rules file named by `rules_file=` cannot be used.
    #[error("{OTEL_TRACES_SAMPLER_ARG}: sampling rules file {}: {problem}", path.display())]
    RulesFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
    },
}

impl SamplerConfig {
    /// Reads `OTEL_TRACES_SAMPLER` (case-insensitive; default
    /// `parentbased_always_on`) and, for the ratio samplers,
    /// `OTEL_TRACES_SAMPLER_ARG` (default `1.0`; ignored by the others).
    pub fn from_env(env: &Env) -> Result<SamplerConfig, SamplerConfigError> {
        let Some(value) = env.get(OTEL_TRACES_SAMPLER) else {
            return Ok(SamplerConfig::default());
        };
        let ratio = |sampler: &'static str| -> Result<f64, SamplerConfigError> {
            match env.get(OTEL_TRACES_SAMPLER_ARG) {
                None => Ok(1.0),
                Some(arg) => arg
                    .parse::<f64>()
                    .ok()
                    .filter(|r| (0.0..=1.0).contains(r))
                    .ok_or_else(|| SamplerConfigError::InvalidRatio {
                        value: arg.to_string(),
                        sampler,
                    }),
            }
        };
        match value.to_ascii_lowercase().as_str() {
            "always_on" => Ok(SamplerConfig::AlwaysOn),
            "always_off" => Ok(SamplerConfig::AlwaysOff),
            "traceidratio" => Ok(SamplerConfig::TraceIdRatio(ratio("traceidratio")?)),
            "parentbased_always_on" => Ok(SamplerConfig::ParentBasedAlwaysOn),
            "parentbased_always_off" => Ok(SamplerConfig::ParentBasedAlwaysOff),
            "parentbased_traceidratio" => Ok(SamplerConfig::ParentBasedTraceIdRatio(ratio(
                "parentbased_traceidratio",
            )?)),
            "xray" => Ok(SamplerConfig::Xray(XraySamplerOptions::from_env(env)?)),
            _ => Err(SamplerConfigError::UnknownSampler {
                value: value.to_string(),
            }),
        }
    }

    /// The variable's spelling of this sampler (for `otel-aws config`).
    pub fn name(&self) -> &'static str {
        match self {
            SamplerConfig::AlwaysOn => "always_on",
            SamplerConfig::AlwaysOff => "always_off",
            SamplerConfig::TraceIdRatio(_) => "traceidratio",
            SamplerConfig::ParentBasedAlwaysOn => "parentbased_always_on",
            SamplerConfig::ParentBasedAlwaysOff => "parentbased_always_off",
            SamplerConfig::ParentBasedTraceIdRatio(_) => "parentbased_traceidratio",
            SamplerConfig::Xray(_) => "xray",
        }
    }

    /// Builds the sampler; every `parentbased_*` (and `xray`) is a
    /// [`DeferredAwareParentBased`]. Pass it to
    /// `SdkTracerProvider::builder().with_sampler(..)`. For `xray` this is
    /// [`SamplerConfig::build_for`] with an empty resource and the default
    /// credential chain.
    pub fn build(&self) -> ConfiguredSampler {
        self.build_for(&Resource::builder_empty().build(), None)
    }

    /// Builds the sampler for a process with this `resource` (the xray
    /// sampler matches `ServiceName`/`ServiceType`/`ResourceARN` against
    /// it). For remote `xray` this spawns the rules poller on the current
    /// tokio runtime (outside one: a warning, and the fallback decides); the
    /// poller stops when every clone of the sampler is dropped or on
    /// [`ConfiguredSampler::shutdown`]. `credentials` override the default
    /// chain when X-Ray is called directly (no `endpoint`).
    pub fn build_for(
        &self,
        resource: &Resource,
        credentials: Option<SharedCredentialsProvider>,
    ) -> ConfiguredSampler {
        let mut poller = None;
        let mut remote_xray = None;
        let inner = match self {
            SamplerConfig::AlwaysOn => Inner::Plain(Sampler::AlwaysOn),
            SamplerConfig::AlwaysOff => Inner::Plain(Sampler::AlwaysOff),
            SamplerConfig::TraceIdRatio(r) => Inner::Plain(Sampler::TraceIdRatioBased(*r)),
            SamplerConfig::ParentBasedAlwaysOn => {
                Inner::Parent(DeferredAwareParentBased::new(Sampler::AlwaysOn))
            }
            SamplerConfig::ParentBasedAlwaysOff => {
                Inner::Parent(DeferredAwareParentBased::new(Sampler::AlwaysOff))
            }
            SamplerConfig::ParentBasedTraceIdRatio(r) => Inner::Parent(
                DeferredAwareParentBased::new(Sampler::TraceIdRatioBased(*r)),
            ),
            SamplerConfig::Xray(opts) => {
                let clock = XraySampler::system_clock();
                let remote = || {
                    XraySampler::remote_adaptive(
                        ResourceInfo::from_resource(resource),
                        clock.clone(),
                        opts.adaptive.clone(),
                    )
                };
                let (sampler, client) = match &opts.source {
                    XrayRulesSource::File { rules, .. } => {
                        (XraySampler::local(rules, clock.clone()), None)
                    }
                    XrayRulesSource::Proxy { endpoint } => (
                        remote(),
                        match XrayApiClient::proxy(endpoint) {
                            Ok(c) => Some(PollerClient::Ready(c)),
                            Err(err) => {
                                tracing::warn!(%err, "X-Ray sampler cannot poll; using the fallback");
                                None
                            }
                        },
                    ),
                    XrayRulesSource::Api {
                        region,
                        endpoint_url,
                    } => (
                        remote(),
                        Some(PollerClient::DefaultChain {
                            region: region.clone(),
                            endpoint_url: endpoint_url.clone(),
                            credentials,
                        }),
                    ),
                };
                if let Some(client) = client {
                    poller = sampler.spawn_poller(
                        client,
                        PollerOptions {
                            rules_interval: opts.polling_interval,
                            ..PollerOptions::default()
                        },
                    );
                    remote_xray = Some(sampler.clone());
                }
                Inner::Parent(DeferredAwareParentBased::new(sampler))
            }
        };
        ConfiguredSampler {
            inner,
            poller,
            remote_xray,
            observer: None,
            record_all: false,
        }
    }
}

/// Told of each span the sampler lets start, with what only the sampler
/// sees of it (its kind, its name and attributes at start, its parent
/// context): Application Signals' propagation
/// ([`crate::appsignals::Propagation`]). Called on the thread that starts
/// the span, just before the span processors' `on_start`.
pub trait StartObserver: Send + Sync + std::fmt::Debug {
    /// A span of `trace_id` starts (recorded: sampled or record-only).
    fn starting(
        &self,
        parent: Option<&Context>,
        trace_id: TraceId,
        name: &str,
        kind: &SpanKind,
        attributes: &[KeyValue],
    );
}

/// The sampler [`SamplerConfig::build`] returns.
#[derive(Clone, Debug)]
pub struct ConfiguredSampler {
    inner: Inner,
    poller: Option<PollerHandle>,
    /// The remote xray sampler (adaptive sampling: not-sampled spans are
    /// recorded while it asks for it).
    remote_xray: Option<XraySampler>,
    /// Told of each recorded span as it starts.
    observer: Option<Arc<dyn StartObserver>>,
    /// Spans not sampled are recorded (`RecordOnly`) rather than dropped.
    record_all: bool,
}

impl ConfiguredSampler {
    /// `sampler` as [`SamplerConfig::build_for`] wraps a remote xray sampler
    /// (parent-based, not-sampled spans recorded while adaptive sampling
    /// needs them), without a poller: for callers that drive
    /// [`super::xray::refresh_rules`] / [`super::xray::report_statistics`]
    /// themselves (tests, benchmarks).
    pub fn from_xray(sampler: XraySampler) -> Self {
        Self {
            inner: Inner::Parent(DeferredAwareParentBased::new(sampler.clone())),
            poller: None,
            remote_xray: Some(sampler),
            observer: None,
            record_all: false,
        }
    }

    /// This sampler, recording the spans it does not sample (`RecordOnly`
    /// instead of `Drop`), as ADOT's `AlwaysRecordSampler` does when
    /// Application Signals is on: their metrics count every span, while
    /// only the sampled ones are exported.
    pub fn recording_all(mut self) -> Self {
        self.record_all = true;
        self
    }

    /// This sampler, telling `observer` of each span it lets start.
    pub fn with_start_observer(mut self, observer: Arc<dyn StartObserver>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// The remote xray sampler, for [`super::xray::AnomalyCaptureProcessor`]
    /// (adaptive sampling); `None` for other samplers, local rules, or a
    /// rejected `AWS_XRAY_ADAPTIVE_SAMPLING_CONFIG`.
    pub fn adaptive_xray(&self) -> Option<&XraySampler> {
        self.remote_xray
            .as_ref()
            .filter(|s| s.adaptive().rejection().is_none())
    }

    /// The xray sampler's rules poller, when one runs.
    pub fn xray_poller(&self) -> Option<&PollerHandle> {
        self.poller.as_ref()
    }

    /// Stops background work (the xray rules poller); call it when the
    /// tracer provider shuts down. Sampling keeps working with what it has.
    pub fn shutdown(&self) {
        if let Some(p) = &self.poller {
            p.stop();
        }
    }
}

#[derive(Clone, Debug)]
enum Inner {
    Plain(Sampler),
    Parent(DeferredAwareParentBased),
}

impl ShouldSample for ConfiguredSampler {
    fn should_sample(
        &self,
        parent_context: Option<&Context>,
        trace_id: TraceId,
        name: &str,
        span_kind: &SpanKind,
        attributes: &[KeyValue],
        links: &[Link],
    ) -> SamplingResult {
        let mut result = self.decide(parent_context, trace_id, name, span_kind, attributes, links);
        if self.record_all && result.decision == SamplingDecision::Drop {
            result.decision = SamplingDecision::RecordOnly;
        }
        if let Some(observer) = &self.observer
            && result.decision != SamplingDecision::Drop
        {
            observer.starting(parent_context, trace_id, name, span_kind, attributes);
        }
        result
    }
}

impl ConfiguredSampler {
    fn decide(
        &self,
        parent_context: Option<&Context>,
        trace_id: TraceId,
        name: &str,
        span_kind: &SpanKind,
        attributes: &[KeyValue],
        links: &[Link],
    ) -> SamplingResult {
        match &self.inner {
            Inner::Plain(s) => {
                s.should_sample(parent_context, trace_id, name, span_kind, attributes, links)
            }
            Inner::Parent(s) => {
                let mut result =
                    s.should_sample(parent_context, trace_id, name, span_kind, attributes, links);
                // Adaptive sampling sees every span end (anomalies of
                // not-sampled traces are counted and captured): record them.
                if result.decision == SamplingDecision::Drop
                    && self
                        .remote_xray
                        .as_ref()
                        .is_some_and(XraySampler::records_unsampled)
                {
                    result.decision = SamplingDecision::RecordOnly;
                }
                result
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(pairs: &[(&str, &str)]) -> Result<SamplerConfig, SamplerConfigError> {
        SamplerConfig::from_env(&Env::from_pairs(pairs.iter().copied()))
    }

    #[test]
    fn table() {
        use SamplerConfig::*;
        let ok: &[(&[(&str, &str)], SamplerConfig)] = &[
            (&[], ParentBasedAlwaysOn),
            (&[(OTEL_TRACES_SAMPLER, "  ")], ParentBasedAlwaysOn),
            (&[(OTEL_TRACES_SAMPLER, "always_on")], AlwaysOn),
            (&[(OTEL_TRACES_SAMPLER, "ALWAYS_OFF")], AlwaysOff),
            (&[(OTEL_TRACES_SAMPLER, "traceidratio")], TraceIdRatio(1.0)),
            (
                &[
                    (OTEL_TRACES_SAMPLER, "traceidratio"),
                    (OTEL_TRACES_SAMPLER_ARG, "0.25"),
                ],
                TraceIdRatio(0.25),
            ),
            (
                &[(OTEL_TRACES_SAMPLER, "parentbased_always_on")],
                ParentBasedAlwaysOn,
            ),
            (
                &[(OTEL_TRACES_SAMPLER, "parentbased_always_off")],
                ParentBasedAlwaysOff,
            ),
            (
                &[
                    (OTEL_TRACES_SAMPLER, "parentbased_traceidratio"),
                    (OTEL_TRACES_SAMPLER_ARG, "0"),
                ],
                ParentBasedTraceIdRatio(0.0),
            ),
            (
                &[
                    (OTEL_TRACES_SAMPLER, " parentbased_traceidratio "),
                    (OTEL_TRACES_SAMPLER_ARG, "1"),
                ],
                ParentBasedTraceIdRatio(1.0),
            ),
            // The argument is ignored by samplers that take none.
            (
                &[
                    (OTEL_TRACES_SAMPLER, "always_on"),
                    (OTEL_TRACES_SAMPLER_ARG, "junk"),
                ],
                AlwaysOn,
            ),
        ];
        for (pairs, expected) in ok {
            assert_eq!(parse(pairs).as_ref(), Ok(expected), "{pairs:?}");
        }
        let bad: &[(&[(&str, &str)], &str)] = &[
            (
                &[(OTEL_TRACES_SAMPLER, "jaeger_remote")],
                "not a known sampler",
            ),
            (
                &[
                    (OTEL_TRACES_SAMPLER, "xray"),
                    (OTEL_TRACES_SAMPLER_ARG, "endpoint=ftp://x"),
                ],
                OTEL_TRACES_SAMPLER_ARG,
            ),
            (
                &[
                    (OTEL_TRACES_SAMPLER, "traceidratio"),
                    (OTEL_TRACES_SAMPLER_ARG, "1.5"),
                ],
                OTEL_TRACES_SAMPLER_ARG,
            ),
            (
                &[
                    (OTEL_TRACES_SAMPLER, "traceidratio"),
                    (OTEL_TRACES_SAMPLER_ARG, "-0.1"),
                ],
                OTEL_TRACES_SAMPLER_ARG,
            ),
            (
                &[
                    (OTEL_TRACES_SAMPLER, "parentbased_traceidratio"),
                    (OTEL_TRACES_SAMPLER_ARG, "NaN"),
                ],
                OTEL_TRACES_SAMPLER_ARG,
            ),
            (
                &[
                    (OTEL_TRACES_SAMPLER, "parentbased_traceidratio"),
                    (OTEL_TRACES_SAMPLER_ARG, "half"),
                ],
                OTEL_TRACES_SAMPLER_ARG,
            ),
        ];
        for (pairs, needle) in bad {
            let err = parse(pairs).expect_err("must fail").to_string();
            assert!(err.contains(needle), "{err}");
        }
    }

    #[test]
    fn errors_name_the_variable_and_the_accepted_values() {
        let err = parse(&[(OTEL_TRACES_SAMPLER, "bogus")])
            .unwrap_err()
            .to_string();
        assert!(err.contains(OTEL_TRACES_SAMPLER), "{err}");
        assert!(err.contains("parentbased_traceidratio"), "{err}");
        assert_eq!(
            parse(&[(OTEL_TRACES_SAMPLER, "XRAY")]).map(|c| c.name()),
            Ok("xray")
        );
    }
}
