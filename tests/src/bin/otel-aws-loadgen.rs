//! `otel-aws-loadgen`: load for the ECS sidecar benchmarks (docs/benchmarks.md).
//!
//! ```text
//! otel-aws-loadgen otlp --target http://127.0.0.1:24318/v1/traces --sink 127.0.0.1:14318 \
//!     [--spans 512] [--concurrency 8] [--seconds 10] [--rate SPANS_PER_S] [--pid SIDECAR_PID]
//! otel-aws-loadgen udp --target 127.0.0.1:22000 --sink 127.0.0.1:14318 \
//!     [--seconds 10] [--rate DATAGRAMS_PER_S] [--pid SIDECAR_PID]
//! otel-aws-loadgen sink --sink 127.0.0.1:14318
//! ```
//!
//! The sink (an OTLP/HTTP endpoint at `/v1/traces` and a PutTraceSegments
//! endpoint at `/TraceSegments`, counting and discarding) runs in-process;
//! point the sidecar's exporter at it. With `--pid` the sidecar's CPU time
//! and memory are read from `/proc` before and after, so the report gives
//! delivered items per CPU-second of the sidecar (its one-core throughput,
//! whatever else the machine runs).

#[path = "../loadgen/mod.rs"]
mod loadgen;

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use loadgen::proc_stats::{self, ProcStats};

#[derive(Parser, Debug)]
#[command(name = "otel-aws-loadgen", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Debug, Clone)]
struct Common {
    /// Where the counting sink listens (the sidecar exports here).
    #[arg(long, default_value = "127.0.0.1:14318")]
    sink: SocketAddr,
    /// Length of the run, seconds.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Sidecar process id: report its CPU time and memory from /proc.
    #[arg(long)]
    pid: Option<u32>,
    /// Seconds to wait after sending for the sidecar to deliver what it accepted.
    #[arg(long, default_value_t = 3)]
    settle: u64,
    /// The sink answers each request this many milliseconds after it arrives
    /// (a slow backend; 0: at once).
    #[arg(long, default_value_t = 0)]
    sink_latency_ms: u64,
}

impl Common {
    fn sink_latency(&self) -> Duration {
        Duration::from_millis(self.sink_latency_ms)
    }
}

