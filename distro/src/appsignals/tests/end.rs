//! The rules at each span's end (`EndAnnotator`, with the propagation at
//! each span's start) against the batch walk on the same spans: the same
//! attributes on every span and the same metrics. The batch walk is the
//! implementation the ADOT cases above check.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry::trace::{
    Span as _, SpanContext as SdkSpanContext, SpanKind as Kind, Status as SdkStatus,
    TraceContextExt as _, TraceFlags, TraceState, Tracer as _, TracerProvider as _,
};
use opentelemetry::{Context, KeyValue as Kv};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::KeyValue as OtlpKv;
use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SdkTracerProvider, Span, SpanData, SpanProcessor};

use super::super::{AppSignals, EndAnnotator, GeneratorConfig, Propagation};
use crate::env::Env;
use crate::export::{
    BatchExporter, BatchSettings, EncodedTraces, ExportFuture, ExportOutcome, batch_processor,
};
use crate::sampling::SamplerConfig;

/// Keeps each batch it is sent, encoded.
#[derive(Debug, Default)]
struct Bodies(Mutex<Vec<ExportTraceServiceRequest>>);

impl BatchExporter for Bodies {
    fn export(&self, batch: ExportTraceServiceRequest) -> ExportFuture<'_> {
        self.0.lock().unwrap().push(batch);
        Box::pin(async { Ok(ExportOutcome::default()) })
    }
    fn takes_encoded(&self) -> bool {
        true
    }
    fn export_encoded(&self, batch: EncodedTraces) -> ExportFuture<'_> {
        self.export(batch.decode().unwrap())
    }
}

/// Keeps each ended span as the SDK gives it (before any annotation).
#[derive(Debug, Default, Clone)]
struct Keep(Arc<Mutex<Vec<SpanData>>>);

impl SpanProcessor for Keep {
    fn on_start(&self, _: &mut Span, _: &Context) {}
    fn on_end(&self, span: SpanData) {
        self.0.lock().unwrap().push(span);
    }
    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }
    fn shutdown_with_timeout(&self, _: Duration) -> OTelSdkResult {
        Ok(())
    }
}

/// Span id → its attributes, sorted (the order attributes are written in
/// is not part of the result).
fn attributes(req: &ExportTraceServiceRequest) -> BTreeMap<Vec<u8>, Vec<String>> {
    req.resource_spans
        .iter()
        .flat_map(|rs| &rs.scope_spans)
        .flat_map(|ss| &ss.spans)
        .map(|s| {
            let mut a: Vec<String> = s
                .attributes
                .iter()
                .map(|kv: &OtlpKv| format!("{kv:?}"))
                .collect();
            a.sort();
            (s.span_id.clone(), a)
        })
        .collect()
}

