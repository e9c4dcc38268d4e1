//! The three OTLP batch types the extension carries (traces, metrics,
//! logs), behind one trait so the buffer, the delivery lanes and the
//! flusher are written once: how many items a batch holds (spans, data
//! points, log records), how to keep its first `n` items, how to join two
//! and split one into requests, and which exporter call sends it.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::metrics::v1::Metric;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::Span;
use otel_aws_distro::export::{BatchExporter, ExportFuture, OtlpBatch, metric_points};

/// An OTLP export request of one signal, as the extension holds it (the
/// distro's [`OtlpBatch`] gives its name and item count).
pub trait Batch: OtlpBatch + Sync {
    /// Keeps the first `keep` items (in order), removing emptied groups.
    fn truncate(&mut self, keep: usize);

    /// Appends `other`'s groups after this batch's.
    fn append(&mut self, other: Self);

    /// Puts `other`'s groups before this batch's.
    fn prepend(&mut self, other: Self);

    /// Splits the batch, in order, into requests of at most `max` items (a
    /// metric with more points than `max` travels alone, whole).
    fn chunks(self, max: usize) -> Vec<Self>;

    /// Sends the batch through `exporter`'s call for this signal.
    fn export(exporter: &dyn BatchExporter, batch: Self) -> ExportFuture<'_>;

    /// Adds each of `attrs` to every resource of the batch that lacks its key
    /// (a resource the sender set wins).
    fn fill_resource(&mut self, attrs: &[KeyValue]);
}

fn fill(resource: &mut Option<Resource>, attrs: &[KeyValue]) {
    let resource = resource.get_or_insert_with(Resource::default);
    for kv in attrs {
        if !resource.attributes.iter().any(|have| have.key == kv.key) {
            resource.attributes.push(kv.clone());
        }
    }
}

/// Keeps the first `keep` points of `m`.
fn truncate_metric(m: &mut Metric, keep: usize) {
    match &mut m.data {
        None => {}
        Some(Data::Gauge(g)) => g.data_points.truncate(keep),
        Some(Data::Sum(s)) => s.data_points.truncate(keep),
        Some(Data::Histogram(h)) => h.data_points.truncate(keep),
        Some(Data::ExponentialHistogram(h)) => h.data_points.truncate(keep),
        Some(Data::Summary(s)) => s.data_points.truncate(keep),
    }
}

fn one_span(_: &Span) -> usize {
    1
}

fn one_record(_: &LogRecord) -> usize {
    1
}

fn never_cut<T>(_: &mut T, _: usize) {}

/// The three request types have the same shape (resources → scopes →
/// leaves); this writes the trait once for a given set of field names.
/// `$weight` counts a leaf's items, `$cut` keeps a leaf's first n items.
macro_rules! nested_batch {
    ($req:ty, $res:ident, $scopes:ident, $leaves:ident, $weight:path, $cut:path, $export:ident) => {
        impl Batch for $req {
            fn truncate(&mut self, mut keep: usize) {
                for r in &mut self.$res {
                    for s in &mut r.$scopes {
                        let mut n = 0;
                        for leaf in &mut s.$leaves {
                            if keep == 0 {
                                break;
                            }
                            let w = $weight(leaf);
                            if w > keep {
                                $cut(leaf, keep);
                                keep = 0;
                            } else {
                                keep -= w;
                            }
                            n += 1;
                        }
                        s.$leaves.truncate(n);
                    }
                    r.$scopes.retain(|s| !s.$leaves.is_empty());
                }
                self.$res.retain(|r| !r.$scopes.is_empty());
            }

            fn append(&mut self, mut other: Self) {
                self.$res.append(&mut other.$res);
            }

            fn prepend(&mut self, mut other: Self) {
                other.$res.append(&mut self.$res);
                self.$res = other.$res;
            }

            fn chunks(self, max: usize) -> Vec<Self> {
                let max = max.max(1);
                let mut out = Vec::new();
                let mut cur = Self::default();
                let mut n = 0;
                for mut r in self.$res {
                    let scopes = std::mem::take(&mut r.$scopes);
                    let mut need_r = true;
                    for mut s in scopes {
                        let leaves = std::mem::take(&mut s.$leaves);
                        let mut need_s = true;
                        for leaf in leaves {
                            let w = $weight(&leaf);
                            if n > 0 && n + w > max {
                                out.push(std::mem::take(&mut cur));
                                n = 0;
                                (need_r, need_s) = (true, true);
                            }
                            if need_r {
                                cur.$res.push(r.clone());
                                need_r = false;
                            }
                            let Some(cr) = cur.$res.last_mut() else {
                                continue;
                            };
                            if need_s {
                                cr.$scopes.push(s.clone());
                                need_s = false;
                            }
                            if let Some(cs) = cr.$scopes.last_mut() {
                                cs.$leaves.push(leaf);
                                n += w;
                            }
                        }
                    }
                }
                if n > 0 {
                    out.push(cur);
                }
                out
            }

            fn export(exporter: &dyn BatchExporter, batch: Self) -> ExportFuture<'_> {
                exporter.$export(batch)
            }

            fn fill_resource(&mut self, attrs: &[KeyValue]) {
                for r in &mut self.$res {
                    fill(&mut r.resource, attrs);
                }
            }
        }
    };
}

