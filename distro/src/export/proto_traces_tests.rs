//! The expected bytes are prost's `encode_to_vec` (an independent
//! implementation generated from the .proto files), never this encoder's.

use super::*;
use opentelemetry_proto::tonic::common::v1::any_value::Value;

fn kv(key: &str, value: Option<Value>) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: value.map(|v| AnyValue { value: Some(v) }),
        ..KeyValue::default()
    }
}

fn string(s: &str) -> Option<Value> {
    Some(Value::StringValue(s.to_owned()))
}

fn one_span(span: Span) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: vec![span],
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }],
    }
}

/// Same bytes as prost, the measured length is prost's, each span length
/// reported by the measure is prost's, and the bytes decode back to `req`.
#[track_caller]
fn check(req: &ExportTraceServiceRequest) {
    let want = req.encode_to_vec();
    // The write pass itself, not prost's fallback.
    let got = write(req, &TraceLengths::measure(req)).expect("the lengths fit the request");
    assert_eq!(got, want, "bytes differ from prost's for {req:?}");
    assert_eq!(encode_traces(req), want);
    let mut spans = Vec::new();
    let lengths = TraceLengths::measure_with_spans(req, &mut |n| spans.push(n));
    assert_eq!(lengths.encoded_len(), req.encoded_len());
    let prost_spans: Vec<usize> = req
        .resource_spans
        .iter()
        .flat_map(|rs| &rs.scope_spans)
        .flat_map(|ss| &ss.spans)
        .map(prost::Message::encoded_len)
        .collect();
    assert_eq!(spans, prost_spans);
    let back = ExportTraceServiceRequest::decode(got.as_slice()).expect("decodes");
    // NaN is not equal to itself: the decoded request is compared by its
    // debug form (NaN prints as NaN), which names every field.
    assert!(
        format!("{back:?}") == format!("{req:?}"),
        "round trip of {req:?}"
    );
}

#[test]
fn empty_and_default_messages() {
    check(&ExportTraceServiceRequest::default());
    check(&ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans::default(), ResourceSpans::default()],
    });
    // Present but empty optional messages are written (key and a zero length).
    check(&ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource::default()),
            scope_spans: vec![
                ScopeSpans::default(),
                ScopeSpans {
                    scope: Some(InstrumentationScope::default()),
                    spans: vec![Span::default(), Span::default()],
                    ..ScopeSpans::default()
                },
            ],
            ..ResourceSpans::default()
        }],
    });
    check(&one_span(Span {
        status: Some(Status::default()),
        attributes: vec![
            kv("", None),
            KeyValue {
                key: "no value inside".into(),
                value: Some(AnyValue { value: None }),
                ..KeyValue::default()
            },
        ],
        events: vec![Event::default()],
        links: vec![Link::default()],
        ..Span::default()
    }));
}

