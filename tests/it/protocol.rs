//! The plugin protocol and schemas against the real SDK plugin: every type, errors, crashes,
//! noisy and broken plugins, timeouts and cancellation.

use std::fs;
use std::process::Command;

use crate::support::{alive, bin, git, make_plugin_repo, shared_repo, shared_workdir, with_spec, Case, RunOutput};

fn plugin_run(step: &str, input: &str) -> RunOutput {
    let dir = tempfile::tempdir().unwrap();
    let input_path = dir.path().join("input.yaml");
    fs::write(&input_path, input).unwrap();
    Command::new(bin())
        .args(["plugin", "run", &shared_repo(true).spec(), "--step", step, "--input"])
        .arg(&input_path)
        .arg("--workdir")
        .arg(shared_workdir())
        .output()
        .unwrap()
        .into()
}

#[test]
fn every_type_in_a_step_input_is_validated_before_the_plugin_runs() {
    // (input, Ok(substring of the plugin's summary) | Err(exact validation message))
    let cases: &[(&str, Result<&str, &str>)] = &[
        ("name: abc", Ok("name=abc count=1 ratio=0.5 flag=False")),
        ("name: abc\ncount: '3'", Ok("count=3")),
        ("name: abc\ncount: 3.0", Ok("count=3")),
        ("name: abc\nratio: 2", Ok("ratio=2.0")),
        ("name: abc\nflag: 'yes'", Ok("flag=True")),
        ("name: abc\nflag: true", Ok("flag=True")),
        ("name: abc\ncolor: blue", Ok("color=blue")),
        ("name: abc\nlevel: 2", Ok("level=2")),
        ("name: abc\ntags: [a, b]", Ok("tags=['a', 'b']")),
        ("name: abc\nextra: {k: 1}", Ok("extra={'k': 1}")),
        ("name: abc\npoint: {x: 4}", Ok("point=(4, 0)")),
        ("name: abc\nalias: {kind: nick, nick: Lot}", Ok("alias=Nick")),
        ("name: abc\nalias: {kind: full, first: A, last: B}", Ok("alias=FullName")),
        ("name: abc\nanything: {n: [1, 2]}", Ok("anything={'n': [1, 2]}")),
        ("name: abc\nregex: '^a+$'", Ok("regex=^a+$")),
        ("name: x1", Err("step 'types' input -> name: String must match the pattern ^[a-z]+$")),
        ("count: 2", Err("step 'types' input -> name: This field is required")),
        ("name: abc\ncount: 9", Err("step 'types' input -> count: Must be at most 5")),
        ("name: abc\ncount: 0", Err("step 'types' input -> count: Must be at least 1")),
        ("name: abc\ncount: 2.5", Err("step 'types' input -> count: Must be an integer, float given")),
        ("name: abc\nratio: many", Err("step 'types' input -> ratio:")),
        ("name: abc\nflag: perhaps", Err("step 'types' input -> flag:")),
        ("name: abc\ncolor: green", Err("step 'types' input -> color: 'green' is not a valid value")),
        ("name: abc\nlevel: 3", Err("step 'types' input -> level:")),
        ("name: abc\ntags: []", Err("step 'types' input -> tags:")),
        ("name: abc\ntags: [[1]]", Err("step 'types' input -> tags -> [0]:")),
        ("name: abc\nextra: {k: x}", Err("step 'types' input -> extra -> [k]:")),
        ("name: abc\npoint: {y: 1}", Err("step 'types' input -> point -> x: This field is required")),
        (
            "name: abc\nalias: {kind: zzz}",
            Err("step 'types' input -> alias -> kind: Invalid value for field: 'zzz' expected one of: 'full', 'nick'"),
        ),
        ("name: abc\nregex: '('", Err("step 'types' input -> regex:")),
        ("name: abc\nbogus: 1", Err("Invalid parameter 'bogus', expected one of:")),
    ];
    for (input, expected) in cases {
        let out = plugin_run("types", input);
        match expected {
            Ok(summary) => {
                out.assert_code(0);
                let doc = out.yaml();
                let got = doc["output_data"]["summary"].as_str().unwrap_or_default();
                assert!(got.contains(summary), "input {input:?}: expected {summary:?} in {got:?}");
            }
            Err(message) => {
                assert_eq!(out.code, 3, "input {input:?} should be refused:\n{}", out.stderr);
                assert!(out.stderr.contains(message), "input {input:?}: expected {message:?} in:\n{}", out.stderr);
                assert!(out.stdout.is_empty());
            }
        }
    }
}

