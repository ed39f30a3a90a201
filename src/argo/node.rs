//! Owns the in-pod runner (`arcaflow-py node run|outputs|run-all`) and its contract, which
//! manifests rely on for as long as they live (README "The node runner contract"):
//!
//! - in: `--plan FILE` (the plan JSON), `--input FILE` (the workflow input, wire JSON),
//!   `--params-file FILE` (Argo's `{{inputs.parameters}}`: `[{name, value}]`), `--out DIR`;
//! - out: `DIR/output_id` and `DIR/result.json` (`node run`), or `DIR/output_id` and
//!   `DIR/document.yaml` (`node outputs`, `node run-all`), written whatever happens;
//! - exit codes: see [`exit`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::plan::{self, Plan};
use crate::config::Config;
use crate::deployer::Deployer;
use crate::engine::node::{self as en, Decision, FinishedView, StepRecord};
use crate::engine::{self, ExecError, Interrupt};
use crate::error::{Error, Result};
use crate::value::Value;
use crate::workdir::Workdir;
use crate::workflow::{StepKind, Workflow};

/// The runner's exit codes (part of the contract: retry policies and `when` rely on them).
pub mod exit {
    /// A declared output was produced (success or error), or the step was disabled or skipped.
    pub const OK: i32 = 0;
    /// The plan, parameters or input files are invalid (never retried).
    pub const INVALID: i32 = 1;
    /// `node outputs`/`run-all`: the workflow ended on an error output.
    pub const ERROR_OUTPUT: i32 = 2;
    /// `node outputs`/`run-all`: no output could be produced.
    pub const NO_OUTPUT: i32 = 3;
    /// The plugin crashed, its input was invalid for it, or foreach items failed.
    pub const CRASHED: i32 = 70;
    /// The plugin could not be deployed (git, pip, uv): the default retry policy retries this.
    pub const DEPLOY_FAILED: i32 = 75;
    /// The step ran past its timeout.
    pub const TIMED_OUT: i32 = 124;
}

/// The `output_id` a step pod reports besides its plugin's own output ids.
pub mod ids {
    pub const DISABLED: &str = "__disabled__";
    pub const SKIPPED: &str = "__skipped__";
    pub const CRASHED: &str = "__crashed__";
    pub const FAILED: &str = "__failed__";
    pub const DEPLOY_FAILED: &str = "__deploy_failed__";
    pub const INVALID: &str = "__invalid__";
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Run,
    /// Decide every input-only `enabled` (writes `DIR/enabled-<task>`: `true` or `false`).
    Plan,
    Outputs,
    RunAll,
}

#[derive(Debug, Clone)]
pub struct Files {
    pub plan: PathBuf,
    pub input: PathBuf,
    pub out: PathBuf,
    pub params_file: PathBuf,
    /// Where the Kubernetes Secrets of `--secret-input` are mounted.
    pub secrets: Option<PathBuf>,
}

/// Runs one verb and returns the exit code; the output files exist whatever happened.
pub async fn main(verb: Verb, files: &Files, verbosity: i8) -> i32 {
    if let Err(e) = std::fs::create_dir_all(&files.out) {
        crate::ui::Printer::default().error(&format!("cannot create {}: {e}", files.out.display()));
        return exit::INVALID;
    }
    let scratch = match tempfile::Builder::new().prefix("arcaflow-node-").tempdir() {
        Ok(d) => d,
        Err(e) => {
            crate::ui::Printer::default().error(&format!("cannot create a temporary directory: {e}"));
            return exit::INVALID;
        }
    };
    let prepared = match prepare(files, scratch.path(), verbosity) {
        Ok(p) => p,
        Err((code, message)) => {
            crate::ui::Printer::default().error(&message);
            write_failure(verb, &files.out, ids::INVALID, &message);
            return code_for(verb, code);
        }
    };
    match verb {
        Verb::Run => run_step(prepared, files, scratch.path()).await,
        Verb::Plan => plan_enabled(prepared, files),
        Verb::Outputs => outputs(prepared, files),
        Verb::RunAll => run_all(prepared, files, scratch.path()).await,
    }
}

