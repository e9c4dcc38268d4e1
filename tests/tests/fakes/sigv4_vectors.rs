//! The SigV4 verifier against botocore's known-answer vectors.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, HeaderName, HeaderValue, Method};
use otel_aws_testkit::sigv4::{self, Credentials, SigV4Error, SigV4Expect};
use serde::Deserialize;

// ---------------------------------------------------------------- SigV4 ----

/// One request signed by botocore (tests/fixtures/sigv4/generate.py).
#[derive(Debug, Deserialize)]
struct Vector {
    name: String,
    service: String,
    region: String,
    access_key_id: String,
    secret_access_key: String,
    session_token: Option<String>,
    timestamp: String,
    method: String,
    path_and_query: String,
    headers: Vec<(String, String)>,
    body_hex: String,
    canonical_request: String,
    string_to_sign: String,
    signature: String,
}

#[derive(Debug, Deserialize)]
struct VectorFile {
    vectors: Vec<Vector>,
}

struct Signed {
    method: Method,
    path_and_query: String,
    headers: HeaderMap,
    body: Vec<u8>,
    expect: SigV4Expect,
    at: SystemTime,
}

impl Signed {
    fn verify(&self) -> Result<(), SigV4Error> {
        self.verify_at(self.at)
    }
    fn verify_at(&self, now: SystemTime) -> Result<(), SigV4Error> {
        sigv4::verify(
            &self.method,
            &self.path_and_query,
            &self.headers,
            &self.body,
            &self.expect,
            now,
        )
    }
}

fn vectors() -> Vec<Vector> {
    let file: VectorFile =
        serde_json::from_str(include_str!("../../fixtures/sigv4/botocore_signed.json")).unwrap();
    assert!(file.vectors.len() >= 10);
    file.vectors
}

fn signed(v: &Vector) -> Signed {
    let mut headers = HeaderMap::new();
    for (k, val) in &v.headers {
        headers.append(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(val).unwrap(),
        );
    }
    Signed {
        method: Method::from_bytes(v.method.as_bytes()).unwrap(),
        path_and_query: v.path_and_query.clone(),
        headers,
        body: hex::decode(&v.body_hex).unwrap(),
        expect: SigV4Expect {
            credentials: Credentials {
                access_key_id: v.access_key_id.clone(),
                secret_access_key: v.secret_access_key.clone(),
                session_token: v.session_token.clone(),
            },
            region: v.region.clone(),
            service: v.service.clone(),
        },
        at: sigv4::parse_amz_date(&v.timestamp).unwrap(),
    }
}

#[test]
fn aws_documentation_example_is_in_the_vectors() {
    // Published in the AWS SigV4 documentation ("Create a signed AWS API request"),
    // independently of botocore.
    let v = vectors()
        .into_iter()
        .find(|v| v.name == "aws-docs-iam-listusers")
        .unwrap();
    assert_eq!(
        v.signature,
        "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
    );
    signed(&v).verify().unwrap();
}

#[test]
fn every_botocore_vector_verifies() {
    for v in vectors() {
        let s = signed(&v);
        if let Err(err) = s.verify() {
            panic!(
                "{}: {err}\nbotocore canonical request:\n{}",
                v.name, v.canonical_request
            );
        }
    }
}

#[test]
fn canonical_request_and_string_to_sign_match_botocore() {
    for v in vectors() {
        let s = signed(&v);
        let auth =
            sigv4::parse_authorization(s.headers["authorization"].to_str().unwrap()).unwrap();
        let payload = v.canonical_request.rsplit('\n').next().unwrap().to_owned();
        let cr = sigv4::canonical_request(
            &s.method,
            &s.path_and_query,
            &s.headers,
            &auth.signed_headers,
            &payload,
        )
        .unwrap();
        assert_eq!(cr, v.canonical_request, "{}", v.name);
        let scope = format!(
            "{}/{}/{}/aws4_request",
            &v.timestamp[..8],
            v.region,
            v.service
        );
        assert_eq!(
            sigv4::string_to_sign(&v.timestamp, &scope, &cr),
            v.string_to_sign,
            "{}",
            v.name
        );
        assert_eq!(auth.signature, v.signature, "{}", v.name);
    }
}

