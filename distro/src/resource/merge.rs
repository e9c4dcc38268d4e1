//! The one resource merge (DESIGN rule 9), used by [`super::detect`] (the
//! sources in precedence order), by the ECS sidecar's `resourcedetection`
//! processor and by the Lambda extension (the detected resource merged into
//! every batch they receive).
//!
//! The rules are the OpenTelemetry specification's (`Resource` "Merge"): when
//! a key is on both sides, the *updating* resource's value wins, even when it
//! is empty. [`MergePolicy::FillMissing`] turns that round for deployments
//! where what the sender set must win (the collector's `override: false`; the
//! Lambda extension, which only adds what the function did not set).
//!
//! Repeated keys (an `OTEL_RESOURCE_ATTRIBUTES` that names a key twice, an
//! OTLP sender that repeats one — the OTLP specification says keys are unique)
//! are resolved the same way everywhere: within what is added, the last value
//! of a key is the one that counts; under [`MergePolicy::Override`] the
//! existing copies of the key collapse into one, holding the new value at the
//! first copy's position.
//!
//! One function serves both attribute types the code holds — the SDK's
//! [`opentelemetry::KeyValue`] (in-process resources) and the OTLP proto
//! `KeyValue` (received batches) — through [`Keyed`].

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue as ProtoKeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource as ProtoResource;
use opentelemetry_sdk::Resource;

/// What wins when a key is on both sides of a merge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MergePolicy {
    /// The added value replaces the existing one (the specification's merge;
    /// the collector's `override: true`, its default).
    Override,
    /// The added value only fills in a key that is missing (the collector's
    /// `override: false`; the Lambda extension).
    FillMissing,
}

/// An attribute with a key: the SDK's and the OTLP proto's `KeyValue`.
pub trait Keyed: Clone {
    /// The attribute's key.
    fn key(&self) -> &str;
}

impl Keyed for opentelemetry::KeyValue {
    fn key(&self) -> &str {
        self.key.as_str()
    }
}

impl Keyed for ProtoKeyValue {
    fn key(&self) -> &str {
        &self.key
    }
}

/// Merges `added` into `base` by `policy` (see the module documentation for
/// repeated keys). Keys new to `base` are appended in the order they first
/// appear in `added`.
pub fn merge_attributes<A: Keyed>(base: &mut Vec<A>, added: &[A], policy: MergePolicy) {
    for attr in last_of_each_key(added) {
        let key = attr.key();
        let Some(first) = base.iter().position(|have| have.key() == key) else {
            base.push(attr.clone());
            continue;
        };
        if policy == MergePolicy::Override {
            base[first] = attr.clone();
            let mut index = 0;
            base.retain(|have| {
                let keep = index <= first || have.key() != key;
                index += 1;
                keep
            });
        }
    }
}

/// `attrs` with each key once, at its first position, holding its last value.
fn last_of_each_key<A: Keyed>(attrs: &[A]) -> Vec<&A> {
    let mut out: Vec<&A> = Vec::with_capacity(attrs.len());
    for attr in attrs {
        match out.iter_mut().find(|have| have.key() == attr.key()) {
            Some(slot) => *slot = attr,
            None => out.push(attr),
        }
    }
    out
}

/// Merges `added` into one OTLP resource, creating it when the sender sent
/// none. Nothing happens when `added` is empty.
pub fn merge_into_resource(
    resource: &mut Option<ProtoResource>,
    added: &[ProtoKeyValue],
    policy: MergePolicy,
) {
    if added.is_empty() {
        return;
    }
    let resource = resource.get_or_insert_with(ProtoResource::default);
    merge_attributes(&mut resource.attributes, added, policy);
}

/// Merges `added` into every resource of a traces batch.
pub fn merge_into_traces(
    batch: &mut ExportTraceServiceRequest,
    added: &[ProtoKeyValue],
    policy: MergePolicy,
) {
    for rs in &mut batch.resource_spans {
        merge_into_resource(&mut rs.resource, added, policy);
    }
}

