//! The services of the mixed-fleet test: Python and Node.js processes
//! (legacy aws-xray-sdk, OpenTelemetry Python and JS; scripts beside this
//! file) and a Rust service on the distro, in-process.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::get;
use opentelemetry::propagation::TextMapCompositePropagator;
use opentelemetry::trace::{SpanKind, TraceContextExt, Tracer as _, TracerProvider as _};
use opentelemetry::{Array, KeyValue, StringValue, Value};
use opentelemetry_sdk::trace::SdkTracer;
use otel_aws_distro::propagation::{
    PropagatorKind, build_propagator, extract_from_map, inject_into_map,
};
use otel_aws_distro::{Builder, Env, Guard};
use otel_aws_testkit::tooling::{self, Need};
use serde_json::Value as Json;

/// Modules the Python services import (pinned in the Makefile's `test-deps`).
const MODULES: &str = "import aws_xray_sdk, flask, requests, opentelemetry.sdk, \
    opentelemetry.exporter.otlp.proto.http.trace_exporter, opentelemetry.propagators.aws";
const INSTALL_HINT: &str = "run `make test-deps` (installs aws-xray-sdk, Flask and the \
    OpenTelemetry Python SDK into .tools/venv) or set OTEL_AWS_TEST_PYTHON to a Python that has them";
/// How long a service may take to print its port (a loaded 2-core machine).
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Packages the Node.js service needs (`lambda-layer/tests/node/package-lock.json`).
const NODE_MODULES: [&str; 5] = [
    "@opentelemetry/api",
    "@opentelemetry/sdk-trace-node",
    "@opentelemetry/exporter-trace-otlp-proto",
    "@opentelemetry/resources",
    "@opentelemetry/propagator-aws-xray",
];
const NODE_HINT: &str = "run `make test-deps` (installs lambda-layer/tests/node/package-lock.json \
    into .tools/node-e2e) or set OTEL_AWS_TEST_NODE_MODULES to a node_modules that has it";

/// The interpreter to use, or `None` (skip, with a message) when none is
/// configured outside CI. With `CI=true` or `OTEL_AWS_TEST_PYTHON` set, a
/// missing interpreter or package fails the test.
pub fn python() -> Option<PathBuf> {
    tooling::python("mixed_fleet", MODULES, INSTALL_HINT, Need::SkipOutsideCi)
}

/// The `node_modules` folder for the Node.js service, or `None` (skip,
/// with a message) outside CI when `node` or a package is missing.
pub fn node_modules() -> Option<PathBuf> {
    tooling::node_modules("mixed_fleet", &NODE_MODULES, NODE_HINT, Need::SkipOutsideCi)
}

/// A service process (Python or Node.js), killed on drop.
pub struct Service {
    pub name: String,
    child: Child,
    port: mpsc::Receiver<u16>,
}

impl Service {
    /// Starts `program script` (a file beside this one) with `env`;
    /// inherited `OTEL_*` and `AWS_*` variables are removed so only `env`
    /// configures it.
    pub fn spawn(program: &Path, script: &str, name: &str, env: &[(&str, String)]) -> Self {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/mixed_fleet")
            .join(script);
        let mut cmd = Command::new(program);
        cmd.arg(&path)
            .env("PYTHONDONTWRITEBYTECODE", "1") // no __pycache__ left in the repository
            .env("PYTHONUNBUFFERED", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, _) in std::env::vars_os() {
            let k = k.to_string_lossy();
            if k.starts_with("OTEL_") || k.starts_with("AWS_") {
                cmd.env_remove(&*k);
            }
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", path.display()));
        let stdout = child.stdout.take().unwrap();
        let (tx, port) = mpsc::channel();
        std::thread::spawn(move || {
            // The first `PORT <n>` line, then drain so the child never blocks.
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(p) = line.strip_prefix("PORT ") {
                    let _ = tx.send(p.trim().parse().unwrap());
                }
            }
        });
        Self {
            name: name.to_owned(),
            child,
            port,
        }
    }

