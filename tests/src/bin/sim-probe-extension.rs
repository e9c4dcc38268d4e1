//! Test fixture for the Lambda simulator: a `lambda-extension` external
//! extension that registers for INVOKE and SHUTDOWN, subscribes to the
//! Telemetry API (platform, function, extension; 25 ms buffering) and
//! appends every event and telemetry record it receives, one JSON object
//! per line, to the file named by `SIM_PROBE_OUT`.
//!
//! Knobs (environment):
//! - `SIM_PROBE_TELEMETRY_PORT`: listener port (default: a free one).
//! - `SIM_PROBE_IGNORE_SHUTDOWN=1`: never finish SHUTDOWN (to be SIGKILLed).
//! - `SIM_PROBE_LATE_REGISTER=1`: on the first INVOKE, try to register a
//!   second extension and record the HTTP status (Lambda refuses: init is over).
//! - `SIM_PROBE_WAIT_RUNTIME_DONE=1`: after INVOKE, call `next` only once
//!   `platform.runtimeDone` for that request arrived (flush-at-end extensions do this).
//! - `SIM_PROBE_SHUTDOWN_LINGER_MS=N`: after SHUTDOWN, wait N ms before `next`
//!   (lets telemetry still buffered arrive, like a final flush).
//! - `SIM_PROBE_EXIT_ON_SHUTDOWN=1`: after SHUTDOWN (and the linger), exit
//!   the process (status 0) instead of calling `next`, as most extensions do.
//!
//! When the extension cannot run (its registration refused, say), the probe
//! records `{"kind":"run_error"}` with the crate's error and, from a second
//! registration made the same way, Lambda's status and body.

use std::collections::HashSet;
use std::io::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use lambda_extension::{
    Error, Extension, LambdaEvent, LambdaTelemetry, LambdaTelemetryRecord, LogBuffering, NextEvent,
    SharedService, service_fn,
};
use serde_json::{Value, json};
use tokio::sync::Notify;

/// The events the probe registers for.
const EVENTS: [&str; 2] = ["INVOKE", "SHUTDOWN"];

static LATE_REGISTER_DONE: AtomicBool = AtomicBool::new(false);
/// Request ids whose `platform.runtimeDone` arrived.
static RUNTIME_DONE: Mutex<Option<HashSet<String>>> = Mutex::new(None);
static RUNTIME_DONE_NOTIFY: Notify = Notify::const_new();

fn runtime_done_seen(request_id: &str) -> bool {
    RUNTIME_DONE
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .as_ref()
        .is_some_and(|s| s.contains(request_id))
}

async fn wait_runtime_done(request_id: &str, deadline_ms: u64) {
    let left =
        Duration::from_millis(deadline_ms).saturating_sub(Duration::from_millis(now_ms() as u64));
    let wait = async {
        loop {
            let notified = RUNTIME_DONE_NOTIFY.notified();
            if runtime_done_seen(request_id) {
                return;
            }
            notified.await;
        }
    };
    let _ = tokio::time::timeout(left, wait).await;
}

fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs_f64() * 1000.0)
        .unwrap_or(0.0)
}

fn append(line: Value) {
    let Ok(path) = std::env::var("SIM_PROBE_OUT") else {
        return;
    };
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        // One write per line: the events and telemetry tasks append concurrently.
        let _ = f.write_all(format!("{line}\n").as_bytes());
    }
}

fn flag(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| v == "1" || v == "true")
}

