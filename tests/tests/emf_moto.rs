//! EMF through PutLogEvents against moto's CloudWatch Logs, an independent
//! implementation that verifies SigV4 (after three unauthenticated IAM
//! set-up calls): the documents are read back with GetLogEvents and checked
//! against the Embedded Metric Format specification (`_aws.Timestamp`,
//! `_aws.CloudWatchMetrics[].Namespace/Dimensions/Metrics[{Name,Unit}]`,
//! values and dimension values at the top level).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_cloudwatchlogs::config::{BehaviorVersion, Region};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, ExponentialHistogram, ExponentialHistogramDataPoint, Gauge, Histogram,
    HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
    exponential_histogram_data_point::Buckets, metric::Data, number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use otel_aws_distro::emf::{EmfConfig, EmfEncoder, PutLogEventsConfig, PutLogEventsSender};
use otel_aws_testkit::moto::Moto;
use serde_json::Value;

/// Units the EMF specification allows (`Unit` of a metric directive).
const EMF_UNITS: &[&str] = &[
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v.into())),
        }),
        ..Default::default()
    }
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

fn number(v: f64, t: u64, route: &str) -> NumberDataPoint {
    NumberDataPoint {
        attributes: vec![kv("http.route", route)],
        time_unix_nano: t,
        value: Some(number_data_point::Value::AsDouble(v)),
        ..Default::default()
    }
}

fn batch(t: u64, counter: f64) -> ExportMetricsServiceRequest {
    let metric = |name: &str, unit: &str, data: Data| Metric {
        name: name.into(),
        unit: unit.into(),
        data: Some(data),
        ..Default::default()
    };
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: vec![kv("service.name", "checkout")],
                ..Default::default()
            }),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(InstrumentationScope {
                    name: "shop".into(),
                    ..Default::default()
                }),
                metrics: vec![
                    metric(
                        "queue.depth",
                        "1",
                        Data::Gauge(Gauge {
                            data_points: vec![number(3.0, t, "/cart"), number(f64::NAN, t, "/bad")],
                        }),
                    ),
                    metric(
                        "requests",
                        "",
                        Data::Sum(Sum {
                            data_points: vec![number(counter, t, "/cart")],
                            aggregation_temporality: AggregationTemporality::Cumulative as i32,
                            is_monotonic: true,
                        }),
                    ),
                    metric(
                        "latency",
                        "ms",
                        Data::Histogram(Histogram {
                            data_points: vec![HistogramDataPoint {
                                attributes: vec![kv("http.route", "/cart")],
                                time_unix_nano: t,
                                count: 3,
                                sum: Some(60.0),
                                min: Some(10.0),
                                max: Some(30.0),
                                bucket_counts: vec![1, 2],
                                explicit_bounds: vec![15.0],
                                ..Default::default()
                            }],
                            aggregation_temporality: AggregationTemporality::Delta as i32,
                        }),
                    ),
                    metric(
                        "payload",
                        "By",
                        Data::ExponentialHistogram(ExponentialHistogram {
                            data_points: vec![ExponentialHistogramDataPoint {
                                attributes: vec![kv("http.route", "/cart")],
                                time_unix_nano: t,
                                count: 3,
                                sum: Some(700.0),
                                scale: 0,
                                positive: Some(Buckets {
                                    offset: 7,
                                    bucket_counts: vec![1, 2],
                                }),
                                min: Some(130.0),
                                max: Some(300.0),
                                ..Default::default()
                            }],
                            aggregation_temporality: AggregationTemporality::Delta as i32,
                        }),
                    ),
                ],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// Checks one document against the EMF specification; the metric names.
