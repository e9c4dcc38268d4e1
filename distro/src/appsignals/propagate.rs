//! ADOT's `AttributePropagatingSpanProcessor` for the distro's own spans:
//! when a span starts it is given `aws.local.operation`, the operation its
//! local root handles (a SERVER parent's ingress operation, else what its
//! parent was given; a local root that is not SERVER its own), and under a
//! CONSUMER parent `aws.consumer.parent.span.kind`. The rules that run at
//! the span's end ([`super::EndAnnotator`]) read both from the span, so a
//! child keeps its service's operation however the export batches fall
//! (before, a child exported before its SERVER parent ended, in an earlier
//! batch, got `UnknownOperation`).
//!
//! The SDK's `on_start` sees neither the starting span's kind and name nor
//! its parent's attributes. The sampler sees the first two, so
//! [`Propagation::starting`] runs there (as a
//! [`crate::sampling::StartObserver`], on the thread that starts the span,
//! just before its `on_start`) and leaves its findings for
//! [`Propagation::started`] in a thread-local; what each live span passes
//! down is kept by span id until the span ends (at most [`MAX_LIVE`]
//! spans). A child that starts after its parent ended, or under a parent
//! that started before Application Signals was on, is given nothing: its
//! operation is then `UnknownOperation` (ADOT reads an ended parent's
//! attributes; docs/application-signals.md lists the difference).

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use hashbrown::HashMap;
use opentelemetry::trace::{SpanId, SpanKind, TraceContextExt as _, TraceId};
use opentelemetry::{Context, KeyValue, StringValue, Value};
use opentelemetry_proto::tonic::trace::v1::Span as OtlpSpan;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind as OtlpKind;
use opentelemetry_sdk::trace::{Span, SpanData};

use super::generator::{Generator, GeneratorConfig, SpanContext};
use super::keys::{AWS_CONSUMER_PARENT_SPAN_KIND, AWS_LOCAL_OPERATION};
use crate::export::LiveSpans;
use crate::sampling::StartObserver;
use crate::shard::Padded;

/// Live spans whose pass-down is kept (at most a sixteenth of this in each
/// of the table's shards); past it a new span's is not (its children are
/// given nothing), and the overflow is counted.
pub const MAX_LIVE: usize = 65_536;

/// The table's shards, chosen by span id (random bits): threads that start
/// and end spans at once mostly take different locks (see [`crate::shard`]).
const SHARDS: usize = 16;

/// One shard of the table.
type Shard = Padded<Mutex<HashMap<SpanId, PassDown>>>;

/// What a live span passes to the spans that start under it.
#[derive(Clone, Debug, Default)]
struct PassDown {
    /// Their `aws.local.operation`.
    operation: Option<StringValue>,
    /// It is a CONSUMER span.
    consumer: bool,
}

/// What the sampler found for the span about to start on this thread.
#[derive(Debug)]
struct Starting {
    trace_id: TraceId,
    /// Its `aws.local.operation`.
    operation: Option<StringValue>,
    /// Its parent is a CONSUMER span.
    consumer_parent: bool,
    /// What it passes down.
    pass: PassDown,
}

thread_local! {
    static STARTING: RefCell<Option<Starting>> = const { RefCell::new(None) };
}

/// The propagation of one provider: the rules' settings (a Lambda
/// function's operation) and the live spans' pass-downs.
#[derive(Debug)]
pub struct Propagation {
    generator: Generator,
    /// A local root's own operation when it is not SERVER (the same for
    /// every such span: the function's in Lambda, else `InternalOperation`).
    /// A `'static` string (interned): carried by every such span and its
    /// children without a reference count that each thread's spans bump
    /// (one cache line bouncing between the cores, docs/benchmarks.md,
    /// "Threads at once").
    root_operation: StringValue,
    live: [Shard; SHARDS],
    /// [`MAX_LIVE`] / [`SHARDS`] a shard, smaller in tests.
    max_live: usize,
    overflow: AtomicU64,
}

impl Propagation {
    /// With the rules' settings `config`.
    pub fn new(config: GeneratorConfig) -> Self {
        Self::with_max_live(config, MAX_LIVE)
    }

