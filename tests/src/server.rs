//! Shared plumbing for the fakes: serve an axum router on `127.0.0.1:0`,
//! stop it on drop, and keep a log of the requests a fake received.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use bytes::Bytes;
use http::{HeaderMap, Method};
use tokio::sync::oneshot;

/// Errors starting a fake.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// Binding the loopback listener failed.
    #[error("cannot bind 127.0.0.1:0 for a fake server: {0}")]
    Bind(#[from] std::io::Error),
}

/// A running fake server. Dropping it stops the server.
#[derive(Debug)]
pub struct RunningServer {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
}

impl RunningServer {
    /// Serves `router` on a fresh loopback port (must be called inside a tokio runtime).
    pub async fn start(router: Router) -> Result<Self, ServerError> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let serve = axum::serve(listener, router).with_graceful_shutdown(async move {
                let _ = stopped.await;
            });
            if let Err(err) = serve.await {
                tracing::warn!(%err, "fake server stopped with an error");
            }
        });
        Ok(Self {
            addr,
            stop: Some(stop),
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port>` (no trailing slash).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// One request as a fake received it.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    /// HTTP method.
    pub method: Method,
    /// Path and query, as sent.
    pub path_and_query: String,
    /// Request headers.
    pub headers: HeaderMap,
    /// Raw body bytes (before any decompression).
    pub body: Bytes,
}

impl RecordedRequest {
    /// The record of a request from its parts; the path keeps its query.
    pub fn new(method: Method, uri: &http::Uri, headers: HeaderMap, body: Bytes) -> Self {
        Self {
            method,
            path_and_query: uri
                .path_and_query()
                .map_or_else(|| uri.path().to_string(), |pq| pq.as_str().to_string()),
            headers,
            body,
        }
    }
}

/// A shared, append-only request log.
#[derive(Clone, Debug, Default)]
pub struct RequestLog(Arc<Mutex<Vec<RecordedRequest>>>);

impl RequestLog {
    /// Appends a request.
    pub fn push(&self, req: RecordedRequest) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(req);
    }

    /// A copy of everything recorded so far.
    pub fn all(&self) -> Vec<RecordedRequest> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Number of requests recorded so far.
    pub fn len(&self) -> usize {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
