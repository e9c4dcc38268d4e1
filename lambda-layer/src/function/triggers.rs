//! Lambda triggers (feature `triggers`): what an event says about the invoke
//! — `faas.trigger`, messaging / HTTP / document attributes, the parent
//! context it carries and the messages it links — and what a response says
//! (HTTP status, partial batch failures). The event types are
//! `aws_lambda_events`'; a handler taking `serde_json::Value` is served too
//! (the shape is recognised, then read as the typed event).
//!
//! | event | `faas.trigger` | parent / links |
//! |---|---|---|
//! | SQS | `pubsub` | each record's `AWSTraceHeader` is a link; with one record it is the parent |
//! | SNS, Kinesis, DynamoDB streams, EventBridge | `pubsub` / `datasource` | the runtime's X-Ray header (Lambda passes the caller's trace on) |
//! | API Gateway REST / HTTP API, ALB, Function URL | `http` | the request headers (configured propagators), else the runtime's header |
//! | S3 | `datasource` | the runtime's header |
//! | EventBridge schedule | `timer` | the runtime's header |
//!
//! The invoke span stays SERVER for every trigger (the function's X-Ray
//! segment); the semantic conventions' CONSUMER kind for message triggers
//! would make it a subsegment of Lambda's (docs/lambda.md, "Triggers").

use std::collections::HashMap;

use aws_lambda_events::alb::{AlbTargetGroupRequest, AlbTargetGroupResponse};
use aws_lambda_events::apigw::{
    ApiGatewayProxyRequest, ApiGatewayProxyResponse, ApiGatewayV2httpRequest,
    ApiGatewayV2httpResponse,
};
use aws_lambda_events::dynamodb::Event as DynamoDbEvent;
use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_lambda_events::http::HeaderMap;
use aws_lambda_events::kinesis::KinesisEvent;
use aws_lambda_events::lambda_function_urls::{
    LambdaFunctionUrlRequest, LambdaFunctionUrlResponse,
};
use aws_lambda_events::s3::S3Event;
use aws_lambda_events::sns::SnsEvent;
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use aws_lambda_events::streams::{DynamoDbEventResponse, KinesisEventResponse};
use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::{SpanContext, TraceContextExt};
use opentelemetry::{Array, Context, KeyValue, StringValue, Value};
use opentelemetry_semantic_conventions::attribute as semconv;
use otel_aws_distro::xray::XrayPropagator;
use serde::Deserialize;

/// Span attribute: how many items of the batch the function reported as
/// failed (`batchItemFailures`, partial batch responses). No semantic
/// convention exists yet.
pub const BATCH_ITEM_FAILURES: &str = "aws.lambda.batch_item_failures";
/// Span event per failed batch item, with `messaging.message.id` (the
/// item identifier: SQS message id, Kinesis/DynamoDB sequence number).
pub const BATCH_ITEM_FAILURE_EVENT: &str = "aws.lambda.batch_item_failure";

/// `faas.trigger` values (semantic conventions).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FaasTrigger {
    /// A request to an HTTP endpoint.
    Http,
    /// A message or event from a queue, topic or stream.
    PubSub,
    /// A change in a data source (S3 object, DynamoDB item).
    Datasource,
    /// A schedule.
    Timer,
    /// Anything else (direct invokes).
    #[default]
    Other,
}

impl FaasTrigger {
    /// The attribute value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::PubSub => "pubsub",
            Self::Datasource => "datasource",
            Self::Timer => "timer",
            Self::Other => "other",
        }
    }
}

/// What an event says about its invoke.
#[derive(Debug, Default)]
pub struct Trigger {
    /// `faas.trigger`.
    pub kind: FaasTrigger,
    /// Attributes for the invoke span.
    pub attributes: Vec<KeyValue>,
    /// The parent the event carries (HTTP headers, a batch of one
    /// message); `None`: the runtime's `Lambda-Runtime-Trace-Id`.
    pub parent: Option<Context>,
    /// Links to the contexts of the messages of a batch.
    pub links: Vec<(SpanContext, Vec<KeyValue>)>,
}

/// An event type the wrapper can read a [`Trigger`] from.
pub trait TriggerEvent {
    /// The trigger of this event.
    fn trigger(&self) -> Trigger;
}

/// What a response says about its invoke.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Attributes for the invoke span.
    pub attributes: Vec<KeyValue>,
    /// Identifiers of the failed batch items.
    pub failed_items: Vec<String>,
    /// An HTTP 5xx answer: span status ERROR (4xx stays unset).
    pub server_error: bool,
}

