//! Owns workflow files: parsing `version: v0.2.0` workflows into steps, outputs and schemas.

pub mod python;
pub mod retry;
pub mod tree;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::yaml::Yaml as Y;

use crate::error::{Error, Result};
use crate::schema::Scope;
use crate::value::Value;
pub use python::InlineSource;
pub use retry::{RetryOn, RetryPolicy};
pub use tree::Tree;

pub const SUPPORTED_VERSION: &str = "v0.2.0";

#[derive(Debug, Clone)]
pub struct Workflow {
    pub path: PathBuf,
    pub input: Scope,
    pub steps: BTreeMap<String, Step>,
    pub outputs: BTreeMap<String, Tree>,
    /// `outputSchema`: declared output schemas and which outputs are errors.
    pub output_schema: BTreeMap<String, DeclaredOutput>,
    /// Seconds a step may run; negative means unlimited (the workflow-level `maxStepTimeout`).
    pub max_step_timeout: Option<f64>,
    /// `retry:` at the top level (arcaflow-py extension): the default of every plugin step.
    pub retry: Option<RetryPolicy>,
    /// `forkServer: false` launches every step of this workflow in a fresh interpreter (an
    /// arcaflow-py extension; see the config key of the same name).
    pub fork_server: Option<bool>,
}

#[derive(Debug, Clone)]
pub struct DeclaredOutput {
    pub schema: Option<Scope>,
    pub error: bool,
}

#[derive(Debug, Clone)]
pub struct Step {
    pub id: String,
    pub kind: StepKind,
    pub enabled: Option<Tree>,
    pub wait_for: Option<Tree>,
    pub stop_if: Option<Tree>,
    pub closure_wait_timeout: Option<Tree>,
    /// Per-step timeout override in seconds (negative: unlimited).
    pub timeout: Option<f64>,
    /// `retry:` (arcaflow-py extension); `None` falls back to the workflow's default.
    pub retry: Option<RetryPolicy>,
    /// `artifacts:` (arcaflow-py extension): the files (`report`) and directories (`traces/`)
    /// the step writes into its artifacts directory, which later steps may refer to.
    pub artifacts: Vec<String>,
}

impl Step {
    /// The declared artifacts by the name expressions use (`traces/` is `traces`), with whether
    /// each is a directory.
    pub fn artifact_names(&self) -> Vec<(String, bool)> {
        self.artifacts
            .iter()
            .map(|a| match a.strip_suffix('/') {
                Some(dir) => (dir.to_string(), true),
                None => (a.clone(), false),
            })
            .collect()
    }
}

/// When the engine needs an expression-bearing field of a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldUse {
    /// `enabled`: decides whether the step runs at all.
    Enabling,
    /// Needed before the step can start (its data dependencies).
    Start,
    /// `stop_if`: watched while the step runs; not a dependency of its start.
    WhileRunning,
    /// Type-checked only (`deploy`: arcaflow-py deploys every plugin the same way).
    CheckedOnly,
}

impl Step {
    /// Every expression-bearing field of the step, with its name and use, in one order that the
    /// static checks, the cycle check and the executor share.
    pub fn expression_fields(&self) -> Vec<(&'static str, &Tree, FieldUse)> {
        let mut fields: Vec<(&'static str, Option<&Tree>, FieldUse)> = vec![
            ("enabled", self.enabled.as_ref(), FieldUse::Enabling),
            ("wait_for", self.wait_for.as_ref(), FieldUse::Start),
            ("stop_if", self.stop_if.as_ref(), FieldUse::WhileRunning),
        ];
        match &self.kind {
            StepKind::Plugin(p) => fields.extend([
                ("input", Some(&p.input), FieldUse::Start),
                ("closure_wait_timeout", self.closure_wait_timeout.as_ref(), FieldUse::Start),
                ("deploy", p.deploy.as_ref(), FieldUse::CheckedOnly),
            ]),
            StepKind::Foreach(f) => fields.extend([
                ("items", Some(&f.items), FieldUse::Start),
                ("parallelism", f.parallelism.as_ref(), FieldUse::Start),
            ]),
        }
        fields.into_iter().filter_map(|(name, tree, use_)| tree.map(|t| (name, t, use_))).collect()
    }
}

