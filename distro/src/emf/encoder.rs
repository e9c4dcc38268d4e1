//! [`EmfEncoder`]: OTLP metrics → EMF documents. Points are grouped by
//! labels, timestamp, kind, namespace and log destination, cumulative sums
//! turned into deltas, and each group written as one document (the rules
//! are in the module above).

use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hash, Hasher};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::metrics::v1::{AggregationTemporality, metric::Data};

use super::config::CompiledDeclaration;
use super::delta::{Delta, DeltaState};
use super::document::{self, DocInput, GroupMetric};
use super::patterns::{replace_patterns, str_attr};
use super::points::{self, EmfValue, Label, cloudwatch_unit};
use super::{
    DEFAULT_MAX_SERIES, DEFAULT_NAMESPACE, EmfBatch, EmfConfig, EmfConfigError, EmfEvent,
    EncodeStats, LogDestination, MAX_EVENT_BYTES, STORAGE_RESOLUTION_ATTRIBUTE,
};

/// OTLP metrics → EMF events; keeps the cumulative-sum state between calls
/// (one encoder per destination, shared by clones of an `Arc`).
#[derive(Debug)]
pub struct EmfEncoder {
    config: EmfConfig,
    declarations: Vec<CompiledDeclaration>,
    units: HashMap<String, (String, bool)>,
    delta: Mutex<DeltaState>,
    max_event_bytes: usize,
}

/// The metric kinds `awsemf` keeps in separate documents.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Kind {
    Gauge,
    Sum,
    Histogram,
    Exponential,
    Summary,
}

/// Metrics sharing a document: same context, timestamp, kind, batch and
/// labels.
struct Group {
    key_labels: Arc<[(String, String)]>,
    context: usize,
    timestamp_ms: i64,
    kind: Kind,
    batch: usize,
    /// The next group whose key hashes the same (see [`GroupIndex`]).
    next_same_hash: Option<usize>,
    /// Interned names of `metrics`: the duplicate check compares numbers.
    names: Vec<u32>,
    metrics: Vec<GroupMetric>,
}

/// Groups by the hash of their key, chained through
/// [`Group::next_same_hash`] on collision. Keyed by hash rather than by an
/// owned key so that a point of an existing group allocates nothing (its
/// labels stay borrowed from the batch).
type GroupIndex = HashMap<u64, usize, BuildHasherDefault<KeyHashHasher>>;

/// The index's keys are already hashes (of a randomly keyed hasher): used
/// as they are. Hand-written: a pass-through hasher is a few lines, not a
/// dependency.
#[derive(Default)]
struct KeyHashHasher(u64);

impl Hasher for KeyHashHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// Namespace and destination of one resource.
#[derive(PartialEq, Eq)]
struct Context {
    namespace: String,
    destination: Arc<LogDestination>,
}

impl EmfEncoder {
    /// An encoder with `config` (regular expressions compiled here).
    pub fn new(config: EmfConfig) -> Result<Self, EmfConfigError> {
        let declarations = config
            .metric_declarations
            .iter()
            .enumerate()
            .map(|(i, d)| CompiledDeclaration::new(i, d))
            .collect::<Result<_, _>>()?;
        let units = config
            .metric_descriptors
            .iter()
            .map(|d| (d.metric_name.clone(), (d.unit.clone(), d.overwrite)))
            .collect();
        Ok(Self {
            config,
            declarations,
            units,
            delta: Mutex::new(DeltaState::new(DEFAULT_MAX_SERIES)),
            max_event_bytes: MAX_EVENT_BYTES,
        })
    }

    /// Tracks at most `max` cumulative series (default [`DEFAULT_MAX_SERIES`]).
    #[must_use]
    pub fn with_max_series(self, max: usize) -> Self {
        Self {
            delta: Mutex::new(DeltaState::new(max)),
            ..self
        }
    }

    /// Caps each event at `bytes` (default [`MAX_EVENT_BYTES`]; tests).
    #[must_use]
    pub fn with_max_event_bytes(mut self, bytes: usize) -> Self {
        self.max_event_bytes = bytes;
        self
    }

    /// The configuration.
    pub fn config(&self) -> &EmfConfig {
        &self.config
    }

    /// Encodes `req` at the current time (used for points without a
    /// timestamp and to expire cumulative series).
    pub fn encode(&self, req: &ExportMetricsServiceRequest) -> EmfBatch {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        self.encode_at(req, now_ms)
    }

