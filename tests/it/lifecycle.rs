//! The workflow engine against the real plugin: enabling, waiting, failures, outputs that end
//! the run, foreach, timeouts, run state and resume, validation.

use std::fs;

use crate::support::{alive, bin, with_spec, Case, RunOutput, EMPTY_INPUT};

fn wf(body: &str) -> String {
    with_spec(&format!("version: v0.2.0\n{EMPTY_INPUT}\n{body}"))
}

#[test]
fn enabled_false_disables_a_step_and_ordisabled_reports_it() {
    let body = |enabled: &str| {
        wf(&format!(
            r#"steps:
  maybe:
    plugin: {{deployment_type: python, src: "SPEC"}}
    step: echo
    input: {{msg: ran}}
    enabled: {enabled}
outputs:
  success:
    result: !ordisabled $.steps.maybe.outputs.success
"#
        ))
    };
    let case = Case::new();
    case.workflow(&body("false"));
    let out = case.run();
    out.assert_code(0);
    let d = &out.yaml()["output_data"]["result"];
    assert_eq!(d["result"].as_str(), Some("disabled"));
    assert_eq!(d["message"].as_str(), Some("Step maybe/echo disabled"));
    // A literal `true` enables the step (the reference engine reads it as the string "true").
    case.workflow(&body("true"));
    let out = case.run();
    out.assert_code(0);
    let d = &out.yaml()["output_data"]["result"];
    assert_eq!(d["result"].as_str(), Some("enabled"));
    assert_eq!(d["msg"].as_str(), Some("ran"));
}

