//! Owns the mapping from a loaded workflow to an Argo manifest (research §1): one DAG task per
//! step running `arcaflow-py node run`, output-specific edges as `depends` + `when`, one final
//! outputs task as the only leaf, and the plan that every pod reads.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::model::*;
use super::names;
use super::overlay::{Fuse, Overlay};
use super::plan::{self, Plan, PLAN_FORMAT};
use crate::value::Value;
use crate::workflow::{StepKind, Tree, Workflow};

/// Where the pod's files live; `argo simulate` maps this prefix into each task's sandbox.
pub const POD_ROOT: &str = "/arcaflow";
pub const PLAN_PATH: &str = "/arcaflow/in/plan.json";
pub const INPUT_PATH: &str = "/arcaflow/in/input.json";
pub const OUT_DIR: &str = "/arcaflow/out";
pub const CACHE_DIR: &str = "/arcaflow/cache";
pub const SECRETS_DIR: &str = "/arcaflow/secrets";
/// The task and template that compute the workflow's outputs (the DAG's only leaf).
pub const OUTPUTS_TASK: &str = "arcaflow-outputs";
/// The task and template that evaluate input-only `enabled` values before any step starts.
pub const PLAN_TASK: &str = "arcaflow-plan";
/// The task and template that run a fused workflow in one pod.
pub const FUSED_TASK: &str = "arcaflow-run";
pub const MAIN_TEMPLATE: &str = "main";
/// Seconds added to a step's timeout for the pod's backstop deadline: the venv may be built
/// in the pod before the step starts, and the runner enforces the real timeout itself.
pub const DEPLOY_BUDGET_SECONDS: u64 = 600;
/// Default inline budget of a step's result parameter (research §1.2).
pub const DEFAULT_INLINE_MAX: u64 = 64 * 1024;
/// Exit code of the runner when the plugin could not be deployed (EX_TEMPFAIL): retried.
pub const EXIT_DEPLOY_FAILED: i32 = 75;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    Workflow,
    WorkflowTemplate,
}

#[derive(Debug, Clone)]
pub struct SecretInput {
    pub field: String,
    pub secret: String,
    pub key: String,
}

impl std::str::FromStr for SecretInput {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("'{s}' is not FIELD=SECRET/KEY");
        let (field, rest) = s.split_once('=').ok_or_else(bad)?;
        let (secret, key) = rest.split_once('/').ok_or_else(bad)?;
        if field.is_empty() || secret.is_empty() || key.is_empty() {
            return Err(bad());
        }
        if names::object_name_problem(secret, false).is_some() {
            return Err(format!("'{secret}' is not a valid Secret name"));
        }
        Ok(SecretInput { field: field.into(), secret: secret.into(), key: key.into() })
    }
}

/// Argo versions the export knows (`--argo-version`); newer features are gated on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ArgoVersion(pub u32, pub u32);

impl std::str::FromStr for ArgoVersion {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim_start_matches('v');
        let mut parts = t.split('.');
        let major = parts.next().and_then(|p| p.parse().ok());
        let minor = parts.next().and_then(|p| p.parse().ok());
        match (major, minor) {
            (Some(a), Some(b)) if (a, b) >= (3, 5) => Ok(ArgoVersion(a, b)),
            (Some(_), Some(_)) => Err(format!("Argo {s} is too old: the export needs 3.5 or newer")),
            _ => Err(format!("'{s}' is not an Argo version such as 3.6 or 4.1")),
        }
    }
}

impl Default for ArgoVersion {
    fn default() -> Self {
        ArgoVersion(3, 6)
    }
}

#[derive(Debug, Clone)]
pub struct Options {
    pub image: String,
    pub kind: Kind,
    pub name: Option<String>,
    pub generate_name: Option<String>,
    pub namespace: Option<String>,
    pub overlay: Overlay,
    pub argo_version: ArgoVersion,
    pub secret_inputs: Vec<SecretInput>,
    pub inline_max: u64,
}

/// What the export needs from a loaded workflow (the thin adapter to the engine fills it).
pub struct Source<'a> {
    pub workflow: &'a Workflow,
    pub context: &'a Path,
    pub config_text: String,
    /// Plugin `src` → pinned spec, or an error saying why it cannot run in a pod.
    pub pins: BTreeMap<String, Result<String, String>>,
    /// Workflow timeout defaults from the config (`maxStepTimeout`).
    pub config_step_timeout: Option<f64>,
    /// The validated input, without the secret fields.
    pub input: Value,
}

pub struct Exported {
    pub manifest: Manifest,
    pub warnings: Vec<String>,
}

/// Which results of a producer a consumer needs.
#[derive(Debug, Default, Clone)]
struct Need {
    /// (stage, output id) pairs that must exist for the consumer to resolve.
    required: BTreeSet<(String, Option<String>)>,
    /// The consumer only needs the producer to have finished (optional or whole-step reads).
    completion: bool,
}

