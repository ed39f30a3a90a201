//! Owns `argo lint`: the checks Argo's validator (`workflow/validate/validate.go`) applies to the
//! subset of manifests we emit, ported, plus two it does not make (volume references, which Argo
//! only finds at pod creation, and size budgets), on top of the strict schema.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::depends;
use super::export::ArgoVersion;
use super::names;

/// One problem: where (a path into the manifest) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub path: String,
    pub message: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    pub argo_version: ArgoVersion,
}

/// Kubernetes keeps objects in etcd, whose default request limit is about 1.5 MiB; Argo's own
/// docs advise staying well under 1 MiB. We refuse manifests over this.
pub const MANIFEST_BUDGET: usize = 900 * 1024;
/// Before Argo 3.6 the substituted template travels in one environment variable (MAX_ARG_STRLEN).
pub const TEMPLATE_ENV_BUDGET: usize = 128 * 1024;
/// From 3.6 an oversized template is offloaded to a ConfigMap, itself limited to about 1 MiB.
pub const TEMPLATE_CONFIGMAP_BUDGET: usize = 1024 * 1024;

const RETRY_POLICIES: &[&str] = &["Always", "OnFailure", "OnError", "OnTransientError"];
const TEMPLATE_TYPES: &[&str] =
    &["container", "script", "dag", "steps", "resource", "suspend", "data", "http", "plugin", "containerSet"];

struct Ctx {
    out: Vec<Finding>,
}

impl Ctx {
    fn err(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.out.push(Finding { path: path.into(), message: message.into() });
    }
}

/// Every problem in one manifest document (empty: it passes).
pub fn lint(doc: &Value, opts: &Options) -> Vec<Finding> {
    let mut c = Ctx { out: Vec::new() };
    match super::schema::validate(doc) {
        Ok(violations) => {
            for v in violations {
                c.err(if v.path.is_empty() { "/".into() } else { v.path }, format!("schema: {}", v.message));
            }
        }
        Err(e) => c.err("", e),
    }
    let kind = doc.get("kind").and_then(Value::as_str).unwrap_or("");
    if !matches!(kind, "Workflow" | "WorkflowTemplate") {
        c.err("/kind", format!("'{kind}' is not a kind this lint checks (Workflow, WorkflowTemplate)"));
        return c.out;
    }
    if doc.get("apiVersion").and_then(Value::as_str) != Some(super::model::API_VERSION) {
        c.err("/apiVersion", format!("must be {}", super::model::API_VERSION));
    }
    metadata(doc, kind, &mut c);
    let spec = doc.get("spec").cloned().unwrap_or(Value::Null);
    let templates: Vec<Value> = spec.get("templates").and_then(Value::as_array).cloned().unwrap_or_default();
    let mut by_name: BTreeMap<String, &Value> = BTreeMap::new();
    for (i, t) in templates.iter().enumerate() {
        let at = format!("/spec/templates/{i}");
        let name = t.get("name").and_then(Value::as_str).unwrap_or("");
        if let Some(p) = names::field_name_problem(name) {
            c.err(format!("{at}/name"), p);
        }
        if by_name.insert(name.to_string(), t).is_some() {
            c.err(format!("{at}/name"), format!("template name '{name}' is not unique"));
        }
    }
    match spec.get("entrypoint").and_then(Value::as_str) {
        None | Some("") if kind == "Workflow" => c.err("/spec/entrypoint", "spec.entrypoint is required"),
        Some(e) if !e.is_empty() && !by_name.contains_key(e) => {
            c.err("/spec/entrypoint", format!("template '{e}' is not defined"))
        }
        _ => {}
    }
    let workflow_params: BTreeMap<String, String> = spec
        .pointer("/arguments/parameters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|p| {
            let name = p.get("name")?.as_str()?.to_string();
            Some((name, p.get("value").and_then(Value::as_str).unwrap_or_default().to_string()))
        })
        .collect();
    for (i, p) in spec.pointer("/arguments/parameters").and_then(Value::as_array).into_iter().flatten().enumerate() {
        let name = p.get("name").and_then(Value::as_str).unwrap_or("");
        if let Some(problem) = names::param_name_problem(name) {
            c.err(format!("/spec/arguments/parameters/{i}/name"), problem);
        }
    }
    let mut volumes: BTreeSet<String> = BTreeSet::new();
    for key in ["volumes", "volumeClaimTemplates"] {
        for v in spec.get(key).and_then(Value::as_array).into_iter().flatten() {
            let name = if key == "volumes" { v.get("name") } else { v.pointer("/metadata/name") };
            if let Some(n) = name.and_then(Value::as_str) {
                volumes.insert(n.to_string());
            }
        }
    }
    deadline(spec.get("activeDeadlineSeconds"), "/spec/activeDeadlineSeconds", &mut c);
    if let Some(s) = spec.pointer("/podGC/strategy").and_then(Value::as_str) {
        if !["OnPodCompletion", "OnPodSuccess", "OnWorkflowCompletion", "OnWorkflowSuccess", ""].contains(&s) {
            c.err("/spec/podGC/strategy", format!("unknown strategy '{s}'"));
        }
    }
    for (i, t) in templates.iter().enumerate() {
        template(t, &format!("/spec/templates/{i}"), &by_name, &workflow_params, &volumes, opts, &mut c);
    }
    let size = serde_json::to_string(doc).map(|s| s.len()).unwrap_or(0);
    if size > MANIFEST_BUDGET {
        c.err("", format!("the manifest is {size} bytes, over the {MANIFEST_BUDGET}-byte budget for an object kept in etcd; move data out of parameters"));
    }
    c.out
}

