//! `health_check`: `GET <path>` (default `/`) → JSON status and counters
//! per component (200 while running; 503 once shutting down, and while a
//! memory limiter has refused data for longer than
//! `unhealthy_after_refusing`); `GET /metrics` → the same counters as
//! Prometheus text.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;

use crate::telemetry::Telemetry;

/// Default listen address.
pub const DEFAULT_ENDPOINT: &str = "0.0.0.0:13133";
/// Path of the Prometheus text.
pub const METRICS_PATH: &str = "/metrics";
/// Default longest refusal by a memory limiter that still reports healthy.
pub const DEFAULT_UNHEALTHY_AFTER_REFUSING: Duration = Duration::from_secs(30);

/// Checks a status path: absolute, not `/metrics`, and a literal path (no
/// `{`, `}`, or segment starting with `:` or `*`, which the router would
/// read as a pattern and refuse at start).
pub fn check_path(path: &str) -> Result<(), String> {
    if !path.starts_with('/') {
        return Err(format!("{path:?} must start with /"));
    }
    if path == METRICS_PATH {
        return Err(format!(
            "{path:?} is where the metrics are served: choose another path"
        ));
    }
    if path.contains(['{', '}'])
        || path
            .split('/')
            .any(|seg| seg.starts_with(':') || seg.starts_with('*'))
    {
        return Err(format!(
            "{path:?} must be a literal path: no {{, }}, or segment starting with : or *"
        ));
    }
    Ok(())
}

/// Why the health endpoint could not start.
#[derive(Debug, thiserror::Error)]
pub enum HealthError {
    /// The path is not usable.
    #[error("path: {0}")]
    Path(String),
    /// The address could not be bound.
    #[error(transparent)]
    Bind(#[from] std::io::Error),
}

#[derive(Clone)]
struct HealthState {
    telemetry: Arc<Telemetry>,
    ready: Arc<AtomicBool>,
    stopping: Arc<AtomicBool>,
    unhealthy_after_refusing: Duration,
}

/// A running health endpoint.
#[derive(Debug)]
pub struct HealthServer {
    addr: SocketAddr,
    ready: Arc<AtomicBool>,
    stopping: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl HealthServer {
    /// Binds `addr` and serves until [`HealthServer::stop`]; reports
    /// unhealthy while a memory limiter refuses for longer than `unhealthy_after_refusing`.
    pub async fn start(
        addr: SocketAddr,
        path: &str,
        unhealthy_after_refusing: Duration,
        telemetry: Arc<Telemetry>,
    ) -> Result<Self, HealthError> {
        check_path(path).map_err(HealthError::Path)?;
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let stopping = Arc::new(AtomicBool::new(false));
        let ready = Arc::new(AtomicBool::new(false));
        let state = HealthState {
            telemetry,
            ready: Arc::clone(&ready),
            stopping: Arc::clone(&stopping),
            unhealthy_after_refusing,
        };
        let app = Router::new()
            .route(METRICS_PATH, get(metrics))
            .route(path, get(status))
            .with_state(state);
        // Stalled and half-open connections are closed, so they cannot use up descriptors.
        let listener = otel_aws_distro::receiver::IdleListener::new(
            listener,
            Some(otel_aws_distro::receiver::DEFAULT_IDLE_TIMEOUT),
        );
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "health_check server failed");
            }
        });
        Ok(Self {
            addr,
            ready,
            stopping,
            task,
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Reports available (200) from now on: every receiver listens. Until
    /// then the endpoint answers 503 "starting".
    pub fn set_ready(&self) {
        self.ready.store(true, Ordering::Relaxed);
    }

    /// Reports "shutting down" (503) from now on.
    pub fn set_stopping(&self) {
        self.stopping.store(true, Ordering::Relaxed);
    }

    /// Stops serving.
    pub fn stop(self) {
        self.task.abort();
    }
}

async fn status(State(s): State<HealthState>) -> Response {
    let stopping = s.stopping.load(Ordering::Relaxed);
    let refusing = s
        .telemetry
        .longest_refusal()
        .filter(|(_, d)| *d >= s.unhealthy_after_refusing);
    let (code, text) = if stopping {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "Server is shutting down".to_owned(),
        )
    } else if !s.ready.load(Ordering::Relaxed) {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "Server is starting: receivers not listening yet".to_owned(),
        )
    } else if let Some((pipeline, d)) = refusing {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "pipeline {pipeline} has refused data for {}s: memory limit reached",
                d.as_secs()
            ),
        )
    } else {
        (StatusCode::OK, "Server available".to_owned())
    };
    (code, axum::Json(s.telemetry.to_json(&text))).into_response()
}

async fn metrics(State(s): State<HealthState>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        s.telemetry.to_prometheus(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn get(addr: SocketAddr) -> (u16, String) {
        let resp = reqwest::get(format!("http://{addr}/")).await.unwrap();
        (resp.status().as_u16(), resp.text().await.unwrap())
    }

    #[tokio::test]
    async fn unavailable_until_ready_and_once_stopping() {
        let server = HealthServer::start(
            "127.0.0.1:0".parse().unwrap(),
            "/",
            DEFAULT_UNHEALTHY_AFTER_REFUSING,
            Arc::new(Telemetry::new()),
        )
        .await
        .unwrap();
        let (code, body) = get(server.addr()).await;
        assert_eq!(code, 503, "healthy before the receivers listen: {body}");
        assert!(body.contains("starting"), "{body}");
        server.set_ready();
        assert_eq!(get(server.addr()).await.0, 200);
        server.set_stopping();
        assert_eq!(get(server.addr()).await.0, 503);
        server.stop();
    }

    #[tokio::test]
    async fn a_bad_path_is_an_error_not_a_panic() {
        for path in ["/metrics", "/a{b", "/x/:id", "nope"] {
            let r = HealthServer::start(
                "127.0.0.1:0".parse().unwrap(),
                path,
                DEFAULT_UNHEALTHY_AFTER_REFUSING,
                Arc::new(Telemetry::new()),
            )
            .await;
            assert!(matches!(r, Err(HealthError::Path(_))), "{path}");
        }
    }
}
