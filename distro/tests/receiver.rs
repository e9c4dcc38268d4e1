//! OTLP receivers through real sockets on 127.0.0.1: HTTP (protobuf, JSON,
//! gzip), gRPC (tonic's generated client, gzip, raw frames), error paths,
//! backpressure, limits and shutdown.
#![cfg(feature = "server")]
// Test helpers outside #[test] fns unwrap too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::Ordering;

use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::Span;
use otel_aws_distro::receiver::{
    self, Accepted, Encoding, ReceiverConfig, ReceiverError, RequestMeta, TraceSink, Transport,
};
use prost::Message;

mod receiver_support;
use receiver_support::*;

// ---------------------------------------------------------------- OTLP/HTTP

#[tokio::test]
async fn http_protobuf_is_decoded_once_and_handed_to_the_sink() {
    let h = Harness::start().await;
    let sent = request(vec![
        span("a", &TRACE_ID, &SPAN_ID),
        span("b", &TRACE_ID, &PARENT_ID),
    ]);
    let resp = h
        .post("application/x-protobuf", None, sent.encode_to_vec())
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/x-protobuf");
    let body = resp.bytes().await.unwrap();
    assert_eq!(
        ExportTraceServiceResponse::decode(body).unwrap(),
        ExportTraceServiceResponse::default()
    );
    let got = h.sink.take();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0, sent);
    let meta = &got[0].1;
    assert_eq!(
        (meta.transport, meta.encoding, meta.gzip, meta.items),
        (Transport::Http, Encoding::Protobuf, false, 2)
    );
    assert_eq!(meta.body_bytes, sent.encoded_len());
    assert_eq!(meta.peer.unwrap().ip().to_string(), "127.0.0.1");
    let stats = h.running.stats().snapshot();
    assert_eq!((stats.requests, stats.accepted_spans), (1, 2));
}

#[tokio::test]
async fn http_json_from_the_spec_example_decodes() {
    let h = Harness::start().await;
    let resp = h
        .post("application/json", None, SPEC_EXAMPLE_JSON.into())
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/json");
    let body = json_body(resp).await;
    assert_eq!(body, serde_json::json!({}));
    let got = h.sink.take();
    let spans = spans_of(&got[0].0);
    assert_eq!(spans.len(), 1);
    let s = spans[0];
    assert_eq!(s.trace_id, TRACE_ID);
    assert_eq!(s.span_id, SPAN_ID);
    assert_eq!(s.parent_span_id, PARENT_ID);
    assert_eq!(s.kind, 2);
    assert_eq!(s.start_time_unix_nano, 1_544_712_660_000_000_000);
    assert_eq!(s.end_time_unix_nano, 1_544_712_661_000_000_000);
    assert_eq!(s.attributes[0].key, "my.span.attr");
    assert_eq!(got[0].1.encoding, Encoding::Json);
    let scope = got[0].0.resource_spans[0].scope_spans[0]
        .scope
        .as_ref()
        .unwrap();
    assert_eq!(
        (scope.name.as_str(), scope.version.as_str()),
        ("my.library", "1.0.0")
    );
}

