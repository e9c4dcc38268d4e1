//! Annotations and metadata (spec "Annotations: attribute keys listed in
//! the span attribute `aws.xray.annotations` …, or configured indexed keys;
//! key characters outside `[A-Za-z0-9]` → `_`. Everything else →
//! `metadata.default`. `aws.xray.metadata.<ns>` holds JSON for namespace
//! `<ns>`.").

use std::borrow::Cow;

use opentelemetry_proto::tonic::common::v1::any_value::Value as Av;
use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue, KeyValue};
use serde_json::Value;

use super::ROUNDTRIP_NAMESPACE;
use super::attrs::kv;
use super::document::AnnotationValue;
use super::index::{Key, SpanAttrs};
use super::metadata::{Metadata, value_of};
use super::to_segment::out::{AnnotationOut, Annotations, MetadataOut};

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

/// [`sanitize_key`], borrowing a key that needs no change.
fn sanitized_key(key: &str) -> Cow<'_, str> {
    if key.len() <= MAX_KEY_CHARS && key.bytes().all(|b| b.is_ascii_alphanumeric()) {
        Cow::Borrowed(key)
    } else {
        Cow::Owned(sanitize_key(key))
    }
}

/// An annotation value when the attribute's type allows one (string
/// truncated to [`MAX_VALUE_CHARS`], integer, finite double, bool).
fn annotation_value(v: &Av) -> Option<AnnotationOut<'_>> {
    Some(match v {
        Av::StringValue(s) => AnnotationOut::String(if s.len() <= MAX_VALUE_CHARS {
            s // no more characters than bytes
        } else {
            match s.char_indices().nth(MAX_VALUE_CHARS) {
                Some((cut, _)) => &s[..cut],
                None => s,
            }
        }),
        Av::IntValue(i) => AnnotationOut::Int(*i),
        Av::DoubleValue(d) if d.is_finite() => AnnotationOut::Double(*d),
        Av::BoolValue(b) => AnnotationOut::Bool(*b),
        _ => return None,
    })
}

/// True when `key` is listed in the span's [`ANNOTATIONS_ATTRIBUTE`].
fn listed(list: Option<&Av>, key: &str) -> bool {
    let Some(Av::ArrayValue(a)) = list else {
        return false;
    };
    a.values
        .iter()
        .any(|v| matches!(&v.value, Some(Av::StringValue(s)) if s == key))
}

/// Splits span attributes into annotations and metadata. `skip` tells which
/// keys another block already carries whole. `reserved` names the
/// round-trip namespace.
pub(crate) fn split<'a>(
    attrs: &SpanAttrs<'a>,
    resource: &'a [KeyValue],
    indexed: &IndexedKeys,
    skip: impl Fn(Key) -> bool,
    reserved: &'static str,
) -> (Annotations<'a>, MetadataOut<'a>) {
    let list = attrs.get(Key::XrayAnnotations);
    let mut annotations = Annotations::default();
    let mut metadata = MetadataOut::new(reserved);
    for attr in attrs.all {
        let key = attr.key.as_str();
        let Some(value) = attr.value.as_ref().and_then(|v| v.value.as_ref()) else {
            continue;
        };
        if let Some(k) = Key::of(key)
            && (k == Key::XrayAnnotations || skip(k))
        {
            continue;
        }
        if let Some(ns) = key.strip_prefix(METADATA_PREFIX) {
            if ns.is_empty() || ns.starts_with("AWS.") {
                continue; // `AWS.` namespaces are reserved for X-Ray.
            }
            // A JSON object is the namespace; anything else is kept as
            // it is under `default` (the collector's reading).
            if let Av::StringValue(s) = value
                && let Ok(object @ Value::Object(_)) = serde_json::from_str::<Value>(s)
            {
                metadata.named.insert(ns.to_owned(), object);
            } else {
                metadata.default.push((key, value));
            }
            continue;
        }
        let wanted = indexed.all || listed(list, key) || indexed.keys.iter().any(|k| k == key);
        if wanted
            && annotations.len() < MAX_ANNOTATIONS
            && let Some(v) = annotation_value(value)
        {
            annotations.insert(sanitized_key(key), v);
            continue;
        }
        metadata.default.push((key, value));
    }
    // The resource (segments only; keys already `otel.resource.`-prefixed),
    // after the span's own attributes for the annotation budget.
    for attr in resource {
        let key = attr.key.as_str();
        let Some(value) = attr.value.as_ref().and_then(|v| v.value.as_ref()) else {
            continue;
        };
        let wanted = indexed.all || listed(list, key) || indexed.keys.iter().any(|k| k == key);
        if wanted
            && annotations.len() < MAX_ANNOTATIONS
            && let Some(v) = annotation_value(value)
        {
            annotations.insert(sanitized_key(key), v);
            continue;
        }
        metadata.default.push((key, value));
    }
    annotations.sort();
    metadata.finish();
    (annotations, metadata)
}

/// Annotations back as attributes, plus [`ANNOTATIONS_ATTRIBUTE`] listing
/// them (keys and strings move out of the document).
pub(crate) fn annotations_to_attributes(
    annotations: Vec<(String, AnnotationValue)>,
    out: &mut Vec<KeyValue>,
) {
    if annotations.is_empty() {
        return;
    }
    let mut keys = Vec::with_capacity(annotations.len());
    for (k, v) in annotations {
        let value = match v {
            AnnotationValue::String(s) => Av::StringValue(s),
            AnnotationValue::Int(i) => Av::IntValue(i),
            AnnotationValue::Double(d) => Av::DoubleValue(d),
            AnnotationValue::Bool(b) => Av::BoolValue(b),
        };
        keys.push(AnyValue {
            value: Some(Av::StringValue(k.clone())),
        });
        out.push(KeyValue {
            key: k,
            value: Some(AnyValue { value: Some(value) }),
            ..KeyValue::default()
        });
    }
    out.push(kv(
        ANNOTATIONS_ATTRIBUTE,
        Av::ArrayValue(ArrayValue { values: keys }),
    ));
}

/// Metadata back as attributes: `default` entries one attribute each, other
/// namespaces (and a `default` that is not an object) as
/// `aws.xray.metadata.<ns>` JSON strings, in namespace order. The
/// round-trip namespace is left out (see [`super::ROUNDTRIP_NAMESPACE`]).
pub(crate) fn metadata_to_attributes(metadata: Metadata, out: &mut Vec<KeyValue>) {
    let mut default = Some(metadata.default).filter(|d| !d.is_empty());
    for (ns, value) in metadata.named {
        if ns == ROUNDTRIP_NAMESPACE || (ns == DEFAULT_NAMESPACE && default.is_some()) {
            continue;
        }
        if ns.as_str() > DEFAULT_NAMESPACE
            && let Some(entries) = default.take()
        {
            default_to_attributes(entries, out);
        }
        let json = match value {
            Value::String(s) => s,
            other => other.to_string(),
        };
        out.push(kv(&format!("{METADATA_PREFIX}{ns}"), Av::StringValue(json)));
    }
    if let Some(entries) = default {
        default_to_attributes(entries, out);
    }
}

/// `default` entries as attributes (values moved). An attribute kept whole
/// in metadata wins over what a block's field (read before) made of it.
fn default_to_attributes(entries: Vec<KeyValue>, out: &mut Vec<KeyValue>) {
    let before = out.len();
    for entry in entries {
        if value_of(&entry).is_none() {
            continue; // `null`
        }
        match out[..before].iter_mut().find(|kv| kv.key == entry.key) {
            Some(kv) => kv.value = entry.value,
            None => out.push(entry),
        }
    }
}