/// A response type the wrapper can read an [`Outcome`] from.
pub trait TriggerResponse {
    /// The outcome of this response.
    fn outcome(&self) -> Outcome;
}

// ------------------------------------------------------------ messages

/// The part of an ARN after the last `:` (queue or topic name).
fn arn_name(arn: &str) -> &str {
    arn.rsplit(':').next().unwrap_or(arn)
}

/// The resource of an ARN after `/<kind>/` (`stream/orders` → `orders`,
/// `table/carts/stream/...` → `carts`).
fn arn_resource<'a>(arn: &'a str, kind: &str) -> Option<&'a str> {
    let rest = arn.split_once(&format!(":{kind}/"))?.1;
    rest.split('/').next()
}

fn strings(items: impl IntoIterator<Item = String>) -> Value {
    Value::Array(Array::String(
        items.into_iter().map(StringValue::from).collect(),
    ))
}

fn xray_context(header: &str) -> Option<SpanContext> {
    let carrier = HashMap::from([("x-amzn-trace-id".to_owned(), header.to_owned())]);
    let cx = XrayPropagator::new().extract(&carrier);
    let sc = cx.span().span_context().clone();
    sc.is_valid().then_some(sc)
}

impl TriggerEvent for SqsEvent {
    fn trigger(&self) -> Trigger {
        let mut t = Trigger {
            kind: FaasTrigger::PubSub,
            ..Trigger::default()
        };
        t.attributes
            .push(KeyValue::new(semconv::MESSAGING_SYSTEM, "aws_sqs"));
        t.attributes
            .push(KeyValue::new(semconv::MESSAGING_OPERATION_TYPE, "process"));
        t.attributes.push(KeyValue::new(
            semconv::MESSAGING_BATCH_MESSAGE_COUNT,
            self.records.len() as i64,
        ));
        if let Some(arn) = self
            .records
            .first()
            .and_then(|r| r.event_source_arn.as_deref())
        {
            t.attributes.push(KeyValue::new(
                semconv::MESSAGING_DESTINATION_NAME,
                arn_name(arn).to_owned(),
            ));
        }
        if let [one] = self.records.as_slice()
            && let Some(id) = &one.message_id
        {
            t.attributes
                .push(KeyValue::new(semconv::MESSAGING_MESSAGE_ID, id.clone()));
        }
        for r in &self.records {
            if let Some(sc) = r
                .attributes
                .get("AWSTraceHeader")
                .and_then(|h| xray_context(h))
            {
                let attrs = r
                    .message_id
                    .iter()
                    .map(|id| KeyValue::new(semconv::MESSAGING_MESSAGE_ID, id.clone()))
                    .collect();
                t.links.push((sc, attrs));
            }
        }
        if self.records.len() == 1
            && let Some((sc, _)) = t.links.pop()
        {
            t.parent = Some(Context::new().with_remote_span_context(sc));
        }
        t
    }
}

impl TriggerEvent for SnsEvent {
    fn trigger(&self) -> Trigger {
        let mut t = Trigger {
            kind: FaasTrigger::PubSub,
            ..Trigger::default()
        };
        t.attributes
            .push(KeyValue::new(semconv::MESSAGING_SYSTEM, "aws_sns"));
        t.attributes
            .push(KeyValue::new(semconv::MESSAGING_OPERATION_TYPE, "process"));
        t.attributes.push(KeyValue::new(
            semconv::MESSAGING_BATCH_MESSAGE_COUNT,
            self.records.len() as i64,
        ));
        if let Some(r) = self.records.first() {
            let arn = &r.sns.topic_arn;
            t.attributes.push(KeyValue::new(
                semconv::MESSAGING_DESTINATION_NAME,
                arn_name(arn).to_owned(),
            ));
            t.attributes
                .push(KeyValue::new(semconv::AWS_SNS_TOPIC_ARN, arn.clone()));
        }
        if let [one] = self.records.as_slice() {
            t.attributes.push(KeyValue::new(
                semconv::MESSAGING_MESSAGE_ID,
                one.sns.message_id.clone(),
            ));
        }
        t
    }
}