    /// [`Self::encode`] with the clock given (tests, replays).
    pub fn encode_at(&self, req: &ExportMetricsServiceRequest, now_ms: i64) -> EmfBatch {
        // foldhash with a fresh random seed per batch (hashbrown's default):
        // SipHash over every point's labels was 5.5 % of the sidecar's CPU
        // on OTLP → EMF (docs/benchmarks.md); a collision costs only a
        // full-key comparison down the chain.
        self.encode_with(req, now_ms, &hashbrown::DefaultHashBuilder::default())
    }

    /// [`Self::encode_at`] with the group index's hasher given (tests
    /// force collisions).
    pub(super) fn encode_with<S: BuildHasher>(
        &self,
        req: &ExportMetricsServiceRequest,
        now_ms: i64,
        key_hasher: &S,
    ) -> EmfBatch {
        let mut stats = EncodeStats::default();
        let mut contexts: Vec<Context> = Vec::new();
        let mut index = GroupIndex::default();
        let mut names: hashbrown::HashMap<&str, u32> = hashbrown::HashMap::new();
        let mut groups: Vec<Group> = Vec::new();
        let mut delta = self.delta.lock().unwrap_or_else(|p| p.into_inner());
        delta.sweep(now_ms);
        let mut key_buf = String::new();

        for rm in &req.resource_metrics {
            let resource: &[KeyValue] = rm.resource.as_ref().map_or(&[], |r| &r.attributes);
            let context = Context {
                namespace: self.namespace(resource),
                destination: Arc::new(self.destination(resource)),
            };
            let series_prefix = format!(
                "{}\u{0}{}\u{0}{}",
                context.namespace,
                context.destination.log_group,
                context
                    .destination
                    .log_stream
                    .as_deref()
                    .unwrap_or_default()
            );
            let context = match contexts.iter().position(|c| *c == context) {
                Some(i) => i,
                None => {
                    contexts.push(context);
                    contexts.len() - 1
                }
            };
            let resource_labels: Vec<(String, String)> =
                if self.config.resource_to_telemetry_conversion {
                    resource
                        .iter()
                        .map(|kv| (kv.key.clone(), points::label_value(kv.value.as_ref())))
                        .collect()
                } else {
                    Vec::new()
                };
            let prometheus = str_attr(resource, "receiver") == Some("prometheus");
            let mut labels: Vec<Label<'_>> = Vec::new();
            for sm in &rm.scope_metrics {
                let scope = sm
                    .scope
                    .as_ref()
                    .map(|s| s.name.as_str())
                    .filter(|n| !n.is_empty());
                for metric in &sm.metrics {
                    let name: Arc<str> = Arc::from(metric.name.as_str());
                    let unit: Arc<str> = Arc::from(self.unit(&metric.name, &metric.unit));
                    let next_name = names.len() as u32;
                    let name_id = *names.entry(metric.name.as_str()).or_insert(next_name);
                    let mut cx = PointCx {
                        encoder: self,
                        stats: &mut stats,
                        index: &mut index,
                        key_hasher,
                        groups: &mut groups,
                        context,
                        series_prefix: &series_prefix,
                        name: &name,
                        name_id,
                        unit: &unit,
                        now_ms,
                    };
                    let Some(data) = &metric.data else {
                        cx.stats.missing_value += 1;
                        continue;
                    };
                    match data {
                        Data::Gauge(g) => {
                            for (i, p) in g.data_points.iter().enumerate() {
                                cx.stats.data_points += 1;
                                match points::number(p) {
                                    Ok(v) => {
                                        points::labels_into(
                                            &p.attributes,
                                            &resource_labels,
                                            scope,
                                            &mut labels,
                                        );
                                        cx.add(
                                            Kind::Gauge,
                                            i,
                                            &mut labels,
                                            p.time_unix_nano,
                                            EmfValue::Number(v),
                                        );
                                    }
                                    Err(e) => cx.stats.invalid(e),
                                }
                            }
                        }
                        Data::Sum(s) => {
                            let cumulative = s.aggregation_temporality
                                == AggregationTemporality::Cumulative as i32;
                            for (i, p) in s.data_points.iter().enumerate() {
                                cx.stats.data_points += 1;
                                let v = match points::number(p) {
                                    Ok(v) => v,
                                    Err(e) => {
                                        cx.stats.invalid(e);
                                        continue;
                                    }
                                };
                                points::labels_into(
                                    &p.attributes,
                                    &resource_labels,
                                    scope,
                                    &mut labels,
                                );
                                let v = if cumulative {
                                    match cx.delta(&mut delta, &mut key_buf, &labels, v, 0) {
                                        Some((d, _)) => d,
                                        None => continue,
                                    }
                                } else {
                                    v
                                };
                                cx.add(
                                    Kind::Sum,
                                    i,
                                    &mut labels,
                                    p.time_unix_nano,
                                    EmfValue::Number(v),
                                );
                            }
                        }
                        Data::Histogram(h) => {
                            for (i, p) in h.data_points.iter().enumerate() {
                                cx.stats.data_points += 1;
                                match points::histogram(p) {
                                    Ok(v) => {
                                        points::labels_into(
                                            &p.attributes,
                                            &resource_labels,
                                            scope,
                                            &mut labels,
                                        );
                                        cx.add(
                                            Kind::Histogram,
                                            i,
                                            &mut labels,
                                            p.time_unix_nano,
                                            v,
                                        );
                                    }
                                    Err(e) => cx.stats.invalid(e),
                                }
                            }
                        }
                        Data::ExponentialHistogram(h) => {
                            let mut batch = 0;
                            for p in &h.data_points {
                                cx.stats.data_points += 1;
                                match points::exponential(p) {
                                    Ok(values) => {
                                        points::labels_into(
                                            &p.attributes,
                                            &resource_labels,
                                            scope,
                                            &mut labels,
                                        );
                                        let resolution = strip_resolution(&mut labels);
                                        for v in values {
                                            cx.add_stripped(
                                                Kind::Exponential,
                                                batch,
                                                &labels,
                                                resolution,
                                                p.time_unix_nano,
                                                v,
                                            );
                                            batch += 1;
                                        }
                                        cx.stats.converted += 1;
                                    }
                                    Err(e) => cx.stats.invalid(e),
                                }
                            }
                        }
                        Data::Summary(s) => {
                            for (i, p) in s.data_points.iter().enumerate() {
                                cx.stats.data_points += 1;
                                if let Err(e) = points::summary(p) {
                                    cx.stats.invalid(e);
                                    continue;
                                }
                                points::labels_into(
                                    &p.attributes,
                                    &resource_labels,
                                    scope,
                                    &mut labels,
                                );
                                let (sum, count) = if prometheus {
                                    match cx.delta(
                                        &mut delta,
                                        &mut key_buf,
                                        &labels,
                                        p.sum,
                                        p.count,
                                    ) {
                                        Some(d) => d,
                                        None => continue,
                                    }
                                } else {
                                    (p.sum, p.count)
                                };
                                let (min, max) = points::summary_min_max(p);
                                cx.add(
                                    Kind::Summary,
                                    i,
                                    &mut labels,
                                    p.time_unix_nano,
                                    EmfValue::Stats {
                                        max,
                                        min,
                                        count,
                                        sum,
                                    },
                                );
                            }
                        }
                    }
                }
            }
        }
        drop(delta);

        let mut events = Vec::with_capacity(groups.len());
        let mut docs = Vec::new();
        for g in &groups {
            let cx = &contexts[g.context];
            let input = DocInput {
                namespace: &cx.namespace,
                timestamp_ms: g.timestamp_ms,
                labels: &g.key_labels,
                metrics: &g.metrics,
                rollup: self.config.dimension_rollup,
                declarations: &self.declarations,
                max_event_bytes: self.max_event_bytes,
            };
            document::documents(&input, &mut stats, &mut docs);
            for message in docs.drain(..) {
                events.push(EmfEvent {
                    timestamp_ms: g.timestamp_ms,
                    message,
                    destination: cx.destination.clone(),
                });
            }
        }
        stats.events = events.len() as u64;
        EmfBatch { events, stats }
    }

