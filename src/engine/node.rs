//! Owns the engine side of running one step outside a whole run (the `node run` pod runner):
//! the data of finished upstream steps as the resolver sees it, the start decision that `run`
//! makes for a step, and running a plugin step or a foreach with the engine's own code.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::exec::{self, Context, Interrupt};
use super::resolve::{resolve, DataView, PathStatus, Res};
use super::step::{Control, PluginOutcome, PluginTask, StepInput};
use crate::config::Config;
use crate::deployer::Plugin;
use crate::value::{Key, Value};
use crate::workflow::{Step, StepKind, Tree, Workflow};

/// How one step ended, in the engine's terms: the stages it set and a status word.
#[derive(Debug, Clone, PartialEq)]
pub struct StepRecord {
    /// stage → (output id → data), exactly what `run` puts under `$.steps.<id>`.
    pub stages: BTreeMap<String, (String, Value)>,
    pub status: String,
    pub message: Option<String>,
}

impl StepRecord {
    pub fn output(output_id: &str, data: Value) -> StepRecord {
        StepRecord {
            stages: [
                ("enabling".to_string(), ("resolved".to_string(), Value::map_from([("enabled", Value::Bool(true))]))),
                ("starting".to_string(), ("started".to_string(), Value::Map(Default::default()))),
                ("outputs".to_string(), (output_id.to_string(), data)),
            ]
            .into_iter()
            .collect(),
            status: "output".into(),
            message: None,
        }
    }

    pub fn crashed(message: String, started: bool) -> StepRecord {
        let mut stages: BTreeMap<String, (String, Value)> = BTreeMap::new();
        stages.insert("enabling".into(), ("resolved".into(), Value::map_from([("enabled", Value::Bool(true))])));
        if started {
            stages.insert("starting".into(), ("started".into(), Value::Map(Default::default())));
        }
        stages
            .insert("crashed".into(), ("error".into(), Value::map_from([("output", Value::String(message.clone()))])));
        StepRecord { stages, status: "crashed".into(), message: Some(message) }
    }
}

/// The data of a set of finished steps; steps that are absent never produced anything.
pub struct FinishedView {
    root: Value,
    records: BTreeMap<String, StepRecord>,
    context: PathBuf,
    all_steps: Vec<String>,
}

impl FinishedView {
    pub fn new(input: Value, records: BTreeMap<String, StepRecord>, context: &Path, wf: &Workflow) -> FinishedView {
        let mut steps = BTreeMap::new();
        for (id, r) in &records {
            let stages: BTreeMap<Key, Value> = r
                .stages
                .iter()
                .map(|(stage, (oid, data))| {
                    (Key::from(stage.as_str()), Value::map_from([(oid.as_str(), data.clone())]))
                })
                .collect();
            steps.insert(Key::from(id.as_str()), Value::Map(stages));
        }
        FinishedView {
            root: Value::map_from([("input", input), ("steps", Value::Map(steps))]),
            records,
            context: context.to_path_buf(),
            all_steps: wf.steps.keys().cloned().collect(),
        }
    }
}

impl DataView for FinishedView {
    fn status(&self, path: &[String]) -> PathStatus {
        match path.first().map(String::as_str) {
            Some("input") | None => PathStatus::Resolved,
            Some("steps") => {
                let Some(id) = path.get(1) else { return PathStatus::Resolved };
                if !self.all_steps.contains(id) {
                    return PathStatus::Unresolvable(format!("there is no step '{id}'"));
                }
                let Some(r) = self.records.get(id) else {
                    return PathStatus::Unresolvable(format!("step '{id}' did not run"));
                };
                let Some(stage) = path.get(2) else { return PathStatus::Resolved };
                match (r.stages.get(stage), path.get(3)) {
                    (Some(_), None) => PathStatus::Resolved,
                    (Some((have, _)), Some(want)) if have == want => PathStatus::Resolved,
                    (Some((have, _)), Some(want)) => PathStatus::Unresolvable(format!(
                        "step '{id}' ended with {stage} '{have}', not '{want}'{}",
                        r.message.as_deref().map(|m| format!(": {m}")).unwrap_or_default()
                    )),
                    (None, _) => PathStatus::Unresolvable(format!(
                        "step '{id}' {} so its '{stage}' stage has no data{}",
                        r.status,
                        r.message.as_deref().map(|m| format!(": {m}")).unwrap_or_default()
                    )),
                }
            }
            Some(other) => PathStatus::Unresolvable(format!("'$.{other}' does not exist (use $.input or $.steps)")),
        }
    }