#[derive(Debug, Clone)]
pub enum StepKind {
    Plugin(PluginStep),
    Foreach(ForeachStep),
}

#[derive(Debug, Clone)]
pub struct PluginStep {
    pub deployment_type: String,
    pub src: String,
    /// Overrides the module to run (default: the spec's name with '-' turned into '_').
    pub module: Option<String>,
    pub step: Option<String>,
    pub input: Tree,
    pub deploy: Option<Tree>,
    /// Set for a `kind: python` step (arcaflow-py extension): the inline function it runs.
    pub inline: Option<std::sync::Arc<InlineSource>>,
}

#[derive(Debug, Clone)]
pub struct ForeachStep {
    /// Path relative to the context directory, as in the reference engine.
    pub workflow_path: PathBuf,
    /// Shared by every foreach step that names the same file: each file is loaded once.
    pub workflow: std::sync::Arc<Workflow>,
    pub items: Tree,
    pub parallelism: Option<Tree>,
}

impl Workflow {
    /// Loads `path`; sub-workflows of foreach steps are found relative to `context`.
    pub fn load(path: &Path, context: &Path) -> Result<Workflow> {
        // The sub-workflows of this load, by file: a file named by many foreach steps (at many
        // levels) is read and parsed once, and shared.
        LOADED.with(|l| l.borrow_mut().clear());
        let result = load_nested(path, context, 0);
        LOADED.with(|l| l.borrow_mut().clear());
        result
    }

    /// Whether the output with this id is an error output (exit code 2).
    pub fn is_error_output(&self, id: &str) -> bool {
        match self.output_schema.get(id) {
            Some(d) => d.error,
            None => id == "error",
        }
    }
}

