//! EMF through PutLogEvents when CloudWatch Logs fails: the distro's
//! `PutLogEventsSender` (the sidecar's `awsemf` exporter and the Application
//! Signals metrics go through it) with the real aws-sdk-cloudwatchlogs
//! client, against a stand-in that answers each call from a script, over a
//! loopback socket. The answers are CloudWatch Logs' own (awsJson1_1 errors:
//! `x-amzn-errortype`, 400 for throttling and client errors, 503
//! `ServiceUnavailableException`); what the sender must do with each follows
//! the AWS SDKs' retry rules (throttling and 5xx are transient, every other
//! client error final) and the brief's "retried with backoff, bounded, and
//! counted when dropped".

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use otel_aws_distro::emf::{EmfEvent, LogDestination, PutLogEventsConfig, PutLogEventsSender};
use otel_aws_distro::export::{ExportError, RetryPolicy};
use otel_aws_testkit::server::RunningServer;
use serde_json::{Value, json};

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

/// One scripted answer to a PutLogEvents call.
#[derive(Clone, Copy, Debug)]
enum Answer {
    Ok,
    /// An AWS error: HTTP status and `x-amzn-errortype`.
    Error(u16, &'static str),
    /// No answer (a connection accepted and never answered).
    Hang,
}

#[derive(Default)]
struct Script {
    /// Answers to each operation, in order; once empty, `Ok`.
    answers: Mutex<HashMap<&'static str, VecDeque<Answer>>>,
    /// Every call's `X-Amz-Target` operation and body, in order.
    calls: Mutex<Vec<(String, Value)>>,
}

fn error(status: u16, code: &str) -> Response {
    (
        axum::http::StatusCode::from_u16(status).unwrap(),
        [
            ("x-amzn-errortype", code),
            ("content-type", "application/x-amz-json-1.1"),
        ],
        json!({"__type": code, "message": format!("scripted {code}")}).to_string(),
    )
        .into_response()
}

async fn logs(State(s): State<Arc<Script>>, headers: HeaderMap, body: Bytes) -> Response {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let op = target.rsplit('.').next().unwrap_or_default().to_owned();
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    s.calls.lock().unwrap().push((op.clone(), body));
    let answer = s
        .answers
        .lock()
        .unwrap()
        .get_mut(op.as_str())
        .and_then(VecDeque::pop_front)
        .unwrap_or(Answer::Ok);
    match answer {
        Answer::Error(status, code) => error(status, code),
        Answer::Hang => {
            tokio::time::sleep(Duration::from_secs(600)).await;
            error(504, "Hung")
        }
        Answer::Ok if op == "PutLogEvents" => (
            [("content-type", "application/x-amz-json-1.1")],
            r#"{"nextSequenceToken":"1"}"#,
        )
            .into_response(),
        Answer::Ok => ([("content-type", "application/x-amz-json-1.1")], "{}").into_response(),
    }
}

/// A stand-in answering PutLogEvents from `put`, other operations `Ok`.
async fn start(put: &[Answer]) -> (RunningServer, Arc<Script>) {
    start_with(&[("PutLogEvents", put)]).await
}

/// A stand-in answering each named operation from its list.
async fn start_with(script: &[(&'static str, &[Answer])]) -> (RunningServer, Arc<Script>) {
    let answers = script
        .iter()
        .map(|(op, a)| (*op, a.iter().copied().collect()))
        .collect();
    let script = Arc::new(Script {
        answers: Mutex::new(answers),
        ..Script::default()
    });
    let server = RunningServer::start(Router::new().fallback(logs).with_state(script.clone()))
        .await
        .unwrap();
    (server, script)
}

/// A stand-in whose first PutLogEvents finds the stream missing and whose
/// CreateLogStream answers from `create`.
async fn stream_missing(create: &[Answer]) -> (RunningServer, Arc<Script>) {
    start_with(&[
        (
            "PutLogEvents",
            &[Answer::Error(400, "ResourceNotFoundException")],
        ),
        ("CreateLogStream", create),
    ])
    .await
}

fn sender(url: &str) -> PutLogEventsSender {
    let creds =
        SharedCredentialsProvider::new(Credentials::new("AKIDEXAMPLE", SECRET, None, None, "test"));
    let cfg = PutLogEventsConfig {
        retry: RetryPolicy {
            max_attempts: 4,
            max_elapsed: Duration::from_secs(10),
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(5),
        },
        ..PutLogEventsConfig::default()
    };
    PutLogEventsSender::from_credentials("us-east-1", creds, Some(url.to_owned()), cfg).unwrap()
}

/// `n` EMF documents for one log group, timestamped now.
fn events(n: usize) -> Vec<EmfEvent> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let dest = Arc::new(LogDestination {
        log_group: "/aws/application-signals/data".into(),
        log_stream: Some("outage".into()),
    });
    (0..n)
        .map(|i| EmfEvent {
            timestamp_ms: now + i as i64,
            message: json!({"_aws": {"Timestamp": now + i as i64}, "n": i}).to_string(),
            destination: dest.clone(),
        })
        .collect()
}

fn operations(s: &Script) -> Vec<String> {
    s.calls
        .lock()
        .unwrap()
        .iter()
        .map(|(op, _)| op.clone())
        .collect()
}

#[tokio::test]
async fn throttling_and_unavailability_are_retried_until_delivered() {
    let (server, script) = start(&[
        Answer::Error(400, "ThrottlingException"),
        Answer::Error(503, "ServiceUnavailableException"),
        Answer::Error(500, "InternalFailure"),
    ])
    .await;
    let sender = sender(&server.url());
    let outcome = sender.send(events(3)).await.unwrap();
    assert_eq!(outcome.events_sent, 3, "{outcome:?}");
    assert_eq!(outcome.retries, 3);
    assert_eq!(outcome.dropped(), 0);
    assert_eq!(operations(&script), vec!["PutLogEvents"; 4]);
    // The same events each time, in order.
    let calls = script.calls.lock().unwrap();
    for (_, body) in calls.iter() {
        assert_eq!(body["logEvents"].as_array().unwrap().len(), 3);
        assert_eq!(body["logGroupName"], "/aws/application-signals/data");
    }
    let stats = sender.stats();
    assert_eq!(stats.calls.load(Ordering::Relaxed), 4);
    assert_eq!(stats.retries.load(Ordering::Relaxed), 3);
    assert_eq!(stats.events_dropped.load(Ordering::Relaxed), 0);
}

#[tokio::test]
async fn an_outage_past_the_retry_policy_gives_up_and_counts_the_events() {
    let (server, script) = start(&[Answer::Error(503, "ServiceUnavailableException"); 10]).await;
    let sender = sender(&server.url());
    let err = sender.send(events(5)).await.unwrap_err();
    assert!(
        matches!(err, ExportError::GaveUp { attempts: 4, .. }),
        "{err:?}"
    );
    assert_eq!(operations(&script).len(), 4, "bounded by max_attempts");
    let stats = sender.stats();
    assert_eq!(stats.events_dropped.load(Ordering::Relaxed), 5);
    assert_eq!(stats.events_sent.load(Ordering::Relaxed), 0);
    assert!(!err.to_string().contains(SECRET));
}

#[tokio::test]
async fn a_client_error_is_final_and_names_the_permission() {
    let (server, script) = start(&[Answer::Error(400, "AccessDeniedException")]).await;
    let sender = sender(&server.url());
    let err = sender.send(events(2)).await.unwrap_err();
    match &err {
        ExportError::Rejected { status, message } => {
            assert_eq!(*status, 400);
            assert!(message.contains("AccessDeniedException"), "{message}");
            assert!(message.contains("logs:PutLogEvents"), "{message}");
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
    assert_eq!(operations(&script), vec!["PutLogEvents"], "not retried");
    assert_eq!(sender.stats().events_dropped.load(Ordering::Relaxed), 2);
    assert!(!err.to_string().contains(SECRET));
}

#[tokio::test]
async fn a_missing_stream_is_created_then_the_events_sent() {
    let (server, script) = start(&[Answer::Error(400, "ResourceNotFoundException")]).await;
    let sender = sender(&server.url());
    let outcome = sender.send(events(2)).await.unwrap();
    assert_eq!(outcome.events_sent, 2, "{outcome:?}");
    assert_eq!(
        operations(&script),
        vec!["PutLogEvents", "CreateLogStream", "PutLogEvents"]
    );
    let calls = script.calls.lock().unwrap();
    assert_eq!(calls[1].1["logStreamName"], "outage");
    assert_eq!(sender.stats().created.load(Ordering::Relaxed), 1);
}

/// CreateLogStream's rate is per account and region: a fleet starting at
/// once is throttled, and the create is retried like the put.
#[tokio::test]
async fn a_throttled_create_is_retried() {
    let (server, script) = stream_missing(&[
        Answer::Error(400, "ThrottlingException"),
        Answer::Error(503, "ServiceUnavailableException"),
    ])
    .await;
    let sender = sender(&server.url());
    let outcome = sender.send(events(2)).await.unwrap();
    assert_eq!(outcome.events_sent, 2, "{outcome:?}");
    assert_eq!(
        operations(&script),
        vec![
            "PutLogEvents",
            "CreateLogStream",
            "CreateLogStream",
            "CreateLogStream",
            "PutLogEvents"
        ]
    );
    assert_eq!(sender.stats().created.load(Ordering::Relaxed), 1);
}

/// CreateLogStream says the group is missing: the group is created, then
/// the stream, then the events sent.
#[tokio::test]
async fn a_missing_group_is_created_before_its_stream() {
    let (server, script) = stream_missing(&[Answer::Error(400, "ResourceNotFoundException")]).await;
    let sender = sender(&server.url());
    let outcome = sender.send(events(2)).await.unwrap();
    assert_eq!(outcome.events_sent, 2, "{outcome:?}");
    assert_eq!(
        operations(&script),
        vec![
            "PutLogEvents",
            "CreateLogStream",
            "CreateLogGroup",
            "CreateLogStream",
            "PutLogEvents"
        ]
    );
    let calls = script.calls.lock().unwrap();
    assert_eq!(calls[2].1["logGroupName"], "/aws/application-signals/data");
    assert_eq!(sender.stats().created.load(Ordering::Relaxed), 2);
}

/// A create the credentials may not make is final: the events are counted
/// as dropped and the error names the permission.
#[tokio::test]
async fn a_create_denied_is_final_and_names_the_permission() {
    let (server, script) = stream_missing(&[Answer::Error(400, "AccessDeniedException")]).await;
    let sender = sender(&server.url());
    let err = sender.send(events(3)).await.unwrap_err();
    match &err {
        ExportError::Rejected { status, message } => {
            assert_eq!(*status, 400);
            assert!(message.contains("logs:CreateLogStream"), "{message}");
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
    assert_eq!(operations(&script), vec!["PutLogEvents", "CreateLogStream"]);
    assert_eq!(sender.stats().events_dropped.load(Ordering::Relaxed), 3);
    assert_eq!(sender.stats().created.load(Ordering::Relaxed), 0);
    assert!(!err.to_string().contains(SECRET));
}

/// A call that gets no answer ends at the attempt timeout and is retried
/// like any transient failure.
#[tokio::test]
async fn a_call_without_an_answer_times_out_and_is_retried() {
    let (server, script) = start(&[Answer::Hang]).await;
    let sender = sender(&server.url()).with_attempt_timeout(Duration::from_secs(2));
    let outcome = tokio::time::timeout(Duration::from_secs(120), sender.send(events(2)))
        .await
        .expect("the hung call never ended")
        .unwrap();
    assert_eq!(outcome.events_sent, 2, "{outcome:?}");
    // One retry at least (a loaded machine may time out an answered call
    // too); every call was a PutLogEvents of the same events.
    assert!(outcome.retries >= 1, "{outcome:?}");
    assert_eq!(
        operations(&script),
        vec!["PutLogEvents"; outcome.retries as usize + 1]
    );
}
