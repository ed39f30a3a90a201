//! Owns `argo simulate`: running a manifest on this machine with Argo's semantics for the subset
//! we emit (DAG tasks, `depends` evaluated once every named task finished, `when` → Skipped,
//! unmet `depends` → Omitted, output defaults for absent files and skipped producers, the sole
//! leaf deciding the phase, script sources appended to the command, retry on an exit-code
//! expression), each task's container command run as a local process in its own sandbox
//! (fresh HOME, TMPDIR, working directory, its own copy of every container path).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::depends::{self, Phase};

#[derive(Debug, Clone)]
pub struct Options {
    /// Replaces the workflow parameter `input` (as `argo submit -p input=…` would).
    pub input: Option<String>,
    /// A shared plugin cache for every task (a pre-built image or shared volume); without it
    /// each task builds what it needs in its own sandbox.
    pub cache: Option<PathBuf>,
    /// Where the sandboxes go (kept afterwards); a temporary directory otherwise.
    pub work: Option<PathBuf>,
    /// The binary that stands for `arcaflow-py` in the image.
    pub binary: PathBuf,
    /// Directory with one sub-directory per Kubernetes Secret (`SECRET/KEY` files).
    pub secrets: Option<PathBuf>,
    pub verbose: bool,
}

#[derive(Debug, Clone)]
pub struct NodeResult {
    pub phase: Phase,
    pub exit_code: Option<i32>,
    pub outputs: BTreeMap<String, String>,
    pub message: String,
}

#[derive(Debug, Clone)]
pub struct Outcome {
    pub succeeded: bool,
    /// `status.outputs.parameters` (by globalName).
    pub outputs: BTreeMap<String, String>,
    /// Every node by its path (`main.task`), as Argo's node list.
    pub nodes: BTreeMap<String, NodeResult>,
    /// The exit code of the sole leaf that failed, when one did.
    pub leaf_exit_code: Option<i32>,
}

struct Sim<'a> {
    doc: &'a Value,
    templates: BTreeMap<String, &'a Value>,
    globals: BTreeMap<String, String>,
    opts: &'a Options,
    work: PathBuf,
}

pub fn simulate(doc: &Value, opts: &Options) -> Result<Outcome, String> {
    let spec = doc.get("spec").ok_or("the manifest has no spec")?;
    let templates: BTreeMap<String, &Value> = spec
        .get("templates")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|t| Some((t.get("name")?.as_str()?.to_string(), t)))
        .collect();
    let mut globals = BTreeMap::new();
    let name = doc
        .pointer("/metadata/name")
        .or(doc.pointer("/metadata/generateName"))
        .and_then(Value::as_str)
        .unwrap_or("workflow");
    let name = if name.ends_with('-') { format!("{name}sim0") } else { name.to_string() };
    globals.insert("workflow.name".to_string(), name.clone());
    globals.insert("workflow.namespace".to_string(), "default".to_string());
    globals.insert("workflow.uid".to_string(), format!("sim-{name}"));
    for p in spec.pointer("/arguments/parameters").and_then(Value::as_array).into_iter().flatten() {
        let n = p.get("name").and_then(Value::as_str).unwrap_or_default();
        let v = p.get("value").and_then(Value::as_str).unwrap_or_default();
        globals.insert(format!("workflow.parameters.{n}"), v.to_string());
    }
    if let Some(input) = &opts.input {
        globals.insert("workflow.parameters.input".into(), input.clone());
    }
    let (_tmp, work) = match &opts.work {
        Some(w) => {
            std::fs::create_dir_all(w).map_err(|e| format!("cannot create {}: {e}", w.display()))?;
            (None, w.clone())
        }
        None => {
            let t = tempfile::Builder::new().prefix("arcaflow-simulate-").tempdir().map_err(|e| e.to_string())?;
            let p = t.path().to_path_buf();
            (Some(t), p)
        }
    };
    let sim = Sim { doc, templates, globals, opts, work };
    let entry = spec.get("entrypoint").and_then(Value::as_str).ok_or("the manifest has no entrypoint")?;
    let mut nodes = BTreeMap::new();
    let result = sim.run_template(entry, entry, &BTreeMap::new(), &mut nodes)?;
    let mut outputs = BTreeMap::new();
    let mut leaf_exit_code = None;
    for (path, n) in &nodes {
        let task_tmpl = sim.template_of_node(path);
        for p in
            task_tmpl.and_then(|t| t.pointer("/outputs/parameters")).and_then(Value::as_array).into_iter().flatten()
        {
            if let (Some(g), Some(n2)) =
                (p.get("globalName").and_then(Value::as_str), p.get("name").and_then(Value::as_str))
            {
                if let Some(v) = n.outputs.get(n2) {
                    outputs.insert(g.to_string(), v.clone());
                }
            }
        }
        if n.phase == Phase::Failed && sim.is_leaf(path) {
            leaf_exit_code = n.exit_code;
        }
    }
    let _ = sim.doc;
    Ok(Outcome { succeeded: result.phase == Phase::Succeeded, outputs, nodes, leaf_exit_code })
}

