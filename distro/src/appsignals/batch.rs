//! The generator over one OTLP traces batch: each span's local-root status
//! and inherited operation come from the span's flags and its parents in
//! the batch (what ADOT's SDK learns from the live parent span), the
//! attributes are written onto the spans, and one [`Observation`] per metric
//! attribute set goes to the caller (the metrics aggregator).

use std::borrow::Cow;
use std::ops::Range;

use hashbrown::HashMap;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value::Value as Av};
use opentelemetry_proto::tonic::trace::v1::{Span, SpanFlags, span::SpanKind, status::StatusCode};

use super::environment::local_environment_ref;
use super::generator::{
    AttrSet, Attrs, Generator, RefAttributes, RefSet, SpanContext, kind_of, local_service_ref,
    set_ref,
};
use super::keys::*;

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

    fn of(set: &RefSet<'_>) -> Option<Self> {
        let kind = set.iter().find(|(k, _)| *k == AWS_SPAN_KIND)?;
        Self::from_span_kind(kind.1.as_ref())
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

/// An [`Observation`] whose labels are a range of [`Observed::labels`].
#[derive(Clone, Debug)]
pub(crate) struct ObservationRef {
    pub(crate) source: Source,
    labels: Range<usize>,
    pub(crate) latency_ms: f64,
    pub(crate) error: bool,
    pub(crate) fault: bool,
    pub(crate) end_unix_nano: u64,
}

/// The observations of one resource's spans, their label values borrowed
/// from the batch (what the aggregator reads; it copies the labels only
/// for a new series), all labels in one buffer.
#[derive(Debug, Default)]
pub(crate) struct Observed<'a> {
    pub(crate) observations: Vec<ObservationRef>,
    labels: Vec<(&'static str, Cow<'a, str>)>,
}

impl<'a> Observed<'a> {
    /// The labels of `o`.
    pub(crate) fn labels(&self, o: &ObservationRef) -> &[(&'static str, Cow<'a, str>)] {
        self.labels.get(o.labels.clone()).unwrap_or_default()
    }

    fn to_owned(&self, o: &ObservationRef) -> Observation {
        Observation {
            source: o.source,
            labels: self
                .labels(o)
                .iter()
                .map(|(k, v)| (*k, v.as_ref().to_owned()))
                .collect(),
            latency_ms: o.latency_ms,
            error: o.error,
            fault: o.fault,
            end_unix_nano: o.end_unix_nano,
        }
    }
}

/// Receives the observations of one resource's spans.
pub(crate) type ObserveBatch<'f> = dyn for<'b> FnMut(&Observed<'b>) + 'f;

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
}

/// ADOT: 4xx is an error, 5xx a fault; without such a code, status ERROR is a fault.
pub(crate) fn error_fault(span: &Span) -> (bool, bool) {
    let a = Attrs(&span.attributes);
    let code = a
        .int(HTTP_STATUS_CODE)
        .or_else(|| a.int(HTTP_RESPONSE_STATUS_CODE));
    match code {
        Some(c) if (400..=499).contains(&c) => (true, false),
        Some(c) if (500..=599).contains(&c) => (false, true),
        _ => {
            let status_error = span
                .status
                .as_ref()
                .is_some_and(|s| s.code == StatusCode::Error as i32);
            (false, status_error)
        }
    }
}

const HAS_IS_REMOTE: u32 = SpanFlags::ContextHasIsRemoteMask as u32;
const IS_REMOTE: u32 = SpanFlags::ContextIsRemoteMask as u32;

/// The spans of one resource, indexed by span id.
struct Local<'a> {
    spans: Vec<(&'a Span, &'a str)>,
    by_id: HashMap<&'a [u8], usize>,
}

