//! End-to-end: the distro's `AwsXrayExporter` (spans → segment documents →
//! PutTraceSegments through aws-sdk-xray) against the testkit's fake X-Ray
//! API, which verifies SigV4 independently, through real loopback sockets.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use aws_sdk_xray::config::timeout::TimeoutConfig;
use aws_sdk_xray::config::{BehaviorVersion, Credentials as SdkCredentials, Region};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use otel_aws_distro::export::{
    AwsXrayConfig, AwsXrayExporter, BatchExporter, ExportError, RetryPolicy,
};
use otel_aws_distro::translate::from_segment_value;
use otel_aws_testkit::server::RunningServer;
use otel_aws_testkit::sigv4::Credentials;
use otel_aws_testkit::xray_api::{FakeXrayApi, XrayApiOptions};
use serde_json::{Value, json};

fn client(url: &str, creds: &Credentials) -> aws_sdk_xray::Client {
    let conf = aws_sdk_xray::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(url)
        .credentials_provider(SdkCredentials::new(
            creds.access_key_id.clone(),
            creds.secret_access_key.clone(),
            creds.session_token.clone(),
            None,
            "e2e",
        ))
        .build();
    aws_sdk_xray::Client::from_conf(conf)
}

fn fast_retry() -> AwsXrayConfig {
    AwsXrayConfig {
        retry: RetryPolicy {
            max_attempts: 4,
            max_elapsed: Duration::from_secs(10),
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(5),
        },
        ..AwsXrayConfig::default()
    }
}

/// `n` spans of one trace: a SERVER root and CLIENT children.
fn batch(n: usize) -> ExportTraceServiceRequest {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    let mut trace_id = (now.as_secs() as u32).to_be_bytes().to_vec();
    trace_id.extend([0xab; 12]);
    let start = now.as_nanos() as u64 - 1_000_000_000;
    let spans = (0..n)
        .map(|i| Span {
            trace_id: trace_id.clone(),
            span_id: (i as u64 + 1).to_be_bytes().to_vec(),
            parent_span_id: if i == 0 {
                vec![]
            } else {
                1u64.to_be_bytes().to_vec()
            },
            name: format!("op-{i}"),
            kind: if i == 0 {
                SpanKind::Server
            } else {
                SpanKind::Client
            } as i32,
            start_time_unix_nano: start,
            end_time_unix_nano: start + 1_000_000,
            attributes: vec![KeyValue {
                key: "http.request.method".into(),
                value: Some(AnyValue {
                    value: Some(any_value::Value::StringValue("GET".into())),
                }),
                ..Default::default()
            }],
            ..Default::default()
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![KeyValue {
                    key: "service.name".into(),
                    value: Some(AnyValue {
                        value: Some(any_value::Value::StringValue("checkout".into())),
                    }),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            schema_url: String::new(),
        }],
    }
}

#[tokio::test]
async fn batches_of_50_signed_and_parse_back() {
    let fake = FakeXrayApi::start(XrayApiOptions::signed("us-east-1"))
        .await
        .unwrap();
    let exporter =
        AwsXrayExporter::new(client(&fake.url(), &Credentials::test()), fast_retry()).unwrap();
    let outcome = exporter.export(batch(120)).await.unwrap();
    assert_eq!(outcome.requests, 3);
    assert_eq!(outcome.spans_exported, 120);
    assert_eq!(outcome.spans_dropped, 0);
    assert!(fake.rejected().is_empty(), "{:?}", fake.rejected());

    // Spec: "`PutTraceSegments` takes at most 50 documents per call."
    let calls: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.path_and_query == "/TraceSegments")
        .collect();
    assert_eq!(calls.len(), 3);
    let mut sizes: Vec<usize> = calls
        .iter()
        .map(|r| {
            serde_json::from_slice::<Value>(&r.body).unwrap()["TraceSegmentDocuments"]
                .as_array()
                .unwrap()
                .len()
        })
        .collect();
    sizes.sort();
    assert_eq!(sizes, vec![20, 50, 50]);

    let docs = fake.segments();
    assert_eq!(docs.len(), 120);
    let mut ids: Vec<String> = docs
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 120);
    let root = docs
        .iter()
        .find(|d| d["id"] == json!("0000000000000001"))
        .unwrap();
    assert_eq!(root["name"], json!("checkout"));
    assert!(root.get("type").is_none());
    let child = docs
        .iter()
        .find(|d| d["id"] == json!("0000000000000002"))
        .unwrap();
    assert_eq!(child["type"], json!("subsegment"));
    assert_eq!(child["parent_id"], json!("0000000000000001"));
    assert_eq!(child["namespace"], json!("remote"));
    for d in &docs {
        let back = from_segment_value(d).unwrap();
        assert_eq!(back.resource_spans[0].scope_spans[0].spans.len(), 1);
    }
    let stats = exporter.stats().snapshot();
    assert_eq!(stats.spans_exported, 120);
    assert_eq!(stats.requests, 3);
}

