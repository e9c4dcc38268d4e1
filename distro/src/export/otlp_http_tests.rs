use super::super::response::{RpcStatus, is_expired_credentials};
use super::*;
use aws_credential_types::Credentials;
use prost::Message as _;

fn creds() -> Option<SharedCredentialsProvider> {
    Some(SharedCredentialsProvider::new(Credentials::new(
        "AKID", "secret", None, None, "test",
    )))
}

fn cfg(endpoint: &str, signing: Signing) -> OtlpHttpConfig {
    OtlpHttpConfig {
        signing,
        ..OtlpHttpConfig::new(endpoint)
    }
}

fn force(service: Option<&str>, region: Option<&str>) -> Signing {
    Signing::Force {
        service: service.map(str::to_owned),
        region: region.map(str::to_owned),
    }
}

#[test]
fn signing_decision_table() {
    let xray = "https://xray.eu-west-1.amazonaws.com/v1/traces";
    let local = "http://127.0.0.1:4318/v1/traces";
    type Case<'a> = (&'a str, Signing, Option<(&'a str, &'a str)>);
    let cases: Vec<Case> = vec![
        (xray, Signing::Auto, Some(("xray", "eu-west-1"))),
        (
            "https://XRAY.EU-WEST-1.AMAZONAWS.COM/v1/traces",
            Signing::Auto,
            Some(("xray", "eu-west-1")),
        ),
        (local, Signing::Auto, None),
        (xray, Signing::Off, None),
        (
            local,
            force(None, Some("us-east-1")),
            Some(("xray", "us-east-1")),
        ),
        (
            local,
            force(Some("logs"), Some("ap-south-1")),
            Some(("logs", "ap-south-1")),
        ),
        // Force without a region falls back to the host's region.
        (xray, force(None, None), Some(("xray", "eu-west-1"))),
        // An explicit region wins over the host's.
        (
            xray,
            force(None, Some("us-west-2")),
            Some(("xray", "us-west-2")),
        ),
    ];
    for (endpoint, signing, want) in cases {
        let exporter = OtlpHttpExporter::new(cfg(endpoint, signing.clone()), creds()).unwrap();
        assert_eq!(exporter.signing(), want, "{endpoint} {signing:?}");
    }
}

#[test]
fn force_without_region_is_an_error() {
    let err = OtlpHttpExporter::new(
        cfg("http://127.0.0.1:4318/v1/traces", force(None, None)),
        creds(),
    )
    .unwrap_err();
    assert!(matches!(err, ExportConfigError::MissingRegion { .. }));
    assert!(err.to_string().contains("AWS_REGION"), "{err}");
}

#[test]
fn signing_without_credentials_is_an_error() {
    let err = OtlpHttpExporter::new(
        cfg(
            "https://xray.us-east-1.amazonaws.com/v1/traces",
            Signing::Auto,
        ),
        None,
    )
    .unwrap_err();
    assert!(matches!(err, ExportConfigError::MissingCredentials { .. }));
    assert!(err.to_string().contains("from_default_chain"), "{err}");
    // Not signing: no credentials needed.
    OtlpHttpExporter::new(cfg("http://127.0.0.1:4318/v1/traces", Signing::Auto), None).unwrap();
}

#[test]
fn logs_endpoint_needs_group_and_stream_headers() {
    let logs = "https://logs.us-east-1.amazonaws.com/v1/logs";
    let with = |headers: &[(&str, &str)]| OtlpHttpConfig {
        headers: headers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        ..cfg(logs, Signing::Auto)
    };
    let err = OtlpHttpExporter::new(with(&[]), creds()).unwrap_err();
    assert!(matches!(err, ExportConfigError::MissingLogHeaders { .. }));
    let msg = err.to_string();
    assert!(
        msg.contains("x-aws-log-group") && msg.contains("x-aws-log-stream"),
        "{msg}"
    );
    let err = OtlpHttpExporter::new(with(&[("x-aws-log-group", "g")]), creds()).unwrap_err();
    assert!(
        err.to_string().ends_with("missing: x-aws-log-stream"),
        "{err}"
    );
    let ok = OtlpHttpExporter::new(
        with(&[("X-Aws-Log-Group", "g"), ("x-aws-log-stream", "s")]),
        creds(),
    )
    .unwrap();
    assert_eq!(ok.signing(), Some(("logs", "us-east-1")));
}

