//! Test fixture for the Lambda simulator: a `lambda_runtime` function that
//! echoes its event with what it saw (request id, `Lambda-Runtime-Trace-Id`,
//! deadline, its pid).
//!
//! Event knobs: `{"sleep_ms": N}` sleeps before answering; `{"fail": true}`
//! answers with an error.

use std::time::Duration;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};

async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
    let (payload, ctx) = event.into_parts();
    if let Some(ms) = payload.get("sleep_ms").and_then(Value::as_u64) {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    if payload.get("fail").and_then(Value::as_bool) == Some(true) {
        return Err("failure requested by the event".into());
    }
    Ok(json!({
        "event": payload,
        "request_id": ctx.request_id,
        "trace_id": ctx.xray_trace_id,
        "deadline_ms": ctx.deadline,
        "function_arn": ctx.invoked_function_arn,
        "pid": std::process::id(),
    }))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(handler)).await
}
