//! Expectations come from the EMF specification (document shape), the
//! OpenTelemetry data model (exponential bucket bounds) and the collector
//! `awsemf` exporter's documented behaviour (rollup sets, first cumulative
//! point withheld, unit mapping, namespace and log group defaults).

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, ExponentialHistogram, ExponentialHistogramDataPoint, Gauge, Histogram,
    HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum, Summary,
    SummaryDataPoint, exponential_histogram_data_point::Buckets, metric::Data, number_data_point,
    summary_data_point::ValueAtQuantile,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use serde_json::{Value, json};

use super::*;

mod distributions;

const T: u64 = 1_700_000_000_123_000_000;
const T_MS: i64 = 1_700_000_000_123;

fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v.into())),
        }),
        ..Default::default()
    }
}

fn attrs(pairs: &[(&str, &str)]) -> Vec<KeyValue> {
    pairs.iter().map(|(k, v)| kv(k, v)).collect()
}

fn num(v: f64, a: &[(&str, &str)], t: u64) -> NumberDataPoint {
    NumberDataPoint {
        attributes: attrs(a),
        time_unix_nano: t,
        value: Some(number_data_point::Value::AsDouble(v)),
        ..Default::default()
    }
}

fn metric(name: &str, unit: &str, data: Data) -> Metric {
    Metric {
        name: name.into(),
        unit: unit.into(),
        data: Some(data),
        ..Default::default()
    }
}

fn gauge(name: &str, unit: &str, points: Vec<NumberDataPoint>) -> Metric {
    metric(
        name,
        unit,
        Data::Gauge(Gauge {
            data_points: points,
        }),
    )
}

fn sum(name: &str, temporality: AggregationTemporality, points: Vec<NumberDataPoint>) -> Metric {
    metric(
        name,
        "",
        Data::Sum(Sum {
            data_points: points,
            aggregation_temporality: temporality as i32,
            is_monotonic: true,
        }),
    )
}

fn request(
    resource: &[(&str, &str)],
    scope: &str,
    metrics: Vec<Metric>,
) -> ExportMetricsServiceRequest {
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: attrs(resource),
                ..Default::default()
            }),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(InstrumentationScope {
                    name: scope.into(),
                    ..Default::default()
                }),
                metrics,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// One gauge `name` with a point per value at `time_unix_nano` (for the
/// exporter's and the builder's tests too).
pub(crate) fn gauge_batch(
    name: &str,
    time_unix_nano: u64,
    values: &[f64],
) -> ExportMetricsServiceRequest {
    let points = values
        .iter()
        .map(|v| NumberDataPoint {
            time_unix_nano,
            value: Some(number_data_point::Value::AsDouble(*v)),
            ..Default::default()
        })
        .collect();
    request(&[], "", vec![gauge(name, "", points)])
}

fn encoder(config: EmfConfig) -> EmfEncoder {
    EmfEncoder::new(config).unwrap()
}

fn docs(batch: &EmfBatch) -> Vec<Value> {
    batch
        .events
        .iter()
        .map(|e| serde_json::from_str(&e.message).unwrap())
        .collect()
}

fn sorted_dims(doc: &Value, m: usize) -> Vec<Vec<String>> {
    let mut d: Vec<Vec<String>> =
        serde_json::from_value(doc["_aws"]["CloudWatchMetrics"][m]["Dimensions"].clone()).unwrap();
    d.sort();
    d
}