pub fn export(src: &Source, opts: &Options) -> Result<Exported, String> {
    let wf = src.workflow;
    let mut warnings = Vec::new();
    let tasks = names::task_names(wf.steps.keys(), &[OUTPUTS_TASK, FUSED_TASK, PLAN_TASK, MAIN_TEMPLATE])?;
    for id in opts.overlay.steps.keys() {
        if !wf.steps.contains_key(id) {
            return Err(format!("the overlay names step '{id}', which the workflow does not have"));
        }
    }
    let plan = build_plan(src, opts, &tasks, &mut warnings)?;
    let plan_text = serde_json::to_string(&plan).map_err(|e| e.to_string())?;
    let input_text = serde_json::to_string(&plan::to_wire(&src.input)).map_err(|e| e.to_string())?;

    let fused = opts.overlay.fuse == Some(Fuse::All) || wf.steps.values().any(|s| s.stop_if.is_some());
    let plugin_steps: Vec<&String> = wf.steps.keys().filter(|id| opts.overlay.plugin_mode(id)).collect();
    if fused && !plugin_steps.is_empty() {
        warnings.push("the workflow runs fused in one pod: 'mode: plugin' has no effect".into());
    }
    if !plugin_steps.is_empty() && !opts.secret_inputs.is_empty() {
        return Err(format!(
            "step '{}' has mode: plugin, but --secret-input needs a pod to mount the Secret in (the executor plugin's sidecar can mount no volumes): run such workflows' steps as pods",
            plugin_steps[0]
        ));
    }
    if fused && opts.overlay.fuse.is_none() {
        warnings.push(
            "a step uses stop_if, which cannot be expressed across pods: the whole workflow runs fused in one pod"
                .into(),
        );
    }
    let mut templates = Vec::new();
    let mut dag_tasks = Vec::new();
    let volumes: Vec<Volume> = opts
        .secret_inputs
        .iter()
        .map(|s| Volume { name: secret_volume(&s.field), secret: SecretVolume { secret_name: s.secret.clone() } })
        .collect();
    if fused {
        let mut t = pod_template(FUSED_TASK, "run-all", opts, &opts.overlay.for_step(""), &[])?;
        t.outputs.parameters = document_outputs();
        templates.push(t);
        dag_tasks.push(DagTask { name: FUSED_TASK.into(), template: FUSED_TASK.into(), ..Default::default() });
    } else {
        let gated = input_gated(wf);
        if !gated.is_empty() {
            // `enabled` that reads only the input is decided once, up front, so Argo shows a
            // disabled step as Skipped and spends no pod on it.
            let mut t = pod_template(PLAN_TASK, "plan", opts, &opts.overlay.defaults, &[])?;
            t.outputs.parameters = gated
                .iter()
                .map(|id| {
                    let name = format!("enabled-{}", tasks[id]);
                    out_param(&name, &name, "true")
                })
                .collect();
            templates.push(t);
            dag_tasks.push(DagTask { name: PLAN_TASK.into(), template: PLAN_TASK.into(), ..Default::default() });
        }
        for (id, step) in &wf.steps {
            let task = &tasks[id];
            let needs = needs_of(wf, id)?;
            let ov = opts.overlay.for_step(id);
            let t = if opts.overlay.plugin_mode(id) {
                plugin_template(id, task, step, wf, opts, &mut warnings)?
            } else {
                let mut t = pod_template(&format!("step-{task}"), "run", opts, &ov, &["step", "upstream"])?;
                t.outputs.parameters =
                    vec![out_param("output-id", "output_id", ""), out_param("result", "result.json", "null")];
                if let StepKind::Plugin(_) = &step.kind {
                    let timeout = step.timeout.or(wf.max_step_timeout).or(src.config_step_timeout);
                    if let Some(secs) = timeout.filter(|t| *t >= 0.0 && t.is_finite()) {
                        t.active_deadline_seconds = Some((secs.ceil() as u64 + DEPLOY_BUDGET_SECONDS).to_string());
                    }
                }
                // Only deploy failures (git, pip, uv) are retried by default: chaos steps are often not
                // idempotent. A `retry:` policy (step or workflow default) maps onto retryStrategy.
                t.retry_strategy = Some(match step.retry.as_ref().or(wf.retry.as_ref()) {
                    Some(p) if matches!(step.kind, StepKind::Plugin(_)) => retry_strategy(id, p)?,
                    _ => RetryStrategy {
                        limit: "2".into(),
                        retry_policy: "Always".into(),
                        backoff: None,
                        expression: Some(format!("lastRetry.exitCode == '{EXIT_DEPLOY_FAILED}'")),
                    },
                });
                t
            };
            templates.push(t);
            let mut dag_task = step_task(id, task, &needs, &tasks, &gated);
            if gated.contains(id) {
                let plan_depends = format!("{PLAN_TASK}.Succeeded");
                dag_task.depends = Some(match dag_task.depends.take() {
                    Some(d) => format!("{plan_depends} && {d}"),
                    None => plan_depends,
                });
                let cond = format!("'{{{{tasks.{PLAN_TASK}.outputs.parameters.enabled-{task}}}}}' == 'true'");
                dag_task.when = Some(match dag_task.when.take() {
                    Some(w) => format!("{cond} && {w}"),
                    None => cond,
                });
            }
            dag_tasks.push(dag_task);
        }
        let mut t = pod_template(OUTPUTS_TASK, "outputs", opts, &opts.overlay.defaults, &["upstream"])?;
        t.outputs.parameters = document_outputs();
        templates.push(t);
        let all: BTreeMap<String, Need> =
            wf.steps.keys().map(|id| (id.clone(), Need { completion: true, ..Default::default() })).collect();
        let mut outputs_task = step_task("", OUTPUTS_TASK, &all, &tasks, &gated);
        outputs_task.arguments.parameters.retain(|p| p.name == "upstream");
        outputs_task.template = OUTPUTS_TASK.into();
        dag_tasks.push(outputs_task);
    }
    let mut main = Template::named(MAIN_TEMPLATE);
    main.dag = Some(DagTemplate { fail_fast: false, tasks: dag_tasks });
    templates.insert(0, main);

    let stem = wf.path.file_stem().map(|s| s.to_string_lossy().to_string()).unwrap_or_default();
    let base = sanitize_object_name(&stem);
    let (name, generate_name) = match (&opts.name, &opts.generate_name, opts.kind) {
        (Some(n), _, _) => (Some(n.clone()), None),
        (None, Some(g), Kind::Workflow) => (None, Some(g.clone())),
        (None, Some(_), Kind::WorkflowTemplate) => {
            return Err("a WorkflowTemplate needs --name (Kubernetes does not generate template names)".into())
        }
        (None, None, Kind::Workflow) => (None, Some(format!("{base}-"))),
        (None, None, Kind::WorkflowTemplate) => (Some(base), None),
    };
    if let Some(n) = &name {
        if let Some(p) = names::object_name_problem(n, false) {
            return Err(format!("--name: {p}"));
        }
    }
    if let Some(g) = &generate_name {
        if let Some(p) = names::object_name_problem(g, true) {
            return Err(format!("--generate-name: {p}"));
        }
    }
    let step_names: BTreeMap<&String, &String> = tasks.iter().map(|(id, t)| (t, id)).collect();
    let annotations = [
        ("arcaflow.io/exported-by".to_string(), plan::EXPORTER.to_string()),
        ("arcaflow.io/plan-format".to_string(), PLAN_FORMAT.to_string()),
        ("arcaflow.io/step-names".to_string(), serde_json::to_string(&step_names).map_err(|e| e.to_string())?),
    ]
    .into_iter()
    .collect();
    let labels = [("app.kubernetes.io/managed-by".to_string(), "arcaflow-py".to_string())].into_iter().collect();
    let manifest = Manifest {
        api_version: API_VERSION.into(),
        kind: match opts.kind {
            Kind::Workflow => "Workflow".into(),
            Kind::WorkflowTemplate => "WorkflowTemplate".into(),
        },
        metadata: ObjectMeta { name, generate_name, namespace: opts.namespace.clone(), annotations, labels },
        spec: WorkflowSpec {
            entrypoint: MAIN_TEMPLATE.into(),
            arguments: Arguments {
                parameters: vec![
                    Parameter { name: "input".into(), value: Some(input_text), ..Default::default() },
                    Parameter { name: "plan".into(), value: Some(plan_text), ..Default::default() },
                ],
            },
            templates,
            service_account_name: opts.overlay.defaults.service_account_name.clone(),
            active_deadline_seconds: None,
            volumes,
        },
    };
    Ok(Exported { manifest, warnings })
}