#[tokio::test]
async fn http_json_shaped_like_the_node_sdk_decodes() {
    let h = Harness::start().await;
    let resp = h
        .post(
            "application/json; charset=utf-8",
            None,
            NODE_SDK_JSON.into(),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let got = h.sink.take();
    let spans = spans_of(&got[0].0);
    assert_eq!(spans.len(), 2);
    let (root, child) = (spans[0], spans[1]);
    assert!(root.parent_span_id.is_empty());
    assert_eq!(root.start_time_unix_nano, 1_718_000_000_123_456_789);
    assert_eq!(root.flags, 257);
    let attr = |s: &Span, k: &str| {
        s.attributes
            .iter()
            .find(|a| a.key == k)
            .and_then(|a| a.value.clone())
            .and_then(|v| v.value)
    };
    assert_eq!(
        attr(root, "http.response.status_code"),
        Some(Value::IntValue(200))
    );
    assert_eq!(attr(root, "ratio"), Some(Value::DoubleValue(1.5)));
    assert_eq!(attr(root, "cached"), Some(Value::BoolValue(false)));
    match attr(root, "tags") {
        Some(Value::ArrayValue(a)) => assert_eq!(a.values.len(), 2),
        other => panic!("tags: {other:?}"),
    }
    assert_eq!(child.parent_span_id, root.span_id);
    assert_eq!(child.kind, 3);
    let status = child.status.as_ref().unwrap();
    assert_eq!((status.code, status.message.as_str()), (2, "boom"));
    assert_eq!(child.events[0].time_unix_nano, 1_718_000_000_199_000_000);
    assert_eq!(child.links[0].trace_id, (1u8..=16).collect::<Vec<_>>());
}

#[tokio::test]
async fn http_json_in_the_protobuf_json_mapping_decodes() {
    let h = Harness::start().await;
    for body in [PROTOBUF_JSON_MAPPING, SNAKE_CASE_JSON] {
        let resp = h.post("application/json", None, body.into()).await;
        assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    }
    let got = h.sink.take();
    let py = spans_of(&got[0].0)[0];
    assert_eq!(py.trace_id, TRACE_ID);
    assert_eq!(py.span_id, SPAN_ID);
    assert_eq!(py.kind, 3);
    assert_eq!(py.status.as_ref().unwrap().code, 2);
    assert_eq!(py.start_time_unix_nano, 1_544_712_660_000_000_000);
    assert_eq!(
        py.attributes[0].value.as_ref().unwrap().value,
        Some(Value::IntValue(42))
    );
    let snake = spans_of(&got[1].0)[0];
    assert_eq!((snake.name.as_str(), snake.kind), ("snake", 1));
    assert_eq!(
        (snake.start_time_unix_nano, snake.end_time_unix_nano),
        (1, 2)
    );
    assert_eq!(snake.span_id, SPAN_ID);
}

#[tokio::test]
async fn http_gzip_protobuf_and_json() {
    let h = Harness::start().await;
    let resp = h
        .post(
            "application/x-protobuf",
            Some("gzip"),
            gzip(&one_span().encode_to_vec()),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let resp = h
        .post(
            "application/json",
            Some("gzip"),
            gzip(SPEC_EXAMPLE_JSON.as_bytes()),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let got = h.sink.take();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].0, one_span());
    assert!(got[0].1.gzip && got[1].1.gzip);
    assert_eq!(got[1].1.body_bytes, SPEC_EXAMPLE_JSON.len());
    assert_eq!(spans_of(&got[1].0)[0].trace_id, TRACE_ID);
}

#[tokio::test]
async fn http_malformed_bodies_get_400_and_the_next_request_works() {
    let h = Harness::start().await;
    let cases: [(&str, Option<&str>, Vec<u8>); 5] = [
        // Field 1 (resource_spans), length-delimited, claims 100 bytes but has 2.
        ("application/x-protobuf", None, vec![0x0a, 100, 1, 2]),
        ("application/json", None, b"{\"resourceSpans\": [".to_vec()),
        (
            "application/json",
            None,
            b"{\"resourceSpans\": [{\"scopeSpans\": [{\"spans\": [{\"traceId\": \"zz\"}]}]}]}"
                .to_vec(),
        ),
        (
            "application/x-protobuf",
            Some("gzip"),
            b"definitely not gzip".to_vec(),
        ),
        ("application/json", Some("gzip"), gzip(b"{ not json")),
    ];
    for (ctype, enc, body) in cases {
        let resp = h.post(ctype, enc, body).await;
        assert_eq!(resp.status(), 400, "{ctype} {enc:?}");
        assert_eq!(resp.headers()["content-type"], ctype);
        let bytes = resp.bytes().await.unwrap();
        let (code, message) = if ctype == "application/json" {
            let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            (
                v["code"].as_i64().unwrap() as i32,
                v["message"].as_str().unwrap().to_owned(),
            )
        } else {
            let s = RpcStatus::decode(bytes).unwrap();
            (s.code, s.message)
        };
        assert_eq!(code, 3, "INVALID_ARGUMENT");
        assert!(!message.is_empty());
        h.post_ok_protobuf().await;
    }
    let stats = h.running.stats().snapshot();
    assert_eq!(stats.malformed_requests, 5);
    assert_eq!(stats.accepted_requests, 5);
    assert_eq!(h.sink.take().len(), 5);
}

#[tokio::test]
async fn http_spans_with_bad_ids_are_rejected_as_partial_success() {
    let h = Harness::start().await;
    let sent = request(vec![
        span("good", &TRACE_ID, &SPAN_ID),
        span("short trace id", &TRACE_ID[..8], &SPAN_ID),
        span("zero span id", &TRACE_ID, &[0; 8]),
    ]);
    let resp = h
        .post("application/x-protobuf", None, sent.encode_to_vec())
        .await;
    assert_eq!(resp.status(), 200);
    let partial = ExportTraceServiceResponse::decode(resp.bytes().await.unwrap())
        .unwrap()
        .partial_success
        .unwrap();
    assert_eq!(partial.rejected_spans, 2);
    assert!(
        partial.error_message.contains("short trace id"),
        "{}",
        partial.error_message
    );
    let got = h.sink.take();
    assert_eq!(got[0].1.items, 1);
    assert_eq!(spans_of(&got[0].0)[0].name, "good");

    // JSON response form: int64 as a string (proto3 JSON mapping).
    let json = r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"00000000000000000000000000000000","spanId":"eee19b7ec3c1b174","name":"zero"}]}]}]}"#;
    let resp = h.post("application/json", None, json.into()).await;
    assert_eq!(resp.status(), 200);
    let v = json_body(resp).await;
    assert_eq!(v["partialSuccess"]["rejectedSpans"], "1");
    assert!(h.sink.take().is_empty(), "nothing left to hand over");
}

