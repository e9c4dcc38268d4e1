//! OTLP/HTTP receiver: `POST /v1/traces`, `/v1/metrics`, `/v1/logs` (each
//! when its signal has a sink) with `application/x-protobuf` or
//! `application/json`, optionally `Content-Encoding: gzip`.
//!
//! Responses follow the OTLP/HTTP spec: 200 with the signal's export
//! response in the request's encoding (with `partial_success` when items
//! were refused); 4xx/5xx with a
//! `google.rpc.Status` body in the request's encoding; 503 +
//! `Retry-After` when the sink pushes back (retryable; 429 is not used).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use prost::Message;

use super::decode::{self, DecodeError};
use super::deliver::{Shared, deliver};
use super::signal::{Logs, Metrics, OtlpSignal, Signal, Traces};
use super::sink::{Backpressure, Encoding, RequestMeta, Reservation, Sink, Transport};
use super::status::{CODE_INVALID_ARGUMENT, CODE_UNAVAILABLE, RpcStatus, retry_after_seconds};

const PROTOBUF: &str = "application/x-protobuf";
const JSON: &str = "application/json";

/// The axum router of the HTTP receiver: one route per signal with a sink.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let mut router = Router::new();
    if shared.sinks.traces.is_some() {
        router = router.route(Signal::Traces.http_path(), post(export::<Traces>));
    }
    if shared.sinks.metrics.is_some() {
        router = router.route(Signal::Metrics.http_path(), post(export::<Metrics>));
    }
    if shared.sinks.logs.is_some() {
        router = router.route(Signal::Logs.http_path(), post(export::<Logs>));
    }
    let served: Vec<&str> = Signal::ALL
        .iter()
        .filter(|s| shared.sinks.serves(**s))
        .map(|s| s.http_path())
        .collect();
    let msg: Arc<str> = format!(
        "not found: this OTLP/HTTP receiver accepts POST on {}",
        served.join(", ")
    )
    .into();
    router
        .fallback(move || not_found(Arc::clone(&msg)))
        .with_state(shared)
}

async fn not_found(msg: Arc<str>) -> Response {
    plain(StatusCode::NOT_FOUND, &msg)
}

fn plain(status: StatusCode, msg: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        msg.to_owned(),
    )
        .into_response()
}

/// `application/x-protobuf` / `application/json` (parameters such as `charset` ignored).
fn content_type(headers: &HeaderMap) -> Result<Encoding, String> {
    let raw = headers.get(header::CONTENT_TYPE).ok_or_else(|| {
        "missing Content-Type: use application/x-protobuf or application/json".to_owned()
    })?;
    let value = raw.to_str().unwrap_or_default();
    let media = value.split(';').next().unwrap_or_default().trim();
    if media.eq_ignore_ascii_case(PROTOBUF) || media.eq_ignore_ascii_case("application/protobuf") {
        Ok(Encoding::Protobuf)
    } else if media.eq_ignore_ascii_case(JSON) {
        Ok(Encoding::Json)
    } else {
        Err(format!(
            "unsupported Content-Type {value:?}: use application/x-protobuf or application/json"
        ))
    }
}

/// `true` for gzip, `false` for none/identity.
fn content_encoding(headers: &HeaderMap) -> Result<bool, String> {
    let Some(raw) = headers.get(header::CONTENT_ENCODING) else {
        return Ok(false);
    };
    let value = raw.to_str().unwrap_or_default().trim();
    if value.eq_ignore_ascii_case("gzip") || value.eq_ignore_ascii_case("x-gzip") {
        Ok(true)
    } else if value.is_empty() || value.eq_ignore_ascii_case("identity") {
        Ok(false)
    } else {
        Err(format!(
            "unsupported Content-Encoding {value:?}: use gzip or none"
        ))
    }
}

/// A `google.rpc.Status` response in the request's encoding.
fn status_response(http: StatusCode, encoding: Encoding, status: &RpcStatus) -> Response {
    let (ctype, body) = match encoding {
        Encoding::Protobuf => (PROTOBUF, status.encode_to_vec()),
        Encoding::Json => (JSON, status.to_json()),
    };
    (http, [(header::CONTENT_TYPE, ctype)], body).into_response()
}

