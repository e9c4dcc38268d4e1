//! `otel-aws-extension`: the Lambda external extension (see the crate docs).

use otel_aws_distro::Env;
use otel_aws_lambda::config::ExtensionConfig;

fn main() -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let env = Env::from_process();
    let cfg = ExtensionConfig::from_env(&env)?;
    // The extension's crates only (`otel_aws_*`), at OTEL_LOG_LEVEL.
    let filter =
        tracing_subscriber::EnvFilter::builder().parse(format!("otel_aws={}", cfg.log_level))?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .without_time() // Lambda's log pipeline timestamps every line
        .init();
    cfg.log_warnings();
    // One thread: the work is I/O-bound and a second thread costs memory and
    // start-up time in a 128 MB function.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(otel_aws_lambda::extension::run_since(cfg, started))?;
    Ok(())
}
