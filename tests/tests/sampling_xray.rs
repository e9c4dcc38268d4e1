//! End-to-end: the distro's X-Ray sampler against the testkit's fake X-Ray
//! API over loopback sockets — through a proxy (plain HTTP, as ADOT does)
//! and through aws-sdk-xray (SigV4 verified by the fake): rules fetched,
//! decisions follow them, `SamplingTargets` gets the right statistics
//! (`spec/xray.md`, Remote sampling).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials as SdkCredentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_xray::config::{BehaviorVersion, Region};
use opentelemetry::trace::{SpanKind, TraceId};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{SamplingDecision, ShouldSample};
use otel_aws_distro::Env;
use otel_aws_distro::sampling::xray::{
    ManualClock, ResourceInfo, SAMPLING_RULE_ATTRIBUTE, XrayApiClient, XraySampler, refresh_rules,
    report_statistics,
};
use otel_aws_distro::sampling::{OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG, SamplerConfig};
use otel_aws_testkit::sigv4::Credentials;
use otel_aws_testkit::xray_api::{FakeXrayApi, XrayApiOptions};
use serde_json::{Value, json};

const UNLUCKY: TraceId =
    TraceId::from_bytes(0x6553_f100_0000_0000_ffff_ffff_ffff_ffffu128.to_be_bytes());

fn rule(name: &str, priority: i64, url_path: &str, reservoir: i64, modified_at: f64) -> Value {
    json!({
        "SamplingRule": {
            "RuleName": name,
            "RuleARN": format!("arn:aws:xray:us-east-1:123456789012:sampling-rule/{name}"),
            "ResourceARN": "*", "Priority": priority, "FixedRate": 0.0,
            "ReservoirSize": reservoir, "ServiceName": "checkout", "ServiceType": "*",
            "Host": "*", "HTTPMethod": "*", "URLPath": url_path, "Version": 1,
            "Attributes": {}
        },
        "CreatedAt": 0.0,
        "ModifiedAt": modified_at
    })
}

/// "Orders" (priority 1, /orders*, reservoir 2) and "Default" (reservoir 0,
/// fixed rate 0), plus a v2 rule and a nameless one that must be ignored.
fn rules(modified_at: f64) -> Value {
    json!({ "SamplingRuleRecords": [
        rule("Default", 10000, "*", 0, modified_at),
        rule("Orders", 1, "/orders*", 2, modified_at),
        {"SamplingRule": {"RuleName": "", "Priority": 0, "FixedRate": 1.0, "ReservoirSize": 9,
            "ServiceName": "*", "ServiceType": "*", "Host": "*", "HTTPMethod": "*",
            "URLPath": "*", "ResourceARN": "*", "Version": 1}},
        {"SamplingRule": {"RuleName": "Future", "Priority": 0, "FixedRate": 1.0, "ReservoirSize": 9,
            "ServiceName": "*", "ServiceType": "*", "Host": "*", "HTTPMethod": "*",
            "URLPath": "*", "ResourceARN": "*", "Version": 2}}
    ]})
}

fn resource() -> ResourceInfo {
    ResourceInfo {
        service_name: Some("checkout".into()),
        ..ResourceInfo::default()
    }
}

fn decide(s: &dyn ShouldSample, path: &str) -> (bool, Option<String>) {
    let r = s.should_sample(
        Some(&Context::new()),
        UNLUCKY,
        "span",
        &SpanKind::Server,
        &[KeyValue::new("url.path", path.to_string())],
        &[],
    );
    let rule = r
        .attributes
        .iter()
        .find(|kv| kv.key.as_str() == SAMPLING_RULE_ATTRIBUTE)
        .map(|kv| kv.value.as_str().into_owned());
    (r.decision == SamplingDecision::RecordAndSample, rule)
}

fn sdk_client(url: &str) -> aws_sdk_xray::Client {
    let c = Credentials::test();
    let conf = aws_sdk_xray::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(url)
        .credentials_provider(SdkCredentials::new(
            c.access_key_id,
            c.secret_access_key,
            c.session_token,
            None,
            "e2e",
        ))
        .build();
    aws_sdk_xray::Client::from_conf(conf)
}

/// `(RequestCount, SampledCount, BorrowCount)`; aws-sdk-xray leaves out a
/// count equal to its Smithy default 0, so a missing count reads as 0.
fn counts(doc: &Value) -> (u64, u64, u64) {
    let n = |k: &str| doc[k].as_u64().unwrap_or(0);
    (n("RequestCount"), n("SampledCount"), n("BorrowCount"))
}

fn stats_for<'a>(stats: &'a [Value], rule: &str) -> &'a Value {
    stats
        .iter()
        .find(|s| s["RuleName"] == rule)
        .unwrap_or_else(|| panic!("no statistics for {rule} in {stats:?}"))
}

