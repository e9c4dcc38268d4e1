//! Retrying transient failures: exponential backoff with full jitter,
//! `Retry-After` honoured within the retry budget.
//!
//! Time and sleeping are injected through aws-smithy-async's
//! [`TimeSource`](aws_smithy_async::time::TimeSource) and
//! [`AsyncSleep`](aws_smithy_async::rt::sleep::AsyncSleep) so tests run
//! without waiting.

use std::future::Future;
use std::time::{Duration, SystemTime};

use aws_smithy_async::rt::sleep::{AsyncSleep, SharedAsyncSleep, Sleep};
use aws_smithy_async::time::SharedTimeSource;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::http::Response as HttpResponse;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::timeout::TimeoutConfig;
use rand::Rng;

use super::{ExportError, RetryPolicy};

/// Sleeps on the tokio timer. (aws-smithy-async has one behind its
/// `rt-tokio` feature; this avoids depending on feature unification.)
#[derive(Clone, Copy, Debug, Default)]
pub struct TokioSleep;

impl AsyncSleep for TokioSleep {
    fn sleep(&self, duration: Duration) -> Sleep {
        Sleep::new(tokio::time::sleep(duration))
    }
}

/// The largest backoff before retry number `retry` (0 = first retry):
/// `min(max_backoff, initial_backoff × 2^retry)`.
pub fn backoff_ceiling(policy: &RetryPolicy, retry: u32) -> Duration {
    let factor = 1u32.checked_shl(retry.min(31)).unwrap_or(u32::MAX);
    policy
        .initial_backoff
        .checked_mul(factor)
        .unwrap_or(policy.max_backoff)
        .min(policy.max_backoff)
}

/// Full jitter: uniform in `[0, backoff_ceiling]`.
pub(crate) fn jittered_backoff(policy: &RetryPolicy, retry: u32) -> Duration {
    let ceiling = backoff_ceiling(policy, retry);
    let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
    Duration::from_nanos(rand::rng().random_range(0..=nanos))
}

/// Parses a `Retry-After` value: delay seconds, or an HTTP date (IMF-fixdate,
/// RFC 850 or asctime, via `httpdate`) relative to `now`. A date in the past
/// means "now". `None` when unparsable.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Delay seconds; absurd values saturate (the retry budget caps them).
        return Some(Duration::from_secs(
            value.parse::<u64>().unwrap_or(u64::MAX),
        ));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

/// What one attempt produced.
#[derive(Debug)]
pub(crate) enum Attempt<T> {
    /// Finished (success or a final answer the caller interprets).
    Done(T),
    /// Transient failure: try again, after `retry_after` if the server said so.
    Retry {
        reason: String,
        retry_after: Option<Duration>,
    },
    /// Permanent failure.
    Fail(ExportError),
}

/// What a failed AWS SDK call made by an exporter (PutTraceSegments,
/// PutLogEvents) means for its retry: the service's throttling error
/// (`throttled` says which of its errors are), 429 and 5xx answers,
/// timeouts, connection failures and unreadable answers are transient;
/// any other answer is final, [`ExportError::Rejected`] with `needs` (the
/// permission the call takes) after the SDK's message, and a failure
/// before the call was sent (construction) is given up at once.
pub(crate) fn sdk_attempt<E, T>(
    err: &SdkError<E, HttpResponse>,
    throttled: impl FnOnce(&E) -> bool,
    needs: &str,
) -> Attempt<T>
where
    E: std::error::Error + 'static,
{
    let reason = DisplayErrorContext(err).to_string();
    let retry = |reason| Attempt::Retry {
        reason,
        retry_after: None,
    };
    match err {
        SdkError::ServiceError(ctx) => {
            let status = ctx.raw().status().as_u16();
            if throttled(ctx.err()) || status == 429 || status >= 500 {
                retry(reason)
            } else {
                Attempt::Fail(ExportError::Rejected {
                    status,
                    message: format!("{reason} ({needs})"),
                })
            }
        }
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            retry(reason)
        }
        _ => Attempt::Fail(ExportError::GaveUp {
            attempts: 1,
            reason,
        }),
    }
}

