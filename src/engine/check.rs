//! Owns the static checks done before anything runs: plugin step names, dependency cycles, and
//! every expression type-checked against the input and plugin schemas.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use super::step_name;
use crate::deployer::Plugin;
use crate::expr::ty::ExprType;
use crate::expr::Expr;
use crate::value::Value;
use crate::workflow::{FieldUse, StepKind, Tree, Workflow};

/// What the static checks already know about the sub-workflows of one load. A sub-workflow file
/// is shared by every foreach step naming it (`workflow::ForeachStep::workflow`), so it is typed
/// and checked once, not once per reference (nesting would make that exponential). Keyed by the
/// shared workflow's address, valid only inside [`memoized`] while the workflow is borrowed.
#[derive(Default)]
struct Memo {
    roots: HashMap<usize, ExprType>,
    done: std::collections::HashSet<(u8, usize)>,
}

thread_local! {
    static MEMO: std::cell::RefCell<Option<Memo>> = const { std::cell::RefCell::new(None) };
}

/// Runs the static checks of one loaded workflow with the memo above.
pub(super) fn memoized<R>(f: impl FnOnce() -> R) -> R {
    MEMO.with(|m| *m.borrow_mut() = Some(Memo::default()));
    let r = f();
    MEMO.with(|m| *m.borrow_mut() = None);
    r
}

/// Whether check `kind` of `wf` is still to be done (true once per workflow inside [`memoized`]).
pub(super) fn first_time(kind: u8, wf: &Workflow) -> bool {
    let key = (kind, wf as *const Workflow as usize);
    MEMO.with(|m| m.borrow_mut().as_mut().is_none_or(|memo| memo.done.insert(key)))
}

pub(super) fn check_workflow(wf: &Workflow, plugins: &HashMap<String, Arc<Plugin>>) -> Result<(), String> {
    check_steps(wf, plugins)?;
    check_cycles(wf)?;
    let root = root_type(wf, plugins);
    for (id, step) in &wf.steps {
        let at = format!("steps -> {id}");
        match &step.kind {
            StepKind::Plugin(p) => {
                if step.stop_if.is_some() {
                    let plugin = &plugins[&crate::plan::plugin_key(p)];
                    let name = step_name(p, plugin);
                    if !plugin.schema.steps.get(&name).is_some_and(|s| s.has_cancel_signal()) {
                        return Err(format!(
                            "{at} -> stop_if: the plugin step '{name}' has no 'cancel' signal handler, so it cannot be stopped"
                        ));
                    }
                }
            }
            StepKind::Foreach(f) if first_time(0, &f.workflow) => {
                check_workflow(&f.workflow, plugins)
                    .map_err(|e| format!("{at} -> workflow ({}): {e}", f.workflow_path.display()))?;
            }
            StepKind::Foreach(_) => {}
        }
        for (name, tree, _) in step.expression_fields() {
            check_tree(tree, &root, &format!("{at} -> {name}"))?;
        }
    }
    for (oid, tree) in &wf.outputs {
        check_tree(tree, &root, &format!("outputs -> {oid}"))?;
    }
    Ok(())
}

fn check_steps(wf: &Workflow, plugins: &HashMap<String, Arc<Plugin>>) -> Result<(), String> {
    for (id, step) in &wf.steps {
        let StepKind::Plugin(p) = &step.kind else {
            continue;
        };
        let Some(plugin) = plugins.get(&crate::plan::plugin_key(p)) else {
            return Err(format!("steps -> {id}: its plugin was not deployed"));
        };
        let names: Vec<&String> = plugin.schema.steps.keys().collect();
        match &p.step {
            None if names.len() > 1 => {
                return Err(format!(
                    "steps -> {id} -> step is required: the plugin {} has several steps ({})",
                    plugin.spec,
                    join(&names)
                ))
            }
            Some(s) if !plugin.schema.steps.contains_key(s) => {
                return Err(format!(
                    "steps -> {id} -> step: the plugin {} has no step '{s}' (it has: {})",
                    plugin.spec,
                    join(&names)
                ))
            }
            _ => {}
        }
    }
    Ok(())
}

