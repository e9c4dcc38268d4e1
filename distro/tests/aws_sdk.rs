//! The AWS SDK instrumentation with the real `aws-sdk-dynamodb`,
//! `aws-sdk-sqs` and `aws-sdk-s3` clients: against a testkit endpoint that
//! records what it receives (the trace header, its place outside the SigV4
//! signature, SQS `AWSTraceHeader`, retries, error codes) and against moto's
//! server (an independent implementation of the services). Expectations
//! come from the AWS SDK semantic conventions, the X-Ray header format
//! (`Root=1-<8 hex>-<24 hex>;Parent=<16 hex>;Sampled=1`) and the SQS API.
#![cfg(feature = "aws-sdk")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, KeySchemaElement, KeyType, ProvisionedThroughput,
    ReturnConsumedCapacity, ScalarAttributeType,
};
use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::any;
use opentelemetry::context::FutureExt as _;
use opentelemetry::trace::{
    SpanId, SpanKind, Status, TraceContextExt, Tracer, TracerProvider as _,
};
use opentelemetry::{Array, Context, Value};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use otel_aws_distro::aws_sdk::AwsSdkInstrumentation;
use otel_aws_distro::export::ProtoSpanExporter;
use otel_aws_distro::translate::{TranslateOptions, to_segment_documents};
use otel_aws_testkit::moto::Moto;
use otel_aws_testkit::server::{RecordedRequest, RequestLog, RunningServer};

const REGION: &str = "us-east-1";

fn provider() -> (SdkTracerProvider, InMemorySpanExporter) {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    (provider, exporter)
}

fn creds() -> aws_sdk_dynamodb::config::Credentials {
    aws_sdk_dynamodb::config::Credentials::new("AKIDEXAMPLE", "secret", None, None, "test")
}

fn dynamodb(endpoint: &str, instr: Option<AwsSdkInstrumentation>) -> aws_sdk_dynamodb::Client {
    let mut b = aws_sdk_dynamodb::Config::builder()
        .behavior_version_latest()
        .region(aws_sdk_dynamodb::config::Region::new(REGION))
        .credentials_provider(creds())
        .endpoint_url(endpoint)
        .retry_config(
            aws_sdk_dynamodb::config::retry::RetryConfig::standard()
                .with_initial_backoff(Duration::from_millis(1)),
        );
    if let Some(i) = instr {
        b = b.interceptor(i);
    }
    aws_sdk_dynamodb::Client::from_conf(b.build())
}

fn sqs(endpoint: &str, instr: Option<AwsSdkInstrumentation>) -> aws_sdk_sqs::Client {
    let mut b = aws_sdk_sqs::Config::builder()
        .behavior_version_latest()
        .region(aws_sdk_sqs::config::Region::new(REGION))
        .credentials_provider(creds())
        .endpoint_url(endpoint);
    if let Some(i) = instr {
        b = b.interceptor(i);
    }
    aws_sdk_sqs::Client::from_conf(b.build())
}

fn s3(endpoint: &str, instr: Option<AwsSdkInstrumentation>) -> aws_sdk_s3::Client {
    let mut b = aws_sdk_s3::Config::builder()
        .behavior_version_latest()
        .region(aws_sdk_s3::config::Region::new(REGION))
        .credentials_provider(creds())
        .endpoint_url(endpoint)
        .force_path_style(true);
    if let Some(i) = instr {
        b = b.interceptor(i);
    }
    aws_sdk_s3::Client::from_conf(b.build())
}

fn attr<'a>(span: &'a SpanData, key: &str) -> Option<&'a Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| &kv.value)
}

fn attr_str(span: &SpanData, key: &str) -> String {
    attr(span, key)
        .unwrap_or_else(|| panic!("{} has no {key}: {:?}", span.name, span.attributes))
        .to_string()
}