#[tokio::test]
async fn http_routing_and_media_type_errors() {
    let h = Harness::start().await;
    let resp = h
        .http
        .post(h.url("/v1/logs"))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let resp = h.http.get(h.url("/v1/traces")).send().await.unwrap();
    assert_eq!(resp.status(), 405);
    let resp = h.post("text/plain", None, b"hello".to_vec()).await;
    assert_eq!(resp.status(), 415);
    let resp = h
        .http
        .post(h.url("/v1/traces"))
        .body(one_span().encode_to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 415, "no Content-Type");
    let resp = h
        .post(
            "application/x-protobuf",
            Some("br"),
            one_span().encode_to_vec(),
        )
        .await;
    assert_eq!(resp.status(), 415);
    h.post_ok_protobuf().await;
}

#[tokio::test]
async fn http_oversize_and_gzip_bombs_get_413() {
    let h = Harness::with_config(ReceiverConfig {
        http_addr: localhost0(),
        grpc_addr: localhost0(),
        max_body_bytes: 4096,
        ..Default::default()
    })
    .await;
    let big = request((0..200).map(|_| span("x", &TRACE_ID, &SPAN_ID)).collect());
    assert!(big.encoded_len() > 4096);
    let resp = h
        .post("application/x-protobuf", None, big.encode_to_vec())
        .await;
    assert_eq!(resp.status(), 413);
    h.post_ok_protobuf().await;

    // 1 MiB of zeros gzips to ~1 KiB: fine on the wire, too big once inflated.
    let bomb = gzip(&vec![0u8; 1 << 20]);
    assert!(bomb.len() < 4096);
    let resp = h.post("application/x-protobuf", Some("gzip"), bomb).await;
    assert_eq!(resp.status(), 413);
    let status = RpcStatus::decode(resp.bytes().await.unwrap()).unwrap();
    assert!(
        status.message.contains("decompressed"),
        "{}",
        status.message
    );
    h.post_ok_protobuf().await;
    assert_eq!(h.running.stats().snapshot().too_large_requests, 2);
}

