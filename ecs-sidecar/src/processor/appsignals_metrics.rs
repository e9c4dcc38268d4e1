//! `awsapplicationsignals` in a metrics pipeline: the Application Signals
//! metrics an ADOT SDK computes itself (`Latency`, `Error`, `Fault`, sent to
//! `OTEL_AWS_APPLICATION_SIGNALS_EXPORTER_ENDPOINT`, port 4316) made ready
//! for the `awsemf` exporter, as the CloudWatch agent's processor does in
//! its metrics role (`processMetrics`):
//!
//! 1. the environment: `aws.local.environment` of each point resolved with
//!    the agent's order ([`metric_environment`]); the resource's
//!    `aws.local.service`, when set, replaces the point's;
//! 2. length limits (environments 259 bytes, services 255, other dimensions
//!    1024), then the `aws.*` labels renamed to their dimension names
//!    (`Service`, `Operation`, `Environment`, `Remote*`: the distro's one
//!    table, [`dimension_name`]), `aws.span.kind` replaced by
//!    `Telemetry.Source` (`ServerSpan`, `LocalRootSpan`, `ClientSpan`, …);
//! 3. points dropped (and counted) when they have no `Telemetry.Source` or
//!    a dimension value that is empty, blank or not printable ASCII (the
//!    agent's pruner);
//! 4. a metric name starting with a lower-case letter gets a capital
//!    (`latency` → `Latency`), as the agent does.
//!
//! Not done (see docs/application-signals.md): the agent's `Telemetry.SDK`,
//! `Telemetry.Agent`, `PlatformType` and ECS labels, its keep/drop/replace
//! rules and its cardinality limiter.

use std::sync::atomic::{AtomicU64, Ordering};

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value::Value};
use opentelemetry_proto::tonic::metrics::v1::{Metric, metric::Data};
use otel_aws_distro::appsignals::keys::{
    AWS_LOCAL_ENVIRONMENT, AWS_LOCAL_OPERATION, AWS_LOCAL_SERVICE, AWS_REMOTE_ENVIRONMENT,
    AWS_REMOTE_OPERATION, AWS_REMOTE_RESOURCE_IDENTIFIER, AWS_REMOTE_RESOURCE_TYPE,
    AWS_REMOTE_SERVICE, AWS_SPAN_KIND,
};
use otel_aws_distro::appsignals::{Source, TELEMETRY_SOURCE, dimension_name, metric_environment};

/// Longest environment value (Application Signals SLO limit).
const MAX_ENVIRONMENT_BYTES: usize = 259;
/// Longest service name (Application Signals SLO limit).
const MAX_SERVICE_BYTES: usize = 255;
/// Longest other dimension value (CloudWatch metrics limit).
const MAX_DIMENSION_BYTES: usize = 1024;

/// The labels Application Signals uses as CloudWatch dimensions: a point
/// whose value for one of them is not printable ASCII is dropped.
const CHECKED: [&str; 8] = [
    AWS_LOCAL_SERVICE,
    AWS_LOCAL_OPERATION,
    AWS_LOCAL_ENVIRONMENT,
    AWS_REMOTE_SERVICE,
    AWS_REMOTE_ENVIRONMENT,
    AWS_REMOTE_OPERATION,
    AWS_REMOTE_RESOURCE_IDENTIFIER,
    AWS_REMOTE_RESOURCE_TYPE,
];

/// The processor of one metrics pipeline (no state but its counters).
#[derive(Debug, Default)]
pub struct AppSignalsMetrics {
    kept: AtomicU64,
    dropped: AtomicU64,
}

fn str_value(kv: &KeyValue) -> Option<&str> {
    match kv.value.as_ref()?.value.as_ref()? {
        Value::StringValue(s) => Some(s),
        _ => None,
    }
}

fn string_kv(key: &str, value: String) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(Value::StringValue(value)),
        }),
        ..KeyValue::default()
    }
}

fn put(attrs: &mut Vec<KeyValue>, key: &str, value: String) {
    match attrs.iter_mut().find(|kv| kv.key == key) {
        Some(kv) => *kv = string_kv(key, value),
        None => attrs.push(string_kv(key, value)),
    }
}

/// `value` cut to at most `max` bytes (at a character boundary).
fn truncate(value: &mut String, max: usize) {
    if value.len() > max {
        let mut end = max;
        while !value.is_char_boundary(end) {
            end -= 1;
        }
        value.truncate(end);
    }
}

