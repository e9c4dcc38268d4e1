//! `otel_aws_distro::Builder` end to end: a service's spans go through the
//! real provider, batch processor and exporter, SigV4-signed, to the fake
//! X-Ray OTLP endpoint, which verifies the signature.

use std::time::Duration;

use aws_credential_types::Credentials as AwsCredentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use opentelemetry::trace::{SpanKind, TraceContextExt, Tracer, TracerProvider as _};
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use otel_aws_distro::{Builder, Env};
use otel_aws_testkit::otlp::{FakeOtlpEndpoint, OtlpEndpointOptions};
use otel_aws_testkit::sigv4::Credentials;

fn creds(secret: &str) -> SharedCredentialsProvider {
    let c = Credentials::test();
    SharedCredentialsProvider::new(AwsCredentials::new(
        c.access_key_id,
        secret,
        None,
        None,
        "test",
    ))
}

fn env(endpoint: &str) -> Env {
    env_with_delay(endpoint, "50")
}

/// `env` with another batch schedule delay (ms).
fn env_with_delay(endpoint: &str, delay_ms: &str) -> Env {
    Env::from_pairs([
        ("OTEL_SERVICE_NAME", "checkout"),
        (
            "OTEL_RESOURCE_ATTRIBUTES",
            "deployment.environment.name=test,service.name=ignored",
        ),
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", endpoint),
        ("OTEL_AWS_SIGV4", "true"),
        ("AWS_REGION", "us-east-1"),
        ("OTEL_BSP_SCHEDULE_DELAY", delay_ms),
        ("OTEL_AWS_RESOURCE_DETECTORS", "env"),
    ])
}

fn string_attr(
    attrs: &[opentelemetry_proto::tonic::common::v1::KeyValue],
    key: &str,
) -> Option<String> {
    attrs.iter().find(|kv| kv.key == key).and_then(|kv| {
        match kv.value.as_ref()?.value.as_ref()? {
            AnyValue::StringValue(s) => Some(s.clone()),
            _ => None,
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_trace_arrives_signed_with_xray_ids_and_resource() {
    let fake = FakeOtlpEndpoint::start(OtlpEndpointOptions::xray_traces("us-east-1"))
        .await
        .unwrap();
    let guard = Builder::new()
        .with_env(env(&fake.traces_url()))
        .with_credentials_provider(creds(&Credentials::test().secret_access_key))
        .without_globals()
        .install()
        .await
        .unwrap();
    let tracer = guard.tracer_provider().unwrap().tracer("svc");
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let trace_id = tracer.in_span("POST /orders", |cx| {
        tracer
            .span_builder("DynamoDB.PutItem")
            .with_kind(SpanKind::Client)
            .start_with_context(&tracer, &cx);
        cx.span().span_context().trace_id()
    });
    guard.shutdown().await.unwrap();

    assert!(
        fake.wait_for_spans(2, Duration::from_secs(5)).await,
        "rejected: {:?}",
        fake.rejected()
    );
    assert!(fake.rejected().is_empty(), "{:?}", fake.rejected());
    let req = &fake.received()[0];
    let rs = &req.resource_spans[0];
    let res = &rs.resource.as_ref().unwrap().attributes;
    // Precedence (spec/resources.md): OTEL_SERVICE_NAME beats service.name in OTEL_RESOURCE_ATTRIBUTES.
    assert_eq!(
        string_attr(res, "service.name").as_deref(),
        Some("checkout")
    );
    assert_eq!(
        string_attr(res, "deployment.environment.name").as_deref(),
        Some("test")
    );
    assert_eq!(
        string_attr(res, "telemetry.sdk.language").as_deref(),
        Some("rust")
    );
    let spans: Vec<_> = rs.scope_spans.iter().flat_map(|s| &s.spans).collect();
    assert_eq!(spans.len(), 2);
    assert!(
        spans
            .iter()
            .all(|s| s.trace_id == trace_id.to_bytes().to_vec())
    );
    // X-Ray trace ids: the first 4 bytes are the epoch seconds (spec: trace id generation).
    let epoch = u32::from_be_bytes(trace_id.to_bytes()[..4].try_into().unwrap()) as u64;
    assert!(
        epoch >= before && epoch <= before + 5,
        "epoch {epoch} vs {before}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_secret_is_refused_by_the_endpoint() {
    let fake = FakeOtlpEndpoint::start(OtlpEndpointOptions::xray_traces("us-east-1"))
        .await
        .unwrap();
    // A timer export before shutdown would leave shutdown nothing to report.
    let guard = Builder::new()
        .with_env(env_with_delay(&fake.traces_url(), "600000"))
        .with_credentials_provider(creds("wrong-secret"))
        .without_globals()
        .install()
        .await
        .unwrap();
    let tracer = guard.tracer_provider().unwrap().tracer("svc");
    tracer.in_span("op", |_| {});
    let stats = guard.stats().clone();
    // The last export happens in shutdown, which reports its failure.
    let err = guard.shutdown().await.unwrap_err();
    assert!(err.contains("403"), "{err}");
    assert_eq!(fake.span_count(), 0);
    let rejected = fake.rejected();
    assert_eq!(rejected.len(), 1, "403 is not retried: {rejected:?}");
    assert_eq!(rejected[0].0, 403);
    assert!(
        stats.snapshot().spans_dropped >= 1,
        "{:?}",
        stats.snapshot()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabled_switches_install_nothing() {
    for (var, value) in [
        ("OTEL_SDK_DISABLED", "true"),
        ("AWS_XRAY_SDK_ENABLED", "false"),
    ] {
        let guard = Builder::new()
            .with_env(Env::from_pairs([(var, value)]))
            .without_globals()
            .install()
            .await
            .unwrap();
        assert!(guard.is_disabled(), "{var}={value}");
        assert!(guard.tracer_provider().is_none());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_value_stops_init_naming_the_variable() {
    let err = Builder::new()
        .with_env(Env::from_pairs([(
            "OTEL_EXPORTER_OTLP_COMPRESSION",
            "brotli",
        )]))
        .without_globals()
        .install()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("OTEL_EXPORTER_OTLP_COMPRESSION") && err.contains("gzip or none"),
        "{err}"
    );
}
