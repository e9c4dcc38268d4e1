//! The background task that keeps an [`XraySampler`]'s rules and targets
//! fresh: rules every `polling_interval` (+ up to 5 s jitter), statistics
//! and targets every 10 s (or the targets' `Interval`), rules again when
//! `LastRuleModification` is newer than ours (`spec/xray.md`).

use std::sync::{Arc, Weak};
use std::time::Duration;

use aws_credential_types::provider::SharedCredentialsProvider;
use rand::Rng;
use tokio::time::Instant;

use super::client::{MAX_STATISTICS_PER_CALL, XrayApiClient, XrayApiError};
use super::sampler::{Shared, XraySampler};

/// Default interval between `GetSamplingRules` calls.
pub const DEFAULT_RULES_INTERVAL: Duration = Duration::from_secs(300);
/// Default interval between `GetSamplingTargets` calls.
pub const DEFAULT_TARGETS_INTERVAL: Duration = Duration::from_secs(10);

/// Poller timing.
#[derive(Clone, Debug, PartialEq)]
pub struct PollerOptions {
    /// Between rules fetches (ARG `polling_interval`; default 300 s).
    pub rules_interval: Duration,
    /// Up to this much random delay is added to each rules interval (5 s).
    pub rules_jitter: Duration,
    /// Between targets calls when X-Ray names no `Interval` (10 s); also the
    /// retry delay after a failed rules fetch.
    pub targets_interval: Duration,
    /// Up to this much random delay is added to each targets interval (100 ms).
    pub targets_jitter: Duration,
}

impl Default for PollerOptions {
    fn default() -> Self {
        Self {
            rules_interval: DEFAULT_RULES_INTERVAL,
            rules_jitter: Duration::from_secs(5),
            targets_interval: DEFAULT_TARGETS_INTERVAL,
            targets_jitter: Duration::from_millis(100),
        }
    }
}

/// Where the poller gets its client.
#[derive(Clone, Debug)]
pub enum PollerClient {
    /// This client.
    Ready(XrayApiClient),
    /// aws-sdk-xray from aws-config's default chain, loaded by the task
    /// (so starting never blocks), with these overrides.
    DefaultChain {
        /// Region (else the chain's).
        region: Option<String>,
        /// Endpoint URL (else `AWS_ENDPOINT_URL_XRAY` / `AWS_ENDPOINT_URL` as the chain reads them).
        endpoint_url: Option<String>,
        /// Credentials (else the chain's).
        credentials: Option<SharedCredentialsProvider>,
    },
}

/// Stops the poller (also stopped when every clone of its sampler is dropped).
#[derive(Clone, Debug)]
pub struct PollerHandle {
    task: Arc<tokio::task::AbortHandle>,
}

impl PollerHandle {
    /// Stops polling now; the sampler keeps deciding with what it has (and
    /// falls back once the rules are an hour old).
    pub fn stop(&self) {
        self.task.abort();
    }

    /// Whether the task has ended.
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }
}

/// Outcome of one statistics report.
#[derive(Clone, Debug, PartialEq)]
pub struct ReportOutcome {
    /// Statistics documents sent.
    pub documents: usize,
    /// When to report next (the smallest target `Interval`, else the default).
    pub next_in: Duration,
    /// X-Ray's rules changed after ours were fetched: fetch them again.
    pub rules_changed: bool,
}

/// One `GetSamplingRules` round: fetches every page and installs the rules.
/// Returns how many rules the answer held.
pub async fn refresh_rules(
    sampler: &XraySampler,
    client: &XrayApiClient,
) -> Result<usize, XrayApiError> {
    let rules = client.get_sampling_rules().await?;
    let n = rules.len();
    sampler.update_rules(rules);
    Ok(n)
}

/// One statistics round: takes the counters (and the adaptive sampling
/// boost counters), sends them in calls of at most 25 documents of each
/// kind, applies the targets (and their boosts).
pub async fn report_statistics(
    sampler: &XraySampler,
    client: &XrayApiClient,
    default_interval: Duration,
) -> Result<ReportOutcome, XrayApiError> {
    let stats = sampler.take_statistics();
    let boost_stats = sampler.take_boost_statistics();
    let mut next_in: Option<Duration> = None;
    let mut rules_changed = false;
    let fetched = sampler.rules_fetched_at();
    let calls = stats
        .len()
        .div_ceil(MAX_STATISTICS_PER_CALL)
        .max(boost_stats.len().div_ceil(MAX_STATISTICS_PER_CALL));
    for i in 0..calls {
        let answer = client
            .get_sampling_targets(
                &stats[chunk(stats.len(), i)],
                &boost_stats[chunk(boost_stats.len(), i)],
            )
            .await?;
        sampler.update_targets(&answer.targets);
        if !answer.unprocessed_boost_statistics.is_empty() {
            tracing::debug!(
                rules = ?answer.unprocessed_boost_statistics,
                "X-Ray did not process these boost statistics"
            );
        }
        for t in &answer.targets {
            if let Some(s) = t.interval_secs.filter(|s| *s > 0) {
                let d = Duration::from_secs(u64::from(s));
                next_in = Some(next_in.map_or(d, |n| n.min(d)));
            }
        }
        if let (Some(modified), Some(fetched)) = (answer.last_rule_modification, fetched) {
            rules_changed |= modified > fetched;
        }
    }
    Ok(ReportOutcome {
        documents: stats.len(),
        next_in: next_in.unwrap_or(default_interval),
        rules_changed,
    })
}