#[tokio::test]
async fn wrong_secret_is_refused() {
    let fake = FakeXrayApi::start(XrayApiOptions::signed("us-east-1"))
        .await
        .unwrap();
    let mut wrong = Credentials::test();
    wrong.secret_access_key = "not-the-secret".into();
    let exporter = AwsXrayExporter::new(client(&fake.url(), &wrong), fast_retry()).unwrap();
    let err = exporter.export(batch(3)).await.unwrap_err();
    match err {
        ExportError::Rejected { status, .. } => assert_eq!(status, 403),
        other => panic!("expected a 403 rejection, got {other:?}"),
    }
    assert!(fake.segments().is_empty());
    assert_eq!(
        fake.rejected().len(),
        1,
        "a refused signature is not retried"
    );
    assert_eq!(exporter.stats().snapshot().spans_dropped, 3);
}

/// A PutTraceSegments stand-in: throttles the first `throttles` calls
/// (HTTP 429 ThrottledException, as X-Ray does), then reports the first
/// document of each call unprocessed `unprocessed` times.
#[derive(Default)]
struct Flaky {
    throttles: u32,
    unprocessed: u32,
    calls: AtomicU32,
    /// Holds successful calls until enough are in flight at once (to
    /// observe concurrency).
    gate: Option<Gate>,
    docs_seen: std::sync::Mutex<Vec<String>>,
}

/// Holds each call until `limit` calls are in flight at once, or every
/// call left of the `total` expected is: so an exporter allowed `limit`
/// calls at once has exactly that many in flight, whatever the machine's
/// speed. A call held past the guard (an exporter sending fewer at once)
/// opens the gate for good, and says so. Released calls stay in flight a
/// moment longer ([`GATE_SETTLE`]), so that an exporter sending more than
/// `limit` at once is seen doing it (the count of a correct one does not
/// depend on that moment).
struct Gate {
    limit: u32,
    total: u32,
    state: std::sync::Mutex<GateState>,
}

#[derive(Default)]
struct GateState {
    in_flight: u32,
    max_in_flight: u32,
    finished: u32,
    held: Vec<tokio::sync::oneshot::Sender<()>>,
    timed_out: bool,
}

/// How long the gate holds a call at most (the test's client waits longer).
const GATE_GUARD: Duration = Duration::from_secs(30);
/// How long released calls stay in flight.
const GATE_SETTLE: Duration = Duration::from_millis(100);

impl Gate {
    fn new(limit: u32, total: u32) -> Self {
        Self {
            limit,
            total,
            state: Default::default(),
        }
    }

    /// Releases every held call once enough are in flight.
    fn release_if_full(&self, s: &mut GateState) {
        if s.timed_out || s.in_flight >= self.limit.min(self.total.saturating_sub(s.finished)) {
            for held in s.held.drain(..) {
                let _ = held.send(());
            }
        }
    }

    async fn enter(&self) {
        let wait = {
            let mut s = self.state.lock().unwrap();
            s.in_flight += 1;
            s.max_in_flight = s.max_in_flight.max(s.in_flight);
            let (tx, rx) = tokio::sync::oneshot::channel();
            s.held.push(tx);
            self.release_if_full(&mut s);
            rx
        };
        if tokio::time::timeout(GATE_GUARD, wait).await.is_err() {
            let mut s = self.state.lock().unwrap();
            s.timed_out = true;
            self.release_if_full(&mut s);
        }
        tokio::time::sleep(GATE_SETTLE).await;
    }

    fn leave(&self) {
        let mut s = self.state.lock().unwrap();
        s.in_flight -= 1;
        s.finished += 1;
        self.release_if_full(&mut s);
    }
}

