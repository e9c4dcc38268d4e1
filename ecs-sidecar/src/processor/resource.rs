//! `resourcedetection`: the task's resource (detected once at startup with
//! the distro's env/ecs/ec2 detectors) merged into every batch's resource.
//! With `override: true` (the collector's default) detected values replace
//! the sender's; with `false` they only fill in missing keys.

use std::time::Duration;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use otel_aws_distro::Env;
use otel_aws_distro::resource::{DetectOptions, detect};

use crate::config::Detector;

/// Default bound on detection.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// Detected attributes and how they are merged.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ResourceMerge {
    /// The detected attributes.
    pub attributes: Vec<KeyValue>,
    /// Detected values replace existing ones.
    pub override_existing: bool,
}

impl ResourceMerge {
    /// Runs the named detectors (`env`, `ecs`, `ec2`) within `timeout`;
    /// endpoints (ECS task metadata, IMDS) come from `env` as the distro reads them.
    pub async fn detect(
        env: &Env,
        detectors: &[Detector],
        timeout: Duration,
        override_existing: bool,
    ) -> Self {
        let mut opts = DetectOptions::from_env(env).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "resource detection settings from the environment are invalid; using defaults");
            DetectOptions::default()
        });
        opts.detectors = detectors.iter().map(|d| d.kind()).collect();
        opts.timeout = timeout;
        let resource = detect(env, &opts).await;
        let attributes = resource
            .iter()
            .map(|(k, v)| KeyValue {
                key: k.to_string(),
                value: Some(AnyValue::from(v.clone())),
                ..KeyValue::default()
            })
            .collect::<Vec<_>>();
        tracing::info!(
            attributes = attributes.len(),
            ?detectors,
            "resource detected"
        );
        Self {
            attributes,
            override_existing,
        }
    }

    /// Merges the detected attributes into every resource of `req`.
    pub fn apply(&self, req: &mut ExportTraceServiceRequest) {
        self.apply_all(req.resource_spans.iter_mut().map(|r| &mut r.resource));
    }

    /// Merges the detected attributes into every resource of a metrics request.
    pub fn apply_metrics(&self, req: &mut ExportMetricsServiceRequest) {
        self.apply_all(req.resource_metrics.iter_mut().map(|r| &mut r.resource));
    }

    /// Merges the detected attributes into every resource of a logs request.
    pub fn apply_logs(&self, req: &mut ExportLogsServiceRequest) {
        self.apply_all(req.resource_logs.iter_mut().map(|r| &mut r.resource));
    }

    fn apply_all<'a>(&self, resources: impl Iterator<Item = &'a mut Option<Resource>>) {
        if self.attributes.is_empty() {
            return;
        }
        for slot in resources {
            let resource = slot.get_or_insert_with(Resource::default);
            for kv in &self.attributes {
                match resource.attributes.iter_mut().find(|a| a.key == kv.key) {
                    Some(existing) if self.override_existing => existing.value = kv.value.clone(),
                    Some(_) => {}
                    None => resource.attributes.push(kv.clone()),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    use opentelemetry_proto::tonic::trace::v1::ResourceSpans;

    fn kv(k: &str, v: &str) -> KeyValue {
        KeyValue {
            key: k.into(),
            value: Some(AnyValue {
                value: Some(Value::StringValue(v.into())),
            }),
            ..KeyValue::default()
        }
    }

    fn batch() -> ExportTraceServiceRequest {
        ExportTraceServiceRequest {
            resource_spans: vec![
                ResourceSpans {
                    resource: Some(Resource {
                        attributes: vec![kv("service.name", "app"), kv("cloud.region", "mine")],
                        ..Resource::default()
                    }),
                    ..ResourceSpans::default()
                },
                ResourceSpans::default(),
            ],
        }
    }

    #[test]
    fn override_or_fill_in() {
        let detected = vec![
            kv("cloud.region", "eu-west-1"),
            kv("aws.ecs.launchtype", "fargate"),
        ];
        for (override_existing, want_region) in [(true, "eu-west-1"), (false, "mine")] {
            let merge = ResourceMerge {
                attributes: detected.clone(),
                override_existing,
            };
            let mut b = batch();
            merge.apply(&mut b);
            let attrs = &b.resource_spans[0].resource.as_ref().unwrap().attributes;
            assert_eq!(attrs.len(), 3);
            assert_eq!(
                attrs.iter().find(|a| a.key == "cloud.region"),
                Some(&kv("cloud.region", want_region))
            );
            assert_eq!(
                b.resource_spans[1].resource.as_ref().unwrap().attributes,
                detected
            );
        }
    }
}
