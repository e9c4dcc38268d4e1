//! The life cycle of an execution environment, phase by phase, as
//! `spec/lambda.md` describes it: init (extensions register, then the
//! runtime starts; both call `next`), invokes (INVOKE to the extensions and
//! the event to the runtime; done when all have called `next`; then
//! freeze), and SHUTDOWN (deadline, then SIGKILL).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use nix::sys::signal::Signal;
use serde_json::{Value, json};
use tokio::sync::watch;

use super::config::SimConfig;
use super::invoke::{InvokeSpec, epoch_ms, trace_header};
use super::process::{Environment, Label, SpawnCtx, lambda_env, spawn};
use super::report::{ExtensionInfo, InitReport, InvokeReport, ShutdownReport, Status};
use super::state::{CurrentInvoke, ManagedPool, Phase, RuntimeInvocation, Sandbox};
use super::{Ctx, SimError, freeze, procfs};

/// How long external extensions get after SHUTDOWN.
pub const SHUTDOWN_EXTERNAL: Duration = Duration::from_millis(2_000);
/// How long the runtime gets after SHUTDOWN when no external extension is registered.
pub const SHUTDOWN_INTERNAL_ONLY: Duration = Duration::from_millis(500);

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Drives one simulator run's environments.
pub(crate) struct Driver<'a> {
    ctx: &'a Arc<Ctx>,
    cfg: &'a SimConfig,
    frozen: watch::Sender<bool>,
    api: String,
    extensions: Vec<(String, PathBuf)>,
    generation: u64,
}

impl<'a> Driver<'a> {
    pub(crate) fn new(
        ctx: &'a Arc<Ctx>,
        cfg: &'a SimConfig,
        frozen: watch::Sender<bool>,
        api: String,
        extensions: Vec<(String, PathBuf)>,
    ) -> Self {
        Self {
            ctx,
            cfg,
            frozen,
            api,
            extensions,
            generation: 0,
        }
    }

    /// Waits until `pred` holds or `deadline` passes; true when it holds.
    async fn wait_until(&self, deadline: Instant, pred: impl FnMut(&Sandbox) -> bool) -> bool {
        let mut rx = self.ctx.sandbox.subscribe();
        let waited =
            tokio::time::timeout_at(
                deadline.into(),
                async move { rx.wait_for(pred).await.is_ok() },
            )
            .await;
        matches!(waited, Ok(true))
    }

    fn emit(&self, kind: &str, record: Value) {
        self.ctx.telemetry.emit(kind, record);
    }

