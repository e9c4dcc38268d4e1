//! Distributions: histograms, exponential histograms and summaries as
//! statistic sets or values/counts, bad buckets skipped.

use super::*;

#[test]
fn histograms_are_statistic_sets_and_bad_buckets_are_skipped() {
    let good = HistogramDataPoint {
        time_unix_nano: T,
        count: 6,
        sum: Some(21.0),
        min: Some(1.0),
        max: Some(6.0),
        bucket_counts: vec![1, 2, 3],
        explicit_bounds: vec![1.0, 3.0],
        ..Default::default()
    };
    let mismatched = HistogramDataPoint {
        bucket_counts: vec![1, 2],
        attributes: attrs(&[("bad", "len")]),
        ..good.clone()
    };
    let wrong_total = HistogramDataPoint {
        count: 7,
        attributes: attrs(&[("bad", "total")]),
        ..good.clone()
    };
    let nan = HistogramDataPoint {
        sum: Some(f64::NAN),
        attributes: attrs(&[("bad", "nan")]),
        ..good.clone()
    };
    let req = request(
        &[],
        "",
        vec![metric(
            "latency",
            "ms",
            Data::Histogram(Histogram {
                data_points: vec![mismatched, good, wrong_total, nan],
                aggregation_temporality: AggregationTemporality::Delta as i32,
            }),
        )],
    );
    let batch = encoder(EmfConfig::default()).encode_at(&req, 0);
    assert_eq!(batch.stats.data_points, 4);
    assert_eq!(batch.stats.bad_buckets, 2);
    assert_eq!(batch.stats.non_finite, 1);
    assert_eq!(batch.stats.skipped(), 3);
    let d = docs(&batch);
    assert_eq!(d.len(), 1);
    assert_eq!(
        d[0]["latency"],
        json!({"Max": 6.0, "Min": 1.0, "Count": 6, "Sum": 21.0})
    );
    assert_eq!(
        d[0]["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"],
        "Milliseconds"
    );
}

fn exp_point(
    scale: i32,
    pos: (i32, Vec<u64>),
    zero: u64,
    neg: (i32, Vec<u64>),
) -> ExponentialHistogramDataPoint {
    let count = pos.1.iter().sum::<u64>() + zero + neg.1.iter().sum::<u64>();
    ExponentialHistogramDataPoint {
        time_unix_nano: T,
        count,
        sum: Some(12.0),
        scale,
        zero_count: zero,
        positive: Some(Buckets {
            offset: pos.0,
            bucket_counts: pos.1,
        }),
        negative: Some(Buckets {
            offset: neg.0,
            bucket_counts: neg.1,
        }),
        min: Some(-3.5),
        max: Some(7.5),
        ..Default::default()
    }
}

fn exp_request(points: Vec<ExponentialHistogramDataPoint>) -> ExportMetricsServiceRequest {
    request(
        &[],
        "",
        vec![metric(
            "size",
            "",
            Data::ExponentialHistogram(ExponentialHistogram {
                data_points: points,
                aggregation_temporality: AggregationTemporality::Delta as i32,
            }),
        )],
    )
}

#[test]
fn exponential_histogram_values_are_bucket_midpoints_high_to_low() {
    // Scale 0: base 2, bucket i covers (2^i, 2^(i+1)]; negative bucket i
    // covers [-2^(i+1), -2^i). Offset 1: (2,4] and (4,8]; empty buckets skipped.
    let p = exp_point(0, (1, vec![1, 0, 2]), 1, (1, vec![1]));
    let batch = encoder(EmfConfig::default()).encode_at(&exp_request(vec![p]), 0);
    let d = &docs(&batch)[0];
    assert_eq!(
        d["size"],
        json!({"Values": [12.0, 3.0, 0.0, -3.0], "Counts": [2.0, 1.0, 1.0, 1.0],
               "Max": 7.5, "Min": -3.5, "Count": 5, "Sum": 12.0})
    );
    // Scale 1: base √2; bucket 2 covers (2, 2√2].
    let p = exp_point(1, (2, vec![4]), 0, (0, vec![]));
    let d = &docs(&encoder(EmfConfig::default()).encode_at(&exp_request(vec![p]), 0))[0];
    let v = d["size"]["Values"][0].as_f64().unwrap();
    assert!((v - (2.0 + 2.0 * 2f64.sqrt()) / 2.0).abs() < 1e-9, "{v}");
    // Counts that do not add up to `count` are refused.
    let mut bad = exp_point(0, (0, vec![1, 1]), 0, (0, vec![]));
    bad.count = 5;
    let batch = encoder(EmfConfig::default()).encode_at(&exp_request(vec![bad]), 0);
    assert_eq!((batch.stats.bad_buckets, batch.events.len()), (1, 0));
}

#[test]
fn exponential_histogram_splits_at_one_hundred_buckets() {
    let p = exp_point(0, (0, vec![1; 150]), 0, (0, vec![]));
    let batch = encoder(EmfConfig::default()).encode_at(&exp_request(vec![p]), 0);
    let d = docs(&batch);
    assert_eq!(d.len(), 2, "one document per split");
    let (a, b) = (&d[0]["size"], &d[1]["size"]);
    assert_eq!(a["Values"].as_array().unwrap().len(), 100);
    assert_eq!(b["Values"].as_array().unwrap().len(), 50);
    assert_eq!(
        a["Count"].as_u64().unwrap() + b["Count"].as_u64().unwrap(),
        150
    );
    // The sum on the first split only; the point's max first, its min last.
    assert_eq!(
        (a["Sum"].as_f64(), b["Sum"].as_f64()),
        (Some(12.0), Some(0.0))
    );
    assert_eq!(a["Max"], json!(7.5));
    assert_eq!(b["Min"], json!(-3.5));
    // The first split ends where the second begins: bucket 50 = (2^50, 2^51].
    assert_eq!(a["Min"].as_f64(), Some(2f64.powi(50)));
    assert_eq!(b["Max"].as_f64(), Some(2f64.powi(50)));
}

#[test]
fn summaries_are_statistic_sets_from_the_quantiles() {
    let p = SummaryDataPoint {
        time_unix_nano: T,
        count: 4,
        sum: 10.0,
        quantile_values: vec![
            ValueAtQuantile {
                quantile: 0.0,
                value: 1.0,
            },
            ValueAtQuantile {
                quantile: 0.5,
                value: 2.0,
            },
            ValueAtQuantile {
                quantile: 1.0,
                value: 5.0,
            },
        ],
        ..Default::default()
    };
    let req = request(
        &[],
        "",
        vec![metric(
            "s",
            "s",
            Data::Summary(Summary {
                data_points: vec![p],
            }),
        )],
    );
    let d = &docs(&encoder(EmfConfig::default()).encode_at(&req, 0))[0];
    assert_eq!(
        d["s"],
        json!({"Max": 5.0, "Min": 1.0, "Count": 4, "Sum": 10.0})
    );
    assert_eq!(
        d["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"],
        "Seconds"
    );
}
