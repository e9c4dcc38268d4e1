//! OTLP/HTTP exporter over reqwest, SigV4-signed for the AWS endpoints; one
//! exporter sends one signal to its URL (`/v1/traces`, `/v1/metrics` or
//! `/v1/logs`).
//!
//! Not opentelemetry-otlp's exporter: that one takes `SpanData`, while every
//! stage here (SDK, Lambda extension, sidecar) hands over the one OTLP batch
//! type per signal ([`ExportTraceServiceRequest`], [`ExportMetricsServiceRequest`],
//! [`ExportLogsServiceRequest`]).

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use aws_credential_types::provider::SharedCredentialsProvider;
use aws_smithy_async::rt::sleep::SharedAsyncSleep;
use aws_smithy_async::time::{SharedTimeSource, SystemTimeSource};
use bytes::Bytes;
use http::{HeaderName, HeaderValue, StatusCode};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

use crate::config::redact::RedactedUrl;

use super::credentials::CachedCredentials;
use super::encode::{EncodedBody, encode_request_with_level, protobuf_body};
use super::endpoint::{AwsEndpointKind, detect_aws_endpoint};
use super::proto_traces::encode_measured;
use super::response::{
    describe_transport_error, error_message, is_expired_credentials, is_retryable, read_limited,
};
use super::retry::{Attempt, TokioSleep, parse_retry_after, run_with_retry};
use super::signals::OtlpBatch;
use super::sigv4::{SigningTarget, sign_request};
use super::split::{split_measured, split_request};
use super::stats::ExportStats;
use super::{
    BatchExporter, EncodedTraces, ExportConfigError, ExportError, ExportFuture, ExportOutcome,
    OtlpHttpConfig, Protocol, Signing,
};

/// Headers the exporter sets (and signs) itself; user values are ignored.
const RESERVED_HEADERS: &[&str] = &[
    "host",
    "content-type",
    "content-encoding",
    "content-length",
    "authorization",
    "x-amz-date",
    "x-amz-security-token",
    "x-amz-content-sha256",
];
/// Distinct error messages remembered for log-once.
const MAX_LOGGED_ERRORS: usize = 128;

/// Exports OTLP batches over HTTP; see the module docs. `Debug` shows the
/// settings with the URL redacted and no header values.
pub struct OtlpHttpExporter {
    cfg: OtlpHttpConfig,
    url: url::Url,
    host_header: String,
    headers: Vec<(HeaderName, HeaderValue)>,
    signing: Option<SigningTarget>,
    provider: Option<SharedCredentialsProvider>,
    creds: Option<CachedCredentials>,
    client: reqwest::Client,
    stats: Arc<ExportStats>,
    time: SharedTimeSource,
    sleep: SharedAsyncSleep,
    logged: std::sync::Mutex<HashSet<(u16, String)>>,
    shut_down: AtomicBool,
}

impl std::fmt::Debug for OtlpHttpExporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OtlpHttpExporter")
            .field("cfg", &self.cfg)
            .field("url", &RedactedUrl(self.url.as_str()))
            .field("signing", &self.signing)
            .finish_non_exhaustive()
    }
}

/// What a successful request returned.
struct Accepted {
    rejected_spans: u64,
}

