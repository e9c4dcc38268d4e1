//! The `otel-aws` command-line tool: what the distro will do on this host.
//!
//! `src/bin/otel-aws.rs` only parses arguments and calls [`run`]; each
//! command lives in its own file and writes to the given output so tests
//! can run it in-process or as a real binary.

mod doctor;
mod header;
mod send;
mod show;
pub mod translate;
pub mod tree;

use std::io::Write;

use clap::{Parser, Subcommand};

use crate::Env;

/// Errors the CLI reports (exit status 1 or 2).
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// Telemetry could not be set up.
    #[error(transparent)]
    Init(#[from] crate::InitError),
    /// Writing the output failed.
    #[error("cannot write output: {0}")]
    Io(#[from] std::io::Error),
    /// JSON output failed.
    #[error("cannot encode JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// A command ran and failed for the given reason.
    #[error("{0}")]
    Failed(String),
}

/// `otel-aws`: see what the otel-aws distro will do on this host.
#[derive(Debug, Parser)]
#[command(name = "otel-aws", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the resource the detectors produce here.
    Detect {
        /// Print a JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Print the effective configuration and where each value came from.
    Config {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Decode an X-Amzn-Trace-Id or W3C traceparent value and print both forms.
    Header {
        /// The header value; `-` reads it from standard input.
        value: String,
        /// Print `{"valid","trace_id","span_id","sampled"}` as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Send one small trace through the configured exporter.
    SendTestSpan,
    /// Check region, credentials, exporter, endpoint and the account's trace destination.
    Doctor {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Print the traces in an OTLP/JSON-lines file (the `file` exporter's output) as trees.
    Tree {
        /// The file.
        path: std::path::PathBuf,
    },
    /// Translate X-Ray segment documents (daemon payloads, PutTraceSegments bodies, JSON lines)
    /// into the OTLP spans the distro makes of them; `--to-segments` the reverse.
    Translate(translate::TranslateArgs),
}

/// Runs a parsed command; returns the process exit status.
pub async fn run(cli: Cli, env: &Env, out: &mut dyn Write) -> Result<u8, CliError> {
    match cli.command {
        Command::Detect { json } => show::detect(env, json, out).await,
        Command::Config { json } => show::config(env, json, out),
        Command::Header { value, json } => {
            let value = if value == "-" {
                let mut buf = String::new();
                std::io::Read::read_to_string(&mut std::io::stdin(), &mut buf)?;
                buf.trim_end_matches(['\n', '\r']).to_string()
            } else {
                value
            };
            header::run(&value, json, out)
        }
        Command::SendTestSpan => send::run(env, out).await,
        Command::Doctor { json } => doctor::run(env, json, out).await,
        Command::Tree { path } => tree::run(&path, out),
        Command::Translate(args) => translate::run(&args, env, out, &mut std::io::stderr().lock()),
    }
}
