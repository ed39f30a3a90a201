//! Owns the event model: what the deployer and the engine report while they work, and the
//! observer trait through which the progress display, the run-state file, the JUnit report and
//! the log lines learn about it. The engine and the deployer know only this module.

use std::sync::{Arc, Mutex};

use crate::engine::{StepReport, StepStatus};
use crate::value::Value;

/// What kind of step an event is about (the log lines say different things for each).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepKindTag {
    Plugin,
    Foreach,
}

/// One thing that happened. `label` prefixes step ids inside foreach items (`loop[3] -> `); it
/// is empty for the steps of the top-level workflow.
#[derive(Debug, Clone)]
pub enum RunEvent {
    /// A plugin's venv started to build; `key` names this build until it finishes.
    BuildStarted { key: String, plugin: String },
    /// The build ended; `ok` says whether the venv is usable; `installer` names what built it.
    BuildFinished { key: String, plugin: String, ok: bool, seconds: f64, installer: Option<String> },
    /// arcaflow-py started installing a tool for itself (uv into the workdir); `detail` says
    /// what and where.
    ToolInstallStarted { tool: String, detail: String },
    /// The tool install ended; `error` says why it failed (builds then go on without it).
    ToolInstallFinished { tool: String, detail: String, error: Option<String>, seconds: f64 },
    /// A step got its input and runs; `what` names what it runs (the plugin step, or the foreach).
    StepStarted { label: String, id: String, kind: StepKindTag, what: String },
    /// One attempt of a plugin step ended; `retry_in` is the backoff (seconds) before the next
    /// attempt, `None` when this attempt is the step's last.
    AttemptFinished { label: String, id: String, attempt: Attempt, retry_in: Option<f64> },
    /// A step that declares `artifacts:` ended: what its artifacts directory holds.
    ArtifactsKept { label: String, id: String, dir: std::path::PathBuf, files: Vec<ArtifactFile> },
    /// A step reached a final state (also steps that never started: skipped, disabled, resumed).
    StepFinished(StepFinished),
    /// The top-level run ended; `steps` holds every step's final report, in id order.
    RunFinished { steps: Vec<StepReport> },
}

/// One attempt of a step: each is a fresh process. Times are RFC 3339 with milliseconds.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Attempt {
    /// 1 for the first attempt; a resumed run continues the numbering.
    pub number: u32,
    /// `success`, `error` (an error output), `crashed`, `deploy_failed`, `timed_out`, `cancelled`.
    pub outcome: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub started: String,
    pub ended: String,
}

/// One file a step left in its artifacts directory.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ArtifactFile {
    /// Relative to the step's artifacts directory, `/`-separated.
    pub path: String,
    pub size: u64,
    pub sha256: String,
}

/// The final state of one step.
#[derive(Debug, Clone)]
pub struct StepFinished {
    pub label: String,
    pub id: String,
    pub kind: StepKindTag,
    pub status: StepStatus,
    /// The stage that holds the step's final data (`outputs`, `failed`, `crashed`, `disabled`,
    /// `closed`), with its output id and data; `None` for a step that was skipped.
    pub stage: Option<(String, String, Value)>,
    pub output_id: Option<String>,
    pub message: Option<String>,
    /// Whether the step was started in this run (a skipped or reused step was not).
    pub started: bool,
    pub seconds: f64,
    /// The run whose recorded output this step reused.
    pub resumed_from: Option<String>,
}

/// Something that listens to a run. Called synchronously, in order, from the engine's loop and
/// the deployer's build threads: keep it quick.
pub trait Observer: Send + Sync {
    fn on_event(&self, event: &RunEvent);
}

/// Several observers, told in the order they were added.
#[derive(Default, Clone)]
pub struct Observers(Vec<Arc<dyn Observer>>);

impl Observers {
    pub fn new() -> Observers {
        Observers(Vec::new())
    }

    pub fn with(mut self, o: Arc<dyn Observer>) -> Observers {
        self.0.push(o);
        self
    }
}

impl Observer for Observers {
    fn on_event(&self, event: &RunEvent) {
        for o in &self.0 {
            o.on_event(event);
        }
    }
}

/// Keeps every event, for tests of the engine that need no terminal and no files.
#[derive(Default)]
pub struct Recording {
    events: Mutex<Vec<RunEvent>>,
}

impl Recording {
    pub fn events(&self) -> Vec<RunEvent> {
        self.events.lock().map(|e| e.clone()).unwrap_or_default()
    }
}

impl Observer for Recording {
    fn on_event(&self, event: &RunEvent) {
        if let Ok(mut e) = self.events.lock() {
            e.push(event.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observers_are_told_in_order_and_a_recording_keeps_everything() {
        let first = Arc::new(Recording::default());
        let second = Arc::new(Recording::default());
        let all = Observers::new().with(first.clone()).with(second.clone());
        all.on_event(&RunEvent::BuildStarted { key: "k".into(), plugin: "p".into() });
        all.on_event(&RunEvent::RunFinished { steps: Vec::new() });
        for r in [first, second] {
            let events = r.events();
            assert_eq!(events.len(), 2);
            assert!(matches!(&events[0], RunEvent::BuildStarted { key, .. } if key == "k"));
            assert!(matches!(events[1], RunEvent::RunFinished { .. }));
        }
    }
}
