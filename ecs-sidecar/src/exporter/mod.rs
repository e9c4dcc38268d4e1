//! Builds the configured exporters from the distro's implementations.

pub mod awsemf;
mod debug;
pub mod xray;

use std::sync::Arc;
use std::time::Duration;

use otel_aws_distro::export::{
    AwsXraySpec, BatchExporter, Compression, CredentialStrategy, EmfDestination, ExportConfigError,
    ExporterSpec, OtlpHttpConfig, Protocol, RetryPolicy, Signing, build_exporter,
};

use otel_aws_distro::config::redact::RedactedUrl;
use otel_aws_distro::receiver::Signal;

use crate::config::{self, CompressionSetting, Config, Encoding, Exporter, Extension, Verbosity};
use crate::extension::sigv4auth::{CredentialsError, CredentialsSource};
use crate::pipeline::export_queue::QueueSettings;

pub use debug::CountingDebugExporter;

/// Why an exporter could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ExporterError {
    /// The distro refused the settings.
    #[error("exporters.{id}: {source}")]
    Config {
        /// Component id.
        id: String,
        /// The distro's error.
        source: ExportConfigError,
    },
    /// Signing is configured but no credentials are available.
    #[error("exporters.{id}: {source}")]
    Credentials {
        /// Component id.
        id: String,
        /// Why.
        source: CredentialsError,
    },
    /// No region for the X-Ray API or CloudWatch Logs (awsemf).
    #[error("exporters.{id}.region: no region: set exporters.{id}.region or AWS_REGION")]
    NoRegion {
        /// Component id.
        id: String,
    },
    /// Not in this build.
    #[error("exporters.{id}: {message}")]
    Unsupported {
        /// Component id.
        id: String,
        /// What to use instead.
        message: String,
    },
}

/// A built exporter and its queue settings.
#[derive(Debug)]
pub struct BuiltExporter {
    /// The exporter.
    pub exporter: Arc<dyn BatchExporter>,
    /// For `awsxray`: sends legacy documents as they came. `None`: the
    /// exporter takes legacy documents as translated spans.
    pub passthrough: Option<Arc<xray::SegmentPassthrough>>,
    /// Its `sending_queue`.
    pub queue: QueueSettings,
    /// Largest encoded span the destination takes (larger ones are
    /// dropped): receivers refuse them up front as a partial success.
    pub max_span_bytes: Option<usize>,
}

fn queue(q: Option<&config::SendingQueue>) -> QueueSettings {
    let d = QueueSettings::default();
    match q {
        None => d,
        Some(q) if q.enabled == Some(false) => QueueSettings {
            queue_size: 1,
            num_consumers: 1,
        },
        Some(q) => QueueSettings {
            queue_size: q.queue_size.map_or(d.queue_size, |n| n as usize),
            num_consumers: q.num_consumers.map_or(d.num_consumers, |n| n as usize),
        },
    }
}

/// The collector's `retry_on_failure` as the distro's retry policy
/// (collector defaults: 5 s first backoff, 30 s largest, give up after 300 s;
/// `max_elapsed_time: 0` retries without end, as the collector's
/// exporterhelper does — the queue then fills and callers are pushed back,
/// and the stop timeout still bounds the drain at shutdown).
pub fn retry_policy(r: Option<&config::RetryOnFailure>) -> RetryPolicy {
    let get = |d: Option<config::GoDuration>, default: u64| {
        d.map_or(Duration::from_secs(default), |g| g.0)
    };
    match r {
        Some(r) if r.enabled == Some(false) => RetryPolicy::none(),
        r => RetryPolicy {
            max_attempts: u32::MAX,
            initial_backoff: get(r.and_then(|r| r.initial_interval), 5),
            max_backoff: get(r.and_then(|r| r.max_interval), 30),
            max_elapsed: match get(r.and_then(|r| r.max_elapsed_time), 300) {
                Duration::ZERO => Duration::MAX,
                d => d,
            },
        },
    }
}