impl<'a> Sim<'a> {
    fn template_of_node(&self, path: &str) -> Option<&'a Value> {
        // Node paths are `dag.task`; find the task's template in the DAG.
        let (dag, task) = path.rsplit_once('.')?;
        let dag_name = dag.rsplit('.').next()?;
        let dag_t = self.templates.get(dag_name)?;
        let t = dag_t
            .pointer("/dag/tasks")
            .and_then(Value::as_array)?
            .iter()
            .find(|t| t.get("name").and_then(Value::as_str) == Some(task))?;
        self.templates.get(t.get("template")?.as_str()?).copied()
    }

    fn is_leaf(&self, path: &str) -> bool {
        let Some((dag, task)) = path.rsplit_once('.') else { return true };
        let Some(dag_t) = dag.rsplit('.').next().and_then(|d| self.templates.get(d)) else { return false };
        let tasks = dag_t.pointer("/dag/tasks").and_then(Value::as_array).cloned().unwrap_or_default();
        !tasks.iter().any(|t| {
            t.get("depends")
                .and_then(Value::as_str)
                .and_then(|d| depends::parse(d).ok())
                .is_some_and(|e| e.tasks().iter().any(|x| x == task))
        })
    }

    fn run_template(
        &self,
        name: &str,
        node: &str,
        args: &BTreeMap<String, String>,
        nodes: &mut BTreeMap<String, NodeResult>,
    ) -> Result<NodeResult, String> {
        let t = self.templates.get(name).ok_or(format!("template '{name}' is not defined"))?;
        let inputs = self.inputs_of(t, args)?;
        if t.get("dag").is_some() {
            self.run_dag(t, node, &inputs, nodes)
        } else if t.get("script").is_some() || t.get("plugin").is_some() {
            Ok(self.run_script(t, node, &inputs))
        } else {
            Err(format!("template '{name}': simulate runs DAG, script and arcaflow plugin templates only"))
        }
    }

    fn inputs_of(&self, t: &Value, args: &BTreeMap<String, String>) -> Result<Vec<(String, String)>, String> {
        let mut out = Vec::new();
        for p in t.pointer("/inputs/parameters").and_then(Value::as_array).into_iter().flatten() {
            let n = p.get("name").and_then(Value::as_str).unwrap_or_default().to_string();
            let v = args
                .get(&n)
                .cloned()
                .or_else(|| p.get("value").and_then(Value::as_str).map(str::to_string))
                .or_else(|| p.get("default").and_then(Value::as_str).map(str::to_string))
                .ok_or(format!("input parameter '{n}' was not supplied"))?;
            out.push((n, v));
        }
        Ok(out)
    }

    fn run_dag(
        &self,
        t: &Value,
        node: &str,
        inputs: &[(String, String)],
        nodes: &mut BTreeMap<String, NodeResult>,
    ) -> Result<NodeResult, String> {
        let tasks: Vec<&Value> = t.pointer("/dag/tasks").and_then(Value::as_array).into_iter().flatten().collect();
        let mut pending: Vec<&Value> = tasks.clone();
        let mut done: BTreeMap<String, NodeResult> = BTreeMap::new();
        let mut running = 0usize;
        let (tx, rx) = mpsc::channel::<(String, Result<NodeResult, String>, BTreeMap<String, NodeResult>)>();
        let input_scope: BTreeMap<String, String> =
            inputs.iter().map(|(k, v)| (format!("inputs.parameters.{k}"), v.clone())).collect();
        std::thread::scope(|scope| -> Result<(), String> {
            loop {
                let mut progressed = true;
                while progressed {
                    progressed = false;
                    let mut still = Vec::new();
                    for task in std::mem::take(&mut pending) {
                        let tname = task.get("name").and_then(Value::as_str).unwrap_or_default().to_string();
                        let dep_expr = match task.get("depends").and_then(Value::as_str) {
                            Some(d) => {
                                Some(depends::parse(d).map_err(|e| format!("task '{tname}': invalid depends: {e}"))?)
                            }
                            None => None,
                        };
                        let named = dep_expr.as_ref().map(|e| e.tasks()).unwrap_or_default();
                        // Argo evaluates `depends` only once every task it names has finished.
                        if !named.iter().all(|d| done.contains_key(d)) {
                            still.push(task);
                            continue;
                        }
                        progressed = true;
                        let phases: BTreeMap<String, Phase> = done.iter().map(|(k, v)| (k.clone(), v.phase)).collect();
                        if let Some(e) = &dep_expr {
                            if !e.eval(&phases) {
                                let r = NodeResult {
                                    phase: Phase::Omitted,
                                    exit_code: None,
                                    outputs: BTreeMap::new(),
                                    message: "depends not met".into(),
                                };
                                nodes.insert(format!("{node}.{tname}"), r.clone());
                                done.insert(tname, r);
                                continue;
                            }
                        }
                        let scope_vars = self.task_scope(&tasks, &done, &input_scope);
                        let mut args = BTreeMap::new();
                        for p in task.pointer("/arguments/parameters").and_then(Value::as_array).into_iter().flatten() {
                            let n = p.get("name").and_then(Value::as_str).unwrap_or_default();
                            let v = p.get("value").and_then(Value::as_str).unwrap_or_default();
                            args.insert(
                                n.to_string(),
                                substitute(v, &scope_vars).map_err(|e| format!("task '{tname}': {e}"))?,
                            );
                        }
                        if let Some(w) = task.get("when").and_then(Value::as_str) {
                            let text = substitute(w, &scope_vars).map_err(|e| format!("task '{tname}': when: {e}"))?;
                            if !eval_when(&text).map_err(|e| format!("task '{tname}': when '{text}': {e}"))? {
                                let r = NodeResult {
                                    phase: Phase::Skipped,
                                    exit_code: None,
                                    outputs: BTreeMap::new(),
                                    message: format!("when '{text}' evaluated false"),
                                };
                                nodes.insert(format!("{node}.{tname}"), r.clone());
                                done.insert(tname, r);
                                continue;
                            }
                        }
                        if ["withItems", "withParam", "withSequence"].iter().any(|k| task.get(*k).is_some()) {
                            return Err(format!("task '{tname}': loops (withItems/withParam) are not simulated yet"));
                        }
                        let template = task.get("template").and_then(Value::as_str).unwrap_or_default().to_string();
                        let child = format!("{node}.{tname}");
                        let tx = tx.clone();
                        running += 1;
                        scope.spawn(move || {
                            let mut sub_nodes = BTreeMap::new();
                            let r = self.run_template(&template, &child, &args, &mut sub_nodes);
                            let _ = tx.send((tname, r, sub_nodes));
                        });
                    }
                    pending = still;
                }
                if running == 0 {
                    if !pending.is_empty() {
                        return Err("some tasks can never start (a depends cycle?)".into());
                    }
                    return Ok(());
                }
                let (tname, r, sub_nodes) = rx.recv().map_err(|e| e.to_string())?;
                running -= 1;
                nodes.extend(sub_nodes);
                let r = r?;
                if self.opts.verbose {
                    crate::ui::Printer::default().notice(&format!(
                        "simulate: {node}.{tname}: {} {}",
                        r.phase.name(),
                        r.message
                    ));
                }
                nodes.insert(format!("{node}.{tname}"), r.clone());
                done.insert(tname, r);
            }
        })?;
        // The DAG's phase comes from its leaves (assessDAGPhase): any failed leaf fails it.
        let depended: Vec<String> = tasks
            .iter()
            .filter_map(|t| t.get("depends").and_then(Value::as_str).and_then(|d| depends::parse(d).ok()))
            .flat_map(|e| e.tasks())
            .collect();
        let failed_leaf = done
            .iter()
            .filter(|(k, _)| !depended.contains(k))
            .any(|(_, v)| matches!(v.phase, Phase::Failed | Phase::Errored));
        let phase = if failed_leaf { Phase::Failed } else { Phase::Succeeded };
        Ok(NodeResult { phase, exit_code: None, outputs: BTreeMap::new(), message: String::new() })
    }

    /// What a task's fields may reference: globals, the DAG's inputs, finished tasks' outputs.
    fn task_scope(
        &self,
        tasks: &[&Value],
        done: &BTreeMap<String, NodeResult>,
        inputs: &BTreeMap<String, String>,
    ) -> BTreeMap<String, String> {
        let mut s = self.globals.clone();
        s.extend(inputs.clone());
        for (name, r) in done {
            s.insert(format!("tasks.{name}.status"), r.phase.name().to_string());
            if let Some(code) = r.exit_code {
                s.insert(format!("tasks.{name}.exitCode"), code.to_string());
            }
            for (k, v) in &r.outputs {
                s.insert(format!("tasks.{name}.outputs.parameters.{k}"), v.clone());
            }
            // A skipped or omitted producer's outputs take their declared defaults (Argo ≥ 3.7.16).
            if matches!(r.phase, Phase::Skipped | Phase::Omitted) {
                let tmpl = tasks
                    .iter()
                    .find(|t| t.get("name").and_then(Value::as_str) == Some(name))
                    .and_then(|t| t.get("template").and_then(Value::as_str))
                    .and_then(|n| self.templates.get(n));
                for p in
                    tmpl.and_then(|t| t.pointer("/outputs/parameters")).and_then(Value::as_array).into_iter().flatten()
                {
                    if let (Some(n), Some(d)) =
                        (p.get("name").and_then(Value::as_str), p.pointer("/valueFrom/default").and_then(Value::as_str))
                    {
                        s.insert(format!("tasks.{name}.outputs.parameters.{n}"), d.to_string());
                    }
                }
            }
        }
        s
    }

    fn run_script(&self, t: &Value, node: &str, inputs: &[(String, String)]) -> NodeResult {
        let limit = t
            .pointer("/retryStrategy/limit")
            .and_then(|l| l.as_u64().or_else(|| l.as_str().and_then(|s| s.parse().ok())))
            .unwrap_or(0);
        let expression = t.pointer("/retryStrategy/expression").and_then(Value::as_str);
        let mut attempt = 0;
        loop {
            let r = self.attempt(t, node, inputs, attempt);
            let retry = r.phase == Phase::Failed
                && t.get("retryStrategy").is_some()
                && attempt < limit
                && match expression {
                    None => true,
                    Some(e) => eval_retry_expression(e, r.exit_code),
                };
            if !retry {
                return r;
            }
            attempt += 1;
        }
    }

    fn attempt(&self, t: &Value, node: &str, inputs: &[(String, String)], attempt: u64) -> NodeResult {
        let fail =
            |m: String| NodeResult { phase: Phase::Errored, exit_code: None, outputs: BTreeMap::new(), message: m };
        let root = self.work.join(format!("{}-{attempt}", node.replace('.', "_")));
        let fs = root.join("fs");
        let home = root.join("home");
        let tmp = root.join("tmp");
        let wd = root.join("work");
        for d in [&fs, &home, &tmp, &wd] {
            if let Err(e) = std::fs::create_dir_all(d) {
                return fail(format!("cannot create {}: {e}", d.display()));
            }
        }
        let map = |p: &str| -> PathBuf { fs.join(p.trim_start_matches('/')) };
        let mut scope = self.globals.clone();
        scope.insert("node.name".into(), node.to_string());
        scope.insert("retries".into(), attempt.to_string());
        let list: Vec<Value> = inputs.iter().map(|(k, v)| serde_json::json!({"name": k, "value": v})).collect();
        scope.insert("inputs.parameters".into(), serde_json::to_string(&list).unwrap_or_default());
        for (k, v) in inputs {
            scope.insert(format!("inputs.parameters.{k}"), v.clone());
        }
        let synthesized;
        let t = match t.get("plugin") {
            Some(plugin) => match plugin_as_script(t, plugin, &mut scope) {
                Ok(s) => {
                    synthesized = s;
                    &synthesized
                }
                Err(m) => {
                    return NodeResult { phase: Phase::Failed, exit_code: None, outputs: BTreeMap::new(), message: m }
                }
            },
            None => t,
        };
        for a in t.pointer("/inputs/artifacts").and_then(Value::as_array).into_iter().flatten() {
            let (Some(path), Some(data)) =
                (a.get("path").and_then(Value::as_str), a.pointer("/raw/data").and_then(Value::as_str))
            else {
                return fail("simulate supports raw input artifacts only".into());
            };
            let data = match substitute(data, &scope) {
                Ok(d) => d,
                Err(e) => return fail(e),
            };
            let target = map(path);
            if let Some(parent) = target.parent() {
                let _ = std::fs::create_dir_all(parent);
            }
            if let Err(e) = std::fs::write(&target, data) {
                return fail(format!("cannot write {}: {e}", target.display()));
            }
        }
        let script = &t["script"];
        let source = match substitute(script.get("source").and_then(Value::as_str).unwrap_or_default(), &scope) {
            Ok(s) => s,
            Err(e) => return fail(e),
        };
        let script_path = map("/argo/staging/script");
        if let Some(parent) = script_path.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        if let Err(e) = std::fs::write(&script_path, source) {
            return fail(format!("cannot write the script: {e}"));
        }
        let command: Vec<String> = script
            .get("command")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect();
        let Some((program, args)) = command.split_first() else { return fail("the script has no command".into()) };
        let program = if program == "arcaflow-py" { self.opts.binary.clone() } else { PathBuf::from(program) };
        let mut cmd = Command::new(&program);
        for a in args {
            cmd.arg(if a.starts_with('/') { map(a).into_os_string() } else { a.into() });
        }
        cmd.arg(&script_path);
        // A scrubbed environment: only what a container image would also have.
        cmd.env_clear();
        cmd.env("PATH", std::env::var_os("PATH").unwrap_or_default());
        cmd.env("HOME", &home).env("TMPDIR", &tmp).env("LANG", "C.UTF-8");
        // How this machine reaches the network (proxies, CA bundles, package indexes) is what a
        // cluster's pods get from their image and namespace, not state shared between tasks.
        for (n, v) in std::env::vars_os() {
            if network_setting(&n.to_string_lossy()) {
                cmd.env(n, v);
            }
        }
        for e in script.get("env").and_then(Value::as_array).into_iter().flatten() {
            let (Some(n), Some(v)) = (e.get("name").and_then(Value::as_str), e.get("value").and_then(Value::as_str))
            else {
                continue;
            };
            let v = if n == "ARCAFLOW_PY_WORKDIR" {
                match &self.opts.cache {
                    Some(c) => c.clone().into_os_string(),
                    None => map(v).into_os_string(),
                }
            } else if v.starts_with('/') {
                map(v).into_os_string()
            } else {
                v.into()
            };
            cmd.env(n, v);
        }
        for m in script.get("volumeMounts").and_then(Value::as_array).into_iter().flatten() {
            let (Some(vol), Some(mount)) =
                (m.get("name").and_then(Value::as_str), m.get("mountPath").and_then(Value::as_str))
            else {
                continue;
            };
            let secret = self
                .doc
                .pointer("/spec/volumes")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .find(|v| v.get("name").and_then(Value::as_str) == Some(vol))
                .and_then(|v| v.pointer("/secret/secretName"))
                .and_then(Value::as_str);
            let (Some(secret), Some(dir)) = (secret, &self.opts.secrets) else {
                return fail(format!("volume '{vol}': simulate mounts Secret volumes from --secrets DIR only"));
            };
            if let Err(e) = copy_dir(&dir.join(secret), &map(mount)) {
                return fail(format!("cannot mount secret '{secret}': {e}"));
            }
        }
        let wdir = script.get("workingDir").and_then(Value::as_str).map(&map).unwrap_or(wd);
        let _ = std::fs::create_dir_all(&wdir);
        cmd.current_dir(&wdir).stdin(Stdio::null());
        let (Ok(out), Ok(err)) =
            (std::fs::File::create(root.join("stdout")), std::fs::File::create(root.join("stderr")))
        else {
            return fail("cannot create the log files".into());
        };
        cmd.stdout(out).stderr(err);
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let deadline = t
            .get("activeDeadlineSeconds")
            .and_then(|v| v.as_u64().or_else(|| v.as_str().and_then(|s| s.parse().ok())))
            .map(Duration::from_secs);
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => return fail(format!("cannot start {}: {e}", program.display())),
        };
        let started = Instant::now();
        let status = loop {
            match child.try_wait() {
                Ok(Some(s)) => break Some(s),
                Ok(None) => {}
                Err(_) => break None,
            }
            if deadline.is_some_and(|d| started.elapsed() > d) {
                // Kill the whole group the task started, as the kubelet kills the pod.
                crate::sys::kill_process_group(child.id() as i32);
                let _ = child.wait();
                return NodeResult {
                    phase: Phase::Failed,
                    exit_code: None,
                    outputs: BTreeMap::new(),
                    message: "Pod was active on the node longer than the specified deadline".into(),
                };
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let code = status.and_then(|s| s.code());
        let phase = if code == Some(0) { Phase::Succeeded } else { Phase::Failed };
        // The wait container saves output parameters whatever the main container's exit code.
        let mut outputs = BTreeMap::new();
        for p in t.pointer("/outputs/parameters").and_then(Value::as_array).into_iter().flatten() {
            let n = p.get("name").and_then(Value::as_str).unwrap_or_default().to_string();
            let value = match p.pointer("/valueFrom/path").and_then(Value::as_str) {
                Some(path) => std::fs::read_to_string(map(path))
                    .ok()
                    .or_else(|| p.pointer("/valueFrom/default").and_then(Value::as_str).map(str::to_string)),
                None => p.get("value").and_then(Value::as_str).map(str::to_string),
            };
            match value {
                Some(v) => {
                    outputs.insert(n, v);
                }
                None => {
                    return NodeResult {
                        phase: Phase::Errored,
                        exit_code: code,
                        outputs,
                        message: format!("output parameter '{n}': the file is missing and there is no default"),
                    }
                }
            }
        }
        let message = match code {
            Some(0) => String::new(),
            Some(c) => format!("Error (exit code {c})"),
            None => "killed by a signal".into(),
        };
        if self.opts.verbose && code != Some(0) {
            if let Ok(text) = std::fs::read_to_string(root.join("stderr")) {
                crate::ui::Printer::default().notice(&format!("simulate: {node} stderr:\n{text}"));
            }
        }
        NodeResult { phase, exit_code: code, outputs, message }
    }
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        if e.file_type()?.is_file() {
            std::fs::copy(e.path(), to.join(e.file_name()))?;
        }
    }
    Ok(())
}