    fn namespace(&self, resource: &[KeyValue]) -> String {
        if let Some(ns) = self.config.namespace.as_deref().filter(|n| !n.is_empty()) {
            return ns.to_owned();
        }
        match (
            str_attr(resource, "service.namespace"),
            str_attr(resource, "service.name"),
        ) {
            (Some(ns), Some(name)) => format!("{ns}/{name}"),
            (None, Some(one)) | (Some(one), None) => one.to_owned(),
            (None, None) => DEFAULT_NAMESPACE.to_owned(),
        }
    }

    fn destination(&self, resource: &[KeyValue]) -> LogDestination {
        let group = match self
            .config
            .log_group_name
            .as_deref()
            .filter(|g| !g.is_empty())
        {
            Some(pattern) => replace_patterns(pattern, resource),
            None => format!("/metrics/{}", self.namespace(resource)),
        };
        LogDestination {
            log_group: group,
            log_stream: self
                .config
                .log_stream_name
                .as_deref()
                .filter(|s| !s.is_empty())
                .map(|p| replace_patterns(p, resource)),
        }
    }

    fn unit(&self, name: &str, unit: &str) -> String {
        if let Some((u, overwrite)) = self.units.get(name)
            && (unit.is_empty() || *overwrite)
        {
            return u.clone();
        }
        cloudwatch_unit(unit).to_owned()
    }
}

