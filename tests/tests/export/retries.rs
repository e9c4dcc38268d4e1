//! Failures of one request: what is retried (with backoff, `Retry-After`,
//! the budget), what is final, and what a hanging or absent endpoint costs.

use super::*;

#[tokio::test]
async fn retries_503_and_resigns_every_attempt() {
    let fake = xray_fake().await;
    fake.push_responses([
        FakeResponse::Status(503),
        FakeResponse::Status(503),
        FakeResponse::Status(503),
    ]);
    let clock = TestClock::new();
    let exporter = clock.install(
        OtlpHttpExporter::new(config(&fake), Some(aws_creds(&Credentials::test()))).unwrap(),
    );
    let sent = batch("svc", 20, 8);
    let outcome = exporter.export(sent.clone()).await.unwrap();
    assert_eq!(outcome.retries, 3);
    assert_eq!(outcome.spans_exported, 20);
    assert_eq!(fake.received(), vec![sent]);
    assert_eq!(fake.rejected(), vec![], "the final attempt verifies");
    let requests = fake.requests();
    assert_eq!(requests.len(), 4);
    let dates: std::collections::HashSet<_> = requests
        .iter()
        .map(|r| header(r, "x-amz-date").unwrap())
        .collect();
    let sigs: std::collections::HashSet<_> = requests
        .iter()
        .map(|r| header(r, "authorization").unwrap())
        .collect();
    assert_eq!(dates.len(), 4, "each retry carries a fresh x-amz-date");
    assert_eq!(sigs.len(), 4, "each retry is signed again");
    let policy = RetryPolicy::default();
    let sleeps = clock.sleeps();
    assert_eq!(sleeps.len(), 3);
    for (i, d) in sleeps.iter().enumerate() {
        let ceiling = policy.initial_backoff * 2u32.pow(i as u32);
        assert!(*d <= ceiling.min(policy.max_backoff), "backoff {i}: {d:?}");
    }
    assert_eq!(exporter.stats().snapshot().retries, 3);
}

#[tokio::test]
async fn retries_with_real_timer_too() {
    let fake = xray_fake().await;
    fake.push_responses([FakeResponse::Status(502), FakeResponse::Status(504)]);
    let cfg = OtlpHttpConfig {
        retry: RetryPolicy {
            initial_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(20),
            ..RetryPolicy::default()
        },
        ..config(&fake)
    };
    let exporter = OtlpHttpExporter::new(cfg, Some(aws_creds(&Credentials::test()))).unwrap();
    let outcome = exporter.export(batch("svc", 2, 1)).await.unwrap();
    assert_eq!(outcome.retries, 2);
    assert_eq!(fake.span_count(), 2);
}

#[tokio::test]
async fn throttling_honours_retry_after() {
    let fake = xray_fake().await;
    fake.push_responses([
        FakeResponse::RetryAfter(429, 3),
        FakeResponse::RetryAfter(503, 1),
    ]);
    let clock = TestClock::new();
    let exporter = clock.install(
        OtlpHttpExporter::new(config(&fake), Some(aws_creds(&Credentials::test()))).unwrap(),
    );
    exporter.export(batch("svc", 4, 1)).await.unwrap();
    assert_eq!(
        clock.sleeps(),
        vec![Duration::from_secs(3), Duration::from_secs(1)]
    );
    assert_eq!(fake.span_count(), 4);
}

#[tokio::test]
async fn retry_after_beyond_budget_gives_up() {
    let fake = xray_fake().await;
    fake.push_responses([FakeResponse::RetryAfter(429, 120)]);
    let clock = TestClock::new();
    let exporter = clock.install(
        OtlpHttpExporter::new(config(&fake), Some(aws_creds(&Credentials::test()))).unwrap(),
    );
    let err = exporter.export(batch("svc", 4, 1)).await.unwrap_err();
    assert!(
        matches!(err, ExportError::GaveUp { attempts: 1, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("429"), "{err}");
    assert!(clock.sleeps().is_empty());
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test]
async fn bad_request_is_not_retried_and_its_message_surfaces() {
    let fake = xray_fake().await;
    let body = r#"{"message":"The OTLP API is supported with CloudWatch Logs as a Trace Segment Destination. Please enable the CloudWatch Logs destination for your traces using the UpdateTraceSegmentDestination API"}"#;
    fake.push_responses([FakeResponse::StatusWithBody(400, body.into())]);
    let exporter =
        OtlpHttpExporter::new(config(&fake), Some(aws_creds(&Credentials::test()))).unwrap();
    let err = exporter.export(batch("svc", 3, 1)).await.unwrap_err();
    let ExportError::Rejected { status, message } = err else {
        panic!("expected a rejection");
    };
    assert_eq!(status, 400);
    assert!(
        message.starts_with("The OTLP API is supported with CloudWatch Logs"),
        "{message}"
    );
    assert!(
        message.contains("Transaction Search") && message.contains("PutTraceSegments"),
        "{message}"
    );
    assert_eq!(fake.requests().len(), 1);

    fake.push_responses([FakeResponse::StatusWithBody(
        413,
        "payload too large".into(),
    )]);
    let err = exporter.export(batch("svc", 3, 1)).await.unwrap_err();
    assert!(
        err.to_string().contains("HTTP 413: payload too large"),
        "{err}"
    );
    assert_eq!(fake.requests().len(), 2);
}

#[tokio::test]
async fn hanging_endpoint_times_out_and_is_retried() {
    let fake = xray_fake().await;
    fake.push_responses([FakeResponse::Hang]);
    let clock = TestClock::new();
    let cfg = OtlpHttpConfig {
        timeout: Duration::from_millis(300),
        ..config(&fake)
    };
    let exporter =
        clock.install(OtlpHttpExporter::new(cfg, Some(aws_creds(&Credentials::test()))).unwrap());
    let outcome = exporter.export(batch("svc", 2, 1)).await.unwrap();
    assert_eq!(outcome.retries, 1);
    assert_eq!(fake.requests().len(), 2);
    assert_eq!(fake.span_count(), 2);
}

#[tokio::test]
async fn unreachable_endpoint_gives_up_after_max_attempts() {
    // A port found free, outside the range the kernel assigns by itself:
    // nothing listens on it.
    let port = otel_aws_testkit::ports::free_port();
    let clock = TestClock::new();
    let cfg = OtlpHttpConfig {
        signing: Signing::Off,
        retry: RetryPolicy {
            max_attempts: 3,
            ..RetryPolicy::default()
        },
        ..OtlpHttpConfig::new(format!("http://127.0.0.1:{port}/v1/traces"))
    };
    let exporter = clock.install(OtlpHttpExporter::new(cfg, None).unwrap());
    let err = exporter.export(batch("svc", 2, 1)).await.unwrap_err();
    assert!(
        matches!(err, ExportError::GaveUp { attempts: 3, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("cannot connect"), "{err}");
    assert_eq!(clock.sleeps().len(), 2);
    assert_eq!(exporter.stats().snapshot().spans_dropped, 2);
}