/// The Argo form of a `retry:` policy. `limit` means the same (retries after the first
/// attempt); the outcomes become the node runner's exit codes; a pod whose venv build failed
/// is retried whatever `on` says, as without a policy (in a pod the build is part of every attempt).
fn retry_strategy(id: &str, p: &crate::workflow::RetryPolicy) -> Result<RetryStrategy, String> {
    use crate::argo::node::exit;
    use crate::workflow::RetryOn;
    if p.retries(RetryOn::Error) {
        return Err(format!(
            "steps -> {id} -> retry -> on: 'error' cannot be exported to Argo: an error output ends the step's pod successfully and Argo retries only failed pods (drop 'error' from 'on', or run the workflow with arcaflow-py run)"
        ));
    }
    let mut codes = vec![exit::DEPLOY_FAILED];
    if p.retries(RetryOn::Crashed) {
        codes.insert(0, exit::CRASHED);
    }
    let expression = codes.iter().map(|c| format!("lastRetry.exitCode == '{c}'")).collect::<Vec<_>>().join(" || ");
    let b = &p.backoff;
    let backoff = if b.duration > 0.0 {
        if b.factor.fract() != 0.0 {
            return Err(format!(
                "steps -> {id} -> retry -> backoff -> factor: Argo takes a whole number, got {}",
                b.factor
            ));
        }
        Some(Backoff {
            duration: argo_duration(b.duration),
            factor: (b.factor != 1.0).then(|| format!("{}", b.factor as u64)),
            cap: b.max.map(argo_duration),
        })
    } else {
        None
    };
    Ok(RetryStrategy {
        limit: p.limit.to_string(),
        retry_policy: "Always".into(),
        backoff,
        expression: Some(expression),
    })
}

/// Seconds as an Argo duration string (`2s`, `0.5s`).
fn argo_duration(secs: f64) -> String {
    if secs.fract() == 0.0 {
        format!("{}s", secs as u64)
    } else {
        format!("{secs}s")
    }
}

fn sanitize_object_name(stem: &str) -> String {
    let s: String =
        stem.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect();
    let s = s.trim_matches('-').to_string();
    if s.is_empty() {
        "arcaflow".into()
    } else {
        s.chars().take(60).collect::<String>().trim_end_matches('-').to_string()
    }
}

fn secret_volume(field: &str) -> String {
    format!("secret-{}", names::task_name(field))
}

fn out_param(name: &str, file: &str, default: &str) -> Parameter {
    Parameter {
        name: name.into(),
        value_from: Some(ValueFrom { path: Some(format!("{OUT_DIR}/{file}")), default: Some(default.into()) }),
        ..Default::default()
    }
}

/// The document and its output id, exported as workflow outputs (`status.outputs.parameters`).
fn document_outputs() -> Vec<Parameter> {
    let mut doc = out_param("result", "document.yaml", "");
    doc.global_name = Some("result".into());
    let mut id = out_param("output-id", "output_id", "");
    id.global_name = Some("output-id".into());
    vec![id, doc]
}

