//! End-to-end against moto's server, an independent implementation of the
//! X-Ray API (PutTraceSegments, BatchGetTraces) that verifies SigV4 with
//! botocore once `INITIAL_NO_AUTH_ACTION_COUNT` unauthenticated calls are
//! used up. The first three calls create an IAM user, allow it `xray:*` and
//! make it an access key; the exporter then signs with that key.
//!
//! Needs `moto[server,xray]` in `.tools/venv` (`make test-deps`), or a
//! Python with moto in `OTEL_AWS_TEST_PYTHON`. Missing moto fails the test
//! with that instruction; it never skips silently.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use aws_sdk_xray::config::{BehaviorVersion, Credentials as SdkCredentials, Region};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use otel_aws_distro::export::{AwsXrayConfig, AwsXrayExporter, BatchExporter, ExportError};
use otel_aws_distro::translate::from_segment;
use otel_aws_testkit::moto::Moto;

fn start_moto(no_auth_actions: u32) -> Moto {
    Moto::start(
        "xray_moto",
        &[("INITIAL_NO_AUTH_ACTION_COUNT", &no_auth_actions.to_string())],
    )
}

trait CreateUserKey {
    fn create_user_key(&self) -> (String, String);
}

impl CreateUserKey for Moto {
    /// Creates an IAM user allowed `xray:*` and an access key for it (three
    /// unauthenticated calls, made with boto3 from the same interpreter).
    fn create_user_key(&self) -> (String, String) {
        let script = r#"
import json, sys, boto3
iam = boto3.client("iam", endpoint_url=sys.argv[1], region_name="us-east-1",
                   aws_access_key_id="setup", aws_secret_access_key="setup")
iam.create_user(UserName="otel-aws-e2e")
iam.put_user_policy(UserName="otel-aws-e2e", PolicyName="xray", PolicyDocument=json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "xray:*", "Resource": "*"}]}))
key = iam.create_access_key(UserName="otel-aws-e2e")["AccessKey"]
print(key["AccessKeyId"] + " " + key["SecretAccessKey"])
"#;
        let out = Command::new(self.python())
            .args(["-c", script, &self.url])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "IAM setup failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        let (id, secret) = text.trim().split_once(' ').unwrap();
        (id.to_owned(), secret.to_owned())
    }
}

fn client(url: &str, id: &str, secret: &str) -> aws_sdk_xray::Client {
    let conf = aws_sdk_xray::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(url)
        .credentials_provider(SdkCredentials::new(id, secret, None, None, "moto"))
        .build();
    aws_sdk_xray::Client::from_conf(conf)
}

fn str_kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v.into())),
        }),
        ..Default::default()
    }
}

/// One trace: a SERVER span and `children` CLIENT spans under it.
fn trace(children: u64) -> (ExportTraceServiceRequest, String) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    let mut trace_id = (now.as_secs() as u32).to_be_bytes().to_vec();
    trace_id.extend(rand_bytes());
    let hex_id = hex::encode(&trace_id);
    let xray_id = format!("1-{}-{}", &hex_id[..8], &hex_id[8..]);
    let start = now.as_nanos() as u64 - 2_000_000_000;
    let span = |i: u64| Span {
        trace_id: trace_id.clone(),
        span_id: (0x1000 + i).to_be_bytes().to_vec(),
        parent_span_id: if i == 0 {
            vec![]
        } else {
            0x1000u64.to_be_bytes().to_vec()
        },
        name: format!("GET /items/{i}"),
        kind: if i == 0 {
            SpanKind::Server
        } else {
            SpanKind::Client
        } as i32,
        start_time_unix_nano: start + i * 1000,
        end_time_unix_nano: start + 1_000_000_000,
        attributes: vec![
            str_kv("http.request.method", "GET"),
            str_kv("url.full", &format!("https://items.example/{i}")),
        ],
        ..Default::default()
    };
    let req = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![str_kv("service.name", "moto-e2e")],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans: (0..=children).map(span).collect(),
                ..Default::default()
            }],
            schema_url: String::new(),
        }],
    };
    (req, xray_id)
}

fn rand_bytes() -> [u8; 12] {
    rand::random()
}

#[tokio::test(flavor = "multi_thread")]
async fn moto_accepts_signed_segments_and_returns_them() {
    let moto = start_moto(3);
    let (id, secret) = moto.create_user_key();
    let client = client(&moto.url, &id, &secret);
    let exporter = AwsXrayExporter::new(client.clone(), AwsXrayConfig::default()).unwrap();
    let (req, xray_id) = trace(59);
    let outcome = exporter.export(req).await.unwrap();
    assert_eq!(outcome.spans_exported, 60);
    assert_eq!(
        outcome.requests, 2,
        "60 documents go in calls of at most 50"
    );

    let got = client
        .batch_get_traces()
        .trace_ids(&xray_id)
        .send()
        .await
        .unwrap();
    assert!(got.unprocessed_trace_ids().is_empty());
    let traces = got.traces();
    assert_eq!(traces.len(), 1);
    assert_eq!(traces[0].id(), Some(xray_id.as_str()));
    let segments = traces[0].segments();
    assert_eq!(segments.len(), 60);
    let mut ids = Vec::new();
    for seg in segments {
        let spans = from_segment(seg.document().unwrap()).unwrap();
        let span = &spans.resource_spans[0].scope_spans[0].spans[0];
        assert_eq!(hex::encode(&span.span_id), seg.id().unwrap());
        assert!(span.name.starts_with("GET /items/"), "{}", span.name);
        ids.push(seg.id().unwrap().to_owned());
    }
    ids.sort();
    assert_eq!(ids[0], "0000000000001000");
}

#[tokio::test(flavor = "multi_thread")]
async fn moto_refuses_a_wrong_secret() {
    let moto = start_moto(3);
    let (id, secret) = moto.create_user_key();
    let exporter = AwsXrayExporter::new(
        client(&moto.url, &id, "wrong-secret"),
        AwsXrayConfig::default(),
    )
    .unwrap();
    let (req, xray_id) = trace(2);
    let err = exporter.export(req).await.unwrap_err();
    match &err {
        ExportError::Rejected { status, message } => {
            assert_eq!(*status, 403, "{message}");
            assert!(message.contains("Signature"), "{message}");
        }
        other => panic!("expected a 403 rejection, got {other:?}"),
    }
    assert_eq!(exporter.stats().snapshot().spans_dropped, 3);
    // Nothing was stored: the right key reads back no trace.
    let got = client(&moto.url, &id, &secret)
        .batch_get_traces()
        .trace_ids(&xray_id)
        .send()
        .await
        .unwrap();
    assert!(got.traces().is_empty());
    assert_eq!(got.unprocessed_trace_ids(), std::slice::from_ref(&xray_id));
}
