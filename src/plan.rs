//! Owns what a workflow needs before anything runs: its plugin steps (foreach sub-workflows
//! included), the module spec of each plugin (refusing deployment types we cannot serve), the key
//! that steps sharing a plugin share, and the files the workflow is made of.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::deployer::spec::ModuleSpec;
use crate::error::{Error, Result};
use crate::workflow::{PluginStep, StepKind, Workflow};

/// Steps with equal keys share one deployed plugin.
pub fn plugin_key(p: &PluginStep) -> String {
    format!("{}\u{0}{}", p.src, p.module.as_deref().unwrap_or(""))
}

/// Every plugin step of a workflow and of its foreach sub-workflows.
pub fn plugin_steps(wf: &Workflow) -> Vec<(String, &PluginStep)> {
    let mut out = Vec::new();
    for (id, step) in &wf.steps {
        match &step.kind {
            StepKind::Plugin(p) => out.push((id.clone(), p)),
            StepKind::Foreach(f) => {
                out.extend(plugin_steps(&f.workflow).into_iter().map(|(sub, p)| (format!("{id} -> {sub}"), p)))
            }
        }
    }
    out
}

/// Parses every module spec a workflow needs, refusing deployment types we cannot serve.
pub fn module_specs(wf: &Workflow, config: &Config, context: &Path) -> Result<BTreeMap<String, ModuleSpec>> {
    let mut specs = BTreeMap::new();
    for (step_id, p) in plugin_steps(wf) {
        if p.inline.is_some() {
            continue; // deployed by deployer::inline, not from a module spec
        }
        let werr = |message: String| Error::Workflow { path: wf.path.clone(), message };
        match config.deployment_types.get(&p.deployment_type).map(String::as_str) {
            Some("python") => {}
            Some(other) => {
                return Err(werr(format!(
                    "steps -> {step_id} -> plugin -> deployment_type: '{}' uses the {other} deployer; arcaflow-py only runs python plugins",
                    p.deployment_type
                )))
            }
            None => {
                return Err(werr(format!(
                    "steps -> {step_id} -> plugin -> deployment_type: no deployer is configured for '{}' (configured: {}); arcaflow-py runs python plugins: use deployment_type: python",
                    p.deployment_type,
                    config.deployment_types.keys().cloned().collect::<Vec<_>>().join(", ")
                )))
            }
        }
        let spec = ModuleSpec::parse(&p.src, context)
            .and_then(|s| s.with_module(p.module.as_deref()))
            .map_err(|e| werr(format!("steps -> {step_id} -> plugin -> src: {e}")))?;
        specs.insert(plugin_key(p), spec);
    }
    Ok(specs)
}

/// Every workflow file a run depends on: the workflow and its foreach sub-workflows.
pub fn workflow_files(wf: &Workflow) -> Vec<PathBuf> {
    let mut out = vec![wf.path.clone()];
    for step in wf.steps.values() {
        match &step.kind {
            StepKind::Foreach(f) => out.extend(workflow_files(&f.workflow)),
            StepKind::Plugin(PluginStep { inline: Some(i), .. }) => {
                // A `file:` source is part of the workflow: editing it means the run starts over.
                if let Some(f) = &i.file {
                    out.push(f.clone());
                }
            }
            StepKind::Plugin(_) => {}
        }
    }
    out
}
