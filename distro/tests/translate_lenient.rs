//! Loosely typed legacy documents (spec "Legacy SDK quirks a mixed fleet
//! meets": "Legacy emitters send loosely typed documents (numbers as
//! strings, extra fields). **Decision**: a document is rejected only
//! without a usable `trace_id`/`id`; other unreadable fields are coerced or
//! skipped and counted, never the whole document.")

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{KeyValue, any_value::Value as Av};
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use otel_aws_distro::translate::{
    Repairs, TranslateError, from_segment, from_segment_repaired, parse_segment_repaired,
    segments_into_request_repaired,
};
use serde_json::{Value, json};

fn attr<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a Av> {
    attrs
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| v.value.as_ref())
}

fn spans_of(req: &ExportTraceServiceRequest) -> Vec<&Span> {
    req.resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .flat_map(|s| &s.spans)
        .collect()
}

/// A legacy segment with two levels of subsegments (4 spans).
fn legacy() -> Value {
    json!({
        "name": "checkout",
        "id": "1c2d3e4f5a6b7c8d",
        "trace_id": "1-5f0a1b2c-0123456789abcdef01234567",
        "start_time": 1594500000.25,
        "end_time": 1594500001.5,
        "user": "u-17",
        "service": {"version": "3.1"},
        "http": {
            "request": {"method": "GET", "url": "https://shop.example/cart", "client_ip": "10.0.0.9"},
            "response": {"status": 200, "content_length": 120}
        },
        "aws": {"ecs": {"container": "web"}, "cloudwatch_logs": [{"log_group": "/shop"}]},
        "annotations": {"cart": "c-9"},
        "metadata": {"default": {"k": "v"}},
        "subsegments": [{
            "name": "DynamoDB",
            "id": "2a2b2c2d2e2f2021",
            "start_time": 1594500000.5,
            "end_time": 1594500000.75,
            "namespace": "aws",
            "aws": {"operation": "GetItem", "table_name": "carts", "retries": 0},
            "subsegments": [{
                "name": "unmarshal",
                "id": "3a3b3c3d3e3f3031",
                "start_time": 1594500000.7,
                "end_time": 1594500000.71
            }]
        }, {
            "name": "pricing",
            "id": "4a4b4c4d4e4f4041",
            "start_time": 1594500000.8,
            "end_time": 1594500001.0,
            "namespace": "remote",
            "http": {"request": {"method": "POST", "url": "http://pricing/quote"}, "response": {"status": 200}}
        }]
    })
}

/// Sets the value at a `/`-separated path (array indices as numbers).
fn set(doc: &mut Value, path: &str, v: Value) {
    let mut cur = doc;
    let parts: Vec<&str> = path.split('/').collect();
    for p in &parts[..parts.len() - 1] {
        cur = match p.parse::<usize>() {
            Ok(i) => &mut cur[i],
            Err(_) => &mut cur[*p],
        };
    }
    cur[*parts.last().unwrap()] = v;
}

#[test]
fn content_length_given_as_text_is_coerced() {
    // The case: `"content_length": "861"` made the whole document
    // disappear. An independent remote subsegment as legacy SDKs send it.
    let doc = json!({
        "name": "inventory.example",
        "id": "5e5f505152535455",
        "trace_id": "1-5f0a1b2c-0123456789abcdef01234567",
        "parent_id": "1c2d3e4f5a6b7c8d",
        "type": "subsegment",
        "namespace": "remote",
        "start_time": 1594500000.25,
        "end_time": 1594500000.5,
        "traced": true,
        "http": {"request": {"method": "PUT", "url": "https://inventory.example/items/4"},
                 "response": {"status": 200, "content_length": "861"}}
    });
    let (req, repairs) = from_segment_repaired(&doc.to_string()).unwrap();
    assert_eq!(
        repairs,
        Repairs {
            coerced: 1,
            skipped: 0
        }
    );
    let spans = spans_of(&req);
    assert_eq!(spans.len(), 1);
    assert_eq!(
        attr(&spans[0].attributes, "http.response.body.size"),
        Some(&Av::IntValue(861))
    );
    assert_eq!(
        attr(&spans[0].attributes, "http.response.status_code"),
        Some(&Av::IntValue(200))
    );
}

