//! `otel-aws-sidecar`: parses the command line, loads the config, runs the
//! sidecar until SIGTERM / Ctrl-C. Logic lives in the library.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use otel_aws_distro::Env;
use otel_aws_sidecar::config::{Config, DEFAULT_CONFIG_PATH, parse_duration};
use otel_aws_sidecar::service::DEFAULT_STOP_TIMEOUT;
use otel_aws_sidecar::{Sidecar, SidecarOptions, healthcheck};

/// mimalloc instead of the C library's malloc: the static musl build's
/// allocator returns freed pages to the kernel and faults them in again for
/// every batch (docs/benchmarks.md, "ECS sidecar").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Small collector for ECS tasks: OTLP and legacy X-Ray traffic in, export to X-Ray.
#[derive(Parser, Debug)]
#[command(version)]
struct Cli {
    /// Config file (OpenTelemetry Collector YAML). OTEL_AWS_CONFIG_CONTENT (inline YAML) wins when set.
    #[arg(long, global = true, default_value = DEFAULT_CONFIG_PATH)]
    config: String,
    /// Check the configuration and exit (0 when valid).
    #[arg(long)]
    validate: bool,
    /// Longest graceful drain on SIGTERM, e.g. 10s (keep it below the task's stopTimeout).
    #[arg(long, env = "OTEL_AWS_STOP_TIMEOUT", value_parser = duration)]
    stop_timeout: Option<Duration>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Probe the health endpoint (for the image's HEALTHCHECK): exit 0 when healthy, 1 otherwise.
    Healthcheck {
        /// URL to probe (default: the health_check extension of the config, else http://127.0.0.1:13133/).
        #[arg(long)]
        url: Option<String>,
    },
}

fn duration(s: &str) -> Result<Duration, String> {
    // clap names the flag only; the value may come from the variable.
    parse_duration(s).ok_or_else(|| {
        "not a duration such as 10s or 1m30s (from --stop-timeout or OTEL_AWS_STOP_TIMEOUT)".into()
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let env = Env::from_process();
    if let Some(Command::Healthcheck { url }) = &cli.command {
        return healthcheck_main(&cli, &env, url.clone());
    }
    // Loading warns (an unset `${env:VAR}` becomes ""): logs are configured
    // by the config itself, so warnings while loading go to stderr here.
    let loading_logs = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::new("warn"))
        .finish();
    let loaded =
        tracing::subscriber::with_default(loading_logs, || Config::load(&cli.config, &env));
    let (cfg, origin) = match loaded {
        Ok(c) => c,
        Err(e) => {
            eprintln!("otel-aws-sidecar: invalid configuration: {e}");
            return ExitCode::from(2);
        }
    };
    if cli.validate {
        println!(
            "{origin}: valid ({} pipeline(s), {} receiver(s), {} exporter(s))",
            cfg.service.pipelines.len(),
            cfg.receivers.len(),
            cfg.exporters.len()
        );
        return ExitCode::SUCCESS;
    }
    init_logs(&cfg, &env);
    match otel_aws_sidecar::service::raise_open_files_limit() {
        Ok(n) => tracing::debug!(open_files = n, "open-file limit"),
        Err(e) => tracing::warn!(error = %e, "cannot raise the open-file limit"),
    }
    match run(cfg, env, cli.stop_timeout.unwrap_or(DEFAULT_STOP_TIMEOUT)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("otel-aws-sidecar: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Log lines at `service.telemetry.logs.level`, or `RUST_LOG` when set. A
/// `RUST_LOG` that does not parse whole is not applied in part
/// (`EnvFilter::new` would drop its bad directives one by one, and drop to
/// ERROR when none is left): the level of the config is used, and a
/// warning names the variable.
fn init_logs(cfg: &Config, env: &Env) {
    use tracing_subscriber::EnvFilter;
    let level = cfg.service.telemetry.logs.level.as_filter();
    let (filter, refused) = match env.get("RUST_LOG").map(EnvFilter::try_new) {
        Some(Ok(f)) => (f, None),
        Some(Err(e)) => (EnvFilter::new(level), Some(e)),
        None => (EnvFilter::new(level), None),
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
    if let Some(e) = refused {
        tracing::warn!(
            "RUST_LOG is not a valid tracing filter ({e}): use directives like `info` or `otel_aws=debug,info`; logging at service.telemetry.logs.level ({level})"
        );
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    // Worker threads follow the CPUs this process may use (taskset / cgroup aware).
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the tokio runtime")
}

fn run(cfg: Config, env: Env, stop_timeout: Duration) -> anyhow::Result<()> {
    runtime()?.block_on(async move {
        let sidecar = Sidecar::start(&cfg, SidecarOptions { env, stop_timeout }).await?;
        tracing::info!("otel-aws-sidecar started");
        wait_for_signal().await?;
        tracing::info!(?stop_timeout, "stopping: draining accepted spans");
        let telemetry = sidecar.telemetry();
        if sidecar.shutdown().await {
            tracing::info!("stopped");
            return Ok(());
        }
        let lost = telemetry
            .get("service/shutdown")
            .map_or(0, |c| c.dropped);
        anyhow::bail!("the stop timeout ({stop_timeout:?}) cut the drain short: {lost} accepted span(s) were not exported")
    })
}

async fn wait_for_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
    tokio::select! {
        _ = term.recv() => {}
        r = tokio::signal::ctrl_c() => r.context("cannot listen for Ctrl-C")?,
    }
    Ok(())
}

fn healthcheck_main(cli: &Cli, env: &Env, url: Option<String>) -> ExitCode {
    let url = url.unwrap_or_else(|| {
        let cfg = Config::load(&cli.config, env).ok().map(|(c, _)| c);
        healthcheck::health_url(cfg.as_ref())
    });
    let result = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
        .and_then(|rt| rt.block_on(healthcheck::probe(&url, Duration::from_secs(3))));
    match result {
        Ok(line) => {
            println!("healthy: {line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("unhealthy: {e}");
            ExitCode::FAILURE
        }
    }
}
