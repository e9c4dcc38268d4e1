//! The fake X-Ray API, driven with reqwest and signed with the (vector-checked) signing helper.

use http::{HeaderMap, HeaderValue, Method};
use otel_aws_testkit::sigv4::SigV4Expect;
use otel_aws_testkit::xray_api::{FakeXrayApi, XrayApiOptions};
use serde_json::json;

use crate::{JSON, send};

// ------------------------------------------------------------ X-Ray API ----

async fn xray_call(
    fake: &FakeXrayApi,
    path: &str,
    body: serde_json::Value,
    signer: Option<&SigV4Expect>,
) -> (u16, HeaderMap, serde_json::Value) {
    let resp = send(
        &fake.url(),
        Method::POST,
        path,
        &[JSON],
        body.to_string().into_bytes(),
        signer,
        None,
    )
    .await
    .unwrap();
    let (status, headers) = (resp.status().as_u16(), resp.headers().clone());
    (
        status,
        headers,
        serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap(),
    )
}

#[tokio::test]
async fn xray_api_serves_the_sdk_operations_with_sigv4() {
    let opts = XrayApiOptions {
        segment_destination: "CloudWatchLogs".into(),
        ..XrayApiOptions::signed("us-east-1")
    };
    let fake = FakeXrayApi::start(opts).await.unwrap();
    let signer = SigV4Expect::test("us-east-1", "xray");
    let seg = |id: &str| {
        json!({"name": "svc", "id": id, "trace_id": "1-581cf771-a006649127e371903a2de979",
        "start_time": 1478293361.271, "end_time": 1478293361.449})
        .to_string()
    };

    let (status, _, body) = xray_call(
        &fake,
        "/TraceSegments",
        json!({"TraceSegmentDocuments": [seg("70de5b6f19ff9a0a"), seg("70de5b6f19ff9a0b")]}),
        Some(&signer),
    )
    .await;
    assert_eq!(
        (status, body),
        (200, json!({"UnprocessedTraceSegments": []}))
    );
    let ids: Vec<_> = fake
        .segments()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, ["70de5b6f19ff9a0a", "70de5b6f19ff9a0b"]);

    let (status, _, body) = xray_call(
        &fake,
        "/TraceSegments",
        json!({"TraceSegmentDocuments": ["{oops"]}),
        Some(&signer),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        body["UnprocessedTraceSegments"].as_array().unwrap().len(),
        1
    );

    let (status, _, body) = xray_call(
        &fake,
        "/GetTraceSegmentDestination",
        json!({}),
        Some(&signer),
    )
    .await;
    assert_eq!(
        (status, body),
        (
            200,
            json!({"Destination": "CloudWatchLogs", "Status": "ACTIVE"})
        )
    );

    let (status, _, body) = xray_call(&fake, "/GetSamplingRules", json!({}), Some(&signer)).await;
    assert_eq!(status, 200);
    assert_eq!(
        body["SamplingRuleRecords"][0]["SamplingRule"]["RuleName"],
        "Default"
    );
    assert_eq!(
        body["SamplingRuleRecords"][0]["SamplingRule"]["FixedRate"],
        0.05
    );

    let stats = json!({"SamplingStatisticsDocuments": [{"ClientID": "0123456789abcdef01234567", "RuleName": "Default",
        "Timestamp": 1720613532, "RequestCount": 10, "SampledCount": 1, "BorrowCount": 0}]});
    let (status, _, body) = xray_call(&fake, "/SamplingTargets", stats, Some(&signer)).await;
    assert_eq!(status, 200);
    let target = &body["SamplingTargetDocuments"][0];
    assert_eq!(
        (
            &target["RuleName"],
            &target["FixedRate"],
            &target["ReservoirQuota"]
        ),
        (&json!("Default"), &json!(0.05), &json!(1))
    );
    assert!(target["ReservoirQuotaTTL"].as_f64().unwrap() > 1.7e9);
    assert_eq!(fake.sampling_statistics().len(), 1);
    assert_eq!(fake.requests().len(), 5);
    assert!(fake.rejected().is_empty());
}