fn join(names: &[&String]) -> String {
    names.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
}

/// Steps that `tree` reads from.
fn referenced_steps(tree: &Tree, out: &mut BTreeSet<String>) {
    for e in tree.expressions() {
        for path in e.dependencies() {
            if path.first().map(String::as_str) == Some("steps") {
                if let Some(s) = path.get(1) {
                    out.insert(s.clone());
                }
            }
        }
    }
}

fn check_cycles(wf: &Workflow) -> Result<(), String> {
    let mut edges: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for (id, step) in &wf.steps {
        let mut deps = BTreeSet::new();
        // What the step's start waits for; `stop_if` may name later steps, `deploy` is not evaluated.
        for (_, t, use_) in step.expression_fields() {
            if matches!(use_, FieldUse::Enabling | FieldUse::Start) {
                referenced_steps(t, &mut deps);
            }
        }
        edges.insert(id, deps);
    }
    // Depth-first search; the stack names the cycle.
    fn visit<'a>(
        n: &'a str,
        edges: &'a BTreeMap<&str, BTreeSet<String>>,
        stack: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) -> Result<(), String> {
        if done.contains(n) {
            return Ok(());
        }
        if let Some(pos) = stack.iter().position(|s| *s == n) {
            let mut cycle: Vec<&str> = stack[pos..].to_vec();
            cycle.push(n);
            return Err(format!("the workflow has a cycle: steps {}", cycle.join(" -> ")));
        }
        stack.push(n);
        if let Some(deps) = edges.get(n) {
            for d in deps {
                if let Some((k, _)) = edges.get_key_value(d.as_str()) {
                    visit(k, edges, stack, done)?;
                }
            }
        }
        stack.pop();
        done.insert(n);
        Ok(())
    }
    let mut done = BTreeSet::new();
    for id in edges.keys() {
        visit(id, &edges, &mut Vec::new(), &mut done)?;
    }
    Ok(())
}

fn check_tree(tree: &Tree, root: &ExprType, at: &str) -> Result<ExprType, String> {
    let check = |e: &Expr| e.check(root).map_err(|err| format!("{at}: {}: {}", e.source().trim(), err.within()));
    Ok(match tree {
        Tree::Value(v) => type_of_value(v),
        Tree::Expr(e) | Tree::WaitOptional(e) | Tree::SoftOptional(e) => check(e)?,
        Tree::List(items) => {
            let mut item = ExprType::Any;
            for (i, t) in items.iter().enumerate() {
                item = check_tree(t, root, &format!("{at} -> [{i}]"))?;
            }
            ExprType::List(Box::new(if items.len() == 1 { item } else { ExprType::Any }))
        }
        Tree::Map(fields) => {
            let mut out = BTreeMap::new();
            for (k, t) in fields {
                out.insert(k.to_string(), check_tree(t, root, &format!("{at} -> {k}"))?);
            }
            ExprType::object("output", out)
        }
        Tree::OneOf { options, .. } => {
            let mut types = Vec::new();
            for (k, t) in options {
                types.push(check_tree(t, root, &format!("{at} -> {k}"))?);
            }
            ExprType::OneOf(types)
        }
    })
}

fn type_of_value(v: &Value) -> ExprType {
    match v {
        Value::Null => ExprType::Null,
        Value::Bool(_) => ExprType::Bool,
        Value::Int(_) => ExprType::Int,
        Value::Float(_) => ExprType::Float,
        Value::String(_) => ExprType::String,
        Value::List(_) => ExprType::List(Box::new(ExprType::Any)),
        Value::Map(m) => ExprType::object("map", m.iter().map(|(k, v)| (k.to_string(), type_of_value(v))).collect()),
    }
}