    fn root(&self) -> &Value {
        &self.root
    }

    fn context_dir(&self) -> &Path {
        &self.context
    }
}

/// What `run` decides for a step once everything it reads has finished.
pub enum Decision {
    Disabled(StepRecord),
    /// It can never start (something it reads will not exist); nothing is recorded.
    Skipped(String),
    Crashed(StepRecord),
    Plugin {
        input: Value,
        timeout: Option<Duration>,
        closure_wait: Duration,
    },
    Foreach {
        items: Vec<Value>,
        parallelism: usize,
    },
}

/// The same checks, in the same order, as the executor's `try_start`, on finished data.
pub fn decide(wf: &Workflow, id: &str, view: &FinishedView, config: &Config) -> Decision {
    let step: &Step = &wf.steps[id];
    let enabled = match &step.enabled {
        None => Res::Ready(Value::Bool(true)),
        Some(t) => resolve(t, view),
    };
    match enabled {
        Res::Pending => return Decision::Skipped("its 'enabled' value is still pending".into()),
        Res::Unresolvable(why) => return Decision::Skipped(format!("its 'enabled' value cannot be resolved: {why}")),
        Res::Ready(Value::Bool(true)) => {}
        Res::Ready(Value::Bool(false)) => {
            // Worded as the executor words it (`Exec::disabled_message`); without the plugin's
            // schema here, a plugin step that names no `step:` keeps the short form.
            let message = match &step.kind {
                StepKind::Plugin(p) => match &p.step {
                    Some(name) => format!("Step {id}/{name} disabled"),
                    None => format!("Step {id} disabled"),
                },
                StepKind::Foreach(_) => format!("Step foreach {id} disabled"),
            };
            let stages = [
                ("enabling".to_string(), ("resolved".to_string(), Value::map_from([("enabled", Value::Bool(false))]))),
                (
                    "disabled".to_string(),
                    ("output".to_string(), Value::map_from([("message", Value::String(message.clone()))])),
                ),
            ]
            .into_iter()
            .collect();
            return Decision::Disabled(StepRecord { stages, status: "was disabled".into(), message: Some(message) });
        }
        Res::Ready(other) => {
            let msg = format!("'enabled' must be true or false, got {} ({other})", other.type_name());
            return Decision::Crashed(StepRecord::crashed(msg, false));
        }
    }
    let mut trees: Vec<(&str, &Tree)> = Vec::new();
    if let Some(t) = &step.wait_for {
        trees.push(("wait_for", t));
    }
    match &step.kind {
        StepKind::Plugin(p) => {
            trees.push(("input", &p.input));
            if let Some(t) = &step.closure_wait_timeout {
                trees.push(("closure_wait_timeout", t));
            }
        }
        StepKind::Foreach(f) => {
            trees.push(("items", &f.items));
            if let Some(t) = &f.parallelism {
                trees.push(("parallelism", t));
            }
        }
    }
    let mut values = BTreeMap::new();
    for (name, tree) in trees {
        match resolve(tree, view) {
            Res::Pending => return Decision::Skipped(format!("its {name} is still pending")),
            Res::Unresolvable(why) => return Decision::Skipped(format!("its {name} cannot be resolved: {why}")),
            Res::Ready(v) => {
                values.insert(name, v);
            }
        }
    }
    let crash = |m: String| Decision::Crashed(StepRecord::crashed(m, false));
    match &step.kind {
        StepKind::Plugin(_) => {
            let closure_wait = match values.get("closure_wait_timeout") {
                None => Duration::from_millis(super::DEFAULT_CLOSURE_WAIT_MS),
                Some(Value::Int(ms)) if *ms >= 0 => Duration::from_millis(*ms as u64),
                Some(other) => {
                    return crash(format!("closure_wait_timeout must be a number of milliseconds >= 0, got {other}"))
                }
            };
            let secs = step.timeout.or(wf.max_step_timeout).or(config.max_step_timeout);
            let timeout = secs.filter(|s| *s >= 0.0 && s.is_finite()).map(Duration::from_secs_f64);
            Decision::Plugin { input: values.remove("input").unwrap_or_default(), timeout, closure_wait }
        }
        StepKind::Foreach(_) => {
            let parallelism = match values.get("parallelism") {
                None => 1,
                Some(Value::Int(n)) if *n >= 1 => *n as usize,
                Some(other) => return crash(format!("parallelism must be an integer >= 1, got {other}")),
            };
            match values.remove("items") {
                Some(Value::List(items)) => Decision::Foreach { items, parallelism },
                Some(other) => crash(format!("items must be a list, got {}", other.type_name())),
                None => crash("items must be a list".into()),
            }
        }
    }
}