impl OtlpHttpExporter {
    /// Creates the exporter. `creds` is required when the configuration
    /// signs (see [`Signing`]); use [`Self::from_default_chain`] to load the
    /// AWS default chain instead.
    pub fn new(
        cfg: OtlpHttpConfig,
        creds: Option<SharedCredentialsProvider>,
    ) -> Result<Self, ExportConfigError> {
        let url = parse_endpoint(&cfg.endpoint)?;
        let host_header = match (url.host_str(), url.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_owned(),
            (None, _) => return Err(invalid(&cfg.endpoint, "no host")),
        };
        let headers = cfg
            .headers
            .iter()
            .map(|(name, value)| {
                let bad = |reason: String| ExportConfigError::InvalidHeader {
                    name: name.clone(),
                    reason,
                };
                Ok((
                    HeaderName::from_bytes(name.trim().as_bytes())
                        .map_err(|e| bad(e.to_string()))?,
                    // Sensitive: `Debug` (of the exporter, of a request)
                    // prints "Sensitive" instead of an Authorization or API key.
                    HeaderValue::from_str(value.trim())
                        .map(|mut v| {
                            v.set_sensitive(true);
                            v
                        })
                        .map_err(|e| bad(e.to_string()))?,
                ))
            })
            .collect::<Result<Vec<_>, ExportConfigError>>()?
            .into_iter()
            .filter(|(name, _)| {
                let reserved = RESERVED_HEADERS.contains(&name.as_str());
                if reserved {
                    tracing::warn!(header = %name, "ignoring an OTLP header the exporter sets itself");
                }
                !reserved
            })
            .collect::<Vec<_>>();
        let detected = detect_aws_endpoint(&cfg.endpoint);
        if detected
            .as_ref()
            .is_some_and(|e| e.kind == AwsEndpointKind::CloudWatchLogs)
        {
            let missing: Vec<&str> = ["x-aws-log-group", "x-aws-log-stream"]
                .into_iter()
                .filter(|want| {
                    !headers
                        .iter()
                        .any(|(n, v)| n.as_str() == *want && !v.is_empty())
                })
                .collect();
            if !missing.is_empty() {
                return Err(ExportConfigError::MissingLogHeaders {
                    endpoint: crate::config::redact::url(&cfg.endpoint).into_owned(),
                    missing: missing.join(", "),
                });
            }
        }
        let signing = signing_target(&cfg, detected.as_ref())?;
        if cfg.timeout.is_zero() {
            return Err(ExportConfigError::InvalidSetting {
                name: "timeout",
                reason: "must be greater than zero".into(),
            });
        }
        if signing.is_some() && creds.is_none() {
            return Err(ExportConfigError::MissingCredentials {
                endpoint: crate::config::redact::url(&cfg.endpoint).into_owned(),
            });
        }
        let client = reqwest::Client::builder()
            .user_agent(concat!("otel-aws-distro/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(cfg.timeout)
            // A redirect would be re-sent unsigned or as GET: treat it as an error.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| ExportConfigError::Client(e.to_string()))?;
        let time = SharedTimeSource::new(SystemTimeSource::new());
        let creds_cache = match &signing {
            Some(_) => creds
                .clone()
                .map(|p| CachedCredentials::new(p, time.clone())),
            None => None,
        };
        Ok(Self {
            cfg,
            url,
            host_header,
            headers,
            signing,
            provider: creds,
            creds: creds_cache,
            client,
            stats: Arc::new(ExportStats::new()),
            time,
            sleep: SharedAsyncSleep::new(TokioSleep),
            logged: std::sync::Mutex::default(),
            shut_down: AtomicBool::new(false),
        })
    }

    /// Like [`Self::new`], loading credentials (and, for
    /// `Signing::Force { region: None }` on a non-AWS host, the region) from
    /// aws-config's default chain when the configuration signs.
    pub async fn from_default_chain(cfg: OtlpHttpConfig) -> Result<Self, ExportConfigError> {
        let chain = super::CredentialStrategy::DefaultChain(super::DefaultChain::new(None));
        super::build::build_otlp(&cfg, &chain).await
    }

    /// Shares `stats` instead of the exporter's own counters.
    #[must_use]
    pub fn with_stats(mut self, stats: Arc<ExportStats>) -> Self {
        self.stats = stats;
        self
    }

    /// Uses `time` for signing dates, credential expiry and `Retry-After`
    /// dates (tests).
    #[must_use]
    pub fn with_time_source(mut self, time: SharedTimeSource) -> Self {
        self.creds = match (&self.signing, &self.provider) {
            (Some(_), Some(p)) => Some(CachedCredentials::new(p.clone(), time.clone())),
            _ => None,
        };
        self.time = time;
        self
    }

    /// Uses `sleep` for retry backoff (tests).
    #[must_use]
    pub fn with_sleep(mut self, sleep: SharedAsyncSleep) -> Self {
        self.sleep = sleep;
        self
    }

    /// The exporter's counters.
    pub fn stats(&self) -> Arc<ExportStats> {
        self.stats.clone()
    }

    /// The SigV4 `(service, region)` requests are signed for, if any.
    pub fn signing(&self) -> Option<(&str, &str)> {
        self.signing
            .as_ref()
            .map(|t| (t.service.as_str(), t.region.as_str()))
    }

    /// The configuration the exporter runs with.
    pub fn config(&self) -> &OtlpHttpConfig {
        &self.cfg
    }

    async fn export_batch(
        &self,
        batch: ExportTraceServiceRequest,
    ) -> Result<ExportOutcome, ExportError> {
        if self.shut_down.load(Ordering::Relaxed) {
            return Err(ExportError::Shutdown);
        }
        // Protobuf: the encoder's one measuring walk sizes the split, and a
        // batch within the limits (the common case) is encoded from it.
        let (split, first_raw) = match self.cfg.protocol {
            Protocol::HttpProtobuf => {
                let (split, lengths) = split_measured(batch, &self.cfg.limits);
                let raw = lengths.and_then(|l| {
                    let first = split.requests.first()?;
                    Some(encode_measured(first, &l))
                });
                (split, raw)
            }
            Protocol::HttpJson => (split_request(batch, &self.cfg.limits), None),
        };
        if split.dropped_spans > 0 {
            tracing::warn!(
                dropped = split.dropped_spans,
                limit = self.cfg.limits.max_span_bytes,
                "dropped spans larger than the per-span size limit"
            );
            ExportStats::add(&self.stats.spans_dropped, split.dropped_spans);
        }
        self.send_all(split.requests.into(), split.dropped_spans, first_raw)
            .await
    }

    /// Metrics and logs: no per-item limit to apply before encoding; a
    /// request over `max_request_bytes` once encoded is halved.
    async fn export_other<B: OtlpBatch>(&self, batch: B) -> Result<ExportOutcome, ExportError> {
        if self.shut_down.load(Ordering::Relaxed) {
            return Err(ExportError::Shutdown);
        }
        if batch.items() == 0 {
            return Ok(ExportOutcome::default());
        }
        self.send_all(VecDeque::from([batch]), 0, None).await
    }

    /// Encodes and sends each request, halving those over the request size
    /// limit, with retries; `dropped` items were already refused.
    /// `first_raw`: the first request already encoded as protobuf.
    ///
    /// A request the destination refuses (a final 4xx) loses only its own
    /// items: the next requests are still sent, and when any of them was
    /// delivered the outcome counts the refused items as dropped instead of
    /// failing the batch. Giving up on a transient failure (an outage)
    /// stops the batch: the rest would meet the same outage, and the caller
    /// (the Lambda lane) keeps the batch to send again.
    async fn send_all<B: OtlpBatch>(
        &self,
        mut queue: VecDeque<B>,
        dropped: u64,
        mut first_raw: Option<Vec<u8>>,
    ) -> Result<ExportOutcome, ExportError> {
        let mut outcome = ExportOutcome {
            spans_dropped: dropped,
            ..ExportOutcome::default()
        };
        let mut refused = None;
        while let Some(req) = queue.pop_front() {
            let spans = req.items() as u64;
            let encoded = match first_raw.take() {
                Some(raw) => protobuf_body(raw, self.cfg.compression, self.cfg.gzip_level),
                None => encode_request_with_level(
                    &req,
                    self.cfg.protocol,
                    self.cfg.compression,
                    self.cfg.gzip_level,
                ),
            };
            let body = match encoded {
                Ok(body) => body,
                Err(err) => return Err(self.fail(err, spans, &queue)),
            };
            if body.uncompressed_len > self.cfg.limits.max_request_bytes
                || spans > self.cfg.limits.max_spans_per_request.max(1) as u64
            {
                // Over the limit in this encoding (for traces: the protobuf
                // estimate fitted but JSON does not), or, for metrics and
                // logs, over the item count (traces were split by count already).
                if let Some([a, b]) = req.halve() {
                    queue.push_front(b);
                    queue.push_front(a);
                    continue;
                }
            } else {
                drop(req);
            }
            match self.deliver::<B>(&body, spans, &mut outcome).await {
                Ok(()) => {}
                Err(err @ ExportError::Rejected { .. }) => {
                    let none = VecDeque::<B>::new();
                    outcome.spans_dropped += spans;
                    refused = Some(self.fail(err, spans, &none));
                }
                Err(err) => {
                    let err = self.fail(err, spans, &queue);
                    return Err(match outcome.spans_exported {
                        0 => err,
                        delivered => ExportError::PartlyDelivered {
                            delivered,
                            error: Box::new(err),
                        },
                    });
                }
            }
        }
        match refused {
            Some(err) if outcome.spans_exported == 0 => Err(err),
            _ => Ok(outcome),
        }
    }

    /// Sends one request of `spans` items with retries and counts what the
    /// destination accepted into `outcome` and the stats; the error when it
    /// gave up (not counted yet: see [`Self::fail`]).
    async fn deliver<B: OtlpBatch>(
        &self,
        body: &EncodedBody,
        spans: u64,
        outcome: &mut ExportOutcome,
    ) -> Result<(), ExportError> {
        let (result, retries) = run_with_retry(&self.cfg.retry, &self.time, &self.sleep, || {
            self.attempt::<B>(body)
        })
        .await;
        outcome.retries += retries;
        ExportStats::add(&self.stats.retries, u64::from(retries));
        let accepted = result?;
        let rejected = accepted.rejected_spans.min(spans);
        outcome.requests += 1;
        outcome.spans_exported += spans - rejected;
        outcome.spans_dropped += rejected;
        ExportStats::add(&self.stats.spans_exported, spans - rejected);
        ExportStats::add(&self.stats.spans_dropped, rejected);
        Ok(())
    }

    /// A traces batch already encoded: sent as it is when it is protobuf
    /// within every limit (what the in-process batch processor gives in
    /// the common case); otherwise decoded and split like any other batch.
    async fn export_encoded_batch(
        &self,
        batch: EncodedTraces,
    ) -> Result<ExportOutcome, ExportError> {
        if self.shut_down.load(Ordering::Relaxed) {
            return Err(ExportError::Shutdown);
        }
        let limits = &self.cfg.limits;
        let fits = self.cfg.protocol == Protocol::HttpProtobuf
            && (1..=limits.max_spans_per_request.max(1)).contains(&batch.spans())
            && batch.largest_span() <= limits.max_span_bytes
            && batch.body().len() <= limits.max_request_bytes;
        if !fits {
            let request = batch.decode().map_err(|err| {
                ExportStats::add(&self.stats.spans_dropped, batch.spans() as u64);
                ExportError::Encode(format!("an encoded traces batch did not decode: {err}"))
            })?;
            return self.export_batch(request).await;
        }
        let spans = batch.spans() as u64;
        let body = protobuf_body(batch.into_body(), self.cfg.compression, self.cfg.gzip_level);
        let mut outcome = ExportOutcome::default();
        let none = VecDeque::<ExportTraceServiceRequest>::new();
        let sent = match body {
            Ok(body) => {
                self.deliver::<ExportTraceServiceRequest>(&body, spans, &mut outcome)
                    .await
            }
            Err(err) => Err(err),
        };
        sent.map_err(|err| self.fail(err, spans, &none))?;
        Ok(outcome)
    }

    /// Counts the undelivered spans and records the error.
    fn fail<B: OtlpBatch>(&self, err: ExportError, spans: u64, rest: &VecDeque<B>) -> ExportError {
        let lost = spans + rest.iter().map(|r| r.items() as u64).sum::<u64>();
        ExportStats::add(&self.stats.spans_dropped, lost);
        if let ExportError::GaveUp { reason, .. } = &err {
            // Rejections were logged where they happened.
            self.log_once(0, &format!("{} not delivered: {reason}", B::SIGNAL));
        }
        self.stats.set_last_error(err.to_string());
        err
    }

    async fn attempt<B: OtlpBatch>(&self, body: &EncodedBody) -> Attempt<Accepted> {
        let mut headers: Vec<(&str, &str)> = vec![
            ("host", self.host_header.as_str()),
            ("content-type", body.content_type),
        ];
        if let Some(encoding) = body.content_encoding {
            headers.push(("content-encoding", encoding));
        }
        for (name, value) in &self.headers {
            // `HeaderValue::from_str` (in `new`) only accepts visible ASCII, so this always succeeds.
            if let Ok(value) = value.to_str() {
                headers.push((name.as_str(), value));
            }
        }
        let mut signed = Vec::new();
        if let (Some(target), Some(cache)) = (&self.signing, &self.creds) {
            // A failed load is retried like a failed request: the first
            // load can meet a credentials endpoint not ready yet (a task
            // starting beside its agent) or throttled (IMDS), and a refresh
            // failure only reaches here once the cached ones expired.
            // (The collector's sigv4auth fails the request's round trip,
            // which its exporters retry the same way.)
            let creds = match cache.get().await {
                Ok(creds) => creds,
                Err(err) => {
                    return Attempt::Retry {
                        reason: err.to_string(),
                        retry_after: None,
                    };
                }
            };
            match sign_request(
                target,
                &creds,
                "POST",
                self.url.as_str(),
                &headers,
                &body.bytes,
                self.time.now(),
            ) {
                Ok(h) => signed = h,
                Err(err) => return Attempt::Fail(err),
            }
        }
        let mut request = self
            .client
            .post(self.url.clone())
            .timeout(self.cfg.timeout)
            .body(body.bytes.clone());
        for (name, value) in headers
            .iter()
            .copied()
            .chain(signed.iter().map(|(n, v)| (*n, v.as_str())))
        {
            request = request.header(name, value);
        }
        ExportStats::add(&self.stats.requests, 1);
        let response = match request.send().await {
            Ok(response) => response,
            Err(err) => {
                return Attempt::Retry {
                    reason: describe_transport_error(&err, self.cfg.timeout),
                    retry_after: None,
                };
            }
        };
        let status = response.status();
        let retry_after = response
            .headers()
            .get(http::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, self.time.now()));
        let error_type = response
            .headers()
            .get("x-amzn-errortype")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let content_type = response
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase();
        let body = match read_limited(response).await {
            Ok(body) => body,
            Err(err) if status.is_success() => {
                // Accepted; the body only carries a partial-success report.
                tracing::debug!(%err, "could not read the OTLP response body");
                Bytes::new()
            }
            Err(err) => {
                return Attempt::Retry {
                    reason: format!(
                        "HTTP {status}, then {}",
                        describe_transport_error(&err, self.cfg.timeout)
                    ),
                    retry_after,
                };
            }
        };
        if status.is_success() {
            return Attempt::Done(Accepted {
                rejected_spans: self.partial_success::<B>(&content_type, &body),
            });
        }
        let message = error_message(&content_type, &body);
        if let Some(cache) = &self.creds
            && is_expired_credentials(status, error_type.as_deref(), &body)
        {
            // Sign the retry with freshly loaded credentials.
            cache.invalidate().await;
            return Attempt::Retry {
                reason: format!(
                    "HTTP {}: {message} (expired credentials: reloading them)",
                    status.as_u16()
                ),
                retry_after,
            };
        }
        if is_retryable(status) {
            return Attempt::Retry {
                reason: format!("HTTP {}: {message}", status.as_u16()),
                retry_after,
            };
        }
        let message = self.explain(status, message);
        self.log_once(status.as_u16(), &message);
        Attempt::Fail(ExportError::Rejected {
            status: status.as_u16(),
            message,
        })
    }

    /// Rejected item count of a partial success (0 when none or unreadable).
    fn partial_success<B: OtlpBatch>(&self, content_type: &str, body: &[u8]) -> u64 {
        if body.is_empty() {
            return 0;
        }
        let Some((rejected, message)) = B::rejected(content_type.contains("json"), body) else {
            return 0;
        };
        if rejected > 0 || !message.is_empty() {
            self.log_once(
                200,
                &format!(
                    "partial success: {rejected} {}(s) rejected: {message}",
                    B::ITEM
                ),
            );
        }
        rejected
    }

    /// Adds what to do for the errors users hit most.
    fn explain(&self, status: StatusCode, message: String) -> String {
        let lower = message.to_ascii_lowercase();
        let hint = if [
            "transaction search",
            "segment destination",
            "updatetracesegmentdestination",
            "cloudwatch logs destination",
            "cloudwatchlogs",
        ]
        .iter()
        .any(|k| lower.contains(k))
        {
            Some(
                "this account's X-Ray trace segment destination is not CloudWatch Logs: enable CloudWatch Transaction Search \
                 (aws xray update-trace-segment-destination --destination CloudWatchLogs), or export through the X-Ray \
                 segment path (PutTraceSegments) instead of the OTLP endpoint",
            )
        } else if matches!(status.as_u16(), 401 | 403) && self.signing.is_some() {
            Some(
                "check the AWS credentials, that they may call xray:PutTraceSegments (the X-Ray OTLP endpoint), logs:PutLogEvents (the Logs one) or cloudwatch:PutMetricData (the metrics one), and the signing region/service",
            )
        } else if matches!(status.as_u16(), 401 | 403) {
            Some(
                "the request was not signed: for an AWS endpoint behind a proxy, turn SigV4 signing on",
            )
        } else {
            None
        };
        match hint {
            Some(hint) => format!("{message} ({hint})"),
            None => message,
        }
    }

    fn log_once(&self, status: u16, message: &str) {
        let first = {
            let mut logged = self.logged.lock().unwrap_or_else(|p| p.into_inner());
            if logged.len() >= MAX_LOGGED_ERRORS {
                logged.clear();
            }
            logged.insert((status, message.to_owned()))
        };
        let endpoint = RedactedUrl(self.url.as_str());
        if first {
            tracing::error!(status, %endpoint, "OTLP export: {message}");
        } else {
            tracing::debug!(status, %endpoint, "OTLP export: {message}");
        }
    }
}

impl BatchExporter for OtlpHttpExporter {
    fn export(&self, batch: ExportTraceServiceRequest) -> ExportFuture<'_> {
        Box::pin(self.export_batch(batch))
    }