#[test]
fn any_single_malformed_field_keeps_the_document() {
    // (path, malformed value, spans expected, coerced?, check)
    type Check = fn(&[&Span]);
    let none: Check = |_| {};
    let cases: Vec<(&str, Value, usize, bool, Check)> = vec![
        ("name", json!({"a": 1}), 4, false, |s| {
            assert_eq!(s[0].name, "span")
        }),
        ("start_time", json!("1594500000.25"), 4, true, |s| {
            assert_eq!(s[0].start_time_unix_nano, 1_594_500_000_250_000_000)
        }),
        ("start_time", json!("soon"), 4, false, |s| {
            // Without a start the span starts at its end.
            assert_eq!(s[0].start_time_unix_nano, 1_594_500_001_500_000_000)
        }),
        ("end_time", json!([1]), 4, false, |s| {
            assert_eq!(s[0].end_time_unix_nano, s[0].start_time_unix_nano)
        }),
        ("in_progress", json!("no"), 4, false, none),
        ("fault", json!("true"), 4, true, |s| {
            assert_eq!(s[0].status.as_ref().unwrap().code, StatusCode::Error as i32)
        }),
        ("error", json!(1), 4, true, |s| {
            assert_eq!(s[0].status.as_ref().unwrap().code, StatusCode::Error as i32)
        }),
        ("user", json!(42), 4, true, |s| {
            assert_eq!(
                attr(&s[0].attributes, "enduser.id"),
                Some(&Av::StringValue("42".into()))
            )
        }),
        ("service", json!("3.1"), 4, false, none),
        ("http", json!("GET /cart"), 4, false, |s| {
            assert!(attr(&s[0].attributes, "url.full").is_none())
        }),
        ("http/request/method", json!(7), 4, true, none),
        ("http/request/x_forwarded_for", json!("true"), 4, true, none),
        ("http/response/status", json!("404"), 4, true, |s| {
            assert_eq!(
                attr(&s[0].attributes, "http.response.status_code"),
                Some(&Av::IntValue(404))
            )
        }),
        ("http/response/status", json!(404.0), 4, true, none),
        (
            "http/response/content_length",
            json!("unknown"),
            4,
            false,
            |s| {
                assert!(attr(&s[0].attributes, "http.response.body.size").is_none());
                // The rest of the block is kept.
                assert_eq!(
                    attr(&s[0].attributes, "http.response.status_code"),
                    Some(&Av::IntValue(200))
                )
            },
        ),
        ("aws", json!("ecs"), 4, false, none),
        ("aws/ecs", json!("web"), 4, false, none),
        (
            "aws/cloudwatch_logs",
            json!({"log_group": "/shop"}),
            4,
            true,
            none,
        ),
        ("annotations", json!(["cart"]), 4, false, none),
        ("annotations/cart", json!({"id": "c-9"}), 4, false, |s| {
            assert!(attr(&s[0].attributes, "cart").is_none())
        }),
        ("metadata", json!("debug"), 4, false, none),
        ("cause", json!(200), 4, false, none),
        (
            "cause",
            json!({"exceptions": {"message": "boom"}}),
            4,
            true,
            none,
        ),
        ("subsegments/0/start_time", json!(null), 4, false, none),
        (
            "subsegments/0/end_time",
            json!("1594500000.75"),
            4,
            true,
            none,
        ),
        ("subsegments/0/aws/retries", json!("2"), 4, true, |s| {
            assert_eq!(
                attr(&s[1].attributes, "aws.xray.retries"),
                Some(&Av::IntValue(2))
            )
        }),
        ("subsegments/0/namespace", json!(["aws"]), 4, false, none),
        ("subsegments/1/http/response", json!(200), 4, false, none),
        // A subsegment without a usable id is left out; its child hangs on
        // the segment.
        ("subsegments/0/id", json!("not-hex"), 3, false, |s| {
            assert_eq!(s[1].name, "unmarshal");
            assert_eq!(s[1].parent_span_id, s[0].span_id);
        }),
        ("subsegments", json!("none"), 1, false, none),
    ];
    for (path, value, want_spans, coerced, check) in cases {
        let mut doc = legacy();
        set(&mut doc, path, value.clone());
        let (req, repairs) = from_segment_repaired(&doc.to_string())
            .unwrap_or_else(|e| panic!("{path}={value}: document lost: {e}"));
        let spans = spans_of(&req);
        assert_eq!(spans.len(), want_spans, "{path}={value}");
        assert!(repairs.total() >= 1, "{path}={value}: not counted");
        if coerced {
            assert!(repairs.coerced >= 1, "{path}={value}: {repairs:?}");
        } else {
            assert!(repairs.skipped >= 1, "{path}={value}: {repairs:?}");
        }
        check(&spans);
        // The other spans of the document are intact.
        assert_eq!(spans[0].trace_id, spans[spans.len() - 1].trace_id);
    }
}

