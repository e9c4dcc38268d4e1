//! The segment path: spans → X-Ray segment documents →
//! `PutTraceSegments` through aws-sdk-xray (for accounts without CloudWatch
//! Transaction Search, where the OTLP endpoint does not store spans).
//!
//! At most 50 documents per call (spec), calls in parallel up to a limit,
//! throttling and transient failures retried with backoff and jitter under
//! [`RetryPolicy`] (the SDK's own retries are turned off so there is one
//! policy and one count), `UnprocessedTraceSegments` sent once more and then
//! counted as dropped.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_xray::config::retry::RetryConfig;
use aws_sdk_xray::config::{BehaviorVersion, Region};
use aws_sdk_xray::error::SdkError;
use aws_sdk_xray::operation::put_trace_segments::PutTraceSegmentsError;
use aws_smithy_async::rt::sleep::SharedAsyncSleep;
use aws_smithy_async::time::{SharedTimeSource, SystemTimeSource};
use futures_util::StreamExt;
use futures_util::stream;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

use super::retry::{Attempt, SdkTimeout, TokioSleep, run_with_retry, sdk_attempt, sdk_timeouts};
use super::{
    BatchExporter, ExportConfigError, ExportError, ExportFuture, ExportOutcome, ExportStats,
    RetryPolicy,
};
use crate::Env;
use crate::config::vars::{AWS_DEFAULT_REGION, AWS_REGION};
use crate::translate::{TranslateOptions, encode_segment, to_segment_documents};

/// `AWS_ENDPOINT_URL_XRAY`: X-Ray API endpoint override (AWS SDK convention).
pub const AWS_ENDPOINT_URL_XRAY: &str = "AWS_ENDPOINT_URL_XRAY";
/// `AWS_ENDPOINT_URL`: endpoint override for every AWS service.
pub const AWS_ENDPOINT_URL: &str = "AWS_ENDPOINT_URL";
/// Bound on one PutTraceSegments attempt when the client sets none (the SDK
/// sets no operation timeout by default; a hung call must end in a retry).
pub const ATTEMPT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Most documents PutTraceSegments takes per call (spec).
pub const MAX_DOCUMENTS_PER_CALL: usize = 50;
/// Default number of PutTraceSegments calls in flight per export.
pub const DEFAULT_XRAY_CONCURRENCY: usize = 4;

/// Settings of [`AwsXrayExporter`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AwsXrayConfig {
    /// Span → document translation (indexed attributes, size limit).
    pub translate: TranslateOptions,
    /// Documents per call, 1..=50.
    pub documents_per_call: usize,
    /// Calls in flight at once, ≥ 1.
    pub max_concurrency: usize,
    /// Retries of throttled and transiently failed calls.
    pub retry: RetryPolicy,
}

impl Default for AwsXrayConfig {
    fn default() -> Self {
        Self {
            translate: TranslateOptions::default(),
            documents_per_call: MAX_DOCUMENTS_PER_CALL,
            max_concurrency: DEFAULT_XRAY_CONCURRENCY,
            retry: RetryPolicy::default(),
        }
    }
}

/// Exports spans as X-Ray segment documents with `PutTraceSegments`.
#[derive(Debug)]
pub struct AwsXrayExporter {
    client: aws_sdk_xray::Client,
    cfg: AwsXrayConfig,
    stats: Arc<ExportStats>,
    time: SharedTimeSource,
    sleep: SharedAsyncSleep,
    shut_down: AtomicBool,
}

/// What one chunk of documents came to.
#[derive(Default)]
struct ChunkResult {
    calls: u32,
    exported: u64,
    dropped: u64,
    retries: u32,
    error: Option<ExportError>,
}

