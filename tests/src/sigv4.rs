//! An independent AWS Signature Version 4 verifier, written from the AWS
//! SigV4 documentation and checked against botocore-signed known-answer
//! vectors (`tests/fixtures/sigv4/botocore_signed.json`).
//!
//! Hand-written on purpose: the distro signs with the `aws-sigv4` crate, and
//! verifying with the same crate would prove nothing. It follows what AWS
//! services other than S3 do: the path is normalised (dot segments and empty
//! segments removed) and URI-encoded again ("double encoding"), query
//! parameters are decoded, re-encoded and sorted, header values are trimmed
//! and their inner whitespace collapsed, and the payload hash is the hex
//! SHA-256 of the body (or the `x-amz-content-sha256` header, which must then
//! match the body). Rejections carry the `x-amzn-errortype` AWS uses.

mod amz_date;
mod canonical;

use std::time::{Duration, SystemTime};

use http::{HeaderMap, HeaderValue, Method};
use sha2::{Digest, Sha256};

pub use amz_date::{format_amz_date, parse_amz_date};
pub use canonical::{canonical_request, signing_key, string_to_sign};
use canonical::{constant_time_eq, hmac_sha256};

/// The only algorithm SigV4 header authentication uses.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// How far the request time may be from the server clock (AWS: 5 minutes).
pub const MAX_CLOCK_SKEW: Duration = Duration::from_secs(5 * 60);

/// Headers botocore never signs (hop-by-hop or changed by proxies); the
/// [`sign`] helper skips them too.
const UNSIGNED_HEADERS: &[&str] = &[
    "authorization",
    "baggage",
    "connection",
    "expect",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "traceparent",
    "tracestate",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "user-agent",
    "x-amzn-trace-id",
];

/// AWS credentials the fake knows (the "account" side of the verification).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    /// Access key id (`AKID...`, or `ASIA...` for temporary credentials).
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: String,
    /// Session token of temporary credentials; when set, requests must carry
    /// it in `x-amz-security-token`.
    pub session_token: Option<String>,
}

impl Credentials {
    /// The example credentials of the AWS SigV4 documentation:
    /// `AKIDEXAMPLE` / `wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY`, no session token.
    pub fn test() -> Self {
        Self {
            access_key_id: "AKIDEXAMPLE".to_owned(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".to_owned(),
            session_token: None,
        }
    }
}

/// What a fake expects of a signed request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SigV4Expect {
    /// The only credentials the fake accepts.
    pub credentials: Credentials,
    /// Region that must appear in the credential scope (e.g. `us-east-1`).
    pub region: String,
    /// Signing name that must appear in the credential scope (`xray`, `logs`).
    pub service: String,
}

impl SigV4Expect {
    /// [`Credentials::test`] with the given region and service.
    pub fn test(region: &str, service: &str) -> Self {
        Self {
            credentials: Credentials::test(),
            region: region.to_owned(),
            service: service.to_owned(),
        }
    }
}