/// The key of our object in a plugin template (`serve-plugin --key`).
pub const PLUGIN_KEY: &str = "arcaflow";

/// A step as an executor plugin template (README "Light steps as an Argo executor plugin"):
/// `serve-plugin` gets the plan, the input, the step and its upstream results, plus the node
/// name and attempt it keys the execution by, and answers with the pod's output parameters.
fn plugin_template(
    id: &str,
    task: &str,
    step: &crate::workflow::Step,
    wf: &Workflow,
    opts: &Options,
    warnings: &mut Vec<String>,
) -> Result<Template, String> {
    let mut t = Template::named(format!("step-{task}"));
    t.inputs.parameters =
        ["step", "upstream"].iter().map(|p| Parameter { name: (*p).into(), ..Default::default() }).collect();
    // Argo's validator wants a source for every output parameter; for a plugin node the reply's
    // outputs are taken as they are, and the defaults serve skipped producers as in pod mode.
    t.outputs.parameters = vec![out_param("output-id", "output_id", ""), out_param("result", "result.json", "null")];
    let ov = opts.overlay.for_step(id);
    if ov.resources.is_some() || !ov.node_selector.is_empty() || !ov.tolerations.is_empty() {
        warnings.push(format!(
            "step '{id}' runs in the executor plugin: its pod settings (resources, nodeSelector, tolerations) do not apply"
        ));
    }
    let mut body = serde_json::json!({
        "plan": "{{workflow.parameters.plan}}",
        "input": "{{workflow.parameters.input}}",
        "step": "{{inputs.parameters.step}}",
        "upstream": "{{inputs.parameters.upstream}}",
        // The request carries no node id: the name keys the execution (research §3.1).
        "node": "{{node.name}}",
    });
    // A plugin node has no exit code, so a retry expression on codes could never match: a
    // policy that retries crashes retries every failed attempt, each keyed by its number.
    let policy = step.retry.as_ref().or(wf.retry.as_ref());
    match policy {
        Some(p) if p.retries(crate::workflow::RetryOn::Crashed) => {
            let mut r = retry_strategy(id, p)?;
            r.expression = None;
            t.retry_strategy = Some(r);
            body["attempt"] = serde_json::Value::String("{{retries}}".into());
            warnings.push(format!(
                "step '{id}' runs in the executor plugin: Argo cannot tell its failures apart there, so its retry policy retries timed-out and undeployable attempts too"
            ));
        }
        Some(_) => warnings.push(format!(
            "step '{id}' runs in the executor plugin: its retry policy is not exported (a plugin node has no exit code to tell a failed deploy from a crash)"
        )),
        None => {}
    }
    t.plugin = Some(serde_json::json!({ PLUGIN_KEY: body }));
    Ok(t)
}

/// A script template that runs `arcaflow-py node <verb>`; its inputs arrive as a file.
fn pod_template(
    name: &str,
    verb: &str,
    opts: &Options,
    ov: &super::overlay::StepOverlay,
    params: &[&str],
) -> Result<Template, String> {
    let mut t = Template::named(name);
    t.inputs.parameters = params.iter().map(|p| Parameter { name: (*p).into(), ..Default::default() }).collect();
    if t.inputs.parameters.is_empty() {
        // `{{inputs.parameters}}` resolves only in a template that has input parameters.
        t.inputs.parameters.push(Parameter { name: "upstream".into(), value: Some("{}".into()), ..Default::default() });
    }
    t.inputs.artifacts = vec![
        Artifact {
            name: "plan".into(),
            path: PLAN_PATH.into(),
            raw: RawArtifact { data: "{{workflow.parameters.plan}}".into() },
        },
        Artifact {
            name: "input".into(),
            path: INPUT_PATH.into(),
            raw: RawArtifact { data: "{{workflow.parameters.input}}".into() },
        },
    ];
    let resources = match &ov.resources {
        Some(r) => Some(r.to_model(&format!("overlay for {name}"))?),
        None => None,
    };
    t.script = Some(ScriptTemplate {
        image: opts.image.clone(),
        command: ["arcaflow-py", "node", verb, "--plan", PLAN_PATH, "--input", INPUT_PATH, "--out", OUT_DIR]
            .iter()
            .map(|s| s.to_string())
            .chain(
                (!opts.secret_inputs.is_empty())
                    .then(|| ["--secrets".to_string(), SECRETS_DIR.to_string()])
                    .into_iter()
                    .flatten(),
            )
            // Last: Argo appends the script file's path to the command.
            .chain(std::iter::once("--params-file".to_string()))
            .collect(),
        // Argo writes the source to a file and appends its path to the command: every input
        // parameter reaches the runner as a JSON file, never on argv (hera's runner does the same).
        source: "{{inputs.parameters}}".into(),
        env: vec![EnvVar { name: "ARCAFLOW_PY_WORKDIR".into(), value: CACHE_DIR.into() }],
        resources,
        volume_mounts: opts
            .secret_inputs
            .iter()
            .map(|s| VolumeMount {
                name: secret_volume(&s.field),
                mount_path: format!("{SECRETS_DIR}/{}", names::task_name(&s.field)),
                read_only: true,
            })
            .collect(),
        working_dir: None,
    });
    t.node_selector = ov.node_selector.clone();
    t.tolerations = ov.tolerations.clone();
    t.service_account_name = ov.service_account_name.clone();
    Ok(t)
}

const COMPLETION: &[&str] = &["Succeeded", "Failed", "Errored", "Skipped", "Omitted"];

