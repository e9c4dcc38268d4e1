//! Cached AWS credentials for signing.
//!
//! `SdkConfig::credentials_provider()` is the bare default chain: every call
//! resolves again (an IMDS or ECS metadata round trip). The SDK clients cache
//! through aws-smithy-runtime's `IdentityCache`, but that cache is only
//! callable with the orchestrator's `RuntimeComponents` and `ConfigBag`, which
//! an exporter outside an SDK client does not have. So this is the same
//! policy in a few lines: keep the credentials, refresh them a margin before
//! they expire (one refresh at a time), and keep using still-valid ones if a
//! refresh fails.

use std::time::Duration;

use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_smithy_async::time::SharedTimeSource;
use tokio::sync::Mutex;

use super::ExportError;

/// Refresh this long before expiry (the SDK's lazy cache uses 5 minutes).
pub const DEFAULT_REFRESH_MARGIN: Duration = Duration::from_secs(300);

/// Give up on one credentials load after this long.
const LOAD_TIMEOUT: Duration = Duration::from_secs(10);

/// A credentials provider with a cache in front.
#[derive(Debug)]
pub struct CachedCredentials {
    provider: SharedCredentialsProvider,
    time: SharedTimeSource,
    margin: Duration,
    cached: Mutex<Option<Credentials>>,
}

impl CachedCredentials {
    /// Caches `provider`, refreshing [`DEFAULT_REFRESH_MARGIN`] before expiry.
    pub fn new(provider: SharedCredentialsProvider, time: SharedTimeSource) -> Self {
        Self::with_margin(provider, time, DEFAULT_REFRESH_MARGIN)
    }

    /// Caches `provider`, refreshing `margin` before expiry.
    pub fn with_margin(
        provider: SharedCredentialsProvider,
        time: SharedTimeSource,
        margin: Duration,
    ) -> Self {
        Self {
            provider,
            time,
            margin,
            cached: Mutex::new(None),
        }
    }

    /// Forgets the cached credentials: the next [`get`](Self::get) loads them
    /// again (the endpoint answered that the cached ones expired).
    pub async fn invalidate(&self) {
        *self.cached.lock().await = None;
    }

    /// Current credentials, loading or refreshing them when needed.
    pub async fn get(&self) -> Result<Credentials, ExportError> {
        let mut cached = self.cached.lock().await;
        let now = self.time.now();
        if let Some(creds) = cached.as_ref() {
            let fresh = match creds.expiry() {
                None => true,
                Some(expiry) => expiry
                    .duration_since(now)
                    .is_ok_and(|left| left > self.margin),
            };
            if fresh {
                return Ok(creds.clone());
            }
        }
        let loaded = tokio::time::timeout(LOAD_TIMEOUT, self.provider.provide_credentials()).await;
        let err = match loaded {
            Ok(Ok(creds)) => {
                *cached = Some(creds.clone());
                return Ok(creds);
            }
            Ok(Err(err)) => format!("{err}"),
            Err(_) => format!("timed out after {LOAD_TIMEOUT:?}"),
        };
        // Still valid (just inside the refresh margin)? Keep signing with it.
        if let Some(creds) = cached
            .as_ref()
            .filter(|c| c.expiry().is_some_and(|expiry| expiry > now))
        {
            tracing::warn!(error = %err, "refreshing AWS credentials failed; using the cached ones until they expire");
            return Ok(creds.clone());
        }
        Err(ExportError::Credentials(err))
    }
}

#[cfg(test)]
mod tests {
    use super::super::retry::tests::ManualClock;
    use super::*;
    use aws_credential_types::provider::error::CredentialsError;
    use aws_credential_types::provider::future::ProvideCredentials as ProvideFuture;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Hands out credentials that expire `ttl` after the clock's now; counts loads.
    #[derive(Debug)]
    struct Counting {
        loads: Arc<AtomicUsize>,
        clock: ManualClock,
        ttl: Option<Duration>,
        fail: Arc<std::sync::atomic::AtomicBool>,
    }

    impl ProvideCredentials for Counting {
        fn provide_credentials<'a>(&'a self) -> ProvideFuture<'a>
        where
            Self: 'a,
        {
            let n = self.loads.fetch_add(1, Ordering::SeqCst);
            if self.fail.load(Ordering::SeqCst) {
                return ProvideFuture::ready(Err(CredentialsError::not_loaded("down")));
            }
            use aws_smithy_async::time::TimeSource;
            let expiry = self.ttl.map(|ttl| self.clock.now() + ttl);
            ProvideFuture::ready(Ok(Credentials::new(
                format!("AKID{n}"),
                "secret",
                None,
                expiry,
                "test",
            )))
        }
    }

    fn setup(
        ttl: Option<Duration>,
    ) -> (
        CachedCredentials,
        Arc<AtomicUsize>,
        ManualClock,
        Arc<std::sync::atomic::AtomicBool>,
    ) {
        let clock = ManualClock::new(1_700_000_000);
        let loads = Arc::new(AtomicUsize::new(0));
        let fail = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let provider = SharedCredentialsProvider::new(Counting {
            loads: loads.clone(),
            clock: clock.clone(),
            ttl,
            fail: fail.clone(),
        });
        let cache = CachedCredentials::new(provider, SharedTimeSource::new(clock.clone()));
        (cache, loads, clock, fail)
    }

    #[tokio::test]
    async fn caches_until_refresh_margin() {
        let (cache, loads, clock, _) = setup(Some(Duration::from_secs(3600)));
        assert_eq!(cache.get().await.unwrap().access_key_id(), "AKID0");
        clock.advance(Duration::from_secs(3000)); // 600 s left > 300 s margin
        assert_eq!(cache.get().await.unwrap().access_key_id(), "AKID0");
        assert_eq!(loads.load(Ordering::SeqCst), 1);
        clock.advance(Duration::from_secs(301)); // 299 s left: refresh
        assert_eq!(cache.get().await.unwrap().access_key_id(), "AKID1");
        assert_eq!(loads.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn static_credentials_load_once() {
        let (cache, loads, clock, _) = setup(None);
        for _ in 0..5 {
            cache.get().await.unwrap();
            clock.advance(Duration::from_secs(100_000));
        }
        assert_eq!(loads.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn failed_refresh_keeps_valid_credentials_then_errors() {
        let (cache, _, clock, fail) = setup(Some(Duration::from_secs(600)));
        cache.get().await.unwrap();
        fail.store(true, Ordering::SeqCst);
        clock.advance(Duration::from_secs(400)); // inside the margin, still valid
        assert_eq!(cache.get().await.unwrap().access_key_id(), "AKID0");
        clock.advance(Duration::from_secs(300)); // expired
        assert!(matches!(
            cache.get().await,
            Err(ExportError::Credentials(_))
        ));
    }
}