/// Invalid input means a failed run (exit 3) for the verbs that stand for the whole run, as in `run`.
fn code_for(verb: Verb, code: i32) -> i32 {
    match (verb, code) {
        (Verb::Outputs | Verb::RunAll, c) if c == INPUT_INVALID => exit::NO_OUTPUT,
        (_, INPUT_INVALID) => exit::INVALID,
        (_, c) => c,
    }
}

const INPUT_INVALID: i32 = -3;

struct Prepared {
    wf: Workflow,
    context: PathBuf,
    config: Config,
    input: Value,
    params: BTreeMap<String, String>,
    plan: Plan,
    workdir: Option<PathBuf>,
}

fn prepare(files: &Files, scratch: &Path, verbosity: i8) -> std::result::Result<Prepared, (i32, String)> {
    let invalid = |m: String| (exit::INVALID, m);
    let read = |p: &Path| std::fs::read_to_string(p).map_err(|e| invalid(format!("cannot read {}: {e}", p.display())));
    let plan_text = read(&files.plan)?;
    let params_text = read(&files.params_file)?;
    let list: Vec<serde_json::Value> = serde_json::from_str(&params_text)
        .map_err(|e| invalid(format!("{}: the parameters are not a JSON list: {e}", files.params_file.display())))?;
    let mut params = BTreeMap::new();
    for p in list {
        let name = p.get("name").and_then(serde_json::Value::as_str).unwrap_or_default().to_string();
        let value = p.get("value").and_then(serde_json::Value::as_str).unwrap_or_default().to_string();
        params.insert(name, value);
    }
    let input_text = read(&files.input)?;
    let request = StepRequest {
        plan: Sourced { text: plan_text, origin: files.plan.clone() },
        input: Sourced { text: input_text, origin: files.input.clone() },
        params,
        secrets: files.secrets.clone(),
        workdir: None,
    };
    prepare_request(&request, scratch, verbosity)
}

/// A text and where it came from (a file, or the executor plugin's request), for messages.
#[derive(Debug, Clone)]
pub struct Sourced {
    pub text: String,
    pub origin: PathBuf,
}

/// Everything one step's execution reads: what the pod gets as files, or the executor plugin
/// gets in its request body.
#[derive(Debug, Clone)]
pub struct StepRequest {
    pub plan: Sourced,
    pub input: Sourced,
    /// `step` and `upstream` (Argo's input parameters of the step's template).
    pub params: BTreeMap<String, String>,
    /// Where the Kubernetes Secrets of `--secret-input` are mounted.
    pub secrets: Option<PathBuf>,
    /// The cache directory, over the plan config's (the executor plugin's `--workdir`).
    pub workdir: Option<PathBuf>,
}

/// How one step ended: what `node run` writes to its files (and exits with), and what the
/// executor plugin answers.
#[derive(Debug, Clone, PartialEq)]
pub struct StepResult {
    pub output_id: String,
    /// The wire JSON of the step's record (`result.json`), `None` when the step did not run.
    pub result: Option<String>,
    /// The runner's exit code ([`exit`]).
    pub code: i32,
    /// Why the step failed, for a non-zero code.
    pub message: Option<String>,
}

impl StepResult {
    fn invalid(message: &str) -> StepResult {
        let r = StepRecord { stages: BTreeMap::new(), status: "could not run".into(), message: Some(message.into()) };
        StepResult {
            output_id: ids::INVALID.into(),
            result: Some(record_json(&r)),
            code: exit::INVALID,
            message: Some(message.into()),
        }
    }
}

/// Runs one step as `node run` does, from texts instead of files: the executor plugin's way in.
/// `interrupt` cancels (then kills) the step's plugin as it does in `run`.
pub async fn execute_request(
    request: &StepRequest,
    verbosity: i8,
    interrupt: tokio::sync::watch::Receiver<Interrupt>,
) -> StepResult {
    let scratch = match tempfile::Builder::new().prefix("arcaflow-node-").tempdir() {
        Ok(d) => d,
        Err(e) => return StepResult::invalid(&format!("cannot create a temporary directory: {e}")),
    };
    match prepare_request(request, scratch.path(), verbosity) {
        Ok(p) => execute_step(&p, scratch.path(), interrupt).await,
        Err((_, message)) => StepResult::invalid(&message),
    }
}

