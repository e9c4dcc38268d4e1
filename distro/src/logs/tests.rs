use std::io::Write;
use std::sync::{Arc, Mutex};

use opentelemetry::trace::{TraceContextExt, Tracer as _, TracerProvider as _};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use tracing_subscriber::layer::SubscriberExt;

use super::*;

#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn lines(buf: &Buf) -> Vec<serde_json::Value> {
    let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn json_lines_carry_the_ids_of_the_enclosing_span() {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let buf = Buf::default();
    let writer = buf.clone();
    let subscriber = tracing_subscriber::registry()
        .with(otel_layer(&provider))
        .with(
            tracing_subscriber::fmt::layer()
                .event_format(JsonFormat::new())
                .with_writer(move || writer.clone()),
        );
    tracing::subscriber::with_default(subscriber, || {
        tracing::info!(answer = 42, "outside any span");
        let span = tracing::info_span!("checkout", order = 7);
        let _g = span.enter();
        tracing::warn!(user = "u-1", "inside the span");
    });
    provider.force_flush().unwrap();
    let spans = exporter.get_finished_spans().unwrap();
    assert_eq!(
        spans.len(),
        1,
        "the tracing span became one OpenTelemetry span"
    );
    let sc = &spans[0].span_context;

    let out = lines(&buf);
    assert_eq!(out.len(), 2);
    assert_eq!(out[0]["message"], "outside any span");
    assert_eq!(out[0]["answer"], 42);
    assert_eq!(out[0]["level"], "INFO");
    assert!(out[0].get("trace_id").is_none(), "{}", out[0]);

    assert_eq!(out[1]["message"], "inside the span");
    assert_eq!(out[1]["user"], "u-1");
    assert_eq!(out[1]["level"], "WARN");
    assert_eq!(out[1]["spans"], serde_json::json!(["checkout"]));
    assert_eq!(out[1]["trace_id"], sc.trace_id().to_string());
    assert_eq!(out[1]["span_id"], sc.span_id().to_string());
    let hex = sc.trace_id().to_string();
    assert_eq!(
        out[1]["xray_trace_id"],
        format!("1-{}-{}", &hex[..8], &hex[8..])
    );
    assert!(out[1]["timestamp"].as_str().unwrap().ends_with('Z'));
}

#[test]
fn json_lines_use_an_attached_otel_context() {
    let provider = SdkTracerProvider::builder().build();
    let tracer = provider.tracer("t");
    let buf = Buf::default();
    let writer = buf.clone();
    let subscriber = tracing_subscriber::registry().with(
        tracing_subscriber::fmt::layer()
            .event_format(JsonFormat::new())
            .with_writer(move || writer.clone()),
    );
    let span = tracer.start("api-span");
    let cx = opentelemetry::Context::current_with_span(span);
    let want = cx.span().span_context().trace_id().to_string();
    let _attached = cx.attach();
    tracing::subscriber::with_default(subscriber, || tracing::info!("via the OpenTelemetry API"));
    let out = lines(&buf);
    assert_eq!(out[0]["trace_id"], want);
}

#[test]
fn bad_filter_is_named() {
    let err = install(None, None, LogFormat::Json, Some("=[bad"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("RUST_LOG"), "{err}");
}

#[test]
fn rust_log_quietens_the_lines_but_info_spans_are_still_exported() {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let buf = Buf::default();
    let writer = buf.clone();
    let subscriber = subscriber(
        Some(&provider),
        None,
        LogFormat::Json,
        Some("warn"),
        move || writer.clone(),
    )
    .unwrap();
    tracing::subscriber::with_default(subscriber, || {
        let span = tracing::info_span!("checkout");
        let _g = span.enter();
        tracing::info!("below the log level");
        tracing::warn!("at the log level");
        // Below info and not enabled by RUST_LOG: neither exported nor written.
        let _d = tracing::debug_span!("chatty").entered();
    });
    provider.force_flush().unwrap();
    let spans = exporter.get_finished_spans().unwrap();
    let names: Vec<String> = spans.iter().map(|s| s.name.to_string()).collect();
    assert_eq!(names, ["checkout"]);
    let out = lines(&buf);
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0]["message"], "at the log level");
    // The line still links to the exported span; the `spans` list names
    // only spans enabled for the log lines, so it is absent here.
    let sc = &spans[0].span_context;
    assert_eq!(out[0]["trace_id"], sc.trace_id().to_string());
    assert_eq!(out[0]["span_id"], sc.span_id().to_string());
    assert!(out[0].get("spans").is_none(), "{}", out[0]);
}

#[test]
fn rust_log_debug_also_exports_debug_spans() {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let subscriber = subscriber(
        Some(&provider),
        None,
        LogFormat::Text,
        Some("debug"),
        std::io::sink,
    )
    .unwrap();
    tracing::subscriber::with_default(subscriber, || {
        let _d = tracing::debug_span!("detail").entered();
    });
    provider.force_flush().unwrap();
    let spans = exporter.get_finished_spans().unwrap();
    assert_eq!(spans.len(), 1);
    assert_eq!(spans[0].name, "detail");
}
