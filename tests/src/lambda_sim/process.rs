//! Starting the processes of an execution environment: the layer's
//! external extensions (`<layer>/extensions/*`, alphabetical) and the
//! runtime command, each in its own process group, with Lambda's
//! environment variables.
//!
//! Their stdout/stderr lines are copied to the simulator's stderr (prefixed
//! with the process name) and emitted as Telemetry API `function` /
//! `extension` records, as Lambda does with what a sandbox logs.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use nix::sys::signal::Signal;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::sync::watch;

use super::config::SimConfig;
use super::state::Shared;
use super::telemetry_api::TelemetryHub;
use super::{SimError, freeze};

/// Which process of the environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Label {
    Runtime,
    Extension(String),
}

impl Label {
    pub(crate) fn name(&self) -> &str {
        match self {
            Label::Runtime => "runtime",
            Label::Extension(name) => name,
        }
    }
}

/// How a process ended, as the kernel reported it to `wait`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Exit {
    /// `exit status: 0`, `signal: 9 (SIGKILL)`, ...
    pub text: String,
    /// The signal that terminated it, if one did.
    pub signal: Option<i32>,
}

impl Exit {
    fn from_status(status: std::process::ExitStatus) -> Self {
        use std::os::unix::process::ExitStatusExt;
        Self {
            text: status.to_string(),
            signal: status.signal(),
        }
    }
}

/// Whether the simulator's SIGKILL ended a process that had not been seen
/// exiting before the kill: decided by its wait status, not by when the
/// simulator noticed the exit. A process that exited on its own just
/// before the kill (a zombie not yet reaped: SIGKILL does nothing to it)
/// has its own status, so it is not reported as killed however close the
/// two were; one still not reaped after the kill counts as killed.
pub(crate) fn ended_by_sigkill(exit: Option<&Exit>) -> bool {
    exit.is_none_or(|e| e.signal == Some(Signal::SIGKILL as i32))
}

/// One started process (leader of its own process group).
pub(crate) struct Proc {
    pub label: Label,
    pub pid: u32,
    /// `Some(status)` once it exited.
    pub exit: watch::Receiver<Option<Exit>>,
}

impl Proc {
    pub(crate) fn exited(&self) -> bool {
        self.exit.borrow().is_some()
    }

    /// See [`ended_by_sigkill`].
    pub(crate) fn ended_by_sigkill(&self) -> bool {
        ended_by_sigkill(self.exit.borrow().as_ref())
    }
}

/// The processes of one execution environment. Dropping it SIGKILLs them
/// all, unless a shutdown already saw every one of them exit.
#[derive(Default)]
pub(crate) struct Environment {
    pub procs: Vec<Proc>,
    /// Every process exited: their pids may be reused, signal nothing more.
    gone: AtomicBool,
}

impl Environment {
    /// Process group ids (= leader pids) of every process.
    pub(crate) fn pgids(&self) -> Vec<i32> {
        self.procs.iter().map(|p| p.pid as i32).collect()
    }

    /// Pid of the runtime.
    pub(crate) fn runtime_pid(&self) -> Option<u32> {
        self.procs
            .iter()
            .find(|p| p.label == Label::Runtime)
            .map(|p| p.pid)
    }

    /// SIGKILLs every process group.
    pub(crate) fn kill_all(&self) {
        freeze::signal_groups(&self.pgids(), Signal::SIGKILL);
    }

    /// Waits until every started process exited.
    pub(crate) async fn wait_all_exited(&self) {
        for p in &self.procs {
            let mut rx = p.exit.clone();
            let _ = rx.wait_for(|e| e.is_some()).await;
        }
        self.gone.store(true, Ordering::SeqCst);
    }
}

impl Drop for Environment {
    fn drop(&mut self) {
        if !self.gone.load(Ordering::SeqCst) {
            self.kill_all();
        }
    }
}