#[tokio::test]
async fn http_backpressure_is_503_with_retry_after() {
    let h = Harness::start().await;
    h.sink.push_back.store(true, Ordering::SeqCst);
    let resp = h
        .post("application/x-protobuf", None, one_span().encode_to_vec())
        .await;
    assert_eq!(resp.status(), 503);
    assert_eq!(resp.headers()["retry-after"], "3", "2.5 s rounded up");
    let status = RpcStatus::decode(resp.bytes().await.unwrap()).unwrap();
    assert_eq!(status.code, 14, "UNAVAILABLE");
    let retry = RetryInfo::decode(status.details[0].value.as_slice()).unwrap();
    assert_eq!(
        retry.retry_delay,
        Some(ProtoDuration {
            seconds: 2,
            nanos: 500_000_000
        })
    );

    let resp = h
        .post("application/json", None, SPEC_EXAMPLE_JSON.into())
        .await;
    assert_eq!(resp.status(), 503);
    let v = json_body(resp).await;
    assert_eq!(v["details"][0]["retryDelay"], "2.5s");

    h.sink.push_back.store(false, Ordering::SeqCst);
    h.post_ok_protobuf().await;
    let stats = h.running.stats().snapshot();
    assert_eq!(
        (stats.backpressured_requests, stats.backpressured_spans),
        (2, 2)
    );
    assert_eq!(h.sink.take().len(), 1);
}

#[tokio::test]
async fn sink_partial_acceptance_is_reported() {
    let sink: Arc<dyn TraceSink> = Arc::new(|_b: ExportTraceServiceRequest, meta: RequestMeta| {
        Ok(Accepted::partial(meta.items, "per-invoke buffer full"))
    });
    let running = receiver::serve(
        ReceiverConfig {
            http_addr: localhost0(),
            ..Default::default()
        },
        sink,
        std::future::pending(),
    )
    .await
    .unwrap();
    assert_eq!(running.grpc_addr(), None);
    let resp = reqwest::Client::new()
        .post(format!("http://{}/v1/traces", running.http_addr().unwrap()))
        .header("content-type", "application/x-protobuf")
        .body(one_span().encode_to_vec())
        .send()
        .await
        .unwrap();
    let partial = ExportTraceServiceResponse::decode(resp.bytes().await.unwrap())
        .unwrap()
        .partial_success
        .unwrap();
    assert_eq!(partial.rejected_spans, 1);
    assert_eq!(partial.error_message, "per-invoke buffer full");
    let stats = running.stats().snapshot();
    assert_eq!((stats.accepted_spans, stats.rejected_spans), (0, 1));
}

// ---------------------------------------------------------------- OTLP/gRPC

#[tokio::test]
async fn grpc_export_plain_and_gzip() {
    let h = Harness::start().await;
    let mut client = h.grpc().await;
    let resp = client.export(one_span()).await.unwrap().into_inner();
    assert_eq!(resp.partial_success, None);
    let mut gz = h
        .grpc()
        .await
        .send_compressed(tonic::codec::CompressionEncoding::Gzip);
    let big = request((0..50).map(|_| span("x", &TRACE_ID, &SPAN_ID)).collect());
    gz.export(big.clone()).await.unwrap();
    let got = h.sink.take();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].0, one_span());
    assert_eq!(got[1].0, big);
    let meta = &got[1].1;
    assert_eq!(
        (meta.transport, meta.encoding, meta.gzip, meta.items),
        (Transport::Grpc, Encoding::Protobuf, true, 50)
    );
    assert_eq!(meta.body_bytes, big.encoded_len());
    assert!(meta.peer.is_some());
}

