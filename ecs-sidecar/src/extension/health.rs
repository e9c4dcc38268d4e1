//! `health_check`: `GET <path>` (default `/`) → JSON status and counters
//! per component (200 while running, 503 once shutting down);
//! `GET /metrics` → the same counters as Prometheus text.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;

use crate::telemetry::Telemetry;

/// Default listen address.
pub const DEFAULT_ENDPOINT: &str = "0.0.0.0:13133";

#[derive(Clone)]
struct HealthState {
    telemetry: Arc<Telemetry>,
    stopping: Arc<AtomicBool>,
}

/// A running health endpoint.
#[derive(Debug)]
pub struct HealthServer {
    addr: SocketAddr,
    stopping: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl HealthServer {
    /// Binds `addr` and serves until [`HealthServer::stop`].
    pub async fn start(
        addr: SocketAddr,
        path: &str,
        telemetry: Arc<Telemetry>,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let stopping = Arc::new(AtomicBool::new(false));
        let state = HealthState {
            telemetry,
            stopping: Arc::clone(&stopping),
        };
        let app = Router::new()
            .route("/metrics", get(metrics))
            .route(path, get(status))
            .with_state(state);
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "health_check server failed");
            }
        });
        Ok(Self {
            addr,
            stopping,
            task,
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
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
    let (code, text) = if stopping {
        (StatusCode::SERVICE_UNAVAILABLE, "Server is shutting down")
    } else {
        (StatusCode::OK, "Server available")
    };
    (code, axum::Json(s.telemetry.to_json(text))).into_response()
}

async fn metrics(State(s): State<HealthState>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        s.telemetry.to_prometheus(),
    )
        .into_response()
}
