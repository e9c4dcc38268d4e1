//! The Lambda resource the extension adds to what the function sent: the
//! distro's Lambda detector (environment only, no network), merged into
//! each `ResourceSpans` only where the function did not set the attribute.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use otel_aws_distro::Env;
use otel_aws_distro::resource::{DetectOptions, DetectorKind};

/// Detects the Lambda resource (plus `service.name`, defaulting to the
/// function name, and `OTEL_RESOURCE_ATTRIBUTES`) as proto attributes.
pub async fn lambda_resource(env: &Env) -> Vec<KeyValue> {
    let opts = DetectOptions {
        detectors: vec![DetectorKind::Env, DetectorKind::Lambda],
        ..DetectOptions::default()
    };
    let detected = otel_aws_distro::resource::detect(env, &opts).await;
    let mut attrs = ResourceAttributesWithSchema::from(&detected).attributes.0;
    if !attrs.iter().any(|kv| kv.key == "service.name") {
        let (name, _) =
            otel_aws_distro::resource::service_name(env, &detected, "otel-aws-extension");
        attrs.push(crate::platform_spans::kv_str("service.name", name));
    }
    attrs
}

/// Adds each of `attrs` to every resource of `batch` that lacks that key.
pub fn merge_missing(batch: &mut ExportTraceServiceRequest, attrs: &[KeyValue]) {
    for rs in &mut batch.resource_spans {
        let resource = rs.resource.get_or_insert_with(Resource::default);
        for kv in attrs {
            if !resource.attributes.iter().any(|have| have.key == kv.key) {
                resource.attributes.push(kv.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
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
}
