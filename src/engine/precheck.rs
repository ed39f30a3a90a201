//! Owns checking step inputs before anything runs: every part of a step's input that does not
//! depend on a step output is validated against the plugin's schema. Literals are checked when
//! the workflow is loaded (an invalid workflow, as in the reference engine); values computed from
//! the workflow input once the input is read (an invalid input: the reference finds these only
//! when the step starts, also with exit 3). Parts that depend on step outputs are left to the run,
//! except that their static types must fit (`typecheck`).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use super::{step_name, typecheck};
use crate::deployer::Plugin;
use crate::expr::{EvalContext, Expr};
use crate::plan::plugin_key;
use crate::schema::{unknown, Type, ValidationError};
use crate::value::Value;
use crate::workflow::{StepKind, Tree, Workflow};

/// What is known before the run: nothing but literals, or also the validated workflow input.
#[derive(Clone, Copy)]
pub(crate) enum Known<'a> {
    Literals,
    Input(&'a Value),
}

/// Checks the known parts of every step input of `wf` (and, for literals, of its foreach
/// sub-workflows). The error names the step and the field path:
/// `steps -> hello -> input -> name -> nick: String must match the pattern ^[a-z]+$`.
pub(crate) fn check_step_inputs(
    wf: &Workflow,
    plugins: &HashMap<String, Arc<Plugin>>,
    known: Known,
    context: &Path,
) -> Result<(), String> {
    // Expression types are checked once, with the literals (they do not depend on the input).
    let root = matches!(known, Known::Literals).then(|| super::check::root_type(wf, plugins));
    for (id, step) in &wf.steps {
        match &step.kind {
            StepKind::Plugin(p) => {
                let Some(schema) = plugins.get(&plugin_key(p)).and_then(|pl| pl.schema.steps.get(&step_name(p, pl)))
                else {
                    continue; // check_steps reports unknown plugin steps
                };
                let value = partial(&p.input, known, context);
                schema.input.check_known(&value).map_err(|e| located(id, "input", e))?;
                if let Some(root) = &root {
                    let ty = Type::Scope(schema.input.clone());
                    typecheck::check_tree(&p.input, &ty, &schema.input, root, &format!("steps -> {id} -> input"))?;
                }
            }
            StepKind::Foreach(f) => {
                let items = partial(&f.items, known, context);
                let list = Type::List { items: Box::new(Type::Scope(f.workflow.input.clone())), min: None, max: None };
                list.check_known_in(&f.workflow.input, &items).map_err(|e| located(id, "items", e))?;
                if let Some(root) = &root {
                    typecheck::check_tree(
                        &f.items,
                        &list,
                        &f.workflow.input,
                        root,
                        &format!("steps -> {id} -> items"),
                    )?;
                }
                // Inside a sub-workflow only literals are known before its items are.
                if matches!(known, Known::Literals) && super::check::first_time(1, &f.workflow) {
                    check_step_inputs(&f.workflow, plugins, Known::Literals, context)
                        .map_err(|e| format!("steps -> {id} -> workflow ({}): {e}", f.workflow_path.display()))?;
                }
            }
        }
    }
    Ok(())
}

fn located(id: &str, field: &str, e: ValidationError) -> String {
    if e.path.is_empty() {
        format!("steps -> {id} -> {field}: {}", e.message)
    } else {
        format!("steps -> {id} -> {field} -> {e}")
    }
}

/// The value of `tree` as far as it is known; every other part is [`unknown()`].
fn partial(tree: &Tree, known: Known, context: &Path) -> Value {
    match tree {
        Tree::Value(v) => v.clone(),
        Tree::Expr(e) => evaluate(e, known, context).unwrap_or_else(unknown),
        Tree::List(items) => Value::List(items.iter().map(|t| partial(t, known, context)).collect()),
        Tree::Map(fields) => Value::Map(fields.iter().map(|(k, t)| (k.clone(), partial(t, known, context))).collect()),
        // Optional fields may be left out and one-ofs pick an option at run time.
        Tree::WaitOptional(_) | Tree::SoftOptional(_) | Tree::OneOf { .. } => unknown(),
    }
}

/// The value of an expression that reads nothing but the workflow input (when it is known), or
/// nothing at all. An expression that fails here is left to the run, which reports it in context.
fn evaluate(e: &Expr, known: Known, context: &Path) -> Option<Value> {
    let input = match known {
        Known::Input(input) => Some(input),
        Known::Literals => None,
    };
    let reads_only_input =
        e.dependencies().iter().all(|path| input.is_some() && path.first().is_some_and(|s| s == "input"));
    if !reads_only_input {
        return None;
    }
    let root =
        Value::map_from([("input", input.cloned().unwrap_or_default()), ("steps", Value::Map(Default::default()))]);
    e.evaluate(&root, &EvalContext { context_dir: context }).ok()
}
