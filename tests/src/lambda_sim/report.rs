//! What the simulator reports: one line per init, invoke and shutdown.
//!
//! Durations are milliseconds (`f64`); wall-clock moments are epoch
//! milliseconds in JSON and [`SystemTime`]/[`Instant`] in Rust.

use std::time::{Instant, SystemTime};

use serde::Serialize;

use super::telemetry_api::TelemetryStats;

/// Outcome of an init or an invoke, as Lambda names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Completed.
    Success,
    /// The function (or an extension) reported an error.
    Error,
    /// A process crashed or the environment failed.
    Failure,
    /// The deadline passed.
    Timeout,
}

impl Status {
    /// The Telemetry API spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Success => "success",
            Status::Error => "error",
            Status::Failure => "failure",
            Status::Timeout => "timeout",
        }
    }
}

/// An extension as it registered.
#[derive(Clone, Debug, Serialize)]
pub struct ExtensionInfo {
    /// `Lambda-Extension-Name`.
    pub name: String,
    /// Registered events.
    pub events: Vec<String>,
    /// Started from the layer (else registered from inside the runtime).
    pub external: bool,
}

/// The init phase of one environment (the first, or a re-init after a reset).
#[derive(Clone, Debug, Serialize)]
pub struct InitReport {
    /// `"init"` for the first environment, `"invoke"` for a re-init after a reset.
    pub phase: String,
    /// Outcome.
    pub status: Status,
    /// Error type when not successful (`Runtime.ExitError`, `Extension.Crash`, ...).
    pub error_type: Option<String>,
    /// Start of init to the last `next` of runtime and extensions (Lambda's `initDurationMs`).
    pub init_duration_ms: f64,
    /// Start of init to the last external extension registered (runtime start).
    pub extensions_registered_ms: f64,
    /// Start of init to the runtime's first `next`.
    pub runtime_ready_ms: f64,
    /// The extensions that registered.
    pub extensions: Vec<ExtensionInfo>,
    /// Pid of the runtime process.
    pub runtime_pid: Option<u32>,
    /// Pids of the external extension processes, by file name.
    pub extension_pids: Vec<(String, u32)>,
}

/// One invoke.
#[derive(Clone, Debug, Serialize)]
pub struct InvokeReport {
    /// 0-based position in the script.
    pub index: usize,
    /// `Lambda-Runtime-Aws-Request-Id`.
    pub request_id: String,
    /// `Lambda-Runtime-Trace-Id` sent with the invoke.
    pub trace_header: String,
    /// `Lambda-Runtime-Deadline-Ms`.
    pub deadline_ms: u64,
    /// Outcome (Lambda's `platform.report` status).
    pub status: Status,
    /// Error type (from `Lambda-Runtime-Function-Error-Type`, or the simulator's).
    pub error_type: Option<String>,
    /// What the runtime posted to `/response` or `/error` (lossy UTF-8).
    pub response_body: Option<String>,
    /// Invoke start to the runtime's response POST: what the caller waits.
    pub duration_ms: f64,
    /// Invoke start to the runtime's `next` (`platform.runtimeDone` `durationMs`).
    pub runtime_duration_ms: f64,
    /// Runtime's response POST to the last extension `next` (0 without extensions).
    pub post_runtime_extension_ms: f64,
    /// Invoke start to the moment the environment is done (`platform.report` `durationMs`).
    pub total_duration_ms: f64,
    /// `billedDurationMs`.
    pub billed_duration_ms: u64,
    /// `maxMemoryUsedMB`: peak RSS of the environment's processes.
    pub max_memory_used_mb: u64,
    /// `initDurationMs` on the first invoke of an environment.
    pub init_duration_ms: Option<f64>,
    /// How long the environment was frozen before this invoke thawed it.
    pub frozen_before_ms: f64,
    /// When the environment was frozen after this invoke (epoch ms); `None` after a reset.
    pub frozen_at_ms: Option<f64>,
    /// Same moment, wall clock.
    #[serde(skip)]
    pub frozen_at: Option<SystemTime>,
    /// Same moment, monotonic.
    #[serde(skip)]
    pub frozen_at_instant: Option<Instant>,
    /// Pids that were stopped.
    pub frozen_pids: Vec<u32>,
    /// The environment was reset after this invoke (timeout or crash).
    pub reset: bool,
}

impl InvokeReport {
    /// The response body parsed as JSON.
    pub fn response_json(&self) -> Option<serde_json::Value> {
        serde_json::from_str(self.response_body.as_deref()?).ok()
    }
}

/// SHUTDOWN of one environment (at the end, or a reset).
#[derive(Clone, Debug, Serialize)]
pub struct ShutdownReport {
    /// `spindown`, `timeout` or `failure`.
    pub reason: String,
    /// The SHUTDOWN event's `deadlineMs`.
    pub deadline_ms: u64,
    /// SHUTDOWN sent to every process gone.
    pub duration_ms: f64,
    /// Processes that had not finished (`next` or exit) by the deadline.
    pub timed_out: Vec<String>,
    /// Processes ended by the simulator's SIGKILL: still running at the
    /// deadline, or after finishing with `next` (decided by their wait
    /// status, so one that exited on its own just before is not listed).
    pub killed: Vec<String>,
    /// Extensions that called `next` after SHUTDOWN (finished cleanly).
    pub acknowledged: Vec<String>,
}

/// One line of the report stream, in order.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ReportLine {
    /// An init phase.
    Init(InitReport),
    /// An invoke.
    Invoke(InvokeReport),
    /// A shutdown (or reset).
    Shutdown(ShutdownReport),
}

/// Everything that happened in one simulator run.
#[derive(Clone, Debug, Serialize)]
pub struct SimReport {
    /// The first init.
    pub init: InitReport,
    /// Every invoke, in order.
    pub invokes: Vec<InvokeReport>,
    /// The final shutdown.
    pub shutdown: ShutdownReport,
    /// Every line in order (includes re-inits and resets).
    pub lines: Vec<ReportLine>,
    /// Telemetry API deliveries per subscription.
    pub telemetry: Vec<TelemetryStats>,
}
