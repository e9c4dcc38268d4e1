//! OTLP receivers (HTTP and gRPC) that decode into the one batch type per
//! signal (feature `server`).
//!
//! Both receivers decode each request once into an
//! [`ExportTraceServiceRequest`], [`ExportMetricsServiceRequest`] or
//! [`ExportLogsServiceRequest`], drop the items that cannot be carried on
//! (spans with unusable ids, malformed histogram points, log records with
//! bad ids: reported to the sender as `partial_success`) and push the batch
//! to that signal's [`Sink`] ([`TraceSink`] for traces). A sink that
//! answers [`Backpressure`] makes the sender retry: HTTP 503 with
//! `Retry-After`, gRPC `RESOURCE_EXHAUSTED` with `RetryInfo`. Limits and
//! accounting (body size, gzip bombs, memory reservations, timeouts) are
//! the same for every signal. [`serve`] takes traces only; [`serve_signals`]
//! takes a sink per signal ([`Sinks`]).
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use otel_aws_distro::receiver::{self, Accepted, ReceiverConfig, TraceSink};
//!
//! let sink: Arc<dyn TraceSink> = Arc::new(|batch: receiver::ExportTraceServiceRequest, meta: receiver::RequestMeta| {
//!     println!("{} spans over {:?}", meta.items, meta.transport);
//!     drop(batch);
//!     Ok(Accepted::all())
//! });
//! let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
//! let running = receiver::serve(ReceiverConfig::localhost(), sink, async move {
//!     let _ = stopped.await;
//! })
//! .await?;
//! println!("OTLP/HTTP on {:?}, OTLP/gRPC on {:?}", running.http_addr(), running.grpc_addr());
//! let _ = stop.send(());
//! running.wait().await?; // in-flight requests drained
//! # Ok(()) }
//! ```

mod config;
mod conn;
pub mod decode;
mod deliver;
mod grpc;
mod http;
mod json_compat;
pub mod proto_traces;
mod signal;
mod sink;
mod stats;
mod status;

use std::future::{Future, IntoFuture};
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use self::config::{
    DEFAULT_DRAIN_TIMEOUT, DEFAULT_GRPC_PORT, DEFAULT_HTTP_PORT, DEFAULT_IDLE_TIMEOUT,
    DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_CONCURRENT_STREAMS, DEFAULT_REQUEST_TIMEOUT,
    ReceiverConfig,
};
pub use self::conn::{IdleListener, IdleTimeout};
pub use self::grpc::EXPORT_PATH as GRPC_EXPORT_PATH;
pub use self::signal::{
    GRPC_LOGS_PATH, GRPC_METRICS_PATH, GRPC_TRACES_PATH, LOGS_PATH as HTTP_LOGS_PATH,
    METRICS_PATH as HTTP_METRICS_PATH, Signal, TRACES_PATH as HTTP_TRACES_PATH,
};
pub use self::sink::{
    Accepted, Backpressure, Encoding, RequestMeta, Reservation, Sink, Sinks, TraceSink, Transport,
};
pub use self::stats::{ReceiverStats, StatsSnapshot};
pub use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
pub use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
pub use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

use self::deliver::Shared;
use self::proto_traces::DecodeOptions;

/// Why the receivers could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ReceiverError {
    /// Another process (or receiver) already listens there.
    #[error(
        "{addr} is in use: {source} (OTLP/{protocol} receiver; stop the other listener or configure another address)"
    )]
    AddrInUse {
        /// `HTTP` or `gRPC`.
        protocol: &'static str,
        /// The address asked for.
        addr: SocketAddr,
        /// The OS error.
        source: io::Error,
    },
    /// Any other failure to listen (permission, address not available, ...).
    #[error("cannot listen on {addr} for the OTLP/{protocol} receiver: {source}")]
    Bind {
        /// `HTTP` or `gRPC`.
        protocol: &'static str,
        /// The address asked for.
        addr: SocketAddr,
        /// The OS error.
        source: io::Error,
    },
    /// The server failed while running.
    #[error("the OTLP/{protocol} receiver on {addr} failed: {message}")]
    Serve {
        /// `HTTP` or `gRPC`.
        protocol: &'static str,
        /// The bound address.
        addr: SocketAddr,
        /// What failed.
        message: String,
    },
}