fn prepare_request(
    request: &StepRequest,
    scratch: &Path,
    verbosity: i8,
) -> std::result::Result<Prepared, (i32, String)> {
    let invalid = |m: String| (exit::INVALID, m);
    let plan = Plan::parse(&request.plan.text, &request.plan.origin).map_err(|e| invalid(e.to_string()))?;
    let params = request.params.clone();
    let config = Config::parse(&plan.config).map_err(|e| invalid(format!("the plan's config is invalid: {e}")))?;
    crate::ui::logging::init(verbosity, config.log.level);
    let context = scratch.join("context");
    let wf_path = plan.materialize(&context).map_err(|e| invalid(e.to_string()))?;
    let mut wf = Workflow::load(&wf_path, &context).map_err(|e| invalid(e.to_string()))?;
    pin(&mut wf, &plan.plugins).map_err(invalid)?;
    let input_text = &request.input.text;
    let json: serde_json::Value = serde_json::from_str(if input_text.trim().is_empty() { "{}" } else { input_text })
        .map_err(|e| invalid(format!("{}: the input is not JSON: {e}", request.input.origin.display())))?;
    let mut raw = plan::from_wire(&json);
    for (field, rel) in &plan.secret_inputs {
        let Some(dir) = &request.secrets else {
            return Err(invalid(format!(
                "input field '{field}' comes from a Secret, but no --secrets directory was given"
            )));
        };
        let file = dir.join(rel);
        let secret = std::fs::read_to_string(&file).map_err(|e| {
            invalid(format!("cannot read the secret for input field '{field}' at {}: {e}", file.display()))
        })?;
        if let Value::Map(m) = &mut raw {
            m.insert(field.as_str().into(), Value::String(secret));
        }
    }
    let input = wf.input.validate(&raw).map_err(|e| (INPUT_INVALID, format!("the workflow input is invalid: {e}")))?;
    Ok(Prepared { wf, context, config, input, params, plan, workdir: request.workdir.clone() })
}

/// Replaces every plugin `src` with the spec pinned at export time.
fn pin(wf: &mut Workflow, pins: &BTreeMap<String, String>) -> std::result::Result<(), String> {
    for step in wf.steps.values_mut() {
        match &mut step.kind {
            StepKind::Plugin(p) => {
                p.src =
                    pins.get(&p.src).cloned().ok_or_else(|| format!("the plan pins no spec for plugin '{}'", p.src))?;
            }
            StepKind::Foreach(f) => pin(Arc::make_mut(&mut f.workflow), pins)?,
        }
    }
    Ok(())
}

fn deployer(config: &Config, context: &Path, workdir: Option<&Path>) -> Result<Arc<Deployer>> {
    let root = Workdir::locate(workdir, config.python.workdir.as_deref(), context, context)?;
    let workdir = Workdir::open(root)?;
    let observers = Arc::new(crate::cli::invocation::shown_observers());
    Ok(Arc::new(Deployer::new(workdir, config.python.clone(), config.python.module_pull_policy, observers)))
}

async fn run_step(p: Prepared, files: &Files, scratch: &Path) -> i32 {
    // The pod is its own process: Argo's SIGTERM ends it, so nothing here cancels the step.
    let (_never, interrupt) = tokio::sync::watch::channel(Interrupt::None);
    let r = execute_step(&p, scratch, interrupt).await;
    let ok = std::fs::write(files.out.join("output_id"), &r.output_id)
        .and_then(|_| std::fs::write(files.out.join("result.json"), r.result.as_deref().unwrap_or("null")));
    if let Err(e) = ok {
        crate::ui::Printer::default().error(&format!("cannot write the step's result to {}: {e}", files.out.display()));
        return exit::INVALID;
    }
    r.code
}