    fn with_max_live(config: GeneratorConfig, max_live: usize) -> Self {
        let mut propagation = Self {
            generator: Generator::new(config),
            root_operation: StringValue::from(""),
            live: Default::default(),
            max_live: max_live.div_ceil(SHARDS).max(1),
            overflow: AtomicU64::new(0),
        };
        let root = propagation.ingress(OtlpKind::Internal, "", &[], true);
        propagation.root_operation = match crate::intern::intern(&root) {
            std::borrow::Cow::Borrowed(s) => StringValue::from(s),
            std::borrow::Cow::Owned(_) => StringValue::from(root),
        };
        propagation
    }

    /// Spans whose pass-down was not kept ([`MAX_LIVE`] were live).
    pub fn overflow(&self) -> u64 {
        self.overflow.load(Ordering::Relaxed)
    }

    /// Spans whose pass-down is kept now.
    pub fn live(&self) -> usize {
        self.live
            .iter()
            .map(|s| {
                s.0.lock()
                    .map_or_else(|p| p.into_inner().len(), |m| m.len())
            })
            .sum()
    }

    /// The shard of `span`, locked.
    fn lock(&self, span: SpanId) -> std::sync::MutexGuard<'_, HashMap<SpanId, PassDown>> {
        let bits = u64::from_be_bytes(span.to_bytes());
        // The low bits: random in every id generator's span ids.
        let shard = &self.live[(bits % SHARDS as u64) as usize];
        shard
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// ADOT's ingress operation of a span of `kind`, `name` and start
    /// `attributes` (`local_root`: no local parent). Converted to OTLP for
    /// the rules only when they read the name (a SERVER span).
    fn ingress(
        &self,
        kind: OtlpKind,
        name: &str,
        attributes: &[KeyValue],
        local_root: bool,
    ) -> Arc<str> {
        let cx = SpanContext {
            resource: &[],
            scope: "",
            local_root,
            inherited_operation: None,
            consumer_parent: false,
        };
        let mut span = OtlpSpan {
            kind: kind as i32,
            ..OtlpSpan::default()
        };
        if kind == OtlpKind::Server {
            span.name = name.to_owned();
            // Only what the rules read (the cache key's keys) is converted.
            span.attributes = attributes
                .iter()
                .filter(|kv| super::cache::keyed(kv.key.as_str(), true))
                .map(Into::into)
                .collect();
        }
        Arc::from(self.generator.ingress_ref(&span, &cx).as_ref())
    }
}

/// The string value of `key` in `attributes`.
fn string_attr(attributes: &[KeyValue], key: &str) -> Option<StringValue> {
    attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .and_then(|kv| match &kv.value {
            Value::String(s) => Some(s.clone()),
            _ => None,
        })
}

impl StartObserver for Propagation {
    fn starting(
        &self,
        parent: Option<&Context>,
        trace_id: TraceId,
        name: &str,
        kind: &SpanKind,
        attributes: &[KeyValue],
    ) {
        let parent = parent.filter(|cx| cx.has_active_span()).and_then(|cx| {
            let span = cx.span();
            let sc = span.span_context();
            (sc.is_valid() && !sc.is_remote()).then(|| sc.span_id())
        });
        let kind = crate::export::span_otlp::kind(kind);
        let local_root = parent.is_none();
        let from_parent = parent
            .and_then(|id| self.lock(id).get(&id).cloned())
            .unwrap_or_default();
        // ADOT gives a local root that is not SERVER its own ingress
        // operation and any other span what its parent passes down. Not set
        // on a local root: the rules write a local root's operation from its
        // ingress whatever it carries, so the attribute would only cost.
        let inherited = if local_root {
            (kind != OtlpKind::Server).then(|| self.root_operation.clone())
        } else {
            from_parent.operation
        };
        let pass = PassDown {
            // Under a SERVER span, its ingress operation (ADOT reads the
            // live SERVER parent's); under others, what this one was given
            // (or set itself).
            operation: if kind == OtlpKind::Server {
                Some(StringValue::from(
                    self.ingress(kind, name, attributes, local_root),
                ))
            } else {
                inherited
                    .clone()
                    .or_else(|| string_attr(attributes, AWS_LOCAL_OPERATION))
            },
            consumer: kind == OtlpKind::Consumer,
        };
        let starting = Starting {
            trace_id,
            operation: if local_root { None } else { inherited },
            consumer_parent: from_parent.consumer,
            pass,
        };
        STARTING.with(|s| *s.borrow_mut() = Some(starting));
    }
}

