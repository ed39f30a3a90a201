//! The foundation slice: a DAG of real plugin steps, error outputs, the compat marker, bad files.

use crate::support::{shared_repo, with_spec, Case};

const DAG: &str = r#"
version: v0.2.0
input:
  root: In
  objects:
    In:
      id: In
      properties:
        first: {type: {type_id: string}}
        second: {type: {type_id: string}}
steps:
  a:
    plugin: {deployment_type: python, src: "SPEC"}
    step: echo
    input: {msg: !expr $.input.first, sleep: 0.4}
  b:
    plugin: {deployment_type: python, src: "SPEC"}
    step: echo
    input: {msg: !expr $.input.second, sleep: 0.4}
  c:
    plugin: {deployment_type: python, src: "SPEC"}
    step: echo
    input:
      msg: !expr $.steps.a.outputs.success.msg + "+" + $.steps.b.outputs.success.msg
outputs:
  success:
    joined: !expr $.steps.c.outputs.success.msg
    length: !expr $.steps.c.outputs.success.length
    a: !expr $.steps.a.outputs.success
    b: !expr $.steps.b.outputs.success
    c_started: !expr $.steps.c.outputs.success.started
"#;

#[test]
fn three_step_dag_runs_independent_steps_concurrently_and_feeds_outputs_forward() {
    let case = Case::new();
    case.workflow(&with_spec(DAG)).input("first: left\nsecond: right\n");
    let out = case.run();
    out.assert_code(0);
    let doc = out.yaml();
    assert_eq!(doc["output_id"].as_str(), Some("success"));
    let data = &doc["output_data"];
    assert_eq!(data["joined"].as_str(), Some("left+right"));
    assert_eq!(data["length"].as_i64(), Some(10));
    let (a, b) = (&data["a"], &data["b"]);
    let f = |v: &arcaflow_py::yaml::Yaml, k: &str| v[k].as_f64().unwrap();
    // a and b are independent: their run intervals overlap.
    assert!(f(a, "started") < f(b, "ended") && f(b, "started") < f(a, "ended"), "a and b did not overlap: {a:?} {b:?}");
    // c consumed both outputs, so it started after both ended.
    assert!(data["c_started"].as_f64().unwrap() >= f(a, "ended").max(f(b, "ended")));
    // Each step had its own process.
    assert_ne!(a["pid"], b["pid"]);
}

#[test]
fn error_output_exits_2_with_the_error_document() {
    let case = Case::new();
    case.workflow(&with_spec(
        r#"
version: v0.2.0
input: {root: In, objects: {In: {id: In, properties: {}}}}
steps:
  bad:
    plugin: {deployment_type: python, src: "SPEC"}
    step: echo
    input: {msg: boom, fail: true}
outputs:
  success:
    msg: !expr $.steps.bad.outputs.success.msg
  error:
    reason: !expr $.steps.bad.outputs.error.error
"#,
    ));
    let out = case.run();
    out.assert_code(2);
    let doc = out.yaml();
    assert_eq!(doc["output_id"].as_str(), Some("error"));
    assert_eq!(doc["output_data"]["reason"].as_str(), Some("asked to fail: boom"));
}

fn marker_workflow(spec: &str) -> String {
    format!(
        r#"
version: v0.2.0
input: {{root: In, objects: {{In: {{id: In, properties: {{}}}}}}}}
steps:
  hello:
    plugin: {{deployment_type: python, src: "{spec}"}}
    step: echo
    input: {{msg: hi}}
outputs:
  success: {{msg: !expr $.steps.hello.outputs.success.msg}}
"#
    )
}

#[test]
fn missing_compat_marker_is_refused_with_exit_1_and_runs_with_the_override() {
    let repo = shared_repo(false);
    let case = Case::new();
    case.workflow(&marker_workflow(&repo.spec()));
    let out = case.run();
    out.assert_code(1);
    assert!(out.stderr.contains(".python_deployer_compat"), "{}", out.stderr);
    assert!(out.stderr.contains("overrideModuleCompatibility"), "{}", out.stderr);
    assert!(out.stdout.is_empty());

    case.config("deployers:\n  python:\n    deployer_name: python\n    overrideModuleCompatibility: true\n");
    let out = case.run();
    out.assert_code(0);
    assert_eq!(out.yaml()["output_data"]["msg"].as_str(), Some("hi"));
    assert!(out.stderr.contains("overrideModuleCompatibility is true"), "the override must warn: {}", out.stderr);
    // The venv built under the override is not a way around the check later.
    std::fs::remove_file(case.path("config.yaml")).unwrap();
    let out = case.run();
    out.assert_code(1);
    assert!(out.stderr.contains(".python_deployer_compat"), "{}", out.stderr);
}

#[test]
fn malformed_workflows_exit_1_naming_the_problem() {
    let cases: &[(&str, &str)] = &[
        ("version: v0.2.0\ninput: {root: In, objects: {In: {id: In, properties: {}}}}\nsteps: [a, b\n", "not valid YAML"),
        ("version: v0.1.0\ninput: {root: In, objects: {In: {id: In, properties: {}}}}\nsteps: {}\noutputs: {}\n", "v0.1.0"),
        ("version: v0.2.0\ninput: {root: In, objects: {In: {id: In, properties: {}}}}\nsteps:\n  x: {kind: loop}\noutputs: {s: {a: 1}}\n", "loop"),
        ("version: v0.2.0\ninput: {root: In, objects: {In: {id: In, properties: {}}}}\nsteps:\n  x:\n    plugin: {deployment_type: python, src: \"SPEC\"}\n    step: echo\n    input: {msg: !expr $.input.}\noutputs: {s: {a: 1}}\n", "steps -> x -> input -> msg"),
        ("version: v0.2.0\ninput: {root: In, objects: {In: {id: In, properties: {}}}}\nsteps:\n  x:\n    plugin: {deployment_type: python, src: \"SPEC\"}\n    step: echo\n    input: {msg: hi}\n    bogus: 1\noutputs: {s: {a: 1}}\n", "'bogus'"),
        ("version: v0.2.0\ninput: {root: In, objects: {In: {id: In, properties: {}}}}\nsteps:\n  x:\n    plugin: {deployment_type: python, src: \"SPEC\"}\n    step: nope\n    input: {msg: hi}\noutputs: {s: {a: 1}}\n", "no step 'nope'"),
        ("version: v0.2.0\ninput: {root: In, objects: {In: {id: In, properties: {}}}}\nsteps:\n  x:\n    plugin: {deployment_type: python, src: \"SPEC\"}\n    step: echo\n    input: {msg: !expr $.steps.y.outputs.success.msg}\n  y:\n    plugin: {deployment_type: python, src: \"SPEC\"}\n    step: echo\n    input: {msg: !expr $.steps.x.outputs.success.msg}\noutputs: {s: {a: 1}}\n", "cycle"),
        ("", "empty"),
    ];
    for (yaml, expected) in cases {
        let case = Case::new();
        case.workflow(&with_spec(yaml));
        let out = case.run();
        assert_eq!(out.code, 1, "workflow:\n{yaml}\nstderr:\n{}", out.stderr);
        assert!(out.stderr.contains(expected), "expected {expected:?} in:\n{}", out.stderr);
        assert!(out.stderr.contains("workflow.yaml"), "the message names the file: {}", out.stderr);
    }
}
