//! `serve-plugin`, the Argo executor plugin, driven over real HTTP by an emulator of Argo's agent
//! (`support/agent.rs`), running the real test plugin fetched from a loopback smart-HTTP git
//! server. Steps count their runs in files, so "exactly one execution" is read, not assumed.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::{json, Value};

use crate::support::agent::{self, body, post, Agent, Plugin, Sent};
use crate::support::git_http::GitHttpServer;
use crate::support::servers::bare_for_http;
use crate::support::{alive, bin, read_pids, shared_repo, wait_for_file, EMPTY_INPUT};

const TOKEN: &str = "0123456789abcdef0123456789abcdef";

/// The test plugin over loopback HTTP, and one cache for every test here (one venv build).
struct Env {
    spec: String,
    workdir: PathBuf,
    _server: GitHttpServer,
    _root: tempfile::TempDir,
}

fn env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(|| {
        let root = tempfile::tempdir().unwrap();
        let repo = shared_repo(true);
        bare_for_http(&repo.dir, root.path(), "testkit.git");
        let server = GitHttpServer::start(root.path(), None);
        let spec = format!("arcaflow-plugin-testkit@git+{}@{}", server.url("testkit.git"), repo.head);
        let workdir = root.path().join("workdir");
        Env { spec, workdir, _server: server, _root: root }
    })
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap()
}

/// A workflow of independent echo-like steps, exported with `export argo`; the plan and input
/// of its manifest are what the exporter puts into plugin templates.
struct Exported {
    dir: tempfile::TempDir,
    plan: String,
    input: String,
}

fn export(steps: &str) -> Exported {
    export_with(steps, None).0
}

/// Exports with an overlay, if any; also returns the manifest.
fn export_with(steps: &str, overlay: Option<&str>) -> (Exported, Value) {
    let dir = tempfile::tempdir().unwrap();
    let wf = format!(
        "version: v0.2.0\n{EMPTY_INPUT}\nsteps:\n{}\noutputs:\n  success: {{done: true}}\n",
        steps.replace("SPEC", &env().spec).replace("DIR", &dir.path().display().to_string())
    );
    std::fs::write(dir.path().join("workflow.yaml"), wf).unwrap();
    let manifest = dir.path().join("manifest.yaml");
    let mut cmd = Command::new(bin());
    if let Some(o) = overlay {
        std::fs::write(dir.path().join("overlay.yaml"), o).unwrap();
        cmd.arg("export").arg("argo").arg("--overlay").arg(dir.path().join("overlay.yaml"));
    } else {
        cmd.args(["export", "argo"]);
    }
    let out = cmd
        .arg(dir.path().join("workflow.yaml"))
        .arg("--workdir")
        .arg(&env().workdir)
        .arg("-o")
        .arg(&manifest)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "export: {}", String::from_utf8_lossy(&out.stderr));
    let m = arcaflow_py::yaml::parse_text(&std::fs::read_to_string(&manifest).unwrap()).unwrap().to_json();
    let param = |name: &str| {
        m["spec"]["arguments"]["parameters"].as_array().unwrap().iter().find(|p| p["name"] == name).unwrap()["value"]
            .as_str()
            .unwrap()
            .to_string()
    };
    (Exported { plan: param("plan"), input: param("input"), dir }, m)
}

