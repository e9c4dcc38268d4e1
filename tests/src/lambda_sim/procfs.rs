//! What `/proc` says about the processes of the environment: which pids are
//! in its process groups, their scheduler state, their peak memory.
//!
//! Hand-written rather than a procfs crate: three fields of
//! `/proc/<pid>/stat` and one line of `/proc/<pid>/status` are all we need.

use std::fs;

/// Fields of `/proc/<pid>/stat` after the command name.
struct Stat {
    state: char,
    pgrp: i32,
}

fn stat(pid: u32) -> Option<Stat> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may itself contain ") ".
    let rest = &text[text.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let _ppid = fields.next()?;
    let pgrp = fields.next()?.parse().ok()?;
    Some(Stat { state, pgrp })
}

/// The scheduler state letter of `pid` (`R`, `S`, `T` = stopped, `Z`, ...),
/// `None` when the process is gone.
pub fn process_state(pid: u32) -> Option<char> {
    stat(pid).map(|s| s.state)
}

/// Every live process whose process group is one of `pgids`.
pub fn group_pids(pgids: &[i32]) -> Vec<u32> {
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut pids: Vec<u32> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| stat(*pid).is_some_and(|s| pgids.contains(&s.pgrp)))
        .collect();
    pids.sort_unstable();
    pids
}

/// Peak resident set size of `pid` in KiB (`VmHWM`), 0 when unknown.
pub fn peak_rss_kib(pid: u32) -> u64 {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_process_is_running_and_in_its_group() {
        let me = std::process::id();
        assert!(matches!(process_state(me), Some('R' | 'S' | 'D')));
        let pgrp = stat(me).unwrap().pgrp;
        assert!(group_pids(&[pgrp]).contains(&me));
        assert!(peak_rss_kib(me) > 0);
    }
}
