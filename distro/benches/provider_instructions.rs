//! Instruction counts for span start+end: run under callgrind, which counts
//! instructions instead of timing them, so the comparison with a plain
//! opentelemetry_sdk provider does not depend on what else the machine runs.
//!
//! ```sh
//! cargo bench -p otel-aws-distro --bench provider_instructions --no-run
//! for p in plain distro appsignals; do for n in 20000 40000; do
//!   valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/deps/provider_instructions-* $p $n 2>&1 | grep refs
//! done; done
//! ```
//! Instructions per span = (refs at 40000 − refs at 20000) / 20000 (more than
//! 65,536 spans overflow the batch queue).
//! `sdk`: a plain provider with the SDK's own `BatchSpanProcessor` (its
//! channel and thread) and an exporter that drops; `plain`: a plain provider
//! with the distro's batch processor (`export::batch_processor`).
//! `appsignals`: the distro with `OTEL_AWS_APPLICATION_SIGNALS_ENABLED=true`
//! (attributes and metrics per span, on the batch exporter's side).
//! `distro-encoded`, `appsignals-encoded`: the same, with an exporter that
//! does the OTLP/HTTP exporter's work up to the body: it takes the batch
//! processor's encoded batches as they are and, when a wrapper (Application
//! Signals) hands it a decoded batch, encodes it with the exporter's encoder
//! (`export::encode_traces`) before dropping it.
//!
//! A third argument `client` makes each span a CLIENT span with the eight
//! attributes the AWS SDK instrumentation gives a DynamoDB `GetItem`
//! (`rpc.*`, `cloud.region`, the table-name array, the request id, the
//! status code): the encoding's cost per attribute shows (the default span
//! has one). A fourth argument runs the spans on that many threads at once
//! (n / threads each), and the wall time per span is printed: outside
//! valgrind, what threads contending for the processors' locks cost.
#![allow(clippy::expect_used)]

use std::hint::black_box;
use std::sync::Arc;

use opentelemetry::trace::{Span as _, SpanKind, Tracer as _, TracerProvider as _};
use opentelemetry::{Array, KeyValue, StringValue, Value};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_sdk::trace::SdkTracerProvider;
use otel_aws_distro::export::{
    BatchExporter, BatchSettings, EncodedTraces, ExportFuture, ExportOutcome, NoopExporter,
    batch_processor, encode_traces,
};
use otel_aws_distro::{Builder, Env};

/// Encodes each traces batch to protobuf as the OTLP/HTTP exporter does,
/// then drops it.
#[derive(Debug)]
struct EncodeExporter;

impl BatchExporter for EncodeExporter {
    fn export(&self, batch: ExportTraceServiceRequest) -> ExportFuture<'_> {
        black_box(encode_traces(&batch));
        Box::pin(async { Ok(ExportOutcome::default()) })
    }

    /// As the OTLP/HTTP exporter: an encoded batch is its body already.
    fn takes_encoded(&self) -> bool {
        true
    }

    fn export_encoded(&self, batch: EncodedTraces) -> ExportFuture<'_> {
        black_box(batch.into_body());
        Box::pin(async { Ok(ExportOutcome::default()) })
    }
}

/// The SDK's span exporter that drops every batch (for `sdk`).
#[derive(Debug)]
struct DropSpans;

impl opentelemetry_sdk::trace::SpanExporter for DropSpans {
    async fn export(
        &self,
        batch: Vec<opentelemetry_sdk::trace::SpanData>,
    ) -> opentelemetry_sdk::error::OTelSdkResult {
        black_box(batch);
        Ok(())
    }
}

/// Runs the mode the first argument names (see the module docs).
pub fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "distro".into());
    let (which, encoded) = match mode.strip_suffix("-encoded") {
        Some(which) => (which.to_owned(), true),
        None => (mode, false),
    };
    let exporter = || -> Arc<dyn BatchExporter> {
        if encoded {
            Arc::new(EncodeExporter)
        } else {
            Arc::new(NoopExporter::new())
        }
    };
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let client = args.next().as_deref() == Some("client");
    let threads: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1).max(1);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let batch = || BatchSettings {
        max_queue_size: 65_536,
        ..BatchSettings::default()
    };
    let (provider, guard) = rt.block_on(async {
        if which == "sdk" {
            // The SDK's own batch processor (its channel and thread) and an
            // exporter that drops each batch: what the distro's replaced.
            let p = opentelemetry_sdk::trace::BatchSpanProcessor::builder(DropSpans)
                .with_batch_config(
                    opentelemetry_sdk::trace::BatchConfigBuilder::default()
                        .with_max_queue_size(65_536)
                        .build(),
                )
                .build();
            (
                SdkTracerProvider::builder().with_span_processor(p).build(),
                None,
            )
        } else if which == "plain" {
            let p = batch_processor(exporter(), batch());
            (
                SdkTracerProvider::builder().with_span_processor(p).build(),
                None,
            )
        } else {
            let mut env = Env::from_pairs([
                ("OTEL_SERVICE_NAME", "bench"),
                ("OTEL_AWS_RESOURCE_DETECTORS", "env"),
                ("OTEL_BSP_MAX_QUEUE_SIZE", "65536"),
            ]);
            if which == "appsignals" {
                // No region: the metrics are aggregated and dropped at the (never reached) flush.
                env = env.with("OTEL_AWS_APPLICATION_SIGNALS_ENABLED", "true");
            }
            let g = Builder::new()
                .with_env(env)
                .with_exporter(exporter())
                .without_globals()
                .install()
                .await
                .expect("distro provider");
            (g.tracer_provider().expect("enabled").clone(), Some(g))
        }
    });
    let tracer = provider.tracer("bench");
    let started = std::time::Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                let _enter = rt.enter();
                for _ in 0..n / threads {
                    one_span(&tracer, client);
                }
            });
        }
    });
    let elapsed = started.elapsed();
    eprintln!(
        "{which} {} spans on {threads} threads: {:.0} ns a span of wall time",
        n / threads * threads,
        elapsed.as_nanos() as f64 / (n / threads * threads) as f64
    );
    drop(guard);
    let _ = provider.shutdown();
}

/// One span, ended: the default one, or with `client` the AWS SDK CLIENT
/// span's attributes.
fn one_span(tracer: &opentelemetry_sdk::trace::SdkTracer, client: bool) {
    let mut span = if client {
        tracer
            .span_builder("DynamoDB.GetItem")
            .with_kind(SpanKind::Client)
            .with_attributes([
                KeyValue::new("rpc.system", "aws-api"),
                KeyValue::new("rpc.service", "DynamoDB"),
                KeyValue::new("rpc.method", "GetItem"),
                KeyValue::new("cloud.region", "us-east-1"),
                KeyValue::new(
                    "aws.dynamodb.table_names",
                    Value::Array(Array::String(vec![StringValue::from("orders".to_owned())])),
                ),
            ])
            .start(tracer)
    } else {
        tracer.start("GET /orders")
    };
    if client {
        span.set_attribute(KeyValue::new(
            "aws.request_id",
            "RBRP1K5CH7D1Q1MO3VEL1T3O77VV4KQNSO5AEMVJF66Q9ASUAAJG".to_owned(),
        ));
        span.set_attribute(KeyValue::new(
            "server.address",
            "dynamodb.us-east-1.amazonaws.com",
        ));
    }
    span.set_attribute(KeyValue::new("http.response.status_code", 200));
    span.end();
    black_box(&span);
}