/// The layer's external extensions: executable files in `<layer>/extensions/`, by name.
pub(crate) fn list_extensions(
    layer_dir: Option<&Path>,
) -> Result<Vec<(String, PathBuf)>, SimError> {
    use std::os::unix::fs::PermissionsExt;
    let Some(layer) = layer_dir else {
        return Ok(Vec::new());
    };
    if !layer.is_dir() {
        return Err(SimError::Layer(format!(
            "{} is not a directory; pass the unpacked layer (the folder holding extensions/)",
            layer.display()
        )));
    }
    let dir = layer.join("extensions");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(Vec::new());
    };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        if meta.is_file() && meta.permissions().mode() & 0o111 != 0 {
            found.push((entry.file_name().to_string_lossy().into_owned(), path));
        }
    }
    found.sort();
    Ok(found)
}

/// The environment variables Lambda gives the extensions and the runtime.
pub(crate) fn lambda_env(cfg: &SimConfig, api: &str) -> Vec<(String, String)> {
    let now = time::OffsetDateTime::now_utc();
    let stream = format!(
        "{:04}/{:02}/{:02}/[{}]{}",
        now.year(),
        now.month() as u8,
        now.day(),
        cfg.function_version,
        uuid::Uuid::new_v4().simple()
    );
    let task_root = cfg
        .task_root
        .clone()
        .or_else(|| std::env::current_dir().ok())
        .unwrap_or_else(|| PathBuf::from("/"));
    let path = std::env::var("PATH")
        .unwrap_or_else(|_| "/usr/local/bin:/usr/bin/:/bin:/opt/bin".to_string());
    let mut env: Vec<(String, String)> = vec![
        ("AWS_LAMBDA_RUNTIME_API".into(), api.to_string()),
        ("AWS_REGION".into(), cfg.region.clone()),
        ("AWS_DEFAULT_REGION".into(), cfg.region.clone()),
        ("AWS_LAMBDA_FUNCTION_NAME".into(), cfg.function_name.clone()),
        (
            "AWS_LAMBDA_FUNCTION_VERSION".into(),
            cfg.function_version.clone(),
        ),
        (
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE".into(),
            cfg.memory_mb.to_string(),
        ),
        (
            "AWS_LAMBDA_LOG_GROUP_NAME".into(),
            format!("/aws/lambda/{}", cfg.function_name),
        ),
        ("AWS_LAMBDA_LOG_STREAM_NAME".into(), stream),
        (
            "AWS_LAMBDA_INITIALIZATION_TYPE".into(),
            if cfg.managed_workers > 0 {
                "lambda-managed-instances".into()
            } else {
                "on-demand".into()
            },
        ),
        (
            "AWS_ACCESS_KEY_ID".into(),
            cfg.credentials.access_key_id.clone(),
        ),
        (
            "AWS_SECRET_ACCESS_KEY".into(),
            cfg.credentials.secret_access_key.clone(),
        ),
        ("LAMBDA_TASK_ROOT".into(), task_root.display().to_string()),
        ("_HANDLER".into(), cfg.handler.clone()),
        // Lambda's daemon listens on 169.254.79.129:2000; everything here is loopback.
        ("AWS_XRAY_DAEMON_ADDRESS".into(), "127.0.0.1:2000".into()),
        ("_AWS_XRAY_DAEMON_ADDRESS".into(), "127.0.0.1".into()),
        ("_AWS_XRAY_DAEMON_PORT".into(), "2000".into()),
        ("AWS_XRAY_CONTEXT_MISSING".into(), "LOG_ERROR".into()),
        ("TZ".into(), ":UTC".into()),
        ("LANG".into(), "en_US.UTF-8".into()),
        ("PATH".into(), path),
    ];
    if let Some(token) = &cfg.credentials.session_token {
        env.push(("AWS_SESSION_TOKEN".into(), token.clone()));
    }
    if let Some(wrapper) = &cfg.exec_wrapper {
        env.push((
            "AWS_LAMBDA_EXEC_WRAPPER".into(),
            wrapper.display().to_string(),
        ));
    }
    env.extend(cfg.env.iter().cloned());
    env
}