thread_local! {
    /// The sub-workflows loaded by the `Workflow::load` running on this thread.
    static LOADED: std::cell::RefCell<std::collections::HashMap<PathBuf, std::sync::Arc<Workflow>>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
    /// How many files were read and parsed on this thread (for tests of the above).
    static FILES_PARSED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// A sub-workflow, loaded once per file per top-level load.
fn load_shared(path: &Path, context: &Path, depth: usize) -> Result<std::sync::Arc<Workflow>> {
    if let Some(wf) = LOADED.with(|l| l.borrow().get(path).cloned()) {
        return Ok(wf);
    }
    let wf = std::sync::Arc::new(load_nested(path, context, depth)?);
    LOADED.with(|l| l.borrow_mut().insert(path.to_path_buf(), wf.clone()));
    Ok(wf)
}

fn load_nested(path: &Path, context: &Path, depth: usize) -> Result<Workflow> {
    FILES_PARSED.with(|n| n.set(n.get() + 1));
    let err = |message: String| Error::Workflow { path: path.to_path_buf(), message };
    if depth > 16 {
        return Err(err("foreach sub-workflows are nested more than 16 deep (is a workflow including itself?)".into()));
    }
    let text = crate::limits::read_text(path).map_err(err)?;
    parse_text(&text, path, context, depth)
}

/// Parses workflow text; `path` names it in errors and `context` is where sub-workflows are.
pub fn parse_text(text: &str, path: &Path, context: &Path, depth: usize) -> Result<Workflow> {
    let err = |message: String| Error::Workflow { path: path.to_path_buf(), message };
    if text.trim().is_empty() {
        return Err(err("the file is empty".into()));
    }
    let doc: Y = crate::yaml::parse_text(text).map_err(|e| err(e.to_string()))?;
    parse(&doc, path, context, depth).map_err(err)
}

fn parse(doc: &Y, path: &Path, context: &Path, depth: usize) -> std::result::Result<Workflow, String> {
    let top = doc.as_mapping().ok_or("the top level must be a map with version, input, steps and outputs")?;
    let mut version = None;
    let mut input = None;
    let mut steps_node = None;
    let mut outputs_node = None;
    let mut output_node = None;
    let mut output_schema_node = None;
    let mut max_step_timeout = None;
    let mut retry = None;
    let mut fork_server = None;
    for (k, v) in top {
        match k.as_str() {
            Some("version") => version = Some(v),
            Some("input") => input = Some(v),
            Some("steps") => steps_node = Some(v),
            Some("outputs") => outputs_node = Some(v),
            Some("output") => output_node = Some(v),
            Some("outputSchema") => output_schema_node = Some(v),
            Some("maxStepTimeout") => max_step_timeout = Some(seconds(v, "maxStepTimeout")?),
            Some("retry") => retry = Some(RetryPolicy::from_yaml(v, "retry")?),
            Some("forkServer") => match v {
                Y::Bool(b) => fork_server = Some(*b),
                _ => return Err("forkServer must be true or false".into()),
            },
            _ => {
                return Err(format!(
                    "invalid top-level key {}, expected one of: version, input, steps, outputs, output, outputSchema, maxStepTimeout, retry, forkServer",
                    key_text(k)
                ))
            }
        }
    }
    match version {
        None => return Err("'version' is required (use version: v0.2.0)".into()),
        Some(Y::String(v)) if v == SUPPORTED_VERSION => {}
        Some(other) => {
            return Err(format!(
                "unsupported workflow version {}; only {SUPPORTED_VERSION} is supported",
                scalar_text(other)
            ))
        }
    }
    let input = match input {
        None => return Err("'input' is required: the input scope schema (root and objects)".into()),
        Some(node) => Scope::from_value(&Value::from_yaml(node)).map_err(|e| format!("input: {e}"))?,
    };
    check_patterns(&input)?;
    let steps_map = match steps_node {
        None => return Err("'steps' is required and must have at least one step".into()),
        Some(Y::Map(m)) if !m.is_empty() => m,
        Some(_) => return Err("'steps' must be a map with at least one step".into()),
    };
    let mut steps = BTreeMap::new();
    for (k, v) in steps_map {
        let id = k.as_str().ok_or_else(|| format!("step id {} must be a string", key_text(k)))?;
        check_id(id).map_err(|e| format!("steps -> {id}: {e}"))?;
        steps.insert(id.to_string(), parse_step(id, v, context, depth)?);
    }
    let outputs = match (outputs_node, output_node) {
        (Some(_), Some(_)) => return Err("'outputs' and the deprecated 'output' cannot both be set".into()),
        (Some(Y::Map(m)), None) if !m.is_empty() => {
            let mut outputs = BTreeMap::new();
            for (k, v) in m {
                let id = k.as_str().ok_or_else(|| format!("output id {} must be a string", key_text(k)))?;
                check_id(id).map_err(|e| format!("outputs -> {id}: {e}"))?;
                outputs.insert(id.to_string(), Tree::from_yaml(v, &format!("outputs -> {id}"))?);
            }
            outputs
        }
        (Some(_), None) => return Err("'outputs' must be a map with at least one output".into()),
        (None, Some(node)) => [("success".to_string(), Tree::from_yaml(node, "output")?)].into_iter().collect(),
        (None, None) => return Err("'outputs' is required: a map from output id to the data it returns".into()),
    };
    let mut output_schema = BTreeMap::new();
    if let Some(node) = output_schema_node {
        let m = node.as_mapping().ok_or("outputSchema must be a map from output id to {schema, error}")?;
        for (k, v) in m {
            let id = k.as_str().ok_or("outputSchema keys must be strings")?.to_string();
            output_schema.insert(id.clone(), parse_declared_output(&id, v)?);
        }
        for id in outputs.keys() {
            if !output_schema.contains_key(id) {
                return Err(format!(
                    "outputSchema has no entry for output '{id}' (when outputSchema is given, every output needs one)"
                ));
            }
        }
    }
    Ok(Workflow {
        path: path.to_path_buf(),
        input,
        steps,
        outputs,
        output_schema,
        max_step_timeout,
        retry,
        fork_server,
    })
}

/// Every `pattern` of the workflow's input schema must compile: the input is checked only by us
/// (no plugin sees it first), so a pattern we cannot enforce would let anything through.
/// Plugins' own schemas are different: the plugin enforces its patterns with Python's `re`.
fn check_patterns(scope: &Scope) -> std::result::Result<(), String> {
    use crate::schema::Type;
    fn walk(ty: &Type, path: &str) -> std::result::Result<(), String> {
        match ty {
            Type::String { pattern: Some(p), .. } if p.compiled.is_none() => Err(format!(
                "input -> {path}: the pattern '{}' cannot be enforced (look-around, back-references and patterns over the size limit are not supported by the regex engine); rewrite it without them",
                p.source
            )),
            Type::List { items, .. } => walk(items, &format!("{path} -> items")),
            Type::Map { keys, values, .. } => {
                walk(keys, &format!("{path} -> keys"))?;
                walk(values, &format!("{path} -> values"))
            }
            Type::Object(o) => object(o, path),
            Type::Scope(s) => scope_walk(s, path),
            Type::OneOfString { types, .. } => types.iter().try_for_each(|(k, t)| walk(t, &format!("{path} -> {k}"))),
            Type::OneOfInt { types, .. } => types.iter().try_for_each(|(k, t)| walk(t, &format!("{path} -> {k}"))),
            _ => Ok(()),
        }
    }
    fn object(o: &crate::schema::ObjectSchema, path: &str) -> std::result::Result<(), String> {
        o.properties.iter().try_for_each(|(name, p)| walk(&p.ty, &format!("{path} -> {name}")))
    }
    fn scope_walk(s: &Scope, path: &str) -> std::result::Result<(), String> {
        s.objects.iter().try_for_each(|(id, o)| {
            object(o, &if path.is_empty() { format!("objects -> {id}") } else { format!("{path} -> objects -> {id}") })
        })
    }
    scope_walk(scope, "")
}

fn parse_declared_output(id: &str, v: &Y) -> std::result::Result<DeclaredOutput, String> {
    let m = v.as_mapping().ok_or(format!("outputSchema -> {id} must be a map"))?;
    let mut out = DeclaredOutput { schema: None, error: false };
    for (k, v) in m {
        match k.as_str() {
            Some("schema") => {
                out.schema = Some(
                    Scope::from_value(&Value::from_yaml(v))
                        .map_err(|e| format!("outputSchema -> {id} -> schema: {e}"))?,
                )
            }
            Some("error") => {
                out.error = v.as_bool().ok_or(format!("outputSchema -> {id} -> error must be true or false"))?
            }
            Some("display") => {}
            _ => {
                return Err(format!(
                    "outputSchema -> {id}: invalid key {}, expected one of: schema, error, display",
                    key_text(k)
                ))
            }
        }
    }
    Ok(out)
}

fn parse_step(id: &str, node: &Y, context: &Path, depth: usize) -> std::result::Result<Step, String> {
    let at = format!("steps -> {id}");
    let m = node.as_mapping().ok_or(format!("{at} must be a map"))?;
    let kind = match m.get("kind") {
        None => "plugin",
        Some(Y::String(k)) => k.as_str(),
        Some(other) => return Err(format!("{at} -> kind must be a string, got {}", scalar_text(other))),
    };
    let tree = |key: &str| -> std::result::Result<Option<Tree>, String> {
        m.get(key).map(|v| Tree::from_yaml(v, &format!("{at} -> {key}"))).transpose()
    };
    let allowed: &[&str] = match kind {
        "plugin" => &[
            "kind",
            "plugin",
            "step",
            "input",
            "deploy",
            "enabled",
            "wait_for",
            "closure_wait_timeout",
            "stop_if",
            "timeout",
            "retry",
            "artifacts",
        ],
        "foreach" => &["kind", "workflow", "items", "parallelism", "enabled", "wait_for", "timeout"],
        "python" => python::KEYS,
        other => {
            return Err(format!(
                "{at}: the step kind '{other}' is not supported (only the following are: plugin, foreach, python)"
            ))
        }
    };
    for (k, _) in m {
        if !k.as_str().is_some_and(|k| allowed.contains(&k)) {
            return Err(format!("{at}: invalid key {}, expected one of: {}", key_text(k), allowed.join(", ")));
        }
    }
    let timeout = m.get("timeout").map(|v| seconds(v, &format!("{at} -> timeout"))).transpose()?;
    let retry = m.get("retry").map(|v| RetryPolicy::from_yaml(v, &format!("{at} -> retry"))).transpose()?;
    let artifacts = match m.get("artifacts") {
        None => Vec::new(),
        Some(v) => parse_artifacts(v, &format!("{at} -> artifacts"))?,
    };
    let kind = match kind {
        "plugin" => StepKind::Plugin(parse_plugin_step(&at, m, &tree)?),
        "python" => {
            let inline = python::parse(&at, m, context)?;
            let input = tree("input")?
                .ok_or(format!("{at} -> input is required: the function's keyword arguments (input: {{}} for none)"))?;
            StepKind::Plugin(PluginStep {
                deployment_type: "python".into(),
                src: format!("inline:{}", inline.digest()),
                module: None,
                step: Some(python::INLINE_STEP.into()),
                input,
                deploy: None,
                inline: Some(std::sync::Arc::new(inline)),
            })
        }
        _ => {
            let rel = m.get("workflow").and_then(Y::as_str).ok_or(format!(
                "{at} -> workflow is required: the sub-workflow file, relative to the context directory"
            ))?;
            let workflow_path = PathBuf::from(rel);
            let full = context.join(&workflow_path);
            let sub = load_shared(&full, context, depth + 1).map_err(|e| format!("{at} -> workflow: {e}"))?;
            if !sub.outputs.contains_key("success") {
                return Err(format!("{at}: the sub-workflow {} must have an output named 'success'", rel));
            }
            let items =
                tree("items")?.ok_or(format!("{at} -> items is required: the list to run the sub-workflow for"))?;
            StepKind::Foreach(ForeachStep { workflow_path, workflow: sub, items, parallelism: tree("parallelism")? })
        }
    };
    Ok(Step {
        id: id.to_string(),
        kind,
        enabled: tree("enabled")?,
        wait_for: tree("wait_for")?,
        stop_if: tree("stop_if")?,
        closure_wait_timeout: tree("closure_wait_timeout")?,
        timeout,
        retry,
        artifacts,
    })
}

fn parse_plugin_step(
    at: &str,
    m: &crate::yaml::Mapping,
    tree: &dyn Fn(&str) -> std::result::Result<Option<Tree>, String>,
) -> std::result::Result<PluginStep, String> {
    let (deployment_type, src, module) = match m.get("plugin") {
        None => return Err(format!("{at} -> plugin is required: {{deployment_type: python, src: <module spec>}}")),
        // The legacy string form shown in the python deployer's README.
        Some(Y::String(src)) => ("python".to_string(), src.clone(), None),
        Some(Y::Map(p)) => {
            let mut deployment_type = None;
            let mut src = None;
            let mut module = None;
            for (k, v) in p {
                let text = || {
                    v.as_str().map(str::to_string).ok_or(format!("{at} -> plugin -> {} must be a string", key_text(k)))
                };
                match k.as_str() {
                    Some("deployment_type") => deployment_type = Some(text()?),
                    Some("src") => src = Some(text()?),
                    Some("module") => module = Some(text()?),
                    _ => {
                        return Err(format!(
                            "{at} -> plugin: invalid key {}, expected one of: deployment_type, src, module",
                            key_text(k)
                        ))
                    }
                }
            }
            let deployment_type =
                deployment_type.ok_or(format!("{at} -> plugin -> deployment_type is required (python)"))?;
            let src =
                src.filter(|s| !s.is_empty()).ok_or(format!("{at} -> plugin -> src is required: the module spec"))?;
            (deployment_type, src, module)
        }
        Some(other) => {
            return Err(format!("{at} -> plugin must be a map or a module spec string, got {}", scalar_text(other)))
        }
    };
    let step = match m.get("step") {
        None => None,
        Some(Y::String(s)) => Some(s.clone()),
        Some(other) => return Err(format!("{at} -> step must be a string, got {}", scalar_text(other))),
    };
    let input =
        tree("input")?.ok_or(format!("{at} -> input is required (use input: {{}} for a step without input)"))?;
    Ok(PluginStep { deployment_type, src, module, step, input, deploy: tree("deploy")?, inline: None })
}

/// `artifacts: [report, traces/]`: relative paths inside the step's artifacts directory; a
/// trailing `/` marks a directory.
fn parse_artifacts(v: &Y, at: &str) -> std::result::Result<Vec<String>, String> {
    let items = v.as_sequence().ok_or(format!("{at} must be a list of file names (a trailing / marks a directory)"))?;
    let mut out: Vec<String> = Vec::new();
    for item in items {
        let name = item.as_str().ok_or(format!("{at}: {item} is not a file name"))?;
        let bare = name.strip_suffix('/').unwrap_or(name);
        let path = Path::new(bare);
        let ok = !bare.is_empty()
            && !path.is_absolute()
            && path.components().all(|c| matches!(c, std::path::Component::Normal(_)))
            && !bare.chars().any(char::is_control);
        if !ok {
            return Err(format!("{at}: '{name}' must be a relative path inside the step's artifacts directory"));
        }
        if out.iter().any(|o| o.trim_end_matches('/') == bare) {
            return Err(format!("{at}: '{bare}' is declared twice"));
        }
        out.push(name.to_string());
    }
    Ok(out)
}

fn seconds(v: &Y, at: &str) -> std::result::Result<f64, String> {
    match v {
        Y::Int(_) | Y::Float(_) => {
            crate::seconds::check(at, v.as_f64().ok_or(format!("{at} must be a number of seconds"))?)
        }
        _ => Err(format!("{at} must be a number of seconds (-1 for unlimited), got {}", scalar_text(v))),
    }
}

fn check_id(id: &str) -> std::result::Result<(), String> {
    let ok = !id.is_empty()
        && id.len() <= 255
        && id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '$' | '@' | '-' | '_'));
    if ok {
        Ok(())
    } else {
        Err(format!("'{id}' is not a valid id (1-255 of letters, digits, '-', '_', '$', '@')"))
    }
}

