//! The whole sidecar: extensions, pipelines and receivers started from a
//! checked [`Config`], and their orderly shutdown.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use otel_aws_distro::Env;
use otel_aws_distro::receiver::{
    self, ReceiverConfig, ReceiverError, RunningReceivers, Signal, Sinks,
};
use tokio::sync::watch;

use crate::config::{Config, Extension, Receiver};
use crate::exporter::ExporterError;
use crate::extension::health::{self, HealthServer};
use crate::extension::sigv4auth::{CredentialsError, CredentialsSource};
use crate::pipeline::Pipeline;
use crate::receiver::awsecscontainermetrics::{self, EcsContainerMetrics};
use crate::receiver::proxy::{self, ProxySettings, XrayProxy};
use crate::receiver::udp::UdpReceiver;
use crate::telemetry::{Counters, Telemetry};

/// Default time to drain on shutdown (ECS's default `stopTimeout` is 30 s; we stay well inside).
pub const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the sidecar could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// An exporter could not be built.
    #[error(transparent)]
    Exporter(#[from] ExporterError),
    /// The OTLP receivers could not start.
    #[error("receivers.{id}: {source}")]
    Otlp {
        /// Component id.
        id: String,
        /// Why.
        source: ReceiverError,
    },
    /// A socket could not be bound.
    #[error("{path}: cannot listen on {addr}: {source}")]
    Bind {
        /// Config path of the endpoint.
        path: String,
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// The X-Ray proxy needs credentials or a region.
    #[error("receivers.{id}.proxy_server: {message}")]
    Proxy {
        /// Component id.
        id: String,
        /// What is missing.
        message: String,
    },
    /// Credentials for signing.
    #[error(transparent)]
    Credentials(#[from] CredentialsError),
    /// The health endpoint's settings.
    #[error("extensions.{id}: {message}")]
    Health {
        /// Component id.
        id: String,
        /// What is wrong.
        message: String,
    },
}

/// Raises the soft limit on open files to the hard limit (ECS's default
/// soft limit, 1,024, let 1,140 half-open connections make every listener
/// unreachable). Returns the new soft limit.
pub fn raise_open_files_limit() -> Result<u64, nix::Error> {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE)?;
    if soft < hard {
        setrlimit(Resource::RLIMIT_NOFILE, hard, hard)?;
    }
    Ok(hard.max(soft))
}

/// Run-time options that are not part of the collector config.
#[derive(Clone, Debug)]
pub struct SidecarOptions {
    /// Environment for substitution, credentials, region and metadata endpoints.
    pub env: Env,
    /// Bound on the drain at shutdown.
    pub stop_timeout: Duration,
}

/// Bound addresses of one receiver.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReceiverAddrs {
    /// OTLP/HTTP.
    pub http: Option<SocketAddr>,
    /// OTLP/gRPC.
    pub grpc: Option<SocketAddr>,
    /// awsxray UDP.
    pub udp: Option<SocketAddr>,
    /// awsxray TCP proxy.
    pub proxy: Option<SocketAddr>,
}

/// A running sidecar.
#[derive(Debug)]
pub struct Sidecar {
    telemetry: Arc<Telemetry>,
    health: Option<HealthServer>,
    addrs: BTreeMap<String, ReceiverAddrs>,
    otlp: Vec<RunningReceivers>,
    udp: Vec<UdpReceiver>,
    proxies: Vec<XrayProxy>,
    ecs_metrics: Vec<EcsContainerMetrics>,
    pipelines: Vec<Pipeline>,
    stop_receivers: watch::Sender<bool>,
    stop_timeout: Duration,
}

fn bind_err(path: String, addr: SocketAddr) -> impl FnOnce(std::io::Error) -> StartError {
    move |source| StartError::Bind { path, addr, source }
}