fn metadata(doc: &Value, kind: &str, c: &mut Ctx) {
    let name = doc.pointer("/metadata/name").and_then(Value::as_str);
    let generate = doc.pointer("/metadata/generateName").and_then(Value::as_str);
    match (name, generate) {
        (Some(n), _) => {
            if let Some(p) = names::object_name_problem(n, false) {
                c.err("/metadata/name", p);
            }
        }
        (None, Some(g)) if kind == "Workflow" => {
            if let Some(p) = names::object_name_problem(g, true) {
                c.err("/metadata/generateName", p);
            }
        }
        (None, Some(_)) => c.err("/metadata/name", "a WorkflowTemplate needs metadata.name"),
        (None, None) => c.err("/metadata", "metadata.name or metadata.generateName is required"),
    }
}

fn is_int_text(s: &str) -> bool {
    let t = s.strip_prefix('-').unwrap_or(s);
    !t.is_empty() && t.chars().all(|c| c.is_ascii_digit())
}

fn is_placeholder(s: &str) -> bool {
    s.trim_start().starts_with("{{")
}

/// A Go duration (`time.ParseDuration`): `300ms`, `1.5h`, `2h45m`, or `0`.
pub fn is_go_duration(s: &str) -> bool {
    static RE: std::sync::OnceLock<Option<regex::Regex>> = std::sync::OnceLock::new();
    let re = RE.get_or_init(|| regex::Regex::new(r"^[-+]?(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|ms|s|m|h))+$").ok());
    s == "0" || re.as_ref().is_some_and(|r| r.is_match(s))
}

/// IntOrString seconds: an integer, an integer string, or a `{{…}}` placeholder.
fn deadline(v: Option<&Value>, at: &str, c: &mut Ctx) {
    match v {
        None => {}
        Some(Value::Number(n)) if n.is_i64() => {}
        Some(Value::String(s)) if is_int_text(s) || is_placeholder(s) => {}
        Some(other) => c.err(at, format!("{other} is not a number of seconds")),
    }
}

