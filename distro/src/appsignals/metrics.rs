//! Latency, Error and Fault per label set, aggregated over an interval and
//! handed over as one OTLP metrics batch (delta histograms), and the EMF
//! settings the CloudWatch agent uses for them.

use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

use hashbrown::{DefaultHashBuilder, HashTable};

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, InstrumentationScope, KeyValue, any_value::Value as Av,
};
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, Histogram, HistogramDataPoint, Metric, ResourceMetrics, ScopeMetrics,
    metric::Data,
};
use opentelemetry_proto::tonic::resource::v1::Resource;

use super::batch::{Observation, Source};
use super::cache::CachedLabels;
use super::generator::AttrSet;
use super::keys::*;
use crate::emf::{DimensionRollup, EmfConfig, LabelMatcher, MetricDeclaration};

/// The metric names.
pub const LATENCY: &str = "Latency";
/// HTTP 4xx count (a histogram of 0/1).
pub const ERROR: &str = "Error";
/// HTTP 5xx or ERROR status count (a histogram of 0/1).
pub const FAULT: &str = "Fault";
/// The label carrying [`Source::as_str`].
pub const TELEMETRY_SOURCE: &str = "Telemetry.Source";
/// Where Application Signals reads its metrics.
pub const LOG_GROUP: &str = "/aws/application-signals/data";
/// The CloudWatch namespace.
pub const NAMESPACE: &str = "ApplicationSignals";
/// The instrumentation scope of the metrics batch.
pub const SCOPE: &str = "otel-aws.application-signals";
/// Default bound on distinct label sets per interval (the rest are dropped and counted).
pub const DEFAULT_MAX_SERIES: usize = 10_000;

/// `aws.*` attribute → CloudWatch dimension (the agent's renaming).
const DIMENSIONS: [(&str, &str); 13] = [
    (AWS_LOCAL_SERVICE, "Service"),
    (AWS_LOCAL_OPERATION, "Operation"),
    (AWS_LOCAL_ENVIRONMENT, "Environment"),
    (AWS_REMOTE_SERVICE, "RemoteService"),
    (AWS_REMOTE_OPERATION, "RemoteOperation"),
    (AWS_REMOTE_ENVIRONMENT, "RemoteEnvironment"),
    (AWS_REMOTE_RESOURCE_IDENTIFIER, "RemoteResourceIdentifier"),
    (AWS_REMOTE_RESOURCE_TYPE, "RemoteResourceType"),
    (AWS_REMOTE_DB_USER, "RemoteDbUser"),
    (
        AWS_REMOTE_RESOURCE_CFN_PRIMARY_IDENTIFIER,
        "RemoteResourceCfnPrimaryIdentifier",
    ),
    (AWS_REMOTE_RESOURCE_ACCOUNT_ID, "RemoteResourceAccountId"),
    (
        AWS_REMOTE_RESOURCE_ACCESS_KEY,
        "RemoteResourceAccountAccessKey",
    ),
    (AWS_REMOTE_RESOURCE_REGION, "RemoteResourceRegion"),
];

/// The dimension name of an `aws.*` attribute (`None`: not a label, e.g. `aws.span.kind`).
pub fn dimension_name(key: &str) -> Option<&'static str> {
    DIMENSIONS.iter().find(|(k, _)| *k == key).map(|(_, d)| *d)
}

