//! End-to-end: X-Ray adaptive sampling against the testkit's fake X-Ray API
//! (issue 15): spans from a real SDK tracer provider with the distro's
//! sampler; boost statistics reported in `GetSamplingTargets`, the boost
//! X-Ray grants applied until its TTL, anomaly spans of not-sampled traces
//! captured within `anomalyTracesPerSecond` and marked
//! `aws.trace.flag.sampled=false`; a bad configuration turns it all off.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use opentelemetry::trace::{Span as _, SpanKind, TraceContextExt, Tracer, TracerProvider as _};
use opentelemetry::{Context, KeyValue, Value};
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{
    InMemorySpanExporter, InMemorySpanExporterBuilder, SdkTracerProvider, SimpleSpanProcessor,
    Span, SpanData, SpanExporter, SpanProcessor,
};
use otel_aws_distro::Env;
use otel_aws_distro::sampling::xray::{
    AWS_XRAY_ADAPTIVE_SAMPLING_CONFIG, AdaptiveSampling, AdaptiveSamplingConfig,
    AnomalyCaptureProcessor, ManualClock, ResourceInfo, SAMPLING_RULE_TRACE_STATE_KEY,
    SamplingBoostStatistics, TRACE_FLAG_SAMPLED_ATTRIBUTE, XrayApiClient, XraySampler,
    refresh_rules, report_statistics,
};
use otel_aws_distro::sampling::{
    ConfiguredSampler, OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG, SamplerConfig,
};
use otel_aws_testkit::xray_api::{FakeXrayApi, XrayApiOptions, boosted_sampling_rule};
use serde_json::{Value as Json, json};

fn resource() -> ResourceInfo {
    ResourceInfo {
        service_name: Some("checkout".into()),
        ..ResourceInfo::default()
    }
}

/// "checkout": fixed rate 0, no reservoir, boost up to 1.0 (so a boosted
/// rule samples everything), cooldown 10 minutes; plus the Default rule.
fn rules() -> Json {
    let mut default = boosted_sampling_rule("Default", "*", 10000, 0, 0.0, 1.0, 1);
    default["SamplingRule"]
        .as_object_mut()
        .unwrap()
        .remove("SamplingRateBoost");
    json!({ "SamplingRuleRecords": [
        boosted_sampling_rule("checkout", "checkout", 1, 0, 0.0, 1.0, 10),
        default,
    ]})
}

/// [`rules`] without SamplingRateBoost.
fn plain_rules() -> Json {
    let mut plain = rules();
    for r in plain["SamplingRuleRecords"].as_array_mut().unwrap() {
        r["SamplingRule"]
            .as_object_mut()
            .unwrap()
            .remove("SamplingRateBoost");
    }
    plain
}

/// Capture of traces with a 5xx span, two traces a second.
fn capture_config() -> AdaptiveSampling {
    AdaptiveSampling::Config(
        AdaptiveSamplingConfig::from_text(
            r#"{"version": 1.0,
            "anomalyConditions": [{"errorCodeRegex": "^5\\d\\d$", "usage": "anomaly-trace-capture"}],
            "anomalyCaptureLimit": {"anomalyTracesPerSecond": 2}}"#,
        )
        .unwrap(),
    )
}

/// An exporter keeping every span it is given, also after its shutdown
/// (`InMemorySpanExporter` forgets them there); `hang` makes each export
/// never finish.
#[derive(Clone, Debug, Default)]
struct Recorder {
    spans: Arc<Mutex<Vec<SpanData>>>,
    shut_down: Arc<AtomicBool>,
    hang: bool,
}

impl Recorder {
    fn spans(&self) -> Vec<SpanData> {
        self.spans.lock().unwrap().clone()
    }

    fn names(&self) -> Vec<String> {
        self.spans().iter().map(|s| s.name.to_string()).collect()
    }

    fn is_shut_down(&self) -> bool {
        self.shut_down.load(Ordering::SeqCst)
    }
}

impl SpanExporter for Recorder {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        if self.hang {
            std::future::pending::<()>().await;
        }
        self.spans.lock().unwrap().extend(batch);
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        self.shut_down.store(true, Ordering::SeqCst);
        Ok(())
    }
}

