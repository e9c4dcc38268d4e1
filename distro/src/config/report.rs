//! A flat view of the effective configuration for `otel-aws config`.

use super::{Config, SigV4Setting, Source, Sourced};

/// One line of the effective configuration.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ConfigEntry {
    /// Setting name (the variable that sets it).
    pub setting: &'static str,
    /// Value in effect, as text. Header values are redacted.
    pub value: String,
    /// Where the value came from (`env VAR`, `code`, `default`).
    pub source: String,
}

fn entry<T>(setting: &'static str, s: &Sourced<T>, show: impl Fn(&T) -> String) -> ConfigEntry {
    ConfigEntry {
        setting,
        value: show(&s.value),
        source: s.source.to_string(),
    }
}

fn millis(d: &std::time::Duration) -> String {
    format!("{}ms", d.as_millis())
}

impl Config {
    /// The effective configuration, one entry per setting, in documentation order.
    pub fn entries(&self) -> Vec<ConfigEntry> {
        use super::vars::*;
        let mut out = vec![
            entry(OTEL_SDK_DISABLED, &self.disabled, |v| v.to_string()),
            ConfigEntry {
                setting: "service.name",
                value: self
                    .service_name
                    .clone()
                    .unwrap_or_else(|| "(resolved at init from the resource precedence)".into()),
                source: if self.service_name.is_some() {
                    Source::Code.to_string()
                } else {
                    "see otel-aws detect".into()
                },
            },
            entry(OTEL_RESOURCE_ATTRIBUTES, &self.resource_attributes, |v| {
                v.iter()
                    .map(|kv| format!("{}={}", kv.key, kv.value))
                    .collect::<Vec<_>>()
                    .join(",")
            }),
            entry(
                crate::propagation::OTEL_PROPAGATORS,
                &self.propagators,
                |v| {
                    v.iter()
                        .map(|p| format!("{p:?}").to_ascii_lowercase())
                        .collect::<Vec<_>>()
                        .join(",")
                },
            ),
            entry(crate::sampling::OTEL_TRACES_SAMPLER, &self.sampler, |v| {
                let rejected = match v {
                    crate::sampling::SamplerConfig::Xray(x) => x.adaptive.rejection(),
                    _ => None,
                };
                match rejected {
                    Some(err) => format!("{v:?}; {err}"),
                    None => format!("{v:?}"),
                }
            }),
            entry(OTEL_TRACES_EXPORTER, &self.exporters, |v| {
                if v.is_empty() {
                    "none".to_string()
                } else {
                    v.iter().map(|e| e.as_str()).collect::<Vec<_>>().join(",")
                }
            }),
            entry(OTEL_AWS_TRACES_FILE, &self.traces_file, |v| {
                v.display().to_string()
            }),
            entry(
                OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
                &self.otlp.endpoint,
                |v| super::redact::url(v).into_owned(),
            ),
            entry(OTEL_EXPORTER_OTLP_TRACES_HEADERS, &self.otlp.headers, |v| {
                v.iter()
                    .map(|(k, _)| format!("{k}=<redacted>"))
                    .collect::<Vec<_>>()
                    .join(",")
            }),
            entry(
                OTEL_EXPORTER_OTLP_TRACES_TIMEOUT,
                &self.otlp.timeout,
                millis,
            ),
            entry(
                OTEL_EXPORTER_OTLP_TRACES_COMPRESSION,
                &self.otlp.gzip,
                |g| if *g { "gzip" } else { "none" }.to_string(),
            ),
            entry(
                OTEL_AWS_EXPORTER_OTLP_COMPRESSION_LEVEL,
                &self.otlp.gzip_level,
                ToString::to_string,
            ),
            entry(OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, &self.otlp.json, |j| {
                if *j { "http/json" } else { "http/protobuf" }.to_string()
            }),
            entry(OTEL_AWS_SIGV4, &self.otlp.sigv4, |s| match s {
                SigV4Setting::Auto => "auto (AWS OTLP endpoints only)".to_string(),
                SigV4Setting::Force { service, region } => {
                    format!("always (service {service}, region {region})")
                }
                SigV4Setting::Off => "off".to_string(),
            }),
            entry(AWS_REGION, &self.region, |r| {
                r.clone().unwrap_or_else(|| "(none)".into())
            }),
            entry(OTEL_BSP_SCHEDULE_DELAY, &self.batch.schedule_delay, millis),
            entry(OTEL_BSP_EXPORT_TIMEOUT, &self.batch.export_timeout, millis),
            entry(
                OTEL_BSP_MAX_QUEUE_SIZE,
                &self.batch.max_queue_size,
                u32::to_string,
            ),
            entry(
                OTEL_BSP_MAX_EXPORT_BATCH_SIZE,
                &self.batch.max_export_batch_size,
                u32::to_string,
            ),
            entry(
                OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT,
                &self.limits.attributes_per_span,
                u32::to_string,
            ),
            entry(
                OTEL_SPAN_EVENT_COUNT_LIMIT,
                &self.limits.events_per_span,
                u32::to_string,
            ),
            entry(
                OTEL_SPAN_LINK_COUNT_LIMIT,
                &self.limits.links_per_span,
                u32::to_string,
            ),
            entry(
                OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT,
                &self.limits.attributes_per_event,
                u32::to_string,
            ),
            entry(
                OTEL_LINK_ATTRIBUTE_COUNT_LIMIT,
                &self.limits.attributes_per_link,
                u32::to_string,
            ),
            entry(AWS_XRAY_DAEMON_ADDRESS, &self.daemon, ToString::to_string),
            entry(AWS_XRAY_CONTEXT_MISSING, &self.context_missing, |c| {
                c.as_str().to_string()
            }),
            entry(OTEL_AWS_LOG_FORMAT, &self.log_format, |f| {
                format!("{f:?}").to_ascii_lowercase()
            }),
        ];
        out.push(ConfigEntry {
            setting: crate::resource::OTEL_AWS_RESOURCE_DETECTORS,
            value: format!("{:?}", self.detect.detectors).to_ascii_lowercase(),
            source: "env or default".to_string(),
        });
        out.push(ConfigEntry {
            setting: crate::resource::OTEL_AWS_RESOURCE_DETECTION_TIMEOUT,
            value: millis(&self.detect.timeout),
            source: "env or default".to_string(),
        });
        out
    }
}
