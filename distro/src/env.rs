//! A snapshot of the environment variables the distro reads.
//!
//! Configuration and detectors read variables through [`Env`] instead of
//! `std::env` so tests can pass their own set without `set_var` (which is
//! racy across test threads), and so `otel-aws config` can report exactly
//! what was seen.

use std::collections::BTreeMap;

/// An immutable set of environment variables.
///
/// `Debug` prints `<redacted>` for every variable whose name marks it as
/// secret-bearing (`AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`,
/// `OTEL_EXPORTER_OTLP_HEADERS`, see [`crate::config::redact`]), so a
/// `?env` in a log line cannot leak them.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Env {
    vars: BTreeMap<String, String>,
}

impl std::fmt::Debug for Env {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use crate::config::redact::{Placeholder, is_secret_name};
        struct Vars<'a>(&'a BTreeMap<String, String>);
        impl std::fmt::Debug for Vars<'_> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                let mut map = f.debug_map();
                for (k, v) in self.0 {
                    if is_secret_name(k) {
                        map.entry(k, &Placeholder);
                    } else {
                        map.entry(k, v);
                    }
                }
                map.finish()
            }
        }
        f.debug_struct("Env")
            .field("vars", &Vars(&self.vars))
            .finish()
    }
}

impl Env {
    /// Snapshot of the current process environment (non-UTF-8 entries are skipped).
    pub fn from_process() -> Self {
        Self {
            vars: std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect(),
        }
    }

    /// An environment made of the given pairs only (for tests and embedding).
    pub fn from_pairs<I, K, V>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Self {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// Returns a copy with `key` set to `value`.
    #[must_use]
    pub fn with(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.vars.insert(key.into(), value.into());
        self
    }

    /// The value of `key`, trimmed; `None` when unset or blank (an empty
    /// variable counts as unset, as the OpenTelemetry specification says).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.vars
            .get(key)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// The value of `key` exactly as set (not trimmed; may be empty).
    pub fn raw(&self, key: &str) -> Option<&str> {
        self.vars.get(key).map(String::as_str)
    }

    /// All variables whose name starts with `prefix`.
    pub fn with_prefix<'a>(
        &'a self,
        prefix: &'a str,
    ) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        self.vars
            .range(prefix.to_string()..)
            .take_while(move |(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_counts_as_unset() {
        let env = Env::from_pairs([
            ("A", "  "),
            ("B", " x "),
            ("OTEL_A", "1"),
            ("OTEL_B", "2"),
            ("P", "3"),
        ]);
        assert_eq!(env.get("A"), None);
        assert_eq!(env.raw("A"), Some("  "));
        assert_eq!(env.get("B"), Some("x"));
        assert_eq!(env.get("C"), None);
        let otel: Vec<_> = env.with_prefix("OTEL_").map(|(k, _)| k).collect();
        assert_eq!(otel, ["OTEL_A", "OTEL_B"]);
    }
}
