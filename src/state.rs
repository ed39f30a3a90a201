//! Owns run state files: one JSON file per run under the workdir (`runs/<run-id>.json`),
//! updated atomically at every step transition, read back by `runs` and `run --resume`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::events::{ArtifactFile, Attempt, Observer, RunEvent};
use crate::value::Value;
use crate::workdir::{self, Workdir};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Status {
    Created,
    Started,
    Completed,
    Failed,
    Cancelled,
}

/// A finished step's data, enough to skip it on resume.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StepRecord {
    pub stage: String,
    pub output_id: String,
    pub output_data: serde_json::Value,
    pub status: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunState {
    pub id: String,
    pub workflow: PathBuf,
    pub workflow_hash: String,
    pub input_hash: String,
    pub status: Status,
    /// RFC 3339 time of the last change.
    pub changed: String,
    pub created: String,
    pub message: String,
    pub started_steps: Vec<String>,
    pub executed_steps: Vec<String>,
    pub steps: BTreeMap<String, StepRecord>,
    pub output_id: Option<String>,
    /// Every attempt of every top-level plugin step (start, end, outcome, message), in order.
    #[serde(default)]
    pub attempts: BTreeMap<String, Vec<Attempt>>,
    /// The files each top-level step left in its artifacts directory (`artifacts:`).
    #[serde(default)]
    pub artifacts: BTreeMap<String, Vec<ArtifactFile>>,
}

fn now() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}

/// A hash of the workflow file and of every file it includes, so an edited sub-workflow counts.
pub fn hash_files(paths: &[&Path]) -> String {
    let mut h = Sha256::new();
    for p in paths {
        h.update(p.to_string_lossy().as_bytes());
        h.update(std::fs::read(p).unwrap_or_default());
    }
    hex::encode(&h.finalize()[..16])
}

pub fn hash_value(v: &Value) -> String {
    hex::encode(&Sha256::digest(v.to_string().as_bytes())[..16])
}

impl RunState {
    pub fn new(id: &str, workflow: &Path, workflow_hash: String, input_hash: String) -> RunState {
        let t = now();
        RunState {
            id: id.to_string(),
            workflow: workflow.to_path_buf(),
            workflow_hash,
            input_hash,
            status: Status::Created,
            changed: t.clone(),
            created: t,
            message: String::new(),
            started_steps: Vec::new(),
            executed_steps: Vec::new(),
            steps: BTreeMap::new(),
            output_id: None,
            attempts: BTreeMap::new(),
            artifacts: BTreeMap::new(),
        }
    }

    pub fn path(workdir: &Workdir, id: &str) -> PathBuf {
        workdir.runs_dir().join(format!("{id}.json"))
    }

