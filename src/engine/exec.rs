//! Owns executing one workflow (or one foreach item): the DAG loop that starts steps when their
//! data is ready, collects their results, decides the output, and cleans up every process.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot, watch, Semaphore};
use tokio::task::JoinSet;

use super::resolve::{resolve, DataView, PathStatus, Res};
use super::step::{stopped, Control, CrashCause, PluginOutcome, PluginTask, StepInput, Stop};
use super::step_name;
use crate::config::{Config, LogLevel};
use crate::deployer::Plugin;
use crate::events::{Attempt, Observer, RunEvent, StepFinished, StepKindTag};
use crate::value::{Key, Value};
use crate::workflow::{FieldUse, ForeachStep, PluginStep, RetryOn, StepKind, Workflow};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interrupt {
    None,
    /// First Ctrl-C: cancel running steps, start nothing new.
    Graceful,
    /// Second Ctrl-C: kill everything now.
    Kill,
}

/// What the top-level run starts from: recorded results of a resumed run.
#[derive(Default)]
pub struct Resume {
    pub outputs: BTreeMap<String, (String, Value)>,
    pub from: String,
    /// The attempts already made of steps that did not complete: their numbering continues.
    pub attempts: BTreeMap<String, Vec<Attempt>>,
}

pub(super) struct Context {
    pub context_dir: PathBuf,
    pub plugins: HashMap<String, Arc<Plugin>>,
    pub config: Arc<Config>,
    pub interrupt: watch::Receiver<Interrupt>,
    /// Told about every step of the run, foreach items included.
    pub observer: Arc<dyn Observer>,
    /// Whether plugin steps are forked from their plugin's fork server.
    pub fork_server: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    NotRun,
    Running,
    Succeeded,
    ErrorOutput,
    Crashed,
    Disabled,
    Skipped,
    Cancelled,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct StepReport {
    pub id: String,
    pub status: StepStatus,
    pub output_id: Option<String>,
    pub message: Option<String>,
    pub debug_logs: String,
    pub seconds: f64,
    /// Every attempt of a plugin step, in order (a resumed run's earlier ones included).
    pub attempts: Vec<Attempt>,
}

#[derive(Debug, Clone)]
pub struct RunResult {
    pub output_id: String,
    pub output_data: Value,
    pub is_error: bool,
    pub steps: Vec<StepReport>,
}

#[derive(Debug, Clone)]
pub enum ExecError {
    Failed { message: String, steps: Vec<StepReport> },
    Interrupted { steps: Vec<StepReport> },
}

impl ExecError {
    pub fn steps(&self) -> &[StepReport] {
        match self {
            ExecError::Failed { steps, .. } | ExecError::Interrupted { steps } => steps,
        }
    }
}

enum Outcome {
    Plugin(PluginOutcome),
    Foreach(Result<Value, Value>),
    /// The backoff is over and the next attempt's process starts.
    Retrying,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Waiting,
    Running,
    Finished,
}

struct StepState {
    phase: Phase,
    /// stage -> output id, for the stages that produced an output.
    stages: BTreeMap<String, String>,
    input_tx: Option<oneshot::Sender<StepInput>>,
    control: Option<watch::Sender<Control>>,
    started: Option<Instant>,
    report: StepReport,
    /// The input the step was started with, for its retries.
    last_input: Option<StepInput>,
    /// When the current attempt started.
    attempt_started: Option<std::time::SystemTime>,
    /// Waiting out a retry's backoff (no process runs).
    backing_off: bool,
    /// The number of the first attempt made in this run (a resumed run continues the count).
    first_attempt: u32,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// Where a workflow's (or a foreach item's) steps work and keep their artifacts: one
/// sub-directory per step in each.
#[derive(Debug, Clone)]
pub(crate) struct Dirs {
    pub scratch: PathBuf,
    pub artifacts: Option<PathBuf>,
}

impl Dirs {
    pub(crate) fn join(&self, part: &str) -> Dirs {
        Dirs { scratch: self.scratch.join(part), artifacts: self.artifacts.as_ref().map(|a| a.join(part)) }
    }
}

/// Executes `wf` with an already validated `input`. `label` prefixes step names in logs
/// (foreach items use `loop[3] -> `).
pub(super) fn execute_top(
    wf: Arc<Workflow>,
    input: Value,
    ctx: Arc<Context>,
    dirs: Dirs,
    resume: Resume,
) -> BoxFuture<Result<RunResult, ExecError>> {
    let stop = ctx.interrupt.clone();
    Box::pin(async move {
        let mut run = Run::new(wf, input, ctx, dirs, String::new());
        run.apply_resume(resume);
        let result = run.main_loop(stop).await;
        let steps = match &result {
            Ok(r) => r.steps.clone(),
            Err(e) => e.steps().to_vec(),
        };
        run.ctx.observer.on_event(&RunEvent::RunFinished { steps });
        result
    })
}

fn execute_with(
    wf: Arc<Workflow>,
    input: Value,
    ctx: Arc<Context>,
    dirs: Dirs,
    label: String,
    stop: watch::Receiver<Interrupt>,
) -> BoxFuture<Result<RunResult, ExecError>> {
    Box::pin(async move {
        let mut run = Run::new(wf, input, ctx, dirs, label);
        run.main_loop(stop).await
    })
}

struct Run {
    wf: Arc<Workflow>,
    ctx: Arc<Context>,
    root: Value,
    steps: BTreeMap<String, StepState>,
    tx: mpsc::UnboundedSender<(String, Outcome)>,
    rx: mpsc::UnboundedReceiver<(String, Outcome)>,
    tasks: JoinSet<()>,
    /// Which step each task in `tasks` runs: a task that ends (or panics) without having
    /// reported an outcome is noticed by its id.
    task_steps: HashMap<tokio::task::Id, String>,
    dirs: Dirs,
    label: String,
    /// While resumed steps are finished: the run they come from.
    resuming: Option<String>,
}

impl DataView for Run {
    fn status(&self, path: &[String]) -> PathStatus {
        match path.first().map(String::as_str) {
            Some("input") | None => PathStatus::Resolved,
            Some("steps") => {
                let Some(id) = path.get(1) else {
                    return if self.steps.values().all(|s| s.phase == Phase::Finished) {
                        PathStatus::Resolved
                    } else {
                        PathStatus::Pending
                    };
                };
                let Some(state) = self.steps.get(id) else {
                    return PathStatus::Unresolvable(format!("there is no step '{id}'"));
                };
                let Some(stage) = path.get(2) else {
                    return if state.phase == Phase::Finished { PathStatus::Resolved } else { PathStatus::Pending };
                };
                if stage == "artifacts" {
                    // Artifacts are there once their step has ended, however it ended.
                    return match (state.phase, state.stages.contains_key("artifacts")) {
                        (Phase::Finished, true) => PathStatus::Resolved,
                        (Phase::Finished, false) => PathStatus::Unresolvable(format!(
                            "step '{id}' did not run, so it has no artifacts{}",
                            state.report.message.as_deref().map(|m| format!(": {m}")).unwrap_or_default()
                        )),
                        _ => PathStatus::Pending,
                    };
                }
                match (state.stages.get(stage), path.get(3)) {
                    (Some(_), None) => PathStatus::Resolved,
                    (Some(have), Some(want)) if have == want => PathStatus::Resolved,
                    (Some(have), Some(want)) => PathStatus::Unresolvable(format!(
                        "step '{id}' ended with {stage} '{have}', not '{want}'{}",
                        state.report.message.as_deref().map(|m| format!(": {m}")).unwrap_or_default()
                    )),
                    (None, _) if state.phase == Phase::Finished => PathStatus::Unresolvable(why_not(id, stage, state)),
                    (None, _) => PathStatus::Pending,
                }
            }
            Some(other) => PathStatus::Unresolvable(format!("'$.{other}' does not exist (use $.input or $.steps)")),
        }
    }
    fn root(&self) -> &Value {
        &self.root
    }
    fn context_dir(&self) -> &Path {
        &self.ctx.context_dir
    }
}

fn why_not(id: &str, stage: &str, state: &StepState) -> String {
    let how = match state.report.status {
        StepStatus::Crashed => "crashed",
        StepStatus::Disabled => "was disabled",
        StepStatus::Skipped => "could not run",
        StepStatus::Cancelled => "was cancelled",
        StepStatus::ErrorOutput | StepStatus::Succeeded => "ended",
        StepStatus::NotRun | StepStatus::Running => "ended",
    };
    let out = state.report.output_id.as_deref().map(|o| format!(" with output '{o}'")).unwrap_or_default();
    let msg = state.report.message.as_deref().map(|m| format!(": {m}")).unwrap_or_default();
    format!("step '{id}' {how}{out} so its '{stage}' stage has no data{msg}")
}

impl Run {
    fn new(wf: Arc<Workflow>, input: Value, ctx: Arc<Context>, dirs: Dirs, label: String) -> Run {
        let (tx, rx) = mpsc::unbounded_channel();
        let root = Value::map_from([("input", input), ("steps", Value::Map(Default::default()))]);
        let steps = wf
            .steps
            .keys()
            .map(|id| {
                let report = StepReport {
                    id: format!("{label}{id}"),
                    status: StepStatus::NotRun,
                    output_id: None,
                    message: None,
                    debug_logs: String::new(),
                    seconds: 0.0,
                    attempts: Vec::new(),
                };
                (
                    id.clone(),
                    StepState {
                        phase: Phase::Waiting,
                        stages: BTreeMap::new(),
                        input_tx: None,
                        control: None,
                        started: None,
                        report,
                        last_input: None,
                        attempt_started: None,
                        backing_off: false,
                        first_attempt: 1,
                    },
                )
            })
            .collect();
        Run {
            wf,
            ctx,
            root,
            steps,
            tx,
            rx,
            tasks: JoinSet::new(),
            task_steps: HashMap::new(),
            dirs,
            label,
            resuming: None,
        }
    }

