//! The document a span becomes, borrowing from the span and its resource:
//! serialised straight to JSON (no owned copy of every string, no
//! intermediate `serde_json::Value` for attributes). It serialises to the
//! same bytes as the owned [`Segment`] [`Doc::into_owned`] makes of it (same
//! field order, same skipping, same map ordering); the owned form is made
//! only for [`super::span_to_segment`] and for a document that must shrink.

use std::borrow::Cow;
use std::collections::BTreeMap;

use opentelemetry_proto::tonic::common::v1::any_value::Value as Av;
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};

use crate::translate::DEFAULT_NAMESPACE;
use crate::translate::attrs::{from_json, to_json};
use crate::translate::document::{
    AnnotationValue, Aws, Beanstalk, Cause, CloudwatchLogs, Ec2, Ecs, Eks, Http, HttpRequest,
    HttpResponse, Segment, Service, Sql, XraySdk,
};
use crate::translate::metadata::{AvJson, Metadata, OtelNamespace, sorted_last_wins};

fn is_false(b: &bool) -> bool {
    !*b
}

fn owned(s: Option<Cow<'_, str>>) -> Option<String> {
    s.map(Cow::into_owned)
}

/// ASCII text of a fixed length (hex ids), serialised as a string.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ascii<const N: usize>(pub(crate) [u8; N]);

impl<const N: usize> Ascii<N> {
    pub(crate) fn as_str(&self) -> &str {
        // Only ever filled with hex digits and '-'.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl<const N: usize> Serialize for Ascii<N> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// One span's document (see the module docs). Field order is [`Segment`]'s.
#[derive(Debug, Serialize)]
pub(crate) struct Doc<'a> {
    pub(crate) name: Cow<'a, str>,
    pub(crate) id: Ascii<16>,
    pub(crate) trace_id: Ascii<35>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) parent_id: Option<Ascii<16>>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub(crate) kind: Option<&'static str>,
    pub(crate) start_time: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) end_time: Option<f64>,
    #[serde(skip_serializing_if = "is_false")]
    pub(crate) in_progress: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub(crate) fault: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub(crate) error: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub(crate) throttle: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) namespace: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) origin: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) user: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) resource_arn: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) service: Option<&'a Service>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) http: Option<HttpOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) aws: Option<AwsOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) sql: Option<SqlOut<'a>>,
    #[serde(skip_serializing_if = "Annotations::is_empty")]
    pub(crate) annotations: Annotations<'a>,
    #[serde(skip_serializing_if = "MetadataOut::is_empty")]
    pub(crate) metadata: MetadataOut<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) cause: Option<Cause>,
}

impl Doc<'_> {
    /// The owned document (what the translation made before borrowing).
    pub(crate) fn into_owned(self) -> Segment {
        Segment {
            name: self.name.into_owned(),
            id: self.id.as_str().to_owned(),
            trace_id: Some(self.trace_id.as_str().to_owned()),
            parent_id: self.parent_id.map(|p| p.as_str().to_owned()),
            kind: self.kind.map(|k| k.to_owned().into()),
            start_time: self.start_time,
            end_time: self.end_time,
            in_progress: self.in_progress,
            fault: self.fault,
            error: self.error,
            throttle: self.throttle,
            namespace: self.namespace.map(|n| n.to_owned().into()),
            traced: None,
            origin: self.origin.map(str::to_owned),
            user: owned(self.user),
            resource_arn: self.resource_arn.map(str::to_owned),
            service: self.service.cloned().map(Box::new),
            http: self.http.map(|h| Box::new(h.into_owned())),
            aws: self.aws.map(|a| Box::new(a.into_owned())),
            sql: self.sql.map(|s| Box::new(s.into_owned())),
            annotations: self.annotations.into_owned(),
            metadata: self.metadata.into_owned(),
            cause: self.cause.map(Box::new),
            subsegments: Vec::new(),
        }
    }
}