/// Which of an AWS SDK client's timeouts [`sdk_timeouts`] sets.
#[derive(Clone, Copy, Debug)]
pub(crate) enum SdkTimeout {
    /// One attempt (`operation_attempt_timeout`): what an exporter that runs
    /// its own retries bounds.
    Attempt,
    /// The whole call, its retries included (`operation_timeout`).
    Operation,
}

/// A client's timeouts (`current`) with `which` set to `timeout`, the rest
/// kept. With `only_if_unset`, `None` when the client already sets that one
/// (the application's choice wins): aws-config's defaults bound only the
/// connection, so without this an endpoint that accepts a connection and
/// never answers holds the caller for good.
pub(crate) fn sdk_timeouts(
    current: Option<&TimeoutConfig>,
    which: SdkTimeout,
    timeout: Duration,
    only_if_unset: bool,
) -> Option<TimeoutConfig> {
    let set = current.and_then(|t| match which {
        SdkTimeout::Attempt => t.operation_attempt_timeout(),
        SdkTimeout::Operation => t.operation_timeout(),
    });
    if only_if_unset && set.is_some() {
        return None;
    }
    let builder = current.map_or_else(TimeoutConfig::builder, TimeoutConfig::to_builder);
    Some(
        match which {
            SdkTimeout::Attempt => builder.operation_attempt_timeout(timeout),
            SdkTimeout::Operation => builder.operation_timeout(timeout),
        }
        .build(),
    )
}

