//! Lambda soak: lambda-sim runs the real extension (from a layer folder) and
//! the test function for many invokes — every one followed by a freeze —
//! while the upstream is a [`ChaosEndpoint`]: random `503`s, latency spikes,
//! a hanging period and a period where the execution role's credentials are
//! refused as expired.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use otel_aws_testkit::chaos::{ChaosEndpoint, ChaosOptions, ChaosSnapshot};
use otel_aws_testkit::lambda_sim::{InvokeSpec, ReportLine, SimConfig, SimCredentials, Simulator};
use otel_aws_testkit::ports::free_addr;
use otel_aws_testkit::sigv4::{Credentials, SigV4Expect};

use super::rss::{RssSampler, RssSummary, summarize};
use super::{SoakError, binary, knob, quantile};

/// Settings of a Lambda soak (each from a `SOAK_*` variable).
#[derive(Clone, Debug, serde::Serialize)]
pub struct LambdaSoakConfig {
    /// `SOAK_INVOKES`: number of invokes (default 10,000).
    pub invokes: usize,
    /// `SOAK_CHILD_SPANS`: child spans per invoke (each invoke also has its root span).
    pub child_spans: usize,
    /// `SOAK_503_PERCENT`: requests answered 503 at random (default 5).
    pub error_percent: f64,
    /// `SOAK_SPIKE_PERCENT`: requests delayed by a latency spike (default 1).
    pub spike_percent: f64,
    /// `SOAK_SPIKE_MS`: length of a spike (default 1500).
    pub spike_ms: u64,
    /// `SOAK_HANG_SECONDS`: the backend hangs this long, starting at 40 % of the invokes (default 10).
    pub hang_seconds: u64,
    /// `SOAK_EXPIRED_SECONDS`: the credentials are refused as expired this long, from 70 % (default 5).
    pub expired_seconds: u64,
    /// `SOAK_GAP_MS`: how long the environment stays frozen between invokes (default 0).
    pub gap_ms: u64,
    /// `SOAK_FLUSH`: `OTEL_AWS_LAMBDA_FLUSH` for the extension (default: unset, the shipped `adaptive`).
    pub flush: Option<String>,
    /// `SOAK_EXTENSION`: the extension binary (default `<target>/debug/otel-aws-extension`).
    pub extension: PathBuf,
    /// `SOAK_FUNCTION`: the function binary (default `<target>/debug/otel-aws-test-function`).
    pub function: PathBuf,
}

impl LambdaSoakConfig {
    /// Reads the `SOAK_*` variables.
    pub fn from_env() -> Result<Self, SoakError> {
        Ok(Self {
            invokes: knob("SOAK_INVOKES", 10_000, "1000")?,
            child_spans: knob("SOAK_CHILD_SPANS", 3, "3")?,
            error_percent: knob("SOAK_503_PERCENT", 5.0, "5")?,
            spike_percent: knob("SOAK_SPIKE_PERCENT", 1.0, "1")?,
            spike_ms: knob("SOAK_SPIKE_MS", 1500, "1500")?,
            hang_seconds: knob("SOAK_HANG_SECONDS", 10, "10")?,
            expired_seconds: knob("SOAK_EXPIRED_SECONDS", 5, "5")?,
            gap_ms: knob("SOAK_GAP_MS", 0, "10")?,
            flush: std::env::var("SOAK_FLUSH")
                .ok()
                .filter(|v| !v.trim().is_empty()),
            extension: binary("SOAK_EXTENSION", "debug", "otel-aws-extension")?,
            function: binary("SOAK_FUNCTION", "debug", "otel-aws-test-function")?,
        })
    }
}

