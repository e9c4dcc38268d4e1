//! Table tests: X-Ray document → OTLP spans (legacy SDK traffic). The input
//! documents follow the X-Ray developer guide's "Segment documents" examples
//! and the spec's field list (/work/shared/spec/xray.md).

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod translate_support;

use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::common::v1::{KeyValue, any_value::Value as Av};
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use otel_aws_distro::translate::{
    IN_PROGRESS_ATTRIBUTE, InProgressBuffer, Segment, TranslateError, from_segment,
    from_segment_value, segments_into_request, segments_to_request,
};
use serde_json::json;

fn attr<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a Av> {
    attrs
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| v.value.as_ref())
}
fn attr_str<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a str> {
    match attr(attrs, key) {
        Some(Av::StringValue(s)) => Some(s),
        _ => None,
    }
}
fn spans_of(
    req: &opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest,
) -> Vec<&Span> {
    req.resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .flat_map(|s| &s.spans)
        .collect()
}

/// A legacy SDK segment with nested subsegments (shape of the X-Ray
/// developer guide's examples).
fn legacy_segment() -> serde_json::Value {
    json!({
        "name": "Scorekeep",
        "id": "70de5b6f19ff9a0a",
        "start_time": 1.478293361271E9,
        "trace_id": "1-581cf771-a006649127e371903a2de979",
        "end_time": 1.478293361449E9,
        "origin": "AWS::ECS::Container",
        "user": "5M388M1E",
        "service": {"version": "1.0.1"},
        "http": {
            "request": {"url": "https://scorekeep.example.com/api/user", "method": "POST", "user_agent": "Mozilla/5.0", "client_ip": "78.255.233.48", "x_forwarded_for": true},
            "response": {"status": 200, "content_length": 42}
        },
        "aws": {"ecs": {"container": "scorekeep-api", "task_family": "scorekeep"}, "xray": {"sdk": "X-Ray for Java", "sdk_version": "2.4.0"}},
        "annotations": {"game_id": "ABC", "score": 3, "won": true},
        "metadata": {"debug": {"test": "Metadata string"}, "default": {"player": "alice"}},
        "subsegments": [{
            "name": "DynamoDB",
            "id": "4b0f9fdf6e2ed3a5",
            "start_time": 1.478293361300E9,
            "end_time": 1.478293361350E9,
            "namespace": "aws",
            "http": {"response": {"status": 400}},
            "error": true,
            "aws": {"operation": "UpdateItem", "region": "us-west-2", "request_id": "3AIEN", "table_name": "scorekeep-state"},
            "cause": {"working_directory": "/app", "exceptions": [{
                "id": "e1c0a2b3d4e5f607",
                "message": "The conditional request failed",
                "type": "ConditionalCheckFailedException",
                "remote": true,
                "stack": [{"path": "Game.java", "line": 88, "label": "com.scorekeep.Game.save"}]
            }]},
            "subsegments": [{
                "name": "marshall",
                "id": "1a2b3c4d5e6f7081",
                "start_time": 1.478293361301E9,
                "end_time": 1.478293361302E9
            }]
        }, {
            "name": "RDS",
            "id": "9b8a7c6d5e4f3a2b",
            "start_time": 1.478293361360E9,
            "end_time": 1.478293361400E9,
            "namespace": "remote",
            "sql": {"url": "jdbc:postgresql://db:5432/ebdb", "sanitized_query": "SELECT * FROM t WHERE id = ?", "database_type": "PostgreSQL", "user": "dbuser"}
        }]
    })
}

