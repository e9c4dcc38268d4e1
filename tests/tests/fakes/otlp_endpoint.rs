//! The fake OTLP/HTTP endpoint, driven with reqwest.

use std::io::Write;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::Method;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use otel_aws_testkit::otlp::{FakeOtlpEndpoint, FakeResponse, OtlpEndpointOptions};
use otel_aws_testkit::sigv4::SigV4Expect;
use prost::Message;

use crate::{GZIP, Header, JSON, PROTOBUF, send};

/// (method, path, headers, body, expected status)
type Case = (Method, &'static str, Vec<Header>, Vec<u8>, u16);

fn sample_request(spans: usize) -> ExportTraceServiceRequest {
    let span = |i: usize| Span {
        trace_id: hex::decode("5b8efff798038103d269b633813fc60c").unwrap(),
        span_id: u64::try_from(i + 1).unwrap().to_be_bytes().to_vec(),
        name: format!("span-{i}"),
        kind: 2,
        start_time_unix_nano: 1_544_712_660_000_000_000,
        end_time_unix_nano: 1_544_712_661_000_000_000,
        ..Default::default()
    };
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: (0..spans).map(span).collect(),
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

// ---------------------------------------------------------- OTLP endpoint --

#[tokio::test]
async fn otlp_accepts_signed_gzipped_protobuf_and_decodes_it() {
    let fake = FakeOtlpEndpoint::start(OtlpEndpointOptions::xray_traces("us-east-1"))
        .await
        .unwrap();
    let signer = SigV4Expect::test("us-east-1", "xray");
    let sent = sample_request(3);
    let body = gzip(&sent.encode_to_vec());
    let resp = send(
        &fake.url(),
        Method::POST,
        "/v1/traces",
        &[PROTOBUF, GZIP],
        body.clone(),
        Some(&signer),
        None,
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/x-protobuf");
    let answer = ExportTraceServiceResponse::decode(resp.bytes().await.unwrap()).unwrap();
    assert_eq!(answer, ExportTraceServiceResponse::default());
    assert!(fake.wait_for_spans(3, Duration::from_secs(5)).await);
    assert_eq!(fake.received(), vec![sent]);
    assert_eq!(fake.span_count(), 3);
    assert_eq!(fake.requests().len(), 1);
    assert_eq!(
        fake.requests()[0].body,
        Bytes::from(body),
        "raw (compressed) body recorded"
    );
    assert!(fake.rejected().is_empty());
    assert_eq!(fake.traces_url(), format!("{}/v1/traces", fake.url()));
}

#[tokio::test]
async fn otlp_accepts_json_per_the_otlp_json_encoding() {
    let fake = FakeOtlpEndpoint::start(OtlpEndpointOptions::default())
        .await
        .unwrap();
    // OTLP/JSON as the OTLP specification writes it: hex ids, int64 as strings.
    let body = r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"svc"}}]},
        "scopeSpans":[{"scope":{"name":"lib"},"spans":[{"traceId":"5b8efff798038103d269b633813fc60c",
        "spanId":"eee19b7ec3c1b174","name":"GET /","kind":2,"startTimeUnixNano":"1544712660000000000",
        "endTimeUnixNano":"1544712661000000000"}]}]}]}"#;
    let resp = send(
        &fake.url(),
        Method::POST,
        "/v1/traces",
        &[JSON],
        body.into(),
        None,
        None,
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/json");
    assert_eq!(resp.text().await.unwrap(), "{}");
    let got = fake.received();
    let span = &got[0].resource_spans[0].scope_spans[0].spans[0];
    assert_eq!(span.name, "GET /");
    assert_eq!(
        hex::encode(&span.trace_id),
        "5b8efff798038103d269b633813fc60c"
    );
    assert_eq!(hex::encode(&span.span_id), "eee19b7ec3c1b174");
    assert_eq!(span.start_time_unix_nano, 1_544_712_660_000_000_000);
}

