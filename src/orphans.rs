//! Owns the processes re-parented to us. `run` makes arcaflow-py the child subreaper of what it
//! starts, so a plugin's descendant that left the plugin's process group (a new session, a double
//! fork) and outlived its parent becomes our child instead of init's. When the run has ended and
//! every process we started ourselves has been reaped, any child left is such an orphan: it is
//! killed (with its process group) and reaped. Limits: this happens at the end of the run, not
//! at the end of each step, and not when arcaflow-py itself is SIGKILLed (RELIABILITY.md).

use std::time::{Duration, Instant};

/// Called once a run starts: descendants whose parent dies come to us.
pub fn adopt_orphans() {
    crate::sys::become_child_subreaper();
}

/// Kills and reaps every child process of ours. Only for when nothing we started ourselves
/// should be running any more (the run is over and its processes are reaped).
pub fn kill_all_children() {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let children = children();
        if children.is_empty() || Instant::now() > deadline {
            return;
        }
        for (pid, pgid) in &children {
            // Its own group first (what it started goes with it and comes to us), then itself.
            if pgid == pid {
                crate::sys::kill_process_group(*pgid);
            }
            crate::sys::kill_process(*pid);
        }
        for (pid, _) in &children {
            let until = Instant::now() + Duration::from_millis(500);
            while !crate::sys::reap_if_exited(*pid) && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }
}

/// Our child processes (pid, process group), from /proc.
fn children() -> Vec<(i32, i32)> {
    let me = std::process::id() as i32;
    let Ok(dir) = std::fs::read_dir("/proc") else { return Vec::new() };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // After the command name (which may hold spaces and parentheses): state, ppid, pgrp.
            let rest = stat.rsplit_once(')')?.1;
            let mut fields = rest.split_whitespace();
            let _state = fields.next()?;
            let ppid: i32 = fields.next()?.parse().ok()?;
            let pgrp: i32 = fields.next()?.parse().ok()?;
            (ppid == me).then_some((pid, pgrp))
        })
        .collect()
}