/// Printable ASCII with at least one non-space character.
fn printable(value: &str) -> bool {
    value.bytes().all(|b| (32..=126).contains(&b)) && value.bytes().any(|b| b != b' ')
}

/// Normalizes one point's labels; false: drop the point.
fn normalize(attrs: &mut Vec<KeyValue>, resource: &[KeyValue]) -> bool {
    let point_env = attrs
        .iter()
        .find(|kv| kv.key == AWS_LOCAL_ENVIRONMENT)
        .and_then(str_value);
    let env = metric_environment(point_env, resource);
    put(attrs, AWS_LOCAL_ENVIRONMENT, env);
    if let Some(service) = resource
        .iter()
        .find(|kv| kv.key == AWS_LOCAL_SERVICE)
        .and_then(str_value)
    {
        put(attrs, AWS_LOCAL_SERVICE, service.to_owned());
    }
    let mut source = None;
    let mut keep = true;
    attrs.retain_mut(|kv| {
        if kv.key == AWS_SPAN_KIND {
            source = str_value(kv).and_then(Source::from_span_kind);
            return false;
        }
        let Some(dimension) = dimension_name(&kv.key) else {
            return true;
        };
        let checked = CHECKED.contains(&kv.key.as_str());
        let max = match kv.key.as_str() {
            AWS_LOCAL_ENVIRONMENT | AWS_REMOTE_ENVIRONMENT => MAX_ENVIRONMENT_BYTES,
            AWS_LOCAL_SERVICE | AWS_REMOTE_SERVICE => MAX_SERVICE_BYTES,
            _ => MAX_DIMENSION_BYTES,
        };
        match kv.value.as_mut().and_then(|v| v.value.as_mut()) {
            Some(Value::StringValue(s)) => {
                truncate(s, max);
                if checked && !printable(s) {
                    keep = false;
                }
            }
            // The agent reads these as strings: anything else is "".
            _ if checked => keep = false,
            _ => {}
        }
        kv.key = dimension.to_owned();
        true
    });
    match source {
        Some(s) => put(attrs, TELEMETRY_SOURCE, s.as_str().to_owned()),
        None if attrs.iter().any(|kv| kv.key == TELEMETRY_SOURCE) => {}
        None => keep = false,
    }
    keep
}

/// `latency` → `Latency` (names already starting with a capital are kept).
fn capitalize(metric: &mut Metric) {
    let mut chars = metric.name.chars();
    if let Some(first) = chars.next()
        && !first.is_uppercase()
    {
        metric.name = first
            .to_uppercase()
            .chain(chars.flat_map(char::to_lowercase))
            .collect();
    }
}

impl AppSignalsMetrics {
    /// A processor with zeroed counters.
    pub fn new() -> Self {
        Self::default()
    }

    /// Normalizes every point of `req` and drops those the agent drops.
    pub fn apply(&self, req: &mut ExportMetricsServiceRequest) {
        let (mut kept, mut dropped) = (0u64, 0u64);
        for rm in &mut req.resource_metrics {
            let resource = rm
                .resource
                .as_ref()
                .map(|r| r.attributes.as_slice())
                .unwrap_or_default();
            for sm in &mut rm.scope_metrics {
                for metric in &mut sm.metrics {
                    capitalize(metric);
                    let mut keep = |attrs: &mut Vec<KeyValue>| {
                        let k = normalize(attrs, resource);
                        if k {
                            kept += 1;
                        } else {
                            dropped += 1;
                        }
                        k
                    };
                    match &mut metric.data {
                        Some(Data::Gauge(g)) => {
                            g.data_points.retain_mut(|p| keep(&mut p.attributes))
                        }
                        Some(Data::Sum(s)) => s.data_points.retain_mut(|p| keep(&mut p.attributes)),
                        Some(Data::Histogram(h)) => {
                            h.data_points.retain_mut(|p| keep(&mut p.attributes))
                        }
                        Some(Data::ExponentialHistogram(h)) => {
                            h.data_points.retain_mut(|p| keep(&mut p.attributes))
                        }
                        Some(Data::Summary(s)) => {
                            s.data_points.retain_mut(|p| keep(&mut p.attributes))
                        }
                        None => {}
                    }
                }
                sm.metrics.retain(has_points);
            }
        }
        self.kept.fetch_add(kept, Ordering::Relaxed);
        self.dropped.fetch_add(dropped, Ordering::Relaxed);
        if dropped > 0 {
            tracing::debug!(
                dropped,
                "awsapplicationsignals: metric points without Telemetry.Source or with a non-ASCII dimension dropped"
            );
        }
    }

