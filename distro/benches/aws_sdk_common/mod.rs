//! The clients, canned answers and operations the AWS SDK benches share
//! (`aws_sdk`: criterion; `aws_sdk_instructions`: callgrind). Each bench is
//! its own crate and includes this module with `mod aws_sdk_common;`.

use std::hint::black_box;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::{Response, StatusCode};
use aws_smithy_types::body::SdkBody;
use opentelemetry::Context;
use opentelemetry::trace::{SpanKind, TraceContextExt, Tracer};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{
    SdkTracer, SdkTracerProvider, Span, SpanData, SpanExporter, SpanProcessor,
};
use otel_aws_distro::aws_sdk::AwsSdkInstrumentation;

pub const GET_ITEM: &str = r#"{"Item":{"id":{"S":"1"},"n":{"N":"42"}}}"#;
pub const SEND_MESSAGE: &str = r#"{"MessageId":"5fea7756-0ea4-451a-a703-a558b933e274","MD5OfMessageBody":"5d41402abc4b2a76b9719d911017c592"}"#;

pub fn answer(target: &str) -> &'static str {
    if target.starts_with("AmazonSQS") {
        SEND_MESSAGE
    } else {
        GET_ITEM
    }
}

/// Drops every batch (the bench measures span creation, not export).
#[derive(Debug)]
pub struct DropAll;

impl SpanExporter for DropAll {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        black_box(batch);
        Ok(())
    }
}

/// The benches' runtime: `block_on` on the calling thread, one worker.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

/// Ends spans without doing anything with them: with it, a variant costs
/// the span's creation and attributes on the caller's thread and nothing
/// else (the batch processor's handoff and its thread's work excluded).
#[derive(Debug)]
pub struct NoopProcessor;

impl SpanProcessor for NoopProcessor {
    fn on_start(&self, _span: &mut Span, _cx: &Context) {}
    fn on_end(&self, span: SpanData) {
        black_box(span);
    }
    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }
    fn shutdown_with_timeout(&self, _timeout: std::time::Duration) -> OTelSdkResult {
        Ok(())
    }
}

/// The span pipelines the benches compare.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pipeline {
    /// `with_batch_exporter(DropAll)`: the SDK's batch processor (its own
    /// thread, which drops each span), as `init()` built it before
    /// `export::EncodingBatchProcessor`.
    Batch,
    /// `export::batch_processor`, the processor `init()` installs (spans
    /// encoded where they end), in front of `NoopExporter`; built inside the
    /// runtime, as `init()` builds it, so exports run on its worker.
    Distro,
    /// What `init()` installed before `export::EncodingBatchProcessor`: the
    /// SDK's thread-based batch processor converting each batch to OTLP on
    /// its thread (`export::ProtoSpanExporter`), the export run as a task
    /// on the runtime, `NoopExporter` behind it.
    SdkProto,
    /// `with_simple_exporter(DropAll)`: exported on the caller's thread.
    Simple,
    /// [`NoopProcessor`]: the span is built and dropped at its end.
    Noop,
}

impl Pipeline {
    #[allow(dead_code)] // aws_sdk_instructions' argument; the criterion bench names them
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "batch" => Some(Self::Batch),
            "distro" => Some(Self::Distro),
            "sdk-proto" => Some(Self::SdkProto),
            "simple" => Some(Self::Simple),
            "noop" => Some(Self::Noop),
            _ => None,
        }
    }

    /// The provider; call inside the runtime the calls run on (the
    /// `distro` and `sdk-proto` pipelines export on it).
    pub fn provider(self) -> SdkTracerProvider {
        let b = SdkTracerProvider::builder();
        let noop = || std::sync::Arc::new(otel_aws_distro::export::NoopExporter::new());
        match self {
            Self::Batch => b.with_batch_exporter(DropAll),
            Self::SdkProto => b.with_span_processor(
                opentelemetry_sdk::trace::BatchSpanProcessor::builder(
                    otel_aws_distro::export::ProtoSpanExporter::on_runtime(
                        noop(),
                        tokio::runtime::Handle::current(),
                    ),
                )
                .with_batch_config(
                    opentelemetry_sdk::trace::BatchConfigBuilder::default()
                        .with_max_queue_size(65_536)
                        .build(),
                )
                .build(),
            ),
            Self::Distro => b.with_span_processor(otel_aws_distro::export::batch_processor(
                noop(),
                otel_aws_distro::export::BatchSettings {
                    max_queue_size: 65_536,
                    ..Default::default()
                },
            )),
            Self::Simple => b.with_simple_exporter(DropAll),
            Self::Noop => b.with_span_processor(NoopProcessor),
        }
        .build()
    }
}