impl TriggerEvent for KinesisEvent {
    fn trigger(&self) -> Trigger {
        let mut t = Trigger {
            kind: FaasTrigger::PubSub,
            ..Trigger::default()
        };
        t.attributes.push(KeyValue::new(
            semconv::MESSAGING_BATCH_MESSAGE_COUNT,
            self.records.len() as i64,
        ));
        if let Some(stream) = self
            .records
            .first()
            .and_then(|r| r.event_source_arn.as_deref())
            .and_then(|arn| arn_resource(arn, "stream"))
        {
            t.attributes.push(KeyValue::new(
                semconv::AWS_KINESIS_STREAM_NAME,
                stream.to_owned(),
            ));
        }
        t
    }
}

impl TriggerEvent for DynamoDbEvent {
    fn trigger(&self) -> Trigger {
        let mut t = Trigger {
            kind: FaasTrigger::Datasource,
            ..Trigger::default()
        };
        t.attributes.push(KeyValue::new(
            semconv::MESSAGING_BATCH_MESSAGE_COUNT,
            self.records.len() as i64,
        ));
        let table = self.records.first().and_then(|r| {
            r.table_name.clone().or_else(|| {
                r.event_source_arn
                    .as_deref()
                    .and_then(|a| arn_resource(a, "table"))
                    .map(str::to_owned)
            })
        });
        if let Some(table) = table {
            t.attributes.push(KeyValue::new(
                semconv::FAAS_DOCUMENT_COLLECTION,
                table.clone(),
            ));
            t.attributes.push(KeyValue::new(
                semconv::AWS_DYNAMODB_TABLE_NAMES,
                strings([table]),
            ));
        }
        if let [one] = self.records.as_slice() {
            let op = match one.event_name.as_str() {
                "INSERT" => Some("insert"),
                "MODIFY" => Some("edit"),
                "REMOVE" => Some("delete"),
                _ => None,
            };
            if let Some(op) = op {
                t.attributes
                    .push(KeyValue::new(semconv::FAAS_DOCUMENT_OPERATION, op));
            }
        }
        t
    }
}

impl TriggerEvent for S3Event {
    fn trigger(&self) -> Trigger {
        let mut t = Trigger {
            kind: FaasTrigger::Datasource,
            ..Trigger::default()
        };
        if let Some(r) = self.records.first() {
            if let Some(bucket) = &r.s3.bucket.name {
                t.attributes.push(KeyValue::new(
                    semconv::FAAS_DOCUMENT_COLLECTION,
                    bucket.clone(),
                ));
            }
            if self.records.len() == 1 {
                let key =
                    r.s3.object
                        .url_decoded_key
                        .clone()
                        .or_else(|| r.s3.object.key.clone());
                if let Some(key) = key {
                    t.attributes
                        .push(KeyValue::new(semconv::FAAS_DOCUMENT_NAME, key));
                }
                let name = r.event_name.as_deref().unwrap_or_default();
                let op = if name.starts_with("ObjectCreated") {
                    Some("insert")
                } else if name.starts_with("ObjectRemoved") {
                    Some("delete")
                } else {
                    None
                };
                if let Some(op) = op {
                    t.attributes
                        .push(KeyValue::new(semconv::FAAS_DOCUMENT_OPERATION, op));
                }
                t.attributes.push(KeyValue::new(
                    semconv::FAAS_DOCUMENT_TIME,
                    r.event_time.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
                ));
            }
        }
        t
    }
}

impl<T: serde::Serialize + serde::de::DeserializeOwned> TriggerEvent for EventBridgeEvent<T> {
    fn trigger(&self) -> Trigger {
        let scheduled = self.source == "aws.events" && self.detail_type == "Scheduled Event";
        let mut t = Trigger {
            kind: if scheduled {
                FaasTrigger::Timer
            } else {
                FaasTrigger::PubSub
            },
            ..Trigger::default()
        };
        if let Some(id) = &self.id {
            t.attributes
                .push(KeyValue::new(semconv::CLOUDEVENTS_EVENT_ID, id.clone()));
        }
        t.attributes.push(KeyValue::new(
            semconv::CLOUDEVENTS_EVENT_SOURCE,
            self.source.clone(),
        ));
        t.attributes.push(KeyValue::new(
            semconv::CLOUDEVENTS_EVENT_TYPE,
            self.detail_type.clone(),
        ));
        if let Some(time) = &self.time {
            t.attributes.push(KeyValue::new(
                semconv::FAAS_TIME,
                time.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            ));
        }
        t
    }
}

// ------------------------------------------------------------ HTTP