    /// Starts a fresh environment and runs its init phase (`phase` is
    /// `"init"`, or `"invoke"` for a re-init after a reset).
    pub(crate) async fn init(
        &mut self,
        phase: &str,
    ) -> Result<(Environment, InitReport), SimError> {
        self.generation += 1;
        let generation = self.generation;
        let names: Vec<String> = self.extensions.iter().map(|(n, _)| n.clone()).collect();
        self.ctx.telemetry.reset();
        self.ctx.sandbox.send_modify(|s| {
            *s = Sandbox::new(names.clone(), generation);
            s.managed = (self.cfg.managed_workers > 0).then(ManagedPool::default);
        });
        self.frozen.send_replace(false);

        let t0 = Instant::now();
        let deadline = t0 + self.cfg.init_timeout;
        let init_type = if self.cfg.managed_workers > 0 {
            "lambda-managed-instances"
        } else {
            "on-demand"
        };
        self.emit(
            "platform.initStart",
            json!({ "initializationType": init_type, "phase": phase }),
        );
        let env_vars = lambda_env(self.cfg, &self.api);
        let cwd = self
            .cfg
            .task_root
            .clone()
            .or_else(|| std::env::current_dir().ok())
            .unwrap_or_else(|| PathBuf::from("/"));
        let sc = SpawnCtx {
            sandbox: &self.ctx.sandbox,
            generation,
            telemetry: &self.ctx.telemetry,
            env: &env_vars,
            cwd: &cwd,
            forward_output: self.cfg.forward_output,
        };
        let mut env = Environment::default();
        let mut failed: Option<(Status, String)> = None;

        // 1. Extension init: start every external extension; each must register.
        for (name, path) in &self.extensions {
            let program = path.display().to_string();
            env.procs
                .push(spawn(Label::Extension(name.clone()), &program, &[], &sc)?);
        }
        let all_registered = self
            .wait_until(deadline, |s| {
                s.init_error.is_some()
                    || s.expected_external
                        .iter()
                        .all(|n| s.extensions.iter().any(|e| &e.name == n) || s.exited(n))
            })
            .await;
        if !all_registered {
            failed = Some((Status::Timeout, "Sandbox.Timedout".into()));
        } else {
            failed = failed.or_else(|| self.init_failure());
        }
        let extensions_registered = t0.elapsed();

        // 2. Runtime init: start the runtime; it is ready at its first `next`.
        let mut runtime_ready = Duration::ZERO;
        if failed.is_none() {
            let mut command: Vec<String> = Vec::new();
            if let Some(w) = &self.cfg.exec_wrapper {
                command.push(w.display().to_string());
            }
            command.extend(self.cfg.function.iter().cloned());
            let (program, args) = command.split_first().ok_or(SimError::NoFunction)?;
            // Managed Instances: several runtime workers, each calling `next`.
            for _ in 0..self.cfg.managed_workers.max(1) {
                env.procs.push(spawn(Label::Runtime, program, args, &sc)?);
            }
            let ready = self
                .wait_until(deadline, |s| {
                    s.init_error.is_some()
                        || s.runtime.exited.is_some()
                        || (s.runtime.next_calls > 0 && s.runtime.waiting)
                        || s.extensions.iter().any(|e| e.external && s.exited(&e.name))
                })
                .await;
            runtime_ready = t0.elapsed();
            failed = if ready {
                self.init_failure()
            } else {
                Some((Status::Timeout, "Sandbox.Timedout".into()))
            };
            let (status, error_type) = split(&failed);
            let mut record = json!({
                "initializationType": init_type,
                "phase": phase,
                "status": status.as_str(),
                "spans": [],
            });
            if let Some(t) = error_type {
                record["errorType"] = Value::String(t);
            }
            self.emit("platform.initRuntimeDone", record);
        }

        // 3. Every registered extension calls `next`: init is over.
        if failed.is_none() {
            let done = self
                .wait_until(deadline, |s| {
                    s.init_error.is_some() || s.runtime.exited.is_some() || s.extensions_done()
                })
                .await;
            failed = if done {
                self.init_failure()
            } else {
                Some((Status::Timeout, "Sandbox.Timedout".into()))
            };
        }
        self.ctx.sandbox.send_modify(|s| s.phase = Phase::Invoke);
        let init_duration = t0.elapsed();
        let (status, error_type) = split(&failed);
        let mut record = json!({
            "initializationType": init_type,
            "phase": phase,
            "status": status.as_str(),
            "metrics": { "durationMs": ms(init_duration) },
            "spans": [],
        });
        if let Some(t) = &error_type {
            record["errorType"] = Value::String(t.clone());
        }
        self.emit("platform.initReport", record);

        let extensions = self
            .ctx
            .sandbox
            .borrow()
            .extensions
            .iter()
            .map(|e| ExtensionInfo {
                name: e.name.clone(),
                events: e.events.clone(),
                external: e.external,
            })
            .collect();
        let report = InitReport {
            phase: phase.to_string(),
            status,
            error_type,
            init_duration_ms: ms(init_duration),
            extensions_registered_ms: ms(extensions_registered),
            runtime_ready_ms: ms(runtime_ready),
            extensions,
            runtime_pid: env.runtime_pid(),
            extension_pids: env
                .procs
                .iter()
                .filter(|p| p.label != Label::Runtime)
                .map(|p| (p.label.name().to_string(), p.pid))
                .collect(),
        };
        Ok((env, report))
    }

