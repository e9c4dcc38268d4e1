//! `cause.exceptions` from span `exception` events, and back (spec
//! "`cause.exceptions` from span `exception` events (type, message,
//! stack)"; the collector's awsxray exporter and receiver are the
//! reference for what goes where).
//!
//! Span → segment: one exception per event, typed by `exception.type` and
//! `exception.message`, frames parsed from `exception.stacktrace` in the
//! resource's language ([`super::stack`]); causes found in the trace (Java
//! `Caused by:`, chained Python tracebacks, .NET inner exceptions) follow
//! it as further exceptions linked by `cause`. `remote` is set on CLIENT
//! and PRODUCER spans. The `aws.xray.exception.*` attributes the way back
//! writes are honoured, so segment → span → segment keeps ids and links.
//!
//! Segment → span: one `exception` event per exception with
//! `aws.xray.exception.{id,remote,truncated,skipped,cause}`, the stack
//! rendered as Java-style text; a `cause` that is only an exception id
//! becomes the status message.

use std::fmt::Write as _;

use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::common::v1::any_value::Value as Av;
use opentelemetry_proto::tonic::trace::v1::span::Event;

use super::attrs::{get, kv, kv_str, str_of};
use super::document::{Cause, Exception, StackFrame};
use super::stack::{self, StackLanguage};

/// Most stack frames kept per exception; the rest are counted in `truncated`.
pub const MAX_STACK_FRAMES: usize = 50;

/// Name of the span events exceptions are recorded as.
pub const EXCEPTION_EVENT: &str = "exception";
/// Event attribute: the exception's X-Ray id (16 hex digits).
pub const EXCEPTION_ID_ATTRIBUTE: &str = "aws.xray.exception.id";
/// Event attribute: true when the exception came from a downstream call.
pub const EXCEPTION_REMOTE_ATTRIBUTE: &str = "aws.xray.exception.remote";
/// Event attribute: frames left out of the stack.
pub const EXCEPTION_TRUNCATED_ATTRIBUTE: &str = "aws.xray.exception.truncated";
/// Event attribute: exceptions skipped between this one and its cause.
pub const EXCEPTION_SKIPPED_ATTRIBUTE: &str = "aws.xray.exception.skipped";
/// Event attribute: id of the exception that caused this one.
pub const EXCEPTION_CAUSE_ATTRIBUTE: &str = "aws.xray.exception.cause";

/// An exception id: 16 hex digits derived from the span id and the
/// exception's position (deterministic, so the same span always gives the
/// same document; a mix function rather than an RNG call on the hot path).
pub(crate) fn exception_id(span_id: u64, index: usize) -> String {
    // splitmix64 finaliser.
    let mut z = span_id
        ^ (index as u64)
            .wrapping_add(1)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    format!("{:016x}", z.max(1))
}

fn int_of(attrs: &[KeyValue], key: &str) -> Option<u32> {
    match get(attrs, key)? {
        Av::IntValue(i) => u32::try_from(*i).ok(),
        _ => None,
    }
}

fn bool_of(attrs: &[KeyValue], key: &str) -> Option<bool> {
    match get(attrs, key)? {
        Av::BoolValue(b) => Some(*b),
        _ => None,
    }
}

/// Keeps at most [`MAX_STACK_FRAMES`]; returns how many were dropped.
fn cap(frames: &mut Vec<StackFrame>) -> u32 {
    let dropped = frames.len().saturating_sub(MAX_STACK_FRAMES);
    frames.truncate(MAX_STACK_FRAMES);
    u32::try_from(dropped).unwrap_or(u32::MAX)
}

/// The exceptions of a span's `exception` events (none without such
/// events: nothing is parsed then). `remote`: the span is a CLIENT or
/// PRODUCER; `language`: the resource's, for the stack-trace format.
pub(crate) fn exceptions(
    events: &[Event],
    span_id: u64,
    remote: bool,
    language: StackLanguage,
) -> Vec<Exception> {
    let mut out: Vec<Exception> = Vec::new();
    for event in events.iter().filter(|e| e.name == EXCEPTION_EVENT) {
        let attrs = &event.attributes;
        let chain = match get(attrs, "exception.stacktrace") {
            Some(Av::StringValue(text)) if !text.is_empty() => stack::parse(language, text),
            _ => vec![stack::Parsed::default()],
        };
        let remote = bool_of(attrs, EXCEPTION_REMOTE_ATTRIBUTE).or(remote.then_some(true));
        for (i, parsed) in chain.into_iter().enumerate() {
            let mut stack = parsed.frames;
            let dropped = cap(&mut stack);
            let mut e = Exception {
                id: exception_id(span_id, out.len()),
                message: parsed.message,
                kind: parsed.kind,
                remote,
                truncated: (dropped > 0).then_some(dropped),
                skipped: None,
                cause: None,
                stack,
            };
            if i == 0 {
                if let Some(id) = str_of(attrs, &[EXCEPTION_ID_ATTRIBUTE]) {
                    e.id = id;
                }
                e.kind = str_of(attrs, &["exception.type"]);
                e.message = str_of(attrs, &["exception.message"]);
                e.cause = str_of(attrs, &[EXCEPTION_CAUSE_ATTRIBUTE]);
                e.skipped = int_of(attrs, EXCEPTION_SKIPPED_ATTRIBUTE);
                if let Some(t) = int_of(attrs, EXCEPTION_TRUNCATED_ATTRIBUTE) {
                    e.truncated = Some(t.saturating_add(dropped));
                }
            } else if let Some(previous) = out.last_mut()
                && previous.cause.is_none()
            {
                // Each exception found in the trace caused the one before
                // (an explicit `aws.xray.exception.cause` is kept).
                previous.cause = Some(e.id.clone());
            }
            out.push(e);
        }
    }
    out
}

