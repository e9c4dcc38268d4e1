//! End-to-end: the distro's OTLP/HTTP exporter against the fake AWS OTLP
//! endpoint (independent SigV4 verifier), through real loopback sockets.

// Test code: a failed unwrap is a failed test (clippy.toml allows it only
// inside #[test] functions, not in the helpers).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_credential_types::provider::SharedCredentialsProvider;
use aws_smithy_async::rt::sleep::{AsyncSleep, SharedAsyncSleep, Sleep};
use aws_smithy_async::time::{SharedTimeSource, TimeSource};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use otel_aws_distro::export::{
    BatchExporter, BatchSettings, Compression, EncodedTraces, ExportError, Limits, OtlpHttpConfig,
    OtlpHttpExporter, ProtoSpanExporter, Protocol, RetryPolicy, Signing, batch_processor,
};
use otel_aws_testkit::otlp::{FakeOtlpEndpoint, FakeResponse, OtlpEndpointOptions};
use otel_aws_testkit::sigv4::Credentials;

// ---------------------------------------------------------------- helpers

fn aws_creds(c: &Credentials) -> SharedCredentialsProvider {
    SharedCredentialsProvider::new(aws_credential_types::Credentials::new(
        c.access_key_id.clone(),
        c.secret_access_key.clone(),
        c.session_token.clone(),
        None,
        "e2e",
    ))
}

fn xray_signing() -> Signing {
    Signing::Force {
        service: Some("xray".into()),
        region: Some("us-east-1".into()),
    }
}

fn config(fake: &FakeOtlpEndpoint) -> OtlpHttpConfig {
    OtlpHttpConfig {
        signing: xray_signing(),
        timeout: Duration::from_secs(5),
        ..OtlpHttpConfig::new(fake.traces_url())
    }
}

async fn xray_fake() -> FakeOtlpEndpoint {
    FakeOtlpEndpoint::start(OtlpEndpointOptions::xray_traces("us-east-1"))
        .await
        .unwrap()
}

fn kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.into())),
        }),
        ..Default::default()
    }
}

