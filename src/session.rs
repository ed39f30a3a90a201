//! Owns one run's life around the engine, for every front-end that runs something (`run`,
//! `plugin run`, and later an in-pod runner or a plugin server): the run id, the scratch
//! directory and the run lock that keeps `cache prune` away from it, the workflow and input
//! hashes, the resume decision, and the run-state file from start to end.
//!
//! A caller that wants to run part of a workflow with outputs it already has (one step of a
//! workflow whose upstream steps ran elsewhere) builds the [`Resume`] itself instead of getting
//! it from [`RunSession::start_workflow`]: the engine treats those outputs as already produced.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::watch;

use crate::config::Config;
use crate::engine::{self, ExecError, Interrupt, Loaded, Resume, RunResult};
use crate::error::{Error, Result};
use crate::events::{Observer, Observers};
use crate::state::{self, RunState, RunStateRecorder, Status};
use crate::value::Value;
use crate::workdir::{self, LockGuard, Workdir};

/// A run's id, its scratch directory and its lock. The scratch directory is removed when the
/// session ends; the lock is released with it.
pub struct RunSession {
    run_id: String,
    scratch: PathBuf,
    _lock: LockGuard,
}

impl RunSession {
    /// A new run with a fresh id.
    pub fn new(workdir: &Workdir) -> Result<RunSession> {
        RunSession::with_id(workdir, new_run_id())
    }

    fn with_id(workdir: &Workdir, run_id: String) -> Result<RunSession> {
        // Held while the run lives, so `cache prune` knows its scratch directory is in use.
        let lock = workdir::lock_exclusive(&workdir.run_lock(&run_id))?;
        Ok(RunSession::with_lock(workdir, run_id, lock))
    }

    fn with_lock(workdir: &Workdir, run_id: String, lock: LockGuard) -> RunSession {
        lock.record_pid();
        RunSession { scratch: workdir.scratch_dir().join(&run_id), run_id, _lock: lock }
    }

    /// The lock of run `id` for a resumed run; refused while the run still lives (its state and
    /// scratch directory are in use).
    fn lock_for_resume(workdir: &Workdir, id: &str) -> Result<LockGuard> {
        let path = workdir.run_lock(id);
        match workdir::try_lock_exclusive(&path)? {
            Some(lock) => Ok(lock),
            None => {
                let pid = workdir::lock_holder_pid(&path).map(|p| format!(" (pid {p})")).unwrap_or_default();
                Err(Error::Usage(format!("run {id} is still running{pid}; wait for it to end, or interrupt it first")))
            }
        }
    }

    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// Records a run that ended before any step ran (the workflow, its input or a plugin's deploy
    /// failed), so `runs` lists it with the reason; returns its id. Nothing to resume: the state
    /// holds no step.
    pub fn record_failed_start(workdir: &Workdir, workflow: &Path, reason: &str) -> Option<String> {
        let run_id = new_run_id();
        let mut st = RunState::new(&run_id, workflow, String::new(), String::new());
        st.set_status(Status::Failed, format!("before any step ran: {reason}"));
        st.save(workdir).ok().map(|()| run_id)
    }

    /// Where the run's plugin processes work (one sub-directory per step).
    pub fn scratch(&self) -> &Path {
        &self.scratch
    }

