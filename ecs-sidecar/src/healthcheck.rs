//! The `healthcheck` subcommand (the image's `HEALTHCHECK`): GET the
//! health endpoint, succeed on 2xx. A scratch image has no curl/wget.

use std::time::Duration;

use crate::config::{Config, DEFAULT_HEALTH_ENDPOINT, Extension};

/// URL of the health endpoint described by `cfg` (the first
/// `health_check` extension enabled), else the default; an unspecified
/// listen address (`0.0.0.0`, `::`) is probed on loopback.
pub fn health_url(cfg: Option<&Config>) -> String {
    let found = cfg.and_then(|c| {
        c.service
            .extensions
            .iter()
            .find_map(|id| match c.extensions.get(id) {
                Some(Extension::HealthCheck(h)) => {
                    Some((h.listen(), h.path.clone().unwrap_or_else(|| "/".to_owned())))
                }
                _ => None,
            })
    });
    let (mut addr, path) = found.unwrap_or_else(|| (DEFAULT_HEALTH_ENDPOINT, "/".to_owned()));
    if addr.ip().is_unspecified() {
        addr.set_ip(if addr.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        });
    }
    format!("http://{addr}{path}")
}

/// GETs `url`; `Ok` with the status line on 2xx.
pub async fn probe(url: &str, timeout: Duration) -> Result<String, String> {
    let client = reqwest::Client::builder()
        .timeout(timeout)
        .no_proxy()
        .build()
        .map_err(|e| e.to_string())?;
    let resp = client
        .get(url)
        .send()
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    let status = resp.status();
    if status.is_success() {
        Ok(format!("{url}: {status}"))
    } else {
        Err(format!("{url}: {status}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use otel_aws_distro::Env;

    #[test]
    fn url_from_config() {
        assert_eq!(health_url(None), "http://127.0.0.1:13133/");
        let text = "
extensions:
  health_check:
    endpoint: 0.0.0.0:9999
    path: /health
receivers: {otlp: {protocols: {http: }}}
exporters: {debug: }
service:
  extensions: [health_check]
  pipelines: {traces: {receivers: [otlp], exporters: [debug]}}
";
        let cfg = Config::parse(text, "t", &Env::default()).unwrap();
        assert_eq!(health_url(Some(&cfg)), "http://127.0.0.1:9999/health");
    }
}