/// Why a request's signature was rejected. Every variant maps to a 403 with
/// the `x-amzn-errortype` of [`SigV4Error::aws_error_type`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigV4Error {
    /// No `Authorization` header at all.
    #[error("Missing Authentication Token")]
    Missing,
    /// The `Authorization` header or `x-amz-date` is malformed or incomplete.
    #[error("{0}")]
    Malformed(String),
    /// The access key id in the credential scope is not the one the fake knows.
    #[error("The security token included in the request is invalid. (unknown access key id '{0}')")]
    UnknownAccessKey(String),
    /// The credentials have a session token but the request carries none.
    #[error(
        "The security token included in the request is invalid. (missing x-amz-security-token)"
    )]
    MissingSecurityToken,
    /// `x-amz-security-token` differs from the credentials' token (or is sent
    /// with long-term credentials).
    #[error("The security token included in the request is invalid.")]
    InvalidSecurityToken,
    /// The scope date is not the date part of `x-amz-date`.
    #[error(
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{scope_date}' != '{amz_date_day}', from '{amz_date}'."
    )]
    ScopeDateMismatch {
        /// Date in the credential scope.
        scope_date: String,
        /// `YYYYMMDD` of `x-amz-date`.
        amz_date_day: String,
        /// The full `x-amz-date`.
        amz_date: String,
    },
    /// The credential scope names another region.
    #[error("Credential should be scoped to a valid region, not '{got}'. (expected '{expected}')")]
    WrongRegion {
        /// Region the fake serves.
        expected: String,
        /// Region in the scope.
        got: String,
    },
    /// The credential scope names another service.
    #[error("Credential should be scoped to correct service: '{expected}'. (got '{got}')")]
    WrongService {
        /// Service the fake is.
        expected: String,
        /// Service in the scope.
        got: String,
    },
    /// The scope does not end in `aws4_request`.
    #[error("Credential should be scoped with a valid terminator: 'aws4_request', not '{0}'.")]
    WrongTerminator(String),
    /// The request time is more than [`MAX_CLOCK_SKEW`] before the server clock.
    #[error("Signature expired: {request_time} is now earlier than {limit} ({now} - 5 min.)")]
    Expired {
        /// `x-amz-date` of the request.
        request_time: String,
        /// Earliest accepted time.
        limit: String,
        /// Server clock.
        now: String,
    },
    /// The request time is more than [`MAX_CLOCK_SKEW`] after the server clock.
    #[error(
        "Signature not yet current: {request_time} is still later than {limit} ({now} + 5 min.)"
    )]
    NotYetCurrent {
        /// `x-amz-date` of the request.
        request_time: String,
        /// Latest accepted time.
        limit: String,
        /// Server clock.
        now: String,
    },
    /// `host` is not among the signed headers.
    #[error("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")]
    HostNotSigned,
    /// A header listed in `SignedHeaders` is not in the request.
    #[error(
        "The request signature we calculated does not match the signature you provided: signed header '{0}' is not in the request."
    )]
    SignedHeaderMissing(String),
    /// `x-amz-content-sha256` does not match the body.
    #[error(
        "The provided 'x-amz-content-sha256' header does not match what was computed. (header '{header}', body sha256 '{computed}')"
    )]
    PayloadHashMismatch {
        /// Value of the header.
        header: String,
        /// Hex SHA-256 of the body received.
        computed: String,
    },
    /// The signature is not the one the fake computes.
    #[error(
        "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.\n\nThe Canonical String for this request should have been\n'{canonical_request}'\n\nThe String-to-Sign should have been\n'{string_to_sign}'\n"
    )]
    SignatureMismatch {
        /// The canonical request the fake computed.
        canonical_request: String,
        /// The string to sign the fake computed.
        string_to_sign: String,
    },
}

impl SigV4Error {
    /// The `x-amzn-errortype` AWS JSON services answer with (HTTP 403).
    pub fn aws_error_type(&self) -> &'static str {
        match self {
            Self::Missing => "MissingAuthenticationTokenException",
            Self::Malformed(_) => "IncompleteSignatureException",
            Self::UnknownAccessKey(_) | Self::MissingSecurityToken | Self::InvalidSecurityToken => {
                "UnrecognizedClientException"
            }
            Self::ScopeDateMismatch { .. }
            | Self::WrongRegion { .. }
            | Self::WrongService { .. }
            | Self::WrongTerminator(_)
            | Self::Expired { .. }
            | Self::NotYetCurrent { .. }
            | Self::HostNotSigned
            | Self::SignedHeaderMissing(_)
            | Self::PayloadHashMismatch { .. }
            | Self::SignatureMismatch { .. } => "InvalidSignatureException",
        }
    }

    /// The HTTP status AWS answers with (always 403 for signature problems).
    pub fn http_status(&self) -> u16 {
        403
    }
}

/// The parts of an `Authorization: AWS4-HMAC-SHA256 ...` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationHeader {
    /// Access key id from `Credential=`.
    pub access_key_id: String,
    /// `YYYYMMDD` from the scope.
    pub scope_date: String,
    /// Region from the scope.
    pub region: String,
    /// Service from the scope.
    pub service: String,
    /// Scope terminator (should be `aws4_request`).
    pub terminator: String,
    /// Lower-cased signed header names, in the order given.
    pub signed_headers: Vec<String>,
    /// Hex signature.
    pub signature: String,
}

