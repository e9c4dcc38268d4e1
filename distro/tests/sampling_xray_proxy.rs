//! The X-Ray sampling proxy (the sidecar's TCP 2000, the Lambda extension's
//! localhost proxy) carries adaptive sampling's fields both ways unchanged:
//! rules with `SamplingRateBoost`, `SamplingBoostStatisticsDocuments` in,
//! `SamplingBoost` and `UnprocessedBoostStatistics` out — signed with SigV4
//! (verified by the fake X-Ray API), and the distro's sampler works through it.
//! X-Ray's refusals pass through as they are; an unreachable upstream is 502.

#![cfg(feature = "server")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials as SdkCredentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use otel_aws_distro::sampling::xray::proxy::{ProxySettings, XrayProxy};
use otel_aws_distro::sampling::xray::{
    AdaptiveSampling, ManualClock, ResourceInfo, SamplingBoostStatistics, XrayApiClient,
    XraySampler, refresh_rules, report_statistics,
};
use otel_aws_testkit::sigv4::Credentials;
use otel_aws_testkit::xray_api::{FakeXrayApi, XrayApiOptions, boosted_sampling_rule};
use serde_json::{Value, json};

fn rules() -> Value {
    json!({ "SamplingRuleRecords": [
        boosted_sampling_rule("checkout", "checkout", 1, 0, 0.0, 0.75, 5),
    ]})
}

async fn start() -> (FakeXrayApi, XrayProxy, tokio::sync::watch::Sender<bool>) {
    let fake = FakeXrayApi::start(XrayApiOptions {
        sampling_rules: rules(),
        ..XrayApiOptions::signed("us-east-1")
    })
    .await
    .unwrap();
    let c = Credentials::test();
    let (proxy, stop_tx) = proxy_to(&fake.url(), creds(&c.secret_access_key)).await;
    (fake, proxy, stop_tx)
}

/// The test credentials with `secret` as their secret key.
fn creds(secret: &str) -> SharedCredentialsProvider {
    let c = Credentials::test();
    SharedCredentialsProvider::new(SdkCredentials::new(
        c.access_key_id,
        secret,
        c.session_token,
        None,
        "test",
    ))
}

async fn proxy_to(
    upstream: &str,
    creds: SharedCredentialsProvider,
) -> (XrayProxy, tokio::sync::watch::Sender<bool>) {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let proxy = XrayProxy::start(
        "127.0.0.1:0".parse().unwrap(),
        ProxySettings::resolve(Some(upstream), None, "us-east-1"),
        creds,
        stop_rx,
    )
    .await
    .unwrap();
    (proxy, stop_tx)
}

async fn post(proxy: &XrayProxy, path: &str, body: &Value) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .post(format!("http://{}{path}", proxy.addr()))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (
        status,
        serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap(),
    )
}

#[tokio::test]
async fn boost_fields_pass_through_the_proxy_both_ways() {
    let (fake, proxy, _stop) = start().await;
    let (status, served) = post(&proxy, "/GetSamplingRules", &json!({})).await;
    assert_eq!(
        (status, served),
        (200, rules()),
        "rules as X-Ray serves them"
    );

    let boost_docs = json!([
        {"RuleName": "checkout", "ServiceName": "checkout", "Timestamp": 1_765_000_000.5,
         "AnomalyCount": 3, "TotalCount": 40, "SampledAnomalyCount": 1},
        {"RuleName": "nope", "ServiceName": "checkout", "Timestamp": 1_765_000_000.5,
         "AnomalyCount": 1, "TotalCount": 1, "SampledAnomalyCount": 0}
    ]);
    let body = json!({
        "SamplingStatisticsDocuments": [{"ClientID": "0123456789abcdef01234567", "RuleName": "checkout",
            "Timestamp": 1_765_000_000.5, "RequestCount": 40, "SampledCount": 0, "BorrowCount": 0}],
        "SamplingBoostStatisticsDocuments": boost_docs,
    });
    let (status, answer) = post(&proxy, "/SamplingTargets", &body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        Value::Array(fake.sampling_boost_statistics()),
        boost_docs,
        "the boost statistics reached X-Ray unchanged"
    );
    let (rate, ttl) = fake.boost_of("checkout").expect("boost granted");
    let boost = &answer["SamplingTargetDocuments"][0]["SamplingBoost"];
    assert_eq!(boost["BoostRate"], rate);
    assert_eq!(
        boost["BoostRateTTL"]
            .as_f64()
            .map(|s| SystemTime::UNIX_EPOCH + Duration::from_secs_f64(s)),
        Some(ttl)
    );
    assert_eq!(answer["UnprocessedBoostStatistics"][0]["RuleName"], "nope");
    assert!(fake.rejected().is_empty(), "signed: {:?}", fake.rejected());
}

