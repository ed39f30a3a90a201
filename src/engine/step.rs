//! Owns one plugin step's process: launched early so Python start-up overlaps upstream steps,
//! given its input when it is ready, and cancelled, timed out or killed on request.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{oneshot, watch};

use crate::atp::{AtpError, PluginProcess};
use crate::deployer::Plugin;
use crate::value::Value;
use crate::zygote::Forking;

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Control {
    Run,
    /// Ask the step to stop (cancel signal if it has one, then kill after the closure wait).
    Cancel(String),
    /// Stop now.
    Kill(String),
}

#[derive(Clone)]
pub(super) struct StepInput {
    pub input: Value,
    pub timeout: Option<Duration>,
    pub closure_wait: Duration,
}

#[derive(Debug, Clone)]
pub(super) enum PluginOutcome {
    Output {
        output_id: String,
        data: Value,
        debug_logs: String,
    },
    /// `stderr`: the tail of what the plugin wrote there, when it ran (the node runner reports it;
    /// `run` keeps the crash message as the reference engine words it).
    Crashed {
        message: String,
        debug_logs: String,
        cause: CrashCause,
        stderr: String,
    },
    Cancelled {
        reason: String,
    },
}

/// Why an attempt crashed: retries treat these differently (`retry.on`), and a timeout is
/// never retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CrashCause {
    /// The process could not be started or sent no hello (`deploy_failed`).
    Startup,
    /// The process died, broke the protocol or the step raised (`crashed`).
    Run,
    Timeout,
}

pub(super) struct PluginTask {
    pub plugin: Arc<Plugin>,
    pub step: String,
    pub run_id: String,
    pub label: String,
    pub cwd: PathBuf,
    /// The step's artifacts directory (it declares `artifacts:`): created before the process
    /// starts and named in its environment.
    pub artifacts: Option<PathBuf>,
    /// The working directory of an adopted spare process, removed when the step is done.
    pub spare_dir: std::sync::Mutex<Option<PathBuf>>,
    /// Fork the process from the plugin's fork server (`crate::zygote`) rather than start it.
    pub fork: bool,
}

