//! The image, run with podman on the host network (ignored unless
//! `OTEL_AWS_SIDECAR_IMAGE` names a built image; run by scripts/test-image.sh).

// Test helpers outside #[test] fns may unwrap too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;
use std::time::Duration;

use otel_aws_testkit::otlp::{FakeOtlpEndpoint, OtlpEndpointOptions};

use otel_aws_testkit::ports::free_port;

fn podman(args: &[&str]) -> std::process::Output {
    Command::new("podman")
        .args(["--runtime", "runc"])
        .args(args)
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a built image: ecs-sidecar/scripts/test-image.sh"]
async fn image_serves_health_and_forwards_otlp_and_udp() {
    let image =
        std::env::var("OTEL_AWS_SIDECAR_IMAGE").unwrap_or_else(|_| "otel-aws-sidecar:dev".into());
    let fake = FakeOtlpEndpoint::start(OtlpEndpointOptions::xray_traces("us-east-1"))
        .await
        .unwrap();
    let (http, udp, health) = (free_port(), free_port(), free_port());
    let config = format!(
        "
extensions:
  health_check: {{endpoint: 127.0.0.1:{health}}}
  sigv4auth: {{region: us-east-1, service: xray}}
receivers:
  otlp: {{protocols: {{http: {{endpoint: 127.0.0.1:{http}}}}}}}
  awsxray: {{endpoint: 127.0.0.1:{udp}, proxy_server: {{endpoint: ''}}}}
processors:
  batch: {{timeout: 100ms}}
exporters:
  otlphttp: {{traces_endpoint: {}, auth: {{authenticator: sigv4auth}}}}
service:
  extensions: [health_check, sigv4auth]
  pipelines: {{traces: {{receivers: [otlp, awsxray], processors: [batch], exporters: [otlphttp]}}}}
",
        fake.traces_url()
    );
    let name = format!("otel-aws-sidecar-test-{}", std::process::id());
    let out = podman(&[
        "run",
        "-d",
        "--rm",
        "--name",
        &name,
        "--network",
        "host",
        "--ulimit",
        "nofile=1024:1024",
        "--ulimit",
        "nproc=1024:1024",
        "-e",
        &format!("OTEL_AWS_CONFIG_CONTENT={config}"),
        "-e",
        "AWS_ACCESS_KEY_ID=AKIDEXAMPLE",
        "-e",
        "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        "-e",
        "AWS_REGION=us-east-1",
        &image,
    ]);
    assert!(
        out.status.success(),
        "podman run: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let task_name = name.clone();
    let result = async move {
        let name = task_name;
        // Health through the binary itself, as HEALTHCHECK runs it.
        let url = format!("http://127.0.0.1:{health}/");
        let mut healthy = false;
        for _ in 0..100 {
            let o = podman(&[
                "exec",
                &name,
                "/otel-aws-sidecar",
                "healthcheck",
                "--url",
                &url,
            ]);
            if o.status.success() {
                healthy = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(healthy, "never healthy");
        let resp = common::post_otlp(
            &format!("http://127.0.0.1:{http}/v1/traces"),
            &common::spans(2, 9),
        )
        .await;
        assert_eq!(resp.status(), 200);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let segment = serde_json::json!({"name": "legacy", "id": "70de5b6f19ff9a0a",
            "trace_id": format!("1-{:08x}-a006649127e371903a2de979", now as u32), "start_time": now - 0.1, "end_time": now});
        let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        socket
            .send_to(
                format!("{{\"format\":\"json\",\"version\":1}}\n{segment}").as_bytes(),
                ("127.0.0.1", udp),
            )
            .await
            .unwrap();
        assert!(
            fake.wait_for_spans(3, Duration::from_secs(20)).await,
            "got {}; rejected {:?}",
            fake.span_count(),
            fake.rejected()
        );
    };
    let outcome = tokio::spawn(result).await;
    let logs = podman(&["logs", &name]);
    let _ = podman(&["stop", "-t", "5", &name]);
    if let Err(e) = outcome {
        panic!(
            "{e}\ncontainer logs:\n{}",
            String::from_utf8_lossy(&logs.stderr)
        );
    }
}
