//! The `http` block and the error/fault/throttle flags (spec "`http` from
//! …" and "Flags from HTTP status").

use std::borrow::Cow;

use opentelemetry_proto::tonic::common::v1::KeyValue;

use opentelemetry_proto::tonic::common::v1::any_value::Value as Av;

use super::attrs::{kv, kv_int, kv_str};
use super::document::{Http, HttpResponse};
use super::index::{Key, SpanAttrs};
use super::to_segment::out::{HttpOut, HttpRequestOut};

/// Span attribute for `http.request.x_forwarded_for` (the collector's name).
pub const X_FORWARDED_FOR_ATTRIBUTE: &str = "aws.xray.x_forwarded_for";
/// Span attribute for a subsegment's `traced` flag (top level or
/// `http.request.traced`; the collector's name).
pub const TRACED_ATTRIBUTE: &str = "aws.xray.traced";

const METHOD: &[Key] = &[Key::HttpRequestMethod, Key::HttpMethod];
const URL: &[Key] = &[Key::UrlFull, Key::HttpUrl];
const USER_AGENT: &[Key] = &[Key::UserAgentOriginal, Key::HttpUserAgent];
const CLIENT_IP: &[Key] = &[Key::ClientAddress, Key::HttpClientIp];
const STATUS: &[Key] = &[Key::HttpResponseStatusCode, Key::HttpStatusCode];
const LENGTH: &[Key] = &[Key::HttpResponseBodySize, Key::HttpResponseContentLength];

/// True for the attribute keys the `http` block carries whole (they are not
/// repeated in metadata; [`to_attributes`] gives them back).
pub(crate) fn consumes(key: Key) -> bool {
    [METHOD, URL, USER_AGENT, CLIENT_IP, STATUS, LENGTH]
        .iter()
        .any(|keys| keys.contains(&key))
}

/// Builds the URL from its parts when there is no full URL: scheme
/// (default `http`), `server.address`/`http.host`/`net.host.name`/
/// `net.peer.name`, port (`server.port`/`net.host.port`/`net.peer.port`)
/// unless the scheme's default, `url.path`/`http.target`, `url.query`.
fn composed_url(attrs: &SpanAttrs<'_>) -> Option<String> {
    let host = attrs.str_of(&[
        Key::ServerAddress,
        Key::HttpHost,
        Key::NetHostName,
        Key::NetPeerName,
    ])?;
    let scheme = attrs
        .str_of(&[Key::UrlScheme, Key::HttpScheme])
        .unwrap_or(Cow::Borrowed("http"));
    let mut url = format!("{scheme}://{host}");
    if let Some(port) = attrs.int_of(&[Key::ServerPort, Key::NetHostPort, Key::NetPeerPort]) {
        let default = matches!((scheme.as_ref(), port), ("http", 80) | ("https", 443));
        if !default && !host.contains(':') {
            url.push_str(&format!(":{port}"));
        }
    }
    match attrs.str_of(&[Key::UrlPath, Key::HttpTarget]) {
        Some(p) if p.starts_with('/') => url.push_str(&p),
        Some(p) => {
            url.push('/');
            url.push_str(&p);
        }
        None => url.push('/'),
    }
    if let Some(q) = attrs.str_of(&[Key::UrlQuery]) {
        url.push('?');
        url.push_str(q.trim_start_matches('?'));
    }
    Some(url)
}

/// The `http` block, or `None` when the span has no HTTP attributes.
pub(crate) fn from_attributes<'a>(attrs: &SpanAttrs<'a>) -> Option<HttpOut<'a>> {
    let method = attrs.str_of(METHOD);
    let url = attrs.str_of(URL).or_else(|| {
        method
            .as_ref()
            .and_then(|_| composed_url(attrs).map(Cow::Owned))
    });
    let request = HttpRequestOut {
        method,
        url,
        user_agent: attrs.str_of(USER_AGENT),
        client_ip: attrs.str_of(CLIENT_IP),
    };
    let response = HttpResponse {
        status: attrs.int_of(STATUS),
        content_length: attrs.int_of(LENGTH),
    };
    let has_request = request != HttpRequestOut::default();
    let has_response = response != HttpResponse::default();
    if !has_request && !has_response {
        return None;
    }
    Some(HttpOut {
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

/// The `http` block back as OTel (current semantic conventions) attributes
/// (strings move out of the block).
pub(crate) fn to_attributes(http: Http, out: &mut Vec<KeyValue>) {
    if let Some(req) = http.request {
        if let Some(v) = req.method {
            out.push(kv_str("http.request.method", v));
        }
        if let Some(v) = req.url {
            out.push(kv_str("url.full", v));
        }
        if let Some(v) = req.user_agent {
            out.push(kv_str("user_agent.original", v));
        }
        if let Some(v) = req.client_ip {
            out.push(kv_str("client.address", v));
        }
        if let Some(v) = req.x_forwarded_for {
            out.push(kv(X_FORWARDED_FOR_ATTRIBUTE, Av::BoolValue(v)));
        }
        if let Some(v) = req.traced {
            out.push(kv(TRACED_ATTRIBUTE, Av::BoolValue(v)));
        }
    }
    if let Some(resp) = http.response {
        if let Some(v) = resp.status {
            out.push(kv_int("http.response.status_code", v));
        }
        if let Some(v) = resp.content_length {
            out.push(kv_int("http.response.body.size", v));
        }
    }
}
