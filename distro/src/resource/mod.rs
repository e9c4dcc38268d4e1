//! AWS resource detection: EC2 (IMDSv2), ECS (task metadata v4, v3
//! fallback), Lambda (environment only) and `OTEL_RESOURCE_ATTRIBUTES`, plus
//! the `service.name` precedence.
//!
//! # Why not `opentelemetry_aws::detector`
//!
//! opentelemetry-aws 0.21 ships EC2/ECS/Lambda detectors, and they are good
//! references (this module follows their ARN and image-reference parsing),
//! but we do not call them:
//! - they do blocking HTTP (`ureq`) with a 1 s timeout per request, so each
//!   call stalls the calling thread — wrong on a tokio worker, and on the
//!   Lambda init path (the DESIGN forbids both); there is no bound on the
//!   whole detection (token + document + hostname can take 3 s);
//! - endpoints are not injectable: IMDS is the hard-coded
//!   `169.254.169.254` (no `AWS_EC2_METADATA_SERVICE_ENDPOINT`, no
//!   `AWS_EC2_METADATA_DISABLED`) and ECS reads `std::env` directly (no
//!   [`crate::Env`], no v3 fallback), so our fakes cannot stand in;
//! - the spec differs in details (log-group ARN without the `:*` suffix,
//!   `container.image.tag`).
//!
//! So the detectors here are async (`reqwest`, no proxy), read only
//! [`crate::Env`], take their endpoints from [`DetectOptions`], and run
//! under one deadline ([`DetectOptions::timeout`], default 1 s), each request
//! additionally capped at 1 s and by what is left of the budget.
//!
//! # Order and precedence
//! 1. Lambda is decided from the environment alone. On Lambda nothing else
//!    is probed (no network call may delay a cold start) — even when the
//!    `lambda` detector itself is not selected.
//! 2. Otherwise ECS (a local agent, answers fast) runs first; EC2 runs when
//!    not on ECS, or on the ECS `EC2` launch type (it adds `host.*`). It is
//!    skipped on Fargate, where IMDS is unreachable and probing it would
//!    only burn the budget.
//! 3. Later sources override earlier ones: EC2 < ECS < Lambda <
//!    `OTEL_RESOURCE_ATTRIBUTES` (what the user wrote wins), merged by
//!    [`merge_attributes`] with [`MergePolicy::Override`] — the one merge the
//!    sidecar and the Lambda extension also use to add the detected resource
//!    to what they receive ([`merge`]).
//!
//! `service.name` is not set here: call [`service_name`] with the detected
//! resource.

mod ec2;
mod ecs;
mod env;
mod http;
mod lambda;
pub mod merge;
mod service_name;

use std::time::Duration;

use opentelemetry::{Key, KeyValue};
use opentelemetry_sdk::Resource;
use opentelemetry_semantic_conventions::attribute as semconv;

use crate::Env;

pub use env::parse_resource_attributes;
pub use merge::{
    Keyed, MergePolicy, merge_attributes, merge_into_resource, merge_into_traces,
    to_proto_attributes,
};
pub use service_name::{ServiceNameSource, service_name};

/// IMDS base URL override (same name as in the AWS SDKs), e.g. `http://[fd00:ec2::254]`.
pub const AWS_EC2_METADATA_SERVICE_ENDPOINT: &str = "AWS_EC2_METADATA_SERVICE_ENDPOINT";
/// `true` turns the EC2 detector off (same name as in the AWS SDKs).
pub const AWS_EC2_METADATA_DISABLED: &str = "AWS_EC2_METADATA_DISABLED";
/// ECS task metadata endpoint v4 base URI (set by the ECS agent).
pub const ECS_CONTAINER_METADATA_URI_V4: &str = "ECS_CONTAINER_METADATA_URI_V4";
/// ECS task metadata endpoint v3 base URI (fallback when v4 is absent).
pub const ECS_CONTAINER_METADATA_URI: &str = "ECS_CONTAINER_METADATA_URI";
/// Lambda function name; its presence means "running on Lambda".
pub const AWS_LAMBDA_FUNCTION_NAME: &str = "AWS_LAMBDA_FUNCTION_NAME";
/// Lambda function version (`$LATEST` or a number).
pub const AWS_LAMBDA_FUNCTION_VERSION: &str = "AWS_LAMBDA_FUNCTION_VERSION";
/// Lambda log stream name (used as `faas.instance`).
pub const AWS_LAMBDA_LOG_STREAM_NAME: &str = "AWS_LAMBDA_LOG_STREAM_NAME";
/// Lambda log group name (`aws.log.group.names`).
pub const AWS_LAMBDA_LOG_GROUP_NAME: &str = "AWS_LAMBDA_LOG_GROUP_NAME";
/// Lambda memory size in MiB (`faas.max_memory`, converted to bytes).
pub const AWS_LAMBDA_FUNCTION_MEMORY_SIZE: &str = "AWS_LAMBDA_FUNCTION_MEMORY_SIZE";
/// AWS region (Lambda sets it; `cloud.region` on Lambda).
pub const AWS_REGION: &str = "AWS_REGION";
/// Logical service name (first rung of the `service.name` precedence).
pub const OTEL_SERVICE_NAME: &str = "OTEL_SERVICE_NAME";
/// Extra resource attributes: `key=value` pairs, comma separated, values percent-encoded.
pub const OTEL_RESOURCE_ATTRIBUTES: &str = "OTEL_RESOURCE_ATTRIBUTES";
/// Legacy X-Ray SDK service name (third rung of the `service.name` precedence).
pub const AWS_XRAY_TRACING_NAME: &str = "AWS_XRAY_TRACING_NAME";
/// Which detectors run: comma list of `env`, `lambda`, `ecs`, `ec2`, or `none` (default: all).
pub const OTEL_AWS_RESOURCE_DETECTORS: &str = "OTEL_AWS_RESOURCE_DETECTORS";
/// Bound on the whole detection, in milliseconds (default 1000).
pub const OTEL_AWS_RESOURCE_DETECTION_TIMEOUT: &str = "OTEL_AWS_RESOURCE_DETECTION_TIMEOUT";

