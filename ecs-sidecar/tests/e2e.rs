//! End to end through real sockets: receivers → pipeline → exporters,
//! against the testkit's SigV4-verifying fakes.

// Test helpers outside #[test] fns may unwrap too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use base64::Engine as _;
use common::*;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use otel_aws_testkit::ecs::{EcsFixture, FakeEcsMetadata};
use otel_aws_testkit::otlp::{FakeOtlpEndpoint, FakeResponse, OtlpEndpointOptions};
use otel_aws_testkit::xray_api::{FakeXrayApi, XrayApiOptions};
use prost::Message as _;

const WAIT: Duration = Duration::from_secs(20);

fn config(endpoint: &str, extra_processors: &str, processors: &str) -> String {
    format!(
        "
extensions:
  health_check:
    endpoint: 127.0.0.1:0
  sigv4auth:
    region: us-east-1
    service: xray
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:0
      http:
        endpoint: 127.0.0.1:0
  awsxray:
    endpoint: 127.0.0.1:0
    proxy_server:
      endpoint: 127.0.0.1:0
processors:
  batch:
    timeout: 50ms
    send_batch_size: 100
{extra_processors}
exporters:
  otlphttp/xray:
    traces_endpoint: {endpoint}
    compression: gzip
    auth:
      authenticator: sigv4auth
service:
  extensions: [health_check, sigv4auth]
  pipelines:
    traces:
      receivers: [otlp, awsxray]
      processors: [{processors}]
      exporters: [otlphttp/xray]
"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otlp_http_and_grpc_reach_the_signed_endpoint_with_the_ecs_resource() {
    let fake = FakeOtlpEndpoint::start(OtlpEndpointOptions::xray_traces("us-east-1"))
        .await
        .unwrap();
    let ecs = FakeEcsMetadata::start(EcsFixture::Fargate).await.unwrap();
    let yaml = config(
        &fake.traces_url(),
        "  resourcedetection:\n    detectors: [ecs]\n    override: false\n",
        "memory_limiter_absent_placeholder",
    )
    .replace(
        "memory_limiter_absent_placeholder",
        "resourcedetection, batch",
    );
    let env = test_env(&[("ECS_CONTAINER_METADATA_URI_V4", ecs.uri())]);
    let sidecar = start(&yaml, env).await;
    let addrs = sidecar.receiver_addrs("otlp").unwrap();

    let resp = post_otlp(
        &format!("http://{}/v1/traces", addrs.http.unwrap()),
        &spans(3, 1),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let mut grpc = TraceServiceClient::connect(format!("http://{}", addrs.grpc.unwrap()))
        .await
        .unwrap();
    grpc.export(spans(2, 2)).await.unwrap();

    assert!(
        fake.wait_for_spans(5, WAIT).await,
        "got {} spans; rejected {:?}",
        fake.span_count(),
        fake.rejected()
    );
    assert!(fake.rejected().is_empty(), "{:?}", fake.rejected());
    let received = fake.received();
    for req in &received {
        assert_eq!(
            resource_attr(req, "aws.ecs.task.arn").as_deref(),
            Some(
                "arn:aws:ecs:us-west-2:111122223333:task/default/e9028f8d5d8e4f258373e7b93ce9a3c3"
            ),
        );
        assert_eq!(
            resource_attr(req, "service.name").as_deref(),
            Some("checkout")
        );
    }
    let names: Vec<String> = received
        .iter()
        .flat_map(|r| &r.resource_spans)
        .flat_map(|rs| &rs.scope_spans)
        .flat_map(|ss| &ss.spans)
        .map(|s| s.name.clone())
        .collect();
    for want in ["op-1-0", "op-1-2", "op-2-1"] {
        assert!(
            names.iter().any(|n| n == want),
            "{want} missing from {names:?}"
        );
    }

    // Health: JSON with counters per component, and Prometheus text.
    let health = sidecar.health_addr().unwrap();
    let json: serde_json::Value = serde_json::from_str(
        &reqwest::get(format!("http://{health}/"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(json["status"], "Server available");
    assert_eq!(json["components"]["receiver/otlp"]["received"], 5);
    assert_eq!(json["components"]["exporter/otlphttp/xray"]["exported"], 5);
    let metrics = reqwest::get(format!("http://{health}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(
            "otel_aws_sidecar_spans_exported_total{component=\"exporter/otlphttp/xray\"} 5"
        ),
        "{metrics}"
    );
    assert!(sidecar.shutdown().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_udp_segments_and_t1s_datagrams_reach_the_endpoint() {
    let fake = FakeOtlpEndpoint::start(OtlpEndpointOptions::xray_traces("us-east-1"))
        .await
        .unwrap();
    let sidecar = start(&config(&fake.traces_url(), "", "batch"), test_env(&[])).await;
    let udp = sidecar.receiver_addrs("awsxray").unwrap().udp.unwrap();
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let header = "{\"format\":\"json\",\"version\":1}\n";
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let trace = format!("1-{:08x}-a006649127e371903a2de979", now as u32);
    let segment = serde_json::json!({
        "name": "legacy-svc", "id": "70de5b6f19ff9a0a", "trace_id": trace,
        "start_time": now - 0.2, "end_time": now,
        "annotations": {"customer": "c-42"},
        "subsegments": [{"name": "dynamodb", "id": "1be1e1ad2f3f5b1c", "start_time": now - 0.1, "end_time": now - 0.05, "namespace": "aws"}]
    });
    socket
        .send_to(format!("{header}{segment}").as_bytes(), udp)
        .await
        .unwrap();
    let t1s = base64::engine::general_purpose::STANDARD.encode(spans(2, 7).encode_to_vec());
    socket
        .send_to(format!("{header}T1S{t1s}").as_bytes(), udp)
        .await
        .unwrap();
    socket.send_to(b"not a daemon datagram", udp).await.unwrap();

    assert!(
        fake.wait_for_spans(4, WAIT).await,
        "got {}; rejected {:?}",
        fake.span_count(),
        fake.rejected()
    );
    let all: Vec<_> = fake
        .received()
        .into_iter()
        .flat_map(|r| r.resource_spans)
        .flat_map(|rs| rs.scope_spans)
        .flat_map(|ss| ss.spans)
        .collect();
    let seg = all
        .iter()
        .find(|s| s.span_id == hex("70de5b6f19ff9a0a"))
        .expect("segment span");
    assert_eq!(seg.trace_id, hex(&trace[2..].replace('-', "")));
    let sub = all
        .iter()
        .find(|s| s.span_id == hex("1be1e1ad2f3f5b1c"))
        .expect("subsegment span");
    assert_eq!(sub.parent_span_id, seg.span_id, "parentage survives");
    assert!(all.iter().any(|s| s.name == "op-7-1"));
    let udp_counts = sidecar.telemetry().get("receiver/awsxray").unwrap();
    assert_eq!(udp_counts.received, 4);
    assert_eq!(udp_counts.dropped, 1, "the bad datagram is counted");
    assert!(sidecar.shutdown().await);
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sampling_proxy_forwards_signed_requests() {
    let fake_otlp = FakeOtlpEndpoint::start(OtlpEndpointOptions::xray_traces("us-east-1"))
        .await
        .unwrap();
    let xray = FakeXrayApi::start(XrayApiOptions::signed("us-east-1"))
        .await
        .unwrap();
    let env = test_env(&[("AWS_ENDPOINT_URL_XRAY", xray.url())]);
    let sidecar = start(&config(&fake_otlp.traces_url(), "", "batch"), env).await;
    let proxy = sidecar.receiver_addrs("awsxray").unwrap().proxy.unwrap();
    let client = reqwest::Client::new();
    let rules = client
        .post(format!("http://{proxy}/GetSamplingRules"))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(rules.status(), 200);
    let body: serde_json::Value = serde_json::from_str(&rules.text().await.unwrap()).unwrap();
    assert_eq!(
        body["SamplingRuleRecords"][0]["SamplingRule"]["RuleName"],
        "Default"
    );
    let targets = client
        .post(format!("http://{proxy}/SamplingTargets"))
        .header("content-type", "application/json")
        .body(
            serde_json::json!({"SamplingStatisticsDocuments": [{
            "ClientID": "0123456789abcdef01234567", "RuleName": "Default",
            "Timestamp": 1_700_000_000, "RequestCount": 10, "SampledCount": 1, "BorrowCount": 1}]})
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(targets.status(), 200);
    let body: serde_json::Value = serde_json::from_str(&targets.text().await.unwrap()).unwrap();
    assert_eq!(body["SamplingTargetDocuments"][0]["RuleName"], "Default");
    assert!(
        xray.rejected().is_empty(),
        "signature refused: {:?}",
        xray.rejected()
    );
    let paths: Vec<String> = xray
        .requests()
        .iter()
        .map(|r| r.path_and_query.clone())
        .collect();
    assert_eq!(paths, ["/GetSamplingRules", "/SamplingTargets"]);
    assert!(sidecar.shutdown().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exporter_outage_backpressures_then_recovers_without_loss() {
    let fake = FakeOtlpEndpoint::start(OtlpEndpointOptions::xray_traces("us-east-1"))
        .await
        .unwrap();
    fake.push_responses(std::iter::repeat_n(FakeResponse::Status(503), 60));
    let yaml = config(&fake.traces_url(), "", "batch")
        .replace("send_batch_size: 100", "send_batch_size: 10")
        .replace(
            "    compression: gzip\n",
            "    compression: gzip\n    retry_on_failure:\n      initial_interval: 100ms\n      max_interval: 200ms\n      max_elapsed_time: 120s\n    sending_queue:\n      queue_size: 2\n",
        );
    let sidecar = start(&yaml, test_env(&[])).await;
    let url = format!(
        "http://{}/v1/traces",
        sidecar.receiver_addrs("otlp").unwrap().http.unwrap()
    );

    let mut accepted = 0usize;
    let mut refused = 0usize;
    for i in 0..1000u32 {
        let resp = post_otlp(&url, &spans(10, (i % 250) as u8)).await;
        match resp.status().as_u16() {
            200 => accepted += 10,
            503 => {
                assert!(resp.headers().contains_key("retry-after"));
                refused += 1;
                break;
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!(
        refused,
        1,
        "the outage never pushed back after {accepted} spans; fake saw {} requests, {} spans; exporter {:?}",
        fake.requests().len(),
        fake.span_count(),
        sidecar.telemetry().get("exporter/otlphttp/xray")
    );
    assert!(
        fake.wait_for_spans(accepted, Duration::from_secs(60)).await,
        "{} of {accepted} arrived",
        fake.span_count()
    );
    let exp = sidecar.telemetry().get("exporter/otlphttp/xray").unwrap();
    assert_eq!(exp.dropped, 0);
    assert!(exp.retried >= 60, "{exp:?}");
    assert_eq!(
        sidecar.telemetry().get("receiver/otlp").unwrap().refused,
        10
    );
    // Recovered: new data flows again.
    assert_eq!(post_otlp(&url, &spans(1, 251)).await.status(), 200);
    assert!(fake.wait_for_spans(accepted + 1, WAIT).await);
    // Nothing accepted was lost, nothing was sent twice: checked once the
    // drain finished, when nothing more can be sent (no fixed sleep).
    let telemetry = sidecar.telemetry();
    assert!(sidecar.shutdown().await);
    assert_eq!(fake.span_count(), accepted + 1);
    assert_eq!(
        telemetry.get("exporter/otlphttp/xray").unwrap().exported,
        (accepted + 1) as u64
    );
}

/// A batch the destination refuses (403 AccessDenied: a permission the
/// task role lacks) is final: not retried, its spans counted as dropped and
/// the export as failed in the sidecar's own telemetry; the next batch goes
/// out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_batch_is_dropped_and_counted_and_the_next_delivered() {
    let fake = FakeOtlpEndpoint::start(OtlpEndpointOptions::xray_traces("us-east-1"))
        .await
        .unwrap();
    fake.push_responses([FakeResponse::StatusWithBody(
        403,
        r#"{"__type":"AccessDeniedException","message":"not authorized to perform: xray:PutSpans"}"#
            .into(),
    )]);
    let sidecar = start(&config(&fake.traces_url(), "", "batch"), test_env(&[])).await;
    let url = format!(
        "http://{}/v1/traces",
        sidecar.receiver_addrs("otlp").unwrap().http.unwrap()
    );
    assert_eq!(post_otlp(&url, &spans(7, 1)).await.status(), 200);
    // The refusal settles (no fixed sleep): the exporter counts it.
    let telemetry = sidecar.telemetry();
    let exporter = || telemetry.get("exporter/otlphttp/xray").unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    while exporter().failed_exports == 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let refused = exporter();
    assert_eq!(
        (refused.failed_exports, refused.dropped, refused.exported),
        (1, 7, 0),
        "{refused:?}"
    );
    assert_eq!(refused.retried, 0, "a refusal is not retried");
    assert_eq!(fake.requests().len(), 1);

    assert_eq!(post_otlp(&url, &spans(3, 2)).await.status(), 200);
    assert!(fake.wait_for_spans(3, WAIT).await);
    assert!(sidecar.shutdown().await);
    let after = exporter();
    assert_eq!((after.exported, after.dropped), (3, 7), "{after:?}");
    assert_eq!(fake.span_count(), 3, "the refused spans never re-sent");
}

/// A batch over the 10,000 spans a request may hold is sent as two
/// requests; an outage after the first (retries off: given up at once)
/// drops only the second's spans, and the sidecar's telemetry counts the
/// first's as exported, not as dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_cutting_a_split_batch_counts_what_went_before() {
    const SPANS: usize = 10_005;
    let fake = FakeOtlpEndpoint::start(OtlpEndpointOptions::xray_traces("us-east-1"))
        .await
        .unwrap();
    fake.push_responses([FakeResponse::Status(200), FakeResponse::Status(503)]);
    // No batch processor (the received request goes whole to the
    // exporter), and no retries.
    let yaml = config(&fake.traces_url(), "", "").replace(
        "    compression: gzip\n",
        "    compression: gzip\n    retry_on_failure:\n      enabled: false\n",
    );
    assert!(yaml.contains("enabled: false"), "{yaml}");
    let sidecar = start(&yaml, test_env(&[])).await;
    let url = format!(
        "http://{}/v1/traces",
        sidecar.receiver_addrs("otlp").unwrap().http.unwrap()
    );
    assert_eq!(post_otlp(&url, &spans(SPANS, 3)).await.status(), 200);
    let telemetry = sidecar.telemetry();
    // Counted once the drain finished (no fixed sleep).
    assert!(sidecar.shutdown().await);
    let got = telemetry.get("exporter/otlphttp/xray").unwrap();
    assert_eq!(fake.requests().len(), 2, "one request a part, not retried");
    assert_eq!(
        (got.exported, got.dropped, got.failed_exports),
        (10_000, 5, 1),
        "{got:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_drains_what_was_accepted() {
    let fake = FakeOtlpEndpoint::start(OtlpEndpointOptions::xray_traces("us-east-1"))
        .await
        .unwrap();
    let yaml = config(&fake.traces_url(), "", "batch").replace("timeout: 50ms", "timeout: 1h");
    let sidecar = start(&yaml, test_env(&[])).await;
    let url = format!(
        "http://{}/v1/traces",
        sidecar.receiver_addrs("otlp").unwrap().http.unwrap()
    );
    assert_eq!(post_otlp(&url, &spans(7, 3)).await.status(), 200);
    assert_eq!(fake.span_count(), 0, "held by the batch processor");
    assert!(sidecar.shutdown().await);
    assert_eq!(fake.span_count(), 7);
}