/// What a Lambda soak measured.
#[derive(Clone, Debug, serde::Serialize)]
pub struct LambdaSoakReport {
    /// The settings.
    pub config: LambdaSoakConfig,
    /// Wall time, seconds.
    pub elapsed_s: f64,
    /// Invokes by status (`success`, `timeout`, ...).
    pub statuses: HashMap<String, usize>,
    /// Environment resets.
    pub resets: usize,
    /// Spans the function produced: invokes × (1 + child spans).
    pub spans_sent: u64,
    /// Distinct spans the backend accepted.
    pub spans_received_unique: u64,
    /// Spans the backend accepted more than once (retries of a request it had answered).
    pub duplicates: u64,
    /// `spans_sent − spans_received_unique`.
    pub spans_lost: i64,
    /// The extension's own counters (its stats file), as it wrote them last.
    pub extension_stats: serde_json::Value,
    /// The endpoint's counters.
    pub backend: ChaosSnapshot,
    /// Post-runtime extension time per invoke, p50 / p99 / max, ms.
    pub post_runtime_ms: [f64; 3],
    /// Invoke duration (what the caller waits), p50 / p99, ms.
    pub duration_ms: [f64; 2],
    /// Extension RSS over the run.
    pub extension_rss: RssSummary,
    /// Processes left after the SHUTDOWN deadline.
    pub shutdown_timed_out: Vec<String>,
}

/// A layer folder with the extension symlinked in, removed on drop.
struct Layer(PathBuf);

