//! OTLP metrics → EMF JSON (the sidecar's `awsemf` path; issue 14 goal:
//! ≥ 1M data points per CPU-second).
//!
//! `cargo bench -p otel-aws-distro --bench emf -- --warm-up-time 1 --measurement-time 3`
//!
//! Group `emf` is wall clock; `emf_cpu` the bench thread's CPU time (data
//! points per CPU-second, whatever else shares the machine).
//!
//! The batch is what an instrumented web service exports each interval:
//! 10,000 data points over 50 metrics, each with three attributes (route,
//! method, status: 200 series per metric), resource from ECS detection,
//! default rollup. Mixes: all gauges; all cumulative sums (deltas after the
//! first batch, the steady state); explicit histograms.

use std::hint::black_box;

use criterion::measurement::{Measurement, WallTime};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

#[path = "common/cpu_time.rs"]
mod cpu_time;
use cpu_time::ThreadCpuTime;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint,
    ResourceMetrics, ScopeMetrics, Sum, metric::Data, number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use otel_aws_distro::emf::{EmfConfig, EmfEncoder};

const METRICS: usize = 50;
const SERIES: usize = 200;
const POINTS: u64 = (METRICS * SERIES) as u64;
const T: u64 = 1_700_000_000_000_000_000;

fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v.into())),
        }),
        ..Default::default()
    }
}

fn attrs(s: usize) -> Vec<KeyValue> {
    vec![
        kv("http.route", &format!("/api/v1/items/{}", s % 20)),
        kv("http.request.method", ["GET", "POST"][s % 2]),
        kv(
            "http.response.status_code",
            ["200", "404", "500", "503", "201"][s % 5],
        ),
    ]
}

#[derive(Clone, Copy)]
enum Mix {
    Gauges,
    CumulativeSums,
    Histograms,
}

fn batch(mix: Mix, t: u64, bump: f64) -> ExportMetricsServiceRequest {
    let number = |s: usize| NumberDataPoint {
        attributes: attrs(s),
        time_unix_nano: t,
        start_time_unix_nano: T,
        value: Some(number_data_point::Value::AsDouble(s as f64 + bump)),
        ..Default::default()
    };
    let metrics = (0..METRICS)
        .map(|m| {
            let data = match mix {
                Mix::Gauges => Data::Gauge(Gauge {
                    data_points: (0..SERIES).map(number).collect(),
                }),
                Mix::CumulativeSums => Data::Sum(Sum {
                    data_points: (0..SERIES).map(number).collect(),
                    aggregation_temporality: AggregationTemporality::Cumulative as i32,
                    is_monotonic: true,
                }),
                Mix::Histograms => Data::Histogram(Histogram {
                    data_points: (0..SERIES)
                        .map(|s| HistogramDataPoint {
                            attributes: attrs(s),
                            time_unix_nano: t,
                            count: 10,
                            sum: Some(123.5),
                            bucket_counts: vec![1, 2, 3, 4, 0, 0],
                            explicit_bounds: vec![5.0, 10.0, 25.0, 50.0, 100.0],
                            min: Some(1.0),
                            max: Some(45.0),
                            ..Default::default()
                        })
                        .collect(),
                    aggregation_temporality: AggregationTemporality::Delta as i32,
                }),
            };
            Metric {
                name: format!("app.metric.{m}"),
                unit: "ms".into(),
                data: Some(data),
                ..Default::default()
            }
        })
        .collect();
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: vec![
                    kv("service.name", "checkout"),
                    kv("cloud.provider", "aws"),
                    kv("cloud.platform", "aws_ecs"),
                    kv(
                        "aws.ecs.cluster.arn",
                        "arn:aws:ecs:us-east-1:123456789012:cluster/prod",
                    ),
                    kv("aws.ecs.task.id", "0123456789abcdef0123456789abcdef"),
                ],
                ..Default::default()
            }),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(InstrumentationScope {
                    name: "checkout.http".into(),
                    ..Default::default()
                }),
                metrics,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn bench<M: Measurement>(c: &mut Criterion<M>, group: &str) {
    let mut g = c.benchmark_group(group);
    g.throughput(Throughput::Elements(POINTS));
    for (name, mix) in [
        ("gauges_x10000", Mix::Gauges),
        ("cumulative_sums_x10000", Mix::CumulativeSums),
        ("histograms_x10000", Mix::Histograms),
    ] {
        let enc = EmfEncoder::new(EmfConfig::default()).unwrap_or_else(|e| panic!("{e}"));
        // Two batches a minute apart: the second is the steady state (deltas).
        let warm = batch(mix, T, 0.0);
        let req = batch(mix, T + 60_000_000_000, 5.0);
        let first = enc.encode_at(&warm, 0);
        let steady = enc.encode_at(&req, 1);
        let bytes: usize = steady.events.iter().map(|e| e.message.len()).sum();
        eprintln!(
            "{name}: {} events, {} bytes, first batch withheld {}",
            steady.events.len(),
            bytes,
            first.stats.first_cumulative
        );
        g.bench_function(name, |b| {
            b.iter(|| black_box(enc.encode_at(black_box(&req), 1)))
        });
    }
    g.finish();
}

fn wall(c: &mut Criterion) {
    bench(c, "emf");
}

fn cpu(c: &mut Criterion<ThreadCpuTime>) {
    bench(c, "emf_cpu");
}

criterion_group!(wall_clock, wall);
criterion_group! {
    name = cpu_time;
    config = Criterion::default().with_measurement(ThreadCpuTime { wall: WallTime });
    targets = cpu
}
criterion_main!(wall_clock, cpu_time);
