//! `lambda-sim`: run a Lambda function and its layer in the local simulator.
//!
//! ```text
//! lambda-sim --layer DIR --invokes N [--events FILE] [--timeout-ms N] [--memory-mb N]
//!            [--managed-instances WORKERS] [--env K=V]... -- <function command...>
//! ```
//!
//! Prints one JSON report line per init, invoke and shutdown to stdout;
//! the processes' output and human messages go to stderr.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Parser;
use otel_aws_testkit::lambda_sim::{ReportLine, SimConfig, Simulator, from_json_lines, generated};

/// Run a Lambda function (and the external extensions of a layer) in a
/// faithful local Lambda: Runtime, Extensions and Telemetry APIs, freezing
/// between invokes, SHUTDOWN with deadline.
#[derive(Parser, Debug)]
#[command(name = "lambda-sim", version)]
struct Args {
    /// Unpacked layer directory (its `extensions/*` executables are started).
    #[arg(long)]
    layer: Option<PathBuf>,
    /// Number of invokes (default: 1, or one per line of --events).
    #[arg(long)]
    invokes: Option<usize>,
    /// JSON-lines file: one event per line (cycled when --invokes is larger).
    #[arg(long)]
    events: Option<PathBuf>,
    /// Function timeout in milliseconds.
    #[arg(long, default_value_t = 3000)]
    timeout_ms: u64,
    /// Function memory size in MB.
    #[arg(long, default_value_t = 128)]
    memory_mb: u32,
    /// Extra environment variable for the function and extensions (repeatable).
    #[arg(long = "env", value_name = "K=V")]
    env: Vec<String>,
    /// Function name.
    #[arg(long, default_value = "lambda-sim-function")]
    function_name: String,
    /// Region.
    #[arg(long, default_value = "us-east-1")]
    region: String,
    /// `_HANDLER`.
    #[arg(long, default_value = "bootstrap")]
    handler: String,
    /// `AWS_LAMBDA_EXEC_WRAPPER`: run as `<wrapper> <function command...>`.
    #[arg(long)]
    exec_wrapper: Option<PathBuf>,
    /// Milliseconds the environment stays frozen between invokes.
    #[arg(long, default_value_t = 0)]
    gap_ms: u64,
    /// Lambda Managed Instances with this many runtime workers: invokes are
    /// served concurrently, never frozen, no INVOKE for extensions
    /// (--gap-ms is then the gap between invoke arrivals).
    #[arg(long, value_name = "WORKERS")]
    managed_instances: Option<usize>,
    /// Do not copy the processes' output to stderr.
    #[arg(long)]
    quiet: bool,
    /// The runtime command (after `--`).
    #[arg(last = true, required = true)]
    function: Vec<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut cfg = SimConfig::new(args.function.clone());
    cfg.layer_dir = args.layer.clone();
    cfg.timeout = Duration::from_millis(args.timeout_ms);
    cfg.memory_mb = args.memory_mb;
    cfg.function_name = args.function_name.clone();
    cfg.region = args.region.clone();
    cfg.handler = args.handler.clone();
    cfg.exec_wrapper = args.exec_wrapper.clone();
    cfg.forward_output = !args.quiet;
    cfg.managed_workers = args.managed_instances.unwrap_or(0);
    for kv in &args.env {
        let Some((k, v)) = kv.split_once('=') else {
            bail!("--env {kv:?} must be KEY=VALUE");
        };
        cfg.env.push((k.to_string(), v.to_string()));
    }
    cfg.invokes = match &args.events {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read --events {}", path.display()))?;
            from_json_lines(&text, args.invokes)
                .with_context(|| format!("--events {}", path.display()))?
        }
        None => generated(args.invokes.unwrap_or(1)),
    };
    for spec in cfg.invokes.iter_mut().skip(1) {
        spec.frozen_before = Duration::from_millis(args.gap_ms);
    }
    cfg.on_report = Some(Arc::new(|line: &ReportLine| {
        if let Ok(json) = serde_json::to_string(line) {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{json}");
            let _ = out.flush();
        }
    }));

    let report = Simulator::run(cfg).await?;
    let ok = report
        .invokes
        .iter()
        .filter(|i| i.status == otel_aws_testkit::lambda_sim::Status::Success)
        .count();
    eprintln!(
        "lambda-sim: init {:.1} ms ({:?}), {ok}/{} invokes succeeded, shutdown {:.1} ms{}",
        report.init.init_duration_ms,
        report.init.status,
        report.invokes.len(),
        report.shutdown.duration_ms,
        if report.shutdown.timed_out.is_empty() {
            String::new()
        } else {
            format!(
                " (past the deadline: {})",
                report.shutdown.timed_out.join(", ")
            )
        }
    );
    Ok(())
}
