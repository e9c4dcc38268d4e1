//! A document's `metadata`, typed for what the translation reads (spec
//! "Segment documents": namespace → JSON object): the `default` namespace
//! as OTLP key/values, the round-trip namespace ([`super::ROUNDTRIP_NAMESPACE`])
//! as its four fields, any other namespace as JSON.
//!
//! Read straight from the document text: the `default` entries become the
//! span's attributes without a `serde_json::Value` tree in between (on the
//! segment → span path a `BTreeMap` of `Value`s per namespace cost about a
//! fifth of the time; docs/benchmarks.md, "X-Ray translation").

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use opentelemetry_proto::tonic::common::v1::any_value::Value as Av;
use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue, KeyValue, KeyValueList};
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Number, Value};

use super::ROUNDTRIP_NAMESPACE;
use super::annotations::DEFAULT_NAMESPACE;

/// `metadata`: namespace → object.
///
/// Serialised as one JSON object with the namespaces in key order (as a
/// map of them would be). `default` and the round-trip namespace are
/// written from their typed fields when those hold anything; a namespace
/// of the same name in [`Metadata::named`] is written only otherwise.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Metadata {
    /// The `default` namespace's entries (JSON `null` as an [`AnyValue`]
    /// holding no value), sorted by key, unique (the last of a repeated key
    /// kept).
    pub default: Vec<KeyValue>,
    /// The round-trip namespace ([`super::ROUNDTRIP_NAMESPACE`]).
    pub otel: OtelNamespace,
    /// Every other namespace, and `default` or the round-trip namespace
    /// when not an object.
    pub named: BTreeMap<String, Value>,
}

/// What the round-trip namespace holds: what X-Ray cannot say itself, for
/// the way back. Other keys, and values that are not strings, are not kept.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct OtelNamespace {
    /// The span kind's OTLP name (`SPAN_KIND_CLIENT`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub span_kind: Option<String>,
    /// The span's own name, when the document is named otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub span_name: Option<String>,
    /// The status code's OTLP name (`STATUS_CODE_OK`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_code: Option<String>,
    /// The status message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_message: Option<String>,
}

impl OtelNamespace {
    /// The fields set, with their names.
    pub(crate) fn fields(&self) -> impl Iterator<Item = (OtelField, &'static str, &str)> {
        OtelField::ALL.into_iter().filter_map(|f| {
            let (name, v) = match f {
                OtelField::SpanKind => ("span_kind", &self.span_kind),
                OtelField::SpanName => ("span_name", &self.span_name),
                OtelField::StatusCode => ("status_code", &self.status_code),
                OtelField::StatusMessage => ("status_message", &self.status_message),
                OtelField::Other => return None,
            };
            Some((f, name, v.as_deref()?))
        })
    }

    /// The field `f` (`None` for [`OtelField::Other`]).
    pub(crate) fn slot(&mut self, f: OtelField) -> Option<&mut Option<String>> {
        Some(match f {
            OtelField::SpanKind => &mut self.span_kind,
            OtelField::SpanName => &mut self.span_name,
            OtelField::StatusCode => &mut self.status_code,
            OtelField::StatusMessage => &mut self.status_message,
            OtelField::Other => return None,
        })
    }

    /// True when no field is set.
    pub fn is_empty(&self) -> bool {
        self.span_kind.is_none()
            && self.span_name.is_none()
            && self.status_code.is_none()
            && self.status_message.is_none()
    }
}

/// One namespace as written.
pub(crate) enum Namespace<'m> {
    /// `default`, typed.
    Default(&'m [KeyValue]),
    /// The round-trip namespace, typed.
    Otel(&'m OtelNamespace),
    /// Any other.
    Named(&'m Value),
}

impl Metadata {
    /// True when nothing is written.
    pub fn is_empty(&self) -> bool {
        self.default.is_empty() && self.otel.is_empty() && self.named.is_empty()
    }

    /// The namespaces as written, in key order.
    pub(crate) fn namespaces(&self) -> Vec<(&str, Namespace<'_>)> {
        let (default, otel) = (!self.default.is_empty(), !self.otel.is_empty());
        let mut out = Vec::with_capacity(self.named.len() + 2);
        for (ns, v) in &self.named {
            let shadowed =
                (default && ns == DEFAULT_NAMESPACE) || (otel && ns == ROUNDTRIP_NAMESPACE);
            if !shadowed {
                out.push((ns.as_str(), Namespace::Named(v)));
            }
        }
        if default {
            out.push((DEFAULT_NAMESPACE, Namespace::Default(&self.default)));
        }
        if otel {
            out.push((ROUNDTRIP_NAMESPACE, Namespace::Otel(&self.otel)));
        }
        if !self.named.is_empty() {
            out.sort_by(|a, b| a.0.cmp(b.0));
        }
        out
    }
}

impl Serialize for Namespace<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Named(v) => v.serialize(s),
            Self::Otel(o) => o.serialize(s),
            Self::Default(entries) => {
                let mut map = s.serialize_map(Some(entries.len()))?;
                for kv in *entries {
                    map.serialize_entry(&kv.key, &OptAvJson(value_of(kv)))?;
                }
                map.end()
            }
        }
    }
}