#[tokio::test]
async fn otlp_rejects_bad_signatures_like_aws() {
    let fake = FakeOtlpEndpoint::start(OtlpEndpointOptions::xray_traces("us-east-1"))
        .await
        .unwrap();
    let body = sample_request(1).encode_to_vec();
    let mut wrong_secret = SigV4Expect::test("us-east-1", "xray");
    wrong_secret.credentials.secret_access_key = "not-the-secret".into();
    let cases: [(Option<SigV4Expect>, &str); 4] = [
        (Some(wrong_secret), "InvalidSignatureException"),
        (
            Some(SigV4Expect::test("eu-west-1", "xray")),
            "InvalidSignatureException",
        ),
        (
            Some(SigV4Expect::test("us-east-1", "logs")),
            "InvalidSignatureException",
        ),
        (None, "MissingAuthenticationTokenException"),
    ];
    for (signer, error_type) in &cases {
        let resp = send(
            &fake.url(),
            Method::POST,
            "/v1/traces",
            &[PROTOBUF],
            body.clone(),
            signer.as_ref(),
            None,
        )
        .await
        .unwrap();
        assert_eq!(resp.status(), 403);
        assert_eq!(resp.headers()["x-amzn-errortype"], *error_type);
        let json: serde_json::Value = serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap();
        assert!(
            json["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{json}"
        );
    }
    // A request signed 10 minutes before the fake's clock is expired.
    fake.set_now(SystemTime::now() + Duration::from_secs(600));
    let signer = SigV4Expect::test("us-east-1", "xray");
    let resp = send(
        &fake.url(),
        Method::POST,
        "/v1/traces",
        &[PROTOBUF],
        body,
        Some(&signer),
        None,
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 403);
    assert!(resp.text().await.unwrap().contains("Signature expired"));
    assert_eq!(fake.rejected().len(), 5);
    assert!(fake.rejected().iter().all(|(s, _)| *s == 403));
    assert_eq!(fake.span_count(), 0);
}

#[tokio::test]
async fn otlp_malformed_body_is_400_and_the_next_request_works() {
    let fake = FakeOtlpEndpoint::start(OtlpEndpointOptions::xray_traces("us-west-2"))
        .await
        .unwrap();
    let signer = SigV4Expect::test("us-west-2", "xray");
    let bad: [(&[Header], Vec<u8>); 3] = [
        (&[PROTOBUF], vec![0x0a, 0xff, 0xff, 0xff]),
        (&[JSON], b"{not json".to_vec()),
        (&[PROTOBUF, GZIP], b"not gzip".to_vec()),
    ];
    for (headers, body) in bad {
        let resp = send(
            &fake.url(),
            Method::POST,
            "/v1/traces",
            headers,
            body,
            Some(&signer),
            None,
        )
        .await
        .unwrap();
        assert_eq!(resp.status(), 400);
    }
    let resp = send(
        &fake.url(),
        Method::POST,
        "/v1/traces",
        &[PROTOBUF],
        sample_request(2).encode_to_vec(),
        Some(&signer),
        None,
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(fake.span_count(), 2);
    assert_eq!(
        fake.rejected().iter().map(|r| r.0).collect::<Vec<_>>(),
        [400, 400, 400]
    );
}

#[tokio::test]
async fn otlp_enforces_path_method_media_type_and_limits() {
    let fake = FakeOtlpEndpoint::start(OtlpEndpointOptions::default())
        .await
        .unwrap();
    let url = fake.url();
    let ok_body = sample_request(1).encode_to_vec();
    let big = sample_request(10_001).encode_to_vec();
    let zeros = vec![0u8; otel_aws_testkit::otlp::MAX_UNCOMPRESSED_BYTES + 1];
    let cases: Vec<Case> = vec![
        (
            Method::POST,
            "/v1/logs",
            vec![PROTOBUF],
            ok_body.clone(),
            404,
        ),
        (Method::GET, "/v1/traces", vec![], vec![], 405),
        (
            Method::POST,
            "/v1/traces",
            vec![("content-type", "text/plain")],
            ok_body.clone(),
            415,
        ),
        (
            Method::POST,
            "/v1/traces",
            vec![PROTOBUF, ("content-encoding", "br")],
            ok_body.clone(),
            415,
        ),
        (Method::POST, "/v1/traces", vec![PROTOBUF], big, 400),
        (
            Method::POST,
            "/v1/traces",
            vec![PROTOBUF],
            zeros.clone(),
            413,
        ),
        (
            Method::POST,
            "/v1/traces",
            vec![PROTOBUF, GZIP],
            gzip(&zeros),
            413,
        ),
        (
            Method::POST,
            "/v1/traces",
            vec![("content-type", "application/x-protobuf; charset=binary")],
            ok_body,
            200,
        ),
    ];
    for (method, path, headers, body, status) in cases {
        let resp = send(&url, method.clone(), path, &headers, body, None, None)
            .await
            .unwrap();
        assert_eq!(resp.status(), status, "{method} {path} {headers:?}");
    }
    assert_eq!(fake.span_count(), 1);
}

#[tokio::test]
async fn otlp_scripted_responses_come_first() {
    let fake = FakeOtlpEndpoint::start(OtlpEndpointOptions::default())
        .await
        .unwrap();
    fake.push_responses([
        FakeResponse::RetryAfter(503, 7),
        FakeResponse::Status(429),
        FakeResponse::StatusWithBody(400, "{\"message\":\"nope\"}".into()),
    ]);
    let url = fake.url();
    let post = || {
        send(
            &url,
            Method::POST,
            "/v1/traces",
            &[PROTOBUF],
            sample_request(1).encode_to_vec(),
            None,
            None,
        )
    };
    let r = post().await.unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["retry-after"], "7");
    assert_eq!(post().await.unwrap().status(), 429);
    let r = post().await.unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.text().await.unwrap(), "{\"message\":\"nope\"}");
    assert_eq!(fake.span_count(), 0, "scripted answers decode nothing");
    assert_eq!(post().await.unwrap().status(), 200);
    assert_eq!(fake.span_count(), 1);
    assert_eq!(fake.requests().len(), 4);
    assert!(fake.rejected().is_empty());
}