fn template(
    t: &Value,
    at: &str,
    by_name: &BTreeMap<String, &Value>,
    workflow_params: &BTreeMap<String, String>,
    volumes: &BTreeSet<String>,
    opts: &Options,
    c: &mut Ctx,
) {
    let name = t.get("name").and_then(Value::as_str).unwrap_or("");
    let types: Vec<&str> = TEMPLATE_TYPES.iter().copied().filter(|k| t.get(*k).is_some_and(|v| !v.is_null())).collect();
    match types.len() {
        1 => {}
        0 => c.err(at, format!("template '{name}' has no type: set exactly one of {}", TEMPLATE_TYPES.join(", "))),
        _ => c.err(at, format!("template '{name}' has more than one type ({}): set exactly one", types.join(", "))),
    }
    deadline(t.get("activeDeadlineSeconds"), &format!("{at}/activeDeadlineSeconds"), c);
    if let Some(timeout) = t.get("timeout") {
        match timeout.as_str() {
            Some(s) if is_placeholder(s) => {}
            Some(s) if is_go_duration(s) && !is_int_text(s) => {}
            _ => c.err(format!("{at}/timeout"), format!("{timeout} is not a duration such as 30s or 10m")),
        }
    }
    if let Some(r) = t.get("retryStrategy") {
        if let Some(limit) = r.get("limit") {
            let ok = limit.is_i64() || limit.as_str().is_some_and(|s| is_int_text(s) || is_placeholder(s));
            if !ok {
                c.err(format!("{at}/retryStrategy/limit"), format!("{limit} is not a number of retries"));
            }
        }
        if let Some(p) = r.get("retryPolicy").and_then(Value::as_str) {
            if !RETRY_POLICIES.contains(&p) {
                c.err(
                    format!("{at}/retryStrategy/retryPolicy"),
                    format!("'{p}' is not one of {}", RETRY_POLICIES.join(", ")),
                );
            }
        }
        for key in ["duration", "maxDuration", "cap"] {
            if let Some(v) = r.get("backoff").and_then(|b| b.get(key)) {
                let ok =
                    v.is_i64() || v.as_str().is_some_and(|s| is_int_text(s) || is_go_duration(s) || is_placeholder(s));
                if !ok {
                    c.err(format!("{at}/retryStrategy/backoff/{key}"), format!("{v} is not a duration"));
                }
            }
        }
    }
    let mut inputs = BTreeSet::new();
    for (i, p) in t.pointer("/inputs/parameters").and_then(Value::as_array).into_iter().flatten().enumerate() {
        let n = p.get("name").and_then(Value::as_str).unwrap_or("");
        if let Some(problem) = names::param_name_problem(n) {
            c.err(format!("{at}/inputs/parameters/{i}/name"), problem);
        }
        if !inputs.insert(n.to_string()) {
            c.err(format!("{at}/inputs/parameters/{i}/name"), format!("input parameter '{n}' is not unique"));
        }
    }
    let leaf = t.get("script").is_some() || t.get("container").is_some();
    for (i, p) in t.pointer("/outputs/parameters").and_then(Value::as_array).into_iter().flatten().enumerate() {
        let pat = format!("{at}/outputs/parameters/{i}");
        let n = p.get("name").and_then(Value::as_str).unwrap_or("");
        if let Some(problem) = names::param_name_problem(n) {
            c.err(format!("{pat}/name"), problem);
        }
        match (p.get("value"), p.get("valueFrom")) {
            (Some(_), Some(_)) => c.err(&pat, format!("output parameter '{n}' has both value and valueFrom")),
            (None, None) => c.err(&pat, format!("output parameter '{n}' has neither value nor valueFrom")),
            (None, Some(vf)) if leaf && vf.get("path").is_none() => c.err(
                &pat,
                format!("output parameter '{n}': valueFrom.path is required in script and container templates"),
            ),
            _ => {}
        }
    }
    if let Some(script) = t.get("script") {
        if script.get("image").and_then(Value::as_str).unwrap_or("").is_empty() {
            c.err(format!("{at}/script/image"), "a script template needs an image");
        }
        if script.get("source").and_then(Value::as_str).is_none() {
            c.err(format!("{at}/script/source"), "a script template needs a source");
        }
    }
    let mut local_volumes = volumes.clone();
    for v in t.get("volumes").and_then(Value::as_array).into_iter().flatten() {
        if let Some(n) = v.get("name").and_then(Value::as_str) {
            local_volumes.insert(n.to_string());
        }
    }
    for kind in ["script", "container"] {
        for (i, m) in
            t.get(kind).and_then(|s| s.get("volumeMounts")).and_then(Value::as_array).into_iter().flatten().enumerate()
        {
            let n = m.get("name").and_then(Value::as_str).unwrap_or("");
            if !local_volumes.contains(n) {
                c.err(format!("{at}/{kind}/volumeMounts/{i}/name"), format!("volume '{n}' is not declared in spec.volumes or the template's volumes (Argo only finds this when it creates the pod)"));
            }
        }
    }
    let dag_tasks = t.pointer("/dag/tasks").and_then(Value::as_array);
    // References outside DAG task lists: the template's own inputs and the workflow's.
    let mut own = t.clone();
    if let Some(obj) = own.as_object_mut() {
        if let Some(dag) = obj.get_mut("dag").and_then(Value::as_object_mut) {
            dag.remove("tasks");
        }
    }
    references(&own, at, &inputs, workflow_params, None, c);
    // `{{retries}}` is defined only in a template that retries (Argo substitutes it per attempt).
    if t.get("retryStrategy").is_none() && serde_json::to_string(&own).unwrap_or_default().contains("{{retries}}") {
        c.err(at, "failed to resolve {{retries}}: the template has no retryStrategy".to_string());
    }
    if leaf {
        let text = serde_json::to_string(t).unwrap_or_default();
        let mut size = text.len();
        for (name, value) in workflow_params {
            let n = text.matches(&format!("{{{{workflow.parameters.{name}}}}}")).count();
            size += n * serde_json::to_string(value).map(|s| s.len()).unwrap_or(0);
        }
        let (budget, why) = if opts.argo_version < ArgoVersion(3, 6) {
            (TEMPLATE_ENV_BUDGET, "one environment variable before Argo 3.6")
        } else {
            (TEMPLATE_CONFIGMAP_BUDGET, "the ConfigMap Argo offloads large templates to")
        };
        if size > budget {
            c.err(at, format!("template '{name}' is about {size} bytes once its parameters are substituted, over {budget} bytes ({why})"));
        }
    }
    if t.get("dag").is_some() {
        dag(t, at, dag_tasks.map(Vec::as_slice).unwrap_or(&[]), by_name, &inputs, workflow_params, c);
    }
}

