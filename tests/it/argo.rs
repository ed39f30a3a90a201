//! Argo export, verified offline: every fixture workflow is exported, the manifest is golden and
//! passes `argo lint`, and `argo simulate` of it prints the same document and exit code as
//! `arcaflow-py run` (each simulated task in its own sandbox).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::support::{bin, shared_repo, with_spec, Case, RunOutput, EMPTY_INPUT};

fn cmd(args: &[&str], dir: &Path) -> RunOutput {
    Command::new(bin()).args(args).current_dir(dir).stdin(Stdio::null()).output().expect("the binary runs").into()
}

/// Exports the case's workflow; returns the manifest's path.
fn export(case: &Case, extra: &[&str]) -> PathBuf {
    let out = export_result(case, extra);
    out.assert_code(0);
    case.path("manifest.yaml")
}

fn export_result(case: &Case, extra: &[&str]) -> RunOutput {
    let mut c = case.command("export");
    // `command` puts its own flags first; the verb's subcommand must follow `export`.
    let mut args: Vec<String> = c.get_args().map(|a| a.to_string_lossy().to_string()).collect();
    args.insert(1, "argo".into());
    args.extend(["-o".to_string(), case.path("manifest.yaml").display().to_string()]);
    args.extend(extra.iter().map(|s| s.to_string()));
    c = Command::new(bin());
    c.args(&args).stdin(Stdio::null());
    c.output().expect("the binary runs").into()
}

