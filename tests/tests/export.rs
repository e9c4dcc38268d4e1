//! End-to-end: the distro's OTLP/HTTP exporter against the fake AWS OTLP
//! endpoint (independent SigV4 verifier), through real loopback sockets.

// Test code: a failed unwrap is a failed test (clippy.toml allows it only
// inside #[test] functions, not in the helpers).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_credential_types::provider::SharedCredentialsProvider;
use aws_smithy_async::rt::sleep::{AsyncSleep, SharedAsyncSleep, Sleep};
use aws_smithy_async::time::{SharedTimeSource, TimeSource};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use otel_aws_distro::export::{
    BatchExporter, BatchSettings, Compression, EncodedTraces, ExportError, Limits, OtlpHttpConfig,
    OtlpHttpExporter, ProtoSpanExporter, Protocol, RetryPolicy, Signing, batch_processor,
};
use otel_aws_testkit::otlp::{FakeOtlpEndpoint, FakeResponse, OtlpEndpointOptions};
use otel_aws_testkit::sigv4::Credentials;

#[path = "export/batches.rs"]
mod batches;
#[path = "export/retries.rs"]
mod retries;
#[path = "export/signing.rs"]
mod signing;

// ---------------------------------------------------------------- helpers

fn aws_creds(c: &Credentials) -> SharedCredentialsProvider {
    SharedCredentialsProvider::new(aws_credential_types::Credentials::new(
        c.access_key_id.clone(),
        c.secret_access_key.clone(),
        c.session_token.clone(),
        None,
        "e2e",
    ))
}

fn xray_signing() -> Signing {
    Signing::Force {
        service: Some("xray".into()),
        region: Some("us-east-1".into()),
    }
}

fn config(fake: &FakeOtlpEndpoint) -> OtlpHttpConfig {
    OtlpHttpConfig {
        signing: xray_signing(),
        timeout: Duration::from_secs(5),
        ..OtlpHttpConfig::new(fake.traces_url())
    }
}

async fn xray_fake() -> FakeOtlpEndpoint {
    FakeOtlpEndpoint::start(OtlpEndpointOptions::xray_traces("us-east-1"))
        .await
        .unwrap()
}

fn kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.into())),
        }),
        ..Default::default()
    }
}

/// `n` spans under one resource, each with a `payload` of `attr_len` bytes.
fn batch(service: &str, n: usize, attr_len: usize) -> ExportTraceServiceRequest {
    let spans = (0..n)
        .map(|i| Span {
            trace_id: [[0x5b; 8], (i as u64).to_be_bytes()].concat(),
            span_id: (i as u64 + 1).to_be_bytes().to_vec(),
            name: format!("op-{i}"),
            kind: 2,
            start_time_unix_nano: 1_700_000_000_000_000_000,
            end_time_unix_nano: 1_700_000_000_100_000_000,
            attributes: vec![kv("payload", &"p".repeat(attr_len))],
            ..Default::default()
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![kv("service.name", service)],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn span_names(reqs: &[ExportTraceServiceRequest]) -> Vec<String> {
    reqs.iter()
        .flat_map(|r| &r.resource_spans)
        .flat_map(|rs| &rs.scope_spans)
        .flat_map(|ss| &ss.spans)
        .map(|s| s.name.clone())
        .collect()
}

/// A clock near real time (the fake checks skew) that moves 1 s per reading,
/// so every signature has its own `x-amz-date`; sleeping is instant and
/// recorded.
#[derive(Clone, Debug)]
struct TestClock {
    start: SystemTime,
    ticks: Arc<AtomicU64>,
    sleeps: Arc<Mutex<Vec<Duration>>>,
}

impl TestClock {
    fn new() -> Self {
        Self {
            start: SystemTime::now() - Duration::from_secs(60),
            ticks: Arc::default(),
            sleeps: Arc::default(),
        }
    }
    fn sleeps(&self) -> Vec<Duration> {
        self.sleeps.lock().unwrap().clone()
    }
    fn install(&self, e: OtlpHttpExporter) -> OtlpHttpExporter {
        e.with_time_source(SharedTimeSource::new(self.clone()))
            .with_sleep(SharedAsyncSleep::new(self.clone()))
    }
}

impl TimeSource for TestClock {
    fn now(&self) -> SystemTime {
        self.start + Duration::from_secs(self.ticks.fetch_add(1, Ordering::SeqCst))
    }
}

impl AsyncSleep for TestClock {
    fn sleep(&self, duration: Duration) -> Sleep {
        self.sleeps.lock().unwrap().push(duration);
        Sleep::new(std::future::ready(()))
    }
}

fn header(req: &otel_aws_testkit::server::RecordedRequest, name: &str) -> Option<String> {
    req.headers
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
}
