//! The per-input cache of derived results: its key takes in everything the
//! rules read, spans with equal inputs share one result, and cached label
//! sets reach the right series in every interval.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans};

use super::super::cache::{keyed, read_keys};
use super::*;

/// Attribute sets that walk the rules' branches as far as they go.
fn families() -> Vec<Vec<KeyValue>> {
    let s = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| kv(k, v)).collect::<Vec<_>>();
    vec![
        vec![],
        s(&[(RPC_SYSTEM, "aws-api")]),
        s(&[(RPC_SYSTEM, "aws-api"), (AWS_S3_BUCKET, "b")]),
        s(&[
            (RPC_SYSTEM, "aws-api"),
            (RPC_SERVICE, "Lambda"),
            (RPC_METHOD, "Invoke"),
            (AWS_LAMBDA_FUNCTION_NAME, "f"),
        ]),
        s(&[(DB_SYSTEM, "postgresql")]),
        s(&[
            (DB_SYSTEM, "postgresql"),
            (SERVER_ADDRESS, "db"),
            (DB_USER, "u"),
        ]),
        s(&[(DB_STATEMENT, "SELECT 1")]),
        s(&[(MESSAGING_SYSTEM, "sqs"), (MESSAGING_OPERATION, "process")]),
        s(&[(HTTP_METHOD, "GET"), (HTTP_URL, "http://h:1/a/b")]),
        s(&[(HTTP_REQUEST_METHOD, "GET"), (URL_FULL, "http://h/a")]),
        s(&[(AWS_REMOTE_SERVICE, "r")]),
    ]
}

#[test]
fn cache_key_covers_every_key_the_rules_read() {
    let resource = resource();
    let lambda = Generator::new(GeneratorConfig {
        lambda_function_name: Some("fn".into()),
        lambda_remote_environment: None,
    });
    let kinds = [
        SpanKind::Server,
        SpanKind::Client,
        SpanKind::Producer,
        SpanKind::Consumer,
        SpanKind::Internal,
    ];
    let mut all = std::collections::BTreeSet::new();
    for generator in [gen_(), lambda] {
        for kind in kinds {
            for attributes in families() {
                for (local_root, consumer_parent) in [(false, false), (true, false), (false, true)]
                {
                    for scope in ["s", "opentelemetry.instrumentation.flask"] {
                        let span = Span {
                            kind: kind as i32,
                            attributes: attributes.clone(),
                            ..Span::default()
                        };
                        let cx = SpanContext {
                            scope,
                            local_root,
                            consumer_parent,
                            ..cx(&resource)
                        };
                        let read = read_keys::during(|| {
                            generator.generate(&span, &cx);
                        });
                        for key in &read {
                            if key == "service.name" {
                                continue; // the resource's: keyed through the service
                            }
                            assert!(
                                keyed(key, kind == SpanKind::Server),
                                "{key} read for a {kind:?} span but not in the cache key"
                            );
                        }
                        all.extend(read);
                    }
                }
            }
        }
    }
    // The walk reached the ends of the rules' chains.
    for key in [
        AWS_LAMBDA_RESOURCE_MAPPING_ID,
        DB_CONNECTION_STRING,
        GRAPHQL_OPERATION_TYPE,
        AWS_AUTH_REGION,
        URL_FULL,
        NET_SOCK_PEER_ADDR,
        AWS_CONSUMER_PARENT_SPAN_KIND,
    ] {
        assert!(all.contains(key), "{key} never read: {all:?}");
    }
}

fn root_span(kind: SpanKind, id: u8, name: &str, attributes: Vec<KeyValue>) -> Span {
    Span {
        kind: kind as i32,
        span_id: vec![id; 8],
        name: name.to_owned(),
        attributes,
        start_time_unix_nano: 1_000_000_000,
        end_time_unix_nano: 1_002_000_000,
        ..Span::default()
    }
}

fn int_kv(k: &str, v: i64) -> KeyValue {
    kvv(k, Value::IntValue(v))
}

fn request(resource: &[KeyValue], spans: Vec<Span>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: resource.to_vec(),
                ..Resource::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }],
    }
}

fn aws_attributes(span: &Span) -> AttrSet {
    sorted(
        span.attributes
            .iter()
            // What the generator writes (not input attributes such as `aws.s3.bucket`).
            .filter(|kv| {
                ["aws.local.", "aws.remote.", AWS_SPAN_KIND]
                    .iter()
                    .any(|p| kv.key.starts_with(p))
            })
            .filter_map(|kv| match kv.value.as_ref()?.value.as_ref()? {
                Value::StringValue(s) => Some((leak(&kv.key), s.clone())),
                _ => None,
            })
            .collect(),
    )
}