/// Runs the step that `p.params` name, with the engine's own code: the start decision, deploy
/// (cached and locked), input validation, the plugin over ATP with its timeout. Shared by the
/// pod runner (`node run`) and the executor plugin (`serve-plugin`).
async fn execute_step(p: &Prepared, scratch: &Path, interrupt: tokio::sync::watch::Receiver<Interrupt>) -> StepResult {
    let done_with = |output_id: &str, record: Option<&StepRecord>, code: i32, stderr: &str| StepResult {
        output_id: output_id.to_string(),
        result: record.map(record_json),
        code,
        message: if code == exit::OK {
            None
        } else {
            record.and_then(|r| r.message.clone()).map(|m| with_stderr(m, stderr))
        },
    };
    let done = |output_id: &str, record: Option<&StepRecord>, code: i32| done_with(output_id, record, code, "");
    let invalid = |message: &str| {
        crate::ui::Printer::default().error(message);
        StepResult::invalid(message)
    };
    let Some(id) = p.params.get("step").cloned() else {
        return invalid("the parameters name no 'step'");
    };
    if !p.wf.steps.contains_key(&id) {
        return invalid(&format!("the workflow has no step '{id}'"));
    }
    let upstream = match parse_upstream(p.params.get("upstream").map(String::as_str).unwrap_or("{}")) {
        Ok(u) => with_plan_disabled(p, u),
        Err(m) => return invalid(&m),
    };
    let view = FinishedView::new(p.input.clone(), upstream, &p.context, &p.wf);
    let config = Arc::new(p.config.clone());
    let decision = en::decide(&p.wf, &id, &view, &config);
    let deploy_failed = |e: Error| {
        crate::ui::Printer::default().error(&format!("step {id}: {e}"));
        let r = StepRecord::crashed(e.to_string(), false);
        done(ids::DEPLOY_FAILED, Some(&r), exit::DEPLOY_FAILED)
    };
    let (record, stderr) = match decision {
        Decision::Skipped(why) => {
            crate::ui::Printer::default().notice(&format!("step {id}: not run: {why}"));
            return done(ids::SKIPPED, None, exit::OK);
        }
        Decision::Disabled(r) => return done(ids::DISABLED, Some(&r), exit::OK),
        Decision::Crashed(r) => (r, String::new()),
        Decision::Plugin { input, timeout, closure_wait } => {
            let StepKind::Plugin(ps) = &p.wf.steps[&id].kind else { return invalid("not a plugin step") };
            let plugins = match deploy(p, &id).await {
                Ok(pl) => pl,
                Err(e) => return deploy_failed(e),
            };
            let Some(plugin) = plugins.get(&crate::plan::plugin_key(ps)).cloned() else {
                return invalid("the step's plugin was not deployed");
            };
            let name = engine::step_name(ps, &plugin);
            en::run_plugin(&id, plugin, &name, input, timeout, closure_wait, &scratch.join("work"), interrupt).await
        }
        Decision::Foreach { items, parallelism } => {
            let StepKind::Foreach(f) = &p.wf.steps[&id].kind else { return invalid("not a foreach step") };
            let plugins = match deploy(p, &id).await {
                Ok(pl) => pl,
                Err(e) => return deploy_failed(e),
            };
            let record = en::run_foreach(
                &id,
                &f.workflow,
                items,
                parallelism,
                plugins,
                config.clone(),
                Arc::new(crate::cli::invocation::shown_observers()),
                &p.context,
                &scratch.join("work"),
                interrupt,
            )
            .await;
            (record, String::new())
        }
    };
    let (oid, code) = if let Some((o, _)) = record.stages.get("outputs") {
        (o.clone(), exit::OK)
    } else if record.stages.contains_key("failed") {
        (ids::FAILED.to_string(), exit::CRASHED)
    } else if record.message.as_deref().is_some_and(|m| m.starts_with("timed out after")) {
        (ids::CRASHED.to_string(), exit::TIMED_OUT)
    } else {
        (ids::CRASHED.to_string(), exit::CRASHED)
    };
    let text = record_json(&record);
    if text.len() as u64 > p.plan.inline_max {
        let message = format!(
            "step '{id}' produced {} bytes of output data, over the inline budget of {} bytes that Argo parameters carry; re-export with a larger --inline-max (Argo keeps parameters in etcd, which holds about 1 MiB per workflow)",
            text.len(),
            p.plan.inline_max
        );
        crate::ui::Printer::default().error(&message);
        let r = StepRecord::crashed(message, true);
        return done(ids::CRASHED, Some(&r), exit::CRASHED);
    }
    let result = done_with(&oid, Some(&record), code, &stderr);
    if let Some(m) = &result.message {
        crate::ui::Printer::default().notice(&format!("step {id}: {m}"));
    }
    result
}

