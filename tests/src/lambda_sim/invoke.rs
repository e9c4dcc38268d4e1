//! The scripted invokes: events (from a JSON-lines file or generated),
//! an X-Ray trace header per invoke, deadlines.

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use rand::Rng;

/// One scripted invoke.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvokeSpec {
    /// The event payload as the runtime receives it.
    pub event: Bytes,
    /// How long the environment stays frozen before this invoke thaws it.
    pub frozen_before: Duration,
    /// `Lambda-Runtime-Client-Context` header.
    pub client_context: Option<String>,
    /// `Lambda-Runtime-Cognito-Identity` header.
    pub cognito_identity: Option<String>,
    /// Use this trace header instead of a generated one.
    pub trace_header: Option<String>,
}

impl InvokeSpec {
    /// An invoke with this JSON event.
    pub fn json(event: &serde_json::Value) -> Self {
        Self::raw(event.to_string())
    }

    /// An invoke with this payload, sent as is.
    pub fn raw(event: impl Into<Bytes>) -> Self {
        Self {
            event: event.into(),
            frozen_before: Duration::ZERO,
            client_context: None,
            cognito_identity: None,
            trace_header: None,
        }
    }
}

/// Errors reading scripted events.
#[derive(Debug, thiserror::Error)]
pub enum InvokeSpecError {
    /// A line is not JSON.
    #[error("events line {line} is not JSON ({source}); write one JSON event per line")]
    Json {
        /// 1-based line number.
        line: usize,
        /// Parse error.
        source: serde_json::Error,
    },
    /// The file has no event.
    #[error("the events file has no event; write one JSON event per line")]
    Empty,
}

/// `n` generated invokes: `{"invoke":<i>,"message":"hello from lambda-sim"}`.
pub fn generated(n: usize) -> Vec<InvokeSpec> {
    (0..n)
        .map(|i| {
            InvokeSpec::json(
                &serde_json::json!({ "invoke": i, "message": "hello from lambda-sim" }),
            )
        })
        .collect()
}

/// Invokes from JSON lines (blank lines skipped). With `count`, the events
/// repeat cyclically until there are `count` invokes.
pub fn from_json_lines(
    text: &str,
    count: Option<usize>,
) -> Result<Vec<InvokeSpec>, InvokeSpecError> {
    let mut events = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        serde_json::from_str::<serde_json::Value>(line).map_err(|source| {
            InvokeSpecError::Json {
                line: i + 1,
                source,
            }
        })?;
        events.push(InvokeSpec::raw(line.to_string()));
    }
    if events.is_empty() {
        return Err(InvokeSpecError::Empty);
    }
    Ok(match count {
        Some(n) => events.iter().cycle().take(n).cloned().collect(),
        None => events,
    })
}

/// A fresh X-Ray trace header as Lambda passes it:
/// `Root=1-<epoch seconds, 8 hex>-<24 hex>;Parent=<16 hex>;Sampled=1`.
pub fn trace_header(now: SystemTime) -> String {
    let secs = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut rng = rand::rng();
    let root: [u8; 12] = rng.random();
    let mut parent: [u8; 8] = rng.random();
    if parent == [0; 8] {
        parent[7] = 1;
    }
    format!(
        "Root=1-{:08x}-{};Parent={};Sampled=1",
        secs as u32,
        hex::encode(root),
        hex::encode(parent)
    )
}

/// Milliseconds since the epoch.
pub fn epoch_ms(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_header_has_the_lambda_shape() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(0x6352_a70e);
        let h = trace_header(t);
        let parts: Vec<&str> = h.split(';').collect();
        assert_eq!(parts.len(), 3, "{h}");
        let root = parts[0].strip_prefix("Root=1-6352a70e-").unwrap();
        assert_eq!(root.len(), 24);
        assert!(
            root.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        let parent = parts[1].strip_prefix("Parent=").unwrap();
        assert_eq!(parent.len(), 16);
        assert_eq!(parts[2], "Sampled=1");
        assert_ne!(trace_header(t), h, "fresh ids per invoke");
    }

    #[test]
    fn json_lines_table() {
        let cases: [(&str, Option<usize>, Result<usize, ()>); 5] = [
            ("{\"a\":1}\n{\"b\":2}\n", None, Ok(2)),
            ("{\"a\":1}\n\n{\"b\":2}\n", Some(5), Ok(5)),
            ("\n\n", None, Err(())),
            ("{\"a\":1}\nnot json\n", None, Err(())),
            ("\"just a string\"", Some(1), Ok(1)),
        ];
        for (text, count, want) in cases {
            let got = from_json_lines(text, count)
                .map(|v| v.len())
                .map_err(|_| ());
            assert_eq!(got, want, "{text:?}");
        }
        let cyc = from_json_lines("1\n2\n", Some(3)).unwrap();
        assert_eq!(cyc[2].event, Bytes::from("1"));
    }
}
