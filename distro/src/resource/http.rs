//! The HTTP layer the detectors share: a client that never uses a proxy
//! (metadata endpoints are link-local; an `HTTP_PROXY` must not see them or
//! the IMDS token), and requests bounded by [`REQUEST_TIMEOUT`] and by what
//! is left of the detection deadline.

use bytes::Bytes;
use tokio::time::Instant;

use super::REQUEST_TIMEOUT;
use crate::config::redact;

/// A client for metadata endpoints.
pub(super) fn client() -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder().no_proxy().build()
}

/// Why a metadata request gave nothing. URLs are kept redacted
/// ([`redact::url`]: an endpoint override may carry `user:password@`), and
/// reqwest's own error loses its copy of the URL.
#[derive(Debug, thiserror::Error)]
pub(super) enum FetchError {
    /// Connection or protocol failure.
    #[error("{url}: {source}")]
    Request {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    /// Non-success status.
    #[error("{url} answered HTTP {status}")]
    Status {
        url: String,
        status: reqwest::StatusCode,
    },
    /// No answer in time.
    #[error("{url} did not answer within {ms} ms")]
    Timeout { url: String, ms: u128 },
    /// The body is not the expected JSON document.
    #[error("{url} returned an unexpected document: {source}")]
    Json {
        url: String,
        #[source]
        source: serde_json::Error,
    },
}

/// Sends `request` (to `url`, for messages) and reads the body of a 2xx
/// answer, all within `min(REQUEST_TIMEOUT, deadline - now)`.
pub(super) async fn send(
    request: reqwest::RequestBuilder,
    url: &str,
    deadline: Instant,
) -> Result<Bytes, FetchError> {
    let budget = REQUEST_TIMEOUT.min(deadline.saturating_duration_since(Instant::now()));
    let exchange = async {
        let response = request.send().await.map_err(|source| FetchError::Request {
            url: redact::url(url).into_owned(),
            source: source.without_url(),
        })?;
        let status = response.status();
        if !status.is_success() {
            return Err(FetchError::Status {
                url: redact::url(url).into_owned(),
                status,
            });
        }
        response
            .bytes()
            .await
            .map_err(|source| FetchError::Request {
                url: redact::url(url).into_owned(),
                source: source.without_url(),
            })
    };
    tokio::time::timeout(budget, exchange)
        .await
        .unwrap_or_else(|_| {
            Err(FetchError::Timeout {
                url: redact::url(url).into_owned(),
                ms: budget.as_millis(),
            })
        })
}

/// [`send`], then parse the body as JSON.
pub(super) async fn send_json<T: serde::de::DeserializeOwned>(
    request: reqwest::RequestBuilder,
    url: &str,
    deadline: Instant,
) -> Result<T, FetchError> {
    let body = send(request, url, deadline).await?;
    serde_json::from_slice(&body).map_err(|source| FetchError::Json {
        url: redact::url(url).into_owned(),
        source,
    })
}