    /// Waits for the service to listen; its base URL.
    pub fn url(&self) -> String {
        match self.port.recv_timeout(START_TIMEOUT) {
            Ok(port) => format!("http://127.0.0.1:{port}/"),
            Err(e) => panic!("{} did not print its port ({e}); see its stderr", self.name),
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A GET with `X-Amzn-Trace-Id: trace_header` (if any) and the rest of the
/// chain; the JSON answer.
pub async fn call(url: &str, trace_header: Option<&str>, chain: &[&str]) -> Json {
    let mut req = reqwest::Client::new()
        .get(url)
        .header("X-Fleet-Chain", chain.join(","));
    if let Some(h) = trace_header {
        req = req.header("X-Amzn-Trace-Id", h);
    }
    let resp = req.timeout(Duration::from_secs(60)).send().await.unwrap();
    assert_eq!(resp.status(), 200, "{url}");
    serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap()
}

/// The Rust service: `otel_aws_distro` configured from its environment
/// (default sampler and propagators), OTLP/HTTP to `traces_url`.
pub struct RustService {
    pub url: String,
}

struct RustState {
    tracer: SdkTracer,
    propagator: TextMapCompositePropagator,
    client: reqwest::Client,
    guard: Arc<Guard>,
}

impl RustService {
    pub async fn start(traces_url: &str) -> Self {
        let env = Env::from_pairs([
            ("OTEL_SERVICE_NAME", "fleet-rust"),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", traces_url),
            ("OTEL_AWS_RESOURCE_DETECTORS", "env"),
        ]);
        let guard = Builder::new()
            .with_env(env)
            .without_globals()
            .install()
            .await
            .unwrap();
        let guard = Arc::new(guard);
        let tracer = guard.tracer_provider().unwrap().tracer("mixed-fleet");
        let state = Arc::new(RustState {
            tracer,
            propagator: build_propagator(&PropagatorKind::DEFAULT, None),
            client: reqwest::Client::new(),
            guard,
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let app = Router::new().route("/", get(handle)).with_state(state);
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            url: format!("http://{addr}/"),
        }
    }
}

async fn handle(State(s): State<Arc<RustState>>, headers: HeaderMap) -> axum::Json<Json> {
    let carrier: HashMap<String, String> = headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect();
    let received = carrier.get("x-amzn-trace-id").cloned();
    let chain: Vec<String> = carrier
        .get("x-fleet-chain")
        .map(|c| {
            c.split(',')
                .filter(|u| !u.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let parent = extract_from_map(&s.propagator, &carrier);
    let annotations = Value::Array(Array::String(vec![StringValue::from("order.id")]));
    let server = s
        .tracer
        .span_builder("GET /")
        .with_kind(SpanKind::Server)
        .with_attributes([
            KeyValue::new("http.request.method", "GET"),
            KeyValue::new("url.path", "/"),
            KeyValue::new("order.id", "o-42"),
            KeyValue::new("aws.xray.annotations", annotations),
            KeyValue::new("cart.items", 3),
        ])
        .start_with_context(&s.tracer, &parent);
    let cx = parent.with_span(server);
    let mut downstream = Json::Null;
    if let Some((next, rest)) = chain.split_first() {
        let client = s
            .tracer
            .span_builder("GET downstream")
            .with_kind(SpanKind::Client)
            .with_attributes([
                KeyValue::new("http.request.method", "GET"),
                KeyValue::new("url.full", next.clone()),
            ])
            .start_with_context(&s.tracer, &cx);
        let ccx = cx.with_span(client);
        let mut out = HashMap::new();
        inject_into_map(&ccx, &s.propagator, &mut out);
        let mut req = s.client.get(next).header("X-Fleet-Chain", rest.join(","));
        for (k, v) in &out {
            req = req.header(k, v);
        }
        let resp = req.send().await.unwrap();
        ccx.span().set_attribute(KeyValue::new(
            "http.response.status_code",
            i64::from(resp.status().as_u16()),
        ));
        downstream = serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap();
        ccx.span().end();
    }
    cx.span().end();
    // Exported before answering, like the Python services.
    s.guard.force_flush().await.unwrap();
    axum::Json(serde_json::json!({
        "service": "fleet-rust",
        "received": received,
        "downstream": downstream,
    }))
}
