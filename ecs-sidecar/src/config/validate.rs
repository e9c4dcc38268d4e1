//! Checks that go beyond one field's type (values were parsed into types
//! when the YAML was read, see `values`): combinations of fields, limits and
//! references between components.

use super::error::{ConfigError, list};
use super::values::CompressionSetting;
use super::{Config, Exporter, Extension, Processor, Receiver, component_type};
use otel_aws_distro::receiver::Signal;

/// Runs every check; the first failure is returned.
pub fn check(cfg: &Config) -> Result<(), ConfigError> {
    for (id, r) in &cfg.receivers {
        let p = format!("receivers.{id}");
        match r {
            Receiver::Otlp(o) => {
                if o.protocols.grpc.is_none() && o.protocols.http.is_none() {
                    return Err(ConfigError::field(
                        format!("{p}.protocols"),
                        "no protocol enabled; accepted: grpc, http (e.g. `grpc:` and `http:` under protocols)",
                    ));
                }
            }
            Receiver::AwsXray(_) => {}
            Receiver::AwsEcsContainerMetrics(r) => {
                if r.collection_interval.is_some_and(|d| d.0.is_zero()) {
                    return Err(ConfigError::field(
                        format!("{p}.collection_interval"),
                        "must be longer than 0, e.g. 20s",
                    ));
                }
            }
        }
    }
    for (id, proc_) in &cfg.processors {
        let p = format!("processors.{id}");
        match proc_ {
            Processor::Batch(b) => {
                if let (Some(size), Some(max)) = (b.send_batch_size, b.send_batch_max_size)
                    && max > 0
                    && max < size
                {
                    return Err(ConfigError::field(
                        format!("{p}.send_batch_max_size"),
                        format!(
                            "{max} is below send_batch_size {size}; accepted: 0 (no limit) or at least send_batch_size"
                        ),
                    ));
                }
            }
            Processor::MemoryLimiter(m) => {
                if m.check_interval.is_some_and(|d| d.0.is_zero()) {
                    return Err(ConfigError::field(
                        format!("{p}.check_interval"),
                        "must be a positive duration (e.g. 1s)",
                    ));
                }
                let limit = match m.limit_mib {
                    Some(l) if l > 0 => l,
                    _ => {
                        return Err(ConfigError::field(
                            format!("{p}.limit_mib"),
                            "required: the memory limit in MiB, e.g. limit_mib: 100",
                        ));
                    }
                };
                if let Some(spike) = m.spike_limit_mib
                    && spike >= limit
                {
                    return Err(ConfigError::field(
                        format!("{p}.spike_limit_mib"),
                        format!("{spike} must be below limit_mib {limit}"),
                    ));
                }
            }
            Processor::ResourceDetection(r) => {
                if r.detectors.is_empty() {
                    return Err(ConfigError::field(
                        format!("{p}.detectors"),
                        "no detector listed; accepted: env, ecs, ec2",
                    ));
                }
            }
            Processor::AwsApplicationSignals(a) => {
                if a.max_series == Some(0) {
                    return Err(ConfigError::field(
                        format!("{p}.max_series"),
                        "must be at least 1",
                    ));
                }
                if a.metrics_flush_interval.is_some_and(|d| d.0.is_zero()) {
                    return Err(ConfigError::field(
                        format!("{p}.metrics_flush_interval"),
                        "must be a positive duration (e.g. 60s)",
                    ));
                }
            }
        }
    }
    for (id, e) in &cfg.exporters {
        let p = format!("exporters.{id}");
        let queue = match e {
            Exporter::OtlpHttp(o) => o.sending_queue.as_ref(),
            Exporter::AwsXray(x) => x.sending_queue.as_ref(),
            Exporter::AwsEmf(m) => m.sending_queue.as_ref(),
            Exporter::File(f) => f.sending_queue.as_ref(),
            Exporter::Debug(_) => None,
        };
        // The collector's exporterhelper refuses both (0 would be a queue
        // that holds nothing, or nobody to send).
        for (field, value) in queue.into_iter().flat_map(|q| {
            [
                ("queue_size", q.queue_size),
                ("num_consumers", q.num_consumers),
            ]
        }) {
            if value == Some(0) {
                return Err(ConfigError::field(
                    format!("{p}.sending_queue.{field}"),
                    "must be at least 1",
                ));
            }
        }
        match e {
            Exporter::OtlpHttp(o) => {
                if Signal::ALL.iter().all(|s| o.url_for(*s).is_none()) {
                    return Err(ConfigError::field(
                        format!("{p}.endpoint"),
                        "required: endpoint (base URL, /v1/<signal> is appended) or traces_endpoint, metrics_endpoint, logs_endpoint (full URLs)",
                    ));
                }
                // Each signal it is used for needs a URL.
                for (name, pipe) in &cfg.service.pipelines {
                    let Some(signal) = super::pipeline_signal(name) else {
                        continue;
                    };
                    if pipe.exporters.contains(id) && o.url_for(signal).is_none() {
                        return Err(ConfigError::field(
                            format!("{p}.endpoint"),
                            format!(
                                "required for pipeline {name}: endpoint (base URL, /v1/{signal} is appended) or {signal}_endpoint (full URL)"
                            ),
                        ));
                    }
                }
                if o.compression == CompressionSetting::None
                    && o.compression_params
                        .as_ref()
                        .is_some_and(|c| c.level.is_some())
                {
                    return Err(ConfigError::field(
                        format!("{p}.compression_params.level"),
                        "a gzip level is set but compression is none; accepted: compression: gzip with a level, or no level",
                    ));
                }
                if let Some(auth) = &o.auth {
                    check_authenticator(
                        cfg,
                        &format!("{p}.auth.authenticator"),
                        &auth.authenticator,
                    )?;
                }
            }
            Exporter::AwsXray(x) => {
                for (i, key) in x.indexed_attributes.iter().enumerate() {
                    if key.trim().is_empty() {
                        return Err(ConfigError::field(
                            format!("{p}.indexed_attributes[{i}]"),
                            "empty attribute key; accepted: attribute keys such as http.route",
                        ));
                    }
                }
            }
            Exporter::AwsEmf(emf) => emf.check(&p)?,
            Exporter::Debug(_) => {}
            Exporter::File(f) => {
                if f.path.as_deref().is_none_or(str::is_empty) {
                    return Err(ConfigError::field(
                        format!("{p}.path"),
                        "required: the output file, e.g. path: /tmp/traces.jsonl",
                    ));
                }
            }
        }
    }
    for (id, ext) in &cfg.extensions {
        let p = format!("extensions.{id}");
        if let Extension::HealthCheck(h) = ext
            && let Some(path) = &h.path
        {
            crate::extension::health::check_path(path)
                .map_err(|m| ConfigError::field(format!("{p}.path"), m))?;
        }
    }
    check_service(cfg)
}

