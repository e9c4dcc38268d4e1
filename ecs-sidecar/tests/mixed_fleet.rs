//! A mixed fleet, end to end, through the sidecar (`spec/xray.md`, "Legacy
//! SDK quirks a mixed fleet meets"): services on 127.0.0.1 calling each
//! other over HTTP,
//!
//! ```text
//! test ─▶ legacy-a ─▶ fleet-rust ─▶ fleet-otel-python ─▶ fleet-otel-node ─▶ legacy-b
//!         aws-xray-sdk  otel_aws_distro  OpenTelemetry      OpenTelemetry     aws-xray-sdk
//!         (Flask)       (in-process)     Python SDK         JS SDK            (Flask)
//!           │ UDP          │ OTLP/HTTP      │ OTLP/HTTP        │ OTLP/HTTP       │ UDP
//!           └──────────────┴────────────── sidecar ───────────┴─────────────────┘
//!                                            │ PutTraceSegments
//!                                            ▼ FakeXrayApi
//! ```
//!
//! The legacy services run the real Python aws-xray-sdk with its Flask
//! middleware and patched `requests`, at default settings; the migrated
//! Python and Node.js services the unmodified OpenTelemetry SDKs with their
//! reference X-Ray propagators. The Rust service sits right behind the
//! legacy caller because the Decision on the placeholder header is ours:
//! the reference propagators would start a new sampled trace from it.
//!
//! Python: `OTEL_AWS_TEST_PYTHON` (the Makefile sets it), else the
//! workspace's `.tools/venv/bin/python3`; Node.js: `node` on `PATH` with the
//! packages in `OTEL_AWS_TEST_NODE_MODULES`, else `.tools/node-e2e/node_modules`.
//! Without them the test is skipped with a message, except under `CI=true`
//! (or, for Python, with `OTEL_AWS_TEST_PYTHON` set), where it fails.
//! `make test-deps` installs both (pinned).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[path = "mixed_fleet/support.rs"]
mod support;

use std::collections::HashSet;
use std::time::Duration;

use common::{start, test_env};
use opentelemetry_sdk::trace::IdGenerator;
use otel_aws_distro::xray::{XrayIdGenerator, xray_trace_id};
use otel_aws_testkit::xray_api::{FakeXrayApi, XrayApiOptions};
use serde_json::Value;
use support::{RustService, Service, call, node_modules, python};

/// Upper bound on waiting for the sampled trace's documents.
const WAIT: Duration = Duration::from_secs(60);
/// Documents of the sampled request.
const DOCS: usize = 8;
/// aws-xray-sdk's header for a request it does not sample (default settings).
const PLACEHOLDER: &str =
    "Root=1-00000000-000000000000000000000000;Parent=0000000000000000;Sampled=0";

fn config(xray_url: &str) -> String {
    format!(
        "
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:0
  awsxray:
    endpoint: 127.0.0.1:0
    proxy_server:
      endpoint: ''
processors:
  batch:
    timeout: 50ms
    send_batch_size: 50
exporters:
  awsxray:
    region: us-east-1
    endpoint: {xray_url}
service:
  pipelines:
    traces:
      receivers: [otlp, awsxray]
      processors: [batch]
      exporters: [awsxray]
"
    )
}

/// `(Root, Parent, Sampled)` of an `X-Amzn-Trace-Id` value.
fn fields(header: &str) -> (String, String, String) {
    let get = |key: &str| {
        header
            .split(';')
            .find_map(|f| f.trim().strip_prefix(key)?.strip_prefix('='))
            .unwrap_or_else(|| panic!("no {key} in {header:?}"))
            .to_owned()
    };
    (get("Root"), get("Parent"), get("Sampled"))
}

/// The `received` header of each hop: [fleet-rust, fleet-otel-python,
/// fleet-otel-node, legacy-b].
fn received_downstream(answer: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let mut hop = &answer["downstream"];
    while !hop.is_null() {
        out.push(hop["received"].as_str().unwrap_or_default().to_owned());
        hop = &hop["downstream"];
    }
    assert_eq!(out.len(), 4, "{answer}");
    out
}

