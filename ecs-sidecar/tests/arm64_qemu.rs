//! The static aarch64 sidecar binary (`make arm64`: built in one cargo
//! invocation with the arm64 extension, profile `lambda`) run under
//! qemu-user (`qemu-aarch64 <binary>`: no binfmt registration needed): the
//! binary's own `healthcheck` against its health_check endpoint, then one
//! OTLP/HTTP request reaching the SigV4-verifying fake X-Ray OTLP endpoint.
//!
//! When the arm64 binary was not built (or qemu-aarch64 is missing) the test
//! says so loudly and passes, unless `CI` is set: then it fails. Env:
//! `OTEL_AWS_ARM64_SIDECAR` (the binary), `OTEL_AWS_QEMU_AARCH64`.

// Test helpers outside #[test] fns may unwrap too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use otel_aws_testkit::otlp::{FakeOtlpEndpoint, OtlpEndpointOptions};

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

/// `<target>/aarch64-unknown-linux-musl/lambda/otel-aws-sidecar`, `<target>`
/// being the directory this test's own build of the binary is in.
fn arm64_sidecar() -> Option<PathBuf> {
    let bin = std::env::var_os("OTEL_AWS_ARM64_SIDECAR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let host = Path::new(env!("CARGO_BIN_EXE_otel-aws-sidecar"));
            let target = host.parent().and_then(Path::parent).unwrap();
            target.join("aarch64-unknown-linux-musl/lambda/otel-aws-sidecar")
        });
    bin.is_file().then_some(bin)
}

fn qemu() -> Option<PathBuf> {
    let name = std::env::var_os("OTEL_AWS_QEMU_AARCH64").unwrap_or_else(|| "qemu-aarch64".into());
    let found = Command::new(&name)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    found.then(|| PathBuf::from(name))
}

use otel_aws_testkit::ports::free_port;

/// Kills the emulated sidecar however the test ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arm64_sidecar_under_qemu_serves_health_and_forwards_otlp() {
    let Some(bin) = require(
        arm64_sidecar(),
        "no aarch64-unknown-linux-musl sidecar binary",
    ) else {
        return;
    };
    let Some(qemu) = require(qemu(), "qemu-aarch64 not found") else {
        return;
    };
    let head = std::fs::read(&bin).unwrap();
    assert_eq!(
        &head[18..20],
        &[0xb7, 0],
        "{} is not an aarch64 ELF",
        bin.display()
    );

    let fake = FakeOtlpEndpoint::start(OtlpEndpointOptions::xray_traces("us-east-1"))
        .await
        .unwrap();
    let (http, health) = (free_port(), free_port());
    let config = common::write_config(&format!(
        "
extensions:
  health_check: {{endpoint: 127.0.0.1:{health}}}
  sigv4auth: {{region: us-east-1, service: xray}}
receivers:
  otlp: {{protocols: {{http: {{endpoint: 127.0.0.1:{http}}}}}}}
processors:
  batch: {{timeout: 100ms}}
exporters:
  otlphttp: {{traces_endpoint: {}, auth: {{authenticator: sigv4auth}}}}
service:
  extensions: [health_check, sigv4auth]
  pipelines: {{traces: {{receivers: [otlp], processors: [batch], exporters: [otlphttp]}}}}
",
        fake.traces_url()
    ));
    let sidecar = |args: &[&str]| {
        let mut c = Command::new(&qemu);
        c.arg(&bin)
            .args(args)
            .env_remove("OTEL_AWS_CONFIG_CONTENT")
            .env("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
            .env(
                "AWS_SECRET_ACCESS_KEY",
                "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            )
            .env("AWS_REGION", "us-east-1");
        c
    };
    let _running = Running(
        sidecar(&["--config", config.to_str().unwrap()])
            .stdin(Stdio::null())
            .spawn()
            .unwrap(),
    );

    // Health through the binary itself (as the image's HEALTHCHECK runs it), emulated too.
    let url = format!("http://127.0.0.1:{health}/");
    let mut healthy = false;
    for _ in 0..100 {
        if sidecar(&["healthcheck", "--url", &url])
            .output()
            .unwrap()
            .status
            .success()
        {
            healthy = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(healthy, "never healthy at {url}");

    let resp = common::post_otlp(
        &format!("http://127.0.0.1:{http}/v1/traces"),
        &common::spans(2, 9),
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert!(
        fake.wait_for_spans(2, Duration::from_secs(20)).await,
        "got {}; rejected {:?}",
        fake.span_count(),
        fake.rejected()
    );
    assert!(fake.rejected().is_empty(), "{:?}", fake.rejected());
    let _ = std::fs::remove_dir_all(config.parent().unwrap());
}