#[tokio::test]
async fn the_sampler_gets_its_boost_through_the_proxy() {
    let (fake, proxy, _stop) = start().await;
    let client = XrayApiClient::proxy(&format!("http://{}", proxy.addr())).unwrap();
    let clock = Arc::new(ManualClock::new(SystemTime::now()));
    let sampler = XraySampler::remote_adaptive(
        ResourceInfo {
            service_name: Some("checkout".into()),
            ..ResourceInfo::default()
        },
        clock,
        AdaptiveSampling::Default,
    );
    refresh_rules(&sampler, &client).await.unwrap();
    assert_eq!(sampler.rule_names(), ["checkout"]);
    // Another instance of the service reported anomalies; this one's next
    // report is answered with the boost.
    client
        .get_sampling_targets(
            &[],
            &[SamplingBoostStatistics {
                rule_name: "checkout".into(),
                service_name: "checkout".into(),
                timestamp: SystemTime::now(),
                anomaly_count: 2,
                total_count: 2,
                sampled_anomaly_count: 0,
            }],
        )
        .await
        .unwrap();
    // Every rule in use is reported (zero counts too), so the answer
    // carries the rule's target and its boost.
    report_statistics(&sampler, &client, Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(
        sampler.boost_of("checkout").map(|b| b.0),
        Some(0.75),
        "boost applied"
    );
    assert!(fake.rejected().is_empty(), "{:?}", fake.rejected());
}

/// X-Ray's own refusal reaches the SDK behind the proxy as X-Ray gave it
/// (status, `x-amzn-errortype`, message), so it reads the real error: here
/// a signature made with the wrong secret.
#[tokio::test]
async fn an_upstream_refusal_passes_through_with_its_error_type() {
    let fake = FakeXrayApi::start(XrayApiOptions {
        sampling_rules: rules(),
        ..XrayApiOptions::signed("us-east-1")
    })
    .await
    .unwrap();
    let (proxy, _stop) = proxy_to(&fake.url(), creds("not-the-secret")).await;
    let resp = reqwest::Client::new()
        .post(format!("http://{}/GetSamplingRules", proxy.addr()))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 403);
    let error_type = resp.headers()["x-amzn-errortype"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(error_type, "InvalidSignatureException");
    let body = resp.text().await.unwrap();
    assert!(!body.contains("not-the-secret"), "{body}");
    assert_eq!(fake.rejected().len(), 1);
}

/// Nothing listens upstream: 502 naming the upstream, and the proxy keeps
/// serving.
#[tokio::test]
async fn an_unreachable_upstream_is_a_bad_gateway() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let upstream = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let c = Credentials::test();
    let (proxy, _stop) = proxy_to(&upstream, creds(&c.secret_access_key)).await;
    for _ in 0..2 {
        let (status, body) = post(&proxy, "/GetSamplingRules", &json!({})).await;
        assert_eq!(status, 502, "{body}");
        let message = body["message"].as_str().unwrap();
        assert!(message.contains(&upstream), "{message}");
        assert!(!message.contains(&c.secret_access_key), "{message}");
    }
}