#[test]
fn sign_helper_reproduces_botocore_authorization() {
    // The signing helper is used by the X-Ray API fake tests below; it is only
    // trusted because it reproduces every botocore Authorization header.
    for v in vectors() {
        let s = signed(&v);
        let mut headers = s.headers.clone();
        for h in ["authorization", "x-amz-date", "x-amz-security-token"] {
            headers.remove(h);
        }
        sigv4::sign(
            &s.method,
            &s.path_and_query,
            &mut headers,
            &s.body,
            &s.expect,
            s.at,
        )
        .unwrap();
        assert_eq!(
            headers["authorization"], s.headers["authorization"],
            "{}",
            v.name
        );
        assert_eq!(
            headers.get("x-amz-security-token"),
            s.headers.get("x-amz-security-token"),
            "{}",
            v.name
        );
    }
}

#[test]
fn mutations_are_rejected_with_the_right_error() {
    type Mutation = (&'static str, fn(&mut Signed), &'static str);
    let mutations: &[Mutation] = &[
        (
            "wrong secret",
            |s| s.expect.credentials.secret_access_key.push('x'),
            "InvalidSignatureException",
        ),
        (
            "wrong region",
            |s| s.expect.region = "eu-north-1".into(),
            "InvalidSignatureException",
        ),
        (
            "wrong service",
            |s| s.expect.service = "execute-api".into(),
            "InvalidSignatureException",
        ),
        (
            "body changed",
            |s| s.body.push(b'!'),
            "InvalidSignatureException",
        ),
        (
            "path changed",
            |s| s.path_and_query.insert_str(0, "/x"),
            "InvalidSignatureException",
        ),
        (
            "query added",
            |s| {
                s.path_and_query
                    .push_str(if s.path_and_query.contains('?') {
                        "&z=1"
                    } else {
                        "?z=1"
                    })
            },
            "InvalidSignatureException",
        ),
        (
            "method changed",
            |s| {
                s.method = if s.method == Method::PATCH {
                    Method::GET
                } else {
                    Method::PATCH
                }
            },
            "InvalidSignatureException",
        ),
        (
            "host changed",
            |s| {
                s.headers
                    .insert("host", HeaderValue::from_static("evil.example.com"));
            },
            "InvalidSignatureException",
        ),
        (
            "signed header added",
            |s| {
                s.headers
                    .append("x-amz-date", HeaderValue::from_static("20000101T000000Z"));
            },
            "InvalidSignatureException",
        ),
        (
            "stale (5 min + 1 s)",
            |s| s.at += Duration::from_secs(301),
            "InvalidSignatureException",
        ),
        (
            "future (5 min + 1 s)",
            |s| s.at -= Duration::from_secs(301),
            "InvalidSignatureException",
        ),
        (
            "unknown access key",
            |s| s.expect.credentials.access_key_id = "AKIDOTHER".into(),
            "UnrecognizedClientException",
        ),
        (
            "no authorization",
            |s| {
                s.headers.remove("authorization");
            },
            "MissingAuthenticationTokenException",
        ),
        (
            "no x-amz-date",
            |s| {
                s.headers.remove("x-amz-date");
            },
            "IncompleteSignatureException",
        ),
    ];
    for v in vectors() {
        for (what, mutate, error_type) in mutations {
            let mut s = signed(&v);
            mutate(&mut s);
            let err = s
                .verify()
                .expect_err(&format!("{}: {what} must be rejected", v.name));
            assert_eq!(
                err.aws_error_type(),
                *error_type,
                "{}: {what}: {err}",
                v.name
            );
            assert_eq!(err.http_status(), 403);
        }
    }
}