#[test]
fn every_value_kind_with_defaults_and_extremes() {
    let values = vec![
        string(""),
        string("x"),
        Some(Value::BoolValue(false)),
        Some(Value::BoolValue(true)),
        Some(Value::IntValue(0)),
        Some(Value::IntValue(1)),
        Some(Value::IntValue(-1)),
        Some(Value::IntValue(i64::MIN)),
        Some(Value::IntValue(i64::MAX)),
        Some(Value::IntValue(127)),
        Some(Value::IntValue(128)),
        Some(Value::DoubleValue(0.0)),
        Some(Value::DoubleValue(-0.0)),
        Some(Value::DoubleValue(f64::NAN)),
        Some(Value::DoubleValue(f64::INFINITY)),
        Some(Value::DoubleValue(f64::NEG_INFINITY)),
        Some(Value::DoubleValue(f64::MIN_POSITIVE)),
        Some(Value::DoubleValue(-1.5e300)),
        Some(Value::BytesValue(vec![])),
        Some(Value::BytesValue(vec![0, 255, 128])),
        Some(Value::StringValueStrindex(0)),
        Some(Value::StringValueStrindex(-1)),
        Some(Value::StringValueStrindex(i32::MAX)),
        Some(Value::StringValueStrindex(i32::MIN)),
        Some(Value::ArrayValue(ArrayValue::default())),
        Some(Value::KvlistValue(KeyValueList::default())),
        None,
    ];
    for v in &values {
        check(&one_span(Span {
            attributes: vec![kv("k", v.clone())],
            ..Span::default()
        }));
    }
    // All of them in one array, in one list, and the list in an array in a list.
    let array = Value::ArrayValue(ArrayValue {
        values: values
            .iter()
            .map(|v| AnyValue { value: v.clone() })
            .collect(),
    });
    let list = Value::KvlistValue(KeyValueList {
        values: values
            .iter()
            .enumerate()
            .map(|(i, v)| kv(&format!("k{i}"), v.clone()))
            .collect(),
    });
    let deep = Value::KvlistValue(KeyValueList {
        values: vec![
            kv("list", Some(list.clone())),
            kv(
                "array",
                Some(Value::ArrayValue(ArrayValue {
                    values: vec![
                        AnyValue {
                            value: Some(list.clone()),
                        },
                        AnyValue {
                            value: Some(array.clone()),
                        },
                        AnyValue::default(),
                    ],
                })),
            ),
        ],
    });
    check(&one_span(Span {
        attributes: vec![
            kv("array", Some(array)),
            kv("list", Some(list)),
            kv("deep", Some(deep)),
            kv("after", string("the slot order continues")),
        ],
        ..Span::default()
    }));
}

#[test]
fn negative_enums_and_indexes_take_ten_bytes() {
    check(&one_span(Span {
        kind: -1,
        status: Some(Status {
            message: String::new(),
            code: i32::MIN,
        }),
        attributes: vec![KeyValue {
            key: String::new(),
            value: None,
            key_strindex: -5,
        }],
        ..Span::default()
    }));
}

/// Every field of every message set (and unicode in the strings).
fn full_span(i: usize) -> Span {
    Span {
        trace_id: vec![0x5b; 16],
        span_id: vec![0xee; 8],
        trace_state: "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE".into(),
        parent_span_id: vec![0xe1; 8],
        flags: 0x301,
        name: format!("GET /café/{i} — 日本語 🚀"),
        kind: 3,
        start_time_unix_nano: 1_700_000_000_000_000_000,
        end_time_unix_nano: u64::MAX,
        attributes: vec![
            kv("http.request.method", string("GET")),
            kv("ß", Some(Value::IntValue(-42))),
        ],
        dropped_attributes_count: 3,
        events: vec![
            Event {
                time_unix_nano: 1,
                name: "exception".into(),
                attributes: vec![kv("exception.message", string("boom ✗"))],
                dropped_attributes_count: u32::MAX,
            },
            Event::default(),
        ],
        dropped_events_count: 128,
        links: vec![Link {
            trace_id: vec![1; 16],
            span_id: vec![2; 8],
            trace_state: "a=b".into(),
            attributes: vec![kv("link", Some(Value::BoolValue(true)))],
            dropped_attributes_count: 1,
            flags: u32::MAX,
        }],
        dropped_links_count: 16_384,
        status: Some(Status {
            message: "ошибка".into(),
            code: 2,
        }),
    }
}

fn full_request() -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![kv("service.name", string("checkout"))],
                dropped_attributes_count: 7,
                entity_refs: vec![
                    EntityRef {
                        schema_url: "https://opentelemetry.io/schemas/1.26.0".into(),
                        r#type: "service".into(),
                        id_keys: vec!["service.name".into(), String::new()],
                        description_keys: vec![String::new(), "service.version".into()],
                    },
                    EntityRef::default(),
                ],
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "io.opentelemetry.rust".into(),
                    version: "0.33.0".into(),
                    attributes: vec![kv("scope.attr", string("v"))],
                    dropped_attributes_count: 2,
                }),
                spans: (0..3).map(full_span).collect(),
                schema_url: "https://opentelemetry.io/schemas/1.26.0".into(),
            }],
            schema_url: "https://opentelemetry.io/schemas/1.21.0".into(),
        }],
    }
}