    /// The init failure the sandbox state shows, if any.
    fn init_failure(&self) -> Option<(Status, String)> {
        let s = self.ctx.sandbox.borrow();
        if let Some(t) = &s.init_error {
            return Some((Status::Error, t.clone()));
        }
        if s.runtime.exited.is_some() {
            return Some((Status::Failure, "Runtime.ExitError".into()));
        }
        if s.extensions_exited.keys().next().is_some() {
            return Some((Status::Failure, "Extension.Crash".into()));
        }
        None
    }

    /// Runs one invoke on a thawed environment.
    pub(crate) async fn invoke(
        &self,
        env: &Environment,
        index: usize,
        spec: &InvokeSpec,
        init_duration_ms: Option<f64>,
        frozen_before_ms: f64,
    ) -> InvokeReport {
        let cfg = self.cfg;
        let start = Instant::now();
        let start_wall = SystemTime::now();
        let request_id = uuid::Uuid::new_v4().to_string();
        let trace = spec
            .trace_header
            .clone()
            .unwrap_or_else(|| trace_header(start_wall));
        let deadline = start + cfg.timeout;
        let deadline_ms = epoch_ms(start_wall + cfg.timeout);
        let span_id = hex::encode(rand::random::<[u8; 8]>());
        let tracing = json!({ "spanId": span_id, "type": "X-Amzn-Trace-Id", "value": trace });
        self.emit(
            "platform.start",
            json!({ "requestId": request_id, "version": cfg.function_version, "tracing": tracing }),
        );
        let invocation = RuntimeInvocation {
            request_id: request_id.clone(),
            deadline_ms,
            function_arn: cfg.function_arn(),
            trace_header: trace.clone(),
            client_context: spec.client_context.clone(),
            cognito_identity: spec.cognito_identity.clone(),
            body: spec.event.clone(),
        };
        let ext_event = json!({
            "eventType": "INVOKE",
            "deadlineMs": deadline_ms,
            "requestId": request_id,
            "invokedFunctionArn": cfg.function_arn(),
            "tracing": { "type": "X-Amzn-Trace-Id", "value": trace },
        });
        self.ctx.sandbox.send_modify(|s| {
            s.current = Some(CurrentInvoke {
                request_id: request_id.clone(),
                outcome: None,
            });
            for e in s.extensions.iter_mut().filter(|e| e.wants("INVOKE")) {
                e.deliver(ext_event.clone());
            }
            s.deliver_to_runtime(invocation);
        });

        // The runtime answers (or crashes, or the deadline passes).
        self.wait_until(deadline, |s| {
            s.current.as_ref().is_some_and(|c| c.outcome.is_some()) || s.runtime.exited.is_some()
        })
        .await;
        let outcome = self
            .ctx
            .sandbox
            .borrow()
            .current
            .as_ref()
            .and_then(|c| c.outcome.clone());
        let (mut status, mut error_type) = match &outcome {
            Some(o) => match &o.error_type {
                None => (Status::Success, None),
                Some(t) => (Status::Error, Some(t.clone())),
            },
            None if self.ctx.sandbox.borrow().runtime.exited.is_some() => {
                (Status::Failure, Some("Runtime.ExitError".to_string()))
            }
            None => (Status::Timeout, Some("Sandbox.Timedout".to_string())),
        };

        // The runtime is done when it calls `next` again.
        let mut runtime_done = Instant::now();
        if outcome.is_some() {
            let ready = self
                .wait_until(deadline, |s| {
                    s.runtime.waiting || s.runtime.exited.is_some()
                })
                .await;
            let s = self.ctx.sandbox.borrow();
            if !ready {
                (status, error_type) = (Status::Timeout, Some("Sandbox.Timedout".into()));
                runtime_done = Instant::now();
            } else if s.runtime.waiting {
                runtime_done = s.runtime.last_next_at.unwrap_or(runtime_done);
            } else {
                (status, error_type) = (Status::Failure, Some("Runtime.ExitError".into()));
            }
        }
        let runtime_duration = runtime_done.saturating_duration_since(start);
        let mut runtime_done_rec = json!({
            "requestId": request_id,
            "status": status.as_str(),
            "metrics": {
                "durationMs": ms(runtime_duration),
                "producedBytes": outcome.as_ref().map(|o| o.body.len()).unwrap_or(0),
            },
            "spans": [],
            "tracing": tracing,
        });
        if let Some(o) = &outcome {
            let latency = o.started.saturating_duration_since(start);
            runtime_done_rec["spans"] = json!([
                { "name": "responseLatency", "start": super::telemetry_api::rfc3339(start_wall), "durationMs": ms(latency) },
                { "name": "responseDuration", "start": super::telemetry_api::rfc3339(o.started_wall), "durationMs": ms(o.finished.saturating_duration_since(o.started)) },
            ]);
        }
        if let Some(t) = &error_type {
            runtime_done_rec["errorType"] = Value::String(t.clone());
        }
        self.emit("platform.runtimeDone", runtime_done_rec);

        // Every extension that got INVOKE calls `next`.
        let response_at = outcome.as_ref().map(|o| o.finished).unwrap_or(runtime_done);
        let mut ext_done = response_at;
        if matches!(status, Status::Success | Status::Error) {
            let done = self.wait_until(deadline, |s| s.extensions_done()).await;
            let s = self.ctx.sandbox.borrow();
            if !done {
                (status, error_type) = (Status::Timeout, Some("Sandbox.Timedout".into()));
                ext_done = Instant::now();
            } else if s.extensions.iter().any(|e| e.external && s.exited(&e.name)) {
                (status, error_type) = (Status::Failure, Some("Extension.Crash".into()));
                ext_done = Instant::now();
            } else {
                ext_done = s
                    .extensions
                    .iter()
                    .filter(|e| e.wants("INVOKE"))
                    .filter_map(|e| e.last_next_at)
                    .fold(response_at, Instant::max);
            }
        }
        let post_runtime = ext_done.saturating_duration_since(response_at);
        let total = ext_done.max(runtime_done).saturating_duration_since(start);
        let max_memory_used_mb = procfs::group_pids(&env.pgids())
            .into_iter()
            .map(procfs::peak_rss_kib)
            .sum::<u64>()
            .div_ceil(1024);
        let billed = ms(total).ceil() as u64;
        let mut metrics = json!({
            "durationMs": ms(total),
            "billedDurationMs": billed,
            "memorySizeMB": cfg.memory_mb,
            "maxMemoryUsedMB": max_memory_used_mb,
        });
        if let Some(init) = init_duration_ms {
            metrics["initDurationMs"] = json!(init);
        }
        let mut report_rec = json!({
            "requestId": request_id,
            "status": status.as_str(),
            "metrics": metrics,
            "spans": [],
            "tracing": tracing,
        });
        if let Some(t) = &error_type {
            report_rec["errorType"] = Value::String(t.clone());
        }
        self.emit("platform.report", report_rec);

        InvokeReport {
            index,
            request_id,
            trace_header: trace,
            deadline_ms,
            status,
            error_type,
            response_body: outcome
                .as_ref()
                .map(|o| String::from_utf8_lossy(&o.body).into_owned()),
            duration_ms: ms(response_at.saturating_duration_since(start)),
            runtime_duration_ms: ms(runtime_duration),
            post_runtime_extension_ms: ms(post_runtime),
            total_duration_ms: ms(total),
            billed_duration_ms: billed,
            max_memory_used_mb,
            init_duration_ms,
            frozen_before_ms,
            frozen_at_ms: None,
            frozen_at: None,
            frozen_at_instant: None,
            frozen_pids: Vec::new(),
            reset: matches!(status, Status::Timeout | Status::Failure),
        }
    }

