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
    /// The working directory of an adopted spare process, removed when the step is done.
    pub spare_dir: std::sync::Mutex<Option<PathBuf>>,
}

impl Drop for PluginTask {
    fn drop(&mut self) {
        if let Some(dir) = self.spare_dir.get_mut().ok().and_then(Option::take) {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

impl PluginTask {
    /// Runs to completion. Returns `None` when the input never came (step skipped or run over).
    /// Runs the step. `deliver` gets its outcome as soon as there is one, before the process has
    /// been told to exit and reaped (that happens afterwards; the run awaits this task before it
    /// ends). A step whose input never comes delivers nothing.
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

    /// The outcome, the process still to end, and whether to kill it rather than let it exit.
    async fn drive(
        &self,
        input: oneshot::Receiver<StepInput>,
        control: &mut watch::Receiver<Control>,
    ) -> (Option<PluginOutcome>, Option<PluginProcess>, bool) {
        let launched = self.launch().await;
        let work = tokio::select! {
            w = input => match w { Ok(w) => w, Err(_) => return (None, launched.ok(), false) },
            _ = stopped(control) => return (None, launched.ok(), false),
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
        let deadline = work.timeout.map(|t| started + t);
        let sleep = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(sleep);
        tokio::select! {
            r = process.result(&self.run_id) => {
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
            c = stopped(control) => {
                match c {
                    Control::Kill(reason) => (Some(PluginOutcome::Cancelled { reason }), Some(process), true),
                    Control::Run => (None, Some(process), true),
                    Control::Cancel(reason) => {
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

    async fn launch(&self) -> Result<PluginProcess, AtpError> {
        if let Some(mut spare) = self.plugin.take_spare() {
            if let Some(p) = spare.process.take() {
                if p.is_alive() && self.plugin.schema.steps.contains_key(&self.step) {
                    tracing::debug!("{}: using the process that read the plugin's schema", self.label);
                    // Its directory now belongs to this step: removed when the step is done.
                    *self.spare_dir.lock().unwrap_or_else(|e| e.into_inner()) = Some(std::mem::take(&mut spare.cwd));
                    return Ok(p);
                }
            }
        }
        std::fs::create_dir_all(&self.cwd).map_err(|e| AtpError::Startup {
            message: format!("cannot create the step's working directory {}: {e}", self.cwd.display()),
            stderr: String::new(),
        })?;
        let mut p = PluginProcess::spawn(&self.plugin.launch(&self.cwd), &self.label)?;
        let hello = p.handshake(self.plugin.startup_timeout).await;
        match hello {
            Ok(h) => {
                if h.schema.get("steps").and_then(|s| s.get(&self.step)).is_none() {
                    p.kill().await;
                    return Err(AtpError::Startup {
                        message: format!("the running plugin has no step '{}' (its cached schema is out of date: run 'arcaflow-py pull --pull-policy Always')", self.step),
                        stderr: String::new(),
                    });
                }
                Ok(p)
            }
            Err(e) => {
                p.kill().await;
                Err(e)
            }
        }
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

/// Resolves when the control leaves `Run`; never resolves otherwise (or when the sender is gone).
pub(super) async fn stopped(control: &mut watch::Receiver<Control>) -> Control {
    loop {
        let c = control.borrow_and_update().clone();
        if c != Control::Run {
            return c;
        }
        if control.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
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