/// The whole cycle against one client: rules → decisions → statistics →
/// targets → decisions by quota.
async fn cycle(fake: &FakeXrayApi, client: &XrayApiClient) {
    let clock = Arc::new(ManualClock::new(SystemTime::now()));
    let sampler = XraySampler::remote_with(resource(), clock.clone());

    assert_eq!(refresh_rules(&sampler, client).await.unwrap(), 4);
    assert_eq!(sampler.rule_names(), ["Orders", "Default"]);

    // Before targets: Orders borrows 1/s; Default samples nothing.
    let decisions: Vec<_> = (0..3).map(|_| decide(&sampler, "/orders/1")).collect();
    assert_eq!(decisions[0], (true, Some("Orders".into())));
    assert_eq!(&decisions[1..], [(false, None), (false, None)]);
    assert_eq!(decide(&sampler, "/health"), (false, None));
    assert_eq!(decide(&sampler, "/health"), (false, None));

    let outcome = report_statistics(&sampler, client, Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(outcome.documents, 2);
    assert_eq!(
        outcome.next_in,
        Duration::from_secs(10),
        "the fake's Interval"
    );
    assert!(!outcome.rules_changed);

    let stats = fake.sampling_statistics();
    assert_eq!(stats.len(), 2);
    let orders = stats_for(&stats, "Orders");
    assert_eq!(counts(orders), (3, 1, 1));
    assert_eq!(orders["ClientID"], sampler.client_id());
    let ts = orders["Timestamp"]
        .as_f64()
        .expect("Timestamp in epoch seconds");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!((ts - now).abs() < 600.0, "Timestamp {ts} is epoch seconds");
    let default = stats_for(&stats, "Default");
    assert_eq!(counts(default), (2, 0, 0));

    // The fake's target gives Orders ReservoirQuota = ReservoirSize = 2/s.
    clock.advance(Duration::from_secs(1));
    let sampled = (0..4).filter(|_| decide(&sampler, "/orders/2").0).count();
    assert_eq!(sampled, 2, "quota of 2 per second");
    report_statistics(&sampler, client, Duration::from_secs(10))
        .await
        .unwrap();
    let stats = fake.sampling_statistics();
    assert_eq!(stats.len(), 4);
    let orders = stats[2..]
        .iter()
        .find(|s| s["RuleName"] == "Orders")
        .unwrap();
    assert_eq!(
        counts(orders),
        (4, 2, 0),
        "counts reset after reporting; no borrowing once a target arrived"
    );

    let paths: Vec<String> = fake
        .requests()
        .iter()
        .map(|r| format!("{} {}", r.method, r.path_and_query))
        .collect();
    assert_eq!(
        paths,
        [
            "POST /GetSamplingRules",
            "POST /SamplingTargets",
            "POST /SamplingTargets"
        ]
    );
    assert!(fake.rejected().is_empty(), "{:?}", fake.rejected());
}

#[tokio::test]
async fn through_a_proxy_over_plain_http() {
    let fake = FakeXrayApi::start(XrayApiOptions {
        sampling_rules: rules(1_530_558_121.0),
        ..XrayApiOptions::default()
    })
    .await
    .unwrap();
    let client = XrayApiClient::proxy(&fake.url()).unwrap();
    cycle(&fake, &client).await;
}

#[tokio::test]
async fn through_aws_sdk_xray_signed() {
    let fake = FakeXrayApi::start(XrayApiOptions {
        sampling_rules: rules(1_530_558_121.0),
        ..XrayApiOptions::signed("us-east-1")
    })
    .await
    .unwrap();
    let client = XrayApiClient::sdk(sdk_client(&fake.url()));
    cycle(&fake, &client).await;
    assert!(
        fake.requests()
            .iter()
            .all(|r| r.headers.contains_key("authorization"))
    );
}

/// An endpoint that accepts the connection and never answers (a hung
/// proxy or load balancer): the poller's call must end, so the next round
/// runs and the rules in use do not age out behind it. aws-config's
/// defaults time out only the connection; the client given to
/// `XrayApiClient::sdk` here sets no timeout either, so what ends the call
/// is the distro's own `CALL_TIMEOUT` (10 s).
#[tokio::test]
async fn a_call_to_an_endpoint_that_never_answers_ends() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        loop {
            let (conn, _) = listener.accept().await.unwrap();
            open.push(conn);
        }
    });
    let client = XrayApiClient::sdk(sdk_client(&url));
    let sampler = XraySampler::remote_with(resource(), XraySampler::system_clock());
    let outcome = tokio::time::timeout(Duration::from_secs(120), refresh_rules(&sampler, &client))
        .await
        .expect("the call did not end: no operation timeout");
    let err = outcome.unwrap_err().to_string();
    assert!(err.contains("GetSamplingRules"), "{err}");
    assert!(
        err.to_lowercase().contains("timeout") || err.contains("timed out"),
        "{err}"
    );
    held.abort();
}

