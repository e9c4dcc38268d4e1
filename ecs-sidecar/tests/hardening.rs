//! Hardening (issue 11): the memory limiter decides on accounted bytes and
//! reopens once they drain, health reports a long refusal, in-progress UDP
//! documents are accounted, the sampling proxy forwards only the sampling
//! calls and bounds its upstream, the open-file limit is raised.

// Test helpers outside #[test] fns may unwrap too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use common::*;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use otel_aws_sidecar::config::Config;
use otel_aws_sidecar::receiver::proxy::{ProxySettings, XrayProxy};
use otel_aws_sidecar::{Sidecar, SidecarOptions};
use otel_aws_testkit::otlp::{FakeOtlpEndpoint, FakeResponse, OtlpEndpointOptions};
use otel_aws_testkit::xray_api::{FakeXrayApi, XrayApiOptions};

/// Failure guard on outcome waits (never reached when the code works).
const GUARD: Duration = Duration::from_secs(30);

fn config(endpoint: &str, processors: &str, memory_limiter: &str, health: &str) -> String {
    format!(
        "
extensions:
  health_check:
    endpoint: 127.0.0.1:0
{health}
  sigv4auth:
    region: us-east-1
    service: xray
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:0
  awsxray:
    endpoint: 127.0.0.1:0
    proxy_server:
      endpoint: 127.0.0.1:0
processors:
  batch:
    timeout: 50ms
    send_batch_size: 100
  memory_limiter:
    check_interval: 10ms
{memory_limiter}
exporters:
  otlphttp/xray:
    traces_endpoint: {endpoint}
    compression: gzip
    retry_on_failure:
      initial_interval: 20ms
      max_interval: 50ms
      max_elapsed_time: 120s
    auth:
      authenticator: sigv4auth
service:
  extensions: [health_check, sigv4auth]
  pipelines:
    traces:
      receivers: [otlp, awsxray]
      processors: [{processors}]
      exporters: [otlphttp/xray]
"
    )
}

/// `n` spans each carrying an attribute of `pad` bytes.
fn big_spans(n: usize, tag: u8, pad: usize) -> ExportTraceServiceRequest {
    let mut req = spans(n, tag);
    for s in &mut req.resource_spans[0].scope_spans[0].spans {
        s.attributes.push(kv("pad", &"x".repeat(pad)));
    }
    req
}