#[tokio::test]
async fn otlp_hang_holds_the_request_until_the_client_gives_up() {
    let fake = FakeOtlpEndpoint::start(OtlpEndpointOptions::default())
        .await
        .unwrap();
    fake.push_responses([FakeResponse::Hang]);
    let body = sample_request(1).encode_to_vec();
    let err = send(
        &fake.url(),
        Method::POST,
        "/v1/traces",
        &[PROTOBUF],
        body.clone(),
        None,
        Some(Duration::from_millis(300)),
    )
    .await
    .unwrap_err();
    assert!(err.is_timeout(), "{err}");
    let resp = send(
        &fake.url(),
        Method::POST,
        "/v1/traces",
        &[PROTOBUF],
        body,
        None,
        None,
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(fake.requests().len(), 2);
}

#[tokio::test]
async fn otlp_logs_endpoint_requires_log_group_and_stream() {
    let fake = FakeOtlpEndpoint::start(OtlpEndpointOptions::cloudwatch_logs("us-west-2"))
        .await
        .unwrap();
    let signer = SigV4Expect::test("us-west-2", "logs");
    let body = br#"{"resourceLogs":[]}"#.to_vec();
    let group = ("x-aws-log-group", "/my/app");
    let stream = ("x-aws-log-stream", "s1");
    let r = send(
        &fake.url(),
        Method::POST,
        "/v1/logs",
        &[JSON, group],
        body.clone(),
        Some(&signer),
        None,
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("x-aws-log-stream"));
    let xray = SigV4Expect::test("us-west-2", "xray");
    let r = send(
        &fake.url(),
        Method::POST,
        "/v1/logs",
        &[JSON, group, stream],
        body.clone(),
        Some(&xray),
        None,
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 403);
    let r = send(
        &fake.url(),
        Method::POST,
        "/v1/logs",
        &[JSON, group, stream],
        body,
        Some(&signer),
        None,
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(fake.accepted_bodies().len(), 1);
}