#[test]
fn invalid_endpoints_and_headers() {
    for endpoint in [
        "",
        "localhost:4318/v1/traces",
        "ftp://x/v1/traces",
        "http://:4318/v1/traces",
        "not a url",
    ] {
        let err = OtlpHttpExporter::new(cfg(endpoint, Signing::Off), None).unwrap_err();
        assert!(
            matches!(err, ExportConfigError::InvalidEndpoint { .. }),
            "{endpoint:?}: {err}"
        );
    }
    let bad_header = OtlpHttpConfig {
        headers: vec![("bad header".into(), "v".into())],
        ..cfg("http://127.0.0.1:1/v1/traces", Signing::Off)
    };
    assert!(matches!(
        OtlpHttpExporter::new(bad_header, None),
        Err(ExportConfigError::InvalidHeader { .. })
    ));
    let bad_value = OtlpHttpConfig {
        headers: vec![("x".into(), "a\nb".into())],
        ..cfg("http://127.0.0.1:1/v1/traces", Signing::Off)
    };
    assert!(matches!(
        OtlpHttpExporter::new(bad_value, None),
        Err(ExportConfigError::InvalidHeader { .. })
    ));
}

#[test]
fn host_header_keeps_non_default_ports() {
    let e =
        OtlpHttpExporter::new(cfg("http://127.0.0.1:4318/v1/traces", Signing::Off), None).unwrap();
    assert_eq!(e.host_header, "127.0.0.1:4318");
    let e = OtlpHttpExporter::new(
        cfg(
            "https://xray.us-east-1.amazonaws.com:443/v1/traces",
            Signing::Off,
        ),
        None,
    )
    .unwrap();
    assert_eq!(e.host_header, "xray.us-east-1.amazonaws.com");
}

#[test]
fn error_message_table() {
    let status = RpcStatus {
        code: 3,
        message: "bad span".into(),
    }
    .encode_to_vec();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("application/x-protobuf", status, "bad span"),
        (
            "application/json",
            br#"{"code":3,"message":"json bad"}"#.to_vec(),
            "json bad",
        ),
        (
            "application/x-amz-json-1.1",
            br#"{"Message":"aws bad"}"#.to_vec(),
            "aws bad",
        ),
        ("", br#"{"message":"no type"}"#.to_vec(), "no type"),
        ("text/plain", b"  plain words \n".to_vec(), "plain words"),
        ("application/json", b"not json".to_vec(), "not json"),
        ("text/plain", Vec::new(), "(empty response body)"),
    ];
    for (ct, body, want) in cases {
        assert_eq!(error_message(ct, &body), want, "{ct}");
    }
    let long = "é".repeat(600);
    let msg = error_message("text/plain", long.as_bytes());
    assert_eq!(msg.chars().count(), 501);
}

#[test]
fn explains_transaction_search_and_auth() {
    let signed = OtlpHttpExporter::new(
        cfg(
            "https://xray.us-east-1.amazonaws.com/v1/traces",
            Signing::Auto,
        ),
        creds(),
    )
    .unwrap();
    let msg = signed.explain(
        StatusCode::BAD_REQUEST,
        "The OTLP API is supported with CloudWatch Logs as a Trace Segment Destination.".into(),
    );
    assert!(
        msg.contains("Transaction Search") && msg.contains("PutTraceSegments"),
        "{msg}"
    );
    let msg = signed.explain(StatusCode::FORBIDDEN, "signature mismatch".into());
    assert!(
        msg.starts_with("signature mismatch (") && msg.contains("credentials"),
        "{msg}"
    );
    let msg = signed.explain(StatusCode::BAD_REQUEST, "other".into());
    assert_eq!(msg, "other");
}

#[test]
fn retryable_statuses() {
    for code in [429u16, 500, 502, 503, 504] {
        assert!(is_retryable(StatusCode::from_u16(code).unwrap()), "{code}");
    }
    for code in [400u16, 401, 403, 404, 413, 301] {
        assert!(!is_retryable(StatusCode::from_u16(code).unwrap()), "{code}");
    }
}

