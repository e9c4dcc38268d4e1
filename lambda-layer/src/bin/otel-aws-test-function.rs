//! A `lambda_runtime` function for the end-to-end tests, wrapped with
//! [`otel_aws_lambda::function`]. Its event says what to do:
//! `{"spans": N, "burst": M, "sleep_ms": T}` — N child spans through
//! `tracing`; M spans posted as raw OTLP to the extension (in requests of
//! 5,000, bypassing the SDK's queue bound) to exercise the extension's
//! buffer; sleep T ms. `"client_status": S` adds a CLIENT span shaped like
//! an AWS SDK call (S3 `GetObject` on bucket `orders-archive`, HTTP status
//! S); `"fail": true` makes the handler return an error.

use lambda_runtime::{Error, LambdaEvent};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use serde_json::{Value, json};

fn burst_request(offset: usize, n: usize) -> ExportTraceServiceRequest {
    let spans = (0..n)
        .map(|i| {
            let id = (offset + i + 1) as u64;
            Span {
                trace_id: [&[0xb0u8; 8][..], &id.to_be_bytes()].concat(),
                span_id: id.to_be_bytes().to_vec(),
                name: format!("burst-{}", offset + i),
                start_time_unix_nano: 1_700_000_000_000_000_000,
                end_time_unix_nano: 1_700_000_000_000_100_000,
                flags: 0x101,
                ..Span::default()
            }
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans,
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }],
    }
}

async fn burst(total: usize) -> Result<(), Error> {
    let addr =
        std::env::var("OTEL_AWS_LAMBDA_HTTP_ADDR").unwrap_or_else(|_| "127.0.0.1:4318".into());
    let client = reqwest::Client::new();
    let mut sent = 0;
    while sent < total {
        let n = (total - sent).min(5_000);
        let body = burst_request(sent, n).encode_to_vec();
        client
            .post(format!("http://{addr}/v1/traces"))
            .header("content-type", "application/x-protobuf")
            .body(body)
            .send()
            .await?;
        sent += n;
    }
    Ok(())
}

async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
    let p = &event.payload;
    let spans = p.get("spans").and_then(Value::as_u64).unwrap_or(0);
    for i in 0..spans {
        tracing::info_span!("child", index = i).in_scope(|| {});
    }
    if let Some(n) = p.get("burst").and_then(Value::as_u64) {
        burst(n as usize).await?;
    }
    if let Some(status) = p.get("client_status").and_then(Value::as_i64) {
        // The attributes OpenTelemetry's AWS SDK instrumentations set.
        tracing::info_span!(
            "S3.GetObject",
            otel.kind = "client",
            rpc.system = "aws-api",
            rpc.service = "S3",
            rpc.method = "GetObject",
            aws.s3.bucket = "orders-archive",
            http.response.status_code = status,
        )
        .in_scope(|| {});
    }
    if let Some(ms) = p.get("sleep_ms").and_then(Value::as_u64) {
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
    }
    if p.get("fail").and_then(Value::as_bool) == Some(true) {
        return Err("the event asked for a failure".into());
    }
    Ok(json!({"ok": true, "request_id": event.context.request_id}))
}

/// With `OTEL_AWS_TEST_NO_DONE` set, the wrapper's done signal goes to a
/// closed port, so the extension learns of each invoke's end from
/// `platform.runtimeDone` only — as with Python and Node.js functions.
#[tokio::main]
async fn main() -> Result<(), Error> {
    let mut env = otel_aws_distro::Env::from_process();
    if env.get("OTEL_AWS_TEST_NO_DONE").is_some() {
        env = env.with("OTEL_AWS_LAMBDA_CONTROL_ADDR", "127.0.0.1:9");
    }
    let telemetry = otel_aws_lambda::function::FunctionTelemetry::init_with(
        otel_aws_distro::Builder::new(),
        env,
    )
    .await?;
    otel_aws_lambda::function::run_with(telemetry, handler).await
}
