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

/// A `RUST_LOG` that does not parse is not half-applied: the config's level
/// is used (the `started` line at info still comes; `EnvFilter::new`'s
/// lossy parse left ERROR only) and a warning names the variable.
#[test]
fn a_bad_rust_log_falls_back_to_the_configured_level_with_a_warning() {
    use std::io::{BufRead, BufReader};
    let yaml = "receivers: {otlp: {protocols: {http: {endpoint: 127.0.0.1:0}}}}\nexporters: {debug: }\nservice:\n  telemetry: {logs: {level: info}}\n  pipelines: {traces: {receivers: [otlp], exporters: [debug]}}\n";
    let file = common::write_config(yaml);
    let mut child = sidecar()
        .env("RUST_LOG", "otel_aws=loud,=[")
        .args(["--config"])
        .arg(&file)
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut seen = Vec::new();
    // Guard only: the outcome is the `started` line.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !seen
        .iter()
        .any(|l: &String| l.contains("otel-aws-sidecar started"))
    {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => seen.push(line),
            Err(_) => break,
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let all = seen.join("\n");
    assert!(all.contains("otel-aws-sidecar started"), "{all}");
    assert!(
        all.contains("RUST_LOG is not a valid tracing filter") && all.contains("logs.level (info)"),
        "{all}"
    );
}

#[test]
fn a_bad_stop_timeout_names_its_variable() {
    let out = sidecar()
        .env("OTEL_AWS_STOP_TIMEOUT", "soon")
        .args(["--validate"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("OTEL_AWS_STOP_TIMEOUT") && stderr.contains("10s"),
        "{stderr}"
    );
}
