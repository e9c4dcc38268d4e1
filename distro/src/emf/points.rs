//! OTLP data points → EMF values (the collector `awsemf`'s `datapoint.go`
//! semantics): gauges and sums as numbers (cumulative sums as deltas),
//! explicit histograms and summaries as statistic sets, exponential
//! histograms as `Values`/`Counts` split at 100 buckets. Points flagged
//! "no recorded value", with a non-finite value or with bucket counts that
//! do not add up are skipped and counted.

use std::borrow::Cow;

use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{
    ExponentialHistogramDataPoint, HistogramDataPoint, NumberDataPoint, SummaryDataPoint,
    exponential_histogram_data_point::Buckets, number_data_point,
};

/// Buckets per exponential-histogram EMF value (CloudWatch takes at most
/// 100 `Values`).
pub const MAX_VALUES_PER_HISTOGRAM: usize = 100;

/// An EMF metric value.
#[derive(Clone, Debug, PartialEq)]
pub enum EmfValue {
    /// A single number.
    Number(f64),
    /// A statistic set (`Max`, `Min`, `Count`, `Sum`).
    Stats {
        /// Largest value.
        max: f64,
        /// Smallest value.
        min: f64,
        /// Number of values.
        count: u64,
        /// Sum of values.
        sum: f64,
    },
    /// A distribution (`Values`, `Counts`, `Max`, `Min`, `Count`, `Sum`).
    Histogram {
        /// Representative values (bucket midpoints).
        values: Vec<f64>,
        /// How many values each stands for.
        counts: Vec<f64>,
        /// Largest value.
        max: f64,
        /// Smallest value.
        min: f64,
        /// Number of values.
        count: u64,
        /// Sum of values.
        sum: f64,
    },
}

/// Why a point was skipped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Invalid {
    /// Flagged "no recorded value" (a stale marker).
    NoRecordedValue,
    /// NaN or infinite value, sum, min, max or quantile.
    NonFinite,
    /// Bucket counts that do not match the bounds or the count.
    Buckets,
    /// A number point without a value.
    Missing,
}

const NO_RECORDED_VALUE: u32 = 1;

fn finite(v: Option<f64>) -> bool {
    v.is_none_or(f64::is_finite)
}

/// The value of a gauge or sum point.
pub(super) fn number(p: &NumberDataPoint) -> Result<f64, Invalid> {
    if p.flags & NO_RECORDED_VALUE != 0 {
        return Err(Invalid::NoRecordedValue);
    }
    match p.value {
        Some(number_data_point::Value::AsDouble(v)) if v.is_finite() => Ok(v),
        Some(number_data_point::Value::AsDouble(_)) => Err(Invalid::NonFinite),
        Some(number_data_point::Value::AsInt(v)) => Ok(v as f64),
        None => Err(Invalid::Missing),
    }
}

/// An explicit-bucket histogram point as a statistic set. Missing min/max
/// are 0, as in `awsemf`.
pub(super) fn histogram(p: &HistogramDataPoint) -> Result<EmfValue, Invalid> {
    if p.flags & NO_RECORDED_VALUE != 0 {
        return Err(Invalid::NoRecordedValue);
    }
    if !(finite(p.sum) && finite(p.min) && finite(p.max)) {
        return Err(Invalid::NonFinite);
    }
    if !p.bucket_counts.is_empty()
        && (p.bucket_counts.len() != p.explicit_bounds.len() + 1
            || p.bucket_counts
                .iter()
                .copied()
                .fold(0u64, u64::wrapping_add)
                != p.count)
    {
        return Err(Invalid::Buckets);
    }
    Ok(EmfValue::Stats {
        max: p.max.unwrap_or(0.0),
        min: p.min.unwrap_or(0.0),
        count: p.count,
        sum: p.sum.unwrap_or(0.0),
    })
}

