//! A legacy caller in front of a function traced through the layer
//! (`spec/xray.md`, "Legacy SDK quirks a mixed fleet meets"): the Lambda
//! simulator hands the function (`lambda_runtime` + the wrapper) and the
//! extension (platform spans on) trace headers written by the real Python
//! aws-xray-sdk:
//!
//! * a sampled caller's header: the function's spans continue that trace,
//!   parented on the caller's subsegment;
//! * the SDK's placeholder for an unsampled request (default settings):
//!   nothing is recorded for that invoke, neither by the function nor by the
//!   extension.
//!
//! Python: `OTEL_AWS_TEST_PYTHON` (the Makefile sets it), else the
//! workspace's `.tools/venv/bin/python3`; without one the test is skipped
//! with a message, except under `CI=true` (or with `OTEL_AWS_TEST_PYTHON`
//! set), where it fails. `make test-deps` installs aws-xray-sdk (pinned).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers

use otel_aws_testkit::tooling::{self, Need};
use std::collections::HashSet;
use std::process::Command;

use opentelemetry_proto::tonic::common::v1::any_value;
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use otel_aws_testkit::lambda_sim::{InvokeSpec, Simulator};
use otel_aws_testkit::otlp::{FakeOtlpEndpoint, OtlpEndpointOptions};
use serde_json::Value;

mod common;
use common::{LayerDir, assert_all_succeeded};

const INSTALL_HINT: &str = "run `make test-deps` (installs aws-xray-sdk into .tools/venv) or set \
    OTEL_AWS_TEST_PYTHON to a Python that has it";

/// A legacy caller on aws-xray-sdk: one sampled segment with a subsegment
/// per downstream call, and one unsampled request; prints the
/// `X-Amzn-Trace-Id` the SDK injects for each call. Nothing is emitted
/// (the entities are cleared, not ended).
const CALLER: &str = r#"
import json
from aws_xray_sdk.core import xray_recorder
from aws_xray_sdk.ext.util import inject_trace_header

def call(name):
    sub = xray_recorder.begin_subsegment(name)
    headers = {}
    inject_trace_header(headers, sub)
    xray_recorder.end_subsegment()
    return {"header": headers["X-Amzn-Trace-Id"], "parent": sub.id}

seg = xray_recorder.begin_segment("legacy-caller", sampling=1)
sampled = [call("invoke-1"), call("invoke-3")]
trace_id = seg.trace_id
xray_recorder.clear_trace_entities()
xray_recorder.begin_segment("legacy-caller", sampling=0)
unsampled = call("invoke-2")
xray_recorder.clear_trace_entities()
print(json.dumps({"trace_id": trace_id, "sampled": sampled, "unsampled": unsampled}))
"#;

/// The caller's output, or `None` (skip) when no Python is configured outside CI.
fn legacy_caller() -> Option<Value> {
    let python = tooling::python(
        "legacy_caller",
        "import aws_xray_sdk",
        INSTALL_HINT,
        Need::SkipOutsideCi,
    )?;
    // A UDP port nobody reads, in case the SDK emits anything.
    let sink = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let out = Command::new(&python)
        .args(["-c", CALLER])
        .env(
            "AWS_XRAY_DAEMON_ADDRESS",
            sink.local_addr().unwrap().to_string(),
        )
        .env_remove("AWS_XRAY_NOOP_ID")
        .env_remove("AWS_XRAY_TRACING_NAME")
        .output();
    let out = out.unwrap();
    assert!(
        out.status.success(),
        "{} cannot run the aws-xray-sdk caller ({}): {INSTALL_HINT}",
        python.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    Some(serde_json::from_slice(&out.stdout).unwrap())
}

fn invocation_id(span: &Span) -> Option<&str> {
    span.attributes
        .iter()
        .find(|kv| kv.key == "faas.invocation_id")
        .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
            any_value::Value::StringValue(s) => Some(s.as_str()),
            _ => None,
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_callers_header_continues_into_the_function_and_its_placeholder_records_nothing() {
    let Some(caller) = legacy_caller() else {
        return;
    };
    let header = |v: &Value| v["header"].as_str().unwrap().to_owned();
    let placeholder = header(&caller["unsampled"]);
    // The SDK's default: all-zero ids, Sampled=0 (the spec's Decision is about this value).
    assert_eq!(
        placeholder,
        "Root=1-00000000-000000000000000000000000;Parent=0000000000000000;Sampled=0"
    );
    let trace_id = caller["trace_id"].as_str().unwrap().replace('-', "")[1..].to_owned();

    let fake = FakeOtlpEndpoint::start(OtlpEndpointOptions::xray_traces("us-east-1"))
        .await
        .unwrap();
    let layer = LayerDir::new("legacy-caller");
    let invoke = |trace_header: String| {
        let mut spec = InvokeSpec::json(&serde_json::json!({"spans": 2}));
        spec.trace_header = Some(trace_header);
        spec
    };
    let mut cfg = layer
        .sim_config([env!("CARGO_BIN_EXE_otel-aws-test-function")])
        .with_env("OTEL_AWS_LAMBDA_EXPORTER_ENDPOINT", fake.traces_url())
        .with_env("OTEL_AWS_SIGV4", "true") // a 127.0.0.1 fake is not an AWS host: force signing
        .with_env("OTEL_AWS_LAMBDA_PLATFORM_SPANS", "true");
    cfg.invokes = vec![
        invoke(header(&caller["sampled"][0])),
        invoke(placeholder.clone()),
        invoke(header(&caller["sampled"][1])),
    ];
    // The run ends with SHUTDOWN: the extension has exported everything.
    let report = Simulator::run(cfg).await.unwrap();
    assert_all_succeeded(&report, 3);
    assert_eq!(report.invokes[1].trace_header, placeholder);

    let spans: Vec<Span> = fake
        .received()
        .into_iter()
        .flat_map(|r| r.resource_spans)
        .flat_map(|rs| rs.scope_spans)
        .flat_map(|ss| ss.spans)
        .collect();
    // Every span belongs to the legacy caller's trace: nothing for the placeholder.
    let traces: HashSet<String> = spans.iter().map(|s| hex::encode(&s.trace_id)).collect();
    assert_eq!(traces, HashSet::from([trace_id.clone()]), "{spans:#?}");
    assert!(
        spans
            .iter()
            .all(|s| invocation_id(s) != Some(report.invokes[1].request_id.as_str())),
        "the placeholder invoke recorded something: {spans:#?}"
    );
    let ids: HashSet<&[u8]> = spans.iter().map(|s| s.span_id.as_slice()).collect();
    assert_eq!(ids.len(), spans.len(), "no duplicates");

    // Sampled invokes: the function's SERVER span is a child of the caller's
    // subsegment, its two spans children of it.
    for (inv, call) in [(&report.invokes[0], 0), (&report.invokes[2], 1)] {
        let parent = caller["sampled"][call]["parent"].as_str().unwrap();
        let server: Vec<&Span> = spans
            .iter()
            .filter(|s| {
                s.kind == SpanKind::Server as i32
                    && invocation_id(s) == Some(inv.request_id.as_str())
                    && hex::encode(&s.parent_span_id) == parent
            })
            .collect();
        assert!(
            !server.is_empty(),
            "no SERVER span under {parent}: {spans:#?}"
        );
        let children = spans
            .iter()
            .filter(|s| server.iter().any(|p| p.span_id == s.parent_span_id))
            .count();
        assert!(
            children >= 2,
            "{children} children for {}: {spans:#?}",
            inv.request_id
        );
    }
}
