//! "This invoke is done" signals, from the function wrapper's final flush
//! (first, fastest) or `platform.runtimeDone` (fallback, ≥ 25 ms later).

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::sync::Notify;

/// Most finished request ids remembered (older ones are forgotten).
const MAX_REMEMBERED: usize = 64;

/// Who said the invoke is done.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DoneSource {
    /// The function wrapper's final-flush signal.
    Function,
    /// The Telemetry API's `platform.runtimeDone`.
    RuntimeDone,
}

impl DoneSource {
    /// A short name for logs and stats.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Function => "function",
            Self::RuntimeDone => "runtimeDone",
        }
    }
}

/// Request ids known to be done.
#[derive(Debug, Default)]
pub struct DoneSignals {
    done: Mutex<HashMap<String, DoneSource>>,
    notify: Notify,
}

impl DoneSignals {
    /// Empty.
    pub fn new() -> Self {
        Self::default()
    }

    /// Marks `request_id` done (the first source wins).
    pub fn mark(&self, request_id: &str, source: DoneSource) {
        {
            let mut done = self.done.lock().unwrap_or_else(|p| p.into_inner());
            if done.len() >= MAX_REMEMBERED && !done.contains_key(request_id) {
                done.clear();
            }
            done.entry(request_id.to_string()).or_insert(source);
        }
        self.notify.notify_waiters();
    }

    /// The source, if `request_id` is done.
    pub fn get(&self, request_id: &str) -> Option<DoneSource> {
        self.done
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(request_id)
            .copied()
    }

    /// Waits until `request_id` is done.
    pub async fn wait(&self, request_id: &str) -> DoneSource {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(s) = self.get(request_id) {
                return s;
            }
            notified.await;
        }
    }
}