    /// Steps that completed in the resumed run are finished before anything starts.
    fn apply_resume(&mut self, resume: Resume) {
        self.resuming = Some(resume.from.clone());
        for (id, attempts) in resume.attempts {
            if let Some(s) = self.steps.get_mut(&id) {
                s.first_attempt = attempts.last().map_or(1, |a| a.number + 1);
                s.report.attempts = attempts;
            }
        }
        for (id, (output_id, data)) in resume.outputs {
            if !self.steps.contains_key(&id) {
                continue;
            }
            self.set_stage(&id, "enabling", "resolved", Value::map_from([("enabled", Value::Bool(true))]));
            self.set_stage(&id, "starting", "started", Value::Map(Default::default()));
            self.set_stage(&id, "outputs", &output_id, data);
            let status =
                if self.output_is_error(&id, &output_id) { StepStatus::ErrorOutput } else { StepStatus::Succeeded };
            self.finish(&id, status, Some(output_id), Some(format!("reused from run {}", resume.from)));
        }
        self.resuming = None;
    }

    async fn main_loop(&mut self, mut stop: watch::Receiver<Interrupt>) -> Result<RunResult, ExecError> {
        self.prelaunch();
        let mut seen = Interrupt::None;
        let mut stop_open = true;
        let result = loop {
            // An interrupt that came while the loop was busy (a long expression, a stop of many
            // steps) is acted on before anything else is started.
            self.notice_interrupt(*stop.borrow_and_update(), &mut seen);
            let interrupted = seen != Interrupt::None;
            if !interrupted {
                self.advance();
            }
            match self.pick_output() {
                Ok(Some(r)) => break Ok(r),
                Ok(None) => {}
                Err(message) => break Err(message),
            }
            let running = self.steps.values().any(|s| s.phase == Phase::Running);
            if !running {
                if interrupted {
                    break Err(String::new());
                }
                break Err(self.deadlock_message());
            }
            if self.label.is_empty() {
                crate::testhooks::busy_once();
            }
            tokio::select! {
                ev = self.rx.recv() => {
                    if let Some((id, outcome)) = ev {
                        self.on_outcome(&id, outcome);
                    }
                }
                joined = self.tasks.join_next_with_id(), if !self.tasks.is_empty() => {
                    if let Some(joined) = joined {
                        self.on_task_end(joined);
                    }
                }
                changed = stop.changed(), if stop_open => {
                    // The sender gone means no interrupt can come any more.
                    stop_open = changed.is_ok();
                }
            }
        };
        // Whatever ended the run, every process is stopped and reaped before we return.
        self.stop_all(Control::Kill("the workflow finished".into()), false);
        self.drain().await;
        let steps = self.reports();
        // An interrupt of the top-level run (Ctrl-C) is honoured even when it came too late to
        // stop anything: the run ends as interrupted (exit 130), never as a success. A foreach
        // item stopped with its foreach step keeps an output it produced in answer.
        let interrupted = seen != Interrupt::None || *stop.borrow() != Interrupt::None;
        let top = self.label.is_empty();
        match result {
            Ok(_) if interrupted && top => Err(ExecError::Interrupted { steps }),
            Err(_) if interrupted => Err(ExecError::Interrupted { steps }),
            Ok(mut r) => {
                r.steps = steps;
                Ok(r)
            }
            Err(message) => Err(ExecError::Failed { message, steps }),
        }
    }