fn dag(
    t: &Value,
    at: &str,
    tasks: &[Value],
    by_name: &BTreeMap<String, &Value>,
    inputs: &BTreeSet<String>,
    workflow_params: &BTreeMap<String, String>,
    c: &mut Ctx,
) {
    let name = t.get("name").and_then(Value::as_str).unwrap_or("");
    if tasks.is_empty() {
        c.err(format!("{at}/dag/tasks"), format!("template '{name}' must have at least one task"));
        return;
    }
    let task_names: BTreeMap<String, &Value> =
        tasks.iter().filter_map(|x| Some((x.get("name")?.as_str()?.to_string(), x))).collect();
    let using_depends = tasks.iter().any(|x| x.get("depends").is_some());
    let mut seen = BTreeSet::new();
    let mut edges: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (i, task) in tasks.iter().enumerate() {
        let tat = format!("{at}/dag/tasks/{i}");
        let tname = task.get("name").and_then(Value::as_str).unwrap_or("");
        if let Some(p) = names::field_name_problem(tname) {
            c.err(format!("{tat}/name"), p);
        } else if tname.starts_with(|ch: char| ch.is_ascii_digit()) {
            c.err(
                format!("{tat}/name"),
                format!("task '{tname}': a name cannot begin with a digit when using 'depends' or 'dependencies'"),
            );
        }
        if !seen.insert(tname.to_string()) {
            c.err(format!("{tat}/name"), format!("task name '{tname}' is not unique"));
        }
        if using_depends && task.get("dependencies").is_some() {
            c.err(&tat, "cannot use both 'depends' and 'dependencies' in the same DAG template");
        }
        if using_depends && task.get("continueOn").is_some() {
            c.err(&tat, "cannot use 'continueOn' with 'depends'; use 'task.Failed' or 'task.Errored' instead");
        }
        let loops: Vec<&str> =
            ["withItems", "withParam", "withSequence"].into_iter().filter(|k| task.get(*k).is_some()).collect();
        if loops.len() > 1 {
            c.err(
                &tat,
                format!(
                    "task '{tname}' uses {}: only one of withItems, withParam and withSequence is allowed",
                    loops.join(" and ")
                ),
            );
        }
        let target = task.get("template").and_then(Value::as_str).unwrap_or("");
        match by_name.get(target) {
            None if task.get("templateRef").is_none() => c.err(
                format!("{tat}/template"),
                format!("task '{tname}' uses template '{target}', which is not defined"),
            ),
            Some(tmpl) => required_arguments(task, tmpl, &tat, c),
            None => {}
        }
        let mut deps = Vec::new();
        if let Some(d) = task.get("depends").and_then(Value::as_str) {
            match depends::parse(d) {
                Ok(e) => deps.extend(e.tasks()),
                Err(e) => c.err(format!("{tat}/depends"), format!("invalid depends '{d}': {e}")),
            }
        }
        for d in task.get("dependencies").and_then(Value::as_array).into_iter().flatten() {
            deps.extend(d.as_str().map(str::to_string));
        }
        for d in &deps {
            if !task_names.contains_key(d) {
                c.err(
                    format!("{tat}/depends"),
                    format!("task '{tname}' depends on '{d}', which is not a task of template '{name}'"),
                );
            }
        }
        edges.insert(tname.to_string(), deps.clone());
        let loops_here = !loops.is_empty();
        let ctx = DagScope { tasks: &task_names, by_name, deps: &deps, loops: loops_here };
        references(task, &tat, inputs, workflow_params, Some(&ctx), c);
    }
    if let Some(cycle) = find_cycle(&edges) {
        c.err(format!("{at}/dag/tasks"), format!("dependency cycle: {}", cycle.join(" -> ")));
    }
}

