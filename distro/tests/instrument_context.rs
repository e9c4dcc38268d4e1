//! The context traps of docs/context.md, each shown happening and then
//! fixed with `instrument::context`. `tracing` spans go through
//! tracing-opentelemetry (context activation on, as `init()` installs it)
//! into an in-memory exporter; a span that lost its context is a new root
//! (invalid parent id, another trace id).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use opentelemetry::trace::{SpanId, Tracer as _, TracerProvider as _};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use otel_aws_distro::instrument::context;
use tracing::{Instrument as _, info_span};
use tracing_subscriber::layer::SubscriberExt as _;

/// One provider and global subscriber for the whole binary (threads and
/// pools need the global one); tests tell their spans apart by name.
fn state() -> &'static (SdkTracerProvider, InMemorySpanExporter) {
    static STATE: OnceLock<(SdkTracerProvider, InMemorySpanExporter)> = OnceLock::new();
    STATE.get_or_init(|| {
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("context-test")));
        tracing::subscriber::set_global_default(subscriber).unwrap();
        (provider, exporter)
    })
}

/// A `tracing` span named `name` (through `otel.name`), opened and closed.
fn leaf(name: &'static str) {
    info_span!("leaf", otel.name = name).in_scope(|| {});
}

/// An OpenTelemetry-API span named `name`, child of `Context::current()`.
fn otel_leaf(name: &'static str) {
    state().0.tracer("api").in_span(name, |_| {});
}

fn span(name: &str) -> SpanData {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let spans = state().1.get_finished_spans().unwrap();
        if let Some(s) = spans.into_iter().find(|s| s.name == name) {
            return s;
        }
        assert!(Instant::now() < deadline, "span {name} never exported");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn assert_child(child: &str, parent: &str) {
    let (c, p) = (span(child), span(parent));
    assert_eq!(
        c.span_context.trace_id(),
        p.span_context.trace_id(),
        "{child}"
    );
    assert_eq!(c.parent_span_id, p.span_context.span_id(), "{child}");
}

fn assert_new_root(name: &str, not_in: &str) {
    let (s, other) = (span(name), span(not_in));
    assert_eq!(s.parent_span_id, SpanId::INVALID, "{name}");
    assert_ne!(
        s.span_context.trace_id(),
        other.span_context.trace_id(),
        "{name}"
    );
}

/// Trap 1: a spawned future does not inherit the spawner's context.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spawned_future_without_context_starts_a_new_root() {
    state();
    async {
        tokio::spawn(async { leaf("spawn.lost") }).await.unwrap();
        context::spawn(async {
            leaf("spawn.kept");
            otel_leaf("spawn.kept.api");
        })
        .await
        .unwrap();
    }
    .instrument(info_span!("root", otel.name = "spawn.root"))
    .await;
    assert_new_root("spawn.lost", "spawn.root");
    assert_child("spawn.kept", "spawn.root");
    assert_child("spawn.kept.api", "spawn.root");
}

/// Trap 2: a span guard held across `.await` stays entered on the thread
/// while the task is suspended, so another task polled there inherits it.
#[tokio::test(flavor = "current_thread")]
async fn span_guard_held_across_await_leaks_into_other_tasks() {
    state();
    // Wrong: `enter()` across an await.
    let bystander = tokio::spawn(async { leaf("guard.bystander") });
    {
        let holder = info_span!("holder", otel.name = "guard.holder");
        let _entered = holder.enter();
        // Suspends this task: the runtime polls the bystander on this thread.
        bystander.await.unwrap();
    }
    assert_child("guard.bystander", "guard.holder");

    // Right: `.instrument(span)` enters the span only while polling.
    let bystander = tokio::spawn(async { leaf("guard.bystander.fixed") });
    async { bystander.await.unwrap() }
        .instrument(info_span!("holder", otel.name = "guard.holder.fixed"))
        .await;
    assert_new_root("guard.bystander.fixed", "guard.holder.fixed");
}

/// Trap 3: moving blocking work off the async worker. `block_in_place`
/// runs on the same thread and keeps the context (multi-thread runtime
/// only); `spawn_blocking` runs on the blocking pool and loses it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocking_work_keeps_context_in_place_and_loses_it_on_the_blocking_pool() {
    state();
    async {
        tokio::task::block_in_place(|| {
            leaf("blocking.in_place");
            // Futures driven from inside it see the context too.
            tokio::runtime::Handle::current().block_on(async { leaf("blocking.block_on") });
        });
        tokio::task::spawn_blocking(|| leaf("blocking.lost"))
            .await
            .unwrap();
        context::spawn_blocking(|| leaf("blocking.kept"))
            .await
            .unwrap();
    }
    .instrument(info_span!("root", otel.name = "blocking.root"))
    .await;
    assert_child("blocking.in_place", "blocking.root");
    assert_child("blocking.block_on", "blocking.root");
    assert_new_root("blocking.lost", "blocking.root");
    assert_child("blocking.kept", "blocking.root");
}

/// Trap 4: threads and thread pools run closures with their own (empty)
/// context.
#[test]
fn threads_start_new_roots_unless_given_the_context() {
    state();
    info_span!("root", otel.name = "thread.root").in_scope(|| {
        std::thread::spawn(|| leaf("thread.lost")).join().unwrap();
        context::spawn_thread(|| {
            leaf("thread.kept");
            otel_leaf("thread.kept.api");
        })
        .join()
        .unwrap();
    });
    assert_new_root("thread.lost", "thread.root");
    assert_child("thread.kept", "thread.root");
    assert_child("thread.kept.api", "thread.root");
}

#[cfg(feature = "rayon")]
#[test]
fn rayon_pool_starts_new_roots_unless_given_the_context() {
    use rayon::prelude::*;
    state();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    const KEPT: [&str; 4] = [
        "rayon.kept.0",
        "rayon.kept.1",
        "rayon.kept.2",
        "rayon.kept.3",
    ];
    info_span!("root", otel.name = "rayon.root").in_scope(|| {
        pool.install(|| leaf("rayon.lost"));
        context::rayon::install(&pool, || {
            leaf("rayon.installed");
            // Parallel iterators hop pool threads: each closure call is wrapped.
            (0..4usize)
                .into_par_iter()
                .for_each(context::rayon::in_context(|i| leaf(KEPT[i])));
        });
        let (tx, rx) = std::sync::mpsc::channel();
        context::rayon::spawn(move || {
            leaf("rayon.spawned");
            let _ = tx.send(());
        });
        rx.recv().unwrap();
    });
    assert_new_root("rayon.lost", "rayon.root");
    assert_child("rayon.installed", "rayon.root");
    assert_child("rayon.spawned", "rayon.root");
    for name in KEPT {
        assert_child(name, "rayon.root");
    }
}