#[test]
fn plugin_schema_prints_the_schema() {
    let out: RunOutput = Command::new(bin())
        .args(["plugin", "schema", &shared_repo(true).spec(), "--step", "echo", "--json", "--workdir"])
        .arg(shared_workdir())
        .output()
        .unwrap()
        .into();
    out.assert_code(0);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["id"], "echo");
    assert_eq!(v["input"]["root"], "EchoInput");
    assert!(v["outputs"]["error"].is_object());
}

#[test]
fn a_step_that_raises_fails_the_run_with_pythons_message() {
    let case = Case::new();
    case.workflow(&with_spec(
        "version: v0.2.0\ninput: {root: In, objects: {In: {id: In, properties: {}}}}\nsteps:\n  boom:\n    plugin: {deployment_type: python, src: \"SPEC\"}\n    step: crash\n    input: {message: it blew up}\noutputs:\n  success: {x: !expr $.steps.boom.outputs.success}\n",
    ));
    let out = case.run();
    out.assert_code(3);
    assert!(out.stderr.contains("it blew up"), "{}", out.stderr);
    assert!(out.stderr.contains("boom"), "the message names the step: {}", out.stderr);
}

#[test]
fn a_plugin_that_prints_at_import_time_still_works() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = make_plugin_repo(&tmp.path().join("noisy"), true);
    fs::write(repo.dir.join("arcaflow_plugin_testkit/__init__.py"), "print('hello from import time')\n").unwrap();
    git(&repo.dir, &["commit", "-q", "-am", "noisy"]);
    let head = git(&repo.dir, &["rev-parse", "HEAD"]);
    let spec = format!("arcaflow-plugin-testkit@git+{}@{head}", repo.url());
    let case = Case::new();
    case.workflow(&format!(
        "version: v0.2.0\ninput: {{root: In, objects: {{In: {{id: In, properties: {{}}}}}}}}\nsteps:\n  e:\n    plugin: {{deployment_type: python, src: \"{spec}\"}}\n    step: echo\n    input: {{msg: ok}}\noutputs:\n  success: {{m: !expr $.steps.e.outputs.success.msg}}\n"
    ));
    let out = case.run();
    out.assert_code(0);
    // Python buffers the print, so it reaches the pipe before the hello or only at exit, after
    // CLIENT_DONE; either way the stream must survive it.
    assert_eq!(out.yaml()["output_data"]["m"].as_str(), Some("ok"));
}

#[test]
fn a_module_that_does_not_exist_shows_pythons_error() {
    let case = Case::new();
    case.workflow(&with_spec(
        "version: v0.2.0\ninput: {root: In, objects: {In: {id: In, properties: {}}}}\nsteps:\n  e:\n    plugin: {deployment_type: python, src: \"SPEC\", module: no_such_module}\n    step: echo\n    input: {msg: ok}\noutputs:\n  success: {m: !expr $.steps.e.outputs.success.msg}\n",
    ));
    let out = case.run();
    out.assert_code(1);
    assert!(
        out.stderr.contains("No module named no_such_module")
            || out.stderr.contains("No module named 'no_such_module'"),
        "{}",
        out.stderr
    );
}

#[test]
fn ten_megabytes_on_stderr_do_not_block_the_plugin() {
    let out = plugin_run("spam", "megabytes: 10");
    out.assert_code(0);
    assert_eq!(out.yaml()["output_data"]["written"].as_i64(), Some(10 * 1024 * 1024));
}

