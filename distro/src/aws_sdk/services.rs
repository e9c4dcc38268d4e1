//! Service-specific attributes (semantic conventions for AWS SDK spans), read
//! from the serialized request and the response: the JSON body of the
//! JSON-protocol services (DynamoDB, SQS, Kinesis, Step Functions, Secrets
//! Manager, EventBridge), the form body of SNS (query protocol), the URL of
//! S3 and Lambda.
//!
//! | service | attributes |
//! |---|---|
//! | DynamoDB | `aws.dynamodb.table_names`, `aws.dynamodb.index_name`, `aws.dynamodb.consistent_read`, `aws.dynamodb.limit`, `aws.dynamodb.select`, `aws.dynamodb.projection`; response `aws.dynamodb.consumed_capacity`, `aws.dynamodb.count`, `aws.dynamodb.scanned_count` |
//! | SQS | `messaging.system=aws_sqs`, `aws.sqs.queue.url`, `messaging.destination.name`, `messaging.operation.type`, `messaging.batch.message_count`; response `messaging.message.id` |
//! | SNS | `messaging.system=aws_sns`, `aws.sns.topic.arn`, `messaging.destination.name` |
//! | S3 | `aws.s3.bucket`, `aws.s3.key` |
//! | Lambda | `faas.invoked_name`, `faas.invoked_provider=aws` |
//! | Kinesis | `aws.kinesis.stream_name` |
//! | Step Functions | `aws.step_functions.state_machine.arn`, `aws.step_functions.activity.arn` |
//! | Secrets Manager | `aws.secretsmanager.secret.arn` (request id when an ARN, else the response `ARN`) |
//! | EventBridge | [`EVENTBRIDGE_BUS_ATTRIBUTE`] |

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::LazyLock;

use aws_smithy_runtime_api::http::{Request, Response};
use aws_smithy_types::body::SdkBody;
use opentelemetry::{Array, KeyValue, StringValue, Value};
use opentelemetry_semantic_conventions::attribute as semconv;
use serde::Deserialize;
use serde::de::IgnoredAny;

mod json;

/// EventBridge bus names of a `PutEvents` call (no semantic convention
/// yet; named after the others, `aws.<service>.<resource>`).
pub const EVENTBRIDGE_BUS_ATTRIBUTE: &str = "aws.eventbridge.event_bus.name";

/// The services with specific attributes, by the SDK's service id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Service {
    /// `DynamoDB`.
    DynamoDb,
    /// `SQS`.
    Sqs,
    /// `SNS`.
    Sns,
    /// `S3`.
    S3,
    /// `Lambda`.
    Lambda,
    /// `Kinesis`.
    Kinesis,
    /// `SFN` (Step Functions).
    StepFunctions,
    /// `Secrets Manager`.
    SecretsManager,
    /// `EventBridge`.
    EventBridge,
    /// Any other service: the common attributes only.
    Other,
}

impl Service {
    /// The service for an SDK service id (`Metadata::service()`).
    pub fn of(service_id: &str) -> Self {
        KNOWN
            .iter()
            .find(|(_, id)| *id == service_id)
            .map_or(Self::Other, |(s, _)| *s)
    }

    /// The SDK's service id (`rpc.service`) of a known service, as a
    /// static string: no allocation per span.
    pub fn id(self) -> Option<&'static str> {
        KNOWN.iter().find(|(s, _)| *s == self).map(|(_, id)| *id)
    }

    /// How many attributes this service's readers add to a successful call
    /// of its common operations (DynamoDB's item calls, SQS `SendMessage`
    /// and `ReceiveMessage`, S3's object calls with its extended request
    /// id): the room the span's attribute vector is given for them.
    pub(super) fn usual_attributes(self) -> usize {
        match self {
            Self::Sqs => 5,
            Self::Sns | Self::S3 => 3,
            Self::Lambda => 2,
            Self::DynamoDb
            | Self::Kinesis
            | Self::StepFunctions
            | Self::SecretsManager
            | Self::EventBridge => 1,
            Self::Other => 0,
        }
    }

    /// Whether [`request_attributes`] reads the request's body (read once,
    /// before the retry loop) rather than its URL (read on the first
    /// attempt, once the endpoint is resolved).
    pub(super) fn attributes_in_body(self) -> bool {
        !matches!(self, Self::S3 | Self::Lambda)
    }

    fn json(self) -> bool {
        matches!(
            self,
            Self::DynamoDb
                | Self::Sqs
                | Self::Kinesis
                | Self::StepFunctions
                | Self::SecretsManager
                | Self::EventBridge
        )
    }
}