/// The SigV4 service of each signal's AWS OTLP endpoint.
pub fn signing_service(signal: Signal) -> &'static str {
    match signal {
        Signal::Traces => "xray",
        Signal::Metrics => "monitoring",
        Signal::Logs => "logs",
    }
}

/// Builds exporter `id` of `cfg` for a pipeline of `signal`.
pub async fn build(
    id: &str,
    cfg: &Config,
    creds: &CredentialsSource,
    signal: Signal,
) -> Result<BuiltExporter, ExporterError> {
    let config_err = |source| ExporterError::Config {
        id: id.to_owned(),
        source,
    };
    let Some(exp) = cfg.exporters.get(id) else {
        return Err(ExporterError::Unsupported {
            id: id.to_owned(),
            message: "not defined".into(),
        });
    };
    match exp {
        Exporter::OtlpHttp(o) => {
            let endpoint = o
                .url_for(signal)
                .ok_or_else(|| ExporterError::Unsupported {
                    id: id.to_owned(),
                    message: "no endpoint (refused when the config is checked)".into(),
                })?;
            let mut c = OtlpHttpConfig::new(endpoint);
            c.headers = o
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            c.compression = match o.compression {
                CompressionSetting::None => Compression::None,
                CompressionSetting::Gzip => Compression::Gzip,
            };
            if let Some(level) = o.compression_params.as_ref().and_then(|p| p.level) {
                c.gzip_level = level.0;
            }
            c.protocol = match o.encoding {
                Encoding::Json => Protocol::HttpJson,
                Encoding::Proto => Protocol::HttpProtobuf,
            };
            if let Some(t) = o.timeout {
                c.timeout = t.0;
            }
            c.retry = retry_policy(o.retry_on_failure.as_ref());
            c.signing = match o
                .auth
                .as_ref()
                .and_then(|a| cfg.extensions.get(&a.authenticator))
            {
                // Without a service: the signal's (xray, monitoring, logs).
                Some(Extension::SigV4Auth(s)) => Signing::Force {
                    service: s
                        .service
                        .clone()
                        .or_else(|| Some(signing_service(signal).to_owned())),
                    region: s.region.clone().or_else(|| creds.default_region()),
                },
                // No authenticator: the distro still signs the AWS OTLP endpoints it recognises.
                _ => Signing::Auto,
            };
            let max_span_bytes = Some(c.limits.max_span_bytes);
            // Credentials only when the typed signing setting signs this endpoint.
            let spec = ExporterSpec::OtlpHttp(c);
            let strategy = strategy_for(&spec, id, creds).await?;
            let exporter = build_exporter(&spec, &strategy, None)
                .await
                .map_err(config_err)?;
            Ok(BuiltExporter {
                exporter,
                passthrough: None,
                queue: queue(o.sending_queue.as_ref()),
                max_span_bytes,
            })
        }
        Exporter::AwsXray(x) => {
            let target = xray::XrayTarget::resolve(x, creds.env(), creds.default_region())
                .ok_or_else(|| ExporterError::NoRegion { id: id.to_owned() })?;
            let retry = retry_policy(x.retry_on_failure.as_ref());
            let spec = ExporterSpec::AwsXray(AwsXraySpec::new(
                xray::distro_config(x, retry),
                Some(target.region.clone()),
                target.endpoint.clone(),
            ));
            let strategy = strategy_for(&spec, id, creds).await?;
            let spans = build_exporter(&spec, &strategy, None)
                .await
                .map_err(config_err)?;
            let passthrough = xray::SegmentPassthrough::new(&spans).ok_or_else(|| {
                ExporterError::Unsupported {
                    id: id.to_owned(),
                    message: "the awsxray spec did not build an X-Ray API exporter".into(),
                }
            })?;
            tracing::info!(
                exporter = %id,
                region = %target.region,
                endpoint = ?target.endpoint.as_deref().map(RedactedUrl),
                "awsxray exporter: PutTraceSegments"
            );
            Ok(BuiltExporter {
                exporter: spans,
                passthrough: Some(Arc::new(passthrough)),
                queue: queue(x.sending_queue.as_ref()),
                max_span_bytes: None,
            })
        }
        Exporter::AwsEmf(e) => {
            let emf = awsemf::spec(id, e, creds.env(), creds.default_region())
                .ok_or_else(|| ExporterError::NoRegion { id: id.to_owned() })?;
            for field in e.ignored() {
                tracing::warn!(exporter = %id, field, "awsemf: field accepted but ignored by this build");
            }
            let spec = ExporterSpec::AwsEmf(emf.clone());
            let strategy = strategy_for(&spec, id, creds).await?;
            let exporter = build_exporter(&spec, &strategy, None)
                .await
                .map_err(config_err)?;
            if let EmfDestination::CloudWatch(cw) = &emf.output {
                tracing::info!(
                    exporter = %id,
                    region = ?cw.region,
                    endpoint = ?cw.endpoint.as_deref().map(RedactedUrl),
                    "awsemf exporter: PutLogEvents"
                );
            }
            Ok(BuiltExporter {
                exporter,
                passthrough: None,
                queue: queue(e.sending_queue.as_ref()),
                max_span_bytes: None,
            })
        }
        Exporter::Debug(d) => {
            let exporter: Arc<dyn BatchExporter> = match d.verbosity {
                Verbosity::Normal | Verbosity::Detailed => {
                    build_exporter(&ExporterSpec::Console, &CredentialStrategy::None, None)
                        .await
                        .map_err(config_err)?
                }
                Verbosity::Basic => Arc::new(CountingDebugExporter::new(id)),
            };
            Ok(BuiltExporter {
                exporter,
                passthrough: None,
                queue: QueueSettings::default(),
                max_span_bytes: None,
            })
        }
        Exporter::File(f) => {
            let spec = ExporterSpec::File(f.path.clone().unwrap_or_default().into());
            let exporter = build_exporter(&spec, &CredentialStrategy::None, None)
                .await
                .map_err(config_err)?;
            Ok(BuiltExporter {
                exporter,
                passthrough: None,
                queue: queue(f.sending_queue.as_ref()),
                max_span_bytes: None,
            })
        }
    }
}

