//! A faithful local AWS Lambda execution environment, for tests and people.
//!
//! The simulator serves the Runtime API (2018-06-01), the Extensions API
//! (2020-01-01) and the Telemetry API (2022-07-01) on `127.0.0.1:<port>`
//! as `spec/lambda.md` describes them, starts the layer's external
//! extensions (`<layer>/extensions/*`) and then the function's runtime
//! command with Lambda's environment variables, and drives a scripted
//! sequence of invokes. Between invokes the environment is **frozen**:
//! once the runtime and every extension have called `next`, every process
//! gets SIGSTOP (and SIGCONT on the next invoke). It ends with SHUTDOWN,
//! waits up to the deadline (2,000 ms with external extensions, else
//! 500 ms) and SIGKILLs what is left. A function that overruns its timeout
//! gets status `timeout` and the environment is reset (SHUTDOWN with reason
//! `timeout`, then a fresh init for the next invoke), as in Lambda.
//!
//! ```no_run
//! # async fn demo() -> Result<(), otel_aws_testkit::lambda_sim::SimError> {
//! use otel_aws_testkit::lambda_sim::{SimConfig, Simulator};
//! let cfg = SimConfig::new(["/path/to/bootstrap"])
//!     .with_layer("/path/to/unpacked-layer")
//!     .with_invokes(3)
//!     .on_frozen(|invoke| {
//!         // Every process is stopped now: inspect a fake backend here.
//!         println!("{} frozen", invoke.request_id);
//!     });
//! let report = Simulator::run(cfg).await?;
//! assert_eq!(report.invokes.len(), 3);
//! # Ok(()) }
//! ```
//!
//! The `lambda-sim` binary is the same thing on the command line (see
//! `docs/lambda-sim.md`).

mod config;
mod extensions_api;
mod freeze;
mod invoke;
mod lifecycle;
mod process;
pub mod procfs;
mod report;
mod runtime_api;
mod state;
mod telemetry_api;

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::watch;

pub use config::{FrozenHook, ReportHook, SimConfig, SimCredentials};
pub use invoke::{InvokeSpec, InvokeSpecError, epoch_ms, from_json_lines, generated, trace_header};
pub use lifecycle::{SHUTDOWN_EXTERNAL, SHUTDOWN_INTERNAL_ONLY};
pub use report::{
    ExtensionInfo, InitReport, InvokeReport, ReportLine, ShutdownReport, SimReport, Status,
};
pub use runtime_api::MAX_RESPONSE_BYTES;
pub use telemetry_api::TelemetryStats;

use crate::server::{RunningServer, ServerError};
use lifecycle::Driver;
use state::{Sandbox, Shared};
use telemetry_api::TelemetryHub;

/// Errors that stop a simulator run before it can report.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// No runtime command was given.
    #[error("no function command: pass the runtime command (e.g. `lambda-sim ... -- ./bootstrap`)")]
    NoFunction,
    /// The layer directory is unusable.
    #[error("layer: {0}")]
    Layer(String),
    /// A process could not be started.
    #[error("cannot start {what}: {source}; check the path and that it is executable")]
    Spawn {
        /// Which process.
        what: String,
        /// Why.
        source: std::io::Error,
    },
    /// The API server could not start.
    #[error(transparent)]
    Server(#[from] ServerError),
}

/// Static facts about the function the APIs hand out.
pub(crate) struct FunctionInfo {
    pub function_name: String,
    pub function_version: String,
    pub handler: String,
    pub account_id: String,
}

/// What the API handlers share.
pub(crate) struct Ctx {
    pub sandbox: Shared,
    pub telemetry: TelemetryHub,
    pub info: FunctionInfo,
    /// [`SimConfig::telemetry_unavailable`].
    pub telemetry_unavailable: bool,
}

/// The simulator.
#[derive(Debug)]
pub struct Simulator;