/// The known services by their SDK service ids.
const KNOWN: [(Service, &str); 9] = [
    (Service::DynamoDb, "DynamoDB"),
    (Service::Sqs, "SQS"),
    (Service::Sns, "SNS"),
    (Service::S3, "S3"),
    (Service::Lambda, "Lambda"),
    (Service::Kinesis, "Kinesis"),
    (Service::StepFunctions, "SFN"),
    (Service::SecretsManager, "Secrets Manager"),
    (Service::EventBridge, "EventBridge"),
];

/// The request fields any of the JSON services name, read by
/// [`JsonRequest::scan`] (module `json`). The serde derive (tests only) is
/// the reference the scan is tested against.
#[derive(Default, Debug, PartialEq)]
#[cfg_attr(test, derive(Deserialize))]
struct JsonRequest<'a> {
    #[cfg_attr(test, serde(rename = "TableName", borrow))]
    table_name: Option<Cow<'a, str>>,
    #[cfg_attr(test, serde(rename = "RequestItems", borrow))]
    request_items: Option<BTreeMap<Cow<'a, str>, IgnoredAny>>,
    #[cfg_attr(test, serde(rename = "TransactItems", borrow))]
    transact_items: Option<Vec<TransactItem<'a>>>,
    #[cfg_attr(test, serde(rename = "IndexName", borrow))]
    index_name: Option<Cow<'a, str>>,
    #[cfg_attr(test, serde(rename = "ConsistentRead"))]
    consistent_read: Option<bool>,
    #[cfg_attr(test, serde(rename = "Limit"))]
    limit: Option<i64>,
    #[cfg_attr(test, serde(rename = "Select", borrow))]
    select: Option<Cow<'a, str>>,
    #[cfg_attr(test, serde(rename = "ProjectionExpression", borrow))]
    projection: Option<Cow<'a, str>>,
    #[cfg_attr(test, serde(rename = "QueueUrl", borrow))]
    queue_url: Option<Cow<'a, str>>,
    #[cfg_attr(test, serde(rename = "Entries", borrow))]
    entries: Option<Vec<Entry<'a>>>,
    #[cfg_attr(test, serde(rename = "StreamName", borrow))]
    stream_name: Option<Cow<'a, str>>,
    #[cfg_attr(test, serde(rename = "StreamARN", borrow))]
    stream_arn: Option<Cow<'a, str>>,
    #[cfg_attr(test, serde(rename = "stateMachineArn", borrow))]
    state_machine_arn: Option<Cow<'a, str>>,
    #[cfg_attr(test, serde(rename = "activityArn", borrow))]
    activity_arn: Option<Cow<'a, str>>,
    #[cfg_attr(test, serde(rename = "SecretId", borrow))]
    secret_id: Option<Cow<'a, str>>,
}

#[derive(Debug, PartialEq)]
#[cfg_attr(test, derive(Deserialize))]
struct TableRef<'a> {
    #[cfg_attr(test, serde(rename = "TableName", borrow))]
    table_name: Option<Cow<'a, str>>,
}

#[derive(Debug, PartialEq)]
#[cfg_attr(test, derive(Deserialize))]
struct TransactItem<'a> {
    #[cfg_attr(test, serde(rename = "Get", borrow))]
    get: Option<TableRef<'a>>,
    #[cfg_attr(test, serde(rename = "Put", borrow))]
    put: Option<TableRef<'a>>,
    #[cfg_attr(test, serde(rename = "Update", borrow))]
    update: Option<TableRef<'a>>,
    #[cfg_attr(test, serde(rename = "Delete", borrow))]
    delete: Option<TableRef<'a>>,
    #[cfg_attr(test, serde(rename = "ConditionCheck", borrow))]
    condition_check: Option<TableRef<'a>>,
}

