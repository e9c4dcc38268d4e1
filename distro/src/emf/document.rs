//! One group of metrics (same labels, timestamp, kind, namespace and log
//! destination) → EMF JSON documents: dimension sets (rollup or
//! declarations), at most 100 metrics and 1 MB per document, dimension
//! sets of at most 30 names.
//!
//! JSON is written by hand into a byte buffer (strings and numbers through
//! serde_json's serializer): the document's shape is fixed, and building a
//! `serde_json::Value` tree per document costs several times more on the
//! sidecar's hot path (docs/benchmarks.md, "Metrics and logs").

use serde::Serializer as _;

use super::config::{CompiledDeclaration, DimensionRollup, MAX_DIMENSIONS_PER_SET};
use super::points::EmfValue;
use super::{EncodeStats, OTEL_LIB_DIMENSION};

/// Metrics per EMF document (CloudWatch: 100 per directive).
pub const MAX_METRICS_PER_DOCUMENT: usize = 100;
/// Largest event message PutLogEvents takes: 1,048,576 bytes per event,
/// of which 26 are per-event overhead.
pub const MAX_EVENT_BYTES: usize = 1_048_576 - 26;

/// One metric in a group.
#[derive(Debug)]
pub(super) struct GroupMetric {
    pub(super) name: std::sync::Arc<str>,
    pub(super) unit: std::sync::Arc<str>,
    pub(super) storage_resolution: Option<u32>,
    pub(super) value: EmfValue,
}

/// What a document is built from.
pub(super) struct DocInput<'a> {
    pub(super) namespace: &'a str,
    pub(super) timestamp_ms: i64,
    pub(super) labels: &'a [(String, String)],
    pub(super) metrics: &'a [GroupMetric],
    pub(super) rollup: DimensionRollup,
    pub(super) declarations: &'a [CompiledDeclaration],
    pub(super) max_event_bytes: usize,
}

type Json = serde_json::Result<()>;

fn str_(out: &mut Vec<u8>, s: &str) -> Json {
    serde_json::Serializer::new(out).serialize_str(s)
}

fn f64_(out: &mut Vec<u8>, v: f64) -> Json {
    serde_json::Serializer::new(out).serialize_f64(v)
}

fn u64_(out: &mut Vec<u8>, v: u64) -> Json {
    serde_json::Serializer::new(out).serialize_u64(v)
}

fn key(out: &mut Vec<u8>, k: &str) -> Json {
    out.push(b',');
    str_(out, k)?;
    out.push(b':');
    Ok(())
}

/// Label names that would clash with the document's own fields.
fn reserved(name: &str, metrics: &[GroupMetric]) -> bool {
    name == "_aws" || metrics.iter().any(|m| &*m.name == name)
}

/// Writes the documents of `input` into `out` (each a JSON string), and
/// counts what was dropped into `stats`.
pub(super) fn documents(input: &DocInput<'_>, stats: &mut EncodeStats, out: &mut Vec<String>) {
    for chunk in input.metrics.chunks(MAX_METRICS_PER_DOCUMENT) {
        split_until_fits(input, chunk, stats, out);
    }
}

fn split_until_fits(
    input: &DocInput<'_>,
    metrics: &[GroupMetric],
    stats: &mut EncodeStats,
    out: &mut Vec<String>,
) {
    let doc = match document(input, metrics, stats) {
        Ok(doc) => doc,
        Err(err) => {
            tracing::debug!(%err, "awsemf: cannot write an EMF document");
            stats.events_dropped += 1;
            return;
        }
    };
    if doc.len() <= input.max_event_bytes {
        // Written from `&str`s and serde_json output: valid UTF-8.
        match String::from_utf8(doc) {
            Ok(doc) => out.push(doc),
            Err(_) => stats.events_dropped += 1,
        }
        return;
    }
    if metrics.len() > 1 {
        let (a, b) = metrics.split_at(metrics.len() / 2);
        split_until_fits(input, a, stats, out);
        split_until_fits(input, b, stats, out);
    } else {
        stats.events_dropped += 1;
        stats.oversized_events += 1;
    }
}

