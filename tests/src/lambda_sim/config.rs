//! What to simulate: the function, its layer, its settings and the invokes.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::invoke::{self, InvokeSpec};
use super::report::{InvokeReport, ReportLine};

/// Called with each invoke's report while the environment is frozen
/// (every process stopped). Keep it short: the simulator waits for it.
pub type FrozenHook = Arc<dyn Fn(&InvokeReport) + Send + Sync>;

/// Called with every report line as it happens (init, invoke, shutdown).
pub type ReportHook = Arc<dyn Fn(&ReportLine) + Send + Sync>;

/// The execution role's credentials the environment gets
/// (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`).
/// Give a SigV4-verifying fake the same values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimCredentials {
    /// `AWS_ACCESS_KEY_ID`.
    pub access_key_id: String,
    /// `AWS_SECRET_ACCESS_KEY`.
    pub secret_access_key: String,
    /// `AWS_SESSION_TOKEN` (Lambda always sets one; `None` leaves it unset).
    pub session_token: Option<String>,
}

impl Default for SimCredentials {
    fn default() -> Self {
        Self {
            access_key_id: "ASIALAMBDASIMULATOR1".into(),
            secret_access_key: "lambda-sim-secret-access-key".into(),
            session_token: Some("lambda-sim-session-token".into()),
        }
    }
}

/// Everything the simulator needs. Start from [`SimConfig::new`] and set fields.
#[derive(Clone)]
pub struct SimConfig {
    /// Unpacked layer (what Lambda puts under `/opt`); every executable
    /// `<layer>/extensions/*` is started as an external extension.
    pub layer_dir: Option<PathBuf>,
    /// The runtime command (program and arguments), e.g. a `lambda_runtime` binary.
    pub function: Vec<String>,
    /// The invokes, in order.
    pub invokes: Vec<InvokeSpec>,
    /// Function timeout (Lambda default 3 s).
    pub timeout: Duration,
    /// Init phase limit (Lambda: 10 s).
    pub init_timeout: Duration,
    /// `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`.
    pub memory_mb: u32,
    /// `AWS_LAMBDA_FUNCTION_NAME`.
    pub function_name: String,
    /// `AWS_LAMBDA_FUNCTION_VERSION`.
    pub function_version: String,
    /// `AWS_REGION` / `AWS_DEFAULT_REGION`.
    pub region: String,
    /// Account in the function ARN.
    pub account_id: String,
    /// `_HANDLER`.
    pub handler: String,
    /// `LAMBDA_TASK_ROOT` and the runtime's working directory (default: the current directory).
    pub task_root: Option<PathBuf>,
    /// `AWS_LAMBDA_EXEC_WRAPPER`: set in the environment and, as managed
    /// runtimes do, run as `<wrapper> <function command...>`.
    pub exec_wrapper: Option<PathBuf>,
    /// Execution-role credentials.
    pub credentials: SimCredentials,
    /// Extra environment variables for the extensions and the runtime
    /// (applied last: they override the Lambda ones).
    pub env: Vec<(String, String)>,
    /// How long the environment stays frozen after the last invoke before SHUTDOWN.
    pub frozen_before_shutdown: Duration,
    /// Copy the processes' stdout/stderr to the simulator's stderr (prefixed).
    pub forward_output: bool,
    /// Called after each freeze, while every process is stopped.
    pub on_frozen: Option<FrozenHook>,
    /// Called with each report line as it happens.
    pub on_report: Option<ReportHook>,
    /// Lambda Managed Instances with this many runtime workers (0: on-demand).
    /// Each worker is a runtime process calling `next`; invokes are served
    /// to them concurrently, extensions get no INVOKE events, and the
    /// environment is never frozen (see `docs/lambda-sim.md`).
    pub managed_workers: usize,
    /// The Telemetry API answers every subscription with HTTP 500 (the
    /// status the API reference gives for an error on Lambda's side), so an
    /// extension runs without platform events.
    pub telemetry_unavailable: bool,
}

impl SimConfig {
    /// Defaults like a fresh Lambda function (128 MB, 3 s timeout,
    /// us-east-1) running `function`, with one generated invoke.
    pub fn new<I, S>(function: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            layer_dir: None,
            function: function.into_iter().map(Into::into).collect(),
            invokes: invoke::generated(1),
            timeout: Duration::from_secs(3),
            init_timeout: Duration::from_secs(10),
            memory_mb: 128,
            function_name: "lambda-sim-function".into(),
            function_version: "$LATEST".into(),
            region: "us-east-1".into(),
            account_id: "123456789012".into(),
            handler: "bootstrap".into(),
            task_root: None,
            exec_wrapper: None,
            credentials: SimCredentials::default(),
            env: Vec::new(),
            frozen_before_shutdown: Duration::ZERO,
            forward_output: true,
            on_frozen: None,
            on_report: None,
            managed_workers: 0,
            telemetry_unavailable: false,
        }
    }

    /// Sets the layer directory.
    pub fn with_layer(mut self, dir: impl Into<PathBuf>) -> Self {
        self.layer_dir = Some(dir.into());
        self
    }

    /// Uses `n` generated invokes (see [`invoke::generated`]).
    pub fn with_invokes(mut self, n: usize) -> Self {
        self.invokes = invoke::generated(n);
        self
    }

    /// Adds one environment variable.
    pub fn with_env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Lambda Managed Instances with `workers` concurrent runtime workers.
    pub fn managed_instances(mut self, workers: usize) -> Self {
        self.managed_workers = workers;
        self
    }

    /// Sets the hook called while the environment is frozen after each invoke.
    pub fn on_frozen(mut self, hook: impl Fn(&InvokeReport) + Send + Sync + 'static) -> Self {
        self.on_frozen = Some(Arc::new(hook));
        self
    }

    /// `arn:aws:lambda:<region>:<account>:function:<name>`.
    pub fn function_arn(&self) -> String {
        format!(
            "arn:aws:lambda:{}:{}:function:{}",
            self.region, self.account_id, self.function_name
        )
    }
}

impl fmt::Debug for SimConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimConfig")
            .field("layer_dir", &self.layer_dir)
            .field("function", &self.function)
            .field("invokes", &self.invokes.len())
            .field("timeout", &self.timeout)
            .field("memory_mb", &self.memory_mb)
            .field("function_name", &self.function_name)
            .field("region", &self.region)
            .field("exec_wrapper", &self.exec_wrapper)
            .field("env", &self.env)
            .field("on_frozen", &self.on_frozen.is_some())
            .finish_non_exhaustive()
    }
}
