//! The generator over one OTLP traces batch: each span's local-root status
//! and inherited operation come from the span's flags and its parents in
//! the batch (what ADOT's SDK learns from the live parent span), the
//! attributes are written onto the spans, and one [`Observation`] per metric
//! attribute set goes to the caller (the metrics aggregator).

use std::borrow::Cow;
use std::sync::Arc;

use hashbrown::HashMap;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value::Value as Av};
use opentelemetry_proto::tonic::trace::v1::{
    ResourceSpans, Span, SpanFlags, span::SpanKind, status::StatusCode,
};

use super::cache::{CachedLabels, Derived, SpanInputs, keyed_whole, resource_key, span_key};
use super::environment::local_environment_ref;
use super::generator::{
    AttrSet, Attrs, Generator, RefAttributes, SpanContext, kind_of, local_service_ref, set_ref,
};
use super::keys::*;
use super::metrics::SeriesHandle;

/// `Span.attributes`' field number.
const SPAN_ATTRIBUTES_TAG: u32 = 9;

/// How far up the parent chain an inherited operation is looked for.
const MAX_DEPTH: usize = 64;

/// Which metrics a label set belongs to (the EMF `Telemetry.Source`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Source {
    /// A SERVER span's service metrics.
    ServerSpan,
    /// A local root's service metrics.
    LocalRootSpan,
    /// A CLIENT span's dependency metrics.
    ClientSpan,
    /// A PRODUCER span's dependency metrics.
    ProducerSpan,
    /// A CONSUMER span's dependency metrics.
    ConsumerSpan,
}

impl Source {
    /// The `Telemetry.Source` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ServerSpan => "ServerSpan",
            Self::LocalRootSpan => "LocalRootSpan",
            Self::ClientSpan => "ClientSpan",
            Self::ProducerSpan => "ProducerSpan",
            Self::ConsumerSpan => "ConsumerSpan",
        }
    }

    /// The source of an `aws.span.kind` value (`SERVER`, `LOCAL_ROOT`,
    /// `CLIENT`, `PRODUCER`, `CONSUMER`), as the CloudWatch agent maps it to
    /// `Telemetry.Source`; `None` for any other value.
    pub fn from_span_kind(kind: &str) -> Option<Self> {
        Some(match kind {
            "SERVER" => Self::ServerSpan,
            LOCAL_ROOT => Self::LocalRootSpan,
            "CLIENT" => Self::ClientSpan,
            "PRODUCER" => Self::ProducerSpan,
            "CONSUMER" => Self::ConsumerSpan,
            _ => return None,
        })
    }
}

/// One span's contribution to one metric label set.
#[derive(Clone, Debug, PartialEq)]
pub struct Observation {
    /// Service or dependency metrics.
    pub source: Source,
    /// The `aws.*` labels, `aws.local.environment` included.
    pub labels: AttrSet,
    /// Span duration in milliseconds.
    pub latency_ms: f64,
    /// HTTP 4xx.
    pub error: bool,
    /// HTTP 5xx, or status ERROR without a 4xx/5xx code.
    pub fault: bool,
    /// The span's end time (nanoseconds since the epoch).
    pub end_unix_nano: u64,
}

/// What one span contributes to the metrics: the label sets of its
/// (cached) derived result, with the span's own latency, error and fault.
#[derive(Debug)]
pub(crate) struct SpanOutcome {
    derived: Option<Arc<Derived>>,
    pub(crate) latency_ms: f64,
    pub(crate) error: bool,
    pub(crate) fault: bool,
    pub(crate) end_unix_nano: u64,
}

impl SpanOutcome {
    /// The label sets the span's metrics go to.
    pub(crate) fn labels(&self) -> &[CachedLabels] {
        self.derived.as_deref().map_or(&[], |d| &d.observations)
    }

    fn to_owned(&self, c: &CachedLabels) -> Observation {
        Observation {
            source: c.source,
            labels: c.labels.clone(),
            latency_ms: self.latency_ms,
            error: self.error,
            fault: self.fault,
            end_unix_nano: self.end_unix_nano,
        }
    }
}

/// Receives the outcomes of one resource's spans.
pub(crate) type ObserveBatch<'f> = dyn FnMut(&[SpanOutcome]) + 'f;

