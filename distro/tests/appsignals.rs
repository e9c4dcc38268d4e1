//! Application Signals over whole OTLP batches: attributes written onto
//! the spans (local roots from span flags, operations inherited from parents
//! in the batch, environment from the resource) and the Latency/Error/Fault
//! EMF documents with the CloudWatch agent's dimension sets.
// Test helpers outside #[test] fns unwrap too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, InstrumentationScope, KeyValue, any_value::Value,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{
    ResourceSpans, ScopeSpans, Span, SpanFlags, Status, span::SpanKind, status::StatusCode,
};
use otel_aws_distro::appsignals::{AppSignals, GeneratorConfig, LOG_GROUP, NAMESPACE};
use serde_json::Value as J;

fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(Value::StringValue(v.into())),
        }),
        ..KeyValue::default()
    }
}

fn kvi(k: &str, v: i64) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(Value::IntValue(v)),
        }),
        ..KeyValue::default()
    }
}

const REMOTE_PARENT: u32 =
    SpanFlags::ContextHasIsRemoteMask as u32 | SpanFlags::ContextIsRemoteMask as u32;
const LOCAL_PARENT: u32 = SpanFlags::ContextHasIsRemoteMask as u32;
const MS: u64 = 1_000_000;
const T0: u64 = 1_764_900_000_000 * MS;

#[allow(clippy::too_many_arguments)]
fn span(
    id: u8,
    parent: Option<u8>,
    flags: u32,
    kind: SpanKind,
    name: &str,
    ms: u64,
    error: bool,
    attrs: Vec<KeyValue>,
) -> Span {
    Span {
        trace_id: vec![7; 16],
        span_id: vec![id; 8],
        parent_span_id: parent.map(|p| vec![p; 8]).unwrap_or_default(),
        flags,
        kind: kind as i32,
        name: name.into(),
        start_time_unix_nano: T0,
        end_time_unix_nano: T0 + ms * MS,
        attributes: attrs,
        status: error.then(|| Status {
            code: StatusCode::Error as i32,
            ..Status::default()
        }),
        ..Span::default()
    }
}

fn batch(resource: Vec<KeyValue>, spans: Vec<Span>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: resource,
                ..Resource::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "manual".into(),
                    ..InstrumentationScope::default()
                }),
                spans,
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }],
    }
}

fn attr<'a>(s: &'a Span, key: &str) -> Option<&'a str> {
    s.attributes.iter().find(|kv| kv.key == key).and_then(|kv| {
        match kv.value.as_ref()?.value.as_ref()? {
            Value::StringValue(s) => Some(s.as_str()),
            _ => None,
        }
    })
}

fn ecs_resource() -> Vec<KeyValue> {
    vec![
        kv("service.name", "checkout"),
        kv("cloud.platform", "aws_ecs"),
        kv(
            "aws.ecs.cluster.arn",
            "arn:aws:ecs:us-east-1:123456789012:cluster/shop",
        ),
    ]
}

/// A request through `checkout`: SERVER `GET /orders/{id}` (remote parent)
/// → INTERNAL → CLIENT to DynamoDB; a second request failing with 500; a
/// CLIENT HTTP call answered 404; a background job (local root, INTERNAL).
fn traffic() -> ExportTraceServiceRequest {
    let dynamo = || {
        vec![
            kv("rpc.system", "aws-api"),
            kv("rpc.service", "DynamoDB"),
            kv("rpc.method", "GetItem"),
            KeyValue {
                key: "aws.dynamodb.table_names".into(),
                value: Some(AnyValue {
                    value: Some(Value::ArrayValue(
                        opentelemetry_proto::tonic::common::v1::ArrayValue {
                            values: vec![AnyValue {
                                value: Some(Value::StringValue("orders".into())),
                            }],
                        },
                    )),
                }),
                ..KeyValue::default()
            },
        ]
    };
    let server_attrs = |code| {
        vec![
            kv("http.request.method", "GET"),
            kv("http.route", "/orders/{id}"),
            kvi("http.response.status_code", code),
        ]
    };
    batch(
        ecs_resource(),
        vec![
            // Children before parents, as a batch processor exports them.
            span(
                3,
                Some(2),
                LOCAL_PARENT,
                SpanKind::Client,
                "DynamoDB.GetItem",
                20,
                false,
                dynamo(),
            ),
            span(
                2,
                Some(1),
                LOCAL_PARENT,
                SpanKind::Internal,
                "load",
                25,
                false,
                vec![],
            ),
            span(
                1,
                Some(9),
                REMOTE_PARENT,
                SpanKind::Server,
                "GET /orders/{id}",
                40,
                false,
                server_attrs(200),
            ),
            span(
                4,
                Some(9),
                REMOTE_PARENT,
                SpanKind::Server,
                "GET /orders/{id}",
                60,
                true,
                server_attrs(500),
            ),
            span(
                5,
                Some(4),
                LOCAL_PARENT,
                SpanKind::Client,
                "GET",
                10,
                false,
                vec![
                    kv("http.method", "GET"),
                    kv("http.url", "http://inventory:8080/items/12?x=1"),
                    kvi("http.status_code", 404),
                ],
            ),
            span(
                6,
                None,
                0,
                SpanKind::Internal,
                "nightly-report",
                100,
                false,
                vec![],
            ),
        ],
    )
}

