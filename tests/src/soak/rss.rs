//! Resident memory of processes sampled from `/proc` at a fixed interval.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::loadgen::proc_stats;

/// One sample: seconds since the sampler started, RSS in KiB (summed over the pids).
pub type Sample = (f64, u64);

/// Samples the RSS of the pids in a shared list until dropped.
#[derive(Debug)]
pub struct RssSampler {
    samples: Arc<Mutex<Vec<Sample>>>,
    task: tokio::task::JoinHandle<()>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl RssSampler {
    /// Samples `pids` (which the caller may update, e.g. after a reset) every `every`.
    pub fn start(pids: Arc<Mutex<Vec<u32>>>, every: Duration) -> Self {
        let samples = Arc::new(Mutex::new(Vec::new()));
        let out = Arc::clone(&samples);
        let task = tokio::spawn(async move {
            let start = Instant::now();
            let mut tick = tokio::time::interval(every);
            // Ends when the sampler is dropped (the task is aborted).
            loop {
                tick.tick().await;
                let pids = lock(&pids).clone();
                let kib: u64 = pids
                    .iter()
                    .filter_map(|p| proc_stats::read(*p))
                    .map(|s| s.rss_kib)
                    .sum();
                if kib > 0 {
                    lock(&out).push((start.elapsed().as_secs_f64(), kib));
                }
            }
        });
        Self { samples, task }
    }

    /// The samples so far.
    pub fn samples(&self) -> Vec<Sample> {
        lock(&self.samples).clone()
    }
}

impl Drop for RssSampler {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What the RSS did over a run.
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct RssSummary {
    /// Samples taken.
    pub samples: usize,
    /// First sample, MiB.
    pub first_mib: f64,
    /// Last sample, MiB.
    pub last_mib: f64,
    /// Largest sample, MiB.
    pub max_mib: f64,
    /// Mean of the first quarter of the samples after the warm-up, MiB.
    pub first_quarter_mean_mib: f64,
    /// Mean of the last quarter, MiB.
    pub last_quarter_mean_mib: f64,
    /// (last-quarter mean / first-quarter mean − 1) × 100.
    pub growth_pct: f64,
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// Summarises `samples`, ignoring those before `warm_up` seconds for the quarter means.
pub fn summarize(samples: &[Sample], warm_up: f64) -> RssSummary {
    let (Some(first), Some(last)) = (samples.first(), samples.last()) else {
        return RssSummary::default();
    };
    let steady: Vec<u64> = samples
        .iter()
        .filter(|(t, _)| *t >= warm_up)
        .map(|(_, k)| *k)
        .collect();
    let steady = if steady.len() >= 4 {
        steady
    } else {
        samples.iter().map(|(_, k)| *k).collect()
    };
    let q = (steady.len() / 4).max(1);
    let mean = |s: &[u64]| mib(s.iter().sum::<u64>()) / s.len().max(1) as f64;
    let fq = mean(&steady[..q]);
    let lq = mean(&steady[steady.len() - q..]);
    RssSummary {
        samples: samples.len(),
        first_mib: mib(first.1),
        last_mib: mib(last.1),
        max_mib: mib(samples.iter().map(|s| s.1).max().unwrap_or(0)),
        first_quarter_mean_mib: fq,
        last_quarter_mean_mib: lq,
        growth_pct: if fq > 0.0 {
            (lq / fq - 1.0) * 100.0
        } else {
            0.0
        },
    }
}
