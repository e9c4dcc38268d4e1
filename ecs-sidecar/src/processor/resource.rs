//! `resourcedetection`: the task's resource (detected once at startup with
//! the distro's env/ecs/ec2 detectors) merged into every batch's resource.
//! With `override: true` (the collector's default) detected values replace
//! the sender's; with `false` they only fill in missing keys.

use std::time::Duration;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use otel_aws_distro::Env;
use otel_aws_distro::resource::{
    DetectOptions, MergePolicy, detect, merge_into_resource, merge_into_traces, to_proto_attributes,
};

use crate::config::Detector;

/// Default bound on detection.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// Detected attributes and how they are merged.
#[derive(Clone, Debug, PartialEq)]
pub struct ResourceMerge {
    /// The detected attributes.
    pub attributes: Vec<KeyValue>,
    /// `override: true` (the collector's default): [`MergePolicy::Override`].
    pub policy: MergePolicy,
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
        // The detectors and the timeout are the config's; of the
        // environment only the metadata services' settings, each on its
        // own (a bad one keeps its default, the others still count).
        let (mut opts, errors) = DetectOptions::endpoints_from_env(env);
        for e in &errors {
            tracing::warn!(error = %e, "resource detection: that setting keeps its default");
        }
        opts.detectors = detectors.iter().map(|d| d.kind()).collect();
        opts.timeout = timeout;
        let attributes = to_proto_attributes(&detect(env, &opts).await);
        tracing::info!(
            attributes = attributes.len(),
            ?detectors,
            "resource detected"
        );
        Self {
            attributes,
            policy: if override_existing {
                MergePolicy::Override
            } else {
                MergePolicy::FillMissing
            },
        }
    }

    /// Merges the detected attributes into every resource of `req` (the
    /// distro's one merge: the rules are tested there).
    pub fn apply(&self, req: &mut ExportTraceServiceRequest) {
        merge_into_traces(req, &self.attributes, self.policy);
    }

    /// Merges the detected attributes into every resource of a metrics request.
    pub fn apply_metrics(&self, req: &mut ExportMetricsServiceRequest) {
        for r in &mut req.resource_metrics {
            merge_into_resource(&mut r.resource, &self.attributes, self.policy);
        }
    }

    /// Merges the detected attributes into every resource of a logs request.
    pub fn apply_logs(&self, req: &mut ExportLogsServiceRequest) {
        for r in &mut req.resource_logs {
            merge_into_resource(&mut r.resource, &self.attributes, self.policy);
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::AnyValue;
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use opentelemetry_proto::tonic::trace::v1::ResourceSpans;

    /// A string attribute.
    pub(crate) fn kv(k: &str, v: &str) -> KeyValue {
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
        for (policy, want_region) in [
            (MergePolicy::Override, "eu-west-1"),
            (MergePolicy::FillMissing, "mine"),
        ] {
            let merge = ResourceMerge {
                attributes: detected.clone(),
                policy,
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

    /// Bad values of the other detection variables (IMDS off, the IMDS
    /// endpoint, and the detectors and timeout the config decides) leave
    /// the ECS task metadata endpoint in use: the task is still detected.
    /// Before, one bad variable made every setting the default, and the
    /// ECS endpoint with them.
    #[tokio::test]
    async fn a_bad_detection_variable_leaves_the_others_in_use() {
        use otel_aws_testkit::ecs::{EcsFixture, FakeEcsMetadata};
        let ecs = FakeEcsMetadata::start(EcsFixture::Fargate).await.unwrap();
        let uri = ecs.uri();
        let task_arn = |env: Env| async move {
            let merge = ResourceMerge::detect(&env, &[Detector::Ecs], DEFAULT_TIMEOUT, true).await;
            merge
                .attributes
                .iter()
                .find(|a| a.key == "aws.ecs.task.arn")
                .cloned()
        };
        let want = Some(kv(
            "aws.ecs.task.arn",
            "arn:aws:ecs:us-west-2:111122223333:task/default/e9028f8d5d8e4f258373e7b93ce9a3c3",
        ));
        for (var, bad) in [
            ("AWS_EC2_METADATA_DISABLED", "maybe"),
            ("AWS_EC2_METADATA_SERVICE_ENDPOINT", "ftp://imds"),
            ("OTEL_AWS_RESOURCE_DETECTORS", "eks"),
            ("OTEL_AWS_RESOURCE_DETECTION_TIMEOUT", "soon"),
        ] {
            let env =
                Env::from_pairs([("ECS_CONTAINER_METADATA_URI_V4", uri.as_str()), (var, bad)]);
            assert_eq!(task_arn(env).await, want, "{var}={bad}");
        }
        // Without the endpoint nothing is detected: the check can fail.
        assert_eq!(task_arn(Env::default()).await, None);
    }
}