    /// Acts on an interrupt level not acted on yet: graceful cancels running steps and starts
    /// nothing new; kill stops them at once (also when graceful was never seen).
    fn notice_interrupt(&mut self, level: Interrupt, seen: &mut Interrupt) {
        if level == *seen || level == Interrupt::None {
            return;
        }
        match level {
            Interrupt::None => {}
            Interrupt::Graceful => {
                if *seen == Interrupt::None {
                    self.stop_all(Control::Cancel("interrupted".into()), true);
                    *seen = Interrupt::Graceful;
                }
            }
            Interrupt::Kill => {
                self.stop_all(Control::Kill("interrupted".into()), true);
                *seen = Interrupt::Kill;
            }
        }
    }

    /// A step's task ended. Its outcome, sent just before, may still be queued: it is taken
    /// first. A task that ended without one, or panicked, crashes its step, so the run never
    /// waits for an outcome that cannot come.
    fn on_task_end(&mut self, joined: Result<(tokio::task::Id, ()), tokio::task::JoinError>) {
        while let Ok((id, outcome)) = self.rx.try_recv() {
            self.on_outcome(&id, outcome);
        }
        let (task, panic) = match joined {
            Ok((task, ())) => (task, None),
            Err(e) => (e.id(), Some(join_error_message(e))),
        };
        let Some(id) = self.task_steps.remove(&task) else { return };
        let Some(phase) = self.steps.get(&id).map(|s| s.phase) else { return };
        // A step retried in a newer task is that task's to report.
        let superseded = self.task_steps.values().any(|s| *s == id);
        match (phase, panic) {
            (_, Some(message)) if superseded => {
                tracing::error!("step {}{id}: an earlier attempt's task panicked: {message}", self.label);
            }
            (_, None) if superseded => {}
            (Phase::Finished, None) => {}
            (Phase::Finished, Some(message)) => {
                tracing::error!("step {}{id}: its task panicked after its outcome: {message}", self.label);
            }
            (_, Some(message)) => {
                self.crash(&id, format!("internal error: the step's task panicked: {message}"));
            }
            (Phase::Running, None) => {
                self.crash(&id, "internal error: the step's task ended without reporting an outcome".into());
            }
            // A prelaunched process whose input never came: starting the step later finds it gone.
            (Phase::Waiting, None) => {}
        }
    }

    fn reports(&self) -> Vec<StepReport> {
        self.steps.values().map(|s| s.report.clone()).collect()
    }

    /// Launches every plugin step's process right away, so Python start-up (~0.1 s) overlaps
    /// with upstream steps; each waits for its input.
    fn prelaunch(&mut self) {
        let ids: Vec<String> =
            self.steps.iter().filter(|(_, s)| s.phase == Phase::Waiting).map(|(k, _)| k.clone()).collect();
        for id in ids {
            let StepKind::Plugin(p) = &self.wf.steps[&id].kind else {
                continue;
            };
            let Some(plugin) = self.ctx.plugins.get(&crate::plan::plugin_key(p)).cloned() else {
                continue;
            };
            let step_name = step_name(p, &plugin);
            let (input_tx, input_rx) = oneshot::channel();
            let (control_tx, control_rx) = watch::channel(Control::Run);
            let task = PluginTask {
                plugin,
                step: step_name,
                run_id: id.clone(),
                label: format!("step {}{id}", self.label),
                cwd: self.dirs.scratch.join(&id),
                artifacts: self.artifacts_dir(&id),
                spare_dir: Default::default(),
                fork: self.ctx.fork_server,
            };
            let tx = self.tx.clone();
            let id2 = id.clone();
            let handle = self.tasks.spawn(async move {
                task.run(input_rx, control_rx, move |outcome| {
                    let _ = tx.send((id2, Outcome::Plugin(outcome)));
                })
                .await;
            });
            self.task_steps.insert(handle.id(), id.clone());
            if let Some(s) = self.steps.get_mut(&id) {
                s.input_tx = Some(input_tx);
                s.control = Some(control_tx);
            }
        }
    }