fn set(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

#[test]
fn gauge_document_follows_the_emf_specification() {
    let req = request(
        &[("service.name", "checkout")],
        "shop",
        vec![gauge(
            "queue.depth",
            "By",
            vec![num(3.5, &[("region", "eu"), ("tier", "gold")], T)],
        )],
    );
    let batch = encoder(EmfConfig::default()).encode_at(&req, 0);
    assert_eq!(batch.stats.converted, 1);
    let d = &docs(&batch)[0];
    assert_eq!(batch.events[0].timestamp_ms, T_MS);
    assert_eq!(d["_aws"]["Timestamp"], json!(T_MS));
    let cwm = &d["_aws"]["CloudWatchMetrics"];
    assert_eq!(cwm.as_array().unwrap().len(), 1);
    assert_eq!(cwm[0]["Namespace"], "checkout");
    assert_eq!(
        cwm[0]["Metrics"],
        json!([{"Name": "queue.depth", "Unit": "Bytes"}])
    );
    // Default rollup (ZeroAndSingleDimensionRollup): the full set, the zero
    // set [OTelLib] and one set per label, each with OTelLib.
    assert_eq!(
        sorted_dims(d, 0),
        vec![
            set(&["OTelLib"]),
            set(&["OTelLib", "region"]),
            set(&["OTelLib", "region", "tier"]),
            set(&["OTelLib", "tier"]),
        ]
    );
    // Values and dimension values at the top level.
    assert_eq!(d["queue.depth"], json!(3.5));
    assert_eq!(d["region"], "eu");
    assert_eq!(d["tier"], "gold");
    assert_eq!(d["OTelLib"], "shop");
    // Every dimension a set names is a top-level string field.
    for s in sorted_dims(d, 0) {
        for name in s {
            assert!(d[&name].is_string(), "{name}");
        }
    }
    assert_eq!(batch.events[0].destination.log_group, "/metrics/checkout");
    assert_eq!(batch.events[0].destination.log_stream, None);
}

#[test]
fn rollup_options() {
    let labels: &[(String, String)] = &[
        ("OTelLib".into(), "lib".into()),
        ("a".into(), "1".into()),
        ("b".into(), "2".into()),
    ];
    assert!(document::rollup_sets(DimensionRollup::NoDimensionRollup, labels).is_empty());
    assert_eq!(
        document::rollup_sets(DimensionRollup::SingleDimensionRollupOnly, labels),
        vec![set(&["OTelLib", "a"]), set(&["OTelLib", "b"])]
    );
    let plain: &[(String, String)] = &[("a".into(), "1".into())];
    assert_eq!(
        document::rollup_sets(DimensionRollup::ZeroAndSingleDimensionRollup, plain),
        vec![set(&[]), set(&["a"])]
    );
    // One label, no scope: the single rollup repeats the full set, so it is kept once.
    let req = request(
        &[],
        "",
        vec![gauge("g", "", vec![num(1.0, &[("a", "1")], T)])],
    );
    let cfg = EmfConfig {
        dimension_rollup: DimensionRollup::SingleDimensionRollupOnly,
        ..Default::default()
    };
    let d = &docs(&encoder(cfg).encode_at(&req, 0))[0];
    assert_eq!(sorted_dims(d, 0), vec![set(&["a"])]);
    // No labels at all: one empty dimension set.
    let req = request(&[], "", vec![gauge("g", "", vec![num(1.0, &[], T)])]);
    let d = &docs(&encoder(EmfConfig::default()).encode_at(&req, 0))[0];
    assert_eq!(sorted_dims(d, 0), vec![set(&[])]);
    assert_eq!(
        d["_aws"]["CloudWatchMetrics"][0]["Namespace"],
        DEFAULT_NAMESPACE
    );
    assert!(
        "Sideways"
            .parse::<DimensionRollup>()
            .unwrap_err()
            .to_string()
            .contains("NoDimensionRollup")
    );
}

#[test]
fn cumulative_sums_become_deltas_after_the_first_point() {
    let enc = encoder(EmfConfig::default());
    let point = |v: f64, t: u64| {
        request(
            &[("service.name", "svc")],
            "",
            vec![sum(
                "requests",
                AggregationTemporality::Cumulative,
                vec![num(v, &[("route", "/a")], t)],
            )],
        )
    };
    let first = enc.encode_at(&point(10.0, T), 0);
    assert!(first.events.is_empty());
    assert_eq!(first.stats.first_cumulative, 1);
    let second = enc.encode_at(&point(25.0, T + 60_000_000_000), 1);
    assert_eq!(docs(&second)[0]["requests"], json!(15.0));
    // A reset (the counter went down): the new value is sent as is.
    let reset = enc.encode_at(&point(4.0, T + 120_000_000_000), 2);
    assert_eq!(docs(&reset)[0]["requests"], json!(4.0));
    // Delta sums pass through untouched, first point included.
    let delta = request(
        &[],
        "",
        vec![sum(
            "d",
            AggregationTemporality::Delta,
            vec![num(7.0, &[], T)],
        )],
    );
    assert_eq!(docs(&enc.encode_at(&delta, 3))[0]["d"], json!(7.0));
    // retain_initial_value_of_delta_metric sends the first point.
    let retain = encoder(EmfConfig {
        retain_initial_value_of_delta_metric: true,
        ..Default::default()
    });
    assert_eq!(
        docs(&retain.encode_at(&point(10.0, T), 0))[0]["requests"],
        json!(10.0)
    );
}

#[test]
fn series_are_told_apart_by_labels_and_bounded() {
    let enc = encoder(EmfConfig::default()).with_max_series(2);
    let req = |v: f64| {
        request(
            &[],
            "",
            vec![sum(
                "c",
                AggregationTemporality::Cumulative,
                vec![
                    num(v, &[("k", "a")], T),
                    num(v * 2.0, &[("k", "b")], T),
                    num(v, &[("k", "c")], T),
                ],
            )],
        )
    };
    let first = enc.encode_at(&req(1.0), 0);
    assert_eq!(
        (first.stats.first_cumulative, first.stats.untracked_series),
        (2, 1)
    );
    let second = enc.encode_at(&req(3.0), 1);
    let mut got: Vec<(String, f64)> = docs(&second)
        .iter()
        .map(|d| {
            (
                d["k"].as_str().unwrap().to_owned(),
                d["c"].as_f64().unwrap(),
            )
        })
        .collect();
    got.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(got, vec![("a".into(), 2.0), ("b".into(), 4.0)]);
    assert_eq!(second.stats.untracked_series, 1);
}

#[test]
fn bad_points_are_skipped_and_the_rest_delivered() {
    let mut stale = num(1.0, &[("k", "stale")], T);
    stale.flags = 1;
    let points = vec![
        num(f64::NAN, &[("k", "nan")], T),
        num(f64::INFINITY, &[("k", "inf")], T),
        stale,
        NumberDataPoint {
            value: None,
            ..num(0.0, &[("k", "none")], T)
        },
        num(2.0, &[("k", "ok")], T),
    ];
    let req = request(&[], "", vec![gauge("g", "", points)]);
    let batch = encoder(EmfConfig::default()).encode_at(&req, 0);
    assert_eq!(batch.stats.non_finite, 2);
    assert_eq!(batch.stats.no_recorded_value, 1);
    assert_eq!(batch.stats.missing_value, 1);
    assert_eq!(batch.stats.converted, 1);
    let d = docs(&batch);
    assert_eq!(d.len(), 1);
    assert_eq!(d[0]["k"], "ok");
}

#[test]
fn grouping_by_labels_timestamp_and_kind() {
    let req = request(
        &[],
        "",
        vec![
            gauge(
                "a",
                "",
                vec![num(1.0, &[("k", "x")], T), num(2.0, &[("k", "y")], T)],
            ),
            gauge("b", "", vec![num(3.0, &[("k", "x")], T)]),
            // Same labels, another timestamp: another document.
            gauge("c", "", vec![num(4.0, &[("k", "x")], T + 1_000_000_000)]),
            // Same labels and time, another kind: another document.
            sum(
                "d",
                AggregationTemporality::Delta,
                vec![num(5.0, &[("k", "x")], T)],
            ),
        ],
    );
    let batch = encoder(EmfConfig::default()).encode_at(&req, 0);
    let d = docs(&batch);
    assert_eq!(d.len(), 4);
    assert_eq!(
        (d[0]["a"].as_f64(), d[0]["b"].as_f64(), d[0]["k"].as_str()),
        (Some(1.0), Some(3.0), Some("x"))
    );
    let names: Vec<&str> = d[0]["_aws"]["CloudWatchMetrics"][0]["Metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["Name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["a", "b"]);
}

/// Every group key hashes the same.
#[derive(Default)]
struct Collide;

impl std::hash::Hasher for Collide {
    fn finish(&self) -> u64 {
        7
    }
    fn write(&mut self, _: &[u8]) {}
}

#[test]
fn groups_stay_apart_when_their_key_hashes_collide() {
    // The grouping rules of `grouping_by_labels_timestamp_and_kind`, with
    // every group in one hash chain, plus a repeated name (first kept).
    let req = request(
        &[],
        "",
        vec![
            gauge(
                "a",
                "",
                vec![num(1.0, &[("k", "x")], T), num(2.0, &[("k", "y")], T)],
            ),
            gauge("b", "", vec![num(3.0, &[("k", "x")], T)]),
            gauge("a", "", vec![num(9.0, &[("k", "x")], T)]),
            gauge("c", "", vec![num(4.0, &[("k", "x")], T + 1_000_000_000)]),
            sum(
                "d",
                AggregationTemporality::Delta,
                vec![num(5.0, &[("k", "x")], T)],
            ),
        ],
    );
    let enc = encoder(EmfConfig::default());
    let colliding = enc.encode_with(
        &req,
        0,
        &std::hash::BuildHasherDefault::<Collide>::default(),
    );
    let d = docs(&colliding);
    assert_eq!(d.len(), 4);
    assert_eq!(
        (d[0]["a"].as_f64(), d[0]["b"].as_f64(), d[0]["k"].as_str()),
        (Some(1.0), Some(3.0), Some("x"))
    );
    assert_eq!(
        (d[1]["a"].as_f64(), d[1]["k"].as_str()),
        (Some(2.0), Some("y"))
    );
    assert_eq!(d[2]["c"].as_f64(), Some(4.0));
    assert_eq!(d[3]["d"].as_f64(), Some(5.0));
    assert_eq!(colliding.stats.duplicates, 1);
    // The order of the documents does not depend on the hasher either.
    assert_eq!(colliding, enc.encode_at(&req, 0));
}

#[test]
fn documents_hold_at_most_one_hundred_metrics() {
    let metrics = (0..250)
        .map(|i| gauge(&format!("m{i}"), "", vec![num(1.0, &[], T)]))
        .collect();
    let batch = encoder(EmfConfig::default()).encode_at(&request(&[], "", metrics), 0);
    let d = docs(&batch);
    let counts: Vec<usize> = d
        .iter()
        .map(|d| {
            d["_aws"]["CloudWatchMetrics"][0]["Metrics"]
                .as_array()
                .unwrap()
                .len()
        })
        .collect();
    assert_eq!(counts, vec![100, 100, 50]);
    assert_eq!(batch.stats.events, 3);
}

#[test]
fn dimension_sets_over_thirty_names_are_left_out() {
    let names: Vec<String> = (0..31).map(|i| format!("d{i:02}")).collect();
    let pairs: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "v")).collect();
    let req = request(&[], "", vec![gauge("g", "", vec![num(1.0, &pairs, T)])]);
    let cfg = EmfConfig {
        dimension_rollup: DimensionRollup::NoDimensionRollup,
        ..Default::default()
    };
    let batch = encoder(cfg).encode_at(&req, 0);
    assert_eq!(batch.stats.dimension_sets_dropped, 1);
    assert_eq!(batch.stats.metrics_not_extracted, 1);
    let d = &docs(&batch)[0];
    // Still logged (as awsemf does with unextracted metrics), not extracted.
    assert!(d["_aws"].get("CloudWatchMetrics").is_none());
    assert_eq!(d["g"], json!(1.0));
    // With rollup, the single-label sets remain.
    let batch = encoder(EmfConfig::default()).encode_at(&req, 0);
    let d = &docs(&batch)[0];
    assert_eq!(sorted_dims(d, 0).len(), 32, "zero set + 31 single sets");
    assert!(
        sorted_dims(d, 0)
            .iter()
            .all(|s| s.len() <= MAX_DIMENSIONS_PER_SET)
    );
}

