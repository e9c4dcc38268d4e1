//! When the extension flushes: the decision, separated from the I/O so a
//! test can drive it with an injected clock (every method takes `now`, a
//! monotonic offset from any origin).
//!
//! The environment is frozen once the runtime and every extension have
//! called `next`; timers stop and anything buffered waits for a thaw that
//! may never come. So the only safe moment to hold data past an invoke is
//! when the next invoke is expected soon.
//!
//! # Modes (`OTEL_AWS_LAMBDA_FLUSH`)
//! - `end`: at the end of every invoke (function's final-flush signal or
//!   `platform.runtimeDone`) export everything, then call `next`.
//! - `periodic,<ms>`: data may wait for a later invoke, but never longer
//!   than the period: at the end of an invoke the extension defers only if
//!   `age of the oldest held span + longest recent gap between invokes <
//!   period` (it expects to be thawed before the data is due); otherwise it
//!   flushes before `next`. While thawed, a timer flushes held data when it
//!   becomes due (`oldest + period`), concurrently with the function, so
//!   the invoke path stays free. With no gap history yet, it flushes at end.
//! - `adaptive` / `adaptive,<ms>` (default, period 1000 ms): behaves as
//!   `end` while invocations are sparse and as `periodic` while they are
//!   frequent. Frequent means: at least [`MIN_GAPS`] gaps between invoke
//!   arrivals are known and the longest of the last [`GAP_WINDOW`] is at
//!   most half the period. One long gap (a sparse spell) switches it back to
//!   `end` immediately.
//!
//! The bound "never longer than the period" rests on the next invoke
//! arriving within the longest recent gap. When it does not (the one
//! unpredictable freeze), the deferred data is due on thaw and the timer
//! flushes it at once, concurrently with that invoke: held at most
//! `period + that gap`, once, after which `adaptive` flushes at end again.
//!
//! In every mode the extension flushes before `next` when the buffer is
//! under pressure (over half its bounds) and at SHUTDOWN.
//!
//! How the runner applies the decision (see `extension::runner`): no
//! invoke waits without flushing. In a periodic phase the decision is
//! taken when INVOKE arrives, and a deferral calls `next` at once (waiting
//! for the end would bill time and export nothing). `adaptive` flushes at
//! every end while the function signals its ends (the Rust wrapper: the
//! wait costs about a millisecond); it goes periodic only for functions
//! known to be done by `platform.runtimeDone` alone (≥ 25 ms later).

use std::collections::VecDeque;
use std::time::Duration;

/// Gaps between invoke arrivals remembered by the planner.
pub const GAP_WINDOW: usize = 8;
/// Gaps needed before `adaptive` may go periodic.
pub const MIN_GAPS: usize = 4;
/// Default period of `adaptive`.
pub const DEFAULT_PERIOD: Duration = Duration::from_millis(1000);

/// The configured flush strategy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlushMode {
    /// Flush at the end of every invoke.
    End,
    /// Flush on a period, never holding data longer than it.
    Periodic(Duration),
    /// `End` while sparse, `Periodic` while frequent.
    Adaptive(Duration),
}

impl Default for FlushMode {
    fn default() -> Self {
        Self::Adaptive(DEFAULT_PERIOD)
    }
}

impl FlushMode {
    /// Parses `end`, `periodic,<ms>`, `adaptive` or `adaptive,<ms>` (case-insensitive).
    pub fn parse(value: &str) -> Option<Self> {
        let v = value.trim().to_ascii_lowercase();
        let (name, arg) = match v.split_once(',') {
            Some((n, a)) => (n.trim(), Some(a.trim())),
            None => (v.as_str(), None),
        };
        let period = |a: Option<&str>| -> Option<Duration> {
            let ms: u64 = a?.parse().ok()?;
            (ms > 0).then(|| Duration::from_millis(ms))
        };
        match (name, arg) {
            ("end", None) => Some(Self::End),
            ("periodic", a @ Some(_)) => Some(Self::Periodic(period(a)?)),
            ("adaptive", None) => Some(Self::Adaptive(DEFAULT_PERIOD)),
            ("adaptive", a @ Some(_)) => Some(Self::Adaptive(period(a)?)),
            _ => None,
        }
    }
}

/// What to do at the end of an invoke.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndDecision {
    /// Export everything held, then call `next`.
    FlushNow,
    /// Call `next` now; the data is expected to be flushed by a later invoke
    /// before it is due.
    Defer,
}

/// The flush decision state (no I/O, no clock of its own).
#[derive(Clone, Debug)]
pub struct FlushPlanner {
    mode: FlushMode,
    last_arrival: Option<Duration>,
    gaps: VecDeque<Duration>,
}

impl FlushPlanner {
    /// A planner for `mode`.
    pub fn new(mode: FlushMode) -> Self {
        Self {
            mode,
            last_arrival: None,
            gaps: VecDeque::with_capacity(GAP_WINDOW),
        }
    }

    /// The configured mode.
    pub fn mode(&self) -> FlushMode {
        self.mode
    }

    /// Records an INVOKE arriving at `now`.
    pub fn record_invoke(&mut self, now: Duration) {
        if let Some(last) = self.last_arrival {
            if self.gaps.len() == GAP_WINDOW {
                self.gaps.pop_front();
            }
            self.gaps.push_back(now.saturating_sub(last));
        }
        self.last_arrival = Some(now);
    }

    /// The period in force now, or `None` while flushing at end.
    pub fn active_period(&self) -> Option<Duration> {
        match self.mode {
            FlushMode::End => None,
            FlushMode::Periodic(p) => Some(p),
            FlushMode::Adaptive(p) => {
                let frequent =
                    self.gaps.len() >= MIN_GAPS && self.longest_gap().is_some_and(|g| g <= p / 2);
                frequent.then_some(p)
            }
        }
    }

    /// The longest gap between invoke arrivals in the window.
    pub fn longest_gap(&self) -> Option<Duration> {
        self.gaps.iter().max().copied()
    }

    /// When held data becomes due for a flush (the background timer's
    /// deadline), given when the oldest held span arrived; `None` when
    /// nothing is held or the mode is `end`. Uses the configured period
    /// even while `adaptive` is flushing at end, so data deferred before a
    /// sparse spell is flushed as soon as the environment thaws.
    pub fn due_at(&self, held_since: Option<Duration>) -> Option<Duration> {
        let period = match self.mode {
            FlushMode::End => return None,
            FlushMode::Periodic(p) | FlushMode::Adaptive(p) => p,
        };
        Some(held_since? + period)
    }

    /// The decision at the end of an invoke at `now`. `held_since` is when
    /// the oldest held span arrived (`None`: nothing held); `pressure` is
    /// true when the buffer is over half its bounds.
    pub fn at_invoke_end(
        &self,
        now: Duration,
        held_since: Option<Duration>,
        pressure: bool,
    ) -> EndDecision {
        let Some(oldest) = held_since else {
            return EndDecision::Defer; // nothing held: nothing to do
        };
        if pressure {
            return EndDecision::FlushNow;
        }
        let (Some(period), Some(gap)) = (self.active_period(), self.longest_gap()) else {
            return EndDecision::FlushNow;
        };
        let age = now.saturating_sub(oldest);
        if age + gap < period {
            EndDecision::Defer
        } else {
            EndDecision::FlushNow
        }
    }
}