#[test]
fn a_hanging_step_times_out_and_its_whole_process_group_is_gone() {
    let case = Case::new();
    let pid_file = case.path("pids");
    case.workflow(&with_spec(&format!(
        "version: v0.2.0\ninput: {{root: In, objects: {{In: {{id: In, properties: {{}}}}}}}}\nsteps:\n  h:\n    plugin: {{deployment_type: python, src: \"SPEC\"}}\n    step: hang\n    timeout: 2\n    input: {{pid_file: \"{}\"}}\noutputs:\n  success: {{x: !expr $.steps.h.outputs.success}}\n",
        pid_file.display()
    )));
    let out = case.run();
    out.assert_code(3);
    assert!(out.stderr.contains("timed out after 2 s"), "{}", out.stderr);
    let pids: Vec<i32> =
        fs::read_to_string(&pid_file).unwrap().split_whitespace().map(|p| p.parse().unwrap()).collect();
    assert_eq!(pids.len(), 2, "the step and its child");
    assert!(alive(&pids).is_empty(), "processes survived: {:?}", alive(&pids));
}

#[test]
fn stop_if_cancels_a_step_that_handles_cancel() {
    let case = Case::new();
    case.workflow(&with_spec(
        r#"
version: v0.2.0
input: {root: In, objects: {In: {id: In, properties: {}}}}
steps:
  trigger:
    plugin: {deployment_type: python, src: "SPEC"}
    step: echo
    input: {msg: stop, sleep: 0.5}
  waiter:
    plugin: {deployment_type: python, src: "SPEC"}
    step: wait
    input: {seconds: 60}
    stop_if: !expr $.steps.trigger.outputs
outputs:
  success:
    how: !expr $.steps.waiter.outputs.cancelled.message
"#,
    ));
    let out = case.run();
    out.assert_code(0);
    let how = out.yaml()["output_data"]["how"].as_str().unwrap_or_default().to_string();
    assert!(how.starts_with("cancelled after"), "{how}");
}

#[test]
fn stop_if_on_a_step_without_cancel_is_a_load_error() {
    let case = Case::new();
    case.workflow(&with_spec(
        "version: v0.2.0\ninput: {root: In, objects: {In: {id: In, properties: {}}}}\nsteps:\n  e:\n    plugin: {deployment_type: python, src: \"SPEC\"}\n    step: echo\n    input: {msg: x}\n    stop_if: !expr $.input\noutputs:\n  success: {m: !expr $.steps.e.outputs.success.msg}\n",
    ));
    let out = case.run();
    out.assert_code(1);
    assert!(out.stderr.contains("cancel"), "{}", out.stderr);
}

#[test]
fn bytes_printed_before_the_hello_are_skipped_with_a_warning_showing_them() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = make_plugin_repo(&tmp.path().join("chatty"), true);
    fs::write(repo.dir.join("arcaflow_plugin_testkit/__init__.py"), "print('debug: \\x1b[31mred', flush=True)\n")
        .unwrap();
    git(&repo.dir, &["commit", "-q", "-am", "chatty"]);
    let head = git(&repo.dir, &["rev-parse", "HEAD"]);
    let spec = format!("arcaflow-plugin-testkit@git+{}@{head}", repo.url());
    let case = Case::new();
    case.workflow(&format!(
        "version: v0.2.0\ninput: {{root: In, objects: {{In: {{id: In, properties: {{}}}}}}}}\nsteps:\n  e:\n    plugin: {{deployment_type: python, src: \"{spec}\"}}\n    step: echo\n    input: {{msg: ok}}\noutputs:\n  success: {{m: !expr $.steps.e.outputs.success.msg}}\n"
    ));
    for run in ["cold", "warm"] {
        let out = case.run();
        out.assert_code(0);
        assert_eq!(out.yaml()["output_data"]["m"].as_str(), Some("ok"), "{run}");
        assert!(out.stderr.contains("wrote to stdout before its ATP hello"), "{run}: {}", out.stderr);
        // Escaped: the terminal escape sequence is shown, not sent.
        assert!(out.stderr.contains(r#"16 bytes: b"debug: \x1b[31mred\n""#), "{run}: {}", out.stderr);
        assert!(!out.stderr.contains('\u{1b}'), "{run}: a raw escape reached stderr");
    }
}
