//! Lambda triggers read from AWS's sample payloads (tests/fixtures/events,
//! copies of the samples `aws_lambda_events` collects, plus the Function URL
//! payload of the Lambda guide), with and without trace headers: as the
//! typed `aws_lambda_events` event and as `serde_json::Value` (the wrapper
//! recognises the shape), which must agree. Expected values are the fields
//! of the samples and the FaaS / messaging / HTTP semantic conventions.
#![cfg(feature = "triggers")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use aws_lambda_events::alb::AlbTargetGroupRequest;
use aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayV2httpRequest};
use aws_lambda_events::dynamodb::Event as DynamoDbEvent;
use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_lambda_events::kinesis::KinesisEvent;
use aws_lambda_events::lambda_function_urls::LambdaFunctionUrlRequest;
use aws_lambda_events::s3::S3Event;
use aws_lambda_events::sns::SnsEvent;
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use opentelemetry::propagation::TextMapCompositePropagator;
use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use otel_aws_distro::xray::XrayPropagator;
use otel_aws_lambda::function::triggers::{
    BATCH_ITEM_FAILURES, FaasTrigger, Trigger, TriggerEvent, TriggerResponse,
};
use serde::de::DeserializeOwned;
use serde_json::Value;

mod common;
use common::{event_fixture, sqs_event_with_trace_headers};

const HEADER_A: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
const HEADER_B: &str = "Root=1-67891233-abcdef012345678912345678;Parent=463ac35c9f6413ad;Sampled=1";

/// The trigger of `event` read as `T`, checked equal to what the
/// `serde_json::Value` path recognises.
fn both<T: DeserializeOwned + TriggerEvent>(event: &Value) -> Trigger {
    let typed = serde_json::from_value::<T>(event.clone())
        .unwrap()
        .trigger();
    let sniffed = event.trigger();
    assert_eq!(typed.kind, sniffed.kind);
    assert_eq!(typed.attributes, sniffed.attributes);
    assert_eq!(
        typed
            .parent
            .as_ref()
            .map(|c| c.span().span_context().clone()),
        sniffed
            .parent
            .as_ref()
            .map(|c| c.span().span_context().clone())
    );
    assert_eq!(typed.links.len(), sniffed.links.len());
    typed
}

fn attr(t: &Trigger, key: &str) -> Option<String> {
    t.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.to_string())
}

fn has(t: &Trigger, key: &str, want: &str) {
    assert_eq!(
        attr(t, key).as_deref(),
        Some(want),
        "{key} in {:?}",
        t.attributes
    );
}

fn trace_id_of(header: &str) -> String {
    // Root=1-<8>-<24>: the W3C trace id is the 32 hex digits.
    let root = header
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("Root=1-");
    root.replace('-', "")
}

fn global_propagators() {
    opentelemetry::global::set_text_map_propagator(TextMapCompositePropagator::new(vec![
        Box::new(XrayPropagator::new()),
        Box::new(TraceContextPropagator::new()),
    ]));
}

#[test]
fn sqs_sample_without_trace_header() {
    let t = both::<SqsEvent>(&event_fixture("example-sqs-event.json"));
    assert_eq!(t.kind, FaasTrigger::PubSub);
    has(&t, "messaging.system", "aws_sqs");
    has(&t, "messaging.operation.type", "process");
    has(&t, "messaging.destination.name", "SQSQueue");
    has(&t, "messaging.message.id", "MessageID_1");
    has(&t, "messaging.batch.message_count", "1");
    assert!(
        t.parent.is_none(),
        "no AWSTraceHeader: the runtime's header is the parent"
    );
    assert!(t.links.is_empty());
}

#[test]
fn sqs_batch_of_one_is_parented_on_its_awstraceheader() {
    let t = both::<SqsEvent>(&sqs_event_with_trace_headers(&[HEADER_A]));
    let parent = t.parent.expect("parent from the message");
    let sc = parent.span().span_context().clone();
    assert_eq!(sc.trace_id().to_string(), trace_id_of(HEADER_A));
    assert_eq!(sc.span_id().to_string(), "53995c3f42cd8ad8");
    assert!(sc.is_remote() && sc.is_sampled());
    assert!(t.links.is_empty());
}

