//! A fake EC2 instance metadata service speaking IMDSv2, on `127.0.0.1:0`.
//!
//! - `PUT /latest/api/token` needs `X-aws-ec2-metadata-token-ttl-seconds`
//!   between 1 and 21600 (else 400) and answers a fresh token (text/plain),
//!   echoing the TTL header, as IMDS does.
//! - `GET /latest/dynamic/instance-identity/document` and
//!   `GET /latest/meta-data/hostname` need `X-aws-ec2-metadata-token` set to
//!   an unexpired issued token (else 401).
//! - [`TokenMode::Hang`] accepts the token request and never answers (to
//!   test time bounds); [`TokenMode::V1Only`] answers the token `PUT` with a
//!   fixed status (IMDSv1-only hosts answer 403 or 404) and serves the
//!   `GET`s without a token.
//!
//! Every request is recorded before it is answered.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode, Uri};

use crate::server::{RecordedRequest, RequestLog, RunningServer, ServerError};

/// Header with the requested token lifetime (token `PUT`).
pub const TOKEN_TTL_HEADER: &str = "x-aws-ec2-metadata-token-ttl-seconds";
/// Header with the session token (metadata `GET`s).
pub const TOKEN_HEADER: &str = "x-aws-ec2-metadata-token";
/// Token path.
pub const TOKEN_PATH: &str = "/latest/api/token";
/// Instance identity document path.
pub const IDENTITY_DOCUMENT_PATH: &str = "/latest/dynamic/instance-identity/document";
/// Hostname path.
pub const HOSTNAME_PATH: &str = "/latest/meta-data/hostname";

/// The instance identity document from the EC2 user guide ("Instance
/// identity documents"), as IMDS serves it.
pub const DEFAULT_IDENTITY_DOCUMENT: &str = r#"{
    "accountId" : "0123456789",
    "architecture" : "x86_64",
    "availabilityZone" : "us-west-2b",
    "billingProducts" : null,
    "devpayProductCodes" : null,
    "marketplaceProductCodes" : [ "1abc2defghijklm3nopqrs4tu" ],
    "imageId" : "ami-5fb8c835",
    "instanceId" : "i-1234567890abcdef0",
    "instanceType" : "t2.micro",
    "kernelId" : null,
    "pendingTime" : "2016-11-19T16:32:11Z",
    "privateIp" : "10.158.112.84",
    "ramdiskId" : null,
    "region" : "us-west-2",
    "version" : "2017-09-30"
}"#;

/// The hostname matching [`DEFAULT_IDENTITY_DOCUMENT`]'s private IP.
pub const DEFAULT_HOSTNAME: &str = "ip-10-158-112-84.us-west-2.compute.internal";

/// How the token endpoint behaves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenMode {
    /// IMDSv2 (tokens required).
    V2,
    /// The token `PUT` is recorded and never answered.
    Hang,
    /// IMDSv1 only: the token `PUT` answers this status; `GET`s need no token.
    V1Only {
        /// Status of the token `PUT` (403 or 404 on real hosts).
        put_status: StatusCode,
    },
}

/// What the fake serves.
#[derive(Clone, Debug)]
pub struct ImdsConfig {
    /// Body of the identity document.
    pub identity_document: String,
    /// Body of `meta-data/hostname`.
    pub hostname: String,
    /// Token endpoint behaviour.
    pub token_mode: TokenMode,
}

impl Default for ImdsConfig {
    fn default() -> Self {
        Self {
            identity_document: DEFAULT_IDENTITY_DOCUMENT.to_string(),
            hostname: DEFAULT_HOSTNAME.to_string(),
            token_mode: TokenMode::V2,
        }
    }
}

impl ImdsConfig {
    /// Default documents with a token endpoint that never answers.
    pub fn hanging_token() -> Self {
        Self {
            token_mode: TokenMode::Hang,
            ..Self::default()
        }
    }

    /// Default documents on an IMDSv1-only host answering `put_status` to the token `PUT`.
    pub fn v1_only(put_status: StatusCode) -> Self {
        Self {
            token_mode: TokenMode::V1Only { put_status },
            ..Self::default()
        }
    }
}

#[derive(Debug)]
struct Inner {
    config: ImdsConfig,
    log: RequestLog,
    /// Issued tokens and when they expire.
    tokens: Mutex<Vec<(String, Instant)>>,
}

/// A running fake IMDS. Dropping it stops the server.
#[derive(Debug)]
pub struct FakeImds {
    server: RunningServer,
    inner: Arc<Inner>,
}

impl FakeImds {
    /// Starts the fake on a fresh loopback port (inside a tokio runtime).
    pub async fn start(config: ImdsConfig) -> Result<FakeImds, ServerError> {
        let inner = Arc::new(Inner {
            config,
            log: RequestLog::default(),
            tokens: Mutex::new(Vec::new()),
        });
        let router = Router::new().fallback(handle).with_state(inner.clone());
        let server = RunningServer::start(router).await?;
        Ok(FakeImds { server, inner })
    }

    /// Base URL, `http://127.0.0.1:<port>` (the value for `AWS_EC2_METADATA_SERVICE_ENDPOINT`).
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.inner.log.all()
    }

    /// Every token issued so far, in order.
    pub fn issued_tokens(&self) -> Vec<String> {
        self.inner
            .tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(token, _)| token.clone())
            .collect()
    }
}

async fn handle(
    State(inner): State<Arc<Inner>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    inner.log.push(RecordedRequest::new(
        method.clone(),
        &uri,
        headers.clone(),
        body,
    ));
    match (uri.path(), &method) {
        (TOKEN_PATH, &Method::PUT) => issue_token(&inner, &headers).await,
        (TOKEN_PATH, _) => StatusCode::METHOD_NOT_ALLOWED.into_response(),
        (IDENTITY_DOCUMENT_PATH, &Method::GET) => {
            guarded(&inner, &headers, inner.config.identity_document.clone())
        }
        (HOSTNAME_PATH, &Method::GET) => guarded(&inner, &headers, inner.config.hostname.clone()),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn issue_token(inner: &Inner, headers: &HeaderMap) -> Response {
    match &inner.config.token_mode {
        TokenMode::Hang => std::future::pending::<Response>().await,
        TokenMode::V1Only { put_status } => put_status.into_response(),
        TokenMode::V2 => {
            let ttl = headers
                .get(TOKEN_TTL_HEADER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .filter(|ttl| (1..=21_600).contains(ttl));
            let Some(ttl) = ttl else {
                return StatusCode::BAD_REQUEST.into_response();
            };
            let mut tokens = inner.tokens.lock().unwrap_or_else(|p| p.into_inner());
            let token = format!("AQAEAFakeImdsToken{:04}==", tokens.len() + 1);
            tokens.push((token.clone(), Instant::now() + Duration::from_secs(ttl)));
            (
                [
                    (http::header::CONTENT_TYPE, "text/plain".to_string()),
                    (
                        http::HeaderName::from_static(TOKEN_TTL_HEADER),
                        ttl.to_string(),
                    ),
                ],
                token,
            )
                .into_response()
        }
    }
}

fn guarded(inner: &Inner, headers: &HeaderMap, body: String) -> Response {
    let token_optional = matches!(inner.config.token_mode, TokenMode::V1Only { .. });
    let valid = headers
        .get(TOKEN_HEADER)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|presented| {
            inner
                .tokens
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .iter()
                .any(|(token, expires)| token == presented && Instant::now() < *expires)
        });
    if token_optional || valid {
        ([(http::header::CONTENT_TYPE, "text/plain")], body).into_response()
    } else {
        StatusCode::UNAUTHORIZED.into_response()
    }
}