fn only_span(exporter: &InMemorySpanExporter, name: &str) -> SpanData {
    let spans: Vec<SpanData> = exporter
        .get_finished_spans()
        .unwrap()
        .into_iter()
        .filter(|s| s.name == name)
        .collect();
    assert_eq!(spans.len(), 1, "spans named {name}");
    spans.into_iter().next().unwrap()
}

/// The X-Ray header for a span, built from the format in the X-Ray docs.
fn xray_header(span: &SpanData) -> String {
    let t = span.span_context.trace_id().to_string();
    format!(
        "Root=1-{}-{};Parent={};Sampled=1",
        &t[..8],
        &t[8..],
        span.span_context.span_id()
    )
}

/// A parent span made current for `fut`.
async fn under_parent<F: Future>(provider: &SdkTracerProvider, fut: F) -> (F::Output, SpanId) {
    let tracer = provider.tracer("test");
    let parent = tracer.start("handler");
    let cx = Context::current_with_span(parent);
    let id = cx.span().span_context().span_id();
    let out = fut.with_context(cx.clone()).await;
    cx.span().end();
    (out, id)
}

/// A fake DynamoDB/SQS JSON endpoint that records every request: answers by
/// `X-Amz-Target`; DynamoDB `GetItem` fails with 500 `fail_first` times,
/// `DescribeTable` always answers 400 ResourceNotFoundException.
async fn recording_endpoint(log: RequestLog, fail_first: usize) -> RunningServer {
    let failures = Arc::new(AtomicUsize::new(fail_first));
    let router = Router::new().fallback(any(
        move |method: axum::http::Method, uri: axum::http::Uri, headers: HeaderMap, body: Bytes| {
            let log = log.clone();
            let failures = failures.clone();
            async move {
                let target = headers
                    .get("x-amz-target")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                let s3 = uri.path().starts_with("/photos");
                log.push(RecordedRequest::new(method, &uri, headers, body));
                if s3 {
                    // S3 names its request ids x-amz-request-id / x-amz-id-2.
                    return (
                        StatusCode::OK,
                        [
                            ("x-amz-request-id", "4442587FB7D0A2F9"),
                            ("x-amz-id-2", "vlR7PnpV2Ce81l0PRw6jlUpck7Jo5ZsQjryTjKlc5aLWGVHPZLj5NeC6qMa0emYBDXOo6QBU0Wo="),
                            ("etag", "\"1b2cf535f27731c974343645a3985328\""),
                        ],
                        "",
                    )
                        .into_response();
                }
                let ok = |body: &'static str| {
                    (
                        StatusCode::OK,
                        [
                            ("x-amzn-requestid", "REQ-1"),
                            ("content-type", "application/x-amz-json-1.0"),
                        ],
                        body,
                    )
                        .into_response()
                };
                match target.as_str() {
                    "DynamoDB_20120810.GetItem" => {
                        if failures
                            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                            .is_ok()
                        {
                            return (
                                StatusCode::INTERNAL_SERVER_ERROR,
                                [("content-type", "application/x-amz-json-1.0")],
                                r#"{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"try again"}"#,
                            )
                                .into_response();
                        }
                        ok(
                            r#"{"Item":{"id":{"S":"1"}},"ConsumedCapacity":{"TableName":"carts","CapacityUnits":0.5}}"#,
                        )
                    }
                    "DynamoDB_20120810.DescribeTable" => (
                        StatusCode::BAD_REQUEST,
                        [
                            ("x-amzn-requestid", "REQ-404"),
                            ("content-type", "application/x-amz-json-1.0"),
                        ],
                        r#"{"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException","message":"Requested resource not found"}"#,
                    )
                        .into_response(),
                    "AmazonSQS.SendMessage" => ok(
                        r#"{"MessageId":"5fea7756-0ea4-451a-a703-a558b933e274","MD5OfMessageBody":"x"}"#,
                    ),
                    "AmazonSQS.SendMessageBatch" => ok(
                        r#"{"Successful":[{"Id":"a","MessageId":"m1","MD5OfMessageBody":"x"},{"Id":"b","MessageId":"m2","MD5OfMessageBody":"x"}],"Failed":[]}"#,
                    ),
                    _ => ok("{}"),
                }
            }
        },
    ));
    RunningServer::start(router).await.unwrap()
}

