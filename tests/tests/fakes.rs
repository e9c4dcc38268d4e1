//! Tests of the fakes themselves: the SigV4 verifier against botocore's
//! known-answer vectors, the OTLP endpoint and the X-Ray API fake.

// Test code: a failed unwrap is a failed test (clippy.toml allows it only
// inside `#[test]` functions, not in the shared helpers).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "fakes/otlp_endpoint.rs"]
mod otlp_endpoint;
#[path = "fakes/sigv4_vectors.rs"]
mod sigv4_vectors;
#[path = "fakes/xray_api.rs"]
mod xray_api;

use std::time::{Duration, SystemTime};

use http::{HeaderMap, HeaderName, HeaderValue, Method};
use otel_aws_testkit::sigv4::{self, SigV4Expect};

// ----------------------------------------------------------- HTTP helpers --

/// Sends `body` to `base` + `path`, signed with `signer` when given.
pub(crate) async fn send(
    base: &str,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
    signer: Option<&SigV4Expect>,
    timeout: Option<Duration>,
) -> reqwest::Result<reqwest::Response> {
    let mut map = HeaderMap::new();
    map.insert(
        "host",
        HeaderValue::from_str(base.trim_start_matches("http://")).unwrap(),
    );
    for (k, v) in headers {
        map.append(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    if let Some(signer) = signer {
        sigv4::sign(&method, path, &mut map, &body, signer, SystemTime::now()).unwrap();
    }
    let mut builder = reqwest::Client::builder();
    if let Some(t) = timeout {
        builder = builder.timeout(t);
    }
    builder
        .build()
        .unwrap()
        .request(method, format!("{base}{path}"))
        .headers(map)
        .body(body)
        .send()
        .await
}

/// A header as `(name, value)`.
pub(crate) type Header = (&'static str, &'static str);

pub(crate) const PROTOBUF: Header = ("content-type", "application/x-protobuf");
pub(crate) const JSON: Header = ("content-type", "application/json");
pub(crate) const GZIP: Header = ("content-encoding", "gzip");