/// A crash message with the plugin's last stderr lines, unless it carries them already.
fn with_stderr(message: String, stderr: &str) -> String {
    const MARK: &str = "plugin stderr (last lines):";
    let tail = stderr.trim();
    if tail.is_empty() || message.contains(MARK) {
        return message;
    }
    let lines: Vec<&str> = tail.lines().collect();
    let shown = lines[lines.len().saturating_sub(20)..].iter().map(|l| format!("  | {l}")).collect::<Vec<_>>();
    format!("{message}\n{MARK}\n{}", shown.join("\n"))
}

/// Deploys only what step `id` runs: its plugin, or every plugin of its foreach sub-workflow.
async fn deploy(p: &Prepared, id: &str) -> Result<std::collections::HashMap<String, Arc<crate::deployer::Plugin>>> {
    let deployer = deployer(&p.config, &p.context, p.workdir.as_deref())?;
    let all = crate::plan::module_specs(&p.wf, &p.config, &p.context)?;
    let wanted: Vec<String> = match &p.wf.steps[id].kind {
        StepKind::Plugin(ps) => vec![crate::plan::plugin_key(ps)],
        StepKind::Foreach(f) => {
            crate::plan::plugin_steps(&f.workflow).into_iter().map(|(_, ps)| crate::plan::plugin_key(ps)).collect()
        }
    };
    let specs = all.into_iter().filter(|(k, _)| wanted.contains(k)).collect();
    engine::deploy_all(deployer, specs).await
}

/// Steps the plan task disabled never ran a pod (Argo shows them Skipped); their `disabled`
/// data is made here, from the input, by the same decision the engine makes.
fn with_plan_disabled(p: &Prepared, mut records: BTreeMap<String, StepRecord>) -> BTreeMap<String, StepRecord> {
    let empty = FinishedView::new(p.input.clone(), BTreeMap::new(), &p.context, &p.wf);
    for id in super::export::input_gated(&p.wf) {
        if records.contains_key(&id) {
            continue;
        }
        if let Decision::Disabled(r) = en::decide(&p.wf, &id, &empty, &p.config) {
            records.insert(id, r);
        }
    }
    records
}

/// `node plan`: one file per input-gated step, `true` unless its `enabled` is false.
fn plan_enabled(p: Prepared, files: &Files) -> i32 {
    let empty = FinishedView::new(p.input.clone(), BTreeMap::new(), &p.context, &p.wf);
    for id in super::export::input_gated(&p.wf) {
        let enabled = !matches!(en::decide(&p.wf, &id, &empty, &p.config), Decision::Disabled(_));
        let file = files.out.join(format!("enabled-{}", super::names::task_name(&id)));
        if let Err(e) = std::fs::write(&file, if enabled { "true" } else { "false" }) {
            crate::ui::Printer::default().error(&format!("cannot write {}: {e}", file.display()));
            return exit::INVALID;
        }
    }
    exit::OK
}

fn parse_upstream(text: &str) -> std::result::Result<BTreeMap<String, StepRecord>, String> {
    let j: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("the 'upstream' parameter is not JSON: {e}"))?;
    let m = j.as_object().ok_or("the 'upstream' parameter must be a JSON object")?;
    let mut out = BTreeMap::new();
    for (id, r) in m {
        if r.is_null() {
            continue;
        }
        let stages_j =
            r.get("stages").and_then(serde_json::Value::as_object).ok_or(format!("upstream '{id}' has no stages"))?;
        let mut stages = BTreeMap::new();
        for (stage, entry) in stages_j {
            if let Some((oid, data)) = entry.as_object().and_then(|o| o.iter().next()) {
                stages.insert(stage.clone(), (oid.clone(), plan::from_wire(data)));
            }
        }
        let status = r.get("status").and_then(serde_json::Value::as_str).unwrap_or("ended").to_string();
        let message = r.get("message").and_then(serde_json::Value::as_str).map(str::to_string);
        out.insert(id.clone(), StepRecord { stages, status, message });
    }
    Ok(out)
}

fn record_json(r: &StepRecord) -> String {
    let stages: serde_json::Map<String, serde_json::Value> = r
        .stages
        .iter()
        .map(|(stage, (oid, data))| (stage.clone(), serde_json::json!({ oid.clone(): plan::to_wire(data) })))
        .collect();
    let j = serde_json::json!({"stages": stages, "status": r.status, "message": r.message});
    serde_json::to_string(&super::model::sorted(j)).unwrap_or_else(|_| "null".into())
}