/// `http` block.
#[derive(Debug, Serialize)]
pub(crate) struct HttpOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) request: Option<HttpRequestOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) response: Option<HttpResponse>,
    /// Which address attribute became `client_ip` (not serialised).
    #[serde(skip)]
    pub(crate) client_ip_from: ClientIpFrom,
    /// True when the span's `aws.xray.x_forwarded_for` set the flag.
    #[serde(skip)]
    pub(crate) x_forwarded_for_attribute: bool,
}

/// Where `http.request.client_ip` came from, so the attributes it carries
/// whole are not repeated in metadata.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum ClientIpFrom {
    /// No client address.
    #[default]
    None,
    /// `client.address`/`http.client_ip`; the peer address, when given, is
    /// the same address (carried too).
    Client { peer_same: bool },
    /// The peer address alone (`network.peer.address`, …).
    Peer,
}

impl HttpOut<'_> {
    fn into_owned(self) -> Http {
        Http {
            request: self.request.map(|r| HttpRequest {
                method: owned(r.method),
                url: owned(r.url),
                user_agent: owned(r.user_agent),
                client_ip: owned(r.client_ip),
                x_forwarded_for: r.x_forwarded_for,
                traced: None,
            }),
            response: self.response,
        }
    }
}

/// `http.request`.
#[derive(Debug, Default, PartialEq, Eq, Serialize)]
pub(crate) struct HttpRequestOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) method: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) url: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) user_agent: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) client_ip: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) x_forwarded_for: Option<bool>,
}

/// `sql` block (the fields a span can fill).
#[derive(Debug, Serialize)]
pub(crate) struct SqlOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) url: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) sanitized_query: Option<Cow<'a, str>>,
    pub(crate) database_type: Cow<'a, str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) database_version: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) driver_version: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) user: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) preparation: Option<Cow<'a, str>>,
}

impl SqlOut<'_> {
    fn into_owned(self) -> Sql {
        Sql {
            url: owned(self.url),
            connection_string: None,
            sanitized_query: owned(self.sanitized_query),
            database_type: Some(self.database_type.into_owned()),
            database_version: owned(self.database_version),
            driver_version: owned(self.driver_version),
            user: owned(self.user),
            preparation: owned(self.preparation),
        }
    }
}

/// `aws` block: the resource part borrowed from the resource, the call
/// part from the span.
#[derive(Debug, Default, Serialize)]
pub(crate) struct AwsOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) account_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) operation: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) region: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) request_id: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) queue_url: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) table_name: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) table_names: Vec<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) ec2: Option<&'a Ec2>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) ecs: Option<&'a Ecs>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) eks: Option<&'a Eks>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) elastic_beanstalk: Option<&'a Beanstalk>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub(crate) cloudwatch_logs: &'a [CloudwatchLogs],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) xray: Option<&'a XraySdk>,
}

impl<'a> AwsOut<'a> {
    /// The resource part of `aws` (segments only).
    pub(crate) fn resource(aws: &'a Aws) -> Self {
        Self {
            account_id: aws.account_id.as_deref(),
            ec2: aws.ec2.as_ref(),
            ecs: aws.ecs.as_ref(),
            eks: aws.eks.as_ref(),
            elastic_beanstalk: aws.elastic_beanstalk.as_ref(),
            cloudwatch_logs: &aws.cloudwatch_logs,
            xray: aws.xray.as_ref(),
            ..Self::default()
        }
    }

    /// True when every field is empty (the block is left out).
    pub(crate) fn is_empty(&self) -> bool {
        self.account_id.is_none()
            && self.operation.is_none()
            && self.region.is_none()
            && self.request_id.is_none()
            && self.queue_url.is_none()
            && self.table_name.is_none()
            && self.table_names.is_empty()
            && self.ec2.is_none()
            && self.ecs.is_none()
            && self.eks.is_none()
            && self.elastic_beanstalk.is_none()
            && self.cloudwatch_logs.is_empty()
            && self.xray.is_none()
    }