#[tokio::test]
async fn xray_api_rejects_like_aws() {
    let fake = FakeXrayApi::start(XrayApiOptions::signed("eu-west-1"))
        .await
        .unwrap();
    let signer = SigV4Expect::test("eu-west-1", "xray");
    let (status, headers, body) =
        xray_call(&fake, "/NoSuchOperation", json!({}), Some(&signer)).await;
    assert_eq!(
        (status, &headers["x-amzn-errortype"]),
        (404, &HeaderValue::from_static("UnknownOperationException"))
    );
    assert!(body["message"].is_string());
    let (status, headers, _) = xray_call(
        &fake,
        "/TraceSegments",
        json!({"TraceSegmentDocuments": []}),
        Some(&SigV4Expect::test("eu-west-1", "logs")),
    )
    .await;
    assert_eq!(
        (status, &headers["x-amzn-errortype"]),
        (403, &HeaderValue::from_static("InvalidSignatureException"))
    );
    let (status, headers, _) = xray_call(&fake, "/GetSamplingRules", json!({}), None).await;
    assert_eq!(
        (status, &headers["x-amzn-errortype"]),
        (
            403,
            &HeaderValue::from_static("MissingAuthenticationTokenException")
        )
    );
    let too_many: Vec<String> = (0..51)
        .map(|i| json!({"id": format!("{i:016x}")}).to_string())
        .collect();
    let (status, headers, _) = xray_call(
        &fake,
        "/TraceSegments",
        json!({"TraceSegmentDocuments": too_many}),
        Some(&signer),
    )
    .await;
    assert_eq!(
        (status, &headers["x-amzn-errortype"]),
        (400, &HeaderValue::from_static("InvalidRequestException"))
    );
    assert!(fake.segments().is_empty());
    assert_eq!(fake.rejected().len(), 4);
}

#[tokio::test]
async fn xray_api_serves_configured_sampling_rules() {
    let rules = json!({"SamplingRuleRecords": [{"SamplingRule": {"RuleName": "checkout", "Priority": 1, "FixedRate": 0.5,
        "ReservoirSize": 3, "Version": 1}, "ModifiedAt": 1700000000.0}]});
    let fake = FakeXrayApi::start(XrayApiOptions {
        sampling_rules: rules.clone(),
        ..XrayApiOptions::default()
    })
    .await
    .unwrap();
    assert_eq!(
        xray_call(&fake, "/GetSamplingRules", json!({}), None)
            .await
            .2,
        rules
    );
    let stats =
        json!({"SamplingStatisticsDocuments": [{"RuleName": "checkout", "RequestCount": 1}]});
    let body = xray_call(&fake, "/SamplingTargets", stats, None).await.2;
    assert_eq!(body["SamplingTargetDocuments"][0]["FixedRate"], 0.5);
    assert_eq!(body["SamplingTargetDocuments"][0]["ReservoirQuota"], 3);
    assert_eq!(body["LastRuleModification"], 1700000000.0);
}

