//! The chaos endpoint of the soak harness: each fault answers as documented
//! and accepted spans are counted once per distinct id.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests

use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use otel_aws_testkit::chaos::{ChaosEndpoint, ChaosOptions};
use prost::Message as _;

fn body(ids: &[u64]) -> Vec<u8> {
    let spans = ids
        .iter()
        .map(|i| Span {
            trace_id: vec![1; 16],
            span_id: i.to_be_bytes().to_vec(),
            name: format!("s{i}"),
            ..Span::default()
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans,
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }],
    }
    .encode_to_vec()
}

async fn post(url: &str, ids: &[u64]) -> (u16, String) {
    let r = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/x-protobuf")
        .body(body(ids))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let kind = r
        .headers()
        .get("x-amzn-errortype")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, kind)
}

#[tokio::test]
async fn faults_answer_as_documented_and_spans_are_counted_once() {
    let ep = ChaosEndpoint::start(ChaosOptions {
        track_unique: true,
        ..ChaosOptions::default()
    })
    .await
    .unwrap();
    let (url, ctl) = (ep.traces_url(), ep.control());

    assert_eq!(post(&url, &[1, 2]).await.0, 200);
    assert_eq!(post(&url, &[2, 3]).await.0, 200);

    ctl.set_down(true);
    assert_eq!(post(&url, &[4]).await.0, 503);
    ctl.set_down(false);

    ctl.expire_for(Duration::from_secs(60));
    assert_eq!(
        post(&url, &[5]).await,
        (403, "ExpiredTokenException".into())
    );
    ctl.expire_for(Duration::ZERO);

    ctl.hang_for(Duration::from_millis(200));
    assert_eq!(post(&url, &[6]).await.0, 503, "answered when the hang ends");

    let s = ctl.snapshot();
    assert_eq!((s.spans, s.unique_spans), (4, 3));
    assert_eq!((s.requests, s.accepted_requests), (5, 2));
    assert_eq!((s.down_503, s.expired_403, s.hung), (1, 1, 1));
}

#[tokio::test]
async fn every_request_refused_at_100_percent_and_signatures_checked() {
    let ep = ChaosEndpoint::start(ChaosOptions {
        error_per_10k: 10_000,
        ..ChaosOptions::default()
    })
    .await
    .unwrap();
    assert_eq!(post(&ep.traces_url(), &[1]).await.0, 503);
    assert_eq!(ep.control().snapshot().injected_503, 1);

    let signed = ChaosEndpoint::start(ChaosOptions {
        sigv4: Some(otel_aws_testkit::sigv4::SigV4Expect::test(
            "us-east-1",
            "xray",
        )),
        ..ChaosOptions::default()
    })
    .await
    .unwrap();
    assert_eq!(post(&signed.traces_url(), &[1]).await.0, 403, "unsigned");
    assert_eq!(signed.control().snapshot().sigv4_rejected, 1);
}
