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

#[test]
fn config_surprises_are_reported() {
    // An unset variable becomes "" (as in the collector), with a warning on stderr.
    let yaml = "receivers: {otlp: {protocols: {http: }}}\nexporters:\n  file:\n    path: /tmp/x${env:OTEL_AWS_TEST_UNSET_VAR}.jsonl\nservice:\n  pipelines:\n    traces: {receivers: [otlp], exporters: [file]}\n";
    let file = common::write_config(yaml);
    let out = sidecar()
        .env_remove("OTEL_AWS_TEST_UNSET_VAR")
        .args(["--validate", "--config"])
        .arg(&file)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("OTEL_AWS_TEST_UNSET_VAR") && stderr.contains("not set"),
        "no warning for the unset variable: {stderr:?}"
    );
    // A duplicate key is an error, not a silent override.
    let yaml = "receivers:\n  otlp: {protocols: {http: }}\nexporters: {debug: }\nservice:\n  pipelines:\n    traces: {receivers: [otlp], exporters: [debug]}\nexporters: {file: {path: /tmp/x.jsonl}}\n";
    let file = common::write_config(yaml);
    let out = sidecar()
        .args(["--validate", "--config"])
        .arg(&file)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("duplicate key \"exporters\""), "{stderr}");
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
