//! Owns every `unsafe` call into the operating system (the rest of the crate denies
//! `unsafe_code`): the effective uid, killing a child with us, a new session for a child,
//! signalling a process group, and
//! waiting for a child's exit without reaping it; and, through rustix (safe code), the socket and
//! pidfd calls of the fork servers.

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

/// Whether the process a pidfd refers to has exited, waiting up to `timeout` (`None`: until it
/// does). A pidfd that cannot be polled counts as exited: nobody waits on it for ever.
pub(crate) fn pidfd_exited(pidfd: &std::os::fd::OwnedFd, timeout: Option<std::time::Duration>) -> bool {
    use rustix::event::{poll, PollFd, PollFlags, Timespec};
    let ts = timeout.map(|d| Timespec { tv_sec: d.as_secs() as i64, tv_nsec: i64::from(d.subsec_nanos()) });
    loop {
        let mut fds = [PollFd::new(pidfd, PollFlags::IN)];
        match poll(&mut fds, ts.as_ref()) {
            Ok(n) => return n > 0,
            Err(rustix::io::Errno::INTR) => continue,
            Err(_) => return true,
        }
    }
}

/// Whether `fd` has something to read (or is closed) within `timeout`.
pub(crate) fn readable_within(fd: std::os::fd::BorrowedFd<'_>, timeout: std::time::Duration) -> bool {
    use rustix::event::{poll, PollFd, PollFlags, Timespec};
    let ts = Timespec { tv_sec: timeout.as_secs() as i64, tv_nsec: i64::from(timeout.subsec_nanos()) };
    let mut fds = [PollFd::from_borrowed_fd(fd, PollFlags::IN)];
    matches!(poll(&mut fds, Some(&ts)), Ok(n) if n > 0)
}

/// A connected pair of unix SOCK_SEQPACKET sockets (message boundaries kept), close-on-exec.
pub(crate) fn seqpacket_pair() -> std::io::Result<(std::os::fd::OwnedFd, std::os::fd::OwnedFd)> {
    use rustix::net::{socketpair, AddressFamily, SocketFlags, SocketType};
    Ok(socketpair(AddressFamily::UNIX, SocketType::SEQPACKET, SocketFlags::CLOEXEC, None)?)
}

/// Sends one message with `fds` attached (SCM_RIGHTS).
pub(crate) fn send_with_fds(
    sock: std::os::fd::BorrowedFd<'_>,
    data: &[u8],
    fds: &[std::os::fd::BorrowedFd<'_>],
) -> std::io::Result<()> {
    use rustix::net::{sendmsg, SendAncillaryBuffer, SendAncillaryMessage, SendFlags};
    let mut space = [std::mem::MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(4))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    if !control.push(SendAncillaryMessage::ScmRights(fds)) {
        return Err(std::io::Error::other("too many descriptors for one message"));
    }
    let sent = sendmsg(sock, &[std::io::IoSlice::new(data)], &mut control, SendFlags::NOSIGNAL)?;
    if sent != data.len() {
        return Err(std::io::Error::other("the message was cut short"));
    }
    Ok(())
}

/// Receives one message (up to `max` bytes) and the descriptors attached to it (close-on-exec).
/// An empty message means the peer closed the socket.
pub(crate) fn recv_with_fds(
    sock: std::os::fd::BorrowedFd<'_>,
    max: usize,
) -> std::io::Result<(Vec<u8>, Vec<std::os::fd::OwnedFd>)> {
    use rustix::net::{recvmsg, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags};
    let mut buf = vec![0u8; max];
    let mut space = [std::mem::MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(4))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let got = loop {
        match recvmsg(sock, &mut [std::io::IoSliceMut::new(&mut buf)], &mut control, RecvFlags::CMSG_CLOEXEC) {
            Err(rustix::io::Errno::INTR) => continue,
            other => break other?,
        }
    };
    let mut fds = Vec::new();
    for msg in control.drain() {
        if let RecvAncillaryMessage::ScmRights(rights) = msg {
            fds.extend(rights);
        }
    }
    buf.truncate(got.bytes);
    Ok((buf, fds))
}

/// Makes this process the "child subreaper" of its descendants: a plugin's grandchild whose
/// parent dies is re-parented to us (not to init), so we can find and end it.
pub(crate) fn become_child_subreaper() {
    // SAFETY: prctl with PR_SET_CHILD_SUBREAPER only sets a flag on this process.
    unsafe {
        libc::prctl(
            libc::PR_SET_CHILD_SUBREAPER,
            1 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
        );
    }
}

/// SIGKILLs the process `pid`; one that is gone already is fine.
pub(crate) fn kill_process(pid: i32) {
    if pid > 0 {
        // SAFETY: sending a signal has no memory effects; ESRCH (no such process) is fine.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
        }
    }
}

/// Reaps the child `pid` if it has exited (never blocks); true when it was reaped.
pub(crate) fn reap_if_exited(pid: i32) -> bool {
    // SAFETY: waitpid with WNOHANG on a specific child only collects its exit status.
    unsafe {
        let mut status = 0;
        libc::waitpid(pid, &mut status, libc::WNOHANG) == pid
    }
}