#[derive(Debug, PartialEq)]
#[cfg_attr(test, derive(Deserialize))]
struct Entry<'a> {
    #[cfg_attr(test, serde(rename = "EventBusName", borrow))]
    event_bus_name: Option<Cow<'a, str>>,
}

/// The response fields read on success, by [`JsonResponse::scan`].
#[derive(Default, Debug, PartialEq)]
#[cfg_attr(test, derive(Deserialize))]
struct JsonResponse<'a> {
    #[cfg_attr(test, serde(rename = "ConsumedCapacity"))]
    consumed_capacity: Option<serde_json::Value>,
    #[cfg_attr(test, serde(rename = "Count"))]
    count: Option<i64>,
    #[cfg_attr(test, serde(rename = "ScannedCount"))]
    scanned_count: Option<i64>,
    #[cfg_attr(test, serde(rename = "MessageId", borrow))]
    message_id: Option<Cow<'a, str>>,
    #[cfg_attr(test, serde(rename = "Messages"))]
    messages: Option<Vec<IgnoredAny>>,
    #[cfg_attr(test, serde(rename = "ARN", borrow))]
    arn: Option<Cow<'a, str>>,
}

/// The request's `Content-Type` bytes, looked up by the parsed name: a
/// lookup by a string parses and hashes the name first (~250 instructions a
/// call).
fn content_type(headers: &aws_smithy_runtime_api::http::Headers) -> &[u8] {
    headers
        .get_all_bytes_by_name(&http::header::CONTENT_TYPE)
        .next()
        .unwrap_or_default()
}

/// Whether `content_type` holds `part` (a content type is a few dozen
/// bytes: a plain scan).
fn names(content_type: &[u8], part: &[u8]) -> bool {
    content_type.windows(part.len()).any(|w| w == part)
}

/// The body is JSON by its content type: the JSON protocols' own types
/// compared whole first, else any type naming `json`. As bytes: a type
/// that is not UTF-8 has no other meaning here (checking it as text and
/// searching it cost ~250 instructions, twice for an SQS message).
fn json_content(headers: &aws_smithy_runtime_api::http::Headers) -> bool {
    let t = content_type(headers);
    matches!(
        t,
        b"application/x-amz-json-1.0" | b"application/x-amz-json-1.1" | b"application/json"
    ) || names(t, b"json")
}

/// Where the readers put attributes: the operation's span, straight into
/// its own attribute vector (no vector per hook to collect them first and
/// free on the span processor's thread), or a vector (tests).
pub(super) trait Attributes {
    /// Adds one attribute.
    fn push(&mut self, attribute: KeyValue);
}

impl Attributes for Vec<KeyValue> {
    fn push(&mut self, attribute: KeyValue) {
        Vec::push(self, attribute);
    }
}

fn string_array<'a>(items: impl IntoIterator<Item = Cow<'a, str>>) -> Value {
    Value::Array(Array::String(
        items
            .into_iter()
            .map(|s| StringValue::from(s.into_owned()))
            .collect(),
    ))
}

fn push_str(out: &mut impl Attributes, key: &'static str, v: Option<Cow<'_, str>>) {
    if let Some(v) = v {
        out.push(KeyValue::new(key, v.into_owned()));
    }
}

/// The last `/`-separated part (queue name of a URL, name of an ARN's resource).
fn last_part(s: &str) -> &str {
    // `rfind` (a byte search from the end) rather than `rsplit`, whose
    // splitter cost ~220 instructions on a queue URL.
    s.rfind('/').map_or(s, |i| &s[i + 1..])
}

/// The attributes read from the serialized request.
pub(super) fn request_attributes(
    service: Service,
    operation: &str,
    request: &Request<SdkBody>,
    out: &mut impl Attributes,
) {
    match service {
        Service::Other => {}
        Service::S3 => s3(request.uri(), out),
        Service::Lambda => lambda(request.uri(), out),
        Service::Sns => sns(request, out),
        s if s.json() => {
            if !json_content(request.headers()) {
                return;
            }
            let Some(body) = request.body().bytes() else {
                return;
            };
            let Some(req) = JsonRequest::scan(body) else {
                return;
            };
            json_request(s, operation, req, out);
        }
        _ => {}
    }
}