/// The floor any instrumentation pays: an uninstrumented call inside one
/// hand-made CLIENT span (name and kind, no attributes), the span's context
/// current around the call (attached outside the future: wrapping the SDK's
/// large operation future in `with_context` would add a copy of it).
pub fn in_hand_span(tracer: &SdkTracer, name: &'static str, call: impl FnOnce()) {
    let span = tracer
        .span_builder(name)
        .with_kind(SpanKind::Client)
        .start(tracer);
    let cx = Context::current_with_span(span);
    {
        let _attached = cx.clone().attach();
        call();
    }
    cx.span().end();
}

/// [`in_hand_span`] for a call made inside a task: the span's context is
/// current while the call's future is polled.
pub async fn in_hand_span_async<F: std::future::Future>(
    tracer: &SdkTracer,
    name: &'static str,
    call: F,
) -> F::Output {
    use opentelemetry::trace::FutureExt as _;
    let span = tracer
        .span_builder(name)
        .with_kind(SpanKind::Client)
        .start(tracer);
    let cx = Context::current_with_span(span);
    let out = call.with_context(cx.clone()).await;
    cx.span().end();
    out
}

/// Runs `calls` one after the other inside one task on the runtime's worker
/// thread, as a service's request handler makes its AWS calls, and returns
/// the wall time of all of them.
///
/// Not `block_on` per call from the bench's thread: there each call's
/// timer registration (the SDK's timeouts) wakes the runtime's parked
/// worker on the other CPU — about one context switch every two calls,
/// and wall times that jump between two levels (34 and 62 µs for the
/// same GetItem, docs/benchmarks.md) with where the scheduler put the two
/// threads. Inside a worker's task the timer is registered without a wake.
#[allow(dead_code)] // the criterion bench's; aws_sdk_instructions times each call itself
pub fn in_task<F, Fut>(rt: &tokio::runtime::Runtime, calls: u64, call: F) -> std::time::Duration
where
    F: Fn() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    rt.block_on(async move {
        tokio::spawn(async move {
            let start = std::time::Instant::now();
            for _ in 0..calls {
                call().await;
            }
            start.elapsed()
        })
        .await
        .unwrap()
    })
}

/// Answers every request in process, by `X-Amz-Target`.
#[derive(Clone, Debug)]
pub struct Canned;

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

pub fn creds() -> aws_sdk_dynamodb::config::Credentials {
    aws_sdk_dynamodb::config::Credentials::new("AKIDEXAMPLE", "secret", None, None, "bench")
}

#[derive(Clone)]
pub struct Clients {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub sqs: aws_sdk_sqs::Client,
}

pub fn clients(
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
        // Registered as the module docs recommend: a permanent interceptor.
        d.push_interceptor(i.clone().into_shared());
        s.push_interceptor(i.into_shared());
    }
    Clients {
        dynamodb: aws_sdk_dynamodb::Client::from_conf(d.build()),
        sqs: aws_sdk_sqs::Client::from_conf(s.build()),
    }
}

pub async fn get_item(c: &Clients) {
    c.dynamodb
        .get_item()
        .table_name("carts")
        .key("id", AttributeValue::S("1".into()))
        .send()
        .await
        .unwrap();
}

pub async fn send_message(c: &Clients, queue: &str) {
    c.sqs
        .send_message()
        .queue_url(queue)
        .message_body("hello")
        .send()
        .await
        .unwrap();
}
