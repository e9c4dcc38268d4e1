//! A `lambda_runtime` function for the trigger end-to-end tests, run by
//! [`otel_aws_lambda::function::run_traced_with`] with `serde_json::Value`
//! events (the wrapper recognises the trigger by the event's shape). It
//! answers like a real function of each kind: an SQS batch of several
//! records reports its last record as failed (`batchItemFailures`); an HTTP
//! event gets `statusCode` 503 for the path `/fail`, else 200.

use lambda_runtime::{Error, LambdaEvent};
use serde_json::{Value, json};

async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
    let p = &event.payload;
    tracing::info_span!("work").in_scope(|| {});
    if let Some(records) = p.get("Records").and_then(Value::as_array)
        && records.len() > 1
        && records[0].get("eventSource").and_then(Value::as_str) == Some("aws:sqs")
    {
        let last = records[records.len() - 1]
            .get("messageId")
            .cloned()
            .unwrap_or(Value::Null);
        return Ok(json!({"batchItemFailures": [{"itemIdentifier": last}]}));
    }
    if p.get("requestContext").is_some() {
        let path = p
            .get("rawPath")
            .or_else(|| p.get("path"))
            .and_then(Value::as_str)
            .unwrap_or_default();
        let status = if path == "/fail" { 503 } else { 200 };
        return Ok(json!({"statusCode": status, "body": "ok"}));
    }
    Ok(json!({}))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let telemetry = otel_aws_lambda::function::FunctionTelemetry::init().await?;
    otel_aws_lambda::function::run_traced_with(telemetry, handler).await
}
