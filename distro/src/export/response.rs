//! Reading an OTLP/HTTP response: which statuses to retry, the human
//! message in an error body, bounded body reads.

use bytes::Bytes;
use http::StatusCode;
use prost::Message;

/// Response bodies are read up to this size (error messages, partial success).
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// 429, 502, 503, 504 and every other 5xx are worth retrying.
pub(crate) fn is_retryable(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error()
}

/// AWS error codes that say the request's credentials (or its signature's
/// time) are no longer valid. Fresh credentials make the same request
/// succeed, so these are retried after the credentials cache is dropped
/// instead of being refused like other 4xx (Lambda execution-role and
/// container credentials rotate; a cached copy can outlive them).
const EXPIRED_CREDENTIAL_CODES: &[&str] =
    &["expiredtoken", "expiredtokenexception", "requestexpired"];

/// True when a 400/401/403 answer names expired credentials: by the AWS error
/// code in `x-amzn-errortype` or the body's `__type`/`code`, or by the
/// messages AWS sends with them ("security token included in the request is
/// expired", "Signature expired").
pub(crate) fn is_expired_credentials(
    status: StatusCode,
    error_type: Option<&str>,
    body: &[u8],
) -> bool {
    if !matches!(status.as_u16(), 400 | 401 | 403) {
        return false;
    }
    // `x-amzn-errortype: ExpiredTokenException:http://internal.amazon.com/...`
    let code_of = |t: &str| {
        let t = t.split(':').next().unwrap_or(t);
        let t = t.rsplit('#').next().unwrap_or(t);
        t.trim().to_ascii_lowercase()
    };
    if error_type.is_some_and(|t| EXPIRED_CREDENTIAL_CODES.contains(&code_of(t).as_str())) {
        return true;
    }
    let json_code = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            ["__type", "code", "Code"]
                .iter()
                .find_map(|k| v.get(k).and_then(|c| c.as_str()).map(code_of))
        });
    if json_code.is_some_and(|c| EXPIRED_CREDENTIAL_CODES.contains(&c.as_str())) {
        return true;
    }
    let text = String::from_utf8_lossy(&body[..body.len().min(4096)]).to_ascii_lowercase();
    text.contains("security token included in the request is expired")
        || text.contains("signature expired")
}

pub(crate) fn describe_transport_error(
    err: &reqwest::Error,
    timeout: std::time::Duration,
) -> String {
    if err.is_timeout() {
        format!("no response within {timeout:?}")
    } else if err.is_connect() {
        format!("cannot connect: {}", without_secrets(err))
    } else {
        format!("request failed: {}", without_secrets(err))
    }
}

/// reqwest's message names the request URL (reqwest moves `user:password@`
/// into a header, but keeps the query string): print it redacted.
fn without_secrets(err: &reqwest::Error) -> String {
    let text = err.to_string();
    match err.url() {
        Some(url) => text.replace(url.as_str(), &crate::config::redact::url(url.as_str())),
        None => text,
    }
}

pub(crate) async fn read_limited(mut response: reqwest::Response) -> Result<Bytes, reqwest::Error> {
    let mut out = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        let room = MAX_RESPONSE_BYTES - out.len();
        out.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if out.len() >= MAX_RESPONSE_BYTES {
            break;
        }
    }
    Ok(Bytes::from(out))
}

/// google.rpc.Status, the OTLP/HTTP protobuf error body.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct RpcStatus {
    #[prost(int32, tag = "1")]
    pub(crate) code: i32,
    #[prost(string, tag = "2")]
    pub(crate) message: String,
}

/// The human message of an error body: google.rpc.Status (protobuf or JSON),
/// an AWS JSON error (`message`/`Message`), or the text itself.
pub(crate) fn error_message(content_type: &str, body: &[u8]) -> String {
    const MAX_CHARS: usize = 500;
    if body.is_empty() {
        return "(empty response body)".to_owned();
    }
    let from_structured = if content_type.contains("protobuf") {
        RpcStatus::decode(body).ok().map(|s| s.message)
    } else if content_type.contains("json") || body.first() == Some(&b'{') {
        serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|v| {
                ["message", "Message", "errorMessage"]
                    .iter()
                    .find_map(|k| v.get(k).and_then(|m| m.as_str()).map(str::to_owned))
                    .or_else(|| {
                        v.get("error")
                            .and_then(|e| e.get("message"))
                            .and_then(|m| m.as_str())
                            .map(str::to_owned)
                    })
            })
    } else {
        None
    };
    let text = from_structured
        .filter(|m| !m.trim().is_empty())
        .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
    let text = text.trim();
    match text.char_indices().nth(MAX_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}