fn header<'a>(req: &'a RecordedRequest, name: &str) -> &'a str {
    req.headers
        .get(name)
        .unwrap_or_else(|| panic!("request has no {name}: {:?}", req.headers))
        .to_str()
        .unwrap()
}

/// `SignedHeaders=a;b;c` of the SigV4 `Authorization` header.
fn signed_headers(req: &RecordedRequest) -> Vec<String> {
    let auth = header(req, "authorization");
    let list = auth
        .split(", ")
        .find_map(|p| p.strip_prefix("SignedHeaders="))
        .unwrap();
    list.split(';').map(str::to_owned).collect()
}

/// An instrumented DynamoDB `GetItem` (consumed capacity asked) against a
/// recording endpoint that fails it `fail_first` times, under a parent
/// span: the provider (dropping it clears the exporter), the spans and the
/// parent's id.
async fn get_item_under_parent(
    log: RequestLog,
    fail_first: usize,
) -> (SdkTracerProvider, InMemorySpanExporter, SpanId) {
    let server = recording_endpoint(log, fail_first).await;
    let (provider, exporter) = provider();
    let client = dynamodb(
        &server.url(),
        Some(AwsSdkInstrumentation::with_tracer_provider(&provider)),
    );
    let (out, parent_id) = under_parent(
        &provider,
        client
            .get_item()
            .table_name("carts")
            .key("id", AttributeValue::S("1".into()))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send(),
    )
    .await;
    out.unwrap();
    (provider, exporter, parent_id)
}