/// Adaptive sampling as the X-Ray API reference shapes it: a rule's
/// `SamplingRateBoost`, `SamplingBoostStatisticsDocuments` in,
/// `SamplingBoost {BoostRate, BoostRateTTL}` and `UnprocessedBoostStatistics` out.
#[tokio::test]
async fn xray_api_boosts_a_rule_on_anomalies_once_per_cooldown() {
    use otel_aws_testkit::xray_api::boosted_sampling_rule;
    let mut default_with_boost = boosted_sampling_rule("Default", "*", 10000, 1, 0.05, 0.9, 1);
    default_with_boost["SamplingRule"]["ServiceName"] = json!("*");
    let rules = json!({"SamplingRuleRecords": [
        boosted_sampling_rule("checkout", "checkout", 1, 0, 0.0, 0.5, 10),
        default_with_boost,
    ]});
    let fake = FakeXrayApi::start(XrayApiOptions {
        sampling_rules: rules,
        ..XrayApiOptions::default()
    })
    .await
    .unwrap();
    let served = xray_call(&fake, "/GetSamplingRules", json!({}), None)
        .await
        .2;
    assert_eq!(
        served["SamplingRuleRecords"][0]["SamplingRule"]["SamplingRateBoost"],
        json!({"MaxRate": 0.5, "CooldownWindowMinutes": 10})
    );
    assert!(
        served["SamplingRuleRecords"][1]["SamplingRule"]
            .get("SamplingRateBoost")
            .is_none(),
        "never on the Default rule: {served}"
    );

    let boost_doc = |rule: &str, anomalies: u64| {
        json!({"RuleName": rule, "ServiceName": "checkout", "Timestamp": 1_765_000_000.0,
            "AnomalyCount": anomalies, "TotalCount": 10, "SampledAnomalyCount": 0})
    };
    let stats = |rule: &str| {
        json!({"ClientID": "0123456789abcdef01234567", "RuleName": rule,
            "Timestamp": 1_765_000_000.0, "RequestCount": 10, "SampledCount": 0, "BorrowCount": 0})
    };
    // No anomaly: no boost.
    let body = xray_call(
        &fake,
        "/SamplingTargets",
        json!({"SamplingStatisticsDocuments": [stats("checkout")],
            "SamplingBoostStatisticsDocuments": [boost_doc("checkout", 0)]}),
        None,
    )
    .await
    .2;
    assert!(
        body["SamplingTargetDocuments"][0]
            .get("SamplingBoost")
            .is_none(),
        "{body}"
    );
    assert_eq!(body["UnprocessedBoostStatistics"], json!([]));
    // Anomalies: boosted to MaxRate until BoostRateTTL; the Default rule and
    // an unknown rule cannot be boosted.
    let before = std::time::SystemTime::now();
    let body = xray_call(
        &fake,
        "/SamplingTargets",
        json!({"SamplingStatisticsDocuments": [stats("checkout"), stats("Default")],
            "SamplingBoostStatisticsDocuments": [boost_doc("checkout", 3), boost_doc("Default", 3), boost_doc("nope", 1)]}),
        None,
    )
    .await
    .2;
    let boost = &body["SamplingTargetDocuments"][0]["SamplingBoost"];
    assert_eq!(boost["BoostRate"], 0.5, "{body}");
    let ttl = boost["BoostRateTTL"].as_f64().unwrap();
    let now = before
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!(ttl > now && ttl <= now + 61.0, "{ttl} vs {now}");
    assert!(
        body["SamplingTargetDocuments"][1]
            .get("SamplingBoost")
            .is_none()
    );
    let unprocessed: Vec<_> = body["UnprocessedBoostStatistics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["RuleName"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(unprocessed, ["Default", "nope"]);
    let (_, first_ttl) = fake.boost_of("checkout").unwrap();
    // Within the 10-minute cooldown more anomalies do not start a new boost:
    // the one granted stays as it was.
    let body = xray_call(
        &fake,
        "/SamplingTargets",
        json!({"SamplingStatisticsDocuments": [stats("checkout")],
            "SamplingBoostStatisticsDocuments": [boost_doc("checkout", 5)]}),
        None,
    )
    .await
    .2;
    assert_eq!(
        body["SamplingTargetDocuments"][0]["SamplingBoost"]["BoostRateTTL"],
        ttl
    );
    assert_eq!(fake.boost_of("checkout").unwrap().1, first_ttl);
    assert_eq!(fake.sampling_boost_statistics().len(), 5);
    assert_eq!(fake.sampling_boost_statistics()[1]["AnomalyCount"], 3);

    // Limits and required fields.
    let too_many: Vec<_> = (0..26).map(|_| boost_doc("checkout", 1)).collect();
    let mut missing = boost_doc("checkout", 1);
    missing
        .as_object_mut()
        .unwrap()
        .remove("SampledAnomalyCount");
    let long_name = boost_doc(&"r".repeat(33), 1);
    for bad in [
        json!(too_many),
        json!([missing]),
        json!([long_name]),
        json!("x"),
    ] {
        let (status, headers, _) = xray_call(
            &fake,
            "/SamplingTargets",
            json!({"SamplingStatisticsDocuments": [], "SamplingBoostStatisticsDocuments": bad}),
            None,
        )
        .await;
        assert_eq!(
            (status, &headers["x-amzn-errortype"]),
            (400, &HeaderValue::from_static("InvalidRequestException"))
        );
    }
    assert_eq!(
        fake.sampling_boost_statistics().len(),
        5,
        "rejected calls record nothing"
    );
}
