//! The command line as people and pipelines see it: help, error messages, JUnit, progress on a
//! terminal and plain lines elsewhere, Ctrl-C, closed pipes, completions and the man page.

use std::fs;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{alive, bin, shared_workdir, with_spec, Case, RunOutput};

fn cmd(args: &[&str]) -> RunOutput {
    Command::new(bin()).args(args).output().unwrap().into()
}

/// Replaces what changes between runs (temp paths, times, run ids, hashes) for snapshots.
fn scrub(text: &str, case: Option<&Case>) -> String {
    let mut t = text.to_string();
    if let Some(c) = case {
        t = t.replace(&c.dir.path().display().to_string(), "[CASE]");
    }
    t = t.replace(&shared_workdir().display().to_string(), "[WORKDIR]");
    let res = [
        (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", "[TIME]"),
        (r#"time="[0-9.]+""#, r#"time="[T]""#),
        (r"\d{8}T\d{6}-[0-9a-f]{8}", "[RUN]"),
        (r"[0-9a-f]{40}", "[SHA]"),
        (r"/tmp/\.tmp\w+", "[TMP]"),
    ];
    for (re, rep) in res {
        t = regex::Regex::new(re).unwrap().replace_all(&t, rep).to_string();
    }
    // Info lines depend on what the shared cache already holds (a first test builds the venv).
    t.lines().filter(|l| !(l.starts_with("[TIME]") && l.contains(" INFO "))).map(|l| format!("{l}\n")).collect()
}

#[test]
fn help_texts() {
    insta::assert_snapshot!("help", cmd(&["--help"]).stdout);
    insta::assert_snapshot!("run_help", cmd(&["run", "--help"]).stdout);
    let out = cmd(&["--version"]);
    assert!(out.stdout.starts_with("arcaflow-py "));
}

#[test]
fn error_messages() {
    let mut all = String::new();
    let mut show = |title: &str, case: &Case, out: RunOutput| {
        all.push_str(&format!("## {title} (exit {})\n{}\n", out.code, scrub(&out.stderr, Some(case))));
    };
    let case = Case::new();
    case.workflow(&with_spec("version: v0.2.0\ninput: {root: In, objects: {In: {id: In, properties: {name: {type: {type_id: string}}}}}}\nsteps:\n  e:\n    plugin: {deployment_type: python, src: \"SPEC\"}\n    step: echo\n    input: {msg: !expr $.input.name}\noutputs:\n  success: {m: !expr $.steps.e.outputs.success.msg}\n"));
    case.config("deployers:\n  python:\n    deployer_name: python\n    pythonpath: /usr/bin/python3\n");
    show("unknown config key", &case, case.run());
    fs::remove_file(case.path("config.yaml")).unwrap();
    show("no --input for a workflow that needs one", &case, case.run());
    case.input("{}\n");
    show("invalid input", &case, case.run());
    case.input("name: [unclosed\n");
    show("input that is not YAML", &case, case.run());
    let case = Case::new();
    case.workflow("version: v0.2.0\ninput: {root: In, objects: {In: {id: In, properties: {}}}}\nsteps:\n  e:\n    plugin: {deployment_type: python, src: \"x@git+https://h.example/r.git;id\"}\n    input: {}\noutputs:\n  success: {a: 1}\n");
    show("injected spec", &case, case.run());
    case.workflow("version: v0.2.0\ninput: {root: In, objects: {In: {id: In, properties: {}}}}\nsteps:\n  e:\n    plugin: {deployment_type: image, src: quay.io/x/y}\n    input: {}\noutputs:\n  success: {a: 1}\n");
    show("container step", &case, case.run());
    case.workflow("version: v0.2.0\ninput: {root: In, objects: {In: {id: In, properties: {}}}}\nsteps:\n  e: {plugin: {deployment_type: python, src: x}, input: {}\noutputs: {}\n");
    show("YAML syntax error", &case, case.run());
    let case = Case::new();
    case.workflow(&with_spec("version: v0.2.0\ninput: {root: In, objects: {In: {id: In, properties: {}}}}\nsteps:\n  hello:\n    plugin: {deployment_type: python, src: \"SPEC\"}\n    step: echo\n    input: {msg: hi}\noutputs:\n  success: {m: !expr $.steps.helo.outputs.success.msg}\n"));
    show("misspelled step id", &case, case.run());
    let empty = Case::new();
    let out: RunOutput = Command::new(crate::support::bin())
        .args(["run", "--workdir", &empty.workdir.display().to_string()])
        .current_dir(empty.dir.path())
        .output()
        .unwrap()
        .into();
    show("run without a workflow", &empty, out);
    insta::assert_snapshot!("errors", all);
}

const JUNIT_WF: &str = r#"version: v0.2.0
input: {root: In, objects: {In: {id: In, properties: {}}}}
steps:
  good:
    plugin: {deployment_type: python, src: "SPEC"}
    step: echo
    input: {msg: fine}
  bad:
    plugin: {deployment_type: python, src: "SPEC"}
    step: crash
    input: {message: "broken <on> purpose & more"}
  off:
    plugin: {deployment_type: python, src: "SPEC"}
    step: echo
    input: {msg: never}
    enabled: false
outputs:
  success:
    good: !expr $.steps.good.outputs.success.msg
    bad: !expr $.steps.bad.crashed.error.output
"#;

#[test]
fn junit_report() {
    let case = Case::new();
    case.workflow(&with_spec(JUNIT_WF));
    let report = case.path("report.xml");
    let case = case.arg("--junit").arg(report.to_str().unwrap());
    let out = case.run();
    out.assert_code(0);
    let xml = fs::read_to_string(&report).unwrap();
    // The crash message carries a Python traceback: keep its first line only for the snapshot.
    let xml: String = scrub(&xml, None)
        .lines()
        .filter(|l| !l.starts_with(' ') || l.trim_start().starts_with('<'))
        .map(|l| {
            if l.contains("<failure") && l.contains("Traceback") {
                format!("{}[TRACEBACK]</failure>", &l[..l.find("\">").map(|i| i + 2).unwrap_or(l.len())])
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    insta::assert_snapshot!("junit", xml);
}

#[test]
fn a_failed_load_still_writes_a_junit_report() {
    let case = Case::new();
    case.workflow("version: v9\n");
    let report = case.path("report.xml");
    let case = case.arg("--junit").arg(report.to_str().unwrap());
    let out = case.run();
    out.assert_code(1);
    let xml = fs::read_to_string(&report).unwrap();
    assert!(xml.contains("<failure message=\"invalid workflow"), "{xml}");
}

fn example_case() -> Case {
    let case = Case::new();
    case.workflow(&with_spec(
        "version: v0.2.0\ninput: {root: In, objects: {In: {id: In, properties: {}}}}\nsteps:\n  e:\n    plugin: {deployment_type: python, src: \"SPEC\"}\n    step: echo\n    input: {msg: hi}\noutputs:\n  success: {m: !expr $.steps.e.outputs.success.msg}\n",
    ));
    case
}

#[test]
fn a_terminal_gets_a_progress_display_and_a_pipe_gets_plain_lines() {
    let case = example_case();
    // `script` gives the command a pseudo-terminal.
    let command = case.command("run");
    let line = std::iter::once(command.get_program().to_string_lossy().to_string())
        .chain(command.get_args().map(|a| format!("'{}'", a.to_string_lossy())))
        .collect::<Vec<_>>()
        .join(" ");
    let out = Command::new("script").args(["-qec", &line, "/dev/null"]).env_remove("CI").output().unwrap();
    let tty = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{tty}");
    assert!(tty.contains("✓ step e: output 'success'"), "no progress display on a terminal:\n{tty}");
    assert!(tty.contains("output_id: success"));

    let plain = example_case().env("CI", "true").run();
    plain.assert_code(0);
    assert!(!plain.stderr.contains('\u{1b}'), "escape codes in a pipe: {:?}", plain.stderr);
    assert!(plain.stderr.contains("INFO") && plain.stderr.contains("step e: started"), "{}", plain.stderr);
    let line_re = regex::Regex::new(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z +[A-Z]+ ").unwrap();
    assert!(plain.stderr.lines().all(|l| line_re.is_match(l)), "lines are timestamped: {}", plain.stderr);
    assert!(!plain.stdout.contains("INFO"), "stdout carries only the document");
}

#[test]
fn sigint_cancels_the_run_exits_130_and_leaves_no_process() {
    let case = Case::new();
    let pid_file = case.path("pids");
    case.workflow(&with_spec(&format!(
        r#"version: v0.2.0
input: {{root: In, objects: {{In: {{id: In, properties: {{}}}}}}}}
steps:
  waiting:
    plugin: {{deployment_type: python, src: "SPEC"}}
    step: wait
    input: {{seconds: 60}}
  hanging:
    plugin: {{deployment_type: python, src: "SPEC"}}
    step: hang
    input: {{pid_file: "{}"}}
outputs:
  success:
    a: !expr $.steps.waiting.outputs.success
    b: !expr $.steps.hanging.outputs.success
"#,
        pid_file.display()
    )));
    let child = case.command("run").stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !pid_file.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let started = Instant::now();
    let out: RunOutput = child.wait_with_output().unwrap().into();
    out.assert_code(130);
    assert!(started.elapsed() < Duration::from_secs(15), "graceful cancel took too long");
    let pids: Vec<i32> =
        fs::read_to_string(&pid_file).unwrap().split_whitespace().map(|p| p.parse().unwrap()).collect();
    assert!(alive(&pids).is_empty(), "plugin processes survived: {pids:?}");
    let runs: RunOutput =
        Command::new(bin()).args(["runs", "--json", "--workdir"]).arg(&case.workdir).output().unwrap().into();
    let runs: serde_json::Value = serde_json::from_str(&runs.stdout).unwrap();
    let mine = runs
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["workflow"].as_str().unwrap_or("").starts_with(&case.dir.path().display().to_string()))
        .cloned()
        .unwrap();
    assert_eq!(mine["status"], "Cancelled");
}

#[test]
fn a_closed_stdout_is_not_an_error() {
    let case = example_case();
    let mut child = case.command("run").stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    drop(child.stdout.take());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
}

#[test]
fn json_output() {
    let out = example_case().arg("--output").arg("json").run();
    out.assert_code(0);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["output_id"], "success");
    assert_eq!(v["output_data"]["m"], "hi");
}

#[test]
fn completions_and_man_page() {
    let out = cmd(&["completions", "bash"]);
    out.assert_code(0);
    assert!(out.stdout.contains("arcaflow-py") && out.stdout.contains("complete"));
    let out = cmd(&["man"]);
    out.assert_code(0);
    assert!(out.stdout.contains(".TH arcaflow-py"), "{}", &out.stdout[..200.min(out.stdout.len())]);
}