#[test]
fn sqs_batch_links_every_message() {
    let t = both::<SqsEvent>(&sqs_event_with_trace_headers(&[HEADER_A, HEADER_B]));
    assert!(t.parent.is_none(), "a batch has no one parent");
    has(&t, "messaging.batch.message_count", "2");
    assert!(
        attr(&t, "messaging.message.id").is_none(),
        "no single message id for a batch"
    );
    let linked: Vec<(String, String)> = t
        .links
        .iter()
        .map(|(sc, attrs)| (sc.trace_id().to_string(), attrs[0].value.to_string()))
        .collect();
    assert_eq!(
        linked,
        [
            (trace_id_of(HEADER_A), "m-0".to_owned()),
            (trace_id_of(HEADER_B), "m-1".to_owned())
        ]
    );
}

#[test]
fn sns_sample() {
    let t = both::<SnsEvent>(&event_fixture("example-sns-event.json"));
    assert_eq!(t.kind, FaasTrigger::PubSub);
    has(&t, "messaging.system", "aws_sns");
    has(
        &t,
        "aws.sns.topic.arn",
        "arn:aws:sns:us-east-1:246796806071:snsNetTest",
    );
    has(&t, "messaging.destination.name", "snsNetTest");
    has(
        &t,
        "messaging.message.id",
        "82833b5c-8d5d-56d0-b0e1-7511f8253eb8",
    );
}

#[test]
fn eventbridge_samples_event_and_schedule() {
    let t = both::<EventBridgeEvent>(&event_fixture("example-eventbridge-event-obj.json"));
    assert_eq!(t.kind, FaasTrigger::PubSub);
    has(
        &t,
        "cloudevents.event_id",
        "7bf73129-1428-4cd3-a780-95db273d1602",
    );
    has(&t, "cloudevents.event_source", "aws.ec2");
    has(
        &t,
        "cloudevents.event_type",
        "EC2 Instance State-change Notification",
    );
    let t = both::<EventBridgeEvent>(&event_fixture("example-eventbridge-schedule.json"));
    assert_eq!(t.kind, FaasTrigger::Timer);
    has(&t, "faas.time", "2015-10-08T16:53:06Z");
}

#[test]
fn kinesis_sample() {
    let t = both::<KinesisEvent>(&event_fixture("example-kinesis-event.json"));
    assert_eq!(t.kind, FaasTrigger::PubSub);
    has(&t, "aws.kinesis.stream_name", "simple-stream");
    has(&t, "messaging.batch.message_count", "2");
}