impl Sidecar {
    /// Starts everything `cfg` describes (inside a tokio runtime).
    pub async fn start(cfg: &Config, opts: SidecarOptions) -> Result<Sidecar, StartError> {
        let telemetry = Arc::new(Telemetry::new());
        let creds = CredentialsSource::new(opts.env.clone());
        let (stop_receivers, stop_rx) = watch::channel(false);
        let mut sidecar = Sidecar {
            telemetry: Arc::clone(&telemetry),
            health: None,
            addrs: BTreeMap::new(),
            otlp: Vec::new(),
            udp: Vec::new(),
            proxies: Vec::new(),
            ecs_metrics: Vec::new(),
            pipelines: Vec::new(),
            stop_receivers,
            stop_timeout: opts.stop_timeout,
        };
        for id in &cfg.service.extensions {
            if let Some(Extension::HealthCheck(h)) = cfg.extensions.get(id) {
                let path = format!("extensions.{id}.endpoint");
                let addr = h.listen();
                let server = HealthServer::start(
                    addr,
                    h.path.as_deref().unwrap_or("/"),
                    h.unhealthy_after_refusing
                        .map_or(health::DEFAULT_UNHEALTHY_AFTER_REFUSING, |d| d.0),
                    Arc::clone(&telemetry),
                )
                .await
                .map_err(|e| match e {
                    health::HealthError::Bind(source) => StartError::Bind { path, addr, source },
                    health::HealthError::Path(message) => StartError::Health {
                        id: id.clone(),
                        message,
                    },
                })?;
                tracing::info!(addr = %server.addr(), "health_check listening");
                sidecar.health = Some(server);
            }
        }
        let mut otlp_sinks: BTreeMap<String, Sinks> = BTreeMap::new();
        // Per OTLP receiver: the most attribute room a pipeline it feeds wants.
        let mut headroom: BTreeMap<String, usize> = BTreeMap::new();
        for (name, section) in cfg.pipelines() {
            let pipeline =
                Pipeline::start(name, section, cfg, &telemetry, &creds, &opts.env).await?;
            for id in &section.receivers {
                let sink = pipeline.sink(id, &telemetry);
                let mut addrs = ReceiverAddrs::default();
                match cfg.receivers.get(id) {
                    Some(Receiver::Otlp(_)) => {
                        // Started once below, with the sinks of every signal using it.
                        let room = headroom.entry(id.clone()).or_default();
                        *room = (*room).max(pipeline.span_attribute_headroom());
                        let sinks = otlp_sinks.entry(id.clone()).or_default();
                        let sink = Arc::new(sink);
                        *sinks = match pipeline.signal() {
                            Signal::Traces => std::mem::take(sinks).with_traces(sink),
                            Signal::Metrics => std::mem::take(sinks).with_metrics(sink),
                            Signal::Logs => std::mem::take(sinks).with_logs(sink),
                        };
                        continue;
                    }
                    Some(Receiver::AwsXray(x)) => {
                        let addr = x.listen();
                        let r =
                            UdpReceiver::start(addr, sink, pipeline.legacy_mode(), stop_rx.clone())
                                .await
                                .map_err(bind_err(format!("receivers.{id}.endpoint"), addr))?;
                        addrs.udp = Some(r.addr());
                        sidecar.udp.push(r);
                        if let Some(proxy_addr) = x.proxy_listen() {
                            let proxy_cfg = x.proxy_server.clone().unwrap_or_default();
                            let p = start_proxy(
                                id,
                                proxy_addr,
                                &proxy_cfg,
                                &creds,
                                &opts.env,
                                stop_rx.clone(),
                            )
                            .await?;
                            addrs.proxy = Some(p.addr());
                            sidecar.proxies.push(p);
                        }
                        tracing::info!(receiver = %id, udp = ?addrs.udp, proxy = ?addrs.proxy, "awsxray receiver listening");
                    }
                    Some(Receiver::AwsEcsContainerMetrics(r)) => {
                        let interval = r
                            .collection_interval
                            .map_or(awsecscontainermetrics::DEFAULT_COLLECTION_INTERVAL, |d| d.0);
                        sidecar.ecs_metrics.push(EcsContainerMetrics::start(
                            id,
                            interval,
                            &opts.env,
                            sink,
                            stop_rx.clone(),
                        ));
                    }
                    None => {}
                }
                sidecar.addrs.insert(id.clone(), addrs);
            }
            sidecar.pipelines.push(pipeline);
        }
        for (id, sinks) in otlp_sinks {
            let Some(Receiver::Otlp(o)) = cfg.receivers.get(&id) else {
                continue;
            };
            let mut rc = ReceiverConfig {
                http_addr: o.protocols.http.as_ref().map(|h| h.listen()),
                grpc_addr: o.protocols.grpc.as_ref().map(|g| g.listen()),
                // Open to the task's containers: close stalled and half-open peers.
                idle_timeout: Some(receiver::DEFAULT_IDLE_TIMEOUT),
                request_timeout: Some(receiver::DEFAULT_REQUEST_TIMEOUT),
                span_attribute_headroom: headroom.get(&id).copied().unwrap_or(0),
                ..ReceiverConfig::default()
            };
            // Each protocol its own limit, as the collector's; 0 (or unset)
            // is the default, as the collector reads both.
            if let Some(max) = o.protocols.http.as_ref().and_then(|h| h.max_body_bytes()) {
                rc.max_body_bytes = max;
            }
            rc.max_grpc_message_bytes = Some(
                o.protocols
                    .grpc
                    .as_ref()
                    .and_then(|g| g.max_message_bytes())
                    .unwrap_or(receiver::DEFAULT_MAX_BODY_BYTES),
            );
            let mut stop = stop_rx.clone();
            let running = receiver::serve_signals(rc, sinks, async move {
                let _ = stop.wait_for(|s| *s).await;
            })
            .await
            .map_err(|source| StartError::Otlp {
                id: id.clone(),
                source,
            })?;
            let addrs = ReceiverAddrs {
                http: running.http_addr(),
                grpc: running.grpc_addr(),
                ..ReceiverAddrs::default()
            };
            tracing::info!(receiver = %id, http = ?addrs.http, grpc = ?addrs.grpc, "OTLP receiver listening");
            sidecar.otlp.push(running);
            sidecar.addrs.insert(id, addrs);
        }
        if let Some(h) = &sidecar.health {
            h.set_ready();
        }
        Ok(sidecar)
    }