#[test]
fn spans_get_the_attributes() {
    let app = AppSignals::new(GeneratorConfig::default(), 100).unwrap();
    let mut req = traffic();
    let stats = app.process(&mut req);
    assert_eq!(stats.spans, 6);
    assert_eq!(stats.annotated, 5, "all but the INTERNAL child");
    let spans = &req.resource_spans[0].scope_spans[0].spans;
    let by_id = |id: u8| spans.iter().find(|s| s.span_id == vec![id; 8]).unwrap();

    let server = by_id(1);
    assert_eq!(attr(server, "aws.span.kind"), Some("LOCAL_ROOT"));
    assert_eq!(attr(server, "aws.local.service"), Some("checkout"));
    assert_eq!(
        attr(server, "aws.local.operation"),
        Some("GET /orders/{id}")
    );
    assert_eq!(attr(server, "aws.local.environment"), Some("ecs:shop"));

    let call = by_id(3);
    assert_eq!(attr(call, "aws.span.kind"), Some("CLIENT"));
    assert_eq!(
        attr(call, "aws.local.operation"),
        Some("GET /orders/{id}"),
        "inherited through the INTERNAL span"
    );
    assert_eq!(attr(call, "aws.remote.service"), Some("AWS::DynamoDB"));
    assert_eq!(attr(call, "aws.remote.operation"), Some("GetItem"));
    assert_eq!(
        attr(call, "aws.remote.resource.type"),
        Some("AWS::DynamoDB::Table")
    );
    assert_eq!(attr(call, "aws.remote.resource.identifier"), Some("orders"));
    assert_eq!(
        attr(call, "aws.remote.resource.cfn.primary.identifier"),
        Some("orders")
    );
    assert_eq!(attr(call, "aws.local.environment"), Some("ecs:shop"));

    assert_eq!(attr(by_id(2), "aws.span.kind"), None);

    let http = by_id(5);
    assert_eq!(attr(http, "aws.remote.service"), Some("inventory:8080"));
    assert_eq!(attr(http, "aws.remote.operation"), Some("GET /items"));

    let job = by_id(6);
    assert_eq!(attr(job, "aws.span.kind"), Some("LOCAL_ROOT"));
    assert_eq!(attr(job, "aws.local.operation"), Some("InternalOperation"));
}

#[test]
fn spans_already_generated_are_left_alone() {
    let app = AppSignals::new(GeneratorConfig::default(), 100).unwrap();
    let pre = vec![
        kv("aws.span.kind", "SERVER"),
        kv("aws.local.service", "from-sdk"),
        kv("aws.local.operation", "GET /sdk"),
    ];
    let mut req = batch(
        ecs_resource(),
        vec![span(
            1,
            Some(9),
            REMOTE_PARENT,
            SpanKind::Server,
            "GET /x",
            5,
            false,
            pre.clone(),
        )],
    );
    let stats = app.process(&mut req);
    assert_eq!(stats.already_generated, 1);
    assert_eq!(
        req.resource_spans[0].scope_spans[0].spans[0].attributes,
        pre
    );
    assert!(app.flush(T0 + 1000 * MS).events.is_empty());
}

fn docs(app: &AppSignals) -> Vec<J> {
    let out = app.flush(T0 + 60_000 * MS);
    assert_eq!(out.stats.skipped(), 0, "{:?}", out.stats);
    out.events
        .iter()
        .map(|e| {
            assert_eq!(e.destination.log_group, LOG_GROUP);
            serde_json::from_str(&e.message).unwrap()
        })
        .collect()
}

fn find<'a>(docs: &'a [J], pairs: &[(&str, &str)]) -> &'a J {
    let hits: Vec<&J> = docs
        .iter()
        .filter(|d| pairs.iter().all(|(k, v)| d[*k] == *v))
        .collect();
    assert_eq!(hits.len(), 1, "one document with {pairs:?} in {docs:#?}");
    hits[0]
}

fn dimension_sets(doc: &J) -> Vec<Vec<String>> {
    let cw = &doc["_aws"]["CloudWatchMetrics"][0];
    assert_eq!(cw["Namespace"], NAMESPACE);
    let mut sets: Vec<Vec<String>> = serde_json::from_value(cw["Dimensions"].clone()).unwrap();
    for s in &mut sets {
        s.sort();
    }
    sets.sort();
    sets
}

fn sorted_sets(sets: &[&[&str]]) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = sets
        .iter()
        .map(|s| {
            let mut v: Vec<String> = s.iter().map(|x| (*x).to_owned()).collect();
            v.sort();
            v
        })
        .collect();
    out.sort();
    out
}