/// Runs a plugin step as `run` does: the input is validated against the step's schema first.
/// Also returns the tail of the plugin's stderr when it crashed (else empty), for the runner's
/// messages.
#[allow(clippy::too_many_arguments)]
pub async fn run_plugin(
    id: &str,
    plugin: Arc<Plugin>,
    step_name: &str,
    input: Value,
    timeout: Option<Duration>,
    closure_wait: Duration,
    cwd: &Path,
    interrupt: tokio::sync::watch::Receiver<Interrupt>,
) -> (StepRecord, String) {
    let Some(schema) = plugin.schema.steps.get(step_name) else {
        return (StepRecord::crashed(format!("the plugin has no step '{step_name}'"), false), String::new());
    };
    let input = match schema.input.validate(&input) {
        Ok(v) => v,
        Err(e) => {
            let at = if e.path.is_empty() { format!(": {}", e.message) } else { format!(" -> {e}") };
            return (StepRecord::crashed(format!("step '{id}' input{at}"), false), String::new());
        }
    };
    let task = PluginTask {
        plugin,
        step: step_name.to_string(),
        run_id: id.to_string(),
        label: format!("step {id}"),
        cwd: cwd.to_path_buf(),
        artifacts: None,
        spare_dir: Default::default(),
        // One step: a fork server would only add its own start.
        fork: false,
    };
    let (tx, rx) = tokio::sync::oneshot::channel();
    let (control_tx, control_rx) = tokio::sync::watch::channel(Control::Run);
    let forward = tokio::spawn(forward_interrupt(interrupt, control_tx));
    let _ = tx.send(StepInput { input, timeout, closure_wait });
    let (out_tx, out_rx) = tokio::sync::oneshot::channel();
    task.run(rx, control_rx, move |o| {
        let _ = out_tx.send(o);
    })
    .await;
    forward.abort();
    match out_rx.await.ok() {
        Some(PluginOutcome::Output { output_id, data, debug_logs }) => {
            if !debug_logs.is_empty() {
                crate::ui::Printer::default().raw(&debug_logs);
            }
            (StepRecord::output(&output_id, data), String::new())
        }
        Some(PluginOutcome::Crashed { message, debug_logs, stderr, .. }) => {
            if !debug_logs.is_empty() {
                crate::ui::Printer::default().raw(&debug_logs);
            }
            (StepRecord::crashed(message, true), stderr)
        }
        Some(PluginOutcome::Cancelled { reason }) => (StepRecord::crashed(reason, true), String::new()),
        None => (StepRecord::crashed("the step did not run".into(), true), String::new()),
    }
}

