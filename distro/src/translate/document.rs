//! The X-Ray segment document as typed serde structs: one shape for segments,
//! subsegments nested in them and independent subsegments (spec "Segment
//! documents"). Field names are X-Ray's; every optional field is skipped
//! when empty so documents stay small.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::metadata::Metadata;

/// One segment or subsegment document.
///
/// The optional blocks are boxed: a segment without them stays small (a
/// document is moved several times on its way to spans, and subsegments sit
/// in a `Vec` of these), and most subsegments carry one block at most.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    /// Segment or subsegment name.
    #[serde(default)]
    pub name: String,
    /// 16 hex digits.
    #[serde(default)]
    pub id: String,
    /// `1-<8 hex>-<24 hex>` (segments and independent subsegments).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    /// Parent segment/subsegment id (16 hex).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
    /// `"subsegment"` for an independent subsegment.
    #[serde(
        default,
        rename = "type",
        skip_serializing_if = "Option::is_none",
        deserialize_with = "known_word"
    )]
    pub kind: Option<Cow<'static, str>>,
    /// Epoch seconds (float, microsecond precision).
    #[serde(default)]
    pub start_time: f64,
    /// Epoch seconds; absent while in progress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<f64>,
    /// True while the segment is still open.
    #[serde(default, skip_serializing_if = "is_false")]
    pub in_progress: bool,
    /// 5xx / server-side failure.
    #[serde(default, skip_serializing_if = "is_false")]
    pub fault: bool,
    /// 4xx / client-side failure.
    #[serde(default, skip_serializing_if = "is_false")]
    pub error: bool,
    /// 429.
    #[serde(default, skip_serializing_if = "is_false")]
    pub throttle: bool,
    /// Subsegment namespace: `aws`, `remote` or `local`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "known_word"
    )]
    pub namespace: Option<Cow<'static, str>>,
    /// Subsegments (legacy SDKs): the downstream call is to a traced service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traced: Option<bool>,
    /// Segment only: the AWS resource type that ran the service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// Segment only: the end user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Segment only: the resource ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_arn: Option<String>,
    /// Segment only: `{version}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<Box<Service>>,
    /// HTTP request and response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<Box<Http>>,
    /// AWS data (resource on segments; call data on subsegments).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws: Option<Box<Aws>>,
    /// SQL query data (subsegments).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sql: Option<Box<Sql>>,
    /// Indexed key/values.
    /// Sorted by key, unique (the last of a repeated key kept); a map in
    /// JSON. A vector: a document has a handful, a tree map cost a node
    /// allocation and its walk per document on segment → span.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        serialize_with = "annotation_map",
        deserialize_with = "annotation_entries"
    )]
    pub annotations: Vec<(String, AnnotationValue)>,
    /// Namespace → JSON object (typed for `default` and the round trip).
    #[serde(default, skip_serializing_if = "Metadata::is_empty")]
    pub metadata: Metadata,
    /// Exceptions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<Box<Cause>>,
    /// Nested subsegments.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subsegments: Vec<Segment>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn annotation_map<S: Serializer>(
    entries: &[(String, AnnotationValue)],
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_map(entries.iter().map(|(k, v)| (k, v)))
}

/// `annotations` as a JSON map reads it: sorted, the last of a repeated
/// key kept; `null` is none.
fn annotation_entries<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Vec<(String, AnnotationValue)>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Vec<(String, AnnotationValue)>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an object of annotations")
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(self)
        }
        fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out: Vec<(String, AnnotationValue)> = Vec::new();
            while let Some(entry) = map.next_entry()? {
                out.push(entry);
            }
            if !out.windows(2).all(|w| w[0].0 < w[1].0) {
                out.sort_by(|a, b| a.0.cmp(&b.0));
                // `dedup_by` keeps the first of a run: move the later one in.
                out.dedup_by(|later, kept| {
                    if later.0 == kept.0 {
                        std::mem::swap(later, kept);
                        true
                    } else {
                        false
                    }
                });
            }
            Ok(out)
        }
    }
    d.deserialize_any(V)
}

/// The words `type` and `namespace` take, kept without an allocation.
const KNOWN_WORDS: &[&str] = &["subsegment", "aws", "remote", "local"];

/// `type` and `namespace`: one of [`KNOWN_WORDS`] borrowed, anything else
/// copied (every document has them; segment → span allocates less).
fn known_word<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Cow<'static, str>>, D::Error> {
    struct W;
    impl<'a> Visitor<'a> for W {
        type Value = Option<Cow<'static, str>>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string")
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'a>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_str(self)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(match KNOWN_WORDS.iter().find(|w| **w == v) {
                Some(w) => Cow::Borrowed(*w),
                None => Cow::Owned(v.to_owned()),
            }))
        }
    }
    d.deserialize_option(W)
}

/// `service` block.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Service {
    /// Application version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// `http` block.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Http {
    /// Request part.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<HttpRequest>,
    /// Response part.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<HttpResponse>,
}

/// `http.request`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpRequest {
    /// Method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Full URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// User agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// Client address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_ip: Option<String>,
    /// True when `client_ip` came from `X-Forwarded-For`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x_forwarded_for: Option<bool>,
    /// Subsegments: the downstream call is to a traced service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traced: Option<bool>,
}

/// `http.response`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpResponse {
    /// Status code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<i64>,
    /// Body length.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_length: Option<i64>,
}

