//! Owns a plugin process: spawning it in its own process group, speaking ATP with it (through
//! [`super::codec`]) over stdin/stdout while stderr is drained continuously, and ending it.
//!
//! The plugin may print plain text before its hello and after CLIENT_DONE, and reports
//! `debug_logs` cumulatively per process. The I/O runs on plain threads (ciborium decodes from
//! blocking readers); the engine talks to them through channels.

use std::collections::VecDeque;
use std::io::{BufReader, Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use ciborium::Value as C;
use tokio::sync::mpsc;

use super::codec::{self, first_line, read_hello, tidy_plugin_error, Hello, Incoming, WorkDone};
use crate::value::Value;

/// How much of a plugin's stderr is kept for error reports.
const STDERR_TAIL: usize = 16 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum AtpError {
    #[error("cannot start the plugin ({command}): {source}")]
    Spawn { command: String, source: std::io::Error },
    #[error("{message}{}", stderr_suffix(.stderr))]
    Startup { message: String, stderr: String },
    #[error("{message}{}", stderr_suffix(.stderr))]
    Protocol { message: String, stderr: String },
    #[error("{0}")]
    Step(String),
}

fn stderr_suffix(stderr: &str) -> String {
    let t = stderr.trim();
    if t.is_empty() {
        String::new()
    } else {
        format!("\nplugin stderr (last lines):\n{}", indent(t))
    }
}

fn indent(s: &str) -> String {
    s.lines().map(|l| format!("  | {l}")).collect::<Vec<_>>().join("\n")
}

/// What is needed to launch a plugin.
#[derive(Debug, Clone)]
pub struct Launch {
    pub python: PathBuf,
    pub module: String,
    pub cwd: PathBuf,
    /// The environment the plugin gets (the engine decides; see README "plugin environment").
    pub env: Vec<(String, String)>,
    /// Arguments to the interpreter instead of `-m <module> --atp` (the inline-step runner).
    pub args: Option<Vec<String>>,
}

type Tail = Arc<Mutex<VecDeque<u8>>>;

/// A step process forked by a fork server (`crate::zygote`): not our child, so its exit is watched
/// through a pidfd, and its wait status comes from the fork server that reaps it.
pub struct Forked {
    pub pid: i32,
    pub pidfd: OwnedFd,
    /// The raw wait status, once the fork server has reported it.
    pub status: Arc<OnceLock<i32>>,
}

/// The process behind a [`PluginProcess`].
enum Proc {
    Spawned(Child),
    Forked(Forked),
}

impl Proc {
    fn exited(&self, pid: i32) -> bool {
        match self {
            Proc::Spawned(_) => exited_without_reaping(pid),
            Proc::Forked(f) => crate::sys::pidfd_exited(&f.pidfd, Some(Duration::ZERO)),
        }
    }

    fn status(&mut self) -> Option<ExitStatus> {
        use std::os::unix::process::ExitStatusExt;
        match self {
            Proc::Spawned(c) => c.try_wait().ok().flatten(),
            Proc::Forked(f) => f.status.get().map(|raw| ExitStatus::from_raw(*raw)),
        }
    }
}

pub struct PluginProcess {
    child: Option<Proc>,
    pid: i32,
    writer: Option<std::sync::mpsc::Sender<Vec<u8>>>,
    events: mpsc::UnboundedReceiver<Incoming>,
    stderr: Tail,
    closing: Arc<AtomicBool>,
    version: u64,
    seen_logs: usize,
    label: String,
}

impl PluginProcess {
    /// Spawns `<python> -m <module> --atp` in a new process group. Must be called from a
    /// long-lived thread: the child is told to die with the thread that forked it.
    pub fn spawn(launch: &Launch, label: &str) -> Result<PluginProcess, AtpError> {
        let mut cmd = Command::new(&launch.python);
        match &launch.args {
            Some(args) => cmd.args(args),
            None => cmd.arg("-m").arg(&launch.module).arg("--atp"),
        };
        cmd.current_dir(&launch.cwd)
            .env_clear()
            .envs(launch.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        crate::sys::kill_child_with_parent(&mut cmd);
        let command = match &launch.args {
            Some(args) => format!("{} {}", launch.python.display(), args.join(" ")),
            None => format!("{} -m {} --atp", launch.python.display(), launch.module),
        };
        let mut child = spawn_on_spawner(cmd).map_err(|source| AtpError::Spawn { command, source })?;
        let pid = child.id() as i32;
        let (stdin, stdout, stderr) = match (child.stdin.take(), child.stdout.take(), child.stderr.take()) {
            (Some(a), Some(b), Some(c)) => (a, b, c),
            _ => {
                kill_group(pid);
                let _ = child.wait();
                return Err(AtpError::Startup {
                    message: "the plugin's pipes could not be opened".into(),
                    stderr: String::new(),
                });
            }
        };
        Ok(PluginProcess::start(Proc::Spawned(child), pid, stdin, stdout, stderr, label))
    }

    /// A step process a fork server forked, talking over the pipes whose other ends it got.
    pub fn adopt(
        forked: Forked,
        stdin: impl Write + Send + 'static,
        stdout: impl Read + Send + 'static,
        stderr: impl Read + Send + 'static,
        label: &str,
    ) -> PluginProcess {
        let pid = forked.pid;
        PluginProcess::start(Proc::Forked(forked), pid, stdin, stdout, stderr, label)
    }

    fn start(
        proc: Proc,
        pid: i32,
        stdin: impl Write + Send + 'static,
        stdout: impl Read + Send + 'static,
        stderr: impl Read + Send + 'static,
        label: &str,
    ) -> PluginProcess {
        let tail: Tail = Arc::new(Mutex::new(VecDeque::new()));
        let closing = Arc::new(AtomicBool::new(false));
        let (tx, rx) = mpsc::unbounded_channel();
        spawn_stderr_drain(stderr, tail.clone(), label.to_string());
        match &proc {
            Proc::Spawned(_) => spawn_exit_watcher(pid, tx.clone()),
            Proc::Forked(f) => match f.pidfd.try_clone() {
                Ok(fd) => spawn_pidfd_watcher(fd, tx.clone()),
                Err(e) => tracing::warn!("{label}: cannot watch the forked process ({e})"),
            },
        }
        spawn_reader(stdout, tx, closing.clone());
        let writer = spawn_writer(stdin);
        // The plugin says nothing until it gets this first item: an empty CBOR value.
        let _ = writer.send(codec::first_item());
        PluginProcess {
            child: Some(proc),
            pid,
            writer: Some(writer),
            events: rx,
            stderr: tail,
            closing,
            version: 0,
            seen_logs: 0,
            label: label.to_string(),
        }
    }

    /// Whether the process was forked by a fork server (it dies with it).
    /// The plugin's process id (its process group's id too).
    pub fn pid(&self) -> i32 {
        self.pid
    }

    pub fn is_forked(&self) -> bool {
        matches!(self.child, Some(Proc::Forked(_)))
    }

    /// Whether the process is still running.
    pub fn is_alive(&self) -> bool {
        self.child.as_ref().is_some_and(|c| !c.exited(self.pid))
    }

    pub fn stderr_tail(&self) -> String {
        let t = self.stderr.lock().map(|t| t.iter().copied().collect::<Vec<u8>>()).unwrap_or_default();
        String::from_utf8_lossy(&t).into_owned()
    }

    /// Waits for the hello. A timeout or an early exit reports the plugin's stderr, where Python
    /// puts errors such as "No module named ...".
    pub async fn handshake(&mut self, timeout: Duration) -> Result<Hello, AtpError> {
        let got = tokio::time::timeout(timeout, self.events.recv()).await;
        match got {
            Ok(Some(Incoming::Hello(h))) => {
                if h.version != 1 && h.version != 3 {
                    return Err(AtpError::Startup {
                        message: format!("the plugin speaks ATP version {}; supported versions are 1 and 3 (arcaflow-plugin-sdk >= 0.12 speaks 3)", h.version),
                        stderr: self.stderr_tail(),
                    });
                }
                self.version = h.version;
                if !h.junk.is_empty() {
                    // Recovered, but the plugin's author should know: stdout belongs to ATP.
                    tracing::warn!(
                        "plugin {} wrote to stdout before its ATP hello; skipped {}",
                        self.label,
                        super::codec::show_bytes(&h.junk)
                    );
                }
                Ok(h)
            }
            Ok(Some(Incoming::Exited)) => {
                let stderr = self.settle_stderr().await;
                let status = self.exit_status_text();
                Err(AtpError::Startup { message: format!("the plugin exited before its ATP hello{status}"), stderr })
            }
            Ok(Some(Incoming::Closed { problem })) => {
                let stderr = self.settle_stderr().await;
                Err(AtpError::Startup {
                    message: problem.unwrap_or_else(|| "the plugin exited before its ATP hello".into()),
                    stderr,
                })
            }
            Ok(Some(other)) => Err(AtpError::Startup {
                message: format!("unexpected message before the hello: {other:?}"),
                stderr: self.stderr_tail(),
            }),
            Ok(None) => Err(AtpError::Startup {
                message: "the plugin's output closed".into(),
                stderr: self.settle_stderr().await,
            }),
            Err(_) => Err(AtpError::Startup {
                message: format!("the plugin sent no ATP hello within {} s", timeout.as_secs_f64()),
                stderr: self.stderr_tail(),
            }),
        }
    }

    /// Gives the stderr drain a moment to catch the last words of a plugin that just died.
    async fn settle_stderr(&self) -> String {
        for _ in 0..20 {
            if self.child.as_ref().is_some_and(|c| c.exited(self.pid)) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        self.stderr_tail()
    }

    pub fn start_work(&mut self, run_id: &str, step_id: &str, input: &Value) -> Result<(), AtpError> {
        self.send(codec::start_work(self.version, run_id, step_id, input))
    }

    pub fn signal(&mut self, run_id: &str, signal_id: &str, data: &Value) -> Result<(), AtpError> {
        if self.version == 1 {
            return Err(AtpError::Step("ATP version 1 has no signals".into()));
        }
        self.send(codec::signal(run_id, signal_id, data))
    }

    fn send(&mut self, bytes: Vec<u8>) -> Result<(), AtpError> {
        let ok = self.writer.as_ref().is_some_and(|w| w.send(bytes).is_ok());
        if ok {
            Ok(())
        } else {
            Err(AtpError::Protocol { message: "the plugin's input is closed".into(), stderr: self.stderr_tail() })
        }
    }

    /// Waits for the result of `run_id`. Cancel-safe: dropping the future loses no message.
    pub async fn result(&mut self, run_id: &str) -> Result<WorkDone, AtpError> {
        // Once the process is gone, what it wrote is still in the pipe: read it for a moment.
        let mut gone: Option<tokio::time::Instant> = None;
        loop {
            let next = match gone {
                None => self.events.recv().await,
                Some(deadline) => tokio::time::timeout_at(deadline, self.events.recv()).await.unwrap_or_default(),
            };
            match next {
                Some(Incoming::Exited) => {
                    gone = Some(tokio::time::Instant::now() + Duration::from_millis(200));
                }
                Some(Incoming::Done { run_id: r, mut done }) if r == run_id || self.version == 1 => {
                    // A plugin's debug_logs accumulate over its process's life: keep only what is new.
                    if done.debug_logs.len() >= self.seen_logs && done.debug_logs.is_char_boundary(self.seen_logs) {
                        let all = std::mem::take(&mut done.debug_logs);
                        done.debug_logs = all[self.seen_logs..].to_string();
                        self.seen_logs = all.len();
                    }
                    return Ok(done);
                }
                Some(Incoming::Done { run_id: r, .. }) => {
                    // One process runs one step: a result for another run can never be ours,
                    // and waiting on would wait for ever.
                    return Err(AtpError::Protocol {
                        message: format!(
                            "protocol violation: the plugin sent a result for run '{r}', but this step's run is '{run_id}'"
                        ),
                        stderr: self.stderr_tail(),
                    });
                }
                Some(Incoming::Signal { run_id, signal_id, data }) => {
                    tracing::info!("{}: plugin signal '{signal_id}' for run '{run_id}': {data}", self.label);
                }
                Some(Incoming::Error { run_id: r, error, step_fatal, server_fatal }) => {
                    if server_fatal || (step_fatal && (r == run_id || r.is_empty())) {
                        return Err(AtpError::Step(tidy_plugin_error(&error)));
                    }
                    tracing::warn!("{}: plugin reported: {}", self.label, first_line(&error));
                }
                Some(Incoming::Hello(_)) => {
                    return Err(AtpError::Protocol {
                        message: "a second hello arrived".into(),
                        stderr: self.stderr_tail(),
                    })
                }
                closed @ (Some(Incoming::Closed { .. }) | None) => {
                    let problem = match closed {
                        Some(Incoming::Closed { problem }) => problem,
                        _ => None,
                    };
                    let problem = problem.unwrap_or_else(|| "the plugin exited without a result".to_string());
                    let stderr = self.settle_stderr().await;
                    let status = self.exit_status_text();
                    return Err(AtpError::Protocol { message: format!("{problem}{status}"), stderr });
                }
            }
        }
    }

    fn exit_status_text(&mut self) -> String {
        use std::os::unix::process::ExitStatusExt;
        match self.child.as_mut().and_then(Proc::status) {
            Some(st) => match (st.code(), st.signal()) {
                (Some(code), _) => format!(" (exit code {code})"),
                (None, Some(sig)) => format!(" (killed by signal {sig})"),
                _ => String::new(),
            },
            None => String::new(),
        }
    }

    /// Ends the conversation: CLIENT_DONE, a short wait (`grace`, cut short when `hurry` is set:
    /// the run is over) for a clean exit, then the whole process group is killed. Returns once
    /// the process is reaped.
    pub async fn finish_unless(mut self, grace: Duration, hurry: Arc<AtomicBool>) {
        self.closing.store(true, Ordering::SeqCst);
        if self.version != 1 {
            let _ = self.send(codec::client_done());
        }
        self.writer.take();
        if let Some(child) = self.child.take() {
            let pid = self.pid;
            let _ = tokio::task::spawn_blocking(move || reap(child, pid, grace, &hurry)).await;
        }
    }

    /// Kills the process group at once (timeouts, second Ctrl-C).
    pub async fn kill(mut self) {
        self.closing.store(true, Ordering::SeqCst);
        self.writer.take();
        if let Some(child) = self.child.take() {
            let pid = self.pid;
            let _ = tokio::task::spawn_blocking(move || reap(child, pid, Duration::ZERO, &AtomicBool::new(true))).await;
        }
    }
}

impl Drop for PluginProcess {
    fn drop(&mut self) {
        if let Some(child) = self.child.take() {
            self.closing.store(true, Ordering::SeqCst);
            let pid = self.pid;
            std::thread::spawn(move || reap(child, pid, Duration::ZERO, &AtomicBool::new(true)));
        }
    }
}

fn reap(proc: Proc, pid: i32, grace: Duration, hurry: &AtomicBool) {
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline && !proc.exited(pid) && !hurry.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(2));
    }
    match proc {
        Proc::Spawned(mut child) => {
            // Kill the whole group before reaping, so the group id cannot have been reused.
            kill_group(pid);
            let _ = child.wait();
        }
        Proc::Forked(f) => {
            // The fork server kills the group of an exited step before it reaps it; while the
            // leader runs (its pidfd says so) the group id is surely its own.
            if !crate::sys::pidfd_exited(&f.pidfd, Some(Duration::ZERO)) {
                kill_group(pid);
            }
            crate::sys::pidfd_exited(&f.pidfd, None);
        }
    }
}

/// True when the process has exited (it stays a zombie, so its pid is not reused yet).
fn exited_without_reaping(pid: i32) -> bool {
    crate::sys::exited_without_reaping(pid)
}

type SpawnRequest = (Command, std::sync::mpsc::Sender<std::io::Result<Child>>);

/// Plugins are forked from one thread that lives as long as we do: `PR_SET_PDEATHSIG` fires
/// when the *thread* that forked the child ends, and pool threads come and go.
pub(crate) fn spawn_on_spawner(cmd: Command) -> std::io::Result<Child> {
    static SPAWNER: std::sync::OnceLock<Mutex<std::sync::mpsc::Sender<SpawnRequest>>> = std::sync::OnceLock::new();
    let sender = SPAWNER.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel::<SpawnRequest>();
        std::thread::Builder::new()
            .name("plugin-spawner".into())
            .spawn(move || {
                while let Ok((mut cmd, reply)) = rx.recv() {
                    let _ = reply.send(cmd.spawn());
                }
            })
            .ok();
        Mutex::new(tx)
    });
    let (reply_tx, reply_rx) = std::sync::mpsc::channel();
    let sent = sender.lock().map(|s| s.send((cmd, reply_tx)).is_ok()).unwrap_or(false);
    if !sent {
        return Err(std::io::Error::other("the plugin spawner thread is gone"));
    }
    reply_rx.recv().unwrap_or_else(|_| Err(std::io::Error::other("the plugin spawner thread is gone")))
}