#[test]
fn events_over_the_size_limit_are_split_then_dropped() {
    let metrics = (0..100)
        .map(|i| {
            gauge(
                &format!("a.rather.long.metric.name.{i:03}"),
                "",
                vec![num(1.0, &[], T)],
            )
        })
        .collect();
    let enc = encoder(EmfConfig::default()).with_max_event_bytes(2500);
    let batch = enc.encode_at(&request(&[], "", metrics), 0);
    assert!(batch.events.len() >= 4, "{}", batch.events.len());
    assert!(batch.events.iter().all(|e| e.message.len() <= 2500));
    let total: usize = docs(&batch)
        .iter()
        .map(|d| {
            d["_aws"]["CloudWatchMetrics"][0]["Metrics"]
                .as_array()
                .unwrap()
                .len()
        })
        .sum();
    assert_eq!(total, 100);
    assert_eq!(batch.stats.events_dropped, 0);
    let huge = "y".repeat(3000);
    let batch = enc.encode_at(
        &request(
            &[],
            "",
            vec![gauge("c", "", vec![num(1.0, &[("k", &huge)], T)])],
        ),
        0,
    );
    assert_eq!((batch.events.len(), batch.stats.oversized_events), (0, 1));
    assert_eq!(MAX_EVENT_BYTES, 1_048_550);
}

