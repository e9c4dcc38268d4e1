//! Attribute look-ups on OTLP key/value lists and the OTLP value ↔ JSON
//! mapping used for metadata.

use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, KeyValue, KeyValueList, any_value::Value as Av,
};
use serde_json::{Map, Number, Value};

/// The value of `key`, if present.
pub(crate) fn get<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a Av> {
    attrs
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| v.value.as_ref())
}

/// The value of the first present key, as a string (numbers and bools are
/// formatted); empty strings count as absent.
pub(crate) fn str_of(attrs: &[KeyValue], keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|k| match get(attrs, k)? {
        Av::StringValue(s) if !s.is_empty() => Some(s.clone()),
        Av::IntValue(i) => Some(i.to_string()),
        Av::DoubleValue(d) => Some(d.to_string()),
        Av::BoolValue(b) => Some(b.to_string()),
        _ => None,
    })
}

/// A string attribute.
pub(crate) fn kv_str(key: &str, value: impl Into<String>) -> KeyValue {
    kv(key, Av::StringValue(value.into()))
}

/// An integer attribute.
pub(crate) fn kv_int(key: &str, value: i64) -> KeyValue {
    kv(key, Av::IntValue(value))
}

/// An attribute.
pub(crate) fn kv(key: &str, value: Av) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
        ..KeyValue::default()
    }
}

/// OTLP value → JSON (bytes as lower-case hex; a kvlist as an object).
pub(crate) fn to_json(v: &Av) -> Value {
    match v {
        Av::StringValue(s) => Value::String(s.clone()),
        Av::BoolValue(b) => Value::Bool(*b),
        Av::IntValue(i) => Value::Number((*i).into()),
        Av::DoubleValue(d) => Number::from_f64(*d).map_or(Value::Null, Value::Number),
        Av::ArrayValue(a) => Value::Array(
            a.values
                .iter()
                .map(|v| v.value.as_ref().map_or(Value::Null, to_json))
                .collect(),
        ),
        Av::KvlistValue(l) => Value::Object(
            l.values
                .iter()
                .map(|kv| {
                    let v = kv
                        .value
                        .as_ref()
                        .and_then(|v| v.value.as_ref())
                        .map_or(Value::Null, to_json);
                    (kv.key.clone(), v)
                })
                .collect::<Map<_, _>>(),
        ),
        Av::BytesValue(b) => Value::String(hex::encode(b)),
        Av::StringValueStrindex(i) => Value::Number((*i).into()),
    }
}

/// JSON → OTLP value (`null` → `None`; integers that fit i64 stay
/// integers). Takes the value so strings and keys move instead of copying.
pub(crate) fn from_json(v: Value) -> Option<Av> {
    Some(match v {
        Value::Null => return None,
        Value::Bool(b) => Av::BoolValue(b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Av::IntValue(i),
            None => Av::DoubleValue(n.as_f64()?),
        },
        Value::String(s) => Av::StringValue(s),
        Value::Array(items) => Av::ArrayValue(ArrayValue {
            values: items
                .into_iter()
                .map(|i| AnyValue {
                    value: from_json(i),
                })
                .collect(),
        }),
        Value::Object(map) => Av::KvlistValue(KeyValueList {
            values: map
                .into_iter()
                .map(|(key, v)| KeyValue {
                    key,
                    value: Some(AnyValue {
                        value: from_json(v),
                    }),
                    ..KeyValue::default()
                })
                .collect(),
        }),
    })
}

/// Epoch nanoseconds → X-Ray float seconds, truncated to microseconds (an
/// f64 holds every microsecond of this era exactly enough to round back).
pub(crate) fn nanos_to_secs(nanos: u64) -> f64 {
    (nanos / 1_000) as f64 / 1e6
}

/// X-Ray float seconds → epoch nanoseconds, rounded to the microsecond.
/// Negative, NaN or absurd values give 0.
pub(crate) fn secs_to_nanos(secs: f64) -> u64 {
    if !secs.is_finite() || secs <= 0.0 {
        return 0;
    }
    let micros = (secs * 1e6).round();
    if micros >= (u64::MAX / 1_000) as f64 {
        return 0;
    }
    (micros as u64) * 1_000
}
