//! Inline Python steps (`kind: python`, an arcaflow-py extension): a real requirement from PyPI
//! installed once into a cached venv, the base interpreter in isolated mode without one, type
//! errors caught at load, exceptions as the `error` output, `(output_id, data)` returns, a
//! protected stdout, and the plugin steps' timeouts.

use std::fs;

use crate::support::{complete_builds, Case, EMPTY_INPUT};

fn wf(body: &str) -> String {
    format!("version: v0.2.0\n{EMPTY_INPUT}\n{body}")
}

#[test]
fn a_requirement_from_pypi_is_installed_once_and_the_second_run_reuses_its_venv() {
    let case = Case::new().own_workdir();
    case.workflow(&wf(r#"steps:
  versions:
    kind: python
    requirements: ["six==1.17.0"]
    input: {}
    source: |
      import sys
      import six
      def main() -> dict:
          return {"six": six.__version__, "prefix": sys.prefix, "isolated": sys.flags.isolated}
outputs:
  success: !expr $.steps.versions.outputs.success
"#));
    let first = case.run();
    first.assert_code(0);
    let d = first.yaml()["output_data"].clone();
    assert_eq!(d["six"].as_str(), Some("1.17.0"));
    assert!(d["prefix"].as_str().unwrap().starts_with(case.workdir.to_str().unwrap()), "{d:?}");
    assert_eq!(d["isolated"].as_i64(), Some(1));
    assert!(first.stderr.contains("built python step 'versions' (six==1.17.0)"), "{}", first.stderr);
    let builds = complete_builds(&case.workdir);
    assert_eq!(builds.len(), 1, "{builds:?}");
    assert!(builds[0].parent().unwrap().file_name().unwrap().to_string_lossy().starts_with("inline-python-"));

    let second = case.run();
    second.assert_code(0);
    assert_eq!(second.yaml()["output_data"]["six"].as_str(), Some("1.17.0"));
    assert!(!second.stderr.contains("built "), "the second run installed again:\n{}", second.stderr);
    assert_eq!(complete_builds(&case.workdir), builds);
}

#[test]
fn without_requirements_the_base_interpreter_runs_isolated_and_file_sources_work() {
    let case = Case::new().own_workdir();
    case.file(
        "scripts/double.py",
        "import sys\n\ndef double(values: list[int], label: str = 'x') -> dict:\n    return {'label': label, 'values': [v * 2 for v in values], 'prefix': sys.prefix, 'base': sys.base_prefix, 'isolated': sys.flags.isolated}\n",
    );
    case.workflow(&wf(r#"steps:
  twice:
    kind: python
    file: scripts/double.py
    function: double
    input: {values: [1, 2, 3]}
outputs:
  success: !expr $.steps.twice.outputs.success
"#));
    let out = case.run();
    out.assert_code(0);
    let d = out.yaml()["output_data"].clone();
    assert_eq!(d["label"].as_str(), Some("x"));
    assert_eq!(d["values"][2].as_i64(), Some(6));
    assert_eq!(d["prefix"], d["base"], "no venv");
    assert_eq!(d["isolated"].as_i64(), Some(1));
    assert!(complete_builds(&case.workdir).is_empty());
}

#[test]
fn type_errors_are_caught_at_load_and_nothing_runs() {
    let case = Case::new();
    let marker = case.path("ran");
    let step = |input: &str, sig: &str| {
        wf(&format!(
            r#"steps:
  s:
    kind: python
    input: {input}
    source: |
      def main({sig}):
          open("{}", "w").write("ran")
          return {{}}
outputs:
  success: {{r: !expr $.steps.s.outputs.success}}
"#,
            marker.display()
        ))
    };
    for (input, sig, expected) in [
        ("{samples: hello}", "samples: list[float]", "steps -> s -> input -> samples"),
        ("{samples: [1], extra: 2}", "samples: list[float]", "Invalid parameter 'extra', expected one of: samples"),
        ("{}", "samples: dict[str, int]", "samples"),
        ("{n: !expr $.steps.s.outputs}", "n: int", "cycle"),
        ("{}", "samples:: int", "the source does not parse"),
    ] {
        case.workflow(&step(input, sig));
        let out = case.run();
        out.assert_code(1);
        assert!(out.stderr.contains(expected), "{input} / {sig}: {}", out.stderr);
        assert!(!marker.exists(), "the step ran for {input} / {sig}");
    }
    case.workflow(&wf(
        "steps:\n  s:\n    kind: python\n    input: {}\n    source: 'def other(): pass'\noutputs:\n  success: {r: !expr $.steps.s.outputs.success}\n",
    ));
    let out = case.run();
    out.assert_code(1);
    assert!(out.stderr.contains("defines no top-level function 'main'"), "{}", out.stderr);
}

#[test]
fn an_exception_is_the_error_output_with_its_traceback_and_pairs_pick_the_output() {
    let case = Case::new();
    case.workflow(&wf(r#"steps:
  boom:
    kind: python
    input: {x: 3}
    source: |
      def helper(x):
          raise ValueError(f"bad value {x}")

      def main(x: int):
          return helper(x)
  pick:
    kind: python
    input: {reason: not today}
    outputs:
      skipped: {root: S, objects: {S: {id: S, properties: {reason: {type: {type_id: string}}}}}}
    source: |
      def main(reason: str):
          print("printed, not on stdout")
          return "skipped", {"reason": reason}
outputs:
  success:
    error: !expr $.steps.boom.outputs.error
    reason: !expr $.steps.pick.outputs.skipped.reason
"#));
    let out = case.run();
    out.assert_code(0);
    let d = out.yaml()["output_data"].clone();
    assert_eq!(d["error"]["type"].as_str(), Some("ValueError"));
    assert_eq!(d["error"]["message"].as_str(), Some("bad value 3"));
    let tb = d["error"]["traceback"].as_str().unwrap();
    assert!(tb.starts_with("Traceback (most recent call last):"), "{tb}");
    assert!(tb.contains("in helper") && tb.contains("in main"), "{tb}");
    assert!(!tb.contains("runner-"), "the runner's own frames are not shown: {tb}");
    assert_eq!(d["reason"].as_str(), Some("not today"));
    assert!(!out.stdout.contains("printed"));

    // Declared outputs are type-checked: a field the schema lacks is a load error.
    let text = fs::read_to_string(case.path("workflow.yaml")).unwrap();
    case.workflow(&text.replace("outputs.skipped.reason", "outputs.skipped.why"));
    let out = case.run();
    out.assert_code(1);
    assert!(out.stderr.contains("why"), "{}", out.stderr);
}

#[test]
fn an_inline_step_cannot_write_to_the_engine_stdout_and_has_the_step_timeout() {
    let case = Case::new();
    let pid_file = case.path("pid");
    case.workflow(&wf(&format!(
        r#"steps:
  noisy:
    kind: python
    input: {{}}
    source: |
      import os, sys
      def main():
          os.system("echo leaked-from-a-child")
          os.write(1, b"leaked-from-fd-1")
          sys.__stdout__.write("leaked-from-sys-stdout")
          sys.__stdout__.flush()
          return {{"ok": True}}
  slow:
    kind: python
    timeout: 1
    input: {{}}
    source: |
      import os, time
      def main():
          open("{}", "w").write(str(os.getpid()))
          time.sleep(600)
          return {{}}
outputs:
  success:
    ok: !expr $.steps.noisy.outputs.success.ok
    slow: !expr $.steps.slow.crashed.error.output
"#,
        pid_file.display()
    )));
    let out = case.run();
    out.assert_code(0);
    assert!(!out.stdout.contains("leaked"), "{}", out.stdout);
    let d = out.yaml()["output_data"].clone();
    assert_eq!(d["ok"].as_bool(), Some(true));
    assert!(d["slow"].as_str().unwrap().contains("timed out after 1 s"), "{d:?}");
    let pid: i32 = fs::read_to_string(&pid_file).unwrap().trim().parse().unwrap();
    assert!(crate::support::alive(&[pid]).is_empty(), "the timed-out step's process survived");
}

#[test]
fn export_argo_refuses_an_inline_step_with_a_clear_error() {
    let case = Case::new();
    case.workflow(&wf(
        "steps:\n  s:\n    kind: python\n    input: {}\n    source: 'def main(): return {}'\noutputs:\n  success: {r: !expr $.steps.s.outputs.success}\n",
    ));
    let c = case.command("export");
    let mut args: Vec<String> = c.get_args().map(|a| a.to_string_lossy().to_string()).collect();
    args.insert(1, "argo".into());
    args.push("--check".into());
    let out: crate::support::RunOutput =
        std::process::Command::new(crate::support::bin()).args(&args).output().unwrap().into();
    out.assert_code(1);
    assert!(out.stderr.contains("steps -> s"), "{}", out.stderr);
    assert!(out.stderr.contains("inline Python steps (kind: python"), "{}", out.stderr);
}

#[test]
fn retry_on_error_runs_a_failing_inline_function_again_in_a_fresh_process() {
    let case = Case::new();
    let counter = case.path("count");
    case.workflow(&wf(&format!(
        r#"steps:
  flaky:
    kind: python
    retry: {{limit: 2, on: [error]}}
    input: {{path: "{}"}}
    source: |
      import os
      def main(path: str):
          with open(path, "a") as f:
              f.write(str(os.getpid()) + "\n")
          pids = open(path).read().split()
          if len(pids) < 2:
              raise RuntimeError("first attempt fails")
          return {{"pids": pids}}
outputs:
  success: {{pids: !expr $.steps.flaky.outputs.success.pids}}
"#,
        counter.display()
    )));
    let out = case.run();
    out.assert_code(0);
    let pids = out.yaml()["output_data"]["pids"].as_sequence().unwrap().clone();
    assert_eq!(pids.len(), 2);
    assert_ne!(pids[0], pids[1], "each attempt is a fresh process");
}
