//! End to end, the segment path: OTLP spans and legacy UDP documents in,
//! `PutTraceSegments` out to the testkit's SigV4-verifying fake X-Ray API
//! (config in the style of `config/xray-segments.yaml`).
//!
//! Expected documents follow `spec/xray.md` ("OTel span → segment
//! translation", "Segment documents"); legacy documents must come out as
//! the SDK sent them, byte for byte.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use otel_aws_testkit::otlp::{FakeOtlpEndpoint, OtlpEndpointOptions};
use otel_aws_testkit::xray_api::{FakeXrayApi, XrayApiOptions};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(20);
const HEADER: &str = "{\"format\":\"json\",\"version\":1}\n";

/// `exporter_lines` go under `exporters:`; `exporters` is the pipeline's list.
fn config(exporter_lines: &str, exporters: &str) -> String {
    format!(
        "
extensions:
  sigv4auth:
    region: us-east-1
    service: xray
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:0
  awsxray:
    endpoint: 127.0.0.1:0
    proxy_server:
      endpoint: ''
processors:
  batch:
    timeout: 50ms
    send_batch_size: 50
exporters:
{exporter_lines}
service:
  extensions: [sigv4auth]
  pipelines:
    traces:
      receivers: [otlp, awsxray]
      processors: [batch]
      exporters: [{exporters}]
"
    )
}

/// The `TraceSegmentDocuments` strings of every PutTraceSegments call, as sent.
fn sent_documents(xray: &FakeXrayApi) -> Vec<String> {
    xray.requests()
        .iter()
        .filter(|r| r.path_and_query == "/TraceSegments")
        .flat_map(|r| {
            let body: Value = serde_json::from_slice(&r.body).unwrap();
            body["TraceSegmentDocuments"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d.as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        })
        .collect()
}

async fn wait_for_documents(xray: &FakeXrayApi, n: usize) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + WAIT;
    while xray.segments().len() < n && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let got = xray.segments();
    assert!(
        got.len() >= n,
        "got {} documents, want {n}; rejected {:?}",
        got.len(),
        xray.rejected()
    );
    got
}

fn int_kv(k: &str, v: i64) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::IntValue(v)),
        }),
        ..KeyValue::default()
    }
}

fn now_secs() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