impl AwsXrayExporter {
    /// An exporter calling X-Ray through `client` (its endpoint, region and
    /// credentials are used as they are; its retries are replaced by
    /// `cfg.retry`; without an attempt timeout it gets [`ATTEMPT_TIMEOUT`]).
    pub fn new(
        client: aws_sdk_xray::Client,
        cfg: AwsXrayConfig,
    ) -> Result<Self, ExportConfigError> {
        if !(1..=MAX_DOCUMENTS_PER_CALL).contains(&cfg.documents_per_call) {
            return Err(ExportConfigError::InvalidSetting {
                name: "documents_per_call",
                reason: format!(
                    "{} is outside 1..={MAX_DOCUMENTS_PER_CALL}",
                    cfg.documents_per_call
                ),
            });
        }
        if cfg.max_concurrency == 0 {
            return Err(ExportConfigError::InvalidSetting {
                name: "max_concurrency",
                reason: "must be at least 1".into(),
            });
        }
        let conf = client.config();
        let mut builder = conf.to_builder().retry_config(RetryConfig::disabled());
        let timeouts = conf.timeout_config();
        if let Some(t) = sdk_timeouts(timeouts, SdkTimeout::Attempt, ATTEMPT_TIMEOUT, true) {
            builder = builder.timeout_config(t);
        }
        let client = aws_sdk_xray::Client::from_conf(builder.build());
        Ok(Self {
            client,
            cfg,
            stats: Arc::new(ExportStats::new()),
            time: SharedTimeSource::new(SystemTimeSource::new()),
            sleep: SharedAsyncSleep::new(TokioSleep),
            shut_down: AtomicBool::new(false),
        })
    }

