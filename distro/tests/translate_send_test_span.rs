//! `otel-aws send-test-span` with `OTEL_TRACES_EXPORTER=xray`, run as a
//! real process against the testkit's SigV4-verifying fake X-Ray API: the
//! stored segments name the service (issue 10: "The service disappears from
//! its own traces in segment mode").
#![cfg(feature = "cli")]
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use otel_aws_testkit::sigv4::Credentials;
use otel_aws_testkit::xray_api::{FakeXrayApi, XrayApiOptions};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_test_span_segments_name_the_service() {
    let fake = FakeXrayApi::start(XrayApiOptions::signed("us-east-1"))
        .await
        .unwrap();
    let c = Credentials::test();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_otel-aws"));
    cmd.arg("send-test-span")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", "/nonexistent")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("RUST_LOG", "off")
        .env("OTEL_TRACES_EXPORTER", "xray")
        .env("OTEL_SERVICE_NAME", "orders")
        .env("OTEL_AWS_RESOURCE_DETECTORS", "env")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL_XRAY", fake.url())
        .env("AWS_ACCESS_KEY_ID", c.access_key_id)
        .env("AWS_SECRET_ACCESS_KEY", c.secret_access_key);
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .unwrap()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "stdout {stdout} stderr {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let segments = fake.segments();
    assert_eq!(segments.len(), 2, "rejected: {:?}", fake.rejected());
    // The root is an INTERNAL span: a segment named after the span, which
    // records its service.
    let root = segments
        .iter()
        .find(|s| s.get("type").is_none())
        .expect("a root segment");
    assert_eq!(root["name"], json!("otel-aws test span"));
    assert_eq!(
        root["metadata"]["default"]["otel.resource.service.name"],
        json!("orders"),
        "{root}"
    );
    // The child (CLIENT) is a subsegment of it.
    let child = segments
        .iter()
        .find(|s| s.get("type") == Some(&json!("subsegment")))
        .expect("a subsegment");
    assert_eq!(child["parent_id"], root["id"]);
    assert!(
        stdout.contains(root["trace_id"].as_str().unwrap()),
        "{stdout}"
    );
}
