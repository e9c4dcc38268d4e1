//! The extension's `xray` exporter end to end in the Lambda simulator: the
//! test function (`lambda_runtime` + the wrapper) sends its spans to the
//! extension, which sends X-Ray segment documents with `PutTraceSegments` to
//! the testkit's fake X-Ray API (SigV4 verified independently), reached
//! through `AWS_ENDPOINT_URL_XRAY`. Expectations come from the invoke's
//! `Lambda-Runtime-Trace-Id` header and the X-Ray spec (docs/shared spec
//! xray.md: SERVER → segment named after `service.name`, other spans with a
//! parent → subsegments), not from the exporter's own output.

#![cfg(feature = "xray")] // the exporter is behind the `xray` feature
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use otel_aws_distro::Env as DistroEnv;
use otel_aws_distro::config::ExporterKind;
use otel_aws_distro::export::ExportConfigError;
use otel_aws_lambda::config::{ExtensionConfig, LambdaConfigError};
use otel_aws_lambda::extension::build_exporters;
use otel_aws_testkit::lambda_sim::{InvokeSpec, SimConfig, Simulator};
use otel_aws_testkit::xray_api::{FakeXrayApi, XrayApiOptions};
use serde_json::Value;

mod common;
use common::{LayerDir, assert_all_succeeded};

static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const SERVICE: &str = "checkout-fn";

/// A layer directory holding the extension, removed on drop.
struct Layer(LayerDir);

impl Layer {
    fn new(name: &str) -> Self {
        Self(LayerDir::new(&format!("xray-{name}")))
    }

    /// The simulator running the test function with the extension, which
    /// reaches X-Ray at `fake` (no OTLP upstream configured at all).
    fn config(&self, fake: &FakeXrayApi, invokes: Vec<InvokeSpec>) -> SimConfig {
        let mut cfg = self
            .0
            .sim_config([env!("CARGO_BIN_EXE_otel-aws-test-function")])
            .with_env("AWS_ENDPOINT_URL_XRAY", fake.url())
            .with_env("OTEL_SERVICE_NAME", SERVICE)
            .with_env("OTEL_AWS_LAMBDA_FLUSH", "end");
        cfg.region = "us-east-1".into();
        cfg.invokes = invokes;
        cfg
    }
}

fn events(n: usize, children: usize) -> Vec<InvokeSpec> {
    (0..n)
        .map(|_| InvokeSpec::json(&serde_json::json!({ "spans": children })))
        .collect()
}

/// `(Root, Parent)` of a `Root=1-…;Parent=…;Sampled=1` header.
fn root_and_parent(header: &str) -> (String, String) {
    let field = |k: &str| {
        header
            .split(';')
            .find_map(|p| p.strip_prefix(k))
            .unwrap()
            .to_string()
    };
    (field("Root="), field("Parent="))
}

/// Segment documents per X-Ray trace id.
fn by_trace(docs: &[Value]) -> HashMap<String, Vec<Value>> {
    let mut out: HashMap<String, Vec<Value>> = HashMap::new();
    for d in docs {
        out.entry(d["trace_id"].as_str().unwrap_or("").to_string())
            .or_default()
            .push(d.clone());
    }
    out
}