/// Handle on started receivers: bound addresses, counters, shutdown.
///
/// Dropping it does not stop the receivers: they run until the `shutdown`
/// future given to [`serve`] completes or [`RunningReceivers::shutdown`] is called.
#[derive(Debug)]
pub struct RunningReceivers {
    http_addr: Option<SocketAddr>,
    grpc_addr: Option<SocketAddr>,
    stats: Arc<ReceiverStats>,
    stop: Arc<watch::Sender<bool>>,
    tasks: Vec<JoinHandle<Result<(), ReceiverError>>>,
}

impl RunningReceivers {
    /// The bound OTLP/HTTP address (the real port when 0 was asked for), if enabled.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http_addr
    }

    /// The bound OTLP/gRPC address, if enabled.
    pub fn grpc_addr(&self) -> Option<SocketAddr> {
        self.grpc_addr
    }

    /// The live counters (shared; keep the `Arc` for self-telemetry).
    pub fn stats(&self) -> Arc<ReceiverStats> {
        Arc::clone(&self.stats)
    }

    /// Starts shutdown now, as if the `shutdown` future given to [`serve`] had completed.
    pub fn shutdown(&self) {
        self.stop.send_replace(true);
    }

    /// Waits until both receivers have stopped: after shutdown, listeners
    /// close at once, in-flight requests finish (their batches reach the
    /// sink) and idle connections close, for at most the configured
    /// `drain_timeout`.
    pub async fn wait(self) -> Result<(), ReceiverError> {
        let mut first_err = None;
        for task in self.tasks {
            match task.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    first_err.get_or_insert(e);
                }
                Err(join) => {
                    tracing::error!(error = %join, "OTLP receiver task ended abnormally");
                }
            }
        }
        first_err.map_or(Ok(()), Err)
    }
}

async fn bind(protocol: &'static str, addr: SocketAddr) -> Result<TcpListener, ReceiverError> {
    TcpListener::bind(addr).await.map_err(|source| {
        if source.kind() == io::ErrorKind::AddrInUse {
            ReceiverError::AddrInUse {
                protocol,
                addr,
                source,
            }
        } else {
            ReceiverError::Bind {
                protocol,
                addr,
                source,
            }
        }
    })
}

fn local_addr(
    protocol: &'static str,
    addr: SocketAddr,
    l: &TcpListener,
) -> Result<SocketAddr, ReceiverError> {
    l.local_addr().map_err(|source| ReceiverError::Bind {
        protocol,
        addr,
        source,
    })
}

/// Resolves once shutdown was signalled.
async fn stopped(mut rx: watch::Receiver<bool>) {
    // An error means the sender is gone, which only happens once nobody can signal: treat as stop.
    let _ = rx.wait_for(|stop| *stop).await;
}

/// Runs `server` until it ends; once shutdown is signalled, gives it `drain` to finish.
async fn run_with_drain<F>(
    protocol: &'static str,
    addr: SocketAddr,
    server: F,
    rx: watch::Receiver<bool>,
    drain: Duration,
) -> Result<(), ReceiverError>
where
    F: Future<Output = Result<(), String>>,
{
    let deadline = async {
        stopped(rx).await;
        tokio::time::sleep(drain).await;
    };
    tokio::select! {
        r = server => r.map_err(|message| ReceiverError::Serve { protocol, addr, message }),
        () = deadline => {
            tracing::warn!(%addr, protocol, ?drain, "OTLP receiver: requests still in flight after the drain timeout; no longer waiting for them");
            Ok(())
        }
    }
}