nested_batch!(
    ExportTraceServiceRequest,
    resource_spans,
    scope_spans,
    spans,
    one_span,
    never_cut,
    export
);
nested_batch!(
    ExportMetricsServiceRequest,
    resource_metrics,
    scope_metrics,
    metrics,
    metric_points,
    truncate_metric,
    export_metrics
);
nested_batch!(
    ExportLogsServiceRequest,
    resource_logs,
    scope_logs,
    log_records,
    one_record,
    never_cut,
    export_logs
);

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::metrics::v1::{
        Gauge, NumberDataPoint, ResourceMetrics, ScopeMetrics,
    };

    fn gauge(name: &str, points: usize) -> Metric {
        Metric {
            name: name.into(),
            data: Some(Data::Gauge(Gauge {
                data_points: vec![NumberDataPoint::default(); points],
            })),
            ..Metric::default()
        }
    }

    fn metrics(groups: &[&[usize]]) -> ExportMetricsServiceRequest {
        ExportMetricsServiceRequest {
            resource_metrics: groups
                .iter()
                .enumerate()
                .map(|(i, ms)| ResourceMetrics {
                    resource: Some(Resource {
                        dropped_attributes_count: i as u32,
                        ..Resource::default()
                    }),
                    scope_metrics: vec![ScopeMetrics {
                        metrics: ms
                            .iter()
                            .enumerate()
                            .map(|(j, p)| gauge(&format!("m{i}.{j}"), *p))
                            .collect(),
                        ..ScopeMetrics::default()
                    }],
                    ..ResourceMetrics::default()
                })
                .collect(),
        }
    }

    #[test]
    fn metric_items_are_data_points_and_truncation_cuts_inside_a_metric() {
        let mut b = metrics(&[&[3, 2], &[4]]);
        assert_eq!(b.items(), 9);
        b.truncate(4);
        assert_eq!(b.items(), 4);
        assert_eq!(b.resource_metrics.len(), 1);
        let ms = &b.resource_metrics[0].scope_metrics[0].metrics;
        assert_eq!(ms.len(), 2);
        assert_eq!(metric_points(&ms[1]), 1);
        b.truncate(0);
        assert!(b.resource_metrics.is_empty());
    }

    #[test]
    fn chunks_keep_order_and_resources() {
        let b = metrics(&[&[3, 2], &[4, 1]]);
        let chunks = b.clone().chunks(5);
        let sizes: Vec<usize> = chunks.iter().map(OtlpBatch::items).collect();
        assert_eq!(sizes, vec![5, 5]);
        // The second chunk carries the second resource only.
        assert_eq!(chunks[1].resource_metrics.len(), 1);
        assert_eq!(
            chunks[1].resource_metrics[0]
                .resource
                .as_ref()
                .map(|r| r.dropped_attributes_count),
            Some(1)
        );
        // A metric larger than the chunk travels whole and alone.
        let big = metrics(&[&[1, 7, 1]]).chunks(3);
        let sizes: Vec<usize> = big.iter().map(OtlpBatch::items).collect();
        assert_eq!(sizes, vec![1, 7, 1]);
        let mut joined = ExportMetricsServiceRequest::default();
        for c in chunks {
            joined.append(c);
        }
        assert_eq!(joined.items(), 10);
    }

    #[test]
    fn prepend_puts_the_other_batch_first() {
        let mut a = metrics(&[&[1]]);
        let b = metrics(&[&[2], &[3]]);
        a.prepend(b);
        let points: Vec<usize> = a
            .resource_metrics
            .iter()
            .map(|r| metric_points(&r.scope_metrics[0].metrics[0]))
            .collect();
        assert_eq!(points, vec![2, 3, 1]);
    }
}