/// Turns an interrupt into the step's control, as `run` does for its running steps: the first
/// asks the plugin to cancel (then kills it after the closure wait), the second kills it.
async fn forward_interrupt(
    mut interrupt: tokio::sync::watch::Receiver<Interrupt>,
    control: tokio::sync::watch::Sender<Control>,
) {
    loop {
        let level = *interrupt.borrow_and_update();
        match level {
            Interrupt::None => {}
            Interrupt::Graceful => {
                let _ = control.send(Control::Cancel("interrupted".into()));
            }
            Interrupt::Kill => {
                let _ = control.send(Control::Kill("interrupted".into()));
                return;
            }
        }
        if interrupt.changed().await.is_err() {
            return;
        }
    }
}

/// Runs a foreach step's items with the engine's own loop; `plugins` holds the sub-workflow's.
#[allow(clippy::too_many_arguments)]
pub async fn run_foreach(
    id: &str,
    sub: &Workflow,
    items: Vec<Value>,
    parallelism: usize,
    plugins: std::collections::HashMap<String, Arc<Plugin>>,
    config: Arc<Config>,
    observer: Arc<dyn crate::events::Observer>,
    context: &Path,
    scratch: &Path,
    interrupt: tokio::sync::watch::Receiver<Interrupt>,
) -> StepRecord {
    let fork_server = config.python.fork_server() && sub.fork_server != Some(false);
    let ctx = Arc::new(Context {
        context_dir: context.to_path_buf(),
        plugins,
        config,
        interrupt: interrupt.clone(),
        observer,
        fork_server,
    });
    let (control_tx, control_rx) = tokio::sync::watch::channel(Control::Run);
    let forward = tokio::spawn(forward_interrupt(interrupt, control_tx));
    let dirs = exec::Dirs { scratch: scratch.join(id), artifacts: None };
    let r = exec::run_foreach(Arc::new(sub.clone()), items, parallelism, ctx, dirs, id.to_string(), control_rx).await;
    forward.abort();
    match r {
        Ok(data) => StepRecord::output("success", Value::map_from([("data", data)])),
        Err(failure) => {
            let mut stages = BTreeMap::new();
            stages.insert("enabling".into(), ("resolved".into(), Value::map_from([("enabled", Value::Bool(true))])));
            stages.insert("starting".into(), ("started".into(), Value::Map(Default::default())));
            stages.insert("failed".into(), ("error".into(), failure));
            StepRecord { stages, status: "crashed".into(), message: Some("some items failed".into()) }
        }
    }
}

/// The workflow's output from finished steps, as `run` picks it: the first output (in id order)
/// that resolves. `Err` carries why none can be produced.
pub fn pick_output(wf: &Workflow, view: &FinishedView) -> Result<(String, Value, bool), String> {
    let mut reasons = Vec::new();
    for (oid, tree) in &wf.outputs {
        match resolve(tree, view) {
            Res::Ready(data) => {
                if !matches!(data, Value::Map(_)) {
                    return Err(format!("output '{oid}' must be an object (a map), got {}", data.type_name()));
                }
                if let Some(Some(schema)) = wf.output_schema.get(oid).map(|d| d.schema.as_ref()) {
                    if let Err(e) = schema.validate(&data) {
                        return Err(format!("output '{oid}' does not match its outputSchema: {e}"));
                    }
                }
                return Ok((oid.clone(), data, wf.is_error_output(oid)));
            }
            Res::Pending => reasons.push(format!("output '{oid}': still pending")),
            Res::Unresolvable(why) => reasons.push(format!("output '{oid}': {why}")),
        }
    }
    Err(format!("no output can be produced: {}", reasons.join("; ")))
}