/// Registers `name` for `events` (a JSON array) with a plain request:
/// Lambda's answer, `{"status", "body"}`, or `{"error"}`.
async fn register(name: &str, events: &str) -> Value {
    let api = std::env::var("AWS_LAMBDA_RUNTIME_API").unwrap_or_default();
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap_or_else(|_| reqwest::Client::new());
    let resp = client
        .post(format!("http://{api}/2020-01-01/extension/register"))
        .header("Lambda-Extension-Name", name)
        .body(format!(r#"{{"events":{events}}}"#))
        .send()
        .await;
    match resp {
        Ok(r) => {
            let status = r.status().as_u16();
            let body = r.text().await.unwrap_or_default();
            json!({ "status": status, "body": body })
        }
        Err(e) => json!({ "error": e.to_string() }),
    }
}

async fn late_register() -> Value {
    let mut answer = register("late-comer", r#"["INVOKE"]"#).await;
    answer["kind"] = json!("late_register");
    answer
}

async fn events(event: LambdaEvent) -> Result<(), Error> {
    match event.next {
        NextEvent::Invoke(e) => {
            append(json!({
                "kind": "event",
                "eventType": "INVOKE",
                "requestId": e.request_id,
                "deadlineMs": e.deadline_ms,
                "invokedFunctionArn": e.invoked_function_arn,
                "tracing": { "type": e.tracing.r#type, "value": e.tracing.value },
                "at_ms": now_ms(),
            }));
            if flag("SIM_PROBE_LATE_REGISTER") && !LATE_REGISTER_DONE.swap(true, Ordering::SeqCst) {
                append(late_register().await);
            }
            if flag("SIM_PROBE_WAIT_RUNTIME_DONE") {
                wait_runtime_done(&e.request_id, e.deadline_ms).await;
                append(
                    json!({ "kind": "next_after_runtime_done", "requestId": e.request_id, "at_ms": now_ms() }),
                );
            }
        }
        NextEvent::Shutdown(e) => {
            append(json!({
                "kind": "event",
                "eventType": "SHUTDOWN",
                "shutdownReason": e.shutdown_reason,
                "deadlineMs": e.deadline_ms,
                "at_ms": now_ms(),
            }));
            if let Some(ms) = std::env::var("SIM_PROBE_SHUTDOWN_LINGER_MS")
                .ok()
                .and_then(|v| v.parse().ok())
            {
                tokio::time::sleep(Duration::from_millis(ms)).await;
            }
            if flag("SIM_PROBE_IGNORE_SHUTDOWN") {
                tokio::time::sleep(Duration::from_secs(3600)).await;
            }
            if flag("SIM_PROBE_EXIT_ON_SHUTDOWN") {
                std::process::exit(0);
            }
        }
    }
    Ok(())
}

async fn telemetry(batch: Vec<LambdaTelemetry>) -> Result<(), Error> {
    let at = now_ms();
    for item in batch {
        if let LambdaTelemetryRecord::PlatformRuntimeDone { request_id, .. } = &item.record {
            RUNTIME_DONE
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get_or_insert_with(HashSet::new)
                .insert(request_id.clone());
            RUNTIME_DONE_NOTIFY.notify_waiters();
        }
        append(json!({ "kind": "telemetry", "at_ms": at, "item": item }));
    }
    Ok(())
}

fn telemetry_port() -> u16 {
    if let Some(p) = std::env::var("SIM_PROBE_TELEMETRY_PORT")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        return p;
    }
    // The crate binds the port itself: find a free one (9003 may be taken by a parallel test).
    otel_aws_testkit::ports::free_port()
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let buffering = LogBuffering {
        timeout_ms: 25,
        max_bytes: 262_144,
        max_items: 1_000,
    };
    let run = Extension::new()
        .with_events(&EVENTS)
        .with_events_processor(service_fn(events))
        .with_telemetry_types(&["platform", "function", "extension"])
        .with_telemetry_buffering(buffering)
        .with_telemetry_port_number(telemetry_port())
        .with_telemetry_processor(SharedService::new(service_fn(telemetry)))
        .run()
        .await;
    if let Err(err) = &run {
        // The crate's error names the status of a refused registration,
        // not Lambda's error type: register again the same way (same
        // name, same events) and record Lambda's answer too.
        let name = std::env::args()
            .next()
            .and_then(|a| {
                std::path::Path::new(&a)
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
            })
            .unwrap_or_default();
        let events = serde_json::to_string(&EVENTS).unwrap_or_default();
        append(json!({
            "kind": "run_error",
            "error": err.to_string(),
            "register_again": register(&name, &events).await,
        }));
    }
    run
}
