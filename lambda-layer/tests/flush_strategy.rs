//! The flush decision, driven with an injected clock (plain offsets).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers

use std::time::Duration;

use otel_aws_lambda::flush::{EndDecision, FlushMode, FlushPlanner, MIN_GAPS};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn parses_the_documented_modes() {
    let table: &[(&str, Option<FlushMode>)] = &[
        ("end", Some(FlushMode::End)),
        ("END", Some(FlushMode::End)),
        ("periodic,250", Some(FlushMode::Periodic(ms(250)))),
        ("periodic, 60000", Some(FlushMode::Periodic(ms(60_000)))),
        ("adaptive", Some(FlushMode::Adaptive(ms(1000)))),
        ("adaptive,500", Some(FlushMode::Adaptive(ms(500)))),
        ("periodic", None),
        ("periodic,0", None),
        ("periodic,-5", None),
        ("end,100", None),
        ("sometimes", None),
        ("", None),
    ];
    for (input, want) in table {
        assert_eq!(FlushMode::parse(input), *want, "{input:?}");
    }
    assert_eq!(FlushMode::default(), FlushMode::Adaptive(ms(1000)));
}

/// Simulates invokes arriving every `gap` ms, each running `run` ms and
/// producing data at its start; returns the decision at each end and the
/// longest time any data was held before a flush (flushes happen at ends
/// that decide FlushNow, and when the due timer fires while thawed, i.e.
/// during an invoke).
fn simulate(mode: FlushMode, gaps: &[u64], run: u64) -> (Vec<EndDecision>, Duration) {
    let mut planner = FlushPlanner::new(mode);
    let mut now = ms(0);
    let mut held_since: Option<Duration> = None;
    let mut longest = Duration::ZERO;
    let mut decisions = Vec::new();
    let flush = |at: Duration, held: &mut Option<Duration>, longest: &mut Duration| {
        if let Some(s) = held.take() {
            *longest = (*longest).max(at - s);
        }
    };
    for (i, gap) in gaps.iter().enumerate() {
        if i > 0 {
            now += ms(*gap);
        }
        planner.record_invoke(now);
        // Thawed for `run` ms: the due timer may fire in this window.
        if let Some(due) = planner.due_at(held_since)
            && due <= now + ms(run)
        {
            flush(due.max(now), &mut held_since, &mut longest);
        }
        held_since.get_or_insert(now); // the invoke's spans arrive
        let end = now + ms(run);
        let d = planner.at_invoke_end(end, held_since, false);
        if d == EndDecision::FlushNow {
            flush(end, &mut held_since, &mut longest);
        }
        decisions.push(d);
        now = end;
    }
    (decisions, longest)
}

#[test]
fn end_mode_flushes_at_every_end() {
    let (d, held) = simulate(FlushMode::End, &[0, 10, 10, 10, 10, 10, 10], 5);
    assert!(d.iter().all(|d| *d == EndDecision::FlushNow), "{d:?}");
    assert_eq!(held, ms(5));
}

#[test]
fn adaptive_flushes_at_end_while_sparse() {
    let gaps = [
        0, 30_000, 5_000, 90_000, 2_000, 600, 45_000, 10_000, 700, 800,
    ];
    let (d, _) = simulate(FlushMode::Adaptive(ms(1000)), &gaps, 20);
    assert!(d.iter().all(|d| *d == EndDecision::FlushNow), "{d:?}");
}

#[test]
fn adaptive_goes_periodic_when_frequent_and_never_holds_longer_than_the_period() {
    let gaps = vec![40u64; 200];
    let (d, held) = simulate(FlushMode::Adaptive(ms(1000)), &gaps, 10);
    // The first ends (too little history) flush; then most ends defer.
    assert!(
        d[..MIN_GAPS].iter().all(|d| *d == EndDecision::FlushNow),
        "{d:?}"
    );
    let deferred = d.iter().filter(|d| **d == EndDecision::Defer).count();
    assert!(deferred > 150, "only {deferred} of 200 ends deferred");
    assert!(held <= ms(1000), "data held {held:?} > period");
}

#[test]
fn adaptive_falls_back_to_end_after_one_long_gap() {
    let mut gaps = vec![40u64; 20];
    gaps.push(5_000); // sparse spell
    gaps.push(40);
    let (d, held) = simulate(FlushMode::Adaptive(ms(1000)), &gaps, 10);
    assert_eq!(d[20], EndDecision::FlushNow, "{d:?}");
    assert_eq!(d[21], EndDecision::FlushNow, "{d:?}");
    // The one unpredictable freeze: data deferred just before it waits for
    // the thaw (it is due, so the timer flushes it as soon as the
    // environment runs) — the documented limit of any periodic flush.
    assert!(held <= ms(5_000 + 1_000), "data held {held:?}");
}

#[test]
fn periodic_never_holds_data_longer_than_the_period() {
    for (period, gap, run) in [
        (250, 40, 10),
        (1000, 300, 50),
        (1000, 10, 2),
        (5000, 900, 100),
    ] {
        let gaps = vec![gap; 300];
        let (d, held) = simulate(FlushMode::Periodic(ms(period)), &gaps, run);
        assert!(held <= ms(period), "period {period}: held {held:?}");
        assert!(
            d.contains(&EndDecision::Defer),
            "period {period} never deferred"
        );
    }
}

#[test]
fn periodic_without_history_flushes_at_end() {
    let planner = FlushPlanner::new(FlushMode::Periodic(ms(1000)));
    assert_eq!(
        planner.at_invoke_end(ms(5), Some(ms(0)), false),
        EndDecision::FlushNow
    );
}

#[test]
fn pressure_and_empty_buffer() {
    let mut planner = FlushPlanner::new(FlushMode::Periodic(ms(1000)));
    for t in 0..10 {
        planner.record_invoke(ms(t * 10));
    }
    assert_eq!(
        planner.at_invoke_end(ms(100), Some(ms(95)), false),
        EndDecision::Defer
    );
    assert_eq!(
        planner.at_invoke_end(ms(100), Some(ms(95)), true),
        EndDecision::FlushNow
    );
    assert_eq!(
        planner.at_invoke_end(ms(100), None, true),
        EndDecision::Defer
    );
    assert_eq!(planner.due_at(Some(ms(95))), Some(ms(1095)));
    assert_eq!(FlushPlanner::new(FlushMode::End).due_at(Some(ms(1))), None);
}
