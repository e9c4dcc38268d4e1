//! The processor against a recording exporter: what reaches it, when, and
//! what is dropped and counted.

use std::sync::atomic::AtomicUsize;

use opentelemetry::KeyValue;
use opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tokio::sync::Semaphore;

use super::super::{
    EncodedTraces, ExportError, ExportFuture, ExportOutcome, ExportStats, span_count,
};
use super::*;

/// Records each batch; each export first waits for a permit of `gate`
/// (when there is one) and says it started.
#[derive(Debug, Default)]
struct Recorder {
    batches: Mutex<Vec<ExportTraceServiceRequest>>,
    gate: Option<Arc<Semaphore>>,
    started: AtomicUsize,
    stats: Arc<ExportStats>,
    headroom: usize,
    fail: bool,
    /// Exports left that panic (before recording anything).
    panics: AtomicUsize,
    /// Takes batches encoded (and keeps their bytes in `bodies`).
    encoded: bool,
    bodies: Mutex<Vec<Vec<u8>>>,
}

impl Recorder {
    fn spans(&self) -> usize {
        lock(&self.batches).iter().map(span_count).sum()
    }

    fn names(&self) -> Vec<String> {
        lock(&self.batches)
            .iter()
            .flat_map(|r| &r.resource_spans)
            .flat_map(|rs| &rs.scope_spans)
            .flat_map(|ss| &ss.spans)
            .map(|s| s.name.clone())
            .collect()
    }
}

impl BatchExporter for Recorder {
    fn export(&self, batch: ExportTraceServiceRequest) -> ExportFuture<'_> {
        Box::pin(async move {
            self.started.fetch_add(1, Ordering::SeqCst);
            if self
                .panics
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
            {
                panic!("scripted exporter panic");
            }
            if let Some(gate) = &self.gate {
                gate.acquire().await.expect("gate open").forget();
            }
            let n = span_count(&batch) as u64;
            lock(&self.batches).push(batch);
            if self.fail {
                return Err(ExportError::Shutdown);
            }
            Ok(ExportOutcome {
                requests: 1,
                spans_exported: n,
                ..Default::default()
            })
        })
    }

    fn stats(&self) -> Option<Arc<ExportStats>> {
        Some(self.stats.clone())
    }

    fn span_attribute_headroom(&self) -> usize {
        self.headroom
    }

    fn takes_encoded(&self) -> bool {
        self.encoded
    }

    fn export_encoded(&self, batch: EncodedTraces) -> ExportFuture<'_> {
        lock(&self.bodies).push(batch.body().to_vec());
        let request = batch.decode().expect("the batch decodes");
        assert_eq!(span_count(&request), batch.spans());
        let spans = request.resource_spans.iter().flat_map(|rs| &rs.scope_spans);
        for span in spans.flat_map(|ss| &ss.spans) {
            let len = prost::Message::encoded_len(span);
            assert!(
                len <= batch.largest_span(),
                "{len} > {}",
                batch.largest_span()
            );
        }
        self.export(request)
    }
}

/// Keeps each ended span's data, to convert it independently.
#[derive(Debug, Default, Clone)]
struct Keep(Arc<Mutex<Vec<SpanData>>>);

impl SpanProcessor for Keep {
    fn on_start(&self, _: &mut Span, _: &Context) {}
    fn on_end(&self, span: SpanData) {
        lock(&self.0).push(span);
    }
    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }
    fn shutdown_with_timeout(&self, _: Duration) -> OTelSdkResult {
        Ok(())
    }
}

fn settings(batch: usize, queue: usize) -> BatchSettings {
    BatchSettings {
        // Long enough never to fire in a test that does not wait for it.
        schedule_delay: Duration::from_secs(3600),
        export_timeout: Duration::from_secs(30),
        max_queue_size: queue,
        max_export_batch_size: batch,
    }
}