/// Runs `attempt` until it is done, fails permanently, or the policy's
/// attempts or time budget run out. Returns the result and the retries made.
pub(crate) async fn run_with_retry<T, F, Fut>(
    policy: &RetryPolicy,
    time: &SharedTimeSource,
    sleep: &SharedAsyncSleep,
    mut attempt: F,
) -> (Result<T, ExportError>, u32)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Attempt<T>>,
{
    let start = time.now();
    let mut retries = 0u32;
    loop {
        let (reason, retry_after) = match attempt().await {
            Attempt::Done(value) => return (Ok(value), retries),
            Attempt::Fail(err) => return (Err(err), retries),
            Attempt::Retry {
                reason,
                retry_after,
            } => (reason, retry_after),
        };
        let attempts = retries + 1;
        if attempts >= policy.max_attempts.max(1) {
            return (Err(ExportError::GaveUp { attempts, reason }), retries);
        }
        let elapsed = time.now().duration_since(start).unwrap_or_default();
        let remaining = policy.max_elapsed.saturating_sub(elapsed);
        let wait = retry_after.unwrap_or_else(|| jittered_backoff(policy, retries));
        if wait > remaining {
            let reason = format!(
                "{reason}; the next retry (in {wait:?}) would exceed the {:?} retry budget",
                policy.max_elapsed
            );
            return (Err(ExportError::GaveUp { attempts, reason }), retries);
        }
        tracing::debug!(?wait, %reason, attempt = attempts, "retrying OTLP export");
        sleep.sleep(wait).await;
        retries += 1;
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use aws_smithy_async::time::TimeSource;
    use std::sync::{Arc, Mutex};

    /// A clock that only moves when something sleeps on it.
    #[derive(Clone, Debug)]
    pub(crate) struct ManualClock {
        now: Arc<Mutex<SystemTime>>,
        pub(crate) sleeps: Arc<Mutex<Vec<Duration>>>,
    }

    impl ManualClock {
        pub(crate) fn new(start_secs: u64) -> Self {
            Self {
                now: Arc::new(Mutex::new(
                    SystemTime::UNIX_EPOCH + Duration::from_secs(start_secs),
                )),
                sleeps: Arc::default(),
            }
        }
        pub(crate) fn advance(&self, d: Duration) {
            *self.now.lock().unwrap() += d;
        }
        pub(crate) fn sleeps(&self) -> Vec<Duration> {
            self.sleeps.lock().unwrap().clone()
        }
    }

    impl TimeSource for ManualClock {
        fn now(&self) -> SystemTime {
            *self.now.lock().unwrap()
        }
    }

    impl AsyncSleep for ManualClock {
        fn sleep(&self, duration: Duration) -> Sleep {
            self.advance(duration);
            self.sleeps.lock().unwrap().push(duration);
            Sleep::new(std::future::ready(()))
        }
    }

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 5,
            max_elapsed: Duration::from_secs(30),
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(5),
        }
    }

    #[test]
    fn backoff_ceilings_double_and_cap() {
        let p = policy();
        let ms: Vec<u128> = (0..8).map(|r| backoff_ceiling(&p, r).as_millis()).collect();
        assert_eq!(ms, vec![500, 1000, 2000, 4000, 5000, 5000, 5000, 5000]);
        assert_eq!(backoff_ceiling(&p, u32::MAX), Duration::from_secs(5));
    }

    #[test]
    fn jitter_stays_within_bounds_and_varies() {
        let p = policy();
        for retry in 0..6 {
            let samples: Vec<Duration> = (0..200).map(|_| jittered_backoff(&p, retry)).collect();
            assert!(samples.iter().all(|d| *d <= backoff_ceiling(&p, retry)));
            let distinct: std::collections::HashSet<_> = samples.iter().collect();
            assert!(distinct.len() > 50, "full jitter should spread values");
        }
    }

    #[test]
    fn retry_after_table() {
        // 2015-10-21T07:28:00Z, the RFC 9110 example date.
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480);
        let cases: &[(&str, Option<u64>)] = &[
            ("0", Some(0)),
            ("7", Some(7)),
            (" 120 ", Some(120)),
            ("Wed, 21 Oct 2015 07:28:30 GMT", Some(30)),
            ("Wednesday, 21-Oct-15 07:29:00 GMT", Some(60)),
            ("Wed Oct 21 07:28:05 2015", Some(5)),
            ("Wed, 21 Oct 2015 07:00:00 GMT", Some(0)), // past → now
            ("-1", None),
            ("1.5", None),
            ("soon", None),
            ("", None),
        ];
        for (value, want) in cases {
            assert_eq!(
                parse_retry_after(value, now),
                want.map(Duration::from_secs),
                "{value:?}"
            );
        }
        assert_eq!(
            parse_retry_after("99999999999999999999999", now),
            Some(Duration::from_secs(u64::MAX))
        );
    }

    fn run_script(
        p: &RetryPolicy,
        clock: &ManualClock,
        script: Vec<Attempt<u32>>,
    ) -> (Result<u32, ExportError>, u32, usize) {
        let time = SharedTimeSource::new(clock.clone());
        let sleep = SharedAsyncSleep::new(clock.clone());
        let script = Mutex::new(script.into_iter());
        let calls = Mutex::new(0usize);
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let (res, retries) = rt.block_on(run_with_retry(p, &time, &sleep, || {
            *calls.lock().unwrap() += 1;
            let next = script.lock().unwrap().next().unwrap();
            async move { next }
        }));
        let calls = *calls.lock().unwrap();
        (res, retries, calls)
    }

    fn retry(after: Option<u64>) -> Attempt<u32> {
        Attempt::Retry {
            reason: "HTTP 503".into(),
            retry_after: after.map(Duration::from_secs),
        }
    }

    #[test]
    fn retries_until_done() {
        let clock = ManualClock::new(1000);
        let (res, retries, calls) = run_script(
            &policy(),
            &clock,
            vec![retry(None), retry(None), retry(None), Attempt::Done(7)],
        );
        assert_eq!(res.unwrap(), 7);
        assert_eq!((retries, calls), (3, 4));
        let sleeps = clock.sleeps();
        assert_eq!(sleeps.len(), 3);
        for (i, d) in sleeps.iter().enumerate() {
            assert!(*d <= backoff_ceiling(&policy(), i as u32));
        }
    }

    #[test]
    fn honours_retry_after() {
        let clock = ManualClock::new(1000);
        let (res, _, _) = run_script(&policy(), &clock, vec![retry(Some(7)), Attempt::Done(1)]);
        assert!(res.is_ok());
        assert_eq!(clock.sleeps(), vec![Duration::from_secs(7)]);
    }

    #[test]
    fn retry_after_beyond_budget_gives_up() {
        let clock = ManualClock::new(1000);
        let (res, retries, calls) =
            run_script(&policy(), &clock, vec![retry(Some(31)), Attempt::Done(1)]);
        assert!(matches!(res, Err(ExportError::GaveUp { attempts: 1, .. })));
        assert_eq!((retries, calls), (0, 1));
        assert!(clock.sleeps().is_empty());
    }

    #[test]
    fn elapsed_budget_counts_time_spent() {
        let clock = ManualClock::new(1000);
        let p = RetryPolicy {
            max_attempts: 100,
            max_elapsed: Duration::from_secs(10),
            ..policy()
        };
        // Each Retry-After of 4 s fits until 8 s are spent; the third would end at 12 s.
        let (res, retries, _) = run_script(
            &p,
            &clock,
            vec![
                retry(Some(4)),
                retry(Some(4)),
                retry(Some(4)),
                Attempt::Done(1),
            ],
        );
        assert!(matches!(res, Err(ExportError::GaveUp { attempts: 3, .. })));
        assert_eq!(retries, 2);
    }

    #[test]
    fn max_attempts_and_permanent_failures() {
        let clock = ManualClock::new(1000);
        let (res, retries, calls) =
            run_script(&policy(), &clock, (0..10).map(|_| retry(None)).collect());
        assert!(matches!(res, Err(ExportError::GaveUp { attempts: 5, .. })));
        assert_eq!((retries, calls), (4, 5));

        let (res, retries, calls) = run_script(
            &policy(),
            &clock,
            vec![Attempt::Fail(ExportError::Rejected {
                status: 400,
                message: "bad".into(),
            })],
        );
        assert!(matches!(
            res,
            Err(ExportError::Rejected { status: 400, .. })
        ));
        assert_eq!((retries, calls), (0, 1));
    }

    #[test]
    fn an_sdk_timeout_is_added_only_where_asked_and_keeps_the_others() {
        let secs = Duration::from_secs;
        let connect = TimeoutConfig::builder().connect_timeout(secs(3)).build();
        // Unset: added, the connect timeout kept.
        let t = sdk_timeouts(Some(&connect), SdkTimeout::Attempt, secs(10), true).unwrap();
        assert_eq!(
            (
                t.connect_timeout(),
                t.operation_attempt_timeout(),
                t.operation_timeout()
            ),
            (Some(secs(3)), Some(secs(10)), None)
        );
        let t = sdk_timeouts(None, SdkTimeout::Operation, secs(10), true).unwrap();
        assert_eq!(
            (t.operation_timeout(), t.operation_attempt_timeout()),
            (Some(secs(10)), None)
        );
        // The client's own wins when only an unset one is to be added.
        let own = TimeoutConfig::builder()
            .operation_attempt_timeout(secs(2))
            .operation_timeout(secs(30))
            .build();
        assert!(sdk_timeouts(Some(&own), SdkTimeout::Attempt, secs(10), true).is_none());
        assert!(sdk_timeouts(Some(&own), SdkTimeout::Operation, secs(10), true).is_none());
        // The other kind set does not count as this one.
        let attempt_only = TimeoutConfig::builder()
            .operation_attempt_timeout(secs(2))
            .build();
        let t = sdk_timeouts(Some(&attempt_only), SdkTimeout::Operation, secs(10), true).unwrap();
        assert_eq!(
            (t.operation_timeout(), t.operation_attempt_timeout()),
            (Some(secs(10)), Some(secs(2)))
        );
        // Replaced when asked to.
        let t = sdk_timeouts(Some(&own), SdkTimeout::Attempt, secs(7), false).unwrap();
        assert_eq!(
            (t.operation_attempt_timeout(), t.operation_timeout()),
            (Some(secs(7)), Some(secs(30)))
        );
    }
}
