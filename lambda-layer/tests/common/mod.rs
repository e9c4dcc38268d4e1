//! Set-up shared by the simulator end-to-end tests (each test file is its
//! own crate and includes this module; not every file uses every item).

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)] // test helpers

use std::path::{Path, PathBuf};

use otel_aws_testkit::lambda_sim::{SimConfig, SimCredentials, SimReport};
use otel_aws_testkit::sigv4::Credentials;

/// `127.0.0.1:<a free port>`, outside the kernel's ephemeral range (see
/// `otel_aws_testkit::ports`).
pub use otel_aws_testkit::ports::free_addr;

/// A temporary folder holding a layer with the extension (symlinked from
/// the build), removed on drop.
pub struct LayerDir {
    dir: PathBuf,
}

impl LayerDir {
    /// A fresh `<tmp>/otel-aws-<tag>-<pid>/layer/extensions/otel-aws-extension`.
    pub fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("otel-aws-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("layer/extensions")).unwrap();
        std::os::unix::fs::symlink(
            env!("CARGO_BIN_EXE_otel-aws-extension"),
            dir.join("layer/extensions/otel-aws-extension"),
        )
        .unwrap();
        Self { dir }
    }

    /// The folder (for files beside the layer, such as a stats file).
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// The simulator running `command` with this layer: the extension's
    /// listeners on free ports, text logs, the testkit's test credentials
    /// (which the fakes verify), output forwarded when `E2E_VERBOSE` is set.
    pub fn sim_config<I, S>(&self, command: I) -> SimConfig
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let creds = Credentials::test();
        let mut cfg = SimConfig::new(command)
            .with_layer(self.dir.join("layer"))
            .with_env("OTEL_AWS_LAMBDA_HTTP_ADDR", free_addr())
            .with_env("OTEL_AWS_LAMBDA_GRPC_ADDR", free_addr())
            .with_env("OTEL_AWS_LAMBDA_CONTROL_ADDR", free_addr())
            .with_env("OTEL_AWS_LAMBDA_TELEMETRY_ADDR", "127.0.0.1:0")
            .with_env("OTEL_AWS_LOG_FORMAT", "text");
        cfg.credentials = SimCredentials {
            access_key_id: creds.access_key_id,
            secret_access_key: creds.secret_access_key,
            session_token: creds.session_token,
        };
        cfg.forward_output = std::env::var_os("E2E_VERBOSE").is_some();
        cfg
    }
}

impl Drop for LayerDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Every one of `n` invokes succeeded without an environment reset, and
/// no process outlived the SHUTDOWN deadline.
pub fn assert_all_succeeded(report: &SimReport, n: usize) {
    assert_eq!(report.invokes.len(), n);
    for inv in &report.invokes {
        assert_eq!(inv.status.as_str(), "success", "{inv:?}");
        assert!(!inv.reset, "environment reset: {inv:?}");
    }
    assert!(
        report.shutdown.timed_out.is_empty(),
        "{:?}",
        report.shutdown
    );
}

/// `Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;...`
/// → (W3C trace id hex, parent span id hex), per `spec/xray.md`.
pub fn parse_trace_header(h: &str) -> (String, String) {
    let field = |k: &str| {
        h.split(';')
            .find_map(|p| p.strip_prefix(k))
            .unwrap()
            .to_string()
    };
    let root = field("Root=");
    let parts: Vec<&str> = root.split('-').collect();
    (format!("{}{}", parts[1], parts[2]), field("Parent="))
}

/// The string value of attribute `key`.
pub fn string_attr<'a>(
    attrs: &'a [opentelemetry_proto::tonic::common::v1::KeyValue],
    key: &str,
) -> Option<&'a str> {
    use opentelemetry_proto::tonic::common::v1::any_value;
    attrs.iter().find(|kv| kv.key == key).and_then(|kv| {
        match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
            Some(any_value::Value::StringValue(s)) => Some(s.as_str()),
            _ => None,
        }
    })
}

/// A sample event of `tests/fixtures/events` (see its README).
pub fn event_fixture(name: &str) -> serde_json::Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/events")
        .join(name);
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

/// The SQS sample event with one record per header, each record's
/// `AWSTraceHeader` set to it and its message id `m-<i>`.
pub fn sqs_event_with_trace_headers(headers: &[&str]) -> serde_json::Value {
    let mut event = event_fixture("example-sqs-event.json");
    let one = event["Records"][0].clone();
    event["Records"] = headers
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let mut r = one.clone();
            r["messageId"] = serde_json::Value::from(format!("m-{i}"));
            r["attributes"]["AWSTraceHeader"] = serde_json::Value::from(*h);
            r
        })
        .collect();
    event
}