fn legacy_documents(now: f64) -> (String, String, String) {
    let trace = format!("1-{:08x}-a006649127e371903a2de979", now as u32);
    // Field order, spacing and number formats as a legacy SDK might write them.
    let segment = format!(
        r#"{{"trace_id":"{trace}","id":"70de5b6f19ff9a0a","name":"legacy-svc","start_time":{:.3},"end_time":{:.3},"annotations":{{"customer":"c-42","tier":2}},"metadata":{{"default":{{"cart":{{"items":3}}}}}},"subsegments":[{{"name":"dynamodb","id":"1be1e1ad2f3f5b1c","start_time":{:.3},"end_time":{:.3},"namespace":"aws"}}]}}"#,
        now - 0.2,
        now,
        now - 0.1,
        now - 0.05
    );
    let in_progress = format!(
        r#"{{"name":"legacy-svc","id":"5a6b7c8d9e0f1a2b","trace_id":"{trace}","start_time":{:.3},"in_progress":true}}"#,
        now - 0.01
    );
    (trace, segment, in_progress)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otlp_spans_become_signed_put_trace_segments_documents() {
    let xray = FakeXrayApi::start(XrayApiOptions::signed("us-east-1"))
        .await
        .unwrap();
    let exporter = format!(
        "  awsxray:\n    region: us-east-1\n    endpoint: {}\n    indexed_attributes: [customer.id]\n",
        xray.url()
    );
    let sidecar = start(&config(&exporter, "awsxray"), test_env(&[])).await;
    let http = sidecar.receiver_addrs("otlp").unwrap().http.unwrap();

    // A SERVER root span and a CLIENT child; 60 more spans force two calls (≤ 50 documents each).
    let mut req = spans(62, 9);
    let ss = &mut req.resource_spans[0].scope_spans[0];
    ss.spans[0].attributes.extend([
        kv("customer.id", "c-7"),
        int_kv("http.response.status_code", 503),
    ]);
    ss.spans[1].kind = 3; // CLIENT
    ss.spans[1].parent_span_id = ss.spans[0].span_id.clone();
    ss.spans[1].attributes.push(kv("peer.service", "payments"));
    let resp = post_otlp(&format!("http://{http}/v1/traces"), &req).await;
    assert_eq!(resp.status(), 200);

    let docs = wait_for_documents(&xray, 62).await;
    assert!(xray.rejected().is_empty(), "{:?}", xray.rejected());
    let calls = xray
        .requests()
        .iter()
        .filter(|r| r.path_and_query == "/TraceSegments")
        .count();
    assert!(
        calls >= 2,
        "62 documents need at least two calls, got {calls}"
    );

    let span0 = &req.resource_spans[0].scope_spans[0].spans[0];
    let hexs = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let trace = hexs(&span0.trace_id);
    let want_trace = format!("1-{}-{}", &trace[..8], &trace[8..]);
    let root_id = hexs(&span0.span_id);
    let root = docs.iter().find(|d| d["id"] == root_id.as_str()).unwrap();
    // Spec: SERVER span → segment named after the resource's service.name.
    assert_eq!(root["trace_id"], want_trace.as_str());
    assert_eq!(root["name"], "checkout");
    assert!(root.get("parent_id").is_none(), "{root}");
    // Indexed attribute → annotation with `.` → `_`; 5xx → fault.
    assert_eq!(root["annotations"]["customer_id"], "c-7");
    assert_eq!(root["fault"], true);
    assert_eq!(root["http"]["response"]["status"], 503);
    let start = span0.start_time_unix_nano as f64 / 1e9;
    assert!((root["start_time"].as_f64().unwrap() - start).abs() < 1e-5);

    let child_id = hexs(&req.resource_spans[0].scope_spans[0].spans[1].span_id);
    let child = docs.iter().find(|d| d["id"] == child_id.as_str()).unwrap();
    // Spec: a non-SERVER span with a parent → independent subsegment, named after peer.service, namespace remote.
    assert_eq!(child["type"], "subsegment");
    assert_eq!(child["parent_id"], root_id.as_str());
    assert_eq!(child["trace_id"], want_trace.as_str());
    assert_eq!(child["name"], "payments");
    assert_eq!(child["namespace"], "remote");

    // The exporter counts after the X-Ray API answered, so the fake may hold
    // the documents before the counters move: read once the drain finished.
    let telemetry = sidecar.telemetry();
    assert!(sidecar.shutdown().await);
    let counts = telemetry.get("exporter/awsxray").unwrap();
    assert_eq!((counts.exported, counts.dropped), (62, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_udp_documents_are_passed_through_unchanged() {
    let xray = FakeXrayApi::start(XrayApiOptions::signed("us-east-1"))
        .await
        .unwrap();
    // Endpoint from AWS_ENDPOINT_URL_XRAY, region from AWS_REGION (as on ECS).
    let env = test_env(&[("AWS_ENDPOINT_URL_XRAY", xray.url())]);
    let sidecar = start(&config("  awsxray:\n", "awsxray"), env).await;
    let udp = sidecar.receiver_addrs("awsxray").unwrap().udp.unwrap();
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let (_, segment, in_progress) = legacy_documents(now_secs());
    for doc in [&segment, &in_progress] {
        socket
            .send_to(format!("{HEADER}{doc}").as_bytes(), udp)
            .await
            .unwrap();
    }
    socket.send_to(b"not a daemon datagram", udp).await.unwrap();

    wait_for_documents(&xray, 2).await;
    let mut sent = sent_documents(&xray);
    sent.sort();
    let mut want = vec![segment.clone(), in_progress.clone()];
    want.sort();
    // The X-Ray daemon's behaviour: documents (in_progress included) go out as they came.
    assert_eq!(sent, want);
    assert!(xray.rejected().is_empty(), "{:?}", xray.rejected());
    let udp_counts = sidecar.telemetry().get("receiver/awsxray").unwrap();
    assert_eq!((udp_counts.received, udp_counts.dropped), (2, 1));
    // Counted after the X-Ray API answered: read once the drain finished.
    let telemetry = sidecar.telemetry();
    assert!(sidecar.shutdown().await);
    let exp = telemetry.get("exporter/awsxray").unwrap();
    assert_eq!((exp.exported, exp.dropped), (2, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_pipeline_sends_documents_to_awsxray_and_spans_to_otlphttp_once() {
    let xray = FakeXrayApi::start(XrayApiOptions::signed("us-east-1"))
        .await
        .unwrap();
    let otlp = FakeOtlpEndpoint::start(OtlpEndpointOptions::xray_traces("us-east-1"))
        .await
        .unwrap();
    let exporters = format!(
        "  awsxray:\n    endpoint: {}\n  otlphttp/xray:\n    traces_endpoint: {}\n    auth: {{authenticator: sigv4auth}}\n",
        xray.url(),
        otlp.traces_url()
    );
    let sidecar = start(&config(&exporters, "awsxray, otlphttp/xray"), test_env(&[])).await;
    let addrs = sidecar.receiver_addrs("awsxray").unwrap();
    let http = sidecar.receiver_addrs("otlp").unwrap().http.unwrap();
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let (trace, segment, in_progress) = legacy_documents(now_secs());
    for doc in [&segment, &in_progress] {
        socket
            .send_to(format!("{HEADER}{doc}").as_bytes(), addrs.udp.unwrap())
            .await
            .unwrap();
    }
    let resp = post_otlp(&format!("http://{http}/v1/traces"), &spans(3, 4)).await;
    assert_eq!(resp.status(), 200);

    // awsxray: 2 legacy documents as they came + 3 translated spans.
    let docs = wait_for_documents(&xray, 5).await;
    // otlphttp: the completed legacy document as 2 spans (segment + nested
    // subsegment; the in-progress one is held) + the 3 OTLP spans.
    assert!(otlp.wait_for_spans(5, WAIT).await, "{}", otlp.span_count());
    let sent = sent_documents(&xray);
    assert!(
        sent.contains(&segment) && sent.contains(&in_progress),
        "{sent:?}"
    );
    assert_eq!(docs.len(), 5, "no duplicates: {docs:?}");
    let spans_out: Vec<_> = otlp
        .received()
        .into_iter()
        .flat_map(|r| r.resource_spans)
        .flat_map(|rs| rs.scope_spans)
        .flat_map(|ss| ss.spans)
        .collect();
    assert_eq!(spans_out.len(), 5, "no duplicates");
    let want_trace: Vec<u8> = (0..32)
        .step_by(2)
        .map(|i| u8::from_str_radix(&trace[2..].replace('-', "")[i..i + 2], 16).unwrap())
        .collect();
    let seg = spans_out
        .iter()
        .find(|s| s.trace_id == want_trace && s.parent_span_id.is_empty())
        .expect("legacy segment as a span");
    let sub = spans_out
        .iter()
        .find(|s| s.parent_span_id == seg.span_id)
        .expect("nested subsegment as its child span");
    assert_eq!(sub.trace_id, want_trace);
    assert!(
        seg.attributes.iter().any(|a| a.key == "customer"),
        "annotation survives as an attribute: {seg:?}"
    );
    assert!(sidecar.shutdown().await);
    // On shutdown the held in-progress document leaves as an in-progress span.
    assert_eq!(otlp.span_count(), 6);
}