fn simulate(case: &Case, manifest: &Path, shared_cache: bool) -> RunOutput {
    let mut args = vec!["argo".to_string(), "simulate".into(), manifest.display().to_string()];
    if case.path("input.yaml").exists() {
        args.extend(["--input".into(), case.path("input.yaml").display().to_string()]);
    }
    if shared_cache {
        args.extend(["--cache".into(), case.workdir.display().to_string()]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    cmd(&args, case.dir.path())
}

/// The manifest with this run's paths replaced, for golden files.
fn golden_text(manifest: &Path) -> String {
    let repo = shared_repo(true);
    std::fs::read_to_string(manifest)
        .unwrap()
        .replace(&repo.dir.display().to_string(), "[REPO]")
        .replace(&repo.head, "[COMMIT]")
        .replace(env!("CARGO_PKG_VERSION"), "[VERSION]")
}

/// Runs the workflow, exports it, lints and simulates the manifest, and compares.
#[track_caller]
fn assert_equivalent(name: &str, case: &Case, code: i32) -> RunOutput {
    assert_equivalent_with(name, case, code, &[])
}

/// As [`assert_equivalent`], with extra `export argo` flags.
#[track_caller]
fn assert_equivalent_with(name: &str, case: &Case, code: i32, extra: &[&str]) -> RunOutput {
    let run = case.run();
    run.assert_code(code);
    let manifest = export(case, extra);
    cmd(&["argo", "lint", &manifest.display().to_string()], case.dir.path()).assert_code(0);
    let sim = simulate(case, &manifest, true);
    assert_eq!(
        (sim.code, &sim.stdout),
        (run.code, &run.stdout),
        "simulate differs from run\nsimulate stderr:\n{}\nrun stderr:\n{}",
        sim.stderr,
        run.stderr
    );
    insta::assert_snapshot!(format!("argo_{name}"), golden_text(&manifest));
    run
}

fn wf(body: &str) -> String {
    with_spec(&format!("version: v0.2.0\n{body}"))
}

const NAME_INPUT: &str = "input: {root: In, objects: {In: {id: In, properties: {name: {type: {type_id: string}}, flag: {type: {type_id: bool}, required: false}}}}}";

#[test]
fn a_chain_is_equivalent() {
    let case = Case::new();
    case.workflow(&wf(&format!(
        r#"{NAME_INPUT}
steps:
  first_step:
    plugin: {{deployment_type: python, src: "SPEC"}}
    step: echo
    input: {{msg: !expr $.input.name}}
  second:
    plugin: {{deployment_type: python, src: "SPEC"}}
    step: echo
    input: {{msg: !expr '$.steps.first_step.outputs.success.msg + "!"'}}
  third:
    plugin: {{deployment_type: python, src: "SPEC"}}
    step: echo
    input: {{msg: !expr $.steps.second.outputs.success.msg}}
outputs:
  success: {{msg: !expr $.steps.third.outputs.success.msg, n: !expr $.steps.first_step.outputs.success.length}}
"#
    )));
    case.input("name: Arca\n");
    let run = assert_equivalent("chain", &case, 0);
    assert_eq!(run.yaml()["output_data"]["msg"].as_str(), Some("Arca!"));
}

/// Steps with `mode: plugin` become executor plugin templates; `argo simulate` runs them as
/// `serve-plugin` would (the substituted plugin object handed to the same step code), so the
/// mixed manifest still gives `run`'s document. `serve::` drives the real server with them.
#[test]
fn plugin_mode_steps_are_equivalent() {
    let case = Case::new();
    case.workflow(&wf(&format!(
        r#"{NAME_INPUT}
steps:
  probe:
    plugin: {{deployment_type: python, src: "SPEC"}}
    step: echo
    input: {{msg: !expr $.input.name}}
  middle:
    plugin: {{deployment_type: python, src: "SPEC"}}
    step: echo
    input: {{msg: !expr '$.steps.probe.outputs.success.msg + "?"', fail: true}}
  last:
    plugin: {{deployment_type: python, src: "SPEC"}}
    step: echo
    retry: {{limit: 1}}
    input: {{msg: !expr '$.steps.middle.outputs.error.error + "!"'}}
outputs:
  success: {{msg: !expr $.steps.last.outputs.success.msg, n: !expr $.steps.probe.outputs.success.length}}
"#
    )));
    case.input("name: Arca\n");
    case.file("overlay.yaml", "steps:\n  probe: {mode: plugin}\n  last: {mode: plugin}\n");
    let run = assert_equivalent_with("plugin_mode", &case, 0, &["--overlay", "overlay.yaml"]);
    assert_eq!(run.yaml()["output_data"]["msg"].as_str(), Some("asked to fail: Arca?!"));
    let m = std::fs::read_to_string(case.path("manifest.yaml")).unwrap();
    assert_eq!(m.matches("arcaflow:").count(), 2, "two plugin templates");
    assert_eq!(m.matches("{{retries}}").count(), 1, "the retried one carries its attempt");
}

#[test]
fn a_diamond_with_an_error_edge_is_equivalent() {
    let case = Case::new();
    case.workflow(&wf(&format!(
        r#"{EMPTY_INPUT}
steps:
  a:
    plugin: {{deployment_type: python, src: "SPEC"}}
    step: echo
    input: {{msg: top}}
  b:
    plugin: {{deployment_type: python, src: "SPEC"}}
    step: echo
    input: {{msg: !expr $.steps.a.outputs.success.msg, fail: true}}
  c:
    plugin: {{deployment_type: python, src: "SPEC"}}
    step: echo
    input: {{msg: !expr $.steps.a.outputs.success.flavor}}
  on_error:
    plugin: {{deployment_type: python, src: "SPEC"}}
    step: echo
    input: {{msg: !expr $.steps.b.outputs.error.error}}
  never:
    plugin: {{deployment_type: python, src: "SPEC"}}
    step: echo
    input: {{msg: !expr $.steps.b.outputs.success.msg}}
  join:
    plugin: {{deployment_type: python, src: "SPEC"}}
    step: echo
    input:
      msg: !expr $.steps.on_error.outputs.success.msg + "/" + $.steps.c.outputs.success.msg
outputs:
  success: {{joined: !expr $.steps.join.outputs.success.msg}}
"#
    )));
    assert_equivalent("diamond", &case, 0);
}

#[test]
fn an_error_output_is_equivalent() {
    let case = Case::new();
    case.workflow(&wf(&format!(
        r#"{EMPTY_INPUT}
steps:
  a:
    plugin: {{deployment_type: python, src: "SPEC"}}
    step: echo
    input: {{msg: bad, fail: true}}
outputs:
  success: {{m: !expr $.steps.a.outputs.success.msg}}
  error: {{e: !expr $.steps.a.outputs.error.error}}
"#
    )));
    assert_equivalent("error_output", &case, 2);
}

#[test]
fn a_crash_is_equivalent_as_data_and_as_no_output() {
    let body = |outputs: &str| {
        wf(&format!(
            r#"{EMPTY_INPUT}
steps:
  boom:
    plugin: {{deployment_type: python, src: "SPEC"}}
    step: crash
    input: {{message: broken on purpose}}
  after:
    plugin: {{deployment_type: python, src: "SPEC"}}
    step: echo
    wait_for: !expr $.steps.boom.outputs.success
    input: {{msg: after the crash}}
  other:
    plugin: {{deployment_type: python, src: "SPEC"}}
    step: echo
    input: {{msg: independent}}
outputs:
{outputs}"#
        ))
    };
    let case = Case::new();
    case.workflow(&body("  success:\n    crashed: !expr $.steps.boom.crashed.error.output\n    other: !expr $.steps.other.outputs.success.msg\n"));
    let run = assert_equivalent("crash_as_data", &case, 0);
    assert!(run.yaml()["output_data"]["crashed"].as_str().unwrap_or_default().contains("broken on purpose"));
    let case = Case::new();
    case.workflow(&body("  success:\n    m: !expr $.steps.after.outputs.success.msg\n"));
    assert_equivalent("crash_no_output", &case, 3);
}

#[test]
fn enabled_and_disabled_steps_are_equivalent() {
    let workflow = wf(&format!(
        r#"{NAME_INPUT}
steps:
  maybe:
    plugin: {{deployment_type: python, src: "SPEC"}}
    step: echo
    enabled: !expr $.input.flag
    input: {{msg: !expr $.input.name}}
  gated:
    plugin: {{deployment_type: python, src: "SPEC"}}
    step: echo
    enabled: !expr $.steps.maybe.outputs.success.length > 2
    input: {{msg: inner}}
  report:
    plugin: {{deployment_type: python, src: "SPEC"}}
    step: echo
    input:
      msg: !expr $.input.name
    wait_for: !ordisabled $.steps.maybe.outputs.success
outputs:
  success:
    report: !expr $.steps.report.outputs.success.msg
    maybe: !oneof
      discriminator: state
      one_of:
        on: {{m: !expr $.steps.maybe.outputs.success.msg}}
        off: !expr $.steps.maybe.disabled.output
"#
    ));
    for (flag, name) in [("true", "enabled"), ("false", "disabled")] {
        let case = Case::new();
        case.workflow(&workflow);
        case.input(&format!("name: Arca\nflag: {flag}\n"));
        assert_equivalent(&format!("enabled_{name}"), &case, 0);
        // The input-only `enabled` is decided by the plan task: a disabled step gets no pod.
        let keep = case.path("sandboxes");
        let manifest = case.path("manifest.yaml").display().to_string();
        let input = case.path("input.yaml").display().to_string();
        let cache = case.workdir.display().to_string();
        let keep_s = keep.display().to_string();
        cmd(&["argo", "simulate", &manifest, "--input", &input, "--cache", &cache, "--keep", &keep_s], case.dir.path())
            .assert_code(0);
        let ran = |task: &str| keep.join(format!("main_{task}-0")).exists();
        assert!(ran("arcaflow-plan"));
        assert_eq!(ran("maybe"), flag == "true");
    }
}

#[test]
fn oneof_takes_the_option_that_resolved() {
    let case = Case::new();
    case.workflow(&wf(&format!(
        r#"{EMPTY_INPUT}
steps:
  fails:
    plugin: {{deployment_type: python, src: "SPEC"}}
    step: echo
    input: {{msg: x, fail: true}}
  works:
    plugin: {{deployment_type: python, src: "SPEC"}}
    step: echo
    input: {{msg: y}}
  pick:
    plugin: {{deployment_type: python, src: "SPEC"}}
    step: echo
    input:
      msg: done
outputs:
  success:
    picked: !oneof
      discriminator: which
      one_of:
        first: {{m: !expr $.steps.fails.outputs.success.msg}}
        second: {{m: !expr $.steps.works.outputs.success.msg}}
    soft: !wait-optional $.steps.fails.outputs.success.msg
"#
    )));
    assert_equivalent("oneof", &case, 0);
}

#[test]
fn foreach_is_equivalent_for_success_and_failed_items() {
    let sub = with_spec(
        r#"version: v0.2.0
input: {root: Item, objects: {Item: {id: Item, properties: {m: {type: {type_id: string}}, bad: {type: {type_id: bool}}}}}}
steps:
  e:
    plugin: {deployment_type: python, src: "SPEC"}
    step: echo
    input: {msg: !expr $.input.m, fail: !expr $.input.bad}
outputs:
  success: {m: !expr $.steps.e.outputs.success.msg}
"#,
    );
    let main = |items: &str| {
        wf(&format!(
            r#"{EMPTY_INPUT}
steps:
  loop:
    kind: foreach
    workflow: sub.yaml
    parallelism: 2
    items: {items}
outputs:
  success: {{all: !expr $.steps.loop.outputs.success.data}}
  error: {{failed: !expr $.steps.loop.failed.error}}
"#
        ))
    };
    let case = Case::new();
    case.file("sub.yaml", &sub);
    case.workflow(&main("[{m: a, bad: false}, {m: b, bad: false}, {m: c, bad: false}]"));
    assert_equivalent("foreach", &case, 0);
    let case = Case::new();
    case.file("sub.yaml", &sub);
    case.workflow(&main("[{m: a, bad: false}, {m: b, bad: true}]"));
    assert_equivalent("foreach_failed_item", &case, 2);
}

#[test]
fn stop_if_is_fused_and_equivalent() {
    let case = Case::new();
    case.workflow(&wf(&format!(
        r#"{EMPTY_INPUT}
steps:
  quick:
    plugin: {{deployment_type: python, src: "SPEC"}}
    step: echo
    input: {{msg: stop, sleep: 0.5}}
  waiting:
    plugin: {{deployment_type: python, src: "SPEC"}}
    step: wait
    input: {{seconds: 60}}
    stop_if: !expr $.steps.quick.outputs
outputs:
  success: {{w: !expr $.steps.waiting.outputs.cancelled.message != "", q: !expr $.steps.quick.outputs.success.msg}}
"#
    )));
    let run = assert_equivalent("stop_if_fused", &case, 0);
    assert_eq!(run.yaml()["output_data"]["w"].as_bool(), Some(true));
    assert!(std::fs::read_to_string(case.path("manifest.yaml")).unwrap().contains("run-all"));
}

#[test]
fn tasks_deploy_their_plugin_in_their_own_sandbox_without_a_shared_cache() {
    let case = Case::new();
    case.workflow(&crate::support::echo_workflow(&shared_repo(true).spec()));
    let run = case.run();
    run.assert_code(0);
    let manifest = export(&case, &[]);
    let sim = simulate(&case, &manifest, false);
    assert_eq!(sim.code, 0, "{}\n{}", sim.stdout, sim.stderr);
    let strip = |o: &RunOutput| o.yaml()["output_data"]["msg"].clone();
    assert_eq!(strip(&sim), strip(&run));
}

#[test]
fn export_refuses_what_a_pod_cannot_run() {
    let case = Case::new();
    let local = shared_repo(true).dir.display().to_string();
    case.workflow(&format!(
        "version: v0.2.0\n{EMPTY_INPUT}\nsteps:\n  a:\n    plugin: {{deployment_type: python, src: \"arcaflow-plugin-testkit@{local}\"}}\n    step: echo\n    input: {{msg: x}}\noutputs:\n  success: {{m: !expr $.steps.a.outputs.success.msg}}\n"
    ));
    let out = export_result(&case, &[]);
    out.assert_code(1);
    assert!(out.stderr.contains("is a local directory, which pods do not have"), "{}", out.stderr);
    assert!(out.stderr.contains("steps -> a -> plugin -> src"), "{}", out.stderr);
}

#[test]
fn export_check_writes_nothing_and_secrets_stay_out() {
    let case = Case::new();
    case.workflow(&wf(&format!(
        r#"{NAME_INPUT}
steps:
  a:
    plugin: {{deployment_type: python, src: "SPEC"}}
    step: echo
    input: {{msg: !expr $.input.name}}
outputs:
  success: {{m: !expr $.steps.a.outputs.success.msg}}
"#
    )));
    case.input("name: hunter2\n");
    let out = export_result(&case, &["--secret-input", "name=creds/name"]);
    out.assert_code(1);
    assert!(out.stderr.contains("also sets 'name'"), "{}", out.stderr);
    let case2 = Case::new();
    case2.workflow(&std::fs::read_to_string(case.path("workflow.yaml")).unwrap());
    let out = export_result(&case2, &["--secret-input", "name=creds/name", "--check"]);
    out.assert_code(0);
    assert!(!case2.path("manifest.yaml").exists(), "--check writes nothing");
    let manifest = export(&case2, &["--secret-input", "name=creds/name"]);
    let text = std::fs::read_to_string(&manifest).unwrap();
    assert!(text.contains("secretName: creds"));
    // Simulated with the Secret as a directory, the value reaches the step.
    let secrets = case2.path("secrets/creds");
    std::fs::create_dir_all(&secrets).unwrap();
    std::fs::write(secrets.join("name"), "hunter2").unwrap();
    let sim = cmd(
        &[
            "argo",
            "simulate",
            &manifest.display().to_string(),
            "--cache",
            &case2.workdir.display().to_string(),
            "--secrets",
            &case2.path("secrets").display().to_string(),
        ],
        case2.dir.path(),
    );
    sim.assert_code(0);
    assert_eq!(sim.yaml()["output_data"]["m"].as_str(), Some("hunter2"));
}

#[test]
fn argo_lint_reports_problems_with_their_place() {
    let case = Case::new();
    case.file(
        "bad.yaml",
        "apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata: {generateName: x-}\nspec:\n  entrypoint: main\n  templates:\n  - name: main\n    dag:\n      tasks:\n      - {name: count_name, template: nope, dependz: x}\n",
    );
    let out = cmd(&["argo", "lint", "bad.yaml"], case.dir.path());
    out.assert_code(1);
    for needle in ["dependz", "'count_name' is invalid", "template 'nope', which is not defined"] {
        assert!(out.stderr.contains(needle), "{needle}: {}", out.stderr);
    }
}

/// When the real `argo` CLI is installed, its offline lint must accept our export too.
#[test]
// Saying that the check was skipped is this test's output when `argo` is missing.
#[allow(clippy::print_stderr)]
fn argo_cli_lint_offline_when_available() {
    let found =
        std::env::var_os("PATH").map(|p| std::env::split_paths(&p).any(|d| d.join("argo").is_file())).unwrap_or(false);
    if !found {
        eprintln!("SKIPPED: no `argo` binary on PATH; `argo lint --offline` was not run (see README)");
        return;
    }
    let case = Case::new();
    case.workflow(&crate::support::echo_workflow(&shared_repo(true).spec()));
    let manifest = export(&case, &[]);
    let out = Command::new("argo").args(["lint", "--offline", "--kinds=workflows"]).arg(&manifest).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
}

/// An independent parser: Hera's models read every exported manifest (with an overlay, secrets
/// and as a WorkflowTemplate too) and give back every key and value (scripts/test installs Hera).
#[test]
fn exported_manifests_round_trip_through_hera_with_no_key_lost() {
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/tools/hera/bin/python");
    assert!(python.exists(), "Hera is not installed: run scripts/test (it installs hera into target/tools/hera)");
    let case = Case::new();
    case.workflow(&crate::support::echo_workflow(&shared_repo(true).spec()));
    case.file(
        "overlay.yaml",
        "defaults: {serviceAccountName: runner}\nsteps:\n  hello:\n    resources: {requests: {cpu: 1, memory: 64Mi}}\n    nodeSelector: {disk: ssd}\n    tolerations: [{key: k, operator: Equal, value: v, effect: NoSchedule}]\n",
    );
    let mut manifests = Vec::new();
    for (i, extra) in [
        vec!["--overlay", "overlay.yaml"],
        vec!["--kind", "workflow-template", "--name", "echo-template", "--secret-input", "sleep=s/key"],
    ]
    .into_iter()
    .enumerate()
    {
        let out = export_result(&case, &extra);
        out.assert_code(0);
        let p = case.path(&format!("m{i}.yaml"));
        std::fs::rename(case.path("manifest.yaml"), &p).unwrap();
        manifests.push(p.display().to_string());
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/argo/hera_roundtrip.py");
    let out = Command::new(&python).arg(&script).args(&manifests).output().unwrap();
    assert!(
        out.status.success(),
        "keys or values lost in Hera's round trip:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A small deterministic generator (no timing, no global state) for the random-DAG property.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

/// A random DAG over the test plugin: each step reads an earlier step's success or error output
/// (or nothing), may fail on purpose, may crash, may be disabled by the input, and the outputs
/// read optional or required data, so runs end in every way (success, error output, no output).
fn random_workflow(seed: u64) -> String {
    let mut r = Lcg(seed);
    let n = 3 + r.next(4);
    let mut steps = String::new();
    // Only echo steps have msg/error outputs to read; the first and the last are always echo.
    let mut echo: Vec<u64> = Vec::new();
    for i in 0..n {
        let read = if echo.is_empty() { 0 } else { r.next(4) };
        let src = if echo.is_empty() { 0 } else { echo[r.next(echo.len() as u64) as usize] };
        let msg = match read {
            0 | 1 => format!("!expr '\"m{i}\"'"),
            2 => format!("!expr '$.steps.s{src}.outputs.success.msg + \"-{i}\"'"),
            _ => format!("!expr '$.steps.s{src}.outputs.error.error'"),
        };
        let fail = r.next(4) == 0;
        let enabled = if r.next(5) == 0 { "    enabled: !expr $.input.flag\n" } else { "" };
        if i > 0 && i < n - 1 && r.next(6) == 0 {
            steps.push_str(&format!(
                "  s{i}:\n    plugin: {{deployment_type: python, src: \"SPEC\"}}\n    step: crash\n{enabled}    input: {{message: boom{i}}}\n"
            ));
        } else {
            echo.push(i);
            steps.push_str(&format!(
                "  s{i}:\n    plugin: {{deployment_type: python, src: \"SPEC\"}}\n    step: echo\n{enabled}    input: {{msg: {msg}, fail: {fail}}}\n"
            ));
        }
    }
    let last = n - 1;
    let other = echo[r.next(echo.len() as u64) as usize];
    format!(
        "version: v0.2.0\ninput: {{root: In, objects: {{In: {{id: In, properties: {{flag: {{type: {{type_id: bool}}}}}}}}}}}}\nsteps:\n{steps}outputs:\n  success:\n    last: !expr $.steps.s{last}.outputs.success.msg\n    other: !wait-optional $.steps.s{other}.outputs.success.msg\n  error:\n    failed: !expr $.steps.s{other}.outputs.error.error\n"
    )
}

/// The property: for random DAGs (fixed seeds, so failures reproduce), `argo simulate` of the
/// export prints what `run` prints and exits the same way. ARGO_PROPERTY_CASES raises the count.
#[test]
fn random_dags_simulate_like_run() {
    let cases: u64 = std::env::var("ARGO_PROPERTY_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(6);
    for seed in 0..cases {
        let case = Case::new();
        case.workflow(&with_spec(&random_workflow(seed)));
        case.input(if seed % 2 == 0 { "flag: true\n" } else { "flag: false\n" });
        let run = case.run();
        let manifest = export(&case, &[]);
        let sim = simulate(&case, &manifest, true);
        assert_eq!(
            (sim.code, &sim.stdout),
            (run.code, &run.stdout),
            "seed {seed} differs\nworkflow:\n{}\nsimulate stderr:\n{}",
            random_workflow(seed),
            sim.stderr
        );
    }
}
