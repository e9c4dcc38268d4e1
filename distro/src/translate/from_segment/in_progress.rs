//! Holding `in_progress` documents until the completed document arrives or
//! they time out (legacy SDKs send a segment when it starts and again when
//! it ends).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::translate::document::Segment;

/// Default time an in-progress document is held.
pub const DEFAULT_IN_PROGRESS_TIMEOUT: Duration = Duration::from_secs(60);
/// Default most documents held at once.
pub const DEFAULT_MAX_HELD: usize = 10_000;

/// Holds in-progress documents by `(trace_id, id)`. Time is injected: every
/// call takes `now`, so tests drive it without waiting.
#[derive(Debug)]
pub struct InProgressBuffer {
    timeout: Duration,
    max_held: usize,
    held: HashMap<(String, String), (Segment, Instant)>,
}

impl Default for InProgressBuffer {
    fn default() -> Self {
        Self::new(DEFAULT_IN_PROGRESS_TIMEOUT, DEFAULT_MAX_HELD)
    }
}

impl InProgressBuffer {
    /// A buffer holding at most `max_held` documents for at most `timeout`.
    pub fn new(timeout: Duration, max_held: usize) -> Self {
        Self {
            timeout,
            max_held,
            held: HashMap::new(),
        }
    }

    fn key(doc: &Segment) -> (String, String) {
        (doc.trace_id.clone().unwrap_or_default(), doc.id.clone())
    }

    /// Offers a received document. A completed document is returned for
    /// translation (and replaces any held in-progress version); an
    /// in-progress one is held (a later in-progress version replaces an
    /// earlier one, keeping the first arrival time) and `None` returned. When
    /// the buffer is full an in-progress document is returned as is.
    pub fn offer(&mut self, doc: Segment, now: Instant) -> Option<Segment> {
        if !doc.in_progress || doc.end_time.is_some() {
            // Most documents arrive completed with nothing held: no key built.
            if !self.held.is_empty() {
                self.held.remove(&Self::key(&doc));
            }
            return Some(doc);
        }
        let key = Self::key(&doc);
        if let Some((held, _)) = self.held.get_mut(&key) {
            *held = doc;
            return None;
        }
        if self.held.len() >= self.max_held {
            return Some(doc);
        }
        self.held.insert(key, (doc, now));
        None
    }

    /// Removes and returns the documents held for `timeout` or longer at
    /// `now`; they translate into spans marked in progress.
    pub fn expire(&mut self, now: Instant) -> Vec<Segment> {
        let timeout = self.timeout;
        let expired: Vec<(String, String)> = self
            .held
            .iter()
            .filter(|(_, (_, since))| now.saturating_duration_since(*since) >= timeout)
            .map(|(k, _)| k.clone())
            .collect();
        expired
            .into_iter()
            .filter_map(|k| self.held.remove(&k).map(|(doc, _)| doc))
            .collect()
    }

    /// Removes and returns everything held (shutdown).
    pub fn drain(&mut self) -> Vec<Segment> {
        self.held.drain().map(|(_, (doc, _))| doc).collect()
    }

    /// Documents held.
    pub fn len(&self) -> usize {
        self.held.len()
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }
}