    /// Points passed on so far.
    pub fn kept(&self) -> u64 {
        self.kept.load(Ordering::Relaxed)
    }

    /// Points dropped so far.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

fn has_points(m: &Metric) -> bool {
    match &m.data {
        Some(Data::Gauge(g)) => !g.data_points.is_empty(),
        Some(Data::Sum(s)) => !s.data_points.is_empty(),
        Some(Data::Histogram(h)) => !h.data_points.is_empty(),
        Some(Data::ExponentialHistogram(h)) => !h.data_points.is_empty(),
        Some(Data::Summary(s)) => !s.data_points.is_empty(),
        None => false,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::metrics::v1::{
        Histogram, HistogramDataPoint, ResourceMetrics, ScopeMetrics,
    };
    use opentelemetry_proto::tonic::resource::v1::Resource;

    fn kv(k: &str, v: &str) -> KeyValue {
        string_kv(k, v.to_owned())
    }

    fn request(
        resource: Vec<KeyValue>,
        name: &str,
        points: Vec<Vec<KeyValue>>,
    ) -> ExportMetricsServiceRequest {
        ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                resource: Some(Resource {
                    attributes: resource,
                    ..Resource::default()
                }),
                scope_metrics: vec![ScopeMetrics {
                    metrics: vec![Metric {
                        name: name.to_owned(),
                        data: Some(Data::Histogram(Histogram {
                            data_points: points
                                .into_iter()
                                .map(|attributes| HistogramDataPoint {
                                    attributes,
                                    count: 1,
                                    sum: Some(1.0),
                                    ..HistogramDataPoint::default()
                                })
                                .collect(),
                            aggregation_temporality: 1,
                        })),
                        ..Metric::default()
                    }],
                    ..ScopeMetrics::default()
                }],
                ..ResourceMetrics::default()
            }],
        }
    }

    fn points(req: &ExportMetricsServiceRequest) -> Vec<Vec<(String, String)>> {
        let m = &req.resource_metrics[0].scope_metrics;
        let Some(m) = m.first().and_then(|s| s.metrics.first()) else {
            return Vec::new();
        };
        let Some(Data::Histogram(h)) = &m.data else {
            panic!("not a histogram")
        };
        h.data_points
            .iter()
            .map(|p| {
                let mut v: Vec<(String, String)> = p
                    .attributes
                    .iter()
                    .map(|kv| (kv.key.clone(), str_value(kv).unwrap_or("").to_owned()))
                    .collect();
                v.sort();
                v
            })
            .collect()
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = list
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        v.sort();
        v
    }

    /// The agent's normalizer test cases restated: renaming, span kind to
    /// Telemetry.Source, the ECS environment from the resource.
    #[test]
    fn labels_are_renamed_as_the_agent_does() {
        let resource = vec![
            kv("service.name", "checkout"),
            kv("cloud.platform", "aws_ecs"),
            kv(
                "aws.ecs.cluster.arn",
                "arn:aws:ecs:us-east-1:123456789012:cluster/shop",
            ),
        ];
        let mut req = request(
            resource,
            "Latency",
            vec![
                vec![
                    kv("aws.span.kind", "LOCAL_ROOT"),
                    kv("aws.local.service", "checkout"),
                    kv("aws.local.operation", "GET /orders/{id}"),
                ],
                vec![
                    kv("aws.span.kind", "CLIENT"),
                    kv("aws.local.service", "checkout"),
                    kv("aws.local.operation", "GET /orders/{id}"),
                    kv("aws.remote.service", "AWS::DynamoDB"),
                    kv("aws.remote.operation", "GetItem"),
                    kv("aws.remote.resource.type", "AWS::DynamoDB::Table"),
                    kv("aws.remote.resource.identifier", "orders"),
                    kv("aws.remote.db.user", "admin"),
                    kv("other", "kept"),
                ],
            ],
        );
        let p = AppSignalsMetrics::new();
        p.apply(&mut req);
        assert_eq!(
            points(&req),
            vec![
                pairs(&[
                    ("Telemetry.Source", "LocalRootSpan"),
                    ("Service", "checkout"),
                    ("Operation", "GET /orders/{id}"),
                    ("Environment", "ecs:shop"),
                ]),
                pairs(&[
                    ("Telemetry.Source", "ClientSpan"),
                    ("Service", "checkout"),
                    ("Operation", "GET /orders/{id}"),
                    ("Environment", "ecs:shop"),
                    ("RemoteService", "AWS::DynamoDB"),
                    ("RemoteOperation", "GetItem"),
                    ("RemoteResourceType", "AWS::DynamoDB::Table"),
                    ("RemoteResourceIdentifier", "orders"),
                    ("RemoteDbUser", "admin"),
                    ("other", "kept"),
                ]),
            ]
        );
        assert_eq!((p.kept(), p.dropped()), (2, 0));
    }

    #[test]
    fn environment_and_service_follow_the_agent_resolver() {
        // The resource's deployment.environment wins over the point's own.
        let mut req = request(
            vec![
                kv("deployment.environment", "prod"),
                kv("aws.local.service", "from-resource"),
            ],
            "Fault",
            vec![vec![
                kv("aws.span.kind", "SERVER"),
                kv("aws.local.service", "checkout"),
                kv("aws.local.operation", "GET /"),
                kv("aws.local.environment", "sdk-env"),
            ]],
        );
        AppSignalsMetrics::new().apply(&mut req);
        assert_eq!(
            points(&req),
            vec![pairs(&[
                ("Telemetry.Source", "ServerSpan"),
                ("Service", "from-resource"),
                ("Operation", "GET /"),
                ("Environment", "prod"),
            ])]
        );
        // Without one: the point's; without that: generic:default.
        for (point_env, want) in [(Some("sdk-env"), "sdk-env"), (None, "generic:default")] {
            let mut labels = vec![kv("aws.span.kind", "SERVER"), kv("aws.local.service", "a")];
            if let Some(e) = point_env {
                labels.push(kv("aws.local.environment", e));
            }
            let mut req = request(vec![], "Fault", vec![labels]);
            AppSignalsMetrics::new().apply(&mut req);
            assert!(
                points(&req)[0].contains(&("Environment".to_owned(), want.to_owned())),
                "{point_env:?}"
            );
        }
    }

    #[test]
    fn points_the_agent_prunes_are_dropped_and_counted() {
        let mut req = request(
            vec![],
            "Error",
            vec![
                // No aws.span.kind: no Telemetry.Source.
                vec![kv("aws.local.service", "checkout")],
                // Not printable ASCII.
                vec![
                    kv("aws.span.kind", "SERVER"),
                    kv("aws.local.service", "café"),
                ],
                // Blank.
                vec![
                    kv("aws.span.kind", "SERVER"),
                    kv("aws.local.operation", "  "),
                ],
                // Unknown span kind.
                vec![
                    kv("aws.span.kind", "INTERNAL"),
                    kv("aws.local.service", "a"),
                ],
                // Kept: RemoteDbUser is not a checked dimension.
                vec![kv("aws.span.kind", "CLIENT"), kv("aws.remote.db.user", "é")],
            ],
        );
        let p = AppSignalsMetrics::new();
        p.apply(&mut req);
        assert_eq!(points(&req).len(), 1);
        assert_eq!((p.kept(), p.dropped()), (1, 4));
        // A metric left without points is removed.
        let mut req = request(vec![], "Error", vec![vec![kv("x", "y")]]);
        p.apply(&mut req);
        assert!(req.resource_metrics[0].scope_metrics[0].metrics.is_empty());
    }

    #[test]
    fn long_values_are_cut_and_names_capitalized() {
        let long = "s".repeat(1100);
        // 1,501 bytes; byte 1,024 is inside a character: cut to 1,023.
        let user = format!("a{}", "é".repeat(750));
        let mut req = request(
            vec![],
            "latency",
            vec![vec![
                kv("aws.span.kind", "SERVER"),
                kv("aws.local.service", &long),
                kv("aws.local.operation", &long),
                kv("aws.remote.environment", &long),
                kv("aws.remote.db.user", &user),
            ]],
        );
        AppSignalsMetrics::new().apply(&mut req);
        let m = &req.resource_metrics[0].scope_metrics[0].metrics;
        assert_eq!(m[0].name, "Latency");
        let p = &points(&req)[0];
        let get = |k: &str| p.iter().find(|(key, _)| key == k).unwrap().1.clone();
        assert_eq!(get("Service").len(), 255);
        assert_eq!(get("Operation").len(), 1024);
        assert_eq!(get("RemoteEnvironment").len(), 259);
        assert_eq!(get("RemoteDbUser").len(), 1023);
    }
}