/// What writing attributes added to a batch's heap, in the terms of a
/// capacity estimate (the sidecar's memory accounting): bytes of capacity
/// (string bytes, attribute vector slots times their size) and allocations
/// (one per non-empty string or vector), either possibly negative. A
/// replaced value that held an array or a list is not measured: `exact` is
/// then false and the batch must be measured again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeapAdded {
    /// Capacity bytes added.
    pub bytes: i64,
    /// Allocations added.
    pub allocations: i64,
    /// Whether the two figures are the whole change.
    pub exact: bool,
}

impl Default for HeapAdded {
    /// Nothing added (exactly).
    fn default() -> Self {
        Self {
            bytes: 0,
            allocations: 0,
            exact: true,
        }
    }
}

impl std::ops::AddAssign for HeapAdded {
    fn add_assign(&mut self, o: Self) {
        self.bytes += o.bytes;
        self.allocations += o.allocations;
        self.exact &= o.exact;
    }
}

impl HeapAdded {
    /// A buffer of `capacity` bytes (none when 0).
    fn buffer(capacity: usize) -> Self {
        Self {
            bytes: capacity as i64,
            allocations: i64::from(capacity > 0),
            exact: true,
        }
    }

    fn minus(self, o: Self) -> Self {
        Self {
            bytes: self.bytes - o.bytes,
            allocations: self.allocations - o.allocations,
            exact: self.exact && o.exact,
        }
    }

    /// The heap of an attribute value: its string or bytes; an array or a
    /// list is not measured (inexact).
    fn value(v: Option<&AnyValue>) -> Self {
        match v.and_then(|v| v.value.as_ref()) {
            Some(Av::StringValue(s)) => Self::buffer(s.capacity()),
            Some(Av::BytesValue(b)) => Self::buffer(b.capacity()),
            Some(Av::ArrayValue(_) | Av::KvlistValue(_)) => Self {
                exact: false,
                ..Self::default()
            },
            _ => Self::default(),
        }
    }

    /// The heap of a key-value's key and value.
    pub(crate) fn key_value(kv: &KeyValue) -> Self {
        let mut h = Self::buffer(kv.key.capacity());
        h += Self::value(kv.value.as_ref());
        h
    }
}

/// What [`Generator::apply`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ApplyStats {
    /// Spans read.
    pub spans: u64,
    /// Spans that got Application Signals attributes.
    pub annotated: u64,
    /// Spans that already carried `aws.span.kind` (an ADOT SDK generated
    /// them and sends its own metrics): left as they are.
    pub already_generated: u64,
    /// What the written attributes added to the batch's heap.
    pub heap: HeapAdded,
}

/// ADOT: 4xx is an error, 5xx a fault; without such a code, status ERROR is a fault.
pub(crate) fn error_fault(span: &Span) -> (bool, bool) {
    let a = Attrs(&span.attributes);
    let code = a
        .int(HTTP_STATUS_CODE)
        .or_else(|| a.int(HTTP_RESPONSE_STATUS_CODE));
    classify(code, || {
        span.status
            .as_ref()
            .is_some_and(|s| s.code == StatusCode::Error as i32)
    })
}

/// Error and fault of a span with the HTTP status `code` (its
/// `http.status_code`, else `http.response.status_code`); `status_error`:
/// its status is ERROR (read only without a 4xx or 5xx code). The rule of
/// both the batch walk and the distro's end annotator.
pub(crate) fn classify(code: Option<i64>, status_error: impl FnOnce() -> bool) -> (bool, bool) {
    match code {
        Some(c) if (400..=499).contains(&c) => (true, false),
        Some(c) if (500..=599).contains(&c) => (false, true),
        _ => (false, status_error()),
    }
}

const HAS_IS_REMOTE: u32 = SpanFlags::ContextHasIsRemoteMask as u32;
const IS_REMOTE: u32 = SpanFlags::ContextIsRemoteMask as u32;

/// The spans of one resource, with the index of each one's parent in the
/// batch (looked up once per span).
struct Local<'a> {
    spans: Vec<(&'a Span, &'a str)>,
    parents: Vec<Option<usize>>,
}

