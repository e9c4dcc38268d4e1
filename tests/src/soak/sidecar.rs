//! Sidecar soak: the sidecar binary with a config like the image's default
//! (OTLP in, memory_limiter, batch, otlphttp signed with sigv4auth) under
//! the load generator at a share of its measured capacity, the upstream
//! flapping (down = every request answered `503`); then SIGTERM under load.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use otel_aws_testkit::chaos::{ChaosControl, ChaosEndpoint, ChaosOptions, ChaosSnapshot};
use otel_aws_testkit::ports::free_port;
use otel_aws_testkit::sigv4::{Credentials, SigV4Expect};

use super::rss::{RssSampler, RssSummary, summarize};
use super::{SoakError, binary, knob};
use crate::loadgen::otlp as load;

/// Settings of a sidecar soak (each from a `SOAK_*` variable).
#[derive(Clone, Debug, serde::Serialize)]
pub struct SidecarSoakConfig {
    /// `SOAK_SIDECAR_SECONDS`: length of the soak phase (default 1800).
    pub seconds: u64,
    /// `SOAK_LOAD_PERCENT`: load as a share of the measured capacity (default 50).
    pub load_percent: u64,
    /// `SOAK_CAPACITY_SECONDS`: length of the flat-out capacity measurement (default 10).
    pub capacity_seconds: u64,
    /// `SOAK_FLAP_UP_SECONDS` / `SOAK_FLAP_DOWN_SECONDS`: the upstream's cycle (default 25 up, 5 down).
    pub flap_up_seconds: u64,
    /// See [`flap_up_seconds`](Self::flap_up_seconds).
    pub flap_down_seconds: u64,
    /// `SOAK_STOP_TIMEOUT`: the sidecar's `--stop-timeout`, seconds (default 10).
    pub stop_timeout_seconds: u64,
    /// `SOAK_SPANS`: spans per request (default 512).
    pub spans_per_request: usize,
    /// `SOAK_CONCURRENCY`: requests in flight (default 8).
    pub concurrency: usize,
    /// `SOAK_SIDECAR`: the binary (default `<target>/<SOAK_PROFILE or debug>/otel-aws-sidecar`).
    pub sidecar: PathBuf,
}

impl SidecarSoakConfig {
    /// Reads the `SOAK_*` variables.
    pub fn from_env() -> Result<Self, SoakError> {
        let profile = std::env::var("SOAK_PROFILE").unwrap_or_else(|_| "debug".into());
        Ok(Self {
            seconds: knob("SOAK_SIDECAR_SECONDS", 1800, "180")?,
            load_percent: knob("SOAK_LOAD_PERCENT", 50, "50")?,
            capacity_seconds: knob("SOAK_CAPACITY_SECONDS", 10, "10")?,
            flap_up_seconds: knob("SOAK_FLAP_UP_SECONDS", 25, "25")?,
            flap_down_seconds: knob("SOAK_FLAP_DOWN_SECONDS", 5, "5")?,
            stop_timeout_seconds: knob("SOAK_STOP_TIMEOUT", 10, "10")?,
            spans_per_request: knob("SOAK_SPANS", 512, "512")?,
            concurrency: knob("SOAK_CONCURRENCY", 8, "8")?,
            sidecar: binary("SOAK_SIDECAR", &profile, "otel-aws-sidecar")?,
        })
    }
}

/// One load phase: what the load generator was told and what reached the upstream.
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct Phase {
    /// Seconds of load.
    pub seconds: f64,
    /// Spans the sidecar answered 200 for.
    pub accepted: u64,
    /// Spans refused (503 from the memory limiter, or connection errors).
    pub refused: u64,
    /// Spans the upstream accepted during the phase and its settle time.
    pub delivered: u64,
    /// `accepted − delivered` (negative: delivered twice).
    pub lost: i64,
}