/// Replaces every `{{name}}` with its value; an unknown name is an error, as in Argo.
/// An `arcaflow` plugin template as the script template that runs the same step: the plugin
/// object is substituted as Argo does it (into the JSON-marshalled template, values escaped for
/// JSON), and what `serve-plugin` would read from it (plan, input, step, upstream) is handed to
/// `node run`, the code the plugin runs steps with, through new scope entries (so their text is
/// not substituted again). Its exit code maps to the phase as `serve-plugin`'s reply does.
fn plugin_as_script(t: &Value, plugin: &Value, scope: &mut BTreeMap<String, String>) -> Result<Value, String> {
    use super::export::{CACHE_DIR, INPUT_PATH, OUT_DIR, PLAN_PATH, PLUGIN_KEY};
    let escaped: BTreeMap<String, String> = scope
        .iter()
        .map(|(k, v)| {
            let quoted = serde_json::to_string(v).unwrap_or_default();
            (k.clone(), quoted[1..quoted.len().saturating_sub(1)].to_string())
        })
        .collect();
    let text = substitute(&serde_json::to_string(plugin).map_err(|e| e.to_string())?, &escaped)?;
    let body: Value =
        serde_json::from_str(&text).map_err(|e| format!("the substituted plugin object is not JSON: {e}"))?;
    // Argo's agent: no plugin answered for this template.
    let ours = body.get(PLUGIN_KEY).ok_or("no plugin executed the template")?;
    let field = |n: &str| {
        ours.get(n).and_then(Value::as_str).map(str::to_string).ok_or(format!("plugin.{PLUGIN_KEY} has no '{n}'"))
    };
    let params = serde_json::json!([{"name": "step", "value": field("step")?}, {"name": "upstream", "value": field("upstream")?}]);
    scope.insert("arcaflow.plugin.plan".into(), field("plan")?);
    scope.insert("arcaflow.plugin.input".into(), field("input")?);
    scope.insert("arcaflow.plugin.params".into(), params.to_string());
    Ok(serde_json::json!({
        "name": t.get("name"),
        "outputs": t.get("outputs"),
        "inputs": {"artifacts": [
            {"name": "plan", "path": PLAN_PATH, "raw": {"data": "{{arcaflow.plugin.plan}}"}},
            {"name": "input", "path": INPUT_PATH, "raw": {"data": "{{arcaflow.plugin.input}}"}},
        ]},
        "script": {
            "image": "serve-plugin",
            "command": ["arcaflow-py", "node", "run", "--plan", PLAN_PATH, "--input", INPUT_PATH, "--out", OUT_DIR, "--params-file"],
            "source": "{{arcaflow.plugin.params}}",
            "env": [{"name": "ARCAFLOW_PY_WORKDIR", "value": CACHE_DIR}],
        },
    }))
}