fn decode_error_response(err: &DecodeError, encoding: Encoding) -> Response {
    match err {
        DecodeError::Malformed(m) => status_response(
            StatusCode::BAD_REQUEST,
            encoding,
            &RpcStatus::new(CODE_INVALID_ARGUMENT, m.clone()),
        ),
        DecodeError::TooLarge { .. } => status_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            encoding,
            // Not retryable: the same body will never fit.
            &RpcStatus::new(CODE_INVALID_ARGUMENT, err.to_string()),
        ),
    }
}

/// 200 with the export response: protobuf, or proto3 JSON (`{}` or
/// `{"partialSuccess":{"rejectedSpans":"2","errorMessage":"..."}}`, int64 as a string).
fn ok_response<S: OtlpSignal>(encoding: Encoding, resp: &S::Response) -> Response {
    let (ctype, body) = match encoding {
        Encoding::Protobuf => (PROTOBUF, resp.encode_to_vec()),
        Encoding::Json => (JSON, S::response_json(resp)),
    };
    (StatusCode::OK, [(header::CONTENT_TYPE, ctype)], body).into_response()
}

/// Why a body could not be taken.
enum BodyError {
    /// Undecodable or too large.
    Decode(DecodeError),
    /// The sink's memory bound refused to hold more bytes.
    Busy(Backpressure),
    /// The body did not arrive within the request timeout.
    Timeout,
}

impl From<DecodeError> for BodyError {
    fn from(e: DecodeError) -> Self {
        Self::Decode(e)
    }
}

/// Reads the body, refusing more than `limit` bytes. Every chunk is
/// accounted with the sink ([`Sink::reserve`](super::Sink::reserve))
/// before it is kept: the whole declared `Content-Length` up front when
/// there is one, else chunk by chunk. A single-chunk body is not copied.
async fn read_body<B: 'static>(
    body: Body,
    limit: usize,
    declared: Option<u64>,
    sink: &dyn Sink<B>,
    held: &mut Vec<Reservation>,
) -> Result<Bytes, BodyError> {
    let mut stream = body.into_data_stream();
    let mut first: Option<Bytes> = None;
    let mut rest: Option<BytesMut> = None;
    let mut total = 0usize;
    let mut reserved = 0usize;
    if let Some(len) = declared {
        let len = usize::try_from(len).unwrap_or(usize::MAX).min(limit);
        held.push(sink.reserve(len).map_err(BodyError::Busy)?);
        reserved = len;
    }
    while let Some(chunk) = stream.next().await {
        let chunk = chunk
            .map_err(|e| DecodeError::Malformed(format!("failed to read request body: {e}")))?;
        total = total.saturating_add(chunk.len());
        if total > limit {
            return Err(DecodeError::TooLarge {
                limit,
                decompressed: false,
            }
            .into());
        }
        if total > reserved {
            held.push(sink.reserve(total - reserved).map_err(BodyError::Busy)?);
            reserved = total;
        }
        match (&mut first, &mut rest) {
            (None, _) => first = Some(chunk),
            (Some(f), None) => {
                let mut buf = BytesMut::with_capacity(f.len() + chunk.len());
                buf.extend_from_slice(f);
                buf.extend_from_slice(&chunk);
                rest = Some(buf);
            }
            (Some(_), Some(buf)) => buf.extend_from_slice(&chunk),
        }
    }
    Ok(match (first, rest) {
        (_, Some(buf)) => buf.freeze(),
        (Some(f), None) => f,
        (None, None) => Bytes::new(),
    })
}

fn backpressure_response(encoding: Encoding, bp: Backpressure) -> Response {
    let status = RpcStatus::with_retry(CODE_UNAVAILABLE, bp.reason, bp.retry_after);
    let mut resp = status_response(StatusCode::SERVICE_UNAVAILABLE, encoding, &status);
    resp.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from(retry_after_seconds(bp.retry_after)),
    );
    resp
}

