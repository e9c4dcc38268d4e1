//! `awsemf` exporter: the collector settings as the distro's [`AwsEmfSpec`].
//! The exporter itself (OTLP metrics → EMF documents → CloudWatch Logs
//! through the distro's PutLogEvents sender, which creates a missing stream
//! and group, or one line each on stdout with `output_destination: stdout`)
//! is built by the distro's `build_exporter`, like every other exporter.
//!
//! The client: region from `region`, else `AWS_REGION`; endpoint from
//! `endpoint`, else `AWS_ENDPOINT_URL_CLOUDWATCH_LOGS`, `AWS_ENDPOINT_URL_LOGS`, `AWS_ENDPOINT_URL`, else the
//! regional CloudWatch Logs endpoint; credentials from the sidecar's
//! credentials source (the task role on ECS); per-attempt timeout
//! `request_timeout_seconds`, `max_retries` retries with backoff; documents
//! without `log_stream_name` go to the collector's default stream.

use std::time::Duration;

use otel_aws_distro::Env;
use otel_aws_distro::appsignals::logs_endpoint_url;
use otel_aws_distro::export::{AwsEmfSpec, EmfCloudWatch, EmfDestination};

use crate::config::awsemf::{
    DEFAULT_LOG_STREAM, DEFAULT_MAX_RETRIES, DEFAULT_REQUEST_TIMEOUT_SECONDS,
};
use crate::config::{AwsEmfExporter as Settings, OutputDestination};

/// The CloudWatch Logs endpoint: the setting, else `AWS_ENDPOINT_URL_CLOUDWATCH_LOGS`, `AWS_ENDPOINT_URL_LOGS`,
/// else `AWS_ENDPOINT_URL`; `None`: the regional endpoint.
pub fn logs_endpoint(cfg: &Settings, env: &Env) -> Option<String> {
    cfg.endpoint
        .as_ref()
        .map(|e| e.as_str().to_owned())
        .or_else(|| logs_endpoint_url(env))
        .filter(|e| !e.trim().is_empty())
}

/// The distro's spec for exporter `id`; `default_region` (`AWS_REGION`) when
/// the settings name none. `None`: documents go to CloudWatch Logs but no
/// region is known.
pub fn spec(
    id: &str,
    cfg: &Settings,
    env: &Env,
    default_region: Option<String>,
) -> Option<AwsEmfSpec> {
    let output = match cfg.output_destination {
        OutputDestination::Stdout => EmfDestination::Stdout,
        OutputDestination::CloudWatch => EmfDestination::CloudWatch(EmfCloudWatch {
            region: Some(cfg.region.clone().or(default_region)?),
            endpoint: logs_endpoint(cfg, env),
            default_log_stream: Some(DEFAULT_LOG_STREAM.to_owned()),
            request_timeout: Some(Duration::from_secs(
                cfg.request_timeout_seconds
                    .unwrap_or(DEFAULT_REQUEST_TIMEOUT_SECONDS),
            )),
            max_retries: Some(cfg.max_retries.unwrap_or(DEFAULT_MAX_RETRIES)),
        }),
    };
    Some(AwsEmfSpec {
        config: cfg.emf_config(),
        output,
        id: Some(id.to_owned()),
    })
}
