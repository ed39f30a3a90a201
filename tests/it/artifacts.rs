//! Files between steps (`artifacts:`, an arcaflow-py extension): a plugin step writes files into
//! its artifacts directory, a later inline step reads them through `$.steps.X.artifacts.<name>`,
//! references are checked at load, the run state lists them, and `cache prune` removes them with
//! their run.

use std::fs;
use std::process::Command;

use sha2::{Digest, Sha256};

use crate::support::{bin, with_spec, Case, RunOutput, EMPTY_INPUT};

const PRODUCE_AND_CONSUME: &str = r#"steps:
  produce:
    plugin: {deployment_type: python, src: "SPEC"}
    step: artifact
    artifacts: [report, traces/]
    input:
      files: {report: "p99 is 42 ms", "traces/a.txt": "trace a", "traces/b.txt": "trace b"}
  consume:
    kind: python
    artifacts: [summary]
    input:
      report: !expr $.steps.produce.artifacts.report
      traces: !expr $.steps.produce.artifacts.traces
    source: |
      import os
      def main(report: str, traces: str) -> dict:
          text = open(report).read()
          with open(os.path.join(os.environ["ARCAFLOW_PY_ARTIFACTS"], "summary"), "w") as f:
              f.write("summary of " + text)
          return {"report": text, "traces": sorted(os.listdir(traces))}
outputs:
  success: !expr $.steps.consume.outputs.success
"#;

fn wf(body: &str) -> String {
    with_spec(&format!("version: v0.2.0\n{EMPTY_INPUT}\n{body}"))
}

fn runs(case: &Case) -> Vec<serde_json::Value> {
    let out: RunOutput =
        Command::new(bin()).args(["runs", "--json", "--workdir"]).arg(&case.workdir).output().unwrap().into();
    out.assert_code(0);
    serde_json::from_str::<serde_json::Value>(&out.stdout).unwrap().as_array().unwrap().clone()
}

fn sha256(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

#[test]
fn a_plugin_step_writes_files_that_a_later_inline_step_reads() {
    let case = Case::new().own_workdir();
    case.workflow(&wf(PRODUCE_AND_CONSUME));
    let out = case.run();
    out.assert_code(0);
    let d = out.yaml()["output_data"].clone();
    assert_eq!(d["report"].as_str(), Some("p99 is 42 ms"));
    let traces: Vec<&str> = d["traces"].as_sequence().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
    assert_eq!(traces, ["a.txt", "b.txt"]);

    let run = runs(&case)[0].clone();
    let id = run["id"].as_str().unwrap();
    let dir = case.workdir.join("artifacts").join(id);
    assert_eq!(fs::read_to_string(dir.join("produce/report")).unwrap(), "p99 is 42 ms", "kept after the run");
    assert_eq!(fs::read_to_string(dir.join("consume/summary")).unwrap(), "summary of p99 is 42 ms");
    let listed = &run["artifacts"]["produce"];
    assert_eq!(
        listed,
        &serde_json::json!([
            {"path": "report", "size": 12, "sha256": sha256("p99 is 42 ms")},
            {"path": "traces/a.txt", "size": 7, "sha256": sha256("trace a")},
            {"path": "traces/b.txt", "size": 7, "sha256": sha256("trace b")},
        ])
    );
    assert_eq!(run["artifacts"]["consume"][0]["path"], "summary");
}

#[test]
fn a_reference_to_an_undeclared_artifact_is_a_load_error_and_nothing_runs() {
    let case = Case::new().own_workdir();
    case.workflow(&wf(&PRODUCE_AND_CONSUME.replace("artifacts.report", "artifacts.summary")));
    let out = case.run();
    out.assert_code(1);
    assert!(out.stderr.contains("steps -> consume -> input"), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("steps.produce.artifacts does not have a property named \"summary\"; properties: report, traces"),
        "{}",
        out.stderr
    );
    assert!(!case.workdir.join("artifacts").exists());

    case.workflow(&wf(&PRODUCE_AND_CONSUME.replace("artifacts: [report, traces/]", "artifacts: [report, ../x]")));
    let out = case.run();
    out.assert_code(1);
    assert!(out.stderr.contains("steps -> produce -> artifacts: '../x' must be a relative path"), "{}", out.stderr);
}

#[test]
fn cache_prune_keep_runs_removes_older_runs_with_their_artifacts() {
    let case = Case::new().own_workdir();
    case.workflow(&wf(PRODUCE_AND_CONSUME));
    case.run().assert_code(0);
    // Run states are ordered by their file's time, which has a one-second resolution on some
    // file systems: the second run must be visibly newer.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    case.run().assert_code(0);
    let before = runs(&case);
    assert_eq!(before.len(), 2);
    let (newer, older) = (before[0]["id"].as_str().unwrap(), before[1]["id"].as_str().unwrap());
    let artifacts = case.workdir.join("artifacts");
    assert!(artifacts.join(older).join("produce/report").exists());

    let out: RunOutput = Command::new(bin())
        .args(["cache", "prune", "--keep-runs", "1", "--workdir"])
        .arg(&case.workdir)
        .output()
        .unwrap()
        .into();
    out.assert_code(0);
    assert!(!artifacts.join(older).exists(), "the older run's artifacts stayed:\n{}", out.stdout);
    assert!(!case.workdir.join("runs").join(format!("{older}.json")).exists());
    assert!(artifacts.join(newer).join("produce/report").exists(), "the kept run lost its artifacts");
    let after = runs(&case);
    assert_eq!(after.len(), 1);
    assert_eq!(after[0]["id"], newer);
}

#[test]
fn export_argo_refuses_step_artifacts_with_a_clear_error() {
    let case = Case::new();
    let produce_only = PRODUCE_AND_CONSUME.split("  consume:").next().unwrap();
    case.workflow(&wf(&format!("{produce_only}outputs:\n  success: {{r: !expr $.steps.produce.outputs.success}}\n")));
    let c = case.command("export");
    let mut args: Vec<String> = c.get_args().map(|a| a.to_string_lossy().to_string()).collect();
    args.insert(1, "argo".into());
    args.push("--check".into());
    let out: RunOutput = Command::new(bin()).args(&args).output().unwrap().into();
    out.assert_code(1);
    assert!(out.stderr.contains("steps -> produce -> artifacts: step artifacts"), "{}", out.stderr);
}
