//! The borrowed document serialises to the same bytes as the owned
//! [`Segment`] it stands for (serde's derive on the owned struct is the
//! reference), and the size-limited path gives what [`encode_segment`] gives,
//! over pseudo-random spans mixing every attribute the translation reads
//! with odd values (empty, unicode, escapes, NaN, nested lists, duplicates).

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, KeyValue, KeyValueList, any_value::Value as Av,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::Event;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};

use super::doc_of;
use crate::translate::{
    IndexedKeys, MAX_DOCUMENT_BYTES, TranslateOptions, encode_segment, resource_info, to_segments,
};

struct R(u64);
impl R {
    fn n(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn b(&mut self, k: u64) -> u64 {
        self.n() % k
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.b(xs.len() as u64) as usize]
    }
}

const KEYS: &[&str] = &[
    "http.request.method",
    "http.method",
    "url.full",
    "http.url",
    "user_agent.original",
    "http.user_agent",
    "client.address",
    "http.client_ip",
    "network.peer.address",
    "net.peer.ip",
    "aws.xray.x_forwarded_for",
    "http.response.status_code",
    "http.status_code",
    "http.response.body.size",
    "http.response_content_length",
    "server.address",
    "http.host",
    "net.host.name",
    "url.scheme",
    "http.scheme",
    "server.port",
    "net.host.port",
    "url.path",
    "http.target",
    "url.query",
    "db.system",
    "db.system.name",
    "db.name",
    "db.namespace",
    "db.connection_string",
    "net.peer.name",
    "net.peer.port",
    "db.statement",
    "db.query.text",
    "db.user",
    "peer.service",
    "rpc.system",
    "aws.service",
    "rpc.service",
    "rpc.method",
    "aws.operation",
    "aws.region",
    "aws.request_id",
    "aws.requestId",
    "aws.queue_url",
    "aws.sqs.queue_url",
    "aws.table_name",
    "aws.dynamodb.table_names",
    "enduser.id",
    "order.id",
    "tenant",
    "x y",
    "a-b.c",
    "k",
    "aws.xray.annotations",
    "aws.xray.metadata.default",
    "aws.xray.metadata.otel",
    "aws.xray.metadata.custom",
    "aws.xray.metadata.",
    "aws.xray.metadata.AWS.x",
    "aws.xray.metadata.zz",
    "idx.key",
];
const STRS: &[&str] = &[
    "",
    "GET",
    "POST",
    "https://api.example.com/v1/x?y=1",
    "/p",
    "p",
    "?q=1",
    "aws-api",
    "DynamoDB",
    "postgresql",
    "mysql",
    "redis",
    "orders",
    "host.example",
    "h:1",
    "192.0.2.1",
    "2001:db8::7",
    "café ü",
    "quote\" back\\ ctl\u{1}\n",
    "日本語 サービス",
    "a*b!c?d(e)",
    "{\"a\":1,\"b\":[1,2]}",
    "{\"z\":{\"y\":2,\"x\":1},\"a\":null}",
    "[1,2]",
    "\"str\"",
    "not json",
    "12",
    " 42 ",
    "1.5",
    "http",
    "https",
    "80",
    "443",
    "tenant",
    "order.id",
    "x y",
    "GetItem",
    "SELECT 1",
    "arn:aws:logs:us-east-1:1:log-group:g:*",
    "fargate",
    "EC2",
];

fn val(r: &mut R, depth: u32) -> Av {
    match r.b(if depth > 1 { 5 } else { 9 }) {
        0 | 1 => Av::StringValue((*r.pick(STRS)).to_owned()),
        2 => Av::IntValue(*r.pick(&[0i64, 1, -5, 80, 200, 404, 429, 503, 443, i64::MAX, i64::MIN])),
        3 => Av::DoubleValue(*r.pick(&[
            0.0f64,
            -0.0,
            1.5,
            200.0,
            1e300,
            f64::NAN,
            f64::INFINITY,
            0.1,
            3.0e-7,
            1e16,
        ])),
        4 => Av::BoolValue(r.b(2) == 0),
        5 | 6 => Av::ArrayValue(ArrayValue {
            values: (0..r.b(4))
                .map(|_| AnyValue {
                    value: if r.b(8) == 0 {
                        None
                    } else {
                        Some(val(r, depth + 1))
                    },
                })
                .collect(),
        }),
        7 => Av::KvlistValue(KeyValueList {
            values: (0..r.b(4))
                .map(|_| {
                    let k = *r.pick(&["b", "a", "c", "a"]);
                    kv(k, val(r, depth + 1))
                })
                .collect(),
        }),
        _ => Av::BytesValue(vec![1, 0xab, 0xff]),
    }
}

fn kv(k: &str, v: Av) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue { value: Some(v) }),
        ..Default::default()
    }
}

