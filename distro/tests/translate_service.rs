//! The service in segment mode: a segment records its resource under
//! `metadata.default` as `otel.resource.<key>` (indexable on request), as
//! the collector's awsxray exporter does, so a root span named after its
//! operation (INTERNAL, CONSUMER) still says which service it belongs to.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod translate_support;

use opentelemetry_proto::tonic::common::v1::any_value::Value as Av;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use otel_aws_distro::translate::{IndexedKeys, TranslateOptions, from_segment};
use serde_json::json;
use translate_support::*;

fn resource() -> Vec<opentelemetry_proto::tonic::common::v1::KeyValue> {
    vec![
        s("service.name", "orders"),
        s("telemetry.sdk.language", "rust"),
        i("process.pid", 4242),
    ]
}

#[test]
fn internal_and_consumer_roots_record_their_service() {
    for kind in [SpanKind::Internal, SpanKind::Consumer] {
        let d = doc(resource(), span("drain-queue", kind, false, vec![]));
        // Not a SERVER span: the segment keeps the span's name ...
        assert_eq!(d["name"], json!("drain-queue"), "{kind:?}");
        assert!(d.get("type").is_none(), "{kind:?}: a segment");
        // ... and the resource is in the document.
        let meta = &d["metadata"]["default"];
        assert_eq!(meta["otel.resource.service.name"], json!("orders"));
        assert_eq!(meta["otel.resource.telemetry.sdk.language"], json!("rust"));
        assert_eq!(meta["otel.resource.process.pid"], json!(4242));
    }
}

#[test]
fn subsegments_do_not_repeat_the_resource() {
    let d = doc(
        resource(),
        span("SELECT", SpanKind::Client, true, vec![s("k", "v")]),
    );
    assert_eq!(d["type"], json!("subsegment"));
    let meta = d["metadata"]["default"].as_object().unwrap();
    assert!(meta.keys().all(|k| !k.starts_with("otel.resource.")), "{d}");
}

#[test]
fn resource_attributes_are_indexable_on_request() {
    let opts = TranslateOptions {
        indexed: IndexedKeys {
            keys: vec!["otel.resource.service.name".into()],
            all: false,
        },
        ..TranslateOptions::default()
    };
    let d = doc_with(
        resource(),
        span("drain-queue", SpanKind::Consumer, false, vec![]),
        &opts,
    );
    assert_eq!(
        d["annotations"]["otel_resource_service_name"],
        json!("orders")
    );
    assert!(
        d["metadata"]["default"]
            .get("otel.resource.service.name")
            .is_none()
    );
    // Listed by the span itself works the same way.
    let sp = span(
        "drain-queue",
        SpanKind::Consumer,
        false,
        vec![arr("aws.xray.annotations", &["otel.resource.service.name"])],
    );
    let d = doc(resource(), sp);
    assert_eq!(
        d["annotations"]["otel_resource_service_name"],
        json!("orders")
    );
}

#[test]
fn the_recorded_resource_comes_back_as_the_resource() {
    let sp = span("drain-queue", SpanKind::Consumer, false, vec![s("k", "v")]);
    let docs = otel_aws_distro::translate::to_segments(
        &request(resource(), vec![sp]),
        &TranslateOptions::default(),
    );
    let back = from_segment(docs[0].as_ref().unwrap()).unwrap();
    let rs = &back.resource_spans[0];
    let res = &rs.resource.as_ref().unwrap().attributes;
    let get = |k: &str| {
        res.iter()
            .find(|kv| kv.key == k)
            .and_then(|kv| kv.value.as_ref())
            .and_then(|v| v.value.clone())
    };
    // The service, not the segment's (span) name.
    assert_eq!(get("service.name"), Some(Av::StringValue("orders".into())));
    assert_eq!(get("process.pid"), Some(Av::IntValue(4242)));
    assert_eq!(res.iter().filter(|kv| kv.key == "service.name").count(), 1);
    // Not repeated as span attributes.
    let span = &rs.scope_spans[0].spans[0];
    assert!(
        span.attributes
            .iter()
            .all(|kv| !kv.key.starts_with("otel.resource.")),
        "{:?}",
        span.attributes
    );
    assert_eq!(span.name, "drain-queue");
    assert_eq!(span.kind, SpanKind::Consumer as i32);
}