async fn export<S: OtlpSignal>(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    // Routed only for signals with a sink.
    let Some(sink) = S::sink(&shared.sinks).cloned() else {
        return plain(StatusCode::NOT_FOUND, "not found");
    };
    shared.stats.request();
    let encoding = match content_type(&headers) {
        Ok(e) => e,
        Err(msg) => {
            shared.stats.malformed();
            return plain(StatusCode::UNSUPPORTED_MEDIA_TYPE, &msg);
        }
    };
    let gzip = match content_encoding(&headers) {
        Ok(g) => g,
        Err(msg) => {
            shared.stats.malformed();
            return plain(StatusCode::UNSUPPORTED_MEDIA_TYPE, &msg);
        }
    };
    let limit = shared.max_body_bytes;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    // Bytes accounted with the sink while this request holds its body.
    let mut held = Vec::new();
    let result = async {
        if declared.is_some_and(|len| len > limit as u64) {
            return Err(DecodeError::TooLarge {
                limit,
                decompressed: false,
            }
            .into());
        }
        let read = read_body(body, limit, declared, &*sink, &mut held);
        let raw = match shared.request_timeout {
            Some(t) => match tokio::time::timeout(t, read).await {
                Ok(r) => r?,
                Err(_) => return Err(BodyError::Timeout),
            },
            None => read.await?,
        };
        let plain = if gzip {
            let plain = decode::gunzip(&raw, limit)?;
            held.push(sink.reserve(plain.len()).map_err(BodyError::Busy)?);
            plain
        } else {
            raw
        };
        let body_bytes = plain.len();
        Ok((
            decode::decode_of::<S>(plain, encoding, shared.decode)?,
            body_bytes,
        ))
    }
    .await;
    let (batch, body_bytes) = match result {
        Ok(ok) => ok,
        Err(BodyError::Busy(bp)) => {
            shared.stats.backpressured(S::SIGNAL, 0);
            tracing::debug!(%peer, reason = %bp.reason, "OTLP/HTTP body refused before decoding");
            return backpressure_response(encoding, bp);
        }
        Err(BodyError::Timeout) => {
            shared.stats.malformed();
            return plain(
                StatusCode::REQUEST_TIMEOUT,
                "the request body did not arrive within the request timeout",
            );
        }
        Err(BodyError::Decode(err)) => {
            match err {
                DecodeError::Malformed(_) => shared.stats.malformed(),
                DecodeError::TooLarge { .. } => shared.stats.too_large(),
            }
            tracing::debug!(%peer, error = %err, "OTLP/HTTP request refused");
            return decode_error_response(&err, encoding);
        }
    };
    let meta = RequestMeta {
        signal: S::SIGNAL,
        transport: Transport::Http,
        encoding,
        gzip,
        body_bytes,
        items: 0,
        peer: Some(peer),
    };
    // The body is gone once decoded (the batch owns its own copies): give
    // its bytes back before the sink accounts the decoded batch, or a
    // request larger than half the budget could never get in.
    drop(held);
    match deliver::<S>(&shared, batch, meta) {
        Ok(resp) => ok_response::<S>(encoding, &resp),
        Err(bp) => backpressure_response(encoding, bp),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types() {
        let h = |ct: Option<&str>, ce: Option<&str>| {
            let mut m = HeaderMap::new();
            if let Some(ct) = ct {
                m.insert(header::CONTENT_TYPE, HeaderValue::from_str(ct).unwrap());
            }
            if let Some(ce) = ce {
                m.insert(header::CONTENT_ENCODING, HeaderValue::from_str(ce).unwrap());
            }
            m
        };
        let cases = [
            (Some("application/x-protobuf"), Ok(Encoding::Protobuf)),
            (Some("Application/X-Protobuf"), Ok(Encoding::Protobuf)),
            (Some("application/json"), Ok(Encoding::Json)),
            (Some("application/json; charset=utf-8"), Ok(Encoding::Json)),
            (Some("text/plain"), Err(())),
            (Some("application/jsonx"), Err(())),
            (None, Err(())),
        ];
        for (ct, want) in cases {
            assert_eq!(content_type(&h(ct, None)).map_err(|_| ()), want, "{ct:?}");
        }
        for (ce, want) in [
            (None, Ok(false)),
            (Some("gzip"), Ok(true)),
            (Some("GZIP"), Ok(true)),
            (Some("identity"), Ok(false)),
            (Some("br"), Err(())),
            (Some("deflate"), Err(())),
        ] {
            assert_eq!(
                content_encoding(&h(None, ce)).map_err(|_| ()),
                want,
                "{ce:?}"
            );
        }
    }
}