fn json_request(
    service: Service,
    operation: &str,
    req: JsonRequest<'_>,
    out: &mut impl Attributes,
) {
    match service {
        Service::DynamoDb => {
            // The attribute's own vector, no list of borrowed names first:
            // most operations name one table.
            let owned = |name: Cow<'_, str>| StringValue::from(name.into_owned());
            let mut tables: Vec<StringValue> = req.table_name.into_iter().map(owned).collect();
            if let Some(items) = req.request_items {
                tables.extend(items.into_keys().map(owned));
            }
            for t in req.transact_items.into_iter().flatten() {
                let r = t
                    .get
                    .or(t.put)
                    .or(t.update)
                    .or(t.delete)
                    .or(t.condition_check);
                if let Some(name) = r.and_then(|r| r.table_name)
                    && !tables.iter().any(|t| t.as_str() == name)
                {
                    tables.push(owned(name));
                }
            }
            if !tables.is_empty() {
                out.push(KeyValue::new(
                    semconv::AWS_DYNAMODB_TABLE_NAMES,
                    Value::Array(Array::String(tables)),
                ));
            }
            push_str(out, semconv::AWS_DYNAMODB_INDEX_NAME, req.index_name);
            push_str(out, semconv::AWS_DYNAMODB_SELECT, req.select);
            push_str(out, semconv::AWS_DYNAMODB_PROJECTION, req.projection);
            if let Some(c) = req.consistent_read {
                out.push(KeyValue::new(semconv::AWS_DYNAMODB_CONSISTENT_READ, c));
            }
            if let Some(l) = req.limit {
                out.push(KeyValue::new(semconv::AWS_DYNAMODB_LIMIT, l));
            }
        }
        Service::Sqs => {
            out.push(KeyValue::new(semconv::MESSAGING_SYSTEM, "aws_sqs"));
            if let Some(url) = req.queue_url {
                out.push(KeyValue::new(
                    semconv::MESSAGING_DESTINATION_NAME,
                    last_part(&url).to_owned(),
                ));
                out.push(KeyValue::new(semconv::AWS_SQS_QUEUE_URL, url.into_owned()));
            }
            let op_type = match operation {
                "SendMessage" | "SendMessageBatch" => Some("send"),
                "ReceiveMessage" => Some("receive"),
                "DeleteMessage" | "DeleteMessageBatch" => Some("settle"),
                _ => None,
            };
            if let Some(t) = op_type {
                out.push(KeyValue::new(semconv::MESSAGING_OPERATION_TYPE, t));
            }
            if let Some(e) = req.entries {
                out.push(KeyValue::new(
                    semconv::MESSAGING_BATCH_MESSAGE_COUNT,
                    e.len() as i64,
                ));
            }
        }
        Service::Kinesis => {
            let name = req
                .stream_name
                .or_else(|| req.stream_arn.map(|a| Cow::Owned(last_part(&a).to_owned())));
            push_str(out, semconv::AWS_KINESIS_STREAM_NAME, name);
        }
        Service::StepFunctions => {
            push_str(
                out,
                semconv::AWS_STEP_FUNCTIONS_STATE_MACHINE_ARN,
                req.state_machine_arn,
            );
            push_str(
                out,
                semconv::AWS_STEP_FUNCTIONS_ACTIVITY_ARN,
                req.activity_arn,
            );
        }
        Service::SecretsManager => {
            // SecretId may be a name or an ARN; only an ARN is the attribute.
            if let Some(id) = req.secret_id.filter(|id| id.starts_with("arn:")) {
                out.push(KeyValue::new(
                    semconv::AWS_SECRETSMANAGER_SECRET_ARN,
                    id.into_owned(),
                ));
            }
        }
        Service::EventBridge => {
            let mut buses: Vec<Cow<'_, str>> = Vec::new();
            for e in req.entries.into_iter().flatten() {
                // An entry without a bus goes to the account's default bus.
                let bus = e.event_bus_name.unwrap_or(Cow::Borrowed("default"));
                if !buses.contains(&bus) {
                    buses.push(bus);
                }
            }
            if !buses.is_empty() {
                out.push(KeyValue::new(
                    EVENTBRIDGE_BUS_ATTRIBUTE,
                    string_array(buses),
                ));
            }
        }
        _ => {}
    }
}