    /// Lambda Managed Instances: every scripted invoke is submitted (each
    /// after its `frozen_before` pause, read as the gap since the previous
    /// submission) to the runtime workers, which serve them concurrently;
    /// no INVOKE reaches the extensions, nothing is frozen. One report per
    /// invoke, in script order, when its response has been posted.
    pub(crate) async fn invoke_managed(
        &self,
        specs: &[InvokeSpec],
        on_report: Option<super::config::ReportHook>,
    ) -> Vec<InvokeReport> {
        let cfg = self.cfg;
        let mut tasks = tokio::task::JoinSet::new();
        for (index, spec) in specs.iter().enumerate() {
            tokio::time::sleep(spec.frozen_before).await;
            let start = Instant::now();
            let start_wall = SystemTime::now();
            let request_id = uuid::Uuid::new_v4().to_string();
            let trace = spec
                .trace_header
                .clone()
                .unwrap_or_else(|| trace_header(start_wall));
            let deadline_ms = epoch_ms(start_wall + cfg.timeout);
            self.emit(
                "platform.start",
                json!({ "requestId": request_id, "version": cfg.function_version,
                        "tracing": { "type": "X-Amzn-Trace-Id", "value": trace } }),
            );
            let inv = RuntimeInvocation {
                request_id: request_id.clone(),
                deadline_ms,
                function_arn: cfg.function_arn(),
                trace_header: trace.clone(),
                client_context: spec.client_context.clone(),
                cognito_identity: spec.cognito_identity.clone(),
                body: spec.event.clone(),
            };
            self.ctx.sandbox.send_modify(|s| {
                if let Some(pool) = s.managed.as_mut() {
                    pool.submit(inv);
                }
            });
            let ctx = self.ctx.clone();
            let (timeout, memory_mb) = (cfg.timeout, cfg.memory_mb);
            let hook = on_report.clone();
            tasks.spawn(async move {
                let id = request_id;
                let mut rx = ctx.sandbox.subscribe();
                let answered = tokio::time::timeout_at((start + timeout).into(), async {
                    rx.wait_for(|s| {
                        s.managed
                            .as_ref()
                            .and_then(|p| p.in_flight.get(&id))
                            .is_some_and(Option::is_some)
                    })
                    .await
                    .is_ok()
                })
                .await
                .unwrap_or(false);
                let outcome = ctx
                    .sandbox
                    .borrow()
                    .managed
                    .as_ref()
                    .and_then(|p| p.in_flight.get(&id).cloned().flatten());
                let (status, error_type) = match (&outcome, answered) {
                    (Some(o), true) => match &o.error_type {
                        None => (Status::Success, None),
                        Some(t) => (Status::Error, Some(t.clone())),
                    },
                    _ => (Status::Timeout, Some("Sandbox.Timedout".to_string())),
                };
                let finished = outcome.as_ref().map_or_else(Instant::now, |o| o.finished);
                let duration = finished.saturating_duration_since(start);
                ctx.telemetry.emit(
                    "platform.report",
                    json!({ "requestId": id, "status": status.as_str(),
                            "metrics": { "durationMs": ms(duration),
                                         "billedDurationMs": ms(duration).ceil() as u64,
                                         "memorySizeMB": memory_mb } }),
                );
                let report = InvokeReport {
                    index,
                    request_id: id,
                    trace_header: trace,
                    deadline_ms,
                    status,
                    error_type,
                    response_body: outcome
                        .as_ref()
                        .map(|o| String::from_utf8_lossy(&o.body).into_owned()),
                    duration_ms: ms(duration),
                    runtime_duration_ms: ms(duration),
                    post_runtime_extension_ms: 0.0,
                    total_duration_ms: ms(duration),
                    billed_duration_ms: ms(duration).ceil() as u64,
                    max_memory_used_mb: 0,
                    init_duration_ms: None,
                    frozen_before_ms: 0.0,
                    frozen_at_ms: None,
                    frozen_at: None,
                    frozen_at_instant: None,
                    frozen_pids: Vec::new(),
                    reset: false,
                };
                if let Some(h) = &hook {
                    h(&super::report::ReportLine::Invoke(report.clone()));
                }
                report
            });
        }
        let mut reports: Vec<InvokeReport> = tasks.join_all().await;
        reports.sort_by_key(|r| r.index);
        reports
    }