#[test]
fn segment_with_nested_subsegments() {
    // "Optional: ... `subsegments` ..." — nested subsegments become child spans.
    let req = from_segment(&legacy_segment().to_string()).unwrap();
    assert_eq!(req.resource_spans.len(), 1);
    let spans = spans_of(&req);
    assert_eq!(spans.len(), 4);
    let (seg, ddb, marshall, rds) = (spans[0], spans[1], spans[2], spans[3]);
    let trace = hex::decode("581cf771a006649127e371903a2de979").unwrap();
    assert!(spans.iter().all(|s| s.trace_id == trace));
    assert_eq!(seg.span_id, hex::decode("70de5b6f19ff9a0a").unwrap());
    assert!(seg.parent_span_id.is_empty());
    assert_eq!(ddb.parent_span_id, seg.span_id);
    assert_eq!(marshall.parent_span_id, ddb.span_id);
    assert_eq!(rds.parent_span_id, seg.span_id);
    // Kinds: segment → SERVER; namespace aws/remote → CLIENT; else INTERNAL.
    assert_eq!(seg.kind, SpanKind::Server as i32);
    assert_eq!(ddb.kind, SpanKind::Client as i32);
    assert_eq!(rds.kind, SpanKind::Client as i32);
    assert_eq!(marshall.kind, SpanKind::Internal as i32);
    // Times: float seconds → ns at µs precision.
    assert_eq!(seg.start_time_unix_nano, 1_478_293_361_271_000_000);
    assert_eq!(seg.end_time_unix_nano, 1_478_293_361_449_000_000);
    assert_eq!(seg.name, "Scorekeep");
    // http
    let a = &seg.attributes;
    assert_eq!(attr_str(a, "http.request.method"), Some("POST"));
    assert_eq!(
        attr_str(a, "url.full"),
        Some("https://scorekeep.example.com/api/user")
    );
    assert_eq!(attr_str(a, "user_agent.original"), Some("Mozilla/5.0"));
    assert_eq!(attr_str(a, "client.address"), Some("78.255.233.48"));
    assert_eq!(
        attr(a, "http.response.status_code"),
        Some(&Av::IntValue(200))
    );
    assert_eq!(attr(a, "http.response.body.size"), Some(&Av::IntValue(42)));
    assert_eq!(attr_str(a, "enduser.id"), Some("5M388M1E"));
    // annotations and metadata
    assert_eq!(attr_str(a, "game_id"), Some("ABC"));
    assert_eq!(attr(a, "score"), Some(&Av::IntValue(3)));
    assert_eq!(attr(a, "won"), Some(&Av::BoolValue(true)));
    let Some(Av::ArrayValue(listed)) = attr(a, "aws.xray.annotations") else {
        panic!("no aws.xray.annotations")
    };
    assert_eq!(listed.values.len(), 3);
    assert_eq!(attr_str(a, "player"), Some("alice"));
    assert_eq!(
        attr_str(a, "aws.xray.metadata.debug"),
        Some(r#"{"test":"Metadata string"}"#)
    );
    assert!(seg.status.is_none());
    // resource from the segment: name, origin, service, aws
    let res = &req.resource_spans[0].resource.as_ref().unwrap().attributes;
    assert_eq!(attr_str(res, "service.name"), Some("Scorekeep"));
    assert_eq!(attr_str(res, "cloud.platform"), Some("aws_ecs"));
    assert_eq!(attr_str(res, "cloud.provider"), Some("aws"));
    assert_eq!(attr_str(res, "service.version"), Some("1.0.1"));
    assert_eq!(attr_str(res, "container.name"), Some("scorekeep-api"));
    assert_eq!(attr_str(res, "aws.ecs.task.family"), Some("scorekeep"));
    // DynamoDB subsegment: error → status ERROR; aws call fields; cause → event
    assert_eq!(ddb.status.as_ref().unwrap().code, StatusCode::Error as i32);
    assert_eq!(
        attr_str(&ddb.attributes, "aws.operation"),
        Some("UpdateItem")
    );
    assert_eq!(
        attr_str(&ddb.attributes, "aws.table_name"),
        Some("scorekeep-state")
    );
    assert_eq!(ddb.events.len(), 1);
    let ev = &ddb.events[0];
    assert_eq!(ev.name, "exception");
    assert_eq!(
        attr_str(&ev.attributes, "exception.type"),
        Some("ConditionalCheckFailedException")
    );
    assert_eq!(
        attr_str(&ev.attributes, "exception.message"),
        Some("The conditional request failed")
    );
    assert!(
        attr_str(&ev.attributes, "exception.stacktrace")
            .unwrap()
            .contains("com.scorekeep.Game.save(Game.java:88)")
    );
    // sql
    assert_eq!(attr_str(&rds.attributes, "db.system"), Some("PostgreSQL"));
    assert_eq!(
        attr_str(&rds.attributes, "db.query.text"),
        Some("SELECT * FROM t WHERE id = ?")
    );
    assert_eq!(attr_str(&rds.attributes, "db.user"), Some("dbuser"));
}

#[test]
fn flags_become_status() {
    // "Flags from HTTP status: 429 → throttle + error; other 4xx → error;
    // 5xx → fault" — read back: any flag means status ERROR.
    for (flag, want) in [
        ("fault", StatusCode::Error),
        ("error", StatusCode::Error),
        ("throttle", StatusCode::Error),
        ("none", StatusCode::Unset),
    ] {
        let mut d = legacy_segment();
        d["subsegments"] = json!([]);
        d[flag] = json!(true);
        let req = from_segment_value(&d).unwrap();
        let code = spans_of(&req)[0].status.as_ref().map_or(0, |s| s.code);
        assert_eq!(code, want as i32, "{flag}");
    }
}

#[test]
fn independent_subsegment() {
    // "Subsegment-only: `type:"subsegment"` (when sent on its own), `parent_id`"
    let d = json!({"type": "subsegment", "name": "S3", "id": "0123456789abcdef", "parent_id": "70de5b6f19ff9a0a",
                   "trace_id": "1-581cf771-a006649127e371903a2de979", "start_time": 1.5e9, "end_time": 1.5e9 + 1.0, "namespace": "aws"});
    let req = from_segment_value(&d).unwrap();
    let spans = spans_of(&req);
    assert_eq!(
        spans[0].parent_span_id,
        hex::decode("70de5b6f19ff9a0a").unwrap()
    );
    assert_eq!(spans[0].kind, SpanKind::Client as i32);
    assert!(
        req.resource_spans[0]
            .resource
            .as_ref()
            .unwrap()
            .attributes
            .is_empty()
    );
    // Spec Decision: rejected only without a usable trace_id/id; without
    // its parent it is kept as a root span.
    let mut no_parent = d.clone();
    no_parent.as_object_mut().unwrap().remove("parent_id");
    let req = from_segment_value(&no_parent).unwrap();
    assert!(spans_of(&req)[0].parent_span_id.is_empty());
}

#[test]
fn invalid_documents_are_errors() {
    // Spec Decision: "a document is rejected only without a usable
    // `trace_id`/`id`" (a missing name or time is repaired: see
    // translate_lenient.rs).
    let base = json!({"name": "a", "id": "0123456789abcdef", "trace_id": "1-581cf771-a006649127e371903a2de979", "start_time": 1.5e9, "end_time": 1.6e9});
    assert!(from_segment_value(&base).is_ok());
    let broken: Vec<(&str, serde_json::Value)> = vec![
        ("trace_id", json!(null)),
        ("trace_id", json!("1-581cf771-a00664912")),
        ("trace_id", json!("2-581cf771-a006649127e371903a2de979")),
        ("id", json!("xyz")),
        ("id", json!("0000000000000000")),
        ("id", json!(null)),
    ];
    for (field, value) in broken {
        let mut d = base.clone();
        if value.is_null() {
            d.as_object_mut().unwrap().remove(field);
        } else {
            d[field] = value.clone();
        }
        assert!(from_segment_value(&d).is_err(), "{field}={value}");
    }
    assert!(matches!(
        from_segment("not json"),
        Err(TranslateError::Parse(_))
    ));
    assert!(matches!(
        from_segment("[1,2]"),
        Err(TranslateError::Parse(_))
    ));
    // Deep nesting is refused, not a stack overflow.
    let mut deep =
        json!({"name": "x", "id": "0123456789abcdef", "start_time": 1.5e9, "end_time": 1.6e9});
    for _ in 0..100 {
        deep = json!({"name": "x", "id": "0123456789abcdef", "start_time": 1.5e9, "end_time": 1.6e9, "subsegments": [deep]});
    }
    let mut top = base.clone();
    top["subsegments"] = json!([deep]);
    assert!(from_segment_value(&top).is_err());
    assert!(from_segment(&top.to_string()).is_err());
    // 30 levels are fine.
    let mut ok =
        json!({"name": "x", "id": "0123456789abcdef", "start_time": 1.5e9, "end_time": 1.6e9});
    for _ in 0..29 {
        ok = json!({"name": "x", "id": "0123456789abcdef", "start_time": 1.5e9, "end_time": 1.6e9, "subsegments": [ok]});
    }
    let mut top = base.clone();
    top["subsegments"] = json!([ok]);
    let req = from_segment(&top.to_string()).unwrap();
    assert_eq!(spans_of(&req).len(), 31);
}

#[test]
fn in_progress_document_alone() {
    // "`end_time` or `in_progress: true`": an in-progress document becomes a
    // span ending at its start, marked aws.xray.in_progress.
    let d = json!({"name": "a", "id": "0123456789abcdef", "trace_id": "1-581cf771-a006649127e371903a2de979", "start_time": 1.5e9, "in_progress": true});
    let req = from_segment_value(&d).unwrap();
    let sp = spans_of(&req)[0];
    assert_eq!(sp.end_time_unix_nano, sp.start_time_unix_nano);
    assert_eq!(
        attr(&sp.attributes, IN_PROGRESS_ATTRIBUTE),
        Some(&Av::BoolValue(true))
    );
}

fn seg(id: &str, in_progress: bool) -> Segment {
    let mut d = json!({"name": "a", "id": id, "trace_id": "1-581cf771-a006649127e371903a2de979", "start_time": 1.5e9});
    if in_progress {
        d["in_progress"] = json!(true)
    } else {
        d["end_time"] = json!(1.6e9)
    }
    serde_json::from_value(d).unwrap()
}

#[test]
fn in_progress_buffer_holds_until_complete_or_timeout() {
    // Issue 6: "`in_progress` documents (hold until completed or timed out)".
    let t0 = Instant::now();
    let mut buf = InProgressBuffer::new(Duration::from_secs(30), 2);
    assert!(buf.offer(seg("0123456789abcdef", true), t0).is_none());
    assert_eq!(buf.len(), 1);
    // The completed version replaces it and is emitted.
    let done = buf
        .offer(seg("0123456789abcdef", false), t0 + Duration::from_secs(1))
        .unwrap();
    assert!(!done.in_progress && buf.is_empty());
    // Timeout with the injected clock.
    assert!(buf.offer(seg("1111111111111111", true), t0).is_none());
    assert!(buf.expire(t0 + Duration::from_secs(29)).is_empty());
    let expired = buf.expire(t0 + Duration::from_secs(30));
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0].id, "1111111111111111");
    let (req, errors) = segments_to_request(&expired);
    assert!(errors.is_empty());
    assert_eq!(
        attr(&spans_of(&req)[0].attributes, IN_PROGRESS_ATTRIBUTE),
        Some(&Av::BoolValue(true))
    );
    // Capacity: a full buffer passes new in-progress documents through.
    assert!(buf.offer(seg("2222222222222222", true), t0).is_none());
    assert!(buf.offer(seg("3333333333333333", true), t0).is_none());
    assert!(buf.offer(seg("4444444444444444", true), t0).is_some());
    assert_eq!(buf.drain().len(), 2);
}

#[test]
fn grouping_by_resource() {
    let a = serde_json::from_value::<Segment>(json!({"name": "svc-a", "id": "0123456789abcdef", "trace_id": "1-581cf771-a006649127e371903a2de979", "start_time": 1.5e9, "end_time": 1.6e9})).unwrap();
    let mut a2 = a.clone();
    a2.id = "0123456789abcdee".into();
    let mut b = a.clone();
    b.name = "svc-b".into();
    let (req, errors) = segments_to_request([&a, &b, &a2]);
    assert!(errors.is_empty());
    assert_eq!(req.resource_spans.len(), 2);
    assert_eq!(req.resource_spans[0].scope_spans[0].spans.len(), 2);

    // The by-value variant (strings moved, not copied) gives the same batch
    // and the same errors.
    let mut bad = a.clone();
    bad.trace_id = None;
    let (by_ref, ref_errors) = segments_to_request([&a, &bad, &b, &a2]);
    let (by_value, value_errors) = segments_into_request([a, bad, b, a2]);
    assert_eq!(by_value, by_ref);
    assert_eq!(ref_errors.len(), 1);
    assert_eq!(
        value_errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        ref_errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
    );
}