/// Default IMDS base URL.
pub const DEFAULT_IMDS_ENDPOINT: &str = "http://169.254.169.254";
/// Default bound on the whole detection.
pub const DEFAULT_DETECTION_TIMEOUT: Duration = Duration::from_millis(1000);
/// Cap on any single metadata request (further capped by the remaining budget).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(1);

/// Errors in the resource-detection configuration (startup errors). They
/// name the variable and what it accepts, never the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResourceConfigError {
    /// `OTEL_AWS_RESOURCE_DETECTORS` names an unknown detector or mixes `none` with others.
    #[error(
        "{OTEL_AWS_RESOURCE_DETECTORS} is invalid: {reason}; accepted: a comma-separated list of env, lambda, ecs, ec2 — or `none`"
    )]
    Detectors {
        /// What is wrong with it.
        reason: String,
    },
    /// `OTEL_AWS_RESOURCE_DETECTION_TIMEOUT` is not a positive number of milliseconds.
    #[error(
        "{OTEL_AWS_RESOURCE_DETECTION_TIMEOUT} is invalid; accepted: a positive whole number of milliseconds, e.g. 1000"
    )]
    Timeout,
    /// `AWS_EC2_METADATA_SERVICE_ENDPOINT` is not an http(s) URL.
    #[error(
        "{AWS_EC2_METADATA_SERVICE_ENDPOINT} is invalid: {reason}; accepted: an http:// or https:// URL such as http://169.254.169.254"
    )]
    ImdsEndpoint {
        /// What is wrong with it.
        reason: String,
    },
    /// `AWS_EC2_METADATA_DISABLED` is not a boolean.
    #[error("{AWS_EC2_METADATA_DISABLED} is invalid; accepted: true or false")]
    ImdsDisabled,
    /// `OTEL_RESOURCE_ATTRIBUTES` cannot be parsed.
    #[error(
        "{OTEL_RESOURCE_ATTRIBUTES} is invalid: {reason}; accepted: comma-separated key=value pairs with percent-encoded values, e.g. service.namespace=shop,deployment.environment=prod%201"
    )]
    ResourceAttributes {
        /// What is wrong with it.
        reason: String,
    },
}

/// One resource detector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DetectorKind {
    /// `OTEL_RESOURCE_ATTRIBUTES`.
    Env,
    /// AWS Lambda (environment only, no network).
    Lambda,
    /// Amazon ECS task metadata endpoint.
    Ecs,
    /// Amazon EC2 instance metadata service (IMDSv2).
    Ec2,
}

impl DetectorKind {
    /// Every detector, in the default order.
    pub const ALL: [DetectorKind; 4] = [Self::Env, Self::Lambda, Self::Ecs, Self::Ec2];

    /// The name used in `OTEL_AWS_RESOURCE_DETECTORS`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Env => "env",
            Self::Lambda => "lambda",
            Self::Ecs => "ecs",
            Self::Ec2 => "ec2",
        }
    }

    /// Parses one name of `OTEL_AWS_RESOURCE_DETECTORS` (case-insensitive).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str().eq_ignore_ascii_case(name))
    }
}

