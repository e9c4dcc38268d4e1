//! Fixtures and the harness shared by the receiver tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use otel_aws_distro::receiver::{
    self, Accepted, Backpressure, ReceiverConfig, RequestMeta, RunningReceivers, TraceSink,
};
use prost::Message;

pub const TRACE_ID: [u8; 16] = [
    0x5b, 0x8e, 0xff, 0xf7, 0x98, 0x03, 0x81, 0x03, 0xd2, 0x69, 0xb6, 0x33, 0x81, 0x3f, 0xc6, 0x0c,
];
pub const SPAN_ID: [u8; 8] = [0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x74];
pub const PARENT_ID: [u8; 8] = [0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x73];

// ---------------------------------------------------------------- fixtures

/// The OTLP spec's example (opentelemetry-proto `examples/trace.json`): uppercase hex ids, 64-bit times as JSON numbers.
pub const SPEC_EXAMPLE_JSON: &str = r#"{
  "resourceSpans": [
    {
      "resource": {
        "attributes": [
          { "key": "service.name", "value": { "stringValue": "my.service" } }
        ]
      },
      "scopeSpans": [
        {
          "scope": {
            "name": "my.library",
            "version": "1.0.0",
            "attributes": [
              { "key": "my.scope.attribute", "value": { "stringValue": "some scope attribute" } }
            ]
          },
          "spans": [
            {
              "traceId": "5B8EFFF798038103D269B633813FC60C",
              "spanId": "EEE19B7EC3C1B174",
              "parentSpanId": "EEE19B7EC3C1B173",
              "name": "I'm a server span",
              "startTimeUnixNano": 1544712660000000000,
              "endTimeUnixNano": 1544712661000000000,
              "kind": 2,
              "attributes": [
                { "key": "my.span.attr", "value": { "stringValue": "some value" } }
              ]
            }
          ]
        }
      ]
    }
  ]
}"#;

/// Shaped like OpenTelemetry JS's `JsonTraceSerializer` output: lowercase hex,
/// times as decimal strings, `intValue` as a JSON number, every count
/// present, `flags`, empty arrays, no `parentSpanId` on the root span.
pub const NODE_SDK_JSON: &str = r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"checkout"}},{"key":"telemetry.sdk.language","value":{"stringValue":"nodejs"}},{"key":"telemetry.sdk.name","value":{"stringValue":"opentelemetry"}},{"key":"telemetry.sdk.version","value":{"stringValue":"2.0.1"}}],"droppedAttributesCount":0},"scopeSpans":[{"scope":{"name":"@opentelemetry/instrumentation-http","version":"0.200.0"},"spans":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b173","name":"GET /orders","kind":2,"startTimeUnixNano":"1718000000123456789","endTimeUnixNano":"1718000000223456789","attributes":[{"key":"http.response.status_code","value":{"intValue":200}},{"key":"ratio","value":{"doubleValue":1.5}},{"key":"cached","value":{"boolValue":false}},{"key":"tags","value":{"arrayValue":{"values":[{"stringValue":"a"},{"stringValue":"b"}]}}}],"droppedAttributesCount":0,"events":[],"droppedEventsCount":0,"status":{"code":0},"links":[],"droppedLinksCount":0,"flags":257},{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","parentSpanId":"eee19b7ec3c1b173","name":"SELECT orders","kind":3,"startTimeUnixNano":"1718000000130000000","endTimeUnixNano":"1718000000200000000","attributes":[],"droppedAttributesCount":0,"events":[{"attributes":[{"key":"exception.message","value":{"stringValue":"boom"}}],"name":"exception","timeUnixNano":"1718000000199000000","droppedAttributesCount":0}],"droppedEventsCount":0,"status":{"code":2,"message":"boom"},"links":[{"attributes":[],"spanId":"0102030405060708","traceId":"0102030405060708090a0b0c0d0e0f10","droppedAttributesCount":0,"flags":257}],"droppedLinksCount":0,"flags":257}]}]}]}"#;

/// Shaped like Python's `google.protobuf.json_format.MessageToJson` of an
/// OTLP request (the protobuf JSON mapping): base64 ids, enum names, int64
/// as strings. Ids computed with Python's `base64.b64encode(bytes.fromhex(..))`.
pub const PROTOBUF_JSON_MAPPING: &str = r#"{
  "resourceSpans": [{
    "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "py-worker"}}]},
    "scopeSpans": [{
      "scope": {"name": "opentelemetry.instrumentation.psycopg"},
      "spans": [{
        "traceId": "W47/95gDgQPSabYzgT/GDA==",
        "spanId": "7uGbfsPBsXQ=",
        "name": "SELECT",
        "kind": "SPAN_KIND_CLIENT",
        "startTimeUnixNano": "1544712660000000000",
        "endTimeUnixNano": "1544712661000000000",
        "attributes": [{"key": "db.rows", "value": {"intValue": "42"}}],
        "status": {"code": "STATUS_CODE_ERROR", "message": "timeout"}
      }]
    }]
  }]
}"#;

/// With `preserving_proto_field_name=True` (snake_case) and explicit nulls.
pub const SNAKE_CASE_JSON: &str = r#"{"resource_spans":[{"resource":null,"scope_spans":[{"spans":[{"trace_id":"5b8efff798038103d269b633813fc60c","span_id":"eee19b7ec3c1b174","parent_span_id":null,"name":"snake","kind":1,"start_time_unix_nano":"1","end_time_unix_nano":"2","dropped_attributes_count":null}]}]}]}"#;

pub fn kv(key: &str, v: Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(v) }),
        ..Default::default()
    }
}

