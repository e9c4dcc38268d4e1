//! The span attributes the translation reads, found in one pass over the
//! span's attribute list (instead of one linear scan per look-up: the rules
//! ask for ~50 keys per span).

use std::borrow::Cow;

use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::common::v1::any_value::Value as Av;

/// An attribute key the translation reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Key {
    HttpRequestMethod,
    HttpMethod,
    UrlFull,
    HttpUrl,
    UserAgentOriginal,
    HttpUserAgent,
    ClientAddress,
    HttpClientIp,
    HttpResponseStatusCode,
    HttpStatusCode,
    HttpResponseBodySize,
    HttpResponseContentLength,
    ServerAddress,
    HttpHost,
    NetHostName,
    UrlScheme,
    HttpScheme,
    ServerPort,
    NetHostPort,
    UrlPath,
    HttpTarget,
    UrlQuery,
    DbSystem,
    DbSystemName,
    DbName,
    DbNamespace,
    DbConnectionString,
    NetPeerName,
    NetPeerPort,
    DbStatement,
    DbQueryText,
    DbUser,
    PeerService,
    RpcSystem,
    AwsService,
    RpcService,
    RpcMethod,
    AwsOperation,
    AwsRegion,
    CloudRegion,
    AwsRequestId,
    AwsRequestIdLegacy,
    AwsQueueUrl,
    AwsSqsQueueUrl,
    AwsSqsQueueUrlDotted,
    AwsQueueUrlDotted,
    MessagingUrl,
    AwsLocalService,
    AwsRemoteService,
    AwsTableName,
    AwsDynamodbTableNames,
    EnduserId,
    XraySqlDatabaseVersion,
    XraySqlDriverVersion,
    XraySqlPreparation,
    XrayAnnotations,
}

/// Number of [`Key`]s.
const KEYS: usize = Key::XrayAnnotations as usize + 1;

impl Key {
    /// The key for an attribute name, when the translation reads it.
    pub(crate) fn of(key: &str) -> Option<Self> {
        Some(match key {
            "http.request.method" => Self::HttpRequestMethod,
            "http.method" => Self::HttpMethod,
            "url.full" => Self::UrlFull,
            "http.url" => Self::HttpUrl,
            "user_agent.original" => Self::UserAgentOriginal,
            "http.user_agent" => Self::HttpUserAgent,
            "client.address" => Self::ClientAddress,
            "http.client_ip" => Self::HttpClientIp,
            "http.response.status_code" => Self::HttpResponseStatusCode,
            "http.status_code" => Self::HttpStatusCode,
            "http.response.body.size" => Self::HttpResponseBodySize,
            "http.response_content_length" => Self::HttpResponseContentLength,
            "server.address" => Self::ServerAddress,
            "http.host" => Self::HttpHost,
            "net.host.name" => Self::NetHostName,
            "url.scheme" => Self::UrlScheme,
            "http.scheme" => Self::HttpScheme,
            "server.port" => Self::ServerPort,
            "net.host.port" => Self::NetHostPort,
            "url.path" => Self::UrlPath,
            "http.target" => Self::HttpTarget,
            "url.query" => Self::UrlQuery,
            "db.system" => Self::DbSystem,
            "db.system.name" => Self::DbSystemName,
            "db.name" => Self::DbName,
            "db.namespace" => Self::DbNamespace,
            "db.connection_string" => Self::DbConnectionString,
            "net.peer.name" => Self::NetPeerName,
            "net.peer.port" => Self::NetPeerPort,
            "db.statement" => Self::DbStatement,
            "db.query.text" => Self::DbQueryText,
            "db.user" => Self::DbUser,
            "peer.service" => Self::PeerService,
            "rpc.system" => Self::RpcSystem,
            "aws.service" => Self::AwsService,
            "rpc.service" => Self::RpcService,
            "rpc.method" => Self::RpcMethod,
            "aws.operation" => Self::AwsOperation,
            "aws.region" => Self::AwsRegion,
            "cloud.region" => Self::CloudRegion,
            "aws.request_id" => Self::AwsRequestId,
            "aws.requestId" => Self::AwsRequestIdLegacy,
            "aws.queue_url" => Self::AwsQueueUrl,
            "aws.sqs.queue_url" => Self::AwsSqsQueueUrl,
            "aws.sqs.queue.url" => Self::AwsSqsQueueUrlDotted,
            "aws.queue.url" => Self::AwsQueueUrlDotted,
            "messaging.url" => Self::MessagingUrl,
            "aws.local.service" => Self::AwsLocalService,
            "aws.remote.service" => Self::AwsRemoteService,
            "aws.table_name" => Self::AwsTableName,
            "aws.dynamodb.table_names" => Self::AwsDynamodbTableNames,
            "enduser.id" => Self::EnduserId,
            super::sql::DATABASE_VERSION_ATTRIBUTE => Self::XraySqlDatabaseVersion,
            super::sql::DRIVER_VERSION_ATTRIBUTE => Self::XraySqlDriverVersion,
            super::sql::PREPARATION_ATTRIBUTE => Self::XraySqlPreparation,
            super::ANNOTATIONS_ATTRIBUTE => Self::XrayAnnotations,
            _ => return None,
        })
    }
}

/// A span's attributes with the first occurrence of every [`Key`] indexed.
pub(crate) struct SpanAttrs<'a> {
    /// All attributes, in order.
    pub(crate) all: &'a [KeyValue],
    first: [Option<&'a KeyValue>; KEYS],
}

impl<'a> SpanAttrs<'a> {
    /// Indexes `attrs` in one pass (the first occurrence of a key wins, as
    /// a linear search would find it).
    pub(crate) fn new(attrs: &'a [KeyValue]) -> Self {
        let mut first = [None; KEYS];
        for kv in attrs {
            if let Some(k) = Key::of(&kv.key) {
                first[k as usize].get_or_insert(kv);
            }
        }
        Self { all: attrs, first }
    }

    /// The value of `key`, if present.
    pub(crate) fn get(&self, key: Key) -> Option<&'a Av> {
        self.first[key as usize]
            .and_then(|kv| kv.value.as_ref())
            .and_then(|v| v.value.as_ref())
    }

    /// The value of the first present key as a string (numbers and bools
    /// formatted); empty strings count as absent.
    pub(crate) fn str_of(&self, keys: &[Key]) -> Option<Cow<'a, str>> {
        keys.iter().find_map(|k| match self.get(*k)? {
            Av::StringValue(s) if !s.is_empty() => Some(Cow::Borrowed(s.as_str())),
            Av::IntValue(i) => Some(Cow::Owned(i.to_string())),
            Av::DoubleValue(d) => Some(Cow::Owned(d.to_string())),
            Av::BoolValue(b) => Some(Cow::Owned(b.to_string())),
            _ => None,
        })
    }

    /// The value of the first present key as an integer (strings of digits
    /// too).
    pub(crate) fn int_of(&self, keys: &[Key]) -> Option<i64> {
        keys.iter().find_map(|k| match self.get(*k)? {
            Av::IntValue(i) => Some(*i),
            Av::DoubleValue(d) if d.fract() == 0.0 && d.is_finite() => Some(*d as i64),
            Av::StringValue(s) => s.trim().parse().ok(),
            _ => None,
        })
    }

    /// True when the span is a call to an AWS API (`rpc.system=aws-api` or
    /// `aws.service` set).
    pub(crate) fn is_aws_call(&self) -> bool {
        matches!(self.get(Key::RpcSystem), Some(Av::StringValue(s)) if s == "aws-api")
            || matches!(self.get(Key::AwsService), Some(Av::StringValue(s)) if !s.is_empty())
    }
}
