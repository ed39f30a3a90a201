//! Owns every `unsafe` call into the operating system (the rest of the crate denies
//! `unsafe_code`): the effective uid, killing a child with us, a new session for a child,
//! signalling a process group, and
//! waiting for a child's exit without reaping it.

#![allow(unsafe_code)]

use std::os::unix::process::CommandExt;
use std::process::Command;

/// The effective user id of this process.
pub(crate) fn effective_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// Makes the kernel SIGKILL the child when the thread that spawned it ends, so no plugin or
/// installer outlives us (even after kill -9).
pub(crate) fn kill_child_with_parent(cmd: &mut Command) {
    // SAFETY: the closure runs between fork and exec, and only calls prctl, which is
    // async-signal-safe and touches no memory of ours.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
}

/// Starts the child in a session of its own: no controlling terminal (so nothing in it can
/// prompt on ours) and a process group whose id is its pid, to be killed as a whole.
pub(crate) fn new_session(cmd: &mut Command) {
    // SAFETY: the closure runs between fork and exec and only calls setsid, which is
    // async-signal-safe and touches no memory of ours.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
}

/// SIGKILLs every process in the group `pgid`; a group that is gone already is fine.
pub(crate) fn kill_process_group(pgid: i32) {
    if pgid > 0 {
        // SAFETY: sending a signal has no memory effects; ESRCH (no such group) is fine.
        unsafe {
            libc::killpg(pgid, libc::SIGKILL);
        }
    }
}

/// Whether the child `pid` has exited, without reaping it (a zombie keeps its pid reserved).
pub(crate) fn exited_without_reaping(pid: i32) -> bool {
    // SAFETY: siginfo_t is plain data (all zeroes is valid); waitid with WNOWAIT|WNOHANG only
    // inspects the child's state.
    unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        let r = libc::waitid(libc::P_PID, pid as libc::id_t, &mut info, libc::WEXITED | libc::WNOHANG | libc::WNOWAIT);
        r == 0 && info.si_pid() != 0
    }
}

/// Blocks until the child `pid` exits, without reaping it; `false` if it cannot be waited for.
pub(crate) fn wait_exit_without_reaping(pid: i32) -> bool {
    // SAFETY: siginfo_t is plain data; waitid with WNOWAIT only waits for the state change.
    unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        libc::waitid(libc::P_PID, pid as libc::id_t, &mut info, libc::WEXITED | libc::WNOWAIT) == 0
    }
}
