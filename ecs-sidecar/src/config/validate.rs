//! Checks that go beyond field names and types: values (endpoints, enums,
//! limits) and references between components.

use super::error::{ConfigError, list};
use super::values::parse_listen;
use super::{Config, Exporter, Extension, Processor, Receiver, component_type};

/// Resource detectors the `resourcedetection` processor accepts.
pub const DETECTORS: [&str; 3] = ["env", "ecs", "ec2"];

fn one_of(path: &str, value: &str, accepted: &[&str]) -> Result<(), ConfigError> {
    if accepted.contains(&value) {
        Ok(())
    } else {
        Err(ConfigError::field(
            path,
            format!("`{value}` is not accepted; accepted: {}", list(accepted)),
        ))
    }
}

fn listen(path: &str, value: Option<&str>) -> Result<(), ConfigError> {
    match value {
        Some(v) => parse_listen(v)
            .map(|_| ())
            .map_err(|m| ConfigError::field(path, m)),
        None => Ok(()),
    }
}

fn url(path: &str, value: &str) -> Result<(), ConfigError> {
    let ok = (value.starts_with("http://") || value.starts_with("https://"))
        && value
            .split("://")
            .nth(1)
            .is_some_and(|rest| !rest.is_empty());
    if ok {
        Ok(())
    } else {
        Err(ConfigError::field(
            path,
            format!(
                "{value:?} is not an http(s) URL; accepted: e.g. https://xray.us-east-1.amazonaws.com"
            ),
        ))
    }
}

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
                if let Some(g) = &o.protocols.grpc {
                    listen(
                        &format!("{p}.protocols.grpc.endpoint"),
                        g.endpoint.as_deref(),
                    )?;
                }
                if let Some(h) = &o.protocols.http {
                    listen(
                        &format!("{p}.protocols.http.endpoint"),
                        h.endpoint.as_deref(),
                    )?;
                }
            }
            Receiver::AwsXray(x) => {
                listen(&format!("{p}.endpoint"), x.endpoint.as_deref())?;
                if let Some(t) = &x.transport {
                    one_of(&format!("{p}.transport"), t, &["udp"])?;
                }
                if let Some(proxy) = &x.proxy_server {
                    if let Some(e) = proxy.endpoint.as_deref().filter(|e| !e.is_empty()) {
                        listen(&format!("{p}.proxy_server.endpoint"), Some(e))?;
                    }
                    if let Some(u) = &proxy.aws_endpoint {
                        url(&format!("{p}.proxy_server.aws_endpoint"), u)?;
                    }
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
                        format!("no detector listed; accepted: {}", list(DETECTORS)),
                    ));
                }
                for (i, d) in r.detectors.iter().enumerate() {
                    one_of(&format!("{p}.detectors[{i}]"), d, &DETECTORS)?;
                }
            }
        }
    }
    for (id, e) in &cfg.exporters {
        let p = format!("exporters.{id}");
        match e {
            Exporter::OtlpHttp(o) => {
                match (&o.traces_endpoint, &o.endpoint) {
                    (Some(u), _) => url(&format!("{p}.traces_endpoint"), u)?,
                    (None, Some(u)) => url(&format!("{p}.endpoint"), u)?,
                    (None, None) => {
                        return Err(ConfigError::field(
                            format!("{p}.endpoint"),
                            "required: endpoint (base URL, /v1/traces is appended) or traces_endpoint (full URL)",
                        ));
                    }
                }
                if let Some(c) = &o.compression {
                    one_of(&format!("{p}.compression"), c, &["gzip", "none", ""])?;
                }
                if let Some(enc) = &o.encoding {
                    one_of(&format!("{p}.encoding"), enc, &["proto", "json"])?;
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
                if let Some(u) = x.endpoint.as_deref().filter(|u| !u.is_empty()) {
                    url(&format!("{p}.endpoint"), u)?;
                }
                for (i, key) in x.indexed_attributes.iter().enumerate() {
                    if key.trim().is_empty() {
                        return Err(ConfigError::field(
                            format!("{p}.indexed_attributes[{i}]"),
                            "empty attribute key; accepted: attribute keys such as http.route",
                        ));
                    }
                }
            }
            Exporter::Debug(d) => {
                if let Some(v) = &d.verbosity {
                    one_of(
                        &format!("{p}.verbosity"),
                        v,
                        &["basic", "normal", "detailed"],
                    )?;
                }
            }
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
        if let Extension::HealthCheck(h) = ext {
            listen(&format!("{p}.endpoint"), h.endpoint.as_deref())?;
            if let Some(path) = &h.path {
                crate::extension::health::check_path(path)
                    .map_err(|m| ConfigError::field(format!("{p}.path"), m))?;
            }
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
    if let Some(level) = &cfg.service.telemetry.logs.level {
        one_of(
            "service.telemetry.logs.level",
            &level.to_ascii_lowercase(),
            &["debug", "info", "warn", "error"],
        )?;
    }
    if cfg.service.pipelines.is_empty() {
        return Err(ConfigError::field(
            "service.pipelines",
            "no pipeline; add service.pipelines.traces with receivers and exporters",
        ));
    }
    let mut receiver_owner: std::collections::BTreeMap<&str, &str> = Default::default();
    for (name, pipe) in &cfg.service.pipelines {
        let p = format!("service.pipelines.{name}");
        match component_type(name) {
            "traces" if name.split_once('/').is_none_or(|(_, n)| !n.is_empty()) => {}
            "metrics" | "logs" => {
                return Err(ConfigError::Unsupported {
                    path: p,
                    message: "only traces pipelines are supported by this sidecar; accepted: traces, traces/<name>".into(),
                });
            }
            _ => {
                return Err(ConfigError::Unknown {
                    path: p,
                    what: "pipeline",
                    name: name.clone(),
                    accepted: "traces, traces/<name>".into(),
                });
            }
        }
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
            if let Some(other) = receiver_owner.insert(r.as_str(), name.as_str()) {
                return Err(ConfigError::Unsupported {
                    path,
                    message: format!(
                        "receiver `{r}` is already used by pipeline `{other}`; this sidecar feeds each receiver into one pipeline (define a second receiver on another port)"
                    ),
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
            if seen.contains(&ty) {
                return Err(ConfigError::Unsupported {
                    path,
                    message: format!("a second `{ty}` processor in one pipeline is not supported"),
                });
            }
            seen.push(ty);
        }
        for (i, e) in pipe.exporters.iter().enumerate() {
            if !cfg.exporters.contains_key(e) {
                return Err(ConfigError::Missing {
                    path: format!("{p}.exporters[{i}]"),
                    name: e.clone(),
                    section: "exporters",
                    defined: list(cfg.exporters.keys()),
                });
            }
        }
    }
    Ok(())
}