fn obj(id: &str, fields: impl IntoIterator<Item = (&'static str, ExprType)>) -> ExprType {
    ExprType::object(id, fields.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

/// The type of `$`: the input, and every stage output of every step (`$.steps.<id>.<stage>.<output id>`).
pub(super) fn root_type(wf: &Workflow, plugins: &HashMap<String, Arc<Plugin>>) -> ExprType {
    let key = wf as *const Workflow as usize;
    if let Some(t) = MEMO.with(|m| m.borrow().as_ref().and_then(|memo| memo.roots.get(&key).cloned())) {
        return t;
    }
    let t = compute_root_type(wf, plugins);
    MEMO.with(|m| {
        if let Some(memo) = m.borrow_mut().as_mut() {
            memo.roots.insert(key, t.clone());
        }
    });
    t
}

fn compute_root_type(wf: &Workflow, plugins: &HashMap<String, Arc<Plugin>>) -> ExprType {
    let mut steps = BTreeMap::new();
    for (id, step) in &wf.steps {
        let common = [
            ("enabling", obj("enabling", [("resolved", obj("resolved", [("enabled", ExprType::Bool)]))])),
            ("disabled", obj("disabled", [("output", obj("output", [("message", ExprType::String)]))])),
            (
                "closed",
                obj(
                    "closed",
                    [("result", obj("result", [("cancelled", ExprType::Bool), ("close_requested", ExprType::Bool)]))],
                ),
            ),
        ];
        let mut stages: BTreeMap<String, ExprType> = common.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        match &step.kind {
            StepKind::Plugin(p) => {
                let mut outputs: BTreeMap<String, ExprType> = plugins
                    .get(&crate::plan::plugin_key(p))
                    .and_then(|pl| pl.schema.steps.get(&step_name(p, pl)))
                    .map(|s| s.outputs.iter().map(|(k, o)| (k.clone(), o.schema.expr_type())).collect())
                    .unwrap_or_default();
                // An inline step's `success` is whatever its function returns, unless declared.
                if p.inline.as_ref().is_some_and(|i| !i.outputs.contains_key("success")) {
                    outputs.insert("success".into(), ExprType::Any);
                }
                stages.insert("outputs".into(), ExprType::object(format!("steps.{id}.outputs"), outputs));
                stages.insert("starting".into(), obj("starting", [("started", obj("started", []))]));
                // `$.steps.X.artifacts.<name>`: only the names the step declares exist.
                let names: BTreeMap<String, ExprType> =
                    step.artifact_names().into_iter().map(|(n, _)| (n, ExprType::String)).collect();
                stages.insert("artifacts".into(), ExprType::object(format!("steps.{id}.artifacts"), names));
                stages.insert(
                    "crashed".into(),
                    obj("crashed", [("error", obj("error", [("output", ExprType::String)]))]),
                );
                stages.insert(
                    "deploy_failed".into(),
                    obj("deploy_failed", [("error", obj("error", [("error", ExprType::String)]))]),
                );
            }
            StepKind::Foreach(f) => {
                let sub_root = root_type(&f.workflow, plugins);
                let item = f
                    .workflow
                    .outputs
                    .get("success")
                    .and_then(|t| check_tree(t, &sub_root, "").ok())
                    .unwrap_or(ExprType::Any);
                stages.insert(
                    "outputs".into(),
                    obj("outputs", [("success", obj("success", [("data", ExprType::List(Box::new(item)))]))]),
                );
                stages.insert(
                    "failed".into(),
                    obj(
                        "failed",
                        [(
                            "error",
                            obj(
                                "error",
                                [
                                    ("data", ExprType::Map(Box::new(ExprType::Int), Box::new(ExprType::Any))),
                                    ("errors", ExprType::Map(Box::new(ExprType::Int), Box::new(ExprType::String))),
                                ],
                            ),
                        )],
                    ),
                );
            }
        }
        steps.insert(id.clone(), ExprType::object(id.clone(), stages));
    }
    obj("$", [("input", wf.input.expr_type()), ("steps", ExprType::object("steps", steps))])
}