fn key_text(k: &Y) -> String {
    match k.as_str() {
        Some(s) => format!("'{s}'"),
        None => scalar_text(k),
    }
}

fn scalar_text(v: &Y) -> String {
    v.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn load(text: &str) -> Result<Workflow> {
        parse_text(text, Path::new("w.yaml"), Path::new("/nonexistent-context"), 0)
    }

    #[test]
    fn a_minimal_workflow_loads() {
        let wf = load("version: v0.2.0\ninput: {root: I, objects: {I: {id: I, properties: {}}}}\nsteps:\n  a:\n    plugin: {deployment_type: python, src: x}\n    input: {n: !expr $.input}\noutputs:\n  success: {a: !expr $.steps.a.outputs.success}\n").unwrap();
        assert_eq!(wf.steps.len(), 1);
        assert!(matches!(wf.steps["a"].kind, StepKind::Plugin(_)));
    }

    /// A traversal guard written with a look-ahead: the regex engine cannot compile it, so the
    /// workflow is refused at load instead of `../../etc/passwd` passing unchecked.
    #[test]
    fn an_input_pattern_that_cannot_be_enforced_is_refused_at_load() {
        let wf = |pattern: &str| {
            format!(
                "version: v0.2.0\ninput: {{root: I, objects: {{I: {{id: I, properties: {{p: {{type: {{type_id: list, items: {{type_id: string, pattern: '{pattern}'}}}}}}}}}}}}}}\nsteps:\n  a:\n    plugin: {{deployment_type: python, src: x}}\n    input: {{n: !expr $.input}}\noutputs:\n  success: {{a: !expr $.steps.a.outputs.success}}\n"
            )
        };
        let e = load(&wf("^(?!.*\\.\\.)[a-z/.]+$")).unwrap_err().to_string();
        assert!(
            e.contains("input -> objects -> I -> p -> items: the pattern '^(?!.*\\.\\.)[a-z/.]+$' cannot be enforced"),
            "{e}"
        );
        assert!(load(&wf("(a)\\1")).is_err(), "back-references");
        // One the engine compiles is enforced: `../../etc/passwd` does not match it.
        let ok = load(&wf("^[a-z/]+$")).unwrap();
        let schema = ok.input.clone();
        let input = crate::value::Value::from_yaml(&crate::yaml::parse_text("{p: [../../etc/passwd]}").unwrap());
        assert!(schema.validate(&input).is_err());
    }

    /// Five levels, each file naming the next one from six foreach steps: 6^5 references, and
    /// each of the six files is read and parsed once.
    #[test]
    fn nested_sub_workflows_are_loaded_once_per_file() {
        let dir = tempfile::tempdir().unwrap();
        let leaf = "version: v0.2.0\ninput: {root: I, objects: {I: {id: I, properties: {}}}}\nsteps:\n  a:\n    plugin: {deployment_type: python, src: x}\n    input: {}\noutputs:\n  success: {a: !expr $.steps.a.outputs.success}\n";
        std::fs::write(dir.path().join("w5.yaml"), leaf).unwrap();
        for level in (0..5).rev() {
            let mut text =
                "version: v0.2.0\ninput: {root: I, objects: {I: {id: I, properties: {}}}}\nsteps:\n".to_string();
            for i in 0..6 {
                text.push_str(&format!(
                    "  f{i}:\n    kind: foreach\n    workflow: w{}.yaml\n    items: [{{}}]\n",
                    level + 1
                ));
            }
            text.push_str("outputs:\n  success: {a: !expr $.steps.f0.outputs.success}\n");
            std::fs::write(dir.path().join(format!("w{level}.yaml")), text).unwrap();
        }
        FILES_PARSED.with(|n| n.set(0));
        let wf = Workflow::load(&dir.path().join("w0.yaml"), dir.path()).unwrap();
        assert_eq!(FILES_PARSED.with(|n| n.get()), 6, "each file is parsed once");
        let (StepKind::Foreach(a), StepKind::Foreach(b)) = (&wf.steps["f0"].kind, &wf.steps["f5"].kind) else {
            panic!("foreach steps")
        };
        assert!(std::sync::Arc::ptr_eq(&a.workflow, &b.workflow), "and shared");
    }

    const FRAGMENTS: &[&str] = &[
        "version: v0.2.0\n",
        "input: {root: I, objects: {I: {id: I, properties: {}}}}\n",
        "steps:\n",
        "  a:\n",
        "    plugin: {deployment_type: python, src: x}\n",
        "    plugin: x\n",
        "    kind: foreach\n",
        "    workflow: sub.yaml\n",
        "    input: !expr $.input\n",
        "    input: {a: !oneof {discriminator: d, one_of: {x: {}}}}\n",
        "    enabled: !expr '1 +'\n",
        "    wait_for: !ordisabled $.steps.a.outputs\n",
        "outputs:\n",
        "  success: {a: !wait-optional $.steps}\n",
        "output: 5\n",
        "outputSchema: {success: {schema: 1}}\n",
        "&a x: *a\n",
        "- - -\n",
        "{",
        "]",
        "!!binary aGVsbG8=\n",
        "maxStepTimeout: .nan\n",
        "    timeout: -1\n",
        "  ? [a]\n  : b\n",
        "\t",
        "'",
        "\"\\u0000\"\n",
        "~\n",
        "steps: {a: 1}\n",
    ];

    proptest! {
        // Case count: PROPTEST_CASES (default 256); long local runs are in RELIABILITY.md.
        #[test]
        fn arbitrary_text_never_panics(text in ".{0,400}") {
            let _ = load(&text);
        }

        #[test]
        fn arbitrary_workflow_fragments_never_panic(parts in proptest::collection::vec(proptest::sample::select(FRAGMENTS), 0..24)) {
            let _ = load(&parts.concat());
        }
    }
}