/// The path of `uri` (without query), percent-decoded by segment later.
fn path_of(uri: &str) -> &str {
    let rest = match uri.find("://") {
        Some(i) => &uri[i + 3..],
        None => uri,
    };
    let path = rest.find('/').map_or("", |i| &rest[i..]);
    path.split(['?', '#']).next().unwrap_or_default()
}

fn host_of(uri: &str) -> &str {
    let rest = match uri.find("://") {
        Some(i) => &uri[i + 3..],
        None => return "",
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit('@').next().unwrap_or(authority);
    host.split(':').next().unwrap_or(host)
}

fn decode(s: &str) -> Cow<'_, str> {
    percent_encoding::percent_decode_str(s).decode_utf8_lossy()
}

/// S3: virtual-hosted (`<bucket>.s3[.-]<region>.amazonaws.com/<key>`) or
/// path style (`<endpoint>/<bucket>/<key>`, what custom endpoints use).
fn s3(uri: &str, out: &mut impl Attributes) {
    let host = host_of(uri);
    let path = path_of(uri).trim_start_matches('/');
    let virtual_bucket = host
        .find(".s3.")
        .or_else(|| host.find(".s3-"))
        .filter(|_| host.contains(".amazonaws.com"))
        .map(|i| &host[..i]);
    let (bucket, key) = match virtual_bucket {
        Some(b) => (Some(b), path),
        None => match path.split_once('/') {
            Some((b, k)) => (Some(b), k),
            None => (Some(path), ""),
        },
    };
    if let Some(b) = bucket.filter(|b| !b.is_empty()) {
        out.push(KeyValue::new("aws.s3.bucket", decode(b).into_owned()));
    }
    if !key.is_empty() {
        out.push(KeyValue::new("aws.s3.key", decode(key).into_owned()));
    }
}

/// Lambda: `/2015-03-31/functions/<name>/...`.
fn lambda(uri: &str, out: &mut impl Attributes) {
    let path = path_of(uri);
    let mut parts = path.split('/').skip_while(|p| *p != "functions").skip(1);
    if let Some(name) = parts.next().filter(|n| !n.is_empty()) {
        out.push(KeyValue::new(
            semconv::FAAS_INVOKED_NAME,
            decode(name).into_owned(),
        ));
        out.push(KeyValue::new(semconv::FAAS_INVOKED_PROVIDER, "aws"));
    }
}

/// SNS (query protocol): `TopicArn` or `TargetArn` of the form body.
fn sns(request: &Request<SdkBody>, out: &mut impl Attributes) {
    out.push(KeyValue::new(semconv::MESSAGING_SYSTEM, "aws_sns"));
    if !names(content_type(request.headers()), b"x-www-form-urlencoded") {
        return;
    }
    let Some(body) = request.body().bytes() else {
        return;
    };
    let arn = url::form_urlencoded::parse(body)
        .find(|(k, _)| k == "TopicArn" || k == "TargetArn")
        .map(|(_, v)| v.into_owned());
    if let Some(arn) = arn {
        let name = arn.rsplit(':').next().unwrap_or_default().to_owned();
        out.push(KeyValue::new(semconv::MESSAGING_DESTINATION_NAME, name));
        out.push(KeyValue::new(semconv::AWS_SNS_TOPIC_ARN, arn));
    }
}