impl<'a> Local<'a> {
    /// The spans of `rs`, each with its scope name, and their parents.
    fn new(rs: &'a ResourceSpans) -> Self {
        let n: usize = rs.scope_spans.iter().map(|ss| ss.spans.len()).sum();
        let mut spans = Vec::with_capacity(n);
        let mut any_parent = false;
        for ss in &rs.scope_spans {
            let scope = ss.scope.as_ref().map_or("", |s| s.name.as_str());
            for span in &ss.spans {
                any_parent |= !span.parent_span_id.is_empty();
                spans.push((span, scope));
            }
        }
        // Parents are looked up only when a span names one: a resource of
        // root spans needs no index.
        if !any_parent {
            return Self {
                parents: vec![None; spans.len()],
                spans,
            };
        }
        let by_id: HashMap<&[u8], usize> = spans
            .iter()
            .enumerate()
            .map(|(i, (span, _))| (span.span_id.as_slice(), i))
            .collect();
        let parents = spans
            .iter()
            .map(|(span, _)| {
                let p = &span.parent_span_id;
                if p.is_empty() {
                    None
                } else {
                    by_id.get(p.as_slice()).copied()
                }
            })
            .collect();
        Self { spans, parents }
    }

    fn parent(&self, i: usize) -> Option<usize> {
        self.parents[i]
    }

    /// No parent, a parent flagged remote, or (senders that do not say) a
    /// SERVER/CONSUMER span whose parent is not in the batch.
    fn local_root(&self, i: usize) -> bool {
        let span = self.spans[i].0;
        if span.parent_span_id.is_empty() {
            return true;
        }
        if span.flags & HAS_IS_REMOTE != 0 {
            return span.flags & IS_REMOTE != 0;
        }
        self.parent(i).is_none() && matches!(kind_of(span), SpanKind::Server | SpanKind::Consumer)
    }

    fn context(
        &self,
        i: usize,
        resource: &'a [KeyValue],
        inherited: Option<&'a str>,
    ) -> SpanContext<'a> {
        let consumer_parent = self
            .parent(i)
            .is_some_and(|p| kind_of(self.spans[p].0) == SpanKind::Consumer);
        SpanContext {
            resource,
            scope: self.spans[i].1,
            local_root: self.local_root(i),
            inherited_operation: inherited,
            consumer_parent,
        }
    }
}