/// Binds the enabled receivers for traces only, then serves them in
/// background tasks until `shutdown` completes (or
/// [`RunningReceivers::shutdown`] is called). See [`serve_signals`].
pub async fn serve(
    cfg: ReceiverConfig,
    sink: Arc<dyn TraceSink>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<RunningReceivers, ReceiverError> {
    serve_signals(cfg, Sinks::traces(sink), shutdown).await
}

/// Binds the enabled receivers, then serves every signal that has a sink in
/// `sinks` in background tasks until `shutdown` completes (or
/// [`RunningReceivers::shutdown`] is called). A signal without a sink is
/// answered HTTP 404 / gRPC UNIMPLEMENTED.
///
/// Binding happens before this returns, so a taken port is an error here,
/// and port 0 can be read back from [`RunningReceivers::http_addr`] /
/// [`RunningReceivers::grpc_addr`]. Must be called inside a tokio runtime.
pub async fn serve_signals(
    cfg: ReceiverConfig,
    sinks: Sinks,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<RunningReceivers, ReceiverError> {
    // Bind everything first: nothing runs unless every listener could be opened.
    let http_listener = match cfg.http_addr {
        Some(addr) => Some((addr, bind("HTTP", addr).await?)),
        None => None,
    };
    let grpc_listener = match cfg.grpc_addr {
        Some(addr) => Some((addr, bind("gRPC", addr).await?)),
        None => None,
    };

    let stats = Arc::new(ReceiverStats::default());
    let shared = Arc::new(Shared {
        sinks,
        stats: Arc::clone(&stats),
        max_body_bytes: cfg.max_body_bytes,
        max_grpc_message_bytes: cfg.max_grpc_message_bytes.unwrap_or(cfg.max_body_bytes),
        request_timeout: cfg.request_timeout,
        decode: DecodeOptions {
            span_attribute_headroom: cfg.span_attribute_headroom,
        },
    });
    let (tx, rx) = watch::channel(false);
    let stop = Arc::new(tx);
    let mut tasks = Vec::new();

    let mut http_addr = None;
    if let Some((asked, listener)) = http_listener {
        let addr = local_addr("HTTP", asked, &listener)?;
        http_addr = Some(addr);
        let app =
            http::router(Arc::clone(&shared)).into_make_service_with_connect_info::<SocketAddr>();
        let listener = conn::IdleListener::new(listener, cfg.idle_timeout);
        // tap_io: axum derives the peer address (ConnectInfo) through it.
        let listener = axum::serve::ListenerExt::tap_io(listener, |_| {});
        let server = axum::serve(listener, app)
            .with_graceful_shutdown(stopped(rx.clone()))
            .into_future();
        let server = async move { server.await.map_err(|e| e.to_string()) };
        tasks.push(tokio::spawn(run_with_drain(
            "HTTP",
            addr,
            server,
            rx.clone(),
            cfg.drain_timeout,
        )));
    }

    let mut grpc_addr = None;
    if let Some((asked, listener)) = grpc_listener {
        let addr = local_addr("gRPC", asked, &listener)?;
        grpc_addr = Some(addr);
        let idle = cfg.idle_timeout;
        let incoming = futures_util::StreamExt::map(
            tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true)),
            move |tcp| tcp.map(|tcp| conn::IdleTimeout::new(tcp, idle)),
        );
        let streams = cfg.max_concurrent_streams;
        let svc = grpc::OtlpGrpcService::new(Arc::clone(&shared));
        let signal = stopped(rx.clone());
        let server = async move {
            tonic::transport::Server::builder()
                .max_concurrent_streams(Some(streams))
                .serve_with_incoming_shutdown(svc, incoming, signal)
                .await
                .map_err(|e| e.to_string())
        };
        tasks.push(tokio::spawn(run_with_drain(
            "gRPC",
            addr,
            server,
            rx.clone(),
            cfg.drain_timeout,
        )));
    }

    let forward = Arc::clone(&stop);
    tokio::spawn(async move {
        shutdown.await;
        forward.send_replace(true);
    });

    Ok(RunningReceivers {
        http_addr,
        grpc_addr,
        stats,
        stop,
        tasks,
    })
}
