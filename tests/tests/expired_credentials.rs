//! Credentials that expire mid-run (issue 11, soak finding): an OTLP
//! endpoint that answers `403 ExpiredTokenException` (AWS's error for a
//! request signed with an expired session token) makes the distro's
//! exporter drop its cached credentials, load them again and retry; the
//! batch is delivered, signed with the new key. Other 403s stay refusals.
//! Credentials that cannot be loaded (an endpoint not ready yet) are
//! retried within the retry policy, like a failed request.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use aws_credential_types::Credentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::future::ProvideCredentials as ProvideFuture;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use otel_aws_distro::export::{
    BatchExporter, ExportError, OtlpHttpConfig, OtlpHttpExporter, RetryPolicy, Signing,
};
use otel_aws_testkit::otlp::{FakeOtlpEndpoint, FakeResponse, OtlpEndpointOptions};

/// Hands out a new key on every load (`AKIDLOAD1`, `AKIDLOAD2`, …), as a
/// rotating role session does; the first `failures` loads fail.
#[derive(Debug, Default)]
struct Rotating {
    loads: Arc<AtomicUsize>,
    failures: usize,
}

impl ProvideCredentials for Rotating {
    fn provide_credentials<'a>(&'a self) -> ProvideFuture<'a>
    where
        Self: 'a,
    {
        let n = self.loads.fetch_add(1, Ordering::SeqCst) + 1;
        if n <= self.failures {
            return ProvideFuture::ready(Err(CredentialsError::provider_error(
                "the container credentials endpoint is not ready",
            )));
        }
        ProvideFuture::ready(Ok(Credentials::new(
            format!("AKIDLOAD{n}"),
            "secret",
            Some("session-token".into()),
            None,
            "rotating",
        )))
    }
}

fn batch() -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: vec![Span {
                    trace_id: vec![7; 16],
                    span_id: vec![9; 8],
                    name: "work".into(),
                    start_time_unix_nano: 1,
                    end_time_unix_nano: 2,
                    ..Span::default()
                }],
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }],
    }
}

async fn exporter_against(fake: &FakeOtlpEndpoint, loads: Arc<AtomicUsize>) -> OtlpHttpExporter {
    exporter_failing(fake, loads, 0)
}

/// An exporter whose first `failures` credential loads fail.
fn exporter_failing(
    fake: &FakeOtlpEndpoint,
    loads: Arc<AtomicUsize>,
    failures: usize,
) -> OtlpHttpExporter {
    let cfg = OtlpHttpConfig {
        signing: Signing::Force {
            service: Some("xray".into()),
            region: Some("us-east-1".into()),
        },
        retry: RetryPolicy {
            initial_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(20),
            ..RetryPolicy::default()
        },
        ..OtlpHttpConfig::new(fake.traces_url())
    };
    let provider = SharedCredentialsProvider::new(Rotating { loads, failures });
    OtlpHttpExporter::new(cfg, Some(provider)).unwrap()
}

fn access_key_of(req: &otel_aws_testkit::server::RecordedRequest) -> String {
    let auth = req.headers["authorization"].to_str().unwrap();
    let cred = auth.split("Credential=").nth(1).unwrap();
    cred.split('/').next().unwrap().to_owned()
}

#[tokio::test]
async fn an_expired_token_answer_reloads_the_credentials_and_delivers() {
    let fake = FakeOtlpEndpoint::start(OtlpEndpointOptions::default())
        .await
        .unwrap();
    fake.push_responses([FakeResponse::StatusWithBody(
        403,
        r#"{"__type":"ExpiredTokenException","message":"The security token included in the request is expired"}"#
            .into(),
    )]);
    let loads = Arc::new(AtomicUsize::new(0));
    let exporter = exporter_against(&fake, loads.clone()).await;

    let outcome = exporter
        .export(batch())
        .await
        .expect("delivered after a reload");
    assert_eq!(outcome.spans_exported, 1);
    let requests = fake.requests();
    assert_eq!(requests.len(), 2, "the refused request, then the retry");
    assert_eq!(access_key_of(&requests[0]), "AKIDLOAD1");
    assert_eq!(
        access_key_of(&requests[1]),
        "AKIDLOAD2",
        "the retry is signed with freshly loaded credentials"
    );
    assert_eq!(loads.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn an_access_denied_answer_is_still_a_refusal() {
    let fake = FakeOtlpEndpoint::start(OtlpEndpointOptions::default())
        .await
        .unwrap();
    fake.push_responses([FakeResponse::StatusWithBody(
        403,
        r#"{"__type":"AccessDeniedException","message":"User is not authorized to perform: xray:PutTraceSegments"}"#
            .into(),
    )]);
    let loads = Arc::new(AtomicUsize::new(0));
    let exporter = exporter_against(&fake, loads.clone()).await;

    let err = exporter.export(batch()).await.unwrap_err();
    assert!(
        matches!(err, ExportError::Rejected { status: 403, .. }),
        "{err:?}"
    );
    assert_eq!(fake.requests().len(), 1, "no retry of a permission error");
    assert_eq!(loads.load(Ordering::SeqCst), 1, "the cache is kept");
}

/// A task's first batches can meet a credentials endpoint that is not ready
/// yet: the loads are retried with the request, and the batch delivered.
#[tokio::test]
async fn credentials_that_fail_to_load_are_retried_then_delivered() {
    let fake = FakeOtlpEndpoint::start(OtlpEndpointOptions::default())
        .await
        .unwrap();
    let loads = Arc::new(AtomicUsize::new(0));
    let exporter = exporter_failing(&fake, loads.clone(), 2);

    let outcome = exporter
        .export(batch())
        .await
        .expect("delivered once the credentials load");
    assert_eq!(outcome.spans_exported, 1);
    assert_eq!(outcome.retries, 2);
    assert_eq!(loads.load(Ordering::SeqCst), 3);
    let requests = fake.requests();
    assert_eq!(requests.len(), 1, "nothing sent unsigned");
    assert_eq!(access_key_of(&requests[0]), "AKIDLOAD3");
}

/// Credentials that never load: bounded by the retry policy, the spans
/// counted as dropped, nothing sent, and the error says why.
#[tokio::test]
async fn credentials_that_never_load_give_up_within_the_policy() {
    let fake = FakeOtlpEndpoint::start(OtlpEndpointOptions::default())
        .await
        .unwrap();
    let loads = Arc::new(AtomicUsize::new(0));
    let exporter = exporter_failing(&fake, loads.clone(), usize::MAX);

    let err = exporter.export(batch()).await.unwrap_err();
    let attempts = RetryPolicy::default().max_attempts;
    match &err {
        ExportError::GaveUp {
            attempts: a,
            reason,
        } => {
            assert_eq!(*a, attempts);
            assert!(reason.contains("cannot load AWS credentials"), "{reason}");
        }
        other => panic!("expected to give up, got {other:?}"),
    }
    assert_eq!(loads.load(Ordering::SeqCst), attempts as usize);
    assert!(fake.requests().is_empty(), "nothing sent unsigned");
    assert_eq!(exporter.stats().snapshot().spans_dropped, 1);
}
