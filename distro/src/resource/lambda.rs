//! Lambda detector: the reserved environment variables only, no network
//! call and no file system access (nothing may delay a cold start).
//!
//! `faas.max_memory`: Lambda gives MiB in `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`;
//! current semantic conventions define the attribute in bytes ("multiplied
//! by 1,048,576"), so we report `MiB * 1_048_576` as an integer — e.g. `128`
//! becomes `134217728`. (Older conventions used MiB; we follow the current
//! ones, like opentelemetry-aws 0.21.)

use opentelemetry::KeyValue;
use opentelemetry_semantic_conventions::attribute as semconv;

use super::{
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE, AWS_LAMBDA_FUNCTION_NAME, AWS_LAMBDA_FUNCTION_VERSION,
    AWS_LAMBDA_LOG_GROUP_NAME, AWS_LAMBDA_LOG_STREAM_NAME, AWS_REGION,
};
use crate::Env;

const BYTES_PER_MIB: i64 = 1024 * 1024;

/// True when `AWS_LAMBDA_FUNCTION_NAME` is set.
pub(super) fn on_lambda(env: &Env) -> bool {
    env.get(AWS_LAMBDA_FUNCTION_NAME).is_some()
}

/// Lambda attributes, or nothing when not on Lambda.
pub(super) fn detect(env: &Env) -> Vec<KeyValue> {
    let Some(name) = env.get(AWS_LAMBDA_FUNCTION_NAME) else {
        tracing::debug!("lambda detector: {AWS_LAMBDA_FUNCTION_NAME} is not set; not on Lambda");
        return Vec::new();
    };
    let mut out = super::provider_and_platform("aws_lambda").to_vec();
    out.push(KeyValue::new(semconv::FAAS_NAME, name.to_string()));
    let mut push = |key: &'static str, var: &str| {
        if let Some(value) = env.get(var) {
            out.push(KeyValue::new(key, value.to_string()));
        }
    };
    push(semconv::CLOUD_REGION, AWS_REGION);
    push(semconv::FAAS_VERSION, AWS_LAMBDA_FUNCTION_VERSION);
    push(semconv::FAAS_INSTANCE, AWS_LAMBDA_LOG_STREAM_NAME);
    if let Some(mib) = env.get(AWS_LAMBDA_FUNCTION_MEMORY_SIZE) {
        match mib
            .parse::<i64>()
            .ok()
            .and_then(|m| m.checked_mul(BYTES_PER_MIB))
        {
            Some(bytes) if bytes > 0 => out.push(KeyValue::new(semconv::FAAS_MAX_MEMORY, bytes)),
            _ => tracing::warn!(
                value = mib,
                "lambda detector: {AWS_LAMBDA_FUNCTION_MEMORY_SIZE} is not a number of MiB; faas.max_memory left out"
            ),
        }
    }
    if let Some(group) = env.get(AWS_LAMBDA_LOG_GROUP_NAME) {
        out.push(super::string_array(
            semconv::AWS_LOG_GROUP_NAMES,
            vec![group.to_string()],
        ));
    }
    out
}