/// A processor exporting to `recorder`, and a provider whose spans it gets
/// (the test keeps its own handle to the processor).
fn shared(
    recorder: &Arc<Recorder>,
    settings: BatchSettings,
) -> (Arc<EncodingBatchProcessor>, SdkTracerProvider) {
    let processor = Arc::new(EncodingBatchProcessor::new(recorder.clone(), settings));
    let provider = SdkTracerProvider::builder()
        .with_span_processor(SharedProcessor(processor.clone()))
        .build();
    (processor, provider)
}

/// Waits (at most a minute, however loaded the machine) for `done`.
fn eventually(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "never happened: {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Flushes `provider`, then shuts it down (both wait on the processor's
/// thread: off the runtime), each expected to succeed.
async fn flush_and_shut_down(provider: SdkTracerProvider) {
    let (flushed, shut) = tokio::task::spawn_blocking(move || {
        let r = provider.force_flush();
        (r, provider.shutdown())
    })
    .await
    .unwrap();
    flushed.unwrap();
    shut.unwrap();
}

/// What reaches the exporter after a flush is what opentelemetry-proto's
/// own conversion makes of the same spans with the provider's resource:
/// scopes interleaved, grouped in order of first appearance.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flush_exports_what_the_upstream_conversion_gives() {
    let recorder = Arc::new(Recorder::default());
    let keep = Keep::default();
    let resource = Resource::builder_empty()
        .with_attribute(KeyValue::new("service.name", "checkout"))
        .build();
    let provider = SdkTracerProvider::builder()
        .with_resource(resource.clone())
        .with_span_processor(keep.clone())
        .with_span_processor(EncodingBatchProcessor::new(
            recorder.clone(),
            settings(512, 2048),
        ))
        .build();
    let (a, b) = (provider.tracer("lib-a"), provider.tracer("lib-b"));
    for i in 0..3 {
        let mut span = a.start(format!("a-{i}"));
        span.set_attribute(KeyValue::new("i", i64::from(i)));
        span.add_event("e", vec![KeyValue::new("k", "v")]);
        span.end();
        b.start(format!("b-{i}")).end();
    }
    flush_and_shut_down(provider).await;
    let want = group_spans_by_resource_and_scope(lock(&keep.0).clone(), &(&resource).into());
    let got = lock(&recorder.batches).clone();
    assert_eq!(got.len(), 1, "one batch");
    assert_eq!(got[0].resource_spans, want);
}

/// An exporter that takes encoded batches gets, byte for byte, what prost
/// encodes for opentelemetry-proto's conversion of the same spans: the
/// resource and its schema URL, scopes with a version, attributes and a
/// schema URL or none, interleaved; no span is longer than the batch says.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_encoded_batch_is_prosts_encoding_of_the_upstream_conversion() {
    let recorder = Arc::new(Recorder {
        encoded: true,
        ..Recorder::default()
    });
    let keep = Keep::default();
    let resource = Resource::builder_empty()
        .with_schema_url(
            [KeyValue::new("service.name", "checkout")],
            "https://opentelemetry.io/schemas/1.26.0",
        )
        .build();
    let provider = SdkTracerProvider::builder()
        .with_resource(resource.clone())
        .with_span_processor(keep.clone())
        .with_span_processor(EncodingBatchProcessor::new(
            recorder.clone(),
            settings(512, 2048),
        ))
        .build();
    let a = provider.tracer_with_scope(
        InstrumentationScope::builder("lib-a")
            .with_version("1.2.3")
            .with_schema_url("https://opentelemetry.io/schemas/1.21.0")
            .with_attributes([KeyValue::new("scope.k", "v")])
            .build(),
    );
    let b = provider.tracer("lib-b");
    for i in 0..3usize {
        let mut span = a.start(format!("a-{i}"));
        span.set_attribute(KeyValue::new("i", i as i64));
        span.set_attribute(KeyValue::new("long", "x".repeat(300 * i)));
        span.add_event("e", vec![KeyValue::new("k", "v")]);
        span.end();
        b.start(format!("b-{i}")).end();
    }
    flush_and_shut_down(provider).await;
    let want = ExportTraceServiceRequest {
        resource_spans: group_spans_by_resource_and_scope(
            lock(&keep.0).clone(),
            &(&resource).into(),
        ),
    };
    let bodies = lock(&recorder.bodies).clone();
    assert_eq!(bodies.len(), 1, "one batch");
    assert_eq!(bodies[0], prost::Message::encode_to_vec(&want));
    assert_eq!(lock(&recorder.batches)[0], want);
}