/// The attributes of an SDK resource as OTLP attributes (to merge a detected
/// resource into received batches).
pub fn to_proto_attributes(resource: &Resource) -> Vec<ProtoKeyValue> {
    resource
        .iter()
        .map(|(k, v)| ProtoKeyValue {
            key: k.to_string(),
            value: Some(AnyValue::from(v.clone())),
            ..ProtoKeyValue::default()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::common::v1::any_value::Value as ProtoValue;
    use opentelemetry_proto::tonic::trace::v1::ResourceSpans;

    use super::*;
    use MergePolicy::{FillMissing, Override};

    fn kv(k: &str, v: &str) -> ProtoKeyValue {
        ProtoKeyValue {
            key: k.into(),
            value: Some(AnyValue {
                value: Some(ProtoValue::StringValue(v.into())),
            }),
            ..ProtoKeyValue::default()
        }
    }

    fn kvs(pairs: &[(&str, &str)]) -> Vec<ProtoKeyValue> {
        pairs.iter().map(|(k, v)| kv(k, v)).collect()
    }

    /// (case, base, added, policy, expected) — expectations from the
    /// OpenTelemetry specification's Resource merge (the updating side wins,
    /// even with an empty value) and the collector's `override` option.
    #[test]
    fn merge_table() {
        type Pairs = &'static [(&'static str, &'static str)];
        let cases: &[(&str, Pairs, Pairs, MergePolicy, Pairs)] = &[
            ("both empty", &[], &[], Override, &[]),
            (
                "into empty",
                &[],
                &[("a", "1"), ("b", "2")],
                FillMissing,
                &[("a", "1"), ("b", "2")],
            ),
            ("nothing added", &[("a", "1")], &[], Override, &[("a", "1")]),
            (
                "override replaces in place, appends new keys",
                &[("service.name", "app"), ("cloud.region", "mine")],
                &[
                    ("cloud.region", "eu-west-1"),
                    ("aws.ecs.launchtype", "fargate"),
                ],
                Override,
                &[
                    ("service.name", "app"),
                    ("cloud.region", "eu-west-1"),
                    ("aws.ecs.launchtype", "fargate"),
                ],
            ),
            (
                "fill-missing keeps the existing value",
                &[("service.name", "app"), ("cloud.region", "mine")],
                &[
                    ("cloud.region", "eu-west-1"),
                    ("aws.ecs.launchtype", "fargate"),
                ],
                FillMissing,
                &[
                    ("service.name", "app"),
                    ("cloud.region", "mine"),
                    ("aws.ecs.launchtype", "fargate"),
                ],
            ),
            (
                "an empty value still overrides",
                &[("k", "v")],
                &[("k", "")],
                Override,
                &[("k", "")],
            ),
            (
                "an empty existing value is not missing",
                &[("k", "")],
                &[("k", "v")],
                FillMissing,
                &[("k", "")],
            ),
            (
                "repeated key in what is added: the last value counts (override)",
                &[],
                &[("a", "1"), ("b", "x"), ("a", "2")],
                Override,
                &[("a", "2"), ("b", "x")],
            ),
            (
                "repeated key in what is added: the last value counts (fill-missing)",
                &[],
                &[("a", "1"), ("a", "2")],
                FillMissing,
                &[("a", "2")],
            ),
            (
                "override collapses a key the sender repeated",
                &[("cloud.region", "a"), ("x", "1"), ("cloud.region", "b")],
                &[("cloud.region", "c")],
                Override,
                &[("cloud.region", "c"), ("x", "1")],
            ),
            (
                "fill-missing leaves the sender's attributes alone",
                &[("cloud.region", "a"), ("cloud.region", "b")],
                &[("cloud.region", "c")],
                FillMissing,
                &[("cloud.region", "a"), ("cloud.region", "b")],
            ),
            (
                "keys are case-sensitive",
                &[("Key", "1")],
                &[("key", "2")],
                Override,
                &[("Key", "1"), ("key", "2")],
            ),
        ];
        for (case, base, added, policy, expected) in cases {
            let mut merged = kvs(base);
            merge_attributes(&mut merged, &kvs(added), *policy);
            assert_eq!(merged, kvs(expected), "{case}");
        }
    }

    #[test]
    fn sdk_attributes_merge_by_the_same_rules() {
        use opentelemetry::KeyValue;
        let mut base = vec![KeyValue::new("a", "1"), KeyValue::new("n", 3)];
        merge_attributes(
            &mut base,
            &[KeyValue::new("n", 4), KeyValue::new("b", true)],
            Override,
        );
        assert_eq!(
            base,
            [
                KeyValue::new("a", "1"),
                KeyValue::new("n", 4),
                KeyValue::new("b", true)
            ]
        );
    }

    #[test]
    fn every_resource_of_a_batch_and_a_missing_one() {
        let mut batch = ExportTraceServiceRequest {
            resource_spans: vec![
                ResourceSpans {
                    resource: Some(ProtoResource {
                        attributes: kvs(&[("service.name", "checkout")]),
                        ..ProtoResource::default()
                    }),
                    ..ResourceSpans::default()
                },
                ResourceSpans::default(),
            ],
        };
        let detected = kvs(&[("service.name", "fn"), ("faas.name", "fn")]);
        merge_into_traces(&mut batch, &detected, FillMissing);
        let attrs = |i: usize| {
            batch.resource_spans[i]
                .resource
                .as_ref()
                .map(|r| r.attributes.clone())
        };
        assert_eq!(
            attrs(0),
            Some(kvs(&[("service.name", "checkout"), ("faas.name", "fn")]))
        );
        assert_eq!(attrs(1), Some(detected.clone()));

        // Nothing to add: a missing resource stays missing.
        let mut resource = None;
        merge_into_resource(&mut resource, &[], Override);
        assert_eq!(resource, None);
    }

    #[test]
    fn sdk_resource_to_proto() {
        let resource = Resource::builder_empty()
            .with_attributes([opentelemetry::KeyValue::new("cloud.provider", "aws")])
            .build();
        assert_eq!(
            to_proto_attributes(&resource),
            kvs(&[("cloud.provider", "aws")])
        );
    }
}