/// Measurements of one document: `(dimension sets, metric indexes)`.
type Measurements = Vec<(Vec<Vec<String>>, Vec<usize>)>;

fn measurements(
    input: &DocInput<'_>,
    labels: &[(String, String)],
    metrics: &[GroupMetric],
    stats: &mut EncodeStats,
) -> Measurements {
    let rollup = rollup_sets(input.rollup, labels);
    let mut out: Measurements = Vec::new();
    if input.declarations.is_empty() {
        let full: Vec<String> = labels.iter().map(|(k, _)| k.clone()).collect();
        let has_lib = labels.iter().any(|(k, _)| k == OTEL_LIB_DIMENSION);
        let single_label = full.len() <= 1 || (full.len() == 2 && has_lib);
        let mut dims = Vec::with_capacity(1 + rollup.len());
        // With one label, the single-dimension rollup repeats the full set.
        if rollup.is_empty()
            || !(single_label && input.rollup != DimensionRollup::NoDimensionRollup)
        {
            dims.push(full);
        }
        dims.extend(rollup);
        let dims = limit_sets(dims, stats);
        if dims.is_empty() {
            stats.metrics_not_extracted += metrics.len() as u64;
        } else {
            out.push((dims, (0..metrics.len()).collect()));
        }
        return out;
    }
    let matching: Vec<&CompiledDeclaration> = input
        .declarations
        .iter()
        .filter(|d| d.matches_labels(labels))
        .collect();
    // Metrics grouped by the declarations that select them.
    let mut by_decls: Vec<(Vec<usize>, Vec<usize>)> = Vec::new();
    for (mi, m) in metrics.iter().enumerate() {
        let decls: Vec<usize> = matching
            .iter()
            .enumerate()
            .filter(|(_, d)| d.matches_name(&m.name))
            .map(|(i, _)| i)
            .collect();
        if decls.is_empty() {
            stats.metrics_not_extracted += 1;
            continue;
        }
        match by_decls.iter_mut().find(|(d, _)| *d == decls) {
            Some((_, ms)) => ms.push(mi),
            None => by_decls.push((decls, vec![mi])),
        }
    }
    for (decls, ms) in by_decls {
        let mut dims = Vec::new();
        for d in decls {
            matching[d].extract(labels, &mut dims);
        }
        dims.extend(rollup.iter().cloned());
        let mut seen = Vec::with_capacity(dims.len());
        for set in dims {
            if !seen.contains(&set) {
                seen.push(set);
            }
        }
        let dims = limit_sets(seen, stats);
        if dims.is_empty() {
            stats.metrics_not_extracted += ms.len() as u64;
        } else {
            out.push((dims, ms));
        }
    }
    out
}

/// Drops dimension sets CloudWatch would refuse (more than 30 names).
fn limit_sets(sets: Vec<Vec<String>>, stats: &mut EncodeStats) -> Vec<Vec<String>> {
    let before = sets.len();
    let kept: Vec<Vec<String>> = sets
        .into_iter()
        .filter(|s| s.len() <= MAX_DIMENSIONS_PER_SET)
        .collect();
    stats.dimension_sets_dropped += (before - kept.len()) as u64;
    kept
}

/// The rolled-up dimension sets of `labels` (sorted by key): the zero set
/// (`[]`, or `[OTelLib]`) when there are other labels, and one set per label
/// (plus `OTelLib`), sorted.
pub(super) fn rollup_sets(
    rollup: DimensionRollup,
    labels: &[(String, String)],
) -> Vec<Vec<String>> {
    if rollup == DimensionRollup::NoDimensionRollup {
        return Vec::new();
    }
    let has_lib = labels.iter().any(|(k, _)| k == OTEL_LIB_DIMENSION);
    let zero: Vec<String> = if has_lib {
        vec![OTEL_LIB_DIMENSION.to_owned()]
    } else {
        Vec::new()
    };
    let others = labels.iter().filter(|(k, _)| k != OTEL_LIB_DIMENSION);
    let mut out = Vec::new();
    if rollup == DimensionRollup::ZeroAndSingleDimensionRollup && others.clone().next().is_some() {
        out.push(zero.clone());
    }
    for (k, _) in others {
        let mut set = zero.clone();
        set.push(k.clone());
        set.sort();
        out.push(set);
    }
    out
}

