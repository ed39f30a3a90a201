//! Owns a run from files to result: loading and statically checking the workflow, deploying its
//! plugins, validating the input, executing the DAG, and what the run returns.

mod artifacts;
mod check;
mod exec;
mod namespaces;
pub mod node;
mod precheck;
pub mod resolve;
mod step;
mod typecheck;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::config::Config;
use crate::deployer::spec::ModuleSpec;
use crate::deployer::{Deployer, Plugin};
use crate::error::{Error, Result};
use crate::value::Value;
use crate::workflow::{InlineSource, PluginStep, Workflow};

pub use exec::{ExecError, Interrupt, Resume, RunResult, StepReport, StepStatus};

/// Grace a plugin gets after CLIENT_DONE before its process group is killed.
pub const EXIT_GRACE: Duration = Duration::from_millis(300);
/// `closure_wait_timeout` default (ms): how long a cancelled step may take to answer.
pub const DEFAULT_CLOSURE_WAIT_MS: u64 = 5000;

/// A workflow with every plugin deployed and every static check passed.
pub struct Loaded {
    pub workflow: Workflow,
    pub context: PathBuf,
    /// Plugins by [`crate::plan::plugin_key`]; several steps may share one.
    pub plugins: HashMap<String, Arc<Plugin>>,
}

/// The plugin step a workflow step runs: its `step`, or the plugin's only step.
pub(crate) fn step_name(p: &PluginStep, plugin: &Plugin) -> String {
    p.step.clone().unwrap_or_else(|| plugin.schema.steps.keys().next().cloned().unwrap_or_default())
}

/// Deploys every distinct plugin in parallel (builds are I/O and subprocess bound).
pub async fn deploy_all(
    deployer: Arc<Deployer>,
    specs: BTreeMap<String, ModuleSpec>,
) -> Result<HashMap<String, Arc<Plugin>>> {
    deploy_with_inline(deployer, specs, BTreeMap::new()).await
}

/// [`deploy_all`], plus the inline Python steps (`kind: python`) by plugin key, with the id of
/// one step that uses each (for messages).
async fn deploy_with_inline(
    deployer: Arc<Deployer>,
    specs: BTreeMap<String, ModuleSpec>,
    inline: BTreeMap<String, (String, Arc<InlineSource>)>,
) -> Result<HashMap<String, Arc<Plugin>>> {
    let rt = tokio::runtime::Handle::current();
    // Shared with other runs, exclusive for `cache prune/clean`: nothing is removed while we
    // resolve, build and mark our builds in use.
    let lock_path = deployer.workdir().cache_lock();
    let _cache_lock = tokio::task::spawn_blocking(move || crate::workdir::lock_shared(&lock_path))
        .await
        .map_err(|e| Error::Cache(format!("cannot lock the cache: {e}")))??;
    let mut tasks = Vec::new();
    for (key, spec) in specs {
        let d = deployer.clone();
        let rt = rt.clone();
        tasks.push(tokio::task::spawn_blocking(move || (key, d.prepare(&spec, &rt))));
    }
    for (key, (id, source)) in inline {
        let d = deployer.clone();
        tasks.push(tokio::task::spawn_blocking(move || (key, d.prepare_inline(&id, &source))));
    }
    let mut plugins = HashMap::new();
    let mut first_err = None;
    for t in tasks {
        match t.await {
            Ok((key, Ok(p))) => {
                plugins.insert(key, Arc::new(p));
            }
            Ok((_, Err(e))) => {
                first_err.get_or_insert(e);
            }
            Err(e) => {
                first_err.get_or_insert(Error::Run(format!("a deploy task failed: {e}")));
            }
        }
    }
    match first_err {
        Some(e) => Err(e),
        None => Ok(plugins),
    }
}

pub async fn load(workflow_path: &Path, context: &Path, config: &Config, deployer: Arc<Deployer>) -> Result<Loaded> {
    let mut workflow = Workflow::load(workflow_path, context)?;
    let specs = crate::plan::module_specs(&workflow, config, context)?;
    let inline = crate::plan::plugin_steps(&workflow)
        .into_iter()
        .filter_map(|(id, p)| p.inline.clone().map(|i| (crate::plan::plugin_key(p), (id, i))))
        .collect();
    let plugins = deploy_with_inline(deployer, specs, inline).await?;
    namespaces::resolve_workflow(&mut workflow, &plugins)?;
    check::memoized(|| {
        check::check_workflow(&workflow, &plugins)
            .and_then(|()| precheck::check_step_inputs(&workflow, &plugins, precheck::Known::Literals, context))
    })
    .map_err(|message| Error::Workflow { path: workflow.path.clone(), message })?;
    Ok(Loaded { workflow, context: context.to_path_buf(), plugins })
}

/// Checks the step inputs computed from the (validated) workflow input before any step starts;
/// a value that breaks a plugin's schema is an invalid input (exit 3), naming step and field.
pub fn check_step_inputs(loaded: &Loaded, input: &Value, input_path: Option<&Path>) -> Result<()> {
    precheck::check_step_inputs(&loaded.workflow, &loaded.plugins, precheck::Known::Input(input), &loaded.context)
        .map_err(|message| Error::Input {
            path: input_path.map(Path::to_path_buf).unwrap_or_default(),
            message: format!("{message} (the value comes from the workflow input)"),
        })
}