    fn into_owned(self) -> Aws {
        Aws {
            account_id: self.account_id.map(str::to_owned),
            operation: owned(self.operation),
            region: owned(self.region),
            request_id: owned(self.request_id),
            queue_url: owned(self.queue_url),
            table_name: owned(self.table_name),
            table_names: self.table_names.into_iter().map(str::to_owned).collect(),
            retries: None,
            ec2: self.ec2.cloned(),
            ecs: self.ecs.cloned(),
            eks: self.eks.cloned(),
            elastic_beanstalk: self.elastic_beanstalk.cloned(),
            cloudwatch_logs: self.cloudwatch_logs.to_vec(),
            xray: self.xray.cloned(),
        }
    }
}

/// An annotation value borrowing its string.
#[derive(Debug)]
pub(crate) enum AnnotationOut<'a> {
    String(&'a str),
    Int(i64),
    Double(f64),
    Bool(bool),
}

impl Serialize for AnnotationOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::String(v) => s.serialize_str(v),
            Self::Int(v) => s.serialize_i64(*v),
            Self::Double(v) => s.serialize_f64(*v),
            Self::Bool(v) => s.serialize_bool(*v),
        }
    }
}

/// Annotations by sanitised key: unique keys, sorted when serialised (a
/// document has a handful; a vector beats a tree map).
#[derive(Debug, Default)]
pub(crate) struct Annotations<'a>(pub(crate) Vec<(Cow<'a, str>, AnnotationOut<'a>)>);

impl<'a> Annotations<'a> {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    /// Inserts or replaces (a map's `insert`).
    pub(crate) fn insert(&mut self, key: Cow<'a, str>, value: AnnotationOut<'a>) {
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => *v = value,
            None => self.0.push((key, value)),
        }
    }

    /// Sorts by key (serialisation order of the map it stands for).
    pub(crate) fn sort(&mut self) {
        self.0.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    }

    /// Sorted and unique after [`Self::sort`].
    fn into_owned(self) -> Vec<(String, AnnotationValue)> {
        self.0
            .into_iter()
            .map(|(k, v)| {
                let v = match v {
                    AnnotationOut::String(s) => AnnotationValue::String(s.to_owned()),
                    AnnotationOut::Int(i) => AnnotationValue::Int(i),
                    AnnotationOut::Double(d) => AnnotationValue::Double(d),
                    AnnotationOut::Bool(b) => AnnotationValue::Bool(b),
                };
                (k.into_owned(), v)
            })
            .collect()
    }
}

impl Serialize for Annotations<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k.as_ref(), v)?;
        }
        map.end()
    }
}

/// What the `otel` metadata namespace holds (keys in map order).
#[derive(Debug, Default, Serialize)]
pub(crate) struct Roundtrip<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) span_kind: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) span_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) status_code: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) status_message: Option<&'a str>,
}

impl Roundtrip<'_> {
    fn is_empty(&self) -> bool {
        self.span_kind.is_none()
            && self.span_name.is_none()
            && self.status_code.is_none()
            && self.status_message.is_none()
    }
}

/// `metadata`: namespaces given as `aws.xray.metadata.<ns>` attributes
/// (rare; kept as JSON values), the `default` entries (borrowed attribute
/// values) and the round-trip namespace.
#[derive(Debug)]
pub(crate) struct MetadataOut<'a> {
    pub(crate) named: BTreeMap<String, Value>,
    /// `default` entries in attribute order (sorted, last duplicate
    /// winning, when serialised).
    pub(crate) default: Vec<(&'a str, &'a Av)>,
    pub(crate) roundtrip: Roundtrip<'a>,
    /// The round-trip namespace's name.
    pub(crate) reserved: &'static str,
}

impl<'a> MetadataOut<'a> {
    pub(crate) fn new(reserved: &'static str) -> Self {
        Self {
            named: BTreeMap::new(),
            default: Vec::new(),
            roundtrip: Roundtrip::default(),
            reserved,
        }
    }

    fn is_empty(&self) -> bool {
        self.named.is_empty() && self.default.is_empty() && self.roundtrip.is_empty()
    }

