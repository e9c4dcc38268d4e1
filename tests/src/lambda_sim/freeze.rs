//! Freezing and thawing the execution environment.
//!
//! Every process of the environment (each extension, the runtime, and
//! whatever they fork) runs in its own process group; freezing sends
//! SIGSTOP to every group and waits until `/proc` shows each member stopped,
//! so "frozen" really means no process of the environment runs. Thawing
//! sends SIGCONT.

use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use super::procfs;

/// How long to wait for the kernel to stop every process.
const STOP_WAIT: Duration = Duration::from_secs(2);

/// Sends `signal` to every process group in `pgids` (groups already gone are skipped).
pub(crate) fn signal_groups(pgids: &[i32], signal: Signal) {
    for pgid in pgids {
        let _ = killpg(Pid::from_raw(*pgid), signal);
    }
}

/// Stops every process of the groups; returns the pids that are stopped
/// (after `/proc` confirms it, or after [`STOP_WAIT`]).
pub(crate) async fn freeze(pgids: &[i32]) -> Vec<u32> {
    signal_groups(pgids, Signal::SIGSTOP);
    let until = Instant::now() + STOP_WAIT;
    loop {
        let pids = procfs::group_pids(pgids);
        let all_stopped = pids.iter().all(|pid| {
            matches!(
                procfs::process_state(*pid),
                None | Some('T' | 't' | 'Z' | 'X')
            )
        });
        if all_stopped || Instant::now() >= until {
            return pids;
        }
        // Something forked between the scan and the signal: stop it too.
        signal_groups(pgids, Signal::SIGSTOP);
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Lets every process of the groups run again.
pub(crate) fn thaw(pgids: &[i32]) {
    signal_groups(pgids, Signal::SIGCONT);
}