/// `aws` block.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Aws {
    /// Account id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// AWS API operation (subsegments).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    /// Region called (subsegments).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Request id (subsegments).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// SQS queue URL (subsegments).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_url: Option<String>,
    /// DynamoDB table (subsegments).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table_name: Option<String>,
    /// DynamoDB tables, when a call names several (subsegments).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub table_names: Vec<String>,
    /// Retries of the call (subsegments).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<i64>,
    /// EC2 instance data (segments).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ec2: Option<Ec2>,
    /// ECS task/container data (segments).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ecs: Option<Ecs>,
    /// EKS data (segments).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eks: Option<Eks>,
    /// Elastic Beanstalk environment (segments).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elastic_beanstalk: Option<Beanstalk>,
    /// Log groups (segments).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cloudwatch_logs: Vec<CloudwatchLogs>,
    /// SDK that produced the segment (segments).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub xray: Option<XraySdk>,
}

/// `aws.ec2`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ec2 {
    /// `host.id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    /// `cloud.availability_zone`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability_zone: Option<String>,
    /// `host.type`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_size: Option<String>,
    /// `host.image.id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ami_id: Option<String>,
}

/// `aws.ecs`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ecs {
    /// Container (host) name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// `container.id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_id: Option<String>,
    /// `aws.ecs.task.arn`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_arn: Option<String>,
    /// `aws.ecs.task.family`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_family: Option<String>,
    /// `aws.ecs.cluster.arn`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_arn: Option<String>,
    /// `aws.ecs.container.arn`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_arn: Option<String>,
    /// `cloud.availability_zone`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability_zone: Option<String>,
    /// `aws.ecs.launchtype`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launch_type: Option<String>,
}

/// `aws.eks`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Eks {
    /// `k8s.cluster.name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_name: Option<String>,
    /// `k8s.pod.name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<String>,
    /// `container.id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_id: Option<String>,
}

/// `aws.elastic_beanstalk`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Beanstalk {
    /// `service.namespace`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment_name: Option<String>,
    /// `service.version`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_label: Option<String>,
    /// `service.instance.id` (a number).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment_id: Option<i64>,
}

/// One `aws.cloudwatch_logs` entry.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CloudwatchLogs {
    /// Log group name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_group: Option<String>,
    /// Log group ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
}

/// `aws.xray`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct XraySdk {
    /// SDK name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sdk: Option<String>,
    /// SDK version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sdk_version: Option<String>,
    /// True when the SDK was loaded by auto-instrumentation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_instrumentation: Option<bool>,
}

/// `sql` block.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sql {
    /// Connection URL without credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Connection string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_string: Option<String>,
    /// The query, without user values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sanitized_query: Option<String>,
    /// Database engine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_type: Option<String>,
    /// Database version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_version: Option<String>,
    /// Driver version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver_version: Option<String>,
    /// Database user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// `statement` or `call`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preparation: Option<String>,
}

/// `cause`: an exception id (pointing to another document's exception) or
/// the exceptions themselves.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Cause {
    /// The id of an exception recorded in another (sub)segment.
    Id(String),
    /// Exceptions recorded here.
    Exceptions(CauseData),
}

/// The object form of `cause`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CauseData {
    /// Working directory of the process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_directory: Option<String>,
    /// Paths of loaded libraries.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<String>,
    /// The exceptions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exceptions: Vec<Exception>,
}

/// One exception.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exception {
    /// 16 hex digits.
    #[serde(default)]
    pub id: String,
    /// Message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Exception type.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// True when it came from a downstream call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<bool>,
    /// Stack frames left out of `stack`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truncated: Option<u32>,
    /// Exceptions skipped between this one and its cause.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<u32>,
    /// Id of the exception that caused this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    /// Stack frames, innermost first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stack: Vec<StackFrame>,
}

/// One stack frame.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StackFrame {
    /// Source file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Line number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// Function or method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

/// An annotation value: string, number or bool (spec "Annotation keys").
#[derive(Clone, Debug, PartialEq)]
pub enum AnnotationValue {
    /// String (at most 1000 characters).
    String(String),
    /// Integer number.
    Int(i64),
    /// Floating-point number.
    Double(f64),
    /// Boolean.
    Bool(bool),
}

impl Serialize for AnnotationValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::String(v) => s.serialize_str(v),
            Self::Int(v) => s.serialize_i64(*v),
            Self::Double(v) => s.serialize_f64(*v),
            Self::Bool(v) => s.serialize_bool(*v),
        }
    }
}

// Hand-written rather than `#[serde(untagged)]`: untagged enums buffer every
// value first, which costs a third of the segment → span time.
impl<'de> Deserialize<'de> for AnnotationValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = AnnotationValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string, number or boolean annotation value")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                Ok(AnnotationValue::Bool(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(AnnotationValue::Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(match i64::try_from(v) {
                    Ok(i) => AnnotationValue::Int(i),
                    Err(_) => AnnotationValue::Double(v as f64),
                })
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Ok(AnnotationValue::Double(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(AnnotationValue::String(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(AnnotationValue::String(v))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn annotations_read_as_a_json_map_reads_them() {
        let text = r#"{"annotations": {"b": 1, "a": "x", "c": 1.5, "b": true}}"#;
        let seg: Segment = serde_json::from_str(text).unwrap();
        // serde_json's own map reading of the same object: sorted, last wins.
        let map: BTreeMap<String, BTreeMap<String, serde_json::Value>> =
            serde_json::from_str(text).unwrap();
        let keys: Vec<&str> = seg.annotations.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            map["annotations"]
                .keys()
                .map(String::as_str)
                .collect::<Vec<_>>()
        );
        assert_eq!(seg.annotations[1].1, AnnotationValue::Bool(true));
        assert_eq!(
            serde_json::to_value(&seg).unwrap()["annotations"],
            serde_json::to_value(&map["annotations"]).unwrap()
        );
        let none: Segment = serde_json::from_str(r#"{"annotations": null}"#).unwrap();
        assert!(none.annotations.is_empty());
    }
}