    /// An exporter with an SDK client built by hand, without aws-config: no
    /// credential-chain or region lookup, so it costs nothing at start-up and
    /// links neither aws-config nor the STS/SSO clients (the Lambda extension
    /// uses it with the execution role's environment credentials).
    ///
    /// `endpoint_url` overrides the regional X-Ray endpoint (e.g. a fake in
    /// tests); it must be an absolute http(s) URL.
    pub fn from_credentials(
        region: impl Into<String>,
        credentials: SharedCredentialsProvider,
        endpoint_url: Option<String>,
        cfg: AwsXrayConfig,
    ) -> Result<Self, ExportConfigError> {
        let region = region.into();
        super::check_sdk_client_target(
            &region,
            endpoint_url.as_deref(),
            super::endpoint::XRAY_API,
        )?;
        let mut conf = aws_sdk_xray::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(region))
            .credentials_provider(credentials);
        if let Some(url) = endpoint_url {
            conf = conf.endpoint_url(url);
        }
        Self::new(aws_sdk_xray::Client::from_conf(conf.build()), cfg)
    }

    /// [`Self::from_credentials`] with the region from `AWS_REGION` /
    /// `AWS_DEFAULT_REGION` and the endpoint from `AWS_ENDPOINT_URL_XRAY` /
    /// `AWS_ENDPOINT_URL` in `env` (the variables aws-config reads).
    pub fn from_env(
        env: &Env,
        credentials: SharedCredentialsProvider,
        cfg: AwsXrayConfig,
    ) -> Result<Self, ExportConfigError> {
        let region = env
            .get(AWS_REGION)
            .or_else(|| env.get(AWS_DEFAULT_REGION))
            .ok_or_else(|| ExportConfigError::MissingRegion {
                endpoint: "the X-Ray API (PutTraceSegments)".into(),
            })?;
        Self::from_credentials(region, credentials, xray_endpoint_url(env), cfg)
    }

    /// An exporter configured by aws-config's default chain (region,
    /// credentials, and `AWS_ENDPOINT_URL_XRAY` / `AWS_ENDPOINT_URL`).
    pub async fn from_default_chain(cfg: AwsXrayConfig) -> Result<Self, ExportConfigError> {
        Self::from_loader(
            aws_config::defaults(aws_config::BehaviorVersion::latest()),
            cfg,
        )
        .await
    }

    /// An exporter configured by `loader` (the default chain with overrides,
    /// e.g. a region or a credentials provider).
    pub async fn from_loader(
        loader: aws_config::ConfigLoader,
        cfg: AwsXrayConfig,
    ) -> Result<Self, ExportConfigError> {
        let sdk = loader.load().await;
        if sdk.region().is_none() {
            return Err(ExportConfigError::MissingRegion {
                endpoint: "the X-Ray API (PutTraceSegments)".into(),
            });
        }
        if sdk.credentials_provider().is_none() {
            return Err(ExportConfigError::NoDefaultCredentials);
        }
        Self::new(aws_sdk_xray::Client::new(&sdk), cfg)
    }

    /// Counts into `stats` (shared with other exporters or self-telemetry).
    pub fn with_stats(mut self, stats: Arc<ExportStats>) -> Self {
        self.stats = stats;
        self
    }

    /// Uses `time` for the retry budget (tests).
    pub fn with_time_source(mut self, time: SharedTimeSource) -> Self {
        self.time = time;
        self
    }

    /// Uses `sleep` for retry backoff (tests).
    pub fn with_sleep(mut self, sleep: SharedAsyncSleep) -> Self {
        self.sleep = sleep;
        self
    }

    /// The counters.
    pub fn stats(&self) -> Arc<ExportStats> {
        self.stats.clone()
    }

    /// The settings.
    pub fn config(&self) -> &AwsXrayConfig {
        &self.cfg
    }

    /// Sends segment documents as they are, `(id, JSON)` pairs (the legacy
    /// traffic a collector passes through unchanged, as the X-Ray daemon
    /// does), with the same rules as [`BatchExporter::export`]: ≤
    /// `documents_per_call` per call, calls in parallel, transient failures
    /// retried, unprocessed documents sent once more then counted as
    /// dropped. The outcome counts documents as spans.
    pub async fn export_documents(
        &self,
        docs: Vec<(String, String)>,
    ) -> Result<ExportOutcome, ExportError> {
        if self.shut_down.load(Ordering::Relaxed) {
            return Err(ExportError::Shutdown);
        }
        self.send_documents(docs, ExportOutcome::default()).await
    }

    /// Sends `docs` in parallel calls, adding to `outcome` (which may carry
    /// spans already dropped by translation) and to the stats.
    async fn send_documents(
        &self,
        docs: Vec<(String, String)>,
        mut outcome: ExportOutcome,
    ) -> Result<ExportOutcome, ExportError> {
        let mut chunks: Vec<Vec<(String, String)>> = Vec::new();
        let mut docs = docs.into_iter().peekable();
        while docs.peek().is_some() {
            chunks.push(
                docs.by_ref()
                    .take(self.cfg.documents_per_call.max(1))
                    .collect(),
            );
        }
        let results: Vec<ChunkResult> = stream::iter(chunks)
            .map(|chunk| self.send_chunk(chunk))
            .buffer_unordered(self.cfg.max_concurrency.max(1))
            .collect()
            .await;
        let mut first_error = None;
        for r in results {
            outcome.requests += r.calls;
            outcome.spans_exported += r.exported;
            outcome.spans_dropped += r.dropped;
            outcome.retries += r.retries;
            if let Some(e) = r.error {
                self.stats.set_last_error(e.to_string());
                first_error.get_or_insert(e);
            }
        }
        ExportStats::add(&self.stats.spans_exported, outcome.spans_exported);
        ExportStats::add(&self.stats.spans_dropped, outcome.spans_dropped);
        ExportStats::add(&self.stats.retries, u64::from(outcome.retries));
        match first_error {
            Some(e) if outcome.spans_exported == 0 => Err(e),
            _ => Ok(outcome),
        }
    }

    /// One PutTraceSegments call with retries: the ids X-Ray left unprocessed.
    async fn put(
        &self,
        docs: &[(String, String)],
    ) -> (Result<Vec<Option<String>>, ExportError>, u32) {
        run_with_retry(&self.cfg.retry, &self.time, &self.sleep, || async {
            ExportStats::add(&self.stats.requests, 1);
            let result = self
                .client
                .put_trace_segments()
                .set_trace_segment_documents(Some(docs.iter().map(|(_, d)| d.clone()).collect()))
                .send()
                .await;
            match result {
                Ok(out) => Attempt::Done(
                    out.unprocessed_trace_segments()
                        .iter()
                        .map(|u| u.id().map(str::to_owned))
                        .collect(),
                ),
                Err(err) => classify(err),
            }
        })
        .await
    }

    async fn send_chunk(&self, docs: Vec<(String, String)>) -> ChunkResult {
        let mut result = ChunkResult::default();
        let (first, retries) = self.put(&docs).await;
        result.retries += retries;
        let unprocessed = match first {
            Ok(u) => u,
            Err(e) => {
                result.dropped = docs.len() as u64;
                result.error = Some(e);
                return result;
            }
        };
        result.calls += 1;
        if unprocessed.is_empty() {
            result.exported = docs.len() as u64;
            return result;
        }
        // Send the unprocessed documents once more; what is still left is dropped.
        let by_id: HashMap<&str, &(String, String)> =
            docs.iter().map(|d| (d.0.as_str(), d)).collect();
        let mut again = Vec::new();
        let mut unknown = 0u64;
        for id in &unprocessed {
            match id.as_deref().and_then(|i| by_id.get(i)) {
                Some(d) => again.push((*d).clone()),
                None => unknown += 1,
            }
        }
        result.exported = (docs.len() - unprocessed.len()) as u64;
        result.dropped = unknown;
        if again.is_empty() {
            return result;
        }
        result.retries += 1;
        let (second, retries) = self.put(&again).await;
        result.retries += retries;
        match second {
            Ok(left) => {
                result.calls += 1;
                result.exported += (again.len() - left.len().min(again.len())) as u64;
                result.dropped += left.len().min(again.len()) as u64;
                if !left.is_empty() {
                    self.stats.set_last_error(format!(
                        "X-Ray left {} segment document(s) unprocessed twice; dropped",
                        left.len()
                    ));
                }
            }
            Err(e) => {
                result.dropped += again.len() as u64;
                result.error = Some(e);
            }
        }
        result
    }
}

