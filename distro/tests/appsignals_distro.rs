//! `OTEL_AWS_APPLICATION_SIGNALS_ENABLED=true` in the distro: spans made
//! through the installed provider reach the exporter (a real `file`
//! exporter) with the Application Signals attributes, and the metrics reach
//! moto's CloudWatch Logs as EMF on `Guard::shutdown`.
#![cfg(feature = "cloudwatch-logs")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_cloudwatchlogs::config::{BehaviorVersion, Region};
use opentelemetry::KeyValue;
use opentelemetry::trace::{
    Span as _, SpanKind, TraceContextExt as _, Tracer as _, TracerProvider as _,
};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use otel_aws_distro::export::FileExporter;
use otel_aws_distro::{Builder, Env};
use otel_aws_testkit::moto::Moto;
use serde_json::Value as J;

fn attr(span: &opentelemetry_proto::tonic::trace::v1::Span, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
            Value::StringValue(s) => Some(s.clone()),
            _ => None,
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn distro_spans_get_attributes_and_metrics_reach_cloudwatch_logs() {
    let moto = Moto::start("appsignals_distro", None);
    let file = std::env::temp_dir().join(format!(
        "otel-aws-appsignals-distro-{}.jsonl",
        std::process::id()
    ));
    let _ = std::fs::remove_file(&file);
    let creds = SharedCredentialsProvider::new(Credentials::new(
        "AKIDEXAMPLE",
        "secret",
        None,
        None,
        "test",
    ));
    let guard = Builder::new()
        .with_env(Env::from_pairs([
            ("OTEL_SERVICE_NAME", "checkout".to_owned()),
            ("OTEL_AWS_RESOURCE_DETECTORS", "env".to_owned()),
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "deployment.environment=staging".to_owned(),
            ),
            ("OTEL_AWS_APPLICATION_SIGNALS_ENABLED", "true".to_owned()),
            ("AWS_REGION", "us-east-1".to_owned()),
            ("AWS_ENDPOINT_URL_LOGS", moto.url().to_owned()),
        ]))
        .with_credentials_provider(creds.clone())
        .with_exporter(Arc::new(FileExporter::new(&file).unwrap()))
        .without_globals()
        .without_tracing_subscriber()
        .install()
        .await
        .unwrap();
    let tracer = guard.tracer_provider().unwrap().tracer("shop");
    for status in [200_i64, 500] {
        let server = tracer
            .span_builder("GET /cart")
            .with_kind(SpanKind::Server)
            .with_attributes([
                KeyValue::new("http.request.method", "GET"),
                KeyValue::new("http.response.status_code", status),
            ])
            .start(&tracer);
        let cx = opentelemetry::Context::current_with_span(server);
        let mut call = tracer
            .span_builder("PutItem")
            .with_kind(SpanKind::Client)
            .with_attributes([
                KeyValue::new("rpc.system", "aws-api"),
                KeyValue::new("rpc.service", "DynamoDB"),
                KeyValue::new("rpc.method", "PutItem"),
                KeyValue::new(
                    "aws.dynamodb.table_names",
                    opentelemetry::Value::Array(opentelemetry::Array::String(vec!["carts".into()])),
                ),
            ])
            .start_with_context(&tracer, &cx);
        call.end();
        cx.span().end();
    }
    // A request whose caller did not sample its trace: not exported, but
    // counted (ADOT's sampler records every span when Application Signals
    // is on).
    let unsampled = opentelemetry::Context::new().with_remote_span_context(
        opentelemetry::trace::SpanContext::new(
            opentelemetry::trace::TraceId::from(0x5759e988_bd862e3f_e1be46a9_94272793_u128),
            opentelemetry::trace::SpanId::from(0x53995c3f_42cd8ad8_u64),
            opentelemetry::trace::TraceFlags::default(),
            true,
            Default::default(),
        ),
    );
    let mut server = tracer
        .span_builder("GET /cart")
        .with_kind(SpanKind::Server)
        .with_attributes([
            KeyValue::new("http.request.method", "GET"),
            KeyValue::new("http.response.status_code", 200_i64),
        ])
        .start_with_context(&tracer, &unsampled);
    assert!(!server.span_context().is_sampled());
    assert!(server.is_recording());
    server.end();
    guard.shutdown().await.unwrap();

    let spans = file_spans(&file);
    assert_eq!(spans.len(), 4);
    for s in &spans {
        assert_eq!(attr(s, "aws.local.service").as_deref(), Some("checkout"));
        assert_eq!(attr(s, "aws.local.operation").as_deref(), Some("GET /cart"));
        assert_eq!(attr(s, "aws.local.environment").as_deref(), Some("staging"));
        if s.name == "PutItem" {
            assert_eq!(attr(s, "aws.span.kind").as_deref(), Some("CLIENT"));
            assert_eq!(
                attr(s, "aws.remote.service").as_deref(),
                Some("AWS::DynamoDB")
            );
            assert_eq!(
                attr(s, "aws.remote.resource.identifier").as_deref(),
                Some("carts")
            );
        } else {
            assert_eq!(attr(s, "aws.span.kind").as_deref(), Some("LOCAL_ROOT"));
        }
    }

    let client = aws_sdk_cloudwatchlogs::Client::from_conf(
        aws_sdk_cloudwatchlogs::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(moto.url())
            .credentials_provider(creds)
            .build(),
    );
    let got = client
        .get_log_events()
        .log_group_name("/aws/application-signals/data")
        .log_stream_name(otel_aws_distro::emf::DEFAULT_LOG_STREAM)
        .start_from_head(true)
        .send()
        .await
        .unwrap();
    let docs: Vec<J> = got
        .events()
        .iter()
        .map(|e| serde_json::from_str(e.message().unwrap()).unwrap())
        .collect();
    assert_eq!(docs.len(), 2, "{docs:#?}");
    let service = docs
        .iter()
        .find(|d| d["Telemetry.Source"] == "LocalRootSpan")
        .unwrap();
    assert_eq!(
        service["_aws"]["CloudWatchMetrics"][0]["Namespace"],
        "ApplicationSignals"
    );
    assert_eq!(service["Environment"], "staging");
    assert_eq!(service["Operation"], "GET /cart");
    assert_eq!(
        service["Fault"]["Count"], 3.0,
        "the unsampled request counts"
    );
    assert_eq!(service["Fault"]["Sum"], 1.0);
    let dep = docs
        .iter()
        .find(|d| d["Telemetry.Source"] == "ClientSpan")
        .unwrap();
    assert_eq!(dep["RemoteService"], "AWS::DynamoDB");
    assert_eq!(dep["RemoteResourceType"], "AWS::DynamoDB::Table");
    assert_eq!(dep["Latency"]["Count"], 2.0);
    let _ = std::fs::remove_file(&file);
}