impl Layer {
    fn new(extension: &std::path::Path) -> Result<Self, SoakError> {
        let dir = std::env::temp_dir().join(format!("otel-aws-soak-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let io = |what: &str| {
            let what = what.to_owned();
            move |source| SoakError::Io { what, source }
        };
        std::fs::create_dir_all(dir.join("layer/extensions"))
            .map_err(io("creating the layer folder"))?;
        std::os::unix::fs::symlink(extension, dir.join("layer/extensions/otel-aws-extension"))
            .map_err(io("linking the extension into the layer"))?;
        Ok(Self(dir))
    }
}

impl Drop for Layer {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn per_10k(percent: f64) -> u32 {
    (percent * 100.0).round().clamp(0.0, 10_000.0) as u32
}

/// Runs the Lambda soak.
pub async fn run(cfg: LambdaSoakConfig) -> Result<LambdaSoakReport, SoakError> {
    let creds = Credentials::test();
    let backend = ChaosEndpoint::start(ChaosOptions {
        sigv4: Some(SigV4Expect::test("us-east-1", "xray")),
        error_per_10k: per_10k(cfg.error_percent),
        spike_per_10k: per_10k(cfg.spike_percent),
        spike: Duration::from_millis(cfg.spike_ms),
        track_unique: true,
    })
    .await
    .map_err(|e| SoakError::Sim(format!("chaos endpoint: {e}")))?;
    let control = backend.control();
    let layer = Layer::new(&cfg.extension)?;
    let stats_file = layer.0.join("stats.json");

    let pids = Arc::new(Mutex::new(Vec::<u32>::new()));
    let sampler = RssSampler::start(Arc::clone(&pids), Duration::from_millis(500));
    let frozen = Arc::new(AtomicUsize::new(0));
    let (hang_at, expire_at) = (cfg.invokes * 2 / 5, cfg.invokes * 7 / 10);
    let (hang, expire) = (
        Duration::from_secs(cfg.hang_seconds),
        Duration::from_secs(cfg.expired_seconds),
    );
    let (ctl, n_frozen) = (control.clone(), Arc::clone(&frozen));
    let on_pids = Arc::clone(&pids);
    let event = serde_json::json!({ "spans": cfg.child_spans });

    let mut sim = SimConfig::new([cfg.function.to_string_lossy().into_owned()])
        .with_layer(layer.0.join("layer"))
        .with_env("OTEL_AWS_LAMBDA_HTTP_ADDR", free_addr())
        .with_env("OTEL_AWS_LAMBDA_GRPC_ADDR", free_addr())
        .with_env("OTEL_AWS_LAMBDA_CONTROL_ADDR", free_addr())
        .with_env("OTEL_AWS_LAMBDA_TELEMETRY_ADDR", "127.0.0.1:0")
        .with_env("OTEL_AWS_LOG_FORMAT", "text")
        .with_env("OTEL_LOG_LEVEL", "warn")
        .with_env("OTEL_AWS_LAMBDA_EXPORTER_ENDPOINT", backend.traces_url())
        .with_env("OTEL_AWS_SIGV4", "true")
        .with_env("OTEL_AWS_LAMBDA_STATS_FILE", stats_file.to_string_lossy())
        .on_frozen(move |_inv| {
            // Counted per freeze: the faults start at a fixed share of the run.
            let i = n_frozen.fetch_add(1, Ordering::Relaxed) + 1;
            if i == hang_at && !hang.is_zero() {
                eprintln!("soak: invoke {i}: the backend hangs for {hang:?}");
                ctl.hang_for(hang);
            }
            if i == expire_at && !expire.is_zero() {
                eprintln!("soak: invoke {i}: credentials refused as expired for {expire:?}");
                ctl.expire_for(expire);
            }
            if i % 1000 == 0 {
                eprintln!("soak: {i} invokes");
            }
        });
    sim.on_report = Some(Arc::new(move |line: &ReportLine| {
        if let ReportLine::Init(init) = line {
            let mut p = on_pids.lock().unwrap_or_else(|e| e.into_inner());
            *p = init.extension_pids.iter().map(|(_, pid)| *pid).collect();
        }
    }));
    if let Some(flush) = &cfg.flush {
        sim = sim.with_env("OTEL_AWS_LAMBDA_FLUSH", flush);
    }
    sim.credentials = SimCredentials {
        access_key_id: creds.access_key_id,
        secret_access_key: creds.secret_access_key,
        session_token: creds.session_token,
    };
    sim.forward_output = std::env::var_os("SOAK_VERBOSE").is_some();
    sim.invokes = (0..cfg.invokes)
        .map(|_| {
            let mut spec = InvokeSpec::json(&event);
            spec.frozen_before = Duration::from_millis(cfg.gap_ms);
            spec
        })
        .collect();

    let start = Instant::now();
    let report = Simulator::run(sim)
        .await
        .map_err(|e| SoakError::Sim(e.to_string()))?;
    let elapsed_s = start.elapsed().as_secs_f64();
    let rss = summarize(&sampler.samples(), 5.0);
    drop(sampler);

    let mut statuses = HashMap::new();
    for inv in &report.invokes {
        *statuses.entry(inv.status.as_str().to_owned()).or_insert(0) += 1;
    }
    let post: Vec<f64> = report
        .invokes
        .iter()
        .map(|i| i.post_runtime_extension_ms)
        .collect();
    let dur: Vec<f64> = report.invokes.iter().map(|i| i.duration_ms).collect();
    let backend_counts = control.snapshot();
    let spans_sent = (cfg.invokes * (1 + cfg.child_spans)) as u64;
    let extension_stats = std::fs::read(&stats_file)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(serde_json::Value::Null);
    Ok(LambdaSoakReport {
        elapsed_s,
        resets: report.invokes.iter().filter(|i| i.reset).count(),
        statuses,
        spans_sent,
        spans_received_unique: backend_counts.unique_spans,
        duplicates: backend_counts
            .spans
            .saturating_sub(backend_counts.unique_spans),
        spans_lost: spans_sent as i64 - backend_counts.unique_spans as i64,
        extension_stats,
        backend: backend_counts,
        post_runtime_ms: [
            quantile(&post, 0.5),
            quantile(&post, 0.99),
            quantile(&post, 1.0),
        ],
        duration_ms: [quantile(&dur, 0.5), quantile(&dur, 0.99)],
        extension_rss: rss,
        shutdown_timed_out: report.shutdown.timed_out.clone(),
        config: cfg,
    })
}