/// Reads and validates the workflow input; a bad input is a failed run (exit 3), as in the reference.
pub fn read_input(path: Option<&Path>, wf: &Workflow) -> Result<Value> {
    let raw = match path {
        None => Value::Map(Default::default()),
        Some(p) => {
            let err = |message: String| Error::Input { path: p.to_path_buf(), message };
            let text = crate::limits::read_text(p).map_err(err)?;
            if text.trim().is_empty() {
                return Err(err("the file is empty".into()));
            }
            let y = crate::yaml::parse_text(&text).map_err(|e| err(e.to_string()))?;
            Value::from_yaml(&y)
        }
    };
    wf.input
        .validate(&raw)
        .map_err(|e| Error::Input { path: path.map(Path::to_path_buf).unwrap_or_default(), message: e.to_string() })
}

pub struct RunSettings {
    pub scratch: PathBuf,
    /// Where the run's steps keep their artifacts (`<workdir>/artifacts/<run-id>`); `None`: the
    /// front-end keeps none (steps that declare artifacts then get no directory).
    pub artifacts: Option<PathBuf>,
    pub config: Arc<Config>,
    pub interrupt: tokio::sync::watch::Receiver<Interrupt>,
    pub observer: Arc<dyn crate::events::Observer>,
    pub resume: Resume,
}

pub async fn execute(
    loaded: &Loaded,
    input: Value,
    settings: RunSettings,
) -> std::result::Result<RunResult, ExecError> {
    let ctx = Arc::new(exec::Context {
        context_dir: loaded.context.clone(),
        plugins: loaded.plugins.clone(),
        config: settings.config.clone(),
        interrupt: settings.interrupt,
        observer: settings.observer,
        fork_server: settings.config.python.fork_server() && loaded.workflow.fork_server != Some(false),
    });
    let dirs = exec::Dirs { scratch: settings.scratch, artifacts: settings.artifacts };
    let result = exec::execute_top(Arc::new(loaded.workflow.clone()), input, ctx, dirs, settings.resume).await;
    // Every step was reaped: the fork servers go now, not when the process exits.
    let plugins: Vec<Arc<Plugin>> = loaded.plugins.values().cloned().collect();
    let _ = tokio::task::spawn_blocking(move || plugins.iter().for_each(|p| p.fork_server.shutdown())).await;
    result
}

/// What running one plugin step on its own produced (`arcaflow-py plugin run`).
pub enum SingleOutcome {
    Output { output_id: String, data: Value, debug_logs: String, is_error: bool },
    Failed(String),
}

/// Runs one step of a deployed plugin with `input`, like the reference engine's run-plugin.
pub async fn run_single(
    plugin: Arc<Plugin>,
    step: &str,
    input: &Value,
    scratch: &Path,
    timeout: Option<Duration>,
    mut interrupt: tokio::sync::watch::Receiver<Interrupt>,
) -> Result<SingleOutcome> {
    let Some(schema) = plugin.schema.steps.get(step) else {
        let names: Vec<&str> = plugin.schema.steps.keys().map(String::as_str).collect();
        return Err(Error::Usage(format!(
            "the plugin {} has no step '{step}' (it has: {})",
            plugin.spec,
            names.join(", ")
        )));
    };
    let input = schema.input.validate(input).map_err(|e| Error::Input {
        path: PathBuf::from("(step input)"),
        message: format!(
            "step '{step}' input{}",
            if e.path.is_empty() { format!(": {}", e.message) } else { format!(" -> {e}") }
        ),
    })?;
    let is_error_output = |id: &str| id == "error" || schema.outputs.get(id).is_some_and(|o| o.error);
    let task = step::PluginTask {
        plugin: plugin.clone(),
        step: step.to_string(),
        run_id: step.to_string(),
        label: format!("step {step}"),
        cwd: scratch.to_path_buf(),
        artifacts: None,
        spare_dir: Default::default(),
        // One step: a fork server would only add its own start.
        fork: false,
    };
    let (tx, rx) = tokio::sync::oneshot::channel();
    let (control_tx, control_rx) = tokio::sync::watch::channel(step::Control::Run);
    // Ctrl-C cancels the step as in a workflow run (a second one kills it).
    let forward = tokio::spawn(async move {
        while interrupt.changed().await.is_ok() {
            let control = match *interrupt.borrow() {
                Interrupt::None => continue,
                Interrupt::Graceful => step::Control::Cancel("interrupted".into()),
                Interrupt::Kill => step::Control::Kill("interrupted".into()),
            };
            if control_tx.send(control).is_err() {
                break;
            }
        }
    });
    let _ = tx.send(step::StepInput { input, timeout, closure_wait: Duration::from_millis(DEFAULT_CLOSURE_WAIT_MS) });
    let (out_tx, out_rx) = tokio::sync::oneshot::channel();
    task.run(rx, control_rx, move |o| {
        let _ = out_tx.send(o);
    })
    .await;
    forward.abort();
    Ok(match out_rx.await.ok() {
        Some(step::PluginOutcome::Output { output_id, data, debug_logs }) => {
            let is_error = is_error_output(&output_id);
            SingleOutcome::Output { output_id, data, debug_logs, is_error }
        }
        Some(step::PluginOutcome::Crashed { message, .. }) => SingleOutcome::Failed(message),
        Some(step::PluginOutcome::Cancelled { reason }) => SingleOutcome::Failed(reason),
        None => SingleOutcome::Failed("the step did not run".into()),
    })
}

#[cfg(test)]
mod cancel_tests;
