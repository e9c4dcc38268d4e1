//! A small checkout service instrumented with otel-aws-distro, run by `make demo`.
//!
//! It starts an "inventory" HTTP service on 127.0.0.1, then handles one
//! checkout request: the checkout span (SERVER) loads a cart (a DynamoDB-like
//! CLIENT span), calls inventory over real HTTP with the `X-Amzn-Trace-Id`
//! and `traceparent` headers injected, and the inventory handler continues
//! the same trace from those headers. Log lines are JSON with the trace ids.
//!
//! Everything is configured from the environment as in production; the
//! Makefile sets `OTEL_TRACES_EXPORTER=console,file` so nothing leaves the
//! machine.

use std::collections::HashMap;
use std::time::Duration;

use axum::Router;
use axum::http::HeaderMap;
use axum::routing::get;
use otel_aws_distro::propagation::{extract_from_map_global, inject_into_map_global};
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let guard = otel_aws_distro::init().await?;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let inventory = format!("http://{}/inventory/sku-42", listener.local_addr()?);
    let app = Router::new().route("/inventory/{sku}", get(inventory_handler));
    tokio::spawn(async move { axum::serve(listener, app).await });

    checkout(&inventory).await?;

    // Flush before exit: the file exporter then holds the whole trace.
    guard.shutdown().await?;
    Ok(())
}

/// The incoming checkout request.
async fn checkout(inventory: &str) -> Result<(), Box<dyn std::error::Error>> {
    let span = tracing::info_span!(
        "POST /checkout",
        otel.kind = "server",
        http.request.method = "POST",
        url.path = "/checkout",
        http.response.status_code = tracing::field::Empty,
    );
    async {
        tracing::info!(customer = "c-1001", "checkout started");
        load_cart().await;
        let stock = call_inventory(inventory).await?;
        tracing::info!(stock, "checkout done");
        tracing::Span::current().record("http.response.status_code", 200);
        Ok::<_, Box<dyn std::error::Error>>(())
    }
    .instrument(span)
    .await
}

#[tracing::instrument(name = "DynamoDB.GetItem", fields(otel.kind = "client", rpc.system = "aws-api", rpc.service = "DynamoDB", aws.dynamodb.table_names = "carts"))]
async fn load_cart() {
    tokio::time::sleep(Duration::from_millis(3)).await;
    tracing::debug!("cart loaded");
}

/// Outgoing HTTP call with the trace headers injected.
async fn call_inventory(url: &str) -> Result<u64, Box<dyn std::error::Error>> {
    let span = tracing::info_span!(
        "GET /inventory",
        otel.kind = "client",
        http.request.method = "GET",
        url.full = url
    );
    async {
        let mut headers = HashMap::new();
        inject_into_map_global(&tracing::Span::current().context(), &mut headers);
        let mut req = reqwest::Client::new().get(url);
        for (k, v) in &headers {
            req = req.header(k, v);
        }
        let body = req.send().await?.text().await?;
        Ok(body.trim().parse()?)
    }
    .instrument(span)
    .await
}

/// The downstream service: continues the caller's trace from the headers.
async fn inventory_handler(headers: HeaderMap) -> String {
    let carrier: HashMap<String, String> = headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
        .collect();
    let parent = extract_from_map_global(&carrier);
    let span = tracing::info_span!(
        "GET /inventory/{sku}",
        otel.kind = "server",
        http.request.method = "GET"
    );
    let _ = span.set_parent(parent);
    async {
        tokio::time::sleep(Duration::from_millis(2)).await;
        tracing::info!(
            x_amzn_trace_id = carrier
                .get("x-amzn-trace-id")
                .map(String::as_str)
                .unwrap_or("-"),
            "inventory lookup"
        );
        "17".to_string()
    }
    .instrument(span)
    .await
}