fn dims(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

/// The CloudWatch agent's `awsemf` settings for Application Signals: log
/// group `/aws/application-signals/data`, namespace `ApplicationSignals`,
/// no rollup, the service and dependency dimension sets selected by
/// `Telemetry.Source`.
pub fn emf_config() -> EmfConfig {
    let (env, svc, op) = ("Environment", "Service", "Operation");
    let (rs, ro, re) = ("RemoteService", "RemoteOperation", "RemoteEnvironment");
    let (rid, rty) = ("RemoteResourceIdentifier", "RemoteResourceType");
    let selectors = || dims(&[LATENCY, FAULT, ERROR]);
    let matcher = |regex: &str| {
        vec![LabelMatcher {
            label_names: vec![TELEMETRY_SOURCE.to_owned()],
            separator: None,
            regex: regex.to_owned(),
        }]
    };
    EmfConfig {
        namespace: Some(NAMESPACE.to_owned()),
        dimension_rollup: DimensionRollup::NoDimensionRollup,
        log_group_name: Some(LOG_GROUP.to_owned()),
        metric_declarations: vec![
            MetricDeclaration {
                dimensions: vec![dims(&[env, svc, op]), dims(&[env, svc])],
                metric_name_selectors: selectors(),
                label_matchers: matcher("^(ServerSpan|LocalRootSpan)$"),
            },
            MetricDeclaration {
                dimensions: vec![
                    dims(&[env, svc, op, rs, ro, re, rid, rty]),
                    dims(&[env, svc, op, rs, ro, re]),
                    dims(&[env, svc, op, rs, ro, rid, rty]),
                    dims(&[env, svc, op, rs, ro]),
                    dims(&[env, svc, rs, re]),
                    dims(&[env, svc, rs]),
                    dims(&[env, svc, rs, ro, re, rid, rty]),
                    dims(&[env, svc, rs, ro, re]),
                    dims(&[env, svc, rs, ro, rid, rty]),
                    dims(&[env, svc, rs, ro]),
                    dims(&[env, svc, rs, rid, rty]),
                    dims(&[rs, rid, rty]),
                    dims(&[rs]),
                ],
                metric_name_selectors: selectors(),
                label_matchers: matcher("^(ClientSpan|ProducerSpan|ConsumerSpan)$"),
            },
        ],
        ..EmfConfig::default()
    }
}

/// count, sum, min, max of one metric of one series.
#[derive(Clone, Copy, Debug, Default)]
struct Stat {
    count: u64,
    sum: f64,
    min: f64,
    max: f64,
}

impl Stat {
    /// `other`'s values added (as if each had been recorded here).
    fn merge(&mut self, other: &Stat) {
        if other.count == 0 {
            return;
        }
        if self.count == 0 {
            *self = *other;
            return;
        }
        self.count += other.count;
        self.sum += other.sum;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }

    fn record(&mut self, v: f64) {
        if self.count == 0 {
            self.min = v;
            self.max = v;
        } else {
            self.min = self.min.min(v);
            self.max = self.max.max(v);
        }
        self.count += 1;
        self.sum += v;
    }
}

/// One series' interval. Error and Fault are kept as counts: of values
/// that are each 0 or 1, the count is the latency's, the sum the count of
/// ones, the minimum 1 only when every value was and the maximum 1 when
/// one was ([`Series::ones`]), so a span costs two additions for them
/// rather than two more [`Stat::record`]s.
#[derive(Clone, Copy, Debug, Default)]
struct Series {
    latency: Stat,
    errors: u64,
    faults: u64,
}

impl Series {
    /// `other`'s observations added.
    fn merge(&mut self, other: &Series) {
        self.latency.merge(&other.latency);
        self.errors += other.errors;
        self.faults += other.faults;
    }

    fn record(&mut self, latency_ms: f64, error: bool, fault: bool) {
        self.latency.record(latency_ms);
        self.errors += u64::from(error);
        self.faults += u64::from(fault);
    }

    /// The statistics of this series' 0-or-1 values of which `ones` were 1.
    fn ones(&self, ones: u64) -> Stat {
        let count = self.latency.count;
        if count == 0 {
            return Stat::default();
        }
        Stat {
            count,
            sum: ones as f64,
            min: if ones == count { 1.0 } else { 0.0 },
            max: if ones > 0 { 1.0 } else { 0.0 },
        }
    }
}

/// One series: its labels (owned, made when the series starts), their hash
/// and the interval's statistics.
#[derive(Debug)]
struct Entry {
    hash: u64,
    key: (Source, AttrSet),
    series: Series,
}

/// Bits of a [`SeriesHandle`] holding the series' slot.
const SLOT_BITS: u32 = 24;
const SLOT_MASK: u64 = (1 << SLOT_BITS) - 1;

/// Interval numbers, unique in the process (so a handle set by one
/// aggregator, or in an earlier interval, never matches another).
static NEXT_INTERVAL: AtomicU64 = AtomicU64::new(1);

fn next_interval() -> u64 {
    NEXT_INTERVAL.fetch_add(1, Ordering::Relaxed)
}

/// Where an aggregator last put a cached label set: the interval number
/// and the series' slot in that interval (0: nowhere yet). Lets a span
/// whose labels come from the generator's cache reach its series without
/// hashing or comparing the labels.
#[derive(Debug, Default)]
pub(crate) struct SeriesHandle(AtomicU64);

/// Per-interval aggregation of [`Observation`]s into Latency, Error and Fault.
///
/// Series are found by a hash of the borrowed labels (a table of slots
/// into the interval's entries rather than a map keyed by an owned label
/// set), so recording a span of a known series copies nothing; label sets
/// from the generator's cache carry a `SeriesHandle` to their slot.
#[derive(Debug)]
pub struct MetricsAggregator {
    entries: Vec<Entry>,
    index: HashTable<u32>,
    hasher: DefaultHashBuilder,
    max_series: usize,
    dropped: u64,
    start_unix_nano: u64,
    interval: u64,
}

impl Default for MetricsAggregator {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_SERIES)
    }
}