/// The attributes read from a successful response body.
pub(super) fn response_attributes(
    service: Service,
    operation: &str,
    body: &[u8],
    out: &mut impl Attributes,
) {
    let wanted = match service {
        Service::DynamoDb => true,
        Service::Sqs => matches!(operation, "SendMessage" | "ReceiveMessage"),
        Service::SecretsManager => true,
        _ => false,
    };
    if !wanted || body.first() != Some(&b'{') {
        return;
    }
    let Some(resp) = JsonResponse::scan(body) else {
        return;
    };
    match service {
        Service::DynamoDb => {
            let capacity = match resp.consumed_capacity {
                Some(serde_json::Value::Array(items)) => items,
                Some(one @ serde_json::Value::Object(_)) => vec![one],
                _ => Vec::new(),
            };
            if !capacity.is_empty() {
                out.push(KeyValue::new(
                    semconv::AWS_DYNAMODB_CONSUMED_CAPACITY,
                    string_array(capacity.iter().map(|c| Cow::Owned(c.to_string()))),
                ));
            }
            if let Some(c) = resp.count {
                out.push(KeyValue::new(semconv::AWS_DYNAMODB_COUNT, c));
            }
            if let Some(c) = resp.scanned_count {
                out.push(KeyValue::new(semconv::AWS_DYNAMODB_SCANNED_COUNT, c));
            }
        }
        Service::Sqs => {
            push_str(out, semconv::MESSAGING_MESSAGE_ID, resp.message_id);
            if let Some(m) = resp.messages {
                out.push(KeyValue::new(
                    semconv::MESSAGING_BATCH_MESSAGE_COUNT,
                    m.len() as i64,
                ));
            }
        }
        Service::SecretsManager => {
            push_str(out, semconv::AWS_SECRETSMANAGER_SECRET_ARN, resp.arn);
        }
        _ => {}
    }
}

/// Puts the trace header into the messages of SQS `SendMessage` /
/// `SendMessageBatch` (`MessageSystemAttributes.AWSTraceHeader`) and
/// EventBridge `PutEvents` (`Entries[].TraceHeader`), unless the caller set
/// one. The body is re-serialized and `Content-Length` updated; signing
/// comes later and hashes the new body.
pub(super) fn carry_in_messages(
    service: Service,
    operation: &str,
    request: &mut Request<SdkBody>,
    header: &str,
) {
    let edit: fn(&mut serde_json::Value, &str) = match (service, operation) {
        (Service::Sqs, "SendMessage") => sqs_message,
        (Service::Sqs, "SendMessageBatch") => |v, h| {
            for_each_entry(v, h, sqs_message);
        },
        (Service::EventBridge, "PutEvents") => |v, h| {
            for_each_entry(v, h, |e, h| {
                if let Some(e) = e.as_object_mut() {
                    e.entry("TraceHeader")
                        .or_insert_with(|| serde_json::Value::String(h.to_owned()));
                }
            });
        },
        _ => return,
    };
    if !json_content(request.headers()) {
        return;
    }
    let spliced = match (service, operation) {
        (Service::Sqs, "SendMessage") => request
            .body()
            .bytes()
            .and_then(|b| splice_sqs_trace_header(b, header)),
        _ => None,
    };
    let bytes = match spliced {
        Some(bytes) => bytes,
        None => {
            let Some(mut doc) = request
                .body()
                .bytes()
                .and_then(|b| serde_json::from_slice::<serde_json::Value>(b).ok())
            else {
                return;
            };
            edit(&mut doc, header);
            let Ok(bytes) = serde_json::to_vec(&doc) else {
                return;
            };
            bytes
        }
    };
    let len = bytes.len();
    *request.body_mut() = SdkBody::from(bytes);
    request
        .headers_mut()
        .insert(http::header::CONTENT_LENGTH, len.to_string());
}

