//! Helpers for the end-to-end tests: spans, configs in temp files, the sidecar in-process.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use otel_aws_distro::Env;
use otel_aws_sidecar::config::Config;
use otel_aws_sidecar::{Sidecar, SidecarOptions};

pub fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(Value::StringValue(v.into())),
        }),
        ..KeyValue::default()
    }
}

/// `n` spans of one trace with an X-Ray-shaped trace id (current epoch).
pub fn spans(n: usize, tag: u8) -> ExportTraceServiceRequest {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    let mut trace_id = (now.as_secs() as u32).to_be_bytes().to_vec();
    trace_id.extend([tag; 12]);
    let start = now.as_nanos() as u64 - 1_000_000;
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![kv("service.name", "checkout")],
                ..Resource::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans: (0..n)
                    .map(|i| Span {
                        trace_id: trace_id.clone(),
                        // Unique for any n up to 2^24 (the ids below 255
                        // as they always were).
                        span_id: vec![
                            tag,
                            0,
                            0,
                            0,
                            0,
                            (i >> 16) as u8,
                            (i >> 8) as u8,
                            (i as u8).wrapping_add(1),
                        ],
                        name: format!("op-{tag}-{i}"),
                        kind: 2,
                        start_time_unix_nano: start,
                        end_time_unix_nano: start + 500_000,
                        ..Span::default()
                    })
                    .collect(),
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }],
    }
}

pub fn test_env(extra: &[(&str, String)]) -> Env {
    let mut env = Env::from_pairs([
        ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE".to_owned()),
        (
            "AWS_SECRET_ACCESS_KEY",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".to_owned(),
        ),
        ("AWS_REGION", "us-east-1".to_owned()),
    ]);
    for (k, v) in extra {
        env = env.with(*k, v.clone());
    }
    env
}

/// Writes `yaml` to a fresh temp file and returns its path.
pub fn write_config(yaml: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "otel-aws-sidecar-test-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("config.yaml");
    std::fs::write(&path, yaml).unwrap();
    path
}

/// Loads `yaml` through a temp file (as the binary does) and starts the sidecar.
pub async fn start(yaml: &str, env: Env) -> Sidecar {
    let path = write_config(yaml);
    let (cfg, _) = Config::load(path.to_str().unwrap(), &env).unwrap();
    Sidecar::start(
        &cfg,
        SidecarOptions {
            env,
            stop_timeout: Duration::from_secs(10),
        },
    )
    .await
    .unwrap()
}

pub async fn post_otlp(url: &str, req: &ExportTraceServiceRequest) -> reqwest::Response {
    use prost::Message as _;
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    // One client: building one loads the TLS roots, which is slow.
    CLIENT
        .get_or_init(reqwest::Client::new)
        .post(url)
        .header("content-type", "application/x-protobuf")
        .body(req.encode_to_vec())
        .send()
        .await
        .unwrap()
}

pub fn resource_attr(req: &ExportTraceServiceRequest, key: &str) -> Option<String> {
    req.resource_spans.iter().find_map(|rs| {
        rs.resource
            .as_ref()?
            .attributes
            .iter()
            .find(|a| a.key == key)
            .and_then(|a| match a.value.as_ref()?.value.as_ref()? {
                Value::StringValue(s) => Some(s.clone()),
                _ => None,
            })
    })
}