/// Parses an `Authorization` header value.
pub fn parse_authorization(value: &str) -> Result<AuthorizationHeader, SigV4Error> {
    let (algorithm, rest) = value.trim().split_once(' ').unwrap_or((value.trim(), ""));
    if algorithm != ALGORITHM {
        return Err(SigV4Error::Malformed(format!(
            "Unsupported Authorization Type '{algorithm}' (expected {ALGORITHM})"
        )));
    }
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let Some((k, v)) = part.trim().split_once('=') else {
            continue;
        };
        match k.trim() {
            "Credential" => credential = Some(v.trim()),
            "SignedHeaders" => signed = Some(v.trim()),
            "Signature" => signature = Some(v.trim()),
            _ => {}
        }
    }
    let mut missing = Vec::new();
    for (name, v) in [
        ("Credential", credential),
        ("Signature", signature),
        ("SignedHeaders", signed),
    ] {
        if v.is_none_or(str::is_empty) {
            missing.push(format!("Authorization header requires '{name}' parameter."));
        }
    }
    let (Some(credential), Some(signed), Some(signature), true) =
        (credential, signed, signature, missing.is_empty())
    else {
        return Err(SigV4Error::Malformed(format!(
            "{} Authorization={value}",
            missing.join(" ")
        )));
    };
    let parts: Vec<&str> = credential.split('/').collect();
    let [akid, date, region, service, terminator] = parts.as_slice() else {
        return Err(SigV4Error::Malformed(format!(
            "Credential should have 5 '/'-separated parts (AKID/date/region/service/aws4_request), got '{credential}'"
        )));
    };
    Ok(AuthorizationHeader {
        access_key_id: (*akid).to_owned(),
        scope_date: (*date).to_owned(),
        region: (*region).to_owned(),
        service: (*service).to_owned(),
        terminator: (*terminator).to_owned(),
        signed_headers: signed
            .split(';')
            .map(|h| h.trim().to_ascii_lowercase())
            .collect(),
        signature: signature.to_owned(),
    })
}

/// Verifies a request's SigV4 header signature as an AWS service would.
///
/// `path_and_query` is the request target exactly as received (still
/// percent-encoded); `body` the raw bytes as sent (before decompression);
/// `now` the server clock.
pub fn verify(
    method: &Method,
    path_and_query: &str,
    headers: &HeaderMap,
    body: &[u8],
    expect: &SigV4Expect,
    now: SystemTime,
) -> Result<(), SigV4Error> {
    let auth = headers
        .get(http::header::AUTHORIZATION)
        .ok_or(SigV4Error::Missing)?;
    let auth = parse_authorization(&String::from_utf8_lossy(auth.as_bytes()))?;
    let amz_date = header_str(headers, "x-amz-date").ok_or_else(|| {
        SigV4Error::Malformed(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
                .to_owned(),
        )
    })?;
    let request_time = parse_amz_date(&amz_date).ok_or_else(|| {
        SigV4Error::Malformed(format!(
            "X-Amz-Date must be in the ISO8601 basic format YYYYMMDD'T'HHMMSS'Z', got '{amz_date}'"
        ))
    })?;

    let creds = &expect.credentials;
    if auth.access_key_id != creds.access_key_id {
        return Err(SigV4Error::UnknownAccessKey(auth.access_key_id));
    }
    match (
        &creds.session_token,
        header_str(headers, "x-amz-security-token"),
    ) {
        (Some(_), None) => return Err(SigV4Error::MissingSecurityToken),
        (Some(want), Some(got)) if *want != got => return Err(SigV4Error::InvalidSecurityToken),
        (None, Some(_)) => return Err(SigV4Error::InvalidSecurityToken),
        _ => {}
    }
    if auth.scope_date != amz_date[..8] {
        return Err(SigV4Error::ScopeDateMismatch {
            scope_date: auth.scope_date,
            amz_date_day: amz_date[..8].to_owned(),
            amz_date,
        });
    }
    if auth.region != expect.region {
        return Err(SigV4Error::WrongRegion {
            expected: expect.region.clone(),
            got: auth.region,
        });
    }
    if auth.service != expect.service {
        return Err(SigV4Error::WrongService {
            expected: expect.service.clone(),
            got: auth.service,
        });
    }
    if auth.terminator != "aws4_request" {
        return Err(SigV4Error::WrongTerminator(auth.terminator));
    }
    check_skew(request_time, now, &amz_date)?;
    if !auth
        .signed_headers
        .iter()
        .any(|h| h == "host" || h == ":authority")
    {
        return Err(SigV4Error::HostNotSigned);
    }

    let body_hash = hex::encode(Sha256::digest(body));
    let payload_hash = match header_str(headers, "x-amz-content-sha256") {
        Some(h) if h != body_hash => {
            return Err(SigV4Error::PayloadHashMismatch {
                header: h,
                computed: body_hash,
            });
        }
        _ => body_hash,
    };
    let canonical = canonical_request(
        method,
        path_and_query,
        headers,
        &auth.signed_headers,
        &payload_hash,
    )?;
    let scope = format!(
        "{}/{}/{}/aws4_request",
        auth.scope_date, expect.region, expect.service
    );
    let sts = string_to_sign(&amz_date, &scope, &canonical);
    let key = signing_key(
        &creds.secret_access_key,
        &auth.scope_date,
        &expect.region,
        &expect.service,
    );
    let want = hex::encode(hmac_sha256(&key, sts.as_bytes()));
    if !constant_time_eq(
        want.as_bytes(),
        auth.signature.to_ascii_lowercase().as_bytes(),
    ) {
        return Err(SigV4Error::SignatureMismatch {
            canonical_request: canonical,
            string_to_sign: sts,
        });
    }
    Ok(())
}