impl Generator {
    /// The `aws.local.operation` ADOT's propagating processor gives span
    /// `i`: a local root that is not SERVER its own ingress operation; a
    /// child of a SERVER span the SERVER's operation; other children their
    /// parent's.
    fn passed_operation<'a>(
        &self,
        local: &Local<'a>,
        resource: &'a [KeyValue],
        i: usize,
        depth: usize,
    ) -> Option<Cow<'a, str>> {
        let (span, _) = local.spans[i];
        let cx = local.context(i, resource, None);
        if cx.local_root {
            return (kind_of(span) != SpanKind::Server).then(|| self.ingress_ref(span, &cx));
        }
        let p = local.parent(i)?;
        let (parent, _) = local.spans[p];
        if kind_of(parent) == SpanKind::Server {
            let pcx = local.context(p, resource, None);
            return Some(self.ingress_ref(parent, &pcx));
        }
        if let Some(op) = Attrs(&parent.attributes).str(AWS_LOCAL_OPERATION) {
            return Some(op);
        }
        if depth >= MAX_DEPTH {
            return None;
        }
        self.passed_operation(local, resource, p, depth + 1)
    }

    /// Annotates every span of `req` and reports its metric observations to
    /// `observe`.
    pub fn apply(
        &self,
        req: &mut ExportTraceServiceRequest,
        mut observe: impl FnMut(Observation),
    ) -> ApplyStats {
        self.apply_with(req, &mut |outcomes: &[SpanOutcome]| {
            for o in outcomes {
                for c in o.labels() {
                    observe(o.to_owned(c));
                }
            }
        })
    }

    /// [`Generator::apply`] handing each resource's span outcomes over at
    /// once. What the rules derive is looked up in the generator's cache by
    /// the span's inputs (see the `cache` module) and derived only for
    /// inputs not seen yet; each span then gets a copy of the cached
    /// attributes, and its metrics go to the cached label sets.
    pub(crate) fn apply_with(
        &self,
        req: &mut ExportTraceServiceRequest,
        observe: &mut ObserveBatch<'_>,
    ) -> ApplyStats {
        let mut stats = ApplyStats::default();
        let mut cache = self.cache.take();
        // Kept with the cache between batches: no per-batch allocation.
        let mut outcomes = std::mem::take(&mut cache.outcomes);
        for rs in &mut req.resource_spans {
            outcomes.clear();
            // Phase 1 (shared borrows): each span's derived result and metrics.
            {
                let resource: &[KeyValue] = rs.resource.as_ref().map_or(&[], |r| &r.attributes);
                let environment = local_environment_ref(resource);
                let environment: &str = &environment;
                let service = local_service_ref(resource);
                resource_key(&mut cache.key, &service, environment);
                let resource_len = cache.key.len();
                let local = Local::new(rs);
                outcomes.reserve(local.spans.len());
                for i in 0..local.spans.len() {
                    let (span, _) = local.spans[i];
                    stats.spans += 1;
                    if Attrs(&span.attributes).has(AWS_SPAN_KIND) {
                        stats.already_generated += 1;
                        outcomes.push(SpanOutcome {
                            derived: None,
                            latency_ms: 0.0,
                            error: false,
                            fault: false,
                            end_unix_nano: 0,
                        });
                        continue;
                    }
                    let inherited = self.passed_operation(&local, resource, i, 0);
                    let cx = local.context(i, resource, None);
                    let kind = kind_of(span);
                    let inputs = SpanInputs {
                        kind,
                        local_root: cx.local_root,
                        consumer_parent: cx.consumer_parent,
                        boto3sqs: Self::is_boto3sqs(&cx),
                        flask: cx.scope == FLASK_SCOPE,
                        inherited: inherited.as_deref(),
                        // Only a SERVER span's own ingress operation reads its name.
                        name: (kind == SpanKind::Server).then_some(span.name.as_str()),
                    };
                    span_key(&mut cache.key, resource_len, &inputs, &span.attributes);
                    let derived = cache.get_or_derive(|| {
                        self.derive_one(span, &cx, &service, environment, inherited)
                    });
                    if !derived.writes.is_empty() {
                        stats.annotated += 1;
                    }
                    let (error, fault) = if derived.observations.is_empty() {
                        (false, false)
                    } else {
                        error_fault(span)
                    };
                    outcomes.push(SpanOutcome {
                        derived: Some(derived),
                        latency_ms: span
                            .end_time_unix_nano
                            .saturating_sub(span.start_time_unix_nano)
                            as f64
                            / 1e6,
                        error,
                        fault,
                        end_unix_nano: span.end_time_unix_nano,
                    });
                }
                observe(&outcomes);
            }
            // Phase 2: write the attributes.
            let mut outcomes = outcomes.iter();
            for ss in &mut rs.scope_spans {
                for span in &mut ss.spans {
                    if let Some(d) = outcomes.next().and_then(|o| o.derived.as_deref()) {
                        stats.heap += write_attributes(span, d);
                    }
                }
            }
        }
        outcomes.clear();
        cache.keep_outcomes(outcomes);
        self.cache.give_back(cache);
        stats
    }
}

impl Generator {
    /// What the rules give `span` (in context `cx`, of the resource's
    /// `service` and `environment`, with the operation `inherited` from its
    /// parents), in its cached form.
    #[allow(clippy::ptr_arg)] // `generate_ref` clones the `Cow` into each set: an owned service stays shared
    pub(crate) fn derive_one<'a>(
        &self,
        span: &'a Span,
        cx: &SpanContext<'a>,
        service: &Cow<'a, str>,
        environment: &'a str,
        inherited: Option<Cow<'a, str>>,
    ) -> Derived {
        let mut generated = self.generate_ref(span, cx, service, inherited);
        for set in [&mut generated.service, &mut generated.dependency]
            .into_iter()
            .flatten()
        {
            set_ref(set, AWS_LOCAL_ENVIRONMENT, Cow::Borrowed(environment));
        }
        derive(generated, &span.attributes)
    }
}