/// A header value whose `Root` is a valid, non-zero X-Ray trace id.
fn assert_real_ids(header: &str) {
    let (root, parent, _) = fields(header);
    assert!(
        root.len() == 35 && root.starts_with("1-") && root != "1-00000000-000000000000000000000000",
        "{header}"
    );
    assert!(
        parent.len() == 16 && parent != "0000000000000000",
        "{header}"
    );
}

fn by_name<'a>(docs: &'a [Value], name: &str) -> &'a Value {
    let found: Vec<&Value> = docs.iter().filter(|d| d["name"] == name).collect();
    assert_eq!(found.len(), 1, "one {name} segment: {docs:#?}");
    found[0]
}

fn child_of<'a>(docs: &'a [Value], parent: &Value) -> &'a Value {
    let id = parent["id"].as_str().unwrap();
    let found: Vec<&Value> = docs.iter().filter(|d| d["parent_id"] == id).collect();
    assert_eq!(found.len(), 1, "one child of {id}: {docs:#?}");
    found[0]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_fleet_one_trace_and_legacy_do_not_sample_honoured() {
    let Some(python) = python() else { return };
    let Some(modules) = node_modules() else {
        return;
    };
    let xray = FakeXrayApi::start(XrayApiOptions::signed("us-east-1"))
        .await
        .unwrap();
    let sidecar = start(&config(&xray.url()), test_env(&[])).await;
    let udp = sidecar.receiver_addrs("awsxray").unwrap().udp.unwrap();
    let otlp = sidecar.receiver_addrs("otlp").unwrap().http.unwrap();
    let traces_url = format!("http://{otlp}/v1/traces");

    // All Python services start at once (their imports are the slow part).
    let legacy = |name: &str, extra: &[(&str, String)]| {
        let mut env = vec![
            ("AWS_XRAY_TRACING_NAME", name.to_owned()),
            ("AWS_XRAY_DAEMON_ADDRESS", udp.to_string()),
        ];
        env.extend(extra.iter().cloned());
        Service::spawn(&python, "legacy_service.py", name, &env)
    };
    let legacy_a = legacy("legacy-a", &[]);
    let legacy_a_noop_false = legacy("legacy-a-ids", &[("AWS_XRAY_NOOP_ID", "false".into())]);
    let legacy_b = legacy("legacy-b", &[]);
    let otel_python = Service::spawn(
        &python,
        "otel_service.py",
        "fleet-otel-python",
        &[
            ("OTEL_SERVICE_NAME", "fleet-otel-python".into()),
            ("OTEL_PROPAGATORS", "xray".into()),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", traces_url.clone()),
        ],
    );
    let otel_node = Service::spawn(
        std::path::Path::new("node"),
        "otel_service.js",
        "fleet-otel-node",
        &[
            ("OTEL_SERVICE_NAME", "fleet-otel-node".into()),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", traces_url.clone()),
            ("NODE_PATH", modules.display().to_string()),
        ],
    );
    let rust = RustService::start(&traces_url).await;
    let (a, a_ids, b, p, n) = (
        legacy_a.url(),
        legacy_a_noop_false.url(),
        legacy_b.url(),
        otel_python.url(),
        otel_node.url(),
    );
    let chain = [rust.url.as_str(), p.as_str(), n.as_str(), b.as_str()];
    let ids = XrayIdGenerator::default();

    // 1. A legacy caller that does not sample, default SDK settings: it
    //    sends the placeholder; the Rust service starts a new trace, records
    //    nothing and passes Sampled=0 on, which every SDK downstream honours.
    let unsampled_root = xray_trace_id(ids.new_trace_id());
    let answer = call(
        &a,
        Some(&format!("Root={unsampled_root};Sampled=0")),
        &chain,
    )
    .await;
    let [to_rust, to_python, to_node, to_legacy_b] =
        <[String; 4]>::try_from(received_downstream(&answer)).unwrap();
    assert_eq!(
        to_rust, PLACEHOLDER,
        "what aws-xray-sdk sends for an unsampled request"
    );
    assert_real_ids(&to_python);
    let (new_root, _, sampled) = fields(&to_python);
    assert_eq!(sampled, "0", "{to_python}");
    assert_ne!(new_root, unsampled_root);
    for h in [&to_node, &to_legacy_b] {
        let (r, _, s) = fields(h);
        assert_eq!((r.as_str(), s.as_str()), (new_root.as_str(), "0"), "{h}");
    }

    // 2. The same with AWS_XRAY_NOOP_ID=false (real ids, Sampled=0): the
    //    trace id is kept and Sampled=0 followed.
    let answer = call(
        &a_ids,
        Some(&format!("Root={unsampled_root};Sampled=0")),
        &chain,
    )
    .await;
    let hops = received_downstream(&answer);
    for h in &hops {
        assert_real_ids(h);
        assert_eq!(fields(h).2, "0", "{hops:?}");
    }
    let legacy_root = fields(&hops[0]).0;
    assert!(hops.iter().all(|h| fields(h).0 == legacy_root), "{hops:?}");

    // 3. A sampled request through the whole chain.
    let root = xray_trace_id(ids.new_trace_id());
    let answer = call(&a, Some(&format!("Root={root};Sampled=1")), &chain).await;
    let hops = received_downstream(&answer);
    for h in &hops {
        let (r, _, s) = fields(h);
        assert_eq!((r.as_str(), s.as_str()), (root.as_str(), "1"), "{hops:?}");
    }

    // Eight documents: legacy-a (with its `requests` subsegment nested), the
    // SERVER and CLIENT spans of fleet-rust, fleet-otel-python and
    // fleet-otel-node, legacy-b.
    let deadline = tokio::time::Instant::now() + WAIT;
    while xray
        .segments()
        .iter()
        .filter(|d| d["trace_id"] == root.as_str())
        .count()
        < DOCS
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Whatever else was sent has reached the sidecar before these (each
    // service exports before it answers); shutting down flushes it through.
    drop((
        legacy_a,
        legacy_a_noop_false,
        legacy_b,
        otel_python,
        otel_node,
    ));
    assert!(sidecar.shutdown().await);
    let docs = xray.segments();
    assert!(xray.rejected().is_empty(), "{:?}", xray.rejected());

    // Nothing of the unsampled requests anywhere, no duplicates.
    let traces: HashSet<&str> = docs.iter().filter_map(|d| d["trace_id"].as_str()).collect();
    assert_eq!(traces, HashSet::from([root.as_str()]), "{docs:#?}");
    assert_eq!(docs.len(), DOCS, "{docs:#?}");
    let unique: HashSet<&str> = docs.iter().filter_map(|d| d["id"].as_str()).collect();
    assert_eq!(unique.len(), DOCS, "{docs:#?}");

    // Every parent link, across the formats.
    let seg_a = by_name(&docs, "legacy-a");
    assert!(seg_a.get("parent_id").is_none(), "{seg_a}");
    let a_call = &seg_a["subsegments"][0];
    let rust_server = by_name(&docs, "fleet-rust");
    assert_eq!(rust_server["parent_id"], a_call["id"], "{rust_server}");
    assert_eq!(fields(&hops[0]).1, a_call["id"].as_str().unwrap());
    let rust_client = child_of(&docs, rust_server);
    assert_eq!(rust_client["type"], "subsegment");
    let py_server = by_name(&docs, "fleet-otel-python");
    assert_eq!(py_server["parent_id"], rust_client["id"], "{py_server}");
    let py_client = child_of(&docs, py_server);
    assert_eq!(py_client["type"], "subsegment");
    let node_server = by_name(&docs, "fleet-otel-node");
    assert_eq!(node_server["parent_id"], py_client["id"], "{node_server}");
    let node_client = child_of(&docs, node_server);
    assert_eq!(node_client["type"], "subsegment");
    let seg_b = by_name(&docs, "legacy-b");
    assert_eq!(seg_b["parent_id"], node_client["id"], "{seg_b}");

    // Annotations and metadata: legacy documents as the SDK wrote them,
    // OpenTelemetry attributes named in `aws.xray.annotations` as annotations.
    for (seg, name) in [(seg_a, "legacy-a"), (seg_b, "legacy-b")] {
        assert_eq!(seg["annotations"]["fleet_service"], name, "{seg}");
        assert_eq!(seg["annotations"]["order_id"], "o-42", "{seg}");
        assert_eq!(seg["metadata"]["shop"]["cart"]["items"], 3, "{seg}");
    }
    for seg in [rust_server, py_server, node_server] {
        assert_eq!(seg["annotations"]["order_id"], "o-42", "{seg}");
        assert_eq!(seg["metadata"]["default"]["cart.items"], 3, "{seg}");
    }
}