/// A called template's input parameters without a value or default must be passed.
fn required_arguments(task: &Value, tmpl: &Value, at: &str, c: &mut Ctx) {
    let given: BTreeSet<&str> = task
        .pointer("/arguments/parameters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|p| p.get("name")?.as_str())
        .collect();
    for p in tmpl.pointer("/inputs/parameters").and_then(Value::as_array).into_iter().flatten() {
        let n = p.get("name").and_then(Value::as_str).unwrap_or("");
        if p.get("value").is_none() && p.get("default").is_none() && !given.contains(n) {
            let tname = task.get("name").and_then(Value::as_str).unwrap_or("");
            c.err(
                format!("{at}/arguments"),
                format!("task '{tname}': input parameter '{n}' of its template is not supplied"),
            );
        }
    }
}

fn find_cycle(edges: &BTreeMap<String, Vec<String>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        edges: &BTreeMap<String, Vec<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        match state.get(n) {
            Some(2) => return None,
            Some(1) => {
                let start = stack.iter().position(|s| s == n).unwrap_or(0);
                let mut cycle = stack[start..].to_vec();
                cycle.push(n.to_string());
                return Some(cycle);
            }
            _ => {}
        }
        state.insert(n.to_string(), 1);
        stack.push(n.to_string());
        for d in edges.get(n).into_iter().flatten() {
            if edges.contains_key(d) {
                if let Some(c) = visit(d, edges, state, stack) {
                    return Some(c);
                }
            }
        }
        stack.pop();
        state.insert(n.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for n in edges.keys() {
        let mut stack = Vec::new();
        if let Some(c) = visit(n, edges, &mut state, &mut stack) {
            return Some(c);
        }
    }
    None
}

struct DagScope<'a> {
    tasks: &'a BTreeMap<String, &'a Value>,
    by_name: &'a BTreeMap<String, &'a Value>,
    deps: &'a [String],
    loops: bool,
}

const GLOBALS: &[&str] = &[
    "workflow.name",
    "workflow.namespace",
    "workflow.uid",
    "workflow.serviceAccountName",
    "workflow.mainEntrypoint",
    "workflow.creationTimestamp",
    "workflow.status",
    "workflow.duration",
    "workflow.failures",
    "workflow.priority",
    "node.name",
    "pod.name",
    "retries",
];

/// Every `{{…}}` reference in `v` must resolve (validate.go `resolveAllVariables`).
fn references(
    v: &Value,
    at: &str,
    inputs: &BTreeSet<String>,
    workflow_params: &BTreeMap<String, String>,
    dag: Option<&DagScope>,
    c: &mut Ctx,
) {
    let text = serde_json::to_string(v).unwrap_or_default();
    let mut rest = text.as_str();
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        let reference = after[..end].trim().to_string();
        rest = &after[end + 2..];
        if reference.starts_with('=') {
            continue; // an expression: Argo checks it at run time
        }
        if let Some(problem) = resolve_reference(&reference, inputs, workflow_params, dag) {
            c.err(at, format!("failed to resolve {{{{{reference}}}}}: {problem}"));
        }
    }
}

