//! The simulator's scheduling rules, each against Argo's documented semantics, with real `sh`
//! processes as the tasks' containers.

use super::*;
use serde_json::json;

fn opts() -> Options {
    Options {
        input: None,
        cache: None,
        work: None,
        binary: PathBuf::from("arcaflow-py"),
        secrets: None,
        verbose: false,
    }
}

/// A script template running `source` with sh; it declares output `x` read from /out/x.
fn script(name: &str, source: &str) -> Value {
    json!({
        "name": name,
        "inputs": {"parameters": [{"name": "v", "default": ""}]},
        "outputs": {"parameters": [{"name": "x", "valueFrom": {"path": "/out/x", "default": "dflt"}}]},
        "script": {"image": "sh", "command": ["sh"], "source": source}
    })
}

fn manifest(tasks: Value, templates: Vec<Value>) -> Value {
    let mut all = vec![json!({"name": "main", "dag": {"failFast": false, "tasks": tasks}})];
    all.extend(templates);
    json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": {"generateName": "t-"},
           "spec": {"entrypoint": "main", "templates": all}})
}

const WRITE: &str = "mkdir -p \"$OUT\" && printf '%s' \"{{inputs.parameters.v}}\" > \"$OUT/x\"";

fn writer() -> Value {
    let mut t = script("write", WRITE);
    t["script"]["env"] = json!([{"name": "OUT", "value": "/out"}]);
    t
}

fn run(doc: &Value) -> Outcome {
    simulate(doc, &opts()).unwrap()
}

fn phase(o: &Outcome, task: &str) -> Phase {
    o.nodes.get(&format!("main.{task}")).unwrap_or_else(|| panic!("no node {task}: {:?}", o.nodes.keys())).phase
}

#[test]
fn depends_waits_for_every_named_task() {
    // `a.Failed` alone would be true at once; Argo still waits for `c` too, so `b` can read c's output.
    let doc = manifest(
        json!([
            {"name": "a", "template": "fail"},
            {"name": "c", "template": "write", "arguments": {"parameters": [{"name": "v", "value": "from-c"}]}},
            {"name": "b", "template": "write", "depends": "a.Failed || c.Succeeded",
             "arguments": {"parameters": [{"name": "v", "value": "{{tasks.c.outputs.parameters.x}}"}]}}
        ]),
        vec![script("fail", "exit 1"), writer()],
    );
    let o = run(&doc);
    assert_eq!(phase(&o, "b"), Phase::Succeeded);
    assert_eq!(o.nodes["main.b"].outputs["x"], "from-c");
}

#[test]
fn when_false_skips_and_unmet_depends_omit() {
    let doc = manifest(
        json!([
            {"name": "a", "template": "write", "arguments": {"parameters": [{"name": "v", "value": "no"}]}},
            {"name": "b", "template": "write", "depends": "a.Succeeded", "when": "'{{tasks.a.outputs.parameters.x}}' == 'yes'"},
            {"name": "c", "template": "write", "depends": "b.Succeeded"},
            {"name": "d", "template": "write", "depends": "c.Succeeded"},
            {"name": "e", "template": "write", "depends": "b",
             "arguments": {"parameters": [{"name": "v", "value": "{{tasks.b.outputs.parameters.x}}"}]}}
        ]),
        vec![writer()],
    );
    let o = run(&doc);
    assert_eq!(phase(&o, "b"), Phase::Skipped);
    assert_eq!(phase(&o, "c"), Phase::Omitted);
    assert_eq!(phase(&o, "d"), Phase::Omitted, "Omitted propagates");
    assert_eq!(phase(&o, "e"), Phase::Succeeded, "a bare task name accepts Skipped");
    assert_eq!(o.nodes["main.e"].outputs["x"], "dflt", "a skipped producer's output takes its default");
}

#[test]
fn absent_output_files_take_their_default() {
    let doc = manifest(json!([{"name": "a", "template": "quiet"}]), vec![script("quiet", "true")]);
    assert_eq!(run(&doc).nodes["main.a"].outputs["x"], "dflt");
}

#[test]
fn the_leaves_decide_the_phase() {
    let doc = manifest(
        json!([{"name": "a", "template": "fail"}, {"name": "b", "template": "ok", "depends": "a.Failed"}]),
        vec![script("fail", "exit 7"), script("ok", "true")],
    );
    let o = run(&doc);
    assert!(o.succeeded, "a failed non-leaf does not fail the workflow");
    let doc = manifest(
        json!([{"name": "a", "template": "ok"}, {"name": "b", "template": "fail", "depends": "a.Succeeded"}]),
        vec![script("fail", "exit 3"), script("ok", "true")],
    );
    let o = run(&doc);
    assert!(!o.succeeded);
    assert_eq!(o.leaf_exit_code, Some(3));
}