impl LiveSpans for Propagation {
    fn started(&self, span: &mut Span) {
        use opentelemetry::trace::Span as _;
        let Some(starting) = STARTING.with(|s| s.borrow_mut().take()) else {
            return;
        };
        let sc = span.span_context();
        if sc.trace_id() != starting.trace_id {
            return;
        }
        let span_id = sc.span_id();
        if let Some(operation) = starting.operation {
            span.set_attribute(KeyValue::new(AWS_LOCAL_OPERATION, operation));
        }
        if starting.consumer_parent {
            span.set_attribute(KeyValue::new(AWS_CONSUMER_PARENT_SPAN_KIND, "CONSUMER"));
        }
        let pass = starting.pass;
        if pass.operation.is_none() && !pass.consumer {
            // Nothing for its children: they get what a missing parent gives.
            return;
        }
        let mut live = self.lock(span_id);
        if live.len() >= self.max_live {
            drop(live);
            if self.overflow.fetch_add(1, Ordering::Relaxed) == 0 {
                tracing::warn!(
                    max = self.max_live * SHARDS,
                    "application signals: too many live spans; new ones pass nothing to their children"
                );
            }
            return;
        }
        live.insert(span_id, pass);
    }

    fn ended(&self, span: &SpanData) {
        let id = span.span_context.span_id();
        let mut live = self.lock(id);
        if !live.is_empty() {
            live.remove(&id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::Env;
    use crate::export::{BatchSettings, NoopExporter, batch_processor};
    use crate::sampling::SamplerConfig;
    use opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
    use opentelemetry_sdk::trace::SdkTracerProvider;

    /// Span ids 1, 2, 3, … (in shard 1, 2, 3, …): which spans share a
    /// shard is known, not left to random ids (with random ones, a root and
    /// its child fell in one shard in one run of sixteen).
    #[derive(Debug, Default)]
    struct Sequential(AtomicU64);

    impl opentelemetry_sdk::trace::IdGenerator for Sequential {
        fn new_trace_id(&self) -> TraceId {
            TraceId::from(0x5759_e988_u128 << 96 | 1)
        }
        fn new_span_id(&self) -> SpanId {
            SpanId::from(self.0.fetch_add(1, Ordering::Relaxed) + 1)
        }
    }

    fn provider(p: &Arc<Propagation>) -> SdkTracerProvider {
        let sampler =
            SamplerConfig::from_env(&Env::from_pairs([("OTEL_TRACES_SAMPLER", "always_on")]))
                .expect("sampler")
                .build()
                .with_start_observer(p.clone());
        SdkTracerProvider::builder()
            .with_id_generator(Sequential::default())
            .with_sampler(sampler)
            .with_span_processor(
                batch_processor(Arc::new(NoopExporter::new()), BatchSettings::default())
                    .with_live_spans(p.clone()),
            )
            .build()
    }

    /// A live span's pass-down is kept until it ends, nothing after; past
    /// the bound (one span a shard here) new spans pass nothing and are
    /// counted.
    #[test]
    fn pass_downs_live_as_long_as_their_spans_and_are_bounded() {
        let p = Arc::new(Propagation::with_max_live(
            GeneratorConfig::default(),
            SHARDS,
        ));
        let provider = provider(&p);
        let tracer = provider.tracer("t");
        let root = tracer
            .span_builder("GET /a")
            .with_kind(SpanKind::Server)
            .start(&tracer);
        let cx = Context::current_with_span(root);
        let child = tracer.start_with_context("child", &cx);
        let ccx = cx.with_span(child);
        // Both kept (ids 1 and 2: shards 1 and 2).
        assert_eq!((p.live(), p.overflow()), (2, 0));
        // Many more live spans than shards: one kept in each, every other
        // one counted (ids 3 to 102: the first of each of the fourteen
        // shards left kept, 86 counted).
        let spans: Vec<_> = (0..100)
            .map(|_| tracer.start_with_context("grandchild", &ccx))
            .collect();
        assert_eq!((p.live(), p.overflow()), (SHARDS, 86));
        drop(spans);
        ccx.span().end();
        cx.span().end();
        assert_eq!(p.live(), 0);
        // A local root with no children leaves nothing behind either.
        tracer.start("again").end();
        assert_eq!(p.live(), 0);
        provider.shutdown().expect("shutdown");
    }
}