impl Serialize for Metadata {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let spaces = self.namespaces();
        let mut map = s.serialize_map(Some(spaces.len()))?;
        for (ns, v) in &spaces {
            map.serialize_entry(ns, v)?;
        }
        map.end()
    }
}

/// The value of an entry, if any.
pub(crate) fn value_of(kv: &KeyValue) -> Option<&Av> {
    kv.value.as_ref().and_then(|v| v.value.as_ref())
}

/// An OTLP value serialised as [`super::attrs::to_json`] would make it (a
/// kvlist as an object with sorted keys, the last duplicate winning).
pub(crate) struct AvJson<'a>(pub(crate) &'a Av);

/// A possibly absent OTLP value (`null` when absent).
pub(crate) struct OptAvJson<'a>(pub(crate) Option<&'a Av>);

impl Serialize for OptAvJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Some(v) => AvJson(v).serialize(s),
            None => s.serialize_unit(),
        }
    }
}

impl Serialize for AvJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Av::StringValue(v) => s.serialize_str(v),
            Av::BoolValue(b) => s.serialize_bool(*b),
            Av::IntValue(i) => s.serialize_i64(*i),
            Av::DoubleValue(d) if d.is_finite() => s.serialize_f64(*d),
            Av::DoubleValue(_) => s.serialize_unit(),
            Av::ArrayValue(a) => {
                let mut seq = s.serialize_seq(Some(a.values.len()))?;
                for v in &a.values {
                    seq.serialize_element(&OptAvJson(v.value.as_ref()))?;
                }
                seq.end()
            }
            Av::KvlistValue(l) => {
                let entries = sorted_last_wins(
                    l.values
                        .iter()
                        .map(|kv| (kv.key.as_str(), value_of(kv)))
                        .collect(),
                );
                let mut map = s.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    map.serialize_entry(k, &OptAvJson(v))?;
                }
                map.end()
            }
            Av::BytesValue(b) => s.serialize_str(&hex::encode(b)),
            Av::StringValueStrindex(i) => s.serialize_i32(*i),
        }
    }
}

/// Sorts by key keeping, for a repeated key, its last entry (a map built by
/// inserting in order).
pub(crate) fn sorted_last_wins<T>(mut entries: Vec<(&str, T)>) -> Vec<(&str, T)> {
    // Stable: equal keys keep their order, so the last of a run is the last inserted.
    entries.sort_by(|a, b| a.0.cmp(b.0));
    let mut out: Vec<(&str, T)> = Vec::with_capacity(entries.len());
    for e in entries {
        match out.last_mut() {
            Some(last) if last.0 == e.0 => *last = e,
            _ => out.push(e),
        }
    }
    out
}

/// [`sorted_last_wins`] in place for key/values (what a JSON object read
/// into a map gives). Entries already sorted and unique (every document
/// this crate writes) cost one pass.
pub(crate) fn sort_entries(entries: &mut Vec<KeyValue>) {
    if entries.windows(2).all(|w| w[0].key < w[1].key) {
        return;
    }
    entries.sort_by(|a, b| a.key.cmp(&b.key));
    // `dedup_by` keeps the first of a run: move the later one into its place.
    entries.dedup_by(|later, kept| {
        if later.key == kept.key {
            std::mem::swap(later, kept);
            true
        } else {
            false
        }
    });
}

/// A JSON value read straight into an OTLP value, as
/// [`super::attrs::from_json`] maps one (`null` is `None`; an object's keys
/// sorted, the last duplicate winning).
pub(crate) struct JsonAv(pub(crate) Option<Av>);

impl<'de> Deserialize<'de> for JsonAv {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(JsonAvVisitor)
    }
}

