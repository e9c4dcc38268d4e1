//! Application Signals at a span's end, in the distro: the rules run on the
//! SDK's span just before the batch processor encodes it
//! ([`crate::export::SpanAnnotator`]), and their attributes are written into
//! its encoding from the cached, already encoded result; its metrics are
//! recorded then. Nothing is left for the exporter's side: the batch goes
//! to the OTLP/HTTP exporter as it was encoded.
//!
//! What the batch walk ([`super::Generator::apply`]) learns from a span's
//! parents in the batch, a span here carries from its start
//! ([`super::Propagation`]: `aws.local.operation`,
//! `aws.consumer.parent.span.kind`); whether it is a local root comes from
//! the SDK's parent id and remote flag. The same cache key, results and
//! label sets as the batch walk's.

use std::borrow::Cow;
use std::sync::{Arc, Mutex};

use opentelemetry::trace::{SpanId, Status};
use opentelemetry_proto::tonic::common::v1::KeyValue as OtlpKeyValue;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind as OtlpKind;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SpanData;

use super::AppSignals;
use super::cache::{
    Derived, DerivedCache, SdkKey, SpanInputs, StatusCodes, span_key, span_key_sdk,
};
use super::environment::local_environment_ref;
use super::generator::{Generator, SpanContext, local_service_ref};
use super::keys::FLASK_SCOPE;
use crate::export::{SpanAnnotator, SpanTimes};
use crate::shard::{Padded, thread_number};

/// The rules and metrics at each span's end, for one batch processor
/// (`record`: this one records the metrics; with several exporters only
/// the first does, so each span counts once).
#[derive(Debug)]
pub struct EndAnnotator {
    signals: Arc<AppSignals>,
    record: bool,
    /// One lock for both: every span reads the resource's view and the
    /// cache. A state per shard of threads ([`crate::shard`]): threads
    /// ending spans at once take different locks, each with a cache of its
    /// own (derived again in each shard on its first miss).
    states: [Padded<Mutex<State>>; STATES],
}

/// Shards of threads; a thread's is its number modulo this.
const STATES: usize = 8;

#[derive(Debug, Default)]
struct State {
    resource: ResourceView,
    cache: DerivedCache,
}

/// What the rules read of the provider's resource.
#[derive(Clone, Debug, Default)]
struct ResourceView {
    attributes: Vec<OtlpKeyValue>,
    service: String,
    environment: String,
}

impl EndAnnotator {
    /// For `signals`; `record`: also record the metrics.
    pub fn new(signals: Arc<AppSignals>, record: bool) -> Self {
        Self {
            signals,
            record,
            states: Default::default(),
        }
    }
}

/// Error (4xx) and fault (5xx, or an ERROR status without a code), as
/// [`super::batch::error_fault`] reads them from an OTLP span; `status`: the
/// span's codes, found by the cache key's walk.
fn error_fault(span: &SpanData, status: &StatusCodes) -> (bool, bool) {
    super::batch::classify(status.code(), || {
        matches!(span.status, Status::Error { .. })
    })
}

