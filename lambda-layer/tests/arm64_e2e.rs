//! The arm64 layer (`make arm64`, or `lambda-layer/scripts/package-layer.sh
//! arm64`): its static aarch64 extension, exactly as staged for the zip in
//! `target/layer/stage-arm64/`, runs under qemu-user (`qemu-aarch64
//! <binary>`: no binfmt registration needed) in the Lambda simulator — the
//! freeze test of `lambda_e2e.rs` (every span exported before its invoke
//! freezes), with as many invokes. The layer's
//! `extensions/otel-aws-extension` is a two-line script that execs qemu on
//! the real binary, so the simulator is unchanged (same process group, so
//! SIGSTOP freezes the emulated extension too).
//!
//! When the arm64 layer was not built (or qemu-aarch64 is missing) the test
//! says so loudly and passes, unless `CI` is set: then it fails. Env:
//! `OTEL_AWS_ARM64_LAYER` (a staged layer folder), `OTEL_AWS_QEMU_AARCH64`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value;
use otel_aws_lambda::extension::stats::StatsSnapshot;
use otel_aws_testkit::lambda_sim::{InvokeSpec, Simulator};
use otel_aws_testkit::otlp::{FakeOtlpEndpoint, OtlpEndpointOptions};

mod common;
use common::{LayerDir, assert_all_succeeded};

/// Budgets per architecture (issue 12), checked on the built artefacts.
const MAX_BINARY: u64 = 6_000_000;
const MAX_ZIP: u64 = 3_000_000;

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// `None` (after a loud message) when something the test needs is missing
/// outside CI; a failure under CI.
fn require<T>(what: Option<T>, missing: &str) -> Option<T> {
    if what.is_none() {
        let msg = format!(
            "arm64: {missing}: build it with `make arm64` (the arm64 layer and sidecar binaries; \
             `make test-deps` installs qemu-user)"
        );
        assert!(!in_ci(), "{msg} (CI is set: not skipping)");
        eprintln!("\n!!!!!!!! SKIPPED: {msg} !!!!!!!!\n");
    }
    what
}

/// The repository's `target/layer` (package-layer.sh writes there whatever
/// CARGO_TARGET_DIR is).
fn layer_out() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/layer")
}

fn staged_layer() -> Option<PathBuf> {
    let dir = std::env::var_os("OTEL_AWS_ARM64_LAYER")
        .map(PathBuf::from)
        .unwrap_or_else(|| layer_out().join("stage-arm64"));
    dir.join("extensions/otel-aws-extension")
        .is_file()
        .then_some(dir)
}

fn qemu() -> Option<PathBuf> {
    let name = std::env::var_os("OTEL_AWS_QEMU_AARCH64").unwrap_or_else(|| "qemu-aarch64".into());
    let found = std::process::Command::new(&name)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    found.then(|| PathBuf::from(name))
}

/// ELF header and program headers: (machine, has PT_INTERP).
fn elf_machine_and_interp(bytes: &[u8]) -> (u16, bool) {
    assert_eq!(&bytes[..4], b"\x7fELF", "not an ELF file");
    assert_eq!(bytes[4], 2, "not a 64-bit ELF");
    let u16_at = |o: usize| u16::from_le_bytes(bytes[o..o + 2].try_into().unwrap());
    let u32_at = |o: usize| u32::from_le_bytes(bytes[o..o + 4].try_into().unwrap());
    let u64_at = |o: usize| u64::from_le_bytes(bytes[o..o + 8].try_into().unwrap());
    let (phoff, phentsize, phnum) = (u64_at(0x20) as usize, u16_at(0x36), u16_at(0x38));
    let interp = (0..phnum as usize).any(|i| u32_at(phoff + i * phentsize as usize) == 3);
    (u16_at(0x12), interp)
}

#[test]
fn arm64_layer_is_static_aarch64_and_within_budget() {
    let Some(stage) = require(staged_layer(), "no arm64 layer in target/layer/stage-arm64") else {
        return;
    };
    let bin = std::fs::read(stage.join("extensions/otel-aws-extension")).unwrap();
    let (machine, interp) = elf_machine_and_interp(&bin);
    assert_eq!(machine, 0xb7, "EM_AARCH64");
    assert!(!interp, "dynamically linked (has PT_INTERP)");
    assert!(stage.join("otel-aws-wrapper").is_file(), "wrapper missing");
    let zip = std::fs::metadata(layer_out().join("otel-aws-extension-arm64.zip"))
        .expect("target/layer/otel-aws-extension-arm64.zip")
        .len();
    eprintln!("arm64: binary {} B, zip {zip} B", bin.len());
    assert!(bin.len() as u64 <= MAX_BINARY, "binary {} B", bin.len());
    assert!(zip <= MAX_ZIP, "zip {zip} B");
}