    /// Protobuf is this exporter's wire format (unless configured for JSON).
    fn takes_encoded(&self) -> bool {
        self.cfg.protocol == Protocol::HttpProtobuf
    }

    fn export_encoded(&self, batch: EncodedTraces) -> ExportFuture<'_> {
        Box::pin(self.export_encoded_batch(batch))
    }

    fn export_metrics(&self, batch: ExportMetricsServiceRequest) -> ExportFuture<'_> {
        Box::pin(self.export_other(batch))
    }

    fn export_logs(&self, batch: ExportLogsServiceRequest) -> ExportFuture<'_> {
        Box::pin(self.export_other(batch))
    }

    fn shutdown(&self) -> Result<(), ExportError> {
        self.shut_down.store(true, Ordering::Relaxed);
        Ok(())
    }

    fn stats(&self) -> Option<Arc<ExportStats>> {
        Some(self.stats.clone())
    }
}

fn invalid(endpoint: &str, reason: &str) -> ExportConfigError {
    ExportConfigError::InvalidEndpoint {
        endpoint: crate::config::redact::url(endpoint).into_owned(),
        reason: reason.to_owned(),
    }
}

fn parse_endpoint(endpoint: &str) -> Result<url::Url, ExportConfigError> {
    let url = url::Url::parse(endpoint.trim()).map_err(|e| invalid(endpoint, &e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid(endpoint, "the scheme must be http or https"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid(endpoint, "no host"));
    }
    Ok(url)
}

fn signing_target(
    cfg: &OtlpHttpConfig,
    detected: Option<&super::AwsEndpoint>,
) -> Result<Option<SigningTarget>, ExportConfigError> {
    Ok(match &cfg.signing {
        Signing::Off => None,
        Signing::Auto => detected.map(|e| SigningTarget {
            service: e.kind.service().to_owned(),
            region: e.region.clone(),
        }),
        Signing::Force { service, region } => {
            let region = region
                .as_deref()
                .map(str::trim)
                .filter(|r| !r.is_empty())
                .map(str::to_owned)
                .or_else(|| detected.map(|e| e.region.clone()))
                .ok_or_else(|| ExportConfigError::MissingRegion {
                    endpoint: crate::config::redact::url(&cfg.endpoint).into_owned(),
                })?;
            let service = service
                .as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .or_else(|| detected.map(|e| e.kind.service().to_owned()))
                .unwrap_or_else(|| "xray".to_owned());
            Some(SigningTarget { service, region })
        }
    })
}

#[cfg(test)]
#[path = "otlp_http_tests.rs"]
mod tests;
