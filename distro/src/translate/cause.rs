//! `cause.exceptions` from span `exception` events, and back (spec
//! "`cause.exceptions` from span `exception` events (type, message, stack)").

use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::trace::v1::span::Event;

use super::attrs::{kv_str, str_of};
use super::document::{Cause, CauseData, Exception, StackFrame};

/// Most stack frames kept per exception; the rest are counted in `truncated`.
pub const MAX_STACK_FRAMES: usize = 50;

/// An exception id: 16 hex digits derived from the span id and the event's
/// position (deterministic, so the same span always gives the same
/// document; a mix function rather than an RNG call on the hot path).
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

/// Parses one stack-trace line of the common formats: Java/.NET/JavaScript
/// `at label (path:line[:col])` / `at label(path:line)`, Python
/// `File "path", line N, in label`; any other non-empty line becomes a
/// frame with only a label. Hand-written: no crate parses stack traces of
/// several languages.
pub fn parse_frame(line: &str) -> Option<StackFrame> {
    let line = line.trim();
    if line.is_empty() {
        return None;
    }
    if let Some(rest) = line.strip_prefix("File \"") {
        let (path, rest) = rest.split_once('"')?;
        let mut frame = StackFrame {
            path: Some(path.to_owned()),
            ..StackFrame::default()
        };
        for part in rest.split(',').map(str::trim) {
            if let Some(n) = part.strip_prefix("line ") {
                frame.line = n.trim().parse().ok();
            } else if let Some(l) = part.strip_prefix("in ") {
                frame.label = Some(l.trim().to_owned());
            }
        }
        return Some(frame);
    }
    if let Some(rest) = line.strip_prefix("at ") {
        if let (Some(open), true) = (rest.rfind('('), rest.ends_with(')')) {
            let label = rest[..open].trim();
            let location = &rest[open + 1..rest.len() - 1];
            let (path, line_no) = split_location(location);
            return Some(StackFrame {
                path,
                line: line_no,
                label: (!label.is_empty()).then(|| label.to_owned()),
            });
        }
        let (path, line_no) = split_location(rest);
        return Some(StackFrame {
            path,
            line: line_no,
            label: None,
        });
    }
    Some(StackFrame {
        label: Some(line.to_owned()),
        ..StackFrame::default()
    })
}

/// `path:line[:col]` → (path, line).
fn split_location(loc: &str) -> (Option<String>, Option<u32>) {
    let mut parts: Vec<&str> = loc.rsplitn(3, ':').collect();
    parts.reverse();
    let numeric = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    match parts.as_slice() {
        [path, line, col] if numeric(line) && numeric(col) => {
            (Some((*path).to_owned()), line.parse().ok())
        }
        [a, b, line] if numeric(line) => (Some(format!("{a}:{b}")), line.parse().ok()),
        [path, line] if numeric(line) => (Some((*path).to_owned()), line.parse().ok()),
        _ => ((!loc.is_empty()).then(|| loc.to_owned()), None),
    }
}

/// One exception per `exception` event. The stack's first line (the
/// `Type: message` header most runtimes print) is skipped when it is not a
/// frame.
pub(crate) fn exceptions(events: &[Event], span_id: u64, remote: bool) -> Vec<Exception> {
    let mut out = Vec::new();
    for event in events.iter().filter(|e| e.name == "exception") {
        let attrs = &event.attributes;
        let kind = str_of(attrs, &["exception.type"]);
        let message = str_of(attrs, &["exception.message"]);
        let mut stack = Vec::new();
        let mut truncated = 0u32;
        if let Some(trace) = str_of(attrs, &["exception.stacktrace"]) {
            let mut lines = trace.lines().peekable();
            if let Some(first) = lines.peek() {
                let t = first.trim_start();
                if !t.starts_with("at ") && !t.starts_with("File \"") {
                    lines.next();
                }
            }
            for frame in lines.filter_map(parse_frame) {
                if stack.len() < MAX_STACK_FRAMES {
                    stack.push(frame);
                } else {
                    truncated += 1;
                }
            }
        }
        out.push(Exception {
            id: exception_id(span_id, out.len()),
            message,
            kind,
            remote: remote.then_some(true),
            truncated: (truncated > 0).then_some(truncated),
            skipped: None,
            cause: None,
            stack,
        });
    }
    out
}

/// The cause as exceptions (an id-only cause has none).
pub(crate) fn exceptions_of(cause: Option<&Cause>) -> &[Exception] {
    match cause {
        Some(Cause::Exceptions(CauseData { exceptions, .. })) => exceptions,
        _ => &[],
    }
}

/// Formats a stack back into text: `Type: message` then `\tat label(path:line)`.
fn stacktrace(e: &Exception) -> String {
    let mut s = match (&e.kind, &e.message) {
        (Some(k), Some(m)) => format!("{k}: {m}"),
        (Some(k), None) => k.clone(),
        (None, Some(m)) => m.clone(),
        (None, None) => String::new(),
    };
    for f in &e.stack {
        s.push_str("\n\tat ");
        s.push_str(f.label.as_deref().unwrap_or(""));
        if let Some(p) = &f.path {
            s.push('(');
            s.push_str(p);
            if let Some(l) = f.line {
                s.push(':');
                s.push_str(&l.to_string());
            }
            s.push(')');
        }
    }
    s
}

/// An exception back as an `exception` event at `time` (X-Ray does not
/// record when it happened; the span's end is used).
pub(crate) fn to_event(e: &Exception, time: u64) -> Event {
    let mut attributes: Vec<KeyValue> = Vec::with_capacity(3);
    if let Some(k) = &e.kind {
        attributes.push(kv_str("exception.type", k.as_str()));
    }
    if let Some(m) = &e.message {
        attributes.push(kv_str("exception.message", m.as_str()));
    }
    if !e.stack.is_empty() {
        attributes.push(kv_str("exception.stacktrace", stacktrace(e)));
    }
    Event {
        time_unix_nano: time,
        name: "exception".to_owned(),
        attributes,
        dropped_attributes_count: 0,
    }
}
