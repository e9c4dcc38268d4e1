//! The extension's own HTTP endpoints, on two separate listeners:
//!
//! - the **control** endpoint (loopback, `127.0.0.1:4319`) that the function
//!   wrapper signals at the end of an invoke (after its final flush has been
//!   accepted by the receiver) — it serves that path only;
//! - the **Telemetry API destination**, which Lambda reaches at
//!   `sandbox.localdomain` (the sandbox's own address, not loopback) — it
//!   serves one path only, `/telemetry/<token>`, where the token is a
//!   random 128-bit value known only to this process and to Lambda (it is
//!   in the subscription), so nothing else in the sandbox — the function
//!   included — can forge `platform.runtimeDone` or platform spans.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;

use super::signals::{DoneSignals, DoneSource};
use super::telemetry::{self, PlatformEvent};
use crate::platform_metrics::PlatformMetrics;
use crate::platform_spans::PlatformSpans;
use crate::telemetry_logs::LogForwarder;

/// Prefix of the Telemetry API destination path (`/telemetry/<token>`).
pub const TELEMETRY_PATH: &str = "/telemetry";

/// A fresh random token for the telemetry path (32 hex digits). Random
/// from the OS through the standard library's randomly keyed SipHash
/// (no extra dependency): each `RandomState` has fresh keys.
pub fn telemetry_token() -> String {
    use std::hash::{BuildHasher, Hasher};
    let part = |salt: u64| {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(salt);
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        h.write_u32(std::process::id());
        h.finish()
    };
    format!("{:016x}{:016x}", part(1), part(2))
}

/// The telemetry destination path for `token`.
pub fn telemetry_path(token: &str) -> String {
    format!("{TELEMETRY_PATH}/{token}")
}
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
    /// Platform metrics (when enabled).
    pub platform_metrics: Option<Arc<Mutex<PlatformMetrics>>>,
    /// Log forwarding (when enabled).
    pub logs: Option<Arc<LogForwarder>>,
}

async fn on_telemetry(State(st): State<ListenerState>, body: Bytes) -> StatusCode {
    let raw = match telemetry::decode_raw(&body) {
        Ok(e) => e,
        Err(e) => {
            tracing::warn!(error = %e, "ignoring a Telemetry API batch that is not a JSON array of events");
            return StatusCode::BAD_REQUEST;
        }
    };
    // Log lines and platform figures are buffered before the done signal,
    // so the end-of-invoke flush it releases carries the lines of this batch.
    if let Some(f) = &st.logs {
        f.forward(&raw);
    }
    let events: Vec<PlatformEvent> = raw.iter().filter_map(telemetry::interpret).collect();
    if let Some(p) = &st.platform {
        let mut p = p.lock().unwrap_or_else(|p| p.into_inner());
        for e in &events {
            p.on_event(e);
        }
    }
    if let Some(p) = &st.platform_metrics {
        let mut p = p.lock().unwrap_or_else(|p| p.into_inner());
        for e in &events {
            p.on_event(e);
        }
    }
    for e in &events {
        if let PlatformEvent::RuntimeDone { request_id, .. } = e {
            st.signals.mark(request_id, DoneSource::RuntimeDone);
        }
    }
    StatusCode::OK
}

async fn on_done(State(st): State<ListenerState>, Path(request_id): Path<String>) -> StatusCode {
    st.signals.mark(&request_id, DoneSource::Function);
    StatusCode::NO_CONTENT
}

/// The control listener's router: the done signal only.
pub fn control_router(state: ListenerState) -> Router {
    Router::new()
        .route(DONE_PATH, post(on_done))
        .with_state(state)
}

/// The Telemetry API listener's router: `telemetry_path(token)` only.
pub fn telemetry_router(state: ListenerState, token: &str) -> Router {
    Router::new()
        .route(&telemetry_path(token), post(on_telemetry))
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