/// Per request id (the SERVER span's `faas.invocation_id`), the number of
/// spans of its trace; and the total number of spans.
fn spans_per_request(received: &[ExportTraceServiceRequest]) -> (HashMap<String, usize>, usize) {
    let mut trace_of = HashMap::new();
    let mut per_trace: HashMap<Vec<u8>, usize> = HashMap::new();
    let spans = received
        .iter()
        .flat_map(|r| &r.resource_spans)
        .flat_map(|rs| &rs.scope_spans)
        .flat_map(|ss| &ss.spans);
    let mut total = 0;
    for span in spans {
        total += 1;
        *per_trace.entry(span.trace_id.clone()).or_default() += 1;
        for kv in &span.attributes {
            if kv.key == "faas.invocation_id"
                && let Some(any_value::Value::StringValue(id)) =
                    kv.value.as_ref().and_then(|v| v.value.as_ref())
            {
                trace_of.insert(id.clone(), span.trace_id.clone());
            }
        }
    }
    let per_request = trace_of
        .into_iter()
        .map(|(id, t)| (id, per_trace.get(&t).copied().unwrap_or(0)))
        .collect();
    (per_request, total)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arm64_extension_under_qemu_exports_every_span_before_the_freeze() {
    let Some(stage) = require(staged_layer(), "no arm64 layer in target/layer/stage-arm64") else {
        return;
    };
    let Some(qemu) = require(qemu(), "qemu-aarch64 not found") else {
        return;
    };
    let fake = Arc::new(
        FakeOtlpEndpoint::start(OtlpEndpointOptions::xray_traces("us-east-1"))
            .await
            .unwrap(),
    );
    // The common layer folder, its extension replaced by the qemu launcher.
    let layer = LayerDir::new("arm64-freeze");
    let launcher = layer.path().join("layer/extensions/otel-aws-extension");
    std::fs::remove_file(&launcher).unwrap();
    let real = stage
        .join("extensions/otel-aws-extension")
        .canonicalize()
        .unwrap();
    std::fs::write(
        &launcher,
        format!(
            "#!/bin/sh\nexec '{}' '{}' \"$@\"\n",
            qemu.display(),
            real.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&launcher, std::fs::Permissions::from_mode(0o755)).unwrap();
    let stats_file = layer.path().join("stats.json");

    const N: usize = 210; // as many invokes as the x86_64 freeze test (lambda_e2e.rs)
    const CHILDREN: usize = 3;
    let failures = Arc::new(Mutex::new(Vec::new()));
    let (f, fails) = (fake.clone(), failures.clone());
    let mut cfg = layer
        .sim_config([env!("CARGO_BIN_EXE_otel-aws-test-function")])
        .with_env("OTEL_AWS_LAMBDA_EXPORTER_ENDPOINT", fake.traces_url())
        .with_env("OTEL_AWS_SIGV4", "true") // a 127.0.0.1 fake is not an AWS host: force signing
        .with_env("OTEL_AWS_LAMBDA_STATS_FILE", stats_file.to_str().unwrap())
        .with_env("OTEL_AWS_LAMBDA_FLUSH", "end")
        .on_frozen(move |inv| {
            // Every process is stopped now: what has not arrived is at risk.
            let (per_request, _) = spans_per_request(&f.received());
            let got = per_request.get(&inv.request_id).copied().unwrap_or(0);
            if got != 1 + CHILDREN {
                fails.lock().unwrap().push(format!(
                    "invoke {} ({}): {got} spans at freeze",
                    inv.index, inv.request_id
                ));
            }
        });
    let event = serde_json::json!({"spans": CHILDREN});
    cfg.invokes = (0..N).map(|_| InvokeSpec::json(&event)).collect();
    let report = Simulator::run(cfg).await.unwrap();
    assert_all_succeeded(&report, N);
    let failures = failures.lock().unwrap();
    assert!(
        failures.is_empty(),
        "{} invokes incomplete at freeze: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    let (per_request, total) = spans_per_request(&fake.received());
    assert_eq!(per_request.len(), N);
    assert_eq!(total, N * (1 + CHILDREN), "none lost, no duplicates");
    assert!(
        fake.rejected().is_empty(),
        "SigV4 rejections: {:?}",
        fake.rejected()
    );
    let stats: StatsSnapshot =
        serde_json::from_slice(&std::fs::read(&stats_file).unwrap()).unwrap();
    assert_eq!(stats.invokes, N as u64);
    assert_eq!(stats.done_by_function, N as u64, "{stats:?}");
    let mut post: Vec<f64> = report
        .invokes
        .iter()
        .map(|i| i.post_runtime_extension_ms)
        .collect();
    post.sort_by(f64::total_cmp);
    // Emulated figures (qemu-user translates every instruction): reported, not budgets.
    eprintln!(
        "arm64 under qemu: extension init {:.2} ms (its init_us), registered after {:.1} ms; \
         post-runtime extension time p50 {:.2} ms, max {:.2} ms",
        stats.init_us as f64 / 1000.0,
        report.init.extensions_registered_ms,
        post[post.len() / 2],
        post[post.len() - 1]
    );
}