/// The capture processor, shared with the test (the provider owns its
/// processors) to call it directly.
#[derive(Debug)]
struct SharedCapture(Arc<AnomalyCaptureProcessor>);

impl SpanProcessor for SharedCapture {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        self.0.on_start(span, cx);
    }
    fn on_end(&self, span: SpanData) {
        self.0.on_end(span);
    }
    fn force_flush(&self) -> OTelSdkResult {
        self.0.force_flush()
    }
    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }
}

struct Setup {
    fake: FakeXrayApi,
    client: XrayApiClient,
    clock: Arc<ManualClock>,
    sampler: XraySampler,
    provider: SdkTracerProvider,
    sampled: InMemorySpanExporter,
    captured: Recorder,
    capture: Arc<AnomalyCaptureProcessor>,
}

async fn setup(rules: Json, adaptive: AdaptiveSampling) -> Setup {
    setup_capture(
        rules,
        adaptive,
        Recorder::default(),
        AnomalyCaptureProcessor::new,
    )
    .await
}

/// [`setup`], the capture processor exporting to `captured`, built by
/// `build`.
async fn setup_capture(
    rules: Json,
    adaptive: AdaptiveSampling,
    captured: Recorder,
    build: impl FnOnce(XraySampler, Vec<Recorder>) -> AnomalyCaptureProcessor,
) -> Setup {
    let fake = FakeXrayApi::start(XrayApiOptions {
        sampling_rules: rules,
        ..XrayApiOptions::default()
    })
    .await
    .unwrap();
    let client = XrayApiClient::proxy(&fake.url()).unwrap();
    let clock = Arc::new(ManualClock::new(SystemTime::now()));
    let sampler = XraySampler::remote_adaptive(resource(), clock.clone(), adaptive);
    refresh_rules(&sampler, &client).await.unwrap();
    let sampled = InMemorySpanExporterBuilder::new().build();
    let capture = Arc::new(build(sampler.clone(), vec![captured.clone()]));
    let provider = SdkTracerProvider::builder()
        .with_sampler(ConfiguredSampler::from_xray(sampler.clone()))
        .with_span_processor(SharedCapture(capture.clone()))
        .with_span_processor(SimpleSpanProcessor::new(sampled.clone()))
        .build();
    Setup {
        fake,
        client,
        clock,
        sampler,
        provider,
        sampled,
        captured,
        capture,
    }
}

/// A SERVER root span `GET /orders` answering `status`, with a CLIENT child
/// that failed with `child_status` (it ends first). Returns whether the
/// trace was sampled.
fn request(s: &Setup, status: i64, child_status: i64) -> bool {
    let tracer = s.provider.tracer("test");
    let root = tracer
        .span_builder("GET /orders")
        .with_kind(SpanKind::Server)
        .with_attributes([
            KeyValue::new("http.request.method", "GET"),
            KeyValue::new("url.path", "/orders"),
            KeyValue::new("http.response.status_code", status),
        ])
        .start(&tracer);
    let sampled = root.span_context().is_sampled();
    let cx = Context::current_with_span(root);
    let mut child = tracer
        .span_builder("inventory")
        .with_kind(SpanKind::Client)
        .with_attributes([KeyValue::new("http.response.status_code", child_status)])
        .start_with_context(&tracer, &cx);
    child.end();
    cx.span().end();
    sampled
}

async fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The provider's flush, off the runtime's thread (the capture processor's
/// flush blocks until its export task, on this runtime, answers).
async fn flush(s: &Setup) -> OTelSdkResult {
    let provider = s.provider.clone();
    tokio::task::spawn_blocking(move || provider.force_flush())
        .await
        .unwrap()
}

fn boost_docs(fake: &FakeXrayApi) -> Vec<Json> {
    fake.sampling_boost_statistics()
}

#[tokio::test]
async fn boost_statistics_reported_and_the_boost_applied_until_its_ttl() {
    let s = setup(rules(), AdaptiveSampling::Default).await;
    assert!(
        s.sampler.records_unsampled(),
        "a rule has SamplingRateBoost"
    );

    // Fixed rate 0: nothing sampled; 4 of 10 traces fail (one by a child's 5xx).
    let mut sampled = 0;
    for i in 0..10 {
        let (status, child) = match i {
            0..3 => (500, 200),
            3 => (200, 503),
            _ => (200, 200),
        };
        sampled += usize::from(request(&s, status, child));
    }
    assert_eq!(sampled, 0);
    assert!(s.sampled.get_finished_spans().unwrap().is_empty());
    let outcome = report_statistics(&s.sampler, &s.client, Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(outcome.documents, 2, "checkout and Default");
    let docs = boost_docs(&s.fake);
    assert_eq!(
        docs.len(),
        1,
        "only the rule with SamplingRateBoost: {docs:?}"
    );
    let d = &docs[0];
    assert_eq!(
        (
            &d["RuleName"],
            &d["ServiceName"],
            &d["TotalCount"],
            &d["AnomalyCount"],
            &d["SampledAnomalyCount"]
        ),
        (
            &json!("checkout"),
            &json!("checkout"),
            &json!(10),
            &json!(4),
            &json!(0)
        ),
        "each trace counted once: {d}"
    );
    assert!(d["Timestamp"].as_f64().unwrap() > 1.7e9);

    // X-Ray granted MaxRate until BoostRateTTL: every trace is sampled.
    let (rate, until) = s.sampler.boost_of("checkout").expect("boost applied");
    assert_eq!(rate, 1.0);
    assert_eq!(Some(until), s.fake.boost_of("checkout").map(|b| b.1));
    assert!((0..5).all(|_| request(&s, 200, 200)), "boosted to 1.0");
    let spans = s.sampled.get_finished_spans().unwrap();
    assert_eq!(spans.len(), 10, "5 traces × 2 spans");
    assert!(spans.iter().all(|sp| {
        sp.span_context
            .trace_state()
            .get(SAMPLING_RULE_TRACE_STATE_KEY)
            .is_some()
    }));

    // A sampled anomaly counts as SampledAnomalyCount; the cooldown keeps
    // X-Ray from granting a second boost, so once the TTL passes the rule's
    // fixed rate (0) is back.
    assert!(request(&s, 502, 200));
    report_statistics(&s.sampler, &s.client, Duration::from_secs(10))
        .await
        .unwrap();
    let d = boost_docs(&s.fake)[1].clone();
    assert_eq!(
        (
            &d["TotalCount"],
            &d["AnomalyCount"],
            &d["SampledAnomalyCount"]
        ),
        (&json!(6), &json!(1), &json!(1)),
        "{d}"
    );
    s.clock.set(until + Duration::from_secs(1));
    assert_eq!(s.sampler.boost_of("checkout"), None);
    assert!(!request(&s, 200, 200), "the boost ended at its TTL");
    assert!(s.fake.rejected().is_empty(), "{:?}", s.fake.rejected());
}

#[tokio::test]
async fn anomaly_spans_of_unsampled_traces_captured_within_the_limit() {
    // No rule with SamplingRateBoost here: capture works on its own.
    let s = setup(plain_rules(), capture_config()).await;
    assert!(s.sampler.records_unsampled(), "a configuration is given");

    // Five failing traces in one second: two are captured, whole (the child
    // that failed and the root that ended after it); healthy traces never.
    for _ in 0..5 {
        assert!(!request(&s, 200, 500));
    }
    assert!(!request(&s, 200, 200));
    flush(&s).await.unwrap();
    assert_eq!(s.captured.spans().len(), 4, "2 traces × 2 spans");
    // The next second has room for two more.
    s.clock.advance(Duration::from_secs(1));
    assert!(!request(&s, 200, 500));
    flush(&s).await.unwrap();
    let spans = s.captured.spans();
    assert_eq!(spans.len(), 6, "within the limit");
    assert_eq!((s.capture.captured(), s.capture.dropped()), (6, 0));
    let traces: std::collections::HashSet<_> =
        spans.iter().map(|sp| sp.span_context.trace_id()).collect();
    assert_eq!(traces.len(), 3, "whole traces");
    for sp in &spans {
        assert!(!sp.span_context.is_sampled());
        let flag = sp
            .attributes
            .iter()
            .find(|kv| kv.key.as_str() == TRACE_FLAG_SAMPLED_ATTRIBUTE)
            .map(|kv| kv.value.clone());
        assert_eq!(flag, Some(Value::Bool(false)), "{}", sp.name);
    }
    assert!(
        s.sampled.get_finished_spans().unwrap().is_empty(),
        "the regular pipeline exports only sampled spans"
    );
    // No SamplingRateBoost: no boost statistics.
    report_statistics(&s.sampler, &s.client, Duration::from_secs(10))
        .await
        .unwrap();
    assert!(boost_docs(&s.fake).is_empty());
}

#[tokio::test]
async fn a_bad_configuration_turns_adaptive_sampling_off() {
    let env = Env::from_pairs([
        (OTEL_TRACES_SAMPLER, "xray"),
        (OTEL_TRACES_SAMPLER_ARG, "endpoint=http://127.0.0.1:2000"),
        (AWS_XRAY_ADAPTIVE_SAMPLING_CONFIG, r#"{"version": 3}"#),
    ]);
    let Ok(SamplerConfig::Xray(opts)) = SamplerConfig::from_env(&env) else {
        panic!("the sampler itself is configured");
    };
    let why = opts.adaptive.rejection().expect("rejected").to_string();
    assert!(why.contains(AWS_XRAY_ADAPTIVE_SAMPLING_CONFIG), "{why}");

    let s = setup(rules(), opts.adaptive.clone()).await;
    assert!(!s.sampler.records_unsampled());
    // Another service's anomalies made X-Ray boost "checkout": this
    // sampler must not apply the boost it is handed.
    let other = SamplingBoostStatistics {
        rule_name: "checkout".into(),
        service_name: "checkout".into(),
        timestamp: SystemTime::now(),
        anomaly_count: 5,
        total_count: 5,
        sampled_anomaly_count: 0,
    };
    s.client.get_sampling_targets(&[], &[other]).await.unwrap();
    assert!(s.fake.boost_of("checkout").is_some());
    for _ in 0..3 {
        assert!(!request(&s, 500, 500));
    }
    report_statistics(&s.sampler, &s.client, Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(boost_docs(&s.fake).len(), 1, "none from this sampler");
    assert_eq!(s.sampler.boost_of("checkout"), None, "no boost applied");
    assert!(s.captured.spans().is_empty());
}

/// A flush exports the captured spans queued when it is called, then
/// reports success: here a batch's first span would wait an hour for
/// company, so the flush is the only way they leave.
#[tokio::test]
async fn force_flush_exports_the_captured_spans_before_it_returns() {
    let s = setup_capture(
        plain_rules(),
        capture_config(),
        Recorder::default(),
        |sampler, exporters| {
            AnomalyCaptureProcessor::with_delay(sampler, exporters, Duration::from_secs(3600))
        },
    )
    .await;
    assert!(!request(&s, 200, 500));
    assert_eq!(s.capture.captured(), 2);
    flush(&s).await.unwrap();
    assert_eq!(s.captured.names(), ["inventory", "GET /orders"]);
    // The next flush sends what came since.
    assert!(!request(&s, 200, 500));
    flush(&s).await.unwrap();
    assert_eq!(s.captured.spans().len(), 4);
    assert!(!s.captured.is_shut_down());
}

/// The shutdown exports what is queued, shuts the exporter down, and only
/// then returns.
#[tokio::test]
async fn shutdown_exports_the_captured_spans_before_it_returns() {
    let s = setup_capture(
        plain_rules(),
        capture_config(),
        Recorder::default(),
        |sampler, exporters| {
            AnomalyCaptureProcessor::with_delay(sampler, exporters, Duration::from_secs(3600))
        },
    )
    .await;
    assert!(!request(&s, 200, 500));
    let provider = s.provider.clone();
    tokio::task::spawn_blocking(move || provider.shutdown())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(s.captured.names(), ["inventory", "GET /orders"]);
    assert!(s.captured.is_shut_down());
    let capture = s.capture.clone();
    let again = tokio::task::spawn_blocking(move || capture.force_flush())
        .await
        .unwrap();
    assert!(
        matches!(again, Err(OTelSdkError::AlreadyShutdown)),
        "{again:?}"
    );
}

/// An exporter that never answers: the flush and the shutdown give up
/// after the processor's timeout, and say so.
#[tokio::test]
async fn a_hung_exporter_fails_the_flush_and_the_shutdown_after_the_timeout() {
    let timeout = Duration::from_millis(200);
    let hung = Recorder {
        hang: true,
        ..Recorder::default()
    };
    let s = setup_capture(
        plain_rules(),
        capture_config(),
        hung,
        |sampler, exporters| AnomalyCaptureProcessor::new(sampler, exporters).with_timeout(timeout),
    )
    .await;
    assert!(!request(&s, 200, 500));
    let capture = s.capture.clone();
    let (flushed, shut) = tokio::task::spawn_blocking(move || {
        (
            capture.force_flush(),
            capture.shutdown_with_timeout(timeout),
        )
    })
    .await
    .unwrap();
    assert!(
        matches!(flushed, Err(OTelSdkError::Timeout(t)) if t == timeout),
        "{flushed:?}"
    );
    assert!(
        matches!(shut, Err(OTelSdkError::Timeout(t)) if t == timeout),
        "{shut:?}"
    );
    assert!(s.captured.spans().is_empty());
}

/// Through `init()`: `OTEL_TRACES_SAMPLER=xray` with a proxy endpoint and
/// `AWS_XRAY_ADAPTIVE_SAMPLING_CONFIG`; a failing request the rules drop is
/// captured and exported by the configured OTLP exporter, marked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_installs_capture_beside_the_exporters() {
    use otel_aws_distro::Builder;
    use otel_aws_testkit::otlp::{FakeOtlpEndpoint, OtlpEndpointOptions};
    let mut plain = rules();
    plain["SamplingRuleRecords"][0]["SamplingRule"]
        .as_object_mut()
        .unwrap()
        .remove("SamplingRateBoost");
    let xray = FakeXrayApi::start(XrayApiOptions {
        sampling_rules: plain,
        ..XrayApiOptions::default()
    })
    .await
    .unwrap();
    let otlp = FakeOtlpEndpoint::start(OtlpEndpointOptions::default())
        .await
        .unwrap();
    let arg = format!("endpoint={}", xray.url());
    let traces = otlp.traces_url();
    let guard = Builder::new()
        .with_env(Env::from_pairs([
            ("OTEL_SERVICE_NAME", "checkout"),
            ("OTEL_TRACES_SAMPLER", "xray"),
            ("OTEL_TRACES_SAMPLER_ARG", arg.as_str()),
            (
                AWS_XRAY_ADAPTIVE_SAMPLING_CONFIG,
                r#"{"version": 1, "anomalyCaptureLimit": {"anomalyTracesPerSecond": 5}}"#,
            ),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", traces.as_str()),
            ("OTEL_BSP_SCHEDULE_DELAY", "50"),
            ("OTEL_AWS_RESOURCE_DETECTORS", "env"),
            ("AWS_REGION", "us-east-1"),
        ]))
        .without_globals()
        .install()
        .await
        .unwrap();
    // The fetched rules, not the fallback's first-second reservoir, decide.
    let xray_sampler = guard
        .sampler()
        .and_then(|s| s.adaptive_xray())
        .expect("adaptive X-Ray sampling is on")
        .clone();
    wait_for("the fetched rules to be installed", || {
        xray_sampler.rule_names().contains(&"checkout".to_string())
    })
    .await;
    let tracer = guard.tracer_provider().unwrap().tracer("svc");
    let span = tracer
        .span_builder("GET /orders")
        .with_kind(SpanKind::Server)
        .with_attributes([
            KeyValue::new("url.path", "/orders"),
            KeyValue::new("http.response.status_code", 503_i64),
        ])
        .start(&tracer);
    assert!(
        !span.span_context().is_sampled(),
        "rules: fixed rate 0, no reservoir"
    );
    drop(span);
    // The flush sends the captured span (it would otherwise wait up to a
    // second for company).
    guard.force_flush().await.unwrap();
    assert_eq!(otlp.span_count(), 1);
    let req = &otlp.received()[0];
    let span = &req.resource_spans[0].scope_spans[0].spans[0];
    let flag = span
        .attributes
        .iter()
        .find(|kv| kv.key == TRACE_FLAG_SAMPLED_ATTRIBUTE)
        .and_then(|kv| kv.value.clone())
        .and_then(|v| v.value);
    assert_eq!(
        flag,
        Some(opentelemetry_proto::tonic::common::v1::any_value::Value::BoolValue(false))
    );
    guard.shutdown().await.unwrap();
}