/// A full batch goes without a flush or the timer (an hour away); the
/// rest waits for the flush.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_batch_is_exported_at_once() {
    let recorder = Arc::new(Recorder::default());
    let provider = SdkTracerProvider::builder()
        .with_span_processor(EncodingBatchProcessor::new(
            recorder.clone(),
            settings(3, 2048),
        ))
        .build();
    let tracer = provider.tracer("t");
    for i in 0..4 {
        tracer.start(format!("s{i}")).end();
    }
    let r = recorder.clone();
    tokio::task::spawn_blocking(move || eventually("a full batch", || r.spans() == 3))
        .await
        .unwrap();
    assert_eq!(recorder.names(), ["s0", "s1", "s2"]);
    tokio::task::spawn_blocking(move || provider.force_flush())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(lock(&recorder.batches).len(), 2);
    assert_eq!(recorder.spans(), 4);
}

/// The timer exports a batch that never fills, with no flush.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_timer_exports_a_partial_batch() {
    let recorder = Arc::new(Recorder::default());
    let provider = SdkTracerProvider::builder()
        .with_span_processor(EncodingBatchProcessor::new(
            recorder.clone(),
            BatchSettings {
                schedule_delay: Duration::from_millis(20),
                ..settings(512, 2048)
            },
        ))
        .build();
    provider.tracer("t").start("lonely").end();
    let r = recorder.clone();
    tokio::task::spawn_blocking(move || eventually("the timed export", || r.spans() == 1))
        .await
        .unwrap();
    assert_eq!(recorder.names(), ["lonely"]);
}

/// While an export is stuck, spans beyond the queue's bound are dropped
/// and counted (the processor's count and the exporter's stats); the
/// queued ones are exported once it returns; nothing is lost silently.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beyond_the_queue_bound_spans_are_dropped_and_counted() {
    let gate = Arc::new(Semaphore::new(0));
    let recorder = Arc::new(Recorder {
        gate: Some(gate.clone()),
        ..Default::default()
    });
    let (processor, provider) = shared(&recorder, settings(2, 4));
    let tracer = provider.tracer("t");
    tracer.start("first-0").end();
    tracer.start("first-1").end();
    let r = recorder.clone();
    tokio::task::spawn_blocking(move || {
        eventually("the first export to start", || {
            r.started.load(Ordering::SeqCst) == 1
        })
    })
    .await
    .unwrap();
    for i in 0..10 {
        tracer.start(format!("later-{i}")).end();
    }
    assert_eq!(processor.dropped_spans(), 6);
    assert_eq!(recorder.stats.spans_dropped.load(Ordering::Relaxed), 6);
    gate.add_permits(100);
    tokio::task::spawn_blocking(move || provider.force_flush())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        recorder.names(),
        [
            "first-0", "first-1", "later-0", "later-1", "later-2", "later-3"
        ]
    );
}

/// An export that never returns is given up after the export timeout;
/// its spans are counted as dropped and the flush returns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_past_its_timeout_is_given_up_and_counted() {
    let recorder = Arc::new(Recorder {
        gate: Some(Arc::new(Semaphore::new(0))),
        ..Default::default()
    });
    let (processor, provider) = shared(
        &recorder,
        BatchSettings {
            export_timeout: Duration::from_millis(50),
            ..settings(512, 2048)
        },
    );
    provider.tracer("t").start("stuck").end();
    let flushed = tokio::task::spawn_blocking(move || provider.force_flush())
        .await
        .unwrap();
    assert!(
        matches!(&flushed, Err(OTelSdkError::InternalFailure(m)) if m.contains("timed out")),
        "{flushed:?}"
    );
    assert_eq!(processor.dropped_spans(), 1);
    assert_eq!(recorder.stats.spans_dropped.load(Ordering::Relaxed), 1);
    assert_eq!(recorder.spans(), 0);
}