    /// Starts every step whose data is ready, until nothing changes.
    fn advance(&mut self) {
        loop {
            let mut changed = false;
            let waiting: Vec<String> =
                self.steps.iter().filter(|(_, s)| s.phase == Phase::Waiting).map(|(k, _)| k.clone()).collect();
            for id in waiting {
                changed |= self.try_start(&id);
            }
            self.check_stop_if();
            if !changed {
                break;
            }
        }
    }

    fn try_start(&mut self, id: &str) -> bool {
        let wf = self.wf.clone();
        let step = &wf.steps[id];
        if !self.steps[id].stages.contains_key("enabling") {
            let enabled = match &step.enabled {
                None => Res::Ready(Value::Bool(true)),
                Some(t) => resolve(t, self),
            };
            match enabled {
                Res::Pending => return false,
                Res::Unresolvable(why) => {
                    self.finish(
                        id,
                        StepStatus::Skipped,
                        None,
                        Some(format!("its 'enabled' value cannot be resolved: {why}")),
                    );
                    return true;
                }
                Res::Ready(Value::Bool(true)) => {
                    self.set_stage(id, "enabling", "resolved", Value::map_from([("enabled", Value::Bool(true))]));
                }
                Res::Ready(Value::Bool(false)) => {
                    self.set_stage(id, "enabling", "resolved", Value::map_from([("enabled", Value::Bool(false))]));
                    let message = self.disabled_message(id);
                    self.set_stage(
                        id,
                        "disabled",
                        "output",
                        Value::map_from([("message", Value::String(message.clone()))]),
                    );
                    self.finish(id, StepStatus::Disabled, None, Some(message));
                    return true;
                }
                Res::Ready(other) => {
                    let msg = format!("'enabled' must be true or false, got {} ({other})", other.type_name());
                    self.crash(id, msg);
                    return true;
                }
            }
        }
        let mut values = BTreeMap::new();
        let start_fields = step.expression_fields().into_iter().filter(|(_, _, use_)| *use_ == FieldUse::Start);
        for (name, tree, _) in start_fields {
            match resolve(tree, self) {
                Res::Pending => return false,
                Res::Unresolvable(why) => {
                    self.finish(id, StepStatus::Skipped, None, Some(format!("its {name} cannot be resolved: {why}")));
                    return true;
                }
                Res::Ready(v) => {
                    values.insert(name, v);
                }
            }
        }
        let timeout = self.timeout_for(step.timeout);
        match &step.kind {
            StepKind::Plugin(p) => {
                let input = values.remove("input").unwrap_or_default();
                let closure_wait = match values.get("closure_wait_timeout") {
                    None => Duration::from_millis(super::DEFAULT_CLOSURE_WAIT_MS),
                    Some(Value::Int(ms)) if *ms >= 0 => Duration::from_millis(*ms as u64),
                    Some(other) => {
                        self.crash(
                            id,
                            format!("closure_wait_timeout must be a number of milliseconds >= 0, got {other}"),
                        );
                        return true;
                    }
                };
                self.start_plugin(id, p, input, timeout, closure_wait);
            }
            StepKind::Foreach(f) => {
                let items = values.remove("items").unwrap_or_default();
                let parallelism = match values.get("parallelism") {
                    None => 1,
                    Some(Value::Int(n)) if *n >= 1 => *n as usize,
                    Some(other) => {
                        self.crash(id, format!("parallelism must be an integer >= 1, got {other}"));
                        return true;
                    }
                };
                match items {
                    Value::List(items) => self.start_foreach(id, f, items, parallelism),
                    other => self.crash(id, format!("items must be a list, got {}", other.type_name())),
                }
            }
        }
        true
    }

    /// The `disabled` stage's message, worded as the reference engine words it (workflows may
    /// compare it): `Step <id>/<plugin step> disabled`, `Step foreach <id> disabled`. The id is
    /// the step's own, also inside a foreach item, as in the reference.
    fn disabled_message(&self, id: &str) -> String {
        match self.wf.steps.get(id).map(|s| &s.kind) {
            Some(StepKind::Plugin(p)) => {
                let name =
                    self.ctx.plugins.get(&crate::plan::plugin_key(p)).map(|pl| step_name(p, pl)).unwrap_or_default();
                format!("Step {id}/{name} disabled")
            }
            Some(StepKind::Foreach(_)) => format!("Step foreach {id} disabled"),
            None => format!("Step {id} disabled"),
        }
    }

    fn timeout_for(&self, step: Option<f64>) -> Option<Duration> {
        let secs = step.or(self.wf.max_step_timeout).or(self.ctx.config.max_step_timeout)?;
        // Checked at load (crate::seconds); this never panics whatever reaches it.
        crate::seconds::duration(secs)
    }