impl MetricsAggregator {
    /// An aggregator holding at most `max_series` label sets per interval.
    pub fn new(max_series: usize) -> Self {
        Self {
            entries: Vec::new(),
            index: HashTable::new(),
            hasher: DefaultHashBuilder::default(),
            max_series,
            dropped: 0,
            start_unix_nano: 0,
            interval: next_interval(),
        }
    }

    /// Adds one observation (dropped and counted when the interval already
    /// holds `max_series` other label sets).
    pub fn record(&mut self, obs: Observation) {
        self.record_parts(
            obs.source,
            &obs.labels,
            obs.latency_ms,
            obs.error,
            obs.fault,
        );
    }

    /// [`MetricsAggregator::record`] for a cached label set: straight to
    /// its series when its handle points into this interval, else by its
    /// labels (and the handle remembers the slot).
    pub(crate) fn record_cached(
        &mut self,
        cached: &CachedLabels,
        latency_ms: f64,
        error: bool,
        fault: bool,
    ) {
        let handle = cached.series.0.load(Ordering::Relaxed);
        if handle >> SLOT_BITS == self.interval
            && let Some(e) = self.entries.get_mut((handle & SLOT_MASK) as usize)
        {
            e.series.record(latency_ms, error, fault);
            return;
        }
        let slot = self.record_parts(cached.source, &cached.labels, latency_ms, error, fault);
        if let Some(slot) = slot.filter(|s| (*s as u64) <= SLOT_MASK) {
            let handle = (self.interval << SLOT_BITS) | slot as u64;
            cached.series.0.store(handle, Ordering::Relaxed);
        }
    }