#[test]
fn well_formed_document_needs_no_repair() {
    let (req, repairs) = from_segment_repaired(&legacy().to_string()).unwrap();
    assert_eq!(repairs, Repairs::default());
    assert_eq!(spans_of(&req).len(), 4);
    // Unknown fields are ignored, not counted.
    let mut doc = legacy();
    doc["Dummy"] = json!(false);
    assert_eq!(
        from_segment_repaired(&doc.to_string()).unwrap().1,
        Repairs::default()
    );
}

#[test]
fn only_unusable_ids_reject_the_document() {
    for (path, value) in [
        ("trace_id", json!(null)),
        ("trace_id", json!("1-5f0a1b2c")),
        ("trace_id", json!(15)),
        ("id", json!("1c2d3e4f")),
        ("id", json!({"v": 1})),
        ("id", json!(null)),
    ] {
        let mut doc = legacy();
        set(&mut doc, path, value.clone());
        if value.is_null() {
            doc.as_object_mut().unwrap().remove(path);
        }
        assert!(
            matches!(
                from_segment(&doc.to_string()),
                Err(TranslateError::InvalidDocument(_))
            ),
            "{path}={value}"
        );
    }
    // Not JSON, or not an object: nothing to repair.
    assert!(from_segment("{\"id\": ").is_err());
    assert!(from_segment("\"segment\"").is_err());
}

#[test]
fn times_missing_from_a_completed_document_are_repaired() {
    let mut doc = legacy();
    let obj = doc.as_object_mut().unwrap();
    obj.remove("end_time");
    obj.remove("subsegments");
    let (req, repairs) = from_segment_repaired(&doc.to_string()).unwrap();
    let span = spans_of(&req)[0].clone();
    assert_eq!(span.end_time_unix_nano, span.start_time_unix_nano);
    assert_eq!(repairs.skipped, 1);
}

#[test]
fn repairs_are_counted_through_the_typed_path_too() {
    // parse (counts coercions) → translate (counts unusable subsegments).
    let mut doc = legacy();
    set(&mut doc, "http/response/content_length", json!("120"));
    set(&mut doc, "subsegments/1/id", json!("zz"));
    let (seg, parsed) = parse_segment_repaired(&doc.to_string()).unwrap();
    assert_eq!(parsed.coerced, 1);
    let (req, errors, translated) = segments_into_request_repaired([seg]);
    assert!(errors.is_empty());
    assert_eq!(translated.skipped, 1);
    assert_eq!(spans_of(&req).len(), 3);
}