impl EndAnnotator {
    /// This thread's state, locked.
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.lock_shard(thread_number() % STATES)
    }

    fn lock_shard(&self, shard: usize) -> std::sync::MutexGuard<'_, State> {
        self.states[shard]
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// What the rules give `span` (from the cache); `None` for a span
    /// already carrying `aws.span.kind` (an ADOT-style span: left alone, no
    /// metrics).
    /// `status`: the span's status codes, found on the way.
    fn derived(&self, span: &SpanData, status: &mut StatusCodes) -> Option<Arc<Derived>> {
        let derived = {
            let mut state = self.lock();
            let State {
                resource: view,
                cache,
            } = &mut *state;
            let kind = crate::export::span_otlp::kind(&span.span_kind);
            let local_root = span.parent_span_id == SpanId::INVALID || span.parent_span_is_remote;
            let scope = span.instrumentation_scope.name();
            let cx = SpanContext {
                resource: &view.attributes,
                scope,
                local_root,
                inherited_operation: None,
                consumer_parent: false,
            };
            let inputs = SpanInputs {
                kind,
                local_root,
                consumer_parent: false,
                boto3sqs: Generator::is_boto3sqs(&cx),
                flask: scope == FLASK_SCOPE,
                inherited: None,
                // Only a SERVER span's own ingress operation reads its name.
                name: (kind == OtlpKind::Server).then_some(span.name.as_ref()),
            };
            // The span's part only: a state's cache holds one resource's
            // results (emptied when the resource is set), so the resource
            // part the batch walk's keys start with would be the same bytes
            // in every key here (copied and hashed for nothing).
            let resource_len = 0;
            let mut converted = None;
            match span_key_sdk(
                &mut cache.key,
                resource_len,
                &inputs,
                &span.attributes,
                status,
            ) {
                SdkKey::Written => {}
                SdkKey::Generated => return None,
                SdkKey::UnknownValue => {
                    let otlp = crate::export::span_otlp::span(span.clone(), 0);
                    span_key(&mut cache.key, resource_len, &inputs, &otlp.attributes);
                    converted = Some(otlp);
                }
            }
            cache.get_or_derive(|| {
                let otlp =
                    converted.unwrap_or_else(|| crate::export::span_otlp::span(span.clone(), 0));
                let service = Cow::Borrowed(view.service.as_str());
                self.signals
                    .generator
                    .derive_one(&otlp, &cx, &service, &view.environment, None)
            })
        };
        Some(derived)
    }

    /// Records `span`'s metrics under the label sets of `derived`, when this
    /// annotator records; `latency_ms`: its duration.
    fn record(&self, span: &SpanData, derived: &Derived, status: &StatusCodes, latency_ms: f64) {
        if !self.record || derived.observations.is_empty() {
            return;
        }
        let (error, fault) = error_fault(span, status);
        let mut agg = self.signals.thread_aggregator();
        for labels in &derived.observations {
            agg.record_cached(labels, latency_ms, error, fault);
        }
    }
}

/// A duration in nanoseconds, in milliseconds (what the batch walk records
/// from the OTLP span's two times).
fn millis(nanos: u64) -> f64 {
    nanos as f64 / 1e6
}

impl SpanAnnotator for EndAnnotator {
    fn set_resource(&self, resource: &Resource) {
        let attributes = ResourceAttributesWithSchema::from(resource).attributes.0;
        let service = local_service_ref(&attributes).into_owned();
        let environment = local_environment_ref(&attributes).into_owned();
        let view = ResourceView {
            attributes,
            service,
            environment,
        };
        // Results derived for another resource are not this one's.
        for shard in 0..STATES {
            *self.lock_shard(shard) = State {
                resource: view.clone(),
                cache: DerivedCache::default(),
            };
        }
    }

    fn annotate(&self, span: &mut SpanData, times: SpanTimes) -> Option<Arc<[u8]>> {
        let mut status = StatusCodes::default();
        let derived = self.derived(span, &mut status)?;
        if !derived.append {
            // Spans of this input carry some of the keys written: replaced.
            let writes = &derived.writes;
            span.attributes
                .retain(|kv| !writes.iter().any(|w| w.key == kv.key.as_str()));
        }
        // From the times the encoding writes: no duration of its own.
        let latency = millis(times.end.saturating_sub(times.start));
        self.record(span, &derived, &status, latency);
        (!derived.encoded.is_empty()).then(|| derived.encoded.clone())
    }

    /// Not exported, but counted: ADOT's metrics processor sees every
    /// recorded span (its sampler records what it does not sample).
    fn ended_unsampled(&self, span: &SpanData) {
        let mut status = StatusCodes::default();
        if self.record
            && let Some(derived) = self.derived(span, &mut status)
        {
            // Whole nanoseconds as a `u64` (584 years): the same value as
            // `as_nanos() as f64`, without the 128-bit conversion.
            let latency = span
                .end_time
                .duration_since(span.start_time)
                .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
            self.record(span, &derived, &status, millis(latency));
        }
    }
}
