//! Demo Rust Lambda function: `lambda_runtime` + the otel-aws wrapper.
//! Each invoke gets a SERVER span parented on the X-Ray header, with two
//! child spans from `tracing`; the wrapper flushes them to the extension
//! before the response is returned.
//!
//! Run it in the simulator with the layer: see docs/lambda.md ("Demo").

use lambda_runtime::{Error, LambdaEvent};
use serde_json::{Value, json};
use tracing::Instrument;

#[tracing::instrument(skip_all, fields(order.items = items))]
async fn load_order(items: u64) -> u64 {
    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    items * 42
}

async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
    let items = event
        .payload
        .get("items")
        .and_then(Value::as_u64)
        .unwrap_or(3);
    let total = load_order(items).await;
    async {
        tracing::info!(total, "pricing done");
    }
    .instrument(tracing::info_span!("price_order", order.total = total))
    .await;
    Ok(json!({ "total": total }))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    otel_aws_lambda::function::run(handler).await
}