pub fn substitute(text: &str, scope: &BTreeMap<String, String>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            return Ok(out);
        };
        let key = after[..end].trim();
        match scope.get(key) {
            Some(v) => out.push_str(v),
            None => return Err(format!("failed to resolve {{{{{key}}}}}")),
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Evaluates the `when` forms we emit after substitution: `'a' == 'b'`, `'a' != 'b'`, `true`,
/// `false`, joined with `&&` and `||` (`&&` binds tighter), as govaluate does.
pub fn eval_when(text: &str) -> Result<bool, String> {
    let mut any = false;
    for alt in split_top(text, "||") {
        let mut all = true;
        for atom in split_top(&alt, "&&") {
            all &= eval_atom(atom.trim())?;
        }
        any |= all;
    }
    Ok(any)
}

/// Splits on `sep` outside single-quoted strings.
fn split_top(text: &str, sep: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut i = 0;
    let b = text.as_bytes();
    while i < b.len() {
        if b[i] == b'\'' {
            quoted = !quoted;
        }
        if !quoted && text[i..].starts_with(sep) {
            parts.push(std::mem::take(&mut cur));
            i += sep.len();
            continue;
        }
        let ch = text[i..].chars().next().unwrap_or(' ');
        cur.push(ch);
        i += ch.len_utf8();
    }
    parts.push(cur);
    parts
}

fn eval_atom(a: &str) -> Result<bool, String> {
    match a {
        "true" => return Ok(true),
        "false" => return Ok(false),
        _ => {}
    }
    for (op, want) in [("==", true), ("!=", false)] {
        let parts = split_top(a, op);
        if parts.len() == 2 {
            let l = unquote(parts[0].trim())?;
            let r = unquote(parts[1].trim())?;
            return Ok((l == r) == want);
        }
    }
    Err(format!("cannot evaluate '{a}'"))
}

fn unquote(s: &str) -> Result<String, String> {
    if s.len() >= 2 && s.starts_with('\'') && s.ends_with('\'') {
        Ok(s[1..s.len() - 1].to_string())
    } else if s.parse::<f64>().is_ok() {
        Ok(s.to_string())
    } else {
        Err(format!("'{s}' is neither a quoted string nor a number"))
    }
}

/// `lastRetry.exitCode == 'N'` (joined with `||`), the only retry expression we emit.
fn eval_retry_expression(e: &str, exit_code: Option<i32>) -> bool {
    let code = exit_code.map(|c| c.to_string()).unwrap_or_default();
    let text = e.replace("lastRetry.exitCode", &format!("'{code}'"));
    eval_when(&text).unwrap_or(false)
}

/// Environment variables that say how to reach the network, passed to simulated tasks. Cache
/// locations are not among them: a task must not find another task's downloads.
fn network_setting(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    if upper.ends_with("CACHE_DIR") || upper == "UV_CACHE" || upper == "PIP_NO_CACHE_DIR" {
        return false;
    }
    upper.ends_with("_PROXY")
        || upper.starts_with("SSL_CERT_")
        || upper.ends_with("_CA_BUNDLE")
        || upper.starts_with("PIP_")
        || upper.starts_with("UV_")
}

#[cfg(test)]
mod tests;