    /// Records into the series of `labels`; its slot, `None` when dropped.
    fn record_parts<S: AsRef<str>>(
        &mut self,
        source: Source,
        labels: &[(&'static str, S)],
        latency_ms: f64,
        error: bool,
        fault: bool,
    ) -> Option<usize> {
        let slot = self.slot(source, labels)?;
        self.entries[slot].series.record(latency_ms, error, fault);
        Some(slot)
    }

    /// Adds what `other` aggregated this interval to this one's series, and
    /// starts `other`'s next interval (a shard of the aggregation, merged
    /// at the flush). Series past `max_series` are dropped and counted.
    pub(crate) fn absorb(&mut self, other: &mut MetricsAggregator) {
        other.interval = next_interval();
        other.index.clear();
        self.dropped += std::mem::take(&mut other.dropped);
        for e in other.entries.drain(..) {
            match self.slot(e.key.0, &e.key.1) {
                Some(slot) => self.entries[slot].series.merge(&e.series),
                // `slot` counted one; the rest of the series' spans too.
                None => self.dropped += e.series.latency.count.saturating_sub(1),
            }
        }
    }

    /// The slot of the series of `labels`, made when new; `None` (and
    /// counted) past `max_series`.
    fn slot<S: AsRef<str>>(
        &mut self,
        source: Source,
        labels: &[(&'static str, S)],
    ) -> Option<usize> {
        // The keys are constants compared in full below: their lengths are
        // enough for the hash.
        let mut h = self.hasher.build_hasher();
        source.hash(&mut h);
        for (k, v) in labels {
            h.write_usize(k.len());
            v.as_ref().hash(&mut h);
        }
        let hash = h.finish();
        let entries = &mut self.entries;
        let same = |i: &u32| {
            let e = &entries[*i as usize];
            e.key.0 == source
                && e.key.1.len() == labels.len()
                && e.key
                    .1
                    .iter()
                    .zip(labels)
                    .all(|((k1, v1), (k2, v2))| k1 == k2 && v1 == v2.as_ref())
        };
        let slot = match self.index.find(hash, same) {
            Some(i) => *i as usize,
            None if entries.len() >= self.max_series || entries.len() >= u32::MAX as usize => {
                self.dropped += 1;
                return None;
            }
            None => {
                let slot = entries.len();
                entries.push(Entry {
                    hash,
                    key: (
                        source,
                        labels
                            .iter()
                            .map(|(k, v)| (*k, v.as_ref().to_owned()))
                            .collect(),
                    ),
                    series: Series::default(),
                });
                self.index
                    .insert_unique(hash, slot as u32, |i| entries[*i as usize].hash);
                slot
            }
        };
        Some(slot)
    }

    /// Label sets held now.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when nothing was recorded this interval.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Observations dropped (series limit) since the aggregator was made.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Ends the interval at `now_unix_nano`: the interval's metrics as one
    /// batch (`None` when nothing was recorded) with `resource`.
    pub fn take(
        &mut self,
        resource: &[KeyValue],
        now_unix_nano: u64,
    ) -> Option<ExportMetricsServiceRequest> {
        let start = std::mem::replace(&mut self.start_unix_nano, now_unix_nano);
        // A new interval: handles into the old one no longer match.
        self.interval = next_interval();
        self.index.clear();
        if self.entries.is_empty() {
            return None;
        }
        let mut series: Vec<_> = self.entries.drain(..).map(|e| (e.key, e.series)).collect();
        series.sort_by(|a, b| a.0.cmp(&b.0));
        let metric = |name: &str, unit: &str, pick: fn(&Series) -> Stat| Metric {
            name: name.to_owned(),
            unit: unit.to_owned(),
            data: Some(Data::Histogram(Histogram {
                aggregation_temporality: AggregationTemporality::Delta as i32,
                data_points: series
                    .iter()
                    .map(|((source, labels), s)| {
                        let stat = pick(s);
                        HistogramDataPoint {
                            attributes: point_labels(*source, labels),
                            start_time_unix_nano: start,
                            time_unix_nano: now_unix_nano,
                            count: stat.count,
                            sum: Some(stat.sum),
                            min: Some(stat.min),
                            max: Some(stat.max),
                            ..HistogramDataPoint::default()
                        }
                    })
                    .collect(),
            })),
            ..Metric::default()
        };
        let metrics = vec![
            metric(LATENCY, "ms", |s| s.latency),
            metric(ERROR, "", |s| s.ones(s.errors)),
            metric(FAULT, "", |s| s.ones(s.faults)),
        ];
        Some(ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                resource: Some(Resource {
                    attributes: resource.to_vec(),
                    ..Resource::default()
                }),
                scope_metrics: vec![ScopeMetrics {
                    scope: Some(InstrumentationScope {
                        name: SCOPE.to_owned(),
                        ..InstrumentationScope::default()
                    }),
                    metrics,
                    ..ScopeMetrics::default()
                }],
                ..ResourceMetrics::default()
            }],
        })
    }
}

fn string_kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(Av::StringValue(value.to_owned())),
        }),
        ..KeyValue::default()
    }
}