impl std::fmt::Display for DetectorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What to detect, where the metadata endpoints are, and how long it may take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetectOptions {
    /// Detectors to run (order does not matter; see the module docs).
    pub detectors: Vec<DetectorKind>,
    /// Bound on the whole detection.
    pub timeout: Duration,
    /// IMDS base URL, without a trailing slash.
    pub imds_endpoint: String,
    /// `AWS_EC2_METADATA_DISABLED=true`: never contact IMDS.
    pub imds_disabled: bool,
    /// ECS task metadata base URI (v4, else v3), without a trailing slash.
    pub ecs_metadata_uri: Option<String>,
}

impl Default for DetectOptions {
    fn default() -> Self {
        Self {
            detectors: DetectorKind::ALL.to_vec(),
            timeout: DEFAULT_DETECTION_TIMEOUT,
            imds_endpoint: DEFAULT_IMDS_ENDPOINT.to_string(),
            imds_disabled: false,
            ecs_metadata_uri: None,
        }
    }
}

impl DetectOptions {
    /// Reads the options from the environment; a bad value is an error
    /// naming the variable and what it accepts.
    pub fn from_env(env: &Env) -> Result<DetectOptions, ResourceConfigError> {
        let detectors = match env.get(OTEL_AWS_RESOURCE_DETECTORS) {
            None => DetectorKind::ALL.to_vec(),
            Some(value) => parse_detectors(value)?,
        };
        let timeout = match env.get(OTEL_AWS_RESOURCE_DETECTION_TIMEOUT) {
            None => DEFAULT_DETECTION_TIMEOUT,
            Some(value) => match value.parse::<u64>() {
                Ok(ms) if ms > 0 => Duration::from_millis(ms),
                _ => return Err(ResourceConfigError::Timeout),
            },
        };
        let (endpoints, errors) = Self::endpoints_from_env(env);
        match errors.into_iter().next() {
            Some(e) => Err(e),
            None => Ok(DetectOptions {
                detectors,
                timeout,
                ..endpoints
            }),
        }
    }

    /// The metadata services' settings from the environment (the IMDS
    /// endpoint, IMDS off, the ECS task metadata URI), each on its own: a
    /// bad value leaves that setting at its default, and its error is
    /// returned beside the options; the detectors and the timeout are the
    /// defaults. For a caller that takes those two from elsewhere (the
    /// sidecar's config file) and detects with what is valid rather than
    /// with nothing: one bad `AWS_EC2_METADATA_DISABLED` no longer loses
    /// the ECS endpoint.
    pub fn endpoints_from_env(env: &Env) -> (DetectOptions, Vec<ResourceConfigError>) {
        let mut errors = Vec::new();
        let mut opts = DetectOptions::default();
        if let Some(value) = env.get(AWS_EC2_METADATA_SERVICE_ENDPOINT) {
            match parse_endpoint(value) {
                Ok(endpoint) => opts.imds_endpoint = endpoint,
                Err(e) => errors.push(e),
            }
        }
        match env.get(AWS_EC2_METADATA_DISABLED) {
            None => {}
            Some(v) if v.eq_ignore_ascii_case("true") => opts.imds_disabled = true,
            Some(v) if v.eq_ignore_ascii_case("false") => {}
            Some(_) => errors.push(ResourceConfigError::ImdsDisabled),
        }
        opts.ecs_metadata_uri = env
            .get(ECS_CONTAINER_METADATA_URI_V4)
            .or_else(|| env.get(ECS_CONTAINER_METADATA_URI))
            .map(|uri| uri.trim_end_matches('/').to_string());
        (opts, errors)
    }

    fn enabled(&self, kind: DetectorKind) -> bool {
        self.detectors.contains(&kind)
    }
}