/// A summary point as a statistic set: min and max from the first and last
/// quantiles, `sum`/`count` as given (or as deltas, computed by the caller).
pub(super) fn summary(p: &SummaryDataPoint) -> Result<(), Invalid> {
    if p.flags & NO_RECORDED_VALUE != 0 {
        return Err(Invalid::NoRecordedValue);
    }
    if !p.sum.is_finite()
        || p.quantile_values
            .iter()
            .any(|q| !q.value.is_finite() || !q.quantile.is_finite())
    {
        return Err(Invalid::NonFinite);
    }
    Ok(())
}

/// Min and max of a summary point (first and last quantile values, else 0).
pub(super) fn summary_min_max(p: &SummaryDataPoint) -> (f64, f64) {
    match (p.quantile_values.first(), p.quantile_values.last()) {
        (Some(first), Some(last)) => (first.value, last.value),
        _ => (0.0, 0.0),
    }
}

fn bucket_sum(b: Option<&Buckets>) -> u64 {
    b.map_or(0, |b| {
        b.bucket_counts
            .iter()
            .copied()
            .fold(0u64, u64::wrapping_add)
    })
}

/// An exponential histogram point as one or more distributions of at most
/// [`MAX_VALUES_PER_HISTOGRAM`] non-empty buckets, from the highest bucket
/// to the lowest (positive, zero, negative). Each split's max/min are its
/// bucket bounds, except the first split's max and the last split's min,
/// which are the point's; the sum goes on the first split only.
pub(super) fn exponential(p: &ExponentialHistogramDataPoint) -> Result<Vec<EmfValue>, Invalid> {
    if p.flags & NO_RECORDED_VALUE != 0 {
        return Err(Invalid::NoRecordedValue);
    }
    if !(finite(p.sum) && finite(p.min) && finite(p.max)) {
        return Err(Invalid::NonFinite);
    }
    let total = bucket_sum(p.positive.as_ref())
        .wrapping_add(bucket_sum(p.negative.as_ref()))
        .wrapping_add(p.zero_count);
    if total != p.count {
        return Err(Invalid::Buckets);
    }
    let (max, min, sum) = (
        p.max.unwrap_or(0.0),
        p.min.unwrap_or(0.0),
        p.sum.unwrap_or(0.0),
    );
    // Bucket i covers (base^i, base^(i+1)], base = 2^(2^-scale).
    let step = (-f64::from(p.scale)).exp2();
    let bound = |index: i64| (index as f64 * step).exp2();
    // (value, count, upper bound, lower bound), highest first.
    let mut buckets: Vec<(f64, u64, f64, f64)> = Vec::new();
    if let Some(pos) = &p.positive {
        for (k, &count) in pos.bucket_counts.iter().enumerate().rev() {
            if count > 0 {
                let index = i64::from(pos.offset) + k as i64;
                let (lo, hi) = (bound(index), bound(index + 1));
                buckets.push(((lo + hi) / 2.0, count, hi, lo));
            }
        }
    }
    if p.zero_count > 0 {
        buckets.push((0.0, p.zero_count, 0.0, 0.0));
    }
    if let Some(neg) = &p.negative {
        for (k, &count) in neg.bucket_counts.iter().enumerate() {
            if count > 0 {
                let index = i64::from(neg.offset) + k as i64;
                let (hi, lo) = (-bound(index), -bound(index + 1));
                buckets.push(((lo + hi) / 2.0, count, hi, lo));
            }
        }
    }
    if buckets.is_empty() {
        return Ok(vec![EmfValue::Histogram {
            values: Vec::new(),
            counts: Vec::new(),
            max,
            min,
            count: p.count,
            sum,
        }]);
    }
    let chunks = buckets.chunks(MAX_VALUES_PER_HISTOGRAM);
    let last = chunks.len() - 1;
    Ok(chunks
        .enumerate()
        .map(|(i, chunk)| {
            let first_upper = chunk.first().map_or(max, |b| b.2);
            let last_lower = chunk.last().map_or(min, |b| b.3);
            EmfValue::Histogram {
                values: chunk.iter().map(|b| b.0).collect(),
                counts: chunk.iter().map(|b| b.1 as f64).collect(),
                max: if i == 0 { max } else { first_upper },
                min: if i == last { min } else { last_lower },
                count: chunk.iter().map(|b| b.1).sum(),
                sum: if i == 0 { sum } else { 0.0 },
            }
        })
        .collect())
}

