//! `otel-aws`: see what the otel-aws distro will do on this host.

use std::process::ExitCode;

use clap::Parser;
use otel_aws_distro::Env;
use otel_aws_distro::cli::{Cli, run};

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut stdout = std::io::stdout().lock();
    match run(cli, &Env::from_process(), &mut stdout).await {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("otel-aws: {e}");
            ExitCode::from(2)
        }
    }
}