fn stats(doc: &J, metric: &str) -> (f64, f64, f64, f64) {
    let v = &doc[metric];
    (
        v["Count"].as_f64().unwrap(),
        v["Sum"].as_f64().unwrap(),
        v["Min"].as_f64().unwrap(),
        v["Max"].as_f64().unwrap(),
    )
}

#[test]
fn metrics_as_emf() {
    let app = AppSignals::new(GeneratorConfig::default(), 100).unwrap();
    let mut req = traffic();
    app.process(&mut req);
    let docs = docs(&app);

    // Two requests to GET /orders/{id}: 40 ms OK, 60 ms fault.
    let orders = find(
        &docs,
        &[
            ("Operation", "GET /orders/{id}"),
            ("Telemetry.Source", "LocalRootSpan"),
        ],
    );
    assert_eq!(orders["Service"], "checkout");
    assert_eq!(orders["Environment"], "ecs:shop");
    assert_eq!(
        dimension_sets(orders),
        sorted_sets(&[
            &["Environment", "Service", "Operation"],
            &["Environment", "Service"]
        ])
    );
    assert_eq!(stats(orders, "Latency"), (2.0, 100.0, 40.0, 60.0));
    assert_eq!(stats(orders, "Fault"), (2.0, 1.0, 0.0, 1.0));
    assert_eq!(stats(orders, "Error"), (2.0, 0.0, 0.0, 0.0));
    let units = &orders["_aws"]["CloudWatchMetrics"][0]["Metrics"];
    let latency = units
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["Name"] == "Latency")
        .unwrap();
    assert_eq!(latency["Unit"], "Milliseconds");

    // The DynamoDB call: every dependency set whose names the point has.
    let dynamo = find(&docs, &[("RemoteService", "AWS::DynamoDB")]);
    assert_eq!(dynamo["Telemetry.Source"], "ClientSpan");
    assert_eq!(dynamo["Operation"], "GET /orders/{id}");
    assert_eq!(dynamo["RemoteOperation"], "GetItem");
    assert_eq!(dynamo["RemoteResourceType"], "AWS::DynamoDB::Table");
    assert_eq!(dynamo["RemoteResourceIdentifier"], "orders");
    let (e, s, o, rs, ro) = (
        "Environment",
        "Service",
        "Operation",
        "RemoteService",
        "RemoteOperation",
    );
    let (rid, rty) = ("RemoteResourceIdentifier", "RemoteResourceType");
    assert_eq!(
        dimension_sets(dynamo),
        sorted_sets(&[
            &[e, s, o, rs, ro, rid, rty],
            &[e, s, o, rs, ro],
            &[e, s, rs],
            &[e, s, rs, ro, rid, rty],
            &[e, s, rs, ro],
            &[e, s, rs, rid, rty],
            &[rs, rid, rty],
            &[rs],
        ])
    );
    assert_eq!(stats(dynamo, "Latency"), (1.0, 20.0, 20.0, 20.0));

    // The HTTP call answered 404: an error, not a fault; no resource sets.
    let http = find(&docs, &[("RemoteService", "inventory:8080")]);
    assert_eq!(stats(http, "Error"), (1.0, 1.0, 1.0, 1.0));
    assert_eq!(stats(http, "Fault"), (1.0, 0.0, 0.0, 0.0));
    assert_eq!(
        dimension_sets(http),
        sorted_sets(&[&[e, s, o, rs, ro], &[e, s, rs], &[e, s, rs, ro], &[rs]])
    );

    // The job: a local root's service metrics.
    let job = find(&docs, &[("Operation", "InternalOperation")]);
    assert_eq!(job["Telemetry.Source"], "LocalRootSpan");
    assert_eq!(stats(job, "Latency"), (1.0, 100.0, 100.0, 100.0));

    assert_eq!(docs.len(), 4);
    // The interval was taken: the next flush has nothing.
    assert!(app.flush(T0 + 120_000 * MS).events.is_empty());
}

#[test]
fn series_limit_drops_and_counts() {
    let app = AppSignals::new(GeneratorConfig::default(), 2).unwrap();
    let spans: Vec<Span> = (1..=5u8)
        .map(|i| {
            span(
                i,
                Some(99),
                REMOTE_PARENT,
                SpanKind::Server,
                &format!("op{i}"),
                1,
                false,
                vec![],
            )
        })
        .collect();
    let mut req = batch(ecs_resource(), spans);
    app.process(&mut req);
    assert_eq!(app.dropped(), 3);
    let out = app.take_metrics(T0 + MS).unwrap();
    let points = match &out.resource_metrics[0].scope_metrics[0].metrics[0].data {
        Some(opentelemetry_proto::tonic::metrics::v1::metric::Data::Histogram(h)) => {
            h.data_points.len()
        }
        other => panic!("{other:?}"),
    };
    assert_eq!(points, 2);
}