#[test]
fn metric_declarations_select_metrics_and_dimensions() {
    let cfg = EmfConfig {
        dimension_rollup: DimensionRollup::NoDimensionRollup,
        metric_declarations: vec![
            MetricDeclaration {
                dimensions: vec![set(&["b", "a"]), set(&["a"]), set(&["missing"])],
                metric_name_selectors: vec!["^requests$".into(), "latency".into()],
                label_matchers: vec![],
            },
            MetricDeclaration {
                dimensions: vec![set(&["c"])],
                metric_name_selectors: vec!["^requests$".into()],
                label_matchers: vec![LabelMatcher {
                    label_names: set(&["a", "b"]),
                    separator: None,
                    regex: "^1;2$".into(),
                }],
            },
        ],
        ..Default::default()
    };
    let labels = [("a", "1"), ("b", "2"), ("c", "3")];
    let req = request(
        &[],
        "",
        vec![
            gauge("requests", "", vec![num(1.0, &labels, T)]),
            gauge("p99_latency", "", vec![num(2.0, &labels, T)]),
            gauge("other", "", vec![num(3.0, &labels, T)]),
        ],
    );
    let batch = encoder(cfg.clone()).encode_at(&req, 0);
    assert_eq!(batch.stats.metrics_not_extracted, 1);
    let d = &docs(&batch)[0];
    let cwm = d["_aws"]["CloudWatchMetrics"].as_array().unwrap();
    assert_eq!(cwm.len(), 2);
    let by_metric = |name: &str| {
        cwm.iter().position(|m| {
            m["Metrics"]
                .as_array()
                .unwrap()
                .iter()
                .any(|x| x["Name"] == name)
        })
    };
    let req_i = by_metric("requests").unwrap();
    let lat_i = by_metric("p99_latency").unwrap();
    assert!(by_metric("other").is_none());
    assert_eq!(
        sorted_dims(d, req_i),
        vec![set(&["a"]), set(&["a", "b"]), set(&["c"])]
    );
    assert_eq!(sorted_dims(d, lat_i), vec![set(&["a"]), set(&["a", "b"])]);
    assert_eq!(d["other"], json!(3.0), "unselected metrics stay as fields");
    // The label matcher no longer matches: only the first declaration applies.
    let req = request(
        &[],
        "",
        vec![gauge(
            "requests",
            "",
            vec![num(1.0, &[("a", "1"), ("b", "9"), ("c", "3")], T)],
        )],
    );
    let d = &docs(&encoder(cfg).encode_at(&req, 0))[0];
    assert_eq!(sorted_dims(d, 0), vec![set(&["a"]), set(&["a", "b"])]);
    // Bad declarations are refused with what to fix.
    let err = EmfEncoder::new(EmfConfig {
        metric_declarations: vec![MetricDeclaration {
            metric_name_selectors: vec!["(".into()],
            ..Default::default()
        }],
        ..Default::default()
    })
    .unwrap_err();
    assert!(
        matches!(err, EmfConfigError::Regex { index: 0, .. }),
        "{err}"
    );
    let err = EmfEncoder::new(EmfConfig {
        metric_declarations: vec![MetricDeclaration::default()],
        ..Default::default()
    })
    .unwrap_err();
    assert_eq!(err, EmfConfigError::NoSelectors { index: 0 });
}