/// A failed export is the exporter's to count: the processor drops
/// nothing more, and keeps exporting; the flush reports the failure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_export_does_not_stop_the_processor() {
    let recorder = Arc::new(Recorder {
        fail: true,
        ..Default::default()
    });
    let (processor, provider) = shared(&recorder, settings(512, 2048));
    let tracer = provider.tracer("t");
    for name in ["one", "two"] {
        tracer.start(name).end();
        let p = provider.clone();
        let flushed = tokio::task::spawn_blocking(move || p.force_flush())
            .await
            .unwrap();
        assert!(
            matches!(&flushed, Err(OTelSdkError::InternalFailure(m)) if m.contains("shut down")),
            "{flushed:?}"
        );
    }
    assert_eq!(recorder.names(), ["one", "two"]);
    assert_eq!(processor.dropped_spans(), 0);
}

/// Shutdown exports what is queued; afterwards spans are dropped and
/// counted, a flush and a second shutdown say it is shut down.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_exports_the_queue_then_refuses() {
    let recorder = Arc::new(Recorder::default());
    let processor = EncodingBatchProcessor::new(recorder.clone(), settings(512, 2048));
    processor.on_end(ended("queued".to_owned()));
    let processor = tokio::task::spawn_blocking(move || {
        processor
            .shutdown_with_timeout(Duration::from_secs(60))
            .unwrap();
        processor
    })
    .await
    .unwrap();
    assert_eq!(recorder.names(), ["queued"]);
    processor.on_end(ended("late".to_owned()));
    assert_eq!(processor.dropped_spans(), 1);
    assert!(matches!(
        processor.force_flush(),
        Err(OTelSdkError::AlreadyShutdown)
    ));
    assert!(matches!(
        processor.shutdown_with_timeout(Duration::from_secs(1)),
        Err(OTelSdkError::AlreadyShutdown)
    ));
    assert_eq!(recorder.names(), ["queued"]);
}

/// Outside any tokio runtime the processor exports on a runtime of its
/// own.
#[test]
fn without_a_runtime_exports_run_on_the_processors_own() {
    let recorder = Arc::new(Recorder::default());
    let provider = SdkTracerProvider::builder()
        .with_span_processor(EncodingBatchProcessor::new(
            recorder.clone(),
            settings(512, 2048),
        ))
        .build();
    provider.tracer("t").start("no-runtime").end();
    provider.force_flush().unwrap();
    assert_eq!(recorder.names(), ["no-runtime"]);
    provider.shutdown().unwrap();
}

/// An exporter that panics loses only its batch (counted as dropped, the
/// flush reports it); the processor's thread lives on and exports the
/// next, on the application's runtime and on its own.
#[test]
fn an_exporter_that_panics_loses_only_its_batch() {
    for with_app_runtime in [true, false] {
        let app = with_app_runtime.then(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .unwrap()
        });
        let _entered = app.as_ref().map(|rt| rt.enter());
        let recorder = Arc::new(Recorder {
            panics: AtomicUsize::new(1),
            ..Default::default()
        });
        let processor = Arc::new(EncodingBatchProcessor::new(
            recorder.clone(),
            settings(512, 2048),
        ));
        let provider = SdkTracerProvider::builder()
            .with_span_processor(SharedProcessor(processor.clone()))
            .build();
        let tracer = provider.tracer("t");
        tracer.start("lost").end();
        let flushed = provider.force_flush();
        assert!(
            matches!(&flushed, Err(OTelSdkError::InternalFailure(m)) if m.contains("did not finish")),
            "{flushed:?}"
        );
        assert_eq!(processor.dropped_spans(), 1);
        tracer.start("kept").end();
        provider.force_flush().unwrap();
        assert_eq!(recorder.names(), ["kept"], "runtime: {with_app_runtime}");
        assert_eq!(processor.dropped_spans(), 1);
        provider.shutdown().unwrap();
    }
}