/// SendMessage's common case without parsing the body at all (a full
/// parse into a `serde_json::Value` and back was a third of the
/// interceptor's cost per call, a validating pass over the body still a
/// fifth; docs/benchmarks.md): the attribute goes in as the object's first
/// member. `None` (take the full parse) unless the body, past whitespace,
/// opens with `{` and ends with `}`, and nowhere holds the name
/// `MessageSystemAttributes` nor a `\u` escape (the only way a member name
/// could spell it without the literal bytes: no short escape is a letter).
///
/// For a valid body those checks make the splice exactly the parsed edit:
/// a JSON text that opens with `{` is one object, none of whose members can
/// be `MessageSystemAttributes`, so the new member is the one the edit adds.
/// An invalid body (the SDK serialised it, so it never is) keeps every one
/// of its bytes after the `{`, and stays as invalid as it was: the member
/// put in is complete and followed by `,` only when the object was not
/// empty.
fn splice_sqs_trace_header(body: &[u8], header: &str) -> Option<Vec<u8>> {
    const KEY: &[u8] = b"MessageSystemAttributes";
    let ws = |b: &u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r');
    let open = body.iter().position(|b| !ws(b))?;
    let close = body.iter().rposition(|b| !ws(b))?;
    if body[open] != b'{' || body[close] != b'}' {
        return None;
    }
    // The name's searcher is built once (building it per call was ~1,000
    // instructions: more than the search); `\u` is found as each `\`
    // followed by `u`.
    static FIND_KEY: LazyLock<memchr::memmem::Finder<'static>> =
        LazyLock::new(|| memchr::memmem::Finder::new(KEY));
    if FIND_KEY.find(body).is_some()
        || memchr::memchr_iter(b'\\', body).any(|i| body.get(i + 1) == Some(&b'u'))
    {
        return None;
    }
    let rest = &body[open + 1..];
    let empty = body[open + 1..close].iter().all(ws);
    let mut out = Vec::with_capacity(body.len() + header.len() + 96);
    out.extend_from_slice(
        br#"{"MessageSystemAttributes":{"AWSTraceHeader":{"DataType":"String","StringValue":"#,
    );
    // The X-Ray header needs no escapes (printable ASCII without `"` or
    // `\`); anything else goes through the serializer.
    if header
        .bytes()
        .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
    {
        out.push(b'"');
        out.extend_from_slice(header.as_bytes());
        out.push(b'"');
    } else {
        out.extend_from_slice(serde_json::to_string(header).ok()?.as_bytes());
    }
    out.extend_from_slice(b"}}");
    if !empty {
        out.push(b',');
    }
    out.extend_from_slice(rest);
    Some(out)
}

fn for_each_entry(doc: &mut serde_json::Value, header: &str, f: fn(&mut serde_json::Value, &str)) {
    if let Some(entries) = doc.get_mut("Entries").and_then(|e| e.as_array_mut()) {
        for e in entries {
            f(e, header);
        }
    }
}

/// One SQS message: `MessageSystemAttributes.AWSTraceHeader`.
fn sqs_message(msg: &mut serde_json::Value, header: &str) {
    let Some(msg) = msg.as_object_mut() else {
        return;
    };
    let attrs = msg
        .entry("MessageSystemAttributes")
        .or_insert_with(|| serde_json::Value::Object(serde_json::Map::new()));
    if let Some(attrs) = attrs.as_object_mut() {
        attrs
            .entry("AWSTraceHeader")
            .or_insert_with(|| serde_json::json!({"DataType": "String", "StringValue": header}));
    }
}

/// The service's error code from an error response: `x-amzn-ErrorType`
/// (REST-JSON), the JSON `__type`/`code` (namespace cut), or the XML
/// `<Code>` (REST-XML, query).
pub(super) fn error_code(response: &Response) -> Option<String> {
    let clean = |s: &str| {
        let s = s.split(':').next().unwrap_or(s);
        let s = s.rsplit('#').next().unwrap_or(s);
        (!s.is_empty()).then(|| s.to_owned())
    };
    if let Some(t) = response.headers().get("x-amzn-errortype") {
        return clean(t);
    }
    let body = response.body().bytes()?;
    let first = body.iter().find(|b| !b.is_ascii_whitespace())?;
    if *first == b'{' {
        #[derive(Deserialize)]
        struct JsonError<'a> {
            #[serde(rename = "__type", borrow)]
            kind: Option<Cow<'a, str>>,
            #[serde(alias = "Code", borrow)]
            code: Option<Cow<'a, str>>,
        }
        let e: JsonError<'_> = serde_json::from_slice(body).ok()?;
        return e.kind.or(e.code).and_then(|c| clean(&c));
    }
    let text = std::str::from_utf8(body).ok()?;
    let start = text.find("<Code>")? + "<Code>".len();
    let end = text[start..].find("</Code>")? + start;
    clean(text[start..end].trim())
}

#[cfg(test)]
mod tests;
