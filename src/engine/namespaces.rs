//! Owns namespaced references: the object namespaces every step stage lends to workflow schemas
//! (`$.steps.<step>.<stage>.inputs.<field>` / `.outputs.<output>`), built the way the reference
//! engine's `BuildNamespaces` names them, and resolving a workflow's namespaced refs against them.
//!
//! A namespace maps object ids to objects. Input fields lend their scope (a list field its item
//! scope: `$.steps.loop.execute.inputs.items`), outputs their output scope. When the root object
//! of such a scope has a property that is itself a resolved namespaced ref, that property is a
//! namespace too, holding just the borrowed object (`$.steps.loop.execute.inputs.items.item`).
//! Sub-workflows are resolved first, so their borrowed objects are known to the parent.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::step_name;
use crate::deployer::Plugin;
use crate::error::{Error, Result};
use crate::plan::plugin_key;
use crate::schema::{ObjectSchema, Property, SchemaError, Scope, Type};
use crate::workflow::{StepKind, Workflow};

/// One namespace: the object ids a ref may name there, and the objects those need to resolve
/// their own refs (a borrowed object keeps the scope it was defined in).
#[derive(Debug, Clone)]
struct Namespace {
    ids: Vec<String>,
    objects: BTreeMap<String, ObjectSchema>,
}

type Namespaces = BTreeMap<String, Namespace>;

/// Resolves the namespaced refs of `wf`'s input and declared output schemas, sub-workflows
/// first. Errors name the workflow file's field (`input -> objects -> R -> properties -> p ->
/// type: …`); the caller reports them as invalid workflows.
pub(crate) fn resolve_workflow(wf: &mut Workflow, plugins: &HashMap<String, Arc<Plugin>>) -> Result<()> {
    resolve_shared(wf, plugins, &mut HashMap::new())
}

/// A sub-workflow file is shared by every foreach step naming it (see `workflow`): it is
/// resolved once, and every step gets the one resolved copy.
fn resolve_shared(
    wf: &mut Workflow,
    plugins: &HashMap<String, Arc<Plugin>>,
    done: &mut HashMap<std::path::PathBuf, Arc<Workflow>>,
) -> Result<()> {
    for step in wf.steps.values_mut() {
        if let StepKind::Foreach(f) = &mut step.kind {
            if let Some(resolved) = done.get(&f.workflow.path) {
                f.workflow = resolved.clone();
                continue;
            }
            resolve_shared(Arc::make_mut(&mut f.workflow), plugins, done)?;
            done.insert(f.workflow.path.clone(), f.workflow.clone());
        }
    }
    let namespaces = build(wf, plugins);
    let mut resolve = |namespace: &str, id: &str| lookup(&namespaces, namespace, id);
    let path = wf.path.clone();
    let fail = |e: SchemaError| Error::Workflow { path: path.clone(), message: e.to_string() };
    wf.input.resolve_namespaced_refs(&mut resolve).map_err(|e| fail(e.prefixed(&["input"])))?;
    for (id, output) in wf.output_schema.iter_mut() {
        if let Some(schema) = &mut output.schema {
            schema
                .resolve_namespaced_refs(&mut resolve)
                .map_err(|e| fail(e.prefixed(&["outputSchema", id, "schema"])))?;
        }
    }
    Ok(())
}

fn lookup(namespaces: &Namespaces, namespace: &str, id: &str) -> std::result::Result<Scope, String> {
    let Some(found) = namespaces.get(namespace) else {
        return Err(format!(
            "the namespace '{namespace}' (of object '{id}') does not exist; the namespaces are:{}",
            listing(namespaces)
        ));
    };
    if !found.ids.iter().any(|known| known == id) {
        return Err(format!("the namespace '{namespace}' has no object '{id}' (it has: {})", found.ids.join(", ")));
    }
    Ok(Scope::new(id, found.objects.clone()))
}

/// Every namespace with its objects, one per line (what a user needs to fix a wrong path).
fn listing(namespaces: &Namespaces) -> String {
    namespaces.iter().map(|(name, ns)| format!("\n  {name}: {}", ns.ids.join(", "))).collect()
}