struct JsonAvVisitor;

impl<'de> Visitor<'de> for JsonAvVisitor {
    type Value = JsonAv;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<JsonAv, E> {
        Ok(JsonAv(Some(Av::BoolValue(v))))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<JsonAv, E> {
        Ok(JsonAv(Some(Av::IntValue(v))))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<JsonAv, E> {
        Ok(JsonAv(Some(match i64::try_from(v) {
            Ok(i) => Av::IntValue(i),
            Err(_) => Av::DoubleValue(v as f64),
        })))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<JsonAv, E> {
        Ok(JsonAv(Some(Av::DoubleValue(v))))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<JsonAv, E> {
        Ok(JsonAv(Some(Av::StringValue(v.to_owned()))))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<JsonAv, E> {
        Ok(JsonAv(Some(Av::StringValue(v))))
    }
    fn visit_unit<E: de::Error>(self) -> Result<JsonAv, E> {
        Ok(JsonAv(None))
    }
    fn visit_none<E: de::Error>(self) -> Result<JsonAv, E> {
        Ok(JsonAv(None))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<JsonAv, D::Error> {
        JsonAv::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<JsonAv, A::Error> {
        let mut values = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(JsonAv(value)) = seq.next_element()? {
            values.push(AnyValue { value });
        }
        Ok(JsonAv(Some(Av::ArrayValue(ArrayValue { values }))))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<JsonAv, A::Error> {
        let mut values = entries(map)?;
        sort_entries(&mut values);
        Ok(JsonAv(Some(Av::KvlistValue(KeyValueList { values }))))
    }
}

/// A JSON object's entries as key/values (`null` as a value without a
/// value, as [`super::attrs::from_json`] makes it), in document order.
fn entries<'de, A: MapAccess<'de>>(mut map: A) -> Result<Vec<KeyValue>, A::Error> {
    let mut out = Vec::with_capacity(map.size_hint().unwrap_or(0).min(64));
    while let Some(key) = map.next_key::<String>()? {
        let JsonAv(value) = map.next_value()?;
        out.push(KeyValue {
            key,
            value: Some(AnyValue { value }),
            ..KeyValue::default()
        });
    }
    Ok(out)
}

/// What a namespace's value turned out to be.
enum Ns<T> {
    Object(T),
    Other(Value),
}

/// A namespace read from a JSON object.
trait FromObject: Sized {
    fn from_object<'de, A: MapAccess<'de>>(map: A) -> Result<Self, A::Error>;
}

/// `default`: its entries, sorted (values: see [`JsonAv`]).
impl FromObject for Vec<KeyValue> {
    fn from_object<'de, A: MapAccess<'de>>(map: A) -> Result<Self, A::Error> {
        let mut out = entries(map)?;
        sort_entries(&mut out);
        Ok(out)
    }
}

/// The round-trip namespace: its four fields, anything else skipped.
impl FromObject for OtelNamespace {
    fn from_object<'de, A: MapAccess<'de>>(mut map: A) -> Result<Self, A::Error> {
        let mut out = OtelNamespace::default();
        while let Some(field) = map.next_key::<OtelField>()? {
            let Lenient(value) = map.next_value()?;
            if let Some(slot) = out.slot(field) {
                *slot = value;
            }
        }
        Ok(out)
    }
}

/// Reads a namespace: an object as `T`, anything else as JSON.
struct NsSeed<T>(PhantomData<T>);

impl<'de, T: FromObject> Visitor<'de> for NsSeed<T> {
    type Value = Ns<T>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a metadata namespace")
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Ns<T>, A::Error> {
        T::from_object(map).map(Ns::Object)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Ns<T>, E> {
        Ok(Ns::Other(Value::Bool(v)))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Ns<T>, E> {
        Ok(Ns::Other(Value::Number(v.into())))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Ns<T>, E> {
        Ok(Ns::Other(Value::Number(v.into())))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Ns<T>, E> {
        Ok(Ns::Other(
            Number::from_f64(v).map_or(Value::Null, Value::Number),
        ))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Ns<T>, E> {
        Ok(Ns::Other(Value::String(v.to_owned())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Ns<T>, E> {
        Ok(Ns::Other(Value::String(v)))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Ns<T>, E> {
        Ok(Ns::Other(Value::Null))
    }
    fn visit_none<E: de::Error>(self) -> Result<Ns<T>, E> {
        Ok(Ns::Other(Value::Null))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Ns<T>, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Ns<T>, A::Error> {
        let mut items = Vec::new();
        while let Some(v) = seq.next_element::<Value>()? {
            items.push(v);
        }
        Ok(Ns::Other(Value::Array(items)))
    }
}

impl<'de, T: FromObject> DeserializeSeed<'de> for NsSeed<T> {
    type Value = Ns<T>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Ns<T>, D::Error> {
        d.deserialize_any(self)
    }
}

/// The round-trip namespace's keys (read without an allocation).
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
pub(crate) enum OtelField {
    SpanKind,
    SpanName,
    StatusCode,
    StatusMessage,
    #[serde(other)]
    Other,
}

impl OtelField {
    const ALL: [Self; 4] = [
        Self::SpanKind,
        Self::SpanName,
        Self::StatusCode,
        Self::StatusMessage,
    ];
}

/// A string, or `None` for any other JSON value (read and dropped).
struct Lenient(Option<String>);

impl<'de> Deserialize<'de> for Lenient {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Lenient;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Lenient, E> {
                Ok(Lenient(Some(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Lenient, E> {
                Ok(Lenient(Some(v)))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Lenient, E> {
                Ok(Lenient(None))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Lenient, E> {
                Ok(Lenient(None))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Lenient, E> {
                Ok(Lenient(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Lenient, E> {
                Ok(Lenient(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Lenient, E> {
                Ok(Lenient(None))
            }
            fn visit_none<E: de::Error>(self) -> Result<Lenient, E> {
                Ok(Lenient(None))
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Lenient, D::Error> {
                Lenient::deserialize(d)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Lenient, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Lenient(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Lenient, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Lenient(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// A namespace name, borrowed from the document when it has no escapes.
struct NsName<'de>(std::borrow::Cow<'de, str>);

impl<'de> Deserialize<'de> for NsName<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = NsName<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a namespace name")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<NsName<'de>, E> {
                Ok(NsName(v.into()))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<NsName<'de>, E> {
                Ok(NsName(v.to_owned().into()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<NsName<'de>, E> {
                Ok(NsName(v.into()))
            }
        }
        d.deserialize_str(V)
    }
}

impl<'de> Deserialize<'de> for Metadata {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Metadata;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of metadata namespaces")
            }
            // `null` says "none".
            fn visit_unit<E: de::Error>(self) -> Result<Metadata, E> {
                Ok(Metadata::default())
            }
            fn visit_none<E: de::Error>(self) -> Result<Metadata, E> {
                Ok(Metadata::default())
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Metadata, D::Error> {
                Metadata::deserialize(d)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Metadata, A::Error> {
                let mut out = Metadata::default();
                // A repeated namespace: the last one counts (a map's reading).
                while let Some(NsName(ns)) = map.next_key()? {
                    if ns == DEFAULT_NAMESPACE {
                        out.named.remove(DEFAULT_NAMESPACE);
                        match map.next_value_seed(NsSeed::<Vec<KeyValue>>(PhantomData))? {
                            Ns::Object(entries) => out.default = entries,
                            Ns::Other(v) => {
                                out.default.clear();
                                out.named.insert(ns.into_owned(), v);
                            }
                        }
                    } else if ns == ROUNDTRIP_NAMESPACE {
                        out.named.remove(ROUNDTRIP_NAMESPACE);
                        match map.next_value_seed(NsSeed::<OtelNamespace>(PhantomData))? {
                            Ns::Object(otel) => out.otel = otel,
                            Ns::Other(v) => {
                                out.otel = OtelNamespace::default();
                                out.named.insert(ns.into_owned(), v);
                            }
                        }
                    } else {
                        let v: Value = map.next_value()?;
                        out.named.insert(ns.into_owned(), v);
                    }
                }
                Ok(out)
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::translate::attrs::from_json;

    /// Read from text and from a parsed `Value` (the CLI's and the
    /// repairing parse's way in): the same metadata.
    fn both(text: &str) -> Metadata {
        let from_text: Metadata = serde_json::from_str(text).unwrap();
        let value: Value = serde_json::from_str(text).unwrap();
        assert_eq!(Metadata::deserialize(&value).unwrap(), from_text, "{text}");
        assert_eq!(Metadata::deserialize(value).unwrap(), from_text, "{text}");
        from_text
    }

    /// `default` entries as the `Value` reading made them: serde_json's map
    /// (sorted, last duplicate wins), each value through `from_json`.
    fn via_value(text: &str) -> Vec<KeyValue> {
        let value: Value = serde_json::from_str(text).unwrap();
        let Some(Value::Object(default)) = value.get("default").cloned() else {
            return Vec::new();
        };
        default
            .into_iter()
            .map(|(key, v)| KeyValue {
                key,
                value: Some(AnyValue {
                    value: from_json(v),
                }),
                ..KeyValue::default()
            })
            .collect()
    }

    #[test]
    fn default_entries_are_what_a_json_map_reading_gives() {
        for text in [
            r#"{"default": {"b": 1, "a": "x", "n": null, "f": 1.5, "neg": -3, "t": true}}"#,
            r#"{"default": {"o": {"z": 1, "y": [1, {"k": null}, "s"], "z": 2}, "big": 18446744073709551615}}"#,
            r#"{"default": {"dup": 1, "a": 2, "dup": "last"}}"#,
            r#"{"default": {"esc\"aped": "q\"uote\u00e9\n"}}"#,
            r#"{"default": {"a": 1}, "default": {"b": 2}}"#,
            r#"{"default": {}}"#,
        ] {
            let m = both(text);
            assert_eq!(m.default, via_value(text), "{text}");
            assert!(m.named.is_empty() && m.otel.is_empty(), "{text}");
        }
    }

    #[test]
    fn the_roundtrip_namespace_keeps_its_string_fields_only() {
        let m = both(
            r#"{"otel": {"span_name": "n", "span_kind": 3, "status_code": "STATUS_CODE_OK", "status_message": null, "extra": "e", "x": {"a": [1]}}}"#,
        );
        assert_eq!(
            m.otel,
            OtelNamespace {
                span_name: Some("n".into()),
                status_code: Some("STATUS_CODE_OK".into()),
                ..OtelNamespace::default()
            }
        );
        assert!(m.default.is_empty() && m.named.is_empty());
    }

    #[test]
    fn other_namespaces_and_non_objects_stay_json() {
        let m = both(
            r#"{"default": "plain", "otel": [1, "a"], "custom": {"k": [1, null]}, "n": 2.5, "u": null}"#,
        );
        assert!(m.default.is_empty() && m.otel.is_empty());
        let named: Value = serde_json::to_value(&m.named).unwrap();
        assert_eq!(
            named,
            json!({"default": "plain", "otel": [1, "a"], "custom": {"k": [1, null]}, "n": 2.5, "u": null})
        );
        // A later object `default` replaces an earlier non-object one.
        let m = both(r#"{"default": "plain", "default": {"a": 1}}"#);
        assert!(m.named.is_empty());
        assert_eq!(m.default.len(), 1);
        // `null` metadata is no metadata.
        assert_eq!(both("null"), Metadata::default());
    }

    #[test]
    fn serialises_as_the_json_it_was_read_from() {
        for v in [
            json!({"aaa": {"x": 1}, "default": {"a": "x", "b": [1, 2.5, null], "n": null, "o": {"k": {"j": false}}}, "otel": {"span_kind": "SPAN_KIND_CLIENT", "span_name": "s"}, "zz": "text"}),
            json!({"default": "plain", "otel": [1]}),
            json!({"otel": {"status_message": "m"}}),
            json!({}),
        ] {
            let m: Metadata = serde_json::from_value(v.clone()).unwrap();
            assert_eq!(serde_json::to_value(&m).unwrap(), v);
            // And as text, namespaces in key order (a map's order).
            assert_eq!(serde_json::to_string(&m).unwrap(), v.to_string());
        }
    }

    #[test]
    fn typed_namespaces_shadow_named_ones_of_the_same_name() {
        let mut m = Metadata::default();
        m.named.insert("otel".into(), json!({"foreign": 1}));
        m.named.insert("default".into(), json!({"foreign": 2}));
        assert_eq!(
            serde_json::to_value(&m).unwrap(),
            json!({"otel": {"foreign": 1}, "default": {"foreign": 2}})
        );
        m.otel.span_name = Some("n".into());
        m.default.push(KeyValue {
            key: "k".into(),
            value: Some(AnyValue {
                value: Some(Av::IntValue(1)),
            }),
            ..KeyValue::default()
        });
        assert_eq!(
            serde_json::to_value(&m).unwrap(),
            json!({"otel": {"span_name": "n"}, "default": {"k": 1}})
        );
    }
}