    /// Settles the `default` entries: when an `aws.xray.metadata.default`
    /// object was given too, they merge into it (rare, so as JSON values).
    /// Sorts them otherwise.
    pub(crate) fn finish(&mut self) {
        if self.default.is_empty() {
            return;
        }
        if self.named.contains_key(DEFAULT_NAMESPACE) {
            let entries = std::mem::take(&mut self.default);
            let default: Map<String, Value> = entries
                .into_iter()
                .map(|(k, v)| (k.to_owned(), to_json(v)))
                .collect();
            match self.named.get_mut(DEFAULT_NAMESPACE) {
                Some(Value::Object(existing)) => existing.extend(default),
                _ => {
                    self.named
                        .insert(DEFAULT_NAMESPACE.to_owned(), Value::Object(default));
                }
            }
        } else {
            self.default = sorted_last_wins(std::mem::take(&mut self.default));
        }
    }

    /// The owned metadata. The `default` values go through JSON (what the
    /// document's reader would make of them: bytes as hex, NaN as `null`).
    fn into_owned(mut self) -> Metadata {
        self.finish();
        let mut named = std::mem::take(&mut self.named);
        let mut default: Vec<KeyValue> = self
            .default
            .iter()
            .map(|(k, v)| entry((*k).to_owned(), to_json(v)))
            .collect();
        if default.is_empty()
            && let Some(Value::Object(map)) = named.remove(DEFAULT_NAMESPACE)
        {
            // Sorted and unique, as the entries must be.
            default = map.into_iter().map(|(k, v)| entry(k, v)).collect();
        }
        let r = &self.roundtrip;
        Metadata {
            default,
            otel: OtelNamespace {
                span_kind: r.span_kind.map(str::to_owned),
                span_name: r.span_name.map(str::to_owned),
                status_code: r.status_code.map(str::to_owned),
                status_message: r.status_message.map(str::to_owned),
            },
            named,
        }
    }
}

fn entry(key: String, value: Value) -> KeyValue {
    KeyValue {
        key,
        value: Some(AnyValue {
            value: from_json(value),
        }),
        ..KeyValue::default()
    }
}

/// One namespace's value while serialising.
enum Namespace<'m, 'a> {
    Named(&'m Value),
    Default(&'m [(&'a str, &'a Av)]),
    Roundtrip(&'m Roundtrip<'a>),
}

impl Serialize for Namespace<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Named(v) => v.serialize(s),
            Self::Roundtrip(r) => r.serialize(s),
            Self::Default(entries) => {
                let mut map = s.serialize_map(Some(entries.len()))?;
                for (k, v) in *entries {
                    map.serialize_entry(k, &AvJson(v))?;
                }
                map.end()
            }
        }
    }
}

/// Serialises after [`MetadataOut::finish`]: the namespaces in key order.
impl Serialize for MetadataOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let roundtrip = !self.roundtrip.is_empty();
        if self.named.is_empty() && DEFAULT_NAMESPACE < self.reserved {
            // The usual document: no vector to sort.
            let len = usize::from(!self.default.is_empty()) + usize::from(roundtrip);
            let mut map = s.serialize_map(Some(len))?;
            if !self.default.is_empty() {
                map.serialize_entry(DEFAULT_NAMESPACE, &Namespace::Default(&self.default))?;
            }
            if roundtrip {
                map.serialize_entry(self.reserved, &self.roundtrip)?;
            }
            return map.end();
        }
        let mut spaces: Vec<(&str, Namespace<'_, '_>)> = Vec::with_capacity(self.named.len() + 2);
        for (ns, v) in &self.named {
            if !(roundtrip && ns == self.reserved) {
                spaces.push((ns, Namespace::Named(v)));
            }
        }
        if !self.default.is_empty() {
            spaces.push((DEFAULT_NAMESPACE, Namespace::Default(&self.default)));
        }
        if roundtrip {
            spaces.push((self.reserved, Namespace::Roundtrip(&self.roundtrip)));
        }
        spaces.sort_by(|a, b| a.0.cmp(b.0));
        let mut map = s.serialize_map(Some(spaces.len()))?;
        for (k, v) in &spaces {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}