/// The DAG task of one step: `depends` on what its expressions read, `when` on output ids.
/// Steps whose `enabled` reads only the workflow input (or is a constant).
pub fn input_gated(wf: &Workflow) -> BTreeSet<String> {
    wf.steps
        .iter()
        .filter(|(_, s)| {
            s.enabled.as_ref().is_some_and(|t| {
                t.expressions()
                    .iter()
                    .all(|e| e.dependencies().iter().all(|p| p.first().map(String::as_str) == Some("input")))
            })
        })
        .map(|(id, _)| id.clone())
        .collect()
}

fn step_task(
    id: &str,
    task: &str,
    needs: &BTreeMap<String, Need>,
    tasks: &BTreeMap<String, String>,
    gated: &BTreeSet<String>,
) -> DagTask {
    let mut depends = Vec::new();
    let mut when = Vec::new();
    let mut upstream = Vec::new();
    for (dep, need) in needs {
        let t = &tasks[dep];
        upstream.push(format!(
            "{}: {{{{tasks.{t}.outputs.parameters.result}}}}",
            serde_json::to_string(dep).unwrap_or_default()
        ));
        let param = format!("'{{{{tasks.{t}.outputs.parameters.output-id}}}}'");
        let mut results = BTreeSet::new();
        for (stage, oid) in &need.required {
            match (stage.as_str(), oid) {
                ("outputs", Some(o)) => {
                    results.insert("Succeeded");
                    when.push(format!("{param} == '{o}'"));
                }
                ("outputs", None) => {
                    results.insert("Succeeded");
                    when.push(format!("{param} != '__disabled__'"));
                    when.push(format!("{param} != '__skipped__'"));
                }
                // A step disabled by the plan task is Skipped in Argo; its data comes from the runner.
                ("disabled", _) if gated.contains(dep) => {
                    results.insert("Skipped");
                }
                ("disabled", _) => {
                    results.insert("Succeeded");
                    when.push(format!("{param} == '__disabled__'"));
                }
                ("crashed", _) => {
                    results.insert("Failed");
                    when.push(format!("{param} == '__crashed__'"));
                }
                ("failed", _) => {
                    results.insert("Failed");
                    when.push(format!("{param} == '__failed__'"));
                }
                _ => {
                    results.insert("any");
                }
            }
        }
        // A required result means one phase; anything else only needs the producer to have
        // finished, however it ended, and the runner decides (as the engine would).
        let term = match (results.len(), results.iter().next()) {
            (1, Some(r)) if *r != "any" => format!("{t}.{r}"),
            _ => format!("({})", COMPLETION.iter().map(|r| format!("{t}.{r}")).collect::<Vec<_>>().join(" || ")),
        };
        depends.push(term);
    }
    when.dedup();
    let mut parameters = vec![Parameter { name: "step".into(), value: Some(id.to_string()), ..Default::default() }];
    parameters.push(Parameter {
        name: "upstream".into(),
        value: Some(format!("{{{}}}", upstream.join(", "))),
        ..Default::default()
    });
    DagTask {
        name: task.to_string(),
        template: format!("step-{task}"),
        arguments: Arguments { parameters },
        depends: (!depends.is_empty()).then(|| depends.join(" && ")),
        when: (!when.is_empty()).then(|| when.join(" && ")),
    }
}

/// What step `id` reads from other steps, from every tree the engine resolves before starting it.
fn needs_of(wf: &Workflow, id: &str) -> Result<BTreeMap<String, Need>, String> {
    let step = &wf.steps[id];
    let mut trees: Vec<&Tree> = Vec::new();
    trees.extend(step.enabled.iter());
    trees.extend(step.wait_for.iter());
    trees.extend(step.closure_wait_timeout.iter());
    match &step.kind {
        StepKind::Plugin(p) => trees.push(&p.input),
        StepKind::Foreach(f) => {
            trees.push(&f.items);
            trees.extend(f.parallelism.iter());
        }
    }
    let mut needs: BTreeMap<String, Need> = BTreeMap::new();
    for t in trees {
        walk(t, false, &mut |path, optional| add_need(wf, id, path, optional, &mut needs));
    }
    if needs.contains_key(id) {
        return Err(format!("step '{id}' reads its own results; it could never start"));
    }
    Ok(needs)
}

fn walk(tree: &Tree, optional: bool, f: &mut dyn FnMut(&[String], bool)) {
    match tree {
        Tree::Value(_) => {}
        Tree::Expr(e) => e.dependencies().iter().for_each(|p| f(p, optional)),
        Tree::WaitOptional(e) | Tree::SoftOptional(e) => e.dependencies().iter().for_each(|p| f(p, true)),
        Tree::Map(m) => m.values().for_each(|t| walk(t, optional, f)),
        Tree::List(l) => l.iter().for_each(|t| walk(t, optional, f)),
        Tree::OneOf { options, .. } => options.values().for_each(|t| walk(t, true, f)),
    }
}

fn add_need(wf: &Workflow, me: &str, path: &[String], optional: bool, needs: &mut BTreeMap<String, Need>) {
    let all = |needs: &mut BTreeMap<String, Need>| {
        for other in wf.steps.keys().filter(|k| k.as_str() != me) {
            needs.entry(other.clone()).or_default().completion = true;
        }
    };
    match (path.first().map(String::as_str), path.get(1)) {
        (None, _) | (Some("steps"), None) => all(needs),
        (Some("steps"), Some(dep)) if wf.steps.contains_key(dep) => {
            let need = needs.entry(dep.clone()).or_default();
            match (path.get(2), optional) {
                (Some(stage), false) => {
                    need.required.insert((stage.clone(), path.get(3).cloned()));
                }
                _ => need.completion = true,
            }
        }
        // `$.input…` needs nothing; unknown steps were refused by the static checks.
        _ => {}
    }
}

