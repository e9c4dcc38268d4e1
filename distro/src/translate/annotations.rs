//! Annotations and metadata (spec "Annotations: attribute keys listed in
//! the span attribute `aws.xray.annotations` …, or configured indexed keys;
//! key characters outside `[A-Za-z0-9]` → `_`. Everything else →
//! `metadata.default`. `aws.xray.metadata.<ns>` holds JSON for namespace
//! `<ns>`.").

use std::collections::BTreeMap;

use opentelemetry_proto::tonic::common::v1::any_value::Value as Av;
use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue, KeyValue};
use serde_json::{Map, Value};

use super::attrs::{from_json, kv, to_json};
use super::document::AnnotationValue;

/// Span attribute listing the attribute keys to index as annotations.
pub const ANNOTATIONS_ATTRIBUTE: &str = "aws.xray.annotations";
/// Prefix of span attributes holding JSON for a metadata namespace.
pub const METADATA_PREFIX: &str = "aws.xray.metadata.";
/// The metadata namespace for attributes that are not annotations.
pub const DEFAULT_NAMESPACE: &str = "default";
/// Most annotations per document (X-Ray allows 50 per trace).
pub const MAX_ANNOTATIONS: usize = 50;
/// Longest annotation key, in characters.
pub const MAX_KEY_CHARS: usize = 500;
/// Longest annotation string value, in characters.
pub const MAX_VALUE_CHARS: usize = 1000;

/// Which attributes become annotations besides those listed in
/// [`ANNOTATIONS_ATTRIBUTE`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IndexedKeys {
    /// Attribute keys always indexed (`OTEL_AWS_XRAY_INDEXED_ATTRIBUTES`).
    pub keys: Vec<String>,
    /// Index every attribute with a string, number or bool value
    /// (`OTEL_AWS_XRAY_INDEX_ALL_ATTRIBUTES`).
    pub all: bool,
}

/// An annotation key: characters outside `[A-Za-z0-9]` become `_`, at most
/// [`MAX_KEY_CHARS`] characters.
pub fn sanitize_key(key: &str) -> String {
    key.chars()
        .take(MAX_KEY_CHARS)
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// An annotation value when the attribute's type allows one (string
/// truncated to [`MAX_VALUE_CHARS`], integer, finite double, bool).
fn annotation_value(v: &Av) -> Option<AnnotationValue> {
    Some(match v {
        Av::StringValue(s) => {
            AnnotationValue::String(match s.char_indices().nth(MAX_VALUE_CHARS) {
                Some((cut, _)) => s[..cut].to_owned(),
                None => s.clone(),
            })
        }
        Av::IntValue(i) => AnnotationValue::Int(*i),
        Av::DoubleValue(d) if d.is_finite() => AnnotationValue::Double(*d),
        Av::BoolValue(b) => AnnotationValue::Bool(*b),
        _ => return None,
    })
}

fn listed(attrs: &[KeyValue]) -> Vec<&str> {
    let Some(Av::ArrayValue(a)) = attrs
        .iter()
        .find(|kv| kv.key == ANNOTATIONS_ATTRIBUTE)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| v.value.as_ref())
    else {
        return Vec::new();
    };
    a.values
        .iter()
        .filter_map(|v| match &v.value {
            Some(Av::StringValue(s)) => Some(s.as_str()),
            _ => None,
        })
        .collect()
}

/// Splits span attributes into annotations and metadata. `skip` tells which
/// keys another block already carries whole.
pub(crate) fn split(
    attrs: &[KeyValue],
    indexed: &IndexedKeys,
    skip: impl Fn(&str) -> bool,
) -> (BTreeMap<String, AnnotationValue>, BTreeMap<String, Value>) {
    let listed = listed(attrs);
    let mut annotations = BTreeMap::new();
    let mut metadata: BTreeMap<String, Value> = BTreeMap::new();
    let mut default = Map::new();
    for attr in attrs {
        let key = attr.key.as_str();
        let Some(value) = attr.value.as_ref().and_then(|v| v.value.as_ref()) else {
            continue;
        };
        if key == ANNOTATIONS_ATTRIBUTE || skip(key) {
            continue;
        }
        if let Some(ns) = key.strip_prefix(METADATA_PREFIX) {
            if ns.is_empty() || ns.starts_with("AWS.") {
                continue; // `AWS.` namespaces are reserved for X-Ray.
            }
            let json = match value {
                Av::StringValue(s) => {
                    serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.clone()))
                }
                other => to_json(other),
            };
            metadata.insert(ns.to_owned(), json);
            continue;
        }
        let wanted = indexed.all || listed.contains(&key) || indexed.keys.iter().any(|k| k == key);
        if wanted
            && annotations.len() < MAX_ANNOTATIONS
            && let Some(v) = annotation_value(value)
        {
            annotations.insert(sanitize_key(key), v);
            continue;
        }
        default.insert(key.to_owned(), to_json(value));
    }
    if !default.is_empty() {
        match metadata.get_mut(DEFAULT_NAMESPACE) {
            // `aws.xray.metadata.default` given as an object: merge.
            Some(Value::Object(existing)) => existing.extend(default),
            _ => {
                metadata.insert(DEFAULT_NAMESPACE.to_owned(), Value::Object(default));
            }
        }
    }
    (annotations, metadata)
}

/// Annotations back as attributes, plus [`ANNOTATIONS_ATTRIBUTE`] listing them.
pub(crate) fn annotations_to_attributes(
    annotations: &BTreeMap<String, AnnotationValue>,
    out: &mut Vec<KeyValue>,
) {
    if annotations.is_empty() {
        return;
    }
    let mut keys = Vec::with_capacity(annotations.len());
    for (k, v) in annotations {
        let value = match v {
            AnnotationValue::String(s) => Av::StringValue(s.clone()),
            AnnotationValue::Int(i) => Av::IntValue(*i),
            AnnotationValue::Double(d) => Av::DoubleValue(*d),
            AnnotationValue::Bool(b) => Av::BoolValue(*b),
        };
        out.push(kv(k, value));
        keys.push(AnyValue {
            value: Some(Av::StringValue(k.clone())),
        });
    }
    out.push(kv(
        ANNOTATIONS_ATTRIBUTE,
        Av::ArrayValue(ArrayValue { values: keys }),
    ));
}

/// Metadata back as attributes: `default` entries one attribute each, other
/// namespaces (and a non-object `default`) as `aws.xray.metadata.<ns>` JSON
/// strings. `reserved` is left out (see [`super::ROUNDTRIP_NAMESPACE`]).
pub(crate) fn metadata_to_attributes(
    metadata: &BTreeMap<String, Value>,
    reserved: &str,
    out: &mut Vec<KeyValue>,
) {
    for (ns, value) in metadata {
        if ns == reserved {
            continue;
        }
        if let (DEFAULT_NAMESPACE, Value::Object(map)) = (ns.as_str(), value) {
            for (k, v) in map {
                if let Some(v) = from_json(v) {
                    out.push(kv(k, v));
                }
            }
            continue;
        }
        let json = match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        out.push(kv(&format!("{METADATA_PREFIX}{ns}"), Av::StringValue(json)));
    }
}
