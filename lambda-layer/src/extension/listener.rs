//! The extension's own HTTP endpoints: the Telemetry API destination and
//! the control endpoint the function wrapper signals at the end of an
//! invoke (after its final flush has been accepted by the receiver).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;

use super::signals::{DoneSignals, DoneSource};
use super::telemetry::{self, PlatformEvent};
use crate::platform_spans::PlatformSpans;

/// Path of the Telemetry API destination.
pub const TELEMETRY_PATH: &str = "/telemetry";
/// Control path: `POST /lambda/v1/invocations/{request_id}/done` says the
/// function has flushed every span of that invoke.
pub const DONE_PATH: &str = "/lambda/v1/invocations/{request_id}/done";

/// The URL path of the done signal for `request_id`.
pub fn done_path(request_id: &str) -> String {
    format!("/lambda/v1/invocations/{request_id}/done")
}

/// What the endpoints share with the extension loop.
#[derive(Debug, Clone)]
pub struct ListenerState {
    /// Done signals.
    pub signals: Arc<DoneSignals>,
    /// Platform span builder (when enabled).
    pub platform: Option<Arc<Mutex<PlatformSpans>>>,
}

async fn on_telemetry(State(st): State<ListenerState>, body: Bytes) -> StatusCode {
    let events = match telemetry::decode(&body) {
        Ok(e) => e,
        Err(e) => {
            tracing::warn!(error = %e, "ignoring a Telemetry API batch that is not a JSON array of events");
            return StatusCode::BAD_REQUEST;
        }
    };
    for e in &events {
        if let PlatformEvent::RuntimeDone { request_id, .. } = e {
            st.signals.mark(request_id, DoneSource::RuntimeDone);
        }
    }
    if let Some(p) = &st.platform {
        let mut p = p.lock().unwrap_or_else(|p| p.into_inner());
        for e in &events {
            p.on_event(e);
        }
    }
    StatusCode::OK
}

async fn on_done(State(st): State<ListenerState>, Path(request_id): Path<String>) -> StatusCode {
    st.signals.mark(&request_id, DoneSource::Function);
    StatusCode::NO_CONTENT
}

/// The router serving both paths.
pub fn router(state: ListenerState) -> Router {
    Router::new()
        .route(TELEMETRY_PATH, post(on_telemetry))
        .route(DONE_PATH, post(on_done))
        .with_state(state)
}

/// Binds `addr` and serves `router` until `shutdown` resolves; returns the bound address.
pub async fn serve(
    addr: SocketAddr,
    router: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::warn!(error = %e, "extension listener stopped");
        }
    });
    Ok(local)
}