#[tokio::test]
async fn at_most_25_statistics_per_call() {
    let many: Vec<Value> = (0..30)
        .map(|i| rule(&format!("r{i:02}"), i, "*", 1, 0.0))
        .collect();
    let fake = FakeXrayApi::start(XrayApiOptions {
        sampling_rules: json!({ "SamplingRuleRecords": many }),
        ..XrayApiOptions::default()
    })
    .await
    .unwrap();
    let client = XrayApiClient::proxy(&fake.url()).unwrap();
    let sampler = XraySampler::remote_with(resource(), XraySampler::system_clock());
    refresh_rules(&sampler, &client).await.unwrap();
    let outcome = report_statistics(&sampler, &client, Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(outcome.documents, 30);
    let calls = fake
        .requests()
        .iter()
        .filter(|r| r.path_and_query == "/SamplingTargets")
        .count();
    assert_eq!(calls, 2, "30 documents → 25 + 5");
    assert_eq!(fake.sampling_statistics().len(), 30);
    assert!(fake.rejected().is_empty(), "{:?}", fake.rejected());
}

#[tokio::test]
async fn newer_rule_modification_asks_for_a_refetch() {
    let later = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
        + 3600.0;
    let fake = FakeXrayApi::start(XrayApiOptions {
        sampling_rules: rules(later),
        ..XrayApiOptions::default()
    })
    .await
    .unwrap();
    let client = XrayApiClient::proxy(&fake.url()).unwrap();
    let sampler = XraySampler::remote_with(resource(), XraySampler::system_clock());
    refresh_rules(&sampler, &client).await.unwrap();
    let outcome = report_statistics(&sampler, &client, Duration::from_secs(10))
        .await
        .unwrap();
    assert!(
        outcome.rules_changed,
        "LastRuleModification newer than our fetch"
    );
}

async fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..500 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("gave up waiting for {what}");
}

#[tokio::test]
async fn configured_sampler_polls_in_the_background_and_stops_when_dropped() {
    let fake = FakeXrayApi::start(XrayApiOptions {
        sampling_rules: rules(1_530_558_121.0),
        ..XrayApiOptions::default()
    })
    .await
    .unwrap();
    let env = Env::from_pairs([
        (OTEL_TRACES_SAMPLER, "xray".to_string()),
        (
            OTEL_TRACES_SAMPLER_ARG,
            format!("endpoint={},polling_interval=60", fake.url()),
        ),
    ]);
    let config = SamplerConfig::from_env(&env).unwrap();
    let resource = Resource::builder_empty()
        .with_attribute(KeyValue::new("service.name", "checkout"))
        .build();
    let sampler = config.build_for(&resource, None);
    let poller = sampler.xray_poller().cloned().expect("a poller runs");
    wait_for("GetSamplingRules", || {
        fake.requests()
            .iter()
            .any(|r| r.path_and_query == "/GetSamplingRules")
    })
    .await;
    // The rules are installed right after the answer; decisions follow them.
    wait_for("the Orders rule to decide", || {
        decide(&sampler, "/orders").1.as_deref() == Some("Orders")
    })
    .await;

    drop(sampler);
    wait_for("the poller to stop", || poller.is_finished()).await;
}

#[tokio::test]
async fn configured_sampler_calls_xray_with_given_credentials() {
    let fake = FakeXrayApi::start(XrayApiOptions {
        sampling_rules: rules(1_530_558_121.0),
        ..XrayApiOptions::signed("us-east-1")
    })
    .await
    .unwrap();
    let env = Env::from_pairs([
        (OTEL_TRACES_SAMPLER, "xray".to_string()),
        ("AWS_REGION", "us-east-1".to_string()),
        ("AWS_ENDPOINT_URL_XRAY", fake.url()),
    ]);
    let config = SamplerConfig::from_env(&env).unwrap();
    let c = Credentials::test();
    let creds = SharedCredentialsProvider::new(SdkCredentials::new(
        c.access_key_id,
        c.secret_access_key,
        c.session_token,
        None,
        "e2e",
    ));
    let resource = Resource::builder_empty()
        .with_attribute(KeyValue::new("service.name", "checkout"))
        .build();
    let sampler = config.build_for(&resource, Some(creds));
    wait_for("the Orders rule to decide", || {
        decide(&sampler, "/orders").1.as_deref() == Some("Orders")
    })
    .await;
    assert!(fake.rejected().is_empty(), "{:?}", fake.rejected());
    sampler.shutdown();
    let poller = sampler.xray_poller().unwrap();
    wait_for("the poller to stop", || poller.is_finished()).await;
}
