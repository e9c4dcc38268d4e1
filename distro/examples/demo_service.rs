//! A small checkout service instrumented with otel-aws-distro, run by
//! `make demo-service`. No span in this file is written by hand:
//!
//! - both HTTP services (checkout and its downstream inventory) are axum
//!   routers behind [`ServerLayer`]: one SERVER span per request named
//!   `{method} {route}`, context extracted from `X-Amzn-Trace-Id` /
//!   `traceparent`;
//! - checkout calls inventory with a reqwest client wrapped by
//!   [`traced_client`]: a CLIENT span and the trace headers injected;
//! - inventory reads the stock through the real `aws-sdk-dynamodb` client
//!   with [`AwsSdkInstrumentation`] on its config: a CLIENT span
//!   `DynamoDB.GetItem` (`rpc.system=aws-api`, `aws.request_id`, the table)
//!   and `X-Amzn-Trace-Id` on the request. The DynamoDB endpoint is a local
//!   fake on 127.0.0.1, so nothing leaves the machine;
//! - the application's own `tracing` spans and log lines (JSON with the
//!   trace ids) are children of the SERVER span.
//!
//! Everything is configured from the environment as in production; the
//! Makefile sets `OTEL_TRACES_EXPORTER=console,file`.

use std::net::SocketAddr;

use aws_sdk_dynamodb::config::{Credentials, Region};
use aws_sdk_dynamodb::types::AttributeValue;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use otel_aws_distro::aws_sdk::AwsSdkInstrumentation;
use otel_aws_distro::instrument::{ServerLayer, traced_client};
use reqwest_middleware::ClientWithMiddleware;

type DemoError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), DemoError> {
    let guard = otel_aws_distro::init().await?;

    // The AWS service the inventory reads from: a local stand-in speaking
    // DynamoDB's JSON protocol (no account, no network).
    let dynamodb_endpoint = serve(Router::new().route("/", post(fake_dynamodb))).await?;
    let dynamodb = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::Config::builder()
            .behavior_version_latest()
            .region(Region::new("us-east-1"))
            .endpoint_url(format!("http://{dynamodb_endpoint}"))
            .credentials_provider(Credentials::new("AKIDDEMO", "demo", None, None, "demo"))
            // The one line that traces every call of this client.
            .interceptor(AwsSdkInstrumentation::new())
            .build(),
    );

    let inventory = serve(
        Router::new()
            .route("/inventory/{sku}", get(inventory_handler))
            .with_state(dynamodb)
            .layer(ServerLayer::new()),
    )
    .await?;

    let checkout = serve(
        Router::new()
            .route("/checkout", post(checkout_handler))
            .with_state(Checkout {
                client: traced_client(reqwest::Client::new()),
                inventory: format!("http://{inventory}/inventory/sku-42"),
            })
            .layer(ServerLayer::new()),
    )
    .await?;

    // A customer's request (untraced, like a browser's): the checkout
    // service's SERVER span is the root of the trace.
    let answer = reqwest::Client::new()
        .post(format!("http://{checkout}/checkout"))
        .send()
        .await?;
    tracing::info!(status = answer.status().as_u16(), body = %answer.text().await?, "checkout answered");

    // Flush before exit: the file exporter then holds the whole trace.
    guard.shutdown().await?;
    Ok(())
}

/// Serves `app` on an ephemeral 127.0.0.1 port, returning the address.
async fn serve(app: Router) -> Result<SocketAddr, DemoError> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(addr)
}

#[derive(Clone)]
struct Checkout {
    client: ClientWithMiddleware,
    inventory: String,
}

/// The checkout request: its own logic is a plain `tracing` span.
async fn checkout_handler(State(app): State<Checkout>) -> Result<String, AppError> {
    tracing::info!(customer = "c-1001", "checkout started");
    let stock = reserve(&app).await?;
    tracing::info!(stock, "checkout done");
    Ok(format!("reserved sku-42 ({stock} left)\n"))
}

#[tracing::instrument(skip_all, fields(sku = "sku-42"))]
async fn reserve(app: &Checkout) -> Result<u64, AppError> {
    let body = app
        .client
        .get(&app.inventory)
        .send()
        .await?
        .error_for_status()?
        .text()
        .await?;
    Ok(body.trim().parse()?)
}

/// The downstream service: continues the caller's trace (the layer
/// extracted it) and reads the stock through the AWS SDK.
async fn inventory_handler(
    State(dynamodb): State<aws_sdk_dynamodb::Client>,
    Path(sku): Path<String>,
) -> Result<String, AppError> {
    let item = dynamodb
        .get_item()
        .table_name("inventory")
        .key("sku", AttributeValue::S(sku.clone()))
        .send()
        .await?;
    let stock = item
        .item()
        .and_then(|item| item.get("stock"))
        .and_then(|stock| stock.as_n().ok())
        .cloned()
        .unwrap_or_else(|| "0".to_string());
    tracing::info!(%sku, %stock, "inventory lookup");
    Ok(stock)
}

/// DynamoDB's answer to GetItem (awsJson1_0), with a request id as the
/// service sends one; logs the trace header the instrumented client sent.
async fn fake_dynamodb(headers: HeaderMap) -> impl IntoResponse {
    let trace_header = headers
        .get("x-amzn-trace-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_string();
    tracing::info!(x_amzn_trace_id = %trace_header, "fake DynamoDB received GetItem");
    let mut answer = HeaderMap::new();
    answer.insert(
        "content-type",
        HeaderValue::from_static("application/x-amz-json-1.0"),
    );
    answer.insert(
        "x-amzn-requestid",
        HeaderValue::from_static("DEMO0REQUEST0ID0FAKE0DYNAMODB0000000000000000000000"),
    );
    (
        answer,
        r#"{"Item":{"sku":{"S":"sku-42"},"stock":{"N":"17"}}}"#,
    )
}

/// Any error of a handler: answered 500 (the layer marks the SERVER span
/// ERROR for 5xx).
struct AppError(DemoError);

impl<E: Into<DemoError>> From<E> for AppError {
    fn from(err: E) -> Self {
        Self(err.into())
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> axum::response::Response {
        tracing::error!(error = %self.0, "request failed");
        (
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            self.0.to_string(),
        )
            .into_response()
    }
}
