//! Trace context across a message queue (or any custom transport).
//!
//! A producer injects its span's context into the message's string headers;
//! a consumer extracts it and continues the same trace.
//!
//! Run: `cargo run -p otel-aws-distro --example message_headers`

use opentelemetry::trace::{Span, SpanKind, TraceContextExt, Tracer, TracerProvider as _};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::SdkTracerProvider;
use otel_aws_distro::propagation::{
    PropagatorKind, build_propagator, extract_from_map, inject_into_map,
};
use otel_aws_distro::sampling::SamplerConfig;
use otel_aws_distro::xray::XrayIdGenerator;
use std::collections::HashMap;

/// What travels on the queue.
struct Message {
    headers: HashMap<String, String>,
    body: String,
}

fn main() {
    // X-Ray ids, parent-based sampling, default propagators (xray,tracecontext,baggage).
    let provider = SdkTracerProvider::builder()
        .with_id_generator(XrayIdGenerator::default())
        .with_sampler(SamplerConfig::default().build())
        .build();
    let tracer = provider.tracer("message-headers-example");
    let propagator = build_propagator(&PropagatorKind::DEFAULT, None);

    // Producer: a PRODUCER span, its context injected into the headers.
    let producer_span = tracer
        .span_builder("orders publish")
        .with_kind(SpanKind::Producer)
        .start(&tracer);
    let producer_cx = Context::new().with_span(producer_span);
    let mut message = Message {
        headers: HashMap::new(),
        body: "order #42".to_string(),
    };
    inject_into_map(&producer_cx, &propagator, &mut message.headers);
    let producer_trace = producer_cx.span().span_context().trace_id();
    producer_cx.span().end();

    println!("message headers:");
    let mut keys: Vec<_> = message.headers.keys().collect();
    keys.sort();
    for key in keys {
        println!("  {key}: {}", message.headers[key]);
    }

    // Consumer: extract, then a CONSUMER span whose parent is the producer.
    let parent_cx = extract_from_map(&propagator, &message.headers);
    let mut consumer_span = tracer
        .span_builder("orders process")
        .with_kind(SpanKind::Consumer)
        .start_with_context(&tracer, &parent_cx);
    consumer_span.set_attribute(KeyValue::new(
        "messaging.message.body.size",
        message.body.len() as i64,
    ));
    let consumer_trace = consumer_span.span_context().trace_id();
    consumer_span.end();

    println!("producer trace id: {producer_trace}");
    println!("consumer trace id: {consumer_trace}");
    assert_eq!(
        producer_trace, consumer_trace,
        "the consumer continues the producer's trace"
    );
    println!("trace ids match");

    if let Err(e) = provider.shutdown() {
        eprintln!("shutdown: {e}");
    }
}