/// Per-metric state while encoding.
struct PointCx<'a, S> {
    encoder: &'a EmfEncoder,
    stats: &'a mut EncodeStats,
    index: &'a mut GroupIndex,
    key_hasher: &'a S,
    groups: &'a mut Vec<Group>,
    context: usize,
    /// Namespace and destination, the series key's prefix.
    series_prefix: &'a str,
    name: &'a Arc<str>,
    /// `name` interned for this batch.
    name_id: u32,
    unit: &'a Arc<str>,
    now_ms: i64,
}

/// Takes the storage-resolution attribute out of `labels`: it configures
/// the metric and is no dimension.
fn strip_resolution(labels: &mut Vec<Label<'_>>) -> Option<u32> {
    let i = labels
        .iter()
        .position(|(k, _)| *k == STORAGE_RESOLUTION_ATTRIBUTE)?;
    labels.remove(i).1.trim().parse::<u32>().ok()
}

impl<S: BuildHasher> PointCx<'_, S> {
    /// The delta of a cumulative point, `None` when nothing is sent.
    fn delta(
        &mut self,
        state: &mut DeltaState,
        buf: &mut String,
        labels: &[Label<'_>],
        sum: f64,
        count: u64,
    ) -> Option<(f64, u64)> {
        buf.clear();
        buf.push_str(self.name);
        buf.push('\u{0}');
        buf.push_str(self.series_prefix);
        for (k, v) in labels {
            buf.push('\u{1}');
            buf.push_str(k);
            buf.push('\u{2}');
            buf.push_str(v);
        }
        match state.delta(buf, sum, count, self.now_ms) {
            Delta::Send { sum, count } => Some((sum, count)),
            Delta::First | Delta::Untracked
                if self.encoder.config.retain_initial_value_of_delta_metric =>
            {
                Some((sum, count))
            }
            Delta::First => {
                self.stats.first_cumulative += 1;
                None
            }
            Delta::Untracked => {
                self.stats.untracked_series += 1;
                None
            }
        }
    }

    /// Adds one converted point with its labels.
    fn add(
        &mut self,
        kind: Kind,
        batch: usize,
        labels: &mut Vec<Label<'_>>,
        time_ns: u64,
        value: EmfValue,
    ) {
        let resolution = strip_resolution(labels);
        self.add_stripped(kind, batch, labels, resolution, time_ns, value);
        self.stats.converted += 1;
    }

    /// Adds one value to its group (a new group when none matches).
    fn add_stripped(
        &mut self,
        kind: Kind,
        batch: usize,
        labels: &[Label<'_>],
        storage_resolution: Option<u32>,
        time_ns: u64,
        value: EmfValue,
    ) {
        let timestamp_ms = if time_ns > 0 {
            (time_ns / 1_000_000) as i64
        } else {
            self.now_ms
        };
        let hash = {
            let mut h = self.key_hasher.build_hasher();
            (self.context, timestamp_ms, kind, batch).hash(&mut h);
            for (k, v) in labels {
                k.hash(&mut h);
                v.hash(&mut h);
            }
            h.finish()
        };
        let metric = GroupMetric {
            name: self.name.clone(),
            unit: self.unit.clone(),
            storage_resolution,
            value,
        };
        let mut next = self.index.get(&hash).copied();
        let mut last = None;
        while let Some(g) = next {
            let group = &mut self.groups[g];
            if group.context == self.context
                && group.timestamp_ms == timestamp_ms
                && group.kind == kind
                && group.batch == batch
                && group.key_labels.len() == labels.len()
                && group
                    .key_labels
                    .iter()
                    .zip(labels)
                    .all(|((hk, hv), (k, v))| hk.as_str() == *k && hv.as_str() == v.as_ref())
            {
                if group.names.contains(&self.name_id) {
                    self.stats.duplicates += 1;
                } else {
                    group.names.push(self.name_id);
                    group.metrics.push(metric);
                }
                return;
            }
            last = Some(g);
            next = group.next_same_hash;
        }
        self.groups.push(Group {
            key_labels: labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.as_ref().to_owned()))
                .collect(),
            context: self.context,
            timestamp_ms,
            kind,
            batch,
            next_same_hash: None,
            names: vec![self.name_id],
            metrics: vec![metric],
        });
        let new = self.groups.len() - 1;
        match last {
            Some(l) => self.groups[l].next_same_hash = Some(new),
            None => {
                self.index.insert(hash, new);
            }
        }
    }
}