#[derive(Subcommand, Debug)]
enum Command {
    /// OTLP/HTTP protobuf requests to the sidecar's OTLP receiver.
    Otlp {
        /// The sidecar's OTLP/HTTP traces URL.
        #[arg(long, default_value = "http://127.0.0.1:24318/v1/traces")]
        target: String,
        /// Spans per request.
        #[arg(long, default_value_t = 512)]
        spans: usize,
        /// Requests in flight.
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        /// Cap in spans/s (0: flat out).
        #[arg(long, default_value_t = 0)]
        rate: u64,
        #[command(flatten)]
        common: Common,
    },
    /// Legacy X-Ray daemon datagrams to the sidecar's awsxray UDP receiver.
    Udp {
        /// The sidecar's UDP address.
        #[arg(long, default_value = "127.0.0.1:22000")]
        target: SocketAddr,
        /// Cap in datagrams/s (0: flat out).
        #[arg(long, default_value_t = 0)]
        rate: u64,
        #[command(flatten)]
        common: Common,
    },
    /// Only the counting sink, until killed (prints counts every second).
    Sink {
        /// Where the sink listens.
        #[arg(long, default_value = "127.0.0.1:14318")]
        sink: SocketAddr,
    },
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn report_proc(pid: Option<u32>, before: Option<ProcStats>, delivered: u64) {
    let (Some(pid), Some(before)) = (pid, before) else {
        return;
    };
    let Some(after) = proc_stats::read(pid) else {
        println!("sidecar {pid}: gone");
        return;
    };
    let cpu = after.cpu.saturating_sub(before.cpu).as_secs_f64();
    let per_cpu_s = if cpu > 0.0 {
        delivered as f64 / cpu
    } else {
        0.0
    };
    println!(
        "sidecar {pid}: cpu {cpu:.2} s -> {per_cpu_s:.0} items per CPU-second; RSS before {:.1} MiB, after {:.1} MiB, peak {:.1} MiB",
        mib(before.rss_kib),
        mib(after.rss_kib),
        mib(after.hwm_kib)
    );
}

/// Largest RSS seen while `fut` runs (sampled every 100 ms).
async fn sample_rss<T>(pid: Option<u32>, fut: impl std::future::Future<Output = T>) -> (T, u64) {
    let Some(pid) = pid else {
        return (fut.await, 0);
    };
    let mut peak = 0u64;
    tokio::pin!(fut);
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    loop {
        tokio::select! {
            out = &mut fut => return (out, peak),
            _ = tick.tick() => {
                if let Some(s) = proc_stats::read(pid) {
                    peak = peak.max(s.rss_kib);
                }
            }
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Sink { sink } => {
            let (otlp, xray) = loadgen::sink::serve(sink, Duration::ZERO)
                .await
                .with_context(|| format!("cannot listen on {sink}"))?;
            println!("sink on {sink}: /v1/traces (OTLP), /TraceSegments (PutTraceSegments)");
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                println!("spans {} documents {}", otlp.items(), xray.items());
            }
        }
        Command::Otlp {
            target,
            spans,
            concurrency,
            rate,
            common,
        } => {
            let (sink, _) = loadgen::sink::serve(common.sink, common.sink_latency())
                .await
                .with_context(|| format!("cannot listen on {}", common.sink))?;
            let body = loadgen::otlp::request_body(spans);
            let before = common.pid.and_then(proc_stats::read);
            let (r, peak) = sample_rss(
                common.pid,
                loadgen::otlp::run(
                    &target,
                    body,
                    spans,
                    concurrency,
                    Duration::from_secs(common.seconds),
                    rate,
                ),
            )
            .await;
            tokio::time::sleep(Duration::from_secs(common.settle)).await;
            let secs = r.elapsed.as_secs_f64();
            let delivered = sink.items();
            println!(
                "otlp: {}s, {spans} spans/request, concurrency {concurrency}: accepted {} ({:.0} spans/s), refused {}, delivered to sink {} ({:.0} spans/s); sidecar RSS peak while sending {:.1} MiB",
                common.seconds,
                r.accepted,
                r.accepted as f64 / secs,
                r.refused,
                delivered,
                delivered as f64 / secs,
                mib(peak)
            );
            report_proc(common.pid, before, delivered);
        }
        Command::Udp {
            target,
            rate,
            common,
        } => {
            let (_, sink) = loadgen::sink::serve(common.sink, common.sink_latency())
                .await
                .with_context(|| format!("cannot listen on {}", common.sink))?;
            let datagrams = loadgen::udp::datagrams(4096);
            let before = common.pid.and_then(proc_stats::read);
            let seconds = common.seconds;
            let send = tokio::task::spawn_blocking(move || {
                loadgen::udp::run(target, &datagrams, Duration::from_secs(seconds), rate)
            });
            let (r, peak) = sample_rss(common.pid, send).await;
            let r = r.context("sender thread")?.context("UDP send")?;
            tokio::time::sleep(Duration::from_secs(common.settle)).await;
            let secs = r.elapsed.as_secs_f64();
            let delivered = sink.items();
            println!(
                "udp: {}s: sent {} datagrams ({:.0}/s), {} send errors, delivered to PutTraceSegments {} documents ({:.0}/s); sidecar RSS peak while sending {:.1} MiB",
                common.seconds,
                r.sent,
                r.sent as f64 / secs,
                r.errors,
                delivered,
                delivered as f64 / secs,
                mib(peak)
            );
            report_proc(common.pid, before, delivered);
        }
    }
    Ok(())
}
