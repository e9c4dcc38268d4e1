//! Errors on spans, per the OpenTelemetry conventions ("Recording errors"
//! and the `exception` event): an `exception` event with `exception.type`,
//! `exception.message` and — when a backtrace was captured —
//! `exception.stacktrace`; the span status ERROR with the message; and
//! `error.type`. Nothing here ever sets status OK: a span that did not fail
//! keeps UNSET, as the conventions ask of instrumentation.
//!
//! Rust has no run-time class name for an error, so `exception.type` is
//! the static type the error was recorded as ([`std::any::type_name`]);
//! record the concrete error type rather than a `Box<dyn Error>` where you
//! can. `exception.message` is the whole `source()` chain joined with
//! `": "` (as `anyhow` prints `{:#}`), a cause already quoted by its parent's
//! message left out. Stable Rust cannot ask an error for its backtrace, so
//! pass one you hold (`anyhow::Error::backtrace()`, a field of your error)
//! to [`record_error_with_backtrace`]; an unsupported or disabled backtrace
//! (`RUST_BACKTRACE` unset) adds no `exception.stacktrace`.

use std::backtrace::{Backtrace, BacktraceStatus};
use std::error::Error;
use std::fmt::Write as _;

use opentelemetry::trace::{SpanRef, Status, TraceContextExt};
use opentelemetry::{Context, KeyValue};
use opentelemetry_semantic_conventions::attribute::{
    ERROR_TYPE, EXCEPTION_MESSAGE, EXCEPTION_STACKTRACE, EXCEPTION_TYPE,
};

/// Name of the span event the conventions define for exceptions.
pub const EXCEPTION_EVENT: &str = "exception";

/// The message of `err` and its `source()` chain, joined with `": "`. A
/// cause whose text its parent already includes (`#[error("read: {0}")]`
/// with `#[source]`) is not repeated.
pub fn chain_message(err: &(dyn Error + 'static)) -> String {
    let mut message = err.to_string();
    let mut last = message.clone();
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !text.is_empty() && !last.contains(&text) {
            let _ = write!(message, ": {text}");
        }
        last = text;
        source = cause.source();
    }
    message
}

/// The attributes of an `exception` event for `err`, typed as `E`.
pub fn exception_attributes<E>(err: &E, backtrace: Option<&Backtrace>) -> Vec<KeyValue>
where
    E: Error + 'static,
{
    exception_attributes_typed(std::any::type_name::<E>(), err, backtrace)
}

