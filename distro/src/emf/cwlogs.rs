//! EMF events → CloudWatch Logs through `PutLogEvents` (aws-sdk-cloudwatchlogs).
//!
//! PutLogEvents limits (CloudWatch Logs API reference): at most 10,000
//! events and 1,048,576 bytes per call (each event's UTF-8 message plus 26
//! bytes), events sorted by timestamp, no two events of a call more than
//! 24 h apart, none older than 14 days or more than 2 h in the future. The
//! sender drops (and counts) events outside the time window, sorts, splits
//! into calls within the limits, creates the log group and stream when a
//! call finds them missing (if allowed), and retries throttling, 5xx and
//! connection failures with backoff (the SDK's own retries are replaced by
//! the [`RetryPolicy`], so the budget is one number).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, UNIX_EPOCH};

use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_cloudwatchlogs::config::retry::RetryConfig;
use aws_sdk_cloudwatchlogs::config::{BehaviorVersion, Region};
use aws_sdk_cloudwatchlogs::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_cloudwatchlogs::operation::put_log_events::PutLogEventsError;
use aws_smithy_async::rt::sleep::SharedAsyncSleep;
use aws_smithy_async::time::{SharedTimeSource, SystemTimeSource};
use aws_smithy_types::body::SdkBody;
use bytes::Bytes;

use super::EmfEvent;
use super::calls::{LogEvent, put_body, rejected_count, split_calls};
use crate::export::retry::{Attempt, SdkTimeout, run_with_retry, sdk_attempt, sdk_timeouts};
use crate::export::{ExportConfigError, ExportError, RetryPolicy, TokioSleep};

/// How old an event may be.
pub const MAX_EVENT_AGE: Duration = Duration::from_secs(14 * 24 * 3600);
/// How far in the future an event may be.
pub const MAX_EVENT_FUTURE: Duration = Duration::from_secs(2 * 3600);
/// Per-attempt timeout when the client has none.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// Stream used for events without one.
pub const DEFAULT_LOG_STREAM: &str = "otel-aws-emf";

/// Settings of [`PutLogEventsSender`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PutLogEventsConfig {
    /// Stream for events whose destination names none.
    pub default_log_stream: String,
    /// Create a missing log group (needs `logs:CreateLogGroup`).
    pub create_log_group: bool,
    /// Create a missing log stream (needs `logs:CreateLogStream`).
    pub create_log_stream: bool,
    /// Retries of throttling, 5xx and connection failures.
    pub retry: RetryPolicy,
}

impl Default for PutLogEventsConfig {
    fn default() -> Self {
        Self {
            default_log_stream: DEFAULT_LOG_STREAM.to_owned(),
            create_log_group: true,
            create_log_stream: true,
            retry: RetryPolicy::default(),
        }
    }
}

/// Counters of a sender.
#[derive(Debug, Default)]
pub struct SendStats {
    /// PutLogEvents calls made, retries included.
    pub calls: AtomicU64,
    /// Events CloudWatch Logs accepted.
    pub events_sent: AtomicU64,
    /// Events dropped: outside the time window, rejected, or not delivered.
    pub events_dropped: AtomicU64,
    /// Retried attempts.
    pub retries: AtomicU64,
    /// Log groups and streams created.
    pub created: AtomicU64,
}

/// What one [`PutLogEventsSender::send`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SendOutcome {
    /// Successful PutLogEvents calls.
    pub calls: u32,
    /// Events accepted.
    pub events_sent: u64,
    /// Events dropped before sending: older than 14 days.
    pub too_old: u64,
    /// Events dropped before sending: more than 2 h in the future.
    pub too_new: u64,
    /// Events CloudWatch Logs reported as rejected (too old/new, expired).
    pub rejected: u64,
    /// Events not delivered because a call failed.
    pub failed: u64,
    /// Retried attempts.
    pub retries: u32,
}

impl SendOutcome {
    /// All events that did not arrive.
    pub fn dropped(&self) -> u64 {
        self.too_old + self.too_new + self.rejected + self.failed
    }
}

/// A `(log group, log stream)` pair.
type Stream = (String, String);

/// Sends EMF events with PutLogEvents; see the module docs.
#[derive(Debug)]
pub struct PutLogEventsSender {
    client: aws_sdk_cloudwatchlogs::Client,
    cfg: PutLogEventsConfig,
    stats: Arc<SendStats>,
    time: SharedTimeSource,
    sleep: SharedAsyncSleep,
}

/// One PutLogEvents call's result.
enum Put {
    Sent { rejected: u64 },
    Missing,
}

