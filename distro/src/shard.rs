//! Spreading per-span state over locks: every span end takes a lock of the
//! batch processor's queue (and with Application Signals, of the
//! propagation table and the annotator's cache), and with one lock each,
//! two threads ending spans at once spent more wall time per span than one
//! thread alone (docs/benchmarks.md, "Threads at once").

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A value on cache lines of its own, so that threads using neighbouring
/// values do not pull one line back and forth. (crossbeam-utils'
/// `CachePadded` does this; not a dependency of the Lambda layer's build,
/// and not worth one for an attribute.) 128 bytes: Intel's prefetcher
/// fetches lines in pairs.
#[derive(Debug, Default)]
#[repr(align(128))]
pub(crate) struct Padded<T>(pub(crate) T);

/// Threads numbered as they first ask.
static NEXT_THREAD: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static THREAD: Cell<Option<usize>> = const { Cell::new(None) };
}

/// This thread's number: threads get consecutive numbers in the order they
/// first ask, so the first `n` threads to ask fall on `n` different shards.
pub(crate) fn thread_number() -> usize {
    THREAD.with(|t| match t.get() {
        Some(n) => n,
        None => {
            let n = NEXT_THREAD.fetch_add(1, Ordering::Relaxed);
            t.set(Some(n));
            n
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A thread keeps its number; threads get different ones.
    #[test]
    fn each_thread_keeps_its_own_number() {
        let mine = thread_number();
        assert_eq!(thread_number(), mine);
        let others: Vec<usize> = (0..4)
            .map(|_| std::thread::spawn(thread_number).join().expect("thread"))
            .collect();
        let mut all = others.clone();
        all.push(mine);
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), 5, "{others:?} and {mine}");
        assert_eq!(std::mem::align_of::<Padded<u8>>(), 128);
    }
}