/// What a sidecar soak measured.
#[derive(Clone, Debug, serde::Serialize)]
pub struct SidecarSoakReport {
    /// The settings.
    pub config: SidecarSoakConfig,
    /// Flat-out accepted spans/s (upstream up).
    pub capacity_spans_per_s: f64,
    /// The rate of the soak and SIGTERM phases, spans/s.
    pub rate_spans_per_s: u64,
    /// The capacity measurement.
    pub capacity: Phase,
    /// The soak with the upstream flapping.
    pub soak: Phase,
    /// Sidecar RSS during the soak (flat: `growth_pct` small).
    pub rss: RssSummary,
    /// SIGTERM under load: accepted before the stop vs delivered.
    pub term: Phase,
    /// Seconds from SIGTERM to exit (`None`: did not exit in stop timeout + 10 s, killed).
    pub term_exit_s: Option<f64>,
    /// The sidecar's exit status.
    pub term_exit_status: String,
    /// Warnings the sidecar logged at shutdown about dropped spans.
    pub drop_warnings: Vec<String>,
    /// Upstream counters at the end.
    pub upstream: ChaosSnapshot,
}

fn io(what: &str) -> impl FnOnce(std::io::Error) -> SoakError {
    let what = what.to_owned();
    move |source| SoakError::Io { what, source }
}

/// The image's default config with loopback ports, the env detector only
/// (no ECS metadata here) and the exporter pointed at `upstream`.
fn config_yaml(http: u16, grpc: u16, udp: u16, health: u16, upstream: &str) -> String {
    format!(
        r#"extensions:
  health_check:
    endpoint: 127.0.0.1:{health}
  sigv4auth:
    region: us-east-1
    service: xray
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:{grpc}
      http:
        endpoint: 127.0.0.1:{http}
  awsxray:
    endpoint: 127.0.0.1:{udp}
    transport: udp
    proxy_server:
      endpoint: ''
processors:
  memory_limiter:
    check_interval: 1s
    limit_mib: 64
    spike_limit_mib: 16
  resourcedetection:
    detectors: [env]
    override: false
  batch:
    timeout: 1s
    send_batch_size: 512
    send_batch_max_size: 10000
exporters:
  otlphttp/xray:
    traces_endpoint: {upstream}
    compression: gzip
    auth:
      authenticator: sigv4auth
service:
  extensions: [health_check, sigv4auth]
  pipelines:
    traces:
      receivers: [otlp, awsxray]
      processors: [memory_limiter, resourcedetection, batch]
      exporters: [otlphttp/xray]
"#
    )
}

/// Waits until `delivered()` reaches `target` or stops moving for 5 s (at most 120 s).
async fn settle(up: &ChaosControl, target: u64) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(120);
    let (mut last, mut since) = (up.snapshot().spans, Instant::now());
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let now = up.snapshot().spans;
        if now >= target {
            return now;
        }
        if now != last {
            (last, since) = (now, Instant::now());
        } else if since.elapsed() > Duration::from_secs(5) {
            break;
        }
    }
    up.snapshot().spans
}

async fn phase(
    cfg: &SidecarSoakConfig,
    url: &str,
    up: &ChaosControl,
    seconds: u64,
    rate: u64,
) -> Phase {
    let before = up.snapshot().spans;
    let body = load::request_body(cfg.spans_per_request);
    let r = load::run(
        url,
        body,
        cfg.spans_per_request,
        cfg.concurrency,
        Duration::from_secs(seconds),
        rate,
    )
    .await;
    up.set_down(false);
    let delivered = settle(up, before + r.accepted).await - before;
    Phase {
        seconds: r.elapsed.as_secs_f64(),
        accepted: r.accepted,
        refused: r.refused,
        delivered,
        lost: r.accepted as i64 - delivered as i64,
    }
}