fn check_emf(doc: &Value) -> Vec<String> {
    let aws = doc["_aws"].as_object().expect("_aws object");
    assert!(
        aws["Timestamp"].is_i64(),
        "Timestamp is epoch milliseconds: {doc}"
    );
    let mut names = Vec::new();
    for directive in aws["CloudWatchMetrics"]
        .as_array()
        .expect("CloudWatchMetrics array")
    {
        let ns = directive["Namespace"].as_str().expect("Namespace string");
        assert!(!ns.is_empty() && ns.len() <= 1024);
        for set in directive["Dimensions"]
            .as_array()
            .expect("Dimensions array")
        {
            let set = set.as_array().expect("dimension set is an array");
            assert!(set.len() <= 30, "at most 30 dimensions per set");
            for d in set {
                let d = d.as_str().expect("dimension name string");
                assert!(
                    doc[d].is_string(),
                    "dimension {d} is a top-level string: {doc}"
                );
            }
        }
        let metrics = directive["Metrics"].as_array().expect("Metrics array");
        assert!(metrics.len() <= 100, "at most 100 metrics per directive");
        for m in metrics {
            let name = m["Name"].as_str().expect("Name string");
            if let Some(unit) = m.get("Unit") {
                assert!(EMF_UNITS.contains(&unit.as_str().unwrap()), "unit {unit}");
            }
            let v = &doc[name];
            let ok = v.is_number()
                || (["Max", "Min", "Count", "Sum"]
                    .iter()
                    .all(|k| v[k].is_number())
                    && match (v.get("Values"), v.get("Counts")) {
                        (None, None) => true,
                        (Some(vs), Some(cs)) => {
                            let (vs, cs) = (vs.as_array().unwrap(), cs.as_array().unwrap());
                            vs.len() == cs.len() && vs.len() <= 100
                        }
                        _ => false,
                    });
            assert!(ok, "value of {name} at the top level: {doc}");
            names.push(name.to_owned());
        }
    }
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emf_through_put_log_events_reads_back_as_valid_emf() {
    let moto = Moto::start("emf_moto", Some(3));
    let (id, secret) = moto.create_user_key("logs:*");
    let creds = SharedCredentialsProvider::new(Credentials::new(&id, &secret, None, None, "moto"));
    let encoder = EmfEncoder::new(EmfConfig {
        log_group_name: Some("/otel-aws/{ServiceName}".into()),
        log_stream_name: Some("emf-e2e".into()),
        ..Default::default()
    })
    .unwrap();
    let sender = PutLogEventsSender::from_credentials(
        "us-east-1",
        creds.clone(),
        Some(moto.url().to_owned()),
        PutLogEventsConfig::default(),
    )
    .unwrap();

    let t0 = now_ns() - 60_000_000_000;
    let first = encoder.encode(&batch(t0, 10.0));
    assert_eq!(first.stats.non_finite, 1, "the NaN point is skipped");
    assert_eq!(
        first.stats.first_cumulative, 1,
        "the first cumulative point is withheld"
    );
    let second = encoder.encode(&batch(now_ns(), 25.0));
    let mut events = first.events;
    events.extend(second.events);
    // One event older than 14 days: dropped before sending, counted.
    let mut stale = events[0].clone();
    stale.timestamp_ms -= 15 * 24 * 3600 * 1000;
    events.push(stale);
    let n = events.len() as u64;

    // The group does not exist: the sender creates it and the stream.
    let outcome = sender.send(events).await.unwrap();
    assert_eq!(outcome.too_old, 1);
    assert_eq!(outcome.events_sent, n - 1, "{outcome:?}");
    assert_eq!(outcome.failed + outcome.rejected, 0);

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
        .log_group_name("/otel-aws/checkout")
        .log_stream_name("emf-e2e")
        .start_from_head(true)
        .send()
        .await
        .unwrap();
    let docs: Vec<Value> = got
        .events()
        .iter()
        .map(|e| serde_json::from_str(e.message().unwrap()).unwrap())
        .collect();
    assert_eq!(docs.len() as u64, n - 1);
    // Sorted by timestamp within the call, as PutLogEvents requires.
    let stamps: Vec<i64> = got
        .events()
        .iter()
        .map(|e| e.timestamp().unwrap())
        .collect();
    assert!(stamps.windows(2).all(|w| w[0] <= w[1]), "{stamps:?}");
    let mut names = Vec::new();
    for d in &docs {
        names.extend(check_emf(d));
        assert_eq!(d["_aws"]["CloudWatchMetrics"][0]["Namespace"], "checkout");
        assert_eq!(d["http.route"], "/cart");
        assert_eq!(d["OTelLib"], "shop");
    }
    names.sort();
    names.dedup();
    assert_eq!(names, vec!["latency", "payload", "queue.depth", "requests"]);
    // The cumulative counter arrives as the delta 25 - 10.
    let requests: Vec<f64> = docs.iter().filter_map(|d| d["requests"].as_f64()).collect();
    assert_eq!(requests, vec![15.0]);
    let latency = docs.iter().find(|d| d.get("latency").is_some()).unwrap();
    assert_eq!(latency["latency"]["Count"], 3);
    let payload = docs.iter().find(|d| d.get("payload").is_some()).unwrap();
    // Scale 0, offset 7: buckets (128, 256] and (256, 512], highest first.
    assert_eq!(
        payload["payload"]["Values"],
        serde_json::json!([384.0, 192.0])
    );
    assert_eq!(payload["payload"]["Counts"], serde_json::json!([2.0, 1.0]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_group_is_an_error_when_creating_is_off() {
    let moto = Moto::start("emf_moto", None);
    let creds = SharedCredentialsProvider::new(Credentials::new("AKID", "secret", None, None, "t"));
    let sender = PutLogEventsSender::from_credentials(
        "us-east-1",
        creds,
        Some(moto.url().to_owned()),
        PutLogEventsConfig {
            create_log_group: false,
            create_log_stream: false,
            ..Default::default()
        },
    )
    .unwrap();
    let encoder = EmfEncoder::new(EmfConfig::default()).unwrap();
    let events = encoder.encode(&batch(now_ns(), 1.0)).events;
    let err = sender.send(events).await.unwrap_err();
    assert!(err.to_string().contains("does not exist"), "{err}");
    assert!(
        sender
            .stats()
            .events_dropped
            .load(std::sync::atomic::Ordering::Relaxed)
            > 0
    );
}
