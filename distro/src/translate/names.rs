//! Segment names: which attribute names a (sub)segment, and the character
//! rules X-Ray applies to names (spec "OTel span → segment translation").

use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;

use super::attrs::{get, str_of};
use opentelemetry_proto::tonic::common::v1::any_value::Value as Av;

/// Longest segment name X-Ray accepts, in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// The name used when nothing usable is left.
pub const FALLBACK_NAME: &str = "span";

/// True when the span is a call to an AWS API (`rpc.system=aws-api` or
/// `aws.service` set).
pub(crate) fn is_aws_call(attrs: &[KeyValue]) -> bool {
    matches!(get(attrs, "rpc.system"), Some(Av::StringValue(s)) if s == "aws-api")
        || matches!(get(attrs, "aws.service"), Some(Av::StringValue(s)) if !s.is_empty())
}

/// The unsanitised name, by the spec's priority: `peer.service`, then
/// `aws.service`/`rpc.service` for AWS calls, then `db.name` (`@host`), then
/// the resource `service.name` for SERVER spans, then
/// `server.address`/`http.host`, else the span name.
pub(crate) fn raw_name<'a>(
    span_name: &'a str,
    kind: SpanKind,
    attrs: &[KeyValue],
    service_name: Option<&'a str>,
) -> std::borrow::Cow<'a, str> {
    use std::borrow::Cow;
    if let Some(peer) = str_of(attrs, &["peer.service"]) {
        return Cow::Owned(peer);
    }
    if is_aws_call(attrs)
        && let Some(svc) = str_of(attrs, &["aws.service", "rpc.service"])
    {
        return Cow::Owned(svc);
    }
    if let Some(db) = str_of(attrs, &["db.name", "db.namespace"]) {
        return Cow::Owned(match str_of(attrs, &["server.address", "net.peer.name"]) {
            Some(host) => format!("{db}@{host}"),
            None => db,
        });
    }
    if kind == SpanKind::Server
        && let Some(svc) = service_name.filter(|s| !s.is_empty())
    {
        return Cow::Borrowed(svc);
    }
    if let Some(host) = str_of(attrs, &["server.address", "http.host"]) {
        return Cow::Owned(host);
    }
    Cow::Borrowed(span_name)
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
    !name.is_empty() && name.chars().count() <= MAX_NAME_CHARS && name.chars().all(allowed)
}