#[tokio::test]
async fn grpc_bad_ids_are_partial_success() {
    let h = Harness::start().await;
    let mut client = h.grpc().await;
    let resp = client
        .export(request(vec![
            span("good", &TRACE_ID, &SPAN_ID),
            span("bad", &[1; 4], &SPAN_ID),
        ]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(resp.partial_success.unwrap().rejected_spans, 1);
}

#[tokio::test]
async fn grpc_malformed_is_invalid_argument_and_the_next_call_works() {
    let h = Harness::start().await;
    let path = receiver::GRPC_EXPORT_PATH;
    // Truncated protobuf.
    let (code, msg) = h.raw_grpc(path, false, &[0x0a, 100, 1, 2]).await;
    assert_eq!(code, "3", "{msg}");
    h.grpc().await.export(one_span()).await.unwrap();
    // Compressed flag set, body is not gzip.
    let (code, msg) = h.raw_grpc(path, true, b"not gzip at all").await;
    assert_eq!(code, "3", "{msg}");
    h.grpc().await.export(one_span()).await.unwrap();
    // Unknown method.
    let (code, _) = h
        .raw_grpc(
            "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
            false,
            &[],
        )
        .await;
    assert_eq!(code, "12", "UNIMPLEMENTED");
    assert_eq!(h.sink.take().len(), 2);
    assert_eq!(h.running.stats().snapshot().malformed_requests, 2);
}

#[tokio::test]
async fn grpc_oversize_and_gzip_bomb_are_refused() {
    let h = Harness::with_config(ReceiverConfig {
        http_addr: None,
        grpc_addr: localhost0(),
        max_body_bytes: 4096,
        ..Default::default()
    })
    .await;
    let big = request((0..200).map(|_| span("x", &TRACE_ID, &SPAN_ID)).collect());
    let err = h.grpc().await.export(big).await.unwrap_err();
    // Not retryable (OTLP clients retry OUT_OF_RANGE and RESOURCE_EXHAUSTED with RetryInfo).
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    let bomb = gzip(&vec![0u8; 1 << 20]);
    let (code, msg) = h.raw_grpc(receiver::GRPC_EXPORT_PATH, true, &bomb).await;
    assert_eq!(code, "3", "INVALID_ARGUMENT, not RESOURCE_EXHAUSTED: {msg}");
    h.grpc().await.export(one_span()).await.unwrap();
    assert_eq!(h.running.stats().snapshot().too_large_requests, 2);
}

#[tokio::test]
async fn grpc_backpressure_is_resource_exhausted_with_retry_info() {
    let h = Harness::start().await;
    h.sink.push_back.store(true, Ordering::SeqCst);
    let err = h.grpc().await.export(one_span()).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::ResourceExhausted);
    let details = RpcStatus::decode(err.details()).unwrap();
    let any = &details.details[0];
    assert_eq!(any.type_url, "type.googleapis.com/google.rpc.RetryInfo");
    let retry = RetryInfo::decode(any.value.as_slice()).unwrap();
    assert_eq!(
        retry.retry_delay,
        Some(ProtoDuration {
            seconds: 2,
            nanos: 500_000_000
        })
    );
    h.sink.push_back.store(false, Ordering::SeqCst);
    h.grpc().await.export(one_span()).await.unwrap();
}

// ---------------------------------------------------------------- lifecycle

#[tokio::test]
async fn bind_conflict_names_the_address() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let err = receiver::serve(
        ReceiverConfig {
            http_addr: localhost0(),
            grpc_addr: Some(addr),
            ..Default::default()
        },
        Arc::new(RecordingSink::default()),
        std::future::pending(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            err,
            ReceiverError::AddrInUse {
                protocol: "gRPC",
                ..
            }
        ),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(msg.starts_with(&format!("{addr} is in use: ")), "{msg}");
}

#[tokio::test]
async fn shutdown_drains_in_flight_requests_then_stops_listening() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let sink = Arc::new(RecordingSink::default());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = receiver::serve(
        ReceiverConfig {
            http_addr: localhost0(),
            grpc_addr: localhost0(),
            ..Default::default()
        },
        sink.clone(),
        async move {
            let _ = stopped.await;
        },
    )
    .await
    .unwrap();
    let addr = running.http_addr().unwrap();
    let stats = running.stats();

    // Start a request and send only half of its body.
    let body = one_span().encode_to_vec();
    let (first, second) = body.split_at(body.len() / 2);
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /v1/traces HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/x-protobuf\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    conn.write_all(first).await.unwrap();
    while stats.snapshot().requests == 0 {
        tokio::task::yield_now().await; // wait until the handler is running
    }

    stop.send(()).unwrap();
    let waiting = tokio::spawn(running.wait());
    tokio::task::yield_now().await;
    assert!(!waiting.is_finished(), "a request is still in flight");

    conn.write_all(second).await.unwrap();
    let mut response = Vec::new();
    conn.read_to_end(&mut response).await.unwrap(); // server closes after answering
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");

    waiting.await.unwrap().unwrap();
    assert_eq!(sink.take().len(), 1, "the in-flight batch reached the sink");
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "listener closed"
    );
}