#[tokio::test]
async fn a_bad_enabled_value_names_the_variable() {
    let err = Builder::new()
        .with_env(Env::from_pairs([(
            "OTEL_AWS_APPLICATION_SIGNALS_ENABLED",
            "yes",
        )]))
        .with_exporter(Arc::new(otel_aws_distro::export::NoopExporter::new()))
        .without_globals()
        .without_tracing_subscriber()
        .install()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("OTEL_AWS_APPLICATION_SIGNALS_ENABLED"),
        "{err}"
    );
    assert!(err.contains("true or false"), "{err}");
}

/// The spans of `file`, every request of every line.
fn file_spans(file: &std::path::Path) -> Vec<opentelemetry_proto::tonic::trace::v1::Span> {
    std::fs::read_to_string(file)
        .unwrap()
        .lines()
        .flat_map(|l| {
            let r: ExportTraceServiceRequest = serde_json::from_str(l).unwrap();
            r.resource_spans
                .into_iter()
                .flat_map(|rs| rs.scope_spans)
                .flat_map(|ss| ss.spans)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// ADOT's propagating processor gives a span its local root's operation
/// when it starts, so a child keeps it however the export batches fall: a
/// CLIENT span (and one under an INTERNAL span) exported in a batch of its
/// own, before its SERVER parent ends, gets `aws.local.operation` from the
/// SERVER span; a CONSUMER span's child is told its parent's kind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn children_exported_before_their_parents_keep_the_local_operation() {
    let file = std::env::temp_dir().join(format!(
        "otel-aws-appsignals-early-child-{}.jsonl",
        std::process::id()
    ));
    let _ = std::fs::remove_file(&file);
    let guard = Builder::new()
        .with_env(Env::from_pairs([
            ("OTEL_SERVICE_NAME", "checkout".to_owned()),
            ("OTEL_AWS_RESOURCE_DETECTORS", "env".to_owned()),
            ("OTEL_AWS_APPLICATION_SIGNALS_ENABLED", "true".to_owned()),
        ]))
        .with_exporter(Arc::new(FileExporter::new(&file).unwrap()))
        .without_globals()
        .without_tracing_subscriber()
        .install()
        .await
        .unwrap();
    let provider = guard.tracer_provider().unwrap().clone();
    let tracer = provider.tracer("shop");
    let flush = |p: &opentelemetry_sdk::trace::SdkTracerProvider| {
        let p = p.clone();
        std::thread::spawn(move || p.force_flush().unwrap())
            .join()
            .unwrap();
    };
    let server = tracer
        .span_builder("GET /cart")
        .with_kind(SpanKind::Server)
        .with_attributes([KeyValue::new("http.request.method", "GET")])
        .start(&tracer);
    let cx = opentelemetry::Context::current_with_span(server);
    let dynamodb = [
        KeyValue::new("rpc.system", "aws-api"),
        KeyValue::new("rpc.service", "DynamoDB"),
        KeyValue::new("rpc.method", "GetItem"),
    ];
    tracer
        .span_builder("GetItem")
        .with_kind(SpanKind::Client)
        .with_attributes(dynamodb.clone())
        .start_with_context(&tracer, &cx)
        .end();
    let internal = tracer.start_with_context("price", &cx);
    let icx = cx.with_span(internal);
    tracer
        .span_builder("GetItem nested")
        .with_kind(SpanKind::Client)
        .with_attributes(dynamodb)
        .start_with_context(&tracer, &icx)
        .end();
    // The children go out alone, before their parents end.
    flush(&provider);
    icx.span().end();
    cx.span().end();
    let consumer = tracer
        .span_builder("orders receive")
        .with_kind(SpanKind::Consumer)
        .start(&tracer);
    let ccx = opentelemetry::Context::current_with_span(consumer);
    tracer
        .span_builder("orders process")
        .with_kind(SpanKind::Consumer)
        .with_attributes([KeyValue::new("messaging.operation", "process")])
        .start_with_context(&tracer, &ccx)
        .end();
    ccx.span().end();
    guard.shutdown().await.unwrap();

    let spans = file_spans(&file);
    let by_name = |n: &str| spans.iter().find(|s| s.name == n).unwrap();
    for name in ["GetItem", "GetItem nested"] {
        let s = by_name(name);
        assert_eq!(
            attr(s, "aws.local.operation").as_deref(),
            Some("GET /cart"),
            "{name}"
        );
        assert_eq!(
            attr(s, "aws.remote.service").as_deref(),
            Some("AWS::DynamoDB")
        );
    }
    assert_eq!(
        attr(by_name("price"), "aws.local.operation").as_deref(),
        Some("GET /cart")
    );
    assert_eq!(
        attr(by_name("orders process"), "aws.consumer.parent.span.kind").as_deref(),
        Some("CONSUMER")
    );
    assert_eq!(
        attr(by_name("GET /cart"), "aws.span.kind").as_deref(),
        Some("LOCAL_ROOT")
    );
    let _ = std::fs::remove_file(&file);
}
