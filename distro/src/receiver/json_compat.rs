//! Lenient second pass for OTLP/JSON bodies the strict decoder refused.
//!
//! opentelemetry-proto's serde implements OTLP/JSON exactly as the OTLP
//! spec asks senders to write it (lowerCamelCase, hex ids, enums as
//! integers). The protobuf JSON mapping that the spec builds on also lets
//! a parser accept things some senders produce: original snake_case field
//! names, enum names (`"SPAN_KIND_SERVER"`), `null` for a default, and
//! (from `google.protobuf.json_format` or old OpenTelemetry JS exporters)
//! base64 ids. Only when the fast path fails do we pay for a
//! `serde_json::Value` round trip that rewrites those into the strict form.

use base64::Engine as _;
use serde_json::Value;

/// Parses `body` (any signal's export request) after normalising it; `None` if it still does not decode.
pub(crate) fn decode_lenient<T: serde::de::DeserializeOwned>(body: &[u8]) -> Option<T> {
    let mut v: Value = serde_json::from_slice(body).ok()?;
    normalize(&mut v);
    serde_json::from_value(v).ok()
}

fn normalize(v: &mut Value) {
    match v {
        Value::Object(map) => {
            let old = std::mem::take(map);
            for (key, mut val) in old {
                if val.is_null() {
                    continue; // proto3 JSON: null means "default"
                }
                let key = if key.contains('_') {
                    snake_to_camel(&key)
                } else {
                    key
                };
                match (key.as_str(), &mut val) {
                    // The enum fields of the three requests: Span.kind, Status.code,
                    // the metrics' aggregationTemporality and the logs' severityNumber.
                    ("aggregationTemporality", Value::String(s)) => {
                        if let Some(n) = temporality(s) {
                            val = Value::from(n);
                        }
                    }
                    ("severityNumber", Value::String(s)) => {
                        if let Some(n) = severity_number(s) {
                            val = Value::from(n);
                        }
                    }
                    ("kind", Value::String(s)) => {
                        if let Some(n) = span_kind(s) {
                            val = Value::from(n);
                        }
                    }
                    ("code", Value::String(s)) => {
                        if let Some(n) = status_code(s) {
                            val = Value::from(n);
                        }
                    }
                    ("traceId" | "spanId" | "parentSpanId", Value::String(s)) => {
                        // Spans, span links, log records and exemplars carry ids.
                        if let Some(hex) = base64_id_to_hex(s) {
                            val = Value::String(hex);
                        }
                    }
                    _ => normalize(&mut val),
                }
                map.insert(key, val);
            }
            // `values` of an empty ArrayValue / KeyValueList may be omitted.
            for k in ["arrayValue", "kvlistValue"] {
                if let Some(Value::Object(inner)) = map.get_mut(k) {
                    inner
                        .entry("values")
                        .or_insert_with(|| Value::Array(Vec::new()));
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(normalize),
        _ => {}
    }
}

fn snake_to_camel(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut upper = false;
    for c in s.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

fn span_kind(name: &str) -> Option<i64> {
    Some(match name {
        "SPAN_KIND_UNSPECIFIED" => 0,
        "SPAN_KIND_INTERNAL" => 1,
        "SPAN_KIND_SERVER" => 2,
        "SPAN_KIND_CLIENT" => 3,
        "SPAN_KIND_PRODUCER" => 4,
        "SPAN_KIND_CONSUMER" => 5,
        _ => return None,
    })
}

fn temporality(name: &str) -> Option<i64> {
    Some(match name {
        "AGGREGATION_TEMPORALITY_UNSPECIFIED" => 0,
        "AGGREGATION_TEMPORALITY_DELTA" => 1,
        "AGGREGATION_TEMPORALITY_CUMULATIVE" => 2,
        _ => return None,
    })
}

/// `SEVERITY_NUMBER_TRACE` = 1 ... `SEVERITY_NUMBER_FATAL4` = 24, four per level.
fn severity_number(name: &str) -> Option<i64> {
    let rest = name.strip_prefix("SEVERITY_NUMBER_")?;
    if rest == "UNSPECIFIED" {
        return Some(0);
    }
    let levels = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"];
    let (level, n) = levels.iter().enumerate().find_map(|(i, l)| {
        let tail = rest.strip_prefix(l)?;
        let n: i64 = if tail.is_empty() {
            1
        } else {
            tail.parse().ok()?
        };
        Some((i as i64, n))
    })?;
    (1..=4).contains(&n).then_some(level * 4 + n)
}

fn status_code(name: &str) -> Option<i64> {
    Some(match name {
        "STATUS_CODE_UNSET" => 0,
        "STATUS_CODE_OK" => 1,
        "STATUS_CODE_ERROR" => 2,
        _ => return None,
    })
}

/// A base64 id has 24 (16 bytes) or 12 (8 bytes) characters; hex has 32 or 16, so the lengths never collide.
fn base64_id_to_hex(s: &str) -> Option<String> {
    if s.len() != 24 && s.len() != 12 {
        return None;
    }
    let bytes = base64::engine::general_purpose::STANDARD.decode(s).ok()?;
    Some(hex::encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for (snake, camel) in [
            ("resource_spans", "resourceSpans"),
            ("start_time_unix_nano", "startTimeUnixNano"),
            ("name", "name"),
        ] {
            assert_eq!(snake_to_camel(snake), camel);
        }
        assert_eq!(span_kind("SPAN_KIND_CONSUMER"), Some(5));
        assert_eq!(span_kind("SERVER"), None);
        assert_eq!(status_code("STATUS_CODE_ERROR"), Some(2));
        // Enum values from opentelemetry-proto's logs.proto and metrics.proto.
        for (name, n) in [
            ("SEVERITY_NUMBER_UNSPECIFIED", Some(0)),
            ("SEVERITY_NUMBER_TRACE", Some(1)),
            ("SEVERITY_NUMBER_DEBUG4", Some(8)),
            ("SEVERITY_NUMBER_INFO", Some(9)),
            ("SEVERITY_NUMBER_WARN2", Some(14)),
            ("SEVERITY_NUMBER_FATAL4", Some(24)),
            ("SEVERITY_NUMBER_INFO5", None),
            ("INFO", None),
        ] {
            assert_eq!(severity_number(name), n, "{name}");
        }
        assert_eq!(temporality("AGGREGATION_TEMPORALITY_CUMULATIVE"), Some(2));
        assert_eq!(temporality("AGGREGATION_TEMPORALITY_DELTA"), Some(1));
        // 16 bytes 0x5b8efff7... from the OTLP example, base64 by Python's base64 module.
        assert_eq!(
            base64_id_to_hex("W47/95gDgQPSabYzgT/GDA==").as_deref(),
            Some("5b8efff798038103d269b633813fc60c")
        );
        assert_eq!(base64_id_to_hex("5b8efff798038103"), None);
    }
}