#[test]
fn every_field_set() {
    check(&full_request());
    // And each optional part removed in turn.
    let mut req = full_request();
    req.resource_spans[0].scope_spans[0].spans[1].status = None;
    req.resource_spans[0].scope_spans[0].spans[2].flags = 0;
    req.resource_spans[0].scope_spans[0].spans[2].links[0].flags = 0;
    check(&req);
    req.resource_spans[0].scope_spans[0].scope = None;
    check(&req);
    req.resource_spans[0].resource = None;
    check(&req);
}

/// Strings whose lengths put each enclosing message (value, key-value,
/// span, scope spans, resource spans) on both sides of the one-, two- and
/// three-byte length prefixes.
#[test]
fn lengths_across_varint_boundaries() {
    for n in (100..=140)
        .chain(16_340..=16_400)
        .chain([2_097_000, 2_097_152])
    {
        check(&one_span(Span {
            attributes: vec![kv("k", string(&"a".repeat(n)))],
            ..Span::default()
        }));
        check(&one_span(Span {
            name: "é".repeat(n / 2),
            ..Span::default()
        }));
        check(&one_span(Span {
            attributes: vec![kv(
                "nested",
                Some(Value::ArrayValue(ArrayValue {
                    values: vec![AnyValue {
                        value: Some(Value::BytesValue(vec![7; n])),
                    }],
                })),
            )],
            ..Span::default()
        }));
    }
}

#[test]
fn lengths_of_another_request_fall_back_to_prost() {
    let a = full_request();
    let mut b = full_request();
    b.resource_spans[0].scope_spans[0].spans[0]
        .attributes
        .push(kv("extra", string("value")));
    let wrong = TraceLengths::measure(&a);
    assert!(write(&b, &wrong).is_none());
    assert_eq!(encode_measured(&b, &wrong), b.encode_to_vec());
    assert_eq!(
        encode_measured(&ExportTraceServiceRequest::default(), &wrong),
        Vec::<u8>::new()
    );
    assert_eq!(
        encode_measured(&a, &TraceLengths::default()),
        a.encode_to_vec()
    );
}

/// A small deterministic generator (SplitMix64): no dependency, the same
/// requests on every run.
pub(crate) struct Gen(pub(crate) u64);

impl Gen {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub(crate) fn below(&mut self, n: u64) -> usize {
        (self.next() % n) as usize
    }

    fn chance(&mut self, one_in: u64) -> bool {
        self.next().is_multiple_of(one_in)
    }

    /// Mostly zero (the default, skipped), sometimes anything.
    fn u32(&mut self) -> u32 {
        match self.below(4) {
            0 => self.next() as u32,
            1 => self.below(300) as u32,
            _ => 0,
        }
    }

    fn i32(&mut self) -> i32 {
        self.u32() as i32
    }

    fn u64(&mut self) -> u64 {
        match self.below(3) {
            0 => self.next(),
            _ => 0,
        }
    }

    fn text(&mut self) -> String {
        const PIECES: [&str; 6] = ["a", "é", "日", "🚀", "\0", "http.route"];
        let len = match self.below(10) {
            0 => 100 + self.below(60),
            1 => 0,
            _ => self.below(12),
        };
        (0..len).map(|_| PIECES[self.below(6)]).collect()
    }

    fn bytes(&mut self) -> Vec<u8> {
        let len = [0, 8, 16, 3, 130][self.below(5)];
        (0..len).map(|_| self.next() as u8).collect()
    }