/// One create call's result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Created {
    New,
    Existing,
    /// CreateLogStream: the group does not exist.
    GroupMissing,
}

impl PutLogEventsSender {
    /// A sender calling CloudWatch Logs through `client` (endpoint, region
    /// and credentials used as they are; retries replaced by `cfg.retry`;
    /// without an attempt timeout it gets [`ATTEMPT_TIMEOUT`]).
    pub fn new(
        client: aws_sdk_cloudwatchlogs::Client,
        cfg: PutLogEventsConfig,
    ) -> Result<Self, ExportConfigError> {
        if cfg.default_log_stream.trim().is_empty() {
            return Err(ExportConfigError::InvalidSetting {
                name: "default_log_stream",
                reason: "must not be empty".into(),
            });
        }
        let conf = client.config();
        let mut builder = conf.to_builder().retry_config(RetryConfig::disabled());
        let timeouts = conf.timeout_config();
        if let Some(t) = sdk_timeouts(timeouts, SdkTimeout::Attempt, ATTEMPT_TIMEOUT, true) {
            builder = builder.timeout_config(t);
        }
        Ok(Self {
            client: aws_sdk_cloudwatchlogs::Client::from_conf(builder.build()),
            cfg,
            stats: Arc::new(SendStats::default()),
            time: SharedTimeSource::new(SystemTimeSource::new()),
            sleep: SharedAsyncSleep::new(TokioSleep),
        })
    }

