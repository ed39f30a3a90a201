//! Owns `plugin schema` and `plugin run`: deploy one plugin from its spec, then print its schema
//! or run one of its steps on an input file (in a run session, like a workflow's steps).

use crate::cli::invocation::Invocation;
use crate::cli::PluginCommand;
use crate::deployer::spec::ModuleSpec;
use crate::deployer::Plugin;
use crate::engine;
use crate::error::{exit, Error, Result};
use crate::session::RunSession;
use crate::ui::output::{self, Format};

pub(crate) async fn plugin(inv: &Invocation, cmd: PluginCommand) -> Result<i32> {
    let (spec, common) = match &cmd {
        PluginCommand::Schema { spec, common, .. } | PluginCommand::Run { spec, common, .. } => (spec, common),
    };
    let context = common.context.as_deref().map(|c| inv.in_cwd(c)).unwrap_or(inv.cwd().to_path_buf());
    let config = common.config.as_deref().map(|p| inv.in_cwd(p));
    let settled = inv.settle(config.as_deref(), context, common.workdir.as_deref())?;
    let deployer = settled.deployer(common.pull_policy)?;
    let module = ModuleSpec::parse(spec, &settled.context)?;
    let plugins = engine::deploy_all(deployer.clone(), [("spec".to_string(), module)].into_iter().collect()).await?;
    let Some(plugin) = plugins.into_values().next() else {
        return Err(Error::Run("the plugin was not deployed".into()));
    };

    match cmd {
        PluginCommand::Schema { step, json, .. } => {
            let doc = match &step {
                None => plugin.schema_value.clone(),
                Some(s) => plugin.schema_value.get("steps").and_then(|st| st.get(s)).cloned().ok_or_else(|| {
                    Error::Usage(format!("the plugin has no step '{s}' (it has: {})", step_names(&plugin)))
                })?,
            };
            settled.printer.out(&output::render(&doc, if json { Format::Json } else { Format::Yaml }));
            Ok(exit::SUCCESS)
        }
        PluginCommand::Run { step, input, timeout, output: format, .. } => {
            let step = pick_step(&plugin, step)?;
            let path = inv.in_cwd(&input);
            let err = |message: String| Error::Input { path: path.clone(), message };
            let text = crate::limits::read_text(&path).map_err(err)?;
            let y = crate::yaml::parse_text(&text).map_err(|e| err(e.to_string()))?;
            let value = crate::value::Value::from_yaml(&y);
            // Like a workflow run: prune leaves a scratch dir alone while its run lock is held.
            let session = RunSession::new(deployer.workdir())?;
            let timeout = match timeout {
                Some(t) => {
                    crate::seconds::duration(crate::seconds::check("--timeout", t).map_err(crate::error::Error::Usage)?)
                }
                None => None,
            };
            let interrupts = inv.interrupts.claim();
            let outcome =
                engine::run_single(plugin, &step, &value, session.scratch(), timeout, interrupts.clone()).await;
            drop(session);
            if !matches!(*interrupts.borrow(), engine::Interrupt::None) {
                return Err(Error::Interrupted);
            }
            match outcome? {
                engine::SingleOutcome::Output { output_id, data, debug_logs, is_error } => {
                    if !debug_logs.is_empty() {
                        settled.printer.raw(&debug_logs);
                    }
                    settled.printer.out(&output::render(&output::document(&output_id, &data), format));
                    Ok(if is_error { exit::ERROR_OUTPUT } else { exit::SUCCESS })
                }
                engine::SingleOutcome::Failed(message) => Err(Error::Run(format!("step '{step}' failed: {message}"))),
            }
        }
    }
}

/// The step to run: the one asked for, or the plugin's only step.
fn pick_step(plugin: &Plugin, step: Option<String>) -> Result<String> {
    match step {
        Some(s) => Ok(s),
        None if plugin.schema.steps.len() == 1 => Ok(plugin.schema.steps.keys().next().cloned().unwrap_or_default()),
        None => Err(Error::Usage(format!("--step is required: the plugin has several steps ({})", step_names(plugin)))),
    }
}

fn step_names(plugin: &Plugin) -> String {
    plugin.schema.steps.keys().cloned().collect::<Vec<_>>().join(", ")
}