impl Simulator {
    /// Runs init, every scripted invoke and SHUTDOWN; returns the report.
    ///
    /// An init that fails is reported (`report.init.status`) and ends the
    /// run with a shutdown; so does a failed re-init after a reset (the
    /// remaining invokes are not run).
    pub async fn run(cfg: SimConfig) -> Result<SimReport, SimError> {
        if cfg.function.is_empty() {
            return Err(SimError::NoFunction);
        }
        let extensions = process::list_extensions(cfg.layer_dir.as_deref())?;
        let (sandbox, _) = watch::channel(Sandbox::new(Vec::new(), 0));
        let (frozen_tx, frozen_rx) = watch::channel(false);
        let ctx = Arc::new(Ctx {
            sandbox: Arc::new(sandbox),
            telemetry: TelemetryHub::new(frozen_rx),
            info: FunctionInfo {
                function_name: cfg.function_name.clone(),
                function_version: cfg.function_version.clone(),
                handler: cfg.handler.clone(),
                account_id: cfg.account_id.clone(),
            },
            telemetry_unavailable: cfg.telemetry_unavailable,
        });
        let router = runtime_api::routes()
            .merge(extensions_api::routes())
            .merge(telemetry_api::routes())
            .with_state(ctx.clone());
        let server = RunningServer::start(router).await?;
        let mut driver = Driver::new(&ctx, &cfg, frozen_tx, server.addr().to_string(), extensions);

        let mut lines = Vec::new();
        let record = |line: ReportLine, lines: &mut Vec<ReportLine>| {
            if let Some(hook) = &cfg.on_report {
                hook(&line);
            }
            lines.push(line);
        };

        let (first_env, init) = driver.init("init").await?;
        record(ReportLine::Init(init.clone()), &mut lines);
        let mut invokes = Vec::new();
        let mut last_shutdown = None;
        let mut env = Some(first_env);
        if init.status != Status::Success
            && let Some(e) = env.take()
        {
            let sd = driver.shutdown(&e, "failure").await;
            record(ReportLine::Shutdown(sd.clone()), &mut lines);
            last_shutdown = Some(sd);
        }
        let mut pending_init = Some(init.init_duration_ms);
        let mut frozen_since: Option<Instant> = None;

        if cfg.managed_workers > 0 && init.status == Status::Success {
            // Managed Instances: concurrent invokes, no freeze, no resets.
            let reports = driver
                .invoke_managed(&cfg.invokes, cfg.on_report.clone())
                .await;
            for r in &reports {
                lines.push(ReportLine::Invoke(r.clone()));
            }
            invokes = reports;
        }
        let scripted: &[InvokeSpec] = if cfg.managed_workers > 0 {
            &[]
        } else {
            &cfg.invokes
        };
        for (index, spec) in scripted.iter().enumerate() {
            if init.status != Status::Success {
                break;
            }
            if env.is_none() {
                // After a reset Lambda initialises a fresh environment for the next invoke.
                let (e, re) = driver.init("invoke").await?;
                record(ReportLine::Init(re.clone()), &mut lines);
                if re.status != Status::Success {
                    let sd = driver.shutdown(&e, "failure").await;
                    record(ReportLine::Shutdown(sd.clone()), &mut lines);
                    last_shutdown = Some(sd);
                    break;
                }
                pending_init = Some(re.init_duration_ms);
                frozen_since = None;
                env = Some(e);
            }
            let Some(e) = env.as_ref() else { break };
            let mut frozen_before_ms = 0.0;
            if let Some(since) = frozen_since.take() {
                tokio::time::sleep(spec.frozen_before).await;
                frozen_before_ms = since.elapsed().as_secs_f64() * 1000.0;
                driver.thaw(e);
            } else {
                tokio::time::sleep(spec.frozen_before).await;
            }
            let mut report = driver
                .invoke(e, index, spec, pending_init.take(), frozen_before_ms)
                .await;
            if report.reset {
                record(ReportLine::Invoke(report.clone()), &mut lines);
                invokes.push(report.clone());
                let reason = if report.status == Status::Timeout {
                    "timeout"
                } else {
                    "failure"
                };
                if let Some(e) = env.take() {
                    let sd = driver.shutdown(&e, reason).await;
                    record(ReportLine::Shutdown(sd.clone()), &mut lines);
                    last_shutdown = Some(sd);
                }
                continue;
            }
            driver.freeze(e, &mut report).await;
            frozen_since = Some(Instant::now());
            if let Some(hook) = &cfg.on_frozen {
                hook(&report);
            }
            record(ReportLine::Invoke(report.clone()), &mut lines);
            invokes.push(report);
        }

        if let Some(e) = env.take() {
            if frozen_since.is_some() {
                tokio::time::sleep(cfg.frozen_before_shutdown).await;
            }
            let sd = driver.shutdown(&e, "spindown").await;
            record(ReportLine::Shutdown(sd.clone()), &mut lines);
            last_shutdown = Some(sd);
        }
        let shutdown = last_shutdown.unwrap_or_else(|| ShutdownReport {
            reason: "spindown".into(),
            deadline_ms: 0,
            duration_ms: 0.0,
            timed_out: Vec::new(),
            killed: Vec::new(),
            acknowledged: Vec::new(),
        });
        drop(server);
        Ok(SimReport {
            init,
            invokes,
            shutdown,
            lines,
            telemetry: ctx.telemetry.stats(),
        })
    }
}
