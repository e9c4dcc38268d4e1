//! Carrying the current trace context across tasks and threads.
//!
//! The OpenTelemetry context (and `tracing`'s current span) is thread-local:
//! it is whatever was attached on the thread that polls a future or runs a
//! closure. A future handed to `tokio::spawn`, a closure given to
//! `spawn_blocking`, `std::thread::spawn` or a thread pool runs with the
//! *other* thread's (usually empty) context, so every span it starts is a
//! new root. These helpers capture the caller's context — both the
//! OpenTelemetry [`Context`] and the `tracing` span — and re-enter them
//! where the work runs. docs/context.md lists the traps with a test each.
//!
//! Both are carried because they can differ: the `tracing` span gives log
//! lines their fields and `tracing` children their parent, the OpenTelemetry
//! context gives OpenTelemetry-API spans theirs (and wins where a context was
//! attached inside the `tracing` span, as it is entered second).

use std::future::Future;

use opentelemetry::Context;
use opentelemetry::context::FutureExt as _;
use tracing::Instrument as _;

/// The caller's context, captured to be re-entered elsewhere.
#[derive(Clone, Debug)]
pub struct Captured {
    otel: Context,
    span: tracing::Span,
}

impl Captured {
    /// Captures the current OpenTelemetry context and `tracing` span.
    pub fn current() -> Self {
        Self {
            otel: Context::current(),
            span: tracing::Span::current(),
        }
    }

    /// Wraps `fut` so that every poll runs inside the captured context.
    pub fn in_future<F: Future>(self, fut: F) -> impl Future<Output = F::Output> {
        // with_context inside instrument: the span is entered first, then the
        // OpenTelemetry context attached on top (see the module docs).
        fut.with_context(self.otel).instrument(self.span)
    }

    /// Runs `f` inside the captured context, on this thread.
    pub fn run<R>(&self, f: impl FnOnce() -> R) -> R {
        let _entered = self.span.enter();
        let _attached = self.otel.clone().attach();
        f()
    }

    /// Wraps `f` to run inside the captured context wherever it is called.
    pub fn in_fn_once<R>(self, f: impl FnOnce() -> R) -> impl FnOnce() -> R {
        move || self.run(f)
    }

    /// Wraps a closure called many times, possibly on many threads at once
    /// (`par_iter().map(..)`), to run each call inside the captured context.
    pub fn in_fn<A, R>(self, f: impl Fn(A) -> R) -> impl Fn(A) -> R {
        move |a| self.run(|| f(a))
    }
}

/// Wraps `fut` to run in the caller's context wherever it is polled
/// (pass the result to any executor: `JoinSet::spawn`, `LocalSet`, …).
pub fn bind_future<F: Future>(fut: F) -> impl Future<Output = F::Output> {
    Captured::current().in_future(fut)
}

/// Wraps `f` to run in the caller's context on whatever thread calls it.
pub fn bind<R>(f: impl FnOnce() -> R) -> impl FnOnce() -> R {
    Captured::current().in_fn_once(f)
}

/// `tokio::spawn` with the caller's context: spans the task starts are
/// children of the caller's current span instead of new roots.
pub fn spawn<F>(fut: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    tokio::spawn(bind_future(fut))
}

/// `tokio::task::spawn_blocking` with the caller's context.
pub fn spawn_blocking<F, R>(f: F) -> tokio::task::JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    tokio::task::spawn_blocking(bind(f))
}

/// `std::thread::spawn` with the caller's context.
pub fn spawn_thread<F, R>(f: F) -> std::thread::JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    std::thread::spawn(bind(f))
}

/// rayon with the caller's context (feature `rayon`).
#[cfg(feature = "rayon")]
pub mod rayon {
    use super::Captured;

    /// `rayon::spawn` with the caller's context.
    pub fn spawn<F>(f: F)
    where
        F: FnOnce() + Send + 'static,
    {
        ::rayon::spawn(super::bind(f));
    }

    /// `pool.install(op)` with the caller's context: `op` runs on a pool
    /// thread, and so does every parallel iterator it drives — wrap their
    /// closures with [`in_context`] too, they may run on other pool threads.
    pub fn install<R, F>(pool: &::rayon::ThreadPool, op: F) -> R
    where
        F: FnOnce() -> R + Send,
        R: Send,
    {
        let captured = Captured::current();
        pool.install(move || captured.run(op))
    }

    /// Wraps a parallel-iterator closure (`.map(in_context(|x| ..))`) to run
    /// each call in the caller's context, on whichever pool thread runs it.
    pub fn in_context<A, R>(f: impl Fn(A) -> R + Sync + Send) -> impl Fn(A) -> R + Sync + Send {
        Captured::current().in_fn(f)
    }
}