    /// Starts a workflow run: a new one, or `resume_id` again. Decides what a resumed run
    /// reuses (nothing when the workflow or its input changed) and writes the run state.
    pub fn start_workflow(
        workdir: &Workdir,
        loaded: &Loaded,
        input: &Value,
        resume_id: Option<&str>,
    ) -> Result<WorkflowRun> {
        let files = crate::plan::workflow_files(&loaded.workflow);
        let workflow_hash = state::hash_files(&files.iter().map(PathBuf::as_path).collect::<Vec<_>>());
        let input_hash = state::hash_value(input);
        let mut old_artifacts = Default::default();
        let (run_id, decision, lock) = match resume_id {
            None => (new_run_id(), ResumeDecision::Fresh, None),
            Some(id) => {
                // The state must exist (a clear error otherwise), then its run's lock is taken
                // before anything is written: a run that still lives keeps its state.
                RunState::load(workdir, id)?;
                let lock = Some(RunSession::lock_for_resume(workdir, id)?);
                let old = RunState::load(workdir, id)?;
                old_artifacts = old.artifacts.clone();
                if old.workflow_hash == workflow_hash && old.input_hash == input_hash {
                    let outputs = old.completed_outputs();
                    let attempts = old.unfinished_attempts();
                    let resume = Resume { outputs, from: id.to_string(), attempts };
                    (id.to_string(), ResumeDecision::Resumed(resume), lock)
                } else {
                    (id.to_string(), ResumeDecision::StartedOver, lock)
                }
            }
        };
        let mut st = RunState::new(&run_id, &loaded.workflow.path, workflow_hash, input_hash);
        if let ResumeDecision::Resumed(r) = &decision {
            // The attempts made before are part of this run's record; the engine continues them.
            st.attempts = r.attempts.clone();
            // So are the artifacts of the steps it reuses (same run id, same directory).
            st.artifacts = old_artifacts.into_iter().filter(|(id, _)| r.outputs.contains_key(id)).collect();
        }
        st.set_status(Status::Started, "running");
        st.save(workdir)?;
        let recorder = Arc::new(RunStateRecorder::new(st, workdir.clone()));
        let session = match lock {
            Some(lock) => RunSession::with_lock(workdir, run_id, lock),
            None => RunSession::with_id(workdir, run_id)?,
        };
        let artifacts = workdir.artifacts_dir(session.run_id());
        Ok(WorkflowRun { session, recorder, decision, artifacts })
    }
}

impl Drop for RunSession {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.scratch);
    }
}

/// What `--resume` decided.
pub enum ResumeDecision {
    /// Not a resumed run.
    Fresh,
    /// The workflow and input are unchanged: these outputs are reused.
    Resumed(Resume),
    /// The workflow or its input changed: every step runs again.
    StartedOver,
}

/// A started workflow run whose state file is written as it goes.
pub struct WorkflowRun {
    session: RunSession,
    recorder: Arc<RunStateRecorder>,
    decision: ResumeDecision,
    /// `<workdir>/artifacts/<run-id>`: kept after the run, removed with its state by `cache prune`.
    artifacts: PathBuf,
}

impl WorkflowRun {
    pub fn run_id(&self) -> &str {
        self.session.run_id()
    }

    pub fn decision(&self) -> &ResumeDecision {
        &self.decision
    }

    /// Runs the workflow to its end, telling `observers` (and the run-state file) as it goes.
    /// `interrupt` is the front-end's Ctrl-C: graceful first, then kill.
    pub async fn execute(
        self,
        loaded: &Loaded,
        input: Value,
        config: Arc<Config>,
        interrupt: watch::Receiver<Interrupt>,
        observers: Observers,
    ) -> std::result::Result<RunResult, ExecError> {
        let WorkflowRun { session, recorder, decision, artifacts } = self;
        let resume = match decision {
            ResumeDecision::Resumed(r) => r,
            ResumeDecision::Fresh | ResumeDecision::StartedOver => Resume::default(),
        };
        let observer: Arc<dyn Observer> = Arc::new(observers.with(recorder.clone()));
        let settings = engine::RunSettings {
            scratch: session.scratch().to_path_buf(),
            artifacts: Some(artifacts),
            config,
            interrupt,
            observer,
            resume,
        };
        let result = engine::execute(loaded, input, settings).await;
        // Every process the run started is reaped by now; what is left of ours is an orphan
        // re-parented to us (see crate::orphans).
        let _ = tokio::task::spawn_blocking(crate::orphans::kill_all_children).await;
        let (status, message) = match &result {
            Ok(r) => (Status::Completed, format!("finished with output '{}'", r.output_id)),
            Err(ExecError::Interrupted { .. }) => (Status::Cancelled, "interrupted".to_string()),
            Err(ExecError::Failed { message, .. }) => (Status::Failed, message.clone()),
        };
        recorder.finish(status, message, result.as_ref().ok().map(|r| r.output_id.clone()));
        drop(session);
        result
    }
}

/// `20240131T120000-1a2b3c4d`: sortable by time, unique across processes.
fn new_run_id() -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let secs = now.as_secs();
    let stamp = humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs))
        .to_string()
        .replace([':', '-'], "")
        .trim_end_matches('Z')
        .to_string();
    format!("{stamp}-{:04x}{:04x}", now.subsec_nanos() & 0xffff, std::process::id() & 0xffff)
}