struct Headers<'a>(&'a HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The HTTP request fields of the four HTTP event shapes.
struct HttpRequest<'a> {
    method: &'a str,
    route: Option<&'a str>,
    path: Option<&'a str>,
    headers: &'a HeaderMap,
    source_ip: Option<&'a str>,
    user_agent: Option<&'a str>,
    host: Option<&'a str>,
}

fn http_trigger(r: HttpRequest<'_>) -> Trigger {
    let mut a = Vec::with_capacity(8);
    a.push(KeyValue::new(
        semconv::HTTP_REQUEST_METHOD,
        r.method.to_owned(),
    ));
    if let Some(route) = r.route {
        a.push(KeyValue::new(semconv::HTTP_ROUTE, route.to_owned()));
    }
    if let Some(path) = r.path {
        a.push(KeyValue::new(semconv::URL_PATH, path.to_owned()));
    }
    let scheme = header(r.headers, "x-forwarded-proto").unwrap_or("https");
    a.push(KeyValue::new(semconv::URL_SCHEME, scheme.to_owned()));
    if let Some(host) = header(r.headers, "host").or(r.host) {
        a.push(KeyValue::new(semconv::SERVER_ADDRESS, host.to_owned()));
    }
    let client = r.source_ip.or_else(|| {
        header(r.headers, "x-forwarded-for").and_then(|f| f.split(',').next().map(str::trim))
    });
    if let Some(ip) = client.filter(|ip| !ip.is_empty()) {
        a.push(KeyValue::new(semconv::CLIENT_ADDRESS, ip.to_owned()));
    }
    if let Some(ua) = r.user_agent.or_else(|| header(r.headers, "user-agent")) {
        a.push(KeyValue::new(semconv::USER_AGENT_ORIGINAL, ua.to_owned()));
    }
    let cx = opentelemetry::global::get_text_map_propagator(|p| {
        p.extract_with_context(&Context::new(), &Headers(r.headers))
    });
    Trigger {
        kind: FaasTrigger::Http,
        attributes: a,
        parent: cx.span().span_context().is_valid().then_some(cx),
        links: Vec::new(),
    }
}

impl TriggerEvent for ApiGatewayProxyRequest {
    fn trigger(&self) -> Trigger {
        http_trigger(HttpRequest {
            method: self.http_method.as_str(),
            route: self.resource.as_deref(),
            path: self.path.as_deref(),
            headers: &self.headers,
            source_ip: self.request_context.identity.source_ip.as_deref(),
            user_agent: self.request_context.identity.user_agent.as_deref(),
            host: self.request_context.domain_name.as_deref(),
        })
    }
}

impl TriggerEvent for ApiGatewayV2httpRequest {
    fn trigger(&self) -> Trigger {
        let http = &self.request_context.http;
        // `routeKey` is `GET /items/{id}` (or `$default`).
        let route = self
            .route_key
            .as_deref()
            .and_then(|k| k.split_once(' ').map(|(_, r)| r));
        http_trigger(HttpRequest {
            method: http.method.as_str(),
            route,
            path: self.raw_path.as_deref().or(http.path.as_deref()),
            headers: &self.headers,
            source_ip: http.source_ip.as_deref(),
            user_agent: http.user_agent.as_deref(),
            host: self.request_context.domain_name.as_deref(),
        })
    }
}

impl TriggerEvent for AlbTargetGroupRequest {
    fn trigger(&self) -> Trigger {
        http_trigger(HttpRequest {
            method: self.http_method.as_str(),
            route: None,
            path: self.path.as_deref(),
            headers: &self.headers,
            source_ip: None,
            user_agent: None,
            host: None,
        })
    }
}

impl TriggerEvent for LambdaFunctionUrlRequest {
    fn trigger(&self) -> Trigger {
        let http = &self.request_context.http;
        http_trigger(HttpRequest {
            method: http.method.as_deref().unwrap_or("_OTHER"),
            route: None,
            path: self.raw_path.as_deref().or(http.path.as_deref()),
            headers: &self.headers,
            source_ip: http.source_ip.as_deref(),
            user_agent: http.user_agent.as_deref(),
            host: self.request_context.domain_name.as_deref(),
        })
    }
}

// ------------------------------------------------------------ JSON

/// Reads `value` as `T` (borrowing; no copy of the event).
fn read_as<T: for<'de> Deserialize<'de> + TriggerEvent>(value: &serde_json::Value) -> Trigger {
    T::deserialize(value)
        .map(|e| e.trigger())
        .unwrap_or_default()
}