/// The X-Ray endpoint override in `env`: `AWS_ENDPOINT_URL_XRAY`, else
/// `AWS_ENDPOINT_URL` (the AWS SDKs' service-specific endpoint variables).
pub fn xray_endpoint_url(env: &Env) -> Option<String> {
    env.get(AWS_ENDPOINT_URL_XRAY)
        .or_else(|| env.get(AWS_ENDPOINT_URL))
        .map(str::to_string)
}

/// The exporters' rule ([`sdk_attempt`]), `ThrottledException` counted as
/// throttling.
fn classify<T>(
    err: SdkError<PutTraceSegmentsError, aws_sdk_xray::config::http::HttpResponse>,
) -> Attempt<T> {
    sdk_attempt(
        &err,
        |e| matches!(e, PutTraceSegmentsError::ThrottledException(_)),
        "PutTraceSegments needs xray:PutTraceSegments on the credentials in use",
    )
}

impl BatchExporter for AwsXrayExporter {
    fn into_awsxray(self: Arc<Self>) -> Option<Arc<AwsXrayExporter>> {
        Some(self)
    }

    fn export(&self, batch: ExportTraceServiceRequest) -> ExportFuture<'_> {
        Box::pin(async move {
            if self.shut_down.load(Ordering::Relaxed) {
                return Err(ExportError::Shutdown);
            }
            let mut outcome = ExportOutcome::default();
            let mut docs = Vec::new();
            for result in to_segment_documents(&batch, &self.cfg.translate) {
                match result.and_then(|mut seg| {
                    encode_segment(&mut seg, &self.cfg.translate).map(|json| (seg.id, json))
                }) {
                    Ok(doc) => docs.push(doc),
                    Err(e) => {
                        tracing::debug!(error = %e, "span dropped: not translatable to a segment");
                        self.stats.set_last_error(e.to_string());
                        outcome.spans_dropped += 1;
                    }
                }
            }
            self.send_documents(docs, outcome).await
        })
    }

    fn shutdown(&self) -> Result<(), ExportError> {
        self.shut_down.store(true, Ordering::Relaxed);
        Ok(())
    }

    fn stats(&self) -> Option<Arc<ExportStats>> {
        Some(self.stats.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds() -> SharedCredentialsProvider {
        SharedCredentialsProvider::new(aws_credential_types::Credentials::new(
            "AKID", "secret", None, None, "test",
        ))
    }

    type Pairs<'a> = &'a [(&'a str, &'a str)];

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    #[test]
    fn awsxray_endpoint_override_follows_the_sdk_variables() {
        let cases: &[(Pairs, Option<&str>)] = &[
            (&[], None),
            (
                &[("AWS_ENDPOINT_URL", "http://all:1")],
                Some("http://all:1"),
            ),
            (
                &[
                    ("AWS_ENDPOINT_URL", "http://all:1"),
                    ("AWS_ENDPOINT_URL_XRAY", "http://xray:2"),
                ],
                Some("http://xray:2"),
            ),
            (
                &[
                    ("AWS_ENDPOINT_URL_XRAY", "  "),
                    ("AWS_ENDPOINT_URL", "http://all:1"),
                ],
                Some("http://all:1"),
            ),
        ];
        for (pairs, want) in cases {
            assert_eq!(
                xray_endpoint_url(&env(pairs)).as_deref(),
                *want,
                "{pairs:?}"
            );
        }
    }

    #[test]
    fn awsxray_from_env_needs_a_region_and_a_usable_endpoint() {
        let cfg = AwsXrayConfig::default;
        let ok: &[&[(&str, &str)]] = &[
            &[("AWS_REGION", "us-east-1")],
            &[("AWS_DEFAULT_REGION", "eu-west-1")],
            &[
                ("AWS_REGION", "us-east-1"),
                ("AWS_ENDPOINT_URL_XRAY", "http://127.0.0.1:9"),
            ],
        ];
        for pairs in ok {
            assert!(
                AwsXrayExporter::from_env(&env(pairs), creds(), cfg()).is_ok(),
                "{pairs:?}"
            );
        }
        let err = AwsXrayExporter::from_env(&env(&[]), creds(), cfg()).unwrap_err();
        assert!(
            matches!(err, ExportConfigError::MissingRegion { .. }),
            "{err:?}"
        );
        for bad in ["127.0.0.1:9", "ftp://x", "http://"] {
            let e = env(&[("AWS_REGION", "us-east-1"), ("AWS_ENDPOINT_URL_XRAY", bad)]);
            let err = AwsXrayExporter::from_env(&e, creds(), cfg()).unwrap_err();
            assert!(
                matches!(err, ExportConfigError::InvalidApiEndpoint { .. }),
                "{bad}: {err:?}"
            );
        }
        let bad_cfg = AwsXrayConfig {
            documents_per_call: 51,
            ..AwsXrayConfig::default()
        };
        let err =
            AwsXrayExporter::from_credentials("us-east-1", creds(), None, bad_cfg).unwrap_err();
        assert!(
            matches!(err, ExportConfigError::InvalidSetting { .. }),
            "{err:?}"
        );
    }

    /// The hand-built client signs for the given region with the given
    /// credentials and goes to the override: the fake verifies SigV4.
    #[tokio::test]
    async fn awsxray_from_credentials_signs_and_reaches_the_override() {
        use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
        use otel_aws_testkit::xray_api::{FakeXrayApi, XrayApiOptions};
        let fake = FakeXrayApi::start(XrayApiOptions::signed("ap-south-1"))
            .await
            .unwrap();
        let test = otel_aws_testkit::sigv4::Credentials::test();
        let creds = SharedCredentialsProvider::new(aws_credential_types::Credentials::new(
            test.access_key_id,
            test.secret_access_key,
            test.session_token,
            None,
            "test",
        ));
        let exporter = AwsXrayExporter::from_credentials(
            "ap-south-1",
            creds,
            Some(fake.url()),
            AwsXrayConfig::default(),
        )
        .unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap();
        let mut trace_id = (now.as_secs() as u32).to_be_bytes().to_vec();
        trace_id.extend([0x5a; 12]);
        let start = now.as_nanos() as u64 - 1_000_000;
        let span = Span {
            trace_id,
            span_id: vec![0, 0, 0, 0, 0, 0, 0, 7],
            name: "op".into(),
            start_time_unix_nano: start,
            end_time_unix_nano: start + 1_000,
            ..Span::default()
        };
        let batch = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: vec![span],
                    ..ScopeSpans::default()
                }],
                ..ResourceSpans::default()
            }],
        };
        let outcome = exporter.export(batch).await.unwrap();
        assert_eq!(outcome.spans_exported, 1);
        assert!(fake.rejected().is_empty(), "{:?}", fake.rejected());
        let docs = fake.segments();
        assert_eq!(docs.len(), 1);
        assert_eq!(docs[0]["id"], "0000000000000007");
    }
}