/// The `i`th run of at most [`MAX_STATISTICS_PER_CALL`] of `len` documents.
fn chunk(len: usize, i: usize) -> std::ops::Range<usize> {
    let start = i.saturating_mul(MAX_STATISTICS_PER_CALL).min(len);
    start..start.saturating_add(MAX_STATISTICS_PER_CALL).min(len)
}

impl XraySampler {
    /// Starts the poller on the current tokio runtime; `None` (and a
    /// warning) outside one. The first rules fetch starts at once; until it
    /// succeeds the fallback decides.
    pub fn spawn_poller(&self, client: PollerClient, opts: PollerOptions) -> Option<PollerHandle> {
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            tracing::warn!(
                "the X-Ray sampler needs a tokio runtime to poll its rules; using the fallback (1 req/s, then 5 %)"
            );
            return None;
        };
        let task = rt.spawn(run(self.downgrade(), client, opts)).abort_handle();
        let _ = self.shared.poller.set(task.clone());
        Some(PollerHandle {
            task: Arc::new(task),
        })
    }
}

/// Longest wait the poller schedules (a day); [`PollerOptions`] has public
/// fields, so any `Duration` may arrive here.
pub(crate) const MAX_WAIT: Duration = Duration::from_secs(86_400);

fn jitter(max: Duration) -> Duration {
    let max = max.min(MAX_WAIT);
    if max.is_zero() {
        return Duration::ZERO;
    }
    let ms = u64::try_from(max.as_millis()).unwrap_or(u64::MAX);
    Duration::from_millis(rand::rng().random_range(0..=ms))
}

/// `now + wait + jitter`, with `wait` capped at [`MAX_WAIT`] and checked
/// arithmetic: never the "overflow when adding duration to instant" panic.
pub(crate) fn deadline(now: Instant, wait: Duration, jitter: Duration) -> Instant {
    let wait = wait.saturating_add(jitter).min(MAX_WAIT);
    now.checked_add(wait).unwrap_or(now)
}

async fn run(weak: Weak<Shared>, client: PollerClient, opts: PollerOptions) {
    let client = match client {
        PollerClient::Ready(c) => c,
        PollerClient::DefaultChain {
            region,
            endpoint_url,
            credentials,
        } => match XrayApiClient::from_default_chain(region, endpoint_url, credentials).await {
            Ok(c) => c,
            Err(err) => {
                tracing::warn!(%err, "X-Ray sampler cannot poll rules; using the fallback (1 req/s, then 5 %)");
                return;
            }
        },
    };
    let mut next_rules = Instant::now();
    let mut next_targets = deadline(Instant::now(), opts.targets_interval, Duration::ZERO);
    loop {
        tokio::time::sleep_until(next_rules.min(next_targets)).await;
        let Some(shared) = weak.upgrade() else {
            return; // every sampler clone is gone
        };
        let sampler = XraySampler { shared };
        let now = Instant::now();
        if now >= next_rules {
            next_rules = match refresh_rules(&sampler, &client).await {
                Ok(n) => {
                    tracing::debug!(rules = n, "X-Ray sampling rules fetched");
                    deadline(
                        Instant::now(),
                        opts.rules_interval,
                        jitter(opts.rules_jitter),
                    )
                }
                Err(err) => {
                    tracing::warn!(%err, "cannot fetch X-Ray sampling rules; keeping the current ones");
                    deadline(Instant::now(), opts.targets_interval, Duration::ZERO)
                }
            };
        }
        if now >= next_targets {
            next_targets = match report_statistics(&sampler, &client, opts.targets_interval).await {
                Ok(outcome) => {
                    if outcome.rules_changed {
                        next_rules = Instant::now();
                    }
                    deadline(Instant::now(), outcome.next_in, jitter(opts.targets_jitter))
                }
                Err(err) => {
                    tracing::warn!(%err, "cannot report X-Ray sampling statistics");
                    deadline(Instant::now(), opts.targets_interval, Duration::ZERO)
                }
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_intervals_never_overflow_the_deadline() {
        let now = Instant::now();
        for (wait, extra) in [
            (Duration::MAX, Duration::MAX),
            (Duration::from_secs(u64::MAX), Duration::ZERO),
            (Duration::ZERO, jitter(Duration::MAX)),
        ] {
            let d = deadline(now, wait, extra);
            assert!(d >= now && d <= now + MAX_WAIT, "{wait:?} + {extra:?}");
        }
        assert!(jitter(Duration::MAX) <= MAX_WAIT);
        assert_eq!(
            deadline(now, Duration::from_secs(10), Duration::from_millis(5)),
            now + Duration::from_millis(10_005)
        );
    }
}
