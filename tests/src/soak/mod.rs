//! Soak and chaos harness (docs/benchmarks.md, "Soak and chaos"), used by the
//! `otel-aws-soak` binary:
//!
//! - [`lambda`]: lambda-sim runs the real extension and test function for
//!   many invokes against a [`otel_aws_testkit::chaos`] endpoint (random
//!   `503`s, latency spikes, a hanging period, an expired-credentials period);
//! - [`sidecar`]: the sidecar binary under the load generator at half its
//!   measured capacity with the upstream flapping, then SIGTERM under load;
//! - [`rss`]: resident memory sampled from `/proc` over a run.
//!
//! Everything is reported, nothing timed is asserted: the figures are what
//! the binaries did on this machine.
//!
//! This module is compiled into the binary only (not the testkit's library API).

pub mod lambda;
pub mod rss;
pub mod sidecar;

use std::path::PathBuf;
use std::str::FromStr;

/// Errors of a soak run (the binary's `main` wraps them with `anyhow`).
#[derive(Debug, thiserror::Error)]
pub enum SoakError {
    /// A `SOAK_*` variable did not parse.
    #[error("{name}={value:?} is not a valid number; unset it or give e.g. {example}")]
    BadKnob {
        /// Variable name.
        name: &'static str,
        /// Value found.
        value: String,
        /// An accepted value.
        example: &'static str,
    },
    /// A binary the run needs is missing.
    #[error("{0} not found; build it first (make soak builds everything) or set its SOAK_* path")]
    MissingBinary(PathBuf),
    /// Starting a fake or a process failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The simulator failed.
    #[error("lambda-sim: {0}")]
    Sim(String),
}

/// Reads the `SOAK_*` knob `name`, `default` when unset or empty.
pub fn knob<T: FromStr>(
    name: &'static str,
    default: T,
    example: &'static str,
) -> Result<T, SoakError> {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => v.trim().parse().map_err(|_| SoakError::BadKnob {
            name,
            value: v,
            example,
        }),
        _ => Ok(default),
    }
}

/// A binary of this build: `$var` when set, else `<target dir>/<profile>/<name>`
/// (the target dir from `CARGO_TARGET_DIR`, else `./target`).
pub fn binary(var: &str, profile: &str, name: &str) -> Result<PathBuf, SoakError> {
    let path = std::env::var_os(var).map(PathBuf::from).unwrap_or_else(|| {
        std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("target"))
            .join(profile)
            .join(name)
    });
    if path.is_file() {
        Ok(path)
    } else {
        Err(SoakError::MissingBinary(path))
    }
}

/// The `q` quantile (0..=1) of `values` (nearest rank); 0 when empty.
pub fn quantile(values: &[f64], q: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[rank - 1]
}

#[cfg(test)]
mod tests {
    use super::quantile;

    #[test]
    fn quantile_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(quantile(&v, 0.5), 50.0);
        assert_eq!(quantile(&v, 0.99), 99.0);
        assert_eq!(quantile(&[], 0.5), 0.0);
        assert_eq!(quantile(&[3.0], 0.99), 3.0);
    }
}