#[test]
fn units_namespace_and_descriptors() {
    for (otel, cw) in [
        ("ms", "Milliseconds"),
        ("s", "Seconds"),
        ("us", "Microseconds"),
        ("By", "Bytes"),
        ("bit", "Bits"),
        ("1", ""),
        ("ns", ""),
        ("Count", "Count"),
        ("", ""),
    ] {
        assert_eq!(cloudwatch_unit(otel), cw, "{otel}");
        // Every unit the mapping produces is one CloudWatch accepts (or none).
        assert!(cw.is_empty() || CLOUDWATCH_UNITS.contains(&cw), "{cw}");
    }
    let cfg = EmfConfig {
        metric_descriptors: vec![
            MetricDescriptor {
                metric_name: "a".into(),
                unit: "Count".into(),
                overwrite: false,
            },
            MetricDescriptor {
                metric_name: "b".into(),
                unit: "Percent".into(),
                overwrite: true,
            },
        ],
        ..Default::default()
    };
    let req = request(
        &[("service.name", "api"), ("service.namespace", "shop")],
        "",
        vec![
            gauge("a", "", vec![num(1.0, &[], T)]),
            gauge("b", "ms", vec![num(1.0, &[], T)]),
            gauge("c", "1", vec![num(1.0, &[], T)]),
        ],
    );
    let d = &docs(&encoder(cfg).encode_at(&req, 0))[0];
    let cwm = &d["_aws"]["CloudWatchMetrics"][0];
    assert_eq!(cwm["Namespace"], "shop/api");
    assert_eq!(
        cwm["Metrics"],
        json!([{"Name": "a", "Unit": "Count"}, {"Name": "b", "Unit": "Percent"}, {"Name": "c"}])
    );
}