/// The namespaces of every step stage of `wf`, named `$.steps.<step>.<stage>.<inputs|outputs>.<field>`.
fn build(wf: &Workflow, plugins: &HashMap<String, Arc<Plugin>>) -> Namespaces {
    let mut out = Namespaces::new();
    for (id, step) in &wf.steps {
        let stage = |stage: &str, kind: &str, field: &str| format!("$.steps.{id}.{stage}.{kind}.{field}");
        add(&mut out, stage("enabling", "outputs", "resolved"), &builtin("EnabledOutput", &[("enabled", Type::Bool)]));
        add(
            &mut out,
            stage("disabled", "outputs", "output"),
            &builtin("DisabledMessageOutput", &[("message", Type::string())]),
        );
        match &step.kind {
            StepKind::Plugin(p) => {
                let schema = plugins.get(&plugin_key(p)).and_then(|pl| pl.schema.steps.get(&step_name(p, pl)).cloned());
                if let Some(schema) = schema {
                    add(&mut out, stage("starting", "inputs", "input"), &schema.input);
                    for (oid, output) in &schema.outputs {
                        add(&mut out, stage("outputs", "outputs", oid), &output.schema);
                    }
                }
                add(&mut out, stage("starting", "outputs", "started"), &builtin("StartedOutput", &[]));
                add(
                    &mut out,
                    stage("deploy_failed", "outputs", "error"),
                    &builtin("DeployError", &[("error", Type::string())]),
                );
                add(&mut out, stage("crashed", "outputs", "error"), &builtin("Crashed", &[("output", Type::string())]));
                add(
                    &mut out,
                    stage("closed", "outputs", "result"),
                    &builtin("ClosedInfo", &[("cancelled", Type::Bool), ("close_requested", Type::Bool)]),
                );
            }
            StepKind::Foreach(f) => {
                // A list input lends its item scope.
                add(&mut out, stage("execute", "inputs", "items"), &f.workflow.input);
                let int = || Box::new(Type::Integer { min: None, max: None, units: None });
                // The sub-workflow's `success` output type is inferred, not declared: its items
                // are `any` here.
                add(
                    &mut out,
                    stage("outputs", "outputs", "success"),
                    &builtin("data", &[("data", Type::List { items: Box::new(Type::Any), min: None, max: None })]),
                );
                add(
                    &mut out,
                    stage("failed", "outputs", "error"),
                    &builtin(
                        "error",
                        &[
                            ("data", Type::Map { keys: int(), values: Box::new(Type::Any), min: None, max: None }),
                            (
                                "errors",
                                Type::Map { keys: int(), values: Box::new(Type::string()), min: None, max: None },
                            ),
                        ],
                    ),
                );
                add(
                    &mut out,
                    stage("closed", "outputs", "result"),
                    &builtin("ClosedInfo", &[("close_requested", Type::Bool)]),
                );
            }
        }
    }
    out
}

/// Adds `scope` as namespace `name`, and each root property that is a borrowed object as
/// `name.<property>` (the reference's addScopesWithReferences).
fn add(out: &mut Namespaces, name: String, scope: &Scope) {
    if let Some(root) = scope.root_object() {
        for (property, p) in &root.properties {
            if let Type::Scope(inner) = &p.ty {
                if inner.borrowed_from.is_some() {
                    out.insert(
                        format!("{name}.{property}"),
                        Namespace { ids: vec![inner.root.clone()], objects: inner.objects.clone() },
                    );
                }
            }
        }
    }
    out.insert(name, Namespace { ids: scope.objects.keys().cloned().collect(), objects: scope.objects.clone() });
}

/// A one-object scope of the engine's own stage outputs (all fields required).
fn builtin(id: &str, fields: &[(&str, Type)]) -> Scope {
    let properties = fields.iter().map(|(name, ty)| (name.to_string(), Property::new(ty.clone()))).collect();
    let object = ObjectSchema { id: id.to_string(), properties, id_unenforced: false };
    Scope::new(id, [(id.to_string(), object)].into_iter().collect())
}