/// Units CloudWatch accepts (`MetricDatum.Unit`, CloudWatch API reference):
/// what `metric_descriptors` may name, and what [`cloudwatch_unit`] maps to.
pub const CLOUDWATCH_UNITS: &[&str] = &[
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

/// CloudWatch unit for an OTLP (UCUM) unit, as `awsemf` maps them; units
/// CloudWatch does not know are passed through.
pub fn cloudwatch_unit(unit: &str) -> &str {
    match unit {
        "1" | "ns" => "",
        "ms" => "Milliseconds",
        "s" => "Seconds",
        "us" => "Microseconds",
        "By" => "Bytes",
        "bit" => "Bits",
        other => other,
    }
}

/// An attribute value as a label string (strings as is, numbers and
/// booleans printed, bytes base64, arrays and maps as JSON).
pub(super) fn label_value(v: Option<&AnyValue>) -> String {
    use base64::Engine as _;
    match v.and_then(|v| v.value.as_ref()) {
        None => String::new(),
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::DoubleValue(d)) => d.to_string(),
        Some(any_value::Value::BytesValue(b)) => {
            base64::engine::general_purpose::STANDARD.encode(b)
        }
        Some(other) => json_value(other).to_string(),
    }
}

fn json_value(v: &any_value::Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        any_value::Value::StringValue(s) => J::String(s.clone()),
        any_value::Value::BoolValue(b) => J::Bool(*b),
        any_value::Value::IntValue(i) => J::from(*i),
        any_value::Value::DoubleValue(d) => J::from(*d),
        any_value::Value::BytesValue(_) => J::String(label_value(Some(&AnyValue {
            value: Some(v.clone()),
        }))),
        any_value::Value::ArrayValue(a) => J::Array(
            a.values
                .iter()
                .map(|x| x.value.as_ref().map_or(J::Null, json_value))
                .collect(),
        ),
        any_value::Value::KvlistValue(kv) => J::Object(
            kv.values
                .iter()
                .map(|k| {
                    (
                        k.key.clone(),
                        k.value
                            .as_ref()
                            .and_then(|x| x.value.as_ref())
                            .map_or(J::Null, json_value),
                    )
                })
                .collect(),
        ),
        #[allow(unreachable_patterns)]
        _ => J::Null,
    }
}

/// One label of a point: the key, and the value borrowed from the batch
/// when it is a string (printed otherwise).
pub(super) type Label<'a> = (&'a str, Cow<'a, str>);

/// Labels of a point into `out` (cleared first): its attributes, then
/// `resource` (overriding), then `OTelLib` = the scope name when set; sorted
/// by key, unique. Borrowed: a point whose labels match an existing group
/// allocates nothing (the sidecar's hot path, docs/benchmarks.md).
pub(super) fn labels_into<'a>(
    attrs: &'a [KeyValue],
    resource: &'a [(String, String)],
    scope: Option<&'a str>,
    out: &mut Vec<Label<'a>>,
) {
    out.clear();
    for kv in attrs {
        let value = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
            Some(any_value::Value::StringValue(s)) => Cow::Borrowed(s.as_str()),
            _ => Cow::Owned(label_value(kv.value.as_ref())),
        };
        out.push((kv.key.as_str(), value));
    }
    out.extend(
        resource
            .iter()
            .map(|(k, v)| (k.as_str(), Cow::Borrowed(v.as_str()))),
    );
    if let Some(scope) = scope {
        out.push((super::OTEL_LIB_DIMENSION, Cow::Borrowed(scope)));
    }
    // Stable sort, then keep the last of equal keys (the overriding one).
    out.sort_by(|a, b| a.0.cmp(b.0));
    out.reverse();
    out.dedup_by(|a, b| a.0 == b.0);
    out.reverse();
}
