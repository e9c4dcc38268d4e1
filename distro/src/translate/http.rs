//! The `http` block and the error/fault/throttle flags (spec "`http` from
//! …" and "Flags from HTTP status").

use std::borrow::Cow;

use opentelemetry_proto::tonic::common::v1::KeyValue;

use opentelemetry_proto::tonic::common::v1::any_value::Value as Av;

use super::attrs::{kv, kv_int, kv_str};
use super::document::{Http, HttpResponse};
use super::index::{Key, SpanAttrs};
use super::to_segment::out::{ClientIpFrom, HttpOut, HttpRequestOut};

/// Span attribute for `http.request.x_forwarded_for` (the collector's name).
pub const X_FORWARDED_FOR_ATTRIBUTE: &str = "aws.xray.x_forwarded_for";
/// Span attribute for a subsegment's `traced` flag (top level or
/// `http.request.traced`; the collector's name).
pub const TRACED_ATTRIBUTE: &str = "aws.xray.traced";

const METHOD: &[Key] = &[Key::HttpRequestMethod, Key::HttpMethod];
const URL: &[Key] = &[Key::UrlFull, Key::HttpUrl];
const USER_AGENT: &[Key] = &[Key::UserAgentOriginal, Key::HttpUserAgent];
const CLIENT_IP: &[Key] = &[Key::ClientAddress, Key::HttpClientIp];
/// The address of the connection's peer (a proxy, when there is one).
const PEER_IP: &[Key] = &[
    Key::NetworkPeerAddress,
    Key::NetPeerIp,
    Key::NetSockPeerAddr,
];
const STATUS: &[Key] = &[Key::HttpResponseStatusCode, Key::HttpStatusCode];
const LENGTH: &[Key] = &[Key::HttpResponseBodySize, Key::HttpResponseContentLength];

impl HttpOut<'_> {
    /// True for the attribute keys this `http` block carries whole (they
    /// are not repeated in metadata; [`to_attributes`] gives them back).
    pub(crate) fn consumes(&self, key: Key) -> bool {
        if CLIENT_IP.contains(&key) {
            return matches!(self.client_ip_from, ClientIpFrom::Client { .. });
        }
        if PEER_IP.contains(&key) {
            return matches!(
                self.client_ip_from,
                ClientIpFrom::Peer | ClientIpFrom::Client { peer_same: true }
            );
        }
        if key == Key::XrayXForwardedFor {
            return self.x_forwarded_for_attribute;
        }
        [METHOD, URL, USER_AGENT, STATUS, LENGTH]
            .iter()
            .any(|keys| keys.contains(&key))
    }
}

/// The first of `keys` whose value is an IP address (X-Ray's `client_ip`
/// holds an address; a host name stays in metadata, as in the collector).
fn ip_of<'a>(attrs: &SpanAttrs<'a>, keys: &[Key]) -> Option<Cow<'a, str>> {
    keys.iter().find_map(|k| {
        attrs
            .str_of(std::slice::from_ref(k))
            .filter(|s| s.parse::<std::net::IpAddr>().is_ok())
    })
}

/// `client_ip`, `x_forwarded_for` and where they came from. The collector's
/// rule: the client address is the requester; without a peer address it
/// came from `X-Forwarded-For`. Ours adds: a peer address that differs
/// from the client address means the same (docs/xray.md). The span's own
/// [`X_FORWARDED_FOR_ATTRIBUTE`] (a legacy document's flag) wins.
fn client_ip<'a>(
    attrs: &SpanAttrs<'a>,
) -> (Option<Cow<'a, str>>, Option<bool>, ClientIpFrom, bool) {
    let client = ip_of(attrs, CLIENT_IP);
    let peer = ip_of(attrs, PEER_IP);
    let (ip, inferred, from) = match (client, peer) {
        (Some(c), None) => (
            Some(c),
            Some(true),
            ClientIpFrom::Client { peer_same: false },
        ),
        (Some(c), Some(p)) => {
            let same = c == p;
            (
                Some(c),
                (!same).then_some(true),
                ClientIpFrom::Client { peer_same: same },
            )
        }
        (None, Some(p)) => (Some(p), None, ClientIpFrom::Peer),
        (None, None) => (None, None, ClientIpFrom::None),
    };
    let explicit = match attrs.get(Key::XrayXForwardedFor) {
        Some(Av::BoolValue(b)) if ip.is_some() => Some(*b),
        _ => None,
    };
    (ip, explicit.or(inferred), from, explicit.is_some())
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
    let (client_ip, x_forwarded_for, client_ip_from, x_forwarded_for_attribute) = client_ip(attrs);
    let request = HttpRequestOut {
        method,
        url,
        user_agent: attrs.str_of(USER_AGENT),
        client_ip,
        x_forwarded_for,
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
        client_ip_from,
        x_forwarded_for_attribute,
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
            // Not forwarded: the address is the connection's peer too (so
            // the way back does not read it as forwarded).
            if req.x_forwarded_for != Some(true) {
                out.push(kv_str("network.peer.address", v.as_str()));
            }
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