/// Runs the sidecar soak.
pub async fn run(cfg: SidecarSoakConfig) -> Result<SidecarSoakReport, SoakError> {
    let upstream = ChaosEndpoint::start(ChaosOptions {
        sigv4: Some(SigV4Expect::test("us-east-1", "xray")),
        ..ChaosOptions::default()
    })
    .await
    .map_err(|e| SoakError::Sim(format!("chaos endpoint: {e}")))?;
    let up = upstream.control();
    let (http, grpc, udp, health) = (free_port(), free_port(), free_port(), free_port());
    let dir = std::env::temp_dir().join(format!("otel-aws-soak-sidecar-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(io("creating the work folder"))?;
    let config = dir.join("config.yaml");
    std::fs::write(
        &config,
        config_yaml(http, grpc, udp, health, &upstream.traces_url()),
    )
    .map_err(io("writing the sidecar config"))?;
    let log_path = dir.join("sidecar.log");
    let log = std::fs::File::create(&log_path).map_err(io("creating the sidecar log"))?;
    let creds = Credentials::test();
    let mut child = tokio::process::Command::new(&cfg.sidecar)
        .arg("--config")
        .arg(&config)
        .arg("--stop-timeout")
        .arg(format!("{}s", cfg.stop_timeout_seconds))
        .env("AWS_ACCESS_KEY_ID", &creds.access_key_id)
        .env("AWS_SECRET_ACCESS_KEY", &creds.secret_access_key)
        .env("AWS_REGION", "us-east-1")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .map_err(io("starting the sidecar"))?;
    let pid = child.id().unwrap_or(0);
    let url = format!("http://127.0.0.1:{http}/v1/traces");
    // Ready when the OTLP/HTTP port accepts connections (at most 30 s).
    for _ in 0..300 {
        if tokio::net::TcpStream::connect(("127.0.0.1", http))
            .await
            .is_ok()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    eprintln!(
        "soak: sidecar {pid}: measuring capacity for {} s",
        cfg.capacity_seconds
    );
    let capacity = phase(&cfg, &url, &up, cfg.capacity_seconds, 0).await;
    let capacity_spans_per_s = capacity.accepted as f64 / capacity.seconds.max(0.001);
    let rate = (capacity_spans_per_s * cfg.load_percent as f64 / 100.0) as u64;
    eprintln!(
        "soak: capacity {capacity_spans_per_s:.0} spans/s; soaking at {rate} spans/s for {} s, upstream {} s up / {} s down",
        cfg.seconds, cfg.flap_up_seconds, cfg.flap_down_seconds
    );

    let pids = Arc::new(Mutex::new(vec![pid]));
    let sampler = RssSampler::start(Arc::clone(&pids), Duration::from_secs(1));
    let flapper = {
        let (up, upd, downd) = (
            up.clone(),
            Duration::from_secs(cfg.flap_up_seconds.max(1)),
            Duration::from_secs(cfg.flap_down_seconds),
        );
        let end = Instant::now() + Duration::from_secs(cfg.seconds);
        tokio::spawn(async move {
            while Instant::now() + upd < end {
                tokio::time::sleep(upd).await;
                if downd.is_zero() {
                    continue;
                }
                up.set_down(true);
                tokio::time::sleep(downd).await;
                up.set_down(false);
            }
        })
    };
    let soak = phase(&cfg, &url, &up, cfg.seconds, rate).await;
    flapper.abort();
    up.set_down(false);
    let rss = summarize(&sampler.samples(), 30.0_f64.min(cfg.seconds as f64 / 4.0));
    drop(sampler);

    eprintln!("soak: SIGTERM under load");
    let before = up.snapshot().spans;
    let term_url = url.clone();
    let (spans, conc) = (cfg.spans_per_request, cfg.concurrency);
    let load_task = tokio::spawn(async move {
        load::run(
            &term_url,
            load::request_body(spans),
            spans,
            conc,
            Duration::from_secs(8),
            rate,
        )
        .await
    });
    tokio::time::sleep(Duration::from_secs(4)).await;
    let _ = kill(Pid::from_raw(pid as i32), Signal::SIGTERM);
    let term_at = Instant::now();
    let limit = Duration::from_secs(cfg.stop_timeout_seconds + 10);
    let (term_exit_s, term_exit_status) = match tokio::time::timeout(limit, child.wait()).await {
        Ok(Ok(st)) => (Some(term_at.elapsed().as_secs_f64()), st.to_string()),
        Ok(Err(e)) => (None, format!("wait failed: {e}")),
        Err(_) => {
            let _ = child.kill().await;
            (None, "killed after stop timeout + 10 s".into())
        }
    };
    let r = load_task.await.unwrap_or_default();
    let delivered = settle(&up, before + r.accepted).await - before;
    let term = Phase {
        seconds: r.elapsed.as_secs_f64(),
        accepted: r.accepted,
        refused: r.refused,
        delivered,
        lost: r.accepted as i64 - delivered as i64,
    };
    let drop_warnings = std::fs::read_to_string(&log_path)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("drop") || l.contains("lost"))
        .take(20)
        .map(str::to_owned)
        .collect();
    let _ = std::fs::remove_dir_all(&dir);
    Ok(SidecarSoakReport {
        config: cfg,
        capacity_spans_per_s,
        rate_spans_per_s: rate,
        capacity,
        soak,
        rss,
        term,
        term_exit_s,
        term_exit_status,
        drop_warnings,
        upstream: up.snapshot(),
    })
}
