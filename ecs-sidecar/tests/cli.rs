//! The binary: `--validate`, named errors on bad configs, `healthcheck`.

// Test helpers outside #[test] fns may unwrap too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;

fn sidecar() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_otel-aws-sidecar"));
    c.env_remove("OTEL_AWS_CONFIG_CONTENT")
        .env("AWS_REGION", "us-east-1");
    c
}

#[test]
fn validate_accepts_the_shipped_configs() {
    for name in ["ecs-default.yaml", "local-debug.yaml"] {
        let path = format!("{}/config/{name}", env!("CARGO_MANIFEST_DIR"));
        let out = sidecar()
            .args(["--config", &path, "--validate"])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains("valid"), "{stdout}");
    }
}

#[test]
fn bad_configs_fail_naming_the_path() {
    let cases = [
        (
            "exporters:\n  otlphttp:\n    endpont: https://x\n",
            "exporters.otlphttp.endpont",
        ),
        ("receivers:\n  zipkin:\n", "receivers.zipkin"),
        (
            "receivers: {otlp: {protocols: {http: }}}\nexporters: {debug: }\nservice:\n  pipelines:\n    traces: {receivers: [otlp], exporters: [otlphttp]}\n",
            "service.pipelines.traces.exporters[0]",
        ),
    ];
    for (yaml, path) in cases {
        let file = common::write_config(yaml);
        let out = sidecar()
            .args(["--validate", "--config"])
            .arg(&file)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{yaml}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(path), "{stderr}");
    }
    // Inline YAML wins over the file.
    let out = sidecar()
        .args(["--validate", "--config", "/nonexistent.yaml"])
        .env("OTEL_AWS_CONFIG_CONTENT", "receivers:\n  jaeger:\n")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("receivers.jaeger"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthcheck_subcommand_reports_health() {
    let yaml = "
extensions: {health_check: {endpoint: 127.0.0.1:0}}
receivers: {otlp: {protocols: {http: {endpoint: 127.0.0.1:0}}}}
exporters: {debug: }
service:
  extensions: [health_check]
  pipelines: {traces: {receivers: [otlp], exporters: [debug]}}
";
    let sidecar = common::start(yaml, common::test_env(&[])).await;
    let url = format!("http://{}/", sidecar.health_addr().unwrap());
    let ok = tokio::task::spawn_blocking(move || sidecar_status(&url))
        .await
        .unwrap();
    assert_eq!(ok, Some(0));
    let addr = sidecar.health_addr().unwrap();
    assert!(sidecar.shutdown().await);
    let down = tokio::task::spawn_blocking(move || sidecar_status(&format!("http://{addr}/")))
        .await
        .unwrap();
    assert_eq!(down, Some(1));
}

fn sidecar_status(url: &str) -> Option<i32> {
    sidecar()
        .args(["healthcheck", "--url", url])
        .output()
        .unwrap()
        .status
        .code()
}
