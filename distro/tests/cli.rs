//! The `otel-aws` binary, run as a real process against the testkit fakes.
#![cfg(feature = "cli")]
// Test helpers outside #[test] functions unwrap too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use otel_aws_testkit::ecs::{EcsFixture, FakeEcsMetadata};
use otel_aws_testkit::imds::{FakeImds, ImdsConfig};
use otel_aws_testkit::otlp::{FakeOtlpEndpoint, OtlpEndpointOptions};
use otel_aws_testkit::sigv4::Credentials;
use otel_aws_testkit::xray_api::{FakeXrayApi, XrayApiOptions};
use serde_json::Value;

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs `otel-aws` with exactly `env` (plus settings that keep the AWS SDK
/// away from this machine's own config files and IMDS).
async fn otel_aws(env: &[(&str, &str)], args: &[&str]) -> Run {
    otel_aws_stdin(env, args, "").await
}

async fn otel_aws_stdin(env: &[(&str, &str)], args: &[&str], stdin: &str) -> Run {
    use std::io::Write;
    let stdin = stdin.to_string();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_otel-aws"));
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", "/nonexistent")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("RUST_LOG", "off")
        .envs(env.iter().copied());
    cmd.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let out = tokio::task::spawn_blocking(move || {
        let mut child = cmd.spawn()?;
        child.stdin.take().unwrap().write_all(stdin.as_bytes())?;
        child.wait_with_output()
    })
    .await
    .unwrap()
    .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn vectors(name: &str) -> Vec<Value> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/vectors/");
    let text = std::fs::read_to_string(format!("{path}{name}"))
        .unwrap_or_else(|e| panic!("vectors missing at {path}{name}: {e}"));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn header_json_is_the_vector_shape_for_every_extract_vector() {
    let lines = vectors("xray_extract.jsonl");
    assert!(
        lines.len() > 200,
        "expected the full vector file, got {} lines",
        lines.len()
    );
    for v in &lines {
        let header = v["header"].as_str().unwrap();
        // Through standard input: some vectors hold bytes (NUL) that argv cannot carry.
        let run = otel_aws_stdin(&[], &["header", "-", "--json"], header).await;
        let got: Value = serde_json::from_str(run.stdout.trim())
            .unwrap_or_else(|e| panic!("header {header:?}: not JSON ({e}): {}", run.stdout));
        let keys: Vec<&String> = got.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            ["sampled", "span_id", "trace_id", "valid"],
            "exact key set for {header:?}"
        );
        let ok = got == v["expect"] || v["also_ok"].as_array().unwrap().contains(&got);
        assert!(
            ok,
            "header {header:?}: got {got}, expected {} or one of {}",
            v["expect"], v["also_ok"]
        );
        assert_eq!(
            run.code,
            if got["valid"] == true { 0 } else { 1 },
            "exit status for {header:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn header_text_prints_both_forms() {
    let run = otel_aws(
        &[],
        &[
            "header",
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
        ],
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout
            .contains("00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01"),
        "{}",
        run.stdout
    );
    let run = otel_aws(
        &[],
        &[
            "header",
            "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-00",
        ],
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout
            .contains("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0"),
        "{}",
        run.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn detect_on_ec2_through_imdsv2() {
    let imds = FakeImds::start(ImdsConfig::default()).await.unwrap();
    let url = imds.url();
    let run = otel_aws(
        &[
            ("AWS_EC2_METADATA_DISABLED", "false"),
            ("AWS_EC2_METADATA_SERVICE_ENDPOINT", &url),
            ("OTEL_SERVICE_NAME", "orders"),
        ],
        &["detect", "--json"],
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let got: Value = serde_json::from_str(&run.stdout).unwrap();
    // Values: the EC2 user guide's identity document served by the fake (spec/resources.md mapping).
    for (k, want) in [
        ("cloud.provider", "aws"),
        ("cloud.platform", "aws_ec2"),
        ("cloud.account.id", "0123456789"),
        ("cloud.region", "us-west-2"),
        ("cloud.availability_zone", "us-west-2b"),
        ("host.id", "i-1234567890abcdef0"),
        ("host.type", "t2.micro"),
        ("host.image.id", "ami-5fb8c835"),
        ("host.name", "ip-10-158-112-84.us-west-2.compute.internal"),
        ("service.name", "orders"),
    ] {
        assert_eq!(got[k], want, "{k} in {got}");
    }
    assert!(got.get("telemetry.sdk.name").is_some(), "{got}");
    assert!(!imds.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn detect_on_fargate_gives_arrays_for_log_attributes() {
    let ecs = FakeEcsMetadata::start(EcsFixture::Fargate).await.unwrap();
    let uri = ecs.uri();
    let run = otel_aws(
        &[("ECS_CONTAINER_METADATA_URI_V4", &uri)],
        &["detect", "--json"],
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let got: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(got["cloud.platform"], "aws_ecs");
    assert_eq!(got["aws.ecs.launchtype"], "fargate");
    assert_eq!(
        got["aws.ecs.task.arn"],
        "arn:aws:ecs:us-west-2:111122223333:task/default/e9028f8d5d8e4f258373e7b93ce9a3c3"
    );
    assert_eq!(got["cloud.account.id"], "111122223333");
    assert!(got["aws.log.group.names"].is_array(), "{got}");
    // Service name falls back to the ECS container name (spec precedence).
    assert_eq!(got["service.name"], "curl");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_reports_sources_and_bad_values_name_the_variable() {
    let run = otel_aws(
        &[
            (
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "https://xray.eu-west-1.amazonaws.com/v1/traces",
            ),
            ("OTEL_BSP_MAX_QUEUE_SIZE", "4096"),
        ],
        &["config", "--json"],
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let got: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        got["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]["value"],
        "https://xray.eu-west-1.amazonaws.com/v1/traces"
    );
    assert_eq!(
        got["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]["source"],
        "env OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
    );
    assert_eq!(got["OTEL_BSP_MAX_QUEUE_SIZE"]["value"], "4096");
    assert_eq!(got["OTEL_BSP_SCHEDULE_DELAY"]["source"], "default");

    let run = otel_aws(&[("OTEL_TRACES_SAMPLER", "sometimes")], &["config"]).await;
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("OTEL_TRACES_SAMPLER"), "{}", run.stderr);
}

/// Credentials written into endpoints and the sampler's argument never
/// reach the output, and a rejected adaptive-sampling configuration is
/// shown, naming its variable (it turns adaptive sampling off, it does not
/// stop the sampler, so nothing else would say so).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_and_doctor_never_print_endpoint_secrets() {
    let env = [
        ("OTEL_TRACES_SAMPLER", "xray"),
        (
            "OTEL_TRACES_SAMPLER_ARG",
            "endpoint=http://u:s3cr3t@127.0.0.1:2000/?token=s3cr3t",
        ),
        ("AWS_XRAY_ADAPTIVE_SAMPLING_CONFIG", r#"{"version": 3}"#),
        (
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            // Port 1: nothing listens, so doctor reports it unreachable.
            "http://u:s3cr3t@127.0.0.1:1/v1/traces?api_key=s3cr3t",
        ),
        ("OTEL_AWS_RESOURCE_DETECTORS", "env"),
    ];
    let run = otel_aws(&env, &["config", "--json"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!run.stdout.contains("s3cr3t"), "{}", run.stdout);
    let got: Value = serde_json::from_str(&run.stdout).unwrap();
    let sampler = got["OTEL_TRACES_SAMPLER"]["value"].as_str().unwrap();
    assert!(sampler.contains("127.0.0.1:2000"), "{sampler}");
    assert!(
        sampler.contains("AWS_XRAY_ADAPTIVE_SAMPLING_CONFIG") && sampler.contains("is off"),
        "{sampler}"
    );

    let run = otel_aws(&env, &["doctor", "--json"]).await;
    let all = format!("{}{}", run.stdout, run.stderr);
    assert!(!all.contains("s3cr3t"), "{all}");
    let got: Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {all}"));
    let endpoint = got["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "endpoint")
        .unwrap_or_else(|| panic!("{got}"));
    assert_eq!(endpoint["ok"], false, "{endpoint}");
    assert!(
        endpoint["detail"]
            .as_str()
            .unwrap()
            .contains("127.0.0.1:1/v1/traces"),
        "{endpoint}"
    );
}

fn signing_env(endpoint: &str) -> Vec<(&'static str, String)> {
    let c = Credentials::test();
    vec![
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", endpoint.to_string()),
        ("OTEL_AWS_SIGV4", "true".into()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_ACCESS_KEY_ID", c.access_key_id),
        ("AWS_SECRET_ACCESS_KEY", c.secret_access_key),
        ("OTEL_SERVICE_NAME", "cli-test".into()),
        ("OTEL_AWS_RESOURCE_DETECTORS", "env".into()),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_test_span_is_signed_and_verified() {
    let fake = FakeOtlpEndpoint::start(OtlpEndpointOptions::xray_traces("us-east-1"))
        .await
        .unwrap();
    let env = signing_env(&fake.traces_url());
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let run = otel_aws(&env, &["send-test-span"]).await;
    assert_eq!(run.code, 0, "stdout {} stderr {}", run.stdout, run.stderr);
    assert_eq!(fake.span_count(), 2, "rejected: {:?}", fake.rejected());
    let req = &fake.received()[0];
    let trace_id = hex::encode(&req.resource_spans[0].scope_spans[0].spans[0].trace_id);
    let xray = format!("1-{}-{}", &trace_id[..8], &trace_id[8..]);
    assert!(
        run.stdout.contains(&xray),
        "prints the X-Ray trace id {xray}: {}",
        run.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_test_span_with_a_wrong_secret_fails_with_the_reason() {
    let fake = FakeOtlpEndpoint::start(OtlpEndpointOptions::xray_traces("us-east-1"))
        .await
        .unwrap();
    let mut env = signing_env(&fake.traces_url());
    env.retain(|(k, _)| *k != "AWS_SECRET_ACCESS_KEY");
    env.push(("AWS_SECRET_ACCESS_KEY", "not-the-secret".into()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let run = otel_aws(&env, &["send-test-span"]).await;
    assert_ne!(run.code, 0);
    assert!(
        run.stderr.contains("403"),
        "reason names the rejection: {} / {}",
        run.stdout,
        run.stderr
    );
    assert_eq!(fake.span_count(), 0);
    assert_eq!(fake.requests().len(), 1, "a 403 is not retried");
}

async fn doctor(destination: &str) -> (Run, FakeXrayApi) {
    let otlp = FakeOtlpEndpoint::start(OtlpEndpointOptions::xray_traces("us-east-1"))
        .await
        .unwrap();
    let api = FakeXrayApi::start(XrayApiOptions {
        segment_destination: destination.to_string(),
        ..XrayApiOptions::signed("us-east-1")
    })
    .await
    .unwrap();
    let c = Credentials::test();
    let url = api.url();
    let run = otel_aws(
        &[
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", &c.access_key_id),
            ("AWS_SECRET_ACCESS_KEY", &c.secret_access_key),
            ("AWS_ENDPOINT_URL_XRAY", &url),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", &otlp.traces_url()),
            ("OTEL_AWS_RESOURCE_DETECTORS", "env"),
        ],
        &["doctor", "--json"],
    )
    .await;
    (run, api)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_recommends_the_segment_path_without_transaction_search() {
    let (run, api) = doctor("XRay").await;
    let got: Value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("{e}: {} {}", run.stdout, run.stderr));
    assert_eq!(got["ok"], true, "{got}");
    let dest = got["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "trace destination")
        .unwrap();
    assert!(
        dest["detail"].as_str().unwrap().starts_with("XRay"),
        "{dest}"
    );
    assert!(
        got["recommendation"]
            .as_str()
            .unwrap()
            .contains("segment path"),
        "{got}"
    );
    let creds = got["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "credentials")
        .unwrap();
    assert!(
        !creds["detail"].as_str().unwrap().contains("wJalrXUtnFEMI"),
        "never prints secrets"
    );
    assert!(
        api.rejected().is_empty(),
        "the X-Ray call was SigV4-verified: {:?}",
        api.rejected()
    );
    assert!(
        api.requests()
            .iter()
            .any(|r| r.path_and_query.contains("GetTraceSegmentDestination"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_confirms_otlp_with_transaction_search() {
    let (run, _api) = doctor("CloudWatchLogs").await;
    assert_eq!(run.code, 0, "{} {}", run.stdout, run.stderr);
    let got: Value = serde_json::from_str(&run.stdout).unwrap();
    assert!(
        got["recommendation"]
            .as_str()
            .unwrap()
            .contains("Transaction Search is on"),
        "{got}"
    );
}
