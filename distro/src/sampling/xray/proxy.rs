//! The X-Ray daemon's sampling proxy (the sidecar's `awsxray` receiver, TCP
//! side, and the Lambda extension's localhost proxy). The two calls of
//! the daemon protocol the SDKs make — `POST /GetSamplingRules` and
//! `POST /SamplingTargets` (the same two paths since adaptive sampling) —
//! are signed with SigV4 for service `xray` (the task role) and forwarded
//! to `https://xray.<region>.amazonaws.com` (or `proxy_server.aws_endpoint`,
//! or `AWS_ENDPOINT_URL_XRAY`); the answer is returned as it came. Any other
//! path is refused with 404 and any other method with 405, without
//! forwarding: the proxy must not let a container call the rest of the
//! X-Ray API (`DeleteSamplingRule`, ...) with the task role. Each upstream
//! call is bounded by [`UPSTREAM_TIMEOUT`] (504 after it).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::config::redact::RedactedUrl;
use crate::export::{CachedCredentials, SigningTarget, sign_request};
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_smithy_async::time::{SharedTimeSource, SystemTimeSource};
use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Upstream override variable (the AWS SDKs' service-specific endpoint variable).
pub use crate::export::AWS_ENDPOINT_URL_XRAY;
/// Largest request body forwarded.
pub const MAX_BODY: usize = 1024 * 1024;
/// The paths forwarded (method POST): the sampling calls of the daemon protocol.
pub const FORWARDED_PATHS: [&str; 2] = ["/GetSamplingRules", "/SamplingTargets"];
/// Longest wait for X-Ray's answer (the SDKs' own sampling poll times out after a few seconds).
pub const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(5);

/// Where and how requests are forwarded.
#[derive(Clone, Debug)]
pub struct ProxySettings {
    /// Upstream base URL without a trailing slash.
    pub upstream: String,
    /// Signing region.
    pub region: String,
    /// Longest wait for the upstream's answer (connect included).
    pub timeout: Duration,
}

impl ProxySettings {
    /// Upstream from `aws_endpoint`, else `AWS_ENDPOINT_URL_XRAY`, else the regional X-Ray endpoint.
    pub fn resolve(aws_endpoint: Option<&str>, env_override: Option<&str>, region: &str) -> Self {
        let upstream = aws_endpoint
            .or(env_override)
            .map(|u| u.trim_end_matches('/').to_owned())
            .unwrap_or_else(|| format!("https://xray.{region}.amazonaws.com"));
        Self {
            upstream,
            region: region.to_owned(),
            timeout: UPSTREAM_TIMEOUT,
        }
    }
}

struct Shared {
    settings: ProxySettings,
    creds: CachedCredentials,
    client: reqwest::Client,
}

/// A running proxy.
#[derive(Debug)]
pub struct XrayProxy {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl XrayProxy {
    /// Binds `addr` and forwards until `stop` becomes true.
    pub async fn start(
        addr: SocketAddr,
        settings: ProxySettings,
        provider: SharedCredentialsProvider,
        mut stop: watch::Receiver<bool>,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            .build()
            .map_err(std::io::Error::other)?;
        let shared = Arc::new(Shared {
            settings,
            creds: CachedCredentials::new(provider, SharedTimeSource::new(SystemTimeSource::new())),
            client,
        });
        let app = Router::new().fallback(forward).with_state(shared);
        // Stalled and half-open connections are closed, so they cannot use up descriptors.
        let listener = crate::receiver::IdleListener::new(
            listener,
            Some(crate::receiver::DEFAULT_IDLE_TIMEOUT),
        );
        let task = tokio::spawn(async move {
            let shutdown = async move {
                let _ = stop.wait_for(|s| *s).await;
            };
            if let Err(e) = axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await
            {
                tracing::error!(error = %e, "X-Ray proxy failed");
            }
        });
        Ok(Self { addr, task })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Waits until the server stopped.
    pub async fn wait(self) {
        let _ = self.task.await;
    }
}

fn error(status: StatusCode, message: String) -> Response {
    tracing::warn!(%status, %message, "X-Ray proxy");
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::json!({ "message": message }).to_string(),
    )
        .into_response()
}

/// Refuses what is not a sampling call, before reading the body.
fn refuse(method: &axum::http::Method, path: &str) -> Option<Response> {
    if !FORWARDED_PATHS.contains(&path) {
        return Some(error(
            StatusCode::NOT_FOUND,
            format!(
                "{path} is not forwarded: the proxy only forwards POST {}",
                FORWARDED_PATHS.join(", POST ")
            ),
        ));
    }
    if method != axum::http::Method::POST {
        let mut resp = error(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("{method} {path} is not forwarded: use POST"),
        );
        resp.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return Some(resp);
    }
    None
}

async fn forward(State(s): State<Arc<Shared>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_owned();
    if let Some(refused) = refuse(&parts.method, &path) {
        return refused;
    }
    let body = match to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(e) => return error(StatusCode::PAYLOAD_TOO_LARGE, format!("request body: {e}")),
    };
    let url = format!("{}{path}", s.settings.upstream);
    let Ok(parsed) = reqwest::Url::parse(&url) else {
        return error(
            StatusCode::BAD_GATEWAY,
            format!("bad upstream URL {}", RedactedUrl(&url)),
        );
    };
    let host = match (parsed.host_str(), parsed.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_owned(),
        (None, _) => {
            return error(
                StatusCode::BAD_GATEWAY,
                format!("no host in {}", RedactedUrl(&url)),
            );
        }
    };
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .to_owned();
    let creds = match s.creds.get().await {
        Ok(c) => c,
        Err(e) => return error(StatusCode::BAD_GATEWAY, e.to_string()),
    };
    let method = parts.method.as_str();
    let headers = [
        ("host", host.as_str()),
        ("content-type", content_type.as_str()),
    ];
    let target = SigningTarget {
        service: "xray".to_owned(),
        region: s.settings.region.clone(),
    };
    let now = SystemTime::now();
    let signed = match sign_request(&target, &creds, method, &url, &headers, &body, now) {
        Ok(h) => h,
        Err(e) => return error(StatusCode::BAD_GATEWAY, e.to_string()),
    };
    let mut out = s
        .client
        .request(parts.method.clone(), parsed)
        .header(header::CONTENT_TYPE, content_type.as_str());
    for (name, value) in signed {
        out = out.header(name, value);
    }
    let resp = match out.body(body).send().await {
        Ok(r) => r,
        Err(e) if e.is_timeout() => {
            return error(
                StatusCode::GATEWAY_TIMEOUT,
                format!(
                    "no answer from {} within {:?}",
                    RedactedUrl(&url),
                    s.settings.timeout
                ),
            );
        }
        Err(e) => {
            return error(
                StatusCode::BAD_GATEWAY,
                format!("forwarding to {}: {}", RedactedUrl(&url), e.without_url()),
            );
        }
    };
    let status = resp.status();
    let ct = resp.headers().get(header::CONTENT_TYPE).cloned();
    let amzn_error = resp.headers().get("x-amzn-errortype").cloned();
    let bytes = match resp.bytes().await {
        Ok(b) => b,
        Err(e) => {
            let status = if e.is_timeout() {
                StatusCode::GATEWAY_TIMEOUT
            } else {
                StatusCode::BAD_GATEWAY
            };
            return error(
                status,
                format!(
                    "reading the answer of {}: {}",
                    RedactedUrl(&url),
                    e.without_url()
                ),
            );
        }
    };
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    if let Some(ct) = ct {
        response.headers_mut().insert(header::CONTENT_TYPE, ct);
    }
    if let Some(e) = amzn_error {
        response.headers_mut().insert("x-amzn-errortype", e);
    }
    response
        .headers_mut()
        .insert("x-otel-aws-proxy", HeaderValue::from_static("1"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_precedence() {
        let s = ProxySettings::resolve(None, None, "eu-west-1");
        assert_eq!(s.upstream, "https://xray.eu-west-1.amazonaws.com");
        let s = ProxySettings::resolve(None, Some("http://127.0.0.1:9/"), "eu-west-1");
        assert_eq!(s.upstream, "http://127.0.0.1:9");
        let s = ProxySettings::resolve(
            Some("https://vpce.example"),
            Some("http://127.0.0.1:9"),
            "r",
        );
        assert_eq!(s.upstream, "https://vpce.example");
    }
}
