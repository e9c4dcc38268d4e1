//! `service.name` precedence, written once (spec/resources.md):
//! `OTEL_SERVICE_NAME` > `service.name` in `OTEL_RESOURCE_ATTRIBUTES` >
//! `AWS_XRAY_TRACING_NAME` > `AWS_LAMBDA_FUNCTION_NAME` > ECS container
//! name > `unknown_service:<executable>` (with a warning).

use opentelemetry::Value;
use opentelemetry_sdk::Resource;
use opentelemetry_semantic_conventions::attribute as semconv;

use super::{
    AWS_LAMBDA_FUNCTION_NAME, AWS_XRAY_TRACING_NAME, OTEL_RESOURCE_ATTRIBUTES, OTEL_SERVICE_NAME,
    parse_resource_attributes, string_attr,
};
use crate::Env;

/// Where the service name came from (shown by `otel-aws config`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServiceNameSource {
    /// `OTEL_SERVICE_NAME`.
    OtelServiceName,
    /// `service.name=` in `OTEL_RESOURCE_ATTRIBUTES`.
    ResourceAttributes,
    /// `AWS_XRAY_TRACING_NAME` (legacy X-Ray SDK).
    XrayTracingName,
    /// `AWS_LAMBDA_FUNCTION_NAME`.
    LambdaFunctionName,
    /// The ECS container name from the task metadata endpoint.
    EcsContainerName,
    /// Nothing set: `unknown_service:<executable>`.
    Default,
}

impl ServiceNameSource {
    /// The variable (or source) the value came from, for display.
    pub fn variable(&self) -> &'static str {
        match self {
            Self::OtelServiceName => OTEL_SERVICE_NAME,
            Self::ResourceAttributes => "OTEL_RESOURCE_ATTRIBUTES (service.name)",
            Self::XrayTracingName => AWS_XRAY_TRACING_NAME,
            Self::LambdaFunctionName => AWS_LAMBDA_FUNCTION_NAME,
            Self::EcsContainerName => "ECS task metadata (container name)",
            Self::Default => "default (unknown_service:<executable>)",
        }
    }
}

impl std::fmt::Display for ServiceNameSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.variable())
    }
}

/// The service name and where it came from. `detected` is the result of
/// [`super::detect`] (its ECS `container.name` is the fifth rung);
/// `executable` is the program name (a path is reduced to its file name).
pub fn service_name(
    env: &Env,
    detected: &Resource,
    executable: &str,
) -> (String, ServiceNameSource) {
    if let Some(name) = env.get(OTEL_SERVICE_NAME) {
        return (name.to_string(), ServiceNameSource::OtelServiceName);
    }
    if let Some(name) = from_resource_attributes(env) {
        return (name, ServiceNameSource::ResourceAttributes);
    }
    if let Some(name) = env.get(AWS_XRAY_TRACING_NAME) {
        return (name.to_string(), ServiceNameSource::XrayTracingName);
    }
    if let Some(name) = env.get(AWS_LAMBDA_FUNCTION_NAME) {
        return (name.to_string(), ServiceNameSource::LambdaFunctionName);
    }
    let on_ecs = string_attr(detected, semconv::CLOUD_PLATFORM).as_deref() == Some("aws_ecs");
    if let Some(name) = on_ecs
        .then(|| string_attr(detected, semconv::CONTAINER_NAME))
        .flatten()
        .filter(|n| !n.is_empty())
    {
        return (name, ServiceNameSource::EcsContainerName);
    }
    let executable = std::path::Path::new(executable)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or(executable);
    let name = format!("unknown_service:{executable}");
    tracing::warn!(
        service.name = %name,
        "no service name configured; set {OTEL_SERVICE_NAME} to name this service"
    );
    (name, ServiceNameSource::Default)
}

/// The last non-empty `service.name` in `OTEL_RESOURCE_ATTRIBUTES` (an
/// unparsable value is ignored, as the detector ignores it).
fn from_resource_attributes(env: &Env) -> Option<String> {
    let attributes = parse_resource_attributes(env.get(OTEL_RESOURCE_ATTRIBUTES)?).ok()?;
    attributes
        .into_iter()
        .rev()
        .find(|kv| kv.key.as_str() == semconv::SERVICE_NAME)
        .and_then(|kv| match kv.value {
            Value::String(s) if !s.as_str().is_empty() => Some(s.to_string()),
            _ => None,
        })
}
