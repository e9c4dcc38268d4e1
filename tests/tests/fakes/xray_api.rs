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
