//! The tracer the instrumentation starts its spans with: the SDK's own
//! tracer when the provider is the SDK's, else the OpenTelemetry API's
//! boxed tracer.
//!
//! A span made through `opentelemetry::global::BoxedTracer` is boxed twice:
//! the boxed tracer returns a `BoxedSpan`, and putting it into a `Context`
//! boxes it again, so every attribute set and the end go through two
//! dynamic calls, and the span costs one more allocation. With the SDK's
//! `SdkTracer` the span is boxed once (by the context) and reached with one
//! dynamic call.
//!
//! The global provider gives only boxed tracers and cannot be asked what it
//! wraps, so [`crate::init`] installs its provider as an [`InstalledProvider`],
//! which hands a copy of the SDK tracer it makes to [`ScopeTracer::global`]
//! when that is asking, on the same thread, inside the one call (a
//! thread-local slot, empty outside that call). If the application has put
//! another provider in the globals since, nothing answers and the layer uses
//! the boxed tracer of whatever is installed, as before.

use std::cell::RefCell;
#[cfg(any(feature = "tower", feature = "reqwest"))]
use std::{any::Any, sync::Arc};

#[cfg(any(feature = "tower", feature = "reqwest"))]
use opentelemetry::{
    Context,
    global::BoxedTracer,
    trace::{Span as _, SpanBuilder, TraceContextExt as _, Tracer},
};
use opentelemetry::{InstrumentationScope, trace::TracerProvider};
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};

/// A tracer for the instrumentation's scope. Cheap to clone.
#[cfg(any(feature = "tower", feature = "reqwest"))]
#[derive(Clone, Debug)]
pub(crate) enum ScopeTracer {
    /// The SDK's tracer: spans boxed once, by the context.
    Sdk(SdkTracer),
    /// Any other provider's tracer, boxed (as `opentelemetry::global` does).
    Boxed(Arc<BoxedTracer>),
}

#[cfg(any(feature = "tower", feature = "reqwest"))]
impl ScopeTracer {
    /// The global provider's tracer: the SDK's own when the global provider
    /// is still the one [`crate::init`] installed.
    pub(crate) fn global() -> Self {
        let asking = CLAIM.try_with(|slot| slot.replace(Some(None))).is_ok();
        let boxed = opentelemetry::global::tracer_with_scope(super::scope());
        let claimed = if asking {
            CLAIM.try_with(|slot| slot.take().flatten()).ok().flatten()
        } else {
            None
        };
        match claimed {
            Some(sdk) => Self::Sdk(sdk),
            None => Self::Boxed(Arc::new(boxed)),
        }
    }

    /// `provider`'s tracer: the SDK's own when `provider` is an
    /// `SdkTracerProvider`.
    pub(crate) fn of<P>(provider: &P) -> Self
    where
        P: TracerProvider,
        P::Tracer: Send + Sync + 'static,
        <P::Tracer as Tracer>::Span: Send + Sync + 'static,
    {
        let tracer = provider.tracer_with_scope(super::scope());
        match (&tracer as &dyn Any).downcast_ref::<SdkTracer>() {
            Some(sdk) => Self::Sdk(sdk.clone()),
            None => Self::Boxed(Arc::new(BoxedTracer::new(Box::new(tracer)))),
        }
    }

    /// Starts a span of `builder` under `parent`: the context carrying it,
    /// and whether it records.
    pub(crate) fn start(&self, builder: SpanBuilder, parent: &Context) -> (Context, bool) {
        match self {
            Self::Sdk(tracer) => {
                let span = tracer.build_with_context(builder, parent);
                let recording = span.is_recording();
                (parent.with_span(span), recording)
            }
            Self::Boxed(tracer) => {
                let span = tracer.build_with_context(builder, parent);
                let recording = span.is_recording();
                (parent.with_span(span), recording)
            }
        }
    }

    /// True when spans go straight to the SDK (tests).
    #[cfg(test)]
    pub(crate) fn is_sdk(&self) -> bool {
        matches!(self, Self::Sdk(_))
    }
}

thread_local! {
    /// `None`: nobody asking; `Some(None)`: [`ScopeTracer::global`] is
    /// asking; `Some(Some(tracer))`: the installed provider answered.
    static CLAIM: RefCell<Option<Option<SdkTracer>>> = const { RefCell::new(None) };
}

/// The SDK provider as [`crate::init`] installs it in the globals: the same
/// provider and tracers, and an answer to [`ScopeTracer::global`].
#[derive(Debug)]
pub(crate) struct InstalledProvider(pub(crate) SdkTracerProvider);

impl TracerProvider for InstalledProvider {
    type Tracer = SdkTracer;

    fn tracer_with_scope(&self, scope: InstrumentationScope) -> SdkTracer {
        let tracer = self.0.tracer_with_scope(scope);
        // Only while `ScopeTracer::global` asks on this thread; a slot in
        // use (a provider called from inside a borrow) is left alone.
        let _ = CLAIM.try_with(|slot| {
            if let Ok(mut slot) = slot.try_borrow_mut()
                && let Some(answer @ None) = &mut *slot
            {
                *answer = Some(tracer.clone());
            }
        });
        tracer
    }
}

#[cfg(all(test, any(feature = "tower", feature = "reqwest")))]
mod tests {
    use super::*;

    /// Not `init()`'s provider in the globals: the boxed tracer, and spans
    /// still reach the installed provider.
    #[test]
    fn the_sdk_tracer_only_for_the_sdk_provider() {
        let exporter = opentelemetry_sdk::trace::InMemorySpanExporter::default();
        let sdk = SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        assert!(ScopeTracer::of(&sdk).is_sdk());
        let noop = opentelemetry::trace::noop::NoopTracerProvider::new();
        assert!(!ScopeTracer::of(&noop).is_sdk());

        // A plain SDK provider in the globals: boxed (the layer cannot
        // tell it from any other provider).
        opentelemetry::global::set_tracer_provider(sdk.clone());
        let global = ScopeTracer::global();
        assert!(!global.is_sdk());
        let (cx, recording) = global.start(SpanBuilder::from_name("boxed"), &Context::new());
        assert!(recording);
        cx.span().end();

        // init()'s provider: the SDK's tracer, on the same provider.
        opentelemetry::global::set_tracer_provider(InstalledProvider(sdk.clone()));
        let global = ScopeTracer::global();
        assert!(global.is_sdk());
        let (cx, _) = global.start(SpanBuilder::from_name("direct"), &Context::new());
        cx.span().end();
        // Nothing left in the slot for a later call.
        assert!(CLAIM.with(|slot| slot.borrow().is_none()));
        // Other tracers the installed provider makes answer nobody.
        let _ = opentelemetry::global::tracer("other");
        assert!(CLAIM.with(|slot| slot.borrow().is_none()));

        // Replaced by another provider since: boxed again.
        opentelemetry::global::set_tracer_provider(
            opentelemetry::trace::noop::NoopTracerProvider::new(),
        );
        assert!(!ScopeTracer::global().is_sdk());

        let mut names: Vec<String> = exporter
            .get_finished_spans()
            .unwrap_or_default()
            .into_iter()
            .map(|s| s.name.into_owned())
            .collect();
        names.sort_unstable();
        assert_eq!(names, ["boxed", "direct"]);
    }
}