fn check_skew(request_time: SystemTime, now: SystemTime, amz_date: &str) -> Result<(), SigV4Error> {
    let fmt = |t: SystemTime| format_amz_date(t);
    if request_time + MAX_CLOCK_SKEW < now {
        return Err(SigV4Error::Expired {
            request_time: amz_date.to_owned(),
            limit: fmt(now - MAX_CLOCK_SKEW),
            now: fmt(now),
        });
    }
    if request_time > now + MAX_CLOCK_SKEW {
        return Err(SigV4Error::NotYetCurrent {
            request_time: amz_date.to_owned(),
            limit: fmt(now + MAX_CLOCK_SKEW),
            now: fmt(now),
        });
    }
    Ok(())
}

/// Signs a request in place (adds `x-amz-date`, `x-amz-security-token` when
/// the credentials have one, and `authorization`), signing every header
/// present except the ones botocore leaves out (`user-agent`, hop-by-hop...),
/// with `signer`'s credentials, region and service. `headers` must contain `host`. For tests of the fakes; checked against the
/// botocore vectors before anything relies on it.
pub fn sign(
    method: &Method,
    path_and_query: &str,
    headers: &mut HeaderMap,
    body: &[u8],
    signer: &SigV4Expect,
    at: SystemTime,
) -> Result<(), SigV4Error> {
    let (credentials, region, service) = (
        &signer.credentials,
        signer.region.as_str(),
        signer.service.as_str(),
    );
    let bad = |what: &str| SigV4Error::Malformed(format!("cannot sign: {what}"));
    if !headers.contains_key(http::header::HOST) {
        return Err(bad("the request has no host header"));
    }
    let amz_date = format_amz_date(at);
    headers.remove(http::header::AUTHORIZATION);
    headers.insert(
        "x-amz-date",
        HeaderValue::from_str(&amz_date).map_err(|_| bad("date"))?,
    );
    if let Some(token) = &credentials.session_token {
        headers.insert(
            "x-amz-security-token",
            HeaderValue::from_str(token).map_err(|_| bad("token"))?,
        );
    }
    let signed: Vec<String> = headers
        .keys()
        .map(|k| k.as_str().to_owned())
        .filter(|k| !UNSIGNED_HEADERS.contains(&k.as_str()))
        .collect();
    let payload_hash = header_str(headers, "x-amz-content-sha256")
        .unwrap_or_else(|| hex::encode(Sha256::digest(body)));
    let canonical = canonical_request(method, path_and_query, headers, &signed, &payload_hash)?;
    let date = &amz_date[..8];
    let scope = format!("{date}/{region}/{service}/aws4_request");
    let sts = string_to_sign(&amz_date, &scope, &canonical);
    let signature = hex::encode(hmac_sha256(
        &signing_key(&credentials.secret_access_key, date, region, service),
        sts.as_bytes(),
    ));
    let mut names: Vec<&str> = signed.iter().map(String::as_str).collect();
    names.sort_unstable();
    names.dedup();
    let value = format!(
        "{ALGORITHM} Credential={}/{scope}, SignedHeaders={}, Signature={signature}",
        credentials.access_key_id,
        names.join(";")
    );
    headers.insert(
        http::header::AUTHORIZATION,
        HeaderValue::from_str(&value).map_err(|_| bad("authorization"))?,
    );
    Ok(())
}

fn header_str(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).trim().to_owned())
}