#[test]
fn rejections_name_the_specific_problem() {
    let all = vectors();
    let v = all
        .iter()
        .find(|v| v.name == "otlp-traces-protobuf")
        .unwrap();
    let check = |mutate: &dyn Fn(&mut Signed), pred: &dyn Fn(&SigV4Error) -> bool, what: &str| {
        let mut s = signed(v);
        mutate(&mut s);
        let err = s.verify().unwrap_err();
        assert!(pred(&err), "{what}: got {err:?}");
    };
    check(
        &|s| s.expect.region = "eu-west-1".into(),
        &|e| matches!(e, SigV4Error::WrongRegion { got, .. } if got == "us-east-1"),
        "region",
    );
    check(
        &|s| s.expect.service = "logs".into(),
        &|e| matches!(e, SigV4Error::WrongService { got, .. } if got == "xray"),
        "service",
    );
    check(
        &|s| s.at += Duration::from_secs(6 * 60),
        &|e| matches!(e, SigV4Error::Expired { .. }),
        "stale",
    );
    check(
        &|s| s.at -= Duration::from_secs(6 * 60),
        &|e| matches!(e, SigV4Error::NotYetCurrent { .. }),
        "future",
    );
    check(
        &|s| s.body.clear(),
        &|e| matches!(e, SigV4Error::SignatureMismatch { .. }),
        "body",
    );
    check(
        &|s| s.expect.credentials.session_token = Some("tok".into()),
        &|e| matches!(e, SigV4Error::MissingSecurityToken),
        "token",
    );
    check(
        &|s| {
            s.headers
                .insert("x-amz-security-token", HeaderValue::from_static("t"));
        },
        &|e| matches!(e, SigV4Error::InvalidSecurityToken),
        "extra token",
    );
    check(
        &|s| {
            s.headers.insert(
                "authorization",
                HeaderValue::from_static(
                    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240115/us-east-1/xray/aws4_request",
                ),
            );
        },
        &|e| matches!(e, SigV4Error::Malformed(m) if m.contains("Signature")),
        "incomplete",
    );
    check(
        &|s| {
            s.headers.insert(
                "authorization",
                HeaderValue::from_static("AWS4-HMAC-SHA1 Credential=x"),
            );
        },
        &|e| matches!(e, SigV4Error::Malformed(_)),
        "algorithm",
    );
    check(
        &|s| {
            s.headers
                .insert("x-amz-date", HeaderValue::from_static("20240116T103000Z"));
            s.at += Duration::from_secs(86_400);
        },
        &|e| matches!(e, SigV4Error::ScopeDateMismatch { .. }),
        "scope date",
    );
    // Exactly at the 5-minute limit is still accepted, both ways.
    let s = signed(v);
    s.verify_at(s.at + Duration::from_secs(300)).unwrap();
    s.verify_at(s.at - Duration::from_secs(300)).unwrap();

    // Session token vectors: a wrong or missing token is refused.
    let t = all
        .iter()
        .find(|v| v.name == "otlp-traces-gzip-session-token")
        .unwrap();
    let mut s = signed(t);
    s.headers.remove("x-amz-security-token");
    assert!(matches!(s.verify(), Err(SigV4Error::MissingSecurityToken)));
    let mut s = signed(t);
    s.expect.credentials.session_token = Some("other".into());
    assert!(matches!(s.verify(), Err(SigV4Error::InvalidSecurityToken)));

    // x-amz-content-sha256 must match the body.
    let c = all
        .iter()
        .find(|v| v.name == "explicit-content-sha256")
        .unwrap();
    let mut s = signed(c);
    s.body.push(0);
    assert!(matches!(
        s.verify(),
        Err(SigV4Error::PayloadHashMismatch { .. })
    ));
}

#[test]
fn amz_date_parse_and_format() {
    // Epoch seconds from Python's calendar.timegm.
    let table = [
        ("20150830T123600Z", Some(1_440_938_160)),
        ("20240229T235959Z", Some(1_709_251_199)),
        ("19700101T000000Z", Some(0)),
        ("21000301T000000Z", Some(4_107_542_400)),
        ("2015-08-30T12:36:00Z", None),
        ("20150830T123600", None),
        ("20151330T123600Z", None),
        ("2015083OT123600Z", None),
        ("", None),
    ];
    for (input, want) in table {
        let got =
            sigv4::parse_amz_date(input).map(|t| t.duration_since(UNIX_EPOCH).unwrap().as_secs());
        assert_eq!(got, want, "{input}");
        if want.is_some() {
            assert_eq!(
                sigv4::format_amz_date(sigv4::parse_amz_date(input).unwrap()),
                input
            );
        }
    }
}