pub fn span(name: &str, trace_id: &[u8], span_id: &[u8]) -> Span {
    Span {
        trace_id: trace_id.to_vec(),
        span_id: span_id.to_vec(),
        parent_span_id: PARENT_ID.to_vec(),
        name: name.into(),
        kind: 2,
        start_time_unix_nano: 1_544_712_660_000_000_000,
        end_time_unix_nano: 1_544_712_661_000_000_000,
        attributes: vec![kv("http.route", Value::StringValue("/orders".into()))],
        ..Default::default()
    }
}

pub fn request(spans: Vec<Span>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(opentelemetry_proto::tonic::resource::v1::Resource {
                attributes: vec![kv("service.name", Value::StringValue("svc".into()))],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

pub fn one_span() -> ExportTraceServiceRequest {
    request(vec![span("op", &TRACE_ID, &SPAN_ID)])
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

pub async fn json_body(resp: reqwest::Response) -> serde_json::Value {
    serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap()
}

pub fn spans_of(req: &ExportTraceServiceRequest) -> Vec<&Span> {
    req.resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .flat_map(|s| &s.spans)
        .collect()
}

/// `google.rpc.Status` / `RetryInfo` / `Duration` as the test reads them (from the googleapis protos).
#[derive(Clone, PartialEq, Message)]
pub struct RpcStatus {
    #[prost(int32, tag = "1")]
    pub code: i32,
    #[prost(string, tag = "2")]
    pub message: String,
    #[prost(message, repeated, tag = "3")]
    pub details: Vec<ProtoAny>,
}
#[derive(Clone, PartialEq, Message)]
pub struct ProtoAny {
    #[prost(string, tag = "1")]
    pub type_url: String,
    #[prost(bytes = "vec", tag = "2")]
    pub value: Vec<u8>,
}
#[derive(Clone, PartialEq, Message)]
pub struct RetryInfo {
    #[prost(message, optional, tag = "1")]
    pub retry_delay: Option<ProtoDuration>,
}
#[derive(Clone, PartialEq, Message)]
pub struct ProtoDuration {
    #[prost(int64, tag = "1")]
    pub seconds: i64,
    #[prost(int32, tag = "2")]
    pub nanos: i32,
}

// ---------------------------------------------------------------- harness

#[derive(Default)]
pub struct RecordingSink {
    pub batches: Mutex<Vec<(ExportTraceServiceRequest, RequestMeta)>>,
    pub push_back: AtomicBool,
}

impl TraceSink for RecordingSink {
    fn accept(
        &self,
        batch: ExportTraceServiceRequest,
        meta: RequestMeta,
    ) -> Result<Accepted, Backpressure> {
        if self.push_back.load(Ordering::SeqCst) {
            return Err(Backpressure::new("queue full", Duration::from_millis(2500)));
        }
        self.batches.lock().unwrap().push((batch, meta));
        Ok(Accepted::all())
    }
}

impl RecordingSink {
    pub fn take(&self) -> Vec<(ExportTraceServiceRequest, RequestMeta)> {
        std::mem::take(&mut *self.batches.lock().unwrap())
    }
}

pub fn localhost0() -> Option<SocketAddr> {
    Some("127.0.0.1:0".parse().unwrap())
}

pub struct Harness {
    pub sink: Arc<RecordingSink>,
    pub running: RunningReceivers,
    pub http: reqwest::Client,
}

impl Harness {
    pub async fn start() -> Self {
        Self::with_config(ReceiverConfig {
            http_addr: localhost0(),
            grpc_addr: localhost0(),
            ..Default::default()
        })
        .await
    }

    pub async fn with_config(cfg: ReceiverConfig) -> Self {
        let sink = Arc::new(RecordingSink::default());
        let running = receiver::serve(cfg, sink.clone(), std::future::pending())
            .await
            .unwrap();
        Self {
            sink,
            running,
            http: reqwest::Client::new(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.running.http_addr().unwrap())
    }

    pub async fn post(
        &self,
        ctype: &str,
        encoding: Option<&str>,
        body: Vec<u8>,
    ) -> reqwest::Response {
        let mut req = self
            .http
            .post(self.url("/v1/traces"))
            .header("content-type", ctype)
            .body(body);
        if let Some(e) = encoding {
            req = req.header("content-encoding", e);
        }
        req.send().await.unwrap()
    }

    pub async fn post_ok_protobuf(&self) {
        let resp = self
            .post("application/x-protobuf", None, one_span().encode_to_vec())
            .await;
        assert_eq!(resp.status(), 200);
        let body = resp.bytes().await.unwrap();
        let decoded = ExportTraceServiceResponse::decode(body).unwrap();
        assert_eq!(decoded.partial_success, None);
    }

    pub async fn grpc(&self) -> TraceServiceClient<tonic::transport::Channel> {
        let url = format!("http://{}", self.running.grpc_addr().unwrap());
        TraceServiceClient::connect(url).await.unwrap()
    }

    /// A raw gRPC call over h2c: 5-byte frame prefix + `payload`; returns (grpc-status, grpc-message).
    pub async fn raw_grpc(&self, path: &str, compressed: bool, payload: &[u8]) -> (String, String) {
        let client = reqwest::Client::builder()
            .http2_prior_knowledge()
            .build()
            .unwrap();
        let mut frame = vec![u8::from(compressed)];
        frame.extend_from_slice(&u32::try_from(payload.len()).unwrap().to_be_bytes());
        frame.extend_from_slice(payload);
        let mut req = client
            .post(format!(
                "http://{}{path}",
                self.running.grpc_addr().unwrap()
            ))
            .header("content-type", "application/grpc")
            .header("te", "trailers")
            .body(frame);
        if compressed {
            req = req.header("grpc-encoding", "gzip");
        }
        let resp = req.send().await.unwrap();
        let h = |name: &str| {
            resp.headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default()
        };
        (h("grpc-status"), h("grpc-message"))
    }
}