impl Exported {
    /// The body of node `node` (attempt `attempt`) running `step`, as the agent sends it.
    fn body(&self, uid: &str, step: &str, node: &str, attempt: u32) -> Value {
        body(
            uid,
            &format!("step-{step}"),
            json!({"arcaflow": {
                "plan": self.plan, "input": self.input, "step": step, "upstream": "{}",
                "node": node, "attempt": attempt.to_string(),
            }}),
        )
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn token_file(&self) -> PathBuf {
        let p = self.path("token");
        std::fs::write(&p, format!("{TOKEN}\n")).unwrap();
        p
    }

    fn start(&self, args: &[&str]) -> Plugin {
        Plugin::start(&self.token_file(), &env().workdir, args)
    }
}

fn runs(count_file: &Path) -> usize {
    std::fs::read_to_string(count_file).map(|s| s.lines().count()).unwrap_or(0)
}

fn result(outcome: &agent::Outcome) -> Value {
    serde_json::from_str(&outcome.param("result")).unwrap()
}

const ECHO: &str = "    plugin: {deployment_type: python, src: \"SPEC\"}\n    step: echo\n";

#[test]
fn auth_comes_first_and_only_the_execute_path_is_served() {
    let e = export(&format!("  a:\n{ECHO}    input: {{msg: hi}}\n"));
    // No token file yet: the execute path answers 503 (retried by the agent), never 404.
    let token_file = e.path("late-token");
    let plugin = Plugin::start(&token_file, &env().workdir, &[]);
    let rt = runtime();
    rt.block_on(async {
        let t = Duration::from_secs(30);
        let path = "/api/v1/template.execute";
        let ok_body = serde_json::to_vec(&e.body("uid-auth", "a", "wf-abc.a", 0)).unwrap();
        let warming = post(plugin.port, Some(TOKEN), "POST", path, ok_body.clone(), t).await;
        assert!(matches!(warming, Sent::Status(503, _)), "{warming:?}");
        std::fs::write(&token_file, TOKEN).unwrap();
        for token in [None, Some("wrong"), Some("0123456789abcdef0123456789abcdeX"), Some("")] {
            let sent = post(plugin.port, token, "POST", path, ok_body.clone(), t).await;
            assert!(matches!(sent, Sent::Status(403, _)), "{token:?}: {sent:?}");
        }
        // Auth before routing: an unknown path without the token is 403, with it 404.
        assert!(matches!(post(plugin.port, None, "POST", "/metrics", vec![], t).await, Sent::Status(403, _)));
        assert!(matches!(post(plugin.port, Some(TOKEN), "POST", "/metrics", vec![], t).await, Sent::Status(404, _)));
        let get = post(plugin.port, Some(TOKEN), "GET", path, vec![], t).await;
        assert!(matches!(get, Sent::Status(405, _)), "{get:?}");
        let garbage = post(plugin.port, Some(TOKEN), "POST", path, b"{not json".to_vec(), t).await;
        assert!(matches!(&garbage, Sent::Status(400, text) if text.contains("not JSON")), "{garbage:?}");
        // The right token and body: the step runs.
        let outcome = Agent::new(plugin.port, TOKEN).execute(&e.body("uid-auth", "a", "wf-abc.a", 0)).await;
        assert_eq!(outcome.phase(), "Succeeded", "{outcome:?}\n{}", plugin.log());
    });
    assert!(!plugin.log().contains(TOKEN), "the token is never logged");
}

#[test]
fn a_template_of_another_plugin_gets_an_empty_reply() {
    let e = export(&format!("  a:\n{ECHO}    input: {{msg: hi}}\n"));
    let plugin = e.start(&[]);
    let outcome = runtime().block_on(async {
        Agent::new(plugin.port, TOKEN).execute(&body("uid-foreign", "other", json!({"hello": {"x": 1}}))).await
    });
    assert_eq!(outcome.replies, vec![json!({})]);
    assert!(outcome.node.is_none(), "Argo then says 'no plugin executed the template'");
}

#[test]
fn success_error_output_and_crash_end_as_in_pod_mode() {
    let e = export(&format!(
        "  ok:\n{ECHO}    input: {{msg: hello}}\n  bad:\n{ECHO}    input: {{msg: nope, fail: true}}\n  boom:\n    plugin: {{deployment_type: python, src: \"SPEC\"}}\n    step: crash\n    input: {{message: kaboom-in-plugin}}\n"
    ));
    let plugin = e.start(&[]);
    let agent = Agent::new(plugin.port, TOKEN);
    let bodies =
        [e.body("uid-1", "ok", "wf.ok", 0), e.body("uid-1", "bad", "wf.bad", 0), e.body("uid-1", "boom", "wf.boom", 0)];
    let (ok, bad, boom) = runtime().block_on(async {
        tokio::join!(agent.execute(&bodies[0]), agent.execute(&bodies[1]), agent.execute(&bodies[2]))
    });
    let log = plugin.log();
    assert_eq!(ok.phase(), "Succeeded", "{ok:?}\n{log}");
    assert_eq!(ok.param("output-id"), "success");
    assert_eq!(result(&ok)["stages"]["outputs"]["success"]["msg"], "hello");
    assert_eq!(ok.node.as_ref().unwrap()["progress"], "1/1");
    // An error output is data, as in pod mode (the runner exits 0).
    assert_eq!(bad.phase(), "Succeeded", "{bad:?}");
    assert_eq!(bad.param("output-id"), "error");
    assert_eq!(result(&bad)["stages"]["outputs"]["error"]["error"], "asked to fail: nope");
    // A crash fails the node with why, and never asks to be called again.
    assert_eq!(boom.phase(), "Failed", "{boom:?}");
    let message = boom.node.as_ref().unwrap()["message"].as_str().unwrap();
    assert!(message.starts_with("step 'boom': kaboom-in-plugin"), "{message}");
    assert!(message.contains("RuntimeError: kaboom-in-plugin"), "the traceback: {message}");
    assert_eq!(boom.param("output-id"), "__crashed__");
    assert!(boom.replies.iter().all(|r| r.get("requeue").is_none()));
}

#[test]
fn timeouts_and_failed_deploys_fail_the_node_without_requeue() {
    let e = export(&format!("  late:\n{ECHO}    timeout: 1\n    input: {{msg: late, sleep: 60}}\n"));
    let plugin = e.start(&["--reply-within", "0.5", "--requeue", "0.2"]);
    let agent = Agent::new(plugin.port, TOKEN);
    let rt = runtime();
    let late = rt.block_on(agent.execute(&e.body("uid-8", "late", "wf.late", 0)));
    assert_eq!(late.phase(), "Failed", "{late:?}\n{}", plugin.log());
    assert_eq!(late.node.as_ref().unwrap()["message"], "step 'late': timed out after 1 s");
    assert_eq!(late.param("output-id"), "__crashed__");
    // The plan pins a repository that is not there: the deploy fails, the node says why.
    let mut broken = e.body("uid-8", "late", "wf.late-2", 0);
    let plan = broken["template"]["plugin"]["arcaflow"]["plan"].as_str().unwrap().replace("testkit.git", "gone.git");
    broken["template"]["plugin"]["arcaflow"]["plan"] = json!(plan);
    let gone = rt.block_on(agent.execute(&broken));
    assert_eq!(gone.phase(), "Failed", "{gone:?}");
    assert_eq!(gone.param("output-id"), "__deploy_failed__");
    let message = gone.node.as_ref().unwrap()["message"].as_str().unwrap();
    assert!(message.contains("gone.git"), "{message}");
    assert!(late
        .replies
        .iter()
        .chain(&gone.replies)
        .all(|r| r["node"]["phase"] != "Failed" || r.get("requeue").is_none()));
}

#[test]
fn a_long_step_is_requeued_until_done_and_runs_once() {
    let e = export(&format!("  slow:\n{ECHO}    input: {{msg: slow, sleep: 4, count_file: DIR/slow.count}}\n"));
    let plugin = e.start(&["--reply-within", "0.5", "--requeue", "0.2"]);
    let agent = Agent::new(plugin.port, TOKEN);
    let rt = runtime();
    let outcome = rt.block_on(agent.execute(&e.body("uid-2", "slow", "wf.slow", 0)));
    assert_eq!(outcome.phase(), "Succeeded", "{outcome:?}\n{}", plugin.log());
    let phases = outcome.phases();
    assert_eq!(phases.last().map(String::as_str), Some("Succeeded"));
    assert!(phases.iter().any(|p| p == "Running"), "{phases:?}");
    for r in &outcome.replies[..outcome.replies.len() - 1] {
        assert_eq!(r["node"]["progress"], "0/1");
        assert!(agent::go_duration(r["requeue"].as_str().unwrap()) > Duration::ZERO);
    }
    assert_eq!(runs(&e.path("slow.count")), 1);
    // The agent restarts (a new emulator, the same sidecar): the stored result, no second run.
    let again = rt.block_on(Agent::new(plugin.port, TOKEN).execute(&e.body("uid-2", "slow", "wf.slow", 0)));
    assert_eq!(again.phases(), vec!["Succeeded"]);
    assert_eq!(again.param("result"), outcome.param("result"));
    assert_eq!(runs(&e.path("slow.count")), 1);
}

#[test]
fn a_retry_attempt_runs_the_step_again_and_another_workflow_too() {
    let e = export(&format!("  a:\n{ECHO}    input: {{msg: again, count_file: DIR/a.count}}\n"));
    let plugin = e.start(&[]);
    let agent = Agent::new(plugin.port, TOKEN);
    runtime().block_on(async {
        for (uid, attempt, expected) in [("uid-3", 0, 1), ("uid-3", 0, 1), ("uid-3", 1, 2), ("uid-4", 0, 3)] {
            let o = agent.execute(&e.body(uid, "a", "wf.a", attempt)).await;
            assert_eq!(o.phase(), "Succeeded", "{o:?}");
            assert_eq!(runs(&e.path("a.count")), expected, "{uid} attempt {attempt}");
        }
    });
}

#[test]
fn without_a_node_name_or_after_eviction_a_step_is_never_run_twice() {
    let e = export(&format!(
        "  a:\n{ECHO}    input: {{msg: a, count_file: DIR/a.count}}\n  b:\n{ECHO}    input: {{msg: b, count_file: DIR/b.count}}\n"
    ));
    let plugin = e.start(&["--max-finished", "1"]);
    let agent = Agent::new(plugin.port, TOKEN);
    runtime().block_on(async {
        // No `node`: the key is the uid and the whole template (with a warning).
        let mut anonymous = e.body("uid-9", "b", "", 0);
        let ours = anonymous["template"]["plugin"]["arcaflow"].as_object_mut().unwrap();
        ours.remove("node");
        ours.remove("attempt");
        for _ in 0..2 {
            assert_eq!(agent.execute(&anonymous).await.phase(), "Succeeded");
        }
        assert_eq!(runs(&e.path("b.count")), 1);
        // Node a finishes, b pushes it out of memory: a is answered Failed, not run again.
        assert_eq!(agent.execute(&e.body("uid-9", "a", "wf.a", 0)).await.phase(), "Succeeded");
        assert_eq!(agent.execute(&e.body("uid-9", "b", "wf.b", 0)).await.phase(), "Succeeded");
        let again = agent.execute(&e.body("uid-9", "a", "wf.a", 0)).await;
        assert_eq!(again.phase(), "Failed", "{again:?}");
        assert!(again.node.as_ref().unwrap()["message"].as_str().unwrap().contains("dropped from memory"));
        assert_eq!(runs(&e.path("a.count")), 1);
    });
    assert!(plugin.log().contains("names no 'node'"), "{}", plugin.log());
}

#[test]
fn calls_repeated_after_client_timeouts_get_the_one_execution() {
    let e = export(&format!("  slow:\n{ECHO}    input: {{msg: slow, sleep: 3, count_file: DIR/slow.count}}\n"));
    // The server holds each call up to 20 s (its default); the client gives up after 1 s and
    // retries with backoff, as Argo's agent does after its 30 s.
    let plugin = e.start(&[]);
    let agent = Agent {
        timeout: Duration::from_secs(1),
        backoff: Duration::from_millis(500),
        ..Agent::new(plugin.port, TOKEN)
    };
    let outcome = runtime().block_on(agent.execute(&e.body("uid-5", "slow", "wf.slow", 0)));
    assert_eq!(outcome.phase(), "Succeeded", "{outcome:?}\n{}", plugin.log());
    assert!(outcome.attempts >= 2, "the first call timed out: {outcome:?}");
    assert_eq!(runs(&e.path("slow.count")), 1);
}

#[test]
fn over_the_concurrency_limit_nodes_wait_pending() {
    let steps: String = (0..16)
        .map(|i| format!("  s{i}:\n{ECHO}    input: {{msg: m{i}, sleep: 1, count_file: DIR/s{i}.count}}\n"))
        .collect();
    let e = export(&steps);
    let plugin = e.start(&["--max-concurrent", "2", "--reply-within", "0.3", "--requeue", "0.2"]);
    let agent = Agent::new(plugin.port, TOKEN);
    let outcomes = runtime().block_on(async {
        let calls = (0..16).map(|i| {
            let (agent, body) = (agent.clone(), e.body("uid-6", &format!("s{i}"), &format!("wf.s{i}"), 0));
            tokio::spawn(async move { agent.execute(&body).await })
        });
        let mut out = Vec::new();
        for c in calls.collect::<Vec<_>>() {
            out.push(c.await.unwrap());
        }
        out
    });
    let mut spans = Vec::new();
    for (i, o) in outcomes.iter().enumerate() {
        assert_eq!(o.phase(), "Succeeded", "s{i}: {o:?}");
        assert_eq!(runs(&e.path(&format!("s{i}.count"))), 1, "s{i}");
        let data = &result(o)["stages"]["outputs"]["success"];
        spans.push((data["started"].as_f64().unwrap(), data["ended"].as_f64().unwrap()));
    }
    assert!(outcomes.iter().any(|o| o.phases().contains(&"Pending".to_string())), "some waited Pending");
    // Never more than two steps between their start and end at once.
    for (s, _) in &spans {
        let overlapping = spans.iter().filter(|(a, b)| a <= s && s < b).count();
        assert!(overlapping <= 2, "{overlapping} steps ran at once: {spans:?}");
    }
}

#[test]
fn sigterm_cancels_running_steps_and_stops() {
    let e = export(
        "  h:\n    plugin: {deployment_type: python, src: \"SPEC\"}\n    step: hang\n    input: {pid_file: DIR/h.pids}\n",
    );
    let mut plugin = e.start(&["--reply-within", "0.3", "--requeue", "0.2"]);
    let rt = runtime();
    let agent = Agent::new(plugin.port, TOKEN);
    let body = e.body("uid-7", "h", "wf.h", 0);
    let first = rt.block_on(agent.call(&body)).0.unwrap();
    assert_eq!(first["node"]["phase"], "Running", "{first}");
    wait_for_file(&e.path("h.pids"));
    let pids = read_pids(&e.path("h.pids"));
    assert_eq!(alive(&pids), pids);
    assert_eq!(plugin.terminate(), 0, "{}", plugin.log());
    assert_eq!(alive(&pids), Vec::<i32>::new(), "the step and its child are gone\n{}", plugin.log());
    assert!(plugin.log().contains("cancelling running steps"), "{}", plugin.log());
}

#[test]
fn the_swagger_check_refuses_a_misspelt_or_mistyped_reply() {
    agent::validate(
        "ExecuteTemplateReply",
        &json!({"node": {"phase": "Succeeded", "progress": "1/1"}, "requeue": "5s"}),
    );
    for bad in [
        json!({"node": {"phaze": "Succeeded"}}),
        json!({"requeue": 5}),
        json!({"node": {"outputs": {"parameters": [{"nam": "x"}]}}}),
    ] {
        let caught = std::panic::catch_unwind(|| agent::validate("ExecuteTemplateReply", &bad));
        assert!(caught.is_err(), "{bad} passed");
    }
}

fn install_text(flag: &str, extra: &[&str]) -> (i32, String, String) {
    let out = Command::new(bin())
        .args(["serve-plugin", flag, "--image", "example.org/arcaflow-py:1.0", "--namespace", "argo"])
        .args(extra)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code().unwrap_or(-1), text(&out.stdout), text(&out.stderr))
}