#[test]
fn wait_for_orders_steps_without_a_data_dependency() {
    let case = Case::new();
    case.workflow(&wf(r#"steps:
  first:
    plugin: {deployment_type: python, src: "SPEC"}
    step: echo
    input: {msg: a, sleep: 0.5}
  second:
    plugin: {deployment_type: python, src: "SPEC"}
    step: echo
    input: {msg: b}
    wait_for: !expr $.steps.first.outputs
outputs:
  success:
    first_ended: !expr $.steps.first.outputs.success.ended
    second_started: !expr $.steps.second.outputs.success.started
    was_started: !expr $.steps.second.starting.started
"#));
    let out = case.run();
    out.assert_code(0);
    let d = &out.yaml()["output_data"];
    assert!(d["second_started"].as_f64().unwrap() >= d["first_ended"].as_f64().unwrap());
    assert!(d["was_started"].as_mapping().is_some_and(|m| m.is_empty()));
}

#[test]
fn a_crash_is_data_for_expressions_and_independent_steps_keep_running() {
    let case = Case::new();
    case.workflow(&wf(r#"steps:
  boom:
    plugin: {deployment_type: python, src: "SPEC"}
    step: crash
    input: {message: broken on purpose}
  slow:
    plugin: {deployment_type: python, src: "SPEC"}
    step: echo
    input: {msg: survived, sleep: 1}
outputs:
  success:
    crash: !expr $.steps.boom.crashed.error.output
    other: !expr $.steps.slow.outputs.success.msg
"#));
    let out = case.run();
    out.assert_code(0);
    let d = &out.yaml()["output_data"];
    assert!(d["crash"].as_str().unwrap_or_default().contains("broken on purpose"));
    assert_eq!(d["other"].as_str(), Some("survived"));
}

#[test]
fn no_resolvable_output_exits_3_naming_the_failed_step() {
    let case = Case::new();
    case.workflow(&wf(r#"steps:
  boom:
    plugin: {deployment_type: python, src: "SPEC"}
    step: crash
    input: {message: the disk is on fire}
  after:
    plugin: {deployment_type: python, src: "SPEC"}
    step: echo
    input: {msg: after}
    wait_for: !expr $.steps.boom.outputs.success
outputs:
  success:
    m: !expr $.steps.after.outputs.success.msg
"#));
    let out = case.run();
    out.assert_code(3);
    assert!(out.stderr.contains("step 'boom'"), "{}", out.stderr);
    assert!(out.stderr.contains("the disk is on fire"), "{}", out.stderr);
}

#[test]
fn the_run_ends_when_an_output_resolves_and_running_steps_are_stopped() {
    let case = Case::new();
    let pid_file = case.path("pids");
    case.workflow(&wf(&format!(
        r#"steps:
  quick:
    plugin: {{deployment_type: python, src: "SPEC"}}
    step: echo
    input: {{msg: done, sleep: 1}}
  forever:
    plugin: {{deployment_type: python, src: "SPEC"}}
    step: hang
    input: {{pid_file: "{}"}}
outputs:
  success:
    m: !expr $.steps.quick.outputs.success.msg
"#,
        pid_file.display()
    )));
    let out = case.run();
    out.assert_code(0);
    let pids: Vec<i32> =
        fs::read_to_string(&pid_file).unwrap().split_whitespace().map(|p| p.parse().unwrap()).collect();
    assert!(alive(&pids).is_empty(), "the hanging step survived the run: {pids:?}");
}

#[test]
fn foreach_keeps_item_order_and_respects_parallelism() {
    let case = Case::new();
    case.file(
        "sub.yaml",
        &with_spec(
            r#"version: v0.2.0
input:
  root: Item
  objects:
    Item:
      id: Item
      properties:
        name: {type: {type_id: string}}
steps:
  e:
    plugin: {deployment_type: python, src: "SPEC"}
    step: echo
    input: {msg: !expr $.input.name, sleep: 0.3}
outputs:
  success:
    name: !expr $.steps.e.outputs.success.msg
    started: !expr $.steps.e.outputs.success.started
    ended: !expr $.steps.e.outputs.success.ended
"#,
        ),
    );
    case.workflow(&with_spec(
        r#"version: v0.2.0
input:
  root: In
  objects:
    In:
      id: In
      properties:
        items: {type: {type_id: list, items: {type_id: ref, id: Item}}}
    Item:
      id: Item
      properties:
        name: {type: {type_id: string}}
steps:
  loop:
    kind: foreach
    workflow: sub.yaml
    items: !expr $.input.items
    parallelism: 4
outputs:
  success:
    results: !expr $.steps.loop.outputs.success.data
"#,
    ));
    let items: Vec<String> = (0..20).map(|i| format!("  - name: item{i}\n")).collect();
    case.input(&format!("items:\n{}", items.concat()));
    let out = case.run();
    out.assert_code(0);
    let doc = out.yaml();
    let results = doc["output_data"]["results"].as_sequence().unwrap();
    assert_eq!(results.len(), 20);
    for (i, r) in results.iter().enumerate() {
        assert_eq!(r["name"].as_str(), Some(format!("item{i}").as_str()), "order");
    }
    // The most items running at one moment: at most 4, and more than 1.
    let mut events: Vec<(f64, i32)> = Vec::new();
    for r in results {
        events.push((r["started"].as_f64().unwrap(), 1));
        events.push((r["ended"].as_f64().unwrap(), -1));
    }
    events.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap().then(a.1.cmp(&b.1)));
    let (mut now, mut max) = (0, 0);
    for (_, d) in events {
        now += d;
        max = max.max(now);
    }
    assert!(max <= 4, "{max} items ran at once");
    assert!(max >= 2, "items did not run in parallel (max {max})");
}

#[test]
fn foreach_failures_are_reported_in_errors() {
    let case = Case::new();
    let exists = case.path("exists");
    fs::write(&exists, "").unwrap();
    case.file(
        "sub.yaml",
        &with_spec(
            r#"version: v0.2.0
input: {root: Item, objects: {Item: {id: Item, properties: {path: {type: {type_id: string}}}}}}
steps:
  c:
    plugin: {deployment_type: python, src: "SPEC"}
    step: echo
    input: {msg: x, fail_if_exists: !expr $.input.path}
outputs:
  success:
    c: !expr $.steps.c.outputs.success.msg
"#,
        ),
    );
    case.workflow(&wf(&format!(
        r#"steps:
  loop:
    kind: foreach
    workflow: sub.yaml
    items: [{{path: /nonexistent/file}}, {{path: "{}"}}]
    parallelism: 2
outputs:
  success:
    data: !expr $.steps.loop.outputs.success.data
  failed:
    errors: !expr $.steps.loop.failed.error.errors
    data: !expr $.steps.loop.failed.error.data
"#,
        exists.display()
    )));
    let out = case.run();
    out.assert_code(0);
    let doc = out.yaml();
    assert_eq!(doc["output_id"].as_str(), Some("failed"));
    let errors = doc["output_data"]["errors"].as_mapping().unwrap();
    assert_eq!(errors.len(), 1, "{errors:?}");
    let e = errors.get_node(&arcaflow_py::yaml::Yaml::Int(1)).and_then(|v| v.as_str()).unwrap_or_default();
    assert!(e.contains("exists"), "item 1 failed with the plugin's message: {errors:?}");
    assert!(doc["output_data"]["data"].as_mapping().unwrap().get_node(&arcaflow_py::yaml::Yaml::Int(0)).is_some());
}

#[test]
fn max_step_timeout_from_config_stops_a_hanging_step() {
    let case = Case::new();
    let pid_file = case.path("pids");
    case.workflow(&wf(&format!(
        "steps:\n  h:\n    plugin: {{deployment_type: python, src: \"SPEC\"}}\n    step: hang\n    input: {{pid_file: \"{}\"}}\noutputs:\n  success: {{x: !expr $.steps.h.outputs.success}}\n",
        pid_file.display()
    )));
    case.config("maxStepTimeout: 1\n");
    let out = case.run();
    out.assert_code(3);
    assert!(out.stderr.contains("timed out after 1 s"), "{}", out.stderr);
    let pids: Vec<i32> =
        fs::read_to_string(&pid_file).unwrap().split_whitespace().map(|p| p.parse().unwrap()).collect();
    assert!(alive(&pids).is_empty());
}

fn latest_run(case: &Case) -> serde_json::Value {
    let out: RunOutput = std::process::Command::new(bin())
        .args(["runs", "--json", "--workdir"])
        .arg(&case.workdir)
        .output()
        .unwrap()
        .into();
    out.assert_code(0);
    let runs: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    runs[0].clone()
}

#[test]
fn resume_skips_completed_steps_unless_the_input_changed() {
    let case = Case::new().own_workdir();
    let counter = case.path("count");
    let blocker = case.path("blocker");
    fs::write(&blocker, "").unwrap();
    case.workflow(&with_spec(&format!(
        r#"version: v0.2.0
input: {{root: In, objects: {{In: {{id: In, properties: {{tag: {{type: {{type_id: string}}, required: false}}}}}}}}}}
steps:
  first:
    plugin: {{deployment_type: python, src: "SPEC"}}
    step: echo
    input: {{msg: first, count_file: "{c}"}}
  second:
    plugin: {{deployment_type: python, src: "SPEC"}}
    step: echo
    input: {{msg: !expr $.steps.first.outputs.success.msg, fail_if_exists: "{b}"}}
outputs:
  success:
    m: !expr $.steps.second.outputs.success.msg
"#,
        c = counter.display(),
        b = blocker.display()
    )));
    let out = case.run();
    out.assert_code(3);
    let run = latest_run(&case);
    assert_eq!(run["status"], "Failed");
    let id = run["id"].as_str().unwrap().to_string();
    assert_eq!(fs::read_to_string(&counter).unwrap().lines().count(), 1);

    fs::remove_file(&blocker).unwrap();
    let out: RunOutput = case.command("run").arg("--resume").arg(&id).output().unwrap().into();
    out.assert_code(0);
    assert_eq!(out.yaml()["output_data"]["m"].as_str(), Some("first"));
    assert_eq!(fs::read_to_string(&counter).unwrap().lines().count(), 1, "the completed step ran again");
}

#[test]
fn resume_starts_over_when_the_input_changed() {
    let case = Case::new().own_workdir();
    let counter = case.path("count");
    case.workflow(&with_spec(&format!(
        r#"version: v0.2.0
input: {{root: In, objects: {{In: {{id: In, properties: {{tag: {{type: {{type_id: string}}}}}}}}}}}}
steps:
  first:
    plugin: {{deployment_type: python, src: "SPEC"}}
    step: echo
    input: {{msg: !expr $.input.tag, count_file: "{c}"}}
outputs:
  success:
    m: !expr $.steps.first.outputs.success.msg
"#,
        c = counter.display()
    )));
    case.input("tag: one\n");
    case.run().assert_code(0);
    let id = latest_run(&case)["id"].as_str().unwrap().to_string();
    case.input("tag: two\n");
    let out = case.command("run").arg("--resume").arg(&id).output().unwrap();
    let out: RunOutput = out.into();
    out.assert_code(0);
    assert!(out.stderr.contains("starting it over"), "{}", out.stderr);
    assert_eq!(out.yaml()["output_data"]["m"].as_str(), Some("two"));
    assert_eq!(fs::read_to_string(&counter).unwrap().lines().count(), 2);
}

#[test]
fn validate_runs_no_step() {
    let case = Case::new();
    let counter = case.path("count");
    case.workflow(&wf(&format!(
        "steps:\n  e:\n    plugin: {{deployment_type: python, src: \"SPEC\"}}\n    step: echo\n    input: {{msg: x, count_file: \"{}\"}}\noutputs:\n  success: {{m: !expr $.steps.e.outputs.success.msg}}\n",
        counter.display()
    )));
    let out: RunOutput = case.command("validate").output().unwrap().into();
    out.assert_code(0);
    assert!(!counter.exists(), "validate ran a step");
    case.workflow(&wf("steps:\n  e:\n    plugin: {deployment_type: python, src: \"SPEC\"}\n    step: echo\n    input: {msg: !expr $.steps.e.outputs.success.nope}\noutputs:\n  success: {m: 1}\n"));
    let out: RunOutput = case.command("validate").output().unwrap().into();
    out.assert_code(1);
}

#[test]
fn static_type_errors_list_the_valid_names() {
    let case = Case::new();
    case.workflow(&wf("steps:\n  e:\n    plugin: {deployment_type: python, src: \"SPEC\"}\n    step: echo\n    input: {msg: hi}\noutputs:\n  success: {m: !expr $.steps.e.outputs.success.mesage}\n"));
    let out = case.run();
    out.assert_code(1);
    assert!(out.stderr.contains("\"mesage\""), "{}", out.stderr);
    assert!(out.stderr.contains("msg"), "the valid names are listed: {}", out.stderr);
}

#[test]
fn logged_outputs_log_step_outputs() {
    let case = Case::new();
    case.workflow(&wf("steps:\n  e:\n    plugin: {deployment_type: python, src: \"SPEC\"}\n    step: echo\n    input: {msg: logged-value}\noutputs:\n  success: {m: !expr $.steps.e.outputs.success.msg}\n"));
    case.config("logged_outputs:\n  success: {level: warning}\n");
    let out = case.arg("-q").run();
    out.assert_code(0);
    // -q shows errors only, so use the default level instead.
    let _ = out;
    let case2 = Case::new();
    case2.workflow(&wf("steps:\n  e:\n    plugin: {deployment_type: python, src: \"SPEC\"}\n    step: echo\n    input: {msg: logged-value}\noutputs:\n  success: {m: !expr $.steps.e.outputs.success.msg}\n"));
    case2.config("logged_outputs:\n  success: {level: warning}\nlog: {level: warning}\n");
    let out = case2.run();
    out.assert_code(0);
    assert!(out.stderr.contains("logged-value"), "{}", out.stderr);
}

#[test]
fn legacy_output_key_and_declared_error_outputs() {
    let case = Case::new();
    case.workflow(&wf("steps:\n  e:\n    plugin: {deployment_type: python, src: \"SPEC\"}\n    step: echo\n    input: {msg: legacy}\noutput:\n  m: !expr $.steps.e.outputs.success.msg\n"));
    let out = case.run();
    out.assert_code(0);
    assert_eq!(out.yaml()["output_id"].as_str(), Some("success"));
    // An output declared `error: true` in outputSchema exits 2 whatever its id.
    case.workflow(&wf(r#"steps:
  e:
    plugin: {deployment_type: python, src: "SPEC"}
    step: echo
    input: {msg: bad news}
outputs:
  failed:
    m: !expr $.steps.e.outputs.success.msg
outputSchema:
  failed:
    error: true
    schema:
      root: F
      objects:
        F: {id: F, properties: {m: {type: {type_id: string}}}}
"#));
    let out = case.run();
    out.assert_code(2);
    assert_eq!(out.yaml()["output_id"].as_str(), Some("failed"));
}

#[test]
fn wait_optional_and_soft_optional_fields() {
    let case = Case::new();
    case.workflow(&wf(r#"steps:
  fast:
    plugin: {deployment_type: python, src: "SPEC"}
    step: echo
    input: {msg: fast}
  slow:
    plugin: {deployment_type: python, src: "SPEC"}
    step: echo
    input: {msg: slow, sleep: 0.5}
  broken:
    plugin: {deployment_type: python, src: "SPEC"}
    step: crash
    input: {}
outputs:
  success:
    fast: !expr $.steps.fast.outputs.success.msg
    waited: !wait-optional $.steps.slow.outputs.success.msg
    missing: !wait-optional $.steps.broken.outputs.success
    soft: !soft-optional $.steps.broken.outputs.success
"#));
    let out = case.run();
    out.assert_code(0);
    let doc = out.yaml();
    let d = doc["output_data"].as_mapping().unwrap();
    assert_eq!(d.get("waited").and_then(|v| v.as_str()), Some("slow"), "wait-optional waited for slow");
    assert!(d.get("missing").is_none(), "a failed wait-optional field is left out");
    assert!(d.get("soft").is_none());
}