fn parse_detectors(value: &str) -> Result<Vec<DetectorKind>, ResourceConfigError> {
    let err = |reason: String| ResourceConfigError::Detectors { reason };
    let names: Vec<&str> = value
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .collect();
    if names.iter().any(|n| n.eq_ignore_ascii_case("none")) {
        return if names.len() == 1 {
            Ok(Vec::new())
        } else {
            Err(err("`none` cannot be combined with other detectors".into()))
        };
    }
    let mut kinds = Vec::new();
    for name in names {
        let kind = DetectorKind::from_name(name)
            .ok_or_else(|| err(format!("unknown detector `{name}`")))?;
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    if kinds.is_empty() {
        return Err(err("no detector named".into()));
    }
    Ok(kinds)
}

fn parse_endpoint(value: &str) -> Result<String, ResourceConfigError> {
    let err = |reason: String| ResourceConfigError::ImdsEndpoint { reason };
    let url = url::Url::parse(value).map_err(|e| err(e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(err(format!(
            "scheme `{}` is not http or https",
            url.scheme()
        )));
    }
    if url.host().is_none() {
        return Err(err("no host".into()));
    }
    Ok(value.trim_end_matches('/').to_string())
}

/// Detects the resource of the current platform. Never fails: a detector
/// that finds nothing (or errs, or runs out of time) contributes nothing,
/// and the reason is logged. The whole call is bounded by `opts.timeout`.
/// Returns an empty resource off AWS with no `OTEL_RESOURCE_ATTRIBUTES`.
pub async fn detect(env: &Env, opts: &DetectOptions) -> Resource {
    let mut attributes: Vec<KeyValue> = Vec::new();
    let layer = |attributes: &mut Vec<KeyValue>, found: Vec<KeyValue>| {
        merge_attributes(attributes, &found, MergePolicy::Override);
    };

    if lambda::on_lambda(env) {
        if opts.enabled(DetectorKind::Lambda) {
            layer(&mut attributes, lambda::detect(env));
        } else {
            tracing::debug!(
                "on AWS Lambda but the lambda detector is not selected; not probing ECS or EC2 either"
            );
        }
    } else {
        let deadline = tokio::time::Instant::now() + opts.timeout;
        let platform = tokio::time::timeout_at(deadline, detect_platform(opts, deadline)).await;
        match platform {
            Ok(found) => layer(&mut attributes, found),
            Err(_) => tracing::warn!(
                timeout_ms = opts.timeout.as_millis() as u64,
                "resource detection ran out of time ({OTEL_AWS_RESOURCE_DETECTION_TIMEOUT}); continuing without platform attributes"
            ),
        }
    }

    if opts.enabled(DetectorKind::Env) {
        layer(&mut attributes, env::detect(env));
    }

    Resource::builder_empty()
        .with_attributes(attributes)
        .build()
}

/// ECS then (unless on Fargate) EC2, in precedence order EC2 < ECS.
async fn detect_platform(opts: &DetectOptions, deadline: tokio::time::Instant) -> Vec<KeyValue> {
    let wants_ecs = opts.enabled(DetectorKind::Ecs);
    let wants_ec2 = opts.enabled(DetectorKind::Ec2) && !opts.imds_disabled;
    if opts.enabled(DetectorKind::Ec2) && opts.imds_disabled {
        tracing::debug!("ec2 detector skipped: {AWS_EC2_METADATA_DISABLED}=true");
    }
    if !wants_ecs && !wants_ec2 {
        return Vec::new();
    }
    let client = match http::client() {
        Ok(client) => client,
        Err(err) => {
            tracing::warn!(%err, "cannot build the HTTP client for resource detection");
            return Vec::new();
        }
    };

    let mut ecs_attrs = Vec::new();
    let mut probe_ec2 = wants_ec2;
    if wants_ecs {
        match opts.ecs_metadata_uri.as_deref() {
            None => tracing::debug!(
                "ecs detector: neither {ECS_CONTAINER_METADATA_URI_V4} nor {ECS_CONTAINER_METADATA_URI} is set; not on ECS"
            ),
            Some(uri) => {
                let found = ecs::detect(&client, uri, deadline).await;
                // On Fargate IMDS is unreachable; only the EC2 launch type (or
                // an unknown one) has an instance behind it.
                probe_ec2 &= !found.is_fargate();
                ecs_attrs = found.attributes;
            }
        }
    }
    let mut attributes: Vec<KeyValue> = Vec::new();
    if probe_ec2 {
        // On the ECS EC2 launch type the instance adds host.* (ECS wins on
        // the keys both know, such as cloud.platform).
        match ec2::detect(&client, &opts.imds_endpoint, deadline).await {
            Ok(found) => attributes = found,
            Err(err) if ecs_attrs.is_empty() => {
                tracing::debug!(%err, "ec2 detector found nothing; not on EC2");
            }
            Err(err) => {
                tracing::warn!(%err, "on ECS but IMDS did not answer; no host.* attributes")
            }
        }
    }
    merge_attributes(&mut attributes, &ecs_attrs, MergePolicy::Override);
    attributes
}

/// The string value of `key` in `resource`, if it is a string.
pub(crate) fn string_attr(resource: &Resource, key: &'static str) -> Option<String> {
    match resource.get(&Key::from_static_str(key))? {
        opentelemetry::Value::String(s) => Some(s.to_string()),
        _ => None,
    }
}

/// `cloud.provider=aws` and `cloud.platform=<platform>`.
fn provider_and_platform(platform: &'static str) -> [KeyValue; 2] {
    [
        KeyValue::new(semconv::CLOUD_PROVIDER, "aws"),
        KeyValue::new(semconv::CLOUD_PLATFORM, platform),
    ]
}

/// A one-element-or-more string-array attribute (`aws.log.group.names`, ...).
fn string_array(key: &'static str, values: Vec<String>) -> KeyValue {
    KeyValue::new(
        key,
        opentelemetry::Value::Array(opentelemetry::Array::String(
            values.into_iter().map(Into::into).collect(),
        )),
    )
}

#[cfg(test)]
mod tests;