#[track_caller]
fn assert_strict(definition: &str, doc: &Value) {
    let v = arcaflow_py::argo::schema::validate_as(definition, doc).unwrap();
    assert!(v.is_empty(), "{definition}: {v:#?}\n{doc:#}");
}

/// The four rules of Argo's `Sidecar.Validate`, which both `argo executor-plugin build` and the
/// controller's `FromConfigMap` apply.
#[track_caller]
fn assert_sidecar_rules(c: &Value) {
    assert!(c["ports"].as_array().is_some_and(|p| !p.is_empty()), "a port");
    assert!(c["resources"]["requests"].as_object().is_some_and(|m| !m.is_empty()), "requests");
    assert!(c["resources"]["limits"].as_object().is_some_and(|m| !m.is_empty()), "limits");
    assert!(c["securityContext"].is_object(), "a securityContext");
}

#[test]
fn the_plugin_manifest_and_configmap_are_golden_and_pass_the_strict_schema() {
    let (code, plugin_yaml, err) = install_text("--manifest", &[]);
    assert_eq!(code, 0, "{err}");
    insta::assert_snapshot!("serve_plugin_yaml", plugin_yaml);
    let plugin = arcaflow_py::yaml::parse_text(&plugin_yaml).unwrap().to_json();
    // The schema's ExecutorPlugin is the workflow-level type (no apiVersion/kind): check the spec
    // and metadata against their definitions and the two type fields here.
    assert_eq!(
        (plugin["apiVersion"].as_str(), plugin["kind"].as_str()),
        (Some("argoproj.io/v1alpha1"), Some("ExecutorPlugin"))
    );
    assert_strict("io.argoproj.workflow.v1alpha1.ExecutorPluginSpec", &plugin["spec"]);
    assert_strict("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", &plugin["metadata"]);
    let container = &plugin["spec"]["sidecar"]["container"];
    assert_sidecar_rules(container);
    assert_eq!(container["securityContext"]["runAsNonRoot"], true);

    let (code, cm_yaml, err) = install_text("--configmap", &[]);
    assert_eq!(code, 0, "{err}");
    insta::assert_snapshot!("serve_plugin_configmap", cm_yaml);
    assert!(cm_yaml.starts_with("# This is an auto-generated file. DO NOT EDIT\n"));
    let cm = arcaflow_py::yaml::parse_text(&cm_yaml).unwrap().to_json();
    assert_eq!(cm["metadata"]["name"], "arcaflow-executor-plugin");
    assert_eq!(cm["metadata"]["namespace"], "argo");
    assert_eq!(cm["metadata"]["labels"]["workflows.argoproj.io/configmap-type"], "ExecutorPlugin");
    assert_eq!(cm["metadata"]["annotations"], plugin["metadata"]["annotations"]);
    assert_eq!(cm["data"]["sidecar.automountServiceAccountToken"], "true");
    // The embedded sidecar is the plugin.yaml's container, and a valid Kubernetes Container.
    let sidecar = arcaflow_py::yaml::parse_text(cm["data"]["sidecar.container"].as_str().unwrap()).unwrap().to_json();
    assert_eq!(&sidecar, container);
    assert_strict("io.k8s.api.core.v1.Container", &sidecar);
    assert_sidecar_rules(&sidecar);
    assert_eq!(sidecar["ports"][0]["containerPort"], 4355);
    assert_eq!(sidecar["command"], json!(["arcaflow-py", "serve-plugin", "--port", "4355"]));
    let mutated = json!({"name": "x", "image": "i", "resourcez": {}});
    assert!(!arcaflow_py::argo::schema::validate_as("io.k8s.api.core.v1.Container", &mutated).unwrap().is_empty());
}