fn span(r: &mut R) -> Span {
    let mut attributes = Vec::new();
    for _ in 0..r.b(14) {
        let k = *r.pick(KEYS);
        if k == "aws.xray.annotations" {
            let v = Av::ArrayValue(ArrayValue {
                values: (0..r.b(4))
                    .map(|_| AnyValue {
                        value: Some(Av::StringValue((*r.pick(KEYS)).to_owned())),
                    })
                    .collect(),
            });
            attributes.push(kv(k, v));
        } else if r.b(20) == 0 {
            attributes.push(KeyValue {
                key: k.into(),
                value: None,
                ..Default::default()
            });
        } else {
            let v = val(r, 0);
            attributes.push(kv(k, v));
        }
    }
    let mut events = Vec::new();
    for _ in 0..r.b(3) {
        events.push(Event {
            time_unix_nano: 5,
            name: (*r.pick(&["exception", "log"])).into(),
            attributes: vec![
                kv("exception.type", Av::StringValue("E".into())),
                kv("exception.message", val(r, 0)),
                kv(
                    "exception.stacktrace",
                    Av::StringValue(
                        (*r.pick(&[
                            "E: boom\n\tat a.b(F.java:3)\n\tat c(x:1:2)",
                            "File \"x.py\", line 3, in f",
                            "",
                        ]))
                        .into(),
                    ),
                ),
            ],
            dropped_attributes_count: 0,
        });
    }
    let id: u64 = if r.b(30) == 0 { 0 } else { r.n() | 1 };
    Span {
        trace_id: if r.b(40) == 0 {
            vec![0; 16]
        } else {
            (0..16).map(|_| r.n() as u8).collect()
        },
        span_id: id.to_be_bytes().to_vec(),
        parent_span_id: if r.b(3) == 0 {
            vec![]
        } else {
            (r.n() | 1).to_be_bytes().to_vec()
        },
        name: (*r.pick(&["GET /v1/{id}", "", "n", "café ü", "{}()", "quote\"x"])).into(),
        kind: r.b(7) as i32,
        start_time_unix_nano: 1_700_000_000_123_456_789 + r.b(1_000_000_000),
        end_time_unix_nano: if r.b(10) == 0 {
            0
        } else {
            1_700_000_001_123_456_000 + r.b(100_000)
        },
        attributes,
        events,
        status: if r.b(2) == 0 {
            None
        } else {
            Some(Status {
                code: r.b(4) as i32,
                message: (*r.pick(&["", "bad", "x\"y"])).into(),
            })
        },
        ..Default::default()
    }
}

const RKEYS: &[&str] = &[
    "service.name",
    "service.version",
    "cloud.platform",
    "cloud.provider",
    "aws.ecs.launchtype",
    "cloud.availability_zone",
    "cloud.account.id",
    "host.id",
    "host.type",
    "host.image.id",
    "container.name",
    "host.name",
    "container.id",
    "aws.ecs.task.arn",
    "aws.ecs.task.family",
    "aws.ecs.cluster.arn",
    "aws.ecs.container.arn",
    "k8s.cluster.name",
    "k8s.pod.name",
    "aws.log.group.names",
    "aws.log.group.arns",
    "telemetry.sdk.name",
    "telemetry.sdk.language",
    "telemetry.sdk.version",
    "telemetry.auto.version",
    "cloud.resource_id",
    "faas.id",
];

fn resource(r: &mut R) -> Vec<KeyValue> {
    let mut out = vec![];
    if r.b(2) == 0 {
        out.push(kv(
            "cloud.platform",
            Av::StringValue(
                (*r.pick(&[
                    "aws_ec2",
                    "aws_ecs",
                    "aws_eks",
                    "aws_lambda",
                    "aws_elastic_beanstalk",
                    "x",
                ]))
                .into(),
            ),
        ));
    }
    for _ in 0..r.b(10) {
        let k = *r.pick(RKEYS);
        let v = if r.b(3) == 0 {
            val(r, 0)
        } else {
            Av::StringValue((*r.pick(STRS)).to_owned())
        };
        out.push(kv(k, v));
    }
    out
}

fn request(r: &mut R) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: (0..1 + r.b(2))
            .map(|_| ResourceSpans {
                resource: if r.b(8) == 0 {
                    None
                } else {
                    Some(Resource {
                        attributes: resource(r),
                        ..Default::default()
                    })
                },
                scope_spans: vec![ScopeSpans {
                    spans: (0..1 + r.b(3)).map(|_| span(r)).collect(),
                    ..Default::default()
                }],
                schema_url: String::new(),
            })
            .collect(),
    }
}

#[test]
fn borrowed_document_serialises_like_the_owned_one() {
    let mut r = R(0x1234_5678_9abc_def1);
    let (mut checked, mut trimmed) = (0, 0);
    for _ in 0..2000 {
        let req = request(&mut r);
        let opts = TranslateOptions {
            indexed: IndexedKeys {
                keys: if r.b(3) == 0 {
                    vec!["idx.key".into(), "k".into()]
                } else {
                    vec![]
                },
                all: r.b(4) == 0,
            },
            max_document_bytes: if r.b(6) == 0 {
                300 + r.b(400) as usize
            } else {
                MAX_DOCUMENT_BYTES
            },
        };
        let fast = to_segments(&req, &opts);
        let mut i = 0;
        for rs in &req.resource_spans {
            let attrs = rs.resource.as_ref().map(|r| r.attributes.as_slice());
            let info = resource_info(attrs.unwrap_or_default());
            for span in &rs.scope_spans[0].spans {
                let Ok(doc) = doc_of(span, &info, &opts, super::Role::Span) else {
                    assert!(fast[i].is_err());
                    i += 1;
                    continue;
                };
                let borrowed = serde_json::to_string(&doc).unwrap();
                let mut owned = doc.into_owned();
                assert_eq!(borrowed, serde_json::to_string(&owned).unwrap());
                let reference = encode_segment(&mut owned, &opts);
                match (&fast[i], reference) {
                    (Ok(a), Ok(b)) => assert_eq!(*a, b),
                    (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
                    (a, b) => panic!("{a:?} vs {b:?}"),
                }
                trimmed += usize::from(borrowed.len() > opts.max_document_bytes);
                checked += 1;
                i += 1;
            }
        }
    }
    // The mix reaches both paths.
    assert!(checked > 3000 && trimmed > 100, "{checked} {trimmed}");
}