fn leak(key: &str) -> &'static str {
    Box::leak(key.to_owned().into_boxed_str())
}

#[test]
fn spans_with_equal_inputs_share_a_result_and_get_what_generate_gives() {
    let s = |k: &str, v: &str| kv(k, v);
    let spans = vec![
        // Same remote operation (first path segment): one entry.
        root_span(
            SpanKind::Client,
            1,
            "GET",
            vec![
                s(HTTP_METHOD, "GET"),
                s(HTTP_URL, "http://orders:8080/api/1"),
            ],
        ),
        root_span(
            SpanKind::Client,
            2,
            "GET",
            vec![
                s(HTTP_METHOD, "GET"),
                s(HTTP_URL, "http://orders:8080/api/2?x=1"),
            ],
        ),
        root_span(
            SpanKind::Client,
            3,
            "GET",
            vec![
                s(HTTP_METHOD, "GET"),
                s(HTTP_URL, "http://orders:8080/users/1"),
            ],
        ),
        root_span(
            SpanKind::Client,
            4,
            "GET",
            vec![
                s(HTTP_METHOD, "GET"),
                s(HTTP_URL, "http://billing:8080/api/1"),
            ],
        ),
        // Same statement keyword: one entry; another keyword: another.
        root_span(
            SpanKind::Client,
            5,
            "q",
            vec![
                s(DB_SYSTEM, "postgresql"),
                s(DB_STATEMENT, "SELECT * FROM t WHERE id = 1"),
            ],
        ),
        root_span(
            SpanKind::Client,
            6,
            "q",
            vec![
                s(DB_SYSTEM, "postgresql"),
                s(DB_STATEMENT, "SELECT * FROM t WHERE id = 2"),
            ],
        ),
        root_span(
            SpanKind::Client,
            7,
            "q",
            vec![
                s(DB_SYSTEM, "postgresql"),
                s(DB_STATEMENT, "INSERT INTO t VALUES (1)"),
            ],
        ),
        // Numbers are inputs too.
        root_span(
            SpanKind::Client,
            8,
            "c",
            vec![s(NET_PEER_NAME, "cache"), int_kv(NET_PEER_PORT, 6379)],
        ),
        root_span(
            SpanKind::Client,
            9,
            "c",
            vec![s(NET_PEER_NAME, "cache"), int_kv(NET_PEER_PORT, 6380)],
        ),
        // A SERVER span's name is its operation; without one, its path's first segment.
        root_span(SpanKind::Server, 10, "GET /a", vec![]),
        root_span(SpanKind::Server, 11, "GET /b", vec![]),
        root_span(
            SpanKind::Server,
            12,
            "",
            vec![s(HTTP_METHOD, "POST"), s(HTTP_TARGET, "/x/1")],
        ),
        root_span(
            SpanKind::Server,
            13,
            "",
            vec![s(HTTP_METHOD, "POST"), s(HTTP_TARGET, "/x/2")],
        ),
        root_span(
            SpanKind::Server,
            14,
            "",
            vec![s(HTTP_METHOD, "POST"), s(HTTP_TARGET, "/y/2")],
        ),
        // Status codes are not inputs (error and fault are per span).
        root_span(
            SpanKind::Internal,
            15,
            "job",
            vec![int_kv(HTTP_STATUS_CODE, 200)],
        ),
        root_span(
            SpanKind::Internal,
            16,
            "job",
            vec![int_kv(HTTP_STATUS_CODE, 500)],
        ),
        root_span(
            SpanKind::Client,
            17,
            "s3",
            vec![
                s(RPC_SYSTEM, "aws-api"),
                s(RPC_SERVICE, "S3"),
                s(RPC_METHOD, "GetObject"),
                s(AWS_S3_BUCKET, "my|bucket"),
            ],
        ),
    ];
    // Distinct inputs: the spans above minus the 4 that repeat an earlier one.
    let distinct = spans.len() - 4;
    let resource = resource();
    let environment = local_environment(&resource);
    let generator = gen_();
    let mut req = request(&resource, spans.clone());
    let stats = generator.apply(&mut req, |_| {});
    assert_eq!(stats.annotated, spans.len() as u64);
    let first: Vec<AttrSet> = req.resource_spans[0].scope_spans[0]
        .spans
        .iter()
        .map(aws_attributes)
        .collect();
    for (span, got) in spans.iter().zip(&first) {
        let cx = SpanContext {
            local_root: true,
            ..cx(&resource)
        };
        let mut want = gen_()
            .generate(span, &cx)
            .span_attributes()
            .expect("annotated");
        want.push((AWS_LOCAL_ENVIRONMENT, environment.clone()));
        assert_eq!(*got, sorted(want), "span {:?}", span.name);
    }
    let cache = generator.cache.take();
    assert_eq!(cache.len(), distinct);
    generator.cache.give_back(cache);
    // Again, every span from the cache: the same attributes.
    let mut again = request(&resource, spans);
    generator.apply(&mut again, |_| {});
    let second: Vec<AttrSet> = again.resource_spans[0].scope_spans[0]
        .spans
        .iter()
        .map(aws_attributes)
        .collect();
    assert_eq!(first, second);
}