/// What a spawned process needs from the simulator.
pub(crate) struct SpawnCtx<'a> {
    pub sandbox: &'a Shared,
    pub generation: u64,
    pub telemetry: &'a TelemetryHub,
    pub env: &'a [(String, String)],
    pub cwd: &'a Path,
    pub forward_output: bool,
}

/// Starts `program args` as `label` in a new process group.
pub(crate) fn spawn(
    label: Label,
    program: &str,
    args: &[String],
    sc: &SpawnCtx<'_>,
) -> Result<Proc, SimError> {
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args)
        .env_clear()
        .envs(sc.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .current_dir(sc.cwd)
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd.spawn().map_err(|source| SimError::Spawn {
        what: format!("{} ({program})", label.name()),
        source,
    })?;
    let pid = child.id().unwrap_or(0);
    let kind = match label {
        Label::Runtime => "function",
        Label::Extension(_) => "extension",
    };
    let name: Arc<str> = Arc::from(label.name());
    if let Some(out) = child.stdout.take() {
        forward(
            out,
            name.clone(),
            kind,
            sc.telemetry.clone(),
            sc.forward_output,
        );
    }
    if let Some(err) = child.stderr.take() {
        forward(
            err,
            name.clone(),
            kind,
            sc.telemetry.clone(),
            sc.forward_output,
        );
    }
    let (exit_tx, exit) = watch::channel(None);
    let sandbox = sc.sandbox.clone();
    let generation = sc.generation;
    let watched = label.clone();
    tokio::spawn(async move {
        let exit = match child.wait().await {
            Ok(status) => Exit::from_status(status),
            Err(err) => Exit {
                text: format!("wait failed: {err}"),
                signal: None,
            },
        };
        // The process's own watch first: whoever sees the sandbox say
        // "exited" also finds the status here.
        let _ = exit_tx.send(Some(exit.clone()));
        sandbox.send_modify(|s| {
            if s.generation != generation {
                return;
            }
            match &watched {
                Label::Runtime => s.runtime.exited = Some(exit.text.clone()),
                Label::Extension(n) => {
                    s.extensions_exited.insert(n.clone(), exit.text.clone());
                }
            }
        });
    });
    Ok(Proc { label, pid, exit })
}

fn forward<R: AsyncRead + Unpin + Send + 'static>(
    stream: R,
    name: Arc<str>,
    kind: &'static str,
    telemetry: TelemetryHub,
    to_stderr: bool,
) {
    tokio::spawn(async move {
        let mut lines = BufReader::new(stream).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if to_stderr {
                eprintln!("[{name}] {line}");
            }
            telemetry.emit(kind, serde_json::Value::String(line));
        }
    });
}

#[cfg(test)]
mod tests {
    use std::os::unix::process::ExitStatusExt;
    use std::process::ExitStatus;

    use super::{Exit, ended_by_sigkill};

    #[test]
    fn killed_means_the_wait_status_says_sigkill() {
        // Raw wait statuses: low 7 bits = terminating signal; exit code << 8.
        let cases = [
            (
                "exited on its own (0)",
                Some(ExitStatus::from_raw(0)),
                false,
            ),
            (
                "exited on its own (1)",
                Some(ExitStatus::from_raw(1 << 8)),
                false,
            ),
            (
                "SIGTERM (the runtime)",
                Some(ExitStatus::from_raw(15)),
                false,
            ),
            ("SIGKILL", Some(ExitStatus::from_raw(9)), true),
            ("not reaped after the kill", None, true),
        ];
        for (what, status, killed) in cases {
            let exit = status.map(Exit::from_status);
            assert_eq!(ended_by_sigkill(exit.as_ref()), killed, "{what}");
        }
    }
}