    fn start_plugin(
        &mut self,
        id: &str,
        p: &PluginStep,
        input: Value,
        timeout: Option<Duration>,
        closure_wait: Duration,
    ) {
        let Some(plugin) = self.ctx.plugins.get(&crate::plan::plugin_key(p)).cloned() else {
            self.crash(id, "its plugin was not deployed".into());
            return;
        };
        let name = step_name(p, &plugin);
        let Some(schema) = plugin.schema.steps.get(&name) else {
            self.crash(id, format!("the plugin has no step '{name}'"));
            return;
        };
        let input = match schema.input.validate(&input) {
            Ok(v) => v,
            Err(e) => {
                let at = if e.path.is_empty() { format!(": {}", e.message) } else { format!(" -> {e}") };
                self.crash(id, format!("step '{}{id}' input{at}", self.label));
                return;
            }
        };
        let Some(tx) = self.steps.get_mut(id).and_then(|s| s.input_tx.take()) else {
            self.crash(id, "its plugin process is gone".into());
            return;
        };
        let work = StepInput { input, timeout, closure_wait };
        if let Some(s) = self.steps.get_mut(id) {
            s.last_input = Some(work.clone());
            s.attempt_started = Some(std::time::SystemTime::now());
        }
        if tx.send(work).is_err() {
            self.crash(id, "its plugin process is gone".into());
            return;
        }
        self.mark_running(id, StepKindTag::Plugin, name);
    }

    fn start_foreach(&mut self, id: &str, f: &ForeachStep, items: Vec<Value>, parallelism: usize) {
        let (control_tx, control_rx) = watch::channel(Control::Run);
        let sub = f.workflow.clone();
        let ctx = self.ctx.clone();
        let dirs = self.dirs.join(id);
        let label = format!("{}{id}", self.label);
        let tx = self.tx.clone();
        let id2 = id.to_string();
        let what = format!("foreach over {} items, parallelism {parallelism}", items.len());
        let hook = label.clone();
        let handle = self.tasks.spawn(async move {
            crate::testhooks::maybe_panic(&hook);
            let r = run_foreach(sub, items, parallelism, ctx, dirs, label, control_rx).await;
            let _ = tx.send((id2, Outcome::Foreach(r)));
        });
        self.task_steps.insert(handle.id(), id.to_string());
        if let Some(s) = self.steps.get_mut(id) {
            s.control = Some(control_tx);
        }
        self.mark_running(id, StepKindTag::Foreach, what);
    }

    fn mark_running(&mut self, id: &str, kind: StepKindTag, what: String) {
        if let Some(s) = self.steps.get_mut(id) {
            s.phase = Phase::Running;
            s.started = Some(Instant::now());
            s.report.status = StepStatus::Running;
        }
        self.set_stage(id, "starting", "started", Value::Map(Default::default()));
        self.ctx.observer.on_event(&RunEvent::StepStarted {
            label: self.label.clone(),
            id: id.to_string(),
            kind,
            what,
        });
    }

    fn check_stop_if(&mut self) {
        let wf = self.wf.clone();
        let running: Vec<String> =
            self.steps.iter().filter(|(_, s)| s.phase == Phase::Running).map(|(k, _)| k.clone()).collect();
        for id in running {
            let Some(t) = &wf.steps[&id].stop_if else {
                continue;
            };
            if let Res::Ready(v) = resolve(t, self) {
                if !matches!(v, Value::Bool(false) | Value::Null) {
                    if let Some(c) = self.steps.get(&id).and_then(|s| s.control.as_ref()) {
                        if *c.borrow() == Control::Run {
                            let _ = c.send(Control::Cancel("stop_if is set".into()));
                        }
                    }
                }
            }
        }
    }

    fn on_outcome(&mut self, id: &str, outcome: Outcome) {
        // One outcome per step: anything for a step that is not running is stale.
        if self.steps.get(id).is_none_or(|s| s.phase != Phase::Running) {
            return;
        }
        let outcome = match outcome {
            Outcome::Plugin(o) => match self.end_attempt(id, o) {
                Some(o) => Outcome::Plugin(o),
                None => return,
            },
            Outcome::Retrying => {
                if let Some(s) = self.steps.get_mut(id) {
                    s.backing_off = false;
                    s.attempt_started = Some(std::time::SystemTime::now());
                }
                return;
            }
            other => other,
        };
        match outcome {
            Outcome::Retrying => {}
            Outcome::Plugin(PluginOutcome::Output { output_id, data, debug_logs }) => {
                if let Some(level) = self.ctx.config.logged_outputs.get(&output_id).map(|l| l.level) {
                    log_output(level, &format!("{}{id}", self.label), &output_id, &data);
                }
                self.set_stage(id, "outputs", &output_id, data);
                let is_error = self.output_is_error(id, &output_id);
                if let Some(s) = self.steps.get_mut(id) {
                    s.report.debug_logs = debug_logs;
                }
                let status = if is_error { StepStatus::ErrorOutput } else { StepStatus::Succeeded };
                self.finish(id, status, Some(output_id), None);
            }
            Outcome::Plugin(PluginOutcome::Crashed { message, debug_logs, .. }) => {
                if let Some(s) = self.steps.get_mut(id) {
                    s.report.debug_logs = debug_logs;
                }
                self.crash(id, message);
            }
            Outcome::Plugin(PluginOutcome::Cancelled { reason }) => {
                self.set_stage(
                    id,
                    "closed",
                    "result",
                    Value::map_from([("cancelled", Value::Bool(true)), ("close_requested", Value::Bool(true))]),
                );
                self.finish(id, StepStatus::Cancelled, None, Some(reason));
            }
            Outcome::Foreach(Ok(data)) => {
                self.set_stage(id, "outputs", "success", Value::map_from([("data", data)]));
                self.finish(id, StepStatus::Succeeded, Some("success".into()), None);
            }
            Outcome::Foreach(Err(failure)) => {
                let message = summarize_foreach_errors(&failure);
                self.set_stage(id, "failed", "error", failure);
                self.finish(id, StepStatus::Crashed, Some("error".into()), Some(message));
            }
        }
    }