fn check_authenticator(cfg: &Config, path: &str, id: &str) -> Result<(), ConfigError> {
    match cfg.extensions.get(id) {
        Some(Extension::SigV4Auth(_)) => {}
        Some(_) => {
            return Err(ConfigError::field(
                path,
                format!("`{id}` is not an authenticator; accepted: a sigv4auth extension"),
            ));
        }
        None => {
            return Err(ConfigError::Missing {
                path: path.to_owned(),
                name: id.to_owned(),
                section: "extensions",
                defined: list(cfg.extensions.keys()),
            });
        }
    }
    if !cfg.service.extensions.iter().any(|e| e == id) {
        return Err(ConfigError::field(
            path,
            format!("extension `{id}` is defined but not enabled: add it to service.extensions"),
        ));
    }
    Ok(())
}

fn check_service(cfg: &Config) -> Result<(), ConfigError> {
    for (i, id) in cfg.service.extensions.iter().enumerate() {
        if !cfg.extensions.contains_key(id) {
            return Err(ConfigError::Missing {
                path: format!("service.extensions[{i}]"),
                name: id.clone(),
                section: "extensions",
                defined: list(cfg.extensions.keys()),
            });
        }
    }
    if cfg.service.pipelines.is_empty() {
        return Err(ConfigError::field(
            "service.pipelines",
            "no pipeline; add service.pipelines.traces (or metrics, logs) with receivers and exporters",
        ));
    }
    let mut receiver_owner: std::collections::BTreeMap<(&str, Signal), &str> = Default::default();
    for (name, pipe) in &cfg.service.pipelines {
        let p = format!("service.pipelines.{name}");
        let Some(signal) = super::pipeline_signal(name) else {
            return Err(ConfigError::Unknown {
                path: p,
                what: "pipeline",
                name: name.clone(),
                accepted: "traces, metrics, logs, <signal>/<name>".into(),
            });
        };
        if pipe.receivers.is_empty() {
            return Err(ConfigError::field(
                format!("{p}.receivers"),
                "at least one receiver is required",
            ));
        }
        if pipe.exporters.is_empty() {
            return Err(ConfigError::field(
                format!("{p}.exporters"),
                "at least one exporter is required",
            ));
        }
        for (i, r) in pipe.receivers.iter().enumerate() {
            let path = format!("{p}.receivers[{i}]");
            if !cfg.receivers.contains_key(r) {
                return Err(ConfigError::Missing {
                    path,
                    name: r.clone(),
                    section: "receivers",
                    defined: list(cfg.receivers.keys()),
                });
            }
            if let Some(other) = receiver_owner.insert((r.as_str(), signal), name.as_str()) {
                return Err(ConfigError::Unsupported {
                    path,
                    message: format!(
                        "receiver `{r}` is already used by pipeline `{other}`; this sidecar feeds each receiver into one pipeline per signal (define a second receiver on another port)"
                    ),
                });
            }
            let only = match cfg.receivers.get(r) {
                Some(Receiver::AwsXray(_)) => Some(Signal::Traces),
                Some(Receiver::AwsEcsContainerMetrics(_)) => Some(Signal::Metrics),
                Some(Receiver::Otlp(_)) | None => None,
            };
            if let Some(only) = only
                && only != signal
            {
                return Err(ConfigError::Unsupported {
                    path,
                    message: format!("receiver `{r}` only receives {only}"),
                });
            }
        }
        let mut seen = Vec::new();
        for (i, pr) in pipe.processors.iter().enumerate() {
            let path = format!("{p}.processors[{i}]");
            if !cfg.processors.contains_key(pr) {
                return Err(ConfigError::Missing {
                    path,
                    name: pr.clone(),
                    section: "processors",
                    defined: list(cfg.processors.keys()),
                });
            }
            let ty = component_type(pr);
            if matches!(
                cfg.processors.get(pr),
                Some(Processor::AwsApplicationSignals(_))
            ) && signal == Signal::Logs
            {
                return Err(ConfigError::Unsupported {
                    path,
                    message: format!("processor `{pr}` works in traces and metrics pipelines only"),
                });
            }
            if seen.contains(&ty) {
                return Err(ConfigError::Unsupported {
                    path,
                    message: format!("a second `{ty}` processor in one pipeline is not supported"),
                });
            }
            seen.push(ty);
        }
        for (i, e) in pipe.exporters.iter().enumerate() {
            let Some(exporter) = cfg.exporters.get(e) else {
                return Err(ConfigError::Missing {
                    path: format!("{p}.exporters[{i}]"),
                    name: e.clone(),
                    section: "exporters",
                    defined: list(cfg.exporters.keys()),
                });
            };
            if matches!(exporter, Exporter::AwsXray(_)) && signal != Signal::Traces {
                return Err(ConfigError::Unsupported {
                    path: format!("{p}.exporters[{i}]"),
                    message: format!("exporter `{e}` only exports traces"),
                });
            }
            if matches!(exporter, Exporter::AwsEmf(_)) && signal != Signal::Metrics {
                return Err(ConfigError::Unsupported {
                    path: format!("{p}.exporters[{i}]"),
                    message: format!("exporter `{e}` only exports metrics"),
                });
            }
        }
    }
    Ok(())
}
