//! Instruction counts and CPU time per AWS SDK operation, uninstrumented,
//! with `AwsSdkInstrumentation`, and inside one hand-made span: run under
//! callgrind, which counts instructions instead of timing them, so the
//! difference does not depend on what else the shared machine runs. The
//! clients, canned answers (an in-process HTTP client, no socket) and
//! operations are those of the `aws_sdk` criterion bench.
//!
//! `aws_sdk_instructions <mode> <n> [pipeline]`:
//! - mode: `get_item` / `send_message` (uninstrumented), `*_traced`
//!   (`AwsSdkInstrumentation`), `*_span` (uninstrumented, inside one
//!   hand-made CLIENT span: the floor any instrumentation pays);
//! - pipeline (where the spans go, `batch` unless given): `batch` (the
//!   SDK's batch processor and its thread, an exporter that drops), `distro`
//!   (`export::batch_processor`, which `init()` installs: spans encoded
//!   where they end, `NoopExporter` behind it), `sdk-proto` (what `init()`
//!   installed before: the SDK's batch processor, each batch converted on
//!   its thread and exported as a task on the runtime), `simple`
//!   (exported on the caller's thread), `noop` (a processor that drops the
//!   span at its end: the span's creation and attributes only);
//! - `interleave <n> [pipeline] [block_on|task]`: GetItem plain,
//!   instrumented and in a hand-made span alternating in one process,
//!   median wall times; `task` makes the calls inside one task on the
//!   runtime's worker (as a service does) rather than by `block_on`.
//!
//! ```sh
//! CARGO_PROFILE_BENCH_LTO=false CARGO_PROFILE_BENCH_CODEGEN_UNITS=16 \
//!   cargo bench -p otel-aws-distro --features axum,aws-sdk --bench aws_sdk_instructions --no-run
//! for m in get_item get_item_traced send_message send_message_traced; do for n in 1000 2000; do
//!   valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//!     target/release/deps/aws_sdk_instructions-* $m $n 2>&1 | grep Collected
//! done; done
//! # per thread: --separate-threads=yes --callgrind-out-file=cg.%p, then the
//! # `summary:` line of each cg.<pid>-<thread> file
//! ```
//! Instructions per operation = (refs at 2000 − refs at 1000) / 1000; the
//! interceptor's cost is `*_traced` minus the uninstrumented mode.
//!
//! Outside valgrind, each thread's CPU time per operation (from
//! `/proc/self/task/*/schedstat`, after 200 operations of warm-up) and the
//! wall time per operation go to stderr.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)] // bench

mod aws_sdk_common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aws_sdk_common::{
    Canned, Pipeline, clients, get_item, in_hand_span, in_hand_span_async, runtime, send_message,
};
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use opentelemetry::trace::TracerProvider as _;
use otel_aws_distro::aws_sdk::AwsSdkInstrumentation;

/// Each thread of this process: name → (CPU ns, context switches).
fn threads() -> BTreeMap<String, (u64, u64)> {
    let mut out = BTreeMap::new();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return out;
    };
    for t in tasks.flatten() {
        let p = t.path();
        let name = std::fs::read_to_string(p.join("comm")).unwrap_or_default();
        let sched = std::fs::read_to_string(p.join("schedstat")).unwrap_or_default();
        let cpu = sched.split(' ').next().and_then(|v| v.parse().ok());
        let status = std::fs::read_to_string(p.join("status")).unwrap_or_default();
        let switches: u64 = status
            .lines()
            .filter(|l| l.contains("ctxt_switches"))
            .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
            .sum();
        let e = out
            .entry(format!(
                "{}/{}",
                name.trim(),
                t.file_name().to_string_lossy()
            ))
            .or_insert((0, 0));
        e.0 += cpu.unwrap_or(0);
        e.1 += switches;
    }
    out
}