async fn flaky(State(f): State<Arc<Flaky>>, body: Bytes) -> Response {
    let n = f.calls.fetch_add(1, Ordering::SeqCst);
    if n < f.throttles {
        return (
            axum::http::StatusCode::TOO_MANY_REQUESTS,
            [
                ("x-amzn-errortype", "ThrottledException"),
                ("content-type", "application/json"),
            ],
            r#"{"message":"Rate exceeded"}"#,
        )
            .into_response();
    }
    if let Some(gate) = &f.gate {
        gate.enter().await;
        gate.leave();
    }
    let input: Value = serde_json::from_slice(&body).unwrap();
    let docs: Vec<String> = input["TraceSegmentDocuments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap().to_owned())
        .collect();
    f.docs_seen.lock().unwrap().extend(docs.iter().cloned());
    let first: Value = serde_json::from_str(&docs[0]).unwrap();
    let unprocessed = if n - f.throttles < f.unprocessed {
        json!([{"Id": first["id"], "ErrorCode": "InternalFailure", "Message": "try again"}])
    } else {
        json!([])
    };
    (
        [("content-type", "application/json")],
        json!({"UnprocessedTraceSegments": unprocessed}).to_string(),
    )
        .into_response()
}

async fn start_flaky(f: Arc<Flaky>) -> RunningServer {
    RunningServer::start(Router::new().fallback(flaky).with_state(f))
        .await
        .unwrap()
}

#[tokio::test]
async fn throttling_is_retried_with_backoff() {
    let f = Arc::new(Flaky {
        throttles: 2,
        ..Flaky::default()
    });
    let server = start_flaky(f.clone()).await;
    let exporter =
        AwsXrayExporter::new(client(&server.url(), &Credentials::test()), fast_retry()).unwrap();
    let outcome = exporter.export(batch(5)).await.unwrap();
    assert_eq!(outcome.spans_exported, 5);
    assert_eq!(outcome.retries, 2);
    assert_eq!(f.calls.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn throttling_past_the_policy_gives_up() {
    let f = Arc::new(Flaky {
        throttles: 100,
        ..Flaky::default()
    });
    let server = start_flaky(f.clone()).await;
    let exporter =
        AwsXrayExporter::new(client(&server.url(), &Credentials::test()), fast_retry()).unwrap();
    let err = exporter.export(batch(5)).await.unwrap_err();
    assert!(
        matches!(err, ExportError::GaveUp { attempts: 4, .. }),
        "{err:?}"
    );
    assert_eq!(f.calls.load(Ordering::SeqCst), 4);
    assert_eq!(exporter.stats().snapshot().spans_dropped, 5);
}

#[tokio::test]
async fn unprocessed_documents_are_retried_once_then_dropped() {
    // Left unprocessed once: the second call delivers it.
    let f = Arc::new(Flaky {
        unprocessed: 1,
        ..Flaky::default()
    });
    let server = start_flaky(f.clone()).await;
    let exporter =
        AwsXrayExporter::new(client(&server.url(), &Credentials::test()), fast_retry()).unwrap();
    let outcome = exporter.export(batch(5)).await.unwrap();
    assert_eq!((outcome.spans_exported, outcome.spans_dropped), (5, 0));
    assert_eq!(f.calls.load(Ordering::SeqCst), 2);
    assert_eq!(f.docs_seen.lock().unwrap().len(), 6);

    // Left unprocessed twice: dropped, not sent a third time.
    let f = Arc::new(Flaky {
        unprocessed: 5,
        ..Flaky::default()
    });
    let server = start_flaky(f.clone()).await;
    let exporter =
        AwsXrayExporter::new(client(&server.url(), &Credentials::test()), fast_retry()).unwrap();
    let outcome = exporter.export(batch(5)).await.unwrap();
    assert_eq!((outcome.spans_exported, outcome.spans_dropped), (4, 1));
    assert_eq!(f.calls.load(Ordering::SeqCst), 2);
    assert_eq!(exporter.stats().snapshot().spans_dropped, 1);
}

#[tokio::test]
async fn calls_run_in_parallel_up_to_the_limit() {
    // 95 documents, 10 a call: 10 calls, 3 at once.
    let f = Arc::new(Flaky {
        gate: Some(Gate::new(3, 10)),
        ..Flaky::default()
    });
    let server = start_flaky(f.clone()).await;
    let cfg = AwsXrayConfig {
        documents_per_call: 10,
        max_concurrency: 3,
        ..fast_retry()
    };
    // Calls held by the gate must not time out first (the exporter gives
    // an SDK client without one 10 s an attempt).
    let base = client(&server.url(), &Credentials::test());
    let timeouts = TimeoutConfig::builder()
        .operation_attempt_timeout(GATE_GUARD * 4)
        .build();
    let patient = aws_sdk_xray::Client::from_conf(
        base.config().to_builder().timeout_config(timeouts).build(),
    );
    let exporter = AwsXrayExporter::new(patient, cfg).unwrap();
    let outcome = exporter.export(batch(95)).await.unwrap();
    assert_eq!(outcome.requests, 10);
    assert_eq!(f.docs_seen.lock().unwrap().len(), 95);
    let gate = f.gate.as_ref().unwrap().state.lock().unwrap();
    assert!(
        !gate.timed_out,
        "fewer than 3 calls in flight at once (at most {})",
        gate.max_in_flight
    );
    assert_eq!(gate.max_in_flight, 3, "calls in flight at once");
    let too_many = AwsXrayConfig {
        documents_per_call: 51,
        ..fast_retry()
    };
    assert!(AwsXrayExporter::new(client(&server.url(), &Credentials::test()), too_many).is_err());
}