    /// Records the attempt that ended with `o` and starts the next one when the step's retry
    /// policy asks for it; returns the outcome when it is the step's final one.
    fn end_attempt(&mut self, id: &str, o: PluginOutcome) -> Option<PluginOutcome> {
        let in_backoff = self.steps.get(id).is_some_and(|s| s.backing_off);
        if in_backoff {
            // Cancelled while waiting to retry: no attempt ran, the last one stays the last.
            return Some(o);
        }
        let (outcome, output_id, message, retry_on) = match &o {
            PluginOutcome::Output { output_id, .. } if self.output_is_error(id, output_id) => {
                ("error", Some(output_id.clone()), None, Some(RetryOn::Error))
            }
            PluginOutcome::Output { output_id, .. } => ("success", Some(output_id.clone()), None, None),
            PluginOutcome::Crashed { message, cause, .. } => match cause {
                CrashCause::Startup => ("deploy_failed", None, Some(message.clone()), Some(RetryOn::DeployFailed)),
                CrashCause::Run => ("crashed", None, Some(message.clone()), Some(RetryOn::Crashed)),
                // A timeout ends the step: the time it was given is spent.
                CrashCause::Timeout => ("timed_out", None, Some(message.clone()), None),
            },
            PluginOutcome::Cancelled { reason } => ("cancelled", None, Some(reason.clone()), None),
        };
        let policy = self.wf.steps.get(id).and_then(|s| s.retry.clone()).or_else(|| self.wf.retry.clone());
        let s = self.steps.get_mut(id)?;
        let now = std::time::SystemTime::now();
        let number = s.report.attempts.last().map_or(1, |a| a.number + 1);
        let attempt = Attempt {
            number,
            outcome: outcome.to_string(),
            output_id,
            message,
            started: rfc3339(s.attempt_started.unwrap_or(now)),
            ended: rfc3339(now),
        };
        s.report.attempts.push(attempt.clone());
        let still_running = s.control.as_ref().is_some_and(|c| *c.borrow() == Control::Run);
        let retry_in = match (&policy, retry_on) {
            (Some(p), Some(on)) if p.retries(on) && still_running => {
                // A resumed run gets at least one attempt of its own, whatever earlier ones used.
                let allowed = (p.limit + 1).max(s.first_attempt);
                (number < allowed).then(|| p.delay(number))
            }
            _ => None,
        };
        self.ctx.observer.on_event(&RunEvent::AttemptFinished {
            label: self.label.clone(),
            id: id.to_string(),
            attempt,
            retry_in,
        });
        match retry_in {
            Some(delay) => {
                self.spawn_retry(id, Duration::from_secs_f64(delay));
                None
            }
            None => Some(o),
        }
    }

    /// Starts the next attempt of a plugin step after `delay`, as a fresh process; a cancel or
    /// kill during the wait ends the step as cancelled.
    fn spawn_retry(&mut self, id: &str, delay: Duration) {
        let StepKind::Plugin(p) = &self.wf.steps[id].kind else { return };
        let Some(plugin) = self.ctx.plugins.get(&crate::plan::plugin_key(p)).cloned() else { return };
        let Some(s) = self.steps.get_mut(id) else { return };
        let (Some(work), Some(control)) = (s.last_input.clone(), s.control.as_ref()) else { return };
        let mut control_rx = control.subscribe();
        s.backing_off = true;
        let task = PluginTask {
            step: step_name(p, &plugin),
            plugin,
            run_id: id.to_string(),
            label: format!("step {}{id}", self.label),
            cwd: self.dirs.scratch.join(id),
            artifacts: self.artifacts_dir(id),
            spare_dir: Default::default(),
            fork: self.ctx.fork_server,
        };
        let tx = self.tx.clone();
        let step = id.to_string();
        let id = id.to_string();
        let handle = self.tasks.spawn(async move {
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                c = stopped(&mut control_rx) => {
                    let reason = match c {
                        Stop::Cancel(r) | Stop::Kill(r) => r,
                    };
                    let reason = format!("{reason} (while waiting to retry)");
                    let _ = tx.send((id, Outcome::Plugin(PluginOutcome::Cancelled { reason })));
                    return;
                }
            }
            let _ = tx.send((id.clone(), Outcome::Retrying));
            let (input_tx, input_rx) = oneshot::channel();
            let _ = input_tx.send(work);
            task.run(input_rx, control_rx, move |outcome| {
                let _ = tx.send((id, Outcome::Plugin(outcome)));
            })
            .await;
        });
        self.task_steps.insert(handle.id(), step);
    }

    fn output_is_error(&self, id: &str, output_id: &str) -> bool {
        let StepKind::Plugin(p) = &self.wf.steps[id].kind else {
            return false;
        };
        self.ctx
            .plugins
            .get(&crate::plan::plugin_key(p))
            .and_then(|pl| {
                pl.schema.steps.get(&step_name(p, pl)).and_then(|s| s.outputs.get(output_id)).map(|o| o.error)
            })
            .unwrap_or(false)
            || output_id == "error"
    }

    fn crash(&mut self, id: &str, message: String) {
        self.set_stage(id, "crashed", "error", Value::map_from([("output", Value::String(message.clone()))]));
        self.finish(id, StepStatus::Crashed, None, Some(message));
    }