/// Checks one invoke's documents: a segment continuing the invoke's trace
/// header (trace id = Root, parent = Parent, named after the service) and
/// `children` subsegments named `child` under it.
fn check_invoke(docs: &[Value], header: &str, children: usize) {
    let (root, parent) = root_and_parent(header);
    let segments: Vec<&Value> = docs.iter().filter(|d| d.get("type").is_none()).collect();
    assert_eq!(segments.len(), 1, "one segment per invoke: {docs:?}");
    let seg = segments[0];
    assert_eq!(seg["trace_id"].as_str(), Some(root.as_str()));
    assert_eq!(seg["parent_id"].as_str(), Some(parent.as_str()), "{seg}");
    assert_eq!(seg["name"].as_str(), Some(SERVICE), "{seg}");
    assert_eq!(seg["origin"].as_str(), Some("AWS::Lambda::Function"));
    let id = seg["id"].as_str().unwrap();
    assert_eq!(id.len(), 16);
    let subs: Vec<&Value> = docs
        .iter()
        .filter(|d| d["type"].as_str() == Some("subsegment"))
        .collect();
    assert_eq!(subs.len(), children, "{docs:?}");
    for s in subs {
        assert_eq!(s["parent_id"].as_str(), Some(id), "{s}");
        assert_eq!(s["name"].as_str(), Some("child"), "{s}");
        assert_eq!(s["trace_id"].as_str(), Some(root.as_str()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_invokes_segments_arrive_before_it_freezes() {
    let _serial = SERIAL.lock().await;
    let fake = Arc::new(
        FakeXrayApi::start(XrayApiOptions::signed("us-east-1"))
            .await
            .unwrap(),
    );
    let layer = Layer::new("freeze");
    const N: usize = 30;
    const CHILDREN: usize = 3;
    let failures = Arc::new(Mutex::new(Vec::new()));
    let (f, fails) = (fake.clone(), failures.clone());
    let cfg = layer
        .config(&fake, events(N, CHILDREN))
        .with_env("OTEL_AWS_LAMBDA_TRACES_EXPORTER", "xray")
        .on_frozen(move |inv| {
            // Every process is stopped: what has not arrived now is at risk.
            let (root, _) = root_and_parent(&inv.trace_header);
            let got = by_trace(&f.segments()).get(&root).map_or(0, Vec::len);
            if got != 1 + CHILDREN {
                fails
                    .lock()
                    .unwrap()
                    .push(format!("invoke {}: {got} documents at freeze", inv.index));
            }
        });
    let report = Simulator::run(cfg).await.unwrap();
    assert_all_succeeded(&report, N);
    assert!(fake.rejected().is_empty(), "SigV4: {:?}", fake.rejected());
    let failures = failures.lock().unwrap();
    assert!(failures.is_empty(), "{failures:?}");
    let docs = fake.segments();
    assert_eq!(docs.len(), N * (1 + CHILDREN), "none lost, none twice");
    let traces = by_trace(&docs);
    assert_eq!(traces.len(), N);
    for inv in &report.invokes {
        let (root, _) = root_and_parent(&inv.trace_header);
        check_invoke(&traces[&root], &inv.trace_header, CHILDREN);
    }
    let calls = fake
        .requests()
        .into_iter()
        .filter(|r| r.path_and_query == "/TraceSegments")
        .count();
    assert!(calls >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otel_traces_exporter_xray_is_honoured() {
    let _serial = SERIAL.lock().await;
    let fake = FakeXrayApi::start(XrayApiOptions::signed("us-east-1"))
        .await
        .unwrap();
    let layer = Layer::new("otel-var");
    const N: usize = 3;
    let cfg = layer
        .config(&fake, events(N, 1))
        .with_env("OTEL_TRACES_EXPORTER", "xray");
    let report = Simulator::run(cfg).await.unwrap();
    assert_all_succeeded(&report, N);
    assert!(fake.rejected().is_empty(), "SigV4: {:?}", fake.rejected());
    let traces = by_trace(&fake.segments());
    assert_eq!(traces.len(), N);
    for inv in &report.invokes {
        let (root, _) = root_and_parent(&inv.trace_header);
        check_invoke(&traces[&root], &inv.trace_header, 1);
    }
}

type Pairs<'a> = &'a [(&'a str, &'a str)];

fn env(pairs: &[(&str, &str)]) -> DistroEnv {
    DistroEnv::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
}

#[test]
fn exporter_lists_accept_xray() {
    use ExporterKind::*;
    let region = ("AWS_REGION", "eu-west-1");
    let cases: &[(Pairs, Vec<ExporterKind>)] = &[
        (
            &[region, ("OTEL_AWS_LAMBDA_TRACES_EXPORTER", "xray")],
            vec![Xray],
        ),
        (
            &[
                region,
                ("OTEL_AWS_LAMBDA_TRACES_EXPORTER", " XRay , console,xray"),
            ],
            vec![Xray, Console],
        ),
        (
            &[region, ("OTEL_AWS_LAMBDA_TRACES_EXPORTER", "otlp,xray")],
            vec![Otlp, Xray],
        ),
        (&[region, ("OTEL_TRACES_EXPORTER", "xray")], vec![Xray]),
        (
            // The extension's own variable wins over the shared one.
            &[
                region,
                ("OTEL_TRACES_EXPORTER", "xray"),
                ("OTEL_AWS_LAMBDA_TRACES_EXPORTER", "console"),
            ],
            vec![Console],
        ),
    ];
    for (pairs, want) in cases {
        let cfg = ExtensionConfig::from_env(&env(pairs)).unwrap();
        assert_eq!(&cfg.export.exporters.value, want, "{pairs:?}");
    }
}

#[test]
fn xray_without_a_region_is_a_startup_error() {
    let err = ExtensionConfig::from_env(&env(&[("OTEL_AWS_LAMBDA_TRACES_EXPORTER", "xray")]))
        .unwrap_err();
    assert!(matches!(err, LambdaConfigError::NoXrayRegion), "{err:?}");
    assert!(err.to_string().contains("AWS_REGION"), "{err}");
}

#[test]
fn xray_needs_the_environment_credentials() {
    let e = env(&[
        ("AWS_REGION", "eu-west-1"),
        ("OTEL_AWS_LAMBDA_TRACES_EXPORTER", "xray"),
    ]);
    let cfg = ExtensionConfig::from_env(&e).unwrap();
    let err = build_exporters(&cfg.export, &e, None).unwrap_err();
    assert!(
        matches!(err, ExportConfigError::MissingCredentials { .. }),
        "{err:?}"
    );
    let e = e
        .with("AWS_ACCESS_KEY_ID", "AKID")
        .with("AWS_SECRET_ACCESS_KEY", "secret");
    let creds = otel_aws_lambda::extension::env_credentials(&e);
    let built = build_exporters(&cfg.export, &e, creds).unwrap();
    assert_eq!(built.len(), 1);
}

#[test]
fn a_bad_xray_endpoint_is_refused() {
    let e = env(&[
        ("AWS_REGION", "eu-west-1"),
        ("OTEL_AWS_LAMBDA_TRACES_EXPORTER", "xray"),
        ("AWS_ENDPOINT_URL_XRAY", "127.0.0.1:9"),
        ("AWS_ACCESS_KEY_ID", "AKID"),
        ("AWS_SECRET_ACCESS_KEY", "secret"),
    ]);
    let cfg = ExtensionConfig::from_env(&e).unwrap();
    let creds = otel_aws_lambda::extension::env_credentials(&e);
    let err = build_exporters(&cfg.export, &e, creds).unwrap_err();
    assert!(
        matches!(err, ExportConfigError::InvalidApiEndpoint { .. }),
        "{err:?}"
    );
    // Names the API and the variable that sets it, not an OTLP endpoint.
    let text = err.to_string();
    assert!(
        text.contains("X-Ray endpoint") && text.contains("AWS_ENDPOINT_URL_XRAY"),
        "{text}"
    );
    assert!(!text.contains("OTLP"), "{text}");
}
