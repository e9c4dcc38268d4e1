//! SigV4 signing of one request with aws-sigv4, over the exact bytes sent:
//! the OTLP exporter's requests, and any other AWS call the distro's users
//! forward (the sidecar's X-Ray sampling proxy).

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;

use super::ExportError;

/// Service and region requests are signed for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SigningTarget {
    /// SigV4 service name (`xray`, `logs`).
    pub service: String,
    /// Signing region (`us-east-1`).
    pub region: String,
}

/// Signs a request and returns the headers to add (`authorization`,
/// `x-amz-date`, and `x-amz-security-token` for session credentials).
///
/// `headers` must be every header that will be sent and signed, including
/// `host` (with the port when it is not the scheme's default); `body` the
/// exact (compressed) body bytes; `time` the signing time (`SystemTime::now()`
/// outside tests). Errors are [`ExportError::Signing`].
pub fn sign_request(
    target: &SigningTarget,
    creds: &Credentials,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    time: SystemTime,
) -> Result<Vec<(&'static str, String)>, ExportError> {
    let identity: Identity = creds.clone().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(&target.region)
        .name(&target.service)
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| ExportError::Signing(e.to_string()))?
        .into();
    let signable = SignableRequest::new(
        method,
        url,
        headers.iter().copied(),
        SignableBody::Bytes(body),
    )
    .map_err(|e| ExportError::Signing(e.to_string()))?;
    let (instructions, _signature) = sign(signable, &params)
        .map_err(|e| ExportError::Signing(e.to_string()))?
        .into_parts();
    let (out, _params) = instructions.into_parts();
    Ok(out
        .into_iter()
        .map(|h| (h.name(), h.value().to_owned()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn target() -> SigningTarget {
        SigningTarget {
            service: "xray".into(),
            region: "us-east-1".into(),
        }
    }

    fn signed(creds: &Credentials, secs: u64, body: &[u8]) -> Vec<(&'static str, String)> {
        sign_request(
            &target(),
            creds,
            "POST",
            "https://xray.us-east-1.amazonaws.com/v1/traces",
            &[
                ("host", "xray.us-east-1.amazonaws.com"),
                ("content-type", "application/x-protobuf"),
                ("content-encoding", "gzip"),
            ],
            body,
            SystemTime::UNIX_EPOCH + Duration::from_secs(secs),
        )
        .unwrap()
    }

    fn header<'a>(h: &'a [(&'static str, String)], name: &str) -> Option<&'a str> {
        h.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }

    #[test]
    fn produces_sigv4_headers() {
        let creds = Credentials::new("AKIDEXAMPLE", "secret", None, None, "test");
        // 2015-08-30T12:36:00Z, the date of the AWS SigV4 test suite.
        let h = signed(&creds, 1_440_938_160, b"body");
        assert_eq!(header(&h, "x-amz-date"), Some("20150830T123600Z"));
        let auth = header(&h, "authorization").unwrap();
        assert!(auth.starts_with(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/xray/aws4_request, SignedHeaders=content-encoding;content-type;host;x-amz-date, Signature="
        ), "{auth}");
        assert!(header(&h, "x-amz-security-token").is_none());
    }

    #[test]
    fn session_token_and_fresh_signature_per_time_and_body() {
        let creds = Credentials::new("AKID", "secret", Some("TOKEN".into()), None, "test");
        let a = signed(&creds, 1_700_000_000, b"body");
        let b = signed(&creds, 1_700_000_001, b"body");
        let c = signed(&creds, 1_700_000_000, b"other");
        assert_eq!(header(&a, "x-amz-security-token"), Some("TOKEN"));
        assert_ne!(header(&a, "authorization"), header(&b, "authorization"));
        assert_ne!(header(&a, "x-amz-date"), header(&b, "x-amz-date"));
        assert_ne!(header(&a, "authorization"), header(&c, "authorization"));
    }
}