    fn finish(&mut self, id: &str, status: StepStatus, output_id: Option<String>, message: Option<String>) {
        self.keep_artifacts(id);
        let Some(s) = self.steps.get_mut(id) else { return };
        s.phase = Phase::Finished;
        s.report.status = status;
        s.report.output_id = output_id;
        if message.is_some() {
            s.report.message = message;
        }
        s.report.seconds = s.started.map(|t| t.elapsed().as_secs_f64()).unwrap_or(0.0);
        // A step that will never run lets its prelaunched process go.
        s.input_tx = None;
        let stage = ["outputs", "failed", "crashed", "disabled", "closed"]
            .into_iter()
            .find_map(|st| s.stages.get(st).map(|oid| (st.to_string(), oid.clone())))
            .map(|(stage, oid)| {
                let data = self
                    .root
                    .get("steps")
                    .and_then(|s| s.get(id))
                    .and_then(|s| s.get(&stage))
                    .and_then(|s| s.get(&oid))
                    .cloned()
                    .unwrap_or_default();
                (stage, oid, data)
            });
        let kind = match &self.wf.steps[id].kind {
            StepKind::Plugin(_) => StepKindTag::Plugin,
            StepKind::Foreach(_) => StepKindTag::Foreach,
        };
        let event = StepFinished {
            label: self.label.clone(),
            id: id.to_string(),
            kind,
            status,
            stage,
            output_id: s.report.output_id.clone(),
            message: s.report.message.clone(),
            started: s.started.is_some(),
            seconds: s.report.seconds,
            resumed_from: self.resuming.clone(),
        };
        self.ctx.observer.on_event(&RunEvent::StepFinished(event));
    }

    /// The step's artifacts directory, when it declares artifacts and the run keeps them.
    fn artifacts_dir(&self, id: &str) -> Option<PathBuf> {
        let declares = self.wf.steps.get(id).is_some_and(|s| !s.artifacts.is_empty());
        let root = self.dirs.artifacts.as_ref().filter(|_| declares)?;
        Some(root.join(id))
    }

    /// Makes a finished step's artifacts available to expressions (`$.steps.X.artifacts.name`)
    /// and, for a step that ran now, reports the files it left.
    fn keep_artifacts(&mut self, id: &str) {
        let Some(dir) = self.artifacts_dir(id) else { return };
        let wf = self.wf.clone();
        let step = &wf.steps[id];
        let Some(s) = self.steps.get(id) else { return };
        let ran = s.started.is_some();
        if !ran && self.resuming.is_none() {
            return; // skipped or disabled: it wrote nothing
        }
        if let Some(s) = self.steps.get_mut(id) {
            s.stages.insert("artifacts".into(), String::new());
        }
        if let Value::Map(root) = &mut self.root {
            if let Some(Value::Map(steps)) = root.get_mut(&Key::from("steps")) {
                if let Value::Map(st) = steps.entry(Key::from(id)).or_insert_with(|| Value::Map(Default::default())) {
                    st.insert(Key::from("artifacts"), super::artifacts::paths(step, &dir));
                }
            }
        }
        if !ran {
            return;
        }
        let missing = super::artifacts::missing(step, &dir);
        if !missing.is_empty() {
            tracing::warn!(
                "step {}{id}: declared artifacts it did not write in {}: {}",
                self.label,
                dir.display(),
                missing.join(", ")
            );
        }
        let files = super::artifacts::list(&dir);
        self.ctx.observer.on_event(&RunEvent::ArtifactsKept {
            label: self.label.clone(),
            id: id.to_string(),
            dir,
            files,
        });
    }

    fn set_stage(&mut self, id: &str, stage: &str, output_id: &str, data: Value) {
        if let Some(s) = self.steps.get_mut(id) {
            s.stages.insert(stage.to_string(), output_id.to_string());
        }
        if let Value::Map(root) = &mut self.root {
            let steps = root.entry(Key::from("steps")).or_insert_with(|| Value::Map(Default::default()));
            if let Value::Map(steps) = steps {
                let step = steps.entry(Key::from(id)).or_insert_with(|| Value::Map(Default::default()));
                if let Value::Map(step) = step {
                    step.insert(Key::from(stage), Value::map_from([(output_id, data)]));
                }
            }
        }
    }

    /// The first output (in id order) that resolves ends the run.
    fn pick_output(&self) -> Result<Option<RunResult>, String> {
        let mut reasons = Vec::new();
        for (oid, tree) in &self.wf.outputs {
            match resolve(tree, self) {
                Res::Ready(data) => {
                    if !matches!(data, Value::Map(_)) {
                        return Err(format!("output '{oid}' must be an object (a map), got {}", data.type_name()));
                    }
                    if let Some(Some(schema)) = self.wf.output_schema.get(oid).map(|d| d.schema.as_ref()) {
                        if let Err(e) = schema.validate(&data) {
                            return Err(format!("output '{oid}' does not match its outputSchema: {e}"));
                        }
                    }
                    return Ok(Some(RunResult {
                        output_id: oid.clone(),
                        output_data: data,
                        is_error: self.wf.is_error_output(oid),
                        steps: Vec::new(),
                    }));
                }
                Res::Pending => return Ok(None),
                Res::Unresolvable(why) => reasons.push(format!("output '{oid}': {why}")),
            }
        }
        Err(format!("no output can be produced: {}", reasons.join("; ")))
    }

    fn deadlock_message(&self) -> String {
        let waiting: Vec<&str> =
            self.steps.iter().filter(|(_, s)| s.phase == Phase::Waiting).map(|(k, _)| k.as_str()).collect();
        format!(
            "no step is running and no output can be built (steps still waiting: {})",
            if waiting.is_empty() { "none".to_string() } else { waiting.join(", ") }
        )
    }

    fn stop_all(&mut self, control: Control, only_running: bool) {
        for s in self.steps.values_mut() {
            if s.phase == Phase::Waiting {
                s.input_tx = None;
                if only_running {
                    continue;
                }
            }
            if let Some(c) = &s.control {
                let _ = c.send(control.clone());
            }
            if !only_running && s.phase == Phase::Running {
                s.report.status = StepStatus::Cancelled;
                s.report.message = Some("closed because the workflow finished".into());
                s.report.seconds = s.started.map(|t| t.elapsed().as_secs_f64()).unwrap_or(0.0);
            }
        }
    }