/// A point's labels: the dimension names of the `aws.*` labels plus `Telemetry.Source`.
fn point_labels(source: Source, labels: &AttrSet) -> Vec<KeyValue> {
    let mut out: Vec<KeyValue> = labels
        .iter()
        .filter_map(|(k, v)| dimension_name(k).map(|d| string_kv(d, v)))
        .collect();
    out.push(string_kv(TELEMETRY_SOURCE, source.as_str()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(operation: &str, latency_ms: f64, error: bool, fault: bool) -> Observation {
        Observation {
            source: Source::ServerSpan,
            labels: vec![
                (AWS_LOCAL_SERVICE, "svc".to_owned()),
                (AWS_LOCAL_OPERATION, operation.to_owned()),
            ],
            latency_ms,
            error,
            fault,
            end_unix_nano: 1,
        }
    }

    /// (count, sum, min, max) of `metric`'s point for `operation`.
    fn point(
        req: &ExportMetricsServiceRequest,
        metric: &str,
        operation: &str,
    ) -> (u64, f64, f64, f64) {
        let metrics = &req.resource_metrics[0].scope_metrics[0].metrics;
        let m = metrics.iter().find(|m| m.name == metric).expect("metric");
        let Some(Data::Histogram(h)) = &m.data else {
            panic!("not a histogram")
        };
        let p = h
            .data_points
            .iter()
            .find(|p| {
                p.attributes.iter().any(|kv| {
                    kv.key == "Operation"
                        && kv.value.as_ref().and_then(|v| v.value.as_ref())
                            == Some(&Av::StringValue(operation.to_owned()))
                })
            })
            .expect("point");
        (
            p.count,
            p.sum.expect("sum"),
            p.min.expect("min"),
            p.max.expect("max"),
        )
    }

    /// Two shards of one interval, merged at the flush: each series' count,
    /// sum, minimum and maximum over the observations of both (worked by
    /// hand below); the merged shard starts its next interval empty.
    #[test]
    fn shards_absorbed_give_the_whole_intervals_statistics() {
        let mut a = MetricsAggregator::new(10);
        let mut b = MetricsAggregator::new(10);
        a.record(obs("GET /a", 5.0, false, false));
        a.record(obs("GET /a", 1.0, true, false));
        b.record(obs("GET /a", 9.0, false, true));
        b.record(obs("GET /b", 2.0, false, false));
        a.record(obs("GET /c", 3.0, true, true));
        b.record(obs("GET /c", 4.0, true, false));
        a.absorb(&mut b);
        let req = a.take(&[], 100).expect("metrics");
        // Every value 1 (Error of GET /c), none (GET /b), some (Fault of GET /c).
        assert_eq!(point(&req, ERROR, "GET /c"), (2, 2.0, 1.0, 1.0));
        assert_eq!(point(&req, FAULT, "GET /c"), (2, 1.0, 0.0, 1.0));
        assert_eq!(point(&req, ERROR, "GET /b"), (1, 0.0, 0.0, 0.0));
        assert_eq!(point(&req, FAULT, "GET /b"), (1, 0.0, 0.0, 0.0));
        assert_eq!(point(&req, LATENCY, "GET /a"), (3, 15.0, 1.0, 9.0));
        assert_eq!(point(&req, ERROR, "GET /a"), (3, 1.0, 0.0, 1.0));
        assert_eq!(point(&req, FAULT, "GET /a"), (3, 1.0, 0.0, 1.0));
        assert_eq!(point(&req, LATENCY, "GET /b"), (1, 2.0, 2.0, 2.0));
        assert!(b.take(&[], 200).is_none(), "the absorbed shard is empty");
        // A shard recorded on after the merge counts in the next interval.
        b.record(obs("GET /b", 4.0, false, false));
        a.absorb(&mut b);
        let next = a.take(&[], 300).expect("metrics");
        assert_eq!(point(&next, LATENCY, "GET /b"), (1, 4.0, 4.0, 4.0));
    }

    /// Series past the bound are dropped when absorbed, each of their
    /// observations counted.
    #[test]
    fn absorbed_series_past_the_bound_are_counted() {
        let mut a = MetricsAggregator::new(1);
        let mut b = MetricsAggregator::new(1);
        a.record(obs("GET /a", 1.0, false, false));
        b.record(obs("GET /b", 1.0, false, false));
        b.record(obs("GET /b", 2.0, false, false));
        b.record(obs("GET /c", 1.0, false, false));
        assert_eq!(b.dropped(), 1);
        a.absorb(&mut b);
        assert_eq!(a.dropped(), 3);
        assert_eq!(a.len(), 1);
    }
}