/// Renders a stack as Java-style text (the collector receiver's choice,
/// which every stack parser here and Java tools read): `Type: message`,
/// then `\tat label(path:line)` per frame; a frame without a path says
/// `Unknown Source`, one without a line leaves out `:line`.
fn stacktrace(e: &Exception) -> String {
    let mut s = String::with_capacity(64 + 64 * e.stack.len());
    match (&e.kind, &e.message) {
        (Some(k), Some(m)) => {
            s.push_str(k);
            s.push_str(": ");
            s.push_str(m);
        }
        (Some(k), None) => s.push_str(k),
        (None, Some(m)) => s.push_str(m),
        (None, None) => {}
    }
    for f in &e.stack {
        s.push_str("\n\tat ");
        s.push_str(f.label.as_deref().unwrap_or(""));
        s.push('(');
        s.push_str(f.path.as_deref().unwrap_or("Unknown Source"));
        if let Some(l) = f.line {
            // Writing to a String cannot fail.
            let _ = write!(s, ":{l}");
        }
        s.push(')');
    }
    s
}

/// An exception as an `exception` event at `time` (X-Ray does not record
/// when it happened; the span's end is used).
pub(crate) fn to_event(e: Exception, time: u64) -> Event {
    let trace = (!e.stack.is_empty()).then(|| stacktrace(&e));
    let mut attributes: Vec<KeyValue> = Vec::with_capacity(8);
    if !e.id.is_empty() {
        attributes.push(kv_str(EXCEPTION_ID_ATTRIBUTE, e.id));
    }
    if let Some(m) = e.message {
        attributes.push(kv_str("exception.message", m));
    }
    if let Some(k) = e.kind {
        attributes.push(kv_str("exception.type", k));
    }
    if let Some(r) = e.remote {
        attributes.push(kv(EXCEPTION_REMOTE_ATTRIBUTE, Av::BoolValue(r)));
    }
    if let Some(t) = e.truncated {
        attributes.push(kv(EXCEPTION_TRUNCATED_ATTRIBUTE, Av::IntValue(t.into())));
    }
    if let Some(s) = e.skipped {
        attributes.push(kv(EXCEPTION_SKIPPED_ATTRIBUTE, Av::IntValue(s.into())));
    }
    if let Some(c) = e.cause {
        attributes.push(kv_str(EXCEPTION_CAUSE_ATTRIBUTE, c));
    }
    if let Some(t) = trace {
        attributes.push(kv_str("exception.stacktrace", t));
    }
    Event {
        time_unix_nano: time,
        name: EXCEPTION_EVENT.to_owned(),
        attributes,
        dropped_attributes_count: 0,
    }
}

/// A document's `cause` → the span's `exception` events and the status
/// message it implies. An id-only cause is the message (there is nothing
/// else to carry it); on a failed span, a typeless, stackless exception
/// with a message is the status message to_segment wrote, not an event.
pub(crate) fn to_events(
    cause: Option<Cause>,
    status_error: bool,
    time: u64,
) -> (Vec<Event>, Option<String>) {
    let exceptions = match cause {
        None => return (Vec::new(), None),
        Some(Cause::Id(id)) => return (Vec::new(), Some(id)),
        Some(Cause::Exceptions(data)) => data.exceptions,
    };
    let message_exception = if status_error {
        exceptions
            .iter()
            .position(|e| e.kind.is_none() && e.stack.is_empty() && e.message.is_some())
    } else {
        None
    };
    let mut message = None;
    let mut events = Vec::with_capacity(exceptions.len());
    for (i, e) in exceptions.into_iter().enumerate() {
        if Some(i) == message_exception {
            message = e.message;
        } else {
            events.push(to_event(e, time));
        }
    }
    (events, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_beyond_the_cap_are_counted() {
        let mut frames = vec![StackFrame::default(); MAX_STACK_FRAMES + 7];
        assert_eq!(cap(&mut frames), 7);
        assert_eq!(frames.len(), MAX_STACK_FRAMES);
        let mut few = vec![StackFrame::default(); 3];
        assert_eq!(cap(&mut few), 0);
        assert_eq!(few.len(), 3);
    }
}