    async fn drain(&mut self) {
        while let Some(joined) = self.tasks.join_next_with_id().await {
            self.on_task_end(joined);
        }
        while let Ok((id, outcome)) = self.rx.try_recv() {
            self.on_outcome(&id, outcome);
        }
    }
}

/// What a task that did not finish normally left behind: its panic message when it panicked.
fn join_error_message(e: tokio::task::JoinError) -> String {
    if !e.is_panic() {
        return e.to_string();
    }
    let payload = e.into_panic();
    match (payload.downcast_ref::<&str>(), payload.downcast_ref::<String>()) {
        (Some(s), _) => (*s).to_string(),
        (None, Some(s)) => s.clone(),
        (None, None) => "a panic without a message".to_string(),
    }
}

fn rfc3339(t: std::time::SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}

fn log_output(level: LogLevel, step: &str, output_id: &str, data: &Value) {
    let text = format!("output of step {step} is '{output_id}': {data}");
    match level {
        LogLevel::Debug => tracing::debug!("{text}"),
        LogLevel::Info => tracing::info!("{text}"),
        LogLevel::Warning => tracing::warn!("{text}"),
        LogLevel::Error => tracing::error!("{text}"),
    }
}

fn summarize_foreach_errors(failure: &Value) -> String {
    let errors = failure.get("errors").and_then(Value::as_map);
    match errors {
        Some(m) => {
            let parts: Vec<String> =
                m.iter().take(3).map(|(k, v)| format!("item {k}: {}", v.as_str().unwrap_or(""))).collect();
            format!("{} item(s) failed ({})", m.len(), parts.join("; "))
        }
        None => "some items failed".into(),
    }
}

/// Runs the sub-workflow for every item, at most `parallelism` at once; results keep item order.
pub(crate) async fn run_foreach(
    sub: Arc<Workflow>,
    items: Vec<Value>,
    parallelism: usize,
    ctx: Arc<Context>,
    dirs: Dirs,
    label: String,
    mut control: watch::Receiver<Control>,
) -> Result<Value, Value> {
    let (stop_tx, stop_rx) = watch::channel(Interrupt::None);
    // More slots than items change nothing; the bound also keeps a huge `parallelism` (it may be
    // any integer >= 1) from overflowing the semaphore.
    let sem = Arc::new(Semaphore::new(parallelism.clamp(1, items.len().max(1))));
    let mut set = JoinSet::new();
    // Which item each task runs, so that a panicking item is an item error, not a lost item.
    let mut task_items: HashMap<tokio::task::Id, usize> = HashMap::new();
    let mut waiting = items.into_iter().enumerate().peekable();
    let mut results: BTreeMap<usize, Result<Value, String>> = BTreeMap::new();
    let mut stopping = false;
    let mut control_open = true;
    loop {
        if waiting.peek().is_none() && set.is_empty() {
            break;
        }
        tokio::select! {
            // Items start in order, each as soon as a slot is free.
            permit = sem.clone().acquire_owned(), if waiting.peek().is_some() && !stopping => {
                let Some((i, item)) = waiting.next() else { continue };
                let (sub, ctx, stop) = (sub.clone(), ctx.clone(), stop_rx.clone());
                let dirs = dirs.join(&i.to_string());
                let label = format!("{label}[{i}] -> ");
                let handle = set.spawn(async move {
                    let _permit = permit;
                    let input = match sub.input.validate(&item) {
                        Ok(v) => v,
                        Err(e) => return (i, Err(format!("the item does not match the sub-workflow input: {e}"))),
                    };
                    let r = execute_with(sub.clone(), input, ctx, dirs, label, stop).await;
                    let r = match r {
                        Ok(r) => Ok(r.output_data),
                        Err(ExecError::Failed { message, .. }) => Err(message),
                        Err(ExecError::Interrupted { .. }) => Err("cancelled".to_string()),
                    };
                    (i, r)
                });
                task_items.insert(handle.id(), i);
            }
            next = set.join_next_with_id(), if !set.is_empty() => match next {
                Some(Ok((task, (i, r)))) => { task_items.remove(&task); results.insert(i, r); }
                Some(Err(e)) => {
                    if let Some(i) = task_items.remove(&e.id()) {
                        results.insert(i, Err(format!("internal error: the item's task panicked: {}", join_error_message(e))));
                    }
                }
                None => {}
            },
            changed = control.changed(), if control_open => {
                if changed.is_err() {
                    control_open = false;
                    continue;
                }
                let c = control.borrow().clone();
                match c {
                    Control::Run => {}
                    Control::Cancel(_) => { stopping = true; let _ = stop_tx.send(Interrupt::Graceful); }
                    Control::Kill(_) => { stopping = true; let _ = stop_tx.send(Interrupt::Kill); }
                }
                if stopping {
                    for (i, _) in waiting.by_ref() {
                        results.insert(i, Err("cancelled before it started".to_string()));
                    }
                }
            }
        }
    }
    if results.values().all(Result::is_ok) {
        return Ok(Value::List(results.into_values().filter_map(Result::ok).collect()));
    }
    let mut data = BTreeMap::new();
    let mut errors = BTreeMap::new();
    for (i, r) in results {
        match r {
            Ok(v) => {
                data.insert(Key::Int(i as i64), v);
            }
            Err(m) => {
                errors.insert(Key::Int(i as i64), Value::String(m));
            }
        }
    }
    Err(Value::map_from([("data", Value::Map(data)), ("errors", Value::Map(errors))]))
}