impl<'a> Local<'a> {
    fn parent(&self, i: usize) -> Option<usize> {
        let p = &self.spans[i].0.parent_span_id;
        if p.is_empty() {
            return None;
        }
        self.by_id.get(p.as_slice()).copied()
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
        self.apply_with(req, &mut |batch: &Observed<'_>| {
            for o in &batch.observations {
                observe(batch.to_owned(o));
            }
        })
    }

    /// [`Generator::apply`] handing each resource's observations over with
    /// borrowed labels, once per resource. Label values are borrowed from
    /// the spans and the resource (the service and the environment are
    /// read once per resource); the only copies made per span are the
    /// attributes written onto it.
    pub(crate) fn apply_with(
        &self,
        req: &mut ExportTraceServiceRequest,
        observe: &mut ObserveBatch<'_>,
    ) -> ApplyStats {
        let mut stats = ApplyStats::default();
        // The attributes to write, in span order, and how many per span.
        let mut writes: Vec<KeyValue> = Vec::new();
        let mut counts: Vec<usize> = Vec::new();
        for rs in &mut req.resource_spans {
            writes.clear();
            counts.clear();
            // Phase 1 (shared borrows): what each span gets, and the observations.
            {
                let resource: &[KeyValue] = rs.resource.as_ref().map_or(&[], |r| &r.attributes);
                let environment = local_environment_ref(resource);
                let environment: &str = &environment;
                let service = local_service_ref(resource);
                let n: usize = rs.scope_spans.iter().map(|ss| ss.spans.len()).sum();
                let mut local = Local {
                    spans: Vec::with_capacity(n),
                    by_id: HashMap::with_capacity(n),
                };
                for ss in &rs.scope_spans {
                    let scope = ss.scope.as_ref().map_or("", |s| s.name.as_str());
                    for span in &ss.spans {
                        local
                            .by_id
                            .insert(span.span_id.as_slice(), local.spans.len());
                        local.spans.push((span, scope));
                    }
                }
                counts.reserve(n);
                let mut observed = Observed {
                    observations: Vec::with_capacity(n),
                    labels: Vec::with_capacity(4 * n),
                };
                for i in 0..local.spans.len() {
                    let (span, _) = local.spans[i];
                    stats.spans += 1;
                    if Attrs(&span.attributes).has(AWS_SPAN_KIND) {
                        stats.already_generated += 1;
                        counts.push(0);
                        continue;
                    }
                    let inherited = self.passed_operation(&local, resource, i, 0);
                    let cx = local.context(i, resource, None);
                    let mut generated = self.generate_ref(span, &cx, &service, inherited);
                    for set in [&mut generated.service, &mut generated.dependency]
                        .into_iter()
                        .flatten()
                    {
                        set_ref(set, AWS_LOCAL_ENVIRONMENT, Cow::Borrowed(environment));
                    }
                    let written = span_attributes(&generated, &mut writes);
                    if written > 0 {
                        stats.annotated += 1;
                    }
                    counts.push(written);
                    observe_span(span, generated, &mut observed);
                }
                observe(&observed);
            }
            // Phase 2: write the attributes.
            let mut writes = writes.drain(..);
            let mut counts = counts.iter();
            for ss in &mut rs.scope_spans {
                for span in &mut ss.spans {
                    let n = counts.next().copied().unwrap_or(0);
                    if n > 0 {
                        write_attributes(span, writes.by_ref().take(n), n);
                    }
                }
            }
        }
        stats
    }
}

/// Appends what the span itself gets to `out` (see
/// [`MetricAttributes::span_attributes`](super::MetricAttributes::span_attributes)):
/// the dependency set when there is one (with `aws.span.kind=LOCAL_ROOT`
/// when the span also makes service metrics), else the service set.
/// Returns how many.
fn span_attributes(generated: &RefAttributes<'_>, out: &mut Vec<KeyValue>) -> usize {
    let (set, local_root) = match (&generated.service, &generated.dependency) {
        (Some(_), Some(dep)) => (dep, true),
        (Some(set), None) | (None, Some(set)) => (set, false),
        (None, None) => return 0,
    };
    out.extend(set.iter().map(|(key, value)| {
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
    }));
    set.len()
}

fn observe_span<'a>(span: &Span, generated: RefAttributes<'a>, out: &mut Observed<'a>) {
    if generated.service.is_none() && generated.dependency.is_none() {
        return;
    }
    let (error, fault) = error_fault(span);
    let latency_ms = span
        .end_time_unix_nano
        .saturating_sub(span.start_time_unix_nano) as f64
        / 1e6;
    for labels in [generated.service, generated.dependency]
        .into_iter()
        .flatten()
    {
        let ec2_metadata = labels
            .iter()
            .any(|(k, v)| *k == AWS_REMOTE_SERVICE && v == EC2_METADATA_IP);
        let Some(source) = Source::of(&labels) else {
            continue;
        };
        if ec2_metadata {
            continue;
        }
        let start = out.labels.len();
        out.labels.extend(labels);
        out.observations.push(ObservationRef {
            source,
            labels: start..out.labels.len(),
            latency_ms,
            error,
            fault,
            end_unix_nano: span.end_time_unix_nano,
        });
    }
}

/// Sets (replacing or appending) the `n` attributes on the span.
fn write_attributes(span: &mut Span, attrs: impl Iterator<Item = KeyValue>, n: usize) {
    span.attributes.reserve(n);
    for kv in attrs {
        match span.attributes.iter_mut().find(|old| old.key == kv.key) {
            Some(old) => old.value = kv.value,
            None => span.attributes.push(kv),
        }
    }
}
