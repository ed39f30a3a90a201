//! Owns the fork server ("zygote") of a plugin in a run: one Python process, started at the first
//! step, that imports the plugin's package and the SDK once and then forks a fresh process for
//! each step, so a step costs a fork instead of an interpreter start and those imports.
//!
//! The Python side is `zygote.py` (standard library only, run by the plugin's own interpreter;
//! its docstring has the protocol). The engine keeps talking ATP to each step over the step's own
//! pipes through the same [`PluginProcess`], with the same timeouts, cancellation and stderr
//! handling; only the process comes from a fork. When the fork server cannot serve (it cannot
//! start, the plugin's import starts threads or leaves files open, the plugin opts out, its
//! Python is too old) every step of that plugin is launched plainly for the rest of the run. A
//! fork server that dies is replaced at the next step, a few times per run.

use std::collections::HashMap;
use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use crate::atp::{AtpError, Forked, Launch, PluginProcess};

/// The Python program of a fork server.
const SCRIPT: &str = include_str!("zygote.py");
/// The fork server's `sys.argv[1]`: tells it from other Python processes (in `ps`, and in tests).
pub const MARKER: &str = "arcaflow-py-zygote";
/// Fork servers started per plugin and run: the first, and replacements of ones that died.
const MAX_STARTS: u32 = 4;
/// Messages are small JSON objects; anything longer is cut.
const MAX_MESSAGE: usize = 64 * 1024;
/// How much of a fork server's stderr is kept for error reports.
const STDERR_TAIL: usize = 8 * 1024;

/// How a step's process is to be launched.
pub enum Forking {
    Forked(PluginProcess),
    /// Plainly: no fork server for this plugin in this run, or this fork failed.
    Plain,
}

/// The fork server of one plugin in one run.
#[derive(Default)]
pub struct ForkServer {
    slot: Mutex<Slot>,
}

#[derive(Default)]
struct Slot {
    zygote: Option<Arc<Zygote>>,
    starts: u32,
    off: bool,
}

impl ForkServer {
    /// A forked process for the step `launch` describes, or `Plain`. Blocking (it may start the
    /// fork server and wait for its imports): call it from a blocking thread. `timeout` bounds
    /// the fork server's start as it bounds a plugin's hello; missing it fails the step.
    pub fn launch(&self, launch: &Launch, label: &str, timeout: Duration) -> Result<Forking, AtpError> {
        // An inline step runs the runner script, not a plugin module: nothing to import ahead.
        if launch.args.is_some() {
            return Ok(Forking::Plain);
        }
        let zygote = {
            let mut slot = self.slot.lock().unwrap_or_else(|e| e.into_inner());
            if slot.off {
                return Ok(Forking::Plain);
            }
            match &slot.zygote {
                Some(z) if z.alive() => z.clone(),
                _ => {
                    if slot.zygote.take().is_some() {
                        tracing::info!("the fork server of {} ended; starting another", launch.module);
                    }
                    if slot.starts >= MAX_STARTS {
                        tracing::warn!(
                            "the fork server of {} ended {} times; launching its steps plainly",
                            launch.module,
                            slot.starts
                        );
                        slot.off = true;
                        return Ok(Forking::Plain);
                    }
                    slot.starts += 1;
                    match Zygote::start(launch, timeout) {
                        Ok(z) => {
                            let z = Arc::new(z);
                            slot.zygote = Some(z.clone());
                            z
                        }
                        Err(Failure::Fallback(why)) => {
                            slot.off = true;
                            tracing::warn!("no fork server for {}: {why}; launching its steps plainly", launch.module);
                            return Ok(Forking::Plain);
                        }
                        Err(Failure::OptedOut(why)) => {
                            slot.off = true;
                            tracing::info!("no fork server for {}: {why}", launch.module);
                            return Ok(Forking::Plain);
                        }
                        Err(Failure::Timeout(stderr)) => {
                            slot.off = true;
                            return Err(AtpError::Startup {
                                message: format!(
                                    "the plugin sent no ATP hello within {} s (its fork server was still importing it)",
                                    timeout.as_secs_f64()
                                ),
                                stderr,
                            });
                        }
                    }
                }
            }
        };
        // The fork server runs with the plugin's environment; a step that wants another one
        // (none does today: `pluginEnv` is per plugin) is launched plainly.
        if zygote.env != launch.env || zygote.python != launch.python || zygote.module != launch.module {
            return Ok(Forking::Plain);
        }
        match zygote.fork(&launch.cwd, label, timeout) {
            Ok(p) => Ok(Forking::Forked(p)),
            Err(why) => {
                tracing::info!("{label}: the fork server could not fork it ({why}); launching it plainly");
                Ok(Forking::Plain)
            }
        }
    }
}