/// The cached form of one input's attribute sets: what the span gets (see
/// [`MetricAttributes::span_attributes`](super::MetricAttributes::span_attributes):
/// the dependency set when there is one, with `aws.span.kind=LOCAL_ROOT`
/// when the span also makes service metrics, else the service set) as OTLP
/// attributes, and the label sets its metrics go to (none for calls to the
/// EC2 metadata endpoint). `attributes`: the span's (whether it already
/// has one of the attributes written, the same for every span of this input).
fn derive(generated: RefAttributes<'_>, attributes: &[KeyValue]) -> Derived {
    let mut derived = Derived::default();
    let span_set = match (&generated.service, &generated.dependency) {
        (Some(_), Some(dep)) => Some((dep, true)),
        (Some(set), None) | (None, Some(set)) => Some((set, false)),
        (None, None) => None,
    };
    if let Some((set, local_root)) = span_set {
        derived.writes = set
            .iter()
            .map(|(key, value)| {
                let value = if local_root && *key == AWS_SPAN_KIND {
                    LOCAL_ROOT
                } else {
                    value.as_ref()
                };
                KeyValue {
                    key: (*key).to_owned(),
                    value: Some(AnyValue {
                        value: Some(Av::StringValue(value.to_owned())),
                    }),
                    ..KeyValue::default()
                }
            })
            .collect();
        let mut encoded = Vec::new();
        for kv in &derived.writes {
            derived.writes_heap += HeapAdded::key_value(kv);
            // `Span.attributes` fields, for a span at its end in the distro.
            prost::encoding::message::encode(SPAN_ATTRIBUTES_TAG, kv, &mut encoded);
        }
        derived.encoded = encoded.into();
        // Every key written is in the cache key (`cache::keyed_whole`), so
        // all spans of this input have the same ones already set; when none
        // is (and no key is written twice) the writes are appended.
        let writes = &derived.writes;
        derived.append = writes.iter().enumerate().all(|(i, w)| {
            keyed_whole(&w.key)
                && !attributes.iter().any(|a| a.key == w.key)
                && !writes[..i].iter().any(|p| p.key == w.key)
        });
    }
    for labels in [generated.service, generated.dependency]
        .into_iter()
        .flatten()
    {
        let ec2_metadata = labels
            .iter()
            .any(|(k, v)| *k == AWS_REMOTE_SERVICE && v == EC2_METADATA_IP);
        let source = labels
            .iter()
            .find(|(k, _)| *k == AWS_SPAN_KIND)
            .and_then(|(_, v)| Source::from_span_kind(v));
        let Some(source) = source else {
            continue;
        };
        if ec2_metadata {
            continue;
        }
        derived.observations.push(CachedLabels {
            source,
            labels: labels
                .into_iter()
                .map(|(k, v)| (k, v.into_owned()))
                .collect(),
            series: SeriesHandle::default(),
        });
    }
    derived
}

/// Sets (replacing or appending) the attributes on the span; returns what
/// that added to the heap.
fn write_attributes(span: &mut Span, derived: &Derived) -> HeapAdded {
    let attrs = derived.writes.as_slice();
    let capacity = span.attributes.capacity();
    let mut added = HeapAdded::default();
    if derived.append {
        span.attributes.extend_from_slice(attrs);
        added += derived.writes_heap;
    } else {
        span.attributes.reserve(attrs.len());
        for kv in attrs {
            match span.attributes.iter_mut().find(|old| old.key == kv.key) {
                Some(old) => {
                    let before = HeapAdded::value(old.value.as_ref());
                    old.value.clone_from(&kv.value);
                    added += HeapAdded::value(old.value.as_ref()).minus(before);
                }
                None => {
                    span.attributes.push(kv.clone());
                    added += HeapAdded::key_value(kv);
                }
            }
        }
    }
    // The vector itself, when it had to grow.
    let grown = span.attributes.capacity();
    if grown != capacity {
        added += HeapAdded::buffer(grown * size_of::<KeyValue>())
            .minus(HeapAdded::buffer(capacity * size_of::<KeyValue>()));
    }
    added
}