    /// Freezes every process and records it in `report`.
    pub(crate) async fn freeze(&self, env: &Environment, report: &mut InvokeReport) {
        self.ctx.sandbox.send_modify(|s| s.current = None);
        self.frozen.send_replace(true);
        report.frozen_pids = freeze::freeze(&env.pgids()).await;
        let now = SystemTime::now();
        report.frozen_at = Some(now);
        report.frozen_at_instant = Some(Instant::now());
        report.frozen_at_ms = Some(
            now.duration_since(SystemTime::UNIX_EPOCH)
                .map(|d| d.as_secs_f64() * 1000.0)
                .unwrap_or(0.0),
        );
    }

    /// Lets the environment run again.
    pub(crate) fn thaw(&self, env: &Environment) {
        freeze::thaw(&env.pgids());
        self.frozen.send_replace(false);
    }

    /// SHUTDOWN: the event to extensions, SIGTERM to the runtime, the
    /// deadline, then SIGKILL for whatever is left.
    pub(crate) async fn shutdown(&self, env: &Environment, reason: &str) -> ShutdownReport {
        self.thaw(env);
        let start = Instant::now();
        let has_external = self
            .ctx
            .sandbox
            .borrow()
            .extensions
            .iter()
            .any(|e| e.external);
        let grace = if has_external {
            SHUTDOWN_EXTERNAL
        } else {
            SHUTDOWN_INTERNAL_ONLY
        };
        let deadline = start + grace;
        let deadline_ms = epoch_ms(SystemTime::now() + grace);
        let event =
            json!({ "eventType": "SHUTDOWN", "shutdownReason": reason, "deadlineMs": deadline_ms });
        let mut shutdown_registered: Vec<String> = Vec::new();
        self.ctx.sandbox.send_modify(|s| {
            s.phase = Phase::Shutdown;
            s.current = None;
            for e in s.extensions.iter_mut().filter(|e| e.wants("SHUTDOWN")) {
                e.deliver(event.clone());
                shutdown_registered.push(e.name.clone());
            }
        });
        // The runtime, and external processes not registered for SHUTDOWN, get SIGTERM.
        let term: Vec<i32> = env
            .procs
            .iter()
            .filter(|p| !shutdown_registered.iter().any(|n| n == p.label.name()))
            .map(|p| p.pid as i32)
            .collect();
        freeze::signal_groups(&term, Signal::SIGTERM);
        let finished = |s: &Sandbox, name: &str| {
            s.exited(name) || s.extensions.iter().any(|e| e.name == name && e.waiting)
        };
        let names: Vec<(Label, bool)> = env
            .procs
            .iter()
            .map(|p| {
                (
                    p.label.clone(),
                    shutdown_registered.iter().any(|n| n == p.label.name()),
                )
            })
            .collect();
        let pending = |s: &Sandbox| -> Vec<String> {
            names
                .iter()
                .filter(|(label, registered)| match label {
                    Label::Runtime => s.runtime.exited.is_none(),
                    Label::Extension(n) if *registered => !finished(s, n),
                    Label::Extension(n) => !s.exited(n),
                })
                .map(|(label, _)| label.name().to_string())
                .collect()
        };
        self.wait_until(deadline, |s| pending(s).is_empty()).await;
        let (timed_out, acknowledged) = {
            let s = self.ctx.sandbox.borrow();
            let acknowledged = shutdown_registered
                .iter()
                .filter(|n| s.extensions.iter().any(|e| &e.name == *n && e.waiting))
                .cloned()
                .collect();
            (pending(&s), acknowledged)
        };
        // Not seen exiting yet; whether the kill ended them is for their
        // wait status to say (an exit racing the kill is not a kill).
        let alive: Vec<bool> = env.procs.iter().map(|p| !p.exited()).collect();
        env.kill_all();
        let _ = tokio::time::timeout(Duration::from_secs(5), env.wait_all_exited()).await;
        let killed: Vec<String> = env
            .procs
            .iter()
            .zip(alive)
            .filter(|(p, alive)| *alive && p.ended_by_sigkill())
            .map(|(p, _)| p.label.name().to_string())
            .collect();
        self.ctx.telemetry.reset();
        ShutdownReport {
            reason: reason.to_string(),
            deadline_ms,
            duration_ms: ms(start.elapsed()),
            timed_out,
            killed,
            acknowledged,
        }
    }
}

fn split(failed: &Option<(Status, String)>) -> (Status, Option<String>) {
    match failed {
        None => (Status::Success, None),
        Some((status, t)) => (*status, Some(t.clone())),
    }
}