/// Every kind of span the rules treat differently, through a provider.
fn traffic(provider: &SdkTracerProvider) {
    let tracer = provider.tracer("shop");
    for status in [200_i64, 404, 503] {
        let server = tracer
            .span_builder("GET /cart/{id}")
            .with_kind(Kind::Server)
            .with_attributes([
                Kv::new("http.request.method", "GET"),
                Kv::new("http.route", "/cart/{id}"),
                Kv::new("http.response.status_code", status),
            ])
            .start(&tracer);
        let cx = Context::current_with_span(server);
        let client = |name: &'static str, attrs: Vec<Kv>, cx: &Context| {
            tracer
                .span_builder(name)
                .with_kind(Kind::Client)
                .with_attributes(attrs)
                .start_with_context(&tracer, cx)
        };
        client(
            "DynamoDB.GetItem",
            vec![
                Kv::new("rpc.system", "aws-api"),
                Kv::new("rpc.service", "DynamoDB"),
                Kv::new("rpc.method", "GetItem"),
                Kv::new(
                    "aws.dynamodb.table_names",
                    opentelemetry::Value::Array(opentelemetry::Array::String(vec!["carts".into()])),
                ),
            ],
            &cx,
        )
        .end();
        let internal = tracer.start_with_context("price", &cx);
        let icx = cx.with_span(internal);
        client(
            "GET",
            vec![
                Kv::new("http.request.method", "GET"),
                Kv::new("url.full", "https://prices.internal:8443/v1/items/42?x=1"),
                Kv::new("server.address", "prices.internal"),
                Kv::new("server.port", 8443_i64),
                Kv::new("http.response.status_code", status),
            ],
            &icx,
        )
        .end();
        let mut db = client(
            "SELECT shop.carts",
            vec![
                Kv::new("db.system", "postgresql"),
                Kv::new("db.statement", "SELECT * FROM carts WHERE id = 42"),
                Kv::new("db.name", "shop"),
                Kv::new("server.address", "db.internal"),
            ],
            &icx,
        );
        db.set_status(SdkStatus::error("timeout"));
        db.end();
        // Its own remote service: replaced, not written twice.
        client(
            "legacy",
            vec![
                Kv::new("aws.remote.service", "Mine"),
                Kv::new("rpc.system", "aws-api"),
                Kv::new("rpc.service", "SQS"),
                Kv::new("rpc.method", "SendMessage"),
                Kv::new(
                    "aws.sqs.queue_url",
                    "https://sqs.us-east-1.amazonaws.com/123456789012/orders",
                ),
            ],
            &icx,
        )
        .end();
        // An ADOT-generated span: left alone.
        client("adot", vec![Kv::new("aws.span.kind", "CLIENT")], &icx).end();
        tracer
            .span_builder("orders publish")
            .with_kind(Kind::Producer)
            .with_attributes([
                Kv::new("messaging.system", "aws_sqs"),
                Kv::new("messaging.operation", "publish"),
            ])
            .start_with_context(&tracer, &icx)
            .end();
        icx.span().end();
        cx.span().end();
    }
    // The status code in each form the rules read (error 4xx, fault 5xx):
    // `http.status_code` before `http.response.status_code` wherever it
    // comes, the first value of a key, a string or a whole double as an
    // integer, a value that is not one falling back on the other key.
    let codes: [Vec<Kv>; 6] = [
        vec![Kv::new("http.status_code", " 503 ")],
        vec![
            Kv::new("http.status_code", "x"),
            Kv::new("http.response.status_code", 404_i64),
        ],
        vec![Kv::new("http.status_code", 404.0)],
        vec![
            Kv::new("http.response.status_code", 200_i64),
            Kv::new("http.status_code", 500_i64),
        ],
        vec![
            Kv::new("http.response.status_code", 404_i64),
            Kv::new("http.response.status_code", 500_i64),
        ],
        vec![Kv::new("http.status_code", 404.5)],
    ];
    for (i, code) in codes.into_iter().enumerate() {
        let mut attrs = vec![
            Kv::new("http.request.method", "GET"),
            Kv::new("net.peer.name", format!("codes{}.internal", i % 2)),
        ];
        attrs.extend(code);
        let mut span = tracer
            .span_builder("GET")
            .with_kind(Kind::Client)
            .with_attributes(attrs)
            .start(&tracer);
        if i == 5 {
            span.set_status(SdkStatus::error("no code"));
        }
        span.end();
    }
    // A consumer and its `process` child; a SERVER span under a remote parent.
    let consumer = tracer
        .span_builder("orders receive")
        .with_kind(Kind::Consumer)
        .with_attributes([
            Kv::new("messaging.system", "aws_sqs"),
            Kv::new("messaging.operation", "receive"),
        ])
        .start(&tracer);
    let ccx = Context::current_with_span(consumer);
    tracer
        .span_builder("orders process")
        .with_kind(Kind::Consumer)
        .with_attributes([
            Kv::new("messaging.system", "aws_sqs"),
            Kv::new("messaging.operation", "process"),
        ])
        .start_with_context(&tracer, &ccx)
        .end();
    ccx.span().end();
    let remote = Context::new().with_remote_span_context(SdkSpanContext::new(
        opentelemetry::trace::TraceId::from(7_u128),
        opentelemetry::trace::SpanId::from(9_u64),
        TraceFlags::SAMPLED,
        true,
        TraceState::default(),
    ));
    tracer
        .span_builder("POST /orders")
        .with_kind(Kind::Server)
        .with_attributes([
            Kv::new("http.request.method", "POST"),
            Kv::new("url.path", "/orders"),
        ])
        .start_with_context(&tracer, &remote)
        .end();
}

/// A point's metric name and labels (sorted, as text).
type PointKey = (String, Vec<String>);
/// A point's count, sum (rounded, as text), min and max.
type PointStats = (u64, String, Option<f64>, Option<f64>);

/// Each metric point's statistics by metric name and labels: count, min
/// and max exactly; the sum rounded (the shards of the aggregation add the
/// same latencies in another order).
fn points(
    req: Option<opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest>,
) -> BTreeMap<PointKey, PointStats> {
    use opentelemetry_proto::tonic::metrics::v1::metric::Data;
    let mut out = BTreeMap::new();
    for rm in req.into_iter().flat_map(|r| r.resource_metrics) {
        for m in rm.scope_metrics.iter().flat_map(|sm| &sm.metrics) {
            let Some(Data::Histogram(h)) = &m.data else {
                panic!("{} is not a histogram", m.name)
            };
            for p in &h.data_points {
                let mut labels: Vec<String> =
                    p.attributes.iter().map(|kv| format!("{kv:?}")).collect();
                labels.sort();
                let sum = format!("{:.9}", p.sum.unwrap_or_default());
                out.insert((m.name.clone(), labels), (p.count, sum, p.min, p.max));
            }
        }
    }
    out
}