    /// A sender with a client built by hand (no aws-config): `region`,
    /// `credentials`, and `endpoint_url` overriding the regional endpoint.
    pub fn from_credentials(
        region: impl Into<String>,
        credentials: SharedCredentialsProvider,
        endpoint_url: Option<String>,
        cfg: PutLogEventsConfig,
    ) -> Result<Self, ExportConfigError> {
        let region = region.into();
        crate::export::check_sdk_client_target(
            &region,
            endpoint_url.as_deref(),
            crate::export::endpoint::LOGS_API,
        )?;
        let mut conf = aws_sdk_cloudwatchlogs::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(region))
            .credentials_provider(credentials);
        if let Some(url) = endpoint_url {
            conf = conf.endpoint_url(url);
        }
        Self::new(aws_sdk_cloudwatchlogs::Client::from_conf(conf.build()), cfg)
    }

    /// Gives up on one PutLogEvents attempt after `timeout` (instead of the
    /// client's own attempt timeout, or [`ATTEMPT_TIMEOUT`]).
    #[must_use]
    pub fn with_attempt_timeout(mut self, timeout: Duration) -> Self {
        let conf = self.client.config();
        if let Some(t) = sdk_timeouts(conf.timeout_config(), SdkTimeout::Attempt, timeout, false) {
            self.client = aws_sdk_cloudwatchlogs::Client::from_conf(
                conf.to_builder().timeout_config(t).build(),
            );
        }
        self
    }

    /// Uses `time` for the time window and the retry budget (tests).
    #[must_use]
    pub fn with_time_source(mut self, time: SharedTimeSource) -> Self {
        self.time = time;
        self
    }

    /// Uses `sleep` for retry backoff (tests).
    #[must_use]
    pub fn with_sleep(mut self, sleep: SharedAsyncSleep) -> Self {
        self.sleep = sleep;
        self
    }

    /// Shares `stats` instead of the sender's own counters.
    #[must_use]
    pub fn with_stats(mut self, stats: Arc<SendStats>) -> Self {
        self.stats = stats;
        self
    }

    /// The counters.
    pub fn stats(&self) -> Arc<SendStats> {
        self.stats.clone()
    }

    /// Sends `events`: drops those outside the accepted time window, then
    /// per destination sorts and splits them into calls within the limits.
    /// A failed call loses only its own events; the error of the last failed
    /// call is returned when nothing at all was sent.
    pub async fn send(&self, events: Vec<EmfEvent>) -> Result<SendOutcome, ExportError> {
        let now_ms = self
            .time
            .now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let oldest = now_ms - MAX_EVENT_AGE.as_millis() as i64;
        let newest = now_ms + MAX_EVENT_FUTURE.as_millis() as i64;
        let mut outcome = SendOutcome::default();
        let total = events.len();
        // (group, stream) → events, in first-seen order.
        let mut by_dest: Vec<(Stream, Vec<LogEvent>)> = Vec::new();
        for e in events {
            if e.timestamp_ms < oldest {
                outcome.too_old += 1;
                continue;
            }
            if e.timestamp_ms > newest {
                outcome.too_new += 1;
                continue;
            }
            let stream = e
                .destination
                .log_stream
                .as_deref()
                .unwrap_or(&self.cfg.default_log_stream);
            let item = LogEvent {
                timestamp: e.timestamp_ms,
                message: e.message,
            };
            match by_dest
                .iter_mut()
                .find(|((g, s), _)| *g == e.destination.log_group && s == stream)
            {
                Some((_, list)) => list.push(item),
                None => by_dest.push((
                    (e.destination.log_group.clone(), stream.to_owned()),
                    vec![item],
                )),
            }
        }
        if outcome.too_old + outcome.too_new > 0 {
            tracing::warn!(
                too_old = outcome.too_old,
                too_new = outcome.too_new,
                "EMF: dropped events outside CloudWatch Logs' time window (14 days past, 2 hours future)"
            );
        }
        let mut last_error = None;
        for ((group, stream), mut list) in by_dest {
            list.sort_by_key(|e| e.timestamp);
            for call in split_calls(&list) {
                let n = call.len() as u64;
                match self.put_creating(&group, &stream, call, &mut outcome).await {
                    Ok(rejected) => {
                        outcome.calls += 1;
                        outcome.rejected += rejected;
                        outcome.events_sent += n - rejected.min(n);
                    }
                    Err(err) => {
                        outcome.failed += n;
                        tracing::warn!(%err, log_group = %group, log_stream = %stream, events = n, "EMF: PutLogEvents failed");
                        last_error = Some(err);
                    }
                }
            }
        }
        self.stats
            .events_sent
            .fetch_add(outcome.events_sent, Ordering::Relaxed);
        self.stats
            .events_dropped
            .fetch_add(outcome.dropped(), Ordering::Relaxed);
        self.stats
            .retries
            .fetch_add(u64::from(outcome.retries), Ordering::Relaxed);
        match last_error {
            Some(err) if outcome.events_sent == 0 && total > 0 => Err(err),
            _ => Ok(outcome),
        }
    }

    /// One call; on a missing group or stream, creates them (if allowed)
    /// and calls once more. The rejected event count.
    async fn put_creating(
        &self,
        group: &str,
        stream: &str,
        events: &[LogEvent],
        outcome: &mut SendOutcome,
    ) -> Result<u64, ExportError> {
        let n = events.len();
        let body = Bytes::from(
            put_body(group, stream, events).map_err(|e| ExportError::Encode(e.to_string()))?,
        );
        let (first, retries) = self.put(group, stream, &body, n).await;
        outcome.retries += retries;
        match first? {
            Put::Sent { rejected } => return Ok(rejected),
            Put::Missing => {}
        }
        if !(self.cfg.create_log_group || self.cfg.create_log_stream) {
            return Err(ExportError::Rejected {
                status: 400,
                message: format!(
                    "log group {group:?} or stream {stream:?} does not exist and creating them is off: create them, or allow creating them"
                ),
            });
        }
        outcome.retries += self.create(group, stream).await?;
        let (second, retries) = self.put(group, stream, &body, n).await;
        outcome.retries += retries + 1;
        match second? {
            Put::Sent { rejected } => Ok(rejected),
            Put::Missing => Err(ExportError::Rejected {
                status: 400,
                message: format!(
                    "log group {group:?} / stream {stream:?} still missing after creating them"
                ),
            }),
        }
    }

    /// Creates the stream; only when that finds the group missing, the
    /// group too (so a role without `logs:CreateLogGroup` still gets its
    /// streams created in an existing group, as `awsemf` does). Each call
    /// goes through the retry policy: CreateLogStream's rate is per account
    /// and region, and a fleet starting at once meets its throttling.
    async fn create(&self, group: &str, stream: &str) -> Result<u32, ExportError> {
        if !self.cfg.create_log_stream {
            return self.create_group(group).await;
        }
        let (first, mut retries) = self.create_stream(group, stream).await;
        if first? == Created::GroupMissing {
            if !self.cfg.create_log_group {
                return Err(ExportError::Rejected {
                    status: 400,
                    message: format!(
                        "log group {group:?} does not exist and creating log groups is off: create it, or allow creating it"
                    ),
                });
            }
            retries += self.create_group(group).await?;
            let (second, more) = self.create_stream(group, stream).await;
            retries += more;
            if second? == Created::GroupMissing {
                return Err(ExportError::Rejected {
                    status: 400,
                    message: format!("log group {group:?} still missing after creating it"),
                });
            }
        }
        Ok(retries)
    }

    async fn create_stream(
        &self,
        group: &str,
        stream: &str,
    ) -> (Result<Created, ExportError>, u32) {
        run_with_retry(&self.cfg.retry, &self.time, &self.sleep, || async {
            let result = self
                .client
                .create_log_stream()
                .log_group_name(group)
                .log_stream_name(stream)
                .send()
                .await;
            self.created(
                result.map(drop),
                "CreateLogStream needs logs:CreateLogStream",
            )
        })
        .await
    }

    /// The retries made.
    async fn create_group(&self, group: &str) -> Result<u32, ExportError> {
        if !self.cfg.create_log_group {
            return Ok(0);
        }
        let (result, retries) =
            run_with_retry(&self.cfg.retry, &self.time, &self.sleep, || async {
                let result = self
                    .client
                    .create_log_group()
                    .log_group_name(group)
                    .send()
                    .await;
                self.created(result.map(drop), "CreateLogGroup needs logs:CreateLogGroup")
            })
            .await;
        if result? == Created::New {
            tracing::info!(log_group = group, "EMF: created the log group");
        }
        Ok(retries)
    }

    /// What one create call's answer means: made (counted), there already
    /// (another sender made it), the group missing (CreateLogStream), or
    /// the exporters' retry rule, throttling included.
    fn created<E>(
        &self,
        result: Result<(), SdkError<E, aws_sdk_cloudwatchlogs::config::http::HttpResponse>>,
        needs: &str,
    ) -> Attempt<Created>
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        match result {
            Ok(()) => {
                self.stats.created.fetch_add(1, Ordering::Relaxed);
                Attempt::Done(Created::New)
            }
            Err(e) => match e.code() {
                Some("ResourceAlreadyExistsException") => Attempt::Done(Created::Existing),
                Some("ResourceNotFoundException") => Attempt::Done(Created::GroupMissing),
                _ => sdk_attempt(
                    &e,
                    |e| {
                        matches!(
                            e.code(),
                            Some("ThrottlingException" | "ServiceUnavailableException")
                        )
                    },
                    needs,
                ),
            },
        }
    }

    /// One PutLogEvents call (with the retry policy) sending `body`, the
    /// request [`put_body`] serialised, of `n` events.
    async fn put(
        &self,
        group: &str,
        stream: &str,
        body: &Bytes,
        n: usize,
    ) -> (Result<Put, ExportError>, u32) {
        run_with_retry(&self.cfg.retry, &self.time, &self.sleep, || async {
            self.stats.calls.fetch_add(1, Ordering::Relaxed);
            let body = body.clone();
            // The SDK serialises only the names here; the events go in as
            // the body we serialised once: its JSON writer escapes byte by
            // byte into a growing vector, and an EMF message (JSON inside
            // JSON) is a quote every few bytes — 13 % of the sidecar's CPU
            // on OTLP → EMF (docs/benchmarks.md). Replaced before signing,
            // so the signature covers what is sent.
            let result = self
                .client
                .put_log_events()
                .log_group_name(group)
                .log_stream_name(stream)
                .customize()
                .mutate_request(move |req| {
                    req.headers_mut()
                        .insert(http::header::CONTENT_LENGTH, body.len().to_string());
                    *req.body_mut() = SdkBody::from(body.clone());
                })
                .send()
                .await;
            match result {
                Ok(out) => Attempt::Done(Put::Sent {
                    rejected: out.rejected_log_events_info().map_or(0, |r| {
                        rejected_count(
                            r.too_new_log_event_start_index().map(i64::from),
                            r.too_old_log_event_end_index().map(i64::from),
                            r.expired_log_event_end_index().map(i64::from),
                            n,
                        )
                    }),
                }),
                Err(err) => classify(err),
            }
        })
        .await
    }
}

/// A missing group or stream is [`Put::Missing`]; otherwise the exporters'
/// rule ([`sdk_attempt`]), `ThrottlingException` and
/// `ServiceUnavailableException` counted as throttling.
fn classify(
    err: SdkError<PutLogEventsError, aws_sdk_cloudwatchlogs::config::http::HttpResponse>,
) -> Attempt<Put> {
    if let SdkError::ServiceError(ctx) = &err
        && let PutLogEventsError::ResourceNotFoundException(_) = ctx.err()
    {
        return Attempt::Done(Put::Missing);
    }
    sdk_attempt(
        &err,
        |e| {
            matches!(e, PutLogEventsError::ServiceUnavailableException(_))
                || e.code() == Some("ThrottlingException")
        },
        "PutLogEvents needs logs:PutLogEvents on the log group",
    )
}