impl ForkServer {
    /// Ends the fork server now (at the end of a run, after every step was reaped) and waits
    /// for it, so that nothing it started is left when the run returns.
    pub fn shutdown(&self) {
        let zygote = {
            let mut slot = self.slot.lock().unwrap_or_else(|e| e.into_inner());
            slot.off = true;
            slot.zygote.take()
        };
        if let Some(z) = zygote {
            crate::atp::kill_group(z.pid);
            if let Some(mut child) = z.child.lock().ok().and_then(|mut c| c.take()) {
                let _ = child.wait();
            }
        }
    }
}

enum Failure {
    /// It cannot serve this plugin: say so, launch plainly.
    Fallback(String),
    /// The plugin said it does not want forks.
    OptedOut(String),
    /// It did not finish its imports in time (its stderr tail).
    Timeout(String),
}

enum Reply {
    Forked(Forked),
    Error(String),
}

type Statuses = Arc<Mutex<HashMap<i32, Arc<OnceLock<i32>>>>>;

/// One running fork server.
struct Zygote {
    pid: i32,
    child: Mutex<Option<Child>>,
    sock: OwnedFd,
    python: PathBuf,
    module: String,
    env: Vec<(String, String)>,
    /// Held while a request is in flight: the fork server answers in order.
    replies: Mutex<Receiver<Reply>>,
    dead: Arc<AtomicBool>,
}

impl Zygote {
    fn start(launch: &Launch, timeout: Duration) -> Result<Zygote, Failure> {
        let fail = |what: &str, e: std::io::Error| Failure::Fallback(format!("{what}: {e}"));
        let (ours, theirs) = crate::sys::seqpacket_pair().map_err(|e| fail("cannot make its socket", e))?;
        // Its working directory is the run's scratch directory (each step gets its own).
        let dir = launch.cwd.parent().filter(|d| d.is_dir()).unwrap_or(&launch.cwd);
        let mut cmd = Command::new(&launch.python);
        cmd.arg("-c")
            .arg(SCRIPT)
            .arg(MARKER)
            .arg(&launch.module)
            .current_dir(dir)
            .env_clear()
            .envs(launch.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::from(theirs))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .process_group(0);
        // It dies with us; the steps it forks die with it.
        crate::sys::kill_child_with_parent(&mut cmd);
        let mut child = crate::atp::client::spawn_on_spawner(cmd).map_err(|e| fail("cannot start it", e))?;
        let pid = child.id() as i32;
        let tail = Arc::new(Mutex::new(String::new()));
        if let Some(stderr) = child.stderr.take() {
            drain_stderr(stderr, tail.clone(), launch.module.clone());
        }
        let stop = |child: Child| end(pid, child);
        let stderr_tail = || tail.lock().map(|t| t.clone()).unwrap_or_default();
        if !crate::sys::readable_within(ours.as_fd(), timeout) {
            stop(child);
            return Err(Failure::Timeout(stderr_tail()));
        }
        let first = crate::sys::recv_with_fds(ours.as_fd(), MAX_MESSAGE);
        let hello: serde_json::Value = match &first {
            Ok((msg, _)) if !msg.is_empty() => serde_json::from_slice(msg).unwrap_or_default(),
            _ => serde_json::Value::Null,
        };
        if hello.get("ready").and_then(serde_json::Value::as_bool) != Some(true) {
            stop(child);
            if let Some(why) = hello.get("fallback").and_then(serde_json::Value::as_str) {
                return Err(if why.contains("__arcaflow_fork_server__") {
                    Failure::OptedOut(why.to_string())
                } else {
                    Failure::Fallback(why.to_string())
                });
            }
            // Give its stderr drain a moment to catch its last words.
            std::thread::sleep(Duration::from_millis(50));
            let stderr = stderr_tail();
            let last = stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("no message").trim().to_string();
            return Err(Failure::Fallback(format!("it exited before it was ready ({last})")));
        }
        let (tx, rx) = std::sync::mpsc::channel();
        let dead = Arc::new(AtomicBool::new(false));
        let reader_sock = ours.try_clone().map_err(|e| Failure::Fallback(format!("cannot read its socket: {e}")));
        let reader_sock = match reader_sock {
            Ok(s) => s,
            Err(e) => {
                stop(child);
                return Err(e);
            }
        };
        spawn_reader(reader_sock, tx, dead.clone(), Arc::default());
        tracing::debug!("fork server of {} ready (pid {pid})", launch.module);
        Ok(Zygote {
            pid,
            child: Mutex::new(Some(child)),
            sock: ours,
            python: launch.python.clone(),
            module: launch.module.clone(),
            env: launch.env.clone(),
            replies: Mutex::new(rx),
            dead,
        })
    }