    pub fn load(workdir: &Workdir, id: &str) -> Result<RunState> {
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(Error::Usage(format!("'{id}' is not a run id (see 'arcaflow-py runs')")));
        }
        let path = Self::path(workdir, id);
        let text = crate::limits::read_bytes(&path).map_err(|e| {
            if path.exists() {
                Error::Cache(format!("{}: {e}", path.display()))
            } else {
                Error::Usage(format!("no run '{id}' in {} (see 'arcaflow-py runs')", workdir.runs_dir().display()))
            }
        })?;
        serde_json::from_slice(&text)
            .map_err(|e| Error::Cache(format!("{}: the run state is unreadable ({e})", path.display())))
    }

    pub fn save(&mut self, workdir: &Workdir) -> Result<()> {
        self.changed = now();
        let bytes = serde_json::to_vec_pretty(self).map_err(|e| Error::Cache(e.to_string()))?;
        workdir::write_atomic(&Self::path(workdir, &self.id), &bytes)
    }

    pub fn set_status(&mut self, status: Status, message: impl Into<String>) {
        self.status = status;
        self.message = message.into();
    }

    pub fn step_started(&mut self, id: &str) {
        if !self.started_steps.iter().any(|s| s == id) {
            self.started_steps.push(id.to_string());
        }
    }

    pub fn step_finished(&mut self, id: &str, stage: &str, output_id: &str, data: &Value, status: &str) {
        if !self.executed_steps.iter().any(|s| s == id) {
            self.executed_steps.push(id.to_string());
        }
        let output_data = serde_json::to_value(data).unwrap_or(serde_json::Value::Null);
        self.steps.insert(
            id.to_string(),
            StepRecord { stage: stage.into(), output_id: output_id.into(), output_data, status: status.into() },
        );
    }

    /// The attempts of steps a resumed run runs again (those without an output): it continues
    /// their numbering.
    pub fn unfinished_attempts(&self) -> BTreeMap<String, Vec<Attempt>> {
        let done = self.completed_outputs();
        self.attempts.iter().filter(|(id, _)| !done.contains_key(*id)).map(|(k, v)| (k.clone(), v.clone())).collect()
    }

    /// Steps whose results a resumed run reuses: those that produced an output.
    pub fn completed_outputs(&self) -> BTreeMap<String, (String, Value)> {
        self.steps
            .iter()
            .filter(|(_, r)| r.stage == "outputs")
            .map(|(id, r)| (id.clone(), (r.output_id.clone(), Value::from_json(&r.output_data))))
            .collect()
    }
}

/// Every run state in the workdir, newest first.
pub fn list(workdir: &Workdir) -> Vec<RunState> {
    let mut runs: Vec<RunState> = std::fs::read_dir(workdir.runs_dir())
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
        .filter_map(|e| crate::limits::read_bytes(&e.path()).ok())
        .filter_map(|b| serde_json::from_slice(&b).ok())
        .collect();
    runs.sort_by(|a: &RunState, b: &RunState| b.created.cmp(&a.created).then(b.id.cmp(&a.id)));
    runs
}

/// Keeps the run's state file current as its top-level steps start and finish.
pub struct RunStateRecorder {
    state: Mutex<RunState>,
    workdir: Workdir,
}

impl RunStateRecorder {
    pub fn new(state: RunState, workdir: Workdir) -> RunStateRecorder {
        RunStateRecorder { state: Mutex::new(state), workdir }
    }

    /// Records how the run ended.
    pub fn finish(&self, status: Status, message: String, output_id: Option<String>) {
        self.update(|st| {
            st.set_status(status, message);
            st.output_id = output_id;
        });
    }

    fn update(&self, f: impl FnOnce(&mut RunState)) {
        if let Ok(mut st) = self.state.lock() {
            f(&mut st);
            if let Err(e) = st.save(&self.workdir) {
                tracing::warn!("cannot save the run state: {e}");
            }
        }
    }
}

impl Observer for RunStateRecorder {
    fn on_event(&self, event: &RunEvent) {
        match event {
            // Foreach items (a non-empty label) are part of their foreach step's record.
            RunEvent::StepStarted { label, id, .. } if label.is_empty() => self.update(|st| st.step_started(id)),
            RunEvent::ArtifactsKept { label, id, files, .. } if label.is_empty() => self.update(|st| {
                st.artifacts.insert(id.clone(), files.clone());
            }),
            RunEvent::AttemptFinished { label, id, attempt, .. } if label.is_empty() => {
                self.update(|st| st.attempts.entry(id.clone()).or_default().push(attempt.clone()))
            }
            RunEvent::StepFinished(f) if f.label.is_empty() => {
                let status = format!("{:?}", f.status);
                match &f.stage {
                    Some((stage, oid, data)) => self.update(|st| st.step_finished(&f.id, stage, oid, data, &status)),
                    None => {
                        let msg = Value::String(f.message.clone().unwrap_or_default());
                        self.update(|st| st.step_finished(&f.id, "skipped", "", &msg, &status));
                    }
                }
            }
            _ => {}
        }
    }
}