#[test]
fn retries_follow_the_exit_code_expression() {
    let dir = tempfile::tempdir().unwrap();
    let counter = dir.path().join("n");
    let src = format!("echo x >> {c}; [ $(wc -l < {c}) -ge 2 ] && exit 0; exit 75", c = counter.display());
    let mut t = script("flaky", &src);
    t["retryStrategy"] = json!({"limit": "2", "retryPolicy": "Always", "expression": "lastRetry.exitCode == '75'"});
    let o = run(&manifest(json!([{"name": "a", "template": "flaky"}]), vec![t.clone()]));
    assert_eq!(phase(&o, "a"), Phase::Succeeded);
    assert_eq!(std::fs::read_to_string(&counter).unwrap().lines().count(), 2);
    t["script"]["source"] = json!(format!("echo x >> {}; exit 70", counter.display()));
    std::fs::remove_file(&counter).unwrap();
    let o = run(&manifest(json!([{"name": "a", "template": "flaky"}]), vec![t]));
    assert_eq!(phase(&o, "a"), Phase::Failed);
    assert_eq!(std::fs::read_to_string(&counter).unwrap().lines().count(), 1, "exit 70 is not retried");
}

#[test]
fn global_outputs_are_collected() {
    let mut t = writer();
    t["outputs"]["parameters"][0]["globalName"] = json!("result");
    let doc = manifest(
        json!([{"name": "a", "template": "write", "arguments": {"parameters": [{"name": "v", "value": "doc"}]}}]),
        vec![t],
    );
    assert_eq!(run(&doc).outputs["result"], "doc");
}

#[test]
fn deadlines_kill_the_task() {
    let mut t = script("slow", "sleep 30");
    t["activeDeadlineSeconds"] = json!("1");
    let o = run(&manifest(json!([{"name": "a", "template": "slow"}]), vec![t]));
    assert_eq!(phase(&o, "a"), Phase::Failed);
    assert!(o.nodes["main.a"].message.contains("deadline"));
}

#[test]
fn every_task_gets_its_own_home_tmp_and_a_scrubbed_environment() {
    let src =
        "mkdir -p \"$OUT\"; printf '%s|%s|%s' \"$HOME\" \"$TMPDIR\" \"${CARGO_MANIFEST_DIR:-unset}\" > \"$OUT/x\"";
    let mut t = script("env", src);
    t["script"]["env"] = json!([{"name": "OUT", "value": "/out"}]);
    let o = run(&manifest(json!([{"name": "a", "template": "env"}, {"name": "b", "template": "env"}]), vec![t]));
    let a = &o.nodes["main.a"].outputs["x"];
    let b = &o.nodes["main.b"].outputs["x"];
    assert_ne!(a, b);
    assert!(a.ends_with("|unset") && b.ends_with("|unset"), "{a} {b}");
}

#[test]
fn script_sources_reach_the_command_as_a_file() {
    let mut t = script("src", "mkdir -p \"$OUT\"; printf '%s' \"$0\" > \"$OUT/x\"");
    t["script"]["env"] = json!([{"name": "OUT", "value": "/out"}]);
    let o = run(&manifest(json!([{"name": "a", "template": "src"}]), vec![t]));
    assert!(o.nodes["main.a"].outputs["x"].ends_with("/argo/staging/script"));
}

#[test]
fn unresolved_references_and_loops_are_errors() {
    let doc = manifest(
        json!([{"name": "a", "template": "write", "arguments": {"parameters": [{"name": "v", "value": "{{tasks.zz.outputs.parameters.x}}"}]}}]),
        vec![writer()],
    );
    assert!(simulate(&doc, &opts()).unwrap_err().contains("failed to resolve"));
    let doc = manifest(json!([{"name": "a", "template": "write", "withParam": "[1]"}]), vec![writer()]);
    assert!(simulate(&doc, &opts()).unwrap_err().contains("not simulated"));
}

#[test]
fn when_expressions_evaluate_like_govaluate() {
    assert!(eval_when("'a' == 'a' && 'b' != 'c'").unwrap());
    assert!(!eval_when("'a' == 'b' && true").unwrap());
    assert!(eval_when("'a' == 'b' || 'x' == 'x'").unwrap());
    assert!(eval_when("'a && b' == 'a && b'").unwrap());
    assert!(eval_when("nonsense").is_err());
}
