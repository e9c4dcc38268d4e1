//! `OTEL_RESOURCE_ATTRIBUTES`: `key=value` pairs separated by commas, in
//! the W3C Baggage format without properties; values are percent-decoded
//! (`%20` → space, `%2C` → comma; `+` stays a plus). Whitespace around
//! members, keys and values is trimmed, empty members (a trailing comma)
//! are ignored. Per the OpenTelemetry specification, on any error the whole
//! value is discarded: [`parse_resource_attributes`] reports it (startup
//! configuration), [`detect`] warns and contributes nothing.
//!
//! Percent-decoding is hand-written (a dozen lines): the `percent-encoding`
//! crate passes malformed escapes such as `%zz` through silently, and the
//! specification wants them treated as errors.

use opentelemetry::KeyValue;

use super::{OTEL_RESOURCE_ATTRIBUTES, ResourceConfigError};
use crate::Env;

/// Parses an `OTEL_RESOURCE_ATTRIBUTES` value into string attributes, in
/// order (a repeated key appears twice; the resource keeps the last).
/// Error messages name the offending key, never a value (values may be
/// sensitive).
pub fn parse_resource_attributes(value: &str) -> Result<Vec<KeyValue>, ResourceConfigError> {
    let err = |reason: String| ResourceConfigError::ResourceAttributes { reason };
    let mut out = Vec::new();
    for (index, member) in value.split(',').enumerate() {
        let member = member.trim();
        if member.is_empty() {
            continue;
        }
        let Some((key, raw)) = member.split_once('=') else {
            return Err(err(format!(
                "pair {} has no `=` (expected key=value)",
                index + 1
            )));
        };
        let key = key.trim();
        if key.is_empty() {
            return Err(err(format!("pair {} has an empty key", index + 1)));
        }
        let decoded = percent_decode(raw.trim())
            .ok_or_else(|| err(format!("the value of `{key}` has an invalid percent-encoding (use %XX with two hex digits, encoding UTF-8)")))?;
        out.push(KeyValue::new(key.to_string(), decoded));
    }
    Ok(out)
}

/// The attributes of `OTEL_RESOURCE_ATTRIBUTES`, or nothing (with a warning)
/// when it cannot be parsed.
pub(super) fn detect(env: &Env) -> Vec<KeyValue> {
    let Some(value) = env.get(OTEL_RESOURCE_ATTRIBUTES) else {
        return Vec::new();
    };
    parse_resource_attributes(value).unwrap_or_else(|err| {
        tracing::warn!(%err, "ignoring {OTEL_RESOURCE_ATTRIBUTES}");
        Vec::new()
    })
}

/// Decodes `%XX` escapes; `None` on a malformed escape or non-UTF-8 result.
fn percent_decode(s: &str) -> Option<String> {
    if !s.contains('%') {
        return Some(s.to_string());
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hi = hex_value(*bytes.get(i + 1)?)?;
            let lo = hex_value(*bytes.get(i + 2)?)?;
            out.push(hi << 4 | lo);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn hex_value(b: u8) -> Option<u8> {
    char::from(b)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}