impl TriggerEvent for serde_json::Value {
    /// Recognises the event by its shape (the `eventSource` of its records,
    /// the HTTP payload versions, EventBridge's `detail-type`), then reads
    /// it as the typed event. Anything else: `other`.
    fn trigger(&self) -> Trigger {
        let first = self.get("Records").and_then(|r| r.get(0));
        let source = first
            .and_then(|r| r.get("eventSource").or_else(|| r.get("EventSource")))
            .and_then(serde_json::Value::as_str);
        match source {
            Some("aws:sqs") => return read_as::<SqsEvent>(self),
            Some("aws:sns") => return read_as::<SnsEvent>(self),
            Some("aws:kinesis") => return read_as::<KinesisEvent>(self),
            Some("aws:dynamodb") => return read_as::<DynamoDbEvent>(self),
            Some("aws:s3") => return read_as::<S3Event>(self),
            _ => {}
        }
        let ctx = self.get("requestContext");
        if ctx.and_then(|c| c.get("elb")).is_some() {
            return read_as::<AlbTargetGroupRequest>(self);
        }
        if ctx.and_then(|c| c.get("http")).is_some() {
            let url = ctx
                .and_then(|c| c.get("domainName"))
                .and_then(serde_json::Value::as_str)
                .is_some_and(|d| d.contains(".lambda-url."));
            return if url {
                read_as::<LambdaFunctionUrlRequest>(self)
            } else {
                read_as::<ApiGatewayV2httpRequest>(self)
            };
        }
        if self.get("httpMethod").is_some() && ctx.is_some() {
            return read_as::<ApiGatewayProxyRequest>(self);
        }
        if self.get("detail-type").is_some() && self.get("source").is_some() {
            return read_as::<EventBridgeEvent>(self);
        }
        Trigger::default()
    }
}

// ------------------------------------------------------------ responses

fn failures<'a>(ids: impl IntoIterator<Item = Option<&'a str>>) -> Outcome {
    let failed_items: Vec<String> = ids
        .into_iter()
        .map(|i| i.unwrap_or_default().to_owned())
        .collect();
    Outcome {
        attributes: vec![KeyValue::new(
            BATCH_ITEM_FAILURES,
            failed_items.len() as i64,
        )],
        failed_items,
        server_error: false,
    }
}

fn http_status(code: i64) -> Outcome {
    Outcome {
        attributes: vec![KeyValue::new(semconv::HTTP_RESPONSE_STATUS_CODE, code)],
        failed_items: Vec::new(),
        server_error: code >= 500,
    }
}

impl TriggerResponse for SqsBatchResponse {
    fn outcome(&self) -> Outcome {
        failures(
            self.batch_item_failures
                .iter()
                .map(|f| Some(f.item_identifier.as_str())),
        )
    }
}

impl TriggerResponse for KinesisEventResponse {
    fn outcome(&self) -> Outcome {
        failures(
            self.batch_item_failures
                .iter()
                .map(|f| f.item_identifier.as_deref()),
        )
    }
}

impl TriggerResponse for DynamoDbEventResponse {
    fn outcome(&self) -> Outcome {
        failures(
            self.batch_item_failures
                .iter()
                .map(|f| f.item_identifier.as_deref()),
        )
    }
}

impl TriggerResponse for ApiGatewayProxyResponse {
    fn outcome(&self) -> Outcome {
        http_status(self.status_code)
    }
}

impl TriggerResponse for ApiGatewayV2httpResponse {
    fn outcome(&self) -> Outcome {
        http_status(self.status_code)
    }
}

impl TriggerResponse for AlbTargetGroupResponse {
    fn outcome(&self) -> Outcome {
        http_status(self.status_code)
    }
}

impl TriggerResponse for LambdaFunctionUrlResponse {
    fn outcome(&self) -> Outcome {
        http_status(self.status_code)
    }
}

impl TriggerResponse for () {
    fn outcome(&self) -> Outcome {
        Outcome::default()
    }
}

impl TriggerResponse for serde_json::Value {
    /// `batchItemFailures` (partial batch response) or `statusCode` (HTTP).
    fn outcome(&self) -> Outcome {
        if let Some(items) = self.get("batchItemFailures").and_then(|f| f.as_array()) {
            return failures(
                items
                    .iter()
                    .map(|i| i.get("itemIdentifier").and_then(serde_json::Value::as_str)),
            );
        }
        match self.get("statusCode").and_then(serde_json::Value::as_i64) {
            Some(code) => http_status(code),
            None => Outcome::default(),
        }
    }
}