/// `interleave <n> [pipeline] [block_on|task] [get_item|send_message]`: in
/// one process, the operation (GetItem unless named) uninstrumented,
/// instrumented and inside a hand-made span, one after the other `n` times; the median wall time of each (ns) and of the per-round
/// differences. The machine's load moves all three alike. `block_on`
/// (default): each call from this thread; `task`: all of them inside one
/// task on the runtime's worker, as a service makes them (see
/// `aws_sdk_common::in_task`).
fn interleave(n: usize, pipeline: Pipeline, in_a_task: bool, send: bool) {
    let rt = runtime();
    let provider = {
        let _in_runtime = rt.enter();
        pipeline.provider()
    };
    let tracer = provider.tracer("bench");
    let url = "http://127.0.0.1:1";
    let canned = SharedHttpClient::new(Canned);
    let plain = clients(url, Some(canned.clone()), None);
    let traced = clients(
        url,
        Some(canned),
        Some(AwsSdkInstrumentation::with_tracer_provider(&provider)),
    );
    let queue = format!("{url}/123456789012/orders");
    let name = if send {
        "SQS.SendMessage"
    } else {
        "DynamoDB.GetItem"
    };
    let call = move |c: &aws_sdk_common::Clients, q: &str| {
        let (c, q) = (c.clone(), q.to_owned());
        async move {
            if send {
                send_message(&c, &q).await
            } else {
                get_item(&c).await
            }
        }
    };
    let rows = if in_a_task {
        rt.block_on(async move {
            tokio::spawn(async move {
                let mut rows = Vec::with_capacity(n);
                for i in 0..n + 200 {
                    let t = Instant::now();
                    call(&plain, &queue).await;
                    let p = t.elapsed().as_nanos() as i64;
                    let t = Instant::now();
                    call(&traced, &queue).await;
                    let tr = t.elapsed().as_nanos() as i64;
                    let t = Instant::now();
                    in_hand_span_async(&tracer, name, call(&plain, &queue)).await;
                    let s = t.elapsed().as_nanos() as i64;
                    if i >= 200 {
                        rows.push([p, tr, s, tr - p, s - p]);
                    }
                }
                rows
            })
            .await
            .unwrap()
        })
    } else {
        let time = |f: &dyn Fn()| {
            let t = Instant::now();
            f();
            t.elapsed().as_nanos() as i64
        };
        let mut rows = Vec::with_capacity(n);
        for i in 0..n + 200 {
            let p = time(&|| rt.block_on(call(&plain, &queue)));
            let t = time(&|| rt.block_on(call(&traced, &queue)));
            let s = time(&|| in_hand_span(&tracer, name, || rt.block_on(call(&plain, &queue))));
            if i >= 200 {
                rows.push([p, t, s, t - p, s - p]);
            }
        }
        rows
    };
    let median = |k: usize| {
        let mut v: Vec<i64> = rows.iter().map(|r| r[k]).collect();
        v.sort_unstable();
        v[v.len() / 2]
    };
    let how = if in_a_task { "task" } else { "block_on" };
    eprintln!(
        "interleave {name} {pipeline:?} {how} n={n}: median ns plain {} traced {} hand_span {}; per-round traced-plain {} hand_span-plain {}",
        median(0),
        median(1),
        median(2),
        median(3),
        median(4)
    );
    let _ = provider.shutdown_with_timeout(Duration::from_secs(5));
}

pub fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "get_item_traced".into());
    if mode == "interleave" {
        let n = args.next().and_then(|a| a.parse().ok()).unwrap_or(2_000);
        let p = args.next().unwrap_or_else(|| "batch".into());
        let in_a_task = match args.next().as_deref() {
            None | Some("block_on") => false,
            Some("task") => true,
            Some(other) => panic!("unknown caller {other}: block_on, task"),
        };
        let send = match args.next().as_deref() {
            None | Some("get_item") => false,
            Some("send_message") => true,
            Some(other) => panic!("unknown operation {other}: get_item, send_message"),
        };
        return interleave(
            n,
            Pipeline::parse(&p).expect("pipeline: batch, distro, sdk-proto, simple, noop"),
            in_a_task,
            send,
        );
    }
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1_000);
    let pipeline = args.next().unwrap_or_else(|| "batch".into());
    let pipeline = Pipeline::parse(&pipeline).unwrap_or_else(|| {
        panic!("unknown pipeline {pipeline}: batch, distro, sdk-proto, simple, noop")
    });
    let rt = runtime();
    let provider = {
        let _in_runtime = rt.enter();
        pipeline.provider()
    };
    let (op, wrap) = match mode.rsplit_once('_') {
        Some((op, w @ ("traced" | "span"))) => (op, w),
        _ => (mode.as_str(), ""),
    };
    let instr = (wrap == "traced").then(|| AwsSdkInstrumentation::with_tracer_provider(&provider));
    let tracer = provider.tracer("bench");
    let url = "http://127.0.0.1:1";
    let queue = format!("{url}/123456789012/orders");
    let c = clients(url, Some(SharedHttpClient::new(Canned)), instr);
    let one = || match (op, wrap == "span") {
        ("get_item", false) => rt.block_on(get_item(&c)),
        ("get_item", true) => {
            in_hand_span(&tracer, "DynamoDB.GetItem", || rt.block_on(get_item(&c)))
        }
        ("send_message", false) => rt.block_on(send_message(&c, &queue)),
        ("send_message", true) => in_hand_span(&tracer, "SQS.SendMessage", || {
            rt.block_on(send_message(&c, &queue))
        }),
        (other, _) => panic!("unknown mode {other}: get_item, send_message [_traced|_span]"),
    };
    for _ in 0..200 {
        one();
    }
    let before = threads();
    let start = Instant::now();
    for _ in 0..n {
        one();
    }
    let wall = start.elapsed();
    let after = threads();
    let per_op = |ns: u64| ns as f64 / n as f64;
    eprintln!(
        "{mode} {pipeline:?} n={n}: wall {:.0} ns/op",
        per_op(wall.as_nanos() as u64)
    );
    for (name, (cpu, switches)) in &after {
        let (cpu0, sw0) = before.get(name).copied().unwrap_or_default();
        eprintln!(
            "  {name}: cpu {:.0} ns/op, {:.3} context switches/op",
            per_op(cpu - cpu0),
            (switches - sw0) as f64 / n as f64
        );
    }
    let _ = provider.shutdown_with_timeout(Duration::from_secs(5));
}