#[test]
fn resource_to_telemetry_conversion_and_log_group_patterns() {
    let cfg = EmfConfig {
        namespace: Some("App".into()),
        resource_to_telemetry_conversion: true,
        log_group_name: Some("/ecs/{ClusterName}/{ServiceName}".into()),
        log_stream_name: Some("task/{TaskId}".into()),
        dimension_rollup: DimensionRollup::NoDimensionRollup,
        ..Default::default()
    };
    let req = request(
        &[
            ("service.name", "api"),
            ("aws.ecs.cluster.name", "prod"),
            ("host", "resource"),
        ],
        "",
        vec![gauge(
            "g",
            "",
            vec![num(1.0, &[("host", "point"), ("k", "v")], T)],
        )],
    );
    let batch = encoder(cfg).encode_at(&req, 0);
    let d = &docs(&batch)[0];
    assert_eq!(d["_aws"]["CloudWatchMetrics"][0]["Namespace"], "App");
    assert_eq!(d["service.name"], "api");
    assert_eq!(
        d["host"], "resource",
        "resource attributes win, as awsemf's conversion"
    );
    assert_eq!(
        sorted_dims(d, 0),
        vec![set(&["aws.ecs.cluster.name", "host", "k", "service.name"])]
    );
    let dest = &batch.events[0].destination;
    assert_eq!(dest.log_group, "/ecs/prod/api");
    assert_eq!(dest.log_stream.as_deref(), Some("task/undefined"));
}

#[test]
fn storage_resolution_attribute_and_clashing_labels() {
    let req = request(
        &[],
        "",
        vec![gauge(
            "g",
            "",
            vec![num(
                1.0,
                &[
                    (STORAGE_RESOLUTION_ATTRIBUTE, "1"),
                    ("g", "clash"),
                    ("_aws", "x"),
                    ("k", "v"),
                ],
                T,
            )],
        )],
    );
    let cfg = EmfConfig {
        dimension_rollup: DimensionRollup::NoDimensionRollup,
        ..Default::default()
    };
    let batch = encoder(cfg).encode_at(&req, 0);
    let msg = &batch.events[0].message;
    let d: Value = serde_json::from_str(msg).unwrap();
    assert_eq!(
        d["_aws"]["CloudWatchMetrics"][0]["Metrics"],
        json!([{"Name": "g", "StorageResolution": 1}])
    );
    assert_eq!(sorted_dims(&d, 0), vec![set(&["k"])]);
    assert_eq!(d["g"], json!(1.0));
    assert_eq!(msg.matches("\"g\":").count(), 1, "no duplicate keys: {msg}");
    assert_eq!(
        msg.matches("\"_aws\":").count(),
        1,
        "no duplicate keys: {msg}"
    );
}