async fn health(sidecar: &otel_aws_sidecar::Sidecar) -> (u16, String) {
    let url = format!("http://{}/", sidecar.health_addr().unwrap());
    let resp = reqwest::get(url).await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn high_rss_alone_does_not_latch_the_memory_limiter() {
    let fake = FakeOtlpEndpoint::start(OtlpEndpointOptions::xray_traces("us-east-1"))
        .await
        .unwrap();
    // 1 MiB: this test process's RSS is far above it the whole time, as a
    // sidecar's stays above its limit after a burst (the allocator keeps pages).
    let yaml = config(
        &fake.traces_url(),
        "memory_limiter, batch",
        "    limit_mib: 1",
        "",
    );
    let sidecar = start(&yaml, test_env(&[])).await;
    let url = format!(
        "http://{}/v1/traces",
        sidecar.receiver_addrs("otlp").unwrap().http.unwrap()
    );
    for i in 0..5u8 {
        let resp = post_otlp(&url, &spans(10, i + 1)).await;
        assert_eq!(
            resp.status(),
            200,
            "request {i} refused with nothing held: {}",
            resp.text().await.unwrap()
        );
        // Exported: nothing is held any more (and several RSS samples were taken).
        assert!(fake.wait_for_spans(10 * (usize::from(i) + 1), GUARD).await);
    }
    assert_eq!(health(&sidecar).await.0, 200);
    assert!(sidecar.shutdown().await);
}

/// A sidecar with a 2 MiB `memory_limiter` (batches of `batch` spans, `health`
/// lines under `health_check`) exporting to a fake that first answers
/// `failures` times 503: an outage, during which exports are retried and
/// what was accepted stays held. Returns the fake, the sidecar and its
/// OTLP/HTTP traces URL.
async fn limited_behind_an_outage(
    failures: usize,
    health: &str,
    batch: usize,
) -> (FakeOtlpEndpoint, otel_aws_sidecar::Sidecar, String) {
    let fake = FakeOtlpEndpoint::start(OtlpEndpointOptions::xray_traces("us-east-1"))
        .await
        .unwrap();
    fake.push_responses(std::iter::repeat_n(FakeResponse::Status(503), failures));
    let yaml = config(
        &fake.traces_url(),
        "memory_limiter, batch",
        "    limit_mib: 2",
        health,
    )
    .replace("send_batch_size: 100", &format!("send_batch_size: {batch}"));
    let sidecar = start(&yaml, test_env(&[])).await;
    let url = format!(
        "http://{}/v1/traces",
        sidecar.receiver_addrs("otlp").unwrap().http.unwrap()
    );
    (fake, sidecar, url)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_is_unhealthy_while_the_limiter_refuses_then_recovers() {
    let (fake, sidecar, url) =
        limited_behind_an_outage(30, "    unhealthy_after_refusing: 0s", 100).await;
    assert_eq!(health(&sidecar).await.0, 200);
    let mut accepted = 0;
    let mut refused = false;
    for i in 0..20u8 {
        let resp = post_otlp(&url, &big_spans(5, i + 1, 100_000)).await;
        match resp.status().as_u16() {
            200 => accepted += 5,
            503 => {
                refused = true;
                break;
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert!(refused, "the limiter never refused");
    let (code, body) = health(&sidecar).await;
    assert_eq!(code, 503, "{body}");
    assert!(body.contains("memory limit"), "{body}");
    // The outage ends; the held batch is exported and the limiter reopens.
    assert!(fake.wait_for_spans(accepted, GUARD).await);
    let healthy = tokio::time::timeout(GUARD, async {
        while health(&sidecar).await.0 != 200 {
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert!(healthy.is_ok(), "still unhealthy after the data drained");
    assert_eq!(post_otlp(&url, &spans(3, 99)).await.status(), 200);
    assert!(sidecar.shutdown().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_an_outage_refusals_before_decoding_are_counted_per_request() {
    // An outage for as long as the test needs. Batches of 1,000 spans: the
    // input holds 4,000 spans, more than the memory budget does, so the
    // memory limit is what refuses.
    let (fake, sidecar, url) = limited_behind_an_outage(100_000, "", 1000).await;
    let telemetry = sidecar.telemetry();
    let counters = || telemetry.get("receiver/otlp").unwrap_or_default();
    // Identical requests until the limit refuses one.
    let mut accepted = 0;
    let mut tag = 0u8;
    loop {
        tag = tag.wrapping_add(1);
        let resp = post_otlp(&url, &spans(200, tag)).await;
        match resp.status().as_u16() {
            200 => accepted += 200,
            503 => break,
            other => panic!("unexpected {other}"),
        }
        assert!(accepted < 100_000, "the limiter never refused");
    }
    // From now on each request is refused before its body is decoded (by
    // the body's own reservation or by the size its batch would have; the
    // second is tested in `pipeline::input`): a request counted, its spans
    // not (they were never read), the sender told when to retry.
    let before = counters();
    for _ in 0..3 {
        tag = tag.wrapping_add(1);
        let resp = post_otlp(&url, &spans(200, tag)).await;
        assert_eq!(resp.status(), 503);
        assert!(resp.headers().contains_key("retry-after"));
        assert!(resp.text().await.unwrap().contains("memory limit reached"));
    }
    let after = counters();
    assert_eq!(
        after.refused_requests,
        before.refused_requests + 3,
        "{after:?}"
    );
    assert_eq!(after.refused, before.refused, "{after:?}");
    let (_, body) = health(&sidecar).await;
    let doc: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(
        doc["components"]["receiver/otlp"]["refused_requests"]
            .as_u64()
            .is_some_and(|n| n >= 3),
        "{body}"
    );
    // The outage ends: what was accepted arrives, new requests are taken.
    fake.clear_responses();
    assert!(fake.wait_for_spans(accepted, GUARD).await);
    let taken = tokio::time::timeout(GUARD, async {
        loop {
            tag = tag.wrapping_add(1);
            if post_otlp(&url, &spans(200, tag)).await.status() == 200 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(taken.is_ok(), "still refusing after the data drained");
    assert!(sidecar.shutdown().await);
}

fn in_progress_doc(i: u32, pad: usize) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    format!(
        "{{\"format\":\"json\",\"version\":1}}\n{{\"name\":\"job\",\"id\":\"{i:016x}\",\"trace_id\":\"1-{:08x}-a006649127e371903a2de979\",\"start_time\":{now}.5,\"in_progress\":true,\"metadata\":{{\"default\":{{\"pad\":\"{}\"}}}}}}",
        now,
        "y".repeat(pad)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_progress_udp_documents_are_accounted_and_cannot_starve_other_traffic() {
    let fake = FakeOtlpEndpoint::start(OtlpEndpointOptions::xray_traces("us-east-1"))
        .await
        .unwrap();
    let yaml = config(
        &fake.traces_url(),
        "memory_limiter, batch",
        "    limit_mib: 4",
        "",
    );
    let sidecar = start(&yaml, test_env(&[])).await;
    let udp_addr = sidecar.receiver_addrs("awsxray").unwrap().udp.unwrap();
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let telemetry = sidecar.telemetry();
    let progress = || {
        let held: u64 = telemetry.held_bytes().iter().map(|(_, b)| b).sum();
        let dropped = telemetry.get("receiver/awsxray").map_or(0, |c| c.dropped);
        (held, dropped)
    };
    for i in 0..60u32 {
        let before = progress();
        socket
            .send_to(in_progress_doc(i + 1, 30_000).as_bytes(), udp_addr)
            .await
            .unwrap();
        // One datagram in flight at a time: wait until it was held or dropped.
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            while progress() == before {
                tokio::task::yield_now().await;
            }
        })
        .await;
    }
    let (held, dropped) = progress();
    assert!(
        dropped > 0,
        "60 in-progress documents of 30 KB were all held ({held} bytes accounted)"
    );
    assert!(held <= 4 * 1024 * 1024, "{held} bytes held");
    // Other traffic still gets in.
    let url = format!(
        "http://{}/v1/traces",
        sidecar.receiver_addrs("otlp").unwrap().http.unwrap()
    );
    assert_eq!(post_otlp(&url, &spans(3, 7)).await.status(), 200);
    assert!(fake.wait_for_spans(3, GUARD).await);
    assert!(sidecar.shutdown().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sampling_proxy_forwards_only_the_sampling_calls() {
    let fake_otlp = FakeOtlpEndpoint::start(OtlpEndpointOptions::xray_traces("us-east-1"))
        .await
        .unwrap();
    let xray = FakeXrayApi::start(XrayApiOptions::signed("us-east-1"))
        .await
        .unwrap();
    let env = test_env(&[("AWS_ENDPOINT_URL_XRAY", xray.url())]);
    let yaml = config(&fake_otlp.traces_url(), "batch", "    limit_mib: 64", "");
    let sidecar = start(&yaml, env).await;
    let proxy = sidecar.receiver_addrs("awsxray").unwrap().proxy.unwrap();
    let client = reqwest::Client::new();
    for (method, path, want) in [
        (reqwest::Method::DELETE, "/DeleteSamplingRule", 404),
        (reqwest::Method::POST, "/DeleteSamplingRule", 404),
        (reqwest::Method::POST, "/CreateSamplingRule", 404),
        (reqwest::Method::POST, "/TraceSegments", 404),
        (reqwest::Method::GET, "/GetSamplingRules", 405),
        (reqwest::Method::DELETE, "/SamplingTargets", 405),
    ] {
        let resp = client
            .request(method.clone(), format!("http://{proxy}{path}"))
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), want, "{method} {path}");
    }
    assert!(
        xray.requests().is_empty(),
        "forwarded: {:?}",
        xray.requests()
    );
    let ok = client
        .post(format!("http://{proxy}/GetSamplingRules"))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(xray.requests().len(), 1);
    assert!(sidecar.shutdown().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sampling_proxy_bounds_a_hanging_upstream() {
    // Accepts connections and never answers.
    let hang = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream = hang.local_addr().unwrap();
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = hang.accept().await {
            held.push(s);
        }
    });
    let mut settings =
        ProxySettings::resolve(Some(&format!("http://{upstream}")), None, "us-east-1");
    settings.timeout = Duration::from_millis(200);
    let creds = SharedCredentialsProvider::new(Credentials::new(
        "AKIDEXAMPLE",
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        None,
        None,
        "test",
    ));
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let proxy = XrayProxy::start("127.0.0.1:0".parse().unwrap(), settings, creds, stop_rx)
        .await
        .unwrap();
    let resp = reqwest::Client::new()
        .post(format!("http://{}/GetSamplingRules", proxy.addr()))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 504);
    stop.send_replace(true);
    proxy.wait().await;
    holder.abort();
}

#[test]
fn the_open_file_limit_is_raised_to_the_hard_limit() {
    use nix::sys::resource::{Resource, getrlimit};
    let n = otel_aws_sidecar::service::raise_open_files_limit().unwrap();
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    assert_eq!(soft, hard);
    assert_eq!(n, hard);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_lost_at_the_stop_timeout_are_counted() {
    let fake = FakeOtlpEndpoint::start(OtlpEndpointOptions::xray_traces("us-east-1"))
        .await
        .unwrap();
    fake.push_responses([FakeResponse::Hang]);
    let yaml = config(
        &fake.traces_url(),
        "memory_limiter, batch",
        "    limit_mib: 64",
        "",
    );
    let env = test_env(&[]);
    let path = write_config(&yaml);
    let (cfg, _) = otel_aws_sidecar::config::Config::load(path.to_str().unwrap(), &env).unwrap();
    let sidecar = otel_aws_sidecar::Sidecar::start(
        &cfg,
        otel_aws_sidecar::SidecarOptions {
            env,
            stop_timeout: Duration::from_millis(300),
        },
    )
    .await
    .unwrap();
    let url = format!(
        "http://{}/v1/traces",
        sidecar.receiver_addrs("otlp").unwrap().http.unwrap()
    );
    assert_eq!(post_otlp(&url, &spans(7, 1)).await.status(), 200);
    // The export is under way and hangs.
    let sent = tokio::time::timeout(GUARD, async {
        while fake.requests().is_empty() {
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert!(sent.is_ok());
    let telemetry = sidecar.telemetry();
    assert!(!sidecar.shutdown().await, "the drain cannot finish");
    assert_eq!(telemetry.get("service/shutdown").unwrap().dropped, 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_span_over_the_destination_limit_is_refused_as_partial_success() {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
    use prost::Message as _;
    let fake = FakeOtlpEndpoint::start(OtlpEndpointOptions::xray_traces("us-east-1"))
        .await
        .unwrap();
    let yaml = config(&fake.traces_url(), "batch", "    limit_mib: 64", "");
    let sidecar = start(&yaml, test_env(&[])).await;
    let url = format!(
        "http://{}/v1/traces",
        sidecar.receiver_addrs("otlp").unwrap().http.unwrap()
    );
    let mut req = spans(3, 5);
    // One span of ~250 KB: over the X-Ray OTLP endpoint's 200 KB per span.
    req.resource_spans[0].scope_spans[0].spans[1]
        .attributes
        .push(kv("big", &"z".repeat(250_000)));
    let resp = post_otlp(&url, &req).await;
    assert_eq!(resp.status(), 200);
    let body = ExportTraceServiceResponse::decode(resp.bytes().await.unwrap()).unwrap();
    let partial = body
        .partial_success
        .expect("the sender is told a span was refused");
    assert_eq!(partial.rejected_spans, 1);
    assert!(partial.error_message.contains("per span"), "{partial:?}");
    assert!(fake.wait_for_spans(2, GUARD).await);
    let telemetry = sidecar.telemetry();
    assert!(sidecar.shutdown().await);
    assert_eq!(fake.span_count(), 2);
    assert_eq!(telemetry.get("receiver/otlp").unwrap().dropped, 1);
}

/// Without a region (no `AWS_REGION`, none in the config) the sidecar does
/// not start, and the error names the setting to add: for the `awsxray`
/// exporter and for the X-Ray sampling proxy.
#[tokio::test]
async fn a_missing_region_is_refused_at_start_naming_the_setting() {
    let env = otel_aws_distro::Env::from_pairs([
        ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "not-shown".to_owned()),
    ]);
    let cases = [
        (
            "receivers:\n  otlp:\n    protocols:\n      http:\n        endpoint: 127.0.0.1:0\nexporters:\n  awsxray:\nservice:\n  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [awsxray]\n",
            "exporters.awsxray.region",
        ),
        (
            "receivers:\n  awsxray:\n    endpoint: 127.0.0.1:0\n    proxy_server:\n      endpoint: 127.0.0.1:0\nexporters:\n  debug:\nservice:\n  pipelines:\n    traces:\n      receivers: [awsxray]\n      exporters: [debug]\n",
            "proxy_server.region",
        ),
    ];
    for (yaml, setting) in cases {
        let path = write_config(yaml);
        let (cfg, _) = Config::load(path.to_str().unwrap(), &env).unwrap();
        let started = Sidecar::start(
            &cfg,
            SidecarOptions {
                env: env.clone(),
                stop_timeout: Duration::from_secs(5),
            },
        )
        .await;
        let Err(err) = started else {
            panic!("started without a region: {yaml}");
        };
        let err = err.to_string();
        assert!(
            err.contains(setting) && err.contains("AWS_REGION"),
            "{setting}: {err}"
        );
        assert!(!err.contains("not-shown"), "{err}");
    }
}
