//! What the AWS SDK instrumentation adds per operation: the same
//! `aws-sdk-dynamodb` GetItem / `aws-sdk-sqs` SendMessage, uninstrumented and
//! with `AwsSdkInstrumentation` (spans to an SDK provider with a batch
//! processor and an exporter that drops), side by side in one run,
//!
//! - `loopback/*`: against one local HTTP endpoint on 127.0.0.1 (what the
//!   issue asks; network time dominates and varies);
//! - `in_process/*`: through an in-process HTTP client answering canned
//!   responses (no socket: the difference is the instrumentation's CPU).
//!
//! `cargo bench -p otel-aws-distro --features aws-sdk --bench aws_sdk -- --warm-up-time 2 --measurement-time 5`

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)] // bench

use std::hint::black_box;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::{Response, StatusCode};
use aws_smithy_types::body::SdkBody;
use axum::Router;
use axum::http::HeaderMap;
use axum::routing::any;
use criterion::{Criterion, criterion_group, criterion_main};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};
use otel_aws_distro::aws_sdk::AwsSdkInstrumentation;
use otel_aws_testkit::server::RunningServer;

const GET_ITEM: &str = r#"{"Item":{"id":{"S":"1"},"n":{"N":"42"}}}"#;
const SEND_MESSAGE: &str = r#"{"MessageId":"5fea7756-0ea4-451a-a703-a558b933e274","MD5OfMessageBody":"5d41402abc4b2a76b9719d911017c592"}"#;

fn answer(target: &str) -> &'static str {
    if target.starts_with("AmazonSQS") {
        SEND_MESSAGE
    } else {
        GET_ITEM
    }
}

/// Drops every batch (the bench measures span creation, not export).
#[derive(Debug)]
struct DropAll;

impl SpanExporter for DropAll {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        black_box(batch);
        Ok(())
    }
}

/// Answers every request in process, by `X-Amz-Target`.
#[derive(Clone, Debug)]
struct Canned;

impl HttpConnector for Canned {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let body = answer(request.headers().get("x-amz-target").unwrap_or_default());
        let mut response =
            Response::new(StatusCode::try_from(200u16).unwrap(), SdkBody::from(body));
        response.headers_mut().insert("x-amzn-requestid", "REQ-1");
        response
            .headers_mut()
            .insert("content-type", "application/x-amz-json-1.0");
        HttpConnectorFuture::ready(Ok(response))
    }
}

impl HttpClient for Canned {
    fn http_connector(
        &self,
        _settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(self.clone())
    }
}

fn creds() -> aws_sdk_dynamodb::config::Credentials {
    aws_sdk_dynamodb::config::Credentials::new("AKIDEXAMPLE", "secret", None, None, "bench")
}

struct Clients {
    dynamodb: aws_sdk_dynamodb::Client,
    sqs: aws_sdk_sqs::Client,
}

fn clients(
    endpoint: &str,
    http: Option<SharedHttpClient>,
    instr: Option<AwsSdkInstrumentation>,
) -> Clients {
    let mut d = aws_sdk_dynamodb::Config::builder()
        .behavior_version_latest()
        .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
        .credentials_provider(creds())
        .endpoint_url(endpoint);
    let mut s = aws_sdk_sqs::Config::builder()
        .behavior_version_latest()
        .region(aws_sdk_sqs::config::Region::new("us-east-1"))
        .credentials_provider(creds())
        .endpoint_url(endpoint);
    if let Some(h) = http {
        d = d.http_client(h.clone());
        s = s.http_client(h);
    }
    if let Some(i) = instr {
        d = d.interceptor(i.clone());
        s = s.interceptor(i);
    }
    Clients {
        dynamodb: aws_sdk_dynamodb::Client::from_conf(d.build()),
        sqs: aws_sdk_sqs::Client::from_conf(s.build()),
    }
}

async fn get_item(c: &Clients) {
    c.dynamodb
        .get_item()
        .table_name("carts")
        .key("id", AttributeValue::S("1".into()))
        .send()
        .await
        .unwrap();
}

async fn send_message(c: &Clients, queue: &str) {
    c.sqs
        .send_message()
        .queue_url(queue)
        .message_body("hello")
        .send()
        .await
        .unwrap();
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(DropAll)
        .build();
    let instr = AwsSdkInstrumentation::with_tracer_provider(&provider);
    let server = rt.block_on(async {
        let router = Router::new().fallback(any(|headers: HeaderMap| async move {
            let target = headers
                .get("x-amz-target")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            (
                [
                    ("x-amzn-requestid", "REQ-1"),
                    ("content-type", "application/x-amz-json-1.0"),
                ],
                answer(target),
            )
        }));
        RunningServer::start(router).await.unwrap()
    });
    let url = server.url();
    let queue = format!("{url}/123456789012/orders");
    let canned = SharedHttpClient::new(Canned);
    let setups = [
        (
            "loopback",
            clients(&url, None, None),
            clients(&url, None, Some(instr.clone())),
        ),
        (
            "in_process",
            clients(&url, Some(canned.clone()), None),
            clients(&url, Some(canned), Some(instr)),
        ),
    ];
    for (name, plain, traced) in &setups {
        let mut group = c.benchmark_group(format!("aws_sdk_{name}"));
        group.bench_function("dynamodb_get_item/uninstrumented", |b| {
            b.iter(|| rt.block_on(get_item(plain)))
        });
        group.bench_function("dynamodb_get_item/instrumented", |b| {
            b.iter(|| rt.block_on(get_item(traced)))
        });
        group.bench_function("sqs_send_message/uninstrumented", |b| {
            b.iter(|| rt.block_on(send_message(plain, &queue)))
        });
        group.bench_function("sqs_send_message/instrumented", |b| {
            b.iter(|| rt.block_on(send_message(traced, &queue)))
        });
        group.finish();
    }
    let _ = provider.shutdown_with_timeout(Duration::from_secs(5));
    drop(server);
}

criterion_group!(benches, bench);
criterion_main!(benches);
