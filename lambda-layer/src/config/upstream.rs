//! The extension's upstream traces URL: which variable names it, and which
//! values are the extension's own receivers (meant for the function's SDK).

use std::net::SocketAddr;

use otel_aws_distro::Env;
use otel_aws_distro::config::{Source, Sourced};

use super::{LambdaConfigError, OTEL_AWS_LAMBDA_EXPORTER_ENDPOINT, grpc_addr, http_addr};

/// The extension's upstream and why it was chosen (logged once at init).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Upstream {
    /// The traces URL.
    pub url: String,
    /// The variable it came from (`None`: the X-Ray default).
    pub var: Option<&'static str>,
    /// Why, in words (what was skipped and why).
    pub why: String,
}

/// Resolves the extension's upstream traces URL.
///
/// 1. `OTEL_AWS_LAMBDA_EXPORTER_ENDPOINT` (path-less URLs get `/v1/traces`);
/// 2. `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, then `OTEL_EXPORTER_OTLP_ENDPOINT`
///    (+`/v1/traces`), each unless it names **the extension's own
///    receivers** (`OTEL_AWS_LAMBDA_HTTP_ADDR` / `_GRPC_ADDR`, on loopback
///    or their own IP) — that value is meant for the function's SDK, and
///    exporting to it would loop. Any other address, loopback included (a
///    second local collector, a proxy extension, a test sink), is used;
/// 3. `https://xray.$AWS_REGION.amazonaws.com/v1/traces` (SigV4-signed).
pub fn choose_upstream(env: &Env) -> Result<Upstream, LambdaConfigError> {
    use otel_aws_distro::config::vars::{
        AWS_REGION, OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
    };
    let invalid = |var: &'static str| LambdaConfigError::Invalid {
        var,
        accepted: "an absolute http(s) URL",
    };
    if let Some(v) = env.get(OTEL_AWS_LAMBDA_EXPORTER_ENDPOINT) {
        let url =
            with_path(v, "/v1/traces").ok_or_else(|| invalid(OTEL_AWS_LAMBDA_EXPORTER_ENDPOINT))?;
        return Ok(Upstream {
            url,
            var: Some(OTEL_AWS_LAMBDA_EXPORTER_ENDPOINT),
            why: format!("{OTEL_AWS_LAMBDA_EXPORTER_ENDPOINT} is set (it wins)"),
        });
    }
    let own = [http_addr(env)?, grpc_addr(env)?];
    let mut skipped = Vec::new();
    let candidates = [
        (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, false),
        (OTEL_EXPORTER_OTLP_ENDPOINT, true),
    ];
    for (var, append) in candidates {
        let Some(v) = env.get(var) else { continue };
        if is_own_receiver(v, &own) {
            skipped.push(format!(
                "{var}={} names the extension's own receiver (meant for the function's SDK)",
                otel_aws_distro::config::redact::RedactedUrl(v)
            ));
            continue;
        }
        let url = if append {
            format!("{}/v1/traces", v.trim_end_matches('/'))
        } else {
            v.to_string()
        };
        let mut why = format!("{var} is set");
        if !skipped.is_empty() {
            why = format!("{why}; skipped: {}", skipped.join("; "));
        }
        return Ok(Upstream {
            url,
            var: Some(var),
            why,
        });
    }
    let region = env.get(AWS_REGION).ok_or(LambdaConfigError::NoEndpoint)?;
    let mut why = format!(
        "no upstream variable names another endpoint: the X-Ray OTLP endpoint of {AWS_REGION}"
    );
    if !skipped.is_empty() {
        why = format!("{why}; skipped: {}", skipped.join("; "));
    }
    Ok(Upstream {
        url: format!("https://xray.{region}.amazonaws.com/v1/traces"),
        var: None,
        why,
    })
}

/// [`choose_upstream`] as the distro's sourced value.
pub fn resolve_endpoint(env: &Env) -> Result<Sourced<String>, LambdaConfigError> {
    let up = choose_upstream(env)?;
    Ok(match up.var {
        Some(var) => sourced(up.url, var),
        None => Sourced::default_value(up.url),
    })
}

/// True when `url` names one of `own` (the extension's receivers): same
/// port, and a loopback or unspecified host, `localhost`, or the receiver's own IP.
pub fn is_own_receiver(url: &str, own: &[SocketAddr]) -> bool {
    let (scheme, rest) = url.split_once("://").unwrap_or(("http", url));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => {
            let (h, rest) = v6.split_once(']').unwrap_or((v6, ""));
            (h, rest.strip_prefix(':'))
        }
        None => match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        },
    };
    let default_port = if scheme.eq_ignore_ascii_case("https") {
        443
    } else {
        80
    };
    let Some(port) = port.map_or(Some(default_port), |p| p.parse::<u16>().ok()) else {
        return false;
    };
    let host = host.to_ascii_lowercase();
    let ip = host.parse::<std::net::IpAddr>().ok();
    let loopbackish = host == "localhost"
        || host.ends_with(".localhost")
        || ip.is_some_and(|ip| ip.is_loopback() || ip.is_unspecified());
    own.iter().any(|a| {
        a.port() == port
            && (ip == Some(a.ip())
                || (loopbackish && (a.ip().is_loopback() || a.ip().is_unspecified())))
    })
}

pub(super) fn sourced(value: String, var: &'static str) -> Sourced<String> {
    Sourced {
        value,
        source: Source::Env(var),
    }
}

/// True when `url`'s host is `localhost`, a loopback IP, or unparseable as
/// anything else (a relative value cannot be an upstream either).
pub fn is_loopback_url(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    };
    let host = host.to_ascii_lowercase();
    host == "localhost"
        || host.ends_with(".localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback() || ip.is_unspecified())
}

/// `v` as an upstream URL: an http(s) URL without a path (or with `/`
/// only) gets `path` (`/v1/traces`, `/v1/metrics`, ...); one with a path
/// is used as it is. `None` when `v` is not an http(s) URL.
pub(crate) fn with_path(v: &str, path: &str) -> Option<String> {
    let (scheme, rest) = v.split_once("://")?;
    if !(scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https"))
        || rest.is_empty()
    {
        return None;
    }
    match rest.find('/') {
        None => Some(format!("{v}{path}")),
        Some(i) if &rest[i..] == "/" => Some(format!("{}{path}", v.trim_end_matches('/'))),
        Some(_) => Some(v.to_string()),
    }
}