#[test]
fn dynamodb_stream_sample() {
    let t = both::<DynamoDbEvent>(&event_fixture("example-dynamodb-event.json"));
    assert_eq!(t.kind, FaasTrigger::Datasource);
    has(&t, "faas.document.collection", "Example-Table");
    has(&t, "aws.dynamodb.table_names", r#"["Example-Table"]"#);
    has(&t, "messaging.batch.message_count", "2");
}

#[test]
fn s3_sample() {
    let t = both::<S3Event>(&event_fixture("example-s3-event.json"));
    assert_eq!(t.kind, FaasTrigger::Datasource);
    has(&t, "faas.document.collection", "sourcebucket");
    has(&t, "faas.document.name", "Happy%20Face.jpg");
    has(&t, "faas.document.operation", "insert");
    has(&t, "faas.document.time", "1970-01-01T00:00:00.123Z");
}

#[test]
fn api_gateway_rest_sample() {
    global_propagators();
    let t = both::<ApiGatewayProxyRequest>(&event_fixture("example-apigw-request.json"));
    assert_eq!(t.kind, FaasTrigger::Http);
    has(&t, "http.request.method", "POST");
    has(&t, "http.route", "/{proxy+}");
    has(&t, "url.path", "/hello/world");
    has(&t, "url.scheme", "https");
    has(
        &t,
        "server.address",
        "gy415nuibc.execute-api.us-east-1.amazonaws.com",
    );
    has(&t, "client.address", "192.168.196.186");
    has(&t, "user_agent.original", "PostmanRuntime/2.4.5");
    assert!(t.parent.is_none());
}

#[test]
fn http_api_sample_with_and_without_a_usable_trace_header() {
    global_propagators();
    let mut event = event_fixture("example-apigw-v2-request-no-authorizer.json");
    // The sample's X-Amzn-Trace-Id has a Root and no Parent: not a context.
    let t = both::<ApiGatewayV2httpRequest>(&event);
    assert_eq!(t.kind, FaasTrigger::Http);
    has(&t, "http.request.method", "GET");
    has(&t, "url.path", "/");
    has(&t, "client.address", "1.2.3.4");
    assert!(attr(&t, "http.route").is_none(), "$default is no route");
    assert!(t.parent.is_none());
    // A caller that sends W3C trace context.
    event["headers"]["traceparent"] =
        Value::from("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    event["routeKey"] = Value::from("GET /items/{id}");
    let t = both::<ApiGatewayV2httpRequest>(&event);
    has(&t, "http.route", "/items/{id}");
    let sc = t.parent.unwrap().span().span_context().clone();
    assert_eq!(
        sc.trace_id().to_string(),
        "0af7651916cd43dd8448eb211c80319c"
    );
    assert_eq!(sc.span_id().to_string(), "b7ad6b7169203331");
}

#[test]
fn alb_sample_with_an_xray_header() {
    global_propagators();
    let mut event = event_fixture("example-alb-lambda-target-request-headers-only.json");
    let t = both::<AlbTargetGroupRequest>(&event);
    assert_eq!(t.kind, FaasTrigger::Http);
    has(&t, "http.request.method", "GET");
    has(&t, "url.path", "/");
    has(
        &t,
        "server.address",
        "lambda-test-alb-1334523864.us-east-1.elb.amazonaws.com",
    );
    has(&t, "user_agent.original", "curl/7.54.0");
    assert!(t.parent.is_none(), "the sample's header has no Parent");
    event["headers"]["x-amzn-trace-id"] = Value::from(HEADER_A);
    let t = both::<AlbTargetGroupRequest>(&event);
    let sc = t.parent.unwrap().span().span_context().clone();
    assert_eq!(sc.trace_id().to_string(), trace_id_of(HEADER_A));
}

#[test]
fn function_url_sample() {
    global_propagators();
    let t = both::<LambdaFunctionUrlRequest>(&event_fixture("function-url-request.json"));
    assert_eq!(t.kind, FaasTrigger::Http);
    has(&t, "http.request.method", "POST");
    has(&t, "url.path", "/my/path");
    has(&t, "client.address", "123.123.123.123");
    has(&t, "user_agent.original", "agent");
    has(
        &t,
        "server.address",
        "abcdefghijklmnopqrstuvwxyz123456.lambda-url.us-west-2.on.aws",
    );
}

#[test]
fn partial_batch_response_sample() {
    let sample = event_fixture("example-sqs-batch-response.json");
    let typed = serde_json::from_value::<SqsBatchResponse>(sample.clone())
        .unwrap()
        .outcome();
    let untyped = sample.outcome();
    for o in [&typed, &untyped] {
        assert_eq!(o.failed_items, ["id2", "id4"]);
        assert_eq!(o.attributes[0].key.as_str(), BATCH_ITEM_FAILURES);
        assert_eq!(o.attributes[0].value.to_string(), "2");
        assert!(!o.server_error);
    }
    let http = serde_json::json!({"statusCode": 502}).outcome();
    assert!(http.server_error);
    assert!(
        !serde_json::json!({"statusCode": 404})
            .outcome()
            .server_error,
        "4xx stays unset"
    );
}

#[test]
fn a_direct_invoke_is_other() {
    let t = serde_json::json!({"order": 42}).trigger();
    assert_eq!(t.kind, FaasTrigger::Other);
    assert!(t.attributes.is_empty() && t.parent.is_none());
}