fn document(
    input: &DocInput<'_>,
    metrics: &[GroupMetric],
    stats: &mut EncodeStats,
) -> serde_json::Result<Vec<u8>> {
    let labels: Vec<(String, String)> = input
        .labels
        .iter()
        .filter(|(k, _)| !reserved(k, metrics))
        .cloned()
        .collect();
    let measurements = measurements(input, &labels, metrics, stats);
    let mut out = Vec::with_capacity(256 + 64 * (labels.len() + metrics.len()));
    out.push(b'{');
    str_(&mut out, "_aws")?;
    out.extend_from_slice(b":{\"Timestamp\":");
    serde_json::Serializer::new(&mut out).serialize_i64(input.timestamp_ms)?;
    if !measurements.is_empty() {
        out.extend_from_slice(b",\"CloudWatchMetrics\":[");
        for (i, (dims, ms)) in measurements.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(b"{\"Namespace\":");
            str_(&mut out, input.namespace)?;
            out.extend_from_slice(b",\"Dimensions\":[");
            for (j, set) in dims.iter().enumerate() {
                if j > 0 {
                    out.push(b',');
                }
                out.push(b'[');
                for (k, d) in set.iter().enumerate() {
                    if k > 0 {
                        out.push(b',');
                    }
                    str_(&mut out, d)?;
                }
                out.push(b']');
            }
            out.extend_from_slice(b"],\"Metrics\":[");
            for (j, &mi) in ms.iter().enumerate() {
                let m = &metrics[mi];
                if j > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(b"{\"Name\":");
                str_(&mut out, &m.name)?;
                if !m.unit.is_empty() {
                    out.extend_from_slice(b",\"Unit\":");
                    str_(&mut out, &m.unit)?;
                }
                if let Some(r) = m.storage_resolution {
                    out.extend_from_slice(b",\"StorageResolution\":");
                    u64_(&mut out, u64::from(r))?;
                }
                out.push(b'}');
            }
            out.extend_from_slice(b"]}");
        }
        out.push(b']');
    }
    out.push(b'}');
    for (k, v) in &labels {
        key(&mut out, k)?;
        str_(&mut out, v)?;
    }
    for m in metrics {
        key(&mut out, &m.name)?;
        value(&mut out, &m.value)?;
    }
    out.push(b'}');
    Ok(out)
}

/// `"Max":…,"Min":…,"Count":…,"Sum":…}`: the end of a statistic set and
/// of a histogram value.
fn stats(out: &mut Vec<u8>, max: f64, min: f64, count: u64, sum: f64) -> Json {
    out.extend_from_slice(b"\"Max\":");
    f64_(out, max)?;
    out.extend_from_slice(b",\"Min\":");
    f64_(out, min)?;
    out.extend_from_slice(b",\"Count\":");
    u64_(out, count)?;
    out.extend_from_slice(b",\"Sum\":");
    f64_(out, sum)?;
    out.push(b'}');
    Ok(())
}

/// `[v,…]`.
fn f64_array(out: &mut Vec<u8>, values: &[f64]) -> Json {
    out.push(b'[');
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        f64_(out, *v)?;
    }
    out.push(b']');
    Ok(())
}

fn value(out: &mut Vec<u8>, v: &EmfValue) -> Json {
    match v {
        EmfValue::Number(n) => f64_(out, *n),
        EmfValue::Stats {
            max,
            min,
            count,
            sum,
        } => {
            out.push(b'{');
            stats(out, *max, *min, *count, *sum)
        }
        EmfValue::Histogram {
            values,
            counts,
            max,
            min,
            count,
            sum,
        } => {
            out.extend_from_slice(b"{\"Values\":");
            f64_array(out, values)?;
            out.extend_from_slice(b",\"Counts\":");
            f64_array(out, counts)?;
            out.push(b',');
            stats(out, *max, *min, *count, *sum)
        }
    }
}