    fn value(&mut self, depth: u32) -> AnyValue {
        let kinds = if depth >= 3 { 8 } else { 10 };
        let value = match self.below(kinds) {
            0 => None,
            1 => Some(Value::StringValue(self.text())),
            2 => Some(Value::BoolValue(self.chance(2))),
            3 => Some(Value::IntValue(self.next() as i64 >> self.below(64))),
            4 => Some(Value::DoubleValue(f64::from_bits(self.next()))),
            5 => Some(Value::BytesValue(self.bytes())),
            6 => Some(Value::StringValueStrindex(self.i32())),
            7 => Some(Value::DoubleValue(
                [0.0, -0.0, f64::NAN, 1.5][self.below(4)],
            )),
            8 => Some(Value::ArrayValue(ArrayValue {
                values: (0..self.below(4)).map(|_| self.value(depth + 1)).collect(),
            })),
            _ => Some(Value::KvlistValue(KeyValueList {
                values: self.key_values(depth + 1),
            })),
        };
        AnyValue { value }
    }

    fn key_values(&mut self, depth: u32) -> Vec<KeyValue> {
        (0..self.below(6))
            .map(|_| KeyValue {
                key: self.text(),
                value: (!self.chance(8)).then(|| self.value(depth)),
                key_strindex: if self.chance(8) { self.i32() } else { 0 },
            })
            .collect()
    }

    fn span(&mut self) -> Span {
        Span {
            trace_id: self.bytes(),
            span_id: self.bytes(),
            trace_state: self.text(),
            parent_span_id: self.bytes(),
            flags: self.u32(),
            name: self.text(),
            kind: self.i32(),
            start_time_unix_nano: self.u64(),
            end_time_unix_nano: self.u64(),
            attributes: self.key_values(0),
            dropped_attributes_count: self.u32(),
            events: (0..self.below(3))
                .map(|_| Event {
                    time_unix_nano: self.u64(),
                    name: self.text(),
                    attributes: self.key_values(1),
                    dropped_attributes_count: self.u32(),
                })
                .collect(),
            dropped_events_count: self.u32(),
            links: (0..self.below(3))
                .map(|_| Link {
                    trace_id: self.bytes(),
                    span_id: self.bytes(),
                    trace_state: self.text(),
                    attributes: self.key_values(1),
                    dropped_attributes_count: self.u32(),
                    flags: self.u32(),
                })
                .collect(),
            dropped_links_count: self.u32(),
            status: (!self.chance(3)).then(|| Status {
                message: self.text(),
                code: self.i32(),
            }),
        }
    }

    pub(crate) fn request(&mut self) -> ExportTraceServiceRequest {
        ExportTraceServiceRequest {
            resource_spans: (0..self.below(4))
                .map(|_| ResourceSpans {
                    resource: (!self.chance(4)).then(|| Resource {
                        attributes: self.key_values(0),
                        dropped_attributes_count: self.u32(),
                        entity_refs: (0..self.below(3))
                            .map(|_| EntityRef {
                                schema_url: self.text(),
                                r#type: self.text(),
                                id_keys: (0..self.below(3)).map(|_| self.text()).collect(),
                                description_keys: (0..self.below(3)).map(|_| self.text()).collect(),
                            })
                            .collect(),
                    }),
                    scope_spans: (0..self.below(4))
                        .map(|_| ScopeSpans {
                            scope: (!self.chance(4)).then(|| InstrumentationScope {
                                name: self.text(),
                                version: self.text(),
                                attributes: self.key_values(1),
                                dropped_attributes_count: self.u32(),
                            }),
                            spans: (0..self.below(12)).map(|_| self.span()).collect(),
                            schema_url: self.text(),
                        })
                        .collect(),
                    schema_url: self.text(),
                })
                .collect(),
        }
    }
}

#[test]
fn generated_requests_match_prost() {
    let mut g = Gen(0x0715_2026_1205);
    let mut spans = 0;
    for _ in 0..1_500 {
        let req = g.request();
        spans += super::super::split::span_count(&req);
        check(&req);
    }
    // The generator did produce spans to compare, not only empty requests.
    assert!(spans > 10_000, "{spans}");
}