/// The credentials `spec` needs, loaded from the sidecar's source only when
/// it needs any.
async fn strategy_for(
    spec: &ExporterSpec,
    id: &str,
    creds: &CredentialsSource,
) -> Result<CredentialStrategy, ExporterError> {
    if !spec.needs_credentials() {
        return Ok(CredentialStrategy::None);
    }
    let provider = creds
        .provider()
        .await
        .map_err(|source| ExporterError::Credentials {
            id: id.to_owned(),
            source,
        })?;
    Ok(CredentialStrategy::Given(provider))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::GoDuration;

    fn secs(s: u64) -> Option<GoDuration> {
        Some(GoDuration(Duration::from_secs(s)))
    }

    /// The collector's exporterhelper: defaults 5 s / 30 s / 300 s;
    /// `enabled: false` one attempt; `max_elapsed_time: 0` never stops.
    #[test]
    fn retry_on_failure_maps_as_the_collector_reads_it() {
        let d = retry_policy(None);
        assert_eq!(
            (d.initial_backoff, d.max_backoff, d.max_elapsed),
            (
                Duration::from_secs(5),
                Duration::from_secs(30),
                Duration::from_secs(300)
            )
        );
        let off = retry_policy(Some(&config::RetryOnFailure {
            enabled: Some(false),
            ..Default::default()
        }));
        assert_eq!(off.max_attempts, 1);
        let set = retry_policy(Some(&config::RetryOnFailure {
            enabled: Some(true),
            initial_interval: secs(1),
            max_interval: secs(2),
            max_elapsed_time: secs(60),
        }));
        assert_eq!(
            (set.initial_backoff, set.max_backoff, set.max_elapsed),
            (
                Duration::from_secs(1),
                Duration::from_secs(2),
                Duration::from_secs(60)
            )
        );
        let endless = retry_policy(Some(&config::RetryOnFailure {
            max_elapsed_time: secs(0),
            ..Default::default()
        }));
        assert_eq!(endless.max_elapsed, Duration::MAX);
        assert_eq!(endless.max_attempts, u32::MAX);
    }
}
