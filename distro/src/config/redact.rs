//! Keeping secrets out of errors and `Debug` output.
//!
//! Header lists (`OTEL_EXPORTER_OTLP_HEADERS` often carries an
//! `Authorization` or API key) and variables named like a credential
//! (`AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `*_PASSWORD`, ...) are
//! never printed: errors name the variable and what is wrong (e.g. the
//! position of the bad pair), and `Debug` shows `<redacted>` in place of
//! the value.

use std::fmt;

/// What `Debug` prints in place of a secret.
pub const REDACTED: &str = "<redacted>";

/// Parts of a variable (or setting) name that mark its value as secret.
const SECRET_MARKERS: &[&str] = &[
    "HEADERS",
    "AUTHORIZATION",
    "KEY",
    "TOKEN",
    "SECRET",
    "PASSWORD",
    "PASSWD",
    "CREDENTIAL",
    "COOKIE",
    "SIGNATURE",
];

/// Whether the value of the variable or setting `name` may hold a secret
/// (case-insensitive: `OTEL_EXPORTER_OTLP_HEADERS`, `AWS_SESSION_TOKEN`,
/// `api_key`, ...).
pub fn is_secret_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    SECRET_MARKERS.iter().any(|m| upper.contains(m))
}

/// `Debug` for a header list: the names, every value `<redacted>`.
pub struct RedactedHeaders<'a, K, V>(pub &'a [(K, V)]);

impl<K: fmt::Debug, V> fmt::Debug for RedactedHeaders<'_, K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(k, _)| (k, Placeholder)))
            .finish()
    }
}

/// Prints [`REDACTED`] unquoted.
#[derive(Clone, Copy)]
pub struct Placeholder;

impl fmt::Debug for Placeholder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names() {
        for name in [
            "OTEL_EXPORTER_OTLP_HEADERS",
            "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "AWS_ACCESS_KEY_ID",
            "DB_PASSWORD",
            "api_key",
            "Authorization",
        ] {
            assert!(is_secret_name(name), "{name}");
        }
        for name in ["OTEL_SERVICE_NAME", "AWS_REGION", "OTEL_BSP_SCHEDULE_DELAY"] {
            assert!(!is_secret_name(name), "{name}");
        }
    }
}