fn build_plan(
    src: &Source,
    opts: &Options,
    tasks: &BTreeMap<String, String>,
    warnings: &mut Vec<String>,
) -> Result<Plan, String> {
    let mut files = BTreeMap::new();
    let mut plugins = BTreeMap::new();
    collect_files(src.workflow, src.context, &mut files, &mut plugins, &src.pins, warnings)?;
    let workflow = rel_path(&src.workflow.path, src.context)?;
    Ok(Plan {
        format: PLAN_FORMAT,
        exporter: plan::EXPORTER.into(),
        workflow,
        files,
        config: src.config_text.clone(),
        plugins,
        secret_inputs: opts
            .secret_inputs
            .iter()
            .map(|s| (s.field.clone(), format!("{}/{}", names::task_name(&s.field), s.key)))
            .collect(),
        inline_max: opts.inline_max,
        steps: tasks.iter().map(|(id, t)| (t.clone(), id.clone())).collect(),
    })
}

fn rel_path(path: &Path, context: &Path) -> Result<String, String> {
    let rel = path.strip_prefix(context).map_err(|_| {
        format!(
            "{} is outside the context directory {}; give --context a directory that holds it",
            path.display(),
            context.display()
        )
    })?;
    Ok(rel.to_string_lossy().to_string())
}

fn collect_files(
    wf: &Workflow,
    context: &Path,
    files: &mut BTreeMap<String, String>,
    plugins: &mut BTreeMap<String, String>,
    pins: &BTreeMap<String, Result<String, String>>,
    warnings: &mut Vec<String>,
) -> Result<(), String> {
    let rel = rel_path(&wf.path, context)?;
    let text = std::fs::read_to_string(&wf.path).map_err(|e| format!("cannot read {}: {e}", wf.path.display()))?;
    files.insert(rel.clone(), text);
    let mut trees: Vec<(String, &Tree)> = wf.outputs.iter().map(|(k, t)| (format!("outputs -> {k}"), t)).collect();
    for (id, step) in &wf.steps {
        let at = format!("steps -> {id}");
        for t in [&step.enabled, &step.wait_for, &step.stop_if, &step.closure_wait_timeout].into_iter().flatten() {
            trees.push((at.clone(), t));
        }
        match &step.kind {
            StepKind::Plugin(p) => {
                if !step.artifacts.is_empty() {
                    return Err(format!(
                        "{rel}: {at} -> artifacts: step artifacts (an arcaflow-py extension) cannot be exported to Argo yet: each pod has its own disk, and mapping them onto Argo artifacts needs an artifact repository; run this workflow with 'arcaflow-py run'"
                    ));
                }
                trees.push((at.clone(), &p.input));
                match pins.get(&p.src) {
                    Some(Ok(pinned)) => {
                        plugins.insert(p.src.clone(), pinned.clone());
                    }
                    Some(Err(why)) => return Err(format!("{rel}: {at} -> plugin -> src: {why}")),
                    None => return Err(format!("{rel}: {at}: the plugin '{}' was not resolved", p.src)),
                }
            }
            StepKind::Foreach(f) => {
                trees.push((at.clone(), &f.items));
                collect_files(&f.workflow, context, files, plugins, pins, warnings)?;
            }
        }
    }
    for (at, tree) in trees {
        let mut exprs = Vec::new();
        collect_exprs(tree, &mut exprs);
        for e in exprs {
            for arg in e.calls("readFile") {
                let Some(lit) = arg else {
                    return Err(format!(
                        "{rel}: {at}: readFile with a computed path cannot be exported: the pod only has the files bundled into the plan, which needs a literal path"
                    ));
                };
                let p = Path::new(&lit);
                if p.is_absolute() || p.components().any(|c| matches!(c, std::path::Component::ParentDir)) {
                    return Err(format!(
                        "{rel}: {at}: readFile(\"{lit}\") reads outside the context directory, which the pod does not have"
                    ));
                }
                let full = context.join(p);
                let text =
                    std::fs::read_to_string(&full).map_err(|e| format!("{rel}: {at}: readFile(\"{lit}\"): {e}"))?;
                files.insert(lit.trim_start_matches("./").to_string(), text);
            }
            if !e.calls("getEnvVar").is_empty() {
                warnings.push(format!(
                    "{rel}: {at}: getEnvVar reads the pod's environment, which differs from this machine's"
                ));
            }
        }
    }
    Ok(())
}