pub fn kill_group(pid: i32) {
    crate::sys::kill_process_group(pid);
}

fn spawn_stderr_drain(mut stderr: impl Read + Send + 'static, tail: Tail, label: String) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        let mut line = Vec::new();
        loop {
            let n = match stderr.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if let Ok(mut t) = tail.lock() {
                t.extend(&buf[..n]);
                let excess = t.len().saturating_sub(STDERR_TAIL);
                t.drain(..excess);
            }
            if tracing::enabled!(tracing::Level::DEBUG) {
                for &b in &buf[..n] {
                    if b == b'\n' {
                        tracing::debug!("{label} stderr: {}", String::from_utf8_lossy(&line));
                        line.clear();
                    } else if line.len() < 4096 {
                        line.push(b);
                    }
                }
            }
        }
    });
}

/// Reports when the main process exits, without reaping it, and kills what it left in its
/// process group: a child holding the pipes open must not keep us waiting.
fn spawn_exit_watcher(pid: i32, tx: mpsc::UnboundedSender<Incoming>) {
    std::thread::spawn(move || {
        // The pid stays reserved (not reaped) until the Child is waited for.
        let exited = crate::sys::wait_exit_without_reaping(pid);
        if exited {
            kill_group(pid);
            let _ = tx.send(Incoming::Exited);
        }
    });
}

