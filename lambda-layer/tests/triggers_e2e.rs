//! Lambda triggers through the real wrapper (`run_traced_with` in
//! `otel-aws-trigger-test-function`) and the extension, in the Lambda
//! simulator: SQS batches (links, a batch of one parented on its
//! `AWSTraceHeader`, partial batch failures) and a Function URL request
//! (parent from `traceparent`, a 503 answer is an error), checked on the
//! spans the SigV4-verifying OTLP fake receives.
#![cfg(feature = "triggers")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use opentelemetry_proto::tonic::common::v1::{KeyValue, any_value::Value as Av};
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use otel_aws_testkit::lambda_sim::{InvokeSpec, Simulator};
use otel_aws_testkit::otlp::{FakeOtlpEndpoint, OtlpEndpointOptions};
use serde_json::Value;

mod common;
use common::{LayerDir, assert_all_succeeded, event_fixture, sqs_event_with_trace_headers};

const HEADER_A: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
const HEADER_B: &str = "Root=1-67891233-abcdef012345678912345678;Parent=463ac35c9f6413ad;Sampled=1";
/// The runtime's `Lambda-Runtime-Trace-Id` for every invoke.
const RUNTIME: &str = "Root=1-6752a1b0-0123456789abcdef01234567;Parent=1111111111111111;Sampled=1";

fn invoke(event: &Value) -> InvokeSpec {
    let mut spec = InvokeSpec::json(event);
    spec.trace_header = Some(RUNTIME.to_owned());
    spec
}

fn attr<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a Av> {
    attrs
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| v.value.as_ref())
}

fn str_attr<'a>(span: &'a Span, key: &str) -> Option<&'a str> {
    match attr(&span.attributes, key) {
        Some(Av::StringValue(s)) => Some(s),
        _ => None,
    }
}

fn trace_hex(header: &str) -> String {
    header
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("Root=1-")
        .replace('-', "")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn triggers_through_the_wrapper_and_extension() {
    let fake = FakeOtlpEndpoint::start(OtlpEndpointOptions::xray_traces("us-east-1"))
        .await
        .unwrap();
    let layer = LayerDir::new("triggers-e2e");
    let mut url = event_fixture("function-url-request.json");
    url["rawPath"] = Value::from("/fail");
    url["headers"]["traceparent"] =
        Value::from("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    let mut cfg = layer
        .sim_config([env!("CARGO_BIN_EXE_otel-aws-trigger-test-function")])
        .with_env("OTEL_AWS_LAMBDA_EXPORTER_ENDPOINT", fake.traces_url())
        .with_env("OTEL_AWS_SIGV4", "true")
        .with_env("OTEL_AWS_LAMBDA_FLUSH", "end");
    cfg.invokes = vec![
        invoke(&sqs_event_with_trace_headers(&[HEADER_A, HEADER_B])),
        invoke(&sqs_event_with_trace_headers(&[HEADER_A])),
        invoke(&url),
    ];
    let report = Simulator::run(cfg).await.unwrap();
    assert_all_succeeded(&report, 3);

    let spans: Vec<Span> = fake
        .received()
        .into_iter()
        .flat_map(|r| r.resource_spans)
        .flat_map(|rs| rs.scope_spans)
        .flat_map(|ss| ss.spans)
        .filter(|s| str_attr(s, "faas.trigger").is_some())
        .collect();
    assert_eq!(spans.len(), 3, "one invoke span per invoke");
    let count = |s: &Span| match attr(&s.attributes, "messaging.batch.message_count") {
        Some(Av::IntValue(n)) => *n,
        _ => 0,
    };

    // SQS batch of two: parent = the runtime's header, links = the messages,
    // the last message reported failed.
    let batch = spans.iter().find(|s| count(s) == 2).expect("batch span");
    assert_eq!(str_attr(batch, "faas.trigger"), Some("pubsub"));
    assert_eq!(str_attr(batch, "messaging.system"), Some("aws_sqs"));
    assert_eq!(hex::encode(&batch.trace_id), trace_hex(RUNTIME));
    assert_eq!(hex::encode(&batch.parent_span_id), "1111111111111111");
    let linked: Vec<(String, String)> = batch
        .links
        .iter()
        .map(|l| (hex::encode(&l.trace_id), hex::encode(&l.span_id)))
        .collect();
    assert_eq!(
        linked,
        [
            (trace_hex(HEADER_A), "53995c3f42cd8ad8".to_owned()),
            (trace_hex(HEADER_B), "463ac35c9f6413ad".to_owned())
        ]
    );
    assert!(matches!(
        attr(&batch.attributes, "aws.lambda.batch_item_failures"),
        Some(Av::IntValue(1))
    ));
    let failed = batch
        .events
        .iter()
        .find(|e| e.name == "aws.lambda.batch_item_failure")
        .expect("failure event");
    assert!(matches!(
        attr(&failed.attributes, "messaging.message.id"),
        Some(Av::StringValue(id)) if id == "m-1"
    ));

    // SQS batch of one: the message's trace continues.
    let one = spans
        .iter()
        .find(|s| count(s) == 1)
        .expect("single-message span");
    assert_eq!(hex::encode(&one.trace_id), trace_hex(HEADER_A));
    assert_eq!(hex::encode(&one.parent_span_id), "53995c3f42cd8ad8");
    assert_eq!(str_attr(one, "messaging.message.id"), Some("m-0"));
    assert!(one.links.is_empty());

    // Function URL: parent from the request's traceparent; 503 is an error.
    let http = spans
        .iter()
        .find(|s| str_attr(s, "faas.trigger") == Some("http"))
        .expect("http span");
    assert_eq!(
        hex::encode(&http.trace_id),
        "0af7651916cd43dd8448eb211c80319c"
    );
    assert_eq!(hex::encode(&http.parent_span_id), "b7ad6b7169203331");
    assert_eq!(str_attr(http, "http.request.method"), Some("POST"));
    assert_eq!(str_attr(http, "url.path"), Some("/fail"));
    assert!(matches!(
        attr(&http.attributes, "http.response.status_code"),
        Some(Av::IntValue(503))
    ));
    assert_eq!(
        http.status.as_ref().map(|s| s.code),
        Some(StatusCode::Error as i32)
    );
    assert!(fake.rejected().is_empty());
}