    /// Bound addresses of receiver `id` (real ports when 0 was configured).
    pub fn receiver_addrs(&self, id: &str) -> Option<ReceiverAddrs> {
        self.addrs.get(id).copied()
    }

    /// The health endpoint's address, if enabled.
    pub fn health_addr(&self) -> Option<SocketAddr> {
        self.health.as_ref().map(HealthServer::addr)
    }

    /// The counters.
    pub fn telemetry(&self) -> Arc<Telemetry> {
        Arc::clone(&self.telemetry)
    }

    /// Graceful stop: receivers stop taking data (in-flight requests finish),
    /// pipelines send what was accepted; all within the stop timeout.
    /// Returns false when the timeout cut the drain short.
    pub async fn shutdown(self) -> bool {
        if let Some(h) = &self.health {
            h.set_stopping();
        }
        let drain = async {
            self.stop_receivers.send_replace(true);
            for r in self.otlp {
                if let Err(e) = r.wait().await {
                    tracing::warn!(error = %e, "OTLP receiver stopped with an error");
                }
            }
            for u in self.udp {
                u.wait().await;
            }
            for p in self.proxies {
                p.wait().await;
            }
            for m in self.ecs_metrics {
                m.wait().await;
            }
            for p in self.pipelines {
                p.drain().await;
            }
        };
        let telemetry = Arc::clone(&self.telemetry);
        let done = tokio::time::timeout(self.stop_timeout, drain).await.is_ok();
        if !done {
            let lost = telemetry.held_spans();
            Counters::add(&telemetry.component("service", "shutdown").dropped, lost);
            tracing::warn!(timeout = ?self.stop_timeout, spans = lost, "stop timeout reached; spans not yet exported were dropped (counted as service/shutdown dropped)");
        }
        if let Some(h) = self.health {
            h.stop();
        }
        done
    }
}

async fn start_proxy(
    id: &str,
    addr: SocketAddr,
    cfg: &crate::config::ProxyServer,
    creds: &CredentialsSource,
    env: &Env,
    stop: watch::Receiver<bool>,
) -> Result<XrayProxy, StartError> {
    let proxy_err = |message: String| StartError::Proxy {
        id: id.to_owned(),
        message,
    };
    let region = cfg
        .region
        .clone()
        .or_else(|| creds.default_region())
        .ok_or_else(|| proxy_err("no region: set proxy_server.region or AWS_REGION".into()))?;
    let settings = ProxySettings::resolve(
        cfg.aws_endpoint.as_ref().map(|u| u.as_str()),
        env.get(proxy::AWS_ENDPOINT_URL_XRAY),
        &region,
    );
    let provider = creds
        .provider()
        .await
        .map_err(|e| proxy_err(e.to_string()))?;
    XrayProxy::start(addr, settings, provider, stop)
        .await
        .map_err(bind_err(
            format!("receivers.{id}.proxy_server.endpoint"),
            addr,
        ))
}