#[test]
fn install_flags_that_argo_would_refuse_are_refused() {
    let (code, out, err) = install_text("--configmap", &["--memory-limit", "lots"]);
    assert_eq!((code, out.as_str()), (1, ""));
    assert!(err.contains("--memory-limit: 'lots' is not a Kubernetes quantity"), "{err}");
    let (code, _, err) = install_text("--manifest", &["--name", "Not_A_Name"]);
    assert_eq!(code, 1);
    assert!(err.contains("--name"), "{err}");
    let (code, _, _) = install_text("--manifest", &["--configmap"]);
    assert_eq!(code, 1, "one of the two");
}

/// What Argo's controller does to a template before the agent gets it: every `{{…}}` replaced
/// in the JSON-marshalled template, the value escaped for a JSON string (strconv.Quote).
fn substitute_like_argo(template: &Value, scope: &[(&str, &str)]) -> Value {
    let mut text = serde_json::to_string(template).unwrap();
    for (k, v) in scope {
        let quoted = serde_json::to_string(v).unwrap();
        text = text.replace(&format!("{{{{{k}}}}}"), &quoted[1..quoted.len() - 1]);
    }
    assert!(!text.contains("{{"), "unresolved: {text}");
    serde_json::from_str(&text).unwrap()
}

/// `export argo --overlay` with `mode: plugin`: the template it writes, substituted as Argo
/// would, is what the real server runs; with a retry policy each attempt is its own execution.
#[test]
fn an_exported_plugin_template_runs_on_the_real_server() {
    let (e, manifest) = export_with(
        &format!("  probe:\n{ECHO}    retry: {{limit: 2}}\n    input: {{msg: probed, count_file: DIR/probe.count}}\n"),
        Some("steps:\n  probe: {mode: plugin}\n"),
    );
    let templates = manifest["spec"]["templates"].as_array().unwrap();
    let t = templates.iter().find(|t| t["name"] == "step-probe").unwrap();
    assert!(t.get("script").is_none() && t["plugin"]["arcaflow"]["node"] == "{{node.name}}", "{t:#}");
    let task = templates[0]["dag"]["tasks"].as_array().unwrap().iter().find(|x| x["name"] == "probe").unwrap();
    let arg = |n: &str| {
        task["arguments"]["parameters"].as_array().unwrap().iter().find(|p| p["name"] == n).unwrap()["value"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (step, upstream) = (arg("step"), arg("upstream"));
    let attempt_body = |retries: &str| {
        let scope = [
            ("workflow.parameters.plan", e.plan.as_str()),
            ("workflow.parameters.input", e.input.as_str()),
            ("inputs.parameters.step", step.as_str()),
            ("inputs.parameters.upstream", upstream.as_str()),
            ("node.name", "wf-abc.probe"),
            ("retries", retries),
        ];
        let template = substitute_like_argo(t, &scope);
        json!({"workflow": {"metadata": {"name": "wf-abc", "namespace": "argo", "uid": "uid-10"}}, "template": template})
    };
    let plugin = e.start(&[]);
    let agent = Agent::new(plugin.port, TOKEN);
    runtime().block_on(async {
        let first = agent.execute(&attempt_body("0")).await;
        assert_eq!(first.phase(), "Succeeded", "{first:?}\n{}", plugin.log());
        assert_eq!(first.param("output-id"), "success");
        assert_eq!(result(&first)["stages"]["outputs"]["success"]["msg"], "probed");
        assert_eq!(agent.execute(&attempt_body("0")).await.param("result"), first.param("result"));
        assert_eq!(runs(&e.path("probe.count")), 1);
        assert_eq!(agent.execute(&attempt_body("1")).await.phase(), "Succeeded");
        assert_eq!(runs(&e.path("probe.count")), 2);
    });
}