#[test]
fn reserved_headers_are_ignored() {
    let c = OtlpHttpConfig {
        headers: vec![
            ("Content-Type".into(), "text/plain".into()),
            ("Host".into(), "elsewhere".into()),
            ("x-custom".into(), "1".into()),
        ],
        ..cfg("http://127.0.0.1:4318/v1/traces", Signing::Off)
    };
    let e = OtlpHttpExporter::new(c, None).unwrap();
    let names: Vec<&str> = e.headers.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, vec!["x-custom"]);
}

#[test]
fn expired_credentials_are_recognised_by_code_or_message() {
    let forbidden = StatusCode::FORBIDDEN;
    // AWS JSON errors (the x-amzn-errortype header and/or the body's __type).
    assert!(is_expired_credentials(
        forbidden,
        Some("ExpiredTokenException:http://internal.amazon.com/coral/com.amazon.coral.service/"),
        b""
    ));
    assert!(is_expired_credentials(
        forbidden,
        None,
        br#"{"__type":"com.amazon.coral.service#ExpiredTokenException","message":"x"}"#
    ));
    assert!(is_expired_credentials(
        StatusCode::BAD_REQUEST,
        None,
        br#"{"message":"The security token included in the request is expired"}"#
    ));
    assert!(is_expired_credentials(
        forbidden,
        Some("InvalidSignatureException"),
        b"Signature expired: 20261205T050000Z is now earlier than 20261205T051000Z"
    ));
    assert!(is_expired_credentials(
        forbidden,
        Some("RequestExpired"),
        b""
    ));
    // Other refusals stay refusals.
    assert!(!is_expired_credentials(
        forbidden,
        Some("AccessDeniedException"),
        br#"{"message":"User is not authorized to perform: xray:PutTraceSegments"}"#
    ));
    assert!(!is_expired_credentials(
        forbidden,
        Some("InvalidSignatureException"),
        b"The request signature we calculated does not match the signature you provided."
    ));
    assert!(!is_expired_credentials(
        StatusCode::SERVICE_UNAVAILABLE,
        Some("ExpiredTokenException"),
        b""
    ));
}

/// Issue 11: an endpoint's `user:password@` and query string never reach an
/// error (nor, through the same helper, a log line).
#[tokio::test]
async fn endpoint_secrets_stay_out_of_errors() {
    let secrets = ["admin", "s3cr3t", "k3y"];
    let check = |what: &str, text: &str| {
        for s in secrets {
            assert!(!text.contains(s), "{what} shows {s}: {text}");
        }
    };
    // Refused at construction.
    let err = OtlpHttpExporter::new(
        cfg(
            "ftp://admin:s3cr3t@collector/v1/traces?api_key=k3y",
            Signing::Off,
        ),
        None,
    )
    .unwrap_err();
    check("InvalidEndpoint", &err.to_string());
    check("InvalidEndpoint Debug", &format!("{err:?}"));
    let err = OtlpHttpExporter::new(
        cfg(
            "https://admin:s3cr3t@collector.example/v1/traces?api_key=k3y",
            force(Some("xray"), None),
        ),
        creds(),
    )
    .unwrap_err();
    check("MissingRegion", &err.to_string());

    // A transport failure: nothing listens on the port.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let exporter = OtlpHttpExporter::new(
        OtlpHttpConfig {
            retry: crate::export::RetryPolicy::none(),
            ..cfg(
                &format!("http://admin:s3cr3t@127.0.0.1:{port}/v1/traces?api_key=k3y"),
                Signing::Off,
            )
        },
        None,
    )
    .unwrap();
    check("exporter Debug", &format!("{exporter:?}"));
    let batch = ExportTraceServiceRequest {
        resource_spans: vec![opentelemetry_proto::tonic::trace::v1::ResourceSpans {
            scope_spans: vec![opentelemetry_proto::tonic::trace::v1::ScopeSpans {
                spans: vec![opentelemetry_proto::tonic::trace::v1::Span {
                    trace_id: vec![1; 16],
                    span_id: vec![2; 8],
                    name: "s".into(),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let err = exporter.export(batch).await.unwrap_err();
    let text = err.to_string();
    assert!(text.contains("127.0.0.1"), "{text}");
    check("transport error", &text);
}
