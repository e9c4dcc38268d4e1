//! Batches: encodings, encoded batches sent as they are, splitting past the
//! endpoint's limits, and what a split batch delivers when one request fails.

use super::*;

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
/// not sent, and all of them are counted as dropped; the error says how
/// many items went before (so a caller counts those as exported).
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
    let ExportError::PartlyDelivered { delivered, error } = &err else {
        panic!("{err:?}");
    };
    assert_eq!(*delivered, 3, "{err}");
    assert!(
        matches!(**error, ExportError::GaveUp { attempts: 3, .. }),
        "{err:?}"
    );
    assert_eq!(fake.requests().len(), 1 + 3);
    let stats = exporter.stats().snapshot();
    assert_eq!((stats.spans_exported, stats.spans_dropped), (3, 4));
    // The first request failing: nothing went, a plain outage.
    fake.push_responses(std::iter::repeat_n(FakeResponse::Status(503), 3));
    let err = exporter.export(batch("split", 7, 1)).await.unwrap_err();
    assert!(
        matches!(err, ExportError::GaveUp { attempts: 3, .. }),
        "{err:?}"
    );
    let stats = exporter.stats().snapshot();
    assert_eq!((stats.spans_exported, stats.spans_dropped), (3, 4 + 7));
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
