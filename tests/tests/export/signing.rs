//! SigV4: what the exporter signs, and what the endpoint refuses.

use super::*;

#[tokio::test]
async fn signed_export_verifies() {
    let fake = xray_fake().await;
    let exporter =
        OtlpHttpExporter::new(config(&fake), Some(aws_creds(&Credentials::test()))).unwrap();
    let sent = batch("checkout", 10, 16);
    let outcome = exporter.export(sent.clone()).await.unwrap();
    assert_eq!(fake.rejected(), vec![]);
    assert_eq!(fake.received(), vec![sent]);
    assert_eq!(
        (outcome.requests, outcome.spans_exported, outcome.retries),
        (1, 10, 0)
    );
    let req = &fake.requests()[0];
    let auth = header(req, "authorization").unwrap();
    assert!(auth.contains("Credential=AKIDEXAMPLE/"), "{auth}");
    assert!(auth.contains("/us-east-1/xray/aws4_request"), "{auth}");
    assert_eq!(
        header(req, "content-type").as_deref(),
        Some("application/x-protobuf")
    );
    let stats = exporter.stats().snapshot();
    assert_eq!(
        (stats.requests, stats.spans_exported, stats.retries),
        (1, 10, 0)
    );
}

#[tokio::test]
async fn session_token_is_sent_and_verified() {
    let creds = Credentials {
        session_token: Some("FwoGZXIvYXdzEBYaDExampleSessionToken".into()),
        ..Credentials::test()
    };
    let mut opts = OtlpEndpointOptions::xray_traces("us-east-1");
    opts.sigv4.as_mut().unwrap().credentials = creds.clone();
    let fake = FakeOtlpEndpoint::start(opts).await.unwrap();
    let exporter = OtlpHttpExporter::new(config(&fake), Some(aws_creds(&creds))).unwrap();
    exporter.export(batch("svc", 3, 1)).await.unwrap();
    assert_eq!(fake.rejected(), vec![]);
    assert_eq!(fake.span_count(), 3);
    assert_eq!(
        header(&fake.requests()[0], "x-amz-security-token"),
        creds.session_token
    );
}

#[tokio::test]
async fn wrong_secret_is_rejected_once_and_reported() {
    let fake = xray_fake().await;
    let wrong = Credentials {
        secret_access_key: "not-the-secret".into(),
        ..Credentials::test()
    };
    let exporter = OtlpHttpExporter::new(config(&fake), Some(aws_creds(&wrong))).unwrap();
    let err = exporter.export(batch("svc", 5, 1)).await.unwrap_err();
    let ExportError::Rejected { status, message } = &err else {
        panic!("expected a rejection, got {err:?}");
    };
    assert_eq!(*status, 403);
    assert_eq!(fake.requests().len(), 1, "a 403 must not be retried");
    let (fake_status, fake_reason) = &fake.rejected()[0];
    assert_eq!(*fake_status, 403);
    // The fake lists "<ErrorType>: <message>"; the exporter surfaces the message.
    let fake_message = fake_reason.split_once(": ").unwrap().1;
    let first_line = fake_message.lines().next().unwrap();
    assert!(first_line.len() > 20, "{first_line}");
    assert!(
        message.starts_with(first_line),
        "{message:?} vs {fake_message:?}"
    );
    assert!(message.contains("credentials"), "{message}");
    let stats = exporter.stats().snapshot();
    assert_eq!(stats.spans_dropped, 5);
    assert_eq!(stats.spans_exported, 0);
    assert!(stats.last_error.unwrap().contains("403"));
}

#[tokio::test]
async fn custom_headers_are_sent_and_signed() {
    // The CloudWatch Logs fake requires both log headers and verifies SigV4
    // (service `logs`) over every signed header, the custom ones included.
    let fake = FakeOtlpEndpoint::start(OtlpEndpointOptions::cloudwatch_logs("eu-west-1"))
        .await
        .unwrap();
    let cfg = OtlpHttpConfig {
        headers: vec![
            ("x-aws-log-group".into(), "/otel/e2e".into()),
            ("x-aws-log-stream".into(), "stream-1".into()),
        ],
        signing: Signing::Force {
            service: Some("logs".into()),
            region: Some("eu-west-1".into()),
        },
        ..OtlpHttpConfig::new(fake.traces_url())
    };
    let exporter = OtlpHttpExporter::new(cfg, Some(aws_creds(&Credentials::test()))).unwrap();
    // A logs batch: the Logs fake decodes what it receives as logs.
    let logs = opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest {
        resource_logs: vec![opentelemetry_proto::tonic::logs::v1::ResourceLogs {
            scope_logs: vec![opentelemetry_proto::tonic::logs::v1::ScopeLogs {
                log_records: vec![opentelemetry_proto::tonic::logs::v1::LogRecord {
                    body: Some(AnyValue {
                        value: Some(any_value::Value::StringValue("hello".into())),
                    }),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    exporter.export_logs(logs).await.unwrap();
    assert_eq!(fake.rejected(), vec![]);
    assert_eq!(fake.accepted_bodies().len(), 1);
    let req = &fake.requests()[0];
    assert_eq!(header(req, "x-aws-log-group").as_deref(), Some("/otel/e2e"));
    let auth = header(req, "authorization").unwrap();
    assert!(auth.contains("x-aws-log-group;x-aws-log-stream"), "{auth}");
    assert!(auth.contains("/eu-west-1/logs/aws4_request"), "{auth}");
}