fn write_failure(verb: Verb, out: &Path, output_id: &str, message: &str) {
    let _ = std::fs::write(out.join("output_id"), output_id);
    match verb {
        Verb::Run => {
            let r =
                StepRecord { stages: BTreeMap::new(), status: "could not run".into(), message: Some(message.into()) };
            let _ = std::fs::write(out.join("result.json"), record_json(&r));
        }
        Verb::Outputs | Verb::RunAll => {
            let _ = std::fs::write(out.join("document.yaml"), "");
        }
        // Without its files every gated step defaults to running, and decides in its own pod.
        Verb::Plan => {}
    }
}

fn write_document(out: &Path, output_id: &str, data: &Value) -> std::io::Result<()> {
    let doc = crate::ui::output::render(&crate::ui::output::document(output_id, data), crate::ui::output::Format::Yaml);
    std::fs::write(out.join("output_id"), output_id)?;
    std::fs::write(out.join("document.yaml"), doc)
}

fn outputs(p: Prepared, files: &Files) -> i32 {
    let upstream = match parse_upstream(p.params.get("upstream").map(String::as_str).unwrap_or("{}")) {
        Ok(u) => with_plan_disabled(&p, u),
        Err(m) => {
            crate::ui::Printer::default().error(&m);
            write_failure(Verb::Outputs, &files.out, ids::INVALID, &m);
            return exit::INVALID;
        }
    };
    let view = FinishedView::new(p.input.clone(), upstream, &p.context, &p.wf);
    finish_document(en::pick_output(&p.wf, &view), &files.out)
}

fn finish_document(picked: std::result::Result<(String, Value, bool), String>, out: &Path) -> i32 {
    match picked {
        Ok((oid, data, is_error)) => {
            if let Err(e) = write_document(out, &oid, &data) {
                crate::ui::Printer::default().error(&format!("cannot write the document: {e}"));
                return exit::INVALID;
            }
            if is_error {
                exit::ERROR_OUTPUT
            } else {
                exit::OK
            }
        }
        Err(message) => {
            crate::ui::Printer::default().error(&format!("workflow execution failed: {message}"));
            write_failure(Verb::Outputs, out, "", &message);
            exit::NO_OUTPUT
        }
    }
}

/// The fused mode: the whole workflow in this pod, exactly as `arcaflow-py run`.
async fn run_all(p: Prepared, files: &Files, scratch: &Path) -> i32 {
    let loaded = async {
        let deployer = deployer(&p.config, &p.context, p.workdir.as_deref())?;
        let specs = crate::plan::module_specs(&p.wf, &p.config, &p.context)?;
        let plugins = engine::deploy_all(deployer, specs).await?;
        Ok::<_, Error>(engine::Loaded { workflow: p.wf.clone(), context: p.context.clone(), plugins })
    }
    .await;
    let loaded = match loaded {
        Ok(l) => l,
        Err(e) => {
            crate::ui::Printer::default().error(&e.to_string());
            write_failure(Verb::RunAll, &files.out, ids::DEPLOY_FAILED, &e.to_string());
            return exit::DEPLOY_FAILED;
        }
    };
    let (_tx, rx) = tokio::sync::watch::channel(Interrupt::None);
    let settings = engine::RunSettings {
        scratch: scratch.join("run"),
        artifacts: None,
        config: Arc::new(p.config.clone()),
        interrupt: rx,
        observer: Arc::new(crate::cli::invocation::shown_observers()),
        resume: Default::default(),
    };
    match engine::execute(&loaded, p.input.clone(), settings).await {
        Ok(r) => finish_document(Ok((r.output_id, r.output_data, r.is_error)), &files.out),
        Err(ExecError::Failed { message, .. }) => finish_document(Err(message), &files.out),
        Err(ExecError::Interrupted { .. }) => finish_document(Err("interrupted".into()), &files.out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_crash_message_gets_the_stderr_tail_once() {
        let m = with_stderr("timed out after 1 s".into(), "a\nb\n");
        assert_eq!(m, "timed out after 1 s\nplugin stderr (last lines):\n  | a\n  | b");
        assert_eq!(with_stderr(m.clone(), "a\nb\n"), m);
        assert_eq!(with_stderr("x".into(), "  \n"), "x");
    }
}
