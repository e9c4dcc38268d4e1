//! `otel-aws-soak`: soak and chaos harness (docs/benchmarks.md, "Soak and chaos").
//!
//! ```text
//! otel-aws-soak lambda     # SOAK_INVOKES=10000 SOAK_503_PERCENT=5 SOAK_SPIKE_PERCENT=1 SOAK_HANG_SECONDS=10 SOAK_EXPIRED_SECONDS=5
//! otel-aws-soak sidecar    # SOAK_SIDECAR_SECONDS=1800 SOAK_LOAD_PERCENT=50 SOAK_FLAP_UP_SECONDS=25 SOAK_FLAP_DOWN_SECONDS=5
//! otel-aws-soak all
//! ```
//!
//! Prints a human summary on stderr and one JSON report per part on stdout.
//! Binaries come from `$CARGO_TARGET_DIR/debug` (see `SOAK_EXTENSION`,
//! `SOAK_FUNCTION`, `SOAK_SIDECAR`, `SOAK_PROFILE`). Nothing is asserted:
//! read the figures.

#[allow(dead_code)] // the soak uses the OTLP sender and /proc reader only
#[path = "../loadgen/mod.rs"]
mod loadgen;
#[path = "../soak/mod.rs"]
mod soak;

use anyhow::Context as _;
use clap::{Parser, ValueEnum};

#[derive(Parser, Debug)]
#[command(name = "otel-aws-soak", version)]
struct Cli {
    /// Which soak to run (settings from SOAK_* variables).
    #[arg(value_enum, default_value = "all")]
    part: Part,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Part {
    Lambda,
    Sidecar,
    All,
}

fn print_lambda(r: &soak::lambda::LambdaSoakReport) {
    let s = &r.extension_stats;
    let g = |k: &str| s.get(k).and_then(serde_json::Value::as_u64).unwrap_or(0);
    eprintln!(
        "== Lambda soak: {} invokes in {:.0} s ==",
        r.config.invokes, r.elapsed_s
    );
    eprintln!("invokes by status {:?}, resets {}", r.statuses, r.resets);
    eprintln!(
        "spans sent {} received (distinct) {} lost {} duplicates {}",
        r.spans_sent, r.spans_received_unique, r.spans_lost, r.duplicates
    );
    eprintln!(
        "extension: received {} exported {} dropped buffer-full {} export-dropped {} dropped at shutdown {} requeued {} flushes {} incomplete {}",
        g("spans_received"),
        g("spans_exported"),
        g("spans_dropped_buffer_full"),
        g("spans_export_dropped"),
        g("spans_dropped_shutdown"),
        g("spans_requeued"),
        g("flushes"),
        g("flushes_incomplete")
    );
    let b = &r.backend;
    eprintln!(
        "backend: requests {} accepted {} random 503 {} spikes {} hung {} expired 403 {} sigv4 rejected {}",
        b.requests,
        b.accepted_requests,
        b.injected_503,
        b.spikes,
        b.hung,
        b.expired_403,
        b.sigv4_rejected
    );
    eprintln!(
        "post-runtime ms p50 {:.1} p99 {:.1} max {:.1}; duration ms p50 {:.1} p99 {:.1}",
        r.post_runtime_ms[0],
        r.post_runtime_ms[1],
        r.post_runtime_ms[2],
        r.duration_ms[0],
        r.duration_ms[1]
    );
    let m = &r.extension_rss;
    eprintln!(
        "extension RSS MiB first {:.1} last {:.1} max {:.1}; quarter means {:.1} -> {:.1} ({:+.1} %), {} samples",
        m.first_mib,
        m.last_mib,
        m.max_mib,
        m.first_quarter_mean_mib,
        m.last_quarter_mean_mib,
        m.growth_pct,
        m.samples
    );
}

fn print_sidecar(r: &soak::sidecar::SidecarSoakReport) {
    eprintln!(
        "== Sidecar soak: {} s at {} % of capacity ==",
        r.config.seconds, r.config.load_percent
    );
    eprintln!(
        "capacity {:.0} spans/s (accepted {} delivered {}); soak rate {} spans/s",
        r.capacity_spans_per_s, r.capacity.accepted, r.capacity.delivered, r.rate_spans_per_s
    );
    let p = &r.soak;
    eprintln!(
        "soak: accepted {} refused {} delivered {} lost {}; upstream 503 while down {}",
        p.accepted, p.refused, p.delivered, p.lost, r.upstream.down_503
    );
    let m = &r.rss;
    eprintln!(
        "sidecar RSS MiB first {:.1} last {:.1} max {:.1}; quarter means {:.1} -> {:.1} ({:+.1} %), {} samples",
        m.first_mib,
        m.last_mib,
        m.max_mib,
        m.first_quarter_mean_mib,
        m.last_quarter_mean_mib,
        m.growth_pct,
        m.samples
    );
    let t = &r.term;
    eprintln!(
        "SIGTERM under load: exit after {} ({}), stop timeout {} s; accepted {} refused {} delivered {} lost {}",
        r.term_exit_s
            .map_or("-".to_owned(), |s| format!("{s:.2} s")),
        r.term_exit_status,
        r.config.stop_timeout_seconds,
        t.accepted,
        t.refused,
        t.delivered,
        t.lost
    );
    for w in &r.drop_warnings {
        eprintln!("sidecar log: {w}");
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if matches!(cli.part, Part::Lambda | Part::All) {
        let cfg = soak::lambda::LambdaSoakConfig::from_env()?;
        let r = soak::lambda::run(cfg).await.context("lambda soak")?;
        print_lambda(&r);
        println!("{}", serde_json::json!({ "lambda": r }));
    }
    if matches!(cli.part, Part::Sidecar | Part::All) {
        let cfg = soak::sidecar::SidecarSoakConfig::from_env()?;
        let r = soak::sidecar::run(cfg).await.context("sidecar soak")?;
        print_sidecar(&r);
        println!("{}", serde_json::json!({ "sidecar": r }));
    }
    Ok(())
}
