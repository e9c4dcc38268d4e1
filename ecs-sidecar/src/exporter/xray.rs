//! `awsxray` exporter: `PutTraceSegments` through aws-sdk-xray.
//!
//! OTLP spans go through the distro's [`AwsXrayExporter`] (span → segment
//! translation with `indexed_attributes` / `index_all_attributes`, ≤ 50
//! documents per call, calls in parallel, throttling retried,
//! `UnprocessedTraceSegments` sent once more then counted). Legacy documents
//! from the UDP receiver are passed through unchanged by
//! [`SegmentPassthrough`], as the X-Ray daemon does, on the same client and
//! with the same rules.
//!
//! The client: region from `region`, else `AWS_REGION`; endpoint from
//! `endpoint`, else `AWS_ENDPOINT_URL_XRAY`, else `AWS_ENDPOINT_URL`, else
//! the regional X-Ray endpoint; credentials from the sidecar's
//! [`CredentialsSource`](crate::extension::sigv4auth::CredentialsSource)
//! (aws-config's default chain: the task role on ECS).

use std::sync::Arc;

use otel_aws_distro::Env;
use otel_aws_distro::export::{
    AwsXrayConfig, AwsXrayExporter, BatchExporter, ExportError, ExportOutcome, RetryPolicy,
    xray_endpoint_url,
};
use otel_aws_distro::translate::{IndexedKeys, TranslateOptions};

use crate::config;
use crate::receiver::legacy::RawSegment;

pub use otel_aws_distro::export::AWS_ENDPOINT_URL_XRAY;

/// Where the `awsxray` exporter sends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct XrayTarget {
    /// Signing region.
    pub region: String,
    /// Endpoint override (`None`: the regional X-Ray endpoint).
    pub endpoint: Option<String>,
}

impl XrayTarget {
    /// Resolves region and endpoint: the config's fields, then the environment.
    pub fn resolve(
        cfg: &config::AwsXrayExporter,
        env: &Env,
        default_region: Option<String>,
    ) -> Option<Self> {
        let region = cfg.region.clone().or(default_region)?;
        let endpoint = cfg
            .endpoint
            .as_ref()
            .map(|e| e.as_str().to_owned())
            .or_else(|| xray_endpoint_url(env));
        Some(Self { region, endpoint })
    }
}

/// The distro's settings for an `awsxray` exporter section.
pub fn distro_config(cfg: &config::AwsXrayExporter, retry: RetryPolicy) -> AwsXrayConfig {
    AwsXrayConfig {
        translate: TranslateOptions {
            indexed: IndexedKeys {
                keys: cfg.indexed_attributes.clone(),
                all: cfg.index_all_attributes,
            },
            ..TranslateOptions::default()
        },
        retry,
        ..AwsXrayConfig::default()
    }
}

/// Sends segment documents as they came with `PutTraceSegments`, through
/// the distro exporter's [`AwsXrayExporter::export_documents`] (≤ 50 per
/// call, calls in parallel, throttling / 5xx / connection failures retried
/// with backoff, unprocessed documents sent once more).
#[derive(Clone, Debug)]
pub struct SegmentPassthrough {
    exporter: Arc<AwsXrayExporter>,
}

impl SegmentPassthrough {
    /// The passthrough on the X-Ray API exporter `spans` (built by the
    /// distro's `build_exporter` from an `awsxray` spec): one exporter (one
    /// client, one set of sending rules) serves both; `None` for another kind.
    pub fn new(spans: &Arc<dyn BatchExporter>) -> Option<Self> {
        Arc::clone(spans)
            .into_awsxray()
            .map(|exporter| Self { exporter })
    }

    /// Sends `docs`; counts exported and dropped documents as spans.
    pub async fn send(&self, docs: Vec<RawSegment>) -> Result<ExportOutcome, ExportError> {
        let docs = docs.into_iter().map(|d| (d.id, d.json)).collect();
        self.exporter.export_documents(docs).await
    }
}