/// The exporter's headroom is room in each span's attribute vector.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_arrive_with_the_exporters_headroom() {
    let recorder = Arc::new(Recorder {
        headroom: 6,
        ..Default::default()
    });
    let provider = SdkTracerProvider::builder()
        .with_span_processor(EncodingBatchProcessor::new(
            recorder.clone(),
            settings(512, 2048),
        ))
        .build();
    let mut span = provider.tracer("t").start("roomy");
    span.set_attribute(KeyValue::new("a", 1));
    span.end();
    tokio::task::spawn_blocking(move || provider.force_flush())
        .await
        .unwrap()
        .unwrap();
    let batches = lock(&recorder.batches);
    let span = &batches[0].resource_spans[0].scope_spans[0].spans[0];
    assert_eq!(span.attributes.len(), 1);
    assert!(
        span.attributes.capacity() >= 7,
        "{}",
        span.attributes.capacity()
    );
}

/// Lets a test keep a handle on the processor the provider owns.
#[derive(Debug)]
struct SharedProcessor(Arc<EncodingBatchProcessor>);

impl SpanProcessor for SharedProcessor {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        self.0.on_start(span, cx);
    }
    fn on_end(&self, span: SpanData) {
        self.0.on_end(span);
    }
    fn force_flush(&self) -> OTelSdkResult {
        self.0.force_flush()
    }
    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }
}

/// Sampled span data named `name`, as a provider hands it over.
fn ended(name: String) -> SpanData {
    let mut data = crate::export::span_otlp::tests::data(
        3,
        crate::export::span_otlp::tests::scope("t", None),
        None,
        opentelemetry::trace::Status::Unset,
    );
    data.name = name.into();
    data
}

/// `threads` threads each end `per_thread` spans named `{thread}-{i}`
/// through `processor`, while this thread runs `meanwhile`.
fn ending_on_threads(
    processor: &EncodingBatchProcessor,
    threads: usize,
    per_thread: usize,
    meanwhile: impl FnOnce(),
) {
    std::thread::scope(|scope| {
        for t in 0..threads {
            scope.spawn(move || {
                for i in 0..per_thread {
                    processor.on_end(ended(format!("{t}-{i}")));
                }
            });
        }
        meanwhile();
    });
}

/// More threads than lanes end spans at once: after a flush every span
/// was exported exactly once, in batches of at most the batch size.
#[test]
fn threads_ending_spans_at_once_lose_none() {
    let recorder = Arc::new(Recorder::default());
    let processor = Arc::new(EncodingBatchProcessor::new(
        recorder.clone(),
        settings(64, 100_000),
    ));
    let threads = LANES + 4;
    ending_on_threads(&processor, threads, 300, || {});
    processor.force_flush().unwrap();
    let mut names = recorder.names();
    names.sort();
    let mut want: Vec<String> = (0..threads)
        .flat_map(|t| (0..300).map(move |i| format!("{t}-{i}")))
        .collect();
    want.sort();
    assert_eq!(names, want);
    for batch in lock(&recorder.batches).iter() {
        assert!(span_count(batch) <= 64, "{}", span_count(batch));
    }
    assert_eq!(processor.dropped_spans(), 0);
    processor
        .shutdown_with_timeout(Duration::from_secs(60))
        .unwrap();
}

/// Threads keep ending spans while the processor shuts down: each span is
/// either exported or dropped and counted, none lost in a lane.
#[test]
fn a_shutdown_while_threads_end_spans_loses_none_uncounted() {
    let recorder = Arc::new(Recorder::default());
    let processor = Arc::new(EncodingBatchProcessor::new(
        recorder.clone(),
        settings(16, 100_000),
    ));
    let threads = LANES + 2;
    // Enough that the shutdown usually comes while they still run.
    let per_thread = 20_000;
    ending_on_threads(&processor, threads, per_thread, || {
        // Once some spans were exported, shut down under the threads' feet.
        eventually("a first export", || recorder.spans() > 0);
        processor
            .shutdown_with_timeout(Duration::from_secs(60))
            .unwrap();
    });
    let exported = recorder.spans() as u64;
    assert_eq!(
        exported + processor.dropped_spans(),
        (threads * per_thread) as u64,
        "{exported} exported, {} dropped",
        processor.dropped_spans()
    );
}
