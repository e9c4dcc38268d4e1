//! The `http` block and the error/fault/throttle flags (spec "`http` from
//! …" and "Flags from HTTP status").

use opentelemetry_proto::tonic::common::v1::KeyValue;

use super::attrs::{int_of, kv_int, kv_str, str_of};
use super::document::{Http, HttpRequest, HttpResponse};

const METHOD: &[&str] = &["http.request.method", "http.method"];
const URL: &[&str] = &["url.full", "http.url"];
const USER_AGENT: &[&str] = &["user_agent.original", "http.user_agent"];
const CLIENT_IP: &[&str] = &["client.address", "http.client_ip"];
const STATUS: &[&str] = &["http.response.status_code", "http.status_code"];
const LENGTH: &[&str] = &["http.response.body.size", "http.response_content_length"];

/// Attribute keys the `http` block carries whole (they are not repeated in
/// metadata; [`to_attributes`] gives them back).
pub(crate) const CONSUMED: &[&str] = &[
    "http.request.method",
    "http.method",
    "url.full",
    "http.url",
    "user_agent.original",
    "http.user_agent",
    "client.address",
    "http.client_ip",
    "http.response.status_code",
    "http.status_code",
    "http.response.body.size",
    "http.response_content_length",
];

/// Builds the URL from its parts when there is no full URL: scheme
/// (default `http`), `server.address`/`http.host`, port unless the scheme's
/// default, `url.path`/`http.target`, `url.query`.
fn composed_url(attrs: &[KeyValue]) -> Option<String> {
    let host = str_of(attrs, &["server.address", "http.host", "net.host.name"])?;
    let scheme = str_of(attrs, &["url.scheme", "http.scheme"]).unwrap_or_else(|| "http".into());
    let mut url = format!("{scheme}://{host}");
    if let Some(port) = int_of(attrs, &["server.port", "net.host.port"]) {
        let default = matches!((scheme.as_str(), port), ("http", 80) | ("https", 443));
        if !default && !host.contains(':') {
            url.push_str(&format!(":{port}"));
        }
    }
    match str_of(attrs, &["url.path", "http.target"]) {
        Some(p) if p.starts_with('/') => url.push_str(&p),
        Some(p) => {
            url.push('/');
            url.push_str(&p);
        }
        None => url.push('/'),
    }
    if let Some(q) = str_of(attrs, &["url.query"]) {
        url.push('?');
        url.push_str(q.trim_start_matches('?'));
    }
    Some(url)
}

/// The `http` block, or `None` when the span has no HTTP attributes.
pub(crate) fn from_attributes(attrs: &[KeyValue]) -> Option<Http> {
    let method = str_of(attrs, METHOD);
    let url = str_of(attrs, URL).or_else(|| method.as_ref().and_then(|_| composed_url(attrs)));
    let request = HttpRequest {
        method,
        url,
        user_agent: str_of(attrs, USER_AGENT),
        client_ip: str_of(attrs, CLIENT_IP),
        x_forwarded_for: None,
    };
    let response = HttpResponse {
        status: int_of(attrs, STATUS),
        content_length: int_of(attrs, LENGTH),
    };
    let has_request = request != HttpRequest::default();
    let has_response = response != HttpResponse::default();
    if !has_request && !has_response {
        return None;
    }
    Some(Http {
        request: has_request.then_some(request),
        response: has_response.then_some(response),
    })
}

/// `(error, fault, throttle)`: 429 → throttle + error; other 4xx → error;
/// 5xx → fault; span status ERROR without a 4xx/5xx status code → fault.
pub fn flags(http_status: Option<i64>, status_is_error: bool) -> (bool, bool, bool) {
    match http_status {
        Some(429) => (true, false, true),
        Some(400..=499) => (true, false, false),
        Some(500..=599) => (false, true, false),
        _ => (false, status_is_error, false),
    }
}

/// The `http` block back as OTel (current semantic conventions) attributes.
pub(crate) fn to_attributes(http: &Http, out: &mut Vec<KeyValue>) {
    if let Some(req) = &http.request {
        if let Some(v) = &req.method {
            out.push(kv_str("http.request.method", v.as_str()));
        }
        if let Some(v) = &req.url {
            out.push(kv_str("url.full", v.as_str()));
        }
        if let Some(v) = &req.user_agent {
            out.push(kv_str("user_agent.original", v.as_str()));
        }
        if let Some(v) = &req.client_ip {
            out.push(kv_str("client.address", v.as_str()));
        }
    }
    if let Some(resp) = &http.response {
        if let Some(v) = resp.status {
            out.push(kv_int("http.response.status_code", v));
        }
        if let Some(v) = resp.content_length {
            out.push(kv_int("http.response.body.size", v));
        }
    }
}