/// `n` spans under one resource, each with a `payload` of `attr_len` bytes.
fn batch(service: &str, n: usize, attr_len: usize) -> ExportTraceServiceRequest {
    let spans = (0..n)
        .map(|i| Span {
            trace_id: [[0x5b; 8], (i as u64).to_be_bytes()].concat(),
            span_id: (i as u64 + 1).to_be_bytes().to_vec(),
            name: format!("op-{i}"),
            kind: 2,
            start_time_unix_nano: 1_700_000_000_000_000_000,
            end_time_unix_nano: 1_700_000_000_100_000_000,
            attributes: vec![kv("payload", &"p".repeat(attr_len))],
            ..Default::default()
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![kv("service.name", service)],
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

fn span_names(reqs: &[ExportTraceServiceRequest]) -> Vec<String> {
    reqs.iter()
        .flat_map(|r| &r.resource_spans)
        .flat_map(|rs| &rs.scope_spans)
        .flat_map(|ss| &ss.spans)
        .map(|s| s.name.clone())
        .collect()
}

/// A clock near real time (the fake checks skew) that moves 1 s per reading,
/// so every signature has its own `x-amz-date`; sleeping is instant and
/// recorded.
#[derive(Clone, Debug)]
struct TestClock {
    start: SystemTime,
    ticks: Arc<AtomicU64>,
    sleeps: Arc<Mutex<Vec<Duration>>>,
}

impl TestClock {
    fn new() -> Self {
        Self {
            start: SystemTime::now() - Duration::from_secs(60),
            ticks: Arc::default(),
            sleeps: Arc::default(),
        }
    }
    fn sleeps(&self) -> Vec<Duration> {
        self.sleeps.lock().unwrap().clone()
    }
    fn install(&self, e: OtlpHttpExporter) -> OtlpHttpExporter {
        e.with_time_source(SharedTimeSource::new(self.clone()))
            .with_sleep(SharedAsyncSleep::new(self.clone()))
    }
}

impl TimeSource for TestClock {
    fn now(&self) -> SystemTime {
        self.start + Duration::from_secs(self.ticks.fetch_add(1, Ordering::SeqCst))
    }
}

impl AsyncSleep for TestClock {
    fn sleep(&self, duration: Duration) -> Sleep {
        self.sleeps.lock().unwrap().push(duration);
        Sleep::new(std::future::ready(()))
    }
}

fn header(req: &otel_aws_testkit::server::RecordedRequest, name: &str) -> Option<String> {
    req.headers
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
}

// ------------------------------------------------------------------ tests

#[tokio::test]
async fn signed_export_verifies() {
    let fake = xray_fake().await;
    let exporter =
        OtlpHttpExporter::new(config(&fake), Some(aws_creds(&Credentials::test()))).unwrap();
    let sent = batch("checkout", 10, 16);
    let outcome = exporter.export(sent.clone()).await.unwrap();
    assert_eq!(fake.rejected(), vec![]);
    assert_eq!(fake.received(), vec![sent]);
    assert_eq!(
        (outcome.requests, outcome.spans_exported, outcome.retries),
        (1, 10, 0)
    );
    let req = &fake.requests()[0];
    let auth = header(req, "authorization").unwrap();
    assert!(auth.contains("Credential=AKIDEXAMPLE/"), "{auth}");
    assert!(auth.contains("/us-east-1/xray/aws4_request"), "{auth}");
    assert_eq!(
        header(req, "content-type").as_deref(),
        Some("application/x-protobuf")
    );
    let stats = exporter.stats().snapshot();
    assert_eq!(
        (stats.requests, stats.spans_exported, stats.retries),
        (1, 10, 0)
    );
}

#[tokio::test]
async fn session_token_is_sent_and_verified() {
    let creds = Credentials {
        session_token: Some("FwoGZXIvYXdzEBYaDExampleSessionToken".into()),
        ..Credentials::test()
    };
    let mut opts = OtlpEndpointOptions::xray_traces("us-east-1");
    opts.sigv4.as_mut().unwrap().credentials = creds.clone();
    let fake = FakeOtlpEndpoint::start(opts).await.unwrap();
    let exporter = OtlpHttpExporter::new(config(&fake), Some(aws_creds(&creds))).unwrap();
    exporter.export(batch("svc", 3, 1)).await.unwrap();
    assert_eq!(fake.rejected(), vec![]);
    assert_eq!(fake.span_count(), 3);
    assert_eq!(
        header(&fake.requests()[0], "x-amz-security-token"),
        creds.session_token
    );
}

#[tokio::test]
async fn wrong_secret_is_rejected_once_and_reported() {
    let fake = xray_fake().await;
    let wrong = Credentials {
        secret_access_key: "not-the-secret".into(),
        ..Credentials::test()
    };
    let exporter = OtlpHttpExporter::new(config(&fake), Some(aws_creds(&wrong))).unwrap();
    let err = exporter.export(batch("svc", 5, 1)).await.unwrap_err();
    let ExportError::Rejected { status, message } = &err else {
        panic!("expected a rejection, got {err:?}");
    };
    assert_eq!(*status, 403);
    assert_eq!(fake.requests().len(), 1, "a 403 must not be retried");
    let (fake_status, fake_reason) = &fake.rejected()[0];
    assert_eq!(*fake_status, 403);
    // The fake lists "<ErrorType>: <message>"; the exporter surfaces the message.
    let fake_message = fake_reason.split_once(": ").unwrap().1;
    let first_line = fake_message.lines().next().unwrap();
    assert!(first_line.len() > 20, "{first_line}");
    assert!(
        message.starts_with(first_line),
        "{message:?} vs {fake_message:?}"
    );
    assert!(message.contains("credentials"), "{message}");
    let stats = exporter.stats().snapshot();
    assert_eq!(stats.spans_dropped, 5);
    assert_eq!(stats.spans_exported, 0);
    assert!(stats.last_error.unwrap().contains("403"));
}

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
async fn protobuf_json_gzip_variants_arrive_intact() {
    for protocol in [Protocol::HttpProtobuf, Protocol::HttpJson] {
        for compression in [Compression::None, Compression::Gzip] {
            let fake = xray_fake().await;
            let cfg = OtlpHttpConfig {
                protocol,
                compression,
                ..config(&fake)
            };
            let exporter =
                OtlpHttpExporter::new(cfg, Some(aws_creds(&Credentials::test()))).unwrap();
            let sent = batch("variant", 7, 300);
            exporter.export(sent.clone()).await.unwrap();
            let case = format!("{protocol:?}/{compression:?}");
            assert_eq!(fake.rejected(), vec![], "{case}");
            assert_eq!(fake.received(), vec![sent], "{case}");
            let req = &fake.requests()[0];
            let want_ct = match protocol {
                Protocol::HttpProtobuf => "application/x-protobuf",
                Protocol::HttpJson => "application/json",
            };
            assert_eq!(
                header(req, "content-type").as_deref(),
                Some(want_ct),
                "{case}"
            );
            let want_ce = (compression == Compression::Gzip).then(|| "gzip".to_owned());
            assert_eq!(header(req, "content-encoding"), want_ce, "{case}");
            let signed = header(req, "authorization").unwrap();
            if compression == Compression::Gzip {
                assert!(
                    signed.contains("content-encoding"),
                    "content-encoding is signed: {signed}"
                );
            }
        }
    }
}

/// `req` as the in-process batch processor hands it over: its protobuf
/// bytes (prost's), its span count and its longest span.
fn encoded(req: &ExportTraceServiceRequest) -> EncodedTraces {
    use prost::Message as _;
    let spans: Vec<&Span> = req
        .resource_spans
        .iter()
        .flat_map(|rs| &rs.scope_spans)
        .flat_map(|ss| &ss.spans)
        .collect();
    let largest = spans.iter().map(|s| s.encoded_len()).max().unwrap_or(0);
    EncodedTraces::new(req.encode_to_vec(), spans.len(), largest)
}

/// A fake X-Ray OTLP endpoint and a signed exporter to it with `limits`.
async fn limited(limits: Limits) -> (FakeOtlpEndpoint, OtlpHttpExporter) {
    let fake = xray_fake().await;
    let cfg = OtlpHttpConfig {
        limits,
        ..config(&fake)
    };
    let exporter = OtlpHttpExporter::new(cfg, Some(aws_creds(&Credentials::test()))).unwrap();
    (fake, exporter)
}

/// An encoded batch within the limits goes out as it is (the body on the
/// wire is its bytes, gzip-compressed when configured, signed); JSON and
/// batches over a limit are decoded and take the usual path (split, the
/// over-size span dropped and counted).
#[tokio::test]
async fn encoded_batches_are_sent_as_they_are_within_the_limits() {
    for compression in [Compression::None, Compression::Gzip] {
        let fake = xray_fake().await;
        let cfg = OtlpHttpConfig {
            compression,
            ..config(&fake)
        };
        let exporter = OtlpHttpExporter::new(cfg, Some(aws_creds(&Credentials::test()))).unwrap();
        assert!(exporter.takes_encoded());
        let sent = batch("encoded", 7, 300);
        let outcome = exporter.export_encoded(encoded(&sent)).await.unwrap();
        assert_eq!((outcome.requests, outcome.spans_exported), (1, 7));
        assert_eq!(fake.rejected(), vec![], "{compression:?}");
        assert_eq!(fake.received(), vec![sent.clone()], "{compression:?}");
        if compression == Compression::None {
            let body = fake.requests()[0].body.clone();
            assert_eq!(body.as_ref(), encoded(&sent).body());
        }
        assert_eq!(exporter.stats().spans_exported.load(Ordering::Relaxed), 7);
    }

    let fake = xray_fake().await;
    let json = OtlpHttpConfig {
        protocol: Protocol::HttpJson,
        ..config(&fake)
    };
    let exporter = OtlpHttpExporter::new(json, Some(aws_creds(&Credentials::test()))).unwrap();
    assert!(!exporter.takes_encoded());
    let sent = batch("json", 3, 10);
    exporter.export_encoded(encoded(&sent)).await.unwrap();
    assert_eq!(fake.received(), vec![sent]);
    assert_eq!(
        header(&fake.requests()[0], "content-type").as_deref(),
        Some("application/json")
    );

    // Over the span count: split into requests of at most 3 spans.
    let (fake, exporter) = limited(Limits {
        max_spans_per_request: 3,
        ..Limits::default()
    })
    .await;
    let outcome = exporter
        .export_encoded(encoded(&batch("split", 7, 10)))
        .await
        .unwrap();
    assert_eq!((outcome.requests, outcome.spans_exported), (3, 7));
    let names = span_names(&fake.received());
    assert_eq!(names, (0..7).map(|i| format!("op-{i}")).collect::<Vec<_>>());

    // A span over the per-span limit: dropped and counted, the rest sent.
    let (fake, exporter) = limited(Limits {
        max_span_bytes: 1_000,
        ..Limits::default()
    })
    .await;
    let mut mixed = batch("mixed", 3, 10);
    let huge = batch("mixed", 1, 5_000).resource_spans[0].scope_spans[0].spans[0].clone();
    mixed.resource_spans[0].scope_spans[0].spans.push(huge);
    let outcome = exporter.export_encoded(encoded(&mixed)).await.unwrap();
    assert_eq!((outcome.spans_exported, outcome.spans_dropped), (3, 1));
    assert_eq!(fake.span_count(), 3);
    assert_eq!(exporter.stats().spans_dropped.load(Ordering::Relaxed), 1);

    exporter.shutdown().unwrap();
    let err = exporter
        .export_encoded(encoded(&batch("late", 1, 1)))
        .await
        .unwrap_err();
    assert!(matches!(err, ExportError::Shutdown), "{err}");
}

/// A provider of service `e2e-service` with `processor`, after five spans
/// `work-0`..`work-4` (attribute `i`) ended through it.
fn five_spans_through(
    processor: impl opentelemetry_sdk::trace::SpanProcessor + 'static,
) -> opentelemetry_sdk::trace::SdkTracerProvider {
    use opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_resource(
            opentelemetry_sdk::Resource::builder_empty()
                .with_service_name("e2e-service")
                .build(),
        )
        .with_span_processor(processor)
        .build();
    let tracer = provider.tracer("e2e");
    for i in 0..5 {
        let mut span = tracer.start(format!("work-{i}"));
        span.set_attribute(opentelemetry::KeyValue::new("i", i64::from(i)));
        span.end();
    }
    provider
}

/// The distro's own batch processor (what `init()` installs) in front of
/// the OTLP/HTTP exporter: the spans reach the endpoint, signed, with the
/// provider's resource.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn distro_batch_processor_exports_encoded_batches_to_the_fake() {
    let fake = xray_fake().await;
    let exporter = Arc::new(
        OtlpHttpExporter::new(config(&fake), Some(aws_creds(&Credentials::test()))).unwrap(),
    );
    let provider = five_spans_through(batch_processor(exporter.clone(), BatchSettings::default()));
    tokio::task::spawn_blocking(move || provider.shutdown())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(fake.rejected(), vec![]);
    let received = fake.received();
    assert_eq!(received.len(), 1);
    assert_eq!(
        span_names(&received),
        (0..5).map(|i| format!("work-{i}")).collect::<Vec<_>>()
    );
    let resource = received[0].resource_spans[0].resource.as_ref().unwrap();
    assert_eq!(resource.attributes[0].key, "service.name");
    assert_eq!(exporter.stats().spans_exported.load(Ordering::Relaxed), 5);
}

#[tokio::test]
async fn over_limit_batches_arrive_split() {
    let fake = xray_fake().await;
    let exporter =
        OtlpHttpExporter::new(config(&fake), Some(aws_creds(&Credentials::test()))).unwrap();

    // By count: 25,000 spans > 10,000 per request.
    let outcome = exporter.export(batch("many", 25_000, 1)).await.unwrap();
    assert_eq!(outcome.requests, 3);
    let received = fake.received();
    let counts: Vec<usize> = received
        .iter()
        .map(otel_aws_testkit::otlp::count_spans)
        .collect();
    assert!(counts.iter().all(|c| *c <= 10_000), "{counts:?}");
    assert_eq!(counts.iter().sum::<usize>(), 25_000);
    let names = span_names(&received);
    assert_eq!(
        names,
        (0..25_000).map(|i| format!("op-{i}")).collect::<Vec<_>>()
    );

    // By size: 70 spans of ~100 KB (~7 MB), bodies ≤ 5 MB; one 250 KB span dropped.
    let mut big = batch("big", 70, 100_000);
    let huge = batch("big", 1, 250_000).resource_spans[0].scope_spans[0].spans[0].clone();
    big.resource_spans[0].scope_spans[0].spans.push(huge);
    let before = fake.requests().len();
    let outcome = exporter.export(big).await.unwrap();
    assert_eq!(outcome.spans_dropped, 1);
    assert_eq!(outcome.spans_exported, 70);
    let requests = fake.requests();
    let new = &requests[before..];
    assert!(new.len() >= 2, "{}", new.len());
    for r in new {
        assert!(r.body.len() <= 5_000_000, "{}", r.body.len());
    }
    assert_eq!(fake.rejected(), vec![]);
    assert_eq!(fake.span_count(), 25_070);
}

/// A batch split into requests, one of which the destination refuses (a
/// final 400): only that request's spans are lost, the others are still
/// sent, and the outcome counts both.
#[tokio::test]
async fn a_refused_request_of_a_split_batch_loses_only_its_spans() {
    let (fake, exporter) = limited(Limits {
        max_spans_per_request: 3,
        ..Limits::default()
    })
    .await;
    fake.push_responses([
        FakeResponse::Status(200),
        FakeResponse::StatusWithBody(400, r#"{"message":"scripted refusal"}"#.into()),
    ]);
    let outcome = exporter.export(batch("split", 7, 1)).await.unwrap();
    assert_eq!(
        (
            outcome.requests,
            outcome.spans_exported,
            outcome.spans_dropped
        ),
        (2, 4, 3),
        "{outcome:?}"
    );
    assert_eq!(
        fake.requests().len(),
        3,
        "the request after the refusal is sent"
    );
    let stats = exporter.stats().snapshot();
    assert_eq!((stats.spans_exported, stats.spans_dropped), (4, 3));

    // Every request refused: the batch fails, all of it counted.
    fake.push_responses(std::iter::repeat_n(
        FakeResponse::StatusWithBody(400, r#"{"message":"scripted refusal"}"#.into()),
        3,
    ));
    let err = exporter.export(batch("split", 7, 1)).await.unwrap_err();
    assert!(
        matches!(err, ExportError::Rejected { status: 400, .. }),
        "{err:?}"
    );
    assert_eq!(exporter.stats().snapshot().spans_dropped, 3 + 7);
}

/// An outage (retries given up) stops the batch: the requests after it are
/// not sent, and all of them are counted as dropped.
#[tokio::test]
async fn an_outage_stops_a_split_batch() {
    let fake = xray_fake().await;
    let clock = TestClock::new();
    let cfg = OtlpHttpConfig {
        limits: Limits {
            max_spans_per_request: 3,
            ..Limits::default()
        },
        retry: RetryPolicy {
            max_attempts: 3,
            ..RetryPolicy::default()
        },
        ..config(&fake)
    };
    let exporter =
        clock.install(OtlpHttpExporter::new(cfg, Some(aws_creds(&Credentials::test()))).unwrap());
    let mut script = vec![FakeResponse::Status(200)];
    script.extend(std::iter::repeat_n(FakeResponse::Status(503), 3));
    fake.push_responses(script);
    let err = exporter.export(batch("split", 7, 1)).await.unwrap_err();
    assert!(
        matches!(err, ExportError::GaveUp { attempts: 3, .. }),
        "{err:?}"
    );
    assert_eq!(fake.requests().len(), 1 + 3);
    let stats = exporter.stats().snapshot();
    assert_eq!((stats.spans_exported, stats.spans_dropped), (3, 4));
}

/// A 200 that reports a partial success: the rejected spans are counted as
/// dropped, the rest as exported.
#[tokio::test]
async fn a_partial_success_counts_the_rejected_spans() {
    let fake = xray_fake().await;
    fake.push_responses([FakeResponse::StatusWithBody(
        200,
        r#"{"partialSuccess":{"rejectedSpans":"2","errorMessage":"2 spans too old"}}"#.into(),
    )]);
    let exporter =
        OtlpHttpExporter::new(config(&fake), Some(aws_creds(&Credentials::test()))).unwrap();
    let outcome = exporter.export(batch("svc", 5, 1)).await.unwrap();
    assert_eq!(
        (outcome.spans_exported, outcome.spans_dropped),
        (3, 2),
        "{outcome:?}"
    );
    let stats = exporter.stats().snapshot();
    assert_eq!((stats.spans_exported, stats.spans_dropped), (3, 2));
}

#[tokio::test]
async fn json_bodies_over_the_byte_limit_are_halved() {
    // Protobuf estimates fit 10 spans into the limit, the JSON body does not.
    let fake = xray_fake().await;
    let cfg = OtlpHttpConfig {
        protocol: Protocol::HttpJson,
        limits: Limits {
            max_request_bytes: 6_000,
            ..Limits::default()
        },
        ..config(&fake)
    };
    let exporter = OtlpHttpExporter::new(cfg, Some(aws_creds(&Credentials::test()))).unwrap();
    exporter.export(batch("json", 40, 100)).await.unwrap();
    for r in fake.requests() {
        assert!(r.body.len() <= 6_000, "{}", r.body.len());
    }
    assert_eq!(fake.span_count(), 40);
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_provider_with_async_batch_processor_exports_to_the_fake() {
    use opentelemetry_sdk::trace::span_processor_with_async_runtime::BatchSpanProcessor;

    let fake = xray_fake().await;
    let exporter: Arc<dyn BatchExporter> = Arc::new(
        OtlpHttpExporter::new(config(&fake), Some(aws_creds(&Credentials::test()))).unwrap(),
    );
    let processor = BatchSpanProcessor::builder(
        ProtoSpanExporter::new(exporter),
        opentelemetry_sdk::runtime::Tokio,
    )
    .build();
    let provider = five_spans_through(processor);
    // force_flush/shutdown block on the processor's task: call them off the runtime.
    let provider2 = provider.clone();
    tokio::task::spawn_blocking(move || provider2.force_flush())
        .await
        .unwrap()
        .unwrap();
    assert!(fake.wait_for_spans(5, Duration::from_secs(10)).await);
    assert_eq!(fake.rejected(), vec![]);
    let received = fake.received();
    let mut names = span_names(&received);
    names.sort();
    assert_eq!(
        names,
        vec!["work-0", "work-1", "work-2", "work-3", "work-4"]
    );
    let resource = received[0].resource_spans[0].resource.as_ref().unwrap();
    assert!(resource.attributes.iter().any(|kv| kv.key == "service.name"
        && kv.value.as_ref().and_then(|v| v.value.as_ref())
            == Some(&any_value::Value::StringValue("e2e-service".into()))));
    tokio::task::spawn_blocking(move || provider.shutdown())
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn custom_headers_are_sent_and_signed() {
    // The CloudWatch Logs fake requires both log headers and verifies SigV4
    // (service `logs`) over every signed header, the custom ones included.
    let fake = FakeOtlpEndpoint::start(OtlpEndpointOptions::cloudwatch_logs("eu-west-1"))
        .await
        .unwrap();
    let cfg = OtlpHttpConfig {
        headers: vec![
            ("x-aws-log-group".into(), "/otel/e2e".into()),
            ("x-aws-log-stream".into(), "stream-1".into()),
        ],
        signing: Signing::Force {
            service: Some("logs".into()),
            region: Some("eu-west-1".into()),
        },
        ..OtlpHttpConfig::new(fake.traces_url())
    };
    let exporter = OtlpHttpExporter::new(cfg, Some(aws_creds(&Credentials::test()))).unwrap();
    // A logs batch: the Logs fake decodes what it receives as logs.
    let logs = opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest {
        resource_logs: vec![opentelemetry_proto::tonic::logs::v1::ResourceLogs {
            scope_logs: vec![opentelemetry_proto::tonic::logs::v1::ScopeLogs {
                log_records: vec![opentelemetry_proto::tonic::logs::v1::LogRecord {
                    body: Some(AnyValue {
                        value: Some(any_value::Value::StringValue("hello".into())),
                    }),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    exporter.export_logs(logs).await.unwrap();
    assert_eq!(fake.rejected(), vec![]);
    assert_eq!(fake.accepted_bodies().len(), 1);
    let req = &fake.requests()[0];
    assert_eq!(header(req, "x-aws-log-group").as_deref(), Some("/otel/e2e"));
    let auth = header(req, "authorization").unwrap();
    assert!(auth.contains("x-aws-log-group;x-aws-log-stream"), "{auth}");
    assert!(auth.contains("/eu-west-1/logs/aws4_request"), "{auth}");
}