impl Drop for PluginTask {
    fn drop(&mut self) {
        if let Some(dir) = self.spare_dir.get_mut().ok().and_then(Option::take) {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

impl PluginTask {
    /// Runs the step. `deliver` gets its outcome as soon as there is one, before the process has
    /// been told to exit and reaped (that happens afterwards; the run awaits this task before it
    /// ends). Once the input has come, exactly one outcome is delivered on every path (a stop
    /// that races with the input is a `Cancelled` outcome); a step whose input never comes
    /// delivers nothing. The run loop also notices a task that ends without an outcome.
    pub(super) async fn run(
        self,
        input: oneshot::Receiver<StepInput>,
        control: watch::Receiver<Control>,
        deliver: impl FnOnce(PluginOutcome) + Send,
    ) {
        let mut control = control;
        let (outcome, process, kill) = self.drive(input, &mut control).await;
        if let Some(o) = outcome {
            deliver(o);
        }
        let Some(p) = process else { return };
        if kill {
            p.kill().await;
            return;
        }
        // The plugin gets a moment to exit on its own, unless the run is over: then no one
        // waits for it (the run still reaps it before it ends).
        let hurry = Arc::new(AtomicBool::new(false));
        let finishing = p.finish_unless(super::EXIT_GRACE, hurry.clone());
        tokio::pin!(finishing);
        tokio::select! {
            _ = &mut finishing => {}
            _ = stopped(&mut control) => {
                hurry.store(true, Ordering::SeqCst);
                finishing.await;
            }
        }
    }

    /// The step's id as the test hooks name it: the label without its `step ` prefix.
    fn run_id_label(&self) -> String {
        self.label.strip_prefix("step ").unwrap_or(&self.label).to_string()
    }

    /// The outcome, the process still to end, and whether to kill it rather than let it exit.
    async fn drive(
        &self,
        input: oneshot::Receiver<StepInput>,
        control: &mut watch::Receiver<Control>,
    ) -> (Option<PluginOutcome>, Option<PluginProcess>, bool) {
        let mut input = input;
        // A stop during start-up (the handshake may take up to the startup timeout) is acted on
        // at once: the half-started process is killed and reaped.
        let launched = match self.launch(control).await {
            Launched::Ready(p) => Ok(p),
            Launched::Failed(e) => Err(e),
            Launched::Stopped(s) => return (stopped_before_work(&mut input, s), None, false),
        };
        // Biased towards the input: once the run loop sent it, the step is running for it and
        // must get an outcome, even when a stop arrives at the same moment.
        let work = tokio::select! {
            biased;
            w = &mut input => match w { Ok(w) => w, Err(_) => return (None, launched.ok(), false) },
            s = stopped(control) => return (stopped_before_work(&mut input, s), launched.ok(), true),
        };
        crate::testhooks::maybe_panic(&self.run_id_label());
        // A forked process dies with its fork server: one that died while it waited for its
        // input (its fork server was killed) is forked again from a new one.
        let launched = match launched {
            Ok(p) if p.is_forked() && !p.is_alive() => {
                tracing::info!("{}: its forked process ended before its input came; forking another", self.label);
                p.kill().await;
                match self.launch(control).await {
                    Launched::Ready(p) => Ok(p),
                    Launched::Failed(e) => Err(e),
                    Launched::Stopped(Stop::Cancel(reason) | Stop::Kill(reason)) => {
                        return (Some(PluginOutcome::Cancelled { reason }), None, false)
                    }
                }
            }
            other => other,
        };
        let mut process = match launched {
            Ok(p) => p,
            Err(e) => {
                return (
                    Some(PluginOutcome::Crashed {
                        message: e.to_string(),
                        debug_logs: String::new(),
                        cause: CrashCause::Startup,
                        stderr: String::new(),
                    }),
                    None,
                    false,
                )
            }
        };
        if let Err(e) = process.start_work(&self.run_id, &self.step, &work.input) {
            return (
                Some(PluginOutcome::Crashed {
                    message: e.to_string(),
                    debug_logs: String::new(),
                    cause: CrashCause::Run,
                    stderr: String::new(),
                }),
                Some(process),
                true,
            );
        }
        let started = Instant::now();
        tracing::debug!("{}: input sent to step '{}'", self.label, self.step);
        // A deadline too far away to be represented is no deadline (timeouts are range-checked
        // at load; this keeps the addition from ever panicking).
        let deadline = work.timeout.and_then(|t| started.checked_add(t));
        let sleep = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(sleep);
        tokio::select! {
            r = process.result(&self.run_id) => {
                if let Ok(done) = &r {
                    tracing::debug!(
                        "{}: answered with output '{}' after {:.0} ms",
                        self.label,
                        done.output_id,
                        started.elapsed().as_secs_f64() * 1000.0
                    );
                }
                let mut outcome = from_result(r);
                if let PluginOutcome::Crashed { stderr, .. } = &mut outcome {
                    // The plugin writes its traceback just before it reports the failure: give the
                    // drain a moment to read it.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    *stderr = process.stderr_tail();
                }
                (Some(outcome), Some(process), false)
            }
            _ = &mut sleep => {
                let secs = work.timeout.map(|t| t.as_secs_f64()).unwrap_or_default();
                let reason = format!("timed out after {} s", trim_float(secs));
                self.stop(&mut process, &work, &reason).await;
                let stderr = process.stderr_tail();
                (
                    Some(PluginOutcome::Crashed { message: reason, debug_logs: String::new(), cause: CrashCause::Timeout, stderr }),
                    Some(process),
                    true,
                )
            }
            s = stopped(control) => {
                match s {
                    Stop::Kill(reason) => (Some(PluginOutcome::Cancelled { reason }), Some(process), true),
                    Stop::Cancel(reason) => {
                        // A result sent in answer to the cancel signal is a normal result.
                        match self.stop(&mut process, &work, &reason).await {
                            Some(r) => (Some(from_result(Ok(r))), Some(process), false),
                            None => (Some(PluginOutcome::Cancelled { reason }), Some(process), true),
                        }
                    }
                }
            }
        }
    }

    async fn launch(&self, control: &mut watch::Receiver<Control>) -> Launched {
        // A spare process was started without the step's artifacts directory in its environment.
        let spare = if self.artifacts.is_none() { self.plugin.take_spare() } else { None };
        if let Some(mut spare) = spare {
            if let Some(p) = spare.process.take() {
                if p.is_alive() && self.plugin.schema.steps.contains_key(&self.step) {
                    tracing::debug!("{}: using the process that read the plugin's schema", self.label);
                    // Its directory now belongs to this step: removed when the step is done.
                    *self.spare_dir.lock().unwrap_or_else(|e| e.into_inner()) = Some(std::mem::take(&mut spare.cwd));
                    return Launched::Ready(p);
                }
            }
        }
        if let Err(e) = std::fs::create_dir_all(&self.cwd) {
            return Launched::Failed(AtpError::Startup {
                message: format!("cannot create the step's working directory {}: {e}", self.cwd.display()),
                stderr: String::new(),
            });
        }
        if let Some(dir) = &self.artifacts {
            if let Err(e) = std::fs::create_dir_all(dir) {
                return Launched::Failed(AtpError::Startup {
                    message: format!("cannot create the step's artifacts directory {}: {e}", dir.display()),
                    stderr: String::new(),
                });
            }
        }
        // Starting the plugin's fork server may take as long as a plugin's start-up.
        let mut p = tokio::select! {
            biased;
            r = self.start_process() => match r {
                Ok(p) => p,
                Err(e) => return Launched::Failed(e),
            },
            s = stopped(control) => return Launched::Stopped(s),
        };
        let launched = Instant::now();
        tracing::debug!(
            "{}: plugin process {} {}",
            self.label,
            p.pid(),
            if p.is_forked() { "forked by the plugin's fork server" } else { "started" }
        );
        let hello = tokio::select! {
            biased;
            h = p.handshake(self.plugin.startup_timeout) => h,
            s = stopped(control) => {
                p.kill().await;
                return Launched::Stopped(s);
            }
        };
        match hello {
            Ok(h) => {
                tracing::debug!(
                    "{}: ATP hello (version {}) after {:.0} ms",
                    self.label,
                    h.version,
                    launched.elapsed().as_secs_f64() * 1000.0
                );
                if h.schema.get("steps").and_then(|s| s.get(&self.step)).is_none() {
                    p.kill().await;
                    return Launched::Failed(AtpError::Startup {
                        message: format!("the running plugin has no step '{}' (its cached schema is out of date: run 'arcaflow-py pull --pull-policy Always')", self.step),
                        stderr: String::new(),
                    });
                }
                Launched::Ready(p)
            }
            Err(e) => {
                p.kill().await;
                Launched::Failed(e)
            }
        }
    }

    /// A forked process when the plugin's fork server can give one, else a fresh interpreter.
    async fn start_process(&self) -> Result<PluginProcess, AtpError> {
        let mut launch = self.plugin.launch(&self.cwd);
        if let Some(dir) = &self.artifacts {
            launch.env.retain(|(k, _)| k != super::artifacts::ENV);
            launch.env.push((super::artifacts::ENV.to_string(), dir.display().to_string()));
        }
        // A forked child has the fork server's environment: a step that needs its own (the
        // artifacts directory) starts plainly.
        if self.fork && self.artifacts.is_none() {
            let (plugin, l, label) = (self.plugin.clone(), launch.clone(), self.label.clone());
            let forked =
                tokio::task::spawn_blocking(move || plugin.fork_server.launch(&l, &label, plugin.startup_timeout))
                    .await;
            match forked {
                Ok(Ok(Forking::Forked(p))) => return Ok(p),
                Ok(Err(e)) => return Err(e),
                Ok(Ok(Forking::Plain)) | Err(_) => {}
            }
        }
        PluginProcess::spawn(&launch, &self.label)
    }

    /// Sends cancel when the step declares it and waits for its answer up to the closure wait.
    async fn stop(&self, process: &mut PluginProcess, work: &StepInput, reason: &str) -> Option<crate::atp::WorkDone> {
        let has_cancel = self.plugin.schema.steps.get(&self.step).is_some_and(|s| s.has_cancel_signal());
        if !has_cancel {
            tracing::info!("{}: {reason}; it has no cancel signal, stopping its process", self.label);
            return None;
        }
        tracing::info!("{}: {reason}; sending cancel", self.label);
        if process.signal(&self.run_id, "cancel", &Value::Map(Default::default())).is_err() {
            return None;
        }
        match tokio::time::timeout(work.closure_wait, process.result(&self.run_id)).await {
            Ok(Ok(done)) => Some(done),
            _ => {
                tracing::info!(
                    "{}: no answer to cancel within {} ms; killing it",
                    self.label,
                    work.closure_wait.as_millis()
                );
                None
            }
        }
    }
}

/// How starting a plugin process ended.
enum Launched {
    Ready(PluginProcess),
    Failed(AtpError),
    /// Stopped during start-up; the process is gone already.
    Stopped(Stop),
}

/// Why a step was told to stop.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Stop {
    Cancel(String),
    Kill(String),
}

/// Resolves when the control leaves `Run`; never resolves otherwise (or when the sender is gone).
pub(super) async fn stopped(control: &mut watch::Receiver<Control>) -> Stop {
    loop {
        match control.borrow_and_update().clone() {
            Control::Run => {}
            Control::Cancel(reason) => return Stop::Cancel(reason),
            Control::Kill(reason) => return Stop::Kill(reason),
        }
        if control.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// The outcome of a step stopped before its work started: `Cancelled` when its input had been
/// sent already (the run loop counts it as running and waits for an outcome), none otherwise.
fn stopped_before_work(input: &mut oneshot::Receiver<StepInput>, stop: Stop) -> Option<PluginOutcome> {
    let reason = match stop {
        Stop::Cancel(r) | Stop::Kill(r) => r,
    };
    input.try_recv().ok().map(|_| PluginOutcome::Cancelled { reason })
}

fn from_result(r: Result<crate::atp::WorkDone, AtpError>) -> PluginOutcome {
    match r {
        Ok(done) => {
            PluginOutcome::Output { output_id: done.output_id, data: done.output_data, debug_logs: done.debug_logs }
        }
        Err(e) => PluginOutcome::Crashed {
            message: e.to_string(),
            debug_logs: String::new(),
            cause: CrashCause::Run,
            stderr: String::new(),
        },
    }
}

pub(super) fn trim_float(f: f64) -> String {
    if f.fract() == 0.0 {
        format!("{}", f as i64)
    } else {
        format!("{f}")
    }
}
