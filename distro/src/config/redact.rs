//! Keeping secrets out of errors and `Debug` output.
//!
//! Header lists (`OTEL_EXPORTER_OTLP_HEADERS` often carries an
//! `Authorization` or API key) and variables named like a credential
//! (`AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `*_PASSWORD`, ...) are
//! never printed: errors name the variable and what is wrong (e.g. the
//! position of the bad pair), and `Debug` shows `<redacted>` in place of
//! the value. Endpoint URLs are printed through [`url()`], which hides the
//! `user:password@` part and the query string (`?api_key=...`).

use std::borrow::Cow;
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

/// `endpoint` fit for a log line or an error: userinfo (`user:password@`)
/// and the query string are replaced by [`REDACTED`]; scheme, host, port and
/// path are kept. Works on text that is not a valid URL too (errors about
/// malformed endpoints go through it), so it does not parse, it only cuts:
/// the authority is what follows `://` up to the first `/`, `?` or `#`
/// (without `://`, all up to the first `?` or `#`: better too much hidden
/// than too little), and its userinfo is everything up to its last `@`.
pub fn url(endpoint: &str) -> Cow<'_, str> {
    let scheme_end = endpoint.find("://").map(|i| i + 3);
    let start = scheme_end.unwrap_or(0);
    let rest = &endpoint[start..];
    let auth_end: &[char] = if scheme_end.is_some() {
        &['/', '?', '#']
    } else {
        &['?', '#']
    };
    let auth_len = rest.find(auth_end).unwrap_or(rest.len());
    let at = rest[..auth_len].rfind('@');
    let query = endpoint[start + auth_len..]
        .find('?')
        .map(|q| start + auth_len + q);
    if at.is_none() && query.is_none() {
        return Cow::Borrowed(endpoint);
    }
    let mut out = String::with_capacity(endpoint.len());
    out.push_str(&endpoint[..start]);
    match at {
        Some(at) => {
            out.push_str(REDACTED);
            out.push_str(&rest[at..auth_len]);
        }
        None => out.push_str(&rest[..auth_len]),
    }
    match query {
        Some(q) => {
            out.push_str(&endpoint[start + auth_len..=q]);
            out.push_str(REDACTED);
            if let Some(hash) = endpoint[q..].find('#') {
                out.push_str(&endpoint[q + hash..]);
            }
        }
        None => out.push_str(&endpoint[start + auth_len..]),
    }
    Cow::Owned(out)
}

/// `Display` of an endpoint through [`url()`] (for `%endpoint` in log fields
/// and `{}` in error messages).
pub struct RedactedUrl<'a>(pub &'a str);

impl fmt::Display for RedactedUrl<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&url(self.0))
    }
}

impl fmt::Debug for RedactedUrl<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&url(self.0), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_userinfo_and_query() {
        let cases = [
            (
                "https://xray.us-east-1.amazonaws.com/v1/traces",
                "https://xray.us-east-1.amazonaws.com/v1/traces",
            ),
            (
                "https://user:pass@host:4318/v1/traces",
                "https://<redacted>@host:4318/v1/traces",
            ),
            ("http://tok@host", "http://<redacted>@host"),
            // The last `@` ends the userinfo (a password may hold `@`).
            ("https://u:p@ss@host/x", "https://<redacted>@host/x"),
            (
                "https://host/v1/traces?api_key=s3cr3t",
                "https://host/v1/traces?<redacted>",
            ),
            (
                "https://u:p@host?k=v#frag",
                "https://<redacted>@host?<redacted>#frag",
            ),
            // An `@` in the path is not userinfo.
            ("https://host/a@b", "https://host/a@b"),
            // Not URLs: still cut.
            ("user:pass@host:4318", "<redacted>@host:4318"),
            ("htp:/u:p@x", "<redacted>@x"),
            ("", ""),
        ];
        for (input, want) in cases {
            assert_eq!(url(input), want, "{input}");
            assert_eq!(RedactedUrl(input).to_string(), want, "{input}");
        }
    }

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