#[test]
fn spans_get_at_their_end_what_the_batch_walk_gives_and_the_same_metrics() {
    at_end_against_the_batch_walk(1);
}

/// The same from threads ending spans at once (the aggregation and the
/// caches in shards): every span annotated as the batch walk does, every
/// span's metrics counted once.
#[test]
fn spans_ended_on_several_threads_at_once_give_the_same() {
    at_end_against_the_batch_walk(6);
}

/// [`traffic`] on `threads` threads at once through a provider with the
/// propagation and the end annotator, against the batch walk of the same
/// spans.
fn at_end_against_the_batch_walk(threads: usize) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let _enter = rt.enter();
    let config = GeneratorConfig::default();
    let at_end = Arc::new(AppSignals::new(config.clone(), 1000).unwrap());
    let batch_walk = AppSignals::new(config.clone(), 1000).unwrap();
    let propagation = Arc::new(Propagation::new(config));
    let bodies = Arc::new(Bodies::default());
    let keep = Keep::default();
    let sampler = SamplerConfig::from_env(&Env::from_pairs([("OTEL_TRACES_SAMPLER", "always_on")]))
        .unwrap()
        .build()
        .with_start_observer(propagation.clone());
    let resource = Resource::builder_empty()
        .with_attributes([
            Kv::new("service.name", "checkout"),
            Kv::new("deployment.environment", "staging"),
        ])
        .build();
    let provider = SdkTracerProvider::builder()
        .with_resource(resource.clone())
        .with_sampler(sampler)
        .with_span_processor(keep.clone())
        .with_span_processor(
            batch_processor(bodies.clone(), BatchSettings::default())
                .with_live_spans(propagation.clone())
                .with_annotator(Arc::new(EndAnnotator::new(at_end.clone(), true))),
        )
        .build();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| traffic(&provider));
        }
    });
    provider.force_flush().unwrap();

    let got = bodies.0.lock().unwrap().clone();
    let mut got_attrs = BTreeMap::new();
    for req in &got {
        got_attrs.extend(attributes(req));
    }
    let mut want = ExportTraceServiceRequest {
        resource_spans: group_spans_by_resource_and_scope(
            keep.0.lock().unwrap().clone(),
            &(&resource).into(),
        ),
    };
    batch_walk.process(&mut want);
    let want_attrs = attributes(&want);
    assert_eq!(got_attrs.len(), threads * (3 * 8 + 3 + 6));
    assert_eq!(want_attrs.len(), got_attrs.len());
    for (id, want) in &want_attrs {
        assert_eq!(got_attrs.get(id), Some(want), "span {id:?}");
    }
    // Something was written on most spans (not a comparison of nothing).
    let annotated = got_attrs
        .values()
        .filter(|a| a.iter().any(|kv| kv.contains("aws.local.service")))
        .count();
    // All but the INTERNAL child, the ADOT-generated span and the
    // `process` span under a CONSUMER (no metrics, nothing written).
    assert_eq!(annotated, threads * (3 * 6 + 2 + 6));
    let now = 1_800_000_000_000_000_000;
    let (got_points, want_points) = (
        points(at_end.take_metrics(now)),
        points(batch_walk.take_metrics(now)),
    );
    assert!(!want_points.is_empty());
    assert_eq!(got_points, want_points);
    // The status codes' spans, worked out by hand from the rules: to
    // codes0, " 503 " (a fault), 404.0 and the first of 404, 500 (errors);
    // to codes1, 404 after "x" (an error), `http.status_code` 500 before
    // 200 and 404.5 (no code) with status ERROR (faults).
    let sum = |metric: &str, host: &str| -> String {
        let sums: Vec<&String> = got_points
            .iter()
            .filter(|((m, labels), _)| m == metric && labels.iter().any(|l| l.contains(host)))
            .map(|(_, (_, sum, _, _))| sum)
            .collect();
        assert_eq!(sums.len(), 1, "{metric} to {host}: {sums:?}");
        sums[0].clone()
    };
    let t = threads as f64;
    for (metric, host, want) in [
        ("Error", "codes0.internal", 2.0 * t),
        ("Fault", "codes0.internal", t),
        ("Error", "codes1.internal", t),
        ("Fault", "codes1.internal", 2.0 * t),
    ] {
        assert_eq!(
            sum(metric, host),
            format!("{want:.9}"),
            "{metric} to {host}"
        );
    }
    assert!(at_end.take_metrics(now).is_none(), "taken");
    provider.shutdown().unwrap();
}