/// [`exception_attributes`] with an explicit `exception.type` (for a
/// `&dyn Error` whose concrete type only the caller knows).
pub fn exception_attributes_typed(
    type_name: &str,
    err: &(dyn Error + 'static),
    backtrace: Option<&Backtrace>,
) -> Vec<KeyValue> {
    let mut attrs = vec![
        KeyValue::new(EXCEPTION_TYPE, type_name.to_owned()),
        KeyValue::new(EXCEPTION_MESSAGE, chain_message(err)),
    ];
    if let Some(bt) = backtrace.filter(|b| b.status() == BacktraceStatus::Captured) {
        attrs.push(KeyValue::new(EXCEPTION_STACKTRACE, bt.to_string()));
    }
    attrs
}

/// Records `err` on `span`: an `exception` event, `error.type` (the error's
/// type) and status ERROR with the chain message.
pub fn record_error<E>(span: &SpanRef<'_>, err: &E)
where
    E: Error + 'static,
{
    record_typed(span, std::any::type_name::<E>(), err, None);
}

/// [`record_error`] with the backtrace the caller captured
/// (`exception.stacktrace`, when its status is `Captured`).
pub fn record_error_with_backtrace<E>(span: &SpanRef<'_>, err: &E, backtrace: &Backtrace)
where
    E: Error + 'static,
{
    record_typed(span, std::any::type_name::<E>(), err, Some(backtrace));
}

/// [`record_error`] for a `&dyn Error`, with the type name the caller knows
/// (also used as `error.type`).
pub fn record_typed(
    span: &SpanRef<'_>,
    type_name: &str,
    err: &(dyn Error + 'static),
    backtrace: Option<&Backtrace>,
) {
    if span.is_recording() {
        record_exception(span, type_name, err, backtrace);
        span.set_attribute(KeyValue::new(ERROR_TYPE, type_name.to_owned()));
    }
}

/// The `exception` event and status ERROR, without `error.type`: for a
/// caller whose convention gives `error.type` another value (an HTTP
/// client's low-cardinality failure kind, an AWS error code).
pub fn record_exception(
    span: &SpanRef<'_>,
    type_name: &str,
    err: &(dyn Error + 'static),
    backtrace: Option<&Backtrace>,
) {
    if !span.is_recording() {
        return;
    }
    let attrs = exception_attributes_typed(type_name, err, backtrace);
    let message = attrs
        .iter()
        .find(|kv| kv.key.as_str() == EXCEPTION_MESSAGE)
        .map(|kv| kv.value.to_string())
        .unwrap_or_default();
    span.add_event(EXCEPTION_EVENT, attrs);
    span.set_status(Status::error(message));
}

/// Records a failure known only by its text (a panic payload, an error type
/// that is only `Display`): the `exception` event and status ERROR.
/// `error.type` is left to the caller, which knows the convention's value.
pub fn record_message(span: &SpanRef<'_>, type_name: &str, message: &str) {
    if !span.is_recording() {
        return;
    }
    span.add_event(
        EXCEPTION_EVENT,
        vec![
            KeyValue::new(EXCEPTION_TYPE, type_name.to_owned()),
            KeyValue::new(EXCEPTION_MESSAGE, message.to_owned()),
        ],
    );
    span.set_status(Status::error(message.to_owned()));
}

/// Records the `Err` of a `Result` on a span and hands the result back, so
/// a call site stays one expression:
/// `let row = table.get(id).await.record_err()?;`
pub trait RecordErr: Sized {
    /// Records an `Err` on the current context's span
    /// ([`Context::current`], which is also the entered `tracing` span's).
    fn record_err(self) -> Self {
        self.record_err_on(&Context::current().span())
    }
    /// Records an `Err` on `span`.
    fn record_err_on(self, span: &SpanRef<'_>) -> Self;
}

impl<T, E: Error + 'static> RecordErr for Result<T, E> {
    fn record_err_on(self, span: &SpanRef<'_>) -> Self {
        if let Err(e) = &self {
            record_error(span, e);
        }
        self
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("read config: {0}")]
    struct Quoting(#[source] std::io::Error);

    #[derive(Debug, thiserror::Error)]
    #[error("load failed")]
    struct Wrapping(#[source] Quoting);

    #[test]
    fn chain_is_joined_without_repeating_quoted_causes() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let err = Wrapping(Quoting(io));
        assert_eq!(
            chain_message(&err),
            "load failed: read config: no such file"
        );
    }

    #[test]
    fn record_err_adds_the_exception_event_error_type_and_error_status() {
        use opentelemetry::trace::{Tracer, TracerProvider as _};
        let exporter = opentelemetry_sdk::trace::InMemorySpanExporter::default();
        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        let tracer = provider.tracer("t");
        tracer.in_span("ok", |_| {
            let ok: Result<u8, std::io::Error> = Ok(1);
            let _ = ok.record_err();
        });
        tracer.in_span("failed", |_| {
            let err = Wrapping(Quoting(std::io::Error::other("disk gone")));
            let _ = Err::<(), _>(err).record_err();
        });
        let spans = exporter.get_finished_spans().unwrap();
        let ok = spans.iter().find(|s| s.name == "ok").unwrap();
        // Never OK by default: a span without error stays UNSET.
        assert_eq!(ok.status, Status::Unset);
        assert!(ok.events.is_empty());
        let failed = spans.iter().find(|s| s.name == "failed").unwrap();
        let message = "load failed: read config: disk gone";
        assert_eq!(failed.status, Status::error(message));
        let event = failed.events.iter().next().unwrap();
        assert_eq!(event.name, EXCEPTION_EVENT);
        let get = |k: &str| {
            event
                .attributes
                .iter()
                .find(|kv| kv.key.as_str() == k)
                .map(|kv| kv.value.to_string())
        };
        assert_eq!(get(EXCEPTION_MESSAGE).as_deref(), Some(message));
        let type_name = std::any::type_name::<Wrapping>();
        assert_eq!(get(EXCEPTION_TYPE).as_deref(), Some(type_name));
        let error_type = failed
            .attributes
            .iter()
            .find(|kv| kv.key.as_str() == ERROR_TYPE)
            .map(|kv| kv.value.to_string());
        assert_eq!(error_type.as_deref(), Some(type_name));
    }

    #[test]
    fn type_is_the_static_type_and_stacktrace_only_when_captured() {
        let err = std::io::Error::other("boom");
        let attrs = exception_attributes(&err, Some(&Backtrace::disabled()));
        let keys: Vec<_> = attrs.iter().map(|kv| kv.key.as_str()).collect();
        assert_eq!(keys, [EXCEPTION_TYPE, EXCEPTION_MESSAGE]);
        assert_eq!(attrs[0].value.as_str(), "std::io::error::Error");
        let bt = Backtrace::force_capture();
        let attrs = exception_attributes(&err, Some(&bt));
        let stack = attrs
            .iter()
            .find(|kv| kv.key.as_str() == EXCEPTION_STACKTRACE)
            .map(|kv| kv.value.to_string())
            .unwrap();
        assert!(stack.contains("type_is_the_static_type"), "{stack}");
    }
}