fn resolve_reference(
    r: &str,
    inputs: &BTreeSet<String>,
    workflow_params: &BTreeMap<String, String>,
    dag: Option<&DagScope>,
) -> Option<String> {
    if GLOBALS.contains(&r)
        || r.starts_with("workflow.labels.")
        || r.starts_with("workflow.annotations.")
        || r.starts_with("lastRetry.")
    {
        return None;
    }
    // Template-level variables (a DAG's task list is not inside the task's template).
    if dag.is_none() && (r == "node.name" || r == "retries") {
        return None;
    }
    if let Some(name) = r.strip_prefix("workflow.parameters.") {
        return (!workflow_params.contains_key(name)).then(|| format!("the workflow has no parameter '{name}'"));
    }
    if r == "inputs.parameters" {
        return inputs.is_empty().then(|| "the template has no input parameters".into());
    }
    if let Some(name) = r.strip_prefix("inputs.parameters.") {
        return (!inputs.contains(name)).then(|| format!("the template has no input parameter '{name}'"));
    }
    if r.starts_with("outputs.parameters.") || r.starts_with("inputs.artifacts.") || r.starts_with("outputs.artifacts.")
    {
        return None;
    }
    if r == "item" || r.starts_with("item.") {
        return match dag {
            Some(d) if d.loops => None,
            _ => Some("'item' is only defined in a task with withItems, withParam or withSequence".into()),
        };
    }
    if let Some(rest) = r.strip_prefix("tasks.") {
        let Some(d) = dag else { return Some("tasks.* is only defined inside a DAG's tasks".into()) };
        let (task, field) = rest.split_once('.').unwrap_or((rest, ""));
        let Some(tv) = d.tasks.get(task) else { return Some(format!("there is no task '{task}'")) };
        if !d.deps.iter().any(|x| x == task) {
            // Argo accepts references to any task of the DAG, but a value read from a task the
            // reader does not wait for may not exist yet.
            return Some(format!("task '{task}' is not among this task's dependencies"));
        }
        let tmpl = tv.get("template").and_then(Value::as_str).and_then(|n| d.by_name.get(n));
        if let Some(p) = field.strip_prefix("outputs.parameters.") {
            let declared = tmpl
                .and_then(|t| t.pointer("/outputs/parameters"))
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .any(|x| x.get("name").and_then(Value::as_str) == Some(p));
            return (!declared).then(|| format!("task '{task}' has no output parameter '{p}'"));
        }
        if field == "outputs.result" || field == "exitCode" {
            let leaf = tmpl.is_some_and(|t| t.get("script").is_some() || t.get("container").is_some());
            return (!leaf).then(|| format!("task '{task}' has no {field} (only script and container templates do)"));
        }
        if ["status", "id", "startedAt", "finishedAt", "ip", "hostNodeName"].contains(&field)
            || field.starts_with("outputs.artifacts.")
        {
            return None;
        }
        return Some(format!("'{field}' is not a task variable"));
    }
    Some("not a variable Argo defines here".into())
}

#[cfg(test)]
mod tests;