fn collect_exprs<'a>(tree: &'a Tree, out: &mut Vec<&'a crate::expr::Expr>) {
    out.extend(tree.expressions());
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{diamond_json, export_text, options, DIAMOND};
    use super::*;

    fn task<'a>(doc: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
        doc.pointer("/spec/templates/0/dag/tasks")
            .and_then(serde_json::Value::as_array)
            .and_then(|t| t.iter().find(|t| t["name"] == name))
            .unwrap_or_else(|| panic!("no task {name}"))
    }

    #[test]
    fn output_specific_edges_become_depends_and_when() {
        let d = diamond_json();
        let b = task(&d, "b-step");
        assert_eq!(b["depends"], "a.Succeeded");
        assert_eq!(b["when"], "'{{tasks.a.outputs.parameters.output-id}}' == 'success'");
        assert_eq!(task(&d, "c")["when"], "'{{tasks.a.outputs.parameters.output-id}}' == 'error'");
        // An optional read only needs its producer to have finished, however it ended.
        let dd = task(&d, "d");
        assert_eq!(
            dd["depends"],
            "b-step.Succeeded && (c.Succeeded || c.Failed || c.Errored || c.Skipped || c.Omitted)"
        );
        assert_eq!(dd["arguments"]["parameters"][0]["value"], "d", "the step id, not the task name");
        assert!(task(&d, "a").get("depends").is_none());
    }

    #[test]
    fn the_outputs_task_is_the_only_leaf_and_fail_fast_is_off() {
        let d = diamond_json();
        assert_eq!(d.pointer("/spec/templates/0/dag/failFast"), Some(&serde_json::json!(false)));
        let tasks = d.pointer("/spec/templates/0/dag/tasks").and_then(serde_json::Value::as_array).unwrap();
        let depended: Vec<String> = tasks
            .iter()
            .filter_map(|t| t["depends"].as_str())
            .flat_map(|x| super::super::depends::parse(x).unwrap().tasks())
            .collect();
        let leaves: Vec<&str> =
            tasks.iter().filter_map(|t| t["name"].as_str()).filter(|n| !depended.iter().any(|d| d == n)).collect();
        assert_eq!(leaves, vec![OUTPUTS_TASK]);
    }

    #[test]
    fn outputs_have_defaults_and_never_use_result() {
        let text = export_text(DIAMOND, &[], &options()).unwrap().manifest.to_yaml().unwrap();
        assert!(!text.contains("outputs.result"));
        let d = diamond_json();
        for t in d["spec"]["templates"].as_array().unwrap() {
            for p in t.pointer("/outputs/parameters").and_then(serde_json::Value::as_array).into_iter().flatten() {
                assert!(p.pointer("/valueFrom/default").is_some(), "{p}");
            }
        }
    }

    #[test]
    fn timeouts_get_a_string_deadline_backstop() {
        let d = diamond_json();
        let t = d["spec"]["templates"].as_array().unwrap().iter().find(|t| t["name"] == "step-d").unwrap();
        assert_eq!(t["activeDeadlineSeconds"], serde_json::json!((30 + DEPLOY_BUDGET_SECONDS).to_string()));
    }

    #[test]
    fn the_same_workflow_exports_to_the_same_bytes() {
        let a = export_text(DIAMOND, &[], &options()).unwrap().manifest.to_yaml().unwrap();
        let b = export_text(DIAMOND, &[], &options()).unwrap().manifest.to_yaml().unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn sanitized_names_are_annotated_and_collisions_refused() {
        let d = diamond_json();
        let names: serde_json::Value =
            serde_json::from_str(d["metadata"]["annotations"]["arcaflow.io/step-names"].as_str().unwrap()).unwrap();
        assert_eq!(names["b-step"], "b_step");
        let clash = DIAMOND.replace("  c:\n", "  b-step:\n");
        let err = export_text(&clash, &[], &options()).err().unwrap();
        assert!(err.contains("both map to the Argo task name 'b-step'"), "{err}");
    }

    #[test]
    fn literal_read_files_are_bundled_and_computed_paths_refused() {
        let wf = DIAMOND.replace("input: {msg: a}", "input: {msg: !expr readFile(\"msg.txt\")}");
        let e = export_text(&wf, &[("msg.txt", "hello")], &options()).unwrap();
        let plan: Plan =
            serde_json::from_str(e.manifest.spec.arguments.parameters[1].value.as_deref().unwrap()).unwrap();
        assert_eq!(plan.files["msg.txt"], "hello");
        let computed = DIAMOND.replace("input: {msg: a}", "input: {msg: !expr readFile($.input.file)}");
        let err = export_text(&computed, &[], &options()).err().unwrap();
        assert!(err.contains("readFile with a computed path cannot be exported"), "{err}");
    }

    #[test]
    fn stop_if_fuses_the_workflow_into_one_pod() {
        let wf = DIAMOND.replace("    timeout: 30\n", "    timeout: 30\n    stop_if: !expr $.steps.c.outputs\n");
        let e = export_text(&wf, &[], &options()).unwrap();
        assert!(e.warnings.iter().any(|w| w.contains("stop_if")));
        let d = e.manifest.to_json_value().unwrap();
        let tasks = d.pointer("/spec/templates/0/dag/tasks").and_then(serde_json::Value::as_array).unwrap();
        assert_eq!(tasks.len(), 1);
        assert_eq!(tasks[0]["name"], FUSED_TASK);
    }

    #[test]
    fn secret_inputs_are_mounted_never_inlined() {
        let mut opts = options();
        opts.secret_inputs = vec!["kubeconfig=kube/config".parse().unwrap()];
        let d = export_text(DIAMOND, &[], &opts).unwrap().manifest.to_json_value().unwrap();
        assert_eq!(d["spec"]["volumes"][0]["secret"]["secretName"], "kube");
        assert_eq!(d["spec"]["templates"][1]["script"]["volumeMounts"][0]["mountPath"], "/arcaflow/secrets/kubeconfig");
        assert!("kubeconfig=nokey".parse::<SecretInput>().is_err());
    }

    #[test]
    fn the_overlay_sets_pod_settings_per_step() {
        let mut opts = options();
        opts.overlay = crate::argo::yamlio::from_str(
            "defaults: {serviceAccountName: runner}\nsteps:\n  d:\n    resources: {requests: {cpu: 2}}\n    nodeSelector: {disk: ssd}\n    tolerations: [{key: k, operator: Exists}]\n",
        )
        .unwrap();
        let d = export_text(DIAMOND, &[], &opts).unwrap().manifest.to_json_value().unwrap();
        let t = d["spec"]["templates"].as_array().unwrap().iter().find(|t| t["name"] == "step-d").unwrap().clone();
        assert_eq!(t["script"]["resources"]["requests"]["cpu"], "2");
        assert_eq!(t["nodeSelector"]["disk"], "ssd");
        assert_eq!(t["tolerations"][0]["key"], "k");
        assert_eq!(d["spec"]["serviceAccountName"], "runner");
        opts.overlay = crate::argo::yamlio::from_str("steps: {nope: {}}").unwrap();
        assert!(export_text(DIAMOND, &[], &opts).err().unwrap().contains("'nope'"));
    }

    #[test]
    fn input_only_enabled_goes_to_the_plan_task() {
        let wf = DIAMOND
            .replace("    input: {msg: a}\n", "    enabled: !expr $.input.on\n    input: {msg: a}\n")
            .replace("properties: {}", "properties: {on: {type: {type_id: bool}}}");
        let d = export_text(&wf, &[], &options()).unwrap().manifest.to_json_value().unwrap();
        let a = task(&d, "a");
        assert_eq!(a["depends"], "arcaflow-plan.Succeeded");
        assert_eq!(a["when"], "'{{tasks.arcaflow-plan.outputs.parameters.enabled-a}}' == 'true'");
        assert_eq!(task(&d, PLAN_TASK)["template"], PLAN_TASK);
        // Readers of outputs still need the step to have succeeded.
        assert_eq!(task(&d, "b-step")["depends"], "a.Succeeded");
        assert_eq!(super::super::lint::lint(&d, &Default::default()), vec![]);
    }

    #[test]
    fn plugin_mode_makes_plugin_templates_and_refuses_secret_inputs() {
        let mut opts = options();
        opts.overlay = crate::argo::yamlio::from_str("steps: {b_step: {mode: plugin, nodeSelector: {x: y}}}").unwrap();
        let e = export_text(DIAMOND, &[], &opts).unwrap();
        assert!(e.warnings.iter().any(|w| w.contains("'b_step'") && w.contains("do not apply")), "{:?}", e.warnings);
        let doc = e.manifest.to_json_value().unwrap();
        let templates = doc["spec"]["templates"].as_array().unwrap();
        let t = templates.iter().find(|t| t["name"] == "step-b-step").unwrap();
        assert!(t.get("script").is_none() && t.get("retryStrategy").is_none() && t.get("nodeSelector").is_none());
        assert_eq!(t["plugin"]["arcaflow"]["node"], "{{node.name}}");
        assert!(t["plugin"]["arcaflow"].get("attempt").is_none(), "no retries, no attempt");
        assert!(templates.iter().find(|t| t["name"] == "step-a").unwrap().get("script").is_some());
        assert_eq!(crate::argo::lint::lint(&doc, &Default::default()), vec![]);
        // A policy that does not retry crashes cannot be told apart from one that does there.
        let wf = DIAMOND.replace(
            "    input: {msg: !expr $.steps.a.outputs.success.msg}\n",
            "    retry: {limit: 2, on: [deploy_failed]}\n    input: {msg: !expr $.steps.a.outputs.success.msg}\n",
        );
        let e = export_text(&wf, &[], &opts).unwrap();
        assert!(e.warnings.iter().any(|w| w.contains("its retry policy is not exported")), "{:?}", e.warnings);
        let doc = e.manifest.to_json_value().unwrap();
        let t = doc["spec"]["templates"].as_array().unwrap().iter().find(|t| t["name"] == "step-b-step").unwrap();
        assert!(t.get("retryStrategy").is_none());
        opts.secret_inputs = vec!["token=s/k".parse().unwrap()];
        let err = export_text(DIAMOND, &[], &opts).err().unwrap();
        assert!(err.contains("step 'b_step' has mode: plugin, but --secret-input needs a pod"), "{err}");
    }

    #[test]
    fn retry_maps_onto_retry_strategy_and_error_is_refused() {
        let wf = DIAMOND.replace(
            "    timeout: 30\n",
            "    timeout: 30\n    retry: {limit: 3, backoff: {duration: 2s, factor: 2, max: 30s}}\n",
        );
        let doc = export_text(&wf, &[], &options()).and_then(|e| e.manifest.to_json_value()).unwrap();
        let templates = doc["spec"]["templates"].as_array().unwrap();
        let r = &templates.iter().find(|t| t["name"] == "step-d").unwrap()["retryStrategy"];
        assert_eq!(r["limit"], "3");
        assert_eq!(r["backoff"], serde_json::json!({"duration": "2s", "factor": "2", "cap": "30s"}));
        assert_eq!(r["expression"], "lastRetry.exitCode == '70' || lastRetry.exitCode == '75'");
        let wf = DIAMOND.replace("    timeout: 30\n", "    timeout: 30\n    retry: {limit: 1, on: [error]}\n");
        let err = export_text(&wf, &[], &options()).err().unwrap();
        assert!(err.contains("retry -> on: 'error' cannot be exported to Argo"), "{err}");
    }

    #[test]
    fn the_diamond_manifest_is_golden() {
        let text = export_text(DIAMOND, &[], &options()).unwrap().manifest.to_yaml().unwrap();
        let mut settings = insta::Settings::clone_current();
        settings.add_filter(r"arcaflow-py \d+\.\d+\.\d+", "arcaflow-py [VERSION]");
        settings.bind(|| insta::assert_snapshot!("diamond_manifest", text));
    }
}