/// Latency count per `Operation` label in one interval's metrics.
fn counts(
    req: &opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest,
) -> Vec<(String, u64)> {
    let metric = &req.resource_metrics[0].scope_metrics[0].metrics[0];
    assert_eq!(metric.name, LATENCY);
    let Some(Data::Histogram(h)) = &metric.data else {
        panic!("histogram");
    };
    let mut out: Vec<(String, u64)> = h
        .data_points
        .iter()
        .map(|p| {
            let op = p
                .attributes
                .iter()
                .find(|kv| kv.key == "Operation")
                .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
                    Value::StringValue(s) => Some(s.clone()),
                    _ => None,
                })
                .unwrap_or_default();
            (op, p.count)
        })
        .collect();
    out.sort();
    out
}

#[test]
fn cached_label_sets_reach_their_series_in_every_interval() {
    let resource = resource();
    let app = AppSignals::new(GeneratorConfig::default(), 10).unwrap();
    let batch = |names: &[&str]| {
        let spans = names
            .iter()
            .enumerate()
            .map(|(i, n)| root_span(SpanKind::Server, i as u8 + 1, n, vec![]))
            .collect();
        request(&resource, spans)
    };
    app.process(&mut batch(&["a", "b", "a", "a"]));
    app.process(&mut batch(&["b", "a"]));
    let one = app.take_metrics(1).expect("first interval");
    assert_eq!(counts(&one), [("a".into(), 4), ("b".into(), 2)]);
    // A new interval: the handles of the cached sets point into the old one.
    app.process(&mut batch(&["b", "c"]));
    let two = app.take_metrics(2).expect("second interval");
    assert_eq!(counts(&two), [("b".into(), 1), ("c".into(), 1)]);
    assert!(app.take_metrics(3).is_none());
    // Another pipeline's aggregator is not reached through this one's handles.
    let other = AppSignals::new(GeneratorConfig::default(), 10).unwrap();
    other.process(&mut batch(&["a"]));
    app.process(&mut batch(&["a", "a"]));
    assert_eq!(counts(&other.take_metrics(4).unwrap()), [("a".into(), 1)]);
    assert_eq!(counts(&app.take_metrics(4).unwrap()), [("a".into(), 2)]);
}

/// The cached attributes are appended to spans that carry none of them and
/// replace the ones a span already has: every key once, whichever span of
/// an input came first.
#[test]
fn written_attributes_replace_a_spans_own_and_are_never_duplicated() {
    let s = |k: &str, v: &str| kv(k, v);
    let plain = || {
        vec![
            s(HTTP_METHOD, "GET"),
            s(HTTP_URL, "http://orders:8080/api/1"),
        ]
    };
    let own = || {
        vec![
            s(HTTP_METHOD, "GET"),
            s(AWS_REMOTE_SERVICE, "orders-override"),
            s(HTTP_URL, "http://orders:8080/api/1"),
        ]
    };
    let spans = vec![
        root_span(SpanKind::Client, 1, "GET", plain()),
        root_span(SpanKind::Client, 2, "GET", own()),
        root_span(SpanKind::Client, 3, "GET", plain()),
        root_span(SpanKind::Client, 4, "GET", own()),
    ];
    let mut req = request(&resource(), spans);
    let stats = gen_().apply(&mut req, |_| {});
    assert_eq!(stats.annotated, 4);
    for span in &req.resource_spans[0].scope_spans[0].spans {
        let mut keys: Vec<&str> = span.attributes.iter().map(|a| a.key.as_str()).collect();
        let all = keys.len();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(
            keys.len(),
            all,
            "a key written twice: {:?}",
            span.attributes
        );
        let value = |key: &str| {
            span.attributes
                .iter()
                .find(|a| a.key == key)
                .and_then(|a| a.value.as_ref()?.value.as_ref())
                .cloned()
        };
        let remote = value(AWS_REMOTE_SERVICE);
        let want = if span.span_id[0] % 2 == 0 {
            // ADOT keeps a span's own aws.remote.service.
            "orders-override"
        } else {
            // The URL's netloc.
            "orders:8080"
        };
        assert_eq!(remote, Some(Value::StringValue(want.to_owned())));
        assert!(value(AWS_SPAN_KIND).is_some());
    }
}
