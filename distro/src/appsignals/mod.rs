//! CloudWatch Application Signals from OTLP spans: ADOT's attribute rules
//! and the Latency/Error/Fault metrics the CloudWatch agent sends as EMF.
//!
//! - [`Generator`] computes, per span, the service and dependency metric
//!   attributes (`aws.span.kind`, `aws.local.service`,
//!   `aws.local.operation`, `aws.remote.service`, `aws.remote.operation`,
//!   `aws.remote.environment`, `aws.remote.resource.*`,
//!   `aws.remote.db.user`) with the rules of ADOT's
//!   `AwsMetricAttributeGenerator`; [`Generator::apply`] runs it over one
//!   [`ExportTraceServiceRequest`], adding `aws.local.environment`
//!   ([`local_environment`]), writing the attributes onto the spans and
//!   reporting one [`Observation`] per metric label set.
//! - [`MetricsAggregator`] turns observations into Latency (ms), Error
//!   (4xx) and Fault (5xx, or ERROR status) per label set and interval, as
//!   one [`ExportMetricsServiceRequest`]; [`emf_config`] is the CloudWatch
//!   agent's EMF setting for them (log group `/aws/application-signals/data`,
//!   namespace `ApplicationSignals`, no rollup, its dimension sets).
//! - [`AppSignals`] ties the three together for a pipeline: `process` each
//!   traces batch, `flush` each interval to EMF events.
//!
//! Deliberate differences from ADOT are listed in docs/application-signals.md.

use std::sync::Mutex;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

mod batch;
mod cache;
mod end;
mod environment;
pub mod export;
mod generator;
pub mod keys;
mod metrics;
mod parse;
mod propagate;
mod sql;
#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns
mod tests;

pub use batch::{ApplyStats, HeapAdded, Observation, Source};
pub use end::EndAnnotator;
pub use environment::{
    EC2_ASG_TAG, GENERIC_DEFAULT, HOSTED_IN_ENVIRONMENT, local_environment, metric_environment,
};
pub use export::{AppSignalsExporter, EmfSink, FlushHandle, FlushStats};
pub use generator::{
    AttrSet, Generator, GeneratorConfig, MetricAttributes, SpanContext, local_service,
};
pub use metrics::{
    DEFAULT_MAX_SERIES, ERROR, FAULT, LATENCY, LOG_GROUP, MetricsAggregator, NAMESPACE, SCOPE,
    TELEMETRY_SOURCE, dimension_name, emf_config,
};
pub use propagate::{MAX_LIVE, Propagation};

use crate::emf::{EmfBatch, EmfConfigError, EmfEncoder};
use crate::env::Env;
use crate::shard::Padded;

/// `OTEL_AWS_APPLICATION_SIGNALS_ENABLED`: `true` turns Application Signals on (distro).
pub const ENABLED_ENV: &str = "OTEL_AWS_APPLICATION_SIGNALS_ENABLED";
/// `AWS_LAMBDA_FUNCTION_NAME`: inside Lambda, the ingress operation's function.
pub const LAMBDA_FUNCTION_NAME_ENV: &str = "AWS_LAMBDA_FUNCTION_NAME";
/// `LAMBDA_APPLICATION_SIGNALS_REMOTE_ENVIRONMENT`: environment of invoked functions.
pub const LAMBDA_REMOTE_ENVIRONMENT_ENV: &str = "LAMBDA_APPLICATION_SIGNALS_REMOTE_ENVIRONMENT";

pub use crate::config::vars::AWS_ENDPOINT_URL_LOGS;

/// The CloudWatch Logs endpoint override in `env`: the first set of
/// `AWS_ENDPOINT_URL_CLOUDWATCH_LOGS`, `AWS_ENDPOINT_URL_LOGS` and
/// `AWS_ENDPOINT_URL` ([`crate::config::vars::LOGS_ENDPOINT_VARS`]).
pub fn logs_endpoint_url(env: &Env) -> Option<String> {
    crate::config::vars::LOGS_ENDPOINT_VARS
        .iter()
        .find_map(|var| env.get(var))
        .map(str::to_owned)
}