/// Reports when a forked step process exits (its pidfd becomes readable).
fn spawn_pidfd_watcher(pidfd: OwnedFd, tx: mpsc::UnboundedSender<Incoming>) {
    std::thread::spawn(move || {
        if crate::sys::pidfd_exited(&pidfd, None) {
            let _ = tx.send(Incoming::Exited);
        }
    });
}

fn spawn_writer(mut stdin: impl Write + Send + 'static) -> std::sync::mpsc::Sender<Vec<u8>> {
    let (tx, rx) = std::sync::mpsc::channel::<Vec<u8>>();
    std::thread::spawn(move || {
        while let Ok(bytes) = rx.recv() {
            if stdin.write_all(&bytes).and_then(|_| stdin.flush()).is_err() {
                break;
            }
        }
        // Dropping stdin closes the pipe only after CLIENT_DONE was written (or on kill).
    });
    tx
}

fn spawn_reader(stdout: impl Read + Send + 'static, tx: mpsc::UnboundedSender<Incoming>, closing: Arc<AtomicBool>) {
    std::thread::spawn(move || {
        let mut reader = BufReader::with_capacity(64 * 1024, stdout);
        let hello = match read_hello(&mut reader) {
            Ok(h) => h,
            Err(problem) => {
                let _ = tx.send(Incoming::Closed { problem });
                return;
            }
        };
        let v1 = hello.version == 1;
        if tx.send(Incoming::Hello(hello)).is_err() {
            return;
        }
        loop {
            let item: C = match ciborium::from_reader(&mut reader) {
                Ok(item) => item,
                Err(e) => {
                    // After CLIENT_DONE the Python SDK may write plain text into the stream (its
                    // own shutdown messages); that is the end of the conversation, not a fault.
                    let eof = matches!(e, ciborium::de::Error::Io(_));
                    let problem = if eof || closing.load(Ordering::SeqCst) {
                        None
                    } else {
                        Some(format!("the plugin wrote data that is not valid CBOR to stdout ({e:?})"))
                    };
                    let _ = tx.send(Incoming::Closed { problem });
                    return;
                }
            };
            let msg = if v1 { codec::decode_v1(item) } else { codec::decode_envelope(item) };
            let msg = match msg {
                Ok(m) => m,
                Err(problem) => {
                    if closing.load(Ordering::SeqCst) {
                        continue;
                    }
                    Incoming::Closed { problem: Some(problem) }
                }
            };
            let stop = matches!(msg, Incoming::Closed { .. });
            if tx.send(msg).is_err() || stop {
                return;
            }
        }
    });
}
