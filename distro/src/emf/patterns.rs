//! Resource lookups of the encoder: string attributes, and the `{Placeholder}`
//! patterns of `log_group_name`/`log_stream_name` filled from the resource.

use opentelemetry_proto::tonic::common::v1::{KeyValue, any_value};

pub(super) fn str_attr<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a str> {
    attrs.iter().find(|kv| kv.key == key).and_then(|kv| {
        match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
            Some(any_value::Value::StringValue(s)) => Some(s.as_str()),
            _ => None,
        }
    })
}

/// Placeholders in `log_group_name`/`log_stream_name` and the resource
/// attributes they stand for (as `awsemf`); a missing value is `undefined`.
const PATTERNS: &[(&str, &str)] = &[
    ("ClusterName", "aws.ecs.cluster.name"),
    ("TaskId", "aws.ecs.task.id"),
    ("NodeName", "k8s.node.name"),
    ("PodName", "pod"),
    ("ServiceName", "service.name"),
    ("ContainerInstanceId", "aws.ecs.container.instance.id"),
    ("TaskDefinitionFamily", "aws.ecs.task.family"),
];

pub(super) fn replace_patterns(pattern: &str, resource: &[KeyValue]) -> String {
    let mut out = pattern.to_owned();
    for (key, attr) in PATTERNS {
        let placeholder = format!("{{{key}}}");
        if out.contains(&placeholder) {
            let value = resource
                .iter()
                .find(|kv| kv.key == *key)
                .or_else(|| resource.iter().find(|kv| kv.key == *attr))
                .map(|kv| super::points::label_value(kv.value.as_ref()))
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| "undefined".to_owned());
            out = out.replace(&placeholder, &value);
        }
    }
    out
}
