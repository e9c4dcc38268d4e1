//! The Lambda resource the extension adds to what the function sent: the
//! distro's Lambda detector (environment only, no network) and
//! `OTEL_RESOURCE_ATTRIBUTES`, with `service.name` by the distro's
//! precedence, merged into each `ResourceSpans` only where the function did
//! not set the attribute (the distro's one merge, [`MergePolicy::FillMissing`]).

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use otel_aws_distro::Env;
use otel_aws_distro::resource::{
    DetectOptions, DetectorKind, MergePolicy, merge_attributes, merge_into_traces,
    to_proto_attributes,
};

/// Detects the Lambda resource (plus `OTEL_RESOURCE_ATTRIBUTES` and
/// `service.name`) as proto attributes. `service.name` follows the distro's
/// precedence (`OTEL_SERVICE_NAME` > `service.name` in
/// `OTEL_RESOURCE_ATTRIBUTES` > `AWS_XRAY_TRACING_NAME` > the function name).
pub async fn lambda_resource(env: &Env) -> Vec<KeyValue> {
    let opts = DetectOptions {
        detectors: vec![DetectorKind::Env, DetectorKind::Lambda],
        ..DetectOptions::default()
    };
    let detected = otel_aws_distro::resource::detect(env, &opts).await;
    let (name, _) = otel_aws_distro::resource::service_name(env, &detected, "otel-aws-extension");
    let mut attrs = to_proto_attributes(&detected);
    merge_attributes(
        &mut attrs,
        &[crate::platform_spans::kv_str("service.name", name)],
        MergePolicy::Override,
    );
    attrs
}

/// Adds each of `attrs` to every resource of `batch` that lacks that key.
pub fn merge_missing(batch: &mut ExportTraceServiceRequest, attrs: &[KeyValue]) {
    merge_into_traces(batch, attrs, MergePolicy::FillMissing);
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use opentelemetry_proto::tonic::trace::v1::ResourceSpans;

    use super::*;
    use crate::platform_spans::kv_str;

    #[test]
    fn adds_only_missing_attributes() {
        let mut batch = ExportTraceServiceRequest {
            resource_spans: vec![
                ResourceSpans {
                    resource: Some(Resource {
                        attributes: vec![kv_str("service.name", "checkout")],
                        ..Resource::default()
                    }),
                    ..ResourceSpans::default()
                },
                ResourceSpans::default(),
            ],
        };
        let detected = [kv_str("service.name", "fn"), kv_str("faas.name", "fn")];
        merge_missing(&mut batch, &detected);
        let first = &batch.resource_spans[0]
            .resource
            .as_ref()
            .unwrap()
            .attributes;
        assert_eq!(first.len(), 2);
        assert_eq!(first[0], kv_str("service.name", "checkout"));
        assert_eq!(first[1], kv_str("faas.name", "fn"));
        let second = &batch.resource_spans[1]
            .resource
            .as_ref()
            .unwrap()
            .attributes;
        assert_eq!(second, &detected.to_vec());
    }

    #[tokio::test]
    async fn detects_lambda_attributes_from_the_environment() {
        let env = Env::from_pairs([
            ("AWS_LAMBDA_FUNCTION_NAME", "orders"),
            ("AWS_REGION", "eu-west-1"),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ]);
        let attrs = lambda_resource(&env).await;
        let get = |k: &str| attrs.iter().find(|kv| kv.key == k).cloned();
        assert_eq!(get("faas.name"), Some(kv_str("faas.name", "orders")));
        assert_eq!(
            get("cloud.region"),
            Some(kv_str("cloud.region", "eu-west-1"))
        );
        assert_eq!(get("service.name"), Some(kv_str("service.name", "orders")));
    }

    /// The OpenTelemetry specification: `OTEL_SERVICE_NAME` wins over a
    /// `service.name` in `OTEL_RESOURCE_ATTRIBUTES` (the extension kept the
    /// latter before it used the distro's precedence).
    #[tokio::test]
    async fn otel_service_name_wins_over_resource_attributes() {
        let env = Env::from_pairs([
            ("AWS_LAMBDA_FUNCTION_NAME", "orders"),
            ("OTEL_SERVICE_NAME", "checkout"),
            ("OTEL_RESOURCE_ATTRIBUTES", "service.name=legacy,team=pay"),
        ]);
        let attrs = lambda_resource(&env).await;
        let names: Vec<_> = attrs.iter().filter(|kv| kv.key == "service.name").collect();
        assert_eq!(names, [&kv_str("service.name", "checkout")]);
        assert!(attrs.contains(&kv_str("team", "pay")));
        // Without OTEL_SERVICE_NAME the one in OTEL_RESOURCE_ATTRIBUTES counts.
        let env = Env::from_pairs([
            ("AWS_LAMBDA_FUNCTION_NAME", "orders"),
            ("OTEL_RESOURCE_ATTRIBUTES", "service.name=legacy"),
        ]);
        let attrs = lambda_resource(&env).await;
        assert!(attrs.contains(&kv_str("service.name", "legacy")));
    }
}