    fn alive(&self) -> bool {
        !self.dead.load(Ordering::SeqCst) && !crate::sys::exited_without_reaping(self.pid)
    }

    /// Asks for a process running the step in `cwd`, talking over fresh pipes.
    fn fork(&self, cwd: &Path, label: &str, timeout: Duration) -> Result<PluginProcess, String> {
        let pipes = || -> std::io::Result<_> { Ok((std::io::pipe()?, std::io::pipe()?, std::io::pipe()?)) };
        let ((stdin_r, stdin_w), (stdout_r, stdout_w), (stderr_r, stderr_w)) =
            pipes().map_err(|e| format!("cannot make pipes: {e}"))?;
        let request = serde_json::json!({ "cwd": cwd }).to_string();
        let replies = self.replies.lock().unwrap_or_else(|e| e.into_inner());
        crate::sys::send_with_fds(
            self.sock.as_fd(),
            request.as_bytes(),
            &[stdin_r.as_fd(), stdout_w.as_fd(), stderr_w.as_fd()],
        )
        .map_err(|e| format!("cannot send the request: {e}"))?;
        // The child's ends now live in the fork server (and the child): ours must go, or the
        // child's exit would not close its output.
        drop((stdin_r, stdout_w, stderr_w));
        match replies.recv_timeout(timeout) {
            Ok(Reply::Forked(forked)) => Ok(PluginProcess::adopt(forked, stdin_w, stdout_r, stderr_r, label)),
            Ok(Reply::Error(e)) => Err(e),
            Err(_) => {
                // Silent or gone: it serves no one any more.
                self.dead.store(true, Ordering::SeqCst);
                crate::atp::kill_group(self.pid);
                Err("the fork server did not answer".into())
            }
        }
    }
}

impl Drop for Zygote {
    fn drop(&mut self) {
        if let Some(child) = self.child.get_mut().ok().and_then(Option::take) {
            end(self.pid, child);
        }
    }
}

/// Kills a fork server (the steps it forked die with it) and reaps it, off the caller's thread.
fn end(pid: i32, mut child: Child) {
    crate::atp::kill_group(pid);
    std::thread::spawn(move || {
        let _ = child.wait();
    });
}

/// Reads the fork server's messages: fork replies go to the one request in flight, exit
/// statuses to the steps' status cells. At the end of the stream the fork server is dead.
fn spawn_reader(sock: OwnedFd, tx: Sender<Reply>, dead: Arc<AtomicBool>, statuses: Statuses) {
    std::thread::spawn(move || {
        loop {
            let Ok((msg, mut fds)) = crate::sys::recv_with_fds(sock.as_fd(), MAX_MESSAGE) else { break };
            if msg.is_empty() {
                break;
            }
            let v: serde_json::Value = serde_json::from_slice(&msg).unwrap_or_default();
            let int = |key: &str| v.get(key).and_then(serde_json::Value::as_i64).and_then(|n| i32::try_from(n).ok());
            if let Some(pid) = int("forked") {
                let reply = match fds.pop() {
                    Some(pidfd) => {
                        let status = Arc::new(OnceLock::new());
                        if let Ok(mut s) = statuses.lock() {
                            s.insert(pid, status.clone());
                        }
                        Reply::Forked(Forked { pid, pidfd, status })
                    }
                    None => Reply::Error("the fork server sent no pidfd".into()),
                };
                let _ = tx.send(reply);
            } else if let Some(pid) = int("exited") {
                let cell = statuses.lock().ok().and_then(|mut s| s.remove(&pid));
                if let (Some(cell), Some(status)) = (cell, int("status")) {
                    let _ = cell.set(status);
                }
            } else if let Some(e) = v.get("error").and_then(serde_json::Value::as_str) {
                let _ = tx.send(Reply::Error(e.to_string()));
            }
        }
        // The steps it forked die with it (PR_SET_PDEATHSIG): their statuses will not come.
        dead.store(true, Ordering::SeqCst);
    });
}

fn drain_stderr(mut stderr: std::process::ChildStderr, tail: Arc<Mutex<String>>, module: String) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        loop {
            let n = match stderr.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let text = String::from_utf8_lossy(&buf[..n]);
            for line in text.lines() {
                tracing::debug!("fork server of {module} stderr: {line}");
            }
            if let Ok(mut t) = tail.lock() {
                t.push_str(&text);
                if t.len() > STDERR_TAIL {
                    let mut cut = t.len() - STDERR_TAIL;
                    while !t.is_char_boundary(cut) {
                        cut += 1;
                    }
                    t.drain(..cut);
                }
            }
        }
    });
}
