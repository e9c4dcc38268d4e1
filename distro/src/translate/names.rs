//! Segment names: which attribute names a (sub)segment, and the character
//! rules X-Ray applies to names (spec "OTel span → segment translation").

use std::borrow::Cow;

use opentelemetry_proto::tonic::trace::v1::span::SpanKind;

use super::index::{Key, SpanAttrs};

/// Longest segment name X-Ray accepts, in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// The name used when nothing usable is left.
pub const FALLBACK_NAME: &str = "span";

/// The unsanitised name: ADOT's Application Signals names first
/// (`aws.local.service` for SERVER spans and INTERNAL local roots,
/// `aws.remote.service` for CLIENT, PRODUCER and CONSUMER spans, `AWS::` /
/// `AWS.SDK.` cut for AWS calls), then the spec's priority: `peer.service`,
/// then `aws.service`/`rpc.service` for AWS calls, then `db.name`
/// (`@host`), then the resource `service.name` for SERVER spans, then
/// `rpc.service`, then `server.address`/`http.host`/`net.peer.name`, else
/// the span name.
pub(crate) fn raw_name<'a>(
    span_name: &'a str,
    kind: SpanKind,
    attrs: &SpanAttrs<'a>,
    service_name: Option<&'a str>,
) -> Cow<'a, str> {
    match kind {
        SpanKind::Server => {
            if let Some(local) = attrs.str_of(&[Key::AwsLocalService]) {
                return local;
            }
        }
        SpanKind::Internal if attrs.is_local_root() => {
            if let Some(local) = attrs.str_of(&[Key::AwsLocalService]) {
                return local;
            }
        }
        SpanKind::Client | SpanKind::Producer | SpanKind::Consumer => {
            if let Some(remote) = remote_service(attrs) {
                return remote;
            }
        }
        _ => {}
    }
    if let Some(peer) = attrs.str_of(&[Key::PeerService]) {
        return peer;
    }
    if attrs.is_aws_call()
        && let Some(svc) = attrs.str_of(&[Key::AwsService, Key::RpcService])
    {
        return svc;
    }
    if let Some(db) = attrs.str_of(&[Key::DbName, Key::DbNamespace]) {
        return match attrs.str_of(&[Key::ServerAddress, Key::NetPeerName]) {
            Some(host) => Cow::Owned(format!("{db}@{host}")),
            None => db,
        };
    }
    if kind == SpanKind::Server
        && let Some(svc) = service_name.filter(|s| !s.is_empty())
    {
        return Cow::Borrowed(svc);
    }
    if let Some(rpc) = attrs.str_of(&[Key::RpcService]) {
        return rpc;
    }
    if let Some(host) = attrs.str_of(&[Key::ServerAddress, Key::HttpHost, Key::NetPeerName]) {
        return host;
    }
    Cow::Borrowed(span_name)
}

/// `aws.remote.service`, its `AWS::` or `AWS.SDK.` prefix cut for AWS calls.
pub(crate) fn remote_service<'a>(attrs: &SpanAttrs<'a>) -> Option<Cow<'a, str>> {
    Some(match attrs.str_of(&[Key::AwsRemoteService])? {
        Cow::Borrowed(r) if attrs.is_aws_call() => Cow::Borrowed(
            r.strip_prefix("AWS::")
                .or_else(|| r.strip_prefix("AWS.SDK."))
                .unwrap_or(r),
        ),
        other => other,
    })
}

/// True for the characters X-Ray keeps in a name: space, digits, letters
/// (`\p{L}`; `char::is_alphabetic` is the std approximation) and `_.:/%&#=+-@`.
fn allowed(c: char) -> bool {
    c == ' ' || c.is_ascii_digit() || c.is_alphabetic() || "_.:/%&#=+-@".contains(c)
}

/// Removes the characters outside `[ 0-9\p{L}N_.:/%&#=+\-@]`, keeps at most
/// [`MAX_NAME_CHARS`] characters; an empty result becomes [`FALLBACK_NAME`].
pub fn sanitize_name(name: &str) -> String {
    let out: String = name
        .chars()
        .filter(|&c| allowed(c))
        .take(MAX_NAME_CHARS)
        .collect();
    if out.is_empty() {
        FALLBACK_NAME.to_owned()
    } else {
        out
    }
}

/// True when `name` is already what [`sanitize_name`] would make of it.
pub(crate) fn is_clean_name(name: &str) -> bool {
    if name.is_ascii() {
        // The common case, byte by byte: a character is a byte.
        return !name.is_empty()
            && name.len() <= MAX_NAME_CHARS
            && name.bytes().all(|b| allowed(char::from(b)));
    }
    !name.is_empty() && name.chars().count() <= MAX_NAME_CHARS && name.chars().all(allowed)
}