#[tokio::test]
async fn dynamodb_call_is_a_client_span_with_the_trace_header_outside_the_signature() {
    let log = RequestLog::default();
    let (_provider, exporter, parent_id) = get_item_under_parent(log.clone(), 1).await;
    let span = only_span(&exporter, "DynamoDB.GetItem");
    assert_eq!(span.span_kind, SpanKind::Client);
    assert_eq!(span.parent_span_id, parent_id);
    assert_eq!(span.status, Status::Unset);
    assert_eq!(attr_str(&span, "rpc.system"), "aws-api");
    assert_eq!(attr_str(&span, "rpc.service"), "DynamoDB");
    assert_eq!(attr_str(&span, "rpc.method"), "GetItem");
    assert_eq!(attr_str(&span, "cloud.region"), REGION);
    assert_eq!(attr_str(&span, "aws.request_id"), "REQ-1");
    assert_eq!(attr_str(&span, "http.response.status_code"), "200");
    assert_eq!(attr_str(&span, "aws.dynamodb.table_names"), r#"["carts"]"#);
    // A string array of JSON objects (semantic conventions).
    let Some(Value::Array(Array::String(capacity))) = attr(&span, "aws.dynamodb.consumed_capacity")
    else {
        panic!("consumed capacity: {:?}", span.attributes)
    };
    let parsed: serde_json::Value = serde_json::from_str(capacity[0].as_str()).unwrap();
    assert_eq!(parsed["TableName"], "carts");
    assert_eq!(parsed["CapacityUnits"], 0.5);
    // One 500, then success: two attempts, one retry.
    assert_eq!(attr_str(&span, "aws.xray.retries"), "1");
    assert_eq!(attr_str(&span, "http.request.resend_count"), "1");
    let requests = log.all();
    assert_eq!(requests.len(), 2, "two attempts");
    for req in &requests {
        assert_eq!(header(req, "x-amzn-trace-id"), xray_header(&span));
        let signed = signed_headers(req);
        assert!(signed.contains(&"x-amz-target".to_owned()), "{signed:?}");
        assert!(
            !signed.contains(&"x-amzn-trace-id".to_owned()),
            "X-Amzn-Trace-Id must stay out of SignedHeaders: {signed:?}"
        );
    }
}

#[tokio::test]
async fn a_service_error_sets_error_status_type_and_exception_event() {
    let log = RequestLog::default();
    let server = recording_endpoint(log.clone(), 0).await;
    let (provider, exporter) = provider();
    let client = dynamodb(
        &server.url(),
        Some(AwsSdkInstrumentation::with_tracer_provider(&provider)),
    );
    let err = client
        .describe_table()
        .table_name("missing")
        .send()
        .await
        .unwrap_err();
    assert!(
        err.into_service_error().is_resource_not_found_exception(),
        "the SDK saw the modeled error"
    );
    let span = only_span(&exporter, "DynamoDB.DescribeTable");
    assert!(
        matches!(span.status, Status::Error { .. }),
        "{:?}",
        span.status
    );
    assert_eq!(attr_str(&span, "error.type"), "ResourceNotFoundException");
    assert_eq!(attr_str(&span, "http.response.status_code"), "400");
    assert_eq!(attr_str(&span, "aws.request_id"), "REQ-404");
    let event = span
        .events
        .iter()
        .find(|e| e.name == "exception")
        .expect("exception event");
    let ev = |k: &str| {
        event
            .attributes
            .iter()
            .find(|kv| kv.key.as_str() == k)
            .map(|kv| kv.value.to_string())
            .unwrap()
    };
    assert_eq!(ev("exception.type"), "ResourceNotFoundException");
    assert!(
        ev("exception.message").contains("Requested resource not found"),
        "{}",
        ev("exception.message")
    );
}

#[tokio::test]
async fn connection_failure_is_an_error_span_without_status_code() {
    // A port nothing listens on.
    let port = otel_aws_testkit::ports::free_port();
    let (provider, exporter) = provider();
    let client = sqs(
        &format!("http://127.0.0.1:{port}"),
        Some(AwsSdkInstrumentation::with_tracer_provider(&provider)),
    );
    client
        .list_queues()
        .customize()
        .config_override(
            aws_sdk_sqs::config::Config::builder()
                .retry_config(aws_sdk_sqs::config::retry::RetryConfig::disabled()),
        )
        .send()
        .await
        .unwrap_err();
    let span = only_span(&exporter, "SQS.ListQueues");
    assert!(matches!(span.status, Status::Error { .. }));
    assert!(attr(&span, "http.response.status_code").is_none());
    let kind = attr_str(&span, "error.type");
    assert!(
        ["io", "connector", "timeout"].contains(&kind.as_str()),
        "{kind}"
    );
}

#[tokio::test]
async fn sqs_send_carries_the_trace_header_as_the_awstraceheader_system_attribute() {
    let log = RequestLog::default();
    let server = recording_endpoint(log.clone(), 0).await;
    let (provider, exporter) = provider();
    let client = sqs(
        &server.url(),
        Some(AwsSdkInstrumentation::with_tracer_provider(&provider)),
    );
    let queue = format!("{}/123456789012/orders", server.url());
    client
        .send_message()
        .queue_url(&queue)
        .message_body("hello")
        .send()
        .await
        .unwrap();
    client
        .send_message_batch()
        .queue_url(&queue)
        .entries(
            aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                .id("a")
                .message_body("one")
                .build()
                .unwrap(),
        )
        .entries(
            aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                .id("b")
                .message_body("two")
                .message_system_attributes(
                    aws_sdk_sqs::types::MessageSystemAttributeNameForSends::AwsTraceHeader,
                    aws_sdk_sqs::types::MessageSystemAttributeValue::builder()
                        .data_type("String")
                        .string_value("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let send = only_span(&exporter, "SQS.SendMessage");
    assert_eq!(attr_str(&send, "messaging.system"), "aws_sqs");
    assert_eq!(attr_str(&send, "aws.sqs.queue.url"), queue);
    assert_eq!(attr_str(&send, "messaging.destination.name"), "orders");
    assert_eq!(attr_str(&send, "messaging.operation.type"), "send");
    assert_eq!(
        attr_str(&send, "messaging.message.id"),
        "5fea7756-0ea4-451a-a703-a558b933e274"
    );
    let batch = only_span(&exporter, "SQS.SendMessageBatch");
    assert_eq!(attr_str(&batch, "messaging.batch.message_count"), "2");

    let requests = log.all();
    assert_eq!(requests.len(), 2);
    let body: serde_json::Value = serde_json::from_slice(&requests[0].body).unwrap();
    assert_eq!(body["MessageBody"], "hello");
    assert_eq!(
        body["MessageSystemAttributes"]["AWSTraceHeader"],
        serde_json::json!({"DataType": "String", "StringValue": xray_header(&send)})
    );
    assert_eq!(
        header(&requests[0], "content-length"),
        requests[0].body.len().to_string()
    );
    let body: serde_json::Value = serde_json::from_slice(&requests[1].body).unwrap();
    assert_eq!(
        body["Entries"][0]["MessageSystemAttributes"]["AWSTraceHeader"]["StringValue"],
        xray_header(&batch).as_str()
    );
    assert_eq!(
        body["Entries"][1]["MessageSystemAttributes"]["AWSTraceHeader"]["StringValue"],
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
        "a caller's own AWSTraceHeader is kept"
    );
}

#[tokio::test]
async fn an_sdk_span_becomes_an_aws_subsegment_named_as_the_xray_sdk_did() {
    let (_provider, exporter, _) = get_item_under_parent(RequestLog::default(), 0).await;
    let spans = exporter.get_finished_spans().unwrap();
    let request = ProtoSpanExporter::new(Arc::new(otel_aws_distro::export::NoopExporter::new()))
        .to_request(spans);
    let docs = to_segment_documents(&request, &TranslateOptions::default());
    let sub = docs
        .into_iter()
        .map(Result::unwrap)
        .find(|d| d.parent_id.is_some() && d.name == "DynamoDB")
        .expect("a DynamoDB subsegment");
    assert_eq!(sub.namespace.as_deref(), Some("aws"));
    let aws = sub.aws.expect("aws block");
    assert_eq!(aws.operation.as_deref(), Some("GetItem"));
    assert_eq!(aws.table_name.as_deref(), Some("carts"));
    assert_eq!(aws.request_id.as_deref(), Some("REQ-1"));
    assert_eq!(aws.region.as_deref(), Some(REGION));
}

#[tokio::test]
async fn s3_call_names_bucket_key_and_both_request_ids() {
    let log = RequestLog::default();
    let server = recording_endpoint(log.clone(), 0).await;
    let (provider, exporter) = provider();
    let client = s3(
        &server.url(),
        Some(AwsSdkInstrumentation::with_tracer_provider(&provider)),
    );
    client
        .put_object()
        .bucket("photos")
        .key("2026/a cat.jpg")
        .body(aws_sdk_s3::primitives::ByteStream::from_static(b"meow"))
        .send()
        .await
        .unwrap();
    let span = only_span(&exporter, "S3.PutObject");
    assert_eq!(attr_str(&span, "aws.s3.bucket"), "photos");
    assert_eq!(attr_str(&span, "aws.s3.key"), "2026/a cat.jpg");
    assert_eq!(attr_str(&span, "aws.request_id"), "4442587FB7D0A2F9");
    assert_eq!(
        attr_str(&span, "aws.extended_request_id"),
        "vlR7PnpV2Ce81l0PRw6jlUpck7Jo5ZsQjryTjKlc5aLWGVHPZLj5NeC6qMa0emYBDXOo6QBU0Wo="
    );
    let req = &log.all()[0];
    assert_eq!(header(req, "x-amzn-trace-id"), xray_header(&span));
    assert!(!signed_headers(req).contains(&"x-amzn-trace-id".to_owned()));
}

// ---------------------------------------------------------------- moto

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_clients_against_moto() {
    let moto = tokio::task::spawn_blocking(|| Moto::start("aws_sdk moto", None))
        .await
        .unwrap();
    let (provider, exporter) = provider();
    let instr = AwsSdkInstrumentation::with_tracer_provider(&provider);

    // DynamoDB: create, put (consumed capacity), a missing table.
    let ddb = dynamodb(moto.url(), Some(instr.clone()));
    ddb.create_table()
        .table_name("carts")
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("id")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("id")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .provisioned_throughput(
            ProvisionedThroughput::builder()
                .read_capacity_units(1)
                .write_capacity_units(1)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    ddb.put_item()
        .table_name("carts")
        .item("id", AttributeValue::S("c-1".into()))
        .return_consumed_capacity(ReturnConsumedCapacity::Total)
        .send()
        .await
        .unwrap();
    let err = ddb
        .get_item()
        .table_name("no-such-table")
        .key("id", AttributeValue::S("x".into()))
        .send()
        .await
        .unwrap_err();
    assert!(err.into_service_error().is_resource_not_found_exception());

    let put = only_span(&exporter, "DynamoDB.PutItem");
    assert_eq!(attr_str(&put, "aws.dynamodb.table_names"), r#"["carts"]"#);
    assert!(attr_str(&put, "aws.dynamodb.consumed_capacity").contains("carts"));
    assert!(!attr_str(&put, "aws.request_id").is_empty());
    assert_eq!(attr_str(&put, "http.response.status_code"), "200");
    let missing = only_span(&exporter, "DynamoDB.GetItem");
    assert_eq!(
        attr_str(&missing, "error.type"),
        "ResourceNotFoundException"
    );
    assert!(matches!(missing.status, Status::Error { .. }));

    // SQS: the message sent by the instrumented client carries the
    // AWSTraceHeader an uninstrumented receiver reads back.
    let q = sqs(moto.url(), Some(instr.clone()));
    let url = q
        .create_queue()
        .queue_name("orders")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let sent = q
        .send_message()
        .queue_url(&url)
        .message_body("hello")
        .send()
        .await
        .unwrap();
    let plain = sqs(moto.url(), None);
    let got = plain
        .receive_message()
        .queue_url(&url)
        .message_system_attribute_names(
            aws_sdk_sqs::types::MessageSystemAttributeName::AwsTraceHeader,
        )
        .send()
        .await
        .unwrap();
    let msg = &got.messages.unwrap()[0];
    let send = only_span(&exporter, "SQS.SendMessage");
    assert_eq!(
        msg.attributes.as_ref().unwrap()
            [&aws_sdk_sqs::types::MessageSystemAttributeName::AwsTraceHeader],
        xray_header(&send)
    );
    assert_eq!(attr_str(&send, "aws.sqs.queue.url"), url);
    assert_eq!(
        attr_str(&send, "messaging.message.id"),
        sent.message_id.unwrap()
    );

    // S3: bucket and key, the S3 request ids.
    let s = s3(moto.url(), Some(instr));
    s.create_bucket().bucket("photos").send().await.unwrap();
    s.put_object()
        .bucket("photos")
        .key("2026/cat.jpg")
        .body(aws_sdk_s3::primitives::ByteStream::from_static(b"meow"))
        .send()
        .await
        .unwrap();
    let put = only_span(&exporter, "S3.PutObject");
    assert_eq!(attr_str(&put, "aws.s3.bucket"), "photos");
    assert_eq!(attr_str(&put, "aws.s3.key"), "2026/cat.jpg");
    assert!(!attr_str(&put, "aws.request_id").is_empty());

    // Every span is an rpc.system=aws-api CLIENT span.
    for span in exporter.get_finished_spans().unwrap() {
        assert_eq!(span.span_kind, SpanKind::Client, "{}", span.name);
        assert_eq!(attr_str(&span, "rpc.system"), "aws-api");
    }
}