impl GeneratorConfig {
    /// The settings from the environment (`AWS_LAMBDA_FUNCTION_NAME`,
    /// `LAMBDA_APPLICATION_SIGNALS_REMOTE_ENVIRONMENT`).
    pub fn from_env(env: &Env) -> Self {
        let get = |k: &str| {
            env.get(k)
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        Self {
            lambda_function_name: get(LAMBDA_FUNCTION_NAME_ENV),
            lambda_remote_environment: get(LAMBDA_REMOTE_ENVIRONMENT_ENV),
        }
    }
}

/// The generator, the per-interval aggregation and the EMF encoder of one
/// pipeline (shared by reference; the aggregation is behind mutexes).
#[derive(Debug)]
pub struct AppSignals {
    generator: Generator,
    /// The aggregation in shards: spans ending on the distro's threads
    /// record into their thread's ([`crate::shard::thread_number`]; one
    /// lock for every span's metrics made threads wait on each other),
    /// batches ([`AppSignals::process`]) into the first; merged into the
    /// first at the flush.
    aggregators: [Padded<Mutex<MetricsAggregator>>; AGGREGATORS],
    encoder: EmfEncoder,
}

/// Shards of the aggregation.
const AGGREGATORS: usize = 8;

impl AppSignals {
    /// With the generator `config` and at most `max_series` label sets per interval.
    pub fn new(config: GeneratorConfig, max_series: usize) -> Result<Self, EmfConfigError> {
        Ok(Self {
            generator: Generator::new(config),
            aggregators: std::array::from_fn(|_| {
                Padded(Mutex::new(MetricsAggregator::new(max_series)))
            }),
            encoder: EmfEncoder::new(emf_config())?,
        })
    }

    /// The generator.
    pub fn generator(&self) -> &Generator {
        &self.generator
    }

    /// Annotates `req`'s spans and records their metrics.
    pub fn process(&self, req: &mut ExportTraceServiceRequest) -> ApplyStats {
        self.generator.apply_with(req, &mut |outcomes| {
            if outcomes.iter().all(|o| o.labels().is_empty()) {
                return;
            }
            let mut agg = self.aggregator(0);
            for o in outcomes {
                for c in o.labels() {
                    agg.record_cached(c, o.latency_ms, o.error, o.fault);
                }
            }
        })
    }

    /// Annotates `req`'s spans without recording metrics (a second
    /// exporter's copy of a batch already recorded).
    pub fn annotate(&self, req: &mut ExportTraceServiceRequest) -> ApplyStats {
        self.generator.apply_with(req, &mut |_| {})
    }

    /// Ends the interval at `now_unix_nano`: its metrics as OTLP.
    pub fn take_metrics(&self, now_unix_nano: u64) -> Option<ExportMetricsServiceRequest> {
        let mut agg = self.aggregator(0);
        for shard in 1..AGGREGATORS {
            agg.absorb(&mut self.aggregator(shard));
        }
        agg.take(&[], now_unix_nano)
    }

    /// Ends the interval at `now_unix_nano`: its metrics as EMF events for
    /// `/aws/application-signals/data`.
    pub fn flush(&self, now_unix_nano: u64) -> EmfBatch {
        match self.take_metrics(now_unix_nano) {
            Some(req) => self
                .encoder
                .encode_at(&req, (now_unix_nano / 1_000_000) as i64),
            None => EmfBatch::default(),
        }
    }

    /// Observations dropped by the series limit so far.
    pub fn dropped(&self) -> u64 {
        (0..AGGREGATORS).map(|s| self.aggregator(s).dropped()).sum()
    }

    /// The aggregation's shard `shard`, locked.
    fn aggregator(&self, shard: usize) -> std::sync::MutexGuard<'_, MetricsAggregator> {
        self.aggregators[shard % AGGREGATORS]
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// This thread's shard of the aggregation, locked.
    pub(crate) fn thread_aggregator(&self) -> std::sync::MutexGuard<'_, MetricsAggregator> {
        self.aggregator(crate::shard::thread_number())
    }
}
